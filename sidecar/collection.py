"""The collection loop: scrape every target -> normalize -> render, on its own interval.

As in the exporter (:mod:`axonize.exporter.collection`), a Prometheus scrape of
the sidecar never waits on an inference server: every ``interval`` seconds the
loop reads all targets concurrently and publishes the rendering to
:class:`axonize.http.Exposition`. The loop runs its own asyncio event loop in a
thread, so the aiohttp server's loop only serves bytes.

Each target has one deadline, ``timeout`` seconds from the start of the cycle, for
its GET (:mod:`axonize.sidecar.scrape`) and for decoding, parsing and normalizing
its text (:mod:`axonize.sidecar.normalize`), which run in a worker thread that
checks the deadline as it goes. A huge or slow target is that target's ``timeout``;
the others are published on time.

Nothing an engine sends, and no failure of attribution or rendering, stops the loop:

* one target's failure is that target's alone: ``axonize_inference_target_up{server} 0``,
  ``axonize_sidecar_target_errors_total{server,kind}`` + 1, its normalized series
  withdrawn; a bug while reading it is kind ``internal``;
* a family left out for invalid values counts ``kind="invalid"``, the target stays up;
* attribution that raises or hangs keeps the previous answer, rendering that raises
  publishes ``target_up`` and the self-metrics without the normalized families, any
  other error ends only that cycle: each counts ``axonize_sidecar_collection_errors_total{stage}``;
* each (server, kind) and each (stage, exception type) is logged once (a target's
  kinds again after it recovers), so a target sending garbage every second does not
  flood the log.

:meth:`CollectionLoop.health` (``/-/healthy``) fails when no cycle has published a
complete rendering for three intervals.

Self-metrics (sample)::

    axonize_sidecar_scrape_duration_seconds{server="gpu-1:8000"} 0.0061
    axonize_sidecar_last_success_timestamp_seconds{server="gpu-1:8000"} 1.7e+09
    axonize_sidecar_target_errors_total{kind="timeout",server="gpu-2:8080"} 3.0
    axonize_sidecar_series_dropped_total{server="gpu-1:8000"} 0.0
    axonize_sidecar_collection_errors_total{stage="render"} 0.0
"""

from __future__ import annotations

import asyncio
import logging
import platform
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import aiohttp

from axonize import __version__
from axonize import exposition_text as text
from axonize.http import Exposition

from . import exposition as sidecar_format
from .attribution import Attribution, GpuAttribution
from .errors import TargetError
from .normalize import Kept, cap, normalize
from .parse import decode
from .scrape import fetch, new_session
from .snapshot import Snapshot, TargetResult
from .targets import Target

log = logging.getLogger(__name__)

#: Values of ``axonize_sidecar_collection_errors_total{stage}``.
STAGES = ("attribution", "render", "cycle")
#: Seconds a side read may run past its own ``timeout`` before the loop cuts it off (a bug: a ``cycle`` error).
SIDE_READ_MARGIN = 1.0


class CollectionLoop:
    """Scrapes ``targets`` every ``interval`` seconds (each within ``timeout``) and publishes the rendering.

    ``max_series`` caps each target's exposition lines: its normalized series, then its
    GPU join series. ``max_body_bytes`` bounds a target's body (after decompression).
    ``attribution`` says which GPUs a target uses (:class:`~axonize.sidecar.attribution.Attribution`;
    the configuration's ``gpus`` only by default); it runs in its own worker thread (psutil
    and NVML block) and is waited for at most ``timeout`` seconds a cycle.

    Between cycles it keeps, per target, what reading its last two scrapes learnt
    (:class:`~axonize.sidecar.normalize.Kept`: about 0.21 MB for a vLLM 0.33 target, by tracemalloc)
    and the label texts of the last two renderings (:class:`~axonize.sidecar.exposition.Renderer`).

    ``extra`` gives more families to publish each cycle (the traces receiver's); ``side_reads`` are other reads of
    each cycle, ``read(session, timeout)``, run beside the scrapes, that keep the same ``timeout`` themselves and
    count their own failures (the traces receiver's GPU prices, :meth:`axonize.sidecar.prices.Prices.update`).
    """

    def __init__(
        self,
        targets: Sequence[Target],
        interval: float,
        timeout: float,
        exposition: Exposition,
        max_series: int = 5000,
        attribution: GpuAttribution | None = None,
        max_body_bytes: int | None = None,
        extra: Callable[[], list[text.Family]] | None = None,
        side_reads: Sequence[Callable[[aiohttp.ClientSession, float], Awaitable[None]]] = (),
    ):
        self.targets = list(targets)
        self.interval = interval
        self.timeout = timeout
        self.exposition = exposition
        self.max_series = max_series
        self.max_body_bytes = max_body_bytes
        self.attribution = attribution or Attribution()
        self.extra = extra
        self.side_reads = tuple(side_reads)
        self.model_gpus: dict[str, tuple[str, ...]] = {}  # {model: UUIDs of the targets serving it}, each cycle
        self.collections = 0
        self.last_duration = 0.0
        self.last_published: float | None = None  # time.monotonic() of the last complete rendering published
        self.errors: Counter[tuple[str, str]] = Counter()
        self.loop_errors: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.scrape_seconds: dict[str, float] = {}
        self.target_success: dict[str, float] = {}
        self.models: dict[str, tuple[str, ...]] = {}
        self._logged: set[tuple[str, str]] = set()  # (server or stage, kind) already logged
        self._failing: set[str] = set()  # servers whose last scrape failed
        self._gpus: dict[str, tuple[str, ...]] = {}
        self._renderer = sidecar_format.Renderer()
        self._kept = {t.server: Kept() for t in self.targets}  # what each target's scrapes keep for its next
        self._attributor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="axonize-attribution")
        self._attributing: Future | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stopping = threading.Event()

    # -- one cycle --------------------------------------------------------------------
    def collect_once(self) -> Snapshot:
        """One cycle with a fresh client session (``--print``, tests): fetch, normalize, publish."""

        async def once() -> Snapshot:
            async with new_session() as session:
                return await self.cycle(session)

        return asyncio.run(once())

    async def cycle(self, session) -> Snapshot:
        """Read every target at once over ``session``, publish the rendering; the snapshot."""
        start = time.monotonic()
        results, gpus, _ = await asyncio.gather(
            asyncio.gather(*(self._scrape(session, t) for t in self.targets)),
            self._attribute(),
            asyncio.gather(*(self._side_read(read, session) for read in self.side_reads)),
        )
        self._account(results)
        snapshot = Snapshot(
            list(results),
            gpus=gpus,
            models={t.server: self.models.get(t.server) or ((t.model,) if t.model else ()) for t in self.targets},
        )
        self._cap_gpu_info(snapshot)
        self.model_gpus = model_gpus(snapshot)
        self.collections += 1
        body, complete = self._render(snapshot)
        self.last_duration = time.monotonic() - start
        self.exposition.publish(body + self._extra() + text.render(self._self_metrics()))
        if complete:
            self.last_published = time.monotonic()
        return snapshot

    async def _scrape(self, session, target: Target) -> TargetResult:
        """One target within its deadline: GET, then decode + parse + normalize in a worker thread."""
        start = time.monotonic()
        deadline = start + self.timeout
        try:
            fetched = await fetch(session, target, self.timeout, self.max_body_bytes)
            if fetched.error is not None:
                result = TargetResult(target, engine=target.engine, error=fetched.error)
            else:
                body = fetched.body or b""
                try:
                    result = await asyncio.wait_for(
                        asyncio.to_thread(self._read, target, body, deadline), max(0.0, deadline - time.monotonic())
                    )
                except TimeoutError:  # the worker stops by itself at its next look at the deadline
                    result = TargetResult(
                        target,
                        engine=target.engine,
                        error=TargetError("timeout", f"its {len(body)}-byte text was not read within {self.timeout:g}s"),
                    )
        except Exception as exc:  # a sidecar bug must not stop the other targets
            self._log_internal(target, exc)
            result = TargetResult(target, engine=target.engine, error=TargetError("internal", f"{type(exc).__name__}: {exc}"))
        result.seconds = time.monotonic() - start
        return result

    def _read(self, target: Target, body: bytes, deadline: float) -> TargetResult:
        """Decode and normalize one body (worker thread); every failure becomes the target's error."""
        result = TargetResult(target, engine=target.engine)
        try:
            problems: list[TargetError] = []
            adapter, series = normalize(decode(body), target, deadline, problems, self._kept.get(target.server))
            result.engine = adapter.engine
            result.problems = problems
            result.series, result.dropped = cap(series, self.max_series)
        except TargetError as exc:
            result.error = exc
        except Exception as exc:  # a sidecar bug must not stop the other targets
            self._log_internal(target, exc)
            result.error = TargetError("internal", f"{type(exc).__name__}: {exc}")
        return result

    async def _side_read(self, read: Callable[[aiohttp.ClientSession, float], Awaitable[None]], session) -> None:
        """One of ``side_reads``, which keeps its own ``timeout``; cut off :data:`SIDE_READ_MARGIN` seconds later.

        A read that overruns its own deadline, or a failure that escapes it, counts as a ``cycle`` error.
        """
        try:
            await asyncio.wait_for(read(session, self.timeout), self.timeout + SIDE_READ_MARGIN)
        except Exception as exc:
            self._loop_error("cycle", exc)

    async def _attribute(self) -> dict[str, tuple[str, ...]]:
        """``{server: UUIDs}``: this cycle's attribution when it answers within ``timeout``, else the last answer.

        One resolution runs at a time; a slow one is picked up by a later cycle.
        """
        try:
            if self._attributing is None or self._attributing.done():
                self._attributing = self._attributor.submit(self.attribution.resolve, self.targets)
            future = asyncio.shield(asyncio.wrap_future(self._attributing))
            try:
                self._gpus = await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                self._log_once(
                    "stage:attribution",
                    "slow",
                    logging.WARNING,
                    "GPU attribution did not answer within %gs; its last answer stands",
                    self.timeout,
                )
        except Exception as exc:
            self._loop_error("attribution", exc)
        return {t.server: self._gpus.get(t.server, t.gpus) for t in self.targets}

    def _account(self, results: Sequence[TargetResult]) -> None:
        """Counters, timestamps, models and logs of the cycle's results."""
        now = time.time()
        for r in results:
            server = r.target.server
            self.scrape_seconds[server] = r.seconds
            if r.up:
                self.target_success[server] = now
                self.dropped[server] += r.dropped
                models = tuple(sorted({dict(s.labels)["model"] for s in r.series} - {""}))
                if models:  # the configured model already fills series of engines without a model label
                    self.models[server] = models
                if server in self._failing:
                    self._failing.discard(server)
                    self._logged = {(who, kind) for who, kind in self._logged if who != server}
                    log.info("%s (%s): scraped again", server, r.target.display_url)
                problems = r.problems
            else:
                self._failing.add(server)
                problems = [r.error]
            for problem in problems:
                self.errors[(server, problem.kind)] += 1
                self._log_once(
                    server, problem.kind, logging.WARNING, "%s (%s): %s: %s", server, r.target.display_url, problem.kind, problem
                )

    def _cap_gpu_info(self, snapshot: Snapshot) -> None:
        """Each target's join series within what its normalized series left of ``max_series``; the rest counted dropped."""
        for r in snapshot.results:
            wanted = sidecar_format.gpu_info_rows(snapshot, r.target.server)
            room = max(0, self.max_series - sum(s.samples for s in r.series)) if r.up else self.max_series
            r.gpu_info = tuple(wanted[:room])
            if len(wanted) > room:
                r.dropped += len(wanted) - room
                self.dropped[r.target.server] += len(wanted) - room

    def _render(self, snapshot: Snapshot) -> tuple[bytes, bool]:
        """The normalized families and the per-target families; False when a part could not be written."""
        complete = True
        try:
            body = sidecar_format.render(snapshot, self._renderer).encode()
        except Exception as exc:
            self._loop_error("render", exc)
            body, complete = b"", False
        try:
            body += text.render(sidecar_format.target_families(snapshot))
        except Exception as exc:
            self._loop_error("render", exc)
            complete = False
        return body, complete

    def _extra(self) -> bytes:
        """The families of ``extra`` (the traces receiver's), or nothing when it raises (counted as a render error)."""
        if self.extra is None:
            return b""
        try:
            return text.render(self.extra())
        except Exception as exc:
            self._loop_error("render", exc)
            return b""

    # -- errors and logs ----------------------------------------------------------------
    def _log_once(self, who: str, kind: str, level: int, message: str, *args, exc_info: bool = False) -> None:
        if (who, kind) not in self._logged:
            self._logged.add((who, kind))
            log.log(level, message, *args, exc_info=exc_info)

    def _log_internal(self, target: Target, exc: BaseException) -> None:
        self._log_once(
            target.server,
            "internal:" + type(exc).__name__,
            logging.ERROR,
            "%s (%s): reading the target failed inside the sidecar",
            target.server,
            target.display_url,
            exc_info=True,
        )

    def _loop_error(self, stage: str, exc: BaseException) -> None:
        """Count a loop-level failure of ``stage`` (one of :data:`STAGES`); log each exception type once."""
        self.loop_errors[stage] += 1
        self._log_once(
            "stage:" + stage,
            type(exc).__name__,
            logging.ERROR,
            "collection %s failed (counted in axonize_sidecar_collection_errors_total; the loop goes on)",
            stage,
            exc_info=True,
        )

    def _self_metrics(self) -> list[text.Family]:
        """The ``axonize_sidecar_*`` families; labels in name order, as prometheus_client wrote them."""
        family = sidecar_format.family
        build = family("axonize_sidecar_build_info")
        build.add((("python_version", platform.python_version()), ("version", __version__)), 1.0)
        collections = family("axonize_sidecar_collections_total")
        collections.add((), float(self.collections))
        duration = family("axonize_sidecar_collection_duration_seconds")
        duration.add((), self.last_duration)
        scrape = family("axonize_sidecar_scrape_duration_seconds")
        success = family("axonize_sidecar_last_success_timestamp_seconds")
        dropped = family("axonize_sidecar_series_dropped_total")
        errors = family("axonize_sidecar_target_errors_total")
        for t in self.targets:
            server = (("server", t.server),)
            if t.server in self.scrape_seconds:
                scrape.add(server, self.scrape_seconds[t.server])
            if t.server in self.target_success:
                success.add(server, self.target_success[t.server])
            dropped.add(server, float(self.dropped[t.server]))
        for (server, kind), count in sorted(self.errors.items()):
            errors.add((("kind", kind), ("server", server)), float(count))
        loop_errors = family("axonize_sidecar_collection_errors_total")
        for stage in STAGES:
            loop_errors.add((("stage", stage),), float(self.loop_errors[stage]))
        return [build, collections, duration, scrape, success, dropped, errors, loop_errors]

    def health(self) -> tuple[bool, str]:
        """Healthy while a cycle published a complete rendering within the last three intervals.

        (Three timeouts when the timeout is the longer: a cycle lasts up to one.) Targets that are
        down do not make the sidecar unhealthy: they are ``axonize_inference_target_up 0``.
        """
        if self.last_published is None:
            return False, "no collection has completed yet"
        age = time.monotonic() - self.last_published
        limit = 3 * max(self.interval, self.timeout)
        if age > limit:
            return False, f"no collection has completed for {age:.1f}s (limit {limit:g}s)"
        return True, "OK"

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop's thread and return at once; the first cycle runs there immediately."""
        self._stopping.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="axonize-sidecar-collection", daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stopping.is_set():
            return
        async with new_session() as session:
            next_at = time.monotonic()
            while not self._stopping.is_set():
                try:
                    await self.cycle(session)
                except Exception as exc:  # never let the loop die: counted, logged once, /-/healthy tells
                    self._loop_error("cycle", exc)
                next_at += self.interval
                if next_at < time.monotonic():  # fell behind (slow targets): skip, never pile up
                    next_at = time.monotonic() + self.interval
                try:
                    await asyncio.wait_for(self._wake.wait(), max(0.0, next_at - time.monotonic()))
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop has already finished
                pass
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._attributor.shutdown(wait=False, cancel_futures=True)


def model_gpus(snapshot: Snapshot) -> dict[str, tuple[str, ...]]:
    """``{model: sorted UUIDs of every target serving it}`` (the traces receiver's last resort for a request's GPUs)."""
    out: dict[str, set[str]] = {}
    for server, models in snapshot.models.items():
        for model in models:
            out.setdefault(model, set()).update(snapshot.gpus.get(server, ()))
    return {model: tuple(sorted(uuids)) for model, uuids in out.items() if uuids}
