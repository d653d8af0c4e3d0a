"""What the host's topology says about a placement: NUMA nodes' CPUs, NVLink-connected GPU sets, who runs where.

Plain functions over a :class:`~advisor.model.Host`, shared by the score, the diagnosis rules and the plan.
Vocabulary of ``nvidia-smi topo -m`` (its legend): ``NV#`` a bonded set of # NVLinks (``path="NVLINK"``);
PIX at most one PCIe bridge; PXB several bridges; PHB through a CPU host bridge; NODE across host bridges
within one NUMA node; SYS across the inter-socket link (QPI/UPI). NCCL's order, closest first:
NVLINK < PIX < PXB < PHB < NODE < SYS.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

from .model import Gpu, Host, Workload

#: PCIe path types, closest first (``nvidia-smi topo -m`` legend; NCCL's order).
PCIE_PATHS = ("PIX", "PXB", "PHB", "NODE", "SYS")


def node_cpus(host: Host, node: int) -> frozenset[int] | None:
    """CPUs of NUMA ``node``: ``axonize_numa_node_cpus`` when the host lists them, else the union of the CPU
    affinity (``axonize_gpu_cpu_affinity_info``) of the GPUs on that node; None when neither says."""
    for n in host.numa_nodes:
        if n.node == node and n.cpus:
            return n.cpus
    cpus = frozenset().union(*(g.cpu_affinity for g in host.gpus if g.numa_node == node and g.cpu_affinity))
    return cpus or None


def local_cpus(host: Host, gpu: Gpu) -> frozenset[int] | None:
    """The CPUs local to ``gpu``: its NUMA node's CPUs, else its CPU affinity; None when unknown."""
    if gpu.numa_node is not None and gpu.numa_node >= 0:
        cpus = node_cpus(host, gpu.numa_node)
        if cpus:
            return cpus
    return gpu.cpu_affinity or None


def numa_nodes(host: Host) -> tuple[int, ...]:
    """The NUMA nodes the host's GPUs hang off, sorted (empty when no GPU's node is known)."""
    return tuple(sorted({g.numa_node for g in host.gpus if g.numa_node is not None and g.numa_node >= 0}))


def host_cpus(host: Host) -> frozenset[int]:
    """Every CPU the host's NUMA nodes (or GPUs' affinities) name; empty when none is known."""
    nodes = [node_cpus(host, n) for n in {*numa_nodes(host), *(n.node for n in host.numa_nodes)}]
    return frozenset().union(*(c for c in nodes if c))


def workload_cpus(host: Host, w: Workload) -> frozenset[int] | None:
    """The CPUs ``w`` may run on, or None when unknown.

    ``Workload.cpus`` when set. Otherwise a workload declared in the workloads file is unpinned (its
    ``cpus:`` left out): every CPU of the host, as the exporter judges an unpinned process; a measured one
    (container, model server) whose CPUs nobody reported is unknown, as the rules count no NUMA mismatch series
    for it.
    """
    if w.cpus:
        return w.cpus
    if w.source == "workloads":
        return host_cpus(host) or None
    return None


def workload_gpus(w: Workload) -> tuple[int, ...]:
    """Every physical GPU a workload touches: its whole GPUs and the parents of its MIG instances, sorted."""
    return tuple(sorted(set(w.gpus) | {g for g, _ in w.mig}))


def workloads_on(host: Host, index: int) -> tuple[Workload, ...]:
    """The workloads holding GPU ``index`` (whole, or one of its MIG instances)."""
    return tuple(w for w in host.workloads if index in workload_gpus(w))


def nv_connected(host: Host, gpus: Iterable[int]) -> bool:
    """True when every pair of ``gpus`` is joined by NVLink (directly or through NVSwitch: ``NV#`` in topo -m)."""
    gpus = tuple(gpus)
    for a, b in combinations(gpus, 2):
        link = host.link(a, b)
        if link is None or not is_nvlink(link.path, link.nvlinks):
            return False
    return True


def is_nvlink(path: str, nvlinks: int = 0) -> bool:
    """True for an NVLink path (``NVLINK``, or ``NV18`` as topo -m writes it, or a link with bonded NVLinks)."""
    return nvlinks > 0 or path.upper().startswith("NV")


def has_nvlink(host: Host) -> bool:
    """True when any two GPUs of the host are joined by NVLink."""
    return any(is_nvlink(k.path, k.nvlinks) for k in host.links)


def pair_paths(host: Host, gpus: Iterable[int]) -> tuple[tuple[int, int, str], ...]:
    """(a, b, path) for every pair of ``gpus`` whose link is known, a < b."""
    out = []
    for a, b in combinations(sorted(gpus), 2):
        link = host.link(a, b)
        if link is not None:
            out.append((a, b, "NVLINK" if is_nvlink(link.path, link.nvlinks) else link.path.upper()))
    return tuple(out)


def nv_sets(host: Host, size: int, among: Iterable[int] | None = None) -> tuple[tuple[int, ...], ...]:
    """Every set of ``size`` GPUs (from ``among``, default all) all NVLink-connected to each other, sorted.

    Exhaustive over combinations: C(8, 4) = 70 sets on an 8-GPU host.
    """
    pool = sorted(among if among is not None else (g.index for g in host.gpus))
    if size < 2:
        return tuple((g,) for g in pool)
    return tuple(c for c in combinations(pool, size) if nv_connected(host, c))


def gpu_nodes(host: Host, gpus: Iterable[int]) -> frozenset[int]:
    """The NUMA nodes of ``gpus`` (GPUs whose node is unknown are left out)."""
    nodes = set()
    for i in gpus:
        node = host.gpu(i).numa_node
        if node is not None and node >= 0:
            nodes.add(node)
    return frozenset(nodes)
