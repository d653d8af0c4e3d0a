"""``axonize bench`` end to end against a fake OpenAI-compatible server on loopback: streaming, HTTP 500s
counted as errors, counter checks, an unreachable URL, and the request body (ignore_eos, min_tokens, usage)."""

from __future__ import annotations

import json

import pytest

from axonize.bench import cli, run
from axonize.processes import free_port
from tests.bench.fake_openai import FakeOpenAI


def bench(*args: str) -> int:
    return cli.main(["--seed", "1", *args])


def test_a_streamed_run_with_http_500s_completes_and_counts_them(tmp_path, capsys):
    out = tmp_path / "report.json"
    with FakeOpenAI(fail_every=3) as server:
        code = bench("--base-url", server.url, "--num-prompts", "6", "--input-len", "uniform:3:5", "--output-len", "fixed:4",
                     "--max-concurrency", "2", "--json", str(out))  # fmt: skip
        sent = list(server.bodies)
    assert code == 0
    r = json.loads(out.read_text())
    assert (r["completed"], r["failed"], r["error_counts"]) == (4, 2, {"HTTP 500": 2})
    assert r["total_output_tokens"] == 16 and r["model_id"] == "fake" and r["max_concurrency"] == 2
    ok = [b for i, b in enumerate(sent) if (i + 1) % 3]
    assert r["total_input_tokens"] == sum(len(b["prompt"]) for b in ok)
    assert all(len(gaps) == 3 for gaps, e in zip(r["itls"], r["errors"]) if not e)  # 4 chunks: 3 gaps
    assert all(b["ignore_eos"] and b["min_tokens"] == b["max_tokens"] == 4 and b["stream_options"] == {"include_usage": True} for b in sent)
    printed = capsys.readouterr()
    assert "Failed requests:                         2" in printed.out and "bench: 6/6 requests, 2 failed" in printed.err


def test_counters_that_grew_by_what_was_sent_agree(capsys):
    with FakeOpenAI() as server:
        code = bench("--base-url", server.url, "--num-prompts", "3", "--input-len", "fixed:5", "--output-len", "fixed:2",
                     "--no-stream", "--metrics-url", server.url + "/metrics")  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "vllm:request_success_total" in out and "3 / 3" in out and "15 / 15" in out and "6 / 6" in out
    assert "MISMATCH" not in out


def test_counters_that_disagree_exit_1(capsys):
    with FakeOpenAI(count_factor=2) as server:
        code = bench("--base-url", server.url, "--num-prompts", "2", "--input-len", "fixed:5", "--output-len", "fixed:2",
                     "--metrics-url", server.url + "/metrics", "--metrics-wait", "0.5")  # fmt: skip
    assert code == 1 and "MISMATCH" in capsys.readouterr().out


def test_a_concurrency_sweep_writes_one_report_per_concurrency(tmp_path):
    out = tmp_path / "sweep.json"
    with FakeOpenAI() as server:
        assert bench("--base-url", server.url + "/v1", "--num-prompts", "4", "--input-len", "fixed:2", "--output-len", "fixed:2",
                     "--concurrency-sweep", "1,4", "--json", str(out)) == 0  # fmt: skip
    reports = json.loads(out.read_text())
    assert [(r["max_concurrency"], r["completed"]) for r in reports] == [(1, 4), (4, 4)]


def test_an_unreachable_server_exits_2_naming_the_url(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert bench("--base-url", url, "--num-prompts", "1") == 2
    assert f"cannot reach {url}/v1/models" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, error",
    [
        (["--input-len", "fixed:0"], "--input-len: 'fixed:0'"),
        (["--metric-percentiles", "50,abc"], "--metric-percentiles"),
        (["--header", "no-colon"], "--header: 'no-colon'"),
        (["--request-rate", "0"], "--request-rate must be above 0"),
    ],
)
def test_bad_flags_exit_2_naming_them(args, error, capsys):
    assert bench("--base-url", "http://127.0.0.1:9", *args) == 2
    assert error in capsys.readouterr().err


def test_poisson_gaps_are_seeded_with_the_asked_mean():
    gaps = run.gaps(4001, 20.0, "poisson", seed=5)
    assert gaps[0] == 0 and gaps == run.gaps(4001, 20.0, "poisson", seed=5)
    assert 0.045 < sum(gaps) / 4000 < 0.055
    assert run.gaps(3, 4.0, "constant", 0) == [0, 0.25, 0.25]
