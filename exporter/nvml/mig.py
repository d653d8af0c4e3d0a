"""MIG devices of a GPU from NVML -> :class:`~axonize.exporter.snapshot.MigDevice`.

A MIG device handle (``nvmlDeviceGetMigDeviceHandleByIndex``) stands for one
compute instance inside one GPU instance. Its name is
``"<GPU name> MIG <profile>"`` (e.g. ``NVIDIA H200 MIG 1c.3g.71gb``), which is
where the profile comes from, as in ``nvidia-smi -L``. Memory is the GPU
instance's (shared by its compute instances); SMs from
``nvmlDeviceGetAttributes`` are the compute instance's.
"""

from __future__ import annotations

from axonize.nvml import Caller, text

from ..snapshot import MigDevice
from .device import read_memory


def profile_of(name: str) -> str | None:
    """``"NVIDIA H200 MIG 1c.3g.71gb"`` -> ``"1c.3g.71gb"``; None when the name has no ``MIG`` part."""
    head, sep, tail = name.rpartition(" MIG ")
    return tail.strip() or None if sep else None


def read_mig_devices(call: Caller, handle) -> list[tuple[MigDevice, object]]:
    """The MIG devices of a GPU in MIG mode, each with its NVML handle (for GPM and processes)."""
    nvml = call.nvml
    count = call(nvml.nvmlDeviceGetMaxMigDeviceCount, handle) or 0
    out: list[tuple[MigDevice, object]] = []
    for slot in range(count):
        mig = call(nvml.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
        if mig is None:  # empty slot
            continue
        gi = call(nvml.nvmlDeviceGetGpuInstanceId, mig)
        ci = call(nvml.nvmlDeviceGetComputeInstanceId, mig)
        if gi is None or ci is None:
            continue
        dev = MigDevice(index=len(out), gpu_instance_id=int(gi), compute_instance_id=int(ci))
        uuid = call(nvml.nvmlDeviceGetUUID, mig)
        dev.uuid = text(uuid) if uuid is not None else None
        name = call(nvml.nvmlDeviceGetName, mig)
        dev.profile = profile_of(text(name)) if name is not None else None
        attributes = call(nvml.nvmlDeviceGetAttributes, mig)
        if attributes is not None:
            dev.multiprocessor_count = int(attributes.multiprocessorCount)
        read_memory(call, mig, dev)
        out.append((dev, mig))
    return out
