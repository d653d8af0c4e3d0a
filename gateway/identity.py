"""Who sent a request: the API key's salted hash, a configured customer name, or a trusted header.

The key (``Authorization: Bearer KEY``) is read, hashed and dropped: only the hash prefix
(:data:`HASH_HEX` hex digits of HMAC-SHA256(salt, key)) is kept, exported and logged. With a salt
kept secret the prefix cannot be tested against guessed keys; keep the salt stable, since the
customer mapping is by hash. ``axonize-gateway --hash-key`` prints a key's hash (read from stdin).

Which customer, in order:

1. the identity header (``--identity.header``), when configured and present, taken as sent
   (the deployment must strip it from untrusted clients);
2. the key's hash, named by ``identity.customers`` (``{hash: customer}``) when listed, else the
   hash itself;
3. no key: ``anonymous``.

With ``require_known``, a request whose key is missing or not listed is refused (:meth:`identify`
returns None and the proxy answers 401), unless the identity header named the customer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

HASH_HEX = 16
"""Hex digits of the hash kept (64 bits): collisions among a million keys have a chance of about 3e-8."""
ANONYMOUS = "anonymous"
MAX_HEADER_CUSTOMER = 64
"""A header's customer name is cut to this many characters."""


@dataclass(frozen=True)
class Identity:
    """``customer``: the name used in metrics and records; ``key_hash``: the key's hash prefix or "" (no key)."""

    customer: str
    key_hash: str
    named: bool


class Identities:
    """Turns request headers into an :class:`Identity`; see the module docstring for the order."""

    def __init__(self, salt: bytes = b"", customers: Mapping[str, str] | None = None, header: str = "", require_known: bool = False):
        self.salt = salt
        self.customers = {h.lower(): n for h, n in (customers or {}).items()}
        self.header = header
        self.require_known = require_known
        self.names = frozenset(self.customers.values())
        self._prefix_len = {len(h) for h in self.customers} or {HASH_HEX}

    def key_hash(self, key: str) -> str:
        """The :data:`HASH_HEX`-digit hex prefix of HMAC-SHA256(salt, key)."""
        return hmac.new(self.salt, key.encode("utf-8"), hashlib.sha256).hexdigest()[:HASH_HEX]

    def _named(self, digest: str) -> str | None:
        for n in self._prefix_len:  # a mapping may list shorter prefixes than HASH_HEX
            name = self.customers.get(digest[:n])
            if name is not None:
                return name
        return None

    def identify(self, headers: Mapping[str, str]) -> Identity | None:
        """The request's identity, or None when ``require_known`` refuses it."""
        digest = ""
        auth = headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() == "bearer" and key.strip():
            digest = self.key_hash(key.strip())
        if self.header:
            value = headers.get(self.header, "").strip()
            if value:
                return Identity(value[:MAX_HEADER_CUSTOMER], digest, True)
        if digest:
            name = self._named(digest)
            if name is not None:
                return Identity(name, digest, True)
            return None if self.require_known else Identity(digest, digest, False)
        return None if self.require_known else Identity(ANONYMOUS, "", False)
