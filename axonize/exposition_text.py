"""One writer of the Prometheus text exposition format 0.0.4 for families the components build by hand.

prometheus_client's ``generate_latest`` renders registry collectors; it
re-validates every sample and, since 0.14, appends ``_total`` to every
counter family name (OpenMetrics naming). Families whose names are fixed by
someone else (dcgm-exporter's ``DCGM_FI_DEV_PCIE_REPLAY_COUNTER``) or that a
component writes at high volume (the sidecar's normalized histograms) are
written here instead, line by line, with the same escaping and number
formatting as prometheus_client (``floatToGoString``), so the two outputs can
be concatenated into one valid exposition.

Format (prometheus.io/docs/instrumenting/exposition_formats)::

    # HELP DCGM_FI_DEV_PCIE_REPLAY_COUNTER Total number of PCIe retries.
    # TYPE DCGM_FI_DEV_PCIE_REPLAY_COUNTER counter
    DCGM_FI_DEV_PCIE_REPLAY_COUNTER{gpu="0",UUID="GPU-..."} 0

Escaping: HELP text escapes backslash and newline; label values escape
backslash, double quote and newline. Names and label names are the caller's
(they come from tables in the code, validated by :func:`check_name`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.utils import floatToGoString

TYPES = ("gauge", "counter", "histogram", "untyped")
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

#: ``(label name, label value)`` pairs in exposition order.
Labels = Sequence[tuple[str, str]]


def check_name(name: str, what: str = "metric name") -> str:
    """``name`` if it is a valid metric (or, with ``what="label name"``, label) name; ValueError naming it otherwise."""
    pattern = _LABEL if what == "label name" else _NAME
    if not pattern.fullmatch(name) or (what == "label name" and name.startswith("__")):
        raise ValueError(f"{name!r} is not a valid {what}")
    return name


def escape_label_value(value: str) -> str:
    """A label value as the text format quotes it: backslash, newline and double quote escaped."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def escape_help(text: str) -> str:
    """HELP text: backslash and newline escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_labels(labels: Labels) -> str:
    """``{a="1",b="x"}``, or ``""`` for no labels."""
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels) + "}"


def format_value(value: float) -> str:
    """A sample value as prometheus_client writes it (``1.0``, ``1e+10``, ``NaN``, ``+Inf``)."""
    return floatToGoString(value)


@dataclass
class Family:
    """One family to write: ``name``, ``type`` (:data:`TYPES`), ``help`` and its samples.

    ``samples`` are ``(sample name, labels, value)``: the sample name is the
    family's for a gauge or counter and ``<name>_bucket`` / ``_sum`` /
    ``_count`` for a histogram (see :meth:`add_histogram`). The name is written
    as given: a counter keeps its name, ``_total`` or not.
    """

    name: str
    type: str
    help: str
    samples: list[tuple[str, Labels, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: type {self.type!r} is not one of {', '.join(TYPES)}")

    def add(self, labels: Labels, value: float) -> None:
        """One sample of a gauge, counter or untyped family."""
        self.samples.append((self.name, labels, value))

    def add_histogram(self, labels: Labels, buckets: Iterable[tuple[float, float]], sum_: float, count: float) -> None:
        """One histogram: cumulative ``(upper bound, count)`` buckets (the last +Inf), its sum and count."""
        for bound, n in buckets:
            le = "+Inf" if math.isinf(bound) and bound > 0 else format_value(bound)
            self.samples.append((self.name + "_bucket", (*labels, ("le", le)), n))
        self.samples.append((self.name + "_sum", labels, sum_))
        self.samples.append((self.name + "_count", labels, count))


def write(families: Iterable[Family], out: list[str] | None = None) -> list[str]:
    """The lines of ``families`` (HELP, TYPE, then samples), appended to ``out``; empty families are left out."""
    out = [] if out is None else out
    for fam in families:
        if not fam.samples:
            continue
        out.append(f"# HELP {fam.name} {escape_help(fam.help)}")
        out.append(f"# TYPE {fam.name} {fam.type}")
        for sample, labels, value in fam.samples:
            out.append(f"{sample}{format_labels(labels)} {format_value(value)}")
    return out


def render(families: Iterable[Family]) -> bytes:
    """``families`` as one exposition body (UTF-8, newline-terminated; ``b""`` when every family is empty)."""
    lines = write(families)
    return ("\n".join(lines) + "\n").encode() if lines else b""
