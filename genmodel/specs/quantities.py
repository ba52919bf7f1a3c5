"""Pydantic field types that accept vendor-style quantity strings and store SI floats.

``Bytes`` (``BytesOrZero``), ``BytesPerSecond``, ``FlopsPerSecond``, ``Watts``, ``Seconds``, ``USD``, ``USDPerHour`` and
``Joules`` are ``float`` fields in SI base units; a data file may give them as numbers (already SI) or
as strings such as ``"80 GB"`` (parsed by ``genmodel.specs.units.parse_quantity``). The spec base class
``FrozenSpec`` forbids unknown fields and freezes instances.
"""

from __future__ import annotations

import contextvars
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from genmodel.specs.files import spec_error
from genmodel.specs.units import parse_quantity


def _parser(dimension: str):
    def parse(value: object) -> object:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            number = parse_quantity(value, dimension)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(f"must be a finite {dimension} quantity, got {value!r}")
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


Bytes = Annotated[float, BeforeValidator(_parser("bytes")), AfterValidator(_positive)]
BytesOrZero = Annotated[float, BeforeValidator(_parser("bytes")), AfterValidator(_non_negative)]
BytesPerSecond = Annotated[float, BeforeValidator(_parser("bytes_per_s")), AfterValidator(_positive)]
FlopsPerSecond = Annotated[float, BeforeValidator(_parser("flops")), AfterValidator(_positive)]
Watts = Annotated[float, BeforeValidator(_parser("watts")), AfterValidator(_non_negative)]
Seconds = Annotated[float, BeforeValidator(_parser("seconds")), AfterValidator(_non_negative)]
USD = Annotated[float, BeforeValidator(_parser("usd")), AfterValidator(_non_negative)]
USDPerHour = Annotated[float, BeforeValidator(_parser("usd_per_h")), AfterValidator(_non_negative)]
Joules = Annotated[float, BeforeValidator(_parser("joules")), AfterValidator(_non_negative)]


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

    # strict: no silent coercion ("12" or True for a count, "no" for a flag); NaN and infinities refused
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, strict=True, allow_inf_nan=False)

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
