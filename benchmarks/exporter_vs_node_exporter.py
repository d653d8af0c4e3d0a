"""CPU per Prometheus scrape: axonize-exporter beside Debian's prometheus-node-exporter, in one run (issue 16).

A real Prometheus scrapes both every ``--scrape-interval`` (15s, the bundle's): axonize-exporter
replaying the 8x H100 demo capture at its default settings (``--collect.interval`` 15s), and
``prometheus-node-exporter`` with its default collectors, each as its own process on loopback.
After a warm-up, each of ``--windows`` windows of ``--window`` seconds reads both processes' CPU
time (user + system, /proc through psutil, in 10 ms clock ticks: hence windows of minutes) at its
start and end, and divides it by the scrapes Prometheus made of that target in the window
(``count_over_time(up[window])`` at its end); the totals over all windows give the headline ratio. The
exporter's figure holds everything it spent meanwhile: collections nobody scraped, the text and
gzip written on each snapshot's first scrape, serving, idle wake-ups. Prints each window, then the
min / median / max over windows of both figures and of their ratio.

    .venv/bin/python benchmarks/exporter_vs_node_exporter.py [--windows 3] [--window 300] [--scrape-interval 15s] \
        [--baseline-python /tmp/axonize-base-venv/bin/python]

``--baseline-python`` (repeatable): also run, in the same windows, the exporter of another install
(a venv with an older checkout installed editable, as for benchmarks/compare_commits.py) at its
own defaults.

Target: the exporter's CPU per scrape at most node_exporter's (goal: a third). Both processes run
at the same time on the same cores, so contention from other work touches both; on a shared
machine the figures are noisy, hence the spread. Skips (exit 0, one line saying why) when
``prometheus-node-exporter`` or ``prometheus`` is not on PATH (``apt-get install -y
prometheus-node-exporter prometheus``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.config import parse_duration  # noqa: E402
from axonize.demo import demo_captures  # noqa: E402
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http  # noqa: E402

NODE_EXPORTER = ("prometheus-node-exporter", "node_exporter")


def start(name: str, argv: list[str], ready_path: str, port: int, logs: str) -> ManagedProcess:
    proc = ManagedProcess(name, argv, os.path.join(logs, f"{name}.log"))
    wait_http(f"http://127.0.0.1:{port}{ready_path}", 60, proc)
    return proc


def cpu_seconds(proc: ManagedProcess) -> float:
    times = psutil.Process(proc.proc.pid).cpu_times()
    return times.user + times.system


def scrapes(prometheus: PrometheusServer, job: str, seconds: int, at: float) -> int:
    result = prometheus.query(f'count_over_time(up{{job="{job}"}}[{seconds}s])', at=at)
    return int(float(result[0]["value"][1])) if result else 0


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    return f"median {fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=3, help="measurement windows (default 3)")
    parser.add_argument("--window", type=int, default=300, help="seconds per window (default 300: 20 scrapes at 15s)")
    parser.add_argument("--scrape-interval", default="15s", help="Prometheus' scrape interval (default 15s)")
    parser.add_argument(
        "--baseline-python",
        action="append",
        default=[],
        help="python of a venv with a baseline checkout installed: its exporter runs beside (repeatable)",
    )
    args = parser.parse_args()
    node_exporter = next((path for path in map(shutil.which, NODE_EXPORTER) if path), None)
    if node_exporter is None:
        print("SKIP: prometheus-node-exporter is not on PATH (apt-get install -y prometheus-node-exporter)")
        return 0
    if shutil.which("prometheus") is None:
        print("SKIP: prometheus is not on PATH (apt-get install -y prometheus)")
        return 0
    interval = parse_duration(args.scrape_interval)
    logs = tempfile.mkdtemp(prefix="axonize-bench-vs-node-")
    exporters = {"axonize-exporter": sys.executable}
    for i, python in enumerate(args.baseline_python, 1):
        exporters[f"axonize-exporter-baseline-{i}"] = python
        print(f"axonize-exporter-baseline-{i}: {python}")
    jobs = (*exporters, "node-exporter")
    ports = {job: free_port() for job in jobs}
    procs: dict[str, ManagedProcess] = {}
    prometheus = None
    try:
        for job, python in exporters.items():  # -P: the install's own package, not the one in the current directory
            argv = [python, "-P", "-m", "axonize.exporter", "--replay", *demo_captures(), "--web.listen-address", f"127.0.0.1:{ports[job]}"]
            procs[job] = start(job, argv, "/-/ready", ports[job], logs)
        procs["node-exporter"] = start(
            "node-exporter",
            [node_exporter, f"--web.listen-address=127.0.0.1:{ports['node-exporter']}"],
            "/metrics",
            ports["node-exporter"],
            logs,
        )
        prometheus = PrometheusServer({job: [f"127.0.0.1:{ports[job]}"] for job in jobs}, scrape_interval=args.scrape_interval).start()
        for job in jobs:  # warm-up: two scrapes of each (the first collection and the first rendering are behind us)
            prometheus.wait_for(f'count_over_time(up{{job="{job}"}}[1h]) >= 2', timeout=4 * interval + 30)
        print(
            f"node_exporter: {node_exporter}; axonize-exporter: demo replay (8x H100), default settings; scraped every {args.scrape_interval}"
        )
        per_scrape: dict[str, list[float]] = {job: [] for job in jobs}
        total = {job: [0.0, 0] for job in jobs}  # CPU seconds, scrapes
        ratios: dict[str, list[float]] = {job: [] for job in exporters}
        for window in range(args.windows):
            start_cpu = {job: cpu_seconds(p) for job, p in procs.items()}
            time.sleep(args.window)
            end = time.time()
            row = []
            for job, proc in procs.items():
                n = scrapes(prometheus, job, args.window, end)
                if n == 0:
                    sys.exit(f"{job}: no scrape in a {args.window}s window; see {logs}")
                cpu = cpu_seconds(proc) - start_cpu[job]
                total[job][0] += cpu
                total[job][1] += n
                per_scrape[job].append(cpu / n * 1e3)
                row.append(f"{job} {cpu / n * 1e3:.2f} ms ({cpu * 1e3:.0f} ms / {n} scrapes)")
            for job in exporters:
                ratios[job].append(per_scrape[job][-1] / per_scrape["node-exporter"][-1])
            print(f"window {window + 1}/{args.windows}: CPU per scrape: " + ", ".join(row), flush=True)
        for job in jobs:
            cpu, n = total[job]
            print(
                f"{job}: CPU per scrape {cpu / n * 1e3:.2f} ms over {n} scrapes in {args.windows} windows of {args.window}s "
                f"(windows: {spread(per_scrape[job])} ms); RSS {psutil.Process(procs[job].proc.pid).memory_info().rss / 2**20:.1f} MiB"
            )
        node = total["node-exporter"][0] / total["node-exporter"][1]
        for job in exporters:
            ratio = total[job][0] / total[job][1] / node
            verdict = "goal met (a third or less)" if ratio <= 1 / 3 else ("target met (at most equal)" if ratio <= 1 else "target NOT met")
            print(f"{job} / node-exporter CPU per scrape: {ratio:.2f} over the run (windows: {spread(ratios[job])}): {verdict}")
        return 0
    finally:
        if prometheus is not None:
            prometheus.stop()
        for proc in procs.values():
            proc.stop()
        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
