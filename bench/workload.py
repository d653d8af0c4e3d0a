"""What ``axonize bench`` sends: one :class:`Request` per prompt, its input and output lengths in tokens.

Lengths come from a distribution (:func:`lengths`, seeded) or, for prompts, from a dataset file
(:func:`from_dataset`, JSON lines). A synthetic prompt is a list of token ids (:func:`synthetic`), which the
OpenAI completions API accepts as ``prompt`` (an array of tokens), so the engine sees exactly the asked
input length whatever its tokenizer; for the chat endpoint, which takes text only, it is words that
tokenizers split into about one token each, and the engine's ``usage`` says what it counted. The output
length is ``max_tokens``; with ``ignore_eos`` and ``min_tokens`` (vLLM's extensions) every request generates
exactly that many.

Distributions (``--input-len``, ``--output-len``), lengths in tokens, never below 1:

* ``fixed:N`` (or just ``N``): always N;
* ``uniform:LOW:HIGH``: integers from LOW to HIGH inclusive;
* ``normal:MEAN:STDDEV``: rounded to the nearest integer.

Errors are :class:`WorkloadError` naming the flag, file and line.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

#: Token ids a synthetic prompt draws from: below 1000 every tokenizer has them; above 100, past the special
#: tokens (bos, eos, unk, pad) most vocabularies put first.
TOKEN_IDS = (100, 1000)

#: Words of a synthetic chat prompt: common English words most tokenizers keep as one token each.
WORDS = ("time", "year", "people", "way", "day", "man", "thing", "woman", "life", "child", "world", "school")


class WorkloadError(ValueError):
    """A bad distribution, dataset file or line; the message names it."""


@dataclass(frozen=True)
class Request:
    """One request: ``prompt`` (token ids or text), ``prompt_len`` (tokens asked; None for a dataset's text),
    ``max_tokens`` (the output length asked, tokens)."""

    index: int
    prompt: str | list[int]
    prompt_len: int | None
    max_tokens: int


def lengths(spec: str, n: int, rng: random.Random, flag: str = "length") -> list[int]:
    """``n`` lengths (tokens, each >= 1) drawn from ``spec`` (see the module docstring) with ``rng``."""
    parts = spec.split(":")
    kind, args = ("fixed", parts) if len(parts) == 1 else (parts[0], parts[1:])
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise WorkloadError(f"{flag}: {spec!r} is not fixed:N, uniform:LOW:HIGH or normal:MEAN:STDDEV") from None
    if kind == "fixed" and len(values) == 1 and values[0] >= 1 and values[0] == int(values[0]):
        return [int(values[0])] * n
    if kind == "uniform" and len(values) == 2 and 1 <= values[0] <= values[1] and all(v == int(v) for v in values):
        return [rng.randint(int(values[0]), int(values[1])) for _ in range(n)]
    if kind == "normal" and len(values) == 2 and values[0] >= 1 and values[1] >= 0:
        return [max(1, round(rng.gauss(values[0], values[1]))) for _ in range(n)]
    raise WorkloadError(f"{flag}: {spec!r} is not fixed:N, uniform:LOW:HIGH (integers, 1 <= LOW <= HIGH) or normal:MEAN:STDDEV (MEAN >= 1)")


def synthetic(n: int, input_len: str, output_len: str, seed: int, as_text: bool = False) -> list[Request]:
    """``n`` requests with input and output lengths from the distributions; token-id prompts unless ``as_text``."""
    rng = random.Random(seed)
    ins = lengths(input_len, n, rng, "--input-len")
    outs = lengths(output_len, n, rng, "--output-len")
    out = []
    for i, (k, m) in enumerate(zip(ins, outs)):
        if as_text:
            prompt: str | list[int] = " ".join(rng.choice(WORDS) for _ in range(k))
        else:
            prompt = [rng.randrange(*TOKEN_IDS) for _ in range(k)]
        out.append(Request(i, prompt, k, m))
    return out


def from_dataset(path: str, n: int, output_len: str, seed: int) -> list[Request]:
    """``n`` requests from a JSON-lines file of ``{"prompt": "...", "max_tokens": N}`` (``max_tokens`` optional,
    else drawn from ``output_len``); the file's prompts are cycled when it has fewer than ``n``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkloadError(f"--dataset {path}: cannot read it: {exc}") from None
    rows: list[tuple[str, int | None]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise WorkloadError(f"{path}:{number}: not JSON: {exc.msg}") from None
        prompt = row.get("prompt") if isinstance(row, dict) else None
        if not isinstance(prompt, str) or not prompt:
            raise WorkloadError(f"{path}:{number}: needs a non-empty string 'prompt'")
        max_tokens = row.get("max_tokens")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
            raise WorkloadError(f"{path}:{number}: max_tokens must be an integer >= 1, got {max_tokens!r}")
        rows.append((prompt, max_tokens))
    if not rows:
        raise WorkloadError(f"--dataset {path}: no prompts in it")
    drawn = lengths(output_len, n, random.Random(seed), "--output-len")
    return [Request(i, rows[i % len(rows)][0], None, rows[i % len(rows)][1] or drawn[i]) for i in range(n)]


__all__ = ["Request", "TOKEN_IDS", "WorkloadError", "from_dataset", "lengths", "synthetic"]
