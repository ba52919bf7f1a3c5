"""The helpers of the eleventh speed round (issue 14) give the numbers of the code they replace, bit for bit: a blocked
call's bands added over the whole call (``estimate._with_bands``), its inputs converted in one pass
(``estimate._full``), the final decode step's attention products written row by row (``step._multiply_rows``), the
bucket gathers by ``np.take`` (``step._bucket_index``), the exposed-communication factor's zeros by ``np.putmask``
(``step._exposed_factor``) and the remembered broadcast shapes (``operators.broadcast_shape``). Compared element by
element (bits, NaN positions and signs of zeros). No timing is asserted here (benchmarks/ measure speed).
"""

import numpy as np
import pytest

import genmodel
from genmodel.engine import estimate as estimate_module
from genmodel.engine import step as step_module
from genmodel.engine.operators import broadcast_shape


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    floats = a.dtype.kind == "f"
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=floats) \
        and (not floats or np.array_equal(np.signbit(a), np.signbit(b)))


def _configurations(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"batch": rng.integers(1, 300, n), "input_tokens": rng.integers(1, 20000, n),
            "output_tokens": rng.integers(1, 3000, n), "tp": rng.choice([1, 2, 4, 8], n)}


@pytest.mark.parametrize("model, hardware, fixed", [
    ("llama-3.1-70b", "h200-sxm", {"weight_dtype": "fp8"}),
    ("deepseek-v3", "dgx-h200", {"weight_dtype": "fp8", "ep": 8, "attention_dp": True}),
])
def test_a_blocked_calls_bands_are_those_of_one_pass(model, hardware, fixed, monkeypatch):
    """Blocks of 600 configurations (bands added over the whole call) against one pass of each 600 alone: the same
    arrays, and the metrics in the same order."""
    monkeypatch.setattr(estimate_module, "BLOCK_CONFIGURATIONS", 600)
    c = _configurations(1500)
    blocked = genmodel.estimate(model, hardware, check_fit=False, **c, **fixed)
    assert blocked.prefill is None  # (the call ran in blocks)
    for start, stop in ((0, 500), (500, 1000), (1000, 1500)):
        alone = genmodel.estimate(model, hardware, check_fit=False, **{k: v[start:stop] for k, v in c.items()},
                                  **fixed)
        assert list(alone.metrics) == list(blocked.metrics)
        for key, value in alone.metrics.items():
            assert _same(blocked.metrics[key][start:stop], value), key


def test_only_some_bands_of_a_blocked_call():
    """Inside ``only_metrics``: the wanted bands (their figures left out when not wanted), in one pass's order."""
    wanted = ["tpot_s", "fits", "ttft_s_low", "max_batch", "max_batch_high", "output_tokens_per_s_high",
              "tpot_final_s_low"]
    c = _configurations(2000, seed=3)
    with estimate_module.only_metrics(wanted):
        blocked = genmodel.estimate("llama-3.1-70b", "h200-sxm", check_fit=False, **c)
        alone = genmodel.estimate("llama-3.1-70b", "h200-sxm", check_fit=False, **{k: v[:1000] for k, v in c.items()})
    assert list(blocked.metrics) == list(alone.metrics)
    assert set(blocked.metrics) == set(wanted)
    for key, value in alone.metrics.items():
        assert _same(blocked.metrics[key][:1000], value), key


def test_band_sources():
    assert estimate_module._band_sources(frozenset({"ttft_s_low", "tpot_s", "decode_tokens_per_s_high"})) == {
        "ttft_s", "decode_tokens_per_s"}
    assert estimate_module._band_sources(frozenset({"tpot_s", "max_batch_low"})) == frozenset()


@pytest.mark.parametrize("shape, value", [
    ((6,), np.arange(6.0)), ((4, 5), np.arange(5)[None, :] * 3.0), ((4, 5), np.arange(4.0)[:, None]),
    ((3,), 7.0), ((2, 3), True), ((), 5.0), ((), np.float64(2.0)),
])
def test_full_converts_in_one_pass(shape, value):
    """``full(x, dtype)`` against the copy of the broadcast converted after it (``.astype``), C-ordered alike."""
    full = estimate_module._full(shape)
    for dtype in (np.int64, bool, None):
        got = full(value, dtype)
        plain = np.broadcast_to(np.asarray(value), shape).copy()
        plain = plain if dtype is None else plain.astype(dtype)
        if shape == ():
            plain = estimate_module._single(value)
            plain = plain if dtype is None else plain.astype(dtype)
        assert _same(got, plain)
        assert got.flags.c_contiguous and (not shape or got.flags.writeable)


def test_multiply_rows_is_the_indexed_product():
    rng = np.random.default_rng(1)
    for weights_shape, values_shape in (((7, 1, 1), (3, 1, 50)), ((7, 1, 50), (3, 1, 50)), ((7, 1), (3, 50))):
        base = rng.random((7, 1, 50)) if len(weights_shape) == 3 else rng.random((7, 50))
        weights, values = rng.random(weights_shape), rng.random(values_shape)
        values[0, ..., :5] = np.nan
        values[1, ..., :5] = -0.0
        rows = [1, 4, 6]
        plain, got = base.copy(), base.copy()
        plain[rows] = weights[rows] * values
        step_module._multiply_rows(got, rows, weights, values)
        assert _same(got, plain)
    # a value with one entry for all rows: as written
    base, weights, value = rng.random((5, 8)), rng.random((5, 1)), rng.random((1, 8))
    plain, got = base.copy(), base.copy()
    plain[[0, 3]] = weights[[0, 3]] * value
    step_module._multiply_rows(got, [0, 3], weights, value)
    assert _same(got, plain)


def test_bucket_index_by_take_is_searchsorted():
    buckets = (1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 512)
    ordered = np.asarray(sorted(buckets), dtype=float)
    values = np.concatenate([np.linspace(-3.0, 600.0, 4001), [0.0, -0.0, 1.0, 512.0, 512.5, 1e9]])
    assert np.array_equal(step_module._bucket_index(buckets, ordered, values), np.searchsorted(ordered, values))
    assert step_module._bucket_index(buckets, ordered, values).dtype == np.searchsorted(ordered, values).dtype


def test_exposed_factor_zeros_by_putmask():
    rng = np.random.default_rng(2)
    total = rng.random(1000) - 0.3
    total[:10] = 0.0
    total[10:20] = -0.0
    total[20:25] = np.nan
    exposed = rng.random(1000) * total
    exposed[30:35] = -0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        plain = np.where(total > 0, exposed / np.where(total > 0, total, 1.0), 0.0)
    assert _same(step_module._exposed_factor(total, exposed), plain)


def test_broadcast_shape_is_numpys():
    cases = [((3, 1), (1, 4)), ((5,), (2, 5), (1, 1, 5)), ((), (7,)), ((13, 1, 100), (1, 100), (100,)),
             ((2, 3), (2, 3)), ((0,), (1,)), ([4, 1], (4, 6))]
    for shapes in cases * 2:  # (the second time from memory)
        assert broadcast_shape(*shapes) == np.broadcast_shapes(*shapes)
    for _ in range(2):
        with pytest.raises(ValueError):
            broadcast_shape((3,), (4,))
