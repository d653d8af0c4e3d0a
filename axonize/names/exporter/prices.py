"""What each GPU and MIG GPU instance costs, from the bundle's price table.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import GPU, MIG_INSTANCE

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_gpu_price_dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        GPU,
        "What an hour of the GPU costs, in US dollars: the price table row that applies to its host and model (axonize_gpu_price_info says which).",
        _C,
    ),
    Name(
        "axonize_gpu_price_info",
        "info",
        "",
        (*GPU, "source", "date", "rule"),
        "Where the GPU's price comes from: the row's source and date, and rule default, gpus[i] or hosts[i] (the row of the table that applied); value 1.",
        _C,
    ),
    Name(
        "axonize_mig_price_dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        MIG_INSTANCE,
        "What an hour of the MIG GPU instance costs, in US dollars: the GPU's price times axonize_mig_price_share_ratio.",
        _C,
    ),
    Name(
        "axonize_mig_price_share_ratio",
        "gauge",
        "ratio",
        MIG_INSTANCE,
        "Share of the GPU's price the MIG GPU instance costs, 0-1: its compute slices over the GPU's (3g.40gb on an H100: 3/7); absent when the profile is unknown.",
        _C,
    ),
)
