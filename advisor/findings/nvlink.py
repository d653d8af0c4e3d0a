"""nvlink_ignored: GPUs of one multi-GPU job (or of one tensor-parallel group) not all joined by NVLink while the
host has NVLink-connected GPU sets of that size.

Why it matters: NCCL sends a job's all-reduce and a tensor-parallel group's per-layer exchanges over the
closest path (NVLINK < PIX < PXB < PHB < NODE < SYS). On HGX H100/H200 boards NVLink 4 gives each GPU
900 GB/s (both directions); a PCIe Gen5 x16 link about 64 GB/s each way, and SYS paths also cross the
CPU sockets. A host without NVLink anywhere gets no finding: there is nothing to place better.
"""

from __future__ import annotations

from axonize import bundle as bundle_module

from ..model import Evidence, Finding, Host, Workload
from ..topology import gpu_nodes, has_nvlink, nv_sets, pair_paths, workloads_on
from .evidence import metric
from .thresholds import DEFAULT, Thresholds


def groups(w: Workload) -> tuple[tuple[int, ...], ...]:
    """The GPU groups of ``w`` that must talk over NVLink: its tensor-parallel groups (consecutive GPUs, as
    vLLM assigns ranks) when ``tensor_parallel`` divides its GPUs, else all its GPUs as one group."""
    gpus = tuple(w.gpus)
    tp = w.tensor_parallel
    if tp and 1 < tp < len(gpus) and len(gpus) % tp == 0:
        return tuple(gpus[i : i + tp] for i in range(0, len(gpus), tp))
    return (gpus,) if len(gpus) >= 2 and tp != 1 else ()


def findings(host: Host, bundle: bundle_module.Bundle, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """nvlink_ignored findings of ``host``."""
    if not has_nvlink(host):
        return []
    out = []
    for w in host.workloads:
        for group in groups(w):
            paths = pair_paths(host, group)
            slow = [(a, b, p) for a, b, p in paths if p != "NVLINK"]
            if not slow:
                continue
            # sets on one NUMA node first: the plan puts the group there
            candidates = sorted(nv_sets(host, len(group)), key=lambda s: (len(gpu_nodes(host, s)), s))
            if not candidates:
                continue
            free = [s for s in candidates if all(_free_for(host, i, w.name) for i in s)]
            best = (free or candidates)[0]
            worst = max(
                slow, key=lambda x: ("PIX", "PXB", "PHB", "NODE", "SYS").index(x[2]) if x[2] in ("PIX", "PXB", "PHB", "NODE", "SYS") else 0
            )
            evidence = tuple(
                Evidence(f"GPU {a} to GPU {b}", p, metric("axonize_gpu_peer_path_info", gpu=a, peer_gpu=b, path=p)) for a, b, p in slow[:6]
            )
            group_text = ", ".join(map(str, group))
            where = "is free now" if free else "exists (other work would have to move)"
            what = "tensor-parallel group" if len(groups(w)) > 1 or w.tensor_parallel else "job"
            out.append(
                Finding(
                    kind="nvlink_ignored",
                    severity="warning" if free else "info",
                    title=f"{w.name}: GPUs {group_text} not all on NVLink",
                    explanation=(
                        f"The {what} {w.name} runs on GPUs {group_text}, but GPU {worst[0]} and GPU {worst[1]} talk over {worst[2]}"
                        f" ({_path_words(worst[2])}) instead of NVLink. A set of {len(group)} GPUs all joined by NVLink"
                        f" (GPUs {', '.join(map(str, best))}) {where}: run it there."
                    ),
                    gpus=tuple(group),
                    workloads=(w.name,),
                    evidence=evidence,
                    impact="GPU-to-GPU transfers at PCIe speed (~64 GB/s each way on Gen5 x16) instead of NVLink's (900 GB/s per H100/H200 GPU); training steps and tensor-parallel inference slow down",
                )
            )
    return out


def _path_words(path: str) -> str:
    return {
        "PIX": "one PCIe switch",
        "PXB": "several PCIe switches",
        "PHB": "PCIe through the CPU's host bridge",
        "NODE": "PCIe across host bridges of one CPU socket",
        "SYS": "PCIe and the link between CPU sockets",
    }.get(path, path)


def _free_for(host: Host, index: int, name: str) -> bool:
    return all(w.name == name for w in workloads_on(host, index)) and index in {g.index for g in host.gpus if g.up}
