"""axonize.http: the serving path holds against slow clients, bad addresses, odd paths and a stuck first collection.

Servers run as subprocesses (so their open-files limit can be lowered) and are
spoken to over real sockets on 127.0.0.1; the loop they serve is a stand-in whose
``start()`` can block, raise, or publish a fixed body.
"""

import asyncio
import errno
import gzip
import ipaddress
import json
import logging
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from axonize.http import Exposition, make_app
from axonize.http_encoding import accepted_codings, wants_gzip
from axonize.http_limits import LoopErrorLog
from axonize.http_listen import bind_error_reason
from axonize.processes import free_port
from tests.axonize import test_web_config_file as web_config_tests
from tests.conftest import DEMO_Q, DEMO_TOPO, ROOT, run_exporter

BODY = "# HELP up test\n# TYPE up gauge\nup 1\n" * 50

SERVER = r"""
import json, logging, resource, sys, time
cfg = json.loads(sys.argv[1])
if cfg.get("nofile"):
    resource.setrlimit(resource.RLIMIT_NOFILE, tuple(cfg["nofile"]))
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
from axonize import http, http_limits
for name, value in cfg.get("limits", {}).items():
    setattr(http_limits, name, value)

class Loop:
    def start(self):
        time.sleep(cfg.get("start_blocks", 0))
        if cfg.get("start_raises"):
            raise RuntimeError(cfg["start_raises"])
        exposition.publish(cfg["body"].encode() * cfg.get("body_repeat", 1))
    def stop(self):
        pass
    def health(self):
        if cfg.get("health_raises"):
            raise RuntimeError(cfg["health_raises"])
        return (True, "OK") if exposition.ready.is_set() else (False, "no successful collection yet")

exposition = http.Exposition()
settings = {"web_listen_address": ("127.0.0.1", cfg["port"]), "web_telemetry_path": cfg.get("path", "/metrics")}
web_config = None
if cfg.get("web_config"):
    from axonize import web_config_file
    web_config = web_config_file.load(cfg["web_config"])
sys.exit(http.serve_loop("axonize-test", "Test", exposition, Loop(), settings, web_config))
"""


@contextmanager
def server(tmp_path, **cfg):
    """A running serve_loop on 127.0.0.1: yields (base url, port, process, stderr path); bound within 10 s or fails."""
    port = cfg.setdefault("port", free_port())
    cfg.setdefault("body", BODY)
    err = tmp_path / f"server-{port}.err"
    with open(err, "wb") as sink:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, json.dumps(cfg)], cwd=ROOT, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, f"server exited {proc.returncode}: {err.read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"port {port} never bound: {err.read_text()}"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", port, proc, err
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def scrape_within(url, seconds, **kwargs):
    """The first successful response from ``url`` within ``seconds`` (each try times out after 2 s)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return requests.get(url, timeout=2, **kwargs)
        except requests.RequestException:
            assert time.monotonic() < deadline, f"no answer from {url} within {seconds} s"
            time.sleep(0.1)


def is_closed(sock, within):
    """True when the server closes ``sock`` (EOF or reset) within ``within`` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def open_idle(port, n, partial=b"GET /metrics HTTP/1.1\r\nHost: x\r\n"):
    """``n`` connections that sent the start of a request and never finish the headers (those refused are left out)."""
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(partial)
            socks.append(s)
        except OSError:
            pass
    return socks


@pytest.fixture
def many_files():
    """Lets this test process hold a few thousand sockets (soft open-files limit raised to the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2500:
        pytest.skip(f"hard open-files limit {hard} is too low for this test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- 1. slow clients, connection cap, accept errors ------------------------------------


def test_idle_clients_beyond_the_open_files_limit_do_not_block_scrapes(tmp_path, many_files):
    """1,100 clients that never finish their headers, at a 1,024 open-files limit: a scrape still answers at once."""
    with server(tmp_path, nofile=[1024, 1024]) as (url, port, proc, err):
        socks = open_idle(port, 1100)
        try:
            assert len(socks) > 1024
            started = time.monotonic()
            r = scrape_within(f"{url}/metrics", 10)
            assert r.status_code == 200 and r.text == BODY
            assert time.monotonic() - started < 3, "the scrape waited for the slow clients to go"
            assert requests.get(f"{url}/-/healthy", timeout=2).status_code == 200
        finally:
            for s in socks:
                s.close()
    assert err.stat().st_size < 4000, err.read_text()[:2000]
    assert "Traceback" not in err.read_text()


def test_a_client_that_never_finishes_its_headers_is_dropped(tmp_path):
    with server(tmp_path, limits={"HEADER_TIMEOUT_SECONDS": 1.0}) as (url, port, proc, err):
        silent = socket.create_connection(("127.0.0.1", port))
        (slow,) = open_idle(port, 1)
        started = time.monotonic()
        assert is_closed(slow, 5) and is_closed(silent, 5)
        assert time.monotonic() - started < 3
        # a whole request, sent slowly but within the deadline, is served
        with socket.create_connection(("127.0.0.1", port)) as ok:
            for part in (b"GET /-/ready HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n"):
                ok.sendall(part)
                time.sleep(0.2)
            ok.settimeout(5)
            assert ok.recv(100).startswith(b"HTTP/1.1 200")
        # the next request on a kept-alive connection has the same deadline
        with socket.create_connection(("127.0.0.1", port), timeout=5) as kept:
            kept.sendall(b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n")
            assert kept.recv(1000).startswith(b"HTTP/1.1 200")
            kept.sendall(b"GET /-/ready HTTP/1.1\r\n")
            started = time.monotonic()
            assert is_closed(kept, 5) and time.monotonic() - started < 3
        silent.close()
        slow.close()


def test_a_tls_client_that_never_completes_the_handshake_is_dropped(tmp_path):
    ca = web_config_tests._issue("axonize test CA", ca=True)
    web_config_tests._write(tmp_path, "ca", ca)
    web_config_tests._write(
        tmp_path,
        "server",
        web_config_tests._issue(
            "localhost", ca, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], usage=ExtendedKeyUsageOID.SERVER_AUTH
        ),
    )
    config = tmp_path / "web.yml"
    config.write_text(web_config_tests.TLS)
    with server(tmp_path, web_config=str(config), limits={"HEADER_TIMEOUT_SECONDS": 1.0}) as (url, port, proc, err):
        silent = socket.create_connection(("127.0.0.1", port))
        started = time.monotonic()
        assert is_closed(silent, 5) and time.monotonic() - started < 3
        r = requests.get(f"https://127.0.0.1:{port}/-/healthy", verify=str(tmp_path / "ca.crt"), timeout=5)
        assert r.status_code == 200
        silent.close()


def request(port, path="/-/ready"):
    """A kept-alive connection that has had one complete request answered."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert s.recv(1000).startswith(b"HTTP/1.1 200")
    return s


CAP = {"MAX_CONNECTIONS": 4, "FD_RESERVE": 0}


def test_at_the_cap_the_oldest_connection_waiting_for_headers_makes_room(tmp_path):
    with server(tmp_path, limits=CAP) as (url, port, proc, err):
        idle = open_idle(port, 4)
        newcomer = request(port)  # served at once
        assert is_closed(idle[0], 3), "the oldest waiting connection was not dropped at the cap"
        assert not any(is_closed(s, 0.1) for s in idle[1:])
        for s in idle + [newcomer]:
            s.close()


def test_at_the_cap_the_longest_idle_kept_alive_connection_makes_room(tmp_path):
    with server(tmp_path, limits=CAP) as (url, port, proc, err):
        kept = [request(port) for _ in range(4)]
        newcomer = request(port)
        assert is_closed(kept[0], 3), "the longest-idle kept-alive connection was not dropped at the cap"
        kept[1].sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept[1].recv(1000).startswith(b"HTTP/1.1 200")
        for s in kept + [newcomer]:
            s.close()


def test_at_the_cap_with_every_connection_busy_a_new_one_is_closed_at_once(tmp_path):
    """Four clients that asked for a 40 MB exposition and do not read it are busy; a fifth connection is closed."""
    with server(tmp_path, limits=CAP, body_repeat=40 * 2**20 // len(BODY)) as (url, port, proc, err):
        scrape_within(f"{url}/-/healthy", 5)
        deadline = time.monotonic() + 10
        while requests.get(f"{url}/-/ready", timeout=2).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        busy = []
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            busy.append(s)
        time.sleep(0.5)  # the responses fill the socket buffers; the handlers wait to write the rest
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert is_closed(extra, 3), "a connection beyond the cap was not closed"
        for s in busy:
            assert s.recv(15) == b"HTTP/1.1 200 OK"  # still being served
            s.close()
        extra.close()


def test_accept_failures_are_logged_once_per_interval_without_tracebacks(tmp_path, many_files):
    """With the cap above the open-files limit, accept() fails with EMFILE: one log line, and scrapes resume."""
    limits = {"MAX_CONNECTIONS": 10_000, "FD_RESERVE": 0, "ERROR_LOG_INTERVAL_SECONDS": 600.0}
    with server(tmp_path, nofile=[64, 64], limits=limits) as (url, port, proc, err):
        socks = open_idle(port, 120)
        time.sleep(1.5)  # asyncio retries accept every second
        for s in socks:
            s.close()
        assert scrape_within(f"{url}/metrics", 10).status_code == 200
    text = err.read_text()
    assert text.count("cannot accept connections: [Errno 24]") == 1, text[:2000]
    assert "Traceback" not in text and len(text) < 4000


def test_loop_error_log_keeps_one_line_per_interval(caplog):
    handler = LoopErrorLog(interval=60)
    loop = object()
    with caplog.at_level(logging.ERROR, logger="axonize.http"):
        for _ in range(1000):
            handler(loop, {"message": "socket.accept() out of system resource", "exception": OSError(errno.EMFILE, "Too many open files")})
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None


def test_accept_retry_on_a_closed_listener_is_not_an_error(caplog):
    """asyncio retries accept() a second after EMFILE; a server closed in that second makes the retry raise on fd -1."""
    handler = LoopErrorLog(interval=60)
    loop = asyncio.new_event_loop()
    retry = "Exception in callback BaseSelectorEventLoop._start_serving(<Server sockets=()>, 128, None, None)"
    try:
        with caplog.at_level(logging.ERROR):
            handler(loop, {"message": retry, "exception": ValueError("Invalid file descriptor: -1")})
            handler(loop, {"message": retry, "exception": OSError(errno.EBADF, "Bad file descriptor")})
            assert caplog.records == []
            # the same exception from any other callback is still an error
            handler(loop, {"message": "Exception in callback something_else()", "exception": ValueError("Invalid file descriptor: -1")})
    finally:
        loop.close()
    assert len(caplog.records) == 1 and "something_else" in caplog.records[0].getMessage()


def test_open_files_soft_limit_is_raised_to_the_hard_limit():
    code = (
        "import resource, logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(message)s')\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "hard = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "from axonize.http_limits import raise_open_files_limit\n"
        "in_force, line = raise_open_files_limit()\n"
        "print(line); print(in_force == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    assert out.splitlines()[0].startswith("open files limit: raised from 256 to the hard limit"), out
    assert out.splitlines()[-1] == "True"


# -- 2. the listen address -------------------------------------------------------------


def _one_line_failure(result, *needles):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--web.listen-address" in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_port_in_use_is_one_line_naming_the_flag():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_exporter("--replay", str(DEMO_Q), str(DEMO_TOPO), "--web.listen-address", f"127.0.0.1:{port}", timeout=30)
    _one_line_failure(result, f"127.0.0.1:{port}", "already in use")


def test_an_address_not_on_this_host_is_one_line_naming_the_flag():
    result = run_exporter("--replay", str(DEMO_Q), str(DEMO_TOPO), "--web.listen-address", "192.0.2.1:9947", timeout=30)
    _one_line_failure(result, "192.0.2.1 is not an address of this host")


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0, reason="root may bind any port")
def test_a_privileged_port_as_non_root_is_one_line_naming_the_flag():
    result = run_exporter("--replay", str(DEMO_Q), str(DEMO_TOPO), "--web.listen-address", "127.0.0.1:80", timeout=30)
    if result.returncode == 0 or "in use" in result.stderr:  # unprivileged port floor lowered on this host
        pytest.skip("this host lets unprivileged processes bind port 80")
    _one_line_failure(result, "permission denied")


def test_a_malformed_listen_address_exits_2_naming_the_flag():
    result = run_exporter("--replay", str(DEMO_Q), str(DEMO_TOPO), "--web.listen-address", "localhost:http", timeout=30)
    assert result.returncode == 2 and "listen" in result.stderr and "Traceback" not in result.stderr


def test_bind_error_reasons():
    assert "cannot resolve host 'nowhere.invalid'" in bind_error_reason(
        socket.gaierror(-2, "Name or service not known"), "nowhere.invalid", 9947
    )
    assert bind_error_reason(OSError(errno.EACCES, "Permission denied"), "::", 80) == (
        "cannot listen on [::]:80: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    )


# -- 3. Accept-Encoding ----------------------------------------------------------------


@pytest.mark.parametrize(
    "header, gzip_coded",
    [
        (None, False),
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("gzip, deflate, br", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("deflate, gzip;q=0", False),
        ("gzip;q=0.5, identity", False),
        ("identity;q=0.4, gzip;q=0.5", True),
        ("*", True),
        ("*;q=0", False),
        ("*;q=0, gzip", True),
        ("*, gzip;q=0", False),
        ("identity;q=0", False),
        ("br", False),
        ("gzip;q=2", False),  # malformed weight: the element is ignored
        ("gzip;q=abc, *", True),
        ("gzipx", False),
    ],
)
def test_accept_encoding_honours_q_values(header, gzip_coded):
    assert wants_gzip(header) is gzip_coded


def test_accept_encoding_parser():
    assert accepted_codings(" GZIP ;Q=0.8 ,, br, identity;q=1.0, gzip;q=0.1") == {"gzip": 0.8, "br": 1.0, "identity": 1.0}


def test_metrics_negotiates_gzip_and_always_varies(tmp_path):
    with server(tmp_path) as (url, port, proc, err):
        scrape_within(f"{url}/-/ready", 5)
        deadline = time.monotonic() + 5
        while requests.get(f"{url}/-/ready", timeout=2).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for header, coded in (("gzip", True), ("gzip;q=0", False), ("gzip;q=0, identity", False), ("identity", False)):
            raw = requests.get(f"{url}/metrics", headers={"Accept-Encoding": header}, stream=True, timeout=2).raw
            assert raw.headers["Vary"] == "Accept-Encoding"
            assert raw.headers.get("Content-Encoding") == ("gzip" if coded else None), header
            body = raw.read()
            assert (gzip.decompress(body) if coded else body) == BODY.encode()


# -- 4. the telemetry path is literal --------------------------------------------------


def test_the_telemetry_path_is_matched_literally(tmp_path):
    with server(tmp_path, path="/{x}") as (url, port, proc, err):
        r = scrape_within(f"{url}/-/ready", 5)
        deadline = time.monotonic() + 5
        while r.status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
            r = requests.get(f"{url}/-/ready", timeout=2)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /{x} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 200")
        assert requests.get(f"{url}/%7Bx%7D", timeout=2).text == BODY
        assert requests.get(f"{url}/anything", timeout=2).status_code == 404
        assert requests.get(f"{url}/x", timeout=2).status_code == 404
        assert 'href="/{x}"' in requests.get(f"{url}/", timeout=2).text


@pytest.mark.parametrize("path", ["metrics", "/a b", "/tab\there", "/m?x=1", "/m#frag", "/a%20b", "/", "/-/healthy", "/-/ready", ""])
def test_bad_telemetry_paths_are_refused(path):
    with pytest.raises(ValueError):
        make_app(Exposition(), path, lambda: (True, "OK"), "t")


def test_a_bad_telemetry_path_exits_2_naming_the_flag():
    result = run_exporter(
        "--replay", str(DEMO_Q), str(DEMO_TOPO), "--web.telemetry-path", "/a b", "--web.listen-address", "127.0.0.1:0", timeout=30
    )
    assert result.returncode == 2 and "--web.telemetry-path" in result.stderr and "Traceback" not in result.stderr


# -- 5. bind first, collect second -----------------------------------------------------


def test_a_first_collection_that_blocks_leaves_the_port_bound_and_answering(tmp_path):
    with server(tmp_path, start_blocks=600) as (url, port, proc, err):
        healthy = scrape_within(f"{url}/-/healthy", 5)
        assert (healthy.status_code, healthy.text) == (503, "no successful collection yet\n")
        metrics = requests.get(f"{url}/metrics", timeout=2)
        assert (metrics.status_code, metrics.text) == (503, "no collection has finished yet\n")
        assert requests.get(f"{url}/-/ready", timeout=2).status_code == 503
        assert "Metrics" in requests.get(f"{url}/", timeout=2).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0  # the blocked start() does not hold up the exit
    assert "exiting while loop.start() has not returned" in err.read_text()


def test_the_exposition_is_served_once_the_first_collection_publishes(tmp_path):
    with server(tmp_path, start_blocks=1) as (url, port, proc, err):
        assert requests.get(f"{url}/metrics", timeout=2).status_code == 503
        deadline = time.monotonic() + 10
        while (r := requests.get(f"{url}/metrics", timeout=2)).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert r.text == BODY and requests.get(f"{url}/-/ready", timeout=2).status_code == 200


def test_a_start_that_raises_exits_1_with_one_line(tmp_path):
    port = free_port()
    cfg = {"port": port, "body": BODY, "start_raises": "no GPU today"}
    result = subprocess.run([sys.executable, "-c", SERVER, json.dumps(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "axonize-test: collection could not start: RuntimeError: no GPU today" in result.stderr
    assert "Traceback" not in result.stderr


# -- 6. health -------------------------------------------------------------------------


def test_a_health_check_that_raises_answers_503_with_the_reason(tmp_path):
    with server(tmp_path, health_raises="nvml wedged") as (url, port, proc, err):
        r = scrape_within(f"{url}/-/healthy", 5)
        assert (r.status_code, r.text) == (503, "health check failed: RuntimeError: nvml wedged\n")
    assert "Traceback" not in err.read_text()


# -- 6. renderings are made on the first scrape, once ------------------------------------


class SlowRender:
    """A render function that counts its calls and takes long enough for scrapes to overlap it."""

    def __init__(self, body: bytes, seconds: float = 0.2):
        self.body, self.seconds, self.calls = body, seconds, 0

    def __call__(self) -> bytes:
        self.calls += 1
        time.sleep(self.seconds)
        return self.body


def test_a_published_rendering_is_made_on_the_first_scrape_once_for_concurrent_scrapes():
    exposition = Exposition()
    render = SlowRender(BODY.encode())
    exposition.publish_rendering(render)
    assert exposition.ready.is_set() and render.calls == 0 and exposition.latest.ready(False) is None

    async def scrape_together():
        app = make_app(exposition, "/metrics", lambda: (True, "OK"), "test")
        async with TestClient(TestServer(app)) as client:

            async def one(i):
                headers = {"Accept-Encoding": "gzip" if i % 2 else "identity"}
                async with client.get("/metrics", headers=headers, auto_decompress=False) as resp:
                    assert resp.status == 200
                    body = await resp.read()
                    return gzip.decompress(body) if i % 2 else body

            first = await asyncio.gather(*(one(i) for i in range(20)))  # all arrive before the render ends
            healthy = await client.get("/-/healthy")  # the event loop was free meanwhile
            assert healthy.status == 200
            return first + [await one(i) for i in range(2)]

    bodies = asyncio.run(scrape_together())
    assert set(bodies) == {BODY.encode()} and render.calls == 1


def test_concurrent_threads_asking_a_rendering_get_one_render_and_one_gzip():
    render = SlowRender(BODY.encode(), 0.1)
    exposition = Exposition()
    exposition.publish_rendering(render)
    latest = exposition.latest
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(latest.gzipped if i % 2 else latest.body)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert render.calls == 1
    assert {r for r in results if r != BODY.encode()} == {latest.gzipped}  # one gzip object for every gzip reader
    assert gzip.decompress(latest.gzipped) == BODY.encode() and latest.ready(True) is latest.gzipped


def test_a_scrape_sees_the_rendering_it_started_with_when_a_new_one_is_published():
    exposition = Exposition()
    exposition.publish_rendering(SlowRender(b"old 1\n", 0.3))

    async def scrape_while_publishing():
        app = make_app(exposition, "/metrics", lambda: (True, "OK"), "test")
        async with TestClient(TestServer(app)) as client:
            pending = asyncio.ensure_future(client.get("/metrics", headers={"Accept-Encoding": "gzip"}))
            await asyncio.sleep(0.1)  # the old rendering is being made
            exposition.publish_rendering(lambda: b"new 1\n")
            old = await pending
            new = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
            return await old.read(), await new.read()

    assert asyncio.run(scrape_while_publishing()) == (b"old 1\n", b"new 1\n")


def test_publish_bytes_serves_them_at_once():  # the sidecar's way
    exposition = Exposition()
    exposition.publish(b"up 1\n")
    assert exposition.latest.ready(False) == b"up 1\n" and exposition.latest.ready(True) is None
    assert gzip.decompress(exposition.latest.gzipped) == b"up 1\n"
