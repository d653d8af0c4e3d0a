"""The fast path reads exactly what prometheus_client reads, and leaves it every line it cannot.

Two levels, each against the library itself:

* :func:`text_format.families` over a list of lines equals
  ``prometheus_client.parser.text_fd_to_metric_families`` over them (names, types, labels, values
  with their int/float type, timestamps), or is None where the library raises, for every engine
  fixture (the lines each adapter keeps, and all their TYPE and sample lines) and for lines altered
  by hand and by a seeded random edit;
* :func:`parse.read` gives the same families or the same error (kind, message, line) with the fast
  path as with it refused (``text_format.families`` answering None: the previous code path).

Both levels read every case also through a :class:`text_format.Heads` that has seen every capture's
lines (so an altered value behind a known head takes the lookup), and must give the same again.

Results are compared by ``repr``, which tells ``1`` from ``1.0``, ``0.0`` from ``-0.0`` and compares
``nan`` equal to itself.
"""

from __future__ import annotations

import random
import re

import pytest
from prometheus_client.parser import text_fd_to_metric_families

from axonize.sidecar import parse, text_format
from axonize.sidecar.engines import ADAPTERS
from axonize.sidecar.errors import TargetError
from tests.conftest import FIXTURES, SHARED


def captures() -> dict[str, str]:
    """Every engine /metrics capture in the repository and in ../shared/fixtures, once per content."""
    found: dict[str, str] = {}
    for folder in (FIXTURES / "inference", SHARED / "inference"):
        for path in sorted(folder.glob("*")) if folder.is_dir() else ():
            if path.suffix in (".prom", ".txt") and path.read_text() not in found.values():
                found[path.name] = path.read_text()
    return found


CAPTURES = captures()
VLLM = CAPTURES["vllm-0.33.0-v1.synthetic.prom"]


def library(lines: list[str]) -> str:
    """prometheus_client's families over ``lines`` as the fast path gives them, or its exception's class."""
    try:
        return repr([(m.name, m.type, m.samples) for m in text_fd_to_metric_families(iter(lines))])
    except Exception as exc:
        return type(exc).__name__


PLAIN_TYPE = re.compile(r"# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* [a-z]+")


def same(lines: list[str]) -> bool:
    """The fast path agrees with the library: equal families; or None (the caller then parses with the
    library) where the library raises, or for a comment line other than a plain ``# TYPE name type``
    (a sample line the fast path cannot read it hands to the library alone, so it never answers None for one)."""
    fast = text_format.families(lines)
    if repr(text_format.families(lines, HEADS)) != repr(fast):
        return False
    want = library(lines)
    if fast is not None:
        return repr(fast) == want
    return not want.startswith("[") or any(x.strip().startswith("#") and not PLAIN_TYPE.fullmatch(x.strip()) for x in lines)


def kept(text: str, engine: str) -> list[str]:
    adapter = ADAPTERS[engine]
    return parse.kept_lines(text, adapter.sample_names, adapter.type_names)


def typed_and_samples(text: str) -> list[str]:
    """Every line of ``text`` but HELP lines, other comments and blank lines."""
    return [x for x in text.splitlines() if x.strip() and (not x.startswith("#") or x.startswith("# TYPE "))]


def primed() -> text_format.Heads:
    """Heads that have read every capture's TYPE and sample lines, in the previous scrape's place."""
    heads = text_format.Heads()
    for text in CAPTURES.values():
        text_format.families(typed_and_samples(text), heads)
    heads.next_scrape()
    return heads


HEADS = primed()


def test_known_heads_are_read_by_lookup_and_give_the_same_samples():
    heads = primed()
    lines = kept(VLLM, "vllm")
    first = text_format.families(lines, heads)
    again = text_format.families(lines, heads)
    assert repr(first) == repr(again) == repr(text_format.families(lines)) and len(heads.current) > 150
    seen = {id(s.labels) for _, _, samples in first for s in samples}
    assert all(id(s.labels) in seen for _, _, samples in again for s in samples), "the second read looks its heads up"
    heads.next_scrape()
    heads.next_scrape()
    assert not heads.current and not heads.previous, "heads not seen for two scrapes are forgotten"


def test_the_fixtures_are_found():
    assert {"vllm-0.32.0-cpu-real.prom", "vllm-0.32.0-cpu-real-workload.prom", "tgi-3.3.7-v3.synthetic.prom"} <= set(CAPTURES)
    assert {n.split("-")[0] for n in CAPTURES} >= {"vllm", "tgi", "sglang", "triton", "llamacpp"}


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_every_capture_reads_the_same_and_entirely_on_the_fast_path(name):
    text = CAPTURES[name]
    for engine in ADAPTERS:
        lines = kept(text, engine)
        assert text_format.families(lines) is not None, (name, engine)  # no line of a real capture is left over
        assert same(lines), (name, engine)
    assert same(typed_and_samples(text)), name


# One fixture line per case, altered; each must read as the library reads it (or be refused where it raises).
SAMPLE = 'vllm:prompt_tokens_total{engine="0",model_name="m"} 12.0'
CASES = [
    # values
    *(SAMPLE.replace("12.0", v) for v in ("NaN", "nan", "+Inf", "-Inf", "inf", "Infinity", "1e-3", "1E+5", "-0", "-0.0", "+7", "007")),
    *(SAMPLE.replace("12.0", v) for v in ("0x10", "1_000", "twelve", "", "1..2", "\u0663", "1e", "++1", "Inf5")),
    SAMPLE.replace("12.0", "9" * 5000),  # over int()'s 4,300 digits: float, as the library does
    SAMPLE + " 1700000000000",  # a timestamp in milliseconds
    SAMPLE + " 1.7e12",
    SAMPLE + " " + "9" * 400,  # a timestamp over float's range: the library raises OverflowError
    SAMPLE + " x",
    SAMPLE + " 1 2",
    SAMPLE + ' # {trace_id="abc"} 1.0 1700000000',  # an OpenMetrics exemplar
    SAMPLE.replace(" ", "\t"),
    SAMPLE.replace(" ", "  "),
    SAMPLE + "   ",
    SAMPLE.replace("} ", "}"),
    # label values: escapes, and characters the format allows in them
    *(SAMPLE.replace('model_name="m"', f'model_name="{v}"') for v in ("a\\\\b", 'a\\"b', "a\\nb", "a\\tb", "a\\", '\\\\"', "")),
    *(SAMPLE.replace('model_name="m"', f'model_name="{v}"') for v in ("a,b=c", "a}b", "a{b", "a b", "a#b", "caf\u00e9", "a__b", ",__x")),
    # label names and the braces
    SAMPLE.replace("model_name", "__name__"),
    SAMPLE.replace("model_name", "__x"),
    SAMPLE.replace("model_name", "a:b"),
    SAMPLE.replace("model_name", "0a"),
    SAMPLE.replace("model_name", "engine"),  # the same label twice
    SAMPLE.replace('"m"}', '"m",}'),
    SAMPLE.replace('"m"}', '"m",,}'),
    SAMPLE.replace(",", ", "),
    SAMPLE.replace("{", "{ "),
    SAMPLE.replace('engine="0"', "engine=0"),
    SAMPLE.replace('"m"}', '"m"'),
    SAMPLE.replace('"m"}', '"m}'),
    SAMPLE.split("{")[0] + "{} 12.0",
    SAMPLE.split("{")[0] + " 12.0",
    SAMPLE.split("{")[0] + "{",
    SAMPLE.split("{")[0],
    '{__name__="vllm:prompt_tokens_total",engine="0"} 1',
]
TYPED = ["# TYPE vllm:prompt_tokens counter", "# TYPE vllm:prompt_tokens_total counter", "# TYPE vllm:prompt_tokens gauge"]
HISTOGRAM = [
    "# TYPE vllm:e2e_request_latency_seconds histogram",
    'vllm:e2e_request_latency_seconds_bucket{le="0.5"} 1',
    'vllm:e2e_request_latency_seconds_bucket{le="+Inf"} 2',
    "vllm:e2e_request_latency_seconds_sum 0.5",
    "vllm:e2e_request_latency_seconds_count 2",
]


@pytest.mark.parametrize("line", CASES, ids=range(len(CASES)))
def test_an_altered_sample_line_reads_as_the_library_reads_it(line):
    assert same([line])
    for type_line in TYPED:
        assert same([type_line, line]) and same([type_line, SAMPLE, line])
    assert same(HISTOGRAM[:2] + [line] + HISTOGRAM[2:])


@pytest.mark.parametrize(
    "lines",
    [
        HISTOGRAM,
        ["# TYPE vllm:x summary", 'vllm:x{quantile="0.5"} 1', "vllm:x_sum 2", "vllm:x_count 3"],
        ["# TYPE vllm:x counter", "vllm:x_total 1", "# TYPE vllm:x counter", "vllm:x_total 2"],  # TYPE twice
        ["# TYPE vllm:x counter", "vllm:x 1", "vllm:y 2", "vllm:x 3"],  # untyped between: a family per line
        ["# TYPE vllm:x gauge", "vllm:x 1", "# TYPE vllm:y gauge", "vllm:y 2"],
        *([f"# TYPE vllm:x {t}", "vllm:x 1"] for t in ("untyped", "unknown", "info", "stateset", "gaugehistogram", "bogus")),
        ["# TYPE vllm:x  counter", "vllm:x 1"],
        ["# TYPE vllm:x counter extra", "vllm:x 1"],
        ["# TYPE vllm:x\tcounter", "vllm:x 1"],
        ["# TYPE vllm:x", "vllm:x 1"],
        ["# TYPE vllm:x{a} counter", "vllm:x 1"],
        ["# TYPE _total counter", "_total 1"],
        ["# HELP vllm:x some text", "vllm:x 1"],
    ],
    ids=lambda lines: lines[0],
)
def test_type_lines_group_families_as_the_library_does(lines):
    assert same(lines)


def test_randomly_edited_lines_read_as_the_library_reads_them():
    """3,000 fixture lines with 1-3 characters inserted, replaced or deleted from the format's own alphabet."""
    rng = random.Random(16)
    lines = typed_and_samples(VLLM) + typed_and_samples(CAPTURES["tgi-3.3.7-v3.synthetic.prom"])
    alphabet = '"\\{},= \t#_:.eE+-019naNIf\u00e9'
    disagree = []
    for _ in range(3000):
        at = rng.randrange(len(lines))
        chars = list(lines[at])
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(chars) + 1)
            op = rng.choice("irdr")
            if op == "i":
                chars.insert(i, rng.choice(alphabet))
            elif chars and i < len(chars):
                chars[i : i + 1] = [rng.choice(alphabet)] if op == "r" else []
        window = lines[max(0, at - 3) : at] + ["".join(chars)] + lines[at + 1 : at + 3]
        if not same(window):
            disagree.append(window)
    assert not disagree, disagree[:3]


# -- through parse.read: same families, or the same error, with the fast path and without ---------------


def read_both(text: str, engine: str, monkeypatch) -> tuple[str, str]:
    adapter = ADAPTERS[engine]

    def outcome(heads=None) -> str:
        try:
            parsed = parse.read(text, adapter.sample_names, adapter.type_names, heads=heads)
        except TargetError as exc:
            return f"TargetError {exc.kind} {exc.line} {exc}"
        return repr([(f.name, f.type, f.samples) for f in parsed.families.values()])

    fast = outcome()
    heads = primed()
    for _ in range(2):  # the heads of every capture, then those of this text as well
        assert outcome(heads) == fast
    with monkeypatch.context() as m:
        m.setattr(text_format, "families", lambda lines, heads=None: None)
        return fast, outcome()


@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_read_gives_the_same_families_or_error_for_every_capture(name, monkeypatch):
    for engine in ADAPTERS:
        fast, library_only = read_both(CAPTURES[name], engine, monkeypatch)
        assert fast == library_only, (name, engine)


@pytest.mark.parametrize("line", CASES, ids=range(len(CASES)))
def test_read_gives_the_same_families_or_error_for_an_altered_line_in_a_vllm_scrape(line, monkeypatch):
    body = VLLM.splitlines()
    at = next(i for i, x in enumerate(body) if x.startswith("vllm:prompt_tokens_total{"))
    for lines in (body[:at] + [line] + body[at + 1 :], body[: at + 1] + [line] + body[at + 1 :]):
        fast, library_only = read_both("\n".join(lines) + "\n", "vllm", monkeypatch)
        assert fast == library_only


def test_errors_keep_their_message_and_line():
    """The messages users see, as they read before the fast path (its refusals go to the library)."""
    body = VLLM.splitlines()
    at = next(i for i, x in enumerate(body) if x.startswith("vllm:prompt_tokens_total{"))
    adapter = ADAPTERS["vllm"]
    for broken, words in (
        (body[at].rsplit(" ", 1)[0] + " twelve", "could not convert string to float: 'twelve'"),
        (body[at].replace('engine="0"', "engine=0"), "Invalid labels: engine=0,"),
        (body[at].replace('engine="0"', 'engine="0",engine="1"'), "Invalid labels: engine="),
    ):
        with pytest.raises(TargetError) as err:
            parse.read("\n".join(body[:at] + [broken] + body[at + 1 :]), adapter.sample_names, adapter.type_names)
        assert (err.value.kind, err.value.line) == ("parse", at + 1) and words in str(err.value), str(err.value)
