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


# -- Writer: prepare in the cycle, write at the scrape -----------------------------------

ODD_VALUES = [0.0, -0.0, 1.0, -1.5, 1e10, 123456789.0, 1.5e-7, 2.0**63, math.inf, -math.inf, math.nan, 3, True]


def written(writer: text.Writer, families) -> bytes:
    prepared = [writer.prepare(fam) for fam in families]
    writer.next_rendering()
    return text.write_prepared(prepared)


def test_writer_matches_generate_latest_on_odd_values_labels_and_empty_families():
    odd = 'q"\n\\é'
    gauge = GaugeMetricFamily("axonize_g", "help \\ with\nnewline", labels=("z", "a"))
    ours = text.Family("axonize_g", "gauge", "help \\ with\nnewline")
    for i, value in enumerate(ODD_VALUES):
        gauge.add_metric([odd if i % 2 else str(i), "x"], value)
        ours.add((("z", odd if i % 2 else str(i)), ("a", "x")), value)  # unsorted: written sorted, as prometheus_client does
    table = text.Table("axonize_g", "gauge", "help \\ with\nnewline", ("z", "a"))
    table.samples = [((odd if i % 2 else str(i), "x"), value) for i, value in enumerate(ODD_VALUES)]
    counter = CounterMetricFamily("axonize_c_total", "counts", labels=("a",))
    empty = GaugeMetricFamily("axonize_empty", "no samples")
    expected = generate_latest(_Registry([gauge, counter, empty]))
    writer = text.Writer()
    for _ in range(3):  # cold, warm, warm from the previous generation
        assert written(writer, [table, text.Table("axonize_c_total", "counter", "counts", ("a",)), empty]) == expected
        assert (
            written(
                writer, [ours, text.Family("axonize_c_total", "counter", "counts"), text.Family("axonize_empty", "gauge", "no samples")]
            )
            == expected
        )
        assert written(writer, [gauge, counter, empty]) == expected  # prometheus_client's families too


def test_writer_hands_other_prometheus_client_families_to_generate_latest():
    from prometheus_client.core import HistogramMetricFamily, InfoMetricFamily

    hist = HistogramMetricFamily("axonize_h_seconds", "latency", buckets=[("0.1", 1), ("+Inf", 3)], sum_value=0.7)
    info = InfoMetricFamily("axonize_build", "build", value={"version": "1"})
    created = CounterMetricFamily("axonize_c", "with created", value=2, created=1.7e9)
    stamped = GaugeMetricFamily("axonize_t", "timestamped", labels=("a",))
    stamped.add_metric(["1"], 1.0, timestamp=1.7e9)
    families = [hist, info, created, stamped]
    assert written(text.Writer(), families) == generate_latest(_Registry(families))


@pytest.mark.parametrize(
    ("labels", "value", "error"),
    [((("gpu", 0),), 1.0, "label values must be strings"), ((("gpu", "0"),), "N/A", "could not convert"), ((("gpu", "0"),), None, "float")],
)
def test_prepare_refuses_what_it_cannot_write(labels, value, error):
    fam = text.Family("axonize_g", "gauge", "x")
    fam.add(labels, value)
    with pytest.raises((TypeError, ValueError), match=error):
        text.Writer().prepare(fam)


def test_a_table_row_needs_one_string_per_label_name():
    for values, error in (((("0",)), "zip"), (("0", "1", "2"), "zip"), (("0", 1), "label values must be strings")):
        table = text.Table("axonize_t", "gauge", "x", ("gpu", "uuid"), [(values, 1.0)])
        with pytest.raises((TypeError, ValueError), match=error):
            text.Writer().prepare(table)


def test_labels_given_as_lists_are_written_too():
    fam = text.Family("axonize_g", "gauge", "x")
    fam.add([("b", "2"), ("a", "1")], 1.0)
    assert written(text.Writer(), [fam, fam]).count(b'axonize_g{a="1",b="2"} 1.0\n') == 2


def test_label_sets_that_churn_are_forgotten_and_steady_ones_kept():
    writer = text.Writer()

    def pid(n: int) -> text.Table:
        return text.Table("axonize_p", "gauge", "x", ("pid",), [((str(n),), 1.0), (("steady",), 1.0)])

    kept = []
    for n in range(5000):  # a new PID every rendering
        assert (
            written(writer, [pid(n)])
            == f'# HELP axonize_p x\n# TYPE axonize_p gauge\naxonize_p{{pid="{n}"}} 1.0\naxonize_p{{pid="steady"}} 1.0\n'.encode()
        )
        kept.append(sum(len(texts) for texts in writer._labels.values()))
    assert max(kept) <= 2 * 2 + text.Writer.SPARE_LABEL_SETS + 1  # bounded, whatever the churn
    steady = text.Writer()
    for _ in range(3):
        written(steady, [pid(0)])
    assert steady._kept == 2  # nothing forgotten while nothing churns
