"""The Prometheus Operator example (docs/kubernetes-monitors.yaml): ServiceMonitors for the exporter and the
gateway, a PodMonitor for the sidecar.

Rendered by ``make generate`` from the bundle configuration: the ``job`` each monitor sets is the one
``selectors.exporter``, ``selectors.sidecar`` and ``selectors.gateway`` select (``job="axonize-exporter"`` ->
``replacement: axonize-exporter``). A selector that is not a single ``job="..."`` matcher leaves the
job as the Prometheus Operator sets it (the Service's or PodMonitor's name) and the example says which
selector to match. ``honorLabels: true`` keeps the exporter's container, pod and namespace labels, and the gateway's ``endpoint``
(the API path) from being renamed ``exported_endpoint`` beside the Operator's own ``endpoint``.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from axonize import bundle

TEMPLATE = Path(__file__).resolve().parent / "templates" / "kubernetes-monitors.yaml.j2"
#: Scrape interval in the example: the interval the bundle's rate windows are written for.
SCRAPE_INTERVAL = "15s"
#: The gateway's default port (API and /metrics), :data:`axonize.gateway.config.DEFAULT_PORT`; the core cannot import it.
GATEWAY_PORT = 9949


def job_of(selector: str) -> str | None:
    """``'job="axonize-exporter"'`` -> ``"axonize-exporter"``; None for anything but one ``job="..."`` matcher."""
    m = re.fullmatch(r'\s*job\s*=\s*"([^"\\]+)"\s*', selector)
    return m.group(1) if m else None


def render(cfg: bundle.Bundle | None = None) -> str:
    """The example as YAML text (three documents: exporter, sidecar, gateway)."""
    cfg = cfg or bundle.load()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        exporter_selector=cfg.selectors.exporter or "{}",
        sidecar_selector=cfg.selectors.sidecar or "{}",
        exporter_job=job_of(cfg.selectors.exporter),
        sidecar_job=job_of(cfg.selectors.sidecar),
        gateway_selector=cfg.selectors.gateway or "{}",
        gateway_job=job_of(cfg.selectors.gateway),
        gateway_port=GATEWAY_PORT,
        scrape_interval=SCRAPE_INTERVAL,
    )
