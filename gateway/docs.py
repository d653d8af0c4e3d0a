"""Write the gateway's part of docs/metrics.md from the names registry (``make generate``).

``python -m axonize.gateway.docs`` prints the section: every ``axonize_gateway_*`` family (name,
type, unit, labels and help from :mod:`axonize.names.gateway`), the histogram buckets and where they
come from, example queries, and the OpenTelemetry GenAI names of ``--metrics.names otel|both``. tests/test_generated.py fails when the committed file differs.
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
    return ", ".join(str(b) if isinstance(b, int) else f"{b:g}" for b in buckets)


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
        if row not in rows.GENAI_NAMES:
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
        "### OpenTelemetry GenAI names (`--metrics.names otel` or `both`)",
        "",
        "With `--metrics.names both` (YAML `metrics: {names: both}`) the gateway also exposes the OpenTelemetry GenAI",
        "semantic conventions' metrics, named as the OpenTelemetry -> Prometheus translation names them (dots become",
        "underscores, the unit `s` adds `_seconds`, a unit in braces such as `{token}` adds nothing, a counter adds",
        "`_total`); `otel` exposes them instead of the `axonize_gateway_*` families (the customer-cost rules and",
        "`axonize usage` need those). Only requests routed to an upstream are recorded. Labels:",
        "`gen_ai_operation_name` is `chat`, `text_completion` or `embeddings`; `gen_ai_provider_name` is `openai`, the",
        "API the upstreams speak; `gen_ai_request_model` the request's model; `server_address` and `server_port` the",
        "upstream behind the gateway; `error_type` the error kind of `axonize_gateway_upstream_errors_total`, empty on",
        "success; `gen_ai_token_modality` is `unknown` (the engine's usage is not split by modality). As the",
        "conventions ask, tokens come from the engine's usage only: a stream cut before its usage adds 0 here.",
        "Sources: semantic-conventions `docs/gen-ai/gen-ai-metrics.md` (v1.41) and semantic-conventions-genai",
        "`docs/gen-ai/gen-ai-token-metrics.md` (the `gen_ai.client.inference.usage.*` counters), in development status.",
        "",
        "| Metric | Type | Unit | Labels | Meaning |",
        "|---|---|---|---|---|",
        *(_cells(f"`{row.name}`", row.type, row.unit or "-", _labels(row.labels), row.help) for row in rows.GENAI_NAMES),
        "",
        f"Buckets: the durations and time to first token as above; tokens (`gen_ai.client.token.usage`): {_bounds(rows.TOKEN_USAGE_BUCKETS)}.",
        "",
        "```promql",
        "# output tokens per second per model, from the conventions' counter",
        "sum by (gen_ai_request_model) (rate(gen_ai_client_inference_usage_output_tokens_total[5m]))",
        "# p99 request duration of failed requests, by error kind",
        'histogram_quantile(0.99, sum by (error_type, le) (rate(gen_ai_client_operation_duration_seconds_bucket{error_type!=""}[5m])))',
        "```",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
