"""GPU-to-GPU paths and NVLinks from NVML -> :class:`Link` and :class:`NvLink`.

The matrix is the one ``nvidia-smi topo -m`` prints, built the same way:
``NV#`` when the pair can talk peer-to-peer over NVLink
(``nvmlDeviceGetP2PStatus(..., NVML_P2P_CAPS_INDEX_NVLINK)``), with # the
active links that reach the peer directly, or, when the links end on
NVSwitches (HGX), all the GPU's active links; else the PCIe common ancestor
(``nvmlDeviceGetTopologyCommonAncestor``): SINGLE -> PIX, MULTIPLE -> PXB,
HOSTBRIDGE -> PHB, NODE -> NODE, SYSTEM -> SYS.

Per link: ``nvmlDeviceGetNvLinkState``, ``nvmlDeviceGetNvLinkRemotePciInfo``
(the far end's PCI bus id, resolved to a GPU index when it is one of ours),
and the cumulative data throughput field values
``NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX/RX`` (KiB, scope = link) -> bytes.
"""

from __future__ import annotations

from axonize.nvml import Caller, text

from ..snapshot import Link, NvLink
from .device import field_values

#: nvmlGpuTopologyLevel_t -> topo -m's word
ANCESTORS = {0: "PIX", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
FI_NVLINK_TX, FI_NVLINK_RX = 138, 139
P2P_NVLINK, P2P_OK = 2, 0
MAX_LINKS = 18  # NVLink 4 (Hopper) has 18 links per GPU; NVML_NVLINK_MAX_LINKS is larger for future parts


def bus_key(bus_id: str) -> str:
    """Normalise a PCI bus id: ``00000000:18:00.0`` and ``0000:18:00.0`` -> ``0000:18:00.0`` (lower case)."""
    domain, _, rest = bus_id.strip().lower().partition(":")
    return f"{int(domain, 16):04x}:{rest}" if rest else bus_id.lower()


def read_nvlinks(call: Caller, handle, gpus_by_bus: dict[str, int]) -> list[NvLink]:
    """The GPU's NVLinks that exist (a link NVML reports as unsupported ends the list)."""
    nvml = call.nvml
    links: list[NvLink] = []
    for link in range(MAX_LINKS):
        state = call(nvml.nvmlDeviceGetNvLinkState, handle, link)
        if state is None:
            break
        peer = call(nvml.nvmlDeviceGetNvLinkRemotePciInfo, handle, link)
        bus = text(peer.busId) if peer is not None else ""
        links.append(NvLink(link=link, active=bool(state), peer_pci_bus_id=bus, peer_gpu=gpus_by_bus.get(bus_key(bus)) if bus else None))
    if links:
        fields = [(f, link.link) for link in links for f in (FI_NVLINK_TX, FI_NVLINK_RX)]
        got = field_values(call, handle, fields)
        for link in links:
            tx, rx = got.get((FI_NVLINK_TX, link.link)), got.get((FI_NVLINK_RX, link.link))
            link.tx_bytes = None if tx is None else tx * 1024.0
            link.rx_bytes = None if rx is None else rx * 1024.0
    return links


def read_links(call: Caller, handles: dict[int, object], nvlinks: dict[int, list[NvLink]]) -> list[Link]:
    """The ordered-pair matrix over the GPUs in ``handles`` (index -> handle)."""
    nvml = call.nvml
    out: list[Link] = []
    for a, ha in handles.items():
        active = [link for link in nvlinks.get(a, []) if link.active]
        for b, hb in handles.items():
            if a == b:
                continue
            direct = sum(1 for link in active if link.peer_gpu == b)
            if active and not direct:
                status = call(nvml.nvmlDeviceGetP2PStatus, ha, hb, P2P_NVLINK)
                if status == P2P_OK and all(link.peer_gpu is None for link in active):  # through NVSwitches
                    direct = len(active)
            if direct:
                out.append(Link(a, b, "NVLINK", direct))
                continue
            level = call(nvml.nvmlDeviceGetTopologyCommonAncestor, ha, hb)
            if level is not None:
                out.append(Link(a, b, ANCESTORS.get(int(level), "SYS")))
    return out
