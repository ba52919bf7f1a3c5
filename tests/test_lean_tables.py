"""Shortcuts of the lean (blocked) evaluation give the same values as the general code they stand for."""

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
    for f in ("flops", "weight_bytes", "kv_bytes", "act_bytes"):
        assert np.array_equal(getattr(lean, f), getattr(stacked, f))
    picked = lean.select([True] * len(rows))
    assert np.array_equal(picked.gemm_m, stacked.gemm_m, equal_nan=True)
    assert np.array_equal(picked.gemm_n, stacked.gemm_n, equal_nan=True)


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
