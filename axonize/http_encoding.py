"""Content negotiation for the exposition: gzip or identity, from ``Accept-Encoding`` (RFC 9110 §12.5.3).

A scrape gets gzip when the client finds it at least as acceptable as no coding::

    Accept-Encoding: gzip                   -> gzip
    Accept-Encoding: gzip;q=0               -> identity  (q=0: "not acceptable")
    Accept-Encoding: gzip;q=0.5, identity   -> identity  (identity preferred)
    Accept-Encoding: *                      -> gzip
    Accept-Encoding: *;q=0, identity        -> identity
    (no header, or an empty one)            -> identity

When neither is acceptable (``identity;q=0`` and no gzip) the response is sent
without a coding, as the RFC says a server SHOULD rather than fail. aiohttp's own
check (``"gzip" in header``) ignores q-values, hence this parser.
"""

from __future__ import annotations

import re

_QVALUE = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z")


def accepted_codings(header: str) -> dict[str, float]:
    """``"gzip;q=0.8, br"`` -> ``{"gzip": 0.8, "br": 1.0}``; names lower-cased, ``x-gzip`` read as ``gzip``.

    Elements with a malformed weight (``q=2``, ``q=abc``) are skipped, as is an
    empty element; a coding listed twice keeps its highest weight.
    """
    codings: dict[str, float] = {}
    for element in header.split(","):
        name, _, params = element.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        weight: float | None = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                value = value.strip()
                weight = float(value) if _QVALUE.match(value) else None
        if weight is None:
            continue
        name = "gzip" if name == "x-gzip" else name
        codings[name] = max(weight, codings.get(name, 0.0))
    return codings


def wants_gzip(header: str | None) -> bool:
    """True when the response should be gzip-coded for this ``Accept-Encoding`` value (None: header absent)."""
    if not header:
        return False  # absent: anything goes, and identity is the safe choice; empty: identity only
    codings = accepted_codings(header)
    star = codings.get("*")
    gzip_q = codings.get("gzip", star if star is not None else 0.0)
    identity_q = codings.get("identity", star if star is not None else 1.0)
    return gzip_q > 0 and gzip_q >= identity_q
