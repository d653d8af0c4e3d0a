"""``--web.event-loop``: the gateway process on asyncio's loop and on uvloop proxies and meters the same.

Each runs as its own process (``python -m axonize.gateway``, the console script's code) in front of the fake
upstream: a streamed request comes back byte for byte as the fake wrote it (usage chunk removed), a
non-streamed one as JSON, a client that leaves mid-stream is counted, and /metrics count the same tokens.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.processes import ManagedProcess, free_port, wait_http

from .servers import PROMPT_TOKENS, FakeUpstream, LoopThread
from .test_proxy import body, expected_stream, post

uvloop = pytest.importorskip("uvloop", reason="the uvloop extra is not installed")


@pytest.fixture(scope="module")
def upstream():
    thread = LoopThread()
    fake = thread.run(FakeUpstream(chunk_delay=0.001).start())
    yield fake
    thread.run(fake.stop())
    thread.stop()


def gateway_process(tmp_path, upstream_url: str, loop: str) -> tuple[ManagedProcess, str]:
    port = free_port()
    command = [sys.executable, "-m", "axonize.gateway", "--upstream", f"fast,cut={upstream_url}"]
    command += ["--web.listen-address", f"127.0.0.1:{port}", "--web.event-loop", loop, "--log.level", "warning"]
    process = ManagedProcess(f"axonize-gateway ({loop})", command, str(tmp_path / f"gateway-{loop}.log"))
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/-/ready", 30, process)
    return process, url


def counters(url: str) -> dict[str, float]:
    async def get() -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as r:
            return await r.text()

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(asyncio.run(get())):
        for s in family.samples:
            if s.name.startswith("axonize_gateway_") and s.name.endswith("_total"):
                out[s.name] = out.get(s.name, 0.0) + s.value
    return out


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_each_event_loop_proxies_streams_byte_for_byte_and_meters_the_same(tmp_path, upstream, loop):
    process, url = gateway_process(tmp_path, upstream.url, loop)
    try:
        status, data = asyncio.run(post(url, body("fast", True, 20, "e")))
        assert status == 200 and data == expected_stream("fast", 20, "e", usage=False)
        status, answer = asyncio.run(post(url, body("fast", False, 5, "n")))
        assert status == 200 and b'"usage"' in answer
        status, _ = asyncio.run(post(url, body("cut", True)))  # three chunks, then the upstream closes
        assert status == 200
        got = counters(url)
        for _ in range(100):  # a cut stream is metered just after the client's last byte (and a /tokenize try)
            if got.get("axonize_gateway_requests_total") == 3:
                break
            time.sleep(0.05)
            got = counters(url)
        assert got["axonize_gateway_completion_tokens_total"] == 20 + 5 + 3
        assert got["axonize_gateway_estimated_completion_tokens_total"] == 3
        assert got["axonize_gateway_prompt_tokens_total"] == 2 * PROMPT_TOKENS  # the cut stream's prompt: no /tokenize here
        assert got["axonize_gateway_requests_total"] == 3
    finally:
        process.stop()
    assert "Traceback" not in (tmp_path / f"gateway-{loop}.log").read_text()
