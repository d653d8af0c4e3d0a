"""Why a target could not be read this cycle: one error kind per failure, counted per server.

The kinds are the values of ``axonize_sidecar_target_errors_total{kind}``:

* ``connect``: connection refused, reset or name not resolved;
* ``timeout``: no complete answer within ``--collect.timeout``;
* ``http``: an answer other than 200, or a body larger than the limit;
* ``parse``: the body is not the Prometheus text format (the message names the line);
* ``mismatch``: the text parses but a family the engine's table maps has the wrong shape
  (an untyped "histogram", a histogram without its ``+Inf`` bucket, bucket bounds that differ
  between series merged into one);
* ``engine``: no known engine's metrics in the exposition (or none of the configured engine's);
* ``internal``: a bug in the sidecar, logged with its traceback.
"""
from __future__ import annotations

KINDS = ("connect", "timeout", "http", "parse", "mismatch", "engine", "internal")


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
