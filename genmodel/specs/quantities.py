"""Pydantic field types that accept vendor-style quantity strings and store SI floats.

``Bytes`` (``BytesOrZero``), ``BytesPerSecond``, ``FlopsPerSecond``, ``Watts``, ``Seconds``, ``USD``, ``USDPerHour``,
``Joules`` and ``Hertz`` are ``float`` fields in SI base units; a data file may give them as numbers (already SI) or
as strings such as ``"80 GB"`` (parsed by ``genmodel.specs.units.parse_quantity``). The spec base class
``FrozenSpec`` forbids unknown fields and freezes instances.
"""

from __future__ import annotations

import contextvars
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from genmodel.specs.files import spec_error
from genmodel.specs.units import parse_quantity


def _parser(dimension: str):
    def parse(value: object) -> object:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            number = parse_quantity(value, dimension)
            if number != number or number in (float("inf"), float("-inf")):
                shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:20]}... ({len(str(value))} characters)"
                raise ValueError(f"must be a finite {dimension} quantity, got {shown}")
            return number
        return value

    return parse


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be positive, got {value}")
    return value


def _within(low: float, high: float, unit: str):
    """A check that a value lies in [low, high]. The ranges are physically meaningful bounds far outside any real
    device (below), so that no figure computed from an entry overflows or underflows into inf, 0 or NaN and every
    accepted value is one a device or a price could have."""
    def check(value: float) -> float:
        if value < low or value > high:
            raise ValueError(f"must be between {low:g} and {high:g} {unit}, got {value:g}")
        return value

    return check


# Physically meaningful ranges (SI units). Capacities and byte counts up to 1e18 B (an exabyte: a million times a
# device's memory); bandwidths from 1e6 B/s (1 MB/s, slower than any memory or link a model is served over) to
# 1e18 B/s (about 50x a wafer-scale chip's on-chip SRAM bandwidth, 21 PB/s for Cerebras WSE-3); peak throughput
# from 1e6 FLOP/s to 1e21 FLOP/s (a zettaFLOP/s: about 10^5 B200s at FP4); power up to 1e9 W (a gigawatt campus);
# durations (per-step and per-kernel overheads, link latencies, latency targets) up to 86,400 s (a day); prices up
# to 1e12 USD and 1e9 USD per hour; energies per FLOP or bit up to 1 J (about 10^11 times a modern device's).
MAX_BYTES = 1e18


def _quantity(dimension: str, low: float, high: float, unit: str, above_zero: bool = False):
    """A float field of ``dimension`` (a number in SI units or a quantity string), above zero or not negative, and
    within [low, high] ``unit``."""
    sign = _positive if above_zero else _non_negative
    return Annotated[float, BeforeValidator(_parser(dimension)), AfterValidator(sign),
                     AfterValidator(_within(low, high, unit))]


Bytes = _quantity("bytes", 0.0, MAX_BYTES, "B", above_zero=True)
BytesOrZero = _quantity("bytes", 0.0, MAX_BYTES, "B")
BytesPerSecond = _quantity("bytes_per_s", 1e6, 1e18, "B/s", above_zero=True)
FlopsPerSecond = _quantity("flops", 1e6, 1e21, "FLOP/s", above_zero=True)
Watts = _quantity("watts", 0.0, 1e9, "W")
Seconds = _quantity("seconds", 0.0, 86400.0, "s")
USD = _quantity("usd", 0.0, 1e12, "USD")
USDPerHour = _quantity("usd_per_h", 0.0, 1e9, "USD/h")
Joules = _quantity("joules", 0.0, 1.0, "J")
Hertz = _quantity("hertz", 1e6, 1e11, "Hz", above_zero=True)


_ENTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,99}")


def entry_name(value: str) -> str:
    if not _ENTRY_NAME.fullmatch(value):
        raise ValueError("must be a database key: letters, digits, '.', '_', ':', '+' and '-' (no spaces), starting "
                         f"with a letter or digit, at most 100 characters; got {value[:40]!r}")
    return value


def _display_name(value: str) -> str:
    if not value.strip() or len(value) > 200 or any(not c.isprintable() for c in value):
        raise ValueError(f"must be a printable name of 1 to 200 characters, got {value[:40]!r}")
    return value


# an entry's key (what commands and lookups name it by) and its human-readable name
EntryName = Annotated[str, AfterValidator(entry_name)]
DisplayName = Annotated[str, AfterValidator(_display_name)]


def _number_text(value: object) -> object:
    """A plain number written as text (YAML 1.1 reads '671e9' as a string) becomes a float."""
    if isinstance(value, str):
        try:
            return float(value.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"must be a number, got {value[:40]!r}") from None
    return value


# a count such as a parameter total, written as a number or as text like '671e9'
Number = Annotated[float, BeforeValidator(_number_text)]


# how deep in spec validation this thread is: only the outermost call turns Pydantic's error into a SpecError
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("genmodel_spec_depth", default=0)


class FrozenSpec(BaseModel):
    """Base for all specs: immutable, unknown fields rejected, strict types; bad input raises ``SpecError``."""

    # strict: no silent coercion ("12" or True for a count, "no" for a flag); NaN and infinities refused. defer_build:
    # a class's validator is built when it first validates, not when the class is defined, so a process builds only the
    # specs it reads (the CLI's start: about 70 ms of schema building at import, of which an estimate uses a third)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True, allow_inf_nan=False,
                              defer_build=True)

    def __init__(self, /, **data) -> None:
        token = _depth.set(_depth.get() + 1)
        try:
            super().__init__(**data)
        except ValidationError as exc:  # one readable line naming the fields, a genmodel error (ValueError)
            if _depth.get() == 1:
                raise spec_error(type(self).__name__, exc) from None
            raise  # a nested spec: Pydantic merges its errors into the outer one, with their paths
        finally:
            _depth.reset(token)

    @classmethod
    def model_validate(cls, obj, *args, **kwargs):
        """Validate ``obj`` into this spec; a ``SpecError`` (one line naming every field at fault) on failure."""
        token = _depth.set(_depth.get() + 1)
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            if _depth.get() == 1:
                raise spec_error(cls.__name__, exc) from None
            raise
        finally:
            _depth.reset(token)
