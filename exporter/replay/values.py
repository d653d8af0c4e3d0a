"""Parse the value strings that nvidia-smi prints ("81559 MiB", "100.89 W", "N/A").

Every parser returns a number in base units, or ``None`` when nvidia-smi says
the value is not available. Anything else raises :class:`ValueFormatError`,
which the caller turns into a :class:`~axonize.exporter.snapshot.CollectionError`
naming the file and line: a garbled value is never silently read as 0.

Units (nvidia-smi -q, drivers 460 .. 595; the captures in tests/fixtures/nvidia):
``MiB`` = 2**20 bytes; ``KB/s`` (PCIe throughput, NVML
``nvmlDeviceGetPcieThroughput``) is taken as 1000 bytes/s: neither NVML nor
nvidia-smi says KiB, and dcgm-exporter documents the field as "KB"; ``MHz`` = 1e6 Hz;
``W``; ``C``; ``%`` -> ratio 0..1; ``us`` -> seconds; ``16x`` -> 16 lanes;
``P0`` .. ``P15`` -> 0 .. 15.
"""

from __future__ import annotations

import re
from collections.abc import Callable


class ValueFormatError(ValueError):
    """A value string that is neither a number in the expected unit nor a known 'unavailable' word."""


#: Strings nvidia-smi prints for values the GPU or driver does not provide.
#: They become absent series, never 0.
UNAVAILABLE = frozenset(
    s.lower()
    for s in (
        "N/A",
        "[N/A]",
        "Not Supported",
        "[Not Supported]",
        "Not Available",
        "Not Applicable",
        "Not Found",
        "Requested functionality has been deprecated",
        "None",
        "",
    )
)

#: Strings that also mean "no value", but say something went wrong on the GPU.
#: They become absent series *and* a counted error of kind "unavailable".
FAULTS = frozenset(
    s.lower()
    for s in (
        "Unknown Error",
        "[Unknown Error]",
        "GPU is lost",
        "[GPU is lost]",
        "GPU requires reset",
        "[GPU requires reset]",
        "Insufficient Permissions",
        "[Insufficient Permissions]",
        "Timeout",
        "[Timeout]",
    )
)


class GpuFault(ValueFormatError):
    """The value reads as a driver fault ("Unknown Error", "GPU is lost")."""


_NUMBER = r"([-+]?\d+(?:\.\d+)?)"


def _unavailable(text: str) -> bool:
    low = text.strip().lower()
    if low in FAULTS:
        raise GpuFault(f"nvidia-smi reports {text.strip()!r}")
    return low in UNAVAILABLE


def _with_unit(units: dict[str, float]) -> Callable[[str], float | None]:
    pattern = re.compile(r"^\s*" + _NUMBER + r"\s*(" + "|".join(re.escape(u) for u in units) + r")\s*$", re.IGNORECASE)
    lookup = {u.lower(): f for u, f in units.items()}
    expected = " or ".join(units)

    def parse(text: str) -> float | None:
        if _unavailable(text):
            return None
        m = pattern.match(text)
        if not m:
            raise ValueFormatError(f"expected a number in {expected}, got {text.strip()!r}")
        return float(m.group(1)) * lookup[m.group(2).lower()]

    return parse


mib = _with_unit({"MiB": 2.0**20, "GiB": 2.0**30, "KiB": 1024.0, "B": 1.0})
watts = _with_unit({"W": 1.0, "mW": 1e-3})
celsius = _with_unit({"C": 1.0})
hertz = _with_unit({"MHz": 1e6, "GHz": 1e9, "kHz": 1e3, "Hz": 1.0})
kb_per_second = _with_unit({"KB/s": 1e3, "MB/s": 1e6, "B/s": 1.0})
microseconds = _with_unit({"us": 1e-6, "ms": 1e-3, "s": 1.0})
percent_ratio_raw = _with_unit({"%": 0.01})


def ratio(text: str) -> float | None:
    """``"37 %"`` -> 0.37."""
    return percent_ratio_raw(text)


def number(text: str) -> float | None:
    """A bare number (counters such as "353")."""
    if _unavailable(text):
        return None
    try:
        return float(text.strip())
    except ValueError:
        raise ValueFormatError(f"expected a number, got {text.strip()!r}") from None


def integer(text: str) -> int | None:
    value = number(text)
    if value is None:
        return None
    if value != int(value):
        raise ValueFormatError(f"expected an integer, got {text.strip()!r}")
    return int(value)


def lanes(text: str) -> int | None:
    """PCIe link width ``"16x"`` -> 16."""
    if _unavailable(text):
        return None
    m = re.match(r"^\s*(\d+)\s*x\s*$", text, re.IGNORECASE)
    if not m:
        raise ValueFormatError(f"expected a link width like '16x', got {text.strip()!r}")
    return int(m.group(1))


def pstate(text: str) -> int | None:
    """Performance state ``"P0"`` -> 0."""
    if _unavailable(text) or text.strip().lower() == "unknown":
        return None
    m = re.match(r"^\s*P(\d{1,2})\s*$", text, re.IGNORECASE)
    if not m:
        raise ValueFormatError(f"expected a performance state like 'P0', got {text.strip()!r}")
    return int(m.group(1))


_TRUE = {"enabled", "active", "yes", "on"}
_FALSE = {"disabled", "not active", "no", "off"}


def flag(text: str) -> bool | None:
    """``Enabled``/``Active``/``Yes`` -> True; ``Disabled``/``Not Active``/``No`` -> False."""
    low = " ".join(text.split()).lower()
    if _unavailable(text):
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueFormatError(f"expected Enabled/Disabled, Active/Not Active or Yes/No, got {text.strip()!r}")


def text(value: str) -> str | None:
    """A free-text value; the 'unavailable' words become ``None``."""
    if _unavailable(value):
        return None
    return " ".join(value.split())
