"""alerts/grafana-alerting.yml: the Prometheus alerts as Grafana-managed rules, in Grafana's file-provisioning shape.

Grafana cannot run here, so the shape is checked against the provisioning format by hand (required keys and
types) and every PromQL query in it runs against a real Prometheus with the recording rules loaded.
"""

from __future__ import annotations

import re

import pytest
import yaml

from axonize.alerts import grafana, render
from axonize.processes import PrometheusServer
from tests.conftest import ROOT, require_binary, requires

DOC = ROOT / "alerts" / "grafana-alerting.yml"
UID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def committed_alerts() -> list[dict]:
    return render.alerts_of({p.name: p.read_text() for p in sorted((ROOT / "alerts").glob("*.alerts.yml"))})


def doc() -> dict:
    return yaml.safe_load(DOC.read_text())


def rules() -> list[dict]:
    return [rule for group in doc()["groups"] for rule in group["rules"]]


def test_one_grafana_rule_per_alert_rule_with_the_same_title_for_labels_and_annotations():
    alerts, converted = committed_alerts(), rules()
    assert len(converted) == len(alerts)
    for alert, rule in zip(alerts, converted, strict=True):
        assert rule["title"] == alert["alert"]
        assert rule["for"] == alert["for"]
        assert rule["labels"] == alert["labels"]
        assert set(rule["annotations"]) == set(alert["annotations"])
        assert rule["annotations"]["summary"] == alert["annotations"]["summary"]
        assert rule["annotations"]["runbook_url"] == alert["annotations"]["runbook_url"]
        assert rule["annotations"]["description"] == grafana.grafana_template(alert["annotations"]["description"])
        assert rule["data"][0]["model"]["expr"] == alert["expr"].strip()


def test_groups_mirror_the_prometheus_groups():
    by_group: dict[str, list[str]] = {}
    for alert in committed_alerts():
        by_group.setdefault(alert["group"], []).append(alert["alert"])
    assert {g["name"]: [r["title"] for r in g["rules"]] for g in doc()["groups"]} == by_group


def test_uids_are_unique_stable_and_fit_grafana():
    uids = [rule["uid"] for rule in rules()]
    assert len(uids) == len(set(uids))
    assert all(UID.match(u) for u in uids), uids
    # stable: the alert's name and its index among the rules of that name, not a position in the file
    assert grafana.uid("AxonizeGpuLost", 0) == "AxonizeGpuLost-0" and "AxonizeGpuLost-0" in uids
    assert grafana.uid("AxonizeInferenceLatencySloBurn", 7) in uids
    long = grafana.uid("Axonize" + "VeryLong" * 6, 12)
    assert len(long) == 40 and long.endswith("-12") and long != grafana.uid("Axonize" + "VeryLong" * 6 + "X", 12)


def test_the_document_has_the_provisioning_shape():
    d = doc()
    assert d["apiVersion"] == 1 and isinstance(d["groups"], list) and d["groups"]
    for group in d["groups"]:
        assert set(group) == {"orgId", "name", "folder", "interval", "rules"}
        assert group["orgId"] == 1 and group["folder"] == "Axonize" and DURATION.match(group["interval"])
        for rule in group["rules"]:
            assert set(rule) == {"uid", "title", "condition", "data", "for", "noDataState", "execErrState", "labels", "annotations"}
            assert isinstance(rule["title"], str) and DURATION.match(rule["for"])
            assert rule["noDataState"] in ("OK", "NoData", "Alerting") and rule["execErrState"] in ("OK", "Error", "Alerting")
            assert all(isinstance(v, str) for v in [*rule["labels"].values(), *rule["annotations"].values()])
            refs = [q["refId"] for q in rule["data"]]
            assert len(refs) == len(set(refs)) and rule["condition"] in refs
            for query in rule["data"]:
                assert {"refId", "relativeTimeRange", "datasourceUid", "model"} <= set(query)
                assert query["model"]["refId"] == query["refId"]
                assert set(query["relativeTimeRange"]) == {"from", "to"} and all(
                    isinstance(v, int) for v in query["relativeTimeRange"].values()
                )
                assert query["model"]["datasource"]["uid"] == query["datasourceUid"]
            query, *expressions = rule["data"]
            assert query["datasourceUid"] == grafana.DATASOURCE_UID and query["model"]["instant"] is True
            assert query["relativeTimeRange"]["from"] > 0
            for expression in expressions:
                assert expression["datasourceUid"] == "__expr__"
                assert expression["model"]["type"] in ("reduce", "math", "threshold", "resample", "classic_conditions")
                # an expression reads only refIds defined before it
                earlier = refs[: refs.index(expression["refId"])]
                assert set(re.findall(r"\$(\w+)", expression["model"]["expression"])) | (
                    {expression["model"]["expression"]} if expression["model"]["type"] == "reduce" else set()
                ) <= set(earlier)


def test_states_and_templates_are_grafanas():
    for rule in rules():
        watchdog = rule["data"][0]["model"]["expr"] == "vector(1)"
        assert (rule["noDataState"], rule["execErrState"]) == (("Alerting", "OK") if watchdog else ("OK", "Error")), rule["title"]
        for text in rule["annotations"].values():
            assert not re.search(r"\$value\b(?!s)", text), text  # Grafana's $value is a string of every value
    assert sum(r["title"] == "AxonizeWatchdog" for r in rules()) == 1


def test_template_conversion():
    assert grafana.grafana_template('{{ $value | humanizePercentage }} and {{ printf "%.3g" $value }}') == (
        '{{ humanizePercentage $values.B.Value }} and {{ printf "%.3g" $values.B.Value }}'
    )
    assert grafana.grafana_template("{{ $labels.gpu }} {{ $values.B.Value }}") == "{{ $labels.gpu }} {{ $values.B.Value }}"


def test_the_committed_file_is_a_fresh_render():
    assert DOC.read_text() == grafana.render_text(render.render())


@pytest.mark.integration
@requires("prometheus")
def test_every_promql_query_evaluates_on_a_real_prometheus_with_the_recording_rules():
    """No query errors (parse, types, vector matching on an empty TSDB); an empty result is fine."""
    rule_files = [str(p) for p in sorted((ROOT / "rules").glob("*.rules.yml"))]
    queries = [(r["uid"], q["model"]["expr"]) for r in rules() for q in r["data"] if q["datasourceUid"] == grafana.DATASOURCE_UID]
    assert len(queries) == len(rules())
    failures = []
    with PrometheusServer({}, rule_files=rule_files, binary=require_binary("prometheus")) as prom:
        for uid, expr in queries:
            try:
                result = prom.query(expr)
            except RuntimeError as exc:
                failures.append(f"{uid}: {exc}")
                continue
            if expr == "vector(1)":
                assert [s["value"][1] for s in result] == ["1"]
    assert not failures, "\n".join(failures)
