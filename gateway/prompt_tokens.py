"""The prompt tokens of a stream cut before its usage chunk, asked of the engine's ``POST /tokenize``.

A stream the client leaves (or the upstream breaks) never brings the engine's ``usage``: its completion
tokens are counted from the chunks sent (:mod:`.streaming`), but its prompt was prefilled and paid for all
the same. vLLM serves ``POST /tokenize`` (its OpenAI-compatible server; SGLang and llama.cpp's server have
endpoints of their own shapes): the same chat template and special-token defaults as the completion
endpoints, so its ``count`` is the ``prompt_tokens`` the usage would have said::

    POST /tokenize {"model": "tinyllama", "prompt": "Once upon a time"}                -> {"count": 5, "tokens": [...], ...}
    POST /tokenize {"model": "tinyllama", "messages": [...], "add_generation_prompt": true} -> {"count": 23, ...}

The request carries the completion request's prompt (or messages) and the options that change its tokens
(:data:`CHAT_OPTIONS`). A prompt given as token ids is counted without asking. An upstream that answers
404 or 405 has no such endpoint and is not asked again for :data:`ABSENT_RETRY_SECONDS` (10 minutes), then asked
once more: an engine restarting behind its address, or upgraded in a rolling upgrade to a version that serves
``/tokenize``, is counted again within that time. Any other failure (timeout :data:`TIMEOUT_SECONDS`,
an answer without ``count``) leaves that request's prompt uncounted (0, ``prompt_source`` ``none`` in its record).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aiohttp

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
ABSENT_RETRY_SECONDS = 600.0
"""Seconds an upstream that answered ``/tokenize`` with 404 or 405 is not asked again (then it is, once)."""
CHAT_OPTIONS = (
    "add_generation_prompt",
    "continue_final_message",
    "add_special_tokens",
    "chat_template",
    "chat_template_kwargs",
    "tools",
    "mm_processor_kwargs",
)
"""Chat request keys that change the prompt's tokens, passed on to ``/tokenize`` as the client sent them (vLLM's names)."""


def tokenize_request(endpoint: str, body: dict) -> dict | int | None:
    """What to ask ``/tokenize`` for ``body`` (a JSON object), the count itself when the prompt is token ids, or None
    when the prompt cannot be asked (a batch of prompts, an endpoint without a prompt)."""
    model = body.get("model")
    if endpoint == "/v1/chat/completions" and isinstance(body.get("messages"), list):
        return {"model": model, "messages": body["messages"], **{k: body[k] for k in CHAT_OPTIONS if k in body}}
    if endpoint == "/v1/completions":
        prompt = body.get("prompt")
        if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
            return len(prompt)
        if isinstance(prompt, str):
            return {
                "model": model,
                "prompt": prompt,
                **({"add_special_tokens": body["add_special_tokens"]} if "add_special_tokens" in body else {}),
            }
    return None


class PromptCounter:
    """Counts cut streams' prompts at their upstream's ``/tokenize``; remembers the upstreams that have none.

    ``absent``: base URL -> ``clock()`` seconds when it answered 404 or 405; it is not asked again before
    :data:`ABSENT_RETRY_SECONDS` have passed. ``clock`` is :func:`time.monotonic` unless a test gives its own.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.absent: dict[str, float] = {}
        self.clock = clock
        self._timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)

    async def count(self, session: aiohttp.ClientSession, url: str, headers: dict, endpoint: str, body: dict) -> int | None:
        """Prompt tokens of ``body`` sent to the upstream at ``url`` (base URL), or None when they cannot be had."""
        asked = tokenize_request(endpoint, body)
        if asked is None or isinstance(asked, int):
            return asked
        since = self.absent.get(url)
        if since is not None:
            if self.clock() - since < ABSENT_RETRY_SECONDS:
                return None
            del self.absent[url]  # asked again: it may have /tokenize now
        try:
            async with session.post(f"{url}/tokenize", json=asked, headers=headers, timeout=self._timeout) as answer:
                if answer.status in (404, 405):
                    self.absent[url] = self.clock()
                    log.info(
                        "%s has no POST /tokenize: the prompts of streams cut before their usage are not counted (asked again in %g s)",
                        url,
                        ABSENT_RETRY_SECONDS,
                    )
                    return None
                count = (await answer.json(content_type=None)).get("count") if answer.status == 200 else None
        except (TimeoutError, aiohttp.ClientError, ValueError, AttributeError) as exc:
            log.warning("POST %s/tokenize failed: %s: %s", url, type(exc).__name__, exc)
            return None
        return count if isinstance(count, int) and count >= 0 else None
