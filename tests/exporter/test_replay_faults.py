"""The replay's two fault signals: a GPU nvidia-smi could not open (lost), and XIDs from a kernel log."""

import re

import pytest

from axonize.exporter.replay import ReplaySource
from axonize.exporter.replay.lost_gpu import kind_of
from tests.conftest import DEMO, DEMO_Q, DEMO_TOPO, run_exporter

FAULTS = DEMO / "faults" / "h100-sxm-x8_drv565_nvidia-smi-q_faults.txt"
LOST = DEMO / "faults" / "h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt"
KERNEL_LOG = DEMO / "faults" / "kernel-xid.log"
LOST_LINE = "Unable to determine the device handle for GPU 0000:18:00.0: GPU is lost. Reboot the system to recover this GPU"
UUID = {
    0: "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1",
    3: "GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14",
    6: "GPU-83a5aebb-b71c-c570-aa83-185e1233fe97",
    7: "GPU-33135771-a848-ece1-b61e-489e221d663c",
}


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def gpu(snap, index):
    (found,) = [g for g in snap.gpus if g.index == index]
    return found


def errors(snap, kind=None):
    return [(e.location, e.message) for e in snap.errors if kind is None or e.kind == kind]


# -- a lost GPU ------------------------------------------------------------------------------------


def test_the_lost_capture_reads_gpu_0_as_lost_and_the_others_as_before():
    snap = ReplaySource([str(LOST)]).collect()
    assert [g.index for g in snap.gpus] == list(range(8))
    lost = gpu(snap, 0)
    assert (lost.fault, lost.uuid, lost.pci_bus_id) == ("gpu_lost", "unknown-gpu-0", "00000000:18:00.0")
    assert [g.uuid for g in snap.gpus if not g.fault] == [g.uuid for g in ReplaySource([str(FAULTS)]).collect().gpus][1:]
    ((location, message),) = errors(snap)  # no 'Attached GPUs' mismatch: 7 sections + 1 lost line = 8
    assert location == f"{LOST}:1" and "GPU is lost" in message and snap.errors[0].kind == "gpu_lost"


def test_in_place_without_a_space_unknown_error_and_the_index_order(tmp_path):
    lines = DEMO_Q.read_text().split("\n")
    start, end = lines.index("GPU 00000000:5D:00.0"), lines.index("GPU 00000000:9A:00.0")
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines[:start] + ["Unable to determine the device handle for GPU0000:5D:00.0: Unknown Error"] + lines[end:]))
    snap = ReplaySource([str(path)]).collect()
    assert [(g.index, g.fault) for g in snap.gpus if g.fault] == [(3, "unknown")]
    assert gpu(snap, 4).pci_bus_id == "00000000:9A:00.0" and gpu(snap, 2).pci_bus_id == "00000000:3A:00.0"
    ((location, message),) = errors(snap, "unknown")
    assert location == f"{path}:{start + 1}" and message.startswith("GPU 3 (00000000:5D:00.0): ") and message.endswith("Unknown Error")


def test_a_gpu_lost_while_watched_keeps_its_identity(tmp_path):
    path = tmp_path / "q.txt"
    path.write_bytes(FAULTS.read_bytes())
    source = ReplaySource([str(path), str(DEMO_TOPO)])
    healthy = gpu(source.collect(), 0)
    path.write_bytes(LOST.read_bytes())  # the cron job's next capture
    lost = gpu(source.collect(), 0)
    assert (lost.uuid, lost.name, lost.minor_number, lost.fault) == (UUID[0], "NVIDIA H100 80GB HBM3", 0, "gpu_lost")
    assert (lost.numa_node, lost.cpu_affinity) == (healthy.numa_node, healthy.cpu_affinity)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("GPU is lost. Reboot the system to recover this GPU", "gpu_lost"),
        ("Unknown Error", "unknown"),
        ("GPU requires reset", "reset_required"),
        ("Insufficient Permissions", "no_permission"),
        ("Timeout", "timeout"),
        ("Something new", "unknown"),
    ],
)
def test_the_error_string_gives_the_nvml_kind(message, kind):
    assert kind_of(message) == kind


def test_index_first_spelling_a_line_without_bus_id_and_a_line_for_a_present_gpu(tmp_path):
    text = DEMO_Q.read_text()
    path = tmp_path / "q.txt"
    path.write_text(
        "Unable to determine the device handle for GPU1: 0000:e0:00.0: Unknown Error\n"
        "Unable to determine the device handle for GPU2: Unknown Error\n"
        "Unable to determine the device handle for GPU 0000:18:00.0: GPU is lost\n" + text
    )
    snap = ReplaySource([str(path)]).collect()
    assert [(g.index, g.pci_bus_id, g.fault) for g in snap.gpus if g.fault] == [(8, "00000000:E0:00.0", "unknown")]
    assert [loc for loc, _ in errors(snap, "parse")] == [f"{path}:2"]
    assert [loc for loc, _ in errors(snap, "mismatch")][:1] == [f"{path}:3"]  # then 'Attached GPUs' 8 against 9


def test_the_lost_capture_differs_from_the_fault_capture_only_where_sources_md_says():
    derived, source = LOST.read_text().split("\n"), FAULTS.read_text().split("\n")
    assert source[7] == "GPU 00000000:18:00.0" and source[231] == "GPU 00000000:2A:00.0"
    assert derived == [LOST_LINE] + source[:7] + source[231:]
    row = next(line for line in (DEMO / "SOURCES.md").read_text().splitlines() if line.startswith(f"| faults/{LOST.name} "))
    assert "lines 8-231 of the fault capture" in row and "(line 1)" in row and LOST_LINE in row


# -- XIDs from a kernel log ------------------------------------------------------------------------

XID_79 = "[ 8734.154062] NVRM: Xid (PCI:0000:ba:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
XID_13 = "Nov 14 07:02:11 node kernel: NVRM: Xid (PCI:00000000:DB:00): 13, pid=48211, name=python3, Graphics Exception: ...\n"
NOISE = (
    "[    4.913372] nvidia: module license 'NVIDIA' taints kernel.\n[ 8734.154101] NVRM: GPU 0000:ba:00.0: GPU has fallen off the bus.\n"
)


def xids(snap):
    return {(g.index, code): (n, g.xid_last_seen_seconds[code]) for g in snap.gpus for code, n in g.xid_errors.items()}


def test_the_demo_kernel_log_gives_three_xids_and_no_error():
    clock = Clock()
    snap = ReplaySource([str(LOST)], kernel_log=str(KERNEL_LOG), clock=clock).collect()
    # XID 79 (fallen off the bus) belongs to the lost GPU 0, never read here: its identity is unknown
    assert xids(snap) == {(0, 79): (1.0, clock.now), (3, 63): (1.0, clock.now), (7, 13): (1.0, clock.now)}
    assert [g.uuid for g in snap.gpus if g.xid_errors] == ["unknown-gpu-0", UUID[3], UUID[7]]
    assert [e.kind for e in snap.errors] == ["gpu_lost"]


def test_counts_and_last_seen_follow_new_lines_only(tmp_path):
    log, clock = tmp_path / "dmesg.txt", Clock()
    log.write_text(NOISE + XID_79 + XID_79.replace("8734.154062", "8735.000001") + XID_13)
    source = ReplaySource([str(DEMO_Q)], kernel_log=str(log), clock=clock)
    t0 = clock.now
    assert xids(source.collect()) == {(6, 79): (2.0, t0), (7, 13): (1.0, t0)}
    clock.now += 5
    assert xids(source.collect()) == {(6, 79): (2.0, t0), (7, 13): (1.0, t0)}  # nothing new: last seen stays
    clock.now += 5
    log.write_text(log.read_text() + XID_79.replace("8734.154062", "9000.000000"))
    assert xids(source.collect()) == {(6, 79): (3.0, t0 + 10), (7, 13): (1.0, t0)}


def test_a_rotated_or_cleared_log_never_lowers_a_counter(tmp_path):
    log, clock = tmp_path / "dmesg.txt", Clock()
    log.write_text(XID_79 + XID_79.replace("8734.154062", "8735.000001"))
    source = ReplaySource([str(DEMO_Q)], kernel_log=str(log), clock=clock)
    t0 = clock.now
    assert xids(source.collect()) == {(6, 79): (2.0, t0)}
    clock.now += 5
    log.write_text("")  # dmesg -C
    assert xids(source.collect()) == {(6, 79): (2.0, t0)}
    clock.now += 5
    log.write_text(XID_79.replace("8734.154062", "9100.000000"))  # a rotated log with one new event
    assert xids(source.collect()) == {(6, 79): (3.0, t0 + 10)}


def test_unknown_bus_and_malformed_lines_are_errors_naming_file_and_line(tmp_path):
    log = tmp_path / "dmesg.txt"
    log.write_text(
        NOISE
        + "[ 1.0] NVRM: Xid (PCI:0000:01:00): 48, pid=1, name=a, DBE\n"
        + "[ 2.0] NVRM: Xid (PCI:0000:01:00): 48, pid=1, name=a, DBE\n"
        + "[ 3.0] NVRM: Xid (PCI:0000:ba:00): seventy-nine\n"
        + "NVRM: Xid (0000:ba:00): 31, Ch 00000001\n"
    )
    snap = ReplaySource([str(DEMO_Q)], kernel_log=str(log)).collect()
    assert [(loc, "XID 48" in m and "2 XID line(s)" in m) for loc, m in errors(snap, "mismatch")] == [(f"{log}:3", True)]
    assert [loc for loc, _ in errors(snap, "parse")] == [f"{log}:5"]
    assert gpu(snap, 6).xid_errors == {31: 1.0}  # the older form without 'PCI:'


def test_a_missing_kernel_log_is_an_error_and_the_gpus_and_counts_stay(tmp_path):
    log = tmp_path / "dmesg.txt"
    log.write_text(XID_79)
    source = ReplaySource([str(DEMO_Q)], kernel_log=str(log))
    source.collect()
    log.unlink()
    snap = source.collect()
    assert len(snap.gpus) == 8 and gpu(snap, 6).xid_errors == {79: 1.0}
    ((location, message),) = errors(snap, "io")
    assert location == str(log) and "kernel log" in message


def test_the_cli_exposes_the_lost_gpu_and_the_xids():
    result = run_exporter("--replay", str(LOST), str(DEMO_TOPO), "--replay.kernel-log", str(KERNEL_LOG), "--print")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert 'axonize_gpu_up{gpu="0",uuid="unknown-gpu-0"} 0.0' in out
    assert 'axonize_gpu_fault_info{gpu="0",kind="gpu_lost",uuid="unknown-gpu-0"} 1.0' in out
    assert 'axonize_gpu_xid_errors_total{gpu="0",uuid="unknown-gpu-0",xid="79"} 1.0' in out
    assert f'axonize_gpu_xid_errors_total{{gpu="7",uuid="{UUID[7]}",xid="13"}} 1.0' in out
    seen = re.search(rf'^axonize_gpu_xid_last_seen_timestamp_seconds\{{gpu="3",uuid="{UUID[3]}",xid="63"\}} (\S+)$', out, re.M)
    assert seen and float(seen.group(1)) > 1.7e9
    assert f"{LOST}:1:" in result.stderr
