"""Queueing formulas of the served-traffic model (docs/serving.md section 3), elementwise on NumPy arrays.

Contract
--------
* ``erlang_c(c, a)``: probability that an arrival waits in an M/M/c queue with c servers and offered load a < c
  (Erlang B by its recursion up to ``EXACT_SERVERS`` servers, the Halfin-Whitt limit beyond).
* ``kingman_wait(rho, service_s, ca2, cs2)``: mean wait of a G/G/1 queue, (ca2 + cs2)/2 x rho/(1 - rho) x E[S]
  (exact for M/G/1, the Pollaczek-Khinchine formula).
* ``Wait``: a waiting time with an atom at zero and an exponential tail, P(W > w) = P0 exp(-w P0 / E[W]).
* ``length_nodes(mean, cv, count)``: equal-probability quantile nodes of a log-normal length distribution.
* ``quantile_of_sum(wait, nodes, q)``: the q-quantile of W + S for S uniform over the nodes (vectorized bisection).
* ``normal_cdf``, ``normal_ppf``: the standard normal distribution (no SciPy in the base install).
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
    z = np.abs(x) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    erf = 1.0 - poly * np.exp(-z * z)
    return 0.5 * (1.0 + np.sign(x) * erf)


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
        else:
            b = np.ones_like(cs)  # Erlang B with 0 servers; B(k) = a B(k-1) / (k + a B(k-1)) stays in [0, 1]
            for k in range(1, int(cs.max()) + 1):
                b = np.where(k <= cs, as_ * b / (k + as_ * b), b)
        rho = as_ / cs
        out[small] = b / (1.0 - rho * (1.0 - b))
    large = stable & ~small
    if np.any(large):
        beta = (c[large] - a[large]) / np.sqrt(a[large])
        # 1 / (1 + beta Phi(beta) / phi(beta)), written with exp(-beta^2/2) on top so it underflows to 0 cleanly
        pdf = np.exp(-0.5 * beta**2) / np.sqrt(2 * np.pi)
        out[large] = pdf / (pdf + beta * normal_cdf(beta))
    return out


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


def quantile_of_sum(wait: Wait, s: LogNormal, qs, iterations: int = 22) -> np.ndarray:
    """Quantiles ``qs`` (on a new leading axis) of S + W, S log-normal, W independent of S: S's own quantile where
    W has no mass, else a vectorized bisection on ``cdf_of_sum`` over the configurations that need it."""
    shape = np.broadcast_shapes(np.shape(s.mean), np.shape(wait.mean_s))
    out = np.stack([np.broadcast_to(s.ppf(float(q)), shape) for q in qs]).astype(float)
    p0 = np.broadcast_to(wait.p_wait, out.shape[1:])
    unbounded = np.broadcast_to(np.isinf(wait.mean_s), out.shape[1:])
    need = (p0 > 1e-9) & ~unbounded
    if np.any(need):
        sub_wait = Wait(np.broadcast_to(wait.p_wait, need.shape)[need], np.broadcast_to(wait.mean_s, need.shape)[need])
        sub_s = LogNormal(np.broadcast_to(s.mean, need.shape)[need], np.broadcast_to(s.cv, need.shape)[need])
        nodes = length_nodes(sub_s.mean, sub_s.cv, NODES)[:, None, ...]  # (nodes, 1, k): every quantile at once
        q_axis = np.asarray([float(q) for q in qs])[:, None]
        lo = np.zeros((len(qs), *sub_s.mean.shape))
        hi = np.stack([sub_s.ppf(max(float(q), 0.999999)) + sub_wait.quantile(float(q)) + sub_wait.tail_s
                       for q in qs])
        for _ in range(iterations):
            mid = (lo + hi) / 2
            below = cdf_of_sum(sub_wait, sub_s, mid, nodes) >= q_axis
            hi = np.where(below, mid, hi)
            lo = np.where(below, lo, mid)
        out[:, need] = hi
    out[:, unbounded] = np.inf
    return out
