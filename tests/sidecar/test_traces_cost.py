"""Cost per traced request end to end: the real exporter replaying a real H200 in MIG mode, the installed sidecar
reading its prices (``--traces.prices.url``) and receiving spans from the real OpenTelemetry SDK, and a real
Prometheus scraping both with the committed rules (rules/cost.rules.yml, rules/inference.rules.yml).

A request on two MIG devices of different GPU instances (one shared by two compute instances) costs its seconds x
the two devices' $/hour / 3600, with the prices the rule ``uuid:axonize_gpu_cost:dollars_per_hour`` gives them; the
histogram's mean agrees with the busy-time rule's $ per request; a request naming a device the exporter does not
price is counted unpriced, not dropped.
"""

from __future__ import annotations

import sys
import time

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from axonize.names.traces import COST_BUCKETS
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.conftest import FIXTURES, ROOT, require_binary, requires, samples, total
from tests.sidecar.servers import FakeEngines
from tests.sidecar.test_cli import sidecar_command
from tests.sidecar.test_traces_prices import H200_MIG

pytestmark = pytest.mark.integration

MODEL = "tiny-sd"
#: MIG devices of the capture: GPU instance 2 (two compute instances share its price) and GPU instance 3 (one).
TWO_DEVICES = ["MIG-00000001-0000-0000-0000-000000000001", "MIG-00000002-0000-0000-0000-000000000002"]
WARM_UP_SECONDS = 2.0
MEASURED_SECONDS = (1.5, 0.25, 4.0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``(sidecar base URL, Prometheus)``: exporter -> sidecar prices, both scraped every second with the rules loaded."""
    require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("trace-cost")
    started: list = []
    with FakeEngines() as engines:
        target = engines.serve("/vllm", (FIXTURES / "inference" / "vllm-0.33.0-v1.synthetic.prom").read_text())
        try:
            exporter_port = free_port()
            exporter = ManagedProcess(
                "exporter",
                [sys.executable, "-m", "axonize.exporter", "--replay", *map(str, H200_MIG)]
                + ["--web.listen-address", f"127.0.0.1:{exporter_port}", "--collect.interval", "1s"],
                str(tmp / "exporter.log"),
            )
            started.append(exporter)
            wait_http(f"http://127.0.0.1:{exporter_port}/-/ready", 30, exporter)
            port = free_port()
            sidecar = ManagedProcess(
                "sidecar",
                [sidecar_command(), "--target", target, "--attribution.source", "config", "--collect.interval", "1s"]
                + ["--collect.timeout", "1s", "--web.listen-address", f"127.0.0.1:{port}"]
                + ["--traces.prices.url", f"http://127.0.0.1:{exporter_port}/metrics"],
                str(tmp / "sidecar.log"),
            )
            started.append(sidecar)
            wait_http(f"http://127.0.0.1:{port}/-/ready", 30, sidecar)
            rules = [str(ROOT / "rules" / "cost.rules.yml"), str(ROOT / "rules" / "inference.rules.yml")]
            targets = {"axonize-exporter": [f"127.0.0.1:{exporter_port}"], "axonize-sidecar": [f"127.0.0.1:{port}"]}
            with PrometheusServer(targets, "1s", rule_files=rules) as prom:
                prom.wait_for("uuid:axonize_gpu_cost:dollars_per_hour", min_results=len(TWO_DEVICES) + 1)
                yield f"http://127.0.0.1:{port}", prom
        finally:
            for proc in reversed(started):
                proc.stop()


def send(provider: TracerProvider, seconds: float, customer: str, gpus: list[str]) -> None:
    """One request span of ``seconds`` (explicit start and end times: no sleeping) naming ``gpus``."""
    end = time.time_ns()
    attributes = {"gen_ai.request.model": MODEL, "axonize.customer": customer, "axonize.gpu.uuid": gpus}
    span = provider.get_tracer("test").start_span("pipeline", attributes=attributes, start_time=end - int(seconds * 1e9))
    span.end(end_time=end)


def value(prom: PrometheusServer, promql: str, at: float) -> float:
    (row,) = prom.query(promql, at=at)
    return float(row["value"][1])


@requires("prometheus")
def test_a_two_device_request_costs_its_seconds_times_both_prices_and_agrees_with_the_rules(stack):
    base, prom = stack
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "pipeline-app"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    acme = '{customer="acme"}'

    # Warm-up: every series exists in Prometheus before the measured requests (rate() sees no birth).
    send(provider, WARM_UP_SECONDS, "acme", TWO_DEVICES)
    prom.wait_for(f"axonize_trace_request_cost_dollars_count{acme} >= 1")
    prom.wait_for(f"axonize_trace_request_gpu_seconds_total{acme}", min_results=len(TWO_DEVICES))
    for seconds in MEASURED_SECONDS:
        send(provider, seconds, "acme", TWO_DEVICES)
    send(provider, 1.0, "globex", [TWO_DEVICES[0], "GPU-not-on-this-host"])
    provider.shutdown()
    prom.wait_for(f"sum(axonize_trace_requests_total) >= {2 + len(MEASURED_SECONDS)}")
    final = time.time()  # every later rule evaluation reads the final counts
    # rate() extrapolates a young series towards the window's start only as far as its zero point (sampled span x
    # first value / increase), which differs between _sum and _count; from 1.1 scrape intervals on it is half an
    # interval for every series. With the warm-up a third of the increase, 6 samples (5 s) are past that.
    prom.wait_for(f"count_over_time(axonize_trace_request_cost_dollars_count{acme}[5m]) >= 6")
    (row,) = prom.wait_for(f"timestamp(customer_model:axonize_trace_cost_per_request:dollars{acme}) > {final}")
    at = float(row["value"][1])  # the rule's evaluation: the expressions below read the same samples

    # The sidecar's own numbers: seconds as the SDK recorded them x the rule's prices of the two devices.
    price = {uuid: value(prom, f'uuid:axonize_gpu_cost:dollars_per_hour{{uuid="{uuid}"}}', at) for uuid in TWO_DEVICES}
    gi2 = value(prom, 'mig:axonize_mig_cost:dollars_per_hour{gpu_instance_id="2"}', at)
    assert price[TWO_DEVICES[0]] == pytest.approx(gi2 / 2), "GPU instance 2's price shared by its two compute instances"
    spans = [s for s in memory.get_finished_spans() if s.attributes["axonize.customer"] == "acme"]
    seconds = [(s.end_time - s.start_time) / 1e9 for s in spans]
    assert seconds == pytest.approx([WARM_UP_SECONDS, *MEASURED_SECONDS])
    per_second = sum(price.values()) / 3600
    exposed = samples(requests.get(f"{base}/metrics", timeout=5).text)
    labels = {"model": MODEL, "customer": "acme"}
    assert total(exposed, "axonize_trace_request_cost_dollars_sum", **labels) == pytest.approx(sum(seconds) * per_second, rel=1e-12)
    assert total(exposed, "axonize_trace_request_cost_dollars_count", **labels) == len(spans)

    # The histogram's mean over the window (the measured requests: the warm-up was already scraped) equals the
    # busy-time rule's $ per request.
    mean = value(
        prom, f"rate(axonize_trace_request_cost_dollars_sum{acme}[5m]) / rate(axonize_trace_request_cost_dollars_count{acme}[5m])", at
    )
    rule = value(prom, f"customer_model:axonize_trace_cost_per_request:dollars{acme}", at)
    assert mean == pytest.approx(rule, rel=1e-9)
    assert mean == pytest.approx(sum(MEASURED_SECONDS) / len(MEASURED_SECONDS) * per_second, rel=1e-6)

    # Its median lies in the bucket of the middle request's cost.
    p50 = value(prom, f"histogram_quantile(0.5, rate(axonize_trace_request_cost_dollars_bucket{acme}[5m]))", at)
    middle = sorted(MEASURED_SECONDS)[1] * per_second
    upper = min(b for b in COST_BUCKETS if b >= middle)
    lower = max(b for b in COST_BUCKETS if b < middle)
    assert lower <= p50 <= upper, (lower, p50, upper, middle)

    # The request on a device without a price: counted unpriced; priced + unpriced = requests.
    assert total(exposed, "axonize_trace_requests_unpriced_total", model=MODEL, reason="unknown_uuid") == 1
    assert "globex" not in str(exposed.get("axonize_trace_request_cost_dollars_count", {}))
    assert total(exposed, "axonize_trace_requests_total", model=MODEL) == total(
        exposed, "axonize_trace_request_cost_dollars_count", model=MODEL
    ) + total(exposed, "axonize_trace_requests_unpriced_total", model=MODEL)
    assert total(exposed, "axonize_sidecar_price_fetch_errors_total") == 0
