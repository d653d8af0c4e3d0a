"""The gateway's settings: upstreams per model, identity, metering, the usage log, and their flags and YAML keys.

Flags follow the exporter and sidecar (:mod:`axonize.config`: a flag beats the file, the file beats the
default; every flag has a YAML key, ``--usage-log.path`` <-> ``usage_log: {path: ...}``)::

    axonize-gateway --upstream tinyllama=http://127.0.0.1:8000
    axonize-gateway --config gateway.yml --web.listen-address :9949

    # gateway.yml
    upstreams:
      - tinyllama=http://vllm-a:8000                 # MODEL=URL
      - {models: [llama-70b, llama-70b-fp8], url: http://vllm-b:8000, api_key_file: /etc/axonize/vllm-b.key}
    identity:
      salt_file: /etc/axonize/gateway.salt
      customers: {3fa2b9c01d4e5f67: acme, 9c0e11aa52b7d403: globex}   # key hash prefix -> customer
      require_known: true                             # 401 for keys not in customers
    usage_log: {path: /var/log/axonize/usage.jsonl, max_bytes: 104857600, backups: 5}
    metrics: {names: both}                            # axonize_gateway_* and the OpenTelemetry GenAI names

An upstream's URL is the server's base (``http://host:8000``; a trailing ``/v1`` is dropped): the
gateway appends the OpenAI path. ``api_key_file`` holds the key the gateway sends upstream; clients'
keys are never forwarded. Errors: ValueError naming the upstream and key, which the CLI turns into
``FILE:LINE: upstreams[1].url: ...`` (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from axonize.config import LOG_LEVEL_OPTION, Option, parse_duration, parse_listen_address, parse_positive_int

DEFAULT_PORT = 9949
UPSTREAM_KEYS = ("model", "models", "url", "api_key_file")
_HASH = re.compile(r"[0-9a-f]{4,64}")


@dataclass(frozen=True)
class Upstream:
    """One OpenAI-compatible server: the models routed to it, its base URL (no ``/v1``), the key sent to it."""

    models: tuple[str, ...]
    url: str
    api_key: str = ""

    def __repr__(self) -> str:  # the key never reaches a log line
        return f"Upstream(models={self.models!r}, url={self.url!r})"


def _base_url(value: Any) -> str:
    url = str(value).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {url!r} is not an http(s) URL like http://127.0.0.1:8000")
    if parts.username or parts.password:
        raise ValueError("url: credentials in the URL are refused; use api_key_file")
    if parts.query or parts.fragment:
        raise ValueError(f"url {url!r}: no query or fragment, only the server's base URL")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def _model(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value) or value == "*":
        raise ValueError(f"model {value!r} is not a model name (no spaces)")
    return value


def parse_upstream(value: Any) -> Upstream:
    """``"MODEL=URL"``, ``"M1,M2=URL"`` or a mapping with :data:`UPSTREAM_KEYS` -> :class:`Upstream`.

    Raises ValueError naming the upstream and the problem.
    """
    if isinstance(value, Upstream):
        return value
    if isinstance(value, str):
        models, sep, url = value.partition("=")
        if not sep:
            raise ValueError(f"upstream {value!r} is not MODEL=URL")
        value = {"models": models.split(","), "url": url}
    if not isinstance(value, dict):
        raise ValueError(f"an upstream is MODEL=URL or a mapping with {', '.join(UPSTREAM_KEYS)}, got {value!r}")
    unknown = sorted(set(value) - set(UPSTREAM_KEYS))
    if unknown:
        raise ValueError(f"upstream: unknown key {unknown[0]!r}; known keys: {', '.join(UPSTREAM_KEYS)}")
    if "url" not in value:
        raise ValueError("upstream: url is missing")
    url = _base_url(value["url"])
    models = value.get("models", [])
    if "model" in value:
        models = [value["model"], *models]
    if isinstance(models, str) or not models:
        raise ValueError(f"upstream {url}: give model (a name) or models (a list of names)")
    key = ""
    if value.get("api_key_file"):
        path = Path(str(value["api_key_file"]))
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"upstream {url}: api_key_file {path}: {exc.strerror or exc}") from None
    return Upstream(tuple(_model(m) for m in models), url, key)


def parse_customers(value: Any) -> dict[str, str]:
    """``{key hash prefix: customer}`` from a YAML mapping or a flag ``HASH=NAME,HASH=NAME``; ValueError naming the entry."""
    if isinstance(value, str):
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError(f"{value!r} is not HASH=CUSTOMER[,HASH=CUSTOMER...]")
        value = {h.strip(): n.strip() for h, _, n in pairs}
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of key hash -> customer name, got {value!r}")
    out = {}
    for digest, name in value.items():
        digest = str(digest).lower()
        if not _HASH.fullmatch(digest):
            raise ValueError(f"{digest!r} is not a key hash (hex, as `axonize-gateway --hash-key` prints it)")
        if not isinstance(name, str) or not name.strip() or name in ("other", "unknown"):
            raise ValueError(f"{digest}: customer {name!r} is not a name (and 'other', 'unknown' are reserved)")
        out[digest] = name.strip()
    return out


def parse_other_paths(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("refuse", "pass"):
        raise ValueError(f"must be 'refuse' or 'pass', not {value!r}")
    return text


def parse_event_loop(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("uvloop", "asyncio"):
        raise ValueError(f"must be 'uvloop' or 'asyncio', not {value!r}")
    return text


def parse_name_set(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ("axonize", "otel", "both"):
        raise ValueError(f"must be 'axonize', 'otel' or 'both', not {value!r}")
    return text


def parse_optional_listen_address(value: Any) -> tuple[str, int] | None:
    return parse_listen_address(value) if str(value).strip() else None


def parse_header(value: Any) -> str:
    text = str(value).strip()
    if text and not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", text):
        raise ValueError(f"{value!r} is not an HTTP header name")
    return text


OPTIONS = (
    Option(
        "--web.listen-address",
        f":{DEFAULT_PORT}",
        "address to listen on for the API (and /metrics)",
        parse_listen_address,
        metavar="[HOST]:PORT",
    ),
    Option("--web.telemetry-path", "/metrics", "path under which to expose metrics", str, metavar="PATH"),
    Option(
        "--web.telemetry-listen-address",
        "",
        "serve metrics on this address instead of the API's (keeps /metrics away from API clients)",
        parse_optional_listen_address,
        metavar="[HOST]:PORT",
    ),
    Option(
        "--upstream",
        [],
        "OpenAI-compatible server for a model, repeatable: MODEL=URL or M1,M2=URL",
        parse_upstream,
        kind="list",
        metavar="MODEL=URL",
        yaml_key="upstreams",
        item=str | dict,
    ),
    Option("--upstream.connect-timeout", "5s", "how long connecting to an upstream may take", parse_duration, metavar="DURATION"),
    Option(
        "--upstream.timeout",
        "5m",
        "longest wait for an upstream's next bytes (its first answer, or the next chunk of a stream)",
        parse_duration,
        metavar="DURATION",
    ),
    Option("--upstream.max-connections", 1024, "connections to all upstreams at once", parse_positive_int, metavar="N"),
    Option(
        "--proxy.other-paths",
        "refuse",
        "requests for other paths: 'refuse' (404, OpenAI-style error) or 'pass' (to the first upstream, unmetered)",
        parse_other_paths,
        metavar="MODE",
    ),
    Option(
        "--web.event-loop",
        "asyncio",
        "event loop: 'asyncio' (the standard one) or 'uvloop' (pip install 'axonize[uvloop]': ~11 % less CPU per streamed "
        "request, a longer TTFT tail under load; benchmarks/gateway_latency.py --uvloop-arm)",
        parse_event_loop,
        metavar="LOOP",
    ),
    Option("--proxy.max-request-bytes", 32 * 2**20, "largest request body accepted (413 beyond)", parse_positive_int, metavar="BYTES"),
    Option("--identity.header", "", "header naming the customer (trusted as sent); else the API key's hash", parse_header, metavar="NAME"),
    Option("--identity.salt-file", "", "file holding the salt of API key hashes (keep it secret and stable)", str, metavar="FILE"),
    Option("--identity.customers", {}, "key hash -> customer name: HASH=NAME[,HASH=NAME...]", parse_customers, metavar="MAP"),
    Option("--identity.require-known", False, "answer 401 to keys that are not in identity.customers", kind="bool"),
    Option(
        "--metrics.max-customers",
        100,
        'distinct unnamed customers exposed; later ones fold into customer="other" (named ones always count)',
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--metrics.names",
        "axonize",
        "metric names: 'axonize' (axonize_gateway_*), 'otel' (the OpenTelemetry GenAI conventions' gen_ai_* "
        "as translated to Prometheus; the customer-cost rules need axonize) or 'both'",
        parse_name_set,
        metavar="SET",
    ),
    Option("--usage-log.path", "", "JSON-lines usage log, one record per request (off when empty)", str, metavar="FILE"),
    Option(
        "--usage-log.max-bytes", 100 * 2**20, "rotate the usage log when it would exceed this size", parse_positive_int, metavar="BYTES"
    ),
    Option("--usage-log.backups", 5, "rotated usage logs kept (FILE.1 ... FILE.N)", parse_positive_int, metavar="N"),
    LOG_LEVEL_OPTION,
)
