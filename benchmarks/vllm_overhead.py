"""What monitoring costs a real vLLM: a fixed workload with and without Axonize, interleaved, with attribution.

One vLLM server (``devtools.vllm_cpu``: the CPU build serving the tiny random Llama) stays up for the whole
run. Each round runs the same workload (``--requests`` streamed completions of 64 prompt token ids and exactly
``--max-tokens`` output tokens, ``--concurrency`` at a time, sent by ``axonize bench``'s library, which also gives
each arm's TTFT and TPOT) once per arm, the arms in a balanced order (a Williams Latin square: every arm
takes every position, and follows every other arm, equally often), and before each arm starts only what
that arm monitors with:

``off``
    nothing.
``default``
    ``axonize-exporter`` replaying the demo's 8x H100 capture at its default ``--collect.interval``,
    ``axonize-sidecar`` scraping the vLLM at its default interval, and a real Prometheus scraping both
    every 15 s (no rules: Prometheus usually runs on another machine; its CPU is shown on its own).
``fast``
    the same with everything at 1 s (exporter and sidecar intervals, Prometheus scrape interval).
``scrape``
    no Axonize process: a plain HTTP client (this file, ``scrape-loop``, in its own process) GETs the
    vLLM's ``/metrics`` every second, the sidecar's fast interval, to isolate vLLM's own cost of rendering.

Per arm it records the workload's wall time, the CPU time (user + system, psutil) over the workload of
every monitoring process and of vLLM (API server, which renders ``/metrics``, and its engine processes),
and how many times vLLM's ``/metrics`` was scraped (the sidecar's ``axonize_sidecar_collections_total``, or
the client's log). Before the rounds, a calibration on the idle server measures vLLM's ``/metrics``: bytes,
response time, and API-server CPU per scrape (less its idle CPU).

The figures per monitored arm are the per-round ratio ``time(arm) / time(off)`` (min, median, max, and a
distribution-free confidence interval of the median from order statistics: the interval
``[x(k), x(n+1-k)]`` covers the median with probability ``1 - 2 P(Binomial(n, 1/2) <= k-1)``; Conover,
*Practical Nonparametric Statistics*, 3rd ed., section 3.2), the throughput loss ``1 - time(off)/time(arm)``,
and a CPU model of that loss: the CPU the monitors took plus vLLM's own ``/metrics`` CPU (calibrated
per-scrape CPU x scrapes), as a share of the CPU vLLM used in the ``off`` arm of the same round (the CPU
engine keeps ~1.8 of 2 cores busy under this workload, so CPU another process takes is CPU vLLM loses).

    .venv/bin/python benchmarks/vllm_overhead.py --json /tmp/vllm-overhead.json    # full run, ~15 min on 2 quiet cores
    .venv/bin/python benchmarks/vllm_overhead.py --rounds 2 --requests 48 --max-tokens 64         # smoke, ~2 min

    .venv/bin/python benchmarks/vllm_overhead.py --report /tmp/vllm-overhead.json         # the tables again

Target (issue 16): less than 1 % throughput loss at the default intervals. On 2 CPU cores the direct ratio's
round-to-round spread (about +-5 %) is wider than the target, so the verdict gives both the direct confidence
statement and the attributed loss, whose largest round is the bound.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from axonize.bench import report as bench_report  # noqa: E402
from axonize.bench import run as bench_run  # noqa: E402
from axonize.bench import workload  # noqa: E402
from axonize.demo import DEMO_GPU_UUID, demo_captures  # noqa: E402
from axonize.exporter.cli import OPTIONS as EXPORTER_OPTIONS  # noqa: E402
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http  # noqa: E402
from axonize.sidecar.cli import OPTIONS as SIDECAR_OPTIONS  # noqa: E402
from devtools import vllm_cpu  # noqa: E402

ARMS = ("off", "default", "fast", "scrape")
FAST_INTERVAL_S = 1.0
DEFAULT_PROMETHEUS_INTERVAL = "15s"
LOSS_TARGET = 0.01
"""The pitch's bound on the throughput lost to monitoring at default intervals (ratio 0-1)."""


def default_of(options, flag: str) -> str:
    """The default of ``flag`` in a component's OPTIONS (what runs when the flag is not given)."""
    return str(next(o.default for o in options if o.flag == flag))


# --------------------------------------------------------------------------- statistics


def williams_orders(n: int) -> list[list[int]]:
    """A Williams design for ``n`` arms: rows in which each arm takes each position and follows each other arm
    equally often (``n`` rows for even ``n``, ``2n`` for odd). ``[[0, 1], [1, 0]]`` for two arms (ABBA)."""
    first, lo, hi = [0], 1, n - 1
    while len(first) < n:
        first.append(lo)
        lo += 1
        if len(first) < n:
            first.append(hi)
            hi -= 1
    rows = [[(x + r) % n for x in first] for r in range(n)]
    return rows if n % 2 == 0 else rows + [row[::-1] for row in rows]


def median_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """``(low, high, coverage)``: the narrowest order-statistic interval covering the median with probability
    at least ``level`` (see the module docstring), or the full range with its coverage when ``n`` is too small."""
    x, n = sorted(values), len(values)
    best = (x[0], x[-1], 1 - 2 / 2**n)
    for k in range(1, n // 2 + 1):
        coverage = 1 - 2 * sum(math.comb(n, i) for i in range(k)) / 2**n
        if coverage >= level:
            best = (x[k - 1], x[n - k], coverage)
    return best


def spread(values: list[float], fmt: str = "{:.3f}") -> str:
    """``median [min-max]`` of ``values`` formatted with ``fmt``."""
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


# --------------------------------------------------------------------------- processes


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``procs`` so far (a process that has exited counts 0)."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def scrape_loop(url: str, interval: float, out: str) -> None:
    """``scrape-loop``: GET ``url`` every ``interval`` s on one keep-alive connection until killed, one line
    per scrape in ``out``: ``start_monotonic_s duration_s status bytes`` (CLOCK_MONOTONIC is system-wide)."""
    session, tick = requests.Session(), time.monotonic()
    with open(out, "w", buffering=1) as log:
        while True:
            start = time.monotonic()
            r = session.get(url, timeout=10)
            log.write(f"{start:.6f} {time.monotonic() - start:.6f} {r.status_code} {len(r.content)}\n")
            tick += interval
            time.sleep(max(0.0, tick - time.monotonic()))


class Monitors:
    """The processes one arm runs beside vLLM, started by :meth:`start` and ended by :meth:`stop`.

    ``procs``: ``{name: psutil.Process}`` of each monitoring process, for CPU accounting; :meth:`scrapes`
    counts vLLM ``/metrics`` scrapes so far (sidecar self-metric or the client's log).
    """

    def __init__(self, arm: str, vllm_url: str, workdir: str, prometheus: str | None):
        self.arm, self.vllm_url, self.workdir, self.prometheus = arm, vllm_url, workdir, prometheus
        self.started: list = []
        self.procs: dict[str, psutil.Process] = {}
        self.sidecar_url: str | None = None
        self.scrape_log = os.path.join(workdir, "scrape.log")

    def _process(self, name: str, argv: list[str], ready: str | None) -> ManagedProcess:
        proc = ManagedProcess(name, argv, os.path.join(self.workdir, f"{name}.log"))
        self.started.append(proc)
        if ready:
            wait_http(ready, 30, proc)
        self.procs[name] = psutil.Process(proc.proc.pid)
        return proc

    def start(self) -> Monitors:
        if self.arm == "scrape":
            argv = [sys.executable, __file__, "scrape-loop", f"{self.vllm_url}/metrics", str(FAST_INTERVAL_S), self.scrape_log]
            self._process("client", argv, None)
        if self.arm not in ("default", "fast"):
            return self
        fast = self.arm == "fast"
        exporter_port, sidecar_port = free_port(), free_port()
        interval = ["--collect.interval", f"{FAST_INTERVAL_S:g}s"] if fast else []
        argv = [sys.executable, "-m", "axonize.exporter", "--replay", *demo_captures()]
        argv += ["--web.listen-address", f"127.0.0.1:{exporter_port}", *interval]
        self._process("exporter", argv, f"http://127.0.0.1:{exporter_port}/-/ready")
        config = {
            "targets": [{"url": f"{self.vllm_url}/metrics", "engine": "vllm", "server": "bench-vllm", "gpus": [DEMO_GPU_UUID]}],
            "attribution": {"source": "config"},
        }
        if fast:
            config["collect"] = {"interval": f"{FAST_INTERVAL_S:g}s", "timeout": f"{FAST_INTERVAL_S:g}s"}
        path = os.path.join(self.workdir, "sidecar.yml")
        Path(path).write_text(yaml.safe_dump(config))
        argv = [sys.executable, "-m", "axonize.sidecar", "--config", path, "--web.listen-address", f"127.0.0.1:{sidecar_port}"]
        self._process("sidecar", argv, f"http://127.0.0.1:{sidecar_port}/-/ready")
        self.sidecar_url = f"http://127.0.0.1:{sidecar_port}/metrics"
        jobs = {"axonize-exporter": [f"127.0.0.1:{exporter_port}"], "axonize-sidecar": [f"127.0.0.1:{sidecar_port}"]}
        prom = PrometheusServer(jobs, f"{FAST_INTERVAL_S:g}s" if fast else DEFAULT_PROMETHEUS_INTERVAL, binary=self.prometheus)
        self.started.append(prom)
        prom.start()
        self.procs["prometheus"] = psutil.Process(prom.process.proc.pid)
        return self

    def scrapes(self, since: float | None = None, until: float | None = None) -> tuple[int, list[float]]:
        """``(count, durations_s)`` of vLLM ``/metrics`` scrapes: the sidecar's cycles so far (durations not
        known), or the client's scrapes that started in ``[since, until]`` (monotonic seconds)."""
        if self.sidecar_url:
            text = requests.get(self.sidecar_url, timeout=10).text
            return int(float(re.search(r"^axonize_sidecar_collections_total (\S+)", text, re.M).group(1))), []
        if self.arm == "scrape":
            lines = [line.split() for line in Path(self.scrape_log).read_text().splitlines() if line.count(" ") == 3]
            picked = [float(d) for s, d, *_ in lines if (since is None or float(s) >= since) and (until is None or float(s) <= until)]
            return len(picked), picked
        return 0, []

    def stop(self) -> None:
        for thing in reversed(self.started):
            thing.stop()
        self.started.clear()


# --------------------------------------------------------------------------- measurement


def calibrate(server: vllm_cpu.VllmServer, scrapes: int, idle_s: float) -> dict:
    """vLLM's ``/metrics`` on the idle server: ``bytes``, ``response_ms`` (median) and ``cpu_ms`` per scrape
    (API-server CPU over ``scrapes`` back-to-back GETs less its idle CPU rate over ``idle_s`` seconds)."""
    api = psutil.Process(server.process.proc.pid)
    t0, c0 = time.monotonic(), cpu_seconds([api])
    time.sleep(idle_s)
    idle_rate = (cpu_seconds([api]) - c0) / (time.monotonic() - t0)
    session, durations, size = requests.Session(), [], 0
    t0, c0 = time.monotonic(), cpu_seconds([api])
    for _ in range(scrapes):
        start = time.monotonic()
        size = len(session.get(f"{server.url}/metrics", timeout=10).content)
        durations.append(time.monotonic() - start)
    cpu = cpu_seconds([api]) - c0 - idle_rate * (time.monotonic() - t0)
    return {"bytes": size, "response_ms": statistics.median(durations) * 1e3, "cpu_ms": cpu / scrapes * 1e3, "idle_api_cores": idle_rate}


def bench_workload(url: str, model: str, requests: int, input_len: int, output_len: int, concurrency: int, headers: tuple = ()) -> dict:
    """A timed workload sent by ``axonize bench``'s library (:mod:`axonize.bench`, as ``axonize bench`` sends it) to
    ``url``: ``requests`` streamed completions of ``input_len`` prompt token ids and exactly ``output_len`` output
    tokens (``ignore_eos``), ``concurrency`` in flight; its report (``vllm bench serve``'s keys). RuntimeError when a
    request failed or the output tokens are not exactly ``requests`` x ``output_len``. benchmarks/gateway_vllm.py
    sends its load with it too."""
    work = workload.synthetic(requests, f"fixed:{input_len}", f"fixed:{output_len}", seed=0)
    settings = bench_run.Settings(base_url=url, model=model, max_concurrency=concurrency, headers=headers)
    results, duration = asyncio.run(bench_run.run(work, settings))
    r = bench_report.build(results, duration, (50, 99))
    if r["failed"] or r["total_output_tokens"] != requests * output_len:
        raise RuntimeError(f"{url}: {r['failed']} failed ({r['error_counts']}), {r['total_output_tokens']} output tokens")
    return r


def run_arm(arm: str, server: vllm_cpu.VllmServer, args: argparse.Namespace, workdir: str) -> dict:
    """Start ``arm``'s monitors, wait ``--settle`` s, send a short untimed burst (``--concurrency`` requests of 16
    tokens), run the timed workload, stop the monitors and wait ``--settle`` s; the arm's figures (seconds,
    CPU seconds over the timed workload, scrapes in it)."""
    api = psutil.Process(server.process.proc.pid)
    engine = server.descendants()
    monitors = Monitors(arm, server.url, workdir, args.prometheus)
    try:
        monitors.start()
        time.sleep(args.settle)
        # the same short burst in every arm, so no arm's timed workload starts on an engine idle for seconds
        vllm_cpu.run_workload(server, args.concurrency, max_tokens=16, concurrency=args.concurrency)
        before_scrapes, _ = monitors.scrapes()
        cpu0 = {name: cpu_seconds([p]) for name, p in monitors.procs.items()}
        api0, engine0, t0 = cpu_seconds([api]), cpu_seconds(engine), time.monotonic()
        work = bench_workload(server.url, server.model, args.requests, 64, args.max_tokens, args.concurrency)
        t1, api1, engine1 = time.monotonic(), cpu_seconds([api]), cpu_seconds(engine)
        cpu1 = {name: cpu_seconds([p]) for name, p in monitors.procs.items()}
        after_scrapes, durations = monitors.scrapes(t0, t1)
    finally:
        monitors.stop()
    time.sleep(args.settle)  # let the stopped processes' exit work finish before the next arm
    return {
        "arm": arm,
        "seconds": work["duration"],
        "tokens": work["total_output_tokens"],
        "median_ttft_ms": work["median_ttft_ms"],
        "median_tpot_ms": work["median_tpot_ms"],
        "window_s": t1 - t0,
        "monitor_cpu_s": {name: cpu1[name] - cpu0[name] for name in cpu0},
        "vllm_api_cpu_s": api1 - api0,
        "vllm_engine_cpu_s": engine1 - engine0,
        "scrapes": after_scrapes if arm == "scrape" else after_scrapes - before_scrapes,
        "scrape_ms": [d * 1e3 for d in durations],
    }


# --------------------------------------------------------------------------- report


def report(rounds: list[dict], calibration: dict, arms: list[str], out=sys.stdout) -> None:
    """Print the throughput table and the attribution table (figures: median [min-max] over rounds)."""
    cores = psutil.cpu_count() or 1
    off = [r["off"] for r in rounds]
    print(f"\n{len(rounds)} rounds; workload {off[0]['tokens']} tokens per arm; {cores} CPUs", file=out)
    print(
        f"off: {spread([a['seconds'] for a in off], '{:.2f}')} s, {spread([a['tokens'] / a['seconds'] for a in off], '{:.0f}')} tokens/s",
        file=out,
    )
    if "median_ttft_ms" in off[0]:  # runs recorded before the workload was sent with axonize bench's library have none
        for arm in arms:
            a = [r[arm] for r in rounds]
            print(
                f"  {arm:<8} axonize bench: TTFT p50 {spread([x['median_ttft_ms'] for x in a], '{:.1f}')} ms, "
                f"TPOT p50 {spread([x['median_tpot_ms'] for x in a], '{:.2f}')} ms",
                file=out,
            )
    print(
        f"vLLM /metrics (idle server): {calibration['bytes']} bytes, {calibration['response_ms']:.1f} ms response, "
        f"{calibration['cpu_ms']:.1f} ms API-server CPU per scrape",
        file=out,
    )
    print(
        f"\n{'arm':<8}  {'time ratio arm/off, median [min-max]':<36}  {'CI of the median':<22}  {'mean +- 2 s.e.':<15}  loss    verdict",
        file=out,
    )
    verdicts = {}
    for arm in (a for a in arms if a != "off"):
        ratios = [r[arm]["seconds"] / r["off"]["seconds"] for r in rounds]
        lo, hi, cov = median_interval(ratios)
        mean = statistics.fmean(ratios)
        se = statistics.stdev(ratios) / math.sqrt(len(ratios)) if len(ratios) > 1 else math.inf
        if cov < 0.9:
            verdicts[arm] = f"too few rounds for a confidence statement ({len(ratios)}; 6 give 97 %)"
        elif 1 - 1 / hi < LOSS_TARGET:
            verdicts[arm] = f"loss under {LOSS_TARGET:.0%} ({cov:.1%} confidence)"
        elif 1 - 1 / lo > LOSS_TARGET:
            verdicts[arm] = f"loss over {LOSS_TARGET:.0%} ({cov:.1%} confidence)"
        else:
            verdicts[arm] = f"not resolved: the median's CI straddles a {LOSS_TARGET:.0%} loss (ratio {1 / (1 - LOSS_TARGET):.4f})"
        loss = statistics.median(1 - 1 / ratio for ratio in ratios)
        ci = f"[{lo:.3f}, {hi:.3f}] {cov:.1%}"
        print(f"{arm:<8}  {spread(ratios):<36}  {ci:<22}  {f'{mean:.3f} +- {2 * se:.3f}':<15}  {loss:+.2%}  {verdicts[arm]}", file=out)
    monitored = [a for a in arms if a != "off"]
    rows: dict[str, dict[str, list[float]]] = {f"{n} CPU, % of a core": {} for n in ("exporter", "sidecar", "prometheus", "client")}
    for arm in monitored:
        for r in rounds:
            a, base = r[arm], r["off"]
            vllm_off = (base["vllm_api_cpu_s"] + base["vllm_engine_cpu_s"]) / base["window_s"]
            monitors = sum(a["monitor_cpu_s"].values()) / a["window_s"]
            render = a["scrapes"] * calibration["cpu_ms"] / 1e3 / a["window_s"]
            api_extra = a["vllm_api_cpu_s"] / a["window_s"] - base["vllm_api_cpu_s"] / base["window_s"]
            figures = {f"{name} CPU, % of a core": 100 * cpu / a["window_s"] for name, cpu in a["monitor_cpu_s"].items()}
            figures |= {
                "vLLM /metrics scrapes per s": a["scrapes"] / a["window_s"],
                "vLLM /metrics CPU (calibrated), % of a core": 100 * render,
                "vLLM API-server CPU - off, % of a core": 100 * api_extra,
                "modelled loss: monitors' CPU, %": 100 * monitors / vllm_off,
                "modelled loss: vLLM's /metrics, %": 100 * render / vllm_off,
                "modelled loss: both, %": 100 * (monitors + render) / vllm_off,
                "measured loss, %": 100 * (1 - base["seconds"] / a["seconds"]),
            }
            for name, value in figures.items():
                rows.setdefault(name, {}).setdefault(arm, []).append(value)
    rows = {name: per_arm for name, per_arm in rows.items() if per_arm}  # figure -> arm -> one value per round
    width = max(map(len, rows))
    print("\nattribution, median [min-max] over rounds (modelled loss: CPU taken / vLLM's CPU in the off arm)", file=out)
    print(f"{'':<{width}}  " + "  ".join(f"{arm:<22}" for arm in monitored), file=out)
    for name, per_arm in rows.items():
        cells = [f"{spread(per_arm[arm], '{:.2f}'):<22}" if arm in per_arm else f"{'-':<22}" for arm in monitored]
        print(f"{name:<{width}}  " + "  ".join(cells), file=out)
    ms = [d for r in rounds for d in r.get("scrape", {}).get("scrape_ms", [])]
    if ms:
        rate = statistics.median(rows["vLLM /metrics scrapes per s"]["scrape"])
        print(
            f"vLLM /metrics under load (scrape arm): {statistics.median(ms):.1f} ms median, {max(ms):.1f} ms max response; "
            f"the API server answers /metrics {100 * rate * statistics.median(ms) / 1e3:.2f} % of the time",
            file=out,
        )
    for arm in (a for a in ("default", "fast") if a in verdicts):
        modelled = rows["modelled loss: both, %"][arm]
        bound = "under" if max(modelled) < 100 * LOSS_TARGET else "not under"
        print(
            f"\n{'At the default intervals' if arm == 'default' else 'At 1 s'}: measured directly, {verdicts[arm]}; "
            f"attributed (CPU the monitors took plus vLLM's own /metrics CPU, as a share of vLLM's CPU), "
            f"{spread(modelled, '{:.2f}')} %: {bound} {LOSS_TARGET:.0%} in every round.",
            file=out,
        )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scrape-loop"]:
        scrape_loop(argv[1], float(argv[2]), argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds; each runs every arm once (default 10)")
    parser.add_argument("--requests", type=int, default=320, help="completions per workload (default 320)")
    parser.add_argument("--max-tokens", type=int, default=128, help="tokens generated per completion (default 128)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8, vLLM's --max-num-seqs)")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, from {', '.join(ARMS)} (default all; 'off' always)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after starting / stopping monitors (default 2)")
    parser.add_argument("--calibration-scrapes", type=int, default=200)
    parser.add_argument("--prometheus", metavar="PATH", help="prometheus binary (default: from PATH)")
    parser.add_argument("--json", metavar="FILE", help="also write every arm's raw figures here")
    parser.add_argument("--report", metavar="FILE", help="print the tables again from a --json file of an earlier run, and exit")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        report(saved["rounds"], saved["calibration"], list(saved["rounds"][0]))
        return 0
    arms = ["off", *(a for a in args.arms.split(",") if a and a != "off")]
    unknown = [a for a in arms if a not in ARMS]
    if unknown or args.rounds < 1:
        parser.error(f"--arms: unknown {unknown}, choose from {ARMS}" if unknown else "--rounds must be at least 1")
    print(
        f"defaults: exporter --collect.interval {default_of(EXPORTER_OPTIONS, '--collect.interval')}, sidecar "
        f"--collect.interval {default_of(SIDECAR_OPTIONS, '--collect.interval')}, Prometheus {DEFAULT_PROMETHEUS_INTERVAL}; "
        f"fast: all {FAST_INTERVAL_S:g}s; load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    venv = vllm_cpu.ensure_venv()
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="axonize-vllm-overhead-") as workdir:
        model = vllm_cpu.build_tiny_model(os.path.join(workdir, "tiny-llama"), venv)
        with vllm_cpu.VllmServer(
            model, venv, log_dir=os.environ.get("AXONIZE_VLLM_LOG_DIR"), keep_log=bool(os.environ.get("AXONIZE_VLLM_LOG_DIR"))
        ) as server:
            print(f"vLLM ready in {server.startup_s:.0f} s; warming up", flush=True)
            vllm_cpu.run_workload(server, args.requests, max_tokens=args.max_tokens, concurrency=args.concurrency)
            calibration = calibrate(server, args.calibration_scrapes, idle_s=5.0)
            orders = williams_orders(len(arms))
            for i in range(args.rounds):
                results = {}
                for j in orders[i % len(orders)]:
                    results[arms[j]] = run_arm(arms[j], server, args, workdir)
                rounds.append(results)
                times = ", ".join(f"{arm} {results[arm]['seconds']:.2f} s" for arm in arms)
                print(f"round {i + 1}/{args.rounds} ({' '.join(arms[j] for j in orders[i % len(orders)])}): {times}", flush=True)
    report(rounds, calibration, arms)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"calibration": calibration, "rounds": rounds}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
