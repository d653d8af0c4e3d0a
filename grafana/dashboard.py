"""A dashboard's JSON: grafanalib's Dashboard, numbered panels, links to the others, current schemaVersion.

:func:`build` returns the dict Grafana imports (``json.dumps`` of it is the committed file). grafanalib 0.7.1 writes
schemaVersion 12 with legacy keys (``rows``, ``style``, ``sharedCrosshair``, a pre-7 ``fieldOptions`` on bar
gauges, Graphite target keys); :func:`clean` leaves them out and sets :data:`SCHEMA_VERSION`, so Grafana loads the
file without migrating it. Links keep the time range and the variables (``keepTime``, ``includeVars``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

#: Grafana 12's dashboard schema version.
SCHEMA_VERSION = 41
#: The tag every Axonize dashboard carries.
TAG = "axonize"
_LEGACY_DASHBOARD = ("rows", "style", "sharedCrosshair", "hideControls", "gnetId", "__inputs")
_LEGACY_PANEL = (
    "span",
    "height",
    "minSpan",
    "error",
    "cacheTimeout",
    "hideTimeOverride",
    "repeat",
    "repeatDirection",
    "maxPerRow",
    "timeFrom",
    "timeShift",
    "interval",
    "thresholds",
    "editable",
    "mappings",
    "links",
)
_TARGET_KEYS = ("refId", "expr", "legendFormat", "instant", "range", "format", "datasource", "hide")
_VARIABLE_KEYS = (
    "name",
    "label",
    "type",
    "query",
    "definition",
    "datasource",
    "refresh",
    "multi",
    "includeAll",
    "current",
    "options",
    "sort",
    "hide",
    "regex",
)


def links(here: str, dashboards: Mapping[str, tuple[str, str]]) -> list[g.DashboardLink]:
    """A link to every other dashboard (``{key: (uid, title)}``), keeping the time range and the variables."""
    return [
        g.DashboardLink(type="link", uri=f"/d/{uid}", title=title, keepTime=True, includeVars=True, icon="dashboard")
        for key, (uid, title) in dashboards.items()
        if key != here
    ]


def _clean_panel(panel: dict) -> dict:
    for key in _LEGACY_PANEL:
        if key in panel and (panel[key] in (None, [], "") or key in ("span", "height", "minSpan", "error", "thresholds", "mappings")):
            del panel[key]
    panel.get("options", {}).pop("fieldOptions", None)
    panel["targets"] = [{k: t[k] for k in _TARGET_KEYS if k in t} | {"range": not t.get("instant")} for t in panel.get("targets", [])]
    if not panel["targets"]:
        del panel["targets"]
    return panel


def _clean_variable(var: dict) -> dict:
    if var["type"] == "query":
        var["definition"] = var["query"]["query"]
        var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]} if var["includeAll"] else {}
    elif var["type"] == "custom":  # a fixed list (the SLO threshold): its selected option, no datasource
        var["current"] = {"selected": True, "text": var["current"]["text"], "value": var["current"]["value"]}
        var.pop("datasource", None)
    else:  # the datasource variable: the provisioned uid selected
        var["current"] = {"selected": True, "text": var["current"]["value"], "value": var["current"]["value"]}
        var["regex"] = var.get("regex") or ""
    return {k: var[k] for k in _VARIABLE_KEYS if k in var and var[k] is not None}


def clean(data: dict) -> dict:
    """The dashboard dict without grafanalib's legacy keys, at :data:`SCHEMA_VERSION`."""
    for key in _LEGACY_DASHBOARD:
        data.pop(key, None)
    data["schemaVersion"] = SCHEMA_VERSION
    data["panels"] = [_clean_panel(p) for p in data["panels"]]
    data["templating"]["list"] = [_clean_variable(v) for v in data["templating"]["list"]]
    return data


def build(
    uid: str,
    title: str,
    description: str,
    panels: Sequence,
    variables: Sequence[g.Template],
    dash_links: Sequence[g.DashboardLink],
    *,
    refresh: str,
    time_range: str,
) -> dict:
    """The dashboard as Grafana's JSON model (a dict), panels numbered 1.. in order."""
    dash = g.Dashboard(
        title=title,
        uid=uid,
        description=description,
        tags=[TAG],
        panels=list(panels),
        templating=g.Templating(list=list(variables)),
        links=list(dash_links),
        refresh=refresh,
        time=g.Time(f"now-{time_range}", "now"),
        timezone="browser",
        graphTooltip=g.GRAPH_TOOLTIP_MODE_SHARED_CROSSHAIR,
        editable=True,
    ).auto_panel_ids()
    return clean(json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder)))


def to_text(data: dict) -> str:
    """The committed file's text: sorted keys, two-space indent, a final newline."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"
