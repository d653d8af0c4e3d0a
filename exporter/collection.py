"""The collection loop: source -> snapshot -> rendered exposition, on its own interval.

Scrapes never wait on a source. Every ``interval`` seconds the loop asks the
backend for a :class:`~axonize.exporter.snapshot.Snapshot`, fills the values
derived from it (:func:`~axonize.exporter.runtime_context.summarize`), builds
the ``axonize_*`` (or ``DCGM_FI_*``) families plus the exporter's self-metrics,
prepares them for the text format (:class:`axonize.exposition_text.Writer`:
everything that can fail on a bad value happens here, in the cycle), and
publishes them to :class:`axonize.http.Exposition`. The text and its gzip form
are written on the first scrape of that snapshot and kept for the next ones:
with a 1 s interval and 15 s scrapes, 14 snapshots in 15 are never rendered.

Nothing a source, an enrichment step or a family does can stop the loop: an
exception in any of them is caught in that cycle, counted in
``axonize_exporter_collection_errors_total{source,kind}``, logged the first
cycle its (source, kind) appears, and the next cycle runs. A source that
raises has its GPU series withdrawn (not frozen); a family that cannot be
rendered (a value that is not a number, a label value that is not a string)
is left out and the others are published; it is counted in the cycle that
built it, since writing the prepared text later cannot fail.

Self-metrics (sample)::

    axonize_exporter_collection_duration_seconds 0.0123
    axonize_exporter_collections_total 42.0
    axonize_exporter_last_collection_success_timestamp_seconds 1.7e+09
    axonize_exporter_collection_errors_total{kind="parse",source="replay"} 1.0
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Protocol

from prometheus_client.core import Metric

from axonize import __version__, exposition_text, names
from axonize.http import Exposition

from . import exposition as axonize_format
from .runtime_context import summarize
from .snapshot import CollectionError, Snapshot

log = logging.getLogger(__name__)

#: What a render function may return: the core writer's families (tables of rows, or samples with
#: label pairs) or prometheus_client's (written by ``generate_latest`` when not a plain gauge or counter).
Family = exposition_text.Table | exposition_text.Family | Metric


class Source(Protocol):
    name: str

    def collect(self) -> Snapshot: ...


#: Healthy while the last successful cycle is at most this many intervals old.
HEALTHY_INTERVALS = 3


class CollectionLoop:
    """Runs ``source.collect()`` every ``interval`` seconds and publishes the rendering.

    ``render`` turns a snapshot into families (the axonize format by default).
    A cycle succeeds when the source gave a snapshot with a readable GPU (or an
    empty host without errors) and the render ran; :meth:`health` is False when
    the last success is older than :data:`HEALTHY_INTERVALS` intervals.
    """

    def __init__(
        self,
        source: Source,
        interval: float,
        exposition: Exposition,
        render: Callable[[Snapshot], list[Family]] = axonize_format.families,
    ):
        self.source = source
        self.interval = interval
        self.exposition = exposition
        self.render = render
        self.collections = 0
        self.errors: Counter[tuple[str, str]] = Counter()
        self.last_duration = 0.0
        self.last_success = 0.0
        self._kinds_last_cycle: set[tuple[str, str]] = set()
        self._writer = exposition_text.Writer()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one cycle ------------------------------------------------------------------
    def collect_once(self) -> Snapshot:
        """One cycle: collect, summarize, prepare, count, publish. Returns the snapshot (its ``errors`` say what went wrong).

        The published text is written on the first scrape (or ``exposition.latest.body``), not here.
        """
        start = time.monotonic()
        snapshot, ok = self._collect()
        prepared, rendered = self._prepare(snapshot)
        self._count(snapshot.errors)
        if ok and rendered:
            self.last_success = time.time()
        self.collections += 1
        self.last_duration = time.monotonic() - start
        prepared.extend(self._writer.prepare(fam) for fam in self._self_metrics())
        self._writer.next_rendering()
        self.exposition.publish_rendering(partial(exposition_text.write_prepared, prepared))
        return snapshot

    def _collect(self) -> tuple[Snapshot, bool]:
        try:
            snapshot = self.source.collect()
        except Exception as exc:  # a backend bug must not stop the exporter
            log.debug("collection from %s failed", self.source.name, exc_info=True)
            # withdraw the GPU series rather than freeze them; the error counter and /-/healthy say why
            snapshot = Snapshot(backend=self.source.name)
            snapshot.errors.append(
                CollectionError(self.source.name, self.source.name, "internal", f"collection failed: {type(exc).__name__}: {exc}")
            )
            return snapshot, False
        try:
            summarize(snapshot)
        except Exception as exc:
            snapshot.errors.append(CollectionError("exporter", "summarize", "internal", f"{type(exc).__name__}: {exc}"))
        # healthy while at least one GPU reads (a lost GPU shows in axonize_gpu_up, not as a dead exporter)
        ok = any(not gpu.fault for gpu in snapshot.gpus) or (not snapshot.gpus and not snapshot.errors)
        return snapshot, ok

    def _prepare(self, snapshot: Snapshot) -> tuple[list[exposition_text.Prepared], bool]:
        try:
            families = self.render(snapshot)
        except Exception as exc:  # publish the self-metrics with the GPU series withdrawn, and count it
            log.debug("rendering failed", exc_info=True)
            snapshot.errors.append(
                CollectionError("exposition", "render", "internal", f"GPU series withdrawn: {type(exc).__name__}: {exc}")
            )
            return [], False
        prepared = []
        for family in families:
            try:
                prepared.append(self._writer.prepare(family))
            except Exception as exc:  # one family that cannot be written does not cost the others
                name = getattr(family, "name", "?")
                snapshot.errors.append(CollectionError("exposition", name, "internal", f"family left out: {type(exc).__name__}: {exc}"))
        return prepared, True

    def _count(self, errors: list[CollectionError]) -> None:
        """Count every error; log the first of each (source, kind) that the previous cycle did not have."""
        kinds: set[tuple[str, str]] = set()
        for err in errors:
            key = (err.source, err.kind)
            self.errors[key] += 1
            if key not in kinds and key not in self._kinds_last_cycle:
                log.warning(
                    "%s (%s %s; while it recurs it is counted in axonize_exporter_collection_errors_total, not logged)",
                    err,
                    err.source,
                    err.kind,
                )
            kinds.add(key)
        self._kinds_last_cycle = kinds

    def _self_metrics(self) -> list[exposition_text.Family]:
        """The self-metrics, in the order and form prometheus_client gave them (types from the registry, info as gauge)."""

        def family(name: str, *samples: tuple[tuple[str, ...], float]) -> exposition_text.Family:
            row = names.get(name)
            fam = exposition_text.Family(name, "counter" if row.type == "counter" else "gauge", row.help)
            for values, value in samples:
                fam.add(tuple(zip(row.labels, values)), value)
            return fam

        out = [
            family("axonize_exporter_build_info", ((__version__, platform.python_version()), 1.0)),
            family("axonize_exporter_collection_duration_seconds", ((), self.last_duration)),
            family("axonize_exporter_collections_total", ((), float(self.collections))),
        ]
        if self.last_success:
            out.append(family("axonize_exporter_last_collection_success_timestamp_seconds", ((), self.last_success)))
        out.append(family("axonize_exporter_collection_errors_total", *((key, float(n)) for key, n in sorted(self.errors.items()))))
        return out

    def health(self) -> tuple[bool, str]:
        """Healthy while a cycle succeeded within the last :data:`HEALTHY_INTERVALS` intervals.

        No floor: an interval is the operator's promise of freshness, and a cycle that takes longer
        than three of them (a hung source) is exactly what the health check must report.
        """
        if not self.last_success:
            return False, "no successful collection yet"
        age = time.time() - self.last_success
        if age > HEALTHY_INTERVALS * self.interval:
            return False, f"last successful collection {age:.0f}s ago (more than {HEALTHY_INTERVALS} intervals of {self.interval:g}s)"
        return True, "OK"

    # -- the loop --------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop's thread and return at once; the first cycle runs in that thread."""
        self._thread = threading.Thread(target=self._run, name="axonize-collection", daemon=True)
        self._thread.start()

    def _cycle(self) -> None:
        try:
            self.collect_once()
        except Exception:  # a bug in the loop itself: count it, keep the thread alive
            log.exception("collection cycle failed")
            self.errors[("collection", "internal")] += 1

    def _run(self) -> None:
        self._cycle()
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self._cycle()
            next_at += self.interval
            if next_at < time.monotonic():  # fell behind (slow source): skip, never pile up
                next_at = time.monotonic() + self.interval

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        close = getattr(self.source, "close", None)
        if close is not None:  # NVML: stop the XID thread, nvmlShutdown
            close()
