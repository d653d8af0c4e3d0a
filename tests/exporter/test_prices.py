"""Price series from real captures: the row that applies per GPU, per MIG GPU instance its share, --cost.config."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from axonize import pricing
from axonize.exporter.collection import CollectionLoop
from axonize.exporter.prices import PricedSource
from axonize.exporter.replay import ReplaySource
from axonize.http import Exposition
from tests.conftest import DEMO_Q, NVIDIA, ROOT, requires, run_exporter

H100 = [NVIDIA / "h100-80gb-hbm3_drv590_nvidia-smi-q_load.txt"]
H200_MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]
H100_MIG = [NVIDIA / "h100-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h100-mig_drv590_nvidia-smi-L.txt"]
A100_MIG_NO_L = [NVIDIA / "a100-sxm4-80gb-mig_drv535_nvidia-smi-q-x.xml"]
RTX4000 = [NVIDIA / "rtx4000-sff-ada_drv595_nvidia-smi-q-x_v13.xml"]
H100_SOURCE = "AWS p5.48xlarge on-demand $55.04/h / 8 GPUs (after the June 2025 cut)"


def collect(paths, table=None, hostname: str = ""):
    """(samples by name, snapshot) of one collection cycle of the replay, priced by ``table`` (default: the packaged one)."""
    exposition = Exposition()
    source = PricedSource(ReplaySource([str(p) for p in paths], hostname=hostname), table or pricing.load())
    snapshot = CollectionLoop(source, 5.0, exposition).collect_once()
    got: dict[str, list] = {}
    for fam in text_string_to_metric_families(exposition.latest.body.decode()):
        for s in fam.samples:
            got.setdefault(s.name, []).append(s)
    return got, snapshot


def per_gi(samples) -> dict[str, float]:
    return {s.labels["gpu_instance_id"]: s.value for s in samples}


def test_h100_capture_gets_the_h100_row_with_its_source():
    got, _ = collect(H100)
    [price] = got["axonize_gpu_price_dollars_per_hour"]
    assert price.value == 6.88 and set(price.labels) == {"gpu", "uuid"}
    [info] = got["axonize_gpu_price_info"]
    assert info.value == 1.0
    assert info.labels == {"gpu": "0", "uuid": price.labels["uuid"], "source": H100_SOURCE, "date": "2025-06", "rule": "gpus[1]"}
    assert "axonize_mig_price_dollars_per_hour" not in got  # no MIG, no MIG price


def test_every_gpu_of_the_8x_h100_host_is_priced():
    got, _ = collect([DEMO_Q])
    assert sorted(s.labels["gpu"] for s in got["axonize_gpu_price_dollars_per_hour"]) == [str(i) for i in range(8)]
    assert {s.value for s in got["axonize_gpu_price_dollars_per_hour"]} == {6.88}


def test_h200_mig_instances_cost_their_slices_of_the_gpu():
    got, snapshot = collect(H200_MIG)
    assert [s.value for s in got["axonize_gpu_price_dollars_per_hour"]] == [7.91]
    # 7.91 $/h x slices/7: GI 2 is 3g.71gb (two compute instances, 1c + 2c: counted once), GI 3 2g.35gb, GIs 9 and 10 1g.18gb
    assert per_gi(got["axonize_mig_price_dollars_per_hour"]) == pytest.approx({"2": 3.39, "3": 2.26, "9": 1.13, "10": 1.13})
    assert per_gi(got["axonize_mig_price_share_ratio"]) == pytest.approx({"2": 3 / 7, "3": 2 / 7, "9": 1 / 7, "10": 1 / 7})
    assert {s.labels["gpu"] for s in got["axonize_mig_price_dollars_per_hour"]} == {"0"}
    assert [e for e in snapshot.errors if e.source == "pricing"] == []


def test_h100_mig_instances():
    got, _ = collect(H100_MIG)
    # 6.88 $/h: GI 2 3g.40gb -> 2.948571, GI 3 2g.20gb -> 1.965714, GIs 9 and 10 1g.10gb -> 0.982857
    assert per_gi(got["axonize_mig_price_dollars_per_hour"]) == pytest.approx({"2": 2.948571, "3": 1.965714, "9": 0.982857, "10": 0.982857})


def test_mig_without_profiles_exports_the_gpu_price_and_counts_the_unpriced_instances():
    got, snapshot = collect(A100_MIG_NO_L)  # -q -x has no MIG profiles (nvidia-smi -L does)
    [price] = got["axonize_gpu_price_dollars_per_hour"]
    assert price.value == 3.43  # 'A100.*80GB'
    assert "axonize_mig_price_dollars_per_hour" not in got and "axonize_mig_price_share_ratio" not in got
    [error] = [e for e in snapshot.errors if e.source == "pricing"]
    assert error.kind == "unavailable" and "GPU instances 3, 4, 5, 6" in error.message and "nvidia-smi -L" in error.message
    counted = {(s.labels["source"], s.labels["kind"]): s.value for s in got["axonize_exporter_collection_errors_total"]}
    assert counted[("pricing", "unavailable")] == 1.0


def test_an_unknown_gpu_gets_the_default_row():
    got, _ = collect(RTX4000)
    assert [s.value for s in got["axonize_gpu_price_dollars_per_hour"]] == [0.95]
    [info] = got["axonize_gpu_price_info"]
    assert (info.labels["rule"], info.labels["date"]) == ("default", "2026-11")
    assert info.labels["source"].startswith("OpenCost default")


H200 = [NVIDIA / "h200_drv590_nvidia-smi-q_load.txt"]


def renamed(capture: Path, name: str, tmp_path: Path) -> list[Path]:
    """A real ``nvidia-smi -q`` capture with its ``Product Name`` replaced: a model no capture here shows (derived, not real)."""
    text = capture.read_text()
    out = re.sub(r"(Product Name\s*: ).*", lambda m: m.group(1) + name, text)
    assert re.search(r"Product Name\s*: " + re.escape(name) + "$", out, re.MULTILINE)
    path = tmp_path / capture.name
    path.write_text(out)
    return [path]


@pytest.mark.parametrize(
    "capture, name, dollars, rule",
    [
        (H200[0], "NVIDIA H200", 7.91, "gpus[0]"),  # the real capture, unchanged
        (H200[0], "NVIDIA GH200 480GB", 2.29, "gpus[10]"),  # used to take the H200 row ($7.91)
        (H200[0], "NVIDIA H200 NVL", 7.91, "gpus[13]"),  # its own row (priced as the SXM one)
        (H100[0], "NVIDIA H100 80GB HBM3", 6.88, "gpus[1]"),
        (H100[0], "NVIDIA H100 NVL", 6.98, "gpus[11]"),  # used to take the SXM row ($6.88)
        (H100[0], "NVIDIA H100 PCIe", 3.29, "gpus[12]"),  # used to take the SXM row ($6.88)
        (H100[0], "NVIDIA A100-SXM4-40GB", 2.745, "gpus[6]"),  # used to get the default ($0.95)
        (H100[0], "NVIDIA B200", 14.24, "gpus[9]"),
    ],
)
def test_each_model_gets_its_own_row_from_a_replayed_capture(capture, name, dollars, rule, tmp_path):
    got, _ = collect(renamed(capture, name, tmp_path))
    [price] = got["axonize_gpu_price_dollars_per_hour"]
    [info] = got["axonize_gpu_price_info"]
    assert (price.value, info.labels["rule"]) == (dollars, rule)
    assert info.labels["source"] and info.labels["date"]


def host_table(tmp_path) -> tuple[str, pricing.PriceTable]:
    doc = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())
    doc["prices"]["hosts"] = [
        {"hostname": r"gpu-node-\d+", "match": "H200", "dollars_per_hour": 3.99, "source": "Hyperstack H200", "date": "2026-08"}
    ]
    path = tmp_path / "prices.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path), pricing.load(str(path))


def test_a_host_row_overrides_the_gpu_row_on_its_hosts_and_mig_shares_follow(tmp_path):
    _, table = host_table(tmp_path)
    got, _ = collect(H200_MIG, table, hostname="gpu-node-7")
    assert [s.value for s in got["axonize_gpu_price_dollars_per_hour"]] == [3.99]
    [info] = got["axonize_gpu_price_info"]
    assert (info.labels["rule"], info.labels["source"], info.labels["date"]) == ("hosts[0]", "Hyperstack H200", "2026-08")
    assert per_gi(got["axonize_mig_price_dollars_per_hour"]) == pytest.approx({"2": 3.99 * 3 / 7, "3": 3.99 * 2 / 7, "9": 0.57, "10": 0.57})
    got, _ = collect(H200_MIG, table, hostname="other-host")
    assert [s.value for s in got["axonize_gpu_price_dollars_per_hour"]] == [7.91]
    got, _ = collect(H100, table, hostname="gpu-node-7")  # the row's match is H200: the H100 keeps its gpus row
    assert [s.value for s in got["axonize_gpu_price_dollars_per_hour"]] == [6.88]


# --- the command line -------------------------------------------------------------------------


def prices_printed(stdout: str) -> dict[str, float]:
    return {
        f"{s.name}{{{s.labels.get('gpu_instance_id', s.labels['gpu'])}}}": s.value
        for fam in text_string_to_metric_families(stdout)
        for s in fam.samples
        if "_price_" in s.name and not s.name.endswith("_info")
    }


def test_cli_serves_the_packaged_prices_by_default_and_cost_config_from_flag_or_yaml(tmp_path):
    result = run_exporter("--replay", *map(str, H100), "--print")
    assert result.returncode == 0, result.stderr
    assert prices_printed(result.stdout) == {"axonize_gpu_price_dollars_per_hour{0}": 6.88}
    path, _ = host_table(tmp_path)
    args = ("--replay", *map(str, H200_MIG), "--replay.hostname", "gpu-node-1", "--print")
    result = run_exporter(*args, "--cost.config", path)
    assert result.returncode == 0, result.stderr
    assert prices_printed(result.stdout)["axonize_gpu_price_dollars_per_hour{0}"] == 3.99
    cfg = tmp_path / "exporter.yml"
    cfg.write_text(yaml.safe_dump({"cost": {"config": path}}))
    result = run_exporter("--config", str(cfg), *args)
    assert result.returncode == 0, result.stderr
    assert prices_printed(result.stdout)["axonize_gpu_price_dollars_per_hour{0}"] == 3.99


def test_cli_bad_cost_config_exits_2_naming_the_file_and_key(tmp_path):
    doc = yaml.safe_load((ROOT / "axonize" / "bundle.yml").read_text())
    doc["prices"]["gpus"][2]["dollars_per_hour"] = "3.43 USD"
    bad = tmp_path / "bad-prices.yml"
    bad.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run_exporter("--replay", *map(str, H100), "--print", "--cost.config", str(bad))
    assert result.returncode == 2 and result.stdout == ""
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "3.43 USD" in text)
    assert f"{bad}:{line}: prices.gpus[2].dollars_per_hour: must be a number >= 0" in result.stderr  # file, line, key
    result = run_exporter("--replay", *map(str, H100), "--print", "--cost.config", str(tmp_path / "missing.yml"))
    assert result.returncode == 2 and "missing.yml: cannot read" in result.stderr


def test_dcgm_format_has_no_price_series():
    result = run_exporter("--replay", *map(str, H200_MIG), "--print", "--metrics-format", "dcgm")
    assert result.returncode == 0, result.stderr
    assert "price" not in result.stdout.lower()
    result = run_exporter("--replay", *map(str, H200_MIG), "--print", "--metrics-format", "both")
    assert prices_printed(result.stdout)["axonize_mig_price_dollars_per_hour{2}"] == pytest.approx(3.39)


@requires("promtool")
def test_promtool_check_metrics_passes_on_the_price_series(promtool):
    result = run_exporter("--replay", *map(str, H200_MIG), "--print")
    assert "axonize_mig_price_share_ratio{" in result.stdout
    lint = subprocess.run([promtool, "check", "metrics"], input=result.stdout, capture_output=True, text=True)
    assert lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "", lint.stdout + lint.stderr
