"""Engine adapters: one mapping table per engine, and engine detection from metric names.

:data:`ADAPTERS` holds them by ``engine`` label value, in detection order.
:func:`detect` picks the first whose metric prefix starts a sample or TYPE line:
``vllm:``, ``sglang:``, ``tgi_``, ``llamacpp:``, ``nv_inference_``. The order
matters where one endpoint serves two dialects: Triton's vLLM backend exposes
``vllm:`` families next to Triton's ``nv_inference_`` ones and is read as vLLM
(configure ``engine: triton`` to read Triton's request counters instead).
"""

from __future__ import annotations

import re

from . import llamacpp, sglang, tgi, triton, vllm
from .mapping import Adapter, Rule

ADAPTERS: dict[str, Adapter] = {a.engine: a for a in (vllm.ADAPTER, sglang.ADAPTER, tgi.ADAPTER, llamacpp.ADAPTER, triton.ADAPTER)}
ENGINES = tuple(ADAPTERS)

_DETECT = {engine: re.compile(r"^(?:# TYPE )?" + re.escape(adapter.prefix), re.MULTILINE) for engine, adapter in ADAPTERS.items()}


def detect(text: str) -> Adapter | None:
    """The adapter whose metric prefix appears in ``text`` first in :data:`ADAPTERS` order, or None."""
    for engine, pattern in _DETECT.items():
        if pattern.search(text):
            return ADAPTERS[engine]
    return None


__all__ = ["ADAPTERS", "ENGINES", "Adapter", "Rule", "detect"]
