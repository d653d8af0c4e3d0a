"""Why a target could not be read this cycle: one error kind per failure, counted per server.

The kinds are the values of ``axonize_sidecar_target_errors_total{kind}``. A failed scrape
(``axonize_inference_target_up 0``, its normalized series withdrawn) is one of:

* ``connect``: connection refused, reset or name not resolved;
* ``timeout``: no complete answer, or its text not read and normalized, within ``--collect.timeout``;
* ``http``: an answer other than 200 (a redirect too: it is not followed; the message names the
  status and ``Location``), or a body larger than the limit (:data:`axonize.sidecar.scrape.MAX_BODY_BYTES`);
* ``parse``: the body is not the Prometheus text format: a malformed line, a sample line that is not
  UTF-8, or a series (name and label set) that appears twice, which Prometheus would not ingest
  either (the message names the line);
* ``mismatch``: the text parses but a family the engine's table maps has the wrong shape
  (an untyped "histogram", a histogram without its ``+Inf`` bucket, bucket bounds that differ
  between series merged into one);
* ``engine``: no known engine's metrics in the exposition (or none of the configured engine's);
* ``internal``: a bug in the sidecar, logged with its traceback.

One kind does not fail the scrape:

* ``invalid``: a mapped family whose values break its type's rules (a NaN, infinite or negative
  counter; histogram buckets whose cumulative counts decrease, or a ``_count`` other than the
  ``+Inf`` bucket's). That family is left out of this target's series for the cycle and the
  rest is served: as Prometheus drops the samples it cannot ingest and keeps the scrape, and
  so that one broken family does not blank the target's dashboards. Counted once per family.
"""

from __future__ import annotations

KINDS = ("connect", "timeout", "http", "parse", "mismatch", "engine", "internal", "invalid")


class TargetError(Exception):
    """A target's scrape or exposition failed; ``kind`` is one of :data:`KINDS`, ``line`` 1-based or 0."""

    def __init__(self, kind: str, message: str, line: int = 0):
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message
