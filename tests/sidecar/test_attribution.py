"""GPU attribution: real processes and sockets (psutil), NVML from real captures (the fake at the hardware boundary)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import pytest

from axonize.exporter.snapshot import Process
from axonize.processes import free_port
from axonize.sidecar import attribution
from axonize.sidecar.attribution import Attribution, ConfiguredGpus, ProcessGpus
from axonize.sidecar.targets import Target
from tests.conftest import DEMO_Q, NVIDIA
from tests.fake_nvml import FakeNvml

H200_MIG = [NVIDIA / "h200-mig_drv590_nvidia-smi-q_load.txt", NVIDIA / "h200-mig_drv590_nvidia-smi-L.txt"]

# A serving tree of real processes. "engine": the listener spawns the GPU worker (vLLM: API server ->
# EngineCore). "launcher": a parent spawns the listener and the GPU worker as siblings (TGI: launcher ->
# router + shards). Prints {"listener": pid, "worker": pid} once the port is bound.
TREE = textwrap.dedent(
    """
    import json, socket, subprocess, sys, time
    shape, port = sys.argv[1], int(sys.argv[2])
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    listen = [sys.executable, "-c", "import socket, time, sys; s = socket.socket(); "
              "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', %d)); s.listen(); "
              "print('bound', flush=True); time.sleep(120)" % port]
    if shape == "engine":
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port)); s.listen()
        worker = subprocess.Popen(sleeper)
        print(json.dumps({"listener": __import__("os").getpid(), "worker": worker.pid}), flush=True)
    else:
        router = subprocess.Popen(listen, stdout=subprocess.PIPE, text=True)
        router.stdout.readline()
        worker = subprocess.Popen(sleeper)
        print(json.dumps({"listener": router.pid, "worker": worker.pid}), flush=True)
    time.sleep(120)
    """
)


@pytest.fixture()
def serving_tree():
    started: list[subprocess.Popen] = []

    def start(shape: str) -> tuple[int, dict]:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", TREE, shape, str(port)], stdout=subprocess.PIPE, text=True)
        started.append(proc)
        return port, json.loads(proc.stdout.readline())

    yield start
    import psutil

    for proc in started:
        try:
            family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        for p in family:
            p.kill()
        proc.wait(10)


def on_gpu(fake: FakeNvml, gpu: int, pid: int) -> str:
    """Run PID ``pid`` on ``gpu``: the capture's first process there takes it, or (the 8x H100 capture
    was taken idle) a compute process is declared, as tests declare GPM values; the GPU's UUID."""
    processes = fake.gpus[gpu].processes
    if processes:
        processes[0].pid = pid
    else:
        processes.append(Process(pid=pid, name="python3", type="C", used_memory_bytes=2.0**30))
    return fake.gpus[gpu].uuid


def target(port: int, **kw) -> Target:
    return Target(url=f"http://127.0.0.1:{port}/metrics", server=f"127.0.0.1:{port}", engine="vllm", **kw)


def test_listener_and_its_descendants_are_found(serving_tree):
    port, pids = serving_tree("engine")
    assert attribution.listening_pids([port]) == {port: pids["listener"]}
    assert set(attribution.process_tree(pids["listener"])) == {pids["listener"], pids["worker"]}


def test_a_worker_of_the_listener_resolves_to_its_gpu(serving_tree):
    port, pids = serving_tree("engine")
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    uuid = on_gpu(fake, 5, pids["worker"])
    resolver = ProcessGpus(nvml=fake, host_pids=True)
    assert resolver.resolve([target(port)]) == {f"127.0.0.1:{port}": (uuid,)}
    assert len({g.uuid for g in fake.gpus}) == 8 and uuid == fake.gpus[5].uuid


def test_a_process_on_a_mig_device_resolves_to_the_mig_uuid(serving_tree):
    port, pids = serving_tree("engine")
    fake = FakeNvml.from_captures(H200_MIG)
    fake.nvmlInit()
    proc = fake.gpus[0].processes[0]
    assert (proc.gpu_instance_id, proc.compute_instance_id) == (2, 1)  # the capture's first process
    on_gpu(fake, 0, pids["worker"])
    mig = next(d.uuid for d in fake.gpus[0].mig_devices if (d.gpu_instance_id, d.compute_instance_id) == (2, 1))
    assert mig.startswith("MIG-")
    assert ProcessGpus(nvml=fake, host_pids=True).resolve([target(port)]) == {f"127.0.0.1:{port}": (mig,)}


def test_a_launcher_whose_router_and_shards_are_siblings_resolves_through_the_parent(serving_tree):
    port, pids = serving_tree("launcher")
    assert pids["worker"] not in attribution.process_tree(pids["listener"])
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    a, b = on_gpu(fake, 2, pids["worker"]), on_gpu(fake, 3, pids["worker"])
    assert ProcessGpus(nvml=fake, host_pids=True).resolve([target(port)]) == {f"127.0.0.1:{port}": tuple(sorted((a, b)))}


def test_remote_targets_and_trees_without_gpus_resolve_to_nothing(serving_tree):
    port, pids = serving_tree("engine")
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    remote = Target(url="http://192.0.2.10:8000/metrics", server="192.0.2.10:8000")  # TEST-NET-1: never this host
    assert ProcessGpus(nvml=fake, host_pids=True).resolve([target(port), remote]) == {
        f"127.0.0.1:{port}": (),
        "192.0.2.10:8000": (),
    }


def test_configured_gpus_win_and_the_rest_resolve_from_processes(serving_tree):
    port, pids = serving_tree("engine")
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    on_gpu(fake, 1, pids["worker"])
    configured = target(port, gpus=("GPU-configured",))
    other_port, other = serving_tree("engine")
    uuid = on_gpu(fake, 6, other["worker"])
    got = Attribution(ProcessGpus(nvml=fake, host_pids=True)).resolve([configured, target(other_port)])
    assert got == {configured.server: ("GPU-configured",), f"127.0.0.1:{other_port}": (uuid,)}
    assert Attribution().resolve([configured, target(other_port)]) == {
        configured.server: ("GPU-configured",),
        f"127.0.0.1:{other_port}": (),
    }
    assert ConfiguredGpus().resolve([configured]) == {configured.server: ("GPU-configured",)}


def test_resolution_is_cached_for_the_refresh_interval_and_survives_nvml_errors(serving_tree, caplog):
    port, pids = serving_tree("engine")
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    first = on_gpu(fake, 4, pids["worker"])
    now = [100.0]
    resolver = ProcessGpus(nvml=fake, refresh=30, host_pids=True, clock=lambda: now[0])
    t = target(port)
    assert resolver.resolve([t]) == {t.server: (first,)}
    fake.gpus[4].processes[0].pid = 1  # the worker moved to GPU 7
    second = on_gpu(fake, 7, pids["worker"])
    now[0] += 29
    assert resolver.resolve([t]) == {t.server: (first,)}  # cached
    now[0] += 1
    assert resolver.resolve([t]) == {t.server: (second,)}
    fake.unload_driver()  # every NVML call fails: the previous answer stays, a warning says why
    now[0] += 30
    with caplog.at_level(logging.WARNING, logger="axonize.sidecar.attribution"):
        assert resolver.resolve([t]) == {t.server: (second,)}
    assert "keeping the previous answer" in caplog.text


def test_one_failing_gpu_does_not_hide_the_others(serving_tree):
    port, pids = serving_tree("engine")
    fake = FakeNvml.from_captures([DEMO_Q])
    fake.nvmlInit()
    on_gpu(fake, 2, pids["worker"])
    ok = on_gpu(fake, 3, pids["worker"])
    fake.lose(2)
    assert ProcessGpus(nvml=fake, host_pids=True).resolve([target(port)]) == {f"127.0.0.1:{port}": (ok,)}


def test_outside_the_host_pid_namespace_it_switches_off_once_and_says_why(caplog):
    resolver = ProcessGpus(nvml=None, host_pids=False)
    with caplog.at_level(logging.INFO, logger="axonize.sidecar.attribution"):
        assert resolver.resolve([target(1)]) == {"127.0.0.1:1": ()}
        assert resolver.resolve([target(1)]) == {"127.0.0.1:1": ()}
    assert "not the host's PID namespace" in resolver.unavailable
    assert caplog.text.count("GPU attribution from processes is off") == 1


def test_without_nvml_it_switches_off_and_the_configuration_stands_in(monkeypatch):
    from axonize.nvml import NvmlUnavailable

    def no_driver(module=None):
        raise NvmlUnavailable("nvmlInit failed: Driver Not Loaded")

    monkeypatch.setattr(attribution, "load", no_driver)
    resolver = ProcessGpus(host_pids=True)
    configured = target(1, gpus=("GPU-a",))
    assert Attribution(resolver).resolve([configured, target(2)]) == {"127.0.0.1:1": ("GPU-a",), "127.0.0.1:2": ()}
    assert "Driver Not Loaded" in resolver.unavailable


@pytest.mark.parametrize(
    "host, local",
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("192.0.2.10", False), ("no-such-host.invalid", False)],
)
def test_is_local(host, local):
    assert attribution.is_local(host, attribution.local_addresses()) is local


def test_target_port_defaults_to_the_scheme_port():
    assert attribution.target_port("http://gpu-1:8000/metrics") == ("gpu-1", 8000)
    assert attribution.target_port("http://gpu-1/metrics") == ("gpu-1", 80)
    assert attribution.target_port("https://gpu-1/metrics") == ("gpu-1", 443)
