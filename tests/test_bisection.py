"""genmodel.engine.bisection: several levels of the bisection tree per call give plain bisection's bracket bit for
bit, with fewer calls of the test; and the served solvers built on it keep plain bisection's answers."""

import numpy as np
import pytest

import genmodel
from genmodel.engine.bisection import bisect, levels_for
from genmodel.serving import steady


def plain(test, lo, hi, iterations, up=True):
    """The reference: one midpoint per step, as the solvers computed it before."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        moves = np.asarray(test(mid), dtype=bool)
        if not up:
            moves = ~moves
        lo, hi = np.where(moves, mid, lo), np.where(moves, hi, mid)
    return lo, hi


C = np.random.default_rng(7).uniform(0.0, 3.0, size=(4, 3))
TESTS = {
    "monotone": lambda x: x * x < C,
    # not monotone: plain bisection's path is still followed exactly (each node's answer decides the branch)
    "jagged": lambda x: np.sin(37.0 * x) * np.cos(C * x) > 0.1,
    "decreasing": lambda x: np.exp(-x) * C > 0.3,
}


@pytest.mark.parametrize("name", sorted(TESTS))
@pytest.mark.parametrize("up", [True, False])
@pytest.mark.parametrize("iterations", [1, 2, 9, 34, 60])
@pytest.mark.parametrize("max_points", [1, 8, 64, 256, 5000])
def test_the_bracket_is_plain_bisections_bit_for_bit(name, up, iterations, max_points):
    test = TESTS[name]
    hi = np.full(C.shape, 3.0)
    expected = plain(test, 0.0, hi, iterations, up)
    got = bisect(test, 0.0, hi, iterations, up=up, max_points=max_points)
    for a, b in zip(expected, got, strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)


SCALAR = {
    "monotone": lambda x: x * x < 1.7,
    "jagged": lambda x: np.sin(37.0 * x) * np.cos(1.3 * x) > 0.1,
    "decreasing": lambda x: np.exp(-x) * 2.1 > 0.3,
}


@pytest.mark.parametrize("name", sorted(SCALAR))
@pytest.mark.parametrize("up", [True, False])
@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
@pytest.mark.parametrize("iterations", [2, 9, 60])
def test_one_bracket_follows_plain_bisections_path(name, up, shape, iterations):
    # a bracket of one value walks the tree in plain Python: the same bracket, as arrays of the bracket's shape
    test = SCALAR[name]
    expected = plain(test, np.zeros(shape), np.full(shape, 3.0), iterations, up)
    got = bisect(test, np.zeros(shape), np.full(shape, 3.0), iterations, up=up)
    for a, b in zip(expected, got, strict=True):
        assert isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("name", sorted(TESTS))
@pytest.mark.parametrize("shape", [(), (4, 3)])
def test_a_bracket_of_the_tests_shape_skips_the_plain_first_step(name, shape):
    # bracket_shape: the caller vouches that the test adds no axes, so the first round already tests several levels:
    # the same bracket bit for bit, one call fewer (60 levels: 8 calls of 8 levels, the last of 4, instead of 9)
    test = SCALAR[name] if shape == () else TESTS[name]
    calls = []

    def counted(x):
        calls.append(x.shape)
        return test(x)

    expected = plain(test, np.zeros(shape), np.full(shape, 3.0), 60)
    got = bisect(counted, 0.0, np.full(shape, 3.0), 60, bracket_shape=True, max_points=255 * max(np.prod(shape), 1))
    assert all(np.array_equal(a, b) and a.shape == b.shape for a, b in zip(expected, got, strict=True))
    assert len(calls) == 8 and calls[0] == (255, *shape)


def test_the_tests_own_axes_widen_the_bracket_as_plain_bisection_does():
    # a single-value bracket, a test over 4 x 3 values: the first (plain) step finds the test's shape
    expected = plain(TESTS["monotone"], 0.0, 3.0, 40)
    got = bisect(TESTS["monotone"], 0.0, 3.0, 40)
    assert got[0].shape == (4, 3) and all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
    # the limit: the bracket of a monotone test converges on the root (x^2 = C) from below and above
    assert np.all(got[0] ** 2 < C) and np.all(got[1] ** 2 >= C)
    assert np.allclose(got[0], np.sqrt(C), rtol=1e-11)


def test_fewer_calls_on_one_value():
    calls = []

    def test(x):
        calls.append(np.shape(x))
        return x < 1.0

    bisect(test, 0.0, 2.0, 60, max_points=256)
    # 2^8 - 1 = 255 <= 256 < 511: eight levels per call after the first (plain) step, 1 + ceil(59 / 8) = 9 calls
    assert levels_for(1, 256) == 8
    assert len(calls) == 9 and calls[0] == () and calls[1] == (255,) and calls[-1] == (7,)  # the last: 59 - 7 x 8
    calls.clear()
    bisect(test, 0.0, np.full(300, 2.0), 60, max_points=256)  # 300 values: one level per call, as plain bisection
    assert levels_for(300, 256) == 1 and len(calls) == 60


def test_no_iterations():
    lo, hi = bisect(lambda x: x < 1.0, 0.0, np.array([2.0, 4.0]), 0)
    assert np.array_equal(lo, [0.0, 0.0]) and np.array_equal(hi, [2.0, 4.0])


def test_the_saturation_load_is_plain_bisections():
    # steady.saturation with the tree against the same bisection written out one midpoint per step
    seen = {}
    real = steady.saturation

    def spy(r, s, *args):
        seen["args"] = (r, s)
        return real(r, s, *args)

    steady.saturation = spy
    try:
        genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=2.0)
    finally:
        steady.saturation = real
    r, s = seen["args"]
    i_new = (1.0 - r.prefix_hit) * r.input_tokens
    hi = np.maximum(s.max_batch_tokens, s.chunk_tokens) / i_new + 1.0
    lo, _ = plain(lambda x: steady.feasible(steady.terms(x, r, s), r), np.zeros(np.shape(hi)), hi, 60)
    x_max, _ = real(r, s)
    assert np.array_equal(x_max, lo)
