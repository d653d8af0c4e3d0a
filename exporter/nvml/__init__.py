"""The NVML backend: live GPUs through nvidia-ml-py (``pynvml``).

:class:`~.source.NvmlSource` is a collection :class:`Source` like the replay
backend and fills the same :class:`~axonize.exporter.snapshot.Snapshot`.
"""

from axonize.nvml import NvmlUnavailable

from .source import NvmlSource

__all__ = ["NvmlSource", "NvmlUnavailable"]
