"""The rules' configuration is the bundle configuration of the core: :mod:`axonize.bundle` (axonize/bundle.yml).

Kept so that ``axonize.rules.config.load()`` and ``RulesConfig`` still resolve
for code not yet moved to :mod:`axonize.bundle`; new code imports that module.
"""
from axonize.bundle import (  # noqa: F401  (re-exported)
    CONTAINER_SPLITS,
    GRADE_LETTERS,
    PACKAGED,
    RESERVED_LABELS,
    SECTIONS,
    Bundle,
    Efficiency,
    Selectors,
    load,
    parse,
)

RulesConfig = Bundle
