"""The ``axonize_*`` exposition: a :class:`~axonize.exporter.snapshot.Snapshot` -> metric families.

Each metric is a :class:`Metric` row of :data:`METRICS`: name, type, unit,
labels, help, where the value comes from, and a function that yields its
samples from a snapshot. The same table renders the exposition and writes
docs/metrics.md (``python -m axonize.exporter.docs``), so the two cannot
drift. Every per-GPU series carries ``gpu`` (nvidia-smi / NVML index) and
``uuid``. A value the source does not provide yields no sample (an absent
series), never 0.

Sample output (8x H100 SXM replay)::

    # HELP axonize_gpu_memory_total_bytes Total framebuffer memory of the GPU.
    # TYPE axonize_gpu_memory_total_bytes gauge
    axonize_gpu_memory_total_bytes{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 8.5520809984e+010
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric as PromMetric

from .replay.gpu_fields import CLOCK_EVENT_COUNTERS, CLOCK_EVENT_REASONS, KEYED, SCALARS
from .replay.topology import cpulist_count
from .numa import numa_placement
from .runtime_context import ContainerUsage, aggregate_by_container
from .snapshot import Gpu, Snapshot

GPU_LABELS = ("gpu", "uuid")
Sample = tuple[tuple[str, ...], float]


@dataclass(frozen=True)
class Metric:
    """One metric family of the exposition.

    ``samples(snapshot)`` yields ``(label values, value)`` in the order of
    ``labels``. ``unit`` is the base unit ("bytes", "ratio", ...) or "" for
    counts and info metrics. ``source`` says where the value comes from.
    """

    name: str
    type: str  # "gauge" | "counter" | "info"
    unit: str
    labels: tuple[str, ...]
    help: str
    source: str
    samples: Callable[[Snapshot], Iterable[Sample]]

    def family(self, snapshot: Snapshot) -> PromMetric:
        if self.type == "counter":
            fam: PromMetric = CounterMetricFamily(self.name, self.help, labels=self.labels)
        else:
            fam = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for labels, value in self.samples(snapshot):
            fam.add_metric(labels, value)
        return fam


def _gpu_key(gpu: Gpu) -> tuple[str, str]:
    return (str(gpu.index), gpu.uuid)


def _field_source(attr: str, key: Optional[str] = None) -> str:
    for f in SCALARS:
        if f.attr == attr:
            return _describe(f.text, f.xml)
    for a, k, f in KEYED:
        if a == attr and (key is None or k == key):
            return _describe(f.text, f.xml)
    raise KeyError(attr)


def _describe(text: tuple[str, ...], xml: tuple[str, ...]) -> str:
    return "nvidia-smi -q `" + "` or `".join(p.replace("/", " › ") for p in text) + "`; -q -x `" + "` or `".join(xml) + "`"


def _scalar(name: str, attr: str, unit: str, help: str, type: str = "gauge", source: str = "") -> Metric:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            value = getattr(gpu, attr)
            if value is not None:
                yield _gpu_key(gpu), float(value)

    return Metric(name, type, unit, GPU_LABELS, help, source or _field_source(attr), samples)


def _flag(name: str, attr: str, help: str, source: Optional[str] = None) -> Metric:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            value = getattr(gpu, attr)
            if value is not None:
                yield _gpu_key(gpu), 1.0 if value else 0.0

    return Metric(name, "gauge", "", GPU_LABELS, help, source or _field_source(attr), samples)


def _keyed(name: str, attr: str, label: str, unit: str, help: str, type: str = "gauge", source: str = "") -> Metric:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for key, value in sorted(getattr(gpu, attr).items()):
                yield _gpu_key(gpu) + (key,), float(value)

    if not source:
        source = "; ".join(f"{k}: " + _field_source(a, k) for a, k, _ in KEYED if a == attr)
    return Metric(name, type, unit, GPU_LABELS + (label,), help, source, samples)


# --- identity and placement --------------------------------------------------------------


def _gpu_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        mig = "" if gpu.mig_mode is None else ("enabled" if gpu.mig_mode else "disabled")
        yield _gpu_key(gpu) + (
            gpu.name,
            gpu.pci_bus_id,
            gpu.serial,
            gpu.brand,
            gpu.architecture,
            gpu.vbios_version,
            snap.driver_version,
            snap.cuda_version,
            mig,
            gpu.compute_mode,
        ), 1.0


def _host_info(snap: Snapshot) -> Iterator[Sample]:
    yield (snap.hostname, snap.driver_version, snap.cuda_version, snap.backend), 1.0


def _cpu_affinity_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.cpu_affinity:
            yield _gpu_key(gpu) + (gpu.cpu_affinity,), 1.0


def _cpu_affinity_cpus(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.cpu_affinity:
            yield _gpu_key(gpu), float(cpulist_count(gpu.cpu_affinity))


def _links(snap: Snapshot, nvlink_only: bool) -> Iterator[Sample]:
    uuids = {g.index: g.uuid for g in snap.gpus}
    for link in snap.links:
        if link.gpu not in uuids or link.peer_gpu not in uuids:
            continue
        key = (str(link.gpu), uuids[link.gpu], str(link.peer_gpu), uuids[link.peer_gpu])
        if nvlink_only:
            yield key, float(link.nvlinks)
        else:
            yield key + (link.path,), 1.0


# --- MIG and processes -------------------------------------------------------------------


def _mig_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for dev in gpu.mig_devices:
            yield _gpu_key(gpu) + (
                str(dev.index),
                str(dev.gpu_instance_id),
                str(dev.compute_instance_id),
                dev.profile or "",
                dev.uuid or "",
            ), 1.0


def _mig_sms(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for dev in gpu.mig_devices:
            if dev.multiprocessor_count is not None:
                yield _gpu_key(gpu) + (str(dev.gpu_instance_id), str(dev.compute_instance_id)), float(dev.multiprocessor_count)


def _mig_memory(part: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            seen: set[int] = set()
            for dev in gpu.mig_devices:
                # all compute instances of one GPU instance report the GI's shared memory: once per GI
                value = getattr(dev, f"memory_{part}_bytes")
                if dev.gpu_instance_id in seen or value is None:
                    continue
                seen.add(dev.gpu_instance_id)
                yield _gpu_key(gpu) + (str(dev.gpu_instance_id),), float(value)

    return samples


# --- prices (set on the snapshot by prices.apply_prices; absent when no table was applied) ---------


def _gpu_price(snap: Snapshot) -> Iterator[Sample]:
    """``axonize_gpu_price_dollars_per_hour{gpu="0",uuid="GPU-..."} 6.88``"""
    for gpu in snap.gpus:
        if gpu.price is not None:
            yield _gpu_key(gpu), gpu.price.dollars_per_hour


def _gpu_price_info(snap: Snapshot) -> Iterator[Sample]:
    """``axonize_gpu_price_info{gpu="0",uuid="GPU-...",source="AWS p5.48xlarge ...",date="2025-06",rule="gpus[1]"} 1``"""
    for gpu in snap.gpus:
        if gpu.price is not None:
            yield _gpu_key(gpu) + (gpu.price.source, gpu.price.date, gpu.price.rule), 1.0


def _mig_price(part: str) -> Callable[[Snapshot], Iterator[Sample]]:
    """Once per GPU instance: ``axonize_mig_price_dollars_per_hour{gpu="0",uuid="GPU-...",gpu_instance_id="2"} 3.39``
    (7.91 x 3/7 for a 3g.71gb instance of an H200) and ``axonize_mig_price_share_ratio{...} 0.428571``."""

    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            if gpu.price is None:
                continue
            seen: set[int] = set()
            for dev in gpu.mig_devices:
                if dev.price_share_ratio is None or dev.gpu_instance_id in seen:
                    continue
                seen.add(dev.gpu_instance_id)
                value = dev.price_share_ratio * (gpu.price.dollars_per_hour if part == "dollars" else 1.0)
                yield _gpu_key(gpu) + (str(dev.gpu_instance_id),), value

    return samples


def _process_memory(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for proc in gpu.processes:
            if proc.used_memory_bytes is None:
                continue
            yield _gpu_key(gpu) + (
                str(proc.pid),
                proc.name,
                proc.type,
                "" if proc.gpu_instance_id is None else str(proc.gpu_instance_id),
                "" if proc.compute_instance_id is None else str(proc.compute_instance_id),
            ), float(proc.used_memory_bytes)


CONTAINER_LABELS = GPU_LABELS + (
    "gpu_instance_id", "compute_instance_id", "container_runtime", "container_id", "container", "pod", "namespace", "pod_uid", "systemd_unit",
)
_PLACEMENT_ORDER = {"local": 0, "unpinned": 1, "remote": 2}


_rows_cache: list = [None, []]  # (snapshot, rows): five families read the same grouping each cycle


def _container_rows(snap: Snapshot) -> list[tuple[tuple[str, ...], ContainerUsage, Optional[str]]]:
    """(labels, usage, NUMA placement of the group's worst-placed process or None) per container and GPU."""
    if _rows_cache[0] is not snap:
        _rows_cache[:] = [snap, list(_group_containers(snap))]
    return _rows_cache[1]


def _group_containers(snap: Snapshot) -> Iterator[tuple[tuple[str, ...], ContainerUsage, Optional[str]]]:
    for gpu in snap.gpus:
        for row in aggregate_by_container(gpu):
            c = row.container
            labels = _gpu_key(gpu) + (
                "" if row.gpu_instance_id is None else str(row.gpu_instance_id),
                "" if row.compute_instance_id is None else str(row.compute_instance_id),
                c.runtime if c else "",
                c.id if c else "",
                c.name if c else "",
                c.pod_name if c else "",
                c.namespace if c else "",
                c.pod_uid if c else "",
                c.systemd_unit if c else "",
            )
            members = [
                p for p in gpu.processes
                if (p.container, p.gpu_instance_id, p.compute_instance_id) == (c, row.gpu_instance_id, row.compute_instance_id)
            ]
            places = [numa_placement(p.cpu_numa_nodes, gpu.numa_node) for p in members]
            known = [x for x in places if x is not None]
            yield labels, row, max(known, key=_PLACEMENT_ORDER.__getitem__) if known else None


def _container_value(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for labels, row, _ in _container_rows(snap):
            value = getattr(row, attr)
            if value is not None:
                yield labels, float(value)

    return samples


def _container_placement(snap: Snapshot) -> Iterator[Sample]:
    for labels, _, placement in _container_rows(snap):
        if placement is not None:
            yield labels + (placement,), 1.0


def _container_mismatch(snap: Snapshot) -> Iterator[Sample]:
    for labels, _, placement in _container_rows(snap):
        if placement is not None:
            yield labels, 0.0 if placement == "local" else 1.0


def _ecc(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for (memory, kind), value in sorted(getattr(gpu, attr).items()):
                yield _gpu_key(gpu) + (memory, kind), float(value)

    return samples


def _gpu_up(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        yield _gpu_key(gpu), 0.0 if gpu.fault else 1.0


def _gpu_fault(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.fault:
            yield _gpu_key(gpu) + (gpu.fault,), 1.0


def _activity(kind: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            if kind in gpu.activity:
                yield _gpu_key(gpu), gpu.activity[kind]

    return samples


def _mig_activity(kind: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            seen: set[int] = set()
            for dev in gpu.mig_devices:  # GPM samples a GPU instance: once per GI
                if kind in dev.activity and dev.gpu_instance_id not in seen:
                    seen.add(dev.gpu_instance_id)
                    yield _gpu_key(gpu) + (str(dev.gpu_instance_id),), dev.activity[kind]

    return samples


def _xid(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for code, value in sorted(getattr(gpu, attr).items()):
                yield _gpu_key(gpu) + (str(code),), float(value)

    return samples


def _nvlink_active(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for link in gpu.nvlinks:
            peer = "" if link.peer_gpu is None else str(link.peer_gpu)
            yield _gpu_key(gpu) + (str(link.link), peer, link.peer_pci_bus_id), 1.0 if link.active else 0.0


def _nvlink_bytes(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for link in gpu.nvlinks:
                value = getattr(link, attr)
                if value is not None:
                    yield _gpu_key(gpu) + (str(link.link),), value

    return samples


def _numa_node(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for node in snap.numa_nodes:
            value = getattr(node, attr)
            if value is not None:
                yield (str(node.node),), float(value)

    return samples


_REASON_SOURCE = (
    "nvidia-smi -q `Clocks Event Reasons` (`Clocks Throttle Reasons` before driver 530); "
    "-q -x `clocks_event_reasons` / `clocks_throttle_reasons`; reasons: " + ", ".join(CLOCK_EVENT_REASONS)
)
_REASON_COUNTER_SOURCE = (
    "nvidia-smi -q `Clocks Event Reasons Counters` (driver >= 550, microseconds); -q -x "
    "`clocks_event_reasons_counters`; reasons: " + ", ".join(CLOCK_EVENT_COUNTERS)
)
_ECC_SOURCE = "nvidia-smi -q `ECC Errors › {scope}`; -q -x `ecc_errors/{scope}` (SRAM Uncorrectable Parity and SEC-DED are summed)"
_TOPO_SOURCE = "nvidia-smi topo -m"
_NVML_SOURCE = "NVML"
_PRICE_SOURCE = (
    "rules/config.yml `prices` (or the --cost.config file): the first `hosts` row whose `hostname` matches, "
    "else the first `gpus` row whose `match` is found in the model name, else `default`"
)
_MIG_SHARE_SOURCE = (
    "the MIG profile's GPU-instance slices (nvidia-smi -L or NVML device name, `3g` of `3g.40gb` or `1c.3g.71gb`) over the GPU's "
    "(7 on A100, H100, H20, H200, GH200, B200, GB200; 4 on A30), as in the NVIDIA MIG User Guide's profile tables"
)
_GPM_SOURCE = "NVML GPM `{metric}` (Hopper and later; percent over the collection interval); absent in replays"
#: GPM activity kinds: (snapshot key, NVML GPM metric, help)
_ACTIVITY = (
    ("sm_active", "NVML_GPM_METRIC_SM_UTIL", "Share of SMs busy (at least one warp resident) over the interval, 0-1: the honest 'GPU busy' (DCGM_FI_PROF_SM_ACTIVE)."),
    ("sm_occupancy", "NVML_GPM_METRIC_SM_OCCUPANCY", "Resident warps as a share of the SMs' maximum over the interval, 0-1 (DCGM_FI_PROF_SM_OCCUPANCY)."),
    ("tensor_active", "NVML_GPM_METRIC_ANY_TENSOR_UTIL", "Share of cycles any tensor pipe was busy over the interval, 0-1 (DCGM_FI_PROF_PIPE_TENSOR_ACTIVE)."),
    ("dram_active", "NVML_GPM_METRIC_DRAM_BW_UTIL", "Device-memory bandwidth used as a share of the peak over the interval, 0-1 (DCGM_FI_PROF_DRAM_ACTIVE)."),
    ("graphics_engine_active", "NVML_GPM_METRIC_GRAPHICS_UTIL", "Share of time the graphics/compute engine was active over the interval, 0-1 (DCGM_FI_PROF_GR_ENGINE_ACTIVE)."),
    ("fp64_active", "NVML_GPM_METRIC_FP64_UTIL", "Share of time the SMs did non-tensor FP64 math over the interval, 0-1."),
    ("fp32_active", "NVML_GPM_METRIC_FP32_UTIL", "Share of time the SMs did non-tensor FP32 math over the interval, 0-1."),
    ("fp16_active", "NVML_GPM_METRIC_FP16_UTIL", "Share of time the SMs did non-tensor FP16 math over the interval, 0-1."),
)

METRICS: tuple[Metric, ...] = (
    Metric(
        "axonize_host_info",
        "info",
        "",
        ("hostname", "driver_version", "cuda_version", "backend"),
        "The host: NVIDIA driver and CUDA versions and the backend that collected it (replay or nvml).",
        "nvidia-smi -q `Driver Version`, `CUDA Version`; -q -x `driver_version`, `cuda_version`",
        _host_info,
    ),
    Metric(
        "axonize_gpu_info",
        "info",
        "",
        GPU_LABELS
        + ("model", "pci_bus_id", "serial", "brand", "architecture", "vbios_version", "driver_version", "cuda_version", "mig_mode", "compute_mode"),
        "Identity of the GPU; value 1.",
        "nvidia-smi -q `Product Name`, `PCI › Bus Id`, `Serial Number`, `VBIOS Version`, `MIG Mode › Current`; -q -x the same elements",
        _gpu_info,
    ),
    _scalar("axonize_gpu_memory_total_bytes", "memory_total_bytes", "bytes", "Total framebuffer memory of the GPU."),
    _scalar("axonize_gpu_memory_used_bytes", "memory_used_bytes", "bytes", "Framebuffer memory in use."),
    _scalar("axonize_gpu_memory_free_bytes", "memory_free_bytes", "bytes", "Framebuffer memory free."),
    _scalar("axonize_gpu_memory_reserved_bytes", "memory_reserved_bytes", "bytes", "Framebuffer memory reserved by the driver and firmware."),
    _scalar("axonize_gpu_bar1_memory_total_bytes", "bar1_total_bytes", "bytes", "Total BAR1 memory (the CPU-visible aperture)."),
    _scalar("axonize_gpu_bar1_memory_used_bytes", "bar1_used_bytes", "bytes", "BAR1 memory in use."),
    _scalar(
        "axonize_gpu_utilization_ratio",
        "utilization_ratio",
        "ratio",
        "Share of the sample period in which at least one kernel ran (NVML utilization.gpu, 0-1; N/A under MIG). Not SM occupancy.",
    ),
    _scalar(
        "axonize_gpu_memory_utilization_ratio",
        "memory_utilization_ratio",
        "ratio",
        "Share of the sample period in which device memory was read or written (memory-controller busy, 0-1), not capacity used.",
    ),
    _scalar("axonize_gpu_encoder_utilization_ratio", "encoder_utilization_ratio", "ratio", "Video encoder utilization, 0-1."),
    _scalar("axonize_gpu_decoder_utilization_ratio", "decoder_utilization_ratio", "ratio", "Video decoder utilization, 0-1."),
    _scalar(
        "axonize_gpu_power_watts",
        "power_watts",
        "watts",
        "Board power draw (average over 1 s on Ampere and later except GA100; instantaneous on older GPUs).",
    ),
    _scalar("axonize_gpu_power_instant_watts", "power_instant_watts", "watts", "Instantaneous board power draw (driver >= 535)."),
    _scalar("axonize_gpu_power_limit_watts", "power_limit_watts", "watts", "Power limit the driver currently enforces."),
    _scalar("axonize_gpu_memory_power_watts", "memory_power_watts", "watts", "Power draw of the GPU memory (HBM GPUs, driver >= 550)."),
    _scalar(
        "axonize_gpu_energy_joules_total",
        "energy_joules",
        "joules",
        "Energy consumed since the driver was loaded.",
        type="counter",
        source="NVML `nvmlDeviceGetTotalEnergyConsumption` (mJ); nvidia-smi -q does not print it, so replays leave it absent",
    ),
    _scalar("axonize_gpu_temperature_celsius", "temperature_celsius", "celsius", "GPU core temperature."),
    _scalar("axonize_gpu_memory_temperature_celsius", "memory_temperature_celsius", "celsius", "GPU memory (HBM) temperature."),
    _scalar("axonize_gpu_fan_speed_ratio", "fan_speed_ratio", "ratio", "Fan speed as a share of its maximum, 0-1 (absent on passively cooled GPUs)."),
    _scalar("axonize_gpu_performance_state", "performance_state", "", "Performance state: 0 (P0, maximum) to 15 (P15, minimum)."),
    _keyed("axonize_gpu_clock_hertz", "clocks_hertz", "clock", "hertz", "Current clock frequency by clock domain (graphics, sm, memory, video)."),
    _keyed("axonize_gpu_clock_max_hertz", "max_clocks_hertz", "clock", "hertz", "Maximum clock frequency by clock domain."),
    Metric(
        "axonize_gpu_clock_event_reason_active",
        "gauge",
        "",
        GPU_LABELS + ("reason",),
        "1 while the reason holds the clocks down (clock-event, formerly 'throttle', reasons), else 0.",
        _REASON_SOURCE,
        lambda snap: (
            (_gpu_key(g) + (reason,), 1.0 if active else 0.0) for g in snap.gpus for reason, active in g.clock_event_reasons.items()
        ),
    ),
    Metric(
        "axonize_gpu_clock_event_seconds_total",
        "counter",
        "seconds",
        GPU_LABELS + ("reason",),
        "Cumulative time the clocks were held down, by reason.",
        _REASON_COUNTER_SOURCE,
        lambda snap: ((_gpu_key(g) + (reason,), s) for g in snap.gpus for reason, s in sorted(g.clock_event_seconds.items())),
    ),
    _scalar("axonize_gpu_pcie_tx_bytes_per_second", "pcie_tx_bytes_per_second", "bytes_per_second", "PCIe transmit throughput, sampled by the driver (KB/s taken as 1000 B/s)."),
    _scalar("axonize_gpu_pcie_rx_bytes_per_second", "pcie_rx_bytes_per_second", "bytes_per_second", "PCIe receive throughput, sampled by the driver (KB/s taken as 1000 B/s)."),
    _scalar("axonize_gpu_pcie_replays_total", "pcie_replays", "", "PCIe replays since the GPU was reset (link errors retried).", type="counter"),
    _scalar("axonize_gpu_pcie_link_generation", "pcie_link_generation", "", "Current PCIe link generation (drops at idle to save power)."),
    _scalar("axonize_gpu_pcie_link_max_generation", "pcie_link_max_generation", "", "Maximum PCIe link generation of the GPU and slot."),
    _scalar("axonize_gpu_pcie_link_width_lanes", "pcie_link_width", "lanes", "Current PCIe link width."),
    _scalar("axonize_gpu_pcie_link_max_width_lanes", "pcie_link_max_width", "lanes", "Maximum PCIe link width."),
    _flag("axonize_gpu_ecc_enabled", "ecc_mode", "1 when ECC is enabled on the GPU memory, else 0."),
    Metric(
        "axonize_gpu_ecc_errors_total",
        "counter",
        "",
        GPU_LABELS + ("memory", "type"),
        "ECC errors since the driver was loaded (volatile counts), by memory (sram, dram) and type (correctable, uncorrectable).",
        _ECC_SOURCE.format(scope="Volatile").replace("ecc_errors/Volatile", "ecc_errors/volatile"),
        _ecc("ecc_errors_volatile"),
    ),
    Metric(
        "axonize_gpu_ecc_aggregate_errors_total",
        "counter",
        "",
        GPU_LABELS + ("memory", "type"),
        "ECC errors over the GPU's lifetime (aggregate counts, kept in the InfoROM), by memory and type.",
        _ECC_SOURCE.format(scope="Aggregate").replace("ecc_errors/Aggregate", "ecc_errors/aggregate"),
        _ecc("ecc_errors_aggregate"),
    ),
    _keyed("axonize_gpu_remapped_rows", "remapped_rows", "cause", "", "Memory rows remapped, by the error that caused it (correctable, uncorrectable)."),
    _flag("axonize_gpu_remapped_rows_pending", "remapped_rows_pending", "1 when a row remap is pending (takes effect at the next GPU reset)."),
    _flag("axonize_gpu_remapped_rows_failure", "remapped_rows_failure", "1 when a row remap has failed (the GPU should be serviced)."),
    _keyed("axonize_gpu_retired_pages", "retired_pages", "cause", "", "Memory pages retired (pre-Ampere GPUs), by cause (single_bit, double_bit)."),
    Metric(
        "axonize_gpu_numa_node",
        "gauge",
        "",
        GPU_LABELS,
        "CPU-side NUMA node of the GPU's PCIe slot: run the GPU's host threads and memory there.",
        _TOPO_SOURCE + " `NUMA Affinity`",
        lambda snap: ((_gpu_key(g), float(g.numa_node)) for g in snap.gpus if g.numa_node is not None),
    ),
    Metric(
        "axonize_gpu_memory_numa_node",
        "gauge",
        "",
        GPU_LABELS,
        "NUMA node of the GPU's own memory where the OS sees it as one (Grace Hopper); absent on x86 HGX.",
        _TOPO_SOURCE + " `GPU NUMA ID`",
        lambda snap: ((_gpu_key(g), float(g.memory_numa_node)) for g in snap.gpus if g.memory_numa_node is not None),
    ),
    Metric(
        "axonize_gpu_cpu_affinity_info",
        "info",
        "",
        GPU_LABELS + ("cpus",),
        "CPUs closest to the GPU, as a Linux cpulist (e.g. 0-51,104-155); value 1.",
        _TOPO_SOURCE + " `CPU Affinity`",
        _cpu_affinity_info,
    ),
    Metric(
        "axonize_gpu_cpu_affinity_cpus",
        "gauge",
        "",
        GPU_LABELS,
        "Number of CPUs in the GPU's CPU affinity.",
        _TOPO_SOURCE + " `CPU Affinity`",
        _cpu_affinity_cpus,
    ),
    Metric(
        "axonize_gpu_peer_path_info",
        "info",
        "",
        GPU_LABELS + ("peer_gpu", "peer_uuid", "path"),
        "How data travels from the GPU to a peer GPU: path NVLINK, or the PCIe path type PIX, PXB, PHB, NODE or SYS (closest first); value 1.",
        _TOPO_SOURCE + " matrix cells",
        lambda snap: _links(snap, nvlink_only=False),
    ),
    Metric(
        "axonize_gpu_peer_nvlinks",
        "gauge",
        "",
        GPU_LABELS + ("peer_gpu", "peer_uuid"),
        "Bonded NVLinks between the GPU and a peer GPU (the # of NV#); 0 when they talk over PCIe.",
        _TOPO_SOURCE + " `NV#` cells",
        lambda snap: _links(snap, nvlink_only=True),
    ),
    Metric(
        "axonize_gpu_nvlink_active",
        "gauge",
        "",
        GPU_LABELS + ("link", "peer_gpu", "peer_pci_bus_id"),
        "1 when the NVLink is up, else 0; peer_gpu is the GPU at the far end when it is one of this host's (empty for an NVSwitch).",
        _NVML_SOURCE + " `nvmlDeviceGetNvLinkState`, `nvmlDeviceGetNvLinkRemotePciInfo`",
        _nvlink_active,
    ),
    Metric(
        "axonize_gpu_nvlink_transmit_bytes_total",
        "counter",
        "bytes",
        GPU_LABELS + ("link",),
        "Data bytes sent over the NVLink since the driver was loaded.",
        _NVML_SOURCE + " field `NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX` (KiB) per link",
        _nvlink_bytes("tx_bytes"),
    ),
    Metric(
        "axonize_gpu_nvlink_receive_bytes_total",
        "counter",
        "bytes",
        GPU_LABELS + ("link",),
        "Data bytes received over the NVLink since the driver was loaded.",
        _NVML_SOURCE + " field `NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX` (KiB) per link",
        _nvlink_bytes("rx_bytes"),
    ),
    Metric(
        "axonize_gpu_up",
        "gauge",
        "",
        GPU_LABELS,
        "1 when the GPU was read this cycle, 0 when it failed (lost, timed out, needs a reset); the other GPUs are unaffected.",
        _NVML_SOURCE + "; replays: 1 for every GPU in the capture",
        _gpu_up,
    ),
    Metric(
        "axonize_gpu_fault_info",
        "info",
        "",
        GPU_LABELS + ("kind",),
        "Why the GPU could not be read this cycle (gpu_lost, reset_required, timeout, ...); absent while it reads fine.",
        _NVML_SOURCE + " error codes (nvmlReturn_t)",
        _gpu_fault,
    ),
    Metric(
        "axonize_gpu_xid_errors_total",
        "counter",
        "",
        GPU_LABELS + ("xid",),
        "XID errors reported by the driver since the exporter started, by XID code (e.g. 79 GPU fell off the bus, 48 double-bit ECC).",
        _NVML_SOURCE + " event set `nvmlEventTypeXidCriticalError`",
        _xid("xid_errors"),
    ),
    Metric(
        "axonize_gpu_xid_last_seen_timestamp_seconds",
        "gauge",
        "seconds",
        GPU_LABELS + ("xid",),
        "Unix time the XID code was last reported on the GPU.",
        _NVML_SOURCE + " event set `nvmlEventTypeXidCriticalError`",
        _xid("xid_last_seen_seconds"),
    ),
    *(
        Metric(
            f"axonize_gpu_{kind}_ratio",
            "gauge",
            "ratio",
            GPU_LABELS,
            help,
            _GPM_SOURCE.format(metric=metric),
            _activity(kind),
        )
        for kind, metric, help in _ACTIVITY
    ),
    *(
        Metric(
            f"axonize_mig_{kind}_ratio",
            "gauge",
            "ratio",
            GPU_LABELS + ("gpu_instance_id",),
            help.replace("the GPU", "the MIG GPU instance"),
            _GPM_SOURCE.format(metric=metric) + " (`nvmlGpmMigSampleGet`)",
            _mig_activity(kind),
        )
        for kind, metric, help in _ACTIVITY
    ),
    Metric(
        "axonize_numa_node_cpus",
        "gauge",
        "",
        ("node",),
        "CPUs of the host NUMA node.",
        "/sys/devices/system/node/node<N>/cpulist",
        _numa_node("cpus"),
    ),
    Metric(
        "axonize_numa_node_cpu_utilization_ratio",
        "gauge",
        "ratio",
        ("node",),
        "Mean busy share of the NUMA node's CPUs over the last collection interval, 0-1.",
        "psutil per-CPU times (/proc/stat), grouped by node",
        _numa_node("cpu_utilization_ratio"),
    ),
    Metric(
        "axonize_numa_node_memory_total_bytes",
        "gauge",
        "bytes",
        ("node",),
        "Memory of the host NUMA node.",
        "/sys/devices/system/node/node<N>/meminfo `MemTotal`",
        _numa_node("memory_total_bytes"),
    ),
    Metric(
        "axonize_numa_node_memory_used_bytes",
        "gauge",
        "bytes",
        ("node",),
        "Memory in use on the host NUMA node (MemTotal - MemFree).",
        "/sys/devices/system/node/node<N>/meminfo",
        _numa_node("memory_used_bytes"),
    ),
    Metric(
        "axonize_mig_info",
        "info",
        "",
        GPU_LABELS + ("mig_index", "gpu_instance_id", "compute_instance_id", "profile", "mig_uuid"),
        "A MIG device (compute instance inside a GPU instance) on the GPU; profile and mig_uuid when nvidia-smi -L or NVML gives them; value 1.",
        "nvidia-smi -q `MIG Device › Index`, `GPU Instance ID`, `Compute Instance ID`; -q -x `mig_devices/mig_device`; nvidia-smi -L",
        _mig_info,
    ),
    Metric(
        "axonize_mig_multiprocessors",
        "gauge",
        "",
        GPU_LABELS + ("gpu_instance_id", "compute_instance_id"),
        "Streaming multiprocessors (SMs) of the MIG compute instance.",
        "nvidia-smi -q `MIG Device › Device Attributes › Shared › Multiprocessor count`; -q -x `multiprocessor_count`",
        _mig_sms,
    ),
    *(
        Metric(
            f"axonize_mig_memory_{part}_bytes",
            "gauge",
            "bytes",
            GPU_LABELS + ("gpu_instance_id",),
            help,
            f"nvidia-smi -q `MIG Device › (Shared) FB Memory Usage › {part.title()}`; -q -x `fb_memory_usage/{part}`",
            _mig_memory(part),
        )
        for part, help in (
            ("total", "Memory of the MIG GPU instance (shared by its compute instances)."),
            ("used", "Memory in use in the MIG GPU instance."),
            ("free", "Memory free in the MIG GPU instance."),
        )
    ),
    Metric(
        "axonize_gpu_price_dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        GPU_LABELS,
        "What an hour of the GPU costs, in US dollars: the price table row that applies to its host and model (axonize_gpu_price_info says which).",
        _PRICE_SOURCE,
        _gpu_price,
    ),
    Metric(
        "axonize_gpu_price_info",
        "info",
        "",
        GPU_LABELS + ("source", "date", "rule"),
        "Where the GPU's price comes from: the row's source and date, and rule default, gpus[i] or hosts[i] (the row of the table that applied); value 1.",
        _PRICE_SOURCE,
        _gpu_price_info,
    ),
    Metric(
        "axonize_mig_price_dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        GPU_LABELS + ("gpu_instance_id",),
        "What an hour of the MIG GPU instance costs, in US dollars: the GPU's price times axonize_mig_price_share_ratio.",
        _PRICE_SOURCE + "; " + _MIG_SHARE_SOURCE,
        _mig_price("dollars"),
    ),
    Metric(
        "axonize_mig_price_share_ratio",
        "gauge",
        "ratio",
        GPU_LABELS + ("gpu_instance_id",),
        "Share of the GPU's price the MIG GPU instance costs, 0-1: its compute slices over the GPU's (3g.40gb on an H100: 3/7); absent when the profile is unknown.",
        _MIG_SHARE_SOURCE,
        _mig_price("share"),
    ),
    Metric(
        "axonize_gpu_container_memory_used_bytes",
        "gauge",
        "bytes",
        CONTAINER_LABELS,
        "GPU memory held by the processes of one container (or pod, or systemd service) on the GPU or MIG instance; empty container labels group processes whose container is unknown (replays, no host PID namespace).",
        "NVML running processes (nvidia-smi `Processes` in replays), grouped by /proc/<pid>/cgroup",
        _container_value("used_memory_bytes"),
    ),
    Metric(
        "axonize_gpu_container_processes",
        "gauge",
        "",
        CONTAINER_LABELS,
        "Processes of the container holding memory on the GPU or MIG instance.",
        "NVML running processes, grouped by /proc/<pid>/cgroup",
        _container_value("processes"),
    ),
    Metric(
        "axonize_gpu_container_sm_utilization_ratio",
        "gauge",
        "ratio",
        CONTAINER_LABELS,
        "The container's share of the GPU's SM time over NVML's last sample window (sum over its processes, capped at 1).",
        "NVML `nvmlDeviceGetProcessUtilization` (smUtil, percent)",
        _container_value("sm_utilization_ratio"),
    ),
    Metric(
        "axonize_gpu_container_numa_placement_info",
        "info",
        "",
        CONTAINER_LABELS + ("placement",),
        "Where the container's CPUs may run relative to the GPU's NUMA node: local (only on it), unpinned (on it and others), remote (never on it); the worst of its processes; value 1.",
        "/proc/<pid>/status `Cpus_allowed_list` against /sys/devices/system/node and the GPU's NUMA node",
        _container_placement,
    ),
    Metric(
        "axonize_gpu_container_numa_mismatch",
        "gauge",
        "",
        CONTAINER_LABELS,
        "1 when the container may run on CPUs outside the GPU's NUMA node (placement unpinned or remote), 0 when local.",
        "/proc/<pid>/status `Cpus_allowed_list` against /sys/devices/system/node and the GPU's NUMA node",
        _container_mismatch,
    ),
    Metric(
        "axonize_gpu_process_memory_used_bytes",
        "gauge",
        "bytes",
        GPU_LABELS + ("pid", "process_name", "process_type", "gpu_instance_id", "compute_instance_id"),
        "GPU memory held by a process (type C compute, G graphics); MIG instance ids when it runs in one. Name only, never the command line.",
        "nvidia-smi -q `Processes`; -q -x `processes/process_info`",
        _process_memory,
    ),
)


@dataclass(frozen=True)
class Options:
    """Rendering choices: per-PID series are opt-in (PIDs churn) and capped at ``max_process_series``."""

    per_process: bool = False
    max_process_series: int = 500


PER_PROCESS = frozenset({"axonize_gpu_process_memory_used_bytes"})


def families(snapshot: Snapshot, options: Options = Options()) -> list[PromMetric]:
    """All ``axonize_*`` families for the snapshot, in :data:`METRICS` order.

    Per-PID families are rendered only with ``options.per_process``; past
    ``options.max_process_series`` samples the rest are dropped and counted in
    ``axonize_exporter_process_series_dropped``.
    """
    out = []
    dropped = 0
    for m in METRICS:
        if m.name in PER_PROCESS:
            if not options.per_process:
                continue
            fam = m.family(snapshot)
            dropped += max(0, len(fam.samples) - options.max_process_series)
            del fam.samples[options.max_process_series :]
            out.append(fam)
        else:
            out.append(m.family(snapshot))
    if options.per_process:
        out.append(GaugeMetricFamily(DROPPED, "Per-PID series left out this cycle by --collect.processes.max-series.", value=float(dropped)))
    return out


DROPPED = "axonize_exporter_process_series_dropped"
