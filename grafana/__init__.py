"""Grafana dashboards generated with grafanalib from the bundle configuration and the names registry.

One module per dashboard (:mod:`.fleet`, :mod:`.gpu`, :mod:`.inference`, :mod:`.cost`, :mod:`.topology`), built
from the shared pieces: :mod:`.queries` (PromQL from registry names with the template variables' matchers),
:mod:`.variables` (``datasource``, ``job``, ``host``, ``gpu``, ``inference_job``, ``model``, ``engine``, the SLO
thresholds), :mod:`.panels` (panels that always carry a description, a unit, the ``${datasource}`` datasource and a
grid position) and :mod:`.dashboard` (links, schemaVersion, JSON). :mod:`.render` gives ``make generate`` the files:
grafana/dashboards/<uid>.json, grafana/provisioning/ and the ConfigMaps of :mod:`.configmaps` (grafana/kubernetes/).
:mod:`.plugin` packs the dashboards as a Grafana app plugin (``make grafana-plugin``).
"""
