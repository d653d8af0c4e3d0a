"""GPU use per container, pod and process, NUMA placement, and the host's NUMA nodes.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name


NAMES: tuple[Name, ...] = (
    Name('axonize_numa_node_cpus', 'gauge', '', ('node',), 'CPUs of the host NUMA node.', 'exporter'),
    Name('axonize_numa_node_cpu_utilization_ratio', 'gauge', 'ratio', ('node',), "Mean busy share of the NUMA node's CPUs over the last collection interval, 0-1.", 'exporter'),
    Name('axonize_numa_node_memory_total_bytes', 'gauge', 'bytes', ('node',), 'Memory of the host NUMA node.', 'exporter'),
    Name('axonize_numa_node_memory_used_bytes', 'gauge', 'bytes', ('node',), 'Memory in use on the host NUMA node (MemTotal - MemFree).', 'exporter'),
    Name('axonize_gpu_container_memory_used_bytes', 'gauge', 'bytes', ('gpu', 'uuid', 'gpu_instance_id', 'compute_instance_id', 'container_runtime', 'container_id', 'container', 'pod', 'namespace', 'pod_uid', 'systemd_unit'), 'GPU memory held by the processes of one container (or pod, or systemd service) on the GPU or MIG instance; empty container labels group processes whose container is unknown (replays, no host PID namespace).', 'exporter'),
    Name('axonize_gpu_container_processes', 'gauge', '', ('gpu', 'uuid', 'gpu_instance_id', 'compute_instance_id', 'container_runtime', 'container_id', 'container', 'pod', 'namespace', 'pod_uid', 'systemd_unit'), 'Processes of the container holding memory on the GPU or MIG instance.', 'exporter'),
    Name('axonize_gpu_container_sm_utilization_ratio', 'gauge', 'ratio', ('gpu', 'uuid', 'gpu_instance_id', 'compute_instance_id', 'container_runtime', 'container_id', 'container', 'pod', 'namespace', 'pod_uid', 'systemd_unit'), "The container's share of the GPU's SM time over NVML's last sample window (sum over its processes, capped at 1).", 'exporter'),
    Name('axonize_gpu_container_numa_placement_info', 'info', '', ('gpu', 'uuid', 'gpu_instance_id', 'compute_instance_id', 'container_runtime', 'container_id', 'container', 'pod', 'namespace', 'pod_uid', 'systemd_unit', 'placement'), "Where the container's CPUs may run relative to the GPU's NUMA node: local (only on it), unpinned (on it and others), remote (never on it); the worst of its processes; value 1.", 'exporter'),
    Name('axonize_gpu_container_numa_mismatch', 'gauge', '', ('gpu', 'uuid', 'gpu_instance_id', 'compute_instance_id', 'container_runtime', 'container_id', 'container', 'pod', 'namespace', 'pod_uid', 'systemd_unit'), "1 when the container may run on CPUs outside the GPU's NUMA node (placement unpinned or remote), 0 when local.", 'exporter'),
    Name('axonize_gpu_process_memory_used_bytes', 'gauge', 'bytes', ('gpu', 'uuid', 'pid', 'process_name', 'process_type', 'gpu_instance_id', 'compute_instance_id'), 'GPU memory held by a process (type C compute, G graphics); MIG instance ids when it runs in one. Name only, never the command line.', 'exporter'),
)
