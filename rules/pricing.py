"""The GPU price table of rules/config.yml: which $ per GPU-hour applies to a GPU, and a MIG instance's share.

The ``prices:`` section (and ``electricity:``) of the one rules configuration,
read by the recording rules and by the exporter (``--cost.config``)::

    prices:
      currency: USD
      default: {dollars_per_hour: 0.95, source: "...", date: "2026-11"}
      gpus:                                  # first row whose `match` is found in the model name wins
        - {match: 'H100', dollars_per_hour: 6.88, source: "...", date: "2025-06"}
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

A MIG GPU instance costs its share of the GPU (:func:`mig_share`): its compute
slices over the GPU's. Other top-level keys of the document belong to the
rules and are ignored here. Errors are :class:`axonize.config.ConfigError`
naming the file and the key, e.g.
``rules/config.yml: prices.gpus[2].dollars_per_hour: must be a number >= 0, got 'cheap'``.
"""
from __future__ import annotations

import datetime
import importlib.resources
import math
import re
from dataclasses import dataclass
from typing import Any, Optional, Union

import yaml

from axonize.config import ConfigError

#: What ``where`` says for the packaged configuration (the path inside the repository).
PACKAGED = "rules/config.yml"


@dataclass(frozen=True)
class PriceRow:
    """One price: ``dollars_per_hour`` ($ per GPU-hour, >= 0) with its ``source`` and ``date``.

    ``match`` is the case-insensitive regular expression searched in the GPU
    model name (``None`` for the default row); ``rule`` names the row in the
    file (``"default"``, ``"gpus[0]"``), as ``axonize_gpu_price_info{rule}`` shows it.
    """

    rule: str
    match: Optional[re.Pattern]
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

    dollars_per_kwh: Optional[float] = None
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


# --- reading -------------------------------------------------------------------------------

_ROW_KEYS = ("match", "dollars_per_hour", "source", "date")
_HOST_KEYS = ("hostname",) + _ROW_KEYS
_DEFAULT_KEYS = ("dollars_per_hour", "source", "date")


class _Reader:
    """Validates one document; every error names ``where`` and the key path."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key}: {message}")

    def mapping(self, value: Any, key: str, known: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {_shown(value)}")
        for name in value:
            if name not in known:
                raise self.fail(f"{key}.{name}", f"unknown key; known keys: {', '.join(known)}")
        return value

    def rows(self, value: Any, key: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, got {_shown(value)}")
        return value

    def number(self, value: Any, key: str, optional: bool = False) -> Optional[float]:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise self.fail(key, f"must be a number >= 0{' or null' if optional else ''}, got {_shown(value)}")
        return float(value)

    def text(self, value: Any, key: str, required: bool = True) -> str:
        if isinstance(value, datetime.date):  # YAML reads an unquoted 2026-08-01 as a date
            value = value.isoformat()
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.fail(key, f"must be a {'non-empty ' if required else ''}string, got {_shown(value)}")
        return value

    def regex(self, value: Any, key: str) -> re.Pattern:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"must be a regular expression (a non-empty string), got {_shown(value)}")
        try:
            return re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise self.fail(key, f"not a valid regular expression: {exc}") from None

    def price(self, row: dict, key: str, rule: str, match: Optional[re.Pattern]) -> dict:
        for name in _DEFAULT_KEYS:
            if name not in row:
                raise self.fail(f"{key}.{name}", "missing")
        return dict(
            rule=rule,
            match=match,
            dollars_per_hour=self.number(row["dollars_per_hour"], f"{key}.dollars_per_hour"),
            source=self.text(row["source"], f"{key}.source"),
            date=self.text(row["date"], f"{key}.date"),
        )


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def parse(doc: Any, where: str) -> PriceTable:
    """Validate the ``prices:`` and ``electricity:`` sections of a loaded YAML document.

    ``doc`` is the whole document (other top-level keys are ignored); ``where``
    names the file in error messages. Raises :class:`ConfigError` naming the
    key, e.g. ``prices.gpus[2].dollars_per_hour: must be a number >= 0``.
    ``prices`` with ``default`` is required; ``gpus`` and ``hosts`` may be
    empty; ``electricity`` may be left out (no energy price).
    """
    r = _Reader(where)
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: top level: must be a mapping, got {_shown(doc)}")
    if "prices" not in doc:
        raise r.fail("prices", "missing")
    prices = r.mapping(doc["prices"], "prices", ("currency", "default", "gpus", "hosts"))
    currency = prices.get("currency", "USD")
    if currency != "USD":  # the series are in dollars
        raise r.fail("prices.currency", f"only USD is supported (the series are $ per hour), got {_shown(currency)}")
    if "default" not in prices:
        raise r.fail("prices.default", "missing")
    default = PriceRow(**r.price(r.mapping(prices["default"], "prices.default", _DEFAULT_KEYS), "prices.default", "default", None))

    gpus = []
    for i, row in enumerate(r.rows(prices.get("gpus"), "prices.gpus")):
        key = f"prices.gpus[{i}]"
        row = r.mapping(row, key, _ROW_KEYS)
        if "match" not in row:
            raise r.fail(f"{key}.match", "missing")
        gpus.append(PriceRow(**r.price(row, key, f"gpus[{i}]", r.regex(row["match"], f"{key}.match"))))

    hosts = []
    for i, row in enumerate(r.rows(prices.get("hosts"), "prices.hosts")):
        key = f"prices.hosts[{i}]"
        row = r.mapping(row, key, _HOST_KEYS)
        if "hostname" not in row:
            raise r.fail(f"{key}.hostname", "missing")
        hostname = r.regex(row["hostname"], f"{key}.hostname")
        match = r.regex(row["match"], f"{key}.match") if row.get("match") is not None else None
        hosts.append(HostRow(**r.price(row, key, f"hosts[{i}]", match), hostname=hostname))

    electricity = Electricity()
    if doc.get("electricity") is not None:
        e = r.mapping(doc["electricity"], "electricity", ("dollars_per_kwh", "source", "date"))
        kwh = r.number(e.get("dollars_per_kwh"), "electricity.dollars_per_kwh", optional=True)
        needed = kwh is not None  # a price needs its source and date; none needs neither
        electricity = Electricity(
            kwh, r.text(e.get("source"), "electricity.source", required=needed), r.text(e.get("date"), "electricity.date", required=needed)
        )
    return PriceTable(where, currency, default, tuple(gpus), tuple(hosts), electricity)


def read_document(path: Optional[str] = None) -> tuple[Any, str]:
    """The parsed YAML of a rules configuration file and the name errors use for it; ``None`` reads the
    packaged ``rules/config.yml``. Raises :class:`ConfigError` for an unreadable file or invalid YAML (with its line).
    """
    if path is None:
        where = PACKAGED
        try:
            text = importlib.resources.files("axonize.rules").joinpath("config.yml").read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read the packaged file: {exc.strerror or exc}") from None
    else:
        where = str(path)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return yaml.safe_load(text), where
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark else where
        raise ConfigError(f"{at}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def load(path: Optional[str] = None) -> PriceTable:
    """Read (:func:`read_document`) and :func:`parse` a rules configuration file; ``None`` reads the packaged
    ``rules/config.yml``. Raises :class:`ConfigError` as :func:`read_document` does, or for a bad ``prices`` /
    ``electricity`` section.
    """
    return parse(*read_document(path))


# --- applying ------------------------------------------------------------------------------


def price_for(table: PriceTable, hostname: str, gpu_model: str) -> tuple[float, Union[PriceRow, HostRow]]:
    """($ per GPU-hour, the row that applied) for a GPU model on a host.

    The first ``hosts`` row whose ``hostname`` matches the whole hostname and
    whose ``match`` (if any) is found in ``gpu_model``; else the first ``gpus``
    row found in ``gpu_model``; else ``default``. An empty model name (a GPU
    never read) matches no ``match`` expression that needs characters.
    """
    for row in table.hosts:
        if row.applies(hostname, gpu_model):
            return row.dollars_per_hour, row
    for row in table.gpus:
        if row.applies_to(gpu_model):
            return row.dollars_per_hour, row
    return table.default.dollars_per_hour, table.default


#: Compute slices of a whole GPU in MIG mode, by model name (case-insensitive search): the "Max Number of
#: Instances" of the NVIDIA MIG User Guide's "Supported GPUs" table, which is the denominator of the
#: "Fraction of SMs" column of its "Supported MIG Profiles" tables (A30: 1g.6gb = 1/4; A100: 1g.10gb = 1/7).
GPU_SLICES: tuple[tuple[re.Pattern, int], ...] = (
    (re.compile(r"\bA30\b", re.IGNORECASE), 4),
    (re.compile(r"\b(?:A100|H100|H20|H200|GH200|B200|GB200)\b", re.IGNORECASE), 7),
)

#: A MIG device name's profile: ``[<C>c.]<G>g.<memory>gb[+me|...]`` (MIG User Guide, "MIG Device Names");
#: ``<G>`` is the GPU instance's compute slices, ``<C>`` the compute instance's within it.
_PROFILE = re.compile(r"^(?:MIG\s+)?(?:(?P<ci>\d+)c\.)?(?P<gi>\d+)g\.", re.IGNORECASE)


def gpu_slices(gpu_model: str) -> Optional[int]:
    """Compute slices of the GPU (7 on A100, H100, H20, H200, GH200, B200, GB200; 4 on A30), or None if unknown."""
    for pattern, slices in GPU_SLICES:
        if pattern.search(gpu_model or ""):
            return slices
    return None


def profile_slices(profile: Optional[str]) -> Optional[int]:
    """The GPU instance's compute slices from a MIG profile: ``"3g.40gb"`` -> 3, ``"1c.3g.71gb"`` -> 3 (the GI's, not the CI's)."""
    m = _PROFILE.match((profile or "").strip())
    return int(m.group("gi")) if m and int(m.group("gi")) > 0 else None


def mig_share(
    profile: Optional[str],
    gpu_model: str,
    multiprocessors: Optional[int] = None,
    gpu_multiprocessors: Optional[int] = None,
) -> Optional[float]:
    """The share (ratio 0-1] of the whole GPU's price that a MIG GPU instance costs, or None when it cannot be told.

    From the profile: the GPU instance's compute slices over the GPU's
    (:func:`profile_slices` / :func:`gpu_slices`), as the "Fraction of SMs"
    column of the NVIDIA MIG User Guide's "Supported MIG Profiles" tables gives
    it: ``"1g.10gb"`` on an H100 -> 1/7, ``"3g.40gb"`` -> 3/7, ``"7g.80gb"`` -> 1,
    ``"1g.6gb"`` on an A30 -> 1/4. A compute-instance profile (``"1c.3g.71gb"``)
    counts its GPU instance's slices (3/7): compute instances share their GI.

    When the profile or the GPU's slice count is unknown: the GI's streaming
    multiprocessors over the GPU's (``multiprocessors / gpu_multiprocessors``),
    when both are given; else None (the caller exports no MIG price).
    """
    slices, total = profile_slices(profile), gpu_slices(gpu_model)
    if slices is not None and total is not None and slices <= total:
        return slices / total
    if multiprocessors and gpu_multiprocessors and 0 < multiprocessors <= gpu_multiprocessors:
        return multiprocessors / gpu_multiprocessors
    return None
