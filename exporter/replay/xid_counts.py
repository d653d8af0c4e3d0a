"""XID counters from a kernel log read again every cycle: ``Gpu.xid_errors`` and ``Gpu.xid_last_seen_seconds``.

Sample of what the exposition then shows (axonize/demo_data/faults/kernel-xid.log)::

    axonize_gpu_xid_errors_total{gpu="7",uuid="GPU-33135771-a848-ece1-b61e-489e221d663c",xid="13"} 1.0
    axonize_gpu_xid_last_seen_timestamp_seconds{gpu="7",uuid="GPU-33135771-a848-ece1-b61e-489e221d663c",xid="13"} 1.7e+09

A count is per (GPU, XID code): the XID lines of that GPU's PCI device with that code, the first time the
log is read; after that each read adds the lines it has that the previous read did not. Lines are told
apart by their :attr:`~.kernel_log.XidEvent.identity` (the line up to its code, timestamp included),
counted with multiplicity, so the counter never goes down: a log that grows adds its new lines; a log
rotated, cleared (``dmesg -C``) or cut at its oldest lines (a full ring buffer, ``journalctl --since``)
subtracts nothing and still adds the lines that are new. The one loss: after a rotation, a line with no
timestamp that repeats an earlier one byte for byte, no more often than before, reads as no new event.
The last-seen time is the Unix time (seconds) of the cycle that first counted the line, the moment the
exporter observed the event, as the NVML event thread stamps an event when it receives it.

A log whose version (inode, size, modification time: :class:`~.bounded_read.FileVersion`) is the one
read last cycle is not read again: the same lines would add nothing, so the counts stand and the
errors of that read are repeated. A log appended to has a new size and is read whole again (reading
only the new bytes would trust that the old ones are still there: ``dmesg > file`` rewrites the same
inode with a shifted ring buffer); a rotated one has a new inode. Either is counted as above.

Errors (:class:`~axonize.exporter.snapshot.CollectionError`, the GPUs are served regardless): the file
cannot be read this cycle (``io``, ``mismatch``: the counts stay as they were); an XID line that cannot
be read (``parse``, ``FILE:LINE``); XID lines of a PCI device no GPU of the report has (``mismatch``,
one per device naming its first line; counted all the same, shown if that GPU appears).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from ..snapshot import CollectionError, Snapshot
from . import kernel_log
from .bounded_read import BoundedReader, FileVersion, ReadFailure
from .pci_bus import device_key


class XidCounts:
    """The counters of one kernel-log file across cycles (one per :class:`~axonize.exporter.replay.ReplaySource`).

    ``path``: the file; ``clock``: Unix seconds (``time.time``); ``source``: the errors' source name.
    """

    def __init__(self, path: str, clock: Callable[[], float] = time.time, source: str = "replay"):
        self.path = path
        self.clock = clock
        self.source = source
        self.count: dict[tuple[str, int], int] = {}  # (device, code) -> events
        self.last_seen: dict[tuple[str, int], float] = {}  # (device, code) -> Unix seconds
        self._previous: Counter[str] = Counter()  # identities of the last read's XID lines
        self._version: FileVersion | None = None  # of the last read, if it may be skipped next time
        self._log: kernel_log.KernelLog | None = None  # what the last read parsed

    def update(self, events: list[kernel_log.XidEvent]) -> None:
        """Count what ``events`` (one whole read of the log) holds that the previous read did not."""
        now = self.clock()
        current = Counter(e.identity for e in events)
        series = {e.identity: (e.device, e.code) for e in events}
        for identity, n in current.items():
            new = n - self._previous.get(identity, 0)
            if new > 0:
                key = series[identity]
                self.count[key] = self.count.get(key, 0) + new
                self.last_seen[key] = now
        self._previous = current

    def apply(self, snap: Snapshot, reader: BoundedReader) -> None:
        """Read the log with ``reader``, count, and set the XID fields of ``snap``'s GPUs; errors go to ``snap.errors``."""
        log, fresh = self._read(snap, reader)
        if log is not None:
            if fresh:  # an unchanged log would add nothing
                self.update(log.events)
            for line, message in log.errors:
                snap.errors.append(CollectionError(self.source, f"{self.path}:{line}", "parse", message))
        by_device = {device_key(gpu.pci_bus_id): gpu for gpu in snap.gpus if gpu.pci_bus_id}
        for (device, code), n in sorted(self.count.items()):
            gpu = by_device.get(device)
            if gpu is not None:
                gpu.xid_errors[code] = float(n)
                gpu.xid_last_seen_seconds[code] = self.last_seen[(device, code)]
        if log is None or not snap.gpus:
            return
        unknown: dict[str, list[kernel_log.XidEvent]] = {}
        for event in log.events:
            if event.device not in by_device:
                unknown.setdefault(event.device, []).append(event)
        for device, events in unknown.items():
            codes = ", ".join(str(c) for c in sorted({e.code for e in events}))
            snap.errors.append(
                CollectionError(
                    self.source,
                    f"{self.path}:{events[0].line}",
                    "mismatch",
                    f"{len(events)} XID line(s) (XID {codes}) for PCI device {device}, which no GPU of the report has; not shown",
                )
            )

    def _read(self, snap: Snapshot, reader: BoundedReader) -> tuple[kernel_log.KernelLog | None, bool]:
        """``(the log, whether it was read this cycle)``; ``(None, False)`` when it cannot be read."""
        try:
            version, data = reader.read_if_changed(self.path, self._version)
        except ReadFailure as exc:
            self._version = self._log = None
            snap.errors.append(CollectionError(self.source, self.path, exc.kind, f"kernel log: {exc.message}; XID counts unchanged"))
            return None, False
        if data is None and self._log is not None:
            return self._log, False
        # a kernel log holds bytes of every driver; the XID lines are ASCII, so an odd byte elsewhere is no error
        self._log = kernel_log.parse((data or b"").decode("utf-8", errors="replace"))
        self._version = version
        return self._log, True
