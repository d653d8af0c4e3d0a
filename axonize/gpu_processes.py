"""The processes running on each GPU, as NVML lists them, and the MIG device each one runs on.

NVML's process lists (``nvmlDeviceGetComputeRunningProcesses`` / ``...GraphicsRunningProcesses``, v3
structs: ``pid``, ``usedGpuMemory`` bytes, ``gpuInstanceId``, ``computeInstanceId``) name PIDs of the
host's PID namespace (see :func:`axonize.host.host_pid_namespace`). Outside MIG mode the instance ids
are ``0xFFFFFFFF``; here they become None. A MIG device (one compute instance of one GPU instance) has
its own ``MIG-...`` UUID, found by ``(GPU instance id, compute instance id)``::

    gpu_uuids_by_pid(pynvml)   # {4711: {"GPU-b42dd28e-..."}, 5120: {"MIG-0e1f2a3b-..."}}

Reads take ``call(fn, *args)``: a plain call by default (an ``NVMLError`` propagates), or the
exporter's :class:`axonize.nvml.Caller`, which turns unsupported readings into None.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .nvml import text

log = logging.getLogger(__name__)

NO_ID = 0xFFFFFFFF  # gpuInstanceId / computeInstanceId outside MIG
UNKNOWN_MEMORY = 0xFFFFFFFFFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE (e.g. under WDDM or without permission)


def _direct(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


@dataclass(frozen=True)
class RunningProcess:
    """One entry of a GPU's process list.

    ``used_memory_bytes``: None when NVML does not know it. ``gpu_instance_id`` /
    ``compute_instance_id``: the MIG instance the process runs in; None outside MIG mode.
    """

    pid: int
    used_memory_bytes: float | None
    gpu_instance_id: int | None
    compute_instance_id: int | None


def running_processes(
    nvml: ModuleType, handle: object, mig_mode: bool, graphics: bool = False, call: Callable[..., Any] = _direct
) -> list[RunningProcess]:
    """The compute processes (or, with ``graphics``, the graphics ones) on one GPU, in NVML's order."""
    fn = nvml.nvmlDeviceGetGraphicsRunningProcesses if graphics else nvml.nvmlDeviceGetComputeRunningProcesses
    out: list[RunningProcess] = []
    for entry in call(fn, handle) or ():
        gi = getattr(entry, "gpuInstanceId", NO_ID)
        ci = getattr(entry, "computeInstanceId", NO_ID)
        memory = getattr(entry, "usedGpuMemory", None)
        out.append(
            RunningProcess(
                pid=int(entry.pid),
                used_memory_bytes=None if memory is None or memory == UNKNOWN_MEMORY else float(memory),
                gpu_instance_id=None if gi in (None, NO_ID) or not mig_mode else int(gi),
                compute_instance_id=None if ci in (None, NO_ID) or not mig_mode else int(ci),
            )
        )
    return out


def mig_device_uuids(nvml: ModuleType, handle: object) -> dict[tuple[int, int], str]:
    """``{(GPU instance id, compute instance id): MIG UUID}`` of a GPU in MIG mode; empty otherwise.

    Empty slots (``nvmlDeviceGetMigDeviceHandleByIndex`` raising ``NOT_FOUND``) are skipped; a GPU that
    cannot tell its MIG mode counts as not in MIG mode.
    """
    try:
        current, _ = nvml.nvmlDeviceGetMigMode(handle)
    except nvml.NVMLError:
        return {}
    if not current:
        return {}
    out: dict[tuple[int, int], str] = {}
    for slot in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            dev = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, slot)
            key = (int(nvml.nvmlDeviceGetGpuInstanceId(dev)), int(nvml.nvmlDeviceGetComputeInstanceId(dev)))
            out[key] = text(nvml.nvmlDeviceGetUUID(dev))
        except nvml.NVMLError:
            continue
    return out


def gpu_uuids_by_pid(nvml: ModuleType) -> dict[int, set[str]]:
    """``{PID: UUIDs}`` of every compute process on every GPU (the MIG device's UUID on a MIG GPU).

    ``nvml``: an initialised ``pynvml``-like module (:func:`axonize.nvml.load`). A GPU whose reads
    fail is skipped with a debug log (the exporter reports GPU faults).
    """
    out: dict[int, set[str]] = {}
    for index in range(nvml.nvmlDeviceGetCount()):
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            uuid = text(nvml.nvmlDeviceGetUUID(handle))
            mig = mig_device_uuids(nvml, handle)
            for proc in running_processes(nvml, handle, mig_mode=bool(mig)):
                where = mig.get((proc.gpu_instance_id, proc.compute_instance_id), uuid) if mig else uuid
                out.setdefault(proc.pid, set()).add(where)
        except nvml.NVMLError as exc:
            log.debug("GPU %d: process list skipped: %s", index, exc)
    return out
