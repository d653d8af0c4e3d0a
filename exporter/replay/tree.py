"""One tree shape for both ``nvidia-smi -q`` (indented text) and ``-q -x`` (XML).

A :class:`Node` has a key ("FB Memory Usage" or ``fb_memory_usage``), a text
value, ordered children (keys may repeat: "MIG Device", "Process ID") and the
place it came from, so that every error can name the file and line. Lookups
are case-insensitive, trim the ends and read a run of spaces as one (:func:`norm`),
so "Utilization/Gpu" (driver 565) and "Utilization/GPU" (driver 590) both match.

A tree is built once by a parser and then only read: the first lookup on a node
indexes its children by normalised key (each child's key is normalised once per
tree, not once per lookup), and the keys asked for are a fixed set in the code,
whose normal forms are remembered (:func:`wanted`). A replay keeps the tree of an
unchanged file across cycles (:mod:`.capture_file`), so children must not be added
after the first lookup: the index would not see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache


def norm(key: str) -> str:
    """Normalise a key for matching: case-folded, single spaces, trimmed."""
    return " ".join(key.split()).casefold()


@lru_cache(maxsize=1024)
def wanted(key: str) -> str:
    """:func:`norm` of a key the code looks up (a fixed set of literals, so the memo stays small)."""
    return norm(key)


@lru_cache(maxsize=1024)
def _steps(path: str) -> tuple[str, ...]:
    return tuple(wanted(part) for part in path.split("/"))


_NONE: tuple[Node, ...] = ()


@dataclass(slots=True)
class Node:
    key: str
    value: str = ""
    line: int = 0  # 1-based line in the file
    children: list[Node] = field(default_factory=list)
    # normalised key -> the children with it, in file order; built by the first lookup
    _index: dict[str, tuple[Node, ...]] | None = field(default=None, init=False, repr=False, compare=False)

    def _children_by_key(self) -> dict[str, tuple[Node, ...]]:
        index = self._index
        if index is None:
            grouped: dict[str, list[Node]] = {}
            for c in self.children:
                grouped.setdefault(norm(c.key), []).append(c)
            index = self._index = {k: tuple(v) for k, v in grouped.items()}
        return index

    def child(self, key: str) -> Node | None:
        found = self._children_by_key().get(wanted(key))
        return found[0] if found else None

    def all(self, key: str) -> Iterator[Node]:
        return iter(self._children_by_key().get(wanted(key), _NONE))

    def find(self, path: str) -> Node | None:
        """Follow a ``/``-separated path of keys; ``None`` if any step is missing."""
        node: Node | None = self
        for step in _steps(path):
            found = node._children_by_key().get(step)  # type: ignore[union-attr]
            if not found:
                return None
            node = found[0]
        return node

    def first(self, *paths: str) -> Node | None:
        """The node at the first of ``paths`` that exists (names change across drivers)."""
        for path in paths:
            node = self.find(path)
            if node is not None:
                return node
        return None
