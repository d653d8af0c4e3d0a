"""PCIe link and traffic, ECC errors, row remapping, retired pages and XID errors (registry topic
:mod:`axonize.names.exporter.pcie_ecc_xid`).

Sample::

    axonize_gpu_pcie_link_width_lanes{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 16.0
    axonize_gpu_ecc_errors_total{gpu="0",memory="dram",type="correctable",uuid="GPU-..."} 0.0
    axonize_gpu_xid_errors_total{gpu="3",uuid="GPU-...",xid="79"} 1.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..snapshot import Snapshot
from .family import NVML_SOURCE, Metric, Sample, flag, gpu_key, keyed, scalar

_ECC_SOURCE = "nvidia-smi -q `ECC Errors › {scope}`; -q -x `ecc_errors/{scope_xml}` (SRAM Uncorrectable Parity and SEC-DED are summed)"
_XID_SOURCE = (
    NVML_SOURCE
    + " event set `nvmlEventTypeXidCriticalError`; replays: the `NVRM: Xid` lines of `--replay.kernel-log` (dmesg, journalctl -k)"
)


def _ecc(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for (memory, kind), value in sorted(getattr(gpu, attr).items()):
                yield gpu_key(gpu) + (memory, kind), float(value)

    return samples


def _xid(attr: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for code, value in sorted(getattr(gpu, attr).items()):
                yield gpu_key(gpu) + (str(code),), float(value)

    return samples


ROWS: tuple[Metric, ...] = (
    scalar("axonize_gpu_pcie_tx_bytes_per_second", "pcie_tx_bytes_per_second"),
    scalar("axonize_gpu_pcie_rx_bytes_per_second", "pcie_rx_bytes_per_second"),
    scalar("axonize_gpu_pcie_replays_total", "pcie_replays"),
    scalar("axonize_gpu_pcie_link_generation", "pcie_link_generation"),
    scalar("axonize_gpu_pcie_link_max_generation", "pcie_link_max_generation"),
    scalar("axonize_gpu_pcie_link_width_lanes", "pcie_link_width"),
    scalar("axonize_gpu_pcie_link_max_width_lanes", "pcie_link_max_width"),
    flag("axonize_gpu_ecc_enabled", "ecc_mode"),
    Metric("axonize_gpu_ecc_errors_total", _ecc("ecc_errors_volatile"), _ECC_SOURCE.format(scope="Volatile", scope_xml="volatile")),
    Metric(
        "axonize_gpu_ecc_aggregate_errors_total", _ecc("ecc_errors_aggregate"), _ECC_SOURCE.format(scope="Aggregate", scope_xml="aggregate")
    ),
    keyed("axonize_gpu_remapped_rows", "remapped_rows"),
    flag("axonize_gpu_remapped_rows_pending", "remapped_rows_pending"),
    flag("axonize_gpu_remapped_rows_failure", "remapped_rows_failure"),
    keyed("axonize_gpu_retired_pages", "retired_pages"),
    Metric("axonize_gpu_xid_errors_total", _xid("xid_errors"), _XID_SOURCE),
    Metric("axonize_gpu_xid_last_seen_timestamp_seconds", _xid("xid_last_seen_seconds"), _XID_SOURCE),
)
