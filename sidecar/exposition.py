"""A :class:`~axonize.sidecar.snapshot.Snapshot` -> the exposition: normalized families, then per-target series.

:func:`render` writes the normalized families as text format 0.0.4, in
:data:`~axonize.sidecar.normalized.FAMILIES` order, leaving out a family no
target reports this cycle. It writes the lines itself rather than through
prometheus_client's ``generate_latest``, which sorts and re-validates every
label of every sample: with 16 vLLM targets that was 1.5 ms of CPU per target
per cycle, a third of the budget (benchmarks/sidecar_normalize.py). Names and
label names here come from the vocabulary, so only label values need escaping;
the tests read the output back with prometheus_client's parser and ``promtool
check metrics``. :func:`target_families` gives the small per-target families as
prometheus_client families, rendered with the self-metrics.

A target that is down contributes only ``axonize_inference_target_up{server} 0``
and its configured GPU join series: its normalized series are withdrawn, not frozen.

Sample output::

    # HELP axonize_inference_requests_running Requests in the running batch now.
    # TYPE axonize_inference_requests_running gauge
    axonize_inference_requests_running{engine="vllm",model="meta-llama/Llama-3.1-8B-Instruct",server="gpu-1:8000",engine_index="0"} 7.0
    # TYPE axonize_inference_target_up gauge
    axonize_inference_target_up{server="gpu-1:8000"} 1.0
    axonize_inference_target_up{server="gpu-2:8080"} 0.0
    axonize_inference_server_gpu_info{model="meta-llama/Llama-3.1-8B-Instruct",server="gpu-1:8000",uuid="GPU-b42dd28e-..."} 1.0
"""
from __future__ import annotations

import math

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from .normalized import FAMILIES, TARGET_SERIES
from .snapshot import Series, Snapshot

_HELP = {name: help for name, _, _, _, help in TARGET_SERIES}


def _escape(value: str) -> str:
    """A label value as the text format quotes it: backslash, double quote and newline escaped."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _lines(name: str, s: Series, out: list[str]) -> None:
    labels = ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels)
    if not s.buckets:
        out.append(f"{name}{{{labels}}} {floatToGoString(s.value)}")
        return
    bucket = f"{name}_bucket{{{labels},le="
    for bound, count in s.buckets:
        le = "+Inf" if math.isinf(bound) else floatToGoString(bound)
        out.append(f'{bucket}"{le}"}} {floatToGoString(count)}')
    out.append(f"{name}_sum{{{labels}}} {floatToGoString(s.sum)}")
    out.append(f"{name}_count{{{labels}}} {floatToGoString(s.count)}")


def render(snapshot: Snapshot) -> str:
    """The normalized families of every target that is up, as exposition text ("" when there are none)."""
    by_family: dict[str, list[Series]] = {}
    for result in snapshot.results:
        if result.up:
            for s in result.series:
                by_family.setdefault(s.family, []).append(s)
    out: list[str] = []
    for family in FAMILIES:
        series = by_family.get(family.name)
        if not series:
            continue
        out.append(f"# HELP {family.name} {family.help}")
        out.append(f"# TYPE {family.name} {family.type}")
        for s in series:
            _lines(family.name, s, out)
    return "\n".join(out) + "\n" if out else ""


def target_families(snapshot: Snapshot) -> list[Metric]:
    """``axonize_inference_target_up`` for every target, and ``axonize_inference_server_gpu_info``."""
    up = GaugeMetricFamily("axonize_inference_target_up", _HELP["axonize_inference_target_up"], labels=("server",))
    for result in snapshot.results:
        up.add_metric([result.target.server], 1.0 if result.up else 0.0)
    info = GaugeMetricFamily(
        "axonize_inference_server_gpu_info", _HELP["axonize_inference_server_gpu_info"], labels=("server", "model", "uuid")
    )
    for result in snapshot.results:
        server = result.target.server
        for model in snapshot.models.get(server) or ("",):
            for uuid in snapshot.gpus.get(server, ()):
                info.add_metric([server, model, uuid], 1.0)
    return [up, info]
