"""The HTTP side of every Axonize component: serve the last rendered exposition, nothing more.

A scrape does no I/O and no collection: it hands out bytes that the
collection loop rendered earlier (and their gzip form, compressed once per
rendering). Endpoints, following Prometheus' own conventions:

* ``<telemetry path>`` (default ``/metrics``): text exposition format 0.0.4;
* ``/-/healthy``: 200 while collection keeps succeeding, else 503 with the reason;
* ``/-/ready``: 200 once the first collection has finished;
* ``/``: a small landing page linking the above.

:func:`serve` applies an exporter-toolkit web configuration
(:mod:`axonize.web_config_file`, ``--web.config.file``): TLS, extra response
headers, and basic auth on every path (401 with ``WWW-Authenticate: Basic``).
The file is read once at start-up; a scrape with credentials verified before
costs a keyed hash, not a bcrypt.
"""
from __future__ import annotations

import asyncio
import gzip
import logging
import sys
import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

from aiohttp import BasicAuth, web

from axonize.web_config_file import WebConfig

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendering:
    """One rendered exposition: plain and gzip bytes."""

    body: bytes
    gzipped: bytes = field(default=b"")

    @classmethod
    def of(cls, body: bytes) -> "Rendering":
        return cls(body, gzip.compress(body, compresslevel=6, mtime=0))


class Exposition:
    """Holds the latest :class:`Rendering`; written by the collection thread, read by scrapes.

    Replacing the reference is atomic, so a scrape sees either the old or the
    new rendering, never a mix.
    """

    def __init__(self) -> None:
        self._latest: Optional[Rendering] = None
        self.ready = threading.Event()

    def publish(self, body: bytes) -> None:
        self._latest = Rendering.of(body)
        self.ready.set()

    @property
    def latest(self) -> Optional[Rendering]:
        return self._latest


def make_app(
    exposition: Exposition,
    telemetry_path: str,
    health: Callable[[], tuple[bool, str]],
    title: str,
) -> web.Application:
    """Build the aiohttp application. ``health()`` returns (healthy, reason)."""
    if not telemetry_path.startswith("/") or telemetry_path in ("/", "/-/healthy", "/-/ready"):
        raise ValueError(f"telemetry path {telemetry_path!r} must start with '/' and not clash with / or /-/*")

    async def metrics(request: web.Request) -> web.StreamResponse:
        latest = exposition.latest
        if latest is None:
            return web.Response(status=503, text="no collection has finished yet\n")
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            return web.Response(body=latest.gzipped, headers={"Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip"})
        return web.Response(body=latest.body, headers={"Content-Type": CONTENT_TYPE})

    async def healthy(request: web.Request) -> web.Response:
        ok, reason = health()
        return web.Response(status=200 if ok else 503, text=(reason or "OK") + "\n")

    async def ready(request: web.Request) -> web.Response:
        if exposition.ready.is_set():
            return web.Response(text="OK\n")
        return web.Response(status=503, text="first collection not finished\n")

    async def index(request: web.Request) -> web.Response:
        html = (
            f"<html><head><title>{title}</title></head><body><h1>{title}</h1>"
            f'<p><a href="{telemetry_path}">Metrics</a> · <a href="/-/healthy">Health</a></p></body></html>'
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/", index)
    return app


def apply_web_config(app: web.Application, web_config: WebConfig) -> None:
    """Add the configured response headers and, when users are configured, basic auth on every path.

    Call before the app starts (it must not be frozen yet); routes may be added before or after.
    """
    if web_config.headers:
        async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
            response.headers.update(web_config.headers)

        app.on_response_prepare.append(add_headers)
    if not web_config.basic_auth_users:
        return

    @web.middleware
    async def basic_auth(request: web.Request, handler: Callable) -> web.StreamResponse:
        try:
            creds = BasicAuth.decode(request.headers.get("Authorization", ""), encoding="utf-8")
        except ValueError:
            creds = None
        if creds is not None and (
            web_config.cached_basic_auth(creds.login, creds.password)
            or await asyncio.get_running_loop().run_in_executor(None, web_config.verify_basic_auth, creds.login, creds.password)
        ):
            return await handler(request)
        return web.Response(status=401, text="Unauthorized\n", headers={"WWW-Authenticate": "Basic"})

    app.middlewares.append(basic_auth)


def serve(app: web.Application, host: str, port: int, web_config: Optional[WebConfig] = None) -> None:
    """Run until SIGINT/SIGTERM; HTTPS, headers and basic auth as ``web_config`` says (None: plain HTTP)."""
    ssl_context = None
    if web_config is not None:
        apply_web_config(app, web_config)
        ssl_context = web_config.ssl_context()
    log.info("listening on %s://%s:%d", "https" if ssl_context else "http", host, port)
    web.run_app(app, host=host, port=port, ssl_context=ssl_context, print=None, access_log=None, handle_signals=True)


def serve_loop(program: str, title: str, exposition: Exposition, loop, settings: dict, web_config=None) -> int:
    """Serve ``exposition`` while ``loop`` (``start()``, ``stop()``, ``health()``) collects; the shared tail of every CLI.

    ``settings`` carries ``web_listen_address`` and ``web_telemetry_path``. Returns the exit
    code: 2 for a bad telemetry path (message on stderr naming the flag), 0 after SIGINT/SIGTERM.
    """
    host, port = settings["web_listen_address"]
    try:
        app = make_app(exposition, settings["web_telemetry_path"], loop.health, title)
    except ValueError as exc:
        print(f"{program}: flag --web.telemetry-path: {exc}", file=sys.stderr)
        return 2
    loop.start()
    try:
        serve(app, host, port, web_config=web_config)
    finally:
        loop.stop()
    return 0
