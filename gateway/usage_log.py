"""The optional per-request usage log: one JSON object per line, written by a background thread, rotated by size.

A record (keys in this order; times in seconds, ``time`` the request's arrival in UTC)::

    {"request_id": "5f0c...", "time": "2026-11-30T20:01:02.345Z", "customer": "acme", "customer_hash": "3fa2b9c01d4e5f67",
     "model": "tinyllama", "endpoint": "/v1/chat/completions", "status": 200, "prompt_tokens": 17, "completion_tokens": 32,
     "estimated": false, "prompt_source": "usage", "ttft_seconds": 0.021, "duration_seconds": 0.088, "outcome": "ok"}

``customer_hash`` is the API key's salted hash prefix ("" without a key): the key itself is never
written. ``outcome`` is ``ok`` or the error kind (``client_disconnect``, ``timeout``, ...).
``estimated``: the completion tokens were counted from the chunks sent (a stream cut before its usage).
``prompt_source``: where ``prompt_tokens`` comes from: ``usage`` (the engine's), ``tokenize`` (a cut stream's
prompt counted by the engine's ``POST /tokenize``, exact) or ``none`` (not known: 0).

A request only puts its record on a bounded queue (:data:`QUEUE_SIZE`; never waits): the writer
thread (the standard library's ``QueueListener``) formats and appends it through a
``RotatingFileHandler`` (``FILE`` -> ``FILE.1`` ... ``FILE.N`` when the next line would pass
``max_bytes``). When the queue is full (the disk is slower than the requests) a record is dropped
and counted in :attr:`UsageLog.dropped`, logged once a minute.
"""

from __future__ import annotations

import json
import logging
import queue
import time
from logging.handlers import QueueListener, RotatingFileHandler

log = logging.getLogger(__name__)

QUEUE_SIZE = 100_000
"""Records waiting for the writer at most (about 40 MB at 400 bytes each)."""
FIELDS = (
    "request_id",
    "time",
    "customer",
    "customer_hash",
    "model",
    "endpoint",
    "status",
    "prompt_tokens",
    "completion_tokens",
    "estimated",
    "prompt_source",
    "ttft_seconds",
    "duration_seconds",
    "outcome",
)


class _JsonLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.msg, separators=(", ", ": "))


def utc_time(seconds: float) -> str:
    """Unix seconds -> ``2026-11-30T20:01:02.345Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


class UsageLog:
    """Append records to ``path`` off the request path; :meth:`start` before, :meth:`stop` (drains, closes) after."""

    def __init__(self, path: str, max_bytes: int = 100 * 2**20, backups: int = 5, queue_size: int = QUEUE_SIZE):
        self.path = path
        self._queue: queue.Queue = queue.Queue(queue_size)
        handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
        handler.setFormatter(_JsonLine())
        self._handler = handler
        self._listener = QueueListener(self._queue, handler)
        self.dropped = 0
        self._warned = 0.0

    def start(self) -> None:
        """Open the file (OSError naming it when it cannot be written) and start the writer thread."""
        with open(self.path, "a", encoding="utf-8"):
            pass
        self._listener.start()

    def stop(self) -> None:
        """Write every queued record, stop the thread, close the file."""
        self._listener.stop()
        self._handler.close()

    def record(self, fields: dict) -> None:
        """Queue one record (a dict with :data:`FIELDS`); never blocks."""
        try:
            self._queue.put_nowait(logging.makeLogRecord({"msg": fields}))
        except queue.Full:
            self.dropped += 1
            now = time.monotonic()
            if now - self._warned > 60:
                self._warned = now
                log.warning("usage log %s: the writer is behind; %d records dropped so far", self.path, self.dropped)
