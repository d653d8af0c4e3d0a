"""One row of the ``axonize_*`` exposition: a registered name bound to the snapshot values it shows.

What a family *is* (type, unit, labels, help) is the names registry's row
(:func:`axonize.names.get`); a :class:`Metric` adds only how its samples are read
from a :class:`~axonize.exporter.snapshot.Snapshot` and, for docs/metrics.md,
where the value comes from. ``samples(snapshot)`` yields ``(label values, value)``
in the order of the registry's labels; it reads fields and nothing else (no
parsing, no I/O: derived values are computed once per cycle before rendering).

Sample (the row ``scalar("axonize_gpu_memory_total_bytes", "memory_total_bytes")``)::

    axonize_gpu_memory_total_bytes{gpu="0",uuid="GPU-b42dd28e-ffdd-8720-1df0-98bd8cdc05b1"} 8.5520809984e+010
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from axonize import exposition_text, names

from ..snapshot import Gpu, Snapshot

Sample = tuple[tuple[str, ...], float]
Samples = Callable[[Snapshot], Iterable[Sample]]


@dataclass(frozen=True)
class Metric:
    """A registered family and how to read it: ``name``, ``samples``, and the docs' source.

    ``attr`` names the :class:`~axonize.exporter.snapshot.Gpu` attribute the row reads when it is one
    the replay's field tables map (docs/metrics.md then gives the nvidia-smi paths from those tables);
    ``source`` says where the value comes from otherwise. ``type``, ``unit``, ``labels`` and ``help``
    are the registry's; a name missing there is a KeyError when the row is built.
    """

    name: str
    samples: Samples
    source: str = ""
    attr: str = ""
    row: names.Name = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", names.get(self.name))

    @property
    def type(self) -> str:
        return self.row.type

    @property
    def unit(self) -> str:
        return self.row.unit

    @property
    def labels(self) -> tuple[str, ...]:
        return self.row.labels

    @property
    def help(self) -> str:
        return self.row.help

    @property
    def written_name(self) -> str:
        """The name in the exposition: prometheus_client's, so a counter ends in ``_total``."""
        return self.name.removesuffix("_total") + "_total" if self.type == "counter" else self.name

    def family(self, snapshot: Snapshot) -> exposition_text.Table:
        """This row's family for ``snapshot``, for the core writer (an info row is a gauge of value 1).

        Written by :class:`axonize.exposition_text.Writer`, it reads byte for byte as the
        prometheus_client ``CounterMetricFamily`` / ``GaugeMetricFamily`` of the same samples
        through ``generate_latest`` (tests/exporter/test_text_identity.py).
        """
        fam = exposition_text.Table(self.written_name, "counter" if self.type == "counter" else "gauge", self.help, self.labels)
        fam.samples = list(self.samples(snapshot))
        return fam


def gpu_key(gpu: Gpu) -> tuple[str, str]:
    """The ``gpu`` and ``uuid`` label values every per-GPU series starts with."""
    return (str(gpu.index), gpu.uuid)


def scalar(name: str, attr: str, source: str = "") -> Metric:
    """One sample per GPU whose ``attr`` is not None: ``{gpu, uuid} value``."""

    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            value = getattr(gpu, attr)
            if value is not None:
                yield gpu_key(gpu), float(value)

    return Metric(name, samples, source, attr)


def flag(name: str, attr: str) -> Metric:
    """1 or 0 per GPU whose boolean ``attr`` is known."""

    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            value = getattr(gpu, attr)
            if value is not None:
                yield gpu_key(gpu), 1.0 if value else 0.0

    return Metric(name, samples, attr=attr)


def keyed(name: str, attr: str) -> Metric:
    """One sample per key of the GPU's dict ``attr``, the key as the last label, sorted."""

    def samples(snap: Snapshot) -> Iterator[Sample]:
        for gpu in snap.gpus:
            for key, value in sorted(getattr(gpu, attr).items()):
                yield gpu_key(gpu) + (key,), float(value)

    return Metric(name, samples, attr=attr)


NVML_SOURCE = "NVML"
TOPO_SOURCE = "nvidia-smi topo -m"
