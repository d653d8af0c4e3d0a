"""llama.cpp's ``llama-server --metrics``: a hand-written exposition of ``llamacpp:*`` families.

Names and HELP text from ``ggml-org/llama.cpp`` ``tools/server/server.cpp``
(``server_routes::get_metrics``; ``examples/server/server.cpp`` ``handle_metrics``
before the move). Each value is printed with C++ stream defaults (six significant
digits: a counter past 999999 prints as ``1.23457e+06``, so it loses precision in
the engine itself). No labels at all: the model comes from the target's configured
``model``. Older builds also printed ``kv_cache_usage_ratio`` and ``kv_cache_tokens``;
current builds do not, so the KV cache series is present only where the engine has it.

No latency histograms: ``prompt_seconds_total`` and ``tokens_predicted_seconds_total``
are sums of per-slot processing time, which overlap when slots run together, so
they are not request latencies.
"""

from __future__ import annotations

from .mapping import Adapter, Rule

_T = "axonize_inference_"

ADAPTER = Adapter(
    engine="llamacpp",
    title="llama.cpp",
    prefix="llamacpp:",
    labels={},
    source="ggml-org/llama.cpp tools/server/server.cpp, server_routes::get_metrics (examples/server/server.cpp handle_metrics before)",
    rules=(
        Rule("llamacpp:prompt_tokens_total", _T + "prompt_tokens_total"),
        Rule("llamacpp:tokens_predicted_total", _T + "generation_tokens_total"),
        Rule("llamacpp:requests_processing", _T + "requests_running", note="busy slots"),
        Rule("llamacpp:requests_deferred", _T + "requests_waiting"),
        Rule("llamacpp:kv_cache_usage_ratio", _T + "kv_cache_usage_ratio", versions="older builds"),
    ),
    unmapped={
        "llamacpp:prompt_seconds_total": "sum of per-slot prompt time; overlapping slots make it no latency",
        "llamacpp:tokens_predicted_seconds_total": "sum of per-slot generation time; overlapping slots make it no latency",
        "llamacpp:prompt_tokens_seconds": "a gauge of a rate since the last reset",
        "llamacpp:predicted_tokens_seconds": "a gauge of a rate since the last reset",
        "llamacpp:n_decode_total": "llama_decode() calls",
        "llamacpp:n_busy_slots_per_decode": "an average typed as a counter",
        "llamacpp:n_tokens_max": "the largest sequence seen, typed as a counter",
        "llamacpp:kv_cache_tokens": "KV cells in use (older builds); the ratio carries the share",
    },
    notes=("No labels: the target's configured `model` fills `model`.",),
)
