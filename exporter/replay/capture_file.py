"""One capture file -> its parsed parts, parsed once per version of the file and kept while it is unchanged.

A replay reads its files every collection cycle, but a capture changes when a job rewrites it
(``nvidia-smi -q -x > gpus.xml`` from cron), not every cycle. :class:`CaptureFiles` asks the
:class:`~.bounded_read.BoundedReader` for a file only if its
:class:`~.bounded_read.FileVersion` (device, inode, size, modification time) differs from the one
parsed last; otherwise the :class:`ParsedFile` of that version serves again, with the same errors.
A file replaced atomically (``os.replace``: a new inode), rewritten or appended to (a new size or
time) is read and parsed the next cycle; so is a file modified less than
:data:`~.bounded_read.SETTLED_NS` before it was read, and any file that is not a regular file.

A :class:`ParsedFile` is shared by the cycles that use it, so nothing may change it: its trees
(:class:`~.tree.Node`), :class:`~.topology.Topology` and ``-L`` listing are read, never written,
by :class:`~axonize.exporter.replay.ReplaySource`, which builds new :class:`~..snapshot.Gpu`
objects from them every cycle (the later steps of the collection path fill in those).

:func:`parse_file` -> :class:`ParsedFile`: ``pieces`` in file order, each ``(part, value)`` with
``part`` one of ``report`` (a :class:`Report`), ``topology``, ``list`` or ``file``, and ``value``
the parsed part or the :class:`~.errors.CaptureError` that stopped the file there (always the
last piece); ``errors``: a non-UTF-8 byte, as a ``value`` error (the rest of the file is used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..snapshot import CollectionError
from . import gpu_list, lost_gpu, query_text, query_xml, topology
from .bounded_read import BoundedReader, FileVersion, ReadFailure
from .errors import CaptureError
from .tree import Node

_BUNDLE = "# nvidia_gpu_exporter GPU capture"
_SECTION = re.compile(r"^#{20,}\n# (?P<title>[^\n]+)\n(?:# \$ [^\n]*\n)?#{20,}\n", re.MULTILINE)


def classify(text: str) -> str | None:
    """``"bundle"``, ``"query-xml"``, ``"query-text"``, ``"topology"``, ``"list"`` or ``None``."""
    if text.lstrip().startswith("#") and _BUNDLE in text[:400]:
        return "bundle"
    if query_xml.looks_like(text):
        return "query-xml"
    if query_text.looks_like(text):
        return "query-text"
    if topology.looks_like(text):
        return "topology"
    if gpu_list.looks_like(text):
        return "list"
    return None


@dataclass(frozen=True)
class Report:
    """A GPU report: ``dialect`` ``"text"`` or ``"xml"``, its tree, the file, and (text only) the lost-GPU lines."""

    dialect: str
    root: Node
    path: str
    lost: tuple[lost_gpu.LostGpu, ...] = ()
    lost_errors: tuple[tuple[int, str], ...] = ()  # (line, message) of handle-error lines without a bus id


@dataclass(frozen=True)
class ParsedFile:
    pieces: tuple[tuple[str, object], ...]
    errors: tuple[CollectionError, ...] = ()


class _Stopped(Exception):
    """A part failed to parse; its error is the last piece."""


def parse_file(data: bytes, path: str, source: str = "replay") -> ParsedFile:
    """Decode and parse one file's bytes; raises nothing (a file-level problem is a ``file`` piece)."""
    errors: tuple[CollectionError, ...] = ()
    pieces: list[tuple[str, object]] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # one Latin-1 byte (a process path) must not refuse the capture: read it leniently, report it
        text = data.decode("utf-8", errors="replace")
        if classify(text) is None:
            message = f"not UTF-8 text (byte {exc.start}): not an nvidia-smi capture"
            return ParsedFile((("file", CaptureError(path, None, message)),))
        line = data.count(b"\n", 0, exc.start) + 1
        bad = text.count("\ufffd")
        errors = (
            CollectionError(
                source,
                f"{path}:{line}",
                "value",
                f"byte {exc.start} is not UTF-8 ({bad} such character{'s' if bad != 1 else ''} in the file, read as U+FFFD); the rest of the capture is used",
            ),
        )
    try:
        _parse_text(text, path, pieces)
    except CaptureError as exc:
        pieces.append(("file", exc))
    except _Stopped:
        pass
    return ParsedFile(tuple(pieces), errors)


def _parse_text(text: str, path: str, pieces: list[tuple[str, object]]) -> None:
    kind = classify(text)
    if kind is None:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        if not first:
            raise CaptureError(path, None, "empty file")
        raise CaptureError(path, 1, f"not a recognised capture (nvidia-smi -q, -q -x, topo -m or -L); it starts {first[:60]!r}")
    if kind == "bundle":
        _parse_bundle(text, path, pieces)
        return
    part = {"query-text": "report", "query-xml": "report", "topology": "topology", "list": "list"}[kind]
    try:
        if kind == "query-text":
            text, lost, lost_errors = lost_gpu.extract(text)
            value: object = Report("text", query_text.parse(text, path), path, tuple(lost), tuple(lost_errors))
        elif kind == "query-xml":
            value = Report("xml", query_xml.parse(text, path), path)
        elif kind == "topology":
            value = topology.parse(text, path)
        else:
            value = gpu_list.parse(text, path)
    except CaptureError as exc:
        pieces.append((part, exc))
        raise _Stopped from None
    pieces.append((part, value))


def _parse_bundle(text: str, path: str, pieces: list[tuple[str, object]]) -> None:
    sections: dict[str, tuple[str, int]] = {}
    matches = list(_SECTION.finditer(text))
    for m, nxt in zip(matches, matches[1:] + [None]):
        body = text[m.end() : nxt.start() if nxt else len(text)]
        sections[m.group("title").strip()] = (body, text.count("\n", 0, m.end()))
    wanted = [
        next((t for t in ("load :: query (-q)", "idle :: query (-q)") if t in sections), None),
        "capabilities :: topo -m",
        "capabilities :: list (-L)",
    ]
    if wanted[0] is None:
        raise CaptureError(path, None, "capture bundle has no 'query (-q)' section")
    for title in wanted:
        if title in sections:
            body, offset = sections[title]
            # keep line numbers true to the bundle file
            _parse_text("\n" * offset + body, path, pieces)


class CaptureFiles:
    """The parsed capture files of one :class:`~axonize.exporter.replay.ReplaySource`, one version per path.

    ``reader`` bounds each read; ``source`` names the errors' source. Holds one entry per path
    (the source's files), replaced when the file changes. ``reused`` counts the reads skipped.
    """

    def __init__(self, reader: BoundedReader, source: str = "replay"):
        self.reader = reader
        self.source = source
        self.reused = 0
        self._files: dict[str, tuple[FileVersion, ParsedFile]] = {}

    def load(self, path: str) -> ParsedFile:
        """The parsed content of ``path`` now; :class:`~.bounded_read.ReadFailure` when it cannot be read this cycle."""
        kept = self._files.get(path)
        try:
            version, data = self.reader.read_if_changed(path, kept[0] if kept else None)
        except ReadFailure:
            self._files.pop(path, None)
            raise
        if data is None and kept is not None:
            self.reused += 1
            return kept[1]
        parsed = parse_file(data or b"", path, self.source)
        if version is None:
            self._files.pop(path, None)
        else:
            self._files[path] = (version, parsed)
        return parsed
