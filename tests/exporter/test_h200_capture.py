"""Our real H200 captures (tests/fixtures/nvidia/h200-real, devtools/gpu_capture.sh): NVML and nvidia-smi agree.

The exporter's NVML backend and nvidia-smi read the same GPU within the same two
seconds; replaying nvidia-smi's report must give the same identity and the same
fixed quantities as the NVML backend's own output, for ``-q -x`` and ``-q`` alike.
The load captures show what only a busy real GPU gives: the workload's process, GPM
activity, and the sidecar's port -> PID -> NVML attribution.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import NVIDIA, run_exporter
from tests.exporter.test_real_gpu import compare_stable, series

H200 = NVIDIA / "h200-real"
UUID = "GPU-5e7c64e0-0b92-7a0e-34f8-3aae0eea070c"


def _replay(*names: str, flags: tuple[str, ...] = ()) -> str:
    done = run_exporter("--print", *flags, "--replay", *(str(H200 / n) for n in names))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_replayed_nvidia_smi_matches_the_nvml_backend_on_the_same_gpu():
    nvml = (H200 / "h200_drv580_axonize-exporter_idle.prom").read_text()
    assert 'backend="nvml"' in nvml
    for report in ("h200_drv580_nvidia-smi-q-x_idle.xml", "h200_drv580_nvidia-smi-q_idle.txt"):
        smi = series(_replay(report, "h200_drv580_topo-m.txt", "h200_drv580_nvidia-smi-L.txt"))
        assert compare_stable(series(nvml), smi) == [UUID], report


def test_the_load_capture_names_the_workload_and_its_activity():
    live = {
        (s.name, s.labels.get("pid", "")): s.value
        for f in text_string_to_metric_families((H200 / "h200_drv580_axonize-exporter_load.prom").read_text())
        for s in f.samples
    }
    assert live[("axonize_gpu_process_memory_used_bytes", "486")] > 16 * 2**30  # the 16 GiB the workload holds, and more
    assert live[("axonize_gpu_tensor_active_ratio", "")] > 0.9  # GPM: bf16 products keep the tensor cores busy
    assert live[("axonize_gpu_pcie_tx_bytes_per_second", "")] > 0  # from GPM, not a 20 ms sample
    replayed = {
        (s.name, s.labels.get("pid", "")): s.value
        for f in text_string_to_metric_families(_replay("h200_drv580_nvidia-smi-q-x_load.xml", flags=("--collect.processes",)))
        for s in f.samples
    }
    assert replayed[("axonize_gpu_process_memory_used_bytes", "486")] == 17386 * 2**20  # nvidia-smi's MiB
    assert abs(live[("axonize_gpu_process_memory_used_bytes", "486")] - replayed[("axonize_gpu_process_memory_used_bytes", "486")]) < 2**20


def test_the_sidecar_attributed_the_engine_port_to_the_real_gpu():
    text = (H200 / "h200_drv580_axonize-sidecar_load.prom").read_text()
    info = [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == "axonize_inference_server_gpu_info"]
    assert [(s.labels["server"], s.labels["uuid"]) for s in info] == [("127.0.0.1:18000", UUID)]
