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
        ({"url": "http://x:1", "gpuz": []}, "target 'http://x:1': gpuz: unknown key; known keys: url, engine, server, model, gpus"),
        ({"engine": "vllm"}, "url: missing"),
        ({"url": "http://x:1", "gpus": ["0"]}, "target 'http://x:1': gpus[0]: '0' is not an NVML UUID"),
        ({"url": "http://x:1", "gpus": UUID}, "gpus: expected a list"),
        ({"url": "http://x:1", "gpus": [{"a": 1}]}, "gpus[0]: {'a': 1} is not an NVML UUID"),
        ({"url": "http://x:1", "server": ""}, "server: '' is not a non-empty string"),
        ({"url": "http://x:1", "engine": "trt"}, "engine: engine 'trt' is not one of"),
        ({"url": "http://u:secret@x:1", "gpuz": []}, "target 'http://x:1': gpuz: unknown key"),  # no credentials in errors
        ("http://u:secret@x:notaport", "url 'http://x:notaport' has a bad port"),
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
        ("targets: [http://a:1]\ntargetz: []\n", (), "sidecar.yml:2: targetz: unknown key"),
        ("targets: http://a:1\n", (), "sidecar.yml:1: targets: must be a list, got 'http://a:1'"),
        (
            "targets:\n  - http://b:1\n  - {url: 'http://a:1', gpuz: []}\n",
            (),
            "sidecar.yml:3: targets[1].gpuz: unknown key; known keys: url",
        ),
        (
            "targets:\n  - url: 'http://a:1'\n    gpus:\n      - GPU-x\n      - 7\n",
            (),
            "sidecar.yml:5: targets[0].gpus[1]: 7 is not an NVML UUID",
        ),
        ("targets: [7]\n", (), "sidecar.yml:1: targets[0]: expected a URL or a mapping with url, engine, server, model, gpus, got 7"),
        ("targets: [http://a:1]\ncollect: {interval: 5s, timeout: 9s}\n", (), "collect.timeout (9s) is longer than collect.interval (5s)"),
        ("targets: [http://a:1]\ncollect: {max_series: 0}\n", (), "sidecar.yml:2: collect.max_series: 0 is not a positive integer"),
        ("targets: [http://a:1]\ncollect:\n  timeout: .nan\n", (), "sidecar.yml:3: collect.timeout: nan is not a finite duration"),
        (
            "targets: [http://a:1]\nattribution:\n  refresh: 100000000d\n",
            (),
            "sidecar.yml:3: attribution.refresh: '100000000d' is out of range",
        ),
        (None, ("--target", "http://a:1", "--collect.interval", "inf"), "flag --collect.interval: 'inf' is not a duration"),
        ("targets: [http://a:1, http://a:1]\n", (), "server 'a:1' names both"),
        ("collect: {interval: 5s}\n", (), "no targets"),
        (None, ("--target", "http://a:1", "--target.engine", "tgx"), "flag --target.engine: engine 'tgx' is not one of"),
    ],
)
def test_bad_configuration_is_an_error_naming_the_key(tmp_path, yaml_text, flags, message):
    with pytest.raises(ConfigError) as err:
        settings(tmp_path, yaml_text, *flags)
    assert message in str(err.value)


def test_credentials_in_a_url_stay_out_of_the_server_label_display_url_and_errors():
    t = parse_target("http://scraper:s3cret@gpu-1:8000/metrics#vllm")
    assert t.url == "http://scraper:s3cret@gpu-1:8000/metrics"  # sent with the request: aiohttp makes it basic auth
    assert t.server == "gpu-1:8000" and t.display_url == "http://gpu-1:8000/metrics"
    assert parse_target({"url": "https://u:p@[::1]:8443"}).server == "[::1]:8443"
    assert parse_target("http://gpu-2:8000").display_url == "http://gpu-2:8000/metrics"
    with pytest.raises(ValueError) as err:
        finish([t, parse_target("http://other:pw@gpu-1:8000/v2")], None)
    assert "s3cret" not in str(err.value) and "pw@" not in str(err.value) and "http://gpu-1:8000/v2" in str(err.value)
