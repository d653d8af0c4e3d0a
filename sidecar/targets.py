"""Scrape targets: the inference servers the sidecar reads, from flags or the YAML file.

A target is written either as a string, ``URL`` or ``URL#ENGINE``
(``--target http://gpu-1:8000#vllm``), or in the file as a mapping::

    targets:
      - http://gpu-1:8000                      # engine detected from the metric names
      - url: http://gpu-2:8080/metrics
        engine: tgi                            # vllm, tgi, sglang, triton or llamacpp
        server: chat-tgi                       # the `server` label (default: host:port)
        model: meta-llama/Llama-3.1-8B-Instruct  # for engines without a model label (TGI, llama.cpp)
        gpus: [GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1]   # axonize_inference_server_gpu_info

A URL without a path scrapes ``/metrics``. A ``file://`` URL (an absolute path: ``file:///captures/vllm.prom``)
is read instead of fetched, each cycle: a saved /metrics capture served as if live (demo, replay, tests);
its ``server`` defaults to the file's name. Errors are ``ValueError`` naming the
target and key (``target 'http://gpu-2:8080': key 'gpuz' is not one of url, engine,
server, model, gpus``); :mod:`axonize.config` prefixes the file and ``targets``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit, urlunsplit

from .engines import ENGINES

KEYS = ("url", "engine", "server", "model", "gpus")
_GPU_UUID = re.compile(r"(GPU|MIG)-[0-9A-Za-z/\-]+")


@dataclass(frozen=True)
class Target:
    """One inference server. ``engine`` None means detect it from the metric names each scrape.
    ``gpus``: NVML UUIDs from the configuration (``GPU-...``, ``MIG-...``)."""

    url: str
    server: str
    engine: Optional[str] = None
    model: str = ""
    gpus: tuple[str, ...] = ()


def parse_engine(value: Any) -> str:
    """An engine name (``vllm``, ``tgi``, ``sglang``, ``triton``, ``llamacpp``), lower-cased."""
    name = str(value).strip().lower()
    if name not in ENGINES:
        raise ValueError(f"engine {value!r} is not one of {', '.join(ENGINES)}")
    return name


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"url {value!r} is not a URL like http://host:8000/metrics")
    parts = urlsplit(value.strip())
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"url {value!r} is not a file URL with an absolute path, like file:///captures/vllm.prom")
        return urlunsplit(("file", "", parts.path, "", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {value!r} is not an http(s) URL with a host, like http://host:8000/metrics")
    try:
        parts.port
    except ValueError:
        raise ValueError(f"url {value!r} has a bad port") from None
    path = parts.path if parts.path not in ("", "/") else "/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _server_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or parts.path.rsplit("/", 1)[-1]


def parse_target(value: Any) -> Target:
    """A target from ``"URL"``, ``"URL#ENGINE"`` or a mapping with :data:`KEYS`.

    Raises ValueError naming the target (by its url) and the key.
    """
    if isinstance(value, dict) and isinstance(value.get("url"), str):
        prefix = f"target {value['url']!r}: "
    else:
        prefix = ""
    if isinstance(value, str):
        url, _, engine = value.partition("#")
        try:
            return Target(url=_url(url), server=_server_of(_url(url)), engine=parse_engine(engine) if engine else None)
        except ValueError as exc:
            raise ValueError(f"{prefix}{exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{prefix}expected a URL or a mapping with {', '.join(KEYS)}, got {value!r}")
    for key in value:
        if key not in KEYS:
            raise ValueError(f"{prefix}key {key!r} is not one of {', '.join(KEYS)}")
    if "url" not in value:
        raise ValueError(f"{prefix}key 'url' is missing")
    try:
        url = _url(value["url"])
    except ValueError as exc:
        raise ValueError(f"{prefix}key 'url': {exc}") from None
    engine = None
    if value.get("engine") is not None:
        try:
            engine = parse_engine(value["engine"])
        except ValueError as exc:
            raise ValueError(f"{prefix}key 'engine': {exc}") from None
    server = value.get("server")
    if server is not None and (not isinstance(server, str) or not server.strip()):
        raise ValueError(f"{prefix}key 'server': {server!r} is not a non-empty string")
    model = value.get("model", "")
    if not isinstance(model, str):
        raise ValueError(f"{prefix}key 'model': {model!r} is not a string")
    gpus = value.get("gpus") or []
    if not isinstance(gpus, list):
        raise ValueError(f"{prefix}key 'gpus': expected a list of GPU UUIDs, got {gpus!r}")
    for uuid in gpus:
        if not isinstance(uuid, str) or not _GPU_UUID.fullmatch(uuid):
            raise ValueError(f"{prefix}key 'gpus': {uuid!r} is not an NVML UUID like GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1")
    return Target(url=url, server=(server or _server_of(url)).strip(), engine=engine, model=model, gpus=tuple(gpus))


def finish(targets: Iterable[Target], default_engine: Optional[str]) -> list[Target]:
    """Apply ``--target.engine`` to targets without one; refuse two targets with one ``server``."""
    out: list[Target] = []
    seen: dict[str, str] = {}
    for t in targets:
        if t.engine is None and default_engine:
            t = replace(t, engine=default_engine)
        if t.server in seen:
            raise ValueError(f"server {t.server!r} names both {seen[t.server]} and {t.url}: give each target its own server")
        seen[t.server] = t.url
        out.append(t)
    return out
