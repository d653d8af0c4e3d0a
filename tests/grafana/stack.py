"""Real Prometheus servers for the dashboard tests, each with rules/*.rules.yml loaded and 1 s scrapes.

:func:`healthy`: ``axonize-exporter --replay`` of the demo's 8x H100 (with its HGX topology) and of the H200 MIG
capture (with its ``nvidia-smi -L``), a static server of the real H200 exporter exposition (NVML backend, GPM:
SM active, energy), and ``axonize-sidecar`` on the demo's real vLLM capture (axonize.demo.CaptureReplay), its
traces receiver fed by :class:`Spans` (the real OpenTelemetry SDK) and pricing them from the 8x H100 exporter.
:func:`faults`: the exporter replaying the fault captures of axonize/demo_data/faults/ (a x8 PCIe link, a lost GPU,
the kernel log's XIDs).
:func:`nvml`: the NVML backend on the fake NVML (tests/fake_nvml) fed from the 8x H100 capture with its HGX topology
(NVLink state and counters) and from the H200 MIG capture, with GPM activity declared per GPU and per MIG GPU
instance (no capture holds GPM).
"""

from __future__ import annotations

import contextlib
import http.server
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from axonize import demo
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.conftest import DEMO, DEMO_Q, DEMO_TOPO, NVIDIA, ROOT, require_binary
from tests.fake_nvml import scenario_env

MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]
H200_EXPOSITION = NVIDIA / "h200-real" / "h200_drv580_axonize-exporter_load.prom"
FAULTS = DEMO / "faults"
FAULT_CAPTURES = [
    [FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults.txt"],
    [FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt", "--replay.kernel-log", FAULTS / "kernel-xid.log"],
]


def rule_files() -> list[str]:
    return [str(p) for p in sorted((ROOT / "rules").glob("*.rules.yml"))]


def exporter(captures: list, started: list, tmp: Path, env: dict[str, str] | None = None) -> str:
    """``axonize-exporter --replay`` of ``captures`` (paths and flags) at a 1 s interval; its host:port.
    No ``captures``: the NVML backend (with ``env`` giving it the fake NVML)."""
    port = free_port()
    proc = ManagedProcess(
        "axonize-exporter",
        [
            sys.executable,
            "-m",
            "axonize.exporter",
            *(["--replay", *map(str, captures)] if captures else []),
            "--collect.interval",
            "1s",
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ],
        str(tmp / f"exporter-{port}.log"),
        env=env,
    )
    started.append(proc)
    wait_http(f"http://127.0.0.1:{port}/-/ready", 30, proc)
    return f"127.0.0.1:{port}"


def static(text: str, started: list) -> str:
    """A /metrics answering ``text`` (a captured exposition); its host:port."""
    body = text.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started.append(_Stopper(server))
    return f"127.0.0.1:{server.server_address[1]}"


class _Stopper:
    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self.server = server

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Spans:
    """A traced request of the capture's model every ``period`` seconds, sent to the sidecar at ``base`` by the real
    OpenTelemetry SDK (explicit start and end times, no sleeping): on :data:`demo.DEMO_GPU_UUID`, with a ``prefill``
    stage and a ``denoise`` stage of :data:`STEPS` steps whose last takes :data:`SLOW` times the others (a slow step).
    """

    MODEL = "tinyllama"
    STEP_S = 0.02
    STEPS = 4
    SLOW = 3

    def __init__(self, base: str, period: float = 1.0) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": "grafana-test"}))
        self.provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=5)))
        self.tracer = self.provider.get_tracer("tests.grafana")
        self.period = period
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="grafana-spans", daemon=True)
        self.thread.start()

    def request(self) -> None:
        steps = [self.STEP_S] * (self.STEPS - 1) + [self.STEP_S * self.SLOW]
        prefill = 0.05
        end = time.time_ns()
        start = end - int((prefill + sum(steps)) * 1e9)
        attributes = {"gen_ai.request.model": self.MODEL, "axonize.customer": "acme", "axonize.gpu.uuid": [demo.DEMO_GPU_UUID]}
        root = self.tracer.start_span("request", attributes=attributes, start_time=start)
        with_root = trace.set_span_in_context(root)
        at = start
        span = self.tracer.start_span("prefill", context=with_root, start_time=at)
        at += int(prefill * 1e9)
        span.end(end_time=at)
        stage = self.tracer.start_span("denoise", context=with_root, start_time=at)
        in_stage = trace.set_span_in_context(stage)
        for i, seconds in enumerate(steps):
            step = self.tracer.start_span("step", context=in_stage, attributes={"axonize.step": i}, start_time=at)
            at += int(seconds * 1e9)
            step.end(end_time=at)
        stage.end(end_time=at)
        root.end(end_time=end)

    def _loop(self) -> None:
        while not self.done.is_set():
            self.request()
            self.done.wait(self.period)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)
        self.provider.shutdown()


@contextlib.contextmanager
def running(targets: dict[str, list[str]], started: list) -> Iterator[PrometheusServer]:
    prom = PrometheusServer(targets, "1s", rule_files=rule_files(), binary=require_binary("prometheus"))
    try:
        with prom:
            yield prom
    finally:
        for thing in reversed(started):
            thing.stop()


@contextlib.contextmanager
def healthy(tmp: Path) -> Iterator[PrometheusServer]:
    started: list = []
    replay = demo.CaptureReplay(Path(demo.vllm_capture()).read_text(), demo.REPLAY_PERIOD_S)
    started.append(replay)
    exporters = [exporter([DEMO_Q, DEMO_TOPO], started, tmp), exporter(MIG, started, tmp), static(H200_EXPOSITION.read_text(), started)]
    sidecar = demo.start_sidecar(str(tmp), replay.url, started, prices_url=f"http://{exporters[0]}/metrics")
    started.append(Spans(f"http://{sidecar}"))
    with running({"axonize-exporter": exporters, "axonize-sidecar": [sidecar]}, started) as prom:
        prom.wait_for("axonize_gpu_info", timeout=30, min_results=10)
        prom.wait_for("axonize_inference_server_gpu_info", timeout=30)
        prom.wait_for("model:axonize_inference_cost_per_million_tokens:dollars", timeout=60)
        prom.wait_for("gpu:axonize_efficiency_grade:info", timeout=30, min_results=9)  # the MIG GPU has no score
        prom.wait_for("count_over_time(axonize_gpu_up[30s]) > 3", timeout=30)
        prom.wait_for("count_over_time(axonize_trace_request_cost_dollars_count[30s]) > 3", timeout=30)
        prom.wait_for("model_stage_step:axonize_trace_step_duration_seconds:ratio_to_mean_rate5m > 1.2", timeout=30)
        yield prom


@contextlib.contextmanager
def faults(tmp: Path) -> Iterator[PrometheusServer]:
    started: list = []
    exporters = [exporter(captures, started, tmp) for captures in FAULT_CAPTURES]
    with running({"axonize-exporter": exporters}, started) as prom:
        prom.wait_for("axonize_gpu_fault_info", timeout=30)
        prom.wait_for("count_over_time(axonize_gpu_xid_errors_total[30s]) > 3", timeout=30)
        yield prom


#: GPM activity for the fake NVML: every H100 and each MIG GPU instance of the H200 (ids from its nvidia-smi -L).
NVML_GPM = {
    "h100": {i: {"sm_active": 0.5 + 0.05 * i, "tensor_active": 0.1 * i} for i in range(8)},
    "mig": {(0, gi): {"sm_active": 0.2 * n + 0.1} for n, gi in enumerate((2, 3, 9, 10))},
}


@contextlib.contextmanager
def nvml(tmp: Path) -> Iterator[PrometheusServer]:
    started: list = []
    exporters = [
        exporter([], started, tmp, scenario_env([DEMO_Q, DEMO_TOPO], gpm=NVML_GPM["h100"])),
        exporter([], started, tmp, scenario_env(MIG, gpm=NVML_GPM["mig"])),
    ]
    with running({"axonize-exporter": exporters}, started) as prom:
        prom.wait_for("axonize_mig_sm_active_ratio", timeout=30)
        prom.wait_for("count_over_time(axonize_gpu_nvlink_transmit_bytes_total[30s]) > 3", timeout=30)
        yield prom
