"""Axonize recording rules: one YAML config (selectors, thresholds, grades, GPU prices) rendered into rules/*.yml."""
