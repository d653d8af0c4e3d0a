"""The sidecar's families made from OpenTelemetry spans (its OTLP/HTTP receiver at ``/v1/traces``), and the
recorded names of the slow-step rules built on them.

``model`` is the request span's ``gen_ai.request.model`` (or ``gen_ai.response.model``; ``""`` when neither is
there); ``stage`` a child span's ``axonize.stage`` attribute, else its name (vLLM's ``llm_request`` spans give
``queue``, ``prefill`` and ``decode``); ``step`` the ``axonize.step`` index up to ``--traces.max-step``, beyond
it ``other``; ``customer`` the request span's ``axonize.customer``; ``status`` the span status (``ok``,
``error``, ``unset``). Each label's distinct values are capped (``--traces.max-values``); the rest read
``other``. The span convention is in docs/traces.md and :mod:`axonize.sidecar.spans`.

Durations are the span's own (end - start, as the SDK recorded it), in seconds, in :data:`DURATION_BUCKETS`.
A request's cost is in US dollars, in :data:`COST_BUCKETS`: its duration x the $/hour of its devices / 3600 at the
prices of the exporter named by ``--traces.prices.url`` (:mod:`axonize.sidecar.prices`).
"""

from __future__ import annotations

from axonize.names import Name

_C = "sidecar"

#: Bucket bounds of every span duration, seconds: 1 ms to 2.5 ms, then the OpenTelemetry GenAI conventions'
#: ``gen_ai.client.operation.duration`` advice (0.01 s doubling to 81.92 s): a denoising step of a small
#: model takes milliseconds, a whole diffusion request tens of seconds.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, *(round(0.01 * 2**k, 2) for k in range(14)))

#: Bucket bounds of each request's GPU cost, US dollars: 1-2-5 steps from $0.000001 (a few milliseconds of a
#: $1/h device) to $10 (an hour on a few $4-8/h GPUs), 22 bounds, so each bucket is at most 2.5x the one below
#: and histogram_quantile's linear interpolation stays within that factor.
COST_BUCKETS = tuple(float(f"{m}e{e}") for e in range(-6, 1) for m in (1, 2, 5)) + (10.0,)

STAGE = ("model", "stage")
STEP = ("model", "stage", "step")

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_trace_request_duration_seconds",
        "histogram",
        "seconds",
        ("model",),
        "Duration of each request span (a span carrying gen_ai.request.model), from the span's start and end times.",
        _C,
    ),
    Name(
        "axonize_trace_stage_duration_seconds",
        "histogram",
        "seconds",
        STAGE,
        "Duration of each stage of a request: a descendant span of the request span (stage: its axonize.stage attribute, else its name), or a vLLM llm_request span's queue, prefill and decode times.",
        _C,
    ),
    Name(
        "axonize_trace_step_duration_seconds",
        "histogram",
        "seconds",
        STEP,
        "Duration of each step of a stage: a span with axonize.step, or the time since the previous axonize.step event of the stage span (the first from the span's start).",
        _C,
    ),
    Name(
        "axonize_trace_requests_total",
        "counter",
        "requests",
        ("model", "customer", "status"),
        'Request spans received, by model, customer (axonize.customer, "" when absent) and span status (ok, error, unset).',
        _C,
    ),
    Name(
        "axonize_trace_stages_total",
        "counter",
        "",
        (*STAGE, "status"),
        "Stage spans received, by model, stage and span status (ok, error, unset).",
        _C,
    ),
    Name(
        "axonize_trace_request_gpu_seconds_total",
        "counter",
        "seconds",
        ("model", "customer", "uuid"),
        "GPU time of requests per GPU (or MIG device) uuid: each request span's duration added to every GPU its process used, from axonize.gpu.uuid, else the resource's process.pid (NVML), else the GPUs of the targets serving the model. Summed over uuid: seconds x GPUs. Requests with no known GPU add nothing; uuids beyond the first --traces.max-values read 'other'.",
        _C,
    ),
    Name(
        "axonize_trace_request_cost_dollars",
        "histogram",
        "dollars",
        ("model", "customer"),
        "GPU cost of each request span, US dollars (buckets COST_BUCKETS): its duration x the sum of the $/hour of its distinct GPUs and MIG devices / 3600, prices read from --traces.prices.url (a GPU's axonize_gpu_price_dollars_per_hour; a MIG device's axonize_mig_price_dollars_per_hour over its GPU instance's compute instances, as uuid:axonize_gpu_cost:dollars_per_hour). _sum is the dollars spent (the cost counter), _count the requests priced. Requests not priced are in axonize_trace_requests_unpriced_total.",
        _C,
    ),
    Name(
        "axonize_trace_requests_unpriced_total",
        "counter",
        "requests",
        ("model", "reason"),
        "Request spans left out of axonize_trace_request_cost_dollars, by reason: no_gpu (no GPU known for it), unknown_uuid (a GPU or MIG device without a price in the exporter's /metrics), no_prices (no price table read yet), stale_prices (no good read of the prices for --traces.prices.max-age, 15m). Priced + unpriced = axonize_trace_requests_total. Absent without --traces.prices.url.",
        _C,
    ),
    Name(
        "axonize_sidecar_spans_received_total",
        "counter",
        "",
        (),
        "Spans in OTLP/HTTP trace requests the receiver decoded (accepted, dropped and rejected ones alike).",
        _C,
    ),
    Name(
        "axonize_sidecar_spans_dropped_total",
        "counter",
        "",
        ("reason",),
        'Spans decoded but not turned into metrics: queue_full (the request was answered 503 with Retry-After: the processing queue, --traces.queue-size, was full; the client retries), orphaned (its request span never came within --traces.join-timeout, counted with model "" instead), pending_full (the join buffer was full), step_events_lost (a step event whose start is unknown because the sender SDK dropped the earlier events of the span: not timed).',
        _C,
    ),
    Name(
        "axonize_sidecar_spans_rejected_total",
        "counter",
        "",
        ("reason",),
        "Spans refused as invalid and reported to the client in partial_success.rejected_spans: no_times (start or end time 0), negative_duration (end before start), bad_id (a trace or span id of the wrong length).",
        _C,
    ),
    Name(
        "axonize_sidecar_otlp_requests_total",
        "counter",
        "requests",
        ("code",),
        "OTLP/HTTP requests on /v1/traces, by the HTTP status code answered (200, 400, 413, 415, 503, ...).",
        _C,
    ),
    Name(
        "axonize_sidecar_otlp_forwarded_total",
        "counter",
        "requests",
        (),
        "Trace request bodies forwarded unchanged to --traces.forward.url and answered 2xx.",
        _C,
    ),
    Name(
        "axonize_sidecar_otlp_forward_errors_total",
        "counter",
        "requests",
        ("kind",),
        "Trace request bodies not delivered upstream, by kind: connect, timeout, http (an answer other than 2xx), buffer_full (more than --traces.forward.buffer bytes waiting).",
        _C,
    ),
    Name(
        "axonize_sidecar_price_fetch_errors_total",
        "counter",
        "",
        ("kind",),
        "Failed reads of the GPU price table at --traces.prices.url (the exporter's /metrics), by kind: connect, timeout, http (an answer other than 200, a redirect, a body over 16 MiB), parse (not the Prometheus text format), missing (no axonize_gpu_price_dollars_per_hour: not an Axonize exporter), internal. The last table read stays in use for --traces.prices.max-age (15m) after its read.",
        _C,
    ),
    Name(
        "axonize_sidecar_otlp_queue_length",
        "gauge",
        "requests",
        (),
        "Trace requests accepted and waiting to be turned into metrics, at the last collection cycle.",
        _C,
    ),
    Name(
        "model_stage_step:axonize_trace_step_duration_seconds:mean_rate{window}",
        "gauge",
        "seconds",
        STEP,
        "Mean duration of each step index of a model's stage over the window, seconds.",
        "rules",
    ),
    Name(
        "model_stage:axonize_trace_step_duration_seconds:mean_rate{window}",
        "gauge",
        "seconds",
        STAGE,
        "Mean duration of all steps of a model's stage over the window, seconds.",
        "rules",
    ),
    Name(
        "model_stage_step:axonize_trace_step_duration_seconds:ratio_to_mean_rate{window}",
        "gauge",
        "ratio",
        STEP,
        "Each step index's mean duration divided by the mean step of its model and stage over the window (1.4: 40 % slower than the average step).",
        "rules",
    ),
    Name(
        "customer_model:axonize_trace_requests:rate{window}",
        "gauge",
        "requests_per_second",
        ("customer", "model"),
        "Request spans per second of each customer and model over the window, every status.",
        "rules",
    ),
    Name(
        "customer_model:axonize_trace_gpu_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("customer", "model"),
        "GPU cost of each customer's traced requests of a model, $/h: the busy time of their GPUs (request span durations) at each device's price.",
        "rules",
    ),
    Name(
        "customer_model:axonize_trace_cost_per_request:dollars",
        "gauge",
        "dollars",
        ("customer", "model"),
        "GPU cost of one traced request of each customer and model, $ (busy time: the request's GPU-seconds at their prices).",
        "rules",
    ),
    Name(
        "model:axonize_trace_gpu_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("model",),
        "GPU cost of each model's traced requests, $/h (busy time, every customer).",
        "rules",
    ),
    Name(
        "model:axonize_trace_cost_per_request:dollars",
        "gauge",
        "dollars",
        ("model",),
        "GPU cost of one traced request of each model, $ (busy time, every customer).",
        "rules",
    ),
)
