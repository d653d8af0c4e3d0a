"""Map a parsed GPU section (text or XML tree) onto :class:`~axonize.exporter.snapshot.Gpu`.

The mapping is a table: for each snapshot attribute, the paths where
``nvidia-smi -q`` (text) and ``-q -x`` (XML) print it, in every spelling the
drivers of the captures in tests/fixtures/nvidia use (460 .. 595: "Clocks Throttle
Reasons" became "Clocks Event Reasons", "Power Readings" became "GPU Power
Readings", "Power Draw" split into "Average" and "Instantaneous"). The first
path that exists wins. The same table documents the source of each metric
(docs/metrics.md).

A value that does not parse is left out and reported as a
:class:`~axonize.exporter.snapshot.CollectionError` naming the file and line;
the rest of the GPU is still exported. A GPU section without a UUID is
dropped with an error; the other GPUs are unaffected.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..snapshot import CollectionError, Gpu, MigDevice, Process
from . import values
from .tree import Node


@dataclass(frozen=True)
class Field:
    attr: str
    parse: Callable[[str], Any]
    text: tuple[str, ...]
    xml: tuple[str, ...]


def _f(attr: str, parse: Callable[[str], Any], text: str | tuple[str, ...], xml: str | tuple[str, ...]) -> Field:
    return Field(attr, parse, (text,) if isinstance(text, str) else text, (xml,) if isinstance(xml, str) else xml)


#: Scalar attributes of :class:`Gpu`: (attribute, parser, text paths, XML paths).
SCALARS: tuple[Field, ...] = (
    _f("name", values.text, "Product Name", "product_name"),
    _f("brand", values.text, "Product Brand", "product_brand"),
    _f("architecture", values.text, "Product Architecture", "product_architecture"),
    _f("serial", values.text, "Serial Number", "serial"),
    _f("vbios_version", values.text, "VBIOS Version", "vbios_version"),
    _f("minor_number", values.integer, "Minor Number", "minor_number"),
    _f("mig_mode", values.flag, "MIG Mode/Current", "mig_mode/current_mig"),
    _f("persistence_mode", values.flag, "Persistence Mode", "persistence_mode"),
    _f("compute_mode", values.text, "Compute Mode", "compute_mode"),
    _f("memory_total_bytes", values.mib, "FB Memory Usage/Total", "fb_memory_usage/total"),
    _f("memory_used_bytes", values.mib, "FB Memory Usage/Used", "fb_memory_usage/used"),
    _f("memory_free_bytes", values.mib, "FB Memory Usage/Free", "fb_memory_usage/free"),
    _f("memory_reserved_bytes", values.mib, "FB Memory Usage/Reserved", "fb_memory_usage/reserved"),
    _f("bar1_total_bytes", values.mib, "BAR1 Memory Usage/Total", "bar1_memory_usage/total"),
    _f("bar1_used_bytes", values.mib, "BAR1 Memory Usage/Used", "bar1_memory_usage/used"),
    _f("utilization_ratio", values.ratio, "Utilization/GPU", "utilization/gpu_util"),
    _f("memory_utilization_ratio", values.ratio, "Utilization/Memory", "utilization/memory_util"),
    _f("encoder_utilization_ratio", values.ratio, "Utilization/Encoder", "utilization/encoder_util"),
    _f("decoder_utilization_ratio", values.ratio, "Utilization/Decoder", "utilization/decoder_util"),
    _f(
        "power_watts",
        values.watts,
        ("GPU Power Readings/Power Draw", "GPU Power Readings/Average Power Draw", "Power Readings/Power Draw"),
        ("gpu_power_readings/power_draw", "gpu_power_readings/average_power_draw", "power_readings/power_draw"),
    ),
    _f(
        "power_instant_watts",
        values.watts,
        "GPU Power Readings/Instantaneous Power Draw",
        "gpu_power_readings/instant_power_draw",
    ),
    _f(
        "power_limit_watts",
        values.watts,
        ("GPU Power Readings/Current Power Limit", "Power Readings/Enforced Power Limit", "Power Readings/Power Limit"),
        ("gpu_power_readings/current_power_limit", "power_readings/enforced_power_limit", "power_readings/power_limit"),
    ),
    _f(
        "memory_power_watts",
        values.watts,
        ("GPU Memory Power Readings/Power Draw", "GPU Memory Power Readings/Average Power Draw"),
        ("gpu_memory_power_readings/power_draw", "gpu_memory_power_readings/average_power_draw"),
    ),
    _f("temperature_celsius", values.celsius, "Temperature/GPU Current Temp", "temperature/gpu_temp"),
    _f("memory_temperature_celsius", values.celsius, "Temperature/Memory Current Temp", "temperature/memory_temp"),
    _f("fan_speed_ratio", values.ratio, "Fan Speed", "fan_speed"),
    _f("performance_state", values.pstate, "Performance State", "performance_state"),
    _f("pcie_tx_bytes_per_second", values.kb_per_second, "PCI/Tx Throughput", "pci/tx_util"),
    _f("pcie_rx_bytes_per_second", values.kb_per_second, "PCI/Rx Throughput", "pci/rx_util"),
    _f("pcie_replays", values.number, "PCI/Replays Since Reset", "pci/replay_counter"),
    _f(
        "pcie_link_generation",
        values.integer,
        "PCI/GPU Link Info/PCIe Generation/Current",
        "pci/pci_gpu_link_info/pcie_gen/current_link_gen",
    ),
    _f(
        "pcie_link_max_generation",
        values.integer,
        "PCI/GPU Link Info/PCIe Generation/Max",
        "pci/pci_gpu_link_info/pcie_gen/max_link_gen",
    ),
    _f("pcie_link_width", values.lanes, "PCI/GPU Link Info/Link Width/Current", "pci/pci_gpu_link_info/link_widths/current_link_width"),
    _f("pcie_link_max_width", values.lanes, "PCI/GPU Link Info/Link Width/Max", "pci/pci_gpu_link_info/link_widths/max_link_width"),
    _f("ecc_mode", values.flag, "ECC Mode/Current", "ecc_mode/current_ecc"),
    _f("remapped_rows_pending", values.flag, "Remapped Rows/Pending", "remapped_rows/remapped_row_pending"),
    _f("remapped_rows_failure", values.flag, "Remapped Rows/Remapping Failure Occurred", "remapped_rows/remapped_row_failure"),
)

#: Labelled attributes: (attribute, key, parser, text paths, XML paths).
KEYED: tuple[tuple[str, str, Field], ...] = tuple(
    (attr, key, _f(attr, parse, text, xml))
    for attr, key, parse, text, xml in (
        ("clocks_hertz", "graphics", values.hertz, "Clocks/Graphics", "clocks/graphics_clock"),
        ("clocks_hertz", "sm", values.hertz, "Clocks/SM", "clocks/sm_clock"),
        ("clocks_hertz", "memory", values.hertz, "Clocks/Memory", "clocks/mem_clock"),
        ("clocks_hertz", "video", values.hertz, "Clocks/Video", "clocks/video_clock"),
        ("max_clocks_hertz", "graphics", values.hertz, "Max Clocks/Graphics", "max_clocks/graphics_clock"),
        ("max_clocks_hertz", "sm", values.hertz, "Max Clocks/SM", "max_clocks/sm_clock"),
        ("max_clocks_hertz", "memory", values.hertz, "Max Clocks/Memory", "max_clocks/mem_clock"),
        ("max_clocks_hertz", "video", values.hertz, "Max Clocks/Video", "max_clocks/video_clock"),
        ("remapped_rows", "correctable", values.number, "Remapped Rows/Correctable Error", "remapped_rows/remapped_row_corr"),
        ("remapped_rows", "uncorrectable", values.number, "Remapped Rows/Uncorrectable Error", "remapped_rows/remapped_row_unc"),
        (
            "retired_pages",
            "single_bit",
            values.number,
            "Retired Pages/Single Bit ECC",
            "retired_pages/multiple_single_bit_retirement/retired_count",
        ),
        ("retired_pages", "double_bit", values.number, "Retired Pages/Double Bit ECC", "retired_pages/double_bit_retirement/retired_count"),
    )
)

#: Clock-event (throttle) reasons: reason label -> (text keys, XML element suffixes).
CLOCK_EVENT_REASONS: dict[str, tuple[tuple[str, ...], str]] = {
    "gpu_idle": (("Idle",), "gpu_idle"),
    "applications_clocks_setting": (("Applications Clocks Setting",), "applications_clocks_setting"),
    "sw_power_cap": (("SW Power Cap",), "sw_power_cap"),
    "hw_slowdown": (("HW Slowdown",), "hw_slowdown"),
    "hw_thermal_slowdown": (("HW Slowdown/HW Thermal Slowdown", "HW Thermal Slowdown"), "hw_thermal_slowdown"),
    "hw_power_brake_slowdown": (("HW Slowdown/HW Power Brake Slowdown", "HW Power Brake Slowdown"), "hw_power_brake_slowdown"),
    "sync_boost": (("Sync Boost",), "sync_boost"),
    "sw_thermal_slowdown": (("SW Thermal Slowdown",), "sw_thermal_slowdown"),
    "display_clocks_setting": (("Display Clock Setting",), "display_clocks_setting"),
}
_REASON_SECTIONS_TEXT = ("Clocks Event Reasons", "Clocks Throttle Reasons")
_REASON_SECTIONS_XML = (("clocks_event_reasons", "clocks_event_reason_"), ("clocks_throttle_reasons", "clocks_throttle_reason_"))

#: Cumulative time per clock-event reason (driver >= 550): reason -> (text key, XML element).
CLOCK_EVENT_COUNTERS: dict[str, tuple[str, str]] = {
    "sw_power_cap": ("SW Power Capping", "clocks_event_reasons_counters_sw_power_cap"),
    "sync_boost": ("Sync Boost", "clocks_event_reasons_counters_sync_boost"),
    "sw_thermal_slowdown": ("SW Thermal Slowdown", "clocks_event_reasons_counters_sw_therm_slowdown"),
    "hw_thermal_slowdown": ("HW Thermal Slowdown", "clocks_event_reasons_counters_hw_therm_slowdown"),
    "hw_power_brake_slowdown": ("HW Power Braking", "clocks_event_reasons_counters_hw_power_brake"),
}

_ECC_KEY = re.compile(r"^(?P<memory>sram|dram|device[ _]memory)[ _](?P<type>correctable|uncorrectable)(?:[ _].*)?$", re.IGNORECASE)


class GpuReader:
    """Builds one :class:`Gpu` from a GPU section, collecting errors instead of raising.

    ``dialect`` is ``"text"`` or ``"xml"``; ``path`` names the file in errors.
    """

    def __init__(self, node: Node, dialect: str, path: str, source: str = "replay"):
        self.node = node
        self.dialect = dialect
        self.path = path
        self.source = source
        self.errors: list[CollectionError] = []

    # -- helpers -------------------------------------------------------------------
    def _where(self, node: Node) -> str:
        return f"{self.path}:{node.line}"

    def _read(self, node: Node | None, parse: Callable[[str], Any], what: str) -> Any:
        if node is None:
            return None
        try:
            return parse(node.value)
        except values.GpuFault as exc:
            self.errors.append(CollectionError(self.source, self._where(node), "unavailable", f"{what}: {exc}"))
        except values.ValueFormatError as exc:
            self.errors.append(CollectionError(self.source, self._where(node), "value", f"{what}: {exc}"))
        return None

    def _field(self, f: Field) -> Any:
        paths = f.text if self.dialect == "text" else f.xml
        node = self.node.first(*paths)
        return self._read(node, f.parse, node.key if node else f.attr)

    # -- the GPU -------------------------------------------------------------------
    def read(self, index: int, bus_id: str) -> Gpu | None:
        uuid_node = self.node.first("GPU UUID" if self.dialect == "text" else "uuid")
        uuid = values.text(uuid_node.value) if uuid_node else None
        if not uuid:
            self.errors.append(
                CollectionError(self.source, f"{self.path}:{self.node.line}", "parse", f"GPU {index} ({bus_id}) has no UUID; GPU skipped")
            )
            return None
        pci = self.node.first("PCI/Bus Id", "pci/pci_bus_id")
        gpu = Gpu(index=index, uuid=uuid, pci_bus_id=(values.text(pci.value) if pci else None) or bus_id)
        for f in SCALARS:
            value = self._field(f)
            if value is not None:
                setattr(gpu, f.attr, value)
        for attr, key, f in KEYED:
            value = self._field(f)
            if value is not None:
                getattr(gpu, attr)[key] = value
        self._clock_events(gpu)
        self._ecc(gpu)
        gpu.mig_devices = self._mig_devices()
        gpu.processes = self._processes()
        return gpu

    def _clock_events(self, gpu: Gpu) -> None:
        if self.dialect == "text":
            section = self.node.first(*_REASON_SECTIONS_TEXT)
            if section is not None:
                for reason, (keys, _) in CLOCK_EVENT_REASONS.items():
                    value = self._read(section.first(*keys), values.flag, f"clock event reason {reason}")
                    if value is not None:
                        gpu.clock_event_reasons[reason] = value
            counters = self.node.child("Clocks Event Reasons Counters")
            for reason, (key, _) in CLOCK_EVENT_COUNTERS.items():
                value = self._read(counters.child(key) if counters else None, values.microseconds, f"clock event time {reason}")
                if value is not None:
                    gpu.clock_event_seconds[reason] = value
        else:
            for section_name, prefix in _REASON_SECTIONS_XML:
                section = self.node.child(section_name)
                if section is None:
                    continue
                for reason, (_, suffix) in CLOCK_EVENT_REASONS.items():
                    value = self._read(section.child(prefix + suffix), values.flag, f"clock event reason {reason}")
                    if value is not None:
                        gpu.clock_event_reasons[reason] = value
                break
            counters = self.node.child("clocks_event_reasons_counters")
            for reason, (_, element) in CLOCK_EVENT_COUNTERS.items():
                value = self._read(counters.child(element) if counters else None, values.microseconds, f"clock event time {reason}")
                if value is not None:
                    gpu.clock_event_seconds[reason] = value

    def _ecc(self, gpu: Gpu) -> None:
        section = self.node.first("ECC Errors", "ecc_errors")
        if section is None:
            return
        for scope, target in (("volatile", gpu.ecc_errors_volatile), ("aggregate", gpu.ecc_errors_aggregate)):
            block = section.child(scope)
            if block is None:
                continue
            for node in block.children:
                m = _ECC_KEY.match(" ".join(node.key.split()))
                if not m:
                    continue  # thresholds and per-unit breakdowns, not error counts
                count = self._read(node, values.number, f"ECC {scope} {node.key}")
                if count is None:
                    continue
                # Driver >= 550 splits SRAM uncorrectable into Parity and SEC-DED: they add up.
                key = (m.group("memory").lower().replace(" ", "_"), m.group("type").lower())
                target[key] = target.get(key, 0.0) + count

    def _mig_devices(self) -> list[MigDevice]:
        if self.dialect == "text":
            nodes = list(self.node.all("MIG Device"))
            mem_paths = ("FB Memory Usage", "Shared FB Memory Usage")
            gi_key, ci_key, idx_key, sm_path = (
                "GPU Instance ID",
                "Compute Instance ID",
                "Index",
                "Device Attributes/Shared/Multiprocessor count",
            )
        else:
            holder = self.node.child("mig_devices")
            nodes = list(holder.all("mig_device")) if holder else []
            mem_paths = ("fb_memory_usage", "shared_fb_memory_usage")
            gi_key, ci_key, idx_key, sm_path = (
                "gpu_instance_id",
                "compute_instance_id",
                "index",
                "device_attributes/shared/multiprocessor_count",
            )
        devices = []
        for node in nodes:
            index = self._read(node.child(idx_key), values.integer, "MIG device index")
            gi = self._read(node.child(gi_key), values.integer, "MIG GPU instance ID")
            ci = self._read(node.child(ci_key), values.integer, "MIG compute instance ID")
            if index is None or gi is None or ci is None:
                self.errors.append(
                    CollectionError(
                        self.source, self._where(node), "parse", "MIG device without index, GPU instance ID or compute instance ID; skipped"
                    )
                )
                continue
            dev = MigDevice(index=index, gpu_instance_id=gi, compute_instance_id=ci)
            dev.multiprocessor_count = self._read(node.find(sm_path), values.integer, "MIG multiprocessor count")
            mem = node.first(*mem_paths)
            if mem is not None:
                for part in ("total", "used", "free", "reserved"):
                    setattr(dev, f"memory_{part}_bytes", self._read(mem.child(part), values.mib, f"MIG memory {part}"))
            devices.append(dev)
        return devices

    def _processes(self) -> list[Process]:
        if self.dialect == "xml":
            holder = self.node.child("processes")
            out = []
            for info in holder.all("process_info") if holder else []:
                pid = self._read(info.child("pid"), values.integer, "process ID")
                if pid is None:
                    self.errors.append(CollectionError(self.source, self._where(info), "parse", "process without a PID; skipped"))
                    continue
                out.append(
                    Process(
                        pid=pid,
                        name=(values.text(info.child("process_name").value) if info.child("process_name") else None) or "",
                        type=(values.text(info.child("type").value) if info.child("type") else None) or "",
                        used_memory_bytes=self._read(info.child("used_memory"), values.mib, "process used GPU memory"),
                        gpu_instance_id=self._read(info.child("gpu_instance_id"), values.integer, "process GPU instance ID"),
                        compute_instance_id=self._read(info.child("compute_instance_id"), values.integer, "process compute instance ID"),
                    )
                )
            return out
        holder = self.node.child("Processes")
        if holder is None:
            return []
        out = []
        gi = ci = None
        current: Process | None = None
        for node in holder.children:
            key = node.key.casefold()
            if key == "gpu instance id":
                gi = self._read(node, values.integer, "process GPU instance ID")
            elif key == "compute instance id":
                ci = self._read(node, values.integer, "process compute instance ID")
            elif key == "process id":
                pid = self._read(node, values.integer, "process ID")
                current = None
                if pid is None:
                    continue
                current = Process(pid=pid, gpu_instance_id=gi, compute_instance_id=ci)
                out.append(current)
                gi = ci = None
                for attr in node.children:  # drivers >= 450 nest Type/Name/Used GPU Memory under Process ID
                    self._process_attr(current, attr)
            elif current is not None:  # older drivers print them as siblings
                self._process_attr(current, node)
        return out

    def _process_attr(self, proc: Process, node: Node) -> None:
        key = node.key.casefold()
        if key == "type":
            proc.type = values.text(node.value) or ""
        elif key in ("name", "process name"):
            proc.name = values.text(node.value) or ""
        elif key == "used gpu memory":
            proc.used_memory_bytes = self._read(node, values.mib, "process used GPU memory")
