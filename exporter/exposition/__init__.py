"""The ``axonize_*`` exposition: a :class:`~axonize.exporter.snapshot.Snapshot` -> metric families.

One module per topic of the names registry (:mod:`axonize.names.exporter`): :mod:`.identity`,
:mod:`.memory_power_thermal`, :mod:`.activity`, :mod:`.pcie_ecc_xid`, :mod:`.topology`, :mod:`.mig`,
:mod:`.containers_numa`, :mod:`.prices`. Each holds :class:`~.family.Metric` rows: a registered name
(type, unit, labels and help come from the registry) and how its samples are read from the snapshot.
The exposition reads the snapshot and nothing else: values derived from it (CPU counts, container
groups, NUMA placement) are computed once per cycle in the collection path, so rendering does no
parsing and no I/O. docs/metrics.md is written from the same rows (``python -m axonize.exporter.docs``).

Every per-GPU series carries ``gpu`` (nvidia-smi / NVML index) and ``uuid``. A value the source does
not provide yields no sample (an absent series), never 0.

Sample output (8x H100 SXM replay)::

    # HELP axonize_gpu_memory_total_bytes Total framebuffer memory of the GPU.
    # TYPE axonize_gpu_memory_total_bytes gauge
    axonize_gpu_memory_total_bytes{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 8.5520809984e+010
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from axonize import exposition_text, names

from ..snapshot import CollectionError, Snapshot
from . import activity, containers_numa, identity, memory_power_thermal, mig, pcie_ecc_xid, prices, topology
from .containers_numa import PER_PROCESS
from .family import Metric

__all__ = ["METRICS", "Metric", "Options", "families", "PER_PROCESS", "DROPPED"]

log = logging.getLogger(__name__)

#: Every ``axonize_*`` family, in the registry's (and docs') topic order.
METRICS: tuple[Metric, ...] = (
    *identity.ROWS,
    *memory_power_thermal.ROWS,
    *activity.ROWS,
    *pcie_ecc_xid.ROWS,
    *topology.ROWS,
    *mig.ROWS,
    *containers_numa.ROWS,
    *prices.ROWS,
)

DROPPED = "axonize_exporter_process_series_dropped"


@dataclass(frozen=True)
class Options:
    """Rendering choices: per-PID series are opt-in (PIDs churn) and capped at ``max_process_series``."""

    per_process: bool = False
    max_process_series: int = 500


def families(snapshot: Snapshot, options: Options = Options()) -> list[exposition_text.Table]:
    """All ``axonize_*`` families for the snapshot, in :data:`METRICS` order.

    Per-PID families are rendered only with ``options.per_process``; past
    ``options.max_process_series`` samples the rest are dropped and counted in
    ``axonize_exporter_process_series_dropped``. A family whose samples cannot be
    read (a bug, or a value a backend put in the wrong shape) is left out, and a
    ``CollectionError(source="exposition", kind="internal")`` naming it is appended to
    ``snapshot.errors`` (the cycle's error list, which the collection loop counts
    after rendering); the other families are still rendered.
    """
    out = []
    dropped = 0
    for m in METRICS:
        if m.name in PER_PROCESS and not options.per_process:
            continue
        try:
            fam = m.family(snapshot)
        except Exception as exc:
            log.debug("rendering %s failed", m.name, exc_info=True)  # the loop logs each error once
            snapshot.errors.append(CollectionError("exposition", m.name, "internal", f"family left out: {type(exc).__name__}: {exc}"))
            continue
        if m.name in PER_PROCESS:
            dropped += max(0, len(fam.samples) - options.max_process_series)
            del fam.samples[options.max_process_series :]
        out.append(fam)
    if options.per_process:
        out.append(exposition_text.Table(DROPPED, "gauge", names.get(DROPPED).help, (), [((), float(dropped))]))
    return out
