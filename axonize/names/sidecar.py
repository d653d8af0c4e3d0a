"""The inference sidecar's families: the normalized inference vocabulary (one name, unit and label set per
concept whatever the engine), the per-target join series, and the sidecar's own health.

Every normalized series carries ``engine``, ``model`` and ``server`` (plus ``engine_index`` where the engine
runs several engine cores behind one endpoint), then the family's own labels.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name


NAMES: tuple[Name, ...] = (
    Name('axonize_inference_time_to_first_token_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), 'Time from request arrival to the first output token (server side), per request.', 'sidecar'),
    Name('axonize_inference_inter_token_latency_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), 'Time between consecutive output tokens of a request (one observation per decode step).', 'sidecar'),
    Name('axonize_inference_time_per_output_token_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), 'Per request: decode time divided by (output tokens - 1), the first token excluded (TPOT).', 'sidecar'),
    Name('axonize_inference_time_per_output_token_estimated_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), "Per request: an estimate of TPOT where the engine has none; TGI: inference time divided by generated tokens, prefill included, so it reads high by the prefill's share.", 'sidecar'),
    Name('axonize_inference_e2e_request_latency_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), 'Time from request arrival to its last output token, per request.', 'sidecar'),
    Name('axonize_inference_queue_time_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), "Time a request waited in the engine's queue before it was scheduled.", 'sidecar'),
    Name('axonize_inference_prefill_time_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), 'Time from scheduling a request to its first token (prompt processing).', 'sidecar'),
    Name('axonize_inference_decode_time_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), "Time from a request's first token to its last (generation).", 'sidecar'),
    Name('axonize_inference_inference_time_seconds', 'histogram', 'seconds', ('engine', 'model', 'server'), 'Time a request spent being computed: prefill plus decode, queueing excluded.', 'sidecar'),
    Name('axonize_inference_prompt_tokens_total', 'counter', 'tokens', ('engine', 'model', 'server'), 'Prompt (prefill) tokens processed.', 'sidecar'),
    Name('axonize_inference_generation_tokens_total', 'counter', 'tokens', ('engine', 'model', 'server'), 'Output tokens generated.', 'sidecar'),
    Name('axonize_inference_requests_finished_total', 'counter', 'requests', ('engine', 'model', 'server', 'reason'), "Requests that finished, by the engine's finish reason (stop, length, abort, ...); empty reason where the engine does not report one.", 'sidecar'),
    Name('axonize_inference_request_errors_total', 'counter', 'requests', ('engine', 'model', 'server', 'reason'), "Requests that failed or were rejected before they ran, by the engine's reason.", 'sidecar'),
    Name('axonize_inference_preemptions_total', 'counter', 'requests', ('engine', 'model', 'server'), 'Times a running request was preempted (vLLM) or retracted (SGLang) to free KV cache.', 'sidecar'),
    Name('axonize_inference_prefix_cache_queries_total', 'counter', 'tokens', ('engine', 'model', 'server'), 'Prompt tokens looked up in the prefix cache.', 'sidecar'),
    Name('axonize_inference_prefix_cache_hits_total', 'counter', 'tokens', ('engine', 'model', 'server'), 'Prompt tokens found in the prefix cache (not recomputed).', 'sidecar'),
    Name('axonize_inference_requests_running', 'gauge', 'requests', ('engine', 'model', 'server'), 'Requests in the running batch now.', 'sidecar'),
    Name('axonize_inference_requests_waiting', 'gauge', 'requests', ('engine', 'model', 'server'), 'Requests queued, not yet scheduled, now.', 'sidecar'),
    Name('axonize_inference_kv_cache_usage_ratio', 'gauge', 'ratio', ('engine', 'model', 'server'), 'Share of the KV cache in use now, 0-1.', 'sidecar'),
    Name('axonize_inference_target_up', 'gauge', '', ('server',), '1 when the last scrape of the target succeeded and its exposition was read; 0 otherwise (down, slow, HTTP error, malformed text, unknown engine). Its normalized series are then withdrawn.', 'sidecar'),
    Name('axonize_inference_server_gpu_info', 'info', '', ('server', 'model', 'uuid'), "The GPUs a target's engine runs on, value 1: join inference series to GPU series (on (uuid) with axonize_gpu_info). From the configuration's targets[].gpus, else from the processes listening on the target's port and their descendants, as NVML sees them (--attribution.source).", 'sidecar'),
    Name('axonize_sidecar_build_info', 'info', '', ('version', 'python_version'), 'Version of the sidecar; value 1.', 'sidecar'),
    Name('axonize_sidecar_collections_total', 'counter', '', (), 'Collection cycles run.', 'sidecar'),
    Name('axonize_sidecar_collection_duration_seconds', 'gauge', 'seconds', (), 'Wall time of the last cycle: all targets fetched concurrently, then normalized and rendered.', 'sidecar'),
    Name('axonize_sidecar_scrape_duration_seconds', 'gauge', 'seconds', ('server',), "Wall time of the target's last scrape: its HTTP GET plus parsing and normalizing its text.", 'sidecar'),
    Name('axonize_sidecar_last_success_timestamp_seconds', 'gauge', 'seconds', ('server',), "Unix time of the target's last successful scrape; absent until one succeeds.", 'sidecar'),
    Name('axonize_sidecar_target_errors_total', 'counter', '', ('server', 'kind'), "Target problems by kind. Failed scrapes (target_up 0): connect, timeout (no answer, or its text not read, within --collect.timeout), http (an answer other than 200, a redirect, a body over the size limit), parse (malformed text, a duplicated series, a sample line that is not UTF-8), mismatch (a mapped family of the wrong shape), engine (unknown engine), internal (a sidecar bug). And invalid: one mapped family left out of a good scrape (a NaN, infinite or negative counter; histogram buckets whose counts decrease or whose _count is not the +Inf bucket).", 'sidecar'),
    Name('axonize_sidecar_series_dropped_total', 'counter', '', ('server',), "Exposition lines of the target's normalized series, then of its GPU join series (axonize_inference_server_gpu_info), left out by the per-target cap (--collect.max-series), summed over cycles.", 'sidecar'),
    Name('axonize_sidecar_collection_errors_total', 'counter', '', ('stage',), "Failures of the collection loop outside any one target's scrape, by stage: attribution (GPU attribution raised; the previous answer stands), render (the normalized families could not be written; target_up and self-metrics are still served), cycle (any other error). The loop runs on; /-/healthy fails when no cycle has published for 3 intervals.", 'sidecar'),
)
