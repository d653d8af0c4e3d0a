"""workloads.py: the workloads file checked against the host it describes; errors name the file, line and key."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from axonize.advisor import replay, scenarios, workloads
from axonize.advisor.samples import host_of
from axonize.cpulist import parse_cpulist
from axonize.yaml_file import ConfigError


@pytest.fixture(scope="module")
def h200():
    sc = scenarios.files("h200x8")
    inputs = replay.read_inputs(list(sc.captures), "h200-node")
    return host_of(inputs.samples, inputs.sources)


def write(tmp_path, text: str) -> str:
    path = tmp_path / "workloads.yml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_scenario_file_is_merged_as_written(h200):
    path = scenarios.files("h200x8").workloads
    raw = yaml.safe_load(open(path))["workloads"]
    host = workloads.apply(workloads.load(path), h200)
    assert [w.name for w in host.workloads] == [e["name"] for e in raw]
    for w, e in zip(host.workloads, raw, strict=True):
        assert (w.kind, w.gpus, w.cpus) == (e["kind"], tuple(e["gpus"]), parse_cpulist(e["cpus"]))
        assert w.memory_bytes == workloads.parse_bytes(e["memory"])
        assert w.model == e.get("model") and w.engine == e.get("engine")


def test_memory_is_measured_when_not_given(tmp_path, h200):
    host = workloads.apply(workloads.load(write(tmp_path, "workloads: [{name: a, kind: inference, gpus: [4]}]\n")), h200)
    assert host.workloads[0].memory_bytes == h200.gpu(4).memory_used_bytes


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            """\
            workloads:
              - {name: a, kind: training, gpus: [0]}
              - {name: b, kind: training, gpus: [1]}
              - name: c
                kind: training
                gpus: [7, 9]
            """,
            r"workloads\.yml:6: workloads\[2\]\.gpus: GPU 9 does not exist on host h200-node \(GPUs 0-7\)",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [1], memory: 200GiB}]\n",
            r"workloads\[0\]\.memory: 200\.0 GiB per GPU is more than GPU 1's 140\.4 GiB",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [1, 2], tensor_parallel: 16}]\n",
            r"workloads\[0\]\.tensor_parallel: 16 GPUs in one group, host h200-node has 8",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [1, 2, 3], tensor_parallel: 2}]\n",
            r"tensor_parallel: a group of 2 does not divide its 3 GPUs",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [1], cpus: 0-300}]\n",
            r"workloads\[0\]\.cpus: CPUs 256-300 are not CPUs of host h200-node",
        ),
        ("workloads: [{name: a, kind: training, container: ml/x}]\n", r"workloads\[0\]\.container: no container 'ml/x' uses a GPU"),
        (
            "workloads: [{name: a, kind: inference, mig: [{gpu: 3, gpu_instance_id: 1}]}]\n",
            r"workloads\[0\]\.mig\[0\]\.gpu_instance_id: GPU 3 has no MIG GPU instance 1",
        ),
    ],
)
def test_needs_the_host_cannot_meet(tmp_path, h200, text, message):
    with pytest.raises(ConfigError, match=message):
        workloads.apply(workloads.load(write(tmp_path, text)), h200)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("workloads:\n  - name: a\n    kind: training\n    gpus: [0\n", r"workloads\.yml:5: not valid YAML"),
        (
            "workloads: [{name: a, kind: batch, gpus: [0]}]\n",
            r"workloads\.yml:1: workloads\[0\]\.kind: must be one of training, inference, got 'batch'",
        ),
        ("workloads: [{name: a, kind: training, gpus: [0], colour: red}]\n", r"workloads\[0\]\.colour: unknown key"),
        ("workloads: []\n", r"workloads\.yml:1: workloads: list at least one workload"),
        ("workloads: [{name: a, kind: training}]\n", r"workloads\[0\]: give exactly one of gpus, container or mig"),
        ("workloads: [{name: a, kind: training, gpus: [0], container: x}]\n", r"not gpus and container"),
        (
            "workloads: [{name: a, kind: training, gpus: [0], cpus: 3-1}]\n",
            r"workloads\[0\]\.cpus: must be a Linux cpulist.*runs backwards",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [0], memory: lots}]\n",
            r"workloads\[0\]\.memory: must be bytes or a size like '40GiB'",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [0]}, {name: a, kind: training, gpus: [1]}]\n",
            r"workloads\[1\]\.name: 'a' is the name of workloads\[0\] too",
        ),
        (
            "workloads: [{name: a, kind: training, gpus: [-1]}]\n",
            r"workloads\.yml:1: workloads\[0\]\.gpus\[0\]: must be a GPU index \(an integer >= 0\), got -1$",
        ),
    ],
)
def test_malformed_file(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        workloads.load(write(tmp_path, text))


@pytest.mark.parametrize(("text", "size"), [("40GiB", 40 * 2**30), ("512MB", 512e6), (1024, 1024.0), ("1.5 TiB", 1.5 * 2**40)])
def test_sizes(text, size):
    assert workloads.parse_bytes(text) == size


def test_a_container_keeps_the_exporters_numa_placement_unless_the_file_pins_it(tmp_path):
    from axonize.advisor.model import Gpu, Host, Workload

    gpus = tuple(Gpu(i, f"GPU-{i}", "NVIDIA L40S", 48e9, numa_node=i) for i in (0, 1))
    measured = Workload(
        "ml/a/c", "inference", gpus=(0, 1), container="ml/a/c", source="containers", numa_placement=((0, "local"), (1, "remote"))
    )
    host = Host("h", gpus, workloads=(measured,))
    kept = workloads.apply(workloads.load(write(tmp_path, "workloads: [{name: a, kind: inference, container: ml/a/c}]\n")), host)
    assert kept.workloads[0].numa_placement == ((0, "local"), (1, "remote")) and kept.workloads[0].name == "a"
    pinned = workloads.apply(
        workloads.load(write(tmp_path, "workloads: [{name: a, kind: inference, container: ml/a/c, cpus: 0-3}]\n")), host
    )
    assert pinned.workloads[0].numa_placement == () and pinned.workloads[0].cpus == frozenset(range(4))
