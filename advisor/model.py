"""The advisor's plain data: one host as the exporter and sidecar describe it, and what the advisor says of it.

Data flows one way (the house rule): samples (the exporter's and sidecar's /metrics text, or a Prometheus
over a window) -> :class:`Host` -> findings (:class:`Finding`) and a placement plan (:class:`Plan`) ->
a :class:`Report` rendered to the terminal, JSON, HTML and PDF. Every stage takes and returns these frozen
dataclasses; nothing downstream reaches back upstream.

Units follow the metric names they come from: bytes, ratios 0-1, watts, $ per hour. ``None`` means the
source did not say (a capture without GPM has no ``sm_active_ratio``), never zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Severities, most urgent first (the alerts' vocabulary).
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class MigInstance:
    """A MIG GPU instance (and compute instance) on a GPU: ``axonize_mig_info`` and its gauges."""

    gpu_instance_id: int
    compute_instance_id: int
    profile: str  # e.g. "3g.71gb", as axonize_mig_info's profile label
    uuid: str
    memory_total_bytes: float | None = None
    memory_used_bytes: float | None = None
    sm_active_ratio: float | None = None


@dataclass(frozen=True)
class Gpu:
    """One physical GPU of the host (``axonize_gpu_info`` and the gauges labelled with its ``gpu``/``uuid``)."""

    index: int  # the ``gpu`` label: nvidia-smi's index
    uuid: str
    model: str  # e.g. "NVIDIA H200"
    memory_total_bytes: float
    memory_used_bytes: float | None = None
    utilization_ratio: float | None = None  # NVML utilization.gpu (a kernel ran in the sample period)
    sm_active_ratio: float | None = None  # GPM/DCGM SM active: how much of the SMs did work
    numa_node: int | None = None  # axonize_gpu_numa_node
    cpu_affinity: frozenset[int] | None = None  # axonize_gpu_cpu_affinity_info's cpus, expanded
    pcie_generation: int | None = None
    pcie_max_generation: int | None = None
    pcie_width_lanes: int | None = None
    pcie_max_width_lanes: int | None = None
    power_watts: float | None = None
    power_limit_watts: float | None = None
    temperature_celsius: float | None = None
    throttle_reasons: tuple[str, ...] = ()  # active clock event reasons (axonize_gpu_clock_event_reason_active == 1)
    price_dollars_per_hour: float | None = None
    mig_enabled: bool = False
    mig_instances: tuple[MigInstance, ...] = ()
    up: bool = True  # axonize_gpu_up: False for a lost GPU (fallen off the bus, timed out): it scores 0
    nvlink_active_ratio: float | None = None  # share of its NVLinks up (mean of axonize_gpu_nvlink_active); None: not reported


@dataclass(frozen=True)
class Link:
    """How two GPUs of the host talk: ``path`` NVLINK or PIX/PXB/PHB/NODE/SYS (``axonize_gpu_peer_path_info``)."""

    gpu: int
    peer_gpu: int
    path: str
    nvlinks: int = 0  # bonded NVLinks (the # of NV#), 0 over PCIe


@dataclass(frozen=True)
class NumaNode:
    """A CPU-side NUMA node: its CPUs (``axonize_numa_node_cpus``) and, when known, its CPU utilization."""

    node: int
    cpus: frozenset[int] = frozenset()
    cpu_utilization_ratio: float | None = None


@dataclass(frozen=True)
class Workload:
    """Something that runs on the host's GPUs: from the exporter's containers, the sidecar's models, or the
    workloads file (which wins where they disagree, and is the only source on hosts that cannot attribute).

    ``gpus`` are GPU indexes (or, for a MIG instance, ``(gpu, gpu_instance_id)`` in ``mig``); ``cpus`` the
    CPUs it may run on (None: unpinned/unknown); ``memory_bytes`` what it needs (or holds, when measured).
    """

    name: str
    kind: str  # "training" | "inference"
    gpus: tuple[int, ...] = ()
    mig: tuple[tuple[int, int], ...] = ()
    cpus: frozenset[int] | None = None
    memory_bytes: float | None = None
    sm_active_ratio: float | None = None  # measured activity, when attributable
    tensor_parallel: int | None = None  # GPUs of one tensor-parallel group (model servers)
    model: str | None = None  # served model name (sidecar's ``model`` label)
    engine: str | None = None  # vllm, tgi, sglang, ...
    kv_cache_usage_ratio: float | None = None  # engines that preallocate: how much of the KV cache is used
    queue_waiting: float | None = None  # requests waiting in the engine's queue
    container: str | None = None  # pod/container or container id, as the exporter labels it
    source: str = "workloads"  # "workloads" file, "containers" (exporter), "sidecar"
    # Where the exporter found a container's CPUs relative to each GPU's NUMA node, one (gpu, placement) per
    # axonize_gpu_container_numa_mismatch series (two for two MIG instances of one GPU): placement "local",
    # "unpinned" or "remote" (axonize_gpu_container_numa_placement_info), or "mismatch" when only the 0/1 gauge
    # said so (1). Empty: not measured (workloads file, sidecar, captures). The score and NUMA findings use it
    # where it is given, as the recording rules do.
    numa_placement: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Host:
    """One host: its GPUs, the GPU-to-GPU links, NUMA nodes and the workloads on them.

    ``sources`` names where each part came from (capture paths, a Prometheus URL and window), for the report.
    """

    hostname: str
    gpus: tuple[Gpu, ...]
    links: tuple[Link, ...] = ()
    numa_nodes: tuple[NumaNode, ...] = ()
    workloads: tuple[Workload, ...] = ()
    sources: tuple[str, ...] = ()

    def gpu(self, index: int) -> Gpu:
        """The GPU with ``index``; KeyError naming it when the host has none."""
        for g in self.gpus:
            if g.index == index:
                return g
        raise KeyError(f"host {self.hostname} has no GPU {index} (GPUs: {', '.join(str(g.index) for g in self.gpus)})")

    def link(self, a: int, b: int) -> Link | None:
        """The link between GPUs ``a`` and ``b`` in either direction, or None when the topology is unknown."""
        for k in self.links:
            if (k.gpu, k.peer_gpu) in ((a, b), (b, a)):
                return k
        return None


@dataclass(frozen=True)
class Evidence:
    """One value a finding rests on, and where it came from: a PromQL expression or a capture file and line."""

    what: str  # "GPU 3 SM active"
    value: str  # "0.04" or "SYS"; already formatted with its unit
    source: str  # "avg_over_time(axonize_gpu_sm_active_ratio{gpu=\"3\"}[1h])" or "topo-m.txt:5"


@dataclass(frozen=True)
class Finding:
    """A diagnosis: what is wrong, for whom, why it matters, in words a non-expert can act on.

    ``kind`` is one of numa_mismatch, job_split_numa, nvlink_ignored, mig_unused, memory_oversized,
    memory_undersized, pcie_degraded, busy_but_idle, gpu_waiting, throttling, idle_gpu, efficiency_grade.
    ``dollars_per_month`` is the estimated cost of leaving it as is, when it can be priced (730 h a month).
    """

    kind: str
    severity: str  # one of SEVERITIES
    title: str
    explanation: str
    gpus: tuple[int, ...] = ()
    workloads: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    impact: str = ""  # "throughput up to ~20 % lower on cross-socket transfers"
    dollars_per_month: float | None = None


@dataclass(frozen=True)
class Placement:
    """Where the plan puts one workload: whole GPUs, or one MIG profile on a GPU, and the NUMA node's CPUs."""

    workload: str
    gpus: tuple[int, ...] = ()
    mig_profile: str | None = None  # e.g. "2g.35gb" on gpus[0]
    numa_node: int | None = None
    cpus: frozenset[int] | None = None


@dataclass(frozen=True)
class Step:
    """One thing an operator does to reach the plan, with the command when there is one."""

    description: str
    command: str = ""


@dataclass(frozen=True)
class Score:
    """The efficiency score (0-100) and grade, computed with the recording rules' formula and bundle weights."""

    score: float
    grade: str
    per_gpu: tuple[tuple[int, float], ...] = ()  # (gpu index, score 0-100)
    components: tuple[tuple[int, str, float], ...] = ()  # (gpu, component gpu/numa/io/utilization/memory, 0-1)


@dataclass(frozen=True)
class Plan:
    """A proposed placement, the steps to get there and its expected effect (before/after recomputed)."""

    placements: tuple[Placement, ...]
    steps: tuple[Step, ...]
    before: Score
    after: Score
    gpus_freed: tuple[int, ...] = ()
    dollars_per_month_saved: float | None = None  # net: GPUs it frees minus idle GPUs it puts to work, priced
    out_of_scope: tuple[str, ...] = ()
    # GPUs holding no work after the plan (those it frees and those idle now that stay idle): capacity to give
    # other work or to return; and their price a month (None when one is unpriced).
    gpus_available: tuple[int, ...] = ()
    dollars_per_month_available: float | None = None
    # score_host over the GPUs that hold work before / after the plan (the host restricted to them): the
    # headline, since ``before``/``after`` (the whole host, as the recording rules record it) count an
    # available GPU as idle, 0, until it gets work.
    in_use_before: Score | None = None
    in_use_after: Score | None = None


@dataclass(frozen=True)
class Report:
    """Everything the advisor says of one host; rendered by the terminal, JSON, HTML and PDF outputs."""

    host: Host
    score: Score
    findings: tuple[Finding, ...]
    plan: Plan | None
    narrative: str | None = None  # the optional LLM section, labelled as such
    narrative_error: str | None = None  # why there is none, when one was asked for
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Sample:
    """One sample as both inputs give it: a line of /metrics text (offline) or one series of a PromQL instant
    vector over the window (``--prometheus``). Both modes build the :class:`Host` from these alone, so they agree."""

    name: str
    labels: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    value: float

    def label(self, name: str, default: str = "") -> str:
        return dict(self.labels).get(name, default)
