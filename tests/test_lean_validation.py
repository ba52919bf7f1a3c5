"""``predicted_value(case, lean=True)``: a static row's estimate computes only what the row reads (its figure, the
band's edges, ``fits``), with the same numbers as the full estimate (genmodel.validation.predict)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from genmodel import validation as v
from genmodel.validation.predict import _band_values, predicted_value

# static rows of several metrics, engines and devices from the frozen snapshot (decode, prefill, throughput, energy)
MEASURED = Path(__file__).resolve().parent.parent / "validation" / "measured.csv"
ROWS = [row for row in v.load_rows(MEASURED) if row.get("batching") == "static"][::25]


def test_the_sample_spans_several_metrics():
    assert len(ROWS) >= 15
    assert len({row["metric"] for row in ROWS}) >= 3
    expressible = [row for row in ROWS if v.predict_rows([row])["not_expressible"][0] is None]
    assert len(expressible) >= 15


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_a_lean_prediction_is_the_full_one(row):
    try:
        case = v.parse_row(row)
        full_value, full = predicted_value(case)
    except ValueError:  # not expressible (or refused): the lean call must say so too
        with pytest.raises(ValueError):
            predicted_value(v.parse_row(row), lean=True)
        return
    lean_value, lean = predicted_value(case, lean=True)
    assert lean_value == full_value or (math.isnan(lean_value) and math.isnan(full_value))
    assert _band_values(lean, case) == pytest.approx(_band_values(full, case), rel=0, abs=0, nan_ok=True)
    assert bool(lean.metrics["fits"]) == bool(full.metrics["fits"])
    # the lean estimate leaves out what the row does not read
    assert set(lean.metrics) <= {case.key, f"{case.key}_low", f"{case.key}_high", "fits"} < set(full.metrics)
