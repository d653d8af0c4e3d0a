"""One request to an OpenAI-compatible server, timed as the client sees it (aiohttp).

:func:`send` posts a :class:`~.workload.Request` to ``/v1/completions`` or ``/v1/chat/completions`` and returns
a :class:`Result`. Streamed (the default), it reads the server-sent events chunk by chunk: the time to the
first chunk carrying text is the TTFT, the gaps between later text chunks the inter-token latencies (ITL;
vLLM sends one token a chunk), the time to the end of the stream the end-to-end latency. Token counts are the
server's own ``usage`` (asked with ``stream_options.include_usage``); a server that sends none leaves the
prompt length asked and the text chunks counted. Not streamed, TTFT is the whole latency and there are no ITLs.

Timings are ``time.perf_counter()`` seconds. A request fails (``error`` set, never raised) on a connection
error, a timeout, a non-200 answer (the status and the start of the body) or a body that is not what the
API returns.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import aiohttp

from .workload import Request

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
ENDPOINTS = (COMPLETIONS, CHAT)


@dataclass
class Result:
    """What one request measured: seconds (``start`` on the perf_counter clock), tokens, and the error if any.

    ``status`` is the HTTP status (None without an answer); ``usage`` whether the token counts are the
    server's ``usage``."""

    index: int
    start: float = 0.0
    ttft: float = 0.0
    latency: float = 0.0
    itl: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    output_tokens: int = 0
    status: int | None = None
    usage: bool = False
    error: str = ""

    @property
    def success(self) -> bool:
        return not self.error


def body(request: Request, endpoint: str, model: str, stream: bool, ignore_eos: bool) -> dict:
    """The JSON body: ``max_tokens`` as asked; with ``ignore_eos``, vLLM's ``ignore_eos`` and ``min_tokens``
    so the output has exactly that length; streamed with ``stream_options.include_usage``."""
    out: dict = {"model": model, "max_tokens": request.max_tokens, "stream": stream}
    if endpoint == CHAT:
        prompt = request.prompt if isinstance(request.prompt, str) else " ".join(map(str, request.prompt))
        out["messages"] = [{"role": "user", "content": prompt}]
    else:
        out["prompt"] = request.prompt
    if stream:
        out["stream_options"] = {"include_usage": True}
    if ignore_eos:
        out["ignore_eos"] = True
        out["min_tokens"] = request.max_tokens
    return out


def _text(chunk: dict) -> str:
    """The text a streamed chunk carries ("" for a usage-only or role-only chunk)."""
    texts = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta")
        texts.append((delta.get("content") or "") if isinstance(delta, dict) else (choice.get("text") or ""))
    return "".join(texts)


def _usage(result: Result, usage: object) -> None:
    if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
        result.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        result.output_tokens = usage["completion_tokens"]
        result.usage = True


async def send(
    session: aiohttp.ClientSession,
    url: str,
    request: Request,
    *,
    endpoint: str,
    model: str,
    stream: bool = True,
    ignore_eos: bool = True,
    timeout_s: float = 600.0,
) -> Result:
    """Post ``request`` to ``url + endpoint`` and time it; never raises (a failure sets ``Result.error``)."""
    result = Result(request.index)
    result.start = time.perf_counter()
    try:
        await asyncio.wait_for(_exchange(session, url + endpoint, request, endpoint, model, stream, ignore_eos, result), timeout_s)
    except TimeoutError:
        result.error = f"timeout after {timeout_s:g} s"
    except aiohttp.ClientError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    except (ValueError, KeyError, TypeError) as exc:
        result.error = f"unexpected answer: {exc}"
    result.latency = time.perf_counter() - result.start
    if not result.error and not stream:
        result.ttft = result.latency
    if not result.usage:
        result.prompt_tokens = request.prompt_len or 0
    return result


async def _exchange(session, url, request, endpoint, model, stream, ignore_eos, result: Result) -> None:
    async with session.post(url, json=body(request, endpoint, model, stream, ignore_eos)) as response:
        result.status = response.status
        if response.status != 200:
            text = (await response.text())[:200].replace("\n", " ")
            result.error = f"HTTP {response.status}: {text}"
            return
        if not stream:
            answer = await response.json(content_type=None)
            if not isinstance(answer, dict) or "choices" not in answer:
                raise ValueError("no 'choices' in the answer")
            _usage(result, answer.get("usage"))
            if not result.usage:
                result.output_tokens = 1
            return
        last = None
        chunks = 0
        async for raw in response.content:
            line = raw.strip()
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            chunk = json.loads(data)
            if not isinstance(chunk, dict):
                raise ValueError(f"an event that is not a JSON object: {data[:80]!r}")
            if chunk.get("error"):
                result.error = f"error in the stream: {json.dumps(chunk['error'])[:200]}"
                return
            _usage(result, chunk.get("usage"))
            if _text(chunk):
                now = time.perf_counter()
                if last is None:
                    result.ttft = now - result.start
                else:
                    result.itl.append(now - last)
                last = now
                chunks += 1
        if last is None:
            raise ValueError("the stream carried no text")
        if not result.usage:
            result.output_tokens = chunks


__all__ = ["CHAT", "COMPLETIONS", "ENDPOINTS", "Result", "body", "send"]
