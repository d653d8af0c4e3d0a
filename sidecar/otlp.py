"""OTLP/HTTP for traces, the wire side: read a request body within bounds, decode it, write the answers.

What the OTLP specification (opentelemetry-proto, docs/specification.md, "OTLP/HTTP") asks, and how:

* a POST body is an ``ExportTraceServiceRequest`` (the official ``opentelemetry-proto`` package), binary
  protobuf (``Content-Type: application/x-protobuf``) or JSON (``application/json``): the proto3 JSON mapping
  (``google.protobuf.json_format``) with the OTLP deviations: ``traceId`` / ``spanId`` / ``parentSpanId``
  are hex, not base64 (turned into base64 before parsing), enums are integers (the mapping accepts
  them), unknown fields are ignored;
* ``Content-Encoding: gzip`` is accepted; the body is bounded before *and* after decompression
  (``max_bytes``; the spec recommends 20 MiB, the sidecar's default is 4 MiB): beyond it, 413;
* the answer has the request's ``Content-Type``: on success an ``ExportTraceServiceResponse``
  (``partial_success.rejected_spans`` and ``error_message`` when spans were refused), on failure a
  ``google.rpc.Status`` whose ``message`` says what was wrong (400 undecodable, 413 too large, 415 another
  content type, 503 with ``Retry-After`` when the receiver is overloaded: the spec's throttling answer).

:func:`read_body` and :func:`decode` raise :class:`OtlpError` (``status``, ``message``); nothing here
touches the metrics: see :mod:`axonize.sidecar.spans` for what the spans mean.
"""

from __future__ import annotations

import base64
import json
import zlib

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
#: The default bound of a body, compressed or not: 4 MiB (the spec recommends 20 MiB; a BatchSpanProcessor
#: batch of 512 spans is ~100 KB).
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
#: The fields whose JSON form is hex (OTLP) where proto3 JSON has base64.
HEX_FIELDS = ("traceId", "spanId", "parentSpanId")


class OtlpError(Exception):
    """A request the receiver refuses: ``status`` (HTTP) and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def content_type(request: web.Request) -> str:
    """``application/x-protobuf`` or ``application/json`` (parameters ignored); 415 for anything else."""
    kind = request.content_type.lower()
    if kind not in (PROTOBUF, JSON):
        raise OtlpError(415, f"Content-Type {kind or '(none)'!r} is not OTLP/HTTP: send {PROTOBUF} or {JSON}")
    return kind


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The body as sent (still compressed when it was), at most ``max_bytes``; 413 beyond (by Content-Length or as read)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise OtlpError(413, f"body of {request.content_length} bytes is over the limit of {max_bytes} bytes (--traces.max-body)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise OtlpError(413, f"body is over the limit of {max_bytes} bytes (--traces.max-body)")
        chunks.append(chunk)
    return b"".join(chunks)


def decompress(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """The body after ``Content-Encoding`` (identity or gzip), at most ``max_bytes``; 413 beyond, 400 when not gzip, 415 for other codings."""
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return body
    if coding != "gzip":
        raise OtlpError(415, f"Content-Encoding {coding!r} is not supported: send gzip or none")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise OtlpError(400, f"body is not valid gzip: {exc}") from None
    if len(out) > max_bytes:
        raise OtlpError(413, f"body is over the limit of {max_bytes} bytes once decompressed (--traces.max-body)")
    if not inflater.eof:
        raise OtlpError(400, "body is not valid gzip: the stream is truncated")
    return out


def decode(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """The ``ExportTraceServiceRequest`` in ``body`` (binary protobuf or OTLP JSON); 400 naming what is wrong."""
    message = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise OtlpError(400, f"body is not a protobuf ExportTraceServiceRequest: {exc}") from None
        return message
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpError(400, f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise OtlpError(400, f"body is JSON {type(doc).__name__}, not an ExportTraceServiceRequest object")
    if doc and "resourceSpans" not in doc and "resource_spans" not in doc:
        keys = ", ".join(sorted(map(str, doc))[:5])
        raise OtlpError(400, f"JSON body has no 'resourceSpans' (keys: {keys}): not an OTLP ExportTraceServiceRequest")
    try:
        _hex_to_base64(doc)
        json_format.ParseDict(doc, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise OtlpError(400, f"JSON body is not an OTLP ExportTraceServiceRequest: {exc}") from None
    return message


def _hex_to_base64(node) -> None:
    """Rewrite, in place, every hex ``traceId`` / ``spanId`` / ``parentSpanId`` as the base64 proto3 JSON expects."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in HEX_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise ValueError(f"{key} {value[:40]!r} is not hex") from None
            else:
                _hex_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_to_base64(item)


def success(kind: str, rejected: int = 0, message: str = "") -> web.Response:
    """200 with an ``ExportTraceServiceResponse``; ``partial_success`` set only when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.CopyFrom(ExportTracePartialSuccess(rejected_spans=rejected, error_message=message))
    return _answer(200, kind, response)


def failure(kind: str, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """``status`` with a ``google.rpc.Status`` carrying ``message`` (JSON when the request was JSON, else protobuf)."""
    return _answer(status, kind, status_pb2.Status(message=message), headers)


def _answer(status: int, kind: str, message, headers: dict[str, str] | None = None) -> web.Response:
    if kind == JSON:
        body = json_format.MessageToJson(message, indent=None).encode()
    else:
        body = message.SerializeToString()
        kind = PROTOBUF
    return web.Response(status=status, body=body, content_type=kind, headers=headers)
