"""Facts about the host this process runs on that more than one component needs."""

from __future__ import annotations

from pathlib import Path


def host_pid_namespace(procfs: str | Path = "/proc") -> bool:
    """Whether ``procfs`` shows the host's PID namespace, where NVML's PIDs can be looked up.

    Kernel threads are visible only there, and ``kthreadd`` is always PID 2 (``<procfs>/2/comm``).
    False when the file is missing or unreadable: a container's own namespace, or a procfs elsewhere.
    """
    try:
        return (Path(procfs) / "2" / "comm").read_text().strip() == "kthreadd"
    except OSError:
        return False
