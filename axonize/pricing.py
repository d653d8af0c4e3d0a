"""The GPU price table of the bundle configuration: which $ per GPU-hour applies to a GPU, and a MIG instance's share.

The ``prices:`` section (and ``electricity:``) of the bundle configuration
(axonize/bundle.yml), read by the recording rules and by the exporter
(``--cost.config``, by default the packaged bundle file)::

    prices:
      currency: USD
      default: {dollars_per_hour: 0.95, source: "...", date: "2026-11"}
      gpus:                                  # the row whose `match` is found in the model name
        - {match: '\\bH100\\b(?!.*\\b(?:NVL|PCIe)\\b)', dollars_per_hour: 6.88, source: "...", date: "2025-06"}
      hosts:                                 # per-host overrides, checked before `gpus`
        - {hostname: 'gpu-node-\\d+', match: 'H100', dollars_per_hour: 3.99, source: "...", date: "2026-09"}
    electricity: {dollars_per_kwh: null, source: "", date: ""}

Matching (:func:`price_for`): a ``hosts`` row applies when its ``hostname``
regular expression matches the whole hostname and its optional ``match`` is
found in the GPU model name; else the first ``gpus`` row whose ``match`` is
found in the model name; else ``default``. Both expressions are
case-insensitive (:func:`re.search` for ``match``, :func:`re.fullmatch` for
``hostname``); the model name is the one NVML and nvidia-smi report
(``"NVIDIA H100 80GB HBM3"``).

The ``gpus`` rows must be exclusive: a table where two rows match one of the
known model names (:data:`MODEL_NAMES`: GH200 by ``H200``, H100 NVL by
``H100``) is refused, naming both rows, so the order of the rows never decides
which price a known GPU gets; use ``\\b`` word boundaries and negative
lookaheads (``\\bH100\\b(?!.*\\bNVL\\b)``). ``hosts`` rows are overrides
and keep first-match order.

A MIG GPU instance costs its share of the GPU (:func:`mig_share`, from
:mod:`axonize.mig_profiles`: its compute slices over the GPU's). Other
top-level keys of the document belong to the rest of the bundle and are
ignored here. Errors are :class:`axonize.config.ConfigError` naming the file,
line and key, e.g.
``prices.yml:23: prices.gpus[2].dollars_per_hour: must be a number >= 0, got 'cheap'``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from . import schema, yaml_file
from .mig_profiles import GPU_SLICES, gpu_slices, mig_share, profile_slices  # noqa: F401  (re-exported)
from .yaml_file import Document

#: The packaged bundle configuration: its file name in the ``axonize`` package, and what errors call it.
PACKAGED_FILE = "bundle.yml"
PACKAGED = "axonize/bundle.yml"


@dataclass(frozen=True)
class PriceRow:
    """One price: ``dollars_per_hour`` ($ per GPU-hour, >= 0) with its ``source`` and ``date``.

    ``match`` is the case-insensitive regular expression searched in the GPU
    model name (``None`` for the default row); ``rule`` names the row in the
    file (``"default"``, ``"gpus[0]"``), as ``axonize_gpu_price_info{rule}`` shows it.
    """

    rule: str
    match: re.Pattern | None
    dollars_per_hour: float
    source: str
    date: str

    def applies_to(self, gpu_model: str) -> bool:
        return self.match is None or self.match.search(gpu_model) is not None


@dataclass(frozen=True)
class HostRow(PriceRow):
    """A per-host override (``prices.hosts[i]``): ``hostname`` must match the whole hostname.

    ``match`` (optional, ``None`` = every GPU of the host) narrows it to some GPU models.
    """

    hostname: re.Pattern

    def applies(self, hostname: str, gpu_model: str) -> bool:
        return self.hostname.fullmatch(hostname) is not None and self.applies_to(gpu_model)


@dataclass(frozen=True)
class Electricity:
    """Energy price: ``dollars_per_kwh`` ($ per kWh, ``None`` leaves energy cost out), its source and date."""

    dollars_per_kwh: float | None = None
    source: str = ""
    date: str = ""


@dataclass(frozen=True)
class PriceTable:
    """The validated ``prices:`` and ``electricity:`` sections; ``where`` is the file they came from."""

    where: str
    currency: str
    default: PriceRow
    gpus: tuple[PriceRow, ...]
    hosts: tuple[HostRow, ...]
    electricity: Electricity


#: GPU model names as NVML (``nvmlDeviceGetName``) and nvidia-smi (``Product Name``, ``<product_name>``,
#: ``nvidia-smi -L``) print them: the real captures under tests/fixtures/nvidia and the project's
#: shared fixtures (A100-PCIE-40GB from driver 460, before the "NVIDIA " prefix), plus, for models no
#: capture here shows, the names their drivers print in public nvidia-smi output. No two
#: ``prices.gpus`` rows may match one of them; add a name here when a new model appears.
MODEL_NAMES: tuple[str, ...] = (
    # Hopper
    "NVIDIA H100 80GB HBM3",  # H100 SXM5 (captures)
    "NVIDIA H100 NVL",
    "NVIDIA H100 PCIe",
    "NVIDIA H200",  # H200 SXM (captures)
    "NVIDIA H200 NVL",
    "NVIDIA GH200 480GB",
    "NVIDIA GH200 144G HBM3e",
    "NVIDIA H20",
    # Blackwell
    "NVIDIA B200",
    "NVIDIA GB200",
    # Ampere
    "NVIDIA A100-SXM4-40GB",  # captures
    "NVIDIA A100-SXM4-80GB",  # captures
    "NVIDIA A100 80GB PCIe",
    "NVIDIA A100-PCIE-40GB",
    "A100-PCIE-40GB",  # driver 460 (shared captures)
    "A100-SXM4-40GB",  # drivers before the "NVIDIA " prefix
    "NVIDIA A10G",  # captures
    "NVIDIA A10",
    "NVIDIA A30",
    # Ada Lovelace
    "NVIDIA L40",
    "NVIDIA L40S",  # captures
    "NVIDIA L4",
    "NVIDIA RTX 4000 SFF Ada Generation",  # captures
)


def overlaps(patterns: list[re.Pattern], names: tuple[str, ...] = MODEL_NAMES) -> list[tuple[int, int, str]]:
    """(i, j, name) for each known model name that rows ``i < j`` both match (empty: the rows are exclusive)."""
    out = []
    for name in names:
        hits = [i for i, pattern in enumerate(patterns) if pattern.search(name)]
        out += [(i, j, name) for k, i in enumerate(hits) for j in hits[k + 1 :]]
    return out


# --- the file's shape (pydantic models, see axonize.schema) ---------------------------------


def _regex(value: Any) -> re.Pattern:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a regular expression (a non-empty string), got {schema.shown(value)}")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


def _rows(value: Any) -> Any:
    return [] if value is None else value


def _currency(value: Any) -> str:
    if value != "USD":  # the series are in dollars
        raise ValueError(f"only USD is supported (the series are $ per hour), got {schema.shown(value)}")
    return value


Regex = Annotated[re.Pattern, BeforeValidator(_regex)]


class DefaultRowModel(schema.Section):
    """``prices.default``: the price of a GPU no row matches."""

    dollars_per_hour: schema.NonNegative
    source: schema.Text
    date: schema.Text


class GpuRowModel(schema.Section):
    """``prices.gpus[i]``."""

    match: Regex
    dollars_per_hour: schema.NonNegative
    source: schema.Text
    date: schema.Text


class HostRowModel(schema.Section):
    """``prices.hosts[i]``."""

    hostname: Regex
    match: Regex | None = None
    dollars_per_hour: schema.NonNegative
    source: schema.Text
    date: schema.Text


class PricesModel(schema.Section):
    """``prices:``; ``default`` is required, ``gpus`` and ``hosts`` may be empty; no two ``gpus`` rows match one of :data:`MODEL_NAMES`."""

    currency: Annotated[str, BeforeValidator(_currency)] = "USD"
    default: DefaultRowModel
    gpus: Annotated[list[GpuRowModel], BeforeValidator(_rows)] = Field(default_factory=list)
    hosts: Annotated[list[HostRowModel], BeforeValidator(_rows)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _exclusive(self) -> PricesModel:
        found = overlaps([row.match for row in self.gpus])
        if found:
            i, j, name = found[0]
            a, b = self.gpus[i].match.pattern, self.gpus[j].match.pattern
            more = f" (and {len(found) - 1} more overlaps)" if len(found) > 1 else ""
            raise schema.problem(
                f"gpus[{i}] (match '{a}') and gpus[{j}] (match '{b}') both match the GPU model {name!r}{more}: "
                "make the patterns exclusive (\\b word boundaries, a negative lookahead), the row order must not decide a price",
                key="gpus",
            )
        return self


class ElectricityModel(schema.Section):
    """``electricity:``; a price needs its source and date, no price needs neither."""

    empty_is_none_ok = True

    dollars_per_kwh: schema.OptionalNonNegative = None
    source: schema.OptionalText = ""
    date: schema.OptionalText = ""

    @model_validator(mode="after")
    def _sourced(self) -> ElectricityModel:
        if self.dollars_per_kwh is not None:
            for key in ("source", "date"):
                if not getattr(self, key).strip():
                    raise schema.problem(f"must be a non-empty string, got {getattr(self, key)!r}", key=key)
        return self


class PriceSections(schema.Section):
    """The two sections of a document this module reads."""

    prices: PricesModel
    electricity: ElectricityModel = Field(default_factory=ElectricityModel)


def table_of(prices: PricesModel, electricity: ElectricityModel, where: str) -> PriceTable:
    """The :class:`PriceTable` of validated sections."""
    default = prices.default
    return PriceTable(
        where=where,
        currency=prices.currency,
        default=PriceRow("default", None, default.dollars_per_hour, default.source, default.date),
        gpus=tuple(PriceRow(f"gpus[{i}]", r.match, r.dollars_per_hour, r.source, r.date) for i, r in enumerate(prices.gpus)),
        hosts=tuple(
            HostRow(f"hosts[{i}]", r.match, r.dollars_per_hour, r.source, r.date, hostname=r.hostname) for i, r in enumerate(prices.hosts)
        ),
        electricity=Electricity(electricity.dollars_per_kwh, electricity.source, electricity.date),
    )


def parse(doc: Document | Any, where: str | None = None) -> PriceTable:
    """Validate the ``prices:`` and ``electricity:`` sections of a document (other top-level keys are ignored).

    ``doc`` is a :class:`~axonize.yaml_file.Document` (errors then name its
    lines) or plain data, named ``where`` in errors. Raises :class:`ConfigError`
    naming the key, e.g. ``prices.gpus[2].dollars_per_hour: must be a number >= 0``.
    """
    if not isinstance(doc, Document):
        doc = Document(doc, where or "<data>")
    data = doc.data
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k in ("prices", "electricity")}
    sections = schema.validate(PriceSections, Document(data, doc.where, doc.lines))
    return table_of(sections.prices, sections.electricity, doc.where)


def read_document(path: str | None = None) -> Document:
    """The YAML document of a bundle (or price) configuration file; ``None`` reads the packaged axonize/bundle.yml.

    Raises :class:`ConfigError` for an unreadable file or invalid YAML (with its line).
    """
    if path is None:
        return yaml_file.read_packaged("axonize", PACKAGED_FILE, PACKAGED)
    return yaml_file.read(path)


def load(path: str | None = None) -> PriceTable:
    """The price table of a configuration file (``--cost.config``); ``None``: the packaged bundle's.

    Raises :class:`ConfigError` as :func:`read_document` does, or for a bad ``prices`` / ``electricity`` section.
    """
    if path is None:
        from . import bundle  # the packaged bundle is read and validated once

        return bundle.load().prices
    return parse(read_document(path))


# --- applying ------------------------------------------------------------------------------


def price_for(table: PriceTable, hostname: str, gpu_model: str) -> tuple[float, PriceRow | HostRow]:
    """($ per GPU-hour, the row that applied) for a GPU model on a host.

    The first ``hosts`` row whose ``hostname`` matches the whole hostname and
    whose ``match`` (if any) is found in ``gpu_model``; else the first ``gpus``
    row found in ``gpu_model`` (the only one, for a name of :data:`MODEL_NAMES`);
    else ``default``. An empty model name (a GPU
    never read) matches no ``match`` expression that needs characters.
    """
    for row in table.hosts:
        if row.applies(hostname, gpu_model):
            return row.dollars_per_hour, row
    for row in table.gpus:
        if row.applies_to(gpu_model):
            return row.dollars_per_hour, row
    return table.default.dollars_per_hour, table.default
