"""The normalized vocabulary: one name, unit and label set per inference concept, whatever the engine.

Every engine adapter (:mod:`axonize.sidecar.engines`) maps its own families onto
the rows of :data:`FAMILIES`. The names are fixed: dashboards, rules and alerts
are written against them. Every series carries

* ``engine``: ``vllm``, ``tgi``, ``sglang``, ``triton`` or ``llamacpp``;
* ``model``: the engine's model label (vLLM/SGLang ``model_name``, Triton
  ``model``), or the target's configured ``model`` where the engine has none
  (TGI, llama.cpp); empty when neither says;
* ``server``: the target's name (configured, else the URL's ``host:port``);
* ``engine_index`` only where the engine runs several engine cores behind one
  endpoint (vLLM V1's ``engine`` label: data parallelism);

plus the family's own labels (``reason``). Units are base units: seconds,
tokens, ratios 0-1. A concept the engine does not measure is an absent series,
never 0; an approximation carries ``estimated`` in its name.

Sample output (vLLM 0.33, one engine core)::

    axonize_inference_generation_tokens_total{engine="vllm",model="meta-llama/Llama-3.1-8B-Instruct",server="gpu-1:8000",engine_index="0"} 48311.0
    axonize_inference_time_to_first_token_seconds_bucket{engine="vllm",model="...",server="gpu-1:8000",engine_index="0",le="0.04"} 97.0
"""
from __future__ import annotations

from dataclasses import dataclass

#: Labels every normalized series carries, in exposition order (``engine_index`` only where the engine has one).
COMMON_LABELS = ("engine", "model", "server")
ENGINE_INDEX = "engine_index"


@dataclass(frozen=True)
class Family:
    """One normalized family.

    ``type`` is "counter", "gauge" or "histogram"; ``unit`` the base unit
    ("seconds", "tokens", "ratio", "requests"); ``labels`` the labels beyond
    :data:`COMMON_LABELS`. ``combine`` says how two engine series that land on
    the same normalized label set (an engine label the vocabulary drops, such
    as Triton's ``version``) are merged: "sum" (counts, histograms) or "max"
    (ratios, where a sum would exceed 1).
    """

    name: str
    type: str
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    combine: str = "sum"


FAMILIES: tuple[Family, ...] = (
    # -- latency histograms (buckets as the engine scraped them, bounds scaled to seconds) ---------------
    Family(
        "axonize_inference_time_to_first_token_seconds", "histogram", "seconds",
        "Time from request arrival to the first output token (server side), per request.",
    ),
    Family(
        "axonize_inference_inter_token_latency_seconds", "histogram", "seconds",
        "Time between consecutive output tokens of a request (one observation per decode step).",
    ),
    Family(
        "axonize_inference_time_per_output_token_seconds", "histogram", "seconds",
        "Per request: decode time divided by (output tokens - 1), the first token excluded (TPOT).",
    ),
    Family(
        "axonize_inference_time_per_output_token_estimated_seconds", "histogram", "seconds",
        "Per request: an estimate of TPOT where the engine has none; TGI: inference time divided by "
        "generated tokens, prefill included, so it reads high by the prefill's share.",
    ),
    Family(
        "axonize_inference_e2e_request_latency_seconds", "histogram", "seconds",
        "Time from request arrival to its last output token, per request.",
    ),
    Family(
        "axonize_inference_queue_time_seconds", "histogram", "seconds",
        "Time a request waited in the engine's queue before it was scheduled.",
    ),
    Family(
        "axonize_inference_prefill_time_seconds", "histogram", "seconds",
        "Time from scheduling a request to its first token (prompt processing).",
    ),
    Family(
        "axonize_inference_decode_time_seconds", "histogram", "seconds",
        "Time from a request's first token to its last (generation).",
    ),
    Family(
        "axonize_inference_inference_time_seconds", "histogram", "seconds",
        "Time a request spent being computed: prefill plus decode, queueing excluded.",
    ),
    # -- token and request counters -------------------------------------------------------------------
    Family(
        "axonize_inference_prompt_tokens_total", "counter", "tokens",
        "Prompt (prefill) tokens processed.",
    ),
    Family(
        "axonize_inference_generation_tokens_total", "counter", "tokens",
        "Output tokens generated.",
    ),
    Family(
        "axonize_inference_requests_finished_total", "counter", "requests",
        "Requests that finished, by the engine's finish reason (stop, length, abort, ...); "
        "empty reason where the engine does not report one.",
        labels=("reason",),
    ),
    Family(
        "axonize_inference_request_errors_total", "counter", "requests",
        "Requests that failed or were rejected before they ran, by the engine's reason.",
        labels=("reason",),
    ),
    Family(
        "axonize_inference_preemptions_total", "counter", "requests",
        "Times a running request was preempted (vLLM) or retracted (SGLang) to free KV cache.",
    ),
    Family(
        "axonize_inference_prefix_cache_queries_total", "counter", "tokens",
        "Prompt tokens looked up in the prefix cache.",
    ),
    Family(
        "axonize_inference_prefix_cache_hits_total", "counter", "tokens",
        "Prompt tokens found in the prefix cache (not recomputed).",
    ),
    # -- state gauges -----------------------------------------------------------------------------------
    Family(
        "axonize_inference_requests_running", "gauge", "requests",
        "Requests in the running batch now.",
    ),
    Family(
        "axonize_inference_requests_waiting", "gauge", "requests",
        "Requests queued, not yet scheduled, now.",
    ),
    Family(
        "axonize_inference_kv_cache_usage_ratio", "gauge", "ratio",
        "Share of the KV cache in use now, 0-1.",
        combine="max",
    ),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}

#: Series the sidecar adds per target, beside the engine's: (name, type, unit, labels, help).
TARGET_SERIES = (
    (
        "axonize_inference_target_up", "gauge", "", ("server",),
        "1 when the last scrape of the target succeeded and its exposition was read; 0 otherwise "
        "(down, slow, HTTP error, malformed text, unknown engine). Its normalized series are then withdrawn.",
    ),
    (
        "axonize_inference_server_gpu_info", "info", "", ("server", "model", "uuid"),
        "The GPUs a target's engine runs on, value 1: join inference series to GPU series "
        "(on (uuid) with axonize_gpu_info). From the configuration's targets[].gpus, else from the processes "
        "listening on the target's port and their descendants, as NVML sees them (--attribution.source).",
    ),
)
