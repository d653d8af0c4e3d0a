"""The running exporter: scrapes serve the last snapshot, collection runs on its own, health reflects it."""

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from axonize.processes import free_port, wait_http
from tests.conftest import DEMO_Q, DEMO_TOPO


@pytest.fixture
def exporter(tmp_path):
    q = tmp_path / "q.txt"
    shutil.copy(DEMO_Q, q)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "axonize.exporter",
            "--replay",
            str(q),
            str(DEMO_TOPO),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--collect.interval",
            "200ms",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30)
        yield f"http://127.0.0.1:{port}", q, proc
    finally:
        proc.terminate()
        proc.wait(10)


def value(text, name, **labels):
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def test_endpoints(exporter):
    url, _, _ = exporter
    r = requests.get(f"{url}/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert value(r.text, "axonize_gpu_memory_total_bytes", gpu="0") == 85520809984
    assert requests.get(f"{url}/-/healthy").text == "OK\n"
    assert "Metrics" in requests.get(f"{url}/").text
    assert requests.get(f"{url}/nope").status_code == 404


def test_gzip_is_served_when_asked(exporter):
    url, _, _ = exporter
    raw = requests.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}, stream=True).raw
    assert raw.headers["Content-Encoding"] == "gzip"
    body = gzip.decompress(raw.read())
    assert b"axonize_gpu_info" in body


def test_collection_follows_the_file_and_scrapes_serve_the_last_snapshot(exporter):
    url, q, _ = exporter
    q.write_text(DEMO_Q.read_text().replace("100.89 W", "321.00 W", 1))
    deadline = time.monotonic() + 10
    while value(requests.get(f"{url}/metrics").text, "axonize_gpu_power_watts", gpu="0") != 321.0:
        assert time.monotonic() < deadline, "the new capture was never picked up"
        time.sleep(0.1)
    # the source disappears: the GPU series are withdrawn (not frozen) and the error is counted
    os.remove(q)
    deadline = time.monotonic() + 10
    while True:
        text = requests.get(f"{url}/metrics").text
        if value(text, "axonize_exporter_collection_errors_total", source="replay", kind="io"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert value(text, "axonize_gpu_power_watts", gpu="0") is None
    assert value(text, "axonize_exporter_collections_total") >= 2


def test_sigterm_stops_cleanly(exporter):
    _, _, proc = exporter
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
