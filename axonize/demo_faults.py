"""``axonize demo --scenario faults``: the healthy 8x H100 replay turns faulty while Prometheus and Alertmanager watch.

The exporter replays a copy of the healthy capture and an empty kernel log; once Prometheus has scraped them,
:func:`inject` swaps in derived captures (axonize/demo_data/faults/, every change listed in
demo_data/SOURCES.md): the real capture with GPU 0 lost (nvidia-smi's "Unable to determine the device handle"
line instead of its section), GPU 1 on a x8 PCIe link, GPU 2 in HW thermal slowdown, GPU 3 with a pending row
remap, GPU 4 at 97 % of its memory; and a kernel log in the NVRM format with XID 79 (fallen off the bus) on
GPU 0, XID 13 (graphics exception) on GPU 7 and XID 63 (a row-remap event NVIDIA says to ignore) on GPU 3.
Once the lost GPU has paged, the demo stops the vLLM server on GPU 0 (:data:`AFTER_LOST`): its target-down
page is inhibited by the lost GPU, as alerts/alertmanager.yml's second inhibition rule says.
"""

from __future__ import annotations

import os
import shutil
from importlib import resources

#: the derived captures, in axonize/demo_data/faults/
FAULT_CAPTURE = "h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt"
KERNEL_LOG = "kernel-xid.log"

#: what the injected faults must deliver (label subsets of the notifications), in the order they are described
EXPECTED = (
    {"alertname": "AxonizeGpuLost", "gpu": "0"},
    {"alertname": "AxonizeGpuPcieLinkDegraded", "gpu": "1"},
    {"alertname": "AxonizeGpuClocksThrottled", "gpu": "2"},
    {"alertname": "AxonizeGpuRowRemapPending", "gpu": "3"},
    {"alertname": "AxonizeGpuMemoryPressure", "gpu": "4", "severity": "critical"},
    {"alertname": "AxonizeGpuXidResetRequired", "gpu": "0", "xid": "79"},
    {"alertname": "AxonizeGpuXidApplicationError", "gpu": "7", "xid": "13"},
)
#: the page the lost GPU must deliver before the engine on it is stopped
AFTER_LOST = EXPECTED[0]

DESCRIPTION = (
    "Injected faults (derived from the real capture, see axonize/demo_data/SOURCES.md): GPU 0 lost (nvidia-smi cannot "
    "open it; kernel log: XID 79, fallen off the bus), GPU 1 PCIe x8 of x16, GPU 2 HW thermal slowdown, GPU 3 row remap "
    "pending after an uncorrectable ECC error, GPU 4 at 97 % VRAM, XID 13 on GPU 7, XID 63 on GPU 3 (NVIDIA: ignore; "
    "counted, never alerted); then the vLLM server on GPU 0 stops answering."
)


def _packaged(name: str) -> str:
    return str(resources.files("axonize") / "demo_data" / "faults" / name)


def replace_atomically(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy ``source`` over ``target`` with one rename, so the exporter never reads half a file."""
    tmp = f"{target}.new"
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)


def prepare(workdir: str, healthy_capture: str) -> tuple[str, str]:
    """A writable copy of ``healthy_capture`` and an empty kernel log in ``workdir``: ``(capture, kernel_log)`` paths
    for ``axonize-exporter --replay CAPTURE --replay.kernel-log KERNEL_LOG``."""
    capture, kernel_log = os.path.join(workdir, "gpus.txt"), os.path.join(workdir, "kernel.log")
    shutil.copyfile(healthy_capture, capture)
    open(kernel_log, "w").close()
    return capture, kernel_log


def inject(capture: str, kernel_log: str) -> None:
    """Swap the fault capture and the XID kernel log in over the files :func:`prepare` made."""
    replace_atomically(_packaged(FAULT_CAPTURE), capture)
    replace_atomically(_packaged(KERNEL_LOG), kernel_log)
