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

The file is read by :mod:`axonize.yaml_file` and its shape checked by the
:class:`WebConfigFile` model (:mod:`axonize.schema`); certificates, keys and
the combination of TLS settings are checked here.

Errors: :class:`axonize.config.ConfigError` naming the file, line and key
(``web.yml:3: tls_server_config.cert_file: no such file 'x.crt'``) for bad YAML,
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
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar

import bcrypt
from pydantic import BeforeValidator, Field

from axonize import schema, yaml_file
from axonize.yaml_file import ConfigError, Loc

DOC = "https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md"

_KEYS = {
    "": {"tls_server_config", "http_server_config", "basic_auth_users"},
    "tls_server_config": {
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "min_version",
        "max_version",
        "cipher_suites",
        "prefer_server_cipher_suites",
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
_HEADERS: dict[str, tuple[str, ...] | None] = {
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

    def __init__(self, source: str, ssl_context: ssl.SSLContext | None, headers: Mapping[str, str], users: Mapping[str, str]):
        self.source = source
        self._ssl_context = ssl_context
        self.headers = dict(headers)
        self.basic_auth_users = {user: hashed.encode() for user, hashed in users.items()}
        # an unknown user is checked against a real hash so that its answer takes as long
        self._decoy = max(self.basic_auth_users.values(), key=lambda h: h[4:6], default=None)
        self._cache_key = os.urandom(32)
        self._verified: set[bytes] = set()
        self._bcrypt_lock = threading.Lock()  # one bcrypt at a time, as exporter-toolkit does

    def ssl_context(self) -> ssl.SSLContext | None:
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


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _string(choices: Mapping[str, Any] | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_kind(value)} {value!r}")
        if choices is not None and value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def _boolean(value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _list(value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {_kind(value)}")
    return value


def _mapping(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise schema.problem(f"key {key!r} is not a string (quote it)", key=key)
    return value


def _headers(value: Any) -> dict[str, str]:
    out = {}
    for name, text in _mapping(value).items():
        if name not in _HEADERS:
            raise schema.problem(f"this header cannot be configured; allowed: {', '.join(_HEADERS)}", key=name)
        try:
            text = _string(dict.fromkeys(_HEADERS[name]) if _HEADERS[name] else None)(text)
        except ValueError as exc:
            raise schema.problem(str(exc), key=name) from None
        if text:  # blank means unset
            out[name] = text
    return out


def _users(value: Any) -> dict[str, str]:
    users = _mapping(value)
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not _BCRYPT.fullmatch(hashed):
            raise schema.problem(
                "not a bcrypt hash like '$2y$10$' followed by 53 characters (make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n')",
                key=user,
            )
    return users


class _Section(schema.Section):
    """A section of the web configuration: exporter-toolkit's messages for unknown and unsupported keys."""

    path: ClassVar[str] = ""

    @classmethod
    def coerce(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise schema.problem(f"expected a mapping, got {_kind(data)}")
        return data

    @classmethod
    def unknown_key(cls, key: str) -> str:
        sub = f"{cls.path}.{key}" if cls.path else key
        if sub in _UNSUPPORTED:
            return f"this exporter-toolkit option is not supported by axonize: {_UNSUPPORTED[sub]}"
        return f"unknown key; known keys here: {', '.join(sorted(cls.keys()))} (format: {DOC})"


_Str = Annotated[str | None, BeforeValidator(_string())]


class TlsServerConfig(_Section):
    """``tls_server_config:``; TLS is on when a certificate, key, client CA or client auth type is set."""

    path: ClassVar[str] = "tls_server_config"

    cert_file: _Str = None
    key_file: _Str = None
    client_auth_type: Annotated[str | None, BeforeValidator(_string({**_CLIENT_AUTH, **_REFUSED_AUTH}))] = None
    client_ca_file: _Str = None
    min_version: Annotated[str | None, BeforeValidator(_string(_TLS_VERSIONS))] = None
    max_version: Annotated[str | None, BeforeValidator(_string(_TLS_VERSIONS))] = None
    cipher_suites: Annotated[tuple[Annotated[str, BeforeValidator(_string(_CIPHERS))], ...], BeforeValidator(_list)] = ()
    prefer_server_cipher_suites: Annotated[bool | None, BeforeValidator(_boolean)] = None


class HttpServerConfig(_Section):
    """``http_server_config:``: ``http2`` (accepted, ignored) and the extra response ``headers``."""

    path: ClassVar[str] = "http_server_config"

    http2: Annotated[bool | None, BeforeValidator(_boolean)] = None
    headers: Annotated[dict[str, str], BeforeValidator(_headers)] = Field(default_factory=dict)


class WebConfigFile(_Section):
    """The whole file (exporter-toolkit's web configuration)."""

    tls_server_config: TlsServerConfig = Field(default_factory=TlsServerConfig)
    http_server_config: HttpServerConfig = Field(default_factory=HttpServerConfig)
    basic_auth_users: Annotated[dict[str, str], BeforeValidator(_users)] = Field(default_factory=dict)


def load(path: str) -> WebConfig:
    """Read and check the web configuration file at ``path``; raises :class:`ConfigError`.

    Certificate and key are loaded here, so a bad pair fails at start-up, not
    at the first scrape.
    """
    doc = yaml_file.read(path)
    return _Parser(doc).parse(schema.validate(WebConfigFile, doc))


class _Parser:
    """What the model cannot check alone: the files exist and load, and the TLS settings fit together."""

    def __init__(self, doc: yaml_file.Document):
        self.doc = doc
        self.path = doc.where
        self.dir = os.path.dirname(os.path.abspath(doc.where))

    def error(self, key: str, problem: str) -> ConfigError:
        loc: Loc = tuple(key.split("."))
        line = self.doc.line(loc)
        return ConfigError(f"{self.path}{f':{line}' if line else ''}: {key or 'top level'}: {problem}")

    def file(self, name: str | None, key: str) -> str | None:
        """A file name, relative ones joined to the config file's directory (exporter-toolkit does the same)."""
        if not name:
            return None
        full = os.path.join(self.dir, name)
        if not os.path.isfile(full):
            where = "" if os.path.isabs(name) else f" (relative paths are read from {self.dir})"
            raise self.error(key, f"no such file {name!r}{where}")
        return full

    def parse(self, model: WebConfigFile) -> WebConfig:
        return WebConfig(self.path, self.tls(model.tls_server_config), model.http_server_config.headers, model.basic_auth_users)

    def tls(self, section: TlsServerConfig) -> ssl.SSLContext | None:
        k = "tls_server_config."
        cert = self.file(section.cert_file, k + "cert_file")
        key = self.file(section.key_file, k + "key_file")
        client_ca = self.file(section.client_ca_file, k + "client_ca_file")
        auth = section.client_auth_type
        low = section.min_version or "TLS12"
        high = section.max_version or "TLS13"
        ciphers = [_CIPHERS[c] for c in section.cipher_suites]
        prefer_server = section.prefer_server_cipher_suites
        if not (cert or key or auth or client_ca):
            return None
        auth = auth or "NoClientCert"
        if not cert or not key:
            raise self.error(k + ("key_file" if cert else "cert_file"), "required when TLS is configured")
        if auth in _REFUSED_AUTH:
            raise self.error(
                k + "client_auth_type",
                f"{auth} (a certificate that is never checked) cannot be "
                "expressed with Python's ssl; use RequireAndVerifyClientCert with client_ca_file",
            )
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
                    raise self.error(k + which, f"{getattr(section, which)!r} holds no PEM {marker[:-5].decode().lower()}")
        try:
            ctx.load_cert_chain(cert, key, password=_no_password)
        except (ssl.SSLError, ValueError) as exc:
            raise self.error(k + "key_file", f"{section.key_file!r} does not load with cert_file {section.cert_file!r}: {exc}") from None
        if client_ca:
            try:
                ctx.load_verify_locations(cafile=client_ca)
            except ssl.SSLError as exc:
                raise self.error(k + "client_ca_file", f"{section.client_ca_file!r} holds no usable CA certificate: {exc}") from None
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
