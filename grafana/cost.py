"""The Cost and efficiency dashboard: what the GPUs cost, who they are spent on, how much is wasted, and why.

$/hour of the selected hosts (all, idle, idle by allocation, energy when the bundle sets a tariff), cost per GPU, MIG
GPU instance, host, model, container and Kubernetes namespace/pod (rules/cost.rules.yml), $ per 1M output tokens and
per request of each model, and the efficiency score's components per GPU (rules/gpu-efficiency.rules.yml).
Variables: datasource, job, host (several), inference_job, model.
"""

from __future__ import annotations

from axonize.bundle import Bundle

from . import panels as p
from . import variables
from .queries import Scope

KEY = "cost"
DESCRIPTION = "Axonize cost and efficiency: $/hour per GPU, MIG instance, host, model, container and pod; idle and energy cost; $ per 1M tokens and per request; score components per GPU."
USD = "currencyUSD"


def _totals(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    m = s.m
    out = [
        p.stat(
            grid,
            "GPU cost",
            "What the GPUs of $job and $host cost per hour at the bundle's prices (sum of host:axonize_gpu_cost:dollars_per_hour).",
            USD,
            [p.target(f"sum({m('host:axonize_gpu_cost:dollars_per_hour')})")],
            decimals=2,
        ),
        p.stat(
            grid,
            "Idle cost",
            "The part spent on idle capacity, $/hour: each GPU's price x (1 - its utilization score), lost GPUs in full "
            "(sum of host:axonize_gpu_idle_cost:dollars_per_hour).",
            USD,
            [p.target(f"sum({m('host:axonize_gpu_idle_cost:dollars_per_hour')})")],
            decimals=2,
        ),
        p.stat(
            grid,
            "Unallocated cost",
            "$/hour of GPUs (or MIG instances) that no container or process holds memory on: paid for, given to nobody "
            "(sum of host:axonize_gpu_allocation_idle_cost:dollars_per_hour).",
            USD,
            [p.target(f"sum({m('host:axonize_gpu_allocation_idle_cost:dollars_per_hour')})")],
            decimals=2,
        ),
        p.stat(
            grid,
            "Idle share",
            "Idle cost over cost of the selected hosts, 0-1 (host:axonize_gpu_idle_cost:dollars_per_hour / "
            "host:axonize_gpu_cost:dollars_per_hour, summed); orange above the AxonizeFleetIdleCostShare alert's bound.",
            "percentunit",
            [
                p.target(
                    f"sum({m('host:axonize_gpu_idle_cost:dollars_per_hour')}) / (sum({m('host:axonize_gpu_cost:dollars_per_hour')}) > 0)"
                )
            ],
            thresholds=[(float(cfg.alerts.rules.AxonizeFleetIdleCostShare.above), "orange")],
        ),
        p.stat(
            grid,
            "Projected monthly cost",
            f"$/hour x {float(cfg.hours_per_month):g} hours of the selected hosts (sum of host:axonize_gpu_cost:dollars_per_month).",
            USD,
            [p.target(f"sum({m('host:axonize_gpu_cost:dollars_per_month')})")],
            decimals=0,
        ),
    ]
    if cfg.dollars_per_kwh is not None:
        out.append(
            p.stat(
                grid,
                "Energy cost",
                f"What the GPUs' board power costs per hour at {cfg.dollars_per_kwh:g} $/kWh (the bundle's electricity "
                "tariff; sum of host:axonize_gpu_energy_cost:dollars_per_hour).",
                USD,
                [p.target(f"sum({m('host:axonize_gpu_energy_cost:dollars_per_hour')})")],
                decimals=2,
            )
        )
    return out


def _where(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    m = s.m
    host = cfg.host_labels[-1]
    grid.newline()
    out = [
        p.timeseries(
            grid,
            "Cost per host",
            f"GPU cost and idle cost of each host ({host}), $/hour (host:axonize_gpu_cost:dollars_per_hour, "
            "host:axonize_gpu_idle_cost:dollars_per_hour).",
            USD,
            [
                p.target(m("host:axonize_gpu_cost:dollars_per_hour"), "{{" + host + "}} cost"),
                p.target(m("host:axonize_gpu_idle_cost:dollars_per_hour"), "{{" + host + "}} idle"),
            ],
            lo=0,
        ),
        p.bar_gauge(
            grid,
            "Cost per GPU",
            "What each GPU costs per hour now, highest first (gpu:axonize_gpu_cost:dollars_per_hour: its price table row, "
            "axonize_gpu_price_dollars_per_hour).",
            USD,
            [p.target(f"sort_desc({m('gpu:axonize_gpu_cost:dollars_per_hour')})", "{{" + host + "}} GPU {{gpu}}", instant=True)],
        ),
        p.bar_gauge(
            grid,
            "Idle cost per GPU",
            "Each GPU's idle cost per hour now, highest first (gpu:axonize_gpu_idle_cost:dollars_per_hour: price x "
            "(1 - utilization score)); the money a better-packed workload would save.",
            USD,
            [p.target(f"sort_desc({m('gpu:axonize_gpu_idle_cost:dollars_per_hour')})", "{{" + host + "}} GPU {{gpu}}", instant=True)],
        ),
        p.table(
            grid,
            "Cost per MIG instance",
            "What each MIG GPU instance costs per hour: the GPU's price x its share of the compute slices "
            "(mig:axonize_mig_cost:dollars_per_hour), and the part no container or process holds memory on "
            "(mig:axonize_mig_allocation_idle_cost:dollars_per_hour; the utilization-based idle cost needs the "
            "instance's SM activity, which only the NVML backend reads). Empty on GPUs without MIG.",
            USD,
            [
                p.target(m("mig:axonize_mig_cost:dollars_per_hour"), table=True),
                p.target(m("mig:axonize_mig_allocation_idle_cost:dollars_per_hour"), table=True),
            ],
            hidden=("Time", "__name__", "job"),
            renames={"Value #A": "$/hour", "Value #B": "Unallocated $/hour", "gpu_instance_id": "GPU instance"},
        ),
    ]
    if cfg.dollars_per_kwh is not None:
        out.append(
            p.timeseries(
                grid,
                "Energy cost per GPU",
                f"Board power x {cfg.dollars_per_kwh:g} $/kWh per GPU, $/hour (gpu:axonize_gpu_energy_cost:dollars_per_hour).",
                USD,
                [p.target(m("gpu:axonize_gpu_energy_cost:dollars_per_hour"), "{{" + host + "}} GPU {{gpu}}")],
                lo=0,
            )
        )
    return out


def _who(s: Scope, grid: p.Grid) -> list:
    m = s.m
    grid.newline()
    return [
        p.timeseries(
            grid,
            "Cost per model",
            "$/hour of the GPUs serving each model: each GPU's cost split evenly between the (server, model) pairs the "
            "sidecars list on it (model:axonize_gpu_cost:dollars_per_hour).",
            USD,
            [p.target(m("model:axonize_gpu_cost:dollars_per_hour"), "{{model}}")],
            lo=0,
        ),
        p.timeseries(
            grid,
            "$ per 1M output tokens and per request",
            "GPU cost of a million generated tokens (model:axonize_inference_cost_per_million_tokens:dollars) and of one "
            "finished request (model:axonize_inference_cost_per_request:dollars) of each model, over the recording "
            "rules' rate window; absent while a model generates or finishes nothing.",
            USD,
            [
                p.target(m("model:axonize_inference_cost_per_million_tokens:dollars"), "{{model}} per 1M tokens"),
                p.target(m("model:axonize_inference_cost_per_request:dollars"), "{{model}} per request"),
            ],
            lo=0,
        ),
        p.table(
            grid,
            "Cost per container",
            "$/hour of each container, pod or systemd service on each GPU or MIG instance: the device's cost split by "
            "the GPU memory each holds (container:axonize_gpu_cost:dollars_per_hour, bundle cost.container_split).",
            USD,
            [p.target(f"sort_desc({m('container:axonize_gpu_cost:dollars_per_hour')})", table=True)],
            hidden=("Time", "__name__", "job", "uuid", "pod_uid", "container_id"),
            renames={"Value": "$/hour"},
        ),
        p.table(
            grid,
            "Cost per namespace and pod",
            "$/hour of each Kubernetes namespace and pod: its containers' cost summed (container:axonize_gpu_cost:"
            "dollars_per_hour by namespace, pod; namespace_pod:axonize_gpu_cost:dollars_per_hour holds the pods alone). "
            "The row with no namespace and pod is what runs outside Kubernetes (systemd services, bare containers).",
            USD,
            [p.target(f"sort_desc(sum by (namespace, pod) ({m('container:axonize_gpu_cost:dollars_per_hour')}))", table=True)],
            renames={"Value": "$/hour"},
        ),
    ]


def _score(s: Scope, grid: p.Grid) -> list:
    m = s.m
    grid.newline()
    return [
        p.table(
            grid,
            "Efficiency score components per GPU",
            "Why each GPU scores what it does: the efficiency score 0-100 (gpu:axonize_efficiency_score:percent) "
            "and its terms, 0-1: GPU (utilization and VRAM, gpu:axonize_efficiency_gpu_score:ratio), "
            "NUMA placement of the processes using it (gpu:axonize_efficiency_numa_score:ratio) and I/O (PCIe link and "
            "replays, gpu:axonize_efficiency_io_score:ratio).",
            "none",
            [
                p.target(m("gpu:axonize_efficiency_score:percent"), table=True),
                p.target(m("gpu:axonize_efficiency_gpu_score:ratio"), table=True),
                p.target(m("gpu:axonize_efficiency_numa_score:ratio"), table=True),
                p.target(m("gpu:axonize_efficiency_io_score:ratio"), table=True),
            ],
            hidden=("Time", "__name__", "job", "uuid"),
            renames={"Value #A": "Score", "Value #B": "GPU", "Value #C": "NUMA", "Value #D": "I/O"},
            w=24,
        ),
    ]


def panels(cfg: Bundle) -> list:
    s = Scope(host_label=cfg.host_labels[-1])
    grid = p.Grid()
    return [*_totals(s, grid, cfg), *_where(s, grid, cfg), *_who(s, grid), *_score(s, grid)]


def dashboard_variables(cfg: Bundle) -> list:
    return [variables.datasource(cfg.grafana.datasource.uid), *variables.gpu_variables(cfg.host_labels[-1]), *variables.model_variables()]
