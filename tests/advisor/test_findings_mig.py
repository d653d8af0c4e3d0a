"""mig_unused, and the MIG catalog it names profiles from."""

from __future__ import annotations

import pytest

from axonize.advisor import mig_catalog
from axonize.advisor.findings import diagnose
from tests.advisor.hosts import GIB, busy, hgx_h200, job, l40s_x4


def mig(host):
    return [f for f in diagnose(host) if f.kind == "mig_unused"]


def test_small_inference_alone_on_a_whole_h200_gets_the_smallest_profile_and_its_cost():
    host = hgx_h200([job("embed", (6,), "64-127", kind="inference", memory=10 * GIB)], g6=busy(0.09, 12 * GIB))
    (f,) = mig(host)
    assert "1g.18gb" in f.title and f.gpus == (6,)
    assert f.dollars_per_month == pytest.approx(7.91 * 730 * 6 / 7)


def test_profile_grows_with_memory_and_activity():
    catalog = mig_catalog.lookup("NVIDIA H200", 150754820096)
    assert mig_catalog.smallest_fitting(catalog, 20 * GIB, 0.1).name == "1g.35gb"
    assert mig_catalog.smallest_fitting(catalog, 20 * GIB, 0.2).name == "2g.35gb"
    assert mig_catalog.smallest_fitting(catalog, 40 * GIB, 0.1).name == "3g.71gb"
    assert mig_catalog.smallest_fitting(catalog, 200 * GIB) is None


def test_not_raised_for_big_or_busy_or_shared_or_non_mig_gpus():
    big = hgx_h200([job("llm", (1,), "0-63", kind="inference", memory=90 * GIB)], g1=busy(0.1))
    hot = hgx_h200([job("llm", (1,), "0-63", kind="inference", memory=10 * GIB)], g1=busy(0.8))
    shared = hgx_h200(
        [job("a", (1,), "0-63", kind="inference", memory=10 * GIB), job("b", (1,), "0-63", kind="inference", memory=10 * GIB)], g1=busy(0.1)
    )
    training = hgx_h200([job("t", (1,), "0-63", memory=10 * GIB)], g1=busy(0.1))
    l40s = l40s_x4([job("llm", (0,), "0-63", kind="inference", memory=5 * GIB)], g0=busy(0.05))
    for host in (big, hot, shared, training, l40s):
        assert not mig(host)


@pytest.mark.parametrize(
    ("model", "profiles", "ok"),
    [
        ("NVIDIA H200", ["3g.71gb", "3g.71gb"], True),
        ("NVIDIA H200", ["4g.71gb", "3g.71gb"], True),
        ("NVIDIA H200", ["3g.71gb", "3g.71gb", "1g.18gb"], False),  # 9 memory slices
        ("NVIDIA H200", ["3g.71gb", "2g.35gb", "2g.35gb"], True),
        ("NVIDIA H200", ["1g.18gb"] * 7, True),
        ("NVIDIA H200", ["1g.18gb"] * 8, False),
        ("NVIDIA H200", ["4g.71gb", "4g.71gb"], False),  # one placement only
        ("NVIDIA H100 80GB HBM3", ["2g.20gb"] * 3 + ["1g.10gb"], True),
        ("NVIDIA A30", ["2g.12gb", "1g.6gb", "1g.6gb"], True),
        ("NVIDIA A30", ["2g.12gb", "2g.12gb", "1g.6gb"], False),
    ],
)
def test_valid_profile_combinations(model, profiles, ok):
    catalog = mig_catalog.lookup(model)
    assert mig_catalog.fits(catalog, [catalog.profile(p) for p in profiles]) is ok


def test_catalog_knows_the_models_and_not_others():
    assert mig_catalog.lookup("NVIDIA A100-SXM4-40GB").model == "A100 40GB"
    assert mig_catalog.lookup("NVIDIA A100-SXM4-80GB").model == "A100 80GB"
    assert mig_catalog.lookup("NVIDIA H100 NVL").model == "H100 NVL 94GB"
    assert mig_catalog.lookup("NVIDIA H20").model == "H20 96GB"
    assert mig_catalog.lookup("NVIDIA B200").model == "B200 180GB"
    assert mig_catalog.lookup("NVIDIA L40S") is None and mig_catalog.lookup("NVIDIA A10G") is None
    # usable memory below the name's figure where the capture measured it (H200 1g.18gb: 16 GiB)
    assert mig_catalog.lookup("NVIDIA H200").profile("1g.18gb").memory_bytes == 16 * GIB
