"""Generated files are committed and up to date: regenerate with `make generate`."""
import yaml

from axonize.exporter import docs
from axonize.rules import docs as rules_docs
from axonize.rules import render as rules_render
from axonize.sidecar import docs as sidecar_docs
from tests.conftest import ROOT


def test_docs_metrics_md_is_up_to_date():
    committed = (ROOT / "docs" / "metrics.md").read_text()
    assert committed == docs.render() + sidecar_docs.render() + rules_docs.render(), "docs/metrics.md is stale: run `make generate` and commit it"


def test_recording_rules_are_up_to_date():
    rules_dir = ROOT / "rules"
    problems = rules_render.stale(rules_dir, rules_render.render())
    assert not problems, "rules/*.rules.yml are stale (run `make generate` and commit them): " + "; ".join(problems)


def test_every_metric_is_documented():
    from axonize.exporter.collection import SELF_METRICS
    from axonize.exporter.exposition import METRICS

    text = (ROOT / "docs" / "metrics.md").read_text()
    for name in [m.name for m in METRICS] + [row[0] for row in SELF_METRICS]:
        assert f"`{name}`" in text, name


def test_every_sidecar_metric_and_engine_family_is_documented():
    from axonize.sidecar.collection import SELF_METRICS
    from axonize.sidecar.engines import ADAPTERS
    from axonize.sidecar.normalized import FAMILIES, TARGET_SERIES

    text = (ROOT / "docs" / "metrics.md").read_text()
    names = [f.name for f in FAMILIES] + [row[0] for row in TARGET_SERIES + SELF_METRICS]
    for adapter in ADAPTERS.values():
        names += [rule.source for rule in adapter.rules] + list(adapter.unmapped)
    for name in names:
        assert f"`{name}" in text, name


def test_every_recording_rule_is_documented():
    text = (ROOT / "docs" / "metrics.md").read_text()
    for path in sorted((ROOT / "rules").glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert f"| `{rule['record']}`" in text, rule["record"]
