"""The workloads file: what runs where, for hosts whose processes cannot be attributed (``--workloads FILE``).

As the InfraLens demo declares it ("3 training + 2 inference")::

    host: h200-node                  # optional: the host's name when the captures carry none
    workloads:
      - name: training-01
        kind: training               # training | inference
        gpus: [3, 5]                 # where it runs now: GPU indexes, or
        # container: ns/pod/ctr      #   the exporter's container (its GPUs and memory as measured), or
        # mig: [{gpu: 6, gpu_instance_id: 1}]   a MIG GPU instance
        cpus: 0-63,128-191           # a Linux cpulist it is pinned to (absent: unpinned)
        memory: 110GiB               # per GPU (or MIG instance): bytes, or a number with B/KB/MB/GB/TB/KiB/MiB/GiB/TiB
        tensor_parallel: 2           # GPUs of one tensor-parallel group (model servers)
        model: meta-llama/Llama-3.1-8B-Instruct
        engine: vllm

:func:`load` checks the file's shape (axonize.schema: ``FILE:LINE: KEY: PROBLEM``); :func:`apply` checks it
against the host and merges it in, raising :class:`~axonize.yaml_file.ConfigError` such as
``workloads.yml:7: workloads[2].gpus: GPU 9 does not exist on host h200-node (GPUs 0-7)``. The file wins
where it and the measured workloads (the exporter's containers, the sidecar's models) disagree; what it does
not say (memory, SM activity, a model's KV cache use, a container's NUMA placement when it gives no ``cpus``)
is taken from the measurements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Annotated, Any

from pydantic import BeforeValidator

from axonize import schema, yaml_file
from axonize.cpulist import format_cpulist, parse_cpulist
from axonize.yaml_file import ConfigError

from .model import Host, Workload

KINDS = ("training", "inference")
_UNITS = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)


def parse_bytes(value: Any) -> float:
    """``40GiB`` -> 42949672960.0, ``512MB`` -> 512e6, ``1024`` -> 1024.0; ValueError for anything else or <= 0."""
    if isinstance(value, bool):
        raise ValueError(f"must be bytes or a size like '40GiB', got {schema.shown(value)}")
    if isinstance(value, (int, float)):
        size = float(value)
    else:
        m = _SIZE.match(str(value))
        if not m:
            raise ValueError(f"must be bytes or a size like '40GiB' or '512MB', got {schema.shown(value)}")
        size = float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    if not size > 0 or size == float("inf"):
        raise ValueError(f"must be a size above 0, got {schema.shown(value)}")
    return size


def _cpus(value: Any) -> frozenset[int]:
    try:
        cpus = parse_cpulist(str(value) if isinstance(value, int) else value)
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"must be a Linux cpulist like '0-31,64-95': {exc}") from None
    if not cpus:
        raise ValueError("must name at least one CPU (leave cpus out for an unpinned workload)")
    return cpus


def _kind(value: Any) -> str:
    if value not in KINDS:
        raise ValueError(f"must be one of {', '.join(KINDS)}, got {schema.shown(value)}")
    return value


def _index(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a GPU index (an integer >= 0), got {schema.shown(value)}")
    return value


def _positive(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be an integer >= 1, got {schema.shown(value)}")
    return value


Index = Annotated[int, BeforeValidator(_index)]


class MigModel(schema.Section):
    gpu: Index
    gpu_instance_id: Index


class WorkloadModel(schema.Section):
    name: schema.Text
    kind: Annotated[str, BeforeValidator(_kind)]
    gpus: tuple[Index, ...] = ()
    container: schema.Text | None = None
    mig: tuple[MigModel, ...] = ()
    cpus: Annotated[frozenset[int], BeforeValidator(_cpus)] | None = None
    memory: Annotated[float, BeforeValidator(parse_bytes)] | None = None
    tensor_parallel: Annotated[int, BeforeValidator(_positive)] | None = None
    model: schema.Text | None = None
    engine: schema.Text | None = None


class WorkloadsModel(schema.Section):
    host: schema.Text | None = None
    workloads: tuple[WorkloadModel, ...]


@dataclass(frozen=True)
class WorkloadsFile:
    """A checked workloads file: its entries, and the document for error lines."""

    host: str | None
    entries: tuple[WorkloadModel, ...]
    doc: yaml_file.Document


def load(path: str) -> WorkloadsFile:
    """Read and check ``path``'s shape; raises ConfigError ``FILE:LINE: workloads[i].KEY: PROBLEM``."""
    doc = yaml_file.read(path)
    model = schema.validate(WorkloadsModel, doc)
    if not model.workloads:
        line = doc.line(("workloads",))
        raise ConfigError(f"{doc.where}{f':{line}' if line else ''}: workloads: list at least one workload")
    for i, entry in enumerate(model.workloads):
        placed = [k for k in ("gpus", "container", "mig") if getattr(entry, k)]
        if len(placed) != 1:
            what = "none of them" if not placed else " and ".join(placed)
            _fail(doc, (i,), f"give exactly one of gpus, container or mig (where it runs now), not {what}")
        if len(set(entry.gpus)) != len(entry.gpus):
            _fail(doc, (i, "gpus"), "lists a GPU twice")
    names = [e.name for e in model.workloads]
    for i, name in enumerate(names):
        if names.index(name) != i:
            _fail(doc, (i, "name"), f"{name!r} is the name of workloads[{names.index(name)}] too")
    return WorkloadsFile(model.host, model.workloads, doc)


def _fail(doc: yaml_file.Document, loc: tuple, message: str) -> None:
    full = ("workloads", *loc)
    line = doc.line(full)
    raise ConfigError(f"{doc.where}{f':{line}' if line else ''}: {schema.key_path(full)}: {message}")


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def apply(file: WorkloadsFile, host: Host) -> Host:
    """``host`` with the file's workloads in (replacing the measured ones they name or cover).

    Checks each entry against the host: its GPUs, MIG instances, container and CPUs exist; its memory fits
    one of its GPUs (or its MIG instance); a tensor-parallel group fits its GPUs and the host. Raises
    ConfigError naming the file, line and key.
    """
    doc = file.doc
    indexes = [g.index for g in host.gpus]
    listed = f"GPUs {indexes[0]}-{indexes[-1]}" if indexes == list(range(indexes[0], indexes[-1] + 1)) else f"GPUs {indexes}"
    all_cpus = frozenset().union(*(n.cpus for n in host.numa_nodes))
    measured = list(host.workloads)
    out: list[Workload] = []
    for i, e in enumerate(file.entries):
        for g in e.gpus:
            if g not in indexes:
                _fail(doc, (i, "gpus"), f"GPU {g} does not exist on host {host.hostname} ({listed})")
        gpus, mig = tuple(e.gpus), tuple((m.gpu, m.gpu_instance_id) for m in e.mig)
        for j, (g, gi) in enumerate(mig):
            if g not in indexes:
                _fail(doc, (i, "mig", j, "gpu"), f"GPU {g} does not exist on host {host.hostname} ({listed})")
            if gi not in [m.gpu_instance_id for m in host.gpu(g).mig_instances]:
                have = sorted({m.gpu_instance_id for m in host.gpu(g).mig_instances})
                _fail(doc, (i, "mig", j, "gpu_instance_id"), f"GPU {g} has no MIG GPU instance {gi} (instances: {have or 'none, MIG off'})")
        base = None
        if e.container:
            base = next((w for w in measured if w.container == e.container), None)
            if base is None:
                known = sorted({w.container for w in measured if w.container})
                _fail(
                    doc,
                    (i, "container"),
                    f"no container {e.container!r} uses a GPU on host {host.hostname} (containers: {known or 'none seen'})",
                )
            gpus, mig = base.gpus, base.mig
        if e.cpus is not None and all_cpus and not e.cpus <= all_cpus:
            extra = format_cpulist(e.cpus - all_cpus)
            _fail(doc, (i, "cpus"), f"CPUs {extra} are not CPUs of host {host.hostname} (CPUs {format_cpulist(all_cpus)})")
        if e.memory is not None:
            for g in gpus:
                if e.memory > host.gpu(g).memory_total_bytes > 0:
                    _fail(doc, (i, "memory"), f"{_gib(e.memory)} per GPU is more than GPU {g}'s {_gib(host.gpu(g).memory_total_bytes)}")
            for g, gi in mig:
                size = next((m.memory_total_bytes for m in host.gpu(g).mig_instances if m.gpu_instance_id == gi), None)
                if size and e.memory > size:
                    _fail(doc, (i, "memory"), f"{_gib(e.memory)} is more than MIG instance {gi} of GPU {g} ({_gib(size)})")
        if e.tensor_parallel is not None:
            if e.tensor_parallel > len(indexes):
                _fail(doc, (i, "tensor_parallel"), f"{e.tensor_parallel} GPUs in one group, host {host.hostname} has {len(indexes)}")
            if gpus and len(gpus) % e.tensor_parallel:
                _fail(doc, (i, "tensor_parallel"), f"a group of {e.tensor_parallel} does not divide its {len(gpus)} GPUs")
        covered = [w for w in measured if w is base or (w.gpus and set(w.gpus) <= set(gpus)) or w.name == e.name]
        for w in covered:
            measured.remove(w)
        out.append(_merged(e, gpus, mig, covered, host, file))
    return replace(host, workloads=tuple(out + measured))


def _merged(e: WorkloadModel, gpus: tuple, mig: tuple, covered: list[Workload], host: Host, file: WorkloadsFile) -> Workload:
    """The entry as a Workload; what it does not say from the measured workloads it replaces, or its GPUs."""
    first = covered[0] if covered else None
    workload_gpus = {*gpus, *(g for g, _ in mig)}
    memory, active = e.memory, None
    if first is not None:
        memory = memory if memory is not None else first.memory_bytes
        active = first.sm_active_ratio
    alone = gpus and not any(set(gpus) & set(other.gpus) for other in file.entries if other is not e)
    if alone:
        used = [host.gpu(g).memory_used_bytes for g in gpus]
        if memory is None and all(u is not None for u in used):
            memory = max(used)
        sm = [host.gpu(g).sm_active_ratio for g in gpus]
        if active is None and all(s is not None for s in sm):
            active = sum(sm) / len(sm)
    return Workload(
        name=e.name,
        kind=e.kind,
        gpus=tuple(gpus),
        mig=tuple(mig),
        cpus=e.cpus,
        memory_bytes=memory,
        sm_active_ratio=active,
        tensor_parallel=e.tensor_parallel,
        model=e.model or (first.model if first else None),
        engine=e.engine or (first.engine if first else None),
        kv_cache_usage_ratio=first.kv_cache_usage_ratio if first else None,
        queue_waiting=first.queue_waiting if first else None,
        container=e.container or (first.container if first else None),
        source="workloads",
        # the exporter's NUMA judgement of the container stands unless the file says where its CPUs are
        numa_placement=tuple(p for p in first.numa_placement if p[0] in workload_gpus) if first and e.cpus is None else (),
    )
