"""Memory, power, energy, temperatures, fans, performance state and clocks of each GPU.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name

NAMES: tuple[Name, ...] = (
    Name("axonize_gpu_memory_total_bytes", "gauge", "bytes", ("gpu", "uuid"), "Total framebuffer memory of the GPU.", "exporter"),
    Name("axonize_gpu_memory_used_bytes", "gauge", "bytes", ("gpu", "uuid"), "Framebuffer memory in use.", "exporter"),
    Name("axonize_gpu_memory_free_bytes", "gauge", "bytes", ("gpu", "uuid"), "Framebuffer memory free.", "exporter"),
    Name(
        "axonize_gpu_memory_reserved_bytes",
        "gauge",
        "bytes",
        ("gpu", "uuid"),
        "Framebuffer memory reserved by the driver and firmware.",
        "exporter",
    ),
    Name(
        "axonize_gpu_bar1_memory_total_bytes",
        "gauge",
        "bytes",
        ("gpu", "uuid"),
        "Total BAR1 memory (the CPU-visible aperture).",
        "exporter",
    ),
    Name("axonize_gpu_bar1_memory_used_bytes", "gauge", "bytes", ("gpu", "uuid"), "BAR1 memory in use.", "exporter"),
    Name(
        "axonize_gpu_power_watts",
        "gauge",
        "watts",
        ("gpu", "uuid"),
        "Board power draw (average over 1 s on Ampere and later except GA100; instantaneous on older GPUs).",
        "exporter",
    ),
    Name(
        "axonize_gpu_power_instant_watts", "gauge", "watts", ("gpu", "uuid"), "Instantaneous board power draw (driver >= 535).", "exporter"
    ),
    Name("axonize_gpu_power_limit_watts", "gauge", "watts", ("gpu", "uuid"), "Power limit the driver currently enforces.", "exporter"),
    Name(
        "axonize_gpu_memory_power_watts",
        "gauge",
        "watts",
        ("gpu", "uuid"),
        "Power draw of the GPU memory (HBM GPUs, driver >= 550).",
        "exporter",
    ),
    Name(
        "axonize_gpu_energy_joules_total", "counter", "joules", ("gpu", "uuid"), "Energy consumed since the driver was loaded.", "exporter"
    ),
    Name("axonize_gpu_temperature_celsius", "gauge", "celsius", ("gpu", "uuid"), "GPU core temperature.", "exporter"),
    Name("axonize_gpu_memory_temperature_celsius", "gauge", "celsius", ("gpu", "uuid"), "GPU memory (HBM) temperature.", "exporter"),
    Name(
        "axonize_gpu_fan_speed_ratio",
        "gauge",
        "ratio",
        ("gpu", "uuid"),
        "Fan speed as a share of its maximum, 0-1 (absent on passively cooled GPUs).",
        "exporter",
    ),
    Name(
        "axonize_gpu_performance_state",
        "gauge",
        "",
        ("gpu", "uuid"),
        "Performance state: 0 (P0, maximum) to 15 (P15, minimum).",
        "exporter",
    ),
    Name(
        "axonize_gpu_clock_hertz",
        "gauge",
        "hertz",
        ("gpu", "uuid", "clock"),
        "Current clock frequency by clock domain (graphics, sm, memory, video).",
        "exporter",
    ),
    Name("axonize_gpu_clock_max_hertz", "gauge", "hertz", ("gpu", "uuid", "clock"), "Maximum clock frequency by clock domain.", "exporter"),
    Name(
        "axonize_gpu_clock_event_reason_active",
        "gauge",
        "",
        ("gpu", "uuid", "reason"),
        "1 while the reason holds the clocks down (clock-event, formerly 'throttle', reasons), else 0.",
        "exporter",
    ),
    Name(
        "axonize_gpu_clock_event_seconds_total",
        "counter",
        "seconds",
        ("gpu", "uuid", "reason"),
        "Cumulative time the clocks were held down, by reason.",
        "exporter",
    ),
)
