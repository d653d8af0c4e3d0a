"""pcie_degraded, busy_but_idle, gpu_waiting, throttling."""

from __future__ import annotations

from axonize.advisor.findings import diagnose
from tests.advisor.hosts import busy, clean_hgx, hgx_h200, job, l40s_x4

IO = ("pcie_degraded", "busy_but_idle", "gpu_waiting", "throttling")


def io(host):
    return {(f.kind, f.gpus) for f in diagnose(host) if f.kind in IO}


def test_narrow_link_always_and_low_generation_only_while_busy():
    assert io(l40s_x4(g1={**busy(), "pcie_width_lanes": 8})) == {("pcie_degraded", (1,))}
    assert io(l40s_x4(g1={**busy(), "pcie_generation": 1})) == {("pcie_degraded", (1,))}
    assert io(l40s_x4(g1={"pcie_generation": 1})) == set()  # idle: the link trains down to save power


def test_busy_but_idle_needs_high_nvml_and_low_sm_active():
    assert io(hgx_h200(g2={"utilization_ratio": 0.97, "sm_active_ratio": 0.12})) == {("busy_but_idle", (2,))}
    assert io(hgx_h200(g2={"utilization_ratio": 0.97, "sm_active_ratio": 0.7})) == set()


def test_gpu_waiting_when_the_queue_grows_on_an_idle_gpu():
    waiting = [job("vllm", (3,), "0-63", kind="inference", queue_waiting=40)]
    assert io(hgx_h200(waiting, g3={"utilization_ratio": 0.1, "sm_active_ratio": 0.05})) == {("gpu_waiting", (3,))}
    assert io(hgx_h200(waiting, g3=busy(0.9))) == set()


def test_throttling_thermal_is_a_warning_power_cap_info():
    found = {
        f.gpus: f.severity
        for f in diagnose(hgx_h200(g0={"throttle_reasons": ("hw_thermal_slowdown",)}, g1={"throttle_reasons": ("sw_power_cap",)}))
        if f.kind == "throttling"
    }
    assert found == {(0,): "warning", (1,): "info"}
    assert io(hgx_h200(g0={"throttle_reasons": ("gpu_idle",)})) == set()


def test_clean_host_has_no_io_finding():
    assert io(clean_hgx()) == set()
