"""Identity and health of hosts and GPUs: what each GPU is, whether it reads.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_host_info",
        "info",
        "",
        ("hostname", "driver_version", "cuda_version", "backend"),
        "The host: NVIDIA driver and CUDA versions and the backend that collected it (replay or nvml).",
        "exporter",
    ),
    Name(
        "axonize_gpu_info",
        "info",
        "",
        (
            "gpu",
            "uuid",
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
        "exporter",
    ),
    Name(
        "axonize_gpu_up",
        "gauge",
        "",
        ("gpu", "uuid"),
        "1 when the GPU was read this cycle, 0 when it failed (lost, timed out, needs a reset); the other GPUs are unaffected.",
        "exporter",
    ),
    Name(
        "axonize_gpu_fault_info",
        "info",
        "",
        ("gpu", "uuid", "kind"),
        "Why the GPU could not be read this cycle (gpu_lost, reset_required, timeout, ...); absent while it reads fine.",
        "exporter",
    ),
)
