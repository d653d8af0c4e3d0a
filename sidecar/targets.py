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
its ``server`` defaults to the file's name.

Credentials in a URL (``http://user:pass@gpu-1:8000``) are sent with the
request (aiohttp turns them into basic auth) and appear nowhere else: the
default ``server`` label is host:port, and logs and errors show
:attr:`Target.display_url`, the URL without them.

The file's form is checked by the :class:`TargetSpec` model (through
:mod:`axonize.schema`, so errors name file, line and key:
``sidecar.yml:4: targets[1].gpuz: unknown key; known keys: url, engine, server, model, gpus``);
:func:`parse_target` checks one flag value or mapping and raises ``ValueError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BeforeValidator, ValidationError

from axonize import schema, yaml_file

from .engines import ENGINES

KEYS = ("url", "engine", "server", "model", "gpus")
_GPU_UUID = re.compile(r"(GPU|MIG)-[0-9A-Za-z/\-]+")


@dataclass(frozen=True)
class Target:
    """One inference server. ``engine`` None means detect it from the metric names each scrape.
    ``gpus``: NVML UUIDs from the configuration (``GPU-...``, ``MIG-...``).

    ``url`` is what is requested, credentials included; show :attr:`display_url` instead.
    """

    url: str
    server: str
    engine: str | None = None
    model: str = ""
    gpus: tuple[str, ...] = ()

    @property
    def display_url(self) -> str:
        """The URL for logs and messages: ``http://user:pass@gpu-1:8000/metrics`` -> ``http://gpu-1:8000/metrics``."""
        return redact(self.url)


def redact(url: str) -> str:
    """``url`` without the user name and password (``scheme://host:port/path?query``); other text unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rpartition("@")[2] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))


def parse_engine(value: Any) -> str:
    """An engine name (``vllm``, ``tgi``, ``sglang``, ``triton``, ``llamacpp``), lower-cased."""
    name = str(value).strip().lower()
    if name not in ENGINES:
        raise ValueError(f"engine {value!r} is not one of {', '.join(ENGINES)}")
    return name


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"url {value!r} is not a URL like http://host:8000/metrics")
    shown = repr(redact(value.strip()))
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        raise ValueError(f"url {shown} is not a URL like http://host:8000/metrics") from None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"url {shown} is not a file URL with an absolute path, like file:///captures/vllm.prom")
        return urlunsplit(("file", "", parts.path, "", ""))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url {shown} is not an http(s) URL with a host, like http://host:8000/metrics")
    try:
        _ = parts.port  # urllib raises ValueError for a port out of range or not a number
    except ValueError:
        raise ValueError(f"url {shown} has a bad port") from None
    path = parts.path if parts.path not in ("", "/") else "/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _server_of(url: str) -> str:
    """The default ``server`` label: host:port as written (no credentials), or a file URL's file name."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or parts.path.rsplit("/", 1)[-1]


def _engine(value: Any) -> str | None:
    return None if value is None or value == "" else parse_engine(value)


def _server(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a non-empty string")
    return value.strip()


def _model(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _gpu(value: Any) -> str:
    if not isinstance(value, str) or not _GPU_UUID.fullmatch(value):
        raise ValueError(f"{value!r} is not an NVML UUID like GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1")
    return value


def _gpus(value: Any) -> Any:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list of GPU UUIDs, got {value!r}")
    return value


class TargetSpec(schema.Section):
    """One item of ``targets:``: a string ``URL[#ENGINE]`` or a mapping with :data:`KEYS`."""

    url: Annotated[str, BeforeValidator(_url)]
    engine: Annotated[str | None, BeforeValidator(_engine)] = None
    server: Annotated[str | None, BeforeValidator(_server)] = None
    model: Annotated[str, BeforeValidator(_model)] = ""
    gpus: Annotated[tuple[Annotated[str, BeforeValidator(_gpu)], ...], BeforeValidator(_gpus)] = ()

    @classmethod
    def coerce(cls, data: Any) -> Any:
        if isinstance(data, str):
            url, _, engine = data.partition("#")
            return {"url": url, "engine": engine or None}
        if not isinstance(data, (dict, TargetSpec)):
            raise schema.problem(f"expected a URL or a mapping with {', '.join(KEYS)}, got {schema.shown(data)}")
        return data

    def target(self) -> Target:
        return Target(url=self.url, server=self.server or _server_of(self.url), engine=self.engine, model=self.model, gpus=self.gpus)


def parse_target(value: Any) -> Target:
    """A target from ``"URL"``, ``"URL#ENGINE"`` or a mapping with :data:`KEYS`.

    Raises ValueError naming the target (by its url, without credentials) and the key:
    ``target 'http://x:1': gpuz: unknown key; known keys: url, engine, server, model, gpus``.
    """
    if isinstance(value, TargetSpec):
        return value.target()
    try:
        return TargetSpec.model_validate(value).target()
    except ValidationError as exc:
        where = f"target {redact(value['url'])!r}" if isinstance(value, dict) and isinstance(value.get("url"), str) else "target"
        raise ValueError(str(schema.errors_of(exc, yaml_file.Document(value, where)))) from None


def finish(targets: Iterable[Target], default_engine: str | None) -> list[Target]:
    """Apply ``--target.engine`` to targets without one; refuse two targets with one ``server``."""
    out: list[Target] = []
    seen: dict[str, str] = {}
    for t in targets:
        if t.engine is None and default_engine:
            t = replace(t, engine=default_engine)
        if t.server in seen:
            raise ValueError(f"server {t.server!r} names both {seen[t.server]} and {t.display_url}: give each target its own server")
        seen[t.server] = t.display_url
        out.append(t)
    return out
