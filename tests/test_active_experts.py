"""Expected active experts E x (1 - (1 - k/E)^T) (genmodel.engine.experts) on arrays where the power is skipped
(saturated counts), computed, or both: bit for bit the plain NumPy expression (the module's contract), and the
formula evaluated one token count at a time in Python floats (to rounding: NumPy's vectorized power and the C
library's may differ in the last bit)."""

import math

import numpy as np
import pytest

from genmodel.engine.experts import expected_active_experts


def by_formula(tokens: np.ndarray, num_experts: int, top_k: int) -> np.ndarray:
    """The docstring's formula, element by element, with Python's own float arithmetic (no NumPy ufunc)."""
    miss = 1.0 - top_k / num_experts
    flat = [num_experts * (1.0 - math.pow(miss, t)) if not math.isnan(t) else math.nan
            for t in np.asarray(tokens, dtype=float).ravel().tolist()]
    return np.array(flat, dtype=float).reshape(np.shape(tokens))


@pytest.mark.parametrize("num_experts, top_k", [(256, 8), (8, 2), (64, 6), (128, 1), (1 << 20, 1), (4, 4)])
@pytest.mark.parametrize("tokens", [
    np.arange(0.0, 50_000.0, 0.5),  # small counts (power computed) through saturated ones (E exactly)
    np.array([2000.0, 5e4, 1e7, np.inf]),  # all saturated for E = 256, k = 8 (the power skipped)
    np.array([[0.0, 1.0], [3.0, np.nan]]),  # no count saturated; a NaN count stays NaN
    np.array([1.0, np.nan, 1e9, 0.0]),  # both kinds with a NaN
])
def test_array_equals_formula_element_by_element(tokens, num_experts, top_k):
    got = expected_active_experts(tokens, num_experts, top_k)
    plain = num_experts * (1.0 - np.power(1.0 - top_k / num_experts, tokens))
    assert got.shape == plain.shape and got.dtype == np.float64
    np.testing.assert_array_equal(got, plain)  # bit for bit (NaN where it gives NaN)
    # (1 - x loses the relative accuracy of x: a tolerance of a few units in the last place of E)
    np.testing.assert_allclose(got, by_formula(tokens, num_experts, top_k), rtol=0, atol=num_experts * 1e-15)
    if top_k < num_experts:
        saturated = tokens * -math.log(1.0 - top_k / num_experts) > 64 * math.log(2.0)
        assert (got[saturated] == num_experts).all()  # (1 - k/E)^T below 2^-64: all E experts, exactly


def test_edges_of_the_formula():
    # one token activates exactly k experts; none activates none; very many tokens activate all E
    assert expected_active_experts(1, 256, 8) == pytest.approx(8.0, rel=1e-12)
    assert expected_active_experts(np.array([0.0, 0.0]), 256, 8).tolist() == [0.0, 0.0]
    assert expected_active_experts(np.array([1e6, 1e6]), 256, 8).tolist() == [256.0, 256.0]
    # top_k = E: every token hits every expert (0 ** 0 = 1: no token, no expert)
    assert expected_active_experts(np.array([0.0, 1.0, 7.0]), 4, 4).tolist() == [0.0, 4.0, 4.0]
