"""Query time of every panel of the Fleet overview and Cost dashboards on the simulated 1,000-GPU fleet's Prometheus.

The fleet, its targets and its Prometheus (rules/*.rules.yml loaded, 15 s scrape and evaluation) are
benchmarks/rules_fleet.py's, built by its own functions. Once every target is up and the rules have evaluated
``--evaluations`` times, every target of grafana/dashboards/axonize-fleet.json and axonize-cost.json is sent as
Grafana sends it for a 6 h range: a range query over now-6h..now at Grafana's default resolution (6 h / ~1,000
points = 21.6 s, rounded by Grafana to 20 s, not below the datasource's 15 s timeInterval), or an instant query at
now for an instant target; template variables are All (``.*``), ``$__rate_interval`` is
max(step + scrape interval, 4 x scrape interval) = 60 s. Each query runs ``--repeat`` times; a panel's time is the
sum of its targets' medians (Grafana sends them in parallel, so this is an upper bound).

The Prometheus holds only the minutes since it started, not 6 h: the range queries evaluate all ~1,000 steps but
find samples in the last few minutes only, so these figures are a lower bound for a Prometheus with 6 h of data.

    .venv/bin/python benchmarks/grafana_panels.py [--evaluations 3] [--repeat 3] [--top 5]

Exits 1 when a query fails or a panel takes 1 s or more. Not part of ``make test`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rules_fleet as rf  # noqa: E402

DASHBOARDS = ("axonize-fleet", "axonize-cost")
RANGE_S = 6 * 3600
STEP_S = 20  # Grafana: 21.6 s rounded to 20 s (>= the 15 s timeInterval)
RATE_INTERVAL = "60s"  # max(20 s + 15 s, 4 x 15 s)


def substitute(expr: str) -> str:
    """Variables as Grafana sends them with All selected (``.*``) and ``$__rate_interval``."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", ".*", expr)


def timed(session: requests.Session, url: str, expr: str, instant: bool, now: float) -> tuple[float, int]:
    """Seconds one query took (wall, client side) and the number of series it returned."""
    if instant:
        params = {"query": expr, "time": now}
        path = "/api/v1/query"
    else:
        params = {"query": expr, "start": now - RANGE_S, "end": now, "step": STEP_S}
        path = "/api/v1/query_range"
    t0 = time.perf_counter()
    r = session.post(url + path, data=params, timeout=60)
    took = time.perf_counter() - t0
    body = r.json()
    if body.get("status") != "success":
        raise RuntimeError(f"{body.get('errorType')}: {body.get('error')}: {expr}")
    return took, len(body["data"]["result"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--evaluations", type=int, default=3, help="rule evaluations to wait for once every target is up")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    rules = sorted(str(p) for p in (rf.ROOT / "rules").glob("*.rules.yml"))
    hosts, servers = rf.fleet(args.seed)
    table = rf.pricing.load(None)
    renderings = [rf.exporter_rendering(h, table) for h in hosts]
    workdir = tempfile.mkdtemp(prefix="axonize-bench-panels-")
    targets = prom = None
    failures: list[str] = []
    try:
        rf.sidecar_renderings(servers, args.evaluations + 12, workdir, args.seed)
        targets = rf.StaticTargets(renderings, servers).start()
        prom = rf.PrometheusServer({}, scrape_interval=f"{rf.INTERVAL_S}s", rule_files=rules)
        rf.prometheus_config(prom, targets.port, hosts, servers)
        prom.start()
        expected = len(hosts) + len(servers)
        deadline = time.monotonic() + 600
        while rf.count(prom, "up == 1") < expected:
            if time.monotonic() > deadline:
                print(f"timed out waiting for {expected} targets", file=sys.stderr)
                return 1
            time.sleep(1)
        print(f"fleet: {len(hosts)} hosts, {sum(len(h.gpus) for h in hosts)} GPUs, {len(servers)} sidecars; all up")
        time.sleep(args.evaluations * rf.INTERVAL_S + 2)
        print(f"data in Prometheus: {time.monotonic() - started:.0f} s since start (the 6 h range is mostly empty)")

        session = requests.Session()
        now = time.time()
        rows = []
        for uid in DASHBOARDS:
            board = json.loads((rf.ROOT / "grafana" / "dashboards" / f"{uid}.json").read_text())
            for panel in board["panels"]:
                total, series, kinds = 0.0, 0, set()
                for target in panel.get("targets", []):
                    expr = substitute(target["expr"])
                    instant = bool(target.get("instant")) and not target.get("range")
                    kinds.add("instant" if instant else "range")
                    try:
                        runs = [timed(session, prom.url, expr, instant, now) for _ in range(args.repeat)]
                    except RuntimeError as e:
                        failures.append(f"{uid} / {panel['title']}: {e}")
                        continue
                    total += statistics.median(t for t, _ in runs)
                    series += runs[-1][1]
                if panel.get("targets"):
                    rows.append((total, uid, panel["title"], len(panel["targets"]), "+".join(sorted(kinds)), series))
        rows.sort(reverse=True)
        print(
            f"\n{len(rows)} panels, 6 h range, step {STEP_S} s, $__rate_interval {RATE_INTERVAL}, median of {args.repeat}; "
            f"slowest {args.top}:"
        )
        for total, uid, title, n, kinds, series in rows[: args.top]:
            print(f"  {total * 1e3:8.1f} ms  {uid} / {title} ({n} targets, {kinds}, {series} series)")
        print(f"  all panels: median {statistics.median(r[0] for r in rows) * 1e3:.1f} ms, sum {sum(r[0] for r in rows) * 1e3:.0f} ms")
        failures += [f"{uid} / {title}: {total * 1e3:.0f} ms >= 1 s" for total, uid, title, *_ in rows if total >= 1.0]
    finally:
        if prom is not None:
            prom.stop()
        if targets is not None:
            targets.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"run took {time.monotonic() - started:.0f} s")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
