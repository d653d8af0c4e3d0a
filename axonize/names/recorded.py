"""The recording rules' recorded names (filled in from rules/templates; see axonize.names)."""

from __future__ import annotations

from axonize.names import Name

NAMES: tuple[Name, ...] = ()
