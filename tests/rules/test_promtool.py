"""promtool on the recording rules: `check rules` on every generated file, `test rules` on the hand-written
unit tests in tests/rules/promtool/, and every recorded name covered by some unit test's expression."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from axonize import bundle as rules_config
from axonize.rules import render
from tests.conftest import ROOT, requires

RULE_FILES = sorted((ROOT / "rules").glob("*.rules.yml"))
UNIT_TESTS = sorted((ROOT / "tests" / "rules" / "promtool").glob("*.test.yml"))
#: Unit tests of rules rendered only with some configuration: they are run against such a render.
ELECTRICITY_TESTS = ROOT / "tests" / "rules" / "promtool" / "with-electricity"


def recorded_names(text: str) -> set[str]:
    return {r["record"] for g in yaml.safe_load(text)["groups"] for r in g["rules"] if "record" in r}


def expressions_in(paths) -> list[str]:
    exprs = []
    for path in paths:
        for test in yaml.safe_load(Path(path).read_text())["tests"]:
            exprs += [t["expr"] for t in test.get("promql_expr_test", [])]
    return exprs


def _uncovered(names: set[str], exprs: list[str]) -> list[str]:
    return sorted(n for n in names if not any(re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", e) for e in exprs))


def test_there_are_rules_and_unit_tests():
    assert [p.name for p in RULE_FILES] == ["cost.rules.yml", "customer-cost.rules.yml", "gpu-efficiency.rules.yml", "inference.rules.yml"]
    assert {p.name for p in UNIT_TESTS} >= {"efficiency.test.yml", "cost.test.yml", "customer-cost.test.yml", "inference.test.yml"}


def test_every_recorded_name_has_a_unit_test():
    names = set().union(*(recorded_names(p.read_text()) for p in RULE_FILES))
    assert len(names) > 30
    exprs = expressions_in(UNIT_TESTS)
    assert not _uncovered(names, exprs), "recording rules without a promtool test"
    # a name only inside a longer one is not covered
    assert _uncovered({"gpu:axonize_gpu_cost:dollars", "fleet:axonize_gpu_cost:dollars_per_hour"}, exprs) == [
        "gpu:axonize_gpu_cost:dollars"
    ]


def test_rules_rendered_with_electricity_have_unit_tests_too():
    names = set().union(*(recorded_names(t) for t in render.render(_electricity_config()).values()))
    exprs = expressions_in(UNIT_TESTS) + expressions_in(ELECTRICITY_TESTS.glob("*.test.yml"))
    assert not _uncovered(names, exprs)


@requires("promtool")
@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path, promtool):
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@requires("promtool")
@pytest.mark.parametrize("path", UNIT_TESTS, ids=lambda p: p.name)
def test_promtool_test_rules(path, promtool):
    result = subprocess.run([promtool, "test", "rules", path.name], cwd=path.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def _electricity_config() -> rules_config.Bundle:
    doc = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())
    doc["electricity"] = {"dollars_per_kwh": 0.125, "source": "test tariff", "date": "2026-11"}
    return rules_config.parse(doc, "config-with-electricity.yml")


@requires("promtool")
def test_promtool_test_rules_with_electricity(tmp_path, promtool):
    """Energy cost rules exist only when electricity is priced: render them with $0.125/kWh and test them."""
    (tmp_path / "rules").mkdir()
    for name, text in render.render(_electricity_config()).items():
        (tmp_path / "rules" / name).write_text(text)
    tests = sorted(ELECTRICITY_TESTS.glob("*.test.yml"))
    assert tests
    for path in tests:
        shutil.copy(path, tmp_path / path.name)
    result = subprocess.run(
        [promtool, "test", "rules", *(p.name for p in tests)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@requires("promtool")
def test_a_wrong_expectation_fails(tmp_path, promtool):
    """The unit tests can fail: the same test with one expected value changed is reported."""
    source = ROOT / "tests" / "rules" / "promtool" / "efficiency.test.yml"
    text = source.read_text().replace("../../../rules/", str(ROOT / "rules") + "/")
    assert "value: 60\n" in text  # the fleet score (and GPU-D's): both then fail
    (tmp_path / "wrong.test.yml").write_text(text.replace("value: 60\n", "value: 61\n"))
    result = subprocess.run([promtool, "test", "rules", "wrong.test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "fleet:axonize_efficiency_score:percent" in result.stdout + result.stderr
