"""A GPU that ``nvidia-smi -q`` could not open: the one line it prints instead of that GPU's section.

Shape (real output; both spellings occur, with and without a space after ``GPU``)::

    Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost. Reboot the system to recover this GPU
    Unable to determine the device handle for GPU0000:0B:00.0: Unknown Error

Sources: JosephKJ/OWOD issue 81 (https://github.com/JosephKJ/OWOD/issues/81) for the first;
NVIDIA/open-gpu-kernel-modules issue 387 (https://github.com/NVIDIA/open-gpu-kernel-modules/issues/387)
and NVIDIA/dcgm-exporter issue 604 (https://github.com/NVIDIA/dcgm-exporter/issues/604) for the second.
Newer drivers put the index first (``... for GPU1: 0000:34:00.0: Unknown Error``); that reads too.
nvidia-smi writes the line to stderr, unbuffered, and the report to stdout, buffered, so a capture taken
with ``nvidia-smi -q > file 2>&1`` holds it before the report; it is read at any place outside a GPU
section (a line that starts at column 0).

After the bus id comes NVML's error string (``nvmlErrorString``), which gives the fault kind in the names
of :data:`axonize.nvml.ERROR_KINDS`: ``GPU is lost`` -> ``gpu_lost``, ``Unknown Error`` -> ``unknown``,
``GPU requires reset`` -> ``reset_required``, ``Timeout`` -> ``timeout`` ...; a string not in the table
is ``unknown``. The strings are those of nvidia-ml-py's ``pynvml.NVMLError._errcode_to_string``, plus
``GPU requires reset`` (the library's own spelling of ``GPU requires restart``).

:func:`extract` takes the lines out of a ``-q`` report (blanked, so line numbers stay true for
:mod:`.query_text`); :class:`Identities` remembers each bus id's last healthy identity across cycles, so
a GPU lost while it is watched keeps its ``uuid`` label, as :class:`~axonize.exporter.nvml.NvmlSource`
keeps a faulted GPU's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from axonize.nvml import ERROR_KINDS

from ..snapshot import Gpu
from .pci_bus import BUS_ID, canonical, device_key

START = "Unable to determine the device handle for GPU"
_LINE = re.compile(r"^" + re.escape(START) + r"\s*(?:\d+:\s*)?(?P<bus>" + BUS_ID + r"):\s*(?P<message>.*?)\s*$")
_STRINGS = {
    "uninitialized": 1,
    "invalid argument": 2,
    "not supported": 3,
    "insufficient permissions": 4,
    "not found": 6,
    "insufficient external power": 8,
    "driver not loaded": 9,
    "timeout": 10,
    "interrupt request issue": 11,
    "corrupted inforom": 14,
    "gpu is lost": 15,
    "gpu requires restart": 16,
    "gpu requires reset": 16,
    "the operating system has blocked the request": 17,
    "rm has detected an nvml/rm version mismatch": 18,
    "insufficient memory": 20,
    "unknown error": 999,
}


@dataclass(frozen=True)
class LostGpu:
    """One handle error: its 1-based ``line``, ``bus_id`` as ``-q`` spells it (``00000000:18:00.0``), fault ``kind``, ``message``."""

    line: int
    bus_id: str
    kind: str
    message: str


def kind_of(message: str) -> str:
    """``"GPU is lost. Reboot the system to recover this GPU"`` -> ``"gpu_lost"``; unrecognised -> ``"unknown"``."""
    low = message.strip().lower()
    match = max((s for s in _STRINGS if low.startswith(s)), key=len, default=None)
    return ERROR_KINDS.get(_STRINGS[match], "unknown") if match else "unknown"


def extract(text: str) -> tuple[str, list[LostGpu], list[tuple[int, str]]]:
    """``(text with the handle-error lines blanked, the lost GPUs, unreadable lines as (line, message))``."""
    if START not in text:
        return text, [], []
    lines = text.splitlines()
    lost: list[LostGpu] = []
    unreadable: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.startswith(START):
            continue
        lines[number - 1] = ""
        m = _LINE.match(raw.rstrip())
        if m is None:
            unreadable.append((number, f"a device-handle error without a PCI bus id: {raw.strip()[:120]!r}; no GPU can be named"))
            continue
        lost.append(LostGpu(number, canonical(m.group("bus")), kind_of(m.group("message")), m.group("message")))
    return "\n".join(lines), lost, unreadable


def strip_leading(text: str) -> str:
    """``text`` without the blank and handle-error lines it starts with (where the report's header should be)."""
    lines = text.lstrip("\n").split("\n", 64)
    while lines and (not lines[0].strip() or lines[0].startswith(START)):
        lines.pop(0)
    return "\n".join(lines)


class Identities:
    """The last identity seen healthy per PCI bus id (``uuid``, ``name``, ``minor_number``, NUMA placement).

    One per :class:`~axonize.exporter.replay.ReplaySource`: its state between cycles, one entry per bus id
    ever seen (bounded by the GPUs of the host).
    """

    def __init__(self) -> None:
        self._known: dict[str, Gpu] = {}

    def remember(self, gpus: list[Gpu]) -> None:
        for gpu in gpus:
            key = device_key(gpu.pci_bus_id)
            if key is not None and not gpu.fault:
                self._known[key] = Gpu(
                    index=gpu.index,
                    uuid=gpu.uuid,
                    pci_bus_id=gpu.pci_bus_id,
                    name=gpu.name,
                    minor_number=gpu.minor_number,
                    numa_node=gpu.numa_node,
                    cpu_affinity=gpu.cpu_affinity,
                )

    def faulted(self, index: int, lost: LostGpu) -> Gpu:
        """The Gpu of a lost one: ``fault`` set; ``uuid`` the last one seen on its bus, else ``unknown-gpu-<index>``."""
        known = self._known.get(device_key(lost.bus_id) or "")
        gpu = Gpu(index=index, uuid=known.uuid if known else f"unknown-gpu-{index}", pci_bus_id=lost.bus_id, fault=lost.kind)
        if known is not None:
            gpu.name, gpu.minor_number = known.name, known.minor_number
            gpu.numa_node, gpu.cpu_affinity = known.numa_node, known.cpu_affinity
        return gpu
