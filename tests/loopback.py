"""An aiohttp application on 127.0.0.1 in a thread of its own: the test servers' common part (fake engines, a fake
OpenAI endpoint, the sidecar's app with its traces receiver, a forwarding target)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from aiohttp import web


class LoopbackApp:
    """``with LoopbackApp(build) as server: server.url("/path")``: serves ``build()`` (called on the server's own loop,
    so the app's startup hooks run there) on a free port of 127.0.0.1 until the block ends. At the end the app is
    cleaned up and handlers still running (a slow route) are cancelled. RuntimeError when it does not start in 10 s."""

    def __init__(self, build: Callable[[], web.Application], name: str = "loopback app") -> None:
        self.build = build
        self.name = name
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LoopbackApp:
        ready = threading.Event()

        async def start() -> None:
            self._runner = web.AppRunner(self.build(), handle_signals=False, shutdown_timeout=0.5)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            self.loop.run_until_complete(start())
            ready.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the {self.name} did not start")
        return self

    async def _shutdown(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        assert self.loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
