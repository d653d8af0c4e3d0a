"""How the two packaged scenarios' captures were made from real one-GPU captures (run once; output committed).

    python advisor/scenarios/derive.py ../shared/fixtures/nvidia

reads ``h200_drv590_nvidia-smi-q_load.txt``, ``l40s_drv595_nvidia-smi-q_load.txt``,
``h200-x8-hgx_topo-m_nics.txt`` and ``h200-1gpu-vm_drv590_topo-m.txt`` from that folder and writes
``h200x8/`` and ``l40sx4/`` beside this file. Each GPU section is the real section with only the values in
the :data:`H200X8` / :data:`L40SX4` rows replaced (identity: bus id, UUID, minor number, board and module
id; load: utilization, memory, power, temperatures, PCIe throughput and width, the idle clock reason and
clocks, processes). SOURCES.md in each folder says the same per file. Not part of the installed package.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class GpuRow:
    """One GPU of a derived capture: what differs from the real section (MiB, %, W, C, KB/s)."""

    bus: str  # two hex digits, e.g. "18"
    util: int
    mem_util: int
    used_mib: int
    power_w: float
    temp_c: int
    tx_kbs: int
    rx_kbs: int
    processes: tuple[tuple[int, str, int], ...] = ()  # (pid, name, MiB)
    width: str = "16x"  # PCIe Link Width / Current
    mem_temp_c: int | None = None
    idle: bool = False


#: 8x H200 HGX: GPUs 0-3 on NUMA node 0, 4-7 on node 1 (the HGX topo -m). Story in h200x8/workloads.yml.
H200X8 = (
    GpuRow("18", 97, 58, 118_046, 655.41, 61, 612_004, 598_113, ((41022, "python", 118_020),), mem_temp_c=49),
    GpuRow("2A", 0, 0, 1, 76.12, 30, 0, 0, idle=True, mem_temp_c=28),
    GpuRow("3A", 71, 40, 96_512, 521.87, 57, 402_771, 388_904, ((41388, "python", 96_486),), mem_temp_c=46),
    GpuRow("5D", 58, 22, 112_304, 431.06, 54, 18_512_330, 18_904_217, ((41561, "torchrun", 112_278),), mem_temp_c=45),
    GpuRow("9A", 18, 9, 19_722, 188.35, 41, 91_004, 187_229, ((42007, "python3", 19_696),), mem_temp_c=37),
    GpuRow("AB", 55, 21, 112_298, 418.92, 53, 18_377_102, 18_811_640, ((41562, "torchrun", 112_272),), mem_temp_c=45),
    GpuRow("BA", 9, 4, 10_112, 131.77, 37, 40_816, 95_338, ((42310, "python3", 10_086),), mem_temp_c=34),
    GpuRow("DB", 0, 0, 1, 75.48, 29, 0, 0, idle=True, mem_temp_c=27),
)

#: 4x L40S PCIe: GPUs 0-1 on NUMA node 0, 2-3 on node 1 (l40sx4/topo-m.txt). Story in l40sx4/workloads.yml.
L40SX4 = (
    GpuRow("4A", 34, 12, 41_846, 162.40, 52, 259_423, 2_012_109, ((51207, "python3", 41_806),)),
    GpuRow("61", 62, 31, 38_210, 241.18, 63, 9_804_417, 10_226_008, ((51533, "python", 38_170),), width="8x"),
    GpuRow("CA", 66, 33, 38_226, 252.93, 64, 9_911_250, 10_301_772, ((51534, "python", 38_186),)),
    GpuRow("E1", 0, 0, 1, 32.11, 31, 0, 0, idle=True),
)


def _find(lines: list[str], start: int, *keys: str) -> int:
    """Index of the line reached by following ``keys`` (each the next line whose key is it) from ``start``."""
    i = start
    for key in keys:
        while lines[i].split(":")[0].strip() != key:
            i += 1
        found = i
        i += 1
    return found


def _set(lines: list[str], i: int, value: str) -> None:
    head, _, _ = lines[i].partition(":")
    lines[i] = f"{head}: {value}"


def gpu_section(section: list[str], index: int, row: GpuRow, uuid_prefix: str) -> list[str]:
    """The real GPU section (header line to the end of Capabilities) with ``row``'s values in."""
    out = list(section)
    out[0] = f"GPU 00000000:{row.bus}:00.0"
    _set(out, _find(out, 0, "GPU UUID"), f"{uuid_prefix}{index:012x}")
    _set(out, _find(out, 0, "Minor Number"), str(index))
    _set(out, _find(out, 0, "Board ID"), f"0x{row.bus.lower()}00")
    _set(out, _find(out, 0, "Platform Info", "Module Id"), str(index + 1))
    _set(out, _find(out, 0, "PCI", "Bus"), f"0x{row.bus}")
    _set(out, _find(out, 0, "PCI", "Bus Id"), f"00000000:{row.bus}:00.0")
    _set(out, _find(out, 0, "Link Width", "Current"), row.width)
    _set(out, _find(out, 0, "Tx Throughput"), f"{row.tx_kbs} KB/s")
    _set(out, _find(out, 0, "Rx Throughput"), f"{row.rx_kbs} KB/s")
    _set(out, _find(out, 0, "Clocks Event Reasons", "Idle"), "Active" if row.idle else "Not Active")
    fb = _find(out, 0, "FB Memory Usage")
    total = int(re.search(r"(\d+) MiB", out[_find(out, fb, "Total")]).group(1))
    reserved = int(re.search(r"(\d+) MiB", out[_find(out, fb, "Reserved")]).group(1))
    _set(out, _find(out, fb, "Used"), f"{row.used_mib} MiB")
    _set(out, _find(out, fb, "Free"), f"{total - reserved - row.used_mib} MiB")
    bar = _find(out, 0, "BAR1 Memory Usage")
    bar_total = int(re.search(r"(\d+) MiB", out[_find(out, bar, "Total")]).group(1))
    _set(out, _find(out, bar, "Used"), f"{row.used_mib + 1} MiB")
    _set(out, _find(out, bar, "Free"), f"{bar_total - row.used_mib - 1} MiB")
    _set(out, _find(out, 0, "Utilization", "GPU"), f"{row.util} %")
    _set(out, _find(out, 0, "Utilization", "Memory"), f"{row.mem_util} %")
    _set(out, _find(out, 0, "Utilization", "Encoder"), "0 %")  # the L40S capture's ffmpeg load is not in the story
    _set(out, _find(out, 0, "Temperature", "GPU Current Temp"), f"{row.temp_c} C")
    if row.mem_temp_c is not None:
        _set(out, _find(out, 0, "Temperature", "Memory Current Temp"), f"{row.mem_temp_c} C")
    power = _find(out, 0, "GPU Power Readings")
    _set(out, _find(out, power, "Average Power Draw"), f"{row.power_w:.2f} W")
    _set(out, _find(out, power, "Instantaneous Power Draw"), f"{row.power_w - 1.3:.2f} W")
    if row.idle:
        clocks = _find(out, 0, "Clocks")
        _set(out, _find(out, clocks, "Graphics"), "345 MHz")
        _set(out, _find(out, clocks, "SM"), "345 MHz")
    procs = _find(out, 0, "Processes")
    caps = _find(out, procs, "Capabilities")
    if not row.processes:
        block = ["    Processes                                          : None"]
    else:
        block = ["    Processes"]
        for pid, name, mib in row.processes:
            block += [
                "        GPU instance ID                   : N/A",
                "        Compute instance ID               : N/A",
                f"        Process ID                        : {pid}",
                "            Type                          : C",
                f"            Name                          : {name}",
                f"            Used GPU Memory               : {mib} MiB",
            ]
    return out[:procs] + block + out[caps:]


def query_report(source: str, rows: tuple[GpuRow, ...], uuid_prefix: str) -> str:
    """``nvidia-smi -q`` of len(rows) GPUs: the source's header (GPU count changed) and one section per row."""
    lines = source.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("GPU "))
    end = len(lines) - 1 if lines[-1] == "" else len(lines)
    header = lines[:start]
    _set(header, _find(header, 0, "Attached GPUs"), str(len(rows)))
    section = lines[start:end]
    body = [line for i, row in enumerate(rows) for line in gpu_section(section, i, row, uuid_prefix)]
    return "\n".join(header + body) + "\n"


def h200_topology(source: str, down: int = 5) -> str:
    """The HGX topo -m with GPU ``down``'s NVLinks down: its NV18 cells become the PCIe path (SYS across
    NUMA nodes, NODE within one), in its row and its column."""
    lines = source.split("\n")
    out = []
    for line in lines:
        cells = line.split("\t")
        m = re.match(r"GPU(\d)$", cells[0])
        if m:
            g = int(m.group(1))
            if g == down:
                cells[1:9] = [" X " if p == g else ("NODE" if (p >= 4) == (g >= 4) else "SYS") for p in range(8)]
            else:
                cells[1 + down] = "NODE" if (g >= 4) == (down >= 4) else "SYS"
        out.append("\t".join(cells))
    return "\n".join(out)


def l40s_topology(one_gpu_topo: str) -> str:
    """A 4-GPU PCIe topo -m in nvidia-smi's format (TABs, underlined header, its Legend from the real one-GPU
    capture): no NVLink, two GPUs per NUMA node, each on its own CPU root port (NODE), SYS across nodes."""
    legend = one_gpu_topo[one_gpu_topo.index("\nLegend:") :]
    node_cpus = ("0-31,64-95", "32-63,96-127")
    head = "\t\x1b[4mGPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m"
    rows = [head]
    for g in range(4):
        cells = [f"GPU{g}"] + [" X " if p == g else ("NODE" if p // 2 == g // 2 else "SYS") for p in range(4)]
        rows.append("\t".join(cells + [node_cpus[g // 2], str(g // 2), "", "N/A"]))
    return "\n".join(rows) + "\n" + legend


def main(fixtures: str, out: Path = HERE) -> int:
    """Write both scenarios' captures from the real ones in ``fixtures`` into ``out`` (default: beside this file)."""
    src = Path(fixtures)
    h200 = (src / "h200_drv590_nvidia-smi-q_load.txt").read_text()
    l40s = (src / "l40s_drv595_nvidia-smi-q_load.txt").read_text()
    (out / "h200x8" / "nvidia-smi-q.txt").write_text(query_report(h200, H200X8, "GPU-48200000-0000-4000-8000-"))
    (out / "h200x8" / "topo-m.txt").write_text(h200_topology((src / "h200-x8-hgx_topo-m_nics.txt").read_text()))
    (out / "l40sx4" / "nvidia-smi-q.txt").write_text(query_report(l40s, L40SX4, "GPU-4405a000-0000-4000-8000-"))
    (out / "l40sx4" / "topo-m.txt").write_text(l40s_topology((src / "h200-1gpu-vm_drv590_topo-m.txt").read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
