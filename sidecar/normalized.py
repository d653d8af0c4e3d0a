"""The normalized vocabulary: one name, unit and label set per inference concept, whatever the engine.

Every engine adapter (:mod:`axonize.sidecar.engines`) maps its own families onto
the rows of :data:`FAMILIES`. The names are fixed: dashboards, rules and alerts
are written against them. Every series carries

* ``engine``: ``vllm``, ``tgi``, ``sglang``, ``triton`` or ``llamacpp``;
* ``model``: the engine's model label (vLLM/SGLang ``model_name``, Triton
  ``model``), or the target's configured ``model`` where the engine has none
  (TGI, llama.cpp); empty when neither says;
* ``server``: the target's name (configured, else the URL's ``host:port``);
* ``engine_index`` only where the engine runs several engine cores behind one
  endpoint (vLLM V1's ``engine`` label: data parallelism);

plus the family's own labels (``reason``). Units are base units: seconds,
tokens, ratios 0-1. A concept the engine does not measure is an absent series,
never 0; an approximation carries ``estimated`` in its name.

Sample output (vLLM 0.33, one engine core)::

    axonize_inference_generation_tokens_total{engine="vllm",model="meta-llama/Llama-3.1-8B-Instruct",server="gpu-1:8000",engine_index="0"} 48311.0
    axonize_inference_time_to_first_token_seconds_bucket{engine="vllm",model="...",server="gpu-1:8000",engine_index="0",le="0.04"} 97.0
"""

from __future__ import annotations

from dataclasses import dataclass

from axonize import names

#: Labels every normalized series carries, in exposition order (``engine_index`` only where the engine has one).
COMMON_LABELS = ("engine", "model", "server")
ENGINE_INDEX = "engine_index"


@dataclass(frozen=True)
class Family:
    """One normalized family: the names registry's row (:mod:`axonize.names.sidecar`) plus how to merge.

    ``type`` is "counter", "gauge" or "histogram"; ``unit`` the base unit
    ("seconds", "tokens", "ratio", "requests"); ``labels`` the labels beyond
    :data:`COMMON_LABELS`. ``combine`` says how two engine series that land on
    the same normalized label set (an engine label the vocabulary drops, such
    as Triton's ``version``) are merged: "sum" (counts, histograms) or "max"
    (ratios, where a sum would exceed 1).
    """

    name: str
    type: str
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    combine: str = "sum"


def _family(name: str, combine: str = "sum") -> Family:
    """The registry's row of ``name`` as a :class:`Family`; KeyError when it is not registered."""
    row = names.get(name)
    extra = tuple(label for label in row.labels if label not in COMMON_LABELS)
    return Family(row.name, row.type, row.unit, row.help, extra, combine)


_T = "axonize_inference_"

#: The normalized families in exposition order: latency histograms (buckets as the engine scraped them, bounds
#: scaled to seconds), token and request counters, state gauges. Name, type, unit, help and labels are the registry's.
FAMILIES: tuple[Family, ...] = (
    _family(_T + "time_to_first_token_seconds"),
    _family(_T + "inter_token_latency_seconds"),
    _family(_T + "time_per_output_token_seconds"),
    _family(_T + "time_per_output_token_estimated_seconds"),
    _family(_T + "e2e_request_latency_seconds"),
    _family(_T + "queue_time_seconds"),
    _family(_T + "prefill_time_seconds"),
    _family(_T + "decode_time_seconds"),
    _family(_T + "inference_time_seconds"),
    _family(_T + "prompt_tokens_total"),
    _family(_T + "generation_tokens_total"),
    _family(_T + "requests_finished_total"),
    _family(_T + "request_errors_total"),
    _family(_T + "preemptions_total"),
    _family(_T + "prefix_cache_queries_total"),
    _family(_T + "prefix_cache_hits_total"),
    _family(_T + "requests_running"),
    _family(_T + "requests_waiting"),
    _family(_T + "kv_cache_usage_ratio", combine="max"),
)

BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
