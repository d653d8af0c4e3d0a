"""Read ``nvidia-smi -q -x`` (XML, DTD ``nvsmi_device_v10`` .. ``v13``) into a :class:`~.tree.Node` tree.

Shape of the input (tests/fixtures/nvidia/rtx4000-sff-ada_drv595_nvidia-smi-q-x_v13.xml)::

    <nvidia_smi_log>
        <driver_version>595.84</driver_version>
        <attached_gpus>1</attached_gpus>
        <gpu id="00000000:06:00.0">
            <fb_memory_usage><total>20475 MiB</total> ...

Parsed with the standard library's expat binding (no external DTD or entity
is fetched), which keeps the line of every element so errors can name it.
The ``id`` attribute of ``<gpu>`` becomes the node's value.

Errors: :class:`~.errors.CaptureError` naming the file and line for an empty
file, malformed or truncated XML, a root other than ``<nvidia_smi_log>``, and a
top-level section other than ``<gpu>``.
"""

from __future__ import annotations

from xml.parsers import expat

from .errors import CaptureError
from .tree import Node

ROOT = "nvidia_smi_log"
_TOP_LEVEL_LEAVES = {"timestamp", "driver_version", "cuda_version", "attached_gpus"}


def looks_like(text: str) -> bool:
    head = text.lstrip()[:600]
    return head.startswith("<?xml") or f"<{ROOT}" in head


def parse(text: str, path: str) -> Node:
    """Parse the document; returns the ``<nvidia_smi_log>`` node."""
    if not text.strip():
        raise CaptureError(path, None, "empty file")
    parser = expat.ParserCreate()
    stack: list[Node] = []
    roots: list[Node] = []

    def start(tag: str, attrs: dict) -> None:
        node = Node(tag, attrs.get("id", ""), parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        node = stack.pop()
        if not node.children or node.value:
            node.value = " ".join(node.value.split())

    def chars(data: str) -> None:
        if stack and not (stack[-1].key == "gpu" and stack[-1].value):
            stack[-1].value += data

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        where = f"{exc.lineno}" if exc.lineno else None
        raise CaptureError(path, where, f"malformed XML: {expat.ErrorString(exc.code)} (column {exc.offset})") from None
    root = roots[0]
    if root.key != ROOT:
        raise CaptureError(path, root.line, f"root element is <{root.key}>, expected <{ROOT}>: not 'nvidia-smi -q -x' output")
    for child in root.children:
        if child.key == "gpu" or child.key in _TOP_LEVEL_LEAVES or not child.children:
            continue
        raise CaptureError(path, child.line, f"unknown top-level section <{child.key}>: expected <gpu>")
    return root


def gpu_nodes(root: Node) -> list[Node]:
    return [c for c in root.children if c.key == "gpu"]


def gpu_bus_id(node: Node) -> str:
    return node.value
