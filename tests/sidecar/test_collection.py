"""The collection loop against real HTTP servers on loopback: one bad target never touches the others."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.http import Exposition
from axonize.processes import free_port
from axonize.sidecar.collection import CollectionLoop
from axonize.sidecar.targets import Target, parse_target
from tests.conftest import FIXTURES
from tests.sidecar.servers import FakeEngines

INFERENCE = FIXTURES / "inference"
VLLM = (INFERENCE / "vllm-0.33.0-v1.synthetic.prom").read_text()
TGI = (INFERENCE / "tgi-3.3.7-v3.synthetic.prom").read_text()
UUID = "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"


def samples(body: bytes) -> dict[tuple, float]:
    """``{(sample name, sorted labels): value}`` of an exposition."""
    out = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed: dict, name: str, **labels: str):
    found = [v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def servers_of(parsed: dict, prefix: str = "axonize_inference_") -> set[str]:
    return {
        dict(ls).get("server")
        for (n, ls) in parsed
        if n.startswith(prefix)
        and not n.startswith("axonize_inference_target_up")
        and not n.startswith("axonize_inference_server_gpu_info")
    }


@pytest.fixture
def engines():
    with FakeEngines() as e:
        yield e


def loop_for(targets, timeout=0.5, **kw) -> tuple[CollectionLoop, Exposition]:
    exposition = Exposition()
    return CollectionLoop(targets, interval=5.0, timeout=timeout, exposition=exposition, **kw), exposition


def test_bad_targets_are_counted_and_withdrawn_while_the_good_ones_are_served(engines):
    malformed = (INFERENCE / "vllm-docs-design-example.partial.txt").read_text()
    targets = [
        Target(url=engines.serve("/vllm", VLLM), server="vllm"),
        Target(url=engines.serve("/tgi", TGI), server="tgi", model="m"),
        Target(url=engines.serve("/error", "boom\n", status=500), server="error"),
        Target(url=engines.serve("/slow", VLLM, delay=3.0), server="slow"),
        Target(url=engines.serve("/malformed", malformed), server="malformed"),
        Target(url=f"http://127.0.0.1:{free_port()}/metrics", server="down"),
        Target(url=engines.serve("/unknown", "python_gc_collections_total 3\n"), server="unknown"),
    ]
    loop, exposition = loop_for(targets)
    start = time.monotonic()
    snapshot = loop.collect_once()
    assert time.monotonic() - start < 2.5, "targets are scraped concurrently and the slow one is cut at its timeout"
    kinds = {r.target.server: (r.error.kind if r.error else None) for r in snapshot.results}
    assert kinds == {
        "vllm": None,
        "tgi": None,
        "error": "http",
        "slow": "timeout",
        "malformed": "parse",
        "down": "connect",
        "unknown": "engine",
    }
    assert "line 4" in str(next(r.error for r in snapshot.results if r.target.server == "malformed"))
    parsed = samples(exposition.latest.body)
    for server, up in (("vllm", 1), ("tgi", 1), ("error", 0), ("slow", 0), ("malformed", 0), ("down", 0), ("unknown", 0)):
        assert value(parsed, "axonize_inference_target_up", server=server) == up, server
    assert servers_of(parsed) == {"vllm", "tgi"}
    assert value(parsed, "axonize_inference_generation_tokens_total", server="vllm") == 52849
    assert value(parsed, "axonize_inference_generation_tokens_total", server="tgi") == 36795
    for server, kind in (("error", "http"), ("slow", "timeout"), ("malformed", "parse"), ("down", "connect"), ("unknown", "engine")):
        assert value(parsed, "axonize_sidecar_target_errors_total", server=server, kind=kind) == 1
        assert value(parsed, "axonize_sidecar_last_success_timestamp_seconds", server=server) is None
    assert value(parsed, "axonize_sidecar_last_success_timestamp_seconds", server="vllm") > 0
    assert 0 < value(parsed, "axonize_sidecar_scrape_duration_seconds", server="vllm") < 2.0
    assert 0.4 < value(parsed, "axonize_sidecar_scrape_duration_seconds", server="slow") < 2.0
    assert loop.health() == (True, "OK")


def test_a_target_that_fails_later_is_withdrawn_not_frozen_and_comes_back(engines):
    targets = [Target(url=engines.serve("/a", VLLM), server="a"), Target(url=engines.serve("/b", TGI), server="b")]
    loop, exposition = loop_for(targets)
    loop.collect_once()
    assert servers_of(samples(exposition.latest.body)) == {"a", "b"}
    engines.serve("/a", "overloaded\n", status=503)
    loop.collect_once()
    parsed = samples(exposition.latest.body)
    assert servers_of(parsed) == {"b"}
    assert value(parsed, "axonize_inference_target_up", server="a") == 0
    assert value(parsed, "axonize_sidecar_target_errors_total", server="a", kind="http") == 1
    assert value(parsed, "axonize_sidecar_last_success_timestamp_seconds", server="a") > 0, "the last success is kept"
    engines.serve("/a", VLLM)
    loop.collect_once()
    parsed = samples(exposition.latest.body)
    assert servers_of(parsed) == {"a", "b"} and value(parsed, "axonize_inference_target_up", server="a") == 1
    assert value(parsed, "axonize_sidecar_collections_total") == 3


def test_a_counter_reset_reaches_prometheus_as_a_reset(engines):
    target = Target(url=engines.serve("/v", VLLM), server="v")
    loop, exposition = loop_for([target])
    loop.collect_once()
    assert value(samples(exposition.latest.body), "axonize_inference_generation_tokens_total") == 52849
    restarted = "\n".join(
        line.rsplit(" ", 1)[0] + " 17.0" if line.startswith("vllm:generation_tokens_total{") else line for line in VLLM.splitlines()
    )
    engines.serve("/v", restarted)
    loop.collect_once()
    assert value(samples(exposition.latest.body), "axonize_inference_generation_tokens_total") == 17


def test_series_are_capped_per_target_and_the_rest_counted(engines):
    targets = [Target(url=engines.serve("/big", VLLM), server="big"), Target(url=engines.serve("/tgi", TGI), server="tgi")]
    loop, exposition = loop_for(targets, max_series=60)
    snapshot = loop.collect_once()
    big = snapshot.results[0]
    kept = sum(s.samples for s in big.series)
    assert 0 < kept <= 60 and big.dropped > 0
    loop.collect_once()
    parsed = samples(exposition.latest.body)
    lines = [k for k in parsed if dict(k[1]).get("server") == "big" and k[0].startswith("axonize_inference_") and "target_up" not in k[0]]
    assert len(lines) == kept
    assert value(parsed, "axonize_sidecar_series_dropped_total", server="big") == 2 * big.dropped
    assert value(parsed, "axonize_inference_time_to_first_token_seconds_count", server="big") == 240, "headline families first"


def test_gpu_join_series_from_the_configuration(engines):
    targets = [
        parse_target({"url": engines.serve("/v", VLLM), "server": "v", "gpus": [UUID, "GPU-00000000-0000-0000-0000-000000000001"]}),
        parse_target({"url": engines.serve("/t", TGI), "server": "t", "model": "tgi-model", "gpus": [UUID]}),
        parse_target({"url": f"http://127.0.0.1:{free_port()}/metrics", "server": "off", "gpus": [UUID]}),
    ]
    loop, exposition = loop_for(targets)
    loop.collect_once()
    parsed = samples(exposition.latest.body)
    info = {dict(ls)["server"]: [] for (n, ls) in parsed if n == "axonize_inference_server_gpu_info"}
    for (n, ls), v in parsed.items():
        if n == "axonize_inference_server_gpu_info":
            assert v == 1
            info[dict(ls)["server"]].append((dict(ls)["model"], dict(ls)["uuid"]))
    assert sorted(info["v"]) == [
        ("meta-llama/Llama-3.1-8B-Instruct", "GPU-00000000-0000-0000-0000-000000000001"),
        ("meta-llama/Llama-3.1-8B-Instruct", UUID),
    ]
    assert info["t"] == [("tgi-model", UUID)]
    assert info["off"] == [("", UUID)], "a target never read still has its configured GPUs"


def test_the_loop_runs_on_its_interval_and_stops(engines):
    target = Target(url=engines.serve("/v", VLLM), server="v")
    exposition = Exposition()
    loop = CollectionLoop([target], interval=0.1, timeout=0.1, exposition=exposition)
    assert loop.health()[0] is False
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while loop.collections < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loop.collections >= 3 and exposition.ready.is_set()
        assert loop.health() == (True, "OK")
    finally:
        loop.stop()
    stopped_at = loop.collections
    time.sleep(0.3)
    assert loop.collections == stopped_at
    assert engines.hits["/v"] == stopped_at


def test_a_body_that_is_not_utf8_or_too_large_is_that_targets_error(engines, monkeypatch):
    from axonize.sidecar import scrape

    targets = [
        Target(url=engines.serve("/latin1", "vllm:num_requests_running 1\n# caf\xe9\n".encode("latin-1")), server="latin1"),
        Target(
            url=engines.serve("/sample", '# ok\nvllm:num_requests_running{model_name="caf\xe9"} 1\n'.encode("latin-1")), server="sample"
        ),
        Target(url=engines.serve("/big", VLLM), server="big"),
        Target(url=engines.serve("/small", (INFERENCE / "sglang-docs-example.prom").read_text()), server="small"),
    ]
    monkeypatch.setattr(scrape, "MAX_BODY_BYTES", len(VLLM.encode()) - 1)
    loop, _ = loop_for(targets)
    latin1, sample, big, small = loop.collect_once().results
    assert latin1.up, "a bad byte in a comment is replaced, not fatal"
    assert sample.error.kind == "parse" and sample.error.line == 2 and "not UTF-8" in str(sample.error)
    assert big.error.kind == "http" and "over" in str(big.error)
    assert small.up


def test_a_file_target_serves_a_saved_capture_and_a_missing_file_is_that_targets_error(tmp_path):
    capture = INFERENCE / "vllm-0.32.0-cpu-real-workload.prom"
    good = parse_target(f"file://{capture}#vllm")
    missing = parse_target({"url": f"file://{tmp_path}/gone.prom", "engine": "vllm", "server": "gone"})
    assert good.server == capture.name and good.url == f"file://{capture}"
    loop, exposition = loop_for([good, missing], timeout=2.0)
    snapshot = loop.collect_once()
    assert [r.up for r in snapshot.results] == [True, False]
    assert snapshot.results[1].error.kind == "connect" and "gone.prom" in str(snapshot.results[1].error)
    parsed = samples(exposition.latest.body)
    assert value(parsed, "axonize_inference_generation_tokens_total", server=capture.name) == 256.0  # 8 x 32, as captured
    assert value(parsed, "axonize_inference_target_up", server="gone") == 0.0


@pytest.mark.parametrize("url", ["file://relative/x.prom", "file://otherhost/x.prom"])
def test_file_targets_need_an_absolute_local_path(url):
    with pytest.raises(ValueError, match="absolute path"):
        parse_target(url)


# -- no engine can break the sidecar ----------------------------------------------------------------------


def test_a_duplicated_series_fails_that_scrape_and_an_invalid_counter_only_its_family(engines, caplog):
    first = next(line for line in VLLM.splitlines() if line.startswith("vllm:prompt_tokens_total{"))
    doubled = VLLM.replace(first + "\n", first + "\n" + first + "\n", 1)
    nan = (
        "\n".join(
            line.rsplit(" ", 1)[0] + " NaN" if line.startswith("vllm:generation_tokens_total{") else line for line in VLLM.splitlines()
        )
        + "\n"
    )
    targets = [
        Target(url=engines.serve("/doubled", doubled), server="doubled"),
        Target(url=engines.serve("/nan", nan), server="nan"),
        Target(url=engines.serve("/good", VLLM), server="good"),
    ]
    loop, exposition = loop_for(targets)
    caplog.set_level("INFO", logger="axonize.sidecar.collection")
    for _ in range(3):
        doubled_result, nan_result, _ = loop.collect_once().results
    line = VLLM.splitlines().index(first) + 2
    assert doubled_result.error.kind == "parse" and f"line {line}: duplicate series" in str(doubled_result.error)
    assert nan_result.up and [p.kind for p in nan_result.problems] == ["invalid"]
    parsed = samples(exposition.latest.body)
    assert value(parsed, "axonize_inference_prompt_tokens_total", server="doubled") is None, "not summed: withdrawn"
    assert value(parsed, "axonize_inference_target_up", server="doubled") == 0
    assert value(parsed, "axonize_sidecar_target_errors_total", server="doubled", kind="parse") == 3
    assert value(parsed, "axonize_inference_target_up", server="nan") == 1
    assert value(parsed, "axonize_inference_generation_tokens_total", server="nan") is None
    assert value(parsed, "axonize_inference_prompt_tokens_total", server="nan") == value(
        parsed, "axonize_inference_prompt_tokens_total", server="good"
    )
    assert value(parsed, "axonize_sidecar_target_errors_total", server="nan", kind="invalid") == 3
    assert caplog.text.count("duplicate series") == 1 and caplog.text.count("generation_tokens_total left out") == 1, "logged once per kind"


def test_the_gpu_join_series_count_inside_the_series_cap(engines):
    models = "".join(f'vllm:num_requests_running{{model_name="model-{i}"}} 1\n' for i in range(1000))
    gpus = [f"GPU-00000000-0000-0000-0000-00000000000{i}" for i in range(8)]
    targets = [
        parse_target({"url": engines.serve("/many", models), "server": "many", "gpus": gpus}),
        parse_target({"url": f"http://127.0.0.1:{free_port()}/metrics", "server": "down", "gpus": gpus}),
    ]
    loop, exposition = loop_for(targets, max_series=100)
    loop.collect_once()
    parsed = samples(exposition.latest.body)
    for server, normalized in (("many", 100), ("down", 0)):
        mine = [n for (n, ls) in parsed if dict(ls).get("server") == server and n.startswith("axonize_inference_") and "target_up" not in n]
        assert len(mine) <= 100, (server, len(mine))
        assert len([n for n in mine if n != "axonize_inference_server_gpu_info"]) == normalized
    assert value(parsed, "axonize_sidecar_series_dropped_total", server="many") == 900 + 100 * 8
    assert value(parsed, "axonize_sidecar_series_dropped_total", server="down") == 0, "one model ('') x 8 GPUs fits"


def huge_vllm(lines: int) -> str:
    """A vLLM exposition of ``lines`` mapped counter series (about 60 bytes each): seconds of parsing."""
    return "# TYPE vllm:prompt_tokens_total counter\n" + "".join(
        f'vllm:prompt_tokens_total{{model_name="model-{i:07d}"}} {i}\n' for i in range(lines)
    )


def test_huge_targets_are_cut_at_their_deadline_and_the_others_are_published_on_time(engines):
    huge = huge_vllm(150_000)  # 9 MB: about 3 s of parsing each
    targets = [Target(url=engines.serve(f"/huge{i}", huge), server=f"huge{i}") for i in range(3)]
    targets.append(Target(url=engines.serve("/good", VLLM), server="good"))
    targets.append(Target(url=engines.serve("/over", huge + huge_vllm(100)), server="over"))
    loop, exposition = loop_for(targets, timeout=1.0, max_body_bytes=len(huge.encode()) + 100)
    start = time.monotonic()
    snapshot = loop.collect_once()
    took = time.monotonic() - start
    assert took < 2.5, f"a cycle took {took:.1f}s with a 1 s timeout"
    kinds = {r.target.server: r.error.kind if r.error else None for r in snapshot.results}
    assert kinds == {"huge0": "timeout", "huge1": "timeout", "huge2": "timeout", "good": None, "over": "http"}
    assert "limit" in str(snapshot.results[4].error)
    assert value(samples(exposition.latest.body), "axonize_inference_generation_tokens_total", server="good") == 52849


def test_a_redirect_is_not_followed_but_is_an_http_error_naming_the_location(engines):
    elsewhere = engines.serve("/elsewhere", VLLM)
    target = Target(url=engines.serve("/moved", "", status=302, headers={"Location": elsewhere}), server="moved")
    loop, exposition = loop_for([target])
    (result,) = loop.collect_once().results
    assert result.error.kind == "http" and "302" in str(result.error) and elsewhere in str(result.error)
    assert engines.hits.get("/elsewhere", 0) == 0
    assert servers_of(samples(exposition.latest.body)) == set()


def test_credentials_in_a_target_url_reach_no_log_line_and_no_error(engines, caplog):
    caplog.set_level("DEBUG")
    port = engines.port
    targets = [
        parse_target(f"http://alice:s3cret@127.0.0.1:{port}/garbage"),
        parse_target({"url": f"http://bob:hunter2@127.0.0.1:{free_port()}/metrics", "server": "down"}),
        parse_target({"url": f"http://carol:pa55@127.0.0.1:{port}/moved", "server": "moved"}),
    ]
    engines.serve("/garbage", "this is not an exposition\n")
    engines.serve("/moved", "", status=301, headers={"Location": f"http://dave:opensesame@127.0.0.1:{port}/garbage"})
    loop, exposition = loop_for(targets)
    results = loop.collect_once().results
    shown = caplog.text + "".join(str(r.error) for r in results) + exposition.latest.body.decode()
    assert all(not r.up for r in results)
    for secret in ("s3cret", "hunter2", "pa55", "opensesame", "alice", "bob:", "carol", "dave"):
        assert secret not in shown, secret
    assert f"127.0.0.1:{port}/garbage" in caplog.text


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_the_loop_survives_a_render_an_attribution_and_a_target_that_raise(engines, monkeypatch, caplog):
    from axonize.sidecar import collection

    class BrokenAttribution:
        calls = 0

        def resolve(self, targets):
            self.calls += 1
            raise RuntimeError("psutil exploded")

    real_render = collection.sidecar_format.render
    renders = {"n": 0}

    def render_raising_once(snapshot, renderer=None):
        renders["n"] += 1
        if renders["n"] == 2:
            raise ZeroDivisionError("render bug")
        return real_render(snapshot, renderer)

    monkeypatch.setattr(collection.sidecar_format, "render", render_raising_once)
    targets = [
        Target(url=engines.serve("/good", VLLM), server="good", gpus=(UUID,)),
        Target(url=engines.serve("/flaky", VLLM), server="flaky"),
    ]
    exposition = Exposition()
    loop = CollectionLoop(targets, interval=0.1, timeout=0.1, exposition=exposition, attribution=BrokenAttribution())
    caplog.set_level("INFO", logger="axonize.sidecar.collection")
    start = time.monotonic()
    loop.start()
    assert time.monotonic() - start < 0.05, "start() returns at once; the first cycle runs in the loop's thread"
    try:
        wait_for(lambda: loop.collections >= 3)
        engines.serve("/flaky", b"\x00\xff garbage \xfe\n" * 100)  # mid-run
        seen = loop.collections
        wait_for(lambda: loop.collections >= seen + 3)
        parsed = samples(exposition.latest.body)
        assert value(parsed, "axonize_inference_target_up", server="good") == 1
        assert value(parsed, "axonize_inference_target_up", server="flaky") == 0
        assert value(parsed, "axonize_inference_generation_tokens_total", server="good") == 52849
        assert value(parsed, "axonize_sidecar_target_errors_total", server="flaky", kind="parse") >= 1
        assert value(parsed, "axonize_sidecar_collection_errors_total", stage="render") == 1
        assert value(parsed, "axonize_sidecar_collection_errors_total", stage="attribution") >= 3
        assert value(parsed, "axonize_inference_server_gpu_info", server="good", uuid=UUID) == 1, "the configuration stands in"
        assert loop.health() == (True, "OK")
        assert caplog.text.count("collection attribution failed") == 1 and caplog.text.count("collection render failed") == 1

        def always_raise(snapshot):
            raise ZeroDivisionError("render bug")

        monkeypatch.setattr(collection.sidecar_format, "render", always_raise)
        seen, broken_at = loop.collections, time.monotonic()
        wait_for(lambda: not loop.health()[0], 5.0)
        assert time.monotonic() - broken_at > 3 * 0.1 - 0.1, "healthy until 3 intervals have passed"
        assert "no collection has completed" in loop.health()[1]
        assert loop.collections > seen, "the loop still runs"
        assert value(samples(exposition.latest.body), "axonize_inference_target_up", server="good") == 1, "target_up still served"
        monkeypatch.setattr(collection.sidecar_format, "render", real_render)
        seen = loop.collections
        wait_for(lambda: loop.collections >= seen + 2)
        assert loop.health() == (True, "OK")
    finally:
        loop.stop()


def test_an_exception_outside_the_stages_ends_only_that_cycle(engines, monkeypatch):
    target = Target(url=engines.serve("/v", VLLM), server="v")
    exposition = Exposition()
    loop = CollectionLoop([target], interval=0.05, timeout=0.5, exposition=exposition)
    real = loop._account
    calls = {"n": 0}

    def account_raising_once(results):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyError("bookkeeping bug")
        real(results)

    monkeypatch.setattr(loop, "_account", account_raising_once)
    loop.start()
    try:
        wait_for(lambda: loop.collections >= 2)
        assert loop.loop_errors["cycle"] == 1 and loop.health() == (True, "OK")
        assert value(samples(exposition.latest.body), "axonize_sidecar_collection_errors_total", stage="cycle") == 1
    finally:
        loop.stop()
