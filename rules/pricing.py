"""The price table moved to the core: :mod:`axonize.pricing` (and the MIG tables to :mod:`axonize.mig_profiles`).

Kept so that ``axonize.rules.pricing`` still resolves for code not yet moved;
new code imports :mod:`axonize.pricing`.
"""
from axonize.pricing import *  # noqa: F401,F403  (re-exported)
from axonize.pricing import (  # noqa: F401  (re-exported)
    GPU_SLICES,
    PACKAGED,
    Electricity,
    HostRow,
    PriceRow,
    PriceTable,
    gpu_slices,
    load,
    mig_share,
    parse,
    price_for,
    profile_slices,
    read_document,
)
