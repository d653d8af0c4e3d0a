"""Axonize: observability for self-hosted AI inference on GPUs.

Components (one folder each in the repository): ``exporter/`` (GPU exporter,
imported as ``axonize.exporter``), ``sidecar/`` (inference-engine metrics),
``rules/``, ``alerts/``, ``grafana/``. This package holds what more than one
component needs: configuration loading, the HTTP server, the umbrella CLI and
the demo.
"""

__version__ = "0.1.0"
