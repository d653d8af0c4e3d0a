"""Takes the name ``pynvml`` in a subprocess so the exporter talks to the fake NVML (tests only).

Put this folder and the repository root first on PYTHONPATH and the scenario
in AXONIZE_FAKE_NVML: see ``tests.fake_nvml.scenario_env``.
"""

import sys

from tests.fake_nvml import from_env

sys.modules[__name__] = from_env()  # type: ignore[assignment]
