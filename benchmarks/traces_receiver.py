"""The sidecar's OTLP/HTTP traces receiver: spans per second and CPU per 1,000 spans.

The real ``axonize-sidecar`` (one fake vLLM target on loopback, collecting every second) receives
``--requests`` OTLP/HTTP protobuf bodies, each the OpenTelemetry SDK's encoding of ``--pipelines`` diffusion-
shaped traces (a request span, text_encode, a denoise stage with ``--steps`` step spans, vae_decode: 23
spans at 20 steps). ``--clients`` threads post them on keep-alive connections; a 503 (queue full) is
retried after a short pause, as an exporter honouring Retry-After would. The run ends when the
sidecar's counters say every span was turned into metrics.

Figures, per round (``--rounds``): spans/s over the wall time from the first POST to the last span counted,
and the sidecar process's CPU time (user + system, psutil) per 1,000 spans; min / median / max over rounds.
The clients' own CPU is not counted.

    .venv/bin/python benchmarks/traces_receiver.py [--requests 200] [--pipelines 20] [--steps 20] [--clients 4] [--rounds 3]

Measured (issue 17, 2-core development machine shared with other work, --requests 500): median 48,200 spans/s
(the wall time ends at the collection cycle that shows the last span, so a lower bound), 15.6 ms of the
sidecar's CPU per 1,000 spans (min 14.8, max 16.0).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import requests  # noqa: E402
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from axonize.processes import free_port, wait_http  # noqa: E402
from tests.sidecar.servers import FakeEngines  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "inference" / "vllm-0.33.0-v1.synthetic.prom"


def body(pipelines: int, steps: int) -> tuple[bytes, int]:
    """One request body (protobuf) of ``pipelines`` traces, and its span count."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(pipelines):
        with tracer.start_as_current_span("pipeline", attributes={"gen_ai.request.model": "tiny-sd", "axonize.customer": f"c{i % 5}"}):
            with tracer.start_as_current_span("text_encode"):
                pass
            with tracer.start_as_current_span("denoise"):
                for step in range(steps):
                    with tracer.start_as_current_span("step", attributes={"axonize.step": step}):
                        pass
            with tracer.start_as_current_span("vae_decode"):
                pass
    spans = memory.get_finished_spans()
    return encode_spans(spans).SerializeToString(), len(spans)


def counted(base: str) -> float:
    """Spans turned into metrics so far: the step, stage and request histograms' counts, per the exposition."""
    text = requests.get(f"{base}/metrics", timeout=10).text
    wanted = {f"axonize_trace_{kind}_duration_seconds_count" for kind in ("request", "stage", "step")}
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name in wanted)


def post_all(url: str, payload: bytes, n: int, clients: int) -> int:
    """POST ``payload`` ``n`` times from ``clients`` threads; the 503s retried. Returns the retries."""
    retries = [0]
    lock = threading.Lock()
    todo = iter(range(n))

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                if next(todo, None) is None:
                    return
            while True:
                r = session.post(url, data=payload, headers={"Content-Type": "application/x-protobuf"}, timeout=30)
                if r.status_code == 200:
                    break
                if r.status_code != 503:
                    raise SystemExit(f"HTTP {r.status_code}: {r.text[:200]}")
                with lock:
                    retries[0] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return retries[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pipelines", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    payload, per_body = body(args.pipelines, args.steps)
    print(f"body: {len(payload):,} bytes, {per_body} spans; {args.requests} bodies per round, {args.clients} clients")
    rates, cpus = [], []
    with FakeEngines() as engines:
        engines.serve("/vllm", FIXTURE.read_text())
        port = free_port()
        command = [sys.executable, "-m", "axonize.sidecar", "--target", engines.url("/vllm"), "--web.listen-address", f"127.0.0.1:{port}"]
        proc = subprocess.Popen([*command, "--collect.interval", "1s", "--collect.timeout", "1s", "--attribution.source", "config"])
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/-/ready", 30)
            sidecar = psutil.Process(proc.pid)
            post_all(f"{base}/v1/traces", payload, 10, args.clients)  # warm-up
            while counted(base) < 10 * per_body:
                time.sleep(0.2)
            for _ in range(args.rounds):
                before, cpu0, start = counted(base), sum(sidecar.cpu_times()[:2]), time.perf_counter()
                retries = post_all(f"{base}/v1/traces", payload, args.requests, args.clients)
                goal = before + args.requests * per_body
                while (now := counted(base)) < goal:
                    time.sleep(0.05)
                wall, cpu = time.perf_counter() - start, sum(sidecar.cpu_times()[:2]) - cpu0
                spans = args.requests * per_body
                rates.append(spans / wall)
                cpus.append(cpu / spans * 1000)
                print(
                    f"round: {spans:,} spans in {wall:.2f} s = {spans / wall:,.0f} spans/s; CPU {cpu / spans * 1e6:.1f} ms per 1,000 spans; "
                    f"{retries} retried after 503; counted {now - before:,.0f}"
                )
        finally:
            proc.terminate()
            proc.wait(15)
    for name, values, unit in (("spans/s", rates, ""), ("CPU per 1,000 spans", [c * 1000 for c in cpus], " ms")):
        print(f"{name}: min {min(values):,.1f}{unit}, median {statistics.median(values):,.1f}{unit}, max {max(values):,.1f}{unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
