"""Which upstream answers a request, and errors in the OpenAI API's shape.

Routed endpoints (:data:`METERED`): ``POST /v1/chat/completions``, ``/v1/completions`` and
``/v1/embeddings`` go to the upstream configured for the request's ``model``; ``GET /v1/models``
merges every upstream's list. An error the gateway answers itself reads as OpenAI's do::

    {"error": {"message": "model 'gpt-5' is not served here; models: tinyllama", "type": "invalid_request_error",
               "param": "model", "code": "model_not_found"}}
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from aiohttp import web

from .config import Upstream

METERED = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
STREAMING = ("/v1/chat/completions", "/v1/completions")
"""Endpoints whose requests may stream (``"stream": true``) and accept ``stream_options``."""


def error_body(message: str, type_: str, code: str | int | None = None, param: str | None = None) -> bytes:
    """An OpenAI-style error object, JSON bytes."""
    return json.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}}).encode()


def error_response(status: int, message: str, type_: str, code: str | int | None = None, param: str | None = None) -> web.Response:
    """A JSON error response with ``status`` and :func:`error_body`."""
    return web.Response(status=status, body=error_body(message, type_, code, param), content_type="application/json")


def sse_error_event(message: str, type_: str, code: str | int | None = None) -> bytes:
    """The error an SSE stream ends with once its 200 is sent (as vLLM writes one): ``data: {"error": ...}``."""
    return b"data: " + error_body(message, type_, code) + b"\n\n"


class Router:
    """``model`` -> :class:`Upstream`; ValueError at construction when a model is configured twice or none is."""

    def __init__(self, upstreams: Iterable[Upstream]):
        self.upstreams = tuple(upstreams)
        if not self.upstreams:
            raise ValueError("no upstreams; give --upstream MODEL=URL or an 'upstreams:' list in --config")
        self.by_model: dict[str, Upstream] = {}
        for up in self.upstreams:
            for model in up.models:
                if model in self.by_model:
                    raise ValueError(f"model {model!r} is routed to both {self.by_model[model].url} and {up.url}")
                self.by_model[model] = up

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.by_model)

    def route(self, model: str) -> Upstream | None:
        return self.by_model.get(model)

    def unknown_model(self, model: object) -> web.Response:
        shown = model if isinstance(model, str) else json.dumps(model)
        return error_response(
            404,
            f"model {shown[:200]!r} is not served here; models: {', '.join(self.models)}",
            "invalid_request_error",
            "model_not_found",
            "model",
        )
