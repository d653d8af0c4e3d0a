"""``axonize demo``: the exporter on a real 8x H100 capture, scraped by a real Prometheus.

Starts ``axonize-exporter`` replaying the embedded captures (8x H100 SXM
``nvidia-smi -q`` with an 8-GPU HGX ``topo -m``, see demo_data/SOURCES.md),
starts Prometheus on loopback scraping it every second, waits for the data and
prints a per-GPU table in which every cell comes from a PromQL query against
that Prometheus. ``--once`` prints and exits; otherwise it keeps running until
Ctrl-C or SIGTERM. Every process it starts is stopped on every exit path.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from importlib import resources
from typing import Optional, Sequence

from .processes import APT_HINT, ManagedProcess, PrometheusServer, free_port, wait_http

GIB = 2.0**30

#: The column queries of the table; each returns one series per GPU (label ``gpu``).
QUERIES = {
    "model": "axonize_gpu_info",
    "used": "axonize_gpu_memory_used_bytes",
    "total": "axonize_gpu_memory_total_bytes",
    "util": "axonize_gpu_utilization_ratio",
    "power": "axonize_gpu_power_watts",
    "temp": "axonize_gpu_temperature_celsius",
    "numa": "axonize_gpu_numa_node",
    "nvlink_peers": "count by (gpu) (axonize_gpu_peer_nvlinks > 0)",
    "nvlinks": "max by (gpu) (axonize_gpu_peer_nvlinks)",
}


def demo_captures() -> list[str]:
    base = resources.files("axonize") / "demo_data"
    return [str(base / "h100-sxm-x8_drv565_nvidia-smi-q.txt"), str(base / "h200-x8-hgx_topo-m_nics.txt")]


class _Stop(Exception):
    pass


def _on_sigterm(signum, frame):  # turn SIGTERM into an exception so `finally` blocks run
    raise _Stop()


def gpu_table(prom: PrometheusServer) -> list[dict]:
    """One dict per GPU with the table's columns, each read from PromQL."""
    rows: dict[str, dict] = {}
    for column, promql in QUERIES.items():
        for series in prom.query(promql):
            gpu = series["metric"].get("gpu")
            if gpu is None:
                continue
            row = rows.setdefault(gpu, {"gpu": gpu})
            row[column] = series["metric"].get("model", "") if column == "model" else float(series["value"][1])
    return [rows[k] for k in sorted(rows, key=int)]


def _bytes(value: Optional[float]) -> str:
    if value is None:
        return "-"
    return f"{value / GIB:.1f} GiB" if value >= GIB else f"{value / 2**20:.0f} MiB"


def format_table(rows: list[dict]) -> str:
    def cell(row, key, fmt, scale=1.0):
        return fmt.format(row[key] * scale) if key in row else "-"

    header = ("GPU", "Model", "Memory used / total", "Util", "Power", "Temp", "NUMA", "NVLink peers")
    lines = []
    for r in rows:
        mem = f"{_bytes(r.get('used'))} / {_bytes(r.get('total'))}"
        peers = f"{int(r['nvlink_peers'])} x NV{int(r['nvlinks'])}" if "nvlink_peers" in r and "nvlinks" in r else "-"
        lines.append(
            (
                r["gpu"],
                r.get("model", "-"),
                mem,
                cell(r, "util", "{:.0f} %", 100),
                cell(r, "power", "{:.0f} W"),
                cell(r, "temp", "{:.0f} C"),
                cell(r, "numa", "{:.0f}"),
                peers,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*map(str, line)) for line in lines]
    return "\n".join(out)


def run(once: bool, prometheus_binary: Optional[str] = None, out=sys.stdout) -> int:
    workdir = tempfile.mkdtemp(prefix="axonize-demo-")
    started: list = []
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        port = free_port()
        exporter = ManagedProcess(
            "axonize-exporter",
            [sys.executable, "-m", "axonize.exporter", "--replay", *demo_captures(),
             "--web.listen-address", f"127.0.0.1:{port}", "--collect.interval", "1s"],
            os.path.join(workdir, "exporter.log"),
        )
        started.append(exporter)
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, exporter)
        try:
            prom = PrometheusServer({"axonize-exporter": [f"127.0.0.1:{port}"]}, "1s", binary=prometheus_binary)
        except FileNotFoundError as exc:
            print(f"axonize demo: {exc}", file=sys.stderr)
            return 1
        started.append(prom)
        prom.start()
        prom.wait_for("axonize_gpu_info", timeout=30, min_results=8)
        prom.wait_for("axonize_gpu_peer_nvlinks", timeout=30, min_results=56)
        print(f"8x H100 SXM replay (nvidia-smi -q, driver 565) with HGX topology, from Prometheus at {prom.url}\n", file=out)
        print(format_table(gpu_table(prom)), file=out)
        if once:
            return 0
        print(
            f"\nexporter:   http://127.0.0.1:{port}/metrics\nprometheus: {prom.url}/graph\n"
            "try: sum by (gpu) (axonize_gpu_memory_used_bytes) / sum by (gpu) (axonize_gpu_memory_total_bytes)\n"
            "Ctrl-C to stop.",
            file=out,
            flush=True,
        )
        while all(p.alive() for p in (exporter, prom.process)):
            time.sleep(0.5)
        print("axonize demo: a child process exited; stopping", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        return 0
    except RuntimeError as exc:
        print(f"axonize demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for thing in reversed(started):
            thing.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="axonize demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="print the table and exit")
    parser.add_argument("--prometheus", metavar="PATH", help=f"prometheus binary (default: from PATH; {APT_HINT})")
    args = parser.parse_args(argv)
    return run(args.once, args.prometheus)
