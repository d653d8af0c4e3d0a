"""The Axonize inference sidecar: inference engines' /metrics in one vocabulary.

Data flows one way: targets' /metrics text (:mod:`.scrape`) -> the engine's
mapping table (:mod:`.engines`) -> normalized series (:mod:`.normalize`, plain
data in :mod:`.snapshot`) -> the exposition (:mod:`.exposition`), served by
:mod:`axonize.http` as the exporter's is. The vocabulary is :mod:`.normalized`.
"""
