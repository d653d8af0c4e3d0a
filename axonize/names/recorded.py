"""The recording rules' recorded names (``level:metric:operations``), as the rule templates write them.

A ``{window}`` in a name stands for a range from the bundle configuration (``rate_window``,
``queue_growth_window``: ``5m``); :func:`axonize.names.recorded_name` fills it in. ``labels`` are the
labels the level keeps (the scraped series' target labels, such as ``instance`` and ``job``, come on top).
``help`` is the meaning and unit; the formula is the comment above each rule in rules/*.rules.yml and
its section of docs/metrics.md.
"""

from __future__ import annotations

from axonize.names import Name
from axonize.names.labels import CONTAINER, GPU, MIG_INSTANCE

_C = "rules"

NAMES: tuple[Name, ...] = (
    Name("gpu:axonize_gpu_cost:dollars_per_hour", "gauge", "dollars_per_hour", GPU, "What an hour of each GPU costs, $/h.", _C),
    Name(
        "mig:axonize_mig_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        MIG_INSTANCE,
        "What an hour of each MIG GPU instance costs, $/h.",
        _C,
    ),
    Name("host:axonize_gpu_cost:dollars_per_hour", "gauge", "dollars_per_hour", ("instance",), "Cost of each host's GPUs, $/h.", _C),
    Name("fleet:axonize_gpu_cost:dollars_per_hour", "gauge", "dollars_per_hour", (), "Cost of the fleet's GPUs, $/h.", _C),
    Name(
        "host:axonize_gpu_cost:dollars_per_month", "gauge", "dollars", ("instance",), "Projected monthly cost of each host's GPUs, $.", _C
    ),
    Name("fleet:axonize_gpu_cost:dollars_per_month", "gauge", "dollars", (), "Projected monthly cost of the fleet's GPUs, $.", _C),
    Name("gpu:axonize_gpu_idle_cost:dollars_per_hour", "gauge", "dollars_per_hour", GPU, "Idle cost of each GPU, $/h.", _C),
    Name(
        "mig:axonize_mig_idle_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        MIG_INSTANCE,
        "Idle cost of each MIG GPU instance, $/h.",
        _C,
    ),
    Name(
        "host:axonize_gpu_idle_cost:dollars_per_hour", "gauge", "dollars_per_hour", ("instance",), "Idle cost of each host's GPUs, $/h.", _C
    ),
    Name("fleet:axonize_gpu_idle_cost:dollars_per_hour", "gauge", "dollars_per_hour", (), "Idle cost of the fleet's GPUs, $/h.", _C),
    Name(
        "fleet:axonize_gpu_idle_cost:dollars_per_month", "gauge", "dollars", (), "Projected monthly idle cost of the fleet's GPUs, $.", _C
    ),
    Name(
        "container:axonize_gpu_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        CONTAINER,
        "Cost of each container on each GPU (or MIG GPU instance), $/h.",
        _C,
    ),
    Name(
        "namespace_pod:axonize_gpu_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("namespace", "pod"),
        "Cost of each Kubernetes pod's GPUs, $/h.",
        _C,
    ),
    Name(
        "server_model_uuid:axonize_gpu_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("server", "model", "uuid"),
        "Cost of each (server, model, uuid) row of axonize_inference_server_gpu_info, $/h.",
        _C,
    ),
    Name(
        "model:axonize_gpu_cost:dollars_per_hour", "gauge", "dollars_per_hour", ("model",), "Cost of the GPUs serving each model, $/h.", _C
    ),
    Name(
        "model:axonize_gpu_cost:dollars_per_month",
        "gauge",
        "dollars",
        ("model",),
        "Projected monthly cost of the GPUs serving each model, $.",
        _C,
    ),
    Name(
        "model:axonize_inference_cost_per_million_tokens:dollars",
        "gauge",
        "dollars",
        ("model",),
        "GPU cost of a million generated (output) tokens of each model, $.",
        _C,
    ),
    Name(
        "model:axonize_inference_cost_per_request:dollars",
        "gauge",
        "dollars",
        ("model",),
        "GPU cost of a finished request of each model, $.",
        _C,
    ),
    Name(
        "mig:axonize_mig_utilization_score:ratio",
        "gauge",
        "ratio",
        (*MIG_INSTANCE, "source"),
        "Utilization of each MIG GPU instance, 0-1.",
        _C,
    ),
    Name(
        "gpu:axonize_gpu_utilization_score:ratio",
        "gauge",
        "ratio",
        (*GPU, "source"),
        "Utilization of each GPU, 0-1, exactly one value per GPU from the first source that has one.",
        _C,
    ),
    Name("gpu:axonize_gpu_memory_used:ratio", "gauge", "ratio", GPU, "VRAM used ratio of each GPU, 0-1.", _C),
    Name("gpu:axonize_efficiency_gpu_score:ratio", "gauge", "ratio", GPU, "InfraLens GPU score, 0-1.", _C),
    Name("gpu:axonize_efficiency_numa_score:ratio", "gauge", "ratio", GPU, "InfraLens NUMA score of each GPU, 0-1.", _C),
    Name(
        "gpu:axonize_efficiency_io_score:ratio",
        "gauge",
        "ratio",
        GPU,
        'I/O score of each GPU, 0-1 (InfraLens leaves "Network I/O" undefined).',
        _C,
    ),
    Name("gpu:axonize_efficiency_score:percent", "gauge", "percent", GPU, "InfraLens efficiency score of each GPU, 0-100.", _C),
    Name(
        "gpu:axonize_efficiency_grade:rank",
        "gauge",
        "",
        GPU,
        "GPU efficiency grade as a number Grafana can map to a letter: 4 = A ... 0 = F.",
        _C,
    ),
    Name("gpu:axonize_efficiency_grade:info", "info", "", (*GPU, "grade"), "GPU efficiency grade as a letter in label grade, value 1.", _C),
    Name("host:axonize_efficiency_score:percent", "gauge", "percent", ("instance",), "Host efficiency score, 0-100.", _C),
    Name(
        "host:axonize_efficiency_grade:rank",
        "gauge",
        "",
        ("instance",),
        "Host efficiency grade as a number Grafana can map to a letter: 4 = A ... 0 = F.",
        _C,
    ),
    Name(
        "host:axonize_efficiency_grade:info",
        "info",
        "",
        ("instance", "grade"),
        "Host efficiency grade as a letter in label grade, value 1.",
        _C,
    ),
    Name("fleet:axonize_efficiency_score:percent", "gauge", "percent", (), "Fleet efficiency score, 0-100.", _C),
    Name(
        "fleet:axonize_efficiency_grade:rank",
        "gauge",
        "",
        (),
        "Fleet efficiency grade as a number Grafana can map to a letter: 4 = A ... 0 = F.",
        _C,
    ),
    Name("fleet:axonize_efficiency_grade:info", "info", "", ("grade",), "Fleet efficiency grade as a letter in label grade, value 1.", _C),
    Name(
        "model:axonize_inference_time_to_first_token_seconds:quantile_rate{window}",
        "gauge",
        "seconds",
        ("model", "quantile"),
        "Time to first token (TTFT) of each model, seconds, quantile label 0.5, 0.95, 0.99.",
        _C,
    ),
    Name(
        "model:axonize_inference_inter_token_latency_seconds:quantile_rate{window}",
        "gauge",
        "seconds",
        ("model", "quantile"),
        "Inter-token latency (ITL, one observation per decode step) of each model, seconds, quantile label 0.5, 0.95, 0.99.",
        _C,
    ),
    Name(
        "model:axonize_inference_e2e_request_latency_seconds:quantile_rate{window}",
        "gauge",
        "seconds",
        ("model", "quantile"),
        "End-to-end request latency of each model, seconds, quantile label 0.5, 0.95, 0.99.",
        _C,
    ),
    Name(
        "server_model:axonize_inference_generation_tokens:rate{window}",
        "gauge",
        "tokens_per_second",
        ("server", "model"),
        "Output tokens per second of each server and model, summed over engine cores.",
        _C,
    ),
    Name(
        "model:axonize_inference_generation_tokens:rate{window}",
        "gauge",
        "tokens_per_second",
        ("model",),
        "Output tokens per second of each model, summed over servers.",
        _C,
    ),
    Name(
        "gpu:axonize_inference_generation_tokens:rate{window}",
        "gauge",
        "tokens_per_second",
        GPU,
        "Output tokens per second of each GPU or MIG device (label uuid as the sidecar lists it).",
        _C,
    ),
    Name(
        "model:axonize_inference_requests_finished:rate{window}",
        "gauge",
        "requests_per_second",
        ("model",),
        "Finished requests per second of each model, every finish reason (stop, length, abort, ...).",
        _C,
    ),
    Name(
        "model:axonize_inference_kv_cache_usage_ratio:avg",
        "gauge",
        "ratio",
        ("model",),
        "KV-cache usage of each model, 0-1: the mean over its servers and engine cores.",
        _C,
    ),
    Name(
        "model:axonize_inference_kv_cache_usage_ratio:max",
        "gauge",
        "ratio",
        ("model",),
        "KV-cache usage of each model, 0-1: the fullest server or engine core (saturation).",
        _C,
    ),
    Name(
        "model:axonize_inference_requests_waiting:sum",
        "gauge",
        "requests",
        ("model",),
        "Requests waiting in the queues of each model's servers now.",
        _C,
    ),
    Name(
        "model:axonize_inference_requests_waiting:deriv{window}",
        "gauge",
        "requests_per_second",
        ("model",),
        "Queue growth of each model, requests per second.",
        _C,
    ),
    Name("gpu:axonize_gpu_energy_cost:dollars_per_hour", "gauge", "dollars_per_hour", GPU, "Energy cost of each GPU, $/h.", _C),
    Name(
        "host:axonize_gpu_energy_cost:dollars_per_hour",
        "gauge",
        "dollars_per_hour",
        ("instance",),
        "Energy cost of each host's GPUs, $/h.",
        _C,
    ),
    Name("fleet:axonize_gpu_energy_cost:dollars_per_hour", "gauge", "dollars_per_hour", (), "Energy cost of the fleet's GPUs, $/h.", _C),
)
