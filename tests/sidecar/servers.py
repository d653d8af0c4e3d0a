"""Real aiohttp HTTP servers on loopback that play inference servers for the sidecar's tests.

:class:`FakeEngines` serves paths set by the test: a fixture's text, an HTTP
status and headers (a redirect), a delay before answering (a slow target), raw bytes. It runs its own
event loop in a thread, so the sidecar under test (its own loop, or a subprocess)
talks to it over real sockets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from tests.loopback import LoopbackApp


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] | None = None


class FakeEngines(LoopbackApp):
    """``with FakeEngines() as engines: engines.serve("/vllm", text); engines.url("/vllm")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        super().__init__(self._app, "fake engine server")

    def serve(self, path: str, text: str | bytes, status: int = 200, delay: float = 0.0, headers: dict[str, str] | None = None) -> str:
        """Answer GET ``path`` with ``text`` (and ``status`` and ``headers``, after ``delay`` seconds); returns its URL."""
        body = text.encode() if isinstance(text, str) else text
        self.routes[path] = Route(body, status, delay, headers)
        return self.url(path)

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found\n")
        if route.delay:
            await asyncio.sleep(route.delay)
        return web.Response(status=route.status, body=route.body, content_type="text/plain", charset="utf-8", headers=route.headers)
