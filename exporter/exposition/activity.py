"""How busy each GPU and MIG GPU instance is (registry topic :mod:`axonize.names.exporter.activity`).

NVML utilization (``utilization.gpu`` and friends) per GPU, and GPM profiling ratios per GPU and,
once per GPU instance, per MIG GPU instance. Sample::

    axonize_gpu_utilization_ratio{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 1.0
    axonize_mig_tensor_active_ratio{gpu="0",gpu_instance_id="2",uuid="GPU-..."} 0.42
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..snapshot import ACTIVITY_KINDS, Snapshot
from .family import Metric, Sample, gpu_key, scalar

_GPM_SOURCE = "NVML GPM `{metric}` (Hopper and later; percent over the collection interval); absent in replays"
#: NVML GPM metric of each activity kind (the docs' source column)
_GPM_METRIC = {
    "sm_active": "NVML_GPM_METRIC_SM_UTIL",
    "sm_occupancy": "NVML_GPM_METRIC_SM_OCCUPANCY",
    "tensor_active": "NVML_GPM_METRIC_ANY_TENSOR_UTIL",
    "dram_active": "NVML_GPM_METRIC_DRAM_BW_UTIL",
    "graphics_engine_active": "NVML_GPM_METRIC_GRAPHICS_UTIL",
    "fp64_active": "NVML_GPM_METRIC_FP64_UTIL",
    "fp32_active": "NVML_GPM_METRIC_FP32_UTIL",
    "fp16_active": "NVML_GPM_METRIC_FP16_UTIL",
}


def _gpu_activity(kind: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            if kind in gpu.activity:
                yield gpu_key(gpu), gpu.activity[kind]

    return samples


def _mig_activity(kind: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            seen: set[int] = set()
            for dev in gpu.mig_devices:  # GPM samples a GPU instance: once per GI
                if kind in dev.activity and dev.gpu_instance_id not in seen:
                    seen.add(dev.gpu_instance_id)
                    yield gpu_key(gpu) + (str(dev.gpu_instance_id),), dev.activity[kind]

    return samples


ROWS: tuple[Metric, ...] = (
    scalar("axonize_gpu_utilization_ratio", "utilization_ratio"),
    scalar("axonize_gpu_memory_utilization_ratio", "memory_utilization_ratio"),
    scalar("axonize_gpu_encoder_utilization_ratio", "encoder_utilization_ratio"),
    scalar("axonize_gpu_decoder_utilization_ratio", "decoder_utilization_ratio"),
    *(Metric(f"axonize_gpu_{kind}_ratio", _gpu_activity(kind), _GPM_SOURCE.format(metric=_GPM_METRIC[kind])) for kind in ACTIVITY_KINDS),
    *(
        Metric(f"axonize_mig_{kind}_ratio", _mig_activity(kind), _GPM_SOURCE.format(metric=_GPM_METRIC[kind]) + " (`nvmlGpmMigSampleGet`)")
        for kind in ACTIVITY_KINDS
    ),
)
