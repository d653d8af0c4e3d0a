"""``axonize advise`` end to end on both scenarios, and bad input: exit 2 with the file, key or URL named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from axonize import cli
from axonize.advisor import scenarios
from axonize.advisor.terminal import WIDTH
from axonize.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def advise(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli.main(["advise", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("name", list(scenarios.SCENARIOS))
def test_scenario_end_to_end(capsys, tmp_path, name):
    out_json = tmp_path / "report.json"
    rc, out, err = advise(capsys, "--scenario", name, "--json", str(out_json))
    assert rc == 0, err
    doc = json.loads(out_json.read_text())
    assert doc["format"] == "axonize-advise/1"
    assert list(doc) == ["format", "host", "score", "findings", "plan", "narrative", "narrative_error", "notes"]
    score = doc["score"]
    assert f"Efficiency score {score['score']:.1f}/100, grade {score['grade']}" in out
    assert f"Findings ({len(doc['findings'])}" in out
    top = sorted(doc["findings"], key=lambda f: ("critical", "warning", "info").index(f["severity"]))[0]
    assert top["title"].split()[0] in out
    plan = doc["plan"]
    assert plan is not None, "both scenarios have something to move"
    # the headline is the score of the GPUs in use; the whole host's, as the rules record it, is labelled
    head = f"Plan: GPUs in use score {plan['in_use_before']['score']:.1f} ({plan['in_use_before']['grade']}) -> "
    assert head + f"{plan['in_use_after']['score']:.1f} ({plan['in_use_after']['grade']})" in out
    whole = f"Whole host as the recording rules record it: {plan['before']['score']:.1f} ({plan['before']['grade']}) -> "
    assert whole + f"{plan['after']['score']:.1f} ({plan['after']['grade']})" in " ".join(out.split())
    assert (
        plan["gpus_available"]
        and f"until GPU{'s' * (len(plan['gpus_available']) > 1)} {', '.join(map(str, plan['gpus_available']))}" in out
    )
    for step in plan["steps"]:
        assert step["description"].split()[0] in out
    assert len(doc["host"]["gpus"]) == len(Path(scenarios.files(name).captures[0]).read_text().split("\nGPU 0000")) - 1
    long = [line for line in out.splitlines() if len(line) > WIDTH]
    assert not long, f"lines over {WIDTH} columns: {long}"
    assert f"wrote JSON {out_json}" in out


def test_replay_with_workloads_equals_the_scenario(capsys, tmp_path):
    """The same report, but for the inputs' names: a scenario's files by name, the user's as given."""
    sc = scenarios.files("l40sx4")
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert advise(capsys, "--scenario", "l40sx4", "--json", str(a))[0] == 0
    assert advise(capsys, "--replay", *sc.captures, "--workloads", sc.workloads, "--json", str(b))[0] == 0
    doc_a, doc_b = json.loads(a.read_text()), json.loads(b.read_text())
    assert doc_a["host"].pop("sources") == ["scenario l40sx4: nvidia-smi-q.txt, topo-m.txt, workloads.yml"]
    assert doc_b["host"].pop("sources") == [*sc.captures, sc.workloads]
    assert doc_a == doc_b


def test_a_scenario_with_the_users_workloads_file_names_it_as_given(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("mine.yml").write_text("workloads: [{name: a, kind: training, gpus: [0, 1], cpus: 0-31}]\n")
    out_json = tmp_path / "r.json"
    rc, out, err = advise(capsys, "--scenario", "l40sx4", "--workloads", "mine.yml", "--json", str(out_json))
    assert rc == 0, err
    assert json.loads(out_json.read_text())["host"]["sources"] == ["scenario l40sx4: nvidia-smi-q.txt, topo-m.txt", "mine.yml"]
    assert "from scenario l40sx4: nvidia-smi-q.txt, topo-m.txt; mine.yml" in out


def test_host_name_from_the_flag_else_the_capture(capsys, tmp_path):
    """A replay without a workloads file's host: is named after the nvidia-smi report's file; --hostname wins."""
    sc = scenarios.files("h200x8")
    report = tmp_path / "gpu-box-7_nvidia-smi-q.txt"
    report.write_text(Path(sc.captures[0]).read_text())
    out_json = tmp_path / "r.json"
    rc, out, err = advise(capsys, "--replay", sc.captures[1], str(report), "--json", str(out_json))
    assert rc == 0, err
    assert json.loads(out_json.read_text())["host"]["hostname"] == "gpu-box-7_nvidia-smi-q"
    assert out.startswith("gpu-box-7_nvidia-smi-q: 8x NVIDIA H200")
    rc, out, err = advise(capsys, "--scenario", "h200x8", "--hostname", "rack3-gpu12", "--json", str(out_json))
    assert rc == 0, err
    assert json.loads(out_json.read_text())["host"]["hostname"] == "rack3-gpu12" and out.startswith("rack3-gpu12: ")


def test_html_and_pdf_through_the_command(capsys, tmp_path):
    """--html and --pdf write both files; the PDF's text (poppler's pdftotext) names the host, its score and grade,
    and no path of this machine."""
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.skip("poppler's pdftotext is not installed (apt-get install poppler-utils)")
    html, pdf, out_json = tmp_path / "r.html", tmp_path / "r.pdf", tmp_path / "r.json"
    rc, out, err = advise(
        capsys, "--scenario", "l40sx4", "--hostname", "lab-l40s", "--html", str(html), "--pdf", str(pdf), "--json", str(out_json)
    )
    assert rc == 0, err
    assert f"wrote JSON {out_json}, HTML {html}, PDF {pdf}" in out
    doc = json.loads(out_json.read_text())
    assert "<title>GPU efficiency report: lab-l40s</title>" in html.read_text()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = " ".join(text.split())
    assert "lab-l40s" in text and f"{doc['score']['score']:.1f} / 100" in flat and f"Grade {doc['score']['grade']}:" in flat
    plan = doc["plan"]
    assert f"{plan['in_use_before']['score']:.1f} ({plan['in_use_before']['grade']})" in flat
    assert "scenario l40sx4: nvidia-smi-q.txt, topo-m.txt, workloads.yml" in flat
    assert str(ROOT) not in flat and "site-packages" not in flat


def bad(capsys, *args: str) -> str:
    rc, out, err = advise(capsys, *args)
    assert rc == 2, (out, err)
    assert out == ""
    return err


def test_captures_of_two_hosts(capsys):
    h200, l40s = scenarios.files("h200x8"), scenarios.files("l40sx4")
    err = bad(capsys, "--replay", h200.captures[0], l40s.captures[0])
    assert "do not form one host" in err and l40s.captures[0] in err


def test_topology_of_another_host(capsys):
    h200, l40s = scenarios.files("h200x8"), scenarios.files("l40sx4")
    err = bad(capsys, "--replay", h200.captures[0], l40s.captures[1])
    assert l40s.captures[1] in err and "topology has 4 GPUs, the report 8" in err


def test_a_file_that_is_no_capture(capsys):
    err = bad(capsys, "--replay", str(ROOT / "README.md"))
    assert "README.md:1: not a recognised capture" in err


def test_workloads_naming_a_missing_gpu(capsys, tmp_path):
    path = tmp_path / "workloads.yml"
    path.write_text("workloads:\n  - name: a\n    kind: training\n    gpus: [9]\n")
    err = bad(capsys, "--scenario", "h200x8", "--workloads", str(path))
    assert f"{path}:4: workloads[0].gpus: GPU 9 does not exist on host h200-node (GPUs 0-7)" in err


def test_workloads_with_impossible_memory(capsys, tmp_path):
    path = tmp_path / "workloads.yml"
    path.write_text("workloads: [{name: a, kind: inference, gpus: [0], memory: 64GiB}]\n")
    err = bad(capsys, "--scenario", "l40sx4", "--workloads", str(path))
    assert re.search(rf"{re.escape(str(path))}:1: workloads\[0\]\.memory: 64\.0 GiB per GPU is more than GPU 0's 4\d\.\d GiB", err)


def test_malformed_workloads_yaml(capsys, tmp_path):
    path = tmp_path / "w.yml"
    path.write_text("workloads:\n  - name: a\n   kind: training\n")
    err = bad(capsys, "--scenario", "h200x8", "--workloads", str(path))
    assert re.search(rf"{re.escape(str(path))}:\d+: not valid YAML", err)


def test_unreachable_prometheus(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    err = bad(capsys, "--prometheus", url)
    assert url in err


def test_llm_flags_go_together(capsys):
    err = bad(capsys, "--scenario", "h200x8", "--llm-endpoint", "http://127.0.0.1:1")
    assert "--llm-endpoint and --llm-model go together" in err


def test_unwritable_output(capsys, tmp_path):
    rc, out, err = advise(capsys, "--scenario", "l40sx4", "--json", str(tmp_path / "missing" / "r.json"))
    assert rc == 2 and str(tmp_path / "missing" / "r.json") in err


def test_bad_window(capsys):
    err = bad(capsys, "--prometheus", "http://127.0.0.1:1", "--window", "soon")
    assert "--window: 'soon' is not a duration" in err
