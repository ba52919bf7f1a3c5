"""Shortcuts of the lean (blocked) evaluation give the same values as the general code they stand for."""

from dataclasses import replace

import numpy as np
import pytest

import genmodel
from genmodel.engine import roofline
from genmodel.engine.operators import DTypes, build_operators
from genmodel.engine.parallel import Parallelism, _not_dividing


@pytest.mark.parametrize("model", ["llama-3.1-70b", "deepseek-v3", "mixtral-8x7b"])
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_unstacked_shape_columns_give_the_stacked_rows(model, phase):
    """``build_operators(stack_shapes=False)``: every row of the GEMM shape columns, asked for by ``shape_rows``, is
    the stacked table's row, and the tables agree elsewhere; stacking on demand (``select``) gives the columns."""
    spec = genmodel.get_model(model)
    rng = np.random.default_rng(5)
    tp = rng.choice([1, 2, 4, 8], 40)
    par = Parallelism(tp=tp, ep=8, attention_dp=True) if spec.moe is not None else Parallelism(tp=tp)
    batch, tokens = rng.uniform(1, 64, 40), rng.integers(1, 4000, 40).astype(float)
    context = None if phase == "prefill" else (tokens, tokens + 100)
    args = (spec, phase, batch, 1 if phase == "decode" else tokens, context, DTypes("fp8", "bf16", "bf16"), par)
    stacked, lean = build_operators(*args), build_operators(*args, stack_shapes=False)
    rows = np.arange(len(stacked.names))
    assert lean.shape_shapes() == (stacked.gemm_m.shape, stacked.gemm_n.shape)
    for side, column in (("m", stacked.gemm_m), ("n", stacked.gemm_n)):
        assert np.array_equal(lean.shape_rows(side, rows), column, equal_nan=True)
        assert np.array_equal(lean.shape_rows(side, rows[::-3]), column[rows[::-3]], equal_nan=True)
    assert np.array_equal(lean.flops, stacked.flops)
    # the weight and activation bytes are kept as row values, stacked on demand into the stacked table's columns
    assert lean.byte_rows is not None and lean.byte_shape() == stacked.weight_bytes.shape
    for i, (weight, act) in enumerate(zip(*lean.byte_rows[:2], strict=True)):
        assert np.all(np.asarray(weight) == stacked.weight_bytes[i]) and np.all(np.asarray(act) == stacked.act_bytes[i])
    # the KV column holds the rows of kv_rows only; every other row of the stacked column is 0
    kv_rows = list(stacked.kv_rows)
    assert lean.kv_compact and lean.kv_rows == stacked.kv_rows
    assert np.array_equal(lean.kv_bytes, stacked.kv_bytes[kv_rows])
    assert np.array_equal(lean.kv_of_rows(np.asarray(kv_rows)), stacked.kv_bytes[kv_rows])
    assert not np.delete(stacked.kv_bytes, kv_rows, axis=0).any()
    assert np.array_equal(lean.kv_column(), stacked.kv_bytes)
    alone = build_operators(*args, stack_shapes=False)
    alone.stack_bytes()
    assert alone.byte_rows is None
    assert np.array_equal(alone.weight_bytes, stacked.weight_bytes) and np.array_equal(alone.act_bytes,
                                                                                        stacked.act_bytes)
    picked = lean.select([True] * len(rows))
    assert np.array_equal(picked.gemm_m, stacked.gemm_m, equal_nan=True)
    assert np.array_equal(picked.gemm_n, stacked.gemm_n, equal_nan=True)
    assert not picked.kv_compact and np.array_equal(picked.kv_bytes, stacked.kv_bytes)
    assert np.array_equal(picked.weight_bytes, stacked.weight_bytes)
    assert np.array_equal(picked.act_bytes, stacked.act_bytes)


def test_not_dividing_is_the_remainder_test():
    """``_not_dividing(a, b)`` is ``np.mod(a, b) != 0`` for whole numbers, up to the largest degree."""
    b = np.concatenate([np.arange(1.0, 3000.0), [2.0**20, 2.0**20 - 1, 2.0**19 + 1]])
    for a in (1, 7, 64, 96, 128, 256, 2**20, 2**20 - 1, 3**12, 720720):
        assert np.array_equal(_not_dividing(a, b), np.mod(a, b) != 0)
        assert np.array_equal(_not_dividing(b, float(a)), np.mod(b, float(a)) != 0)


def test_does_work_is_any_positive_column():
    """``_does_work``: whether a row's FLOPs or any of its byte counts are > 0, with or without all activation
    bytes > 0, and with the KV bytes read on the given rows only."""
    rng = np.random.default_rng(2)
    table = build_operators(genmodel.get_model("llama-3.1-8b"), "decode", rng.uniform(1, 9, 30), 1,
                            (np.full(30, 100.0), np.full(30, 200.0)), DTypes("bf16", "bf16", "bf16"))
    for zeros in (0.0, 0.5):
        for f in ("flops", "weight_bytes", "kv_bytes", "act_bytes"):
            column = getattr(table, f).copy()
            column[rng.random(column.shape) < zeros] = 0.0
            setattr(table, f, column)
        expected = (table.flops > 0) | (table.weight_bytes > 0) | (table.kv_bytes > 0) | (table.act_bytes > 0)
        assert np.array_equal(roofline._does_work(table), expected)
        kv_rows = np.asarray(table.kv_rows, dtype=np.intp)
        outside = np.setdiff1d(np.arange(len(table.names)), kv_rows)
        table.kv_bytes[outside] = 0.0
        expected = (table.flops > 0) | (table.weight_bytes > 0) | (table.kv_bytes > 0) | (table.act_bytes > 0)
        assert np.array_equal(roofline._does_work(table, kv_rows), expected)


@pytest.mark.parametrize("low, high", [(64, 128), (16, 128), (8, 128), (16, 64), (8, 32), (48, 128), (1, 16),
                                       (200, 100)])
def test_tile_heights_by_comparison_are_the_powers_of_two_formula(low, high):
    """``_m_side``'s tile heights from the bounds of ``_tile_steps`` give what clip(exp2(ceil(log2 m)), low, high)
    gives, bit for bit: on random and whole row counts, on the floats next to every power of two up to 2**12, and on
    0, 1, inf and NaN."""
    from genmodel.engine.efficiency import KIND_PHYSICS, _m_side

    rng = np.random.default_rng(3)
    near = [2.0**k + np.arange(-40, 41) * 2.0 ** (k - 52) for k in range(13)]
    m = np.concatenate([rng.uniform(0, 600, 4000), rng.integers(0, 5000, 4000).astype(float), *near,
                        [0.0, 1.0, np.inf, np.nan]])
    physics = replace(KIND_PHYSICS["gpu"], matrix_unit_rows=low, gemm_tile=(high, 128))
    with np.errstate(invalid="ignore"):
        share, steps = _m_side(m, physics)
        rows = np.maximum(m, 1.0)
        tile = np.clip(np.exp2(np.ceil(np.log2(rows))), float(low), float(high))
        expected_steps = np.ceil(rows / tile)
        expected_share = rows / (expected_steps * tile)
    for got, expected in ((share, expected_share), (steps, expected_steps)):
        assert np.array_equal(got.view(np.int64), expected.view(np.int64))
