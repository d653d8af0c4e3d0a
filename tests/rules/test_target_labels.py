"""Every promtool unit test holds again when each scraped series carries Kubernetes target labels.

Issue 11: under a Prometheus Operator ServiceMonitor (exporter, dcgm-exporter) or PodMonitor (the
sidecar inside its inference pod) every scraped series also carries the target's ``namespace``,
``pod``, ``container``, ``service`` and ``endpoint``. With ``honorLabels: true`` a label the exporter
wrote itself (a GPU workload's ``pod``) wins over the target's; with ``honorLabels: false`` it is
renamed ``exported_<label>`` and the target's value takes its place. Prometheus treats an empty label
value as no label, so the target's value fills a label the exporter left empty.

This test rewrites the input series of every hand-written unit test (tests/rules/promtool/*.test.yml,
the Kubernetes ones excepted: they already carry such labels) both ways and runs promtool on the
rewrite with the expected values unchanged: the rules aggregate and join on the GPU's identity, so the
labels a scrape adds change no recorded value and add no label to one.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, require_binary, requires

PROMTOOL_DIR = ROOT / "tests" / "rules" / "promtool"
UNIT_TESTS = sorted(p for p in PROMTOOL_DIR.glob("*.test.yml") if "kubernetes" not in p.name)

#: The target labels a Prometheus Operator adds, per scrape job.
TARGET_LABELS = {
    "axonize-exporter": {
        "namespace": "monitoring",
        "pod": "axonize-exporter-7x2kq",
        "container": "axonize-exporter",
        "service": "axonize-exporter",
        "endpoint": "metrics",
    },
    "dcgm-exporter": {
        "namespace": "gpu-operator",
        "pod": "nvidia-dcgm-exporter-9zt4m",
        "container": "nvidia-dcgm-exporter",
        "service": "nvidia-dcgm-exporter",
        "endpoint": "gpu-metrics",
    },
    "axonize-sidecar": {"namespace": "serving", "pod": "vllm-llama-0", "container": "axonize-sidecar", "endpoint": "axonize-metrics"},
}

_SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?P<labels>.*)\}$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_series(text: str) -> tuple[str, dict[str, str]]:
    """``'name{a="1",b="x"}'`` -> ``("name", {"a": "1", "b": "x"})``; ValueError for any other shape."""
    m = _SERIES.match(text.strip())
    if not m:
        raise ValueError(f"not a series with labels: {text!r}")
    labels, pos, body = {}, 0, m.group("labels")
    while pos < len(body):
        lm = _LABEL.match(body, pos)
        if not lm:
            raise ValueError(f"bad label list at {body[pos:]!r} in {text!r}")
        labels[lm.group(1)] = lm.group(2)
        pos = lm.end()
    return m.group("name"), labels


def with_target_labels(series: str, honor_labels: bool) -> str:
    """The series as a ServiceMonitor/PodMonitor scrape would store it (see the module docstring)."""
    name, labels = parse_series(series)
    target = TARGET_LABELS.get(labels.get("job", ""), {})
    out = {k: v for k, v in labels.items() if v != ""}  # an empty value is no label in Prometheus
    for key, value in target.items():
        if key in out and not honor_labels:
            out[f"exported_{key}"] = out.pop(key)
        if key not in out:
            out[key] = value
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in out.items()) + "}"


def test_rewrite_follows_honor_labels():
    series = 'axonize_gpu_container_memory_used_bytes{job="axonize-exporter",uuid="GPU-0",pod="train-0",namespace="ml",container_id="",container="t"}'
    honored = parse_series(with_target_labels(series, True))[1]
    assert honored["pod"] == "train-0" and honored["service"] == "axonize-exporter" and "container_id" not in honored
    renamed = parse_series(with_target_labels(series, False))[1]
    assert renamed["pod"] == "axonize-exporter-7x2kq" and renamed["exported_pod"] == "train-0"
    assert renamed["exported_container"] == "t" and renamed["container"] == "axonize-exporter"
    assert parse_series(with_target_labels('x{job="other"}', False))[1] == {"job": "other"}


@requires("promtool")
@pytest.mark.parametrize("honor_labels", [True, False], ids=["honorLabels-true", "honorLabels-false"])
@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_unit_test_holds_under_kubernetes_target_labels(path, honor_labels, tmp_path):
    promtool = require_binary("promtool")
    doc = yaml.safe_load(path.read_text())
    doc["rule_files"] = [str((path.parent / f).resolve()) for f in doc["rule_files"]]
    for test in doc["tests"]:
        for item in test.get("input_series", []):
            item["series"] = with_target_labels(item["series"], honor_labels)
    rewritten = tmp_path / path.name
    rewritten.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", rewritten.name], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
