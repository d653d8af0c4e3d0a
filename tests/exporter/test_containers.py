"""Process -> container/pod/service from /proc/<pid>/cgroup and the runtimes' state (tests/fixtures/procfs/README.md)."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from axonize.exporter import runtime_context
from axonize.exporter.containers import (
    RUNTIMES,
    CgroupFormatError,
    CgroupIdentity,
    RuntimeState,
    classify_cgroup_path,
    identity_from_cgroup,
    parse_cgroup,
)
from axonize.exporter.runtime_context import ContainerUsage, RuntimeContext, aggregate_by_container
from axonize.exporter.snapshot import Container, Gpu, Process, Snapshot
from tests.conftest import FIXTURES

HOST = FIXTURES / "procfs" / "two-node-host"
PROC, SYS, ROOT = str(HOST / "proc"), str(HOST / "sys"), str(HOST / "root")

D1 = "31cb02944da7a12196a193cf0e0f6c226d7c453a1db62e65ba98287593a2ee30"
D2 = "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"
C1 = "f45298cd514d1930c4fe3afc4412e59547f7e3148fddd22ca33cefce046eb830"
C2 = "5dd96d5394ca930a854a390ea46f7515a8bc930123eb3251ba20f2708a38fc61"
C3 = "0b7e1c5a9d3f48e2a6c4b8d1f0e9a7c3b5d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0"
C4 = "7c2d9e4f1a6b3c8d5e0f2a7b4c9d6e1f3a8b5c0d7e2f4a9b6c1d8e3f5a0b7c2d"
K5 = "da31e536c8d61304a6d5998d163d12400a7a9a1003e1d86369e8fadb022fc17d"
R1 = "d6d725b909f37c3e232aadfbafa950a58bfe7baa579ba8c47a12be88bb921607"
P1 = "3f084b4c7b789c1a0f174da3fcd339e31125d3096b3ff46a0bef4fad71d09362"

#: What each fixture PID must resolve to (None: unknown).
EXPECTED = {
    1101: Container("docker", D1, name="triton-server"),
    1102: Container("docker", D2),
    2101: Container("containerd", C1, "5f6a7d2e-8b3c-4f1e-9a2d-0c4b6e8f1a3b", "vllm-llama3-8b-7d9f8c6b5-x2k4p", "inference", "vllm"),
    2106: Container("containerd", C1, "5f6a7d2e-8b3c-4f1e-9a2d-0c4b6e8f1a3b", "vllm-llama3-8b-7d9f8c6b5-x2k4p", "inference", "vllm"),
    2102: Container("containerd", C2, "a36d0c1d-0b26-4451-8d80-9c195e004afa", "embedder-0", "search", "tei"),
    2103: Container("containerd", C3, "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
    2104: Container("containerd", C4, "8e2f6a1c-3b7d-4e9a-b5c1-7d3f9e2a6b4c"),
    2105: Container("docker", K5, "1fe19bf5-e8ef-11e8-900c-52daee5a874d", "resnet-train-0", "ml", "trainer"),
    3101: Container("cri-o", R1, "8ca306fa-3c03-47fa-97dd-19979c345572", "sdxl-worker-0", "images", "diffusers"),
    3102: Container("host"),
    4101: Container("podman", P1),
    5101: Container("systemd", systemd_unit="vllm.service"),
    5102: Container("host"),
    5103: None,
    9999: None,
}


def _snapshot(pids=EXPECTED) -> Snapshot:
    processes = [Process(pid=pid, name="python3", type="C", used_memory_bytes=float(2**30 * (i + 1))) for i, pid in enumerate(pids)]
    gpu = Gpu(index=0, uuid="GPU-5c1d2a8e-0f3b-4e6a-9d7c-2b8e4f1a6c3d", pci_bus_id="00000000:B1:00.0", processes=processes)
    return Snapshot(backend="nvml", gpus=[gpu])


# --- cgroup paths, pure ------------------------------------------------------------------------

HEX = "4f797c539e6c745de61a93ca3ff892358ecbcaccd8414d5db545c38428142970"


@pytest.mark.parametrize(
    "text, expected",
    [
        # Docker on Debian with --cgroup-parent=/ (neuvector TestDockerIDDebian): a bare id, runtime guessed
        (f"10:net_prio:/{HEX}\n9:perf_event:/{HEX}\n", CgroupIdentity("docker", HEX, runtime_inferred=True)),
        # Docker-in-Docker (RancherOS): the innermost container
        (f"9:name=systemd:/docker/{D1}/docker/{K5}\n", CgroupIdentity("docker", K5)),
        # Kubernetes with dockershim, systemd driver (neuvector TestDockerIDKubepods2)
        (
            "11:cpuset:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod045b1e35_7f13_11e7_ac42_0050568ffca0.slice/"
            f"docker-{HEX}.scope\n",
            CgroupIdentity("docker", HEX, "045b1e35-7f13-11e7-ac42-0050568ffca0"),
        ),
        # a sub-cgroup below the container (kube-proxy's own)
        (
            f"7:cpu,cpuacct:/kubepods/besteffort/podf8a694f2-7c08-11e9-98da-000c29077430/{HEX}/kube-proxy\n",
            CgroupIdentity("containerd", HEX, "f8a694f2-7c08-11e9-98da-000c29077430", runtime_inferred=True),
        ),
        # containerd 1.4 with systemd cgroups on v1: "<slice>:cri-containerd:<id>"
        (
            "11:pids:/system.slice/containerd.service/kubepods-besteffort-pod2105e389_7471_476e_a50f_6074cef29bbd.slice:cri-containerd:"
            f"{HEX}\n",
            CgroupIdentity("containerd", HEX, "2105e389-7471-476e-a50f-6074cef29bbd"),
        ),
        # a static pod: the UID is a 32-hex hash without dashes (neuvector TestK8sCrio_v1_17)
        (
            "3:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod487a0dc6dccaeefbcfedba7a7ce1ca18.slice/"
            f"crio-{HEX}.scope\n",
            CgroupIdentity("cri-o", HEX, "487a0dc6dccaeefbcfedba7a7ce1ca18"),
        ),
        # guaranteed QoS, cgroupfs driver: no QoS level in the path
        (
            f"0::/kubepods/pod8e2f6a1c-3b7d-4e9a-b5c1-7d3f9e2a6b4c/{HEX}\n",
            CgroupIdentity("containerd", HEX, "8e2f6a1c-3b7d-4e9a-b5c1-7d3f9e2a6b4c", runtime_inferred=True),
        ),
        # read from a container in its own cgroup namespace: the path climbs out with ".."
        (
            f"0::/../../kubepods-besteffort-pod8ca306fa_3c03_47fa_97dd_19979c345572.slice/cri-containerd-{HEX}.scope\n",
            CgroupIdentity("containerd", HEX, "8ca306fa-3c03-47fa-97dd-19979c345572"),
        ),
        # the cgroup was removed while the process lived
        (f"0::/system.slice/docker-{HEX}.scope (deleted)\n", CgroupIdentity("docker", HEX)),
        # podman: conmon is not the container; cgroupfs mode; split mode; nerdctl is containerd
        (f"0::/machine.slice/libpod-conmon-{HEX}.scope\n", CgroupIdentity()),
        (f"0::/system.slice/crio-conmon-{HEX}.scope\n", CgroupIdentity()),
        # podman inside a Docker container: its conmon is still in the Docker container
        (f"0::/system.slice/docker-{D1}.scope/libpod_parent/libpod-conmon-{HEX}\n", CgroupIdentity("docker", D1)),
        (f"0::/libpod_parent/libpod-{HEX}\n", CgroupIdentity("podman", HEX)),
        (f"0::/machine.slice/libpod-payload-{HEX}.scope\n", CgroupIdentity("podman", HEX)),
        (f"0::/system.slice/nerdctl-{HEX}.scope\n", CgroupIdentity("containerd", HEX)),
        # services: the daemons themselves, a rootless user service; the user manager is not one
        ("0::/system.slice/docker.service\n", CgroupIdentity("systemd", systemd_unit="docker.service")),
        (
            "0::/user.slice/user-1000.slice/user@1000.service/app.slice/llama-server.service\n",
            CgroupIdentity("systemd", systemd_unit="llama-server.service"),
        ),
        ("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n", CgroupIdentity()),
        ("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-Alacritty-3266.scope\n", CgroupIdentity()),
        # hybrid v1 + unified: the named line wins over "/" lines, whichever comes first
        ("12:pids:/\n1:name=systemd:/system.slice/triton.service\n0::/\n", CgroupIdentity("systemd", systemd_unit="triton.service")),
        # host: everything at the root, the legacy v1 user layout, an unknown cgroup manager
        ("13:name=systemd:/\n12:pids:/\n1:cpuset:/\n", CgroupIdentity()),
        ("13:name=systemd:/user/1000.user/c2.session\n1:cpuset:/\n", CgroupIdentity()),
        ("4:memory:/process_api/36d58f0ed42c5974f2e54c6372410801\n0::/\n", CgroupIdentity()),
    ],
)
def test_cgroup_text_names_the_runtime(text, expected):
    assert identity_from_cgroup(text) == expected


def test_a_container_beats_a_service_on_any_line():
    text = f"1:name=systemd:/system.slice/docker.service\n0::/system.slice/docker-{HEX}.scope\n"
    assert identity_from_cgroup(text).container() == Container("docker", HEX)


def test_pod_uids_come_only_from_kubepods_paths():
    assert classify_cgroup_path(f"/machine.slice/pod8e2f6a1c-3b7d-4e9a-b5c1-7d3f9e2a6b4c/libpod-{HEX}.scope").pod_uid == ""


def test_parse_cgroup_lines():
    lines = parse_cgroup("12:cpu,cpuacct:/docker/x\n\n0::/init.scope\n")
    assert [(line.hierarchy, line.controllers, line.path) for line in lines] == [(12, "cpu,cpuacct", "/docker/x"), (0, "", "/init.scope")]


@pytest.mark.parametrize(
    "text, line_number",
    [
        ("0::/system.slice/tgi.service\nthis is not a cgroup line\n", 2),
        ("x:cpu:/\n", 1),
        ("3:cpu:relative/path\n", 1),
        ("", 0),
        ("\n\n", 0),
    ],
)
def test_a_malformed_cgroup_file_names_the_line(text, line_number):
    with pytest.raises(CgroupFormatError) as caught:
        identity_from_cgroup(text)
    assert caught.value.line_number == line_number
    assert str(caught.value).startswith(f"line {line_number}:")


# --- runtime state under --path.rootfs ----------------------------------------------------------


def test_state_names_each_runtime():
    state, errors = RuntimeState(ROOT), []
    assert state.describe(CgroupIdentity("containerd", C1, "5f6a7d2e-8b3c-4f1e-9a2d-0c4b6e8f1a3b"), errors) == EXPECTED[2101]
    assert state.describe(CgroupIdentity("cri-o", R1, "8ca306fa-3c03-47fa-97dd-19979c345572"), errors) == EXPECTED[3101]
    assert state.describe(CgroupIdentity("docker", D1), errors) == EXPECTED[1101]
    assert errors == []


def test_an_inferred_runtime_is_settled_by_whose_state_has_the_id():
    state, errors = RuntimeState(ROOT), []
    # a bare id under kubepods is guessed containerd, but Docker (dockershim) has it
    described = state.describe(CgroupIdentity("containerd", K5, "1fe19bf5-e8ef-11e8-900c-52daee5a874d", runtime_inferred=True), errors)
    assert described == EXPECTED[2105]
    # no runtime has it: the guess stays
    assert state.describe(CgroupIdentity("containerd", C4, runtime_inferred=True), errors) == Container("containerd", C4)
    # a known runtime is not second-guessed: CRI-O has no state for a containerd id
    assert state.describe(CgroupIdentity("cri-o", C1), errors) == Container("cri-o", C1)
    assert errors == []


def test_bad_state_json_is_one_error_naming_the_file_then_cached():
    state, errors = RuntimeState(ROOT), []
    assert state.describe(CgroupIdentity("docker", D2), errors) == Container("docker", D2)
    assert [(e.source, e.location, e.kind) for e in errors] == [
        ("rootfs", f"{ROOT}/var/lib/docker/containers/{D2}/config.v2.json:1", "parse")
    ]
    assert "not JSON" in errors[0].message
    state.describe(CgroupIdentity("docker", D2), errors)
    assert len(errors) == 1


def test_state_is_read_once_per_id_and_forgotten_when_the_container_is_gone(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(HOST / "root", root)
    state, errors = RuntimeState(str(root)), []
    identity = CgroupIdentity("docker", D1)
    assert state.describe(identity, errors).name == "triton-server"
    (root / f"var/lib/docker/containers/{D1}/config.v2.json").unlink()
    state.end_cycle()
    assert state.describe(identity, errors).name == "triton-server"  # cached: state files never change
    state.end_cycle()
    state.end_cycle()  # a cycle without the container evicts it
    assert len(state) == 0
    assert state.describe(identity, errors).name == ""
    assert errors == []


def test_the_cache_is_bounded():
    state, errors = RuntimeState(ROOT, max_entries=2), []
    for container_id in (D1, C1, R1):
        state.describe(CgroupIdentity("docker", container_id), errors)
    assert len(state) == 2
    assert state.describe(CgroupIdentity("docker", D1), errors).name == "triton-server"


def test_rootful_podman_names_from_containers_json(tmp_path):
    storage = tmp_path / "var/lib/containers/storage/overlay-containers"
    storage.mkdir(parents=True)
    (storage / "containers.json").write_text(
        json.dumps(
            [
                {"id": HEX, "names": ["comfy"], "image": "f1e2", "layer": "a1b2", "metadata": "{}", "created": "2026-11-20T09:14:01Z"},
                {"id": P1, "names": ["llama-cpp"], "image": "f1e2", "layer": "c3d4"},
            ]
        )
    )
    errors: list = []
    assert RuntimeState(str(tmp_path)).describe(CgroupIdentity("podman", P1), errors) == Container("podman", P1, name="llama-cpp")
    assert errors == []


def test_an_unreadable_state_file_is_an_io_error(tmp_path):
    bundle = tmp_path / f"run/containerd/io.containerd.runtime.v2.task/k8s.io/{C1}/config.json"
    bundle.mkdir(parents=True)  # a directory where the file should be: reading it fails with EISDIR
    errors: list = []
    assert RuntimeState(str(tmp_path)).describe(CgroupIdentity("containerd", C1), errors) == Container("containerd", C1)
    assert [(e.source, e.location, e.kind) for e in errors] == [("rootfs", str(bundle), "io")]


# --- the whole fake host -----------------------------------------------------------------------


def test_every_fixture_process_gets_its_container():
    snapshot = _snapshot()
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    got = {p.pid: p.container for p in snapshot.gpus[0].processes}
    assert got == EXPECTED
    assert all(c is None or c.runtime in RUNTIMES for c in got.values())


def test_fixture_errors_name_file_and_line_and_summarise_vanished_pids():
    snapshot = _snapshot()
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    found = sorted((e.source, e.location, e.kind) for e in snapshot.errors)
    assert found == sorted(
        [
            ("procfs", f"{PROC}/5103/cgroup:2", "parse"),
            ("rootfs", f"{ROOT}/var/lib/docker/containers/{D2}/config.v2.json:1", "parse"),
            ("procfs", PROC, "unavailable"),
        ]
    )
    gone = next(e for e in snapshot.errors if e.kind == "unavailable")
    assert gone.message.startswith(f"1 of {len(EXPECTED)} GPU processes not found under {PROC} (pids 9999)")
    garbled = next(e for e in snapshot.errors if e.location.endswith("cgroup:2"))
    assert "'this is not a cgroup line'" in garbled.message


def test_a_garbled_cgroup_keeps_the_numa_placement():
    snapshot = _snapshot([5103])
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    process = snapshot.gpus[0].processes[0]
    assert process.container is None and process.cpu_numa_nodes == (1,)


def test_a_pid_on_two_gpus_is_read_once_and_shared():
    snapshot = _snapshot([2101])
    snapshot.gpus.append(Gpu(index=1, uuid="GPU-2", processes=[Process(pid=2101)]))
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    assert snapshot.gpus[1].processes[0].container is snapshot.gpus[0].processes[0].container


def test_many_vanished_pids_make_one_error_per_cycle():
    pids = list(range(70000, 70025))
    snapshot = _snapshot(pids)
    context = RuntimeContext(PROC, SYS, ROOT)
    context.enrich(snapshot)
    assert [e.kind for e in snapshot.errors] == ["unavailable"]
    assert "25 of 25" in snapshot.errors[0].message and "70009 and 15 more" in snapshot.errors[0].message


def test_without_the_host_pid_namespace_nothing_is_looked_up_or_counted(tmp_path, caplog):
    proc = tmp_path / "proc"
    shutil.copytree(HOST / "proc", proc)
    (proc / "2" / "comm").write_text("sleep\n")  # PID 2 of a container's namespace
    context = RuntimeContext(str(proc), SYS, ROOT)
    with caplog.at_level(logging.WARNING, logger="axonize.exporter.runtime_context"):
        for _ in range(3):
            snapshot = _snapshot()
            context.enrich(snapshot)
            assert snapshot.errors == []
            assert all(p.container is None and p.cpu_numa_nodes is None for p in snapshot.gpus[0].processes)
    assert context.sees_host_pids is False
    warnings = [r for r in caplog.records if "hostPID" in r.getMessage()]
    assert len(warnings) == 1
    assert snapshot.numa_nodes  # the host side does not need PIDs


def test_unreadable_process_files_are_one_io_error(monkeypatch):
    real = runtime_context._read_process_file

    def deny(path: Path) -> str:
        if path.parent.name in ("1101", "1102"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(runtime_context, "_read_process_file", deny)
    snapshot = _snapshot([1101, 1102, 2101])
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    assert [(e.kind, e.location) for e in snapshot.errors] == [("io", PROC)]
    assert (
        snapshot.errors[0].message
        == f"2 of 3 GPU processes unreadable under {PROC} (pids 1101, 1102): {PROC}/1101/cgroup: Permission denied"
    )
    assert snapshot.gpus[0].processes[2].container == EXPECTED[2101]


def test_a_bug_on_one_process_spares_the_others(monkeypatch):
    real = runtime_context.identity_from_cgroup

    def explode(text: str):
        if "vllm.service" in text:
            raise RuntimeError("boom")
        return real(text)

    monkeypatch.setattr(runtime_context, "identity_from_cgroup", explode)
    snapshot = _snapshot([5101, 5102])
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    assert [(e.kind, e.location, e.message) for e in snapshot.errors] == [("internal", f"{PROC}/5101", "RuntimeError: boom")]
    assert snapshot.gpus[0].processes[1].container == Container("host")


# --- per-container aggregation -----------------------------------------------------------------


def test_aggregation_of_the_fixture_host_sums_the_vllm_workers():
    snapshot = _snapshot([2101, 2106, 1101, 9999])
    RuntimeContext(PROC, SYS, ROOT).enrich(snapshot)
    rows = aggregate_by_container(snapshot.gpus[0])
    assert rows == [
        ContainerUsage(
            EXPECTED[2101],
            None,
            None,
            processes=2,
            used_memory_bytes=3.0 * 2**30,
            sm_utilization_ratio=None,
            memory_utilization_ratio=None,
            placement="local",
        ),
        ContainerUsage(
            EXPECTED[1101],
            None,
            None,
            processes=1,
            used_memory_bytes=3.0 * 2**30,
            sm_utilization_ratio=None,
            memory_utilization_ratio=None,
            placement="local",
        ),
        ContainerUsage(
            None, None, None, processes=1, used_memory_bytes=4.0 * 2**30, sm_utilization_ratio=None, memory_utilization_ratio=None
        ),
    ]


def test_aggregation_groups_by_container_and_mig_instance():
    vllm = Container("containerd", C1, "5f6a7d2e-8b3c-4f1e-9a2d-0c4b6e8f1a3b", "vllm-0", "inference", "vllm")
    tei = Container("containerd", C2, "a36d0c1d-0b26-4451-8d80-9c195e004afa", "embedder-0", "search", "tei")
    gpu = Gpu(
        index=0,
        uuid="GPU-x",
        processes=[
            Process(
                10,
                used_memory_bytes=100.0,
                gpu_instance_id=1,
                compute_instance_id=0,
                sm_utilization_ratio=0.5,
                memory_utilization_ratio=0.25,
                container=vllm,
            ),
            Process(11, used_memory_bytes=50.0, gpu_instance_id=1, compute_instance_id=0, sm_utilization_ratio=0.75, container=vllm),
            Process(12, used_memory_bytes=None, gpu_instance_id=2, compute_instance_id=0, sm_utilization_ratio=0.125, container=vllm),
            Process(13, used_memory_bytes=30.0, gpu_instance_id=2, compute_instance_id=0, container=tei),
            Process(14, used_memory_bytes=None, gpu_instance_id=2, compute_instance_id=0, container=tei),
        ],
    )
    assert aggregate_by_container(gpu) == [
        # sorted by namespace: "inference" < "search"; MIG instance 1 before 2
        ContainerUsage(vllm, 1, 0, processes=2, used_memory_bytes=150.0, sm_utilization_ratio=1.0, memory_utilization_ratio=0.25),
        ContainerUsage(vllm, 2, 0, processes=1, used_memory_bytes=None, sm_utilization_ratio=0.125, memory_utilization_ratio=None),
        ContainerUsage(tei, 2, 0, processes=2, used_memory_bytes=30.0, sm_utilization_ratio=None, memory_utilization_ratio=None),
    ]


def test_a_group_is_placed_by_its_worst_placed_process():
    gpu = Gpu(
        index=0,
        uuid="GPU-x",
        numa_node=1,
        processes=[
            Process(10, used_memory_bytes=1.0, cpu_numa_nodes=(1,)),
            Process(11, used_memory_bytes=1.0, cpu_numa_nodes=(0, 1)),
            Process(12, used_memory_bytes=1.0),  # not visible: does not count
        ],
    )
    assert [row.placement for row in aggregate_by_container(gpu)] == ["unpinned"]
    gpu.processes.append(Process(13, cpu_numa_nodes=(0,)))
    assert [row.placement for row in aggregate_by_container(gpu)] == ["remote"]
    gpu.numa_node = None
    assert [row.placement for row in aggregate_by_container(gpu)] == [None]


def test_aggregation_of_no_processes_is_empty():
    assert aggregate_by_container(Gpu(index=0, uuid="GPU-x")) == []


# --- this machine ------------------------------------------------------------------------------


def test_this_machines_own_process_parses():
    """The test process itself under the real /proc and /sys: whatever runtime it is in, no parse error."""
    text = Path("/proc/self/cgroup").read_text()
    identity = identity_from_cgroup(text)
    assert identity.runtime in RUNTIMES
    snapshot = _snapshot([os.getpid()])
    context = RuntimeContext(host_pids=True)  # this test may run in a container; its own PID is in its namespace
    context.enrich(snapshot)
    assert [e for e in snapshot.errors if e.kind in ("parse", "internal", "io")] == []
    process = snapshot.gpus[0].processes[0]
    assert process.container is not None and process.container.runtime in RUNTIMES
    assert process.cpu_numa_nodes
    assert set(process.cpu_numa_nodes) <= {node.node for node in snapshot.numa_nodes}
