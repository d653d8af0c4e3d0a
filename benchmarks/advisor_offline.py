"""How long the advisor's offline analysis of the H200 x8 scenario takes end to end (InfraLens' target: < 1 s).

    .venv/bin/python benchmarks/advisor_offline.py [--runs 20]

One run is what ``axonize advise --scenario h200x8`` does before it prints, PDF and HTML excluded: the workloads
file read and checked, the captures read by the exporter's ``--replay --print`` (a subprocess: a Python start-up
and the exporter's import, most of the time), the samples parsed into the Host, the workloads merged, then the
score, findings and placement plan. Then the command itself (``python -m axonize.cli advise --scenario h200x8``,
a fresh process each time: its imports included, the terminal summary printed). It prints the median and min-max of the wall time over ``--runs`` runs (after
one warm-up run that pays the imports of this process), split into reading the inputs and analysing them.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from axonize.advisor.advise import Request, analyse, load_bundle, read_host  # noqa: E402


def one(bundle) -> tuple[float, float]:
    t0 = time.perf_counter()
    host, notes = read_host(Request(scenario="h200x8"))
    t1 = time.perf_counter()
    analyse(host, bundle, notes)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def line(what: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    return f"{what:32} median {statistics.median(ms):7.1f} ms   min {ms[0]:7.1f}   max {ms[-1]:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    bundle = load_bundle(None)
    one(bundle)
    runs = [one(bundle) for _ in range(args.runs)]
    print(f"advisor offline, H200 x8 scenario, {args.runs} runs:")
    print(line("inputs (exporter replay, parse)", [r for r, _ in runs]))
    print(line("score, findings, plan", [a for _, a in runs]))
    print(line("end to end (in process)", [r + a for r, a in runs]))
    command = [sys.executable, "-m", "axonize.cli", "advise", "--scenario", "h200x8"]
    cli = []
    for _ in range(max(3, args.runs // 4)):
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        cli.append(time.perf_counter() - t0)
    print(line("the command, a fresh process", cli))
    return 0


if __name__ == "__main__":
    sys.exit(main())
