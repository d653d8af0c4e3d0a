"""NVIDIA XID events in a kernel log: the output of ``dmesg`` or ``journalctl -k`` (``--replay.kernel-log``).

Shape (real lines)::

    [ 8734.154062] NVRM: Xid (PCI:0000:3b:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.
    [Fri Aug 30 11:43:09 2024] NVRM: Xid (PCI:0000:cb:00): 13, pid='<unknown>', name=<unknown>, Graphics Exception: ...
    Sep 28 23:34:26 node kernel: NVRM: Xid (PCI:0000:dc:00): 45, pid=1818990, name=python3, Ch 00000001 ...
    NVRM: Xid (PCI:0000:44:00): 79, GPU has fallen off the bus
    NVRM: Xid (0000:03:00): 14, Channel 00000001

Sources: ``dmesg -T`` lines in leptonai/gpud pull request 46 (https://github.com/leptonai/gpud/pull/46);
``journalctl -k`` lines in NVIDIA/open-gpu-kernel-modules issue 1150
(https://github.com/NVIDIA/open-gpu-kernel-modules/issues/1150); a line without ``pid=`` in NVIDIA/NVSentinel
issue 155 (https://github.com/NVIDIA/NVSentinel/issues/155); ``dmesg``'s ``[seconds]`` prefix in
Bumblebee-Project/Bumblebee issue 677 (https://github.com/Bumblebee-Project/Bumblebee/issues/677); the older
form without ``PCI:`` in NVIDIA's "Xid Errors" (https://docs.nvidia.com/deploy/xid-errors/index.html).

A line is an XID line when it holds ``NVRM: Xid``; what precedes that (dmesg's ``[seconds]`` or ``[date]``,
journalctl's ``date host kernel:``) is not read, and every other line is ignored (a kernel log has many,
``NVRM: GPU ... fallen off the bus`` included). In ``(PCI:DDDD:BB:DD)``, the PCI domain (4 or 8 hex digits),
bus and device of the GPU (:func:`.pci_bus.device_key`); after it the XID code, then a comma.

:func:`parse` -> :class:`KernelLog`: ``events`` (:class:`XidEvent`, in file order) and ``errors``
(``(line, message)`` for an XID line whose device or code cannot be read: it is not counted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .pci_bus import BUS_ID, device_key

MARK = "NVRM: Xid"
_XID = re.compile(re.escape(MARK) + r" \((?:PCI:)?(?P<bus>" + BUS_ID + r")\): (?P<code>\d{1,5}),")


@dataclass(frozen=True)
class XidEvent:
    """One XID line: 1-based ``line``; ``device`` the GPU's key (``00000000:3B:00``); the XID ``code``.

    ``identity`` is the line up to the comma after the code (timestamp prefix included): the same event
    read again in a later copy of the log has the same identity, even if that copy was cut mid-message.
    """

    line: int
    device: str
    code: int
    identity: str


@dataclass
class KernelLog:
    events: list[XidEvent] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def parse(text: str) -> KernelLog:
    """Every ``NVRM: Xid`` line of ``text``; raises nothing."""
    log = KernelLog()
    pos, line, counted_to = 0, 1, 0
    while (at := text.find(MARK, pos)) != -1:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end == -1 else end
        line += text.count("\n", counted_to, start)
        counted_to = start
        raw = text[start:end].rstrip("\r")
        m = _XID.match(raw, at - start)
        key = device_key(m.group("bus")) if m else None
        if m is None or key is None:
            log.errors.append(
                (line, f"an NVRM Xid line not in the form 'NVRM: Xid (PCI:<domain>:<bus>:<device>): <code>, ...': {raw.strip()[:160]!r}")
            )
        else:
            log.events.append(XidEvent(line, key, int(m.group("code")), raw[: m.end()]))
        pos = end + 1
    return log
