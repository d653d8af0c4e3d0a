"""What the gateway adds: latency per request and per chunk (p50/p99) and CPU per request, beside the same load sent direct.

A fast fake OpenAI-compatible upstream (tests/gateway/servers.py's ``FakeUpstream``: a stream of
``--tokens`` chat chunks, ``--chunk-delay`` apart) runs in its own process; ``axonize-gateway`` runs
in another (``--log.level warning``, no usage log) in front of it. The load generator (this process,
aiohttp, ``--concurrency`` streams at a time, ``--requests`` in all) sends the same workload direct
and through the gateway, alternating arms for ``--rounds`` rounds so a neighbour's load falls on both.

Per request: time to the first content chunk (TTFT) and to the end (e2e), as the client sees them;
per chunk: the gap between consecutive content chunks. Each is reported as p50 / p99 per arm and the
difference (through - direct). CPU per request is the gateway process's user + system CPU time
(psutil) over its requests, per round (median and min-max over the rounds); per chunk is that over
the events of a request (``--tokens`` + 2: the role chunk and the finish chunk; the per-request part is
included). The machine has 2 shared cores: load generator, upstream and gateway share them, so the
differences include contention and are an upper bound on the gateway's cost.

``--baseline DIR`` adds a third arm: the gateway of another checkout (``git worktree add /tmp/axonize-base
COMMIT``; its ``gateway/`` folder is loaded as ``axonize.gateway``, the rest from this tree), in the same
rounds, so a change's effect is measured under the same contention. ``--uvloop-arm`` adds this tree's gateway
on uvloop (``--web.event-loop uvloop``, the ``uvloop`` extra; the default is asyncio's loop).

    .venv/bin/python benchmarks/gateway_latency.py [--requests 400] [--concurrency 16] [--tokens 32] [--chunk-delay 0.001] [--rounds 3] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.processes import ManagedProcess, free_port, wait_http  # noqa: E402

UPSTREAM = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.gateway.servers import FakeUpstream
from aiohttp import web

async def main():
    fake = FakeUpstream(chunk_delay={delay})
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", {port}).start()
    await asyncio.Event().wait()

asyncio.run(main())
"""

#: ``python -c GATEWAY DIR ARGS...``: axonize-gateway with its package loaded from DIR/gateway ("" = this tree's).
GATEWAY = """
import importlib.util, sys
folder, argv = sys.argv[1], sys.argv[2:]
if folder:
    spec = importlib.util.spec_from_file_location("axonize.gateway", folder + "/gateway/__init__.py", submodule_search_locations=[folder + "/gateway"])
    sys.modules["axonize.gateway"] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
from axonize.gateway.cli import main
sys.exit(main(argv))
"""


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def load(url: str, n: int, concurrency: int, tokens: int) -> dict[str, list[float]]:
    """Send ``n`` streamed chat requests, ``concurrency`` at a time; per-request TTFT and e2e, per-chunk gaps (seconds)."""
    out = {"ttft": [], "e2e": [], "gap": []}
    gate = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        payload = {"model": "fast", "max_tokens": tokens, "stream": True, "messages": [{"role": "user", "content": f"r{i}"}]}
        async with gate:
            started = time.perf_counter()
            times = []
            async with session.post(f"{url}/v1/chat/completions", json=payload) as r:
                async for line in r.content:
                    if b'"content": "r' in line:
                        times.append(time.perf_counter())
            assert len(times) == tokens, (i, len(times))
            out["ttft"].append(times[0] - started)
            out["e2e"].append(time.perf_counter() - started)
            out["gap"] += [b - a for a, b in zip(times, times[1:])]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(one(session, i) for i in range(n)))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--chunk-delay", type=float, default=0.001)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--baseline", help="another checkout whose gateway/ runs as a third arm (e.g. a git worktree of the previous commit)"
    )
    parser.add_argument(
        "--uvloop-arm", action="store_true", help="also run this tree's gateway on uvloop (--web.event-loop uvloop) as an arm"
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    if args.baseline and not (Path(args.baseline) / "gateway" / "proxy.py").is_file():
        parser.error(f"--baseline {args.baseline}: no gateway/proxy.py there")

    up_port = free_port()
    code = UPSTREAM.format(root=str(ROOT), delay=args.chunk_delay, port=up_port)
    upstream = subprocess.Popen([sys.executable, "-c", code])
    direct = f"http://127.0.0.1:{up_port}"
    sources = {"gateway": ("", [])} | ({"baseline": (str(Path(args.baseline).resolve()), [])} if args.baseline else {})
    if args.uvloop_arm:
        sources["uvloop"] = ("", ["--web.event-loop", "uvloop"])
    gateways, urls = {}, {"direct": direct}
    try:
        for arm, (folder, extra) in sources.items():
            port = free_port()
            urls[arm] = f"http://127.0.0.1:{port}"
            log = Path(tempfile.gettempdir()) / f"axonize-gateway-bench-{port}.log"
            command = [sys.executable, "-c", GATEWAY, folder, "--upstream", f"fast={direct}", "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warning", *extra]  # fmt: skip
            gateways[arm] = ManagedProcess(f"axonize-gateway ({arm})", command, str(log))
            wait_http(f"{urls[arm]}/-/ready", 30, gateways[arm])
        for _ in range(50):
            try:
                asyncio.run(load(direct, 1, 1, 2))
                break
            except aiohttp.ClientError:
                time.sleep(0.1)
        procs = {arm: psutil.Process(g.proc.pid) for arm, g in gateways.items()}
        for arm in gateways:
            asyncio.run(load(urls[arm], 50, args.concurrency, args.tokens))  # warm-up
        arms = {arm: {"ttft": [], "e2e": [], "gap": []} for arm in urls}
        cpu = {arm: [] for arm in gateways}
        order = list(urls)
        for r in range(args.rounds):
            for arm in order[r % len(order) :] + order[: r % len(order)]:  # each arm goes first in turn
                before = procs[arm].cpu_times() if arm in procs else None
                got = asyncio.run(load(urls[arm], args.requests, args.concurrency, args.tokens))
                if before is not None:
                    after = procs[arm].cpu_times()
                    cpu[arm].append(((after.user + after.system) - (before.user + before.system)) / args.requests)
                for k, v in got.items():
                    arms[arm][k] += v
    finally:
        for g in gateways.values():
            g.stop()
        upstream.terminate()
        upstream.wait(10)
    events = args.tokens + 2
    figures = {"settings": vars(args)}
    for arm, values in cpu.items():
        ms = [1000 * v for v in values]
        figures[f"{arm}_cpu_ms_per_request"] = {"median": statistics.median(ms), "min": min(ms), "max": max(ms), "rounds": ms}
        figures[f"{arm}_cpu_us_per_chunk"] = 1000 * statistics.median(ms) / events
    print(
        f"{args.requests} streamed requests x {args.rounds} rounds per arm, {args.concurrency} at a time, {args.tokens} chunks each, {args.chunk_delay * 1000:g} ms apart"
    )
    compared = [a for a in urls if a != "direct"]
    header = "".join(f"{'direct p50':>12}" + "".join(f"{a + ' p50':>13}{'added':>9}" for a in compared) for _ in (0,))
    print(f"{'':20}{header}{'direct p99':>12}" + "".join(f"{a + ' p99':>13}{'added':>9}" for a in compared))
    for key, label in (("ttft", "TTFT (ms)"), ("e2e", "e2e (ms)"), ("gap", "inter-chunk (ms)")):
        row, line = {}, f"{label:20}"
        for q in (0.5, 0.99):
            d = quantile(arms["direct"][key], q) * 1000
            row[f"p{int(q * 100)}"] = {"direct": d} | {a: quantile(arms[a][key], q) * 1000 for a in compared}
            line += f"{d:12.3f}" + "".join(f"{row[f'p{int(q * 100)}'][a]:13.3f}{row[f'p{int(q * 100)}'][a] - d:9.3f}" for a in compared)
        figures[key] = row
        print(line)
    for arm in compared:
        c = figures[f"{arm}_cpu_ms_per_request"]
        print(
            f"{arm} CPU per request: {c['median']:.2f} ms [{c['min']:.2f}-{c['max']:.2f}] over {args.rounds} rounds, "
            f"{figures[f'{arm}_cpu_us_per_chunk']:.1f} µs per chunk ({events} events; user + system)"
        )
    print("mean gaps: " + ", ".join(f"{a} {statistics.mean(arms[a]['gap']) * 1000:.3f} ms" for a in urls))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
