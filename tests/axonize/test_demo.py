"""`axonize demo --once` prints the 8x H100 table from a real Prometheus and leaves no process behind."""
import re
import subprocess
import sys

import psutil
import pytest

from tests.conftest import require_binary, requires

pytestmark = pytest.mark.integration


def demo_processes():
    """Processes the demo starts, wherever they were reparented: its exporter and its Prometheus."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "demo_data/h100-sxm-x8" in cmd or ("axonize-prometheus-" in cmd and "prometheus" in cmd):
            found.append(p)
    return found


@requires("prometheus")
def test_demo_once_prints_the_table():
    require_binary("prometheus")
    result = subprocess.run([sys.executable, "-m", "axonize.cli", "demo", "--once"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"^\d\s+NVIDIA H100 80GB HBM3", line)]
    assert len(rows) == 8, result.stdout
    assert rows[0].split()[0:1] == ["0"] and "101 W" in rows[0] and "30 C" in rows[0]
    assert "1 MiB / 79.6 GiB" in rows[0]
    assert rows[0].rstrip().endswith("7 x NV18")
    numa = [row.split()[-4] for row in rows]
    assert numa == ["0", "0", "0", "0", "1", "1", "1", "1"]
    assert demo_processes() == []


@requires("prometheus")
def test_demo_stops_everything_on_sigterm():
    require_binary("prometheus")
    proc = subprocess.Popen([sys.executable, "-m", "axonize.cli", "demo"], stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if "Ctrl-C to stop" in line:
                break
        started = [p for p in psutil.Process(proc.pid).children(recursive=True)]
        assert len(started) == 2
        proc.terminate()
        assert proc.wait(20) == 0
        gone, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [] and demo_processes() == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_help_and_unknown_command():
    assert subprocess.run([sys.executable, "-m", "axonize.cli", "--help"], capture_output=True).returncode == 0
    result = subprocess.run([sys.executable, "-m", "axonize.cli", "frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown command" in result.stderr
