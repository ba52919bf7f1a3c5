"""The dashboard page calls the library and shows its figures (streamlit's AppTest, no browser)."""

from pathlib import Path

import pytest

import genmodel

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_dashboard_shows_library_figures_and_reacts_to_batch():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    assert metric(at, "TTFT") == f"{expected.ttft_s * 1e3:,.2f} ms"
    at.number_input[0].set_value(64).run()
    bigger = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256)
    assert metric(at, "TPOT (mean)") == f"{bigger.tpot_s * 1e3:,.3f} ms"
    assert metric(at, "Largest batch that fits") == f"{bigger.max_batch:,}"
