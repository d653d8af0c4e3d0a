"""Send a workload at a request rate, under a concurrency cap, and collect every :class:`~.client.Result`.

Arrivals (``vllm bench serve``'s model): with ``request_rate`` infinite every request starts at once (the
concurrency cap holds them back); otherwise the gaps between starts are exponential with mean 1/rate
(``poisson``: a Poisson process, seeded) or exactly 1/rate (``constant``). ``max_concurrency`` caps the
requests in flight (None: no cap). The run's duration is from the first start to the last answer, seconds.

:func:`reachable` is the pre-flight check: ``GET /v1/models`` answers, and names the models served.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from . import client
from .workload import Request

ARRIVALS = ("poisson", "constant")


class Unreachable(RuntimeError):
    """The server did not answer ``GET /v1/models``; the message names the URL and why."""


@dataclass(frozen=True)
class Settings:
    """How to send: the server's base URL (no ``/v1``), endpoint, model, arrivals, cap and request options."""

    base_url: str
    endpoint: str = client.COMPLETIONS
    model: str = ""
    request_rate: float = math.inf
    arrival: str = "poisson"
    max_concurrency: int | None = None
    stream: bool = True
    ignore_eos: bool = True
    timeout_s: float = 600.0
    headers: tuple[tuple[str, str], ...] = ()
    seed: int = 0


def gaps(n: int, rate: float, arrival: str, seed: int) -> list[float]:
    """Seconds to wait before each of ``n`` starts: 0 for the first; ``rate`` requests per second."""
    if math.isinf(rate):
        return [0.0] * n
    rng = random.Random(seed)
    return [0.0] + [rng.expovariate(rate) if arrival == "poisson" else 1.0 / rate for _ in range(n - 1)]


class Progress:
    """A one-line progress count on stderr (``bench: 12/40 requests, 1 failed``), redrawn on a terminal,
    printed every tenth of the run otherwise."""

    def __init__(self, total: int, label: str = "bench", stream=None):
        self.total, self.label, self.done, self.failed = total, label, 0, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._step = max(1, total // 10)

    def update(self, result: client.Result) -> None:
        self.done += 1
        self.failed += 0 if result.success else 1
        line = f"{self.label}: {self.done}/{self.total} requests, {self.failed} failed"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        elif self.done % self._step == 0 or self.done == self.total:
            self.stream.write(line + "\n")
        self.stream.flush()


async def _models(session: aiohttp.ClientSession, base_url: str) -> list[str]:
    url = base_url + "/v1/models"
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise Unreachable(f"{url} answered HTTP {response.status}: {(await response.text())[:200]}")
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise Unreachable(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
    return [m.get("id", "") for m in body.get("data", [])] if isinstance(body, dict) else []


def _session(settings: Settings, connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        headers=dict(settings.headers),
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
    )


async def reachable(settings: Settings) -> list[str]:
    """The model ids ``GET {base_url}/v1/models`` lists; :class:`Unreachable` naming the URL otherwise."""
    async with _session(settings, 1) as session:
        return await asyncio.wait_for(_models(session, settings.base_url), 30)


async def run(requests: Sequence[Request], settings: Settings, progress: Progress | None = None) -> tuple[list[client.Result], float]:
    """Send ``requests`` as ``settings`` says; (results in request order, duration in seconds)."""
    cap = settings.max_concurrency
    limit = asyncio.Semaphore(cap) if cap else None
    waits = gaps(len(requests), settings.request_rate, settings.arrival, settings.seed)

    async with _session(settings, cap or 0) as session:

        async def one(request: Request) -> client.Result:
            if limit is not None:
                await limit.acquire()
            try:
                result = await client.send(
                    session,
                    settings.base_url,
                    request,
                    endpoint=settings.endpoint,
                    model=settings.model,
                    stream=settings.stream,
                    ignore_eos=settings.ignore_eos,
                    timeout_s=settings.timeout_s,
                )
            finally:
                if limit is not None:
                    limit.release()
            if progress is not None:
                progress.update(result)
            return result

        started = time.perf_counter()
        tasks = []
        for request, wait in zip(requests, waits):
            if wait:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(request)))
        results = await asyncio.gather(*tasks)
        duration = time.perf_counter() - started
    return list(results), duration


__all__ = ["ARRIVALS", "Progress", "Settings", "Unreachable", "gaps", "reachable", "run"]
