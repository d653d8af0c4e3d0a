"""PCIe link and traffic, ECC errors, row remapping, retired pages and XID errors.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_gpu_pcie_tx_bytes_per_second",
        "gauge",
        "bytes_per_second",
        GPU,
        "PCIe transmit throughput: GPM's average over the collection interval on Hopper and later, else the driver's 20 ms sample (KB/s taken as 1000 B/s).",
        _C,
    ),
    Name(
        "axonize_gpu_pcie_rx_bytes_per_second",
        "gauge",
        "bytes_per_second",
        GPU,
        "PCIe receive throughput: GPM's average over the collection interval on Hopper and later, else the driver's 20 ms sample (KB/s taken as 1000 B/s).",
        _C,
    ),
    Name("axonize_gpu_pcie_replays_total", "counter", "", GPU, "PCIe replays since the GPU was reset (link errors retried).", _C),
    Name("axonize_gpu_pcie_link_generation", "gauge", "", GPU, "Current PCIe link generation (drops at idle to save power).", _C),
    Name("axonize_gpu_pcie_link_max_generation", "gauge", "", GPU, "Maximum PCIe link generation of the GPU and slot.", _C),
    Name("axonize_gpu_pcie_link_width_lanes", "gauge", "lanes", GPU, "Current PCIe link width.", _C),
    Name("axonize_gpu_pcie_link_max_width_lanes", "gauge", "lanes", GPU, "Maximum PCIe link width.", _C),
    Name("axonize_gpu_ecc_enabled", "gauge", "", GPU, "1 when ECC is enabled on the GPU memory, else 0.", _C),
    Name(
        "axonize_gpu_ecc_errors_total",
        "counter",
        "",
        (*GPU, "memory", "type"),
        "ECC errors since the driver was loaded (volatile counts), by memory (sram, dram) and type (correctable, uncorrectable).",
        _C,
    ),
    Name(
        "axonize_gpu_ecc_aggregate_errors_total",
        "counter",
        "",
        (*GPU, "memory", "type"),
        "ECC errors over the GPU's lifetime (aggregate counts, kept in the InfoROM), by memory and type.",
        _C,
    ),
    Name(
        "axonize_gpu_remapped_rows",
        "gauge",
        "",
        (*GPU, "cause"),
        "Memory rows remapped, by the error that caused it (correctable, uncorrectable).",
        _C,
    ),
    Name("axonize_gpu_remapped_rows_pending", "gauge", "", GPU, "1 when a row remap is pending (takes effect at the next GPU reset).", _C),
    Name("axonize_gpu_remapped_rows_failure", "gauge", "", GPU, "1 when a row remap has failed (the GPU should be serviced).", _C),
    Name(
        "axonize_gpu_retired_pages",
        "gauge",
        "",
        (*GPU, "cause"),
        "Memory pages retired (pre-Ampere GPUs), by cause (single_bit, double_bit).",
        _C,
    ),
    Name(
        "axonize_gpu_xid_errors_total",
        "counter",
        "",
        (*GPU, "xid"),
        "XID errors reported by the driver since the exporter started, by XID code (e.g. 79 GPU fell off the bus, 48 double-bit ECC).",
        _C,
    ),
    Name(
        "axonize_gpu_xid_last_seen_timestamp_seconds",
        "gauge",
        "seconds",
        (*GPU, "xid"),
        "Unix time the XID code was last reported on the GPU.",
        _C,
    ),
)
