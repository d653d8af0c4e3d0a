"""Forwarding accepted OTLP/HTTP trace bodies, byte for byte, to an upstream receiver (Jaeger, Tempo, a collector).

``--traces.forward.url http://tempo:4318/v1/traces``: every body the receiver accepted is POSTed there
unchanged, with its ``Content-Type`` and ``Content-Encoding``, so existing tracing backends keep
receiving what the applications send. It never blocks the receiver: :meth:`Forwarder.submit` only
appends to a buffer of at most ``buffer_bytes`` (beyond it the body is counted ``buffer_full`` and not
sent); ``concurrency`` tasks send from it, each POST within ``timeout`` seconds. Failures are counted
in ``axonize_sidecar_otlp_forward_errors_total{kind}`` (connect, timeout, http) and not retried: the
application's exporter already got its answer from the sidecar.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp

from .trace_metrics import TraceMetrics

log = logging.getLogger(__name__)

#: Default bound of the bodies waiting to be forwarded: 32 MiB.
DEFAULT_BUFFER_BYTES = 32 * 1024 * 1024


class Forwarder:
    """POSTs bodies to ``url`` in the background; start with :meth:`start` on the server's event loop."""

    def __init__(
        self, url: str, metrics: TraceMetrics, timeout: float = 5.0, buffer_bytes: int = DEFAULT_BUFFER_BYTES, concurrency: int = 4
    ):
        self.url = url
        self.metrics = metrics
        self.timeout = timeout
        self.buffer_bytes = buffer_bytes
        self.concurrency = concurrency
        self.buffered = 0
        self._bodies: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()  # bounded by buffer_bytes
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None
        self._logged: set[str] = set()

    def submit(self, body: bytes, headers: dict[str, str]) -> None:
        """Queue ``body`` for the upstream (never waits); counted ``buffer_full`` when the buffer has no room."""
        if self.buffered + len(body) > self.buffer_bytes:
            self.metrics.count("forward_errors", "buffer_full")
            return
        self.buffered += len(body)
        self._bodies.put_nowait((body, headers))

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._tasks = [asyncio.create_task(self._run(), name=f"axonize-trace-forward-{i}") for i in range(self.concurrency)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            body, headers = await self._bodies.get()
            self.buffered -= len(body)
            try:
                await self._send(body, headers)
            except Exception:  # a bug here must not stop forwarding
                log.exception("forwarding traces to %s failed inside the sidecar", self.url)

    async def _send(self, body: bytes, headers: dict[str, str]) -> None:
        kind = None
        try:
            async with self._session.post(self.url, data=body, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    self.metrics.add_forwarded()
                    return
                kind, detail = "http", f"HTTP {response.status}"
        except TimeoutError:
            kind, detail = "timeout", f"no answer within {self.timeout:g}s"
        except aiohttp.ClientError as exc:
            kind, detail = "connect", f"{type(exc).__name__}: {exc}"
        self.metrics.count("forward_errors", kind)
        if kind not in self._logged:  # once per kind: an upstream that is down must not flood the log
            self._logged.add(kind)
            log.warning("forwarding traces to %s failed (%s); counted in axonize_sidecar_otlp_forward_errors_total", self.url, detail)
