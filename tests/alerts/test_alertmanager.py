"""alerts/alertmanager.yml on the real Alertmanager 0.25: amtool's config check and route tests, and end to end
delivery and inhibition through a running Alertmanager on loopback with a webhook receiver in the test."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml

from axonize import alertmanager as alertmanager_lib
from axonize.processes import ManagedProcess, free_port, wait_http
from tests.conftest import ROOT, require_binary, requires

CONFIG = ROOT / "alerts" / "alertmanager.yml"
#: The test Alertmanager's group_wait and group_interval (the file's are minutes long).
GROUP_WAIT, GROUP_INTERVAL = 1.0, 1.0
#: Bound on any wait for a notification: group_wait + group_interval, with room for a slow CI runner.
DELIVERY_TIMEOUT = 20.0


def amtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([require_binary("amtool"), *args], capture_output=True, text=True, timeout=60)


# --- amtool: the file as shipped ---------------------------------------------------------------------------


@requires("amtool")
def test_amtool_check_config():
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 inhibit rules" in result.stdout and "4 receivers" in result.stdout


@requires("amtool")
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=critical", "alertname=AxonizeGpuLost", "instance=gpu-host-1:9835"], "pager"),
        (["severity=warning", "alertname=AxonizeGpuThermalSlowdown", "instance=gpu-host-1:9835"], "ticket"),
        (["severity=info", "alertname=AxonizeContainerOffNumaNode"], "null"),
        (["alertname=AxonizeWatchdog", "severity=none"], "heartbeat"),
        # the Watchdog goes to the heartbeat whatever severity the rules give it
        (["alertname=AxonizeWatchdog", "severity=info"], "heartbeat"),
        # an alert without a known severity is ticketed, not lost
        (["alertname=SomethingElse"], "ticket"),
    ],
    ids=["critical", "warning", "info", "watchdog", "watchdog-info", "no-severity"],
)
def test_amtool_routes(labels, receiver):
    result = amtool("config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


@requires("amtool")
def test_commented_receiver_examples_are_valid(tmp_path):
    """The Slack / PagerDuty / email examples, uncommented, pass amtool's check (so the README's advice works)."""
    text = CONFIG.read_text()
    begin, end = text.index("  # BEGIN EXAMPLES\n"), text.index("  # END EXAMPLES")
    examples = text[begin + len("  # BEGIN EXAMPLES\n") : end]
    uncommented = "".join(re.sub(r"^  # ", "  ", line) for line in examples.splitlines(keepends=True))
    config = yaml.safe_load(text[:begin] + uncommented)
    names = [r["name"] for r in config["receivers"]]
    assert names == ["pager", "ticket", "heartbeat", "null", "pagerduty", "slack", "email"]
    # wire them in as a user would: pages to PagerDuty, tickets to Slack and email
    for route in config["route"]["routes"]:
        route["receiver"] = {"pager": "pagerduty", "ticket": "slack"}.get(route["receiver"], route["receiver"])
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = amtool("check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    routed = amtool("config", "routes", "test", f"--config.file={path}", "severity=critical")
    assert routed.stdout.strip() == "pagerduty", routed.stdout + routed.stderr


# --- a real Alertmanager ------------------------------------------------------------------------------------


class WebhookReceiver(alertmanager_lib.WebhookReceiver):
    """The core receiver (axonize.alertmanager), failing the test instead of raising TimeoutError."""

    def wait_for(self, predicate: Callable[[str, dict, dict], bool] = lambda *_: True, **labels: str) -> tuple[str, dict, dict]:
        """The first delivered alert with ``labels`` that satisfies ``predicate``; fails after DELIVERY_TIMEOUT."""
        try:
            return self.wait_until(predicate, DELIVERY_TIMEOUT, **labels)
        except TimeoutError as exc:
            pytest.fail(f"{exc}; received: {self.received}")


class Alertmanager:
    """A running ``prometheus-alertmanager`` with the file's routes and inhibitions and the test's timings."""

    def __init__(self, url: str, webhook: WebhookReceiver) -> None:
        self.url = url
        self.webhook = webhook

    def post(self, *alerts: dict) -> None:
        r = requests.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=10)
        assert r.status_code == 200, r.text

    def alert(self, **labels: str) -> dict:
        """The one alert in GET /api/v2/alerts whose labels include ``labels``."""
        r = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        r.raise_for_status()
        found = [a for a in r.json() if all(a["labels"].get(k) == v for k, v in labels.items())]
        assert len(found) == 1, found
        return found[0]

    def wait_inhibited(self, **labels: str) -> dict:
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            alert = self.alert(**labels)
            if alert["status"]["inhibitedBy"]:
                return alert
            if time.monotonic() > deadline:
                pytest.fail(f"{labels} not inhibited within {DELIVERY_TIMEOUT:.0f}s: {alert}")
            time.sleep(0.05)

    def assert_never_delivered(self, after: dict[str, str], **labels: str) -> None:
        """``labels`` reached no receiver: wait for the alert ``after`` (posted later) to arrive, then two more
        group intervals, so anything that was going to be sent has been."""
        self.webhook.wait_for(**after)
        time.sleep(2 * GROUP_INTERVAL + 0.5)
        assert self.webhook.alerts(**labels) == []


def test_the_names_in_the_routes_and_inhibitions_are_alerts_of_the_bundle():
    """Routes and inhibitions name alerts of alerts/*.alerts.yml: a renamed alert must not silently escape them."""
    rule_files = sorted((ROOT / "alerts").glob("*.alerts.yml"))
    if not rule_files:
        pytest.skip("alerts/*.alerts.yml not rendered yet")
    alerts = [r for path in rule_files for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "alert" in r]
    names = {a["alert"] for a in alerts}
    config = yaml.safe_load(CONFIG.read_text())
    matchers = [m for r in config["route"]["routes"] for m in r["matchers"]]
    matchers += [m for rule in config["inhibit_rules"] for m in rule["source_matchers"] + rule["target_matchers"]]
    # exact names, not prefixes (AxonizeInference.* covers alerts still to come)
    named = {n for m in matchers for n in re.findall(r"\bAxonize[A-Za-z]+\b(?!\.\*)", m)}
    assert {"AxonizeWatchdog", "AxonizeGpuLost", "AxonizeExporterDown", "AxonizeGpuMemoryPressure"} <= named
    assert named <= names, f"not alerts of the bundle: {sorted(named - names)}"
    assert {a["labels"]["severity"] for a in alerts} <= {"critical", "warning", "info"}


def config_for_tests(config: dict, webhook_url: str) -> dict:
    """The shipped config with every webhook pointed at ``webhook_url``/<receiver> and short group timings."""
    return alertmanager_lib.local_config(config, webhook_url, f"{GROUP_WAIT:g}s", f"{GROUP_INTERVAL:g}s")


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory) -> Iterator[Alertmanager]:
    binary = require_binary("prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("alertmanager")
    webhook = WebhookReceiver()
    config_path = tmp / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config_for_tests(yaml.safe_load(CONFIG.read_text()), webhook.url)))
    port = free_port()
    process = ManagedProcess(
        "alertmanager",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        str(tmp / "alertmanager.log"),
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", 30, process)
        yield Alertmanager(f"http://127.0.0.1:{port}", webhook)
    finally:
        process.stop()
        webhook.stop()


def alert(alertname: str, severity: str, ends_in_past: bool = False, **labels: str) -> dict:
    body = {
        "labels": {"alertname": alertname, "severity": severity, **labels},
        "annotations": {"summary": f"{alertname} on {labels.get('instance', '?')}.", "description": "test alert"},
        "generatorURL": "http://prometheus.example/graph",
    }
    if ends_in_past:
        body["endsAt"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    return body


def gpu(index: int = 0) -> dict[str, str]:
    """GPU labels with a UUID of their own: tests share one Alertmanager, and a lost GPU inhibits by uuid alone."""
    return {"gpu": str(index), "uuid": f"GPU-{uuid.uuid4()}"}


@requires("prometheus-alertmanager")
def test_critical_reaches_the_pager_and_resolves(alertmanager):
    host = {"instance": "host-page:9835", "job": "axonize-exporter", **gpu(3)}
    firing = alert("AxonizeGpuLost", "critical", **host)
    firing["annotations"]["runbook_url"] = "https://example.com/runbooks.md#axonizegpulost"
    alertmanager.post(firing)
    path, payload, delivered = alertmanager.webhook.wait_for(instance=host["instance"])
    assert path == "/pager" and payload["receiver"] == "pager" and payload["version"] == "4"
    assert delivered["status"] == "firing"
    assert delivered["labels"] == firing["labels"]
    assert delivered["annotations"] == firing["annotations"]
    assert payload["groupLabels"] == {"alertname": "AxonizeGpuLost", "instance": host["instance"]}

    alertmanager.post(alert("AxonizeGpuLost", "critical", ends_in_past=True, **host))
    path, payload, delivered = alertmanager.webhook.wait_for(lambda _p, _b, a: a["status"] == "resolved", instance=host["instance"])
    assert path == "/pager" and payload["status"] == "resolved"
    assert delivered["labels"] == firing["labels"]


@requires("prometheus-alertmanager")
def test_warning_reaches_the_ticket_receiver_and_watchdog_the_heartbeat(alertmanager):
    alertmanager.post(
        alert("AxonizeGpuThermalSlowdown", "warning", instance="host-ticket:9835", **gpu()),
        alert("AxonizeWatchdog", "none", instance="prometheus-0"),
    )
    path, payload, _ = alertmanager.webhook.wait_for(instance="host-ticket:9835")
    assert path == "/ticket" and payload["receiver"] == "ticket"
    path, payload, _ = alertmanager.webhook.wait_for(alertname="AxonizeWatchdog")
    assert path == "/heartbeat" and payload["receiver"] == "heartbeat"


@requires("prometheus-alertmanager")
def test_info_reaches_nobody(alertmanager):
    alertmanager.post(alert("AxonizeContainerOffNumaNode", "info", instance="host-info:9835", container="vllm", **gpu()))
    assert alertmanager.alert(instance="host-info:9835")["receivers"] == [{"name": "null"}]
    # a page posted after it arrives; the info alert, a routed but unsent one, never does
    alertmanager.post(alert("AxonizeGpuLost", "critical", instance="host-info-sentinel:9835", **gpu()))
    alertmanager.assert_never_delivered({"instance": "host-info-sentinel:9835"}, instance="host-info:9835")


@requires("prometheus-alertmanager")
def test_critical_inhibits_warning_of_the_same_alert_and_gpu(alertmanager):
    host = "host-inhibit:9835"
    this_gpu, other_gpu = gpu(3), gpu(4)
    alertmanager.post(alert("AxonizeGpuMemoryPressure", "critical", instance=host, **this_gpu))
    alertmanager.webhook.wait_for(instance=host, severity="critical")
    alertmanager.post(
        alert("AxonizeGpuMemoryPressure", "warning", instance=host, **this_gpu),
        # same alert and host, another GPU: not inhibited, and in the same group (alertname, instance)
        alert("AxonizeGpuMemoryPressure", "warning", instance=host, **other_gpu),
    )
    muted = alertmanager.wait_inhibited(instance=host, severity="warning", uuid=this_gpu["uuid"])
    assert muted["status"]["state"] == "suppressed"
    assert alertmanager.alert(instance=host, severity="warning", uuid=other_gpu["uuid"])["status"]["inhibitedBy"] == []
    alertmanager.assert_never_delivered(
        {"instance": host, "uuid": other_gpu["uuid"]}, instance=host, severity="warning", uuid=this_gpu["uuid"]
    )


@requires("prometheus-alertmanager")
def test_critical_inhibits_only_the_same_model_on_a_gpu(alertmanager):
    """Two models on one GPU (the same uuid): a page for one mutes that model's ticket, not the other's."""
    sidecar, shared = "sidecar-models:9836", gpu()["uuid"]
    alertmanager.post(alert("AxonizeInferenceItlBudgetBurn", "critical", instance=sidecar, model="llama", uuid=shared))
    alertmanager.webhook.wait_for(instance=sidecar, severity="critical")
    alertmanager.post(
        alert("AxonizeInferenceItlBudgetBurn", "warning", instance=sidecar, model="llama", uuid=shared),
        alert("AxonizeInferenceItlBudgetBurn", "warning", instance=sidecar, model="qwen", uuid=shared),
    )
    alertmanager.wait_inhibited(instance=sidecar, severity="warning", model="llama")
    assert alertmanager.alert(instance=sidecar, severity="warning", model="qwen")["status"]["inhibitedBy"] == []
    alertmanager.assert_never_delivered({"instance": sidecar, "model": "qwen"}, instance=sidecar, severity="warning", model="llama")


@requires("prometheus-alertmanager")
def test_critical_inhibits_warning_of_a_host_alert_without_gpu_labels(alertmanager):
    host = "host-nogpu:9835"
    alertmanager.post(alert("AxonizeExporterCollectionStale", "critical", instance=host))
    alertmanager.webhook.wait_for(instance=host, severity="critical")
    alertmanager.post(alert("AxonizeExporterCollectionStale", "warning", instance=host))
    alertmanager.wait_inhibited(instance=host, severity="warning")
    alertmanager.post(alert("AxonizeExporterCollectionStale", "warning", instance="host-nogpu-sentinel:9835"))
    alertmanager.assert_never_delivered({"instance": "host-nogpu-sentinel:9835"}, instance=host, severity="warning")


@requires("prometheus-alertmanager")
@pytest.mark.parametrize("cause", ["AxonizeGpuLost", "AxonizeGpuXidResetRequired"])
def test_a_lost_gpu_inhibits_the_inference_and_placement_alerts_on_it(alertmanager, cause):
    lost, other = gpu()["uuid"], gpu()["uuid"]
    sidecar = f"sidecar-{cause}:9836"
    alertmanager.post(alert(cause, "critical", instance=f"host-{cause}:9835", gpu="0", uuid=lost))
    alertmanager.webhook.wait_for(alertname=cause, uuid=lost)
    symptoms = [
        alert("AxonizeInferenceTtftBudgetBurn", "critical", instance=sidecar, model="llama", uuid=lost),
        alert("AxonizeInferenceKvCacheFull", "warning", instance=sidecar, model="llama", uuid=lost),
        alert("AxonizeContainerOffNumaNode", "info", instance=f"host-{cause}:9835", container="vllm", uuid=lost),
        alert("AxonizeGpuMemoryPressure", "warning", instance=f"host-{cause}:9835", gpu="0", uuid=lost),
    ]
    # the same page for a model on another GPU, in the same group (alertname, instance): delivered
    sentinel = alert("AxonizeInferenceTtftBudgetBurn", "critical", instance=sidecar, model="mistral", uuid=other)
    alertmanager.post(*symptoms, sentinel)
    for symptom in symptoms:
        muted = alertmanager.wait_inhibited(**symptom["labels"])
        assert muted["status"]["state"] == "suppressed"
    assert alertmanager.alert(**sentinel["labels"])["status"]["inhibitedBy"] == []
    alertmanager.assert_never_delivered(sentinel["labels"], uuid=lost, model="llama")
    delivered_on_lost_gpu = [a["labels"]["alertname"] for _, _, a in alertmanager.webhook.alerts(uuid=lost)]
    assert delivered_on_lost_gpu == [cause]


@requires("prometheus-alertmanager")
def test_alerts_without_uuid_are_not_inhibited_by_a_lost_gpu_without_uuid(alertmanager):
    """Alertmanager treats a label missing on both sides as equal; the `uuid=~".+"` matchers stop a lost GPU
    with no uuid from muting every inference alert that has none (an engine target down, say)."""
    alertmanager.post(alert("AxonizeGpuLost", "critical", instance="host-nouuid:9835", gpu="0"))
    alertmanager.webhook.wait_for(instance="host-nouuid:9835")
    alertmanager.post(alert("AxonizeInferenceTargetDown", "critical", instance="sidecar-nouuid:9836", model="llama"))
    path, _, _ = alertmanager.webhook.wait_for(instance="sidecar-nouuid:9836")
    assert path == "/pager"


@requires("prometheus-alertmanager")
def test_exporter_down_inhibits_the_gpu_alerts_of_its_host(alertmanager):
    host, this_gpu = "host-down:9835", gpu()
    alertmanager.post(alert("AxonizeExporterDown", "critical", instance=host, job="axonize-exporter"))
    alertmanager.webhook.wait_for(instance=host, alertname="AxonizeExporterDown")
    gpu_alerts = [
        alert("AxonizeGpuLost", "critical", instance=host, **this_gpu),
        alert("AxonizeGpuPcieLinkDegraded", "warning", instance=host, **this_gpu),
    ]
    # the same alerts on another host still page
    sentinel = alert("AxonizeGpuLost", "critical", instance="host-up:9835", **gpu())
    alertmanager.post(*gpu_alerts, sentinel)
    for gpu_alert in gpu_alerts:
        alertmanager.wait_inhibited(**gpu_alert["labels"])
    assert alertmanager.alert(instance="host-up:9835")["status"]["inhibitedBy"] == []
    alertmanager.assert_never_delivered({"instance": "host-up:9835"}, instance=host, uuid=this_gpu["uuid"])
    # the exporter alert itself is not a GPU alert: delivered once, not muted by itself
    assert [a["labels"]["alertname"] for _, _, a in alertmanager.webhook.alerts(instance=host)] == ["AxonizeExporterDown"]


def test_the_test_config_only_changes_urls_and_timings():
    shipped = yaml.safe_load(CONFIG.read_text())
    changed = config_for_tests(shipped, "http://127.0.0.1:1")
    assert changed["inhibit_rules"] == shipped["inhibit_rules"]
    assert [r["name"] for r in changed["receivers"]] == [r["name"] for r in shipped["receivers"]]
    assert [(r["receiver"], r["matchers"]) for r in changed["route"]["routes"]] == [
        (r["receiver"], r["matchers"]) for r in shipped["route"]["routes"]
    ]
    assert Path(CONFIG).read_text().count("REPLACE-ME") >= 3
