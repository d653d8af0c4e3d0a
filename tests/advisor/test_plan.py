"""The placement plan: it removes the NUMA and NVLink findings, packs small inference onto valid MIG profiles,
never exceeds a GPU's or a profile's memory, never splits a job a single NUMA node could hold, and its
after-score is the score of the host the plan produces."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace

import pytest

from axonize.advisor import mig_catalog
from axonize.advisor.findings import diagnose
from axonize.advisor.findings.workload_needs import memory_need
from axonize.advisor.plan import apply_plan, plan_placement
from axonize.advisor.score import score_host, utilization_score
from axonize.advisor.topology import gpu_nodes, workloads_on
from tests.advisor.hosts import GIB, busy, clean_hgx, hgx_h200, job, l40s_x4
from tests.advisor.test_findings_nvlink import with_gpu5_nvlinks_down

PLACEMENT_KINDS = ("numa_mismatch", "job_split_numa", "nvlink_ignored")


def infralens_host():
    """The InfraLens story on 8x H200: a 2-GPU job split over the sockets and over GPU 5's dead NVLinks, a job
    pinned to the wrong socket, two small model servers each alone on a whole GPU."""
    workloads = [
        job("training-01", (3, 5), "0-63,128-191", memory=110 * GIB),
        job("training-02", (0,), "0-31", memory=116 * GIB),
        job("training-03", (2,), "64-95", memory=95 * GIB),
        job("inference-02", (4,), "64-79", kind="inference", memory=20 * GIB),
        job("inference-03", (6,), "80-95", kind="inference", memory=10 * GIB),
    ]
    loads = {"g0": busy(0.8, 118 * GIB), "g2": busy(0.7, 97 * GIB), "g3": busy(0.6, 112 * GIB), "g5": busy(0.6, 112 * GIB)}
    loads |= {"g4": busy(0.18, 21 * GIB), "g6": busy(0.09, 11 * GIB)}
    return with_gpu5_nvlinks_down(hgx_h200(workloads, **loads))


def test_plan_removes_the_numa_and_nvlink_findings_and_packs_mig():
    host = infralens_host()
    before = diagnose(host)
    assert {f.kind for f in before} >= {*PLACEMENT_KINDS, "mig_unused"}
    plan = plan_placement(host, before)
    after_host = apply_plan(host, plan)
    assert not [f for f in diagnose(after_host) if f.kind in PLACEMENT_KINDS or f.kind == "mig_unused"]
    where = {p.workload: p for p in plan.placements}
    assert where["inference-02"].gpus == where["inference-03"].gpus and where["inference-02"].mig_profile == "2g.35gb"
    assert set(where["training-01"].gpus) <= {0, 1, 2, 3} and where["training-01"].numa_node == 0
    assert where["training-02"].gpus == (0,)  # well placed: stays
    commands = "\n".join(s.command for s in plan.steps)
    gpu = where["inference-02"].gpus[0]
    assert f"nvidia-smi -i {gpu} -mig 1" in commands and f"nvidia-smi mig -i {gpu} -cgi 2g.35gb,1g.18gb -C" in commands
    assert "numactl --cpunodebind=0 --membind=0" in commands and "single-numa-node" in commands
    # before/after are the scores of the two hosts, freed GPUs priced by the bundle's hours
    assert plan.before == score_host(host) and plan.after == score_host(after_host)
    assert plan.after != plan.before
    assert plan.out_of_scope


def test_the_plan_scores_the_gpus_in_use_and_lists_the_free_ones():
    """Freeing GPUs lowers the whole host's score as the rules record it (a free GPU is idle, 0); the headline
    score is score_host over the GPUs holding work, before and after; the free GPUs after the plan include the
    idle ones it leaves idle; the saving is net of the idle GPUs it puts to work."""
    host = infralens_host()
    plan = plan_placement(host, diagnose(host))
    after_host = apply_plan(host, plan)
    used_now = {g.index for g in host.gpus if workloads_on(host, g.index)}
    used_after = {g.index for g in after_host.gpus if workloads_on(after_host, g.index)}
    assert used_now == {0, 2, 3, 4, 5, 6} and used_after == {0, 1, 2, 3, 4}  # the story: GPUs 1 and 7 idle now

    def only(h, keep):
        return replace(h, gpus=tuple(g for g in h.gpus if g.index in keep))

    assert plan.in_use_before == score_host(only(host, used_now)) and plan.in_use_after == score_host(only(after_host, used_after))
    assert plan.after.score < plan.before.score < plan.in_use_before.score < plan.in_use_after.score
    assert plan.gpus_freed == tuple(sorted(used_now - used_after))
    assert plan.gpus_available == tuple(sorted(set(range(8)) - used_after)) == (5, 6, 7)
    price = host.gpu(0).price_dollars_per_hour * 730
    assert plan.dollars_per_month_available == pytest.approx(3 * price)
    assert plan.dollars_per_month_saved == pytest.approx((len(plan.gpus_available) - (8 - len(used_now))) * price)
    assert "GPUs 5, 6 (freed) and 7 (idle now) are free" in plan.steps[-1].description


def test_gpus_busy_with_unattributed_work_are_left_alone():
    """A GPU busy with work the inputs do not name is neither a target of the plan nor idled by it."""
    host = hgx_h200([job("t", (3, 5), "0-63,128-191")], g3=busy(0.6), g5=busy(0.6), g1=busy(0.7), g2=busy(0.5))
    plan = plan_placement(host, diagnose(host))
    assert plan is not None
    (p,) = plan.placements
    assert not {1, 2} & set(p.gpus) and set(p.gpus) <= {0, 3}
    after = apply_plan(host, plan)
    assert utilization_score(after.gpu(1)) == pytest.approx(0.7) and {1, 2} <= {i for i, _ in plan.in_use_after.per_gpu}


def test_after_score_rises_once_freed_gpus_are_left_out():
    """Recomputed, not asserted: the NUMA fixes raise the placed GPUs' scores."""
    host = infralens_host()
    plan = plan_placement(host, diagnose(host))
    after = dict(apply_and_score(host, plan).per_gpu)
    before = dict(score_host(host).per_gpu)
    assert after[2] > before[2]  # training-03 pinned to its own node


def apply_and_score(host, plan):
    return score_host(apply_plan(host, plan))


def test_clean_host_needs_no_plan():
    assert plan_placement(clean_hgx(), diagnose(clean_hgx())) is None


def test_h200x8_scenario_plan_removes_its_numa_and_nvlink_issues():
    """The issue's success criterion on the packaged scenario (real captures replayed by the exporter)."""
    from axonize.advisor import replay, scenarios, workloads
    from axonize.advisor.samples import host_of

    scenario = scenarios.files("h200x8")
    declared = workloads.load(scenario.workloads)
    inputs = replay.read_inputs(scenario.captures, declared.host)
    host = workloads.apply(declared, host_of(inputs.samples, inputs.sources, declared.host))
    found = diagnose(host)
    assert {f.kind for f in found} >= set(PLACEMENT_KINDS)
    plan = plan_placement(host, found)
    assert not [f for f in diagnose(apply_plan(host, plan)) if f.kind in PLACEMENT_KINDS]


def random_host(rng: random.Random):
    hgx = rng.random() < 0.6
    n, total = (8, 150754820096.0) if hgx else (4, 48305799168.0)
    free = list(range(n))
    rng.shuffle(free)
    workloads, loads = [], {}
    for i in range(rng.randint(1, 6)):
        k = rng.choice((1, 1, 1, 2, 2, 4)) if hgx else rng.choice((1, 1, 2))
        if k > len(free):
            break
        gpus = tuple(sorted(free[:k]))
        del free[:k]
        small = k == 1 and rng.random() < 0.5
        memory = rng.uniform(2, 0.45 * total / GIB) * GIB if small else rng.uniform(0.3, 0.95) * total
        active = rng.uniform(0.02, 0.25) if small else rng.uniform(0.4, 1)
        cpus = rng.choice(("0-63,128-191", "64-127,192-255", None))
        workloads.append(job(f"w{i}", gpus, cpus, kind="inference" if small or rng.random() < 0.3 else "training", memory=memory))
        loads |= {f"g{g}": busy(active, memory) for g in gpus}
    host = (hgx_h200 if hgx else l40s_x4)(workloads, **loads)
    return with_gpu5_nvlinks_down(host) if hgx and rng.random() < 0.5 else host


@pytest.mark.parametrize("seed", range(40))
def test_plan_respects_memory_mig_profiles_and_numa_on_generated_hosts(seed):
    host = random_host(random.Random(seed))
    plan = plan_placement(host, diagnose(host))
    if plan is None:
        return
    by_gpu = defaultdict(list)
    used = Counter()
    for p in plan.placements:
        w = next(w for w in host.workloads if w.name == p.workload)
        need = memory_need(host, w)
        if p.mig_profile is None:
            for g in p.gpus:
                assert need <= host.gpu(g).memory_total_bytes, (p, need)
                used[g] += 1
        else:
            gpu = host.gpu(p.gpus[0])
            catalog = mig_catalog.lookup(gpu.model, gpu.memory_total_bytes)
            profile = catalog.profile(p.mig_profile)
            assert need <= profile.memory_bytes, (p, need)
            by_gpu[gpu.index].append(profile)
    assert all(n == 1 for n in used.values()), "a GPU given whole to two workloads"
    for index, profiles in by_gpu.items():
        gpu = host.gpu(index)
        assert mig_catalog.fits(mig_catalog.lookup(gpu.model, gpu.memory_total_bytes), profiles)
        assert index not in used
    taken = {g for p in plan.placements for g in p.gpus}
    for p in plan.placements:
        if p.mig_profile is None and len(gpu_nodes(host, p.gpus)) > 1:
            others = taken - set(p.gpus)
            for node in {g.numa_node for g in host.gpus}:
                room = [g.index for g in host.gpus if g.numa_node == node and g.index not in others]
                assert len(room) < len(p.gpus), f"{p.workload} split although node {node} could hold it"
    after = apply_plan(host, plan)
    assert plan.after == score_host(after)
    assert not [f for f in diagnose(after) if f.kind == "numa_mismatch"]
