"""The names registry: every name the bundle exposes or records is registered, and rules/ uses no other."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from axonize import names
from axonize.rules import render as rules_render
from tests.conftest import ROOT

NVIDIA = ROOT / "tests" / "fixtures" / "nvidia"
INFERENCE = ROOT / "tests" / "fixtures" / "inference"


def _rule_files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((ROOT / "rules").glob("*.rules.yml"))}


def test_every_name_in_rules_is_registered():
    for name, text in _rule_files().items():
        assert names.unknown_names(text) == [], name


def test_every_recorded_name_is_registered_as_a_rule():
    for text in _rule_files().values():
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                assert names.get(rule["record"]).component == "rules", rule["record"]


def test_every_registered_recorded_name_is_rendered():
    recorded = {names.get(r["record"]).name for t in _rule_files().values() for g in yaml.safe_load(t)["groups"] for r in g["rules"]}
    unrendered = {n.name for n in names.of_component("rules")} - recorded
    # energy cost rules are rendered only when the configuration sets electricity.dollars_per_kwh
    assert unrendered == {f"{level}:axonize_gpu_energy_cost:dollars_per_hour" for level in ("gpu", "host", "fleet")}


def test_unknown_names_finds_a_renamed_metric():
    text = "sum(rate(axonize_inference_generation_tokens_totl[5m])) / gpu:axonize_gpu_cost:dollars_per_hour"
    assert names.unknown_names(text) == ["axonize_inference_generation_tokens_totl"]
    assert names.unknown_names("model:axonize_inference_generation_tokens:rate30s axonize_gpu_up") == []
    assert names.unknown_names("axonize_gpu_up_bucket") == ["axonize_gpu_up_bucket"]  # a gauge has no buckets
    assert names.unknown_names("axonize_inference_queue_time_seconds_bucket") == []


def test_templates_refuse_unregistered_names():
    ctx = rules_render.context(rules_render.rules_config.load()) if hasattr(rules_render, "rules_config") else None
    recorded = names.recorded_name
    with pytest.raises(KeyError, match="not in the names registry"):
        recorded("gpu:axonize_gpu_cost:dollars_per_hours")
    with pytest.raises(ValueError, match="not a Prometheus range"):
        recorded("model:axonize_inference_generation_tokens:rate{window}", "five minutes")
    assert recorded("model:axonize_inference_generation_tokens:rate{window}", "30s").endswith(":rate30s")
    if ctx is not None:
        with pytest.raises(KeyError, match="axonize_gpu_utilisation_ratio"):
            ctx["m"]("axonize_gpu_utilisation_ratio", "exporter")
        with pytest.raises(ValueError, match="registered for sidecar"):
            ctx["m"]("axonize_inference_requests_running", "exporter")


def test_counters_end_in_total_and_types_are_known():
    for row in names.REGISTRY.values():
        assert row.type in names.TYPES
        if row.component != "rules":
            assert (row.type == "counter") == row.name.endswith("_total"), row.name


def _exposed(cmd: list[str]) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return {f.name: f.type for f in text_string_to_metric_families(out.stdout)}


@pytest.mark.parametrize(
    "captures",
    [
        ["h100-80gb-hbm3_drv590_nvidia-smi-q_load.txt"],
        ["h200-mig_drv590_nvidia-smi-q_load.txt", "h200-mig_drv590_nvidia-smi-L.txt"],
        ["a100-sxm4-80gb-mig_drv535_nvidia-smi-q-x.xml"],
    ],
)
def test_exporter_exposes_only_registered_families_with_their_types(captures):
    exposed = _exposed(["axonize.exporter", "--print", "--replay", *[str(NVIDIA / c) for c in captures]])
    assert exposed
    for family, type_ in exposed.items():
        name = family + "_total" if type_ == "counter" else family  # the parser strips _total from counters
        row = names.get(name)
        assert row.component == "exporter", name
        assert type_ == ("gauge" if row.type == "info" else row.type), name


@pytest.mark.parametrize("capture", ["vllm-0.33.0-v1.synthetic.prom", "tgi-3.3.7-v3.synthetic.prom", "sglang-docs-example.prom"])
def test_sidecar_exposes_only_registered_families_with_their_types(capture):
    exposed = _exposed(["axonize.sidecar", "--print", "--target", (INFERENCE / capture).as_uri()])
    inference = [f for f in exposed if f.startswith("axonize_inference_") and f != "axonize_inference_target_up"]
    assert inference, exposed
    for family, type_ in exposed.items():
        name = family + "_total" if type_ == "counter" else family
        row = names.get(name)
        assert row.component == "sidecar", name
        assert type_ == ("gauge" if row.type == "info" else row.type), name


def test_render_fails_on_a_template_using_an_unregistered_name(tmp_path, monkeypatch):
    (tmp_path / "x.rules.yml.j2").write_text(
        "groups:\n  - name: x\n    rules:\n      - record: gpu:axonize_gpu_utilisation:ratio\n        expr: vector(1)\n"
    )
    monkeypatch.setattr(rules_render, "TEMPLATES_DIR", tmp_path)
    with pytest.raises(ValueError, match="gpu:axonize_gpu_utilisation:ratio"):
        rules_render.render()
