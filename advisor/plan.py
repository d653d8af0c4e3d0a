"""The placement plan: where each workload should run on this host, the commands to get there, and its effect.

:func:`plan_placement` searches exactly (8 GPUs are few) for the assignment that, in this order:

1. splits the fewest jobs across NUMA nodes (a job is never split when a single-node option exists);
2. breaks the fewest NVLink groups (a multi-GPU job on GPUs not all NVLink-connected, where the host has NVLink);
3. moves the fewest workloads (what is already well placed stays).

Whole-GPU workloads keep their GPU count; each GPU's memory must hold the workload's need (per GPU). Small
inference workloads the diagnosis found alone on a whole MIG-capable GPU (``mig_unused``) are packed onto as
few GPUs as possible, each as the smallest MIG profile that holds it (:mod:`advisor.mig_catalog`; the set of
profiles on a GPU must be one the GPU can hold: :func:`advisor.mig_catalog.fits`). Every placed workload's
CPUs become its GPUs' NUMA node's. Workloads already on MIG instances stay where they are.

:func:`apply_plan` gives the host as it would be after the plan (each workload's measured load moves with
it), so the plan's ``after`` score is :func:`advisor.score.score_host` of that host, never a constant. That
whole-host score is what the recording rules will record, where a GPU the plan leaves free scores 0 (idle)
until it gets work; so the plan also scores only the GPUs holding work (:func:`gpus_with_work`) before and
after (``in_use_before``/``in_use_after``: :func:`advisor.score.score_gpus`, the same formula), lists the
GPUs free after it (``gpus_available``: those it frees and those idle now that stay idle) and prices the
net capacity it frees (``dollars_per_month_saved``: the free GPUs after, minus those free now).

GPUs busy with work no workload accounts for (inputs that name only some of the host's work) are left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import combinations

from axonize import bundle as bundle_module
from axonize.cpulist import format_cpulist

from . import mig_catalog
from .findings.mig import candidate
from .findings.workload_needs import activity, memory_need
from .model import Finding, Host, MigInstance, Placement, Plan, Step, Workload
from .score import score_gpus, score_host, state
from .topology import gpu_nodes, has_nvlink, node_cpus, nv_connected, workload_gpus, workloads_on

OUT_OF_SCOPE = (
    "Placement across hosts: the plan moves workloads within this host only.",
    "Live migration: a workload moves by restarting it with the new GPUs and CPUs (checkpoint training jobs first).",
    "Enabling MIG needs the GPU free of processes (and on some systems a GPU reset or reboot).",
    "Changing a job's GPU count or parallelism (tensor/data parallel sizes) is not proposed.",
    "Network and storage bottlenecks outside the host are not measured.",
)


@dataclass(frozen=True)
class _Item:
    """One thing to place: a whole-GPU workload (k GPUs) or a MIG GPU's worth of small workloads (k = 1)."""

    name: str
    k: int
    workloads: tuple[Workload, ...]
    profiles: tuple[mig_catalog.Profile, ...] = ()  # set for a MIG bin
    catalog: mig_catalog.MigGpu | None = None


def plan_placement(host: Host, findings: Sequence[Finding], bundle: bundle_module.Bundle | None = None) -> Plan | None:
    """The best placement of ``host``'s workloads (module docstring), or None when there is nothing to place
    or nothing to change."""
    b = bundle or bundle_module.load()
    whole = [w for w in host.workloads if w.gpus and not w.mig]
    if not whole:
        return None
    reserved = {g for w in host.workloads if w.mig for g, _ in w.mig}
    mig_names = {n for f in findings if f.kind == "mig_unused" for n in f.workloads}
    small = [w for w in whole if w.name in mig_names and candidate(host, w) is not None]
    assignment = None
    if small:
        items = [_Item(w.name, len(w.gpus), (w,)) for w in whole if w not in small] + _bins(host, small)
        assignment = _search(host, items, reserved)
    if assignment is None:
        assignment = _search(host, [_Item(w.name, len(w.gpus), (w,)) for w in whole], reserved)
    if assignment is None:
        return None
    placements, mig_gpus = _placements(host, assignment)
    if not mig_gpus and all(_unchanged(host, p) for p in placements):
        return None
    draft = Plan(placements=placements, steps=(), before=score_host(host, b), after=score_host(host, b))
    after_host = apply_plan(host, draft)
    in_use, in_use_after = gpus_with_work(host, b), gpus_with_work(after_host, b)
    freed = tuple(i for i in in_use if i not in in_use_after)
    available = tuple(g.index for g in host.gpus if g.up and g.index not in in_use_after)
    idle_now = [g.index for g in host.gpus if g.up and g.index not in in_use]
    return replace(
        draft,
        steps=_steps(host, placements, mig_gpus, freed, available),
        after=score_host(after_host, b),
        gpus_freed=freed,
        dollars_per_month_saved=_net_monthly(host, available, idle_now, b),
        out_of_scope=OUT_OF_SCOPE,
        gpus_available=available,
        dollars_per_month_available=_monthly(host, available, b),
        in_use_before=score_gpus(host, in_use, b),
        in_use_after=score_gpus(after_host, in_use_after, b),
    )


def gpus_with_work(host: Host, bundle: bundle_module.Bundle | None = None) -> tuple[int, ...]:
    """The GPUs holding work: a workload on them (whole or a MIG instance), or busy (the rules' state) with
    none attributed (work the inputs do not name, which the plan leaves where it is). Lost GPUs hold none."""
    return tuple(g.index for g in host.gpus if g.up and (workloads_on(host, g.index) or state(g, bundle) == "busy"))


def _monthly(host: Host, gpus: Sequence[int], b: bundle_module.Bundle) -> float | None:
    """The GPUs' price a month ($, the bundle's hours a month); None when one of them has no price."""
    prices = [host.gpu(i).price_dollars_per_hour for i in gpus]
    return None if any(p is None for p in prices) else sum(prices) * float(b.hours_per_month)


def _net_monthly(host: Host, available: Sequence[int], idle_now: Sequence[int], b: bundle_module.Bundle) -> float | None:
    """What the plan adds to the capacity that could be returned: the GPUs free after it, priced, minus those
    free now (an idle GPU it puts to work offsets one it frees); None when one of them has no price."""
    after, now = _monthly(host, available, b), _monthly(host, idle_now, b)
    return None if after is None or now is None else after - now


def _bins(host: Host, small: list[Workload]) -> list[_Item]:
    """The small workloads packed into the fewest MIG GPUs (exact: every packing tried, largest profile first)."""
    by_catalog: dict[str, list[tuple[Workload, mig_catalog.Profile, mig_catalog.MigGpu]]] = defaultdict(list)
    for w in small:
        gpu = host.gpu(w.gpus[0])
        catalog = mig_catalog.lookup(gpu.model, gpu.memory_total_bytes)
        by_catalog[catalog.model].append((w, candidate(host, w), catalog))
    items: list[_Item] = []
    for entries in by_catalog.values():
        catalog = entries[0][2]
        entries.sort(key=lambda e: (-e[1].memory_slices, -e[1].compute_slices, e[0].name))
        packed = _pack(catalog, entries)
        for n, binned in enumerate(packed):
            items.append(_Item(f"mig-{catalog.model}-{n}", 1, tuple(w for w, _, _ in binned), tuple(p for _, p, _ in binned), catalog))
    return items


def _pack(catalog: mig_catalog.MigGpu, entries: list[tuple]) -> list[list[tuple]]:
    """``entries`` ((workload, profile, catalog), largest profile first) in the fewest GPUs whose profiles fit."""
    best: list[list[tuple]] = [[e] for e in entries]  # one GPU each: always possible

    def pack(i: int, bins: list[list[tuple]]) -> None:
        nonlocal best
        if len(bins) >= len(best):
            return
        if i == len(entries):
            best = [list(x) for x in bins]
            return
        for binned in bins:
            if mig_catalog.fits(catalog, [p for _, p, _ in binned] + [entries[i][1]]):
                binned.append(entries[i])
                pack(i + 1, bins)
                binned.pop()
        bins.append([entries[i]])
        pack(i + 1, bins)
        bins.pop()

    pack(0, [])
    return best


def _search(host: Host, items: list[_Item], reserved: set[int]) -> list[tuple[_Item, tuple[int, ...]]] | None:
    """(item, its GPUs) for every item, minimising (NUMA splits, NVLink breaks, moves) lexicographically; None if none fits."""
    unattributed = {i for i in gpus_with_work(host) if not workloads_on(host, i)}
    usable = [g.index for g in host.gpus if g.up and g.index not in reserved | unattributed]
    nvlink = has_nvlink(host)
    order = sorted(items, key=lambda it: (-it.k, it.profiles == (), it.name))
    options: list[list[tuple[tuple[int, int, int], tuple[int, ...]]]] = []
    for it in order:
        opts = []
        for gpus in combinations(usable, it.k):
            if not _fits(host, it, gpus):
                continue
            opts.append((_cost(host, it, gpus, nvlink), gpus))
        if not opts:
            return None
        opts.sort()
        options.append(opts)
    best: list = [None, None]  # cost, assignment

    def dfs(i: int, taken: frozenset[int], cost: tuple[int, int, int], chosen: list) -> None:
        if best[0] is not None and cost >= best[0]:
            return
        if i == len(order):
            best[0], best[1] = cost, list(chosen)
            return
        for c, gpus in options[i]:
            if taken.isdisjoint(gpus):
                chosen.append(gpus)
                dfs(i + 1, taken | set(gpus), (cost[0] + c[0], cost[1] + c[1], cost[2] + c[2]), chosen)
                chosen.pop()

    dfs(0, frozenset(), (0, 0, 0), [])
    if best[1] is None:
        return None
    return list(zip(order, best[1], strict=True))


def _fits(host: Host, it: _Item, gpus: tuple[int, ...]) -> bool:
    """Memory (per GPU) within every GPU's; a MIG bin only on a GPU of its catalog model, not in MIG use."""
    if it.catalog is not None:
        g = host.gpu(gpus[0])
        return mig_catalog.lookup(g.model, g.memory_total_bytes) == it.catalog and not any(w.mig for w in workloads_on(host, g.index))
    need = memory_need(host, it.workloads[0])
    return need is None or all(need <= host.gpu(i).memory_total_bytes for i in gpus)


def _cost(host: Host, it: _Item, gpus: tuple[int, ...], nvlink: bool) -> tuple[int, int, int]:
    split = int(len(gpu_nodes(host, gpus)) > 1)
    broken = int(nvlink and it.k >= 2 and not nv_connected(host, gpus))
    moves = sum(1 for w in it.workloads if set(w.gpus) != set(gpus))
    return split, broken, moves


def _placements(host: Host, assignment: list[tuple[_Item, tuple[int, ...]]]) -> tuple[tuple[Placement, ...], dict[int, tuple]]:
    """Placements of every whole-GPU workload (in the host's order), and per MIG GPU its (workload, profile) pairs."""
    mig_gpus: dict[int, tuple] = {}
    where: dict[str, Placement] = {}
    for it, gpus in assignment:
        node = _node(host, gpus)
        cpus = node_cpus(host, node) if node is not None else None
        if it.catalog is not None:
            mig_gpus[gpus[0]] = tuple(zip(it.workloads, it.profiles, strict=True))
            for w, p in zip(it.workloads, it.profiles, strict=True):
                where[w.name] = Placement(w.name, gpus, p.name, node, cpus)
        else:
            w = it.workloads[0]
            where[w.name] = Placement(w.name, tuple(sorted(gpus)), None, node, cpus)
    return tuple(where[w.name] for w in host.workloads if w.name in where), mig_gpus


def _node(host: Host, gpus: Sequence[int]) -> int | None:
    """The NUMA node of ``gpus`` when they share one, else the node of most of them (lowest on a tie)."""
    nodes = [host.gpu(i).numa_node for i in gpus if host.gpu(i).numa_node is not None and host.gpu(i).numa_node >= 0]
    if not nodes:
        return None
    return min(set(nodes), key=lambda n: (-nodes.count(n), n))


def _unchanged(host: Host, p: Placement) -> bool:
    return keeps(next(w for w in host.workloads if w.name == p.workload), p)


def keeps(w: Workload, p: Placement) -> bool:
    """True when placement ``p`` keeps workload ``w`` where it is: the same whole GPUs, and CPUs already on the
    node (pinned within it, or measured local by the exporter on every GPU)."""
    if p.mig_profile is not None or set(p.gpus) != set(w.gpus):
        return False
    if p.cpus is None or (w.cpus is not None and w.cpus <= p.cpus):
        return True
    return w.cpus is None and bool(w.numa_placement) and all(placement == "local" for _, placement in w.numa_placement)


def apply_plan(host: Host, plan: Plan) -> Host:
    """``host`` as it would be after ``plan``: workloads on their new GPUs, MIG instances or CPUs, each carrying
    its measured load (its share of its GPUs' utilization, SM activity and VRAM used; on a MIG instance its SM
    activity over the instance's share of the GPU); GPUs its workloads leave idle (0) with no VRAM used; the
    load of a GPU no workload accounts for stays on it (the plan places nothing there). Hardware facts
    (PCIe links, clocks, temperature, price) stay with each GPU.
    """
    by_name = {p.workload: p for p in plan.placements}
    load = _loads(host)
    util: dict[int, float] = defaultdict(float)
    sm: dict[int, float] = defaultdict(float)
    used: dict[int, float] = defaultdict(float)
    for g in host.gpus:  # what no workload accounts for stays on its GPU
        if not g.mig_enabled and not [w for w in workloads_on(host, g.index) if not w.mig]:
            util[g.index], sm[g.index], used[g.index] = g.utilization_ratio or 0.0, g.sm_active_ratio or 0.0, g.memory_used_bytes or 0.0
    instances: dict[int, list[MigInstance]] = defaultdict(list)
    workloads = []
    for w in host.workloads:
        p = by_name.get(w.name)
        if p is None:  # not moved (MIG instances, or nothing to place)
            workloads.append(w)
            for g in workload_gpus(w):
                if not w.mig:
                    u, a, m = load[w.name][g]
                    util[g] += u
                    sm[g] += a
                    used[g] += m
            continue
        old = sorted(w.gpus)
        shares = [load[w.name][g] for g in old]
        if _unchanged(host, p):
            workloads.append(w)
            for g in old:
                u, a, m = load[w.name][g]
                util[g] += u
                sm[g] += a
                used[g] += m
            continue
        cpus = p.cpus if p.cpus and not (w.cpus and p.cpus and w.cpus <= p.cpus) else w.cpus
        w = replace(w, numa_placement=())  # restarted with the plan's CPUs: the exporter's old judgement no longer holds
        if p.mig_profile is not None:
            gpu = host.gpu(p.gpus[0])
            catalog = mig_catalog.lookup(gpu.model, gpu.memory_total_bytes)
            profile = catalog.profile(p.mig_profile)
            gi = len(instances[gpu.index]) + 1
            u, a, m = shares[0]
            share = profile.compute_slices / catalog.compute_slices
            instances[gpu.index].append(
                MigInstance(
                    gi,
                    0,
                    profile.name,
                    f"MIG-planned-{gpu.index}-{gi}",
                    memory_total_bytes=profile.memory_bytes,
                    memory_used_bytes=min(m, profile.memory_bytes),
                    sm_active_ratio=min(1.0, a / share),
                )
            )
            workloads.append(replace(w, gpus=(), mig=((gpu.index, gi),), cpus=cpus))
            continue
        for g_old, g_new in zip(old, sorted(p.gpus), strict=True):
            u, a, m = load[w.name][g_old]
            util[g_new] += u
            sm[g_new] += a
            used[g_new] += m
        workloads.append(replace(w, gpus=tuple(sorted(p.gpus)), cpus=cpus))
    gpus = []
    for g in host.gpus:
        if g.index in instances:
            inst = tuple(instances[g.index])
            gpus.append(
                replace(
                    g,
                    mig_enabled=True,
                    mig_instances=inst,
                    utilization_ratio=None,
                    sm_active_ratio=None,
                    memory_used_bytes=sum(i.memory_used_bytes for i in inst),
                )
            )
        elif g.mig_enabled:
            gpus.append(g)
        else:
            gpus.append(
                replace(
                    g,
                    utilization_ratio=None if g.utilization_ratio is None else min(1.0, util[g.index]),
                    sm_active_ratio=None if g.sm_active_ratio is None else min(1.0, sm[g.index]),
                    memory_used_bytes=None if g.memory_used_bytes is None else min(g.memory_total_bytes, used[g.index]),
                )
            )
    return replace(host, gpus=tuple(gpus), workloads=tuple(workloads))


def _loads(host: Host) -> dict[str, dict[int, tuple[float, float, float]]]:
    """Per workload and GPU: its share of the GPU's (utilization, SM activity, VRAM used), split evenly between
    the workloads on a GPU (VRAM by their stated memory when all state it)."""
    out: dict[str, dict[int, tuple[float, float, float]]] = defaultdict(dict)
    for g in host.gpus:
        on = [w for w in workloads_on(host, g.index) if not w.mig]
        if not on:
            continue
        n = len(on)
        mem = [w.memory_bytes for w in on]
        for w in on:
            u = (g.utilization_ratio or 0.0) / n
            a = (g.sm_active_ratio if g.sm_active_ratio is not None else (activity(host, w)[0] or 0.0) * n) / n
            if g.memory_used_bytes is None:
                m = 0.0
            elif all(x is not None for x in mem) and sum(mem) > 0:
                m = g.memory_used_bytes * w.memory_bytes / sum(mem)
            else:
                m = g.memory_used_bytes / n
            out[w.name][g.index] = (u, a, m)
    return out


def _steps(
    host: Host, placements: tuple[Placement, ...], mig_gpus: dict[int, tuple], freed: tuple[int, ...], available: tuple[int, ...]
) -> tuple[Step, ...]:
    steps = []
    for index, pairs in sorted(mig_gpus.items()):
        profiles = ",".join(p.name for _, p in sorted(pairs, key=lambda x: (-x[1].memory_slices, -x[1].compute_slices)))
        names = ", ".join(w.name for w, _ in pairs)
        steps.append(
            Step(
                f"Stop what runs on GPU {index}, then switch it to MIG mode (some systems need a GPU reset or reboot).",
                f"nvidia-smi -i {index} -mig 1",
            )
        )
        steps.append(
            Step(
                f"Create GPU {index}'s MIG instances for {names} (largest first) with their compute instances; nvidia-smi -L then lists their MIG-... UUIDs.",
                f"nvidia-smi mig -i {index} -cgi {profiles} -C",
            )
        )
    for p in placements:
        if _unchanged(host, p):
            continue
        w = next(w for w in host.workloads if w.name == p.workload)
        numa = (
            f"numactl --cpunodebind={p.numa_node} --membind={p.numa_node} "
            if p.numa_node is not None
            else (f"taskset -c {format_cpulist(p.cpus)} " if p.cpus else "")
        )
        if p.mig_profile is not None:
            steps.append(
                Step(
                    f"Restart {w.name} on GPU {p.gpus[0]}'s {p.mig_profile} instance (its UUID from nvidia-smi -L), CPUs and memory of NUMA node {p.numa_node}.",
                    f"CUDA_VISIBLE_DEVICES=<MIG UUID of the {p.mig_profile} on GPU {p.gpus[0]}> {numa}<command of {w.name}>",
                )
            )
            continue
        moved = set(p.gpus) != set(w.gpus)
        what = f"Move {w.name} from {_gpus(w.gpus)} to {_gpus(p.gpus)}" if moved else f"Pin {w.name} to the CPUs of its GPUs' NUMA node"
        cpus = f" (NUMA node {p.numa_node}: CPUs {format_cpulist(p.cpus)})" if p.cpus else ""
        steps.append(
            Step(f"{what}{cpus}; restart it with:", f"CUDA_VISIBLE_DEVICES={','.join(map(str, p.gpus))} {numa}<command of {w.name}>")
        )
    if any(not _unchanged(host, p) for p in placements):
        steps.append(
            Step(
                "On Kubernetes, let the kubelet keep pods' CPUs and GPUs on one NUMA node: the static CPU manager (needs a CPU"
                " reservation, and Guaranteed pods with whole CPUs) with the single-numa-node Topology Manager policy.",
                "kubelet --cpu-manager-policy=static --reserved-cpus=0-1 --topology-manager-policy=single-numa-node",
            )
        )
    if available:
        parts = [f"{', '.join(map(str, freed))} (freed)"] if freed else []
        kept = [i for i in available if i not in freed]
        parts += [f"{', '.join(map(str, kept))} (idle now)"] if kept else []
        them = "them" if len(available) > 1 else "it"
        steps.append(
            Step(
                f"GPU{'s' * (len(available) > 1)} {' and '.join(parts)} {'are' if len(available) > 1 else 'is'} free: give {them} other"
                f" work or return {them} (until then each counts as idle, 0, in the whole host's score)."
            )
        )
    return tuple(steps)


def _gpus(gpus: Sequence[int]) -> str:
    return ("GPU " if len(gpus) == 1 else "GPUs ") + ", ".join(map(str, gpus))
