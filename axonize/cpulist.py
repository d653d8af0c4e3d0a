"""Linux cpulists (``"0-31,64-95"``), as ``axonize_gpu_cpu_affinity_info`` and the workloads file write them.

The kernel's format (Documentation/admin-guide/cgroup-v2.rst, "cpuset.cpus"): comma-separated CPU numbers
and inclusive ranges ``a-b``. The exporter reads it from sysfs and /proc, the advisor from the exporter's series
and the workloads file: one parser for both, in the core.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The largest CPU number accepted: Linux's NR_CPUS tops out at 8192 (x86 MAXSMP), so above it is a typo.
MAX_CPU = 8191


def parse_cpulist(text: str) -> frozenset[int]:
    """CPU numbers of a cpulist: ``"0-3,8"`` -> {0, 1, 2, 3, 8}; ``""`` or a newline -> the empty set.

    Raises ValueError naming the bad item (``"0-"``, ``"3-1"``, ``"a"``, a CPU over :data:`MAX_CPU`).
    """
    cpus: set[int] = set()
    for item in str(text).strip().split(","):
        item = item.strip()
        if not item:
            continue
        first, sep, last = item.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise ValueError(f"{item!r} is not a CPU number or range a-b in cpulist {str(text).strip()!r}")
        low, high = int(first), int(last) if sep else int(first)
        if high < low:
            raise ValueError(f"range {item!r} runs backwards in cpulist {str(text).strip()!r}")
        if high > MAX_CPU:
            raise ValueError(f"CPU {high} is over the largest Linux CPU number ({MAX_CPU})")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)


def format_cpulist(cpus: Iterable[int]) -> str:
    """The shortest cpulist of ``cpus``: {0, 1, 2, 3, 8} -> ``"0-3,8"``; the empty set -> ``""``."""
    items, run = [], []
    for cpu in sorted(set(cpus)):
        if run and cpu == run[-1] + 1:
            run.append(cpu)
            continue
        if run:
            items.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [cpu]
    if run:
        items.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(items)
