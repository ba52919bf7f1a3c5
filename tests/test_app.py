"""Every dashboard page, driven by streamlit's AppTest (no browser): widgets change, figures follow the library."""

from pathlib import Path

import pytest

import genmodel

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def open_page(name):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    if name != "Estimate":
        at.sidebar.radio(key="page").set_value(name).run()
        assert not at.exception, at.exception
    return at


def test_estimate_page_follows_the_library_and_reacts_to_batch():
    at = open_page("Estimate")
    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    assert metric(at, "TTFT") == f"{expected.ttft_s * 1e3:,.2f} ms"
    assert metric(at, "Energy per output token") == f"{expected.energy_per_output_token_j:,.4f} J"
    assert len(at.get("plotly_chart")) == 3  # roofline, latency breakdown, memory
    at.number_input(key="est-batch").set_value(64).run()
    bigger = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256)
    assert metric(at, "TPOT (mean)") == f"{bigger.tpot_s * 1e3:,.3f} ms"
    assert metric(at, "Largest batch that fits") == f"{bigger.max_batch:,}"
    at.number_input(key="est-tp").set_value(2).run()  # two devices
    split = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256, tp=2)
    assert metric(at, "Devices") == "2" and metric(at, "TPOT (mean)") == f"{split.tpot_s * 1e3:,.3f} ms"


def test_estimate_page_switches_to_uncalibrated_factors():
    at = open_page("Estimate")
    assert "calibrated" in at.caption[0].value
    at.checkbox(key="est-calibrated").uncheck().run()
    plain = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256, calibrated=False)
    assert metric(at, "TPOT (mean)") == f"{plain.tpot_s * 1e3:,.3f} ms"
    assert "70% of peak FLOP/s" in at.caption[0].value and "gpu defaults" in at.caption[0].value


def test_compare_page_ranks_hardware():
    at = open_page("Compare")
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.hardware[:1]) and table.usd_per_million_output_tokens.dropna().is_monotonic_increasing
    at.radio(key="cmp-what").set_value("models").run()
    assert not at.exception and set(at.dataframe[0].value.model) == {"llama-3.1-8b", "qwen3-32b", "llama-3.1-70b"}


def test_what_if_page_bandwidth_slider():
    at = open_page("What-if")
    at.slider(key="wi-b").set_value(2.0).run()
    assert not at.exception
    scaled = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256, bandwidth_scale=2.0)
    assert metric(at, "TPOT") == f"{scaled.tpot_s * 1e3:,.3f} ms"
    assert len(at.get("plotly_chart")) == 2  # sweep curves and tornado


def test_planner_page_meets_its_targets():
    at = open_page("Planner")
    assert not at.exception
    ranked = at.dataframe[0].value
    assert (ranked.ttft_s <= 2.0).all() and (ranked.tpot_s <= 0.05).all()


def test_custom_page_validates_and_registers_a_spec():
    at = open_page("Custom hardware / model")
    area = at.text_area[0]
    area.set_value(area.value.replace("name: a100-40gb-sxm", "name: my-gpu").replace("tdp_w: 400.0", "tdp_w: 300.0"))
    at.button(key="cu-go").click().run()
    assert not at.exception and any("my-gpu" in s.value for s in at.success)
    # the new device is offered on the other pages for the rest of the session
    at.sidebar.radio(key="page").set_value("Estimate").run()
    at.selectbox(key="est-hw").set_value("my-gpu").run()
    spec = genmodel.get_hardware("a100-40gb-sxm")
    mine = spec.model_copy(update={"name": "my-gpu", "power": spec.power.model_copy(update={"tdp_w": 300.0})})
    expected = genmodel.estimate("llama-3.1-8b", mine, 1, 1024, 256, check_fit=False)
    assert metric(at, "TTFT") == f"{expected.ttft_s * 1e3:,.2f} ms"
    assert metric(at, "Energy per output token") == f"{expected.energy_per_output_token_j:,.4f} J"
    at.sidebar.radio(key="page").set_value("Custom hardware / model").run()
    area = at.text_area[0]
    area.set_value(area.value.replace("kind: gpu", "kind: quantum"))
    at.button(key="cu-go").click().run()
    assert any("kind" in e.value for e in at.error)  # the error names the field
