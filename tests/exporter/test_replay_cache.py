"""A replay reuses what it parsed from an unchanged capture, and its snapshots are those of a first read.

Every capture of tests/fixtures/nvidia, axonize/demo_data (faults/ included) and the shared set is
copied, its modification time set a minute back (a capture a cron job wrote earlier), and read by one
source for three cycles, each enriched the way the collection path does (summarize, prices); the
third cycle's snapshot must equal the one a new source reads at once, before and after enrichment,
and must have come from the kept parse.
"""

import copy
import os
import time
from pathlib import Path

import pytest

from axonize import pricing
from axonize.demo import demo_captures
from axonize.exporter.prices import apply_prices
from axonize.exporter.replay import ReplaySource
from axonize.exporter.runtime_context import summarize
from tests.conftest import DEMO, DEMO_Q, DEMO_TOPO, NVIDIA, SHARED

FAULTS = DEMO / "faults"
KERNEL_LOG = FAULTS / "kernel-xid.log"
H200 = NVIDIA / "h200-real"
NOW = 1_700_000_000.0
TABLE = pricing.load()


def captures(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".txt", ".xml") and "SOURCES" not in p.name)


SINGLE = [p for folder in (NVIDIA, DEMO) for p in captures(folder)]
if (SHARED / "nvidia").is_dir():
    SINGLE += captures(SHARED / "nvidia")
HOSTS: list[tuple[list[Path], Path | None]] = [([p], None) for p in SINGLE] + [
    ([Path(p) for p in demo_captures()], None),
    ([FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt", DEMO_TOPO], KERNEL_LOG),
    ([FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults.txt", DEMO_TOPO], KERNEL_LOG),
    ([H200 / "h200_drv580_nvidia-smi-q-x_load.xml", H200 / "h200_drv580_nvidia-smi-L.txt", H200 / "h200_drv580_topo-m.txt"], None),
    ([H200 / "h200_drv580_nvidia-smi-q_idle.txt", H200 / "h200_drv580_nvidia-smi-L.txt", H200 / "h200_drv580_topo-m.txt"], None),
    ([NVIDIA / "h100-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h100-mig_drv590_nvidia-smi-L.txt"], None),
    ([NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"], None),
    ([NVIDIA / "h200_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-1gpu-vm_drv590_topo-m.txt"], None),
]


def settle(path: Path, seconds_ago: float = 60.0) -> Path:
    """Set the file's modification time back, as a capture written by an earlier cron run has it."""
    then = time.time() - seconds_ago
    os.utime(path, (then, then))
    return path


def written(path: Path, data: str | bytes) -> Path:
    """``path`` with ``data``, settled."""
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return settle(path)


def copies(tmp_path: Path, files: list[Path], log: Path | None) -> tuple[list[str], str]:
    out = []
    for i, f in enumerate([*files, *([log] if log else [])]):
        out.append(str(written(tmp_path / f"{i}-{f.name}", f.read_bytes())))
    return (out[:-1], out[-1]) if log else (out, "")


def source(paths: list[str], log: str = "") -> ReplaySource:
    return ReplaySource(paths, hostname="host-a", kernel_log=log, clock=lambda: NOW)


def enrich(snap):
    summarize(snap)
    apply_prices(snap, TABLE)
    return snap


def first_read(paths: list[str], log: str = ""):
    return source(paths, log).collect()


@pytest.mark.parametrize(
    "files,log", HOSTS, ids=["+".join(p.name for p in files) + (f"+{log.name}" if log else "") for files, log in HOSTS]
)
def test_a_kept_parse_gives_the_snapshot_of_a_first_read(tmp_path, files, log):
    paths, log_path = copies(tmp_path, files, log)
    kept = source(paths, log_path)
    for _ in range(2):
        enrich(kept.collect())  # later stages write into the snapshot: none of it may reach the next one
    third = kept.collect()
    assert kept.files.reused >= 2 * len(paths), "the unchanged files were read again"
    fresh = first_read(paths, log_path)
    assert third == fresh
    assert enrich(copy.deepcopy(third)) == enrich(fresh)


def test_the_snapshots_are_new_objects_each_cycle(tmp_path):
    paths, _ = copies(tmp_path, [Path(p) for p in demo_captures()], None)
    kept, fresh = source(paths), first_read(paths)
    for _ in range(4):
        snap = kept.collect()
        assert snap == fresh
        snap.gpus[0].clocks_hertz["sm"] = 0.0  # what a later stage could do to its snapshot
        snap.gpus[0].processes.append(None)
        snap.links.clear()
    assert kept.files.reused == 3 * len(paths)


def replace_atomically(path: Path, text: str, settled: bool = True) -> None:
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    os.replace(settle(new) if settled else new, path)


def test_a_replaced_or_rewritten_capture_is_read_the_next_cycle(tmp_path):
    # the same history twice: settled files (kept parses) and files just written (read every cycle)
    (tmp_path / "kept").mkdir()
    (tmp_path / "read").mkdir()
    kept_report = written(tmp_path / "kept" / "gpus.txt", DEMO_Q.read_text())
    read_report = tmp_path / "read" / "gpus.txt"
    read_report.write_text(DEMO_Q.read_text())
    kept, read = source([str(kept_report)]), source([str(read_report)])

    def same(a, b):
        return repr(a).replace("/kept/", "/read/") == repr(b).replace("/kept/", "/read/")

    assert same(kept.collect(), read.collect())
    versions = [
        ("os.replace", (FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults.txt").read_text()),
        ("in place", (FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt").read_text()),  # GPU 0 keeps its UUID
        ("os.replace", DEMO_Q.read_text()),
        ("in place", "not a capture\n"),
        ("os.replace", DEMO_Q.read_text()),
    ]
    for how, text in versions:
        before = kept.files.reused
        for report, settled in ((kept_report, True), (read_report, False)):
            if how == "os.replace":
                replace_atomically(report, text, settled)
            else:
                report.write_text(text)
                if settled:
                    settle(report)
        snap = kept.collect()
        assert kept.files.reused == before, f"{how}: the new version was not read"
        assert same(snap, read.collect()), how
        assert same(kept.collect(), snap) and same(read.collect(), snap) and kept.files.reused == before + 1
    assert read.files.reused == 0


def test_a_file_modified_less_than_a_second_before_the_read_is_read_again_even_if_its_version_repeats(tmp_path):
    report = tmp_path / "gpus.txt"
    report.write_text(DEMO_Q.read_text())
    soon = time.time_ns() + 10 * 10**9  # "not a second old" whatever the load (a server clock ahead reads the same)
    os.utime(report, ns=(soon, soon))
    kept = source([str(report)])
    assert kept.collect().gpus[0].utilization_ratio == 0.0
    # rewritten in place within the same timestamp tick, same size: only the bytes differ
    report.write_text(DEMO_Q.read_text().replace("Gpu                               : 0 %", "Gpu                               : 9 %", 1))
    os.utime(report, ns=(soon, soon))
    assert kept.collect().gpus[0].utilization_ratio == 0.09 and kept.files.reused == 0


def test_a_settled_file_is_known_by_its_version_not_read_for_its_bytes(tmp_path):
    report = written(tmp_path / "gpus.txt", DEMO_Q.read_text())
    stat = report.stat()
    kept = source([str(report)])
    kept.collect()
    report.write_text(DEMO_Q.read_text().replace("Gpu                               : 0 %", "Gpu                               : 9 %", 1))
    os.utime(report, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same inode, size and time: the same version
    assert kept.collect().gpus[0].utilization_ratio == 0.0 and kept.files.reused == 1


BAD = {
    "empty.txt": b"",
    "garbage.txt": b"\n\nhello world\n",
    "binary.bin": bytes(range(256)) * 4,
    "cut.xml": (NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml").read_bytes()[:3000],
    "latin1.txt": DEMO_Q.read_bytes().replace(b"NVIDIA H100 80GB HBM3", b"NVIDIA H100 80GB HBM\xe9", 1),
    "indent.txt": DEMO_Q.read_bytes().replace(b"\n        Total  ", b"\n         Total  ", 1),
    "topo-bad.txt": DEMO_TOPO.read_bytes().replace(b"NV18", b"NV?", 1),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_capture_keeps_its_error_naming_file_and_line(tmp_path, name):
    path = written(tmp_path / name, BAD[name])
    paths = [str(path)] if name != "topo-bad.txt" else [str(written(tmp_path / "q.txt", DEMO_Q.read_bytes())), str(path)]
    kept = source(paths)
    cycles = [kept.collect() for _ in range(3)]
    assert kept.files.reused == 2 * len(paths)
    fresh = first_read(paths)
    assert fresh.errors and all(snap.errors == fresh.errors for snap in cycles)
    assert any(e.location.startswith(str(path)) for e in fresh.errors)


def test_a_second_report_is_refused_every_cycle(tmp_path):
    paths, _ = copies(tmp_path, [DEMO_Q, FAULTS / "h100-sxm-x8_drv565_nvidia-smi-q_faults.txt"], None)
    kept = source(paths)
    cycles = [kept.collect() for _ in range(3)]
    assert kept.files.reused == 4
    ((location, message),) = [(e.location, e.message) for e in cycles[2].errors]
    assert location == paths[1] and "a second GPU report" in message
    assert all(snap == cycles[0] == first_read(paths) for snap in cycles)


# -- the kernel log --------------------------------------------------------------------------------

XID_79 = "[ 8734.154062] NVRM: Xid (PCI:0000:ba:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.\n"
BAD_LINE = "[ 9.0] NVRM: Xid (PCI:0000:ba:00): seventy-nine\n"


def xids(snap):
    return {(g.index, code): n for g in snap.gpus for code, n in g.xid_errors.items()}


def test_an_unchanged_kernel_log_counts_once_and_keeps_its_errors(tmp_path):
    log = written(tmp_path / "dmesg.txt", XID_79 + BAD_LINE)
    kept = source([str(written(tmp_path / "q.txt", DEMO_Q.read_bytes()))], str(log))
    cycles = [kept.collect() for _ in range(3)]
    assert kept.files.reused == 2
    assert [xids(s) for s in cycles] == [{(6, 79): 1.0}] * 3
    assert all(s.errors == cycles[0].errors for s in cycles) and [e.location for e in cycles[0].errors] == [f"{log}:2"]
    # the log is not read again: the same version with another line in it is not seen
    stat = log.stat()
    log.write_text(XID_79.replace("8734.154062", "8734.154063") + BAD_LINE)
    os.utime(log, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert xids(kept.collect()) == {(6, 79): 1.0}


def test_an_appended_then_rotated_kernel_log_adds_only_its_new_lines(tmp_path):
    log = written(tmp_path / "dmesg.txt", XID_79)
    kept = source([str(written(tmp_path / "q.txt", DEMO_Q.read_bytes()))], str(log))
    assert xids(kept.collect()) == {(6, 79): 1.0}
    later = XID_79.replace("8734.154062", "8800.000000")
    with log.open("a") as f:  # the kernel appends
        f.write(later)
    settle(log, 30)
    assert [xids(kept.collect()) for _ in range(2)] == [{(6, 79): 2.0}] * 2
    replace_atomically(log, later + XID_79.replace("8734.154062", "8900.000000"))  # rotated: one old line, one new
    assert [xids(kept.collect()) for _ in range(2)] == [{(6, 79): 3.0}] * 2
