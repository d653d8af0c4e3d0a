"""Axonize alerts: Prometheus alerting rules rendered from the bundle configuration, each with a runbook.

``python -m axonize.alerts.render`` (``make generate``) writes alerts/*.alerts.yml from
alerts/templates/*.alerts.yml.j2 and the ``alerts:`` section of axonize/bundle.yml;
:mod:`axonize.alerts.runbooks` writes docs/runbooks.md from the runbook text in
alerts/runbooks/*.yml and the rendered alerts.
"""
