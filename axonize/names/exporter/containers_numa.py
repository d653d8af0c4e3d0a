"""GPU use per container, pod and process, NUMA placement, and the host's NUMA nodes.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import CONTAINER, GPU

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name("axonize_numa_node_cpus", "gauge", "", ("node",), "CPUs of the host NUMA node.", _C),
    Name(
        "axonize_numa_node_cpu_utilization_ratio",
        "gauge",
        "ratio",
        ("node",),
        "Mean busy share of the NUMA node's CPUs over the last collection interval, 0-1.",
        _C,
    ),
    Name("axonize_numa_node_memory_total_bytes", "gauge", "bytes", ("node",), "Memory of the host NUMA node.", _C),
    Name(
        "axonize_numa_node_memory_used_bytes", "gauge", "bytes", ("node",), "Memory in use on the host NUMA node (MemTotal - MemFree).", _C
    ),
    Name(
        "axonize_gpu_container_memory_used_bytes",
        "gauge",
        "bytes",
        CONTAINER,
        "GPU memory held by the processes of one container (or pod, or systemd service) on the GPU or MIG instance; empty container labels group processes whose container is unknown (replays, no host PID namespace).",
        _C,
    ),
    Name(
        "axonize_gpu_container_processes",
        "gauge",
        "",
        CONTAINER,
        "Processes of the container holding memory on the GPU or MIG instance.",
        _C,
    ),
    Name(
        "axonize_gpu_container_sm_utilization_ratio",
        "gauge",
        "ratio",
        CONTAINER,
        "The container's share of the GPU's SM time over NVML's last sample window (sum over its processes, capped at 1).",
        _C,
    ),
    Name(
        "axonize_gpu_container_numa_placement_info",
        "info",
        "",
        (*CONTAINER, "placement"),
        "Where the container's CPUs may run relative to the GPU's NUMA node: local (only on it), unpinned (on it and others), remote (never on it); the worst of its processes; value 1.",
        _C,
    ),
    Name(
        "axonize_gpu_container_numa_mismatch",
        "gauge",
        "",
        CONTAINER,
        "1 when the container may run on CPUs outside the GPU's NUMA node (placement unpinned or remote), 0 when local.",
        _C,
    ),
    Name(
        "axonize_gpu_process_memory_used_bytes",
        "gauge",
        "bytes",
        (*GPU, "pid", "process_name", "process_type", "gpu_instance_id", "compute_instance_id"),
        "GPU memory held by a process (type C compute, G graphics); MIG instance ids when it runs in one. Name only, never the command line.",
        _C,
    ),
)
