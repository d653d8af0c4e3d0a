"""PromQL text helpers shared by the bundle's renderers (recording rules, alerts; later dashboards).

The rule and alert templates write PromQL with these, so a number, an aggregation clause or a
selector is spelled the same way everywhere:

* :func:`num`: ``num(Fraction(2, 5))`` -> ``0.4`` (exact for decimal fractions);
* :func:`weighted`, :func:`affine`: weighted means and ``a + b × expr`` with small integer weights;
* :func:`by`: ``by (a, b) `` or nothing;
* :func:`selector`: the ``m(metric, job, *matchers)`` of the templates, a selector with the job's
  matchers from the configuration's ``selectors:``, refusing a metric not registered for that job;
* :func:`seconds`: a Prometheus duration (``1h30m``) as a number of seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

from axonize import names

#: Which registry component each job of ``selectors:`` exposes (dcgm-exporter's names are not ours).
JOB_COMPONENTS = {"exporter": "exporter", "sidecar": "sidecar", "dcgm": None, "gateway": "gateway"}

_DURATION_UNITS = {"ms": Fraction(1, 1000), "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")

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


def seconds(duration: str) -> Fraction:
    """A Prometheus duration as seconds: ``"1h30m"`` -> 5400, ``"500ms"`` -> 1/2; ValueError for anything else."""
    text, pos, total = duration.strip(), 0, Fraction(0)
    while pos < len(text):
        m = _DURATION_PART.match(text, pos)
        if not m:
            raise ValueError(f"not a Prometheus duration: {duration!r}")
        total += int(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not text:
        raise ValueError("an empty duration")
    return total


def selector(selectors: Mapping[str, str]) -> Callable[..., str]:
    """The templates' ``m(metric, job, *matchers)`` for the jobs' matchers ``{"exporter": 'job="..."', ...}``.

    ``m("axonize_gpu_up", "exporter", 'gpu!=""')`` -> ``axonize_gpu_up{job="axonize-exporter", gpu!=""}``;
    ValueError when the metric is registered (:mod:`axonize.names`) for another component than the job's.
    """

    def m(metric: str, job: str, *matchers: str) -> str:
        component = JOB_COMPONENTS[job]
        if component is not None and names.get(names.family_of(metric)).component != component:
            raise ValueError(f"{metric} is registered for {names.get(names.family_of(metric)).component}, not job {job}")
        parts = [p for p in (selectors[job], *matchers) if p]
        return f"{metric}{{{', '.join(parts)}}}" if parts else metric

    return m


__all__ = ["JOB_COMPONENTS", "Number", "affine", "by", "num", "seconds", "selector", "weighted"]
