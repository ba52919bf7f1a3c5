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


def tokens_per_step(k: int, acceptance: float | Sequence[float] | None = None, *, accepted_share: float | None = None,
                    mean_length: float | None = None) -> float:
    """Expected tokens a verify step emits per sequence (see the module docstring); exactly one way of stating the
    acceptance must be given."""
    given = [x is not None for x in (acceptance, accepted_share, mean_length)]
    if sum(given) != 1:
        raise ConfigurationError("give the acceptance one way: a per-token acceptance (or a per-position list), the "
                                 "accepted share of proposed tokens, or the mean acceptance length", "spec_acceptance")
    if mean_length is not None:
        if not 1.0 <= mean_length <= k + 1:
            raise ConfigurationError(f"mean acceptance length {mean_length} must lie between 1 and k + 1 = {k + 1}",
                                     "spec_acceptance")
        return float(mean_length)
    if accepted_share is not None:
        _fraction("accepted share", accepted_share)
        return 1.0 + accepted_share * k
    rates = [acceptance] * k if np.ndim(acceptance) == 0 else list(acceptance)
    if len(rates) != k:
        raise ConfigurationError(f"the per-position acceptance list has {len(rates)} entries for {k} speculated "
                                 "tokens; give one per position", "spec_acceptance")
    for a in rates:
        _fraction("acceptance", a)
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


def _fraction(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= float(value) <= 1.0:
        raise ConfigurationError(f"{name} must be a number between 0 and 1, got {value!r}", "spec_acceptance")
