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
later; after a failed one, at the next cycle. The read keeps its own deadline (GET and parse: a read that
outlasts it counts ``kind="timeout"``) and no read starts while the last one's parse thread still runs. A
failure keeps the last good table, counts ``axonize_sidecar_price_fetch_errors_total{kind}`` and is logged once
per kind (again after a good read). A table read more than ``max_age`` seconds ago (``--traces.prices.max-age``,
15 minutes: the rule's ``last_over_time(...[15m])``, the bundle's ``cost.stopped_exporter_grace``) is
:data:`STALE`: requests count as unpriced, reason ``stale_prices``, until a good read.

:func:`request_cost` prices one request span: ``seconds x sum of the $/hour of its distinct devices / 3600``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from types import MappingProxyType

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from axonize import exposition_text as text
from axonize import names

from .scrape import fetch
from .targets import Target

log = logging.getLogger(__name__)

#: The exporter's families, from the names registry (a rename there reaches this module, a removal fails its import).
GPU_PRICE = names.get("axonize_gpu_price_dollars_per_hour").name
MIG_PRICE = names.get("axonize_mig_price_dollars_per_hour").name
MIG_INFO = names.get("axonize_mig_info").name
#: Values of ``axonize_sidecar_price_fetch_errors_total{kind}``.
KINDS = ("connect", "timeout", "http", "parse", "missing", "internal")
#: :attr:`Prices.table` once its last good read is older than ``max_age``: an empty table that
#: :func:`request_cost` answers with the reason ``stale_prices``.
STALE: Mapping[str, float] = MappingProxyType({})
#: ``--traces.prices.max-age``'s default, seconds: the bundle's ``cost.stopped_exporter_grace`` (15m).
MAX_AGE = 15 * 60.0


class PriceError(Exception):
    """The price table could not be read; ``kind`` is one of :data:`KINDS`."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def parse(body: str, deadline: float | None = None) -> dict[str, float]:
    """``{GPU or MIG device uuid: $/hour}`` from an Axonize exporter's /metrics text (module docstring).

    Raises :class:`PriceError`: ``parse`` when the text is not the Prometheus text format (prometheus_client's
    parser says where), ``missing`` when it has no ``axonize_gpu_price_dollars_per_hour`` family at all,
    ``timeout`` when ``time.monotonic()`` passes ``deadline`` (looked at before each family).
    """
    gpus: dict[str, float] = {}
    instances: dict[tuple[str, str], float] = {}
    compute: dict[tuple[str, str], set[str]] = {}
    devices: dict[str, tuple[str, str]] = {}  # MIG uuid -> (GPU uuid, GPU instance id)
    seen = False
    try:
        for family in text_string_to_metric_families(body):
            if deadline is not None and time.monotonic() > deadline:
                raise PriceError("timeout", f"its {len(body)}-character text was not parsed by its deadline")
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
    device), ``no_prices`` (``table`` None: none read yet), ``stale_prices`` (``table`` :data:`STALE`: the last
    good read is too old), ``unknown_uuid`` (a device the table lacks)."""
    devices = dict.fromkeys(uuids)
    if not devices:
        return None, "no_gpu"
    if table is None:
        return None, "no_prices"
    if table is STALE:
        return None, "stale_prices"
    per_hour = 0.0
    for uuid in devices:
        price = table.get(uuid)
        if price is None:
            return None, "unknown_uuid"
        per_hour += price
    return seconds * per_hour / 3600, ""


class Prices:
    """The last good price table read from ``url`` (:attr:`table`) and the read errors.

    ``refresh``: seconds between good reads; ``max_age``: seconds after its read that a table stops being used
    (:data:`STALE`); ``clock``: the monotonic clock of both (tests give their own). :meth:`update` is the
    collection loop's (one caller at a time); :attr:`table` is read by the receiver's worker without a lock (the
    table and its read time are replaced together).
    """

    def __init__(
        self,
        url: str,
        refresh: float = 30.0,
        max_bytes: int | None = None,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.url = url
        self.refresh = refresh
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.errors: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
        self._clock = clock
        self._last: tuple[Mapping[str, float], float] | None = None  # (the last good table, clock() at its read)
        self._target = Target(url=url, server="prices")
        self._next = 0.0  # clock() of the next read
        self._logged: set[str] = set()
        self._reading = False
        self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="axonize-prices")
        self._parsing: Future | None = None  # the last read's parse, which may outlast its read

    @property
    def table(self) -> Mapping[str, float] | None:
        """``{uuid: $/hour}`` of the last good read; :data:`STALE` once that read is over ``max_age`` seconds old;
        None before the first."""
        last = self._last
        if last is None:
            return None
        return STALE if self._clock() - last[1] > self.max_age else last[0]

    async def update(self, session: aiohttp.ClientSession, timeout: float) -> None:
        """Read the table when it is due, within ``timeout`` seconds (GET and parse); never raises but cancellation.

        Nothing is read while an earlier read, or its parse thread, still runs: that thread stops by itself at
        its deadline, or at its next look at it.
        """
        self._note_stale()
        start = self._clock()
        if start < self._next or self._reading or (self._parsing is not None and not self._parsing.done()):
            return
        self._reading = True
        try:
            table = await self._read(session, timeout)
        except PriceError as exc:
            self._failed(exc.kind if exc.kind in KINDS else "internal", str(exc))
            return
        except Exception as exc:  # a sidecar bug: counted, the last table stays
            self._failed("internal", f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._reading = False
        self._last = (table, start)
        self._next = start + self.refresh
        if self._logged:
            self._logged.clear()
            log.info("GPU prices read again from %s (%d devices)", self._target.display_url, len(table))

    async def _read(self, session: aiohttp.ClientSession, timeout: float) -> dict[str, float]:
        """GET and parse (in :attr:`_parser`'s thread) by ``timeout`` seconds from now; raises :class:`PriceError`."""
        deadline = time.monotonic() + timeout
        fetched = await fetch(session, self._target, timeout, self.max_bytes)
        if fetched.error is not None:
            raise PriceError(fetched.error.kind, str(fetched.error))
        body = fetched.body or b""
        self._parsing = self._parser.submit(_decode_parse, body, deadline)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self._parsing), max(0.0, deadline - time.monotonic()))
        except TimeoutError:  # the thread stops by itself at its next look at the deadline
            raise PriceError("timeout", f"its {len(body)}-byte text was not parsed within {timeout:g}s") from None

    def _note_stale(self) -> None:
        """Log once (again after a good read) that the last good table has gone stale."""
        if self._last is not None and self.table is STALE and "stale" not in self._logged:
            self._logged.add("stale")
            log.warning(
                "GPU prices from %s: no good read for %.0fs (more than %gs, --traces.prices.max-age): "
                "requests count as unpriced (stale_prices) until one",
                self._target.display_url,
                self._clock() - self._last[1],
                self.max_age,
            )

    def _failed(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if kind not in self._logged:
            self._logged.add(kind)
            table = self.table
            if table is None:
                kept = "requests stay unpriced"
            elif table is STALE:
                kept = "the last table is stale: requests stay unpriced"
            else:
                kept = f"the last table ({len(table)} devices) stays for up to {self.max_age:g}s after its read"
            log.warning("GPU prices from %s: %s: %s; %s", self._target.display_url, kind, message, kept)

    def families(self) -> list[text.Family]:
        """``axonize_sidecar_price_fetch_errors_total{kind}``, every kind."""
        row = names.get("axonize_sidecar_price_fetch_errors_total")
        fam = text.Family(row.name, row.type, row.help)
        for kind in KINDS:
            fam.add((("kind", kind),), float(self.errors[kind]))
        return [fam]


def _decode_parse(body: bytes, deadline: float | None = None) -> dict[str, float]:
    try:
        return parse(body.decode("utf-8"), deadline)
    except UnicodeDecodeError as exc:
        raise PriceError("parse", f"not UTF-8 text: {exc}") from None
