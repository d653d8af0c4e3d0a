"""Write the gateway's part of docs/metrics.md from the names registry (``make generate``).

``python -m axonize.gateway.docs`` prints the section: every ``axonize_gateway_*`` family (name,
type, unit, labels and help from :mod:`axonize.names.gateway`), the histogram buckets and where they
come from, and example queries. tests/test_generated.py fails when the committed file differs.
"""

from __future__ import annotations

import sys

from axonize import names
from axonize.names import gateway as rows


def _cells(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _labels(labels) -> str:
    return ", ".join(f"`{label}`" for label in labels) or "-"


def _bounds(buckets) -> str:
    return ", ".join(f"{b:g}" for b in buckets)


def render() -> str:
    out = [
        "",
        "## Gateway (`axonize-gateway`)",
        "",
        "The gateway is an OpenAI-compatible reverse proxy in front of inference servers. It counts every request and",
        "its tokens per customer and model, and measures latency as the client sees it. `customer` is a configured",
        "name, a salted hash prefix of the API key (never the key), the identity header's value, `anonymous`, or",
        "`other` beyond `--metrics.max-customers`. Tokens come from the engine's `usage` (the gateway asks for it on",
        "streams and removes that chunk unless the client asked); a stream cut before its usage chunk counts the",
        "content chunks sent, one token each, in the `estimated` counter too.",
        "",
        "| Metric | Type | Unit | Labels | Meaning |",
        "|---|---|---|---|---|",
    ]
    for row in names.of_component("gateway"):
        out.append(_cells(f"`{row.name}`", row.type, row.unit or "-", _labels(row.labels), row.help))
    out += [
        "",
        "Histogram buckets (seconds), the explicit boundaries the OpenTelemetry GenAI semantic conventions advise:",
        "",
        f"- time to first token (`gen_ai.server.time_to_first_token`): {_bounds(rows.TTFT_BUCKETS)};",
        f"- inter-chunk latency (`gen_ai.server.time_per_output_token`): {_bounds(rows.TIME_PER_OUTPUT_TOKEN_BUCKETS)};",
        f"- request duration (`gen_ai.client.operation.duration`): {_bounds(rows.OPERATION_DURATION_BUCKETS)};",
        f"- added latency (no advice; Axonize's choice): {_bounds(rows.ADDED_LATENCY_BUCKETS)}.",
        "",
        "### Example queries",
        "",
        "```promql",
        "# completion tokens per second per customer and model",
        "sum by (customer, model) (rate(axonize_gateway_completion_tokens_total[5m]))",
        "# time to first token as clients see it, p99 per model",
        "histogram_quantile(0.99, sum by (model, le) (rate(axonize_gateway_time_to_first_token_seconds_bucket[5m])))",
        "# share of requests answered with an error status, per model",
        'sum by (model) (rate(axonize_gateway_requests_total{status!~"2.."}[5m])) / sum by (model) (rate(axonize_gateway_requests_total[5m]))',
        "```",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
