"""The exporter-toolkit web configuration file (``--web.config.file``): TLS and basic auth.

Format source, shared by the Prometheus exporters:
https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md ::

    tls_server_config:          # TLS is on when any of the first four keys is set
      cert_file: server.crt     # relative paths are read from the config file's directory
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: ca.crt
      min_version: TLS12        # TLS10..TLS13, default TLS12
      max_version: TLS13        # default TLS13
      cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]  # Go/IANA names, TLS <= 1.2 only
      prefer_server_cipher_suites: true
    http_server_config:
      http2: true               # accepted and ignored: aiohttp serves HTTP/1.1 only
      headers: {X-Frame-Options: deny}
    basic_auth_users:
      alice: $2y$10$...         # bcrypt hash, e.g. from: htpasswd -nBC 10 "" | tr -d ':\\n'

Differences from exporter-toolkit: the file is read once at start-up (restart
to pick up a renewed certificate), and the options Python's ``ssl`` cannot
express (inline ``cert``/``key``/``client_ca``, ``client_allowed_sans``,
``curve_preferences``, ``RequireAnyClientCert``) and ``rate_limit`` are refused
with a clear message rather than ignored. ``RequestClientCert`` does not ask
for a certificate: exporter-toolkit asks but never checks it, so clients are
let in either way.

Errors: :class:`axonize.config.ConfigError` naming the file and the key
(``web.yml: tls_server_config.cert_file: no such file 'x.crt'``) for bad YAML,
unknown or duplicate keys, values of the wrong type, a password that is not a
bcrypt hash, and a certificate or key that does not load.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import ssl
import threading
from typing import Any, Mapping, Optional

import bcrypt
import yaml

from axonize.config import ConfigError

DOC = "https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md"

_KEYS = {
    "": {"tls_server_config", "http_server_config", "basic_auth_users"},
    "tls_server_config": {
        "cert_file", "key_file", "client_auth_type", "client_ca_file",
        "min_version", "max_version", "cipher_suites", "prefer_server_cipher_suites",
    },
    "http_server_config": {"http2", "headers"},
}
_UNSUPPORTED = {
    "tls_server_config.cert": "use cert_file (Python's ssl loads certificates from files)",
    "tls_server_config.key": "use key_file (Python's ssl loads keys from files)",
    "tls_server_config.client_ca": "use client_ca_file",
    "tls_server_config.client_allowed_sans": "Python's ssl cannot check client SANs during the handshake",
    "tls_server_config.curve_preferences": "Python's ssl cannot set a curve preference list",
    "rate_limit": "put a reverse proxy in front to rate-limit",
    "auth_excluded_paths": "every path needs credentials here",
}
# client_auth_type -> verify mode. RequestClientCert: exporter-toolkit asks for a
# certificate but never checks it, which lets every client in, as CERT_NONE does.
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_REFUSED_AUTH = dict.fromkeys(("RequireAnyClientCert", "RequireClientCert"))  # the second: Go's old name
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Go's tls.CipherSuites() names -> OpenSSL names; TLS 1.3 suites are fixed by the
# protocol (Go ignores them in cipher_suites too), hence None.
_CIPHERS = {
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# The headers exporter-toolkit lets a file set, with the values it accepts (None: any).
_HEADERS: dict[str, Optional[tuple[str, ...]]] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")


class WebConfig:
    """A loaded web configuration: the TLS context, extra headers and basic-auth users.

    ``source``: the file it was read from. ``headers``: ``{name: value}`` to add
    to every response. ``basic_auth_users``: ``{user: bcrypt hash (bytes)}``;
    when empty no credentials are asked for.
    """

    def __init__(self, source: str, ssl_context: Optional[ssl.SSLContext], headers: Mapping[str, str], users: Mapping[str, str]):
        self.source = source
        self._ssl_context = ssl_context
        self.headers = dict(headers)
        self.basic_auth_users = {user: hashed.encode() for user, hashed in users.items()}
        # an unknown user is checked against a real hash so that its answer takes as long
        self._decoy = max(self.basic_auth_users.values(), key=lambda h: h[4:6], default=None)
        self._cache_key = os.urandom(32)
        self._verified: set[bytes] = set()
        self._bcrypt_lock = threading.Lock()  # one bcrypt at a time, as exporter-toolkit does

    def ssl_context(self) -> Optional[ssl.SSLContext]:
        """The server-side TLS context, or None to serve plain HTTP."""
        return self._ssl_context

    def _key(self, user: str, password: str) -> bytes:
        # keyed with a per-process secret so that no plain or crackable password stays in memory
        login = user.encode()
        return hmac.digest(self._cache_key, b"%d:%s%s" % (len(login), login, password.encode()), hashlib.sha256)

    def cached_basic_auth(self, user: str, password: str) -> bool:
        """True when these credentials were verified before (no bcrypt: cheap enough for the event loop)."""
        return self._key(user, password) in self._verified

    def verify_basic_auth(self, user: str, password: str) -> bool:
        """True when ``password`` matches the user's bcrypt hash; successes are cached.

        On a cache miss this costs one bcrypt (tens of milliseconds at cost 10)
        whether or not the user exists, so timing does not tell them apart.
        Thread-safe; call it off the event loop.
        """
        key = self._key(user, password)
        if key in self._verified:
            return True
        hashed = self.basic_auth_users.get(user)
        if self._decoy is None:
            return False
        with self._bcrypt_lock:
            try:
                ok = bcrypt.checkpw(password.encode(), hashed or self._decoy)
            except ValueError:  # over 72 bytes: bcrypt would only compare a prefix
                ok = False
        if ok and hashed is not None:
            self._verified.add(key)
            return True
        return False


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, as exporter-toolkit's strict YAML does."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def load(path: str) -> WebConfig:
    """Read and check the web configuration file at ``path``; raises :class:`ConfigError`.

    Certificate and key are loaded here, so a bad pair fails at start-up, not
    at the first scrape.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_StrictLoader)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    return _Parser(path).parse(data)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key or 'top level'}: {problem}")

    def mapping(self, value: Any, key: str) -> dict:
        """A mapping with string keys (None reads as empty); keys checked against _KEYS when listed."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {_kind(value)}")
        known = _KEYS.get(key)
        for k in value:
            sub = f"{key}.{k}" if key else str(k)
            if not isinstance(k, str):
                raise self.error(sub, f"key {k!r} is not a string (quote it)")
            if known is not None and k not in known:
                if sub in _UNSUPPORTED:
                    raise self.error(sub, f"this exporter-toolkit option is not supported by axonize: {_UNSUPPORTED[sub]}")
                raise self.error(sub, f"unknown key; known keys here: {', '.join(sorted(known))} (format: {DOC})")
        return value

    def string(self, value: Any, key: str, choices: Optional[Mapping[str, Any]] = None) -> Optional[str]:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)} {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def boolean(self, value: Any, key: str) -> Optional[bool]:
        if value is not None and not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def file(self, value: Any, key: str) -> Optional[str]:
        """A file name, relative ones joined to the config file's directory (exporter-toolkit does the same)."""
        name = self.string(value, key)
        if not name:
            return None
        full = os.path.join(self.dir, name)
        if not os.path.isfile(full):
            where = "" if os.path.isabs(name) else f" (relative paths are read from {self.dir})"
            raise self.error(key, f"no such file {name!r}{where}")
        return full

    def parse(self, data: Any) -> WebConfig:
        top = self.mapping(data, "")
        return WebConfig(
            self.path,
            self.tls(self.mapping(top.get("tls_server_config"), "tls_server_config")),
            self.headers(self.mapping(top.get("http_server_config"), "http_server_config")),
            self.users(self.mapping(top.get("basic_auth_users"), "basic_auth_users")),
        )

    def headers(self, section: dict) -> dict[str, str]:
        self.boolean(section.get("http2"), "http_server_config.http2")  # aiohttp has no HTTP/2: ignored
        out = {}
        for name, value in self.mapping(section.get("headers"), "http_server_config.headers").items():
            key = f"http_server_config.headers.{name}"
            if name not in _HEADERS:
                raise self.error(key, f"this header cannot be configured; allowed: {', '.join(_HEADERS)}")
            value = self.string(value, key, dict.fromkeys(_HEADERS[name]) if _HEADERS[name] else None)
            if value:  # blank means unset
                out[name] = value
        return out

    def users(self, section: dict) -> dict[str, str]:
        for user, hashed in section.items():
            if not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
                raise self.error(
                    f"basic_auth_users.{user}",
                    "not a bcrypt hash like '$2y$10$' followed by 53 characters (make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')",
                )
        return section

    def tls(self, section: dict) -> Optional[ssl.SSLContext]:
        k = "tls_server_config."
        cert = self.file(section.get("cert_file"), k + "cert_file")
        key = self.file(section.get("key_file"), k + "key_file")
        client_ca = self.file(section.get("client_ca_file"), k + "client_ca_file")
        auth = self.string(section.get("client_auth_type"), k + "client_auth_type", {**_CLIENT_AUTH, **_REFUSED_AUTH})
        low = self.string(section.get("min_version"), k + "min_version", _TLS_VERSIONS) or "TLS12"
        high = self.string(section.get("max_version"), k + "max_version", _TLS_VERSIONS) or "TLS13"
        ciphers = section.get("cipher_suites") or []
        if not isinstance(ciphers, list):
            raise self.error(k + "cipher_suites", f"expected a list, got {_kind(ciphers)}")
        ciphers = [_CIPHERS[self.string(c, k + "cipher_suites", _CIPHERS)] for c in ciphers]
        prefer_server = self.boolean(section.get("prefer_server_cipher_suites"), k + "prefer_server_cipher_suites")
        if not (cert or key or auth or client_ca):
            return None
        auth = auth or "NoClientCert"
        if not cert or not key:
            raise self.error(k + ("key_file" if cert else "cert_file"), "required when TLS is configured")
        if auth in _REFUSED_AUTH:
            raise self.error(k + "client_auth_type", f"{auth} (a certificate that is never checked) cannot be "
                             "expressed with Python's ssl; use RequireAndVerifyClientCert with client_ca_file")
        if client_ca and auth == "NoClientCert":
            raise self.error(k + "client_ca_file", "set, but client_auth_type does not ask for client certificates")
        if _CLIENT_AUTH[auth] != ssl.CERT_NONE and not client_ca:
            raise self.error(k + "client_auth_type", f"{auth} needs client_ca_file to verify client certificates with")
        if _TLS_VERSIONS[low] > _TLS_VERSIONS[high]:
            raise self.error(k + "min_version", f"{low} is above max_version {high}")

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version, ctx.maximum_version = _TLS_VERSIONS[low], _TLS_VERSIONS[high]
        for which, file, marker in (("cert_file", cert, b"CERTIFICATE-----"), ("key_file", key, b"PRIVATE KEY-----")):
            with open(file, "rb") as fh:
                if marker not in fh.read():
                    raise self.error(k + which, f"{section[which]!r} holds no PEM {marker[:-5].decode().lower()}")
        try:
            ctx.load_cert_chain(cert, key, password=_no_password)
        except (ssl.SSLError, ValueError) as exc:
            raise self.error(k + "key_file", f"{section['key_file']!r} does not load with cert_file {section['cert_file']!r}: {exc}") from None
        if client_ca:
            try:
                ctx.load_verify_locations(cafile=client_ca)
            except ssl.SSLError as exc:
                raise self.error(k + "client_ca_file", f"{section['client_ca_file']!r} holds no usable CA certificate: {exc}") from None
        ctx.verify_mode = _CLIENT_AUTH[auth]
        if any(ciphers):
            try:
                ctx.set_ciphers(":".join(c for c in ciphers if c))
            except ssl.SSLError as exc:
                raise self.error(k + "cipher_suites", f"not available in this OpenSSL ({ssl.OPENSSL_VERSION}): {exc}") from None
        if prefer_server is False:
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        return ctx


def _no_password() -> bytes:
    raise ValueError("the key is encrypted; exporter-toolkit has no passphrase setting either, store it unencrypted")
