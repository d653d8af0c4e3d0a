"""GPU attribution: which GPUs each inference server runs on, for ``axonize_inference_server_gpu_info``.

The series joins inference metrics to the exporter's GPU metrics::

    axonize_inference_server_gpu_info{server="gpu-1:8000",model="meta-llama/Llama-3.1-8B-Instruct",uuid="GPU-b42dd28e-..."} 1
    # time to first token p99 per GPU model:
    histogram_quantile(0.99, sum by (le, name) (rate(axonize_inference_time_to_first_token_seconds_bucket[5m])
      * on (server) group_left (uuid) axonize_inference_server_gpu_info
      * on (uuid) group_left (name) axonize_gpu_info))

Today the mapping comes from the configuration only (:class:`ConfiguredGpus`:
``targets[].gpus``), which is also what stands in where the engine runs on another
host or in replay/demo mode. The hook for the automatic resolution (issue 4's next
step) is the :class:`GpuAttribution` protocol: a resolver that follows the target's
listening port to its PID with psutil, walks the process tree (vLLM's EngineCore and
workers are children of the API server) and asks NVML which of those PIDs hold
memory on which GPU, returning their UUIDs; a configured list would still win.
"""
from __future__ import annotations

from typing import Protocol

from .targets import Target


class GpuAttribution(Protocol):
    def gpus(self, target: Target) -> tuple[str, ...]:
        """The NVML UUIDs of the GPUs ``target``'s engine uses; empty when unknown."""
        ...


class ConfiguredGpus:
    """The ``gpus`` list of each target's configuration (``GPU-...`` / ``MIG-...`` UUIDs)."""

    def gpus(self, target: Target) -> tuple[str, ...]:
        return target.gpus
