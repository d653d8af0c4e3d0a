"""The recording rules give the same values under vmalert (MetricsQL, VictoriaMetrics) as under Prometheus.

One static exposition of an exporter host (real HTTP on loopback) is scraped by a real Prometheus that
evaluates rules/*.rules.yml and by VictoriaMetrics (``-promscrape.config``); vmalert evaluates the same
files against VictoriaMetrics and writes the results back to it. The efficiency scores and costs both
record must agree (and match the hand-computed values). Needs ``prometheus``, ``victoria-metrics`` and
``vmalert`` (Debian's prometheus and victoria-metrics packages; ``make test`` installs them): skipped
without them, failed without them in CI.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import yaml

from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.conftest import ROOT
from tests.sidecar.servers import FakeEngines

pytestmark = pytest.mark.integration

BINARIES = ("prometheus", "victoria-metrics", "vmalert")
RULE_FILES = sorted(str(p) for p in (ROOT / "rules").glob("*.rules.yml"))
JOB = "axonize-exporter"  # axonize/bundle.yml selectors.exporter

# One host: GPU-A (SM active 1, VRAM full, local container, x16 Gen5, NVLinks up) scores 100;
# GPU-B (NVML 0.5 only, VRAM half, one of two containers NUMA-mismatched, x8 link) 55;
# GPU-D (SM active 0.75, VRAM 3/4, mismatched container, x8 Gen2 of Gen4 while busy) 60;
# GPU-M (MIG, 4 slices: GI 1 half, GI 2 a quarter, both fully busy; containers in both) 80.
# Host: (100 + 55 + 60 + 80) / 4 = 73.75, C.
EXPOSITION = """\
# TYPE axonize_gpu_memory_total_bytes gauge
axonize_gpu_memory_total_bytes{gpu="0",uuid="GPU-A"} 8e+10
axonize_gpu_memory_total_bytes{gpu="1",uuid="GPU-B"} 8e+10
axonize_gpu_memory_total_bytes{gpu="2",uuid="GPU-D"} 8e+10
axonize_gpu_memory_total_bytes{gpu="3",uuid="GPU-M"} 8e+10
# TYPE axonize_gpu_memory_used_bytes gauge
axonize_gpu_memory_used_bytes{gpu="0",uuid="GPU-A"} 8e+10
axonize_gpu_memory_used_bytes{gpu="1",uuid="GPU-B"} 4e+10
axonize_gpu_memory_used_bytes{gpu="2",uuid="GPU-D"} 6e+10
axonize_gpu_memory_used_bytes{gpu="3",uuid="GPU-M"} 6e+10
# TYPE axonize_gpu_utilization_ratio gauge
axonize_gpu_utilization_ratio{gpu="0",uuid="GPU-A"} 0.25
axonize_gpu_utilization_ratio{gpu="1",uuid="GPU-B"} 0.5
# TYPE axonize_gpu_sm_active_ratio gauge
axonize_gpu_sm_active_ratio{gpu="0",uuid="GPU-A"} 1
axonize_gpu_sm_active_ratio{gpu="2",uuid="GPU-D"} 0.75
# TYPE axonize_mig_sm_active_ratio gauge
axonize_mig_sm_active_ratio{gpu="3",gpu_instance_id="1",uuid="GPU-M"} 1
axonize_mig_sm_active_ratio{gpu="3",gpu_instance_id="2",uuid="GPU-M"} 1
# TYPE axonize_mig_price_share_ratio gauge
axonize_mig_price_share_ratio{gpu="3",gpu_instance_id="1",uuid="GPU-M"} 0.5
axonize_mig_price_share_ratio{gpu="3",gpu_instance_id="2",uuid="GPU-M"} 0.25
# TYPE axonize_gpu_price_dollars_per_hour gauge
axonize_gpu_price_dollars_per_hour{gpu="0",uuid="GPU-A"} 6.88
axonize_gpu_price_dollars_per_hour{gpu="1",uuid="GPU-B"} 6.88
axonize_gpu_price_dollars_per_hour{gpu="2",uuid="GPU-D"} 6.88
axonize_gpu_price_dollars_per_hour{gpu="3",uuid="GPU-M"} 3.43
# TYPE axonize_mig_price_dollars_per_hour gauge
axonize_mig_price_dollars_per_hour{gpu="3",gpu_instance_id="1",uuid="GPU-M"} 1.715
axonize_mig_price_dollars_per_hour{gpu="3",gpu_instance_id="2",uuid="GPU-M"} 0.8575
# TYPE axonize_gpu_container_memory_used_bytes gauge
axonize_gpu_container_memory_used_bytes{compute_instance_id="",container="vllm",container_id="a1",container_runtime="containerd",gpu="0",gpu_instance_id="",namespace="llm",pod="vllm-0",pod_uid="u1",systemd_unit="",uuid="GPU-A"} 6e+10
axonize_gpu_container_memory_used_bytes{compute_instance_id="",container="",container_id="",container_runtime="",gpu="0",gpu_instance_id="",namespace="",pod="",pod_uid="",systemd_unit="",uuid="GPU-A"} 2e+10
axonize_gpu_container_memory_used_bytes{compute_instance_id="",container="vllm",container_id="b1",container_runtime="containerd",gpu="1",gpu_instance_id="",namespace="llm",pod="vllm-1",pod_uid="u2",systemd_unit="",uuid="GPU-B"} 3e+10
axonize_gpu_container_memory_used_bytes{compute_instance_id="",container="",container_id="",container_runtime="systemd",gpu="1",gpu_instance_id="",namespace="",pod="",pod_uid="",systemd_unit="tgi.service",uuid="GPU-B"} 1e+10
axonize_gpu_container_memory_used_bytes{compute_instance_id="0",container="vllm",container_id="m1",container_runtime="containerd",gpu="3",gpu_instance_id="1",namespace="llm",pod="vllm-mig-0",pod_uid="u9",systemd_unit="",uuid="GPU-M"} 2e+10
# TYPE axonize_gpu_container_numa_mismatch gauge
axonize_gpu_container_numa_mismatch{compute_instance_id="",container="vllm",container_id="a1",container_runtime="containerd",gpu="0",gpu_instance_id="",namespace="llm",pod="vllm-0",pod_uid="u1",systemd_unit="",uuid="GPU-A"} 0
axonize_gpu_container_numa_mismatch{compute_instance_id="",container="vllm",container_id="b1",container_runtime="containerd",gpu="1",gpu_instance_id="",namespace="llm",pod="vllm-1",pod_uid="u2",systemd_unit="",uuid="GPU-B"} 1
axonize_gpu_container_numa_mismatch{compute_instance_id="",container="",container_id="",container_runtime="systemd",gpu="1",gpu_instance_id="",namespace="",pod="",pod_uid="",systemd_unit="tgi.service",uuid="GPU-B"} 0
axonize_gpu_container_numa_mismatch{compute_instance_id="",container="sglang",container_id="d1",container_runtime="docker",gpu="2",gpu_instance_id="",namespace="",pod="",pod_uid="",systemd_unit="",uuid="GPU-D"} 1
axonize_gpu_container_numa_mismatch{compute_instance_id="0",container="vllm",container_id="m1",container_runtime="containerd",gpu="3",gpu_instance_id="1",namespace="llm",pod="vllm-mig-0",pod_uid="u9",systemd_unit="",uuid="GPU-M"} 1
axonize_gpu_container_numa_mismatch{compute_instance_id="0",container="embed",container_id="m2",container_runtime="containerd",gpu="3",gpu_instance_id="2",namespace="llm",pod="embed-0",pod_uid="u8",systemd_unit="",uuid="GPU-M"} 0
# TYPE axonize_gpu_pcie_link_width_lanes gauge
axonize_gpu_pcie_link_width_lanes{gpu="0",uuid="GPU-A"} 16
axonize_gpu_pcie_link_width_lanes{gpu="1",uuid="GPU-B"} 8
axonize_gpu_pcie_link_width_lanes{gpu="2",uuid="GPU-D"} 8
axonize_gpu_pcie_link_width_lanes{gpu="3",uuid="GPU-M"} 16
# TYPE axonize_gpu_pcie_link_max_width_lanes gauge
axonize_gpu_pcie_link_max_width_lanes{gpu="0",uuid="GPU-A"} 16
axonize_gpu_pcie_link_max_width_lanes{gpu="1",uuid="GPU-B"} 16
axonize_gpu_pcie_link_max_width_lanes{gpu="2",uuid="GPU-D"} 16
axonize_gpu_pcie_link_max_width_lanes{gpu="3",uuid="GPU-M"} 16
# TYPE axonize_gpu_pcie_link_generation gauge
axonize_gpu_pcie_link_generation{gpu="0",uuid="GPU-A"} 5
axonize_gpu_pcie_link_generation{gpu="1",uuid="GPU-B"} 4
axonize_gpu_pcie_link_generation{gpu="2",uuid="GPU-D"} 2
axonize_gpu_pcie_link_generation{gpu="3",uuid="GPU-M"} 4
# TYPE axonize_gpu_pcie_link_max_generation gauge
axonize_gpu_pcie_link_max_generation{gpu="0",uuid="GPU-A"} 5
axonize_gpu_pcie_link_max_generation{gpu="1",uuid="GPU-B"} 4
axonize_gpu_pcie_link_max_generation{gpu="2",uuid="GPU-D"} 4
axonize_gpu_pcie_link_max_generation{gpu="3",uuid="GPU-M"} 4
# TYPE axonize_gpu_nvlink_active gauge
axonize_gpu_nvlink_active{gpu="0",link="0",peer_gpu="",peer_pci_bus_id="00000000:05:00.0",uuid="GPU-A"} 1
axonize_gpu_nvlink_active{gpu="0",link="1",peer_gpu="",peer_pci_bus_id="00000000:06:00.0",uuid="GPU-A"} 1
"""

SCORES = {"GPU-A": 100, "GPU-B": 55, "GPU-D": 60, "GPU-M": 80}

#: Recorded names compared between the two engines (every series of each, labels and values).
COMPARED = (
    "gpu:axonize_gpu_utilization_score:ratio",
    "gpu:axonize_efficiency_score:percent",
    "host:axonize_efficiency_score:percent",
    "host:axonize_efficiency_grade:info",
    "gpu:axonize_gpu_idle_cost:dollars_per_hour",
    "host:axonize_gpu_cost:dollars_per_month",
    "container:axonize_gpu_cost:dollars_per_hour",
)


def _binaries() -> dict[str, str]:
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        hint = "apt-get install -y --no-install-recommends prometheus victoria-metrics (make test does)"
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} not on PATH in CI: {hint}")
        pytest.skip(f"{', '.join(missing)} not on PATH: {hint}")
    return {b: shutil.which(b) for b in BINARIES}


def _query(url: str, promql: str) -> dict[tuple, float]:
    """Instant query against a Prometheus-compatible API: ``{sorted labels without __name__: value}``."""
    r = requests.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    body = r.json()
    assert body.get("status") == "success", f"{url}: {promql}: {body}"
    return {tuple(sorted((k, v) for k, v in s["metric"].items() if k != "__name__")): float(s["value"][1]) for s in body["data"]["result"]}


def _until(check: Callable[[], tuple[bool, object]], timeout: float, what: str) -> None:
    """Call ``check`` (-> (done, what it saw)) until done; fail with what it saw last after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        done, seen = check()
        if done:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f}s; last seen: {seen!r}")
        time.sleep(0.5)


class VictoriaMetrics:
    """victoria-metrics scraping ``targets`` every second, plus vmalert evaluating ``rule_files`` against it."""

    def __init__(self, binaries: dict[str, str], targets: dict[str, list[str]], rule_files: list[str]):
        self.dir = tempfile.mkdtemp(prefix="axonize-vm-")
        self.port, self.vmalert_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        scrape = {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(t)}]} for job, t in targets.items()],
        }
        config = Path(self.dir) / "scrape.yml"
        config.write_text(yaml.safe_dump(scrape))
        self.processes: list[ManagedProcess] = []
        self.vm_argv = [
            binaries["victoria-metrics"],
            f"-storageDataPath={self.dir}/data",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-promscrape.config={config}",
            "-search.latencyOffset=1s",  # answer with samples up to 1 s ago, not 30 s (0 means the default before 1.88)
            "-search.disableCache",
        ]
        self.vmalert_argv = [
            binaries["vmalert"],
            *(f"-rule={path}" for path in rule_files),
            f"-datasource.url={self.url}",
            f"-remoteWrite.url={self.url}",
            "-remoteWrite.flushInterval=500ms",
            "-evaluationInterval=1s",
            f"-httpListenAddr=127.0.0.1:{self.vmalert_port}",
        ]

    def __enter__(self) -> VictoriaMetrics:
        try:
            vm = ManagedProcess("victoria-metrics", self.vm_argv, os.path.join(self.dir, "vm.log"))
            self.processes.append(vm)
            wait_http(f"{self.url}/health", 30, vm)
            vmalert = ManagedProcess("vmalert", self.vmalert_argv, os.path.join(self.dir, "vmalert.log"))
            self.processes.append(vmalert)
            wait_http(f"http://127.0.0.1:{self.vmalert_port}/health", 30, vmalert)
        except BaseException:
            self.__exit__()
            raise
        return self

    def flush(self) -> None:
        """Make what was ingested searchable now (VictoriaMetrics 1.79 otherwise shows new series within ~10 s)."""
        requests.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self.processes):
            process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def test_vmalert_records_the_same_scores_and_costs_as_prometheus():
    binaries = _binaries()
    with FakeEngines() as exporter:
        exporter.serve("/metrics", EXPOSITION)
        target = f"127.0.0.1:{exporter.port}"
        with (
            PrometheusServer({JOB: [target]}, rule_files=RULE_FILES, binary=binaries["prometheus"]) as prom,
            VictoriaMetrics(binaries, {JOB: [target]}, RULE_FILES) as vm,
        ):
            # Prometheus: the hand-computed scores first
            expected_scores = {
                (("gpu", str(gpu)), ("instance", target), ("job", JOB), ("uuid", uuid)): score
                for gpu, (uuid, score) in enumerate(SCORES.items())
            }

            def scores() -> tuple[bool, object]:
                got = _query(prom.url, "gpu:axonize_efficiency_score:percent"), _query(prom.url, "host:axonize_efficiency_score:percent")
                return got == (expected_scores, {(("instance", target),): 73.75}), got

            _until(scores, 60, "hand-computed scores from Prometheus")

            # vmalert (through VictoriaMetrics) records the same series with the same values
            for name in COMPARED:

                def same(name: str = name) -> tuple[bool, object]:
                    vm.flush()
                    want, got = _query(prom.url, name), _query(vm.url, name)
                    done = (
                        bool(want)
                        and set(want) == set(got)
                        and all(got[k] == pytest.approx(v, rel=1e-12, abs=1e-12) for k, v in want.items())
                    )
                    return done, {"prometheus": want, "vmalert": got}

                _until(same, 60, f"{name} from vmalert equal to Prometheus'")
            grade = _query(vm.url, "host:axonize_efficiency_grade:info")
            assert grade == {(("grade", "C"), ("instance", target)): 1}
            idle = _query(vm.url, "gpu:axonize_gpu_idle_cost:dollars_per_hour")
            assert idle[(("gpu", "1"), ("instance", target), ("job", JOB), ("uuid", "GPU-B"))] == pytest.approx(3.44)
