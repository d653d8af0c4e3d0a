"""The bundle configuration (axonize/bundle.yml): one file of selectors, thresholds, weights and prices.

The recording rules are rendered from it (:mod:`axonize.rules.render`), the
exporter prices GPUs with its ``prices:`` (:mod:`axonize.pricing`), and alerts
and dashboards are to read it too: config over code, as kubernetes-mixin does.
Sections and what they hold::

    prices:, electricity:   GPU $ per hour and $ per kWh (axonize.pricing)
    selectors:              PromQL label matchers per job: exporter, sidecar, dcgm
    levels:                 labels naming a host (host:* rules) and labels kept fleet-wide (fleet:*, model:*)
    windows:                rate() and deriv() windows ("5m")
    efficiency:             InfraLens efficiency score weights, NUMA scores, the I/O busy threshold
    grades:                 the lowest score (0-100) of each letter A-F
    cost:                   hours per month, how a GPU's cost is split between containers, the stopped-exporter grace window
    inference:              histogram quantiles

:func:`load` reads and validates a file (through :mod:`axonize.yaml_file` and
the :mod:`axonize.schema` models below) into a :class:`Bundle`; the packaged
file is read once per process and the same immutable object returned after.

Numbers that enter the rules are kept as :class:`fractions.Fraction` of the
decimal written in the file (0.4 is 2/5, not the nearest binary float), so the
renderer can write weights as small integers and a perfect GPU scores exactly 100.

Errors are :class:`axonize.config.ConfigError` naming the file, line and key, e.g.
``my-bundle.yml:92: grades.B: must be below grades.A (90), got 95``.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from . import pricing, schema
from .yaml_file import ConfigError, Document

#: What errors call the packaged file (its path in the repository).
PACKAGED = pricing.PACKAGED

#: Top-level sections, in the file's order.
SECTIONS = ("prices", "electricity", "selectors", "levels", "windows", "efficiency", "grades", "cost", "inference")
GRADE_LETTERS = ("A", "B", "C", "D", "F")
CONTAINER_SPLITS = ("memory", "even")
#: Labels the rules set or aggregate away themselves; a host or fleet label cannot be one of them.
RESERVED_LABELS = ("__name__", "le", "source", "grade", "quantile", "uuid", "gpu", "gpu_instance_id", "model", "server")

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_PROM_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")


# --- the typed object the rules (and later alerts and dashboards) use --------------------------


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
    ``io_busy_above`` is the utilization score (0-1) above which the PCIe generation counts;
    ``busy_above`` the utilization score (0-1) above which a GPU runs a workload (state busy: its
    score counts; at or below it the GPU is idle and scores 0).
    """

    utilization_weight: Fraction
    memory_weight: Fraction
    weights: Mapping[str, Fraction]
    numa_local: Fraction
    numa_mismatch: Fraction
    numa_no_containers: Fraction
    io_busy_above: Fraction
    busy_above: Fraction = Fraction(0)


@dataclass(frozen=True)
class Bundle:
    """The whole validated bundle configuration; ``where`` names the file it came from."""

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
    stopped_exporter_grace: str = "15m"  # how long a GPU whose exporter stopped keeps its last price (a duration)

    @property
    def dollars_per_kwh(self) -> float | None:
        """Electricity price ($ per kWh) or None when energy cost is left out."""
        return self.prices.electricity.dollars_per_kwh


# --- the file's shape ------------------------------------------------------------------------


def _decimal(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else repr(float(value))


def fraction(low: float = 0.0, high: float = math.inf, low_open: bool = False) -> Callable[[Any], Fraction]:
    """A check of a number in [low, high] (or (low, high]), giving the exact fraction of the decimal written."""

    def check(value: Any) -> Fraction:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if ok:
            ok = (value > low if low_open else value >= low) and value <= high
        if not ok:
            bounds = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high != math.inf else "")
            raise ValueError(f"must be a number {bounds}, got {schema.shown(value)}")
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)

    return check


def _selector(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be PromQL label matchers such as 'job=\"axonize-exporter\"', got {schema.shown(value)}")
    text, pos, out = value.strip(), 0, []
    while pos < len(text):
        m = _MATCHER.match(text, pos)
        if not m:
            raise ValueError(f'not PromQL label matchers (label="value", comma-separated) at {text[pos:]!r}')
        out.append(f'{m.group(1)}{m.group(2)}"{m.group(3)}"')
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError(f"expected ',' between matchers at {text[pos:]!r}")
            pos += 1
    return ", ".join(out)


def _labels(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and _LABEL.fullmatch(v) for v in value):
        raise ValueError(f"must be a list of label names, got {schema.shown(value)}")
    for name in value:
        if name in RESERVED_LABELS:
            raise ValueError(f"{name!r} is a label the rules set or aggregate themselves")
    if len(set(value)) != len(value):
        raise ValueError(f"repeats a label: {value}")
    return tuple(value)


def _prom_duration(value: Any) -> str:
    if not isinstance(value, str) or not _PROM_DURATION.fullmatch(value.strip()) or not re.search(r"[1-9]", value):
        raise ValueError(f"must be a Prometheus duration such as '5m' or '1h30m', got {schema.shown(value)}")
    return value.strip()


def _container_split(value: Any) -> str:
    if value not in CONTAINER_SPLITS:
        raise ValueError(f"must be one of {', '.join(CONTAINER_SPLITS)}, got {schema.shown(value)}")
    return value


def _quantiles(value: Any) -> tuple[Fraction, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"must be a non-empty list of numbers between 0 and 1, got {schema.shown(value)}")
    return value


Weight = Annotated[Fraction, BeforeValidator(fraction())]
Ratio = Annotated[Fraction, BeforeValidator(fraction(0, 1))]
Selector = Annotated[str, BeforeValidator(_selector)]
Labels = Annotated[tuple[str, ...], BeforeValidator(_labels)]
PromDuration = Annotated[str, BeforeValidator(_prom_duration)]


class SelectorsModel(schema.Section):
    exporter: Selector
    sidecar: Selector
    dcgm: Selector


class LevelsModel(schema.Section):
    host: Labels
    fleet: Labels

    @model_validator(mode="after")
    def _a_host_label(self) -> LevelsModel:
        if not self.host:
            raise schema.problem("must name at least one label (e.g. [instance])", key="host")
        return self


class WindowsModel(schema.Section):
    rate: PromDuration
    queue_growth: PromDuration


class GpuScoreModel(schema.Section):
    utilization_weight: Weight
    memory_weight: Weight

    @model_validator(mode="after")
    def _not_both_zero(self) -> GpuScoreModel:
        if self.utilization_weight + self.memory_weight == 0:
            raise schema.problem("the weights must not both be 0")
        return self


class WeightsModel(schema.Section):
    gpu: Weight
    numa: Weight
    io: Weight

    @model_validator(mode="after")
    def _not_all_zero(self) -> WeightsModel:
        if self.gpu + self.numa + self.io == 0:
            raise schema.problem("the weights must not all be 0")
        return self


class NumaModel(schema.Section):
    local: Ratio
    mismatch: Ratio
    no_containers: Ratio


class IoModel(schema.Section):
    busy_utilization_above: Ratio

    @model_validator(mode="after")
    def _below_one(self) -> IoModel:
        if self.busy_utilization_above == 1:
            raise schema.problem("must be below 1 (no GPU would ever count as busy)", key="busy_utilization_above")
        return self


class EfficiencyModel(schema.Section):
    gpu_score: GpuScoreModel
    weights: WeightsModel
    numa: NumaModel
    io: IoModel
    busy_utilization_above: Ratio = Fraction(0)  # configurations written before it read as 0

    @model_validator(mode="after")
    def _busy_below_one(self) -> EfficiencyModel:
        if self.busy_utilization_above == 1:
            raise schema.problem("must be below 1 (no GPU would ever count as busy)", key="busy_utilization_above")
        return self


Score = Annotated[Fraction, BeforeValidator(fraction(0, 100))]


class GradesModel(schema.Section):
    """The lowest score of each letter, A highest, F exactly 0."""

    A: Score
    B: Score
    C: Score
    D: Score
    F: Score

    @model_validator(mode="after")
    def _descending(self) -> GradesModel:
        above = None
        for letter in GRADE_LETTERS:
            low = getattr(self, letter)
            if above is not None and low >= above[1]:
                raise schema.problem(f"must be below grades.{above[0]} ({_decimal(above[1])}), got {_decimal(low)}", key=letter)
            above = (letter, low)
        if self.F != 0:
            raise schema.problem(f"must be 0 (every score gets a grade), got {_decimal(self.F)}", key="F")
        return self


class CostModel(schema.Section):
    hours_per_month: Annotated[Fraction, BeforeValidator(fraction(0, 744, low_open=True))]
    container_split: Annotated[str, BeforeValidator(_container_split)]
    stopped_exporter_grace: PromDuration = "15m"


class InferenceModel(schema.Section):
    quantiles: Annotated[tuple[Annotated[Fraction, BeforeValidator(fraction(0, 1, low_open=True))], ...], BeforeValidator(_quantiles)]

    @model_validator(mode="after")
    def _distinct_below_one(self) -> InferenceModel:
        if any(q == 1 for q in self.quantiles):
            raise schema.problem("a quantile must be below 1 (1 is the largest bucket's bound, not a latency)", key="quantiles")
        if len(set(self.quantiles)) != len(self.quantiles):
            raise schema.problem(f"repeats a quantile: {[_decimal(q) for q in self.quantiles]}", key="quantiles")
        return self


class BundleFile(schema.Section):
    """The whole file; every section but ``electricity`` is required."""

    prices: pricing.PricesModel
    electricity: pricing.ElectricityModel = Field(default_factory=pricing.ElectricityModel)
    selectors: SelectorsModel
    levels: LevelsModel
    windows: WindowsModel
    efficiency: EfficiencyModel
    grades: GradesModel
    cost: CostModel
    inference: InferenceModel

    @classmethod
    def unknown_key(cls, key: str) -> str:
        return f"unknown section; known sections: {', '.join(SECTIONS)}"


# --- loading ---------------------------------------------------------------------------------


def parse(doc: Document | Any, where: str | None = None) -> Bundle:
    """Validate a bundle document (a :class:`~axonize.yaml_file.Document`, or plain data named ``where``).

    Raises :class:`ConfigError` for an unknown or missing section or key and
    for a bad value, naming the file, the line when known and the key (``efficiency.weights.io``).
    """
    if not isinstance(doc, Document):
        doc = Document(doc, where or "<data>")
    f = schema.validate(BundleFile, doc)
    eff = f.efficiency
    return Bundle(
        where=doc.where,
        prices=pricing.table_of(f.prices, f.electricity, doc.where),
        selectors=Selectors(f.selectors.exporter, f.selectors.sidecar, f.selectors.dcgm),
        host_labels=tuple(dict.fromkeys(f.levels.fleet + f.levels.host)),
        fleet_labels=f.levels.fleet,
        rate_window=f.windows.rate,
        queue_growth_window=f.windows.queue_growth,
        efficiency=Efficiency(
            eff.gpu_score.utilization_weight,
            eff.gpu_score.memory_weight,
            MappingProxyType({"gpu": eff.weights.gpu, "numa": eff.weights.numa, "io": eff.weights.io}),
            eff.numa.local,
            eff.numa.mismatch,
            eff.numa.no_containers,
            eff.io.busy_utilization_above,
            eff.busy_utilization_above,
        ),
        grades=tuple((letter, getattr(f.grades, letter)) for letter in GRADE_LETTERS),
        hours_per_month=f.cost.hours_per_month,
        container_split=f.cost.container_split,
        quantiles=f.inference.quantiles,
        stopped_exporter_grace=f.cost.stopped_exporter_grace,
    )


def load(path: str | None = None) -> Bundle:
    """The bundle configuration at ``path``; ``None``: the packaged axonize/bundle.yml, read once per process.

    Raises :class:`ConfigError` for an unreadable file, invalid YAML (with its line) or a bad section.
    """
    if path is None:
        return _packaged()
    return parse(pricing.read_document(path))


@functools.lru_cache(maxsize=1)
def _packaged() -> Bundle:
    return parse(pricing.read_document(None))


__all__ = ["Bundle", "ConfigError", "Efficiency", "Selectors", "load", "parse", "PACKAGED", "SECTIONS"]
