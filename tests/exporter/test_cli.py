"""axonize-exporter's command line: --print for every capture format, flags and YAML config."""

import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.config import ConfigError, parse_duration, parse_listen_address
from tests.axonize.test_yaml_file import BOMB
from tests.conftest import DEMO_Q, DEMO_TOPO, NVIDIA, run_exporter


@pytest.mark.parametrize(
    "files",
    [
        [DEMO_Q],  # nvidia-smi -q
        [DEMO_Q, DEMO_TOPO],  # -q plus topo -m
        [NVIDIA / "a10g_drv515_nvidia-smi-q-x.xml"],  # -q -x, DTD v11
        [NVIDIA / "rtx4000-sff-ada_drv595_nvidia-smi-q-x_v13.xml"],  # -q -x, DTD v13
        [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"],  # with -L
        [NVIDIA / "linux-x86_64__nvidia-h200-mig__590.48.01.txt"],  # capture bundle
    ],
    ids=["q", "q+topo", "xml-v11", "xml-v13", "q+L", "bundle"],
)
def test_print_renders_a_valid_exposition(files):
    result = run_exporter("--replay", *map(str, files), "--print")
    assert result.returncode == 0, result.stderr
    families = {f.name: f for f in text_string_to_metric_families(result.stdout)}
    assert families["axonize_gpu_memory_total_bytes"].samples
    assert families["axonize_exporter_collections"].samples[0].value == 1  # the parser drops _total from family names


def test_print_on_a_file_that_cannot_be_read_fails_with_the_reason(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = run_exporter("--replay", str(empty), "--print")
    assert result.returncode == 1
    assert f"{empty}: empty file" in result.stderr


def test_no_gpu_and_no_replay_is_a_clear_error():
    """This machine has no NVIDIA driver: NVML cannot load, and the message says what to do."""
    result = run_exporter("--print")
    assert result.returncode == 1
    assert "no GPU source" in result.stderr and "nvmlInit failed" in result.stderr and "--replay" in result.stderr


def test_config_file_and_flag_precedence(tmp_path):
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(f"replay:\n  - {DEMO_Q}\nreplay.hostname: from-file\nprint: true\n")
    result = run_exporter("--config", str(cfg))
    assert result.returncode == 0, result.stderr
    assert 'hostname="from-file"' in result.stdout
    result = run_exporter("--config", str(cfg), "--replay.hostname", "from-flag")
    assert 'hostname="from-flag"' in result.stdout


def test_nested_yaml_keys(tmp_path):
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(
        f"web:\n  listen_address: 127.0.0.1:1\n  telemetry_path: /m\ncollect:\n  interval: 2s\nreplay: [{DEMO_Q}]\nprint: true\n"
    )
    assert run_exporter("--config", str(cfg)).returncode == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("collect:\n  intervall: 5s\n", ":2: collect.intervall: unknown key; known keys: web.listen_address"),
        ("collect:\n  interval: soon\n", ":2: collect.interval: 'soon' is not a duration"),
        ("web:\n  listen_address: nowhere\n", ":2: web.listen_address: 'nowhere' is not a listen address"),
        ("replay: just-one-file\n", ":1: replay: must be a list, got 'just-one-file'"),
        ("replay:\n  - a.txt\n  - {b: 1}\n", ":3: replay[1]: must be a string, got a mapping {'b': 1}"),
        ("replay: [a.txt, 7]\n", ":1: replay[1]: must be a string, got 7"),
        ("replay: {a: 1}\n", ":1: replay: must be a list, got a mapping"),
        ("collect: [1, 2\n", ":2: not valid YAML"),
        ("- a\n- b\n", ":1: top level: expected a mapping"),
        ("collect:\n  interval: .nan\n", ":2: collect.interval: nan is not a finite duration"),
        ("collect:\n  interval: .inf\n", ":2: collect.interval: inf is not a finite duration"),
        ("collect:\n  interval: -5\n", ":2: collect.interval: -5: a duration must be positive"),
        ("collect:\n  interval: 100000000d\n", ":2: collect.interval: '100000000d' is out of range: a duration must be between 1ms and 1d"),
        ("collect:\n  gpu_timeout: 0s\n", ":2: collect.gpu_timeout: '0s': a duration must be positive"),
        ("collect:\n  interval: 1" + "0" * 400 + "\n", ":2: collect.interval: " + "1" + "0" * 400 + " is not a finite duration"),
        ("collect:\n  interval: true\n", ":2: collect.interval: True is not a duration"),
        ("print: 1\n", ":1: print: expected true or false, got 1"),
    ],
)
def test_bad_config_names_the_file_line_and_key(tmp_path, content, message):
    cfg = tmp_path / "bad.yml"
    cfg.write_text(content)
    result = run_exporter("--config", str(cfg), "--replay", str(DEMO_Q), "--print")
    assert result.returncode == 2 and result.stdout == ""
    assert f"axonize-exporter: {cfg}{message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "value, message",
    [
        ("0s", "'0s': a duration must be positive"),
        ("nan", "'nan' is not a duration"),
        ("inf", "'inf' is not a duration"),
        ("-1s", "'-1s' is not a duration"),
        ("100000000d", "'100000000d' is out of range: a duration must be between 1ms and 1d"),
        ("2d", "'2d' is out of range"),
        ("0.5ms", "'0.5ms' is out of range"),
    ],
)
def test_bad_flag_value_names_the_flag(value, message):
    for flag in ("--collect.interval", "--collect.gpu-timeout"):
        result = run_exporter("--replay", str(DEMO_Q), f"{flag}={value}", "--print")
        assert result.returncode == 2 and result.stdout == ""
        assert f"axonize-exporter: flag {flag}: {message}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("option", ["--config", "--web.config.file", "--cost.config"])
def test_a_binary_or_special_file_exits_2_naming_it(tmp_path, option):
    binary = tmp_path / "capture.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    result = run_exporter("--replay", str(DEMO_Q), "--print", option, str(binary))
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert f"axonize-exporter: {binary}:3: not a text file: a NUL byte at byte offset 8" in result.stderr
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes("collect:\n  interval: 5s # café\n".encode("latin-1"))
    result = run_exporter("--replay", str(DEMO_Q), "--print", option, str(latin1))
    assert result.returncode == 2 and f"{latin1}:2: not UTF-8 text: byte 0xe9 at byte offset 29" in result.stderr
    result = run_exporter("--replay", str(DEMO_Q), "--print", option, "/dev/zero", timeout=20)
    assert result.returncode == 2 and "/dev/zero: cannot read: not a regular file (a character device)" in result.stderr
    result = run_exporter("--replay", str(DEMO_Q), "--print", option, str(tmp_path), timeout=20)
    assert result.returncode == 2 and f"{tmp_path}: cannot read: not a regular file (a directory)" in result.stderr


def test_a_fifo_as_config_fails_at_once_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)
    result = run_exporter("--replay", str(DEMO_Q), "--print", "--config", str(fifo), timeout=20)
    assert result.returncode == 2 and f"{fifo}: cannot read: not a regular file (a FIFO)" in result.stderr


@pytest.mark.parametrize(
    "content, line",
    [
        ("replay:\n  - x.txt\n" + "".join("  - " + row.split(": ", 1)[1] + "\n" for row in BOMB.splitlines()), 3),
        ("collect:\n  interval: 5s\n" + BOMB, 3),  # a dict of aliases
    ],
    ids=["in-replay", "dict-of-aliases"],
)
def test_a_yaml_alias_bomb_fails_at_once_naming_file_and_line(tmp_path, content, line):
    cfg = tmp_path / "bomb.yml"
    cfg.write_text(content)
    started = time.monotonic()
    result = run_exporter("--replay", str(DEMO_Q), "--print", "--config", str(cfg), timeout=30)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert f"{cfg}:{line}: not valid YAML: YAML anchors and aliases (&a) are not supported here" in result.stderr
    assert time.monotonic() - started < 20


def test_durations_and_addresses():
    assert parse_duration("1m30s") == 90 and parse_duration("500ms") == 0.5 and parse_duration(2) == 2
    with pytest.raises(ValueError):
        parse_duration("5 seconds")
    assert parse_listen_address(":9947") == ("0.0.0.0", 9947)
    assert parse_listen_address("[::1]:9947") == ("::1", 9947)
    assert parse_listen_address("127.0.0.1:80") == ("127.0.0.1", 80)
    with pytest.raises(ValueError):
        parse_listen_address("127.0.0.1")
    assert issubclass(ConfigError, ValueError)
