"""The collection loop: source -> snapshot -> rendered exposition, on its own interval.

Scrapes never wait on a source. Every ``interval`` seconds the loop asks the
backend for a :class:`~axonize.exporter.snapshot.Snapshot`, renders it with
the ``axonize_*`` families plus the exporter's self-metrics, and publishes
the bytes to :class:`axonize.http.Exposition`.

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
from typing import Callable, Iterable, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from axonize import __version__
from axonize.http import Exposition

from . import exposition as axonize_format
from .snapshot import Snapshot

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str

    def collect(self) -> Snapshot: ...


#: The self-metrics, for docs/metrics.md: (name, type, unit, labels, help).
SELF_METRICS = (
    ("axonize_exporter_build_info", "info", "", ("version", "python_version"), "Version of the exporter; value 1."),
    ("axonize_exporter_collection_duration_seconds", "gauge", "seconds", (), "Wall time of the last collection cycle (source read and rendering)."),
    ("axonize_exporter_collections_total", "counter", "", (), "Collection cycles run."),
    (
        "axonize_exporter_last_collection_success_timestamp_seconds",
        "gauge",
        "seconds",
        (),
        "Unix time of the last cycle that produced a snapshot; alert when it falls behind.",
    ),
    (
        "axonize_exporter_collection_errors_total",
        "counter",
        "",
        ("source", "kind"),
        "Problems met while collecting, by source (replay, topology, nvml, pricing) and kind (parse, value, mismatch, io, unavailable, internal).",
    ),
)


class _Families:
    """Adapter so prometheus_client's ``generate_latest`` can render a list of families."""

    def __init__(self, families: Iterable[Metric]):
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


class CollectionLoop:
    """Runs ``source.collect()`` every ``interval`` seconds and publishes the rendering.

    ``render`` turns a snapshot into metric families (the axonize format by
    default). Exceptions from the source are caught, logged and counted; the
    previous rendering keeps being served with its self-metrics updated.
    """

    def __init__(
        self,
        source: Source,
        interval: float,
        exposition: Exposition,
        render: Callable[[Snapshot], list[Metric]] = axonize_format.families,
    ):
        self.source = source
        self.interval = interval
        self.exposition = exposition
        self.render = render
        self.collections = 0
        self.errors: Counter[tuple[str, str]] = Counter()
        self.last_duration = 0.0
        self.last_success = 0.0
        self.last_snapshot: Snapshot | None = None
        self._last_error_text: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one cycle ------------------------------------------------------------------
    def collect_once(self) -> Snapshot:
        start = time.monotonic()
        try:
            snapshot = self.source.collect()
        except Exception:  # a backend bug must not stop the exporter
            log.exception("collection from %s failed", self.source.name)
            # withdraw the GPU series rather than freeze them; the error counter and /-/healthy say why
            snapshot = Snapshot(backend=self.source.name)
            self.errors[(self.source.name, "internal")] += 1
            ok = False
        else:
            for err in snapshot.errors:
                self.errors[(err.source, err.kind)] += 1
            self._log_errors(snapshot)
            # healthy while at least one GPU reads (a lost GPU shows in axonize_gpu_up, not as a dead exporter)
            ok = any(not gpu.fault for gpu in snapshot.gpus) or (not snapshot.gpus and not snapshot.errors)
            self.last_snapshot = snapshot
        self.collections += 1
        if ok:
            self.last_success = time.time()
        families = self.render(snapshot)
        self.last_duration = time.monotonic() - start
        self.exposition.publish(generate_latest(_Families(families + self._self_metrics())))
        return snapshot

    def _log_errors(self, snapshot: Snapshot) -> None:
        text = [str(e) for e in snapshot.errors]
        if text != self._last_error_text:  # log when the set changes, not every cycle
            for line in text:
                log.warning("%s", line)
            self._last_error_text = text

    def _self_metrics(self) -> list[Metric]:
        help = {name: text for name, _, _, _, text in SELF_METRICS}
        build = GaugeMetricFamily("axonize_exporter_build_info", help["axonize_exporter_build_info"], labels=("version", "python_version"))
        build.add_metric([__version__, platform.python_version()], 1.0)
        name = "axonize_exporter_collection_errors_total"
        errors = CounterMetricFamily(name, help[name], labels=("source", "kind"))
        for (source, kind), count in sorted(self.errors.items()):
            errors.add_metric([source, kind], float(count))
        name = "axonize_exporter_collection_duration_seconds"
        out = [build, GaugeMetricFamily(name, help[name], value=self.last_duration)]
        name = "axonize_exporter_collections_total"
        out.append(CounterMetricFamily(name, help[name], value=float(self.collections)))
        if self.last_success:
            name = "axonize_exporter_last_collection_success_timestamp_seconds"
            out.append(GaugeMetricFamily(name, help[name], value=self.last_success))
        out.append(errors)
        return out

    def health(self) -> tuple[bool, str]:
        """Healthy while a cycle succeeded within the last three intervals (at least 30 s)."""
        if not self.last_success:
            return False, "no successful collection yet"
        age = time.time() - self.last_success
        if age > max(3 * self.interval, 30.0):
            return False, f"last successful collection {age:.0f}s ago"
        return True, "OK"

    # -- the loop --------------------------------------------------------------------
    def start(self) -> None:
        self.collect_once()
        self._thread = threading.Thread(target=self._run, name="axonize-collection", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            self.collect_once()
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
