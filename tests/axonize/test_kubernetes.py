"""The Prometheus Operator example: monitors whose job labels are what the rules select, honorLabels on."""

from __future__ import annotations

import dataclasses

import yaml

from axonize import bundle, kubernetes
from tests.conftest import ROOT


def _docs(text: str) -> dict[str, dict]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


def test_committed_example_is_the_rendering_and_sets_the_selected_jobs():
    text = (ROOT / "docs" / "kubernetes-monitors.yaml").read_text()
    assert text == kubernetes.render()
    docs = _docs(text)
    assert set(docs) == {"ServiceMonitor", "PodMonitor"}
    for kind, key, selector in (
        ("ServiceMonitor", "endpoints", bundle.load().selectors.exporter),
        ("PodMonitor", "podMetricsEndpoints", bundle.load().selectors.sidecar),
    ):
        (endpoint,) = docs[kind]["spec"][key]
        assert docs[kind]["apiVersion"] == "monitoring.coreos.com/v1"
        assert endpoint["honorLabels"] is True and endpoint["path"] == "/metrics"
        jobs = [r["replacement"] for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
        assert [f'job="{job}"' for job in jobs] == [selector]


def test_a_selector_that_is_not_one_job_matcher_leaves_the_job_alone():
    assert kubernetes.job_of('job="axonize-exporter"') == "axonize-exporter"
    assert kubernetes.job_of('job=~"axonize-.*"') is None
    assert kubernetes.job_of('job="a", cluster="b"') is None
    assert kubernetes.job_of("") is None
    cfg = bundle.load()
    other = dataclasses.replace(cfg, selectors=dataclasses.replace(cfg.selectors, exporter='namespace="gpu"'))
    endpoint = _docs(kubernetes.render(other))["ServiceMonitor"]["spec"]["endpoints"][0]
    assert not [r for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
