"""One check shared by the single-estimate speed tests: two values are the same in every respect a caller could see."""

from __future__ import annotations

import warnings

import numpy as np


def same(a, b) -> None:
    """The same type, dtype, shape, values (NaN equal), sign bits, memory order and flags."""
    assert type(a) is type(b)
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        if a.dtype.kind == "f":
            assert np.array_equal(np.signbit(a), np.signbit(b))
    else:
        assert a == b or (a != a and b != b)
        if isinstance(a, float):
            assert np.signbit(a) == np.signbit(b)
    if isinstance(a, np.ndarray):
        with warnings.catch_warnings():  # (reading a broadcast view's writeable flag warns of a future change)
            warnings.simplefilter("ignore", FutureWarning)
            assert a.strides == b.strides and a.flags.writeable == b.flags.writeable
        assert a.flags.c_contiguous == b.flags.c_contiguous and a.flags.owndata == b.flags.owndata
