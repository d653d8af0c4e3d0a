"""The core writer's text is byte for byte what the exporter wrote before issue 16, on every capture.

Before, each ``axonize_*`` row became a prometheus_client ``GaugeMetricFamily`` /
``CounterMetricFamily`` written by ``generate_latest``, and each ``DCGM_FI_*`` family was
written by :func:`axonize.exposition_text.render`. :func:`reference_axonize` and
:func:`reference_dcgm` rebuild those outputs here; the exporter's
:class:`~axonize.exposition_text.Writer` must give the same bytes, cold and with its caches
warm from other renderings, for every nvidia-smi capture under tests/fixtures/nvidia and
axonize/demo_data (alone, and with their topology and ``-L`` companions), the demo's kernel
log, and the fake NVML (tests/fake_nvml) fed from each capture set and the benchmark fleet.
"""

from __future__ import annotations

import platform

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from axonize import __version__, exposition_text, names
from axonize.exporter import dcgm
from axonize.exporter.collection import CollectionLoop
from axonize.exporter.exposition import DROPPED, METRICS, PER_PROCESS, Options, families
from axonize.exporter.nvml import NvmlSource
from axonize.exporter.replay import ReplaySource
from axonize.exporter.runtime_context import summarize
from axonize.exporter.snapshot import Snapshot
from axonize.http import Exposition
from tests.conftest import DEMO, DEMO_Q, NVIDIA
from tests.exporter.test_exposition import CAPTURE_SETS
from tests.exporter.test_nvml import CAPTURE_SETS as NVML_SETS
from tests.fake_nvml import FakeNvml, benchmark_fleet

OPTIONS = Options(per_process=True, max_process_series=40)  # every family, and the cap at work on the fleet's 100 processes
REPORTS = sorted(p for p in [*NVIDIA.rglob("*"), *DEMO.rglob("*")] if "nvidia-smi-q" in p.name or p.name.startswith("linux-x86_64__"))
REPLAYS = {
    **{p.relative_to(p.parents[1]).as_posix(): [p] for p in REPORTS},
    **{f"{name} (set)": paths for name, paths in CAPTURE_SETS.items()},
    "demo + kernel log": [DEMO_Q, DEMO / "faults" / "kernel-xid.log"],
}


class _Registry:
    def __init__(self, families):
        self._families = families

    def collect(self):
        return self._families


def reference_axonize(snapshot: Snapshot, options: Options) -> bytes:
    """What ``families()`` through ``generate_latest`` gave before issue 16."""
    out, dropped = [], 0
    for m in METRICS:
        if m.name in PER_PROCESS and not options.per_process:
            continue
        fam = (CounterMetricFamily if m.type == "counter" else GaugeMetricFamily)(m.name, m.help, labels=m.labels)
        for labels, value in m.samples(snapshot):
            fam.add_metric(labels, value)
        if m.name in PER_PROCESS:
            dropped += max(0, len(fam.samples) - options.max_process_series)
            del fam.samples[options.max_process_series :]
        out.append(fam)
    if options.per_process:
        out.append(GaugeMetricFamily(DROPPED, names.get(DROPPED).help, value=float(dropped)))
    return generate_latest(_Registry(out))


def reference_dcgm(snapshot: Snapshot) -> bytes:
    """What the loop wrote for ``dcgm.families()`` before: each family through :func:`exposition_text.render`."""
    return b"".join(exposition_text.render([fam]) for fam in dcgm.families(snapshot))


def written(writer: exposition_text.Writer, fams) -> bytes:
    prepared = [writer.prepare(fam) for fam in fams]
    writer.next_rendering()
    return exposition_text.write_prepared(prepared)


def replay(paths) -> Snapshot:
    snapshot = ReplaySource([str(p) for p in paths]).collect()
    summarize(snapshot)
    return snapshot


def fake_nvml(fake: FakeNvml) -> Snapshot:
    source = NvmlSource(nvml=fake, hostname="")
    try:
        snapshot = source.collect()
    finally:
        source.close()
    summarize(snapshot)
    return snapshot


OTHER = replay([DEMO_Q])  # rendered in between, so each case also meets caches filled by another host


def check_identical(snapshot: Snapshot) -> None:
    for render, reference in ((lambda s: families(s, OPTIONS), lambda s: reference_axonize(s, OPTIONS)), (dcgm.families, reference_dcgm)):
        expected = reference(snapshot)
        writer = exposition_text.Writer()
        assert written(writer, render(snapshot)) == expected, "cold caches"
        assert written(writer, render(snapshot)) == expected, "warm caches"
        written(writer, render(OTHER))
        assert written(writer, render(snapshot)) == expected, "caches last filled by another host"
    assert reference_axonize(snapshot, OPTIONS).count(b"\n") > 100  # the case is not empty


@pytest.mark.parametrize("name", REPLAYS)
def test_replay_captures(name):
    check_identical(replay(REPLAYS[name]))


@pytest.mark.parametrize("name", NVML_SETS)
def test_fake_nvml_on_each_capture_set(name):
    check_identical(fake_nvml(FakeNvml.from_captures([str(p) for p in NVML_SETS[name]])))


def test_fake_nvml_benchmark_fleet():
    check_identical(fake_nvml(benchmark_fleet()))


@pytest.mark.parametrize("fmt", ["axonize", "dcgm"])
def test_the_loops_whole_body_with_its_self_metrics(fmt):
    exposition = Exposition()
    render = (lambda s: families(s, OPTIONS)) if fmt == "axonize" else dcgm.families
    loop = CollectionLoop(ReplaySource([str(DEMO_Q)]), 5.0, exposition, render=render)
    for _ in range(2):
        snapshot = loop.collect_once()
    build = GaugeMetricFamily("axonize_exporter_build_info", "x", labels=("version", "python_version"))
    build.add_metric([__version__, platform.python_version()], 1.0)
    own = [
        build,
        GaugeMetricFamily("axonize_exporter_collection_duration_seconds", "x", value=loop.last_duration),
        CounterMetricFamily("axonize_exporter_collections_total", "x", value=2.0),
        GaugeMetricFamily("axonize_exporter_last_collection_success_timestamp_seconds", "x", value=loop.last_success),
        CounterMetricFamily("axonize_exporter_collection_errors_total", "x", labels=("source", "kind")),
    ]
    for fam in own:
        fam.documentation = names.get(fam.name if fam.type != "counter" else fam.name + "_total").help
    body = reference_axonize(snapshot, OPTIONS) if fmt == "axonize" else reference_dcgm(snapshot)
    assert exposition.latest.body == body + generate_latest(_Registry(own))
