"""Identity and health of hosts and GPUs: what each GPU is, whether it reads.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_host_info",
        "info",
        "",
        ("hostname", "driver_version", "cuda_version", "backend"),
        "The host: NVIDIA driver and CUDA versions and the backend that collected it (replay or nvml).",
        _C,
    ),
    Name(
        "axonize_gpu_info",
        "info",
        "",
        (
            *GPU,
            "model",
            "pci_bus_id",
            "serial",
            "brand",
            "architecture",
            "vbios_version",
            "driver_version",
            "cuda_version",
            "mig_mode",
            "compute_mode",
        ),
        "Identity of the GPU; value 1.",
        _C,
    ),
    Name(
        "axonize_gpu_up",
        "gauge",
        "",
        GPU,
        "1 when the GPU was read this cycle, 0 when it failed (lost, timed out, needs a reset); the other GPUs are unaffected.",
        _C,
    ),
    Name(
        "axonize_gpu_fault_info",
        "info",
        "",
        (*GPU, "kind"),
        "Why the GPU could not be read this cycle (gpu_lost, reset_required, timeout, ...); absent while it reads fine.",
        _C,
    ),
)
