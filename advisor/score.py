"""The InfraLens efficiency score of a host, computed from a :class:`Host` exactly as the recording rules do.

Same formula, same bundle weights (``efficiency:`` and ``grades:`` of axonize/bundle.yml), term by term
(rules/gpu-efficiency.rules.yml; docs/metrics.md, "Efficiency score"); tests/advisor/test_score.py checks
it against a real Prometheus evaluating those rules, to 1e-6. Per GPU:

* utilization (0-1), the first that the GPU has: SM active (``Gpu.sm_active_ratio``); on a GPU in MIG mode
  the sum over its instances of SM active × the instance's share of the GPU's compute slices
  (:func:`axonize.mig_profiles.mig_share`); else NVML utilization (``Gpu.utilization_ratio``).
* memory (0-1): on a GPU a workload holds whole that reports its KV cache usage (vLLM, SGLang: engines that
  preallocate), the highest such usage; else VRAM used / total.
* gpu (0-1) = (utilization × 0.4 + memory × 0.3) / 0.7.
* numa (0-1): the mean of ``1 - 0.5 × mismatch`` over the GPU's placements, 1 when there is none. A container
  the exporter measured gives one placement per ``axonize_gpu_container_numa_mismatch`` series of the GPU
  (``Workload.numa_placement``: 0 when local, 1 when unpinned or remote; two MIG instances, two series), as
  the rules average them; another workload on the GPU (its MIG instances included) whose CPUs are known
  (:func:`advisor.topology.workload_cpus`: a workloads-file entry without ``cpus`` is unpinned) gives one,
  0 when all its CPUs are on the GPU's NUMA node.
* io (0-1) = PCIe width / max × PCIe generation / max (only while utilization is above 0: links train down
  at idle) × the share of NVLinks up; a factor the GPU does not report counts as 1.
* score (0-100): a busy GPU (utilization above 0) 100 × (gpu × 0.6 + numa × 0.2 + io × 0.2); an idle or
  lost GPU (``Gpu.up`` False) 0; a GPU without a utilization source (or without a memory term while busy)
  none. The host's score is the mean of its GPUs' scores; its grade the best letter whose lowest score it
  reaches (A 90, B 75, C 60, D 40, F 0). A host none of whose GPUs has a score gets NaN and grade "".

Weights are applied as the rules write them: the smallest integer weights over their sum, left to right
(``(4 * u + 3 * m) / 7``; ``60 * g + 20 * n + 20 * io``), so equal inputs give the rules' float results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from fractions import Fraction

from axonize import bundle as bundle_module
from axonize.mig_profiles import mig_share

from .model import Gpu, Host, Score
from .topology import local_cpus, workload_cpus, workloads_on

#: Component names in Score.components, in order.
COMPONENTS = ("utilization", "memory", "gpu", "numa", "io")


def score_host(host: Host, bundle: bundle_module.Bundle | None = None) -> Score:
    """The efficiency score (0-100), grade and per-GPU scores and components of ``host``.

    ``bundle``: the weights and grade bounds (None: the packaged axonize/bundle.yml).
    """
    b = bundle or bundle_module.load()
    eff = b.efficiency
    per_gpu: list[tuple[int, float]] = []
    components: list[tuple[int, str, float]] = []
    for gpu in sorted(host.gpus, key=lambda g: g.index):
        parts = gpu_components(host, gpu, b)
        components.extend((gpu.index, name, parts[name]) for name in COMPONENTS if parts.get(name) is not None)
        value = _gpu_score(gpu, parts, eff)
        if value is not None:
            per_gpu.append((gpu.index, value))
    total = sum(v for _, v in per_gpu) / len(per_gpu) if per_gpu else math.nan
    return Score(score=total, grade=grade(total, b), per_gpu=tuple(per_gpu), components=tuple(components))


def gpu_components(host: Host, gpu: Gpu, bundle: bundle_module.Bundle) -> dict[str, float | None]:
    """The GPU's components (0-1) by name (:data:`COMPONENTS`); None where the rules record none."""
    if not gpu.up:
        return {}
    eff = bundle.efficiency
    util = utilization_score(gpu)
    memory = memory_score(host, gpu)
    gpu_term = None
    if util is not None and memory is not None:
        gpu_term = _weighted([(eff.utilization_weight, util), (eff.memory_weight, memory)])
    return {
        "utilization": util,
        "memory": memory,
        "gpu": gpu_term,
        "numa": numa_score(host, gpu, bundle),
        "io": io_score(gpu, util, bundle),
    }


def utilization_score(gpu: Gpu) -> float | None:
    """Utilization (0-1): SM active, else MIG instances' SM active × share summed, else NVML utilization."""
    if gpu.sm_active_ratio is not None:
        return gpu.sm_active_ratio
    if gpu.mig_enabled:
        terms = []
        for inst in gpu.mig_instances:
            share = mig_share(inst.profile, gpu.model)
            if inst.sm_active_ratio is not None and share is not None:
                terms.append(inst.sm_active_ratio * share)
        if terms:
            return sum(terms)
    return gpu.utilization_ratio


def memory_score(host: Host, gpu: Gpu) -> float | None:
    """VRAM term (0-1): the highest KV cache usage of preallocating engines holding the whole GPU, else used / total."""
    kv = [w.kv_cache_usage_ratio for w in host.workloads if gpu.index in w.gpus and w.kv_cache_usage_ratio is not None]
    if kv:
        return max(kv)
    if gpu.memory_used_bytes is None or not gpu.memory_total_bytes or gpu.memory_total_bytes <= 0:
        return None
    return gpu.memory_used_bytes / gpu.memory_total_bytes


def numa_score(host: Host, gpu: Gpu, bundle: bundle_module.Bundle) -> float:
    """NUMA term (0-1): mean of local (1) / mismatch (0.5) over the GPU's workloads with known CPUs; 1 without any."""
    eff = bundle.efficiency
    values = [_affine(eff.numa_local, eff.numa_mismatch - eff.numa_local, m) for m in numa_mismatches(host, gpu)]
    if not values:
        return float(eff.numa_no_containers)
    return sum(values) / len(values)


def numa_mismatches(host: Host, gpu: Gpu) -> list[float]:
    """The GPU's NUMA mismatches (0 local, 1 not), one per placement the score averages (see the module docstring).

    A measured container's own judgement (``Workload.numa_placement``) where it has one for this GPU; else its
    CPUs against the GPU's NUMA node's; nothing for a workload whose CPUs are unknown (the exporter writes no
    mismatch series for it)."""
    local = local_cpus(host, gpu)
    out = []
    for w in workloads_on(host, gpu.index):
        measured = [placement for index, placement in w.numa_placement if index == gpu.index]
        if measured:
            out += [0.0 if placement == "local" else 1.0 for placement in measured]
            continue
        cpus = workload_cpus(host, w)
        if cpus and local is not None:
            out.append(0.0 if cpus <= local else 1.0)
    return out


def score_gpus(host: Host, indexes: Iterable[int], bundle: bundle_module.Bundle | None = None) -> Score:
    """:func:`score_host` of ``host`` restricted to the GPUs ``indexes`` (its links, NUMA nodes and workloads
    kept): the score of the GPUs that hold work, say, leaving out idle ones that could be returned."""
    keep = set(indexes)
    return score_host(replace(host, gpus=tuple(g for g in host.gpus if g.index in keep)), bundle)


def io_score(gpu: Gpu, utilization: float | None, bundle: bundle_module.Bundle) -> float:
    """I/O term (0-1): PCIe width / max × generation / max (while busy) × NVLinks up; unreported factors are 1."""
    width = 1.0
    if gpu.pcie_width_lanes is not None and gpu.pcie_max_width_lanes and gpu.pcie_max_width_lanes > 0:
        width = gpu.pcie_width_lanes / gpu.pcie_max_width_lanes
    generation = 1.0
    busy = utilization is not None and utilization > float(bundle.efficiency.io_busy_above)
    if busy and gpu.pcie_generation is not None and gpu.pcie_max_generation and gpu.pcie_max_generation > 0:
        generation = gpu.pcie_generation / gpu.pcie_max_generation
    nvlink = 1.0 if gpu.nvlink_active_ratio is None else gpu.nvlink_active_ratio
    return width * generation * nvlink


def state(gpu: Gpu, bundle: bundle_module.Bundle | None = None) -> str:
    """``lost``, ``busy`` (utilization above the bundle's busy threshold), ``idle`` or ``unmeasured``, as the rules' state."""
    b = bundle or bundle_module.load()
    if not gpu.up:
        return "lost"
    util = utilization_score(gpu)
    if util is None:
        return "unmeasured"
    return "busy" if util > float(b.efficiency.busy_above) else "idle"


def grade(score: float, bundle: bundle_module.Bundle | None = None) -> str:
    """The best letter whose lowest score ``score`` reaches (bundle ``grades:``); "" for NaN."""
    if math.isnan(score):
        return ""
    b = bundle or bundle_module.load()
    for letter, low in b.grades:
        if score >= float(low):
            return letter
    return b.grades[-1][0]


def _gpu_score(gpu: Gpu, parts: dict[str, float | None], eff: bundle_module.Efficiency) -> float | None:
    if not gpu.up:
        return 0.0
    util = parts.get("utilization")
    if util is None:
        return None  # unmeasured
    if util <= float(eff.busy_above):
        return 0.0  # idle
    terms = [parts.get("gpu"), parts.get("numa"), parts.get("io")]
    if any(t is None for t in terms):
        return None
    w = eff.weights
    return _weighted([(w["gpu"], terms[0]), (w["numa"], terms[1]), (w["io"], terms[2])], scale=100)


def _weighted(terms: Sequence[tuple[Fraction, float]], scale: int = 1) -> float:
    """``scale × Σ wᵢ·xᵢ / Σ wᵢ`` as :func:`axonize.promql.weighted` writes it: integer weights, one division."""
    total = sum(Fraction(w) for w, _ in terms)
    coefs = [(Fraction(scale) * Fraction(w) / total, x) for w, x in terms if w != 0]
    lcd = math.lcm(*(c.denominator for c, _ in coefs))
    value = 0.0
    for i, (c, x) in enumerate(coefs):
        n = c * lcd
        term = x if n == 1 else float(n) * x
        value = term if i == 0 else value + term
    return value if lcd == 1 else value / lcd


def _affine(a: Fraction, b: Fraction, x: float) -> float:
    """``a + b × x`` as :func:`axonize.promql.affine` writes it (``1 - 0.5 * x``)."""
    if b == 0:
        return 0 * x + float(a)
    return float(a) - float(abs(b)) * x if b < 0 else float(a) + float(b) * x
