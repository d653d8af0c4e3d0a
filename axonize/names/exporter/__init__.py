"""The GPU exporter's families in the names registry, one module per topic (docs order)."""

from __future__ import annotations

from . import activity, containers_numa, identity, memory_power_thermal, mig, pcie_ecc_xid, prices, self_metrics, topology

TOPICS = (
    identity.NAMES,
    memory_power_thermal.NAMES,
    activity.NAMES,
    pcie_ecc_xid.NAMES,
    topology.NAMES,
    mig.NAMES,
    containers_numa.NAMES,
    prices.NAMES,
    self_metrics.NAMES,
)
