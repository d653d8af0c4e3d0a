"""The bundle configuration (axonize/bundle.yml): one file of selectors, thresholds, weights and prices.

The recording rules are rendered from it (:mod:`axonize.rules.render`), the
exporter prices GPUs with its ``prices:`` (:mod:`axonize.pricing`), and alerts
and dashboards are to read it too: config over code, as kubernetes-mixin does.
Sections and what they hold::

    prices:, electricity:   GPU $ per hour and $ per kWh (axonize.pricing)
    selectors:              PromQL label matchers per job: exporter, sidecar, dcgm, gateway
    levels:                 labels naming a host (host:* rules) and labels kept fleet-wide (fleet:*, model:*)
    windows:                rate() and deriv() windows ("5m")
    efficiency:             InfraLens efficiency score weights, NUMA scores, the I/O busy threshold
    grades:                 the lowest score (0-100) of each letter A-F
    cost:                   hours per month, how a GPU's cost is split between containers, the stopped-exporter grace window
    inference:              histogram quantiles
    alerts:                 the runbook base URL and, per alert, severity, `for:` and thresholds (axonize.alerts)
    grafana:                the dashboards' datasource, folder, uids and titles (axonize.grafana_config)

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

from . import grafana_config, pricing, schema
from .yaml_file import ConfigError, Document

#: What errors call the packaged file (its path in the repository).
PACKAGED = pricing.PACKAGED

#: Top-level sections, in the file's order.
SECTIONS = ("prices", "electricity", "selectors", "levels", "windows", "efficiency", "grades", "cost", "inference", "alerts", "grafana")
GRADE_LETTERS = ("A", "B", "C", "D", "F")
CONTAINER_SPLITS = ("memory", "even")
#: Alert severities: critical pages now, warning is a ticket (act within hours), info is context (not sent).
SEVERITIES = ("critical", "warning", "info")
#: Labels the rules set or aggregate away themselves; a host or fleet label cannot be one of them.
RESERVED_LABELS = ("__name__", "le", "source", "grade", "quantile", "uuid", "gpu", "gpu_instance_id", "model", "server", "customer")

#: ``selectors.gateway`` when a bundle file written before the gateway existed leaves it out.
DEFAULT_GATEWAY_SELECTOR = 'job="axonize-gateway"'

_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_PROM_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")
_LABEL_VALUE = re.compile(r"[a-z][a-z0-9_]*")


# --- the typed object the rules (and later alerts and dashboards) use --------------------------


@dataclass(frozen=True)
class Selectors:
    """PromQL label matchers (the text inside ``{}``) per scrape job; "" selects every job."""

    exporter: str
    sidecar: str
    dcgm: str
    gateway: str = DEFAULT_GATEWAY_SELECTOR


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
    alerts: AlertsModel | None = None  # the alerts: section (validated; None only for a Bundle built by hand)
    grafana: grafana_config.GrafanaModel | None = None  # the grafana: section (likewise)

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
    gateway: Selector = DEFAULT_GATEWAY_SELECTOR  # optional: bundle files from before the gateway stay valid


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


# --- alerts: ----------------------------------------------------------------------------------


def _severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"must be one of {', '.join(SEVERITIES)}, got {schema.shown(value)}")
    return value


def _for_duration(value: Any) -> str:
    """A `for:` duration: a Prometheus duration, 0 allowed (``0s`` fires at the first evaluation)."""
    if not isinstance(value, str) or not _PROM_DURATION.fullmatch(value.strip()):
        raise ValueError(f"must be a Prometheus duration such as '0s', '5m' or '1h30m', got {schema.shown(value)}")
    return value.strip()


def _xid_codes(value: Any) -> tuple[int, ...]:
    ok = isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 1000 for v in value)
    if not ok:
        raise ValueError(f"must be a non-empty list of XID codes (whole numbers 1-999), got {schema.shown(value)}")
    if len(set(value)) != len(value):
        raise ValueError(f"repeats a code: {value}")
    return tuple(value)


def _label_values(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and _LABEL_VALUE.fullmatch(v) for v in value):
        raise ValueError(f"must be a non-empty list of label values such as hw_slowdown, got {schema.shown(value)}")
    return tuple(value)


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"https?://[^\s#]+", value):
        raise ValueError(f"must be an http(s) URL without a #fragment (the alert's anchor is appended), got {schema.shown(value)}")
    return value


def _grade(value: Any) -> str:
    if value not in GRADE_LETTERS[1:]:
        raise ValueError(f"must be one of {', '.join(GRADE_LETTERS[1:])} (the grade and those below it fire), got {schema.shown(value)}")
    return value


Severity = Annotated[str, BeforeValidator(_severity)]
ForDuration = Annotated[str, BeforeValidator(_for_duration)]
XidCodes = Annotated[tuple[int, ...], BeforeValidator(_xid_codes)]


class AlertModel(schema.Section):
    """One alert: its severity and how long its condition must hold (``for:``) before it fires."""

    severity: Severity
    for_: ForDuration = Field(alias="for")


class XidAlertModel(AlertModel):
    """An XID bucket: the codes, and how long the alert keeps firing after the last occurrence (``hold``)."""

    codes: XidCodes
    hold: PromDuration


class WindowAlertModel(AlertModel):
    """An alert on a counter's increase() over ``window``."""

    window: PromDuration


class CollectionErrorsAlertModel(WindowAlertModel):
    """Collection errors over ``window``, except the ``ignore_kinds`` another alert speaks for (a lost GPU's)."""

    ignore_kinds: Annotated[tuple[str, ...], BeforeValidator(_label_values)] = ()


class ClockAlertModel(AlertModel):
    """Clock-event reasons (axonize_gpu_clock_event_reason_active's ``reason``) that alert while held."""

    reasons: Annotated[tuple[str, ...], BeforeValidator(_label_values)]


class PcieAlertModel(AlertModel):
    """The PCIe generation counts only while the GPU's utilization score is above ``busy_utilization_above`` (0-1)."""

    busy_utilization_above: Ratio

    @model_validator(mode="after")
    def _below_one(self) -> PcieAlertModel:
        if self.busy_utilization_above == 1:
            raise schema.problem("must be below 1 (no GPU would ever count as busy)", key="busy_utilization_above")
        return self


class LeveledAlertModel(schema.Section):
    """One alert at several severities: ``thresholds`` maps a severity to the ratio (0-1) above which it fires."""

    for_: ForDuration = Field(alias="for")
    thresholds: dict[Severity, Ratio]

    @model_validator(mode="after")
    def _ordered(self) -> LeveledAlertModel:
        if not self.thresholds:
            raise schema.problem("must map at least one severity to a ratio, e.g. {warning: 0.9}", key="thresholds")
        ranked = [self.thresholds[s] for s in SEVERITIES if s in self.thresholds]
        if ranked != sorted(ranked, reverse=True) or len(set(ranked)) != len(ranked):
            raise schema.problem("a more severe level needs a higher threshold (critical > warning > info)", key="thresholds")
        return self


class CostAlertModel(AlertModel):
    dollars_per_hour: Annotated[Fraction, BeforeValidator(fraction(0, low_open=True))]


class ShareAlertModel(AlertModel):
    above: Ratio


class GradeAlertModel(AlertModel):
    grade_at_or_below: Annotated[str, BeforeValidator(_grade)]


class StaleAlertModel(AlertModel):
    """Stale when the last successful collection is older than ``intervals`` × ``collection_interval``."""

    collection_interval: PromDuration
    intervals: Annotated[Fraction, BeforeValidator(fraction(1))]


class RateAlertModel(WindowAlertModel):
    """An alert on a per-second rate over ``window`` above ``per_second``."""

    per_second: Annotated[Fraction, BeforeValidator(fraction(0, low_open=True))]


class QueueAlertModel(WindowAlertModel):
    """A queue growing (deriv() over ``window`` above 0) while it holds more than ``waiting_above`` requests."""

    waiting_above: Annotated[Fraction, BeforeValidator(fraction(0))]


class RatioAlertModel(WindowAlertModel):
    above: Ratio


#: Latency histograms an SLO can be set on: the key names the family axonize_inference_<key>_seconds.
SLO_HISTOGRAMS = ("time_to_first_token", "inter_token_latency")


def _bucket_bounds(value: Any) -> tuple[Fraction, ...]:
    ok = isinstance(value, list) and value and all(not isinstance(v, bool) and isinstance(v, (int, float)) and v > 0 for v in value)
    if not ok:
        raise ValueError(f"must be a non-empty list of the histogram's bucket upper bounds in seconds (le), got {schema.shown(value)}")
    if sorted(value) != value or len(set(value)) != len(value):
        raise ValueError(f"must be ascending without repeats, got {value}")
    return tuple(Fraction(repr(v)) if isinstance(v, float) else Fraction(v) for v in value)


class SloModel(schema.Section):
    """A latency SLO: ``objective`` of requests (0-1) within ``threshold_seconds``, a bound of ``bucket_bounds``.

    ``bucket_bounds`` are the engine's histogram buckets (le); the good share is read from the bucket whose
    le is the threshold, so a threshold between two bounds could not be measured.
    """

    objective: Annotated[Fraction, BeforeValidator(fraction(0, 1, low_open=True))]
    threshold_seconds: Annotated[Fraction, BeforeValidator(fraction(0, low_open=True))]
    bucket_bounds: Annotated[tuple[Fraction, ...], BeforeValidator(_bucket_bounds)]

    @model_validator(mode="after")
    def _measurable(self) -> SloModel:
        if self.objective == 1:
            raise schema.problem("must be below 1 (an objective of 1 leaves no error budget)", key="objective")
        if self.threshold_seconds not in self.bucket_bounds:
            bounds = ", ".join(_decimal(b) for b in self.bucket_bounds)
            raise schema.problem(
                f"must be one of the histogram's bucket bounds ({bounds}), got {_decimal(self.threshold_seconds)}", key="threshold_seconds"
            )
        return self


class BurnWindowModel(schema.Section):
    """One multi-window pair: fire when the error budget burns ``factor`` times too fast over both windows."""

    long: PromDuration
    short: PromDuration
    factor: Annotated[Fraction, BeforeValidator(fraction(0, low_open=True))]
    for_: ForDuration = Field(alias="for")
    severity: Severity


class SloBurnAlertModel(schema.Section):
    """Multi-window multi-burn-rate alerts (the Google SRE workbook) on latency SLOs, per server and model."""

    slos: dict[str, SloModel]
    windows: tuple[BurnWindowModel, ...]

    @model_validator(mode="after")
    def _known_and_present(self) -> SloBurnAlertModel:
        for key in self.slos:
            if key not in SLO_HISTOGRAMS:
                raise schema.problem(f"unknown latency histogram; known: {', '.join(SLO_HISTOGRAMS)}", key="slos")
        if not self.slos:
            raise schema.problem("must set at least one SLO", key="slos")
        if not self.windows:
            raise schema.problem("must list at least one window pair", key="windows")
        return self


class AlertRulesModel(schema.Section):
    """Every alert of alerts/, by name; each is required so a configuration names all its thresholds."""

    AxonizeGpuLost: AlertModel
    AxonizeGpuXidResetRequired: XidAlertModel
    AxonizeGpuXidApplicationError: XidAlertModel
    AxonizeGpuRowRemapPending: AlertModel
    AxonizeGpuRowRemapFailure: AlertModel
    AxonizeGpuEccUncorrectable: WindowAlertModel
    AxonizeGpuClocksThrottled: ClockAlertModel
    AxonizeGpuPcieLinkDegraded: PcieAlertModel
    AxonizeGpuNvlinkDown: AlertModel
    AxonizeGpuMemoryPressure: LeveledAlertModel
    AxonizeContainerOffNumaNode: AlertModel
    AxonizeGpuIdleCost: CostAlertModel
    AxonizeFleetIdleCostShare: ShareAlertModel
    AxonizeHostEfficiencyLow: GradeAlertModel
    AxonizeExporterDown: AlertModel
    AxonizeSidecarDown: AlertModel
    AxonizeExporterCollectionStale: StaleAlertModel
    AxonizeExporterCollectionErrors: CollectionErrorsAlertModel
    AxonizeSidecarCollectionErrors: WindowAlertModel
    AxonizeInferenceTargetDown: AlertModel
    AxonizeInferenceKvCacheHigh: LeveledAlertModel
    AxonizeInferencePreemptions: RateAlertModel
    AxonizeInferenceQueueGrowing: QueueAlertModel
    AxonizeInferenceErrorRatio: RatioAlertModel
    AxonizeInferenceLatencySloBurn: SloBurnAlertModel
    AxonizeWatchdog: AlertModel

    @model_validator(mode="after")
    def _xid_buckets_apart(self) -> AlertRulesModel:
        shared = sorted(set(self.AxonizeGpuXidResetRequired.codes) & set(self.AxonizeGpuXidApplicationError.codes))
        if shared:
            raise schema.problem(
                f"XID {', '.join(map(str, shared))} also in AxonizeGpuXidResetRequired.codes: a code belongs to one bucket",
                key="AxonizeGpuXidApplicationError",
            )
        return self


class AlertsModel(schema.Section):
    """The alerts: section: the runbook base URL, XID codes that never alert, and every alert's settings."""

    runbook_base_url: Annotated[str, BeforeValidator(_url)]
    xid_never_alert: XidCodes
    rules: AlertRulesModel

    @model_validator(mode="after")
    def _ignored_codes_never_alert(self) -> AlertsModel:
        for name in ("AxonizeGpuXidResetRequired", "AxonizeGpuXidApplicationError"):
            shared = sorted(set(self.xid_never_alert) & set(getattr(self.rules, name).codes))
            if shared:
                raise schema.problem(
                    f"XID {', '.join(map(str, shared))} is also in rules.{name}.codes: it must never alert", key="xid_never_alert"
                )
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
    alerts: AlertsModel
    grafana: grafana_config.GrafanaModel

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
        selectors=Selectors(f.selectors.exporter, f.selectors.sidecar, f.selectors.dcgm, f.selectors.gateway),
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
        alerts=f.alerts,
        grafana=f.grafana,
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
