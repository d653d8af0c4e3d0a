"""What each GPU and MIG GPU instance costs, from the bundle's price table.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name

NAMES: tuple[Name, ...] = (
    Name(
        "axonize_gpu_price_dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("gpu", "uuid"),
        "What an hour of the GPU costs, in US dollars: the price table row that applies to its host and model (axonize_gpu_price_info says which).",
        "exporter",
    ),
    Name(
        "axonize_gpu_price_info",
        "info",
        "",
        ("gpu", "uuid", "source", "date", "rule"),
        "Where the GPU's price comes from: the row's source and date, and rule default, gpus[i] or hosts[i] (the row of the table that applied); value 1.",
        "exporter",
    ),
    Name(
        "axonize_mig_price_dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("gpu", "uuid", "gpu_instance_id"),
        "What an hour of the MIG GPU instance costs, in US dollars: the GPU's price times axonize_mig_price_share_ratio.",
        "exporter",
    ),
    Name(
        "axonize_mig_price_share_ratio",
        "gauge",
        "ratio",
        ("gpu", "uuid", "gpu_instance_id"),
        "Share of the GPU's price the MIG GPU instance costs, 0-1: its compute slices over the GPU's (3g.40gb on an H100: 3/7); absent when the profile is unknown.",
        "exporter",
    ),
)
