"""Writing a result over a temporary the caller no longer reads: the same numbers, one array fewer.

Contract
--------
``owned(a)``: ``a`` is a writable float64 NumPy array that owns its data (not a view of someone else's array) — a
temporary a result may overwrite. ``fits(a, other_shape)``: ``owned(a)`` and ``a`` already has the broadcast shape of
itself and ``other_shape``. ``into(ufunc, a, b, first=True)``: ``ufunc(a, b)`` (``first``) or ``ufunc(b, a)``,
written into ``a`` when ``fits(a, np.shape(b))``, else a new array; the operands keep their order, so every value is
the one the plain expression gives; an ``a`` of fewer than ``SMALL`` values is not checked (the checks cost more than
the array they would save). Callers pass only temporaries of their own as ``a``. ``row_views(shape)``: whether
the rows of an array of ``shape`` (rows first) are long enough for a result written row by row into their views to
save work (``ROW_VIEWS_FROM``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from genmodel.engine.operators import broadcast_shape
from genmodel.engine.scalars import shape_of

# values per row from which ``row_views`` holds: a result written row by row into views of its rows (in place of a
# gather, a whole-array expression and a scatter by advanced indexing) costs a few NumPy calls per row, which the
# saved passes repay only on long rows (a single configuration's rows hold one or two values)
ROW_VIEWS_FROM = 256


def row_views(shape: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` (rows first) has at least ``ROW_VIEWS_FROM`` values per row."""
    return len(shape) > 1 and math.prod(shape[1:]) >= ROW_VIEWS_FROM


def owned(a: Any) -> bool:
    """Whether ``a`` is a writable float64 array owning its data (a temporary that may be overwritten)."""
    return isinstance(a, np.ndarray) and a.base is None and a.dtype == np.float64 and a.flags.writeable


def fits(a: Any, other_shape: tuple[int, ...]) -> bool:
    """``owned(a)`` and ``a`` has the broadcast shape of itself and ``other_shape`` (a result can go into it)."""
    return owned(a) and a.shape == broadcast_shape(a.shape, other_shape)


def into(ufunc: np.ufunc, a: Any, b: Any, first: bool = True) -> np.ndarray:
    """``ufunc(a, b)`` (``first``) or ``ufunc(b, a)``, written into ``a`` when ``fits(a, np.shape(b))``."""
    operands = (a, b) if first else (b, a)
    if type(a) is not np.ndarray or a.size < SMALL:  # (a single value or a few: a new array, without the checks)
        return ufunc(*operands)
    return ufunc(*operands, out=a) if fits(a, shape_of(b)) else ufunc(*operands)


# values below which ``into`` writes a new array without checking ``a``: a single configuration's operator columns
# (tens of rows) gain less from an array saved than ``fits`` costs (valgrind: 2.2% and 1.5% of the instructions of a
# single Llama-3.1-8B and DeepSeek-V3 estimate, 5.63 -> 5.51 M and 8.45 -> 8.33 M)
SMALL = 64
