"""A real Alertmanager on loopback and a webhook receiver that records what it delivers (demo and tests).

:class:`AlertmanagerServer` runs Debian's ``prometheus-alertmanager`` (0.25) with a
configuration given as a dict; :func:`local_config` turns the shipped
alerts/alertmanager.yml into one whose webhooks post to a :class:`WebhookReceiver`
(``<receiver url>/<receiver name>``) with short group timings, routes and
inhibitions unchanged. The receiver keeps every POST as ``(path, payload)``; the
payload is Alertmanager's webhook JSON, version "4"
(https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import yaml

from .processes import APT_HINT, LoopbackServer, find_binary

#: what a webhook URL of the shipped configuration contains: a placeholder for the user's endpoint
PLACEHOLDER = "REPLACE-ME"


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 (any free port) recording every webhook POST as ``(path, payload)``."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.received.append((self.path, payload))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="webhook-receiver", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def alerts(self, **labels: str) -> list[tuple[str, dict, dict]]:
        """``(path, payload, alert)`` of every delivered alert whose labels include ``labels``, in arrival order."""
        with self._lock:
            received = list(self.received)
        return [
            (path, payload, alert)
            for path, payload in received
            for alert in payload.get("alerts", [])
            if all(alert["labels"].get(k) == v for k, v in labels.items())
        ]

    def wait_until(self, predicate: Callable[[str, dict, dict], bool], timeout: float, **labels: str) -> tuple[str, dict, dict]:
        """The first delivered alert with ``labels`` that satisfies ``predicate``; TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            for hit in self.alerts(**labels):
                if predicate(*hit):
                    return hit
            if time.monotonic() > deadline:
                raise TimeoutError(f"no notification for {labels or 'any alert'} within {timeout:g}s")
            time.sleep(0.05)


def local_config(shipped: dict, webhook_url: str, group_wait: str = "1s", group_interval: str = "1s") -> dict:
    """``shipped`` (alerts/alertmanager.yml as a dict) with each placeholder webhook posting to ``webhook_url``/<receiver>
    and every route's ``group_wait`` and ``group_interval`` set; routes, receivers' names and inhibitions unchanged.

    Raises ValueError when a webhook URL is not the shipped placeholder (the file was already edited).
    """
    config = copy.deepcopy(shipped)
    for receiver in config.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            if PLACEHOLDER not in webhook.get("url", ""):
                raise ValueError(f"receiver {receiver['name']!r}: webhook url {webhook.get('url')!r} is not the shipped placeholder")
            webhook["url"] = f"{webhook_url}/{receiver['name']}"

    def shorten(route: dict) -> None:
        route["group_wait"], route["group_interval"] = group_wait, group_interval
        for child in route.get("routes", []):
            shorten(child)

    shorten(config["route"])
    return config


class AlertmanagerServer(LoopbackServer):
    """A real ``prometheus-alertmanager`` on 127.0.0.1 with ``config`` (a dict), storage in a temporary directory,
    clustering off. Raises FileNotFoundError (with the apt command) when the binary is missing."""

    name = "alertmanager"

    def __init__(self, config: dict, binary: str | None = None):
        found = binary or find_binary("prometheus-alertmanager") or find_binary("alertmanager")
        if not found:
            raise FileNotFoundError(f"the 'prometheus-alertmanager' binary is not on PATH; install it with: {APT_HINT}")
        super().__init__(found)
        self.config_path = os.path.join(self.dir, "alertmanager.yml")
        with open(self.config_path, "w") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={os.path.join(self.dir, 'data')}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]

    def alerts(self) -> list[dict]:
        """GET /api/v2/alerts: every alert Alertmanager holds, with ``status.state`` (active, suppressed),
        ``status.inhibitedBy`` (fingerprints) and ``receivers``."""
        r = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        r.raise_for_status()
        return r.json()
