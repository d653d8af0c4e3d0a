"""GPU attribution: which GPUs each inference server runs on, for ``axonize_inference_server_gpu_info``.

The series joins inference metrics to the exporter's GPU metrics (docs/gpu-join.md has the worked
example)::

    axonize_inference_server_gpu_info{server="gpu-1:8000",model="meta-llama/Llama-3.1-8B-Instruct",uuid="GPU-b42dd28e-..."} 1
    # which GPU each model runs on (the GPU's own `model` label is the GPU model: list only what you need):
    axonize_inference_server_gpu_info * on (uuid) group_left (gpu) axonize_gpu_info

Two sources, per target; the first that knows wins:

1. **Configuration** (:class:`ConfiguredGpus`): the target's ``gpus:`` list (``GPU-...`` / ``MIG-...``
   UUIDs). It stands in where the engine runs on another host, in replay and demo mode, and
   wherever the automatic resolution cannot see the processes.
2. **Processes** (:class:`ProcessGpus`, ``--attribution.source processes``, the default): the target's port → the PID
   listening on it (psutil's socket table) → that process and all its descendants (vLLM's
   EngineCore and tensor-parallel workers are children of the API server) → NVML's compute
   processes per GPU (``nvmlDeviceGetComputeRunningProcesses``; on a MIG GPU the process's GPU
   instance and compute instance pick the MIG device, whose ``MIG-...`` UUID is returned). When no
   process of that tree holds a GPU, the listener's parent's tree is tried once: TGI's launcher
   starts the router (which listens) and the model shards (which hold the GPUs) as siblings.
   Only targets on this host resolve (a loopback URL, or an address of one of this host's
   interfaces). NVML reports PIDs of the host's PID namespace, so the sidecar must run there
   (on the host, ``hostPID: true`` or ``docker run --pid=host``) and be able to read the engine's
   ``/proc/<pid>/fd`` (root, or the engine's user) for psutil to map sockets to PIDs; where it
   cannot, it logs why once and the configuration stands in.

Resolution runs in the collection loop (never on the scrape path) and at most once per
``refresh`` seconds; a failure of NVML or of one GPU leaves the previous answer for that
source and never stops the scrape of the engines.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Protocol
from urllib.parse import urlsplit

import psutil

from axonize.gpu_processes import gpu_uuids_by_pid
from axonize.host import host_pid_namespace
from axonize.nvml import NvmlUnavailable, load

from .targets import Target

log = logging.getLogger(__name__)


class GpuAttribution(Protocol):
    def resolve(self, targets: Sequence[Target]) -> dict[str, tuple[str, ...]]:
        """``{server: NVML UUIDs of the GPUs or MIG devices its engine uses}``; empty tuple when unknown."""
        ...


class ConfiguredGpus:
    """The ``gpus`` list of each target's configuration (``GPU-...`` / ``MIG-...`` UUIDs)."""

    def resolve(self, targets: Sequence[Target]) -> dict[str, tuple[str, ...]]:
        return {t.server: t.gpus for t in targets}


# --------------------------------------------------------------------------- processes


def local_addresses() -> set[str]:
    """Every IP address of this host's interfaces (psutil), plus the loopback and wildcard addresses."""
    out = {"127.0.0.1", "::1", "0.0.0.0", "::"}
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                out.add(a.address.split("%", 1)[0])
    return out


def target_port(url: str) -> tuple[str, int]:
    """``http://host:port/metrics`` -> ``(host, port)``; the scheme's default port when none is given."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


def is_local(host: str, addresses: set[str]) -> bool:
    """Whether ``host`` (a name or an address) is this host: loopback, or resolving to one of ``addresses``."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
        candidates = {host}
    except ValueError:
        if host == "localhost":
            return True
        try:
            candidates = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return False
    return bool(candidates & addresses) or any(ipaddress.ip_address(c).is_loopback for c in candidates)


def listening_pids(ports: Iterable[int]) -> dict[int, int]:
    """``{port: PID}`` of the processes listening on TCP ``ports`` on any address (psutil.net_connections).

    Sockets whose owner psutil cannot see (another user's, without root) have no PID and are left out.
    """
    wanted = set(ports)
    out: dict[int, int] = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in wanted and conn.pid:
            out.setdefault(conn.laddr.port, conn.pid)
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (psutil); empty when the process is gone."""
    try:
        proc = psutil.Process(pid)
        return [pid, *(child.pid for child in proc.children(recursive=True))]
    except psutil.Error:
        return []


def parent_tree(pid: int) -> list[int]:
    """The tree of ``pid``'s parent, when the parent is neither init (1) nor a kernel thread (0); else empty."""
    try:
        parent = psutil.Process(pid).ppid()
    except psutil.Error:
        return []
    return process_tree(parent) if parent > 1 else []


class ProcessGpus:
    """Automatic resolution: port → PID tree (psutil) → GPUs (NVML), refreshed at most every ``refresh`` seconds.

    ``nvml``: a ``pynvml``-like module, loaded and initialised on first use when None.
    ``host_pids``: whether NVML's PIDs are ours to look up; None detects it (kthreadd at PID 2).
    A target not on this host, or whose tree holds no GPU, resolves to ``()``.
    """

    def __init__(
        self,
        nvml: ModuleType | None = None,
        refresh: float = 30.0,
        host_pids: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._nvml = nvml
        self.refresh = refresh
        self.host_pids = host_pids
        self.clock = clock
        self.unavailable: str | None = None  # why automatic resolution is off, once known
        self._cache: dict[str, tuple[str, ...]] = {}
        self._at: float | None = None
        self._addresses: set[str] | None = None
        self._on_gpu: dict[int, set[str]] | None = None
        self._on_gpu_at = 0.0

    def resolve(self, targets: Sequence[Target]) -> dict[str, tuple[str, ...]]:
        if self.unavailable is None and (self._at is None or self.clock() - self._at >= self.refresh):
            self._at = self.clock()
            try:
                self._cache = self._resolve(targets)
            except Exception as exc:  # psutil or NVML trouble: keep the previous answer, say why
                log.warning("GPU attribution from processes failed, keeping the previous answer: %s: %s", type(exc).__name__, exc)
        return {t.server: self._cache.get(t.server, ()) for t in targets}

    def by_pid(self, pids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        """``{pid: UUIDs its process tree uses}`` for processes of this host, as NVML lists them (spans' ``process.pid``).

        NVML's process lists are read at most once per ``refresh`` seconds; a PID whose tree holds no GPU,
        or any PID when automatic resolution is off, maps to ``()``. Blocks (psutil, NVML): call it off the event loop.
        """
        pids = list(pids)
        if self.unavailable is None and (self._on_gpu is None or self.clock() - self._on_gpu_at >= self.refresh):
            if not (self.host_pids if self.host_pids is not None else host_pid_namespace()):
                self._off("this is not the host's PID namespace (run with hostPID: true / --pid=host)")
            else:
                nvml = self._load()
                if nvml is not None:
                    self._on_gpu, self._on_gpu_at = gpu_uuids_by_pid(nvml), self.clock()
        if self.unavailable is not None or self._on_gpu is None:
            return dict.fromkeys(pids, ())
        return {pid: uuids_of(process_tree(pid), self._on_gpu) for pid in pids}

    def _load(self) -> ModuleType | None:
        if self._nvml is not None:
            return self._nvml
        try:
            self._nvml = load()
        except NvmlUnavailable as exc:
            self._off(f"NVML is not available ({exc})")
        return self._nvml

    def _off(self, why: str) -> None:
        self.unavailable = why
        log.info("GPU attribution from processes is off: %s; targets[].gpus in the configuration stand in", why)

    def _resolve(self, targets: Sequence[Target]) -> dict[str, tuple[str, ...]]:
        host_pids = self.host_pids if self.host_pids is not None else host_pid_namespace()
        if not host_pids:
            self._off("this is not the host's PID namespace (run with hostPID: true / --pid=host)")
            return {}
        nvml = self._load()
        if nvml is None:
            return {}
        if self._addresses is None:
            self._addresses = local_addresses()
        local = {t.server: target_port(t.url) for t in targets if not t.url.startswith("file:")}
        local = {server: port for server, (host, port) in local.items() if is_local(host, self._addresses)}
        if not local:
            return {}
        listeners = listening_pids(local.values())
        on_gpu = gpu_uuids_by_pid(nvml)
        out: dict[str, tuple[str, ...]] = {}
        for server, port in local.items():
            pid = listeners.get(port)
            if pid is None:
                continue
            out[server] = uuids_of(process_tree(pid), on_gpu) or uuids_of(parent_tree(pid), on_gpu)
        return out


def uuids_of(pids: Iterable[int], on_gpu: Mapping[int, set[str]]) -> tuple[str, ...]:
    """The sorted UUIDs that any of ``pids`` uses according to ``on_gpu`` (:func:`axonize.gpu_processes.gpu_uuids_by_pid`)."""
    return tuple(sorted(set().union(*(on_gpu.get(pid, set()) for pid in pids))))


class Attribution:
    """The configuration first, then (when given) the processes: ``{server: UUIDs}`` per cycle."""

    def __init__(self, processes: ProcessGpus | None = None):
        self.configured = ConfiguredGpus()
        self.processes = processes

    def resolve(self, targets: Sequence[Target]) -> dict[str, tuple[str, ...]]:
        out = self.configured.resolve(targets)
        pending = [t for t in targets if not out[t.server]]
        if pending and self.processes is not None:
            for server, uuids in self.processes.resolve(pending).items():
                out[server] = uuids
        return out
