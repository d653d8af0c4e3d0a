"""Every target and variable query of the committed dashboards parses as PromQL: ``promtool check rules`` on a temporary
rule file recording each one, template variables substituted as Grafana would (label_values() unwrapped to its selector)."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.conftest import requires
from tests.grafana import committed

VALUES = {
    "datasource": ["axonize-prometheus"],
    "job": ["a", "b"],
    "host": ["h:1"],
    "gpu": ["0", "1"],
    "inference_job": ["s"],
    "model": ["m"],
    "engine": ["vllm", "tgi"],
}


def expressions() -> list[tuple[str, str]]:
    out = [(uid, f"{uid} / {panel['title']} / {t['refId']}", t["expr"]) for uid, panel, t in committed.targets()]
    for uid, var in committed.variable_queries():
        m = re.fullmatch(r"label_values\((.*), \w+\)", var["definition"])
        out.append((uid, f"{uid} / ${var['name']}", m.group(1)))
    return [(where, committed.substitute(expr, VALUES | committed.custom_values(uid))) for uid, where, expr in out]


@requires("promtool")
def test_every_query_parses(tmp_path, promtool):
    exprs = expressions()
    rules = [{"record": f"axonize_dashboard_query_{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr + "\n" + "\n".join(f"{i}: {w}" for i, (w, _) in enumerate(exprs))
    assert f"{len(exprs)} rules found" in out.stdout
