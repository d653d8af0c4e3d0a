"""The Prometheus Operator example: monitors whose job labels are what the rules select, honorLabels on."""

from __future__ import annotations

import dataclasses

import yaml

from axonize import bundle, kubernetes
from axonize.gateway.config import DEFAULT_PORT as GATEWAY_PORT
from tests.conftest import ROOT


def _docs(text: str) -> dict[str, dict]:
    """``{metadata.name: document}``."""
    return {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(text)}


def _endpoint(doc: dict) -> dict:
    (endpoint,) = doc["spec"]["endpoints" if doc["kind"] == "ServiceMonitor" else "podMetricsEndpoints"]
    return endpoint


def _jobs(endpoint: dict) -> list[str]:
    return [r["replacement"] for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "job"]


def test_committed_example_is_the_rendering_and_sets_the_selected_jobs():
    text = (ROOT / "docs" / "kubernetes-monitors.yaml").read_text()
    assert text == kubernetes.render()
    docs = _docs(text)
    selectors = bundle.load().selectors
    expected = {
        "axonize-exporter": ("ServiceMonitor", selectors.exporter),
        "axonize-sidecar": ("PodMonitor", selectors.sidecar),
        "axonize-gateway": ("ServiceMonitor", selectors.gateway),
    }
    assert set(docs) == set(expected)
    for name, (kind, selector) in expected.items():
        doc = docs[name]
        endpoint = _endpoint(doc)
        assert doc["kind"] == kind and doc["apiVersion"] == "monitoring.coreos.com/v1", name
        assert endpoint["honorLabels"] is True and endpoint["path"] == "/metrics", name
        assert [f'job="{job}"' for job in _jobs(endpoint)] == [selector], name


def test_the_gateway_is_scraped_on_its_api_port_by_its_service():
    doc = _docs(kubernetes.render())["axonize-gateway"]
    assert doc["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "axonize-gateway"}
    assert _endpoint(doc)["port"] == "http"
    assert kubernetes.GATEWAY_PORT == GATEWAY_PORT  # the comment names the gateway's default port
    assert f"axonize-gateway's :{GATEWAY_PORT} (API and /metrics)" in kubernetes.render()


def test_a_selector_that_is_not_one_job_matcher_leaves_the_job_alone():
    assert kubernetes.job_of('job="axonize-exporter"') == "axonize-exporter"
    assert kubernetes.job_of('job=~"axonize-.*"') is None
    assert kubernetes.job_of('job="a", cluster="b"') is None
    assert kubernetes.job_of("") is None
    cfg = bundle.load()
    other = dataclasses.replace(cfg, selectors=dataclasses.replace(cfg.selectors, exporter='namespace="gpu"', gateway='service="api"'))
    docs = _docs(kubernetes.render(other))
    assert _jobs(_endpoint(docs["axonize-exporter"])) == [] and _jobs(_endpoint(docs["axonize-gateway"])) == []
    assert _jobs(_endpoint(docs["axonize-sidecar"])) == ["axonize-sidecar"]
