"""Side by side: the exporter benchmarks on a baseline checkout and on this one, interleaved in one run.

    git worktree add /tmp/axonize-base <commit>
    python3 -m venv /tmp/axonize-base-venv && /tmp/axonize-base-venv/bin/pip install -e '/tmp/axonize-base[test]'
    .venv/bin/python benchmarks/compare_commits.py --baseline /tmp/axonize-base --baseline-python /tmp/axonize-base-venv/bin/python

Each round runs, from both trees and alternating which goes first: benchmarks/exporter_scrape.py
(replay of the 8x H100 demo capture: scrape latency on one keep-alive connection),
benchmarks/exporter_nvml.py (fake NVML host: concurrent scrape latency), and :data:`CYCLE_CPU` on
the demo replay and on the fake-NVML fleet: the CPU time of a collection cycle at a 1 s interval,
in process over 300 cycles, alone and with a gzip scrape of every snapshot (since issue 16 the text
is written on the first scrape, so the two differ). (The exporter's self-reported cycle time is not
compared: what it covers changed with the loop.) It prints each figure's median over the rounds with its min-max spread and the ratio
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

#: CPU per collection cycle at a 1 s interval, in process, with the API both trees share: alone (nobody
#: scrapes that snapshot), then with one gzip scrape of each snapshot (``latest.gzipped``: rendered
#: in the cycle before issue 16, on that first scrape since). 300 cycles each after 20 of warm-up.
CYCLE_CPU = """
import sys, time
sys.path.insert(0, ".")
from axonize.exporter.collection import CollectionLoop
from axonize.http import Exposition
if sys.argv[1] == "replay":
    from axonize.demo import demo_captures
    from axonize.exporter.replay import ReplaySource
    source = ReplaySource(demo_captures())
else:
    from axonize.exporter.nvml import NvmlSource
    from tests.fake_nvml import benchmark_fleet
    source = NvmlSource(nvml=benchmark_fleet(), hostname="bench", xid_events=True)
loop = CollectionLoop(source, 1.0, Exposition())
for _ in range(20):
    loop.collect_once()
    loop.exposition.latest.gzipped
start = time.process_time()
for _ in range(300):
    loop.collect_once()
alone = (time.process_time() - start) / 300
start = time.process_time()
for _ in range(300):
    loop.collect_once()
    loop.exposition.latest.gzipped
scraped = (time.process_time() - start) / 300
print(f"{sys.argv[1]} cycle CPU: {alone * 1000:.3f} ms; with a gzip scrape of each: {scraped * 1000:.3f} ms")
loop.stop()
"""

#: (benchmark script, or "-c" for :data:`CYCLE_CPU`, its arguments, {figure: regex with one group, in ms})
FIGURES = (
    (
        "exporter_scrape.py",
        ["--scrapes", "4000"],
        {
            "replay scrape p50 (ms)": r"latency p50: ([0-9.]+) ms",
            "replay scrape p99 (ms)": r"latency p99: ([0-9.]+) ms",
        },
    ),
    (
        "-c",
        ["replay"],
        {
            "replay collection CPU (ms)": r"replay cycle CPU: ([0-9.]+) ms",
            "replay collection + scrape CPU (ms)": r"replay cycle CPU: .*each: ([0-9.]+) ms",
        },
    ),
    (
        "-c",
        ["nvml"],
        {
            "NVML collection CPU (ms)": r"nvml cycle CPU: ([0-9.]+) ms",
            "NVML collection + scrape CPU (ms)": r"nvml cycle CPU: .*each: ([0-9.]+) ms",
        },
    ),
    (
        "exporter_nvml.py",
        ["--cycles", "1000", "--scrapers", "20", "--scrapes", "20"],
        {"NVML concurrent scrape p99 (ms)": r"concurrent scrapers .*?p99 ([0-9.]+) ms"},
    ),
)


def run_one(root: Path, python: str, script: str, args: list[str]) -> dict[str, float]:
    argv = [python, "-c", CYCLE_CPU, *args] if script == "-c" else [python, str(root / "benchmarks" / script), *args]
    out = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(f"{root}/benchmarks/{script} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    figures = {}
    for _, _, patterns in FIGURES:
        for name, pattern in patterns.items():
            m = re.search(pattern, out.stdout, re.MULTILINE)
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
