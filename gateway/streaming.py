"""Server-sent events passed through event by event, with the usage read on the way.

The engine's stream is cut into events at their blank line (:class:`Events`) and each event is
written to the client as soon as it is whole, as the engine sent it, byte for byte: nothing is
re-encoded and nothing waits for the end. The one exception: when the client did not ask for
``stream_options.include_usage``, the gateway asked for it (:func:`with_usage`) and removes the
usage-only chunk the engine adds at the end (OpenAI API: ``"choices": []`` and ``"usage"``; the
LiteLLM proxy does the same, see ../shared/notes "Streaming usage and metering").

When the stream is cut before that chunk (the client leaves, the upstream fails) the tokens already
sent are counted from the content chunks written: one token per choice with content in a chunk (its
``content``, ``reasoning_content``, ``reasoning``, ``text`` or ``tool_calls``, one token however many of them it
has; vLLM sends one token per chunk by default, more with ``--stream-interval``), marked estimated (its
prompt is counted by the proxy, :mod:`.prompt_tokens`). The client's departure is noticed at the next
write; the upstream response is then closed, which makes the engine abort the request. A client that
stops reading at ``[DONE]`` and leaves before the response's end has had the whole stream: it is
counted in full, without an error.

Per-chunk cost (the gateway's CPU is taken from the engine's cores when they share a machine): only the
first data event, and any event naming ``"usage"`` or ``"error"``, is parsed as JSON (:func:`parse_event`).
Every other event that is one ``data: {...}`` line is a plain chunk (:func:`plain_tokens`): its content
fields are counted with one regular expression (a chunk with more than one is parsed), and its JSON is
trusted to be whole by its braces (an engine that breaks its JSON mid-stream is still caught when the
braces do not close the line). The
read timeout is one timer per stream (:class:`IdleTimeout`), the inter-chunk times are kept in a list
and binned once per stream (``Metering.streamed``). Measured with benchmarks/gateway_latency.py.

Once the 200 and a first event are sent an error can only be told in the stream: the gateway ends it
with ``data: {"error": {...}}`` (as vLLM does) and no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from .routing import sse_error_event

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_CONTENT_KEYS = ("content", "reasoning_content", "reasoning", "tool_calls")


def with_usage(body: dict) -> tuple[dict, bool]:
    """The request body with ``stream_options.include_usage`` set, and whether the client had asked for it."""
    options = body.get("stream_options")
    asked = isinstance(options, dict) and options.get("include_usage") is True
    if asked:
        return body, True
    options = dict(options) if isinstance(options, dict) else {}
    options["include_usage"] = True
    return {**body, "stream_options": options}, False


class Events:
    """Cuts a byte stream into whole SSE events (each with its terminating blank line), keeping the rest."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        if not self.pending and data.endswith(b"\n\n") and data.find(b"\n\n") == len(data) - 2 and b"\r" not in data:
            return [data]  # the usual read: exactly one event
        buf = self.pending + data if self.pending else data
        out, pos = [], 0
        while (m := _EVENT_END.search(buf, pos)) is not None:
            out.append(buf[pos : m.end()])
            pos = m.end()
        self.pending = buf[pos:]
        return out


@dataclass(frozen=True)
class Event:
    """What one SSE event says: ``kind`` is ``data``, ``done`` ([DONE]), ``error``, ``other`` (no data) or ``malformed``."""

    kind: str
    tokens: int = 0
    usage: dict | None = None
    usage_only: bool = False


_OTHER, _DONE, _MALFORMED = Event("other"), Event("done"), Event("malformed")


def _has_content(choice: object) -> bool:
    if not isinstance(choice, dict):
        return False
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return any(delta.get(k) for k in _CONTENT_KEYS)
    return bool(choice.get("text"))


#: A content field with text in a chunk: ``"content": "x``, ``"text": "x``, ``"reasoning_content"``, ``"reasoning"``,
#: or a ``"tool_calls": [`` list. Inside a JSON string a quote is escaped (``\\"``), so ``"content"`` followed by
#: ``:`` is a key, never text.
_CONTENT = re.compile(rb'"(?:content|reasoning_content|reasoning|text)"\s*:\s*"(?!")|"tool_calls"\s*:\s*\[\s*\{')
_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')


def plain_tokens(raw: bytes) -> int:
    """Content tokens of a plain chunk (one ``data: {...}`` line without a usage object or an error), else -1.

    -1 means: read it with :func:`parse_event`. About 1 µs against 6 µs for the JSON parse (benchmarks/gateway_latency.py).
    The count is :func:`parse_event`'s, one per choice with content: a chunk with one content field is counted by
    the regular expression alone, one with more (a delta with ``reasoning_content`` and ``content``, n > 1
    choices) is parsed.
    """
    if not (raw.startswith(b"data: {") and raw.endswith(b"}\n\n") and raw.find(b"\n") == len(raw) - 2):
        return -1
    if b'"error"' in raw or (b'"usage"' in raw and _USAGE_OBJECT.search(raw)):
        return -1
    fields = len(_CONTENT.findall(raw))
    if fields < 2:
        return fields
    # Two content fields are one choice's (vLLM's reasoning parsers send ``reasoning_content`` and ``content`` in
    # one delta) or several choices' (n > 1): the parse counts one per choice with content (-1 if it is not JSON).
    event = parse_event(raw)
    return event.tokens if event.kind == "data" else -1


def parse_event(raw: bytes) -> Event:
    """Read one whole event (bytes up to its blank line): its content tokens and its usage."""
    lines = [line[5:] for line in raw.splitlines() if line.startswith(b"data:")]
    if not lines:
        return _OTHER
    data = b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)
    if data.strip() == b"[DONE]":
        return _DONE
    try:
        obj = json.loads(data)
    except ValueError:
        return _MALFORMED
    if not isinstance(obj, dict):
        return _MALFORMED
    if "error" in obj:
        return Event("error")
    choices = obj.get("choices")
    choices = choices if isinstance(choices, list) else []
    usage = obj.get("usage") if isinstance(obj.get("usage"), dict) else None
    return Event("data", sum(1 for c in choices if _has_content(c)), usage, usage is not None and not choices)


class IdleTimeout:
    """``--upstream.timeout`` between a stream's reads, kept by one timer per timeout instead of one per read.

    aiohttp's ``sock_read`` timeout cancels and sets a timer at every read (about 1.5 µs a chunk, see
    benchmarks/gateway_latency.py). Once the stream's headers are in, this takes the timeout over from
    the connection (``protocol.read_timeout = None``, as aiohttp does for websockets): the relay notes the
    perf_counter() of each read in :attr:`last` (it takes that time anyway) and the timer wakes when the
    stream would have been idle ``seconds``: if it was, the upstream body fails with aiohttp's own
    ``ServerTimeoutError``; if not, the timer is set again for the rest. A connection without a read
    timeout gets no timer.

    Time spent waiting on the client is not upstream idleness: aiohttp's timer stops while reading is
    paused for backpressure, and here the relay sets :attr:`writing` around each write to the client
    (the timer then only sets itself again) and notes the end of the write in :attr:`last`. A client
    that reads slowly keeps its stream; an upstream silent while the relay waits for it times out.
    """

    __slots__ = ("upstream", "seconds", "last", "handle", "writing")

    def __init__(self, upstream: aiohttp.ClientResponse):
        self.upstream, self.handle, self.seconds, self.writing = upstream, None, 0.0, False
        self.last = time.perf_counter()
        protocol = upstream.connection.protocol if upstream.connection is not None else None
        if protocol is not None and protocol.read_timeout:
            self.seconds, protocol.read_timeout = protocol.read_timeout, None
            self.handle = asyncio.get_running_loop().call_later(self.seconds, self._check)

    def _check(self) -> None:
        if self.writing:  # waiting on the client, not the upstream: no upstream idleness while the write is blocked
            self.handle = asyncio.get_running_loop().call_later(self.seconds, self._check)
            return
        idle = time.perf_counter() - self.last
        if idle >= self.seconds:
            self.handle = None
            self.upstream.content.set_exception(aiohttp.ServerTimeoutError(f"no bytes from the upstream for {self.seconds:g} s"))
        else:
            self.handle = asyncio.get_running_loop().call_later(self.seconds - idle, self._check)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


@dataclass
class Relay:
    """One stream passed through; after :meth:`run`: what was sent and how it ended.

    ``usage``: the engine's last usage object (None when the stream was cut before it);
    ``tokens``: content tokens counted from chunks written; ``content_times``: perf_counter() at each
    write that carried content (TTFT and inter-chunk latency); ``error``: the error kind
    (``timeout``, ``malformed``, ``client_disconnect``) or None; ``prepared``: whether the client got
    the status line (if not, the caller answers with an error of its own); ``added``: seconds spent
    between reading upstream bytes and having written them.
    """

    request: web.Request
    upstream: aiohttp.ClientResponse
    strip_usage: bool
    headers: dict
    response: web.StreamResponse | None = None
    usage: dict | None = None
    tokens: int = 0
    content_times: list[float] = field(default_factory=list)
    error: str | None = None
    message: str = ""
    done: bool = False
    added: float = 0.0

    @property
    def prepared(self) -> bool:
        return self.response is not None

    async def _write(self, data: bytes) -> None:
        if self.response is None:
            self.response = web.StreamResponse(status=self.upstream.status, headers=self.headers)
            await self.response.prepare(self.request)
        await self.response.write(data)

    async def run(self) -> Relay:
        idle = IdleTimeout(self.upstream)
        try:
            return await self._relay(idle)
        finally:
            idle.cancel()

    async def _relay(self, idle: IdleTimeout) -> Relay:
        events = Events()
        content_times = self.content_times
        clock = time.perf_counter
        checked = False  # the first data event is parsed in full: a stream that is not JSON is caught at once
        try:
            async for data in self.upstream.content.iter_any():
                idle.last = received = clock()
                out, tokens = [], 0
                for raw in events.feed(data):
                    n = plain_tokens(raw) if checked else -1
                    if n >= 0:
                        tokens += n
                        out.append(raw)
                        continue
                    event = parse_event(raw)
                    if event.kind == "malformed":
                        self.tokens += tokens  # the whole events before it are still sent
                        return await self._fail("malformed", f"the upstream sent an event that is not JSON: {raw[:200]!r}", out)
                    checked = checked or event.kind == "data"
                    if event.usage is not None:
                        self.usage = event.usage
                        if event.usage_only and self.strip_usage:
                            continue
                    self.done = self.done or event.kind == "done"
                    tokens += event.tokens
                    out.append(raw)
                if out:
                    idle.writing = True
                    if self.response is None:
                        await self._write(b"".join(out))
                    else:
                        await self.response.write(out[0] if len(out) == 1 else b"".join(out))
                    idle.last = written = clock()
                    idle.writing = False
                    if tokens:
                        self.tokens += tokens
                        content_times.append(written)
                    self.added += written - received
                else:
                    self.added += clock() - received
            if events.pending:  # bytes after the last blank line: not an event, but the client gets what the engine sent
                await self._write(events.pending)
            if not (self.done or self.usage is not None):
                return await self._fail("malformed", "the upstream ended the stream before its end ([DONE])", [])
        except ConnectionError:
            self.error, self.message = "client_disconnect", "the client closed the connection"
            self.upstream.close()
            return self
        except (TimeoutError, aiohttp.ServerTimeoutError):
            return await self._fail("timeout", "the upstream sent nothing within --upstream.timeout", [])
        except aiohttp.ClientError as exc:
            return await self._fail("malformed", f"the upstream stream broke: {type(exc).__name__}: {exc}", [])
        if self.response is not None:
            try:
                await self.response.write_eof()
            except ConnectionError:  # a client that stops reading at [DONE] (most SDKs) may have left already
                if not self.done:
                    self.error, self.message = "client_disconnect", "the client closed the connection"
        return self

    async def _fail(self, kind: str, message: str, pending: list[bytes]) -> Relay:
        """Close the upstream; when the client has its 200 already, send what was whole and end the stream with the error."""
        self.error, self.message = kind, message
        self.upstream.close()
        if self.response is not None or pending:
            try:
                await self._write(b"".join(pending) + sse_error_event(f"upstream error: {message}", "upstream_error", kind))
                await self.response.write_eof()
            except ConnectionError:
                self.error = "client_disconnect"
        return self
