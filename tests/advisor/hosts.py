"""Hosts built for the advisor's tests, with the topologies of real captures.

* :func:`hgx_h200`: 8x H200 on an HGX board as shared/fixtures/nvidia/h200-x8-hgx_topo-m_nics.txt shows it:
  GPUs 0-3 on NUMA node 0 (CPUs 0-63,128-191), 4-7 on node 1 (64-127,192-255), every pair NV18 (NVSwitch),
  141 GB (150754820096 bytes, the driver 590 capture's total), PCIe Gen5 x16, $7.91/h (AWS p5en ÷ 8).
* :func:`l40s_x4`: 4x L40S on PCIe, no NVLink: GPUs 0-1 on node 0, 2-3 on node 1, pairs on one socket NODE,
  across sockets SYS; 48 GB (48305799168 bytes, the driver 595 capture), Gen4 x16, $1.86/h.
"""

from __future__ import annotations

from itertools import combinations

from axonize.advisor.model import Gpu, Host, Link, NumaNode, Workload
from axonize.cpulist import parse_cpulist

GIB = 2**30
H200_BYTES = 150754820096.0
L40S_BYTES = 48305799168.0
NODE_CPUS = {0: parse_cpulist("0-63,128-191"), 1: parse_cpulist("64-127,192-255")}


def gpu(index: int, node: int, model: str, total: float, price: float, gen: int, **kw) -> Gpu:
    values = {
        "utilization_ratio": 0.0,
        "sm_active_ratio": 0.0,
        "memory_used_bytes": 0.0,
        "pcie_generation": gen,
        "pcie_max_generation": gen,
        "pcie_width_lanes": 16,
        "pcie_max_width_lanes": 16,
        **kw,
    }
    return Gpu(
        index, f"GPU-{index:08d}", model, total, numa_node=node, cpu_affinity=NODE_CPUS[node], price_dollars_per_hour=price, **values
    )


def hgx_h200(workloads=(), **per_gpu) -> Host:
    """8x H200 HGX; ``per_gpu={3: {"sm_active_ratio": 0.9}}``-style overrides by keyword ``g3=...``."""
    gpus = tuple(gpu(i, 0 if i < 4 else 1, "NVIDIA H200", H200_BYTES, 7.91, 5, **per_gpu.get(f"g{i}", {})) for i in range(8))
    links = tuple(Link(a, b, "NVLINK", 18) for a, b in combinations(range(8), 2))
    return Host("hgx", gpus, links, tuple(NumaNode(n, c) for n, c in NODE_CPUS.items()), tuple(workloads))


def l40s_x4(workloads=(), **per_gpu) -> Host:
    gpus = tuple(gpu(i, 0 if i < 2 else 1, "NVIDIA L40S", L40S_BYTES, 1.86, 4, **per_gpu.get(f"g{i}", {})) for i in range(4))
    links = tuple(Link(a, b, "NODE" if (a < 2) == (b < 2) else "SYS") for a, b in combinations(range(4), 2))
    return Host("l40s", gpus, links, tuple(NumaNode(n, c) for n, c in NODE_CPUS.items()), tuple(workloads))


def busy(active: float = 0.9, used: float = 100 * GIB) -> dict:
    """A GPU's measured load."""
    return {"utilization_ratio": 1.0, "sm_active_ratio": active, "memory_used_bytes": used}


def job(name: str, gpus, cpus: str | None = None, kind: str = "training", memory: float | None = 100 * GIB, **kw) -> Workload:
    return Workload(name, kind, gpus=tuple(gpus), cpus=parse_cpulist(cpus) if cpus else None, memory_bytes=memory, **kw)


def clean_hgx() -> Host:
    """A well-placed HGX host: a 4-GPU job on GPUs 4-7 (one NV-connected set, NUMA node 1) pinned to node 1."""
    return hgx_h200(
        [job("train", (4, 5, 6, 7), "64-127,192-255")],
        **{f"g{i}": busy() for i in (4, 5, 6, 7)},
    )
