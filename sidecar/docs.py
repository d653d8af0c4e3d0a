"""Write the sidecar's part of docs/metrics.md from the names registry and the engines' tables (``make generate``).

``python -m axonize.sidecar.docs`` prints the sidecar section: the normalized
families, the per-target and self-metrics series (name, type, unit, labels and help
from :mod:`axonize.names.sidecar`), and for each engine the mapping
from its families to the normalized ones (unit scale, labels, notes) plus the
families left out and why. ``make generate`` appends it to the exporter's part;
tests/test_generated.py fails when the committed file differs.
"""

from __future__ import annotations

import sys

from axonize import names
from axonize.names import traces

from .engines import ADAPTERS
from .engines.mapping import Adapter, Rule
from .normalized import COMMON_LABELS, ENGINE_INDEX, FAMILIES


def _cells(*cells: str) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _labels(labels) -> str:
    return ", ".join(f"`{label}`" for label in labels) or "-"


def _scale(rule: Rule) -> str:
    if rule.scale == 1.0:
        return "1"
    return {1e-3: "1e-3 (ms → s)", 1e-6: "1e-6 (µs → s)"}.get(rule.scale, f"{rule.scale:g}")


def _source(rule: Rule) -> str:
    text = f"`{rule.source}`"
    if rule.part == "sum":
        text = f"`{rule.source}_sum`"
    if rule.count_from:
        text += f" (`_sum`), `{rule.count_from}` (`_count`)"
    return text


def _rule_labels(adapter: Adapter, rule: Rule) -> str:
    mapping = {**adapter.labels, **rule.labels}
    return ", ".join(f"`{src}` → `{dst}`" for src, dst in mapping.items()) or "-"


def _rule_note(rule: Rule) -> str:
    parts = []
    if rule.versions:
        parts.append(rule.versions)
    if rule.replaced_by:
        parts.append(f"skipped when `{rule.replaced_by}` is in the scrape")
    if rule.note:
        parts.append(rule.note)
    return "; ".join(parts) or "-"


def _engine_section(adapter: Adapter) -> list[str]:
    out = [
        "",
        f'### {adapter.title} (`engine="{adapter.engine}"`, detected by `{adapter.prefix}`)',
        "",
        f"Source: {adapter.source}.",
    ]
    for note in adapter.notes:
        out.append(f"{note}")
    out += [
        "",
        f"| {adapter.title} family | `axonize_*` family | Scale | Labels | Versions, notes |",
        "|---|---|---|---|---|",
    ]
    for rule in adapter.rules:
        out.append(_cells(_source(rule), f"`{rule.target}`", _scale(rule), _rule_labels(adapter, rule), _rule_note(rule)))
    absent = [f.name for f in FAMILIES if not any(r.target == f.name for r in adapter.rules)]
    out += ["", "Absent (the engine does not measure them): " + ", ".join(f"`{name}`" for name in absent) + "."]
    out += ["", "Not mapped: " + "; ".join(f"`{name}` ({why})" for name, why in adapter.unmapped.items()) + "."]
    return out


def render() -> str:
    out = [
        "",
        "## Inference sidecar (`axonize-sidecar`)",
        "",
        "The sidecar scrapes inference servers (vLLM, TGI, SGLang, Triton, llama.cpp) and serves their metrics",
        "under one set of names. Every normalized series carries "
        + _labels(COMMON_LABELS)
        + f", plus `{ENGINE_INDEX}` where the engine runs",
        "several engine cores behind one endpoint (vLLM's `engine` label; `engine_index?` below). A concept an engine does not measure is",
        "an absent series, never 0; an approximation says `estimated` in its name. Histogram buckets are the",
        "engine's own, their bounds scaled to seconds. Values are passed through from each scrape: a restarted",
        "engine shows as a counter reset. A target that fails is `axonize_inference_target_up 0` and its series",
        "are withdrawn.",
        "",
        "| Metric | Type | Unit | Labels | Meaning |",
        "|---|---|---|---|---|",
    ]
    for f in FAMILIES:
        labels = COMMON_LABELS + (f"{ENGINE_INDEX}?",) + f.labels
        out.append(_cells(f"`{f.name}`", f.type, f.unit, _labels(labels), f.help))
    normalized = {f.name for f in FAMILIES}
    from_traces = {row.name for row in traces.NAMES}
    others = [row for row in names.of_component("sidecar") if row.name not in normalized | from_traces]
    for row in others:
        if not row.name.startswith("axonize_sidecar_"):
            out.append(_cells(f"`{row.name}`", row.type, row.unit or "-", _labels(row.labels), row.help))
    out += [
        "",
        "### Sidecar self-metrics",
        "",
        "| Metric | Type | Unit | Labels | Meaning |",
        "|---|---|---|---|---|",
    ]
    for row in others:
        if row.name.startswith("axonize_sidecar_"):
            out.append(_cells(f"`{row.name}`", row.type, row.unit or "-", _labels(row.labels), row.help))
    out += [
        "",
        "### Stage, step and GPU time from OpenTelemetry spans",
        "",
        "The sidecar's OTLP/HTTP receiver (`POST /v1/traces`, `--traces.*` flags) turns spans into these families;",
        "the span convention (request, stage and step spans, vLLM's `llm_request` spans) is in docs/traces.md.",
        "Durations are the spans' own, in buckets of "
        + ", ".join(f"{b:g}" for b in traces.DURATION_BUCKETS)
        + " s. `model`, `stage` and `customer` keep their first `--traces.max-values` values each, later",
        "ones read `other`; `step` is the index up to `--traces.max-step`, then `other`.",
        "",
        "| Metric | Type | Unit | Labels | Meaning |",
        "|---|---|---|---|---|",
    ]
    for row in traces.NAMES:
        if row.component == "sidecar":
            out.append(_cells(f"`{row.name}`", row.type, row.unit or "-", _labels(row.labels), row.help))
    out += [
        "",
        "### Which engine family feeds which name",
        "",
        "| `axonize_*` family | " + " | ".join(a.title for a in ADAPTERS.values()) + " |",
        "|---|" + "---|" * len(ADAPTERS),
    ]
    for f in FAMILIES:
        cells = []
        for adapter in ADAPTERS.values():
            sources = [_source(r) for r in adapter.rules if r.target == f.name]
            cells.append("<br>".join(sources) or "—")
        out.append(_cells(f"`{f.name}`", *cells))
    for adapter in ADAPTERS.values():
        out += _engine_section(adapter)
    out += [
        "",
        "### Example queries",
        "",
        "```promql",
        "# time to first token, p99 per server, from whichever engine serves it",
        "histogram_quantile(0.99, sum by (server, le) (rate(axonize_inference_time_to_first_token_seconds_bucket[5m])))",
        "# output tokens per second per model, summed over data-parallel engine cores",
        "sum by (model) (rate(axonize_inference_generation_tokens_total[5m]))",
        "# KV cache usage next to the GPUs that hold it",
        "max by (server, model) (axonize_inference_kv_cache_usage_ratio) * on (server, model) group_right axonize_inference_server_gpu_info",
        "```",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
