"""Render the dashboards and provisioning files from the bundle configuration: ``{path under grafana/: text}``.

``make generate`` (:mod:`axonize.generate`) writes them; tests/test_generated.py fails when one is stale::

    dashboards/<uid>.json                  one per dashboard module whose key is in grafana.dashboards
    provisioning/datasources/axonize.yml   the Prometheus datasource (uid, url, timeInterval)
    provisioning/dashboards/axonize.yml    the file provider (folder, path)
    kubernetes/dashboards-configmaps.yaml  the dashboards as ConfigMaps for the Grafana dashboard sidecar

(provisioning/alerting/axonize.yml, the Grafana-managed alerts, is alerts/grafana-alerting.yml's text:
:mod:`axonize.generate` writes both from one render, since this component does not import the alerts one.)
"""

from __future__ import annotations

from axonize import bundle

from . import configmaps, cost, dashboard, fleet, gpu, inference, provisioning, topology

#: The dashboard modules, in link order: each has KEY, DESCRIPTION, panels(cfg), dashboard_variables(cfg).
MODULES = (fleet, gpu, inference, cost, topology)


#: The ConfigMaps file, relative to grafana/.
KUBERNETES = "kubernetes/dashboards-configmaps.yaml"
#: The Grafana-managed alerting file of the provisioning bundle, relative to grafana/ (written by axonize.generate).
ALERTING = "provisioning/alerting/axonize.yml"


def dashboards(cfg: bundle.Bundle | None = None) -> dict[str, dict]:
    """``{uid: the dashboard's JSON model}`` for every module configured in ``grafana.dashboards``."""
    cfg = cfg or bundle.load()
    settings = cfg.grafana.dashboards
    present = [m for m in MODULES if m.KEY in settings]
    titles = {m.KEY: (settings[m.KEY].uid, settings[m.KEY].title) for m in present}
    out = {}
    for module in present:
        uid, title = titles[module.KEY]
        out[uid] = dashboard.build(
            uid,
            title,
            module.DESCRIPTION,
            module.panels(cfg),
            module.dashboard_variables(cfg),
            dashboard.links(module.KEY, titles),
            refresh=cfg.grafana.refresh,
            time_range=cfg.grafana.time_range,
        )
    return out


def render(cfg: bundle.Bundle | None = None) -> dict[str, str]:
    """``{path relative to grafana/: text}`` of every generated file."""
    cfg = cfg or bundle.load()
    texts = {uid: dashboard.to_text(data) for uid, data in dashboards(cfg).items()}
    out = {f"dashboards/{uid}.json": text for uid, text in texts.items()}
    out["provisioning/datasources/axonize.yml"] = provisioning.datasource(cfg.grafana)
    out["provisioning/dashboards/axonize.yml"] = provisioning.dashboards(cfg.grafana)
    out[KUBERNETES] = configmaps.render(texts, cfg.grafana.folder)
    return out
