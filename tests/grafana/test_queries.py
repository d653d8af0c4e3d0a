"""Every query of the committed dashboards returns data on a real Prometheus with the recording rules loaded.

Variables get the values their own label_values() queries return from that Prometheus (all of them, as Grafana's
All sends them). On the healthy stack (tests/grafana/stack.py: real load captures including a MIG host, the real
H200 exporter exposition, the sidecar on the real vLLM capture) every target of an ``always`` panel returns at least
one series; fault-only panels return data on the fault stack; panels whose source only the NVML backend reads
(NVLink state and counters, MIG GPM) evaluate without an error there and return data on the NVML stack (the NVML
backend on the fake NVML fed from the same captures).
"""

from __future__ import annotations

import re

import pytest

from axonize.processes import PrometheusServer
from tests.conftest import requires
from tests.grafana import committed, stack

pytestmark = [pytest.mark.integration, requires("prometheus")]
#: The panels only the NVML backend feeds (see their descriptions).
NVML_ONLY = {"NVLink links up", "NVLink traffic", "MIG instance SM active"}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    with stack.healthy(tmp_path_factory.mktemp("grafana-healthy")) as prom:
        yield prom


@pytest.fixture(scope="module")
def nvml(tmp_path_factory):
    with stack.nvml(tmp_path_factory.mktemp("grafana-nvml")) as prom:
        yield prom


@pytest.fixture(scope="module")
def faulted(tmp_path_factory):
    with stack.faults(tmp_path_factory.mktemp("grafana-faults")) as prom:
        yield prom


def variable_values(prom: PrometheusServer, uid: str, required: bool = True) -> dict[str, list[str]]:
    """Each variable's values, resolved in order from label_values() on ``prom`` (as Grafana resolves them);
    not ``required`` (the fault stack has no sidecar): a variable without values matches anything."""
    values: dict[str, list[str]] = {"datasource": ["axonize-prometheus"], **committed.custom_values(uid)}
    for var_uid, var in committed.variable_queries():
        if var_uid != uid:
            continue
        selector, label = re.fullmatch(r"label_values\((.*), (\w+)\)", var["definition"]).groups()
        series = prom.query(committed.substitute(selector, values))
        values[var["name"]] = sorted({s["metric"][label] for s in series if label in s["metric"]})
        assert values[var["name"]] or not required, f"{uid}: ${var['name']} has no values ({var['definition']})"
        values[var["name"]] = values[var["name"]] or [".*"]
    return values


def run_panels(prom: PrometheusServer, kinds: set[str]) -> tuple[list[str], list[str]]:
    """(errors, empty targets) of the panels of ``kinds``."""
    errors, empty = [], []
    values = {uid: variable_values(prom, uid, required=kinds == {"always"}) for uid in committed.dashboards()}
    for uid, panel, target in committed.targets():
        if committed.kind(panel) not in kinds:
            continue
        expr = committed.substitute(target["expr"], values[uid])
        try:
            result = prom.query(expr)
        except RuntimeError as exc:
            errors.append(f"{uid} / {panel['title']}: {exc}")
            continue
        if not result:
            empty.append(f"{uid} / {panel['title']} / {target['refId']}: {expr}")
    return errors, empty


def test_every_variable_has_values(healthy):
    for uid in committed.dashboards():
        variable_values(healthy, uid)


def test_every_panel_returns_data_on_the_load_captures(healthy):
    errors, empty = run_panels(healthy, {"always"})
    assert not errors, "\n".join(errors)
    assert not empty, "\n".join(empty)


def test_fault_only_panels_return_data_under_faults(faulted):
    errors, empty = run_panels(faulted, {"faults"})
    assert not errors, "\n".join(errors)
    assert not empty, "\n".join(empty)


def test_nvml_only_panels_evaluate_on_the_captures_and_are_marked(healthy):
    assert {p["title"] for _, p in committed.panels() if committed.kind(p) == "nvml"} == NVML_ONLY
    errors, _ = run_panels(healthy, {"nvml"})
    assert not errors, "\n".join(errors)


def test_nvml_only_panels_return_data_from_the_nvml_backend(nvml):
    errors, empty = run_panels(nvml, {"nvml"})
    assert not errors, "\n".join(errors)
    assert not empty, "\n".join(empty)
