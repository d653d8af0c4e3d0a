"""Generated files are committed and up to date: regenerate with `make generate` (python -m axonize.generate)."""

import subprocess
import sys

from axonize import generate, names
from axonize.sidecar.engines import ADAPTERS
from tests.conftest import ROOT


def test_every_generated_file_is_up_to_date():
    problems = generate.stale(ROOT)
    assert not problems, "stale generated files (run `make generate` and commit them): " + "; ".join(problems)


def test_check_names_a_stale_file_and_write_repairs_it(tmp_path):
    for rel in generate.artifacts():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    generate.write(tmp_path)
    assert generate.stale(tmp_path) == []
    (tmp_path / "rules" / "cost.rules.yml").write_text("groups: []\n")
    (tmp_path / "rules" / "old.rules.yml").write_text("groups: []\n")
    (tmp_path / "alerts" / "old.alerts.yml").write_text("groups: []\n")
    (tmp_path / "docs" / "metrics.md").unlink()
    assert generate.stale(tmp_path) == [
        "rules/cost.rules.yml: differs from a fresh render",
        "docs/metrics.md: missing",
        "rules/old.rules.yml: no renderer makes it (remove it)",
        "alerts/old.alerts.yml: no renderer makes it (remove it)",
    ]
    out = subprocess.run([sys.executable, "-m", "axonize.generate", "--check", "--root", str(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 1 and "docs/metrics.md: missing" in out.stderr


def test_every_registered_name_and_engine_family_is_documented():
    text = (ROOT / "docs" / "metrics.md").read_text()
    wanted = [row.name.replace("{window}", "5m") for row in names.REGISTRY.values() if "energy_cost" not in row.name]
    for adapter in ADAPTERS.values():
        wanted += [rule.source for rule in adapter.rules] + list(adapter.unmapped)
    missing = [name for name in wanted if f"`{name}" not in text]
    assert not missing, missing
