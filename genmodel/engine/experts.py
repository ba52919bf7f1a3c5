"""Expected number of distinct routed experts that a batch of tokens activates in one MoE layer.

Contract
--------
``expected_active_experts(tokens, num_experts, top_k)`` = E x (1 - (1 - k/E)^T), element-wise over arrays.

Derivation (docs/formulas.md 3.4): a token picks k distinct experts of E. Under uniform routing a given
expert is among a token's picks with probability k/E, so it is missed by all T tokens (routed independently)
with probability (1 - k/E)^T; by linearity of expectation the expected number of experts hit is E times one
minus that. It equals k for T = 1 and tends to E as T grows. Real routers are not uniform: skewed routing
touches fewer experts, so this is an upper bound on the weights a step must read under a fixed T.
"""

from __future__ import annotations

import math

import numpy as np

# (1 - k/E)^T at or below 2^-64 (in exact arithmetic) leaves 1 - (1 - k/E)^T at 1.0 in float64 (any value of at most
# 2^-54 does), with margin for the rounding of ``np.power`` itself
_NEGLIGIBLE_LOG2 = 64


def expected_active_experts(tokens, num_experts: int, top_k: int):
    """Expected distinct experts hit by ``tokens`` tokens each routed to ``top_k`` of ``num_experts``.

    An array of token counts all of which saturate the experts (``_saturated``: (1 - k/E)^T negligible, as in a
    prefill of a thousand tokens or more over 256 experts choosing 8) skips the power: every element is E x 1.0, the
    number the full expression gives there (1.0 - (1 - k/E)^T rounds to 1.0); any other input is computed as
    ``E x (1 - np.power(1 - k/E, T))``."""
    t = np.asarray(tokens, dtype=float)
    if num_experts <= 0 or not 0 < top_k <= num_experts:
        raise ValueError(f"need 0 < top_k <= num_experts, got top_k={top_k}, num_experts={num_experts}")
    miss = 1.0 - top_k / num_experts
    # miss ** t underflows cleanly to 0 for large t; t = 0 gives 0 active experts
    if t.ndim and miss > 0.0 and _saturated(t, miss).all():  # (miss = 0: 0 ** 0 is 1, so no count is saturated)
        return np.full(t.shape, num_experts * 1.0)
    return num_experts * (1.0 - np.power(miss, t))


def _saturated(t: np.ndarray, miss: float) -> np.ndarray:
    """Where ``miss ** t`` is at most 2^-``_NEGLIGIBLE_LOG2`` in exact arithmetic (0 < miss < 1): t at or above
    that exponent's t (False for a NaN)."""
    return t >= _NEGLIGIBLE_LOG2 * math.log(2.0) / -math.log(miss)
