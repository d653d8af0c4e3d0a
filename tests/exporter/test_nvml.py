"""The NVML backend against the fake NVML (fed from real captures): same exposition as the replay, faults isolated."""

from __future__ import annotations

import functools
import json
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize import pricing
from axonize.exporter.collection import CollectionLoop
from axonize.exporter.exposition import Options, families
from axonize.exporter.nvml import NvmlSource
from axonize.exporter.prices import PricedSource
from axonize.exporter.replay import ReplaySource
from axonize.http import Exposition
from axonize.processes import ManagedProcess, free_port, wait_http
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA
from tests.exporter.test_exposition import CAPTURE_SETS as EXPOSITION_SETS
from tests.fake_nvml import FakeNvml, scenario_env

GPU_LOST, NOT_SUPPORTED, TIMEOUT = 15, 3, 10

CAPTURE_SETS = {
    **{name: paths for name, paths in EXPOSITION_SETS.items() if name != "bundle"},  # a bundle is a replay-only format
    "h200-vm+topo": [NVIDIA / "h200_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-1gpu-vm_topo-m.txt"],
}
#: what only the NVML backend has (a capture has no NVLink counters, no GPM) or labels by backend
NVML_ONLY = ("axonize_gpu_nvlink_", "axonize_exporter_")
RENDER = functools.partial(families, options=Options(per_process=True))


def render(source) -> str:
    exposition = Exposition()
    loop = CollectionLoop(source, 5.0, exposition, render=RENDER)
    loop.collect_once()
    return exposition.latest.body.decode()


def sample_set(text: str, skip=NVML_ONLY) -> set:
    out = set()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith(skip):
                continue
            labels = {k: v for k, v in s.labels.items() if not (s.name == "axonize_host_info" and k == "backend")}
            out.add((s.name, tuple(sorted(labels.items())), float(f"{s.value:.9g}")))  # ns vs µs sources
    return out


def nvml_source(fake: FakeNvml, **kw) -> NvmlSource:
    kw.setdefault("hostname", "")
    return NvmlSource(nvml=fake, **kw)


@pytest.mark.parametrize("name", CAPTURE_SETS)
def test_same_exposition_as_the_replay(name):
    paths = [str(p) for p in CAPTURE_SETS[name]]
    replay = ReplaySource(paths, hostname="gpu-host")
    fake = FakeNvml(replay.collect())
    source = nvml_source(fake, hostname="gpu-host")
    prices = pricing.load()  # as the CLI serves it: price series compared too
    try:
        ours, theirs = sample_set(render(PricedSource(source, prices))), sample_set(render(PricedSource(replay, prices)))
    finally:
        source.close()
    assert ours - theirs == set() and theirs - ours == set()
    assert len(ours) > 40
    assert any(name == "axonize_gpu_price_dollars_per_hour" for name, _, _ in ours)


def test_units_are_converted_from_nvml_units():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO], energy_joules={0: 123456.789})
    source = nvml_source(fake)
    try:
        gpu = source.collect().gpus[0]
    finally:
        source.close()
    assert gpu.memory_total_bytes == 81559 * 2**20  # bytes in, bytes out
    assert gpu.power_watts == pytest.approx(100.89)  # 100890 mW
    assert gpu.energy_joules == pytest.approx(123456.789)  # mJ
    assert gpu.clocks_hertz["memory"] == 2619e6  # MHz
    assert gpu.pcie_tx_bytes_per_second == 567000.0  # KB/s
    assert gpu.numa_node == 0 and gpu.cpu_affinity == "0-63,128-191"  # NVML bitmasks
    assert len(gpu.nvlinks) == 18 and all(link.active and link.peer_gpu is None for link in gpu.nvlinks)  # NVSwitch ends


def test_gpm_activity_from_the_second_cycle_per_gpu_and_per_mig_instance():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO], gpm={0: {"sm_active": 0.62, "tensor_active": 0.41, "dram_active": 0.33}})
    source = nvml_source(fake)
    try:
        assert source.collect().gpus[0].activity == {}  # GPM needs two samples
        text = render(source)
    finally:
        source.close()
    got = {(s.name, s.labels["gpu"]): s.value for f in text_string_to_metric_families(text) for s in f.samples if "active_ratio" in s.name}
    assert got == {
        ("axonize_gpu_sm_active_ratio", "0"): 0.62,
        ("axonize_gpu_tensor_active_ratio", "0"): 0.41,
        ("axonize_gpu_dram_active_ratio", "0"): 0.33,
    }

    mig = FakeNvml.from_captures(CAPTURE_SETS["h200-mig+L"], gpm={0: {"sm_active": 0.5}, (0, 2): {"sm_active": 0.9}})
    source = nvml_source(mig)
    try:
        source.collect()
        snap = source.collect()
    finally:
        source.close()
    per_gi = {d.gpu_instance_id: d.activity.get("sm_active") for d in snap.gpus[0].mig_devices}
    assert per_gi == {2: 0.9, 3: 0.5, 9: 0.5, 10: 0.5}
    assert snap.gpus[0].activity == {}  # under MIG the whole-GPU figure is per instance


def test_pcie_rates_come_from_gpm_and_max_clocks_are_read_once():
    """nvmlDeviceGetPcieThroughput blocks ~21 ms a call (20 ms sample, measured on an H200): GPM replaces it from cycle 2."""
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO], gpm={0: {"sm_active": 0.5}})
    source = nvml_source(fake)
    try:
        first = source.collect().gpus
        after_first = dict(fake.fn_calls)
        second = source.collect().gpus
    finally:
        source.close()
    throughput = fake.fn_calls["nvmlDeviceGetPcieThroughput"] - after_first["nvmlDeviceGetPcieThroughput"]
    assert after_first["nvmlDeviceGetPcieThroughput"] == 16  # cycle 1: no GPM sample to compare yet, 8 GPUs x TX/RX
    assert throughput == 14  # cycle 2: GPU 0 from GPM, the 7 GPUs without GPM still sampled
    assert second[0].pcie_tx_bytes_per_second == first[0].pcie_tx_bytes_per_second == 567_000  # MiB/s round trip
    assert second[0].pcie_rx_bytes_per_second == first[0].pcie_rx_bytes_per_second
    assert "pcie_tx_bytes_per_second" not in second[0].activity
    assert fake.fn_calls["nvmlDeviceGetMaxClockInfo"] == after_first["nvmlDeviceGetMaxClockInfo"] == 8 * 4
    assert second[3].max_clocks_hertz == first[3].max_clocks_hertz and len(first[3].max_clocks_hertz) == 4


def _by_gpu(text: str, name: str) -> dict[str, float]:
    return {s.labels["gpu"]: s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name}


def test_a_lost_gpu_is_isolated_and_comes_back_after_reinit():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO])
    source = nvml_source(fake, reinit_interval=0)
    exposition = Exposition()
    loop = CollectionLoop(source, 5.0, exposition, render=RENDER)
    try:
        fake.lose(3)
        snap = loop.collect_once()
        text = exposition.latest.body.decode()
        assert _by_gpu(text, "axonize_gpu_up") == {str(i): (0.0 if i == 3 else 1.0) for i in range(8)}
        assert set(_by_gpu(text, "axonize_gpu_power_watts")) == {"0", "1", "2", "4", "5", "6", "7"}
        assert 'axonize_gpu_fault_info{gpu="3",kind="gpu_lost"' in text.replace(',uuid="' + snap.gpus[3].uuid + '"', "")
        assert 'axonize_exporter_collection_errors_total{kind="gpu_lost",source="nvml"} 1.0' in text
        assert loop.health()[0]  # seven GPUs still read: the exporter is healthy
        fake.recover(3)
        loop.collect_once()  # NVML is re-initialised first, then every GPU is read
        text = exposition.latest.body.decode()
        assert _by_gpu(text, "axonize_gpu_up") == {str(i): 1.0 for i in range(8)}
        assert "axonize_gpu_fault_info{" not in text
    finally:
        source.close()


def test_a_hung_gpu_times_out_without_holding_the_others():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO])
    source = nvml_source(fake, gpu_timeout=0.3)
    try:
        fake.hang(2, 1.0)
        start = time.monotonic()
        snap = source.collect()
        took = time.monotonic() - start
        assert took < 0.9, took
        assert {g.index: g.fault for g in snap.gpus} == {i: ("timeout" if i == 2 else None) for i in range(8)}
        assert snap.gpus[2].uuid == "unknown-gpu-2"  # never read yet: no identity to show
        assert [e.kind for e in snap.errors] == ["timeout"]
        calls = fake.gpu_calls[2]
        snap = source.collect()  # the first call is still stuck: no second one piles up behind it
        assert snap.gpus[2].fault == "timeout"
        assert fake.gpu_calls[2] == calls
        del fake._hangs[2]
        time.sleep(1.0)
        source.collect()  # finished late: reported once more, then read afresh
        snap = source.collect()
        assert snap.gpus[2].fault is None and snap.gpus[2].power_watts == pytest.approx(85.98)
    finally:
        source.close()


def test_unsupported_calls_are_absent_and_other_errors_are_counted():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO])
    source = nvml_source(fake)
    try:
        fake.fail(1, "nvmlDeviceGetPowerUsage", NOT_SUPPORTED)
        fake.fail(5, "nvmlDeviceGetTemperature", TIMEOUT, times=1)
        snap = source.collect()
        assert snap.gpus[1].power_watts is None and snap.gpus[1].fault is None
        assert snap.gpus[5].temperature_celsius is None and snap.gpus[5].fault is None
        assert [(e.location, e.kind) for e in snap.errors] == [("GPU 5 nvmlDeviceGetTemperature", "timeout")]
        snap = source.collect()
        assert snap.gpus[5].temperature_celsius == 30.0 and not snap.errors
    finally:
        source.close()


def test_driver_reload_is_survived_without_restart():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO])
    source = nvml_source(fake, reinit_interval=0)
    exposition = Exposition()
    loop = CollectionLoop(source, 5.0, exposition, render=RENDER)
    try:
        loop.collect_once()
        fake.unload_driver()
        snap = loop.collect_once()  # every GPU reports the fault; NVML will be re-initialised
        assert {g.fault for g in snap.gpus} == {"driver_not_loaded"}
        snap = loop.collect_once()  # nvmlInit fails while the driver is away: no GPUs, an error
        assert snap.gpus == [] and [e.kind for e in snap.errors] == ["driver_not_loaded"]
        fake.load_driver()
        snap = loop.collect_once()
        assert len(snap.gpus) == 8 and not any(g.fault for g in snap.gpus) and not snap.errors
        assert "axonize_gpu_power_watts{" in exposition.latest.body.decode()
    finally:
        source.close()


def test_xid_events_are_counted_per_code():
    fake = FakeNvml.from_captures([DEMO_Q, DEMO_TOPO])
    source = nvml_source(fake)
    try:
        for code in (79, 79, 48):
            fake.emit_xid(1, code)
        before = time.time()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum(source.xid.counts()[0].values()) < 3:
            time.sleep(0.02)
        text = render(source)
    finally:
        source.close()
    got = {
        (s.name, s.labels["gpu"], s.labels["xid"]): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if "xid" in s.name
    }
    assert got[("axonize_gpu_xid_errors_total", "1", "79")] == 2
    assert got[("axonize_gpu_xid_errors_total", "1", "48")] == 1
    assert before - 5 <= got[("axonize_gpu_xid_last_seen_timestamp_seconds", "1", "79")] <= time.time()
    assert not any(gpu != "1" for _, gpu, _ in got)


def test_exporter_picks_nvml_when_it_loads(tmp_path):
    """The real CLI, no --replay: `import pynvml` finds the fake (through PYTHONPATH), NVML is chosen."""
    env = scenario_env([DEMO_Q, DEMO_TOPO], gpm={0: {"tensor_active": 0.25}})
    port = free_port()
    proc = ManagedProcess(
        "exporter",
        [sys.executable, "-m", "axonize.exporter", "--web.listen-address", f"127.0.0.1:{port}", "--collect.interval", "0.2s"],
        str(tmp_path / "exporter.log"),
        env=env,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, proc)
        deadline = time.monotonic() + 10
        while True:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            if "axonize_gpu_tensor_active_ratio{" in text or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        proc.stop()
    assert 'backend="nvml"' in text
    assert _by_gpu(text, "axonize_gpu_tensor_active_ratio") == {"0": 0.25}
    assert len(_by_gpu(text, "axonize_gpu_up")) == 8


def test_print_with_nvml(tmp_path):
    env = scenario_env(CAPTURE_SETS["h200-mig+L"])
    import subprocess

    result = subprocess.run([sys.executable, "-m", "axonize.exporter", "--print"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'axonize_mig_info{compute_instance_id="0",gpu="0",gpu_instance_id="2"' in result.stdout
    assert json.loads(env["AXONIZE_FAKE_NVML"])["captures"]


HOST = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures" / "procfs" / "two-node-host"


def test_processes_are_attributed_to_containers_pods_and_numa_placement():
    """NVML processes on GPU 4 (NUMA node 1) with PIDs of the fake host tree: Kubernetes, Docker, systemd."""
    from axonize.exporter.runtime_context import RuntimeContext
    from axonize.exporter.snapshot import Process

    snap = ReplaySource([str(DEMO_Q), str(DEMO_TOPO)]).collect()
    mib = 2**20
    snap.gpus[4].processes = [
        Process(2101, "/usr/bin/python3", "C", 60000 * mib, sm_utilization_ratio=0.5),  # vllm pod, CPUs 4-7
        Process(2106, "/usr/bin/python3", "C", 1000 * mib, sm_utilization_ratio=0.25),  # same container
        Process(2102, "/usr/bin/python3", "C", 3000 * mib),  # besteffort pod pinned to 0-3
        Process(1102, "/usr/bin/python3", "C", 2000 * mib),  # docker, CPUs 0-7
        Process(5101, "/usr/bin/python3", "C", 4000 * mib),  # vllm.service, CPUs 4-7
    ]
    fake = FakeNvml(snap)
    context = RuntimeContext(procfs=str(HOST / "proc"), sysfs=str(HOST / "sys"), rootfs=str(HOST / "root"))
    source = nvml_source(fake, enrich=context.enrich)
    try:
        text = render(source)
    finally:
        source.close()
    rows = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.startswith("axonize_gpu_container_") and s.labels["gpu"] == "4":
                key = (s.labels["container_runtime"], s.labels["pod"] or s.labels["systemd_unit"] or s.labels["container"])
                rows.setdefault(key, {})[s.name.removeprefix("axonize_gpu_container_")] = (s.value, s.labels.get("placement"))
    vllm = rows[("containerd", "vllm-llama3-8b-7d9f8c6b5-x2k4p")]
    assert vllm["memory_used_bytes"][0] == 61000 * mib and vllm["processes"][0] == 2
    assert vllm["sm_utilization_ratio"][0] == 0.75
    assert vllm["numa_mismatch"][0] == 0 and vllm["numa_placement_info"][1] == "local"
    assert 'namespace="inference"' in text and 'pod_uid="5f6a7d2e-8b3c-4f1e-9a2d-0c4b6e8f1a3b"' in text
    (besteffort,) = [v for (runtime, _), v in rows.items() if v["memory_used_bytes"][0] == 3000 * mib]
    assert besteffort["numa_mismatch"][0] == 1 and besteffort["numa_placement_info"][1] == "remote"
    (docker,) = [v for (runtime, _), v in rows.items() if runtime == "docker"]
    assert (
        docker["memory_used_bytes"][0] == 2000 * mib and docker["numa_placement_info"][1] == "unpinned" and docker["numa_mismatch"][0] == 1
    )
    service = rows[("systemd", "vllm.service")]
    assert service["memory_used_bytes"][0] == 4000 * mib and service["numa_mismatch"][0] == 0
    assert "axonize_gpu_process_memory_used_bytes" in text  # per-PID series when asked for (RENDER sets per_process)
    nodes = {
        s.labels["node"]: s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == "axonize_numa_node_cpus"
    }
    assert nodes == {"0": 4.0, "1": 4.0}
