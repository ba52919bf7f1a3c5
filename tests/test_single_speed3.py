"""The helpers of a faster single-configuration ``estimate`` (round 3): bit for bit, value and type, what the NumPy
calls and expressions they replace give."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

import genmodel
from genmodel.engine import collectives
from genmodel.engine.collectives import Network, _inside_only
from genmodel.engine.communication import _all_single
from genmodel.engine.estimate import _single
from genmodel.engine.operators import _value, broadcast_shape
from genmodel.engine.parallel import Parallelism, field_values
from genmodel.engine.scalars import clip
from tests.same_values import same as _same

VALUES = [1.5, -0.0, 0.0, 3, 0, -7, 2**53, 2**53 + 1, -(2**53) - 1, 10**30, True, False, np.float64(2.25),
          np.float64(-0.0), np.float64(np.nan), np.float64(np.inf), np.int64(7), np.bool_(True), np.float32(1.5),
          np.array(4.0), np.array(-0.0), np.array([5.0, 0.0]), np.zeros((2, 3)), np.array([[6]]), None, [1.0, 2.0],
          (3,), np.array(np.nan)]


def _old_single(x):
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    return x if x.shape == () else x.reshape(())


@pytest.mark.parametrize("x", [v for v in VALUES if np.size(v) == 1 and v is not None])
def test_single_is_asarray_reshaped(x):
    got, want = _single(x), _old_single(x)
    _same(got, want)
    assert (got is x) == (want is x)


def _old_value(x):
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


@pytest.mark.parametrize("x", [v for v in VALUES if v is not None])
def test_value_is_float64_conversion(x):
    _same(_value(x), _old_value(x))


CLIPPED = [np.array([0.5, 3.0, 200.0, np.nan, -0.0, np.inf, -np.inf]), np.float64(0.25), np.float64(np.nan),
           np.float64(-0.0), np.array(7.0), np.arange(6.0).reshape(2, 3)[:, ::2], np.array([1, 500]), 3.0, 2,
           np.float32(300.0), np.array([1.0, 2.0], dtype=np.float32)]


@pytest.mark.parametrize("x", CLIPPED)
@pytest.mark.parametrize("low, high", [(1.0, 128.0), (1, np.float64(4.0)), (0.0, np.array([2.0, 9.0, 1.0])),
                                       (-0.0, 0.0), (np.float64(1.0), np.array(3.0))])
def test_clip_is_np_clip(x, low, high):
    try:
        want = np.clip(x, low, high)
    except ValueError:  # (shapes that do not broadcast)
        with pytest.raises(ValueError):
            clip(x, low, high)
        return
    _same(clip(x, low, high), want)


def test_clip_out_of_range_bounds_fall_back():
    x = np.array([1, 2], dtype=np.int8)  # np.clip drops a Python int bound beyond the dtype's range
    _same(clip(x, -1000, 1), np.clip(x, -1000, 1))


@pytest.mark.parametrize("values", [(1, 2.0, True), (np.float64(1.0), np.array(2.0)), (np.ones(2), 1),
                                    (None, 3), (1, [1.0]), (np.zeros((1,)),), ()])
def test_all_single_is_every_ndim_zero(values):
    assert _all_single(*values) == all(type(v) in (int, float, bool) or np.ndim(v) == 0 for v in values)


@pytest.mark.parametrize("n_out, inside, m", [(np.array(1.0), np.zeros(()), 5.0), (np.array(2.0), np.zeros(()), 5.0),
                                              (np.array(1.0), np.zeros(2), np.float64(3.0)),
                                              (np.array(2.0), np.zeros(2), 3.0), (np.ones(3), np.zeros(3), 1.0),
                                              (np.ones(3), np.zeros(1), np.ones(3)), (1.0, np.zeros((2, 1)), 2.0),
                                              (np.ones((2, 1)), np.zeros((2, 1)), np.ones(3))])
def test_inside_only_is_numpys(n_out, inside, m):
    want = (not n_out > 1) if not inside.ndim else \
        (not np.any(n_out > 1) and inside.shape == broadcast_shape(inside.shape, np.shape(n_out), np.shape(m)))
    assert _inside_only(n_out, inside, m) == bool(want)


@pytest.mark.parametrize("obj", [Parallelism(4, 2, 1, 1, True, 1.5, 0.5, None, 2), Parallelism(),
                                 Network(1e9, 1e-6, 8, 5e8, 2e-6), Network(1e9, 1e-6, np.array([8, 4]), 5e8, 2e-6,
                                                                           np.array([0.8, 1.0]), True)])
def test_field_values_are_the_fields_in_order(obj):
    got = field_values(obj)
    want = tuple(getattr(obj, f.name) for f in fields(obj))
    assert type(got) is tuple and len(got) == len(want)
    assert all(g is w for g, w in zip(got, want, strict=True))


def test_a_layouts_field_values_are_parallelisms_fields():
    par = Parallelism(2, 1, 4, 3, True, 1.25, 0.0, 2, 1)
    got = field_values(par)
    assert type(got) is tuple and got == tuple(getattr(par, f.name) for f in fields(Parallelism))


def test_single_collectives_are_unchanged_by_the_fast_checks():
    """The 70B TP4 figures through the one-pass collectives (an [real, ideal] axis on a single configuration)."""
    net = Network(450e9, 1e-6, 8, 50e9, 5e-6, np.array([[0.8], [1.0]]))
    for n in (1, 2, 4, 8, 16):
        for m in (1e3, np.array([1e6]), 2.5e9):
            got = collectives.all_reduce(net, m, n), collectives.all_gather(net, m, n)
            n_in, n_out = net.split(n)
            assert np.array_equal(got[0], np.where(n_out > 1, np.where(n_in > 1, collectives._ring(
                n_in, m, net.up_latency, net.up(n_in), 2), 0.0) + collectives._flat_all_reduce(
                n_out, np.asarray(m) / n_in, net.out_latency, net.out), collectives._flat_all_reduce(
                n_in, m, net.up_latency, net.up(n_in))))
            assert np.all(np.isfinite(got[1]))


def test_estimate_single_figures_are_0d_arrays():
    r = genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=1, input_tokens=1024, output_tokens=256, tp=4)
    assert all(type(v) is np.ndarray and v.shape == () for v in r.metrics.values())
    assert r.metrics["decode_comm_s"] > 0


@pytest.mark.parametrize("width", [1, 2, 63, 64, 200])
@pytest.mark.parametrize("side, ops", [("m", 9), ("n", 5)])
def test_side_without_keys_is_the_side_with_them(width, side, ops):
    """``_gather_keys`` drops the keys of narrow GEMM shape columns: ``_side_rows`` then computes every row, which gives
    the numbers it computes once per distinct key, gathered back at their positions."""
    from genmodel.data.registry import get_hardware
    from genmodel.engine.efficiency import GATHER_FROM, Physics, _gather_keys, _m_side, _n_side, _side_rows

    physics = Physics.of(get_hardware("h100-sxm"))
    rng = np.random.default_rng(width)
    distinct = [rng.integers(1, 5000, width).astype(float) for _ in range(3)] + [np.full(width, np.nan)]
    rows_values = [distinct[i % 4] for i in range(11)]  # rows built from the same value share a key
    column = np.stack(rows_values)
    keys = tuple(id(v) for v in rows_values)
    rows = np.arange(1, 11, dtype=np.intp)
    fn = _m_side if side == "m" else _n_side

    def values(r):
        return column[r]

    def side(k):
        share, steps, position = _side_rows(fn, values, rows, k, physics, ops)
        return (share, steps) if position is None else (share[position], steps[position])

    want = side(keys)
    got = side(_gather_keys(keys, column.shape))
    assert (_gather_keys(keys, column.shape) is None) == (width < GATHER_FROM)
    for g, w in zip(got, want, strict=True):
        _same(g, w)


def test_clip_without_the_private_ufunc_is_np_clip(monkeypatch):
    # under a NumPy that lacks numpy._core.umath.clip (NumPy 1.x), scalars.clip is np.clip itself
    from genmodel.engine import scalars

    monkeypatch.setattr(scalars, "_clip_ufunc", None)
    x = np.array([0.5, 3.0, 700.0, np.nan, -np.inf])
    out = scalars.clip(x, 16.0, 256.0)
    expected = np.clip(x, 16.0, 256.0)
    assert out.dtype == expected.dtype and np.array_equal(out, expected, equal_nan=True)
    assert scalars.clip(np.float64(3.0), 16.0, 256.0) == 16.0
