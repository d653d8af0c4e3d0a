"""Sidecar CPU per target scrape at 16 and 64 vLLM-sized targets, with the text-format fast path and without.

The real collection cycle (:class:`axonize.sidecar.collection.CollectionLoop`: HTTP GETs on
keep-alive connections, decode, parse, normalize, render the whole exposition with self-metrics,
publish) against N targets that each answer the vLLM 0.33 fixture
(tests/fixtures/inference/vllm-0.33.0-v1.synthetic.prom, 59 kB, 598 lines), served by an aiohttp
server in another process so its CPU is not counted. The figure is the sidecar process's CPU time
(user + system of all its threads, ``time.process_time``) per cycle divided by N.

Two arms, interleaved round by round (alternating which goes first, so a neighbour's load falls
on both): "fast path" is the sidecar as shipped; "prometheus_client" refuses the fast path
(:func:`axonize.sidecar.text_format.families` answering None), so every kept line goes through
prometheus_client's parser as before issue 16. Each prints min / median / max over the rounds.

    .venv/bin/python benchmarks/sidecar_targets.py [--targets 16 64] [--rounds 7] [--cycles 5]

Target (issue 16): at most 2 ms of CPU per target scrape at 16 and 64 targets; goal 1.5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.http import Exposition  # noqa: E402
from axonize.processes import free_port, wait_http  # noqa: E402
from axonize.sidecar import text_format  # noqa: E402
from axonize.sidecar.collection import CollectionLoop  # noqa: E402
from axonize.sidecar.scrape import new_session  # noqa: E402
from axonize.sidecar.targets import Target  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "inference" / "vllm-0.33.0-v1.synthetic.prom"
TARGET_MS, GOAL_MS = 2.0, 1.5
FAST = text_format.families
ARMS = {"fast path": FAST, "prometheus_client": lambda lines: None}


def serve(port: int) -> None:
    """The engines' side: every path answers the vLLM 0.33 fixture (run in its own process)."""
    from aiohttp import web

    body = FIXTURE.read_bytes()

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    app = web.Application()
    app.router.add_get("/{tail:.*}", metrics)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def measure(url: str, count: int, rounds: int, cycles: int) -> dict[str, list[float]]:
    """``{arm: [CPU ms per target scrape, one per round]}`` for ``count`` targets."""
    loop = CollectionLoop(
        [Target(url=f"{url}/engine-{i}/metrics", server=f"vllm-{i}") for i in range(count)],
        interval=5.0,
        timeout=30.0,
        exposition=Exposition(),
    )
    figures: dict[str, list[float]] = {arm: [] for arm in ARMS}
    async with new_session() as session:
        for _ in range(3):  # warm-up: connections, compiled patterns, caches
            await loop.cycle(session)
        for r in range(rounds):
            for arm in list(ARMS)[:: 1 if r % 2 == 0 else -1]:
                text_format.families = ARMS[arm]
                try:
                    start = time.process_time()
                    for _ in range(cycles):
                        snapshot = await loop.cycle(session)
                        assert all(x.up for x in snapshot.results), [str(x.error) for x in snapshot.results if not x.up]
                    figures[arm].append((time.process_time() - start) / cycles / count * 1e3)
                finally:
                    text_format.families = FAST
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per arm (default 7)")
    parser.add_argument("--cycles", type=int, default=5, help="collection cycles per round (default 5)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    worst = 0.0
    try:
        wait_http(f"http://127.0.0.1:{port}/x/metrics", 30)
        print(f"{FIXTURE.name}: {FIXTURE.stat().st_size} bytes per target; {args.rounds} rounds x {args.cycles} cycles per arm")
        for count in args.targets:
            figures = asyncio.run(measure(f"http://127.0.0.1:{port}", count, args.rounds, args.cycles))
            for arm, ms in figures.items():
                print(
                    f"{count:3d} targets, {arm:17s}: CPU per target scrape min {min(ms):.2f} / "
                    f"median {statistics.median(ms):.2f} / max {max(ms):.2f} ms"
                )
            ratio = statistics.median(figures["fast path"]) / statistics.median(figures["prometheus_client"])
            print(f"{count:3d} targets, fast path / prometheus_client: {ratio:.2f}x")
            worst = max(worst, statistics.median(figures["fast path"]))
    finally:
        server.terminate()
        server.wait(10)
    verdict = "meets the goal" if worst <= GOAL_MS else "meets the target" if worst <= TARGET_MS else "MISSES the target"
    print(f"target <= {TARGET_MS} ms (goal {GOAL_MS} ms) CPU per target scrape: {verdict} (worst median {worst:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
