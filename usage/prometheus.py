"""The Prometheus HTTP API as ``axonize usage`` reads it: instant queries and the retention (``requests``).

Errors are :class:`PrometheusError` naming the URL (and the query when Prometheus refused it).
"""

from __future__ import annotations

import requests

from axonize.promql import seconds


class PrometheusError(RuntimeError):
    """Prometheus could not be reached or refused a query; the message names the URL."""


class Prometheus:
    """The server at ``url`` (``http://prometheus:9090``); ``timeout_s`` per request."""

    def __init__(self, url: str, timeout_s: float = 120.0):
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = requests.Session()

    def _get(self, path: str, params: dict | None = None) -> dict:
        try:
            response = self.session.get(self.url + path, params=params, timeout=self.timeout_s)
            body = response.json()
        except requests.RequestException as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.url}: {exc}") from None
        except ValueError:
            raise PrometheusError(f"{self.url}{path} answered HTTP {response.status_code}, not Prometheus JSON") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            raise PrometheusError(f"Prometheus at {self.url} refused {params.get('query') if params else path}: {error}")
        return body["data"]

    def query(self, promql: str, at: float) -> list[tuple[dict[str, str], float]]:
        """An instant vector at Unix time ``at``: ``[(labels, value), ...]``."""
        data = self._get("/api/v1/query", {"query": promql, "time": f"{at:.3f}"})
        return [(s["metric"], float(s["value"][1])) for s in data.get("result", [])]

    def retention_s(self) -> float | None:
        """The time retention (``storageRetention``: ``15d``, ``30d or 10GiB``) in seconds; None when unknown."""
        try:
            text = str(self._get("/api/v1/status/runtimeinfo").get("storageRetention", ""))
            return float(seconds(text.split(" or ")[0]))
        except (PrometheusError, ValueError):
            return None


__all__ = ["Prometheus", "PrometheusError"]
