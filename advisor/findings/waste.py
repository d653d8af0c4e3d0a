"""idle_gpu (an idle GPU and what it costs a month) and efficiency_grade (the host's grade and what drags it down)."""

from __future__ import annotations

from axonize import bundle as bundle_module

from ..model import Evidence, Finding, Host
from ..score import gpu_components, score_host, state, utilization_score
from ..topology import workloads_on
from .evidence import metric, monthly, pct, price
from .thresholds import DEFAULT, Thresholds


def findings(host: Host, bundle: bundle_module.Bundle, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """idle_gpu findings and one efficiency_grade finding of ``host``."""
    return _idle(host, bundle, thresholds) + _grade(host, bundle, thresholds)


def _idle(host: Host, bundle: bundle_module.Bundle, t: Thresholds) -> list[Finding]:
    out = []
    for g in host.gpus:
        util = utilization_score(g)
        if not g.up or util is None or util > t.idle_utilization_max:
            continue
        holders = tuple(w.name for w in workloads_on(host, g.index))
        cost = monthly(g.price_dollars_per_hour, bundle)
        ev = [Evidence(f"GPU {g.index} utilization", pct(util), metric("gpu:axonize_gpu_utilization_score:ratio", gpu=g.index))]
        if price(g):
            ev.append(price(g))
        who = f"It is assigned to {', '.join(holders)}, which does not use it." if holders else "No workload runs on it."
        out.append(
            Finding(
                kind="idle_gpu",
                severity="warning",
                title=f"GPU {g.index} idle" + (f" (${cost:,.0f}/month)" if cost is not None else ""),
                explanation=(
                    f"GPU {g.index} did no work ({pct(util)} utilization). {who} Give it work, lend it to another team or job queue,"
                    " or stop paying for it."
                ),
                gpus=(g.index,),
                workloads=holders,
                evidence=tuple(ev),
                impact="paid for, produces nothing; scores 0 in the efficiency score",
                dollars_per_month=cost,
            )
        )
    return out


def _grade(host: Host, bundle: bundle_module.Bundle, t: Thresholds) -> list[Finding]:
    score = score_host(host, bundle)
    if not score.per_gpu:
        return []
    n = len(score.per_gpu)
    w = bundle.efficiency.weights
    total = float(sum(w.values()))
    drags: list[tuple[float, str]] = []
    for index, _value in score.per_gpu:
        gpu = host.gpu(index)
        s = state(gpu, bundle)
        if s in ("idle", "lost"):
            drags.append((100 / n, f"GPU {index} {s} (scores 0)"))
            continue
        parts = gpu_components(host, gpu, bundle)
        for name, label in (("gpu", "low utilization/VRAM use"), ("numa", "NUMA mismatch"), ("io", "degraded PCIe/NVLink")):
            lost = 100 * float(w[name]) / total * (1 - (parts.get(name) or 0.0)) / n
            if lost > 0:
                drags.append((lost, f"GPU {index} {label} ({pct(parts.get(name))})"))
    drags.sort(key=lambda d: -d[0])
    named = [f"{text}: -{points:.1f}" for points, text in drags if points >= t.grade_points_min][:6]
    bad = score.grade in ("D", "F")
    return [
        Finding(
            kind="efficiency_grade",
            severity="warning" if bad else "info",
            title=f"Efficiency score {score.score:.1f}/100, grade {score.grade}",
            explanation=(
                f"The host scores {score.score:.1f} of 100 (grade {score.grade}) by the InfraLens formula: per GPU,"
                f" {_share(w['gpu'], total)} for its utilization and memory use, {_share(w['numa'], total)} for NUMA placement,"
                f" {_share(w['io'], total)} for its PCIe/NVLink links; idle GPUs score 0, and the host's score is the mean of its GPUs'."
                + (f" What costs it the most points: {'; '.join(named)}." if named else " Nothing costs it a point or more.")
            ),
            gpus=tuple(i for i, _ in score.per_gpu),
            evidence=(
                Evidence(
                    "host efficiency score", f"{score.score:.1f}", metric("host:axonize_efficiency_score:percent", instance=host.hostname)
                ),
                *(Evidence(f"GPU {i} score", f"{v:.1f}", metric("gpu:axonize_efficiency_score:percent", gpu=i)) for i, v in score.per_gpu),
            ),
            impact=f"{100 - score.score:.1f} points below a fully used, well placed host",
        )
    ]


def _share(weight, total: float) -> str:
    """A weight as a percentage of the weights' sum (bundle ``efficiency.weights``): ``60 %``."""
    return f"{100 * float(weight) / total:.0f} %"
