"""Every valid fixture normalizes to exactly the values in the file; partial and malformed ones fail clearly.

Expected values are read from the fixture with prometheus_client's parser over the
whole file (:func:`raw`), independently of the sidecar's line selection, or are
literal numbers the fixture's provenance states.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.sidecar.engines import ADAPTERS, detect
from axonize.sidecar.errors import TargetError
from axonize.sidecar.normalize import cap, normalize
from axonize.sidecar.targets import Target
from tests.conftest import FIXTURES

INFERENCE = FIXTURES / "inference"
TARGET = Target(url="http://gpu-1:8000/metrics", server="gpu-1:8000")
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
T = "axonize_inference_"

VALID = {
    "vllm-0.6.3-v0-multiproc.synthetic.prom": "vllm",
    "vllm-0.8.5-v1.synthetic.prom": "vllm",
    "vllm-0.10.2-v1.synthetic.prom": "vllm",
    "vllm-0.32.0-cpu-real.prom": "vllm",
    "vllm-0.32.0-cpu-real-workload.prom": "vllm",
    "vllm-0.33.0-v1.synthetic.prom": "vllm",
    "vllm-0.33.0-v1-dp2-multiproc.synthetic.prom": "vllm",
    "tgi-3.3.7-v3.synthetic.prom": "tgi",
    "sglang-docs-example.prom": "sglang",
    "triton-trtllm.synthetic.prom": "triton",
    "llamacpp-server.synthetic.prom": "llamacpp",
}


def text(name: str) -> str:
    return (INFERENCE / name).read_text()


def raw(name: str) -> dict[str, list]:
    """``{sample name: [samples]}`` of a whole fixture, parsed without the sidecar."""
    out: dict[str, list] = defaultdict(list)
    for fam in text_string_to_metric_families(text(name)):
        for s in fam.samples:
            out[s.name].append(s)
    return out


def raw_value(samples: dict, name: str, **labels: str) -> float:
    found = [s.value for s in samples[name] if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return float(found[0])


def raw_histogram(samples: dict, name: str, scale: float = 1.0, **labels: str):
    """(buckets [(bound in the normalized unit, count)], sum, count) of one histogram series of a fixture."""

    def match(s):
        return all(s.labels.get(k) == v for k, v in labels.items())

    buckets = sorted(
        (float(s.labels["le"]) * (1 if math.isinf(float(s.labels["le"])) else scale), float(s.value))
        for s in samples[name + "_bucket"]
        if match(s)
    )
    return buckets, raw_value(samples, name + "_sum", **labels) * scale, raw_value(samples, name + "_count", **labels)


def series_of(series, family: str, **labels: str):
    return [s for s in series if s.family == family and all(dict(s.labels).get(k) == v for k, v in labels.items())]


def one(series, family: str, **labels: str):
    found = series_of(series, family, **labels)
    assert len(found) == 1, (family, labels, found)
    return found[0]


def hist(s):
    return [(b, c) for b, c in s.buckets], s.sum, s.count


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def same_histogram(got, want):
    (gb, gs, gc), (wb, ws, wc) = got, want
    return len(gb) == len(wb) and all(close(x, y) and c == d for (x, c), (y, d) in zip(gb, wb)) and close(gs, ws) and gc == wc


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_valid_fixture_is_detected_and_normalizes(name):
    assert detect(text(name)).engine == VALID[name]
    adapter, series = normalize(text(name), TARGET)
    assert adapter.engine == VALID[name] and series
    for s in series:
        labels = dict(s.labels)
        assert labels["engine"] == VALID[name] and labels["server"] == "gpu-1:8000"
        if s.buckets:  # cumulative, +Inf last and equal to the count
            assert math.isinf(s.buckets[-1][0]) and s.buckets[-1][1] == s.count
            assert all(a[1] <= b[1] for a, b in zip(s.buckets, s.buckets[1:]))


# -- vLLM ---------------------------------------------------------------------------------------------

VLLM_HISTOGRAMS = {
    T + "time_to_first_token_seconds": "vllm:time_to_first_token_seconds",
    T + "inter_token_latency_seconds": "vllm:inter_token_latency_seconds",
    T + "time_per_output_token_seconds": "vllm:request_time_per_output_token_seconds",
    T + "e2e_request_latency_seconds": "vllm:e2e_request_latency_seconds",
    T + "queue_time_seconds": "vllm:request_queue_time_seconds",
    T + "prefill_time_seconds": "vllm:request_prefill_time_seconds",
    T + "decode_time_seconds": "vllm:request_decode_time_seconds",
    T + "inference_time_seconds": "vllm:request_inference_time_seconds",
}
VLLM_SCALARS = {
    T + "prompt_tokens_total": "vllm:prompt_tokens_total",
    T + "generation_tokens_total": "vllm:generation_tokens_total",
    T + "preemptions_total": "vllm:num_preemptions_total",
    T + "prefix_cache_queries_total": "vllm:prefix_cache_queries_total",
    T + "prefix_cache_hits_total": "vllm:prefix_cache_hits_total",
    T + "requests_running": "vllm:num_requests_running",
    T + "requests_waiting": "vllm:num_requests_waiting",
    T + "kv_cache_usage_ratio": "vllm:kv_cache_usage_perc",
}


@pytest.mark.parametrize("name", ["vllm-0.33.0-v1.synthetic.prom", "vllm-0.32.0-cpu-real.prom", "vllm-0.32.0-cpu-real-workload.prom"])
def test_vllm_v1_every_mapped_family_equals_the_file(name):
    _, series = normalize(text(name), TARGET)
    samples = raw(name)
    model = samples["vllm:generation_tokens_total"][0].labels["model_name"]
    for family, source in VLLM_HISTOGRAMS.items():
        got = hist(one(series, family, model=model, engine_index="0"))
        assert same_histogram(got, raw_histogram(samples, source, engine="0")), family
    for family, source in VLLM_SCALARS.items():
        assert one(series, family, engine_index="0").value == raw_value(samples, source, engine="0"), family
    for s in samples["vllm:request_success_total"]:
        got = one(series, T + "requests_finished_total", reason=s.labels["finished_reason"], engine_index="0")
        assert got.value == s.value
    for s in samples["vllm:admission_rejections_total"]:  # an API-server counter: no engine label
        got = one(series, T + "request_errors_total", reason=s.labels["reason"])
        assert got.value == s.value and "engine_index" not in dict(got.labels)
    assert not series_of(series, T + "time_per_output_token_estimated_seconds")


@pytest.mark.parametrize(
    ("name", "requests", "tokens"),
    [("vllm-0.32.0-cpu-real.prom", 22, 3664), ("vllm-0.32.0-cpu-real-workload.prom", 8, 8 * 32)],  # SOURCES.md
)
def test_real_vllm_captures_count_their_workload(name, requests, tokens):
    _, series = normalize(text(name), TARGET)
    assert one(series, T + "generation_tokens_total").value == tokens
    assert one(series, T + "requests_finished_total", reason="length").value == requests
    assert one(series, T + "e2e_request_latency_seconds").count == requests


def test_vllm_0_10_2_serves_old_and_new_names_and_each_is_counted_once():
    name = "vllm-0.10.2-v1.synthetic.prom"
    samples = raw(name)
    for old, new in (
        ("vllm:time_per_output_token_seconds_count", "vllm:inter_token_latency_seconds_count"),
        ("vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"),
        ("vllm:gpu_prefix_cache_queries_total", "vllm:prefix_cache_queries_total"),
        ("vllm:gpu_prefix_cache_hits_total", "vllm:prefix_cache_hits_total"),
    ):
        assert samples[old] and samples[new], "the fixture serves both names"
    _, series = normalize(text(name), TARGET)
    itl = one(series, T + "inter_token_latency_seconds")
    assert same_histogram(hist(itl), raw_histogram(samples, "vllm:inter_token_latency_seconds"))
    assert itl.count == raw_value(samples, "vllm:inter_token_latency_seconds_count") != 2 * itl.count
    assert one(series, T + "kv_cache_usage_ratio").value == raw_value(samples, "vllm:kv_cache_usage_perc")
    assert one(series, T + "prefix_cache_queries_total").value == raw_value(samples, "vllm:prefix_cache_queries_total")
    assert one(series, T + "prefix_cache_hits_total").value == raw_value(samples, "vllm:prefix_cache_hits_total")


def test_vllm_new_name_wins_when_old_and_new_values_differ():
    """Counted once, and from the new name: an old series of another value must not leak in."""
    body = text("vllm-0.10.2-v1.synthetic.prom")
    old_line = next(line for line in body.splitlines() if line.startswith("vllm:gpu_cache_usage_perc{"))
    body = body.replace(old_line, old_line.rsplit(" ", 1)[0] + " 0.999")
    _, series = normalize(body, TARGET)
    assert one(series, T + "kv_cache_usage_ratio").value == raw_value(raw("vllm-0.10.2-v1.synthetic.prom"), "vllm:kv_cache_usage_perc")


def test_vllm_0_8_5_old_names_feed_the_new_families():
    name = "vllm-0.8.5-v1.synthetic.prom"
    samples = raw(name)
    assert not samples["vllm:kv_cache_usage_perc"] and not samples["vllm:inter_token_latency_seconds_count"]
    _, series = normalize(text(name), TARGET)
    itl = one(series, T + "inter_token_latency_seconds", engine_index="0")
    assert same_histogram(hist(itl), raw_histogram(samples, "vllm:time_per_output_token_seconds"))
    assert one(series, T + "kv_cache_usage_ratio").value == raw_value(samples, "vllm:gpu_cache_usage_perc")
    assert one(series, T + "prefix_cache_hits_total").value == raw_value(samples, "vllm:gpu_prefix_cache_hits_total")
    assert not series_of(series, T + "time_per_output_token_seconds"), "0.8.5 has no per-request TPOT"


def test_vllm_v0_has_no_engine_index_and_its_own_names():
    name = "vllm-0.6.3-v0-multiproc.synthetic.prom"
    samples = raw(name)
    _, series = normalize(text(name), TARGET)
    assert all("engine_index" not in dict(s.labels) for s in series)
    assert all(dict(s.labels)["model"] == MODEL for s in series)
    assert one(series, T + "generation_tokens_total").value == raw_value(samples, "vllm:generation_tokens_total") == 52849
    assert same_histogram(
        hist(one(series, T + "inter_token_latency_seconds")), raw_histogram(samples, "vllm:time_per_output_token_seconds")
    )
    assert one(series, T + "kv_cache_usage_ratio").value == raw_value(samples, "vllm:gpu_cache_usage_perc")
    for absent in ("queue_time_seconds", "prefill_time_seconds", "prefix_cache_hits_total"):
        assert not series_of(series, T + absent), absent


def test_vllm_data_parallel_gives_one_series_per_engine_index():
    name = "vllm-0.33.0-v1-dp2-multiproc.synthetic.prom"
    samples = raw(name)
    _, series = normalize(text(name), TARGET)
    for family, source in VLLM_HISTOGRAMS.items():
        got = series_of(series, family)
        assert sorted(dict(s.labels)["engine_index"] for s in got) == ["0", "1"], family
        for s in got:
            index = dict(s.labels)["engine_index"]
            assert same_histogram(hist(s), raw_histogram(samples, source, engine=index)), (family, index)
    tokens = series_of(series, T + "generation_tokens_total")
    assert {dict(s.labels)["engine_index"]: s.value for s in tokens} == {
        s.labels["engine"]: s.value for s in samples["vllm:generation_tokens_total"]
    }


def test_every_vllm_family_of_every_version_is_mapped_or_listed_with_a_reason():
    by_version = json.loads((INFERENCE / "vllm-metrics-by-version.json").read_text())["metrics"]
    adapter = ADAPTERS["vllm"]
    mapped = {rule.source for rule in adapter.rules}
    for name in by_version:
        assert (name in mapped) != (name in adapter.unmapped), name
    for name in list(mapped) + list(adapter.unmapped):
        assert name in by_version or name.startswith("vllm:estimated_"), f"{name}: not a vLLM family of any version"


# -- TGI ------------------------------------------------------------------------------------------------


def test_tgi_has_no_time_to_first_token_and_its_counters_need_no_total_suffix():
    name = "tgi-3.3.7-v3.synthetic.prom"
    samples = raw(name)
    _, series = normalize(text(name), Target(url="http://tgi:80/metrics", server="tgi", model=MODEL))
    for absent in (
        "time_to_first_token_seconds",
        "inter_token_latency_seconds",
        "time_per_output_token_seconds",
        "prefill_time_seconds",
        "decode_time_seconds",
        "kv_cache_usage_ratio",
    ):
        assert not series_of(series, T + absent), absent
    assert one(series, T + "prompt_tokens_total").value == raw_value(samples, "tgi_request_input_length_sum") == 129618
    assert one(series, T + "generation_tokens_total").value == raw_value(samples, "tgi_request_generated_tokens_sum") == 36795
    assert one(series, T + "requests_finished_total", reason="").value == 175
    assert one(series, T + "request_errors_total", reason="validation").value == 3
    assert one(series, T + "requests_running").value == 9 and one(series, T + "requests_waiting").value == 2
    for family, source in (
        ("e2e_request_latency_seconds", "tgi_request_duration"),
        ("queue_time_seconds", "tgi_request_queue_duration"),
        ("inference_time_seconds", "tgi_request_inference_duration"),
        ("time_per_output_token_estimated_seconds", "tgi_request_mean_time_per_token_duration"),
    ):
        assert same_histogram(hist(one(series, T + family)), raw_histogram(samples, source)), family
    assert all(dict(s.labels)["model"] == MODEL for s in series), "TGI has no model label: the configured one fills it"


# -- SGLang, Triton, llama.cpp ----------------------------------------------------------------------------


def test_sglang_docs_example():
    name = "sglang-docs-example.prom"
    samples = raw(name)
    _, series = normalize(text(name), TARGET)
    assert same_histogram(
        hist(one(series, T + "time_to_first_token_seconds", model=MODEL)), raw_histogram(samples, "sglang:time_to_first_token_seconds")
    )
    itl = one(series, T + "inter_token_latency_seconds")  # from the old name time_per_output_token_seconds
    assert same_histogram(hist(itl), raw_histogram(samples, "sglang:time_per_output_token_seconds"))
    assert one(series, T + "generation_tokens_total").value == 7557572
    assert one(series, T + "prompt_tokens_total").value == 8128902
    assert one(series, T + "kv_cache_usage_ratio").value == 0.28
    assert one(series, T + "requests_running").value == raw_value(samples, "sglang:num_running_reqs")
    assert one(series, T + "requests_waiting").value == raw_value(samples, "sglang:num_queue_reqs")


def test_triton_scales_milliseconds_and_microseconds_to_seconds():
    name = "triton-trtllm.synthetic.prom"
    _, series = normalize(text(name), TARGET)
    ttft = one(series, T + "time_to_first_token_seconds", model="tensorrt_llm")
    assert hist(ttft) == ([(0.1, 131), (0.5, 219), (2.0, 238), (5.0, 240), (math.inf, 240)], 41.287, 240)
    e2e = one(series, T + "e2e_request_latency_seconds", model="tensorrt_llm")
    assert e2e.buckets == ((math.inf, 240),) and close(e2e.sum, 287.510642) and e2e.count == 240
    assert close(one(series, T + "queue_time_seconds", model="ensemble").sum, 0.051873)
    assert one(series, T + "request_errors_total", model="ensemble", reason="REJECTED").value == 2
    assert one(series, T + "requests_finished_total", model="tensorrt_llm").value == 240
    assert one(series, T + "requests_waiting", model="tensorrt_llm").value == 3
    for absent in ("prompt_tokens_total", "generation_tokens_total", "requests_running", "kv_cache_usage_ratio"):
        assert not series_of(series, T + absent), absent


def test_series_that_differ_only_in_a_dropped_label_are_merged():
    """Triton's ``version`` is not in the vocabulary: two versions of a model add up (ratios would take the max)."""
    body = text("triton-trtllm.synthetic.prom")
    extra = "\n".join(
        line.replace('version="1"', 'version="2"')
        for line in body.splitlines()
        if 'model="tensorrt_llm"' in line and line.startswith(("nv_inference_request_success", "nv_inference_first_response"))
    )
    body = body.replace(
        'nv_inference_request_success{model="tensorrt_llm",version="1"} 240\n',
        'nv_inference_request_success{model="tensorrt_llm",version="1"} 240\n'
        + "\n".join(line for line in extra.splitlines() if line.startswith("nv_inference_request_success"))
        + "\n",
    )
    body = body.replace(
        'nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="+Inf"} 240\n',
        'nv_inference_first_response_histogram_ms_bucket{model="tensorrt_llm",version="1",le="+Inf"} 240\n'
        + "\n".join(line for line in extra.splitlines() if line.startswith("nv_inference_first_response"))
        + "\n",
    )
    _, series = normalize(body, TARGET)
    assert one(series, T + "requests_finished_total", model="tensorrt_llm").value == 480
    ttft = one(series, T + "time_to_first_token_seconds", model="tensorrt_llm")
    assert ttft.buckets == ((0.1, 262), (0.5, 438), (2.0, 476), (5.0, 480), (math.inf, 480)) and ttft.count == 480
    assert close(ttft.sum, 82.574)


def test_llamacpp_has_no_labels_and_no_kv_cache_in_current_builds():
    name = "llamacpp-server.synthetic.prom"
    _, series = normalize(text(name), Target(url="http://llama:8080/metrics", server="llama", model="qwen2.5-7b-q4"))
    assert {s.family: s.value for s in series} == {
        T + "prompt_tokens_total": 33065,
        T + "generation_tokens_total": 7801,
        T + "requests_running": 3,
        T + "requests_waiting": 1,
    }
    assert all(dict(s.labels)["model"] == "qwen2.5-7b-q4" for s in series)
    older = text(name) + "# TYPE llamacpp:kv_cache_usage_ratio gauge\nllamacpp:kv_cache_usage_ratio 0.42\n"
    _, series = normalize(older, Target(url="http://llama:8080/metrics", server="llama"))
    assert one(series, T + "kv_cache_usage_ratio", model="").value == 0.42


# -- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "line", "words"),
    [
        ("vllm-docs-design-example.partial.txt", "parse", 4, "'...'"),
        ("vllm-docs-usage-example.partial.txt", "parse", 12, "'...'"),
        ("triton-docs-examples.partial.txt", "mismatch", 3, "nv_inference_first_response_histogram_ms_bucket"),
    ],
)
def test_partial_and_malformed_fixtures_fail_with_the_line(name, kind, line, words):
    with pytest.raises(TargetError) as err:
        normalize(text(name), TARGET)
    assert (err.value.kind, err.value.line) == (kind, line)
    assert words in str(err.value) and str(err.value).startswith(f"line {line}: ")


def test_a_bad_value_or_label_in_a_mapped_family_names_its_line():
    body = text("vllm-0.33.0-v1.synthetic.prom").splitlines()
    at = next(i for i, line in enumerate(body) if line.startswith("vllm:generation_tokens_total{"))
    for broken in (body[at].rsplit(" ", 1)[0] + " twelve", body[at].replace('engine="0"', "engine=0")):
        lines = body[:at] + [broken] + body[at + 1 :]
        with pytest.raises(TargetError) as err:
            normalize("\n".join(lines), TARGET)
        assert err.value.kind == "parse" and err.value.line == at + 1 and "vllm:generation_tokens_total" in str(err.value)


def test_unknown_engine_and_wrong_configured_engine_are_engine_errors():
    with pytest.raises(TargetError, match="no metrics of a known engine") as err:
        normalize("# TYPE python_gc_collections_total counter\npython_gc_collections_total 3\n", TARGET)
    assert err.value.kind == "engine"
    with pytest.raises(TargetError, match="none of TGI's mapped families") as err:
        normalize(text("vllm-0.33.0-v1.synthetic.prom"), Target(url="http://x/metrics", server="x", engine="tgi"))
    assert err.value.kind == "engine"


def test_histogram_shape_errors_are_mismatches():
    no_inf = '# TYPE vllm:time_to_first_token_seconds histogram\nvllm:time_to_first_token_seconds_bucket{le="1.0"} 3\nvllm:time_to_first_token_seconds_sum 1.5\nvllm:time_to_first_token_seconds_count 3\n'
    with pytest.raises(TargetError, match=r'no le="\+Inf" bucket') as err:
        normalize(no_inf, TARGET)
    assert err.value.kind == "mismatch" and err.value.line == 2
    two_bounds = (
        "# TYPE nv_inference_first_response_histogram_ms histogram\n"
        'nv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="100"} 1\n'
        'nv_inference_first_response_histogram_ms_bucket{model="m",version="1",le="+Inf"} 1\n'
        'nv_inference_first_response_histogram_ms_sum{model="m",version="1"} 50\n'
        'nv_inference_first_response_histogram_ms_bucket{model="m",version="2",le="200"} 1\n'
        'nv_inference_first_response_histogram_ms_bucket{model="m",version="2",le="+Inf"} 1\n'
        'nv_inference_first_response_histogram_ms_sum{model="m",version="2"} 150\n'
    )
    with pytest.raises(TargetError, match="different bucket bounds") as err:
        normalize(two_bounds, TARGET)
    assert err.value.kind == "mismatch"


def test_values_come_from_each_scrape_alone_so_a_counter_reset_passes_through():
    body = text("vllm-0.33.0-v1.synthetic.prom")
    _, before = normalize(body, TARGET)
    restarted = "\n".join(
        line.rsplit(" ", 1)[0] + " 12.0" if line.startswith("vllm:generation_tokens_total{") else line for line in body.splitlines()
    )
    _, after = normalize(restarted, TARGET)
    assert one(before, T + "generation_tokens_total").value == raw_value(
        raw("vllm-0.33.0-v1.synthetic.prom"), "vllm:generation_tokens_total"
    )
    assert one(after, T + "generation_tokens_total").value == 12.0


def test_cap_keeps_whole_series_in_family_order_and_counts_the_rest():
    _, series = normalize(text("vllm-0.33.0-v1.synthetic.prom"), TARGET)
    total = sum(s.samples for s in series)
    ttft = series[0]
    assert ttft.family == T + "time_to_first_token_seconds"
    kept, dropped = cap(series, ttft.samples + 1)
    assert kept[0] is ttft and sum(s.samples for s in kept) <= ttft.samples + 1
    assert sum(s.samples for s in kept) + dropped == total and dropped > 0
    assert cap(series, total) == (series, 0)


def test_detection_prefers_the_llm_engine_when_triton_serves_vllm_metrics():
    """Triton's vLLM backend exposes vllm: families next to nv_inference_ ones: read as vLLM unless configured."""
    both = text("triton-trtllm.synthetic.prom") + text("vllm-0.33.0-v1.synthetic.prom")
    assert detect(both).engine == "vllm"
    adapter, series = normalize(both, Target(url="http://x/metrics", server="x", engine="triton"))
    assert adapter.engine == "triton" and {dict(s.labels)["engine"] for s in series} == {"triton"}


# -- what Prometheus would not ingest -------------------------------------------------------------------


def with_line(name: str, line: str, after: str) -> tuple[str, int]:
    """The fixture with ``line`` inserted after the first line starting with ``after``; its 1-based line."""
    body = text(name).splitlines()
    at = next(i for i, x in enumerate(body) if x.startswith(after)) + 1
    return "\n".join(body[:at] + [line] + body[at:]) + "\n", at + 1


def test_a_duplicated_series_fails_the_scrape_naming_its_second_line_instead_of_being_summed():
    body = text("vllm-0.33.0-v1.synthetic.prom").splitlines()
    first = next(x for x in body if x.startswith("vllm:prompt_tokens_total{"))
    doubled, line = with_line("vllm-0.33.0-v1.synthetic.prom", first, first)
    with pytest.raises(TargetError) as err:
        normalize(doubled, TARGET)
    assert (err.value.kind, err.value.line) == ("parse", line)
    assert "duplicate series vllm:prompt_tokens_total{" in str(err.value)
    bucket = next(x for x in body if x.startswith("vllm:time_to_first_token_seconds_bucket{"))
    doubled, line = with_line("vllm-0.33.0-v1.synthetic.prom", bucket, bucket)
    with pytest.raises(TargetError) as err:
        normalize(doubled, TARGET)
    assert (err.value.kind, err.value.line) == ("parse", line)


@pytest.mark.parametrize("bad", ["NaN", "+Inf", "-3"])
def test_a_counter_that_cannot_be_one_leaves_its_family_out_and_the_rest_is_kept(bad):
    body = "\n".join(
        line.rsplit(" ", 1)[0] + " " + bad if line.startswith("vllm:generation_tokens_total{") else line
        for line in text("vllm-0.33.0-v1.synthetic.prom").splitlines()
    )
    problems: list[TargetError] = []
    _, series = normalize(body, TARGET, problems=problems)
    _, good = normalize(text("vllm-0.33.0-v1.synthetic.prom"), TARGET)
    assert {s.family for s in good} - {s.family for s in series} == {T + "generation_tokens_total"}
    assert [p.kind for p in problems] == ["invalid"]
    assert "generation_tokens_total left out" in str(problems[0]) and "a counter is finite and not negative" in str(problems[0])
    assert problems[0].line > 0


def histogram(buckets: list[tuple[str, str]], count: str) -> str:
    lines = ["# TYPE vllm:time_to_first_token_seconds histogram"]
    lines += [f'vllm:time_to_first_token_seconds_bucket{{model_name="m",le="{le}"}} {n}' for le, n in buckets]
    lines += [
        'vllm:time_to_first_token_seconds_sum{model_name="m"} 1.5',
        f'vllm:time_to_first_token_seconds_count{{model_name="m"}} {count}',
    ]
    lines += ["# TYPE vllm:num_requests_running gauge", 'vllm:num_requests_running{model_name="m"} 2']
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("buckets", "count", "words"),
    [
        ([("0.1", "3"), ("1.0", "2"), ("+Inf", "3")], "3", 'le="1",model_name="m"} is 2, below the previous bucket\'s 3'),
        ([("0.1", "1"), ("1.0", "2"), ("+Inf", "3")], "4", '_count{model_name="m"} is 4 but the +Inf bucket is 3'),
        ([("0.1", "NaN"), ("1.0", "2"), ("+Inf", "3")], "3", "a bucket count is finite and not negative"),
    ],
)
def test_histogram_buckets_that_are_not_cumulative_leave_the_family_out(buckets, count, words):
    problems: list[TargetError] = []
    _, series = normalize(histogram(buckets, count), TARGET, problems=problems)
    assert [s.family for s in series] == [T + "requests_running"]
    assert [p.kind for p in problems] == ["invalid"] and words in str(problems[0]), str(problems[0])
    _, fine = normalize(histogram([("0.1", "1"), ("1.0", "2"), ("+Inf", "3")], "3"), TARGET, problems=problems)
    assert len(fine) == 2 and len(problems) == 1


def test_a_bad_byte_in_a_comment_is_replaced_and_in_a_sample_line_is_a_parse_error_naming_it():
    from axonize.sidecar.parse import decode

    good = text("vllm-0.33.0-v1.synthetic.prom").encode()
    latin1 = b"# HELP vllm:num_requests_running Caf\xe9 requests\n" + good
    _, series = normalize(decode(latin1), TARGET)
    assert series == normalize(good.decode(), TARGET)[1]
    with pytest.raises(TargetError) as err:
        decode(good + b'vllm:num_requests_running{model_name="caf\xe9"} 1\n')
    assert (err.value.kind, err.value.line) == ("parse", good.count(b"\n") + 1) and "not UTF-8" in str(err.value)


def test_the_work_stops_at_the_deadline():
    import time

    huge = "".join(f'vllm:prompt_tokens_total{{model_name="m{i}"}} {i}\n' for i in range(50_000))
    start = time.monotonic()
    with pytest.raises(TargetError) as err:
        normalize(huge, TARGET, deadline=time.monotonic() + 0.05)
    assert err.value.kind == "timeout" and time.monotonic() - start < 0.5
