"""The HTTP side of every Axonize component: serve the last rendered exposition, nothing more.

A scrape does no I/O and no collection: it hands out bytes rendered from the
collection loop's latest snapshot, on the first scrape after that snapshot
was published (off the event loop, in a worker thread), and kept for the
scrapes after it; likewise their gzip form. Endpoints, following Prometheus' own conventions:

* ``<telemetry path>`` (default ``/metrics``): text exposition format 0.0.4;
* ``/-/healthy``: 200 while collection keeps succeeding, else 503 with the reason;
* ``/-/ready``: 200 once the first collection has finished;
* ``/``: a small landing page linking the above.

:func:`serve_loop` binds the listen address first, then starts collection
(in a thread, so a first collection that hangs leaves the endpoints
answering 503), and guards the server against clients that hold connections
open (:mod:`axonize.http_limits`); /metrics is gzip-coded when the client's
``Accept-Encoding`` accepts it (:mod:`axonize.http_encoding`) and always
carries ``Vary: Accept-Encoding``. It applies an exporter-toolkit web configuration
(:mod:`axonize.web_config_file`, ``--web.config.file``): TLS, extra response
headers, and basic auth on every path (401 with ``WWW-Authenticate: Basic``).
The file is read once at start-up; a scrape with credentials verified before
costs a keyed hash, not a bcrypt.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import signal
import sys
import threading
from collections.abc import Callable
from html import escape

from aiohttp import BasicAuth, web

from axonize import http_limits
from axonize.http_encoding import wants_gzip
from axonize.http_listen import GuardedSite, bind_error_reason, format_address
from axonize.web_config_file import WebConfig

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
log = logging.getLogger(__name__)


#: zlib level of the gzip form: 1 costs 4.5x less CPU than 6 for 14 % more bytes on the 8x H100 replay (issue 16).
GZIP_LEVEL = 1


class Rendering:
    """One exposition: its text and its gzip form, each made the first time it is asked for and then kept.

    ``render()`` gives the text (UTF-8 bytes). It runs at most once, in whichever thread asks
    first; a thread asking meanwhile waits for it (one lock per rendering), so concurrent first
    scrapes neither render twice nor see a mix, and later ones read the kept bytes. The gzip
    form is made once from the text (:data:`GZIP_LEVEL`, mtime 0). If ``render()`` raises, the
    exception reaches the caller and the next one tries again.
    """

    __slots__ = ("_render", "_body", "_gzipped", "_lock")

    def __init__(self, render: Callable[[], bytes]):
        self._render = render
        self._body: bytes | None = None
        self._gzipped: bytes | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, body: bytes) -> Rendering:
        """A rendering of text made already (its gzip form is still made on first use)."""
        rendering = cls(lambda: body)
        rendering._body = body
        return rendering

    @property
    def body(self) -> bytes:
        """The text, rendered now if this is the first call."""
        body = self._body
        if body is None:
            with self._lock:
                body = self._body
                if body is None:
                    body = self._body = self._render()
        return body

    @property
    def gzipped(self) -> bytes:
        """The gzip form of :attr:`body`, compressed now if this is the first call."""
        gzipped = self._gzipped
        if gzipped is None:
            body = self.body
            with self._lock:
                gzipped = self._gzipped
                if gzipped is None:
                    gzipped = self._gzipped = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        return gzipped

    def ready(self, gzipped: bool) -> bytes | None:
        """The text (or gzip form) if it is made already, else None; never renders."""
        return self._gzipped if gzipped else self._body


class Exposition:
    """Holds the latest :class:`Rendering`; written by the collection thread, read by scrapes.

    Replacing the reference is atomic, so a scrape sees either the old or the
    new rendering, never a mix. :meth:`publish_rendering` defers the text to the
    first scrape (a snapshot nobody scrapes costs no rendering); :meth:`publish`
    takes text made already.
    """

    def __init__(self) -> None:
        self._latest: Rendering | None = None
        self.ready = threading.Event()

    def publish(self, body: bytes) -> None:
        """Serve ``body`` (the text) from now on."""
        self._latest = Rendering.of(body)
        self.ready.set()

    def publish_rendering(self, render: Callable[[], bytes]) -> None:
        """Serve the text ``render()`` gives from now on, rendered on the first scrape that asks (see :class:`Rendering`)."""
        self._latest = Rendering(render)
        self.ready.set()

    @property
    def latest(self) -> Rendering | None:
        return self._latest


RESERVED_PATHS = ("/", "/-/healthy", "/-/ready")


def check_telemetry_path(path: str) -> None:
    """Raise ValueError unless ``path`` can be served literally: starts with '/', not reserved, no whitespace, ``?``, ``#`` or ``%``.

    ``?`` and ``#`` would never reach the server as part of a path, and a request's
    path is matched after percent-decoding, so ``%`` in the flag could never match.
    """
    if not path.startswith("/"):
        raise ValueError(f"telemetry path {path!r} must start with '/'")
    if any(c.isspace() or not c.isprintable() or c in "?#%" for c in path):
        raise ValueError(f"telemetry path {path!r} must not contain whitespace, control characters, '?', '#' or '%'")
    if path in RESERVED_PATHS:
        raise ValueError(f"telemetry path {path!r} clashes with {', '.join(RESERVED_PATHS)}")


def make_app(
    exposition: Exposition,
    telemetry_path: str,
    health: Callable[[], tuple[bool, str]],
    title: str,
) -> web.Application:
    """Build the aiohttp application. ``health()`` returns (healthy, reason); if it raises, /-/healthy is 503 with the error.

    ``telemetry_path`` is matched literally (``/{x}`` is that path, not a route
    pattern); ValueError when :func:`check_telemetry_path` refuses it.
    """
    check_telemetry_path(telemetry_path)

    async def metrics(request: web.Request) -> web.StreamResponse:
        latest = exposition.latest
        if latest is None:
            return web.Response(status=503, text="no collection has finished yet\n")
        headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
        gzipped = wants_gzip(request.headers.get("Accept-Encoding"))
        body = latest.ready(gzipped)
        if body is None:  # the first scrape of this snapshot: render off the event loop, which keeps serving
            body = await asyncio.get_running_loop().run_in_executor(None, _made, latest, gzipped)
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def healthy(request: web.Request) -> web.Response:
        try:
            ok, reason = health()
        except Exception as exc:  # the loop's health check failed: that is the answer, not a 500
            log.warning("health check raised %s: %s", type(exc).__name__, exc)
            ok, reason = False, f"health check failed: {type(exc).__name__}: {exc}"
        return web.Response(status=200 if ok else 503, text=(reason or ("OK" if ok else "unhealthy")) + "\n")

    async def ready(request: web.Request) -> web.Response:
        if exposition.ready.is_set():
            return web.Response(text="OK\n")
        return web.Response(status=503, text="first collection not finished\n")

    async def index(request: web.Request) -> web.Response:
        html = (
            f"<html><head><title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
            f'<p><a href="{escape(telemetry_path)}">Metrics</a> · <a href="/-/healthy">Health</a></p></body></html>'
        )
        return web.Response(text=html, content_type="text/html")

    # Request bodies reach handlers as sent: the sidecar's traces receiver bounds gzip itself and forwards bodies unchanged.
    app = web.Application(handler_args={"auto_decompress": False})
    resource = web.PlainResource(telemetry_path)  # literal: add_get() would read braces as a pattern
    app.router.register_resource(resource)
    resource.add_route("HEAD", metrics)
    resource.add_route("GET", metrics)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    app.router.add_get("/", index)
    return app


def _made(rendering: Rendering, gzipped: bool) -> bytes:
    return rendering.gzipped if gzipped else rendering.body


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


def serve_loop(
    program: str,
    title: str,
    exposition: Exposition,
    loop,
    settings: dict,
    web_config=None,
    configure: Callable[[web.Application], None] | None = None,
) -> int:
    """Bind, then collect, then serve until SIGINT/SIGTERM; the shared tail of every CLI. Returns the exit code.

    ``loop`` has ``start()``, ``stop()`` and ``health()``; ``settings`` carries
    ``web_listen_address`` ((host, port); port 0 picks a free one) and
    ``web_telemetry_path``. The order is what keeps a stuck first collection
    from hiding the process: the address is bound first, then ``loop.start()``
    runs in a thread of its own (it may block, e.g. on a hung mount), and
    meanwhile /metrics and /-/ready answer 503 and /-/healthy says what
    ``loop.health()`` says. Exit codes, each with one line on stderr naming the flag:

    * 2: a bad ``--web.telemetry-path``;
    * 1: ``--web.listen-address`` cannot be bound (in use, not an address of this
      host, privileged port), or ``loop.start()`` raised;
    * 0: after SIGINT/SIGTERM.

    ``configure(app)``, when given, adds a component's own routes and start-up hooks (the sidecar's
    OTLP traces receiver) before the server starts; the web configuration's auth covers them too.
    """
    host, port = settings["web_listen_address"]
    try:
        app = make_app(exposition, settings["web_telemetry_path"], loop.health, title)
    except ValueError as exc:
        print(f"{program}: flag --web.telemetry-path: {exc}", file=sys.stderr)
        return 2
    if configure is not None:
        configure(app)
    ssl_context = None
    if web_config is not None:
        apply_web_config(app, web_config)
        ssl_context = web_config.ssl_context()
    open_files = http_limits.raise_open_files_limit()
    starter = _CollectionStart(loop)
    try:
        return asyncio.run(_serve(program, app, host, port, ssl_context, starter, open_files))
    finally:
        if starter.running:  # stopping the source under a collection still in flight could crash it (NVML)
            log.warning("exiting while loop.start() has not returned (first collection stuck?); the loop is not stopped")
        else:
            loop.stop()


class _CollectionStart:
    """Runs ``loop.start()`` in a daemon thread, so a first collection that blocks holds neither the server nor the exit."""

    def __init__(self, loop) -> None:
        self.loop = loop
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def begin(self, aio: asyncio.AbstractEventLoop, on_error: Callable[[BaseException], None]) -> None:
        def run() -> None:
            try:
                self.loop.start()
            except Exception as exc:
                try:
                    aio.call_soon_threadsafe(on_error, exc)
                except RuntimeError:  # the server has already stopped
                    pass

        self._thread = threading.Thread(target=run, name="axonize-collection-start", daemon=True)
        self._thread.start()


async def _serve(
    program: str, app: web.Application, host: str, port: int, ssl_context, starter: _CollectionStart, open_files: tuple[int, str]
) -> int:
    """Bind (one line on stderr and 1 when that fails), start collection, serve until a signal or a failed start."""
    aio = asyncio.get_running_loop()
    aio.set_exception_handler(http_limits.LoopErrorLog())
    runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=http_limits.IDLE_TIMEOUT_SECONDS)
    await runner.setup()
    try:
        cap = http_limits.connection_cap(open_files[0])
        guard = http_limits.ConnectionGuard(runner.server, cap, http_limits.HEADER_TIMEOUT_SECONDS)
        site = GuardedSite(runner, host, port, guard, ssl_context=ssl_context, handshake_timeout=http_limits.HEADER_TIMEOUT_SECONDS)
        try:
            await site.start()
        except OSError as exc:
            print(f"{program}: flag --web.listen-address: {bind_error_reason(exc, host, port)}", file=sys.stderr)
            return 1
        scheme = "https" if ssl_context else "http"
        log.info("%s", open_files[1])
        log.info("listening on %s (at most %d connections)", ", ".join(f"{scheme}://{format_address(*a)}" for a in site.addresses), cap)

        done = asyncio.Event()
        failure: list[BaseException] = []

        def fail(exc: BaseException) -> None:
            failure.append(exc)
            done.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                aio.add_signal_handler(sig, done.set)
            except (RuntimeError, ValueError, NotImplementedError):  # not the main thread: serves until the process ends
                pass
        starter.begin(aio, fail)
        await done.wait()
        if failure:
            exc = failure[0]
            print(f"{program}: collection could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        return 0
    finally:
        await runner.cleanup()
