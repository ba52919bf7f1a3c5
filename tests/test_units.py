"""The unit parser: decimal SI by default, binary only when the unit says so, bits vs bytes."""

import pytest

from genmodel.errors import UnitError
from genmodel.specs.units import format_quantity, parse_quantity


@pytest.mark.parametrize(("text", "dimension", "expected"), [
    ("3.35 TB/s", "bytes_per_s", 3.35e12),
    ("80 GB", "bytes", 80e9),
    ("95 GiB", "bytes", 95 * 2**30),
    ("989.4 TFLOPS", "flops", 989.4e12),
    ("1,979 TFLOPS", "flops", 1979e12),
    ("3958 TOPS", "flops", 3958e12),
    ("400 Gb/s", "bytes_per_s", 50e9),  # bits: 400e9 / 8
    ("400 Gbps", "bytes_per_s", 50e9),
    ("700 W", "watts", 700.0),
    ("23 kW", "watts", 23e3),
    ("2 us", "seconds", 2e-6),
    ("2 µs", "seconds", 2e-6),
    ("500 ns", "seconds", 5e-7),
    ("30000 USD", "usd", 30000.0),
    ("$27,500", "usd", 27500.0),
    ("2.5 USD/h", "usd_per_h", 2.5),
    ("5 pJ", "joules", 5e-12),
    (42, "bytes", 42.0),
])
def test_parse(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-12)


def test_gib_differs_from_gb_by_7_4_percent():
    # the GenZ mistake: binary units for decimal vendor figures
    assert parse_quantity("1 GiB", "bytes") / parse_quantity("1 GB", "bytes") == pytest.approx(1.073741824)


@pytest.mark.parametrize(("text", "dimension"), [
    ("80 GB/s", "bytes"), ("3 TFLOPS", "bytes_per_s"), ("fast", "flops"), ("12 parsecs", "bytes"), (True, "bytes"),
])
def test_bad_quantities_raise(text, dimension):
    with pytest.raises(UnitError):
        parse_quantity(text, dimension)


def test_format_quantity():
    assert format_quantity(3.35e12, "B/s") == "3.35 TB/s"
    assert format_quantity(2e-6, "s") == "2 µs"
