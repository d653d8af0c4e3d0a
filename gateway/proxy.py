"""The gateway's aiohttp application: identify, route, forward, relay, meter, log.

Paths:

* ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``: routed by ``model``
  (:mod:`.routing`), metered per customer and model (:mod:`.metering`), one usage record each;
* ``GET /v1/models``: every upstream's list, the models routed to it only;
* the telemetry path (``/metrics``) unless it is served on its own address, ``/-/healthy``, ``/-/ready``;
* anything else: 404 with an OpenAI-style error, or (``--proxy.other-paths pass``) forwarded to the
  first upstream unmetered.

The answer to each failure, counted in ``axonize_gateway_upstream_errors_total{kind}``:

=====================  ================================================================
connect                502, the upstream cannot be reached (refused, no route, DNS)
timeout                504, no bytes from the upstream within ``--upstream.timeout``
http_4xx               the upstream's own status and body, unchanged (the request's fault)
http_5xx               502 naming the upstream's status and message
malformed              502 (a body or first event that is not JSON); mid-stream, an SSE error event
client_disconnect      nothing more is sent; the upstream request is cancelled
=====================  ================================================================

Only the request concerned fails: the upstream session, its connections and the other streams go on.

A stream cut after its 200 and before the engine's usage chunk has its completion tokens counted from the
chunks sent (:mod:`.streaming`) and its prompt by the upstream's ``POST /tokenize`` (:mod:`.prompt_tokens`),
after the client has had its last byte.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .config import Upstream
from .identity import Identities, Identity
from .metering import UNKNOWN_MODEL, Metering
from .prompt_tokens import PromptCounter
from .routing import METERED, STREAMING, Router, error_body, error_response
from .streaming import Relay, with_usage
from .usage_log import UsageLog, utc_time

log = logging.getLogger(__name__)

#: Headers of one connection only (RFC 9110 section 7.6.1), and those the gateway sets itself.
_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
        "Content-Encoding",
        "Host",
        "Date",
        "Server",
        "Authorization",
        "Accept-Encoding",
    )
)
MAX_UPSTREAM_BODY = 64 * 2**20
"""Largest non-streamed upstream answer read (bytes); a bigger one is ``malformed``."""


def _forwarded(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP}


class Gateway:
    """The proxy's state (router, identities, metering, upstream session, usage log) and its handlers."""

    def __init__(
        self,
        router: Router,
        identities: Identities,
        metering: Metering,
        *,
        connect_timeout: float = 5.0,
        timeout: float = 300.0,
        max_connections: int = 1024,
        other_paths: str = "refuse",
        max_request_bytes: int = 32 * 2**20,
        usage_log: UsageLog | None = None,
        telemetry_path: str | None = "/metrics",
        identity_header: str = "",
    ):
        self.router, self.identities, self.metering = router, identities, metering
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=timeout)
        self.max_connections = max_connections
        self.other_paths = other_paths
        self.max_request_bytes = max_request_bytes
        self.usage_log = usage_log
        self.telemetry_path = telemetry_path
        self.session: aiohttp.ClientSession | None = None
        self._strip = {identity_header.lower()} if identity_header else set()
        self.prompts = PromptCounter()

    # ------------------------------------------------------------------ application

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_request_bytes)
        for path in METERED:
            app.router.add_post(path, self.metered)
        app.router.add_get("/v1/models", self.models)
        if self.telemetry_path:
            app.router.add_get(self.telemetry_path, self.metrics)
        app.router.add_get("/-/healthy", _ok)
        app.router.add_get("/-/ready", _ok)
        app.router.add_route("*", "/{tail:.*}", self.other)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    def metrics_app(self) -> web.Application:
        """The telemetry path alone, for ``--web.telemetry-listen-address``."""
        app = web.Application()
        app.router.add_get(self.telemetry_path or "/metrics", self.metrics)
        app.router.add_get("/-/healthy", _ok)
        return app

    async def _open(self, app: web.Application) -> None:
        connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=0, enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, auto_decompress=False)

    async def _close(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def metrics(self, request: web.Request) -> web.Response:
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, self.metering.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    def _upstream_headers(self, up: Upstream, request: web.Request) -> dict[str, str]:
        headers = {k: v for k, v in _forwarded(request.headers).items() if k.lower() not in self._strip}
        headers["Accept-Encoding"] = "identity"
        if up.api_key:
            headers["Authorization"] = f"Bearer {up.api_key}"
        return headers

    # ------------------------------------------------------------------ metered endpoints

    async def metered(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        call = _Call(request, started, time.time())
        identity = self.identities.identify(request.headers)
        try:
            if identity is None:
                call.identity = Identity("unknown", "", False)
                return await call.answer(error_response(401, "unknown or missing API key", "invalid_request_error", "invalid_api_key"))
            call.identity = identity
            try:
                raw = await request.read()
                body = json.loads(raw)
            except web.HTTPRequestEntityTooLarge:
                return await call.answer(error_response(413, f"request body over {self.max_request_bytes} bytes", "invalid_request_error"))
            except ValueError:
                return await call.answer(error_response(400, "the request body is not JSON", "invalid_request_error"))
            if not isinstance(body, dict):
                return await call.answer(error_response(400, "the request body is not a JSON object", "invalid_request_error"))
            upstream = self.router.route(body.get("model"))
            if upstream is None:
                return await call.answer(self.router.unknown_model(body.get("model")))
            call.model, call.upstream = body["model"], upstream
            return await self._forward(call, upstream, raw, body)
        finally:
            self._finish(call)

    async def _forward(self, call: _Call, up: Upstream, raw: bytes, body: dict) -> web.StreamResponse:
        request, model = call.request, call.model
        call.customer = self.metering.customer(call.identity.customer)
        stream = body.get("stream") is True and request.path in STREAMING
        strip = False
        if stream:
            body, asked = with_usage(body)
            strip = not asked
            if strip:
                raw = json.dumps(body).encode()
        in_flight = self.metering.in_flight.labels(model)
        in_flight.inc()
        call.in_flight = in_flight
        headers = self._upstream_headers(up, request)
        headers["Content-Type"] = "application/json"
        call.added += time.perf_counter() - call.started
        try:
            async with self.session.post(up.url + request.path, data=raw, headers=headers) as answer:
                received = time.perf_counter()
                if answer.status >= 400:
                    return await self._upstream_error(call, up, answer)
                if stream and answer.content_type == "text/event-stream":
                    call.added += time.perf_counter() - received
                    return await self._relay(call, up, answer, strip, body)
                data = await answer.content.read(MAX_UPSTREAM_BODY + 1)
                received = time.perf_counter()
                try:
                    usage = json.loads(data).get("usage") if len(data) <= MAX_UPSTREAM_BODY else None
                except (ValueError, AttributeError):
                    return await call.fail(self.metering, "malformed", 502, f"upstream {up.url} answered a body that is not JSON")
                call.count(usage if isinstance(usage, dict) else None)
                out = web.Response(status=answer.status, body=data, headers=_forwarded(answer.headers))
                call.added += time.perf_counter() - received
                return await call.answer(out)
        except aiohttp.ClientConnectorError as exc:
            return await call.fail(self.metering, "connect", 502, f"upstream {up.url} cannot be reached: {exc.os_error or exc}")
        except aiohttp.ConnectionTimeoutError:
            return await call.fail(self.metering, "connect", 502, f"upstream {up.url} cannot be reached within --upstream.connect-timeout")
        except (TimeoutError, aiohttp.ServerTimeoutError):
            return await call.fail(self.metering, "timeout", 504, f"upstream {up.url} sent nothing within --upstream.timeout")
        except aiohttp.ClientError as exc:
            return await call.fail(self.metering, "malformed", 502, f"upstream {up.url} failed: {type(exc).__name__}: {exc}")

    async def _upstream_error(self, call: _Call, up: Upstream, answer: aiohttp.ClientResponse) -> web.StreamResponse:
        data = await answer.content.read(64 * 1024)
        if answer.status < 500:
            self.metering.error(call.model, "http_4xx")
            call.outcome = "http_4xx"
            return await call.answer(web.Response(status=answer.status, body=data, headers=_forwarded(answer.headers)))
        try:
            message = json.loads(data)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = data[:300].decode("utf-8", "replace")
        return await call.fail(self.metering, "http_5xx", 502, f"upstream {up.url} answered HTTP {answer.status}: {message}")

    async def _relay(self, call: _Call, up: Upstream, answer: aiohttp.ClientResponse, strip: bool, body: dict) -> web.StreamResponse:
        relay = await Relay(call.request, answer, strip, _forwarded(answer.headers)).run()
        call.added += relay.added
        call.relay = relay
        if relay.usage is not None:
            call.count(relay.usage)
        else:
            call.prompt, call.completion, call.estimated = 0, relay.tokens, True
        if relay.error is not None:
            self.metering.error(call.model, relay.error)
            call.outcome = relay.error
        if not relay.prepared:  # nothing sent yet: a plain error answer
            status = 504 if relay.error == "timeout" else 502
            return await call.answer(error_response(status, f"upstream error: {relay.message}", "upstream_error", relay.error))
        call.status = relay.response.status
        call.ended = time.perf_counter()
        if relay.usage is None:  # cut after its 200: the engine prefilled the prompt; count it (the client has its last byte)
            prompt = await self.prompts.count(self.session, up.url, self._upstream_headers(up, call.request), call.request.path, body)
            if prompt is not None:
                call.prompt, call.prompt_source = prompt, "tokenize"
        return relay.response

    def _finish(self, call: _Call) -> None:
        """Count the answered request and queue its usage record (after its last byte was sent)."""
        ended = call.ended or time.perf_counter()
        if call.in_flight is not None:
            call.in_flight.dec()
        m = self.metering
        customer = (call.customer or m.customer(call.identity.customer)) if call.identity else "unknown"
        if call.outcome == "client_disconnect" and call.relay is None:
            m.error(call.model, "client_disconnect")
        m.finished(
            customer,
            call.model,
            call.request.path,
            call.status,
            call.prompt,
            call.completion,
            call.estimated,
            ended - call.started,
            call.added,
        )
        ttft = None
        relay = call.relay
        if relay is not None and relay.content_times:
            ttft = relay.content_times[0] - call.started
            m.streamed(call.model, ttft, relay.content_times)
        if m.genai is not None and call.upstream is not None:
            usage = (call.prompt, call.completion) if call.usage else None
            error_type = "" if call.outcome == "ok" else call.outcome
            m.genai.finished(call.request.path, call.model, call.upstream.url, error_type, ended - call.started, ttft, usage)
        if self.usage_log is not None:
            self.usage_log.record(
                {
                    "request_id": call.id,
                    "time": utc_time(call.wall),
                    "customer": customer,
                    "customer_hash": call.identity.key_hash if call.identity else "",
                    "model": call.model,
                    "endpoint": call.request.path,
                    "status": call.status,
                    "prompt_tokens": call.prompt,
                    "completion_tokens": call.completion,
                    "estimated": call.estimated,
                    "prompt_source": call.prompt_source,
                    "ttft_seconds": None if ttft is None else round(ttft, 6),
                    "duration_seconds": round(ended - call.started, 6),
                    "outcome": call.outcome,
                }
            )

    # ------------------------------------------------------------------ unmetered endpoints

    async def models(self, request: web.Request) -> web.Response:
        async def one(up: Upstream) -> list[dict]:
            try:
                async with self.session.get(f"{up.url}/v1/models", headers=self._upstream_headers(up, request)) as answer:
                    data = (await answer.json(content_type=None)).get("data", [])
                    return [m for m in data if isinstance(m, dict) and m.get("id") in up.models]
            except (TimeoutError, aiohttp.ClientError, ValueError, AttributeError) as exc:
                log.warning("GET %s/v1/models failed: %s: %s", up.url, type(exc).__name__, exc)
                return []

        merged, seen = [], set()
        for listed in await asyncio.gather(*(one(up) for up in self.router.upstreams)):
            for entry in listed:
                if entry["id"] not in seen:
                    seen.add(entry["id"])
                    merged.append(entry)
        if not merged:
            return error_response(502, "no upstream answered GET /v1/models", "upstream_error", "connect")
        return web.json_response({"object": "list", "data": merged})

    async def other(self, request: web.Request) -> web.StreamResponse:
        if self.other_paths != "pass":
            return error_response(
                404, f"{request.method} {request.path} is not served by this gateway", "invalid_request_error", "not_found"
            )
        up = self.router.upstreams[0]
        try:
            async with self.session.request(
                request.method, up.url + str(request.rel_url), data=await request.read(), headers=self._upstream_headers(up, request)
            ) as answer:
                response = web.StreamResponse(status=answer.status, headers=_forwarded(answer.headers))
                await response.prepare(request)
                async for data in answer.content.iter_any():
                    await response.write(data)
                await response.write_eof()
                return response
        except (TimeoutError, aiohttp.ClientError) as exc:
            return error_response(502, f"upstream {up.url} failed: {type(exc).__name__}", "upstream_error", "connect")


async def _ok(request: web.Request) -> web.Response:
    return web.Response(text="OK\n")


class _Call:
    """One metered request's state, from arrival to its record."""

    __slots__ = (
        "request", "started", "wall", "id", "identity", "customer", "model", "status", "prompt", "completion",
        "estimated", "added", "ended", "relay", "outcome", "in_flight", "upstream", "usage", "prompt_source",
    )  # fmt: skip

    def __init__(self, request: web.Request, started: float, wall: float):
        self.request, self.started, self.wall = request, started, wall
        self.id = uuid.uuid4().hex
        self.identity: Identity | None = None
        self.customer = ""
        self.model = UNKNOWN_MODEL
        self.status = 500
        self.prompt = self.completion = 0
        self.estimated = False
        self.added = 0.0
        self.ended = 0.0
        self.relay: Relay | None = None
        self.outcome = "ok"
        self.in_flight = None
        self.upstream: Upstream | None = None
        self.usage = False  # whether the engine's usage was read
        self.prompt_source = "none"

    def count(self, usage: dict | None) -> None:
        if usage is not None:
            self.usage, self.prompt_source = True, "usage"
            self.prompt = int(usage.get("prompt_tokens") or 0)
            self.completion = int(usage.get("completion_tokens") or 0)

    async def answer(self, response: web.Response) -> web.StreamResponse:
        """Send a whole response now (so the duration covers it); a client gone by then is a client_disconnect."""
        self.status = response.status
        if self.outcome == "ok" and response.status >= 400:
            self.outcome = "refused"
        try:
            await response.prepare(self.request)
            await response.write_eof()
        except ConnectionError:
            self.outcome = "client_disconnect"
        self.ended = time.perf_counter()
        return response

    async def fail(self, metering: Metering, kind: str, status: int, message: str) -> web.StreamResponse:
        metering.error(self.model, kind)
        self.outcome = kind
        return await self.answer(error_response(status, message, "upstream_error", kind))


__all__ = ["Gateway", "error_body"]
