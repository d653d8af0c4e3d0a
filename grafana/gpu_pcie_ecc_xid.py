"""The GPU dashboard's PCIe, ECC and XID panels: link generation and width against the maximum, throughput, links
below full width, replays, ECC errors, row remapping, XID errors and when each code was last seen, GPU faults.

Part of :mod:`.gpu` (split by topic, as axonize/names/exporter/pcie_ecc_xid.py is); the panels whose data exists only
under faults open their description with :data:`.panels.FAULT_ONLY`.
"""

from __future__ import annotations

from . import panels as p
from .queries import Scope

LEGEND = "GPU {{gpu}}"


def pcie_link(s: Scope, grid: p.Grid):
    """Each GPU's PCIe link now against its maximum (the GPU and the Topology dashboards)."""
    m = s.m
    return p.table(
        grid,
        "PCIe links",
        "Each GPU's PCIe link now against its maximum: generation and width in lanes "
        "(axonize_gpu_pcie_link_generation, _max_generation, _width_lanes, _max_width_lanes). The generation "
        "trains down at idle to save power; a width below the maximum is a fault.",
        "none",
        [
            p.target(m("axonize_gpu_pcie_link_generation"), table=True),
            p.target(m("axonize_gpu_pcie_link_max_generation"), table=True),
            p.target(m("axonize_gpu_pcie_link_width_lanes"), table=True),
            p.target(m("axonize_gpu_pcie_link_max_width_lanes"), table=True),
        ],
        hidden=("Time", "__name__", "job", "uuid"),
        renames={"Value #A": "Generation", "Value #B": "Max generation", "Value #C": "Width", "Value #D": "Max width"},
    )


def pcie_below_max(s: Scope, grid: p.Grid):
    """The GPUs whose PCIe link runs narrower than its maximum (fault-only; the GPU and the Topology dashboards)."""
    m = s.m
    return p.table(
        grid,
        "PCIe links below maximum width",
        f"{p.FAULT_ONLY} GPUs whose PCIe link runs narrower than its maximum (axonize_gpu_pcie_link_width_lanes < "
        "axonize_gpu_pcie_link_max_width_lanes): a badly seated card or riser, or a damaged slot; the "
        "AxonizeGpuPcieLinkDegraded alert fires on it. Empty while every link runs at full width.",
        "none",
        [p.target(f"{m('axonize_gpu_pcie_link_width_lanes')} < {m('axonize_gpu_pcie_link_max_width_lanes')}", table=True)],
        hidden=("Time", "__name__", "job", "uuid"),
        renames={"Value": "Width (lanes)"},
    )


def panels(s: Scope, grid: p.Grid) -> list:
    """The PCIe, ECC, row-remapping, XID and fault panels, on a new line of ``grid``."""
    m = s.m
    grid.newline()
    return [
        pcie_link(s, grid),
        p.timeseries(
            grid,
            "PCIe throughput",
            "PCIe transmit and receive bytes per second per GPU (axonize_gpu_pcie_tx_bytes_per_second, "
            "_rx_bytes_per_second: GPM's interval average on Hopper and later, else the driver's 20 ms sample).",
            "Bps",
            [
                p.target(m("axonize_gpu_pcie_tx_bytes_per_second"), "GPU {{gpu}} tx"),
                p.target(m("axonize_gpu_pcie_rx_bytes_per_second"), "GPU {{gpu}} rx"),
            ],
            lo=0,
        ),
        pcie_below_max(s, grid),
        p.timeseries(
            grid,
            "PCIe replays",
            "PCIe replays (link errors retried) per second (rate of axonize_gpu_pcie_replays_total).",
            "short",
            [p.target(s.rate("axonize_gpu_pcie_replays_total"), LEGEND)],
            lo=0,
        ),
        p.timeseries(
            grid,
            "ECC errors",
            "ECC errors per GPU, memory (sram, dram) and type (correctable, uncorrectable) in each "
            "$__rate_interval (increase of axonize_gpu_ecc_errors_total, the volatile counts).",
            "short",
            [p.target(s.rate("axonize_gpu_ecc_errors_total", fn="increase"), "GPU {{gpu}} {{memory}} {{type}}")],
            lo=0,
        ),
        p.table(
            grid,
            "Row remapping",
            "Memory rows remapped by cause, a remap pending (applies at the next GPU reset) and a failed "
            "remap (service the GPU) (axonize_gpu_remapped_rows, _pending, _failure).",
            "none",
            [
                p.target(f"sum by (gpu, uuid) ({m('axonize_gpu_remapped_rows')})", table=True),
                p.target(m("axonize_gpu_remapped_rows_pending"), table=True),
                p.target(m("axonize_gpu_remapped_rows_failure"), table=True),
            ],
            hidden=("Time", "__name__", "job", "instance"),
            renames={"Value #A": "Remapped rows", "Value #B": "Pending", "Value #C": "Failed"},
        ),
        p.timeseries(
            grid,
            "XID errors",
            f"{p.FAULT_ONLY} XID errors per GPU and code in each $__rate_interval (increase of "
            "axonize_gpu_xid_errors_total: the NVML event thread, or the kernel log a replay reads). "
            "Codes by NVIDIA's resolution bucket are in docs/runbooks.md.",
            "short",
            [p.target(s.rate("axonize_gpu_xid_errors_total", fn="increase"), "GPU {{gpu}} XID {{xid}}")],
            lo=0,
        ),
        p.table(
            grid,
            "XID last seen",
            f"{p.FAULT_ONLY} When each XID code was last reported on each GPU (axonize_gpu_xid_last_seen_timestamp_seconds).",
            "dateTimeAsIso",
            [p.target(f"1000 * {m('axonize_gpu_xid_last_seen_timestamp_seconds')}", table=True)],
            hidden=("Time", "__name__", "job"),
            renames={"Value": "Last seen"},
        ),
        p.table(
            grid,
            "GPU faults",
            f"{p.FAULT_ONLY} Why the exporter could not read a GPU (axonize_gpu_fault_info kind: gpu_lost, reset_required, timeout, ...).",
            "none",
            [p.target(m("axonize_gpu_fault_info"), table=True)],
            hidden=("Time", "__name__", "job", "Value"),
            renames={"kind": "Fault"},
        ),
    ]
