"""The advisor's report as one self-contained HTML page (also the source of the PDF, :mod:`.pdf`).

:func:`render_html` fills ``templates/report.html.j2`` (jinja2, autoescaped: a workload named ``<script>`` shows as
text) with the report and the charts of :mod:`.charts` as inline SVG. The page loads nothing: no script, no
external URL, its CSS inline; its Content-Security-Policy (``default-src 'none'``) makes a browser refuse, and
report, anything else. Sections: summary (host, score and grade, verdict, $/month), findings (evidence and
sources), the plan (placements, steps with commands, effect), the optional machine-generated narrative, and
the inputs and method (the score formula and grades from the bundle configuration).

    html = render_html(report)            # packaged bundle (weights, grades, hours per month)
    write_html(report, "advisor.html")    # ReportWriteError naming the path when it cannot be written
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import jinja2
from markupsafe import Markup

from axonize import bundle as bundle_config

from .. import effect
from ..model import SEVERITIES, Finding, Report, Score
from . import charts

#: What each grade means for an operator (the InfraLens document, "3.1 Resource Efficiency Score", grade table).
GRADE_MEANING = {
    "A": ("running optimally", "keep it as it is"),
    "B": ("good, with room to improve", "check the recommendations"),
    "C": ("inefficiency detected", "the bottlenecks below need attention"),
    "D": ("serious waste", "moving workloads is recommended now"),
    "F": ("critical waste", "urgent optimisation is needed"),
}


#: The score's components (``Score.components`` names) in plain words, for the score chart's caption.
COMPONENT_MEANING = {
    "utilization": "how busy the GPU is",
    "memory": "how much of its memory is used (the KV cache for engines that preallocate)",
    "gpu": "the two above combined",
    "numa": "whether its workloads' CPUs sit on the GPU's own CPU socket",
    "io": "whether its PCIe and NVLink connections run at full speed",
}


class ReportWriteError(OSError):
    """A report file that cannot be written; the message names the path and the reason."""


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("axonize.advisor.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(report: Report, config: bundle_config.Bundle | None = None) -> str:
    """The report as one HTML page (UTF-8 text). ``config``: the bundle whose weights, grades and hours per
    month the score used (default: the packaged axonize/bundle.yml); the method section quotes them."""
    config = config or bundle_config.load()
    grades = [(letter, float(low)) for letter, low in config.grades]
    hours = float(config.hours_per_month)
    by_name = {w.name: w for w in report.host.workloads}
    context = {
        "r": report,
        "host": report.host,
        "plan": report.plan,
        "grades": grades,
        "meaning": GRADE_MEANING,
        "verdict": verdict(report),
        "facts": host_facts(report),
        "counts": Counter(f.severity for f in report.findings),
        "severities": SEVERITIES,
        "findings": sorted(report.findings, key=_urgency),
        "components": [(c, COMPONENT_MEANING.get(c, c)) for c in dict.fromkeys(name for _, name, _ in report.score.components)],
        "findings_dollars": _sum(f.dollars_per_month for f in report.findings),
        "efficiency": config.efficiency,
        "hours_per_month": hours,
        "bundle_where": config.where,
        "workload_gpus": {w.name: charts.workload_gpus(w) for w in report.host.workloads},
        "workload_nodes": {w.name: numa_nodes_of(report, w.cpus) for w in report.host.workloads},
        "effect": effect.describe(report.plan, [g.index for g in report.host.gpus]) if report.plan else None,
        "changes": {p.workload: effect.change(p, by_name.get(p.workload)) for p in (report.plan.placements if report.plan else ())},
        # a workload the plan keeps shows its own CPUs, not the whole node's
        "placed_cpus": {
            p.workload: by_name[p.workload].cpus
            if effect.change(p, by_name.get(p.workload)) == "stays" and by_name[p.workload].cpus
            else p.cpus
            for p in (report.plan.placements if report.plan else ())
        },
        "charts": {
            # matplotlib writes the charts' texts XML-escaped, so the SVG is safe to place as markup
            name: Markup(svg) if svg else None
            for name, svg in (
                ("score", charts.score_svg(report, grades)),
                ("memory", charts.memory_utilization_svg(report.host)),
                ("topology", charts.topology_svg(report)),
                ("cost", charts.cost_svg(report, hours)),
            )
        },
    }
    return _ENV.get_template("report.html.j2").render(context)


def write_html(report: Report, path: str | Path, config: bundle_config.Bundle | None = None) -> None:
    """Write :func:`render_html` to ``path`` (UTF-8). Raises :class:`ReportWriteError` naming the path."""
    write_bytes(path, render_html(report, config).encode("utf-8"), "HTML")


def write_bytes(path: str | Path, data: bytes, what: str) -> None:
    """Write a rendered report; :class:`ReportWriteError` ("cannot write the PDF report to x.pdf: ...")."""
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise ReportWriteError(f"cannot write the {what} report to {path}: {e.strerror or e}") from e


def verdict(report: Report) -> str:
    """One plain-language paragraph: what the host is, how efficient, the worst issue, what the plan changes."""
    host, score = report.host, report.score
    models = Counter(g.model for g in host.gpus)
    kit = " and ".join(f"{n} × {model}" for model, n in models.items()) or "no GPUs"
    state, action = GRADE_MEANING.get(score.grade, ("", ""))
    text = f"{host.hostname} has {kit} and runs {_plural(len(host.workloads), 'workload')}. "
    text += f"Its efficiency score is {score.score:.1f} out of 100, grade {score.grade}"
    text += f": {state}, {action}. " if state else ". "
    counts = Counter(f.severity for f in report.findings)
    if report.findings:
        listed = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s])
        worst = sorted(report.findings, key=_urgency)[0]
        text += f"The advisor found {_plural(len(report.findings), 'issue')} ({listed}); the most serious: {worst.title.rstrip('.')}. "
    else:
        text += "The advisor found no issue. "
    plan = report.plan
    if plan:
        text += effect.describe(plan, [g.index for g in host.gpus]).summary
    else:
        text += "No placement change is proposed."
    return text


def host_facts(report: Report) -> list[tuple[str, str]]:
    """The summary's host table: (what, value) rows."""
    host = report.host
    models = Counter(g.model for g in host.gpus)
    memory = {gib(g.memory_total_bytes) for g in host.gpus}
    nv = [k for k in host.links if k.path.upper().startswith("NV")]
    pairs = len(host.gpus) * (len(host.gpus) - 1) // 2
    if not host.links:
        links = "unknown (no topology in the inputs)"
    elif nv and len(nv) == pairs:
        counts = {k.nvlinks for k in nv}
        links = "NVLink between every pair of GPUs" + (f" (NV{counts.pop()})" if len(counts) == 1 else "")
    elif nv:
        links = f"NVLink on {len(nv)} of {pairs} GPU pairs; the others over PCIe"
    else:
        links = "PCIe only (no NVLink)"
    priced = [g.price_dollars_per_hour for g in host.gpus if g.price_dollars_per_hour is not None]
    rows = [
        ("Host", host.hostname),
        ("GPUs", ", ".join(f"{n} × {m}" for m, n in models.items()) + (f" ({' / '.join(sorted(memory))} each)" if memory else "")),
        ("NUMA nodes", ", ".join(f"node {n.node}: CPUs {cpu_list(n.cpus)}" for n in host.numa_nodes) or "unknown"),
        ("GPU links", links),
        ("Workloads", ", ".join(f"{w.name} ({w.kind})" for w in host.workloads) or "none declared or found"),
    ]
    if priced:
        rows.append(("GPU price", f"{money(sum(priced), 2)} per hour for the host ({len(priced)} GPUs priced)"))
    return rows


def numa_nodes_of(report: Report, cpus: frozenset[int] | None) -> str:
    """``node 0`` / ``nodes 0, 1``: the NUMA nodes holding some of ``cpus`` ("" when unknown)."""
    nodes = [n.node for n in report.host.numa_nodes if cpus and n.cpus & cpus]
    return f"node{'s' if len(nodes) > 1 else ''} {', '.join(map(str, nodes))}" if nodes else ""


def _urgency(f: Finding) -> tuple[int, float]:
    return (SEVERITIES.index(f.severity) if f.severity in SEVERITIES else len(SEVERITIES), -(f.dollars_per_month or 0))


def _sum(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# --- filters -------------------------------------------------------------------------------------------


def gib(value: float | None) -> str:
    """Bytes as ``141 GiB`` (``-`` when unknown)."""
    if value is None:
        return "-"
    v = value / charts.GIB
    return f"{v:.0f} GiB" if v >= 10 else f"{v:.1f} GiB"


def pct(value: float | None) -> str:
    """A ratio 0-1 as ``42 %`` (``-`` when unknown)."""
    return "-" if value is None else f"{100 * value:.0f} %"


def money(value: float | None, decimals: int = 0) -> str:
    """Dollars as ``$1,234`` (``-`` when unknown)."""
    return "-" if value is None else f"${value:,.{decimals}f}"


def cpu_list(cpus: Iterable[int] | None) -> str:
    """CPUs as a Linux cpulist (``0-27,112-139``); ``unpinned`` for None."""
    return "unpinned" if cpus is None else (charts.ranges(cpus) or "none")


def paragraphs(text: str) -> list[str]:
    """Split free text (the narrative) into paragraphs at blank lines."""
    return [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]


def scored(score: Score | None) -> str:
    """A score as ``68.2 (C)`` (``n/a`` without one)."""
    return effect.score_text(score)


def chipped(score: Score | None) -> Markup:
    """A score with its grade as a coloured chip: ``68.2 <span class="grade-chip grade-C">C</span>``."""
    if score is None or score.grade == "":
        return Markup("n/a")
    return Markup('{:.1f} <span class="grade-chip grade-{}">{}</span>').format(score.score, score.grade, score.grade)


_ENV.filters.update(gib=gib, pct=pct, money=money, cpus=cpu_list, gpus=charts.ranges, paragraphs=paragraphs, scored=scored, chipped=chipped)
