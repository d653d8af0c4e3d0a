"""A :class:`~axonize.sidecar.snapshot.Snapshot` -> the exposition: normalized families, then per-target series.

:func:`render` writes the normalized families as text format 0.0.4, in
:data:`~axonize.sidecar.normalized.FAMILIES` order, leaving out a family no
target reports this cycle; :func:`target_families` gives the small per-target
families, written after them with the self-metrics by the core's writer
(:mod:`axonize.exposition_text`). Neither is prometheus_client's ``generate_latest``,
which sorts and re-validates every label of every sample: with 16 vLLM targets
that was 1.5 ms of CPU per target per cycle, a third of the budget. The collection
loop keeps a :class:`Renderer`, which builds each series' label text once and reuses
it while the series lasts (the core writer's ``Writer`` does the same but sorts labels
by name, as ``generate_latest`` does; the sidecar writes ``engine``, ``model``, ``server``
first). Names, types and help come from the names registry (:mod:`axonize.names.sidecar`);
the tests read the output back with prometheus_client's parser and ``promtool check metrics``.

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


class Renderer:
    """Writes the normalized families of each cycle's snapshot, keeping the strings that repeat between cycles.

    A series' label set is the same scrape after scrape (only its values move), so its escaped
    label text, each bucket's ``le`` text and each family's HELP and TYPE lines are built once and
    reused: 0.6 -> 0.2 ms of CPU per vLLM target (benchmarks/sidecar_targets.py measures the whole
    cycle). Output, byte for byte, that of :func:`axonize.exposition_text.write` over the same
    families (tests/sidecar/test_exposition.py compares them over every engine capture).

    Memory: the label texts of the last two renderings, so series that go away are forgotten two
    cycles later. Not thread-safe: the collection loop's thread renders.
    """

    def __init__(self) -> None:
        self._heads: dict[str, str] = {}
        self._labels: dict[tuple[tuple[str, str], ...], tuple[str, str]] = {}
        self._previous: dict[tuple[tuple[str, str], ...], tuple[str, str]] = {}
        self._le: dict[float, str] = {}
        self._previous_le: dict[float, str] = {}

    def render(self, snapshot: Snapshot) -> str:
        """The normalized families of every target that is up, as exposition text ("" when there are none).

        KeyError for a series whose family the names registry does not hold (the loop counts a render error).
        """
        self._previous, self._labels = self._labels, {}
        self._previous_le, self._le = self._le, {}
        by_family: dict[str, list[str]] = {}
        for result in snapshot.results:
            if not result.up:
                continue
            for s in result.series:
                name = s.family
                out = by_family.get(name)
                if out is None:
                    out = by_family[name] = [self._head(name)]
                braced, bucket = self._label_text(s.labels)
                if s.buckets:
                    for bound, n in s.buckets:
                        out.append(f'{name}_bucket{bucket}{self._le_text(bound)}"}} {_value(n)}')
                    out.append(f"{name}_sum{braced} {_value(s.sum)}")
                    out.append(f"{name}_count{braced} {_value(s.count)}")
                else:
                    out.append(f"{name}{braced} {_value(s.value)}")
        lines = [line for f in FAMILIES if f.name in by_family for line in by_family[f.name]]
        return "\n".join(lines) + "\n" if lines else ""

    def _head(self, name: str) -> str:
        head = self._heads.get(name)
        if head is None:
            fam = family(name)
            head = self._heads[name] = f"# HELP {fam.name} {text.escape_help(fam.help)}\n# TYPE {fam.name} {fam.type}"
        return head

    def _label_text(self, labels: tuple[tuple[str, str], ...]) -> tuple[str, str]:
        """``({a="1"}, {a="1",le="``) for a series' labels (``("", '{le="')`` for none), kept for this rendering."""
        found = self._labels.get(labels)
        if found is None:
            found = self._previous.get(labels)
            if found is None:
                inside = text.format_labels(labels)[1:-1]
                found = (f"{{{inside}}}", f'{{{inside},le="') if inside else ("", '{le="')
            self._labels[labels] = found
        return found

    def _le_text(self, bound: float) -> str:
        """A bucket bound as ``le`` (``+Inf``, ``0.04``; the text format's escaping cannot change it)."""
        le = self._le.get(bound)
        if le is None or bound == 0.0:  # 0.0 and -0.0 are one key but two texts
            le = self._previous_le.get(bound)
            if le is None or bound == 0.0:
                le = "+Inf" if math.isinf(bound) and bound > 0 else text.format_value(bound)
            self._le[bound] = le
        return le


def _value(value: float) -> str:
    """``floatToGoString(value)``: a float between -inf and 1e6 is its repr, which that function returns too."""
    if value.__class__ is float and -math.inf < value < 1e6:
        return repr(value)
    return text.format_value(value)


def render(snapshot: Snapshot, renderer: Renderer | None = None) -> str:
    """The normalized families of every target that is up, as exposition text ("" when there are none).

    ``renderer`` keeps strings between the collection loop's cycles; a new one is used when None.
    """
    return (renderer or Renderer()).render(snapshot)


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
