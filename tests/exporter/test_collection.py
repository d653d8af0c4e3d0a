"""The collection loop: health, failing sources, that scrapes never trigger collection, and that cycles leave the text to scrapes."""

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer

from axonize.exporter.collection import CollectionLoop
from axonize.exporter.exposition import families
from axonize.exporter.replay import ReplaySource
from axonize.exporter.snapshot import Snapshot
from axonize.http import Exposition, make_app
from tests.conftest import DEMO_Q


class Exploding:
    name = "nvml"

    def collect(self) -> Snapshot:
        raise RuntimeError("driver went away")


class Counting:
    name = "replay"

    def __init__(self):
        self.calls = 0
        self.inner = ReplaySource([str(DEMO_Q)])

    def collect(self) -> Snapshot:
        self.calls += 1
        return self.inner.collect()


def test_health_follows_the_last_success():
    loop = CollectionLoop(ReplaySource([str(DEMO_Q)]), 5.0, Exposition())
    assert loop.health() == (False, "no successful collection yet")
    loop.collect_once()
    assert loop.health() == (True, "OK")
    loop.last_success = time.time() - 14  # within three intervals of 5 s
    assert loop.health() == (True, "OK")
    loop.last_success = time.time() - 16
    ok, reason = loop.health()
    assert not ok and "last successful collection 16s ago" in reason


def test_a_source_that_raises_is_counted_and_withdrawn():
    exposition = Exposition()
    loop = CollectionLoop(Exploding(), 1.0, exposition)
    snapshot = loop.collect_once()
    body = exposition.latest.body.decode()
    assert 'axonize_exporter_collection_errors_total{kind="internal",source="nvml"} 1.0' in body
    assert [str(e) for e in snapshot.errors] == ["nvml: collection failed: RuntimeError: driver went away"]  # what --print shows
    assert "axonize_gpu_memory_total_bytes{" not in body
    assert not loop.health()[0]


def test_http_scrapes_never_trigger_collection():
    source = Counting()
    exposition = Exposition()
    loop = CollectionLoop(source, 3600.0, exposition)
    started = time.monotonic()
    loop.start()
    assert time.monotonic() - started < 0.5  # returns at once: the first cycle runs in the loop's thread
    assert exposition.ready.wait(10)  # published by the loop's thread

    async def scrape_many():
        app = make_app(exposition, "/metrics", loop.health, "test")
        async with TestClient(TestServer(app)) as client:
            bodies = set()
            for _ in range(100):
                resp = await client.get("/metrics")
                assert resp.status == 200
                bodies.add(await resp.read())
            return bodies

    try:
        bodies = asyncio.run(scrape_many())
        assert len(bodies) == 1 and source.calls == 1
    finally:
        loop.stop()


def test_a_cycle_does_not_write_the_text_the_first_scrape_does():
    exposition = Exposition()
    loop = CollectionLoop(ReplaySource([str(DEMO_Q)]), 1.0, exposition)
    loop.collect_once()
    unscraped = exposition.latest
    loop.collect_once()
    assert unscraped.ready(False) is None and unscraped.ready(True) is None  # never asked for: never written
    body = exposition.latest.body
    assert exposition.latest.ready(False) is body and b"axonize_exporter_collections_total 2.0\n" in body


def test_a_family_the_writer_refuses_is_left_out_and_counted_in_its_own_cycle():
    """A value that is not a number, or a label value that is not a string, fails in the cycle, not at the scrape."""
    broken = {"axonize_gpu_power_watts": "value", "axonize_gpu_temperature_celsius": "label"}

    def render(snapshot):
        out = families(snapshot)
        for fam in out:
            if fam.name in broken:
                labels, value = fam.samples[0]
                fam.samples[0] = (labels, "N/A") if broken[fam.name] == "value" else ((0, labels[1]), value)
        return out

    exposition = Exposition()
    loop = CollectionLoop(ReplaySource([str(DEMO_Q)]), 1.0, exposition, render=render)
    snapshot = loop.collect_once()
    assert sorted(e.location for e in snapshot.errors) == sorted(broken)
    body = exposition.latest.body.decode()
    assert 'axonize_exporter_collection_errors_total{kind="internal",source="exposition"} 2.0' in body
    assert not any(f"\n{name}" in body for name in broken) and body.count("\naxonize_gpu_memory_used_bytes{") == 8
    assert loop.health() == (True, "OK")  # the GPUs were published
    loop.collect_once()
    assert 'axonize_exporter_collection_errors_total{kind="internal",source="exposition"} 4.0' in exposition.latest.body.decode()
