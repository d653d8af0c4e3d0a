import pytest

from axonize.exporter.replay import values


@pytest.mark.parametrize(
    "parse, text, expected",
    [
        (values.mib, "81559 MiB", 81559 * 2**20),
        (values.mib, "454 MiB", 476053504),
        (values.watts, "100.89 W", 100.89),
        (values.celsius, "-8 C", -8.0),
        (values.hertz, "1980 MHz", 1.98e9),
        (values.kb_per_second, "567 KB/s", 567000.0),
        (values.microseconds, "4251825415 us", 4251.825415),
        (values.ratio, "37 %", 0.37),
        (values.lanes, "16x", 16),
        (values.pstate, "P8", 8),
        (values.integer, "353", 353),
        (values.flag, "Not Active", False),
        (values.flag, "Active", True),
        (values.flag, "Enabled", True),
        (values.flag, "No", False),
    ],
)
def test_values_convert_to_base_units(parse, text, expected):
    assert parse(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["N/A", "[N/A]", "Not Supported", "Requested functionality has been deprecated", ""])
def test_unavailable_words_are_none_not_zero(text):
    assert values.mib(text) is None
    assert values.ratio(text) is None
    assert values.flag(text) is None


@pytest.mark.parametrize("text", ["Unknown Error", "[GPU is lost]", "GPU requires reset"])
def test_fault_words_raise_gpu_fault(text):
    with pytest.raises(values.GpuFault):
        values.watts(text)


@pytest.mark.parametrize(
    "parse, text",
    [
        (values.mib, "12 W"),
        (values.mib, "lots"),
        (values.watts, "100,5 W"),
        (values.pstate, "PX"),
        (values.flag, "maybe"),
        (values.integer, "1.5"),
    ],
)
def test_garbled_values_raise_with_the_text(parse, text):
    with pytest.raises(values.ValueFormatError, match=repr(text.strip())[1:-1]):
        parse(text)
