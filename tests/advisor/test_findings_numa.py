"""numa_mismatch and job_split_numa: raised on hosts built for them, not on a clean HGX host."""

from __future__ import annotations

from axonize.advisor.findings import diagnose
from tests.advisor.hosts import busy, clean_hgx, hgx_h200, job, l40s_x4


def kinds(host, kind):
    return [f for f in diagnose(host) if f.kind == kind]


def test_clean_hgx_host_has_no_numa_or_nvlink_finding():
    assert not [f for f in diagnose(clean_hgx()) if f.kind in ("numa_mismatch", "job_split_numa", "nvlink_ignored")]


def test_cpus_on_the_other_socket_are_a_mismatch_with_evidence():
    host = hgx_h200([job("loader", (2,), "64-95")], g2=busy())
    (f,) = kinds(host, "numa_mismatch")
    assert f.gpus == (2,) and f.workloads == ("loader",) and f.severity == "warning"
    assert 'axonize_gpu_numa_node{gpu="2"}' in {e.source for e in f.evidence}
    assert "node 0" in f.explanation and "numactl --cpunodebind=0" in f.explanation


def test_an_unpinned_workloads_file_entry_is_a_mismatch_on_two_sockets_but_not_on_one():
    two = hgx_h200([job("free", (1,))], g1=busy())
    assert kinds(two, "numa_mismatch")[0].workloads == ("free",)
    one_node = l40s_x4([job("free", (0,))], g0=busy())
    one_node = one_node.__class__(
        one_node.hostname,
        tuple(g.__class__(**{**g.__dict__, "numa_node": 0}) for g in one_node.gpus),
        one_node.links,
        one_node.numa_nodes[:1],
        one_node.workloads,
    )
    assert not kinds(one_node, "numa_mismatch")


def test_a_measured_workload_without_cpus_is_not_judged():
    host = hgx_h200([job("ctr", (1,), source="containers")], g1=busy())
    assert not kinds(host, "numa_mismatch")


def test_job_split_across_nodes_while_one_node_could_hold_it():
    host = hgx_h200([job("split", (3, 5), "0-127")], g3=busy(), g5=busy())
    (f,) = kinds(host, "job_split_numa")
    assert f.gpus == (3, 5) and "free now" in f.explanation


def test_no_split_finding_when_no_node_has_enough_gpus():
    host = hgx_h200([job("all8", range(8))], **{f"g{i}": busy() for i in range(8)})
    assert not kinds(host, "job_split_numa")
    pcie = l40s_x4([job("all4", range(4), "0-255")], **{f"g{i}": busy() for i in range(4)})
    assert not kinds(pcie, "job_split_numa")
