"""NVIDIA Triton Inference Server: per-model ``nv_inference_*`` families (prometheus-cpp).

Names, HELP text and meanings from ``triton-inference-server/server``
``docs/user_guide/metrics.md`` (commits 067c1e96 and dcc9123c) and the metric listing in
the TensorRT-LLM backend README ("Triton Metrics"). Triton is request-shaped, not
LLM-shaped:

* latencies are cumulative **microsecond counters** (``nv_inference_request_duration_us``,
  ``nv_inference_queue_duration_us``; ``--metrics-config counter_latencies``, on by default).
  Each becomes a histogram with ``_sum`` (scaled to seconds) and ``_count`` from
  ``nv_inference_request_success`` (the docs: a summary's ``_count``/``_sum`` "match the
  counter metric equivalents") and a single ``+Inf`` bucket: rates give the mean, no quantile;
* ``nv_inference_first_response_histogram_ms`` (decoupled models, ``histogram_latencies``)
  is time to the first *response* in milliseconds, scaled to seconds: time to first token
  where the model streams one token per response;
* counters carry no ``_total`` suffix; ``nv_inference_request_failure`` has a ``reason``
  label (REJECTED, CANCELED, BACKEND, OTHER) in newer releases;
* no token counters, no running-request gauge, no KV cache: absent.

Labels: ``model`` -> ``model``; ``version`` (and ``gpu_uuid`` in older releases) are merged.
"""

from __future__ import annotations

from .mapping import Adapter, Rule

_T = "axonize_inference_"

ADAPTER = Adapter(
    engine="triton",
    title="Triton",
    prefix="nv_inference_",
    labels={"model": "model"},
    source="triton-inference-server/server docs/user_guide/metrics.md (067c1e96, dcc9123c); TensorRT-LLM backend README, Triton Metrics",
    rules=(
        Rule(
            "nv_inference_first_response_histogram_ms",
            _T + "time_to_first_token_seconds",
            scale=1e-3,
            note="ms -> s; time to the first response of a decoupled model",
        ),
        Rule(
            "nv_inference_request_duration_us",
            _T + "e2e_request_latency_seconds",
            scale=1e-6,
            count_from="nv_inference_request_success",
            note="µs counter -> _sum in s; _count from request_success",
        ),
        Rule(
            "nv_inference_queue_duration_us",
            _T + "queue_time_seconds",
            scale=1e-6,
            count_from="nv_inference_request_success",
            note="µs counter -> _sum in s; _count from request_success",
        ),
        Rule("nv_inference_request_success", _T + "requests_finished_total", note="no finish reason: reason is empty"),
        Rule("nv_inference_request_failure", _T + "request_errors_total", labels={"reason": "reason"}),
        Rule("nv_inference_pending_request_count", _T + "requests_waiting", note="requests awaiting execution"),
    ),
    unmapped={
        "nv_inference_count": "inferences (batch items), not requests",
        "nv_inference_exec_count": "batch executions",
        "nv_inference_compute_input_duration_us": "backend input processing; excludes cached requests",
        "nv_inference_compute_infer_duration_us": "backend compute; excludes cached requests, so request_success is not its count",
        "nv_inference_compute_output_duration_us": "backend output processing; excludes cached requests",
        "nv_inference_request_summary_us": "summary quantiles over a sliding window cannot be aggregated; the counters carry sum and count",
        "nv_inference_queue_summary_us": "summary quantiles; the counters carry sum and count",
    },
    notes=(
        "Latency counters give histograms with only the `+Inf` bucket: mean via rate(_sum)/rate(_count), no quantiles.",
        "No model token counters, running requests or KV cache.",
    ),
)
