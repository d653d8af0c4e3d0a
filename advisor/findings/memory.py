"""memory_oversized and memory_undersized: VRAM that does not match the workload.

Engines that preallocate (vLLM ``--gpu-memory-utilization``, 0.9 by default; SGLang ``--mem-fraction-static``)
hold most of the GPU's memory from their start whatever they serve, so their VRAM used says nothing; their
KV cache usage (``axonize_inference_kv_cache_usage_ratio``) says how much of that reservation they use.
"""

from __future__ import annotations

from axonize import bundle as bundle_module

from ..model import Evidence, Finding, Host, Workload
from ..topology import workloads_on
from .evidence import declared, gib, metric, pct
from .mig import candidate
from .thresholds import DEFAULT, Thresholds
from .workload_needs import memory_need


def findings(host: Host, bundle: bundle_module.Bundle, thresholds: Thresholds = DEFAULT) -> list[Finding]:
    """memory_oversized and memory_undersized findings of ``host``."""
    out = []
    for w in host.workloads:
        if not w.gpus:
            continue
        gpus = [host.gpu(g) for g in w.gpus]
        used = [
            g.memory_used_bytes / g.memory_total_bytes if g.memory_used_bytes is not None and g.memory_total_bytes else None for g in gpus
        ]
        gpu_text = ", ".join(str(g) for g in w.gpus)
        mem_ev = tuple(
            Evidence(
                f"GPU {g.index} VRAM used",
                f"{gib(g.memory_used_bytes)} of {gib(g.memory_total_bytes)}",
                metric("axonize_gpu_memory_used_bytes", gpu=g.index),
            )
            for g in gpus
        )
        kv = w.kv_cache_usage_ratio
        kv_ev = Evidence(f"{w.name} KV cache usage", pct(kv), metric("axonize_inference_kv_cache_usage_ratio", server=w.name))
        if kv is not None and kv <= thresholds.kv_cache_low and all(u is not None and u >= thresholds.preallocated_min for u in used):
            out.append(_oversized_engine(w, gpu_text, kv_ev, mem_ev, kv))
        elif kv is not None and kv >= thresholds.memory_full:
            out.append(
                Finding(
                    kind="memory_undersized",
                    severity="warning",
                    title=f"{w.name}: KV cache full on GPU {gpu_text}",
                    explanation=(
                        f"{w.name}'s KV cache is {pct(kv)} used: new requests wait for memory and running ones may be preempted"
                        " (recomputed later). Give it more memory: a larger --gpu-memory-utilization, more GPUs (tensor parallel),"
                        " a shorter --max-model-len, or a quantized KV cache."
                    ),
                    gpus=tuple(w.gpus),
                    workloads=(w.name,),
                    evidence=(kv_ev, *mem_ev),
                    impact="higher time to first token and lower throughput under load",
                )
            )
        elif kv is None and any(u is not None and u >= thresholds.memory_full for u in used):
            full = [g.index for g, u in zip(gpus, used, strict=True) if u is not None and u >= thresholds.memory_full]
            out.append(
                Finding(
                    kind="memory_undersized",
                    severity="warning",
                    title=f"{w.name}: VRAM nearly full on GPU {', '.join(map(str, full))}",
                    explanation=(
                        f"GPU {', '.join(map(str, full))} has less than {pct(1 - thresholds.memory_full)} of its memory free while {w.name} runs:"
                        " the next larger batch or sequence fails with out-of-memory. Use a GPU with more memory, spread the job over"
                        " more GPUs, or lower its batch size."
                    ),
                    gpus=tuple(full),
                    workloads=(w.name,),
                    evidence=mem_ev,
                    impact="out-of-memory crashes or memory-bound batch sizes",
                )
            )
        elif kv is None and candidate(host, w, thresholds) is None and _all_low(host, w, used, thresholds):
            need = memory_need(host, w)
            out.append(
                Finding(
                    kind="memory_oversized",
                    severity="info",
                    title=f"{w.name} uses little of GPU {gpu_text}'s memory",
                    explanation=(
                        f"{w.name} uses at most {pct(max(u for u in used if u is not None))} of the memory of GPU {gpu_text}."
                        " A GPU with less memory (or a MIG instance, where the GPU supports it) would do, leaving this one for work that needs it."
                    ),
                    gpus=tuple(w.gpus),
                    workloads=(w.name,),
                    evidence=(declared(w, "memory need", gib(need)), *mem_ev),
                    impact="expensive VRAM reserved but unused",
                )
            )
    return out


def _all_low(host: Host, w: Workload, used: list[float | None], thresholds: Thresholds) -> bool:
    return (
        bool(used)
        and all(u is not None and u <= thresholds.memory_used_low for u in used)
        and all(len(workloads_on(host, g)) == 1 for g in w.gpus)
    )


def _oversized_engine(w: Workload, gpu_text: str, kv_ev: Evidence, mem_ev: tuple[Evidence, ...], kv: float) -> Finding:
    engine = w.engine or "the engine"
    return Finding(
        kind="memory_oversized",
        severity="info",
        title=f"{w.name}: VRAM reserved, KV cache {pct(kv)} used",
        explanation=(
            f"{engine} reserves most of GPU {gpu_text}'s memory when it starts (for vLLM --gpu-memory-utilization, 0.9 by default),"
            f" but {w.name}'s KV cache is only {pct(kv)} used: the reservation is far larger than its traffic needs. Lower"
            " --gpu-memory-utilization, or run it in a smaller MIG instance and share the GPU."
        ),
        gpus=tuple(w.gpus),
        workloads=(w.name,),
        evidence=(kv_ev, *mem_ev),
        impact="most of the GPU's memory is held but idle; other workloads cannot use it",
    )
