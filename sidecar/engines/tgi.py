"""Hugging Face Text Generation Inference (TGI) v3: Rust ``metrics`` crate, ``metrics-exporter-prometheus``.

Names, HELP text and buckets from ``huggingface/text-generation-inference``
``router/src/server.rs`` (the ``describe_*`` calls) and ``backends/v3/src/{backend,queue}.rs``
at commit db931fcf42da018a3657580c64bf2720f167f9ab (v3.3.7+1). Its dialect:

* counters have no ``_total`` suffix (``tgi_request_count``), and values are integers;
* every duration is in seconds; there is **no time to first token and no inter-token
  histogram** (TGI issue #2887): those normalized series are absent, not estimated;
* ``tgi_request_mean_time_per_token_duration`` is a request's inference time divided by
  its generated tokens, prefill included: it is exposed as
  ``axonize_inference_time_per_output_token_estimated_seconds``, never as TPOT;
* token counts exist only as per-request histograms: their ``_sum`` is the token counter
  (counted when a request finishes, successful requests only);
* there is no model label (the model is ``model_id`` in ``GET /info``): set the target's
  ``model`` in the configuration.
"""

from __future__ import annotations

from .mapping import Adapter, Rule

_T = "axonize_inference_"

ADAPTER = Adapter(
    engine="tgi",
    title="TGI",
    prefix="tgi_",
    labels={},
    source="huggingface/text-generation-inference router/src/server.rs, backends/v3/src/{backend,queue}.rs (v3.3.7, db931fcf)",
    rules=(
        Rule("tgi_request_duration", _T + "e2e_request_latency_seconds", note="validation + queue + inference"),
        Rule("tgi_request_queue_duration", _T + "queue_time_seconds"),
        Rule("tgi_request_inference_duration", _T + "inference_time_seconds"),
        Rule(
            "tgi_request_mean_time_per_token_duration",
            _T + "time_per_output_token_estimated_seconds",
            note="inference time / generated tokens, prefill included: reads high",
        ),
        Rule("tgi_request_input_length", _T + "prompt_tokens_total", part="sum", note="_sum of the per-request histogram"),
        Rule("tgi_request_generated_tokens", _T + "generation_tokens_total", part="sum", note="_sum of the per-request histogram"),
        Rule("tgi_request_success", _T + "requests_finished_total", note="no finish reason: reason is empty"),
        Rule(
            "tgi_request_failure",
            _T + "request_errors_total",
            labels={"err": "reason"},
            note="err: validation, generation, overloaded, ...",
        ),
        Rule("tgi_batch_current_size", _T + "requests_running"),
        Rule("tgi_queue_size", _T + "requests_waiting"),
    ),
    unmapped={
        "tgi_request_count": "requests received, before validation: finished plus failed plus in flight",
        "tgi_request_validation_duration": "validation (tokenization) only",
        "tgi_request_max_new_tokens": "request parameter distribution",
        "tgi_request_skipped_tokens": "speculated tokens per request",
        "tgi_batch_concat": "batching internals",
        "tgi_batch_concat_duration": "batching internals",
        "tgi_batch_inference_count": "per batch, by method (prefill, decode): not per request",
        "tgi_batch_inference_success": "per batch, by method",
        "tgi_batch_inference_failure": "per batch, by method",
        "tgi_batch_inference_duration": "per batch, by method: not a request's prefill or decode time",
        "tgi_batch_forward_duration": "per batch, by method",
        "tgi_batch_decode_duration": "per batch, by method",
        "tgi_batch_filter_duration": "per batch, by method",
        "tgi_batch_next_size": "batching internals",
        "tgi_batch_current_max_tokens": "batch token budget, not KV cache usage",
        "tgi_batch_max_total_tokens": "configured token capacity",
    },
    notes=(
        "No time to first token, inter-token latency, prefill or decode time: absent.",
        "No model label: the target's configured `model` fills it.",
    ),
)
