"""Fault injection: whatever a source, an enrichment step, sysfs or a capture does, the loop keeps collecting.

Each test checks the four promises of the collection loop: the next cycle runs (the collections
counter goes up), the problem is counted in axonize_exporter_collection_errors_total, the healthy
parts are served fresh, and /-/healthy (``CollectionLoop.health``) tells the truth.
"""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from axonize.exporter import numa
from axonize.exporter.collection import CollectionLoop
from axonize.exporter.exposition import families
from axonize.exporter.nvml import NvmlSource
from axonize.exporter.replay import ReplaySource
from axonize.exporter.runtime_context import RuntimeContext
from axonize.http import Exposition
from tests.conftest import DEMO_Q, NVIDIA
from tests.fake_nvml import FakeNvml

H100 = NVIDIA / "h100-80gb-hbm3_drv590_nvidia-smi-q_load.txt"


def scrape(exposition: Exposition) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(exposition.latest.body.decode()):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def errors(got: dict) -> dict[tuple[str, str], float]:
    return {(s.labels["source"], s.labels["kind"]): s.value for s in got.get("axonize_exporter_collection_errors_total", [])}


def collections(got: dict) -> float:
    return got["axonize_exporter_collections_total"][0].value


def test_a_render_that_raises_once_withdraws_that_cycle_and_the_next_publishes():
    calls = []

    def render(snapshot):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("bad family")
        return families(snapshot)

    exposition = Exposition()
    loop = CollectionLoop(ReplaySource([str(DEMO_Q)]), 5.0, exposition, render=render)
    loop.collect_once()
    got = scrape(exposition)
    assert "axonize_gpu_memory_total_bytes" not in got and errors(got) == {("exposition", "internal"): 1.0}
    assert not loop.health()[0]  # the cycle did not publish the GPUs: not a success
    loop.collect_once()
    got = scrape(exposition)
    assert len(got["axonize_gpu_memory_total_bytes"]) == 8 and collections(got) == 2
    assert errors(got) == {("exposition", "internal"): 1.0} and loop.health() == (True, "OK")


def test_a_family_that_raises_is_left_out_and_the_others_are_published(monkeypatch):
    from axonize.exporter.exposition import family

    real = family.Metric.family

    def flaky(self, snapshot):
        if self.name == "axonize_gpu_power_watts":
            raise TypeError("a backend put a string in power_watts")
        return real(self, snapshot)

    monkeypatch.setattr(family.Metric, "family", flaky)
    exposition = Exposition()
    loop = CollectionLoop(ReplaySource([str(DEMO_Q)]), 5.0, exposition)
    snapshot = loop.collect_once()
    got = scrape(exposition)
    assert "axonize_gpu_power_watts" not in got and len(got["axonize_gpu_memory_used_bytes"]) == 8
    assert errors(got) == {("exposition", "internal"): 1.0}
    assert [e.location for e in snapshot.errors] == ["axonize_gpu_power_watts"]


def _nvml_loop(tmp_path, context: RuntimeContext) -> tuple[CollectionLoop, Exposition, NvmlSource]:
    fake = FakeNvml(ReplaySource([str(H100)]).collect())
    source = NvmlSource(nvml=fake, hostname="", enrich=context.enrich)
    exposition = Exposition()
    return CollectionLoop(source, 5.0, exposition), exposition, source


def _sysfs_with_cpulist(tmp_path, cpulist: str) -> str:
    device = tmp_path / "sys" / "bus" / "pci" / "devices" / "0000:00:09.0"  # the H100's bus id in the capture
    device.mkdir(parents=True)
    (device / "numa_node").write_text("0\n")
    (device / "local_cpulist").write_text(cpulist + "\n")
    return str(tmp_path / "sys")


def test_a_malformed_local_cpulist_is_a_value_error_for_that_gpu_not_a_dead_exporter(tmp_path):
    """Before: ValueError from the render path at start (axonize-exporter died). Now: counted, the GPU still served."""
    context = RuntimeContext(procfs="/proc", sysfs=_sysfs_with_cpulist(tmp_path, "0-3,x-y"), host_pids=False)
    loop, exposition, source = _nvml_loop(tmp_path, context)
    try:
        loop.collect_once()
        loop.collect_once()
    finally:
        source.close()
    got = scrape(exposition)
    assert errors(got) == {("sysfs", "value"): 2.0} and collections(got) == 2
    assert got["axonize_gpu_numa_node"][0].value == 0 and len(got["axonize_gpu_memory_used_bytes"]) == 1
    assert "axonize_gpu_cpu_affinity_cpus" not in got and "axonize_gpu_cpu_affinity_info" not in got
    assert loop.health() == (True, "OK")


def test_a_good_local_cpulist_is_counted_once_per_cycle_in_the_collection_path(tmp_path):
    context = RuntimeContext(procfs="/proc", sysfs=_sysfs_with_cpulist(tmp_path, "0-3,8"), host_pids=False)
    loop, exposition, source = _nvml_loop(tmp_path, context)
    try:
        snapshot = loop.collect_once()
    finally:
        source.close()
    assert snapshot.gpus[0].cpu_affinity_cpus == 5
    assert scrape(exposition)["axonize_gpu_cpu_affinity_cpus"][0].value == 5


def test_an_enrichment_that_raises_is_counted_and_the_gpus_are_still_served(tmp_path, monkeypatch):
    def broken(self, errors):
        raise RuntimeError("sysfs walk bug")

    monkeypatch.setattr(numa.HostNuma, "read", broken)
    context = RuntimeContext(procfs=str(tmp_path), sysfs=str(tmp_path), host_pids=False)
    loop, exposition, source = _nvml_loop(tmp_path, context)
    try:
        loop.collect_once()
        loop.collect_once()
    finally:
        source.close()
    got = scrape(exposition)
    assert errors(got) == {("runtime_context", "internal"): 2.0} and collections(got) == 2
    assert len(got["axonize_gpu_memory_used_bytes"]) == 1 and loop.health() == (True, "OK")


def test_a_capture_replaced_by_garbage_mid_run(tmp_path):
    path = tmp_path / "gpus.txt"
    path.write_text(DEMO_Q.read_text())
    exposition = Exposition()
    loop = CollectionLoop(ReplaySource([str(path)]), 1.0, exposition)
    loop.collect_once()
    assert len(scrape(exposition)["axonize_gpu_up"]) == 8 and loop.health() == (True, "OK")

    path.write_bytes(b"\x00garbage\xff" * 1000)
    loop.collect_once()
    got = scrape(exposition)
    assert collections(got) == 2 and errors(got) == {("replay", "parse"): 1.0}
    assert "axonize_gpu_up" not in got  # withdrawn, not frozen at the last good values
    loop.last_success = time.time() - 3.5  # three intervals of 1 s have passed without a success
    assert loop.health()[0] is False

    path.write_text(DEMO_Q.read_text())  # the job writes a good capture again
    loop.collect_once()
    got = scrape(exposition)
    assert collections(got) == 3 and len(got["axonize_gpu_up"]) == 8 and loop.health() == (True, "OK")


def test_start_returns_at_once_and_a_stuck_source_makes_health_fail(monkeypatch):
    class Slow:
        name = "replay"

        def collect(self):
            time.sleep(1.0)
            return ReplaySource([str(DEMO_Q)]).collect()

    loop = CollectionLoop(Slow(), 0.1, Exposition())
    started = time.monotonic()
    loop.start()
    try:
        assert time.monotonic() - started < 0.5
        assert loop.health() == (False, "no successful collection yet")
        while loop.collections < 1:
            time.sleep(0.02)
        assert loop.health() == (True, "OK")
        time.sleep(0.5)  # the second cycle is still in the source: more than 3 intervals of 0.1 s
        ok, reason = loop.health()
        assert not ok and "more than 3 intervals" in reason
    finally:
        loop.stop()
