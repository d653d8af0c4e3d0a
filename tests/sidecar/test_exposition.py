"""The sidecar's own writer of the text format reads back exactly, escapes label values, and withdraws down targets."""

from __future__ import annotations

import dataclasses
import math

from prometheus_client.parser import text_string_to_metric_families

from axonize import exposition_text
from axonize.sidecar.errors import TargetError
from axonize.sidecar.exposition import Renderer, family, gpu_info_rows, render, target_families
from axonize.sidecar.normalize import normalize
from axonize.sidecar.snapshot import Series, Snapshot, TargetResult
from axonize.sidecar.targets import Target
from tests.conftest import FIXTURES
from tests.sidecar.test_text_format import CAPTURES

T = "axonize_inference_"


def parsed(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in text_string_to_metric_families(text):
        out.setdefault(fam.name, []).append(fam)
    return out


def test_rendered_series_read_back_with_their_types_labels_and_values():
    target = Target(url="http://a:1/metrics", server="a")
    _, series = normalize((FIXTURES / "inference" / "vllm-0.33.0-v1-dp2-multiproc.synthetic.prom").read_text(), target)
    text = render(Snapshot([TargetResult(target, "vllm", series)]))
    families = {fam.name: fam for fam in text_string_to_metric_families(text)}
    by_key = {}
    for fam in families.values():
        for s in fam.samples:
            by_key[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert families[T + "prompt_tokens"].type == "counter"
    assert families[T + "time_to_first_token_seconds"].type == "histogram"
    assert families[T + "kv_cache_usage_ratio"].type == "gauge"
    for s in series:
        labels = dict(s.labels)
        if s.buckets:
            for bound, count in s.buckets:
                le = "+Inf" if math.isinf(bound) else repr(bound)
                assert by_key[(s.family + "_bucket", tuple(sorted({**labels, "le": le}.items())))] == count
            assert by_key[(s.family + "_sum", tuple(sorted(labels.items())))] == s.sum
            assert by_key[(s.family + "_count", tuple(sorted(labels.items())))] == s.count
        else:
            assert by_key[(s.family, tuple(sorted(labels.items())))] == s.value
    assert len(by_key) == sum(s.samples for s in series)


def test_label_values_are_escaped():
    model = 'a "quoted" \\ model\nname'
    target = Target(url="http://a:1/metrics", server="a")
    s = Series(T + "requests_running", (("engine", "llamacpp"), ("model", model), ("server", "a")), value=2.0)
    text = render(Snapshot([TargetResult(target, "llamacpp", [s])]))
    (sample,) = [x for fam in text_string_to_metric_families(text) for x in fam.samples]
    assert sample.labels["model"] == model and sample.value == 2.0


def test_down_targets_contribute_only_their_up_series_and_configured_gpus():
    up_target = Target(url="http://a:1/metrics", server="a")
    down = Target(url="http://b:1/metrics", server="b", gpus=("GPU-1",))
    s = Series(T + "requests_waiting", (("engine", "vllm"), ("model", "m"), ("server", "a")), value=1.0)
    stale = Series(T + "requests_waiting", (("engine", "vllm"), ("model", "m"), ("server", "b")), value=9.0)
    snapshot = Snapshot(
        [TargetResult(up_target, "vllm", [s]), TargetResult(down, "vllm", [stale], error=TargetError("timeout", "slow"))],
        gpus={"a": (), "b": ("GPU-1",)},
        models={"b": ("m",)},
    )
    text = render(snapshot)
    assert 'server="a"' in text and 'server="b"' not in text
    assert gpu_info_rows(snapshot, "a") == [] and gpu_info_rows(snapshot, "b") == [("m", "GPU-1")]
    for result in snapshot.results:  # the collection loop fills them, within the series cap
        result.gpu_info = tuple(gpu_info_rows(snapshot, result.target.server))
    families = parsed(write_text(target_families(snapshot)))
    (up,), (info,) = families["axonize_inference_target_up"], families["axonize_inference_server_gpu_info"]
    assert [(x.labels["server"], x.value) for x in up.samples] == [("a", 1.0), ("b", 0.0)]
    assert [(x.labels, x.value) for x in info.samples] == [({"server": "b", "model": "m", "uuid": "GPU-1"}, 1.0)]
    assert render(Snapshot([])) == ""


def write_text(families) -> str:
    from axonize import exposition_text

    return exposition_text.render(families).decode()


def test_the_core_writer_gives_the_bytes_the_hand_written_renderer_gave():
    """Rendered before the switch to axonize.exposition_text (commit a980914's sidecar/exposition.py), byte for byte."""
    target = Target(url="http://a:1/metrics", server="a")
    labels = (("engine", "vllm"), ("model", 'q"\\'), ("server", "a"), ("engine_index", "0"))
    series = [
        Series(T + "time_to_first_token_seconds", labels, buckets=((0.001, 0.0), (0.5, 3.0), (math.inf, 4.0)), sum=1.25, count=4.0),
        Series(T + "prompt_tokens_total", labels, value=1e10),
        Series(T + "kv_cache_usage_ratio", labels, value=0.5),
    ]
    lab = 'engine="vllm",model="q\\"\\\\",server="a",engine_index="0"'
    assert render(Snapshot([TargetResult(target, "vllm", series)])) == (
        f"# HELP {T}time_to_first_token_seconds Time from request arrival to the first output token (server side), per request.\n"
        f"# TYPE {T}time_to_first_token_seconds histogram\n"
        f'{T}time_to_first_token_seconds_bucket{{{lab},le="0.001"}} 0.0\n'
        f'{T}time_to_first_token_seconds_bucket{{{lab},le="0.5"}} 3.0\n'
        f'{T}time_to_first_token_seconds_bucket{{{lab},le="+Inf"}} 4.0\n'
        f"{T}time_to_first_token_seconds_sum{{{lab}}} 1.25\n"
        f"{T}time_to_first_token_seconds_count{{{lab}}} 4.0\n"
        f"# HELP {T}prompt_tokens_total Prompt (prefill) tokens processed.\n"
        f"# TYPE {T}prompt_tokens_total counter\n"
        f"{T}prompt_tokens_total{{{lab}}} 1e+10\n"
        f"# HELP {T}kv_cache_usage_ratio Share of the KV cache in use now, 0-1.\n"
        f"# TYPE {T}kv_cache_usage_ratio gauge\n"
        f"{T}kv_cache_usage_ratio{{{lab}}} 0.5\n"
    )


def written(snapshot: Snapshot) -> str:
    """The normalized families as the core writer wrote them before the Renderer (commit 5fd7d64's render)."""
    by_family: dict[str, exposition_text.Family] = {}
    for result in snapshot.results:
        if result.up:
            for s in result.series:
                fam = by_family.get(s.family) or by_family.setdefault(s.family, family(s.family))
                if s.buckets:
                    fam.add_histogram(s.labels, s.buckets, s.sum, s.count)
                else:
                    fam.add(s.labels, s.value)
    from axonize.sidecar.normalized import FAMILIES

    lines = exposition_text.write(by_family[f.name] for f in FAMILIES if f.name in by_family)
    return "\n".join(lines) + "\n" if lines else ""


ODD_VALUES = (0.0, -0.0, 1.0, 7, math.nan, math.inf, -math.inf, 999999.9999999999, 1e6, 123456789.0, 1e22, 1e-7, -5e6, 0.1 + 0.2)


def altered(series: list[Series], step: int) -> list[Series]:
    """``series`` with other values (the odd ones in turn: NaN, infinities, -0.0, ints, the 1e6 edge) and bounds."""
    out = []
    for i, s in enumerate(series):
        odd = ODD_VALUES[(i + step) % len(ODD_VALUES)]
        if s.buckets:
            buckets = tuple(
                (ODD_VALUES[(j + step) % len(ODD_VALUES)] if j == step % 3 else b, n + odd) for j, (b, n) in enumerate(s.buckets)
            )
            out.append(dataclasses.replace(s, buckets=buckets, sum=odd, count=s.count * step))
        else:
            out.append(dataclasses.replace(s, value=odd))
    return out


def test_the_renderer_writes_every_capture_as_the_core_writer_did_cycle_after_cycle():
    renderer, rendered = Renderer(), 0
    for name, text in sorted(CAPTURES.items()):
        results = []
        for i, model in enumerate(("", 'm "q" \\ \n', "llama")):
            target = Target(url=f"http://h{i}:8000/metrics", server=f"h{i}:8000", model=model)
            try:
                _, series = normalize(text, target)
            except TargetError:  # a partial capture the sidecar refuses
                break
            results.append(TargetResult(target, "x", series))
        if not results:
            continue
        results.append(TargetResult(Target(url="http://down:1/metrics", server="down"), error=TargetError("timeout", "slow")))
        rendered += 1
        for step in range(6):  # the same strings again, then other values and bounds with kept label texts
            snapshot = Snapshot([dataclasses.replace(r, series=altered(r.series, step) if step > 1 else r.series) for r in results])
            assert renderer.render(snapshot) == written(snapshot), (name, step)
    assert rendered >= 10, sorted(CAPTURES)


def test_the_renderer_tells_bounds_that_compare_equal_apart():
    labels = (("engine", "vllm"), ("model", "m"), ("server", "a"))
    target = Target(url="http://a:1/metrics", server="a")
    renderer = Renderer()
    for bound in (0.0, -0.0, 0.0, 1, 1.0, True):
        s = Series(T + "queue_time_seconds", labels, buckets=((bound, 1.0), (math.inf, 2)), sum=3, count=2)
        snapshot = Snapshot([TargetResult(target, "vllm", [s, dataclasses.replace(s, labels=())])])
        assert renderer.render(snapshot) == written(snapshot)
