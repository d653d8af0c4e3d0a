"""The core text writer matches prometheus_client's rendering and its parser reads it back."""

from __future__ import annotations

import math

import pytest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from axonize import exposition_text as text


class _Registry:
    def __init__(self, families):
        self._families = families

    def collect(self):
        return self._families


def test_gauge_and_counter_byte_identical_to_prometheus_client():
    value = 'q"\n\\é'
    gauge = GaugeMetricFamily("axonize_g", "help \\ with\nnewline", labels=("a", "b"))
    gauge.add_metric([value, "x"], 1e10)
    gauge.add_metric(["", "y"], -0.5)
    counter = CounterMetricFamily("axonize_c_total", "counts", labels=("a",))
    counter.add_metric(["1"], 3)
    expected = generate_latest(_Registry([gauge, counter]))

    g = text.Family("axonize_g", "gauge", "help \\ with\nnewline")
    g.add((("a", value), ("b", "x")), 1e10)
    g.add((("a", ""), ("b", "y")), -0.5)
    c = text.Family("axonize_c_total", "counter", "counts")
    c.add((("a", "1"),), 3)
    assert text.render([g, c]) == expected


def test_counter_keeps_a_name_without_total():
    fam = text.Family("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries.")
    fam.add((("gpu", "0"),), 2)
    body = text.render([fam]).decode()
    assert "# TYPE DCGM_FI_DEV_PCIE_REPLAY_COUNTER counter\n" in body
    assert 'DCGM_FI_DEV_PCIE_REPLAY_COUNTER{gpu="0"} 2.0\n' in body


def test_histogram_reads_back():
    fam = text.Family("axonize_h_seconds", "histogram", "latency")
    fam.add_histogram((("model", "m"),), [(0.1, 1), (1.0, 3), (math.inf, 4)], 2.5, 4)
    parsed = list(text_string_to_metric_families(text.render([fam]).decode()))
    assert len(parsed) == 1 and parsed[0].type == "histogram"
    buckets = {s.labels["le"]: s.value for s in parsed[0].samples if s.name.endswith("_bucket")}
    assert buckets == {"0.1": 1.0, "1.0": 3.0, "+Inf": 4.0}


def test_empty_family_left_out_and_empty_body():
    assert text.render([text.Family("axonize_e", "gauge", "x")]) == b""


@pytest.mark.parametrize("name", ["1abc", "a-b", "", "a b"])
def test_bad_metric_name_refused(name):
    with pytest.raises(ValueError, match="not a valid metric name"):
        text.Family(name, "gauge", "x")


def test_bad_type_refused():
    with pytest.raises(ValueError, match="type 'summary'"):
        text.Family("axonize_x", "summary", "x")
