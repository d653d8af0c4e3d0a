"""Shared test helpers: fixture paths, the shared capture set, real servers on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
NVIDIA = FIXTURES / "nvidia"
DEMO = ROOT / "axonize" / "demo_data"
DEMO_Q = DEMO / "h100-sxm-x8_drv565_nvidia-smi-q.txt"
DEMO_TOPO = DEMO / "h200-x8-hgx_topo-m_nics.txt"
SHARED = ROOT.parent / "shared" / "fixtures"


def requires(name: str):
    """Mark a test that needs a server binary: skipped outside CI when it is missing (CI=true must have it)."""
    return pytest.mark.skipif(
        shutil.which(name) is None and not os.environ.get("CI"),
        reason=f"{name} not on PATH (make test installs it: apt-get install -y --no-install-recommends prometheus prometheus-alertmanager)",
    )


def require_binary(name: str) -> str:
    """Path of a server binary; a test marked with :func:`requires` fails here when CI lacks it."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} not on PATH: make test installs it with apt-get")
    return path


def run_exporter(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "axonize.exporter", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def promtool() -> str:
    return require_binary("promtool")


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    """A real vLLM on the CPU serving the tiny Llama (``devtools.vllm_cpu``), one per test module that asks for it;
    the test fails with the reason when it cannot start (the modules' own marks say when to skip)."""
    from devtools import vllm_cpu

    try:
        venv = vllm_cpu.ensure_venv()
        model = vllm_cpu.build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), venv)
        server = vllm_cpu.VllmServer(model, venv).start()
    except vllm_cpu.VllmCpuError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


def samples(text: str) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` for every sample in an exposition."""
    out: dict[str, dict[tuple, float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name][tuple(sorted(s.labels.items()))] = s.value
    return out


def total(parsed: dict, name: str, **labels: str) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels``; 0 when there are none."""
    return sum(v for key, v in parsed.get(name, {}).items() if set(labels.items()) <= set(key))
