"""Read one capture file with a size limit and a deadline, so no file can stall or swell the exporter.

A replay reads its files again every cycle, so a file that never ends (``--replay /dev/zero``
reached 24 GB of memory), never opens (a FIFO without a writer) or never answers (a hung NFS
mount) must fail that cycle, not the exporter. :meth:`BoundedReader.read`:

* reads at most ``limit`` bytes (default :data:`MAX_BYTES`, 64 MiB: the largest real
  ``nvidia-smi -q`` captures are well under 1 MiB for 8 GPUs); a longer file is an error naming
  the file and the limit;
* reads in a worker thread and gives up after ``timeout`` seconds; while that read is still stuck,
  the next cycles fail at once for that file rather than start another thread;
* compares the file's size and modification time before and after the read: a file rewritten in
  place while it was read (a torn write) is reported, so half a GPU is never exported silently.

:meth:`BoundedReader.read_if_changed` does the same, except that it first looks at the file's
:class:`FileVersion` (device, inode, size, modification time in ns) and returns no bytes when that
is the version the caller read last time: the caller keeps what it parsed then. The look is an
``fstat`` of the opened file, in the worker thread too: ``open`` makes an NFS client check the
file's attributes with the server (close-to-open consistency), where a bare ``stat`` could answer
from its attribute cache for up to a minute (``acregmax``). Only a regular file whose modification time is
at least :data:`SETTLED_NS` before the read began gets a version: a file written in the same
timestamp tick as the read could be written again in that tick with the same size (a rewrite in
place), and nothing would tell it from the copy read (git's "racily clean" entries, handled the
same way). A file replaced atomically (``os.replace``) has a new inode, one rewritten or appended
a new size or time: either is read again.

Errors are :class:`ReadFailure` with a ``kind`` (``io`` or ``mismatch``) and a message naming the file.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from typing import NamedTuple

#: Largest capture file read, bytes.
MAX_BYTES = 64 * 2**20
#: How long one file may take to open and read, seconds.
TIMEOUT_SECONDS = 5.0
_CHUNK = 2**20
#: How long a file must have been left alone before its version is trusted to stand for its bytes, ns.
SETTLED_NS = 1_000_000_000


class FileVersion(NamedTuple):
    """What tells one content of a regular file from another without reading it (``os.stat`` fields)."""

    device: int
    inode: int
    size: int  # bytes
    mtime_ns: int


class ReadFailure(Exception):
    """The file could not be read this cycle: ``kind`` is ``io`` (unreadable, too big, too slow) or ``mismatch`` (changed while read)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


class BoundedReader:
    """Reads capture files with :func:`read`'s limits; remembers which paths still have a read stuck.

    One per :class:`~axonize.exporter.replay.ReplaySource` (it is the source's state between cycles).
    """

    def __init__(self, limit: int = MAX_BYTES, timeout: float = TIMEOUT_SECONDS):
        self.limit = limit
        self.timeout = timeout
        self._pending: set[str] = set()  # paths whose worker thread is still stuck in open() or read()
        self._lock = threading.Lock()

    def read(self, path: str) -> bytes:
        """The bytes of ``path``; :class:`ReadFailure` when it is unreadable, over the limit, too slow or torn."""
        return self.read_if_changed(path, None)[1]  # type: ignore[return-value]

    def read_if_changed(self, path: str, known: FileVersion | None) -> tuple[FileVersion | None, bytes | None]:
        """``(version, bytes)`` of ``path``; ``(known, None)`` when the file is still at version ``known``.

        ``version`` is None for a file that may not be skipped next time (not a regular file, or
        modified less than :data:`SETTLED_NS` before this read). Errors: those of :meth:`read`.
        """
        with self._lock:
            if path in self._pending:
                raise ReadFailure(
                    "io", f"an earlier read has not returned after {self.timeout:g}s (a FIFO without a writer, or a hung mount?)"
                )
            self._pending.add(path)
        result: dict[str, object] = {}

        def work() -> None:
            try:
                result["data"] = _read(path, self.limit, known)
            except BaseException as exc:  # handed to the caller's thread
                result["error"] = exc
            finally:
                with self._lock:
                    self._pending.discard(path)

        worker = threading.Thread(target=work, name=f"axonize-replay-read:{os.path.basename(path)}", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise ReadFailure("io", f"no data within {self.timeout:g}s (a FIFO without a writer, or a hung mount?); skipped this cycle")
        if "error" in result:
            raise result["error"]  # type: ignore[misc]
        return result["data"]  # type: ignore[return-value]


def _read(path: str, limit: int, known: FileVersion | None) -> tuple[FileVersion | None, bytes | None]:
    started = time.time_ns()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ReadFailure("io", f"cannot read: {exc.strerror or exc}") from None
    try:
        before = os.fstat(fd)
        if known is not None and stat.S_ISREG(before.st_mode) and _version(before) == known:
            return known, None
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise ReadFailure("io", f"larger than the {limit // 2**20} MiB limit for a capture file; not read")
        after = os.fstat(fd)
    except OSError as exc:
        raise ReadFailure("io", f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if stat.S_ISREG(before.st_mode) and _changed(before, after, size):
        raise ReadFailure("mismatch", "the file changed while it was read (rewritten in place: a torn write); skipped this cycle")
    settled = stat.S_ISREG(after.st_mode) and after.st_mtime_ns <= started - SETTLED_NS
    return (_version(after) if settled else None), b"".join(chunks)


def _version(st: os.stat_result) -> FileVersion:
    return FileVersion(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _changed(before: os.stat_result, after: os.stat_result, size: int | None) -> bool:
    return (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size
