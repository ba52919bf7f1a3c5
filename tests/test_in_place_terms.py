"""Terms written into arrays that already exist give the numbers of the plain expressions they replace (issue 14):
the footprint sums of ``DeviceMemory.max_context`` updated in place, the compute fractions' array filled only on the
rows no GEMM or attention term writes, the KV rows' sums added row by row and the exposed-communication factor of
mixed signs; and a blocked call's metrics are those of its blocks estimated alone. Compared element by element
(bits and signs). No timing is asserted here (benchmarks/ measure speed).
"""

import numpy as np
import pytest

import genmodel
from genmodel.engine import efficiency, inplace
from genmodel.engine import estimate as estimate_module
from genmodel.engine.memory import DeviceMemory
from genmodel.engine.operators import DTypes, build_operators
from genmodel.engine.parallel import Parallelism

N = 400


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    floats = a.dtype.kind == "f"
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=floats) \
        and (not floats or np.array_equal(np.signbit(a), np.signbit(b)))


def _plain_total(memory: DeviceMemory, seqs, input_tokens, output_tokens):
    """``DeviceMemory._total`` as the expressions of ``footprint`` write it."""
    kv = seqs * memory.kv_per_sequence(input_tokens + output_tokens)
    act = np.minimum(seqs * input_tokens / memory.cp, memory.chunk) * memory.per_token + seqs * memory.logits
    return memory.weights + kv + act


@pytest.mark.parametrize("model", ["llama-3.1-70b", "gemma-2-27b", "deepseek-v3", "mixtral-8x7b"])
def test_the_footprint_sum_in_place_is_the_plain_one(model):
    rng = np.random.default_rng(4)
    spec = genmodel.get_model(model)
    for par in (Parallelism(tp=rng.choice([1, 2, 4, 8], N).astype(float)), Parallelism(tp=2)):
        memory = DeviceMemory(spec, DTypes("fp8", "bf16", "bf16"), par)
        seqs = rng.uniform(0.0, 300.0, N)
        seqs[:5] = 0.0
        for n in (rng.uniform(-2.0, 1e5, (5, N)), np.stack([np.zeros(N), np.full(N, np.inf), np.full(N, np.nan)]),
                  rng.uniform(0.0, 5e4, N)):
            zero = np.zeros(())
            with np.errstate(invalid="ignore"):  # inf x 0 on purpose
                assert _same(memory._total(seqs, n, zero), _plain_total(memory, seqs, n, zero))
        n = rng.uniform(0, 9e3, (3, N))
        assert _same(memory._total(3.0, n, np.zeros(())), _plain_total(memory, 3.0, n, np.zeros(())))


@pytest.mark.parametrize("model", ["llama-3.1-70b", "deepseek-v3"])
def test_compute_fractions_fill_only_the_rows_they_do_not_compute(model):
    """Every row of ``compute_fractions``' result is written: the same array as a full fill then the GEMM and
    attention rows (compared with a plain fill of each other row)."""
    rng = np.random.default_rng(1)
    table = build_operators(genmodel.get_model(model), "prefill", rng.uniform(1, 9, 50),
                            rng.integers(1, 5000, 50).astype(float), None, DTypes("fp8", "bf16", "bf16"),
                            Parallelism(tp=rng.choice([1, 2, 4, 8], 50).astype(float)))
    physics = efficiency.Physics.of(genmodel.get_hardware("h200-sxm"))
    out = efficiency.compute_fractions(table, 0.7, 0.6, physics)
    rows = efficiency._other_rows(tuple(table.kinds))
    assert rows and all(table.kinds[r] not in ("gemm", "attention") for r in rows)
    assert np.all(out[list(rows)] == 0.7)
    kinds = {table.kinds[r] for r in range(len(table.kinds)) if r not in rows}
    assert kinds == {"gemm", "attention"}
    assert np.isfinite(out).all()


def test_in_place_ufunc_helper_keeps_the_operand_order():
    a, b = np.array([1.0, -0.0, np.nan]), np.array([[0.0], [2.0]])
    small = np.array([[3.0, 0.0, -0.0], [1.0, 2.0, 5.0]])
    fresh = np.tile(small, (1, 22))  # 132 values: at least inplace.SMALL, so written in place
    assert fresh.size >= inplace.SMALL > small.size
    for ufunc in (np.maximum, np.multiply, np.minimum):
        for first in (True, False):
            for x, in_place in ((fresh.copy(), True), (small.copy(), False)):
                before = x.copy()
                expected = ufunc(x, b) if first else ufunc(b, x)
                got = inplace.into(ufunc, x, b, first=first)
                assert (got is x) == in_place and _same(got, expected)
                assert in_place or _same(x, before)  # (a few values: a new array, the operand untouched)
    assert _same(inplace.into(np.maximum, a, b), np.maximum(a, b))  # a smaller than the result: a new array
    # a view of someone else's array, a read-only or an integer array is never written into
    base = fresh.copy()
    for x in (base[0], np.array([1, 2, 3]), np.broadcast_to(np.array([1.0, 2.0, 3.0]), (3,))):
        before = np.array(x, copy=True)
        got = inplace.into(np.add, x, 1.0)
        assert got is not x and _same(got, before + 1.0) and _same(np.asarray(x), before)
    assert _same(base, fresh)


def test_blocked_metrics_written_into_the_results_are_those_of_separate_blocks(monkeypatch):
    """A call of three blocks: every metric equals that of each block's configurations estimated alone (the first
    block's metrics are copied, the later ones written in place)."""
    monkeypatch.setattr(estimate_module, "BLOCK_CONFIGURATIONS", 1200)
    monkeypatch.setattr(estimate_module, "KEEP_STEPS_UP_TO", 100)
    rng = np.random.default_rng(12)
    n = 3000
    kwargs = {"batch": rng.integers(8, 300, n), "input_tokens": rng.integers(16, 9000, n),
              "output_tokens": rng.integers(1, 3000, n), "tp": rng.choice([1, 2, 4, 8], n),
              "bandwidth_scale": rng.uniform(0.5, 2.0, n)}
    whole = genmodel.estimate("llama-3.1-70b", "h200-sxm", weight_dtype="fp8", check_fit=False, **kwargs)
    for start, stop in ((0, 1000), (1000, 2000), (2000, 3000)):
        part = genmodel.estimate("llama-3.1-70b", "h200-sxm", weight_dtype="fp8", check_fit=False,
                                 **{k: v[start:stop] for k, v in kwargs.items()})
        for key, value in part.metrics.items():
            assert _same(whole.metrics[key][start:stop], value), key


def test_rows_added_one_at_a_time_are_the_indexed_sum():
    from genmodel.engine.roofline import _add_rows

    rng = np.random.default_rng(6)
    for shape, rows in (((13, 50), [2, 4, 5]), ((13, 1, 50), [0, 12]), ((6, 3), [1, 2, 4]), ((4, 2, 3), [3])):
        rows = np.asarray(rows, dtype=np.intp)
        base = rng.normal(size=shape)
        base[0, 0] = -0.0
        for values in (rng.normal(size=(len(rows), *shape[1:])), rng.normal(size=(len(rows), *[1] * (len(shape) - 1))),
                       rng.normal(size=shape[-1]), np.float64(2.5), rng.normal(size=(1, *shape[1:]))):
            a, b = base.copy(), base.copy()
            _add_rows(a, rows, values)
            b[rows] += values
            assert _same(a, b)


def test_the_exposed_factor_of_mixed_signs_is_the_select_with_zeros_negatives_and_non_finite_values():
    from genmodel.engine.step import _exposed_factor

    rng = np.random.default_rng(13)
    total = rng.uniform(-1, 1, 2000) * (rng.random(2000) < 0.7)
    total[:6] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310]
    exposed = rng.uniform(-1, 1, 2000)
    exposed[6:12] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        plain = np.where(total > 0, exposed / np.where(total > 0, total, 1.0), 0.0)
        for t, e in ((total, exposed), (total.reshape(2, 1000), exposed.reshape(2, 1000))):
            assert _same(_exposed_factor(t, e), plain.reshape(t.shape))
