"""Replay files that never end, never open, are rewritten mid-read, or carry one bad byte: bounded, counted, never fatal."""

import os
import time

from axonize.exporter.replay import ReplaySource
from axonize.exporter.replay.bounded_read import BoundedReader, ReadFailure, _changed
from tests.conftest import DEMO_Q, NVIDIA, run_exporter

H100 = NVIDIA / "h100-80gb-hbm3_drv590_nvidia-smi-q_load.txt"


def errors(snap):
    return [(e.kind, e.message) for e in snap.errors]


def test_an_endless_file_is_cut_at_the_limit_and_named():
    snap = ReplaySource(["/dev/zero"], reader=BoundedReader(limit=2**20)).collect()
    assert snap.gpus == []
    ((kind, message),) = errors(snap)
    assert kind == "io" and "1 MiB limit" in message and snap.errors[0].location == "/dev/zero"


def test_a_fifo_without_a_writer_fails_the_cycle_and_the_next_one_at_once(tmp_path):
    fifo = tmp_path / "gpus.txt"
    os.mkfifo(fifo)
    source = ReplaySource([str(fifo)], reader=BoundedReader(timeout=0.2))
    started = time.monotonic()
    ((kind, message),) = errors(source.collect())
    assert kind == "io" and "no data within 0.2s" in message
    ((kind, message),) = errors(source.collect())  # the stuck read is not started again
    assert kind == "io" and "has not returned" in message
    assert time.monotonic() - started < 2
    with open(fifo, "w"):  # a writer arrives: the stuck thread ends
        pass


def test_one_latin1_byte_is_one_value_error_and_the_rest_is_used(tmp_path):
    data = H100.read_bytes().replace(b"/memhog", b"/mem\xe9hog", 1)  # a Latin-1 byte in the process path
    path = tmp_path / "q.txt"
    path.write_bytes(data)
    snap = ReplaySource([str(path)]).collect()
    assert len(snap.gpus) == 1 and snap.gpus[0].memory_total_bytes
    ((kind, message),) = errors(snap)
    line = data[: data.index(b"\xe9")].count(b"\n") + 1
    assert kind == "value" and "not UTF-8" in message and snap.errors[0].location == f"{path}:{line}"
    assert "mem\ufffdhog" in {p.name.rsplit("/", 1)[-1] for p in snap.gpus[0].processes}


def test_a_capture_cut_mid_gpu_is_a_mismatch(tmp_path):
    text = H100.read_text()
    path = tmp_path / "q.txt"
    path.write_text(text[: text.index("    Processes")])  # header says 1 GPU, and 1 GPU section is there
    snap = ReplaySource([str(path)]).collect()
    assert [k for k, m in errors(snap)] == ["mismatch"] and "cut short" in snap.errors[0].message


def test_a_file_changed_while_read_is_detected():
    st = os.stat(H100)
    assert not _changed(st, st, st.st_size)
    assert _changed(st, os.stat_result((*st[:6], st[6] + 10, *st[7:])), st.st_size)  # st_size grew


def test_duplicate_uuids_are_counted_and_the_copy_skipped(tmp_path):
    text = DEMO_Q.read_text()
    uuids = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("GPU UUID")]
    path = tmp_path / "q.txt"
    path.write_text(text.replace(uuids[1], uuids[0]))
    snap = ReplaySource([str(path)]).collect()
    assert [g.uuid for g in snap.gpus].count(uuids[0]) == 1 and len(snap.gpus) == 7
    assert [k for k, m in errors(snap)] == ["mismatch"] and f"UUID {uuids[0]} of GPU 0" in snap.errors[0].message


def test_a_report_without_gpus_is_an_error_and_print_says_why(tmp_path):
    text = H100.read_text()
    path = tmp_path / "q.txt"
    path.write_text(
        text[: text.index("GPU 00000000")].replace("Attached GPUs                                          : 1", "Attached GPUs : 0")
    )
    snap = ReplaySource([str(path)]).collect()
    assert [k for k, m in errors(snap)] == ["parse"] and "no GPU section" in snap.errors[0].message
    result = run_exporter("--replay", str(path), "--print")
    assert result.returncode == 1 and "no GPU section" in result.stderr


def test_reader_errors_are_read_failures(tmp_path):
    try:
        BoundedReader().read(str(tmp_path / "missing"))
    except ReadFailure as exc:
        assert exc.kind == "io" and "No such file" in exc.message
    else:
        raise AssertionError("no error")
