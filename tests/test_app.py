"""Every dashboard page, driven by streamlit's AppTest (no browser): widgets change, figures follow the library.

Expected values come from direct library calls with the same inputs; the shipped module
(genmodel/interfaces/dashboard.py) is run directly, and the checkout stub app.py once.
"""

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import genmodel
from genmodel.engine.realism import KIND_DEFAULTS

pytest.importorskip("streamlit")
pytest.importorskip("plotly")
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from genmodel.data.registry import provenance
from genmodel.interfaces import charts
from genmodel.search.compare import realism_note

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "genmodel" / "interfaces" / "dashboard.py")
STUB = str(ROOT / "app.py")
PAGES = ["Estimate", "Compare", "What-if", "Planner", "Serving", "Requirements", "Custom hardware / model"]
DEFAULT_HARDWARE = ["h100-sxm", "h200-sxm", "b200", "mi300x"]


def metric(at, label):
    return next(m for m in at.metric if m.label == label)


def value(at, label):
    return metric(at, label).value


def open_page(name, app=DASHBOARD):
    at = AppTest.from_file(app, default_timeout=180).run()
    assert not at.exception, at.exception
    if name != "Estimate":
        at.sidebar.radio(key="page").set_value(name).run()
        assert not at.exception, at.exception
    return at


def _decoded(value):
    """Plotly JSON with its typed arrays ({'dtype', 'bdata'}) as NumPy arrays."""
    if isinstance(value, dict):
        if set(value) == {"dtype", "bdata"}:
            return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def figures(at):
    """The plotly figures on the page, as the JSON the page sent (typed arrays decoded)."""
    return [_decoded(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def caption(at, start):
    return next(c.value for c in at.caption if c.value.startswith(start))


def assert_readable(at):
    """No snake_case header, counts shown as integers, in every table of the page."""
    for df in at.dataframe:
        frame = df.value
        assert not [c for c in frame.columns if "_" in c], list(frame.columns)
        for name in ("Devices", "Batch", "TP", "Largest batch", "Instances", "Input tokens"):
            if name in frame:
                assert str(frame[name].dtype) == "Int64", (name, frame[name].dtype)


@pytest.fixture
def downloads(monkeypatch):
    """CSV files offered by download buttons: {file name: text}."""
    files = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        if filename and isinstance(path_or_data, bytes):
            files[filename] = path_or_data.decode()
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return files


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception(page):
    at = open_page(page)
    assert not at.exception and not at.error
    assert_readable(at)


def test_checkout_stub_runs_the_shipped_dashboard():
    at = open_page("Estimate", STUB)
    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    assert value(at, "TTFT") == f"{expected.ttft_s * 1e3:,.2f} ms"


def test_estimate_page_follows_the_library_and_reacts_to_batch():
    at = open_page("Estimate")
    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    assert value(at, "TTFT") == f"{expected.ttft_s * 1e3:,.2f} ms"
    assert value(at, "Energy per output token") == f"{expected.energy_per_output_token_j:,.4f} J"
    assert len(at.get("plotly_chart")) == 3  # roofline, latency breakdown, memory
    at.number_input(key="est-batch").set_value(64).run()
    bigger = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256)
    assert value(at, "TPOT (mean)") == f"{bigger.tpot_s * 1e3:,.3f} ms"
    assert value(at, "Largest batch that fits") == f"{bigger.max_batch:,}"
    at.number_input(key="est-tp").set_value(2).run()  # two devices
    split = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256, tp=2)
    assert value(at, "Devices") == "2" and value(at, "TPOT (mean)") == f"{split.tpot_s * 1e3:,.3f} ms"


def test_estimate_page_switches_to_uncalibrated_factors():
    at = open_page("Estimate")
    calibrated = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256).realism
    assert caption(at, "Realism in force") == f"Realism in force ({calibrated.origin}): {calibrated.describe()}."
    at.checkbox(key="est-calibrated").uncheck().run()
    plain = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256, calibrated=False)
    assert value(at, "TPOT (mean)") == f"{plain.tpot_s * 1e3:,.3f} ms"
    text = caption(at, "Realism in force")
    gpu = KIND_DEFAULTS["gpu"]
    assert "(defaults)" in text and f"{gpu.compute_efficiency:.0%} of peak FLOP/s" in text
    assert "gpu and vllm defaults" in text


def test_estimate_page_follows_the_engine_selection():
    at = open_page("Estimate")
    usual = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    at.selectbox(key="est-engine").set_value("trtllm").run()
    assert not at.exception
    trt = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256, engine="trtllm")
    assert trt.realism.engine == "trtllm" and trt.tpot_s != usual.tpot_s
    assert value(at, "TPOT (mean)") == f"{trt.tpot_s * 1e3:,.3f} ms"
    text = caption(at, "Realism in force")
    assert text == f"Realism in force ({trt.realism.origin}): {trt.realism.describe()}." and "trtllm" in text
    at.selectbox(key="est-engine").set_value("device default").run()
    assert value(at, "TPOT (mean)") == f"{usual.tpot_s * 1e3:,.3f} ms"
    assert f"{usual.realism.engine}:" in caption(at, "Realism in force")


def test_estimate_page_shows_the_80_percent_bands_and_their_basis():
    at = open_page("Estimate")
    d = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256).to_dict()
    captions = [c.value for c in at.caption]
    for key, scale, spec, unit in (("ttft_s", 1e3, ",.2f", " ms"), ("tpot_s", 1e3, ",.3f", " ms"),
                                   ("e2e_latency_s", 1, ",.3f", " s"), ("output_tokens_per_s", 1, ",.1f", " tok/s"),
                                   ("max_batch", 1, ",.0f", "")):
        low, high = d[f"{key}_low"] * scale, d[f"{key}_high"] * scale
        assert low < d[key] * scale < high
        assert f"80% band: {low:{spec}} to {high:{spec}}{unit}" in captions, key
    basis = caption(at, "Basis of the 80% bands")
    assert all(f"{phase}: {band['basis']}" in basis for phase, band in d["bands"].items())


def test_estimate_page_shows_library_errors_not_tracebacks():
    at = open_page("Estimate")
    at.number_input(key="est-in").set_value(131072).run()  # + 256 output tokens > the 131,072-token context
    assert not at.exception
    with pytest.raises(genmodel.GenmodelError) as refused:
        genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 131072, 256)
    assert [e.value for e in at.error] == [str(refused.value)]
    assert not at.get("plotly_chart")


@pytest.mark.parametrize(("page", "key"), [("Compare", "cmp-in"), ("What-if", "wi-in"), ("Planner", "pl-in"),
                                          ("Serving", "sv-in")])
def test_input_beyond_the_maximum_context_is_explained_on_every_page(page, key):
    at = open_page(page)
    at.number_input(key=key).set_value(200_000).run()
    assert not at.exception
    # a context beyond the model's maximum is a usage error on every page, Compare included (the library
    # refuses it before evaluating any hardware): one error with the library's message
    assert len(at.error) == 1 and "maximum context" in at.error[0].value


def test_breakdown_table_is_readable_sums_to_the_totals_and_downloads_si(downloads):
    at = open_page("Estimate")
    expected = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    shown = at.dataframe[0].value
    assert {"Time (µs)", "Kind", "Instances", "Share of phase (%)"} <= set(shown.columns)
    assert {"communication", "overhead"} & set(shown["Kind"])  # the step overhead is a row
    for phase, total in (("prefill", expected.ttft_s), ("decode", expected.tpot_s)):
        assert shown["Time (µs)"][shown["Phase"] == phase].sum() == pytest.approx(total * 1e6, rel=1e-9)
    rows = list(csv.DictReader(io.StringIO(downloads["breakdown.csv"])))
    assert {"time_s", "weight_bytes", "instances", *provenance()} <= set(rows[0])
    prefill = sum(float(r["time_s"]) for r in rows if r["phase"] == "prefill")
    assert prefill == pytest.approx(expected.ttft_s, rel=1e-12)


def test_estimate_charts_show_every_tier_the_totals_and_both_capacities():
    at = open_page("Estimate")
    at.selectbox(key="est-hw").set_value("gh200").run()  # HBM3e + Grace LPDDR5X
    at.number_input(key="est-tp").set_value(2).run()  # collectives in the bars
    assert not at.exception
    result = genmodel.estimate("llama-3.1-8b", "gh200", 1, 1024, 256, tp=2)
    roofline, latency, memory = figures(at)
    names = [t["name"] for t in roofline["data"]]
    tiers = [n for n in names if n.startswith("memory roof")]
    assert len(tiers) == len(result.hardware.memory) == 2
    assert all(any(t.name in n for n in tiers) for t in result.hardware.memory)
    assert any(n.startswith("compute roof") for n in names)
    kinds = {t["name"] for t in latency["data"]}
    assert {"communication", "overhead"} <= kinds
    for k, total in enumerate((result.ttft_s, result.tpot_s)):
        bar = sum(t["y"][k] for t in latency["data"])
        assert bar == pytest.approx(total * 1e3, rel=1e-9)
    lines = sorted(s["y0"] for s in memory["layout"]["shapes"])
    assert lines == pytest.approx(sorted([result.memory_capacity_bytes / 1e9, result.device_memory_bytes / 1e9]))
    text = " ".join(a["text"] for a in memory["layout"]["annotations"])
    assert "physical" in text and "usable" in text and "GB" in text


def test_compare_page_ranks_hardware_and_matches_the_library():
    at = open_page("Compare")
    shown = at.dataframe[0].value
    expected = genmodel.compare_hardware("llama-3.1-8b", DEFAULT_HARDWARE, 8, 1024, 256)
    assert list(shown["Hardware"]) == list(expected["hardware"])
    assert np.allclose(shown["TPOT (ms)"], expected["tpot_s"] * 1e3)
    assert shown["USD per M output tokens"].dropna().is_monotonic_increasing
    assert list(shown["Realism origin"]) == list(expected["realism_origin"])  # the realism of each row
    assert list(shown["Realism basis"]) == list(expected["realism"])
    assert list(shown["Devices"]) == list(expected["devices"])
    at.radio(key="cmp-what").set_value("models").run()
    assert not at.exception
    assert set(at.dataframe[0].value["Model"]) == {"llama-3.1-8b", "qwen3-32b", "llama-3.1-70b"}


def test_compare_page_warns_when_rows_use_different_realism():
    assert genmodel.get_hardware("h100-sxm").efficiency.calibration is not None
    assert genmodel.get_hardware("mi250x-gcd").efficiency.calibration is None
    at = open_page("Compare")
    at.multiselect(key="cmp-hws").set_value(["h100-sxm", "mi250x-gcd"]).run()
    note = realism_note(genmodel.compare_hardware("llama-3.1-8b", ["h100-sxm", "mi250x-gcd"], 8, 1024, 256))
    assert note is not None
    assert any(note.split(" Use --")[0].lower() in w.value.lower() for w in at.warning)  # as the library says
    at.checkbox(key="cmp-calibrated").uncheck().run()  # every GPU on the kind defaults: no note
    plain = genmodel.compare_hardware("llama-3.1-8b", ["h100-sxm", "mi250x-gcd"], 8, 1024, 256, calibrated=False)
    assert realism_note(plain) is None and not at.warning
    shown = at.dataframe[0].value
    assert np.allclose(shown["TPOT (ms)"], plain["tpot_s"] * 1e3)
    assert set(shown["Realism origin"]) == {"defaults"}


def test_compare_page_notes_the_rows_whose_band_lies_off_the_estimate():
    from genmodel.interfaces.cli.common import band_side

    def noted(at):
        return [c.value for c in at.caption if c.value.startswith("Note:")]

    at = open_page("Compare")  # Llama-3.1-8B, one device each: bands around the estimates, no note
    expected = genmodel.compare_hardware("llama-3.1-8b", DEFAULT_HARDWARE, 8, 1024, 256)
    assert not any(band_side(r.tpot_s, r.tpot_s_low, r.tpot_s_high) for r in expected.rows() if r.fits)
    assert not noted(at)
    # Qwen3-235B-A22B on B200s with the kind defaults: a replica of 2-4 devices, whose vLLM decode cell (defaults)
    # has held-out measurements slower than predicted in over 90% of cases (validation/error_bands.json)
    at.selectbox(key="cmp-model").set_value("qwen3-235b-a22b").run()
    at.multiselect(key="cmp-hws").set_value(["b200"]).run()
    at.checkbox(key="cmp-calibrated").uncheck().run()
    assert not at.exception
    plain = genmodel.compare_hardware("qwen3-235b-a22b", ["b200"], 8, 1024, 256, calibrated=False)
    row = plain.row(0)
    assert 2 <= row.devices <= 4 and band_side(row.tpot_s, row.tpot_s_low, row.tpot_s_high) == "above"
    assert noted(at) and noted(at)[0].startswith("Note: b200: the TPOT band lies above the estimate")


def test_compare_page_draws_the_tpot_bands_and_follows_the_engine():
    at = open_page("Compare")
    expected = genmodel.compare_hardware("llama-3.1-8b", DEFAULT_HARDWARE, 8, 1024, 256)
    shown = at.dataframe[0].value
    assert np.allclose(shown["TPOT, 80% band low (ms)"], expected["tpot_s_low"] * 1e3)
    assert np.allclose(shown["TPOT, 80% band high (ms)"], expected["tpot_s_high"] * 1e3)
    assert np.allclose(shown["Output tok/s per device, 80% band high"],
                       expected["output_tokens_per_s_per_device_high"])
    bars = {}  # hardware -> (TPOT, error above, error below) in ms, over the traces (one per realism origin)
    for trace in figures(at)[0]["data"]:
        error = trace["error_y"]
        bars.update({x: (y, up, down) for x, y, up, down in zip(trace["x"], trace["y"], error["array"],
                                                                 error["arrayminus"], strict=True)})
    assert set(bars) == set(expected["hardware"])
    for row in expected.rows():
        y, up, down = bars[row["hardware"]]
        assert y == pytest.approx(row["tpot_s"] * 1e3, rel=1e-12)
        assert up == pytest.approx((row["tpot_s_high"] - row["tpot_s"]) * 1e3, rel=1e-9)
        assert down == pytest.approx((row["tpot_s"] - row["tpot_s_low"]) * 1e3, rel=1e-9)
    at.selectbox(key="cmp-engine").set_value("trtllm").run()
    assert not at.exception
    trt = genmodel.compare_hardware("llama-3.1-8b", DEFAULT_HARDWARE, 8, 1024, 256, engine="trtllm")
    shown = at.dataframe[0].value
    assert list(shown["Hardware"]) == list(trt["hardware"]) and set(shown["Engine"]) == {"trtllm"}
    assert np.allclose(shown["TPOT (ms)"], trt["tpot_s"] * 1e3)


@pytest.mark.parametrize(("what", "key"), [("hardware", "cmp-hws"), ("models", "cmp-models")])
def test_compare_page_with_an_empty_selection_shows_an_info(what, key):
    at = open_page("Compare")
    at.radio(key="cmp-what").set_value(what).run()
    at.multiselect(key=key).set_value([]).run()
    assert not at.exception and not at.error
    assert [i.value for i in at.info] and "at least one" in at.info[0].value
    assert not at.dataframe


def test_what_if_page_bandwidth_slider_and_neutral_zero_deltas():
    at = open_page("What-if")
    for label in ("TTFT", "TPOT", "Output throughput", "Largest batch"):  # no change: grey, not red
        assert metric(at, label).proto.color == MetricProto.MetricColor.GRAY
    at.slider(key="wi-b").set_value(2.0).run()
    assert not at.exception
    scaled = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256, bandwidth_scale=2.0)
    assert value(at, "TPOT") == f"{scaled.tpot_s * 1e3:,.3f} ms"
    assert metric(at, "TPOT").proto.color == MetricProto.MetricColor.GREEN  # faster is good
    assert value(at, "Largest batch") == f"{scaled.max_batch:,}"  # an integer, not 350.000
    assert len(at.get("plotly_chart")) == 2  # sweep curves and tornado


def test_what_if_page_warns_when_the_base_or_the_scaled_configuration_does_not_fit():
    at = open_page("What-if")
    assert not at.warning
    at.selectbox(key="wi-model").set_value("llama-3.1-70b").run()  # 140 GB of weights on one 80 GB device
    assert not genmodel.estimate("llama-3.1-70b", "h100-sxm", 1, 1024, 256, check_fit=False).fits
    assert not at.exception
    assert any("base configuration does not fit" in w.value for w in at.warning)
    at.selectbox(key="wi-model").set_value("llama-3.1-8b").run()
    at.number_input(key="wi-batch").set_value(64).run()
    at.slider(key="wi-c").set_value(0.25).run()
    base = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256, check_fit=False)
    scaled = genmodel.estimate("llama-3.1-8b", "h100-sxm", 64, 1024, 256, capacity_scale=0.25, check_fit=False)
    assert base.fits and not scaled.fits
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "scaled configuration does not fit" in warnings[0]
    assert f"{scaled.memory_capacity_bytes / 1e9:,.2f} GB usable" in warnings[0]


def test_what_if_sweeps_mark_points_that_do_not_fit_and_stop_at_the_maximum_context():
    at = open_page("What-if")
    result = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    swept = charts.sweep(result, "batch", 2 ** np.arange(11))
    assert not swept["fits"].all()  # batch 512 and 1024 exceed the largest batch
    shown = at.dataframe[0].value
    assert list(shown["Batch"]) == list(swept["batch"])
    assert list(shown["Fits"]) == ["yes" if f else "no" for f in swept["fits"]]
    assert np.allclose(shown["TPOT (ms)"], swept["tpot_s"] * 1e3)
    sweep = figures(at)[0]
    crosses = [t for t in sweep["data"] if t["name"] == "does not fit in memory"]
    assert crosses and list(crosses[0]["x"]) == list(swept["batch"][~swept["fits"]])
    at.radio(key="wi-axis").set_value("input_tokens").run()
    assert not at.exception
    assert at.dataframe[0].value["Input tokens"].max() == result.model.max_context_tokens - 256
    at.number_input(key="wi-out").set_value(100_000).run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value["Input tokens"].max() == result.model.max_context_tokens - 100_000


def test_planner_page_meets_its_targets_and_follows_the_calibration_box():
    at = open_page("Planner")
    ranked = at.dataframe[0].value
    assert (ranked["TTFT (ms)"] <= 2000).all() and (ranked["TPOT (ms)"] <= 50).all()
    expected = genmodel.plan("llama-3.1-70b", "dgx-h100", 2048, 256, 2.0, 0.05, 8)
    assert value(at, "Configurations meeting the targets") == f"{len(expected.ranked):,} of {len(expected.space):,}"
    assert np.allclose(ranked["Output tok/s per device"], expected.ranked["output_tokens_per_s_per_device"][:50])
    at.checkbox(key="pl-calibrated").uncheck().run()
    assert not at.exception
    plain = genmodel.plan("llama-3.1-70b", "dgx-h100", 2048, 256, 2.0, 0.05, 8, calibrated=False)
    assert value(at, "Configurations meeting the targets") == f"{len(plain.ranked):,} of {len(plain.space):,}"
    assert "(defaults)" in caption(at, "Realism in force")
    at.checkbox(key="pl-band").check().run()  # targets at the upper edge of the bands
    assert not at.exception
    edge = genmodel.plan("llama-3.1-70b", "dgx-h100", 2048, 256, 2.0, 0.05, 8, calibrated=False, targets_at="band")
    assert value(at, "Configurations meeting the targets") == f"{len(edge.ranked):,} of {len(edge.space):,}"
    assert len(edge.ranked) < len(plain.ranked)


def test_planner_page_follows_the_engine_selection_and_shows_the_bands():
    at = open_page("Planner")
    at.selectbox(key="pl-engine").set_value("trtllm").run()
    assert not at.exception
    usual = genmodel.plan("llama-3.1-70b", "dgx-h100", 2048, 256, 2.0, 0.05, 8)
    trt = genmodel.plan("llama-3.1-70b", "dgx-h100", 2048, 256, 2.0, 0.05, 8, engine="trtllm")
    assert not np.allclose(trt.ranked["tpot_s"][:5], usual.ranked["tpot_s"][:5])  # the engine matters here
    assert value(at, "Configurations meeting the targets") == f"{len(trt.ranked):,} of {len(trt.space):,}"
    ranked = at.dataframe[0].value
    assert np.allclose(ranked["TPOT (ms)"], trt.ranked["tpot_s"][:50] * 1e3)
    for key, header in (("tpot_s", "TPOT"), ("ttft_s", "TTFT")):
        for end in ("low", "high"):
            assert np.allclose(ranked[f"{header}, 80% band {end} (ms)"], trt.ranked[f"{key}_{end}"][:50] * 1e3)
    assert "trtllm:" in caption(at, "Realism in force")


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
    assert value(at, "TTFT") == f"{expected.ttft_s * 1e3:,.2f} ms"
    assert value(at, "Energy per output token") == f"{expected.energy_per_output_token_j:,.4f} J"
    at.sidebar.radio(key="page").set_value("Custom hardware / model").run()
    area = at.text_area[0]
    area.set_value(area.value.replace("kind: gpu", "kind: quantum"))
    at.button(key="cu-go").click().run()
    assert any("kind" in e.value for e in at.error)  # the error names the field


# -- Serving page: genmodel.serve under a request-rate slider -----------------------------------------------------
SERVED = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 1024, "output_tokens": 256,
          "ttft_target_s": 0.5, "tpot_target_s": 0.03, "percentile": 90}  # the page's defaults
LOADS = np.linspace(0.05, 0.99, 40)  # the load axis: shares of the saturation rate


def saturation(**changes):
    return genmodel.serve(**{**SERVED, **changes}, request_rate="max").metrics["max_request_rate_per_s"].item()


def finite_ms(seconds):
    ms = np.asarray(seconds, dtype=float) * 1e3
    return np.where(np.isfinite(ms), ms, np.nan)


def test_serving_page_shows_serve_at_the_chosen_rate_and_follows_the_slider():
    at = open_page("Serving")
    top = saturation()
    slider = at.slider(key="sv-rate")
    assert slider.max == pytest.approx(top, rel=1e-12) and slider.value == pytest.approx(top / 2, rel=1e-12)
    previous = None
    for share in (0.5, 0.8):
        if share != 0.5:
            at.slider(key="sv-rate").set_value(share * top).run()
            assert not at.exception and not at.error
        rate = at.slider(key="sv-rate").value
        assert rate == pytest.approx(share * top, rel=1e-12)
        m = {k: v.item() for k, v in genmodel.serve(**SERVED, request_rate=rate).metrics.items()}
        for label, key, spec in (("TTFT P50", "ttft_p50_s", ",.1f"), ("TTFT P99", "ttft_p99_s", ",.1f"),
                                 ("TPOT mean", "tpot_mean_s", ",.2f"), ("TPOT P99", "tpot_p99_s", ",.2f"),
                                 ("Inter-token gap P99", "itl_p99_s", ",.2f"), ("End-to-end P99", "e2e_p99_s", ",.1f")):
            assert value(at, label) == f"{m[key] * 1e3:{spec}} ms", label
        assert value(at, "Output throughput") == f"{m['output_tokens_per_s']:,.1f} tok/s"
        # the p50 figures' 80% band, in the CLI's words (held-out served rows)
        band = genmodel.serve(**SERVED, request_rate=rate).to_dict()
        assert caption(at, "80% band of the p50 figures") == (
            f"80% band of the p50 figures (held-out served rows): TTFT {band['ttft_p50_s_low'] * 1e3:,.3f} ms to "
            f"{band['ttft_p50_s_high'] * 1e3:,.3f} ms, TPOT {band['tpot_p50_s_low'] * 1e3:,.3f} ms to "
            f"{band['tpot_p50_s_high'] * 1e3:,.3f} ms. 80% band of the p99 figures (published tail percentiles, "
            f"held out): TTFT {band['ttft_p99_s_low'] * 1e3:,.3f} ms to {band['ttft_p99_s_high'] * 1e3:,.3f} ms, "
            f"TPOT {band['tpot_p99_s_low'] * 1e3:,.3f} ms to {band['tpot_p99_s_high'] * 1e3:,.3f} ms.")
        assert value(at, "Saturation rate") == f"{top:,.3g} req/s"
        assert value(at, "Bottleneck") == m["bottleneck"]
        assert value(at, "Fits") == "yes" and m["fits"]
        assert value(at, "Meets targets at P90") == ("yes" if m["meets_slo"] else "no")
        assert value(at, "Goodput") == f"{m['goodput_requests_per_s']:,.3g} req/s"
        if previous is not None:  # more load: longer first tokens and slower decoding
            assert m["ttft_p99_s"] > previous["ttft_p99_s"] and m["tpot_mean_s"] > previous["tpot_mean_s"]
        previous = m
    assert caption(at, "Realism in force").startswith("Realism in force (")


def test_serving_page_charts_carry_serve_values_over_the_load(downloads):
    at = open_page("Serving")
    top, rate = saturation(), at.slider(key="sv-rate").value
    expected = genmodel.serve(**SERVED, request_rate=LOADS * top).metrics  # one independent vectorized call
    latency, goodput = figures(at)
    traces = {t["name"]: t for t in latency["data"]}
    for name, key in (("TTFT P50", "ttft_p50_s"), ("TTFT P90", "ttft_p90_s"), ("TTFT P99", "ttft_p99_s"),
                      ("TPOT mean", "tpot_mean_s"), ("TPOT P99", "tpot_p99_s")):
        assert np.allclose(traces[name]["x"], LOADS * top, rtol=1e-12)
        assert np.allclose(traces[name]["y"], finite_ms(expected[key]), rtol=1e-9, equal_nan=True), name
    assert list(traces["TTFT target at P90"]["y"]) == [500.0, 500.0]
    assert list(traces["TPOT target at P90"]["y"]) == [30.0, 30.0]
    lines = {}
    for shape in latency["layout"]["shapes"]:
        lines.setdefault(shape["name"], set()).add(shape["x0"])
    assert lines == {"saturation": {top}, "chosen rate": {rate}}  # the same in both panels
    good = {t["name"]: t for t in goodput["data"]}["goodput"]
    assert np.allclose(good["y"], expected["goodput_requests_per_s"], rtol=1e-9, atol=1e-12)
    best = {s["name"]: s["x0"] for s in goodput["layout"]["shapes"]}["largest rate meeting the targets"]
    assert best == pytest.approx(expected["max_goodput_rate_per_s"][0], rel=1e-9)
    rows = list(csv.DictReader(io.StringIO(downloads["serving-load.csv"])))
    assert len(rows) == len(LOADS) and {"request_rate_per_s", "ttft_p99_s", *provenance()} <= set(rows[0])
    assert float(rows[-1]["request_rate_per_s"]) == pytest.approx(0.99 * top, rel=1e-12)


def test_load_curves_are_physical_and_span_5_to_99_percent_of_saturation():
    curves = charts.load_curves(SERVED)  # its own request_rate="max" call
    top = saturation()
    assert np.allclose(curves["request_rate_per_s"], LOADS * top, rtol=1e-12)
    assert np.allclose(curves["utilization"], LOADS, rtol=1e-9)  # utilization = rate / saturation rate
    assert curves["stable"].all()
    for low, high in (("ttft_p50_s", "ttft_p90_s"), ("ttft_p90_s", "ttft_p99_s"), ("tpot_mean_s", "tpot_p99_s")):
        assert (curves[high] >= curves[low]).all(), (low, high)
    for key in ("ttft_p50_s", "tpot_mean_s"):  # more load, longer waits and bigger batches
        assert (np.diff(curves[key]) >= 0).all(), key
    assert (curves["goodput_requests_per_s"] <= curves["request_rate_per_s"] * (1 + 1e-12)).all()
    fig = charts.serving_latency_figure(curves, top, top / 2, 0.5, 0.03, 0.9)
    traces = {t.name: t for t in fig.data}
    assert (np.asarray(traces["TTFT P99"].y) >= np.asarray(traces["TTFT P50"].y)).all()
    assert [s.x0 for s in fig.layout.shapes if s.name == "saturation"] == [top, top]
    # the shaded 80% band of TTFT P50 spans the served rows' band around the curve (genmodel.engine.uncertainty)
    shaded = [t for t in fig.data if t.name and t.name.startswith("80% band of TTFT P50")]
    assert len(shaded) == 2 and shaded[1].fill == "tonexty"
    assert np.allclose(shaded[0].y, np.asarray(curves["ttft_p50_s_high"]) * 1e3, equal_nan=True)
    assert (np.asarray(shaded[1].y) <= np.asarray(traces["TTFT P50"].y)).all()


def test_goodput_equals_the_offered_load_when_every_request_meets_loose_targets():
    loose = {**SERVED, "ttft_target_s": 1e4, "tpot_target_s": 1e3}  # hours: no request misses them
    top = saturation()
    curves = charts.load_curves(loose, top)
    fig = charts.goodput_figure(curves, top, top / 2)
    good = {t.name: t for t in fig.data}["goodput"]
    assert np.allclose(good.y, LOADS * top, rtol=1e-9)  # DistServe: rate x P(TTFT ok) x P(TPOT ok) = rate


def test_serving_effects_rows_are_serve_calls_and_prefix_hits_shorten_the_first_token():
    rate = saturation() / 2
    table = charts.serving_effects(SERVED, rate)
    base = genmodel.serve(**SERVED, request_rate=rate)
    chunk = base.settings["chunk_tokens"]
    changes = [{}, {"chunk_tokens": chunk // 2},
               {"chunk_tokens": 2 * chunk, "max_batch_tokens": max(2 * chunk, base.settings["max_batch_tokens"])},
               {"prefix_hit": 0.5}, {"spec_tokens": 3, "spec_acceptance": 0.7}]
    assert len(table) == len(changes) and table["case"][0] == "baseline"
    for row, change in zip(table.rows(), changes, strict=True):
        m = genmodel.serve(**{**SERVED, **change}, request_rate=rate).metrics
        for key in ("ttft_p99_s", "tpot_p99_s", "max_request_rate_per_s", "goodput_requests_per_s"):
            assert row[key] == pytest.approx(m[key].item(), rel=1e-12), (row["case"], key)
        assert row["chunk_tokens"] == change.get("chunk_tokens", chunk)
        assert row["chunk_tokens"] <= row["max_batch_tokens"]
    prefix = table.row(3)
    assert prefix["prefix_hit"] == 0.5 and table.row(4)["spec_tokens"] == 3
    # half of every prompt cached: half the prompt compute, so a shorter first token and a higher saturation rate
    assert prefix["ttft_p99_s"] < table.row(0)["ttft_p99_s"]
    assert prefix["max_request_rate_per_s"] > table.row(0)["max_request_rate_per_s"]
    flipped = charts.serving_effects({**SERVED, "spec_tokens": 3, "spec_acceptance": 0.7}, rate)
    assert flipped["case"][4] == "speculation off" and flipped["spec_tokens"][4] == 0
    assert flipped["tpot_p99_s"][4] == pytest.approx(table["tpot_p99_s"][0], rel=1e-12)


def test_serving_page_speculation_box_and_effects_table():
    at = open_page("Serving")
    shown = at.dataframe[0].value
    cases = list(shown["Case"])
    assert cases[0] == "baseline" and cases[-1].startswith("speculation on (k = 3, acceptance 0.7")
    rate = at.slider(key="sv-rate").value
    expected = charts.serving_effects(SERVED, rate)
    assert np.allclose(shown["TTFT P99 (ms)"], expected["ttft_p99_s"] * 1e3, rtol=1e-12)
    assert list(shown["Meets targets"]) == ["yes" if v else "no" for v in expected["meets_slo"]]
    at.checkbox(key="sv-spec").check().run()
    assert not at.exception and not at.error
    # k = 3 draft tokens accepted with probability 0.7 each: 1 + 0.7 + 0.7^2 + 0.7^3 tokens per step
    assert value(at, "Tokens per decode step") == f"{1 + 0.7 + 0.7**2 + 0.7**3:,.2f}"
    assert list(at.dataframe[0].value["Case"])[-1] == "speculation off"


def test_serving_page_keeps_the_rate_while_it_stays_below_saturation():
    at = open_page("Serving")
    at.slider(key="sv-rate").set_value(5.0).run()
    at.number_input(key="sv-in").set_value(2048).run()
    assert saturation(input_tokens=2048) > 5.0 and at.slider(key="sv-rate").value == 5.0
    at.number_input(key="sv-in").set_value(8192).run()
    top = saturation(input_tokens=8192)
    assert top < 5.0  # the last choice is out of range: back to half the new saturation rate
    assert at.slider(key="sv-rate").value == pytest.approx(top / 2, rel=1e-12)
    assert at.slider(key="sv-rate").max == pytest.approx(top, rel=1e-12)


def test_serving_page_takes_the_engines_memory_share():
    # at a quarter of the H100's 80 GiB the KV cache holds a few GiB after the 15 GiB of weights: the KV memory
    # binds, below the default share's saturation rate
    at = open_page("Serving")
    at.selectbox(key="sv-memory").set_value(0.25).run()
    assert not at.exception and not at.error
    quarter = genmodel.Efficiency(usable_memory_fraction=0.25)
    top = saturation(efficiency=quarter)
    assert value(at, "Saturation rate") == f"{top:,.3g} req/s" and top < saturation()
    assert value(at, "Bottleneck") == "kv memory"


def test_serving_page_shows_input_errors_and_configurations_that_cannot_serve():
    at = open_page("Serving")
    at.selectbox(key="sv-chunk_tokens").set_value(16384).run()  # above the engine's 8,192-token budget
    assert not at.exception
    with pytest.raises(genmodel.GenmodelError) as refused:
        genmodel.serve(**SERVED, chunk_tokens=16384, request_rate="max")
    assert [e.value for e in at.error] == [str(refused.value)] and "chunk_tokens" in at.error[0].value
    assert not at.get("plotly_chart")
    at.selectbox(key="sv-chunk_tokens").set_value("engine default").run()
    at.selectbox(key="sv-model").set_value("llama-3.1-70b").run()  # 140 GB of weights on one 80 GB device
    assert not at.exception and not at.error
    assert saturation(model="llama-3.1-70b") == 0.0
    assert len(at.warning) == 1 and "cannot serve" in at.warning[0].value and not at.get("plotly_chart")


# -- Requirements page: genmodel.requirements, the binding resource, real devices and the trade-off charts -------
REQUIRED = {"model": "llama-3.1-70b", "input_tokens": 1024, "output_tokens": 256, "ttft_target_s": 0.5,
            "tpot_target_s": 0.03, "batch": 16, "tp": 8}  # the page's defaults (reference h200-sxm)
COMPARED = ["h100-sxm", "b200", "mi300x"]
FLOORS = ("flops_per_s", "memory_bandwidth_bytes_per_s", "memory_capacity_bytes",
          "interconnect_bandwidth_bytes_per_s", "interconnect_latency_s")
LABELS = {"flops": "Peak FLOP/s (bf16)", "bandwidth": "Memory bandwidth", "capacity": "Memory capacity",
          "interconnect": "Interconnect bandwidth"}


def h200_resources():
    """The reference's own figures, from its spec: bf16 peak, HBM bandwidth, capacity, NVLink per direction."""
    hw = genmodel.get_hardware("h200-sxm")
    return {"flops": hw.peak_flops_per_s["bf16"], "bandwidth": hw.fastest_memory.bandwidth_bytes_per_s,
            "capacity": hw.memory_capacity_bytes, "interconnect": hw.scale_up.bandwidth_per_direction_bytes_per_s}


def highlighted(at):
    """The requirement metrics marked as binding (bordered, delta 'binding')."""
    marked = [m.label for m in at.metric if m.label in LABELS.values() and m.proto.show_border]
    assert marked == [m.label for m in at.metric if m.label in LABELS.values() and m.delta == "binding"]
    return marked


def test_requirements_page_shows_the_library_floors_and_highlights_the_binding_resource():
    at = open_page("Requirements")
    r = genmodel.requirements(**REQUIRED)
    assert value(at, "Peak FLOP/s (bf16)") == f"{float(r.realistic['flops_per_s']) / 1e12:,.4g} TFLOP/s"
    assert value(at, "Memory bandwidth") == f"{float(r.realistic['memory_bandwidth_bytes_per_s']) / 1e9:,.4g} GB/s"
    assert value(at, "Memory capacity") == f"{float(r.realistic['memory_capacity_bytes']) / 1e9:,.4g} GB"
    assert value(at, "Interconnect bandwidth") == \
        f"{float(r.realistic['interconnect_bandwidth_bytes_per_s']) / 1e9:,.4g} GB/s"
    latency = float(r.realistic["interconnect_latency_s"])
    assert value(at, "Interconnect latency (at most)") == f"{latency * 1e6:,.3g} µs"
    assert f"ideal {float(r.ideal['flops_per_s']) / 1e12:,.4g} TFLOP/s" in caption(at, "ideal")
    assert value(at, "Scaled reference") == f"h200-sxm x {float(r.scaled['scale_factor']):,.3g}"
    assert value(at, "Floor no hardware beats") == f"TTFT {float(r.unbeatable['ttft_s']) * 1e3:,.3g} ms"
    assert value(at, "Devices") == "8"
    seen = []
    for changes in ({}, {"rq-ttft": 10_000.0, "rq-tpot": 8.0},  # a loose TTFT, a tight TPOT: bandwidth
                    {"rq-ttft": 10_000.0, "rq-tpot": 250.0, "rq-out": 32_000, "rq-batch": 32}):  # long answers
        for key, v in changes.items():
            (at.slider if key in ("rq-ttft", "rq-tpot") else at.number_input)(key=key).set_value(v).run()
        assert not at.exception and not at.error
        kw = {**REQUIRED, "ttft_target_s": at.slider(key="rq-ttft").value / 1e3,
              "tpot_target_s": at.slider(key="rq-tpot").value / 1e3,
              "output_tokens": at.number_input(key="rq-out").value, "batch": at.number_input(key="rq-batch").value}
        r = genmodel.requirements(**kw)
        # binding: the resource whose floor asks most of the reference's own figure (from the device's spec)
        have = h200_resources()
        keys = {"flops": "flops_per_s", "bandwidth": "memory_bandwidth_bytes_per_s",
                "capacity": "memory_capacity_bytes", "interconnect": "interconnect_bandwidth_bytes_per_s"}
        asks = {res: float(r.realistic[key]) / have[res] for res, key in keys.items()}
        binding = max(asks, key=asks.get)
        assert highlighted(at) == [LABELS[binding]] and str(r.binding) == binding
        seen.append(binding)
    assert seen == ["flops", "bandwidth", "capacity"]  # the highlight follows the inputs


def test_requirements_page_places_real_devices_and_downloads_si(downloads):
    at = open_page("Requirements")
    r = genmodel.requirements(**REQUIRED, compare=COMPARED)
    shown = at.dataframe[0].value
    assert list(shown["Hardware"]) == COMPARED
    for res, header in (("flops", "FLOP/s"), ("bandwidth", "Bandwidth"), ("capacity", "Capacity"),
                        ("interconnect", "Interconnect")):
        assert np.allclose(shown[f"{header} available / required"],
                           [float(r.compare[n][f"{res}_ratio"]) for n in COMPARED], rtol=1e-12)
    assert list(shown["Meets every target"]) == ["yes" if r.compare[n]["meets"] else "no" for n in COMPARED]
    # the ratio is the device's own figure over the floor: an H100's bf16 peak (989.4 TFLOP/s dense)
    assert shown["FLOP/s available / required"][0] == pytest.approx(989.4e12 / float(r.realistic["flops_per_s"]))
    rows = list(csv.DictReader(io.StringIO(downloads["requirements.csv"])))
    assert len(rows) == 1 and {*FLOORS, "binding", "scale_factor", *provenance()} <= set(rows[0])
    for key in FLOORS:
        assert float(rows[0][key]) == pytest.approx(float(r.realistic[key]), rel=1e-12)
        assert float(rows[0][f"ideal_{key}"]) == pytest.approx(float(r.ideal[key]), rel=1e-12)
    assert rows[0]["binding"] == str(r.binding)
    devices = list(csv.DictReader(io.StringIO(downloads["requirements-devices.csv"])))
    assert [d["hardware"] for d in devices] == COMPARED and "flops_ratio" in devices[0]
    for name in ("requirements-frontier", "requirements-vs-tpot", "requirements-vs-ttft", "requirements-capacity",
                 "requirements-interconnect"):
        assert f"{name}.csv" in downloads, name
    pairs = list(csv.DictReader(io.StringIO(downloads["requirements-frontier.csv"])))
    assert {"flops_per_s", "memory_bandwidth_bytes_per_s"} <= set(pairs[0])


def test_requirements_page_charts_carry_the_chart_data_and_the_devices():
    at = open_page("Requirements")
    frontier_fig, tpot, ttft, capacity, links = figures(at)
    assert "just meets the targets" in {t["name"] for t in frontier_fig["data"]}
    for fig, target, key in ((tpot, "tpot", "memory_bandwidth_bytes_per_s"), (ttft, "ttft", "flops_per_s")):
        data = charts.requirement_vs_target(REQUIRED, target)
        factor = 1e-9 if key.startswith("memory") else 1e-12
        traces = {t["name"]: t for t in fig["data"]}
        line = traces["needed (reference's efficiencies)"]
        assert np.allclose(line["x"], data[f"{target}_target_s"] * 1e3, rtol=1e-12)
        assert np.allclose(line["y"], data[key] * factor, rtol=1e-12)
        for name in COMPARED:  # each device's own figure as a horizontal line
            hw = genmodel.get_hardware(name)
            own = hw.peak_flops_per_s["bf16"] if key == "flops_per_s" else hw.fastest_memory.bandwidth_bytes_per_s
            device = next(t for t in fig["data"] if t["name"].startswith(f"{name} ("))
            assert list(device["y"]) == pytest.approx([own * factor] * 2, rel=1e-12)
        chosen = next(t for t in fig["data"] if t["name"].startswith("chosen target"))
        assert set(chosen["x"]) == {REQUIRED[f"{target}_target_s"] * 1e3}
    batches = {t["name"] for t in capacity["data"] if t["name"].startswith("batch ")}
    assert {"batch 1", "batch 16", "batch 128"} <= batches
    names = {t["name"] for t in links["data"]}
    assert "needed (reference's efficiencies)" in names and any(n.startswith("h100-sxm (450 GB/s") for n in names)


def test_requirements_page_follows_a_use_case_and_a_request_rate():
    at = open_page("Requirements")
    at.selectbox(key="rq-case").set_value("deep-research").run()  # 100,000 + 685 tokens, batch 1, 6 s / 175 ms
    assert not at.exception and not at.error
    assert at.number_input(key="rq-in").value == 100_000 and at.number_input(key="rq-out").value == 685
    assert at.slider(key="rq-ttft").value == 6000.0 and at.slider(key="rq-tpot").value == 175.0
    assert at.radio(key="rq-load").value == "static batch" and at.number_input(key="rq-batch").value == 1
    r = genmodel.requirements("llama-3.1-70b", use_case="deep-research", tp=8)  # the library reads the case
    assert value(at, "Peak FLOP/s (bf16)") == f"{float(r.realistic['flops_per_s']) / 1e12:,.4g} TFLOP/s"
    assert value(at, "Memory capacity") == f"{float(r.realistic['memory_capacity_bytes']) / 1e9:,.4g} GB"
    at.selectbox(key="rq-case").set_value("chat").run()  # Poisson arrivals at 5.53 requests/s, targets at P99
    assert not at.exception and not at.error
    assert at.radio(key="rq-load").value == "request rate" and at.number_input(key="rq-rate").value == 5.53
    assert at.number_input(key="rq-pct").value == 99.0
    r = genmodel.requirements("llama-3.1-70b", use_case="chat", tp=8)
    assert r.settings["request_rate_per_s"] == 5.53
    assert value(at, "Memory bandwidth") == f"{float(r.realistic['memory_bandwidth_bytes_per_s']) / 1e9:,.4g} GB/s"
    # the served floors' 80% band, in the page's units, from the library's edges and the served cells
    band = caption(at, "80% band of the realistic floors")
    assert "held-out served errors" in band and r.settings["band_basis"] in band
    lo, hi = (float(r.realistic[f"memory_bandwidth_bytes_per_s_{e}"]) / 1e9 for e in ("low", "high"))
    assert f"memory bandwidth {lo:,.4g} GB/s to {hi:,.4g} GB/s" in band


def test_requirements_page_shows_a_target_no_hardware_meets_as_one_message():
    at = open_page("Requirements")
    at.slider(key="rq-tpot").set_value(1.0).run()  # below the 8-way layout's per-step overheads
    assert not at.exception
    with pytest.raises(genmodel.GenmodelError) as refused:
        genmodel.requirements(**{**REQUIRED, "tpot_target_s": 0.001})
    assert [e.value for e in at.error] == [str(refused.value)] and "no hardware can beat" in at.error[0].value
    assert not at.get("plotly_chart")


def test_requirement_vs_target_is_one_requirements_call_over_the_targets():
    for target, key in (("tpot", "tpot_target_s"), ("ttft", "ttft_target_s")):
        values = np.geomspace(0.5, 4.0, 7) * REQUIRED[key]
        table = charts.requirement_vs_target(REQUIRED, target, values)
        r = genmodel.requirements(**{**REQUIRED, key: values})
        assert np.array_equal(table[key], values)
        for floor in FLOORS:
            assert np.allclose(table[floor], r.realistic[floor], rtol=1e-12), floor
            assert np.allclose(table[f"ideal_{floor}"], r.ideal[floor], rtol=1e-12), floor
        assert list(table["binding"]) == list(r.binding)
    default = charts.requirement_vs_target(REQUIRED, "tpot")
    assert default["tpot_target_s"].min() < 0.03 < default["tpot_target_s"].max()


def test_the_bandwidth_floor_falls_as_the_tpot_target_loosens_until_the_ttft_target_binds():
    """With the TTFT target held, a resource's floor is the larger of what each target asks alone."""
    table = charts.requirement_vs_target(REQUIRED, "tpot")
    need = table["memory_bandwidth_bytes_per_s"]
    assert np.all(np.diff(need) <= 0) and need[0] > need[-1]
    tpot_alone = genmodel.requirements(**{**REQUIRED, "ttft_target_s": None, "tpot_target_s": table["tpot_target_s"]})
    ttft_alone = genmodel.requirements(**{**REQUIRED, "tpot_target_s": None})
    larger = np.maximum(tpot_alone.realistic["memory_bandwidth_bytes_per_s"],
                        float(ttft_alone.realistic["memory_bandwidth_bytes_per_s"]))
    assert np.allclose(need, larger, rtol=1e-9)
    assert need[-1] == pytest.approx(float(ttft_alone.realistic["memory_bandwidth_bytes_per_s"]), rel=1e-9)
    assert np.all(table["ideal_memory_bandwidth_bytes_per_s"] <= need)


def test_ideal_floors_against_the_target_are_the_work_over_the_target():
    """Llama-3.1-8B bf16, batch 1, one device, the other target loose (an hour). At 100% of peak and no overheads a
    decode step's bytes / TPOT is the bandwidth floor, the prefill's FLOPs / TTFT the FLOP/s floor, at every
    target: the bytes of every weight but the embedding table plus the KV cache of the mean context (1,024 + 127.5
    tokens x 131,072 bytes); 2 FLOPs per weight per prompt token (embedding and LM head apart) plus causal
    attention 4 x 32 x 4,096 x 1,024 x 1,025 / 2. Parameters: 8,030,261,248 published; 128,256 x 4,096 embedding."""
    kw = {"model": "llama-3.1-8b", "input_tokens": 1024, "output_tokens": 256, "batch": 1, "tp": 1,
          "ttft_target_s": 3600.0, "tpot_target_s": 3600.0}
    embedding = 128_256 * 4_096
    step_bytes = (8_030_261_248 - embedding) * 2 + (1024 + 255 / 2) * 32 * 8 * 128 * 2 * 2
    tpots = np.geomspace(0.005, 0.2, 9)
    table = charts.requirement_vs_target(kw, "tpot", tpots)
    assert np.allclose(table["ideal_memory_bandwidth_bytes_per_s"] * tpots, step_bytes, rtol=0.02)
    prefill_flops = 2 * (8_030_261_248 - 2 * embedding) * 1024 + 4 * 32 * 4096 * 1024 * 1025 / 2
    ttfts = np.geomspace(0.02, 2.0, 9)
    table = charts.requirement_vs_target(kw, "ttft", ttfts)
    assert np.allclose(table["ideal_flops_per_s"] * ttfts, prefill_flops, rtol=0.03)
    assert np.all(np.diff(table["flops_per_s"]) < 0)  # a looser TTFT never needs more


def test_capacity_vs_context_is_the_footprint_and_grows_with_context_and_batch():
    lengths, batches = np.array([512, 4096, 32768]), np.array([1, 8, 32])
    table = charts.capacity_vs_context(REQUIRED, lengths, batches)
    assert list(table["input_tokens"]) == list(np.repeat(lengths, 3)) and list(table["batch"]) == [1, 8, 32] * 3
    # ideal: the footprint per device, the same quantity as estimate's total_memory_bytes (an independent call)
    e = genmodel.estimate("llama-3.1-70b", "h200-sxm", batches[None, :], lengths[:, None], 256, tp=8,
                          check_fit=False)
    footprint = np.asarray(e.metrics["total_memory_bytes"], dtype=float).reshape(-1)
    assert np.allclose(table["ideal_memory_capacity_bytes"], footprint, rtol=1e-12)
    # realistic: the bytes C a device must report so that its usable share holds it, C f - R = footprint, with
    # R the runtime's reserve plus the collectives' buffers (several devices), f the usable share
    r = e.realism
    f, reserve = r.usable_memory_fraction, r.runtime_reserved_bytes + r.collective_reserved_bytes
    assert np.allclose(table["memory_capacity_bytes"], (footprint + reserve) / f, rtol=1e-9)
    for i, (n, b) in enumerate(zip(table["input_tokens"], table["batch"], strict=True)):
        if i % 4 == 0:  # a few points, each an independent scalar requirements call
            r = genmodel.requirements(**{**REQUIRED, "input_tokens": int(n), "batch": int(b)})
            assert table["memory_capacity_bytes"][i] == pytest.approx(float(r.realistic["memory_capacity_bytes"]),
                                                                      rel=1e-12)
    grid = table["memory_capacity_bytes"].reshape(3, 3)
    assert np.all(np.diff(grid, axis=0) > 0) and np.all(np.diff(grid, axis=1) > 0)  # more context, more batch
    default = charts.capacity_vs_context(REQUIRED)
    assert default["input_tokens"].max() == 131_072 - 256 and 16 in set(default["batch"])


def test_interconnect_vs_tp_rows_are_requirements_calls_and_collectives_grow_with_tp():
    table = charts.interconnect_vs_tp(REQUIRED)
    assert list(table["tp"]) == [1, 2, 4, 8] and list(table["devices"]) == [1, 2, 4, 8]
    for row in table.rows():
        r = genmodel.requirements(**{**REQUIRED, "tp": int(row["tp"])})
        for floor in FLOORS:
            assert row[floor] == pytest.approx(float(r.realistic[floor]), rel=1e-12), (row["tp"], floor)
    # one device: no link to require; then a ring all-reduce moves 2 (p - 1) / p of the same activations per
    # device in 2 (p - 1) hops, so more devices need more bandwidth and allow less latency per hop
    assert table["interconnect_bandwidth_bytes_per_s"][0] == 0.0 and np.isinf(table["interconnect_latency_s"][0])
    assert np.all(np.diff(table["interconnect_bandwidth_bytes_per_s"]) > 0)
    assert np.all(np.diff(table["interconnect_latency_s"][1:]) < 0)


def test_interconnect_vs_tp_leaves_out_default_degrees_the_model_cannot_split_over():
    kw = {**REQUIRED, "model": "qwen2.5-7b", "tp": 7}  # 28 attention heads: 8 does not divide them
    assert list(charts.interconnect_vs_tp(kw)["tp"]) == [1, 2, 4, 7]
    with pytest.raises(genmodel.GenmodelError, match="does not divide the 28 attention heads"):
        charts.interconnect_vs_tp(kw, [4, 8])  # asked for explicitly: refused as the library refuses it
