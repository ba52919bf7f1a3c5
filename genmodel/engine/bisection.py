"""Bisection that tests several levels of its tree in one vectorized call, with plain bisection's result bit for bit.

Contract
--------
``bisect(test, lo, hi, iterations, up=True, max_points=256)`` returns the bracket (lo, hi), elementwise, after
``iterations`` steps of plain bisection on [lo, hi]: each step takes mid = (lo + hi) / 2 and, where ``test(mid)`` is
true, moves lo to mid (``up``; hi with ``up=False``), and the other end to mid where it is false. ``test`` takes an
array of points (first the bracket's midpoint, then arrays whose leading axis lists candidates and whose other axes
are the bracket's) and returns booleans; each point's answer must depend on that point alone (an elementwise test).
The first step is taken as plain bisection takes it; its answer's shape, with every axis the test's own arrays add,
is the bracket's from then on.

How: plain bisection spends one call of ``test`` per step, and most of a call on one configuration is the fixed cost
of NumPy's calls, not arithmetic. A round here computes the 2^k - 1 midpoints of the next k levels of the bisection
tree, each the mean (lo' + hi') / 2 of the two points that would bracket it, in the same floating-point operations
plain bisection would perform; it tests them all in one call and follows, level by level, the path plain bisection
would take through them. So every bracket is the one plain bisection reaches, with about iterations / k calls
instead of ``iterations``. k is the largest with (2^k - 1) x (points in the bracket) <= ``max_points`` (at least 1:
plain bisection where the bracket already holds that many points, for which the arithmetic is the cost).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def levels_for(size: int, max_points: int) -> int:
    """The levels a round tests at once: the largest k >= 1 with (2^k - 1) x ``size`` <= ``max_points``."""
    k = 1
    while ((1 << (k + 1)) - 1) * max(size, 1) <= max_points:
        k += 1
    return k


def bisect(test: Callable[[np.ndarray], np.ndarray], lo, hi, iterations: int, *, up: bool = True,
           max_points: int = 256, bracket_shape: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) after ``iterations`` steps of plain bisection (module docstring). ``bracket_shape``: the caller
    knows the test's answers have the shape of lo and hi broadcast together (the test adds no axes of its own), so
    the first round tests several levels too (the same bracket, one call fewer)."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    if iterations < 1:
        return np.broadcast_arrays(lo, hi)
    if bracket_shape:
        lo, hi = (np.array(a) for a in np.broadcast_arrays(lo, hi))
    done = 0
    while done < iterations:
        k = min(levels_for(lo.size, max_points), iterations - done) if done or bracket_shape else 1
        if k == 1:  # a plain step: always the first, whose answer has every axis the test's own arrays add to the
            # bracket's, so that a round's candidates, on a leading axis, meet a bracket of the test's whole shape
            mid = (lo + hi) / 2
            moves_lo = np.asarray(test(mid), dtype=bool)
            if not up:
                moves_lo = ~moves_lo
            lo, hi = np.where(moves_lo, mid, lo), np.where(moves_lo, hi, mid)
            done += 1
            continue
        n = 1 << k
        grid = np.empty((n + 1, *lo.shape))
        grid[0], grid[n] = lo, hi
        step = n
        while step > 1:  # each level's midpoints from the two points that bracket them, as bisection computes them
            half = step // 2
            grid[half::step] = (grid[0:n:step] + grid[step::step]) / 2
            step = half
        passed = np.asarray(test(grid[1:n]), dtype=bool)
        if not up:
            passed = ~passed
        size = lo.size
        passed = np.broadcast_to(passed, (n - 1, *lo.shape)).reshape(n - 1, size)
        done += k
        if size == 1:  # one bracket: its path in plain Python (NumPy's fixed cost per call would be most of it)
            flags, a, width = passed[:, 0].tolist(), 0, n
            for _ in range(k):
                width //= 2
                if flags[a + width - 1]:
                    a += width
            lo, hi = np.array(grid[a]), np.array(grid[a + 1])
            continue
        columns = np.arange(size)
        # plain bisection's path down the tree: the bracket [a, a + width] in grid indices halves at each level
        a = np.zeros(size, dtype=np.intp)
        width = n
        for _ in range(k):
            width //= 2
            a += width * passed[a + (width - 1), columns]
        flat = grid.reshape(n + 1, size)
        lo, hi = flat[a, columns].reshape(lo.shape), flat[a + 1, columns].reshape(lo.shape)
    return lo, hi
