"""axonize.instrument with the real OpenTelemetry SDK: spans kept by its InMemorySpanExporter, and configure()
exporting over OTLP/HTTP to a real HTTP server on loopback that holds the export to show the code never waits."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from axonize import instrument


@pytest.fixture
def sdk():
    """``(tracer, memory)``: a provider of its own (not the process-global one) keeping every ended span."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield provider.get_tracer("test"), memory
    provider.shutdown()


def by_name(memory: InMemorySpanExporter) -> dict[str, list]:
    out: dict[str, list] = {}
    for span in memory.get_finished_spans():
        out.setdefault(span.name, []).append(span)
    return out


def test_request_and_stages_nest_with_the_convention_attributes(sdk):
    tracer, memory = sdk
    with instrument.request(model="tiny-sd", customer="acme", gpus="GPU-1", tracer=tracer) as root:
        assert root.is_recording()
        with instrument.stage("text_encode", tracer=tracer):
            pass
        with instrument.stage("vae_decode", attributes={"tiles": 4}, tracer=tracer):
            pass
    spans = by_name(memory)
    (request,) = spans["request"]
    assert dict(request.attributes) == {"gen_ai.request.model": "tiny-sd", "axonize.customer": "acme", "axonize.gpu.uuid": ("GPU-1",)}
    assert request.parent is None
    for name in ("text_encode", "vae_decode"):
        (span,) = spans[name]
        assert span.attributes["axonize.stage"] == name
        assert span.parent.span_id == request.context.span_id
        assert span.context.trace_id == request.context.trace_id
    assert spans["vae_decode"][0].attributes["tiles"] == 4
    assert request.status.status_code == StatusCode.UNSET


def test_a_decorated_function_gets_one_span_per_call_with_its_result(sdk):
    tracer, memory = sdk

    @instrument.stage("vae_decode", tracer=tracer)
    def decode(x):
        return x * 2

    @instrument.request(model="m", gpus=["GPU-a", "GPU-b"], tracer=tracer)
    def handle(x):
        return decode(x) + decode(x)

    assert handle.__name__ == "handle"
    assert handle(3) == 12
    assert handle(1) == 4
    spans = by_name(memory)
    assert len(spans["request"]) == 2 and len(spans["vae_decode"]) == 4
    assert spans["request"][0].attributes["axonize.gpu.uuid"] == ("GPU-a", "GPU-b")
    parents = sorted(s.parent.span_id for s in spans["vae_decode"])
    requests = sorted(s.context.span_id for s in spans["request"])
    assert parents == sorted(requests * 2)


def test_a_decorated_coroutine_function_is_spanned_around_its_await(sdk):
    tracer, memory = sdk

    @instrument.stage("fetch", tracer=tracer)
    async def fetch():
        await asyncio.sleep(0)
        with instrument.stage("inner", tracer=tracer):
            return "done"

    assert asyncio.run(fetch()) == "done"
    spans = by_name(memory)
    assert spans["inner"][0].parent.span_id == spans["fetch"][0].context.span_id


def test_an_exception_marks_the_span_and_its_request_as_errors(sdk):
    tracer, memory = sdk

    @instrument.stage("unet", tracer=tracer)
    def denoise():
        raise MemoryError("CUDA out of memory")

    with pytest.raises(MemoryError):
        with instrument.request(model="m", tracer=tracer):
            denoise()
    spans = by_name(memory)
    for name in ("unet", "request"):
        (span,) = spans[name]
        assert span.status.status_code == StatusCode.ERROR, name
        assert "CUDA out of memory" in span.status.description
        assert [e.name for e in span.events] == ["exception"]


def test_the_same_scope_object_nests_when_reentered(sdk):
    tracer, memory = sdk
    scope = instrument.stage("loop", tracer=tracer)
    with scope as outer:
        with scope as inner:
            assert inner is not outer
    (first, second) = memory.get_finished_spans()
    assert first.parent.span_id == second.context.span_id


def test_the_step_callback_records_contiguous_step_spans_under_the_current_stage(sdk):
    """Spans mode. The callback as diffusers calls it: (pipeline, step, timestep, callback_kwargs) -> callback_kwargs."""
    tracer, memory = sdk
    steps = instrument.StepCallback(tracer=tracer, spans=True)
    kwargs = {"latents": object()}
    for _ in range(2):  # two pipeline calls, one callback object
        with instrument.stage("denoise", tracer=tracer):
            for i, t in enumerate((999, 666, 333)):
                assert steps(None, i, t, kwargs) is kwargs
    spans = by_name(memory)
    stages, step_spans = spans["denoise"], spans["step"]
    assert len(step_spans) == 6 and len(stages) == 2
    for stage_span in stages:
        mine = [s for s in step_spans if s.parent.span_id == stage_span.context.span_id]
        assert [s.attributes["axonize.step"] for s in mine] == [0, 1, 2]
        assert [s.attributes["axonize.timestep"] for s in mine] == [999.0, 666.0, 333.0]
        assert mine[0].start_time == stage_span.start_time  # the first step starts with its stage
        assert [s.start_time for s in mine[1:]] == [s.end_time for s in mine[:-1]]  # contiguous
        assert mine[-1].end_time <= stage_span.end_time


def test_the_step_callback_records_steps_as_events_on_the_current_stage_by_default(sdk):
    """Events mode (the default): one ``step`` event per step on the stage span, in order, inside the stage."""
    tracer, memory = sdk
    steps = instrument.StepCallback()
    kwargs = {"latents": object()}
    for _ in range(2):
        with instrument.stage("denoise", tracer=tracer):
            for i, t in enumerate((999, 666, 333)):
                assert steps(None, i, t, kwargs) is kwargs
    spans = by_name(memory)
    assert "step" not in spans and len(spans["denoise"]) == 2
    for stage_span in spans["denoise"]:
        events = list(stage_span.events)
        assert [e.name for e in events] == ["step"] * 3
        assert [e.attributes["axonize.step"] for e in events] == [0, 1, 2]
        assert [e.attributes["axonize.timestep"] for e in events] == [999.0, 666.0, 333.0]
        times = [e.timestamp for e in events]
        assert stage_span.start_time <= times[0] <= times[1] <= times[2] <= stage_span.end_time


def test_steps_past_the_sdk_event_limit_become_contiguous_spans(sdk):
    """The SDK keeps a bounded number of events per span and drops the oldest beyond it: steps past the limit
    are recorded as child spans, the first starting at the last event, so no step is lost or mistimed."""
    tracer, memory = sdk
    steps = instrument.StepCallback(tracer=tracer, event_limit=2)
    with instrument.stage("denoise", tracer=tracer):
        for i in range(4):
            steps(None, i, 1000 - i, {})
    spans = by_name(memory)
    (stage_span,) = spans["denoise"]
    assert [e.attributes["axonize.step"] for e in stage_span.events] == [0, 1]
    late = sorted(spans["step"], key=lambda s: s.start_time)
    assert [s.attributes["axonize.step"] for s in late] == [2, 3]
    assert late[0].start_time == stage_span.events[-1].timestamp and late[1].start_time == late[0].end_time


def test_the_step_callback_records_nothing_outside_a_recording_span(sdk):
    tracer, memory = sdk
    for steps in (instrument.StepCallback(tracer=tracer), instrument.StepCallback(tracer=tracer, spans=True)):
        assert steps(None, 0, 1.0, {}) == {}
    assert memory.get_finished_spans() == ()


def test_without_an_sdk_the_helpers_are_no_ops():
    """The global provider is the API's no-op one in this process: nothing recorded, nothing raised."""
    with instrument.request(model="m") as span:
        assert not span.is_recording()
        with instrument.stage("s"):
            assert instrument.StepCallback()(None, 0, 0, {"a": 1}) == {"a": 1}


def test_bad_arguments_name_what_is_wrong():
    with pytest.raises(ValueError, match="gen_ai.request.model"):
        instrument.request(model="")
    with pytest.raises(ValueError, match="stage name"):
        instrument.stage("")
    with pytest.raises(ValueError, match="'sidecar:9948' is not an http"):
        instrument.configure(endpoint="sidecar:9948", set_global=False)
    assert instrument.traces_url("http://s:9948") == "http://s:9948/v1/traces"
    assert instrument.traces_url("http://s:9948/") == "http://s:9948/v1/traces"
    assert instrument.traces_url("https://tempo/otlp/v1/traces") == "https://tempo/otlp/v1/traces"


class HeldCollector:
    """An OTLP/HTTP endpoint on loopback that keeps each body and answers only once ``release`` is set."""

    def __init__(self):
        self.bodies: list[bytes] = []
        self.received = threading.Event()
        self.release = threading.Event()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.bodies.append(body)
                collector.received.set()
                collector.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self) -> list:
        out = []
        for body in self.bodies:
            message = ExportTraceServiceRequest.FromString(body)
            for rs in message.resource_spans:
                resource = {kv.key: kv.value for kv in rs.resource.attributes}
                out += [(resource, span) for ss in rs.scope_spans for span in ss.spans]
        return out


def test_configure_exports_in_batches_and_the_code_never_waits_on_the_network():
    collector = HeldCollector()
    provider = instrument.configure(endpoint=collector.url, service_name="pipe", set_global=False, schedule_delay_millis=10)
    tracer = provider.get_tracer("test")
    try:
        with instrument.request(model="m", tracer=tracer):
            pass
        assert collector.received.wait(10), "the batch processor never exported"
        # The collector now holds that export unanswered; more requests must still run to the end.
        finished = threading.Event()

        def pipeline():
            for _ in range(5):
                with instrument.request(model="m", tracer=tracer):
                    with instrument.stage("vae_decode", tracer=tracer):
                        pass
            finished.set()

        worker = threading.Thread(target=pipeline)
        worker.start()
        worker.join(10)
        assert finished.is_set() and not collector.release.is_set()
    finally:
        collector.release.set()
        provider.shutdown()
        collector.server.shutdown()
    spans = collector.spans()
    assert sorted(span.name for _, span in spans) == ["request"] * 6 + ["vae_decode"] * 5
    resource, _ = spans[0]
    assert resource["service.name"].string_value == "pipe"
    assert resource["process.pid"].int_value == os.getpid()
    assert resource["host.name"].string_value == socket.gethostname()
