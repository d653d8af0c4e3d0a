"""The dashboards' template variables: ``datasource`` (Prometheus type) and label_values() queries on it.

Every query variable reads the ``${datasource}`` datasource, is refreshed when the time range changes
(``refresh: 2``), sorted, and lists what its parent variables leave (``host`` only the ``$job``'s hosts)::

    datasource     type datasource, query prometheus (the provisioned axonize-prometheus first)
    job            label_values(axonize_gpu_info, job)                                   exporter jobs
    host           label_values(axonize_gpu_info{job=~"$job"}, instance)                 the host label (levels.host)
    gpu            label_values(axonize_gpu_info{job=~"$job", instance=~"$host"}, gpu)
    inference_job  label_values(axonize_inference_target_up, job)                        sidecar jobs
    model          label_values(axonize_inference_server_gpu_info{job=~"$inference_job"}, model)
    engine         label_values(axonize_inference_requests_running{job=~"$inference_job", model=~"$model"}, engine)

:func:`bucket_bound` is a custom variable choosing one bucket bound of a latency histogram (an SLO threshold): its
text the seconds, its value a regex of every ``le`` spelling of that bound (``1|1[.]0``: Prometheus 2 keeps a Go
client's ``1``, Python clients and Prometheus 3 write ``1.0``), so ``le=~"$ttft_slo"`` selects the bucket either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from grafanalib import core as g

from axonize import names

from .panels import DATASOURCE

#: Grafana's "refresh on time range change".
ON_TIME_RANGE_CHANGE = 2
ALL = {"selected": True, "text": ["All"], "value": ["$__all"]}


def datasource(default_uid: str) -> g.Template:
    """The ``datasource`` variable: any Prometheus datasource, the provisioned one (``default_uid``) selected."""
    t = g.Template(name="datasource", label="Data source", query="prometheus", type="datasource", default=default_uid)
    return t


def query(name: str, label: str, expr: str, *, multi: bool = True) -> g.Template:
    """A label_values() variable on ``${datasource}``; ``multi``: several values and All (the default)."""
    return g.Template(
        name=name,
        label=label,
        query={"query": expr, "refId": f"{name}-values", "qryType": 1},
        dataSource=DATASOURCE,
        refresh=ON_TIME_RANGE_CHANGE,
        multi=multi,
        includeAll=multi,
        sort=1,
    )


def bucket_bound(name: str, label: str, bounds: Sequence[Fraction], default: Fraction) -> g.Template:
    """A single-valued custom variable of the bucket bounds (``bounds``, seconds), ``default`` selected."""
    options = [{"selected": b == default, "text": f"{_decimal(b)} s", "value": le_regex(b)} for b in bounds]
    query = ",".join(f"{o['text']} : {o['value']}" for o in options)
    return g.Template(name=name, label=label, query=query, type="custom", options=options, multi=False, includeAll=False)


def _decimal(bound: Fraction) -> str:
    return str(bound.numerator) if bound.denominator == 1 else repr(float(bound))


def le_regex(bound: Fraction) -> str:
    """Every ``le`` spelling of a bucket bound as a regex without backslashes: ``1`` -> ``1|1[.]0``, ``0.25`` -> ``0[.]25``."""
    text = _decimal(bound)
    spellings = [text, f"{text}.0"] if "." not in text else [text]
    return "|".join(s.replace(".", "[.]") for s in spellings)


def label_values(metric: str, label: str, *matchers: str) -> str:
    """``label_values(metric{matchers}, label)`` of a registered metric (KeyError naming an unknown one)."""
    names.get(metric)
    return f"label_values({metric}{{{', '.join(matchers)}}}, {label})" if matchers else f"label_values({metric}, {label})"


def gpu_variables(host_label: str, *, multi_host: bool = True, gpu: bool = False) -> list[g.Template]:
    """``job``, ``host`` (single-valued unless ``multi_host``) and, with ``gpu``, ``gpu``."""
    out = [
        query("job", "Exporter job", label_values("axonize_gpu_info", "job")),
        query("host", "Host", label_values("axonize_gpu_info", host_label, 'job=~"$job"'), multi=multi_host),
    ]
    if gpu:
        out.append(query("gpu", "GPU", label_values("axonize_gpu_info", "gpu", 'job=~"$job"', f'{host_label}=~"$host"')))
    return out


def model_variables(*, engine: bool = False) -> list[g.Template]:
    """``inference_job`` and ``model`` (the sidecar's), with ``engine`` the model's engines (vllm, tgi, sglang, ...)."""
    out = [
        query("inference_job", "Sidecar job", label_values("axonize_inference_target_up", "job")),
        query("model", "Model", label_values("axonize_inference_server_gpu_info", "model", 'job=~"$inference_job"')),
    ]
    if engine:
        out.append(
            query(
                "engine", "Engine", label_values("axonize_inference_requests_running", "engine", 'job=~"$inference_job"', 'model=~"$model"')
            )
        )
    return out
