"""``axonize-exporter``: flags, configuration and the main loop.

Flags follow Prometheus exporters (node_exporter, dcgm-exporter)::

    axonize-exporter --replay gpus.txt topo.txt          # serve a replay on :9947/metrics
    axonize-exporter --replay gpus.xml --print           # render one snapshot to stdout and exit
    axonize-exporter --replay gpus.txt --replay.kernel-log dmesg.txt   # XID counters from the kernel log
    axonize-exporter --config exporter.yml --web.listen-address 127.0.0.1:9947

Every flag has a YAML key (``--collect.interval`` <-> ``collect: {interval: ...}``);
flags override the file. ``--collect.interval`` defaults to 15s, the common Prometheus scrape
interval (:data:`DEFAULT_INTERVAL`): collect as often as you scrape. Exit codes: 0 ok, 1 nothing could be collected
(``--print``), 2 bad flags or configuration.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Sequence

from axonize import __version__, pricing, web_config_file
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
from axonize.http import Exposition, serve_loop

from .collection import CollectionLoop
from .prices import PricedSource
from .replay import ReplaySource

DEFAULT_PORT = 9947
#: ``--collect.interval`` by default: the scrape interval of the bundle's Prometheus (axonize/bundle.yml) and of
#: Prometheus' example configuration. Prometheus' own default is 1m and the Prometheus Operator's 30s; dcgm-exporter
#: collects every 30s. A collection at the scrape interval serves each snapshot about once and keeps data at most one
#: interval old; a shorter one collects snapshots nobody reads (5s cost 3 collections per 15 s scrape, issue 16).
DEFAULT_INTERVAL = "15s"

OPTIONS = (
    *web_options(DEFAULT_PORT),
    Option(
        "--collect.interval",
        DEFAULT_INTERVAL,
        "how often to collect a snapshot; scrapes serve the latest, written to text on its first scrape. "
        "Set it to your scrape interval: the default is the common one (the bundle's Prometheus, Prometheus' example "
        "configuration), so each snapshot is served about once, and at 30s or 1m scrapes the snapshots between cost "
        "collection only",
        parse_duration,
        metavar="DURATION",
    ),
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
        "--replay.kernel-log",
        "",
        "a replayed host's kernel log (dmesg or journalctl -k output), read every cycle: its 'NVRM: Xid' lines give the XID counters",
        str,
        metavar="FILE",
    ),
    Option(
        "--metrics-format",
        "axonize",
        "metric names to expose: axonize (default), dcgm (dcgm-exporter's DCGM_FI_* names and labels) or both",
        lambda v: _metrics_format(v),
        metavar="FORMAT",
    ),
    Option("--path.procfs", "/proc", "procfs mountpoint (the host's /proc when running in a container)", str, metavar="PATH"),
    Option("--path.sysfs", "/sys", "sysfs mountpoint (the host's /sys when running in a container)", str, metavar="PATH"),
    Option(
        "--path.rootfs",
        "/",
        "host root filesystem, for container runtime state (/run/containerd, /var/lib/docker, ...)",
        str,
        metavar="PATH",
    ),
    Option(
        "--collect.gpu-timeout",
        "2s",
        "how long a cycle waits for one GPU before reporting it timed out (NVML)",
        parse_duration,
        metavar="DURATION",
    ),
    Option("--collect.processes", False, "also export per-PID GPU memory series (default: aggregated per container)", kind="bool"),
    Option(
        "--collect.processes.max-series", 500, "cap on per-PID series; the rest are counted as dropped", parse_positive_int, metavar="N"
    ),
    Option(
        "--cost.config",
        "",
        "bundle configuration whose 'prices' table gives each GPU's $ per hour (default: the packaged axonize/bundle.yml)",
        str,
        metavar="FILE",
        yaml_key="cost.config",
    ),
    Option("--print", False, "collect one snapshot, print the exposition to stdout and exit", kind="bool"),
    LOG_LEVEL_OPTION,
)


METRICS_FORMATS = ("axonize", "dcgm", "both")


def _metrics_format(value: str) -> str:
    if str(value) not in METRICS_FORMATS:
        raise ValueError(f"{value!r} is not one of {', '.join(METRICS_FORMATS)}")
    return str(value)


def make_render(settings: dict):
    """The snapshot -> families function for ``--metrics-format`` and the per-PID options."""
    from . import dcgm, exposition

    options = exposition.Options(per_process=settings["collect_processes"], max_process_series=settings["collect_processes_max_series"])
    ours = functools.partial(exposition.families, options=options)
    if settings["metrics_format"] == "axonize":
        return ours
    if settings["metrics_format"] == "dcgm":
        return dcgm.families
    return lambda snapshot: ours(snapshot) + dcgm.families(snapshot)


class NoSource(RuntimeError):
    """Neither NVML nor a replay is available."""


def make_source(settings: dict):
    """The replay when ``--replay`` is given, else NVML (with the runtime context from /proc and /sys)."""
    if settings["replay"]:
        return ReplaySource(settings["replay"], hostname=settings["replay_hostname"], kernel_log=settings["replay_kernel_log"])
    from .nvml import NvmlSource, NvmlUnavailable
    from .runtime_context import RuntimeContext

    context = RuntimeContext(procfs=settings["path_procfs"], sysfs=settings["path_sysfs"], rootfs=settings["path_rootfs"])
    try:
        return NvmlSource(gpu_timeout=settings["collect_gpu_timeout"], enrich=context.enrich)
    except NvmlUnavailable as exc:
        raise NoSource(
            f"no GPU source: {exc}. On a GPU host, install the NVIDIA driver (and run the container with the GPUs "
            "visible); elsewhere, replay nvidia-smi captures with --replay FILE... (nvidia-smi -q or -q -x, plus optional topo -m and -L)"
        ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser("axonize-exporter", "Axonize GPU exporter for Prometheus.", OPTIONS)
    parser.add_argument("--version", action="version", version=f"axonize-exporter {__version__}")
    args = parser.parse_args(argv)
    try:
        settings = resolve(OPTIONS, args)
        web_config = web_config_file.load(settings["web_config_file"]) if settings["web_config_file"] else None
        prices = pricing.load(settings["cost_config"] or None)
        source = make_source(settings)
        if settings["metrics_format"] != "dcgm":  # only the axonize_* format has price series
            source = PricedSource(source, prices)
    except ConfigError as exc:
        print(f"axonize-exporter: {exc}", file=sys.stderr)
        return 2
    except NoSource as exc:
        print(f"axonize-exporter: {exc}", file=sys.stderr)
        return 1
    level = max(settings["log_level"], logging.ERROR) if settings["print"] else settings["log_level"]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    exposition = Exposition()
    loop = CollectionLoop(source, settings["collect_interval"], exposition, render=make_render(settings))
    if settings["print"]:
        snapshot = loop.collect_once()
        sys.stdout.buffer.write(exposition.latest.body)
        sys.stdout.flush()
        for err in snapshot.errors:
            print(f"axonize-exporter: {err}", file=sys.stderr)
        return 0 if snapshot.gpus else 1
    return serve_loop("axonize-exporter", "Axonize GPU exporter", exposition, loop, settings, web_config)


if __name__ == "__main__":
    sys.exit(main())
