"""``axonize advise``: why a GPU host is inefficient and what placement would fix it.

    axonize advise --replay FILES... [--workloads FILE]            nvidia-smi captures and/or saved /metrics
    axonize advise --prometheus URL [--window 1h] [--selector S]   a live Prometheus over a window
    axonize advise --scenario h200x8|l40sx4                        a packaged demo host
      [--hostname NAME] [--html FILE] [--pdf FILE] [--json FILE]
      [--llm-endpoint URL --llm-model NAME [--llm-timeout 30s]] [--config bundle.yml]

Prints the terminal summary (:mod:`.terminal`) and writes the files asked for. Exit status: 0 done; 2 bad
input (a message on stderr naming the file, key or URL: captures that do not form a host, a workloads file
naming GPUs the host lacks, an unreachable Prometheus, an unwritable output path). An LLM endpoint that
fails never fails the command: the report says why it has no narrative.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from axonize.config import parse_duration
from axonize.yaml_file import ConfigError

from . import json_report, scenarios, terminal
from .advise import AdviseError, Request, advise, load_bundle

#: The longest Prometheus window accepted (seconds): 90 days, about the longest retention one keeps.
MAX_WINDOW_S = 90 * 86400.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="axonize advise",
        description="Diagnose a GPU host (NUMA, NVLink, MIG, memory, PCIe, idle) and propose a placement, with evidence.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--replay",
        nargs="+",
        metavar="FILE",
        help="nvidia-smi -q / -q -x, topo -m, -L captures of one host, and saved /metrics texts of the exporter or sidecar",
    )
    source.add_argument("--prometheus", metavar="URL", help="a Prometheus that scrapes the exporter (and the sidecar)")
    source.add_argument(
        "--scenario",
        choices=list(scenarios.SCENARIOS),
        help="a packaged demo host: " + "; ".join(f"{k}: {v}" for k, v in scenarios.SCENARIOS.items()),
    )
    p.add_argument("--workloads", metavar="FILE", help="YAML: what runs where (name, kind, gpus/container/mig, cpus, memory, ...)")
    p.add_argument("--window", default="1h", metavar="DURATION", help="with --prometheus: the window averaged over (default: 1h)")
    p.add_argument(
        "--selector",
        default="",
        metavar="MATCHERS",
        help="with --prometheus: label matchers choosing one host, e.g. 'instance=\"h200-node:9947\"'",
    )
    p.add_argument(
        "--hostname",
        default="",
        metavar="NAME",
        help="the host's name in the report (default: the workloads file's host:, the exporter's hostname, "
        "Prometheus' instance, else the nvidia-smi capture's file name)",
    )
    p.add_argument("--html", metavar="FILE", help="write the report as a self-contained HTML page")
    p.add_argument("--pdf", metavar="FILE", help="write the report as PDF")
    p.add_argument("--json", metavar="FILE", help="write the findings and plan as JSON")
    p.add_argument("--llm-endpoint", metavar="URL", help="an OpenAI-compatible chat endpoint (e.g. your vLLM) for a narrative")
    p.add_argument("--llm-model", metavar="NAME", help="the model the endpoint serves")
    p.add_argument("--llm-timeout", default="30s", metavar="DURATION", help="how long to wait for the endpoint (default: 30s)")
    p.add_argument("--config", metavar="FILE", help="bundle configuration: score weights, grades, prices (default: the packaged one)")
    return p


def request_of(args: argparse.Namespace) -> Request:
    """The :class:`Request` of parsed flags; AdviseError naming the flag for a bad value or combination."""
    if bool(args.llm_endpoint) != bool(args.llm_model):
        raise AdviseError("--llm-endpoint and --llm-model go together: give both, or neither")
    if not args.prometheus and (args.selector or args.window != "1h"):
        raise AdviseError("--window and --selector apply to --prometheus only")
    try:
        parse_duration(args.window, low=1.0, high=MAX_WINDOW_S)
    except ValueError as exc:
        raise AdviseError(f"--window: {exc}") from None
    try:
        timeout = parse_duration(args.llm_timeout, low=0.1, high=3600.0)
    except ValueError as exc:
        raise AdviseError(f"--llm-timeout: {exc}") from None
    return Request(
        replay=tuple(args.replay or ()),
        prometheus=args.prometheus,
        scenario=args.scenario,
        workloads=args.workloads,
        window=args.window,
        selector=args.selector,
        config=args.config,
        llm_endpoint=args.llm_endpoint,
        llm_model=args.llm_model,
        llm_timeout_s=timeout,
        hostname=args.hostname,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        request = request_of(args)
        bundle = load_bundle(request.config)
        report = advise(request, bundle)
    except (AdviseError, ConfigError) as exc:
        print(f"axonize advise: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(terminal.render(report))
    try:
        if args.json:
            json_report.write(report, args.json)
        if args.html:
            from .report.html import write_html

            write_html(report, args.html, bundle)
        if args.pdf:
            from .report.pdf import write_pdf

            write_pdf(report, args.pdf, bundle)
    except OSError as exc:
        print(f"axonize advise: {exc}", file=sys.stderr)
        return 2
    written = [f"{kind} {path}" for kind, path in (("JSON", args.json), ("HTML", args.html), ("PDF", args.pdf)) if path]
    if written:
        print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
