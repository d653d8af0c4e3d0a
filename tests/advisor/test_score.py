"""advisor.score gives what the recording rules record: a real Prometheus evaluates rules/gpu-efficiency.rules.yml
over the exporter's /metrics text of real captures (tests/advisor/fixtures, SOURCES.md), and score_host on a
Host built from the same values must agree per GPU, per component and per host, to 1e-6.

The captures alone leave the NUMA, KV cache, SM active and NVLink terms at their defaults, so the test adds
series to some targets (below, each with what it exercises), and one target is the exporter's own text with
containers placed on and off their GPUs' NUMA node, read by the advisor's samples.host_of. Needs Debian's ``prometheus`` (``make test``
installs it): skipped without it.
"""

from __future__ import annotations

import functools
import math
import shutil
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize import bundle as bundle_module
from axonize.advisor.findings import diagnose
from axonize.advisor.model import Gpu, Host, Link, MigInstance, NumaNode, Workload
from axonize.advisor.samples import host_of, parse_text
from axonize.advisor.score import grade, score_host
from axonize.cpulist import parse_cpulist
from axonize.processes import PrometheusServer
from tests.conftest import ROOT
from tests.sidecar.servers import FakeEngines

FIXTURES = Path(__file__).parent / "fixtures"
RULES = str(ROOT / "rules" / "gpu-efficiency.rules.yml")
EXPORTER, SIDECAR = "axonize-exporter", "axonize-sidecar"  # axonize/bundle.yml selectors

# Added to the HGX host: SM active (GPM) on GPUs 0-5 (6 and 7 stay at NVML 0: idle), so the score, the
# utilization source order and the PCIe x8 of GPU 1 count; containers whose CPUs are local (0) or not (1);
# NVLinks of GPU 3, one of four down.
HGX_ADDED = """\
# TYPE axonize_gpu_sm_active_ratio gauge
axonize_gpu_sm_active_ratio{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 0.82
axonize_gpu_sm_active_ratio{gpu="1",uuid="GPU-7c3cadbd-17e5-0913-f69b-c618122ea0cd"} 0.64
axonize_gpu_sm_active_ratio{gpu="2",uuid="GPU-2d50cdf6-dd67-9f2e-855e-0d4d6d395a2f"} 0.33
axonize_gpu_sm_active_ratio{gpu="3",uuid="GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14"} 0.91
axonize_gpu_sm_active_ratio{gpu="4",uuid="GPU-72be6e5d-3c1b-0d37-98ac-d3ef159f2589"} 0.07
axonize_gpu_sm_active_ratio{gpu="5",uuid="GPU-52378fbc-3124-3895-13b6-1dd179563e0f"} 0.5
# TYPE axonize_gpu_container_numa_mismatch gauge
axonize_gpu_container_numa_mismatch{container="train",gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 0
axonize_gpu_container_numa_mismatch{container="train",gpu="1",uuid="GPU-7c3cadbd-17e5-0913-f69b-c618122ea0cd"} 0
axonize_gpu_container_numa_mismatch{container="side",gpu="1",uuid="GPU-7c3cadbd-17e5-0913-f69b-c618122ea0cd"} 1
axonize_gpu_container_numa_mismatch{container="vllm",gpu="4",uuid="GPU-72be6e5d-3c1b-0d37-98ac-d3ef159f2589"} 1
axonize_gpu_container_numa_mismatch{container="tgi",gpu="5",uuid="GPU-52378fbc-3124-3895-13b6-1dd179563e0f"} 0
# TYPE axonize_gpu_nvlink_active gauge
axonize_gpu_nvlink_active{gpu="3",link="0",peer_gpu="",peer_pci_bus_id="",uuid="GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14"} 1
axonize_gpu_nvlink_active{gpu="3",link="1",peer_gpu="",peer_pci_bus_id="",uuid="GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14"} 1
axonize_gpu_nvlink_active{gpu="3",link="2",peer_gpu="",peer_pci_bus_id="",uuid="GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14"} 0
axonize_gpu_nvlink_active{gpu="3",link="3",peer_gpu="",peer_pci_bus_id="",uuid="GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14"} 1
"""
# Added to the MIG H100: SM active of three of its four GPU instances (GPM), so its utilization is their sum × share.
MIG_ADDED = """\
# TYPE axonize_mig_sm_active_ratio gauge
axonize_mig_sm_active_ratio{gpu="0",gpu_instance_id="2",uuid="GPU-00000000-0000-0000-0000-000000000000"} 0.6
axonize_mig_sm_active_ratio{gpu="0",gpu_instance_id="3",uuid="GPU-00000000-0000-0000-0000-000000000000"} 0.25
axonize_mig_sm_active_ratio{gpu="0",gpu_instance_id="9",uuid="GPU-00000000-0000-0000-0000-000000000000"} 0
"""
# The sidecar beside the H200: a vLLM server on it (uuid rewritten below) whose KV cache is 37 % used
# (its fullest engine core), so the VRAM term is 0.37, not the VRAM it preallocated.
SIDECAR_TEXT = """\
# TYPE axonize_inference_server_gpu_info gauge
axonize_inference_server_gpu_info{model="llama",server="vllm-a",uuid="GPU-h200-load-00000000-0000-0000-0000-000000000000"} 1
# TYPE axonize_inference_kv_cache_usage_ratio gauge
axonize_inference_kv_cache_usage_ratio{engine="vllm",engine_index="0",model="llama",server="vllm-a"} 0.37
axonize_inference_kv_cache_usage_ratio{engine="vllm",engine_index="1",model="llama",server="vllm-a"} 0.21
"""
# target name -> (fixture, lines added). The rules join on uuid: every target but "hgx" gets its name in its
# GPUs' uuids (GPU-<name>-...), as captures share uuids (all-zero ones, or the same H100 host twice).
TARGETS = {
    "hgx": ("h100x8-faults-hgx.prom", HGX_ADDED),
    "lost": ("h100x8-lost-hgx.prom", ""),
    "h200-load": ("h200-load.prom", ""),
    "l40s-load": ("l40s-load.prom", ""),
    "h100-mig": ("h100-mig-load.prom", MIG_ADDED),
    "h200-mig": ("h200-mig-load.prom", ""),
    "containers": (None, ""),  # the exporter's own text, with containers: containers_exposition()
}
#: The targets whose Host test_score_host_equals_the_recording_rules builds by hand (host_from); "containers" is
#: read by the advisor's own samples.host_of, its container placements as the exporter wrote them.
HAND_BUILT = [name for name in TARGETS if name != "containers"]


def exposition(name: str) -> str:
    fixture, added = TARGETS[name]
    text = containers_exposition() if fixture is None else (FIXTURES / fixture).read_text() + added
    return text if name == "hgx" else text.replace('"GPU-', f'"GPU-{name}-')


@functools.cache
def containers_exposition() -> str:
    """The exporter's /metrics text (its NVML backend, collection, runtime context and exposition, as
    tests/exporter/test_nvml.py drives them) for the demo's 8x H100 capture behind the fake NVML, with GPU
    processes whose PIDs live in the fake host tree tests/fixtures/procfs/two-node-host (README.md there: CPUs
    0-3 node 0, 4-7 node 1; which PID is pinned where). GPU 4 (NUMA node 1): a vLLM pod on CPUs 4-7 (local), a
    besteffort pod pinned to 0-3 (remote), a Docker container on 0-7 (unpinned), a systemd service on 4-7
    (local); GPU 0 (node 0): the besteffort pod again (local there). Both GPUs busy."""
    from axonize.exporter.collection import CollectionLoop
    from axonize.exporter.exposition import families
    from axonize.exporter.nvml import NvmlSource
    from axonize.exporter.replay import ReplaySource
    from axonize.exporter.runtime_context import RuntimeContext
    from axonize.exporter.snapshot import Process
    from axonize.http import Exposition
    from tests.conftest import DEMO_Q, DEMO_TOPO
    from tests.fake_nvml import FakeNvml

    tree = ROOT / "tests" / "fixtures" / "procfs" / "two-node-host"
    snap = ReplaySource([str(DEMO_Q), str(DEMO_TOPO)]).collect()
    mib = 2**20
    snap.gpus[4].processes = [
        Process(2101, "/usr/bin/python3", "C", 60000 * mib, sm_utilization_ratio=0.5),  # vllm pod, CPUs 4-7
        Process(2102, "/usr/bin/python3", "C", 3000 * mib),  # besteffort pod pinned to 0-3
        Process(1102, "/usr/bin/python3", "C", 2000 * mib),  # docker, CPUs 0-7
        Process(5101, "/usr/bin/python3", "C", 4000 * mib),  # vllm.service, CPUs 4-7
    ]
    snap.gpus[0].processes = [Process(2102, "/usr/bin/python3", "C", 3000 * mib)]
    snap.gpus[4].utilization_ratio, snap.gpus[4].memory_used_bytes = 0.62, 69000.0 * mib
    snap.gpus[0].utilization_ratio, snap.gpus[0].memory_used_bytes = 0.2, 3000.0 * mib
    context = RuntimeContext(procfs=str(tree / "proc"), sysfs=str(tree / "sys"), rootfs=str(tree / "root"))
    source = NvmlSource(nvml=FakeNvml(snap), hostname="", enrich=context.enrich)
    exposition = Exposition()
    try:
        CollectionLoop(source, 5.0, exposition, render=families).collect_once()
    finally:
        source.close()
    return exposition.latest.body.decode()


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name].append((dict(s.labels), s.value))
    return out


def host_from(text: str, sidecar: str = "") -> Host:
    """A Host from exporter (and sidecar) /metrics text: the values the rules read, nothing else."""
    m = samples(text)

    def by_gpu(name: str) -> dict[int, float]:
        return {int(labels["gpu"]): v for labels, v in m.get(name, [])}

    info = {int(labels["gpu"]): labels for labels, _ in m["axonize_gpu_info"]}
    up, total, used = by_gpu("axonize_gpu_up"), by_gpu("axonize_gpu_memory_total_bytes"), by_gpu("axonize_gpu_memory_used_bytes")
    affinity = {int(labels["gpu"]): parse_cpulist(labels["cpus"]) for labels, _ in m.get("axonize_gpu_cpu_affinity_info", [])}
    nvlinks: dict[int, list[float]] = defaultdict(list)
    for labels, v in m.get("axonize_gpu_nvlink_active", []):
        nvlinks[int(labels["gpu"])].append(v)
    mig: dict[int, list[MigInstance]] = defaultdict(list)
    mig_sm = {(int(labels["gpu"]), int(labels["gpu_instance_id"])): v for labels, v in m.get("axonize_mig_sm_active_ratio", [])}
    for labels, _ in m.get("axonize_mig_info", []):
        gpu, gi = int(labels["gpu"]), int(labels["gpu_instance_id"])
        mig[gpu].append(
            MigInstance(
                gi, int(labels["compute_instance_id"]), labels["profile"], labels["mig_uuid"], sm_active_ratio=mig_sm.get((gpu, gi))
            )
        )
    numa, util, sm = by_gpu("axonize_gpu_numa_node"), by_gpu("axonize_gpu_utilization_ratio"), by_gpu("axonize_gpu_sm_active_ratio")
    width, max_width = by_gpu("axonize_gpu_pcie_link_width_lanes"), by_gpu("axonize_gpu_pcie_link_max_width_lanes")
    gen, max_gen = by_gpu("axonize_gpu_pcie_link_generation"), by_gpu("axonize_gpu_pcie_link_max_generation")
    gpus = tuple(
        Gpu(
            index=i,
            uuid=labels["uuid"],
            model=labels["model"],
            memory_total_bytes=total.get(i, 0.0),
            memory_used_bytes=used.get(i),
            utilization_ratio=util.get(i),
            sm_active_ratio=sm.get(i),
            numa_node=int(numa[i]) if i in numa else None,
            cpu_affinity=affinity.get(i),
            pcie_generation=gen.get(i),
            pcie_max_generation=max_gen.get(i),
            pcie_width_lanes=width.get(i),
            pcie_max_width_lanes=max_width.get(i),
            mig_enabled=labels["mig_mode"] == "enabled",
            mig_instances=tuple(mig[i]),
            up=up.get(i, 1.0) == 1.0,
            nvlink_active_ratio=sum(nvlinks[i]) / len(nvlinks[i]) if nvlinks[i] else None,
        )
        for i, labels in sorted(info.items())
    )
    links = tuple(
        Link(int(labels["gpu"]), int(labels["peer_gpu"]), labels["path"])
        for labels, _ in m.get("axonize_gpu_peer_path_info", [])
        if int(labels["gpu"]) < int(labels["peer_gpu"])
    )
    all_cpus = frozenset().union(*affinity.values()) if affinity else frozenset()
    nodes = tuple(
        NumaNode(node, frozenset().union(*(affinity.get(g.index, frozenset()) for g in gpus if g.numa_node == node)))
        for node in sorted({g.numa_node for g in gpus if g.numa_node is not None})
    )
    # A container's CPUs as the exporter judged them: local -> its GPU's node, mismatch -> every CPU (unpinned).
    containers: dict[str, tuple[list[int], frozenset[int]]] = {}
    for labels, v in m.get("axonize_gpu_container_numa_mismatch", []):
        gpu = int(labels["gpu"])
        cpus = all_cpus if v == 1 else affinity[gpu]
        held, _ = containers.get(labels["container"], ([], cpus))
        containers[labels["container"]] = (held + [gpu], cpus)
    workloads = [Workload(name, "training", gpus=tuple(g), cpus=cpus, source="containers") for name, (g, cpus) in containers.items()]
    if sidecar:
        s = samples(sidecar)
        kv: dict[tuple[str, str], float] = {}
        for labels, v in s["axonize_inference_kv_cache_usage_ratio"]:
            key = (labels["server"], labels["model"])
            kv[key] = max(kv.get(key, v), v)
        index = {g.uuid: g.index for g in gpus}
        for labels, _ in s["axonize_inference_server_gpu_info"]:
            if labels["uuid"] in index:
                key = (labels["server"], labels["model"])
                workloads.append(
                    Workload(
                        labels["server"], "inference", gpus=(index[labels["uuid"]],), kv_cache_usage_ratio=kv.get(key), source="sidecar"
                    )
                )
    return Host("replayed", gpus, links, nodes, tuple(workloads))


def query(prom: PrometheusServer, promql: str) -> dict[tuple[str, str], float]:
    """{(instance, gpu or ""): value} of an instant query."""
    out = {}
    for r in prom.query(promql):
        out[(r["metric"].get("instance", ""), r["metric"].get("gpu", ""))] = float(r["value"][1])
    return out


RECORDED = {
    "utilization": "max without (source) (gpu:axonize_gpu_utilization_score:ratio)",
    "memory": "max without (source) (gpu:axonize_efficiency_memory_score:ratio)",
    "gpu": "gpu:axonize_efficiency_gpu_score:ratio",
    "numa": "gpu:axonize_efficiency_numa_score:ratio",
    "io": "gpu:axonize_efficiency_io_score:ratio",
}


@pytest.fixture(scope="module")
def recorded():
    """What Prometheus records for every target, once the score group has read a complete component group."""
    if not shutil.which("prometheus"):
        pytest.skip("the 'prometheus' binary is not installed (apt-get install prometheus)")
    servers = {name: FakeEngines() for name in [*TARGETS, "sidecar"]}
    for server in servers.values():
        server.__enter__()
    try:
        for name in TARGETS:
            servers[name].serve("/metrics", exposition(name))
        servers["sidecar"].serve("/metrics", SIDECAR_TEXT)
        instance = {name: f"127.0.0.1:{servers[name].port}" for name in servers}
        targets = {EXPORTER: [instance[n] for n in TARGETS], SIDECAR: [instance["sidecar"]]}
        with PrometheusServer(targets, "1s", rule_files=[RULES]) as prom:
            deadline = time.monotonic() + 90
            previous = None
            while True:
                got = {
                    "score": query(prom, "gpu:axonize_efficiency_score:percent"),
                    "host": query(prom, "host:axonize_efficiency_score:percent"),
                    "grade": dict.fromkeys(_grades(prom), 1.0),
                    **{name: query(prom, q) for name, q in RECORDED.items()},
                }
                complete = got["host"] and {i for i, _ in got["host"]} >= {instance[n] for n in TARGETS if n != "h200-mig"}
                if complete and got == previous:  # two evaluations in a row agree: settled
                    return instance, got
                previous = got
                if time.monotonic() > deadline:
                    raise AssertionError(f"Prometheus did not record a settled score for every target: {got}")
                time.sleep(1.5)
    finally:
        for server in servers.values():
            server.__exit__(None, None, None)


def _grades(prom: PrometheusServer) -> set[tuple[str, str]]:
    return {(r["metric"]["instance"], r["metric"]["grade"]) for r in prom.query("host:axonize_efficiency_grade:info")}


@pytest.mark.parametrize("name", HAND_BUILT)
def test_score_host_equals_the_recording_rules(recorded, name):
    sidecar = SIDECAR_TEXT if name == "h200-load" else ""
    assert_equal_to_the_rules(recorded, name, host_from(exposition(name), sidecar))


def test_containers_numa_placement_read_by_the_advisor_equals_the_rules(recorded):
    """The exporter's container series (axonize_gpu_container_numa_mismatch/_placement_info), read by
    samples.host_of as the advisor reads any /metrics text: every GPU's NUMA term (and score) is the one
    Prometheus records, including a container local to one of its GPUs and remote to the other; and the NUMA
    finding names the containers off GPU 4's node, not GPU 0."""
    instance, got = recorded
    host = host_of(parse_text(exposition("containers"), "containers"), ("containers",))
    assert_equal_to_the_rules(recorded, "containers", host)
    numa = {int(g): v for (i, g), v in got["numa"].items() if i == instance["containers"]}
    assert numa[4] == pytest.approx(0.75) and numa[0] == 1.0  # two of four containers off node 1; local on node 0
    tei = next(w for w in host.workloads if w.container == "search/embedder-0/tei")
    assert dict(tei.numa_placement) == {0: "local", 4: "remote"}
    found = [f for f in diagnose(host) if f.kind == "numa_mismatch"]
    assert {f.gpus for f in found} == {(4,)} and len(found) == 2
    assert any("runs only on CPUs of another socket" in f.explanation for f in found)
    assert any("either socket" in f.explanation for f in found)


def assert_equal_to_the_rules(recorded, name: str, host: Host) -> None:
    instance, got = recorded
    score = score_host(host)
    inst = instance[name]
    want_gpu = {int(g): v for (i, g), v in got["score"].items() if i == inst}
    assert dict(score.per_gpu).keys() == want_gpu.keys()
    for gpu, value in score.per_gpu:
        assert value == pytest.approx(want_gpu[gpu], abs=1e-6), f"GPU {gpu}"
    for component, _ in RECORDED.items():
        want = {int(g): v for (i, g), v in got[component].items() if i == inst}
        mine = {gpu: v for gpu, c, v in score.components if c == component}
        assert mine.keys() == want.keys(), component
        for gpu, value in mine.items():
            assert value == pytest.approx(want[gpu], abs=1e-6), f"{component} of GPU {gpu}"
    host_want = got["host"].get((inst, ""))
    if host_want is None:
        assert math.isnan(score.score) and score.grade == ""
    else:
        assert score.score == pytest.approx(host_want, abs=1e-6)
        assert (inst, score.grade) in got["grade"]


def test_the_targets_exercise_every_term(recorded):
    """The comparison above means something: the targets span busy, idle, lost and unmeasured GPUs, both NUMA
    scores, the KV cache term, MIG utilization and a degraded I/O term."""
    instance, got = recorded
    hgx, lost = instance["hgx"], instance["lost"]
    assert {v for (i, _), v in got["numa"].items() if i == hgx} >= {1.0, 0.75, 0.5}
    assert got["memory"][(instance["h200-load"], "0")] == pytest.approx(0.37)
    assert got["utilization"][(instance["h100-mig"], "0")] == pytest.approx(0.6 * 3 / 7 + 0.25 * 2 / 7)
    assert got["io"][(hgx, "1")] == pytest.approx(0.5) and got["io"][(hgx, "3")] == pytest.approx(0.75)
    assert got["score"][(lost, "0")] == 0 and (instance["h200-mig"], "0") not in got["score"]
    assert 0 < got["host"][(hgx, "")] < 100


def test_grades_follow_the_bundle_bounds():
    b = bundle_module.load()
    bounds = dict(b.grades)
    assert grade(float(bounds["A"]), b) == "A" and grade(float(bounds["A"]) - 1e-9, b) == "B"
    assert grade(float(bounds["D"]), b) == "D" and grade(0.0, b) == "F" and grade(math.nan, b) == ""


def test_weights_come_from_the_bundle():
    """Another bundle's weights change the score the same way the rules rendered from it would."""
    b = bundle_module.load()
    eff = replace(b.efficiency, weights={"gpu": b.efficiency.weights["gpu"], "numa": 0, "io": 0})
    host = host_from(exposition("h200-load"))
    only_gpu = score_host(host, replace(b, efficiency=eff))
    gpu_term = {c: v for _, c, v in only_gpu.components}["gpu"]
    assert only_gpu.per_gpu[0][1] == pytest.approx(100 * gpu_term)
    assert only_gpu.score != pytest.approx(score_host(host, b).score)
