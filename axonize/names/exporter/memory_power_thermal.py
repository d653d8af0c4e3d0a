"""Memory, power, energy, temperatures, fans, performance state and clocks of each GPU.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name("axonize_gpu_memory_total_bytes", "gauge", "bytes", GPU, "Total framebuffer memory of the GPU.", _C),
    Name("axonize_gpu_memory_used_bytes", "gauge", "bytes", GPU, "Framebuffer memory in use.", _C),
    Name("axonize_gpu_memory_free_bytes", "gauge", "bytes", GPU, "Framebuffer memory free.", _C),
    Name("axonize_gpu_memory_reserved_bytes", "gauge", "bytes", GPU, "Framebuffer memory reserved by the driver and firmware.", _C),
    Name("axonize_gpu_bar1_memory_total_bytes", "gauge", "bytes", GPU, "Total BAR1 memory (the CPU-visible aperture).", _C),
    Name("axonize_gpu_bar1_memory_used_bytes", "gauge", "bytes", GPU, "BAR1 memory in use.", _C),
    Name(
        "axonize_gpu_power_watts",
        "gauge",
        "watts",
        GPU,
        "Board power draw (average over 1 s on Ampere and later except GA100; instantaneous on older GPUs).",
        _C,
    ),
    Name("axonize_gpu_power_instant_watts", "gauge", "watts", GPU, "Instantaneous board power draw (driver >= 535).", _C),
    Name("axonize_gpu_power_limit_watts", "gauge", "watts", GPU, "Power limit the driver currently enforces.", _C),
    Name("axonize_gpu_memory_power_watts", "gauge", "watts", GPU, "Power draw of the GPU memory (HBM GPUs, driver >= 550).", _C),
    Name("axonize_gpu_energy_joules_total", "counter", "joules", GPU, "Energy consumed since the driver was loaded.", _C),
    Name("axonize_gpu_temperature_celsius", "gauge", "celsius", GPU, "GPU core temperature.", _C),
    Name("axonize_gpu_memory_temperature_celsius", "gauge", "celsius", GPU, "GPU memory (HBM) temperature.", _C),
    Name(
        "axonize_gpu_fan_speed_ratio",
        "gauge",
        "ratio",
        GPU,
        "Fan speed as a share of its maximum, 0-1 (absent on passively cooled GPUs).",
        _C,
    ),
    Name("axonize_gpu_performance_state", "gauge", "", GPU, "Performance state: 0 (P0, maximum) to 15 (P15, minimum).", _C),
    Name(
        "axonize_gpu_clock_hertz",
        "gauge",
        "hertz",
        (*GPU, "clock"),
        "Current clock frequency by clock domain (graphics, sm, memory, video).",
        _C,
    ),
    Name("axonize_gpu_clock_max_hertz", "gauge", "hertz", (*GPU, "clock"), "Maximum clock frequency by clock domain.", _C),
    Name(
        "axonize_gpu_clock_event_reason_active",
        "gauge",
        "",
        (*GPU, "reason"),
        "1 while the reason holds the clocks down (clock-event, formerly 'throttle', reasons), else 0.",
        _C,
    ),
    Name(
        "axonize_gpu_clock_event_seconds_total",
        "counter",
        "seconds",
        (*GPU, "reason"),
        "Cumulative time the clocks were held down, by reason.",
        _C,
    ),
)
