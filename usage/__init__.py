"""``axonize usage``: a per-customer, per-model statement of a calendar month from Prometheus.

:mod:`.month` (the month's UTC range) -> :mod:`.prometheus` (the HTTP API) -> :mod:`.statement` (the queries and the
rows) -> :mod:`.cli` (the table and CSV).
"""
