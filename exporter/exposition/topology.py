"""Where each GPU sits: NUMA node, CPU affinity, GPU-to-GPU paths and NVLinks (registry topic
:mod:`axonize.names.exporter.topology`).

``axonize_gpu_cpu_affinity_cpus`` reads ``Gpu.cpu_affinity_cpus``, counted once per cycle in the
collection path (a malformed cpulist is a counted error there, never an exception here). Sample::

    axonize_gpu_cpu_affinity_info{cpus="0-63,128-191",gpu="0",uuid="GPU-..."} 1.0
    axonize_gpu_peer_path_info{gpu="0",path="NVLINK",peer_gpu="1",peer_uuid="GPU-...",uuid="GPU-..."} 1.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..snapshot import Snapshot
from .family import NVML_SOURCE, TOPO_SOURCE, Metric, Sample, gpu_key


def _numa_node(snap: Snapshot) -> Iterator[Sample]:
    return ((gpu_key(g), float(g.numa_node)) for g in snap.gpus if g.numa_node is not None)


def _memory_numa_node(snap: Snapshot) -> Iterator[Sample]:
    return ((gpu_key(g), float(g.memory_numa_node)) for g in snap.gpus if g.memory_numa_node is not None)


def _cpu_affinity_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.cpu_affinity:
            yield gpu_key(gpu) + (gpu.cpu_affinity,), 1.0


def _cpu_affinity_cpus(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.cpu_affinity and gpu.cpu_affinity_cpus is not None:
            yield gpu_key(gpu), float(gpu.cpu_affinity_cpus)


def _links(nvlink_only: bool) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        uuids = {g.index: g.uuid for g in snap.gpus}
        for link in snap.links:
            if link.gpu not in uuids or link.peer_gpu not in uuids:
                continue
            key = (str(link.gpu), uuids[link.gpu], str(link.peer_gpu), uuids[link.peer_gpu])
            if nvlink_only:
                yield key, float(link.nvlinks)
            else:
                yield key + (link.path,), 1.0

    return samples


def _nvlink_active(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for link in gpu.nvlinks:
            peer = "" if link.peer_gpu is None else str(link.peer_gpu)
            yield gpu_key(gpu) + (str(link.link), peer, link.peer_pci_bus_id), 1.0 if link.active else 0.0


def _nvlink_bytes(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for link in gpu.nvlinks:
                value = getattr(link, attr)
                if value is not None:
                    yield gpu_key(gpu) + (str(link.link),), value

    return samples


ROWS: tuple[Metric, ...] = (
    Metric("axonize_gpu_numa_node", _numa_node, TOPO_SOURCE + " `NUMA Affinity`"),
    Metric("axonize_gpu_memory_numa_node", _memory_numa_node, TOPO_SOURCE + " `GPU NUMA ID`"),
    Metric("axonize_gpu_cpu_affinity_info", _cpu_affinity_info, TOPO_SOURCE + " `CPU Affinity`"),
    Metric("axonize_gpu_cpu_affinity_cpus", _cpu_affinity_cpus, TOPO_SOURCE + " `CPU Affinity`"),
    Metric("axonize_gpu_peer_path_info", _links(nvlink_only=False), TOPO_SOURCE + " matrix cells"),
    Metric("axonize_gpu_peer_nvlinks", _links(nvlink_only=True), TOPO_SOURCE + " `NV#` cells"),
    Metric("axonize_gpu_nvlink_active", _nvlink_active, NVML_SOURCE + " `nvmlDeviceGetNvLinkState`, `nvmlDeviceGetNvLinkRemotePciInfo`"),
    Metric(
        "axonize_gpu_nvlink_transmit_bytes_total",
        _nvlink_bytes("tx_bytes"),
        NVML_SOURCE + " field `NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX` (KiB) per link",
    ),
    Metric(
        "axonize_gpu_nvlink_receive_bytes_total",
        _nvlink_bytes("rx_bytes"),
        NVML_SOURCE + " field `NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX` (KiB) per link",
    ),
)
