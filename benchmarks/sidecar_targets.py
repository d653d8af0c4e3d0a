"""Sidecar CPU per target scrape at 16 and 64 vLLM-sized targets: this tree, a baseline tree, prometheus_client alone.

The real collection cycle (:class:`axonize.sidecar.collection.CollectionLoop`: HTTP GETs on
keep-alive connections, decode, parse, normalize, render the whole exposition with self-metrics,
publish) against N targets that each answer the vLLM 0.33 fixture
(tests/fixtures/inference/vllm-0.33.0-v1.synthetic.prom, 59 kB, 598 lines), served by an aiohttp
server in another process so its CPU is not counted. With ``--values changing`` (the default) every
sample value differs from one scrape to the next (the server rotates 8 copies of the fixture, each
value + k: histograms stay cumulative, ``_count`` equal to ``+Inf``), as on a busy engine, so no cache
of unchanged lines can answer; ``--values fixed`` serves the fixture as is (an idle engine).

Each arm is its own process, started as the sidecar starts (``axonize.sidecar.cli.settle_heap()``
where the tree has it: the garbage collector's start-up settings), warmed up by 3 cycles, then
told to run a round of ``--cycles`` cycles at a time; the arms' rounds are interleaved, the order
rotating each round, so a neighbour's load falls on all of them. The figure is the arm process's
CPU time (user + system of all its threads, ``time.process_time``) per cycle divided by N.

Arms: "this tree"; "baseline" with ``--baseline DIR`` (another checkout, e.g.
``git worktree add /tmp/sidecar-base <commit>``: its ``axonize`` packages are imported from DIR);
"prometheus_client" (this tree with :func:`axonize.sidecar.text_format.families` answering None, so
every kept line goes through prometheus_client's parser as before issue 16), left out with
``--no-library``. Each prints min / median / max over the rounds, the ratio of medians to the
others, and the process's resident memory after warm-up and after the last round.

    .venv/bin/python benchmarks/sidecar_targets.py [--targets 16 64] [--rounds 7] [--cycles 5]
        [--values changing|fixed] [--baseline /tmp/sidecar-base] [--no-library]

Target (issue 16): at most 2 ms of CPU per target scrape at 16 and 64 targets; goal 1.5 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.processes import free_port, wait_http  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "inference" / "vllm-0.33.0-v1.synthetic.prom"
TARGET_MS, GOAL_MS = 2.0, 1.5
VARIANTS = 8

#: One arm: argv[1] tree, argv[2] URL, argv[3] targets, argv[4] cycles per round, argv[5] "library" or "".
#: Imports ``axonize`` from the tree, answers each line on stdin with one round's figures (JSON).
ARM = r"""
import asyncio, importlib.machinery, importlib.util, json, sys, time
from pathlib import Path

tree, url, count, cycles, library = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
PACKAGES = {"axonize": tree / "axonize"} | {f"axonize.{d}": tree / d for d in ("exporter", "sidecar", "rules", "alerts", "grafana")}


class TreeFinder:  # axonize from ``tree``, ahead of the editable install's finder
    def find_spec(self, name, path=None, target=None):
        if name in PACKAGES:
            where = PACKAGES[name]
            return importlib.util.spec_from_file_location(name, where / "__init__.py", submodule_search_locations=[str(where)])
        if name.startswith("axonize."):
            parent = sys.modules[name.rpartition(".")[0]]
            return importlib.machinery.PathFinder.find_spec(name, parent.__path__)
        return None


sys.meta_path.insert(0, TreeFinder())
from axonize.http import Exposition
from axonize.sidecar import cli, text_format
from axonize.sidecar.collection import CollectionLoop
from axonize.sidecar.scrape import new_session
from axonize.sidecar.targets import Target

assert Path(text_format.__file__).is_relative_to(tree), text_format.__file__
if library:
    text_format.families = lambda lines, heads=None: None
loop = CollectionLoop(
    [Target(url=f"{url}/engine-{i}/metrics", server=f"vllm-{i}") for i in range(count)], 5.0, 30.0, Exposition()
)
if hasattr(cli, "settle_heap"):
    cli.settle_heap()


def rss_mib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20


async def run(session, n):
    for _ in range(n):
        snapshot = await loop.cycle(session)
        assert all(x.up for x in snapshot.results), [str(x.error) for x in snapshot.results if not x.up]


async def opened():
    return new_session()


events = asyncio.new_event_loop()
session = events.run_until_complete(opened())
events.run_until_complete(run(session, 3))  # warm-up: connections, compiled patterns, caches
warm = rss_mib()
print(json.dumps({"ready": True}), flush=True)
for _ in sys.stdin:
    start = time.process_time()
    events.run_until_complete(run(session, cycles))
    ms = (time.process_time() - start) / cycles / count * 1e3
    print(json.dumps({"ms": ms, "rss_warm": warm, "rss": rss_mib()}), flush=True)
events.run_until_complete(session.close())
"""


def variants(text: str) -> list[bytes]:
    """The fixture with every sample value + k, k = 0 .. VARIANTS - 1 (integers stay integers, NaN and infinities stay)."""
    out = []
    for k in range(VARIANTS):
        lines = []
        for line in text.split("\n"):
            head, _, value = line.rpartition(" ")
            if line.startswith("#") or not head or value in ("NaN", "+Inf", "-Inf"):
                lines.append(line)
            elif value.lstrip("-").isdigit():
                lines.append(f"{head} {int(value) + k}")
            else:
                lines.append(f"{head} {float(value) + k!r}")
        out.append("\n".join(lines).encode())
    return out


def serve(port: int, values: str) -> None:
    """The engines' side: every path answers the fixture, a different variant each request with ``changing``."""
    from aiohttp import web

    bodies = variants(FIXTURE.read_text()) if values == "changing" else [FIXTURE.read_bytes()]
    served = 0

    async def metrics(request: web.Request) -> web.Response:
        nonlocal served
        served += 1
        return web.Response(body=bodies[served % len(bodies)], content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", metrics)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


class Arm:
    """One arm's process: a collection loop over ``count`` targets that runs a round per request."""

    def __init__(self, name: str, tree: Path, url: str, count: int, cycles: int, library: bool):
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ARM, str(tree), url, str(count), str(cycles), "library" if library else ""],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ms: list[float] = []
        self.rss = (0.0, 0.0)
        self._answer()

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: the arm's process exited with {self.proc.wait()}")
        return json.loads(line)

    def round(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        answer = self._answer()
        self.ms.append(answer["ms"])
        self.rss = (answer["rss_warm"], answer["rss"])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per arm (default 7)")
    parser.add_argument("--cycles", type=int, default=5, help="collection cycles per round (default 5)")
    parser.add_argument("--values", choices=("changing", "fixed"), default="changing", help="sample values per scrape (default changing)")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure beside this one")
    parser.add_argument("--no-library", action="store_true", help="leave out the prometheus_client arm")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return 0

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), args.values])
    arms_spec = [("this tree", ROOT, False)]
    if args.baseline:
        arms_spec.append(("baseline", args.baseline.resolve(), False))
    if not args.no_library:
        arms_spec.append(("prometheus_client", ROOT, True))
    worst = 0.0
    try:
        wait_http(f"{url}/x/metrics", 30)
        print(
            f"{FIXTURE.name}: {FIXTURE.stat().st_size} bytes per target, values {args.values}; "
            f"{args.rounds} rounds x {args.cycles} cycles per arm"
        )
        for count in args.targets:
            arms = [Arm(name, tree, url, count, args.cycles, library) for name, tree, library in arms_spec]
            try:
                for r in range(args.rounds):
                    for i in range(len(arms)):
                        arms[(r + i) % len(arms)].round()
            finally:
                for arm in arms:
                    arm.close()
            for arm in arms:
                ms = arm.ms
                print(
                    f"{count:3d} targets, {arm.name:17s}: CPU per target scrape min {min(ms):.2f} / median "
                    f"{statistics.median(ms):.2f} / max {max(ms):.2f} ms; RSS {arm.rss[0]:.1f} MiB after warm-up, "
                    f"{arm.rss[1]:.1f} MiB after {3 + args.rounds * args.cycles} cycles"
                )
            this = statistics.median(arms[0].ms)
            for arm in arms[1:]:
                print(f"{count:3d} targets, this tree / {arm.name}: {this / statistics.median(arm.ms):.2f}x")
            worst = max(worst, this)
    finally:
        server.terminate()
        server.wait(10)
    verdict = "meets the goal" if worst <= GOAL_MS else "meets the target" if worst <= TARGET_MS else "MISSES the target"
    print(f"target <= {TARGET_MS} ms (goal {GOAL_MS} ms) CPU per target scrape: {verdict} (worst median {worst:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
