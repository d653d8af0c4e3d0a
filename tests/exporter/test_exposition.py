"""The axonize_* exposition: names, labels, absent values, and promtool's linter on every capture."""

import functools
import re
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.exporter.collection import CollectionLoop
from axonize.exporter.exposition import METRICS, Options, families
from axonize.exporter.replay import ReplaySource
from axonize.http import Exposition
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA, requires

# the capture host printed the process as a full executable path; the series carry the executable's name only
MEMHOG = "memhog"
assert re.search(r"Name\s+: /\S+/memhog", (NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt").read_text())

CAPTURE_SETS = {
    "h100x8+topo": [DEMO_Q, DEMO_TOPO],
    "h200-mig+L": [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"],
    "h100-mig": [NVIDIA / "h100-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h100-mig_drv590_nvidia-smi-L.txt"],
    "a100x4": [NVIDIA / "a100-sxm-x4_drv555_nvidia-smi-q.txt"],
    "a100-mig-xml": [NVIDIA / "a100-sxm4-80gb-mig_drv535_nvidia-smi-q-x.xml"],
    "a10g-xml": [NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml"],
    "rtx4000-xml-v13": [NVIDIA / "rtx4000-sff-ada_drv595_nvidia-smi-q-x_v13.xml"],
    "l40s": [NVIDIA / "l40s_drv595_nvidia-smi-q_load.txt"],
    "bundle": [NVIDIA / "linux-x86_64__nvidia-h200-mig__590.48.01.txt"],
}


def render(paths) -> str:
    """The exposition with the opt-in per-PID series too (so promtool checks them as well)."""
    exposition = Exposition()
    render = functools.partial(families, options=Options(per_process=True))
    CollectionLoop(ReplaySource([str(p) for p in paths]), 5.0, exposition, render=render).collect_once()
    return exposition.latest.body.decode()


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


@requires("promtool")
@pytest.mark.parametrize("name", CAPTURE_SETS)
def test_promtool_check_metrics_passes(name, promtool):
    text = render(CAPTURE_SETS[name])
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_names_follow_prometheus_conventions():
    for m in METRICS:
        assert m.name.startswith("axonize_")
        if m.type == "counter":
            assert m.name.endswith("_total"), m.name
        if m.type == "info":
            assert m.name.endswith("_info"), m.name
        if m.unit in ("bytes", "seconds", "watts", "celsius", "hertz", "ratio", "joules"):
            assert f"_{m.unit}" in m.name, m.name
        if m.name.startswith("axonize_gpu_"):
            assert m.labels[:2] == ("gpu", "uuid"), m.name


def test_fixed_names_with_gpu_and_uuid_labels():
    got = samples(render(CAPTURE_SETS["h100x8+topo"]))
    for name in (
        "axonize_gpu_info",
        "axonize_gpu_memory_total_bytes",
        "axonize_gpu_memory_used_bytes",
        "axonize_gpu_utilization_ratio",
        "axonize_gpu_power_watts",
        "axonize_gpu_temperature_celsius",
    ):
        assert len(got[name]) == 8, name
        assert {s.labels["gpu"] for s in got[name]} == {str(i) for i in range(8)}
        assert all(s.labels["uuid"].startswith("GPU-") for s in got[name])
    gpu0 = {
        s.name: s.value for s in sum(got.values(), []) if s.labels.get("gpu") == "0" and "peer_gpu" not in s.labels and len(s.labels) == 2
    }
    assert gpu0["axonize_gpu_memory_total_bytes"] == 85520809984
    assert gpu0["axonize_gpu_power_watts"] == pytest.approx(100.89)
    assert gpu0["axonize_gpu_numa_node"] == 0 and gpu0["axonize_gpu_cpu_affinity_cpus"] == 128
    info = next(s for s in got["axonize_gpu_info"] if s.labels["gpu"] == "0")
    assert info.labels["model"] == "NVIDIA H100 80GB HBM3" and info.labels["driver_version"] == "565.57.01"
    assert info.labels["pci_bus_id"] == "00000000:18:00.0" and info.value == 1
    nvlinks = got["axonize_gpu_peer_nvlinks"]
    assert len(nvlinks) == 56 and {s.value for s in nvlinks} == {18}
    assert {s.labels["path"] for s in got["axonize_gpu_peer_path_info"]} == {"NVLINK"}
    reasons = {s.labels["reason"]: s.value for s in got["axonize_gpu_clock_event_reason_active"] if s.labels["gpu"] == "0"}
    assert reasons["gpu_idle"] == 1 and reasons["sw_power_cap"] == 0 and len(reasons) == 9
    assert got["axonize_gpu_pcie_replays_total"][0].value == 7


def test_unavailable_values_are_absent_series():
    got = samples(render(CAPTURE_SETS["h200-mig+L"]))
    assert "axonize_gpu_utilization_ratio" not in got  # N/A under MIG
    assert "axonize_gpu_fan_speed_ratio" not in got  # N/A on SXM
    assert "axonize_gpu_remapped_rows" not in got  # "Remapped Rows : N/A"
    assert "axonize_gpu_energy_joules_total" not in got  # not in nvidia-smi -q


def test_mig_series_memory_once_per_gpu_instance():
    got = samples(render(CAPTURE_SETS["h200-mig+L"]))
    info = sorted((s.labels["gpu_instance_id"], s.labels["compute_instance_id"], s.labels["profile"]) for s in got["axonize_mig_info"])
    assert info == [
        ("10", "0", "1g.18gb"),
        ("2", "0", "1c.3g.71gb"),
        ("2", "1", "2c.3g.71gb"),
        ("3", "0", "2g.35gb"),
        ("9", "0", "1g.18gb"),
    ]
    total = {s.labels["gpu_instance_id"]: s.value for s in got["axonize_mig_memory_total_bytes"]}
    assert total == {"2": 71424 * 2**20, "3": 33280 * 2**20, "9": 16384 * 2**20, "10": 16384 * 2**20}
    sms = {(s.labels["gpu_instance_id"], s.labels["compute_instance_id"]): s.value for s in got["axonize_mig_multiprocessors"]}
    assert sms[("2", "0")] == 16 and sms[("2", "1")] == 32
    procs = got["axonize_gpu_process_memory_used_bytes"]
    assert sorted(
        (s.labels["pid"], s.labels["process_name"], s.labels["gpu_instance_id"], s.labels["compute_instance_id"], s.value) for s in procs
    ) == [
        ("12249", MEMHOG, "2", "1", 2194 * 2**20),
        ("12250", MEMHOG, "2", "1", 1170 * 2**20),
        ("12267", "gpu_burn", "2", "1", 13526 * 2**20),
    ]


def test_self_metrics_count_errors_by_source_and_kind(tmp_path):
    broken = tmp_path / "q.txt"
    broken.write_text(DEMO_Q.read_text().replace("100.89 W", "lots of W", 1))
    exposition = Exposition()
    loop = CollectionLoop(ReplaySource([str(broken), str(DEMO_TOPO)]), 5.0, exposition)
    loop.collect_once()
    loop.collect_once()
    got = samples(exposition.latest.body.decode())
    errors = {(s.labels["source"], s.labels["kind"]): s.value for s in got["axonize_exporter_collection_errors_total"]}
    assert errors == {("replay", "value"): 2}
    assert got["axonize_exporter_collections_total"][0].value == 2
    assert got["axonize_exporter_last_collection_success_timestamp_seconds"][0].value > 1.7e9
    assert len(got["axonize_gpu_info"]) == 8


@requires("promtool")
def test_label_values_are_escaped_per_the_exposition_format(promtool):
    """Names come from processes and runtimes: a quote, backslash or newline must not break the exposition."""
    from axonize.exporter.snapshot import Container, Gpu, Process, Snapshot

    nasty = 'we"ird\\name\nline2'
    snap = Snapshot(
        hostname=nasty,
        gpus=[
            Gpu(
                index=0,
                uuid="GPU-x",
                name=nasty,
                processes=[
                    Process(7, nasty, "C", 1024.0, container=Container("docker", "ab" * 32, pod_name=nasty, namespace="ns", name=nasty)),
                ],
            )
        ],
    )
    exposition = Exposition()
    loop = CollectionLoop(
        type("S", (), {"name": "test", "collect": lambda self: snap})(),
        5.0,
        exposition,
        render=functools.partial(families, options=Options(per_process=True)),
    )
    loop.collect_once()
    text = exposition.latest.body.decode()
    assert 'process_name="we\\"ird\\\\name\\nline2"' in text
    got = samples(text)
    assert got["axonize_gpu_process_memory_used_bytes"][0].labels["process_name"] == nasty
    assert got["axonize_gpu_container_memory_used_bytes"][0].labels["pod"] == nasty
    assert got["axonize_gpu_info"][0].labels["model"] == nasty
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rows_are_the_registry_in_its_order():
    """Name, type, unit, labels and help are the registry's; the exposition renders its families in registry order."""
    from axonize import names
    from axonize.exporter.exposition import DROPPED

    registered = [row.name for row in names.of_component("exporter") if not row.name.startswith("axonize_exporter_")]
    assert [m.name for m in METRICS] == registered
    assert names.get(DROPPED).component == "exporter"


def test_the_exposition_reads_only_the_snapshot():
    """No parser, /proc or /sys reader is imported by the exposition: derived values are on the snapshot."""
    import subprocess
    import sys

    code = "import sys, axonize.exporter.exposition; print(sorted(m for m in sys.modules if m.startswith('axonize.exporter')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for forbidden in ("replay", "numa", "runtime_context", "containers", "nvml"):
        assert f"axonize.exporter.{forbidden}'" not in loaded and f"axonize.exporter.{forbidden}." not in loaded, loaded
