"""Runtime context of GPU processes: their container, pod or service, and their NUMA placement.

:class:`RuntimeContext` is the live-only enrichment step between a backend and the exposition::

    snapshot = nvml_backend.collect()
    runtime_context.enrich(snapshot)      # fills Process.container, Process.cpu_numa_nodes, Snapshot.numa_nodes

A replay backend must not call it: a capture's PIDs are another machine's. :func:`aggregate_by_container`
folds a GPU's processes into per-container rows, the default series (PIDs churn; per-PID series are
opt-in)::

    axonize_gpu_container_memory_used_bytes{gpu="0",runtime="containerd",namespace="inference",pod="vllm-0",container="vllm",...} 7.5e+10

PID visibility. NVML reports PIDs of the host's PID namespace. The exporter can read them when its
``--path.procfs`` is the host's procfs: run on the host, in a container with the host's PID namespace
(``hostPID: true``, ``docker run --pid=host``), or with the host's /proc mounted and
``--path.procfs`` pointing at it. It checks that by looking for ``kthreadd`` at PID 2, which kernel
threads have only in the host's namespace. Without it, a GPU PID could name an unrelated process of the
exporter's own namespace, so no process is looked up: containers and placements stay None, a warning
is logged once, :attr:`RuntimeContext.sees_host_pids` is False, and no collection error is counted
(this is a deployment choice, not a fault that recurs each cycle).

With host PIDs, a GPU process whose ``/proc/<pid>`` is gone exited between the GPU's process list and
this read: a race, not a fault of the host. Such processes are counted once per cycle in one
``CollectionError(source="procfs", kind="unavailable")`` listing up to 10 PIDs; an unreadable file
(permissions) in one of kind ``"io"``. A malformed ``cgroup`` or ``status`` file is one ``"parse"``
error per process naming the file and line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from axonize.host import host_pid_namespace

from .containers import CgroupFormatError, RuntimeState, identity_from_cgroup
from .numa import (
    PLACEMENTS,
    HostNuma,
    NumaTopology,
    ProcFormatError,
    numa_placement,
    parse_cpulist,
    pci_device_dir,
    pci_numa,
    read_cpus_allowed,
)
from .snapshot import CollectionError, Container, ContainerUsage, Gpu, Process, Snapshot

log = logging.getLogger(__name__)

_LISTED_PIDS = 10


class _Vanished(Exception):
    """The process's /proc entry is gone."""


class RuntimeContext:
    """Fills the runtime context of a live snapshot from procfs, sysfs and the container runtimes' state.

    ``procfs`` / ``sysfs`` / ``rootfs`` are the ``--path.procfs`` / ``--path.sysfs`` /
    ``--path.rootfs`` flags. ``host_pids``: None detects (see the module docstring) each cycle; True or
    False forces it (True for a test reading its own /proc). Keeps state between cycles (the previous
    CPU times, the container-name cache), so make one per collection loop and call :meth:`enrich` from
    that loop only.
    """

    def __init__(
        self,
        procfs: str = "/proc",
        sysfs: str = "/sys",
        rootfs: str = "/",
        *,
        host_pids: bool | None = None,
        max_cached_containers: int = 4096,
    ):
        self.procfs = procfs
        self.sysfs = sysfs
        self.rootfs = rootfs
        self.host_pids = host_pids
        self.state = RuntimeState(rootfs, max_cached_containers)
        self.numa = HostNuma(sysfs, procfs)
        #: Whether the last cycle could look up GPU PIDs (None before the first cycle).
        self.sees_host_pids: bool | None = None
        self._warned = False

    def enrich(self, snapshot: Snapshot) -> None:
        """Fill ``snapshot.numa_nodes`` and, per GPU process, ``container`` and ``cpu_numa_nodes``.

        Also fills ``Gpu.numa_node`` / ``Gpu.cpu_affinity`` from ``bus/pci/devices/<bus id>/`` where the
        backend left them None; on a host with a single CPU node a GPU without NUMA information
        (``numa_node`` -1) is on that node. Problems are appended to ``snapshot.errors``; this never
        raises for one process, and one bad process never keeps the others from being filled.
        """
        errors = snapshot.errors
        try:
            topology, snapshot.numa_nodes = self.numa.read(errors)
        except Exception as exc:  # a bug in one step must not cost the snapshot its GPUs or the other steps
            self._internal(errors, self.sysfs, "NUMA nodes", exc)
            topology, snapshot.numa_nodes = NumaTopology({}), []
        for gpu in snapshot.gpus:
            try:
                self._place_gpu(gpu, topology, errors)
            except Exception as exc:
                self._internal(errors, f"GPU {gpu.index} ({gpu.uuid})", "GPU placement", exc)
        try:
            self._enrich_processes(snapshot, topology)
        except Exception as exc:
            self._internal(errors, self.procfs, "GPU processes", exc)

    @staticmethod
    def _internal(errors: list[CollectionError], location: str, step: str, exc: Exception) -> None:
        log.debug("runtime context: %s failed", step, exc_info=True)  # the loop logs each error kind once
        errors.append(CollectionError("runtime_context", location, "internal", f"{step}: {type(exc).__name__}: {exc}"))

    def _enrich_processes(self, snapshot: Snapshot, topology: NumaTopology) -> None:
        errors = snapshot.errors
        self.sees_host_pids = self.host_pids if self.host_pids is not None else self._detect_host_pids()
        if not self.sees_host_pids:
            if not self._warned and any(gpu.processes for gpu in snapshot.gpus):
                log.warning(
                    "GPU processes are not looked up: %s is not the host's PID namespace (no kthreadd at PID 2). "
                    "Run with hostPID: true / --pid=host, or mount the host's /proc and pass --path.procfs, "
                    "to label processes with their container and NUMA placement",
                    self.procfs,
                )
                self._warned = True
            return
        self._warned = False
        gone: list[int] = []
        unreadable: list[tuple[int, str]] = []
        done: dict[int, tuple[Container | None, tuple[int, ...] | None]] = {}
        for gpu in snapshot.gpus:
            for process in gpu.processes:
                if process.pid not in done:
                    done[process.pid] = self._describe(process.pid, topology, errors, gone, unreadable)
                process.container, process.cpu_numa_nodes = done[process.pid]
        self.state.end_cycle()
        if gone:
            errors.append(
                CollectionError(
                    "procfs",
                    self.procfs,
                    "unavailable",
                    f"{len(gone)} of {len(done)} GPU processes not found under {self.procfs} (pids {_pid_list(gone)}): "
                    "they exited between the GPU's process list and this read",
                )
            )
        if unreadable:
            errors.append(
                CollectionError(
                    "procfs",
                    self.procfs,
                    "io",
                    f"{len(unreadable)} of {len(done)} GPU processes unreadable under {self.procfs} "
                    f"(pids {_pid_list(pid for pid, _ in unreadable)}): {unreadable[0][1]}",
                )
            )

    def _describe(
        self, pid: int, topology: NumaTopology, errors: list[CollectionError], gone: list[int], unreadable: list[tuple[int, str]]
    ) -> tuple[Container | None, tuple[int, ...] | None]:
        container: Container | None = None
        nodes: tuple[int, ...] | None = None
        try:
            if pid <= 0:
                raise _Vanished()
            container = self._container(pid, errors)
            nodes = self._nodes(pid, topology, errors)
        except _Vanished:
            gone.append(pid)
            return None, None
        except OSError as exc:
            unreadable.append((pid, f"{exc.filename or self.procfs}: {exc.strerror or exc}"))
        except Exception as exc:  # a bug must not cost the other processes their context
            log.exception("runtime context of pid %d", pid)
            errors.append(CollectionError("procfs", f"{self.procfs}/{pid}", "internal", f"{type(exc).__name__}: {exc}"))
        return container, nodes

    def _container(self, pid: int, errors: list[CollectionError]) -> Container | None:
        path = Path(self.procfs) / str(pid) / "cgroup"
        text = _read_process_file(path)
        try:
            identity = identity_from_cgroup(text)
        except CgroupFormatError as exc:
            if exc.line_number == 0:
                raise _Vanished() from None  # an empty cgroup file: the process is exiting
            errors.append(CollectionError("procfs", f"{path}:{exc.line_number}", "parse", f"{exc.line[:120]!r} {exc.reason}"))
            return None
        return self.state.describe(identity, errors)

    def _nodes(self, pid: int, topology: NumaTopology, errors: list[CollectionError]) -> tuple[int, ...] | None:
        path = Path(self.procfs) / str(pid) / "status"
        try:
            cpus = read_cpus_allowed(self.procfs, pid)
        except (FileNotFoundError, ProcessLookupError):
            raise _Vanished() from None
        except ProcFormatError as exc:
            location = f"{path}:{exc.line_number}" if exc.line_number else str(path)
            errors.append(CollectionError("procfs", location, "parse", exc.reason))
            return None
        return topology.nodes_of(cpus) or None

    def _detect_host_pids(self) -> bool:
        return host_pid_namespace(self.procfs)

    def _place_gpu(self, gpu: Gpu, topology: NumaTopology, errors: list[CollectionError]) -> None:
        if (gpu.numa_node is None or gpu.cpu_affinity is None) and gpu.pci_bus_id:
            node, cpulist = pci_numa(self.sysfs, gpu.pci_bus_id)
            if gpu.numa_node is None:
                gpu.numa_node = node
            if gpu.cpu_affinity is None and cpulist is not None:
                try:
                    parse_cpulist(cpulist)
                except ValueError as exc:  # a bad value is this GPU's counted error, never an exception later
                    errors.append(
                        CollectionError(
                            "sysfs", f"{pci_device_dir(self.sysfs, gpu.pci_bus_id)}/local_cpulist", "value", f"GPU {gpu.index}: {exc}"
                        )
                    )
                else:
                    gpu.cpu_affinity = cpulist
        if gpu.numa_node is None and len(topology.cpu_nodes) == 1:
            gpu.numa_node = topology.cpu_nodes[0]


def _read_process_file(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        raise _Vanished() from None


def _pid_list(pids: Iterable[int]) -> str:
    pids = sorted(pids)
    shown = ", ".join(str(pid) for pid in pids[:_LISTED_PIDS])
    return shown + (f" and {len(pids) - _LISTED_PIDS} more" if len(pids) > _LISTED_PIDS else "")


def summarize(snapshot: Snapshot) -> None:
    """Fill the fields the exposition reads but no backend sets, once per cycle, for every backend.

    ``Gpu.cpu_affinity_cpus`` counts the CPUs of ``Gpu.cpu_affinity`` (``"0-51,104-155"`` -> 104);
    a malformed cpulist is one ``value`` error for that GPU (source ``"topology"``), and the GPU's
    affinity is withdrawn rather than exported half-understood. ``Process.name`` becomes the
    executable's name (:func:`process_name`). ``Gpu.containers`` is :func:`aggregate_by_container`. Never raises for one GPU: a bug there is an ``internal`` error
    and the other GPUs are still summarized.
    """
    for gpu in snapshot.gpus:
        try:
            if gpu.cpu_affinity is not None:
                try:
                    gpu.cpu_affinity_cpus = len(parse_cpulist(gpu.cpu_affinity))
                except ValueError as exc:
                    snapshot.errors.append(
                        CollectionError("topology", f"GPU {gpu.index} ({gpu.uuid})", "value", f"CPU affinity: {exc}; not exported")
                    )
                    gpu.cpu_affinity = gpu.cpu_affinity_cpus = None
            for process in gpu.processes:
                process.name = process_name(process.name)
            gpu.containers = aggregate_by_container(gpu)
        except Exception as exc:  # a bug must not cost the other GPUs their series
            log.exception("summarizing GPU %d", gpu.index)
            snapshot.errors.append(CollectionError("exporter", f"GPU {gpu.index} ({gpu.uuid})", "internal", f"{type(exc).__name__}: {exc}"))


def process_name(name: str) -> str:
    """The executable's name, as ``comm`` and ``ps`` show it: ``"/usr/bin/python3"`` -> ``"python3"``.

    NVML (``nvmlSystemGetProcessName``) and nvidia-smi give the executable's full path, which can
    carry a user's home directory or a model path; the per-PID series promise a name only.
    """
    return name.rstrip("/").rsplit("/", 1)[-1] if "/" in name else name


def aggregate_by_container(gpu: Gpu) -> list[ContainerUsage]:
    """Group ``gpu.processes`` by (container, gpu_instance_id, compute_instance_id); see :class:`ContainerUsage`.

    ``placement`` is the worst (local < unpinned < remote) :func:`~.numa.numa_placement` of the
    group's processes against ``gpu.numa_node``. Sorted: known containers by (runtime, namespace,
    pod, name, id, systemd unit), the unknown group last, then by MIG instance ids (whole-GPU
    processes first).
    """
    groups: dict[tuple[Container | None, int | None, int | None], list[Process]] = {}
    for process in gpu.processes:
        groups.setdefault((process.container, process.gpu_instance_id, process.compute_instance_id), []).append(process)
    rows = [
        ContainerUsage(
            container=container,
            gpu_instance_id=gi,
            compute_instance_id=ci,
            processes=len(members),
            used_memory_bytes=_sum(p.used_memory_bytes for p in members),
            sm_utilization_ratio=_capped(_sum(p.sm_utilization_ratio for p in members)),
            memory_utilization_ratio=_capped(_sum(p.memory_utilization_ratio for p in members)),
            placement=_worst_placement(members, gpu.numa_node),
        )
        for (container, gi, ci), members in groups.items()
    ]
    return sorted(rows, key=_order)


def _worst_placement(members: list[Process], gpu_node: int | None) -> str | None:
    known = [x for x in (numa_placement(p.cpu_numa_nodes, gpu_node) for p in members) if x is not None]
    return max(known, key=PLACEMENTS.index) if known else None


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(sum(present)) if present else None


def _capped(value: float | None) -> float | None:
    return None if value is None else min(1.0, value)


def _order(row: ContainerUsage) -> tuple:
    c = row.container
    name = ("", "", "", "", "", "") if c is None else (c.runtime, c.namespace, c.pod_name, c.name, c.id, c.systemd_unit)
    return (
        c is None,
        name,
        -1 if row.gpu_instance_id is None else row.gpu_instance_id,
        -1 if row.compute_instance_id is None else row.compute_instance_id,
    )
