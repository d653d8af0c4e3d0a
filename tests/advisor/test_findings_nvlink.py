"""nvlink_ignored: a multi-GPU job or tensor-parallel group off NVLink while an NVLink set of that size exists."""

from __future__ import annotations

from dataclasses import replace

from axonize.advisor.findings import diagnose
from axonize.advisor.model import Link
from tests.advisor.hosts import busy, clean_hgx, hgx_h200, job, l40s_x4


def nvlink(host):
    return [f for f in diagnose(host) if f.kind == "nvlink_ignored"]


def with_gpu5_nvlinks_down(host):
    """GPU 5 as in the h200x8 scenario: its NVLinks down, SYS to GPUs 0-3, NODE to 4, 6, 7."""
    links = tuple(
        Link(k.gpu, k.peer_gpu, ("SYS" if min(k.gpu, k.peer_gpu) < 4 else "NODE")) if 5 in (k.gpu, k.peer_gpu) else k for k in host.links
    )
    return replace(host, links=links)


def test_job_over_sys_while_an_nvlink_pair_is_free():
    host = with_gpu5_nvlinks_down(hgx_h200([job("tp", (3, 5), "0-63")], g3=busy(), g5=busy()))
    (f,) = nvlink(host)
    assert f.gpus == (3, 5) and f.severity == "warning"
    assert 'axonize_gpu_peer_path_info{gpu="3",peer_gpu="5",path="SYS"}' in {e.source for e in f.evidence}


def test_tensor_parallel_groups_are_checked_separately():
    # two TP-2 replicas: (4, 5) crosses the dead link, (6, 7) is fine
    host = with_gpu5_nvlinks_down(hgx_h200([job("vllm", (4, 5, 6, 7), "64-127", kind="inference", tensor_parallel=2)]))
    (f,) = nvlink(host)
    assert f.gpus == (4, 5)


def test_no_finding_on_a_clean_hgx_host_or_a_host_without_nvlink():
    assert not nvlink(clean_hgx())
    assert not nvlink(l40s_x4([job("ddp", (0, 2), "0-255")], g0=busy(), g2=busy()))
