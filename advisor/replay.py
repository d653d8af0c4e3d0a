"""Offline inputs -> samples: nvidia-smi captures through the exporter's own replay, saved /metrics texts as they are.

``axonize advise --replay FILES...`` takes what the exporter's ``--replay`` takes (one host's ``nvidia-smi -q``
or ``-q -x`` report, optionally ``topo -m`` and ``-L``) and, beside them, saved ``/metrics`` texts of the
exporter or the sidecar, told apart by content (:func:`is_exposition`), never by name. The captures are read
by running the exporter's public command line as a subprocess::

    python -m axonize.exporter --replay FILES... --print [--replay.hostname NAME] [--cost.config FILE]

so the advisor reads exactly the series the exporter serves (the advisor does not import the exporter:
components share only the ``axonize`` core). Its output and each saved text go through
:func:`.samples.parse_text`.

Errors: :class:`ReplayError` (a ValueError) naming the file: unreadable, the exporter refusing it (not a
capture), or captures that do not form one host (the exporter counts those as parse or mismatch collection
errors: a second ``-q`` report, a ``topo -m`` of another GPU count). The exporter's other warnings come back
as notes for the report.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import Sample
from .samples import parse_text

#: A line of Prometheus text: a comment of the text format, or an ``axonize_`` sample line.
_EXPOSITION_LINE = re.compile(r"^(?:# (?:HELP|TYPE) [A-Za-z_:][\w:]*|axonize_\w+(?:\{.*\})?\s+\S+)")
#: How long the exporter may take to read the captures, seconds (it reads an 8-GPU host in ~0.1 s).
EXPORTER_TIMEOUT_S = 60.0
#: Collection error kinds that mean the captures are not one host's (exporter/replay: a second report, a
#: topology of another GPU count); other kinds (a value it could not read) are notes.
FATAL_KINDS = ("parse", "mismatch")


class ReplayError(ValueError):
    """An input file that cannot be read as a capture or an exposition; the message names it."""


@dataclass(frozen=True)
class Inputs:
    """What the files gave: their samples, a label per source for the report, and the exporter's warnings."""

    samples: tuple[Sample, ...]
    sources: tuple[str, ...]
    notes: tuple[str, ...] = ()
    name: str = ""  # the host's name when nothing else gives one: the nvidia-smi report's file name stem


def _head(path: str, size: int = 4096) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(size).decode("utf-8", errors="replace")
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror or exc}") from None


def is_exposition(head: str) -> bool:
    """True when the text's first non-blank line is Prometheus text (``# HELP``/``# TYPE`` or an axonize sample)."""
    for line in head.splitlines():
        if line.strip():
            return bool(_EXPOSITION_LINE.match(line))
    return False


def is_report(head: str) -> bool:
    """True for an ``nvidia-smi -q`` report (its ``NVSMI LOG`` banner) or ``-q -x`` (``<nvidia_smi_log>``)."""
    return "NVSMI LOG" in head or "<nvidia_smi_log" in head


def read_inputs(paths: Sequence[str], hostname: str = "", cost_config: str | None = None, python: str = sys.executable) -> Inputs:
    """Samples of the files: captures through the exporter (one host), expositions parsed as they are.

    ``hostname`` is passed as ``--replay.hostname`` (captures carry none); ``cost_config`` as ``--cost.config``
    (the bundle whose price table gives $ per hour). Raises :class:`ReplayError` naming the file.
    """
    if not paths:
        raise ReplayError("--replay: give at least one file (nvidia-smi -q, topo -m, -L or a saved /metrics)")
    captures, texts, reports = [], [], []
    for path in paths:
        head = _head(path)
        (texts if is_exposition(head) else captures).append(path)
        if is_report(head):
            reports.append(path)
    samples: list[Sample] = []
    sources: list[str] = []
    notes: list[str] = []
    if captures:
        samples += exporter_samples(captures, hostname, cost_config, python, notes)
        sources += captures
    for path in texts:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ReplayError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
        samples += parse_text(text, path)
        sources.append(path)
    named = (reports or captures or texts)[0]
    return Inputs(tuple(samples), tuple(sources), tuple(notes), Path(named).stem or named)


def exporter_samples(captures: Sequence[str], hostname: str, cost_config: str | None, python: str, notes: list[str]) -> list[Sample]:
    """The exporter's exposition of ``captures`` (one collection, ``--print``), parsed; its warnings to ``notes``."""
    command = [python, "-m", "axonize.exporter", "--replay", *captures, "--print", "--log.level", "warning"]
    if hostname:
        command += ["--replay.hostname", hostname]
    if cost_config:
        command += ["--cost.config", cost_config]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=EXPORTER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ReplayError(f"{' '.join(captures)}: the exporter did not read the captures within {EXPORTER_TIMEOUT_S:.0f} s") from None
    warnings = [line.removeprefix("axonize-exporter: ").strip() for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 0:
        raise ReplayError("\n".join(warnings) or f"{' '.join(captures)}: the exporter exited with status {done.returncode}")
    samples = parse_text(done.stdout, "the exporter's output for " + " ".join(captures))
    fatal = [s for s in samples if s.name == "axonize_exporter_collection_errors_total" and s.label("kind") in FATAL_KINDS]
    if fatal:
        problems = "\n".join(warnings) or ", ".join(f"{s.label('source')} {s.label('kind')}" for s in fatal)
        raise ReplayError(f"the captures do not form one host:\n{problems}")
    notes += warnings
    return samples
