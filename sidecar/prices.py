"""GPU prices for the traces receiver's cost per request, read from the local exporter's /metrics.

The exporter is the bundle's price authority (its price table, docs in exporter/prices); the sidecar reads
what it exposes instead of a second table. :func:`parse` turns that text into ``{uuid: $/hour}``, the same
definition as the rule ``uuid:axonize_gpu_cost:dollars_per_hour`` (rules/cost.rules.yml)::

    axonize_gpu_price_dollars_per_hour{gpu="0",uuid="GPU-7c3c..."} 6.88
        -> GPU-7c3c...: 6.88
    axonize_mig_info{uuid="GPU-0000...",gpu_instance_id="2",compute_instance_id="1",mig_uuid="MIG-0000...01",...} 1
    axonize_mig_price_dollars_per_hour{uuid="GPU-0000...",gpu_instance_id="2"} 3.39    (GPU instance 2: 2 compute instances)
        -> MIG-0000...01: 3.39 / 2 = 1.695

A GPU uuid costs its ``axonize_gpu_price_dollars_per_hour``; a MIG device uuid (``mig_uuid`` of
``axonize_mig_info``) its GPU instance's ``axonize_mig_price_dollars_per_hour`` divided by the number of
distinct compute instances ``axonize_mig_info`` lists in that GPU instance. A price that is NaN, infinite or
negative is left out (that device is unpriced); a uuid priced twice takes the higher price (the rule's ``max``).

:class:`Prices` is read by the collection loop (``--traces.prices.url``), beside the target scrapes and with
their timeout, never on the span path nor the scrape path: after a good read, again ``refresh`` seconds
later; after a failed one, at the next cycle. A failure keeps the last good table, counts
``axonize_sidecar_price_fetch_errors_total{kind}`` and is logged once per kind (again after a good read).

:func:`request_cost` prices one request span: ``seconds x sum of the $/hour of its distinct devices / 3600``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from axonize import exposition_text as text
from axonize import names

from .scrape import fetch
from .targets import Target

log = logging.getLogger(__name__)

GPU_PRICE = "axonize_gpu_price_dollars_per_hour"
MIG_PRICE = "axonize_mig_price_dollars_per_hour"
MIG_INFO = "axonize_mig_info"
#: Values of ``axonize_sidecar_price_fetch_errors_total{kind}``.
KINDS = ("connect", "timeout", "http", "parse", "missing", "internal")


class PriceError(Exception):
    """The price table could not be read; ``kind`` is one of :data:`KINDS`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def parse(body: str) -> dict[str, float]:
    """``{GPU or MIG device uuid: $/hour}`` from an Axonize exporter's /metrics text (module docstring).

    Raises :class:`PriceError`: ``parse`` when the text is not the Prometheus text format (prometheus_client's
    parser says where), ``missing`` when it has no ``axonize_gpu_price_dollars_per_hour`` family at all.
    """
    gpus: dict[str, float] = {}
    instances: dict[tuple[str, str], float] = {}
    compute: dict[tuple[str, str], set[str]] = {}
    devices: dict[str, tuple[str, str]] = {}  # MIG uuid -> (GPU uuid, GPU instance id)
    seen = False
    try:
        for family in text_string_to_metric_families(body):
            seen = seen or family.name == GPU_PRICE
            for s in family.samples:
                labels = s.labels
                if s.name == GPU_PRICE and labels.get("uuid") and _price(s.value):
                    gpus[labels["uuid"]] = max(s.value, gpus.get(labels["uuid"], 0.0))
                elif s.name in (MIG_PRICE, MIG_INFO) and labels.get("uuid") and labels.get("gpu_instance_id"):
                    key = (labels["uuid"], labels["gpu_instance_id"])
                    if s.name == MIG_PRICE:
                        if _price(s.value):
                            instances[key] = max(s.value, instances.get(key, 0.0))
                    else:
                        compute.setdefault(key, set()).add(labels.get("compute_instance_id", ""))
                        if labels.get("mig_uuid"):
                            devices[labels["mig_uuid"]] = key
    except ValueError as exc:
        raise PriceError("parse", f"not the Prometheus text format: {exc}") from None
    if not seen:
        raise PriceError("missing", f"no {GPU_PRICE} in it: not an Axonize exporter's /metrics")
    table = dict(gpus)
    for mig_uuid, key in devices.items():
        if key in instances:
            table[mig_uuid] = max(instances[key] / len(compute[key]), table.get(mig_uuid, 0.0))
    return table


def _price(value: float) -> bool:
    return math.isfinite(value) and value >= 0


def request_cost(seconds: float, uuids: Iterable[str], table: Mapping[str, float] | None) -> tuple[float | None, str]:
    """``(dollars, "")`` of a request of ``seconds`` on the devices ``uuids`` (each counted once):
    ``seconds x sum of their $/hour / 3600``; ``(None, reason)`` when it cannot be priced: ``no_gpu`` (no
    device), ``no_prices`` (``table`` None: none read yet), ``unknown_uuid`` (a device the table lacks)."""
    devices = dict.fromkeys(uuids)
    if not devices:
        return None, "no_gpu"
    if table is None:
        return None, "no_prices"
    per_hour = 0.0
    for uuid in devices:
        price = table.get(uuid)
        if price is None:
            return None, "unknown_uuid"
        per_hour += price
    return seconds * per_hour / 3600, ""


class Prices:
    """The last good price table read from ``url`` (``table``: None until a read succeeds) and the read errors.

    ``refresh``: seconds between good reads. :meth:`update` is the collection loop's (one caller at a time);
    ``table`` is replaced whole, so the receiver's worker reads it without a lock.
    """

    def __init__(self, url: str, refresh: float = 30.0, max_bytes: int | None = None):
        self.url = url
        self.refresh = refresh
        self.max_bytes = max_bytes
        self.table: Mapping[str, float] | None = None
        self.errors: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        self._target = Target(url=url, server="prices")
        self._next = 0.0  # time.monotonic() of the next read
        self._logged: set[str] = set()

    async def update(self, session: aiohttp.ClientSession, timeout: float) -> None:
        """Read the table when it is due, within ``timeout`` seconds (GET and parse); never raises."""
        start = time.monotonic()
        if start < self._next:
            return
        try:
            fetched = await fetch(session, self._target, timeout, self.max_bytes)
            if fetched.error is not None:
                raise PriceError(fetched.error.kind, str(fetched.error))
            body = fetched.body or b""
            try:
                table = await asyncio.wait_for(asyncio.to_thread(_decode_parse, body), max(0.0, start + timeout - time.monotonic()))
            except TimeoutError:
                raise PriceError("timeout", f"its {len(body)}-byte text was not parsed within {timeout:g}s") from None
        except PriceError as exc:
            self._failed(exc.kind if exc.kind in KINDS else "internal", str(exc))
            return
        except Exception as exc:  # a sidecar bug: counted, the last table stays
            self._failed("internal", f"{type(exc).__name__}: {exc}")
            return
        self.table = table
        self._next = start + self.refresh
        if self._logged:
            self._logged.clear()
            log.info("GPU prices read again from %s (%d devices)", self._target.display_url, len(table))

    def _failed(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            kept = f"the last table ({len(self.table)} devices) stays" if self.table is not None else "requests stay unpriced"
            log.warning("GPU prices from %s: %s: %s; %s", self._target.display_url, kind, message, kept)

    def families(self) -> list[text.Family]:
        """``axonize_sidecar_price_fetch_errors_total{kind}``, every kind."""
        row = names.get("axonize_sidecar_price_fetch_errors_total")
        fam = text.Family(row.name, row.type, row.help)
        for kind in KINDS:
            fam.add((("kind", kind),), float(self.errors[kind]))
        return [fam]


def _decode_parse(body: bytes) -> dict[str, float]:
    try:
        return parse(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PriceError("parse", f"not UTF-8 text: {exc}") from None
