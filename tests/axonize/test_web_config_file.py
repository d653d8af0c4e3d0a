"""--web.config.file (exporter-toolkit format): TLS, mTLS, basic auth and headers on the real exporter.

A throwaway CA, server and client certificates are made with ``cryptography``;
the exporter runs as a subprocess and is spoken to by real TLS clients.
"""

import datetime
import ipaddress
import ssl
import sys
import time
from contextlib import contextmanager
from types import SimpleNamespace

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from axonize import web_config_file
from axonize.config import ConfigError
from axonize.processes import ManagedProcess, free_port
from tests.conftest import DEMO_Q, DEMO_TOPO, run_exporter

PASSWORD = "s3cret: with colon"
TLS = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"  # a valid server pair, relative to the config file
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def _issue(cn, issuer=None, *, ca=False, usage=None, san=()):
    """(certificate, key) for ``cn``, signed by ``issuer`` (a pair) or self-signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_cert, issuer_key = issuer or (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                key_cert_sign=ca,
                crl_sign=ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(directory, stem, pair):
    cert, key = pair
    (directory / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{stem}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.crt, server.{crt,key} (127.0.0.1, localhost), client.{crt,key}; rogue.{crt,key} from another CA."""
    d = tmp_path_factory.mktemp("pki")
    ca = _issue("axonize test CA", ca=True)
    other_ca = _issue("someone else's CA", ca=True)
    _write(d, "ca", ca)
    _write(
        d,
        "server",
        _issue(
            "localhost",
            ca,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            san=[x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        ),
    )
    _write(d, "client", _issue("prometheus", ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH))
    _write(d, "rogue", _issue("prometheus", other_ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH))
    return SimpleNamespace(
        dir=d,
        ca=str(d / "ca.crt"),
        client=(str(d / "client.crt"), str(d / "client.key")),
        rogue=(str(d / "rogue.crt"), str(d / "rogue.key")),
    )


@contextmanager
def running_exporter(config, scheme="https", **ready_kwargs):
    """The exporter with ``--web.config.file config``; yields its base URL once /-/ready answers 200."""
    port = free_port()
    proc = ManagedProcess(
        "exporter",
        [
            sys.executable,
            "-m",
            "axonize.exporter",
            "--replay",
            str(DEMO_Q),
            str(DEMO_TOPO),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--web.config.file",
            str(config),
        ],
        str(config) + ".log",
    )
    url = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline, last = time.monotonic() + 30, None
        while True:
            assert proc.alive(), f"exporter exited with {proc.proc.returncode}:\n{proc.log_tail()}"
            try:
                if requests.get(f"{url}/-/ready", timeout=2, **ready_kwargs).status_code == 200:
                    break
            except requests.ConnectionError as exc:
                last = exc
            assert time.monotonic() < deadline, f"{url} not ready in 30s ({last!r}):\n{proc.log_tail()}"
            time.sleep(0.05)
        yield url
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def tls_auth(pki):
    """TLS with basic auth (user alice) and two extra headers; cert paths relative to the config file."""
    config = pki.dir / "web-tls-auth.yml"
    config.write_text(
        TLS + "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n"
        f"basic_auth_users:\n  alice: '{HASH}'\n"
    )
    with running_exporter(config, verify=pki.ca, auth=("alice", PASSWORD)) as url:
        yield url


@pytest.fixture(scope="module")
def mtls(pki):
    config = pki.dir / "web-mtls.yml"
    config.write_text(TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n")
    with running_exporter(config, verify=pki.ca, cert=pki.client) as url:
        yield url


def test_tls_with_the_ca_serves_the_exposition(tls_auth, pki):
    r = requests.get(f"{tls_auth}/metrics", verify=pki.ca, auth=("alice", PASSWORD), timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "axonize_gpu_memory_total_bytes{" in r.text
    assert r.headers["X-Frame-Options"] == "deny" and r.headers["X-Content-Type-Options"] == "nosniff"


def test_a_client_that_does_not_trust_the_ca_fails_the_handshake(tls_auth):
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"{tls_auth}/metrics", auth=("alice", PASSWORD), timeout=5)  # system trust store only


def test_plain_http_to_the_tls_port_fails(tls_auth):
    with pytest.raises(requests.ConnectionError):
        requests.get(tls_auth.replace("https://", "http://") + "/metrics", auth=("alice", PASSWORD), timeout=5)


@pytest.mark.parametrize("path", ["/metrics", "/", "/-/healthy", "/-/ready", "/no-such-page"])
@pytest.mark.parametrize(
    "auth",
    [None, ("alice", "wrong"), ("mallory", PASSWORD), ("alice", PASSWORD + "x"), ("", "")],
    ids=["missing", "wrong-password", "unknown-user", "longer-password", "empty"],
)
def test_every_path_needs_valid_credentials(tls_auth, pki, path, auth):
    r = requests.get(f"{tls_auth}{path}", verify=pki.ca, auth=auth, timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Basic"
    assert r.headers["X-Frame-Options"] == "deny"  # configured headers go on refusals too
    assert "axonize" not in r.text


def test_valid_credentials_open_every_path(tls_auth, pki):
    paths = ("/", "/-/healthy", "/no-such-page")
    answers = {p: requests.get(f"{tls_auth}{p}", verify=pki.ca, auth=("alice", PASSWORD), timeout=5) for p in paths}
    assert [answers[p].status_code for p in paths] == [200, 200, 404]
    assert answers["/no-such-page"].headers["X-Frame-Options"] == "deny"


def test_garbled_authorization_header_is_refused(tls_auth, pki):
    for header in ("Basic !!!not-base64", "Bearer abc", "Basic " + "YWxpY2U=", "Basic"):  # "YWxpY2U=": "alice", no colon
        r = requests.get(f"{tls_auth}/metrics", verify=pki.ca, headers={"Authorization": header}, timeout=5)
        assert r.status_code == 401, header


def test_mtls_accepts_a_client_certificate_from_the_ca(mtls, pki):
    r = requests.get(f"{mtls}/metrics", verify=pki.ca, cert=pki.client, timeout=5)
    assert r.status_code == 200 and "axonize_gpu_info{" in r.text


@pytest.mark.parametrize("cert", [None, "rogue"], ids=["no-client-cert", "cert-from-another-ca"])
def test_mtls_refuses_other_clients(mtls, pki, cert):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{mtls}/metrics", verify=pki.ca, cert=pki.rogue if cert else None, timeout=5)


def test_basic_auth_without_tls(pki):
    config = pki.dir / "web-auth-only.yml"
    config.write_text(f"basic_auth_users:\n  alice: '{HASH}'\n")
    with running_exporter(config, scheme="http", auth=("alice", PASSWORD)) as url:
        assert requests.get(f"{url}/metrics", auth=("alice", PASSWORD), timeout=5).status_code == 200
        assert requests.get(f"{url}/metrics", timeout=5).status_code == 401


@pytest.mark.parametrize(
    "content, message",
    [
        ("basic_auth_user:\n  alice: x\n", "basic_auth_user: unknown key"),
        (TLS.replace("server.crt", "missing.crt"), "tls_server_config.cert_file: no such file 'missing.crt'"),
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice: not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: [unclosed\n", ": not valid YAML"),
    ],
    ids=["unknown-key", "missing-cert", "not-bcrypt", "bad-yaml"],
)
def test_a_bad_file_stops_the_exporter_with_file_and_key(pki, content, message):
    config = pki.dir / "bad.yml"
    config.write_text(content)
    result = run_exporter("--replay", str(DEMO_Q), "--web.listen-address", f"127.0.0.1:{free_port()}", "--web.config.file", str(config))
    assert result.returncode == 2
    assert f"{config}" in result.stderr and message in result.stderr, result.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("tls_server_config:\n  certfile: server.crt\n", "tls_server_config.certfile: unknown key; known keys here: cert_file"),
        ("tls_server_config:\n  client_allowed_sans: [a]\n", "tls_server_config.client_allowed_sans: this exporter-toolkit option is not"),
        ("tls_server_config: yes\n", "tls_server_config: expected a mapping, got bool"),
        ("tls_server_config:\n  cert_file: server.crt\n", "tls_server_config.key_file: required when TLS is configured"),
        (TLS.replace("server.crt", "server.key"), "tls_server_config.cert_file: 'server.key' holds no PEM certificate"),
        (TLS.replace("server.key", "client.key"), "tls_server_config.key_file: 'client.key' does not load with cert_file 'server.crt'"),
        (TLS + "  min_version: TLS14\n", "tls_server_config.min_version: 'TLS14' is not one of TLS10"),
        (TLS + "  min_version: TLS13\n  max_version: TLS12\n", "tls_server_config.min_version: TLS13 is above max_version TLS12"),
        (TLS + "  cipher_suites: [RC4]\n", "tls_server_config.cipher_suites[0]: 'RC4' is not one of"),
        (TLS + "  client_auth_type: RequireAnyClientCert\n", "tls_server_config.client_auth_type: RequireAnyClientCert"),
        (TLS + "  client_auth_type: RequireAndVerifyClientCert\n", "needs client_ca_file"),
        (TLS + "  client_ca_file: ca.crt\n", "tls_server_config.client_ca_file: set, but client_auth_type"),
        ("http_server_config:\n  headers:\n    Server: nginx\n", "http_server_config.headers.Server: this header cannot be configured"),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "headers.X-Frame-Options: 'allow' is not one of deny, sameorigin",
        ),
        ("http_server_config:\n  http2: 'yes'\n", "http_server_config.http2: expected true or false"),
        ("basic_auth_users:\n  alice: 1\n", "basic_auth_users.alice: not a bcrypt hash"),
        (f"basic_auth_users:\n  alice: '{HASH}'\n  alice: '{HASH}'\n", ":3: not valid YAML: duplicate key 'alice'"),
        ("- just a list\n", "top level: expected a mapping, got list"),
    ],
)
def test_load_errors_name_the_file_and_the_key(pki, content, message):
    config = pki.dir / "web.yml"
    config.write_text(content)
    with pytest.raises(ConfigError) as err:
        web_config_file.load(str(config))
    assert str(err.value).startswith(str(config)) and message in str(err.value)


def test_an_empty_file_or_tls_options_without_a_certificate_mean_plain_http(tmp_path):
    for content in ("", "tls_server_config:\n  min_version: TLS13\n"):
        (tmp_path / "web.yml").write_text(content)
        config = web_config_file.load(str(tmp_path / "web.yml"))
        assert config.ssl_context() is None and not config.basic_auth_users and not config.headers


def test_verified_credentials_are_cached_and_failures_always_cost_a_bcrypt(tmp_path, monkeypatch):
    (tmp_path / "web.yml").write_text(f"basic_auth_users:\n  alice: '{HASH}'\n")
    config = web_config_file.load(str(tmp_path / "web.yml"))
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, hashed: calls.append(pw) or real(pw, hashed))

    assert not config.cached_basic_auth("alice", PASSWORD)
    assert config.verify_basic_auth("alice", PASSWORD) and len(calls) == 1
    assert config.cached_basic_auth("alice", PASSWORD)
    assert config.verify_basic_auth("alice", PASSWORD) and len(calls) == 1  # served from the cache
    for user, password in [("alice", "wrong"), ("alice", "wrong"), ("mallory", PASSWORD)]:
        assert not config.verify_basic_auth(user, password)
        assert not config.cached_basic_auth(user, password)
    assert len(calls) == 4  # failures are not cached, and an unknown user costs a (decoy) bcrypt too
    assert not config.verify_basic_auth("alice", "x" * 73)  # bcrypt would compare only 72 bytes


def _handshake(server_ctx, client_ctx):
    """(version, cipher) of an in-memory handshake between the two contexts; raises ssl.SSLError on failure."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    pending = [client, server]
    for _ in range(10):
        for side in list(pending):
            try:
                side.do_handshake()
                pending.remove(side)
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if not pending:
            return client.version(), client.cipher()[0]
    raise AssertionError("handshake did not finish")


def test_versions_and_cipher_suites_are_applied(pki):
    config = pki.dir / "web-ciphers.yml"
    config.write_text(TLS + "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]\n")
    server_ctx = web_config_file.load(str(config)).ssl_context()
    client_ctx = ssl.create_default_context(cafile=pki.ca)
    assert _handshake(server_ctx, client_ctx) == ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(ssl.SSLError):
        _handshake(server_ctx, client_ctx)


@pytest.mark.parametrize(
    "content, message",
    [
        (TLS + "  min_version: TLS14\n", ":4: tls_server_config.min_version: 'TLS14' is not one of TLS10"),
        (TLS.replace("server.crt", "missing.crt"), ":2: tls_server_config.cert_file: no such file 'missing.crt'"),
        (
            "http_server_config:\n  http2: true\n  headers:\n    Server: nginx\n",
            ":4: http_server_config.headers.Server: this header cannot",
        ),
        ("basic_auth_users:\n  alice: x\n  bob: y\n", ":2: basic_auth_users.alice: not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: &c server.crt\n", ":2: not valid YAML: YAML anchors and aliases (&c)"),
    ],
)
def test_errors_name_the_file_line_and_key(pki, content, message):
    config = pki.dir / "web-lines.yml"
    config.write_text(content)
    with pytest.raises(ConfigError) as err:
        web_config_file.load(str(config))
    assert str(err.value).startswith(f"{config}{message}"), str(err.value)


def test_a_binary_web_config_is_named_not_a_traceback(tmp_path):
    config = tmp_path / "web.yml"
    config.write_bytes(b"\x00\x01\x02 not yaml")
    with pytest.raises(ConfigError, match=r"web.yml:1: not a text file: a NUL byte at byte offset 0"):
        web_config_file.load(str(config))
