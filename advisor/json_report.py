"""The report for machines (``--json FILE``): a :class:`~.model.Report` as JSON with stable keys.

Top-level keys, always present, in this order: ``format`` (``"axonize-advise/1"``: bumped when a key changes
meaning or goes), ``host``, ``score``, ``findings``, ``plan`` (null when there is none), ``narrative``,
``narrative_error``, ``notes``. Inside, each object has the fields of its dataclass in :mod:`.model`, in
their order, with the model's units (bytes, ratios 0-1, watts, $ per hour or per month). Conversions:

* CPU sets (``cpu_affinity``, ``cpus``) -> a Linux cpulist string (``"0-63,128-191"``), null when unknown;
* ``Score.per_gpu`` -> ``[{"gpu": 3, "score": 41.2}]``; ``Score.components`` -> ``[{"gpu", "component", "value"}]``;
* ``Workload.mig`` -> ``[{"gpu", "gpu_instance_id"}]``;
* NaN (a host without a score) -> null; tuples -> lists.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from axonize.cpulist import format_cpulist

from .model import Report, Score, Workload

FORMAT = "axonize-advise/1"


def _value(value: Any) -> Any:
    if isinstance(value, Score):
        return {
            "score": _value(value.score),
            "grade": value.grade,
            "per_gpu": [{"gpu": g, "score": _value(s)} for g, s in value.per_gpu],
            "components": [{"gpu": g, "component": c, "value": _value(v)} for g, c, v in value.components],
        }
    if isinstance(value, Workload):
        out = _fields(value)
        out["mig"] = [{"gpu": g, "gpu_instance_id": gi} for g, gi in value.mig]
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, frozenset):
        return format_cpulist(value)
    if isinstance(value, (tuple, list)):
        return [_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: _value(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def to_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-able data (see the module docstring for the keys)."""
    return {
        "format": FORMAT,
        "host": _value(report.host),
        "score": _value(report.score),
        "findings": _value(report.findings),
        "plan": _value(report.plan) if report.plan is not None else None,
        "narrative": report.narrative,
        "narrative_error": report.narrative_error,
        "notes": list(report.notes),
    }


def dumps(report: Report) -> str:
    """:func:`to_dict` as indented JSON text (UTF-8 as is, no NaN), ending with a newline."""
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write(report: Report, path: str) -> None:
    """Write :func:`dumps` to ``path``; OSError naming the path when it cannot be written."""
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(dumps(report))
    except OSError as exc:
        raise OSError(f"cannot write the JSON report to {path}: {exc.strerror or exc}") from None
