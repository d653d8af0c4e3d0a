"""A fake OpenAI-compatible upstream and the gateway, both on loopback in an event loop of their own (a thread).

The fake's behaviour is chosen by the request's ``model``:

* ``fast``: streams ``max_tokens`` chat chunks (``"<prompt>:<i> "``), then the usage chunk when asked,
  then ``[DONE]``; non-streamed, one JSON answer with ``usage``;
* ``slow``: waits :attr:`FakeUpstream.slow_seconds` before answering (a timeout);
* ``fail``: HTTP 500 with an OpenAI-style error; ``bad-request``: HTTP 400;
* ``garbage``: a 200 stream whose first event is not JSON; ``garbage-late``: three good chunks, then not JSON;
* ``cut``: three good chunks, then the connection is closed without ``[DONE]``;
* ``stall``: two good chunks, then nothing for :attr:`FakeUpstream.slow_seconds` (a timeout mid-stream);
* ``linger``: as ``fast``, then holds the response open :attr:`FakeUpstream.linger_seconds` after ``[DONE]``
  before ending it (a client that stops reading at ``[DONE]`` has left by then).

It counts what it was asked (``requests``) and the streams it saw end early (``cancelled``). With
``tokenize=True`` it also serves ``POST /tokenize`` as vLLM does (``{"count": ...}``: :data:`PROMPT_TOKENS`,
the prompt its usage reports), keeping each body asked in ``tokenized``.
"""

from __future__ import annotations

import asyncio
import json
import threading

from aiohttp import web

from axonize.gateway import cli
from axonize.gateway.config import Upstream

PROMPT_TOKENS = 7


def chunk(model: str, choices: list, usage: dict | None = None) -> bytes:
    body = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class LoopThread:
    """An asyncio loop in a daemon thread; :meth:`run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class FakeUpstream:
    def __init__(self, chunk_delay: float = 0.0, slow_seconds: float = 30.0, linger_seconds: float = 0.2, tokenize: bool = False):
        self.chunk_delay = chunk_delay
        self.tokenize = tokenize
        self.tokenized: list[dict] = []
        self.slow_seconds = slow_seconds
        self.linger_seconds = linger_seconds
        self.requests: list[dict] = []
        self.cancelled = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> FakeUpstream:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/v1/models", self.models)
        if self.tokenize:
            app.router.add_post("/tokenize", self.tokenize_prompt)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        await self.runner.cleanup()

    async def models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "owned_by": "fake"} for m in ("fast", "slow", "unrouted")]
        return web.json_response({"object": "list", "data": data})

    async def tokenize_prompt(self, request: web.Request) -> web.Response:
        self.tokenized.append(await request.json())
        return web.json_response({"count": PROMPT_TOKENS, "max_model_len": 2048, "tokens": list(range(PROMPT_TOKENS))})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append({"body": body, "headers": dict(request.headers)})
        model, n = body["model"], int(body.get("max_tokens", 4))
        prompt = body["messages"][-1]["content"]
        if model == "slow":
            await asyncio.sleep(self.slow_seconds)
            if request.transport is None or request.transport.is_closing():
                self.cancelled += 1
                return web.Response(status=499)
        if model == "fail":
            return web.json_response({"error": {"message": "engine crashed", "type": "internal"}}, status=500)
        if model == "bad-request":
            return web.json_response({"error": {"message": "max_tokens too large", "type": "BadRequestError"}}, status=400)
        usage = {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": n, "total_tokens": PROMPT_TOKENS + n}
        if not body.get("stream"):
            text = "".join(f"{prompt}:{i} " for i in range(n))
            return web.json_response({"id": "cmpl-1", "object": "chat.completion", "model": model, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length"}], "usage": usage})  # fmt: skip
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        try:
            if model == "garbage":
                await response.write(b"data: <html>oops</html>\n\n")
                return response
            await response.write(chunk(model, [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))
            for i in range(n if model in ("fast", "linger") else 2 if model == "stall" else 3):
                await response.write(chunk(model, [{"index": 0, "delta": {"content": f"{prompt}:{i} "}, "finish_reason": None}]))
                if self.chunk_delay:
                    await asyncio.sleep(self.chunk_delay)
            if model == "stall":
                await asyncio.sleep(self.slow_seconds)
                self.cancelled += request.transport is None or request.transport.is_closing()
                return response
            if model == "garbage-late":
                await response.write(b"data: {not json\n\n")
                return response
            if model == "cut":
                request.transport.close()
                return response
            await response.write(chunk(model, [{"index": 0, "delta": {}, "finish_reason": "length"}]))
            if (body.get("stream_options") or {}).get("include_usage"):
                await response.write(chunk(model, [], usage))
            await response.write(b"data: [DONE]\n\n")
            if model == "linger":
                await asyncio.sleep(self.linger_seconds)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            self.cancelled += 1
            raise
        return response


class GatewayThread:
    """``axonize-gateway`` (:func:`axonize.gateway.cli.serve`, the real listener) on 127.0.0.1:0 in a :class:`LoopThread`."""

    def __init__(self, loop: LoopThread, upstreams: list[Upstream], argv: list[str] = ()):
        args = cli.build_parser(cli.PROGRAM, "", cli.OPTIONS).parse_args(["--web.listen-address", "127.0.0.1:0", *argv])
        self.settings = cli.resolve(cli.OPTIONS, args)
        self.settings["upstream"] = upstreams
        self.settings["router"] = cli.Router(upstreams)
        self.settings["salt"] = b"test-salt"
        self.gateway = cli.build(self.settings)
        self.loop = loop
        bound = loop.loop.create_future()
        self.task = loop.loop.call_soon_threadsafe(self._start, bound)
        self.addresses = asyncio.run_coroutine_threadsafe(self._wait(bound), loop.loop).result(30)
        host, port = self.addresses[0]
        self.url = f"http://{host}:{port}"

    def _start(self, bound) -> None:
        self._task = asyncio.ensure_future(cli.serve(self.gateway, self.settings, ready=bound.set_result))

    async def _wait(self, bound):
        return await bound

    def stop(self) -> None:
        async def cancel():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

        self.loop.run(cancel())
