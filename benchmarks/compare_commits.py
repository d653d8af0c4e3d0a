"""Side by side: the exporter benchmarks on a baseline checkout and on this one, interleaved in one run.

    git worktree add /tmp/axonize-base <commit>
    python3 -m venv /tmp/axonize-base-venv && /tmp/axonize-base-venv/bin/pip install -e '/tmp/axonize-base[test]'
    .venv/bin/python benchmarks/compare_commits.py --baseline /tmp/axonize-base --baseline-python /tmp/axonize-base-venv/bin/python

Each round runs, from both trees and alternating which goes first: benchmarks/exporter_scrape.py
(replay of the 8x H100 demo capture: scrape latency on one keep-alive connection),
benchmarks/exporter_nvml.py (fake NVML host: CPU per collection cycle, concurrent scrape latency),
and :data:`REPLAY_CPU`, the CPU time of one replay collection cycle (read, parse, render, publish)
measured in process over 300 cycles. (The exporter's self-reported cycle time is not compared: since
the collection loop was made fault-isolating it includes the text rendering, which it used to leave
out.) It prints each figure's median over the rounds with its min-max spread and the ratio
new / baseline. Every figure is read from the benchmarks' own output; a benchmark that fails or
prints no figure stops the comparison with its output.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Replay collection CPU per cycle, in process, with the API both trees share.
REPLAY_CPU = """
import time
from axonize.demo import demo_captures
from axonize.exporter.collection import CollectionLoop
from axonize.exporter.replay import ReplaySource
from axonize.http import Exposition
loop = CollectionLoop(ReplaySource(demo_captures()), 1.0, Exposition())
for _ in range(20):
    loop.collect_once()
start = time.process_time()
for _ in range(300):
    loop.collect_once()
print(f"replay cycle CPU: {(time.process_time() - start) / 300 * 1000:.3f} ms")
"""

#: (benchmark script, or "-c" for :data:`REPLAY_CPU`, its arguments, {figure: regex with one group, in ms})
FIGURES = (
    (
        "exporter_scrape.py",
        ["--scrapes", "4000"],
        {
            "replay scrape p50 (ms)": r"latency p50: ([0-9.]+) ms",
            "replay scrape p99 (ms)": r"latency p99: ([0-9.]+) ms",
        },
    ),
    ("-c", [], {"replay collection CPU (ms)": r"replay cycle CPU: ([0-9.]+) ms"}),
    (
        "exporter_nvml.py",
        ["--cycles", "1000", "--scrapers", "20", "--scrapes", "20"],
        {
            "NVML collection CPU median (ms)": r"CPU per cycle over \d+ cycles: median ([0-9.]+) ms",
            "NVML collection CPU p99 (ms)": r"CPU per cycle over \d+ cycles: median [0-9.]+ ms, p99 ([0-9.]+) ms",
            "NVML concurrent scrape p99 (ms)": r"concurrent scrapers .*?p99 ([0-9.]+) ms",
        },
    ),
)


def run_one(root: Path, python: str, script: str, args: list[str]) -> dict[str, float]:
    argv = [python, "-c", REPLAY_CPU] if script == "-c" else [python, str(root / "benchmarks" / script), *args]
    out = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(f"{root}/benchmarks/{script} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    figures = {}
    for _, _, patterns in FIGURES:
        for name, pattern in patterns.items():
            m = re.search(pattern, out.stdout)
            if m:
                figures[name] = float(m.group(1))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="checkout of the baseline commit")
    parser.add_argument("--baseline-python", required=True, help="python of a venv with the baseline installed (editable)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    trees = {"baseline": (Path(args.baseline).resolve(), args.baseline_python), "new": (ROOT, sys.executable)}
    results: dict[str, dict[str, list[float]]] = {"baseline": {}, "new": {}}
    for round_ in range(args.rounds):
        order = ["baseline", "new"] if round_ % 2 == 0 else ["new", "baseline"]
        for script, script_args, patterns in FIGURES:
            for which in order:
                root, python = trees[which]
                figures = run_one(root, python, script, script_args)
                for name in patterns:
                    if name not in figures:
                        sys.exit(f"{which}: {script} printed no figure for {name!r}")
                    results[which].setdefault(name, []).append(figures[name])
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"{'figure':34} {'baseline median [min-max]':>28} {'new median [min-max]':>28} {'new/base':>9}")
    for _, _, patterns in FIGURES:
        for name in patterns:
            base, new = results["baseline"][name], results["new"][name]
            b, n = statistics.median(base), statistics.median(new)
            print(f"{name:34} {b:>12.3f} [{min(base):.3f}-{max(base):.3f}] {n:>12.3f} [{min(new):.3f}-{max(new):.3f}] {n / b:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
