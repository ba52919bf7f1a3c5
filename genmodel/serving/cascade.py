"""How much a request's life varies when arrivals feed on the steps they lengthen (docs/serving.md section 3).

Contract
--------
``life_spread(alpha, beta)`` -> (j_pp, j_nn, j_np), elementwise: the variance factors of an open loop's arrivals
counted per engine step, over the D decode steps of one request, when each arrival lengthens the steps that follow.

The model (linear in the step's terms; steps indexed k): the arrivals A_k in step k are Poisson with mean lambda t_k
(lambda requests per second), and a step lasts t_k = a + c_p A_k + b_n N_k, with c_p one prompt's seconds of prompt
work and N_k the requests decoding, the arrivals of the D steps before. An arrival therefore lengthens its own step by
c_p and each of the D steps after it by b_n, and each second it adds brings lambda arrivals more: a self-exciting
(Hawkes) count whose branching ratio is g = alpha + beta < 1,

    alpha = lambda c_p          the prompt work's share of the time (the steps' correlation rho_c)
    beta  = lambda b_n D        the decoding count's share of the step's rise with the load

(g = 1 - t_0 / t-bar for a step linear in its count: t-bar = a / (1 - g)). With x arrivals per step on average, the
mean arrivals per step over a window of D steps and the mean decoding count n = x D over it have

    Var(mean arrivals per step) = x j_pp / D,   Var(mean count) = n j_nn,   Cov = x j_np,

    j_pp = (1/2 pi) Int |psi|^2 S dtheta,   j_nn = (1/2 pi) Int |psi|^2 |E|^2 S dtheta,
    j_np = (1/2 pi) Int |psi|^2 Re(E) S dtheta

over the whole line, with theta = omega D, E(theta) = (1 - exp(-i theta)) / (i theta) the window of D steps a
request decodes in, psi = 1 / (1 - alpha - beta E) the cluster of arrivals one arrival sets off, and S =
(sin(theta/2) / (theta/2))^2 the window's own (Fejer) kernel (the spectrum of a Hawkes count is x |psi|^2; Hawkes
1971). Without feedback (alpha = beta = 0) they are 1, 2/3 and 1/2: Poisson's count, the triangle a window of D steps
sees of D-step lives (2n/3), and their covariance x/2 (a correlation of 0.61); with the prompt work alone (beta = 0)
psi is 1 / (1 - alpha) at every frequency and each is that times 1 / (1 - alpha)^2, the AR(1) stretch of consecutive
steps. g is taken at most GAIN_CAP (alpha and beta scaled down together), as the running count's feedback always was.

The three integrals depend on (alpha, beta) alone: they are computed once per process (``_table``, Gauss-Legendre
panels, 0.06-0.1 s) on a grid of g (in -ln(1 - g)) and alpha's share alpha / g, and read off it by bilinear
interpolation of their logarithms (within 0.7% of the quadrature: tests/test_serving_cascade.py).
"""

from __future__ import annotations

import functools

import numpy as np

GAIN_CAP = 0.95  # the largest branching ratio g taken (1 / (1 - g) = 20)
_V_NODES = 49  # grid of v = -ln(1 - g) / -ln(1 - GAIN_CAP) in [0, 1]
_S_NODES = 21  # grid of alpha / g in [0, 1], as 1 - (1 - u)^2 with u evenly spread
_GL = np.polynomial.legendre.leggauss(16)
# panels of the half line theta >= 0: graded towards 0 (the cluster's low-frequency peak, of width about
# (1 - g) / beta), then of width pi up to 20 pi and 8 pi up to 156 pi, beyond which j_pp's integrand less its limit
# and the others decay as theta^-3 or faster (left out: below 1e-5 of each)
_EDGES = np.concatenate([[0.0], np.geomspace(1e-4, np.pi, 24), np.arange(2, 21) * np.pi, np.arange(28, 161, 8) * np.pi])


def _nodes() -> tuple[np.ndarray, np.ndarray]:
    """Quadrature nodes and weights on [0, 156 pi] (16 Gauss-Legendre nodes per panel)."""
    x, w = _GL
    lo, hi = _EDGES[:-1, None], _EDGES[1:, None]
    return ((lo + hi) / 2 + (hi - lo) / 2 * x).ravel(), ((hi - lo) / 2 * w).ravel()


def integrals(alpha, beta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(j_pp, j_nn, j_np) by quadrature (module docstring), elementwise over broadcast ``alpha`` and ``beta``
    (alpha + beta < 1): the reference the table is built from."""
    a = np.asarray(alpha, dtype=float)[..., None]
    b = np.asarray(beta, dtype=float)[..., None]
    theta, w = _nodes()
    window = -np.expm1(-1j * theta) / (1j * theta)  # E(theta)
    half = theta / 2
    fejer = (np.sin(half) / half) ** 2
    psi2 = 1.0 / np.abs(1.0 - a - b * window) ** 2
    limit = 1.0 / (1.0 - a) ** 2  # |psi|^2 far from 0, where E vanishes; (1/2 pi) Int S = 1 over the whole line
    scale = w * fejer / np.pi  # (the integrands are even in theta: twice the half line, over 2 pi)
    j_pp = ((psi2 - limit) * scale).sum(axis=-1) + limit[..., 0]
    j_nn = (psi2 * np.abs(window) ** 2 * scale).sum(axis=-1)
    j_np = (psi2 * window.real * scale).sum(axis=-1)
    return j_pp, j_nn, j_np


@functools.cache
def _table() -> np.ndarray:
    """log of (j_pp, j_nn, j_np) (1 - g)^2 on the grid, shape (3, _V_NODES, _S_NODES): v = -ln(1 - g) / -ln(1 -
    GAIN_CAP) evenly spread, alpha's share alpha / g = 1 - (1 - u)^2 with u evenly spread."""
    v = np.linspace(0.0, 1.0, _V_NODES)
    share = 1.0 - (1.0 - np.linspace(0.0, 1.0, _S_NODES)) ** 2  # (denser towards alpha / g = 1)
    g = -np.expm1(v * np.log1p(-GAIN_CAP))[:, None]
    alpha = g * share[None, :]
    values = integrals(alpha, g * (1.0 - share[None, :]))
    return np.log(np.stack(values)) + 2.0 * np.log1p(-g)  # (their growth at low frequency divided out)


def life_spread(alpha, beta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(j_pp, j_nn, j_np) at broadcast ``alpha``, ``beta`` >= 0 (module docstring), read off the table; g = alpha +
    beta at most GAIN_CAP."""
    a = np.maximum(np.asarray(alpha, dtype=float), 0.0)
    b = np.maximum(np.asarray(beta, dtype=float), 0.0)
    g = a + b
    share = np.where(g > 0, a / np.where(g > 0, g, 1.0), 0.0)
    logs = _table()
    g = np.minimum(g, GAIN_CAP)
    v = np.log1p(-g) / np.log1p(-GAIN_CAP)
    fv = v * (_V_NODES - 1)
    fs = (1.0 - np.sqrt(1.0 - share)) * (_S_NODES - 1)
    i = np.clip(np.floor(fv).astype(int), 0, _V_NODES - 2)
    j = np.clip(np.floor(fs).astype(int), 0, _S_NODES - 2)
    dv, ds = fv - i, fs - j
    corners = (logs[:, i, j] * (1 - dv) * (1 - ds) + logs[:, i + 1, j] * dv * (1 - ds)
               + logs[:, i, j + 1] * (1 - dv) * ds + logs[:, i + 1, j + 1] * dv * ds)
    j_pp, j_nn, j_np = np.exp(corners) / (1.0 - g) ** 2
    return j_pp, j_nn, j_np
