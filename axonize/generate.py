"""``make generate``: render every generated file of the bundle from its one configuration, or check them.

``python -m axonize.generate`` writes, from the bundle configuration and the names registry:

* ``rules/*.rules.yml``: the recording rules (:mod:`axonize.rules.render`);
* ``alerts/*.alerts.yml``: the alerting rules (:mod:`axonize.alerts.render`);
* ``alerts/grafana-alerting.yml``: the same alerts as Grafana-managed rules (:mod:`axonize.alerts.grafana`);
* ``docs/runbooks.md``: a section per alert, from alerts/runbooks/*.yml (:mod:`axonize.alerts.runbooks`);
* ``grafana/dashboards/<uid>.json``, ``grafana/provisioning/`` and ``grafana/kubernetes/``: the dashboards, their
  provisioning files and ConfigMaps (:mod:`axonize.grafana.render`), and ``grafana/provisioning/alerting/axonize.yml``,
  a copy of alerts/grafana-alerting.yml for the provisioning bundle;
* ``docs/metrics.md``: the exporter's, the sidecar's, the gateway's and the recording rules' names and formulas;
* ``docs/kubernetes-monitors.yaml``: a Prometheus Operator ServiceMonitor and PodMonitor
  (:mod:`axonize.kubernetes`) whose job labels are what the rules select.

``--check`` writes nothing and exits 1 naming every file that is missing, differs from a fresh
render, or is a ``rules/*.rules.yml`` or ``alerts/*.alerts.yml`` that no template renders; tests/test_generated.py runs it.
``--root DIR`` is the source tree to write into (default: the checkout this package runs from).

This is the build tool that drives each component's renderer, so unlike the components it imports
them all; no component imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

#: The source tree of an editable install or checkout: the folder holding axonize/ and rules/.
ROOT = Path(__file__).resolve().parent.parent
#: Generated files by folder pattern: a file matching one that no renderer makes is an orphan.
GENERATED_PATTERNS = ("rules/*.rules.yml", "alerts/*.alerts.yml", "grafana/dashboards/*.json")


def _metrics_md() -> str:
    from axonize.exporter import docs as exporter_docs
    from axonize.gateway import docs as gateway_docs
    from axonize.rules import docs as rules_docs
    from axonize.sidecar import docs as sidecar_docs

    return exporter_docs.render() + sidecar_docs.render() + gateway_docs.render() + rules_docs.render()


def _kubernetes_monitors() -> str:
    from axonize import kubernetes

    return kubernetes.render()


def artifacts() -> dict[str, Callable[[], str]]:
    """``{path relative to the source tree: function rendering its text}`` for every generated file."""
    from axonize.alerts import grafana, runbooks
    from axonize.alerts import render as alerts_render
    from axonize.grafana import render as grafana_render
    from axonize.rules import render as rules_render

    out: dict[str, Callable[[], str]] = {}
    for name, text in rules_render.render().items():
        out[f"rules/{name}"] = lambda text=text: text
    alerts = alerts_render.render()
    for name, text in alerts.items():
        out[f"alerts/{name}"] = lambda text=text: text
    out["docs/metrics.md"] = _metrics_md
    out["docs/kubernetes-monitors.yaml"] = _kubernetes_monitors
    out["docs/runbooks.md"] = lambda: runbooks.render(alerts)
    out["alerts/grafana-alerting.yml"] = lambda: grafana.render_text(alerts)
    for name, text in grafana_render.render().items():
        out[f"grafana/{name}"] = lambda text=text: text
    # The provisioning bundle's alerting file is the same render as alerts/grafana-alerting.yml.
    out[f"grafana/{grafana_render.ALERTING}"] = out["alerts/grafana-alerting.yml"]
    return out


def orphans(root: Path) -> list[str]:
    """Generated-looking files no renderer makes any more (a ``rules/*.rules.yml`` whose template is gone)."""
    made = set(artifacts())
    found = [p.relative_to(root).as_posix() for pattern in GENERATED_PATTERNS for p in sorted(root.glob(pattern))]
    return [rel for rel in found if rel not in made]


def stale(root: Path = ROOT) -> list[str]:
    """Problems, one line each: ``path: missing``, ``path: differs from a fresh render``, ``path: no renderer makes it``."""
    problems = []
    for rel, produce in artifacts().items():
        path = root / rel
        if not path.exists():
            problems.append(f"{rel}: missing")
        elif path.read_text(encoding="utf-8") != produce():
            problems.append(f"{rel}: differs from a fresh render")
    problems += [f"{rel}: no renderer makes it (remove it)" for rel in orphans(root)]
    return problems


def write(root: Path = ROOT) -> list[str]:
    """Render every generated file into ``root``; the relative paths written.

    Everything is rendered before anything is written, so a renderer that fails leaves every file as it was.
    """
    texts = {rel: produce() for rel, produce in artifacts().items()}
    for rel, text in texts.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(texts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axonize.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a generated file is stale")
    parser.add_argument("--root", metavar="DIR", default=str(ROOT), help="source tree to write into (default: %(default)s)")
    args = parser.parse_args(argv)
    root = Path(args.root)
    if args.check:
        problems = stale(root)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("generated files are stale: run `make generate` and commit them", file=sys.stderr)
        return 1 if problems else 0
    for rel in write(root):
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
