"""The helpers of a faster single-configuration ``estimate``: bit for bit what the expressions they replace give."""

from __future__ import annotations

import os

import numpy as np
import pytest

import genmodel
from genmodel.data import registry
from genmodel.engine.estimate import _memory, _single, decode_contexts
from genmodel.engine.inputs import prepare
from genmodel.engine.operators import broadcast_view
from genmodel.engine.parallel import Parallelism
from genmodel.engine.step import Stepper


def _same(a, b) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    if a.dtype.kind == "f":
        assert np.array_equal(np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("x", [1.5, -0.0, 3, True, np.float64(2.25), np.int64(7), np.bool_(False), np.str_("memory"),
                               np.array(4.0), np.array([5.0]), np.array([[6]]), np.float64(np.nan)])
def test_single_is_asarray_reshaped(x):
    got = _single(x)
    assert type(got) is np.ndarray and got.shape == ()
    _same(got, np.asarray(x).reshape(()))


def test_single_keeps_a_0d_array():
    x = np.array(3.0)
    assert _single(x) is x


@pytest.mark.parametrize("x,shape", [(np.arange(6.0), (6,)), (np.arange(6.0).reshape(3, 2), (3, 2)),
                                     (np.array(2.0), ()), (np.arange(3.0).reshape(3, 1), (3, 4)),
                                     (np.arange(8.0)[::2], (4,)), (np.array(1.0), (2, 2))])
def test_broadcast_view_is_broadcast_to(x, shape):
    got, want = broadcast_view(x, shape), np.broadcast_to(x, shape)
    _same(got, want)
    assert got.strides == want.strides and not got.flags.writeable
    assert np.shares_memory(got, x)


def _setup(model="deepseek-v3", hw="dgx-h200", batch=16, tp=8, **kw):
    return prepare(model, hw, batch, 1024, 256, kw.get("weight_dtype", "fp8"), None, None, embedding_dtype=None,
                   parallel=Parallelism(tp, 1, kw.get("ep", 1), 1, kw.get("attention_dp", False), 1.0,
                                        kw.get("comm_overlap", 0.0), None, 1),
                   num_devices=None, prefill_chunk_tokens=8192, flops_scale=1.0, bandwidth_scale=1.0,
                   capacity_scale=1.0, interconnect_scale=1.0, check_fit=False, workload=None, costs=None,
                   requests_per_s=None, efficiency=None, calibrated=True, cooling_w_per_w=None)


_T = np.float64(0.0123456789)
_EXPRESSIONS = (lambda v: (v - 1) * _T, lambda v: _T * v / 3.0, lambda v: np.maximum(v * (v - 1), 1), lambda v: v > 1)


def test_counts_are_the_values_of_the_arrays():
    s = _setup()
    for got, arr in zip(s.counts(), (s.batch, s.input_tokens, s.output_tokens), strict=True):
        assert type(got) is np.float64
        _same(got, arr)
        for expr in _EXPRESSIONS:
            r, w = expr(got), expr(arr)
            assert type(r) is type(w)
            _same(r, w)
    arrays = _setup(batch=np.array([8, 16]))
    assert all(a is b for a, b in zip(arrays.counts(), (arrays.batch, arrays.input_tokens, arrays.output_tokens),
                                      strict=True))


@pytest.mark.parametrize("i,o", [(1024.0, 256.0), (1.0, 1.0), (7.0, 2.0)])
def test_decode_contexts_of_one_configuration(i, o):
    first, last = decode_contexts(np.array(i), np.array(o), ())
    ii = np.asarray(i)
    final = np.broadcast_to(ii + np.maximum(np.asarray(o) - 1, 1), ())
    _same(first, np.stack([np.broadcast_to(ii + 1, ()), final]))
    _same(last, np.stack([final, final]))


@pytest.mark.parametrize("kw", [{}, {"ep": 8, "attention_dp": True, "batch": 64},
                                {"comm_overlap": 0.7, "batch": 32}, {"tp": 4, "batch": 3}])
def test_collective_pair_of_one_configuration_is_two_passes(kw):
    """One pass on a network whose efficiency has a [real, ideal] axis equals the two passes, value and type."""
    s = _setup(**kw)
    mem = _memory(s)
    stepper = Stepper(s, mem.inv_bandwidth, mem.placement)
    net = stepper.net
    for phase, tokens, seqs in (("prefill", 1024.0 * 16, 16.0), ("decode", np.float64(16.0), np.asarray(16.0))):
        real, ideal = stepper._collective_pair(phase, tokens, seqs)
        want = (stepper._collectives(net, phase, tokens, seqs),
                stepper._collectives(net.scaled(efficiency=1.0), phase, tokens, seqs))
        for got, exp in zip((real, ideal), want, strict=True):
            assert list(got) == list(exp)
            for k in exp:
                _same(got[k], exp[k])
                assert np.ndim(got[k]) == np.ndim(exp[k])


def test_pinned_environment_is_read_once(monkeypatch):
    monkeypatch.delenv("GENMODEL_USER_DIR", raising=False)
    before = registry._environment()
    token = registry.pin_environment()
    try:
        monkeypatch.setenv("GENMODEL_USER_DIR", os.path.join(os.sep, "nonexistent-genmodel-user-dir"))
        assert registry._environment() == before  # the reading taken by the pin
    finally:
        registry.unpin_environment(token)
    assert registry._environment() != before  # read again once the pin ends
    monkeypatch.delenv("GENMODEL_USER_DIR")
    assert registry._environment() == before


def test_estimate_unpins_the_environment():
    genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1)
    assert registry._PINNED.get() is None
    with pytest.raises(genmodel.errors.GenmodelError):
        genmodel.estimate("no-such-model", "h100-sxm")
    assert registry._PINNED.get() is None
