"""MIG GPU instances and compute instances: identity, multiprocessors and memory.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU, MIG_INSTANCE

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_mig_info",
        "info",
        "",
        (*GPU, "mig_index", "gpu_instance_id", "compute_instance_id", "profile", "mig_uuid"),
        "A MIG device (compute instance inside a GPU instance) on the GPU; profile and mig_uuid when nvidia-smi -L or NVML gives them; value 1.",
        _C,
    ),
    Name(
        "axonize_mig_multiprocessors",
        "gauge",
        "",
        (*MIG_INSTANCE, "compute_instance_id"),
        "Streaming multiprocessors (SMs) of the MIG compute instance.",
        _C,
    ),
    Name(
        "axonize_mig_memory_total_bytes",
        "gauge",
        "bytes",
        MIG_INSTANCE,
        "Memory of the MIG GPU instance (shared by its compute instances).",
        _C,
    ),
    Name("axonize_mig_memory_used_bytes", "gauge", "bytes", MIG_INSTANCE, "Memory in use in the MIG GPU instance.", _C),
    Name("axonize_mig_memory_free_bytes", "gauge", "bytes", MIG_INSTANCE, "Memory free in the MIG GPU instance.", _C),
)
