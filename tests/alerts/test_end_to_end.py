"""End to end on loopback: ``axonize-exporter --replay`` on a fault capture, a real Prometheus with rules/ and
alerts/ loaded, a real Alertmanager 0.25 with alerts/alertmanager.yml, and a webhook receiver in the test.

The fault capture (axonize/demo_data/faults/, provenance in axonize/demo_data/SOURCES.md) is the demo's
real 8x H100 ``nvidia-smi -q`` with four GPUs changed: GPU 1 on a x8 PCIe link, GPU 2 in HW thermal slowdown,
GPU 3 with a pending row remap, GPU 4 with 97 % of its memory in use. The alerts are rendered from a copy of
axonize/bundle.yml whose tested alerts hold for ``FOR`` instead of minutes; Alertmanager's group timings are the
short ones of tests/alerts/test_alertmanager.py. Restoring the healthy capture (the exporter re-reads it every
cycle) resolves them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from axonize.demo_faults import replace_atomically
from axonize.processes import ManagedProcess, PrometheusServer, free_port, wait_http
from tests.alerts import test_alertmanager as am
from tests.conftest import DEMO, DEMO_Q, ROOT, require_binary, requires

#: The Alertmanager of tests/alerts/test_alertmanager.py (the shipped routes and inhibitions, webhooks to the
#: test's receiver, 1 s group_wait and group_interval), one per module.
alertmanager = am.alertmanager

FAULTS = DEMO / "faults" / "h100-sxm-x8_drv565_nvidia-smi-q_faults.txt"
HEALTHY = DEMO_Q
BUNDLE = ROOT / "axonize" / "bundle.yml"
#: ``for:`` of the alerts the fault capture raises, in the test's bundle copy (the shipped ones are 5-15m).
FOR = "2s"
TESTED = ("AxonizeGpuPcieLinkDegraded", "AxonizeGpuClocksThrottled", "AxonizeGpuRowRemapPending", "AxonizeGpuMemoryPressure")
RUNBOOKS = "https://github.com/axonize/axonize/blob/main/docs/runbooks.md"
#: The GPUs of the fault capture (uuid by index), from its GPU sections.
UUID = {
    1: "GPU-7c3cadbd-17e5-0913-f69b-c618122ea0cd",
    2: "GPU-2d50cdf6-dd67-9f2e-855e-0d4d6d395a2f",
    3: "GPU-d1838e76-90e6-4408-711d-aeeaa2e1fd14",
    4: "GPU-72be6e5d-3c1b-0d37-98ac-d3ef159f2589",
}


def render_alerts(out: Path) -> list[Path]:
    """alerts/*.alerts.yml rendered from a copy of the bundle with the tested alerts' ``for:`` set to FOR."""
    config = yaml.safe_load(BUNDLE.read_text())
    for name in TESTED:
        config["alerts"]["rules"][name]["for"] = FOR
    config_path = out / "bundle.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    rendered = out / "alerts"
    rendered.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "axonize.alerts.render", "--config", str(config_path), "--out", str(rendered)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    files = sorted(rendered.glob("*.alerts.yml"))
    assert len(files) == len(sorted((ROOT / "alerts").glob("*.alerts.yml")))
    return files


def exporter_argv(capture: Path, port: int) -> list[str]:
    script = Path(sys.executable).parent / "axonize-exporter"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "axonize.exporter"]
    return [*head, "--replay", str(capture), "--collect.interval", "1s", "--web.listen-address", f"127.0.0.1:{port}"]


class Stack:
    """The running exporter's ``instance``, the capture file it replays, and monotonic times: ``started``
    (exporter launched), ``serving`` (its /metrics answered)."""

    def __init__(self, instance: str, capture: Path, started: float, serving: float, prometheus: PrometheusServer) -> None:
        self.instance = instance
        self.capture = capture
        self.started = started
        self.serving = serving
        self.prometheus = prometheus


@pytest.fixture(scope="module")
def stack(alertmanager: am.Alertmanager, tmp_path_factory) -> Iterator[Stack]:
    """Prometheus (rules + test alerts, 1 s scrape and evaluation, alerting to the test Alertmanager) up first,
    then the exporter on the fault capture; ``started`` is when the exporter was launched (monotonic)."""
    require_binary("prometheus")
    tmp = tmp_path_factory.mktemp("end-to-end")
    capture = tmp / "gpus.txt"
    shutil.copyfile(FAULTS, capture)
    port = free_port()
    rule_files = [str(p) for p in sorted((ROOT / "rules").glob("*.rules.yml"))] + [str(p) for p in render_alerts(tmp)]
    prometheus = PrometheusServer({"axonize-exporter": [f"127.0.0.1:{port}"]}, scrape_interval="1s", rule_files=rule_files)
    config = yaml.safe_load(Path(prometheus.config_path).read_text())
    config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.url.removeprefix("http://")]}]}]}
    Path(prometheus.config_path).write_text(yaml.safe_dump(config))
    exporter = None
    try:
        prometheus.start()
        started = time.monotonic()
        exporter = ManagedProcess("axonize-exporter", exporter_argv(capture, port), str(tmp / "exporter.log"))
        wait_http(f"http://127.0.0.1:{port}/metrics", 30, exporter)
        yield Stack(f"127.0.0.1:{port}", capture, started, time.monotonic(), prometheus)
    finally:
        if exporter is not None:
            exporter.stop()
        prometheus.stop()


def expected_alerts(instance: str) -> list[tuple[str, dict[str, str]]]:
    """``(receiver, labels)`` of every notification the fault capture must raise."""

    def gpu_alert(receiver: str, alertname: str, severity: str, gpu: int, **extra: str) -> tuple[str, dict[str, str]]:
        labels = {"job": "axonize-exporter", "instance": instance, "alertname": alertname, "severity": severity}
        return receiver, {**labels, "gpu": str(gpu), "uuid": UUID[gpu], **extra}

    return [
        gpu_alert("ticket", "AxonizeGpuPcieLinkDegraded", "warning", 1, link="width"),
        gpu_alert("ticket", "AxonizeGpuClocksThrottled", "warning", 2, reason="hw_slowdown"),
        gpu_alert("ticket", "AxonizeGpuClocksThrottled", "warning", 2, reason="hw_thermal_slowdown"),
        gpu_alert("ticket", "AxonizeGpuRowRemapPending", "warning", 3),
        gpu_alert("pager", "AxonizeGpuMemoryPressure", "critical", 4),
    ]


def firing(_path: str, _payload: dict, alert: dict) -> bool:
    return alert["status"] == "firing"


def resolved(_path: str, _payload: dict, alert: dict) -> bool:
    return alert["status"] == "resolved"


@requires("prometheus")
@requires("prometheus-alertmanager")
def test_a_fault_capture_pages_and_tickets_and_resolves_when_restored(alertmanager: am.Alertmanager, stack: Stack, capsys):
    webhook = alertmanager.webhook
    # the first GPU alert to reach a receiver, timed from the exporter's launch on the fault capture
    webhook.wait_for(lambda path, _b, a: firing(path, _b, a) and path in ("/pager", "/ticket"), instance=stack.instance)
    first, notified_at = time.monotonic() - stack.started, time.time()
    # Prometheus applies a new target's discovery update up to 5 s after its start: the first scrape
    # (Prometheus's own timestamp of the first `up` sample) splits that start-up delay from the alert path
    first_scrape = min(float(t) for t, _ in stack.prometheus.query(f'up{{instance="{stack.instance}"}}[5m]')[0]["values"])
    with capsys.disabled():
        print(
            f"\nend to end: exporter launched on the fault capture -> first notification in {first:.1f}s; "
            f"first scrape of the exporter -> first notification in {notified_at - first_scrape:.1f}s "
            f"(exporter serving after {stack.serving - stack.started:.1f}s; scrape and evaluation 1s, for: {FOR}, "
            f"group_wait {am.GROUP_WAIT:g}s)"
        )

    for receiver, labels in expected_alerts(stack.instance):
        path, payload, alert = webhook.wait_for(firing, **labels)
        assert path == f"/{receiver}" and payload["receiver"] == receiver, (labels, path)
        assert alert["labels"] == labels, alert["labels"]
        assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}#{labels['alertname'].lower()}"
        assert alert["annotations"]["summary"].endswith(".")
        assert f"GPU {labels['gpu']} ({labels['uuid']}) on {stack.instance}" in alert["annotations"]["description"]

    # the memory warning of GPU 4 fires in Prometheus but is muted by its critical twin
    warning = {"alertname": "AxonizeGpuMemoryPressure", "severity": "warning", "uuid": UUID[4]}
    muted = alertmanager.wait_inhibited(**warning)
    assert muted["status"]["state"] == "suppressed"
    alertmanager.assert_never_delivered({"alertname": "AxonizeGpuMemoryPressure", "severity": "critical"}, **warning)
    # and the healthy GPUs (0, 5, 6, 7) raised nothing
    gpu_alerts = [a for _, _, a in webhook.alerts(instance=stack.instance) if a["labels"]["alertname"].startswith("AxonizeGpu")]
    assert {a["labels"]["gpu"] for a in gpu_alerts} == {"1", "2", "3", "4"}

    replace_atomically(HEALTHY, stack.capture)
    restored = time.monotonic()
    for receiver, labels in expected_alerts(stack.instance):
        path, _, alert = webhook.wait_for(resolved, **labels)
        assert path == f"/{receiver}"
        assert alert["endsAt"] > alert["startsAt"]
    with capsys.disabled():
        print(f"end to end: healthy capture restored -> every resolved notification in {time.monotonic() - restored:.1f}s")


def test_the_fault_capture_differs_from_its_real_source_only_where_sources_md_says():
    """axonize/demo_data/SOURCES.md lists every changed line of the fault capture; the rest is the real capture."""
    derived, source = FAULTS.read_text().splitlines(), HEALTHY.read_text().splitlines()
    assert len(derived) == len(source)
    changed = {n for n, (a, b) in enumerate(zip(derived, source), start=1) if a != b}
    assert changed == {305, 542, 545, 546, 814, 820, 834, 835, 1003, 1004}
    row = next(line for line in (DEMO / "SOURCES.md").read_text().splitlines() if line.startswith(f"| faults/{FAULTS.name} "))
    documented = {int(n) for group in re.findall(r"\blines? (\d+(?:, \d+)*)", row) for n in group.split(",")}
    assert documented == changed
