"""The Inference dashboard: each model and engine's traffic, latency, SLO attainment, queue and KV cache, and its GPUs.

Requests/s and finish reasons, time to first token (TTFT), inter-token latency (ITL) and end-to-end latency as the
recording rules' quantiles (rules/inference.rules.yml) and as heatmaps of the histograms' buckets, the share of
requests within an SLO threshold (a variable of the histogram's bucket bounds, defaulting to the
AxonizeInferenceLatencySloBurn alert's), tokens/s in and out, running and waiting requests, KV-cache usage (colored at
the AxonizeInferenceKvCacheHigh thresholds), preemptions, and the GPUs each model runs on with their utilization,
joined through axonize_inference_server_gpu_info on uuid, and from the sidecar's traces receiver (docs/traces.md) the
mean duration of each stage, the $ per request p50 and p90, and the slow steps. The sidecar's vocabulary is the same
for vLLM, TGI, SGLang, Triton and llama.cpp. Variables: datasource, job, host (the GPUs' exporter), inference_job, model, engine, ttft_slo,
itl_slo.
"""

from __future__ import annotations

from axonize.bundle import Bundle

from . import panels as p
from . import variables
from .queries import Scope, recorded

KEY = "inference"
DESCRIPTION = "Axonize inference: per model and engine requests, TTFT / ITL / e2e latency and SLO attainment, tokens, queue, KV cache, and the GPUs they run on."
MODEL_ENGINE = "{{model}} ({{engine}})"
#: The latency histograms: (key of the SLO in the bundle, family, title, short name).
LATENCIES = (
    ("time_to_first_token", "axonize_inference_time_to_first_token_seconds", "Time to first token", "TTFT"),
    ("inter_token_latency", "axonize_inference_inter_token_latency_seconds", "Inter-token latency", "ITL"),
    (None, "axonize_inference_e2e_request_latency_seconds", "End-to-end latency", "e2e"),
)
#: A step this many times its model and stage's mean step is slow (docs/traces.md, "The slow-step signal").
SLOW_STEP_RATIO = 1.2
#: The quantiles of the $ per request panel.
COST_QUANTILES = (0.5, 0.9)
SLO_VARIABLES = {"time_to_first_token": ("ttft_slo", "TTFT SLO threshold"), "inter_token_latency": ("itl_slo", "ITL SLO threshold")}


def kv_thresholds(cfg: Bundle) -> list[tuple[float, str]]:
    """The KV-cache alert's thresholds (alerts.rules.AxonizeInferenceKvCacheHigh) as colors."""
    levels = cfg.alerts.rules.AxonizeInferenceKvCacheHigh.thresholds
    colors = {"info": "yellow", "warning": "orange", "critical": "red"}
    return sorted((float(v), colors[s]) for s, v in levels.items())


def _traffic(s: Scope, grid: p.Grid) -> list:
    return [
        p.timeseries(
            grid,
            "Requests per second",
            "Finished requests per second of each model and engine, every finish reason "
            "(rate of axonize_inference_requests_finished_total over $__rate_interval, summed over servers).",
            "reqps",
            [p.target(f"sum by (model, engine) ({s.rate('axonize_inference_requests_finished_total')})", MODEL_ENGINE)],
            lo=0,
        ),
        p.timeseries(
            grid,
            "Finish reasons",
            "Why requests finished, per second, per model: stop (end of sequence or a stop string), length (max tokens), "
            "abort, error, ... as the engine reports them (rate of axonize_inference_requests_finished_total by reason).",
            "reqps",
            [p.target(f"sum by (model, reason) ({s.rate('axonize_inference_requests_finished_total')})", "{{model}} {{reason}}")],
            lo=0,
            stack=True,
        ),
    ]


def _latency(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    window = cfg.rate_window
    qs = "/".join(f"p{float(q) * 100:g}" for q in cfg.quantiles)
    out = []
    for _, family, title, short in LATENCIES:
        out.append(
            p.timeseries(
                grid,
                f"{title} {qs}",
                f"{title} ({short}) quantiles {qs} of each model, seconds: the recording rule "
                f"model:{family}:quantile_rate{window} (histogram_quantile over the "
                f"{window} rate of the buckets summed over servers; a fixed {window} window, not $__rate_interval); "
                "absent while a model served no request.",
                "s",
                [p.target(s.m(recorded(f"model:{family}:quantile_rate{{window}}", window)), "{{model}} p{{quantile}}")],
                w=8,
                lo=0,
            )
        )
    for _, family, title, short in LATENCIES:
        out.append(
            p.heatmap(
                grid,
                f"{title} heatmap",
                f"How {short} is distributed over time: requests per second in each bucket of {family} "
                "(rate of its _bucket series over $__rate_interval, summed over the selected models' servers by le).",
                [p.target(f"sum by (le) ({s.rate(family + '_bucket')})", "{{le}}", heatmap=True)],
            )
        )
    return out


def _slo(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    slos = cfg.alerts.rules.AxonizeInferenceLatencySloBurn.slos
    out = []
    for key, family, title, short in LATENCIES:
        if key not in slos:
            continue
        var, _ = SLO_VARIABLES[key]
        objective = float(slos[key].objective)
        le = f'le=~"${var}"'
        good = f"sum by (model) ({s.rate(family + '_bucket', le)})"
        total = f"sum by (model) ({s.rate(family + '_count')})"
        out.append(
            p.timeseries(
                grid,
                f"{short} SLO attainment",
                f"Share of each model's requests whose {title.lower()} was within ${var} (a bucket bound of {family}; "
                f"either le spelling): the rate of the le=${var} bucket over the rate of _count, $__rate_interval; "
                f"the line is the objective of the AxonizeInferenceLatencySloBurn alert ({objective:g}). "
                "Absent while a model served no request.",
                "percentunit",
                [p.target(f"{good} / ({total} > 0)", "{{model}}")],
                thresholds=[(objective, "green")],
                lo=0,
                hi=1,
            )
        )
    return out


def _load(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    return [
        p.timeseries(
            grid,
            "Tokens per second in and out",
            "Prompt (prefill) tokens read and output tokens generated per second of each model and engine "
            "(rate of axonize_inference_prompt_tokens_total and axonize_inference_generation_tokens_total, $__rate_interval).",
            "short",
            [
                p.target(f"sum by (model, engine) ({s.rate('axonize_inference_prompt_tokens_total')})", MODEL_ENGINE + " in"),
                p.target(f"sum by (model, engine) ({s.rate('axonize_inference_generation_tokens_total')})", MODEL_ENGINE + " out"),
            ],
            lo=0,
        ),
        p.timeseries(
            grid,
            "Queue: running and waiting",
            "Requests in the running batch and queued, not yet scheduled, of each model and engine now "
            "(axonize_inference_requests_running, axonize_inference_requests_waiting, summed over servers).",
            "short",
            [
                p.target(f"sum by (model, engine) ({s.m('axonize_inference_requests_running')})", MODEL_ENGINE + " running"),
                p.target(f"sum by (model, engine) ({s.m('axonize_inference_requests_waiting')})", MODEL_ENGINE + " waiting"),
            ],
            lo=0,
        ),
        p.timeseries(
            grid,
            "KV cache usage",
            "Share of each server's KV cache in use, 0-1 (axonize_inference_kv_cache_usage_ratio, per engine core); "
            "lines at the AxonizeInferenceKvCacheHigh alert's thresholds: near 1 the engine preempts or queues requests.",
            "percentunit",
            [p.target(s.m("axonize_inference_kv_cache_usage_ratio"), "{{model}} {{server}} ({{engine}})")],
            thresholds=kv_thresholds(cfg),
            lo=0,
            hi=1,
        ),
        p.timeseries(
            grid,
            "Preemptions",
            "Running requests preempted (vLLM) or retracted (SGLang) per second to free KV cache, per model and engine "
            "(rate of axonize_inference_preemptions_total, $__rate_interval); 0 while the KV cache suffices.",
            "short",
            [p.target(f"sum by (model, engine) ({s.rate('axonize_inference_preemptions_total')})", MODEL_ENGINE)],
            lo=0,
        ),
    ]


def _gpus(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    host = cfg.host_labels[-1]
    serving = f"max by (model, server, uuid) ({s.m('axonize_inference_server_gpu_info')})"
    join = f"{serving} * on (uuid) group_left ({host}, gpu, source) {s.m('gpu:axonize_gpu_utilization_score:ratio')}"
    memory = f"{serving} * on (uuid) group_left ({host}, gpu) {s.m('gpu:axonize_gpu_memory_used:ratio')}"
    window = cfg.rate_window
    grid.newline()
    return [
        p.timeseries(
            grid,
            "p95 TTFT per model",
            f"The 95th percentile of time to first token of each model (model:axonize_inference_time_to_first_token_seconds:"
            f"quantile_rate{window}, quantile 0.95), beside the utilization of the GPUs serving it.",
            "s",
            [
                p.target(
                    s.m(recorded("model:axonize_inference_time_to_first_token_seconds:quantile_rate{window}", window), 'quantile="0.95"'),
                    "{{model}}",
                )
            ],
            lo=0,
        ),
        p.timeseries(
            grid,
            "Utilization of each model's GPUs",
            "The utilization score 0-1 (gpu:axonize_gpu_utilization_score:ratio: SM active where measured, else NVML "
            "utilization) of every GPU a model's servers run on, joined on uuid through axonize_inference_server_gpu_info "
            "(the sidecar's list of a server's GPUs) to the exporter's series of $job and $host.",
            "percentunit",
            [p.target(join, "{{model}} on {{" + host + "}} GPU {{gpu}}")],
            lo=0,
            hi=1,
        ),
        p.table(
            grid,
            "GPUs serving each model",
            "Each (model, server) and the GPUs it runs on: host, GPU index and uuid (axonize_inference_server_gpu_info "
            "joined on uuid to the exporter's series), the GPU's utilization score and VRAM used / total now "
            "(gpu:axonize_gpu_utilization_score:ratio, gpu:axonize_gpu_memory_used:ratio).",
            "percentunit",
            [p.target(join, table=True), p.target(memory, table=True)],
            hidden=("Time", "__name__", "source"),
            renames={"Value #A": "Utilization", "Value #B": "VRAM used"},
            w=24,
        ),
    ]


def _stages(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    stage = "axonize_trace_stage_duration_seconds"
    cost = "axonize_trace_request_cost_dollars"
    ratio = recorded("model_stage_step:axonize_trace_step_duration_seconds:ratio_to_mean_rate{window}", cfg.rate_window)
    mean = f"sum by (model, stage) ({s.rate(stage + '_sum')}) / (sum by (model, stage) ({s.rate(stage + '_count')}) > 0)"
    buckets = f"sum by (le, model) ({s.rate(cost + '_bucket')})"
    grid.newline()
    return [
        p.timeseries(
            grid,
            "Mean stage duration",
            f"Mean duration of each stage of a traced request, per model, seconds, stacked: the rate of {stage}_sum over "
            "the rate of its _count, $__rate_interval (the sidecar's traces receiver, docs/traces.md); "
            "absent while a model's stage received no span.",
            "s",
            [p.target(mean, "{{model}} {{stage}}")],
            w=8,
            lo=0,
            stack=True,
        ),
        p.timeseries(
            grid,
            "$ per request " + "/".join(f"p{q * 100:g}" for q in COST_QUANTILES),
            f"GPU cost of one traced request of each model, US dollars: histogram_quantile over the rate of {cost}_bucket "
            "summed by le and model, $__rate_interval (its duration x the $/hour of its GPUs at the exporter's prices); "
            "absent while no request was priced.",
            "currencyUSD",
            [p.target(f"histogram_quantile({q:g}, {buckets})", f"{{{{model}}}} p{q * 100:g}") for q in COST_QUANTILES],
            w=8,
            lo=0,
        ),
        p.timeseries(
            grid,
            "Slow steps",
            f"Steps whose mean duration over {cfg.rate_window} is more than {SLOW_STEP_RATIO:g} times the mean step of "
            f"their model and stage (the recording rule {ratio} > {SLOW_STEP_RATIO:g}; 1.4: 40 % slower); "
            "absent while every step is near its stage's mean.",
            "none",
            [p.target(f"{s.m(ratio)} > {SLOW_STEP_RATIO:g}", "{{model}} {{stage}} step {{step}}")],
            w=8,
            thresholds=[(SLOW_STEP_RATIO, "orange")],
            lo=1,
        ),
    ]


def panels(cfg: Bundle) -> list:
    s = Scope(host_label=cfg.host_labels[-1], engine=True)
    grid = p.Grid()
    out = _traffic(s, grid)
    grid.newline()
    out += _latency(s, grid, cfg)
    grid.newline()
    out += _slo(s, grid, cfg)
    grid.newline()
    out += _load(s, grid, cfg)
    out += _gpus(s, grid, cfg)
    return out + _stages(s, grid, cfg)


def dashboard_variables(cfg: Bundle) -> list:
    slos = cfg.alerts.rules.AxonizeInferenceLatencySloBurn.slos
    thresholds = [
        variables.bucket_bound(name, label, slos[key].bucket_bounds, slos[key].threshold_seconds)
        for key, (name, label) in SLO_VARIABLES.items()
        if key in slos
    ]
    return [
        variables.datasource(cfg.grafana.datasource.uid),
        *variables.gpu_variables(cfg.host_labels[-1]),
        *variables.model_variables(engine=True),
        *thresholds,
    ]
