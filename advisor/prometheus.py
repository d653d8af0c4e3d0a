"""Samples from a live Prometheus over a window: ``axonize advise --prometheus URL [--window 1h] [--selector ...]``.

The offline mode reads the exporter's and the sidecar's /metrics text; this mode asks a Prometheus that
scrapes them for the same series over a window, so both build the :class:`~axonize.advisor.model.Host`
from the same :class:`~axonize.advisor.model.Sample` list. For identical data the two modes give
identical samples (names, labels and values) except where a value is an average over the window.

Which series (:func:`names`), taken from the names registry (:mod:`axonize.names`), not copied by hand:

* the exporter's ``axonize_gpu_*``, ``axonize_mig_*``, ``axonize_numa_node_*`` families and ``axonize_host_info``;
* the sidecar's per-model families (those labelled with ``model``: the normalized inference series and
  ``axonize_inference_server_gpu_info``, the join from a server to its GPUs' ``uuid``), histograms excepted:
  the advisor reads no latency distribution, and cumulative buckets say nothing of the window.

How each is read over the window (:func:`reading`, the rule in one place)::

    info and counter                           last_over_time  identity, topology, cumulative totals (as the text has them)
    gauge, link generation and width now       max_over_time   the link drops its generation/width at idle; the best it
                                                               reached is what the slot gives (a degraded link never does)
    gauge of activity                          avg_over_time   unit ratio, watts, celsius, hertz, bytes_per_second,
                                                               requests, or bytes in use/free; and the clock event
                                                               reasons (0/1: the share of the window each held the clocks)
    any other gauge                            last_over_time  capacity, limits, maxima, prices, NUMA node, CPU counts,
                                                               NVLink counts, MIG sizes, states (gpu_up, ECC enabled)

Activity gauges whose name says they are a limit, a maximum, a total capacity or a price stay ``last_over_time``.

One host: ``selector`` (PromQL label matchers such as ``instance="h200-node:9947"``) narrows the exporter's
series; the exporter target left (``job``, ``instance``) is the host, and more than one is a ValueError naming
them. The sidecar runs as another target (another port), so the selector is not applied to it: its servers
are those whose ``axonize_inference_server_gpu_info`` names one of the host's GPU ``uuid``\\ s, and their series.

Labels: each series' target labels (those Prometheus attached: the target's ``up`` series' labels, ``job``
and ``instance`` at least) are removed, since the /metrics text has none of them. Empty label values do
not exist in Prometheus (``hostname=""`` is stored as no ``hostname`` label), so a Sample never carries one
in either mode.

The query: one instant query (POST ``/api/v1/query``), each family's ``F(name{selector}[window])`` tagged with
its name by ``label_replace`` (range functions drop ``__name__``) and joined with ``or`` (each tag keeps the
families apart, since ``or`` matches label sets without the name). Measured on loopback, 2 busy cores, for the
8x H100 exporter and a sidecar (609 samples): 50-70 ms, where one query per family takes ~170 ms in sequence
(tests/advisor/test_prometheus.py prints it). Errors name the URL.
"""

from __future__ import annotations

import re
from collections import defaultdict

import requests

from axonize import names as registry
from axonize.advisor.model import Sample

#: The exporter's families the advisor reads: these prefixes, plus :data:`EXPORTER_NAMES`.
EXPORTER_PREFIXES = ("axonize_gpu_", "axonize_mig_", "axonize_numa_node_")
EXPORTER_NAMES = ("axonize_host_info",)
#: Averaged gauges by unit (see the module docstring).
ACTIVITY_UNITS = ("ratio", "watts", "celsius", "hertz", "bytes_per_second", "requests")
#: Words in a gauge's name that make it a capacity, a limit or a price, read last whatever its unit.
NOT_ACTIVITY = ("_limit_", "_max_", "_total_", "_price_")
#: Gauges whose 0/1 value is averaged into the share of the window it held.
STATE_SHARES = ("axonize_gpu_clock_event_reason_active",)
#: Gauges read as the highest value of the window.
HIGHEST = ("axonize_gpu_pcie_link_generation", "axonize_gpu_pcie_link_width_lanes")

#: The label that carries a family's name through a range function (which drops ``__name__``).
NAME_LABEL = "axonize_advisor_name"


class PrometheusError(ValueError):
    """The Prometheus at a URL could not be read: unreachable, an HTTP error, an error answer, not its API, or no
    exporter series there. The message names the URL (the CLI prints it and exits 2)."""


def names() -> tuple[registry.Name, ...]:
    """The registry rows this mode reads, in registry order (exporter first, then sidecar)."""
    out = []
    for row in registry.REGISTRY.values():
        if row.component == "exporter" and (row.name.startswith(EXPORTER_PREFIXES) or row.name in EXPORTER_NAMES):
            out.append(row)
        elif row.component == "sidecar" and "model" in row.labels and row.type != "histogram":
            out.append(row)
    return tuple(out)


def reading(row: registry.Name) -> str:
    """The range function that reads ``row`` over a window: ``last_over_time``, ``avg_over_time`` or ``max_over_time``."""
    if row.type != "gauge":
        return "last_over_time"
    if row.name in HIGHEST:
        return "max_over_time"
    if row.name in STATE_SHARES:
        return "avg_over_time"
    in_use = row.unit == "bytes" and ("_used_" in row.name or "_free_" in row.name)
    if (row.unit in ACTIVITY_UNITS or in_use) and not any(word in row.name for word in NOT_ACTIVITY):
        return "avg_over_time"
    return "last_over_time"


def expression(name: str, window: str = "1h", selector: str = "") -> str:
    """The PromQL that reads one family over ``window``: ``avg_over_time(axonize_gpu_sm_active_ratio{gpu="3"}[1h])``.

    For a finding's evidence. KeyError when ``name`` is not registered, ValueError when ``window`` is not a range.
    """
    _check_window(window)
    row = registry.get(name)
    return f"{reading(row)}({name}{{{selector}}}[{window}])" if selector else f"{reading(row)}({name}[{window}])"


def samples_from_prometheus(url: str, window: str = "1h", selector: str = "", timeout_s: float = 10.0) -> list[Sample]:
    """The advisor's samples of one host, read from the Prometheus at ``url`` over the last ``window``.

    ``url``: the server's base URL (``http://prometheus:9090``, or with a path prefix behind a proxy);
    ``window``: a Prometheus range (``1h``, ``30m``); ``selector``: label matchers for the exporter's
    series (``instance="h200-node:9947"``, braces optional), empty for all; ``timeout_s``: the HTTP request's limit, seconds.

    Returns the samples sorted by name and labels (see the module docstring for which series, how each is
    read, and the labels removed). Raises ValueError for a window that is not a range, or when the selector
    leaves several exporter targets (naming them); :class:`PrometheusError` (a ValueError) naming ``url``
    when it is unreachable, answers an HTTP or PromQL error or something else than Prometheus' API, or has
    no exporter series that match over the window.
    """
    _check_window(window)
    selector = selector.strip()
    if selector.startswith("{") and selector.endswith("}"):
        selector = selector[1:-1].strip()
    rows = names()
    terms = [_term(row, window, selector if row.component == "exporter" else "") for row in rows]
    terms.append(_tagged("up", f"last_over_time(up[{window}])"))
    series = _query(url, " or ".join(terms), timeout_s)

    by_name: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for item in series:
        labels = dict(item.get("metric", {}))
        by_name[labels.pop(NAME_LABEL, "")].append((labels, float(item["value"][1])))
    target_labels = {_target(s): set(s) for s, _ in by_name.pop("up", [])}

    exporter = [row.name for row in rows if row.component == "exporter"]
    targets = sorted({_target(s) for name in exporter for s, _ in by_name.get(name, [])})
    if not targets:
        where = f" matching {{{selector}}}" if selector else ""
        raise PrometheusError(f"Prometheus at {url} has no axonize exporter series{where} in the last {window}")
    if len(targets) > 1:
        raise ValueError(_several_hosts(url, targets, [s for s, _ in by_name.get("axonize_host_info", [])]))
    host = targets[0]

    uuids = {s.get("uuid") for s, _ in by_name.get("axonize_gpu_info", []) if _target(s) == host}
    joins = by_name.get("axonize_inference_server_gpu_info", [])
    servers = {(_target(s), s.get("server", "")) for s, _ in joins if s.get("uuid") in uuids - {None}}

    out = []
    for row in rows:
        for labels, value in by_name.get(row.name, []):
            target = _target(labels)
            if (target == host) if row.component == "exporter" else ((target, labels.get("server", "")) in servers):
                drop = target_labels.get(target, {"job", "instance"})
                own = tuple(sorted((k, v) for k, v in labels.items() if k not in drop and v != ""))
                out.append(Sample(row.name, own, value))
    return sorted(out, key=lambda s: (s.name, s.labels))


def _check_window(window: str) -> None:
    if not re.fullmatch(registry.WINDOW, window):
        raise ValueError(f"window {window!r} is not a Prometheus range such as '1h' or '30m'")


def _tagged(name: str, promql: str) -> str:
    return f'label_replace({promql}, "{NAME_LABEL}", "{name}", "", "")'


def _term(row: registry.Name, window: str, selector: str) -> str:
    return _tagged(row.name, expression(row.name, window, selector))


def _target(labels: dict[str, str]) -> tuple[str, str]:
    return labels.get("job", ""), labels.get("instance", "")


def _several_hosts(url: str, targets: list[tuple[str, str]], host_info: list[dict[str, str]]) -> str:
    hostnames = {_target(s): s.get("hostname", "") for s in host_info}
    listed = ", ".join(f'instance="{i}" (job {j}{", host " + hostnames[(j, i)] if hostnames.get((j, i)) else ""})' for j, i in targets)
    example = targets[0][1]
    return (
        f"Prometheus at {url} has {len(targets)} axonize exporter targets: {listed}; "
        f"the advisor reads one host: pick one with --selector 'instance=\"{example}\"'"
    )


def _query(url: str, promql: str, timeout_s: float) -> list[dict]:
    """POST an instant query; the vector's items. PrometheusError naming ``url`` on any failure."""
    endpoint = f"{url.rstrip('/')}/api/v1/query"
    try:
        r = requests.post(endpoint, data={"query": promql}, timeout=timeout_s)
    except requests.Timeout:
        raise PrometheusError(f"Prometheus at {url} did not answer within {timeout_s:g} s") from None
    except requests.RequestException as exc:
        raise PrometheusError(f"Prometheus at {url} is unreachable: {exc}") from None
    try:
        body = r.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        raise PrometheusError(f"{endpoint} answered HTTP {r.status_code} but not as Prometheus' HTTP API: {r.text[:200]!r}")
    if body["status"] != "success":
        raise PrometheusError(f"Prometheus at {url} answered HTTP {r.status_code}, {body.get('errorType')}: {body.get('error')}")
    data = body.get("data") or {}
    if data.get("resultType") != "vector":
        raise PrometheusError(f"Prometheus at {url} answered a {data.get('resultType')!r}, not an instant vector")
    return data.get("result") or []
