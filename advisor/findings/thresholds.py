"""Every threshold the diagnosis rules use, in one place, with why it has its value.

``diagnose(host, bundle, thresholds=Thresholds(...))`` takes another set; the defaults are below.
Ratios are 0-1; memory needs are per GPU (or MIG instance), as the workloads file states them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Defaults, each with its reason."""

    # mig_unused: an inference workload alone on a whole MIG-capable GPU whose memory need is at most this share of
    # the GPU (half: a 3g/4g profile, the largest short of the whole GPU, holds about half the memory) ...
    mig_memory_share_max: float = 0.5
    # ... and whose SM activity is at most this (a 3g instance is 3/7 ≈ 0.43 of the SMs; below 0.3 even a 2g, 2/7,
    # holds its work with room to spare).
    mig_activity_max: float = 0.3
    # memory_oversized: a preallocating engine (vLLM, SGLang) whose KV cache is at most this full while it holds
    # at least `preallocated_min` of the GPU (vLLM's default gpu_memory_utilization is 0.9).
    kv_cache_low: float = 0.2
    preallocated_min: float = 0.5
    # memory_oversized for other workloads: using at most this share of the VRAM of every GPU it holds.
    memory_used_low: float = 0.25
    # memory_undersized: VRAM (or a KV cache) at least this full: the next allocation (or request) fails or
    # waits (vLLM's dashboards colour KV cache usage from 0.9; 0.95 is their second step, rounded).
    memory_full: float = 0.95
    # busy_but_idle: NVML utilization at least this (a kernel ran nearly all the time) ...
    busy_utilization_min: float = 0.8
    # ... while SM active is at most this: the kernels keep few SMs busy (small batches, launch-bound code).
    busy_sm_active_max: float = 0.3
    # gpu_waiting: a model server's queue at least this long (requests waiting) ...
    queue_waiting_min: float = 5
    # ... while its GPU's utilization is at most this: requests wait, yet the GPU is not the bottleneck.
    waiting_utilization_max: float = 0.3
    # idle_gpu: a GPU whose utilization score is at or below this (the rules' busy threshold is 0; a GPU at
    # 1 % runs nothing worth its price).
    idle_utilization_max: float = 0.01
    # throttling: clock event reasons that mean heat or power limits (the docs' alert query); sw_power_cap is
    # informational: a busy GPU at its power limit is expected, sustained it costs clocks.
    throttle_reasons: tuple[str, ...] = (
        "hw_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
        "sw_thermal_slowdown",
        "sw_power_cap",
    )
    # efficiency_grade: name the GPUs and terms costing the host at least this many points of its score.
    grade_points_min: float = 1.0


DEFAULT = Thresholds()
