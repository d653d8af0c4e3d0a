"""samples.py: the exporter's real output (replaying captures) and real saved /metrics texts -> the Host.

Expectations are read from the capture files themselves (the ``GPU`` sections of ``nvidia-smi -q``, the cells
of ``topo -m``, the lines of ``-L``, the sample lines of a saved text), not written down here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from axonize.advisor import replay, scenarios
from axonize.advisor.samples import SamplesError, host_of, parse_text
from axonize.cpulist import format_cpulist, parse_cpulist

ROOT = Path(__file__).resolve().parents[2]
NVIDIA = ROOT / "tests" / "fixtures" / "nvidia"
REAL = NVIDIA / "h200-real"


def read_host(paths, hostname=""):
    inputs = replay.read_inputs([str(p) for p in paths], hostname)
    return host_of(inputs.samples, inputs.sources)


def topo_cells(path: str) -> dict[str, list[str]]:
    """``{"GPU0": [cells...]}`` and the header under ``""`` from a topo -m capture (TAB separated)."""
    rows = {}
    for line in Path(path).read_text().splitlines():
        cells = [re.sub(r"\x1b\[\d+m", "", c).strip() for c in line.split("\t")]
        if line.startswith("\t"):
            rows[""] = cells[1:]
        elif re.match(r"GPU\d+$", cells[0]):
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_scenario_captures_give_the_host_of_the_files(name):
    sc = scenarios.files(name)
    q, topo = sc.captures
    host = read_host(sc.captures, hostname=name)
    text = Path(q).read_text()
    uuids = re.findall(r"GPU UUID\s+: (\S+)", text)
    assert [g.uuid for g in host.gpus] == uuids
    assert [g.index for g in host.gpus] == list(range(len(uuids)))
    used = [float(m) * 2**20 for m in re.findall(r"FB Memory Usage\n.*\n.*\n\s+Used\s+: (\d+) MiB", text)]
    assert [g.memory_used_bytes for g in host.gpus] == used
    utilization = [int(m) / 100 for m in re.findall(r"Utilization\n\s+GPU\s+: (\d+) %", text)]
    assert [g.utilization_ratio for g in host.gpus] == utilization

    cells = topo_cells(topo)
    head = cells.pop("")
    numa_col, cpu_col = head.index("NUMA Affinity"), head.index("CPU Affinity")
    for g in host.gpus:
        row = cells[f"GPU{g.index}"]
        assert g.numa_node == int(row[numa_col])
        assert format_cpulist(g.cpu_affinity) == row[cpu_col]
    nodes = {int(r[numa_col]) for r in cells.values()}
    assert [n.node for n in host.numa_nodes] == sorted(nodes)
    for n in host.numa_nodes:
        assert n.cpus == frozenset().union(*(parse_cpulist(r[cpu_col]) for r in cells.values() if int(r[numa_col]) == n.node))

    expected = set()
    for a, row in cells.items():
        for b in range(len(host.gpus)):
            i = int(a[3:])
            if i < b:
                cell = row[head.index(f"GPU{b}")]
                nv = re.match(r"NV(\d+)$", cell)
                expected.add((i, b, "NVLINK" if nv else cell, int(nv.group(1)) if nv else 0))
    assert {(k.gpu, k.peer_gpu, k.path, k.nvlinks) for k in host.links} == expected
    assert host.hostname == name
    assert host.workloads == ()  # a replay cannot attribute processes to containers: the workloads file does


def test_mig_instances_from_the_real_h200_mig_capture():
    q, listing = NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"
    host = read_host([q, listing])
    expected = re.findall(r"MIG (\S+)\s+Device\s+\d+: \(UUID: (MIG-[0-9a-f-]+)\)", listing.read_text())
    gpu = host.gpus[0]
    assert gpu.mig_enabled
    assert sorted((m.profile, m.uuid) for m in gpu.mig_instances) == sorted(expected)
    assert all(m.memory_total_bytes and m.memory_total_bytes > 0 for m in gpu.mig_instances)


def test_saved_exporter_and_sidecar_texts_of_a_real_h200():
    exporter, sidecar = REAL / "h200_drv580_axonize-exporter_load.prom", REAL / "h200_drv580_axonize-sidecar_load.prom"
    host = read_host([exporter, sidecar])
    text = exporter.read_text()
    assert host.hostname == re.search(r'axonize_host_info\{.*hostname="([^"]+)"', text).group(1)
    total = float(re.search(r"^axonize_gpu_memory_total_bytes\{.*\} (\S+)$", text, re.M).group(1))
    assert host.gpus[0].memory_total_bytes == total
    cpus = re.search(r'axonize_gpu_cpu_affinity_info\{cpus="([^"]+)"', text).group(1)
    assert host.gpus[0].cpu_affinity == parse_cpulist(cpus)
    # the sidecar's model server on the GPU whose only processes run outside containers: one workload
    side = sidecar.read_text()
    model = re.search(r'axonize_inference_server_gpu_info\{model="([^"]+)"', side).group(1)
    (w,) = host.workloads
    assert (w.name, w.model, w.kind, w.gpus) == (model, model, "inference", (0,))
    assert w.engine == re.search(r'axonize_inference_kv_cache_usage_ratio\{engine="([^"]+)"', side).group(1)
    held = float(re.search(r"^axonize_gpu_container_memory_used_bytes\{.*\} (\S+)$", text, re.M).group(1))
    assert w.memory_bytes == held
    placement = re.search(r'^axonize_gpu_container_numa_placement_info\{.*placement="(\w+)"', text, re.M).group(1)
    assert w.numa_placement == ((0, placement),)  # the exporter's judgement of its processes' CPUs


def test_a_numa_mismatch_without_its_placement_info_still_counts():
    """Only the 0/1 gauge (a Prometheus that dropped the info series, or an older exporter): "mismatch"; the gauge
    wins where the two disagree, as the rules read the gauge."""
    gpu0, gpu1 = 'gpu="0",uuid="GPU-a"', 'gpu="1",uuid="GPU-b"'
    ctr = 'container="c",container_id="abc",container_runtime="docker"'
    text = "\n".join(
        [
            f'axonize_gpu_info{{{gpu0},model="NVIDIA L40S",mig_mode="N/A"}} 1',
            f'axonize_gpu_info{{{gpu1},model="NVIDIA L40S",mig_mode="N/A"}} 1',
            f"axonize_gpu_container_memory_used_bytes{{{gpu0},{ctr}}} 1e9",
            f"axonize_gpu_container_memory_used_bytes{{{gpu1},{ctr}}} 1e9",
            f"axonize_gpu_container_numa_mismatch{{{gpu0},{ctr}}} 1",
            f"axonize_gpu_container_numa_mismatch{{{gpu1},{ctr}}} 0",
            f'axonize_gpu_container_numa_placement_info{{{gpu1},{ctr},placement="remote"}} 1',
            "",
        ]
    )
    (w,) = host_of(parse_text(text, "t.prom"), ["t.prom"], fallback="t").workloads
    assert w.numa_placement == ((0, "mismatch"), (1, "local"))


def test_the_host_is_named_by_the_exporter_else_the_fallback():
    info = 'axonize_gpu_info{gpu="0",uuid="GPU-a",model="NVIDIA L40S",mig_mode="N/A"} 1\n'
    assert host_of(parse_text(info, "t"), fallback="gpu-box").hostname == "gpu-box"
    named = info + 'axonize_host_info{hostname="node-9"} 1\n'
    assert host_of(parse_text(named, "t"), fallback="gpu-box").hostname == "node-9"
    assert host_of(parse_text(named, "t"), hostname="given", fallback="gpu-box").hostname == "given"


def test_a_replay_is_named_after_its_nvidia_smi_report():
    sc = scenarios.files("l40sx4")
    inputs = replay.read_inputs([sc.captures[1], sc.captures[0]])  # topo -m first: still the -q report's name
    assert inputs.name == Path(sc.captures[0]).stem


def test_named_containers_and_mig_instances_become_workloads():
    gpu = 'gpu="0",uuid="GPU-a"'
    ctr = 'container="server",container_id="abc",container_runtime="containerd",namespace="ml",pod="llm-0",pod_uid="u",systemd_unit=""'
    text = "\n".join(
        [
            f'axonize_gpu_info{{{gpu},model="NVIDIA H100 80GB HBM3",mig_mode="enabled"}} 1',
            f'axonize_mig_info{{{gpu},mig_index="0",gpu_instance_id="2",compute_instance_id="0",profile="3g.40gb",mig_uuid="MIG-x"}} 1',
            f'axonize_gpu_container_memory_used_bytes{{{gpu},gpu_instance_id="2",compute_instance_id="0",{ctr}}} 2e10',
            f'axonize_gpu_container_sm_utilization_ratio{{{gpu},gpu_instance_id="2",compute_instance_id="0",{ctr}}} 0.25',
            "",
        ]
    )
    host = host_of(parse_text(text, "t.prom"), ["t.prom"])
    (w,) = host.workloads
    assert (w.name, w.container, w.mig, w.gpus, w.memory_bytes, w.sm_active_ratio) == (
        "ml/llm-0/server",
        "ml/llm-0/server",
        ((0, 2),),
        (),
        2e10,
        0.25,
    )
    assert [m.profile for m in host.gpus[0].mig_instances] == ["3g.40gb"]


def test_malformed_text_names_the_file_and_line(tmp_path):
    bad = tmp_path / "metrics.prom"
    bad.write_text('# TYPE axonize_gpu_info gauge\naxonize_gpu_info{gpu="0"} 1\naxonize_gpu_up{gpu="0" 1\n')
    with pytest.raises(SamplesError, match=r"metrics\.prom:3: not Prometheus text"):
        parse_text(bad.read_text(), str(bad))


def test_two_hosts_in_the_samples_are_refused(tmp_path):
    sc = scenarios.files("l40sx4")
    saved = tmp_path / "l40s.prom"
    saved.write_text(_exporter_text(sc.captures, "l40s-node"))
    with pytest.raises(SamplesError, match=r"2 hosts.*--selector"):
        read_host([REAL / "h200_drv580_axonize-exporter_load.prom", saved])


def test_text_without_the_exporter_series_is_refused():
    with pytest.raises(SamplesError, match=r"sidecar\.prom: no axonize_gpu_info"):
        host_of(parse_text((REAL / "h200_drv580_axonize-sidecar_load.prom").read_text(), "sidecar.prom"), ["sidecar.prom"])


def _exporter_text(captures, hostname: str) -> str:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "axonize.exporter", "--replay", *captures, "--replay.hostname", hostname, "--print"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
