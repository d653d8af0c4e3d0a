"""The OTLP/HTTP receiver in a real aiohttp server on loopback (the sidecar's own app: /metrics, /-/healthy and
/v1/traces, a collection loop scraping a fake vLLM): bad input, gzip, JSON, a full queue, forwarding.

Bodies are what the OpenTelemetry SDK's own encoder makes of spans it recorded.
"""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest
import requests
from aiohttp import web
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from axonize import exposition_text as text
from axonize.http import Exposition, make_app
from axonize.sidecar.collection import CollectionLoop
from axonize.sidecar.targets import Target
from axonize.sidecar.trace_forward import Forwarder
from axonize.sidecar.trace_metrics import TraceMetrics
from axonize.sidecar.trace_receiver import RETRY_AFTER_SECONDS, TraceReceiver
from tests.conftest import FIXTURES
from tests.loopback import LoopbackApp
from tests.sidecar.servers import FakeEngines

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


class Sidecar(LoopbackApp):
    """The sidecar's app (make_app) with the receiver installed and a collection loop publishing every 50 ms."""

    def __init__(self, engines: FakeEngines, start_worker: bool = True, forward: str = "", **kw) -> None:
        self.metrics = TraceMetrics()
        self.exposition = Exposition()
        forwarder = Forwarder(forward, self.metrics, timeout=5) if forward else None
        self.receiver = TraceReceiver(self.metrics, forwarder=forwarder, **kw)
        target = Target(url=engines.url("/vllm"), server="vllm", engine="vllm")
        self.collection = CollectionLoop([target], 0.05, 0.05, self.exposition, extra=self.metrics.families)

        def build() -> web.Application:
            app = make_app(self.exposition, "/metrics", self.collection.health, "test")
            self.receiver.install(app, start_worker=start_worker)
            return app

        super().__init__(build, "sidecar app")

    def __enter__(self) -> Sidecar:
        super().__enter__()
        self.collection.start()
        return self

    def __exit__(self, *exc) -> None:
        self.collection.stop()
        super().__exit__(*exc)

    def traces_text(self) -> str:
        """The axonize_trace_* families now, as exposition text."""
        return text.render([f for f in self.metrics.families() if f.name.startswith("axonize_trace_")]).decode()

    def processed(self) -> None:
        """Return once the worker has finished every request queued so far (``Queue.join`` on the server's loop)."""
        asyncio.run_coroutine_threadsafe(asyncio.wait_for(self.receiver.queue.join(), 30), self.loop).result(35)


@pytest.fixture
def engines():
    with FakeEngines() as e:
        e.serve("/vllm", (FIXTURES / "inference" / "vllm-0.33.0-v1.synthetic.prom").read_text())
        yield e


def pipeline_spans(model: str = "tiny-sd", steps: int = 3) -> list:
    """Spans the SDK recorded for one pipeline call: request, a denoise stage with its steps, a VAE stage."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("pipeline", attributes={"gen_ai.request.model": model}):
        with tracer.start_as_current_span("denoise"):
            for step in range(steps):
                with tracer.start_as_current_span("step", attributes={"axonize.step": step}):
                    pass
        with tracer.start_as_current_span("vae_decode"):
            pass
    return list(memory.get_finished_spans())


def otlp_json(message) -> bytes:
    """The OTLP JSON encoding of a message: proto3 JSON with hex trace and span ids."""
    doc = json_format.MessageToDict(message)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = __import__("base64").b64decode(span[key]).hex().upper()
    return json.dumps(doc).encode()


def status_message(response: requests.Response) -> str:
    if response.headers["Content-Type"].startswith("application/json"):
        return json.loads(response.content)["message"]
    status = status_pb2.Status()
    status.ParseFromString(response.content)
    return status.message


def test_json_and_protobuf_bodies_make_the_same_metrics(engines):
    message = encode_spans(pipeline_spans())
    with Sidecar(engines) as a, Sidecar(engines) as b:
        r = requests.post(a.url("/v1/traces"), data=message.SerializeToString(), headers=PROTOBUF, timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-protobuf"
        answer = ExportTraceServiceResponse()
        answer.ParseFromString(r.content)
        assert not answer.HasField("partial_success")
        r = requests.post(b.url("/v1/traces"), data=otlp_json(message), headers=JSON, timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/json" and json.loads(r.content) == {}
        a.processed()
        b.processed()
        assert 'axonize_trace_step_duration_seconds_count{model="tiny-sd",stage="denoise",step="2"} 1.0' in a.traces_text()
        assert a.traces_text() == b.traces_text()


def test_gzip_bodies_are_read_and_bounded_after_decompression(engines):
    message = encode_spans(pipeline_spans()).SerializeToString()
    with Sidecar(engines, max_body=len(message) + 10) as sidecar:
        r = requests.post(
            sidecar.url("/v1/traces"), data=gzip.compress(message), headers={**PROTOBUF, "Content-Encoding": "gzip"}, timeout=5
        )
        assert r.status_code == 200
        bomb = gzip.compress(b"\0" * (len(message) + 11))
        assert len(bomb) < len(message)
        r = requests.post(sidecar.url("/v1/traces"), data=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"}, timeout=5)
        assert r.status_code == 413 and "once decompressed" in status_message(r)
        r = requests.post(sidecar.url("/v1/traces"), data=message, headers={**PROTOBUF, "Content-Encoding": "gzip"}, timeout=5)
        assert r.status_code == 400 and "not valid gzip" in status_message(r)
        sidecar.processed()
        assert 'axonize_trace_requests_total{model="tiny-sd",customer="",status="unset"} 1.0' in sidecar.traces_text()


@pytest.mark.parametrize(
    ("body", "headers", "status", "says"),
    [
        (b"\xff\xff\xff\xff garbage", PROTOBUF, 400, "not a protobuf ExportTraceServiceRequest"),
        (b'{"hello": "world"}', JSON, 400, "no 'resourceSpans' (keys: hello)"),
        (b"[1, 2]", JSON, 400, "JSON list, not an ExportTraceServiceRequest"),
        (b"{not json", JSON, 400, "body is not JSON"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', JSON, 400, "traceId 'xyz' is not hex"),
        (b'{"resourceSpans": 7}', JSON, 400, "not an OTLP ExportTraceServiceRequest"),
        (b"x", {"Content-Type": "text/plain"}, 415, "'text/plain' is not OTLP/HTTP"),
    ],
)
def test_malformed_bodies_are_4xx_with_a_clear_message(engines, body, headers, status, says):
    with Sidecar(engines) as sidecar:
        r = requests.post(sidecar.url("/v1/traces"), data=body, headers=headers, timeout=5)
        assert r.status_code == status
        assert says in status_message(r)
        assert sidecar.metrics.http[str(status)] == 1 and sidecar.metrics.received == 0


def test_an_oversized_body_is_413_whether_or_not_its_length_is_announced(engines):
    with Sidecar(engines, max_body=1000) as sidecar:
        r = requests.post(sidecar.url("/v1/traces"), data=b"\0" * 1001, headers=PROTOBUF, timeout=5)
        assert r.status_code == 413 and "1001 bytes is over the limit of 1000" in status_message(r)
        chunked = iter([b"\0" * 600, b"\0" * 600])  # a generator body: sent chunked, no Content-Length
        r = requests.post(sidecar.url("/v1/traces"), data=chunked, headers=PROTOBUF, timeout=5)
        assert r.status_code == 413 and "over the limit of 1000 bytes" in status_message(r)


def test_invalid_spans_are_rejected_in_partial_success_and_the_rest_counted(engines):
    message = encode_spans(pipeline_spans(steps=2))
    spans = message.resource_spans[0].scope_spans[0].spans
    step0, step1 = (s for s in spans if s.name == "step")
    step0.end_time_unix_nano = step0.start_time_unix_nano - 1
    step1.start_time_unix_nano = 0
    with Sidecar(engines) as sidecar:
        r = requests.post(sidecar.url("/v1/traces"), data=message.SerializeToString(), headers=PROTOBUF, timeout=5)
        assert r.status_code == 200
        answer = ExportTraceServiceResponse()
        answer.ParseFromString(r.content)
        assert answer.partial_success.rejected_spans == 2
        assert answer.partial_success.error_message == "spans rejected: 1 negative duration; 1 no times"
        sidecar.processed()
        assert sidecar.metrics.rejected == {"negative_duration": 1, "no_times": 1}
        assert sidecar.metrics.received == len(spans)
        assert "axonize_trace_step_duration_seconds" not in sidecar.traces_text()
        assert 'axonize_trace_stages_total{model="tiny-sd",stage="denoise",status="unset"} 1.0' in sidecar.traces_text()


def test_spans_missing_the_convention_make_no_or_modelless_metrics(engines):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /health"):  # no model anywhere: an application's other spans
        with tracer.start_as_current_span("db.query"):
            pass
    with tracer.start_as_current_span("batch", attributes={"axonize.stage": "preprocess"}):  # a stage, no request
        pass
    with tracer.start_as_current_span("llm_request", attributes={"gen_ai.latency.time_in_queue": 0.5}):  # vLLM, no model
        pass
    with Sidecar(engines) as sidecar:
        body = encode_spans(memory.get_finished_spans()).SerializeToString()
        assert requests.post(sidecar.url("/v1/traces"), data=body, headers=PROTOBUF, timeout=5).status_code == 200
        sidecar.processed()
        out = sidecar.traces_text()
    assert 'axonize_trace_stage_duration_seconds_count{model="",stage="preprocess"} 1.0' in out
    assert 'axonize_trace_stage_duration_seconds_sum{model="",stage="queue"} 0.5' in out
    assert 'axonize_trace_requests_total{model="",customer="",status="unset"} 1.0' in out
    assert "health" not in out and "db.query" not in out


def test_a_burst_beyond_the_queue_is_503_with_retry_after_and_counted_while_metrics_still_answer(engines):
    bodies = [encode_spans(pipeline_spans(model=f"m{i}", steps=1)).SerializeToString() for i in range(5)]
    with Sidecar(engines, start_worker=False, queue_size=3) as sidecar:
        answers = [requests.post(sidecar.url("/v1/traces"), data=b, headers=PROTOBUF, timeout=5) for b in bodies]
        assert [r.status_code for r in answers] == [200, 200, 200, 503, 503]
        assert answers[3].headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert "queue (3 requests, --traces.queue-size) is full" in status_message(answers[3])
        for _ in range(100):  # the collection loop publishes the drops; /metrics answers all along
            scrape = requests.get(sidecar.url("/metrics"), timeout=5)
            assert scrape.status_code == 200
            if 'axonize_sidecar_spans_dropped_total{reason="queue_full"} 8.0' in scrape.text:
                break
        else:
            raise AssertionError("the drops were never published")
        assert "axonize_sidecar_otlp_queue_length 3.0" in scrape.text
        assert "axonize_inference_target_up" in scrape.text
        sidecar.loop.call_soon_threadsafe(sidecar.receiver.start_worker)
        sidecar.processed()
        out = sidecar.traces_text()
    assert [m for m in ("m0", "m1", "m2", "m3", "m4") if f'axonize_trace_requests_total{{model="{m}"' in out] == ["m0", "m1", "m2"]


def test_forwarding_delivers_the_bodies_unchanged_and_counts_failures(engines):
    received: list[tuple[bytes, str, str]] = []

    async def upstream(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers["Content-Type"], request.headers.get("Content-Encoding", "")))
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(), content_type="application/x-protobuf")

    message = encode_spans(pipeline_spans())
    sent = [
        (message.SerializeToString(), "application/x-protobuf", ""),
        (gzip.compress(message.SerializeToString()), "application/x-protobuf", "gzip"),
        (otlp_json(message), "application/json", ""),
    ]

    def build() -> web.Application:
        app = web.Application(handler_args={"auto_decompress": False})  # the bytes as they came over the wire
        app.router.add_post("/v1/traces", upstream)
        return app

    with LoopbackApp(build, "forwarding target") as tempo:
        with Sidecar(engines, forward=tempo.url("/v1/traces")) as sidecar:
            for body, kind, coding in sent:
                headers = {"Content-Type": kind, **({"Content-Encoding": coding} if coding else {})}
                assert requests.post(sidecar.url("/v1/traces"), data=body, headers=headers, timeout=5).status_code == 200
            for _ in range(1000):
                if sidecar.metrics.forwarded == 3:
                    break
                sidecar.processed()
            assert sidecar.metrics.forwarded == 3
    assert sorted(received) == sorted(sent)

    with Sidecar(engines, forward="http://127.0.0.1:9/v1/traces") as sidecar:  # discard port: nothing listens
        r = requests.post(sidecar.url("/v1/traces"), data=sent[0][0], headers=PROTOBUF, timeout=5)
        assert r.status_code == 200
        for _ in range(1000):
            if sidecar.metrics.forward_errors["connect"] == 1:
                break
            sidecar.processed()
        assert sidecar.metrics.forward_errors == {"connect": 1} and sidecar.metrics.forwarded == 0
