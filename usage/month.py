"""A calendar month as a UTC time range: ``2026-11`` -> [2026-11-01T00:00Z, 2026-12-01T00:00Z).

A month not over yet ends now (a statement to date); one that has not begun is an error.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

UTC = dt.UTC


@dataclass(frozen=True)
class Month:
    """``name`` (``2026-11``), ``start`` and ``end`` (Unix seconds, UTC); ``complete`` False for a month to date."""

    name: str
    start: int
    end: int
    complete: bool

    @property
    def seconds(self) -> int:
        return self.end - self.start


def parse(text: str, now: float) -> Month:
    """The month ``YYYY-MM`` as of Unix time ``now``; ValueError naming the text for a bad or future month."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"--month {text!r}: expected YYYY-MM, e.g. 2026-11")
    year, month = int(m.group(1)), int(m.group(2))
    start = dt.datetime(year, month, 1, tzinfo=UTC)
    after = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    start_s, end_s = int(start.timestamp()), int(after.timestamp())
    if start_s >= now:
        raise ValueError(f"--month {text}: it has not begun (it starts {start:%Y-%m-%d %H:%M} UTC)")
    complete = end_s <= now
    return Month(text.strip(), start_s, end_s if complete else int(now), complete)


__all__ = ["Month", "parse"]
