"""Diagnosis rules: one module per topic, each a function ``findings(host, bundle, thresholds) -> list[Finding]``.

:func:`diagnose` runs them all. Topics and the kinds they raise:

* :mod:`.numa`: numa_mismatch, job_split_numa
* :mod:`.nvlink`: nvlink_ignored
* :mod:`.mig`: mig_unused
* :mod:`.memory`: memory_oversized, memory_undersized
* :mod:`.io`: pcie_degraded, busy_but_idle, gpu_waiting, throttling
* :mod:`.waste`: idle_gpu, efficiency_grade

Thresholds live in :mod:`.thresholds`, each with its reason.
"""

from __future__ import annotations

from axonize import bundle as bundle_module

from ..model import SEVERITIES, Finding, Host
from . import io, memory, mig, numa, nvlink, waste
from .thresholds import DEFAULT, Thresholds

TOPICS = (numa, nvlink, mig, memory, io, waste)


def diagnose(host: Host, bundle: bundle_module.Bundle | None = None, thresholds: Thresholds = DEFAULT) -> tuple[Finding, ...]:
    """Every finding of ``host``, most severe first, then the most costly ($ per month), then by kind and GPUs."""
    b = bundle or bundle_module.load()
    found = [f for topic in TOPICS for f in topic.findings(host, b, thresholds)]
    return tuple(sorted(found, key=lambda f: (SEVERITIES.index(f.severity), -(f.dollars_per_month or 0.0), f.kind, f.gpus, f.workloads)))


__all__ = ["DEFAULT", "Thresholds", "diagnose"]
