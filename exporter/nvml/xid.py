"""XID errors as counters: an NVML event-set thread.

dcgm-exporter exposes XID as the last value seen, a gauge that never resets
(dcgm-exporter issue #500): two XID 79s in a row look like one, and an old
XID looks current. Here a thread waits on an NVML event set registered for
``nvmlEventTypeXidCriticalError`` on every GPU (``nvmlEventSetWait_v2``,
1 s timeout so it can stop) and counts events by (GPU UUID, XID code), with
the time each code was last seen. The collection cycle reads the counts;
nothing is lost between scrapes. Counts start at 0 when the exporter starts
(XIDs before that are in the kernel log, not in NVML).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from types import ModuleType

from axonize.nvml import error_code, kind_of, text

log = logging.getLogger(__name__)
EVENT_XID = 0x8  # nvmlEventTypeXidCriticalError
NVML_ERROR_TIMEOUT = 10


class XidWatcher:
    """Counts XID events per GPU; ``counts()`` -> ({(uuid, xid): n}, {(uuid, xid): unix time last seen})."""

    def __init__(self, nvml: ModuleType, handles: list, wait_ms: int = 1000):
        self.nvml = nvml
        self.wait_ms = wait_ms
        self._counts: Counter[tuple[str, int]] = Counter()
        self._last: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.errors: Counter[str] = Counter()
        self.registered = 0
        self._set = nvml.nvmlEventSetCreate()
        for handle in handles:
            try:
                nvml.nvmlDeviceRegisterEvents(handle, EVENT_XID, self._set)
                self.registered += 1
            except nvml.NVMLError as exc:  # e.g. NOT_SUPPORTED on some vGPUs: that GPU just has no XID counts
                log.info("XID events not available on a GPU: %s", exc)
        self._thread = threading.Thread(target=self._run, name="axonize-xid", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event = self.nvml.nvmlEventSetWait_v2(self._set, self.wait_ms)
            except self.nvml.NVMLError as exc:
                if error_code(exc) == NVML_ERROR_TIMEOUT:
                    continue
                self.errors[kind_of(exc)] += 1
                self._stop.wait(1.0)  # e.g. GPU lost: do not spin
                continue
            if not event.eventType & EVENT_XID:
                continue
            try:
                uuid = text(self.nvml.nvmlDeviceGetUUID(event.device))
            except self.nvml.NVMLError as exc:
                self.errors[kind_of(exc)] += 1
                continue
            key = (uuid, int(event.eventData))
            with self._lock:
                self._counts[key] += 1
                self._last[key] = time.time()
            log.warning("XID %d on GPU %s", key[1], uuid)

    def counts(self) -> tuple[dict[tuple[str, int], float], dict[tuple[str, int], float]]:
        with self._lock:
            return {k: float(v) for k, v in self._counts.items()}, dict(self._last)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.wait_ms / 1000.0 + 2.0)
        try:
            self.nvml.nvmlEventSetFree(self._set)
        except self.nvml.NVMLError:
            pass

    def carry_over(self, previous: XidWatcher) -> None:
        """Keep the counts of a watcher replaced after NVML was re-initialised (counters must not reset)."""
        counts, last = previous.counts()
        with self._lock:
            for key, n in counts.items():
                self._counts[key] += int(n)
            self._last.update(last)
