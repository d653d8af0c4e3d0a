"""One physical GPU from NVML -> :class:`~axonize.exporter.snapshot.Gpu`.

Units: NVML reports memory in bytes, power in milliwatts, energy in
millijoules, clocks in MHz, utilization and fan speed in percent, PCIe
throughput in KB/s (taken as 1000 B/s, as for the replay) and temperatures
in degrees C; the snapshot holds base units (W, J, Hz, ratios 0..1). Each
reading is one NVML call (nvml.h, "Device Queries"); an unsupported one
leaves the field ``None`` (no series), see :mod:`axonize.nvml`.
"""

from __future__ import annotations

from types import ModuleType

from axonize.nvml import Caller, GpuFault, text

from ..snapshot import Gpu

#: nvmlBrandType_t -> the word nvidia-smi prints for it (``Product Brand``)
BRANDS = {
    1: "Quadro",
    2: "Tesla",
    3: "NVS",
    4: "Grid",
    5: "GeForce",
    6: "Titan",
    7: "NVIDIA Virtual Applications",
    8: "NVIDIA Virtual PC",
    9: "NVIDIA Virtual Compute Server",
    10: "NVIDIA RTX Virtual Workstation",
    11: "NVIDIA Cloud Gaming",
    12: "Quadro RTX",
    13: "NVIDIA RTX",
    14: "NVIDIA",
    15: "GeForce RTX",
    16: "Titan RTX",
}
#: nvmlDeviceArchitecture_t -> the word nvidia-smi prints (``Product Architecture``)
ARCHITECTURES = {
    2: "Kepler",
    3: "Maxwell",
    4: "Pascal",
    5: "Volta",
    6: "Turing",
    7: "Ampere",
    8: "Ada Lovelace",
    9: "Hopper",
    10: "Blackwell",
}
#: nvmlComputeMode_t -> nvidia-smi's word
COMPUTE_MODES = {0: "Default", 1: "Exclusive_Thread", 2: "Prohibited", 3: "Exclusive_Process"}
#: clock domain -> nvmlClockType_t
CLOCKS = {"graphics": 0, "sm": 1, "memory": 2, "video": 3}
#: clock-event reason (the replay's names) -> nvmlClocksEventReason* bit
CLOCK_EVENT_BITS = {
    "gpu_idle": 0x1,
    "applications_clocks_setting": 0x2,
    "sw_power_cap": 0x4,
    "hw_slowdown": 0x8,
    "sync_boost": 0x10,
    "sw_thermal_slowdown": 0x20,
    "hw_thermal_slowdown": 0x40,
    "hw_power_brake_slowdown": 0x80,
    "display_clocks_setting": 0x100,
}
#: clock-event reason -> NVML field id of its cumulative time (ns; driver >= 550)
CLOCK_EVENT_FIELDS = {
    "sw_power_cap": 74,
    "sync_boost": 76,
    "sw_thermal_slowdown": 269,
    "hw_thermal_slowdown": 270,
    "hw_power_brake_slowdown": 271,
}
FI_MEMORY_TEMP = 82  # NVML_FI_DEV_MEMORY_TEMP, C
FI_POWER_AVERAGE = 185  # NVML_FI_DEV_POWER_AVERAGE, mW, with an NVML_POWER_SCOPE_* scope
FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT, mW
POWER_SCOPE_GPU, POWER_SCOPE_MEMORY = 0, 2
ECC_MEMORIES = {"sram": 7, "dram": 2}  # NVML_MEMORY_LOCATION_SRAM / _DRAM
ECC_TYPES = {"correctable": 0, "uncorrectable": 1}  # NVML_MEMORY_ERROR_TYPE_*
ECC_COUNTERS = {"ecc_errors_volatile": 0, "ecc_errors_aggregate": 1}  # NVML_VOLATILE_ECC / NVML_AGGREGATE_ECC
RETIREMENT_CAUSES = {"single_bit": 0, "double_bit": 1}  # NVML_PAGE_RETIREMENT_CAUSE_*
NVML_SUCCESS = 0
#: nvmlValueType_t -> the member of the c_nvmlValue_t union that holds it
VALUE_TYPES = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def field_values(call: Caller, handle, fields: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """``nvmlDeviceGetFieldValues`` for ``(field id, scope id)`` pairs -> the ones that succeeded, as floats."""
    values = call(call.nvml.nvmlDeviceGetFieldValues, handle, fields)
    out: dict[tuple[int, int], float] = {}
    for (field, scope), fv in zip(fields, values or ()):
        if fv.nvmlReturn != NVML_SUCCESS:
            continue
        out[(field, scope)] = float(getattr(fv.value, VALUE_TYPES.get(fv.valueType, "ullVal")))
    return out


def bitmask_cpulist(words) -> str:
    """An NVML CPU/node set (array of 64-bit words, bit i of word w = item 64*w+i) -> Linux cpulist ``0-3,8``."""
    items = [w * 64 + b for w, word in enumerate(words) for b in range(64) if int(word) >> b & 1]
    ranges: list[str] = []
    start = prev = None
    for i in items + [None]:
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = i
    return ",".join(ranges)


def read_memory(call: Caller, handle, target) -> None:
    """``nvmlDeviceGetMemoryInfo`` (v2: with reserved memory), bytes, into a Gpu or MigDevice's ``memory_*_bytes``."""
    memory = call(call.nvml.nvmlDeviceGetMemoryInfo, handle, call.nvml.nvmlMemory_v2)
    if memory is not None:
        target.memory_total_bytes = float(memory.total)
        target.memory_used_bytes = float(memory.used)
        target.memory_free_bytes = float(memory.free)
        target.memory_reserved_bytes = float(memory.reserved)


def _mhz(v) -> float | None:
    return None if v is None else float(v) * 1e6


def _mw(v) -> float | None:
    return None if v is None else float(v) / 1000.0


def _pct(v) -> float | None:
    return None if v is None else float(v) / 100.0


def read_gpu(call: Caller, handle, index: int, cpu_count: int, max_clocks: dict[str, dict[str, float]] | None = None) -> Gpu:
    """Read every physical-GPU field of :class:`Gpu` except MIG devices, processes, links, activity and PCIe throughput.

    ``cpu_count`` sizes the CPU-affinity bitmask (64 CPUs a word). ``max_clocks``
    is a cache ``{uuid: {domain: Hz}}`` kept by the caller: the maximum clocks
    are fixed for a board (``nvmlDeviceGetMaxClockInfo``), and each read costs
    about 1.8 ms on an H200 with driver 580 (measured, devtools/gpu_capture.sh),
    so they are read once per GPU. PCIe throughput is :func:`read_pcie_throughput`'s,
    since GPM gives it without NVML's 20 ms sampling wait. Raises
    :class:`~axonize.nvml.GpuFault` when the GPU is lost or NVML must be re-initialised.
    """
    nvml: ModuleType = call.nvml
    uuid = call(nvml.nvmlDeviceGetUUID, handle)
    if uuid is None:  # every GPU has one; without it the series could not be keyed
        raise GpuFault("unknown", "nvmlDeviceGetUUID", "the GPU reports no UUID")
    gpu = Gpu(index=index, uuid=text(uuid))
    pci = call(nvml.nvmlDeviceGetPciInfo, handle)
    if pci is not None:
        gpu.pci_bus_id = text(pci.busId)
    gpu.name = text(call(nvml.nvmlDeviceGetName, handle) or "")
    brand = call(nvml.nvmlDeviceGetBrand, handle)
    gpu.brand = BRANDS.get(brand, "") if brand is not None else ""
    arch = call(nvml.nvmlDeviceGetArchitecture, handle)
    gpu.architecture = ARCHITECTURES.get(arch, "") if arch is not None else ""
    gpu.serial = text(call(nvml.nvmlDeviceGetSerial, handle) or "")
    gpu.vbios_version = text(call(nvml.nvmlDeviceGetVbiosVersion, handle) or "")
    gpu.minor_number = call(nvml.nvmlDeviceGetMinorNumber, handle)
    mig = call(nvml.nvmlDeviceGetMigMode, handle)
    gpu.mig_mode = None if mig is None else bool(mig[0])
    persistence = call(nvml.nvmlDeviceGetPersistenceMode, handle)
    gpu.persistence_mode = None if persistence is None else bool(persistence)
    mode = call(nvml.nvmlDeviceGetComputeMode, handle)
    gpu.compute_mode = COMPUTE_MODES.get(mode, "") if mode is not None else ""

    _placement(call, handle, gpu, cpu_count)

    read_memory(call, handle, gpu)
    bar1 = call(nvml.nvmlDeviceGetBAR1MemoryInfo, handle)
    if bar1 is not None:
        gpu.bar1_total_bytes = float(bar1.bar1Total)
        gpu.bar1_used_bytes = float(bar1.bar1Used)

    if not gpu.mig_mode:  # under MIG the whole-GPU utilization is N/A (nvidia-smi prints N/A too)
        rates = call(nvml.nvmlDeviceGetUtilizationRates, handle)
        if rates is not None:
            gpu.utilization_ratio = _pct(rates.gpu)
            gpu.memory_utilization_ratio = _pct(rates.memory)
        enc = call(nvml.nvmlDeviceGetEncoderUtilization, handle)
        gpu.encoder_utilization_ratio = None if enc is None else _pct(enc[0])
        dec = call(nvml.nvmlDeviceGetDecoderUtilization, handle)
        gpu.decoder_utilization_ratio = None if dec is None else _pct(dec[0])

    gpu.power_watts = _mw(call(nvml.nvmlDeviceGetPowerUsage, handle))
    gpu.power_limit_watts = _mw(call(nvml.nvmlDeviceGetEnforcedPowerLimit, handle))
    energy = call(nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
    gpu.energy_joules = None if energy is None else float(energy) / 1000.0
    fields = [(FI_MEMORY_TEMP, 0), (FI_POWER_INSTANT, POWER_SCOPE_GPU), (FI_POWER_AVERAGE, POWER_SCOPE_MEMORY)]
    fields += [(fid, 0) for fid in CLOCK_EVENT_FIELDS.values()]
    got = field_values(call, handle, fields)
    gpu.memory_temperature_celsius = got.get((FI_MEMORY_TEMP, 0))
    gpu.power_instant_watts = _mw(got.get((FI_POWER_INSTANT, POWER_SCOPE_GPU)))
    gpu.memory_power_watts = _mw(got.get((FI_POWER_AVERAGE, POWER_SCOPE_MEMORY)))
    for reason, fid in CLOCK_EVENT_FIELDS.items():
        if (fid, 0) in got:
            gpu.clock_event_seconds[reason] = got[(fid, 0)] / 1e9

    temp = call(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
    gpu.temperature_celsius = None if temp is None else float(temp)
    gpu.fan_speed_ratio = _pct(call(nvml.nvmlDeviceGetFanSpeed, handle))
    pstate = call(nvml.nvmlDeviceGetPerformanceState, handle)
    gpu.performance_state = None if pstate is None or pstate == 32 else int(pstate)  # 32 = NVML_PSTATE_UNKNOWN
    cached = None if max_clocks is None else max_clocks.get(gpu.uuid)
    for domain, clock_type in CLOCKS.items():
        current = _mhz(call(nvml.nvmlDeviceGetClockInfo, handle, clock_type))
        if current is not None:
            gpu.clocks_hertz[domain] = current
        if cached is None:
            peak = _mhz(call(nvml.nvmlDeviceGetMaxClockInfo, handle, clock_type))
            if peak is not None:
                gpu.max_clocks_hertz[domain] = peak
    if cached is not None:
        gpu.max_clocks_hertz = dict(cached)
    elif max_clocks is not None and gpu.max_clocks_hertz:
        max_clocks[gpu.uuid] = dict(gpu.max_clocks_hertz)
    reasons = call(nvml.nvmlDeviceGetCurrentClocksEventReasons, handle)
    if reasons is not None:
        gpu.clock_event_reasons = {reason: bool(reasons & bit) for reason, bit in CLOCK_EVENT_BITS.items()}

    replays = call(nvml.nvmlDeviceGetPcieReplayCounter, handle)
    gpu.pcie_replays = None if replays is None else float(replays)
    gpu.pcie_link_generation = call(nvml.nvmlDeviceGetCurrPcieLinkGeneration, handle)
    gpu.pcie_link_max_generation = call(nvml.nvmlDeviceGetMaxPcieLinkGeneration, handle)
    gpu.pcie_link_width = call(nvml.nvmlDeviceGetCurrPcieLinkWidth, handle)
    gpu.pcie_link_max_width = call(nvml.nvmlDeviceGetMaxPcieLinkWidth, handle)

    _ecc(call, handle, gpu)
    return gpu


def read_pcie_throughput(call: Caller, handle, gpu: Gpu) -> None:
    """Fill whichever of ``gpu.pcie_tx/rx_bytes_per_second`` is still None from ``nvmlDeviceGetPcieThroughput``.

    NVML samples that counter over a 20 ms window inside the call (nvml.h), so
    each call blocks about 21 ms (measured on an H200, driver 580): the NVML
    backend uses it only where GPM gives no PCIe rate (before Hopper, MIG mode,
    GPM's first cycle). NVML answers in KB/s; the snapshot holds bytes/s (x1000).
    """
    nvml = call.nvml
    for attr, counter in (
        ("pcie_tx_bytes_per_second", nvml.NVML_PCIE_UTIL_TX_BYTES),
        ("pcie_rx_bytes_per_second", nvml.NVML_PCIE_UTIL_RX_BYTES),
    ):
        if getattr(gpu, attr) is None:
            value = call(nvml.nvmlDeviceGetPcieThroughput, handle, counter)
            setattr(gpu, attr, None if value is None else float(value) * 1000.0)


def _placement(call: Caller, handle, gpu: Gpu, cpu_count: int) -> None:
    """CPU-side NUMA node (memory affinity, scope NODE), the CPU affinity, the GPU's own memory NUMA node."""
    nvml = call.nvml
    nodes = call(nvml.nvmlDeviceGetMemoryAffinity, handle, 4, nvml.NVML_AFFINITY_SCOPE_NODE)
    if nodes is not None:
        listed = bitmask_cpulist(nodes)
        if listed and "," not in listed and "-" not in listed:  # exactly one node
            gpu.numa_node = int(listed)
    cpus = call(nvml.nvmlDeviceGetCpuAffinity, handle, max(16, (cpu_count + 63) // 64))  # room for 1024 CPUs at least
    if cpus is not None:
        gpu.cpu_affinity = bitmask_cpulist(cpus) or None
    own = call(nvml.nvmlDeviceGetNumaNodeId, handle)
    gpu.memory_numa_node = None if own is None or own < 0 else int(own)


def _ecc(call: Caller, handle, gpu: Gpu) -> None:
    nvml = call.nvml
    mode = call(nvml.nvmlDeviceGetEccMode, handle)
    gpu.ecc_mode = None if mode is None else bool(mode[0])
    if gpu.ecc_mode:
        for attr, counter in ECC_COUNTERS.items():
            target = getattr(gpu, attr)
            for memory, location in ECC_MEMORIES.items():
                for kind, error_type in ECC_TYPES.items():
                    value = call(nvml.nvmlDeviceGetMemoryErrorCounter, handle, error_type, counter, location)
                    if value is not None:
                        target[(memory, kind)] = float(value)
    rows = call(nvml.nvmlDeviceGetRemappedRows, handle)
    if rows is not None:
        correctable, uncorrectable, pending, failure = rows
        gpu.remapped_rows = {"correctable": float(correctable), "uncorrectable": float(uncorrectable)}
        gpu.remapped_rows_pending = bool(pending)
        gpu.remapped_rows_failure = bool(failure)
    else:
        for cause, code in RETIREMENT_CAUSES.items():
            pages = call(nvml.nvmlDeviceGetRetiredPages, handle, code)
            if pages is not None:
                gpu.retired_pages[cause] = float(len(pages))
