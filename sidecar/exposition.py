"""A :class:`~axonize.sidecar.snapshot.Snapshot` -> the exposition: normalized families, then per-target series.

:func:`render` writes the normalized families as text format 0.0.4, in
:data:`~axonize.sidecar.normalized.FAMILIES` order, leaving out a family no
target reports this cycle; :func:`target_families` gives the small per-target
families, written after them with the self-metrics. Both go through the core's
writer (:mod:`axonize.exposition_text`), not prometheus_client's ``generate_latest``,
which sorts and re-validates every label of every sample: with 16 vLLM targets
that was 1.5 ms of CPU per target per cycle, a third of the budget
(benchmarks/sidecar_normalize.py). Names, types and help come from the names
registry (:mod:`axonize.names.sidecar`); the tests read the output back with
prometheus_client's parser and ``promtool check metrics``.

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

from axonize import exposition_text as text
from axonize import names

from .normalized import FAMILIES
from .snapshot import Snapshot

UP = "axonize_inference_target_up"
GPU_INFO = "axonize_inference_server_gpu_info"


def family(name: str) -> text.Family:
    """An empty family to fill, named, typed and described by the names registry (info metrics as gauges)."""
    row = names.get(name)
    return text.Family(row.name, "gauge" if row.type == "info" else row.type, row.help)


def render(snapshot: Snapshot) -> str:
    """The normalized families of every target that is up, as exposition text ("" when there are none)."""
    by_family: dict[str, text.Family] = {}
    for result in snapshot.results:
        if not result.up:
            continue
        for s in result.series:
            fam = by_family.get(s.family)
            if fam is None:
                fam = by_family[s.family] = family(s.family)
            if s.buckets:
                fam.add_histogram(s.labels, s.buckets, s.sum, s.count)
            else:
                fam.add(s.labels, s.value)
    lines = text.write(by_family[f.name] for f in FAMILIES if f.name in by_family)
    return "\n".join(lines) + "\n" if lines else ""


def target_families(snapshot: Snapshot) -> list[text.Family]:
    """``axonize_inference_target_up`` for every target, and ``axonize_inference_server_gpu_info``.

    The join series are each result's ``gpu_info`` rows (``(model, uuid)``, already counted in the
    target's series cap by the collection loop). Labels are in name order, as prometheus_client writes them.
    """
    up, info = family(UP), family(GPU_INFO)
    for result in snapshot.results:
        server = result.target.server
        up.add((("server", server),), 1.0 if result.up else 0.0)
        for model, uuid in result.gpu_info:
            info.add((("model", model), ("server", server), ("uuid", uuid)), 1.0)
    return [up, info]


def gpu_info_rows(snapshot: Snapshot, server: str) -> list[tuple[str, str]]:
    """``(model, uuid)`` for each GPU of ``server`` and each model it served (``""`` when none is known)."""
    return [(model, uuid) for model in snapshot.models.get(server) or ("",) for uuid in snapshot.gpus.get(server, ())]
