"""The inference sidecar's families: the normalized inference vocabulary (one name, unit and label set per
concept whatever the engine), the per-target join series, and the sidecar's own health.

Every normalized series carries ``engine``, ``model`` and ``server`` (plus ``engine_index`` where the engine
runs several engine cores behind one endpoint), then the family's own labels.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import INFERENCE

_C = "sidecar"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_inference_time_to_first_token_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time from request arrival to the first output token (server side), per request.",
        _C,
    ),
    Name(
        "axonize_inference_inter_token_latency_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time between consecutive output tokens of a request (one observation per decode step).",
        _C,
    ),
    Name(
        "axonize_inference_time_per_output_token_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Per request: decode time divided by (output tokens - 1), the first token excluded (TPOT).",
        _C,
    ),
    Name(
        "axonize_inference_time_per_output_token_estimated_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Per request: an estimate of TPOT where the engine has none; TGI: inference time divided by generated tokens, prefill included, so it reads high by the prefill's share.",
        _C,
    ),
    Name(
        "axonize_inference_e2e_request_latency_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time from request arrival to its last output token, per request.",
        _C,
    ),
    Name(
        "axonize_inference_queue_time_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time a request waited in the engine's queue before it was scheduled.",
        _C,
    ),
    Name(
        "axonize_inference_prefill_time_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time from scheduling a request to its first token (prompt processing).",
        _C,
    ),
    Name(
        "axonize_inference_decode_time_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time from a request's first token to its last (generation).",
        _C,
    ),
    Name(
        "axonize_inference_inference_time_seconds",
        "histogram",
        "seconds",
        INFERENCE,
        "Time a request spent being computed: prefill plus decode, queueing excluded.",
        _C,
    ),
    Name("axonize_inference_prompt_tokens_total", "counter", "tokens", INFERENCE, "Prompt (prefill) tokens processed.", _C),
    Name("axonize_inference_generation_tokens_total", "counter", "tokens", INFERENCE, "Output tokens generated.", _C),
    Name(
        "axonize_inference_requests_finished_total",
        "counter",
        "requests",
        (*INFERENCE, "reason"),
        "Requests that finished, by the engine's finish reason (stop, length, abort, ...); empty reason where the engine does not report one.",
        _C,
    ),
    Name(
        "axonize_inference_request_errors_total",
        "counter",
        "requests",
        (*INFERENCE, "reason"),
        "Requests that failed or were rejected before they ran, by the engine's reason.",
        _C,
    ),
    Name(
        "axonize_inference_preemptions_total",
        "counter",
        "requests",
        INFERENCE,
        "Times a running request was preempted (vLLM) or retracted (SGLang) to free KV cache.",
        _C,
    ),
    Name(
        "axonize_inference_prefix_cache_queries_total", "counter", "tokens", INFERENCE, "Prompt tokens looked up in the prefix cache.", _C
    ),
    Name(
        "axonize_inference_prefix_cache_hits_total",
        "counter",
        "tokens",
        INFERENCE,
        "Prompt tokens found in the prefix cache (not recomputed).",
        _C,
    ),
    Name("axonize_inference_requests_running", "gauge", "requests", INFERENCE, "Requests in the running batch now.", _C),
    Name("axonize_inference_requests_waiting", "gauge", "requests", INFERENCE, "Requests queued, not yet scheduled, now.", _C),
    Name("axonize_inference_kv_cache_usage_ratio", "gauge", "ratio", INFERENCE, "Share of the KV cache in use now, 0-1.", _C),
    Name(
        "axonize_inference_target_up",
        "gauge",
        "",
        ("server",),
        "1 when the last scrape of the target succeeded and its exposition was read; 0 otherwise (down, slow, HTTP error, malformed text, unknown engine). Its normalized series are then withdrawn.",
        _C,
    ),
    Name(
        "axonize_inference_server_gpu_info",
        "info",
        "",
        ("server", "model", "uuid"),
        "The GPUs a target's engine runs on, value 1: join inference series to GPU series (on (uuid) with axonize_gpu_info). From the configuration's targets[].gpus, else from the processes listening on the target's port and their descendants, as NVML sees them (--attribution.source).",
        _C,
    ),
    Name("axonize_sidecar_build_info", "info", "", ("version", "python_version"), "Version of the sidecar; value 1.", _C),
    Name("axonize_sidecar_collections_total", "counter", "", (), "Collection cycles run.", _C),
    Name(
        "axonize_sidecar_collection_duration_seconds",
        "gauge",
        "seconds",
        (),
        "Wall time of the last cycle: all targets fetched concurrently, then normalized and rendered.",
        _C,
    ),
    Name(
        "axonize_sidecar_scrape_duration_seconds",
        "gauge",
        "seconds",
        ("server",),
        "Wall time of the target's last scrape: its HTTP GET plus parsing and normalizing its text.",
        _C,
    ),
    Name(
        "axonize_sidecar_last_success_timestamp_seconds",
        "gauge",
        "seconds",
        ("server",),
        "Unix time of the target's last successful scrape; absent until one succeeds.",
        _C,
    ),
    Name(
        "axonize_sidecar_target_errors_total",
        "counter",
        "",
        ("server", "kind"),
        "Target problems by kind. Failed scrapes (target_up 0): connect, timeout (no answer, or its text not read, within --collect.timeout), http (an answer other than 200, a redirect, a body over the size limit), parse (malformed text, a duplicated series, a sample line that is not UTF-8), mismatch (a mapped family of the wrong shape), engine (unknown engine), internal (a sidecar bug). And invalid: one mapped family left out of a good scrape (a NaN, infinite or negative counter; histogram buckets whose counts decrease or whose _count is not the +Inf bucket).",
        _C,
    ),
    Name(
        "axonize_sidecar_series_dropped_total",
        "counter",
        "",
        ("server",),
        "Exposition lines of the target's normalized series, then of its GPU join series (axonize_inference_server_gpu_info), left out by the per-target cap (--collect.max-series), summed over cycles.",
        _C,
    ),
    Name(
        "axonize_sidecar_collection_errors_total",
        "counter",
        "",
        ("stage",),
        "Failures of the collection loop outside any one target's scrape, by stage: attribution (GPU attribution raised; the previous answer stands), render (the normalized families could not be written; target_up and self-metrics are still served), cycle (any other error). The loop runs on; /-/healthy fails when no cycle has published for 3 intervals.",
        _C,
    ),
)
