"""Samples -> :class:`~.model.Host`: the exporter's and sidecar's series, read back into one host.

Both inputs end here: a /metrics text (offline: :func:`parse_text`, prometheus_client's text parser) and a
Prometheus window (``--prometheus``: helper module :mod:`.prometheus` gives the same names and labels).
:func:`host_of` reads only names of the registry (:mod:`axonize.names`), so the two modes build the same Host:

=====================================================  =========================================================
Series                                                 Host field
=====================================================  =========================================================
``axonize_gpu_info{gpu,uuid,model,mig_mode}``          one :class:`Gpu` per series (the GPUs of the host)
``axonize_gpu_memory_{total,used}_bytes``               ``memory_total_bytes`` / ``memory_used_bytes``
``axonize_gpu_utilization_ratio``, ``_sm_active_ratio`` ``utilization_ratio`` / ``sm_active_ratio``
``axonize_gpu_numa_node``, ``_cpu_affinity_info{cpus}`` ``numa_node`` / ``cpu_affinity`` (a cpulist, expanded)
``axonize_gpu_pcie_link_*``                            PCIe generation and width, current and max
``axonize_gpu_power_watts``, ``_power_limit_watts``     power; ``axonize_gpu_temperature_celsius``
``axonize_gpu_clock_event_reason_active{reason} == 1``  ``throttle_reasons``
``axonize_gpu_price_dollars_per_hour``                 ``price_dollars_per_hour``
``axonize_gpu_up``, ``axonize_gpu_nvlink_active``        ``up`` (absent: up) / ``nvlink_active_ratio`` (mean)
``axonize_mig_info`` and ``axonize_mig_*`` gauges       ``mig_instances`` (``mig_enabled`` from mig_mode)
``axonize_gpu_peer_path_info{peer_gpu,path}``           :class:`Link` (one per pair), NVLINK with
``axonize_gpu_peer_nvlinks``                            its bonded link count
``axonize_numa_node_*{node}``                           :class:`NumaNode`; CPUs from the GPUs' affinity
``axonize_gpu_container_*``                             a :class:`Workload` per named container (source containers)
``axonize_gpu_container_numa_mismatch``, ``_placement_info``  its ``numa_placement`` per GPU (series)
``axonize_inference_server_gpu_info{server,model,uuid}``  a :class:`Workload` per model server (source sidecar),
``axonize_inference_kv_cache_usage_ratio``, ``_requests_waiting``  with its KV cache use and queue
=====================================================  =========================================================

Errors: :class:`SamplesError` (a ValueError) naming the file and line of a malformed text, or saying what is
missing (no ``axonize_gpu_info``: not the exporter's output) and when the samples hold more than one host.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from prometheus_client.parser import text_string_to_metric_families

from axonize.cpulist import parse_cpulist

from .model import Gpu, Host, Link, MigInstance, NumaNode, Sample, Workload

#: The exporter's container identity labels (axonize.names.labels.CONTAINER without the GPU and MIG ids).
CONTAINER_KEYS = ("container_runtime", "container_id", "container", "pod", "namespace", "pod_uid", "systemd_unit")
#: Clock event reasons that are not throttling: the GPU is idle, or clocks were set so on purpose.
NOT_THROTTLING = frozenset({"gpu_idle", "applications_clocks_setting", "display_clocks_setting", "sync_boost"})


class SamplesError(ValueError):
    """Samples that do not describe one host; the message names the file (and line) or what is missing."""


def parse_text(text: str, where: str) -> list[Sample]:
    """Every sample of a Prometheus text exposition, labels sorted; ``where`` names it in errors.

    Raises :class:`SamplesError` ``"WHERE:LINE: not Prometheus text: PROBLEM"`` for a line the parser refuses.
    """
    try:
        return [
            Sample(s.name, tuple(sorted(s.labels.items())), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]
    except ValueError as exc:
        line, problem = _bad_line(text, exc)
        raise SamplesError(f"{where}:{line}: not Prometheus text: {problem}") from None


def _bad_line(text: str, exc: ValueError) -> tuple[int, str]:
    """The first line the parser refuses on its own (a sample line parses alone), and why."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            for _ in text_string_to_metric_families(line + "\n"):
                pass
        except ValueError as line_exc:
            return number, f"{line_exc} in {line[:120]!r}"
    return 0, str(exc)


class _Series:
    """Samples by name, for lookups by label: ``one(name, gpu="3")``."""

    def __init__(self, samples: Iterable[Sample]):
        self.by_name: dict[str, list[Sample]] = defaultdict(list)
        for s in samples:
            self.by_name[s.name].append(s)

    def all(self, name: str) -> list[Sample]:
        return self.by_name.get(name, [])

    def per_gpu(self, name: str) -> dict[int, float]:
        """``{gpu index: value}`` of a per-GPU gauge (NaN samples left out)."""
        out = {}
        for s in self.all(name):
            gpu = s.label("gpu")
            if gpu.isdigit() and not math.isnan(s.value):
                out[int(gpu)] = s.value
        return out


def _hosts(series: _Series) -> list[str]:
    """The distinct hosts in the samples: Prometheus' ``instance`` of the GPU series and the exporter's hostname."""
    seen = []
    for s in series.all("axonize_gpu_info") + series.all("axonize_host_info"):
        key = s.label("instance")
        if key and key not in seen:
            seen.append(key)
    names = sorted({s.label("hostname") for s in series.all("axonize_host_info") if s.label("hostname")})
    if len(names) > 1 and len(seen) <= 1:
        return names
    return seen


def host_of(samples: Sequence[Sample], sources: Sequence[str] = (), hostname: str = "", fallback: str = "host") -> Host:
    """The one host the samples describe (see the module docstring for which series give what).

    Its name: ``hostname`` when given (``--hostname``, the workloads file's ``host:``), else the exporter's
    ``axonize_host_info{hostname}``, else the Prometheus ``instance`` of its series, else ``fallback`` (the
    capture's file name for a replay without ``--replay.hostname``). Raises :class:`SamplesError` when there is no ``axonize_gpu_info`` or more than
    one host (several ``instance`` labels, several hostnames, a GPU index with two UUIDs).
    """
    where = ", ".join(sources) or "the samples"
    series = _Series(samples)
    hosts = _hosts(series)
    if len(hosts) > 1:
        listed = ", ".join(hosts[:6]) + (" ..." if len(hosts) > 6 else "")
        raise SamplesError(
            f"{where}: the samples hold {len(hosts)} hosts ({listed}); the advisor reads one: choose it with "
            f"--selector '{{instance=\"{hosts[0]}\"}}' (or give one host's captures)"
        )
    infos = series.all("axonize_gpu_info")
    if not infos:
        raise SamplesError(
            f"{where}: no axonize_gpu_info series: not the Axonize exporter's output (give nvidia-smi captures, the "
            "exporter's /metrics text, or a Prometheus that scrapes the exporter)"
        )
    uuids: dict[int, str] = {}
    for s in infos:
        index = int(s.label("gpu"))
        if uuids.get(index, s.label("uuid")) != s.label("uuid"):
            raise SamplesError(
                f"{where}: GPU {index} appears with two UUIDs ({uuids[index]}, {s.label('uuid')}): the samples hold more "
                "than one host; give one host's captures or choose one with --selector"
            )
        uuids[index] = s.label("uuid")
    name = hostname or next((s.label("hostname") for s in series.all("axonize_host_info") if s.label("hostname")), "")
    name = name or (hosts[0] if hosts else fallback)
    gpus = tuple(_gpu(series, s) for s in sorted(infos, key=lambda s: int(s.label("gpu"))))
    return Host(
        hostname=name,
        gpus=gpus,
        links=_links(series),
        numa_nodes=_numa_nodes(series, gpus),
        workloads=_workloads(series, uuids),
        sources=tuple(sources),
    )


def _gpu(series: _Series, info: Sample) -> Gpu:
    index = int(info.label("gpu"))

    def value(name: str) -> float | None:
        return series.per_gpu(name).get(index)

    def integer(name: str) -> int | None:
        v = value(name)
        return None if v is None else int(v)

    affinity = next((s.label("cpus") for s in series.all("axonize_gpu_cpu_affinity_info") if s.label("gpu") == str(index)), None)
    reasons = tuple(
        sorted(
            s.label("reason")
            for s in series.all("axonize_gpu_clock_event_reason_active")
            if s.label("gpu") == str(index) and s.value >= 0.5 and s.label("reason") not in NOT_THROTTLING
        )
    )
    return Gpu(
        index=index,
        uuid=info.label("uuid"),
        model=info.label("model"),
        memory_total_bytes=value("axonize_gpu_memory_total_bytes") or 0.0,
        memory_used_bytes=value("axonize_gpu_memory_used_bytes"),
        utilization_ratio=value("axonize_gpu_utilization_ratio"),
        sm_active_ratio=value("axonize_gpu_sm_active_ratio"),
        numa_node=integer("axonize_gpu_numa_node"),
        cpu_affinity=parse_cpulist(affinity) if affinity else None,
        pcie_generation=integer("axonize_gpu_pcie_link_generation"),
        pcie_max_generation=integer("axonize_gpu_pcie_link_max_generation"),
        pcie_width_lanes=integer("axonize_gpu_pcie_link_width_lanes"),
        pcie_max_width_lanes=integer("axonize_gpu_pcie_link_max_width_lanes"),
        power_watts=value("axonize_gpu_power_watts"),
        power_limit_watts=value("axonize_gpu_power_limit_watts"),
        temperature_celsius=value("axonize_gpu_temperature_celsius"),
        throttle_reasons=reasons,
        price_dollars_per_hour=value("axonize_gpu_price_dollars_per_hour"),
        mig_enabled=info.label("mig_mode").lower() == "enabled",
        mig_instances=_mig_instances(series, index),
        up=value("axonize_gpu_up") != 0.0,
        nvlink_active_ratio=_mean([s.value for s in series.all("axonize_gpu_nvlink_active") if s.label("gpu") == str(index)]),
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _mig_instances(series: _Series, index: int) -> tuple[MigInstance, ...]:
    def per_gi(name: str) -> dict[str, float]:
        return {s.label("gpu_instance_id"): s.value for s in series.all(name) if s.label("gpu") == str(index)}

    total, used = per_gi("axonize_mig_memory_total_bytes"), per_gi("axonize_mig_memory_used_bytes")
    active = per_gi("axonize_mig_sm_active_ratio")
    out = []
    for s in series.all("axonize_mig_info"):
        if s.label("gpu") != str(index):
            continue
        gi = s.label("gpu_instance_id")
        out.append(
            MigInstance(
                gpu_instance_id=int(gi),
                compute_instance_id=int(s.label("compute_instance_id") or 0),
                profile=s.label("profile"),
                uuid=s.label("mig_uuid"),
                memory_total_bytes=total.get(gi),
                memory_used_bytes=used.get(gi),
                sm_active_ratio=active.get(gi),
            )
        )
    return tuple(sorted(out, key=lambda m: (m.gpu_instance_id, m.compute_instance_id)))


def _links(series: _Series) -> tuple[Link, ...]:
    """One :class:`Link` per GPU pair (the lower index first), its path and bonded NVLinks."""
    nvlinks = {(s.label("gpu"), s.label("peer_gpu")): int(s.value) for s in series.all("axonize_gpu_peer_nvlinks")}
    links = {}
    for s in series.all("axonize_gpu_peer_path_info"):
        a, b = s.label("gpu"), s.label("peer_gpu")
        if not (a.isdigit() and b.isdigit()) or a == b:
            continue
        pair = tuple(sorted((int(a), int(b))))
        if pair not in links:
            count = nvlinks.get((a, b), nvlinks.get((b, a), 0))
            links[pair] = Link(pair[0], pair[1], s.label("path"), count)
    return tuple(links[p] for p in sorted(links))


def _numa_nodes(series: _Series, gpus: Sequence[Gpu]) -> tuple[NumaNode, ...]:
    """The NUMA nodes the exporter names, and those of the GPUs; CPUs from the GPUs' affinity on each node."""
    cpus: dict[int, set[int]] = defaultdict(set)
    for g in gpus:
        if g.numa_node is not None and g.numa_node >= 0:
            cpus[g.numa_node] |= set(g.cpu_affinity or ())
    utilization = {}
    for s in series.all("axonize_numa_node_cpus") + series.all("axonize_numa_node_cpu_utilization_ratio"):
        node = s.label("node")
        if node.isdigit():
            cpus.setdefault(int(node), set())
            if s.name == "axonize_numa_node_cpu_utilization_ratio":
                utilization[int(node)] = s.value
    return tuple(NumaNode(n, frozenset(cpus[n]), utilization.get(n)) for n in sorted(cpus))


def _container_name(labels: dict[str, str]) -> str:
    if labels.get("pod"):
        parts = [labels.get("namespace", ""), labels["pod"], labels.get("container", "")]
        return "/".join(p for p in parts if p)
    return labels.get("container") or labels.get("systemd_unit") or labels.get("container_id", "")[:12]


def _workloads(series: _Series, uuids: dict[int, str]) -> tuple[Workload, ...]:
    """Named containers (the exporter) and model servers (the sidecar); a model server on the same GPUs as a
    container is that container (one workload, inference, with the model's series)."""
    containers: dict[tuple, dict] = {}
    for s in series.all("axonize_gpu_container_memory_used_bytes"):
        labels = dict(s.labels)
        key = tuple(labels.get(k, "") for k in CONTAINER_KEYS)
        if not any(key):
            continue  # processes whose container is unknown (replays, no host PID namespace)
        c = containers.setdefault(key, {"name": _container_name(labels), "gpus": set(), "mig": set(), "memory": 0.0})
        gpu, gi = int(labels["gpu"]), labels.get("gpu_instance_id", "")
        (c["mig"].add((gpu, int(gi))) if gi.isdigit() else c["gpus"].add(gpu))
        c["memory"] = max(c["memory"], s.value)
    activity: dict[tuple, list[float]] = defaultdict(list)
    for s in series.all("axonize_gpu_container_sm_utilization_ratio"):
        labels = dict(s.labels)
        activity[tuple(labels.get(k, "") for k in CONTAINER_KEYS)].append(s.value)
    placements = _numa_placements(series)
    models = _model_servers(series, uuids)
    out = []
    for key, c in containers.items():
        gpus = tuple(sorted(c["gpus"] | {g for g, _ in c["mig"]}))
        model = next((m for m in models if m["gpus"] and tuple(m["gpus"]) == gpus), None)
        if model:
            models.remove(model)
        sm = activity.get(key)
        where = ",".join(map(str, gpus))
        # processes outside any container (runtime "host") have no name: the model they serve, or where they run
        name = c["name"] or (model["name"] if model else f"{key[0] or 'unattributed'} processes on GPU {where}")
        out.append(
            Workload(
                name=name,
                kind="inference" if model else "training",
                gpus=tuple(sorted(c["gpus"])),
                mig=tuple(sorted(c["mig"])),
                memory_bytes=c["memory"],
                sm_active_ratio=max(sm) if sm else None,
                container=c["name"] or None,
                source="containers",
                numa_placement=placements.get(key, ()),
                **(_model_fields(model) if model else {}),
            )
        )
    for m in models:
        out.append(Workload(name=m["name"], kind="inference", gpus=tuple(m["gpus"]), source="sidecar", **_model_fields(m)))
    return tuple(out)


def _numa_placements(series: _Series) -> dict[tuple, tuple[tuple[int, str], ...]]:
    """Per container (its CONTAINER_KEYS values): (gpu, placement) for each ``axonize_gpu_container_numa_mismatch``
    series, in GPU then MIG instance order; the placement word from ``axonize_gpu_container_numa_placement_info``
    with the same labels, else ``"local"`` (0) or ``"mismatch"`` (1) from the gauge alone."""
    words = {}
    for s in series.all("axonize_gpu_container_numa_placement_info"):
        labels = dict(s.labels)
        word = labels.pop("placement", "")
        words[tuple(sorted(labels.items()))] = word
    out: dict[tuple, list[tuple[tuple[int, str], str]]] = defaultdict(list)
    for s in series.all("axonize_gpu_container_numa_mismatch"):
        labels = dict(s.labels)
        if not labels.get("gpu", "").isdigit() or math.isnan(s.value):
            continue
        key = tuple(labels.get(k, "") for k in CONTAINER_KEYS)
        word = words.get(s.labels) or ("local" if s.value < 0.5 else "mismatch")
        if (word == "local") != (s.value < 0.5):  # the gauge is what the rules read: it wins over the info's word
            word = "local" if s.value < 0.5 else "mismatch"
        out[key].append(((int(labels["gpu"]), word), labels.get("gpu_instance_id", "")))
    return {key: tuple(p for p, _ in sorted(rows, key=lambda r: (r[0][0], r[1]))) for key, rows in out.items()}


def _model_servers(series: _Series, uuids: dict[int, str]) -> list[dict]:
    index_of = {u: i for i, u in uuids.items()}
    servers: dict[tuple[str, str], dict] = {}
    for s in series.all("axonize_inference_server_gpu_info"):
        key = (s.label("server"), s.label("model"))
        m = servers.setdefault(key, {"server": key[0], "model": key[1], "gpus": set(), "engine": None})
        if s.label("uuid") in index_of:
            m["gpus"].add(index_of[s.label("uuid")])
    for name, field_ in (("axonize_inference_kv_cache_usage_ratio", "kv"), ("axonize_inference_requests_waiting", "queue")):
        for s in series.all(name):
            m = servers.get((s.label("server"), s.label("model")))
            if m is None:
                continue
            m["engine"] = s.label("engine") or m["engine"]
            m[field_] = max(m.get(field_, 0.0), s.value) if field_ == "kv" else m.get(field_, 0.0) + s.value
    names = [m["model"] for m in servers.values()]
    for m in servers.values():
        m["name"] = m["model"] if names.count(m["model"]) == 1 and m["model"] else f"{m['model']}@{m['server']}"
        m["gpus"] = sorted(m["gpus"])
    return list(servers.values())


def _model_fields(m: dict) -> dict:
    return {"model": m["model"] or None, "engine": m["engine"], "kv_cache_usage_ratio": m.get("kv"), "queue_waiting": m.get("queue")}
