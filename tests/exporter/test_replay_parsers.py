"""The replay parsers, checked value by value against real captures (tests/fixtures/nvidia, axonize/demo_data)."""

import re

import pytest

from axonize.exporter.replay import ReplaySource, topology
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA

MiB = 2**20
# the process name as the capture host printed it (a path on that host)
MEMHOG = re.search(r"Name\s+: (\S*memhog)", (NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt").read_text()).group(1)


def collect(*paths):
    return ReplaySource([str(p) for p in paths]).collect()


def test_h100_x8_text_report_value_by_value():
    snap = collect(DEMO_Q)
    assert snap.errors == []
    assert snap.driver_version == "565.57.01" and snap.cuda_version == "12.7"
    assert [g.index for g in snap.gpus] == list(range(8))
    g0, g7 = snap.gpus[0], snap.gpus[7]
    assert g0.uuid == "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"
    assert g0.pci_bus_id == "00000000:18:00.0"
    assert g0.serial == "1654423001593"
    assert g0.name == "NVIDIA H100 80GB HBM3" and g0.architecture == "Hopper"
    assert g0.memory_total_bytes == 81559 * MiB == 85520809984
    assert g0.memory_reserved_bytes == 454 * MiB
    assert g0.memory_used_bytes == 1 * MiB
    assert g0.memory_free_bytes == 81106 * MiB
    assert g0.bar1_total_bytes == 131072 * MiB
    assert g0.utilization_ratio == 0.0 and g0.memory_utilization_ratio == 0.0
    assert g0.power_watts == pytest.approx(100.89)
    assert g0.power_limit_watts == pytest.approx(700.0)
    assert g0.memory_power_watts == pytest.approx(69.61)
    assert g0.temperature_celsius == 30 and g0.memory_temperature_celsius == 36
    assert g0.clocks_hertz == {"graphics": 345e6, "sm": 345e6, "memory": 2619e6, "video": 765e6}
    assert g0.max_clocks_hertz["sm"] == 1980e6
    assert g0.pcie_tx_bytes_per_second == 567_000 and g0.pcie_rx_bytes_per_second == 559_000
    assert g0.pcie_replays == 7
    assert (g0.pcie_link_generation, g0.pcie_link_max_generation, g0.pcie_link_width) == (5, 5, 16)
    assert g0.performance_state == 0
    assert g0.fan_speed_ratio is None  # "N/A": absent, not 0
    assert g0.clock_event_reasons["gpu_idle"] is True
    assert g0.clock_event_reasons["hw_thermal_slowdown"] is False  # nested under "HW Slowdown" in the text
    assert g0.ecc_mode is True
    assert g0.ecc_errors_volatile == {
        ("sram", "correctable"): 0,
        ("sram", "uncorrectable"): 0,
        ("dram", "correctable"): 0,
        ("dram", "uncorrectable"): 0,
    }
    assert g0.remapped_rows == {"correctable": 0, "uncorrectable": 0}
    assert g0.remapped_rows_pending is False
    assert g0.retired_pages == {}  # all N/A on Hopper
    assert g0.mig_mode is False and g0.mig_devices == [] and g0.processes == []
    assert g7.uuid == "GPU-33135771-a848-ece1-b61e-489e221d663c"
    assert g7.power_watts == pytest.approx(75.09)
    assert g7.memory_power_watts == pytest.approx(44.07)
    assert g7.pcie_tx_bytes_per_second == 658_000 and g7.pcie_replays == 0


def test_a100_x4_dram_correctable_errors():
    snap = collect(NVIDIA / "a100-sxm-x4_drv555_nvidia-smi-q.txt")
    gpu = snap.gpus[1]
    assert gpu.uuid == "GPU-72d87681-01db-370e-567d-41afcf20fad0"
    assert gpu.ecc_errors_volatile[("dram", "correctable")] == 353
    assert gpu.ecc_errors_aggregate[("dram", "correctable")] == 353
    assert snap.gpus[0].ecc_errors_volatile[("dram", "correctable")] == 0
    assert gpu.power_watts == pytest.approx(60.31) and gpu.temperature_celsius == 22


def test_h200_mig_text_report_with_gpu_list():
    snap = collect(NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt")
    assert snap.errors == []
    (gpu,) = snap.gpus
    assert gpu.mig_mode is True
    assert gpu.utilization_ratio is None  # N/A under MIG
    assert gpu.power_watts == pytest.approx(294.94)  # "Average Power Draw" (driver 590)
    assert gpu.power_instant_watts == pytest.approx(292.14)
    assert gpu.clock_event_seconds == {
        "sw_power_cap": 0,
        "sync_boost": 0,
        "sw_thermal_slowdown": 0,
        "hw_thermal_slowdown": 0,
        "hw_power_brake_slowdown": 0,
    }
    assert gpu.remapped_rows == {}  # "Remapped Rows : N/A"
    devs = [(d.index, d.gpu_instance_id, d.compute_instance_id, d.profile, d.multiprocessor_count) for d in gpu.mig_devices]
    assert devs == [
        (0, 2, 0, "1c.3g.71gb", 16),
        (1, 2, 1, "2c.3g.71gb", 32),
        (2, 3, 0, "2g.35gb", 32),
        (3, 9, 0, "1g.18gb", 16),
        (4, 10, 0, "1g.18gb", 16),
    ]
    assert gpu.mig_devices[0].memory_total_bytes == 71424 * MiB
    assert gpu.mig_devices[0].memory_used_bytes == 16925 * MiB
    assert gpu.mig_devices[1].uuid == "MIG-00000001-0000-0000-0000-000000000001"
    procs = [(p.pid, p.name, p.type, p.used_memory_bytes, p.gpu_instance_id, p.compute_instance_id) for p in gpu.processes]
    assert procs == [
        (12249, MEMHOG, "C", 2194 * MiB, 2, 1),
        (12250, MEMHOG, "C", 1170 * MiB, 2, 1),
        (12267, "./gpu_burn", "C", 13526 * MiB, 2, 1),
    ]


def test_l40s_and_h100_load_reports():
    l40s = collect(NVIDIA / "l40s_drv595_nvidia-smi-q_load.txt").gpus[0]
    assert l40s.name == "NVIDIA L40S"
    assert l40s.utilization_ratio == pytest.approx(0.09)
    assert l40s.memory_total_bytes == 46068 * MiB
    h100 = collect(NVIDIA / "h100-80gb-hbm3_drv590_nvidia-smi-q_load.txt").gpus[0]
    assert h100.utilization_ratio == 1.0 and h100.power_watts == pytest.approx(629.45)
    assert [(p.pid, p.gpu_instance_id) for p in h100.processes][:2] == [(11327, None), (11328, None)]


def test_xml_a100_mig_v12():
    snap = collect(NVIDIA / "a100-sxm4-80gb-mig_drv535_nvidia-smi-q-x.xml")
    (gpu,) = snap.gpus
    assert gpu.uuid == "GPU-513536b6-7d19-9063-b049-1e69664bb298"
    assert gpu.memory_total_bytes == 81920 * MiB and gpu.memory_reserved_bytes == 869 * MiB
    assert gpu.pcie_tx_bytes_per_second == 4_000_000
    assert gpu.power_watts == pytest.approx(67.03) and gpu.power_limit_watts == 500
    assert gpu.utilization_ratio is None
    assert [(d.gpu_instance_id, d.compute_instance_id, d.multiprocessor_count) for d in gpu.mig_devices] == [
        (3, 0, 14),
        (4, 0, 14),
        (5, 0, 14),
        (6, 0, 14),
    ]
    assert gpu.mig_devices[0].memory_total_bytes == 19968 * MiB
    # the capture says <attached_gpus>4 but holds one <gpu>: reported, not fatal
    assert [(e.kind, e.location.rsplit(":", 1)[1]) for e in snap.errors] == [("mismatch", "7")]


def test_xml_a10g_old_element_names_and_processes():
    (gpu,) = collect(NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml").gpus
    assert gpu.power_watts == pytest.approx(25.58)  # <power_readings> (driver 515)
    assert gpu.power_limit_watts == 300
    assert gpu.clock_event_reasons["gpu_idle"] is True  # <clocks_throttle_reasons>
    assert gpu.fan_speed_ratio == 0.0
    assert gpu.pcie_link_width == 8
    assert [(p.pid, p.name, p.type, p.used_memory_bytes) for p in gpu.processes] == [(725, "/usr/lib/xorg/Xorg", "G", 22 * MiB)]


def test_xml_v13_clock_event_counters():
    (gpu,) = collect(NVIDIA / "rtx4000-sff-ada_drv595_nvidia-smi-q-x_v13.xml").gpus
    assert gpu.clock_event_seconds["sw_power_cap"] == pytest.approx(4251.825415)
    assert gpu.power_watts == pytest.approx(8.81) and gpu.power_instant_watts == pytest.approx(8.44)
    assert gpu.fan_speed_ratio == pytest.approx(0.30)
    assert gpu.mig_devices == []  # <mig_devices>None</mig_devices>
    assert [p.type for p in gpu.processes] == ["G", "G", "C", "C+G"]


def test_topology_tab_separated_hgx():
    topo = topology.parse(DEMO_TOPO.read_text(), str(DEMO_TOPO))
    assert topo.gpu_count == 8
    assert len(topo.links) == 56 and {(link.path, link.nvlinks) for link in topo.links} == {("NVLINK", 18)}
    assert topo.placement[0].cpu_affinity == "0-63,128-191" and topo.placement[0].numa_node == 0
    assert topo.placement[7].cpu_affinity == "64-127,192-255" and topo.placement[7].numa_node == 1
    assert topo.placement[3].memory_numa_node is None  # N/A on x86
    assert topo.errors == []


def test_a_bad_cpu_affinity_is_a_value_error_for_that_gpu_not_a_refused_matrix():
    text = DEMO_TOPO.read_text().replace("0-63,128-191", "0-3,x-y", 1)
    topo = topology.parse(text, "topo.txt")
    assert topo.placement[0].cpu_affinity is None and topo.placement[0].numa_node == 0
    assert topo.placement[1].cpu_affinity == "0-63,128-191"
    ((line, message),) = topo.errors
    assert "'0-3,x-y'" in message and text.splitlines()[line - 1].startswith("GPU0")


def test_topology_merged_into_snapshot():
    snap = collect(DEMO_Q, DEMO_TOPO)
    assert snap.errors == []
    assert [g.numa_node for g in snap.gpus] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert len(snap.links) == 56


def test_single_gpu_topology():
    topo = topology.parse((NVIDIA / "h200-1gpu-vm_drv590_topo-m.txt").read_text(), "t")
    assert topo.gpu_count == 1 and topo.links == []
    assert topo.placement[0].cpu_affinity == "0-23" and topo.placement[0].numa_node == 0


def test_topology_that_does_not_fit_is_reported_not_applied():
    snap = collect(NVIDIA / "h200_drv590_nvidia-smi-q_load.txt", DEMO_TOPO)
    assert len(snap.gpus) == 1 and snap.links == [] and snap.gpus[0].numa_node is None
    assert [e.kind for e in snap.errors] == ["mismatch"]


def test_capture_bundle_takes_load_report_topology_and_list():
    snap = collect(NVIDIA / "linux-x86_64__nvidia-h200-mig__590.48.01.txt")
    assert snap.errors == []
    (gpu,) = snap.gpus
    assert [d.profile for d in gpu.mig_devices] == ["1c.3g.71gb", "2c.3g.71gb", "2g.35gb", "1g.18gb", "1g.18gb"]
    assert gpu.numa_node == 0 and gpu.cpu_affinity == "0-23"
    assert len(gpu.processes) == 3
