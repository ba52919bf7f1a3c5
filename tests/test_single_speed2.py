"""The helpers of a faster single-configuration ``estimate`` (round 2): bit for bit, value and type, what the NumPy
calls and expressions they replace give."""

from __future__ import annotations

import math

import numpy as np
import pytest

import genmodel
from genmodel.engine.estimate import decode_contexts
from genmodel.engine.scalars import any_true, broadcast_pair, ndim, shape_of, where_scalar, zeros_like
from genmodel.engine.step import _bucket_index, _exposed_factor, _scaled
from tests.same_values import same as _same

VALUES = [1.5, -0.0, 0.0, 3, True, False, np.float64(2.25), np.float64(-0.0), np.float64(np.nan), np.int64(7),
          np.bool_(True), np.bool_(False), np.array(4.0), np.array(0.0), np.array([5.0, 0.0]), np.zeros((2, 3)),
          np.array([[6]]), np.arange(6.0).reshape(2, 3)[:, ::2], np.array([True, False]), np.zeros(0),
          np.float32(1.0), [1.0, 2.0], (3,), np.array(np.nan)]


@pytest.mark.parametrize("x", VALUES)
def test_any_true_is_bool_of_np_any(x):
    _same(any_true(x), bool(np.any(x)))


@pytest.mark.parametrize("x", VALUES)
def test_ndim_and_shape_of_are_numpys(x):
    _same(ndim(x), np.ndim(x))
    _same(shape_of(x), np.shape(x))


@pytest.mark.parametrize("a, b", [(np.ones(13), np.zeros(13)), (np.ones((13, 2)), np.ones((13, 1))),
                                  (np.ones(3), np.float64(2.0)), (np.ones(()), np.ones(())), (np.ones(2), [1.0, 2.0]),
                                  (np.arange(6.0).reshape(2, 3)[:, ::2], np.ones((2, 2)))])
def test_broadcast_pair_is_broadcast_arrays(a, b):
    got, want = broadcast_pair(a, b), np.broadcast_arrays(a, b)
    assert type(got) is type(want) and len(got) == len(want) == 2
    for g, w in zip(got, want, strict=True):
        _same(g, w)
        assert (g is a) == (w is a) and (g is b) == (w is b)
        assert np.shares_memory(g, a) == np.shares_memory(w, a)


@pytest.mark.parametrize("x", [v for v in VALUES if not isinstance(v, (list, tuple))] + [np.ones((3, 2)).T])
def test_zeros_like_is_numpys(x):
    got = zeros_like(x)
    _same(got, np.zeros_like(x))
    assert got.flags.f_contiguous == np.zeros_like(x).flags.f_contiguous


@pytest.mark.parametrize("condition", [True, False, np.bool_(True), np.bool_(False), np.array(True),
                                       np.array([True, False])])
@pytest.mark.parametrize("a, b", [(2.0, 1.0), (-0.0, 0.0), (np.nan, 1.0), (2, 1.0), (np.float64(-0.0), 1.0),
                                  (np.array(3.5), 1.0), (np.float64(2.0), np.array(np.nan)), (np.float32(1.0), 0.0),
                                  (np.array([1.0, 2.0]), 0.0), (np.array(7), 1.0)])
def test_where_scalar_is_np_where(condition, a, b):
    _same(where_scalar(condition, a, b), np.where(condition, a, b))


@pytest.mark.parametrize("total, exposed", [(np.float64(2.0), np.float64(1.5)), (np.float64(0.0), np.float64(-0.0)),
                                            (np.array(3.0), np.float64(1.0)), (np.float64(-1.0), np.float64(2.0)),
                                            (np.float64(np.nan), np.float64(1.0)), (np.array(0.0), np.array(0.0)),
                                            (np.float64(1e-300), np.float64(1e300))])
def test_exposed_factor_of_one_configuration(total, exposed):
    with np.errstate(all="ignore"):
        want = np.where(total > 0, exposed / np.where(total > 0, total, 1.0), 0.0)
        _same(_exposed_factor(total, exposed), want)
        parts = {"a": np.float64(0.25), "b": 0.5, "c": np.array(1.0), "d": 3}
        scaled = _scaled(parts, total, exposed)
    for k, v in parts.items():
        _same(scaled[k], v * want)


@pytest.mark.parametrize("value", [np.float64(2.5), np.float64(np.inf), np.float64(-0.0), np.float64(np.nan), 2.5, 3,
                                   np.array(4.0), np.array([1.0, np.inf]), np.float32(1.5)])
def test_band_edges_match_asarray_products(value):
    from genmodel.engine.uncertainty import Band
    band = Band(-0.3, 0.4, 10, "test")
    with np.errstate(invalid="ignore"):
        for got, want in zip(band.times_unchecked(value) + band.rates_unchecked(value),
                             (np.asarray(value) * math.exp(-band.high), np.asarray(value) * math.exp(-band.low),
                              np.asarray(value) * math.exp(band.low), np.asarray(value) * math.exp(band.high)),
                             strict=True):
            _same(got, want)


def test_scaled_without_parts_is_empty():
    assert _scaled({}, np.zeros(2), np.zeros(2)) == {}


@pytest.mark.parametrize("buckets", [(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), (8, 1, 3), (2.5, 7.0)])
@pytest.mark.parametrize("replica", [0.0, -1.0, 0.5, 1.0, 3.0, 3.5, 8.0, 511.0, 512.0, 513.0, np.inf, np.nan])
def test_captured_batch_of_one_value(buckets, replica):
    from genmodel.engine.step import _captured
    ordered = np.asarray(sorted(buckets), dtype=float)
    value = np.float64(replica)
    index = _bucket_index(buckets, ordered, value)
    want = np.where((index < len(ordered)) & (value > 0), np.take(ordered, np.minimum(index, len(ordered) - 1)),
                    value)
    got = _captured(buckets, value)
    assert type(got) is np.float64  # the 0-d array's one value (divided by the groups next: a NumPy scalar either way)
    _same(np.asarray(got), np.asarray(want))
    _same(got / np.array(2.0), want / np.array(2.0))
    many = np.array([value, value])
    _same(_captured(buckets, many), np.where((_bucket_index(buckets, ordered, many) < len(ordered)) & (many > 0),
                                             np.take(ordered, np.minimum(_bucket_index(buckets, ordered, many),
                                                                         len(ordered) - 1)), many))


@pytest.mark.parametrize("i, o", [(1024, 256), (7, 1), (np.float64(100.0), np.int64(2)), (np.array(5.0), 3)])
def test_decode_contexts_of_one_configuration(i, o):
    first, last = decode_contexts(i, o, ())
    start = np.asarray(i, dtype=float) + 1
    final = np.asarray(i, dtype=float) + np.maximum(np.asarray(o, dtype=float) - 1, 1)
    _same(first, np.stack([start, final]))
    _same(last, np.stack([final, final]))


def test_configuration_count_is_np_prod():
    for shape in [(), (1,), (3, 4), (0, 5)]:
        _same(math.prod(shape), int(np.prod(shape)))


@pytest.mark.parametrize("model, hw, kw", [
    ("llama-3.1-8b", "h100-sxm", {"batch": 1, "input_tokens": 1024, "output_tokens": 256}),
    ("deepseek-v3", "dgx-h200", {"batch": 16, "tp": 8, "weight_dtype": "fp8"}),
    ("llama-3.1-8b", "h100-sxm", {"tp": 2, "comm_overlap": 0.7, "batch": 32}),
    ("llama-3.1-8b", "h100-sxm", {"tp": 2, "comm_overlap": 0.7, "batch": 1}),
])
def test_single_steps_match_a_one_element_configuration(model, hw, kw):
    """A single configuration's slots equal those of the same configuration given as a one-element array (the path
    of many configurations), value for value."""
    one = genmodel.estimate(model, hw, **kw)
    many = genmodel.estimate(model, hw, **{k: (np.array([v]) if k == "batch" else v) for k, v in kw.items()})
    for step in ("prefill", "decode"):
        a, b = getattr(one, step), getattr(many, step)
        for field in ("slot_s", "ideal_slot_s", "ops_s", "step_overhead_s"):
            np.testing.assert_array_equal(np.asarray(getattr(a, field)).ravel(), np.asarray(getattr(b, field)).ravel())
        assert set(a.comm) == set(b.comm)
        for k in a.comm:
            np.testing.assert_array_equal(np.ravel(a.comm[k]), np.ravel(b.comm[k]))
