"""``axonize bench``: a load generator for OpenAI-compatible servers, reporting as ``vllm bench serve`` does.

Data flows one way: :mod:`.workload` (what to send) -> :mod:`.run` (when, how many at once) -> :mod:`.client`
(one timed request) -> :mod:`.report` (vLLM's metrics and table), with :mod:`.counters` comparing the engine's
and gateway's /metrics with what was sent. :mod:`.cli` is the command.
"""
