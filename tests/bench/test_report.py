"""The report's maths against hand-computed values (vLLM's definitions: vllm/benchmarks/serve.py)."""

from __future__ import annotations

import math

import pytest

from axonize.bench import report
from axonize.bench.client import Result


def results() -> list[Result]:
    return [
        Result(0, ttft=0.1, latency=0.5, itl=[0.1] * 4, prompt_tokens=10, output_tokens=5, status=200),
        Result(1, ttft=0.2, latency=1.0, itl=[0.1] * 8, prompt_tokens=20, output_tokens=9, status=200),
        Result(2, ttft=0.3, latency=0.3, itl=[], prompt_tokens=30, output_tokens=1, status=200),
        Result(3, latency=0.05, prompt_tokens=7, status=500, error="HTTP 500: boom"),
    ]


def test_counts_and_throughputs():
    r = report.build(results(), 2.0)
    assert (r["completed"], r["failed"]) == (3, 1)
    assert (r["total_input_tokens"], r["total_output_tokens"]) == (60, 15)  # the failed request's tokens are not counted
    assert r["request_throughput"] == 1.5 and r["output_throughput"] == 7.5 and r["total_token_throughput"] == 37.5
    assert r["error_counts"] == {"HTTP 500": 1}
    assert r["output_lens"] == [5, 9, 1, 0] and r["errors"][3] == "HTTP 500: boom"


def test_latency_statistics_in_milliseconds():
    r = report.build(results(), 2.0, (50, 90, 99))
    # TTFT 0.1, 0.2, 0.3 s: linear interpolation between ranks, p90 at rank 0.9 x 2 = 1.8 -> 0.2 + 0.8 x 0.1
    assert r["mean_ttft_ms"] == pytest.approx(200) and r["median_ttft_ms"] == pytest.approx(200)
    assert r["std_ttft_ms"] == pytest.approx(1000 * math.sqrt(0.02 / 3))
    assert (r["p50_ttft_ms"], r["p90_ttft_ms"], r["p99_ttft_ms"]) == pytest.approx((200, 280, 298))
    # TPOT: (0.5 - 0.1) / 4 and (1.0 - 0.2) / 8; the one-token request has none
    assert r["mean_tpot_ms"] == pytest.approx(100) and r["p99_tpot_ms"] == pytest.approx(100)
    # ITL: twelve gaps of 0.1 s
    assert r["mean_itl_ms"] == pytest.approx(100) and r["std_itl_ms"] == pytest.approx(0)
    # e2e 0.3, 0.5, 1.0: p90 at rank 1.8 -> 0.5 + 0.8 x 0.5, p99 -> 0.5 + 0.98 x 0.5
    assert (r["mean_e2el_ms"], r["median_e2el_ms"]) == pytest.approx((600, 500))
    assert (r["p90_e2el_ms"], r["p99_e2el_ms"]) == pytest.approx((900, 990))


def test_no_completed_request_gives_zeros_as_vllm_does():
    r = report.build([Result(0, error="timeout after 1 s")], 1.0, (99.9,))
    assert r["completed"] == 0 and r["mean_ttft_ms"] == 0 and r["p99.9_itl_ms"] == 0
    assert r["error_counts"] == {"timeout": 1}


def test_table_has_vllms_lines():
    text = report.table(report.build(results(), 2.0, (50, 99), max_concurrency=4), (50, 99))
    assert "Successful requests:                     3" in text
    assert "Maximum request concurrency:             4" in text
    assert "P99 TTFT (ms):                           298.00" in text
    assert "HTTP 500:" in text
