"""The packaged demo scenarios (``axonize advise --scenario NAME``): captures and a workloads file each.

Each folder under ``scenarios/`` holds ``nvidia-smi-q.txt``, ``topo-m.txt``, ``workloads.yml`` and the
SOURCES.md that says which real capture each was derived from and how (``scenarios/derive.py``)::

    files("h200x8")   # -> Scenario(captures=(.../nvidia-smi-q.txt, .../topo-m.txt), workloads=.../workloads.yml)

Errors: ValueError naming the unknown scenario and the known ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

#: Scenario names and what they are, in the order ``--help`` lists them.
SCENARIOS = {
    "h200x8": "8x H200 HGX, 3 training + 2 inference jobs (InfraLens demo)",
    "l40sx4": "4x L40S PCIe, no NVLink or MIG: a split fine-tune, NUMA, a x8 link, an idle GPU",
}
CAPTURES = ("nvidia-smi-q.txt", "topo-m.txt")


@dataclass(frozen=True)
class Scenario:
    name: str
    captures: tuple[str, ...]
    workloads: str


def files(name: str) -> Scenario:
    """The paths of scenario ``name``'s files (the installed package's own; a wheel installs them as files)."""
    if name not in SCENARIOS:
        raise ValueError(f"--scenario: unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
    folder = Path(str(resources.files("axonize.advisor").joinpath("scenarios", name)))
    return Scenario(name, tuple(str(folder / c) for c in CAPTURES), str(folder / "workloads.yml"))
