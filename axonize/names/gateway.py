"""The gateway's families (``axonize-gateway``): per-request and per-customer metering at an OpenAI-compatible proxy.

``customer`` is a configured customer name, a salted hash prefix of the API key (never the key), the
value of the configured identity header, ``anonymous``, or ``other`` once the cardinality cap is
reached. ``model`` is the request's ``model``; ``endpoint`` the OpenAI path (``/v1/chat/completions``);
``status`` the HTTP status code sent to the client.

Latency histograms are measured as the client sees them (the gateway's clock), with the explicit
bucket boundaries the OpenTelemetry GenAI semantic conventions recommend (:data:`TTFT_BUCKETS`, ...).

With ``--metrics.names otel`` or ``both`` the gateway also (or only) exposes the OpenTelemetry GenAI
semantic-convention metrics (:data:`GENAI_NAMES`) under the names and labels they take through the
OpenTelemetry -> Prometheus translation (dots become underscores; the unit ``s`` adds ``_seconds``, a unit in
braces such as ``{token}`` adds nothing; a counter adds ``_total``), so dashboards built on those
conventions read the gateway as they read an instrumented client.

Rows of the names registry (:mod:`axonize.names`); the gateway's metering binds each to its metrics.
"""

from __future__ import annotations

from axonize.names import Name

_C = "gateway"

#: ``gen_ai.server.time_to_first_token`` (OpenTelemetry GenAI semantic conventions, metrics, bucket advice), seconds.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: ``gen_ai.server.time_per_output_token`` (same source), seconds.
TIME_PER_OUTPUT_TOKEN_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
#: ``gen_ai.client.operation.duration`` (same source): 0.01 s doubling to 81.92 s.
OPERATION_DURATION_BUCKETS = tuple(round(0.01 * 2**k, 2) for k in range(14))
#: The gateway's own time per request: the conventions give no advice; 100 µs to 100 ms, about 2.5x apart (Axonize's choice).
ADDED_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

#: ``gen_ai.client.token.usage`` (same source): powers of 4 from 1 to 67,108,864, tokens.
TOKEN_USAGE_BUCKETS = tuple(4**k for k in range(14))

CUSTOMER = ("customer", "model")

AXONIZE_NAMES: tuple[Name, ...] = (
    Name(
        "axonize_gateway_requests_total",
        "counter",
        "requests",
        ("customer", "model", "endpoint", "status"),
        "Requests answered, by customer, model, endpoint and the HTTP status code sent to the client (a stream the client left counts with the status already sent).",
        _C,
    ),
    Name(
        "axonize_gateway_prompt_tokens_total",
        "counter",
        "tokens",
        CUSTOMER,
        "Prompt tokens of answered requests, from the engine's usage.",
        _C,
    ),
    Name(
        "axonize_gateway_completion_tokens_total",
        "counter",
        "tokens",
        CUSTOMER,
        "Completion tokens delivered: the engine's usage, or for a stream cut before its usage chunk, the content chunks sent (see the estimated counter).",
        _C,
    ),
    Name(
        "axonize_gateway_estimated_completion_tokens_total",
        "counter",
        "tokens",
        CUSTOMER,
        "The part of axonize_gateway_completion_tokens_total counted from content chunks sent (one token per chunk and choice), not from the engine's usage.",
        _C,
    ),
    Name(
        "axonize_gateway_time_to_first_token_seconds",
        "histogram",
        "seconds",
        ("model",),
        "Client side: from receiving a streamed request to sending its first content chunk. Buckets: gen_ai.server.time_to_first_token (OpenTelemetry GenAI).",
        _C,
    ),
    Name(
        "axonize_gateway_inter_chunk_latency_seconds",
        "histogram",
        "seconds",
        ("model",),
        "Client side: time between consecutive content chunks sent. Buckets: gen_ai.server.time_per_output_token (OpenTelemetry GenAI).",
        _C,
    ),
    Name(
        "axonize_gateway_request_duration_seconds",
        "histogram",
        "seconds",
        ("model",),
        "Client side: from receiving a request to sending its last byte (end to end). Buckets: gen_ai.client.operation.duration (OpenTelemetry GenAI).",
        _C,
    ),
    Name(
        "axonize_gateway_requests_in_flight",
        "gauge",
        "requests",
        ("model",),
        "Requests received and not yet answered in full.",
        _C,
    ),
    Name(
        "axonize_gateway_upstream_errors_total",
        "counter",
        "",
        ("model", "kind"),
        "Requests that failed, by kind: connect (upstream unreachable), timeout (no bytes within --upstream.timeout), http_5xx, http_4xx (the upstream's answer), malformed (a body or SSE event that is not JSON, a stream cut before its end), client_disconnect (the client left mid-answer; the upstream request is cancelled).",
        _C,
    ),
    Name(
        "axonize_gateway_added_latency_seconds",
        "histogram",
        "seconds",
        (),
        "Time spent in the gateway itself per request: from receiving it to handing it to the upstream, plus handling each upstream chunk until it is written to the client. Buckets: 100 µs to 100 ms.",
        _C,
    ),
    Name(
        "axonize_gateway_customers_folded_total",
        "counter",
        "requests",
        (),
        'Requests whose customer was folded into customer="other" because --metrics.max-customers distinct customers were already exposed.',
        _C,
    ),
)

#: The attributes the OpenTelemetry GenAI metrics share, as Prometheus labels (``gen_ai.operation.name`` -> ``gen_ai_operation_name``).
GENAI = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "server_address", "server_port")
_SPEC = "OpenTelemetry GenAI semantic conventions"

GENAI_NAMES: tuple[Name, ...] = (
    Name(
        "gen_ai_client_operation_duration_seconds",
        "histogram",
        "seconds",
        (*GENAI, "error_type"),
        f"gen_ai.client.operation.duration ({_SPEC}): each routed request, from its arrival to its last byte sent; error_type is the gateway's error kind, empty when it succeeded.",
        _C,
    ),
    Name(
        "gen_ai_server_time_to_first_token_seconds",
        "histogram",
        "seconds",
        (*GENAI, "error_type"),
        f"gen_ai.server.time_to_first_token ({_SPEC}): each stream that sent a content chunk, from the request's arrival to that chunk sent.",
        _C,
    ),
    Name(
        "gen_ai_client_token_usage",
        "histogram",
        "tokens",
        (*GENAI, "gen_ai_token_type"),
        f"gen_ai.client.token.usage ({_SPEC}): the input and output tokens of each request whose usage the engine sent (gen_ai_token_type input or output).",
        _C,
    ),
    Name(
        "gen_ai_client_inference_usage_input_tokens_total",
        "counter",
        "tokens",
        (*GENAI, "gen_ai_token_modality"),
        f"gen_ai.client.inference.usage.input_tokens ({_SPEC}): prompt tokens from the engine's usage, 0 for a request without usage; gen_ai_token_modality is unknown (the usage is not split by modality).",
        _C,
    ),
    Name(
        "gen_ai_client_inference_usage_output_tokens_total",
        "counter",
        "tokens",
        (*GENAI, "gen_ai_token_modality"),
        f"gen_ai.client.inference.usage.output_tokens ({_SPEC}): completion tokens from the engine's usage, 0 without usage (a cut stream's tokens count in the axonize_gateway_* counters only).",
        _C,
    ),
)

NAMES = AXONIZE_NAMES + GENAI_NAMES
