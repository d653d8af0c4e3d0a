"""Where each GPU sits: NUMA node, CPU affinity, GPU-to-GPU paths and NVLink links.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_gpu_numa_node",
        "gauge",
        "",
        GPU,
        "CPU-side NUMA node of the GPU's PCIe slot: run the GPU's host threads and memory there.",
        _C,
    ),
    Name(
        "axonize_gpu_memory_numa_node",
        "gauge",
        "",
        GPU,
        "NUMA node of the GPU's own memory where the OS sees it as one (Grace Hopper); absent on x86 HGX.",
        _C,
    ),
    Name(
        "axonize_gpu_cpu_affinity_info",
        "info",
        "",
        (*GPU, "cpus"),
        "CPUs closest to the GPU, as a Linux cpulist (e.g. 0-51,104-155); value 1.",
        _C,
    ),
    Name("axonize_gpu_cpu_affinity_cpus", "gauge", "", GPU, "Number of CPUs in the GPU's CPU affinity.", _C),
    Name(
        "axonize_gpu_peer_path_info",
        "info",
        "",
        (*GPU, "peer_gpu", "peer_uuid", "path"),
        "How data travels from the GPU to a peer GPU: path NVLINK, or the PCIe path type PIX, PXB, PHB, NODE or SYS (closest first); value 1.",
        _C,
    ),
    Name(
        "axonize_gpu_peer_nvlinks",
        "gauge",
        "",
        (*GPU, "peer_gpu", "peer_uuid"),
        "Bonded NVLinks between the GPU and a peer GPU (the # of NV#); 0 when they talk over PCIe.",
        _C,
    ),
    Name(
        "axonize_gpu_nvlink_active",
        "gauge",
        "",
        (*GPU, "link", "peer_gpu", "peer_pci_bus_id"),
        "1 when the NVLink is up, else 0; peer_gpu is the GPU at the far end when it is one of this host's (empty for an NVSwitch).",
        _C,
    ),
    Name(
        "axonize_gpu_nvlink_transmit_bytes_total",
        "counter",
        "bytes",
        (*GPU, "link"),
        "Data bytes sent over the NVLink since the driver was loaded.",
        _C,
    ),
    Name(
        "axonize_gpu_nvlink_receive_bytes_total",
        "counter",
        "bytes",
        (*GPU, "link"),
        "Data bytes received over the NVLink since the driver was loaded.",
        _C,
    ),
)
