"""The helpers of the sixteenth speed round (issue 14) give the numbers of the code they replace, bit for bit: the
KV rows' memory times written row by row (``roofline._set_kv_rows``), the GEMM and attention rows' compute fractions
written into their rows (``efficiency._gemm_rows_into``, ``_attention_rows_into``), the two GEMM sides multiplied from
their distinct rows (``efficiency._combined_sides``), the piece ends of the longest context gathered through flat
offsets (``memory._take_rows``), the placement of positive amounts without selections (``memory.place``) and the
captured decode batch without a selection where every value has a bucket (``step._captured``). Each is compared with
the plain NumPy expression it replaces, element by element (bits, NaN positions and signs of zeros). No timing is
asserted here (benchmarks/ measure speed).
"""

import numpy as np
import pytest

from genmodel.data.registry import get_hardware
from genmodel.engine import efficiency, memory, roofline, step
from genmodel.engine.efficiency import Physics


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    floats = a.dtype.kind == "f"
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=floats) \
        and (not floats or np.array_equal(np.signbit(a), np.signbit(b)))


def _values(rng, shape, scale=1.0):
    """Positive values over several orders of magnitude, with a few zeros."""
    x = rng.random(shape) * 10.0 ** rng.integers(-6, 6, shape) * scale
    x[rng.random(shape) < 0.05] = 0.0
    return x


@pytest.mark.parametrize("shape", [(7, 300), (7, 1, 300), (5, 2, 40)])
def test_kv_rows_are_the_fancy_indexed_assignment(shape):
    rng = np.random.default_rng(1)
    ideal_m = _values(rng, shape)
    rows = np.array([1, 4, 6]) if shape[0] == 7 else np.array([0, 3])
    kv_m = _values(rng, (len(rows), *shape[1:]))
    expected = ideal_m / 0.85
    expected[rows] = (ideal_m[rows] - kv_m) / 0.85 + kv_m / 0.7
    got = ideal_m / 0.85
    roofline._set_kv_rows(got, rows, ideal_m, kv_m, 0.85, 0.7)
    assert _same(got, expected)
    # a KV term that broadcasts along the rows takes the assignment as written
    got = ideal_m / 0.85
    roofline._set_kv_rows(got, rows, ideal_m, kv_m[:1], 0.85, 0.7)
    expected = ideal_m / 0.85
    expected[rows] = (ideal_m[rows] - kv_m[:1]) / 0.85 + kv_m[:1] / 0.7
    assert _same(got, expected)


@pytest.mark.parametrize("with_scale", [False, True])
@pytest.mark.parametrize("shape", [(9, 300), (9, 40), (9,)])
def test_gemm_rows_are_the_products_assigned(shape, with_scale):
    rng = np.random.default_rng(2)
    rows = np.array([0, 2, 3, 7])
    extra = len(shape) - 1
    per_row = (-1, *([1] * extra))
    efficiency_by_row = 0.8 * np.array([1.0, 0.9, 1.0, 0.75]).reshape(per_row)
    factor = rng.random((len(rows), *shape[1:]))
    scale = np.where(np.array([True, False, True, False]).reshape(per_row), 0.6, 1.0) if with_scale else None
    expected = np.full(shape, 0.5)
    product = efficiency_by_row * factor
    expected[rows] = product if scale is None else product * scale
    got = np.full(shape, 0.5)
    efficiency._gemm_rows_into(got, rows, efficiency_by_row, factor.copy(), scale)
    assert _same(got, expected)


@pytest.mark.parametrize("vector", [None, np.array([0.5, 0.25])])
@pytest.mark.parametrize("tokens", ["mixed", "above", "none above", "broadcast"])
def test_attention_rows_are_the_selection_assigned(tokens, vector):
    rng = np.random.default_rng(3)
    shape = (6, 400)
    rows = np.array([1, 4])
    s = {"mixed": np.floor(rng.random((2, 400)) * 3.0) + 0.5, "above": 1.0 + rng.random((2, 400)) * 5000.0,
         "none above": np.ones((2, 400)), "broadcast": np.array([[1.0], [700.0]])}[tokens]
    expected = np.full(shape, 0.3)
    expected[rows] = 0.7 * 1.1 * np.where(s > 1, s / (s + 512.0), 1.0)
    if vector is not None:
        expected[rows] *= vector.reshape(-1, 1)
    got = np.full(shape, 0.3)
    efficiency._attention_rows_into(got, rows, 0.7 * 1.1, s, 512.0,
                                    None if vector is None else vector.reshape(-1, 1))
    assert _same(got, expected)


def test_sides_from_distinct_rows_are_the_gathered_products():
    physics = Physics.of(get_hardware("h200-sxm"))
    rng = np.random.default_rng(4)
    m = np.floor(_values(rng, (3, 500), 1e-3)) + 1.0  # three distinct M rows over configurations
    n = np.array([[128.0], [7168.0], [1536.0], [4096.0]])  # four distinct N rows
    at_m, at_n = np.array([0, 0, 1, 2, 2, 1]), np.array([0, 1, 1, 2, 3, 3])
    share_m, steps_m = efficiency._m_side(m, physics)
    share_n, steps_n = efficiency._n_side(n, physics)
    expected = efficiency._combined(share_m[at_m], steps_m[at_m], share_n[at_n], steps_n[at_n], physics)
    got = efficiency._combined_sides((share_m, steps_m, at_m), (share_n, steps_n, at_n), physics)
    assert _same(got, expected)
    # one side gathered, the other row by row
    full_n = (share_n[at_n], steps_n[at_n], None)
    assert _same(efficiency._combined_sides((share_m, steps_m, at_m), full_n, physics), expected)


@pytest.mark.parametrize("shape", [(300,), (20, 15)])
def test_rows_taken_through_flat_offsets_are_take_along_axis(shape):
    rng = np.random.default_rng(5)
    values = _values(rng, (4, *shape))
    values[0, 0] = -0.0
    last = rng.integers(0, 4, shape)
    rows = np.stack([last, np.minimum(last + 1, 3)])
    assert _same(memory._take_rows(values, rows), np.take_along_axis(values, rows, 0))
    strided = values[:, ::2] if len(shape) == 1 else values[:, :, ::2]
    part = rows[:, ::2] if len(shape) == 1 else rows[:, :, ::2]
    assert _same(memory._take_rows(strided, part), np.take_along_axis(strided, part, 0))


def _place_as_written(capacities, amounts):
    """``memory.place`` with both selections of every tier (the form the positive amounts' shortcut replaces)."""
    free = [np.asarray(c, dtype=float) for c in capacities]
    out = []
    for amount in amounts:
        amount = np.asarray(amount, dtype=float)
        left, parts = amount.copy(), []
        for t in range(len(free)):
            put = left if t == len(free) - 1 else np.minimum(left, np.maximum(free[t], 0))
            free[t] = free[t] - put
            left = left - put
            safe = np.where(amount > 0, amount, 1.0)
            parts.append(np.where(amount > 0, put / safe, 1.0 if t == 0 else 0.0))
        out.append(parts)
    return out


@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("tiers", [1, 2])
def test_placement_of_positive_amounts_is_the_selections(tiers, zeros):
    rng = np.random.default_rng(6)
    capacities = [_values(rng, (50,), 1e6) + 1e9, np.full(50, 5e11)][:tiers]
    amounts = [_values(rng, (50,), 1e5) + 1.0 for _ in range(3)]
    if zeros:
        amounts[1][::7] = 0.0
    for got, expected in zip(memory.place(capacities, amounts), _place_as_written(capacities, amounts), strict=True):
        for a, b in zip(got, expected, strict=True):
            assert _same(a, b)


@pytest.mark.parametrize("case", ["inside", "past the largest", "no sequences"])
def test_captured_batch_is_the_selection(case):
    buckets = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
    rng = np.random.default_rng(7)
    replica = rng.random(400) * 500.0 + 0.1
    if case == "past the largest":
        replica[::5] += 600.0
    elif case == "no sequences":
        replica[::9] = 0.0
    ordered = np.asarray(sorted(buckets), dtype=float)
    index = np.searchsorted(ordered, replica)
    expected = np.where((index < len(ordered)) & (replica > 0), ordered[np.minimum(index, len(ordered) - 1)],
                        replica)
    assert _same(step._captured(buckets, replica), expected)
