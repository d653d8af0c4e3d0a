"""MIG profiles per GPU model, and which sets of them one GPU can hold at once.

Sources:

* profile names, instance counts and memory/compute fractions: NVIDIA Multi-Instance GPU User Guide,
  "Supported MIG Profiles" (https://docs.nvidia.com/datacenter/tesla/mig-user-guide/supported-mig-profiles.html)
  and "Supported GPUs"; the per-model lists cross-checked with NVIDIA's mig-parted default configuration
  (NVIDIA/mig-parted ``deployments/systemd/config-default.yaml``: ``all-1g.18gb`` ... ``all-7g.141gb`` for
  H200, ``all-balanced`` per device ID for B200, H20, H100 NVL, A30).
* placements: the guide's ``nvidia-smi mig -lgipp`` listing (7-slice GPUs: a 1-memory-slice 1g at
  ``{0..6}:1``, the 2-slice 1g at ``{0,2,4,6}:2``, 2g at ``{0,2,4}:2``, 3g at ``{0,4}:4``, 4g at ``{0}:4``,
  7g at ``{0}:8``; A30: 1g ``{0..3}:1``, 2g ``{0,2}:2``, 4g ``{0}:4``). A set of profiles fits one GPU when
  each gets a start from its placements without two overlapping, and their compute slices add up to at most
  the GPU's (7; 4 on A30): :func:`fits`.
* usable memory (what a workload may use, below the name's figure): ``nvidia-smi mig -lgip`` where a listing
  was at hand (A100 40GB driver 460: shared/fixtures/nvidia/a100-pcie-40gb_drv460_mig-lgip.txt; A100 80GB
  and H100 80GB: public ``-lgip`` listings, the lower of two drivers' figures; H200: the memory totals of the
  driver 590 capture shared/fixtures/nvidia/h200-mig_drv590_nvidia-smi-q_load.txt), the same for every profile
  with as many memory slices; else the name's figure in decimal gigabytes (10⁹ bytes), which is below the
  ``-lgip`` figure in every listing compared (A100 40GB/80GB, H100 80GB). Media-extension (``+me``) profiles
  are left out: a workload never needs them to fit.

Only the models and profiles the sources agree on: A100 40GB and 80GB, A30, H100 80GB, H100 NVL 94GB,
H20, H200 141GB (and H200 NVL), B200.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

GIB = 2**30


@dataclass(frozen=True)
class Profile:
    """A GPU instance profile: ``name`` (``3g.71gb``), compute slices, memory slices and usable bytes."""

    name: str
    compute_slices: int
    memory_slices: int
    memory_bytes: float
    placements: tuple[int, ...]  # memory-slot starts (nvidia-smi mig -lgipp)


@dataclass(frozen=True)
class MigGpu:
    """A MIG-capable GPU model: its compute slices, memory slots and profiles (smallest first)."""

    model: str
    compute_slices: int
    memory_slots: int
    profiles: tuple[Profile, ...]

    def profile(self, name: str) -> Profile | None:
        """The profile called ``name`` (``"1g.18gb"``, also ``"MIG 1g.18gb"``), or None."""
        name = name.removeprefix("MIG ").strip().lower()
        return next((p for p in self.profiles if p.name == name), None)


def _seven(names: tuple[str, str, str, str, str, str], usable_gib: dict[int, float]) -> tuple[Profile, ...]:
    """The six profiles of a 7-slice GPU: 1g (1 memory slice), 1g (2), 2g, 3g, 4g, 7g, in that order."""
    shape = ((1, 1, tuple(range(7))), (1, 2, (0, 2, 4, 6)), (2, 2, (0, 2, 4)), (3, 4, (0, 4)), (4, 4, (0,)), (7, 8, (0,)))
    out = []
    for name, (compute, memory, placements) in zip(names, shape, strict=True):
        if not name:
            continue
        nominal = float(re.search(r"\.(\d+)gb$", name).group(1)) * 1e9
        usable = usable_gib[memory] * GIB if memory in usable_gib else nominal
        out.append(Profile(name, compute, memory, usable, placements))
    return tuple(out)


#: (model name pattern, memory above this many GiB or None, MigGpu); the first that matches wins.
CATALOG: tuple[tuple[re.Pattern, float | None, MigGpu], ...] = (
    (
        re.compile(r"\bA100\b", re.I),
        60,
        MigGpu(
            "A100 80GB",
            7,
            8,
            _seven(("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"), {1: 9.5, 2: 19.5, 4: 39.25, 8: 79.0}),
        ),
    ),
    (
        re.compile(r"\bA100\b", re.I),
        None,
        MigGpu(
            "A100 40GB",
            7,
            8,
            _seven(("1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"), {1: 4.75, 2: 9.75, 4: 19.62, 8: 39.5}),
        ),
    ),
    (
        re.compile(r"\bA30\b", re.I),
        None,
        MigGpu(
            "A30",
            4,
            4,
            (
                Profile("1g.6gb", 1, 1, 6e9, (0, 1, 2, 3)),
                Profile("2g.12gb", 2, 2, 12e9, (0, 2)),
                Profile("4g.24gb", 4, 4, 24e9, (0,)),
            ),
        ),
    ),
    (
        re.compile(r"\bH200\b", re.I),
        None,
        MigGpu(
            "H200 141GB",
            7,
            8,
            _seven(("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"), {1: 16.0, 2: 32.5, 4: 69.75}),
        ),
    ),
    (
        re.compile(r"\bH100\b.*\bNVL\b", re.I),
        None,
        MigGpu("H100 NVL 94GB", 7, 8, _seven(("1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"), {8: 93.12})),
    ),
    (
        re.compile(r"\bH100\b", re.I),
        None,
        MigGpu(
            "H100 80GB",
            7,
            8,
            _seven(("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"), {1: 9.5, 2: 19.5, 4: 39.25}),
        ),
    ),
    (
        re.compile(r"\bH20\b", re.I),
        None,
        MigGpu("H20 96GB", 7, 8, _seven(("1g.12gb", "", "2g.24gb", "3g.48gb", "4g.48gb", "7g.96gb"), {})),
    ),
    (
        re.compile(r"\bB200\b", re.I),
        None,
        MigGpu("B200 180GB", 7, 8, _seven(("1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"), {})),
    ),
)


def lookup(model: str, memory_total_bytes: float | None = None) -> MigGpu | None:
    """The MIG profiles of a GPU by its model name (``"NVIDIA H200"``) and total memory; None when not MIG-capable
    or not in the catalog (an H100 96GB, GH200 or GB200 is not listed: their profiles differ)."""
    for pattern, above_gib, gpu in CATALOG:
        if not pattern.search(model or ""):
            continue
        if above_gib is not None:
            if memory_total_bytes is None and not re.search(r"80\s*GB", model, re.I):
                continue
            if memory_total_bytes is not None and memory_total_bytes <= above_gib * GIB:
                continue
        return gpu
    return None


def smallest_fitting(gpu: MigGpu, memory_bytes: float, compute_share: float = 0.0) -> Profile | None:
    """The smallest profile (memory slices, then compute slices) with at least ``memory_bytes`` usable and a
    compute share (slices / the GPU's) of at least ``compute_share`` (0-1); None when none is large enough."""
    for p in sorted(gpu.profiles, key=lambda p: (p.memory_slices, p.compute_slices)):
        if p.memory_bytes >= memory_bytes and p.compute_slices / gpu.compute_slices >= compute_share - 1e-9:
            return p
    return None


def fits(gpu: MigGpu, profiles: Sequence[Profile]) -> bool:
    """True when one GPU can hold all of ``profiles`` at once: compute slices within the GPU's and every
    profile at one of its placements without overlapping another (exact search; at most 7 instances)."""
    if sum(p.compute_slices for p in profiles) > gpu.compute_slices:
        return False
    if sum(p.memory_slices for p in profiles) > gpu.memory_slots:
        return False
    order = sorted(profiles, key=lambda p: -p.memory_slices)
    used = [False] * gpu.memory_slots

    def place(i: int) -> bool:
        if i == len(order):
            return True
        p = order[i]
        for start in p.placements:
            slots = range(start, start + p.memory_slices)
            if slots.stop <= gpu.memory_slots and not any(used[s] for s in slots):
                for s in slots:
                    used[s] = True
                if place(i + 1):
                    return True
                for s in slots:
                    used[s] = False
        return False

    return place(0)
