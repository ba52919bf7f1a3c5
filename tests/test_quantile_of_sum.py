"""Quantiles of S + W (genmodel.serving.queueing.quantile_of_sum): S log-normal, W a wait with an atom at zero and
an exponential tail.

Expected numbers come from an independent root finder written here (a plain bisection on ``cdf_of_sum`` with its
own bracket, run until the bracket stops shrinking in floating point) and, for a point-mass S, from the closed form
c + t ln(P0 / (1 - q)). Inputs span P(wait) near 0 and 1, coefficients of variation from 1e-6 to 20, and mean waits
from 1e-5 to 1e5 times the log-normal's mean.
"""

from __future__ import annotations

import numpy as np
import pytest

from genmodel.serving.queueing import LogNormal, Wait, cdf_of_sum, quantile_of_sum

LEVELS = (0.01, 0.1, 0.37, 0.9, 0.99, 0.999)  # none a multiple of 1/16: see test_median_where_p_wait_is_not_one
TOLERANCE = 1e-6  # the agreement asked of the solver (its own bracket is 1e-9 of the quantile by default)


def cdf_at(wait: Wait, s: LogNormal, y) -> np.ndarray:
    """cdf_of_sum at y of shape (levels, configurations), for 1-D wait and s (one per configuration)."""
    return cdf_of_sum(Wait(wait.p_wait[None], wait.mean_s[None]), LogNormal(s.mean[None], s.cv[None]), y)


def reference_quantiles(wait: Wait, s: LogNormal, levels) -> np.ndarray:
    """The q-quantiles of S + W by bisection on cdf_of_sum: an upper end doubled from the largest of S's and W's
    means until cdf >= q, then 1100 halvings of [0, upper] (far more than float64 needs: once the bracket cannot
    shrink, the midpoint equals an end and nothing changes). Returns the upper end: the smallest y with cdf >= q."""
    q = np.asarray(levels, dtype=float)[:, None]
    start = np.maximum(np.asarray(s.mean, dtype=float), np.asarray(wait.mean_s, dtype=float))
    hi = np.broadcast_to(start, (q.shape[0], start.size)).copy()
    for _ in range(2000):
        short = cdf_at(wait, s, hi) < q
        if not short.any():
            break
        hi = np.where(short, 2 * hi, hi)
    lo = np.zeros_like(hi)
    for _ in range(1100):
        mid = lo + (hi - lo) / 2
        above = cdf_at(wait, s, mid) >= q
        hi, lo = np.where(above, mid, hi), np.where(above, lo, mid)
    return hi


def broad_inputs(count: int, seed: int) -> tuple[Wait, LogNormal]:
    """Random configurations covering the corners: P(wait) uniform, near 0 (down to 1e-8), near 1 (up to 1 - 1e-6)
    and exactly 1; cv log-uniform over [1e-6, 20]; mean wait 1e-5 to 1e5 times the log-normal mean."""
    rng = np.random.default_rng(seed)
    quarter = count // 4
    p_wait = np.concatenate([rng.uniform(0.0, 1.0, quarter), 10 ** rng.uniform(-8, -1, quarter),
                             1 - 10 ** rng.uniform(-6, -1, quarter), np.ones(count - 3 * quarter)])
    mean_s = 10 ** rng.uniform(-3, 3, count)
    cv = 10 ** rng.uniform(-6, np.log10(20.0), count)
    wait_mean_s = mean_s * 10 ** rng.uniform(-5, 5, count)
    order = rng.permutation(count)
    return Wait(p_wait[order], wait_mean_s[order]), LogNormal(mean_s, cv)


@pytest.mark.parametrize("seed", [0, 1])
def test_quantiles_match_an_independent_bisection(seed):
    wait, s = broad_inputs(800, seed)
    got = quantile_of_sum(wait, s, LEVELS)
    expected = reference_quantiles(wait, s, LEVELS)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=0)
    # the solver's documented bracket (rtol 1e-9 of the quantile) holds too, up to the reference's own rounding
    np.testing.assert_allclose(got, expected, rtol=2e-9, atol=0)


def test_cdf_at_the_quantile_is_the_level():
    """Where the CDF has no steep step (cv and the wait's tail not tiny against the log-normal's mean), a quantile
    accurate to 1e-9 puts the CDF within 1e-6 of its level."""
    wait, s = broad_inputs(800, 2)
    tail_s = wait.tail_s
    smooth = (s.cv >= 1e-2) & (tail_s >= 1e-2 * s.mean)
    wait, s = Wait(wait.p_wait[smooth], wait.mean_s[smooth]), LogNormal(s.mean[smooth], s.cv[smooth])
    assert smooth.sum() > 200
    got = quantile_of_sum(wait, s, LEVELS)
    cdf = cdf_at(wait, s, got)
    np.testing.assert_allclose(cdf, np.broadcast_to(np.asarray(LEVELS)[:, None], cdf.shape), rtol=0, atol=1e-6)


def test_quantile_is_the_smallest_value_reaching_the_level():
    """Everywhere, steps included: cdf >= q at the quantile, and < q just below it (1e-8 lower)."""
    wait, s = broad_inputs(800, 3)
    got = quantile_of_sum(wait, s, LEVELS)
    q = np.asarray(LEVELS)[:, None]
    assert np.all(cdf_at(wait, s, got) >= q - 1e-12)
    assert np.all(cdf_at(wait, s, got * (1 - 1e-8)) < q + 1e-12)


def test_point_mass_plus_wait_by_hand():
    """S = c exactly (cv 0): S + W is c with probability 1 - P0 and c + Exp(t) otherwise, t = E[W] / P0, so the
    q-quantile is c for q <= 1 - P0 and c + t ln(P0 / (1 - q)) above (the CDF jumps from 0 to 1 - P0 at c)."""
    c = np.array([3.0, 0.02, 50.0, 1.0, 1.0])
    p_wait = np.array([0.5, 0.999999, 1e-6, 0.05, 0.2])
    wait_mean_s = np.array([1.0, 1e-4, 2.0, 1e3, 1e-7])
    wait, s = Wait(p_wait, wait_mean_s), LogNormal(c, np.zeros_like(c))
    levels = (0.3, 0.9, 0.99, 0.9999)
    got = quantile_of_sum(wait, s, levels)
    tail_s = wait_mean_s / p_wait
    for i, q in enumerate(levels):
        expected = np.where(q <= 1 - p_wait, c, c + tail_s * np.log(np.maximum(p_wait / (1 - q), 1.0)))
        np.testing.assert_allclose(got[i], expected, rtol=1e-8)


def test_median_where_p_wait_is_not_one():
    """q = 1/2 is a multiple of 1/16 (the node count): with P(wait) = 1 and a tail much shorter than the nodes'
    spacing the CDF sits on 8/16 to within rounding over a whole interval, and no solver can pin its quantile
    there; for P(wait) below 1 the log-normal part keeps it rising and the median is as well defined as the rest."""
    wait, s = broad_inputs(800, 4)
    keep = wait.p_wait <= 1 - 1e-6
    wait, s = Wait(wait.p_wait[keep], wait.mean_s[keep]), LogNormal(s.mean[keep], s.cv[keep])
    got = quantile_of_sum(wait, s, (0.5,))
    np.testing.assert_allclose(got, reference_quantiles(wait, s, (0.5,)), rtol=TOLERANCE, atol=0)


def test_shapes_unbounded_waits_and_no_wait():
    """Quantiles on a new leading axis over broadcast inputs; an infinite mean wait gives an infinite quantile,
    a wait with P(wait) <= 1e-9 leaves S's own quantile."""
    s = LogNormal(np.array([[1.0], [2.0]]), np.array([[0.5], [0.5]]))  # (2, 1)
    wait = Wait(np.array([0.0, 0.3, 0.4]), np.array([0.0, np.inf, 1.0]))  # (3,)
    got = quantile_of_sum(wait, s, (0.5, 0.9))
    assert got.shape == (2, 2, 3)
    for i, q in enumerate((0.5, 0.9)):
        np.testing.assert_array_equal(got[i, :, 0], s.ppf(q)[:, 0])
        assert np.all(np.isinf(got[i, :, 1]))
    expected = reference_quantiles(Wait(np.full(2, 0.4), np.full(2, 1.0)), LogNormal(np.array([1.0, 2.0]),
                                                                                       np.full(2, 0.5)), (0.5, 0.9))
    np.testing.assert_allclose(got[:, :, 2], expected, rtol=TOLERANCE)
