"""What keeps /metrics answering when clients misbehave: open-files limit, connection cap, header deadline, quiet accept errors.

The failure this guards against: at the common 1,024 open-files soft limit, about
1,100 clients that connect and never finish their request headers used up every
descriptor; each ``accept()`` then failed with EMFILE, no scrape got through for
as long as they stayed, and asyncio logged a traceback per failed accept (47 MB
in 30 s). The defences, in the order a connection meets them:

* :func:`raise_open_files_limit`: the soft ``RLIMIT_NOFILE`` is raised to the hard
  limit at start (one log line says the result, once the address is bound);
* :class:`ConnectionGuard`, wrapped around aiohttp's protocol factory: at most
  :data:`MAX_CONNECTIONS` connections (and never more than the open-files limit
  less :data:`FD_RESERVE`). At the cap, the oldest connection still waiting for
  request headers is dropped to make room, else the longest-idle kept-alive
  one; when every connection is busy with a request, the new one is closed at once;
* a connection that has not sent complete request headers within
  :data:`HEADER_TIMEOUT_SECONDS` of being accepted, or of the first byte of its
  next request, is dropped. The guard keeps this deadline itself (it watches for
  the blank line that ends the headers): aiohttp has no header-read timeout, and
  its ``keepalive_timeout`` (here :data:`IDLE_TIMEOUT_SECONDS`, for kept-alive
  connections that send nothing) is not reset by partial headers but covers the
  time before the first request only in recent releases (the installed 3.14 arms
  it at accept);
* :class:`LoopErrorLog`, the event loop's exception handler: a failed accept
  (EMFILE, ENFILE, ENOBUFS, ENOMEM) is one log line per
  :data:`ERROR_LOG_INTERVAL_SECONDS`, with the count of the ones not logged; asyncio's
  retry of a failed accept that fires after the listener closed is ignored (shutdown
  noise); any other loop error is logged as asyncio would, at most once per interval
  per message.

TLS: the handshake itself is bounded by :data:`HEADER_TIMEOUT_SECONDS` too
(``ssl_handshake_timeout``); the guard sees a TLS connection once it is established.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("axonize.http")

MAX_CONNECTIONS = 512
"""Connections served at once (each costs a descriptor and a few KiB); a Prometheus server uses one."""
FD_RESERVE = 64
"""Descriptors left to the rest of the process (collection sources, NVML, logs) when the limit is low."""
HEADER_TIMEOUT_SECONDS = 5.0
"""From accept to the end of the first request's headers (and for a TLS handshake)."""
IDLE_TIMEOUT_SECONDS = 75.0
"""A kept-alive connection with no request for this long is closed (aiohttp ``keepalive_timeout``)."""
ERROR_LOG_INTERVAL_SECONDS = 60.0
"""At most one log line per kind of event-loop error in this interval."""

_ACCEPT_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def raise_open_files_limit() -> tuple[int, str]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit: (the soft limit now in force, a line saying so for the log)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            return soft, f"open files limit: {soft}; raising it to the hard limit {hard} failed: {exc}"
        return hard, f"open files limit: raised from {soft} to the hard limit {hard}"
    in_force = soft if soft != resource.RLIM_INFINITY else 1 << 20
    return in_force, f"open files limit: {_limit_text(soft)} (hard {_limit_text(hard)})"


def _limit_text(value: int) -> str:
    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


def connection_cap(open_files: int, maximum: int | None = None) -> int:
    """Connections to allow: ``maximum`` (:data:`MAX_CONNECTIONS`), or fewer (at least 8) when the open-files limit is low."""
    maximum = MAX_CONNECTIONS if maximum is None else maximum
    return min(maximum, max(8, open_files - FD_RESERVE))


class ConnectionGuard:
    """A protocol factory around aiohttp's: caps connections and drops those that never finish their headers.

    ``accepted``, ``rejected`` (closed at once, all busy), ``evicted`` (dropped at
    the cap to make room) and ``timed_out`` (no complete headers in time) count
    connections since start.
    """

    def __init__(self, factory: Callable[[], asyncio.Protocol], cap: int, header_timeout: float) -> None:
        self.factory = factory
        self.cap = cap
        self.header_timeout = header_timeout
        self.live: set[GuardedConnection] = set()
        self.waiting: OrderedDict[GuardedConnection, None] = OrderedDict()  # oldest first, no request headers yet
        self.accepted = self.rejected = self.evicted = self.timed_out = 0

    def __call__(self) -> GuardedConnection:
        return GuardedConnection(self)

    def admit(self, conn: GuardedConnection) -> bool:
        """Count ``conn`` in, making room at the cap; False: every connection is busy, close ``conn``."""
        if len(self.live) >= self.cap:
            victim = self._victim()
            if victim is None:
                self.rejected += 1
                return False
            self.evicted += 1
            victim.drop()
        self.accepted += 1
        self.live.add(conn)
        return True

    def _victim(self) -> GuardedConnection | None:
        """The oldest connection waiting for request headers, else the longest-idle kept-alive one, else None."""
        if self.waiting:
            return next(iter(self.waiting))
        idle = [c for c in self.live if c.idle_between_requests()]
        return min(idle, key=lambda c: c.last_request) if idle else None

    def release(self, conn: GuardedConnection) -> None:
        self.live.discard(conn)
        self.waiting.pop(conn, None)


class GuardedConnection(asyncio.Protocol):
    """Forwards to the wrapped aiohttp protocol; keeps the header deadline and the guard's accounting."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._tail = b""
        self.last_request = 0.0  # loop time when the last request's headers were complete

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        if not self._guard.admit(self):
            transport.abort()
            return
        self._await_headers()
        self._inner = self._guard.factory()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and self._inner is not None:
            self._await_headers()  # the next request on a kept-alive connection: the same deadline
        if self._deadline is not None:
            seen = self._tail + data
            if b"\n\n" in seen or b"\n\r\n" in seen:  # the blank line that ends the headers (CRLF or bare LF)
                self._headers_complete()
            else:
                self._tail = seen[-2:]
        if self._inner is not None:
            self._inner.data_received(data)

    def idle_between_requests(self) -> bool:
        """A kept-alive connection whose response is sent and that waits for the next request.

        Read from aiohttp's request handler (its pending ``_waiter`` and empty
        message queue, the same in aiohttp 3.9 to 3.14); False when that cannot be told.
        """
        waiter = getattr(self._inner, "_waiter", None)
        return waiter is not None and not waiter.done() and not getattr(self._inner, "_messages", True)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_deadline()
        self._guard.release(self)
        if self._inner is not None:
            inner, self._inner = self._inner, None
            inner.connection_lost(exc)

    def _await_headers(self) -> None:
        self._tail = b""
        self._guard.waiting[self] = None
        self._deadline = asyncio.get_running_loop().call_later(self._guard.header_timeout, self._header_deadline)

    def _headers_complete(self) -> None:
        self._cancel_deadline()
        self._guard.waiting.pop(self, None)
        self.last_request = asyncio.get_running_loop().time()

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _header_deadline(self) -> None:
        self._deadline = None
        if self in self._guard.waiting:
            self._guard.timed_out += 1
            self.drop()

    def drop(self) -> None:
        """Close at once (RST), freeing the slot now rather than when the close completes."""
        self._cancel_deadline()
        self._guard.release(self)
        if self._transport is not None:
            self._transport.abort()


def closed_listener_retry(context: dict) -> bool:
    """Whether a loop error is asyncio's accept retry on a listener that has closed meanwhile.

    After a failed accept (EMFILE) asyncio stops reading the listening socket and schedules
    ``BaseSelectorEventLoop._start_serving`` a second later; when the server closes in that second (a
    SIGTERM while descriptors ran out), the timer still fires, registers the closed socket (fd -1) and
    raises ``ValueError: Invalid file descriptor: -1`` (``OSError`` EBADF on other selectors).
    """
    exc = context.get("exception")
    bad_fd = isinstance(exc, ValueError) or (isinstance(exc, OSError) and exc.errno == errno.EBADF)
    return bad_fd and "_start_serving" in str(context.get("message", ""))


class LoopErrorLog:
    """An event-loop exception handler that logs each kind of error at most once per ``interval`` seconds.

    A failed accept is one line without a traceback::

        ERROR axonize.http: cannot accept connections: [Errno 24] Too many open files (1,273 more since the last report)
    """

    def __init__(self, interval: float | None = None) -> None:
        self.interval = ERROR_LOG_INTERVAL_SECONDS if interval is None else interval
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        if closed_listener_retry(context):
            log.debug("accept retry after the listener closed, ignored: %s", context.get("exception"))
            return
        exc = context.get("exception")
        accept = isinstance(exc, OSError) and exc.errno in _ACCEPT_ERRNOS and "accept" in context.get("message", "")
        key = "accept" if accept else str(context.get("message"))
        now = time.monotonic()
        if now - self._last.get(key, -self.interval) < self.interval:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return
        self._last[key] = now
        skipped = self._skipped.pop(key, 0)
        more = f" ({skipped:,} more since the last report)" if skipped else ""
        if accept:
            log.error("cannot accept connections: %s%s", exc, more)
        else:
            if more:
                context = {**context, "message": f"{context.get('message')}{more}"}
            loop.default_exception_handler(context)
