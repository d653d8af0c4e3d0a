"""The bundle configuration (axonize/bundle.yml) is loaded whole and every section validated; errors name file, line and key."""

from fractions import Fraction

import pytest
import yaml

from axonize import bundle as rules_config
from axonize.config import ConfigError
from tests.conftest import ROOT

PACKAGED = ROOT / "axonize" / "bundle.yml"


def _doc() -> dict:
    return yaml.safe_load(PACKAGED.read_text())


def _error(doc: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        rules_config.parse(doc, "my-rules.yml")
    return str(exc.value)


def test_packaged_configuration_loads():
    cfg = rules_config.load()
    assert cfg.where == "axonize/bundle.yml"
    assert cfg.selectors.exporter == 'job="axonize-exporter"'
    assert cfg.host_labels == ("instance",) and cfg.fleet_labels == ()
    assert cfg.rate_window == "5m"
    assert cfg.stopped_exporter_grace == "15m" and cfg.efficiency.busy_above == 0
    assert cfg.efficiency.utilization_weight == Fraction(2, 5)  # the decimal written, not the nearest float
    assert cfg.efficiency.weights == {"gpu": Fraction(3, 5), "numa": Fraction(1, 5), "io": Fraction(1, 5)}
    assert [letter for letter, _ in cfg.grades] == ["A", "B", "C", "D", "F"]
    assert [low for _, low in cfg.grades] == [90, 75, 60, 40, 0]
    assert cfg.hours_per_month == 730
    assert cfg.quantiles == (Fraction(1, 2), Fraction(95, 100), Fraction(99, 100))
    assert cfg.prices.default.dollars_per_hour == 0.95  # the prices section goes through axonize.pricing
    assert cfg.dollars_per_kwh is None


def test_loading_a_file_names_it(tmp_path):
    path = tmp_path / "rules.yml"
    doc = _doc()
    doc["windows"]["rate"] = "five minutes"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=rf"^{path}:\d+: windows.rate: must be a Prometheus duration"):
        rules_config.load(str(path))


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        rules_config.load(str(tmp_path / "missing.yml"))
    bad = tmp_path / "bad.yml"
    bad.write_text("selectors: [\n")
    with pytest.raises(ConfigError, match=rf"^{bad}:\d+: not valid YAML"):
        rules_config.load(str(bad))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(dashboards={}), "my-rules.yml: dashboards: unknown section; known sections: prices, electricity"),
        (lambda d: d.pop("grades"), "my-rules.yml: grades: missing"),
        (lambda d: d["selectors"].update(exporter="job=axonize"), "my-rules.yml: selectors.exporter: not PromQL label matchers"),
        (lambda d: d["selectors"].update(sidecar='job="a" env="b"'), "my-rules.yml: selectors.sidecar: expected ',' between matchers"),
        (lambda d: d["selectors"].pop("dcgm"), "my-rules.yml: selectors.dcgm: missing"),
        (lambda d: d["selectors"].update(node="x"), "my-rules.yml: selectors.node: unknown key"),
        (lambda d: d["levels"].update(host=[]), "my-rules.yml: levels.host: must name at least one label"),
        (lambda d: d["levels"].update(fleet=["cluster-name"]), "my-rules.yml: levels.fleet: must be a list of label names"),
        (lambda d: d["levels"].update(fleet=["model"]), "my-rules.yml: levels.fleet: 'model' is a label the rules set"),
        (lambda d: d["windows"].update(queue_growth=300), "my-rules.yml: windows.queue_growth: must be a Prometheus duration"),
        (
            lambda d: d["efficiency"]["gpu_score"].update(memory_weight="0.3"),
            "my-rules.yml: efficiency.gpu_score.memory_weight: must be a number >= 0",
        ),
        (lambda d: d["efficiency"]["weights"].update(io=-0.2), "my-rules.yml: efficiency.weights.io: must be a number >= 0"),
        (
            lambda d: d["efficiency"]["weights"].update(gpu=0, numa=0, io=0),
            "my-rules.yml: efficiency.weights: the weights must not all be 0",
        ),
        (lambda d: d["efficiency"]["numa"].update(mismatch=1.5), "my-rules.yml: efficiency.numa.mismatch: must be a number >= 0 and <= 1"),
        (
            lambda d: d["efficiency"]["io"].update(busy_utilization_above=1),
            "my-rules.yml: efficiency.io.busy_utilization_above: must be below 1",
        ),
        (
            lambda d: d["efficiency"].update(busy_utilization_above=1),
            "my-rules.yml: efficiency.busy_utilization_above: must be below 1",
        ),
        (
            lambda d: d["cost"].update(stopped_exporter_grace="15 min"),
            "my-rules.yml: cost.stopped_exporter_grace: must be a Prometheus duration",
        ),
        (lambda d: d["grades"].update(B=95), "my-rules.yml: grades.B: must be below grades.A (90), got 95"),
        (lambda d: d["grades"].update(F=10), "my-rules.yml: grades.F: must be 0"),
        (lambda d: d["grades"].update(A=101), "my-rules.yml: grades.A: must be a number >= 0 and <= 100"),
        (lambda d: d["cost"].update(hours_per_month=0), "my-rules.yml: cost.hours_per_month: must be a number > 0"),
        (lambda d: d["cost"].update(container_split="pods"), "my-rules.yml: cost.container_split: must be one of memory, even"),
        (lambda d: d["inference"].update(quantiles=[]), "my-rules.yml: inference.quantiles: must be a non-empty list"),
        (lambda d: d["inference"].update(quantiles=[0.5, 1]), "my-rules.yml: inference.quantiles: a quantile must be below 1"),
        (lambda d: d["inference"].update(quantiles=[0.5, 0.5]), "my-rules.yml: inference.quantiles: repeats a quantile"),
        # the prices and electricity sections are validated by axonize.pricing, with the same file name
        (
            lambda d: d["prices"]["gpus"][0].update(dollars_per_hour="cheap"),
            "my-rules.yml: prices.gpus[0].dollars_per_hour: must be a number >= 0",
        ),
        (lambda d: d["electricity"].update(dollars_per_kwh=0.12), "my-rules.yml: electricity.source: must be a non-empty string"),
        # alerts: (issue 12): severities, `for:` durations, thresholds and XID buckets
        (lambda d: d.pop("alerts"), "my-rules.yml: alerts: missing"),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuLost"].update(severity="page"),
            "my-rules.yml: alerts.rules.AxonizeGpuLost.severity: must be one of critical, warning, info, got 'page'",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuLost"].update({"for": "-5m"}),
            "my-rules.yml: alerts.rules.AxonizeGpuLost.for: must be a Prometheus duration",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuLost"].update({"for": "5 minutes"}),
            "my-rules.yml: alerts.rules.AxonizeGpuLost.for: must be a Prometheus duration",
        ),
        (lambda d: d["alerts"]["rules"]["AxonizeGpuLost"].pop("for"), "my-rules.yml: alerts.rules.AxonizeGpuLost.for: missing"),
        (lambda d: d["alerts"]["rules"].pop("AxonizeWatchdog"), "my-rules.yml: alerts.rules.AxonizeWatchdog: missing"),
        (lambda d: d["alerts"]["rules"].update(AxonizeGpuHot={}), "my-rules.yml: alerts.rules.AxonizeGpuHot: unknown key"),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuXidResetRequired"].update(hold="0s"),
            "my-rules.yml: alerts.rules.AxonizeGpuXidResetRequired.hold: must be a Prometheus duration",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuXidResetRequired"].update(codes=[48, "79"]),
            "my-rules.yml: alerts.rules.AxonizeGpuXidResetRequired.codes: must be a non-empty list of XID codes",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuXidApplicationError"].update(codes=[13, 48]),
            "my-rules.yml: alerts.rules.AxonizeGpuXidApplicationError: XID 48 also in AxonizeGpuXidResetRequired.codes",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuXidApplicationError"].update(codes=[13, 63]),
            "my-rules.yml: alerts.xid_never_alert: XID 63 is also in rules.AxonizeGpuXidApplicationError.codes",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuMemoryPressure"].update(thresholds={"warning": 0.9, "critical": 1.5}),
            "my-rules.yml: alerts.rules.AxonizeGpuMemoryPressure.thresholds.critical: must be a number >= 0 and <= 1",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuMemoryPressure"].update(thresholds={"warning": 0.95, "critical": 0.9}),
            "my-rules.yml: alerts.rules.AxonizeGpuMemoryPressure.thresholds: a more severe level needs a higher threshold",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuMemoryPressure"].update(thresholds={"page": 0.9}),
            "my-rules.yml: alerts.rules.AxonizeGpuMemoryPressure.thresholds.page.[key]: must be one of critical, warning, info",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuPcieLinkDegraded"].update(busy_utilization_above=1),
            "my-rules.yml: alerts.rules.AxonizeGpuPcieLinkDegraded.busy_utilization_above: must be below 1",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuIdleCost"].update(dollars_per_hour=0),
            "my-rules.yml: alerts.rules.AxonizeGpuIdleCost.dollars_per_hour: must be a number > 0",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeFleetIdleCostShare"].update(above=50),
            "my-rules.yml: alerts.rules.AxonizeFleetIdleCostShare.above: must be a number >= 0 and <= 1",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeHostEfficiencyLow"].update(grade_at_or_below="A"),
            "my-rules.yml: alerts.rules.AxonizeHostEfficiencyLow.grade_at_or_below: must be one of B, C, D, F",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeExporterCollectionStale"].update(intervals=0.5),
            "my-rules.yml: alerts.rules.AxonizeExporterCollectionStale.intervals: must be a number >= 1",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeGpuClocksThrottled"].update(reasons=["HW Slowdown"]),
            "my-rules.yml: alerts.rules.AxonizeGpuClocksThrottled.reasons: must be a non-empty list of label values",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeInferenceLatencySloBurn"]["slos"]["time_to_first_token"].update(threshold_seconds=0.3),
            "my-rules.yml: alerts.rules.AxonizeInferenceLatencySloBurn.slos.time_to_first_token.threshold_seconds: "
            "must be one of the histogram's bucket bounds (0.001, 0.005",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeInferenceLatencySloBurn"]["slos"]["inter_token_latency"].update(objective=1),
            "my-rules.yml: alerts.rules.AxonizeInferenceLatencySloBurn.slos.inter_token_latency.objective: must be below 1",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeInferenceLatencySloBurn"]["slos"]["inter_token_latency"].update(
                bucket_bounds=[0.1, 0.05]
            ),
            "my-rules.yml: alerts.rules.AxonizeInferenceLatencySloBurn.slos.inter_token_latency.bucket_bounds: must be ascending",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeInferenceLatencySloBurn"]["slos"].update(
                e2e_request_latency=d["alerts"]["rules"]["AxonizeInferenceLatencySloBurn"]["slos"]["time_to_first_token"]
            ),
            "my-rules.yml: alerts.rules.AxonizeInferenceLatencySloBurn.slos: unknown latency histogram",
        ),
        (
            lambda d: d["alerts"]["rules"]["AxonizeInferenceLatencySloBurn"]["windows"][0].update(severity="page"),
            "my-rules.yml: alerts.rules.AxonizeInferenceLatencySloBurn.windows[0].severity: must be one of critical, warning, info",
        ),
        (
            lambda d: d["alerts"].update(runbook_base_url="docs/runbooks.md#top"),
            "my-rules.yml: alerts.runbook_base_url: must be an http(s) URL without a #fragment",
        ),
    ],
)
def test_errors_name_the_file_and_key(change, message):
    doc = _doc()
    change(doc)
    assert _error(doc).startswith(message)


def test_an_alerts_error_names_its_line(tmp_path):
    path = tmp_path / "bundle.yml"
    text = PACKAGED.read_text().replace("AxonizeGpuLost: {severity: critical, for: 1m}", "AxonizeGpuLost: {severity: urgent, for: 1m}")
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "severity: urgent" in row)
    with pytest.raises(ConfigError, match=rf"^{path}:{line}: alerts.rules.AxonizeGpuLost.severity: must be one of critical, warning, info"):
        rules_config.load(str(path))


def test_packaged_alerts_settings():
    alerts = rules_config.load().alerts
    assert alerts.runbook_base_url.startswith("https://") and alerts.xid_never_alert == (63, 92)
    assert alerts.rules.AxonizeGpuLost.severity == "critical" and alerts.rules.AxonizeGpuLost.for_ == "1m"
    assert alerts.rules.AxonizeGpuXidApplicationError.codes == (13, 31, 43, 94)
    assert alerts.rules.AxonizeGpuMemoryPressure.thresholds == {"warning": Fraction(9, 10), "critical": Fraction(95, 100)}


def test_top_level_must_be_a_mapping():
    assert _error([]).startswith("my-rules.yml: top level: must be a mapping")


def test_selectors_are_normalised_and_may_be_empty():
    doc = _doc()
    doc["selectors"].update(exporter=' job=~"gpu-.*" ,cluster!="lab"', sidecar="", dcgm=None)
    cfg = rules_config.parse(doc, "my-rules.yml")
    assert cfg.selectors.exporter == 'job=~"gpu-.*", cluster!="lab"'
    assert cfg.selectors.sidecar == "" and cfg.selectors.dcgm == ""


def test_fleet_labels_lead_the_host_labels():
    doc = _doc()
    doc["levels"].update(host=["instance"], fleet=["cluster", "instance"])
    cfg = rules_config.parse(doc, "my-rules.yml")
    assert cfg.host_labels == ("cluster", "instance")
    assert cfg.fleet_labels == ("cluster", "instance")


def test_the_packaged_bundle_is_read_once_and_the_rules_render_byte_identically(monkeypatch):
    from axonize import bundle, yaml_file
    from axonize.rules import docs as rules_docs
    from axonize.rules import render

    reads = []
    real = yaml_file.read
    monkeypatch.setattr(yaml_file, "read", lambda *a, **kw: reads.append(a) or real(*a, **kw))
    bundle._packaged.cache_clear()
    first = bundle.load()
    rendered = render.render()
    rules_docs.render()
    assert bundle.load() is first and len(reads) == 1, "one read of axonize/bundle.yml per process"
    for name, text in rendered.items():
        assert (ROOT / "rules" / name).read_text() == text, f"rules/{name} changed"


def test_errors_name_file_line_and_key(tmp_path):
    path = tmp_path / "bundle.yml"
    text = PACKAGED.read_text().replace("  B: 75\n", "  B: 95\n")
    path.write_text(text)
    line = text.splitlines().index("  B: 95") + 1
    with pytest.raises(ConfigError) as err:
        rules_config.load(str(path))
    assert str(err.value) == f"{path}:{line}: grades.B: must be below grades.A (90), got 95"


def test_selectors_gateway_is_optional_for_bundles_written_before_the_gateway():
    doc = _doc()
    assert rules_config.load().selectors.gateway == doc["selectors"]["gateway"] == 'job="axonize-gateway"'
    del doc["selectors"]["gateway"]
    assert rules_config.parse(doc, "old.yml").selectors.gateway == 'job="axonize-gateway"'
    doc["selectors"]["gateway"] = 'job="gw", cluster="a"'
    assert rules_config.parse(doc, "new.yml").selectors.gateway == 'job="gw", cluster="a"'
    doc["selectors"]["gateway"] = "job=gw"
    assert "my-rules.yml: selectors.gateway: not PromQL label matchers" in _error(doc)
