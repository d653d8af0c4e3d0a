"""``axonize-exporter``: flags, configuration and the main loop.

Flags follow Prometheus exporters (node_exporter, dcgm-exporter)::

    axonize-exporter --replay gpus.txt topo.txt          # serve a replay on :9947/metrics
    axonize-exporter --replay gpus.xml --print           # render one snapshot to stdout and exit
    axonize-exporter --config exporter.yml --web.listen-address 127.0.0.1:9947

Every flag has a YAML key (``--collect.interval`` <-> ``collect: {interval: ...}``);
flags override the file. Exit codes: 0 ok, 1 nothing could be collected
(``--print``), 2 bad flags or configuration.
"""
from __future__ import annotations

import logging
import sys
from typing import Optional, Sequence

from axonize import __version__
from axonize.config import ConfigError, Option, build_parser, parse_duration, parse_listen_address, resolve
from axonize import web_config_file
from axonize.http import Exposition, make_app, serve

from .collection import CollectionLoop
from .replay import ReplaySource

DEFAULT_PORT = 9947

OPTIONS = (
    Option("--web.listen-address", f":{DEFAULT_PORT}", "address to listen on for HTTP", parse_listen_address, metavar="[HOST]:PORT"),
    Option("--web.telemetry-path", "/metrics", "path under which to expose metrics", str, metavar="PATH"),
    Option("--collect.interval", "5s", "how often to collect a snapshot (scrapes serve the latest)", parse_duration, metavar="DURATION"),
    Option(
        "--replay",
        [],
        "replay nvidia-smi captures instead of NVML: one host's '-q' or '-q -x' report, plus optional 'topo -m' and '-L'",
        str,
        kind="list",
        metavar="PATH",
    ),
    Option("--replay.hostname", "", "hostname label for a replayed host (captures do not carry one)", str, metavar="NAME"),
    Option(
        "--metrics-format",
        "axonize",
        "metric names to expose: axonize (default), dcgm (dcgm-exporter's DCGM_FI_* names and labels) or both",
        lambda v: _metrics_format(v),
        metavar="FORMAT",
    ),
    Option("--web.config.file", "", "exporter-toolkit web configuration (TLS, basic auth) file", str, metavar="FILE"),
    Option("--path.procfs", "/proc", "procfs mountpoint (the host's /proc when running in a container)", str, metavar="PATH"),
    Option("--path.sysfs", "/sys", "sysfs mountpoint (the host's /sys when running in a container)", str, metavar="PATH"),
    Option("--path.rootfs", "/", "host root filesystem, for container runtime state (/run/containerd, /var/lib/docker, ...)", str, metavar="PATH"),
    Option("--print", False, "collect one snapshot, print the exposition to stdout and exit", kind="bool"),
    Option("--log.level", "info", "log level: debug, info, warning, error", lambda v: _log_level(v), metavar="LEVEL"),
)


def _log_level(value: str) -> int:
    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING, "error": logging.ERROR}
    if str(value).lower() not in levels:
        raise ValueError(f"{value!r} is not one of {', '.join(levels)}")
    return levels[str(value).lower()]


METRICS_FORMATS = ("axonize", "dcgm", "both")


def _metrics_format(value: str) -> str:
    if str(value) not in METRICS_FORMATS:
        raise ValueError(f"{value!r} is not one of {', '.join(METRICS_FORMATS)}")
    return str(value)


def make_render(metrics_format: str):
    """The snapshot -> families function for ``--metrics-format``."""
    from . import dcgm, exposition

    if metrics_format == "axonize":
        return exposition.families
    if metrics_format == "dcgm":
        return dcgm.families
    return lambda snapshot: exposition.families(snapshot) + dcgm.families(snapshot)


def make_source(settings: dict):
    if settings["replay"]:
        return ReplaySource(settings["replay"], hostname=settings["replay_hostname"])
    raise ConfigError(
        "no GPU source: NVML is not available in this build yet; replay nvidia-smi captures with "
        "--replay FILE... (nvidia-smi -q or -q -x, plus optional topo -m and -L)"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser("axonize-exporter", "Axonize GPU exporter for Prometheus.", OPTIONS)
    parser.add_argument("--version", action="version", version=f"axonize-exporter {__version__}")
    args = parser.parse_args(argv)
    try:
        settings = resolve(OPTIONS, args)
        web_config = web_config_file.load(settings["web_config_file"]) if settings["web_config_file"] else None
        source = make_source(settings)
    except ConfigError as exc:
        print(f"axonize-exporter: {exc}", file=sys.stderr)
        return 2
    level = max(settings["log_level"], logging.ERROR) if settings["print"] else settings["log_level"]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    exposition = Exposition()
    loop = CollectionLoop(source, settings["collect_interval"], exposition, render=make_render(settings["metrics_format"]))
    if settings["print"]:
        snapshot = loop.collect_once()
        sys.stdout.buffer.write(exposition.latest.body)
        sys.stdout.flush()
        for err in snapshot.errors:
            print(f"axonize-exporter: {err}", file=sys.stderr)
        return 0 if snapshot.gpus else 1
    host, port = settings["web_listen_address"]
    try:
        app = make_app(exposition, settings["web_telemetry_path"], loop.health, "Axonize GPU exporter")
    except ValueError as exc:
        print(f"axonize-exporter: flag --web.telemetry-path: {exc}", file=sys.stderr)
        return 2
    loop.start()
    try:
        serve(app, host, port, web_config=web_config)
    finally:
        loop.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
