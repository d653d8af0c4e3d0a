"""The report's charts as inline SVG text, drawn with matplotlib (its SVG backend; no pyplot, no global figures).

Each function takes the report's plain data and returns one ``<svg>`` element (text to place in the HTML as is)
or ``None`` when the data it needs is absent (no prices: no cost chart). Texts stay text (``svg.fonttype:
none``): the browser and weasyprint draw them with the page's fonts, so they stay sharp and searchable.
Element ids are prefixed with the chart's name so several charts can share one page.

    score_svg(report)            # score per GPU now (and after the plan) and its components (0-1)
    topology_svg(report)         # NUMA nodes, CPU-GPU PCIe paths, NVLink, workloads now and as proposed
    memory_utilization_svg(host) # memory used/total (GiB) and utilization/SM active (%) per GPU
    cost_svg(report)             # $/month of the GPUs: all, without the idle ones, after the plan
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from fractions import Fraction

import matplotlib
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle
from matplotlib.ticker import FuncFormatter

from axonize import mig_profiles

from ..model import Host, Placement, Report, Score, Workload

GIB = 1024**3
#: Workload colours (matplotlib's tab10, distinguishable and print-safe), in the order of first appearance.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
GRADE_COLOURS = {"A": "#1a7f37", "B": "#4d9a2a", "C": "#bf8700", "D": "#d1570f", "F": "#cf222e"}
INK, MUTED, GRID = "#1f2328", "#656d76", "#d0d7de"
NVLINK, PCIE, ALERT = "#1a7f37", "#8c959f", "#cf222e"
_RC = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9, "axes.edgecolor": GRID, "axes.labelcolor": INK}


def _text(value: object) -> str:
    """A user-supplied text as matplotlib draws it literally (``$`` would start mathtext)."""
    return str(value).replace("$", r"\$")


def _svg(fig: Figure, name: str) -> str:
    """The figure as one ``<svg>`` element: no XML prolog, DOCTYPE or metadata; ids prefixed ``name-``."""
    buf = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": name}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', svg)
    return svg.replace("<svg ", f'<svg class="chart" role="img" aria-labelledby="{name}-title" ', 1)


def _figure(width_in: float, height_in: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width_in, height_in), layout="constrained")


def grade_of(score: float, grades: Sequence[tuple[str, float | Fraction]]) -> str:
    """The best letter whose minimum ``score`` (0-100) reaches; ``grades`` is (letter, minimum), A first."""
    for letter, low in grades:
        if score >= low:
            return letter
    return grades[-1][0]


def workload_colours(report: Report) -> dict[str, str]:
    """``{workload name: colour}``, stable across the charts: the host's workloads, then the plan's new names."""
    names = [w.name for w in report.host.workloads]
    if report.plan:
        names += [p.workload for p in report.plan.placements]
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(dict.fromkeys(names))}


# --- score ---------------------------------------------------------------------------------------------


def score_svg(report: Report, grades: Sequence[tuple[str, float | Fraction]]) -> str | None:
    """Score per GPU (0-100) now and, with a plan, after it, coloured by grade; below, the components (0-1)."""
    now = dict(report.score.per_gpu)
    if not now:
        return None
    after = dict(report.plan.after.per_gpu) if report.plan else {}
    gpus = sorted(set(now) | set(after))
    components = _components(report.score)
    fig = _figure(7.2, 4.6 if components else 2.6)
    axes = fig.subplots(2 if components else 1, 1, squeeze=False)[:, 0]
    ax = axes[0]
    width = 0.38 if after else 0.6
    xs = range(len(gpus))
    for x, gpu in zip(xs, gpus):
        if gpu in now:
            value = now[gpu]
            ax.bar(x - (width / 2 if after else 0), value, width, color=GRADE_COLOURS.get(grade_of(value, grades), MUTED))
            ax.text(x - (width / 2 if after else 0), value + 1.5, f"{value:.0f}", ha="center", va="bottom", fontsize=7, color=INK)
        if gpu in after:
            value = after[gpu]
            ax.bar(
                x + width / 2,
                value,
                width,
                color=GRADE_COLOURS.get(grade_of(value, grades), MUTED),
                alpha=0.45,
                hatch="///",
                edgecolor="white",
            )
            ax.text(x + width / 2, value + 1.5, f"{value:.0f}", ha="center", va="bottom", fontsize=7, color=MUTED)
    for letter, low in grades:
        if 0 < low < 100:
            ax.axhline(float(low), color=GRID, linewidth=0.8, zorder=0)
            ax.text(len(gpus) - 0.45, float(low) + 0.5, f"{letter} \u2265 {float(low):g}", fontsize=7, color=MUTED, va="bottom", ha="right")
    ax.set_ylim(0, 110)
    ax.set_xticks(list(xs), [f"GPU {g}" for g in gpus])
    ax.set_ylabel("score (0-100)")
    ax.set_title("Efficiency score per GPU" + (": now (solid) and after the plan (hatched)" if after else ""), loc="left", fontsize=10)
    _clean(ax)
    if components:
        ax = axes[1]
        names = list(dict.fromkeys(c for _, c, _ in report.score.components))
        step = 0.8 / len(names)
        for i, name in enumerate(names):
            values = [components.get((gpu, name)) for gpu in gpus]
            xs_i = [x - 0.4 + step * (i + 0.5) for x in xs]
            ax.bar(
                [x for x, v in zip(xs_i, values) if v is not None],
                [v for v in values if v is not None],
                step * 0.9,
                label=name,
                color=PALETTE[i % len(PALETTE)],
            )
        ax.set_ylim(0, 1.05)
        ax.set_xticks(list(xs), [f"GPU {g}" for g in gpus])
        ax.set_ylabel("component (0-1)")
        ax.set_title("What the score is made of (now; 1 is best)", loc="left", fontsize=10)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        _clean(ax)
    return _titled(_svg(fig, "score"), "score", "Efficiency score per GPU and its components")


def _components(score: Score) -> dict[tuple[int, str], float]:
    return {(gpu, name): value for gpu, name, value in score.components}


def _clean(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(colors=MUTED, labelcolor=INK, labelsize=8)
    ax.yaxis.grid(False)


def _titled(svg: str, name: str, title: str) -> str:
    """Insert the accessible ``<title>`` the ``aria-labelledby`` of :func:`_svg` points at."""
    head_end = svg.index(">", svg.index("<svg")) + 1
    safe = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{svg[:head_end]}<title id="{name}-title">{safe}</title>{svg[head_end:]}'


# --- memory and utilization ----------------------------------------------------------------------------


def memory_utilization_svg(host: Host) -> str:
    """Left: memory used and free per GPU (GiB, stacked to the total). Right: utilization and SM active (%)."""
    gpus = sorted(host.gpus, key=lambda g: g.index)
    fig = _figure(7.2, 2.8)
    left, right = fig.subplots(1, 2)
    xs = list(range(len(gpus)))
    labels = [str(g.index) for g in gpus]
    used = [(g.memory_used_bytes or 0) / GIB for g in gpus]
    total = [g.memory_total_bytes / GIB for g in gpus]
    left.bar(xs, used, 0.6, color="#0969da")
    left.bar(xs, [t - u for t, u in zip(total, used)], 0.6, bottom=used, color="#ddf4ff", edgecolor="#54aeff", linewidth=0.5)
    for x, g in zip(xs, gpus):
        if g.memory_used_bytes is None:
            left.text(x, 2, "n/a", ha="center", fontsize=7, color=MUTED)
    left.set_xticks(xs, labels)
    left.set_xlabel("GPU")
    left.set_ylabel("GiB")
    left.set_title("Memory used of total", loc="left", fontsize=10)
    _clean(left)
    step = 0.38
    util = [g.utilization_ratio for g in gpus]
    sm = [g.sm_active_ratio for g in gpus]
    right.bar(
        [x - step / 2 for x, v in zip(xs, util) if v is not None],
        [100 * v for v in util if v is not None],
        step,
        color="#8250df",
    )
    right.bar(
        [x + step / 2 for x, v in zip(xs, sm) if v is not None],
        [100 * v for v in sm if v is not None],
        step,
        color="#bf8700",
    )
    for x, u, s in zip(xs, util, sm):
        for dx, v in ((-step / 2, u), (step / 2, s)):
            if v is None:
                right.text(x + dx, 2, "n/a", ha="center", fontsize=6, color=MUTED, rotation=90)
    right.set_ylim(0, 105)
    right.set_xticks(xs, labels)
    right.set_xlabel("GPU")
    right.set_ylabel("%")
    right.set_title("Utilization and SM activity", loc="left", fontsize=10)
    _clean(right)
    handles = [
        Patch(facecolor="#0969da", label="used"),
        Patch(facecolor="#ddf4ff", edgecolor="#54aeff", label="free"),
        Patch(facecolor="#8250df", label="utilization (a kernel ran)"),
        Patch(facecolor="#bf8700", label="SM active (how much of the GPU worked)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=7, frameon=False)
    return _titled(_svg(fig, "memory"), "memory", "Memory and utilization per GPU")


# --- cost ----------------------------------------------------------------------------------------------


def cost_svg(report: Report, hours_per_month: float) -> str | None:
    """$/month of the host's priced GPUs: all of them; without the GPUs idle now; and, with a plan, without the
    GPUs free after it (``Plan.gpus_available``; the gap to the bar above is the plan's net saving, hatched).

    None when no GPU has a price.
    """
    priced = {g.index: g.price_dollars_per_hour for g in report.host.gpus if g.price_dollars_per_hour is not None}
    if not priced:
        return None
    now = sum(priced.values()) * hours_per_month
    plan = report.plan
    if plan and plan.in_use_before is not None:
        in_use = {i for i, _ in plan.in_use_before.per_gpu}
        idle_now = [g.index for g in report.host.gpus if g.up and g.index not in in_use]
    else:
        idle_now = [gpu for gpu, value in report.score.per_gpu if value == 0 and report.host.gpu(gpu).up]
    bars = [("all GPUs", now, None)]
    if idle_now:
        bars.append(
            (
                f"without GPU{'s' * (len(idle_now) > 1)} {', '.join(map(str, idle_now))} (idle now)",
                now - _priced(priced, idle_now, hours_per_month),
                None,
            )
        )
    if plan:
        free = plan.gpus_available
        after = now - _priced(priced, free, hours_per_month)
        label = f"after the plan, without GPU{'s' * (len(free) > 1)} {', '.join(map(str, free))} (free)" if free else "after the plan"
        bars.append((label, after, bars[-1][1]))
    fig = _figure(7.2, 0.5 + 0.45 * len(bars))
    ax = fig.subplots()
    ys = list(range(len(bars)))[::-1]
    for y, (_, value, previous) in zip(ys, bars, strict=True):
        ax.barh([y], [value], 0.55, color="#57606a" if y == ys[0] else "#0969da")
        text = f"  ${value:,.0f}/month"
        if previous is not None and previous > value:
            ax.barh([y], [previous - value], 0.55, left=[value], color="white", edgecolor="#1a7f37", hatch="///", linewidth=0.8)
            text = f"  ${value:,.0f}/month (net saving of the plan ${previous - value:,.0f}: hatched)"
        ax.text(max(value, previous or 0), y, _text(text), va="center", fontsize=8, color=INK)
    ax.set_yticks(ys, [_text(label) for label, _, _ in bars])
    ax.set_xlim(0, now * 1.6)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _text(f"${v:,.0f}")))
    ax.set_xlabel(_text(f"$ per month ({hours_per_month:g} h), at the GPUs' list prices"))
    ax.set_title("GPU cost of this host", loc="left", fontsize=10)
    _clean(ax)
    return _titled(_svg(fig, "cost"), "cost", "GPU cost per month: all GPUs, without the idle ones, and after the plan")


def _priced(prices: dict[int, float], gpus: Iterable[int], hours_per_month: float) -> float:
    return sum(prices.get(i, 0.0) for i in gpus) * hours_per_month


# --- topology ------------------------------------------------------------------------------------------

_GPU_W, _GPU_H, _GAP, _NODE_GAP = 1.0, 0.9, 0.25, 0.6
_CPU_W, _NODE_MIN_W = 2.6, 2.8  # the CPU box, and the narrowest NUMA node (one GPU still holds its CPU box)
_INCH = 0.68  # inches per layout unit: text keeps its size whatever the number of GPUs


def topology_svg(report: Report) -> str:
    """The host's NUMA nodes (CPU socket above its GPUs, PCIe paths in grey, the inter-socket link dashed),
    NVLink (a green fabric bar for an all-to-all NVLink set such as HGX NVSwitch, arcs for single links),
    and the workloads: one panel now (GPU boxes filled with each workload's colour; CPU chips show which
    nodes' CPUs the workload may use; GPUs named by a warning or critical finding outlined in red) and,
    with a plan, one panel for the proposed placement.
    """
    host = report.host
    colours = workload_colours(report)
    panels = [("Now", _now_boxes(host), _now_cpus(host), _flagged(report))]
    if report.plan:
        panels.append(("Proposed", _plan_boxes(host, report.plan.placements), _plan_cpus(host, report.plan.placements), set()))
    layout = _layout(host)
    width = max((x1 for _, _, x1, _ in layout.nodes), default=_NODE_MIN_W) + 0.3
    panel_h = 3.3
    fig = _figure((width + 0.3) * _INCH, (panel_h * len(panels) - 0.3) * _INCH + (0.7 if len(colours) > 4 else 0.5))
    ax = fig.subplots()
    ax.set_axis_off()
    for i, (title, boxes, cpus, flagged) in enumerate(panels):
        _draw_panel(
            ax, host, layout, -i * panel_h, title, boxes, cpus, flagged, colours, report.plan.gpus_freed if report.plan and i else ()
        )
    ax.set_xlim(-0.3, width)
    ax.set_ylim(-(len(panels) - 1) * panel_h - 0.2, 2.75)
    ax.set_aspect("equal")
    handles = [Patch(facecolor=c, label=_text(n)) for n, c in colours.items()]
    handles += [
        Line2D([], [], color=NVLINK, linewidth=2.5, label="NVLink (GPU to GPU)"),
        Line2D([], [], color=PCIE, linewidth=0.8, label="PCIe (GPU to its CPU socket)"),
        Line2D([], [], color=PCIE, linewidth=1.2, linestyle="--", label="link between CPU sockets"),
        Patch(facecolor="white", edgecolor=ALERT, linewidth=1.5, label="GPU with a finding"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=4 if width > 9 else 2, fontsize=7, frameon=False)
    return _titled(_svg(fig, "topology"), "topology", "GPU, NUMA and NVLink topology with the workloads now and as proposed")


class _Layout:
    """Where each NUMA node and GPU sits: nodes left to right, their GPUs in a row below their CPU box."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, float, float, tuple[int, ...]]] = []  # (label, x0, x1, gpus)
        self.gpu_x: dict[int, tuple[float, int | None]] = {}  # gpu -> (x, node)


def _layout(host: Host) -> _Layout:
    layout = _Layout()
    by_node: dict[int | None, list[int]] = {}
    for g in sorted(host.gpus, key=lambda g: g.index):
        by_node.setdefault(g.numa_node, []).append(g.index)
    x = 0.0
    for node in sorted(by_node, key=lambda n: (n is None, n or 0)):
        gpus = by_node[node]
        span = max(len(gpus) * (_GPU_W + _GAP) - _GAP, _NODE_MIN_W)
        gx = x + (span - (len(gpus) * (_GPU_W + _GAP) - _GAP)) / 2
        for gpu in gpus:
            layout.gpu_x[gpu] = (gx, node)
            gx += _GPU_W + _GAP
        layout.nodes.append(("NUMA node ?" if node is None else f"NUMA node {node}", x, x + span, tuple(gpus)))
        x += span + _NODE_GAP
    return layout


def _draw_panel(ax, host: Host, layout: _Layout, y0: float, title, boxes, cpus, flagged, colours, freed) -> None:
    gpu_y, cpu_y = y0 + 0.55, y0 + 1.75
    ax.text(-0.25, y0 + 2.55, title, fontsize=10, fontweight="bold", color=INK, va="bottom")
    centres = []
    for label, x0, x1, gpus in layout.nodes:
        ax.add_patch(
            FancyBboxPatch((x0 - 0.1, y0 + 0.35), x1 - x0 + 0.2, 2.1, boxstyle="round,pad=0.02", facecolor="#f6f8fa", edgecolor=GRID)
        )
        cx = (x0 + x1) / 2
        centres.append(cx)
        ax.add_patch(Rectangle((cx - _CPU_W / 2, cpu_y), _CPU_W, 0.55, facecolor="white", edgecolor=MUTED))
        node = layout.gpu_x[gpus[0]][1] if gpus else None
        ax.text(cx, cpu_y + 0.4, f"CPU socket \u00b7 {label}", ha="center", va="center", fontsize=6.5, color=INK)
        for j, name in enumerate(cpus.get(node, ())):
            ax.add_patch(
                Rectangle(
                    (cx - _CPU_W / 2 + 0.1 + j * 0.28, cpu_y + 0.07), 0.22, 0.16, facecolor=colours.get(name, MUTED), edgecolor="none"
                )
            )
        for gpu in gpus:
            gx = layout.gpu_x[gpu][0] + _GPU_W / 2
            ax.plot([gx, cx], [gpu_y + _GPU_H, cpu_y], color=PCIE, linewidth=0.8, zorder=1)
    for a, b in zip(centres, centres[1:]):
        ax.plot([a + _CPU_W / 2, b - _CPU_W / 2], [cpu_y + 0.27] * 2, color=PCIE, linewidth=1.2, linestyle="--")
        ax.text((a + b) / 2, cpu_y + 0.32, "SYS", ha="center", va="bottom", fontsize=6, color=MUTED)
    _draw_nvlink(ax, host, layout, gpu_y)
    for gpu, (x, _) in layout.gpu_x.items():
        _draw_gpu(ax, x, gpu_y, gpu, boxes.get(gpu, ()), colours, gpu in flagged, gpu in freed)


def _draw_gpu(ax, x: float, y: float, gpu: int, parts, colours, flagged: bool, freed: bool) -> None:
    """A GPU box split bottom-up into ``parts``: (workload, share 0-1, label) per workload on it."""
    bottom = y
    for name, share, label in parts:
        h = _GPU_H * 0.72 * share
        ax.add_patch(Rectangle((x, bottom), _GPU_W, h, facecolor=colours.get(name, MUTED), edgecolor="white", linewidth=0.5, zorder=2))
        if label and h >= 0.14:
            ax.text(x + _GPU_W / 2, bottom + h / 2, label, ha="center", va="center", fontsize=5.5, color="white", zorder=3)
        bottom += h
    edge = ALERT if flagged else MUTED
    ax.add_patch(Rectangle((x, y), _GPU_W, _GPU_H, facecolor="none", edgecolor=edge, linewidth=1.6 if flagged else 0.8, zorder=4))
    ax.text(x + _GPU_W / 2, y + _GPU_H - 0.12, f"GPU {gpu}", ha="center", va="center", fontsize=6.5, color=INK, zorder=4)
    status = "freed" if freed else ("" if parts else "idle")
    if status:
        ax.text(x + _GPU_W / 2, y + _GPU_H * 0.36, status, ha="center", va="center", fontsize=6.5, color=MUTED, style="italic", zorder=4)


def _draw_nvlink(ax, host: Host, layout: _Layout, gpu_y: float) -> None:
    """A bar under an all-to-all NVLink set of three or more GPUs (NVSwitch), arcs for the other NVLink pairs."""
    nv = {(min(k.gpu, k.peer_gpu), max(k.gpu, k.peer_gpu)): k for k in host.links if k.path.upper().startswith("NV")}
    drawn = set()
    for group in _nvlink_cliques(layout.gpu_x, nv):
        xs = sorted(layout.gpu_x[g][0] + _GPU_W / 2 for g in group)
        y = gpu_y - 0.2
        ax.plot([xs[0] - 0.3, xs[-1] + 0.3], [y, y], color=NVLINK, linewidth=3, solid_capstyle="round")
        for x in xs:
            ax.plot([x, x], [y, gpu_y], color=NVLINK, linewidth=1.5)
        counts = sorted({nv[p].nvlinks for p in _pairs(group)})
        bonded = f" (NV{counts[0]} each pair)" if len(counts) == 1 and counts[0] else ""
        ax.text(
            (xs[0] + xs[-1]) / 2,
            y - 0.08,
            f"NVLink all-to-all: GPUs {ranges(group)}{bonded}",
            ha="center",
            va="top",
            fontsize=6.5,
            color=NVLINK,
        )
        drawn |= set(_pairs(group))
    for (a, b), link in nv.items():
        if (a, b) in drawn or a not in layout.gpu_x or b not in layout.gpu_x:
            continue
        xa, xb = layout.gpu_x[a][0] + _GPU_W / 2, layout.gpu_x[b][0] + _GPU_W / 2
        depth = 0.12 + 0.04 * abs(b - a)
        ax.plot([xa, xa, xb, xb], [gpu_y, gpu_y - depth, gpu_y - depth, gpu_y], color=NVLINK, linewidth=1.4)
        ax.text(
            (xa + xb) / 2,
            gpu_y - depth - 0.02,
            f"NV{link.nvlinks}" if link.nvlinks else "NVLink",
            ha="center",
            va="top",
            fontsize=5.5,
            color=NVLINK,
        )


def _pairs(group: Sequence[int]) -> Iterable[tuple[int, int]]:
    return ((a, b) for i, a in enumerate(group) for b in group[i + 1 :])


def _nvlink_cliques(gpu_x, nv) -> list[tuple[int, ...]]:
    """The connected components of the NVLink graph that are all-to-all and have three GPUs or more."""
    seen, out = set(), []
    for start in sorted(gpu_x):
        if start in seen:
            continue
        comp, todo = {start}, [start]
        while todo:
            g = todo.pop()
            for a, b in nv:
                peer = b if a == g else a if b == g else None
                if peer is not None and peer not in comp and peer in gpu_x:
                    comp.add(peer)
                    todo.append(peer)
        seen |= comp
        group = tuple(sorted(comp))
        if len(group) >= 3 and all(p in nv for p in _pairs(group)):
            out.append(group)
    return out


def ranges(gpus: Iterable[int]) -> str:
    """``0-3,6`` for GPUs 0, 1, 2, 3 and 6."""
    out, run = [], []
    for g in sorted(gpus):
        if run and g != run[-1] + 1:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(g)
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def _share(host: Host, gpu: int, profile: str | None) -> float | None:
    slices = mig_profiles.profile_slices(profile)
    try:
        total = mig_profiles.gpu_slices(host.gpu(gpu).model)
    except KeyError:
        return None
    return slices / total if slices and total else None


def _stack(entries: list[tuple[str, float | None, str]]) -> tuple[tuple[str, float, str], ...]:
    """Shares for the workloads on one GPU: MIG profiles by their slices, the rest sharing what is left evenly."""
    known = sum(s for _, s, _ in entries if s)
    unknown = [e for e in entries if not e[1]]
    rest = max(0.0, 1.0 - known) / len(unknown) if unknown else 0.0
    return tuple((n, s or rest, label) for n, s, label in entries)


def _now_boxes(host: Host) -> dict[int, tuple[tuple[str, float, str], ...]]:
    entries: dict[int, list] = {}
    profiles = {(g.index, m.gpu_instance_id): m.profile for g in host.gpus for m in g.mig_instances}
    for w in host.workloads:
        for gpu in w.gpus:
            entries.setdefault(gpu, []).append((w.name, None, ""))
        for gpu, gi in w.mig:
            profile = profiles.get((gpu, gi))
            entries.setdefault(gpu, []).append((w.name, _share(host, gpu, profile), profile or "MIG"))
    return {gpu: _stack(e) for gpu, e in entries.items()}


def _plan_boxes(host: Host, placements: Sequence[Placement]) -> dict[int, tuple[tuple[str, float, str], ...]]:
    entries: dict[int, list] = {}
    for p in placements:
        for gpu in p.gpus[:1] if p.mig_profile else p.gpus:
            share = _share(host, gpu, p.mig_profile) if p.mig_profile else None
            entries.setdefault(gpu, []).append((p.workload, share, p.mig_profile or ""))
    return {gpu: _stack(e) for gpu, e in entries.items()}


def _nodes_of(host: Host, cpus) -> list[int]:
    return [n.node for n in host.numa_nodes if cpus and n.cpus & cpus]


def _now_cpus(host: Host) -> dict[int, tuple[str, ...]]:
    """``{NUMA node: workloads whose pinned CPUs include some of the node's}`` (unpinned workloads: none)."""
    out: dict[int, list[str]] = {}
    for w in host.workloads:
        for node in _nodes_of(host, w.cpus):
            out.setdefault(node, []).append(w.name)
    return {n: tuple(v) for n, v in out.items()}


def _plan_cpus(host: Host, placements: Sequence[Placement]) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for p in placements:
        nodes = _nodes_of(host, p.cpus) if p.cpus else ([p.numa_node] if p.numa_node is not None else [])
        for node in nodes:
            out.setdefault(node, []).append(p.workload)
    return {n: tuple(v) for n, v in out.items()}


def _flagged(report: Report) -> set[int]:
    """GPUs named by a critical or warning finding about them (not the host-wide grade, which names every GPU)."""
    return {gpu for f in report.findings if f.severity in ("critical", "warning") and f.kind != "efficiency_grade" for gpu in f.gpus}


def workload_gpus(w: Workload) -> str:
    """``0, 1, 2, 3`` or ``2 (MIG 1), 2 (MIG 2)``: the GPUs a workload holds, as the tables show them."""
    parts = [", ".join(map(str, w.gpus))] if w.gpus else []
    parts += [f"{gpu} (MIG {gi})" for gpu, gi in w.mig]
    return ", ".join(parts) or "none"
