"""How findings cite their evidence and price their cost: metric selectors, units, $ per month."""

from __future__ import annotations

import re

from axonize import bundle as bundle_module

from ..model import Evidence, Gpu, Workload


def metric(name: str, **labels: object) -> str:
    """A PromQL selector naming where a value comes from: ``axonize_gpu_numa_node{gpu="2"}``; a label whose name
    ends with ``~`` matches a regex (``metric(n, **{"container_id~": "9ec3.*"})`` -> ``n{container_id=~"9ec3.*"}``)."""
    inner = ",".join(f'{k[:-1]}=~"{v}"' if k.endswith("~") else f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}" if inner else name


def gib(value: float | None) -> str:
    """Bytes as GiB with one decimal (``"16.0 GiB"``), or ``"unknown"``."""
    return "unknown" if value is None else f"{value / 2**30:.1f} GiB"


def pct(value: float | None) -> str:
    """A ratio 0-1 as a percentage (``"37 %"``), or ``"unknown"``."""
    return "unknown" if value is None else f"{100 * value:.0f} %"


def monthly(dollars_per_hour: float | None, bundle: bundle_module.Bundle) -> float | None:
    """$ per month of an hourly price: × the bundle's ``cost.hours_per_month`` (730); None without a price."""
    return None if dollars_per_hour is None else dollars_per_hour * float(bundle.hours_per_month)


def price(gpu: Gpu) -> Evidence | None:
    """The GPU's price as evidence, when it has one."""
    if gpu.price_dollars_per_hour is None:
        return None
    return Evidence(
        f"GPU {gpu.index} price", f"${gpu.price_dollars_per_hour:.2f}/h", metric("axonize_gpu_price_dollars_per_hour", gpu=gpu.index)
    )


def declared(w: Workload, what: str, value: str) -> Evidence:
    """A value of the workload itself, cited by where the workload came from."""
    where = {"workloads": "workloads file", "containers": "axonize_gpu_container_* (exporter)", "sidecar": "axonize_inference_* (sidecar)"}
    return Evidence(f"{w.name} {what}", value, f"{where.get(w.source, w.source)}: {w.name}")


def container_labels(w: Workload) -> dict[str, str]:
    """The exporter's container labels of a measured workload, for a selector, from the name :mod:`advisor.samples`
    gave it: ``namespace``, ``pod``, ``container`` of a pod (``namespace/pod/container``); ``systemd_unit`` of a
    service; ``container_id`` (a regex on its first 12 hex digits) of an unnamed container; else ``container``;
    none when the exporter named no container. Values with ``=~`` are regexes (the key ends with ``~``)."""
    name = w.container
    if not name:
        return {}
    parts = name.split("/")
    if len(parts) == 3:
        return dict(zip(("namespace", "pod", "container"), parts, strict=True))
    if name.endswith((".service", ".scope", ".slice")):
        return {"systemd_unit": name}
    if re.fullmatch(r"[0-9a-f]{12}", name):
        return {"container_id~": f"{name}.*"}
    return {"container": name}
