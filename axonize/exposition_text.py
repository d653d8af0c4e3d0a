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

:class:`Writer` writes the same families (and prometheus_client's) byte for byte as
``generate_latest`` does, in two steps so that the text can be made later than the
data: :meth:`Writer.prepare` does what can fail and keeps the strings that repeat
from one rendering to the next; :func:`write_prepared` only joins strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
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


@dataclass
class Table:
    """A gauge or counter family whose samples all carry the same labels: ``(label values, value)`` rows.

    ``label_names`` name the values of every row, in order; no ``(name, value)`` pairs are built
    per sample, so a family read from a table of GPUs costs one tuple per sample. The sample name
    is the family's, written as given. Written by :class:`Writer` only.
    """

    name: str
    type: str
    help: str
    label_names: tuple[str, ...]
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.type not in ("gauge", "counter"):
            raise ValueError(f"{self.name}: a table is a gauge or a counter, not {self.type!r}")


@dataclass(frozen=True)
class Prepared:
    """One family ready to write: its ``# HELP`` and ``# TYPE`` lines (with newlines), and its samples.

    ``samples`` are ``(sample name, label text, value)``: the label text is ``{a="1",b="x"}`` (or
    ``""``), already escaped; the value is a float. Nothing in it can fail to write.
    """

    head: str
    samples: Sequence[tuple[str, str, float]] = ()


class _Collector:
    """Adapter so ``generate_latest`` can render one prometheus_client family."""

    def __init__(self, family: Metric):
        self._family = family

    def collect(self) -> list[Metric]:
        return [self._family]


class Writer:
    """The text of families, as prometheus_client's ``generate_latest`` writes it, from strings kept between renderings.

    ``generate_latest`` validates, escapes and sorts every label of every sample, and the same
    ``gpu``/``uuid`` pairs repeat in some 70 families a cycle; this writer builds each label set's
    text once and reuses it (issue 16: 0.36x of ``generate_latest``'s CPU on the 8x H100 replay).

    :meth:`prepare` takes a :class:`Table`, a :class:`Family` or a prometheus_client family and
    returns a :class:`Prepared`; it does everything that can raise on a bad family (a value that
    is not a number, a label value that is not a string), so call it where errors are counted.
    :func:`write_prepared` later writes prepared families and cannot fail. Output, byte for byte
    that of ``generate_latest``: ``# HELP`` and ``# TYPE`` even for a family without samples, labels
    sorted by name, values by ``floatToGoString``. A :class:`Table` or :class:`Family` keeps its name
    and type as given (a counter without ``_total`` stays so); a prometheus_client family of a type
    other than gauge or counter, or with timestamps or ``_created`` samples, is written by
    ``generate_latest`` itself.

    Memory: label texts are kept until they outnumber twice the samples of a rendering (plus
    :data:`SPARE_LABEL_SETS`); then :meth:`next_rendering` forgets them all, so label sets that
    churn (per-PID series) cost one rendering of misses now and then, and steady ones none.
    Not thread-safe: one thread prepares (the collection loop's).
    """

    #: Label texts kept beyond twice a rendering's samples before they are all forgotten.
    SPARE_LABEL_SETS = 1000

    def __init__(self) -> None:
        self._heads: dict[tuple[str, str, str], str] = {}
        # label names (None for (name, value) pairs) -> label values (or pairs) -> label text
        self._labels: dict[tuple[str, ...] | None, dict] = {}
        self._kept = 0  # label texts in _labels
        self._samples = 0  # samples prepared since the last next_rendering()

    def next_rendering(self) -> None:
        """Call once per rendering: forgets every label text if they outnumber twice its samples (+ spare)."""
        if self._kept > 2 * self._samples + self.SPARE_LABEL_SETS:
            self._labels, self._kept = {}, 0
        self._samples = 0

    def prepare(self, family: Table | Family | Metric) -> Prepared:
        """``family`` ready for :func:`write_prepared`; TypeError or ValueError on a value or label it cannot write."""
        if isinstance(family, Table):
            name, names, texts = family.name, family.label_names, self._labels.get(family.label_names, {})
            self._samples += len(family.samples)
            out = []
            for values, value in family.samples:
                text = texts.get(values)
                if text is None:  # new this rendering
                    text = self._label_text(names, values)
                    texts = self._labels[names]
                out.append((name, text, float(value)))
            return Prepared(self._head(name, family.type, family.help), out)
        if isinstance(family, Family):
            return self._prepare(family.name, family.type, family.help, family.samples)
        if _plain(family):
            name = family.name + "_total" if family.type == "counter" else family.name
            samples = [(s.name, tuple(s.labels.items()), s.value) for s in family.samples]
            return self._prepare(name, family.type, family.documentation, samples)
        return Prepared(generate_latest(_Collector(family)).decode())

    def _head(self, name: str, type_: str, help: str) -> str:
        head = self._heads.get((name, type_, help))
        if head is None:
            head = self._heads[(name, type_, help)] = f"# HELP {name} {escape_help(help)}\n# TYPE {name} {type_}\n"
        return head

    def _prepare(self, name: str, type_: str, help: str, samples: Iterable[tuple[str, Labels, float]]) -> Prepared:
        texts = self._labels.get(None, {})
        out = []
        for sample, labels, value in samples:
            self._samples += 1
            try:
                text = texts[labels]
            except (KeyError, TypeError):  # new this rendering, or labels in a list
                text = self._label_text(None, tuple(labels))
                texts = self._labels[None]
            out.append((sample, text, float(value)))
        return Prepared(self._head(name, type_, help), out)

    def _label_text(self, names: tuple[str, ...] | None, key: tuple) -> str:
        """The label text of ``key`` (values of ``names``, or pairs when ``names`` is None), kept for this rendering."""
        texts = self._labels.setdefault(names, {})
        text = texts.get(key)  # labels given as a list: known as a tuple
        if text is None:
            pairs = key if names is None else tuple(zip(names, key, strict=True))
            if not all(isinstance(v, str) for _, v in pairs):
                raise TypeError(f"label values must be strings: {dict(pairs)!r}")
            text = texts[key] = format_labels(sorted(pairs))
            self._kept += 1
        return text


def _plain(family: Metric) -> bool:
    """A gauge or counter with legacy names, no timestamps and no ``_created`` samples: what :class:`Writer` writes itself."""
    if family.type not in ("gauge", "counter") or not _NAME.fullmatch(family.name):
        return False
    names = (family.name, family.name + "_total")
    return all(s.timestamp is None and s.name in names and all(_LABEL.fullmatch(k) for k in s.labels) for s in family.samples)


def write_prepared(families: Iterable[Prepared]) -> bytes:
    """One exposition body of prepared families (UTF-8; ``b""`` for none)."""
    out = []
    for fam in families:
        out.append(fam.head)
        for sample, labels, value in fam.samples:
            out.append(f"{sample}{labels} {floatToGoString(value)}\n")
    return "".join(out).encode()
