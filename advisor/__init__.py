"""``axonize advise``: why a GPU host is inefficient and what placement would fix it (InfraLens, issue 14).

samples (exporter/sidecar /metrics text or a Prometheus window) -> :mod:`.model` Host -> findings and a
placement plan -> terminal, JSON, HTML and PDF reports. See :mod:`.model` for the data passed between stages.
"""
