"""The gateway's metrics (prometheus_client), named and described by the registry rows of :mod:`axonize.names.gateway`.

Sample lines (a streamed chat completion of 32 tokens, customer ``acme``)::

    axonize_gateway_requests_total{customer="acme",endpoint="/v1/chat/completions",model="tinyllama",status="200"} 1.0
    axonize_gateway_prompt_tokens_total{customer="acme",model="tinyllama"} 17.0
    axonize_gateway_completion_tokens_total{customer="acme",model="tinyllama"} 32.0
    axonize_gateway_time_to_first_token_seconds_bucket{le="0.02",model="tinyllama"} 1.0
    axonize_gateway_upstream_errors_total{kind="timeout",model="tinyllama"} 0.0

Cardinality: ``customer`` takes the configured names (always) and at most ``max_customers`` other
values (key hashes, header values, ``anonymous``), in order of first request; later ones become
``other`` and each such request adds one to ``axonize_gateway_customers_folded_total``. ``model`` is
a configured model or ``unknown`` (a request the gateway could not route).

A series born at its first request's value shows Prometheus no increase for that request (``rate()`` and
``increase()`` need a sample before it), so every configured model's in-flight and error series, and each
named customer's token counters on each configured model, are exposed at 0 from the start; unnamed
customers' series cannot be known in advance and start at their first request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from axonize import names
from axonize.histogram import Histogram as Bins
from axonize.names import gateway as rows

from .genai import GenAiMetrics, family

NAME_SETS = ("axonize", "otel", "both")
"""``--metrics.names``: the ``axonize_gateway_*`` families, the OpenTelemetry GenAI ones (:mod:`.genai`), or both."""
OTHER = "other"
UNKNOWN_MODEL = "unknown"
ERROR_KINDS = ("connect", "timeout", "http_5xx", "http_4xx", "malformed", "client_disconnect")


class Metering:
    """Every gateway metric in one registry, plus the customer cap. Not thread-safe beyond prometheus_client's own locks:
    the proxy calls it from its event loop."""

    def __init__(
        self,
        max_customers: int = 100,
        named: Iterable[str] = (),
        models: Iterable[str] = (),
        name_set: str = "axonize",
        routes: dict[str, str] | None = None,
    ):
        if name_set not in NAME_SETS:
            raise ValueError(f"--metrics.names {name_set!r} is not one of {', '.join(NAME_SETS)}")
        self.registry = CollectorRegistry(auto_describe=True)
        self.max_customers = max_customers
        self.named = frozenset(named)
        self._seen: set[str] = set()
        self.genai = GenAiMetrics(self.registry, routes) if name_set != "axonize" else None
        r = self.registry if name_set != "otel" else None  # otel alone: the axonize families are kept but not exposed
        self.requests = family(Counter, "axonize_gateway_requests_total", r)
        self.prompt_tokens = family(Counter, "axonize_gateway_prompt_tokens_total", r)
        self.completion_tokens = family(Counter, "axonize_gateway_completion_tokens_total", r)
        self.estimated_tokens = family(Counter, "axonize_gateway_estimated_completion_tokens_total", r)
        self.ttft = family(Histogram, "axonize_gateway_time_to_first_token_seconds", r, buckets=rows.TTFT_BUCKETS)
        self.inter_chunk = Gaps("axonize_gateway_inter_chunk_latency_seconds", rows.TIME_PER_OUTPUT_TOKEN_BUCKETS)
        if r is not None:
            r.register(self.inter_chunk)
        self.duration = family(Histogram, "axonize_gateway_request_duration_seconds", r, buckets=rows.OPERATION_DURATION_BUCKETS)
        self.in_flight = family(Gauge, "axonize_gateway_requests_in_flight", r)
        self.errors = family(Counter, "axonize_gateway_upstream_errors_total", r)
        self.added = family(Histogram, "axonize_gateway_added_latency_seconds", r, buckets=rows.ADDED_LATENCY_BUCKETS)
        self.folded = family(Counter, "axonize_gateway_customers_folded_total", r)
        for model in models:  # every configured model's series exist from the start (rate() needs a first sample)
            self.in_flight.labels(model)
            for kind in ERROR_KINDS:
                self.errors.labels(model, kind)
            for customer in self.named:  # so are a named customer's tokens: its first request's are not lost to rate()
                self.prompt_tokens.labels(customer, model)
                self.completion_tokens.labels(customer, model)

    def customer(self, name: str) -> str:
        """The ``customer`` label for ``name``: itself, or ``other`` once the cap is reached (counted)."""
        if name in self.named or name in self._seen:
            return name
        if len(self._seen) < self.max_customers:
            self._seen.add(name)
            return name
        self.folded.inc()
        return OTHER

    def finished(
        self,
        customer: str,
        model: str,
        endpoint: str,
        status: int,
        prompt_tokens: int,
        completion_tokens: int,
        estimated: bool,
        duration: float,
        added: float,
    ) -> None:
        """Count one answered request; ``customer`` is a label from :meth:`customer`."""
        self.requests.labels(customer, model, endpoint, str(status)).inc()
        if prompt_tokens:
            self.prompt_tokens.labels(customer, model).inc(prompt_tokens)
        if completion_tokens:
            self.completion_tokens.labels(customer, model).inc(completion_tokens)
            if estimated:
                self.estimated_tokens.labels(customer, model).inc(completion_tokens)
        self.duration.labels(model).observe(duration)
        self.added.observe(added)

    def streamed(self, model: str, ttft: float, content_times: Sequence[float]) -> None:
        """A stream's time to first token (seconds) and its gaps: ``content_times`` are perf_counter() at each content write."""
        self.ttft.labels(model).observe(ttft)
        self.inter_chunk.observe_gaps(model, content_times)

    def error(self, model: str, kind: str) -> None:
        self.errors.labels(model, kind).inc()


class Gaps:
    """A histogram by ``model`` of the gaps between consecutive times, fed a whole stream at once.

    prometheus_client's ``Histogram.observe`` takes a lock and walks the buckets per value (about 0.7 µs); a
    128-chunk stream would pay that 127 times. Here the gaps are binned into a stream's own
    :class:`axonize.histogram.Histogram` and merged under one lock per stream. Exposed by :meth:`collect` as ``NAME_bucket{le, model}``, ``_sum``, ``_count``
    (cumulative, as Prometheus histograms are); ``bounds`` are the upper bounds in seconds, ``+Inf`` added.
    """

    def __init__(self, name: str, bounds: Sequence[float]):
        self.name, self.help = name, names.get(name).help
        self.bounds = tuple(bounds)
        self._lock = threading.Lock()
        self._models: dict[str, Bins] = {}

    def observe_gaps(self, model: str, times: Sequence[float]) -> None:
        if len(times) < 2:
            return
        stream, previous = Bins(self.bounds), times[0]
        for t in times[1:]:
            stream.observe(t - previous)
            previous = t
        with self._lock:
            mine = self._models.get(model)
            if mine is None:
                mine = self._models[model] = Bins(self.bounds)
            mine.merge(stream)

    def describe(self):
        return [HistogramMetricFamily(self.name, self.help, labels=("model",))]

    def collect(self):
        histogram = HistogramMetricFamily(self.name, self.help, labels=("model",))
        with self._lock:
            snapshot = [(m, h.buckets(), h.sum) for m, h in self._models.items()]
        for model, buckets, total in snapshot:
            histogram.add_metric([model], [(floatToGoString(bound), n) for bound, n in buckets], total)
        yield histogram
