"""One tree shape for both ``nvidia-smi -q`` (indented text) and ``-q -x`` (XML).

A :class:`Node` has a key ("FB Memory Usage" or ``fb_memory_usage``), a text
value, ordered children (keys may repeat: "MIG Device", "Process ID") and the
place it came from, so that every error can name the file and line. Lookups
are case-insensitive and ignore spaces, dashes and underscores at the ends, so
"Utilization/Gpu" (driver 565) and "Utilization/GPU" (driver 590) both match.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


def norm(key: str) -> str:
    """Normalise a key for matching: case-folded, single spaces, trimmed."""
    return " ".join(key.split()).casefold()


@dataclass
class Node:
    key: str
    value: str = ""
    line: int = 0  # 1-based line in the file
    children: list[Node] = field(default_factory=list)

    def child(self, key: str) -> Node | None:
        want = norm(key)
        for c in self.children:
            if norm(c.key) == want:
                return c
        return None

    def all(self, key: str) -> Iterator[Node]:
        want = norm(key)
        return (c for c in self.children if norm(c.key) == want)

    def find(self, path: str) -> Node | None:
        """Follow a ``/``-separated path of keys; ``None`` if any step is missing."""
        node: Node | None = self
        for part in path.split("/"):
            if node is None:
                return None
            node = node.child(part)
        return node

    def first(self, *paths: str) -> Node | None:
        """The node at the first of ``paths`` that exists (names change across drivers)."""
        for path in paths:
            node = self.find(path)
            if node is not None:
                return node
        return None
