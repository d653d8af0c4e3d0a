"""A month's statement: per customer and model, requests, tokens, GPU cost and $ per million tokens.

Evaluated at the month's end (:class:`~.month.Month`) over the month's range ``R`` (its seconds), with the
gateway's job from the bundle's ``selectors.gateway``:

* requests, prompt, completion and estimated completion tokens: ``sum by (customer, model) (increase(C[R]))`` of
  the gateway's counters (``axonize_gateway_requests_total``, every endpoint and status, ...). ``increase()``
  handles counter resets (a gateway restart) and extrapolates to the range's ends when the first or last sample
  is not on them, so counts may be fractional by a scrape interval's traffic at each end; they are rounded to
  whole requests and tokens. A series born during the month loses part of its first scrape's count (Prometheus
  has no sample before it; Prometheus 3's created timestamps fix that);
* GPU cost, $: the integral of ``customer_model:axonize_gpu_cost:dollars_per_hour`` (rules/customer-cost.rules.yml)
  over the month, a Riemann sum at ``step``: ``sum_over_time(x[R - step/2 : step]) × step / 3600``, the value at
  the end of each step times its length (the ``- step/2`` keeps both ends from counting, on Prometheus 2's closed
  and 3's left-open ranges). Hours without a customer series (no traffic over the rules' rate window) cost the
  customer nothing; that cost stays with the model;
* $ per million tokens = GPU cost / (prompt + completion tokens) × 10^6, the tokens the cost was split by.

Prometheus must keep the month (its retention: 15 days by default); :func:`retention_warning` says when it does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from axonize import names

from .month import Month
from .prometheus import Prometheus

#: Counter columns: (field, the gateway's counter).
COUNTERS = (
    ("requests", "axonize_gateway_requests_total"),
    ("prompt_tokens", "axonize_gateway_prompt_tokens_total"),
    ("completion_tokens", "axonize_gateway_completion_tokens_total"),
    ("estimated_completion_tokens", "axonize_gateway_estimated_completion_tokens_total"),
)
COST = "customer_model:axonize_gpu_cost:dollars_per_hour"
BY = ("customer", "model")


@dataclass(frozen=True)
class Row:
    """One customer and model (or a total: ``model`` ``""`` for a customer's, both ``""`` for everyone's).

    Counts are whole requests and tokens; ``gpu_cost_dollars`` is None when no cost series exists (a model
    the customer-cost rules price not, e.g. without a sidecar)."""

    customer: str
    model: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    estimated_completion_tokens: int
    gpu_cost_dollars: float | None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def dollars_per_million_tokens(self) -> float | None:
        if self.gpu_cost_dollars is None or self.tokens == 0:
            return None
        return self.gpu_cost_dollars / self.tokens * 1e6


def queries(month: Month, selector: str, step_s: int) -> dict[str, str]:
    """``{field: PromQL}`` evaluated at ``month.end``; ``selector`` the gateway's label matchers."""
    brace = f"{{{selector}}}" if selector else ""
    by = ", ".join(BY)
    out = {field: f"sum by ({by}) (increase({names.get(c).name}{brace}[{month.seconds}s]))" for field, c in COUNTERS}
    cost = names.recorded_name(COST)
    range_ms = month.seconds * 1000 - step_s * 500
    out["gpu_cost_dollars"] = f"sum by ({by}) (sum_over_time({cost}[{range_ms}ms:{step_s}s])) * {step_s} / 3600"
    return out


def build(prometheus: Prometheus, month: Month, selector: str, step_s: int = 60) -> list[Row]:
    """The statement's rows, by customer then model; raises :class:`~.prometheus.PrometheusError`."""
    values: dict[tuple[str, str], dict[str, float]] = {}
    for field, promql in queries(month, selector, step_s).items():
        for labels, value in prometheus.query(promql, month.end):
            key = (labels.get("customer", ""), labels.get("model", ""))
            values.setdefault(key, {})[field] = value
    rows = []
    for (customer, model), v in sorted(values.items()):
        counts = {field: round(v.get(field, 0.0)) for field, _ in COUNTERS}
        if not any(counts.values()) and not v.get("gpu_cost_dollars"):
            continue  # series that were there and did not move
        rows.append(Row(customer, model, **counts, gpu_cost_dollars=v.get("gpu_cost_dollars")))
    return rows


def total(rows: Sequence[Row], customer: str = "") -> Row:
    """The sum of ``rows`` as a row (``model`` ""); its cost is None only when no row has one."""
    costs = [r.gpu_cost_dollars for r in rows if r.gpu_cost_dollars is not None]
    return Row(
        customer,
        "",
        sum(r.requests for r in rows),
        sum(r.prompt_tokens for r in rows),
        sum(r.completion_tokens for r in rows),
        sum(r.estimated_completion_tokens for r in rows),
        sum(costs) if costs else None,
    )


def retention_warning(prometheus: Prometheus, month: Month, now: float) -> str | None:
    """A warning when Prometheus' time retention does not reach back to the month's start, else None."""
    kept = prometheus.retention_s()
    if kept is None or now - kept <= month.start:
        return None
    return (
        f"Prometheus at {prometheus.url} keeps {kept / 86400:g} days of data (--storage.tsdb.retention.time): "
        f"the start of {month.name} is gone, so the statement covers only what is left"
    )


__all__ = ["COUNTERS", "Row", "build", "queries", "retention_warning", "total"]
