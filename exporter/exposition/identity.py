"""Identity and health of the host and its GPUs (registry topic :mod:`axonize.names.exporter.identity`).

Sample::

    axonize_host_info{backend="replay",cuda_version="12.7",driver_version="565.57.01",hostname=""} 1.0
    axonize_gpu_up{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 1.0
    axonize_gpu_fault_info{gpu="0",kind="gpu_lost",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 1.0
"""

from __future__ import annotations

from collections.abc import Iterator

from ..snapshot import Snapshot
from .family import NVML_SOURCE, Metric, Sample, gpu_key


def _host_info(snap: Snapshot) -> Iterator[Sample]:
    yield (snap.hostname, snap.driver_version, snap.cuda_version, snap.backend), 1.0


def _gpu_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        mig = "" if gpu.mig_mode is None else ("enabled" if gpu.mig_mode else "disabled")
        yield (
            gpu_key(gpu)
            + (
                gpu.name,
                gpu.pci_bus_id,
                gpu.serial,
                gpu.brand,
                gpu.architecture,
                gpu.vbios_version,
                snap.driver_version,
                snap.cuda_version,
                mig,
                gpu.compute_mode,
            ),
            1.0,
        )


def _gpu_up(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        yield gpu_key(gpu), 0.0 if gpu.fault else 1.0


def _gpu_fault(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.fault:
            yield gpu_key(gpu) + (gpu.fault,), 1.0


ROWS: tuple[Metric, ...] = (
    Metric(
        "axonize_host_info",
        _host_info,
        "nvidia-smi -q `Driver Version`, `CUDA Version`; -q -x `driver_version`, `cuda_version`",
    ),
    Metric(
        "axonize_gpu_info",
        _gpu_info,
        "nvidia-smi -q `Product Name`, `PCI › Bus Id`, `Serial Number`, `VBIOS Version`, `MIG Mode › Current`; -q -x the same elements",
    ),
    Metric(
        "axonize_gpu_up",
        _gpu_up,
        NVML_SOURCE + "; replays: 0 for a GPU of an `Unable to determine the device handle for GPU <bus id>` line of nvidia-smi -q, else 1",
    ),
    Metric(
        "axonize_gpu_fault_info",
        _gpu_fault,
        NVML_SOURCE + " error codes (nvmlReturn_t); replays: the error string of that line (`GPU is lost` -> gpu_lost)",
    ),
)
