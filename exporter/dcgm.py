"""dcgm-exporter compatible exposition (``--metrics-format dcgm``): a :class:`Snapshot` -> ``DCGM_FI_*`` families.

NVIDIA's dcgm-exporter is what most GPU dashboards and alerts are written
against (Grafana dashboard 12239, the GPU Operator's defaults). This module
renders the same snapshot the ``axonize_*`` exposition reads under
dcgm-exporter's names, label names and units, so those dashboards work
unchanged. Each family is a :class:`DcgmMetric` row of :data:`METRICS`.

Sources (NVIDIA/dcgm-exporter, github.com/NVIDIA/dcgm-exporter; the tests read copies of the first two):

* ``etc/default-counters.csv``: the default field set, each field's Prometheus
  type and its unit. Every uncommented field our snapshot can give is here;
  ``DCGM_FI_DEV_VGPU_LICENSE_STATUS`` (vGPU guests) is not. Help strings are
  our own words; units are dcgm-exporter's (MHz, C, W, mJ, percent 0-100, MiB,
  ratios 0-1 for the ``DCGM_FI_PROF_*`` fields, bytes per second).
* Real scrapes (``dcgm-exporter-sample.prom``, 1x L40S;
  ``dcgm-exporter-h100x8-k8s-podlabels-sampled.prom``, 8x H100 in Kubernetes).
* ``internal/pkg/collector/gpu_collector.go`` (``toMetric``): ``gpu`` is DCGM's
  GPU id (the NVML index), ``device`` is ``"nvidia%d"`` of that same id,
  ``modelName`` the product name, ``pci_bus_id`` the bus id; ``DCGM_FI_DRIVER_VERSION``
  is a label-type field and only appears when known; XID series carry an
  ``err_code`` attribute. Its template (``gpuMetricsFormat``) writes ``Hostname``
  only when it is not empty and ``GPU_I_PROFILE`` / ``GPU_I_ID`` only for MIG entities.
* ``internal/pkg/devicemonitoring/device_monitoring.go`` (``monitorAllGPUInstances``,
  the default ``-d f`` "flex" mode): a GPU with MIG GPU instances is watched
  only as its GPU instances, so *every* field of such a GPU is emitted once per
  GPU instance with ``GPU_I_PROFILE`` (the GPU instance profile, e.g.
  ``3g.71gb``) and ``GPU_I_ID`` (the NVML GPU instance id), and no series
  without them. Device-wide readings (temperatures, power, clocks, PCIe) repeat
  the parent GPU's value on each instance (dcgm-exporter issues #50, #257):
  ``sum(DCGM_FI_DEV_POWER_USAGE)`` over a MIG GPU counts its power once per
  instance there and here; take ``max by (instance, UUID)`` first, or use
  ``axonize_gpu_power_watts``.
  Framebuffer fields are the GPU instance's memory, profiling fields its GPM
  activity. Utilization fields are N/A under MIG (issue #216), so absent.
* ``internal/pkg/transformation/kubernetes.go``: ``container``, ``namespace`` and
  ``pod`` are added to a GPU's (or GPU instance's) series when the kubelet
  assigned it to a pod; newer releases also write ``pod_uid`` (see the H100
  capture). We have no kubelet socket: we add the four labels when every
  process on the GPU (or GPU instance) runs in one container whose pod name is
  known (:attr:`Process.container`). An idle GPU, or one shared by two
  containers, gets none.

Known differences. Cosmetic for PromQL: labels are written in alphabetical
order and values in prometheus_client's float syntax (by the core writer, :mod:`axonize.exposition_text`) (``345.0``,
``5.55189958e+09``) where dcgm-exporter writes ``%d`` / ``%f``. Not cosmetic:
XID series carry ``err_code`` but not dcgm-exporter's ``err_msg`` text;
``pod_uid`` holds the pod's UID from the cgroup path where the capture above
shows dcgm-exporter leaving it empty; ``DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL`` is
a counter in the CSV and we give it counter semantics (cumulative bytes, use
``rate()``), while DCGM fills it with a throughput figure whose unit its
maintainers describe as KB/s (dcgm-exporter issue #472). ``device`` follows
``toMetric`` (``nvidia`` + the GPU index), not the ``/dev/nvidia<minor>``
number; the two coincide on the hosts in the captures.

Sample output (8x H100 SXM replay, ``--replay.hostname gpu-node-1``)::

    # HELP DCGM_FI_DEV_FB_USED Framebuffer memory in use, MiB.
    # TYPE DCGM_FI_DEV_FB_USED gauge
    DCGM_FI_DEV_FB_USED{DCGM_FI_DRIVER_VERSION="565.57.01",Hostname="gpu-node-1",UUID="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1",device="nvidia0",gpu="0",modelName="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:18:00.0"} 1.0
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from axonize import exposition_text

from .snapshot import Gpu, MigDevice, Process, Snapshot

#: Identity labels of every series, in dcgm-exporter's order (``Hostname`` and
#: ``DCGM_FI_DRIVER_VERSION`` only when known).
GPU_LABELS = ("gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION")
#: Added when the GPU (or GPU instance) is used by exactly one Kubernetes container.
POD_LABELS = ("container", "namespace", "pod", "pod_uid")

_MIB = 2.0**20


@dataclass(frozen=True)
class DcgmMetric:
    """One dcgm-exporter field rendered from the snapshot.

    ``type`` is the CSV's (``gauge`` | ``counter``); ``unit`` is dcgm-exporter's
    unit (``MHz``, ``C``, ``W``, ``mJ``, ``%`` for 0-100, ``MiB``, ``ratio`` for
    0-1, ``bytes/s``, ``bytes``, or ``""`` for counts and codes). ``gpu_value(gpu)``
    returns the figure already converted to that unit, or None (no sample).
    ``instance_value(gpu, device)`` gives it for a MIG GPU instance (``device``
    is the instance's first compute instance); when None the parent GPU's value
    repeats on each instance, as dcgm-exporter does. ``axonize`` gives the
    ``axonize_*`` families (or PromQL over them) with the same figure in base
    units, whole GPU first, then MIG GPU instance where that differs;
    ``source`` names the snapshot attribute and the conversion.
    ``extra_labels`` / ``attributes(gpu)``: labels beyond the identity ones
    (XID's ``err_code``).
    """

    name: str
    type: str
    unit: str
    help: str
    axonize: tuple[str, ...]
    source: str
    gpu_value: Callable[[Gpu], float | None]
    instance_value: Callable[[Gpu, MigDevice], float | None] | None = None
    extra_labels: tuple[str, ...] = ()
    attributes: Callable[[Gpu], dict[str, str]] = field(default=lambda gpu: {})

    def family(self, snapshot: Snapshot) -> exposition_text.Family:
        """The family with one sample per GPU (or MIG GPU instance) that has a value."""
        return self.render(list(entities(snapshot)))

    def render(self, described: list[Entity]) -> exposition_text.Family:
        """The family over already listed :func:`entities`, for the core writer (:mod:`axonize.exposition_text`).

        Label sets differ between samples (MIG and pod labels); each sample's labels are written in
        alphabetical order, as prometheus_client wrote them, and a counter keeps its dcgm-exporter
        name (``DCGM_FI_DEV_PCIE_REPLAY_COUNTER``, no ``_total``).
        """
        fam = exposition_text.Family(self.name, self.type, self.help)
        for entity in described:
            if entity.instance is not None and self.instance_value is not None:
                value = self.instance_value(entity.gpu, entity.instance)
            else:
                value = self.gpu_value(entity.gpu)
            if value is None:
                continue
            if self.extra_labels:
                labels = dict(entity.labels)
                labels.update(self.attributes(entity.gpu))
                fam.add(tuple(sorted(labels.items())), value)
            else:
                fam.add(entity.sorted_labels, value)
        return fam


@dataclass(frozen=True)
class Entity:
    """What one dcgm-exporter series describes: a whole GPU, or one MIG GPU instance of it.

    ``instance`` is the GPU instance's first compute instance in
    ``Gpu.mig_devices`` order: memory and GPM activity belong to the GPU
    instance, and every backend gives each of its compute instances the same
    figures. ``labels`` are the identity, MIG and pod labels of its series.
    """

    gpu: Gpu
    instance: MigDevice | None
    labels: tuple[tuple[str, str], ...]

    @functools.cached_property
    def sorted_labels(self) -> tuple[tuple[str, str], ...]:
        """:attr:`labels` in alphabetical order, as written; sorted once for all the families of the entity."""
        return tuple(sorted(self.labels))


_CI_PREFIX = re.compile(r"^\d+c\.")


def gpu_instance_profile(profile: str | None) -> str | None:
    """The GPU instance profile of a MIG device name: ``"1c.3g.71gb"`` -> ``"3g.71gb"``, ``"2g.35gb"`` unchanged.

    ``nvidia-smi -L`` names a MIG device by its compute instance profile, which
    starts with ``<n>c.`` when the compute instance is smaller than its GPU
    instance; dcgm-exporter's ``GPU_I_PROFILE`` is the GPU instance's.
    """
    if not profile:
        return None
    return _CI_PREFIX.sub("", profile)


def pod_labels(processes: list[Process]) -> dict[str, str]:
    """``container``, ``namespace``, ``pod``, ``pod_uid`` when all ``processes`` share one container of a known pod, else {}."""
    containers = {p.container for p in processes}
    if len(containers) != 1:
        return {}
    (container,) = containers
    if container is None or not container.pod_name:
        return {}
    return {"container": container.name, "namespace": container.namespace, "pod": container.pod_name, "pod_uid": container.pod_uid}


def _identity(gpu: Gpu) -> dict[str, str]:
    return {"gpu": str(gpu.index), "UUID": gpu.uuid, "pci_bus_id": gpu.pci_bus_id, "device": f"nvidia{gpu.index}", "modelName": gpu.name}


def _tail(snapshot: Snapshot) -> dict[str, str]:
    labels = {}
    if snapshot.hostname:
        labels["Hostname"] = snapshot.hostname
    if snapshot.driver_version:
        labels["DCGM_FI_DRIVER_VERSION"] = snapshot.driver_version
    return labels


def entities(snapshot: Snapshot) -> Iterator[Entity]:
    """The whole GPUs, and for a GPU with MIG devices its GPU instances instead (dcgm-exporter's flex mode)."""
    tail = _tail(snapshot)
    for gpu in snapshot.gpus:
        if not gpu.mig_devices:
            labels = {**_identity(gpu), **tail, **pod_labels(gpu.processes)}
            yield Entity(gpu, None, tuple(labels.items()))
            continue
        instances: dict[int, list[MigDevice]] = {}
        for dev in gpu.mig_devices:
            instances.setdefault(dev.gpu_instance_id, []).append(dev)
        for gi, devices in instances.items():
            labels = _identity(gpu)
            profile = next((gpu_instance_profile(d.profile) for d in devices if d.profile), None)
            if profile:
                labels["GPU_I_PROFILE"] = profile
            labels["GPU_I_ID"] = str(gi)
            labels.update(tail)
            labels.update(pod_labels([p for p in gpu.processes if p.gpu_instance_id == gi]))
            yield Entity(gpu, devices[0], tuple(labels.items()))


# --- conversions -------------------------------------------------------------------------


def _scaled(value: float | None, factor: float) -> float | None:
    # round away binary noise (0.57 * 100 = 56.99999999999999); dcgm-exporter prints at most 6 decimals
    return None if value is None else round(float(value) * factor, 6)


def _attr(attr: str, factor: float = 1.0) -> Callable[[Gpu], float | None]:
    return lambda gpu: _scaled(getattr(gpu, attr), factor)


def _key(attr: str, key: str, factor: float = 1.0) -> Callable[[Gpu], float | None]:
    return lambda gpu: _scaled(getattr(gpu, attr).get(key), factor)


def _mig_memory(part: str) -> Callable[[Gpu, MigDevice], float | None]:
    return lambda gpu, dev: _scaled(getattr(dev, f"memory_{part}_bytes"), 1 / _MIB)


def _mig_activity(kind: str) -> Callable[[Gpu, MigDevice], float | None]:
    return lambda gpu, dev: _scaled(dev.activity.get(kind), 1.0)


def last_xid(gpu: Gpu) -> int | None:
    """The XID seen most recently (latest ``xid_last_seen_seconds``; the larger code on a tie), None when none."""
    if not gpu.xid_last_seen_seconds:
        return None
    return max(gpu.xid_last_seen_seconds.items(), key=lambda item: (item[1], item[0]))[0]


def _xid_value(gpu: Gpu) -> float | None:
    code = last_xid(gpu)
    return None if code is None else float(code)


def _xid_attributes(gpu: Gpu) -> dict[str, str]:
    code = last_xid(gpu)
    return {} if code is None else {"err_code": str(code)}


def _nvlink_bytes(gpu: Gpu) -> float | None:
    known = [v for link in gpu.nvlinks for v in (link.tx_bytes, link.rx_bytes) if v is not None]
    return float(sum(known)) if known else None


def _flag(attr: str) -> Callable[[Gpu], float | None]:
    def value(gpu: Gpu) -> float | None:
        flag = getattr(gpu, attr)
        return None if flag is None else (1.0 if flag else 0.0)

    return value


def _percent(name: str, attr: str, help: str, axonize: tuple[str, ...]) -> DcgmMetric:
    return DcgmMetric(name, "gauge", "%", help, axonize, f"`Gpu.{attr}` × 100", _attr(attr, 100.0))


def _activity(name: str, kind: str, help: str) -> DcgmMetric:
    return DcgmMetric(
        name,
        "gauge",
        "ratio",
        help,
        (f"axonize_gpu_{kind}_ratio", f"axonize_mig_{kind}_ratio"),
        f"`Gpu.activity['{kind}']`; per MIG GPU instance `MigDevice.activity['{kind}']` (NVML GPM, Hopper and later)",
        _key("activity", kind),
        instance_value=_mig_activity(kind),
    )


def _framebuffer(name: str, part: str, help: str) -> DcgmMetric:
    return DcgmMetric(
        name,
        "gauge",
        "MiB",
        help,
        (f"axonize_gpu_memory_{part}_bytes",) + ((f"axonize_mig_memory_{part}_bytes",) if part != "reserved" else ()),
        f"`Gpu.memory_{part}_bytes` / 2^20; per MIG GPU instance `MigDevice.memory_{part}_bytes` / 2^20",
        _attr(f"memory_{part}_bytes", 1 / _MIB),
        instance_value=_mig_memory(part),
    )


METRICS: tuple[DcgmMetric, ...] = (
    DcgmMetric(
        "DCGM_FI_DEV_SM_CLOCK",
        "gauge",
        "MHz",
        "Current streaming-multiprocessor clock, MHz.",
        ('axonize_gpu_clock_hertz{clock="sm"}',),
        "`Gpu.clocks_hertz['sm']` / 10^6",
        _key("clocks_hertz", "sm", 1e-6),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_MEM_CLOCK",
        "gauge",
        "MHz",
        "Current memory clock, MHz.",
        ('axonize_gpu_clock_hertz{clock="memory"}',),
        "`Gpu.clocks_hertz['memory']` / 10^6",
        _key("clocks_hertz", "memory", 1e-6),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_MEMORY_TEMP",
        "gauge",
        "C",
        "Temperature of the GPU memory (HBM), degrees Celsius.",
        ("axonize_gpu_memory_temperature_celsius",),
        "`Gpu.memory_temperature_celsius`",
        _attr("memory_temperature_celsius"),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_GPU_TEMP",
        "gauge",
        "C",
        "Temperature of the GPU die, degrees Celsius.",
        ("axonize_gpu_temperature_celsius",),
        "`Gpu.temperature_celsius`",
        _attr("temperature_celsius"),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_POWER_USAGE",
        "gauge",
        "W",
        "Board power draw, watts.",
        ("axonize_gpu_power_watts",),
        "`Gpu.power_watts`",
        _attr("power_watts"),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "counter",
        "mJ",
        "Energy the GPU has used since the driver was loaded, millijoules.",
        ("axonize_gpu_energy_joules_total",),
        "`Gpu.energy_joules` × 1000 (NVML only; nvidia-smi captures do not carry it)",
        _attr("energy_joules", 1000.0),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "counter",
        "",
        "PCIe transfers the link had to send again, since the GPU was reset.",
        ("axonize_gpu_pcie_replays_total",),
        "`Gpu.pcie_replays`",
        _attr("pcie_replays"),
    ),
    _percent(
        "DCGM_FI_DEV_GPU_UTIL",
        "utilization_ratio",
        "Percent of the sample period in which a kernel was running, 0-100 (N/A under MIG).",
        ("axonize_gpu_utilization_ratio",),
    ),
    _percent(
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "memory_utilization_ratio",
        "Percent of the sample period in which device memory was read or written, 0-100.",
        ("axonize_gpu_memory_utilization_ratio",),
    ),
    _percent(
        "DCGM_FI_DEV_ENC_UTIL",
        "encoder_utilization_ratio",
        "Video encoder busy percent, 0-100.",
        ("axonize_gpu_encoder_utilization_ratio",),
    ),
    _percent(
        "DCGM_FI_DEV_DEC_UTIL",
        "decoder_utilization_ratio",
        "Video decoder busy percent, 0-100.",
        ("axonize_gpu_decoder_utilization_ratio",),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_XID_ERRORS",
        "gauge",
        "",
        "Code of the XID error the driver reported last for the GPU (also in err_code); absent until one occurs.",
        ("topk by (gpu, uuid) (1, axonize_gpu_xid_last_seen_timestamp_seconds)",),
        "the code with the latest `Gpu.xid_last_seen_seconds` (XID events since the exporter started)",
        _xid_value,
        extra_labels=("err_code",),
        attributes=_xid_attributes,
    ),
    _framebuffer("DCGM_FI_DEV_FB_FREE", "free", "Framebuffer memory free, MiB."),
    _framebuffer("DCGM_FI_DEV_FB_USED", "used", "Framebuffer memory in use, MiB."),
    _framebuffer("DCGM_FI_DEV_FB_RESERVED", "reserved", "Framebuffer memory held back by the driver and firmware, MiB."),
    DcgmMetric(
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "counter",
        "bytes",
        "Bytes sent plus received over all NVLinks of the GPU since the driver was loaded.",
        ("sum without (link) (axonize_gpu_nvlink_transmit_bytes_total + axonize_gpu_nvlink_receive_bytes_total)",),
        "sum of the known `NvLink.tx_bytes` and `NvLink.rx_bytes` over `Gpu.nvlinks`",
        _nvlink_bytes,
    ),
    DcgmMetric(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "counter",
        "",
        "Memory rows remapped after uncorrectable errors.",
        ('axonize_gpu_remapped_rows{cause="uncorrectable"}',),
        "`Gpu.remapped_rows['uncorrectable']`",
        _key("remapped_rows", "uncorrectable"),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "counter",
        "",
        "Memory rows remapped after correctable errors.",
        ('axonize_gpu_remapped_rows{cause="correctable"}',),
        "`Gpu.remapped_rows['correctable']`",
        _key("remapped_rows", "correctable"),
    ),
    DcgmMetric(
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "gauge",
        "",
        "1 when the GPU failed to remap a memory row, else 0.",
        ("axonize_gpu_remapped_rows_failure",),
        "`Gpu.remapped_rows_failure`",
        _flag("remapped_rows_failure"),
    ),
    _activity("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "graphics_engine_active", "Share of time the graphics/compute engine was busy, 0-1."),
    _activity("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "tensor_active", "Share of cycles the tensor-core pipes were busy, 0-1."),
    _activity("DCGM_FI_PROF_DRAM_ACTIVE", "dram_active", "Share of cycles the device memory interface was moving data, 0-1."),
    DcgmMetric(
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        "gauge",
        "bytes/s",
        "PCIe transmit throughput, bytes per second.",
        ("axonize_gpu_pcie_tx_bytes_per_second",),
        "`Gpu.pcie_tx_bytes_per_second`",
        _attr("pcie_tx_bytes_per_second"),
    ),
    DcgmMetric(
        "DCGM_FI_PROF_PCIE_RX_BYTES",
        "gauge",
        "bytes/s",
        "PCIe receive throughput, bytes per second.",
        ("axonize_gpu_pcie_rx_bytes_per_second",),
        "`Gpu.pcie_rx_bytes_per_second`",
        _attr("pcie_rx_bytes_per_second"),
    ),
)


def families(snapshot: Snapshot) -> list[exposition_text.Family]:
    """The ``DCGM_FI_*`` families that have at least one sample, in :data:`METRICS` (the CSV's) order.

    dcgm-exporter writes a field only when some GPU has a value for it, so a
    field nothing reports is left out entirely rather than written as an empty family.
    """
    described = list(entities(snapshot))
    out = [m.render(described) for m in METRICS]
    return [fam for fam in out if fam.samples]


class DocRow(NamedTuple):
    """One row of the docs table: dcgm-exporter name, type, unit, labels beyond :data:`GPU_LABELS`, meaning, axonize families, source."""

    name: str
    type: str
    unit: str
    labels: tuple[str, ...]
    help: str
    axonize: tuple[str, ...]
    source: str


def doc_rows() -> list[DocRow]:
    """:data:`METRICS` as docs rows (written to docs/metrics.md by ``python -m axonize.exporter.docs``)."""
    return [DocRow(m.name, m.type, m.unit, m.extra_labels, m.help, m.axonize, m.source) for m in METRICS]
