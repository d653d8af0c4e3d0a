"""What a target's scrapes keep for its next (:class:`~axonize.sidecar.normalize.Kept`) changes no result.

Scrape after scrape, with the values moved and the label sets changed between scrapes (one target
whose engine is restarted, upgraded, replaced: every engine capture in turn), :func:`normalize` with
the target's ``Kept`` gives the series, problems and errors it gives without one. Results are
compared by ``repr``, which tells ``1`` from ``1.0`` and ``0.0`` from ``-0.0``.
"""

from __future__ import annotations

from axonize.sidecar.errors import TargetError
from axonize.sidecar.normalize import Kept, normalize
from axonize.sidecar.targets import Target
from tests.sidecar.test_text_format import CAPTURES, VLLM

TARGET = Target(url="http://gpu-1:8000/metrics", server="gpu-1:8000", model="m")


def moved(text: str, k: int) -> str:
    """``text`` with every sample value + k (integers stay integers; NaN, infinities and odd tokens stay)."""
    lines = []
    for line in text.split("\n"):
        head, _, value = line.rpartition(" ")
        try:
            lines.append(line if line.startswith("#") or not head else f"{head} {int(value) + k}")
        except ValueError:
            try:
                lines.append(f"{head} {float(value) + k!r}")
            except ValueError:
                lines.append(line)
    return "\n".join(lines)


def outcome(text: str, kept: Kept | None = None) -> tuple:
    problems: list[TargetError] = []
    try:
        adapter, series = normalize(text, TARGET, problems=problems, kept=kept)
    except TargetError as exc:
        return ("error", exc.kind, exc.line, str(exc))
    return (adapter.engine, repr(series), [(p.kind, p.line, str(p)) for p in problems])


def test_every_capture_normalizes_the_same_with_what_earlier_scrapes_kept():
    kept = Kept()
    for name, text in sorted(CAPTURES.items()):
        for k in (0, 0, 1, 7, 7):
            body = moved(text, k)
            assert outcome(body, kept) == outcome(body), (name, k)


def test_a_second_scrape_finds_its_label_sets_kept():
    kept = Kept()
    outcome(VLLM, kept)
    outcome(moved(VLLM, 3), kept)
    assert len(kept.buckets) > 150 and kept.buckets == kept.previous_buckets, "every bucket's label set found again"
    assert kept.heads.current.keys() == kept.heads.previous.keys()
