"""Real aiohttp HTTP servers on loopback that play inference servers for the sidecar's tests.

:class:`FakeEngines` serves paths set by the test: a fixture's text, an HTTP
status and headers (a redirect), a delay before answering (a slow target), raw bytes. It runs its own
event loop in a thread, so the sidecar under test (its own loop, or a subprocess)
talks to it over real sockets.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from aiohttp import web


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] | None = None


class FakeEngines:
    """``with FakeEngines() as engines: engines.serve("/vllm", text); engines.url("/vllm")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def serve(self, path: str, text: str | bytes, status: int = 200, delay: float = 0.0, headers: dict[str, str] | None = None) -> str:
        """Answer GET ``path`` with ``text`` (and ``status`` and ``headers``, after ``delay`` seconds); returns its URL."""
        body = text.encode() if isinstance(text, str) else text
        self.routes[path] = Route(body, status, delay, headers)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="not found\n")
        if route.delay:
            await asyncio.sleep(route.delay)
        return web.Response(status=route.status, body=route.body, content_type="text/plain", charset="utf-8", headers=route.headers)

    def __enter__(self) -> FakeEngines:
        ready = threading.Event()

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-engines", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake engine server did not start")
        return self

    async def _shutdown(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # handlers still sleeping for a slow route
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __exit__(self, *exc) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop.close()
