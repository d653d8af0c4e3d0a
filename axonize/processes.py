"""Start and stop the real servers the demo and the tests run beside Axonize.

:class:`ManagedProcess` starts a child that dies with us: on every exit path
(return, exception, Ctrl-C, SIGTERM) :meth:`stop` ends it, and on Linux the
kernel also sends it SIGTERM if this process dies without cleaning up
(``PR_SET_PDEATHSIG``). :class:`PrometheusServer` runs Debian's (or any)
``prometheus`` binary on loopback with temporary storage and queries its HTTP API.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import requests
import yaml

APT_HINT = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class ManagedProcess:
    """A child process with its output in a log file; ``stop()`` is idempotent."""

    def __init__(self, name: str, argv: Sequence[str], log_path: str, env: dict | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            self.argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=_die_with_parent
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                return b"\n".join(fh.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_http(url: str, timeout: float, proc: ManagedProcess | None = None) -> None:
    """Poll ``url`` until it answers 200; raises RuntimeError with the process log on timeout or exit."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.proc.returncode}:\n{proc.log_tail()}")
        try:
            r = requests.get(url, timeout=1)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as exc:
            last = type(exc).__name__
        time.sleep(0.05)
    tail = f"\n{proc.log_tail()}" if proc else ""
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s ({last}){tail}")


def find_binary(name: str) -> str | None:
    return shutil.which(name)


class LoopbackServer:
    """A server binary on 127.0.0.1 with its files in a temporary directory, ready when ``/-/ready`` answers.

    Subclasses set :attr:`name` and give :meth:`argv`; :meth:`start` raises what :func:`wait_http` raises
    (the server stopped first), :meth:`stop` ends it and removes the directory. Use as a context manager.
    """

    name = "server"

    def __init__(self, binary: str, port: int | None = None):
        self.binary = binary
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tempfile.mkdtemp(prefix=f"axonize-{self.name}-")
        self.process: ManagedProcess | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 30.0):
        self.process = ManagedProcess(self.name, self.argv(), os.path.join(self.dir, f"{self.name}.log"))
        try:
            wait_http(f"{self.url}/-/ready", timeout, self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrometheusServer(LoopbackServer):
    """A real Prometheus on 127.0.0.1 with storage in a temporary directory.

    ``scrape_targets``: ``{job: [host:port, ...]}`` scraped every
    ``scrape_interval``; ``rule_files`` loaded as given; alerts sent to ``alertmanagers``
    (``host:port``). Use as a context manager.
    Raises FileNotFoundError (with the apt command) when the binary is missing.
    """

    name = "prometheus"

    def __init__(
        self,
        scrape_targets: dict[str, list[str]],
        scrape_interval: str = "1s",
        rule_files: Sequence[str] = (),
        binary: str | None = None,
        port: int | None = None,
        alertmanagers: Sequence[str] = (),
    ):
        found = binary or find_binary("prometheus")
        if not found:
            raise FileNotFoundError(f"the 'prometheus' binary is not on PATH; install it with: {APT_HINT}")
        super().__init__(found, port)
        config: dict[str, Any] = {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(targets)}]} for job, targets in scrape_targets.items()
            ],
        }
        if rule_files:
            config["rule_files"] = [os.path.abspath(p) for p in rule_files]
        if alertmanagers:
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        with open(self.config_path, "w") as fh:
            yaml.safe_dump(config, fh)

    def argv(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
        ]

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        """Instant query (at Unix time ``at``, default now); returns the ``result`` list of a vector (raises on an error answer)."""
        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        r = requests.get(f"{self.url}/api/v1/query", params=params, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise RuntimeError(f"PromQL {promql!r} failed: {body.get('errorType')}: {body.get('error')}")
        return body["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 30.0, min_results: int = 1) -> list[dict]:
        """Repeat ``query`` until it returns at least ``min_results`` series."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if len(result) >= min_results:
                return result
            if time.monotonic() > deadline:
                raise RuntimeError(f"PromQL {promql!r} returned {len(result)} series after {timeout:.0f}s (wanted {min_results})")
            time.sleep(0.2)
