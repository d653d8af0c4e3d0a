"""What the Inference, Cost and Topology dashboards take from the bundle: the SLO threshold variables (bucket bounds,
the alert's threshold selected, both le spellings), the KV-cache thresholds, heatmaps in Grafana 9.1+'s structure,
the energy cost panels only with a tariff, and the GPU-to-GPU matrix."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from axonize import bundle
from axonize.grafana import cost, render, variables
from axonize.yaml_file import read
from tests.conftest import ROOT
from tests.grafana import committed


def panel(uid: str, title: str) -> dict:
    (found,) = [p for p in committed.dashboards()[uid]["panels"] if p["title"] == title]
    return found


def test_slo_threshold_variables_offer_the_bucket_bounds_and_select_the_alerts_threshold():
    slos = bundle.load().alerts.rules.AxonizeInferenceLatencySloBurn.slos
    custom = {v["name"]: v for v in committed.dashboards()["axonize-inference"]["templating"]["list"] if v["type"] == "custom"}
    assert set(custom) == {"ttft_slo", "itl_slo"}
    for name, key in (("ttft_slo", "time_to_first_token"), ("itl_slo", "inter_token_latency")):
        var = custom[name]
        assert len(var["options"]) == len(slos[key].bucket_bounds) and not var["multi"] and not var["includeAll"]
        assert var["current"]["value"] == variables.le_regex(slos[key].threshold_seconds)
        assert "\\" not in var["query"]  # no escaping to go wrong between Grafana and PromQL
        assert any(f'le=~"${name}"' in t["expr"] for t in panel("axonize-inference", f"{name[:-4].upper()} SLO attainment")["targets"])


@pytest.mark.parametrize(
    ("bound", "regex", "matches", "misses"),
    [
        (Fraction(1), "1|1[.]0", ["1", "1.0"], ["10", "1.05", "0.1"]),
        (Fraction(1, 4), "0[.]25", ["0.25"], ["0025", "0.025"]),
        (Fraction(5, 2), "2[.]5", ["2.5"], ["2.5.0", "25"]),
    ],
)
def test_le_regex_reads_both_spellings_and_nothing_else(bound, regex, matches, misses):
    assert variables.le_regex(bound) == regex
    assert all(re.fullmatch(regex, le) for le in matches)
    assert not any(re.fullmatch(regex, le) for le in misses)


def test_kv_cache_panel_is_colored_at_the_alerts_thresholds():
    levels = bundle.load().alerts.rules.AxonizeInferenceKvCacheHigh.thresholds
    steps = panel("axonize-inference", "KV cache usage")["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert sorted(s["value"] for s in steps if s["value"] is not None) == sorted(float(v) for v in levels.values())


def test_heatmaps_use_the_current_structure_on_bucket_rates():
    heatmaps = [p for p in committed.dashboards()["axonize-inference"]["panels"] if p["type"] == "heatmap"]
    assert len(heatmaps) == 3
    for p in heatmaps:
        assert p["options"]["calculate"] is False and p["options"]["yAxis"]["unit"] == "s"
        assert not {"cards", "color", "dataFormat", "xAxis", "yAxis", "heatmap"} & set(p)  # grafanalib's pre-9.1 keys
        (t,) = p["targets"]
        assert t["format"] == "heatmap" and t["legendFormat"] == "{{le}}" and t["expr"].startswith("sum by (le) (rate(")


def test_the_model_gpu_join_goes_through_the_server_gpu_info_on_uuid():
    (t,) = panel("axonize-inference", "Utilization of each model's GPUs")["targets"]
    assert "axonize_inference_server_gpu_info" in t["expr"] and "* on (uuid) group_left" in t["expr"]


def test_energy_cost_panels_only_with_a_tariff(tmp_path):
    assert not [p for p in committed.dashboards()["axonize-cost"]["panels"] if "Energy" in p["title"]]
    assert bundle.load().dollars_per_kwh is None
    path = tmp_path / "bundle.yml"
    text = (ROOT / "axonize" / "bundle.yml").read_text()
    old = 'dollars_per_kwh: null\n  source: ""\n  date: ""'
    assert old in text
    path.write_text(text.replace(old, 'dollars_per_kwh: 0.12\n  source: "a test tariff"\n  date: "2026-11"'))
    cfg = bundle.parse(read(str(path)))
    titles = {p.title: p for p in cost.panels(cfg)}
    assert {"Energy cost", "Energy cost per GPU"} <= set(titles)
    assert "gpu:axonize_gpu_energy_cost:dollars_per_hour" in titles["Energy cost per GPU"].targets[0].expr
    assert "axonize-cost" in render.dashboards(cfg)


def test_the_topology_matrix_is_gpu_by_peer():
    p = panel("axonize-topology", "GPU-to-GPU paths")
    (transform,) = p["transformations"]
    assert transform["id"] == "groupingToMatrix"
    assert transform["options"] | {"emptyValue": None} == {
        "rowField": "gpu",
        "columnField": "peer_gpu",
        "valueField": "path",
        "emptyValue": None,
    }
