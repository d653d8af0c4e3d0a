"""Bad captures get a clear error naming the file and the line or element; a broken GPU does not stop the others."""

import pytest

from axonize.exporter.replay import CaptureError, ReplaySource, query_text, query_xml, topology
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA


def collect(*paths):
    return ReplaySource([str(p) for p in paths]).collect()


def write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_empty_file(tmp_path):
    path = write(tmp_path, "empty.txt", "")
    snap = collect(path)
    assert snap.gpus == []
    (err,) = snap.errors
    assert err.kind == "parse" and err.location == str(path) and "empty file" in err.message


def test_garbage_text(tmp_path):
    path = write(tmp_path, "garbage.txt", "\n\nhello world\nthis is not nvidia-smi\n")
    (err,) = collect(path).errors
    assert err.location == f"{path}:1" and "not a recognised capture" in err.message and "hello world" in err.message


def test_binary_garbage(tmp_path):
    path = write(tmp_path, "random.bin", bytes(range(256)) * 4, mode="wb")
    (err,) = collect(path).errors
    assert str(path) in err.location and "UTF-8" in err.message


def test_truncated_xml_names_the_line(tmp_path):
    text = (NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml").read_text()
    cut = text[: len(text) // 2]
    path = write(tmp_path, "cut.xml", cut)
    with pytest.raises(CaptureError) as exc:
        query_xml.parse(cut, str(path))
    assert exc.value.where == str(cut.count("\n") + 1) and "malformed XML" in str(exc.value)
    assert str(path) in str(exc.value)
    (err,) = collect(path).errors
    assert err.kind == "parse" and err.location.startswith(f"{path}:")


def test_unknown_xml_section_names_the_element(tmp_path):
    text = (NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml").read_text().replace("<attached_gpus>", "<bogus><x>1</x></bogus>\n<attached_gpus>", 1)
    with pytest.raises(CaptureError, match=r"unknown top-level section <bogus>") as exc:
        query_xml.parse(text, "f.xml")
    assert exc.value.where == 7


def test_wrong_xml_root(tmp_path):
    with pytest.raises(CaptureError, match=r"root element is <html>"):
        query_xml.parse("<?xml version='1.0'?>\n<html><body/></html>", "page.xml")


def test_unknown_text_section_names_the_line():
    text = DEMO_Q.read_text().replace("Attached GPUs", "Bogus Section\n    Thing : 1\nAttached GPUs", 1)
    with pytest.raises(CaptureError, match=r"unknown top-level section 'Bogus Section'") as exc:
        query_text.parse(text, "q.txt")
    assert exc.value.where == 7


def test_text_with_inconsistent_indentation():
    lines = DEMO_Q.read_text().splitlines()
    lines[12] = "   " + lines[12].lstrip()  # 3 spaces where the siblings use 4
    with pytest.raises(CaptureError, match="indentation") as exc:
        query_text.parse("\n".join(lines), "q.txt")
    assert exc.value.where == 13


def test_broken_gpu_block_does_not_stop_the_others(tmp_path):
    lines = DEMO_Q.read_text().splitlines(keepends=True)
    # drop the UUID line of the third GPU section
    uuid_lines = [i for i, line in enumerate(lines) if line.strip().startswith("GPU UUID")]
    del lines[uuid_lines[2]]
    path = write(tmp_path, "q.txt", "".join(lines))
    snap = collect(path)
    assert [g.index for g in snap.gpus] == [0, 1, 3, 4, 5, 6, 7]
    (err,) = snap.errors
    gpu2_header = [i for i, line in enumerate(lines) if line.startswith("GPU 0000")][2] + 1
    assert err.location == f"{path}:{gpu2_header}" and "no UUID" in err.message


def test_bad_value_drops_the_field_and_names_the_line(tmp_path):
    text = DEMO_Q.read_text().replace("Power Draw                        : 100.89 W", "Power Draw                        : 100,89 W", 1)
    path = write(tmp_path, "q.txt", text)
    snap = collect(path)
    assert len(snap.gpus) == 8
    assert snap.gpus[0].power_watts is None and snap.gpus[1].power_watts is not None
    (err,) = snap.errors
    line = text.splitlines().index("        Power Draw                        : 100,89 W") + 1
    assert err.kind == "value" and err.location == f"{path}:{line}" and "'100,89 W'" in err.message


def test_driver_fault_value_is_counted_as_unavailable(tmp_path):
    text = DEMO_Q.read_text().replace("GPU Current Temp                  : 30 C", "GPU Current Temp                  : Unknown Error", 1)
    snap = collect(write(tmp_path, "q.txt", text))
    assert snap.gpus[0].temperature_celsius is None
    assert [e.kind for e in snap.errors] == ["unavailable"]


def test_truncated_text_report(tmp_path):
    text = DEMO_Q.read_text()
    cut = text[: text.index("GPU 00000000:BA:00.0") + 300]  # ends inside GPU 6, before its UUID
    snap = collect(write(tmp_path, "cut.txt", cut))
    assert [g.index for g in snap.gpus] == [0, 1, 2, 3, 4, 5]
    assert sorted((e.kind, e.message[:40]) for e in snap.errors) == [
        ("mismatch", "GPU 6 section has no Processes section: "),
        ("mismatch", "report says 8 attached GPUs but holds 7 "),
        ("parse", "GPU 6 (00000000:BA:00.0) has no UUID; GP"),
    ]


def test_topology_unknown_cell_and_truncated_row():
    text = DEMO_TOPO.read_text()
    bad = text.replace("NV18", "ZZ9", 1)
    with pytest.raises(CaptureError, match="unknown connection 'ZZ9' between GPU0 and GPU1") as exc:
        topology.parse(bad, "t.txt")
    assert exc.value.where == 2
    lines = text.splitlines()
    lines[3] = "\t".join(lines[3].split("\t")[:4])
    with pytest.raises(CaptureError, match="row GPU2 has 3 cells") as exc:
        topology.parse("\n".join(lines), "t.txt")
    assert exc.value.where == 4


def test_two_reports_for_one_host_is_an_error(tmp_path):
    snap = collect(DEMO_Q, NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml")
    assert len(snap.gpus) == 8
    assert any("a second GPU report" in e.message for e in snap.errors)


def test_missing_file():
    snap = collect("/nonexistent/capture.txt")
    (err,) = snap.errors
    assert err.kind == "io" and err.location == "/nonexistent/capture.txt"
