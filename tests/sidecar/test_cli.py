"""The installed ``axonize-sidecar`` command end to end: real engines on loopback, promtool on its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from axonize.processes import free_port, wait_http
from tests.conftest import FIXTURES, requires
from tests.sidecar.servers import FakeEngines

INFERENCE = FIXTURES / "inference"
UUID = "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"


def sidecar_command() -> str:
    path = Path(sys.executable).parent / "axonize-sidecar"
    if not path.exists():
        pytest.fail(f"{path} is missing: install the package (pip install -e .) to create the console script")
    return str(path)


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sidecar_command(), *args], capture_output=True, text=True, timeout=timeout)


def values(text: str, name: str) -> dict[str, float]:
    """``{server: value}`` of the samples called ``name``."""
    return {s.labels["server"]: s.value for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name}


@pytest.fixture
def engines():
    with FakeEngines() as e:
        for name, path in (
            ("vllm-0.33.0-v1-dp2-multiproc.synthetic.prom", "/vllm"),
            ("tgi-3.3.7-v3.synthetic.prom", "/tgi"),
            ("sglang-docs-example.prom", "/sglang"),
            ("triton-trtllm.synthetic.prom", "/triton"),
            ("llamacpp-server.synthetic.prom", "/llamacpp"),
            ("triton-docs-examples.partial.txt", "/malformed"),
        ):
            e.serve(path, (INFERENCE / name).read_text())
        e.serve("/error", "internal error\n", status=500)
        yield e


@pytest.mark.integration
@requires("promtool")
def test_print_reads_every_engine_and_promtool_accepts_the_output(engines, promtool, tmp_path):
    config = tmp_path / "sidecar.yml"
    config.write_text(
        "targets:\n"
        f"  - {engines.url('/vllm')}\n"
        f"  - {{url: '{engines.url('/tgi')}', server: tgi, model: bigscience/bloom-560m, gpus: [{UUID}]}}\n"
        f"  - {{url: '{engines.url('/sglang')}', server: sglang}}\n"
        f"  - {{url: '{engines.url('/triton')}', server: triton}}\n"
        f"  - {{url: '{engines.url('/llamacpp')}#llamacpp', server: llama}}\n"
        f"  - {{url: '{engines.url('/malformed')}', server: malformed}}\n"
        f"  - {{url: '{engines.url('/error')}', server: error}}\n"
        "collect: {timeout: 2s}\n"
    )
    result = run("--config", str(config), "--print")
    assert result.returncode == 0, result.stderr
    up = values(result.stdout, "axonize_inference_target_up")
    vllm = f"127.0.0.1:{engines.port}"
    assert up == {vllm: 1, "tgi": 1, "sglang": 1, "triton": 1, "llama": 1, "malformed": 0, "error": 0}
    assert "malformed (" in result.stderr and "line 3:" in result.stderr and "HTTP 500" in result.stderr
    tokens = values(result.stdout, "axonize_inference_generation_tokens_total")
    assert tokens["tgi"] == 36795 and tokens["sglang"] == 7557572 and tokens["llama"] == 7801
    assert "triton" not in tokens, "Triton has no token counters: absent, not 0"
    assert 'axonize_inference_server_gpu_info{model="bigscience/bloom-560m",server="tgi",uuid="' + UUID + '"} 1.0' in result.stdout
    check = subprocess.run([promtool, "check", "metrics"], input=result.stdout, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_print_exits_1_when_no_target_can_be_read(engines):
    result = run("--target", engines.url("/error"), "--target", f"http://127.0.0.1:{free_port()}", "--print")
    assert result.returncode == 1
    assert "axonize_inference_target_up" in result.stdout and "HTTP 500" in result.stderr and "Cannot connect" in result.stderr


def test_bad_configuration_exits_2_naming_the_key(tmp_path):
    config = tmp_path / "sidecar.yml"
    config.write_text("targets:\n  - {url: 'http://a:1', engine: vlm}\n")
    result = run("--config", str(config), "--print")
    assert result.returncode == 2 and result.stdout == ""
    assert f"{config}:2: targets[0].engine: engine 'vlm' is not one of" in result.stderr
    config.write_text("targets: ['http://a:1']\nattribution: {source: nvml}\n")
    result = run("--config", str(config), "--print")
    assert result.returncode == 2 and "attribution" in result.stderr and "'processes' or 'config'" in result.stderr, result.stderr


@pytest.mark.integration
@requires("promtool")
def test_the_server_serves_the_last_collection_with_the_exporter_endpoints(engines, promtool, tmp_path):
    config = tmp_path / "sidecar.yml"
    config.write_text(
        f"targets:\n  - {{url: '{engines.url('/vllm')}', server: vllm}}\n"
        f"  - {{url: '{engines.url('/tgi')}', engine: tgi, server: tgi}}\n"
        f"  - {{url: '{engines.url('/error')}', server: error}}\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sidecar_command(),
            "--config",
            str(config),
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--collect.interval",
            "300ms",
            "--collect.timeout",
            "300ms",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/-/ready", 30)
        hits = engines.hits.get("/vllm", 0)
        body = requests.get(f"{base}/metrics", timeout=5)
        assert body.status_code == 200 and body.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert engines.hits.get("/vllm", 0) - hits <= 1, "a scrape of the sidecar does not scrape the engines"
        assert values(body.text, "axonize_inference_target_up") == {"vllm": 1, "tgi": 1, "error": 0}
        ttft = {
            (s.labels["server"], s.labels.get("engine_index"))
            for fam in text_string_to_metric_families(body.text)
            for s in fam.samples
            if s.name == "axonize_inference_time_to_first_token_seconds_count"
        }
        assert ttft == {("vllm", "0"), ("vllm", "1")}, "two vLLM engine cores; TGI has no time to first token"
        assert requests.get(f"{base}/-/healthy", timeout=5).text == "OK\n"
        assert "Metrics" in requests.get(f"{base}/", timeout=5).text
        check = subprocess.run([promtool, "check", "metrics"], input=body.text, capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0]
    assert proc.returncode == 0, output
    assert "error" in output and "HTTP 500" in output, "the failing target is logged"


@pytest.mark.parametrize("option", ["--config", "--web.config.file"])
def test_a_binary_file_exits_2_naming_it(tmp_path, option):
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(range(256)))
    result = run("--target", "http://127.0.0.1:1", "--print", option, str(binary), timeout=30)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert f"axonize-sidecar: {binary}:1: not a text file: a NUL byte at byte offset 5" in result.stderr
    result = run("--target", "http://127.0.0.1:1", "--print", option, "/dev/zero", timeout=30)
    assert result.returncode == 2 and "/dev/zero: cannot read: not a regular file (a character device)" in result.stderr


def test_bad_durations_exit_2_naming_the_flag_or_the_line(tmp_path):
    for value in ("nan", "inf", "0s", "100000000d"):
        result = run("--target", "http://127.0.0.1:1", "--print", f"--collect.timeout={value}", timeout=30)
        assert result.returncode == 2 and "flag --collect.timeout: " in result.stderr and "Traceback" not in result.stderr
    config = tmp_path / "sidecar.yml"
    config.write_text("targets: ['http://127.0.0.1:1']\ncollect:\n  interval: .inf\n")
    result = run("--config", str(config), "--print", timeout=30)
    assert result.returncode == 2 and f"{config}:3: collect.interval: inf is not a finite duration" in result.stderr
