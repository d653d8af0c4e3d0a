"""Panels every dashboard builds from: each has a title, a description, a unit, ``${datasource}`` and a grid position.

``Grid`` places panels left to right in Grafana's 24 columns, starting a new line when one does not fit, so
positions never overlap. The builders take the PromQL targets (:func:`target`) and return grafanalib panels::

    grid = Grid()
    timeseries(grid, "Power", "Board power per GPU (axonize_gpu_power_watts).", "watt", [target(expr, "GPU {{gpu}}")])

Units are Grafana unit ids (``percentunit`` for a 0-1 ratio, ``bytes``, ``watt``, ``celsius``, ``hertz``,
``currencyUSD``, ``s``, ``Bps``, ``short``, ``none``, ``dateTimeAsIso``). Thresholds are ``[(value, color), ...]``
above a base color. Options grafanalib 0.7.1 lacks go through ``extraJson``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attr
from grafanalib import core as g

#: The datasource of every panel, target and variable: the dashboard's ``datasource`` variable.
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
Thresholds = Sequence[tuple[float, str]]


class Grid:
    """Left-to-right placement in 24 columns: ``place(w, h)`` -> GridPos of the next free slot on the line."""

    WIDTH = 24

    def __init__(self) -> None:
        self.x = self.y = self.line_h = 0

    def place(self, w: int, h: int) -> g.GridPos:
        if self.x + w > self.WIDTH:
            self.newline()
        pos = g.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.line_h = max(self.line_h, h)
        return pos

    def newline(self) -> None:
        self.x, self.y, self.line_h = 0, self.y + self.line_h, 0


def target(expr: str, legend: str = "", *, instant: bool = False, table: bool = False, heatmap: bool = False) -> g.Target:
    """A Prometheus query on ``${datasource}``; ``instant`` for the latest value only, ``table`` for a table's rows,
    ``heatmap`` for histogram buckets (one series per ``le``, Grafana de-accumulates them)."""
    return g.Target(
        expr=expr,
        legendFormat=legend or "__auto",
        instant=instant or table,
        format="table" if table else "heatmap" if heatmap else "time_series",
        datasource=DATASOURCE,
    )


def _steps(thresholds: Thresholds, base: str) -> list[dict]:
    return [{"color": base, "value": None}] + [{"color": color, "value": value} for value, color in thresholds]


def _with_refs(targets: Sequence[g.Target]) -> list[g.Target]:
    return [attr.evolve(t, refId=chr(ord("A") + i)) for i, t in enumerate(targets)]


def _base(grid: Grid, title: str, description: str, targets: Sequence[g.Target], w: int, h: int) -> dict:
    """What every panel has: title, description, ``${datasource}``, lettered targets and the next grid slot."""
    return {
        "title": title,
        "description": description,
        "dataSource": DATASOURCE,
        "targets": _with_refs(targets),
        "gridPos": grid.place(w, h),
    }


def _field_defaults(unit: str, thresholds: Thresholds, base: str, lo: float | None, hi: float | None, mappings: list) -> dict:
    out: dict = {"unit": unit, "thresholds": {"mode": "absolute", "steps": _steps(thresholds, base)}}
    if lo is not None:
        out["min"] = lo
    if hi is not None:
        out["max"] = hi
    if mappings:
        out["mappings"] = mappings
    return out


def timeseries(
    grid: Grid,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[g.Target],
    *,
    w: int = 12,
    h: int = 8,
    thresholds: Thresholds = (),
    lo: float | None = None,
    hi: float | None = None,
    stack: bool = False,
) -> g.TimeSeries:
    """A time series panel; thresholds are drawn as lines when given."""
    defaults = _field_defaults(unit, thresholds, "green", lo, hi, [])
    if stack:
        defaults["custom"] = {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 20}
    return g.TimeSeries(
        **_base(grid, title, description, targets, w, h),
        unit=unit,
        thresholdsStyleMode="line" if thresholds else "off",
        legendDisplayMode="table",
        legendPlacement="right" if w >= 12 else "bottom",
        legendCalcs=["lastNotNull", "max"],
        tooltipMode="multi",
        extraJson={"fieldConfig": {"defaults": defaults}},
    )


def stat(
    grid: Grid,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[g.Target],
    *,
    w: int = 4,
    h: int = 4,
    thresholds: Thresholds = (),
    base: str = "green",
    mappings: list | None = None,
    decimals: int | None = None,
) -> g.Stat:
    """A stat panel of the last value; ``mappings`` turn numbers into text (a grade's letter)."""
    defaults = _field_defaults(unit, thresholds, base, None, None, mappings or [])
    if decimals is not None:
        defaults["decimals"] = decimals
    return g.Stat(
        **_base(grid, title, description, targets, w, h),
        format=unit,
        reduceCalc="lastNotNull",
        graphMode="none",
        colorMode="background" if thresholds else "value",
        extraJson={"fieldConfig": {"defaults": defaults}, "options": {"text": {}}},
    )


def table(
    grid: Grid,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[g.Target],
    *,
    w: int = 12,
    h: int = 8,
    hidden: Sequence[str] = ("Time", "__name__"),
    renames: dict[str, str] | None = None,
    thresholds: Thresholds = (),
    mappings: list | None = None,
) -> g.Table:
    """A table of instant queries (``target(..., table=True)``) joined on their labels; ``hidden`` columns left out."""
    transformations = [{"id": "merge", "options": {}}] if len(targets) > 1 else []
    transformations.append(
        {"id": "organize", "options": {"excludeByName": dict.fromkeys(hidden, True), "renameByName": renames or {}, "indexByName": {}}}
    )
    defaults = _field_defaults(unit, thresholds, "green", None, None, mappings or [])
    return g.Table(
        **_base(grid, title, description, targets, w, h),
        unit=unit,
        transformations=transformations,
        extraJson={"fieldConfig": {"defaults": defaults}, "options": {"showHeader": True, "cellHeight": "sm"}},
    )


def bar_gauge(
    grid: Grid,
    title: str,
    description: str,
    unit: str,
    targets: Sequence[g.Target],
    *,
    w: int = 12,
    h: int = 8,
    thresholds: Thresholds = (),
    lo: float | None = 0,
    hi: float | None = None,
) -> g.BarGauge:
    """Horizontal bars of each series' last value (largest first when the query sorts)."""
    defaults = _field_defaults(unit, thresholds, "green", lo, hi, [])
    return g.BarGauge(
        **_base(grid, title, description, targets, w, h),
        format=unit,
        calc="lastNotNull",
        orientation="horizontal",
        displayMode="gradient",
        extraJson={"fieldConfig": {"defaults": defaults}, "options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}}},
    )


def state_timeline(
    grid: Grid,
    title: str,
    description: str,
    targets: Sequence[g.Target],
    mappings: list,
    *,
    w: int = 24,
    h: int = 10,
    thresholds: Thresholds = (),
) -> g.StateTimeline:
    """A state timeline: one row per series, colored by ``mappings`` (value -> text and color)."""
    defaults = _field_defaults("none", thresholds, "transparent", None, None, mappings)
    return g.StateTimeline(
        **_base(grid, title, description, targets, w, h),
        mappings=mappings,
        showValue="never",
        mergeValues=True,
        extraJson={"fieldConfig": {"defaults": defaults}},
    )


def matrix(
    grid: Grid,
    title: str,
    description: str,
    unit: str,
    query: g.Target,
    *,
    rows: str,
    columns: str,
    value: str,
    w: int = 12,
    h: int = 9,
    mappings: list | None = None,
) -> g.Table:
    """A table with a row per ``rows`` label value and a column per ``columns`` one, cells the ``value`` field (a label
    or ``Value``): Grafana's grouping-to-matrix transformation of one instant query (``target(..., table=True)``)."""
    defaults = _field_defaults(unit, (), "green", None, None, mappings or [])
    return g.Table(
        **_base(grid, title, description, [query], w, h),
        unit=unit,
        transformations=[
            {"id": "groupingToMatrix", "options": {"rowField": rows, "columnField": columns, "valueField": value, "emptyValue": "empty"}}
        ],
        extraJson={
            "fieldConfig": {"defaults": defaults | {"custom": {"align": "center", "cellOptions": {"type": "color-text"}}}},
            "options": {"showHeader": True, "cellHeight": "sm"},
        },
    )


@attr.s
class Heatmap(g.Panel):
    """Grafana's heatmap panel as Grafana 9.1+ stores it (grafanalib 0.7.1's Heatmap writes the pre-9.1 structure):
    buckets as given (``calculate: false``), the y axis in ``y_unit``, cells the rate of observations."""

    y_unit = attr.ib(default="s")

    def to_json_data(self) -> dict:
        return self.panel_json(
            {
                "type": "heatmap",
                "options": {
                    "calculate": False,
                    "yAxis": {"axisPlacement": "left", "unit": self.y_unit, "reverse": False},
                    "rowsFrame": {"layout": "auto"},
                    "color": {
                        "mode": "scheme",
                        "scheme": "Oranges",
                        "fill": "dark-orange",
                        "scale": "exponential",
                        "exponent": 0.5,
                        "steps": 64,
                    },
                    "cellGap": 1,
                    "cellValues": {"unit": "reqps"},
                    "filterValues": {"le": 1e-9},
                    "showValue": "never",
                    "tooltip": {"mode": "single", "yHistogram": True, "showColorScale": False},
                    "legend": {"show": True},
                    "exemplars": {"color": "rgba(255,0,255,0.7)"},
                },
            }
        )


def heatmap(grid: Grid, title: str, description: str, targets: Sequence[g.Target], *, y_unit: str = "s", w: int = 8, h: int = 8) -> Heatmap:
    """A heatmap of histogram buckets (``target(..., heatmap=True)``, legend ``{{le}}``): time across, bucket bounds up."""
    return Heatmap(
        **_base(grid, title, description, targets, w, h),
        y_unit=y_unit,
        extraJson={"fieldConfig": {"defaults": {"unit": "reqps", "custom": {"scaleDistribution": {"type": "linear"}}}}},
    )


def value_map(mapping: dict[float, tuple[str, str]]) -> list[dict]:
    """Grafana value mappings: ``{4: ("A", "green")}`` -> the ``mappings`` list of a field."""
    options = {
        str(int(v) if float(v).is_integer() else v): {"text": text, "color": color, "index": i}
        for i, (v, (text, color)) in enumerate(mapping.items())
    }
    return [{"type": "value", "options": options}]


@attr.s
class AlertList(g.Panel):
    """Grafana's unified alert list panel (grafanalib 0.7.1 only has the pre-8 one): firing and pending alerts."""

    def to_json_data(self) -> dict:
        return self.panel_json(
            {
                "type": "alertlist",
                "options": {
                    "viewMode": "list",
                    "groupMode": "default",
                    "groupBy": [],
                    "maxItems": 20,
                    "sortOrder": 3,
                    "dashboardAlerts": False,
                    "alertName": "",
                    "alertInstanceLabelFilter": "",
                    "stateFilter": {"firing": True, "pending": True, "noData": False, "normal": False, "error": True},
                },
            }
        )


def alert_list(grid: Grid, title: str, description: str, *, w: int = 12, h: int = 8) -> AlertList:
    """The firing and pending alerts Grafana knows of: its own and those of the Prometheus datasources' rulers."""
    return AlertList(
        **_base(grid, title, description, [], w, h),
        extraJson={"fieldConfig": {"defaults": {"unit": "none"}}},
    )


#: Opens the description of a panel that has data only while a fault lasts (XID, lost GPU, degraded link);
#: tests/grafana checks those panels against the fault captures.
FAULT_ONLY = "Only has data under faults:"
#: Opens the description of a panel whose source only the NVML backend reads on some GPUs (no replay has it).
NVML_ONLY = "Only has data from the NVML backend:"
