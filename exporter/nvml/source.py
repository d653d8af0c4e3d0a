"""The NVML collection source: per-GPU isolation, deadlines and re-initialisation.

Each cycle reads every GPU in its own worker thread and waits at most
``gpu_timeout`` seconds. A GPU whose read has not finished is reported with
``fault="timeout"`` and is not read again until that call returns (a hung
NVML call cannot be cancelled; piling up threads behind it would be worse).
A GPU that NVML reports lost or needing a reset (XID 79 and friends) is
reported with that fault; the others are unaffected. After an
``UNINITIALIZED``, ``DRIVER_NOT_LOADED`` or ``LIB_RM_VERSION_MISMATCH``
error, or a lost GPU, NVML is shut down and initialised again at the next
cycle (at most every ``reinit_interval`` seconds), so a driver reload or a
GPU reset does not need an exporter restart. Scrapes never wait on any of
this: they serve the last rendering (see :mod:`..collection`).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from types import ModuleType

from axonize.nvml import Caller, GpuFault, NvmlUnavailable, kind_of, load, text

from ..snapshot import CollectionError, Gpu, Link, NvLink, Snapshot
from .device import read_gpu, read_pcie_throughput
from .gpm import RATES, GpmSampler
from .mig import read_mig_devices
from .processes import read_processes
from .topology import bus_key, read_links, read_nvlinks
from .xid import XidWatcher

log = logging.getLogger(__name__)
REINIT_KINDS = frozenset({"uninitialized", "driver_not_loaded", "driver_version_mismatch", "gpu_lost", "reset_required", "gpu_not_found"})


class NvmlSource:
    """``collect() -> Snapshot`` from NVML.

    ``nvml`` is the ``pynvml`` module (tests pass a fake built from real
    captures). ``enrich`` runs on each snapshot before it is returned (the
    runtime context: containers and NUMA placement from /proc and /sys).
    Raises :class:`NvmlUnavailable` when NVML cannot be initialised at start.
    """

    name = "nvml"

    def __init__(
        self,
        nvml: ModuleType | None = None,
        hostname: str = "",
        gpu_timeout: float = 2.0,
        reinit_interval: float = 10.0,
        enrich: Callable[[Snapshot], None] | None = None,
        xid_events: bool = True,
    ):
        self.nvml = load(nvml)
        self.hostname = hostname or socket.gethostname()
        self.gpu_timeout = gpu_timeout
        self.reinit_interval = reinit_interval
        self.enrich = enrich
        self.xid_events = xid_events
        self.cpu_count = os.cpu_count() or 64
        self.gpm = GpmSampler()
        self._max_clocks: dict[str, dict[str, float]] = {}  # per uuid, read once (see read_gpu)
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="axonize-nvml")
        self._inflight: dict[int, Future] = {}
        self._known: dict[int, Gpu] = {}  # last good identity per index, for the labels of a faulted GPU
        self._util_seen: dict[str, int] = {}
        self._reinit_due = False
        self._last_init = 0.0
        self._init_errors: list[CollectionError] = []
        self.xid: XidWatcher | None = None
        try:
            self._open()
        except self.nvml.NVMLError as exc:
            raise NvmlUnavailable(f"NVML initialised but the GPUs cannot be listed: {exc}") from exc

    # -- NVML session -------------------------------------------------------------------
    def _open(self) -> None:
        nvml = self.nvml
        call = Caller(nvml)
        self._last_init = time.monotonic()
        try:
            self.driver_version = text(call(nvml.nvmlSystemGetDriverVersion) or "")
            cuda = call(nvml.nvmlSystemGetCudaDriverVersion_v2)
        except GpuFault as exc:
            raise nvml.NVMLError(nvml.NVML_ERROR_UNINITIALIZED) from exc
        self.cuda_version = f"{cuda // 1000}.{cuda % 1000 // 10}" if cuda else ""
        count = nvml.nvmlDeviceGetCount()
        self.handles: dict[int, object] = {}
        for index in range(count):
            try:
                self.handles[index] = nvml.nvmlDeviceGetHandleByIndex(index)
            except nvml.NVMLError as exc:  # one GPU that cannot be opened does not hide the others
                self._init_errors.append(CollectionError("nvml", f"GPU {index}", kind_of(exc), f"nvmlDeviceGetHandleByIndex: {exc}"))
        self.bus_index: dict[str, int] = {}
        for index, handle in self.handles.items():
            try:
                pci = call(nvml.nvmlDeviceGetPciInfo, handle)
            except GpuFault:
                continue  # reported by the cycle that reads it
            if pci is not None:
                self.bus_index[bus_key(text(pci.busId))] = index
        # the GPU-to-GPU matrix is fixed by the hardware: read it once per NVML session
        nvlinks: dict[int, list[NvLink]] = {}
        usable: dict[int, object] = {}
        for index, handle in self.handles.items():
            try:
                nvlinks[index] = read_nvlinks(Caller(nvml), handle, self.bus_index)
                usable[index] = handle
            except GpuFault as exc:
                self._init_errors.append(CollectionError("nvml", f"GPU {index} topology", exc.kind, str(exc)))
        try:
            self.links: list[Link] = read_links(Caller(nvml), usable, nvlinks)
        except GpuFault as exc:
            self.links = []
            self._init_errors.append(CollectionError("nvml", "topology", exc.kind, str(exc)))
        previous = self.xid
        self.xid = None
        if self.xid_events and self.handles:
            try:
                self.xid = XidWatcher(nvml, list(self.handles.values()))
            except nvml.NVMLError as exc:
                self._init_errors.append(CollectionError("nvml", "XID events", kind_of(exc), f"nvmlEventSetCreate: {exc}"))
        if previous is not None:
            previous.stop()
            if self.xid is not None:
                self.xid.carry_over(previous)

    def _reinit(self) -> CollectionError | None:
        log.warning("re-initialising NVML")
        self._last_init = time.monotonic()
        try:
            self.nvml.nvmlShutdown()
        except self.nvml.NVMLError:
            pass
        try:
            self.nvml.nvmlInit()
            self._inflight.clear()
            self.gpm.reset()
            self._max_clocks.clear()
            self._open()
        except self.nvml.NVMLError as exc:
            return CollectionError("nvml", "nvmlInit", kind_of(exc), f"re-initialising NVML failed: {exc}")
        self._reinit_due = False
        return None

    def close(self) -> None:
        if self.xid is not None:
            self.xid.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        try:
            self.nvml.nvmlShutdown()
        except self.nvml.NVMLError:
            pass

    # -- one cycle ----------------------------------------------------------------------
    def collect(self) -> Snapshot:
        snap = Snapshot(hostname=self.hostname, backend="nvml")
        snap.errors.extend(self._init_errors)
        self._init_errors = []
        if self._reinit_due and time.monotonic() - self._last_init >= self.reinit_interval:
            failed = self._reinit()
            if failed is not None:
                snap.errors.append(failed)
                return snap
        snap.driver_version, snap.cuda_version = self.driver_version, self.cuda_version

        started: dict[int, Future] = {}
        for index, handle in self.handles.items():
            pending = self._inflight.get(index)
            if pending is not None and not pending.done():
                continue  # still stuck in last cycle's call
            started[index] = self._inflight[index] = self._pool.submit(self._read_one, index, handle)
        wait(list(started.values()), timeout=self.gpu_timeout)

        xid_counts, xid_last = self.xid.counts() if self.xid is not None else ({}, {})
        for index in self.handles:
            future = self._inflight.get(index)
            if future is None or not future.done():
                snap.gpus.append(self._faulted(index, "timeout"))
                snap.errors.append(CollectionError("nvml", f"GPU {index}", "timeout", f"no answer from NVML within {self.gpu_timeout:g}s"))
                continue
            if index not in started:  # finished late: its result is stale, read it again next cycle
                del self._inflight[index]
                snap.gpus.append(self._faulted(index, "timeout"))
                snap.errors.append(
                    CollectionError("nvml", f"GPU {index}", "timeout", "the previous read finished late; reading again next cycle")
                )
                continue
            try:
                gpu, errors = future.result()
            except GpuFault as fault:
                gpu, errors = self._faulted(index, fault.kind), []
                snap.errors.append(CollectionError("nvml", f"GPU {index}", fault.kind, str(fault)))
                if fault.kind in REINIT_KINDS:
                    self._reinit_due = True
            except Exception as exc:  # a bug in reading one GPU must not take the others down
                log.exception("reading GPU %d failed", index)
                gpu, errors = self._faulted(index, "internal"), []
                snap.errors.append(CollectionError("nvml", f"GPU {index}", "internal", repr(exc)))
            else:
                self._known[index] = gpu
            for kind, fn, message in errors:
                snap.errors.append(CollectionError("nvml", f"GPU {index} {fn}", kind, message))
            for (uuid, code), n in xid_counts.items():
                if uuid == gpu.uuid:
                    gpu.xid_errors[code] = n
                    gpu.xid_last_seen_seconds[code] = xid_last[(uuid, code)]
            snap.gpus.append(gpu)
        snap.links = list(self.links)
        if self.xid is not None:
            for kind, n in self.xid.errors.items():
                if n:
                    snap.errors.append(CollectionError("nvml", "XID event thread", kind, f"{n} event-set wait errors"))
            self.xid.errors.clear()
        present = {g.uuid for g in snap.gpus}
        self.gpm.forget(present)
        for uuid in [u for u in self._max_clocks if u not in present]:
            del self._max_clocks[uuid]
        if self.enrich is not None:
            self.enrich(snap)
        return snap

    def _faulted(self, index: int, kind: str) -> Gpu:
        known = self._known.get(index)
        gpu = Gpu(index=index, uuid=known.uuid if known else f"unknown-gpu-{index}", fault=kind)
        if known is not None:
            gpu.pci_bus_id, gpu.name, gpu.minor_number = known.pci_bus_id, known.name, known.minor_number
            gpu.numa_node, gpu.cpu_affinity = known.numa_node, known.cpu_affinity
        return gpu

    def _read_one(self, index: int, handle) -> tuple[Gpu, list[tuple[str, str, str]]]:
        call = Caller(self.nvml)
        gpu = read_gpu(call, handle, index, self.cpu_count, self._max_clocks)
        migs = read_mig_devices(call, handle) if gpu.mig_mode else []
        gpu.mig_devices = [dev for dev, _ in migs]
        gpu.processes, self._util_seen[gpu.uuid] = read_processes(call, handle, bool(gpu.mig_mode), self._util_seen.get(gpu.uuid, 0))
        gpu.nvlinks = read_nvlinks(call, handle, self.bus_index)
        if self.gpm.supported(call, gpu.uuid, handle):
            if gpu.mig_mode:
                seen: dict[int, dict[str, float]] = {}
                for dev in gpu.mig_devices:
                    if dev.gpu_instance_id not in seen:
                        seen[dev.gpu_instance_id] = self.gpm.activity(call, gpu.uuid, handle, dev.gpu_instance_id)
                    dev.activity = dict(seen[dev.gpu_instance_id])
            else:
                gpu.activity = self.gpm.activity(call, gpu.uuid, handle)
                for field in RATES:
                    if field in gpu.activity:
                        setattr(gpu, field, gpu.activity.pop(field))
        read_pcie_throughput(call, handle, gpu)  # only what GPM did not give
        return gpu, call.errors
