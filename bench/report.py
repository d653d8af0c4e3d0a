"""The run's report in the shape of ``vllm bench serve``'s (vllm/benchmarks/serve.py, ``calculate_metrics`` and
the ``--save-result`` JSON), and its table.

From the :class:`~.client.Result` list and the run's duration (seconds), as vLLM computes them:

* ``completed`` / ``failed``: requests without and with an error; ``total_input_tokens`` and
  ``total_output_tokens`` sum the completed requests' prompt and output tokens (the server's ``usage``);
* ``request_throughput`` = completed / duration (req/s); ``output_throughput`` = output tokens / duration;
  ``total_token_throughput`` = (input + output tokens) / duration (tokens/s);
* per completed request: TTFT; TPOT = (latency − TTFT) / (output tokens − 1) for requests of more than one
  output token; every ITL (gap between text chunks); e2e latency (``e2el``);
* for each of ``ttft``, ``tpot``, ``itl``, ``e2el``: ``mean_*_ms``, ``median_*_ms``, ``std_*_ms`` and ``p{P}_*_ms``
  for each percentile asked, in milliseconds; percentiles by linear interpolation between the closest ranks
  (``numpy.percentile``'s default, which vLLM uses); 0 when there is no value (vLLM's ``np.mean(x or 0)``).

Keys vLLM adds that this keeps too: ``duration``, ``input_lens``, ``output_lens``, ``ttfts``, ``itls``,
``latencies``, ``errors``, ``date``, ``backend``, ``model_id``, ``num_prompts``, ``request_rate``,
``burstiness``, ``max_concurrency``. Added here: ``error_counts`` (each error's kind: ``HTTP 500``, ``timeout``,
...) and ``counter_checks`` (:mod:`.counters`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from .client import Result

METRICS = (("ttft", "TTFT", "Time to First Token"), ("tpot", "TPOT", "Time per Output Token (excl. 1st token)"))
METRICS += (("itl", "ITL", "Inter-token Latency"), ("e2el", "E2EL", "End-to-end Latency"))


def percentile_key(p: float) -> str:
    """vLLM's spelling of a percentile in a key: 99 -> ``99``, 99.9 -> ``99.9``."""
    return str(int(p)) if int(p) == p else str(p)


def stats_ms(values: Sequence[float], percentiles: Sequence[float], name: str) -> dict[str, float]:
    """``{mean_<name>_ms, median_<name>_ms, std_<name>_ms, p<P>_<name>_ms...}`` of ``values`` (seconds) in ms."""
    data = np.asarray(values if len(values) else [0.0], dtype=float)
    out = {
        f"mean_{name}_ms": float(np.mean(data)) * 1000,
        f"median_{name}_ms": float(np.median(data)) * 1000,
        f"std_{name}_ms": float(np.std(data)) * 1000,
    }
    for p in percentiles:
        out[f"p{percentile_key(p)}_{name}_ms"] = float(np.percentile(data, p)) * 1000
    return out


def error_kind(error: str) -> str:
    """What went wrong, without the details: ``HTTP 500``, ``timeout``, ``ClientConnectorError``, ..."""
    head = error.split(":", 1)[0]
    return "timeout" if head.startswith("timeout") else head


def build(results: Sequence[Result], duration: float, percentiles: Sequence[float] = (50, 90, 99), **about) -> dict:
    """The report dict (see the module docstring); ``about`` adds keys such as ``model_id`` and ``max_concurrency``."""
    ok = [r for r in results if r.success]
    input_tokens = sum(r.prompt_tokens for r in ok)
    output_tokens = sum(r.output_tokens for r in ok)
    tpots = [(r.latency - r.ttft) / (r.output_tokens - 1) for r in ok if r.output_tokens > 1]
    seconds = duration if duration > 0 else math.inf
    report = {
        **about,
        "duration": duration,
        "completed": len(ok),
        "failed": len(results) - len(ok),
        "total_input_tokens": input_tokens,
        "total_output_tokens": output_tokens,
        "request_throughput": len(ok) / seconds,
        "output_throughput": output_tokens / seconds,
        "total_token_throughput": (input_tokens + output_tokens) / seconds,
        "error_counts": dict(Counter(error_kind(r.error) for r in results if not r.success)),
    }
    series = {
        "ttft": [r.ttft for r in ok],
        "tpot": tpots,
        "itl": [gap for r in ok for gap in r.itl],
        "e2el": [r.latency for r in ok],
    }
    for name, _, _ in METRICS:
        report.update(stats_ms(series[name], percentiles, name))
    report.update(
        input_lens=[r.prompt_tokens for r in results],
        output_lens=[r.output_tokens if r.success else 0 for r in results],
        ttfts=[r.ttft for r in results],
        itls=[r.itl for r in results],
        latencies=[r.latency for r in results],
        errors=[r.error for r in results],
    )
    return report


def table(report: dict, percentiles: Sequence[float] = (50, 90, 99)) -> str:
    """The report as ``vllm bench serve`` prints it (labels padded to 40 columns, values to 2 decimals)."""
    row = "{:<40} {:<10}".format
    num = "{:<40} {:<10.2f}".format
    lines = ["{s:{c}^{n}}".format(s=" Serving Benchmark Result ", n=50, c="=")]
    lines += [row("Successful requests:", report["completed"]), row("Failed requests:", report["failed"])]
    if report.get("max_concurrency") is not None:
        lines.append(row("Maximum request concurrency:", report["max_concurrency"]))
    if report.get("request_rate") not in (None, "inf", math.inf):
        lines.append(num("Request rate configured (RPS):", float(report["request_rate"])))
    lines += [
        num("Benchmark duration (s):", report["duration"]),
        row("Total input tokens:", report["total_input_tokens"]),
        row("Total generated tokens:", report["total_output_tokens"]),
        num("Request throughput (req/s):", report["request_throughput"]),
        num("Output token throughput (tok/s):", report["output_throughput"]),
        num("Total Token throughput (tok/s):", report["total_token_throughput"]),
    ]
    for name, short, header in METRICS:
        lines.append("{s:{c}^{n}}".format(s=header, n=50, c="-"))
        lines.append(num(f"Mean {short} (ms):", report[f"mean_{name}_ms"]))
        lines.append(num(f"Median {short} (ms):", report[f"median_{name}_ms"]))
        lines += [num(f"P{percentile_key(p)} {short} (ms):", report[f"p{percentile_key(p)}_{name}_ms"]) for p in percentiles]
    if report["error_counts"]:
        lines.append("{s:{c}^{n}}".format(s="Errors", n=50, c="-"))
        lines += [row(f"{kind}:", count) for kind, count in sorted(report["error_counts"].items())]
    lines.append("=" * 50)
    return "\n".join(lines)


__all__ = ["METRICS", "build", "error_kind", "percentile_key", "stats_ms", "table"]
