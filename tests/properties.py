"""Shared pieces of the property-based test files (``test_*_properties.py``): their hypothesis settings and the
element-by-element comparison of a vectorized call with single calls."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, Phase, settings

# no shrinking: a failing example is reported as drawn (shrinking an example of a vectorized call costs minutes)
PHASES = (Phase.explicit, Phase.generate)


def examples(n: int) -> settings:
    """Settings drawing ``n`` examples, the same ones on every run of the test alone (derandomized, no example
    database), none shrunk; each example is one or a few vectorized calls over a whole grid."""
    return settings(derandomize=True, database=None, max_examples=n, deadline=None, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def assert_elementwise(one: dict, many: dict, j: int, rtol: float) -> None:
    """The metrics ``one`` of a single call equal element ``j`` of the metrics ``many`` of a vectorized call: the
    same keys, floating-point figures within ``rtol`` (NaN equal to NaN), the others exactly."""
    assert set(one) == set(many)
    for key, value in one.items():
        a, v = np.asarray(value), np.asarray(many[key])[j]
        if a.dtype.kind == "f":
            np.testing.assert_allclose(v, a, rtol=rtol, atol=0, equal_nan=True, err_msg=key)
        else:
            assert v == a, key
