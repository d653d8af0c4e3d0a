"""The snapshot: what the machine looks like at one instant, as plain data.

Axonize's identity model has three layers:

    Physical GPU  ->  Compute resource (whole GPU, or MIG GPU instance / compute instance)
                  ->  Runtime context (processes, later containers and pods)

Every backend (nvidia-smi replay, NVML) fills these classes and nothing else;
the collection loop adds the per-cycle derived fields (``Gpu.cpu_affinity_cpus``,
``Gpu.containers``: :func:`axonize.exporter.runtime_context.summarize`), and the
exposition reads them and nothing else. Data flows one way:
source -> :class:`Snapshot` -> exposition. No class here does I/O.

Units are base units throughout: bytes, watts, hertz, celsius, seconds, joules,
and ratios in 0..1. A value the source reports as unavailable ("N/A", "Not
Supported") is ``None`` (or missing from a dict), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: PCIe path types of ``nvidia-smi topo -m`` (closest first). ``NVLINK`` stands for NV#.
PCIE_PATH_TYPES = ("PIX", "PXB", "PHB", "NODE", "SYS")


@dataclass(frozen=True)
class Container:
    """Where a process runs, from its ``/proc/<pid>/cgroup`` (runtime-context layer).

    ``runtime`` is one of ``docker``, ``containerd``, ``cri-o``, ``podman``,
    ``systemd`` (a plain systemd service, ``id`` empty, ``systemd_unit`` set) or
    ``host`` (no container, no service). ``id`` is the full 64-hex container id.
    ``pod_uid`` comes from a Kubernetes cgroup path (``kubepods-...-pod<uid>.slice``
    or ``/kubepods/<qos>/pod<uid>/``, dashes restored); ``pod_name`` /
    ``namespace`` / ``name`` (the container's name) only where the kubelet or the
    runtime tells them, else ``""``.
    """

    runtime: str = "host"
    id: str = ""
    pod_uid: str = ""
    pod_name: str = ""
    namespace: str = ""
    name: str = ""
    systemd_unit: str = ""


@dataclass
class Process:
    """A process holding GPU memory (runtime-context layer).

    ``gpu_instance_id`` / ``compute_instance_id`` are set when the process runs
    inside a MIG instance, else ``None``. ``container`` and ``cpu_numa_nodes``
    (the NUMA nodes its allowed CPUs belong to, from ``Cpus_allowed_list``) are
    filled from /proc when the exporter can see the process, else ``None``.
    ``sm_utilization_ratio`` / ``memory_utilization_ratio`` come from NVML's
    per-process utilization samples (0..1).
    """

    pid: int
    name: str = ""
    type: str = ""  # "C" compute, "G" graphics, "C+G"
    used_memory_bytes: float | None = None
    gpu_instance_id: int | None = None
    compute_instance_id: int | None = None
    sm_utilization_ratio: float | None = None
    memory_utilization_ratio: float | None = None
    container: Container | None = None
    cpu_numa_nodes: tuple[int, ...] | None = None


@dataclass
class MigDevice:
    """One MIG device: a compute instance inside a GPU instance (compute-resource layer).

    Memory belongs to the GPU instance (all compute instances of one GPU
    instance report the same shared memory); SMs belong to the compute instance.
    ``profile`` (e.g. ``3g.40gb`` or ``1c.3g.71gb``) and ``uuid`` come from
    ``nvidia-smi -L`` or NVML; ``nvidia-smi -q`` does not print them.
    """

    index: int
    gpu_instance_id: int
    compute_instance_id: int
    profile: str | None = None
    uuid: str | None = None
    multiprocessor_count: int | None = None
    memory_total_bytes: float | None = None
    memory_used_bytes: float | None = None
    memory_free_bytes: float | None = None
    memory_reserved_bytes: float | None = None
    # GPM activity of the MIG instance (Hopper and later), 0..1
    activity: dict[str, float] = field(default_factory=dict)
    # share of the GPU's price its GPU instance costs (compute slices / the GPU's), 0..1; same on every CI of a GI
    price_share_ratio: float | None = None


@dataclass(frozen=True)
class ContainerUsage:
    """The processes of one container on one GPU (or one MIG instance of it), summed once per cycle.

    ``container`` None groups the processes whose container is unknown (not visible, or a malformed
    cgroup file). ``processes`` counts them; ``used_memory_bytes`` sums the memory of those that
    report it (None when none does). ``sm_utilization_ratio`` / ``memory_utilization_ratio`` sum the
    processes' NVML utilization samples, each the process's share of the GPU's (or MIG instance's)
    time over the sample window, so the sum is the container's share; capped at 1.0, which
    overlapping samples of concurrent processes (MPS) can otherwise exceed. None when no process
    reports it. ``placement`` is the NUMA placement (``local``, ``unpinned``, ``remote``) of the
    group's worst-placed process against the GPU's node, None when no process's is known.
    """

    container: Container | None
    gpu_instance_id: int | None
    compute_instance_id: int | None
    processes: int
    used_memory_bytes: float | None
    sm_utilization_ratio: float | None
    memory_utilization_ratio: float | None
    placement: str | None = None


#: GPM activity kinds (NVML GPM metrics; the names dcgm-exporter's DCGM_FI_PROF_* fields use in words).
ACTIVITY_KINDS = (
    "sm_active",
    "sm_occupancy",
    "tensor_active",
    "dram_active",
    "graphics_engine_active",
    "fp64_active",
    "fp32_active",
    "fp16_active",
)


@dataclass(frozen=True)
class GpuPrice:
    """What an hour of the GPU costs, from the price table (``--cost.config``, axonize/bundle.yml ``prices``).

    ``dollars_per_hour`` is USD per GPU-hour; ``source`` and ``date`` say where
    the figure comes from; ``rule`` names the table row that applied
    (``"default"``, ``"gpus[1]"``, ``"hosts[0]"``).
    """

    dollars_per_hour: float
    source: str
    date: str
    rule: str


@dataclass
class NvLink:
    """One NVLink of a GPU (NVML ``nvmlDeviceGetNvLinkState`` and field values).

    ``peer_pci_bus_id`` is the remote end (a GPU or an NVSwitch); ``peer_gpu``
    the index of the peer GPU when the remote end is one on this host.
    Throughput counters are cumulative bytes since the driver was loaded.
    """

    link: int
    active: bool
    peer_pci_bus_id: str = ""
    peer_gpu: int | None = None
    tx_bytes: float | None = None
    rx_bytes: float | None = None


@dataclass
class NumaNode:
    """One host NUMA node (``/sys/devices/system/node/node<N>`` and psutil).

    ``cpu_utilization_ratio`` is the mean busy share of its CPUs over the last
    collection interval (0..1); memory from the node's ``meminfo``, bytes.
    """

    node: int
    cpus: int = 0
    cpu_utilization_ratio: float | None = None
    memory_total_bytes: float | None = None
    memory_used_bytes: float | None = None


@dataclass
class Gpu:
    """One physical GPU and its latest readings.

    ``index`` is the nvidia-smi / NVML enumeration index (PCI bus order), which
    is also the ``GPU<n>`` of ``nvidia-smi topo -m``. ``numa_node`` is the
    CPU-side NUMA node the GPU's PCIe slot hangs off (``NUMA Affinity`` of
    ``topo -m``, or ``/sys/bus/pci/devices/<bus id>/numa_node``);
    ``memory_numa_node`` is the GPU's own memory NUMA node (``GPU NUMA ID``,
    N/A on x86 HGX systems).
    """

    index: int
    uuid: str
    pci_bus_id: str = ""
    name: str = ""  # product name, e.g. "NVIDIA H100 80GB HBM3"
    brand: str = ""
    architecture: str = ""
    serial: str = ""
    vbios_version: str = ""
    minor_number: int | None = None
    mig_mode: bool | None = None
    persistence_mode: bool | None = None
    compute_mode: str = ""
    # NUMA and CPU placement (from topology)
    numa_node: int | None = None
    memory_numa_node: int | None = None
    cpu_affinity: str | None = None  # cpulist syntax, e.g. "0-51,104-155"
    cpu_affinity_cpus: int | None = None  # CPUs in cpu_affinity (derived once per cycle)
    # memory
    memory_total_bytes: float | None = None
    memory_used_bytes: float | None = None
    memory_free_bytes: float | None = None
    memory_reserved_bytes: float | None = None
    bar1_total_bytes: float | None = None
    bar1_used_bytes: float | None = None
    # utilization, 0..1
    utilization_ratio: float | None = None
    memory_utilization_ratio: float | None = None
    encoder_utilization_ratio: float | None = None
    decoder_utilization_ratio: float | None = None
    # power and energy
    power_watts: float | None = None
    power_instant_watts: float | None = None
    power_limit_watts: float | None = None
    memory_power_watts: float | None = None
    energy_joules: float | None = None
    # thermals and fans
    temperature_celsius: float | None = None
    memory_temperature_celsius: float | None = None
    fan_speed_ratio: float | None = None
    performance_state: int | None = None
    # clocks: {"graphics"|"sm"|"memory"|"video": hertz}
    clocks_hertz: dict[str, float] = field(default_factory=dict)
    max_clocks_hertz: dict[str, float] = field(default_factory=dict)
    # clock-event (throttle) reasons: {reason: active}; cumulative time per reason
    clock_event_reasons: dict[str, bool] = field(default_factory=dict)
    clock_event_seconds: dict[str, float] = field(default_factory=dict)
    # PCIe
    pcie_tx_bytes_per_second: float | None = None
    pcie_rx_bytes_per_second: float | None = None
    pcie_replays: float | None = None
    pcie_link_generation: int | None = None
    pcie_link_max_generation: int | None = None
    pcie_link_width: int | None = None
    pcie_link_max_width: int | None = None
    # ECC: {(memory, type): count}, memory in {"sram","dram",...}, type in {"correctable","uncorrectable"}
    ecc_mode: bool | None = None
    ecc_errors_volatile: dict[tuple[str, str], float] = field(default_factory=dict)
    ecc_errors_aggregate: dict[tuple[str, str], float] = field(default_factory=dict)
    # row remapping: {"correctable"|"uncorrectable": rows}; retired pages {"single_bit"|"double_bit": pages}
    remapped_rows: dict[str, float] = field(default_factory=dict)
    remapped_rows_pending: bool | None = None
    remapped_rows_failure: bool | None = None
    retired_pages: dict[str, float] = field(default_factory=dict)
    # GPM activity (Hopper and later): {ACTIVITY_KINDS: ratio 0..1}
    activity: dict[str, float] = field(default_factory=dict)
    # XID errors seen by the event thread since the exporter started: {xid: count}, {xid: unix time last seen}
    xid_errors: dict[int, float] = field(default_factory=dict)
    xid_last_seen_seconds: dict[int, float] = field(default_factory=dict)
    nvlinks: list[NvLink] = field(default_factory=list)
    # the price that applies to the GPU (set after collection from the price table), else None
    price: GpuPrice | None = None
    # None when readable; else the fault kind ("gpu_lost", "timeout", ...) that isolated the GPU this cycle
    fault: str | None = None
    # layers below the physical GPU
    mig_devices: list[MigDevice] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    # processes grouped by container and MIG instance (derived once per cycle from processes)
    containers: list[ContainerUsage] = field(default_factory=list)


@dataclass(frozen=True)
class Link:
    """The path between two GPUs, from ``nvidia-smi topo -m`` or NVML.

    ``path`` is ``"NVLINK"`` (then ``nvlinks`` is the bonded link count, the
    ``#`` of ``NV#``) or a PCIe path type from :data:`PCIE_PATH_TYPES`.
    One Link per ordered pair (a, b), a != b.
    """

    gpu: int
    peer_gpu: int
    path: str
    nvlinks: int = 0


@dataclass(frozen=True)
class CollectionError:
    """One problem met while collecting; the snapshot is still usable.

    ``source`` names the backend ("replay", "nvml", "topology"); ``location``
    the file and line or element (or GPU) it concerns; ``kind`` a short
    machine-readable class ("parse", "value", "mismatch", "unavailable", ...).
    """

    source: str
    location: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class Snapshot:
    """Everything one collection cycle saw on one host."""

    hostname: str = ""
    driver_version: str = ""
    cuda_version: str = ""
    backend: str = ""  # "replay" or "nvml"
    gpus: list[Gpu] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    numa_nodes: list[NumaNode] = field(default_factory=list)
    errors: list[CollectionError] = field(default_factory=list)
