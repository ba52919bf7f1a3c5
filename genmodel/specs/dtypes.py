"""Numeric datatypes: their storage size and how they combine in a matrix multiply.

Contract
--------
* ``DTYPES`` lists the datatypes genmodel knows, narrowest last within a family.
* ``bytes_per_element(dtype)``: storage size in bytes (fp6 = 0.75 B, fp4/int4 = 0.5 B). Block-scaled
  formats (MXFP4, NVFP4) also store one scale per 16-32 elements; that overhead (about 3-6%) is
  not included.
* ``compute_dtype(a, b)``: the datatype a kernel multiplying operands of dtypes ``a`` and ``b`` runs at.
  The wider operand wins: fp8 weights with bf16 activations are dequantized and run at the bf16 rate
  (weight-only quantization, as W8A16 / W4A16 kernels do); fp8 x fp8 runs at the fp8 rate.
"""

from __future__ import annotations

from typing import Literal

from genmodel.errors import ConfigurationError

DType = Literal["fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp6", "fp4", "int4"]

DTYPES: tuple[str, ...] = ("fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp6", "fp4", "int4")

_BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0,
          "fp6": 0.75, "fp4": 0.5, "int4": 0.5}
_BITS_RANK = {"fp32": 32, "tf32": 19, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "fp6": 6, "fp4": 4, "int4": 4}
_ALIASES = {"float32": "fp32", "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float8": "fp8",
            "e4m3": "fp8", "fp8_e4m3": "fp8", "mxfp4": "fp4", "nvfp4": "fp4", "mxfp6": "fp6", "w8": "int8",
            "w4": "int4"}


def normalize_dtype(name: str, argument: str | None = None) -> str:
    """Return the canonical dtype name for ``name`` (case-insensitive; 'bfloat16' -> 'bf16').

    ``argument`` names the option or field in the error (e.g. 'kv_dtype')."""
    if not isinstance(name, str):
        raise ConfigurationError(f"{argument + ' must be' if argument else 'expected'} a datatype name such as "
                                 f"'bf16', got {type(name).__name__}", argument)
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _BYTES:
        prefix = f"{argument} " if argument else ""
        raise ConfigurationError(f"{prefix}{name[:40]!r} is not a datatype genmodel knows; choose one of "
                                 f"{', '.join(DTYPES)}", argument)
    return key


def bytes_per_element(dtype: str) -> float:
    """Storage size of one element of ``dtype`` in bytes."""
    size = _BYTES.get(dtype) if type(dtype) is str else None  # a canonical name: what normalize_dtype returns
    return size if size is not None else _BYTES[normalize_dtype(dtype)]


def compute_dtype(a: str, b: str) -> str:
    """Datatype at which a product of an ``a`` operand and a ``b`` operand is computed (wider wins).

    Between equally wide types the first argument wins (fp16 weights x bf16 activations -> fp16).
    """
    a, b = normalize_dtype(a), normalize_dtype(b)
    return a if _BITS_RANK[a] >= _BITS_RANK[b] else b
