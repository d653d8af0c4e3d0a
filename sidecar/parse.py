"""Read an engine's /metrics text: the lines an adapter maps, parsed as prometheus_client parses them.

:func:`read` makes one pass over the text that looks only at each line's metric
name: lines the adapter does not read (python/process/http metrics, ``*_created``
series, HELP text, a histogram's ``_count``, TYPE lines of counters and gauges)
are skipped, the rest are parsed by :func:`axonize.sidecar.text_format.families`
(compiled regular expressions, 2-3 µs a line) with
:func:`prometheus_client.parser.text_fd_to_metric_families` (10-15 µs a line) for
whatever it leaves. Skipping before parsing and the fast path keep a vLLM scrape
(600 lines, a third of them mapped) near 1 ms of CPU, and 0.5 ms when the target's
:class:`~axonize.sidecar.text_format.Heads` have seen its label sets in an earlier scrape
(benchmarks/sidecar_normalize.py; the whole target scrape, HTTP and rendering included:
benchmarks/sidecar_targets.py).

Errors name the line (1-based, in the scraped text): a line that is not a
comment and does not start with a metric name (``...`` in an excerpt, a stray
word) is refused even in a family nobody maps, since it means the body is not an
exposition at all; a mapped line the parser refuses is located by parsing the
kept lines one by one. Other lines of unmapped families are not checked.

Like Prometheus, a series (sample name and label set) that appears twice among the
mapped lines fails the scrape ("parse", naming the second line) rather than being summed.

The body arrives as bytes (:func:`decode`): UTF-8, except that a comment with a bad byte
(a HELP text in Latin-1) is read with U+FFFD in its place; a bad byte in a sample line is a
"parse" error naming the line. :func:`read` takes a ``deadline`` (``time.monotonic()``
seconds): the parser checks it every :data:`CHECK_EVERY` lines and gives up with a
"timeout" error, so the worker thread that parses a huge body stops soon after its
target's deadline instead of holding the GIL for seconds.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from prometheus_client.parser import text_fd_to_metric_families, text_string_to_metric_families
from prometheus_client.samples import Sample

from . import text_format
from .errors import TargetError

_SHOWN = 120  # characters of an offending line quoted in an error
CHECK_EVERY = 1024  # lines parsed between two looks at the deadline (3 ms of parsing, 10 ms by prometheus_client)


@dataclass
class Family:
    """The samples of one parsed family. ``type`` is prometheus_client's ("counter", "gauge",
    "histogram", "summary", "unknown", ...); counters are named without ``_total``,
    their samples with it. Families a parser yields more than once (untyped samples
    without a TYPE line come one per line) are merged."""

    name: str
    type: str
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Parsed:
    """``families`` by name, and the text they came from (to name lines in errors)."""

    families: dict[str, Family]
    text: str = ""

    def get(self, name: str) -> Family | None:
        """The family exposed as ``name``: ``vllm:prompt_tokens_total`` finds prometheus_client's ``vllm:prompt_tokens``."""
        fam = self.families.get(name)
        if fam is None and name.endswith("_total"):
            fam = self.families.get(name[:-6])
            if fam is not None and fam.type != "counter":
                return None
        return fam

    def line_of(self, name: str) -> int:
        """The 1-based line of the first sample of ``name`` (or its _bucket, _count, _sum, _total form); 0 if none."""
        m = re.search(r"^" + re.escape(name) + r"(?:_bucket|_count|_sum|_total)?[{ \t]", self.text, re.MULTILINE)
        return _line_at(self.text, m.start()) if m else 0


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _shown(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _SHOWN else line[: _SHOWN - 3] + "..."


def _trie(words: list[str]) -> str:
    """A regular expression matching exactly ``words``, factored by common prefix (fast on shared prefixes)."""
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        parts = [re.escape(ch) + emit(sub) for ch, sub in sorted(node.items()) if ch]
        if not parts:
            return ""
        body = parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)


@lru_cache(maxsize=64)
def _selector(samples: frozenset[str], types: frozenset[str]) -> re.Pattern:
    """Sample lines whose name is in ``samples``, and TYPE lines of the families in ``types``: group 1 of
    each match in ``"\n" + text`` (a literal newline to search for is 3x faster than ``^`` in MULTILINE)."""
    pattern = _trie(sorted(samples))
    if types:
        pattern = f"(?:# TYPE {_trie(sorted(types))}|{pattern})"
    return re.compile(r"\n(" + pattern + r"(?=[{ \t]).*)")


def kept_lines(text: str, samples: frozenset[str], types: frozenset[str] = frozenset()) -> list[str]:
    """The lines :func:`read` parses, without their newlines: sample lines named in ``samples``, TYPE lines of ``types``."""
    return _selector(samples, types).findall("\n" + text)


def _kept(text: str, selector: re.Pattern) -> Iterator[tuple[int, str]]:
    """(offset in ``text``, line) of each line ``selector`` keeps."""
    for m in selector.finditer("\n" + text):
        yield m.start(1) - 1, m.group(1)


# A line that starts with neither a metric name, a comment, a quoted name's brace nor white space
# (group 1, searched in "\n" + text as the selector is).
_NOT_A_LINE = re.compile(r"\n([^#a-zA-Z_:{\s].*)")


def decode(body: bytes) -> str:
    """A scraped body as text: UTF-8, comments with bad bytes replaced (U+FFFD).

    Raises :class:`TargetError` ("parse") naming the first sample line that is not UTF-8.
    """
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines = body.split(b"\n")
    for number, raw in enumerate(lines, 1):
        try:
            lines[number - 1] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if raw.lstrip().startswith(b"#"):
                lines[number - 1] = raw.decode("utf-8", errors="replace")
                continue
            shown = _shown(raw.decode("utf-8", errors="replace"))
            raise TargetError("parse", f"not UTF-8 (byte {exc.start + 1} of the line): {shown!r}", number) from None
    return "\n".join(lines)


def _until(lines: list[str], deadline: float | None) -> Iterator[str]:
    """``lines``, raising a "timeout" TargetError once ``deadline`` (monotonic seconds) has passed."""
    if deadline is None:
        yield from lines
        return
    for start in range(0, len(lines), CHECK_EVERY):
        if time.monotonic() > deadline:
            raise TargetError("timeout", f"parsing was cut at the deadline, line {start} of {len(lines)} kept lines")
        yield from lines[start : start + CHECK_EVERY]


def read(
    text: str,
    samples: frozenset[str],
    types: frozenset[str] = frozenset(),
    deadline: float | None = None,
    heads: text_format.Heads | None = None,
) -> Parsed:
    """Parse the sample lines of ``text`` named in ``samples`` (``x_total``, ``x_bucket``, ``x_sum``, ...)
    and the TYPE lines of the families in ``types``. Samples without a kept TYPE line come out
    untyped, one family per name. ``heads``: the target's :class:`~axonize.sidecar.text_format.Heads`,
    to read the lines whose text before the value it has seen by a lookup (the result is the same).

    Raises :class:`TargetError`: kind "parse" naming the line for text that is not the exposition
    format or that repeats a series; kind "timeout" once ``deadline`` (``time.monotonic()``) passes.
    """
    lined = "\n" + text  # the selectors search for a newline before each line: the first has one too
    bad = _NOT_A_LINE.search(lined)
    if bad is not None:
        raise TargetError("parse", f"not a metric sample or comment: {_shown(bad.group(1))!r}", _line_at(text, bad.start(1) - 1))
    selector = _selector(samples, types)
    kept = selector.findall(lined)
    if heads is not None:
        heads.next_scrape()
    found = text_format.families(_until(kept, deadline), heads)
    if found is None:  # a line the fast path leaves to prometheus_client: parse all with it, for its error
        try:
            found = [(m.name, m.type, m.samples) for m in text_fd_to_metric_families(_until(kept, deadline))]
        except TargetError:
            raise
        except Exception as exc:  # the parser raises ValueError, and IndexError on some truncated lines
            raise _locate(text, selector, exc) from None
    families: dict[str, Family] = {}
    for name, typ, found_samples in found:
        fam = families.get(name)
        if fam is None:
            families[name] = Family(name, typ, list(found_samples))
        else:
            fam.samples.extend(found_samples)
            if fam.type == "unknown":
                fam.type = typ
    _refuse_duplicates(text, selector, families)
    return Parsed(families, text)


def _refuse_duplicates(text: str, selector: re.Pattern, families: dict[str, Family]) -> None:
    """A "parse" TargetError naming the second line of the first series (name and labels) seen twice."""
    for fam in families.values():
        seen: set[tuple[str, frozenset]] = set()
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            if key in seen:
                line = _second_line(text, selector, s)
                shown = s.name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"
                raise TargetError("parse", f"duplicate series {shown}: a series may appear once per scrape", line)
            seen.add(key)


def _second_line(text: str, selector: re.Pattern, sample: Sample) -> int:
    """The line of the second kept sample line that reads as ``sample``'s series; 0 if not found."""
    names = {sample.name, sample.name[:-6]} if sample.name.endswith("_total") else {sample.name}
    found = 0
    for offset, line in _kept(text, selector):
        if line.startswith("#") or line.split("{", 1)[0].split()[0] not in names:
            continue
        for fam in text_string_to_metric_families(line):
            if any(s.labels == sample.labels for s in fam.samples):
                found += 1
                if found == 2:
                    return _line_at(text, offset)
    return 0


def _locate(text: str, selector: re.Pattern, exc: Exception) -> TargetError:
    """The first kept line the parser refuses on its own, as a parse error naming it."""
    for offset, line in _kept(text, selector):
        try:
            list(text_string_to_metric_families(line))
        except Exception as line_exc:
            reason = str(line_exc) or type(line_exc).__name__
            if _shown(line) in reason:
                reason = type(line_exc).__name__
            return TargetError("parse", f"{reason}: {_shown(line)!r}", _line_at(text, offset))
    return TargetError("parse", f"not the Prometheus text format: {exc or type(exc).__name__}")
