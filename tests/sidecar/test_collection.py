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
    return {dict(ls).get("server") for (n, ls) in parsed if n.startswith(prefix) and not n.startswith("axonize_inference_target_up")
            and not n.startswith("axonize_inference_server_gpu_info")}


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
    assert kinds == {"vllm": None, "tgi": None, "error": "http", "slow": "timeout", "malformed": "parse", "down": "connect", "unknown": "engine"}
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
    assert sorted(info["v"]) == [("meta-llama/Llama-3.1-8B-Instruct", "GPU-00000000-0000-0000-0000-000000000001"),
                                 ("meta-llama/Llama-3.1-8B-Instruct", UUID)]
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
        Target(url=engines.serve("/big", VLLM), server="big"),
        Target(url=engines.serve("/small", (INFERENCE / "sglang-docs-example.prom").read_text()), server="small"),
    ]
    monkeypatch.setattr(scrape, "MAX_BODY_BYTES", len(VLLM.encode()) - 1)
    loop, _ = loop_for(targets)
    latin1, big, small = loop.collect_once().results
    assert latin1.error.kind == "parse" and latin1.error.line == 2 and "not UTF-8" in str(latin1.error)
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
