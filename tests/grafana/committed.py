"""The committed dashboards (grafana/dashboards/*.json) as the tests read them: panels, targets, variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from axonize.grafana.panels import FAULT_ONLY, NVML_ONLY
from tests.conftest import ROOT

DASHBOARDS = ROOT / "grafana" / "dashboards"


def dashboards() -> dict[str, dict]:
    """``{uid: dashboard}`` of every committed file."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels() -> Iterator[tuple[str, dict]]:
    """``(uid, panel)`` of every panel of every dashboard."""
    for uid, dash in dashboards().items():
        for panel in dash["panels"]:
            yield uid, panel


def targets() -> Iterator[tuple[str, dict, dict]]:
    """``(uid, panel, target)`` of every target."""
    for uid, panel in panels():
        for t in panel.get("targets", []):
            yield uid, panel, t


def variable_queries() -> Iterator[tuple[str, dict]]:
    """``(uid, variable)`` of every query variable."""
    for uid, dash in dashboards().items():
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                yield uid, var


def custom_values(uid: str) -> dict[str, list[str]]:
    """``{name: [the selected value]}`` of the dashboard's custom variables (the SLO thresholds), as Grafana's
    Prometheus datasource puts a single-valued variable into a query: backslashes doubled (the values have none)."""
    out = {}
    for var in dashboards()[uid]["templating"]["list"]:
        if var["type"] == "custom":
            out[var["name"]] = [var["current"]["value"].replace("\\", "\\\\")]
    return out


def kind(panel: dict) -> str:
    """``faults`` (data only under faults), ``nvml`` (a source no replay has) or ``always``."""
    text = panel.get("description", "")
    return "faults" if text.startswith(FAULT_ONLY) else "nvml" if text.startswith(NVML_ONLY) else "always"


def substitute(expr: str, values: dict[str, list[str]], rate_interval: str = "30s") -> str:
    """The PromQL Grafana sends: ``$var`` / ``${var}`` -> its values as a regex alternation, ``$__rate_interval``."""
    expr = expr.replace("$__rate_interval", rate_interval)

    def one(m: re.Match) -> str:
        vals = values[m.group(1) or m.group(2)]
        return vals[0] if len(vals) == 1 else "(" + "|".join(re.escape(v).replace("\\", "\\\\") for v in vals) + ")"

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)
