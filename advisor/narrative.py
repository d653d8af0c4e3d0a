"""The optional LLM narrative: the findings and plan explained in prose by an OpenAI-compatible chat endpoint.

``axonize advise --llm-endpoint URL --llm-model NAME`` sends the report's findings and plan to
``{URL}/v1/chat/completions`` (the user's own vLLM, TGI, SGLang, Ollama, llama.cpp server or a hosted API:
the user's choice) and adds the answer as a clearly labelled section. The rule-based report never depends
on it: every endpoint problem (unreachable, no answer within the timeout, an HTTP error, a body that is not
a chat completion, no text) gives ``(None, reason)`` and the report is rendered without the section.

What is sent (:func:`payload`, one system and one user message; nothing else about the host):

* the host's GPU count and models, the efficiency score and grade;
* each finding: kind, severity, title, explanation, GPU indexes, workload names, impact, $/month, and its
  evidence's ``what`` and ``value`` (not its ``source``, which may name capture files or Prometheus labels);
* the plan: each placement's workload, GPUs, MIG profile and NUMA node, the steps and their commands, the
  score and grade before and after, the GPUs freed, the $/month saved and what is out of scope.

Never sent: the hostname, the sources (capture paths, Prometheus URL), GPU UUIDs and serials, CPU lists,
process names or command lines, raw samples, and anything about other hosts.

The JSON is compact (no indentation: the H200 x8 scenario's 9 findings and plan are ~9,600 characters) with
dollars rounded to cents and scores to 0.1 (a host without a score sends null).

The request (OpenAI's chat completions API, which the servers above implement): ``temperature`` 0.2 (a
factual summary, not invention), ``max_tokens`` bounded (default 700: about 400 words). The answer is
``choices[0].message.content``; a leading ``<think>...</think>`` block (reasoning models served without a
reasoning parser) is dropped, and so are control characters (:data:`CONTROL`).
"""

from __future__ import annotations

import json
import math
import re

import requests

from axonize.advisor.model import Finding, Plan, Report, Score

TEMPERATURE = 0.2
MAX_TOKENS = 700

#: Control characters removed from the answer (all but tab and newline): an escape sequence printed to the
#: terminal could rewrite what the user sees, and the HTML/PDF have no use for them.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

SYSTEM_PROMPT = (
    "You explain a GPU server's efficiency diagnosis to an operator who is not a GPU expert. "
    "The user message is JSON from a rule-based advisor: the efficiency score (0-100) and grade, the findings "
    "(what is wrong, on which GPUs and workloads, the measured evidence and the estimated impact) and a placement "
    "plan (where each workload should run, the steps to get there, and the score before and after). "
    "Write at most 300 words of plain prose: first what is wrong and what it costs, most severe first; then what to "
    "do first and the expected gain. Use only facts and numbers from the JSON; do not invent figures, GPUs or "
    "commands. Refer to GPUs by their index and to workloads by name. No tables, no JSON."
)


def chat_url(endpoint: str) -> str:
    """``{endpoint}/v1/chat/completions``; an endpoint given with its ``/v1`` (as OpenAI clients take it) works too."""
    base = endpoint.rstrip("/")
    return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def payload(report: Report) -> dict:
    """The JSON document sent as the user message (see the module docstring for what is and is not in it)."""
    models = sorted({g.model for g in report.host.gpus})
    return {
        "host": {"gpus": len(report.host.gpus), "gpu_models": models},
        "score": _score(report.score),
        "findings": [_finding(f) for f in report.findings],
        "plan": _plan(report.plan) if report.plan is not None else None,
    }


def narrate(
    report: Report, endpoint: str, model: str, timeout_s: float = 30.0, *, max_tokens: int = MAX_TOKENS
) -> tuple[str | None, str | None]:
    """Ask the chat endpoint at ``endpoint`` (served model ``model``) to explain ``report``'s findings and plan.

    ``timeout_s``: seconds to connect, and between bytes of the answer (requests' timeout);
    ``max_tokens``: the longest answer asked for, in tokens. Returns ``(text, None)`` with the answer's
    text, or ``(None, reason)`` naming the URL and what went wrong; never raises for endpoint problems.
    """
    url = chat_url(endpoint)
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps(payload(report), separators=(",", ":"))},
        ],
        "temperature": TEMPERATURE,
        "max_tokens": max_tokens,
        "stream": False,
    }
    try:
        r = requests.post(url, json=body, timeout=timeout_s)
        answer = r.text
    except requests.Timeout:
        return None, f"the LLM endpoint {url} did not answer within {timeout_s:g} s"
    except (requests.RequestException, ValueError, OSError) as exc:  # ValueError: a URL requests cannot use
        return None, f"the LLM endpoint {url} could not be reached: {exc}"
    if r.status_code != 200:
        return None, f"the LLM endpoint {url} answered HTTP {r.status_code}: {_excerpt(answer)}"
    try:
        doc = json.loads(answer)
    except ValueError:
        return None, f"the LLM endpoint {url} answered HTTP 200 with a body that is not JSON: {_excerpt(answer)}"
    text = _content(doc)
    if text is None:
        return None, f"the LLM endpoint {url} answered no chat completion (no choices[0].message.content): {_excerpt(answer)}"
    text = CONTROL.sub("", re.sub(r"^\s*<think>.*?</think>", "", text, flags=re.DOTALL)).strip()
    if not text:
        return None, f"the LLM endpoint {url} answered an empty text"
    return text, None


def _content(doc: object) -> str | None:
    """``choices[0].message.content`` when it is a string, else None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list) or not doc["choices"]:
        return None
    choice = doc["choices"][0]
    message = choice.get("message") if isinstance(choice, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else None


def _excerpt(text: str, limit: int = 200) -> str:
    one_line = " ".join(text.split())
    return repr(one_line[:limit] + ("..." if len(one_line) > limit else ""))


def _score(score: Score) -> dict:
    return {"score": None if math.isnan(score.score) else round(score.score, 1), "grade": score.grade}


def _dollars(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 2)


def _finding(f: Finding) -> dict:
    return {
        "kind": f.kind,
        "severity": f.severity,
        "title": f.title,
        "explanation": f.explanation,
        "gpus": list(f.gpus),
        "workloads": list(f.workloads),
        "evidence": [{"what": e.what, "value": e.value} for e in f.evidence],
        "impact": f.impact,
        "dollars_per_month": _dollars(f.dollars_per_month),
    }


def _plan(plan: Plan) -> dict:
    return {
        "placements": [
            {"workload": p.workload, "gpus": list(p.gpus), "mig_profile": p.mig_profile, "numa_node": p.numa_node} for p in plan.placements
        ],
        "steps": [{"description": s.description, "command": s.command} for s in plan.steps],
        "before": _score(plan.before),
        "after": _score(plan.after),
        "gpus_freed": list(plan.gpus_freed),
        "dollars_per_month_saved": _dollars(plan.dollars_per_month_saved),
        "out_of_scope": list(plan.out_of_scope),
    }
