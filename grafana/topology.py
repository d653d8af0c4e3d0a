"""The Topology and placement dashboard: how one host's GPUs are wired and whether work sits next to them.

The GPU-to-GPU matrix of ``nvidia-smi topo -m`` (path type and bonded NVLinks per pair, axonize_gpu_peer_*), the
NUMA node and CPU affinity of each GPU, the host's NUMA nodes, the containers on each GPU with their NUMA placement
(and a count of those off their GPU's node), and the PCIe links against their maximum.
Variables: datasource, job, host (one).
"""

from __future__ import annotations

from axonize.bundle import Bundle

from . import panels as p
from . import variables
from .gpu_pcie_ecc_xid import pcie_below_max, pcie_link
from .queries import Scope

KEY = "topology"
DESCRIPTION = "Axonize topology and placement: one host's GPU-to-GPU NVLink/PCIe matrix, NUMA nodes and CPU affinity, containers off their GPU's NUMA node, PCIe links below maximum."
#: topo -m's path types, closest first, colored from green (NVLink) to red (across sockets).
PATH_COLORS = {"NVLINK": "green", "PIX": "#73BF69", "PXB": "yellow", "PHB": "orange", "NODE": "orange", "SYS": "red"}


def _matrix(s: Scope, grid: p.Grid) -> list:
    m = s.m
    paths = {
        "type": "value",
        "options": {path: {"text": path, "color": color, "index": i} for i, (path, color) in enumerate(PATH_COLORS.items())},
    }
    return [
        p.matrix(
            grid,
            "GPU-to-GPU paths",
            "How data travels between each pair of the host's GPUs, as nvidia-smi topo -m prints it "
            "(axonize_gpu_peer_path_info path): NVLINK, else the PCIe path, closest first: PIX (one PCIe switch), "
            "PXB (several switches), PHB (the CPU's host bridge), NODE (across host bridges of one NUMA node), "
            "SYS (across the inter-socket link). Rows GPU, columns peer GPU; the diagonal is empty.",
            "none",
            p.target(m("axonize_gpu_peer_path_info"), table=True),
            rows="gpu",
            columns="peer_gpu",
            value="path",
            mappings=[paths],
        ),
        p.matrix(
            grid,
            "NVLinks between GPUs",
            "Bonded NVLinks between each pair of the host's GPUs (axonize_gpu_peer_nvlinks: the # of topo -m's NV#; "
            "0 where the pair talks over PCIe). Rows GPU, columns peer GPU.",
            "none",
            p.target(m("axonize_gpu_peer_nvlinks"), table=True),
            rows="gpu",
            columns="peer_gpu",
            value="Value",
        ),
    ]


def _numa(s: Scope, grid: p.Grid) -> list:
    m = s.m
    grid.newline()
    return [
        p.table(
            grid,
            "NUMA node and CPU affinity per GPU",
            "The CPU-side NUMA node of each GPU's PCIe slot (axonize_gpu_numa_node), the CPUs closest to it as a Linux "
            "cpulist and their number (axonize_gpu_cpu_affinity_info cpus, axonize_gpu_cpu_affinity_cpus): run the "
            "GPU's host threads and memory there.",
            "none",
            [
                p.target(m("axonize_gpu_numa_node"), table=True),
                p.target(m("axonize_gpu_cpu_affinity_info"), table=True),
                p.target(m("axonize_gpu_cpu_affinity_cpus"), table=True),
            ],
            hidden=("Time", "__name__", "job", "Value #B"),
            renames={"Value #A": "NUMA node", "cpus": "CPU affinity", "Value #C": "CPUs"},
        ),
        p.table(
            grid,
            "Host NUMA nodes",
            "Each NUMA node of the host: its CPUs and their utilization, its memory used and total "
            "(axonize_numa_node_cpus, axonize_numa_node_cpu_utilization_ratio, axonize_numa_node_memory_used_bytes, "
            "_total_bytes).",
            "none",
            [
                p.target(m("axonize_numa_node_cpus"), table=True),
                p.target(m("axonize_numa_node_cpu_utilization_ratio"), table=True),
                p.target(m("axonize_numa_node_memory_used_bytes"), table=True),
                p.target(m("axonize_numa_node_memory_total_bytes"), table=True),
            ],
            hidden=("Time", "__name__", "job"),
            renames={"Value #A": "CPUs", "Value #B": "CPU utilization", "Value #C": "Memory used", "Value #D": "Memory total"},
        ),
    ]


def _placement(s: Scope, grid: p.Grid) -> list:
    m = s.m
    grid.newline()
    return [
        p.stat(
            grid,
            "Containers off their GPU's NUMA node",
            "Containers, pods or services on $host whose CPUs may run outside the NUMA node of the GPU they use "
            "(axonize_gpu_container_numa_mismatch == 1: placement unpinned or remote); the AxonizeContainerOffNumaNode "
            "alert names them. 0 when every one is pinned to its GPU's node.",
            "none",
            [p.target(f"count({m('axonize_gpu_container_numa_mismatch')} == 1) or vector(0)")],
            thresholds=[(1, "orange")],
            w=6,
            h=8,
        ),
        p.table(
            grid,
            "Container NUMA placement",
            "Where each container's CPUs may run relative to its GPU's NUMA node (axonize_gpu_container_numa_placement_info "
            "placement: local, only on it; unpinned, on it and others; remote, never on it; the worst of its processes), "
            "and Off node = 1 for unpinned or remote (axonize_gpu_container_numa_mismatch), largest first.",
            "none",
            [
                p.target(f"sort_desc({m('axonize_gpu_container_numa_mismatch')})", table=True),
                p.target(m("axonize_gpu_container_numa_placement_info"), table=True),
            ],
            hidden=("Time", "__name__", "job", "uuid", "pod_uid", "container_id", "Value #B"),
            renames={"Value #A": "Off node"},
            w=18,
        ),
        pcie_link(s, grid),
        pcie_below_max(s, grid),
    ]


def panels(cfg: Bundle) -> list:
    s = Scope(host_label=cfg.host_labels[-1], model=False)
    grid = p.Grid()
    return [*_matrix(s, grid), *_numa(s, grid), *_placement(s, grid)]


def dashboard_variables(cfg: Bundle) -> list:
    return [variables.datasource(cfg.grafana.datasource.uid), *variables.gpu_variables(cfg.host_labels[-1], multi_host=False)]
