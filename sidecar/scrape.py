"""Fetch every target's /metrics concurrently, each within its own deadline (aiohttp client).

:func:`fetch` GETs one target; the collection loop starts one per target at once. A target
that is down, slow, answers other than 200 or sends more than ``max_bytes`` (default
:data:`MAX_BODY_BYTES`, 16 MiB, counted after gzip decompression) yields a
:class:`~axonize.sidecar.errors.TargetError` for that target only, and never more than the
limit is held in memory. The request asks for the text format
(``Accept: text/plain;version=0.0.4``) and gzip. Redirects are not followed (the sidecar
exports what it was configured to scrape, nothing else): a 3xx is an ``http`` error naming the
status and ``Location``. A ``file://`` target is read from disk (in a worker thread, within
the same deadline and size limit); a missing or unreadable file is a ``connect`` error naming it.

The body is returned as bytes: decoding and parsing happen in a worker thread within the same
target's deadline (:mod:`axonize.sidecar.collection`). Messages show the target's
``display_url`` (credentials removed), never the URL it requests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiohttp

from axonize import __version__

from .errors import TargetError
from .targets import Target, redact

#: The largest body read (bytes, after decompression): a vLLM exposition is ~60 KB; one of 16 MiB is not one.
MAX_BODY_BYTES = 16 * 1024 * 1024
HEADERS = {
    "Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": f"axonize-sidecar/{__version__}",
}


@dataclass
class Fetched:
    """One target's answer: the body's bytes, or the error; ``seconds`` of wall time for the GET."""

    target: Target
    body: bytes | None
    error: TargetError | None
    seconds: float


def new_session() -> aiohttp.ClientSession:
    """A client session for the targets: no connection limit per host, keep-alive between cycles."""
    return aiohttp.ClientSession(
        headers=HEADERS,
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=60),
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def fetch(session: aiohttp.ClientSession, target: Target, timeout: float, max_bytes: int | None = None) -> Fetched:
    """GET ``target.url`` (or read a ``file://`` capture) within ``timeout`` seconds (connect, headers and body together).

    ``max_bytes``: the body limit, :data:`MAX_BODY_BYTES` when None.
    """
    limit = MAX_BODY_BYTES if max_bytes is None else max_bytes
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            if target.url.startswith("file:"):
                body = await asyncio.to_thread(_read_file, unquote(urlsplit(target.url).path), limit)
            else:
                body = await _get(session, target, limit)
        return Fetched(target, body, None, time.monotonic() - start)
    except TargetError as exc:
        return Fetched(target, None, exc, time.monotonic() - start)
    except TimeoutError:
        return Fetched(target, None, TargetError("timeout", f"no complete answer within {timeout:g}s"), time.monotonic() - start)
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: yarl/aiohttp refusing a URL
        message = _scrubbed(str(exc) or type(exc).__name__, target)
        return Fetched(target, None, TargetError("connect", message), time.monotonic() - start)


def _scrubbed(message: str, target: Target) -> str:
    """``message`` with the target's URL shown as its ``display_url`` and any credentials removed."""
    message = message.replace(target.url, target.display_url)
    userinfo = urlsplit(target.url).netloc.rpartition("@")[0]
    return message.replace(userinfo, "***") if userinfo else message


def _read_file(path: str, limit: int) -> bytes:
    """A capture's bytes; an OSError names the file (``[Errno 2] No such file or directory: '...'``)."""
    with open(path, "rb") as fh:
        body = fh.read(limit + 1)
    if len(body) > limit:
        raise TargetError("http", f"{path} is over the {limit}-byte limit: not a /metrics capture")
    return body


async def _get(session: aiohttp.ClientSession, target: Target, limit: int) -> bytes:
    """The body of a 200 answer to GET ``target.url``; TargetError otherwise (a redirect included)."""
    async with session.get(target.url, allow_redirects=False) as response:
        if 300 <= response.status < 400:
            location = redact(response.headers.get("Location", ""))
            raise TargetError(
                "http",
                f"HTTP {response.status} {response.reason or ''}".rstrip()
                + f" to {location!r}: redirects are not followed; configure the final URL",
            )
        if response.status != 200:
            raise TargetError("http", f"HTTP {response.status} {response.reason or ''}".rstrip())
        if response.content_length is not None and response.content_length > limit:
            raise TargetError("http", f"a body of {response.content_length} bytes is over the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in response.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                raise TargetError("http", f"a body over the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)
