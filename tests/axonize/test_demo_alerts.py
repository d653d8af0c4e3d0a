"""The demo's alerting helpers: short ``for:`` from the bundle, and the shipped Alertmanager file pointed at a
local receiver without touching its routes or inhibitions."""

import pytest
import requests
import yaml

from axonize import alertmanager, demo_alerts
from tests.conftest import ROOT


def test_shorten_for_caps_only_longer_durations():
    alerts = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())["alerts"]
    short = demo_alerts.shorten_for(alerts, "10s")
    assert short["rules"]["AxonizeGpuIdleCost"]["for"] == "10s"  # 2h in the bundle
    assert short["rules"]["AxonizeGpuXidResetRequired"]["for"] == "0s"  # already shorter: kept
    assert short["rules"]["AxonizeGpuXidResetRequired"]["hold"] == "6h"  # not a for:, kept
    assert short["rules"]["AxonizeGpuMemoryPressure"]["thresholds"] == alerts["rules"]["AxonizeGpuMemoryPressure"]["thresholds"]
    assert alerts["rules"]["AxonizeGpuIdleCost"]["for"] == "2h"  # the input is not modified
    assert short["runbook_base_url"] == alerts["runbook_base_url"]


def test_local_config_refuses_an_edited_webhook():
    shipped = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
    shipped["receivers"][0]["webhook_configs"][0]["url"] = "https://pager.example.com/hook"
    with pytest.raises(ValueError, match="pager.*not the shipped placeholder"):
        alertmanager.local_config(shipped, "http://127.0.0.1:1")


def test_webhook_receiver_records_posts_and_refuses_bad_json():
    receiver = alertmanager.WebhookReceiver()
    try:
        payload = {"version": "4", "alerts": [{"status": "firing", "labels": {"alertname": "AxonizeGpuLost", "gpu": "3"}}]}
        assert requests.post(f"{receiver.url}/pager", json=payload, timeout=5).status_code == 200
        assert requests.post(f"{receiver.url}/pager", data=b"{not json", timeout=5).status_code == 400
        path, _, alert = receiver.wait_until(lambda *_: True, 5, gpu="3")
        assert path == "/pager" and alert["labels"]["alertname"] == "AxonizeGpuLost"
        assert len(receiver.received) == 1
        with pytest.raises(TimeoutError, match="gpu"):
            receiver.wait_until(lambda *_: True, 0.1, gpu="4")
    finally:
        receiver.stop()
