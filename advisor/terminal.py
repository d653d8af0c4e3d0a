"""The terminal summary of a :class:`~.model.Report`: host, score and grade, top findings, the plan.

Plain text (no colour, no box drawing), every line at most :data:`WIDTH` columns, so it reads the same in a
terminal, a CI log or an e-mail. The most urgent findings come first (severity, then $/month); the full list
is in ``--json``/``--html``. Shape::

    h200-node: 8x NVIDIA H200, 2 NUMA nodes, 5 workloads
    Efficiency score 48.5/100, grade D (serious waste)          $63.28/h, $46,194/month
    ...
    Findings (9, top 6)
     1. critical  training-01 runs over SYS between GPUs 3 and 5 ...              ~$11,548/month
        <explanation, wrapped>
        evidence: GPU 3 - GPU 5 path = SYS (topo-m.txt)
    Plan: grade D -> B (48.5 -> 81.2), frees GPUs 1, 7, saves ~$11,548/month
     1. Move training-01 to GPUs 6, 7 ...
          $ CUDA_VISIBLE_DEVICES=6,7 numactl --cpunodebind=1 ...
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter

from . import effect
from .effect import money
from .model import SEVERITIES, Finding, Report

#: Columns of the longest line.
WIDTH = 100
#: Findings shown (the rest are counted; --json and --html have them all).
TOP_FINDINGS = 5
#: Evidence lines shown per finding.
TOP_EVIDENCE = 2
#: Hours in a month for the $/month of the host's hourly cost (730: 8,760 h a year / 12).
HOURS_PER_MONTH = 730.0
GRADE_WORDS = {"A": "running optimally", "B": "good, room to improve", "C": "inefficient", "D": "serious waste", "F": "critical waste"}


def score_text(score: float) -> str:
    return "n/a" if score is None or math.isnan(score) else f"{score:.1f}"


def urgency(f: Finding) -> tuple[int, float]:
    """Sort key: severity first (critical, warning, info), then the larger $/month."""
    rank = SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES)
    return rank, -(f.dollars_per_month or 0.0)


def _wrap(text: str, indent: int, first: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=" " * indent + first,
        subsequent_indent=" " * (indent + len(first)),
        break_on_hyphens=False,
        break_long_words=True,
    )


def _right(left: str, right: str) -> list[str]:
    """``left`` with ``right`` flush at column WIDTH when both fit on one line, else two lines."""
    if not right:
        return [left]
    if len(left) + 2 + len(right) <= WIDTH:
        return [left + " " * (WIDTH - len(left) - len(right)) + right]
    return [left, " " * (WIDTH - len(right)) + right]


def render(report: Report) -> str:
    """The summary as text (lines of at most :data:`WIDTH` columns, ending with a newline)."""
    host = report.host
    models = Counter(g.model for g in host.gpus)
    gpus = ", ".join(f"{n}x {m}" for m, n in models.items())
    lines = _wrap(
        f"{host.hostname}: {gpus}, {len(host.numa_nodes)} NUMA node{'s' * (len(host.numa_nodes) != 1)}, "
        f"{len(host.workloads)} workload{'s' * (len(host.workloads) != 1)}",
        0,
    )
    lines += _wrap("from " + "; ".join(host.sources), 2) if host.sources else []
    hourly = [g.price_dollars_per_hour for g in host.gpus if g.price_dollars_per_hour is not None]
    cost = f"{money(sum(hourly))}/h, {money(sum(hourly) * HOURS_PER_MONTH)}/month" if hourly else ""
    grade = report.score.grade or "none"
    words = GRADE_WORDS.get(report.score.grade, "")
    lines += [""] + _right(f"Efficiency score {score_text(report.score.score)}/100, grade {grade}" + (f" ({words})" if words else ""), cost)
    if report.score.per_gpu:
        lines += _wrap("  ".join(f"GPU {i} {v:.0f}" for i, v in report.score.per_gpu), 2, "per GPU: ")
    lines += [""] + findings_lines(report) + [""] + plan_lines(report)
    if report.narrative:
        lines += ["", "LLM narrative (machine-generated, check it against the findings above):"]
        for para in report.narrative.split("\n"):
            lines += _wrap(para, 2) if para.strip() else [""]
    elif report.narrative_error:
        lines += ["", *_wrap(f"LLM narrative: none ({report.narrative_error})", 0)]
    for note in report.notes:
        lines += _wrap(note, 0, "note: ")
    return "\n".join(line.rstrip() for line in lines) + "\n"


def findings_lines(report: Report) -> list[str]:
    ranked = sorted(report.findings, key=urgency)
    if not ranked:
        return ["Findings: none. Nothing to fix on this host by the advisor's rules."]
    shown = ranked[:TOP_FINDINGS]
    total = sum(f.dollars_per_month or 0.0 for f in ranked)
    head = f"Findings ({len(ranked)}" + (f", top {len(shown)}" if len(shown) < len(ranked) else "") + ")"
    lines = _right(head, f"~{money(total)}/month priced (findings may overlap)" if total else "")
    for n, f in enumerate(shown, 1):
        price = f"~{money(f.dollars_per_month)}/month" if f.dollars_per_month else ""
        title = _wrap(f"{f.severity:8}  {f.title}", 1, f"{n}. ")
        if price and len(title[-1]) + 2 + len(price) <= WIDTH:
            title[-1] += " " * (WIDTH - len(title[-1]) - len(price)) + price
        elif price:
            title.append(" " * (WIDTH - len(price)) + price)
        lines += title
        lines += _wrap(f.explanation, 4)
        if f.impact:
            lines += _wrap(f.impact, 4, "impact: ")
        for e in f.evidence[:TOP_EVIDENCE]:
            lines += _wrap(f"{e.what} = {e.value}  ({e.source})", 4, "evidence: ")
        if len(f.evidence) > TOP_EVIDENCE:
            lines.append(f"    ... {len(f.evidence) - TOP_EVIDENCE} more in --json/--html")
    if len(ranked) > len(shown):
        rest = Counter(f.severity for f in ranked[len(shown) :])
        counts = ", ".join(f"{n} {s}" for s, n in rest.items())
        lines += _wrap(f"and {len(ranked) - len(shown)} more ({counts}): see --json or --html", 1)
    return lines


def plan_lines(report: Report) -> list[str]:
    plan = report.plan
    if plan is None:
        return ["Plan: none (no placement would do better by the advisor's rules)."]
    said = effect.describe(plan, [g.index for g in report.host.gpus])
    lines = _wrap(f"Plan: {said.headline}", 0)
    for sentence in said.details:
        lines += _wrap(sentence, 2)
    workloads = {w.name: w for w in report.host.workloads}
    for p in plan.placements:
        where = f"MIG {p.mig_profile} on GPU {p.gpus[0]}" if p.mig_profile and p.gpus else effect.gpu_list(p.gpus)
        node = f", NUMA node {p.numa_node}" if p.numa_node is not None else ""
        what = effect.change(p, workloads.get(p.workload))
        lines += _wrap(f"{p.workload} -> {where}{node}" + (f" ({what})" if what else ""), 2, "- ")
    for n, step in enumerate(plan.steps, 1):
        lines += _wrap(step.description, 1, f"{n}. ")
        for command in step.command.splitlines():
            lines += command_lines(command, 6)
    for item in plan.out_of_scope:
        lines += _wrap(item, 0, "out of scope: ")
    return lines


def command_lines(command: str, indent: int) -> list[str]:
    """A shell command at ``indent`` as ``$ ...`` lines, continued with `` \\`` so it still pastes as one."""
    words, lines, line = command.split(" "), [], " " * indent + "$"
    for word in words:
        if len(line) + 1 + len(word) > WIDTH - 2 and line.strip() != "$":
            lines.append(line + " \\")
            line = " " * (indent + 4) + word
        else:
            line += " " + word
    return lines + [line]
