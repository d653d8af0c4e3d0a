"""Every nvidia-smi -q, -q -x and topo -m capture in the shared fixture set parses without error.

The shared set (../shared/fixtures/nvidia) sits beside the checkout in CI and in
development; it includes captures whose licences keep them out of this
repository (GPL-3.0, CC BY-SA), so they are read in place.
"""

import pytest

from axonize.exporter.replay import ReplaySource, classify, topology
from tests.conftest import SHARED

NVIDIA_SHARED = SHARED / "nvidia"
if NVIDIA_SHARED.is_dir():
    CAPTURES = sorted(
        p
        for p in NVIDIA_SHARED.rglob("*")
        if p.is_file()
        and ("-q" in p.name or "topo-m" in p.name or p.parent.name == "utkuozdemir-captures")
        and p.suffix in (".txt", ".xml")
    )
else:
    CAPTURES = []


@pytest.mark.skipif(not NVIDIA_SHARED.is_dir(), reason=f"shared fixture set not found at {NVIDIA_SHARED}")
def test_shared_set_is_not_empty():
    assert len(CAPTURES) >= 20


@pytest.mark.skipif(not NVIDIA_SHARED.is_dir(), reason=f"shared fixture set not found at {NVIDIA_SHARED}")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_capture_parses(path):
    text = path.read_text()
    kind = classify(text)
    assert kind in ("query-text", "query-xml", "topology", "bundle"), kind
    if kind == "topology":
        topo = topology.parse(text, str(path))
        assert topo.gpu_count >= 1
        return
    snap = ReplaySource([str(path)]).collect()
    assert snap.gpus, snap.errors
    for gpu in snap.gpus:
        assert gpu.uuid.startswith("GPU-") and gpu.memory_total_bytes > 0
    # one known quirk: the telegraf A100 file says 4 attached GPUs and holds one
    assert all(e.kind == "mismatch" for e in snap.errors), [str(e) for e in snap.errors]
