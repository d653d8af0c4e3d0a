"""A fake ``pynvml`` at the hardware boundary, fed from real nvidia-smi captures.

This machine has no GPU, so the NVML backend is tested against
:class:`FakeNvml`: an object that answers the ``pynvml`` functions the
backend calls, in NVML's own units (mW, mJ, MHz, percent, KB/s, bitmasks),
from a :class:`~axonize.exporter.snapshot.Snapshot` that the replay backend
parsed from real captures (``nvidia-smi -q`` / ``-q -x``, ``topo -m``, ``-L``).
Constants, error classes and ctypes structures are the real ``pynvml``
module's, so ``NVMLError(code)`` gives the same subclasses the real library
raises.

Beyond the captures, a test may declare what no capture holds: GPM activity
ratios (``gpm={gpu index: {"tensor_active": 0.42, ...}}``), an energy counter,
and faults: ``fail(gpu, function, code)``, ``hang(gpu, seconds)``,
``lose(gpu)`` (every call raises GPU_IS_LOST), ``unload_driver()`` /
``load_driver()``, and ``emit_xid(gpu, code)`` for the event set.

Subprocess tests load it as ``pynvml`` through ``tests/fake_nvml/shim`` on
``PYTHONPATH`` with the scenario in ``AXONIZE_FAKE_NVML`` (see :func:`scenario_env`).
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from axonize.exporter.replay import ReplaySource
from axonize.exporter.snapshot import Gpu, Snapshot

SHIM = Path(__file__).resolve().parent / "shim"
ROOT = Path(__file__).resolve().parents[2]


def _load_real_pynvml():
    """The real ``pynvml`` module, found past the shim (which takes the name ``pynvml`` in subprocesses)."""
    import importlib.machinery
    import importlib.util
    import sys

    if "_axonize_real_pynvml" in sys.modules:
        return sys.modules["_axonize_real_pynvml"]
    spec = importlib.machinery.PathFinder.find_spec("pynvml", [p for p in sys.path if Path(p or ".").resolve() != SHIM])
    if spec is None or spec.loader is None:
        raise ImportError("nvidia-ml-py (pynvml) is not installed")
    spec = importlib.util.spec_from_file_location("_axonize_real_pynvml", spec.origin)
    module = importlib.util.module_from_spec(spec)
    sys.modules["_axonize_real_pynvml"] = module
    spec.loader.exec_module(module)
    return module


_real = _load_real_pynvml()

_CLOCK_DOMAINS = {0: "graphics", 1: "sm", 2: "memory", 3: "video"}
_REASON_BITS = {
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
_REASON_FIELDS = {
    74: "sw_power_cap",
    76: "sync_boost",
    269: "sw_thermal_slowdown",
    270: "hw_thermal_slowdown",
    271: "hw_power_brake_slowdown",
}
_BRANDS = {"Quadro": 1, "Tesla": 2, "GeForce": 5, "NVIDIA RTX": 13, "NVIDIA": 14}
_ARCHS = {"Volta": 5, "Turing": 6, "Ampere": 7, "Ada Lovelace": 8, "Hopper": 9, "Blackwell": 10}
_COMPUTE = {"Default": 0, "Prohibited": 2, "Exclusive_Process": 3}
_ANCESTOR = {"PIX": 10, "PXB": 20, "PHB": 30, "NODE": 40, "SYS": 50}
_GPM = {
    1: "graphics_engine_active",
    2: "sm_active",
    3: "sm_occupancy",
    5: "tensor_active",
    10: "dram_active",
    11: "fp64_active",
    12: "fp32_active",
    13: "fp16_active",
}
#: GPM PCIe rates of a whole GPU, answered from the capture's throughput (NVML_GPM_METRIC_PCIE_TX/RX_PER_SEC)
_GPM_RATES = {20: "pcie_tx_bytes_per_second", 21: "pcie_rx_bytes_per_second"}
_LOCATIONS = {7: "sram", 2: "dram"}


class _Handle:
    def __init__(self, gpu: int, gi: int | None = None, ci: int | None = None):
        self.gpu, self.gi, self.ci = gpu, gi, ci

    def __repr__(self) -> str:
        return f"<fake nvmlDevice {self.gpu}{'' if self.gi is None else f' MIG {self.gi}/{self.ci}'}>"


def _cpulist_words(cpulist: str, words: int) -> list[int]:
    out = [0] * words
    for part in cpulist.split(","):
        lo, _, hi = part.partition("-")
        for cpu in range(int(lo), int(hi or lo) + 1):
            if cpu // 64 < words:
                out[cpu // 64] |= 1 << (cpu % 64)
    return out


class FakeNvml:
    """Stands in for the ``pynvml`` module (pass it as ``NvmlSource(nvml=...)``)."""

    def __init__(
        self,
        snapshot: Snapshot,
        gpm: dict[int, dict[str, float]] | None = None,
        energy_joules: dict[int, float] | None = None,
        nvswitch: bool = True,
    ):
        for name, value in vars(_real).items():  # constants, NVMLError classes, ctypes structs
            if not name.startswith("_") and not (callable(value) and name.startswith("nvml") and not isinstance(value, type)):
                setattr(self, name, value)
        self.snapshot = snapshot
        self.gpus: list[Gpu] = sorted(snapshot.gpus, key=lambda g: g.index)
        self.gpm = gpm or {}
        self.energy = energy_joules or {}
        self.nvswitch = nvswitch
        self.initialised = False
        self.driver_loaded = True
        self.calls = 0
        self.fn_calls: dict[str, int] = {}  # NVML function name -> calls
        self.gpu_calls: dict[int, int] = {}
        self._failures: dict[tuple[int, str], int] = {}
        self._failure_codes: dict[tuple[int, str], int] = {}
        self._hangs: dict[int, float] = {}
        self._lost: set[int] = set()
        self._events: queue.Queue[SimpleNamespace] = queue.Queue()
        self._samples: dict[int, tuple[int, int | None, Any]] = {}
        self._lock = threading.Lock()
        self._nvlinks = self._build_nvlinks()

    # -- scenario --------------------------------------------------------------------
    @classmethod
    def from_captures(cls, paths: Iterable[str | os.PathLike], **kw: Any) -> FakeNvml:
        return cls(ReplaySource([str(p) for p in paths]).collect(), **kw)

    def fail(self, gpu: int, function: str, code: int, times: int = 1_000_000) -> None:
        """Make ``function`` on ``gpu`` raise NVMLError(code) ``times`` times ("*" = every function)."""
        self._failures[(gpu, function)] = times
        self._failure_codes[(gpu, function)] = code

    def hang(self, gpu: int, seconds: float) -> None:
        self._hangs[gpu] = seconds

    def lose(self, gpu: int) -> None:
        self._lost.add(gpu)

    def recover(self, gpu: int) -> None:
        self._lost.discard(gpu)

    def unload_driver(self) -> None:
        self.driver_loaded = False
        self.initialised = False

    def load_driver(self) -> None:
        self.driver_loaded = True

    def emit_xid(self, gpu: int, code: int) -> None:
        self._events.put(
            SimpleNamespace(device=_Handle(gpu), eventType=0x8, eventData=code, gpuInstanceId=0xFFFFFFFF, computeInstanceId=0xFFFFFFFF)
        )

    # -- plumbing --------------------------------------------------------------------
    def _enter(self, fn: str, handle: _Handle | None = None) -> Gpu | None:
        with self._lock:
            self.calls += 1
            self.fn_calls[fn] = self.fn_calls.get(fn, 0) + 1
            if handle is not None:
                self.gpu_calls[handle.gpu] = self.gpu_calls.get(handle.gpu, 0) + 1
        if not self.driver_loaded:
            raise _real.NVMLError(_real.NVML_ERROR_DRIVER_NOT_LOADED)
        if not self.initialised:
            raise _real.NVMLError(_real.NVML_ERROR_UNINITIALIZED)
        if handle is None:
            return None
        if handle.gpu in self._hangs:
            time.sleep(self._hangs[handle.gpu])
        if handle.gpu in self._lost:
            raise _real.NVMLError(_real.NVML_ERROR_GPU_IS_LOST)
        for key in ((handle.gpu, fn), (handle.gpu, "*")):
            if self._failures.get(key, 0) > 0:
                self._failures[key] -= 1
                raise _real.NVMLError(self._failure_codes[key])
        return self.gpus[handle.gpu]

    @staticmethod
    def _need(value: Any) -> Any:
        if value is None:
            raise _real.NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        return value

    def _mig(self, handle: _Handle):
        gpu = self.gpus[handle.gpu]
        for dev in gpu.mig_devices:
            if (dev.gpu_instance_id, dev.compute_instance_id) == (handle.gi, handle.ci):
                return gpu, dev
        raise _real.NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)

    def _build_nvlinks(self) -> dict[int, list[tuple[str, bool]]]:
        """Per GPU: links as (remote bus id, active), from the topo -m NV# cells.

        When every peer shows the same NV# (HGX), the links end on NVSwitches
        (remote bus ids of switches); otherwise they go straight to the peer.
        """
        out: dict[int, list[tuple[str, bool]]] = {}
        by_gpu: dict[int, dict[int, int]] = {}
        for link in self.snapshot.links:
            if link.path == "NVLINK":
                by_gpu.setdefault(link.gpu, {})[link.peer_gpu] = link.nvlinks
        bus = {g.index: g.pci_bus_id for g in self.gpus}
        for gpu, peers in by_gpu.items():
            counts = set(peers.values())
            if self.nvswitch and len(counts) == 1 and len(peers) == len(self.gpus) - 1 and len(peers) > 1:
                n = counts.pop()
                out[gpu] = [(f"00000000:{0xA0 + i % 4:02X}:00.0", True) for i in range(n)]
            else:
                out[gpu] = [(bus[peer], True) for peer, n in sorted(peers.items()) for _ in range(n)]
        return out

    # -- init and system -------------------------------------------------------------
    def nvmlInit(self) -> None:
        if not self.driver_loaded:
            raise _real.NVMLError(_real.NVML_ERROR_DRIVER_NOT_LOADED)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.initialised = False

    def nvmlSystemGetDriverVersion(self) -> str:
        self._enter("nvmlSystemGetDriverVersion")
        return self.snapshot.driver_version

    def nvmlSystemGetCudaDriverVersion_v2(self) -> int:
        self._enter("nvmlSystemGetCudaDriverVersion_v2")
        major, _, minor = self.snapshot.cuda_version.partition(".")
        return int(major) * 1000 + int(minor or 0) * 10

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        self._enter("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < len(self.gpus):
            raise _real.NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(index)

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        self._enter("nvmlSystemGetProcessName")
        for gpu in self.gpus:
            for proc in gpu.processes:
                if proc.pid == pid:
                    return proc.name
        raise _real.NVMLError(_real.NVML_ERROR_NOT_FOUND)

    # -- identity --------------------------------------------------------------------
    def nvmlDeviceGetUUID(self, h: _Handle) -> str:
        gpu = self._enter("nvmlDeviceGetUUID", h)
        if h.gi is not None:
            return self._need(self._mig(h)[1].uuid)
        return gpu.uuid

    def nvmlDeviceGetName(self, h: _Handle) -> str:
        gpu = self._enter("nvmlDeviceGetName", h)
        if h.gi is not None:
            dev = self._mig(h)[1]
            return f"{gpu.name} MIG {self._need(dev.profile)}"
        return gpu.name

    def nvmlDeviceGetPciInfo(self, h: _Handle):
        gpu = self._enter("nvmlDeviceGetPciInfo", h)
        return SimpleNamespace(busId=gpu.pci_bus_id)

    def nvmlDeviceGetBrand(self, h: _Handle) -> int:
        return self._need(_BRANDS.get(self._enter("nvmlDeviceGetBrand", h).brand))

    def nvmlDeviceGetArchitecture(self, h: _Handle) -> int:
        return self._need(_ARCHS.get(self._enter("nvmlDeviceGetArchitecture", h).architecture))

    def nvmlDeviceGetSerial(self, h: _Handle) -> str:
        return self._need(self._enter("nvmlDeviceGetSerial", h).serial or None)

    def nvmlDeviceGetVbiosVersion(self, h: _Handle) -> str:
        return self._need(self._enter("nvmlDeviceGetVbiosVersion", h).vbios_version or None)

    def nvmlDeviceGetMinorNumber(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetMinorNumber", h).minor_number)

    def nvmlDeviceGetMigMode(self, h: _Handle) -> list[int]:
        mode = self._need(self._enter("nvmlDeviceGetMigMode", h).mig_mode)
        return [int(mode), int(mode)]

    def nvmlDeviceGetPersistenceMode(self, h: _Handle) -> int:
        return int(self._need(self._enter("nvmlDeviceGetPersistenceMode", h).persistence_mode))

    def nvmlDeviceGetComputeMode(self, h: _Handle) -> int:
        return self._need(_COMPUTE.get(self._enter("nvmlDeviceGetComputeMode", h).compute_mode))

    # -- placement -------------------------------------------------------------------
    def nvmlDeviceGetMemoryAffinity(self, h: _Handle, size: int, scope: int) -> list[int]:
        node = self._need(self._enter("nvmlDeviceGetMemoryAffinity", h).numa_node)
        return _cpulist_words(str(node), size)

    def nvmlDeviceGetCpuAffinity(self, h: _Handle, size: int) -> list[int]:
        return _cpulist_words(self._need(self._enter("nvmlDeviceGetCpuAffinity", h).cpu_affinity), size)

    def nvmlDeviceGetNumaNodeId(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetNumaNodeId", h).memory_numa_node)

    # -- memory, utilization, power, thermals, clocks -------------------------------
    def nvmlDeviceGetMemoryInfo(self, h: _Handle, version: Any = None):
        gpu = self._enter("nvmlDeviceGetMemoryInfo", h)
        src = self._mig(h)[1] if h.gi is not None else gpu
        total = self._need(src.memory_total_bytes)
        return SimpleNamespace(
            total=int(total),
            used=int(src.memory_used_bytes or 0),
            free=int(src.memory_free_bytes or 0),
            reserved=int(src.memory_reserved_bytes or 0),
            version=version,
        )

    def nvmlDeviceGetBAR1MemoryInfo(self, h: _Handle):
        gpu = self._enter("nvmlDeviceGetBAR1MemoryInfo", h)
        return SimpleNamespace(bar1Total=int(self._need(gpu.bar1_total_bytes)), bar1Used=int(gpu.bar1_used_bytes or 0))

    def nvmlDeviceGetUtilizationRates(self, h: _Handle):
        gpu = self._enter("nvmlDeviceGetUtilizationRates", h)
        return SimpleNamespace(gpu=round(self._need(gpu.utilization_ratio) * 100), memory=round((gpu.memory_utilization_ratio or 0) * 100))

    def nvmlDeviceGetEncoderUtilization(self, h: _Handle) -> list[int]:
        return [round(self._need(self._enter("nvmlDeviceGetEncoderUtilization", h).encoder_utilization_ratio) * 100), 167000]

    def nvmlDeviceGetDecoderUtilization(self, h: _Handle) -> list[int]:
        return [round(self._need(self._enter("nvmlDeviceGetDecoderUtilization", h).decoder_utilization_ratio) * 100), 167000]

    def nvmlDeviceGetPowerUsage(self, h: _Handle) -> int:
        return round(self._need(self._enter("nvmlDeviceGetPowerUsage", h).power_watts) * 1000)

    def nvmlDeviceGetEnforcedPowerLimit(self, h: _Handle) -> int:
        return round(self._need(self._enter("nvmlDeviceGetEnforcedPowerLimit", h).power_limit_watts) * 1000)

    def nvmlDeviceGetTotalEnergyConsumption(self, h: _Handle) -> int:
        self._enter("nvmlDeviceGetTotalEnergyConsumption", h)
        return round(self._need(self.energy.get(h.gpu)) * 1000)

    def nvmlDeviceGetFieldValues(self, h: _Handle, fields: list) -> list:
        gpu = self._enter("nvmlDeviceGetFieldValues", h)
        out = []
        for fid, scope in fields:
            value = None
            if fid == 82:
                value = gpu.memory_temperature_celsius
            elif fid == 186 and scope == 0 and gpu.power_instant_watts is not None:
                value = gpu.power_instant_watts * 1000
            elif fid == 185 and scope == 2 and gpu.memory_power_watts is not None:
                value = gpu.memory_power_watts * 1000
            elif fid in _REASON_FIELDS and _REASON_FIELDS[fid] in gpu.clock_event_seconds:
                value = gpu.clock_event_seconds[_REASON_FIELDS[fid]] * 1e9
            elif fid in (138, 139) and h.gpu in self._nvlinks and scope < len(self._nvlinks[h.gpu]):
                value = 0.0
            fv = _real.c_nvmlFieldValue_t()
            fv.fieldId, fv.scopeId = fid, scope
            fv.valueType = 3  # NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
            fv.nvmlReturn = 0 if value is not None else _real.NVML_ERROR_NOT_SUPPORTED
            fv.value.ullVal = int(round(value)) if value is not None else 0
            out.append(fv)
        return out

    def nvmlDeviceGetTemperature(self, h: _Handle, sensor: int) -> int:
        return round(self._need(self._enter("nvmlDeviceGetTemperature", h).temperature_celsius))

    def nvmlDeviceGetFanSpeed(self, h: _Handle) -> int:
        return round(self._need(self._enter("nvmlDeviceGetFanSpeed", h).fan_speed_ratio) * 100)

    def nvmlDeviceGetPerformanceState(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetPerformanceState", h).performance_state)

    def nvmlDeviceGetClockInfo(self, h: _Handle, domain: int) -> int:
        gpu = self._enter("nvmlDeviceGetClockInfo", h)
        return round(self._need(gpu.clocks_hertz.get(_CLOCK_DOMAINS[domain])) / 1e6)

    def nvmlDeviceGetMaxClockInfo(self, h: _Handle, domain: int) -> int:
        gpu = self._enter("nvmlDeviceGetMaxClockInfo", h)
        return round(self._need(gpu.max_clocks_hertz.get(_CLOCK_DOMAINS[domain])) / 1e6)

    def nvmlDeviceGetCurrentClocksEventReasons(self, h: _Handle) -> int:
        gpu = self._enter("nvmlDeviceGetCurrentClocksEventReasons", h)
        self._need(gpu.clock_event_reasons or None)
        return sum(bit for reason, bit in _REASON_BITS.items() if gpu.clock_event_reasons.get(reason))

    # -- PCIe, ECC -------------------------------------------------------------------
    def nvmlDeviceGetPcieThroughput(self, h: _Handle, counter: int) -> int:
        gpu = self._enter("nvmlDeviceGetPcieThroughput", h)
        value = gpu.pcie_tx_bytes_per_second if counter == 0 else gpu.pcie_rx_bytes_per_second
        return round(self._need(value) / 1000)

    def nvmlDeviceGetPcieReplayCounter(self, h: _Handle) -> int:
        return int(self._need(self._enter("nvmlDeviceGetPcieReplayCounter", h).pcie_replays))

    def nvmlDeviceGetCurrPcieLinkGeneration(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetCurrPcieLinkGeneration", h).pcie_link_generation)

    def nvmlDeviceGetMaxPcieLinkGeneration(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetMaxPcieLinkGeneration", h).pcie_link_max_generation)

    def nvmlDeviceGetCurrPcieLinkWidth(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetCurrPcieLinkWidth", h).pcie_link_width)

    def nvmlDeviceGetMaxPcieLinkWidth(self, h: _Handle) -> int:
        return self._need(self._enter("nvmlDeviceGetMaxPcieLinkWidth", h).pcie_link_max_width)

    def nvmlDeviceGetEccMode(self, h: _Handle) -> list[int]:
        mode = self._need(self._enter("nvmlDeviceGetEccMode", h).ecc_mode)
        return [int(mode), int(mode)]

    def nvmlDeviceGetMemoryErrorCounter(self, h: _Handle, error_type: int, counter: int, location: int) -> int:
        gpu = self._enter("nvmlDeviceGetMemoryErrorCounter", h)
        table = gpu.ecc_errors_volatile if counter == 0 else gpu.ecc_errors_aggregate
        return int(self._need(table.get((_LOCATIONS.get(location, "?"), "correctable" if error_type == 0 else "uncorrectable"))))

    def nvmlDeviceGetRemappedRows(self, h: _Handle) -> tuple:
        gpu = self._enter("nvmlDeviceGetRemappedRows", h)
        self._need(gpu.remapped_rows or None)
        return (
            int(gpu.remapped_rows.get("correctable", 0)),
            int(gpu.remapped_rows.get("uncorrectable", 0)),
            int(bool(gpu.remapped_rows_pending)),
            int(bool(gpu.remapped_rows_failure)),
        )

    def nvmlDeviceGetRetiredPages(self, h: _Handle, cause: int) -> list[int]:
        gpu = self._enter("nvmlDeviceGetRetiredPages", h)
        count = self._need(gpu.retired_pages.get("single_bit" if cause == 0 else "double_bit"))
        return [0x1000 * i for i in range(int(count))]

    # -- MIG -------------------------------------------------------------------------
    def nvmlDeviceGetMaxMigDeviceCount(self, h: _Handle) -> int:
        gpu = self._enter("nvmlDeviceGetMaxMigDeviceCount", h)
        return 7 if gpu.mig_mode else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: _Handle, slot: int) -> _Handle:
        gpu = self._enter("nvmlDeviceGetMigDeviceHandleByIndex", h)
        if slot >= len(gpu.mig_devices):
            raise _real.NVMLError(_real.NVML_ERROR_NOT_FOUND)
        dev = gpu.mig_devices[slot]
        return _Handle(h.gpu, dev.gpu_instance_id, dev.compute_instance_id)

    def nvmlDeviceGetGpuInstanceId(self, h: _Handle) -> int:
        self._enter("nvmlDeviceGetGpuInstanceId", h)
        return self._mig(h)[1].gpu_instance_id

    def nvmlDeviceGetComputeInstanceId(self, h: _Handle) -> int:
        self._enter("nvmlDeviceGetComputeInstanceId", h)
        return self._mig(h)[1].compute_instance_id

    def nvmlDeviceGetAttributes(self, h: _Handle):
        self._enter("nvmlDeviceGetAttributes", h)
        return SimpleNamespace(multiprocessorCount=self._need(self._mig(h)[1].multiprocessor_count))

    # -- processes -------------------------------------------------------------------
    def _procs(self, h: _Handle, kinds: set[str]) -> list:
        gpu = self._enter("nvmlDeviceGetComputeRunningProcesses", h)
        return [
            SimpleNamespace(
                pid=p.pid,
                usedGpuMemory=None if p.used_memory_bytes is None else int(p.used_memory_bytes),
                gpuInstanceId=0xFFFFFFFF if p.gpu_instance_id is None else p.gpu_instance_id,
                computeInstanceId=0xFFFFFFFF if p.compute_instance_id is None else p.compute_instance_id,
            )
            for p in gpu.processes
            if set(p.type.split("+")) & kinds
        ]

    def nvmlDeviceGetComputeRunningProcesses(self, h: _Handle) -> list:
        return self._procs(h, {"C"})

    def nvmlDeviceGetGraphicsRunningProcesses(self, h: _Handle) -> list:
        return self._procs(h, {"G"})

    def nvmlDeviceGetProcessUtilization(self, h: _Handle, since_us: int) -> list:
        gpu = self._enter("nvmlDeviceGetProcessUtilization", h)
        now = int(time.time() * 1e6)
        return [
            SimpleNamespace(
                pid=p.pid,
                timeStamp=now,
                smUtil=round((p.sm_utilization_ratio or 0) * 100),
                memUtil=round((p.memory_utilization_ratio or 0) * 100),
            )
            for p in gpu.processes
            if p.sm_utilization_ratio is not None
        ]

    # -- topology and NVLink ---------------------------------------------------------
    def nvmlDeviceGetTopologyCommonAncestor(self, a: _Handle, b: _Handle) -> int:
        self._enter("nvmlDeviceGetTopologyCommonAncestor", a)
        for link in self.snapshot.links:
            if (link.gpu, link.peer_gpu) == (a.gpu, b.gpu) and link.path in _ANCESTOR:
                return _ANCESTOR[link.path]
        raise _real.NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)

    def nvmlDeviceGetP2PStatus(self, a: _Handle, b: _Handle, index: int) -> int:
        self._enter("nvmlDeviceGetP2PStatus", a)
        nv = any(link.path == "NVLINK" for link in self.snapshot.links if (link.gpu, link.peer_gpu) == (a.gpu, b.gpu))
        return 0 if nv else 5  # NVML_P2P_STATUS_NOT_SUPPORTED

    def nvmlDeviceGetNvLinkState(self, h: _Handle, link: int) -> int:
        self._enter("nvmlDeviceGetNvLinkState", h)
        links = self._nvlinks.get(h.gpu, [])
        if link >= len(links):
            raise _real.NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return int(links[link][1])

    def nvmlDeviceGetNvLinkRemotePciInfo(self, h: _Handle, link: int):
        self._enter("nvmlDeviceGetNvLinkRemotePciInfo", h)
        return SimpleNamespace(busId=self._nvlinks[h.gpu][link][0])

    # -- GPM -------------------------------------------------------------------------
    def nvmlGpmQueryDeviceSupport(self, h: _Handle):
        gpu = self._enter("nvmlGpmQueryDeviceSupport", h)
        declared = {key[0] if isinstance(key, tuple) else key for key in self.gpm}  # a GPU or one of its MIG instances
        return SimpleNamespace(isSupportedDevice=int(gpu.architecture in ("Hopper", "Blackwell") and h.gpu in declared))

    def nvmlGpmSampleAlloc(self):
        self._enter("nvmlGpmSampleAlloc")
        return ctypes.pointer(_real.struct_c_nvmlGpmSample_t())

    def nvmlGpmSampleFree(self, sample) -> None:
        self._samples.pop(ctypes.addressof(sample.contents), None)

    def nvmlGpmSampleGet(self, h: _Handle, sample):
        self._enter("nvmlGpmSampleGet", h)
        self._samples[ctypes.addressof(sample.contents)] = (h.gpu, None, sample)
        return sample

    def nvmlGpmMigSampleGet(self, h: _Handle, gi: int, sample):
        self._enter("nvmlGpmMigSampleGet", h)
        self._samples[ctypes.addressof(sample.contents)] = (h.gpu, gi, sample)
        return sample

    def nvmlGpmMetricsGet(self, request):
        gpu, gi, _ = self._samples[ctypes.addressof(request.sample2.contents)]
        self._enter("nvmlGpmMetricsGet", _Handle(gpu))
        values = self.gpm.get(gpu, {})
        if gi is not None:
            values = self.gpm.get((gpu, gi), values)  # type: ignore[call-overload]
        snap_gpu = self.gpus[gpu] if gi is None and gpu in self.gpm else None
        for i in range(request.numMetrics):
            metric_id = request.metrics[i].metricId
            kind = _GPM.get(metric_id)
            rate = _GPM_RATES.get(metric_id)
            if rate is not None and snap_gpu is not None and getattr(snap_gpu, rate) is not None:
                request.metrics[i].value = getattr(snap_gpu, rate) / 2**20  # MiB/s, as nvml.h gives it
                request.metrics[i].nvmlReturn = 0
            elif kind in values:
                request.metrics[i].value = values[kind] * 100.0
                request.metrics[i].nvmlReturn = 0
            else:
                request.metrics[i].nvmlReturn = _real.NVML_ERROR_NOT_SUPPORTED
        return request

    # -- events ----------------------------------------------------------------------
    def nvmlEventSetCreate(self):
        self._enter("nvmlEventSetCreate")
        return object()

    def nvmlDeviceRegisterEvents(self, h: _Handle, types: int, event_set: Any) -> None:
        self._enter("nvmlDeviceRegisterEvents", h)

    def nvmlEventSetWait_v2(self, event_set: Any, timeout_ms: int):
        try:
            return self._events.get(timeout=timeout_ms / 1000.0)
        except queue.Empty:
            raise _real.NVMLError(_real.NVML_ERROR_TIMEOUT) from None

    def nvmlEventSetFree(self, event_set: Any) -> None:
        return None


def scenario_env(captures: Iterable[str | os.PathLike], gpm: dict | None = None, energy: dict | None = None) -> dict[str, str]:
    """Environment for a subprocess whose ``import pynvml`` gets a :class:`FakeNvml` of ``captures``.

    ``gpm`` keys are GPU indexes or ``(GPU index, GPU instance id)`` for a MIG instance (as :class:`FakeNvml`)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SHIM), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["AXONIZE_FAKE_NVML"] = json.dumps(
        {
            "captures": [str(p) for p in captures],
            "gpm": {_gpm_key(k): v for k, v in (gpm or {}).items()},
            "energy": {str(k): v for k, v in (energy or {}).items()},
        }
    )
    return env


def _gpm_key(key: int | tuple[int, int]) -> str:
    return "/".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _parse_gpm_key(key: str) -> int | tuple[int, int]:
    gpu, _, gi = key.partition("/")
    return (int(gpu), int(gi)) if gi else int(gpu)


def from_env() -> FakeNvml:
    spec = json.loads(os.environ["AXONIZE_FAKE_NVML"])
    if spec.get("fleet") == "benchmark":
        return benchmark_fleet()
    return FakeNvml.from_captures(
        spec["captures"],
        gpm={_parse_gpm_key(k): v for k, v in spec.get("gpm", {}).items()},
        energy_joules={int(k): v for k, v in spec.get("energy", {}).items()},
    )


def benchmark_fleet() -> FakeNvml:
    """The issue-3 benchmark host: 8 GPUs (the real 8x H100 capture), GPU 7 split into 7 MIG instances, 100 processes.

    Derived from a real capture; the MIG layout (7x 1g.10gb, as ``nvidia-smi mig -lgip``
    lists for an H100 80GB), the processes and the GPM ratios are declared here.
    """
    from axonize.exporter.snapshot import MigDevice, Process

    snap = ReplaySource(
        [str(ROOT / "axonize" / "demo_data" / n) for n in ("h100-sxm-x8_drv565_nvidia-smi-q.txt", "h200-x8-hgx_topo-m_nics.txt")]
    ).collect()
    mig_gpu = snap.gpus[7]
    mig_gpu.mig_mode = True
    mig_gpu.utilization_ratio = mig_gpu.memory_utilization_ratio = None
    mig_gpu.mig_devices = [
        MigDevice(
            index=i,
            gpu_instance_id=7 + i,
            compute_instance_id=0,
            profile="1g.10gb",
            uuid=f"MIG-bench-{i}",
            multiprocessor_count=16,
            memory_total_bytes=9856 * 2**20,
            memory_used_bytes=1024 * 2**20,
            memory_free_bytes=8832 * 2**20,
            memory_reserved_bytes=0.0,
        )
        for i in range(7)
    ]
    pid = 20000
    for n in range(100):
        gpu = snap.gpus[n % 8]
        pid += 1
        if gpu.mig_mode:
            dev = gpu.mig_devices[n // 8 % 7]
            gpu.processes.append(Process(pid, "/usr/bin/python3", "C", 512 * 2**20, dev.gpu_instance_id, 0))
        else:
            gpu.processes.append(
                Process(pid, "/usr/bin/python3", "C", 2048 * 2**20, sm_utilization_ratio=0.3, memory_utilization_ratio=0.1)
            )
    activity = {"sm_active": 0.61, "sm_occupancy": 0.35, "tensor_active": 0.42, "dram_active": 0.5, "graphics_engine_active": 0.9}
    gpm: dict = {i: dict(activity) for i in range(8)}
    for dev in mig_gpu.mig_devices:
        gpm[(7, dev.gpu_instance_id)] = dict(activity)
    return FakeNvml(snap, gpm=gpm, energy_joules={i: 1.0e6 + i for i in range(8)})
