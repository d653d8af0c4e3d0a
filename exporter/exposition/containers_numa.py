"""GPU use per container, pod and process, their NUMA placement, and the host's NUMA nodes (registry
topic :mod:`axonize.names.exporter.containers_numa`).

Reads ``Gpu.containers`` (processes grouped by container and MIG instance, with the NUMA placement
of each group's worst-placed process) and ``Snapshot.numa_nodes``, both filled once per cycle in the
collection path. Sample::

    axonize_gpu_container_memory_used_bytes{compute_instance_id="",container="vllm",container_id="...",container_runtime="containerd",gpu="4",gpu_instance_id="",namespace="inference",pod="vllm-0",pod_uid="...",systemd_unit="",uuid="GPU-..."} 6.396313600e+10
    axonize_numa_node_cpus{node="0"} 4.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..snapshot import ContainerUsage, Gpu, Snapshot
from .family import Metric, Sample, gpu_key

_PROC_CPUS = "/proc/<pid>/status `Cpus_allowed_list` against /sys/devices/system/node and the GPU's NUMA node"


def _container_labels(gpu: Gpu, row: ContainerUsage) -> tuple[str, ...]:
    c = row.container
    return gpu_key(gpu) + (
        "" if row.gpu_instance_id is None else str(row.gpu_instance_id),
        "" if row.compute_instance_id is None else str(row.compute_instance_id),
        c.runtime if c else "",
        c.id if c else "",
        c.name if c else "",
        c.pod_name if c else "",
        c.namespace if c else "",
        c.pod_uid if c else "",
        c.systemd_unit if c else "",
    )


def _container_value(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for row in gpu.containers:
                value = getattr(row, attr)
                if value is not None:
                    yield _container_labels(gpu, row), float(value)

    return samples


def _placement(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for row in gpu.containers:
            if row.placement is not None:
                yield _container_labels(gpu, row) + (row.placement,), 1.0


def _mismatch(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for row in gpu.containers:
            if row.placement is not None:
                yield _container_labels(gpu, row), 0.0 if row.placement == "local" else 1.0


def _process_memory(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for proc in gpu.processes:
            if proc.used_memory_bytes is None:
                continue
            yield (
                gpu_key(gpu)
                + (
                    str(proc.pid),
                    proc.name,
                    proc.type,
                    "" if proc.gpu_instance_id is None else str(proc.gpu_instance_id),
                    "" if proc.compute_instance_id is None else str(proc.compute_instance_id),
                ),
                float(proc.used_memory_bytes),
            )


def _numa_node(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for node in snap.numa_nodes:
            value = getattr(node, attr)
            if value is not None:
                yield (str(node.node),), float(value)

    return samples


#: Families of per-PID series: opt-in (``--collect.processes``), capped.
PER_PROCESS = frozenset({"axonize_gpu_process_memory_used_bytes"})

ROWS: tuple[Metric, ...] = (
    Metric("axonize_numa_node_cpus", _numa_node("cpus"), "/sys/devices/system/node/node<N>/cpulist"),
    Metric(
        "axonize_numa_node_cpu_utilization_ratio", _numa_node("cpu_utilization_ratio"), "psutil per-CPU times (/proc/stat), grouped by node"
    ),
    Metric("axonize_numa_node_memory_total_bytes", _numa_node("memory_total_bytes"), "/sys/devices/system/node/node<N>/meminfo `MemTotal`"),
    Metric("axonize_numa_node_memory_used_bytes", _numa_node("memory_used_bytes"), "/sys/devices/system/node/node<N>/meminfo"),
    Metric(
        "axonize_gpu_container_memory_used_bytes",
        _container_value("used_memory_bytes"),
        "NVML running processes (nvidia-smi `Processes` in replays), grouped by /proc/<pid>/cgroup",
    ),
    Metric("axonize_gpu_container_processes", _container_value("processes"), "NVML running processes, grouped by /proc/<pid>/cgroup"),
    Metric(
        "axonize_gpu_container_sm_utilization_ratio",
        _container_value("sm_utilization_ratio"),
        "NVML `nvmlDeviceGetProcessUtilization` (smUtil, percent)",
    ),
    Metric("axonize_gpu_container_numa_placement_info", _placement, _PROC_CPUS),
    Metric("axonize_gpu_container_numa_mismatch", _mismatch, _PROC_CPUS),
    Metric("axonize_gpu_process_memory_used_bytes", _process_memory, "nvidia-smi -q `Processes`; -q -x `processes/process_info`"),
)
