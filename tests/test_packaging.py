"""setup.cfg, the Dockerfile and the README agree with each other."""
import configparser
import re

from tests.conftest import ROOT


def setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_dockerfile_entrypoint_is_a_console_script_and_runs_unprivileged():
    scripts = setup_cfg()["options.entry_points"]["console_scripts"]
    docker = (ROOT / "Dockerfile").read_text()
    entry = re.search(r'^ENTRYPOINT \["([^"]+)"\]', docker, re.MULTILINE).group(1)
    assert re.search(rf"^\s*{entry}\s*=", scripts, re.MULTILINE)
    assert re.search(r"^USER (?!root|0\b)\S+", docker, re.MULTILINE)
    assert "EXPOSE 9947" in docker


def test_dockerfile_copies_every_packaged_folder():
    mapping = setup_cfg()["options"]["package_dir"]
    folders = {line.split("=")[1].strip().split("/")[0] for line in mapping.strip().splitlines()}
    docker = (ROOT / "Dockerfile").read_text()
    for folder in folders:
        assert f"COPY {folder} ./{folder}" in docker, folder


def test_readme_starts_with_the_two_commands_and_ci_runs_the_test_command():
    head = (ROOT / "README.md").read_text().split("\n")[:6]
    assert any(line.startswith("make demo") for line in head) and any(line.startswith("make test") for line in head)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
