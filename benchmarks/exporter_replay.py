"""CPU of one replay collection cycle, in process: ``ReplaySource.collect()`` alone and the whole cycle (issue 16).

    .venv/bin/python benchmarks/exporter_replay.py [--cycles 300] [--rounds 7] [--against DIR]

Scenarios, each on copies of the captures in a temporary directory, their modification time set
a minute back (as a capture rewritten by cron minutes ago is):

* ``demo``: the 8x H100 ``-q`` text report and the HGX ``topo -m`` (:func:`axonize.demo.demo_captures`);
* ``faults+xid``: the faults-lost ``-q`` report (GPU 0 lost), ``topo -m`` and the demo kernel log;
* ``xml+mig``: the H200 ``-q -x`` report, ``-L`` and ``topo -m`` of tests/fixtures/nvidia/h200-real;
* ``demo rewritten``: ``demo`` with the report's modification time moved every cycle, so it is read
  and parsed every cycle (the cost when the capture changes each cycle);
* ``demo cycle``: the whole collection cycle of ``demo``
  (:meth:`~axonize.exporter.collection.CollectionLoop.collect_once`: collect, summarize, render,
  publish), the figure benchmarks/compare_commits.py calls ``REPLAY_CPU``.

Each round measures the process CPU time (``time.process_time``) of ``--cycles`` cycles after 20
warm-up cycles and prints the mean per cycle; the figures are the min / median / max of the rounds'
means, in ms. ``--against DIR`` runs every round twice, in child processes, alternating which goes
first: once with this checkout and once with ``PYTHONPATH=DIR``, where DIR holds another version
laid out as installed (``DIR/axonize``, ``DIR/axonize/exporter``, ...), and prints both with the
ratio (``--this DIR2``: DIR2 instead of this checkout, so that both sides are copies taken at
one moment). Figures taken on a shared machine are noisy: compare medians and look at the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "axonize" / "demo_data"
H200 = ROOT / "tests" / "fixtures" / "nvidia" / "h200-real"

SCENARIOS: dict[str, tuple[list[Path], Path | None]] = {
    "demo": ([DEMO / "h100-sxm-x8_drv565_nvidia-smi-q.txt", DEMO / "h200-x8-hgx_topo-m_nics.txt"], None),
    "faults+xid": (
        [DEMO / "faults" / "h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt", DEMO / "h200-x8-hgx_topo-m_nics.txt"],
        DEMO / "faults" / "kernel-xid.log",
    ),
    "xml+mig": (
        [H200 / "h200_drv580_nvidia-smi-q-x_load.xml", H200 / "h200_drv580_nvidia-smi-L.txt", H200 / "h200_drv580_topo-m.txt"],
        None,
    ),
    "demo rewritten": ([DEMO / "h100-sxm-x8_drv565_nvidia-smi-q.txt", DEMO / "h200-x8-hgx_topo-m_nics.txt"], None),
    "demo cycle": ([DEMO / "h100-sxm-x8_drv565_nvidia-smi-q.txt", DEMO / "h200-x8-hgx_topo-m_nics.txt"], None),
}


def _copies(files: list[Path], log: Path | None, into: Path) -> tuple[list[str], str]:
    out = []
    for f in [*files, *([log] if log else [])]:
        dest = into / f.name
        shutil.copyfile(f, dest)
        back = time.time() - 60
        os.utime(dest, (back, back))
        out.append(str(dest))
    return (out[:-1], out[-1]) if log else (out, "")


def one_round(cycles: int) -> dict[str, float]:
    """CPU ms per cycle of each scenario, one round."""
    from axonize.exporter.collection import CollectionLoop
    from axonize.exporter.replay import ReplaySource
    from axonize.http import Exposition

    figures = {}
    for name, (files, log) in SCENARIOS.items():
        with tempfile.TemporaryDirectory() as tmp:
            paths, kernel_log = _copies(files, log, Path(tmp))
            source = ReplaySource(paths, hostname="bench", kernel_log=kernel_log, clock=lambda: 1.7e9)
            step = source.collect
            if name == "demo cycle":
                step = CollectionLoop(source, 1.0, Exposition()).collect_once
            elif name == "demo rewritten":
                stamp = [time.time() - 60]

                def step(collect=source.collect, report=paths[0], stamp=stamp):
                    stamp[0] += 0.001
                    os.utime(report, (stamp[0], stamp[0]))
                    return collect()

            for _ in range(20):
                step()
            start = time.process_time()
            for _ in range(cycles):
                step()
            figures[name] = (time.process_time() - start) / cycles * 1000
    return figures


def _child(cycles: int, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # run outside the checkout, so that DIR (not ./axonize) is what PYTHONPATH imports
    out = subprocess.run(
        [sys.executable, __file__, "--one-round", "--cycles", str(cycles)],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"round with PYTHONPATH={pythonpath or ''} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} [{min(values):.3f}-{max(values):.3f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--against", metavar="DIR", help="another version, laid out as installed, to run interleaved with this one")
    parser.add_argument("--this", metavar="DIR", help="with --against: a copy laid out the same way to run instead of this checkout")
    parser.add_argument("--one-round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_round:
        print(json.dumps(one_round(args.cycles)))
        return 0
    runs: dict[str, dict[str, list[float]]] = {"this": {}, "against": {}}
    for round_ in range(args.rounds):
        order = ["this", "against"] if round_ % 2 == 0 else ["against", "this"]
        for which in order if args.against else ["this"]:
            if args.against:
                figures = _child(args.cycles, args.against if which == "against" else args.this)
            else:
                figures = one_round(args.cycles)
            for name, ms in figures.items():
                runs[which].setdefault(name, []).append(ms)
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"replay CPU per cycle, ms, median [min-max] of {args.rounds} rounds of {args.cycles} cycles")
    if not args.against:
        for name, values in runs["this"].items():
            print(f"{name:16} {_spread(values)}")
        return 0
    print(f"{'scenario':16} {'--against':>24} {'this checkout':>24} {'this/against':>13}")
    for name, values in runs["this"].items():
        base = runs["against"][name]
        ratio = statistics.median(values) / statistics.median(base)
        print(f"{name:16} {_spread(base):>24} {_spread(values):>24} {ratio:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
