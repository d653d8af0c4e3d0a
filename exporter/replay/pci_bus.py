"""PCI bus ids as nvidia-smi, the NVRM kernel messages and the handle errors write them, reduced to one key.

The same GPU reads ``00000000:3B:00.0`` in ``nvidia-smi -q`` (8-digit domain, upper case),
``0000:3b:00.0`` in an ``Unable to determine the device handle for GPU 0000:3B:00.0`` line (4-digit
domain) and ``PCI:0000:3b:00`` in ``NVRM: Xid (PCI:0000:3b:00): 79, ...`` (domain:bus:device, no
function). :func:`device_key` maps all three to ``00000000:3B:00``; :func:`canonical` writes a full
bus id the way ``nvidia-smi -q`` does.
"""

from __future__ import annotations

import re

#: ``domain:bus:device`` with an optional ``.function``; the domain has 1 to 8 hex digits.
BUS_ID = r"[0-9A-Fa-f]{1,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}(?:\.[0-7])?"
_PARTS = re.compile(r"^(?P<domain>[0-9A-Fa-f]{1,8}):(?P<bus>[0-9A-Fa-f]{2}):(?P<device>[0-9A-Fa-f]{2})(?:\.(?P<function>[0-7]))?$")


def device_key(bus_id: str) -> str | None:
    """``0000:3b:00.0``, ``00000000:3B:00.0`` or ``0000:3b:00`` -> ``00000000:3B:00``; None when it is no bus id."""
    m = _PARTS.match(bus_id.strip())
    if not m:
        return None
    return f"{int(m.group('domain'), 16):08X}:{m.group('bus').upper()}:{m.group('device').upper()}"


def canonical(bus_id: str) -> str:
    """``0000:18:00.0`` -> ``00000000:18:00.0`` (nvidia-smi -q's spelling); anything else unchanged."""
    key = device_key(bus_id)
    m = _PARTS.match(bus_id.strip())
    if key is None or m is None:
        return bus_id
    return f"{key}.{m.group('function') or '0'}"
