"""Speculative decoding arithmetic (docs/serving.md section 5).

Contract
--------
A draft (a smaller model, or MTP heads) proposes k tokens; the target model verifies all k + 1 positions in one
step. With per-position conditional acceptance a_1..a_k (a_i: the probability that draft token i is accepted
given that tokens 1..i-1 were), the expected tokens one step emits per sequence are

    E = 1 + sum_{i=1..k} prod_{j<=i} a_j            (the bonus token always comes out)

which for a constant acceptance a is (1 - a^(k+1)) / (1 - a) (k + 1 at a = 1). Engines report acceptance as the
accepted share of proposed tokens r = (E - 1) / k, or as the mean acceptance length tau = E: ``tokens_per_step``
takes any of the three and ``acceptance_from_length`` inverts tau for a constant a. Each step costs one verify step
of k + 1 tokens per sequence plus k draft steps; it pays while (verify + k x draft) / E < one plain decode step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genmodel.errors import ConfigurationError
from genmodel.specs.checks import at_least, scalar


def tokens_per_step(k: int, acceptance: float | Sequence[float] | None = None, *, accepted_share: float | None = None,
                    mean_length: float | None = None) -> float:
    """Expected tokens a verify step emits per sequence (see the module docstring); exactly one way of stating the
    acceptance must be given. Bad values raise a ``GenmodelError`` naming ``serve``'s argument (``spec_acceptance``,
    ``spec_accepted_share``, ``spec_mean_length``)."""
    given = [name for name, x in (("spec_acceptance", acceptance), ("spec_accepted_share", accepted_share),
                                  ("spec_mean_length", mean_length)) if x is not None]
    if not given:
        raise ConfigurationError("spec_acceptance is needed with spec_tokens: give the acceptance one way, a per-token "
                                 "acceptance (or a per-position list), the accepted share of proposed tokens "
                                 "(spec_accepted_share) or the mean acceptance length (spec_mean_length)",
                                 "spec_acceptance")
    if len(given) > 1:
        raise ConfigurationError(f"{given[1]} is given with {given[0]}: give the acceptance one way", given[1])
    if mean_length is not None:  # 1 (every draft token rejected) to k + 1 (all accepted, and the bonus token)
        return scalar("spec_mean_length", at_least("spec_mean_length", mean_length, 1.0, k + 1.0))
    if accepted_share is not None:
        return 1.0 + scalar("spec_accepted_share", at_least("spec_accepted_share", accepted_share, 0.0, 1.0)) * k
    rates = at_least("spec_acceptance", acceptance, 0.0, 1.0)
    if rates.ndim > 1 or (rates.ndim == 1 and rates.size != k):
        raise ConfigurationError(f"spec_acceptance must be one number or a list of one per draft position ({k}), got "
                                 f"{rates.size} values", "spec_acceptance")
    rates = np.broadcast_to(rates, (k,))
    return float(1.0 + np.cumprod(rates).sum())


def acceptance_from_length(k: int, mean_length: float) -> float:
    """The constant per-token acceptance a whose (1 - a^(k+1)) / (1 - a) equals ``mean_length`` (bisection)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if tokens_per_step(k, mid) < mean_length:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
