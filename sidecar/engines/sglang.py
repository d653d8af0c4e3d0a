"""SGLang (``--enable-metrics``): prometheus_client families named ``sglang:*``.

Names and meanings from ``sgl-project/sglang`` ``python/sglang/srt/metrics/collector.py``
(``SchedulerMetricsCollector``, ``TokenizerMetricsCollector``, commit 00ae9c15) and
the example in ``docs/references/production_metrics.md`` (commit 00b08c49, the fixture
``sglang-docs-example.prom``: an older metric set).

* ``time_per_output_token_seconds`` was renamed ``inter_token_latency_seconds``; both
  observe one value per output token (``observe_inter_token_latency`` adds
  ``num_new_tokens`` to a bucket), so the old name maps onto the inter-token family and
  is skipped when the new one is present;
* ``token_usage`` is the share of the KV cache pool in use (0-1);
* ``cached_tokens_total`` counts prompt tokens served from the radix (prefix) cache:
  prefix-cache hits. There is no matching query counter (``cache_hit_rate`` is a gauge).
* token counters and ``num_requests_total`` move when a request finishes
  (``observe_one_finished_request``), not while it runs;
* ``num_retracted_requests_total``: requests retracted to free KV cache, SGLang's preemption.

Labels: ``model_name`` -> ``model``; others (``engine_type``, ``tp_rank``, ...) are merged.
"""

from __future__ import annotations

from .mapping import Adapter, Rule

_T = "axonize_inference_"

ADAPTER = Adapter(
    engine="sglang",
    title="SGLang",
    prefix="sglang:",
    labels={"model_name": "model"},
    source="sgl-project/sglang python/sglang/srt/metrics/collector.py (00ae9c15); docs/references/production_metrics.md (00b08c49)",
    rules=(
        Rule("sglang:time_to_first_token_seconds", _T + "time_to_first_token_seconds"),
        Rule("sglang:inter_token_latency_seconds", _T + "inter_token_latency_seconds", versions="newer"),
        Rule(
            "sglang:time_per_output_token_seconds",
            _T + "inter_token_latency_seconds",
            replaced_by="sglang:inter_token_latency_seconds",
            versions="older",
            note="the old name: one observation per output token",
        ),
        Rule("sglang:e2e_request_latency_seconds", _T + "e2e_request_latency_seconds"),
        Rule("sglang:queue_time_seconds", _T + "queue_time_seconds"),
        Rule("sglang:prompt_tokens_total", _T + "prompt_tokens_total", note="counted when a request finishes"),
        Rule("sglang:generation_tokens_total", _T + "generation_tokens_total", note="counted when a request finishes"),
        Rule("sglang:num_requests_total", _T + "requests_finished_total", note="no finish reason: reason is empty"),
        Rule("sglang:num_retracted_requests_total", _T + "preemptions_total", note="retractions"),
        Rule("sglang:cached_tokens_total", _T + "prefix_cache_hits_total", note="radix-cache hits; no query counter"),
        Rule("sglang:num_running_reqs", _T + "requests_running"),
        Rule("sglang:num_queue_reqs", _T + "requests_waiting"),
        Rule("sglang:token_usage", _T + "kv_cache_usage_ratio", note="KV pool tokens in use / pool size"),
    ),
    unmapped={
        "sglang:cache_hit_rate": "a gauge of a rate; cached_tokens_total carries the hits",
        "sglang:num_used_tokens": "KV tokens in use, the numerator of token_usage",
        "sglang:gen_throughput": "a gauge of a rate; rate() of generation_tokens_total replaces it",
        "sglang:num_aborted_requests_total": "aborts; whether num_requests_total includes them is not documented",
        "sglang:func_latency_seconds": "internal function timings (older releases)",
        "sglang:num_retracted_reqs": "gauge form of num_retracted_requests_total",
        "sglang:max_total_num_tokens": "configured KV pool size",
    },
    notes=("Token counters move when a request finishes, not while it runs.",),
)
