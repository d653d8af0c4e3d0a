"""NUMA placement: the host's NUMA nodes, and which nodes a GPU process may run on.

Host side (sysfs, under ``--path.sysfs``)::

    devices/system/node/node<N>/cpulist   "0-51,104-155"                      CPUs of node N
    devices/system/node/node<N>/meminfo   "Node 0 MemTotal:       527958164 kB"  (and MemFree)
    bus/pci/devices/<bus id>/numa_node    "1", or "-1" without NUMA information
    bus/pci/devices/<bus id>/local_cpulist

``meminfo`` lines are ``"Node %d <Field>: %8lu kB"`` (Linux ``drivers/base/node.c``,
``node_read_meminfo``; kB is 1024 bytes). CPU busy time comes from ``<procfs>/stat`` ``cpu<N>`` lines
(``man 5 proc``: user nice system idle iowait irq softirq steal guest guest_nice, in USER_HZ ticks).
psutil's ``cpu_times(percpu=True)`` reads the same file but returns a positional list that loses CPU
numbers when a CPU is offline, and is pointed at another procfs only through the process-global
``psutil.PROCFS_PATH``; so the file is read here, with psutil's definitions of busy and total time
(``psutil._cpu_busy_time``: total minus idle minus iowait; total excludes guest and guest_nice,
already counted in user and nice).

A machine without ``devices/system/node`` (a kernel without CONFIG_NUMA, some VMs) is one node 0 with
all online CPUs (``devices/system/cpu/online``, else ``os.cpu_count()``). Memory-only nodes (no CPUs:
CXL memory, Grace Hopper's GPU memory nodes) are nodes with ``cpus == 0``.

Process side (procfs, under ``--path.procfs``): ``Cpus_allowed_list:`` of ``/proc/<pid>/status``
(``man 5 proc``), the CPUs the scheduler may run the process's main thread on: its affinity
(``taskset``, ``numactl --cpunodebind``) intersected with its cpuset cgroup (the Kubernetes static CPU
manager, ``docker --cpuset-cpus``). The nodes of those CPUs are ``Process.cpu_numa_nodes``. Threads
can narrow their own affinity; the main thread's is what this reads.

Placement (:func:`numa_placement`), the GPU's CPU-side node against the process's nodes:

* ``local``: every allowed CPU is on the GPU's node. The good case: host-side buffers, the CPU
  threads feeding the GPU and their memory (first touch) stay on the node the PCIe root hangs off.
* ``unpinned``: allowed on the GPU's node and on others; the scheduler may move it across the
  interconnect at any time. Usual for processes nobody pinned.
* ``remote``: no allowed CPU on the GPU's node: every host<->device copy crosses the socket link.
  Almost always a mistake (a pinning meant for another GPU).

:func:`numa_mismatch` is the bare boolean: True for ``unpinned`` and ``remote`` (the process may run
outside the GPU's node), False for ``local``, None when unknown.

Replay mode has no /proc of the machine the capture came from: the GPU side there is ``topo -m``'s
affinity columns, and this module's process side is used only by live backends (see
:class:`axonize.exporter.runtime_context.RuntimeContext`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from axonize.cpulist import parse_cpulist

from .snapshot import CollectionError, NumaNode

PLACEMENT_LOCAL = "local"
PLACEMENT_UNPINNED = "unpinned"
PLACEMENT_REMOTE = "remote"
#: The values of :func:`numa_placement`, best first.
PLACEMENTS = (PLACEMENT_LOCAL, PLACEMENT_UNPINNED, PLACEMENT_REMOTE)

_NODE_DIR = re.compile(r"^node(\d+)$")
_MEMINFO = re.compile(r"^Node\s+(\d+)\s+([A-Za-z_()]+):\s+(\d+)(?:\s+kB)?\s*$")
_KIB = 1024


@dataclass(frozen=True)
class NumaTopology:
    """Which CPUs each NUMA node has: ``{node: frozenset(cpu numbers)}``.

    ``from_sysfs`` is False when sysfs had no ``devices/system/node`` and the machine was taken as
    one node 0 holding every online CPU.
    """

    cpus_by_node: dict[int, frozenset[int]]
    from_sysfs: bool = True
    _node_of_cpu: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_node_of_cpu", {cpu: node for node, cpus in self.cpus_by_node.items() for cpu in cpus})

    def nodes_of(self, cpus: Iterable[int]) -> tuple[int, ...]:
        """Sorted nodes holding any of ``cpus``; CPUs in no node (offline, not present) are ignored."""
        return tuple(sorted({self._node_of_cpu[cpu] for cpu in cpus if cpu in self._node_of_cpu}))

    @property
    def cpu_nodes(self) -> tuple[int, ...]:
        """Sorted nodes that have at least one CPU."""
        return tuple(sorted(node for node, cpus in self.cpus_by_node.items() if cpus))


def read_topology(sysfs: str = "/sys") -> tuple[NumaTopology, list[CollectionError]]:
    """The NUMA topology under ``sysfs``; problems come back as errors (source ``"sysfs"``), never raised.

    A node whose ``cpulist`` is unreadable or malformed is kept with no CPUs and one error naming the file.
    """
    errors: list[CollectionError] = []
    base = Path(sysfs) / "devices" / "system" / "node"
    cpus_by_node: dict[int, frozenset[int]] = {}
    try:
        entries = sorted(base.iterdir())
    except OSError:
        entries = []
    for entry in entries:
        match = _NODE_DIR.match(entry.name)
        if not match:
            continue
        node = int(match.group(1))
        cpulist = entry / "cpulist"
        try:
            cpus_by_node[node] = parse_cpulist(cpulist.read_text())
        except OSError as exc:
            errors.append(CollectionError("sysfs", str(cpulist), "io", f"cannot read the node's CPUs: {exc.strerror or exc}"))
            cpus_by_node[node] = frozenset()
        except ValueError as exc:
            errors.append(CollectionError("sysfs", f"{cpulist}:1", "parse", str(exc)))
            cpus_by_node[node] = frozenset()
    if cpus_by_node:
        return NumaTopology(cpus_by_node), errors
    return NumaTopology({0: _online_cpus(sysfs)}, from_sysfs=False), errors


def _online_cpus(sysfs: str) -> frozenset[int]:
    try:
        return parse_cpulist((Path(sysfs) / "devices" / "system" / "cpu" / "online").read_text())
    except (OSError, ValueError):
        return frozenset(range(os.cpu_count() or 1))


def read_node_memory(sysfs: str, node: int) -> tuple[float | None, float | None]:
    """(total, used) bytes of a node from ``devices/system/node/node<N>/meminfo``; used = MemTotal - MemFree.

    "Used" so counted includes the page cache and reclaimable slab (as ``numactl -H``'s "free" leaves
    them out of free). A field missing from the file is None. Raises OSError when the file cannot be
    read, ValueError naming the line when a ``Node N MemTotal/MemFree`` line is malformed.
    """
    path = Path(sysfs) / "devices" / "system" / "node" / f"node{node}" / "meminfo"
    fields: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        match = _MEMINFO.match(line)
        if match is None:
            if "MemTotal" in line or "MemFree" in line:
                raise ValueError(f"line {number}: {line.strip()!r} is not 'Node {node} <Field>: <n> kB'")
            continue
        if int(match.group(1)) != node:
            raise ValueError(f"line {number}: {line.strip()!r} is about node {match.group(1)}, not node {node}")
        fields[match.group(2)] = int(match.group(3))
    total = fields.get("MemTotal")
    free = fields.get("MemFree")
    total_bytes = float(total * _KIB) if total is not None else None
    used_bytes = float((total - free) * _KIB) if total is not None and free is not None else None
    return total_bytes, used_bytes


@dataclass(frozen=True)
class CpuTime:
    """Cumulative ticks of one CPU since boot: ``busy`` and ``total`` (psutil's definitions, module docstring)."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> dict[int, CpuTime]:
    """``{cpu number: CpuTime}`` from the text of ``/proc/stat`` (``cpu<N>`` lines; the ``cpu`` total line is skipped).

    Raises ValueError naming the line for a ``cpu<N>`` line with fewer than 4 numeric fields.
    """
    times: dict[int, CpuTime] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *values = line.split()
        if not name[3:].isdigit() or len(values) < 4 or not all(v.isdigit() for v in values):
            raise ValueError(f"line {number}: {line.strip()!r} is not 'cpu<N> user nice system idle ...' in ticks")
        ticks = [int(v) for v in values]
        total = sum(ticks[:8])  # user..steal; guest and guest_nice are inside user and nice
        idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
        times[int(name[3:])] = CpuTime(busy=total - idle, total=total)
    return times


def node_utilization(topology: NumaTopology, before: dict[int, CpuTime], after: dict[int, CpuTime]) -> dict[int, float]:
    """Busy share (0..1) of each node's CPUs between two :func:`parse_proc_stat` samples.

    Sum of busy ticks over sum of all ticks of the node's CPUs present in both samples (the mean of
    the CPUs' busy ratios, weighted by their ticks). A CPU whose counters went backwards (offlined and
    back) is left out; a node with no usable CPU or no elapsed ticks is absent.
    """
    ratios: dict[int, float] = {}
    for node, cpus in topology.cpus_by_node.items():
        busy = total = 0
        for cpu in cpus:
            old, new = before.get(cpu), after.get(cpu)
            if old is None or new is None or new.total < old.total or new.busy < old.busy:
                continue
            busy += new.busy - old.busy
            total += new.total - old.total
        if total > 0:
            ratios[node] = min(1.0, max(0.0, busy / total))
    return ratios


class HostNuma:
    """Reads :class:`NumaNode` readings each cycle, keeping the previous ``/proc/stat`` sample for CPU busy ratios.

    ``read()`` returns the topology and the nodes, sorted by node number, and appends problems to the
    given error list (source ``"sysfs"`` or ``"procfs"``). ``cpu_utilization_ratio`` is None on the
    first cycle (no previous sample). Not thread-safe: one instance per collection loop.
    """

    def __init__(self, sysfs: str = "/sys", procfs: str = "/proc"):
        self.sysfs = sysfs
        self.procfs = procfs
        self._previous: dict[int, CpuTime] | None = None

    def read(self, errors: list[CollectionError]) -> tuple[NumaTopology, list[NumaNode]]:
        topology, problems = read_topology(self.sysfs)
        errors.extend(problems)
        utilization = self._utilization(topology, errors)
        nodes = []
        for node, cpus in sorted(topology.cpus_by_node.items()):
            reading = NumaNode(node=node, cpus=len(cpus), cpu_utilization_ratio=utilization.get(node))
            if topology.from_sysfs:
                meminfo = Path(self.sysfs) / "devices" / "system" / "node" / f"node{node}" / "meminfo"
                try:
                    reading.memory_total_bytes, reading.memory_used_bytes = read_node_memory(self.sysfs, node)
                except OSError as exc:
                    errors.append(CollectionError("sysfs", str(meminfo), "io", f"cannot read the node's memory: {exc.strerror or exc}"))
                except ValueError as exc:
                    errors.append(CollectionError("sysfs", str(meminfo), "parse", str(exc)))
            nodes.append(reading)
        return topology, nodes

    def _utilization(self, topology: NumaTopology, errors: list[CollectionError]) -> dict[int, float]:
        path = Path(self.procfs) / "stat"
        try:
            current = parse_proc_stat(path.read_text())
        except OSError as exc:
            errors.append(CollectionError("procfs", str(path), "io", f"cannot read CPU times: {exc.strerror or exc}"))
            self._previous = None
            return {}
        except ValueError as exc:
            errors.append(CollectionError("procfs", str(path), "parse", str(exc)))
            self._previous = None
            return {}
        previous, self._previous = self._previous, current
        return node_utilization(topology, previous, current) if previous is not None else {}


class ProcFormatError(ValueError):
    """A procfs file not in the documented format: ``line_number`` (from 1; 0 for the whole file) and ``reason``."""

    def __init__(self, line_number: int, reason: str):
        super().__init__(f"line {line_number}: {reason}" if line_number else reason)
        self.line_number = line_number
        self.reason = reason


def read_cpus_allowed(procfs: str, pid: int) -> frozenset[int]:
    """CPUs a process may run on, from ``Cpus_allowed_list:`` of ``<procfs>/<pid>/status``.

    Raises FileNotFoundError / ProcessLookupError when the process is gone, other OSError when
    unreadable, :class:`ProcFormatError` when the line is missing (line 0) or malformed.
    """
    text = (Path(procfs) / str(pid) / "status").read_text(errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("Cpus_allowed_list:"):
            try:
                return parse_cpulist(line.partition(":")[2])
            except ValueError as exc:
                raise ProcFormatError(number, str(exc)) from None
    raise ProcFormatError(0, "no Cpus_allowed_list line (a kernel older than 2.6.26?)")


def pci_device_dir(sysfs: str, pci_bus_id: str) -> Path | None:
    """``<sysfs>/bus/pci/devices/<domain:bus:device.function>`` of a bus id as NVML, nvidia-smi or sysfs write it; None when it is no bus id."""
    domain, _, rest = pci_bus_id.strip().lower().partition(":")
    if not rest:
        return None
    return Path(sysfs) / "bus" / "pci" / "devices" / f"{domain[-4:].rjust(4, '0')}:{rest}"


def pci_numa(sysfs: str, pci_bus_id: str) -> tuple[int | None, str | None]:
    """(CPU-side NUMA node, local cpulist) of a PCI device from ``bus/pci/devices/<bus id>/``.

    ``pci_bus_id`` as NVML or nvidia-smi print it (``00000000:3B:00.0``) or as sysfs names it
    (``0000:3b:00.0``). The node is None when the file is missing, unreadable or ``-1`` (the firmware
    gave no NUMA information); the cpulist is None when missing, and returned as read (the caller
    validates it with :func:`parse_cpulist`). Never raises.
    """
    device = pci_device_dir(sysfs, pci_bus_id)
    if device is None:
        return None, None
    node: int | None = None
    cpulist: str | None = None
    try:
        value = int((device / "numa_node").read_text().strip())
        node = value if value >= 0 else None
    except (OSError, ValueError):
        pass
    try:
        cpulist = (device / "local_cpulist").read_text(errors="replace").strip() or None
    except OSError:
        pass
    return node, cpulist


def numa_placement(process_nodes: Iterable[int] | None, gpu_node: int | None) -> str | None:
    """``"local"``, ``"unpinned"`` or ``"remote"`` (definitions in the module docstring), or None when unknown.

    ``process_nodes`` is ``Process.cpu_numa_nodes``; ``gpu_node`` is ``Gpu.numa_node`` (the CPU-side
    node of its PCIe slot). Unknown: either is None, the process has no nodes, or ``gpu_node < 0``.
    """
    if process_nodes is None or gpu_node is None or gpu_node < 0:
        return None
    nodes = set(process_nodes)
    if not nodes:
        return None
    if gpu_node not in nodes:
        return PLACEMENT_REMOTE
    return PLACEMENT_LOCAL if nodes == {gpu_node} else PLACEMENT_UNPINNED


def numa_mismatch(process_nodes: Iterable[int] | None, gpu_node: int | None) -> bool | None:
    """True when the process may run on CPUs outside the GPU's node (``unpinned`` or ``remote``), False when ``local``, None when unknown."""
    placement = numa_placement(process_nodes, gpu_node)
    return None if placement is None else placement != PLACEMENT_LOCAL
