"""The span convention: which OpenTelemetry spans are requests, stages and steps, and joining them per trace.

The convention (docs/traces.md has it with examples), on top of the OpenTelemetry GenAI attributes:

* a **request span** carries the model: ``gen_ai.request.model`` (else ``gen_ai.response.model``);
  optionally ``axonize.customer`` (who it ran for) and ``axonize.gpu.uuid`` (a GPU or MIG UUID, or a list of
  them, the request ran on; also read from the resource). vLLM's own ``llm_request`` span
  (``--otlp-traces-endpoint``) is a request span too, its model the resource's ``service.name`` when it
  carries none (set ``OTEL_SERVICE_NAME``), and its attributes ``gen_ai.latency.time_in_queue``,
  ``gen_ai.latency.time_in_model_prefill`` and ``gen_ai.latency.time_in_model_decode`` (seconds,
  vllm/tracing.py ``SpanAttributes``) are its stages ``queue``, ``prefill`` and ``decode``;
* every **descendant span** of a request span is a **stage** of that request: the stage is its
  ``axonize.stage`` attribute, else its name (``vae_decode``);
* a **step** is a span with ``axonize.step`` (an integer index), a step of its nearest stage ancestor
  (or of its own ``axonize.stage``); or an **event** with ``axonize.step`` on a stage span, which marks the end
  of that step: the step lasted from the previous such event (the first from the span's start).

Spans with no request ancestor are left out unless they say ``axonize.stage`` or ``axonize.step`` (then
their model is ``""``): an application's other spans (HTTP clients, databases) make no metrics.

Spans end before their parents and a batching exporter sends them as they end, so a stage usually
arrives before its request. :class:`Joiner` keeps each trace's spans (parent links, stage names) and the
spans still waiting for a request ancestor, for ``timeout`` seconds after the trace was last seen and for
at most ``max_spans`` spans in all (the oldest traces go first). A span whose request never comes is
observed without one at expiry (counted ``orphaned``).

Shapes: :func:`extract` turns an ``ExportTraceServiceRequest`` into :class:`SpanRecord` rows (plain data,
times in Unix nanoseconds) and the reasons of rejected spans; :meth:`Joiner.add` gives :class:`Joined` rows.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
CUSTOMER = "axonize.customer"
STAGE = "axonize.stage"
STEP = "axonize.step"
GPU_UUID = "axonize.gpu.uuid"
#: vLLM's ``llm_request`` latency attributes (seconds) and the stage each becomes.
VLLM_STAGES = (
    ("gen_ai.latency.time_in_queue", "queue"),
    ("gen_ai.latency.time_in_model_prefill", "prefill"),
    ("gen_ai.latency.time_in_model_decode", "decode"),
)
VLLM_SPAN = "llm_request"
_WANTED = {*MODEL_KEYS, CUSTOMER, STAGE, STEP, GPU_UUID, *(k for k, _ in VLLM_STAGES)}
_STATUS = {0: "unset", 1: "ok", 2: "error"}
#: Longest parent chain walked from a span to its request.
MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """What the metrics need of one span. Times in Unix nanoseconds; ``status`` ok | error | unset.

    ``model`` is set on request spans only (``""`` when a vLLM span names none); ``stage`` and ``step`` are
    the span's ``axonize.stage`` / ``axonize.step``; ``gpus`` its (or its resource's) ``axonize.gpu.uuid``;
    ``pid`` / ``host`` the resource's ``process.pid`` / ``host.name``; ``latencies`` vLLM's
    ``(stage, seconds)``; ``step_events`` ``(step, time)`` of its ``axonize.step`` events; ``events_lost`` True
    when the sender's SDK dropped some of the span's events (OTLP ``dropped_events_count``; the Python SDK keeps
    the last 128 by default, ``OTEL_SPAN_EVENT_COUNT_LIMIT``), so the first kept step event has no known start.
    """

    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    name: str
    start: int
    end: int
    status: str = "unset"
    model: str | None = None
    stage: str | None = None
    step: int | None = None
    customer: str | None = None
    gpus: tuple[str, ...] | None = None
    pid: int | None = None
    host: str | None = None
    latencies: tuple[tuple[str, float], ...] = ()
    step_events: tuple[tuple[int, int], ...] = ()
    events_lost: bool = False

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / 1e9

    @property
    def is_request(self) -> bool:
        return self.model is not None


@dataclass(frozen=True, slots=True)
class Joined:
    """A span and its request span (None when it has none); ``stage`` is the stage it belongs to (``""`` for a request)."""

    span: SpanRecord
    request: SpanRecord | None
    stage: str


def _value(any_value):
    """An ``AnyValue`` as Python: str, bool, int, float, bytes, list; None when unset."""
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, which)


def _pick(attributes) -> dict:
    return {kv.key: _value(kv.value) for kv in attributes if kv.key in _WANTED}


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _uuids(value) -> tuple[str, ...] | None:
    items = value if isinstance(value, list) else [value]
    out = tuple(sorted({v.strip() for v in items if isinstance(v, str) and v.strip()}))
    return out or None


def extract(message) -> tuple[list[SpanRecord], Counter[str], int]:
    """``(records, rejected reasons, spans seen)`` of an ``ExportTraceServiceRequest``.

    Rejected (not in ``records``): ``bad_id`` (trace id not 16 bytes, span id not 8), ``no_times`` (a start
    or end of 0), ``negative_duration`` (end before start).
    """
    records: list[SpanRecord] = []
    rejected: Counter[str] = Counter()
    seen = 0
    for resource_spans in message.resource_spans:
        resource: dict = {}
        for kv in resource_spans.resource.attributes:
            if kv.key in ("service.name", "process.pid", "host.name", GPU_UUID):
                resource[kv.key] = _value(kv.value)
        service = _text(resource.get("service.name"))
        if service and service.startswith("unknown_service"):
            service = None
        pid = _int(resource.get("process.pid"))
        host = _text(resource.get("host.name"))
        resource_gpus = _uuids(resource.get(GPU_UUID)) if GPU_UUID in resource else None
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                seen += 1
                if len(span.trace_id) != 16 or len(span.span_id) != 8 or len(span.parent_span_id) not in (0, 8):
                    rejected["bad_id"] += 1
                    continue
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                if not start or not end:
                    rejected["no_times"] += 1
                    continue
                if end < start:
                    rejected["negative_duration"] += 1
                    continue
                records.append(_record(span, _pick(span.attributes), service, pid, host, resource_gpus))
    return records, rejected, seen


def _record(span, attrs: dict, service, pid, host, resource_gpus) -> SpanRecord:
    model = next((m for m in (_text(attrs.get(k)) for k in MODEL_KEYS) if m), None)
    latencies = tuple(
        (stage, float(attrs[key]))
        for key, stage in VLLM_STAGES
        if isinstance(attrs.get(key), int | float) and not isinstance(attrs[key], bool) and attrs[key] >= 0
    )
    if model is None and span.name == VLLM_SPAN and latencies:
        model = service or ""
    events = []
    for event in span.events:
        for kv in event.attributes:
            if kv.key == STEP:
                step = _int(_value(kv.value))
                if step is not None:
                    events.append((step, event.time_unix_nano))
    return SpanRecord(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_id=span.parent_span_id,
        name=span.name,
        start=span.start_time_unix_nano,
        end=span.end_time_unix_nano,
        status=_STATUS.get(span.status.code, "unset"),
        model=model,
        stage=_text(attrs.get(STAGE)),
        step=_int(attrs.get(STEP)),
        customer=_text(attrs.get(CUSTOMER)),
        gpus=_uuids(attrs[GPU_UUID]) if GPU_UUID in attrs else resource_gpus,
        pid=pid,
        host=host,
        latencies=latencies,
        step_events=tuple(sorted(events, key=lambda e: e[1])),
        events_lost=span.dropped_events_count > 0,
    )


@dataclass
class _Trace:
    """One trace's spans seen so far: ``span id -> (parent id, record)``, and the spans awaiting their request."""

    spans: dict[bytes, SpanRecord] = field(default_factory=dict)
    pending: list[SpanRecord] = field(default_factory=list)
    touched: float = 0.0


class Joiner:
    """Joins spans to their request span, across export batches; one task uses it (not thread-safe).

    ``timeout``: seconds a trace is kept after its last span arrived. ``max_spans``: spans kept over all
    traces; beyond it the oldest trace is forgotten and its waiting spans are dropped (``pending_full``).
    """

    def __init__(self, timeout: float = 60.0, max_spans: int = 100_000):
        self.timeout = timeout
        self.max_spans = max_spans
        self.dropped: Counter[str] = Counter()
        self._traces: OrderedDict[bytes, _Trace] = OrderedDict()
        self._kept = 0

    @property
    def kept(self) -> int:
        """Spans held now (for the memory bound)."""
        return self._kept

    def add(self, records: Iterable[SpanRecord], now: float) -> list[Joined]:
        """The spans of ``records`` (and earlier ones) that can now be joined, with their request; the rest wait."""
        out: list[Joined] = []
        touched: dict[bytes, _Trace] = {}
        for record in records:
            trace = self._traces.get(record.trace_id)
            if trace is None:
                trace = self._traces[record.trace_id] = _Trace()
            self._traces.move_to_end(record.trace_id)
            trace.touched = now
            if record.span_id not in trace.spans:
                self._kept += 1
            trace.spans[record.span_id] = record
            trace.pending.append(record)
            touched[record.trace_id] = trace
        for trace in touched.values():
            waiting = []
            for record in trace.pending:
                joined = self._join(trace, record, final=False)
                if joined is None:
                    waiting.append(record)
                elif joined.request is not None or joined.span.stage or joined.span.step is not None:
                    out.append(joined)
            trace.pending = waiting
        self._bound(out)
        return out

    def expire(self, now: float) -> list[Joined]:
        """Forget traces not seen for ``timeout`` seconds; their waiting spans joined without a request (``orphaned``)."""
        out: list[Joined] = []
        while self._traces:
            trace_id, trace = next(iter(self._traces.items()))
            if now - trace.touched < self.timeout:
                break
            self._forget(trace_id, out)
        return out

    def _forget(self, trace_id: bytes, out: list[Joined]) -> None:
        trace = self._traces.pop(trace_id)
        self._kept -= len(trace.spans)
        for record in trace.pending:
            joined = self._join(trace, record, final=True)
            if joined is not None and (joined.span.stage or joined.span.step is not None):
                self.dropped["orphaned"] += 1
                out.append(joined)

    def _bound(self, out: list[Joined]) -> None:
        while self._kept > self.max_spans and self._traces:
            trace_id, trace = next(iter(self._traces.items()))
            self.dropped["pending_full"] += len(trace.pending)
            trace.pending = []
            self._forget(trace_id, out)

    def _join(self, trace: _Trace, record: SpanRecord, final: bool) -> Joined | None:
        """The span's request and stage; None while an ancestor has not arrived (unless ``final``)."""
        if record.is_request:
            return Joined(record, record, "")
        stage = record.stage or (record.name if record.step is None else None)
        parent = record.parent_id
        for _ in range(MAX_DEPTH):
            if not parent:
                break
            above = trace.spans.get(parent)
            if above is None:
                if not final:
                    return None
                break
            if above.is_request:
                return Joined(record, above, stage or record.name)
            if stage is None and above.step is None:
                stage = above.stage or above.name
            parent = above.parent_id
        return Joined(record, None, stage or record.name)
