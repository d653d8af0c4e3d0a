"""grafana/kubernetes/dashboards-configmaps.yaml: one ConfigMap per generated dashboard, labelled and annotated for the
Grafana dashboard sidecar, holding exactly the committed JSON of grafana/dashboards/."""

from __future__ import annotations

import json

import yaml

from axonize import bundle
from tests.conftest import ROOT
from tests.grafana import committed

CONFIGMAPS = ROOT / "grafana" / "kubernetes" / "dashboards-configmaps.yaml"


def configmaps() -> list[dict]:
    return [doc for doc in yaml.safe_load_all(CONFIGMAPS.read_text()) if doc is not None]


def test_one_configmap_per_dashboard_with_the_committed_json():
    docs = configmaps()
    held = {}
    for doc in docs:
        assert doc["apiVersion"] == "v1" and doc["kind"] == "ConfigMap"
        ((key, text),) = doc["data"].items()
        assert key.endswith(".json") and doc["metadata"]["name"] == f"grafana-dashboard-{key.removesuffix('.json')}"
        held[key.removesuffix(".json")] = text
    assert set(held) == set(committed.dashboards())
    for uid, text in held.items():
        assert text == (committed.DASHBOARDS / f"{uid}.json").read_text()
        assert json.loads(text)["uid"] == uid


def test_labelled_for_the_sidecar_and_annotated_with_the_folder():
    folder = bundle.load().grafana.folder
    for doc in configmaps():
        assert doc["metadata"]["labels"]["grafana_dashboard"] == "1"  # a string: label values must be
        assert doc["metadata"]["annotations"] == {"grafana_folder": folder}


def test_each_fits_a_configmap():
    for doc in configmaps():
        assert len(yaml.safe_dump(doc).encode()) < 1 << 20  # the API server's limit on an object
