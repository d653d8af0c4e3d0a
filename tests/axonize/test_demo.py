"""`axonize demo --once` prints the 8x H100 table, the per-model inference table and the alerts a real
Alertmanager delivered, from a real Prometheus, and leaves no process behind; `--with-vllm` does it with a
real vLLM on the CPU behind axonize-gateway and adds cost per customer."""

import os
import re
import subprocess
import sys
import uuid

import psutil
import pytest

from axonize import demo, demo_gateway
from devtools import vllm_cpu
from tests.conftest import require_binary, requires, samples, total
from tests.sidecar.test_real_vllm import buckets, histogram_quantile

pytestmark = pytest.mark.integration


#: environment variable each demo run of these tests carries, inherited by every process the demo starts
MARK = "AXONIZE_DEMO_TEST_RUN"


def demo_env() -> dict[str, str]:
    """The test's environment plus a :data:`MARK` of its own, so :func:`demo_processes` finds this run's children
    only (other tests, and other engineers' runs, replay the same demo captures at the same time)."""
    return {**os.environ, MARK: uuid.uuid4().hex}


def demo_processes(env: dict[str, str]) -> list[psutil.Process]:
    """Processes still running that a demo started with ``env`` (its exporter, sidecar, Prometheus, Alertmanager),
    wherever they were reparented: found by the inherited :data:`MARK`."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get(MARK) == env[MARK]:
                found.append(p)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def run_demo(*args: str, timeout: float) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    env = demo_env()
    return subprocess.run(
        [sys.executable, "-m", "axonize.cli", "demo", *args], capture_output=True, text=True, timeout=timeout, env=env
    ), env


def alert_sections(stdout: str) -> dict[str, list[str]]:
    """The demo's alert printout: ``{section head: [its alert lines]}`` (heads: "sent to pager", "routed to null", ...)."""
    sections: dict[str, list[str]] = {}
    head = None
    for line in stdout[stdout.index("\nAlerts: ") :].splitlines()[2:]:
        if line.startswith("  ") and not line.startswith("    "):
            head = line.strip().split(" (")[0].split(":")[0]
            sections[head] = []
        elif line.startswith("    ") and head:
            sections[head].append(line.strip())
    return sections


@requires("prometheus")
@requires("prometheus-alertmanager")
def test_demo_once_prints_the_table():
    require_binary("prometheus")
    result, env = run_demo("--once", timeout=240)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"^\d\s+NVIDIA H100 80GB HBM3", line)]
    assert len(rows) == 8, result.stdout
    assert rows[0].split()[0:1] == ["0"] and "101 W" in rows[0] and "30 C" in rows[0]
    assert "1 MiB / 79.6 GiB" in rows[0]
    # recording rules: an H100 with no utilization is idle and scores 0, grade F (its NUMA and I/O terms count
    # only while it computes), at $6.88/hour (axonize/bundle.yml, AWS p5), all of it idle
    assert rows[0].split()[-8:] == ["7", "x", "NV18", "idle", "0", "F", "6.88", "6.88"]
    assert all(row.split()[-5:] == ["idle", "0", "F", "6.88", "6.88"] for row in rows)
    fleet = next(line for line in result.stdout.splitlines() if line.startswith("Fleet:"))
    assert fleet == (
        "Fleet: efficiency 0/100, grade F; GPUs $55.04/hour, of which idle $55.04/hour; projected $40,179/month"
    )  # 8 x 6.88; x 730 hours
    per_million = float(re.search(r"tinyllama: \$([0-9.]+) per 1M generated tokens", result.stdout).group(1))
    numa = [row.split()[-9] for row in rows]
    assert numa == ["0", "0", "0", "0", "1", "1", "1", "1"]
    # The model table: the vLLM capture through the sidecar, joined to GPU 0 by axonize_inference_server_gpu_info.
    capture = samples(open(demo.vllm_capture()).read())
    ttft = buckets(capture, "vllm:time_to_first_token_seconds")
    itl = buckets(capture, "vllm:inter_token_latency_seconds")
    tokens_per_s = total(capture, "vllm:generation_tokens_total") / total(capture, "vllm:e2e_request_latency_seconds_sum")
    expected = [
        "tinyllama",
        "0",
        "(NVIDIA",
        "H100",
        "80GB",
        "HBM3)",
        "0",
        "%",
        f"{histogram_quantile(0.5, ttft) * 1000:.1f}",
        "ms",
        f"{histogram_quantile(0.95, ttft) * 1000:.1f}",
        "ms",
        f"{histogram_quantile(0.5, itl) * 1000:.1f}",
        "ms",
        f"{tokens_per_s:.1f}",
    ]
    (model_row,) = [line.split() for line in result.stdout.splitlines() if line.startswith("tinyllama")]
    tokens_rate, cost = float(model_row.pop(-2)), model_row.pop(-1)
    assert model_row == expected, result.stdout
    # 256 tokens per 2 s replay period; the rules' cost per 1M tokens = 1e6 x $/hour / (3600 x tokens/s)
    assert 0.9 * 128 <= tokens_rate <= 1.1 * 128 and cost == "6.88"
    # (10 %: the replay's 2 s steps move a 30 s rate by up to one step, 256/30 tokens/s, between two evaluations,
    # and the cost group reads the rate the inference group recorded at its previous evaluation)
    assert per_million == pytest.approx(1e6 * 6.88 / (3600 * tokens_rate), rel=0.1)
    # Alerts, through a real Alertmanager with alerts/alertmanager.yml: every idle H100 costs $6.88/h > $5/h, a
    # ticket each; the Watchdog reaches the heartbeat; the info alerts are routed to null, not sent
    alerts = alert_sections(result.stdout)
    assert alerts["sent to pager"] == [] and alerts["inhibited"] == [], result.stdout
    assert [line.split(":")[0] for line in alerts["sent to ticket"]] == [f"AxonizeGpuIdleCost [warning] GPU {i}" for i in range(8)]
    assert "has cost 6.88 $/h in idle time" in alerts["sent to ticket"][0]
    assert [line.split(":")[0] for line in alerts["sent to heartbeat"]] == ["AxonizeWatchdog [info]"]
    assert [line.split(":")[0] for line in alerts["routed to null"]] == [
        "AxonizeFleetIdleCostShare [info]",
        "AxonizeHostEfficiencyLow [info]",
    ]
    assert demo_processes(env) == []


@requires("prometheus")
@requires("prometheus-alertmanager")
def test_demo_fault_scenario_pages_tickets_and_inhibits():
    """--scenario faults: the derived captures of axonize/demo_data/faults/ swapped in under a running Prometheus
    and Alertmanager, then the vLLM server on the lost GPU stopped."""
    require_binary("prometheus")
    result, env = run_demo("--once", "--scenario", "faults", timeout=240)
    assert result.returncode == 0, result.stderr
    alerts = {head: [line.split(":")[0] for line in lines] for head, lines in alert_sections(result.stdout).items()}
    assert alerts["sent to pager"] == [
        "AxonizeGpuEccUncorrectable [critical] GPU 3",  # the fault capture's one uncorrectable DRAM error, an increase
        "AxonizeGpuLost [critical] GPU 0",
        "AxonizeGpuMemoryPressure [critical] GPU 4",
        "AxonizeGpuXidResetRequired [critical] GPU 0 XID 79",
    ], result.stdout
    assert [a for a in alerts["sent to ticket"] if not a.startswith("AxonizeGpuIdleCost")] == [
        "AxonizeGpuClocksThrottled [warning] GPU 2 (hw_slowdown)",
        "AxonizeGpuClocksThrottled [warning] GPU 2 (hw_thermal_slowdown)",
        "AxonizeGpuPcieLinkDegraded [warning] GPU 1",
        "AxonizeGpuRowRemapPending [warning] GPU 3",
        "AxonizeGpuXidApplicationError [warning] GPU 7 XID 13",
    ], result.stdout
    assert "XID 63" not in result.stdout.split("\nAlerts: ")[1]  # NVIDIA says ignore: counted, never alerted
    muted = alert_sections(result.stdout)["inhibited"]
    assert "AxonizeGpuMemoryPressure [warning] GPU 4, muted by AxonizeGpuMemoryPressure [critical] GPU 4" in muted
    (engine,) = [line for line in muted if line.startswith("AxonizeInferenceTargetDown")]
    assert re.fullmatch(
        r"AxonizeInferenceTargetDown \[critical\] model tinyllama, muted by AxonizeGpu(Lost|XidResetRequired) .*GPU 0.*", engine
    )
    assert len(muted) == 2, muted
    assert demo_processes(env) == []


@requires("prometheus")
@requires("prometheus-alertmanager")
def test_demo_stops_everything_on_sigterm():
    require_binary("prometheus")
    env = demo_env()
    proc = subprocess.Popen([sys.executable, "-m", "axonize.cli", "demo"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:
            if "Ctrl-C to stop" in line:
                break
        started = list(psutil.Process(proc.pid).children(recursive=True))
        assert len(started) == 4  # exporter, sidecar, Prometheus, Alertmanager
        proc.terminate()
        assert proc.wait(20) == 0
        gone, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [] and demo_processes(env) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cli_help_and_unknown_command():
    assert subprocess.run([sys.executable, "-m", "axonize.cli", "--help"], capture_output=True).returncode == 0
    result = subprocess.run([sys.executable, "-m", "axonize.cli", "frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown command" in result.stderr
    both = [sys.executable, "-m", "axonize.cli", "demo", "--scenario", "faults", "--with-vllm"]
    result = subprocess.run(both, capture_output=True, text=True)
    assert result.returncode == 2 and "cannot be combined with --with-vllm" in result.stderr
    result = subprocess.run([*both[:-1], "--vllm-url", "http://127.0.0.1:9"], capture_output=True, text=True)
    assert result.returncode == 2 and "cannot be combined with --with-vllm or --vllm-url" in result.stderr


def test_a_vllm_url_that_serves_no_model_exits_2_naming_it():
    env = demo_env()
    result = subprocess.run(
        [sys.executable, "-m", "axonize.cli", "demo", "--once", "--vllm-url", "http://127.0.0.1:9/v1"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2 and "--vllm-url: http://127.0.0.1:9/v1/models does not list a model" in result.stderr, result.stderr
    assert demo_processes(env) == []  # nothing was started


@requires("prometheus")
@requires("prometheus-alertmanager")
@pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} (make vllm-cpu; make test and CI install it)",
)
def test_demo_with_a_real_vllm_behind_the_gateway_prints_cost_per_customer():
    """--with-vllm: the real vLLM behind axonize-gateway, two customers' axonize bench traffic, and the customer-cost
    rules' split of the model's $/hour read back from the real Prometheus."""
    require_binary("prometheus")
    result, env = run_demo("--once", "--with-vllm", timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    (model_row,) = [line.split() for line in result.stdout.splitlines() if line.startswith("tinyllama")]
    assert model_row[1:6] == ["0", "(NVIDIA", "H100", "80GB", "HBM3)"] and model_row[-1] == "6.88", result.stdout
    ttft_p50, ttft_p95, itl_p50 = float(model_row[8]), float(model_row[10]), float(model_row[12])
    assert 0 < ttft_p50 <= ttft_p95 and 0 < itl_p50 and float(model_row[14]) > 0, result.stdout
    assert re.search(r"tinyllama: \$[0-9.]+ per 1M generated tokens", result.stdout), result.stdout

    # What each customer sent: a first request, then axonize bench's workload, exactly (token-id prompts, ignore_eos).
    sent = {}
    for m in re.finditer(
        r"^  (\w+): 1 first request \((\d+) \+ (\d+) tokens\), then axonize bench: (\d+) requests \((\d+) failed\), "
        r"(\d+) prompt \+ (\d+) output tokens",
        result.stdout,
        re.M,
    ):
        name, first_prompt, first_output, n, failed, prompt, output = m.group(1), *map(int, m.groups()[1:])
        sent[name] = (1 + n, first_prompt + prompt, first_output + output)
        (c,) = [c for c in demo_gateway.CUSTOMERS if c.name == name]
        assert (n, failed, prompt, output) == (c.requests, 0, c.requests * c.input_len, c.requests * c.output_len)
    assert set(sent) == {c.name for c in demo_gateway.CUSTOMERS}, result.stdout

    # The table: the gateway's counters equal what was sent; the rules split the model's $/hour by token share.
    table = result.stdout.split("\nGPU cost per customer")[1]
    rows = {line.split()[0]: line.split() for line in table.splitlines() if line.split()[:1] and line.split()[0] in sent}
    assert set(rows) == set(sent), table
    model_cost = float(model_row[-1])
    tokens = {name: prompt + output for name, (_, prompt, output) in sent.items()}
    for name, row in rows.items():
        requests, prompt, output = map(int, row[2:5])
        share, per_hour, per_request, per_month = float(row[5]), float(row[6]), float(row[7]), float(row[8].replace(",", ""))
        assert row[1] == "tinyllama" and (requests, prompt, output) == sent[name], row
        # every token of both customers is inside the 30 s window, so the share is the exact token ratio
        assert share == pytest.approx(tokens[name] / sum(tokens.values()), abs=0.0006), (row, tokens)
        assert per_hour == pytest.approx(share * model_cost, abs=0.01) and per_month == pytest.approx(730 * per_hour, abs=5), row
        assert per_request > 0
    assert sum(float(r[5]) for r in rows.values()) == pytest.approx(1, abs=0.0011)
    assert sum(float(r[6]) for r in rows.values()) == pytest.approx(model_cost, abs=0.011)
    assert "sk-demo-" not in result.stdout + result.stderr  # the keys are never printed
    assert demo_processes(env) == [] and not [
        p for p in psutil.process_iter(["cmdline"]) if "vllm.entrypoints.openai.api_server" in " ".join(p.info["cmdline"] or [])
    ]
