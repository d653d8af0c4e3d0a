"""GPU prices on the snapshot: the $ per hour that applies to each GPU, and each MIG GPU instance's share.

A step of the collection path, between the source and the exposition::

    source.collect() -> Snapshot -> apply_prices(snapshot, table) -> exposition families

so scrapes still only serve bytes. The table is the ``prices:`` section of the
bundle configuration (``--cost.config``, by default the packaged
axonize/bundle.yml; see :mod:`axonize.pricing`). Each cycle, every GPU gets
a :class:`~axonize.exporter.snapshot.GpuPrice` from its host name and model
name, and every MIG device the share of that price its GPU instance costs
(:func:`axonize.mig_profiles.mig_share`: compute slices / the GPU's slices).

A GPU instance whose share cannot be told (no profile, as in a ``-q`` replay
without ``nvidia-smi -L``, or a GPU whose slice count is unknown) gets no MIG
price: one :class:`~axonize.exporter.snapshot.CollectionError` per GPU
(source ``pricing``, kind ``unavailable``) says which, and the exporter logs and
counts it in ``axonize_exporter_collection_errors_total``.
"""

from __future__ import annotations

from axonize import mig_profiles, pricing

from .snapshot import CollectionError, GpuPrice, MigDevice, Snapshot


def apply_prices(snapshot: Snapshot, table: pricing.PriceTable) -> None:
    """Set ``Gpu.price`` and ``MigDevice.price_share_ratio`` on every GPU of the snapshot (in place)."""
    for gpu in snapshot.gpus:
        dollars, row = pricing.price_for(table, snapshot.hostname, gpu.name)
        gpu.price = GpuPrice(dollars, row.source, row.date, row.rule)
        instances: dict[int, list[MigDevice]] = {}
        for dev in gpu.mig_devices:
            instances.setdefault(dev.gpu_instance_id, []).append(dev)
        unpriced = []
        for gi, devices in sorted(instances.items()):
            profile = next((d.profile for d in devices if d.profile), None)  # any CI's name tells its GI's slices
            share = mig_profiles.mig_share(profile, gpu.name)
            for dev in devices:
                dev.price_share_ratio = share
            if share is None:
                unpriced.append(f"{gi} ({profile})" if profile else str(gi))
        if unpriced:
            reason = (
                f"the MIG slice count of {gpu.name or 'an unnamed GPU'!r} is unknown"
                if mig_profiles.gpu_slices(gpu.name) is None
                else "no MIG profile gives their slices (a replay without nvidia-smi -L?)"
            )
            snapshot.errors.append(
                CollectionError(
                    "pricing",
                    f"GPU {gpu.index} ({gpu.uuid})",
                    "unavailable",
                    f"no MIG price for GPU instances {', '.join(unpriced)}: {reason}",
                )
            )


class PricedSource:
    """A collection source whose snapshots carry prices: ``source.collect()`` then :func:`apply_prices`."""

    def __init__(self, source, table: pricing.PriceTable):
        self.source = source
        self.table = table
        self.name = source.name

    def collect(self) -> Snapshot:
        snapshot = self.source.collect()
        apply_prices(snapshot, self.table)
        return snapshot

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()
