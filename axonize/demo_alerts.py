"""The demo's alerting: alerts/ rendered with short ``for:``, a real Alertmanager with alerts/alertmanager.yml, and
a webhook receiver whose deliveries the demo prints next to what Alertmanager inhibited or did not send.

The routes and inhibitions are the shipped file's (:func:`axonize.alertmanager.local_config` changes only the
webhook URLs and the group timings); the alert rules are rendered by the alerts component
(``python -m axonize.alerts.render``) from the demo's copy of axonize/bundle.yml in which every ``for:`` longer
than :data:`DEMO_FOR` is :data:`DEMO_FOR`, so a demo shows in seconds what a fleet shows after minutes or hours.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from . import yaml_file
from .alertmanager import AlertmanagerServer, WebhookReceiver, local_config
from .promql import seconds

#: ``for:`` of every demo alert whose bundle value is longer.
DEMO_FOR = "10s"
#: the demo Alertmanager's group_wait and group_interval (the shipped file's are 30s / 5m)
GROUP_TIMING = "1s"
#: receiver name -> what it stands for in the shipped alerts/alertmanager.yml
RECEIVERS = {"pager": "critical: page now", "ticket": "warning: act within hours", "heartbeat": "the Watchdog's dead man's switch"}


def shorten_for(alerts: dict, demo_for: str = DEMO_FOR) -> dict:
    """The bundle's ``alerts:`` section with every rule's ``for`` longer than ``demo_for`` set to ``demo_for``."""
    limit: Fraction = seconds(demo_for)
    rules = {}
    for name, rule in alerts.get("rules", {}).items():
        rule = dict(rule)
        if "for" in rule and seconds(str(rule["for"])) > limit:
            rule["for"] = demo_for
        rules[name] = rule
    return {**alerts, "rules": rules}


def render_alerts(config_path: str, out_dir: str) -> list[str]:
    """alerts/*.alerts.yml rendered from the bundle at ``config_path`` into ``out_dir`` by the alerts component;
    RuntimeError with its message when that fails."""
    os.makedirs(out_dir, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "axonize.alerts.render", "--config", config_path, "--out", out_dir],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rendering the demo's alerts failed: {done.stderr.strip()}")
    return sorted(os.path.join(out_dir, name) for name in os.listdir(out_dir) if name.endswith(".alerts.yml"))


@dataclass
class Alerting:
    """The demo's running Alertmanager and the webhook receiver its notifications go to."""

    alertmanager: AlertmanagerServer
    webhook: WebhookReceiver

    @property
    def address(self) -> str:
        """``host:port`` for Prometheus's ``alerting`` section."""
        return self.alertmanager.url.removeprefix("http://")

    def stop(self) -> None:
        self.alertmanager.stop()
        self.webhook.stop()

    def wait_for(self, expected: Iterable[dict[str, str]], timeout: float = 90.0, muted_too: bool = False) -> None:
        """Until a firing notification matching each label set in ``expected`` arrived (or, with ``muted_too``,
        Alertmanager holds it inhibited), then two group intervals more so that what was going to be sent with
        them has been; TimeoutError naming the missing ones."""
        wanted = list(expected)
        deadline = time.monotonic() + timeout

        while True:
            muted = [a["labels"] for a in self.alertmanager.alerts() if a["status"]["inhibitedBy"]] if muted_too else []
            missing = [
                labels
                for labels in wanted
                if not any(a["status"] == "firing" for _, _, a in self.webhook.alerts(**labels))
                and not any(all(held.get(k) == v for k, v in labels.items()) for held in muted)
            ]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"no notification within {timeout:g}s for: {missing}")
            time.sleep(0.2)
        time.sleep(2 * seconds(GROUP_TIMING) + 0.5)

    def report(self) -> str:
        """What reached each receiver (the alerts firing in its latest notification), what Alertmanager routed to
        the null receiver (info: shown, never sent) and what it inhibited, with the alert that muted it."""
        latest: dict[tuple[str, str], dict] = {}  # (receiver, fingerprint) -> the alert as last delivered
        for path, _, alert in self.webhook.alerts():
            latest[(path.strip("/"), alert.get("fingerprint", ""))] = alert
        held = self.alertmanager.alerts()
        by_fingerprint = {a["fingerprint"]: a for a in held}
        lines = []
        for receiver, meaning in RECEIVERS.items():
            sent = [a for (r, _), a in latest.items() if r == receiver and a["status"] == "firing"]
            lines.append(f"  sent to {receiver} ({meaning}): {len(sent) or 'nothing'}")
            lines += [f"    {_describe(a)}" for a in sorted(sent, key=_order)]
        unsent = [a for a in held if a["status"]["state"] == "active" and [r["name"] for r in a["receivers"]] == ["null"]]
        if unsent:
            lines.append("  routed to null (info: shown in Alertmanager, never sent):")
            lines += [f"    {_describe(a)}" for a in sorted(unsent, key=_order)]
        muted = [a for a in held if a["status"]["inhibitedBy"]]
        lines.append(f"  inhibited (firing in Prometheus, muted by Alertmanager): {len(muted) or 'nothing'}")
        for a in sorted(muted, key=_order):
            by = [by_fingerprint[f] for f in a["status"]["inhibitedBy"] if f in by_fingerprint]
            cause = ", ".join(_short(b) for b in by) or "an alert no longer held"
            lines.append(f"    {_short(a)}, muted by {cause}")
        return "\n".join(lines)


def _order(alert: dict) -> tuple:
    labels = alert["labels"]
    return (labels.get("alertname", ""), int(labels["gpu"]) if labels.get("gpu", "").isdigit() else -1, sorted(labels.items()))


def _short(alert: dict) -> str:
    labels = alert["labels"]
    where = f" GPU {labels['gpu']}" if "gpu" in labels else ""
    where += f" model {labels['model']}" if "model" in labels else ""
    where += f" ({labels['reason']})" if "reason" in labels else ""
    where += f" XID {labels['xid']}" if "xid" in labels else ""
    return f"{labels.get('alertname', '?')} [{labels.get('severity', '-')}]{where}"


def _describe(alert: dict) -> str:
    return f"{_short(alert)}: {alert.get('annotations', {}).get('description', '')}"


def start(started: list, binary: str | None = None) -> Alerting:
    """A webhook receiver and Alertmanager with the packaged alerts/alertmanager.yml pointed at it; both appended
    to ``started`` (stopped by the demo on every exit path). FileNotFoundError when Alertmanager is not installed."""
    shipped = yaml_file.read_packaged("axonize.alerts", "alertmanager.yml", "alerts/alertmanager.yml").data
    webhook = WebhookReceiver()
    started.append(webhook)
    server = AlertmanagerServer(local_config(shipped, webhook.url, GROUP_TIMING, GROUP_TIMING), binary=binary)
    server.start()
    started.append(server)
    return Alerting(server, webhook)
