"""What a workload needs of a GPU: memory per GPU and SM activity, from what it declares or what was measured."""

from __future__ import annotations

from ..model import Host, Workload
from ..topology import workloads_on


def memory_need(host: Host, w: Workload) -> float | None:
    """Bytes per GPU (or MIG instance): ``Workload.memory_bytes``, else, for a workload alone on its GPUs, the
    most VRAM used on one of them; None when unknown."""
    if w.memory_bytes is not None:
        return w.memory_bytes
    if w.gpus and all(len(workloads_on(host, g)) == 1 for g in w.gpus):
        used = [host.gpu(g).memory_used_bytes for g in w.gpus]
        if all(u is not None for u in used):
            return max(used)
    return None


def activity(host: Host, w: Workload) -> tuple[float | None, str]:
    """SM activity (0-1 of a whole GPU) and its source: the workload's own, else (alone on its GPUs) its GPUs'
    mean SM active, else their NVML utilization (an upper bound: a kernel ran, however few SMs it used)."""
    if w.sm_active_ratio is not None:
        return w.sm_active_ratio, "axonize_gpu_container_sm_utilization_ratio"
    if not w.gpus or any(len(workloads_on(host, g)) != 1 for g in w.gpus):
        return None, ""
    gpus = [host.gpu(g) for g in w.gpus]
    if all(g.sm_active_ratio is not None for g in gpus):
        return sum(g.sm_active_ratio for g in gpus) / len(gpus), "axonize_gpu_sm_active_ratio"
    if all(g.utilization_ratio is not None for g in gpus):
        return sum(g.utilization_ratio for g in gpus) / len(gpus), "axonize_gpu_utilization_ratio"
    return None, ""
