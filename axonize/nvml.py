"""Loading NVML and classifying its errors, for every component that reads GPUs.

``pynvml`` comes from NVIDIA's ``nvidia-ml-py`` distribution; it loads
``libnvidia-ml.so.1`` on ``nvmlInit`` (:func:`load`). The exporter's NVML
backend makes every call through a :class:`Caller`, which turns an
``NVMLError`` into one of three outcomes:

* *unsupported* (``NOT_SUPPORTED``, ``NO_DATA``, ``FUNCTION_NOT_FOUND``,
  ``NOT_FOUND``, ``INVALID_ARGUMENT``): the reading is absent, not an error;
* a fault of the whole GPU (``GPU_IS_LOST``, ``RESET_REQUIRED``,
  ``UNINITIALIZED``, ``DRIVER_NOT_LOADED``, ``LIB_RM_VERSION_MISMATCH``):
  :class:`GpuFault` aborts that GPU's cycle; the others go on;
* anything else (``TIMEOUT``, ``NO_PERMISSION``, ``UNKNOWN``, ...): the
  reading is absent and a :class:`CollectionError` of that kind is recorded.

Error codes are NVML's ``nvmlReturn_t`` (nvml.h; ``pynvml.NVML_ERROR_*``).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

#: nvmlReturn_t -> the ``kind`` label of axonize_exporter_collection_errors_total
ERROR_KINDS = {
    1: "uninitialized",
    2: "invalid_argument",
    3: "not_supported",
    4: "no_permission",
    6: "not_found",
    9: "driver_not_loaded",
    10: "timeout",
    11: "irq_issue",
    12: "library_not_found",
    13: "function_not_found",
    14: "corrupted_inforom",
    15: "gpu_lost",
    16: "reset_required",
    17: "operating_system",
    18: "driver_version_mismatch",
    20: "memory",
    21: "no_data",
    27: "not_ready",
    28: "gpu_not_found",
    999: "unknown",
}
UNSUPPORTED = frozenset({2, 3, 6, 13, 21})
#: errors after which the GPU cannot be read this cycle (and NVML may need re-initialising)
GPU_FAULTS = frozenset({1, 9, 15, 16, 18, 28})


class NvmlUnavailable(RuntimeError):
    """NVML could not be loaded or initialised (no driver, no GPU, no library)."""


class GpuFault(Exception):
    """A GPU-wide failure: ``kind`` from :data:`ERROR_KINDS`, ``call`` the NVML function that failed."""

    def __init__(self, kind: str, call: str, message: str):
        super().__init__(f"{call}: {message}")
        self.kind = kind
        self.call = call


def error_code(exc: BaseException) -> int | None:
    """The ``nvmlReturn_t`` of an ``NVMLError``, else None."""
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def kind_of(exc: BaseException) -> str:
    """The :data:`ERROR_KINDS` name of an ``NVMLError`` (``nvml_<code>`` when unnamed); ``internal`` for other exceptions."""
    code = error_code(exc)
    return ERROR_KINDS.get(code, f"nvml_{code}") if code is not None else "internal"


def load(module: ModuleType | None = None) -> ModuleType:
    """Import ``pynvml`` (or use ``module``) and ``nvmlInit()`` it.

    Raises :class:`NvmlUnavailable` with the reason when the package, the
    library or the driver is missing.
    """
    if module is None:
        try:
            import pynvml as module  # type: ignore[no-redef]
        except ImportError as exc:  # pragma: no cover - nvidia-ml-py is a dependency
            raise NvmlUnavailable(f"the nvidia-ml-py package is not installed ({exc})") from exc
    try:
        module.nvmlInit()
    except module.NVMLError as exc:
        raise NvmlUnavailable(f"nvmlInit failed: {exc} ({kind_of(exc)})") from exc
    except OSError as exc:  # pragma: no cover - ctypes errors outside NVMLError
        raise NvmlUnavailable(f"cannot load libnvidia-ml: {exc}") from exc
    return module


def text(value: Any) -> str:
    """NVML strings arrive as ``bytes`` from older bindings and ``str`` from newer ones."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class Caller:
    """Calls NVML for one GPU, sorting errors as the module docstring says.

    ``errors`` collects ``(kind, call, message)`` for the cycle.
    """

    def __init__(self, nvml: ModuleType):
        self.nvml = nvml
        self.errors: list[tuple[str, str, str]] = []

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except self.nvml.NVMLError as exc:
            code = error_code(exc)
            name = getattr(fn, "__name__", "nvml")
            if code in UNSUPPORTED:
                return None
            if code in GPU_FAULTS:
                raise GpuFault(kind_of(exc), name, str(exc)) from exc
            self.errors.append((kind_of(exc), name, str(exc)))
            return None
