"""The error a capture file raises when it cannot be read at all."""

from __future__ import annotations


class CaptureError(ValueError):
    """A capture that cannot be used, with the file and the line or element it failed at.

    ``str(err)`` reads ``"<file>:<line>: <message>"`` (or ``"<file>: <element>: ..."``
    for XML) so that the operator can open the file at the right place.
    """

    def __init__(self, path: str, where: str | int | None, message: str):
        self.path = path
        self.where = where
        self.message = message
        loc = path if where in (None, "") else f"{path}:{where}"
        super().__init__(f"{loc}: {message}")
