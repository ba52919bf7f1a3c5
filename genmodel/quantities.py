"""Pydantic field types that accept vendor-style quantity strings and store SI floats.

``Bytes``, ``BytesPerSecond``, ``FlopsPerSecond``, ``Watts``, ``Seconds``, ``USD``, ``USDPerHour`` and
``Joules`` are ``float`` fields in SI base units; a data file may give them as numbers (already SI) or
as strings such as ``"80 GB"`` (parsed by ``genmodel.units.parse_quantity``). The spec base class
``FrozenSpec`` forbids unknown fields and freezes instances.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from genmodel.units import parse_quantity


def _parser(dimension: str):
    def parse(value: object) -> object:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return parse_quantity(value, dimension)
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


Bytes = Annotated[float, BeforeValidator(_parser("bytes")), AfterValidator(_positive)]
BytesPerSecond = Annotated[float, BeforeValidator(_parser("bytes_per_s")), AfterValidator(_positive)]
FlopsPerSecond = Annotated[float, BeforeValidator(_parser("flops")), AfterValidator(_positive)]
Watts = Annotated[float, BeforeValidator(_parser("watts")), AfterValidator(_non_negative)]
Seconds = Annotated[float, BeforeValidator(_parser("seconds")), AfterValidator(_non_negative)]
USD = Annotated[float, BeforeValidator(_parser("usd")), AfterValidator(_non_negative)]
USDPerHour = Annotated[float, BeforeValidator(_parser("usd_per_h")), AfterValidator(_non_negative)]
Joules = Annotated[float, BeforeValidator(_parser("joules")), AfterValidator(_non_negative)]


class FrozenSpec(BaseModel):
    """Base for all specs: immutable, unknown fields rejected, validated on assignment-free copies."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
