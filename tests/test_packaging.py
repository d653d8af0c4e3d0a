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


def test_runtime_wheel_carries_the_runtime_and_no_test_tooling(tmp_path):
    import subprocess
    import sys
    import zipfile

    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("axonize-*.whl")
    files = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "axonize/cli.py",
        "axonize/demo.py",
        "axonize/demo_data/faults/h100-sxm-x8_drv565_nvidia-smi-q_faults-lost.txt",
        "axonize/demo_data/faults/kernel-xid.log",
        "axonize/names/__init__.py",
        "axonize/exporter/cli.py",
        "axonize/sidecar/cli.py",
        "axonize/rules/render.py",
        "axonize/rules/gpu-efficiency.rules.yml",
        "axonize/rules/templates/gpu-efficiency.rules.yml.j2",
        "axonize/rules/customer-cost.rules.yml",
        "axonize/bench/cli.py",
        "axonize/usage/cli.py",
        "axonize/grafana/render.py",
        "axonize/grafana/dashboards/axonize-fleet.json",
        "axonize/grafana/provisioning/datasources/axonize.yml",
        "axonize/grafana/dashboards/axonize-topology.json",
        "axonize/grafana/provisioning/alerting/axonize.yml",
        "axonize/grafana/kubernetes/dashboards-configmaps.yaml",
    ):
        assert needed in files, needed
    assert not [f for f in files if "vllm_cpu" in f or "tiny_llama" in f or f.startswith(("devtools/", "tests/"))]
    # every package of the source tree is in the wheel (setup.cfg lists them by hand)
    packaged = {f.rsplit("/", 1)[0] for f in files if f.endswith("/__init__.py")}
    mapping = dict(line.split(" = ") for line in setup_cfg()["options"]["package_dir"].strip().splitlines() if " = " in line)
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            sub = init.parent.relative_to(ROOT / folder).as_posix()
            assert (package.replace(".", "/") + ("/" + sub if sub != "." else "")) in packaged, init
