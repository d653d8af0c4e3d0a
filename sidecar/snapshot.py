"""Plain data between reading the engines and exposing them: what each target said this cycle.

No metric families here (:mod:`axonize.sidecar.exposition` renders them) and no
state across cycles: a value is what the engine reported in this scrape, so a
counter that restarts at 0 reaches Prometheus as a reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import TargetError
from .targets import Target


@dataclass(frozen=True, slots=True)
class Series:
    """One normalized series.

    ``labels``: ``(name, value)`` pairs: ``engine``, ``model``, ``server``, then
    ``engine_index`` where the engine has one and the family's own labels. Counters and gauges use
    ``value``. Histograms use ``buckets``, ``(upper bound in the family's unit,
    cumulative count)`` ascending with ``+Inf`` last, and ``sum`` / ``count``.
    """

    family: str
    labels: tuple[tuple[str, str], ...]
    value: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()
    sum: float = 0.0
    count: float = 0.0

    @property
    def samples(self) -> int:
        """Exposition lines this series takes: 1, or buckets + _sum + _count for a histogram."""
        return len(self.buckets) + 2 if self.buckets else 1


@dataclass
class TargetResult:
    """One target's cycle. ``up`` when the scrape and its normalization succeeded; then
    ``series`` holds its normalized series (at most the cap; ``dropped`` counts the
    exposition lines left out, the join series' included). ``engine`` is the adapter used
    (configured or detected), None when unknown. ``seconds`` is wall time: HTTP plus parsing
    and normalizing. ``problems``: "invalid" errors of families left out of a good scrape.
    ``gpu_info``: the ``(model, uuid)`` rows of ``axonize_inference_server_gpu_info``, within the cap."""

    target: Target
    engine: str | None = None
    series: list[Series] = field(default_factory=list)
    error: TargetError | None = None
    seconds: float = 0.0
    dropped: int = 0
    problems: list[TargetError] = field(default_factory=list)
    gpu_info: tuple[tuple[str, str], ...] = ()

    @property
    def up(self) -> bool:
        return self.error is None


@dataclass
class Snapshot:
    """All targets of one cycle, in configuration order; ``gpus`` maps a server to its GPU UUIDs
    and ``models`` to the model names its series carried at its last successful scrape."""

    results: list[TargetResult]
    gpus: dict[str, tuple[str, ...]] = field(default_factory=dict)
    models: dict[str, tuple[str, ...]] = field(default_factory=dict)
