"""One target's exposition text -> normalized series, driven by the engine's mapping table.

:func:`normalize` picks the adapter (configured, else :func:`~axonize.sidecar.engines.detect`),
parses the lines it maps (:func:`~axonize.sidecar.parse.read`) and applies its rules
in the order of :data:`~axonize.sidecar.normalized.FAMILIES`:

* a rule whose ``replaced_by`` family is in the scrape is skipped (old and new vLLM
  names in one scrape count once, the new one);
* values, histogram sums and bucket bounds are scaled into the normalized unit;
  bucket counts are taken as scraped, never re-bucketed;
* engine labels are mapped (``model_name`` -> ``model``, ``engine`` -> ``engine_index``,
  ``finished_reason`` -> ``reason``); series that differ only in a dropped label are
  merged: summed, or the maximum for ratios; histograms only when their bounds agree.

Everything comes from this one scrape: there is no state that could hide a
counter reset. :func:`cap` then bounds a target's series.

Errors are :class:`~axonize.sidecar.errors.TargetError`: "parse" from the text,
"mismatch" when a mapped family has the wrong shape, "engine" when the engine is
unknown or none of its families are present, "timeout" when the ``deadline`` passes.
A normalized family whose source values break its type's rules (a NaN, infinite or
negative counter; cumulative bucket counts that decrease; a ``_count`` other than the
``+Inf`` bucket) is left out alone: an "invalid" TargetError for it goes to ``problems``
and the other families are kept (see :mod:`axonize.sidecar.errors`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from functools import cache

from .engines import ADAPTERS, Adapter, Rule, detect
from .errors import TargetError
from .normalized import ENGINE_INDEX, FAMILIES, Family
from .parse import Family as ParsedFamily
from .parse import Parsed, read
from .snapshot import Series
from .targets import Target
from .text_format import Heads

_SCALAR_TYPES = ("counter", "gauge", "unknown", "untyped")
Key = tuple  # (model, engine_index, *family label values)


class Kept:
    """What a target's scrapes keep for its next scrape, so unchanged label sets are not read again.

    ``heads``: its sample lines' text before the value (:class:`~axonize.sidecar.text_format.Heads`),
    which hands the same labels dict to every scrape of a line. ``buckets``: for each bucket sample's
    labels dict, ``(the dict, its series' labels as a frozenset (all but le), its le as a float)``,
    found by the dict's identity: an entry holds its dict, so no other dict can have that identity
    while the entry lasts, and labels are never changed after parsing. Both keep the last two scrapes
    (:meth:`next_scrape`). Entries are right whoever stores them: two threads reading one target at
    once (a scrape that outlived its deadline) can only lose some.
    """

    __slots__ = ("heads", "buckets", "previous_buckets")

    def __init__(self) -> None:
        self.heads = Heads()
        self.buckets: dict[int, tuple[dict, frozenset, float]] = {}
        self.previous_buckets: dict[int, tuple[dict, frozenset, float]] = {}

    def next_scrape(self) -> None:
        """Forget the bucket label sets not seen since the previous call (the heads turn over in :func:`read`)."""
        self.previous_buckets, self.buckets = self.buckets, {}


def normalize(
    text: str,
    target: Target,
    deadline: float | None = None,
    problems: list[TargetError] | None = None,
    kept: Kept | None = None,
) -> tuple[Adapter, list[Series]]:
    """The adapter used and the target's normalized series, in :data:`FAMILIES` order.

    ``deadline``: ``time.monotonic()`` seconds after which the work stops with a "timeout" error.
    ``problems`` receives an "invalid" TargetError per family left out (see the module docstring).
    ``kept``: what the target's earlier scrapes kept (:class:`Kept`); updated. The result is the same without it.
    """
    if target.engine:
        adapter = ADAPTERS[target.engine]
    else:
        adapter = detect(text)
        if adapter is None:
            prefixes = ", ".join(a.prefix for a in ADAPTERS.values())
            raise TargetError("engine", f"no metrics of a known engine in the exposition (prefixes {prefixes}); set the target's engine")
    parsed = read(text, *_names(adapter.engine), deadline=deadline, heads=kept and kept.heads)
    if not any(parsed.get(rule.source) for rule in adapter.rules):
        raise TargetError("engine", f"none of {adapter.title}'s mapped families ({adapter.prefix}...) is in the exposition")
    return adapter, apply(parsed, adapter, target, deadline, problems, kept)


@cache
def _names(engine: str) -> tuple[frozenset[str], frozenset[str]]:
    return ADAPTERS[engine].sample_names, ADAPTERS[engine].type_names


@cache
def _rules_by_family(engine: str) -> dict[str, tuple[Rule, ...]]:
    rules: dict[str, list[Rule]] = {}
    for rule in ADAPTERS[engine].rules:
        rules.setdefault(rule.target, []).append(rule)
    return {name: tuple(rs) for name, rs in rules.items()}


class _Invalid(Exception):
    """A value that breaks its family's type rules; leaves that family out (see the module docstring)."""


def apply(
    parsed: Parsed,
    adapter: Adapter,
    target: Target,
    deadline: float | None = None,
    problems: list[TargetError] | None = None,
    kept: Kept | None = None,
) -> list[Series]:
    """Apply ``adapter``'s rules to a parsed exposition (see the module docstring); ``kept``: see :class:`Kept`."""
    by_family = _rules_by_family(adapter.engine)
    if kept is None:
        kept = Kept()
    kept.next_scrape()
    out: list[Series] = []
    for family in FAMILIES:
        rules = by_family.get(family.name)
        if not rules:
            continue
        if deadline is not None and time.monotonic() > deadline:
            raise TargetError("timeout", f"normalizing was cut at the deadline, before {family.name}")
        acc: dict[Key, object] = {}
        try:
            for rule in rules:
                _apply_rule(parsed, adapter, rule, family, target, acc, kept)
        except _Invalid as exc:
            if problems is not None:
                problems.append(TargetError("invalid", f"{family.name} left out: {exc.args[0]}", exc.args[1]))
            continue
        out.extend(_series(family, adapter, target, acc))
    return out


def _apply_rule(parsed: Parsed, adapter: Adapter, rule: Rule, family: Family, target: Target, acc: dict, kept: Kept) -> None:
    if rule.replaced_by and _has_samples(parsed.get(rule.replaced_by)):
        return
    source = parsed.get(rule.source)
    if not _has_samples(source):
        return
    labels = {**adapter.labels, **rule.labels}
    if family.type == "histogram" and rule.count_from:
        _sum_count(parsed, source, rule, family, labels, target, acc)
    elif family.type == "histogram":
        _check_type(parsed, source, rule, "histogram")
        _histogram(parsed, source, rule, family, labels, target, acc, kept)
    elif rule.part == "sum":
        _check_type(parsed, source, rule, "histogram")
        _scalar(parsed, source, source.name + "_sum", rule, family, labels, target, acc)
    else:
        _check_type(parsed, source, rule, "scalar")
        _scalar(parsed, source, None, rule, family, labels, target, acc)


def _bad_count(value: float) -> bool:
    """Whether a counter value or a histogram count cannot be one: NaN, infinite or negative."""
    return not (0.0 <= value < math.inf)


def _invalid(parsed: Parsed, name: str, labels: Iterable[tuple[str, str]], what: str) -> _Invalid:
    return _Invalid(f"{name}{_show_labels(labels)} {what}", parsed.line_of(name))


def _has_samples(fam: ParsedFamily | None) -> bool:
    return fam is not None and bool(fam.samples)


def _check_type(parsed: Parsed, source: ParsedFamily, rule: Rule, want: str) -> None:
    if want == "scalar" and source.type in _SCALAR_TYPES:
        return
    if want == "histogram" and source.type == "histogram":
        return
    shown = "untyped" if source.type in ("unknown", "untyped") else source.type
    if want == "histogram":
        hint = f"no '# TYPE {rule.source} histogram' line" if shown == "untyped" else f"typed {shown}"
        if any("le" in s.labels and not s.name.endswith("_bucket") for s in source.samples):
            hint += f"; bucket samples need the name {rule.source}_bucket"
        message = f"{rule.source}: a histogram is expected but its samples are {shown} ({hint})"
    else:
        message = f"{rule.source}: a counter or gauge is expected but the family is a {shown}"
    raise TargetError("mismatch", message, parsed.line_of(rule.source))


def _scaled(x: float, scale: float) -> float:
    if scale == 1.0 or math.isinf(x):
        return x
    if scale < 1.0:  # divide by the exact power of ten: 300 ms -> 0.3 s, not 0.30000000000000004
        return x / round(1.0 / scale)
    return x * scale


def _key(labels: dict[str, str], mapping: dict[str, str], family: Family, target: Target) -> Key:
    model = index = ""
    extras = dict.fromkeys(family.labels, "")
    for name, value in labels.items():
        to = mapping.get(name)
        if to is None:
            continue
        if to == "model":
            model = value
        elif to == ENGINE_INDEX:
            index = value
        elif to in extras:
            extras[to] = value
    return (model or target.model, index, *extras.values())


def _scalar(
    parsed: Parsed,
    source: ParsedFamily,
    sample_name: str | None,
    rule: Rule,
    family: Family,
    mapping: dict[str, str],
    target: Target,
    acc: dict,
) -> None:
    combine_max = family.combine == "max"
    counter = family.type == "counter"
    for s in source.samples:
        if sample_name is not None and s.name != sample_name:
            continue
        if counter and _bad_count(s.value):
            raise _invalid(parsed, s.name, s.labels.items(), f"is {s.value:g}: a counter is finite and not negative")
        key = _key(s.labels, mapping, family, target)
        value = _scaled(float(s.value), rule.scale)
        if key in acc:
            acc[key] = max(acc[key], value) if combine_max else acc[key] + value
        else:
            acc[key] = value


class _Histogram:
    """Buckets ``{upper bound: count}``, sum and count of one histogram series being built."""

    __slots__ = ("buckets", "sum", "count")

    def __init__(self) -> None:
        self.buckets: dict[float, float] = {}
        self.sum: float | None = None
        self.count: float | None = None


def _histogram(
    parsed: Parsed,
    source: ParsedFamily,
    rule: Rule,
    family: Family,
    mapping: dict[str, str],
    target: Target,
    acc: dict,
    kept: Kept,
) -> None:
    groups: dict[frozenset, _Histogram] = {}
    bucket_name, sum_name, count_name = source.name + "_bucket", source.name + "_sum", source.name + "_count"
    scale = rule.scale
    seen, before = kept.buckets, kept.previous_buckets
    for s in source.samples:
        name = s.name
        if name == bucket_name:
            labels = s.labels
            known = seen.get(id(labels)) or before.get(id(labels))
            if known is not None:  # it holds ``labels``: no other dict has that identity
                _, group, bound = seen[id(labels)] = known
            else:
                group, bound = _bucket(parsed, bucket_name, labels)
                seen[id(labels)] = (labels, group, bound)
            h = groups.get(group) or groups.setdefault(group, _Histogram())
            h.buckets[bound if scale == 1.0 else _scaled(bound, scale)] = float(s.value)
        elif name == sum_name or name == count_name:
            group = frozenset(s.labels.items())
            h = groups.get(group) or groups.setdefault(group, _Histogram())
            if name == sum_name:
                h.sum = _scaled(float(s.value), rule.scale)
            else:
                h.count = float(s.value)
    for group, h in groups.items():
        if math.inf not in h.buckets:
            raise TargetError("mismatch", f'{source.name}{_show_labels(group)} has no le="+Inf" bucket', parsed.line_of(source.name))
        if h.sum is None:
            raise TargetError("mismatch", f"{source.name}{_show_labels(group)} has buckets but no {sum_name}", parsed.line_of(source.name))
        buckets = tuple(sorted(h.buckets.items()))
        _check_buckets(parsed, source.name, group, buckets, h.count)
        count = h.count if h.count is not None else h.buckets[math.inf]
        key = _key(dict(group), mapping, family, target)
        have = acc.get(key)
        if have is None:
            acc[key] = (buckets, h.sum, count)
            continue
        have_buckets, have_sum, have_count = have
        if [b for b, _ in have_buckets] != [b for b, _ in buckets]:
            raise TargetError(
                "mismatch",
                f"{source.name}: series merged into one {family.name} series have different bucket bounds",
                parsed.line_of(source.name),
            )
        merged = tuple((b, c1 + c2) for (b, c1), (_, c2) in zip(have_buckets, buckets))
        acc[key] = (merged, have_sum + h.sum, have_count + count)


def _bucket(parsed: Parsed, bucket_name: str, labels: dict[str, str]) -> tuple[frozenset, float]:
    """A bucket sample's series labels (all but le) and its le as a number; a "mismatch" TargetError without one."""
    le = labels.get("le")
    if le is None:
        raise TargetError("mismatch", f"{bucket_name} without an le label", parsed.line_of(bucket_name))
    try:
        return frozenset(labels.items()) - {("le", le)}, float(le)
    except ValueError:
        raise TargetError("mismatch", f"{bucket_name}: le={le!r} is not a number", parsed.line_of(bucket_name)) from None


def _sum_count(
    parsed: Parsed, source: ParsedFamily, rule: Rule, family: Family, mapping: dict[str, str], target: Target, acc: dict
) -> None:
    """A histogram with only the +Inf bucket from a duration counter (sum) and a request counter (count)."""
    counts_family = parsed.get(rule.count_from)
    if not _has_samples(counts_family):
        return
    _check_type(parsed, source, rule, "scalar")
    sums: dict[Key, float] = {}
    counts: dict[Key, float] = {}
    for fam, into, scale in ((source, sums, rule.scale), (counts_family, counts, 1.0)):
        for s in fam.samples:
            if _bad_count(s.value):
                raise _invalid(parsed, s.name, s.labels.items(), f"is {s.value:g}: a counter is finite and not negative")
            key = _key(s.labels, mapping, family, target)
            into[key] = into.get(key, 0.0) + _scaled(float(s.value), scale)
    for key, total in sums.items():
        if key not in counts:
            continue
        have = acc.get(key)
        if have is None:
            acc[key] = (((math.inf, counts[key]),), total, counts[key])
        else:
            acc[key] = (((math.inf, have[2] + counts[key]),), have[1] + total, have[2] + counts[key])


def _check_buckets(
    parsed: Parsed, name: str, group: Iterable[tuple[str, str]], buckets: tuple[tuple[float, float], ...], count: float | None
) -> None:
    """Cumulative bucket counts finite, not negative and not decreasing; ``_count`` (when given) equal to +Inf's."""
    previous = 0.0
    for bound, n in buckets:
        if _bad_count(n):
            raise _invalid(parsed, name + "_bucket", (*group, ("le", _le(bound))), f"is {n:g}: a bucket count is finite and not negative")
        if n < previous:
            raise _invalid(
                parsed,
                name + "_bucket",
                (*group, ("le", _le(bound))),
                f"is {n:g}, below the previous bucket's {previous:g}: bucket counts are cumulative",
            )
        previous = n
    if count is not None and count != buckets[-1][1]:
        raise _invalid(parsed, name + "_count", group, f"is {count:g} but the +Inf bucket is {buckets[-1][1]:g}")


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else f"{bound:g}"


def _show_labels(group: Iterable[tuple[str, str]]) -> str:
    items = sorted(group)
    return "{" + ",".join(f'{k}="{v}"' for k, v in items) + "}" if items else ""


def _series(family: Family, adapter: Adapter, target: Target, acc: dict) -> Iterable[Series]:
    for key in sorted(acc):
        model, index, *extras = key
        labels = (("engine", adapter.engine), ("model", model), ("server", target.server))
        if index:
            labels += ((ENGINE_INDEX, index),)
        labels += tuple(zip(family.labels, extras))
        value = acc[key]
        if family.type == "histogram":
            buckets, total, count = value
            yield Series(family.name, labels, buckets=buckets, sum=total, count=count)
        else:
            yield Series(family.name, labels, value=value)


def cap(series: list[Series], max_samples: int) -> tuple[list[Series], int]:
    """Keep series in order while their exposition lines fit ``max_samples``; return them and the lines dropped.

    A histogram is kept or dropped whole. The order is :data:`FAMILIES` order, so the
    headline families (time to first token first) survive a cap.
    """
    kept: list[Series] = []
    used = dropped = 0
    for s in series:
        n = s.samples
        if used + n <= max_samples:
            kept.append(s)
            used += n
        else:
            dropped += n
    return kept, dropped
