"""``axonize-sidecar``: flags, configuration and the main loop.

Flags follow the exporter (and Prometheus' own exporters)::

    axonize-sidecar --target http://gpu-1:8000                 # a vLLM server; serve on :9948/metrics
    axonize-sidecar --target http://a:8000#vllm --target http://b:8080#tgi
    axonize-sidecar --target http://b:8080 --target.engine tgi # engine for targets without '#ENGINE'
    axonize-sidecar --config sidecar.yml --print               # scrape every target once, print, exit
    axonize-sidecar --target http://gpu-1:8000 --traces.forward.url http://tempo:4318/v1/traces
                                                               # OTLP spans in on :9948/v1/traces, out to Tempo
    axonize-sidecar --target http://gpu-1:8000 --traces.prices.url http://localhost:9947/metrics
                                                               # cost per traced request at the exporter's prices

Every flag has a YAML key (``--collect.interval`` <-> ``collect: {interval: ...}``;
``--target`` <-> the list ``targets:``, whose items may also set ``server``,
``model`` and ``gpus``: see :mod:`axonize.sidecar.targets`). A flag overrides
the file (``--target`` replaces the file's list). The ``--traces.*`` flags configure the OTLP/HTTP traces
receiver on the same server (:mod:`axonize.sidecar.trace_receiver`; span convention in docs/traces.md);
``--traces.prices.url`` or ``--traces.forward.url`` with the receiver off (``--traces.path off``) is refused. Exit codes: 0 ok, 1 no target
could be read (``--print``), 2 bad flags or configuration.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Sequence
from urllib.parse import urlsplit

from axonize import __version__, web_config_file
from axonize.config import (
    LOG_LEVEL_OPTION,
    ConfigError,
    Option,
    build_parser,
    parse_duration,
    parse_positive_int,
    resolve,
    web_options,
)
from axonize.http import Exposition, check_telemetry_path, serve_loop

from . import otlp, trace_receiver
from .attribution import Attribution, ProcessGpus
from .collection import CollectionLoop
from .engines import ENGINES
from .prices import Prices
from .spans import Joiner
from .targets import TargetSpec, finish, parse_engine, parse_target
from .trace_forward import DEFAULT_BUFFER_BYTES, Forwarder
from .trace_metrics import TraceMetrics

DEFAULT_PORT = 9948


def parse_attribution(value) -> str:
    text = str(value).strip().lower()
    if text not in ("processes", "config"):
        raise ValueError(f"must be 'processes' or 'config', not {value!r}")
    return text


def parse_traces_path(value) -> str:
    text = str(value).strip()
    if text.lower() == "off":
        return ""
    check_telemetry_path(text)
    return text


def parse_url(value) -> str:
    text = str(value).strip()
    if text and urlsplit(text).scheme not in ("http", "https"):
        raise ValueError(f"{text!r} is not an http:// or https:// URL")
    return text


TRACE_OPTIONS = (
    Option(
        "--traces.path",
        trace_receiver.PATH,
        "path of the OTLP/HTTP traces receiver (protobuf or JSON, gzip allowed); 'off' turns it off",
        parse_traces_path,
        metavar="PATH",
    ),
    Option(
        "--traces.max-body",
        otlp.DEFAULT_MAX_BYTES,
        "largest trace request body in bytes, before and after gzip; 413 beyond",
        parse_positive_int,
        metavar="BYTES",
    ),
    Option(
        "--traces.queue-size",
        64,
        "trace requests waiting to become metrics; when full, 503 with Retry-After and the spans counted dropped",
        parse_positive_int,
        metavar="N",
    ),
    Option("--traces.max-step", 50, "highest step index kept as a step label; later steps read 'other'", parse_positive_int, metavar="N"),
    Option(
        "--traces.max-values",
        100,
        "distinct models, stages and customers kept as label values each; later ones read 'other'",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--traces.join-timeout",
        "60s",
        "how long a trace's spans wait for their request span (spans end, and arrive, before their parents)",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "--traces.max-pending-spans", 100_000, "spans kept for joining, over all traces (~0.4 KB each)", parse_positive_int, metavar="N"
    ),
    Option(
        "--traces.forward.url",
        "",
        "OTLP/HTTP traces endpoint (Jaeger, Tempo, a collector) that every accepted body is forwarded to, unchanged",
        parse_url,
        metavar="URL",
    ),
    Option("--traces.forward.timeout", "5s", "how long one forwarded POST may take", parse_duration, metavar="DURATION"),
    Option(
        "--traces.prices.url",
        "",
        "the local axonize-exporter's /metrics, whose GPU and MIG prices give each request's cost "
        "(axonize_trace_request_cost_dollars); read by the collection loop, the last good table kept",
        parse_url,
        metavar="URL",
    ),
    Option(
        "--traces.prices.max-age",
        "15m",
        "how long after its read the last good price table is used; later, requests count as unpriced "
        "(reason stale_prices) until a good read: the rules' grace for a stopped exporter (bundle cost.stopped_exporter_grace)",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "--traces.prices.refresh",
        "30s",
        "how often the prices are read again after a good read (after a failed one: the next collection cycle); "
        "shorter than --traces.prices.max-age",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "--traces.forward.buffer",
        DEFAULT_BUFFER_BYTES,
        "bytes of bodies waiting to be forwarded; beyond it a body is not forwarded (counted buffer_full)",
        parse_positive_int,
        metavar="BYTES",
    ),
)


OPTIONS = (
    *web_options(DEFAULT_PORT),
    Option(
        "--target",
        [],
        "inference server to scrape, repeatable: URL or URL#ENGINE (a URL without a path scrapes /metrics)",
        parse_target,
        kind="list",
        metavar="URL[#ENGINE]",
        yaml_key="targets",
        item=TargetSpec,
    ),
    Option(
        "--target.engine",
        "",
        f"engine of the targets that name none: {', '.join(ENGINES)} (default: detected from the metric names)",
        lambda v: parse_engine(v) if v else "",
        metavar="ENGINE",
    ),
    Option(
        "--collect.interval",
        "5s",
        "how often to scrape every target (scrapes of the sidecar serve the latest)",
        parse_duration,
        metavar="DURATION",
    ),
    Option(
        "--collect.timeout", "3s", "how long one target's scrape may take; at most --collect.interval", parse_duration, metavar="DURATION"
    ),
    Option(
        "--collect.max-series",
        5000,
        "cap on each target's normalized exposition lines; the rest are counted in axonize_sidecar_series_dropped_total",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--attribution.source",
        "processes",
        "where each target's GPUs come from: 'processes' (targets[].gpus from the configuration first, else the "
        "port -> PID tree -> NVML resolution for targets on this host) or 'config' (the configuration only)",
        parse_attribution,
        metavar="SOURCE",
    ),
    Option(
        "--attribution.refresh",
        "30s",
        "how often the processes behind each target's port are resolved again",
        parse_duration,
        metavar="DURATION",
    ),
    *TRACE_OPTIONS,
    Option("--print", False, "scrape every target once, print the exposition to stdout and exit", kind="bool"),
    LOG_LEVEL_OPTION,
)


def load_settings(args) -> dict:
    """Resolve the options and check what no single option can: targets present, unique servers, timeout <= interval."""
    settings = resolve(OPTIONS, args)
    where = f"{args.config}: key 'targets' / flag --target" if args.config else "flag --target"
    if not settings["target"]:
        raise ConfigError(f"{where}: no targets; give --target URL or a 'targets:' list in --config")
    try:
        settings["target"] = finish(settings["target"], settings["target_engine"] or None)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if settings["collect_timeout"] > settings["collect_interval"]:
        raise ConfigError(
            f"collect.timeout ({settings['collect_timeout']:g}s) is longer than collect.interval "
            f"({settings['collect_interval']:g}s): a cycle would outlast its interval"
        )
    for flag, key, what in (
        ("--traces.prices.url", "traces_prices_url", "the prices only price traced requests"),
        ("--traces.forward.url", "traces_forward_url", "only received spans are forwarded"),
    ):
        if settings[key] and not settings["traces_path"]:
            raise ConfigError(f"{flag} is set but --traces.path is off: {what}; turn the traces receiver on or leave {flag} out")
    if settings["traces_prices_refresh"] >= settings["traces_prices_max_age"]:
        raise ConfigError(
            f"traces.prices.refresh ({settings['traces_prices_refresh']:g}s) is not shorter than traces.prices.max-age "
            f"({settings['traces_prices_max_age']:g}s): good prices would go stale between reads"
        )
    return settings


#: Net new container objects between two young-generation passes of the garbage collector (Python's default: 700).
GC_THRESHOLD = 50_000


def settle_heap() -> None:
    """Set the garbage collector for the running sidecar (call once, after start-up, before the loop).

    A collection cycle builds tens of thousands of short-lived containers (samples, label dicts,
    series) that reference counting frees: few form reference cycles (the collector freed about 100
    objects over 23 cycles of 64 vLLM targets). At Python's default threshold of 700 the
    collector still ran ~57 young passes a cycle at 64 targets, each walking the live objects of the
    cycle, and its full passes walked everything loaded at start-up. So: ``gc.freeze()`` moves the
    start-up objects (modules, tables, compiled patterns) out of every later pass, and a young pass
    waits for :data:`GC_THRESHOLD` net new containers, more than a cycle leaves alive. Cycles still
    get collected: every uncollected one counts towards the threshold, so at most that many
    containers wait (a few MB). benchmarks/sidecar_targets.py measures the sidecar with these settings
    and reports its resident memory.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser("axonize-sidecar", "Axonize inference sidecar: engine metrics in one vocabulary, for Prometheus.", OPTIONS)
    parser.add_argument("--engine", dest="target_engine", default=None, metavar="ENGINE", help="same as --target.engine")
    parser.add_argument("--version", action="version", version=f"axonize-sidecar {__version__}")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args)
        web_config = web_config_file.load(settings["web_config_file"]) if settings["web_config_file"] else None
    except ConfigError as exc:
        print(f"axonize-sidecar: {exc}", file=sys.stderr)
        return 2
    level = max(settings["log_level"], logging.ERROR) if settings["print"] else settings["log_level"]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    exposition = Exposition()
    processes = ProcessGpus(refresh=settings["attribution_refresh"]) if settings["attribution_source"] == "processes" else None
    prices = (
        Prices(settings["traces_prices_url"], settings["traces_prices_refresh"], max_age=settings["traces_prices_max_age"])
        if settings["traces_prices_url"]
        else None
    )
    traces = TraceMetrics(settings["traces_max_step"], settings["traces_max_values"], prices) if settings["traces_path"] else None
    loop = CollectionLoop(
        settings["target"],
        settings["collect_interval"],
        settings["collect_timeout"],
        exposition,
        max_series=settings["collect_max_series"],
        attribution=Attribution(processes),
        extra=traces.families if traces is not None and not settings["print"] else None,
        side_reads=(prices.update,) if prices is not None and traces is not None and not settings["print"] else (),
    )
    if settings["print"]:
        snapshot = loop.collect_once()
        sys.stdout.buffer.write(exposition.latest.body)
        sys.stdout.flush()
        for result in snapshot.results:
            if result.error is not None:
                print(f"axonize-sidecar: {result.target.server} ({result.target.display_url}): {result.error}", file=sys.stderr)
        return 0 if any(r.up for r in snapshot.results) else 1
    receiver = traces_receiver(settings, traces, loop, processes) if traces is not None else None
    settle_heap()
    return serve_loop(
        "axonize-sidecar",
        "Axonize inference sidecar",
        exposition,
        loop,
        settings,
        web_config,
        configure=receiver.install if receiver is not None else None,
    )


def traces_receiver(settings: dict, metrics: TraceMetrics, loop: CollectionLoop, processes: ProcessGpus | None):
    """The OTLP/HTTP traces receiver the ``--traces.*`` settings describe (:mod:`axonize.sidecar.trace_receiver`)."""
    forward = settings["traces_forward_url"]
    return trace_receiver.TraceReceiver(
        metrics,
        Joiner(settings["traces_join_timeout"], settings["traces_max_pending_spans"]),
        trace_receiver.RequestGpus(
            processes.by_pid if processes is not None else None, lambda: loop.model_gpus, settings["attribution_refresh"]
        ),
        max_body=settings["traces_max_body"],
        queue_size=settings["traces_queue_size"],
        forwarder=Forwarder(forward, metrics, settings["traces_forward_timeout"], settings["traces_forward_buffer"]) if forward else None,
        path=settings["traces_path"],
    )


if __name__ == "__main__":
    sys.exit(main())
