"""The OTLP/HTTP traces receiver on the sidecar's server: ``POST /v1/traces`` -> a bounded queue -> metrics.

Point an OpenTelemetry SDK (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://sidecar:9948/v1/traces``) or vLLM
(``--otlp-traces-endpoint`` with ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf``) at the sidecar.

A request is answered as soon as its spans are decoded and queued:

1. the body is read within ``--traces.max-body`` bytes, gunzipped within the same bound, decoded
   (:mod:`axonize.sidecar.otlp`) and its spans extracted (:func:`axonize.sidecar.spans.extract`) in a worker
   thread, so a large body never holds the event loop that serves /metrics;
2. malformed bodies get 400 (415 for another content type, 413 over the bound) with a ``google.rpc.Status``
   saying why; invalid spans are left out and reported in ``partial_success.rejected_spans``;
3. the spans go on a queue of at most ``--traces.queue-size`` requests; when it is full the request gets
   503 with ``Retry-After`` (the OTLP/HTTP throttling answer: the client retries later) and its spans are
   counted in ``axonize_sidecar_spans_dropped_total{reason="queue_full"}``;
4. an accepted body is handed to the :class:`~axonize.sidecar.trace_forward.Forwarder`, when one is configured.

One background task takes the queue: it joins spans to their request span across batches
(:class:`~axonize.sidecar.spans.Joiner`), finds each request's GPUs (:class:`RequestGpus`) and updates
:class:`~axonize.sidecar.trace_metrics.TraceMetrics`, which the collection loop renders each cycle.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import socket
import time
from collections.abc import Callable, Iterable

from aiohttp import web

from . import otlp
from .spans import Joiner, SpanRecord, extract
from .trace_forward import Forwarder
from .trace_metrics import TraceMetrics

log = logging.getLogger(__name__)

PATH = "/v1/traces"
#: Seconds a throttled client is asked to wait (``Retry-After``).
RETRY_AFTER_SECONDS = 5


class RequestGpus:
    """The GPUs a request span ran on: its ``axonize.gpu.uuid``, else its process's (``process.pid`` of this host,
    through ``by_pid``: :meth:`axonize.sidecar.attribution.ProcessGpus.by_pid`), else those of the targets
    serving its model (``model_gpus()``: ``{model: UUIDs}`` from the collection loop's last cycle); ``()`` when none is known.

    :meth:`prepare` resolves new PIDs in a worker thread (NVML and psutil block) and keeps each answer
    ``refresh`` seconds; :meth:`__call__` only reads what is known.
    """

    def __init__(
        self,
        by_pid: Callable[[Iterable[int]], dict[int, tuple[str, ...]]] | None = None,
        model_gpus: Callable[[], dict[str, tuple[str, ...]]] = dict,
        refresh: float = 30.0,
        hostnames: Iterable[str] | None = None,
    ):
        self.by_pid = by_pid
        self.model_gpus = model_gpus
        self.refresh = refresh
        self.hostnames = {h.lower() for h in (hostnames if hostnames is not None else (socket.gethostname(), platform.node()))}
        self._pids: dict[int, tuple[float, tuple[str, ...]]] = {}
        self._models: dict[str, tuple[str, ...]] = {}
        self._failed = False

    def _local(self, span: SpanRecord) -> bool:
        return span.pid is not None and (span.host is None or span.host.lower() in self.hostnames)

    async def prepare(self, spans: Iterable[SpanRecord]) -> None:
        self._models = self.model_gpus()
        if self.by_pid is None:
            return
        now = time.monotonic()
        wanted = {s.pid for s in spans if s.is_request and not s.gpus and self._local(s)}
        wanted = {pid for pid in wanted if pid not in self._pids or now - self._pids[pid][0] >= self.refresh}
        if not wanted:
            return
        try:
            found = await asyncio.to_thread(self.by_pid, wanted)
        except Exception as exc:  # NVML or psutil trouble: the model's targets stand in
            if not self._failed:
                self._failed = True
                log.warning("GPU attribution of spans by process.pid failed: %s: %s", type(exc).__name__, exc)
            return
        for pid in wanted:
            self._pids[pid] = (now, found.get(pid, ()))
        if len(self._pids) > 10_000:  # PIDs come and go: forget the oldest answers
            for pid, _ in sorted(self._pids.items(), key=lambda kv: kv[1][0])[:5_000]:
                del self._pids[pid]

    def __call__(self, span: SpanRecord) -> tuple[str, ...]:
        if span.gpus:
            return span.gpus
        if span.pid is not None and self._local(span):
            known = self._pids.get(span.pid)
            if known is not None and known[1]:
                return known[1]
        return self._models.get(span.model or "", ())


class TraceReceiver:
    """The ``/v1/traces`` handler, its queue and its worker; :meth:`install` adds them to an aiohttp app."""

    def __init__(
        self,
        metrics: TraceMetrics,
        joiner: Joiner | None = None,
        gpus: RequestGpus | None = None,
        max_body: int = otlp.DEFAULT_MAX_BYTES,
        queue_size: int = 64,
        forwarder: Forwarder | None = None,
        path: str = PATH,
    ):
        self.metrics = metrics
        self.joiner = joiner or Joiner()
        self.gpus = gpus or RequestGpus()
        self.max_body = max_body
        self.queue_size = queue_size
        self.forwarder = forwarder
        self.path = path
        self.queue: asyncio.Queue[list[SpanRecord]] | None = None
        self._worker: asyncio.Task | None = None
        metrics.queue_length = lambda: self.queue.qsize() if self.queue is not None else 0

    def install(self, app: web.Application, start_worker: bool = True) -> None:
        """Route ``POST path`` to :meth:`handle`; start the queue's worker (and the forwarder) with the app, stop them with it.

        ``start_worker=False`` leaves the worker to :meth:`start_worker` (tests that fill the queue).
        """
        app.router.add_post(self.path, self.handle)

        async def started(app: web.Application) -> None:
            self.queue = asyncio.Queue(self.queue_size)
            if start_worker:
                self.start_worker()
            if self.forwarder is not None:
                await self.forwarder.start()

        async def stopped(app: web.Application) -> None:
            if self._worker is not None:
                self._worker.cancel()
                await asyncio.gather(self._worker, return_exceptions=True)
            if self.forwarder is not None:
                await self.forwarder.stop()

        app.on_startup.append(started)
        app.on_cleanup.append(stopped)

    def start_worker(self) -> None:
        """Start taking the queue (on the app's event loop)."""
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="axonize-trace-worker")

    async def handle(self, request: web.Request) -> web.Response:
        kind = otlp.PROTOBUF
        try:
            kind = otlp.content_type(request)
            raw = await otlp.read_body(request, self.max_body)
            encoding = request.headers.get("Content-Encoding", "")
            records, rejected, seen = await asyncio.get_running_loop().run_in_executor(None, self._decode, raw, encoding, kind)
        except otlp.OtlpError as exc:
            self.metrics.count("http", str(exc.status))
            return otlp.failure(kind, exc.status, exc.message)
        self.metrics.add_received(seen)
        for reason, n in rejected.items():
            self.metrics.count("rejected", reason, n)
        if records:
            try:
                self.queue.put_nowait(records)
            except asyncio.QueueFull:
                self.metrics.count("dropped", "queue_full", len(records))
                self.metrics.count("http", "503")
                return otlp.failure(
                    kind,
                    503,
                    f"the sidecar's span queue ({self.queue_size} requests, --traces.queue-size) is full; retry later",
                    {"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
        if self.forwarder is not None:
            headers = {"Content-Type": request.headers.get("Content-Type", kind)}
            if encoding:
                headers["Content-Encoding"] = encoding
            self.forwarder.submit(raw, headers)
        self.metrics.count("http", "200")
        n = sum(rejected.values())
        message = "; ".join(f"{count} {reason.replace('_', ' ')}" for reason, count in sorted(rejected.items()))
        return otlp.success(kind, n, f"spans rejected: {message}" if n else "")

    def _decode(self, raw: bytes, encoding: str, kind: str):
        return extract(otlp.decode(otlp.decompress(raw, encoding, self.max_body), kind))

    async def _work(self) -> None:
        assert self.queue is not None
        while True:
            try:  # when no span comes for a while, old traces still expire
                records = await asyncio.wait_for(self.queue.get(), self.joiner.timeout)
            except TimeoutError:
                records = []
            try:
                await self.process(records)
            except Exception:  # a bug must not stop the worker: logged, the next request goes on
                log.exception("turning spans into metrics failed inside the sidecar")
            finally:
                if records:
                    self.queue.task_done()

    async def process(self, records: list[SpanRecord]) -> None:
        """Join, attribute and count one request's spans (and expire old traces)."""
        now = time.monotonic()
        joined = self.joiner.add(records, now) + self.joiner.expire(now)
        await self.gpus.prepare(j.span for j in joined)
        self.metrics.observe(joined, self.gpus)
        for reason, n in self.joiner.dropped.items():
            if n:
                self.metrics.count("dropped", reason, n)
        self.joiner.dropped.clear()
