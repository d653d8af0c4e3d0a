"""Diagnosis rules: one module per topic, each a function ``findings(host, config) -> list[Finding]``."""
