"""NVIDIA's Grafana dashboard 12239 (written for dcgm-exporter) against ``--metrics-format dcgm``, through a real Prometheus.

Every query of the dashboard (panel targets, rows included, and the template
variables) is run the way Grafana runs it: variables resolved with
``label_values`` and substituted as "All" (a regex of every value), Grafana's
interval macros replaced, graph panels as range queries. :data:`SOURCES` says
which backends feed the exporter and which metrics each one cannot give; the
test fails when any other query comes back empty, and when one of those
unexpectedly has data.
"""

import json
import re
import sys
import time
from dataclasses import dataclass, field

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA, require_binary, requires
from tests.exporter.test_dcgm import assert_only_dcgm_exporters_own_findings, shared
from tests.fake_nvml import scenario_env

DASHBOARD = "dcgm-exporter-grafana-dashboard-12239.json"
H200_MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]
SCRAPE_INTERVAL_S = 1
#: Grafana's interval macros for a 1 s scrape interval and a 1 s step ($__rate_interval = max(4 x scrape, interval + scrape))
MACROS = {"__rate_interval": "4s", "__interval": "1s", "__interval_ms": "1000", "__range": "60s", "__range_s": "60", "__range_ms": "60000"}


@dataclass(frozen=True)
class Source:
    """Exporters that feed one Prometheus: target name -> exporter arguments; metrics this source cannot give."""

    targets: dict[str, list[str]]
    expected_absent: frozenset[str]
    env: dict[str, dict[str, str]] = field(default_factory=dict)  # target name -> environment (the fake NVML)


SOURCES = {
    # nvidia-smi captures carry no GPM activity (nvidia-smi -q does not print it), so in replay mode
    # DCGM_FI_PROF_PIPE_TENSOR_ACTIVE has no series and the "Tensor Core Utilization" panel stays empty.
    # The NVML backend reads it from GPM (nvmlGpmMetricsGet, Hopper and later); its source joins here.
    "replay": Source(
        targets={
            "h100x8": ["--replay", str(DEMO_Q), str(DEMO_TOPO), "--replay.hostname", "h100x8"],
            "h200mig": ["--replay", *map(str, H200_MIG), "--replay.hostname", "h200mig"],
        },
        expected_absent=frozenset({"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"}),
    ),
    # The NVML backend (no --replay) on the fake NVML fed from the same captures. GPM ratios are not in any
    # capture: the scenario declares them (the fake answers nvmlGpmMetricsGet with them), so every panel has data.
    "nvml": Source(
        targets={"h100x8": [], "h200mig": []},
        expected_absent=frozenset(),
        env={
            "h100x8": scenario_env([DEMO_Q, DEMO_TOPO], gpm={i: {"tensor_active": 0.1 * i, "sm_active": 0.5} for i in range(8)}),
            "h200mig": scenario_env(H200_MIG, gpm={0: {"tensor_active": 0.3}}),
        },
    ),
}


def start_exporter(name: str, args: list[str], metrics_format: str, logs, env: dict | None = None) -> tuple[ManagedProcess, str]:
    port = free_port()
    exporter = ManagedProcess(
        name,
        [
            sys.executable,
            "-m",
            "axonize.exporter",
            *args,
            "--metrics-format",
            metrics_format,
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--collect.interval",
            "1s",
        ],
        str(logs / f"{name}.log"),
        env=env,
    )
    wait_http(f"http://127.0.0.1:{port}/-/ready", 30, exporter)
    return exporter, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(shared(DASHBOARD).read_text())


@pytest.fixture(scope="module", params=sorted(SOURCES))
def served(request, tmp_path_factory):
    """(source, Prometheus scraping that source's exporters in ``--metrics-format dcgm``)."""
    source = SOURCES[request.param]
    binary = require_binary("prometheus")
    logs = tmp_path_factory.mktemp("logs")
    started = []
    try:
        targets = []
        for name, args in source.targets.items():
            exporter, target = start_exporter(name, args, "dcgm", logs, source.env.get(name))
            started.append(exporter)
            targets.append(target)
        server = PrometheusServer({"gpu": targets}, f"{SCRAPE_INTERVAL_S}s", binary=binary)
        started.append(server)
        server.start()
        server.wait_for('up{job="gpu"} == 1', timeout=30, min_results=len(targets))
        server.wait_for("count by (instance) (DCGM_FI_DEV_GPU_TEMP)", timeout=30, min_results=len(targets))
        time.sleep(3 * SCRAPE_INTERVAL_S)  # a few points per series for the range queries
        yield source, server
    finally:
        for thing in reversed(started):
            thing.stop()


# --- the dashboard, read as Grafana reads it ---------------------------------------------


def panel_targets(node) -> list[dict]:
    """Every query target of every panel, however deeply rows and panels nest (old ``rows`` schema included)."""
    found = []
    if isinstance(node, dict):
        for target in node.get("targets", []) if isinstance(node.get("targets"), list) else []:
            if isinstance(target, dict) and target.get("expr") and not target.get("hide"):
                found.append(target)
        for key, value in node.items():
            if key not in ("targets", "templating"):
                found += panel_targets(value)
    elif isinstance(node, list):
        for item in node:
            found += panel_targets(item)
    return found


def query_variables(dashboard: dict) -> list[dict]:
    return [v for v in dashboard.get("templating", {}).get("list", []) if v.get("type") == "query"]


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def grafana_regex_escape(value: str) -> str:
    """Grafana's Prometheus ``prometheusSpecialRegexEscape``: a value inside a PromQL string used as a regex."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)


def substitute(expr: str, values: dict[str, list[str]]) -> str:
    """Replace dashboard variables with "All" (``(v1|v2|...)``, escaped) and interval macros with their values."""

    def replace(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name in MACROS:
            return MACROS[name]
        if name not in values:
            raise AssertionError(f"{expr!r} uses ${name}, which is neither a dashboard variable nor a Grafana macro")
        return "(" + "|".join(grafana_regex_escape(v) for v in values[name]) + ")"

    return _VARIABLE.sub(replace, expr)


def prom_get(prom, path: str, **params) -> list:
    body = requests.get(f"{prom.url}{path}", params=params, timeout=10).json()
    assert body.get("status") == "success", f"{path} {params}: {body}"
    return body["data"]


def resolve_variables(prom, dashboard: dict) -> dict[str, list[str]]:
    """Each query variable's values, in dashboard order (a later variable may use an earlier one)."""
    values: dict[str, list[str]] = {}
    for var in query_variables(dashboard):
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        m = _LABEL_VALUES.match(query)
        assert m, f"variable ${var['name']}: {query!r} is not a label_values() query; teach this test to run it"
        params = {"start": time.time() - 300, "end": time.time()}
        if m.group("match"):
            params["match[]"] = substitute(m.group("match"), values)
        got = prom_get(prom, f"/api/v1/label/{m.group('label')}/values", **params)
        if var.get("regex"):
            got = [v for v in got if re.search(var["regex"].strip("/"), v)]
        values[var["name"]] = sorted(got)
    return values


def run_target(prom, target: dict, expr: str) -> list:
    if target.get("instant"):
        return prom_get(prom, "/api/v1/query", query=expr)["result"]
    end = time.time()
    return prom_get(prom, "/api/v1/query_range", query=expr, start=end - 60, end=end, step="1s")["result"]


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.integration
@requires("prometheus")
def test_template_variables_resolve_on_the_exporter(served, dashboard):
    source, prom = served
    variables = query_variables(dashboard)
    assert {v["name"] for v in variables} == {"instance", "gpu"}
    values = resolve_variables(prom, dashboard)
    assert len(values["instance"]) == len(source.targets)
    assert values["gpu"] == [str(i) for i in range(8)]  # 8x H100; the H200 MIG host has GPU 0 too
    for var in variables:
        m = _LABEL_VALUES.match(var["query"]["query"] if isinstance(var["query"], dict) else var["query"])
        series = prom_get(prom, "/api/v1/series", **{"match[]": m.group("match"), "start": time.time() - 300})
        assert series and all(m.group("label") in s for s in series), f"{m.group('match')} lacks the label {m.group('label')}"


@pytest.mark.integration
@requires("prometheus")
def test_every_dashboard_query_returns_data(served, dashboard):
    source, prom = served
    values = resolve_variables(prom, dashboard)
    targets = panel_targets(dashboard)
    assert len(targets) == 8
    empty, with_data = [], []
    for target in targets:
        expr = substitute(target["expr"], values)
        (empty if not run_target(prom, target, expr) else with_data).append(target["expr"])
    expected_empty = [t["expr"] for t in targets if any(re.search(rf"\b{name}\b", t["expr"]) for name in source.expected_absent)]
    if source.expected_absent:
        assert expected_empty, f"{sorted(source.expected_absent)} are no longer used by the dashboard: update SOURCES"
    assert empty == expected_empty, f"queries without data: {empty}; expected only {expected_empty}"
    assert len(with_data) == len(targets) - len(expected_empty)


@pytest.mark.integration
@requires("promtool")
def test_both_formats_are_served_together(tmp_path, promtool):
    exporter, target = start_exporter("both", ["--replay", str(DEMO_Q), str(DEMO_TOPO), "--replay.hostname", "h100x8"], "both", tmp_path)
    try:
        body = requests.get(f"http://{target}/metrics", timeout=10).text
    finally:
        exporter.stop()
    families = {f.name: f for f in text_string_to_metric_families(body)}
    for name in ("axonize_gpu_info", "axonize_gpu_power_watts", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED"):
        assert len(families[name].samples) == 8, name
    power = {s.labels["gpu"]: s.value for s in families["axonize_gpu_power_watts"].samples}
    assert power == {s.labels["gpu"]: s.value for s in families["DCGM_FI_DEV_POWER_USAGE"].samples}
    assert "axonize_exporter_collections" in families
    # promtool: nothing on the axonize_* families, and only dcgm-exporter's own findings on the DCGM_FI_* ones
    assert_only_dcgm_exporters_own_findings(promtool, body)
