"""NUMA findings: a workload's CPUs off its GPU's NUMA node (numa_mismatch), one job's GPUs on two nodes when
one node could hold it (job_split_numa).

Why it matters: a GPU's PCIe root hangs off one CPU socket. Host threads feeding it from the other socket,
and their pinned host buffers (first-touch memory), cross the inter-socket link (UPI/Infinity Fabric) on
every copy and kernel launch; NCCL between GPUs on two sockets goes through SYS paths.
"""

from __future__ import annotations

from collections import Counter

from axonize import bundle as bundle_module
from axonize.cpulist import format_cpulist

from ..model import Evidence, Finding, Host, Workload
from ..topology import gpu_nodes, local_cpus, workload_cpus, workload_gpus, workloads_on
from .evidence import container_labels, declared, metric
from .thresholds import DEFAULT, Thresholds


def findings(host: Host, bundle: bundle_module.Bundle, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """numa_mismatch and job_split_numa findings of ``host``."""
    return _mismatches(host) + _splits(host)


def _mismatches(host: Host) -> list[Finding]:
    out = []
    for w in host.workloads:
        if w.numa_placement:
            out += _measured(host, w)
            continue
        cpus = workload_cpus(host, w)
        if not cpus:
            continue
        off, evidence, nodes = [], [], set()
        for index in workload_gpus(w):
            gpu = host.gpu(index)
            local = local_cpus(host, gpu)
            if local is None or cpus <= local:
                continue
            off.append(index)
            nodes.add(gpu.numa_node)
            evidence.append(Evidence(f"GPU {index} NUMA node", str(gpu.numa_node), metric("axonize_gpu_numa_node", gpu=index)))
            evidence.append(Evidence(f"GPU {index} local CPUs", format_cpulist(local), metric("axonize_gpu_cpu_affinity_info", gpu=index)))
        if not off:
            continue
        pinned = bool(w.cpus)
        evidence.insert(0, declared(w, "CPUs", format_cpulist(cpus) + ("" if pinned else " (not pinned)")))
        if w.container and w.source == "containers":
            evidence.append(
                Evidence(f"{w.name} mismatch", "1", metric("axonize_gpu_container_numa_mismatch", gpu=off[0], **container_labels(w)))
            )
        remote = all(not (cpus & (local_cpus(host, host.gpu(i)) or frozenset())) for i in off)
        node_list = ", ".join(str(n) for n in sorted(n for n in nodes if n is not None))
        gpus_text = ", ".join(str(i) for i in off)
        if not pinned:
            why = (
                f"{w.name} is not pinned to any CPUs, so the operating system may run its threads on either socket, "
                f"while its GPU {gpus_text} is attached to NUMA node {node_list}."
            )
        elif remote:
            why = f"{w.name} is pinned to CPUs {format_cpulist(cpus)}, none of them on NUMA node {node_list} where its GPU {gpus_text} is attached."
        else:
            why = f"{w.name} may run on CPUs {format_cpulist(cpus)}, some of them outside NUMA node {node_list} where its GPU {gpus_text} is attached."
        out.append(
            Finding(
                kind="numa_mismatch",
                severity="warning",
                title=f"{w.name}: CPUs not on GPU {gpus_text}'s NUMA node",
                explanation=why
                + f" Data it copies to and from the GPU then crosses the link between the CPU sockets. Pin it to node {node_list}'s CPUs"
                f" (numactl --cpunodebind={node_list} --membind={node_list}, or the Kubernetes static CPU manager with the"
                " single-numa-node Topology Manager policy).",
                gpus=tuple(off),
                workloads=(w.name,),
                evidence=tuple(evidence),
                impact="slower host-to-GPU copies and data loading, more launch latency; lowers the NUMA term of the efficiency score (0.5 instead of 1)",
            )
        )
    return out


#: The exporter's placement words (axonize_gpu_container_numa_placement_info) in plain language.
_PLACEMENT_WHY = {
    "unpinned": "may run its threads on CPUs of either socket (its CPU set spans NUMA nodes)",
    "remote": "runs only on CPUs of another socket",
    "mismatch": "may run on CPUs outside that node",
}


def _measured(host: Host, w: Workload) -> list[Finding]:
    """A container the exporter measured off its GPU's NUMA node (``Workload.numa_placement`` not local)."""
    off = [(index, placement) for index, placement in w.numa_placement if placement != "local"]
    if not off:
        return []
    gpus = tuple(sorted({i for i, _ in off}))
    nodes = sorted({host.gpu(i).numa_node for i in gpus if host.gpu(i).numa_node is not None})
    node_list = ", ".join(map(str, nodes))
    evidence = []
    for index, placement in dict(off).items():
        labels = {"gpu": index, **container_labels(w)}
        evidence.append(Evidence(f"{w.name} on GPU {index} mismatch", "1", metric("axonize_gpu_container_numa_mismatch", **labels)))
        if placement != "mismatch":
            evidence.append(
                Evidence(f"{w.name} on GPU {index} placement", placement, metric("axonize_gpu_container_numa_placement_info", **labels))
            )
        evidence.append(Evidence(f"GPU {index} NUMA node", str(host.gpu(index).numa_node), metric("axonize_gpu_numa_node", gpu=index)))
    words = sorted({_PLACEMENT_WHY.get(p, p) for _, p in off})
    gpus_text = ", ".join(map(str, gpus))
    target = f" Pin it to node {node_list}'s CPUs" if len(nodes) == 1 else " Pin it to the CPUs of its GPUs' node"
    command = f" (numactl --cpunodebind={node_list} --membind={node_list}," if len(nodes) == 1 else " ("
    return [
        Finding(
            kind="numa_mismatch",
            severity="warning",
            title=f"{w.name}: CPUs not on GPU {gpus_text}'s NUMA node",
            explanation=(
                f"The exporter found that {w.name} {' and '.join(words)}, while its GPU {gpus_text} is attached to NUMA node {node_list}."
                " Data it copies to and from the GPU then crosses the link between the CPU sockets."
                + target
                + command
                + " or the Kubernetes static CPU manager with the single-numa-node Topology Manager policy)."
            ),
            gpus=gpus,
            workloads=(w.name,),
            evidence=tuple(evidence),
            impact="slower host-to-GPU copies and data loading, more launch latency; lowers the NUMA term of the efficiency score (0.5 instead of 1)",
        )
    ]


def _splits(host: Host) -> list[Finding]:
    out = []
    per_node = Counter(g.numa_node for g in host.gpus if g.numa_node is not None and g.numa_node >= 0)
    for w in host.workloads:
        gpus = workload_gpus(w)
        nodes = gpu_nodes(host, gpus)
        if len(gpus) < 2 or len(nodes) < 2:
            continue
        k = len(gpus)
        holders = sorted(n for n, count in per_node.items() if count >= k)
        if not holders:
            continue  # no single node has that many GPUs: the split is unavoidable
        free_now = [n for n in holders if sum(1 for g in host.gpus if g.numa_node == n and _free_for(host, g.index, w.name)) >= k]
        target = (free_now or holders)[0]
        by_node = {n: [i for i in gpus if host.gpu(i).numa_node == n] for n in sorted(nodes)}
        spread = "; ".join(f"GPU {', '.join(map(str, g))} on node {n}" for n, g in by_node.items())
        evidence = tuple(Evidence(f"GPU {i} NUMA node", str(host.gpu(i).numa_node), metric("axonize_gpu_numa_node", gpu=i)) for i in gpus)
        when = "has enough GPUs free now" if free_now else "has enough GPUs (once other work moves)"
        out.append(
            Finding(
                kind="job_split_numa",
                severity="warning",
                title=f"{w.name} spans NUMA nodes {', '.join(map(str, sorted(nodes)))}",
                explanation=(
                    f"{w.name} uses {k} GPUs split across CPU sockets ({spread}), but NUMA node {target} {when} to hold it on one socket."
                    " Moving it there keeps its CPU threads, host memory and GPU-to-GPU traffic off the inter-socket link."
                ),
                gpus=gpus,
                workloads=(w.name,),
                evidence=evidence,
                impact="cross-socket traffic for every host-to-GPU copy and for collectives that leave NVLink; its CPU side cannot be local to all its GPUs",
            )
        )
    return out


def _free_for(host: Host, index: int, name: str) -> bool:
    """True when GPU ``index`` holds nothing but workload ``name``."""
    return all(w.name == name for w in workloads_on(host, index))
