"""The GPU dashboard: one host's GPUs, every series the exporter has for them.

Utilization score and its source next to SM active and NVML utilization, memory, power and energy, temperatures,
clocks and clock-event reasons, PCIe link and throughput, ECC and row remapping, XID errors, NVLink, MIG instances,
and the containers on each GPU with their memory and NUMA placement. Variables: datasource, job, host (one), gpu.
The PCIe, ECC and XID panels are in :mod:`.gpu_pcie_ecc_xid`.
"""

from __future__ import annotations

from axonize.bundle import Bundle

from . import gpu_pcie_ecc_xid, variables
from . import panels as p
from .queries import Scope

KEY = "gpu"
DESCRIPTION = "Axonize GPU: one host's GPUs: utilization, memory, power, thermals, clocks, PCIe, ECC, XID, NVLink, MIG, containers."
LEGEND = "GPU {{gpu}}"


def vram_thresholds(cfg: Bundle) -> list[tuple[float, str]]:
    """The memory-pressure alert's thresholds (alerts.rules.AxonizeGpuMemoryPressure) as colors: warning orange, critical red."""
    levels = cfg.alerts.rules.AxonizeGpuMemoryPressure.thresholds
    colors = {"info": "yellow", "warning": "orange", "critical": "red"}
    return sorted((float(v), colors[s]) for s, v in levels.items())


def _health(s: Scope, grid: p.Grid, cfg: Bundle) -> list:
    m = s.m
    return [
        p.timeseries(
            grid,
            "Utilization score",
            "Each GPU's utilization 0-1 as the efficiency score uses it "
            "(gpu:axonize_gpu_utilization_score:ratio); the legend names its source: sm_active (GPM or DCGM) "
            "where measured, else NVML utilization.",
            "percentunit",
            [p.target(m("gpu:axonize_gpu_utilization_score:ratio"), "GPU {{gpu}} ({{source}})")],
            lo=0,
            hi=1,
        ),
        p.timeseries(
            grid,
            "SM active vs NVML utilization",
            "Side by side: SM active (axonize_gpu_sm_active_ratio, share of SMs "
            "with a warp resident; GPM on Hopper and later with the NVML backend) and NVML utilization "
            "(axonize_gpu_utilization_ratio, share of time any kernel ran: 100 % with one busy SM).",
            "percentunit",
            [
                p.target(m("axonize_gpu_sm_active_ratio"), "GPU {{gpu}} SM active"),
                p.target(m("axonize_gpu_utilization_ratio"), "GPU {{gpu}} NVML utilization"),
            ],
            lo=0,
            hi=1,
        ),
        p.timeseries(
            grid,
            "Memory",
            "Framebuffer memory per GPU: used, reserved by the driver and firmware, and total "
            "(axonize_gpu_memory_used_bytes, _reserved_bytes, _total_bytes).",
            "bytes",
            [
                p.target(m("axonize_gpu_memory_used_bytes"), "GPU {{gpu}} used"),
                p.target(m("axonize_gpu_memory_reserved_bytes"), "GPU {{gpu}} reserved"),
                p.target(m("axonize_gpu_memory_total_bytes"), "GPU {{gpu}} total"),
            ],
            lo=0,
        ),
        p.bar_gauge(
            grid,
            "VRAM used",
            "Memory used / total per GPU (gpu:axonize_gpu_memory_used:ratio); colored at the "
            "memory-pressure alert's thresholds (alerts.rules.AxonizeGpuMemoryPressure).",
            "percentunit",
            [p.target(m("gpu:axonize_gpu_memory_used:ratio"), LEGEND, instant=True)],
            thresholds=vram_thresholds(cfg),
            lo=0,
            hi=1,
        ),
        p.timeseries(
            grid,
            "Power",
            "Board power draw and the enforced power limit per GPU (axonize_gpu_power_watts, axonize_gpu_power_limit_watts).",
            "watt",
            [p.target(m("axonize_gpu_power_watts"), "GPU {{gpu}} draw"), p.target(m("axonize_gpu_power_limit_watts"), "GPU {{gpu}} limit")],
            lo=0,
        ),
        p.timeseries(
            grid,
            "Energy",
            "Average power from the energy counter: the rate of axonize_gpu_energy_joules_total "
            "(joules per second = watts) over $__rate_interval; the counter counts from the driver's load.",
            "watt",
            [p.target(s.rate("axonize_gpu_energy_joules_total"), LEGEND)],
            lo=0,
        ),
        p.timeseries(
            grid,
            "Temperatures",
            "GPU core and memory (HBM) temperature (axonize_gpu_temperature_celsius, axonize_gpu_memory_temperature_celsius).",
            "celsius",
            [
                p.target(m("axonize_gpu_temperature_celsius"), "GPU {{gpu}} core"),
                p.target(m("axonize_gpu_memory_temperature_celsius"), "GPU {{gpu}} memory"),
            ],
        ),
        p.timeseries(
            grid,
            "Clocks",
            "SM and memory clocks and their maximum (axonize_gpu_clock_hertz, axonize_gpu_clock_max_hertz).",
            "hertz",
            [
                p.target(m("axonize_gpu_clock_hertz", 'clock=~"sm|memory"'), "GPU {{gpu}} {{clock}}"),
                p.target(m("axonize_gpu_clock_max_hertz", 'clock=~"sm|memory"'), "GPU {{gpu}} {{clock}} max"),
            ],
            lo=0,
        ),
    ]


def _events(s: Scope, grid: p.Grid) -> list:
    m = s.m
    grid.newline()
    return [
        p.state_timeline(
            grid,
            "Clock-event reasons",
            "What holds each GPU's clocks down, over time "
            "(axonize_gpu_clock_event_reason_active 1 = active): gpu_idle and sw_power_cap are normal, "
            "hw_slowdown, hw_thermal_slowdown, sw_thermal_slowdown and hw_power_brake_slowdown are the hardware protecting itself.",
            [p.target(m("axonize_gpu_clock_event_reason_active"), "GPU {{gpu}} {{reason}}")],
            p.value_map({0: ("", "transparent"), 1: ("active", "orange")}),
        ),
        p.state_timeline(
            grid,
            "GPU up",
            "Whether the exporter read each GPU this cycle (axonize_gpu_up: 1 up, 0 lost, timed out or needing a reset).",
            [p.target(m("axonize_gpu_up"), LEGEND)],
            p.value_map({0: ("down", "red"), 1: ("up", "green")}),
            h=6,
        ),
    ]


def _placement(s: Scope, grid: p.Grid) -> list:
    m = s.m
    grid.newline()
    return [
        p.table(
            grid,
            "NVLink peers",
            "Bonded NVLinks from each GPU to each peer GPU (axonize_gpu_peer_nvlinks > 0, from nvidia-smi topo -m or NVML).",
            "none",
            [p.target(f"{m('axonize_gpu_peer_nvlinks')} > 0", table=True)],
            hidden=("Time", "__name__", "job", "uuid", "peer_uuid"),
            renames={"Value": "NVLinks"},
        ),
        p.state_timeline(
            grid,
            "NVLink links up",
            f"{p.NVML_ONLY} each NVLink's state (axonize_gpu_nvlink_active: 1 up, 0 down).",
            [p.target(m("axonize_gpu_nvlink_active"), "GPU {{gpu}} link {{link}}")],
            p.value_map({0: ("down", "red"), 1: ("up", "green")}),
            w=12,
            h=8,
        ),
        p.timeseries(
            grid,
            "NVLink traffic",
            f"{p.NVML_ONLY} bytes per second sent and received over each GPU's NVLinks "
            "(rate of axonize_gpu_nvlink_transmit_bytes_total, _receive_bytes_total, summed over links).",
            "Bps",
            [
                p.target(f"sum by (gpu) ({s.rate('axonize_gpu_nvlink_transmit_bytes_total')})", "GPU {{gpu}} tx"),
                p.target(f"sum by (gpu) ({s.rate('axonize_gpu_nvlink_receive_bytes_total')})", "GPU {{gpu}} rx"),
            ],
            lo=0,
        ),
        p.timeseries(
            grid,
            "MIG instance memory",
            "Memory used and total of each MIG GPU instance (axonize_mig_memory_used_bytes, _total_bytes); empty on GPUs without MIG.",
            "bytes",
            [
                p.target(m("axonize_mig_memory_used_bytes"), "GPU {{gpu}} GI {{gpu_instance_id}} used"),
                p.target(m("axonize_mig_memory_total_bytes"), "GPU {{gpu}} GI {{gpu_instance_id}} total"),
            ],
            lo=0,
        ),
        p.timeseries(
            grid,
            "MIG instance SM active",
            f"{p.NVML_ONLY} share of the MIG GPU instance's SMs busy (axonize_mig_sm_active_ratio, "
            "GPM per GPU instance on Hopper and later); NVML reports no utilization under MIG.",
            "percentunit",
            [p.target(m("axonize_mig_sm_active_ratio"), "GPU {{gpu}} GI {{gpu_instance_id}}")],
            lo=0,
            hi=1,
        ),
        p.table(
            grid,
            "Containers on each GPU",
            "Containers, pods or systemd services holding memory on each GPU or MIG instance "
            "(axonize_gpu_container_memory_used_bytes) and where their CPUs may run relative to the GPU's NUMA node "
            "(axonize_gpu_container_numa_placement_info placement: local, unpinned, remote).",
            "bytes",
            [
                p.target(m("axonize_gpu_container_memory_used_bytes"), table=True),
                p.target(m("axonize_gpu_container_numa_placement_info"), table=True),
            ],
            hidden=("Time", "__name__", "job", "instance", "uuid", "pod_uid", "Value #B"),
            renames={"Value #A": "GPU memory"},
            w=24,
        ),
    ]


def panels(cfg: Bundle) -> list:
    s = Scope(host_label=cfg.host_labels[-1], gpu=True, model=False)
    grid = p.Grid()
    return [*_health(s, grid, cfg), *_events(s, grid), *gpu_pcie_ecc_xid.panels(s, grid), *_placement(s, grid)]


def dashboard_variables(cfg: Bundle) -> list:
    return [variables.datasource(cfg.grafana.datasource.uid), *variables.gpu_variables(cfg.host_labels[-1], multi_host=False, gpu=True)]
