"""The exporter's own health: build, collection cycles, their duration, last success and errors.

Rows of the names registry (:mod:`axonize.names`); the exporter binds each to the snapshot values it exposes.
"""

from __future__ import annotations

from axonize.names import Name

_C = "exporter"

NAMES: tuple[Name, ...] = (
    Name("axonize_exporter_build_info", "info", "", ("version", "python_version"), "Version of the exporter; value 1.", _C),
    Name(
        "axonize_exporter_collection_duration_seconds",
        "gauge",
        "seconds",
        (),
        "Wall time of the last collection cycle (source read and families prepared; the text is written on the first scrape).",
        _C,
    ),
    Name("axonize_exporter_collections_total", "counter", "", (), "Collection cycles run.", _C),
    Name(
        "axonize_exporter_last_collection_success_timestamp_seconds",
        "gauge",
        "seconds",
        (),
        "Unix time of the last cycle that produced a snapshot; alert when it falls behind.",
        _C,
    ),
    Name(
        "axonize_exporter_collection_errors_total",
        "counter",
        "",
        ("source", "kind"),
        "Problems met while collecting, by source (replay, topology, nvml, pricing, sysfs, procfs, rootfs, runtime_context, exposition, exporter, collection) and kind (parse, value, mismatch, io, timeout, unavailable, internal, or the NVML fault kind).",
        _C,
    ),
    Name(
        "axonize_exporter_process_series_dropped",
        "gauge",
        "",
        (),
        "Per-PID series left out this cycle by --collect.processes.max-series.",
        _C,
    ),
)
