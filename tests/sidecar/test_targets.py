"""Targets from flags and YAML: every bad value is a ConfigError naming the key (and the target)."""
from __future__ import annotations

import pytest

from axonize.config import ConfigError, build_parser
from axonize.sidecar import cli
from axonize.sidecar.targets import Target, finish, parse_target

UUID = "GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"


def test_target_strings_and_mappings():
    assert parse_target("http://gpu-1:8000") == Target(url="http://gpu-1:8000/metrics", server="gpu-1:8000")
    assert parse_target("https://gpu-1:8443/custom/metrics#TGI") == Target(
        url="https://gpu-1:8443/custom/metrics", server="gpu-1:8443", engine="tgi"
    )
    assert parse_target({"url": "http://b:8080", "engine": "llamacpp", "server": "chat", "model": "m", "gpus": [UUID]}) == Target(
        url="http://b:8080/metrics", server="chat", engine="llamacpp", model="m", gpus=(UUID,)
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://x:1", "url 'ftp://x:1' is not an http(s) URL"),
        ("http://x:1#vlm", "engine 'vlm' is not one of vllm, sglang, tgi, llamacpp, triton"),
        ("http://x:notaport", "has a bad port"),
        ({"url": "http://x:1", "gpuz": []}, "target 'http://x:1': key 'gpuz' is not one of url, engine, server, model, gpus"),
        ({"engine": "vllm"}, "key 'url' is missing"),
        ({"url": "http://x:1", "gpus": ["0"]}, "target 'http://x:1': key 'gpus': '0' is not an NVML UUID"),
        ({"url": "http://x:1", "gpus": UUID}, "key 'gpus': expected a list"),
        ({"url": "http://x:1", "server": ""}, "key 'server': '' is not a non-empty string"),
        ({"url": "http://x:1", "engine": "trt"}, "key 'engine': engine 'trt' is not one of"),
        (["http://x:1"], "expected a URL or a mapping"),
    ],
)
def test_bad_targets_name_the_key(value, message):
    with pytest.raises(ValueError) as err:
        parse_target(value)
    assert message in str(err.value)


def test_default_engine_applies_to_targets_without_one_and_servers_are_unique():
    a, b = parse_target("http://a:1"), parse_target("http://b:1#tgi")
    assert [t.engine for t in finish([a, b], "vllm")] == ["vllm", "tgi"]
    with pytest.raises(ValueError, match="server 'a:1' names both"):
        finish([a, parse_target("http://a:1/other")], None)


def settings(tmp_path, yaml_text: str | None, *flags: str) -> dict:
    argv = list(flags)
    if yaml_text is not None:
        path = tmp_path / "sidecar.yml"
        path.write_text(yaml_text)
        argv = ["--config", str(path)] + argv
    parser = build_parser("axonize-sidecar", "", cli.OPTIONS)
    parser.add_argument("--engine", dest="target_engine", default=None)
    return cli.load_settings(parser.parse_args(argv))


def test_yaml_targets_and_flags(tmp_path):
    yaml_text = (
        f"targets:\n  - http://a:8000#vllm\n  - {{url: 'http://b:8080', server: chat, gpus: [{UUID}]}}\n"
        "collect:\n  interval: 10s\n  timeout: 2s\n  max_series: 100\ntarget:\n  engine: tgi\n"
    )
    s = settings(tmp_path, yaml_text)
    assert [(t.server, t.engine) for t in s["target"]] == [("a:8000", "vllm"), ("chat", "tgi")]
    assert s["target"][1].gpus == (UUID,)
    flagged = settings(tmp_path, yaml_text, "--target", "http://c:30000")  # a flag replaces the file's list, as for every option
    assert [(t.server, t.engine) for t in flagged["target"]] == [("c:30000", "tgi")]
    assert (s["collect_interval"], s["collect_timeout"], s["collect_max_series"]) == (10.0, 2.0, 100)
    assert s["web_listen_address"] == ("0.0.0.0", 9948)
    assert settings(tmp_path, None, "--target", "http://c:1", "--engine", "triton")["target"][0].engine == "triton"


@pytest.mark.parametrize(
    ("yaml_text", "flags", "message"),
    [
        ("targets: [http://a:1]\ntargetz: []\n", (), "unknown key 'targetz'"),
        ("targets: http://a:1\n", (), "key 'targets': expected a list"),
        ("targets:\n  - {url: 'http://a:1', gpuz: []}\n", (), "key 'targets': target 'http://a:1': key 'gpuz' is not one of"),
        ("targets: [http://a:1]\ncollect: {interval: 5s, timeout: 9s}\n", (), "collect.timeout (9s) is longer than collect.interval (5s)"),
        ("targets: [http://a:1]\ncollect: {max_series: 0}\n", (), "key 'collect.max_series': 0 is not a positive integer"),
        ("targets: [http://a:1, http://a:1]\n", (), "server 'a:1' names both"),
        ("collect: {interval: 5s}\n", (), "no targets"),
        (None, ("--target", "http://a:1", "--target.engine", "tgx"), "flag --target.engine: engine 'tgx' is not one of"),
    ],
)
def test_bad_configuration_is_an_error_naming_the_key(tmp_path, yaml_text, flags, message):
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, yaml_text, *flags)
    assert message in str(err.value)
