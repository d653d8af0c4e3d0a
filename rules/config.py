"""The one rules configuration (rules/config.yml): load it whole and validate every section.

The recording rules (rules/*.rules.yml) are rendered from it by
:mod:`axonize.rules.render`; the exporter reads its ``prices:`` section too.
Sections and what they hold::

    prices:, electricity:   GPU $ per hour and $ per kWh (validated by axonize.rules.pricing.parse)
    selectors:              PromQL label matchers per job: exporter, sidecar, dcgm
    levels:                 labels naming a host (host:* rules) and labels kept fleet-wide (fleet:*, model:*)
    windows:                rate() and deriv() windows ("5m")
    efficiency:             InfraLens efficiency score weights, NUMA scores, the I/O busy threshold
    grades:                 the lowest score (0-100) of each letter A-F
    cost:                   hours per month, how a GPU's cost is split between containers
    inference:              histogram quantiles

Numbers that enter the rules are kept as :class:`fractions.Fraction` of the
decimal written in the file (0.4 is 2/5, not the nearest binary float), so the
renderer can write weights as small integers and a perfect GPU scores exactly 100.

Errors are :class:`axonize.config.ConfigError` naming the file and the key, e.g.
``rules/config.yml: grades.B: must be below grades.A (90), got 95``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Optional

from axonize.config import ConfigError
from axonize.rules import pricing

#: What ``where`` says for the packaged configuration (the path inside the repository).
PACKAGED = pricing.PACKAGED

#: Top-level sections; ``prices`` and ``electricity`` belong to :mod:`axonize.rules.pricing`.
SECTIONS = ("prices", "electricity", "selectors", "levels", "windows", "efficiency", "grades", "cost", "inference")
GRADE_LETTERS = ("A", "B", "C", "D", "F")
CONTAINER_SPLITS = ("memory", "even")

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")
#: Labels the rules set or aggregate away themselves; a host or fleet label cannot be one of them.
RESERVED_LABELS = ("__name__", "le", "source", "grade", "quantile", "uuid", "gpu", "gpu_instance_id", "model", "server")


@dataclass(frozen=True)
class Selectors:
    """PromQL label matchers (the text inside ``{}``) per scrape job; "" selects every job."""

    exporter: str
    sidecar: str
    dcgm: str


@dataclass(frozen=True)
class Efficiency:
    """InfraLens efficiency score parameters (ratios and weights as exact fractions).

    ``utilization_weight`` and ``memory_weight`` weigh the GPU score (normalised by their sum);
    ``weights`` (gpu, numa, io) the overall score (normalised by their sum); ``numa_*`` are the
    NUMA scores (0-1) of a local container, a mismatched one and a GPU without containers;
    ``io_busy_above`` is the utilization score (0-1) above which the PCIe generation counts.
    """

    utilization_weight: Fraction
    memory_weight: Fraction
    weights: dict[str, Fraction]
    numa_local: Fraction
    numa_mismatch: Fraction
    numa_no_containers: Fraction
    io_busy_above: Fraction


@dataclass(frozen=True)
class RulesConfig:
    """The whole validated rules configuration; ``where`` names the file it came from."""

    where: str
    prices: pricing.PriceTable
    selectors: Selectors
    host_labels: tuple[str, ...]
    fleet_labels: tuple[str, ...]
    rate_window: str
    queue_growth_window: str
    efficiency: Efficiency
    grades: tuple[tuple[str, Fraction], ...]  # (letter, lowest score 0-100), A first
    hours_per_month: Fraction
    container_split: str
    quantiles: tuple[Fraction, ...]

    @property
    def dollars_per_kwh(self) -> Optional[float]:
        """Electricity price ($ per kWh) or None when energy cost is left out."""
        return self.prices.electricity.dollars_per_kwh


class _Reader(pricing._Reader):
    """The price table's reader, plus what the rules' sections need; here every known key is required."""

    def section(self, doc: dict, key: str, known: tuple[str, ...]) -> dict:
        if key not in doc:
            raise self.fail(key, "missing")
        return self.mapping(doc[key], key, known)

    def mapping(self, value: Any, key: str, known: tuple[str, ...]) -> dict:
        super().mapping(value, key, known)
        for name in known:
            if name not in value:
                raise self.fail(f"{key}.{name}", "missing")
        return value

    def fraction(self, value: Any, key: str, low: float = 0.0, high: float = math.inf, low_open: bool = False) -> Fraction:
        """A number in [low, high] (or (low, high]) as the exact fraction of the decimal written."""
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if ok:
            ok = (value > low if low_open else value >= low) and value <= high
        if not ok:
            bounds = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high != math.inf else "")
            raise self.fail(key, f"must be a number {bounds}, got {_shown(value)}")
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)

    def selector(self, value: Any, key: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(key, f"must be PromQL label matchers such as 'job=\"axonize-exporter\"', got {_shown(value)}")
        text, pos, out = value.strip(), 0, []
        while pos < len(text):
            m = _MATCHER.match(text, pos)
            if not m:
                raise self.fail(key, f"not PromQL label matchers (label=\"value\", comma-separated) at {text[pos:]!r}")
            out.append(f'{m.group(1)}{m.group(2)}"{m.group(3)}"')
            pos = m.end()
            if pos < len(text):
                if text[pos] != ",":
                    raise self.fail(key, f"expected ',' between matchers at {text[pos:]!r}")
                pos += 1
        return ", ".join(out)

    def labels(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and _LABEL.fullmatch(v) for v in value):
            raise self.fail(key, f"must be a list of label names, got {_shown(value)}")
        for name in value:
            if name in RESERVED_LABELS:
                raise self.fail(key, f"{name!r} is a label the rules set or aggregate themselves")
        if len(set(value)) != len(value):
            raise self.fail(key, f"repeats a label: {value}")
        return tuple(value)

    def duration(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not _DURATION.fullmatch(value.strip()):
            raise self.fail(key, f"must be a Prometheus duration such as '5m' or '1h30m', got {_shown(value)}")
        return value.strip()


_shown = pricing._shown


def parse(doc: Any, where: str) -> RulesConfig:
    """Validate a loaded rules configuration document; ``where`` names the file in errors.

    Raises :class:`ConfigError` for an unknown or missing section or key and
    for a bad value, naming the key (``efficiency.weights.io``).
    """
    r = _Reader(where)
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: top level: must be a mapping, got {_shown(doc)}")
    for name in doc:
        if name not in SECTIONS:
            raise r.fail(str(name), f"unknown section; known sections: {', '.join(SECTIONS)}")
    prices = pricing.parse(doc, where)

    sel = r.section(doc, "selectors", ("exporter", "sidecar", "dcgm"))
    selectors = Selectors(*(r.selector(sel[k], f"selectors.{k}") for k in ("exporter", "sidecar", "dcgm")))

    levels = r.section(doc, "levels", ("host", "fleet"))
    fleet = r.labels(levels["fleet"], "levels.fleet")
    host = r.labels(levels["host"], "levels.host")
    if not host:
        raise r.fail("levels.host", "must name at least one label (e.g. [instance])")

    windows = r.section(doc, "windows", ("rate", "queue_growth"))
    rate_window = r.duration(windows["rate"], "windows.rate")
    queue_window = r.duration(windows["queue_growth"], "windows.queue_growth")

    eff = r.section(doc, "efficiency", ("gpu_score", "weights", "numa", "io"))
    gpu_score = r.mapping(eff["gpu_score"], "efficiency.gpu_score", ("utilization_weight", "memory_weight"))
    util_w = r.fraction(gpu_score["utilization_weight"], "efficiency.gpu_score.utilization_weight")
    mem_w = r.fraction(gpu_score["memory_weight"], "efficiency.gpu_score.memory_weight")
    if util_w + mem_w == 0:
        raise r.fail("efficiency.gpu_score", "the weights must not both be 0")
    w = r.mapping(eff["weights"], "efficiency.weights", ("gpu", "numa", "io"))
    weights = {k: r.fraction(w[k], f"efficiency.weights.{k}") for k in ("gpu", "numa", "io")}
    if sum(weights.values()) == 0:
        raise r.fail("efficiency.weights", "the weights must not all be 0")
    numa = r.mapping(eff["numa"], "efficiency.numa", ("local", "mismatch", "no_containers"))
    numa_scores = {k: r.fraction(numa[k], f"efficiency.numa.{k}", 0, 1) for k in ("local", "mismatch", "no_containers")}
    io = r.mapping(eff["io"], "efficiency.io", ("busy_utilization_above",))
    busy = r.fraction(io["busy_utilization_above"], "efficiency.io.busy_utilization_above", 0, 1)
    if busy == 1:
        raise r.fail("efficiency.io.busy_utilization_above", "must be below 1 (no GPU would ever count as busy)")
    efficiency = Efficiency(util_w, mem_w, weights, numa_scores["local"], numa_scores["mismatch"], numa_scores["no_containers"], busy)

    g = r.section(doc, "grades", GRADE_LETTERS)
    grades, above = [], None
    for letter in GRADE_LETTERS:
        low = r.fraction(g[letter], f"grades.{letter}", 0, 100)
        if above is not None and low >= above[1]:
            raise r.fail(f"grades.{letter}", f"must be below grades.{above[0]} ({_decimal(above[1])}), got {g[letter]!r}")
        grades.append((letter, low))
        above = (letter, low)
    if grades[-1][1] != 0:
        raise r.fail("grades.F", f"must be 0 (every score gets a grade), got {g['F']!r}")

    cost = r.section(doc, "cost", ("hours_per_month", "container_split"))
    hours = r.fraction(cost["hours_per_month"], "cost.hours_per_month", 0, 744, low_open=True)
    if cost["container_split"] not in CONTAINER_SPLITS:
        raise r.fail("cost.container_split", f"must be one of {', '.join(CONTAINER_SPLITS)}, got {_shown(cost['container_split'])}")

    inf = r.section(doc, "inference", ("quantiles",))
    qs = inf["quantiles"]
    if not isinstance(qs, list) or not qs:
        raise r.fail("inference.quantiles", f"must be a non-empty list of numbers between 0 and 1, got {_shown(qs)}")
    quantiles = tuple(r.fraction(q, f"inference.quantiles[{i}]", 0, 1, low_open=True) for i, q in enumerate(qs))
    if any(q == 1 for q in quantiles):
        raise r.fail("inference.quantiles", "a quantile must be below 1 (1 is the largest bucket's bound, not a latency)")
    if len(set(quantiles)) != len(quantiles):
        raise r.fail("inference.quantiles", f"repeats a quantile: {qs}")

    return RulesConfig(
        where=where,
        prices=prices,
        selectors=selectors,
        host_labels=tuple(dict.fromkeys(fleet + host)),
        fleet_labels=fleet,
        rate_window=rate_window,
        queue_growth_window=queue_window,
        efficiency=efficiency,
        grades=tuple(grades),
        hours_per_month=hours,
        container_split=cost["container_split"],
        quantiles=quantiles,
    )


def _decimal(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def load(path: Optional[str] = None) -> RulesConfig:
    """Read and :func:`parse` a rules configuration; ``None`` reads the packaged rules/config.yml.

    Raises :class:`ConfigError` for an unreadable file, invalid YAML (with its line) or a bad section.
    """
    return parse(*pricing.read_document(path))
