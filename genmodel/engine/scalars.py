"""Cheap forms of a few NumPy calls for the values of one configuration (single values, small arrays).

Contract
--------
Each helper returns exactly what the NumPy call it names returns (the same value, type, dtype, shape, memory order
and flags), skipping that call's Python-level wrapper where the argument is a case it handles directly and calling
NumPy otherwise:

* ``any_true(x)``: ``bool(np.any(x))``.
* ``clip(x, low, high)``: ``np.clip(x, low, high)`` (both bounds given).
* ``broadcast_pair(a, b)``: ``np.broadcast_arrays(a, b)`` (the two arrays themselves where they have one shape).
* ``ndim(x)``: ``np.ndim(x)``.
* ``shape_of(x)``: ``np.shape(x)``.
* ``zeros_like(x)``: ``np.zeros_like(x)`` (a fresh writable array of zeros of ``x``'s shape).
* ``where_scalar(condition, a, b)``: ``np.where(condition, a, b)`` (a 0-d array of ``a`` or ``b`` for a single
  ``condition`` and single float64 values ``a`` and ``b``).
"""

from __future__ import annotations

import numpy as np

try:  # the ufunc np.clip calls (numpy/_core/_methods.py ``_clip``); a private name of NumPy 2, absent from NumPy 1
    from numpy._core.umath import clip as _clip_ufunc
except ImportError:  # (then ``clip`` is ``np.clip``)
    _clip_ufunc = None

_BOOLS = (bool, np.bool_)
_FLOATS = (float, np.float64)
_PYTHON_NUMBERS = frozenset({bool, int, float})
_NUMBERS = frozenset({bool, int, float, np.bool_, np.float64, np.int64, np.intp})


def any_true(x) -> bool:
    """``bool(np.any(x))``: a bool as it is, an array's own ``any`` (no dispatch through ``np.any``)."""
    if type(x) in _BOOLS:
        return bool(x)
    if type(x) is np.ndarray:
        return bool(x.any())
    return bool(np.any(x))


def clip(x, low, high):
    """``np.clip(x, low, high)`` with both bounds given (not None): for a float64 array or NumPy float64 scalar, the
    clip ufunc that ``np.clip`` ends in (through ``ndarray.clip`` and NumPy's ``_clip``, which for a float ``x`` and
    two bounds calls it as ``clip(x, low, high)``), without the wrappers; anything else, and everything under a NumPy
    without that ufunc, through ``np.clip``."""
    if _clip_ufunc is not None and low is not None and high is not None and (
            type(x) is np.float64 or (type(x) is np.ndarray and x.dtype == np.float64)):
        return _clip_ufunc(x, low, high)
    return np.clip(x, low, high)


def broadcast_pair(a, b) -> tuple:
    """``np.broadcast_arrays(a, b)``: for two arrays of one shape, the tuple of the two themselves (what NumPy returns
    for them: no array needs a broadcast view), else NumPy's views."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape:
        return a, b
    return np.broadcast_arrays(a, b)


def ndim(x) -> int:
    """``np.ndim(x)``: an array's own ``ndim``, 0 for a Python or NumPy number (no dispatch through ``np.ndim``)."""
    if type(x) is np.ndarray:
        return x.ndim
    if type(x) in _NUMBERS:
        return 0
    return np.ndim(x)


def shape_of(x) -> tuple[int, ...]:
    """``np.shape(x)``: an array's or NumPy number's own ``shape``, () for a Python number (no dispatch through
    ``np.shape``)."""
    if type(x) is np.ndarray or type(x) in _NUMBERS:
        return () if type(x) in _PYTHON_NUMBERS else x.shape
    return np.shape(x)


def zeros_like(x) -> np.ndarray:
    """``np.zeros_like(x)``: for a float64 NumPy scalar (a 0-d array) or C-contiguous float64 array, ``np.zeros`` of
    its shape (C-ordered, as ``zeros_like`` keeps a C-ordered layout); anything else through ``np.zeros_like``."""
    if type(x) is np.float64 or (type(x) is np.ndarray and x.dtype == np.float64 and x.flags.c_contiguous):
        return np.zeros(x.shape)
    return np.zeros_like(x)


def where_scalar(condition, a, b) -> np.ndarray:
    """``np.where(condition, a, b)``: a fresh 0-d float64 array of ``a`` or ``b`` where ``condition`` is a single bool
    (NumPy's or Python's) and ``a`` and ``b`` are single float64 values (Python floats, NumPy float64 scalars or 0-d
    arrays), else ``np.where`` itself."""
    if type(condition) in _BOOLS and _single_float(a) and _single_float(b):
        return np.array(a if condition else b)
    return np.where(condition, a, b)


def _single_float(x) -> bool:
    """Whether ``x`` is one float64 value: a Python float, a NumPy float64 scalar or a 0-d float64 array."""
    return type(x) in _FLOATS or (type(x) is np.ndarray and x.ndim == 0 and x.dtype == np.float64)
