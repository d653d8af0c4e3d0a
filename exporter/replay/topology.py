"""Read ``nvidia-smi topo -m`` (the GPU/NIC connection matrix) into links and per-GPU placement.

Shape of the input (axonize/demo_data/h200-x8-hgx_topo-m_nics.txt, TAB-separated,
header underlined with ANSI escapes)::

    \\tGPU0\\tGPU1\\t...\\tNIC0\\t...\\tCPU Affinity\\tNUMA Affinity\\tGPU NUMA ID
    GPU0\\t X \\tNV18\\t...\\tPIX\\t...\\t0-63,128-191\\t0\\t\\tN/A
    NIC0\\tNODE\\t...

Columns may also be separated by runs of two or more spaces (copies pasted
into documents). Cells: ``X`` (self), ``NV#`` (# bonded NVLinks), and the PCIe
path types ``PIX``, ``PXB``, ``PHB``, ``NODE``, ``SYS`` (``SOC`` is the old
name of ``SYS``). NIC rows and columns are read for validation but only
GPU-to-GPU links are kept. The legend after the matrix is skipped.

Errors: :class:`~.errors.CaptureError` naming the file and line for an empty
file, a missing header, a row whose cells do not match the header, and a cell
that is no known connection type. A malformed ``CPU Affinity`` cell is not a
reason to refuse the matrix: that GPU's affinity is left out and the problem is
listed in :attr:`Topology.errors` as ``(line, message)`` (a counted ``value``
error for that GPU).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..numa import parse_cpulist
from ..snapshot import PCIE_PATH_TYPES, Link
from .errors import CaptureError

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_DEVICE = re.compile(r"^(GPU|NIC|mlx\d+_|CPU)\d*\w*$")
_GPU = re.compile(r"^GPU(\d+)$")
_NVLINK = re.compile(r"^NV(\d+)$")
_PCIE = set(PCIE_PATH_TYPES) | {"SOC"}  # SOC: the old name of SYS
_PLACEMENT_COLUMNS = ("cpu affinity", "numa affinity", "gpu numa id")


@dataclass
class GpuPlacement:
    """Per-GPU columns after the matrix: CPU affinity (cpulist), NUMA node, GPU memory NUMA node."""

    cpu_affinity: str | None = None
    numa_node: int | None = None
    memory_numa_node: int | None = None


@dataclass
class Topology:
    links: list[Link] = field(default_factory=list)
    placement: dict[int, GpuPlacement] = field(default_factory=dict)
    #: bad values that left a GPU's placement incomplete: (line, message)
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def gpu_count(self) -> int:
        return len(self.placement)


def looks_like(text: str) -> bool:
    head = _ANSI.sub("", text.lstrip("\n")[:2000])
    return bool(re.search(r"^\s*GPU0\b", head, re.MULTILINE)) and ("Affinity" in head or "Legend" in text)


def _split(line: str) -> list[str]:
    if "\t" in line:
        return [c.strip() for c in line.split("\t")]
    return [c.strip() for c in re.split(r"\s{2,}", line)]


def parse(text: str, path: str) -> Topology:
    if not text.strip():
        raise CaptureError(path, None, "empty file")
    lines = [_ANSI.sub("", raw).rstrip("\r\n") for raw in text.splitlines()]
    header_at = None
    for i, line in enumerate(lines):
        if line.strip():
            header_at = i
            break
    assert header_at is not None
    header = _split(lines[header_at])
    if header and header[0] == "":
        header = header[1:]
    devices = [h for h in header if h.casefold() not in _PLACEMENT_COLUMNS]
    if not devices or not _GPU.match(devices[0]):
        raise CaptureError(path, header_at + 1, f"not an 'nvidia-smi topo -m' matrix: header starts {lines[header_at].strip()[:40]!r}")
    for d in devices:
        if not _DEVICE.match(d):
            raise CaptureError(path, header_at + 1, f"unknown column {d!r} in the header")
    extra = [h.casefold() for h in header[len(devices) :]]
    topo = Topology()
    for lineno, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        if not line.strip():
            continue
        if line.strip().startswith("Legend"):
            break
        cells = _split(line)
        row = cells[0]
        if not _DEVICE.match(row):
            raise CaptureError(path, lineno, f"unknown row {row!r}: expected GPU<n> or NIC<n>")
        matrix = cells[1 : 1 + len(devices)]
        if len(matrix) < len(devices):
            raise CaptureError(path, lineno, f"row {row} has {len(matrix)} cells, the header names {len(devices)} devices (truncated?)")
        for col, cell in zip(devices, matrix):
            if cell != "X" and not _NVLINK.match(cell) and cell not in _PCIE:
                raise CaptureError(path, lineno, f"unknown connection {cell!r} between {row} and {col}")
        m = _GPU.match(row)
        if not m:
            continue
        gpu = int(m.group(1))
        for col, cell in zip(devices, matrix):
            peer = _GPU.match(col)
            if not peer or cell == "X":
                continue
            nv = _NVLINK.match(cell)
            if nv:
                topo.links.append(Link(gpu, int(peer.group(1)), "NVLINK", int(nv.group(1))))
            else:
                topo.links.append(Link(gpu, int(peer.group(1)), "SYS" if cell == "SOC" else cell, 0))
        topo.placement[gpu] = _placement(cells[1 + len(devices) :], extra, path, lineno, topo.errors)
    if not topo.placement:
        raise CaptureError(path, header_at + 1, "no GPU rows under the header")
    return topo


def _placement(rest: list[str], names: list[str], path: str, lineno: int, errors: list[tuple[int, str]]) -> GpuPlacement:
    # Real output (driver 590) can leave an empty cell before "GPU NUMA ID"; drop empties
    # only between the columns we know, keeping the order of the header.
    values = list(rest)
    while len(values) > len(names) and "" in values:
        values.remove("")
    got = dict(zip(names, values))
    place = GpuPlacement()
    cpus = got.get("cpu affinity", "")
    if cpus and cpus.upper() != "N/A":
        try:
            parse_cpulist(cpus)
        except ValueError as exc:
            errors.append((lineno, f"CPU affinity {cpus!r} is not a CPU list like '0-51,104-155' ({exc}); not applied"))
        else:
            place.cpu_affinity = cpus
    place.numa_node = _int_or_none(got.get("numa affinity", ""), "NUMA affinity", path, lineno)
    place.memory_numa_node = _int_or_none(got.get("gpu numa id", ""), "GPU NUMA ID", path, lineno)
    return place


def _int_or_none(value: str, what: str, path: str, lineno: int) -> int | None:
    if value in ("", "N/A"):
        return None
    if not value.isdigit():
        # A GPU attached to several NUMA nodes prints a list ("0-1"); the first is the closest.
        m = re.match(r"^(\d+)[-,]", value)
        if not m:
            raise CaptureError(path, lineno, f"{what} {value!r} is not a NUMA node number")
        return int(m.group(1))
    return int(value)
