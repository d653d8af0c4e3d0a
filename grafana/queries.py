"""PromQL of the dashboards' targets, built from registry names (:mod:`axonize.names`) with the variables' matchers.

A :class:`Scope` is what one dashboard filters by. ``scope.m(name, *matchers)`` returns a selector of a registered
metric or recorded name with the matchers its level carries (``KeyError`` for a name the registry lacks, so a
rename breaks ``make generate``)::

    scope.m("axonize_gpu_power_watts")       -> axonize_gpu_power_watts{job=~"$job", instance=~"$host", gpu=~"$gpu"}
    scope.m("host:axonize_gpu_cost:dollars_per_hour") -> host:axonize_gpu_cost:dollars_per_hour{instance=~"$host"}
    scope.rate("axonize_gpu_energy_joules_total")  -> rate(axonize_gpu_energy_joules_total{...}[$__rate_interval])

Which matchers: the exporter's series and the ``gpu:``/``mig:``/``container:`` levels (they keep the exporter's
target labels) get ``job=~"$job"`` and the host label (``levels.host``, ``instance``) ``=~"$host"``, plus
``gpu=~"$gpu"`` where the scope has a gpu variable; the sidecar's series and the ``server_model*:`` levels get
``job=~"$inference_job"`` and ``model=~"$model"`` where they carry ``model``, plus ``engine=~"$engine"`` where the
scope has an engine variable and the series carry ``engine`` (the sidecar's normalized series); ``host:`` the host label;
``model:`` ``model``; ``fleet:`` and ``namespace_pod:`` nothing (they aggregate every target label away).
"""

from __future__ import annotations

from dataclasses import dataclass

from axonize import names

#: Grafana's rate window: at least four scrape intervals (the datasource's timeInterval) and one step.
RATE_INTERVAL = "$__rate_interval"
EXPORTER_LEVELS = ("gpu", "mig", "container")
SIDECAR_LEVELS = ("server_model", "server_model_uuid")


def level_of(name: str) -> str:
    """``gpu`` for ``gpu:axonize_...:ratio``; ``""`` for a scraped metric."""
    return name.split(":", 1)[0] if ":" in name else ""


def matched_labels(name: str, host_label: str = "instance") -> tuple[str, ...]:
    """The target labels a selector of ``name`` must match on (the lint's job/host rule reads this too)."""
    row = names.get(names.family_of(name))
    level = level_of(name)
    if row.component == "exporter" or level in EXPORTER_LEVELS:
        return ("job", host_label)
    if row.component == "sidecar" or level in SIDECAR_LEVELS:
        return ("job",)
    if level == "host":
        return (host_label,)
    return ()


@dataclass(frozen=True)
class Scope:
    """What a dashboard filters by: ``host_label`` (bundle ``levels.host``), a ``$gpu``, ``$model``, ``$engine`` variable."""

    host_label: str = "instance"
    gpu: bool = False
    model: bool = True
    engine: bool = False

    def matchers(self, name: str) -> list[str]:
        """The variable matchers of a selector of ``name`` (see the module docstring)."""
        row = names.get(names.family_of(name))
        level, out = level_of(name), []
        if row.component == "exporter" or level in EXPORTER_LEVELS:
            out = ['job=~"$job"', f'{self.host_label}=~"$host"']
            if self.gpu and "gpu" in row.labels:
                out.append('gpu=~"$gpu"')
        elif row.component == "sidecar" or level in SIDECAR_LEVELS:
            out = ['job=~"$inference_job"']
        elif level == "host":
            out = [f'{self.host_label}=~"$host"']
        if self.model and "model" in row.labels and (row.component == "sidecar" or level.startswith(("model", "server_model"))):
            out.append('model=~"$model"')
        if self.engine and "engine" in row.labels and row.component == "sidecar":
            out.append('engine=~"$engine"')
        return out

    def m(self, name: str, *matchers: str) -> str:
        """A selector of the registered ``name`` with the scope's matchers and ``matchers`` (``'reason!="gpu_idle"'``)."""
        parts = [*self.matchers(name), *matchers]
        return f"{name}{{{', '.join(parts)}}}" if parts else name

    def rate(self, name: str, *matchers: str, fn: str = "rate") -> str:
        """``rate(counter{...}[$__rate_interval])`` (``fn``: rate, irate or increase); ValueError for a gauge."""
        row = names.get(names.family_of(name))
        if row.type not in ("counter", "histogram"):
            raise ValueError(f"{name} is a {row.type}: only counters go inside {fn}()")
        return f"{fn}({self.m(name, *matchers)}[{RATE_INTERVAL}])"


def recorded(name: str, window: str = "") -> str:
    """A registered recorded name, its ``{window}`` filled in (:func:`axonize.names.recorded_name`)."""
    return names.recorded_name(name, window)
