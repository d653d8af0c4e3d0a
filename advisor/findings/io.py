"""I/O and host bottlenecks: pcie_degraded, busy_but_idle, gpu_waiting, throttling."""

from __future__ import annotations

from axonize import bundle as bundle_module

from ..model import Evidence, Finding, Host
from ..score import utilization_score
from .evidence import metric, pct
from .thresholds import DEFAULT, Thresholds


def findings(host: Host, bundle: bundle_module.Bundle, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """pcie_degraded, busy_but_idle, gpu_waiting and throttling findings of ``host``."""
    return _pcie(host, thresholds) + _busy_but_idle(host, thresholds) + _waiting(host, thresholds) + _throttling(host, thresholds)


def _pcie(host: Host, t: Thresholds) -> list[Finding]:
    out = []
    for g in host.gpus:
        util = utilization_score(g)
        narrow = g.pcie_width_lanes is not None and g.pcie_max_width_lanes and g.pcie_width_lanes < g.pcie_max_width_lanes
        busy = util is not None and util > t.idle_utilization_max
        slow = busy and g.pcie_generation is not None and g.pcie_max_generation and g.pcie_generation < g.pcie_max_generation
        if not (narrow or slow):
            continue
        ev = []
        if narrow:
            ev.append(
                Evidence(
                    f"GPU {g.index} PCIe width",
                    f"x{g.pcie_width_lanes:g} of x{g.pcie_max_width_lanes:g}",
                    metric("axonize_gpu_pcie_link_width_lanes", gpu=g.index),
                )
            )
        if slow:
            ev.append(
                Evidence(
                    f"GPU {g.index} PCIe generation",
                    f"Gen{g.pcie_generation:g} of Gen{g.pcie_max_generation:g}",
                    metric("axonize_gpu_pcie_link_generation", gpu=g.index),
                )
            )
        what = " and ".join(x for x, on in (("narrower", narrow), ("slower (lower generation, while busy)", slow)) if on)
        out.append(
            Finding(
                kind="pcie_degraded",
                severity="warning",
                title=f"GPU {g.index}: PCIe link {what} than it can be",
                explanation=(
                    f"GPU {g.index}'s PCIe link trained {what} than the GPU and slot support, so copies between host memory and the GPU"
                    " (data loading, model loading, KV cache offload) run at a fraction of their speed. Reseat the GPU or riser, check the"
                    " slot's BIOS setting and the link's error counters (axonize_gpu_pcie_replays_total)."
                ),
                gpus=(g.index,),
                evidence=tuple(ev),
                impact="host-to-GPU bandwidth cut in proportion (x8 of x16: half)",
            )
        )
    return out


def _busy_but_idle(host: Host, t: Thresholds) -> list[Finding]:
    out = []
    for g in host.gpus:
        if g.utilization_ratio is None or g.sm_active_ratio is None:
            continue
        if g.utilization_ratio >= t.busy_utilization_min and g.sm_active_ratio <= t.busy_sm_active_max:
            out.append(
                Finding(
                    kind="busy_but_idle",
                    severity="warning",
                    title=f"GPU {g.index} looks busy ({pct(g.utilization_ratio)}) but its SMs are mostly idle ({pct(g.sm_active_ratio)})",
                    explanation=(
                        f"nvidia-smi reports GPU {g.index} {pct(g.utilization_ratio)} utilized because some kernel was running nearly all the time,"
                        f" but only {pct(g.sm_active_ratio)} of its compute units did work. Typical causes: batches too small, many tiny kernels,"
                        " or the CPU launching work too slowly. Larger batches, CUDA graphs or sharing the GPU (MIG, MPS) use it better."
                    ),
                    gpus=(g.index,),
                    workloads=tuple(w.name for w in host.workloads if g.index in w.gpus),
                    evidence=(
                        Evidence(
                            f"GPU {g.index} NVML utilization",
                            pct(g.utilization_ratio),
                            metric("axonize_gpu_utilization_ratio", gpu=g.index),
                        ),
                        Evidence(f"GPU {g.index} SM active", pct(g.sm_active_ratio), metric("axonize_gpu_sm_active_ratio", gpu=g.index)),
                    ),
                    impact="most of the GPU's compute is unused although it reads as busy",
                )
            )
    return out


def _waiting(host: Host, t: Thresholds) -> list[Finding]:
    out = []
    for w in host.workloads:
        if w.queue_waiting is None or w.queue_waiting < t.queue_waiting_min or not w.gpus:
            continue
        utils = {g: utilization_score(host.gpu(g)) for g in w.gpus}
        if any(u is None or u > t.waiting_utilization_max for u in utils.values()):
            continue
        out.append(
            Finding(
                kind="gpu_waiting",
                severity="warning",
                title=f"{w.name}: {w.queue_waiting:g} requests waiting while its GPUs are {pct(max(utils.values()))} busy",
                explanation=(
                    f"{w.name} has {w.queue_waiting:g} requests queued, yet GPU {', '.join(map(str, w.gpus))} is mostly idle: the bottleneck"
                    " is not the GPU. Look at the engine's limits (max concurrent sequences, KV cache), the CPU (tokenization,"
                    " scheduling) and the network in front of it."
                ),
                gpus=tuple(w.gpus),
                workloads=(w.name,),
                evidence=(
                    Evidence(
                        f"{w.name} requests waiting", f"{w.queue_waiting:g}", metric("axonize_inference_requests_waiting", server=w.name)
                    ),
                    *(
                        Evidence(f"GPU {g} utilization", pct(u), metric("gpu:axonize_gpu_utilization_score:ratio", gpu=g))
                        for g, u in utils.items()
                    ),
                ),
                impact="requests wait (higher latency) while paid-for GPU capacity idles",
            )
        )
    return out


_THERMAL = {"hw_thermal_slowdown", "sw_thermal_slowdown"}


def _throttling(host: Host, t: Thresholds) -> list[Finding]:
    out = []
    for g in host.gpus:
        reasons = sorted(set(g.throttle_reasons) & set(t.throttle_reasons))
        if not reasons:
            continue
        only_cap = reasons == ["sw_power_cap"]
        cause = "heat" if set(reasons) & _THERMAL else "its power limit" if only_cap else "a hardware slowdown (heat or power brake)"
        out.append(
            Finding(
                kind="throttling",
                severity="info" if only_cap else "warning",
                title=f"GPU {g.index} clocks held down by {', '.join(reasons)}",
                explanation=(
                    f"GPU {g.index} is running below its clock speed because of {cause}."
                    + (
                        " At its power limit under load this is expected; sustained, it costs throughput (check the power limit with nvidia-smi -q -d POWER)."
                        if only_cap
                        else " Check cooling (fans, airflow, inlet temperature) and the power supply; the GPU slows down until the cause is gone."
                    )
                ),
                gpus=(g.index,),
                evidence=tuple(
                    Evidence(f"GPU {g.index} {r}", "active", metric("axonize_gpu_clock_event_reason_active", gpu=g.index, reason=r))
                    for r in reasons
                )
                + (
                    ()
                    if g.temperature_celsius is None
                    else (
                        Evidence(
                            f"GPU {g.index} temperature",
                            f"{g.temperature_celsius:g} °C",
                            metric("axonize_gpu_temperature_celsius", gpu=g.index),
                        ),
                    )
                ),
                impact="lower clocks: every workload on the GPU runs slower",
            )
        )
    return out
