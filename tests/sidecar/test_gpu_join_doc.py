"""docs/gpu-join.md: every PromQL block runs against a real Prometheus scraping the exporter and the sidecar.

The stack: two exporters replaying real captures (the demo's 8x H100, and an H200 in MIG mode), and one
sidecar with two targets declared on GPUs by configuration: ``live`` (a real vLLM capture whose counters
and buckets are multiplied by a step that grows every half second, so rates are non-zero and every
histogram keeps the capture's shape) on H100 GPU 0, and ``mig`` (the same capture, static) on the H200's
MIG device of GPU instance 2.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import time

import pytest
import yaml

from axonize import demo
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA, ROOT, require_binary, requires, samples
from tests.sidecar.servers import FakeEngines
from tests.sidecar.test_real_vllm import buckets, histogram_quantile

pytestmark = pytest.mark.integration

DOC = ROOT / "docs" / "gpu-join.md"
H200_MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]
MIG_UUID = "MIG-00000001-0000-0000-0000-000000000001"  # GPU instance 2, compute instance 1 of the capture
H100 = "NVIDIA H100 80GB HBM3"


def promql_blocks() -> list[str]:
    return re.findall(r"```promql\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("gpu-join")
    capture = open(demo.vllm_capture()).read()
    started: list = []
    stop = threading.Event()
    with FakeEngines() as engines:
        url = engines.serve("/live", demo.scaled(capture, 1))

        def advance() -> None:
            step = 1
            while not stop.wait(0.5):
                step += 1
                engines.serve("/live", demo.scaled(capture, step))

        ticker = threading.Thread(target=advance, daemon=True)
        ticker.start()
        try:
            exporters = []
            for name, captures in (("h100", [DEMO_Q, DEMO_TOPO]), ("h200-mig", H200_MIG)):
                port = free_port()
                proc = ManagedProcess(
                    f"exporter-{name}",
                    [
                        sys.executable,
                        "-m",
                        "axonize.exporter",
                        "--replay",
                        *map(str, captures),
                        "--web.listen-address",
                        f"127.0.0.1:{port}",
                        "--collect.interval",
                        "1s",
                    ],
                    str(tmp / f"exporter-{name}.log"),
                )
                started.append(proc)
                wait_http(f"http://127.0.0.1:{port}/-/ready", 30, proc)
                exporters.append(f"127.0.0.1:{port}")
            config = tmp / "sidecar.yml"
            config.write_text(yaml.safe_dump({
                "targets": [
                    {"url": url, "engine": "vllm", "server": "live", "gpus": [demo.DEMO_GPU_UUID]},
                    {"url": f"file://{demo.vllm_capture()}", "engine": "vllm", "server": "mig", "gpus": [MIG_UUID]},
                ],
                "attribution": {"source": "config"},
                "collect": {"interval": "1s", "timeout": "1s"},
            }))  # fmt: skip
            port = free_port()
            sidecar = ManagedProcess(
                "sidecar",
                [sys.executable, "-m", "axonize.sidecar", "--config", str(config), "--web.listen-address", f"127.0.0.1:{port}"],
                str(tmp / "sidecar.log"),
            )
            started.append(sidecar)
            wait_http(f"http://127.0.0.1:{port}/-/ready", 30, sidecar)
            with PrometheusServer({"exporter": exporters, "sidecar": [f"127.0.0.1:{port}"]}, "1s") as prom:
                prom.wait_for("axonize_gpu_info", min_results=9)
                prom.wait_for("axonize_inference_server_gpu_info", min_results=2)
                prom.wait_for('sum(increase(axonize_inference_generation_tokens_total{server="live"}[1m])) > 0', timeout=60)
                time.sleep(3)  # a few more samples inside every [1m] window
                yield prom, capture
        finally:
            stop.set()
            for proc in reversed(started):
                proc.stop()


def by(result: list[dict], *labels: str) -> dict[tuple, float]:
    return {tuple(s["metric"].get(label) for label in labels): float(s["value"][1]) for s in result}


@requires("prometheus")
def test_every_query_in_the_document_runs_and_returns_what_it_says(stack):
    prom, capture = stack
    blocks = promql_blocks()
    assert len(blocks) == 6, "a query was added to docs/gpu-join.md: give it an assertion here"
    at = time.time()
    join, ttft, tokens, memory, util, mig = (prom.query(q, at=at) for q in blocks)

    assert [{k: v for k, v in s["metric"].items() if k not in ("instance", "job")} for s in join] == [
        {"gpu": "0", "model": "tinyllama", "server": "live", "uuid": demo.DEMO_GPU_UUID}
    ]  # the MIG target's uuid is no whole GPU: it joins through axonize_mig_info instead

    cumulative = buckets(samples(capture), "vllm:time_to_first_token_seconds")
    assert by(ttft, "gpu_model") == {(H100,): pytest.approx(histogram_quantile(0.99, cumulative), rel=1e-6)}

    live_rate = prom.query('sum(rate(axonize_inference_generation_tokens_total{server="live"}[1m]))', at=at)
    assert by(tokens, "gpu", "uuid") == {("0", demo.DEMO_GPU_UUID): pytest.approx(float(live_rate[0]["value"][1]))}
    assert float(live_rate[0]["value"][1]) > 0

    gpu0 = prom.query(f'axonize_gpu_memory_used_bytes{{uuid="{demo.DEMO_GPU_UUID}"}}', at=at)
    assert by(memory, "model") == {("tinyllama",): float(gpu0[0]["value"][1])}
    assert by(util, "model") == {("tinyllama",): 0.0}  # the H100 capture is idle

    assert [s["metric"] for s in mig] == [{"model": "tinyllama", "server": "mig", "gpu": "0", "gpu_instance_id": "2"}]
    assert all(not math.isnan(float(s["value"][1])) for r in (join, ttft, tokens, memory, util, mig) for s in r)


def test_scaled_keeps_gauges_and_multiplies_cumulative_samples():
    text = '# TYPE a_total counter\na_total{m="x"} 2.0\nb 3.0\nc_bucket{le="1.0"} 4.0\nc_created 5.0\n'
    assert demo.scaled(text, 3) == '# TYPE a_total counter\na_total{m="x"} 6.0\nb 3.0\nc_bucket{le="1.0"} 12.0\nc_created 5.0\n'
