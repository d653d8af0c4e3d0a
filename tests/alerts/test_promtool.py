"""promtool on the alerts: `check rules` on every generated file, `test rules` on the hand-written unit tests in
tests/alerts/promtool/, and every alert (each severity of it) covered by a case where it fires, with its labels and
annotations, and one where it does not."""

import subprocess

import pytest
import yaml

from axonize.alerts import render
from tests.conftest import ROOT, requires

ALERT_FILES = sorted((ROOT / "alerts").glob("*.alerts.yml"))
UNIT_TESTS = sorted((ROOT / "tests" / "alerts" / "promtool").glob("*.test.yml"))
#: Alerts that fire by design whatever the data: no case can show them quiet.
ALWAYS_FIRING = {"AxonizeWatchdog"}
#: Alerts about one GPU: Alertmanager groups and inhibits them by these labels.
GPU_LABELS = {"instance", "gpu", "uuid"}


def rules_of(paths) -> list[dict]:
    return [rule for p in paths for g in yaml.safe_load(p.read_text())["groups"] for rule in g["rules"]]


def cases(paths) -> list[dict]:
    out = []
    for path in paths:
        for test in yaml.safe_load(path.read_text())["tests"]:
            out += test.get("alert_rule_test", [])
    return out


def uncovered(rules: list[dict], tests: list[dict]) -> list[str]:
    """``"Name (severity): no firing case"`` / ``"Name: no quiet case"`` for each gap."""
    problems = []
    for name, severity in dict.fromkeys((r["alert"], r["labels"]["severity"]) for r in rules):
        fired = [
            alert
            for case in tests
            if case["alertname"] == name
            for alert in case.get("exp_alerts") or []
            if alert.get("exp_labels", {}).get("severity") == severity and "runbook_url" in alert.get("exp_annotations", {})
        ]
        if not fired:
            problems.append(f"{name} ({severity}): no case where it fires with its labels and annotations")
    for name in dict.fromkeys(r["alert"] for r in rules):
        quiet = [case for case in tests if case["alertname"] == name and not case.get("exp_alerts")]
        if not quiet and name not in ALWAYS_FIRING:
            problems.append(f"{name}: no case where it does not fire")
    return problems


def test_there_are_alerts_and_unit_tests():
    assert [p.name for p in ALERT_FILES] == [
        "bundle-health.alerts.yml",
        "gpu-health.alerts.yml",
        "gpu-waste.alerts.yml",
        "inference.alerts.yml",
    ]
    assert {p.name for p in UNIT_TESTS} == {f"{p.name[: -len('.alerts.yml')]}.test.yml" for p in ALERT_FILES}


def test_every_alert_fires_in_a_case_and_stays_quiet_in_another():
    assert not uncovered(rules_of(ALERT_FILES), cases(UNIT_TESTS))


def test_the_coverage_check_sees_a_missing_case():
    rules = [
        {"alert": "AxonizeA", "labels": {"severity": "warning"}},
        {"alert": "AxonizeA", "labels": {"severity": "critical"}},
        {"alert": "AxonizeB", "labels": {"severity": "info"}},
    ]
    fires = {"exp_labels": {"severity": "warning"}, "exp_annotations": {"runbook_url": "u"}}
    tests = [{"alertname": "AxonizeA", "exp_alerts": [fires]}, {"alertname": "AxonizeA", "exp_alerts": []}]
    assert uncovered(rules, tests) == [
        "AxonizeA (critical): no case where it fires with its labels and annotations",
        "AxonizeB (info): no case where it fires with its labels and annotations",
        "AxonizeB: no case where it does not fire",
    ]


def test_gpu_alerts_fire_with_the_gpu_identity():
    """Every alert the tests see firing on a GPU (AxonizeGpu*) carries instance, gpu and uuid."""
    fired = [
        (c["alertname"], a["exp_labels"])
        for c in cases(UNIT_TESTS)
        if c["alertname"].startswith("AxonizeGpu")
        for a in c.get("exp_alerts") or []
    ]
    assert fired
    assert [name for name, labels in fired if not GPU_LABELS <= set(labels)] == []


def test_kubernetes_target_labels_never_reach_a_gpu_alert():
    fired = [a["exp_labels"] for c in cases(UNIT_TESTS) if c["alertname"].startswith("AxonizeGpu") for a in c.get("exp_alerts") or []]
    assert not [labels for labels in fired if {"pod", "namespace", "service", "endpoint"} & set(labels)]


def test_ignored_xid_codes_are_in_no_alert():
    xid_rules = [r for r in rules_of([ROOT / "alerts" / "gpu-health.alerts.yml"]) if r["alert"].startswith("AxonizeGpuXid")]
    assert len(xid_rules) == 2
    for rule in xid_rules:
        codes = rule["expr"].split('xid=~"')[1].split('"')[0].split("|")
        assert "63" not in codes and "92" not in codes, rule["alert"]


@requires("promtool")
@pytest.mark.parametrize("path", ALERT_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path, promtool):
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@requires("promtool")
@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(path, promtool):
    result = subprocess.run([promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@requires("promtool")
def test_a_wrong_expectation_fails(tmp_path, promtool):
    """The unit tests can fail: the same test with the XID hold's last firing minute moved is reported."""
    source = ROOT / "tests" / "alerts" / "promtool" / "gpu-health.test.yml"
    text = source.read_text().replace("../../../alerts/", str(ROOT / "alerts") + "/")
    assert "eval_time: 61m  # the 1h hold has passed" in text
    (tmp_path / "wrong.test.yml").write_text(text.replace("eval_time: 61m  # the 1h hold has passed", "eval_time: 59m"))
    result = subprocess.run([promtool, "test", "rules", "wrong.test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "AxonizeGpuXidApplicationError" in result.stdout + result.stderr


def test_the_files_are_a_fresh_render():
    assert render.stale(ROOT / "alerts", render.render()) == []


@requires("promtool")
def test_waste_alerts_fire_through_the_recording_rules(promtool):
    """tests/alerts/promtool/with-rules/: rules/*.rules.yml and the alerts loaded together on the exporter's raw series."""
    folder = ROOT / "tests" / "alerts" / "promtool" / "with-rules"
    tests = sorted(p.name for p in folder.glob("*.test.yml"))
    assert tests
    result = subprocess.run([promtool, "test", "rules", *tests], cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
