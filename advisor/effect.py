"""The plan's expected effect in words, one wording for the terminal summary and the HTML/PDF report.

A plan that frees GPUs lowers the whole host's score as the recording rules record it (a free GPU is idle and
scores 0 until it gets work), though every GPU that still holds work scores better. So the headline is the
score of the GPUs in use (``Plan.in_use_before`` -> ``Plan.in_use_after``), and the whole-host score follows,
labelled as what Prometheus will record::

    GPUs in use score 68.2 (C) -> 77.9 (B)
    GPUs in use now 0, 2, 3, 4, 5, 6; after the plan 0, 1, 2, 3, 4 (their mean score, the recording rules' formula).
    Free after the plan: GPUs 5, 6 (freed by it), 7 (idle now): $17,323/month at list prices ...
    Net: 1 GPU more free than now, ~$5,774/month (GPU 1, idle now, takes work).
    Whole host as the recording rules record it: 51.2 (D) -> 48.7 (D) until GPUs 5, 6, 7 get work ...

Every figure is a field of :class:`~.model.Plan` (or a count of its GPU lists); nothing is computed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .model import Placement, Plan, Score, Workload
from .plan import keeps


@dataclass(frozen=True)
class Effect:
    """``headline``: one line; ``details``: sentences, in the order above (empty ones left out); ``summary``: the
    same in two sentences, for the report's verdict."""

    headline: str
    details: tuple[str, ...]
    summary: str = ""


def score_text(score: Score | None) -> str:
    """``68.2 (C)``; ``n/a`` without a score."""
    if score is None or math.isnan(score.score):
        return "n/a"
    return f"{score.score:.1f} ({score.grade})"


def money(dollars: float | None) -> str:
    """``11548.3`` -> ``"$11,548"``; ``7.91`` -> ``"$7.91"``; None -> ``""``."""
    if dollars is None or math.isnan(dollars):
        return ""
    return f"${dollars:,.0f}" if abs(dollars) >= 100 else f"${dollars:,.2f}"


def gpu_list(gpus: Sequence[int]) -> str:
    """``GPU 5`` or ``GPUs 5, 6, 7``."""
    return ("GPU " if len(gpus) == 1 else "GPUs ") + ", ".join(map(str, gpus))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def describe(plan: Plan, gpus: Sequence[int]) -> Effect:
    """The effect of ``plan`` on a host whose GPUs (indexes) are ``gpus``."""
    available = list(plan.gpus_available)
    freed = [i for i in plan.gpus_freed if i in available]
    idle_kept = [i for i in available if i not in freed]
    in_use_after = [i for i in gpus if i not in available]
    in_use_now = sorted({i for i, _ in plan.in_use_before.per_gpu} if plan.in_use_before else set(in_use_after))
    idle_now = [i for i in gpus if i not in in_use_now]
    taken = [i for i in idle_now if i in in_use_after]
    headline = f"GPUs in use score {score_text(plan.in_use_before)} -> {score_text(plan.in_use_after)}"
    details = []
    if in_use_now != in_use_after:
        details.append(
            f"GPUs in use now {', '.join(map(str, in_use_now))}; after the plan {', '.join(map(str, in_use_after))}"
            " (the score above is their mean, by the recording rules' formula)."
        )
    else:
        details.append(
            f"The same GPUs hold work before and after ({', '.join(map(str, in_use_now))}); the score above is their mean,"
            " by the recording rules' formula."
        )
    if available:
        parts = []
        if freed:
            parts.append(f"{', '.join(map(str, freed))} (freed by it)")
        if idle_kept:
            parts.append(f"{', '.join(map(str, idle_kept))} (idle now)")
        price = f": {money(plan.dollars_per_month_available)}/month at list prices" if plan.dollars_per_month_available else ""
        details.append(
            f"Free after the plan: GPU{'s' * (len(available) > 1)} {', '.join(parts)}{price}; give"
            f" {'them' if len(available) > 1 else 'it'} other work or return {'them' if len(available) > 1 else 'it'}."
        )
    net = len(available) - len(idle_now)
    took = f"{gpu_list(taken)}, idle now, take{'s' * (len(taken) == 1)} work" if taken else ""
    saved = f", ~{money(plan.dollars_per_month_saved)}/month" if plan.dollars_per_month_saved else ""
    if net > 0:
        net_text = f"{_plural(net, 'GPU')} more free than now{saved}"
    elif net < 0:
        net_text = f"{_plural(-net, 'GPU')} fewer free than now"
    else:
        net_text = "as many GPUs free as now, no saving" if freed or taken else ""
    if net_text:
        details.append(f"Net: {net_text}" + (f" ({took})." if took else "."))
    whole = plan.before != plan.in_use_before or plan.after != plan.in_use_after
    if whole:
        until = f" until {gpu_list(available)} get{'s' * (len(available) == 1)} work (an idle GPU scores 0)" if available else ""
        details.append(f"Whole host as the recording rules record it: {score_text(plan.before)} -> {score_text(plan.after)}{until}.")
    summary = f"The plan below takes the score of the GPUs in use from {score_text(plan.in_use_before)} to {score_text(plan.in_use_after)}"
    if available:
        price = f" ({money(plan.dollars_per_month_available)}/month)" if plan.dollars_per_month_available else ""
        summary += f" and leaves {gpu_list(available)} free for other work or to return{price}"
    summary += "."
    if net_text:
        summary += f" Net, that is {net_text}" + (f": {took}." if took else ".")
    if whole:
        summary += (
            f" The whole host's score, as the recording rules record it, goes from {score_text(plan.before)} to {score_text(plan.after)}"
            + (" until the free GPUs get work, since an idle GPU scores 0." if available else ".")
        )
    return Effect(headline, tuple(details), summary)


def change(p: Placement, w: Workload | None) -> str:
    """What the placement ``p`` changes for its workload ``w`` (as it runs now): ``stays``, ``moves from GPUs 3, 5``,
    ``CPUs re-pinned to NUMA node 0``, ``moves from the whole GPU 6`` (to a MIG instance)."""
    if w is None:
        return ""
    if keeps(w, p):
        return "stays"
    now = ", ".join(map(str, w.gpus))
    if p.mig_profile is not None:
        return f"moves from the whole GPU {now}"
    if set(p.gpus) != set(w.gpus):
        return f"moves from GPU{'s' * (len(w.gpus) > 1)} {now}"
    return f"CPUs re-pinned to NUMA node {p.numa_node}" if p.numa_node is not None else "CPUs re-pinned"
