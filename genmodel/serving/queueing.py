"""Queueing formulas of the served-traffic model (docs/serving.md section 3), elementwise on NumPy arrays.

Contract
--------
* ``erlang_c(c, a)``: probability that an arrival waits in an M/M/c queue with c servers and offered load a < c
  (Erlang B by its recursion up to ``EXACT_SERVERS`` servers, the Halfin-Whitt limit beyond).
* ``peaked_erlang_c(c, a, z)``: the same for a load whose busy count varies z times as much as Poisson's (Hayward's
  approximation: c / z servers offered a / z).
* ``kingman_wait(rho, service_s, ca2, cs2)``: mean wait of a G/G/1 queue, (ca2 + cs2)/2 x rho/(1 - rho) x E[S]
  (exact for M/G/1, the Pollaczek-Khinchine formula).
* ``Wait``: a waiting time with an atom at zero and an exponential tail, P(W > w) = P0 exp(-w P0 / E[W]).
* ``length_nodes(mean, cv, count)``: equal-probability quantile nodes of a log-normal length distribution.
* ``quantile_of_sum(wait, s, qs)``: the q-quantiles of W + S, the roots of ``cdf_of_sum`` (W's exponential tail averaged
  over NODES quantile nodes of S) to a relative 1e-9, by a vectorized safeguarded Newton iteration.
* ``with_normal(mean, var_skewed, var_normal)``: a log-normal (mean, var_skewed) plus an independent zero-mean normal
  (var_normal) as a shifted log-normal with the sum's mean, variance and third central moment: (LogNormal, shift).
* ``normal_cdf``, ``normal_ppf``: the standard normal distribution (no SciPy in the base install); ``normal_isf(q)``:
  the z with 1 - Phi(z) = q, elementwise, accurate far into the upper tail.
* ``QueueMixture``, ``queue_mixture_cdf(wait, s, edges, x)``, ``queue_mixture_quantiles(wait, s, edges, qs, alone)``:
  W + S + Q with Q the wait of a request at a uniform place in a queue (linear between its values at ``edges``), its
  CDF from the closed-form integral of cdf_of_sum over each cell, and its quantiles by a safeguarded Newton iteration.
* ``longest_of(n, cv, cap)``: the expected longest of n log-normal lengths of coefficient of variation cv, over their
  mean; with ``cap``, no length exceeds cap x the mean.
Inputs broadcast; nothing loops over configurations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

EXACT_SERVERS = 400  # the exact Erlang formula up to this many servers; beyond, the Halfin-Whitt limit (error < 1e-3)
SCALAR_CASES = 8  # up to this many configurations the Erlang recursion runs in Python floats
_STD = NormalDist()


def normal_ppf(p: float) -> float:
    """Inverse of the standard normal CDF (a scalar: percentiles are scalars)."""
    return _STD.inv_cdf(p)


def normal_cdf(x) -> np.ndarray:
    """Standard normal CDF, elementwise (Abramowitz and Stegun 7.1.26 for erf, |error| < 1.5e-7)."""
    x = np.asarray(x, dtype=float)
    erf = 1.0 - _erfc(np.abs(x) / np.sqrt(2.0))
    return 0.5 * (1.0 + np.sign(x) * erf)


def _erfc(z) -> np.ndarray:
    """erfc(z) for z >= 0 by Abramowitz and Stegun 7.1.26 (absolute error < 1.5e-7): t = 1 / (1 + p z), a polynomial
    in t times exp(-z^2); ``normal_cdf`` takes 1 minus it, ``_upper_tail`` half of it (no cancellation)."""
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return poly * np.exp(-z * z)


def percentile_label(q: float) -> str:
    """The label of quantile q in metric names: 'p50', 'p99', 'p99_9'."""
    return f"p{q * 100:g}".replace(".", "_")


def meets_targets(ttft_q, tpot_q, ttft_target_s, tpot_target_s, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Where the TTFT and TPOT at the target percentile are within their targets (a target of None holds), over
    their broadcast shape and ``shape``."""
    meets = np.ones(np.broadcast_shapes(shape, np.shape(ttft_q), np.shape(tpot_q)), dtype=bool)
    if ttft_target_s is not None:
        meets &= ttft_q <= ttft_target_s
    if tpot_target_s is not None:
        meets &= tpot_q <= tpot_target_s
    return meets


def erlang_c(c, a) -> np.ndarray:
    """P(wait) in M/M/c with c servers (floored, >= 1) and offered load a (Erlangs); 1 where a >= c."""
    c = np.maximum(np.floor(np.asarray(c, dtype=float)), 1.0)
    a = np.asarray(a, dtype=float)
    c, a = np.broadcast_arrays(c, a)
    out = np.ones(c.shape)
    stable = a < c
    small = stable & (c <= EXACT_SERVERS)
    if np.any(small):
        cs, as_ = c[small], a[small]
        if cs.size <= SCALAR_CASES:  # a few configurations: the same recursion in Python floats (no array overhead)
            b = np.array([_erlang_b(int(ck), float(ak)) for ck, ak in zip(cs, as_, strict=True)])
        else:  # the configurations sorted by servers: the recursion's step k runs on those with c >= k, a suffix
            order = np.argsort(cs, kind="stable")
            c_sorted, a_sorted = cs[order], as_[order]
            b_sorted = np.ones_like(cs)  # Erlang B with 0 servers; B(k) = a B(k-1) / (k + a B(k-1)) stays in [0, 1]
            starts = np.searchsorted(c_sorted, np.arange(1, int(cs.max()) + 1), side="left")
            for k, start in enumerate(starts.tolist(), start=1):
                ab = a_sorted[start:] * b_sorted[start:]
                b_sorted[start:] = ab / (k + ab)
            b = np.empty_like(cs)
            b[order] = b_sorted
        rho = as_ / cs
        out[small] = b / (1.0 - rho * (1.0 - b))
    large = stable & ~small
    if np.any(large):
        with np.errstate(divide="ignore"):  # no offered load: beta = inf, and P(wait) = 0 below, as it is
            beta = (c[large] - a[large]) / np.sqrt(a[large])
        # 1 / (1 + beta Phi(beta) / phi(beta)), written with exp(-beta^2/2) on top so it underflows to 0 cleanly
        pdf = np.exp(-0.5 * beta**2) / np.sqrt(2 * np.pi)
        out[large] = pdf / (pdf + beta * normal_cdf(beta))
    return out


def peaked_erlang_c(c, a, z) -> np.ndarray:
    """P(wait) for c servers offered a load a (Erlangs) whose count of busy servers varies z times as much as
    Poisson's (its peakedness, Var / mean; 1: ``erlang_c``), by Hayward's approximation (A. A. Fredericks,
    "Congestion in blocking systems - a simple approximation technique", Bell System Technical Journal 59(6), 1980):
    the system as c / z servers offered a / z Erlangs. c / z is rarely whole: linear between the Erlang C of its
    floor and its ceiling (at least one server); c itself where it is infinite (no cap)."""
    c, a, z = np.broadcast_arrays(np.asarray(c, dtype=float), np.asarray(a, dtype=float),
                                  np.maximum(np.asarray(z, dtype=float), 1e-3))
    finite = np.isfinite(c)
    servers = np.where(finite, c / z, 1.0)
    lo = np.where(finite, np.maximum(np.floor(servers), 1.0), np.inf)  # (no cap: Erlang C with endless servers, 0)
    share = np.where(finite, np.clip(servers - lo, 0.0, 1.0), 0.0)
    load = a / z
    below, above = erlang_c(np.stack([lo, lo + 1.0]), np.stack([load, load]))  # (one recursion for both)
    return (1.0 - share) * below + share * above


def _erlang_b(c: int, a: float) -> float:
    """Erlang B with c servers by its recursion B(k) = a B(k-1) / (k + a B(k-1)), B(0) = 1."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def kingman_wait(rho, service_s, ca2, cs2) -> np.ndarray:
    """Mean wait in a G/G/1 queue; infinite where rho >= 1."""
    rho = np.asarray(rho, dtype=float)
    safe = np.minimum(rho, 1.0 - 1e-12)
    wait = (np.asarray(ca2) + np.asarray(cs2)) / 2.0 * safe / (1.0 - safe) * np.asarray(service_s)
    return np.where(rho < 1.0, wait, np.inf)


@dataclass
class Wait:
    """A wait with P(W > 0) = ``p_wait`` and mean ``mean_s``; its tail is exponential."""

    p_wait: np.ndarray
    mean_s: np.ndarray

    @property
    def tail_s(self) -> np.ndarray:
        """E[W | W > 0], the scale of the exponential tail."""
        return np.where(self.p_wait > 0, self.mean_s / np.maximum(self.p_wait, 1e-300), 0.0)

    def cdf(self, w) -> np.ndarray:
        w = np.asarray(w, dtype=float)
        tail = self.tail_s
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            above = self.p_wait * np.exp(-np.maximum(w, 0.0) / np.where(tail > 0, tail, 1.0))
        above = np.where(tail > 0, above, 0.0)
        above = np.where(np.isinf(self.mean_s), 1.0, above)
        return np.where(w < 0, 0.0, 1.0 - above)

    def quantile(self, q: float) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = self.tail_s * np.log(np.maximum(self.p_wait, 1e-300) / (1.0 - q))
        w = np.where(self.p_wait > 1.0 - q, w, 0.0)
        return np.where(np.isinf(self.mean_s), np.inf, w)

    @staticmethod
    def combine(first: Wait, second: Wait) -> Wait:
        """Two waits in series, as one: P0 = 1 - (1 - P1)(1 - P2), means add, exponential tail."""
        p = 1.0 - (1.0 - first.p_wait) * (1.0 - second.p_wait)
        return Wait(p, first.mean_s + second.mean_s)


def length_nodes(mean, cv, count: int) -> np.ndarray:
    """``count`` equal-probability nodes of a log-normal with this mean and coefficient of variation, on a new
    leading axis (a single node, the mean, when count is 1)."""
    mean = np.asarray(mean, dtype=float)
    if count == 1:
        return mean[None, ...]
    sigma = np.sqrt(np.log1p(np.asarray(cv, dtype=float) ** 2))
    mu = np.log(mean) - sigma**2 / 2
    z = _nodes_z(count).reshape((count,) + (1,) * np.ndim(mean))
    return np.exp(mu + sigma * z)


# P. J. Acklam's rational approximation of the normal quantile (relative error below 1.15e-9): the central region's
# numerator and denominator in r = (p - 1/2)^2, the tails' in t = sqrt(-2 ln p), below p = _TAIL
_A = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
      -3.066479806614716e+01, 2.506628277459239e+00)
_B = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
      -1.328068155288572e+01, 1.0)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
      4.374664141464968e+00, 2.938163982698783e+00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00, 1.0)
_TAIL = 0.02425


def _poly(coefficients: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for c in coefficients:
        out = out * x + c
    return out


def normal_isf(q) -> np.ndarray:
    """The z with P(Z > z) = ``q`` for a standard normal Z, elementwise over 0 < q < 1: -Phi^-1(q), from q itself
    (not 1 - q), so that an upper tail of 1e-12 keeps its digits. Acklam's approximation; relative error < 1.2e-9."""
    q = np.asarray(q, dtype=float)
    small = np.minimum(q, 1.0 - q)  # the nearer tail's probability
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.sqrt(-2.0 * np.log(np.where(small < _TAIL, small, _TAIL)))
        tail = _poly(_C, t) / _poly(_D, t)  # Phi^-1(small), negative
        u = 0.5 - q  # Phi^-1(1 - q) in the centre: an odd function of 1/2 - q
        r = u * u
        centre = u * _poly(_A, r) / _poly(_B, r)
    return np.where(small < _TAIL, np.where(q < 0.5, -tail, tail), centre)


# Gauss-Legendre nodes on (0, 1) for ``longest_of``, in u with v = 1 - (1 - u)^2 (nodes gather where v^(1/n) nears 1)
_LONGEST_NODES = 32


@functools.cache
def _longest_nodes() -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(_LONGEST_NODES)
    u = (x + 1.0) / 2.0
    return 1.0 - (1.0 - u) ** 2, w * (1.0 - u)  # (v, weight x dv/du / 2)


def longest_of(n, cv: float, cap=np.inf) -> np.ndarray:
    """E[max of n lengths] / their mean, the lengths log-normal with coefficient of variation ``cv`` (the spread the
    serving model gives outputs, docs/serving.md section 2d), elementwise over ``n`` >= 1 (a real n is the maximum's
    distribution F^n). The maximum's quantile function is Q(v^(1/n)), so E[max] = integral over 0 < v < 1 of
    exp(mu + sigma Phi^-1(v^(1/n))) dv, with sigma^2 = ln(1 + cv^2) and mu = -sigma^2 / 2 (mean 1): 32 Gauss-Legendre
    nodes, within 1e-4 of a Monte Carlo mean up to cv 2 and n 4,096. 1 where cv is 0 or n is 1. The distinct values
    of n are integrated once each.

    ``cap`` (>= 1, in units of the mean; broadcasts with ``n``): no length exceeds it (a benchmark's longest answer, or
    its max_tokens), E[min(max of n, cap)] = integral over 0 < v < p of Q(v^(1/n)) dv + cap (1 - p), with p = F(cap)^n
    the chance that all n stay below it: the same nodes on (0, p)."""
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    if cv <= 0:
        return np.ones_like(n)
    sigma2 = float(np.log1p(cv * cv))
    v, w = _longest_nodes()
    cap = np.asarray(cap, dtype=float)
    if not np.any(np.isfinite(cap)):
        values, where = np.unique(n, return_inverse=True)
        upper = -np.expm1(np.log(v)[:, None] / values[None, :])  # 1 - v^(1/n), from its logarithm: no cancellation
        means = w @ np.exp(np.sqrt(sigma2) * normal_isf(upper) - sigma2 / 2.0)
        return means[where].reshape(n.shape)
    n, cap = np.broadcast_arrays(n, np.maximum(cap, 1.0))
    sigma = np.sqrt(sigma2)
    # ln F(cap) = ln(1 - P(length > cap)), z = (ln cap - mu) / sigma >= sigma / 2 > 0 for cap >= 1 (the upper tail)
    z = np.where(np.isfinite(cap), (np.log(np.where(np.isfinite(cap), cap, 1.0)) + sigma2 / 2.0) / sigma, np.inf)
    log_below = np.log1p(-_upper_tail(z))  # 0 where there is no cap
    log_p = n * log_below  # ln P(all n below the cap)
    # 1 - (p v)^(1/n) at each node: the quantile's upper tail, from logarithms (no cancellation)
    upper = -np.expm1(log_below[..., None] + np.log(v) / n[..., None])
    below = np.exp(sigma * normal_isf(upper) - sigma2 / 2.0) @ w * np.exp(log_p)
    return below + np.where(np.isfinite(cap), cap, 0.0) * -np.expm1(log_p)


def _upper_tail(z) -> np.ndarray:
    """1 - Phi(z) = erfc(z / sqrt 2) / 2 for z >= 0 (0 at infinity), by ``normal_cdf``'s form of erfc."""
    x = np.asarray(z, dtype=float) / np.sqrt(2.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(x), 0.0, 0.5 * _erfc(x))


@functools.cache
def _nodes_z(count: int) -> np.ndarray:
    return np.array([normal_ppf((j + 0.5) / count) for j in range(count)])


@dataclass(frozen=True)
class LogNormal:
    """A positive duration with this mean and coefficient of variation (a point mass when cv is 0)."""

    mean: np.ndarray
    cv: np.ndarray

    def _params(self):
        """(mu, sigma) of the underlying normal, computed once per instance (bisections call cdf many times)."""
        cached = self.__dict__.get("_mu_sigma")
        if cached is None:
            sigma = np.sqrt(np.log1p(np.asarray(self.cv, dtype=float) ** 2))
            cached = self.__dict__["_mu_sigma"] = (np.log(np.maximum(self.mean, 1e-300)) - sigma**2 / 2, sigma)
        return cached

    def cdf(self, y) -> np.ndarray:
        mu, sigma = self._params()
        y = np.asarray(y, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(np.maximum(y, 1e-300)) - mu) / np.where(sigma > 0, sigma, 1.0)
        return np.where(sigma > 0, normal_cdf(z), (y >= self.mean).astype(float)) * (y > 0)

    def ppf(self, q: float) -> np.ndarray:
        mu, sigma = self._params()
        return np.exp(mu + sigma * normal_ppf(q))


MIN_SKEW = 1e-3  # skewness floor of ``with_normal``'s fit: its log-normal's mean at most ~3,000 standard deviations


def with_normal(mean, var_skewed, var_normal) -> tuple[LogNormal, np.ndarray]:
    """X + Y, X log-normal with ``mean`` and variance ``var_skewed``, Y an independent normal with mean 0 and variance
    ``var_normal``, as shift + L with L log-normal: the three-moment fit (docs/serving.md section 3, end-to-end).

    The sum has variance V = Vx + Vy and X's third central moment, so its skewness is g = (w + 2) cv_x (Vx / V)^1.5
    with w = 1 + cv_x^2 (a log-normal's). A log-normal of coefficient of variation t has skewness t^3 + 3t, so
    t = 2 sinh(asinh(g / 2) / 3) (the cubic's one real root, without cancellation); L has standard deviation sqrt(V)
    and mean sqrt(V) / t, and the shift is mean - sqrt(V) / t (negative where Y makes the sum less skewed than a
    log-normal of its cv). Where Y has no variance this is X itself (shift 0); the skewness is floored at MIN_SKEW
    (a normal's quantiles to well under 0.1% of a standard deviation)."""
    mean, var_skewed, var_normal = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in
                                                         (mean, var_skewed, var_normal)))
    var = var_skewed + var_normal
    with np.errstate(divide="ignore", invalid="ignore"):
        cv_x = np.sqrt(var_skewed) / np.maximum(mean, 1e-300)
        skew = (3.0 + cv_x**2) * cv_x * (var_skewed / np.where(var > 0, var, 1.0)) ** 1.5
        t = 2.0 * np.sinh(np.arcsinh(np.maximum(skew, MIN_SKEW) / 2.0) / 3.0)
        fit_mean = np.sqrt(var) / t
    shifted = (var_normal > 0) & np.isfinite(var) & np.isfinite(mean)
    l_mean = np.where(shifted, fit_mean, mean)
    l_cv = np.where(shifted, t, cv_x)
    return LogNormal(l_mean, l_cv), np.where(shifted, mean - fit_mean, 0.0)


NODES = 16  # quantile nodes of S under the exponential part of the wait


def cdf_of_sum(wait: Wait, s: LogNormal, y, nodes=None) -> np.ndarray:
    """P(S + W <= y): (1 - P0) F_S(y) + P0 P(S + Exp(tail) <= y), the second over NODES quantile nodes of S."""
    y = np.asarray(y, dtype=float)
    p0, tail = wait.p_wait, wait.tail_s
    nodes = length_nodes(s.mean, s.cv, NODES) if nodes is None else nodes
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gap = np.maximum(y[None, ...] - nodes, 0.0)
        if np.all(np.asarray(tail) > 0):  # the usual case, in fewer passes: 1 - e^(-g/t) = -expm1(g / -t)
            mean = -np.expm1(gap / -np.asarray(tail)).mean(axis=0)
        else:
            mean = np.where(tail > 0, -np.expm1(-gap / np.where(tail > 0, tail, 1.0)),
                            (gap > 0).astype(float)).mean(axis=0)
    part = np.where(np.isinf(wait.mean_s), 0.0, mean)
    return (1.0 - p0) * s.cdf(y) + p0 * part


def quantile_of_sum(wait: Wait, s: LogNormal, qs, rtol: float = 1e-9, max_iterations: int = 200) -> np.ndarray:
    """Quantiles ``qs`` (on a new leading axis) of S + W, S log-normal, W independent of S: S's own quantile where
    W has no mass, else the smallest y with ``cdf_of_sum(y) >= q`` for the configurations that need it (the root of
    cdf_of_sum(y) = q, or the step where the CDF jumps past q), as the upper end of a bracket narrower than
    ``rtol`` times it.

    The root is found by a safeguarded Newton iteration on log y (``_solve_sum``), vectorized over every
    (quantile, configuration) pair; a pair leaves the iteration when it has converged."""
    shape = np.broadcast_shapes(np.shape(s.mean), np.shape(wait.mean_s))
    out = np.stack([np.broadcast_to(s.ppf(float(q)), shape) for q in qs]).astype(float)
    p0 = np.broadcast_to(wait.p_wait, out.shape[1:])
    unbounded = np.broadcast_to(np.isinf(wait.mean_s), out.shape[1:])
    need = (p0 > 1e-9) & ~unbounded
    if np.any(need):
        sub_wait = Wait(np.broadcast_to(wait.p_wait, need.shape)[need], np.broadcast_to(wait.mean_s, need.shape)[need])
        sub_s = LogNormal(np.broadcast_to(s.mean, need.shape)[need], np.broadcast_to(s.cv, need.shape)[need])
        out[:, need] = _solve_sum(sub_wait, sub_s, [float(q) for q in qs], rtol, max_iterations)
    out[:, unbounded] = np.inf
    return out


def _solve_sum(wait: Wait, s: LogNormal, qs: list[float], rtol: float, max_iterations: int) -> np.ndarray:
    """Roots y of cdf_of_sum(wait, s, y) = q, shape (len(qs), k), for k configurations (1-D wait and s, P(W > 0) > 0,
    E[W] finite), each to a relative ``rtol``.

    Each (q, configuration) pair keeps a bracket lo < y* <= hi (cdf(lo) < q <= cdf(hi); hi starts where a plain
    bisection would, lo at 0) and an iterate y, first max(S's q-quantile, W's q-quantile), usually just below y*.
    Every step evaluates the CDF and its density at y (``_SumCdf``), moves lo or hi to y, and takes the Newton step
    on log y, y exp((q - F) / (y f)), if it lands inside the bracket; after a rejected one, the secant between the
    bracket's ends (if inside) and the bracket's geometric mean (half of hi while lo is 0) take turns, so the
    bracket at least halves in log every second miss. A Newton step below rtol / 4 is lengthened by rtol / 4 so
    that it ends just past the root and closes the bracket. A pair is done when hi - lo <= rtol x hi; its result
    is hi, as in a bisection (after ``max_iterations`` steps, whatever hi is then), or when cdf(y) == q exactly
    (its result is y: where rounding flattens the CDF onto q, a whole interval shares that value). A point-mass S
    at c (sigma 0) with q <= 1 - P0 is c, without iterating."""
    k = s.mean.shape[0]
    q = np.repeat(np.asarray(qs), k)  # flat (quantile, configuration) pairs, quantile-major
    f = _SumCdf(wait, s, np.tile(np.arange(k), len(qs)))
    hi = np.concatenate([s.ppf(max(qq, 0.999999)) + wait.quantile(qq) + wait.tail_s for qq in qs])
    lo, f_lo, f_hi = np.zeros_like(hi), np.zeros_like(hi), np.ones_like(hi)  # cdf <= 1 stands in at the first hi
    y = np.concatenate([np.maximum(s.ppf(qq), wait.quantile(qq)) for qq in qs])
    y = np.where((y > 0) & (y < hi), y, hi / 2)
    misses = np.zeros(hi.shape, dtype=int)  # consecutive rejected Newton steps: odd ones bisect, even ones interpolate
    # a point-mass S (sigma 0) at c: the CDF is 0 below c and 1 - P0 at c, so c itself wherever q <= 1 - P0
    mass = (f.sigma == 0) & (q <= 1.0 - f.p0)
    result = np.where(mass, f.mean, hi)
    live = np.arange(q.size)  # the pairs still iterating; the per-pair arrays and f hold only those
    if mass.any():
        live, q, y, lo, hi, f_lo, f_hi, misses = (a[~mass] for a in (live, q, y, lo, hi, f_lo, f_hi, misses))
        f = f.subset(~mass)
    for _ in range(max_iterations):
        if not live.size:
            break
        cdf, density = f.at(y)
        above = cdf >= q
        hi, f_hi = np.where(above, y, hi), np.where(above, cdf, f_hi)
        lo, f_lo = np.where(above, lo, y), np.where(above, f_lo, cdf)
        done = (hi - lo <= rtol * hi) | (cdf == q)
        if done.any():
            result[live[done]] = hi[done]
            keep = ~done
            live, q, y, lo, hi, f_lo, f_hi, misses, cdf, density, above = (
                a[keep] for a in (live, q, y, lo, hi, f_lo, f_hi, misses, cdf, density, above))
            f = f.subset(keep)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = (q - cdf) / (y * density)
            step = np.where(np.abs(step) <= rtol / 4, step + np.where(above, -rtol, rtol) / 4, step)
            newton = y * np.exp(step)
            secant = lo + (q - f_lo) / (f_hi - f_lo) * (hi - lo)
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        misses = np.where(inside, 0, misses + 1)
        interpolate = (misses % 2 == 0) & (secant > lo) & (secant < hi)
        y = np.where(inside, newton, np.where(interpolate, secant, np.where(lo > 0, np.sqrt(lo * hi), hi / 2)))
    result[live] = hi
    return result.reshape(len(qs), k)


class _SumCdf:
    """cdf_of_sum and its density for pairs of (quantile, configuration), in O(1) per pair and evaluation.

    The exponential part over the ascending nodes s_1 <= ... <= s_N, with m of them below y, is
    (1/N) sum_{j <= m} (1 - e^-(y - s_j)/t) = (m - e^-(y - s_m)/t R_m) / N, R_m = sum_{j <= m} e^-(s_m - s_j)/t,
    tabulated once per configuration by R_m = 1 + R_{m-1} e^-(s_m - s_(m-1))/t (every exponent <= 0, so nothing
    overflows); it equals cdf_of_sum's term-by-term mean up to rounding (~1e-16). Its density is
    e^-(y - s_m)/t R_m / (N t); the log-normal's is phi(z) / (y sigma). m comes from comparing
    z = (ln y - mu) / sigma with the nodes' normal quantiles (all N or none of them when sigma is 0)."""

    _PAIR_FIELDS = ("col", "mu", "sigma", "mean", "p0", "tail")

    def __init__(self, wait: Wait, s: LogNormal, col: np.ndarray):
        mu, sigma = s._params()
        tail = wait.tail_s
        nodes = length_nodes(s.mean, s.cv, NODES)  # (NODES, configurations)
        sums = np.ones_like(nodes)
        with np.errstate(divide="ignore", invalid="ignore"):
            decay = np.where(tail > 0, np.exp(-np.diff(nodes, axis=0) / np.where(tail > 0, tail, 1.0)), 0.0)
        for m in range(1, NODES):
            sums[m] += sums[m - 1] * decay[m - 1]
        self.nodes, self.sums, self.stride = nodes.ravel(), sums.ravel(), nodes.shape[1]
        self.prefix = np.cumsum(nodes, axis=0).ravel()  # sum_{j <= m} s_j (``_at_general``'s integral)
        self.col, self.mu, self.sigma, self.mean = col, mu[col], sigma[col], s.mean[col]
        self.p0, self.tail = wait.p_wait[col], tail[col]
        self.regular = bool(np.all(self.sigma > 0) and np.all(self.tail > 0))  # no point mass anywhere

    def subset(self, keep: np.ndarray) -> _SumCdf:
        """The same CDF for the pairs where ``keep`` is true."""
        out = object.__new__(_SumCdf)
        out.__dict__.update(self.__dict__)
        for name in self._PAIR_FIELDS:
            setattr(out, name, getattr(self, name)[keep])
        return out

    def at(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(cdf_of_sum at y, its derivative in y), one value per pair, for y > 0."""
        if not self.regular:
            return self._at_general(y)
        z = (np.log(y) - self.mu) / self.sigma
        below = np.searchsorted(_nodes_z(NODES), z)
        at = np.maximum(below - 1, 0) * self.stride + self.col  # the highest node below y
        with np.errstate(under="ignore"):
            decayed = np.exp(np.minimum(self.nodes[at] - y, 0.0) / self.tail) * self.sums[at] * (below > 0)
            s_density = np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * y * self.sigma)
        cdf = (1.0 - self.p0) * normal_cdf(z) + self.p0 * (below - decayed) / NODES
        return cdf, (1.0 - self.p0) * s_density + self.p0 * decayed / (NODES * self.tail)

    def _at_general(self, y: np.ndarray, integral: bool = False) -> tuple[np.ndarray, ...]:
        """``at`` where some S is a point mass (sigma 0) or some wait has no tail (t 0: a jump at each node).
        ``integral``: also G(y) = E[(y - W - S)^+], the CDF's integral from 0 (``QueueMixture``): for the log-normal
        y Phi(z) - E[S] Phi(z - sigma) ((y - E[S])^+ for a point mass), and for the exponential part over the m nodes
        below y (1/N) sum (y - s_j - t + t e^-(y - s_j)/t) = (m y - sum_{j <= m} s_j - m t + t e^-(y - s_m)/t R_m) / N
        (m y - sum s_j over N where the wait has no tail)."""
        positive = self.sigma > 0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            z = (np.log(y) - self.mu) / np.where(positive, self.sigma, 1.0)
            s_cdf = np.where(positive, normal_cdf(z), (y >= self.mean).astype(float))
            s_density = np.where(positive, np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * y * self.sigma), 0.0)
            below = np.where(positive, np.searchsorted(_nodes_z(NODES), z), NODES * (y > self.mean))
            at = np.maximum(below - 1, 0) * self.stride + self.col
            has = (below > 0) & (self.tail > 0)
            t = np.where(has, self.tail, 1.0)
            decayed = np.where(has, np.exp(np.minimum(self.nodes[at] - y, 0.0) / t) * self.sums[at], 0.0)
            if integral:
                g_s = np.where(positive, y * s_cdf - self.mean * normal_cdf(z - self.sigma),
                               np.maximum(y - self.mean, 0.0))
                total = np.where(below > 0, self.prefix[at], 0.0)
                g_w = (below * y - total - np.where(self.tail > 0, below * t - t * decayed, 0.0)) / NODES
        cdf = (1.0 - self.p0) * s_cdf + self.p0 * (below - decayed) / NODES
        density = (1.0 - self.p0) * s_density + self.p0 * decayed / (NODES * t)
        if integral:
            return cdf, density, (1.0 - self.p0) * g_s + self.p0 * g_w
        return cdf, density


class QueueMixture:
    """W + S + Q, where Q is the wait of a request at a uniform place u in a queue ahead of it, independent of W and S
    (an offline run's backlog, a finite run's fluid queue: docs/serving.md section 3). Q(u) is taken linear between
    its values at the edges u = k / K, k = 0 .. K (``edges``, shape (K + 1, k) for k configurations, W and S 1-D over
    them), so the mixture's CDF at x is the mean over the K cells of

        (G(x - Q_k) - G(x - Q_k+1)) / (Q_k+1 - Q_k)      (F(x - Q_k) where the cell has no width),

    with F the CDF of W + S (``cdf_of_sum``: S log-normal, W's exponential tail over NODES quantile nodes of S) and G
    its integral, G(y) = E[(y - W - S)^+] (both from ``_SumCdf``). The mixture is continuous in x even where S and W
    hardly spread (the cells' ramps join), and its density is the cells' (F(x - Q_k) - F(x - Q_k+1)) / width
    (f(x - Q_k) in a cell without width)."""

    def __init__(self, wait: Wait, s: LogNormal, edges: np.ndarray):
        self.edges = np.asarray(edges, dtype=float)
        self.sum = _SumCdf(wait, s, np.arange(self.edges.shape[1]))  # (one pair per configuration)

    def at(self, x: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the mixture's CDF, its density) at x for the configurations ``col`` (x and col 1-D, one pair each)."""
        edges = self.edges[:, col]  # (K + 1, pairs)
        y = (x[None, :] - edges).ravel()
        positive = y > 0  # (W + S is positive: nothing below 0)
        parts = self.sum.subset(np.tile(col, edges.shape[0]))._at_general(np.where(positive, y, 1.0), integral=True)
        cdf, density, integral = (np.where(positive, a, 0.0).reshape(edges.shape) for a in parts)
        width = np.diff(edges, axis=0)
        ramp = width > 1e-6 * np.abs(x)[None, :]  # (narrower: the integral's difference would lose its digits)
        with np.errstate(divide="ignore", invalid="ignore"):
            cells = np.where(ramp, (integral[:-1] - integral[1:]) / np.where(ramp, width, 1.0), cdf[:-1])
            slopes = np.where(ramp, (cdf[:-1] - cdf[1:]) / np.where(ramp, width, 1.0), density[:-1])
        return _mean_rows(cells), _mean_rows(slopes)


def _mean_rows(a: np.ndarray) -> np.ndarray:
    """The mean over the leading axis, summed as a fixed tree of pairs (the same rounding for one column as for many:
    NumPy's own sum orders a contiguous column differently)."""
    count = a.shape[0]
    while a.shape[0] > 1:
        half = a.shape[0] // 2
        pairs = a[:half] + a[half:2 * half]
        a = np.concatenate([pairs, a[2 * half:]]) if a.shape[0] % 2 else pairs
    return a[0] / count


def queue_mixture_cdf(wait: Wait, s: LogNormal, edges, x) -> np.ndarray:
    """P(W + S + Q <= x) (``QueueMixture``): ``edges`` Q at the K + 1 cell edges on a leading axis, then the
    configurations' shape, which W, S and x broadcast to."""
    x = np.asarray(x, dtype=float)
    edges = np.asarray(edges, dtype=float)
    shape = np.broadcast_shapes(x.shape, edges.shape[1:], np.shape(s.mean), np.shape(s.cv), np.shape(wait.p_wait),
                                np.shape(wait.mean_s))

    def flat(a):
        return np.broadcast_to(a, shape).reshape(-1)

    mix = QueueMixture(Wait(flat(wait.p_wait), flat(wait.mean_s)), LogNormal(flat(s.mean), flat(s.cv)),
                       np.broadcast_to(edges, (edges.shape[0], *shape)).reshape(edges.shape[0], -1))
    cdf, _ = mix.at(flat(x), np.arange(flat(x).size))
    cdf = np.where(np.isinf(flat(wait.mean_s)) | np.isinf(mix.edges).any(axis=0), 0.0, cdf)
    return cdf.reshape(shape)


def queue_mixture_quantiles(wait: Wait, s: LogNormal, edges, qs, alone, rtol: float = 1e-9,
                            max_iterations: int = 200) -> np.ndarray:
    """Quantiles ``qs`` (leading axis) of W + S + Q (``QueueMixture``), given ``alone``, those of W + S
    (``quantile_of_sum``, shape (len(qs), *configurations)); ``edges`` as in ``queue_mixture_cdf``. Adding Q's
    q-quantile to the sum's (the two taken as moving together) overstates the upper percentiles where both spread: a
    request late in the queue is not also the one with the longest answer.

    The root x of the mixture's CDF = q lies between alone + Q_0 and alone + Q_K (the mixture's CDF lies between the
    sum's shifted by the least and by the largest wait). From the sum's quantile shifted by Q's (clipped into that
    bracket), a Newton step with the mixture's density where it lands inside the bracket, else the bracket's midpoint;
    a step below rtol / 4 is lengthened by rtol / 4 so that the bracket closes. Each (quantile, configuration) pair
    leaves when its bracket is narrower than ``rtol`` times its upper end, which is its result (every pair's the one
    it would have alone); where Q does not spread, alone + Q_0."""
    alone = np.asarray(alone, dtype=float)
    config = alone.shape[1:]
    edges = np.asarray(edges, dtype=float)
    edges = np.broadcast_to(edges, (edges.shape[0], *config)).reshape(edges.shape[0], -1)
    n = len(qs)
    low, high = alone.reshape(n, -1) + edges[0], alone.reshape(n, -1) + edges[-1]
    result = np.where(np.isfinite(high), low, np.inf)  # (no spread of places: the sum shifted by the one wait)
    need = np.isfinite(low) & np.isfinite(high) & (high > low)
    if not need.any():
        return result.reshape(alone.shape)

    def flat(a):
        return np.broadcast_to(a, config).reshape(-1)

    mix = QueueMixture(Wait(flat(wait.p_wait), flat(wait.mean_s)), LogNormal(flat(s.mean), flat(s.cv)), edges)
    level_of, col_of = np.nonzero(need)  # the pairs to solve
    level = np.asarray(qs, dtype=float)[level_of]
    lo, hi = low[level_of, col_of], high[level_of, col_of]
    place = np.clip(level * (edges.shape[0] - 1), 0, edges.shape[0] - 1)
    start = alone.reshape(n, -1)[level_of, col_of]
    left = np.floor(place).astype(int)
    right = np.minimum(left + 1, edges.shape[0] - 1)
    queue = edges[left, col_of] + (place - left) * (edges[right, col_of] - edges[left, col_of])
    x = np.clip(start + queue, lo, hi)
    live = np.arange(level.size)
    found = hi.copy()
    for _ in range(max_iterations):
        if not live.size:
            break
        cdf, density = mix.at(x, col_of[live])
        above = cdf >= level
        hi, lo = np.where(above, x, hi), np.where(above, lo, x)
        done = (hi - lo <= rtol * hi) | (cdf == level)
        if done.any():
            found[live[done]] = np.where(cdf[done] == level[done], x[done], hi[done])
            keep = ~done
            live, level, x, lo, hi, cdf, density, above = (
                a[keep] for a in (live, level, x, lo, hi, cdf, density, above))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = (level - cdf) / density
            nudge = np.where(above, -rtol, rtol) / 4 * x
            step = np.where(np.abs(step) <= np.abs(nudge), step + nudge, step)
            newton = x + step
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        x = np.where(inside, newton, (lo + hi) / 2)
    found[live] = hi
    result[level_of, col_of] = found
    return result.reshape(alone.shape)
