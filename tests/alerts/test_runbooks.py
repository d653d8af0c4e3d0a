"""docs/runbooks.md: a section per alert, generated from alerts/runbooks/*.yml; every runbook_url anchor exists."""

import re
import shutil

import pytest
import yaml

from axonize.alerts import render, runbooks
from tests.conftest import ROOT

DOC = ROOT / "docs" / "runbooks.md"


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the ``## `` headings (lower case; the alert names have no spaces or punctuation)."""
    return {
        re.sub(r"[^a-z0-9_-]", "", line[3:].strip().lower().replace(" ", "-")) for line in markdown.splitlines() if line.startswith("## ")
    }


def test_every_runbook_url_anchor_exists_in_the_runbooks():
    anchors = _anchors(DOC.read_text())
    urls = [r["annotations"]["runbook_url"] for r in render.alerts_of(render.render())]
    assert urls
    assert [u for u in urls if u.split("#", 1)[1] not in anchors] == []


def test_each_section_has_meaning_impact_diagnosis_and_remedy():
    text = DOC.read_text()
    sections = text.split("\n## ")[1:]
    assert len(sections) == len({r["alert"] for r in render.alerts_of(render.render())})
    for section in sections:
        for part in ("**Meaning.**", "**Impact.**", "**Diagnosis.**", "```promql", "**Remedy.**"):
            assert part in section, (section.splitlines()[0], part)


def _runbooks_with(tmp_path, monkeypatch, edit):
    folder = tmp_path / "runbooks"
    shutil.copytree(runbooks.RUNBOOKS_DIR, folder)
    path = folder / "gpu-health.yml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setattr(runbooks, "RUNBOOKS_DIR", folder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("AxonizeGpuLost"), "AxonizeGpuLost: missing (every alert has a runbook)"),
        (lambda d: d.update(AxonizeGpuHot=d["AxonizeGpuLost"]), "no alert named AxonizeGpuHot"),
        (lambda d: d["AxonizeGpuLost"].pop("remedy"), "AxonizeGpuLost: missing remedy"),
        (
            lambda d: d["AxonizeGpuLost"]["diagnosis"].append({"what": "x"}),
            "AxonizeGpuLost.diagnosis[3]: must have exactly what and promql",
        ),
        (
            lambda d: d["AxonizeGpuLost"]["diagnosis"].append({"what": "x", "promql": "axonize_gpu_upp"}),
            "names not in the names registry (axonize/names): axonize_gpu_upp",
        ),
    ],
)
def test_a_runbook_gap_fails_the_render(tmp_path, monkeypatch, edit, message):
    _runbooks_with(tmp_path, monkeypatch, edit)
    with pytest.raises(render.RenderError) as exc:
        runbooks.render(render.render())
    assert message in str(exc.value)
