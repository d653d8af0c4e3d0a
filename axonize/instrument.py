"""Spans for pipelines the engines don't trace, in the sidecar's span convention (docs/traces.md).

A thin layer over the OpenTelemetry API (``opentelemetry-api``): it makes spans with the tracer provider the
application set, so any OpenTelemetry SDK and exporter works, and without an SDK every call is a no-op.

* :func:`request` — the request span: ``gen_ai.request.model`` and, optionally, ``axonize.customer`` and
  ``axonize.gpu.uuid``;
* :func:`stage` — a stage span named for the stage, with ``axonize.stage``;
* :class:`StepCallback` — a diffusers ``callback_on_step_end`` that records each denoising step as an event
  with ``axonize.step`` on the span current when the pipeline runs (its stage), or as a child span;
* :func:`configure` — the SDK's ``TracerProvider`` with a ``BatchSpanProcessor`` and the OTLP/HTTP exporter
  (the ``instrument`` extra: ``pip install axonize[instrument]``), so the pipeline never waits on the network.

::

    from axonize import instrument

    instrument.configure(endpoint="http://sidecar:9948", service_name="sd-service")
    steps = instrument.StepCallback()
    with instrument.request(model="tiny-sd", customer="acme"):
        with instrument.stage("text_encode"):
            embeds, negative = pipe.encode_prompt(prompt, "cpu", 1, True)
        with instrument.stage("denoise"):
            latents = pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, output_type="latent",
                           callback_on_step_end=steps).images
        with instrument.stage("vae_decode"):
            image = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample

``request`` and ``stage`` are context managers and decorators (of functions and coroutine functions). An
exception leaving one records it on the span and sets the span's status to ``ERROR`` (the OpenTelemetry
API's ``start_as_current_span`` defaults), which the sidecar counts as ``status="error"``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace

from axonize import __version__

MODEL = "gen_ai.request.model"
CUSTOMER = "axonize.customer"
GPU_UUID = "axonize.gpu.uuid"
STAGE = "axonize.stage"
STEP = "axonize.step"
TRACES_PATH = "/v1/traces"
TRACER_NAME = "axonize.instrument"


def _tracer(tracer: trace.Tracer | None) -> trace.Tracer:
    # Looked up per use: a provider set after import (configure() or the application's own) is the one used.
    return tracer or trace.get_tracer(TRACER_NAME, __version__)


class _SpanScope(contextlib.AbstractContextManager):
    """A span made current for a ``with`` block or each call of a decorated (sync or async) function.

    As a decorator it is safe from any thread or task; one object used as a context manager nests (a new span
    per ``with``) but belongs to one thread: make one per thread, as ``with instrument.stage(...)`` does."""

    def __init__(self, name: str, attributes: Mapping[str, Any], tracer: trace.Tracer | None):
        self.name = name
        self.attributes = dict(attributes)
        self.tracer = tracer
        self._open: list[contextlib.AbstractContextManager] = []

    def _start(self):
        return _tracer(self.tracer).start_as_current_span(self.name, attributes=self.attributes)

    def __enter__(self) -> trace.Span:
        scope = self._start()
        self._open.append(scope)
        return scope.__enter__()

    def __exit__(self, *exc_info):
        return self._open.pop().__exit__(*exc_info)

    def __call__(self, func: Callable) -> Callable:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args, **kwargs):
                with self._start():
                    return await func(*args, **kwargs)

            return run_async

        @functools.wraps(func)
        def run(*args, **kwargs):
            with self._start():
                return func(*args, **kwargs)

        return run


def request(
    model: str,
    customer: str | None = None,
    gpus: Sequence[str] | str | None = None,
    name: str = "request",
    attributes: Mapping[str, Any] | None = None,
    tracer: trace.Tracer | None = None,
) -> _SpanScope:
    """The request span ``name`` with ``gen_ai.request.model=model``; a context manager (yielding the span) and a decorator.

    ``customer`` -> ``axonize.customer``; ``gpus`` (GPU or MIG UUIDs) -> ``axonize.gpu.uuid``, which the sidecar
    uses before the process's NVML view; ``attributes`` are added as given. ValueError when ``model`` is empty.
    """
    if not model:
        raise ValueError("instrument.request: model must be a non-empty string (gen_ai.request.model)")
    attrs: dict[str, Any] = {MODEL: model}
    if customer:
        attrs[CUSTOMER] = customer
    if gpus:
        attrs[GPU_UUID] = [gpus] if isinstance(gpus, str) else list(gpus)
    return _SpanScope(name, {**attrs, **(attributes or {})}, tracer)


def stage(name: str, attributes: Mapping[str, Any] | None = None, tracer: trace.Tracer | None = None) -> _SpanScope:
    """A stage span called ``name`` with ``axonize.stage=name``; a context manager (yielding the span) and a decorator.

    Within a request span it becomes ``axonize_trace_stage_duration_seconds{stage=name}``. ValueError when ``name`` is empty.
    """
    if not name:
        raise ValueError("instrument.stage: the stage name must be a non-empty string")
    return _SpanScope(name, {STAGE: name, **(attributes or {})}, tracer)


class StepCallback:
    """A diffusers ``callback_on_step_end``: each call ends step ``step`` and records it on the current span.

    Signature as diffusers calls it: ``(pipeline, step, timestep, callback_kwargs) -> callback_kwargs`` (returned
    unchanged). By default a step is an *event* (name ``name``, attributes ``axonize.step=step`` and
    ``axonize.timestep``) on the span current when the pipeline calls back, normally the stage around the
    pipeline call; the sidecar times step i from the previous step's event (the first from the stage's start)
    to its own. ``spans=True`` records each step as a child *span* instead, from the previous step's end to now,
    which a trace viewer (Jaeger, Tempo) draws on the timeline; the sidecar's metrics are the same either way.
    A stage's steps past ``event_limit`` (default the SDK's events-per-span limit, ``OTEL_SPAN_EVENT_COUNT_LIMIT``,
    128), whose events the SDK would drop, are recorded as spans. An event costs the SDK a fraction of a span
    (benchmarks/instrument_overhead.py, the tiny diffusion pipeline, 20 steps: the instrumentation and its export
    took 0.59 ms of CPU per call with events, 1.43 ms with spans).

    Diffusers has no step-start hook, so the first step of each pipeline call starts at that stage span's start
    and includes the pipeline's set-up (timesteps, latents): keep the stage tight around the call. One instance
    serves any number of pipeline calls, one at a time. ``tracer``: default the global provider's (spans mode).
    Times from :func:`time.time_ns`, the SDK's clock.
    """

    def __init__(self, name: str = "step", tracer: trace.Tracer | None = None, spans: bool = False, event_limit: int | None = None):
        self.name = name
        self.tracer = tracer
        self.spans = spans
        self.event_limit = event_limit if event_limit is not None else _event_limit()
        self._parent_id: int | None = None
        self._last_end = 0
        self._events = 0

    def __call__(self, pipeline: Any, step: int, timestep: Any, callback_kwargs: dict) -> dict:
        now = time.time_ns()
        parent = trace.get_current_span()
        context = parent.get_span_context()
        if not context.is_valid or not parent.is_recording():
            return callback_kwargs
        if context.span_id != self._parent_id:
            self._parent_id, self._events = context.span_id, 0
            self._last_end = getattr(parent, "start_time", None) or now
        attributes: dict[str, Any] = {STEP: int(step)}
        with contextlib.suppress(TypeError, ValueError):
            attributes["axonize.timestep"] = float(timestep)
        if not self.spans and self._events < self.event_limit:
            parent.add_event(self.name, attributes, timestamp=now)
            self._events += 1
        else:  # spans mode, or a stage past the SDK's events-per-span limit (it would drop the oldest events)
            span = _tracer(self.tracer).start_span(self.name, attributes=attributes, start_time=min(self._last_end, now))
            span.end(end_time=now)
        self._last_end = now
        return callback_kwargs


def _event_limit() -> int:
    """The SDK's events-per-span limit: ``OTEL_SPAN_EVENT_COUNT_LIMIT`` as the SDK reads it, else its default 128."""
    try:
        return max(0, int(os.environ.get("OTEL_SPAN_EVENT_COUNT_LIMIT", "128")))
    except ValueError:
        return 128


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: ``endpoint`` as given when it has a path, else ``endpoint`` + ``/v1/traces``.

    ValueError naming ``endpoint`` when it is not an http(s) URL.
    """
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"instrument.configure: endpoint {endpoint!r} is not an http(s) URL (e.g. http://sidecar:9948)")
    return endpoint if parts.path not in ("", "/") else endpoint.rstrip("/") + TRACES_PATH


def configure(
    endpoint: str,
    service_name: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    set_global: bool = True,
    **batch_options: Any,
):
    """An SDK ``TracerProvider`` exporting over OTLP/HTTP protobuf through a ``BatchSpanProcessor``; returns it.

    ``endpoint``: the sidecar (``http://sidecar:9948``; ``/v1/traces`` is added when no path is given) or any
    OTLP/HTTP collector. The resource carries ``service.name`` (``service_name``, else ``OTEL_SERVICE_NAME``),
    ``process.pid`` and ``host.name`` (the sidecar finds the process's GPUs with them) and ``resource_attributes``.
    Spans are queued in memory and exported by the processor's thread every ``schedule_delay_millis``
    (5000) or ``max_export_batch_size`` (512) spans; a full queue (``max_queue_size``, 2048) drops spans, never
    blocks (``batch_options`` go to ``BatchSpanProcessor``). ``set_global``: make it the global provider
    (the OpenTelemetry API allows that once per process). Call ``provider.shutdown()`` (or let the SDK's exit
    hook do it) to flush. ImportError naming the extra when the SDK is not installed; ValueError for a bad URL.
    """
    url = traces_url(endpoint)
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError(
            f"instrument.configure needs the OpenTelemetry SDK and OTLP/HTTP exporter: pip install 'axonize[instrument]' ({exc})"
        ) from exc
    attrs: dict[str, Any] = {"process.pid": os.getpid(), "host.name": socket.gethostname()}
    if service_name:
        attrs["service.name"] = service_name
    attrs.update(resource_attributes or {})
    provider = TracerProvider(resource=Resource.create(attrs))
    exporter = OTLPSpanExporter(endpoint=url, headers=dict(headers or {}), timeout=timeout)
    provider.add_span_processor(BatchSpanProcessor(exporter, **batch_options))
    if set_global:
        trace.set_tracer_provider(provider)
    return provider
