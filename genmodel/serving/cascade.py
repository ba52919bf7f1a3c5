"""How much a request's life varies when arrivals feed on the steps they lengthen (docs/serving.md section 3).

Contract
--------
``life_spread(alpha, beta)`` -> (j_pp, j_nn, j_np), elementwise: the variance factors of an open loop's arrivals
counted per engine step, over the D decode steps of one request, when each arrival lengthens the steps that follow.
``size_bias(alpha, beta, steps)`` -> (J0, J1): how far the decoding count a request finds (the time average, Little's)
lies above the steps' own mean, from the same count, for lives of ``steps`` decode steps.

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

The decoding count a request finds is size-biased twice over (``size_bias``): it is more likely present when more
are (the count's stationary variance), and time is spent in long steps, which the count and the prompt work both
lengthen. Little's law reads the time-average count, lambda D TPOT, while the steps' terms give the step-average n = x
D; with t_k = a + c_p A_k + b_n N_k the two differ by Cov(N_k, t_k) / t-bar, which the same spectrum gives:

    E_time[N] - n = beta J0 + alpha J1,   J0 = Var(N) / n,   J1 = Cov(N_k, A_k) / x

(without feedback 1 and 0: a Poisson count's Var(N) = n, of which a tagged request's own place in the step, the "1 +"
of its steps, is the b_n n / t-bar = beta). A life of few steps needs the lattice of steps (``_discrete_bias``): on it
J0 = D (1/2 pi) Int |psi|^2 |E|^2 domega and J1 = D (1/2 pi) Int |psi|^2 Re(E) domega over omega in (-pi, pi], with E
= (1/D) sum over l = 1..D of e^(-i omega l) and psi = 1 / (1 - alpha e^(-i omega) - beta E e^(-i omega)) (the prompts a
step computes arrived in the step before); with the prompt work alone an AR(1)'s window sums. Their continuous limit,
theta = omega D as above without the window's kernel (J1 with |psi|^2 - 1), overstates them at a life of one step
2.2-3.9 times and at 48 steps by 1-7%.

The integrals depend on (alpha, beta) alone, and the size bias's on D too: they are computed once per process
(``_table`` and ``_bias_table``, Gauss-Legendre panels, 0.06-0.1 s and about 0.13 s) on a grid of g (in -ln(1 - g))
and alpha's share alpha / g (and, for the size bias, lives of 1-48 steps and the continuous limit, read linearly in 1 /
D), and read off it by bilinear interpolation of their logarithms (J1 linearly; within 0.7% and 1-2% of the
quadrature: tests/test_serving_cascade.py).
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


def bias_integrals(alpha, beta, steps=None) -> tuple[np.ndarray, np.ndarray]:
    """(J0, J1) by quadrature (module docstring): the stationary decoding count's variance over its mean, and its
    covariance with the arrivals a step computes over their mean, elementwise (alpha + beta < 1); the reference of
    ``size_bias``'s table. ``steps``: a life of that many decode steps on the lattice of steps (``_discrete_bias``,
    exact for the count of the ``tests/test_serving_cascade.py`` simulation), else the continuous limit (many)."""
    a = np.asarray(alpha, dtype=float)[..., None]
    b = np.asarray(beta, dtype=float)[..., None]
    if steps is not None:
        return _discrete_bias(a, b, int(steps))
    theta, w = _nodes()
    window = -np.expm1(-1j * theta) / (1j * theta)
    psi2 = 1.0 / np.abs(1.0 - a - b * window) ** 2
    scale = w / np.pi  # (even integrands: twice the half line, over 2 pi; both decay as theta^-2 or faster)
    return (psi2 * np.abs(window) ** 2 * scale).sum(axis=-1), ((psi2 - 1.0) * window.real * scale).sum(axis=-1)


def _discrete_bias(a: np.ndarray, b: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(J0, J1) of a life of D = ``steps`` decode steps, counted step by step: the prompts B_k a step computes (the
    arrivals of the step before) and the count N_k = B_(k-1) + ... + B_(k-D) have, at frequency omega in (-pi, pi],
    B = noise / (1 - alpha e^(-i omega) - beta E e^(-i omega)) with E = (1/D) sum over l = 1..D of e^(-i omega l), so
    J0 = D (1/2 pi) Int |psi|^2 |E|^2 domega and J1 = D (1/2 pi) Int |psi|^2 Re(E) domega (no white part: a step's
    own arrivals are not in its count). Graded Gauss-Legendre panels on (0, pi] (even integrands)."""
    x, w = _GL
    edges = np.concatenate([[0.0], np.geomspace(1e-5, np.pi, 48)])
    lo, hi = edges[:-1, None], edges[1:, None]
    omega, weight = ((lo + hi) / 2 + (hi - lo) / 2 * x).ravel(), ((hi - lo) / 2 * w).ravel()
    back = np.exp(-1j * omega)
    window = back * -np.expm1(-1j * omega * steps) / (steps * -np.expm1(-1j * omega))
    psi2 = 1.0 / np.abs(1.0 - (a + b * window) * back) ** 2
    scale = steps * weight / np.pi
    return (psi2 * np.abs(window) ** 2 * scale).sum(axis=-1), (psi2 * window.real * scale).sum(axis=-1)


def _grid_points() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(g, alpha, beta) of the tables' grid, shape (_V_NODES, _S_NODES) for alpha and beta: v = -ln(1 - g) / -ln(1 -
    GAIN_CAP) evenly spread, alpha's share alpha / g = 1 - (1 - u)^2 with u evenly spread (denser towards 1)."""
    v = np.linspace(0.0, 1.0, _V_NODES)
    share = 1.0 - (1.0 - np.linspace(0.0, 1.0, _S_NODES)) ** 2
    g = -np.expm1(v * np.log1p(-GAIN_CAP))[:, None]
    return g, g * share[None, :], g * (1.0 - share[None, :])


@functools.cache
def _table() -> np.ndarray:
    """log of (j_pp, j_nn, j_np) (1 - g)^2 on the grid (``_grid_points``), shape (3, _V_NODES, _S_NODES)."""
    g, alpha, beta = _grid_points()
    return np.log(np.stack(integrals(alpha, beta))) + 2.0 * np.log1p(-g)  # (their growth at low frequency divided out)


# lives of these many decode steps have their own (J0, J1) tables (``_discrete_bias``); longer lives are read between
# the last and the continuous limit, linear in 1 / D (at 48 steps the two differ by 4-7%)
_BIAS_STEPS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48)


@functools.cache
def _bias_table() -> np.ndarray:
    """(log J0, J1) (1 - g)^2 on the grid (``_grid_points``) for each life in ``_BIAS_STEPS`` and the continuous limit
    (the last), shape (2, len(_BIAS_STEPS) + 1, _V_NODES, _S_NODES); J1, 0 without feedback, is read linearly."""
    g, alpha, beta = _grid_points()
    rows = [bias_integrals(alpha, beta, d) for d in _BIAS_STEPS] + [bias_integrals(alpha, beta)]
    j0, j1 = (np.stack(v) for v in zip(*rows, strict=True))
    return np.stack([np.log(j0) + 2.0 * np.log1p(-g), j1 * (1.0 - g) ** 2])


def _read(table: np.ndarray, alpha, beta, layer=None) -> tuple[np.ndarray, np.ndarray]:
    """(values, g): ``table``'s rows read off at broadcast ``alpha``, ``beta`` >= 0 by bilinear interpolation, g = alpha
    + beta at most GAIN_CAP (alpha's share kept); ``layer``: an index into the table's second axis per value (a table
    of several grids)."""
    a = np.maximum(np.asarray(alpha, dtype=float), 0.0)
    b = np.maximum(np.asarray(beta, dtype=float), 0.0)
    g = a + b
    share = np.where(g > 0, a / np.where(g > 0, g, 1.0), 0.0)
    g = np.minimum(g, GAIN_CAP)
    v = np.log1p(-g) / np.log1p(-GAIN_CAP)
    fv = v * (_V_NODES - 1)
    fs = (1.0 - np.sqrt(1.0 - share)) * (_S_NODES - 1)
    i = np.clip(np.floor(fv).astype(int), 0, _V_NODES - 2)
    j = np.clip(np.floor(fs).astype(int), 0, _S_NODES - 2)
    dv, ds = fv - i, fs - j
    if layer is not None:
        def at(di, dj):
            return table[:, layer, i + di, j + dj]
    else:
        def at(di, dj):
            return table[:, i + di, j + dj]
    return (at(0, 0) * (1 - dv) * (1 - ds) + at(1, 0) * dv * (1 - ds) + at(0, 1) * (1 - dv) * ds
            + at(1, 1) * dv * ds), g


def life_spread(alpha, beta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(j_pp, j_nn, j_np) at broadcast ``alpha``, ``beta`` >= 0 (module docstring), read off the table; g = alpha +
    beta at most GAIN_CAP."""
    corners, g = _read(_table(), alpha, beta)
    j_pp, j_nn, j_np = np.exp(corners) / (1.0 - g) ** 2
    return j_pp, j_nn, j_np


def size_bias(alpha, beta, steps=np.inf) -> tuple[np.ndarray, np.ndarray]:
    """(J0, J1) at broadcast ``alpha``, ``beta`` >= 0 and lives of ``steps`` >= 1 decode steps (module docstring), read
    off their tables (linear in 1 / steps between lives); g at most GAIN_CAP: the time-average decoding count exceeds
    the step-average n by beta J0 + alpha J1."""
    u = 1.0 / np.maximum(np.asarray(steps, dtype=float), 1.0)
    nodes = 1.0 / np.array([*_BIAS_STEPS, np.inf])  # (decreasing, to 0)
    k = np.clip(np.searchsorted(-nodes, -u, side="right"), 1, len(nodes) - 1)  # u within nodes[k - 1] >= u >= nodes[k]
    f = (nodes[k - 1] - u) / (nodes[k - 1] - nodes[k])
    table = _bias_table()
    (lo0, lo1), g = _read(table, alpha, beta, k - 1)
    (hi0, hi1), _ = _read(table, alpha, beta, k)
    log_j0, j1 = lo0 + (hi0 - lo0) * f, lo1 + (hi1 - lo1) * f
    return np.exp(log_j0) / (1.0 - g) ** 2, j1 / (1.0 - g) ** 2
