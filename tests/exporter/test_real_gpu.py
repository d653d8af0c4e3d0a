"""The NVML backend on a real GPU agrees with nvidia-smi's own report of the same host.

Runs only where NVIDIA's driver answers (``nvidia-smi`` on PATH and
``nvmlInit`` succeeds): CI has no GPU, so there it is skipped with that reason;
devtools/gpu_capture.sh runs it on a lent GPU machine. Both backends are the
real CLI: ``axonize-exporter --print`` (NVML) and ``axonize-exporter --print
--replay`` of a live ``nvidia-smi -q -x`` taken in the same second. Fields that
do not move between two reads (identity, memory size, limits, maximum clocks
and link) must be equal; nvidia-smi rounds memory to MiB and power to 0.01 W.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_exporter


def _nvml_answers() -> str | None:
    """None when a GPU can be read here, else why not."""
    if shutil.which("nvidia-smi") is None:
        return "nvidia-smi not on PATH (no NVIDIA driver on this host)"
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return f"NVML does not initialise here: {exc}"
    return None if count else "NVML reports no GPU"


WHY_NOT = _nvml_answers()

#: series compared per GPU uuid, with the tolerance nvidia-smi's rounding needs
STABLE = {
    "axonize_gpu_memory_total_bytes": 2**20,
    "axonize_gpu_power_limit_watts": 0.01,
    "axonize_gpu_clock_max_hertz": 0,
    "axonize_gpu_pcie_link_max_generation": 0,
    "axonize_gpu_pcie_link_max_width_lanes": 0,
    "axonize_gpu_ecc_enabled": 0,
}
INFO_LABELS = ("uuid", "model", "pci_bus_id", "driver_version", "mig_mode", "serial")


def series(text: str) -> dict[tuple, object]:
    """``{(name, (("clock", ..), ("uuid", ..))): value}`` and ``{("info", uuid): identity labels}`` of an exposition."""
    out: dict[tuple, object] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = {k: v for k, v in sample.labels.items() if k in ("uuid", "clock")}
            out[(sample.name, tuple(sorted(labels.items())))] = sample.value
            if sample.name == "axonize_gpu_info":
                out[("info", sample.labels["uuid"])] = tuple(sample.labels.get(k, "") for k in INFO_LABELS)
    return out


def compare_stable(live: dict, smi: dict) -> list[str]:
    """Assert that the NVML backend's ``live`` series agree with replayed nvidia-smi ``smi``; the GPU uuids compared."""
    uuids = sorted(key[1] for key in smi if key[0] == "info")
    assert uuids, "nvidia-smi listed no GPU"
    assert sorted(key[1] for key in live if key[0] == "info") == uuids
    for uuid in uuids:
        assert live[("info", uuid)] == smi[("info", uuid)], uuid
        assert live[("axonize_gpu_up", (("uuid", uuid),))] == 1
    compared = 0
    for (name, labels), value in smi.items():
        if name in STABLE:
            assert (name, labels) in live, f"NVML backend lacks {name}{dict(labels)}"
            assert abs(live[(name, labels)] - value) <= STABLE[name], (name, labels, live[(name, labels)], value)
            compared += 1
    assert compared >= len(uuids) * 5
    return uuids


@pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
def test_nvml_backend_matches_nvidia_smi(tmp_path: Path):
    capture = tmp_path / "nvidia-smi-q-x.xml"
    capture.write_text(subprocess.run(["nvidia-smi", "-q", "-x"], capture_output=True, text=True, check=True, timeout=60).stdout)
    nvml = run_exporter("--print")
    assert nvml.returncode == 0, nvml.stderr
    replay = run_exporter("--print", "--replay", str(capture))
    assert replay.returncode == 0, replay.stderr
    assert 'backend="nvml"' in nvml.stdout
    compare_stable(series(nvml.stdout), series(replay.stdout))
