"""Memory, power, energy, temperatures, fans, performance state and clocks (registry topic
:mod:`axonize.names.exporter.memory_power_thermal`).

Sample::

    axonize_gpu_memory_used_bytes{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 5.62036736e+08
    axonize_gpu_clock_hertz{clock="sm",gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 1.98e+09
    axonize_gpu_clock_event_reason_active{gpu="0",reason="gpu_idle",uuid="GPU-..."} 1.0
"""

from __future__ import annotations

from collections.abc import Iterator

from ..snapshot import Snapshot
from .family import Metric, Sample, gpu_key, keyed, scalar


def _reasons_active(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for reason, active in gpu.clock_event_reasons.items():
            yield gpu_key(gpu) + (reason,), 1.0 if active else 0.0


def _reason_seconds(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for reason, seconds in sorted(gpu.clock_event_seconds.items()):
            yield gpu_key(gpu) + (reason,), seconds


ROWS: tuple[Metric, ...] = (
    scalar("axonize_gpu_memory_total_bytes", "memory_total_bytes"),
    scalar("axonize_gpu_memory_used_bytes", "memory_used_bytes"),
    scalar("axonize_gpu_memory_free_bytes", "memory_free_bytes"),
    scalar("axonize_gpu_memory_reserved_bytes", "memory_reserved_bytes"),
    scalar("axonize_gpu_bar1_memory_total_bytes", "bar1_total_bytes"),
    scalar("axonize_gpu_bar1_memory_used_bytes", "bar1_used_bytes"),
    scalar("axonize_gpu_power_watts", "power_watts"),
    scalar("axonize_gpu_power_instant_watts", "power_instant_watts"),
    scalar("axonize_gpu_power_limit_watts", "power_limit_watts"),
    scalar("axonize_gpu_memory_power_watts", "memory_power_watts"),
    scalar(
        "axonize_gpu_energy_joules_total",
        "energy_joules",
        source="NVML `nvmlDeviceGetTotalEnergyConsumption` (mJ); nvidia-smi -q does not print it, so replays leave it absent",
    ),
    scalar("axonize_gpu_temperature_celsius", "temperature_celsius"),
    scalar("axonize_gpu_memory_temperature_celsius", "memory_temperature_celsius"),
    scalar("axonize_gpu_fan_speed_ratio", "fan_speed_ratio"),
    scalar("axonize_gpu_performance_state", "performance_state"),
    keyed("axonize_gpu_clock_hertz", "clocks_hertz"),
    keyed("axonize_gpu_clock_max_hertz", "max_clocks_hertz"),
    Metric("axonize_gpu_clock_event_reason_active", _reasons_active, attr="clock_event_reasons"),
    Metric("axonize_gpu_clock_event_seconds_total", _reason_seconds, attr="clock_event_seconds"),
)
