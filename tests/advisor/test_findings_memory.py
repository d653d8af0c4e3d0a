"""memory_oversized / memory_undersized, with preallocating engines judged by their KV cache usage."""

from __future__ import annotations

from axonize.advisor.findings import diagnose
from tests.advisor.hosts import GIB, H200_BYTES, busy, clean_hgx, hgx_h200, job


def memory(host):
    return [f for f in diagnose(host) if f.kind.startswith("memory_")]


def test_vllm_holding_90_percent_with_an_empty_kv_cache_is_oversized():
    host = hgx_h200(
        [job("vllm", (1,), "0-63", kind="inference", memory=None, engine="vllm", kv_cache_usage_ratio=0.04)], g1=busy(0.6, 0.9 * H200_BYTES)
    )
    (f,) = memory(host)
    assert f.kind == "memory_oversized" and "4 %" in f.title
    assert 'axonize_inference_kv_cache_usage_ratio{server="vllm"}' in {e.source for e in f.evidence}


def test_the_same_vram_with_a_busy_kv_cache_is_fine_and_a_full_one_undersized():
    ok = hgx_h200([job("vllm", (1,), "0-63", kind="inference", memory=None, kv_cache_usage_ratio=0.6)], g1=busy(0.6, 0.9 * H200_BYTES))
    assert not memory(ok)
    full = hgx_h200([job("vllm", (1,), "0-63", kind="inference", memory=None, kv_cache_usage_ratio=0.99)], g1=busy(0.6, 0.9 * H200_BYTES))
    assert [f.kind for f in memory(full)] == ["memory_undersized"]


def test_a_training_job_at_the_memory_limit_is_undersized_and_one_using_little_oversized():
    tight = hgx_h200([job("t", (0,), "0-63")], g0=busy(0.9, 0.97 * H200_BYTES))
    assert [f.kind for f in memory(tight)] == ["memory_undersized"]
    loose = hgx_h200([job("t", (0,), "0-63", memory=None)], g0=busy(0.9, 10 * GIB))
    assert [f.kind for f in memory(loose)] == ["memory_oversized"]


def test_clean_host_has_no_memory_finding():
    assert not memory(clean_hgx())
