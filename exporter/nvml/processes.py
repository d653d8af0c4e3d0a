"""GPU processes from NVML -> :class:`~axonize.exporter.snapshot.Process`.

The compute and graphics process lists come from :func:`axonize.gpu_processes.running_processes`
(PID, used memory in bytes, MIG GPU/compute instance ids). The name comes
from ``nvmlSystemGetProcessName`` (the executable path, as nvidia-smi prints
it; never the arguments or environment). Per-process SM and memory
utilization come from ``nvmlDeviceGetProcessUtilization`` samples newer than
the previous cycle's (percent -> ratio; the latest sample per PID wins).
"""

from __future__ import annotations

from axonize.gpu_processes import running_processes
from axonize.nvml import Caller, text

from ..snapshot import Process


def read_processes(call: Caller, handle, mig_mode: bool, last_seen_us: int) -> tuple[list[Process], int]:
    """Processes on one GPU and the newest utilization sample time (µs) to pass next cycle."""
    nvml = call.nvml
    by_pid: dict[tuple[int, int | None, int | None], Process] = {}
    for graphics, kind in ((False, "C"), (True, "G")):
        for entry in running_processes(nvml, handle, mig_mode, graphics=graphics, call=call):
            key = (entry.pid, entry.gpu_instance_id, entry.compute_instance_id)
            if key in by_pid:  # both compute and graphics: nvidia-smi's "C+G"
                by_pid[key].type = "C+G"
                continue
            name = call(nvml.nvmlSystemGetProcessName, entry.pid)
            by_pid[key] = Process(
                pid=entry.pid,
                name=text(name) if name is not None else "",
                type=kind,
                used_memory_bytes=entry.used_memory_bytes,
                gpu_instance_id=entry.gpu_instance_id,
                compute_instance_id=entry.compute_instance_id,
            )
    newest = last_seen_us
    if by_pid and not mig_mode:  # per-process samples are not kept per MIG instance
        latest: dict[int, tuple[int, float, float]] = {}
        for sample in call(nvml.nvmlDeviceGetProcessUtilization, handle, last_seen_us) or ():
            stamp = int(sample.timeStamp)
            newest = max(newest, stamp)
            if sample.pid not in latest or stamp > latest[sample.pid][0]:
                latest[sample.pid] = (stamp, float(sample.smUtil), float(sample.memUtil))
        for proc in by_pid.values():
            if proc.pid in latest:
                _, sm, mem = latest[proc.pid]
                proc.sm_utilization_ratio = sm / 100.0
                proc.memory_utilization_ratio = mem / 100.0
    return sorted(
        by_pid.values(),
        key=lambda p: (
            -1 if p.gpu_instance_id is None else p.gpu_instance_id,
            -1 if p.compute_instance_id is None else p.compute_instance_id,
            p.pid,
        ),
    ), newest
