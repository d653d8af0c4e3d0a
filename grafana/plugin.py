"""``make grafana-plugin``: the dashboards as a Grafana app plugin, ``dist/axonize-app-<version>.zip``.

The archive holds one folder, :data:`PLUGIN_ID`, with:

* ``plugin.json``: an app plugin (``type: app``) whose ``includes`` list every dashboard (``type: dashboard``,
  ``path: dashboards/<uid>.json``), so Grafana imports them when the app is enabled; ``info`` carries the
  description, author, logos, version (:data:`axonize.__version__`) and build date; ``dependencies`` the
  Grafana versions it needs (:data:`GRAFANA_DEPENDENCY`);
* ``img/logo.svg``: the logo (small and large);
* ``dashboards/<uid>.json``: the dashboards, rendered from the bundle configuration's ``grafana:`` section (uids,
  titles, datasource), byte for byte the text ``make generate`` commits to grafana/dashboards/.

The plugin has no frontend code (``module.js``) and no signature: Grafana loads it only when its id is in
``allow_loading_unsigned_plugins``. File provisioning (grafana/provisioning/) is the recommended path; the plugin
is for Grafanas whose provisioning folders one cannot write.

    python -m axonize.grafana.plugin --out dist [--date YYYY-MM-DD]

The date (``info.updated`` and the archive's file times) is ``--date``, else ``SOURCE_DATE_EPOCH``, else today,
so two builds on one day are byte-identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import axonize
from axonize import bundle

from . import dashboard, render

#: The plugin id: the folder in the archive and what ``allow_loading_unsigned_plugins`` names.
PLUGIN_ID = "axonize-app"
#: The Grafana versions the dashboards need (schemaVersion 41 panels; Grafana migrates older ones itself).
GRAFANA_DEPENDENCY = ">=10.0.0"
#: Where the logo lies in the plugin folder (plugin.json's info.logos point at it).
LOGO = "img/logo.svg"
#: Grafana's published JSON schema of plugin.json (grafana/grafana, docs/sources/developers/plugins/).
SCHEMA_URL = "https://raw.githubusercontent.com/grafana/grafana/main/docs/sources/developers/plugins/plugin.schema.json"

_LOGO_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">
  <title>Axonize</title>
  <rect x="4" y="4" width="56" height="56" rx="10" fill="#1f2937"/>
  <path d="M14 48 L26 16 L38 48 M19 36 H33" fill="none" stroke="#34d399" stroke-width="5"
        stroke-linecap="round" stroke-linejoin="round"/>
  <circle cx="46" cy="20" r="5" fill="#60a5fa"/>
  <circle cx="46" cy="44" r="5" fill="#60a5fa"/>
  <path d="M46 25 V39" stroke="#60a5fa" stroke-width="3"/>
</svg>
"""


def archive_name(version: str = axonize.__version__) -> str:
    """``axonize-app-<version>.zip``."""
    return f"{PLUGIN_ID}-{version}.zip"


def plugin_json(dashboards: Sequence[tuple[str, str]], updated: str, version: str = axonize.__version__) -> dict:
    """plugin.json for ``[(uid, title)]`` in link order; the first dashboard is the app's default page."""
    includes = [
        {
            "type": "dashboard",
            "name": title,
            "path": f"dashboards/{uid}.json",
            "role": "Viewer",
            "addToNav": True,
            "defaultNav": i == 0,
        }
        for i, (uid, title) in enumerate(dashboards)
    ]
    return {
        "$schema": SCHEMA_URL,
        "type": "app",
        "name": "Axonize",
        "id": PLUGIN_ID,
        "info": {
            "description": (
                "Axonize dashboards: GPU fleet efficiency and cost, per-GPU health, inference latency joined to "
                "the GPUs that serve it, cost per model and token, and topology and placement."
            ),
            "author": {"name": "Axonize"},
            "keywords": ["gpu", "inference", "llm", "nvidia", "dcgm", "vllm", "cost", "prometheus"],
            "logos": {"small": LOGO, "large": LOGO},
            "version": version,
            "updated": updated,
        },
        "includes": includes,
        "dependencies": {"grafanaDependency": GRAFANA_DEPENDENCY, "plugins": []},
    }


def members(cfg: bundle.Bundle | None = None, updated: str | None = None) -> dict[str, bytes]:
    """``{path in the archive: bytes}``: plugin.json, the logo and every dashboard, under :data:`PLUGIN_ID`/."""
    cfg = cfg or bundle.load()
    updated = updated or build_date()
    boards = render.dashboards(cfg)
    titles = [(uid, data["title"]) for uid, data in boards.items()]
    text = json.dumps(plugin_json(titles, updated), indent=2) + "\n"
    out = {f"{PLUGIN_ID}/plugin.json": text.encode(), f"{PLUGIN_ID}/{LOGO}": _LOGO_SVG.encode()}
    for uid, data in boards.items():
        out[f"{PLUGIN_ID}/dashboards/{uid}.json"] = dashboard.to_text(data).encode()
    return out


def build_date() -> str:
    """``YYYY-MM-DD``: ``SOURCE_DATE_EPOCH`` (UTC) when set, else today (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.date().isoformat()


def write(out_dir: Path, cfg: bundle.Bundle | None = None, updated: str | None = None) -> Path:
    """Write :func:`archive_name` into ``out_dir`` (created); its path. Deterministic for a given date."""
    updated = updated or build_date()
    files = members(cfg, updated)
    stamp = dt.date.fromisoformat(updated).timetuple()[:3] + (0, 0, 0)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / archive_name()
    tmp = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    tmp.replace(path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axonize.grafana.plugin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", metavar="DIR", default="dist", help="folder to write the zip into (default: %(default)s)")
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="info.updated and file times (default: SOURCE_DATE_EPOCH or today)")
    args = parser.parse_args(argv)
    if args.date:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            parser.error(f"--date must be YYYY-MM-DD, got {args.date!r}")
    path = write(Path(args.out), updated=args.date)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
