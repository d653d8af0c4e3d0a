"""A histogram's counts kept in plain Python: explicit bucket bounds, counts, sum, for collectors that bin values
themselves and render them as Prometheus histograms (the sidecar's span families, the gateway's inter-chunk gaps).

prometheus_client's ``Histogram.observe`` takes a lock and walks the buckets for every value; these components
observe many values under one lock of their own (a batch of spans, a whole stream's gaps), so they keep counts
here and render them through :meth:`Histogram.buckets` in the exposition's shape::

    h = Histogram((0.01, 0.1, 1.0))
    for v in (0.005, 0.05, 0.05, 2.0):
        h.observe(v)
    h.buckets()  # [(0.01, 1.0), (0.1, 3.0), (1.0, 3.0), (inf, 4.0)]; h.sum 2.105, h.count 4

A value equal to a bound counts in that bound's bucket (``le``: less than or equal), as Prometheus defines it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class Histogram:
    """Counts per bucket of ``bounds`` (upper bounds, ascending, ``+Inf`` implied; not cumulative), sum and count."""

    __slots__ = ("bounds", "counts", "sum", "count")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts, sum and count (same bounds; ValueError otherwise)."""
        if other.bounds != self.bounds:
            raise ValueError(f"histogram bounds differ: {other.bounds} vs {self.bounds}")
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        self.sum += other.sum
        self.count += other.count

    def buckets(self) -> list[tuple[float, float]]:
        """``[(upper bound, cumulative count), ...]`` ending with ``(inf, count)``."""
        out, total = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append((bound, float(total)))
        return out
