"""The packaged scenarios: their captures are what derive.py makes from the real ones, every file has its
provenance, and the host they form holds the story their workloads file tells."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from axonize.advisor import replay, scenarios, workloads
from axonize.advisor.samples import host_of

ROOT = Path(__file__).resolve().parents[2]
#: The real captures derive.py reads, as copied into this repository (same bytes as the shared fixtures).
REAL = {
    "h200_drv590_nvidia-smi-q_load.txt": ROOT / "tests/fixtures/nvidia/h200_drv590_nvidia-smi-q_load.txt",
    "l40s_drv595_nvidia-smi-q_load.txt": ROOT / "tests/fixtures/nvidia/l40s_drv595_nvidia-smi-q_load.txt",
    "h200-1gpu-vm_drv590_topo-m.txt": ROOT / "tests/fixtures/nvidia/h200-1gpu-vm_drv590_topo-m.txt",
    "h200-x8-hgx_topo-m_nics.txt": ROOT / "axonize/demo_data/h200-x8-hgx_topo-m_nics.txt",
}


def test_captures_are_what_derive_makes_from_the_real_ones(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("derive", ROOT / "advisor/scenarios/derive.py")
    derive = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "derive", derive)  # its dataclasses look their module up
    spec.loader.exec_module(derive)
    src = tmp_path / "real"
    src.mkdir()
    for name, path in REAL.items():
        shutil.copy(path, src / name)
    for name in scenarios.SCENARIOS:
        (tmp_path / name).mkdir()
    derive.main(str(src), tmp_path)
    for name in scenarios.SCENARIOS:
        for capture in scenarios.files(name).captures:
            made = tmp_path / name / Path(capture).name
            assert made.read_bytes() == Path(capture).read_bytes(), f"{capture} is not what derive.py makes: run it again"


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_every_file_has_its_provenance(name):
    sc = scenarios.files(name)
    folder = Path(sc.workloads).parent
    sources = (folder / "SOURCES.md").read_text()
    for path in folder.iterdir():
        if path.name != "SOURCES.md":
            assert f"`{path.name}`" in sources, f"{name}/SOURCES.md does not say where {path.name} comes from"


def test_unknown_scenario():
    with pytest.raises(ValueError, match="unknown scenario 'h100'; scenarios: h200x8, l40sx4"):
        scenarios.files("h100")


def host(name):
    sc = scenarios.files(name)
    declared = workloads.load(sc.workloads)
    inputs = replay.read_inputs(list(sc.captures), declared.host)
    return workloads.apply(declared, host_of(inputs.samples, inputs.sources))


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_the_story_is_in_the_host(name):
    """A multi-GPU job split across NUMA nodes over SYS while same-node GPUs are idle, a workload whose CPUs are
    off its GPU's node, a well placed or idle GPU: what the findings must then find (tests/advisor/test_findings.py)."""
    h = host(name)
    multi = [w for w in h.workloads if len(w.gpus) > 1]
    assert multi, "the scenario has a multi-GPU job"
    for w in multi:
        assert len({h.gpu(g).numa_node for g in w.gpus}) == 2
        assert any(h.link(a, b).path == "SYS" for a in w.gpus for b in w.gpus if a < b)
    busy = {g for w in h.workloads for g in w.gpus}
    idle = [g for g in h.gpus if g.index not in busy]
    assert idle and all(g.utilization_ratio == 0 for g in idle)
    off_node = [w for w in h.workloads if w.cpus and any(not w.cpus <= h.gpu(g).cpu_affinity for g in w.gpus)]
    assert off_node


def test_h200x8_small_inference_alone_on_whole_gpus():
    h = host("h200x8")
    inference = [w for w in h.workloads if w.kind == "inference"]
    assert len(inference) == 2 and len([w for w in h.workloads if w.kind == "training"]) == 3
    for w in inference:
        (g,) = w.gpus
        assert w.memory_bytes < h.gpu(g).memory_total_bytes / 4
        assert [o for o in h.workloads if g in o.gpus] == [w]
