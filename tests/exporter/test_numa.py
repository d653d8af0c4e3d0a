"""NUMA nodes from sysfs and /proc/stat, process CPU placement, and the local/unpinned/remote decision."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from axonize.exporter.numa import (
    PLACEMENTS,
    CpuTime,
    HostNuma,
    NumaTopology,
    ProcFormatError,
    node_utilization,
    numa_mismatch,
    numa_placement,
    parse_cpulist,
    parse_proc_stat,
    pci_numa,
    read_cpus_allowed,
    read_node_memory,
    read_topology,
)
from axonize.exporter.runtime_context import RuntimeContext
from axonize.exporter.snapshot import Gpu, NumaNode, Process, Snapshot
from tests.conftest import FIXTURES

HOST = FIXTURES / "procfs" / "two-node-host"
PROC, SYS, ROOT = str(HOST / "proc"), str(HOST / "sys"), str(HOST / "root")
KIB = 1024


# --- cpulists ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, cpus",
    [
        ("0-3\n", {0, 1, 2, 3}),
        ("0-1,4,6-7", {0, 1, 4, 6, 7}),
        ("5", {5}),
        ("\n", set()),
        ("", set()),
        (" 0-51,104-155 ", set(range(52)) | set(range(104, 156))),
    ],
)
def test_parse_cpulist(text, cpus):
    assert parse_cpulist(text) == frozenset(cpus)


@pytest.mark.parametrize("text, says", [("0-", "'0-'"), ("3-1", "backwards"), ("a", "'a'"), ("0-3:2", "'0-3:2'")])
def test_parse_cpulist_rejects_garbage_by_item(text, says):
    with pytest.raises(ValueError, match=says):
        parse_cpulist(text)


# --- host topology and memory -----------------------------------------------------------------


def test_two_nodes_from_sysfs():
    topology, errors = read_topology(SYS)
    assert errors == []
    assert topology.from_sysfs
    assert topology.cpus_by_node == {0: frozenset(range(4)), 1: frozenset(range(4, 8))}
    assert topology.nodes_of([2, 3, 4]) == (0, 1)
    assert topology.nodes_of([6, 99]) == (1,)  # CPU 99 is in no node
    assert topology.cpu_nodes == (0, 1)


def test_a_machine_without_numa_sysfs_is_node_0_with_every_online_cpu(tmp_path):
    (tmp_path / "devices/system/cpu").mkdir(parents=True)
    (tmp_path / "devices/system/cpu/online").write_text("0-15\n")
    topology, errors = read_topology(str(tmp_path))
    assert errors == [] and not topology.from_sysfs
    assert topology.cpus_by_node == {0: frozenset(range(16))}


def test_without_any_sysfs_the_cpu_count_stands_in(tmp_path):
    topology, _ = read_topology(str(tmp_path / "nothing"))
    assert topology.cpus_by_node == {0: frozenset(range(os.cpu_count() or 1))}


def test_node_memory_in_bytes():
    assert read_node_memory(SYS, 0) == (65755948 * KIB, (65755948 - 12845676) * KIB)
    assert read_node_memory(SYS, 1) == (66060288 * KIB, (66060288 - 40960512) * KIB)


def test_a_memory_only_node_has_no_cpus(tmp_path):
    sys = tmp_path / "sys"
    shutil.copytree(HOST / "sys", sys)
    node = sys / "devices/system/node/node2"
    node.mkdir()
    (node / "cpulist").write_text("\n")
    (node / "meminfo").write_text("Node 2 MemTotal:       100663296 kB\nNode 2 MemFree:         99614720 kB\n")
    topology, nodes = HostNuma(str(sys), PROC).read([])
    assert topology.cpu_nodes == (0, 1)
    assert nodes[2] == NumaNode(
        node=2, cpus=0, cpu_utilization_ratio=None, memory_total_bytes=100663296 * KIB, memory_used_bytes=1048576 * KIB
    )


def test_sysfs_problems_are_errors_naming_the_file(tmp_path):
    sys = tmp_path / "sys"
    shutil.copytree(HOST / "sys", sys)
    (sys / "devices/system/node/node0/cpulist").write_text("0-3,x\n")
    (sys / "devices/system/node/node1/meminfo").write_text("Node 1 MemTotal: lots\nNode 1 MemFree: 1 kB\n")
    errors: list = []
    topology, nodes = HostNuma(str(sys), PROC).read(errors)
    assert [(e.source, e.location, e.kind) for e in errors] == [
        ("sysfs", f"{sys}/devices/system/node/node0/cpulist:1", "parse"),
        ("sysfs", f"{sys}/devices/system/node/node1/meminfo", "parse"),
    ]
    assert "'x'" in errors[0].message and errors[1].message.startswith("line 1: 'Node 1 MemTotal: lots'")
    assert topology.cpus_by_node[0] == frozenset() and nodes[1].memory_total_bytes is None
    assert nodes[0].memory_total_bytes == 65755948 * KIB  # the rest still read


# --- CPU busy ratio per node ------------------------------------------------------------------


def test_parse_proc_stat_uses_psutil_definitions():
    times = parse_proc_stat((HOST / "proc/stat").read_text())
    assert sorted(times) == list(range(8))
    # user nice system idle iowait irq softirq steal: busy = total - idle - iowait
    assert times[0] == CpuTime(busy=563826 + 255 + 152857 + 9752, total=563826 + 255 + 152857 + 4098647 + 2454 + 9752)
    assert times[4] == CpuTime(busy=3100000 + 240000 + 16791, total=4827791)


def test_parse_proc_stat_names_a_bad_line():
    with pytest.raises(ValueError, match="line 2: 'cpu0 1 2'"):
        parse_proc_stat("cpu  1 2 3 4\ncpu0 1 2\n")


def _second_stat(proc: Path) -> None:
    """1000 ticks later: node 0 CPUs 25 % busy, node 1 CPUs 90 % busy (100 of it guest time, inside user)."""
    lines = []
    for line in (HOST / "proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name[3:].isdigit():
            ticks = [int(v) for v in values]
            if int(name[3:]) < 4:
                delta = [200, 0, 50, 740, 10, 0, 0, 0, 0, 0]
            else:
                delta = [850, 0, 50, 100, 0, 0, 0, 0, 100, 0]
            line = " ".join([name] + [str(t + d) for t, d in zip(ticks, delta)])
        lines.append(line)
    (proc / "stat").write_text("\n".join(lines) + "\n")


def test_node_cpu_busy_ratio_needs_two_cycles(tmp_path):
    proc = tmp_path / "proc"
    shutil.copytree(HOST / "proc", proc)
    numa = HostNuma(SYS, str(proc))
    errors: list = []
    _, first = numa.read(errors)
    assert [n.cpu_utilization_ratio for n in first] == [None, None]
    _second_stat(proc)
    _, second = numa.read(errors)
    assert errors == []
    assert [n.cpu_utilization_ratio for n in second] == [pytest.approx(0.25), pytest.approx(0.9)]
    assert [(n.node, n.cpus) for n in second] == [(0, 4), (1, 4)]


def test_counters_that_went_backwards_are_skipped():
    topology = NumaTopology({0: frozenset({0, 1})})
    before = {0: CpuTime(100, 1000), 1: CpuTime(900, 1000)}
    after = {0: CpuTime(600, 2000), 1: CpuTime(10, 20)}  # CPU 1 was offlined and came back
    assert node_utilization(topology, before, after) == {0: 0.5}
    assert node_utilization(topology, before, before) == {}  # no time passed


def test_an_unreadable_proc_stat_is_an_error_and_resets_the_sample(tmp_path):
    numa = HostNuma(SYS, str(tmp_path))
    errors: list = []
    _, nodes = numa.read(errors)
    assert [(e.source, e.location, e.kind) for e in errors] == [("procfs", f"{tmp_path}/stat", "io")]
    assert nodes[0].memory_total_bytes == 65755948 * KIB


# --- the process side -------------------------------------------------------------------------


def test_cpus_allowed_of_a_process():
    assert read_cpus_allowed(PROC, 3101) == frozenset({2, 3, 4, 5})
    with pytest.raises(FileNotFoundError):
        read_cpus_allowed(PROC, 9999)


@pytest.mark.parametrize(
    "status, line_number, reason",
    [("Name:\tpython3\nCpus_allowed:\tff\n", 0, "no Cpus_allowed_list line"), ("Name:\tpython3\nCpus_allowed_list:\t0-3,z\n", 2, "'z'")],
)
def test_a_bad_status_file_is_a_format_error_with_its_line(tmp_path, status, line_number, reason):
    (tmp_path / "77").mkdir()
    (tmp_path / "77/status").write_text(status)
    with pytest.raises(ProcFormatError) as caught:
        read_cpus_allowed(str(tmp_path), 77)
    assert caught.value.line_number == line_number and reason in caught.value.reason


def test_a_bad_status_file_in_enrich_names_file_and_line(tmp_path):
    proc = tmp_path / "proc"
    shutil.copytree(HOST / "proc", proc)
    status = proc / "5101/status"
    status.write_text(status.read_text().replace("Cpus_allowed_list:\t4-7", "Cpus_allowed_list:\t4-"))
    snapshot = _snapshot([5101])
    RuntimeContext(str(proc), SYS, ROOT).enrich(snapshot)
    assert [(e.source, e.location, e.kind) for e in snapshot.errors] == [("procfs", f"{status}:45", "parse")]
    process = snapshot.gpus[0].processes[0]
    assert process.cpu_numa_nodes is None and process.container is not None


# --- placement ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "process_nodes, gpu_node, placement, mismatch",
    [
        ((1,), 1, "local", False),
        ((0, 1), 1, "unpinned", True),
        ((0,), 1, "remote", True),
        ((0, 2, 3), 1, "remote", True),
        ((0,), 0, "local", False),
        (None, 1, None, None),
        ((), 1, None, None),
        ((1,), None, None, None),
        ((0,), -1, None, None),  # sysfs numa_node -1: no NUMA information
    ],
)
def test_placement(process_nodes, gpu_node, placement, mismatch):
    assert numa_placement(process_nodes, gpu_node) == placement
    assert numa_mismatch(process_nodes, gpu_node) is mismatch
    assert placement is None or placement in PLACEMENTS


#: ``Cpus_allowed_list`` of each fixture PID -> its nodes and placement against the GPU on node 1.
PLACED = {
    1101: ((1,), "local"),  # 4-7
    1102: ((0, 1), "unpinned"),  # 0-7
    2101: ((1,), "local"),  # 4-7, Kubernetes static CPU manager
    2106: ((1,), "local"),
    2102: ((0,), "remote"),  # 0-3
    2103: ((1,), "local"),  # 6-7
    2104: ((0, 1), "unpinned"),
    2105: ((0, 1), "unpinned"),
    3101: ((0, 1), "unpinned"),  # 2-5 straddles the nodes
    3102: ((0, 1), "unpinned"),
    4101: ((0,), "remote"),  # 0-1
    5101: ((1,), "local"),
    5102: ((0, 1), "unpinned"),
    5103: ((1,), "local"),  # 4-5, garbled cgroup file does not matter here
    9999: (None, None),  # gone
}


def _snapshot(pids) -> Snapshot:
    gpu = Gpu(
        index=0,
        uuid="GPU-5c1d2a8e-0f3b-4e6a-9d7c-2b8e4f1a6c3d",
        pci_bus_id="00000000:B1:00.0",
        processes=[Process(pid=pid) for pid in pids],
    )
    return Snapshot(backend="nvml", gpus=[gpu])


def test_fixture_processes_are_placed_against_the_gpu_on_node_1():
    snapshot = _snapshot(PLACED)
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    gpu = snapshot.gpus[0]
    assert (gpu.numa_node, gpu.cpu_affinity) == (1, "4-7")  # from bus/pci/devices/0000:b1:00.0
    got = {p.pid: (p.cpu_numa_nodes, numa_placement(p.cpu_numa_nodes, gpu.numa_node)) for p in gpu.processes}
    assert got == PLACED


def test_fixture_host_numa_nodes():
    snapshot = _snapshot([])
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    assert snapshot.numa_nodes == [
        NumaNode(
            node=0, cpus=4, cpu_utilization_ratio=None, memory_total_bytes=65755948 * KIB, memory_used_bytes=(65755948 - 12845676) * KIB
        ),
        NumaNode(
            node=1, cpus=4, cpu_utilization_ratio=None, memory_total_bytes=66060288 * KIB, memory_used_bytes=(66060288 - 40960512) * KIB
        ),
    ]
    assert snapshot.errors == []


def test_a_backend_numa_node_is_kept():
    snapshot = _snapshot([])
    snapshot.gpus[0].numa_node, snapshot.gpus[0].cpu_affinity = 0, "0-3"
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    assert (snapshot.gpus[0].numa_node, snapshot.gpus[0].cpu_affinity) == (0, "0-3")


def test_a_single_node_vm_puts_its_gpu_on_node_0(tmp_path):
    sys = tmp_path / "sys"
    (sys / "devices/system/cpu").mkdir(parents=True)
    (sys / "devices/system/cpu/online").write_text("0-7\n")
    device = sys / "bus/pci/devices/0000:00:1e.0"
    device.mkdir(parents=True)
    (device / "numa_node").write_text("-1\n")
    snapshot = _snapshot([2102, 4101])
    snapshot.gpus[0].pci_bus_id = "00000000:00:1E.0"
    RuntimeContext(PROC, str(sys), ROOT).enrich(snapshot)
    gpu = snapshot.gpus[0]
    assert gpu.numa_node == 0 and gpu.cpu_affinity is None
    assert [numa_placement(p.cpu_numa_nodes, gpu.numa_node) for p in gpu.processes] == ["local", "local"]
    assert [(n.node, n.cpus, n.memory_total_bytes) for n in snapshot.numa_nodes] == [(0, 8, None)]


@pytest.mark.parametrize("bus_id", ["00000000:B1:00.0", "0000:b1:00.0"])
def test_pci_numa_accepts_nvml_and_sysfs_bus_ids(bus_id):
    assert pci_numa(SYS, bus_id) == (1, "4-7")


def test_pci_numa_of_an_unknown_device_is_unknown():
    assert pci_numa(SYS, "00000000:3B:00.0") == (None, None)
    assert pci_numa(SYS, "garbage") == (None, None)


def test_this_machines_numa_nodes_cover_its_cpus():
    topology, errors = read_topology("/sys")
    assert errors == []
    assert read_cpus_allowed("/proc", os.getpid()) & frozenset().union(*topology.cpus_by_node.values())
