"""The OpenTelemetry GenAI metrics of routed requests, as the OpenTelemetry -> Prometheus translation names them.

On with ``--metrics.names otel`` (instead of the ``axonize_gateway_*`` families) or ``both``. Sample
lines (a streamed chat completion, 17 prompt and 32 completion tokens, to a vLLM at 10.0.0.5:8000)::

    gen_ai_client_operation_duration_seconds_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="openai",gen_ai_request_model="tinyllama",server_address="10.0.0.5",server_port="8000",error_type="",le="0.64"} 1.0
    gen_ai_server_time_to_first_token_seconds_count{gen_ai_operation_name="chat",...,error_type=""} 1.0
    gen_ai_client_token_usage_sum{gen_ai_operation_name="chat",...,gen_ai_token_type="output"} 32.0
    gen_ai_client_inference_usage_input_tokens_total{gen_ai_operation_name="chat",...,gen_ai_token_modality="unknown"} 17.0

Sources: semantic-conventions ``docs/gen-ai/gen-ai-metrics.md`` (v1.41: ``gen_ai.client.operation.duration``,
``gen_ai.server.time_to_first_token``, ``gen_ai.client.token.usage`` and their bucket advice) and
semantic-conventions-genai ``docs/gen-ai/gen-ai-token-metrics.md`` (the ``gen_ai.client.inference.usage.*``
counters), all in development status. The labels:

* ``gen_ai_operation_name``: ``chat``, ``text_completion`` or ``embeddings`` from the endpoint (the
  spec's well-known values);
* ``gen_ai_provider_name``: ``openai``, the API the upstreams speak (the spec makes it the discriminator of
  the telemetry's flavour, "may differ from the actual upstream provider"); the engine is told by
  ``server_address`` and ``server_port``, the upstream behind the gateway (as the spec asks of intermediaries);
* ``error_type``: the gateway's error kind (``connect``, ``timeout``, ``http_5xx``, ``http_4xx``, ``malformed``,
  ``client_disconnect``), empty when the request succeeded; Prometheus reads an empty label as absent;
* ``gen_ai_token_modality``: ``unknown``, as the spec asks when the usage is not split by modality.

Tokens follow the spec, not the gateway's billing: a request without the engine's usage (a cut stream)
adds 0 to the usage counters and nothing to ``gen_ai_client_token_usage``; its delivered tokens are in
``axonize_gateway_completion_tokens_total`` (and the estimated counter). Requests the gateway refuses
before routing (unknown key or model, a body that is not JSON) are not operations on a model and are
not recorded here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Histogram

from axonize import names
from axonize.names import gateway as rows

PROVIDER = "openai"
OPERATIONS = {"/v1/chat/completions": "chat", "/v1/completions": "text_completion", "/v1/embeddings": "embeddings"}
MODALITY = "unknown"


def server_of(url: str) -> tuple[str, str]:
    """``(server_address, server_port)`` of an upstream's base URL; the scheme's port when the URL has none."""
    parts = urlsplit(url)
    return parts.hostname or "", str(parts.port or (443 if parts.scheme == "https" else 80))


def family(kind, name: str, registry: CollectorRegistry | None, **kwargs):
    """A prometheus_client metric (``kind``) named, described and labelled by the names registry's row of ``name``;
    ``registry`` None: counted but not exposed."""
    row = names.get(name)
    base = name[: -len("_total")] if row.type == "counter" else name
    return kind(base, row.help, list(row.labels), registry=registry, **kwargs)


class GenAiMetrics:
    """The five GenAI families in ``registry``; :meth:`finished` records one routed request.

    ``routes``: ``{model: upstream base URL}`` of the configured models, whose token counters are exposed
    at 0 from the start for the chat and completion operations (``rate()`` needs a first sample).
    """

    def __init__(self, registry: CollectorRegistry, routes: dict[str, str] | None = None):
        r = registry
        self.duration = family(Histogram, "gen_ai_client_operation_duration_seconds", r, buckets=rows.OPERATION_DURATION_BUCKETS)
        self.ttft = family(Histogram, "gen_ai_server_time_to_first_token_seconds", r, buckets=rows.TTFT_BUCKETS)
        self.token_usage = family(Histogram, "gen_ai_client_token_usage", r, buckets=rows.TOKEN_USAGE_BUCKETS)
        self.input_tokens = family(Counter, "gen_ai_client_inference_usage_input_tokens_total", r)
        self.output_tokens = family(Counter, "gen_ai_client_inference_usage_output_tokens_total", r)
        self._servers: dict[str, tuple[str, str]] = {}
        for model, url in (routes or {}).items():
            for operation in ("chat", "text_completion"):
                labels = (operation, PROVIDER, model, *self._server(url))
                self.input_tokens.labels(*labels, MODALITY)
                self.output_tokens.labels(*labels, MODALITY)

    def _server(self, url: str) -> tuple[str, str]:
        server = self._servers.get(url)
        if server is None:
            server = self._servers[url] = server_of(url)
        return server

    def finished(
        self,
        endpoint: str,
        model: str,
        upstream_url: str,
        error_type: str,
        duration: float,
        ttft: float | None,
        usage: tuple[int, int] | None,
    ) -> None:
        """One routed request: ``duration`` and ``ttft`` in seconds (``ttft`` None: no content sent),
        ``usage`` ``(prompt, completion)`` tokens from the engine or None; ``error_type`` "" on success."""
        labels = (OPERATIONS.get(endpoint, endpoint), PROVIDER, model, *self._server(upstream_url))
        self.duration.labels(*labels, error_type).observe(duration)
        if ttft is not None:
            self.ttft.labels(*labels, error_type).observe(ttft)
        prompt, completion = usage or (0, 0)
        self.input_tokens.labels(*labels, MODALITY).inc(prompt)
        if labels[0] != "embeddings":
            self.output_tokens.labels(*labels, MODALITY).inc(completion)
        if usage is not None:
            self.token_usage.labels(*labels, "input").observe(prompt)
            if labels[0] != "embeddings":
                self.token_usage.labels(*labels, "output").observe(completion)
