"""The collection loop: scrape every target -> normalize -> render, on its own interval.

As in the exporter (:mod:`axonize.exporter.collection`), a Prometheus scrape of
the sidecar never waits on an inference server: every ``interval`` seconds the
loop fetches all targets concurrently (:mod:`axonize.sidecar.scrape`), normalizes
each (:mod:`axonize.sidecar.normalize`), caps its series, and publishes the
rendering to :class:`axonize.http.Exposition`. The loop runs its own asyncio event
loop in a thread, so the aiohttp server's loop only serves bytes.

One target's failure is that target's alone: ``axonize_inference_target_up{server} 0``,
``axonize_sidecar_target_errors_total{server,kind}`` + 1, its normalized series
withdrawn; the other targets are exported as usual.

Self-metrics (sample)::

    axonize_sidecar_scrape_duration_seconds{server="gpu-1:8000"} 0.0061
    axonize_sidecar_last_success_timestamp_seconds{server="gpu-1:8000"} 1.7e+09
    axonize_sidecar_target_errors_total{kind="timeout",server="gpu-2:8080"} 3.0
    axonize_sidecar_series_dropped_total{server="gpu-1:8000"} 0.0
"""
from __future__ import annotations

import asyncio
import logging
import platform
import threading
import time
from collections import Counter
from typing import Optional, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from axonize import __version__
from axonize.http import Exposition

from . import exposition as sidecar_format
from .attribution import Attribution, GpuAttribution
from .errors import TargetError
from .normalize import cap, normalize
from .scrape import Fetched, fetch_all, new_session
from .snapshot import Snapshot, TargetResult
from .targets import Target

log = logging.getLogger(__name__)

#: The self-metrics, for docs/metrics.md: (name, type, unit, labels, help).
SELF_METRICS = (
    ("axonize_sidecar_build_info", "info", "", ("version", "python_version"), "Version of the sidecar; value 1."),
    ("axonize_sidecar_collections_total", "counter", "", (), "Collection cycles run."),
    (
        "axonize_sidecar_collection_duration_seconds", "gauge", "seconds", (),
        "Wall time of the last cycle: all targets fetched concurrently, then normalized and rendered.",
    ),
    (
        "axonize_sidecar_scrape_duration_seconds", "gauge", "seconds", ("server",),
        "Wall time of the target's last scrape: its HTTP GET plus parsing and normalizing its text.",
    ),
    (
        "axonize_sidecar_last_success_timestamp_seconds", "gauge", "seconds", ("server",),
        "Unix time of the target's last successful scrape; absent until one succeeds.",
    ),
    (
        "axonize_sidecar_target_errors_total", "counter", "", ("server", "kind"),
        "Failed scrapes by kind: connect, timeout, http, parse (malformed text), mismatch (a mapped family "
        "of the wrong shape), engine (unknown engine), internal.",
    ),
    (
        "axonize_sidecar_series_dropped_total", "counter", "", ("server",),
        "Exposition lines of the target's normalized series left out by the per-target cap "
        "(--collect.max-series), summed over cycles.",
    ),
)


class _Families:
    """Adapter so prometheus_client's ``generate_latest`` can render a list of families."""

    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


class CollectionLoop:
    """Scrapes ``targets`` every ``interval`` seconds (each within ``timeout``) and publishes the rendering.

    ``max_series`` caps each target's normalized exposition lines. ``attribution``
    says which GPUs a target uses (:class:`~axonize.sidecar.attribution.Attribution`; the
    configuration's ``gpus`` only by default). It runs in a worker thread: psutil and NVML block.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        interval: float,
        timeout: float,
        exposition: Exposition,
        max_series: int = 5000,
        attribution: Optional[GpuAttribution] = None,
    ):
        self.targets = list(targets)
        self.interval = interval
        self.timeout = timeout
        self.exposition = exposition
        self.max_series = max_series
        self.attribution = attribution or Attribution()
        self.collections = 0
        self.last_duration = 0.0
        self.last_success = 0.0  # last cycle in which at least one target was read
        self.errors: Counter[tuple[str, str]] = Counter()
        self.dropped: Counter[str] = Counter()
        self.scrape_seconds: dict[str, float] = {}
        self.target_success: dict[str, float] = {}
        self.models: dict[str, tuple[str, ...]] = {}
        self._last_error: dict[str, str] = {}
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._started = threading.Event()

    # -- one cycle --------------------------------------------------------------------
    def collect_once(self) -> Snapshot:
        """One cycle with a fresh client session (``--print``, tests): fetch, normalize, publish."""

        async def once() -> Snapshot:
            async with new_session() as session:
                return await self.cycle(session)

        return asyncio.run(once())

    async def cycle(self, session) -> Snapshot:
        """Fetch every target at once over ``session``, normalize each, publish the rendering; the snapshot."""
        start = time.monotonic()
        fetched, gpus = await asyncio.gather(
            fetch_all(session, self.targets, self.timeout),
            asyncio.get_running_loop().run_in_executor(None, self.attribution.resolve, self.targets),
        )
        results = [self._read(f) for f in fetched]
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
                if self._last_error.pop(server, None) is not None:
                    log.info("%s: scraped again", server)
            else:
                self.errors[(server, r.error.kind)] += 1
                text = f"{server} ({r.target.url}): {r.error}"
                if self._last_error.get(server) != text:  # log when it changes, not every cycle
                    log.warning("%s", text)
                    self._last_error[server] = text
        if any(r.up for r in results):
            self.last_success = now
        snapshot = Snapshot(
            results,
            gpus=gpus,
            models={t.server: self.models.get(t.server) or ((t.model,) if t.model else ()) for t in self.targets},
        )
        self.collections += 1
        normalized = sidecar_format.render(snapshot).encode()
        per_target = sidecar_format.target_families(snapshot)
        self.last_duration = time.monotonic() - start
        self.exposition.publish(normalized + generate_latest(_Families(per_target + self._self_metrics())))
        return snapshot

    def _read(self, fetched: Fetched) -> TargetResult:
        """Normalize one fetched body; every failure becomes the target's error, never the loop's."""
        target = fetched.target
        result = TargetResult(target, engine=target.engine, error=fetched.error, seconds=fetched.seconds)
        if fetched.error is not None:
            return result
        start = time.monotonic()
        try:
            adapter, series = normalize(fetched.text or "", target)
            result.engine = adapter.engine
            result.series, result.dropped = cap(series, self.max_series)
        except TargetError as exc:
            result.error = exc
        except Exception as exc:  # a sidecar bug must not stop the other targets
            log.exception("%s: normalizing %s failed", target.server, target.url)
            result.error = TargetError("internal", f"{type(exc).__name__}: {exc}")
        result.seconds += time.monotonic() - start
        return result

    def _self_metrics(self) -> list[Metric]:
        help = {name: text for name, _, _, _, text in SELF_METRICS}
        build = GaugeMetricFamily("axonize_sidecar_build_info", help["axonize_sidecar_build_info"], labels=("version", "python_version"))
        build.add_metric([__version__, platform.python_version()], 1.0)
        out: list[Metric] = [build]
        name = "axonize_sidecar_collections_total"
        out.append(CounterMetricFamily(name, help[name], value=float(self.collections)))
        name = "axonize_sidecar_collection_duration_seconds"
        out.append(GaugeMetricFamily(name, help[name], value=self.last_duration))
        name = "axonize_sidecar_scrape_duration_seconds"
        scrape = GaugeMetricFamily(name, help[name], labels=("server",))
        name = "axonize_sidecar_last_success_timestamp_seconds"
        success = GaugeMetricFamily(name, help[name], labels=("server",))
        name = "axonize_sidecar_series_dropped_total"
        dropped = CounterMetricFamily(name, help[name], labels=("server",))
        name = "axonize_sidecar_target_errors_total"
        errors = CounterMetricFamily(name, help[name], labels=("server", "kind"))
        for t in self.targets:
            if t.server in self.scrape_seconds:
                scrape.add_metric([t.server], self.scrape_seconds[t.server])
            if t.server in self.target_success:
                success.add_metric([t.server], self.target_success[t.server])
            dropped.add_metric([t.server], float(self.dropped[t.server]))
        for (server, kind), count in sorted(self.errors.items()):
            errors.add_metric([server, kind], float(count))
        return out + [scrape, success, dropped, errors]

    def health(self) -> tuple[bool, str]:
        """Healthy while some target was read within the last three intervals (at least 30 s)."""
        if not self.last_success:
            return False, "no target scraped successfully yet"
        age = time.time() - self.last_success
        if age > max(3 * self.interval, 30.0):
            return False, f"no target scraped successfully for {age:.0f}s"
        return True, "OK"

    # -- the loop -----------------------------------------------------------------------
    def start(self) -> None:
        """Run the loop in a thread with its own event loop; the first cycle starts at once."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="axonize-sidecar-collection", daemon=True)
        self._thread.start()
        self._started.wait(10)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._started.set()
        async with new_session() as session:
            next_at = time.monotonic()
            while not self._stop.is_set():
                try:
                    await self.cycle(session)
                except Exception:  # never let the loop die: /-/healthy turns 503 and the log says why
                    log.exception("collection cycle failed")
                next_at += self.interval
                if next_at < time.monotonic():  # fell behind (slow targets): skip, never pile up
                    next_at = time.monotonic() + self.interval
                try:
                    await asyncio.wait_for(self._stop.wait(), max(0.0, next_at - time.monotonic()))
                except TimeoutError:
                    pass

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
