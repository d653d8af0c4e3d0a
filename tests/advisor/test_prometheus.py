"""``--prometheus``: a real Prometheus scraping the real exporter (replaying captures) and the real sidecar gives
the advisor the samples the offline /metrics text gives, for one host picked by a selector; bad URLs, HTTP and
PromQL errors name the URL.

The Prometheus scrapes three exporters (the demo's 8x H100 with its HGX topology; the H200 with MIG; the H200 x8
scenario) and the sidecar on the demo's vLLM capture, declared on one GPU of the 8x H100. The offline reference
is each target's own /metrics text read by the offline mode's parser (:func:`axonize.advisor.samples.parse_text`),
and for the scenario the offline mode's whole input step (captures through ``--replay --print``, workloads file).
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from axonize import demo
from axonize.advisor import cli, prometheus, replay, scenarios, workloads
from axonize.advisor.model import Sample
from axonize.advisor.samples import host_of, parse_text
from axonize.advisor.score import score_host
from axonize.processes import PrometheusServer, free_port
from tests.conftest import DEMO_Q, DEMO_TOPO, require_binary, requires
from tests.grafana.stack import MIG, exporter

pytestmark = [pytest.mark.integration, requires("prometheus")]
WINDOW = "1m"
SCENARIO_HOST = "h200-node"  # the h200x8 scenario's workloads file names its host


def offline(text: str) -> list[Sample]:
    """The advisor's series in a /metrics text as the offline mode reads them, empty label values dropped (Prometheus
    stores none: ``hostname=""`` is no ``hostname`` label; the Host reads both alike)."""
    wanted = {row.name for row in prometheus.names()}
    out = [Sample(s.name, tuple((k, v) for k, v in s.labels if v != ""), s.value) for s in parse_text(text, "/metrics") if s.name in wanted]
    return sorted(out, key=lambda s: (s.name, s.labels))


def keys(samples: list[Sample]) -> set[tuple]:
    return {(s.name, s.labels) for s in samples}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("advisor-prometheus")
    started: list = []
    try:
        vllm = demo.CaptureReplay(Path(demo.vllm_capture()).read_text(), demo.REPLAY_PERIOD_S)
        started.append(vllm)
        h100 = exporter([DEMO_Q, DEMO_TOPO], started, tmp)
        mig = exporter(MIG, started, tmp)
        h200x8 = exporter([*scenarios.files("h200x8").captures, "--replay.hostname", SCENARIO_HOST], started, tmp)
        sidecar = demo.start_sidecar(str(tmp), vllm.url, started)
        targets = {"axonize-exporter": [h100, mig, h200x8], "axonize-sidecar": [sidecar]}
        with PrometheusServer(targets, "1s", binary=require_binary("prometheus")) as prom:
            prom.wait_for("axonize_gpu_info", timeout=30, min_results=17)
            prom.wait_for("axonize_inference_kv_cache_usage_ratio", timeout=30)
            prom.wait_for("count_over_time(axonize_gpu_up[1m]) > 3", timeout=30, min_results=17)
            yield {"prom": prom, "h100": h100, "mig": mig, "h200x8": h200x8, "sidecar": sidecar}
    finally:
        for thing in reversed(started):
            thing.stop()


def metrics_text(target: str) -> str:
    r = requests.get(f"http://{target}/metrics", timeout=10)
    r.raise_for_status()
    return r.text


def test_one_host_gives_the_offline_texts_samples(stack):
    selector = f'instance="{stack["h100"]}"'
    started = time.perf_counter()
    live = prometheus.samples_from_prometheus(stack["prom"].url, WINDOW, selector)
    seconds = time.perf_counter() - started
    exporter_text, sidecar_text = metrics_text(stack["h100"]), metrics_text(stack["sidecar"])
    expected = offline(exporter_text) + [s for s in offline(sidecar_text) if s.name.startswith("axonize_inference_")]

    assert keys(live) == keys(expected)
    assert not any(k in ("job", "instance") for s in live for k, _ in s.labels)
    assert {s.label("uuid") for s in live if s.name == "axonize_inference_server_gpu_info"} == {demo.DEMO_GPU_UUID}
    # A replay's GPU values do not change from one cycle to the next: read last, averaged or as the highest, the same.
    by_key = {(s.name, s.labels): s.value for s in live}
    for s in offline(exporter_text):
        assert by_key[(s.name, s.labels)] == pytest.approx(s.value, rel=1e-9), s.name
    for s in offline(sidecar_text):  # the capture's gauges are constant; its counters grow as it repeats
        if prometheus.reading(prometheus.registry.get(s.name)) == "avg_over_time":
            assert by_key[(s.name, s.labels)] == pytest.approx(s.value), s.name
    print(f"\n--prometheus read {len(live)} samples in {seconds * 1000:.0f} ms")


def test_the_selector_narrows_to_the_other_host_without_the_sidecar(stack):
    live = prometheus.samples_from_prometheus(stack["prom"].url, WINDOW, f' {{instance="{stack["mig"]}"}}')  # braces as PromQL has them
    assert keys(live) == keys(offline(metrics_text(stack["mig"])))
    assert any(s.name == "axonize_mig_info" for s in live)
    assert not any(s.name.startswith("axonize_inference_") for s in live)  # its server runs on the other host's GPU


def test_several_hosts_without_a_selector_name_them(stack):
    with pytest.raises(ValueError) as err:
        prometheus.samples_from_prometheus(stack["prom"].url, WINDOW)
    message = str(err.value)
    assert all(stack[host] in message for host in ("h100", "mig", "h200x8")) and f"host {SCENARIO_HOST}" in message
    assert "--selector" in message


def test_the_h200x8_scenario_gives_the_offline_host_and_score(stack):
    scenario = scenarios.files("h200x8")
    declared = workloads.load(scenario.workloads)
    inputs = replay.read_inputs(scenario.captures, declared.host)
    offline_host = workloads.apply(declared, host_of(inputs.samples, inputs.sources, declared.host))
    samples = prometheus.samples_from_prometheus(stack["prom"].url, WINDOW, f'instance="{stack["h200x8"]}"')
    live_host = workloads.apply(declared, host_of(samples, (stack["prom"].url,), declared.host))

    assert replace(live_host, sources=()) == replace(offline_host, sources=())
    assert score_host(live_host) == score_host(offline_host)


def test_axonize_advise_prometheus_finds_what_the_offline_mode_finds_on_h200x8(stack, tmp_path):
    offline_json, live_json = tmp_path / "offline.json", tmp_path / "live.json"
    assert cli.main(["--scenario", "h200x8", "--json", str(offline_json)]) == 0
    selector = f'instance="{stack["h200x8"]}"'
    live = [
        "--prometheus",
        stack["prom"].url,
        "--window",
        WINDOW,
        "--selector",
        selector,
        "--workloads",
        scenarios.files("h200x8").workloads,
    ]
    assert cli.main([*live, "--json", str(live_json)]) == 0
    offline_report, live_report = json.loads(offline_json.read_text()), json.loads(live_json.read_text())

    kinds = {f["kind"] for f in offline_report["findings"]}
    assert {"numa_mismatch", "job_split_numa", "nvlink_ignored"} <= kinds  # the scenario's story (its SOURCES.md)
    for key in ("score", "findings", "plan"):
        assert live_report[key] == offline_report[key], key
    assert {**live_report["host"], "sources": []} == {**offline_report["host"], "sources": []}
    assert live_report["host"]["sources"][0] == f"{stack['prom'].url} (window {WINDOW})"


def test_a_selector_that_matches_nothing_names_the_url(stack):
    url = stack["prom"].url
    with pytest.raises(prometheus.PrometheusError, match=f"{url}.*no axonize exporter series matching"):
        prometheus.samples_from_prometheus(url, WINDOW, 'instance="nowhere:1"')


def test_a_promql_error_names_the_url_and_prometheus_message(stack):
    url = stack["prom"].url
    with pytest.raises(prometheus.PrometheusError, match=f"{url} answered HTTP 400, bad_data: .*parse error"):
        prometheus.samples_from_prometheus(url, WINDOW, 'instance="unclosed')


def test_an_unreachable_url_is_named():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(prometheus.PrometheusError, match=f"Prometheus at {url} is unreachable"):
        prometheus.samples_from_prometheus(url, timeout_s=2)


@pytest.mark.parametrize(("status", "body"), [(500, b"upstream failed"), (404, b"404 page not found"), (200, b"<html>Grafana</html>")])
def test_a_server_that_is_not_prometheus_is_named(status, body):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(prometheus.PrometheusError, match=f"{url}/api/v1/query answered HTTP {status} but not as Prometheus"):
            prometheus.samples_from_prometheus(url, timeout_s=5)
    finally:
        server.shutdown()
        server.server_close()


def test_a_window_that_is_not_a_range_is_refused_before_any_request():
    with pytest.raises(ValueError, match="window '1 hour'"):
        prometheus.samples_from_prometheus("http://127.0.0.1:1", window="1 hour")


def test_each_family_is_read_by_its_semantics():
    rows = {row.name: row for row in prometheus.names()}
    assert prometheus.reading(rows["axonize_gpu_sm_active_ratio"]) == "avg_over_time"
    assert prometheus.reading(rows["axonize_gpu_memory_used_bytes"]) == "avg_over_time"
    assert prometheus.reading(rows["axonize_gpu_memory_total_bytes"]) == "last_over_time"
    assert prometheus.reading(rows["axonize_gpu_power_limit_watts"]) == "last_over_time"
    assert prometheus.reading(rows["axonize_mig_price_share_ratio"]) == "last_over_time"
    assert prometheus.reading(rows["axonize_gpu_info"]) == "last_over_time"
    assert prometheus.reading(rows["axonize_gpu_energy_joules_total"]) == "last_over_time"
    assert prometheus.reading(rows["axonize_gpu_pcie_link_generation"]) == "max_over_time"
    assert prometheus.reading(rows["axonize_inference_requests_waiting"]) == "avg_over_time"
    assert "axonize_exporter_build_info" not in rows and "axonize_inference_time_to_first_token_seconds" not in rows
    assert (
        prometheus.expression("axonize_gpu_sm_active_ratio", "1h", 'gpu="3"') == 'avg_over_time(axonize_gpu_sm_active_ratio{gpu="3"}[1h])'
    )
