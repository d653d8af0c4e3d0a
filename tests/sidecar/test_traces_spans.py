"""The span convention's parts without the HTTP server: joining across batches and its bounds, label folding,
and GPU attribution of a request span by ``process.pid`` (a real process, NVML from a real capture)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from axonize.sidecar.attribution import ProcessGpus
from axonize.sidecar.spans import Joiner, SpanRecord
from axonize.sidecar.trace_metrics import TraceMetrics
from axonize.sidecar.trace_receiver import RequestGpus
from tests.conftest import DEMO_Q
from tests.fake_nvml import FakeNvml
from tests.sidecar.test_attribution import on_gpu

TRACE = b"t" * 16


def span(name: str, span_id: bytes, parent: bytes = b"", start: int = 1_000, end: int = 3_000, **kw) -> SpanRecord:
    return SpanRecord(TRACE, span_id.ljust(8, b"."), parent.ljust(8, b".") if parent else b"", name, start, end, **kw)


def test_a_step_waits_for_its_stage_and_request_across_batches():
    joiner = Joiner(timeout=10)
    step = span("step", b"s", b"d", step=4)
    assert joiner.add([step], now=0) == []
    assert joiner.add([span("denoise", b"d", b"r", stage="unet")], now=1) == []
    joined = joiner.add([span("pipeline", b"r", model="tiny-sd")], now=2)
    assert {(j.span.name, j.request.name, j.stage) for j in joined} == {
        ("step", "pipeline", "unet"),
        ("denoise", "pipeline", "unet"),
        ("pipeline", "pipeline", ""),
    }
    assert joiner.kept == 3
    late = joiner.add([span("vae_decode", b"v", b"r")], now=3)  # ends after its request was seen: still joined
    assert [(j.stage, j.request.model) for j in late] == [("vae_decode", "tiny-sd")]


def test_spans_whose_request_never_comes_expire_as_orphans_and_memory_is_bounded():
    joiner = Joiner(timeout=10, max_spans=3)
    joiner.add([span("step", b"s", b"lost", step=1), span("helper", b"h", b"lost")], now=0)
    assert joiner.expire(now=9) == []
    orphans = joiner.expire(now=10)
    assert [(j.span.name, j.request, j.stage) for j in orphans] == [("step", None, "step")]  # the helper says no stage
    assert joiner.dropped["orphaned"] == 1 and joiner.kept == 0
    for i in range(5):  # five traces of one waiting span each: the oldest two are forgotten
        trace = SpanRecord(bytes([i]) * 16, b"s" * 8, b"p" * 8, "step", 1, 2, step=0)
        joiner.add([trace], now=20)
    assert joiner.kept == 3 and joiner.dropped["pending_full"] == 2


def test_label_values_fold_into_other_beyond_their_bounds():
    metrics = TraceMetrics(max_step=2, max_values=2)
    joiner = Joiner()
    records = []
    for i, model in enumerate(("a", "b", "c")):
        root = SpanRecord(bytes([i]) * 16, b"r" * 8, b"", "pipeline", 0, 1_000_000_000, model=model, customer=model)
        steps = [SpanRecord(root.trace_id, bytes([k]) * 8, b"r" * 8, "step", 0, 500_000_000, step=k) for k in range(4)]
        records += [*steps, root]
    metrics.observe(joiner.add(records, now=0), lambda s: ("GPU-0",))
    assert set(metrics.requests) == {("a",), ("b",), ("other",)}
    assert {key[2] for key in metrics.steps} == {"0", "1", "2", "other"}
    assert metrics.steps[("a", "step", "other")].count == 1 and metrics.steps[("a", "step", "other")].sum == 0.5
    assert metrics.gpu_seconds == {("a", "a", "GPU-0"): 1.0, ("b", "b", "GPU-0"): 1.0, ("other", "other", "GPU-0"): 1.0}
    assert metrics.request_count == {("a", "a", "unset"): 1, ("b", "b", "unset"): 1, ("other", "other", "unset"): 1}


def test_device_uuids_fold_into_other_beyond_their_bound():
    """The request span names its devices: a sender naming many makes at most max_values series, the rest 'other'."""
    metrics = TraceMetrics(max_values=2)
    request = span("pipeline", b"r", start=0, end=1_000_000_000, model="sd")
    metrics.observe(Joiner().add([request], now=0), lambda s: ("GPU-a", "GPU-b", "GPU-c", "GPU-d"))
    assert metrics.gpu_seconds == {("sd", "", "GPU-a"): 1.0, ("sd", "", "GPU-b"): 1.0, ("sd", "", "other"): 2.0}


def test_step_events_are_timed_from_the_previous_event_and_not_past_events_the_sdk_dropped():
    """Step events on a stage: step 0 from the stage's start, each next one from the previous event. When the
    sender's SDK dropped some of the span's events (its oldest), the first kept one has no known start: it is
    counted as step_events_lost, not timed from the stage's start (which would make it look slow)."""
    ms = 1_000_000
    events = ((0, 110 * ms), (1, 130 * ms), (2, 160 * ms))
    for lost, expected in ((False, {"0": 0.01, "1": 0.02, "2": 0.03}), (True, {"1": 0.02, "2": 0.03})):
        metrics = TraceMetrics()
        request = span("pipeline", b"r", start=0, end=200 * ms, model="sd")
        stage = span("denoise", b"d", b"r", start=100 * ms, end=170 * ms, stage="denoise", step_events=events, events_lost=lost)
        metrics.observe(Joiner().add([stage, request], now=0), lambda s: ())
        got = {key[2]: round(hist.sum, 9) for key, hist in metrics.steps.items()}
        assert got == expected
        assert metrics.dropped["step_events_lost"] == (1 if lost else 0)


def test_a_request_s_gpu_seconds_go_to_each_of_its_devices_once():
    """A 2-GPU request adds its whole duration to each GPU's series (the rules price each uuid); a UUID listed
    twice counts once; a request with no known GPU counts as a request and adds no GPU time."""
    metrics = TraceMetrics()
    two = span("pipeline", b"r", start=0, end=1_500_000_000, model="sd", customer="acme")
    none = SpanRecord(b"u" * 16, b"q" * 8, b"", "pipeline", 0, 4_000_000_000, model="sd")
    devices = {two.span_id: ("GPU-a", "MIG-b", "GPU-a"), none.span_id: ()}
    metrics.observe(Joiner().add([two, none], now=0), lambda s: devices[s.span_id])
    assert metrics.gpu_seconds == {("sd", "acme", "GPU-a"): 1.5, ("sd", "acme", "MIG-b"): 1.5}
    assert metrics.request_count == {("sd", "acme", "unset"): 1, ("sd", "", "unset"): 1}


@pytest.fixture
def worker():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait(10)


def test_a_request_span_s_process_pid_finds_its_gpus_through_nvml(worker):
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    a, b = on_gpu(fake, 2, worker), on_gpu(fake, 3, worker)
    gpus = RequestGpus(ProcessGpus(nvml=fake, host_pids=True).by_pid, lambda: {"tiny-sd": ("GPU-served",)}, hostnames=["node-1"])
    here = span("pipeline", b"r", model="tiny-sd", pid=worker, host="node-1")
    elsewhere = span("pipeline", b"r2", model="tiny-sd", pid=worker, host="node-2")
    explicit = span("pipeline", b"r3", model="tiny-sd", pid=worker, gpus=("MIG-given",))
    asyncio.run(gpus.prepare([here, elsewhere, explicit]))
    assert gpus(here) == tuple(sorted((a, b)))
    assert gpus(elsewhere) == ("GPU-served",), "another host's PID: the GPUs of the targets serving the model"
    assert gpus(explicit) == ("MIG-given",)
    metrics = TraceMetrics()
    metrics.observe(Joiner().add([here], now=0), gpus)
    assert metrics.gpu_seconds == {("tiny-sd", "", a): pytest.approx(2e-6), ("tiny-sd", "", b): pytest.approx(2e-6)}


def test_otlp_dropped_events_count_marks_a_span_s_events_as_lost():
    """``dropped_events_count`` of the OTLP span (the sender's SDK dropped events) becomes ``events_lost``."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from axonize.sidecar.spans import extract

    message = ExportTraceServiceRequest()
    scope = message.resource_spans.add().scope_spans.add()
    for span_id, dropped in ((b"a" * 8, 0), (b"b" * 8, 3)):
        otlp = scope.spans.add(trace_id=TRACE, span_id=span_id, name="denoise", start_time_unix_nano=1, end_time_unix_nano=2)
        otlp.dropped_events_count = dropped
        event = otlp.events.add(time_unix_nano=2, name="step")
        event.attributes.add(key="axonize.step").value.int_value = 7
    records, rejected, seen = extract(message)
    assert seen == 2 and not rejected
    assert [(r.events_lost, r.step_events) for r in records] == [(False, ((7, 2),)), (True, ((7, 2),))]
