"""Binding the listen address (``--web.listen-address``) and saying in one line why it failed.

:class:`GuardedSite` is an aiohttp site whose connections pass through a
:class:`~axonize.http_limits.ConnectionGuard`; :func:`bind_error_reason` turns the
``OSError`` of a failed bind into the reason a person can act on::

    cannot listen on 127.0.0.1:9947: the port is already in use (another process listens there)
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

from aiohttp import web

from axonize.http_limits import ConnectionGuard


class GuardedSite(web.BaseSite):
    """A TCP site like aiohttp's ``TCPSite``, with the guard between the socket and aiohttp's protocol."""

    __slots__ = ("_host", "_port", "_guard", "_handshake_timeout")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = 5.0,
        backlog: int = 128,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host, self._port, self._guard, self._handshake_timeout = host, port, guard, handshake_timeout

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{format_address(self._host, self._port)}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (host, port) pairs, one per socket (two for a name with IPv4 and IPv6 addresses)."""
        if self._server is None:
            return []
        return [s.getsockname()[:2] for s in self._server.sockets]

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._guard,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._handshake_timeout if self._ssl_context else None,
            backlog=self._backlog,
        )


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_error_reason(exc: OSError, host: str, port: int) -> str:
    """One line: the address and why it cannot be listened on."""
    where = f"cannot listen on {format_address(host, port)}"
    if isinstance(exc, socket.gaierror):
        return f"{where}: cannot resolve host {host!r} ({exc.strerror or exc})"
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: the port is already in use (another process listens there)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{where}: {host} is not an address of this host"
    if exc.errno == errno.EACCES:
        if 0 < port < 1024:
            return f"{where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
        return f"{where}: permission denied"
    if exc.errno == errno.EAFNOSUPPORT:
        return f"{where}: this host has no {'IPv6' if ':' in host else 'IPv4'} support"
    return f"{where}: {exc.strerror or exc}"
