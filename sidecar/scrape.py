"""Fetch every target's /metrics concurrently, each within its own deadline (aiohttp client).

:func:`fetch_all` starts one GET per target at once and waits for all; a target
that is down, slow, answers non-200 or sends more than :data:`MAX_BODY_BYTES`
yields a :class:`~axonize.sidecar.errors.TargetError` for that target only. The
request asks for the text format (``Accept: text/plain;version=0.0.4``) and gzip.
Parsing happens afterwards, outside the deadlines (:mod:`axonize.sidecar.normalize`),
so one target's CPU time never pushes another past its timeout. A ``file://`` target is
read from disk (in a worker thread, within the same deadline and size limit); a missing or
unreadable file is a ``connect`` error naming it.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Optional, Sequence
from urllib.parse import unquote, urlsplit

import aiohttp

from axonize import __version__

from .errors import TargetError
from .targets import Target

MAX_BODY_BYTES = 32 * 1024 * 1024  # a vLLM exposition is ~60 KB; a body this large is not one
HEADERS = {
    "Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": f"axonize-sidecar/{__version__}",
}


@dataclass
class Fetched:
    """One target's answer: the body as text, or the error; ``seconds`` of wall time for the GET."""

    target: Target
    text: Optional[str]
    error: Optional[TargetError]
    seconds: float


def new_session() -> aiohttp.ClientSession:
    """A client session for the targets: no connection limit per host, keep-alive between cycles."""
    return aiohttp.ClientSession(
        headers=HEADERS,
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=60),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def fetch(session: aiohttp.ClientSession, target: Target, timeout: float) -> Fetched:
    """GET ``target.url`` (or read a ``file://`` capture) within ``timeout`` seconds (connect, headers and body together)."""
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            if target.url.startswith("file:"):
                body = await asyncio.to_thread(_read_file, unquote(urlsplit(target.url).path))
            else:
                body = await _get(session, target)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = body.count(b"\n", 0, exc.start) + 1
            raise TargetError("parse", f"not UTF-8 text (byte {exc.start})", line) from None
        return Fetched(target, text, None, time.monotonic() - start)
    except TargetError as exc:
        return Fetched(target, None, exc, time.monotonic() - start)
    except TimeoutError:
        return Fetched(target, None, TargetError("timeout", f"no complete answer within {timeout:g}s"), time.monotonic() - start)
    except (aiohttp.ClientError, OSError) as exc:
        message = str(exc) or type(exc).__name__
        return Fetched(target, None, TargetError("connect", message), time.monotonic() - start)


def _read_file(path: str) -> bytes:
    """A capture's bytes; an OSError names the file (``[Errno 2] No such file or directory: '...'``)."""
    with open(path, "rb") as fh:
        body = fh.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise TargetError("parse", f"{path} is over {MAX_BODY_BYTES} bytes: not a /metrics capture")
    return body


async def _get(session: aiohttp.ClientSession, target: Target) -> bytes:
    """The body of a 200 answer to GET ``target.url``; TargetError otherwise."""
    async with session.get(target.url, allow_redirects=True) as response:
        if response.status != 200:
            reason = response.reason or ""
            raise TargetError("http", f"HTTP {response.status} {reason}".rstrip())
        if response.content_length is not None and response.content_length > MAX_BODY_BYTES:
            raise TargetError("http", f"a body of {response.content_length} bytes is over {MAX_BODY_BYTES}")
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise TargetError("http", f"a body over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


async def fetch_all(session: aiohttp.ClientSession, targets: Sequence[Target], timeout: float) -> list[Fetched]:
    """Every target at once; results in the order of ``targets``."""
    return list(await asyncio.gather(*(fetch(session, t, timeout) for t in targets)))
