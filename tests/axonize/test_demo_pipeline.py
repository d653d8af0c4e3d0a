"""`axonize demo --with-pipeline`: a real tiny diffusion pipeline on the CPU sends its spans to the demo's sidecar;
the printout's stage breakdown, slowest steps and cost per request (the rules' mean and the sidecar's histogram's
p50 and p90), read back from the real Prometheus, agree with each other and with the GPU table's prices, and the
demo leaves no process behind."""

import os
import re

import pytest

from axonize import demo_pipeline
from axonize.names.traces import COST_BUCKETS
from devtools import vllm_cpu
from tests.axonize.test_demo import demo_processes, run_demo
from tests.conftest import require_binary, requires

pytestmark = pytest.mark.integration


@requires("prometheus")
@requires("prometheus-alertmanager")
@pytest.mark.skipif(
    not os.environ.get("CI") and not vllm_cpu.venv_ready(),
    reason=f"the vllm-cpu venv is not installed at {vllm_cpu.venv_path()} (make vllm-cpu; make test and CI install it)",
)
def test_demo_with_the_pipeline_prints_its_stages_slowest_steps_and_cost_per_request():
    require_binary("prometheus")
    result, env = run_demo("--once", "--with-pipeline", timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout

    # The GPU table's $/hour of the GPUs the spans name (the exporter's prices).
    gpu_rows = {line.split()[0]: line.split() for line in out.split("\nInference per model")[0].splitlines() if line[:1].isdigit()}
    prices = {gpu: float(gpu_rows[gpu][-2]) for gpu in demo_pipeline.PIPELINE_GPUS}

    # The stage breakdown: each stage lies within its request.
    m = re.search(r"tiny-sd: request ([\d.]+) ms = text_encode ([\d.]+) ms -> denoise ([\d.]+) ms -> vae_decode ([\d.]+) ms", out)
    assert m, out
    request_ms, *stages_ms = map(float, m.groups())
    assert all(s > 0 for s in stages_ms) and sum(stages_ms) <= request_ms + 0.2, m.group(0)

    # The slowest steps, from the slow-step rule: distinct step indexes of the pipeline, slowest first, each
    # step's mean within its stage's mean.
    steps = [(int(s), float(r), float(ms)) for s, r, ms in re.findall(r"denoise step (\d+) ([\d.]+)x \(([\d.]+) ms\)", out)]
    assert len(steps) == demo_pipeline.SLOWEST and len({s for s, _, _ in steps}) == len(steps), out
    assert all(0 <= s < demo_pipeline.STEPS for s, _, _ in steps)
    assert [r for _, r, _ in steps] == sorted((r for _, r, _ in steps), reverse=True)
    assert all(0 < ms <= stages_ms[1] for _, _, ms in steps)

    # Cost per request: the sidecar counted every request; the busy-time rule gives the mean request's seconds x
    # the $/hour of its two GPUs / 3600.
    (row,) = [line.split() for line in out.splitlines() if line.startswith(f"{demo_pipeline.MODEL}  {demo_pipeline.CUSTOMER} ")]
    assert row[:5] == [demo_pipeline.MODEL, demo_pipeline.CUSTOMER, str(demo_pipeline.WARM_UP_CALLS + demo_pipeline.CALLS), "1,", "2"], row
    gpu_price, per_hour, per_request, p50, p90 = map(float, row[5:10])
    assert gpu_price == pytest.approx(sum(prices.values()), abs=0.011), (row, prices)
    assert per_request == pytest.approx(request_ms / 1000 * gpu_price / 3600, rel=2e-3), (row, request_ms)
    assert per_hour > 0

    # The sidecar's cost histogram, priced at the demo exporter's prices: p90's bucket holds the costliest request
    # (4 requests: rank 3.6), whose cost is at least the mean's.
    assert 0 < p50 <= p90, row
    assert per_request <= min(b for b in COST_BUCKETS if b >= p90) * (1 + 1e-6), (row, COST_BUCKETS)

    assert demo_processes(env) == []  # the pipeline's processes too: they inherit the run's mark
