"""Render the recording rules (rules/*.rules.yml) from the bundle configuration (axonize/bundle.yml) and the jinja2 templates.

``python -m axonize.rules.render`` writes them next to the templates' package
(the repository's rules/ folder; ``make generate``); ``--check`` writes nothing
and exits 1 naming every file that differs from a fresh render; ``--config FILE``
renders another configuration; ``--out DIR`` writes elsewhere.

Templates are rules/templates/<name>.rules.yml.j2; each renders to
<name>.rules.yml. They see the configuration (:class:`axonize.bundle.Bundle`)
and these helpers:

* ``m(metric, job, *matchers)``: a selector with the job's matchers from ``selectors:``,
  ``m("axonize_gpu_up", "exporter", 'gpu!=""')`` -> ``axonize_gpu_up{job="axonize-exporter", gpu!=""}``;
  the metric must be registered (:mod:`axonize.names`) for that job's component.
* ``r(name, window="")``: a registered recorded name, its ``{window}`` filled in
  (``r("model:axonize_inference_generation_tokens:rate{window}", "5m")``); KeyError when unregistered.

A rendered file that uses any ``axonize_*`` or recorded name not in the registry is an error.
* ``num(x)``: a number as a PromQL literal, exact decimals for decimal fractions (``2/5`` -> ``0.4``).
* ``weighted([(w1, expr1), ...], scale)``: ``scale × Σ wᵢ·exprᵢ / Σ wᵢ`` with the weights as the
  smallest integers (0.4 and 0.3 -> ``(4 * a + 3 * b) / 7``), so equal inputs give exactly their value.
* ``affine(a, b, expr)``: ``a + b × expr`` (``1 - 0.5 * x``).
* ``by(labels)``: ``by (a, b) `` or nothing for no labels.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import jinja2

from axonize import bundle, names
from axonize.config import ConfigError

#: The folder the rendered files go to (the package folder: rules/ in the repository).
RULES_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = RULES_DIR / "templates"
SUFFIX = ".rules.yml"

#: Labels of axonize_gpu_container_* series that name the container (aggregated away to reach the GPU),
#: from the names registry: the family's labels after the GPU's own (gpu, uuid).
CONTAINER_LABELS = tuple(label for label in names.get("axonize_gpu_container_memory_used_bytes").labels if label not in ("gpu", "uuid"))
#: Which registry component each job of ``selectors:`` exposes (dcgm-exporter's names are not ours).
JOB_COMPONENTS = {"exporter": "exporter", "sidecar": "sidecar", "dcgm": None}

Number = Fraction | int | float


def num(value: Number) -> str:
    """A PromQL number literal: ``730``, ``0.4`` (exact for decimal fractions), else the float's repr."""
    f = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if f.denominator == 1:
        return str(f.numerator)
    den = f.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den == 1:  # a finite decimal: write it exactly
        text = format(Decimal(f.numerator) / Decimal(f.denominator), "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return repr(float(f))


def weighted(terms: Sequence[tuple[Number, str]], scale: Number = 1) -> str:
    """``scale × Σ wᵢ·exprᵢ / Σ wᵢ`` as PromQL with the smallest integer weights; zero weights are left out."""
    fracs = [(Fraction(repr(w)) if isinstance(w, float) else Fraction(w), expr) for w, expr in terms]
    total = sum(w for w, _ in fracs)
    if total <= 0:
        raise ValueError("weights must sum to more than 0")
    coefs = [(Fraction(scale) * w / total, expr) for w, expr in fracs if w != 0]
    lcd = math.lcm(*(c.denominator for c, _ in coefs))
    parts = []
    for c, expr in coefs:
        n = c * lcd  # an integer
        parts.append(expr if n == 1 else f"{num(n)} * {expr}")
    body = " + ".join(parts)
    return body if lcd == 1 else f"({body}) / {lcd}"


def affine(a: Number, b: Number, expr: str) -> str:
    """``a + b × expr`` as PromQL (``1 - 0.5 * x``)."""
    fa = Fraction(repr(a)) if isinstance(a, float) else Fraction(a)
    fb = Fraction(repr(b)) if isinstance(b, float) else Fraction(b)
    if fb == 0:
        return f"0 * {expr} + {num(fa)}"
    sign = "-" if fb < 0 else "+"
    return f"{num(fa)} {sign} {num(abs(fb))} * {expr}"


def by(labels: Iterable[str]) -> str:
    """``by (a, b) `` for an aggregation, or "" (aggregate everything) when there are no labels."""
    labels = list(dict.fromkeys(labels))
    return f"by ({', '.join(labels)}) " if labels else ""


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_names() -> list[str]:
    """The rule templates, sorted: ``["cost.rules.yml.j2", ...]``."""
    return sorted(p.name for p in TEMPLATES_DIR.glob(f"*{SUFFIX}.j2"))


def context(cfg: bundle.Bundle) -> dict:
    """What the templates see: the configuration's values and the helpers above."""
    selectors = {"exporter": cfg.selectors.exporter, "sidecar": cfg.selectors.sidecar, "dcgm": cfg.selectors.dcgm}

    def m(metric: str, job: str, *matchers: str) -> str:
        component = JOB_COMPONENTS[job]
        if component is not None and names.get(names.family_of(metric)).component != component:
            raise ValueError(f"{metric} is registered for {names.get(names.family_of(metric)).component}, not job {job}")
        parts = [p for p in (selectors[job], *matchers) if p]
        return f"{metric}{{{', '.join(parts)}}}" if parts else metric

    eff = cfg.efficiency
    return {
        "m": m,
        "r": names.recorded_name,
        "num": num,
        "weighted": weighted,
        "affine": affine,
        "by": by,
        "eff": {
            "utilization_weight": eff.utilization_weight,
            "memory_weight": eff.memory_weight,
            "weights": eff.weights,
            "numa_local": eff.numa_local,
            "numa_mismatch": eff.numa_mismatch,
            "numa_no_containers": eff.numa_no_containers,
            "io_busy_above": eff.io_busy_above,
            "busy_above": eff.busy_above,
        },
        "grade_rows": cfg.grades,
        "host_labels": list(cfg.host_labels),
        "fleet_labels": list(cfg.fleet_labels),
        "container_labels": CONTAINER_LABELS,
        "rate_window": cfg.rate_window,
        "queue_window": cfg.queue_growth_window,
        "hours_per_month": cfg.hours_per_month,
        "container_split": cfg.container_split,
        "stopped_exporter_grace": cfg.stopped_exporter_grace,
        "default_dollars_per_hour": cfg.prices.default.dollars_per_hour,
        "dollars_per_kwh": cfg.dollars_per_kwh,
        "quantiles": cfg.quantiles,
    }


def render(cfg: bundle.Bundle | None = None) -> dict[str, str]:
    """``{"cost.rules.yml": text, ...}``: every template rendered from ``cfg`` (default: the packaged config)."""
    cfg = cfg or bundle.load()
    env = _environment()
    env.filters["num"] = num
    ctx = context(cfg)
    out = {}
    for name in template_names():
        target = name[: -len(".j2")]
        ctx["header"] = (
            f"# Generated by `python -m axonize.rules.render` (make generate) from {_source(cfg)}\n"
            f"# and rules/templates/{name}; do not edit by hand."
        )
        text = env.get_template(name).render(ctx)
        unknown = names.unknown_names(text)
        if unknown:
            raise ValueError(f"rules/templates/{name} uses names not in the names registry (axonize/names): {', '.join(unknown)}")
        out[target] = text
    return out


def _source(cfg: bundle.Bundle) -> str:
    """The file the header names: ``axonize/bundle.yml`` for the packaged bundle, else the file given."""
    return "axonize/bundle.yml" if cfg.where == bundle.PACKAGED else cfg.where


def stale(out_dir: Path, rendered: dict[str, str]) -> list[str]:
    """Files in ``out_dir`` that differ from ``rendered``, are missing, or are *.rules.yml no template makes."""
    problems = []
    for name, text in rendered.items():
        path = out_dir / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from a fresh render")
    for path in sorted(out_dir.glob(f"*{SUFFIX}")):
        if path.name not in rendered:
            problems.append(f"{path.name}: no template renders it (rules/templates/{path.name}.j2)")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m axonize.rules.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", metavar="FILE", help="bundle configuration (default: the packaged axonize/bundle.yml)")
    parser.add_argument("--out", metavar="DIR", help="where to write the *.rules.yml files (default: the rules package folder)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs from a fresh render")
    args = parser.parse_args(argv)
    try:
        cfg = bundle.load(args.config)
    except ConfigError as exc:
        print(f"axonize.rules.render: {exc}", file=sys.stderr)
        return 2
    rendered = render(cfg)
    out_dir = Path(args.out) if args.out else RULES_DIR
    if args.check:
        problems = stale(out_dir, rendered)
        for problem in problems:
            print(f"{out_dir / problem}", file=sys.stderr)
        if problems:
            print("stale recording rules: run `make generate` and commit them", file=sys.stderr)
        return 1 if problems else 0
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out_dir / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
