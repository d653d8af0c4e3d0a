"""The Prometheus text format's common lines read by compiled regular expressions, prometheus_client for the rest.

:func:`families` gives exactly what
:func:`prometheus_client.parser.text_fd_to_metric_families` yields over the lines
:func:`axonize.sidecar.parse.read` keeps (``# TYPE`` lines and sample lines), at about
a fifth of its cost: the library walks each line character by character in Python
(10-15 µs a line); here two regular expression matches read the plain form
``name{label="value",...} value [timestamp]`` and the sample is built in 2-3 µs.

What the fast path reads, it reads as the library does: values through ``int()``, else
``float()`` (so ``3`` stays an int, ``NaN``, ``+Inf``, ``1e-3`` are floats), a timestamp
in seconds (the text's milliseconds / 1000), label values unescaped for ``\\\\``, ``\\"``
and ``\\n`` only, counters named without ``_total`` and their samples with it, untyped
families typed "unknown". Everything else goes to the library: a sample line in another
form (spaces around labels, a tab, an exemplar after ``#``, a label named ``__name__``,
another escape) is parsed by prometheus_client on its own (a sample line's parse does not
depend on the lines before it), and a ``# TYPE`` line in another form, a line the library
refuses, or a family the library would refuse makes :func:`families` answer None so the
caller parses with the library and reports its error, message and line unchanged.
tests/sidecar/test_text_format.py holds the two paths equal over every engine fixture and
thousands of altered lines.

A target's label sets stay while its values move, so a :class:`Heads` kept per target
remembers, for each sample line the regular expressions read, its text before the value
(``name{label="value",...}``) with the name and labels read from it: a later line that is
that text, one space and a value token is read by a dict lookup and the value's conversion
(Prometheus keeps a scrape cache keyed by the same text for the same reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from sys import intern

from prometheus_client.metrics_core import METRIC_TYPES
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

Found = tuple[str, str, list[Sample]]  # (family name, type, samples), as prometheus_client's Metric has them

_VALUE = r'[^"\\]*+(?:\\[\\n"][^"\\]*+)*+'  # a quoted label value's inside: escapes \\ \" \n only
_LABEL = rf'[a-zA-Z_][a-zA-Z0-9_]*+="{_VALUE}"'
_NUMBER = r"[0-9A-Za-z.+-]+"  # a token float() may read (it decides); an integer is matched apart, for int()
_SAMPLE = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*+)(?:\{{((?:{_LABEL}(?:,{_LABEL})*+,?)?)\}})? (?:([+-]?[0-9]+)|({_NUMBER}))(?: ({_NUMBER}))?"
)
_VALUE_TOKEN = re.compile(rf"(?:([+-]?[0-9]+)|({_NUMBER}))")  # the value alone, as _SAMPLE reads it
_PAIR = re.compile(rf'([a-zA-Z_][a-zA-Z0-9_]*+)="({_VALUE})"')
_ESCAPE = re.compile(r'\\[\\n"]')
_UNESCAPED = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}
_TYPE = re.compile(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ([a-z]+)")
_TYPES = frozenset(METRIC_TYPES) | {"untyped"}
_SUFFIXES = {"counter": ("",), "gauge": ("",), "summary": ("_count", "_sum", ""), "histogram": ("_count", "_sum", "_bucket")}


class _Refused(Exception):
    """A line or family the fast path leaves to prometheus_client's whole-text parse."""


class Heads:
    """One target's sample lines read before: ``name{labels}`` text -> (name, labels), for its next scrape.

    Holds the heads of the last two scrapes (:meth:`next_scrape` starts one), so label sets that
    go away are forgotten two scrapes later. The samples built from one share its labels dict:
    nobody may change a sample's labels. Every entry is what the regular expressions read from
    its text, so two threads reading one target at once (a scrape that outlived its deadline)
    can lose entries but never store a wrong one.
    """

    __slots__ = ("current", "previous")

    def __init__(self) -> None:
        self.current: dict[str, tuple[str, dict[str, str]]] = {}
        self.previous: dict[str, tuple[str, dict[str, str]]] = {}

    def next_scrape(self) -> None:
        """Forget the heads not seen since the previous call (call once per scrape of the target)."""
        self.previous, self.current = self.current, {}


def families(lines: Iterable[str], heads: Heads | None = None) -> list[Found] | None:
    """The families prometheus_client yields over ``lines``, in its order; None when it must parse them itself.

    ``lines``: each a ``# TYPE`` line or a sample line (no HELP lines, which
    :func:`~axonize.sidecar.parse.read` never keeps), without its newline. ``heads``: the target's
    lines read before (see :class:`Heads`); updated. Exceptions raised while iterating ``lines``
    (the caller's deadline) pass through.
    """
    found: list[Found] = []
    name, typ, samples, allowed = "", "untyped", [], ()
    try:
        for line in lines:
            line = line.strip()
            if line.startswith("#"):
                candidate, new_type = _type_line(line)
                if candidate != name:
                    if name:
                        found.append(_family(name, typ, samples))
                    name, samples = candidate, []
                typ = new_type
                allowed = tuple(name + suffix for suffix in _SUFFIXES.get(typ, ("",)))
            elif line:
                sample = _sample(line, heads)
                if sample.name in allowed:
                    samples.append(sample)
                    continue
                if name:
                    found.append(_family(name, typ, samples))
                name, typ, samples, allowed = "", "untyped", [], ()
                found.append(_family(sample.name, "untyped", [sample]))
        if name:
            found.append(_family(name, typ, samples))
    except _Refused:
        return None
    return found


def _type_line(line: str) -> tuple[str, str]:
    """``# TYPE name type`` as (name, type); other comment forms are refused."""
    m = _TYPE.fullmatch(line)
    if m is None or m[2] not in _TYPES:
        raise _Refused
    return m[1], m[2]


def _family(name: str, typ: str, samples: list[Sample]) -> Found:
    """A family as prometheus_client's parser builds it: a counter without ``_total``, its samples with it."""
    if typ == "counter":
        if name.endswith("_total"):
            name = name[:-6]
        else:
            samples = [s._replace(name=s.name + "_total") for s in samples]
    if not name:  # prometheus_client: "metric name cannot be empty"
        raise _Refused
    return name, "unknown" if typ == "untyped" else typ, samples


def _sample(line: str, heads: Heads | None = None) -> Sample:
    """One stripped sample line: the plain form here (by its head when ``heads`` knows it), any other by prometheus_client alone."""
    if heads is not None:
        head, _, token = line.rpartition(" ")
        known = heads.current.get(head)
        if known is None:
            known = heads.previous.get(head)
            if known is not None:
                heads.current[head] = known
        if known is not None:  # the same text as a line _SAMPLE read: it reads head + " " + token as this
            m = _VALUE_TOKEN.fullmatch(token)
            if m is not None:
                return Sample(known[0], known[1], _value(*m.groups()), None)
    m = _SAMPLE.fullmatch(line)
    if m is None:
        return _library_sample(line)
    name, inside, integer, number, timestamp = m.groups()
    labels = {}
    if inside:
        pairs = _PAIR.findall(inside)
        labels = dict(pairs)
        if len(labels) != len(pairs) or inside.startswith("__") or ",__" in inside:
            return _library_sample(line)  # a repeated label name (refused) or a reserved one (``__name__``)
        if "\\" in inside:
            labels = {k: _ESCAPE.sub(_unescaped, v) for k, v in pairs}
    sample = Sample(name, labels, _value(integer, number), None if timestamp is None else _timestamp(timestamp))
    if heads is not None:  # kept for the scrapes to come, with one copy of each name and label string
        name, labels = heads.current[line[: m.start(3 if integer is not None else 4) - 1]] = (
            intern(name),
            {intern(k): intern(v) for k, v in labels.items()},
        )
        sample = sample._replace(name=name, labels=labels)
    return sample


def _value(integer: str | None, number: str | None) -> int | float:
    """A sample value from _SAMPLE's groups; _Refused where float() refuses the token (the library refuses it too)."""
    try:
        return _number(integer) if integer is not None else float(number)
    except (ValueError, OverflowError):
        raise _Refused from None


def _timestamp(token: str) -> float:
    """A timestamp in seconds; _Refused where the library refuses it (not a number, or over float's range)."""
    try:
        return _number(token) / 1000
    except (ValueError, OverflowError):
        raise _Refused from None


def _unescaped(m: re.Match) -> str:
    return _UNESCAPED[m.group()]


def _number(token: str) -> int | float:
    """A value as prometheus_client reads it: ``int()`` if it can, else ``float()`` (ValueError if neither)."""
    try:
        return int(token)
    except ValueError:  # not an integer, or one over int()'s 4,300 digits
        return float(token)


def _library_sample(line: str) -> Sample:
    """The sample prometheus_client reads from ``line`` on its own; _Refused if it refuses it."""
    try:
        (metric,) = text_string_to_metric_families(line)
        (sample,) = metric.samples
    except Exception:  # ValueError, IndexError on some truncated lines: the caller's parse reports it
        raise _Refused from None
    return sample
