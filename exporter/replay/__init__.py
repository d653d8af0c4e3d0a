"""Replay backend: real ``nvidia-smi`` captures -> :class:`~axonize.exporter.snapshot.Snapshot`.

One host is described by one or more files, recognised by their content:

* ``nvidia-smi -q`` (text) or ``nvidia-smi -q -x`` (XML): the GPUs (exactly one of these);
* ``nvidia-smi topo -m``: GPU-to-GPU links, CPU affinity and NUMA nodes;
* ``nvidia-smi -L``: MIG profiles and MIG device UUIDs;
* an nvidia_gpu_exporter capture bundle (``# nvidia_gpu_exporter GPU capture``),
  from which the ``load`` (else ``idle``) ``-q`` section, ``topo -m`` and ``-L`` are taken;
* apart from those (``kernel_log``, ``--replay.kernel-log``): the output of ``dmesg`` or
  ``journalctl -k``, whose ``NVRM: Xid`` lines give the XID counters (:mod:`.xid_counts`).

A GPU that nvidia-smi could not open (``Unable to determine the device handle for GPU
0000:18:00.0: GPU is lost ...`` in a ``-q`` text report, :mod:`.lost_gpu`) is a GPU with ``fault``
set (``axonize_gpu_up 0``, as the NVML backend shows one) and a counted error of that kind. GPU
indexes are then the order of all the report's PCI bus ids, lost ones included (nvidia-smi's
order); the lost GPU's ``uuid`` is the one last seen on its bus by this source, else
``unknown-gpu-<index>``.

The files are looked at again on every collection, so a job that rewrites them
(``nvidia-smi -q -x > gpus.xml`` from cron) is followed, the way
node_exporter's textfile collector follows its directory; a file whose version
(inode, size, modification time) has not changed since the last cycle is not read
again: what was parsed from it serves (:mod:`.capture_file`), and the GPUs of the
snapshot are built anew from it each cycle. Each read is bounded
in size and time (:mod:`.bounded_read`: a FIFO, a hung mount or ``/dev/zero``
fails that cycle with an ``io`` error); a file rewritten while it is read, a
GPU section cut short, duplicate GPU UUIDs and a report without GPUs are
counted errors (``mismatch`` / ``parse``); a byte that is not UTF-8 is one
``value`` error and the rest of the capture is used.

Nothing here raises during collection: a file that cannot be read, a GPU
section that is broken, or a topology that does not fit the GPUs becomes a
:class:`~axonize.exporter.snapshot.CollectionError` naming the file and line,
and everything else is still exported.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..snapshot import CollectionError, Gpu, Snapshot
from . import lost_gpu, query_text, query_xml, topology
from .bounded_read import BoundedReader, ReadFailure
from .capture_file import CaptureFiles, Report, classify
from .errors import CaptureError
from .gpu_fields import GpuReader
from .pci_bus import device_key
from .tree import Node
from .xid_counts import XidCounts

__all__ = ["ReplaySource", "CaptureError", "classify"]


@dataclass
class _Parts:
    report: Report | None = None
    topo: tuple[topology.Topology, str] | None = None
    listing: tuple[dict, str] | None = None


#: GPUs read from one report, by the line of their section: (the pickled Gpu or None, the errors met).
#: Kept as bytes, which nothing can change: each cycle unpickles its own Gpus (8x H100: 0.10 ms, deepcopy 0.43 ms).
_KeptGpus = dict[int, tuple[bytes, tuple[CollectionError, ...]]]


class ReplaySource:
    """Collects a :class:`Snapshot` from capture files.

    ``paths``: one host's files (see the module docstring). ``hostname``: the
    value of the ``hostname`` label (captures do not carry it). ``reader``
    bounds each file's size and read time (:class:`~.bounded_read.BoundedReader`).
    ``kernel_log``: a ``dmesg`` / ``journalctl -k`` file for the XID counters, looked
    at every cycle like the captures; ``clock`` stamps their last-seen times (Unix seconds).
    :attr:`files` (:class:`~.capture_file.CaptureFiles`) keeps what was parsed from each file
    while the file is unchanged.
    """

    name = "replay"

    def __init__(
        self,
        paths: Sequence[str],
        hostname: str = "",
        reader: BoundedReader | None = None,
        kernel_log: str = "",
        clock: Callable[[], float] = time.time,
    ):
        if not paths:
            raise ValueError("replay needs at least one capture file")
        self.paths = list(paths)
        self.hostname = hostname
        self.reader = reader or BoundedReader()
        self.files = CaptureFiles(self.reader, self.name)
        self.identities = lost_gpu.Identities()
        # the last report, and the GPUs read from it from its second cycle on
        self._gpus: tuple[Report | None, _KeptGpus] = (None, {})
        self.xids = XidCounts(kernel_log, clock, self.name) if kernel_log else None

    def collect(self) -> Snapshot:
        snap = Snapshot(hostname=self.hostname, backend=self.name)
        parts = _Parts()
        for path in self.paths:
            try:
                self._load(path, parts, snap.errors)
            except CaptureError as exc:
                snap.errors.append(CollectionError(self.name, exc.path + (f":{exc.where}" if exc.where else ""), "parse", exc.message))
            except ReadFailure as exc:
                snap.errors.append(CollectionError(self.name, path, exc.kind, exc.message))
        if parts.report is not None:
            self._read_report(parts.report, snap)
        elif not any(e.kind in ("parse", "io") for e in snap.errors):
            snap.errors.append(
                CollectionError(self.name, ", ".join(self.paths), "parse", "no 'nvidia-smi -q' or '-q -x' report among the files")
            )
        if parts.topo is not None and snap.gpus:
            self._apply_topology(parts.topo, snap)
        if parts.listing is not None and snap.gpus:
            self._apply_listing(parts.listing, snap)
        self.identities.remember(snap.gpus)
        if self.xids is not None:
            self.xids.apply(snap, self.reader)
        return snap

    # -- loading -------------------------------------------------------------------
    def _load(self, path: str, parts: _Parts, errors: list[CollectionError]) -> None:
        parsed = self.files.load(path)
        errors.extend(parsed.errors)
        for part, value in parsed.pieces:
            if part == "report" and parts.report is not None:
                raise CaptureError(path, None, f"a second GPU report for one host (the first is {parts.report.path})")
            if isinstance(value, CaptureError):
                raise value
            if part == "report":
                parts.report = value  # type: ignore[assignment]
            elif part == "topology":
                parts.topo = (value, path)  # type: ignore[assignment]
            elif part == "list":
                parts.listing = (value, path)  # type: ignore[assignment]

    # -- merging -------------------------------------------------------------------
    def _read_report(self, report: Report, snap: Snapshot) -> None:
        dialect, root, path = report.dialect, report.root, report.path
        if dialect == "text":
            sections, bus_of = query_text.gpu_nodes(root), query_text.gpu_bus_id
            top = {k: root.child(k) for k in ("Driver Version", "CUDA Version", "Attached GPUs")}
        else:
            sections, bus_of = query_xml.gpu_nodes(root), query_xml.gpu_bus_id
            top = {
                k: root.child(x)
                for k, x in (("Driver Version", "driver_version"), ("CUDA Version", "cuda_version"), ("Attached GPUs", "attached_gpus"))
            }
        snap.driver_version = top["Driver Version"].value if top["Driver Version"] else ""
        snap.cuda_version = top["CUDA Version"].value if top["CUDA Version"] else ""
        for line, message in report.lost_errors:
            snap.errors.append(CollectionError(self.name, f"{path}:{line}", "parse", message))
        lost = self._lost_of(report.lost, [bus_of(node) for node in sections], path, snap)
        attached = top["Attached GPUs"]
        if attached is not None and attached.value.strip().isdigit() and int(attached.value) != len(sections) + len(lost):
            also = f" and {len(lost)} lost GPU line{'s' if len(lost) != 1 else ''}" if lost else ""
            snap.errors.append(
                CollectionError(
                    self.name,
                    f"{path}:{attached.line}",
                    "mismatch",
                    f"report says {attached.value} attached GPUs but holds {len(sections)} GPU sections{also} (truncated or filtered capture)",
                )
            )
        if not sections and not lost:
            snap.errors.append(CollectionError(self.name, path, "parse", "the report holds no GPU section: nothing to export"))
        # with lost GPUs, an index is the place of the bus id among all of them (nvidia-smi's PCI order)
        order = sorted([device_key(bus_of(node)) or "" for node in sections] + [device_key(x.bus_id) or "" for x in lost])
        # a report's first cycle reads its GPUs and keeps nothing (a capture rewritten every cycle pays no
        # copy); its second reads and keeps them, and every cycle from then on unpickles its own copies
        kept = self._gpus[1] if self._gpus[0] is report else None
        if kept is None:
            self._gpus = (report, {})
        seen: dict[str, int] = {}
        for position, node in enumerate(sections):
            index = order.index(device_key(bus_of(node)) or "") if lost else position
            if node.child("Processes" if dialect == "text" else "processes") is None:
                # every driver prints Processes in each GPU section (N/A or None when empty): a section without it was cut short
                snap.errors.append(
                    CollectionError(
                        self.name,
                        f"{path}:{node.line}",
                        "mismatch",
                        f"GPU {index} section has no Processes section: the capture is cut short (a torn write?); its readings may be incomplete",
                    )
                )
            gpu, errors = self._gpu(report, node, index, bus_of(node), kept)
            snap.errors.extend(errors)
            if gpu is not None and gpu.uuid in seen:
                snap.errors.append(
                    CollectionError(
                        self.name,
                        f"{path}:{node.line}",
                        "mismatch",
                        f"GPU {index} has the UUID {gpu.uuid} of GPU {seen[gpu.uuid]}; GPU skipped",
                    )
                )
            elif gpu is not None:
                seen[gpu.uuid] = index
                snap.gpus.append(gpu)
        for entry in lost:
            index = order.index(device_key(entry.bus_id) or "")
            gpu = self.identities.faulted(index, entry)
            if gpu.uuid in seen:  # its last-known UUID is read healthy elsewhere now: do not repeat it
                gpu.uuid = f"unknown-gpu-{index}"
            snap.gpus.append(gpu)
            snap.errors.append(
                CollectionError(
                    self.name,
                    f"{path}:{entry.line}",
                    entry.kind,
                    f"GPU {index} ({entry.bus_id}): nvidia-smi could not open it ('Unable to determine the device handle'): {entry.message}",
                )
            )
        snap.gpus.sort(key=lambda gpu: gpu.index)

    def _gpu(self, report: Report, node: Node, index: int, bus_id: str, kept: _KeptGpus | None) -> tuple[Gpu | None, list[CollectionError]]:
        """A new :class:`Gpu` read from ``node`` (None if it cannot be read) and the errors met; read once if ``kept``."""
        known = kept.get(node.line) if kept is not None else None
        if known is None:
            reader = GpuReader(node, report.dialect, report.path, self.name)
            errors: list[CollectionError] = []
            try:
                gpu = reader.read(index, bus_id)
            except Exception as exc:  # a broken GPU section must not stop the others
                errors.append(CollectionError(self.name, f"{report.path}:{node.line}", "parse", f"GPU {index}: {exc!r}; GPU skipped"))
                gpu = None
            errors.extend(reader.errors)
            if kept is None:
                return gpu, errors
            known = kept[node.line] = (pickle.dumps(gpu, pickle.HIGHEST_PROTOCOL), tuple(errors))
        # the later steps of the cycle write into the Gpu: each snapshot gets its own
        return pickle.loads(known[0]), list(known[1])

    def _lost_of(self, lost: Sequence[lost_gpu.LostGpu], buses: list[str], path: str, snap: Snapshot) -> list[lost_gpu.LostGpu]:
        """The lost-GPU lines that name a bus id no GPU section and no earlier line has (the others are counted errors)."""
        sections = {device_key(bus) for bus in buses}
        kept: dict[str | None, lost_gpu.LostGpu] = {}
        for entry in lost:
            key = device_key(entry.bus_id)
            if key in sections or key in kept:
                where = "has a GPU section too" if key in sections else f"is reported lost on line {kept[key].line} already"
                snap.errors.append(CollectionError(self.name, f"{path}:{entry.line}", "mismatch", f"{entry.bus_id} {where}; line ignored"))
                continue
            kept[key] = entry
        return list(kept.values())

    def _apply_topology(self, topo_and_path: tuple[topology.Topology, str], snap: Snapshot) -> None:
        topo, path = topo_and_path
        if topo.gpu_count != len(snap.gpus) and topo.gpu_count != max(g.index for g in snap.gpus) + 1:
            snap.errors.append(
                CollectionError(
                    "topology",
                    path,
                    "mismatch",
                    f"topology has {topo.gpu_count} GPUs, the report {len(snap.gpus)}: topology not applied",
                )
            )
            return
        for line, message in topo.errors:
            snap.errors.append(CollectionError("topology", f"{path}:{line}", "value", message))
        known = {g.index for g in snap.gpus}
        snap.links = [link for link in topo.links if link.gpu in known and link.peer_gpu in known]
        for gpu in snap.gpus:
            place = topo.placement.get(gpu.index)
            if place is not None:
                gpu.cpu_affinity = place.cpu_affinity
                gpu.numa_node = place.numa_node
                gpu.memory_numa_node = place.memory_numa_node

    def _apply_listing(self, listing_and_path: tuple[dict, str], snap: Snapshot) -> None:
        listing, path = listing_and_path
        for gpu in snap.gpus:
            entry = listing.get(gpu.index)
            if entry is None or gpu.fault:
                continue
            if entry["uuid"] != gpu.uuid:
                snap.errors.append(
                    CollectionError(
                        self.name, path, "mismatch", f"GPU {gpu.index}: -L says UUID {entry['uuid']}, the report {gpu.uuid}; -L not applied"
                    )
                )
                continue
            for dev in gpu.mig_devices:
                if dev.index in entry["mig"]:
                    dev.profile, dev.uuid = entry["mig"][dev.index]
