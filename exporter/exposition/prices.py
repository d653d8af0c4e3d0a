"""What each GPU and MIG GPU instance costs (registry topic :mod:`axonize.names.exporter.prices`).

Reads ``Gpu.price`` and ``MigDevice.price_share_ratio``, set in the collection path from the price
table; absent when no table was applied. Sample::

    axonize_gpu_price_dollars_per_hour{gpu="0",uuid="GPU-..."} 6.88
    axonize_gpu_price_info{date="2025-06",gpu="0",rule="gpus[1]",source="AWS p5.48xlarge ...",uuid="GPU-..."} 1.0
    axonize_mig_price_dollars_per_hour{gpu="0",gpu_instance_id="2",uuid="GPU-..."} 3.39
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..snapshot import Snapshot
from .family import Metric, Sample, gpu_key

_PRICE_SOURCE = (
    "axonize/bundle.yml `prices` (or the --cost.config file): the first `hosts` row whose `hostname` matches, "
    "else the first `gpus` row whose `match` is found in the model name, else `default`"
)
_MIG_SHARE_SOURCE = (
    "the MIG profile's GPU-instance slices (nvidia-smi -L or NVML device name, `3g` of `3g.40gb` or `1c.3g.71gb`) over the GPU's "
    "(7 on A100, H100, H20, H200, GH200, B200, GB200; 4 on A30), as in the NVIDIA MIG User Guide's profile tables"
)


def _gpu_price(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.price is not None:
            yield gpu_key(gpu), gpu.price.dollars_per_hour


def _gpu_price_info(snap: Snapshot) -> Iterator[Sample]:
    for gpu in snap.gpus:
        if gpu.price is not None:
            yield gpu_key(gpu) + (gpu.price.source, gpu.price.date, gpu.price.rule), 1.0


def _mig_price(part: str) -> Callable[[Snapshot], Iterator[Sample]]:
    """Once per GPU instance: dollars (7.91 x 3/7 for a 3g.71gb instance of an H200) or the share (0.428571)."""

    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            if gpu.price is None:
                continue
            seen: set[int] = set()
            for dev in gpu.mig_devices:
                if dev.price_share_ratio is None or dev.gpu_instance_id in seen:
                    continue
                seen.add(dev.gpu_instance_id)
                value = dev.price_share_ratio * (gpu.price.dollars_per_hour if part == "dollars" else 1.0)
                yield gpu_key(gpu) + (str(dev.gpu_instance_id),), value

    return samples


ROWS: tuple[Metric, ...] = (
    Metric("axonize_gpu_price_dollars_per_hour", _gpu_price, _PRICE_SOURCE),
    Metric("axonize_gpu_price_info", _gpu_price_info, _PRICE_SOURCE),
    Metric("axonize_mig_price_dollars_per_hour", _mig_price("dollars"), _PRICE_SOURCE + "; " + _MIG_SHARE_SOURCE),
    Metric("axonize_mig_price_share_ratio", _mig_price("share"), _MIG_SHARE_SOURCE),
)
