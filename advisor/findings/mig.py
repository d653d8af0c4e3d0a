"""mig_unused: a small inference workload alone on a whole MIG-capable GPU, and the smallest MIG profile that
holds it (advisor.mig_catalog, from the NVIDIA MIG User Guide's profile tables).

Why it matters: the workload leaves most of the GPU's memory and SMs unused, yet nothing else can run there.
A MIG instance gives it its own memory and SMs (isolated: no noisy neighbour) and frees the rest of the GPU
for other instances.
"""

from __future__ import annotations

from axonize import bundle as bundle_module

from .. import mig_catalog
from ..model import Evidence, Finding, Host, Workload
from ..topology import workloads_on
from .evidence import declared, gib, metric, monthly, pct, price
from .thresholds import DEFAULT, Thresholds
from .workload_needs import activity, memory_need


def candidate(host: Host, w: Workload, thresholds: Thresholds = DEFAULT) -> mig_catalog.Profile | None:
    """The smallest MIG profile ``w`` fits when it is a small inference workload alone on one whole MIG-capable
    GPU (memory need and SM activity far below the GPU's: :class:`Thresholds`), else None."""
    if w.kind != "inference" or len(w.gpus) != 1 or w.mig:
        return None
    gpu = host.gpu(w.gpus[0])
    catalog = mig_catalog.lookup(gpu.model, gpu.memory_total_bytes)
    if catalog is None or gpu.mig_enabled or len(workloads_on(host, gpu.index)) != 1:
        return None
    need, (active, _) = memory_need(host, w), activity(host, w)
    if need is None or active is None or not gpu.memory_total_bytes:
        return None
    if need > thresholds.mig_memory_share_max * gpu.memory_total_bytes or active > thresholds.mig_activity_max:
        return None
    return mig_catalog.smallest_fitting(catalog, need, active)


def findings(host: Host, bundle: bundle_module.Bundle, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """mig_unused findings of ``host``."""
    out = []
    for w in host.workloads:
        profile = candidate(host, w, thresholds)
        if profile is None:
            continue
        gpu = host.gpu(w.gpus[0])
        catalog = mig_catalog.lookup(gpu.model, gpu.memory_total_bytes)
        need, (active, source) = memory_need(host, w), activity(host, w)
        share = profile.compute_slices / catalog.compute_slices
        evidence = [
            declared(w, "memory need", gib(need)),
            Evidence(f"GPU {gpu.index} memory", gib(gpu.memory_total_bytes), metric("axonize_gpu_memory_total_bytes", gpu=gpu.index)),
            Evidence(f"{w.name} {_ACTIVITY_NAMES.get(source, 'SM activity')}", pct(active), metric(source, gpu=gpu.index)),
            Evidence(
                f"{profile.name} on {catalog.model}",
                f"{gib(profile.memory_bytes)}, {profile.compute_slices}/{catalog.compute_slices} of the SMs",
                "NVIDIA MIG User Guide, Supported MIG Profiles",
            ),
        ]
        cost = price(gpu)
        if cost:
            evidence.append(cost)
        saved = monthly(gpu.price_dollars_per_hour, bundle)
        out.append(
            Finding(
                kind="mig_unused",
                severity="warning",
                title=f"{w.name} alone on a whole {gpu.model} (GPU {gpu.index}); a MIG {profile.name} would hold it",
                explanation=(
                    f"{w.name} needs {gib(need)} and {_activity_words(active, source)}, yet it has all of GPU {gpu.index}"
                    f" ({gib(gpu.memory_total_bytes)}) to itself. Split the GPU with MIG and give it a {profile.name} instance"
                    f" ({gib(profile.memory_bytes)}, {profile.compute_slices} of {catalog.compute_slices} compute slices): the rest of the"
                    " GPU can then hold other inference workloads, each isolated from the others."
                ),
                gpus=(gpu.index,),
                workloads=(w.name,),
                evidence=tuple(evidence),
                impact=f"{pct(1 - share)} of the GPU's compute slices would be free for other work",
                dollars_per_month=None if saved is None else saved * (1 - share),
            )
        )
    return out


#: What each activity source measures (workload_needs.activity): SM activity, or NVML's "a kernel ran" share.
_ACTIVITY_NAMES = {"axonize_gpu_utilization_ratio": "GPU utilization (a kernel ran)"}


def _activity_words(active: float, source: str) -> str:
    """How busy the workload keeps its GPU, in the words of what was measured."""
    if source == "axonize_gpu_utilization_ratio":
        return f"its GPU ran a kernel only {pct(active)} of the time (NVML utilization; the share of SMs it kept busy is at most that)"
    return f"keeps about {pct(active)} of the SMs busy"
