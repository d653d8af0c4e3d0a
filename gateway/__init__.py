"""``axonize-gateway``: an OpenAI-compatible reverse proxy that meters every request per customer and model.

One file per concern, in the order a request meets them: :mod:`.config` (settings, upstreams),
:mod:`.identity` (API key -> salted hash -> customer), :mod:`.routing` (the request's ``model`` ->
upstream; errors in OpenAI's shape), :mod:`.streaming` (SSE passed through event by event, usage
read and its added chunk removed), :mod:`.metering` (prometheus_client metrics, customer cap),
:mod:`.usage_log` (JSON-lines records written off the request path), :mod:`.proxy` (the aiohttp
application tying them together) and :mod:`.cli`.
"""
