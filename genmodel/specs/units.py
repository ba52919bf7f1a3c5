"""Parse vendor-style quantities ("3.35 TB/s", "80 GB", "989 TFLOPS") into SI base units.

Contract
--------
``parse_quantity(text, dimension)`` returns a float in the SI base unit of ``dimension``:

===============  =====================  ===========================================
dimension        base unit              accepted spellings (prefix + unit)
===============  =====================  ===========================================
``bytes``        byte                   B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB, bit/b
``bytes_per_s``  byte per second        B/s, GB/s, TB/s, GiB/s, Gb/s, Gbit/s, Gbps
``flops``        operation per second   FLOPS, TFLOPS, PFLOPS, TOPS, POPS, FLOP/s
``watts``        watt                   W, kW, MW
``seconds``      second                 s, ms, us, µs, ns, h
``usd``          US dollar              USD, $ (prefix k/M allowed: "30 kUSD")
``usd_per_h``    US dollar per hour     USD/h, $/h, USD/hr
``joules``       joule                  J, mJ, pJ, fJ, nJ
``hertz``        hertz                  Hz, kHz, MHz, GHz
===============  =====================  ===========================================

Rules (documented in docs/units.md):

* Decimal SI prefixes (k=1e3, M=1e6, G=1e9, T=1e12, P=1e15, E=1e18) unless the prefix is binary
  (Ki, Mi, Gi, Ti, Pi = powers of 1024). Vendors quote HBM capacity and bandwidth in decimal units;
  a GiB figure must say GiB.
* A lower-case ``b`` (``Gb/s``, ``Gbit/s``, ``Gbps``) means bits and is divided by 8.
* A bare number (int or float, or a numeric string) is taken as already being in the base unit.
* Thousands separators (``1,979 TFLOPS``) are accepted.

Anything else raises ``UnitError`` naming the text and the expected dimension.
"""

from __future__ import annotations

import re

from genmodel.errors import UnitError

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}
_SMALL = {"m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}

# unit symbol -> (dimension, factor to the base unit)
_UNITS: dict[str, tuple[str, float]] = {
    "B": ("bytes", 1.0),
    "byte": ("bytes", 1.0),
    "bytes": ("bytes", 1.0),
    "bit": ("bytes", 1 / 8),
    "b": ("bytes", 1 / 8),
    "B/s": ("bytes_per_s", 1.0),
    "Bps": ("bytes_per_s", 1.0),
    "b/s": ("bytes_per_s", 1 / 8),
    "bit/s": ("bytes_per_s", 1 / 8),
    "bps": ("bytes_per_s", 1 / 8),
    "FLOPS": ("flops", 1.0),
    "FLOP/s": ("flops", 1.0),
    "OPS": ("flops", 1.0),
    "OP/s": ("flops", 1.0),
    "W": ("watts", 1.0),
    "s": ("seconds", 1.0),
    "h": ("seconds", 3600.0),
    "USD": ("usd", 1.0),
    "$": ("usd", 1.0),
    "USD/h": ("usd_per_h", 1.0),
    "USD/hr": ("usd_per_h", 1.0),
    "$/h": ("usd_per_h", 1.0),
    "$/hr": ("usd_per_h", 1.0),
    "J": ("joules", 1.0),
    "Hz": ("hertz", 1.0),
}

DIMENSIONS = frozenset(d for d, _ in _UNITS.values())

_NUMBER = r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>\S*)\s*$")


def _split_unit(unit: str) -> tuple[float, str] | None:
    """Split ``unit`` into (prefix factor, known unit symbol), or None if it is not recognised."""
    if unit in _UNITS:
        return 1.0, unit
    for table in (_BINARY, _DECIMAL, _SMALL):
        for prefix, factor in table.items():
            if prefix and unit.startswith(prefix) and unit[len(prefix) :] in _UNITS:
                return factor, unit[len(prefix) :]
    return None


def parse_quantity(value: str | float | int, dimension: str) -> float:
    """Return ``value`` converted to the SI base unit of ``dimension`` (see the module table).

    ``value`` may be a number (already in base units) or a string such as ``"3.35 TB/s"``.
    Raises ``UnitError`` when the text cannot be read or its unit has another dimension.
    """
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}; known: {sorted(DIMENSIONS)}")
    if isinstance(value, bool):
        raise UnitError(f"expected a {dimension} quantity, got the boolean {value!r}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer of more than 308 digits: beyond any quantity (the checks say so)
            return float("inf") if value > 0 else float("-inf")
    if not isinstance(value, str):
        raise UnitError(f"expected a {dimension} quantity such as '80 GB', got {value!r}")
    text = value.strip().replace("Gbps", "Gb/s").replace("GBps", "GB/s").replace("μ", "µ")
    if text.startswith("$") and not text.startswith("$/"):
        text = text[1:].strip() + " USD"
    match = _PATTERN.match(text)
    if not match:
        raise UnitError(f"cannot read {value!r} as a {dimension} quantity (expected e.g. '{_example(dimension)}')")
    number = float(match.group("num").replace(",", ""))
    unit = match.group("unit")
    if not unit:
        return number
    split = _split_unit(unit)
    if split is None:
        raise UnitError(f"unknown unit {unit!r} in {value!r} "
                        f"(expected a {dimension} unit, e.g. '{_example(dimension)}')")
    factor, symbol = split
    found_dim, base = _UNITS[symbol]
    if found_dim != dimension:
        raise UnitError(f"{value!r} is a {found_dim} quantity, but a {dimension} quantity was expected "
                        f"(e.g. '{_example(dimension)}')")
    return number * factor * base


def _example(dimension: str) -> str:
    return {
        "bytes": "80 GB",
        "bytes_per_s": "3.35 TB/s",
        "flops": "989 TFLOPS",
        "watts": "700 W",
        "seconds": "2 us",
        "usd": "30000 USD",
        "usd_per_h": "2.5 USD/h",
        "joules": "5 pJ",
        "hertz": "1.98 GHz",
    }[dimension]


def format_quantity(value: float, unit: str, digits: int = 3) -> str:
    """Format an SI value with a decimal prefix, e.g. ``format_quantity(3.35e12, 'B/s') -> '3.35 TB/s'``."""
    if value != value:  # NaN
        return "n/a"
    if value == 0:
        return f"0 {unit}"
    magnitude = abs(value)
    for prefix, factor in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if magnitude >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    if magnitude >= 1:
        return f"{value:.{digits}g} {unit}"
    for prefix, factor in (("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12)):
        if magnitude >= factor:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"
