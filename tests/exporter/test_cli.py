"""axonize-exporter's command line: --print for every capture format, flags and YAML config."""
import pytest
from prometheus_client.parser import text_string_to_metric_families

from axonize.config import ConfigError, parse_duration, parse_listen_address
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
    cfg.write_text(f"web:\n  listen_address: 127.0.0.1:1\n  telemetry_path: /m\ncollect:\n  interval: 2s\nreplay: [{DEMO_Q}]\nprint: true\n")
    assert run_exporter("--config", str(cfg)).returncode == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("collect:\n  intervall: 5s\n", "unknown key 'collect.intervall'"),
        ("collect:\n  interval: soon\n", "key 'collect.interval': 'soon' is not a duration"),
        ("web:\n  listen_address: nowhere\n", "key 'web.listen_address': 'nowhere' is not a listen address"),
        ("replay: just-one-file\n", "key 'replay': expected a list"),
        ("collect: [1, 2\n", "not valid YAML"),
        ("- a\n- b\n", "top level: expected a mapping"),
    ],
)
def test_bad_config_names_the_key(tmp_path, content, message):
    cfg = tmp_path / "bad.yml"
    cfg.write_text(content)
    result = run_exporter("--config", str(cfg), "--replay", str(DEMO_Q), "--print")
    assert result.returncode == 2
    assert str(cfg) in result.stderr and message in result.stderr


def test_bad_flag_value_names_the_flag():
    result = run_exporter("--replay", str(DEMO_Q), "--collect.interval", "0s", "--print")
    assert result.returncode == 2 and "flag --collect.interval" in result.stderr


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
