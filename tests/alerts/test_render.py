"""python -m axonize.alerts.render: configuration in, alerts out; bad input exits 2 naming the key and writes nothing."""

import shutil

import pytest
import yaml

from axonize import bundle, names
from axonize.alerts import render
from tests.conftest import ROOT

PACKAGED = ROOT / "axonize" / "bundle.yml"


def _write_config(tmp_path, change) -> str:
    doc = yaml.safe_load(PACKAGED.read_text())
    change(doc)
    path = tmp_path / "bundle.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_every_alert_is_configured_and_rendered_once_per_severity():
    rendered = render.alerts_of(render.render())
    configured = set(type(bundle.load().alerts.rules).model_fields)
    assert {r["alert"] for r in rendered} == configured
    pairs = [(r["alert"], r["labels"]["severity"]) for r in rendered]
    labelled = [(r["alert"], tuple(sorted(r["labels"].items()))) for r in rendered]
    assert len(labelled) == len(set(labelled))  # rules of one name differ by their labels (severity; slo, window)
    assert ("AxonizeGpuMemoryPressure", "warning") in pairs and ("AxonizeGpuMemoryPressure", "critical") in pairs


def test_names_severities_and_annotations_follow_the_conventions():
    cfg = bundle.load()
    for rule in render.alerts_of(render.render()):
        assert rule["alert"].startswith("Axonize") and rule["alert"][7].isupper(), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        notes = rule["annotations"]
        assert notes["summary"].endswith(".") and notes["description"]
        assert notes["runbook_url"] == f"{cfg.alerts.runbook_base_url}#{rule['alert'].lower()}"


def test_the_names_alertmanager_routes_on_are_there():
    names_ = {r["alert"] for r in render.alerts_of(render.render())}
    assert {"AxonizeGpuLost", "AxonizeGpuXidResetRequired", "AxonizeExporterDown", "AxonizeSidecarDown", "AxonizeWatchdog"} <= names_


def test_le_alternatives_read_both_spellings_of_a_bucket_bound():
    from fractions import Fraction

    assert render.le_alternatives(Fraction(1)) == "1|1\\\\.0"  # Prometheus 2 keeps le="1"; Python clients and 3.x write "1.0"
    assert render.le_alternatives(Fraction(5, 2)) == "2\\\\.5"
    assert render.le_alternatives(Fraction(1, 10)) == "0\\\\.1"


def test_rendered_alerts_use_registered_names_only():
    for name, text in render.render().items():
        assert names.unknown_names(text) == [], name


def test_thresholds_and_durations_come_from_the_configuration(tmp_path):
    def change(doc):
        rules = doc["alerts"]["rules"]
        rules["AxonizeGpuLost"].update({"severity": "warning", "for": "3m"})
        rules["AxonizeGpuMemoryPressure"]["thresholds"] = {"critical": 0.99}
        rules["AxonizeGpuXidApplicationError"]["hold"] = "2h"
        rules["AxonizeExporterCollectionStale"].update(collection_interval="30s", intervals=4)
        doc["alerts"]["runbook_base_url"] = "https://wiki.example.com/gpu"

    rendered = render.render(bundle.load(_write_config(tmp_path, change)))
    rules = {(r["alert"], r["labels"]["severity"]): r for r in render.alerts_of(rendered)}
    lost = rules[("AxonizeGpuLost", "warning")]
    assert lost["for"] == "3m" and lost["annotations"]["runbook_url"] == "https://wiki.example.com/gpu#axonizegpulost"
    assert [k for k in rules if k[0] == "AxonizeGpuMemoryPressure"] == [("AxonizeGpuMemoryPressure", "critical")]
    assert "> 0.99" in rules[("AxonizeGpuMemoryPressure", "critical")]["expr"]
    assert "< 7200" in rules[("AxonizeGpuXidApplicationError", "warning")]["expr"]
    assert "> 4 * 30" in rules[("AxonizeExporterCollectionStale", "warning")]["expr"]
    assert f"from {tmp_path / 'bundle.yml'}" in rendered["gpu-health.alerts.yml"]


def test_selectors_and_host_labels_reach_the_alerts(tmp_path):
    def change(doc):
        doc["selectors"]["exporter"] = 'job="gpu", cluster="a"'
        doc["levels"]["host"] = ["node"]

    text = render.render(bundle.load(_write_config(tmp_path, change)))["gpu-health.alerts.yml"]
    assert 'axonize_gpu_up{job="gpu", cluster="a"} == 0' in text
    assert "max by (job, instance, node, gpu, uuid, kind)" in text  # instance kept for Alertmanager, node added


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["alerts"]["rules"]["AxonizeGpuLost"].update(severity="page"), "alerts.rules.AxonizeGpuLost.severity: must be one of"),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuNvlinkDown"].update({"for": "-5m"}),
            "alerts.rules.AxonizeGpuNvlinkDown.for: must be a Prometheus duration",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuMemoryPressure"]["thresholds"].update(warning=90),
            "alerts.rules.AxonizeGpuMemoryPressure.thresholds.warning: must be a number >= 0 and <= 1",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuIdleCost"].update(dollars_per_hour=-1),
            "alerts.rules.AxonizeGpuIdleCost.dollars_per_hour",
        ),
    ],
)
def test_bad_configuration_exits_2_naming_the_key_and_writes_nothing(tmp_path, capsys, change, message):
    config = _write_config(tmp_path, change)
    out = tmp_path / "out"
    assert render.main(["--config", config, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"axonize.alerts.render: {config}:") and message in err
    assert not out.exists()


def _templates_with(tmp_path, monkeypatch, name: str, text: str):
    folder = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, folder)
    (folder / name).write_text(text)
    monkeypatch.setattr(render, "TEMPLATES_DIR", folder)


def test_a_template_that_does_not_parse_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    _templates_with(tmp_path, monkeypatch, "zz-broken.alerts.yml.j2", "groups:\n{% for x in %}\n")
    out = tmp_path / "out"
    assert render.main(["--out", str(out)]) == 2
    assert "alerts/templates/zz-broken.alerts.yml.j2:2:" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    "body, message",
    [
        ("expr: axonize_gpu_temprature_celsius > 90", "names not in the names registry (axonize/names): axonize_gpu_temprature_celsius"),
        ("expr: vector(1)\n        labels: {severity: page}", "severity 'page' is not one of critical, warning, info"),
        (
            "expr: vector(1)\n        labels: {severity: info}\n        annotations: {summary: Hot, description: d, runbook_url: u}",
            "summary must be one sentence",
        ),
        (
            "expr: vector(1)\n        labels: {severity: info}\n        annotations: {summary: Hot.}",
            "annotations missing: description, runbook_url",
        ),
    ],
)
def test_a_rendered_alert_that_breaks_the_conventions_is_refused(tmp_path, monkeypatch, body, message):
    text = f"groups:\n  - name: x\n    rules:\n      - alert: AxonizeX\n        {body}\n"
    _templates_with(tmp_path, monkeypatch, "zz.alerts.yml.j2", text)
    with pytest.raises(render.RenderError, match="alerts/templates/zz.alerts.yml.j2") as exc:
        render.render()
    assert message in str(exc.value)


def test_check_names_stale_files(tmp_path, capsys):
    out = tmp_path / "out"
    assert render.main(["--out", str(out)]) == 0
    assert render.main(["--check", "--out", str(out)]) == 0
    (out / "gpu-health.alerts.yml").write_text("groups: []\n")
    (out / "old.alerts.yml").write_text("groups: []\n")
    assert render.main(["--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "gpu-health.alerts.yml: differs from a fresh render" in err and "old.alerts.yml: no template renders it" in err
