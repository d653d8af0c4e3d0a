"""vLLM: the V1 engine (default since 0.8) and the V0 engine, every rename.

Names, types and labels come from the PyPI sdists 0.5.5-0.33.0:
``vllm/v1/metrics/loggers.py`` (``PrometheusStatLogger``, V1) and
``vllm/engine/metrics.py`` (``Metrics``, V0), with the deprecations in
``docs/design/metrics.md``; tests/fixtures/inference/vllm-metrics-by-version.json
lists every family by version and the test suite checks that each is either
mapped here or listed in ``UNMAPPED``.

Renames (deprecated in X, hidden in X+1, removed in X+2): ``gpu_cache_usage_perc``
-> ``kv_cache_usage_perc`` and ``gpu_prefix_cache_{queries,hits}`` ->
``prefix_cache_{queries,hits}`` (0.9.2, removed 0.12); ``time_per_output_token_seconds``
-> ``inter_token_latency_seconds`` (0.11, removed 0.13). The transition releases
serve both names with the same values: the old rule names the new family in
``replaced_by``, so each series is counted once. ``request_time_per_output_token_seconds``
(0.11+) is the per-request TPOT, a different quantity from the per-step latency the
old ``time_per_output_token_seconds`` measured.

Labels: ``model_name`` -> ``model``; V1's ``engine`` (engine core index, one per
data-parallel rank) -> ``engine_index``. V0 has ``model_name`` only.
``kv_cache_usage_perc`` is a 0-1 fraction despite its name: scale 1.
"""

from __future__ import annotations

from .mapping import Adapter, Rule

_T = "axonize_inference_"

ADAPTER = Adapter(
    engine="vllm",
    title="vLLM",
    prefix="vllm:",
    labels={"model_name": "model", "engine": "engine_index"},
    source="vLLM sdists 0.5.5-0.33.0: vllm/v1/metrics/loggers.py (V1), vllm/engine/metrics.py (V0), docs/design/metrics.md",
    rules=(
        Rule("vllm:time_to_first_token_seconds", _T + "time_to_first_token_seconds"),
        Rule("vllm:inter_token_latency_seconds", _T + "inter_token_latency_seconds", versions="0.10+"),
        Rule(
            "vllm:time_per_output_token_seconds",
            _T + "inter_token_latency_seconds",
            replaced_by="vllm:inter_token_latency_seconds",
            versions="until 0.11; 0.12 behind --show-hidden-metrics-for-version",
            note="the old name of inter_token_latency_seconds: one observation per decode step, not per request",
        ),
        Rule("vllm:request_time_per_output_token_seconds", _T + "time_per_output_token_seconds", versions="0.11+"),
        Rule("vllm:e2e_request_latency_seconds", _T + "e2e_request_latency_seconds"),
        Rule("vllm:request_queue_time_seconds", _T + "queue_time_seconds", versions="0.7+"),
        Rule("vllm:request_prefill_time_seconds", _T + "prefill_time_seconds", versions="0.7+"),
        Rule("vllm:request_decode_time_seconds", _T + "decode_time_seconds", versions="0.7+"),
        Rule("vllm:request_inference_time_seconds", _T + "inference_time_seconds", versions="0.7+"),
        Rule("vllm:prompt_tokens_total", _T + "prompt_tokens_total"),
        Rule("vllm:generation_tokens_total", _T + "generation_tokens_total"),
        Rule(
            "vllm:request_success_total",
            _T + "requests_finished_total",
            labels={"finished_reason": "reason"},
            note="finished_reason: stop, length, abort, error, repetition",
        ),
        Rule(
            "vllm:admission_rejections_total",
            _T + "request_errors_total",
            labels={"reason": "reason"},
            versions="after 0.12",
            note="rejected at admission (queue limits); no engine_index",
        ),
        Rule("vllm:num_preemptions_total", _T + "preemptions_total"),
        Rule("vllm:prefix_cache_queries_total", _T + "prefix_cache_queries_total", versions="0.9.2+"),
        Rule(
            "vllm:gpu_prefix_cache_queries_total",
            _T + "prefix_cache_queries_total",
            replaced_by="vllm:prefix_cache_queries_total",
            versions="V1 0.7-0.10; 0.11 hidden",
        ),
        Rule("vllm:prefix_cache_hits_total", _T + "prefix_cache_hits_total", versions="0.9.2+"),
        Rule(
            "vllm:gpu_prefix_cache_hits_total",
            _T + "prefix_cache_hits_total",
            replaced_by="vllm:prefix_cache_hits_total",
            versions="V1 0.7-0.10; 0.11 hidden",
        ),
        Rule("vllm:num_requests_running", _T + "requests_running"),
        Rule("vllm:num_requests_waiting", _T + "requests_waiting"),
        Rule("vllm:kv_cache_usage_perc", _T + "kv_cache_usage_ratio", versions="0.9.2+", note="a 0-1 fraction"),
        Rule(
            "vllm:gpu_cache_usage_perc",
            _T + "kv_cache_usage_ratio",
            replaced_by="vllm:kv_cache_usage_perc",
            versions="until 0.10; 0.11 hidden",
            note="a 0-1 fraction",
        ),
    ),
    unmapped={
        "vllm:num_requests_waiting_by_reason": "a split of num_requests_waiting (capacity, deferred)",
        "vllm:num_requests_swapped": "V0 only; swapping is gone in V1",
        "vllm:num_requests_kv_fetch_by_stage": "KV-connector (disaggregated prefill) state",
        "vllm:cpu_cache_usage_perc": "V0 CPU swap space, not the KV cache",
        "vllm:cpu_prefix_cache_hit_rate": "V0 gauge of a rate; no counts to aggregate",
        "vllm:gpu_prefix_cache_hit_rate": "V0 gauge of a rate; no counts to aggregate",
        "vllm:external_prefix_cache_queries_total": "KV-connector cache, not the engine's prefix cache",
        "vllm:external_prefix_cache_hits_total": "KV-connector cache, not the engine's prefix cache",
        "vllm:mm_cache_queries_total": "multimodal input cache",
        "vllm:mm_cache_hits_total": "multimodal input cache",
        "vllm:prompt_tokens_by_source_total": "a split of prompt_tokens_total",
        "vllm:prompt_tokens_cached_total": "equals prefix_cache_hits_total plus external hits",
        "vllm:prompt_tokens_cached_by_source_total": "a split of prompt_tokens_cached_total",
        "vllm:request_prompt_tokens": "per-request token histogram; the counters carry the totals",
        "vllm:request_generation_tokens": "per-request token histogram; the counters carry the totals",
        "vllm:request_max_num_generation_tokens": "request parameter distribution",
        "vllm:request_params_n": "request parameter distribution",
        "vllm:request_params_best_of": "request parameter distribution (0.5 only)",
        "vllm:request_params_max_tokens": "request parameter distribution",
        "vllm:request_num_preemptions": "per-request distribution; preemptions_total carries the count",
        "vllm:request_prefill_kv_computed_tokens": "per-request distribution of recomputed prompt tokens",
        "vllm:iteration_tokens_total": "a histogram of tokens per engine step, not a token counter",
        "vllm:tokens_total": "V0 0.7 only: prompt plus generation tokens",
        "vllm:time_in_queue_requests": "V0 hidden duplicate of request_queue_time_seconds",
        "vllm:model_forward_time_milliseconds": "V0 hidden, forward-pass timing",
        "vllm:model_execute_time_milliseconds": "V0 hidden, execute timing",
        "vllm:avg_prompt_throughput_toks_per_s": "V0 gauge of a rate; rate() of prompt_tokens_total replaces it",
        "vllm:avg_generation_throughput_toks_per_s": "V0 gauge of a rate; rate() of generation_tokens_total replaces it",
        "vllm:spec_decode_draft_acceptance_rate": "speculative decoding (not in the vocabulary yet)",
        "vllm:spec_decode_efficiency": "speculative decoding (not in the vocabulary yet)",
        "vllm:spec_decode_num_accepted_tokens_total": "speculative decoding (not in the vocabulary yet)",
        "vllm:spec_decode_num_draft_tokens_total": "speculative decoding (not in the vocabulary yet)",
        "vllm:spec_decode_num_emitted_tokens_total": "speculative decoding (not in the vocabulary yet)",
        "vllm:cache_config_info": "configuration, not a measurement",
        "vllm:lora_requests_info": "LoRA adapters as comma-joined label strings",
        "vllm:engine_sleep_state": "sleep mode state",
        "vllm:corrupted_requests_total": "only with VLLM_COMPUTE_NANS_IN_LOGITS",
        "vllm:watermark_requests_total": "only with a watermark configuration",
        "vllm:kv_block_lifetime_seconds": "KV block statistics, opt-in",
        "vllm:kv_block_idle_before_evict_seconds": "KV block statistics, opt-in",
        "vllm:kv_block_reuse_gap_seconds": "KV block statistics, opt-in",
        "vllm:estimated_flops_per_gpu_total": "vLLM's own model-FLOPs estimate (MFU), opt-in",
        "vllm:estimated_read_bytes_per_gpu_total": "vLLM's own memory-traffic estimate (MFU), opt-in",
        "vllm:estimated_write_bytes_per_gpu_total": "vLLM's own memory-traffic estimate (MFU), opt-in",
    },
)
