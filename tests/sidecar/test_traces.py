"""The installed ``axonize-sidecar`` receiving spans from the real OpenTelemetry SDK over OTLP/HTTP on loopback.

An ``InMemorySpanExporter`` beside the OTLP exporter keeps what the SDK recorded, so every count and sum
of the sidecar's histograms is checked against the SDK's own span durations.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from axonize.processes import free_port, wait_http
from tests.conftest import FIXTURES
from tests.sidecar.servers import FakeEngines
from tests.sidecar.test_cli import sidecar_command

STEPS = 6


@pytest.fixture
def sidecar():
    """``(base URL, engines)``: the real sidecar with one fake vLLM target, collecting every 200 ms."""
    with FakeEngines() as engines:
        engines.serve("/vllm", (FIXTURES / "inference" / "vllm-0.33.0-v1.synthetic.prom").read_text())
        port = free_port()
        proc = subprocess.Popen(
            [
                sidecar_command(),
                "--target",
                engines.url("/vllm"),
                "--web.listen-address",
                f"127.0.0.1:{port}",
                "--collect.interval",
                "200ms",
                "--collect.timeout",
                "200ms",
                "--attribution.source",
                "config",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/-/ready", 30)
            yield base
        finally:
            proc.terminate()
            output = proc.communicate(timeout=15)[0]
        assert proc.returncode == 0, output


def tracer_provider(base: str, resource: Resource | None = None) -> tuple[TracerProvider, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "pipeline-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


def samples(base: str) -> dict[tuple[str, frozenset], float]:
    text = requests.get(f"{base}/metrics", timeout=5).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if "le" not in s.labels
    }


def wait_for(base: str, name: str, labels: dict, value: float) -> dict:
    """The samples once ``name{labels}`` reached ``value`` (the worker and the next collection cycle ran)."""
    key = (name, frozenset(labels.items()))
    for _ in range(200):
        got = samples(base)
        if got.get(key) == value:
            return got
        requests.get(f"{base}/-/healthy", timeout=5)  # a round trip between looks, no sleep
    raise AssertionError(f"{name}{labels} never reached {value}: {got.get(key)}")


def seconds(span) -> float:
    return (span.end_time - span.start_time) / 1e9


def test_sdk_spans_become_histograms_whose_sums_are_the_recorded_durations(sidecar):
    provider, memory = tracer_provider(sidecar)
    tracer = provider.get_tracer("test")
    for request in range(3):
        attributes = {"gen_ai.request.model": "tiny-sd", "axonize.customer": "acme", "axonize.gpu.uuid": ["GPU-a", "GPU-b"]}
        with tracer.start_as_current_span("pipeline", attributes=attributes) as root:
            with tracer.start_as_current_span("text_encode"):
                pass
            with tracer.start_as_current_span("unet", attributes={"axonize.stage": "denoise"}):
                for step in range(STEPS):
                    with tracer.start_as_current_span("step", attributes={"axonize.step": step}):
                        pass
            with tracer.start_as_current_span("vae_decode") as vae:
                for step in range(2):  # steps as events on the stage span
                    vae.add_event("tile", {"axonize.step": step})
            if request == 2:
                root.set_status(Status(StatusCode.ERROR, "out of memory"))
    provider.force_flush()
    provider.shutdown()
    spans = memory.get_finished_spans()
    assert len(spans) == 3 * (1 + 1 + 1 + STEPS + 1)

    got = wait_for(sidecar, "axonize_trace_requests_total", {"model": "tiny-sd", "customer": "acme", "status": "error"}, 1)
    assert got[("axonize_trace_requests_total", frozenset({"model": "tiny-sd", "customer": "acme", "status": "unset"}.items()))] == 2
    expected: dict[tuple[str, frozenset], list[float]] = defaultdict(list)
    for span in spans:
        if span.name == "pipeline":
            expected[("axonize_trace_request_duration_seconds", frozenset({"model": "tiny-sd"}.items()))].append(seconds(span))
        elif span.name == "step":
            labels = {"model": "tiny-sd", "stage": "denoise", "step": str(span.attributes["axonize.step"])}
            expected[("axonize_trace_step_duration_seconds", frozenset(labels.items()))].append(seconds(span))
        else:
            stage = span.attributes.get("axonize.stage", span.name)
            expected[("axonize_trace_stage_duration_seconds", frozenset({"model": "tiny-sd", "stage": stage}.items()))].append(
                seconds(span)
            )
            start = span.start_time
            for event in span.events:
                labels = {"model": "tiny-sd", "stage": stage, "step": str(event.attributes["axonize.step"])}
                expected[("axonize_trace_step_duration_seconds", frozenset(labels.items()))].append((event.timestamp - start) / 1e9)
                start = event.timestamp
    assert len(expected) == 1 + 3 + STEPS + 2
    for (family, labels), durations in expected.items():
        assert got[(family + "_count", labels)] == len(durations), (family, labels)
        assert got[(family + "_sum", labels)] == pytest.approx(sum(durations), rel=1e-9, abs=1e-12), (family, labels)
    for uuid in ("GPU-a", "GPU-b"):  # a 2-GPU request: its whole duration on each of its GPUs
        labels = frozenset({"model": "tiny-sd", "customer": "acme", "uuid": uuid}.items())
        assert got[("axonize_trace_request_gpu_seconds_total", labels)] == pytest.approx(
            sum(seconds(s) for s in spans if s.name == "pipeline"), rel=1e-9
        )
    assert len([key for key in got if key[0] == "axonize_trace_request_gpu_seconds_total"]) == 2
    assert got[("axonize_sidecar_spans_received_total", frozenset())] == len(spans)
    assert got[("axonize_sidecar_spans_dropped_total", frozenset({"reason": "queue_full"}.items()))] == 0


def test_a_vllm_llm_request_span_gives_queue_prefill_and_decode(sidecar):
    """vLLM's span (its attribute names, vllm/tracing.py SpanAttributes); the model from OTEL_SERVICE_NAME."""
    provider, memory = tracer_provider(sidecar, Resource.create({"service.name": "Qwen/Qwen3-0.6B"}))
    tracer = provider.get_tracer("vllm.entrypoints")
    latencies = [(0.5, 0.25, 1.75), (0.125, 0.0625, 3.0)]
    for queue, prefill, decode in latencies:
        attributes = {
            "gen_ai.request.id": "cmpl-1",
            "gen_ai.latency.time_in_queue": queue,
            "gen_ai.latency.time_in_model_prefill": prefill,
            "gen_ai.latency.time_in_model_decode": decode,
            "gen_ai.latency.time_to_first_token": queue + prefill,
            "gen_ai.latency.e2e": queue + prefill + decode,
        }
        with tracer.start_as_current_span("llm_request", attributes=attributes):
            pass
    provider.force_flush()
    provider.shutdown()
    got = wait_for(sidecar, "axonize_trace_requests_total", {"model": "Qwen/Qwen3-0.6B", "customer": "", "status": "unset"}, 2)
    for i, stage in enumerate(("queue", "prefill", "decode")):
        labels = frozenset({"model": "Qwen/Qwen3-0.6B", "stage": stage}.items())
        assert got[("axonize_trace_stage_duration_seconds_count", labels)] == 2
        assert got[("axonize_trace_stage_duration_seconds_sum", labels)] == sum(row[i] for row in latencies)
    durations = sum(seconds(s) for s in memory.get_finished_spans())
    request = frozenset({"model": "Qwen/Qwen3-0.6B"}.items())
    assert got[("axonize_trace_request_duration_seconds_sum", request)] == pytest.approx(durations, rel=1e-9)


def test_stages_sent_before_their_request_are_joined_when_it_comes(sidecar):
    """A batching exporter sends children as they end: here in an earlier request than their parent."""
    provider, memory = tracer_provider(sidecar)
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("pipeline", attributes={"gen_ai.request.model": "late"}):
        with tracer.start_as_current_span("encode"):
            pass
        provider.force_flush()  # "encode" goes out alone
        assert requests.get(f"{sidecar}/metrics", timeout=5).status_code == 200
    provider.force_flush()
    provider.shutdown()
    got = wait_for(sidecar, "axonize_trace_stage_duration_seconds_count", {"model": "late", "stage": "encode"}, 1)
    assert got[("axonize_trace_request_duration_seconds_count", frozenset({"model": "late"}.items()))] == 1
    assert ("axonize_trace_stage_duration_seconds_count", frozenset({"model": "", "stage": "encode"}.items())) not in got
    assert len(memory.get_finished_spans()) == 2
