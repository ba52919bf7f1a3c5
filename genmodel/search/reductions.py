"""Reductions of a sweep that run where its blocks run: the top k by a metric, the Pareto front of two metrics, and
histograms (genmodel.search.sweep, docs/sweeps.md section 4).

Contract
--------
Each reduction is exact and independent of how the configurations are split into blocks and of the order in which
the blocks' partial results are merged: reducing the union of the blocks' partial results gives the reduction of the
whole sweep, configuration for configuration.

* ``top_k(values, config, k, order)``: positions of the k best values (``order`` 'max' or 'min'); ties go to the
  lower configuration number, so the selection is a total order. The k best of the union of every block's k best
  are the k best of the sweep.
* ``pareto(x, y, config, x_order, y_order)``: positions of the configurations that no other is at least as good as
  in both metrics and better in one; of configurations with equal (x, y), only the lowest-numbered one. Every
  point beaten in the sweep is beaten (or equalled by a lower number) on its own block's front, and dominance is
  transitive, so the front of the union of the blocks' fronts is the sweep's front. Returned in the order of x,
  best first.
* ``histogram(values, edges)``: counts per bin (``numpy.histogram``'s bins: each half-open, the last closed), and
  the counts below the first edge and above the last; each value is placed by comparisons with the fixed edges
  alone, so the counts of the blocks add up exactly.

Rows are ``dict[str, numpy.ndarray]`` of equal length with a ``config`` column (int64 configuration numbers);
values that are NaN or infinite never enter a top k or a front (callers mask them out first).
"""

from __future__ import annotations

import numpy as np

Rows = dict[str, np.ndarray]


def _key(values: np.ndarray, order: str) -> np.ndarray:
    """A key that sorts best first in ascending order (exact: negation only)."""
    v = np.asarray(values, dtype=np.float64)
    return -v if order == "max" else v


def top_k(values: np.ndarray, config: np.ndarray, k: int, order: str = "max") -> np.ndarray:
    """Positions of the k best ``values`` (best first; ties: the lower configuration number first)."""
    key = _key(values, order)
    if key.size > k:  # keep every value tied with the k-th, then break the ties by number
        kth = np.partition(key, k - 1)[k - 1]
        candidates = np.flatnonzero(key <= kth)
    else:
        candidates = np.arange(key.size)
    ordered = candidates[np.lexsort((config[candidates], key[candidates]))]
    return ordered[:k]


def pareto(x: np.ndarray, y: np.ndarray, config: np.ndarray, x_order: str = "max",
           y_order: str = "max") -> np.ndarray:
    """Positions of the Pareto front of (x, y) (module docstring), best x first."""
    kx, ky = _key(x, x_order), _key(y, y_order)
    if kx.size == 0:
        return np.zeros(0, dtype=np.int64)
    ordered = np.lexsort((config, ky, kx))  # best x first; among equal x, best y first; then the lower number
    best_y = np.minimum.accumulate(ky[ordered])
    # a point is on the front unless an earlier one (x at least as good) has y at least as good
    keep = np.concatenate(([True], ky[ordered][1:] < best_y[:-1]))
    return ordered[keep]


def histogram(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(counts per bin, count below the first edge, count above the last edge)."""
    v = np.asarray(values, dtype=np.float64)
    counts, _ = np.histogram(v, bins=edges)
    return counts.astype(np.int64), int(np.count_nonzero(v < edges[0])), int(np.count_nonzero(v > edges[-1]))


def take(rows: Rows, positions: np.ndarray) -> Rows:
    return {name: values[positions] for name, values in rows.items()}


def concat(parts: list[Rows]) -> Rows:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
