"""Generated files are committed and up to date: regenerate with `make generate`."""
from axonize.exporter import docs
from axonize.sidecar import docs as sidecar_docs
from tests.conftest import ROOT


def test_docs_metrics_md_is_up_to_date():
    committed = (ROOT / "docs" / "metrics.md").read_text()
    assert committed == docs.render() + sidecar_docs.render(), "docs/metrics.md is stale: run `make generate` and commit it"


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
