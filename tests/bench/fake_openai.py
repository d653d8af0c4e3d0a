"""A fake OpenAI-compatible server on loopback for the bench tests (aiohttp, its own loop in a thread).

``/v1/models`` lists ``fake``; ``/v1/completions`` answers every ``fail_every``-th request (1-based) with HTTP 500
and the others with ``max_tokens`` chunks of one character each, then a usage chunk (prompt tokens: the length of
the token-id prompt), then ``[DONE]``; not streamed, one JSON answer with ``usage``. ``/metrics`` gives
vLLM-named counters of what it answered, multiplied by ``count_factor`` (1: honest).
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from tests.loopback import LoopbackApp


class FakeOpenAI:
    def __init__(self, fail_every: int = 0, count_factor: int = 1):
        self.fail_every, self.count_factor = fail_every, count_factor
        self.seen = 0
        self.success = self.prompt = self.generation = 0
        self.bodies: list[dict] = []
        self._server = LoopbackApp(self._app, "fake OpenAI server")

    @property
    def url(self) -> str:
        return self._server.url()

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_post("/v1/completions", self._completions)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "fake", "object": "model"}]})

    async def _metrics(self, request: web.Request) -> web.Response:
        f = self.count_factor
        text = "".join(
            f'# TYPE vllm:{name} counter\nvllm:{name}_total{{model_name="fake",engine="0"}} {value * f}\n'
            for name, value in (("request_success", self.success), ("prompt_tokens", self.prompt), ("generation_tokens", self.generation))
        )
        return web.Response(text=text, content_type="text/plain")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        self.seen += 1
        if self.fail_every and self.seen % self.fail_every == 0:
            return web.json_response({"error": {"message": "boom", "code": 500}}, status=500)
        n, prompt = body["max_tokens"], len(body["prompt"])
        usage = {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n}
        self.success, self.prompt, self.generation = self.success + 1, self.prompt + prompt, self.generation + n
        if not body.get("stream"):
            return web.json_response({"choices": [{"index": 0, "text": "x" * n, "finish_reason": "length"}], "usage": usage})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for _ in range(n):
            await asyncio.sleep(0.002)
            await response.write(b"data: " + json.dumps({"choices": [{"index": 0, "text": "x"}]}).encode() + b"\n\n")
        await response.write(b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\ndata: [DONE]\n\n")
        await response.write_eof()
        return response

    def __enter__(self) -> FakeOpenAI:
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__(*exc)
