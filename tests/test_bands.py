"""80% error bands (genmodel.engine.uncertainty, genmodel.validation.bands; docs/validation.md "Bands"):
conformal ranks by hand, the fallback to parent cells, how a band maps onto times and rates, and the nested
coverage check."""

import math

import numpy as np
import pytest

import genmodel
from genmodel.engine import uncertainty as u
from genmodel.table import Table
from genmodel.validation import bands


def test_conformal_ranks_by_hand():
    # n = 19 residuals 1..19, alpha 0.2: ranks floor(20 x 0.1) = 2 and ceil(20 x 0.9) = 18 -> values 2 and 18
    assert u.conformal_quantiles([float(i) for i in range(19, 0, -1)]) == (2.0, 18.0)
    # n = 8: ceil(9 x 0.9) = 9 > 8, no finite-sample band exists
    assert u.conformal_quantiles([0.0] * 8) is None


def test_equal_weights_give_the_conformal_ranks():
    # every row its own source (equal weights): ranks floor((n + 1) / 10) and ceil((n + 1) x 9 / 10), in integers
    for n in range(1, 60):
        values = [float(v) for v in range(n, 0, -1)]
        lo_rank, hi_rank = (n + 1) // 10, -(-(n + 1) * 9 // 10)
        expected = None if lo_rank < 1 or hi_rank > n else (float(lo_rank), float(hi_rank))
        assert u.conformal_quantiles(values, weights=u.source_weights([str(i) for i in range(n)])) == expected


def test_rows_are_weighted_by_their_sources_share_of_the_cell():
    # 38 rows of source A at 0.0, one row of B at 0.5 and one of C at 1.0 (n = 40). Unweighted: ranks floor(4.1) = 4
    # and ceil(36.9) = 37, both A's: the band is A's point. Weighted 1 / sqrt(rows of the source): A's rows 1/sqrt(38)
    # each (sqrt(38) = 6.164 in all), B's and C's 1; normalised to a mean of 1 (total 8.164 / 40 = 0.2041): A 0.7948,
    # B and C 4.899 each. Upper edge: the running sum must reach 0.9 x 41 = 36.9: A's 38 rows 30.20, B 35.10, C 40.00
    # -> C's 1.0. Lower edge, summing from the top: C 4.90, B 9.80, then A's rows until 36.9 (35 of them) -> 0.0
    values = [0.0] * 38 + [0.5, 1.0]
    sources = ["A"] * 38 + ["B", "C"]
    assert u.conformal_quantiles(values) == (0.0, 0.0)
    weights = u.source_weights(sources)
    assert weights[0] == pytest.approx(38 ** -0.5) and weights[-1] == 1.0
    assert u.conformal_quantiles(values, weights=weights) == (0.0, 1.0)
    # the weighted centre: half the total weight (20.0 of the normalised 40) is reached inside A's rows
    assert u.weighted_median(values, weights) == 0.0
    assert u.weighted_median([0.0, 1.0, 2.0], [1.0, 1.0, 5.0]) == 2.0  # 2.0 alone holds more than half


def test_a_thin_cell_borrows_its_parents_band_widened():
    # 21 vLLM rows from four sources (A, B, C, D by turns), two TensorRT-LLM rows: too few for their own band
    records = [("gpu", "vllm", "decode", r, "ABCD"[i % 4]) for i, r in enumerate(np.linspace(-0.2, 0.2, 21))]
    records += [("gpu", "trtllm", "decode", r, "T") for r in (0.5, 0.6)]
    cells = u.build(records)
    own = u.lookup(cells, "gpu", "vllm", "decode")
    assert own.n == 21 and "21 held-out rows from 4 sources" in own.basis
    borrowed = u.lookup(cells, "gpu", "trtllm", "decode")
    parent = cells["gpu|*|decode"]
    assert borrowed.n == 23 and parent["sources"] == 5 and "widened" in borrowed.basis
    centre = parent["median"]
    assert borrowed.low == pytest.approx(centre - u.WIDEN * (centre - parent["low"]))
    assert borrowed.high == pytest.approx(centre + u.WIDEN * (parent["high"] - centre))
    assert u.lookup(cells, "tpu", "jetstream", "prefill") is u.NO_BAND  # nothing at all for prefill


def test_a_cell_of_many_rows_from_two_sources_borrows_too():
    # 40 SGLang rows from two sources, tightly around +5% and +10%, and 20 vLLM rows from four sources spread over
    # -30..+30%: the SGLang cell has the rows but not the sources (MIN_SOURCES = 4), so it takes the parent's band
    # (60 rows, 6 sources), widened, not its own narrow one that knows nothing of how far another source may land
    records = [("gpu", "sglang", "decode", r, src) for src, r in (("S1", 0.05), ("S2", 0.10)) for _ in range(20)]
    records += [("gpu", "vllm", "decode", r, "ABCD"[i % 4]) for i, r in enumerate(np.linspace(-0.3, 0.3, 20))]
    cells = u.build(records)
    assert cells["gpu|sglang|decode"]["n"] == 40 and cells["gpu|sglang|decode"]["sources"] == 2
    b = u.lookup(cells, "gpu", "sglang", "decode")
    assert b.n == 60 and "too few held-out rows or sources" in b.basis and "6 sources" in b.basis
    parent = cells["gpu|*|decode"]
    assert b.high == pytest.approx(parent["median"] + u.WIDEN * (parent["high"] - parent["median"]))
    # with a third and a fourth source of one row each at +20% the cell stands on its own. Weights: S1's and S2's rows
    # 1/sqrt(20) = 0.2236, S3's and S4's 1; normalised to a mean of 1 (total 10.944 / 42 = 0.2606): 0.8581 and 3.838.
    # Upper edge, running sum to 0.9 x 43 = 38.7: 20 x 0.05 -> 17.16, 20 x 0.10 -> 34.32, 0.2 -> 38.16, 0.2 -> 42.0:
    # 0.2 (unweighted, rank ceil(38.7) = 39 of the sorted rows is a 0.10: the two small sources would not count).
    # Lower edge from the top: 7.68 after the two 0.2s, 24.84 after the 0.10s, then 17 of the 0.05s: 0.05
    cells = u.build(records[:40] + [("gpu", "sglang", "decode", 0.2, s) for s in ("S3", "S4")])
    own = u.lookup(cells, "gpu", "sglang", "decode")
    assert own.basis.endswith("42 held-out rows from 4 sources")
    assert (own.low, own.high) == (0.05, 0.2)


def test_a_cell_on_four_or_five_sources_spans_its_parents_band():
    # 12 SGLang rows from four sources (3 each) at 0.00..0.11 and 12 vLLM rows from four others at -0.40..-0.29;
    # every source has 3 rows of its cell, so the weights are equal and the conformal ranks exact. SGLang's cell: n =
    # 12, ranks floor(13 x 0.1) = 1 and ceil(13 x 0.9) = 12 -> (0.00, 0.11). The parent gpu / any / decode: n = 24
    # from 8 sources, running sum to 0.9 x 25 = 22.5 -> the 23rd value from either end: 0.10 and -0.39. A cell on
    # fewer than THIN_SOURCES = 6 sources takes the lower low edge and the higher high edge: (-0.39, 0.11)
    sglang = [("gpu", "sglang", "decode", k / 100, f"S{k % 4}") for k in range(12)]
    vllm = [("gpu", "vllm", "decode", -0.40 + k / 100, f"V{k % 4}") for k in range(12)]
    cells = u.build(sglang + vllm)
    assert (cells["gpu|sglang|decode"]["low"], cells["gpu|sglang|decode"]["high"]) == (0.0, 0.11)
    assert (cells["gpu|*|decode"]["low"], cells["gpu|*|decode"]["high"]) == pytest.approx((-0.39, 0.10))
    b = u.lookup(cells, "gpu", "sglang", "decode")
    assert (b.low, b.high) == pytest.approx((-0.39, 0.11)) and b.n == 12
    assert "12 held-out rows from 4 sources, fewer than 6: joined with the band of gpu / any / decode" in b.basis
    v = u.lookup(cells, "gpu", "vllm", "decode")
    assert (v.low, v.high) == pytest.approx((-0.40, 0.10))
    # with two more SGLang sources (6 in all) the cell stands on its own: 18 rows at 0.00..0.17 from six sources of
    # three rows each, ranks floor(1.9) = 1 and ceil(17.1) = 18 -> (0.00, 0.17), not joined
    sglang6 = [("gpu", "sglang", "decode", k / 100, f"S{k % 6}") for k in range(18)]
    own = u.lookup(u.build(sglang6 + vllm), "gpu", "sglang", "decode")
    assert (own.low, own.high) == (0.0, 0.17) and "joined" not in own.basis


def test_band_edges_of_times_and_rates():
    # time-oriented log errors r = log(predicted / measured): a measured time lies in [T e^-r_hi, T e^-r_lo]
    b = u.Band(-0.1, 0.3, 50, "test")
    low, high = b.times(10.0)
    assert (low, high) == pytest.approx((10 * math.exp(-0.3), 10 * math.exp(0.1)))
    low, high = b.rates(100.0)
    assert (low, high) == pytest.approx((100 * math.exp(-0.1), 100 * math.exp(0.3)))


def test_every_estimate_carries_its_bands():
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=4)
    d = r.to_dict()
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "output_tokens_per_s_per_device"):
        assert d[f"{key}_low"] < d[key] < d[f"{key}_high"], key
    decode = u.band("gpu", "vllm", "decode", devices=1.0)  # one device: its class's cells
    assert d["tpot_s_low"] == pytest.approx(d["tpot_s"] * math.exp(-decode.high))
    assert d["output_tokens_per_s_high"] == pytest.approx(d["output_tokens_per_s"] * math.exp(decode.high))
    assert d["bands"]["decode"]["basis"] == decode.basis
    # memory fit: the largest batch with 1.5 GiB less and more memory brackets the figure
    assert d["max_batch_low"] <= d["max_batch"] <= d["max_batch_high"]


def test_defaults_use_the_bands_of_the_default_predictions():
    plain = genmodel.estimate("llama-3.1-8b", "h100-sxm", calibrated=False).to_dict()
    band = u.band("gpu", "vllm", "decode", calibrated=False, devices=1.0)
    assert plain["tpot_s_high"] == pytest.approx(plain["tpot_s"] * math.exp(-band.low))


def _records(groups: dict[str, list[float]]) -> Table:
    rows = [(g, e) for g, errs in groups.items() for e in errs]
    return Table({"id": [f"{g}-{i}" for i, (g, _) in enumerate(rows)], "metric": ["tpot"] * len(rows),
                  "kind": ["gpu"] * len(rows), "engine": ["vllm"] * len(rows), "group": ["decode"] * len(rows),
                  "holdout": [g for g, _ in rows], "error_pct": [e for _, e in rows]})


def test_nested_coverage_tests_each_source_against_the_others_bands():
    # four sources of 20 rows each with errors spread evenly over -20..+20%, and one source at +80%: the four are
    # covered by bands built from the other three (mostly), the outlier source by none
    even = list(np.linspace(-20, 20, 20))
    cov = bands.coverage(_records({"A": even, "B": even, "C": even, "D": even, "X": [80.0] * 20}))
    assert cov["groups"] == 5 and cov["rows"] == 100
    # each even source against bands of 3 even sources + X (80 rows, 20 of them at +80%): the band's upper rank
    # reaches into X's residuals, its lower rank at the 10% point of the even ones -> 18 of 20 covered;
    # X against the even sources' band (upper edge about +16%): none covered
    assert cov["group_coverage"] == pytest.approx((4 * 18 / 20 + 0) / 5)
    assert cov["row_coverage"] == pytest.approx((4 * 18) / 100)


def test_a_rate_row_is_oriented_as_a_time():
    # a throughput predicted twice the measured one is a time predicted half as long: r = log(1/2), like a TPOT
    # predicted at half the measured TPOT; per-user and per-device rates too (their keys end otherwise)
    table = _records({"A": [100.0, -50.0, 100.0, 100.0, 100.0]}).assign(
        metric=["output_throughput", "tpot", "decode_rate_per_user", "output_throughput_per_device",
                "prefill_throughput"], group=["decode"] * 4 + ["prefill"])
    assert [x["r"] for x in bands.residuals(table)] == pytest.approx([math.log(0.5)] * 5)


def test_served_rows_make_their_own_cells():
    # 19 static rows with errors -9..+9% and 19 served rows with errors 0..+90% (tpot: a time, r = log(1 + e)):
    # estimate's cells come from the static rows only, serve's from the served rows only; by the conformal ranks
    # 2 and 18 of 19 (test above) the served band is [log 1.05, log 1.85]
    static = _records({"S": [float(e) for e in range(-9, 10)]})
    served = _records({"V": [5.0 * e for e in range(19)]})
    table = Table({k: list(static[k]) + list(served[k]) for k in static.columns}).assign(
        batching=["static"] * 19 + ["served"] * 19)
    plain, busy = bands.make_bands(table), bands.make_bands(table, served=True)
    assert plain["gpu|vllm|decode"]["n"] == 19 and busy["gpu|vllm|decode"]["n"] == 19
    assert plain["gpu|vllm|decode"]["low"] == pytest.approx(math.log(0.92))
    assert busy["gpu|vllm|decode"]["low"] == pytest.approx(math.log(1.05))
    assert busy["gpu|vllm|decode"]["high"] == pytest.approx(math.log(1.85))


def test_serve_carries_the_served_bands():
    r = genmodel.serve("llama-3.1-8b", "h100-sxm", input_tokens=1024, output_tokens=256, request_rate=5)
    # serve's cells of a dense model's rows first (history item 95)
    b_pre = u.band("gpu", "vllm", "prefill", served=True, devices=1.0, architecture="dense")
    b_dec = u.band("gpu", "vllm", "decode", served=True, devices=1.0, architecture="dense")
    m = r.metrics
    assert m["ttft_p50_s_high"] == pytest.approx(m["ttft_p50_s"] * math.exp(-b_pre.low))
    assert m["tpot_p50_s_low"] == pytest.approx(m["tpot_p50_s"] * math.exp(-b_dec.high))
    # the P90 and P99 figures: the cells of their own tail metric (the published tail percentiles, history item 55)
    for key, tail in (("ttft_p90_s", "ttft_p90"), ("tpot_p99_s", "tpot_p99"), ("itl_p99_s", "itl_p99"),
                      ("e2e_p90_s", "e2e_latency_p90")):
        b = u.band("gpu", "vllm", tail, devices=1.0, tails=True)
        assert b.n > 0 and b is not u.NO_BAND
        assert m[f"{key}_high"] == pytest.approx(m[key] * math.exp(-b.low))
        assert m[f"{key}_low"] == pytest.approx(m[key] * math.exp(-b.high))
    assert m["output_tokens_per_s_high"] == pytest.approx(m["output_tokens_per_s"] * math.exp(b_dec.high))
    assert np.isfinite(m["ttft_p50_s_high"]) and m["ttft_p50_s_low"] <= m["ttft_p50_s"] <= m["ttft_p50_s_high"]


def test_rows_of_an_unfittable_engine_keep_to_their_own_cell(monkeypatch):
    # 19 vLLM rows with errors -9..+9% and 19 rows of an engine whose profile is not fittable (autoawq-gemv, made so
    # for the test) at +300..+390%:
    # the GEMV rows make a cell of their own (conformal ranks 2 and 18 of 19: +305% and +385%, [log 4.05, log 4.85]
    # as time-oriented errors of a time metric) but stay out of gpu / any / decode, which holds the vLLM rows alone
    table = _records({"S": [float(e) for e in range(-9, 10)], "G": [300.0 + 5 * e for e in range(19)]})
    table = table.assign(engine=["vllm"] * 19 + ["autoawq-gemv"] * 19)

    def get_engine(name):
        spec = genmodel.get_engine(name)
        return spec.model_copy(update={"fittable": False}) if name == "autoawq-gemv" else spec

    monkeypatch.setattr(bands, "get_engine", get_engine)
    cells = bands.make_bands(table)
    assert cells["gpu|autoawq-gemv|decode"]["n"] == 19
    assert cells["gpu|autoawq-gemv|decode"]["low"] == pytest.approx(math.log(4.05))
    assert cells["gpu|autoawq-gemv|decode"]["high"] == pytest.approx(math.log(4.85))
    assert cells["gpu|*|decode"]["n"] == 19 and cells["gpu|*|decode"]["high"] == pytest.approx(math.log(1.08))
    # the same rows under a fittable engine (autoawq) join the parents
    pooled = bands.make_bands(table.assign(engine=["vllm"] * 19 + ["autoawq"] * 19))
    assert pooled["gpu|*|decode"]["n"] == 38


def test_the_basis_line_says_when_a_band_lies_on_one_side_of_the_estimate():
    from genmodel.interfaces.cli.common import band_basis

    # r = log(predicted / measured time): r_hi < 0 means over 90% of held-out rows measured slower than predicted,
    # so a time's band [T e^-r_hi, T e^-r_lo] lies wholly above T; r_lo > 0 the other way; straddling 0, no remark
    text = band_basis({"prefill": {"log_error_low": -0.4, "log_error_high": 0.3, "basis": "P"},
                       "decode": {"log_error_low": -0.5, "log_error_high": -0.05, "basis": "D"}})
    assert text.startswith("prefill: P; decode: D (the band lies above the estimate")
    assert "below" in band_basis({"decode": {"log_error_low": 0.02, "log_error_high": 0.4, "basis": "D"}})
    assert band_basis({"decode": {"log_error_low": None, "log_error_high": None, "basis": "none"}}) == "decode: none"
    low, high = u.Band(-0.5, -0.05, 20, "D").times(10.0)
    assert 10.0 < low < high  # the band of the second case above does lie above the estimate



def test_tables_name_the_rows_whose_band_lies_on_one_side():
    from genmodel.interfaces.cli.common import band_side, lopsided_note

    # the band of a time T with r in [-0.5, -0.05] is [T e^0.05, T e^0.5] = [10.51, 16.49] for T = 10: above it
    low, high = u.Band(-0.5, -0.05, 20, "D").times(10.0)
    assert band_side(10.0, low, high) == "above"
    assert band_side(10.0, 8.0, 9.9) == "below"
    assert band_side(10.0, 8.0, 12.0) is None and band_side(10.0, 10.0, 12.0) is None  # an edge on it: around it
    assert band_side(10.0, float("nan"), 12.0) is None and band_side(10.0, None, None) is None  # no band
    assert lopsided_note("TPOT", {}, 5) is None
    one = lopsided_note("TPOT", {"b200": "above"}, 5)
    assert one.startswith("b200: the TPOT band lies above the estimate") and "slower" in one
    # more than three rows on one side are counted, not named; each side gets its clause
    many = lopsided_note("TPOT", {f"r{i}": "above" for i in range(4)} | {"x": "below"}, 9)
    assert many.startswith("4 of the 9 rows: the TPOT band lies above") and "; x: the TPOT band lies below" in many
    assert "faster" in many

def test_device_count_classes_and_their_cells():
    # one device, 2-4 (part of a node), 5 or more (a node or several)
    assert [u.scale_of(n) for n in (1, 2, 4, 5, 8, 72)] == ["1", "2-4", "2-4", "5+", "5+", "5+"]
    assert u.parents("gpu", "vllm", "decode", "5+") == [
        "gpu|vllm|decode|5+", "gpu|*|decode|5+", "*|*|decode|5+", "gpu|vllm|decode", "gpu|*|decode", "*|*|decode"]
    assert u.parents("gpu", "vllm", "decode") == ["gpu|vllm|decode", "gpu|*|decode", "*|*|decode"]
    # 20 one-device rows from four sources at -9..+10% and 20 eight-device rows from four others at -45..-26%
    # (time-oriented r = log(1 + e)), five rows a source (equal weights): each class's cell holds its own rows, the
    # cell over all classes both
    one = [("gpu", "vllm", "decode", math.log1p(e / 100), "ABCD"[i % 4], "1") for i, e in enumerate(range(-9, 11))]
    eight = [("gpu", "vllm", "decode", math.log1p((e - 36) / 100), "EFGH"[i % 4], "5+")
             for i, e in enumerate(range(-9, 11))]
    cells = u.build(one + eight)
    assert cells["gpu|vllm|decode|1"]["n"] == 20 and cells["gpu|vllm|decode|5+"]["n"] == 20
    assert cells["gpu|vllm|decode"]["n"] == 40
    # conformal ranks floor(2.1) = 2 and ceil(18.9) = 19 of 20: -8..+9% and -44..-27%
    b = u.lookup(cells, "gpu", "vllm", "decode", "5+")
    assert (b.low, b.high) == pytest.approx((math.log(0.56), math.log(0.73)))
    assert b.basis == "gpu / vllm / decode / 5+ devices: 20 held-out rows from 4 sources"
    assert u.lookup(cells, "gpu", "vllm", "decode", "1").high == pytest.approx(math.log(1.09))
    # no 2-4-device rows: the class's parents have none either, so the cell over all classes, widened
    borrowed = u.lookup(cells, "gpu", "vllm", "decode", "2-4")
    assert "too few held-out rows or sources for gpu / vllm / decode / 2-4 devices" in borrowed.basis
    assert borrowed.n == 40 and "widened" in borrowed.basis


def test_a_call_over_several_device_counts_gets_each_class_band():
    tp = np.array([1, 2, 8])
    r = genmodel.estimate("llama-3.1-70b", "h200-sxm", tp=tp, weight_dtype="fp8")
    for i, n in enumerate(tp):
        b = u.band("gpu", "vllm", "decode", devices=float(n))
        assert r.metrics["tpot_s_low"][i] == pytest.approx(r.metrics["tpot_s"][i] * math.exp(-b.high))
        assert r.metrics["output_tokens_per_s_high"][i] == pytest.approx(
            r.metrics["output_tokens_per_s"][i] * math.exp(b.high))
        # the same figure as the configuration alone
        alone = genmodel.estimate("llama-3.1-70b", "h200-sxm", tp=int(n), weight_dtype="fp8")
        assert alone.metrics["tpot_s_high"] == pytest.approx(r.metrics["tpot_s_high"][i])
    basis = r.to_dict()["bands"]["decode"]["basis"]
    assert basis.startswith("by devices per replica: 1 device: ") and "; 5+ devices: " in basis
    # data-parallel replicas do not count: two replicas of one device are one-device replicas
    two = genmodel.estimate("llama-3.1-8b", "h100-sxm", dp=2).bands["decode"]
    assert two == u.band("gpu", "vllm", "decode", devices=1.0)


def test_architecture_cells_come_before_the_cells_over_both():
    # (history item 95: serve's cells are made so) 18 dense rows at r = 0.00..0.17 and 18 MoE rows at r = -0.50..-0.33,
    # each from six sources of three rows (equal weights): conformal ranks floor(1.9) = 1 and ceil(17.1) = 18 of 18 give
    # each architecture's cell its own extremes; the cell over both has 36 rows from 12 sources, ranks floor(3.7) = 3
    # and ceil(33.3) = 34 of 36: the third-lowest MoE residual, -0.48, and the third-highest dense one, 0.15
    dense = [("gpu", "vllm", "decode", k / 100, f"D{k % 6}", None, "dense") for k in range(18)]
    moe = [("gpu", "vllm", "decode", -0.5 + k / 100, f"M{k % 6}", None, "moe") for k in range(18)]
    cells = u.build(dense + moe)
    assert cells["gpu|vllm|decode:dense"]["n"] == 18 and cells["gpu|vllm|decode:moe"]["n"] == 18
    assert cells["gpu|vllm|decode"]["n"] == 36 and cells["*|*|decode:moe"]["n"] == 18
    assert (cells["gpu|vllm|decode"]["low"], cells["gpu|vllm|decode"]["high"]) == pytest.approx((-0.48, 0.15))
    b = u.lookup(cells, "gpu", "vllm", "decode", architecture="moe")
    assert (b.low, b.high) == pytest.approx((-0.50, -0.33))
    assert b.basis == "gpu / vllm / decode, MoE models: 18 held-out rows from 6 sources"
    assert (u.lookup(cells, "gpu", "vllm", "decode", architecture="dense").high) == pytest.approx(0.17)
    assert (u.lookup(cells, "gpu", "vllm", "decode").low) == pytest.approx(-0.48)  # no architecture: over both
    # TensorRT-LLM with 18 dense rows from six sources and three MoE rows from one: its MoE cell does not stand, so a
    # MoE estimate borrows the MoE rows of every engine (21 rows, 7 sources, equal weights: ranks 2 and 20 of 21,
    # -0.49 and 0.31, centre the 11th, -0.40) widened 1.25x about the centre: (-0.5125, 0.4875), before
    # TensorRT-LLM's own cell over both architectures, which stands (21 rows from 7 sources)
    trt = [("gpu", "trtllm", "decode", k / 100, f"T{k % 6}", None, "dense") for k in range(18)]
    trt_moe = [("gpu", "trtllm", "decode", 0.30 + k / 100, "TM", None, "moe") for k in range(3)]
    cells = u.build(dense + moe + trt + trt_moe)
    assert u._stands(cells["gpu|trtllm|decode"]) and not u._stands(cells.get("gpu|trtllm|decode:moe"))
    b = u.lookup(cells, "gpu", "trtllm", "decode", architecture="moe")
    assert (b.low, b.high) == pytest.approx((-0.5125, 0.4875))
    assert b.basis.startswith("too few held-out rows or sources for gpu / trtllm / decode, MoE models: the band of "
                              "gpu / any / decode, MoE models (21 held-out rows from 7 sources) widened 1.25x")


def test_serve_uses_its_models_architecture_and_estimate_the_pooled_cells():
    # (history item 95) serve's stored cells are kept per architecture: a model with mixture-of-experts layers gets
    # the MoE cells' band, a dense model the dense cells'; estimate's cells are pooled, so its lookup with an
    # architecture takes the cells over both
    served = u.band("gpu", "vllm", "prefill", served=True, devices=1.0, architecture="moe")
    assert "MoE models" in served.basis
    assert served != u.band("gpu", "vllm", "prefill", served=True, devices=1.0, architecture="dense")
    r = genmodel.serve("qwen3-30b-a3b", "h100-sxm", input_tokens=1024, output_tokens=256, request_rate=4)
    m = r.metrics
    assert m["ttft_p50_s_high"] == pytest.approx(m["ttft_p50_s"] * math.exp(-served.low))
    moe = genmodel.estimate("qwen3-30b-a3b", "h100-sxm", batch=1, input_tokens=1024, output_tokens=256)
    for phase in ("prefill", "decode"):
        assert moe.bands[phase] == u.band("gpu", "vllm", phase, devices=1.0)
        assert "models" not in moe.bands[phase].basis
    assert u.architecture_of(genmodel.get_model("deepseek-v3")) == "moe"
    assert u.architecture_of(genmodel.get_model("llama-3.1-70b")) == "dense"
    # residuals carry the record's architecture, and the nested coverage reports it
    table = _records({"A": [1.0] * 12, "B": [2.0] * 12, "C": [3.0] * 12, "D": [4.0] * 12}).assign(
        architecture=["moe"] * 24 + ["dense"] * 24)
    assert [x["architecture"] for x in bands.residuals(table)] == ["moe"] * 24 + ["dense"] * 24
    assert set(bands.coverage(table)["by_architecture"]) == {"decode dense", "decode moe"}
    # estimate's cells stay pooled, serve's are split (bands.SPLIT_BY_ARCHITECTURE)
    assert not any(":" in key for key in bands.make_bands(table))
    served = bands.make_bands(table.assign(batching=["served"] * 48), served=True)
    assert {"gpu|vllm|decode:moe", "gpu|vllm|decode:dense", "gpu|vllm|decode"} <= set(served)


def test_serve_says_when_a_p50_band_lies_off_its_figure():
    from genmodel.interfaces.cli.common import served_band_lines as _band_lines

    # the TTFT band [120, 300] ms lies above its 100 ms figure; the TPOT band [8, 20] ms holds its 10 ms figure
    d = {"ttft_p50_s": 0.1, "ttft_p50_s_low": 0.12, "ttft_p50_s_high": 0.3,
         "tpot_p50_s": 0.01, "tpot_p50_s_low": 0.008, "tpot_p50_s_high": 0.02}
    lines = _band_lines(d)
    assert len(lines) == 2 and "TTFT 120.000 ms to 300.000 ms" in lines[0]
    assert lines[1].startswith("  the p50 TTFT band lies above the estimate") and "slower" in lines[1]
    d.update(tpot_p50_s=0.025)  # now the TPOT band [8, 20] ms lies below its 25 ms figure as well
    assert [line.split(":")[0].strip() for line in _band_lines(d)[1:]] == [
        "the p50 TTFT band lies above the estimate", "the p50 TPOT band lies below the estimate"]
    assert "faster" in _band_lines(d)[2]
    d.update(ttft_p50_s_high=float("inf"))  # no band: no remark
    assert _band_lines(d) == ["  no band: too few held-out served rows for this kind and engine"]


def test_a_saturated_serve_keeps_its_tpot_band_and_says_the_ttft_is_unbounded():
    from genmodel.interfaces.cli.common import served_band_lines as _band_lines

    # past saturation the TTFT and its band are unbounded (JSON null); the TPOT keeps its band (before the
    # seventy-sixth session this printed 'no band', as if the held-out rows were too few)
    d = {"ttft_p50_s": None, "ttft_p50_s_low": None, "ttft_p50_s_high": None,
         "tpot_p50_s": 0.01, "tpot_p50_s_low": 0.008, "tpot_p50_s_high": 0.02}
    assert _band_lines(d) == ["  80% band of the p50 figures (held-out served rows): TPOT 8.000 ms to 20.000 ms"]
    r = genmodel.serve("llama-3.1-8b", "h100-sxm", input_tokens=1024, output_tokens=256, request_rate=100)
    d = r.to_dict()
    assert d["ttft_p50_s"] is None and d["tpot_p50_s"] is not None  # (100 requests/s is past its saturation)
    assert _band_lines(d)[0].startswith("  80% band of the p50 figures (held-out served rows): TPOT ")


def test_serve_gives_the_per_user_rate_with_the_mean_tpots_band_inverted():
    r = genmodel.serve("llama-3.1-8b", "h100-sxm", input_tokens=1024, output_tokens=256, concurrency=[1, 8, 64])
    m = r.metrics
    # the rate one user sees is one token per mean TPOT; its low edge is one token per the TPOT band's high edge
    assert np.all(m["tokens_per_s_per_user"] * m["tpot_mean_s"] == pytest.approx(1.0))
    assert np.all(m["tokens_per_s_per_user_low"] * m["tpot_mean_s_high"] == pytest.approx(1.0))
    assert np.all(m["tokens_per_s_per_user_high"] * m["tpot_mean_s_low"] == pytest.approx(1.0))
    assert np.all(m["tokens_per_s_per_user_low"] < m["tokens_per_s_per_user"])
    assert np.all(m["tokens_per_s_per_user"] < m["tokens_per_s_per_user_high"])
    # more clients share each step: no user decodes faster with 64 in flight than alone
    assert m["tokens_per_s_per_user"][0] > m["tokens_per_s_per_user"][2]
