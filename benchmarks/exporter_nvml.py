"""Collection CPU, concurrent scrape latency and RSS stability of the NVML backend (issue 3).

``--nvml fake`` (the default, for hosts without a GPU): NVML is the fake from
tests/fake_nvml fed from the real 8x H100 capture, extended to the issue's
host: 8 GPUs, one of them split into 7 MIG instances, 100 GPU processes, GPM
activity on every GPU and instance. The fake is pure Python, so its cost is
counted in the figures: they are an upper bound for the real library.
``--nvml real``: the host's own libnvidia-ml through nvidia-ml-py, on
whatever GPUs it has (devtools/gpu_capture.sh runs it on a lent GPU machine).

    .venv/bin/python benchmarks/exporter_nvml.py [--nvml fake|real] [--cycles 10000] [--scrapers 50] [--scrapes 40]

1. CPU per collection cycle (NVML reads, axonize families prepared, self-metrics), in process,
   alone and with a gzip scrape of each snapshot (the text and its gzip are written on the first scrape).
2. RSS over --cycles cycles, each scraped, sampled every tenth of the run: it must stay flat.
3. /metrics latency with --scrapers concurrent clients against the exporter as its
   own process (the real CLI, no --replay, the fake found as ``pynvml``).

Targets: under 2% of one core at a 1 s interval, RSS under 80 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.exporter.collection import CollectionLoop  # noqa: E402
from axonize.exporter.nvml import NvmlSource  # noqa: E402
from axonize.http import Exposition  # noqa: E402
from axonize.processes import ManagedProcess, free_port, wait_http  # noqa: E402
from tests.fake_nvml import benchmark_fleet, scenario_env  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def cpu_and_rss(cycles: int, real: bool) -> None:
    source = NvmlSource(nvml=None if real else benchmark_fleet(), hostname="bench", xid_events=True)
    exposition = Exposition()
    loop = CollectionLoop(source, 1.0, exposition)
    me = psutil.Process()
    try:
        loop.collect_once()
        cpu, scraped = [], []
        for _ in range(200):
            t0 = time.process_time()
            loop.collect_once()
            cpu.append(time.process_time() - t0)
            t0 = time.process_time()
            loop.collect_once()
            len(exposition.latest.gzipped)  # a scrape: the text and its gzip are written on the first one
            scraped.append(time.process_time() - t0)
        body = exposition.latest.body
        lines = body.count(b"\n")
        print(f"exposition: {len(body)} bytes, {lines} lines, {len(exposition.latest.gzipped)} bytes gzipped")
        print(
            f"CPU per cycle over 200 cycles: median {statistics.median(cpu) * 1e3:.2f} ms, p99 {percentile(cpu, 0.99) * 1e3:.2f} ms "
            f"-> {statistics.median(cpu) * 100:.2f}% of one core at a 1 s interval (snapshots nobody scrapes)"
        )
        print(
            f"CPU per cycle with a gzip scrape of each over 200 cycles: median {statistics.median(scraped) * 1e3:.2f} ms, "
            f"p99 {percentile(scraped, 0.99) * 1e3:.2f} ms -> {statistics.median(scraped) * 100:.2f}% of one core at a 1 s interval"
        )
        rss = []
        step = max(1, cycles // 10)
        t0 = time.monotonic()
        for i in range(1, cycles + 1):
            loop.collect_once()
            len(exposition.latest.gzipped)
            if i % step == 0:
                gc.collect()
                rss.append(me.memory_info().rss / 2**20)
        took = time.monotonic() - t0
        print(f"RSS over {cycles} cycles ({took:.0f} s), MiB at each tenth: " + " ".join(f"{r:.1f}" for r in rss))
        print(f"RSS growth from the first to the last tenth: {rss[-1] - rss[0]:+.2f} MiB")
    finally:
        loop.stop()


async def _scrapers(url: str, scrapers: int, scrapes: int) -> list[float]:
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=scrapers)) as session:

        async def one() -> None:
            for _ in range(scrapes):
                t0 = time.perf_counter()
                async with session.get(url, headers={"Accept-Encoding": "gzip"}) as resp:
                    await resp.read()
                    assert resp.status == 200
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one() for _ in range(scrapers)))
    return latencies


def concurrent_scrapes(scrapers: int, scrapes: int, real: bool) -> None:
    if real:
        env = dict(os.environ)
    else:
        env = scenario_env([])
        env["AXONIZE_FAKE_NVML"] = json.dumps({"fleet": "benchmark"})
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="axonize-bench-nvml-", suffix=".log", delete=False).name
    exporter = ManagedProcess(
        "axonize-exporter",
        [sys.executable, "-m", "axonize.exporter", "--web.listen-address", f"127.0.0.1:{port}", "--collect.interval", "1s"],
        log,
        env=env,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, exporter)
        url = f"http://127.0.0.1:{port}/metrics"
        asyncio.run(_scrapers(url, scrapers, 5))  # warm-up
        latencies = asyncio.run(_scrapers(url, scrapers, scrapes))
        rss = psutil.Process(exporter.proc.pid).memory_info().rss / 2**20
        print(
            f"{scrapers} concurrent scrapers x {scrapes} scrapes (gzip): p50 {percentile(latencies, 0.5) * 1e3:.2f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1e3:.2f} ms, max {max(latencies) * 1e3:.2f} ms; exporter RSS {rss:.1f} MiB"
        )
    finally:
        exporter.stop()
        os.unlink(log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nvml", choices=("fake", "real"), default="fake", help="fake: tests/fake_nvml's fleet; real: this host's GPUs")
    parser.add_argument("--cycles", type=int, default=10000)
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=40)
    args = parser.parse_args()
    real = args.nvml == "real"
    cpu_and_rss(args.cycles, real)
    concurrent_scrapes(args.scrapers, args.scrapes, real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
