"""The Axonize GPU exporter: NVIDIA GPUs, MIG instances, processes and topology as Prometheus metrics.

Data flows one way: a backend (NVML, or ``replay`` of nvidia-smi captures) produces a
:class:`~axonize.exporter.snapshot.Snapshot`, the exposition renders it, and
the HTTP server serves the last rendering.
"""
