"""A real Prometheus scrapes the exporter; PromQL returns the capture's values."""

import sys

import pytest

from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA, requires

pytestmark = [pytest.mark.integration, requires("prometheus")]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    from tests.conftest import require_binary

    binary = require_binary("prometheus")
    logs = tmp_path_factory.mktemp("logs")
    started = []
    try:
        targets = []
        for name, files in (
            ("h100x8", [DEMO_Q, DEMO_TOPO]),
            ("h200mig", [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]),
        ):
            port = free_port()
            exporter = ManagedProcess(
                name,
                [
                    sys.executable,
                    "-m",
                    "axonize.exporter",
                    "--replay",
                    *map(str, files),
                    "--replay.hostname",
                    name,
                    "--collect.processes",
                    "--web.listen-address",
                    f"127.0.0.1:{port}",
                    "--collect.interval",
                    "1s",
                ],
                str(logs / f"{name}.log"),
            )
            started.append(exporter)
            wait_http(f"http://127.0.0.1:{port}/-/ready", 30, exporter)
            targets.append(f"127.0.0.1:{port}")
        server = PrometheusServer({"gpu": targets}, "1s", binary=binary)
        started.append(server)
        server.start()
        server.wait_for('up{job="gpu"} == 1', timeout=30, min_results=2)
        server.wait_for("axonize_gpu_info", timeout=30, min_results=9)
        yield server
    finally:
        for thing in reversed(started):
            thing.stop()


def scalar(prom, promql):
    (result,) = prom.query(promql)
    return float(result["value"][1])


def test_fleet_counts(prom):
    assert scalar(prom, "count(axonize_gpu_info)") == 9
    assert scalar(prom, 'count(axonize_gpu_info{model="NVIDIA H100 80GB HBM3"})') == 8
    assert scalar(prom, "count(axonize_mig_info)") == 5


def test_values_from_the_capture(prom):
    assert scalar(prom, 'axonize_gpu_memory_total_bytes{gpu="0", uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"}') == 85520809984
    assert scalar(prom, 'sum(axonize_gpu_power_watts{uuid=~"GPU-[0-9a-f]{8}-.*", uuid!~"GPU-00000000.*"})') == pytest.approx(
        100.89 + 82.81 + 85.98 + 85.48 + 84.94 + 85.27 + 86.05 + 75.09, abs=0.01
    )
    assert scalar(prom, 'axonize_gpu_peer_nvlinks{gpu="0", peer_gpu="7"}') == 18
    assert scalar(prom, "count(axonize_gpu_peer_nvlinks == 18)") == 56


def test_joins_work_in_promql(prom):
    # NUMA placement per model, joined through axonize_gpu_info
    result = prom.query("count by (model) (axonize_gpu_numa_node * on (instance, gpu, uuid) group_left (model) axonize_gpu_info)")
    assert [(r["metric"]["model"], r["value"][1]) for r in result] == [("NVIDIA H100 80GB HBM3", "8")]
    assert scalar(prom, "count(axonize_gpu_numa_node == 1)") == 4
    # MIG memory once per GPU instance: 71424 + 33280 + 16384 + 16384 MiB
    assert scalar(prom, 'sum(axonize_mig_memory_total_bytes{instance=~".*"})') == (71424 + 33280 + 16384 + 16384) * 2**20
    assert scalar(prom, "sum(axonize_gpu_process_memory_used_bytes)") == (2194 + 1170 + 13526) * 2**20


def test_absent_is_absent(prom):
    assert prom.query('axonize_gpu_utilization_ratio{instance=~".*", uuid="GPU-00000000-0000-0000-0000-000000000000"}') == []
    assert scalar(prom, "count(axonize_gpu_utilization_ratio)") == 8


def test_self_metrics(prom):
    assert scalar(prom, "min(axonize_exporter_collections_total)") >= 1
    assert prom.query("axonize_exporter_collection_errors_total") == []
    assert scalar(prom, "max(time() - axonize_exporter_last_collection_success_timestamp_seconds)") < 30
