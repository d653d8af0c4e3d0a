"""Identity, the customer cap, the usage log, SSE cutting, /tokenize's absence and the CLI's configuration errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import aiohttp
import pytest
from aiohttp import web

from axonize.gateway.identity import HASH_HEX, Identities
from axonize.gateway.metering import Metering
from axonize.gateway.prompt_tokens import ABSENT_RETRY_SECONDS, PromptCounter
from axonize.gateway.streaming import Events, parse_event, plain_tokens, with_usage
from axonize.gateway.usage_log import FIELDS, UsageLog


def test_identity_is_a_salted_hash_prefix_named_by_the_mapping():
    plain = Identities(b"s1")
    digest = plain.key_hash("sk-1")
    assert len(digest) == HASH_HEX and digest != Identities(b"s2").key_hash("sk-1")
    named = Identities(b"s1", {digest: "acme"}, header="X-Customer", require_known=True)
    assert named.identify({"Authorization": "Bearer sk-1"}).customer == "acme"
    assert named.identify({"Authorization": "Bearer sk-2"}) is None  # unknown key: 401
    assert named.identify({}) is None
    assert named.identify({"X-Customer": "team-a", "Authorization": "Bearer sk-2"}).customer == "team-a"
    unknown = plain.identify({"Authorization": "Bearer sk-2"})
    assert unknown.customer == unknown.key_hash == plain.key_hash("sk-2") and "sk-2" not in repr(unknown)
    assert plain.identify({}).customer == "anonymous"


def test_customers_beyond_the_cap_fold_into_other_and_are_counted():
    m = Metering(max_customers=2, named={"acme"})
    assert [m.customer(c) for c in ("a", "b", "acme", "c", "a", "d")] == ["a", "b", "acme", "other", "a", "other"]
    assert m.folded._value.get() == 2


def test_named_customers_token_series_start_at_zero_on_every_configured_model():
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    m = Metering(named={"acme", "globex"}, models=("m1", "m2"))
    m.finished(m.customer("3fa2b9c01d4e5f67"), "m1", "/v1/completions", 200, 5, 7, False, 0.1, 0.001)
    tokens = {
        (s.name, s.labels["customer"], s.labels["model"]): s.value
        for f in text_string_to_metric_families(generate_latest(m.registry).decode())
        for s in f.samples
        if s.name in ("axonize_gateway_prompt_tokens_total", "axonize_gateway_completion_tokens_total")
    }
    zeros = {
        (f"axonize_gateway_{k}_tokens_total", c, model): 0.0
        for k in ("prompt", "completion")
        for c in ("acme", "globex")
        for model in ("m1", "m2")
    }
    # an unnamed customer's series appear with its first request (its tokens: 5 prompt, 7 completion)
    assert tokens == zeros | {
        ("axonize_gateway_prompt_tokens_total", "3fa2b9c01d4e5f67", "m1"): 5.0,
        ("axonize_gateway_completion_tokens_total", "3fa2b9c01d4e5f67", "m1"): 7.0,
    }


def test_events_are_cut_at_blank_lines_across_reads_and_read_for_tokens_and_usage():
    e = Events()
    assert e.feed(b'data: {"choices": [{"delta": {"content": "a"}}]}\n') == []
    first, second = e.feed(b'\ndata: {"choices": [], "usage": {"prompt_tokens": 3}}\r\n\r\ndata: [DO')
    assert parse_event(first).tokens == 1 and first.endswith(b"}}]}\n\n")
    assert parse_event(second).usage == {"prompt_tokens": 3} and second.endswith(b"\r\n\r\n")
    assert e.pending == b"data: [DO"
    assert parse_event(b'data: {"choices": [], "usage": {"prompt_tokens": 3}}\r\n\r\n').usage_only
    assert parse_event(b"data: [DONE]\n\n").kind == "done"
    assert parse_event(b"data: nope\n\n").kind == "malformed"
    assert parse_event(b": keep-alive\n\n").kind == "other"
    assert with_usage({"stream_options": {"include_usage": True}})[1] is True
    assert with_usage({"stream_options": {"continuous_usage_stats": False}}) == (
        {"stream_options": {"continuous_usage_stats": False, "include_usage": True}},
        False,
    )


# Events as vLLM 0.32 writes them (chat and completions, logprobs on), and the shapes a plain-chunk reader must not misread.
VLLM_CHAT = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":" the"},"logprobs":{"content":[{"token":" the","logprob":-0.1,"top_logprobs":[]}]},"finish_reason":null}]}\n\n'
PLAIN = [
    VLLM_CHAT,
    b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" fox","logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"say \\"content\\": \\"x\\""},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hm"}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}],"usage":null}\n\n',
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n',
    # vLLM's reasoning parsers: reasoning_content with and without content in one delta, one token per choice
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"so","content":"Yes"},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hm","content":null},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hm","content":""},"finish_reason":null}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"a","reasoning":"b","tool_calls":[{"index":0}]}}]}\n\n',
    # n > 1 choices: one with reasoning and content, one with content, one without
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"x","content":"y"}},{"index":1,"delta":{"content":"z"}},'
    b'{"index":2,"delta":{}}]}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"x"}},{"index":1,"delta":{"reasoning_content":"y"}}]}\n\n',
]


@pytest.mark.parametrize("raw", PLAIN)
def test_a_plain_chunk_counts_the_tokens_the_json_parse_counts(raw):
    assert parse_event(raw).kind == "data"
    assert plain_tokens(raw) == parse_event(raw).tokens


@pytest.mark.parametrize(
    "raw",
    [
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n',  # the usage chunk: read in full
        b'data: {"error":{"message":"engine died"}}\n\n',
        b"data: [DONE]\n\n",
        b"data: {not json\n\n",
        b'data: {"a":\ndata: 1}\n\n',  # two data lines make one payload
        b": keep-alive\n\n",
        b'data: {"choices":[]}\r\n\r\n',
    ],
)
def test_anything_but_a_plain_chunk_is_left_to_the_json_parse(raw):
    assert plain_tokens(raw) == -1


def test_an_upstream_without_tokenize_is_asked_again_after_the_retry_interval():
    """404 at first (an engine restarting, or before its upgrade): not asked again before ABSENT_RETRY_SECONDS of the
    counter's clock, asked once then; when it serves /tokenize by then its count is used and it is absent no more."""
    now = [1000.0]
    asked: list[dict] = []
    serving = [False]

    async def tokenize(request: web.Request) -> web.Response:
        asked.append(await request.json())
        return web.json_response({"count": 5}) if serving[0] else web.json_response({"detail": "Not Found"}, status=404)

    async def scenario() -> list:
        app = web.Application()
        app.router.add_post("/tokenize", tokenize)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        counter = PromptCounter(clock=lambda: now[0])
        chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        seen = []
        try:
            async with aiohttp.ClientSession() as session:

                async def count():
                    seen.append((await counter.count(session, url, {}, "/v1/chat/completions", chat), len(asked), url in counter.absent))

                await count()  # 404: absent
                serving[0] = True  # the upgraded engine serves it now
                now[0] += ABSENT_RETRY_SECONDS - 1
                await count()  # still within the interval: not asked
                now[0] += 1
                await count()  # asked again: counted
                await count()  # and asked every time since
        finally:
            await runner.cleanup()
        return seen

    assert asyncio.run(scenario()) == [(None, 1, True), (None, 1, True), (5, 2, False), (5, 3, False)]
    assert ABSENT_RETRY_SECONDS == 600


def test_stream_gaps_are_binned_as_prometheus_client_bins_them():
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    m = Metering(models=("m",))
    times = [0.0, 0.01, 0.03, 0.5, 3.5, 3.5, 3.6]
    m.streamed("m", 0.1, times)
    registry = CollectorRegistry()
    plain = Histogram("axonize_gateway_inter_chunk_latency_seconds", "x", ["model"], registry=registry, buckets=m.inter_chunk.bounds)
    for a, b in zip(times, times[1:]):
        plain.labels("m").observe(b - a)

    def lines(text: bytes) -> list[str]:
        return [line for line in text.decode().splitlines() if line.startswith("axonize_gateway_inter_chunk") and "_created" not in line]

    assert lines(generate_latest(m.registry)) == lines(generate_latest(registry)) and len(lines(generate_latest(registry))) == 16


def test_the_usage_log_writes_every_record_and_rotates_by_size(tmp_path):
    path = tmp_path / "usage.jsonl"
    log = UsageLog(str(path), max_bytes=2000, backups=3)
    log.start()
    records = [{f: i if f == "prompt_tokens" else "x" for f in FIELDS} for i in range(40)]
    for r in records:
        log.record(r)
    log.stop()
    files = sorted(tmp_path.glob("usage.jsonl*"), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    lines = [json.loads(line) for p in files for line in p.read_text().splitlines()]
    assert len(files) == 4 and all(p.stat().st_size <= 2000 for p in files)
    assert [r["prompt_tokens"] for r in lines] == list(range(40 - len(lines), 40))  # the newest, in order; older ones rotated away


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "no upstreams"),
        (["--upstream", "tinyllama"], "not MODEL=URL"),
        (["--upstream", "m=ftp://x"], "not an http(s) URL"),
        (["--upstream", "m=http://a:1", "--upstream", "m=http://b:1"], "routed to both"),
        (["--upstream", "m=http://a:1", "--identity.customers", "zz=acme"], "not a key hash"),
        (["--upstream", "m=http://a:1", "--identity.salt-file", "/nonexistent/salt"], "identity.salt_file /nonexistent/salt"),
        (["--upstream", "m=http://a:1", "--metrics.names", "prometheus"], "'axonize', 'otel' or 'both'"),
    ],
)
def test_bad_configuration_exits_2_naming_the_problem(argv, message):
    out = subprocess.run([sys.executable, "-m", "axonize.gateway", *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and message in out.stderr, out.stderr


def test_a_bad_config_file_names_its_line(tmp_path):
    config = tmp_path / "gateway.yml"
    config.write_text("upstreams:\n  - m=http://a:1\nusage_log:\n  backups: -1\n")
    out = subprocess.run([sys.executable, "-m", "axonize.gateway", "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "gateway.yml:4" in out.stderr and "usage_log.backups" in out.stderr, out.stderr
