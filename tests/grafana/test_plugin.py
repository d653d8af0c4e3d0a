"""``make grafana-plugin``: the app plugin zip holds exactly plugin.json, the logo and the committed dashboards,
its includes point at files in the zip, and plugin.json passes Grafana's plugin.json schema (tests/fixtures/grafana/)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

import axonize
from axonize import bundle
from axonize.grafana import plugin
from tests.conftest import FIXTURES, ROOT

DASHBOARDS = ROOT / "grafana" / "dashboards"
SCHEMA = FIXTURES / "grafana" / "plugin-json-app.schema.json"
ID = plugin.PLUGIN_ID


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """The zip as ``python -m axonize.grafana.plugin --out DIR`` writes it."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "axonize.grafana.plugin", "--out", str(out), "--date", "2026-01-02"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    path = out / f"axonize-app-{axonize.__version__}.zip"
    assert done.stdout.strip() == f"wrote {path}"
    return path


def _manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(f"{ID}/plugin.json"))


def test_the_zip_holds_exactly_plugin_json_the_logo_and_the_committed_dashboards(archive):
    committed = sorted(DASHBOARDS.glob("*.json"))
    assert committed
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        names = set(zf.namelist())
        assert names == {f"{ID}/plugin.json", f"{ID}/{plugin.LOGO}"} | {f"{ID}/dashboards/{p.name}" for p in committed}
        for p in committed:
            assert zf.read(f"{ID}/dashboards/{p.name}") == p.read_bytes(), p.name
        logo = zf.read(f"{ID}/{plugin.LOGO}").decode()
    assert logo.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in logo


def test_the_includes_are_every_dashboard_with_its_title_and_point_into_the_zip(archive):
    manifest = _manifest(archive)
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    includes = manifest["includes"]
    assert all(i["type"] == "dashboard" for i in includes)
    assert all(f"{ID}/{i['path']}" in names for i in includes)
    titles = {d.uid: d.title for d in bundle.load().grafana.dashboards.values()}
    assert {Path(i["path"]).stem: i["name"] for i in includes} == titles
    assert sum(i["defaultNav"] for i in includes) == 1
    for logo in manifest["info"]["logos"].values():
        assert f"{ID}/{logo}" in names


def test_plugin_json_is_an_app_with_the_version_and_passes_grafanas_schema(archive):
    manifest = _manifest(archive)
    assert manifest["type"] == "app" and manifest["id"] == ID
    assert manifest["info"]["version"] == axonize.__version__
    assert manifest["info"]["updated"] == "2026-01-02"
    assert manifest["dependencies"]["grafanaDependency"] == plugin.GRAFANA_DEPENDENCY
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(manifest)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("id",), "Axonize App"),
        (("type",), "dashboard"),
        (("info", "version"), "0.1"),
        (("dependencies", "grafanaDependency"), "10"),
        (("includes", 0, "type"), "folder"),
    ],
)
def test_the_schema_rejects_a_broken_plugin_json(path, value):
    manifest = plugin.plugin_json([("axonize-fleet", "Fleet")], "2026-01-02")
    target = manifest
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, json.loads(SCHEMA.read_text()), cls=jsonschema.Draft7Validator)


def test_two_builds_on_one_date_are_byte_identical(tmp_path):
    first = plugin.write(tmp_path / "a", updated="2026-01-02").read_bytes()
    second = plugin.write(tmp_path / "b", updated="2026-01-02").read_bytes()
    assert first == second
