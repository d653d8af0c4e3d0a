"""The renderer: its number helpers, the CLI, and variants of the configuration that promtool accepts."""

import copy
import subprocess
from fractions import Fraction

import pytest
import yaml

from axonize import bundle as rules_config
from axonize.rules import render
from tests.conftest import ROOT, requires


def test_num_writes_exact_decimals():
    assert render.num(Fraction(2, 5)) == "0.4"
    assert render.num(730) == "730"
    assert render.num(Fraction(1460, 2)) == "730"
    assert render.num(0.125) == "0.125"
    assert render.num(Fraction(95, 100)) == "0.95"
    assert render.num(Fraction(1, 3)) == repr(1 / 3)


def test_weighted_uses_the_smallest_integer_weights():
    # InfraLens' 0.4 and 0.3, normalised by their sum: 4/7 and 3/7
    assert render.weighted([(Fraction(2, 5), "u"), (Fraction(3, 10), "v")]) == "(4 * u + 3 * v) / 7"
    assert render.weighted([(0.6, "g"), (0.2, "n"), (0.2, "io")], 100) == "60 * g + 20 * n + 20 * io"
    assert render.weighted([(1, "a"), (0, "b")]) == "a"  # a zero weight drops its term
    with pytest.raises(ValueError):
        render.weighted([(0, "a")])


def test_affine_and_by():
    assert render.affine(Fraction(1), Fraction(-1, 2), "x") == "1 - 0.5 * x"
    assert render.affine(0.5, 0.25, "x") == "0.5 + 0.25 * x"
    assert render.affine(1, 0, "x") == "0 * x + 1"
    assert render.by(["cluster", "instance", "cluster"]) == "by (cluster, instance) "
    assert render.by([]) == ""


def test_one_rendered_file_per_template():
    assert sorted(render.render()) == ["cost.rules.yml", "customer-cost.rules.yml", "gpu-efficiency.rules.yml", "inference.rules.yml"]


def test_check_mode_reports_stale_missing_and_orphan_files(tmp_path, capsys):
    assert render.main(["--out", str(tmp_path)]) == 0
    assert render.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "cost.rules.yml").write_text("groups: []\n")
    (tmp_path / "inference.rules.yml").unlink()
    (tmp_path / "old.rules.yml").write_text("groups: []\n")
    assert render.main(["--out", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "cost.rules.yml: differs from a fresh render" in err
    assert "inference.rules.yml: missing" in err
    assert "old.rules.yml: no template renders it" in err


def test_a_bad_configuration_exits_2_naming_the_key(tmp_path, capsys):
    doc = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())
    doc["grades"]["C"] = 80
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(doc))
    assert render.main(["--config", str(path), "--out", str(tmp_path)]) == 2
    line = path.read_text().splitlines().index("  C: 80") + 1
    assert f"{path}:{line}: grades.C: must be below grades.B (75), got 80" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.rules.yml"))


def test_a_template_naming_an_unregistered_name_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(render.names, "unknown_names", lambda text: ["axonize_bogus_total"])
    assert render.main(["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("axonize.rules.render: rules/templates/") and "axonize_bogus_total" in err
    assert not list(tmp_path.glob("*.rules.yml"))


def _variant(**changes) -> rules_config.Bundle:
    doc = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())
    doc = copy.deepcopy(doc)
    for path, value in changes.items():
        section, key = path.split("__")
        doc[section][key] = value
    return rules_config.parse(doc, "variant.yml")


VARIANTS = {
    "fleet labels, other windows and quantiles": {
        "levels__fleet": ["cluster"],
        "levels__host": ["node"],
        "windows__rate": "2m",
        "windows__queue_growth": "10m",
        "inference__quantiles": [0.9],
    },
    "even container split, no selectors": {
        "cost__container_split": "even",
        "selectors__exporter": "",
        "selectors__sidecar": "",
        "selectors__dcgm": "",
        "selectors__gateway": "",
    },
    "electricity priced": {"electricity__dollars_per_kwh": 0.125, "electricity__source": "test tariff", "electricity__date": "2026-11"},
    "other weights and grades": {
        "efficiency__weights": {"gpu": 0.5, "numa": 0.25, "io": 0},
        "grades__A": 95,
        "efficiency__numa": {"local": 1, "mismatch": 0.25, "no_containers": 0.5},
    },
}


@requires("promtool")
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_pass_promtool_check(name, tmp_path, promtool):
    rendered = render.render(_variant(**VARIANTS[name]))
    for file, text in rendered.items():
        (tmp_path / file).write_text(text)
    result = subprocess.run(
        [promtool, "check", "rules", *sorted(str(p) for p in tmp_path.glob("*.rules.yml"))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_variants_render_what_they_configure():
    rendered = render.render(_variant(**VARIANTS["fleet labels, other windows and quantiles"]))
    assert "sum by (cluster, node) (gpu:axonize_gpu_cost:dollars_per_hour)" in rendered["cost.rules.yml"]
    assert "avg by (cluster) (gpu:axonize_efficiency_score:percent)" in rendered["gpu-efficiency.rules.yml"]
    assert "model:axonize_inference_generation_tokens:rate2m" in rendered["inference.rules.yml"]
    assert "deriv10m" in rendered["inference.rules.yml"] and 'quantile: "0.9"' in rendered["inference.rules.yml"]
    customers = rendered["customer-cost.rules.yml"]
    assert 'sum by (cluster, customer, model) (rate(axonize_gateway_prompt_tokens_total{job="axonize-gateway"}[2m]))' in customers
    assert "* on (cluster, model) group_left ()\n          model:axonize_gpu_cost:dollars_per_hour" in customers
    assert "sum by (cluster, customer) (customer_model:axonize_gpu_cost:dollars_per_hour)" in customers
    unselected = render.render(_variant(**VARIANTS["even container split, no selectors"]))["customer-cost.rules.yml"]
    assert "rate(axonize_gateway_requests_total[5m])" in unselected
    even = render.render(_variant(**VARIANTS["even container split, no selectors"]))["cost.rules.yml"]
    assert 'count by (uuid) (axonize_gpu_container_memory_used_bytes{gpu_instance_id=""})' in even
    assert "axonize_gpu_price_dollars_per_hour\n" in even  # no braces without matchers
    energy = render.render(_variant(**VARIANTS["electricity priced"]))["cost.rules.yml"]
    assert 'max by (instance, job, gpu, uuid) (axonize_gpu_power_watts{job="axonize-exporter"}) * 0.125 / 1000' in energy
    assert "gpu:axonize_gpu_energy_cost:dollars_per_hour" not in render.render()["cost.rules.yml"]
    weights = render.render(_variant(**VARIANTS["other weights and grades"]))["gpu-efficiency.rules.yml"]
    assert (
        "(200 * gpu:axonize_efficiency_gpu_score:ratio + on (uuid) group_left () 100 * gpu:axonize_efficiency_numa_score:ratio) / 3"
        in weights
    )
    assert "1 - 0.75 * axonize_gpu_container_numa_mismatch" in weights
