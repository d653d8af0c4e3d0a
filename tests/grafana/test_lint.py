"""The rules of Grafana's dashboard-linter (which cannot be installed here), checked in Python on the committed JSON.

One ``datasource`` variable used by every panel and target; job and host matchers on every selector whose series carry
them; ``$__rate_interval`` in every rate/irate/increase; ``_total`` counters only inside those; Grafana unit ids from
:data:`UNITS`; a title and a description on every panel; unique panel ids and dashboard uids; query variables refreshed
on time range change; grid positions inside 24 columns and not overlapping; links to dashboards that exist.
"""

from __future__ import annotations

import re

import pytest

from axonize import bundle, names
from axonize.grafana import queries
from tests.grafana import committed

#: Grafana unit ids the dashboards may use (Grafana's unit registry, packages/grafana-data valueFormats).
UNITS = {
    "none",
    "short",
    "percent",
    "percentunit",
    "bytes",
    "decbytes",
    "Bps",
    "binBps",
    "watt",
    "kwatt",
    "joule",
    "celsius",
    "hertz",
    "s",
    "ms",
    "currencyUSD",
    "dateTimeAsIso",
    "reqps",
    "ops",
}
DS = {"type": "prometheus", "uid": "${datasource}"}
SELECTOR = re.compile(r"((?:[a-z_]+:)?axonize_[a-z0-9_]+(?::[a-z0-9_]+)?)(\{[^}]*\})?")
RANGE_FN = re.compile(r"\b(rate|irate|increase)\((?P<arg>[^\[]*)\[(?P<window>[^\]]*)\]")


def exprs() -> list[tuple[str, str, str]]:
    out = [(uid, p["title"], t["expr"]) for uid, p, t in committed.targets()]
    return out + [(uid, v["name"], v["definition"]) for uid, v in committed.variable_queries()]


def test_there_are_dashboards_with_panels():
    assert set(committed.dashboards()) == {"axonize-fleet", "axonize-gpu", "axonize-inference", "axonize-cost", "axonize-topology"}
    assert all(d["panels"] for d in committed.dashboards().values())


def test_one_datasource_variable_used_by_every_panel_target_and_variable():
    cfg = bundle.load()
    for uid, dash in committed.dashboards().items():
        ds = [v for v in dash["templating"]["list"] if v["type"] == "datasource"]
        assert len(ds) == 1 and ds[0]["name"] == "datasource" and ds[0]["query"] == "prometheus", uid
        assert ds[0]["current"]["value"] == cfg.grafana.datasource.uid
        assert all(v["datasource"] == DS for v in dash["templating"]["list"] if v["type"] == "query"), uid
    for uid, panel in committed.panels():
        assert panel["datasource"] == DS, (uid, panel["title"])
        assert all(t["datasource"] == DS for t in panel.get("targets", [])), (uid, panel["title"])


def test_every_selector_carries_the_job_and_host_matchers_of_its_series():
    host = bundle.load().host_labels[-1]
    wrong = []
    for uid, title, expr in exprs():
        for name, braces in SELECTOR.findall(expr):
            need = queries.matched_labels(name, host)
            listed = re.search(r",\s*(\w+)\)$", expr) if expr.startswith("label_values(") else None
            if listed:  # a variable does not filter on the label it lists; the job variables are the roots
                need = () if listed.group(1) == "job" else tuple(label for label in need if label != listed.group(1))
            got = re.findall(r"(\w+)=~\"\$", braces or "")
            missing = [label for label in need if label not in got]
            if missing:
                wrong.append(f"{uid} {title}: {name} lacks {missing}")
    assert not wrong, "\n".join(wrong)


def test_rate_interval_in_every_range_function_and_counters_only_inside():
    wrong = []
    for uid, title, expr in exprs():
        for m in RANGE_FN.finditer(expr):
            if m.group("window") != "$__rate_interval":
                wrong.append(f"{uid} {title}: {m.group(0)}")
        outside = RANGE_FN.sub("", expr)
        for name, _ in SELECTOR.findall(outside):
            if name.endswith("_total") or names.get(names.family_of(name)).type == "counter":
                wrong.append(f"{uid} {title}: counter {name} outside rate/increase")
    assert not wrong, "\n".join(wrong)


def test_every_name_is_registered():
    unknown = [(uid, title, names.unknown_names(expr)) for uid, title, expr in exprs() if names.unknown_names(expr)]
    assert not unknown


@pytest.mark.parametrize("field", ["title", "description"])
def test_every_panel_has_a_title_and_a_description(field):
    assert all(panel.get(field, "").strip() for _, panel in committed.panels())


def test_every_panel_has_a_valid_unit():
    for uid, panel in committed.panels():
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit in UNITS, (uid, panel["title"], unit)


def test_panel_ids_and_dashboard_uids_are_unique():
    for uid, dash in committed.dashboards().items():
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids), uid
        assert dash["uid"] == uid
    titles = [d["title"] for d in committed.dashboards().values()]
    assert len(titles) == len(set(titles))


def test_query_variables_refresh_on_time_range_change():
    assert all(v["refresh"] == 2 for _, v in committed.variable_queries())


def test_current_schema_and_no_legacy_rows():
    for uid, dash in committed.dashboards().items():
        assert dash["schemaVersion"] >= 39 and "rows" not in dash, uid
        assert all(p["type"] != "row" or "panels" in p for p in dash["panels"])
        assert all("fieldOptions" not in p.get("options", {}) for p in dash["panels"])


def test_grid_positions_fit_and_do_not_overlap():
    for uid, dash in committed.dashboards().items():
        taken: set[tuple[int, int]] = set()
        for panel in dash["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, (uid, panel["title"])
            cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
            assert not cells & taken, (uid, panel["title"])
            taken |= cells


def test_links_point_to_existing_dashboards_and_keep_time_and_variables():
    uids = set(committed.dashboards())
    for uid, dash in committed.dashboards().items():
        targets = {link["url"].removeprefix("/d/") for link in dash["links"]}
        assert targets == uids - {uid}, uid
        assert all(link["keepTime"] and link["includeVars"] for link in dash["links"])


def test_fault_only_panels_are_the_fault_panels():
    faults = {(uid, p["title"]) for uid, p in committed.panels() if committed.kind(p) == "faults"}
    assert {
        ("axonize-fleet", "GPUs down or faulted"),
        ("axonize-gpu", "XID errors"),
        ("axonize-gpu", "PCIe links below maximum width"),
        ("axonize-topology", "PCIe links below maximum width"),
    } <= faults
