"""Joined spans -> the ``axonize_trace_*`` families and the receiver's ``axonize_sidecar_*span*`` self-metrics.

The receiver's worker calls :meth:`TraceMetrics.observe` for each joined span (off the request path); the
collection loop calls :meth:`TraceMetrics.families` once a cycle and publishes them with the rest of the
exposition, so a scrape of /metrics still only serves the last rendering. Both hold one lock for the
time of a few dictionary updates or of copying the numbers.

What each joined span adds (names in :mod:`axonize.names.traces`)::

    request span   -> axonize_trace_request_duration_seconds{model}, axonize_trace_requests_total{model,customer,status},
                      axonize_trace_request_gpu_seconds_total{model,customer,uuid} += seconds on each GPU or MIG
                      device it ran on (when they are known),
                      for a vLLM llm_request span its queue / prefill / decode stages (duration only),
                      and with a price table (--traces.prices.url) axonize_trace_request_cost_dollars{model,customer}
                      += seconds x the $/hour of its devices / 3600 (:func:`~axonize.sidecar.prices.request_cost`),
                      or axonize_trace_requests_unpriced_total{model,reason} + 1 when it cannot be priced
    stage span     -> axonize_trace_stage_duration_seconds{model,stage}, axonize_trace_stages_total{model,stage,status},
                      one step per axonize.step event
    step span      -> axonize_trace_step_duration_seconds{model,stage,step}

Sample::

    axonize_trace_step_duration_seconds_bucket{model="tiny-sd",stage="denoise",step="7",le="0.04"} 12.0
    axonize_trace_request_gpu_seconds_total{model="tiny-sd",customer="acme",uuid="GPU-6f3a..."} 9.2
    axonize_trace_request_cost_dollars_bucket{model="tiny-sd",customer="acme",le="0.005"} 4.0

Cardinality: each of ``model``, ``stage``, ``customer`` and ``uuid`` keeps its first ``max_values`` distinct values,
later ones read ``other`` (``uuid`` too: the request span names its devices, and a sender's bug must not make a
series per string); ``step`` is its index up to ``max_step`` and ``other`` beyond.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from axonize import exposition_text as text
from axonize import names
from axonize.histogram import Histogram
from axonize.names.traces import COST_BUCKETS, DURATION_BUCKETS

from .prices import Prices, request_cost
from .spans import Joined, SpanRecord

OTHER = "other"


class Folded:
    """A label's values: the first ``limit`` distinct ones kept, later ones :data:`OTHER`."""

    def __init__(self, limit: int):
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self.limit:
            self._seen.add(value)
            return value
        return OTHER


class TraceMetrics:
    """The aggregated span metrics and the receiver's counters; thread-safe (one lock).

    ``prices``: the GPU price table (:class:`~axonize.sidecar.prices.Prices`, ``--traces.prices.url``); without
    it the cost families are not exposed.
    """

    def __init__(self, max_step: int = 50, max_values: int = 100, prices: Prices | None = None):
        self.max_step = max_step
        self.prices = prices
        self.lock = threading.Lock()
        self._model, self._stage, self._customer = Folded(max_values), Folded(max_values), Folded(max_values)
        self._uuid = Folded(max_values)  # the sender names the devices: bounded like any label it chooses
        self.requests: dict[tuple[str], Histogram] = {}
        self.stages: dict[tuple[str, str], Histogram] = {}
        self.steps: dict[tuple[str, str, str], Histogram] = {}
        self.request_count: Counter[tuple[str, str, str]] = Counter()
        self.stage_count: Counter[tuple[str, str, str]] = Counter()
        self.gpu_seconds: Counter[tuple[str, str, str]] = Counter()
        self.costs: dict[tuple[str, str], Histogram] = {}
        self.unpriced: Counter[tuple[str, str]] = Counter()
        self.received = 0
        self.dropped: Counter[str] = Counter({"queue_full": 0})
        self.rejected: Counter[str] = Counter()
        self.http: Counter[str] = Counter()
        self.forwarded = 0
        self.forward_errors: Counter[str] = Counter()
        self.queue_length: Callable[[], int] = lambda: 0

    # -- observing ---------------------------------------------------------------
    def step_label(self, step: int) -> str:
        return str(step) if 0 <= step <= self.max_step else OTHER

    def observe(self, joined: Iterable[Joined], gpus: Callable[[SpanRecord], tuple[str, ...]]) -> None:
        """Add joined spans; ``gpus(request span)`` gives the GPUs its request ran on (called outside the lock)."""
        rows = [(j, gpus(j.span) if j.span.is_request else ()) for j in joined]
        table = self.prices.table if self.prices is not None else None  # one table for the batch
        with self.lock:
            for j, on in rows:
                self._observe(j, on, table)

    def _observe(self, joined: Joined, on: tuple[str, ...], table: Mapping[str, float] | None) -> None:
        span, request = joined.span, joined.request
        model = self._model((request.model or "") if request is not None else "")
        if span.is_request:
            customer = self._customer(span.customer or "")
            self._hist(self.requests, (model,)).observe(span.seconds)
            self.request_count[(model, customer, span.status)] += 1
            for stage, seconds in span.latencies:
                self._hist(self.stages, (model, self._stage(stage))).observe(seconds)
            for uuid in dict.fromkeys(on):  # each device once, in the order given
                self.gpu_seconds[(model, customer, self._uuid(uuid))] += span.seconds
            if self.prices is not None:
                dollars, reason = request_cost(span.seconds, on, table)
                if dollars is None:
                    self.unpriced[(model, reason)] += 1
                else:
                    self._hist(self.costs, (model, customer), COST_BUCKETS).observe(dollars)
            return
        stage = self._stage(joined.stage)
        if span.step is not None:
            self._hist(self.steps, (model, stage, self.step_label(span.step))).observe(span.seconds)
            return
        self._hist(self.stages, (model, stage)).observe(span.seconds)
        self.stage_count[(model, stage, span.status)] += 1
        previous = None if span.events_lost else span.start
        for step, at in span.step_events:
            if previous is None:  # the SDK dropped the events before this one: when this step began is unknown
                self.dropped["step_events_lost"] += 1
            else:
                self._hist(self.steps, (model, stage, self.step_label(step))).observe(max(0, at - previous) / 1e9)
            previous = at

    @staticmethod
    def _hist(table: dict, key: tuple, bounds: tuple[float, ...] = DURATION_BUCKETS) -> Histogram:
        hist = table.get(key)
        if hist is None:
            hist = table[key] = Histogram(bounds)
        return hist

    def add_received(self, n: int) -> None:
        with self.lock:
            self.received += n

    def add_forwarded(self) -> None:
        with self.lock:
            self.forwarded += 1

    def count(self, counter: str, key: str, n: int = 1) -> None:
        """Add ``n`` to one of the receiver's counters (``dropped``, ``rejected``, ``http``, ``forward_errors``) under ``key``."""
        with self.lock:
            getattr(self, counter)[key] += n

    # -- exposing ----------------------------------------------------------------
    def families(self) -> list[text.Family]:
        """Every family, labels in registry order; histograms and counters sorted by label values."""
        queued = self.queue_length()
        with self.lock:
            out = [
                _histograms("axonize_trace_request_duration_seconds", self.requests),
                _histograms("axonize_trace_stage_duration_seconds", self.stages),
                _histograms("axonize_trace_step_duration_seconds", self.steps),
                _counter("axonize_trace_requests_total", self.request_count),
                _counter("axonize_trace_stages_total", self.stage_count),
                _counter("axonize_trace_request_gpu_seconds_total", self.gpu_seconds),
                *(
                    (
                        _histograms("axonize_trace_request_cost_dollars", self.costs),
                        _counter("axonize_trace_requests_unpriced_total", self.unpriced),
                    )
                    if self.prices is not None
                    else ()
                ),
                _counter("axonize_sidecar_spans_received_total", {(): self.received}),
                _counter("axonize_sidecar_spans_dropped_total", {(k,): v for k, v in self.dropped.items()}),
                _counter("axonize_sidecar_spans_rejected_total", {(k,): v for k, v in self.rejected.items()}),
                _counter("axonize_sidecar_otlp_requests_total", {(k,): v for k, v in self.http.items()}),
                _counter("axonize_sidecar_otlp_forwarded_total", {(): self.forwarded}),
                _counter("axonize_sidecar_otlp_forward_errors_total", {(k,): v for k, v in self.forward_errors.items()}),
            ]
        gauge = _family("axonize_sidecar_otlp_queue_length")
        gauge.add((), float(queued))
        return [*out, gauge, *(self.prices.families() if self.prices is not None else ())]


def _family(name: str) -> text.Family:
    row = names.get(name)
    return text.Family(row.name, row.type, row.help)


def _histograms(name: str, table: dict[tuple, Histogram]) -> text.Family:
    fam = _family(name)
    label_names = names.get(name).labels
    for key in sorted(table):
        hist = table[key]
        fam.add_histogram(tuple(zip(label_names, key, strict=True)), hist.buckets(), hist.sum, float(hist.count))
    return fam


def _counter(name: str, table) -> text.Family:
    fam = _family(name)
    label_names = names.get(name).labels
    for key in sorted(table):
        fam.add(tuple(zip(label_names, key, strict=True)), float(table[key]))
    return fam
