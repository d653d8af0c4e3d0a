"""MIG GPU instances and compute instances (registry topic :mod:`axonize.names.exporter.mig`).

Memory belongs to the GPU instance, so the memory families have one sample per GPU instance; SMs
belong to the compute instance. Sample::

    axonize_mig_info{compute_instance_id="0",gpu="0",gpu_instance_id="2",mig_index="0",mig_uuid="MIG-...",profile="1c.3g.71gb",uuid="GPU-..."} 1.0
    axonize_mig_memory_total_bytes{gpu="0",gpu_instance_id="2",uuid="GPU-..."} 7.4088185856e+010
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..snapshot import Snapshot
from .family import Metric, Sample, gpu_key


def _mig_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for dev in gpu.mig_devices:
            yield (
                gpu_key(gpu)
                + (
                    str(dev.index),
                    str(dev.gpu_instance_id),
                    str(dev.compute_instance_id),
                    dev.profile or "",
                    dev.uuid or "",
                ),
                1.0,
            )


def _mig_sms(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        for dev in gpu.mig_devices:
            if dev.multiprocessor_count is not None:
                yield gpu_key(gpu) + (str(dev.gpu_instance_id), str(dev.compute_instance_id)), float(dev.multiprocessor_count)


def _mig_memory(part: str) -> Callable[[Snapshot], Iterator[Sample]]:
    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            seen: set[int] = set()
            for dev in gpu.mig_devices:
                # all compute instances of one GPU instance report the GI's shared memory: once per GI
                value = getattr(dev, f"memory_{part}_bytes")
                if dev.gpu_instance_id in seen or value is None:
                    continue
                seen.add(dev.gpu_instance_id)
                yield gpu_key(gpu) + (str(dev.gpu_instance_id),), float(value)

    return samples


ROWS: tuple[Metric, ...] = (
    Metric(
        "axonize_mig_info",
        _mig_info,
        "nvidia-smi -q `MIG Device › Index`, `GPU Instance ID`, `Compute Instance ID`; -q -x `mig_devices/mig_device`; nvidia-smi -L",
    ),
    Metric(
        "axonize_mig_multiprocessors",
        _mig_sms,
        "nvidia-smi -q `MIG Device › Device Attributes › Shared › Multiprocessor count`; -q -x `multiprocessor_count`",
    ),
    *(
        Metric(
            f"axonize_mig_memory_{part}_bytes",
            _mig_memory(part),
            f"nvidia-smi -q `MIG Device › (Shared) FB Memory Usage › {part.title()}`; -q -x `fb_memory_usage/{part}`",
        )
        for part in ("total", "used", "free")
    ),
)
