"""The gateway against fake upstreams on loopback: errors by kind, the usage chunk, 200 concurrent streams, cut streams."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
import pytest

from axonize.gateway.config import Upstream
from tests.conftest import samples, total
from tests.gateway.servers import PROMPT_TOKENS, FakeUpstream, GatewayThread, LoopThread, chunk

MODELS = ("fast", "slow", "fail", "bad-request", "garbage", "garbage-late", "cut", "linger", "stall")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def loop():
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def upstream(loop):
    fake = loop.run(FakeUpstream(slow_seconds=5).start())
    yield fake
    loop.run(fake.stop())


@pytest.fixture(scope="module")
def gateway(loop, upstream):
    ups = [Upstream(MODELS, upstream.url), Upstream(("down",), f"http://127.0.0.1:{closed_port()}")]
    gw = GatewayThread(loop, ups, ["--upstream.timeout", "0.5s"])
    yield gw
    gw.stop()


def body(model: str, stream: bool, n: int = 4, prompt: str = "p", **extra) -> dict:
    return {"model": model, "max_tokens": n, "stream": stream, "messages": [{"role": "user", "content": prompt}], **extra}


async def post(url: str, payload: dict, key: str = "sk-test") -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer {key}"}) as r:
            return r.status, await r.read()


def metrics(gw: GatewayThread) -> dict:
    async def get():
        async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as r:
            return await r.text()

    return samples(asyncio.run(get()))


@pytest.mark.parametrize(
    "model, stream, status, kind",
    [
        ("down", False, 502, "connect"),
        ("down", True, 502, "connect"),
        ("slow", True, 504, "timeout"),
        ("slow", False, 504, "timeout"),
        ("fail", True, 502, "http_5xx"),
        ("bad-request", False, 400, "http_4xx"),
        ("garbage", True, 502, "malformed"),
    ],
)
def test_an_upstream_failure_is_a_clear_error_counted_by_kind_and_others_go_on(gateway, model, stream, status, kind):
    before = metrics(gateway)

    async def both():
        return await asyncio.gather(post(gateway.url, body(model, stream)), post(gateway.url, body("fast", True, 5)))

    (got, answer), (ok_status, ok_body) = asyncio.run(both())
    after = metrics(gateway)
    assert got == status
    error = json.loads(answer)["error"]
    assert error["message"] and error["type"]
    if kind != "http_4xx":  # a 4xx is the upstream's own answer, passed through
        assert error["code"] == kind and "upstream" in error["message"]
    delta = total(after, "axonize_gateway_upstream_errors_total", model=model, kind=kind) - total(
        before, "axonize_gateway_upstream_errors_total", model=model, kind=kind
    )
    assert delta == 1
    assert total(after, "axonize_gateway_upstream_errors_total") - total(before, "axonize_gateway_upstream_errors_total") == 1
    assert (
        total(after, "axonize_gateway_requests_total", model=model, status=str(status))
        - total(before, "axonize_gateway_requests_total", model=model, status=str(status))
        == 1
    )
    # The request beside it was unaffected: whole stream, counted exactly.
    assert ok_status == 200 and ok_body.endswith(b"data: [DONE]\n\n") and ok_body.count(b"p:") == 5
    assert (
        total(after, "axonize_gateway_completion_tokens_total", model="fast")
        - total(before, "axonize_gateway_completion_tokens_total", model="fast")
        == 5
    )


def test_a_stream_that_breaks_after_its_200_ends_with_an_error_event_and_counts_what_was_sent(gateway):
    for model in ("garbage-late", "cut"):
        before = metrics(gateway)
        status, answer = asyncio.run(post(gateway.url, body(model, True)))
        after = metrics(gateway)
        assert status == 200
        events = answer.split(b"\n\n")[:-1]
        assert [e.count(b"p:") for e in events[:4]] == [0, 1, 1, 1]
        error = json.loads(events[-1].removeprefix(b"data: "))["error"]
        assert error["code"] == "malformed" and b"[DONE]" not in answer
        for name in ("axonize_gateway_completion_tokens_total", "axonize_gateway_estimated_completion_tokens_total"):
            assert total(after, name, model=model) - total(before, name, model=model) == 3, (model, name)
        assert total(after, "axonize_gateway_prompt_tokens_total", model=model) == total(
            before, "axonize_gateway_prompt_tokens_total", model=model
        )


def test_a_cut_streams_prompt_is_counted_by_the_upstreams_tokenize_when_it_has_one(loop, gateway, upstream):
    """The ``gateway`` fixture's upstream has no /tokenize (404: prompt 0, not asked again for 10 minutes); this one has."""
    before = metrics(gateway)
    assert asyncio.run(post(gateway.url, body("cut", True)))[0] == 200
    assert total(metrics(gateway), "axonize_gateway_prompt_tokens_total", model="cut") == total(
        before, "axonize_gateway_prompt_tokens_total", model="cut"
    )
    assert upstream.url in gateway.gateway.prompts.absent
    fake = loop.run(FakeUpstream(tokenize=True).start())
    gw = GatewayThread(loop, [Upstream(("cut", "fast"), fake.url)])
    try:
        sent = body("cut", True, tools=[{"type": "function", "function": {"name": "f"}}], add_generation_prompt=True)
        assert asyncio.run(post(gw.url, sent))[0] == 200
        assert asyncio.run(post(gw.url, body("fast", True, 3)))[0] == 200  # with its usage: /tokenize is not asked
        after = metrics(gw)
    finally:
        gw.stop()
        loop.run(fake.stop())
    assert fake.tokenized == [{"model": "cut", "messages": sent["messages"], "tools": sent["tools"], "add_generation_prompt": True}]
    assert total(after, "axonize_gateway_prompt_tokens_total", model="cut") == PROMPT_TOKENS
    assert total(after, "axonize_gateway_completion_tokens_total", model="cut") == 3
    assert total(after, "axonize_gateway_prompt_tokens_total", model="fast") == PROMPT_TOKENS


def test_a_stream_idle_past_the_timeout_ends_with_a_timeout_event_and_counts_what_was_sent(gateway, upstream):
    """--upstream.timeout 0.5s; ``stall`` sends two chunks and then nothing for 5 s: the gateway's own idle timer
    (not aiohttp's per-read one) ends the stream after about 0.5 s."""
    before = metrics(gateway)
    status, answer = asyncio.run(post(gateway.url, body("stall", True, prompt="t")))
    after = metrics(gateway)
    events = answer.split(b"\n\n")[:-1]
    assert status == 200 and [e.count(b"t:") for e in events[:3]] == [0, 1, 1] and len(events) == 4
    error = json.loads(events[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == "timeout" and "--upstream.timeout" in error["message"]

    def delta(name: str, **labels: str) -> float:
        return total(after, name, model="stall", **labels) - total(before, name, model="stall", **labels)

    assert delta("axonize_gateway_upstream_errors_total", kind="timeout") == delta("axonize_gateway_upstream_errors_total") == 1
    assert delta("axonize_gateway_completion_tokens_total") == delta("axonize_gateway_estimated_completion_tokens_total") == 2
    assert 0.5 <= delta("axonize_gateway_request_duration_seconds_sum") < 5


def _send_buffer_max_bytes() -> int:
    """The most a loopback TCP send buffer grows to (Linux ``tcp_wmem``'s maximum; 4 MiB, its default, elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


def _dechunk(body: bytes) -> bytes:
    """An HTTP/1.1 chunked body's payload."""
    out, pos = b"", 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += body[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def test_a_client_reading_slower_than_the_timeout_keeps_its_stream(gateway, upstream):
    """--upstream.timeout 0.5s; the client stops reading for 1.5 s while the stream is larger than every buffer
    between the gateway and it (its socket's receive buffer made small, the gateway's send buffer at most
    tcp_wmem's maximum), so the gateway's write waits on the client. That wait is not upstream idleness: the
    stream arrives whole, ends with [DONE], and is counted from the usage without an upstream error. (The
    ``stall`` test above shows an upstream silent mid-stream still times out.)"""
    prompt = "w" * 4000
    n = (_send_buffer_max_bytes() + (2 << 20)) // len(prompt)
    payload = json.dumps(body("fast", True, n, prompt)).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer sk-slow\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(payload)
    ) + payload
    before = metrics(gateway)
    host, port = gateway.addresses[0]
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        client.settimeout(30)
        client.connect((host, port))
        client.sendall(request)
        got = client.recv(4096)
        time.sleep(1.5)  # a slow reader: the gateway's writes block meanwhile
        while data := client.recv(1 << 16):
            got += data
    head, _, chunked = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
    assert _dechunk(chunked) == expected_stream("fast", n, prompt, usage=False)
    assert asyncio.run(_wait_until(lambda: total(metrics(gateway), "axonize_gateway_requests_in_flight", model="fast") == 0))
    after = metrics(gateway)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, model="fast", **labels) - total(before, name, model="fast", **labels)

    assert delta("axonize_gateway_upstream_errors_total") == 0
    assert delta("axonize_gateway_requests_total", status="200") == delta("axonize_gateway_requests_total") == 1
    assert delta("axonize_gateway_completion_tokens_total") == n and delta("axonize_gateway_estimated_completion_tokens_total") == 0


def expected_stream(model: str, n: int, prompt: str, usage: bool) -> bytes:
    """The fake's stream for a request, as it writes it (tests/gateway/servers.py)."""
    out = chunk(model, [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
    for i in range(n):
        out += chunk(model, [{"index": 0, "delta": {"content": f"{prompt}:{i} "}, "finish_reason": None}])
    out += chunk(model, [{"index": 0, "delta": {}, "finish_reason": "length"}])
    if usage:
        out += chunk(model, [], {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": n, "total_tokens": PROMPT_TOKENS + n})
    return out + b"data: [DONE]\n\n"


def test_the_usage_chunk_is_asked_for_and_removed_unless_the_client_asked(gateway, upstream):
    before = metrics(gateway)
    status, plain = asyncio.run(post(gateway.url, body("fast", True, 6, "u")))
    assert upstream.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert status == 200 and plain == expected_stream("fast", 6, "u", usage=False)
    status, asked = asyncio.run(post(gateway.url, body("fast", True, 6, "u", stream_options={"include_usage": True})))
    assert status == 200 and asked == expected_stream("fast", 6, "u", usage=True)
    after = metrics(gateway)
    assert (
        total(after, "axonize_gateway_completion_tokens_total", model="fast")
        - total(before, "axonize_gateway_completion_tokens_total", model="fast")
        == 12
    )
    assert (
        total(after, "axonize_gateway_prompt_tokens_total", model="fast")
        - total(before, "axonize_gateway_prompt_tokens_total", model="fast")
        == 2 * PROMPT_TOKENS
    )
    assert total(after, "axonize_gateway_estimated_completion_tokens_total", model="fast") == total(
        before, "axonize_gateway_estimated_completion_tokens_total", model="fast"
    )
    # The client's key went nowhere: not upstream, not in the metrics.
    assert "Authorization" not in upstream.requests[-1]["headers"]
    assert "sk-test" not in repr(after)


def test_200_concurrent_streams_lose_and_duplicate_no_chunk_and_count_every_token(loop):
    fake = loop.run(FakeUpstream(chunk_delay=0.002).start())
    gw = GatewayThread(loop, [Upstream(("fast",), fake.url)])
    n_streams, n_tokens = 200, 25
    try:

        async def one(session: aiohttp.ClientSession, i: int) -> tuple[int, bytes]:
            payload = body("fast", True, n_tokens, f"s{i}")
            async with session.post(f"{gw.url}/v1/chat/completions", json=payload, headers={"Authorization": f"Bearer key-{i % 3}"}) as r:
                return r.status, await r.read()

        async def run_all():
            connector = aiohttp.TCPConnector(limit=n_streams)
            async with aiohttp.ClientSession(connector=connector) as session:
                return await asyncio.gather(*(one(session, i) for i in range(n_streams)))

        answers = asyncio.run(run_all())
        for i, (status, data) in enumerate(answers):
            assert status == 200, i
            assert data == expected_stream("fast", n_tokens, f"s{i}", usage=False), i
        after = metrics(gw)
        assert total(after, "axonize_gateway_requests_total", status="200") == n_streams
        assert total(after, "axonize_gateway_completion_tokens_total") == n_streams * n_tokens
        assert total(after, "axonize_gateway_prompt_tokens_total") == n_streams * PROMPT_TOKENS
        assert total(after, "axonize_gateway_estimated_completion_tokens_total") == 0
        assert len({dict(k)["customer"] for k in after["axonize_gateway_completion_tokens_total"]}) == 3
        assert total(after, "axonize_gateway_time_to_first_token_seconds_count") == n_streams
        assert total(after, "axonize_gateway_requests_in_flight") == 0
        assert len(fake.requests) == n_streams
    finally:
        gw.stop()
        loop.run(fake.stop())


def test_a_client_leaving_mid_stream_cancels_the_upstream_and_counts_what_was_sent(loop):
    fake = loop.run(FakeUpstream(chunk_delay=0.02).start())
    gw = GatewayThread(loop, [Upstream(("fast",), fake.url)])
    try:

        async def leave_after(n_events: int) -> int:
            seen = 0
            async with aiohttp.ClientSession() as session:
                async with session.post(f"{gw.url}/v1/chat/completions", json=body("fast", True, 500, "d")) as r:
                    async for line in r.content:
                        seen += line.count(b"d:")
                        if seen >= n_events:
                            break
            return seen

        read = asyncio.run(leave_after(5))
        deadline = asyncio.run(_wait_until(lambda: fake.cancelled == 1 and total(metrics(gw), "axonize_gateway_requests_in_flight") == 0))
        assert deadline
        after = metrics(gw)
        sent = total(after, "axonize_gateway_completion_tokens_total")
        assert read <= sent < 500  # what the client read, and what sat in its socket buffers
        assert total(after, "axonize_gateway_estimated_completion_tokens_total") == sent
        assert total(after, "axonize_gateway_upstream_errors_total", kind="client_disconnect") == 1
    finally:
        gw.stop()
        loop.run(fake.stop())


def test_a_client_leaving_at_done_has_had_the_whole_stream_and_is_counted_in_full(gateway):
    """A client that stops reading at ``data: [DONE]`` (as ``axonize bench`` and many SDKs do) may be gone before the
    gateway ends the response: the upstream (``linger``) ends its own a moment after [DONE]. The request is
    a 200 with the engine's usage, not a failure without tokens."""
    before = metrics(gateway)

    async def leave_at_done() -> bytes:
        got = b""
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{gateway.url}/v1/chat/completions", json=body("linger", True, 6, "q")) as r:
                async for line in r.content:
                    got += line
                    if line.strip() == b"data: [DONE]":
                        break
        return got

    got = asyncio.run(leave_at_done())
    assert got.count(b"q:") == 6
    assert asyncio.run(_wait_until(lambda: total(metrics(gateway), "axonize_gateway_requests_in_flight", model="linger") == 0))
    after = metrics(gateway)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, model="linger", **labels) - total(before, name, model="linger", **labels)

    assert delta("axonize_gateway_requests_total", status="200") == delta("axonize_gateway_requests_total") == 1
    assert delta("axonize_gateway_prompt_tokens_total") == PROMPT_TOKENS and delta("axonize_gateway_completion_tokens_total") == 6
    assert delta("axonize_gateway_estimated_completion_tokens_total") == 0
    assert delta("axonize_gateway_upstream_errors_total") == 0, {
        k: v for k, v in after["axonize_gateway_upstream_errors_total"].items() if v
    }


async def _wait_until(check, timeout: float = 10.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if await asyncio.to_thread(check):
            return True
        await asyncio.sleep(0.05)
    return False


def test_models_are_merged_from_the_upstreams_routed_models_only(gateway):
    async def get():
        async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/v1/models") as r:
            return r.status, await r.json()

    status, answer = asyncio.run(get())
    assert status == 200 and [m["id"] for m in answer["data"]] == ["fast", "slow"]  # "down" is down; "unrouted" is not routed


def test_other_paths_are_refused_in_openai_shape(gateway):
    async def get():
        async with aiohttp.ClientSession() as session, session.post(f"{gateway.url}/v1/fine_tuning/jobs", json={}) as r:
            return r.status, await r.json()

    status, answer = asyncio.run(get())
    assert status == 404 and answer["error"]["code"] == "not_found" and "/v1/fine_tuning/jobs" in answer["error"]["message"]


def test_the_otel_genai_names_count_each_routed_request_and_the_engines_usage(loop, upstream):
    """--metrics.names otel: only gen_ai_* families; one duration per routed request with its error kind, tokens
    from the usage only (a cut stream adds 0), server_address/port of the upstream behind the gateway."""
    down = closed_port()
    gw = GatewayThread(loop, [Upstream(MODELS, upstream.url), Upstream(("down",), f"http://127.0.0.1:{down}")], ["--metrics.names", "otel"])
    try:
        sent = [body("fast", True, 6), body("fast", False, 4), body("fast", True, 3, stream_options={"include_usage": True})]
        for payload in sent:
            assert asyncio.run(post(gw.url, payload))[0] == 200
        assert asyncio.run(post(gw.url, body("down", False)))[0] == 502
        assert asyncio.run(post(gw.url, body("cut", True)))[0] == 200
        assert asyncio.run(post(gw.url, body("nonexistent", False)))[0] == 404  # refused before routing: no operation
        after = metrics(gw)
    finally:
        gw.stop()
    assert not any(name.startswith("axonize_") for name in after)
    port = upstream.url.rsplit(":", 1)[1]
    fast = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": "fast"}
    fast |= {"server_address": "127.0.0.1", "server_port": port}
    duration = "gen_ai_client_operation_duration_seconds_count"
    assert total(after, duration, error_type="", **fast) == 3
    assert total(after, duration, error_type="connect", gen_ai_request_model="down", server_port=str(down)) == 1
    assert total(after, duration, error_type="malformed", gen_ai_request_model="cut") == 1
    assert total(after, duration) == 5
    assert total(after, "gen_ai_server_time_to_first_token_seconds_count", **fast) == 2
    assert total(after, "gen_ai_server_time_to_first_token_seconds_count", gen_ai_request_model="cut", error_type="malformed") == 1
    assert total(after, "gen_ai_client_inference_usage_output_tokens_total", gen_ai_token_modality="unknown", **fast) == 6 + 4 + 3
    assert total(after, "gen_ai_client_inference_usage_input_tokens_total", **fast) == 3 * PROMPT_TOKENS
    assert total(after, "gen_ai_client_inference_usage_output_tokens_total", gen_ai_request_model="cut") == 0  # no usage: 0
    usage = "gen_ai_client_token_usage"
    assert total(after, f"{usage}_count", gen_ai_token_type="input", **fast) == 3
    assert total(after, f"{usage}_sum", gen_ai_token_type="output", **fast) == 13
    assert total(after, f"{usage}_bucket", gen_ai_token_type="output", le="4.0", **fast) == 2  # 4 and 3 tokens; 6 is above
    assert total(after, f"{usage}_count", gen_ai_request_model="cut") == 0
