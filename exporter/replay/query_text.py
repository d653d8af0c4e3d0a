"""Read ``nvidia-smi -q`` (the indented text report) into a :class:`~.tree.Node` tree.

Shape of the input (driver 565, axonize/demo_data/h100-sxm-x8_drv565_nvidia-smi-q.txt)::

    ==============NVSMI LOG==============

    Timestamp                                 : Thu Nov 14 07:00:14 2024
    Driver Version                            : 565.57.01
    Attached GPUs                             : 8
    GPU 00000000:18:00.0
        Product Name                          : NVIDIA H100 80GB HBM3
        FB Memory Usage
            Total                             : 81559 MiB

Each line is ``key : value`` or a bare section header; nesting is by
indentation. The root's children are the top-level keys and one
``GPU <PCI bus id>`` node per GPU.

A GPU that nvidia-smi could not open has no section but one ``Unable to determine the device
handle for GPU <bus id>: <error>`` line (often first, before the header): :mod:`.lost_gpu` takes
those lines out before :func:`parse` runs.

Errors: :class:`~.errors.CaptureError` naming the file and line for an empty
file, a file that is not an ``nvidia-smi -q`` log, an indentation that matches
no open section, and a top-level section other than ``GPU <bus id>``.
"""

from __future__ import annotations

import re

from .errors import CaptureError
from .lost_gpu import strip_leading
from .tree import Node

HEADER = "==============NVSMI LOG=============="
_KEY_VALUE = re.compile(r"^(?P<key>.*?\S)\s+:(?:\s(?P<value>.*))?$")
_GPU_HEADER = re.compile(r"^GPU\s+(?P<bus>[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-9A-Fa-f])$")
_TOP_LEVEL_KEYS = {"timestamp", "driver version", "cuda version", "attached gpus"}


def looks_like(text: str) -> bool:
    """The header near the top, after any ``Unable to determine the device handle`` lines (:mod:`.lost_gpu`)."""
    return HEADER in strip_leading(text)[:400]


def parse(text: str, path: str) -> Node:
    """Parse the whole report; returns the root node (key ``""``)."""
    if not text.strip():
        raise CaptureError(path, None, "empty file")
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if line.strip():
            if line.strip() != HEADER:
                raise CaptureError(path, i + 1, f"not an 'nvidia-smi -q' report: expected {HEADER!r}, got {line.strip()[:60]!r}")
            start = i + 1
            break
    assert start is not None
    root = Node("", line=start)
    # frames: [indent of the node, node, indent its children use (None until the first child)]
    stack: list[list] = [[-1, root, None]]
    controls = "\x00" in text or "\t" in text  # else no line needs the check
    for lineno, raw in enumerate(lines[start:], start=start + 1):
        content = raw.strip()
        if not content:
            continue
        if controls and ("\x00" in raw or "\t" in raw.rstrip()):
            raise CaptureError(path, lineno, "unexpected control character (tab or NUL): not 'nvidia-smi -q' text")
        indent = len(raw) - len(raw.lstrip(" "))
        while indent <= stack[-1][0]:
            stack.pop()
        frame = stack[-1]
        if frame[2] is None:
            frame[2] = indent
        elif indent != frame[2]:
            raise CaptureError(path, lineno, f"indentation of {indent} spaces matches no open section (siblings use {frame[2]})")
        m = _KEY_VALUE.match(content) if ":" in content else None  # a section header has no colon
        # the key starts and ends with a non-space character: only the value needs stripping
        node = Node(m.group("key"), (m.group("value") or "").strip(), lineno) if m else Node(content, "", lineno)
        if frame[1] is root:
            _check_top_level(node, path)
        frame[1].children.append(node)
        stack.append([indent, node, None])
    return root


def _check_top_level(node: Node, path: str) -> None:
    if _GPU_HEADER.match(node.key) and not node.value:
        return
    if node.value or node.key.casefold() in _TOP_LEVEL_KEYS:
        return
    raise CaptureError(path, node.line, f"unknown top-level section {node.key[:60]!r}: expected 'GPU <PCI bus id>' or 'key : value'")


def gpu_nodes(root: Node) -> list[Node]:
    """The ``GPU <bus id>`` sections, in file order (= GPU index order)."""
    return [c for c in root.children if _GPU_HEADER.match(c.key)]


def gpu_bus_id(node: Node) -> str:
    m = _GPU_HEADER.match(node.key)
    return m.group("bus") if m else ""
