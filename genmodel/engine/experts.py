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

import numpy as np


def expected_active_experts(tokens, num_experts: int, top_k: int):
    """Expected distinct experts hit by ``tokens`` tokens each routed to ``top_k`` of ``num_experts``."""
    t = np.asarray(tokens, dtype=float)
    if num_experts <= 0 or not 0 < top_k <= num_experts:
        raise ValueError(f"need 0 < top_k <= num_experts, got top_k={top_k}, num_experts={num_experts}")
    miss = 1.0 - top_k / num_experts
    # miss ** t underflows cleanly to 0 for large t; t = 0 gives 0 active experts
    return num_experts * (1.0 - np.power(miss, t))
