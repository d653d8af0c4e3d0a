"""``axonize-gateway``: flags, configuration, serving.

::

    axonize-gateway --upstream tinyllama=http://127.0.0.1:8000            # API and /metrics on :9949
    axonize-gateway --config gateway.yml --web.telemetry-listen-address :9950
    axonize-gateway --config gateway.yml --hash-key < key.txt             # print a key's hash for identity.customers

Flags and YAML keys: :mod:`axonize.gateway.config`. /metrics is served on the API's address by default
(as vLLM, SGLang and llama.cpp do, so Prometheus scrapes the gateway like the engine behind it);
``--web.telemetry-listen-address`` moves it to an address of its own, out of API clients' reach.
Exit codes: 0 after SIGINT/SIGTERM, 1 an address cannot be bound, 2 bad flags or configuration.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web
from prometheus_client import disable_created_metrics

from axonize import __version__, http_limits
from axonize.config import ConfigError, build_parser, resolve
from axonize.http import check_telemetry_path
from axonize.http_listen import GuardedSite, bind_error_reason, format_address

from .config import OPTIONS
from .identity import Identities
from .metering import Metering
from .proxy import Gateway
from .routing import Router
from .usage_log import UsageLog

log = logging.getLogger("axonize.gateway")
PROGRAM = "axonize-gateway"
MAX_CLIENT_CONNECTIONS = 4096
"""Client connections served at once (each stream holds one, and one to its upstream), fewer when open files are few."""


def read_salt(path: str) -> bytes:
    """The salt file's bytes (trailing newline dropped); "" -> no salt (a warning at start). ConfigError naming the file."""
    if not path:
        return b""
    try:
        with open(path, "rb") as f:
            salt = f.read(4096).rstrip(b"\r\n")
    except OSError as exc:
        raise ConfigError(f"identity.salt_file {path}: {exc.strerror or exc}") from None
    if not salt:
        raise ConfigError(f"identity.salt_file {path}: the file is empty")
    return salt


def load_settings(args) -> dict:
    """Resolve the options and build what they describe; ConfigError naming the flag or key."""
    settings = resolve(OPTIONS, args)
    try:
        settings["router"] = Router(settings["upstream"])
        check_telemetry_path(settings["web_telemetry_path"])
    except ValueError as exc:
        where = f"{args.config}: " if args.config else ""
        raise ConfigError(f"{where}{exc}") from None
    settings["salt"] = read_salt(settings["identity_salt_file"])
    return settings


def build(settings: dict) -> Gateway:
    identities = Identities(
        settings["salt"], settings["identity_customers"], settings["identity_header"], settings["identity_require_known"]
    )
    router = settings["router"]
    metering = Metering(
        settings["metrics_max_customers"],
        identities.names,
        router.models,
        settings["metrics_names"],
        {model: up.url for model, up in router.by_model.items()},
    )
    usage_log = None
    if settings["usage_log_path"]:
        usage_log = UsageLog(settings["usage_log_path"], settings["usage_log_max_bytes"], settings["usage_log_backups"])
    return Gateway(
        settings["router"],
        identities,
        metering,
        connect_timeout=settings["upstream_connect_timeout"],
        timeout=settings["upstream_timeout"],
        max_connections=settings["upstream_max_connections"],
        other_paths=settings["proxy_other_paths"],
        max_request_bytes=settings["proxy_max_request_bytes"],
        usage_log=usage_log,
        telemetry_path=None if settings["web_telemetry_listen_address"] else settings["web_telemetry_path"],
        identity_header=settings["identity_header"],
    )


async def _site(app: web.Application, host: str, port: int, cap: int, flag: str) -> tuple[web.AppRunner, GuardedSite] | None:
    runner = web.AppRunner(app, handle_signals=False, access_log=None, keepalive_timeout=http_limits.IDLE_TIMEOUT_SECONDS)
    await runner.setup()
    guard = http_limits.ConnectionGuard(runner.server, cap, http_limits.HEADER_TIMEOUT_SECONDS)
    site = GuardedSite(runner, host, port, guard)
    try:
        await site.start()
    except OSError as exc:
        print(f"{PROGRAM}: flag {flag}: {bind_error_reason(exc, host, port)}", file=sys.stderr)
        await runner.cleanup()
        return None
    log.info("listening on %s", ", ".join(f"http://{format_address(*a)}" for a in site.addresses))
    return runner, site


async def serve(gateway: Gateway, settings: dict, ready=None) -> int:
    """Bind the API (and the metrics address), serve until SIGINT/SIGTERM. ``ready(addresses)`` is called once bound."""
    open_files, line = http_limits.raise_open_files_limit()
    log.info("%s", line)
    cap = http_limits.connection_cap(open_files // 2, MAX_CLIENT_CONNECTIONS)
    aio = asyncio.get_running_loop()
    aio.set_exception_handler(http_limits.LoopErrorLog())
    runners = []
    try:
        if gateway.usage_log is not None:
            gateway.usage_log.start()
        api = await _site(gateway.app(), *settings["web_listen_address"], cap, "--web.listen-address")
        if api is None:
            return 1
        runners.append(api[0])
        addresses = list(api[1].addresses)
        if settings["web_telemetry_listen_address"]:
            metrics = await _site(gateway.metrics_app(), *settings["web_telemetry_listen_address"], 64, "--web.telemetry-listen-address")
            if metrics is None:
                return 1
            runners.append(metrics[0])
            addresses += metrics[1].addresses
        if ready is not None:
            ready(addresses)
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                aio.add_signal_handler(sig, done.set)
            except (RuntimeError, ValueError, NotImplementedError):
                pass
        await done.wait()
        return 0
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        if gateway.usage_log is not None:
            gateway.usage_log.stop()


def run(coroutine, loop: str):
    """Run ``coroutine`` to completion on ``loop`` ("uvloop" or "asyncio", --web.event-loop) and return its result.

    uvloop (libuv, the loop uvicorn uses by default; the ``uvloop`` extra) took ~11 % less of the gateway's CPU per
    streamed request than asyncio's loop in benchmarks/gateway_latency.py (4.0-4.2 vs 4.5-4.7 ms per 128-chunk
    request, 16 streams, 2 cores), but its TTFT p99 through the gateway was 10-20 ms longer in the same runs, so
    asyncio stays the default. The proxy behaves the same on both (tests/gateway/test_event_loop.py).
    """
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:  # the extra is not installed: the standard loop serves the same
            log.warning("--web.event-loop uvloop: uvloop is not installed (pip install 'axonize[uvloop]'); using asyncio's loop")
        else:
            return uvloop.run(coroutine)
    return asyncio.run(coroutine)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(PROGRAM, "Axonize gateway: an OpenAI-compatible proxy metering requests and tokens per customer.", OPTIONS)
    parser.add_argument(
        "--hash-key", action="store_true", help="read an API key from stdin, print its hash (with the configured salt), exit"
    )
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    args = parser.parse_args(argv)
    try:
        if args.hash_key:
            settings = resolve(OPTIONS, args)
            key = sys.stdin.readline().strip()
            if not key:
                raise ConfigError("--hash-key: no key on stdin")
            print(Identities(read_salt(settings["identity_salt_file"])).key_hash(key))
            return 0
        settings = load_settings(args)
        gateway = build(settings)
    except ConfigError as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        return 2
    disable_created_metrics()  # no *_created series: Prometheus does not need them and they double the exposition
    logging.basicConfig(level=settings["log_level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not settings["salt"]:
        log.warning("no --identity.salt-file: API keys are hashed without a salt")
    try:
        return run(serve(gateway, settings), settings["web_event_loop"])
    except OSError as exc:  # the usage log cannot be opened
        print(f"{PROGRAM}: --usage-log.path: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
