"""Query time of every panel of the Fleet overview and Cost dashboards on the simulated 1,000-GPU fleet's Prometheus.

The fleet, its targets and its Prometheus (rules/*.rules.yml loaded, 15 s scrape and evaluation) are
benchmarks/rules_fleet.py's, built by its own functions. Once every target is up and the rules have evaluated
``--evaluations`` times, every target of grafana/dashboards/axonize-fleet.json and axonize-cost.json is sent as
Grafana sends it for a 6 h range: a range query over now-6h..now at Grafana's default resolution (6 h / ~1,000
points = 21.6 s, rounded by Grafana to 20 s, not below the datasource's 15 s timeInterval), or an instant query at
now for an instant target; template variables are All (``.*``), ``$__rate_interval`` is
max(step + scrape interval, 4 x scrape interval) = 60 s. Each query runs ``--repeat`` times; a panel's time is the
sum of its targets' medians (Grafana sends them in parallel, so this is an upper bound).

With ``--backfill`` (the default) the panels are timed on 6 h of data: once the live fleet has evaluated, every
series the two dashboards read (their metric and recorded-rule names; all gauges) is taken from the live
Prometheus with its labels and value, and written as 6 h of samples every 15 s (the scrape and evaluation
interval) ending now: info, grade, rank, up and fault series constant, every other value moving by a seeded
random walk of a few percent around its live value (so chunks compress as real data does, not as constants).
``promtool tsdb create-blocks-from openmetrics`` turns that into 2 h blocks, and a second Prometheus serving only
those blocks answers the queries. Its index holds only these series (a production Prometheus also holds every
other series, which costs a little more in postings lookups), and all data is in blocks, none in the head.
``--no-backfill`` times the live Prometheus, which holds only the minutes since it started: a lower bound.

    .venv/bin/python benchmarks/grafana_panels.py [--evaluations 3] [--repeat 3] [--top 5] [--no-backfill]

Exits 1 when a query fails or a panel takes 1 s or more. Not part of ``make test`` or ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import rules_fleet as rf  # noqa: E402

from axonize.processes import find_binary  # noqa: E402

DASHBOARDS = ("axonize-fleet", "axonize-cost")
RANGE_S = 6 * 3600
STEP_S = 20  # Grafana: 21.6 s rounded to 20 s (>= the 15 s timeInterval)
RATE_INTERVAL = "60s"  # max(20 s + 15 s, 4 x 15 s)


def substitute(expr: str) -> str:
    """Variables as Grafana sends them with All selected (``.*``) and ``$__rate_interval``."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", ".*", expr)


def dashboard_names(boards: list[dict]) -> list[str]:
    """Every metric and recorded-rule name the targets of ``boards`` read (Axonize names contain ``axonize``)."""
    return sorted(
        {n for b in boards for p in b["panels"] for t in p.get("targets", []) for n in re.findall(r"[a-z_:]*axonize[a-z0-9_:]*", t["expr"])}
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _constant(name: str) -> bool:
    return name.endswith(("info", ":rank", "_up")) or "fault" in name


def write_openmetrics(series: list[dict], end: float, path: str, seed: int) -> int:
    """``series`` (an instant query's result) as RANGE_S of samples every INTERVAL_S ending at ``end``, grouped by
    metric family as OpenMetrics requires; the number of samples written."""
    rng = random.Random(seed)
    steps = [end - RANGE_S + k * rf.INTERVAL_S for k in range(RANGE_S // rf.INTERVAL_S + 1)]
    families: dict[str, list[dict]] = {}
    for s in series:
        families.setdefault(s["metric"]["__name__"], []).append(s)
    samples = 0
    with open(path, "w") as fh:
        for name, members in sorted(families.items()):
            if name.endswith("_total"):
                raise SystemExit(f"{name}: a counter; the backfill writes gauges only")
            fh.write(f"# TYPE {name} gauge\n")
            for s in members:
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s["metric"].items()) if k != "__name__")
                head, value = f"{name}{{{labels}}} ", float(s["value"][1])
                walk = 1.0
                for t in steps:
                    if not _constant(name):
                        walk = min(1.2, max(0.8, walk + rng.gauss(0, 0.01)))
                    fh.write(f"{head}{value * walk:.6g} {t:.0f}\n")
                samples += len(steps)
        fh.write("# EOF\n")
    return samples


class BlocksPrometheus(rf.PrometheusServer):
    """A Prometheus with no targets and no rules serving the TSDB blocks in ``data``."""

    def __init__(self, data: str):
        super().__init__({})
        self.data = data

    def argv(self) -> list[str]:
        return [a if not a.startswith("--storage.tsdb.path=") else f"--storage.tsdb.path={self.data}" for a in super().argv()]


def backfill(live: rf.PrometheusServer, names: list[str], workdir: str, seed: int) -> tuple[BlocksPrometheus, float]:
    """6 h of the live series of ``names`` in TSDB blocks and a Prometheus serving them; (that Prometheus, the end time)."""
    series = live.query(f'{{__name__=~"{"|".join(names)}"}}')
    missing = sorted(set(names) - {s["metric"]["__name__"] for s in series})
    if missing:  # e.g. axonize_gpu_fault_info: no GPU of the simulated fleet is faulted
        print(f"backfill: no series in the live fleet (so none backfilled) for {', '.join(missing)}")
    end = float(int(time.time()) // rf.INTERVAL_S * rf.INTERVAL_S)
    text, data = os.path.join(workdir, "backfill.om.txt"), os.path.join(workdir, "tsdb")
    t0 = time.monotonic()
    samples = write_openmetrics(series, end, text, seed)
    size = os.path.getsize(text)
    print(
        f"backfill: {len(series)} series of {len(names)} names, {samples / 1e6:.1f} M samples ({size / 2**20:.0f} MiB text) in {time.monotonic() - t0:.0f} s"
    )
    t0 = time.monotonic()
    subprocess.run(
        [find_binary("promtool") or "promtool", "tsdb", "create-blocks-from", "openmetrics", text, data],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.remove(text)
    print(f"backfill: promtool create-blocks-from openmetrics took {time.monotonic() - t0:.0f} s")
    return BlocksPrometheus(data).start(timeout=120), end


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
    parser.add_argument("--backfill", action=argparse.BooleanOptionalAction, default=True, help="time the panels on 6 h of backfilled data")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    rules = sorted(str(p) for p in (rf.ROOT / "rules").glob("*.rules.yml"))
    hosts, servers = rf.fleet(args.seed)
    table = rf.pricing.load(None)
    renderings = [rf.exporter_rendering(h, table) for h in hosts]
    workdir = tempfile.mkdtemp(prefix="axonize-bench-panels-")
    targets = prom = blocks = None
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
        boards = {uid: json.loads((rf.ROOT / "grafana" / "dashboards" / f"{uid}.json").read_text()) for uid in DASHBOARDS}
        if args.backfill:
            blocks, now = backfill(prom, dashboard_names(list(boards.values())), workdir, args.seed)
            prom.stop()
            targets.stop()
            prom = targets = None
            url = blocks.url
        else:
            print(f"data in Prometheus: {time.monotonic() - started:.0f} s since start (the 6 h range is mostly empty)")
            url, now = prom.url, time.time()

        session = requests.Session()
        rows = []
        for uid, board in boards.items():
            for panel in board["panels"]:
                total, series, kinds = 0.0, 0, set()
                for target in panel.get("targets", []):
                    expr = substitute(target["expr"])
                    instant = bool(target.get("instant")) and not target.get("range")
                    kinds.add("instant" if instant else "range")
                    try:
                        runs = [timed(session, url, expr, instant, now) for _ in range(args.repeat)]
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
        if blocks is not None:
            blocks.stop()
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
