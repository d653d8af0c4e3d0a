"""``axonize``: the umbrella command. ``axonize demo`` runs the demo; more subcommands join as components land."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from . import __version__

COMMANDS = {
    "demo": ("axonize.demo", "the exporter on a real 8x H100 capture, scraped by a real Prometheus"),
    "bench": ("axonize.bench.cli", "load-test an OpenAI-compatible server; report TTFT, TPOT, ITL and throughput as vllm bench serve"),
    "usage": ("axonize.usage.cli", "per-customer, per-model requests, tokens and GPU cost of a month, from Prometheus"),
    "advise": ("axonize.advisor.cli", "diagnose a GPU host (NUMA, NVLink, MIG, idle) and propose a placement"),
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: axonize COMMAND [ARGS]\n\ncommands:")
        for name, (_, help) in COMMANDS.items():
            print(f"  {name:10} {help}")
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"axonize {__version__}")
        return 0
    if argv[0] not in COMMANDS:
        print(f"axonize: unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = __import__(COMMANDS[argv[0]][0], fromlist=["main"])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
