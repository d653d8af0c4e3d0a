"""The Fleet overview dashboard: efficiency, cost and health of every host at a glance.

Efficiency score (0-100) and grade of the fleet and of each host, $/hour, idle $/hour and projected $/month (the
recording rules of rules/gpu-efficiency.rules.yml and rules/cost.rules.yml), the GPUs wasting the most money while
idle, GPUs down or faulted, the firing alerts, and per model tokens/s and $ per 1M generated tokens.
Variables: datasource, job, host (several), inference_job, model.
"""

from __future__ import annotations

from axonize.bundle import Bundle

from . import panels as p
from . import variables
from .queries import Scope, recorded

KEY = "fleet"
DESCRIPTION = "Axonize fleet overview: efficiency score and grade, GPU cost and idle cost, faulted GPUs, alerts, cost per model."
GRADE_COLORS = {"A": "green", "B": "#73BF69", "C": "yellow", "D": "orange", "F": "red"}
RANK = {"A": 4, "B": 3, "C": 2, "D": 1, "F": 0}


def score_thresholds(cfg: Bundle) -> list[tuple[float, str]]:
    """The grades' lowest scores (bundle ``grades:``) as thresholds, F (red) the base."""
    return [(float(low), GRADE_COLORS[letter]) for letter, low in reversed(cfg.grades) if low > 0]


def grade_mapping() -> list[dict]:
    """Grade rank (4 = A ... 0 = F, the ``:rank`` rules) -> its letter and color."""
    return p.value_map({rank: (letter, GRADE_COLORS[letter]) for letter, rank in RANK.items()})


def panels(cfg: Bundle) -> list:
    s = Scope(host_label=cfg.host_labels[-1])
    host = cfg.host_labels[-1]
    rate5 = cfg.rate_window
    grid = p.Grid()
    usd = "currencyUSD"
    grade_steps = [(float(r), GRADE_COLORS[letter]) for letter, r in RANK.items() if r > 0][::-1]
    out = [
        p.stat(
            grid,
            "Fleet efficiency score",
            "InfraLens efficiency score of the whole fleet, 0-100 "
            "(fleet:axonize_efficiency_score:percent); colored by the bundle's grade bounds. Every host, whatever $host.",
            "none",
            [p.target(s.m("fleet:axonize_efficiency_score:percent"))],
            thresholds=score_thresholds(cfg),
            base="red",
            decimals=0,
        ),
        p.stat(
            grid,
            "Fleet grade",
            "The fleet's efficiency grade A-F (fleet:axonize_efficiency_grade:rank, 4 = A ... 0 = F).",
            "none",
            [p.target(s.m("fleet:axonize_efficiency_grade:rank"))],
            thresholds=grade_steps,
            base="red",
            mappings=grade_mapping(),
        ),
        p.stat(
            grid,
            "GPU cost",
            "What the fleet's GPUs cost per hour at the bundle's prices (fleet:axonize_gpu_cost:dollars_per_hour).",
            usd,
            [p.target(s.m("fleet:axonize_gpu_cost:dollars_per_hour"))],
            decimals=2,
        ),
        p.stat(
            grid,
            "Idle cost",
            "The part of the GPU cost per hour spent on idle capacity: each GPU's $/h x (1 - its utilization "
            "score), lost GPUs in full (fleet:axonize_gpu_idle_cost:dollars_per_hour).",
            usd,
            [p.target(s.m("fleet:axonize_gpu_idle_cost:dollars_per_hour"))],
            decimals=2,
        ),
        p.stat(
            grid,
            "Projected monthly cost",
            f"$/hour x {float(cfg.hours_per_month):g} hours (fleet:axonize_gpu_cost:dollars_per_month).",
            usd,
            [p.target(s.m("fleet:axonize_gpu_cost:dollars_per_month"))],
            decimals=0,
        ),
        p.stat(
            grid,
            "GPUs down",
            "GPUs of $job and $host whose exporter could not read them this cycle (axonize_gpu_up == 0: lost, "
            "timed out, needs a reset); 0 when all read.",
            "none",
            [p.target(f"count({s.m('axonize_gpu_up')} == 0) or vector(0)")],
            thresholds=[(1, "red")],
        ),
    ]
    grid.newline()
    out += [
        p.table(
            grid,
            "Hosts",
            f"Per host ({host}): efficiency score 0-100 and grade (host:axonize_efficiency_score:percent, "
            "host:axonize_efficiency_grade:info), GPU $/hour and idle $/hour (host:axonize_gpu_cost:dollars_per_hour, "
            "host:axonize_gpu_idle_cost:dollars_per_hour).",
            "none",
            [
                p.target(s.m("host:axonize_efficiency_score:percent"), table=True),
                p.target(s.m("host:axonize_efficiency_grade:info"), table=True),
                p.target(s.m("host:axonize_gpu_cost:dollars_per_hour"), table=True),
                p.target(s.m("host:axonize_gpu_idle_cost:dollars_per_hour"), table=True),
            ],
            hidden=("Time", "__name__", "Value #B"),
            renames={"Value #A": "Score", "grade": "Grade", "Value #C": "$/hour", "Value #D": "Idle $/hour"},
        ),
        p.timeseries(
            grid,
            "Efficiency score per host",
            "InfraLens efficiency score 0-100 of each host (host:axonize_efficiency_score:percent) "
            "and the fleet (fleet:axonize_efficiency_score:percent); lines at the grade bounds.",
            "none",
            [
                p.target(s.m("host:axonize_efficiency_score:percent"), "{{" + host + "}}"),
                p.target(s.m("fleet:axonize_efficiency_score:percent"), "fleet"),
            ],
            thresholds=score_thresholds(cfg),
            lo=0,
            hi=100,
        ),
        p.timeseries(
            grid,
            "Cost per hour",
            "GPU cost and idle cost of the fleet, $/hour (fleet:axonize_gpu_cost:dollars_per_hour, "
            "fleet:axonize_gpu_idle_cost:dollars_per_hour).",
            usd,
            [
                p.target(s.m("fleet:axonize_gpu_cost:dollars_per_hour"), "cost"),
                p.target(s.m("fleet:axonize_gpu_idle_cost:dollars_per_hour"), "idle cost"),
            ],
            lo=0,
        ),
        p.bar_gauge(
            grid,
            "Most wasteful GPUs",
            "The 10 GPUs of $job and $host with the highest idle cost now, $/hour "
            "(topk of gpu:axonize_gpu_idle_cost:dollars_per_hour: the GPU's price x (1 - utilization score)).",
            usd,
            [
                p.target(
                    f"sort_desc(topk(10, {s.m('gpu:axonize_gpu_idle_cost:dollars_per_hour')}))",
                    "{{" + host + "}} GPU {{gpu}}",
                    instant=True,
                )
            ],
        ),
    ]
    grid.newline()
    out += [
        p.table(
            grid,
            "GPUs down or faulted",
            f"{p.FAULT_ONLY} GPUs of $job and $host the exporter could not read (axonize_gpu_up == 0) "
            "and why (axonize_gpu_fault_info kind: gpu_lost, reset_required, timeout, ...). Empty while every GPU reads.",
            "none",
            [p.target(f"{s.m('axonize_gpu_up')} == 0", table=True), p.target(s.m("axonize_gpu_fault_info"), table=True)],
            hidden=("Time", "__name__", "Value #A", "Value #B"),
            renames={"kind": "Fault"},
        ),
        p.alert_list(
            grid,
            "Firing alerts",
            "Alerts firing or pending now, Grafana-managed ones (alerts/grafana-alerting.yml) and "
            "those Prometheus evaluates from alerts/*.alerts.yml (shown through the datasource's rules API).",
        ),
    ]
    grid.newline()
    out += [
        p.timeseries(
            grid,
            "Output tokens per second per model",
            "Generated tokens per second of each model, summed over its servers "
            f"(model:axonize_inference_generation_tokens:rate{rate5}, the sidecar's series).",
            "short",
            [p.target(s.m(recorded("model:axonize_inference_generation_tokens:rate{window}", rate5)), "{{model}}")],
            lo=0,
        ),
        p.timeseries(
            grid,
            "$ per 1M output tokens per model",
            "GPU cost of a million generated tokens of each model: the $/hour of "
            f"the GPUs serving it over its tokens/s (model:axonize_inference_cost_per_million_tokens:dollars, {rate5} rates); "
            "absent while a model generates nothing.",
            usd,
            [p.target(s.m("model:axonize_inference_cost_per_million_tokens:dollars"), "{{model}}")],
            lo=0,
        ),
    ]
    return out


def dashboard_variables(cfg: Bundle) -> list:
    return [variables.datasource(cfg.grafana.datasource.uid), *variables.gpu_variables(cfg.host_labels[-1]), *variables.model_variables()]
