"""The advisor's report as PDF: the page of :mod:`.html` laid out by weasyprint with its print CSS
(A4, the summary on the first page, each major section from a new page, "Page n of m" at the foot).

    write_pdf(report, "advisor.pdf")   # ReportWriteError naming the path when it cannot be written

The PDF is rendered in memory and written at the end, so a failed render leaves no partial file; a path
whose folder does not exist is refused before rendering.
"""

from __future__ import annotations

import logging
from pathlib import Path

import weasyprint

from axonize import bundle as bundle_config

from ..model import Report
from .html import ReportWriteError, render_html, write_bytes


class _SvgPropertyNotes(logging.Filter):
    """Drops weasyprint's "Ignored `fill: ...`, unknown property" warnings: its HTML layer reads the charts'
    SVG style attributes (fill, stroke, text-anchor: hundreds a report) that its SVG renderer does draw, and
    the screen-only user-select of the commands.
    Other warnings pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.getMessage().startswith("Ignored `") and "unknown property" in record.getMessage())


def render_pdf(report: Report, config: bundle_config.Bundle | None = None) -> bytes:
    """The report as PDF bytes (A4). ``config`` as for :func:`~.html.render_html`."""
    html = render_html(report, config)
    logger, notes = logging.getLogger("weasyprint"), _SvgPropertyNotes()
    logger.addFilter(notes)
    try:
        return weasyprint.HTML(string=html).write_pdf()
    finally:
        logger.removeFilter(notes)


def write_pdf(report: Report, path: str | Path, config: bundle_config.Bundle | None = None) -> None:
    """Write the report as PDF to ``path``. Raises :class:`~.html.ReportWriteError` naming the path when its
    folder does not exist, is not a folder, or the file cannot be written."""
    folder = Path(path).parent
    if not folder.is_dir():
        raise ReportWriteError(f"cannot write the PDF report to {path}: folder {folder} does not exist")
    write_bytes(path, render_pdf(report, config), "PDF")
