"""grafana/provisioning/: the datasource and dashboards provider files parse, agree with the bundle and the alerts,
and a bad grafana: section is an error naming the file, line and key."""

from __future__ import annotations

import pytest
import yaml

from axonize import bundle
from axonize.alerts import grafana as alerting
from axonize.grafana import provisioning
from axonize.yaml_file import ConfigError, read
from tests.conftest import ROOT

PROVISIONING = ROOT / "grafana" / "provisioning"


def test_the_datasource_has_the_pinned_uid_and_the_scrape_interval():
    cfg = bundle.load().grafana
    (ds,) = yaml.safe_load((PROVISIONING / "datasources" / "axonize.yml").read_text())["datasources"]
    assert ds["type"] == "prometheus" and ds["uid"] == cfg.datasource.uid == alerting.DATASOURCE_UID
    assert ds["jsonData"]["timeInterval"] == cfg.datasource.scrape_interval


def test_the_provider_puts_every_dashboard_in_the_folder():
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "axonize.yml").read_text())["providers"]
    assert provider["type"] == "file" and provider["folder"] == "Axonize"
    assert provider["options"]["path"] == provisioning.DASHBOARDS_PATH
    uids = {d.uid for d in bundle.load().grafana.dashboards.values()}
    assert {p.stem for p in (ROOT / "grafana" / "dashboards").glob("*.json")} == uids


def test_the_alerting_file_is_the_grafana_managed_alerts():
    path = PROVISIONING / "alerting" / "axonize.yml"
    assert path.read_text() == (ROOT / "alerts" / "grafana-alerting.yml").read_text()
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == 1 and doc["groups"]
    uids = {q["datasourceUid"] for g in doc["groups"] for r in g["rules"] for q in r["data"] if q["datasourceUid"] != "__expr__"}
    assert uids == {bundle.load().grafana.datasource.uid}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("uid: axonize-gpu,", "uid: 'bad uid',", "grafana.dashboards.gpu.uid: must be a Grafana uid"),
        ("scrape_interval: 15s", "scrape_interval: soon", "grafana.datasource.scrape_interval: must be a duration"),
        ("    gpu: {uid: axonize-gpu", "    gpus: {uid: axonize-gpu", "grafana.dashboards: unknown dashboard 'gpus'"),
    ],
)
def test_a_bad_grafana_section_names_file_line_and_key(tmp_path, old, new, message):
    text = (ROOT / "axonize" / "bundle.yml").read_text()
    assert old in text
    path = tmp_path / "bundle.yml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as err:
        bundle.parse(read(str(path)))
    assert f"{path}:" in str(err.value) and message in str(err.value), str(err.value)
