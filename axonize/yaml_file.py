"""The one reader of the YAML files Axonize is configured with, bounded and line-aware.

Every configuration file (``--config``, ``--web.config.file``, ``--cost.config``,
the bundle configuration, the sidecar's targets) goes through :func:`read`::

    doc = read("exporter.yml")           # -> Document(data={"collect": {"interval": "5s"}}, where="exporter.yml")
    doc.line(("collect", "interval"))    # -> 7, the line of the key `interval:`

What it refuses, each with a :class:`ConfigError` naming the file (and the line
or byte offset where there is one), never a traceback, a hang or unbounded memory:

* more than :data:`MAX_BYTES` (4 MiB) of text: configurations are a few KiB;
* anything but a regular file (a FIFO, ``/dev/zero``, a terminal, a directory):
  it is opened non-blocking and checked with ``fstat`` before a byte is read;
* bytes that are not UTF-8 text, or a NUL byte (a binary file);
* YAML anchors and aliases (``&x``, ``*x``): an alias bomb ("billion laughs")
  expands a few hundred bytes into gigabytes, and no Axonize file needs them;
* duplicate keys in a mapping (the last would silently win), keys that are not
  scalars, tags beyond YAML's core schema (``!!python/object``), nesting deeper
  than :data:`MAX_DEPTH`.

Values are YAML 1.1 as :func:`yaml.safe_load` reads them (``5s`` a string,
``.nan`` a float, ``2026-11-01`` a :class:`datetime.date`); checking them is the
job of :mod:`axonize.schema`, which uses :meth:`Document.line` to name the line.
"""

from __future__ import annotations

import importlib.resources
import os
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml

#: The largest file read, in bytes (4 MiB); a larger one is an error naming the file and this limit.
MAX_BYTES = 4 * 1024 * 1024
#: The deepest nesting of mappings and lists accepted.
MAX_DEPTH = 64

#: A path to a value inside a document: mapping keys and list indexes, ``("prices", "gpus", 2, "match")``.
Loc = tuple[str | int, ...]


class ConfigError(ValueError):
    """A bad configuration file or flag value; the message names the place and key.

    ``axonize.config.ConfigError`` is this class (re-exported), so both names catch it.
    """


@dataclass(frozen=True)
class Document:
    """A YAML file read into plain data: ``data`` (dicts, lists, scalars; None for an empty file).

    ``where`` names the file in error messages (the path as given, or
    ``axonize/bundle.yml`` for a packaged file); ``lines`` maps the location of
    every mapping key and list item to its 1-based line. A Document made from
    data that never was a file (``Document(data, "test")``) has no lines.
    """

    data: Any
    where: str
    lines: dict[Loc, int] = field(default_factory=dict, compare=False, repr=False)

    def line(self, loc: Loc) -> int | None:
        """The line of ``loc``, or of the nearest enclosing key or item that has one; None when none has."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())


def read(path: str | os.PathLike, where: str | None = None, max_bytes: int = MAX_BYTES) -> Document:
    """Read and parse the YAML file at ``path``; raises :class:`ConfigError` naming ``where`` (default: the path).

    At most ``max_bytes`` are read; a FIFO, device or directory is refused
    without blocking (see the module docstring for everything refused).
    """
    where = str(path) if where is None else where
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{where}: cannot read: not a regular file ({_file_kind(info.st_mode)}); give a YAML file")
        if info.st_size > max_bytes:
            raise ConfigError(
                f"{where}: cannot read: {info.st_size} bytes is over the limit of {_size(max_bytes)} for a configuration file"
            )
        chunks, size = [], 0
        while size <= max_bytes:  # st_size can lie (a file growing while read, /proc): read with the bound anyway
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise ConfigError(f"{where}: cannot read: over the limit of {_size(max_bytes)} for a configuration file")
    return parse(b"".join(chunks), where)


def read_packaged(package: str, name: str, where: str) -> Document:
    """Read a YAML file shipped inside ``package`` (``read_packaged("axonize", "bundle.yml", "axonize/bundle.yml")``)."""
    try:
        resource = importlib.resources.files(package).joinpath(name)
        with importlib.resources.as_file(resource) as path:
            return read(path, where)
    except (OSError, ModuleNotFoundError) as exc:
        raise ConfigError(f"{where}: cannot read the packaged file: {getattr(exc, 'strerror', None) or exc}") from None


def parse(content: bytes | str, where: str) -> Document:
    """Parse YAML text (bytes must be UTF-8) into a :class:`Document`; raises :class:`ConfigError` naming ``where``."""
    if isinstance(content, bytes):
        nul = content.find(b"\x00")
        if nul >= 0:
            line = content.count(b"\n", 0, nul) + 1
            raise ConfigError(f"{where}:{line}: not a text file: a NUL byte at byte offset {nul} (a binary file?)")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = content.count(b"\n", 0, exc.start) + 1
            raise ConfigError(
                f"{where}:{line}: not UTF-8 text: byte 0x{content[exc.start]:02x} at byte offset {exc.start} (a binary file?)"
            ) from None
    else:
        text = content
    try:
        data, lines = _Builder(where).build(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{where}:{mark.line + 1}" if mark else where
        raise ConfigError(f"{at}: not valid YAML: {exc.problem or exc.context or exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control character)
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(f"{where}:{line}: not valid YAML: character #x{exc.character:04x} is not allowed (a binary file?)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    return Document(data, where, lines)


_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_STR = "tag:yaml.org,2002:str"
#: libyaml's parser when PyYAML was built with it (the usual case): the events come 30x faster than from pure Python.
_EventLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Builder:
    """Builds plain data from the parser's events, without recursion, recording the line of every key and item.

    Anchors and aliases are refused at their event, before anything is composed,
    so an alias bomb costs no more than its own bytes. Scalars are resolved and
    constructed as :func:`yaml.safe_load` does (core schema: strings, numbers,
    booleans, null, timestamps).
    """

    def __init__(self, where: str):
        self.where = where
        self.scalars = yaml.SafeLoader("")  # resolver and constructor of scalars only
        self.lines: dict[Loc, int] = {}

    @staticmethod
    def fail(event, problem: str) -> yaml.MarkedYAMLError:
        return yaml.constructor.ConstructorError(None, None, problem, event.start_mark)

    def build(self, text: str) -> tuple[Any, dict[Loc, int]]:
        parser = _EventLoader(text)
        root: Any = None
        documents = 0
        # each frame: [container, loc, pending key (mappings), whether a key is pending]
        stack: list[list] = []
        try:
            while parser.check_event():
                event = parser.get_event()
                if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                    continue
                if isinstance(event, yaml.DocumentStartEvent):
                    documents += 1
                    if documents > 1:
                        raise self.fail(event, "expected a single document in the file, found a second one")
                    continue
                if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                    stack.pop()
                    continue
                if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
                    sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
                    raise self.fail(event, f"YAML anchors and aliases ({sign}{event.anchor}) are not supported here: write the value out")
                if isinstance(event, yaml.ScalarEvent):
                    tag = event.tag if event.tag not in (None, "!") else self.scalars.resolve(yaml.ScalarNode, event.value, event.implicit)
                    if tag == _MERGE:
                        raise self.fail(event, "'<<' merge keys are not supported here: write the keys out")
                    if tag == _STR:
                        value = event.value
                    else:  # refuses tags the safe constructor does not know
                        value = self.scalars.construct_object(
                            yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
                        )
                    container = None
                elif isinstance(event, yaml.MappingStartEvent):
                    if event.tag not in (None, "!", _MAP):
                        raise self.fail(event, f"the tag {event.tag!r} is not supported here")
                    value = container = {}
                else:  # SequenceStartEvent
                    if event.tag not in (None, "!", _SEQ):
                        raise self.fail(event, f"the tag {event.tag!r} is not supported here")
                    value = container = []
                loc = self._place(stack, event, value, container is not None)
                if not stack and loc == ():
                    root = value
                    self.lines[()] = event.start_mark.line + 1
                if container is not None:
                    if len(stack) >= MAX_DEPTH:
                        raise self.fail(event, f"nested deeper than {MAX_DEPTH} levels")
                    stack.append([container, loc, None, False])
        finally:
            parser.dispose()
        return root, self.lines

    def _place(self, stack: list[list], event, value: Any, is_container: bool) -> Loc:
        """Put ``value`` into the innermost container; the location it gets (``()`` at the top)."""
        if not stack:
            return ()
        frame = stack[-1]
        parent, loc = frame[0], frame[1]
        line = event.start_mark.line + 1
        if isinstance(parent, list):
            loc = loc + (len(parent),)
            self.lines[loc] = line
            parent.append(value)
            return loc
        if not frame[3]:  # this is a key
            if is_container:
                raise self.fail(event, "a key must be a plain value, not a list or a mapping")
            try:
                duplicate = value in parent
            except TypeError:
                raise self.fail(event, f"{value!r} cannot be a key") from None
            if duplicate:
                raise self.fail(event, f"duplicate key {value!r}")
            frame[2], frame[3] = value, True
            self.lines[loc + (value,)] = line
            return loc + (value,)
        key = frame[2]
        frame[2], frame[3] = None, False
        parent[key] = value
        return loc + (key,)


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"
