"""The phase bound of a step from masks built directly from the comparisons, its shares written into one array and
the first largest found by running comparisons, gives the indices of the plain computation it replaces (issue 14):
``index == k`` masks of ``Timing._bound_index``, one dot product per label, ``np.argmax`` over the stacked shares.
Compared element by element, with ties, non-finite times, with and without a power model, for one configuration and
for several configuration axes. No timing is asserted here (benchmarks/ measure speed).
"""

import numpy as np
import pytest

from genmodel.engine.roofline import BOUNDS, Timing, _row_dot, first_argmax


def _plain_phase_bound_index(t: Timing) -> np.ndarray:
    """The computation ``Timing.phase_bound_index`` replaces, written out."""
    index = t._bound_index()
    no_power = np.ndim(t.power_s) == 0 and t.power_s == 0
    zero = np.zeros(t.time_s.shape[1:])
    finite = bool(np.isfinite(t.time_s).all())

    def only(k: int) -> np.ndarray:
        return t.time_s * (index == k) if finite else np.where(index == k, t.time_s, 0.0)

    shares = np.stack([zero if (k == 2 and no_power) else _row_dot(t.count, only(k)) for k in range(len(BOUNDS))])
    return np.argmax(shares, axis=0)


def _timing(rng, shape: tuple[int, ...], power: bool, broadcast_overhead: bool = False) -> Timing:
    c, m, p, o = (rng.integers(0, 4, shape).astype(float) * 1e-3 for _ in range(4))  # many exact ties
    if broadcast_overhead:
        o = np.broadcast_to(o[(slice(None),) + (0,) * (len(shape) - 1)].reshape(-1, *[1] * (len(shape) - 1)), shape)
    time = np.maximum(np.maximum(c, m), np.maximum(p if power else 0.0, o)) + rng.random(shape) * 1e-4
    return Timing(c, m, o, time, rng.integers(1, 80, shape[0]).astype(float), p if power else 0.0)


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return type(a) is type(b) and a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("power", [False, True])
@pytest.mark.parametrize("shape", [(13,), (30, 1), (30, 400), (17, 2, 150)])
def test_phase_bound_index_is_the_plain_one(power, shape):
    rng = np.random.default_rng(len(shape) * 10 + power)
    for broadcast in (False, True):
        t = _timing(rng, shape, power, broadcast)
        new, old = t.phase_bound_index(), _plain_phase_bound_index(t)
        assert type(new) is type(old) and _same(new, old)


@pytest.mark.parametrize("power", [False, True])
def test_phase_bound_index_with_times_that_are_not_finite(power):
    rng = np.random.default_rng(5)
    t = _timing(rng, (20, 300), power)
    t.time_s[3, ::7] = np.inf
    t.time_s[5, ::11] = np.nan
    assert _same(t.phase_bound_index(), _plain_phase_bound_index(t))


def test_first_argmax_is_argmax_with_ties_signed_zeros_infinities_and_nan():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 3, (4, 2000)).astype(float)
    values[:, :50] = 0.0
    values[1, :25] = -0.0  # equal to 0.0: the first index stays
    values[2, 100:120] = np.inf
    values[0, 110:115] = np.inf
    values[:, 130:140] = -np.inf
    assert _same(first_argmax(values), np.argmax(values, axis=0))
    values[3, 200] = np.nan  # argmax counts a NaN as the largest
    values[1, 201] = np.nan
    assert _same(first_argmax(values), np.argmax(values, axis=0))
    for shape in ((4,), (4, 3, 5), (2, 7)):
        v = rng.integers(0, 3, shape).astype(float)
        assert _same(first_argmax(v), np.argmax(v, axis=0))
