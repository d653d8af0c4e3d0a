"""dcgm-exporter compatible exposition: names, types, units, labels, MIG and pod labels, XID, promtool's findings."""

import os
import re
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize import exposition_text
from axonize.exporter import dcgm, docs
from axonize.exporter.exposition import METRICS as AXONIZE_METRICS
from axonize.exporter.replay import ReplaySource
from axonize.exporter.snapshot import Container, Gpu, MigDevice, NvLink, Process, Snapshot
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA, SHARED, requires

H100X8 = [DEMO_Q, DEMO_TOPO]
H200_MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]
H100_LOAD = [NVIDIA / "h100-80gb-hbm3_drv590_nvidia-smi-q_load.txt"]
MIB = 2**20


def shared(name: str):
    """A file of ../shared/fixtures/nvidia: skipped where ../shared is not checked out, a failure in CI."""
    path = SHARED / "nvidia" / name
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI checks out ../shared beside the repository")
        pytest.skip(f"{path} absent: ../shared is not checked out beside the repository (CI has it)")
    return path


def text(snapshot: Snapshot) -> str:
    return exposition_text.render(dcgm.families(snapshot)).decode()


def replay(paths, hostname: str = "gpu-node-1") -> Snapshot:
    return ReplaySource([str(p) for p in paths], hostname=hostname).collect()


def parse(exposition: str) -> dict:
    # prometheus_client's parser names counter samples <family>_total; look samples up by family name
    return {f.name: f for f in text_string_to_metric_families(exposition)}


def by_gpu(families: dict, name: str) -> dict[str, float]:
    return {s.labels["gpu"]: s.value for s in families[name].samples}


def csv_rows() -> dict[str, tuple[str, str]]:
    """The uncommented rows of dcgm-exporter's default-counters.csv: name -> (type, help)."""
    rows = {}
    for line in shared("dcgm-exporter_default-counters.csv").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, type, help = (part.strip() for part in line.split(",", 2))
            rows[name] = (type, help)
    return rows


def dcgm_sample_families() -> dict:
    return parse(shared("dcgm-exporter-sample.prom").read_text())


def capture_fb_mib(path) -> list[dict[str, int]]:
    """The ``FB Memory Usage`` figures (MiB) of each GPU section of an ``nvidia-smi -q`` capture."""
    out = []
    for section in re.split(r"^GPU [0-9A-F]{8}:", path.read_text(), flags=re.MULTILINE)[1:]:
        block = re.search(
            r"\n    FB Memory Usage\n\s+Total\s+: (\d+) MiB\n\s+Reserved\s+: (\d+) MiB\n\s+Used\s+: (\d+) MiB\n\s+Free\s+: (\d+) MiB",
            section,
        )
        out.append(dict(zip(("total", "reserved", "used", "free"), map(int, block.groups()))))
    return out


def full_gpu(index: int = 0, **overrides) -> Gpu:
    """A GPU with every field dcgm-exporter's default counters read, in base units."""
    fields = {
        "uuid": f"GPU-0000000{index}-1111-2222-3333-444444444444",
        "pci_bus_id": f"00000000:{0x18 + index:02X}:00.0",
        "name": "NVIDIA H100 80GB HBM3",
        "minor_number": index,
        "memory_total_bytes": 81559 * MIB,
        "memory_used_bytes": 19818 * MIB,
        "memory_free_bytes": 61263 * MIB,
        "memory_reserved_bytes": 479 * MIB,
        "utilization_ratio": 1.0,
        "memory_utilization_ratio": 0.11,
        "encoder_utilization_ratio": 0.0,
        "decoder_utilization_ratio": 0.07,
        "power_watts": 629.45,
        "energy_joules": 5551899.58,
        "temperature_celsius": 60.0,
        "memory_temperature_celsius": 71.0,
        "clocks_hertz": {"graphics": 1980e6, "sm": 1980e6, "memory": 2619e6, "video": 1545e6},
        "pcie_tx_bytes_per_second": 3092000.0,
        "pcie_rx_bytes_per_second": 6346000.0,
        "pcie_replays": 7.0,
        "remapped_rows": {"correctable": 0.0, "uncorrectable": 2.0},
        "remapped_rows_failure": False,
        "activity": {"graphics_engine_active": 0.97, "tensor_active": 0.42, "dram_active": 0.31, "sm_active": 0.9},
        "xid_errors": {13: 3.0, 79: 1.0},
        "xid_last_seen_seconds": {13: 1_700_000_100.0, 79: 1_700_000_000.0},
        "nvlinks": [
            NvLink(link=0, active=True, tx_bytes=1000.0, rx_bytes=2000.0),
            NvLink(link=1, active=True, tx_bytes=30.0, rx_bytes=None),
        ],
    }
    fields.update(overrides)
    return Gpu(index=index, **fields)


def pod(name: str, container: str = "main") -> Container:
    return Container(runtime="containerd", id="ab" * 32, pod_uid=f"uid-{name}", pod_name=name, namespace="inference", name=container)


# --- the table against dcgm-exporter's counter set -----------------------------------------

CSV_UNITS = {
    "(in MHz)": "MHz",
    "(in C)": "C",
    "(in W)": "W",
    "(in mJ)": "mJ",
    "(in %)": "%",
    "(in MiB)": "MiB",
    "in bytes per second": "bytes/s",
}
#: default counters the snapshot cannot give, and why
NOT_PROVIDED = {
    "DCGM_FI_DEV_VGPU_LICENSE_STATUS": "vGPU guest licence state; Axonize reads bare-metal and passthrough GPUs",
    "DCGM_FI_DRIVER_VERSION": "a label on every series, not a metric",
}


def test_every_default_counter_is_provided_with_the_csv_type_and_unit():
    rows = csv_rows()
    ours = {m.name: m for m in dcgm.METRICS}
    assert set(rows) == set(ours) | set(NOT_PROVIDED)
    for name, m in ours.items():
        csv_type, csv_help = rows[name]
        assert m.type == csv_type, name
        expected_unit = next((unit for marker, unit in CSV_UNITS.items() if marker in csv_help), None)
        if csv_help.startswith("Ratio of"):
            expected_unit = "ratio"
        if expected_unit is not None:
            assert m.unit == expected_unit, name
        assert m.help != csv_help, f"{name}: the help text is dcgm-exporter's verbatim; write our own"


def test_doc_rows_and_docs_name_real_axonize_families():
    axonize_names = {m.name for m in AXONIZE_METRICS}
    rows = dcgm.doc_rows()
    assert [r.name for r in rows] == [m.name for m in dcgm.METRICS]
    for row in rows:
        assert row.axonize, row
        for expr in row.axonize:
            assert set(re.findall(r"axonize_[a-z0-9_]+", expr)) <= axonize_names, row
        assert row.type in ("gauge", "counter") and row.source
    rendered = docs.render()
    assert "## dcgm-exporter compatible names (`--metrics-format dcgm`)" in rendered
    for row in rows:
        line = next(line for line in rendered.splitlines() if line.startswith(f"| `{row.name}` |"))
        assert f"| {row.unit or '-'} |" in line
        for expr in row.axonize:
            assert f"`{expr}`" in line


# --- values and labels on real captures ----------------------------------------------------


def test_h100x8_values_in_dcgm_units():
    snap = replay(H100X8)
    got = parse(text(snap))
    fb = capture_fb_mib(DEMO_Q)
    assert len(fb) == 8
    for part, name in (("used", "DCGM_FI_DEV_FB_USED"), ("free", "DCGM_FI_DEV_FB_FREE"), ("reserved", "DCGM_FI_DEV_FB_RESERVED")):
        assert by_gpu(got, name) == {str(i): float(fb[i][part]) for i in range(8)}, name
    assert by_gpu(got, "DCGM_FI_DEV_FB_USED")["0"] == 1.0  # "Used : 1 MiB" in GPU 0's section
    assert by_gpu(got, "DCGM_FI_DEV_POWER_USAGE")["0"] == 100.89
    assert by_gpu(got, "DCGM_FI_DEV_SM_CLOCK")["0"] == 345.0
    assert by_gpu(got, "DCGM_FI_DEV_MEM_CLOCK")["0"] == 2619.0
    assert by_gpu(got, "DCGM_FI_DEV_GPU_TEMP")["0"] == 30.0
    assert by_gpu(got, "DCGM_FI_DEV_MEMORY_TEMP")["0"] == 36.0
    assert by_gpu(got, "DCGM_FI_DEV_GPU_UTIL")["0"] == 0.0
    assert by_gpu(got, "DCGM_FI_DEV_PCIE_REPLAY_COUNTER")["0"] == 7.0
    assert by_gpu(got, "DCGM_FI_PROF_PCIE_TX_BYTES")["0"] == 567000.0  # 567 KB/s
    assert by_gpu(got, "DCGM_FI_DEV_ROW_REMAP_FAILURE")["0"] == 0.0
    assert by_gpu(got, "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS")["0"] == 0.0
    assert got["DCGM_FI_DEV_PCIE_REPLAY_COUNTER"].type == "counter"
    assert {len(f.samples) for f in got.values()} == {8}


def test_percent_fields_are_0_to_100_without_float_noise():
    got = parse(text(replay(H100_LOAD)))
    # the capture says "GPU : 100 %", "Memory : 11 %"; 0.11 * 100 is 11.000000000000002 in binary floating point
    assert by_gpu(got, "DCGM_FI_DEV_GPU_UTIL") == {"0": 100.0}
    assert by_gpu(got, "DCGM_FI_DEV_MEM_COPY_UTIL") == {"0": 11.0}
    assert by_gpu(got, "DCGM_FI_DEV_POWER_USAGE") == {"0": 629.45}
    assert by_gpu(got, "DCGM_FI_DEV_FB_USED") == {"0": 19818.0}


def test_label_names_are_dcgm_exporters():
    theirs = dcgm_sample_families()
    their_labels = {frozenset(s.labels) for f in theirs.values() for s in f.samples}
    assert len(their_labels) == 1
    got = parse(text(replay(H100X8)))
    assert {frozenset(s.labels) for f in got.values() for s in f.samples} == their_labels
    # every family of the real scrape that a replay can fill is here, with the same type
    for name, fam in theirs.items():
        if name in got:
            assert got[name].type == fam.type, name
    missing = set(theirs) - set(got)
    assert missing == {
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",  # NVML only; nvidia-smi -q does not print it
        "DCGM_FI_DEV_VGPU_LICENSE_STATUS",  # not provided (NOT_PROVIDED)
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",  # GPM activity: NVML only
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
        "DCGM_FI_PROF_DRAM_ACTIVE",
    }


def test_label_values():
    got = parse(text(replay(H100X8)))
    labels = {s.labels["gpu"]: s.labels for s in got["DCGM_FI_DEV_GPU_TEMP"].samples}
    assert labels["0"] == {
        "gpu": "0",
        "UUID": "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1",
        "pci_bus_id": "00000000:18:00.0",
        "device": "nvidia0",
        "modelName": "NVIDIA H100 80GB HBM3",
        "Hostname": "gpu-node-1",
        "DCGM_FI_DRIVER_VERSION": "565.57.01",
    }
    assert all(label["device"] == f"nvidia{gpu}" for gpu, label in labels.items())


def test_device_is_nvidia_and_the_gpu_index_as_in_dcgm_exporter():
    # gpu_collector.go toMetric: GPUDevice = fmt.Sprintf("nvidia%d", DeviceInfo.GPU), DCGM's GPU id (the NVML index)
    got = parse(text(Snapshot(gpus=[full_gpu(0, minor_number=4)])))
    assert {(s.labels["gpu"], s.labels["device"]) for s in got["DCGM_FI_DEV_GPU_TEMP"].samples} == {("0", "nvidia0")}


def test_hostname_and_driver_version_only_when_known():
    snap = Snapshot(gpus=[full_gpu()])
    identity = {"gpu", "UUID", "pci_bus_id", "device", "modelName"}
    labels = {frozenset(s.labels) for f in parse(text(snap)).values() for s in f.samples}
    assert labels == {frozenset(identity), frozenset(identity | {"err_code"})}  # err_code: the XID series


def test_counter_families_keep_dcgm_names_in_the_text():
    exposition = text(replay(H100X8))
    assert "# TYPE DCGM_FI_DEV_PCIE_REPLAY_COUNTER counter\n" in exposition
    assert "# TYPE DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS counter\n" in exposition
    assert re.search(r"^DCGM_FI_DEV_PCIE_REPLAY_COUNTER\{.*\} 7\.0$", exposition, re.MULTILINE)
    assert "_total" not in exposition


def test_mig_gpu_is_reported_per_gpu_instance():
    got = parse(text(replay(H200_MIG, hostname="mig-node")))
    instances = {(s.labels["GPU_I_ID"], s.labels["GPU_I_PROFILE"]) for f in got.values() for s in f.samples}
    # GI 2 holds two compute instances (1c.3g.71gb and 2c.3g.71gb): one GPU instance, profile 3g.71gb
    assert instances == {("2", "3g.71gb"), ("3", "2g.35gb"), ("9", "1g.18gb"), ("10", "1g.18gb")}
    base = {frozenset(s.labels) for f in dcgm_sample_families().values() for s in f.samples}.pop()
    assert {frozenset(s.labels) for f in got.values() for s in f.samples} == {base | {"GPU_I_PROFILE", "GPU_I_ID"}}
    fb_used = {s.labels["GPU_I_ID"]: s.value for s in got["DCGM_FI_DEV_FB_USED"].samples}
    fb_free = {s.labels["GPU_I_ID"]: s.value for s in got["DCGM_FI_DEV_FB_FREE"].samples}
    assert fb_used == {"2": 16925.0, "3": 17.0, "9": 9.0, "10": 9.0}  # "Shared FB Memory Usage › Used" per GPU instance
    assert fb_free == {"2": 54499.0, "3": 33264.0, "9": 16376.0, "10": 16376.0}
    # device-wide readings repeat the GPU's value on every instance, as dcgm-exporter does (issues #50, #257)
    assert [s.value for s in got["DCGM_FI_DEV_POWER_USAGE"].samples] == [294.94] * 4
    assert [s.value for s in got["DCGM_FI_DEV_SM_CLOCK"].samples] == [1980.0] * 4
    # N/A under MIG or not in an nvidia-smi capture: absent, never 0
    for name in (
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_MEM_COPY_UTIL",
        "DCGM_FI_DEV_ENC_UTIL",
        "DCGM_FI_DEV_DEC_UTIL",
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "DCGM_FI_DEV_XID_ERRORS",
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
    ):
        assert name not in got, name


def test_mig_instance_profile_and_activity():
    devices = [
        MigDevice(
            index=0,
            gpu_instance_id=1,
            compute_instance_id=0,
            profile="1c.4g.40gb",
            memory_used_bytes=10 * MIB,
            activity={"tensor_active": 0.5},
        ),
        MigDevice(
            index=1,
            gpu_instance_id=1,
            compute_instance_id=1,
            profile="3c.4g.40gb",
            memory_used_bytes=10 * MIB,
            activity={"tensor_active": 0.5},
        ),
        MigDevice(
            index=2, gpu_instance_id=5, compute_instance_id=0, profile=None, memory_used_bytes=None, activity={"tensor_active": 0.25}
        ),
    ]
    snap = Snapshot(hostname="h", driver_version="590.48.01", gpus=[full_gpu(mig_mode=True, mig_devices=devices, activity={})])
    got = parse(text(snap))
    tensor = {s.labels["GPU_I_ID"]: (s.labels.get("GPU_I_PROFILE"), s.value) for s in got["DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"].samples}
    assert tensor == {"1": ("4g.40gb", 0.5), "5": (None, 0.25)}  # no profile known: GPU_I_ID alone keeps the series apart
    assert {s.labels["GPU_I_ID"]: s.value for s in got["DCGM_FI_DEV_FB_USED"].samples} == {"1": 10.0}
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE" not in got
    assert dcgm.gpu_instance_profile("7g.80gb") == "7g.80gb" and dcgm.gpu_instance_profile("2c.3g.71gb") == "3g.71gb"


def test_none_values_are_absent_series():
    bare = Gpu(index=0, uuid="GPU-x", pci_bus_id="00000000:18:00.0", name="NVIDIA H100 80GB HBM3", temperature_celsius=41.0)
    got = parse(text(Snapshot(gpus=[bare, full_gpu(1)])))
    assert by_gpu(got, "DCGM_FI_DEV_GPU_TEMP") == {"0": 41.0, "1": 60.0}
    for name in ("DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"):
        assert set(by_gpu(got, name)) == {"1"}, name
    only_temperature = parse(text(Snapshot(gpus=[bare])))
    assert list(only_temperature) == ["DCGM_FI_DEV_GPU_TEMP"]  # a field nobody reports is not written at all


def test_every_field_converted():
    got = parse(text(Snapshot(hostname="h", driver_version="590.48.01", gpus=[full_gpu()])))
    values = {name: fam.samples[0].value for name, fam in got.items()}
    assert values == {
        "DCGM_FI_DEV_SM_CLOCK": 1980.0,
        "DCGM_FI_DEV_MEM_CLOCK": 2619.0,
        "DCGM_FI_DEV_MEMORY_TEMP": 71.0,
        "DCGM_FI_DEV_GPU_TEMP": 60.0,
        "DCGM_FI_DEV_POWER_USAGE": 629.45,
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": 5551899580.0,  # mJ
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": 7.0,
        "DCGM_FI_DEV_GPU_UTIL": 100.0,
        "DCGM_FI_DEV_MEM_COPY_UTIL": 11.0,
        "DCGM_FI_DEV_ENC_UTIL": 0.0,
        "DCGM_FI_DEV_DEC_UTIL": 7.0,
        "DCGM_FI_DEV_XID_ERRORS": 13.0,
        "DCGM_FI_DEV_FB_FREE": 61263.0,
        "DCGM_FI_DEV_FB_USED": 19818.0,
        "DCGM_FI_DEV_FB_RESERVED": 479.0,
        "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": 3030.0,  # tx + rx over the links that report them
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": 2.0,
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": 0.0,
        "DCGM_FI_DEV_ROW_REMAP_FAILURE": 0.0,
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.97,
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": 0.42,
        "DCGM_FI_PROF_DRAM_ACTIVE": 0.31,
        "DCGM_FI_PROF_PCIE_TX_BYTES": 3092000.0,
        "DCGM_FI_PROF_PCIE_RX_BYTES": 6346000.0,
    }
    assert [f.name for f in dcgm.families(Snapshot(gpus=[full_gpu()]))] == [m.name for m in dcgm.METRICS]


# --- XID: the last value seen --------------------------------------------------------------


def test_xid_is_the_code_seen_last():
    def xid(last_seen: dict) -> dict:
        got = parse(text(Snapshot(gpus=[full_gpu(xid_errors=dict.fromkeys(last_seen, 1.0), xid_last_seen_seconds=last_seen)])))
        return (
            {(s.labels["err_code"], s.value) for s in got["DCGM_FI_DEV_XID_ERRORS"].samples} if "DCGM_FI_DEV_XID_ERRORS" in got else set()
        )

    # 13 was counted more often, but 79 came later: dcgm-exporter's gauge holds the latest code
    assert xid({13: 1_700_000_100.0, 79: 1_700_000_200.0}) == {("79", 79.0)}
    assert xid({79: 1_700_000_200.0, 13: 1_700_000_300.0}) == {("13", 13.0)}
    assert xid({48: 5.0, 94: 5.0}) == {("94", 94.0)}  # same second: the larger code, deterministically
    assert xid({}) == set()
    assert dcgm.last_xid(full_gpu(xid_errors={}, xid_last_seen_seconds={})) is None


# --- Kubernetes pod labels -----------------------------------------------------------------


def test_pod_labels_when_one_container_owns_the_gpu():
    web = pod("vllm-decode-0")
    gpus = [
        full_gpu(0, processes=[Process(pid=10, container=web), Process(pid=11, container=web)]),  # one container, two processes
        full_gpu(1, processes=[Process(pid=20, container=web), Process(pid=21, container=pod("trainer-1"))]),  # two pods
        full_gpu(2, processes=[Process(pid=30, container=Container(runtime="docker", id="cd" * 32, name="bench"))]),  # no pod
        full_gpu(3, processes=[Process(pid=40, container=web), Process(pid=41, container=None)]),  # one process unknown
        full_gpu(4),  # idle
    ]
    got = parse(text(Snapshot(hostname="gpu-node-1", driver_version="580.105.08", gpus=gpus)))
    labels = {s.labels["gpu"]: s.labels for s in got["DCGM_FI_DEV_POWER_USAGE"].samples}
    assert {k: labels["0"][k] for k in dcgm.POD_LABELS} == {
        "container": "main",
        "namespace": "inference",
        "pod": "vllm-decode-0",
        "pod_uid": "uid-vllm-decode-0",
    }
    for gpu in "1234":
        assert not set(dcgm.POD_LABELS) & set(labels[gpu]), gpu
    # the same label names as dcgm-exporter's scrape of a GPU assigned to a pod
    theirs = text_string_to_metric_families(shared("dcgm-exporter-h100x8-k8s-podlabels-sampled.prom").read_text())
    their_pod_labels = {frozenset(s.labels) for f in theirs for s in f.samples if "pod" in s.labels}
    assert their_pod_labels == {frozenset(labels["0"])}


def test_pod_labels_per_mig_instance():
    web = pod("vllm-decode-0")
    devices = [
        MigDevice(index=0, gpu_instance_id=1, compute_instance_id=0, profile="3g.40gb"),
        MigDevice(index=1, gpu_instance_id=2, compute_instance_id=0, profile="3g.40gb"),
    ]
    gpu = full_gpu(mig_mode=True, mig_devices=devices, processes=[Process(pid=10, gpu_instance_id=2, compute_instance_id=0, container=web)])
    got = parse(text(Snapshot(gpus=[gpu])))
    pods = {s.labels["GPU_I_ID"]: s.labels.get("pod") for s in got["DCGM_FI_DEV_GPU_TEMP"].samples}
    assert pods == {"1": None, "2": "vllm-decode-0"}


# --- promtool ------------------------------------------------------------------------------


def promtool_problems(promtool: str, exposition: str) -> set[tuple[str, str]]:
    """``promtool check metrics`` findings as (family, message); fails on anything but lint findings."""
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert result.returncode in (0, 3), result.stdout + result.stderr  # 3: lint findings; 1: unparsable exposition
    problems = set()
    for line in (result.stdout + result.stderr).splitlines():
        name, _, message = line.partition(" ")
        assert name.startswith("DCGM_FI_"), line
        problems.add((name, message))
    return problems


def assert_only_dcgm_exporters_own_findings(promtool: str, exposition: str) -> None:
    """promtool finds in ``exposition`` only what it finds in dcgm-exporter's own scrape.

    dcgm-exporter's names break two Prometheus conventions (counters without
    ``_total``, the camelCase ``modelName`` label) and dashboards depend on
    them: for a family the L40S scrape also has, the findings must be the same;
    for one it lacks (XID, NVLink) only those two conventions; for any other
    family (``axonize_*``) none at all.
    """
    ours = promtool_problems(promtool, exposition)
    theirs = promtool_problems(promtool, shared("dcgm-exporter-sample.prom").read_text())
    assert ours, "promtool found nothing: the modelName label or the counter names went missing"
    their_families = {f for f, _ in theirs}
    types = {m.name: m.type for m in dcgm.METRICS}
    for family in {f for f, _ in ours}:
        mine = {m for f, m in ours if f == family}
        if family in their_families:
            assert mine == {m for f, m in theirs if f == family}, family
        else:
            allowed = {"label names should be written in 'snake_case' not 'camelCase'"}
            if types[family] == "counter":
                allowed.add('counter metrics should have "_total" suffix')
            assert mine <= allowed, family


@requires("promtool")
@pytest.mark.parametrize("name", ["h100x8", "h200-mig", "every-field"])
def test_promtool_finds_only_what_it_finds_in_dcgm_exporters_own_output(name, promtool):
    snapshot = {
        "h100x8": lambda: replay(H100X8),
        "h200-mig": lambda: replay(H200_MIG),
        "every-field": lambda: Snapshot(
            hostname="h", driver_version="590.48.01", gpus=[full_gpu(0), full_gpu(1, processes=[Process(pid=1, container=pod("p"))])]
        ),
    }[name]()
    assert_only_dcgm_exporters_own_findings(promtool, text(snapshot))
