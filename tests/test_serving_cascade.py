"""The variance factors of a request's life under arrivals that feed on the steps they lengthen
(genmodel/serving/cascade.py, docs/serving.md section 3): their limits by hand, the table against the quadrature, and
the quadrature against a simulation of the self-exciting count it describes."""

from __future__ import annotations

import numpy as np
import pytest

from genmodel.serving.cascade import GAIN_CAP, bias_integrals, integrals, life_spread, size_bias


def test_without_feedback_the_factors_are_poissons():
    # no feedback: a Poisson count of arrivals per step (variance factor 1); the decoding count over a window of D
    # steps is the arrivals of the 2D steps around it weighed by the triangle 1 - |s| / D, whose square integrates
    # to 2D/3 (the 2n/3 of docs/serving.md); its covariance with the window's arrivals is the triangle's half over
    # the window, D/2
    np.testing.assert_allclose(integrals(0.0, 0.0), (1.0, 2.0 / 3.0, 0.5), rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.8])
def test_prompt_work_alone_stretches_each_as_an_ar1(alpha):
    # beta = 0: an arrival's cluster is 1 / (1 - alpha) arrivals at once, at every frequency, so each factor is its
    # Poisson value over (1 - alpha)^2, the AR(1) stretch (1 + rho) / ((1 - rho)(1 - rho^2)) at rho = alpha
    stretch = (1 + alpha) / ((1 - alpha) * (1 - alpha**2))
    np.testing.assert_allclose(integrals(alpha, 0.0), np.array([1.0, 2.0 / 3.0, 0.5]) * stretch, rtol=1e-6)


def test_the_table_reads_the_quadrature_within_one_percent():
    rng = np.random.default_rng(0)
    g = rng.uniform(0.0, GAIN_CAP, 3000)
    share = rng.uniform(0.0, 1.0, 3000)
    alpha, beta = g * share, g * (1.0 - share)
    np.testing.assert_allclose(life_spread(alpha, beta), integrals(alpha, beta), rtol=0.01)
    # past the cap, alpha and beta are scaled down together to g = GAIN_CAP
    np.testing.assert_allclose(life_spread(0.6, 0.6), integrals(0.475, 0.475), rtol=0.01)


def _simulated(alpha: float, beta: float, D: int = 40, x: float = 2.0, steps: int = 200_000):
    """The arrivals and decoding counts per step of the self-exciting count itself: a step lasts 1 + c_p A + b_n N
    seconds (A the arrivals of the step before, whose prompts it computes; N those of the D steps before that,
    decoding) and brings Poisson(lambda x its length) arrivals, with lambda, c_p and b_n set so that alpha = lambda c_p,
    beta = lambda b_n D and x arrivals a step on average."""
    lam = x * (1.0 - alpha - beta)
    c_p, b_n = alpha / lam, beta / (lam * D)
    rng = np.random.default_rng(1)
    arrivals, counts = np.zeros(steps), np.zeros(steps)
    decoding = previous = 0
    for k in range(steps):
        counts[k] = decoding
        arrivals[k] = a = rng.poisson(lam * (1.0 + c_p * previous + b_n * decoding))
        decoding += previous - (arrivals[k - D - 1] if k > D else 0)
        previous = a
    return arrivals[2000:], counts[2000:]


@pytest.mark.parametrize("alpha, beta", [(0.3, 0.3), (0.5, 0.2), (0.1, 0.6)])
def test_the_factors_match_a_simulated_self_exciting_count(alpha, beta):
    # the windows of D steps of the simulated count: the variance of their mean arrivals per step is x j_pp / D, of
    # their mean decoding count n j_nn, their covariance x j_np (the module docstring); the simulation's steps are
    # discrete (a prompt computed the step after it arrives), the integrals continuous, within a few per cent
    D = 40
    arrivals, counts = _simulated(alpha, beta, D)
    m = len(arrivals) // D
    a = arrivals[: m * D].reshape(m, D).mean(axis=1)
    n = counts[: m * D].reshape(m, D).mean(axis=1)
    x, n_mean = arrivals.mean(), counts.mean()
    assert n_mean == pytest.approx(x * D, rel=0.01)
    j_pp, j_nn, j_np = integrals(alpha, beta)
    assert a.var() * D / x == pytest.approx(j_pp, rel=0.1)
    assert n.var() / n_mean == pytest.approx(j_nn, rel=0.1)
    assert np.cov(a, n)[0, 1] / x == pytest.approx(j_np, rel=0.1)


def _ar1_window(alpha: float, D: int) -> tuple[float, float]:
    """(J0, J1) of prompt work alone (beta = 0), by hand: the prompts a step computes are an AR(1) of coefficient
    alpha (each second a step gains lets lambda more in), of variance x / (1 - alpha^2) and autocovariance alpha^k
    times that, so the count of a window of D of them has Var(N) = x (D + 2 sum_{k<D} (D - k) alpha^k) / (1 -
    alpha^2), J0 = Var(N) / (x D), and its covariance with the step's own prompts, J1 = sum_{l=1..D} alpha^l / (1 -
    alpha^2)."""
    k = np.arange(1, D)
    j0 = (D + 2.0 * np.sum((D - k) * alpha**k)) / (D * (1.0 - alpha**2))
    j1 = np.sum(alpha ** np.arange(1, D + 1)) / (1.0 - alpha**2)
    return float(j0), float(j1)


@pytest.mark.parametrize("steps", [1, 5, 30])
def test_the_size_bias_without_feedback_and_with_the_prompt_work_alone(steps):
    # docs/serving.md section 3, "The mean TPOT over requests": without feedback a Poisson count, Var(N) = n, and no
    # covariance with the step's own arrivals: (1, 0), on the lattice of steps and in the continuous limit
    np.testing.assert_allclose(bias_integrals(0.0, 0.0, steps), (1.0, 0.0), atol=1e-9)
    np.testing.assert_allclose(bias_integrals(0.0, 0.0), (1.0, 0.0), atol=2e-3)  # (the tail past 156 pi left out)
    for alpha in (0.2, 0.5, 0.8):
        np.testing.assert_allclose(bias_integrals(alpha, 0.0, steps), _ar1_window(alpha, steps), rtol=1e-6)
    # the continuous limit with the prompt work alone: psi is 1 / (1 - alpha) at every frequency
    j0 = 1.0 / (1.0 - 0.5) ** 2
    np.testing.assert_allclose(bias_integrals(0.5, 0.0), (j0, (j0 - 1.0) / 2.0), rtol=3e-3)


@pytest.mark.parametrize("alpha, beta, D", [(0.3, 0.3, 40), (0.5, 0.2, 4), (0.1, 0.6, 1)])
def test_the_size_bias_matches_a_simulated_self_exciting_count(alpha, beta, D):
    # the time-average count, steps weighed by their length 1 + c_p A + b_n N, exceeds the steps' mean count by
    # Cov(N, t) / t-bar = beta J0 + alpha J1 (the module docstring; with the simulation's lattice of steps, within a few
    # per cent: 1.601 against 1.592, 1.966 against 2.008 and 1.036 against 1.042 in these three)
    x = 2.0
    arrivals, counts = _simulated(alpha, beta, D, x=x, steps=200_000)
    lam = x * (1.0 - alpha - beta)
    c_p, b_n = alpha / lam, beta / (lam * D)
    length = 1.0 + c_p * np.concatenate([[0.0], arrivals[:-1]]) + b_n * counts
    bias = float(np.sum(counts * length) / np.sum(length) - counts.mean())
    j0, j1 = size_bias(alpha, beta, D)
    assert bias == pytest.approx(beta * j0 + alpha * j1, rel=0.05)
    assert counts.var() / counts.mean() == pytest.approx(float(j0), rel=0.05)


def test_the_size_bias_table_reads_the_quadrature():
    # on its grid's lives within 1%, between them (linear in 1 / D) within 2%, and past the last (48 steps) towards the
    # continuous limit
    rng = np.random.default_rng(3)
    g = rng.uniform(0.05, 0.9, 40)
    share = rng.uniform(0.0, 1.0, 40)
    alpha, beta = g * share, g * (1.0 - share)
    for D, rtol in ((1, 0.01), (8, 0.01), (48, 0.01), (5, 0.02), (20, 0.02)):
        j0, j1 = size_bias(alpha, beta, D)
        r0, r1 = bias_integrals(alpha, beta, D)
        np.testing.assert_allclose(j0, r0, rtol=rtol)
        np.testing.assert_allclose(j1, r1, rtol=rtol, atol=rtol * np.max(r1))
    (j0, j1), (r0, r1) = size_bias(alpha, beta), bias_integrals(alpha, beta)
    np.testing.assert_allclose(j0, r0, rtol=0.01)
    np.testing.assert_allclose(j1, r1, rtol=0.01, atol=0.01 * np.max(r1))
    # g past GAIN_CAP is read at the cap, alpha's share kept
    np.testing.assert_allclose(size_bias(0.6, 0.6, 10), size_bias(0.475, 0.475, 10), rtol=1e-12)
