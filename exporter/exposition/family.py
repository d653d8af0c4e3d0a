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

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.core import Metric as PromMetric

from axonize import names

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

    def family(self, snapshot: Snapshot) -> PromMetric:
        """The prometheus_client family of this row for ``snapshot`` (an info row is a gauge of value 1)."""
        if self.type == "counter":
            fam: PromMetric = CounterMetricFamily(self.name, self.help, labels=self.labels)
        else:
            fam = GaugeMetricFamily(self.name, self.help, labels=self.labels)
        for labels, value in self.samples(snapshot):
            fam.add_metric(labels, value)
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
