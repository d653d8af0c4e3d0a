"""What the gateway adds: latency per request and per chunk (p50/p99) and CPU per request, beside the same load sent direct.

A fast fake OpenAI-compatible upstream (tests/gateway/servers.py's ``FakeUpstream``: a stream of
``--tokens`` chat chunks, ``--chunk-delay`` apart) runs in its own process; ``axonize-gateway`` runs
in another (``--log.level warning``, no usage log) in front of it. The load generator (this process,
aiohttp, ``--concurrency`` streams at a time, ``--requests`` in all) sends the same workload direct
and through the gateway, alternating arms for ``--rounds`` rounds so a neighbour's load falls on both.

Per request: time to the first content chunk (TTFT) and to the end (e2e), as the client sees them;
per chunk: the gap between consecutive content chunks. Each is reported as p50 / p99 per arm and the
difference (through - direct). CPU per request is the gateway process's user + system CPU time
(psutil) over its requests. The machine has 2 shared cores: load generator, upstream and gateway
share them, so the differences include contention and are an upper bound on the gateway's cost.

    .venv/bin/python benchmarks/gateway_latency.py [--requests 400] [--concurrency 16] [--tokens 32] [--chunk-delay 0.001] [--rounds 3]
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
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)

    up_port, gw_port = free_port(), free_port()
    code = UPSTREAM.format(root=str(ROOT), delay=args.chunk_delay, port=up_port)
    upstream = subprocess.Popen([sys.executable, "-c", code])
    direct, through = f"http://127.0.0.1:{up_port}", f"http://127.0.0.1:{gw_port}"
    log = Path(tempfile.gettempdir()) / f"axonize-gateway-bench-{gw_port}.log"
    gateway = ManagedProcess(
        "axonize-gateway",
        [sys.executable, "-m", "axonize.gateway", "--upstream", f"fast={direct}", "--web.listen-address", f"127.0.0.1:{gw_port}", "--log.level", "warning"],
        str(log),
    )  # fmt: skip
    try:
        wait_http(f"{through}/-/ready", 30, gateway)
        for _ in range(50):
            try:
                asyncio.run(load(direct, 1, 1, 2))
                break
            except aiohttp.ClientError:
                time.sleep(0.1)
        proc = psutil.Process(gateway.proc.pid)
        asyncio.run(load(through, 50, args.concurrency, args.tokens))  # warm-up
        arms = {"direct": {"ttft": [], "e2e": [], "gap": []}, "gateway": {"ttft": [], "e2e": [], "gap": []}}
        cpu, served = 0.0, 0
        for _ in range(args.rounds):
            for arm, url in (("direct", direct), ("gateway", through)):
                before = proc.cpu_times()
                got = asyncio.run(load(url, args.requests, args.concurrency, args.tokens))
                if arm == "gateway":
                    after = proc.cpu_times()
                    cpu += (after.user + after.system) - (before.user + before.system)
                    served += args.requests
                for k, v in got.items():
                    arms[arm][k] += v
    finally:
        gateway.stop()
        upstream.terminate()
        upstream.wait(10)
    figures = {"settings": vars(args), "gateway_cpu_ms_per_request": 1000 * cpu / served}
    print(
        f"{args.requests} streamed requests x {args.rounds} rounds per arm, {args.concurrency} at a time, {args.tokens} chunks each, {args.chunk_delay * 1000:g} ms apart"
    )
    print(f"{'':24}{'direct p50':>12}{'gateway p50':>13}{'added p50':>11}{'direct p99':>12}{'gateway p99':>13}{'added p99':>11}")
    for key, label in (("ttft", "TTFT (ms)"), ("e2e", "e2e (ms)"), ("gap", "inter-chunk (ms)")):
        row = {}
        for q in (0.5, 0.99):
            d, g = quantile(arms["direct"][key], q) * 1000, quantile(arms["gateway"][key], q) * 1000
            row[f"p{int(q * 100)}"] = {"direct": d, "gateway": g, "added": g - d}
        figures[key] = row
        p50, p99 = row["p50"], row["p99"]
        print(
            f"{label:24}{p50['direct']:12.3f}{p50['gateway']:13.3f}{p50['added']:11.3f}{p99['direct']:12.3f}{p99['gateway']:13.3f}{p99['added']:11.3f}"
        )
    print(f"gateway CPU per request: {figures['gateway_cpu_ms_per_request']:.2f} ms ({args.tokens} chunks; user + system)")
    print(
        f"mean gaps: direct {statistics.mean(arms['direct']['gap']) * 1000:.3f} ms, gateway {statistics.mean(arms['gateway']['gap']) * 1000:.3f} ms"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
