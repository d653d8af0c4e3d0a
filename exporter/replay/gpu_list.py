"""Read ``nvidia-smi -L`` for what ``-q`` does not print: MIG profiles and MIG device UUIDs.

Shape of the input (tests/fixtures/nvidia/h200-mig_drv590_nvidia-smi-L.txt)::

    GPU 0: NVIDIA H200 (UUID: GPU-...)
      MIG 1c.3g.71gb  Device  0: (UUID: MIG-...)
      MIG 2g.35gb     Device  2: (UUID: MIG-...)

Returns ``{gpu index: {"uuid": ..., "name": ..., "mig": {device index: (profile, mig uuid)}}}``.
Errors: :class:`~.errors.CaptureError` naming the line for anything else.
"""

from __future__ import annotations

import re

from .errors import CaptureError

_GPU = re.compile(r"^GPU (?P<index>\d+): (?P<name>.*?) \(UUID: (?P<uuid>[^)]+)\)$")
_MIG = re.compile(r"^MIG (?P<profile>\S+)\s+Device\s+(?P<index>\d+): \(UUID: (?P<uuid>[^)]+)\)$")


def looks_like(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return bool(_GPU.match(first.strip()))


def parse(text: str, path: str) -> dict[int, dict]:
    if not text.strip():
        raise CaptureError(path, None, "empty file")
    gpus: dict[int, dict] = {}
    current = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        m = _GPU.match(line)
        if m:
            current = {"uuid": m.group("uuid"), "name": m.group("name"), "mig": {}}
            gpus[int(m.group("index"))] = current
            continue
        m = _MIG.match(line)
        if m and current is not None:
            current["mig"][int(m.group("index"))] = (m.group("profile"), m.group("uuid"))
            continue
        raise CaptureError(path, lineno, f"not an 'nvidia-smi -L' line: {line[:60]!r}")
    return gpus
