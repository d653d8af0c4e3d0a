"""Did the engine and the gateway count what the benchmark sent? ``/metrics`` before and after the run.

Each ``--metrics-url`` is read (``GET``, Prometheus text, parsed by prometheus_client) before and after the
run; every counter of :data:`CHECKS` found there is summed over the samples of the benchmark's model and its
increase compared with what the benchmark counted itself:

====================================== =========== ===========================================
counter                                model label should have grown by
====================================== =========== ===========================================
vllm:request_success_total             model_name  completed requests
vllm:prompt_tokens_total               model_name  prompt tokens of the completed requests
vllm:generation_tokens_total           model_name  output tokens of the completed requests
axonize_gateway_requests_total         model       requests that got an HTTP answer
axonize_gateway_prompt_tokens_total    model       prompt tokens of the completed requests
axonize_gateway_completion_tokens_total model      output tokens of the completed requests
====================================== =========== ===========================================

Token counts are the server's ``usage``, so they agree exactly when the server counts what it reports. An
engine updates /metrics a moment after it answers: :func:`settle` rereads until every counter reached its
expected value or ``timeout_s`` passed. Other traffic to the same model during the run shows as a mismatch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from .client import Result


class MetricsError(RuntimeError):
    """A metrics URL that cannot be read or parsed; the message names it."""


@dataclass(frozen=True)
class Check:
    """A counter (sample name), the label naming the model, what it counts, and its expected increase."""

    counter: str
    model_label: str
    what: str
    expected: Callable[[Sequence[Result]], int]


def _completed(results):
    return [r for r in results if r.success]


CHECKS = (
    Check("vllm:request_success_total", "model_name", "completed requests", lambda rs: len(_completed(rs))),
    Check("vllm:prompt_tokens_total", "model_name", "prompt tokens", lambda rs: sum(r.prompt_tokens for r in _completed(rs))),
    Check("vllm:generation_tokens_total", "model_name", "output tokens", lambda rs: sum(r.output_tokens for r in _completed(rs))),
    Check("axonize_gateway_requests_total", "model", "answered requests", lambda rs: sum(r.status is not None for r in rs)),
    Check("axonize_gateway_prompt_tokens_total", "model", "prompt tokens", lambda rs: sum(r.prompt_tokens for r in _completed(rs))),
    Check("axonize_gateway_completion_tokens_total", "model", "output tokens", lambda rs: sum(r.output_tokens for r in _completed(rs))),
)


def read(url: str, model: str, timeout_s: float = 10.0) -> dict[str, float]:
    """``{counter: sum over the model's samples}`` for every counter of :data:`CHECKS` present at ``url``."""
    try:
        response = requests.get(url, timeout=timeout_s)
        response.raise_for_status()
        families = list(text_string_to_metric_families(response.text))
    except requests.RequestException as exc:
        raise MetricsError(f"--metrics-url {url}: {exc}") from None
    except ValueError as exc:
        raise MetricsError(f"--metrics-url {url}: not Prometheus text: {exc}") from None
    wanted = {c.counter: c.model_label for c in CHECKS}
    out: dict[str, float] = {}
    for family in families:
        for s in family.samples:
            label = wanted.get(s.name)
            if label is not None and s.labels.get(label) == model:
                out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def compare(url: str, before: dict[str, float], after: dict[str, float], results: Sequence[Result]) -> list[dict]:
    """One row per counter found after the run: ``{url, counter, what, increase, expected, agrees}``."""
    rows = []
    for check in CHECKS:
        if check.counter not in after:
            continue
        increase = after[check.counter] - before.get(check.counter, 0.0)
        expected = check.expected(results)
        rows.append(
            {
                "url": url,
                "counter": check.counter,
                "what": check.what,
                "increase": increase,
                "expected": expected,
                "agrees": increase == expected,
            }
        )
    return rows


def settle(url: str, model: str, before: dict[str, float], results: Sequence[Result], timeout_s: float = 10.0) -> list[dict]:
    """:func:`compare` on rereads of ``url`` until every row agrees or ``timeout_s`` passed; the last rows."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = compare(url, before, read(url, model), results)
        if all(r["agrees"] for r in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def table(rows: Sequence[dict]) -> str:
    """The checks as text: one line per counter, ``ok`` or ``MISMATCH``."""
    lines = ["{s:{c}^{n}}".format(s="Counters (increase / sent)", n=50, c="-")]
    url = None
    for r in rows:
        if r["url"] != url:
            url = r["url"]
            lines.append(url)
        lines.append(f"  {r['counter']:<42} {r['increase']:>10g} / {r['expected']:<8} {'ok' if r['agrees'] else 'MISMATCH'}")
    return "\n".join(lines)


__all__ = ["CHECKS", "Check", "MetricsError", "compare", "read", "settle", "table"]
