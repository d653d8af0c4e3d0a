"""The names registry: every metric family and recorded rule name of the bundle, as Python data.

One place says what each name is: the exporter's families, the sidecar's
normalized inference families and its own self-metrics, the gateway's
per-customer metering, and the recording
rules' recorded names. The exporter and sidecar expose from these rows, the
rule templates (and later the alerts and dashboards) take their names from
them, and docs/metrics.md is generated from them, so a renamed metric fails the
build instead of passing every test (tests/axonize/test_names.py scans rules/
for names that are not here).

A :class:`Name` is ``(name, type, unit, labels, help, component)``:

* ``type``: ``gauge`` | ``counter`` | ``histogram`` | ``info`` (an info metric
  is exposed as a gauge of value 1, Prometheus style);
* ``unit``: the base unit (``seconds``, ``bytes``, ``ratio`` 0-1, ``watts``,
  ``joules``, ``celsius``, ``hertz``, ``dollars_per_hour``, ``tokens``,
  ``requests``) or ``""`` for counts, states and info metrics;
* ``labels``: the labels the component writes, in exposition order; a
  recorded name lists the labels it keeps (before Prometheus adds target labels);
* ``component``: ``exporter`` | ``sidecar`` | ``gateway`` | ``rules``.

Lookups: :func:`get` (KeyError naming the unknown name), :data:`REGISTRY`
(name -> :class:`Name`), :func:`of_component`, :func:`recorded_name` (a ``{window}``
filled in), :func:`unknown_names` (the unregistered names in a text: rules, alerts, dashboards).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

TYPES = ("gauge", "counter", "histogram", "info")
COMPONENTS = ("exporter", "sidecar", "gateway", "rules")


@dataclass(frozen=True)
class Name:
    """One metric family or recorded name; see the module docstring for the fields."""

    name: str
    type: str
    unit: str
    labels: tuple[str, ...]
    help: str
    component: str

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: type {self.type!r} is not one of {', '.join(TYPES)}")
        if self.component not in COMPONENTS:
            raise ValueError(f"{self.name}: component {self.component!r} is not one of {', '.join(COMPONENTS)}")
        if self.type == "counter" and self.component != "rules" and not self.name.endswith("_total"):
            raise ValueError(f"{self.name}: a counter's name ends in _total")


def _modules() -> Iterator[Iterable[Name]]:
    """Every topic module's ``NAMES`` tuple, in docs order."""
    from . import exporter, gateway, recorded, sidecar, traces

    yield from exporter.TOPICS
    yield sidecar.NAMES
    yield traces.NAMES
    yield gateway.NAMES
    yield recorded.NAMES


def _build() -> dict[str, Name]:
    out: dict[str, Name] = {}
    for names in _modules():
        for row in names:
            if row.name in out:
                raise ValueError(f"{row.name} is registered twice")
            out[row.name] = row
    return out


REGISTRY: dict[str, Name] = _build()


#: What a ``{window}`` placeholder in a recorded name stands for: a Prometheus range such as ``5m`` or ``1h30m``.
WINDOW = r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+"
_TEMPLATED = {re.compile(re.escape(n).replace(re.escape("{window}"), WINDOW)): row for n, row in REGISTRY.items() if "{window}" in n}


def get(name: str) -> Name:
    """The registry row of ``name``; KeyError naming it when the bundle has no such metric or recorded name.

    A recorded name with a window (``model:...:rate5m``) finds its row (``model:...:rate{window}``).
    """
    row = REGISTRY.get(name)
    if row is not None:
        return row
    for pattern, row in _TEMPLATED.items():
        if pattern.fullmatch(name):
            return row
    raise KeyError(f"{name!r} is not in the names registry (axonize/names)")


def recorded_name(name: str, window: str = "") -> str:
    """A registered recorded name with its ``{window}`` filled in: ``recorded_name("model:x:rate{window}", "5m")``.

    KeyError when ``name`` is not registered; ValueError when the window is not a Prometheus range.
    """
    get(name)
    if "{window}" not in name:
        return name
    if not re.fullmatch(WINDOW, window):
        raise ValueError(f"{name}: window {window!r} is not a Prometheus range such as '5m'")
    return name.replace("{window}", window)


def of_component(component: str) -> tuple[Name, ...]:
    """The rows of one component (``exporter``, ``sidecar`` or ``rules``), in registry order."""
    return tuple(n for n in REGISTRY.values() if n.component == component)


#: A metric or recorded name of this bundle inside PromQL or YAML text: ``axonize_...`` or ``level:axonize_...:ops``.
NAME_PATTERN = re.compile(r"(?<![A-Za-z0-9_:])(?:[a-z_]+:)?axonize_[a-z0-9_]+(?::[a-z0-9_]+)?(?![A-Za-z0-9_:*])")

#: Suffixes Prometheus adds to a histogram's family name.
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def _registered(name: str) -> bool:
    try:
        get(name)
    except KeyError:
        return False
    return True


def family_of(sample_name: str) -> str:
    """The registered family a sample name belongs to (``..._seconds_bucket`` -> ``..._seconds``), else the name itself."""
    if _registered(sample_name):
        return sample_name
    for suffix in HISTOGRAM_SUFFIXES:
        base = sample_name[: -len(suffix)]
        if sample_name.endswith(suffix) and base in REGISTRY and REGISTRY[base].type == "histogram":
            return base
    return sample_name


def unknown_names(text: str) -> list[str]:
    """The ``axonize_*`` and recorded names used in ``text`` that are not registered, sorted, each once."""
    return sorted({m for m in NAME_PATTERN.findall(text) if not _registered(family_of(m))})
