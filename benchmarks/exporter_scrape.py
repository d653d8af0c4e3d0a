"""Scrape latency and memory of axonize-exporter on the 8-GPU replay (the demo capture).

Starts the exporter as its own process on loopback, waits for the first
collection, then scrapes /metrics N times from one keep-alive HTTP client
(as Prometheus does) and reports latency p50/p99/max measured by the client,
the exporter's RSS after the run, and the collection cycle time it reports.

    .venv/bin/python benchmarks/exporter_scrape.py [--scrapes 2000] [--interval 1s]

Targets (issue 2): p99 under 2 ms, RSS under 60 MB.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.demo import demo_captures  # noqa: E402
from axonize.processes import ManagedProcess, free_port, wait_http  # noqa: E402


def percentile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapes", type=int, default=2000)
    parser.add_argument("--interval", default="1s", help="exporter --collect.interval")
    args = parser.parse_args()
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="axonize-bench-", suffix=".log", delete=False).name
    exporter = ManagedProcess(
        "axonize-exporter",
        [
            sys.executable,
            "-m",
            "axonize.exporter",
            "--replay",
            *demo_captures(),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--collect.interval",
            args.interval,
        ],
        log,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, exporter)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        size = 0
        for _ in range(50):  # warm-up
            conn.request("GET", "/metrics")
            size = len(conn.getresponse().read())
        latencies = []
        for _ in range(args.scrapes):
            t0 = time.perf_counter()
            conn.request("GET", "/metrics")
            resp = conn.getresponse()
            body = resp.read()
            latencies.append(time.perf_counter() - t0)
            assert resp.status == 200 and body
        latencies.sort()
        proc = psutil.Process(exporter.proc.pid)
        rss = proc.memory_info().rss
        cpu = proc.cpu_times()
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        cycle = next(
            float(line.split()[-1]) for line in text.splitlines() if line.startswith("axonize_exporter_collection_duration_seconds ")
        )
        print(f"exposition: {size} bytes, {sum(1 for line in text.splitlines() if line and not line.startswith('#'))} samples, 8 GPUs")
        print(f"scrapes: {len(latencies)} on one keep-alive connection (loopback)")
        print(f"latency p50: {percentile(latencies, 0.50) * 1e3:.3f} ms")
        print(f"latency p99: {percentile(latencies, 0.99) * 1e3:.3f} ms")
        print(f"latency max: {latencies[-1] * 1e3:.3f} ms")
        print(f"mean:        {statistics.fmean(latencies) * 1e3:.3f} ms")
        print(f"exporter RSS after run: {rss / 1e6:.1f} MB ({rss / 2**20:.1f} MiB)")
        print(f"exporter CPU time: user {cpu.user:.2f} s, system {cpu.system:.2f} s")
        print(f"collection cycle (parse 1800-line -q + topo, render): {cycle * 1e3:.1f} ms every {args.interval}")
    finally:
        exporter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
