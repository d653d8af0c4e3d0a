"""The ``grafana:`` section of the bundle configuration: what the dashboards and provisioning files are rendered with.

Validated by :mod:`axonize.schema` (``FILE:LINE: grafana.dashboards.gpu.uid: ...``) and kept on
:attr:`axonize.bundle.Bundle.grafana` as the immutable model below. The dashboards (``grafana/``) read it::

    grafana:
      folder: Axonize                       # the Grafana folder of the dashboards (provisioning provider)
      datasource:
        name: Axonize Prometheus            # the provisioned datasource's name
        uid: axonize-prometheus             # its uid: the dashboards' default and alerts/grafana-alerting.yml's
        url: http://localhost:9090          # where Grafana reaches Prometheus
        scrape_interval: 15s               # Prometheus' scrape interval: the datasource's timeInterval
      refresh: 1m                           # dashboard auto-refresh
      time_range: 6h                        # default time range (now-6h to now)
      dashboards:                           # uid (<= 40 chars of A-Z a-z 0-9 - _) and title per dashboard
        fleet: {uid: axonize-fleet, title: "Axonize / Fleet overview"}
        gpu: {uid: axonize-gpu, title: "Axonize / GPU"}
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, model_validator

from . import schema

#: The dashboards a configuration may name, one Python module of grafana/ each.
DASHBOARDS = ("fleet", "gpu", "inference", "cost", "topology")

_UID = re.compile(r"[A-Za-z0-9_-]{1,40}")
_DURATION = re.compile(r"(?:\d+(?:ms|s|m|h|d|w|y))+")
_URL = re.compile(r"https?://\S+")


def _uid(value: Any) -> str:
    if not isinstance(value, str) or not _UID.fullmatch(value):
        raise ValueError(f"must be a Grafana uid: 1-40 characters of A-Z a-z 0-9 - _, got {schema.shown(value)}")
    return value


def _duration(value: Any) -> str:
    if not isinstance(value, str) or not _DURATION.fullmatch(value.strip()) or not re.search(r"[1-9]", value):
        raise ValueError(f"must be a duration such as '15s' or '6h', got {schema.shown(value)}")
    return value.strip()


def _url(value: Any) -> str:
    if not isinstance(value, str) or not _URL.fullmatch(value):
        raise ValueError(f"must be an http(s) URL, got {schema.shown(value)}")
    return value


Uid = Annotated[str, BeforeValidator(_uid)]
Duration = Annotated[str, BeforeValidator(_duration)]


class DatasourceModel(schema.Section):
    """The Prometheus datasource the dashboards query (and grafana/provisioning/datasources/axonize.yml provisions)."""

    name: schema.Text
    uid: Uid
    url: Annotated[str, BeforeValidator(_url)]
    scrape_interval: Duration


class DashboardModel(schema.Section):
    """One dashboard's uid (the ``/d/<uid>`` of its URL, the file name) and title."""

    uid: Uid
    title: schema.Text


class GrafanaModel(schema.Section):
    """The ``grafana:`` section; ``dashboards`` keys are :data:`DASHBOARDS`, uids and titles distinct."""

    folder: schema.Text
    datasource: DatasourceModel
    refresh: Duration
    time_range: Duration
    dashboards: dict[str, DashboardModel]

    @model_validator(mode="after")
    def _known_and_distinct(self) -> GrafanaModel:
        for key in self.dashboards:
            if key not in DASHBOARDS:
                raise schema.problem(f"unknown dashboard {key!r}; known: {', '.join(DASHBOARDS)}", key="dashboards")
        for field in ("uid", "title"):
            values = [getattr(d, field) for d in self.dashboards.values()]
            if len(set(values)) != len(values):
                raise schema.problem(f"two dashboards share a {field}: {values}", key="dashboards")
        for key in ("fleet", "gpu"):
            if key not in self.dashboards:
                raise schema.problem(f"must set the {key} dashboard's uid and title", key="dashboards")
        return self
