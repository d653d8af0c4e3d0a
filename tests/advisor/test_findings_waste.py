"""idle_gpu with its monthly cost from the bundle's hours, efficiency_grade naming what drags the score down."""

from __future__ import annotations

import pytest

from axonize import bundle as bundle_module
from axonize.advisor.findings import diagnose
from axonize.advisor.score import score_host
from tests.advisor.hosts import busy, clean_hgx, hgx_h200, job


def test_idle_gpus_and_their_cost():
    host = clean_hgx()
    idle = [f for f in diagnose(host) if f.kind == "idle_gpu"]
    assert sorted(f.gpus for f in idle) == [(0,), (1,), (2,), (3,)]
    hours = float(bundle_module.load().hours_per_month)
    assert all(f.dollars_per_month == pytest.approx(7.91 * hours) for f in idle)


def test_a_fully_busy_host_has_no_idle_finding():
    host = hgx_h200([job("all", range(8), "0-255")], **{f"g{i}": busy() for i in range(8)})
    assert not [f for f in diagnose(host) if f.kind == "idle_gpu"]


def test_grade_finding_names_the_score_and_the_biggest_drags():
    loads = {f"g{i}": busy(0.95, 140 * 2**30) for i in (1, 3, 4, 5, 6, 7)}
    host = hgx_h200([job("t", (0,), "64-127")], g0=busy(0.5), **loads)
    (f,) = [f for f in diagnose(host) if f.kind == "efficiency_grade"]
    score = score_host(host)
    assert f"{score.score:.1f}/100, grade {score.grade}" in f.title
    assert "GPU 2 idle" in f.explanation and "GPU 0 NUMA mismatch" in f.explanation
    assert f.severity == ("warning" if score.grade in ("D", "F") else "info")


def test_findings_are_sorted_by_severity_then_cost():
    found = diagnose(hgx_h200([job("t", (0,), "64-127")], g0=busy(0.5), g1={"throttle_reasons": ("sw_power_cap",)}))
    order = [("critical", "warning", "info").index(f.severity) for f in found]
    assert order == sorted(order)
    warnings = [f.dollars_per_month or 0 for f in found if f.severity == "warning"]
    assert warnings == sorted(warnings, reverse=True)
