"""genmodel's GEMM times against cuBLAS's BF16 GEMMs timed on this project's H200 at every 16th row count from 16 to
2,304 (validation/gemm_sweep_h200.json, written by benchmarks/device_gemm_sweep.py; compared by
benchmarks/compare_gemm_sweep.py; docs/formulas.md 5.1, "Between powers of two"; docs/validation.md, history item
48). Nothing was fitted on these. The figures asserted are the physics defaults' (no fit, so a refit does not move
them), with the H200 entry's balanced tiles and, for comparison, with them switched off."""

from __future__ import annotations

import numpy as np
import pytest
from benchload import script_module

import genmodel

cgs = script_module("compare_gemm_sweep")


@pytest.fixture(scope="module")
def data():
    return cgs.load()


def whole_tiles_h200():
    """The H200 entry with ``balanced_tiles`` off: whole 128-row tiles, the last wave partly empty (every GPU before
    history item 48)."""
    hw = genmodel.get_hardware("h200-sxm")
    return hw.model_copy(update={"microarchitecture": hw.microarchitecture.model_copy(
        update={"balanced_tiles": False})})


def test_the_file_holds_one_sweep(data):
    meta, records = data["meta"], data["records"]
    assert meta["device"] == "NVIDIA H200" and meta["multiprocessors"] == 132
    shapes = {r["shape"] for r in records}
    assert len(shapes) == 5 and len(records) == 5 * 150
    assert all(r["time_s"] > 0 for r in records)
    # every GEMM's result checked against float64 on 64 rows: BF16's rounding, no more
    assert all(meta[f"relative_error {s}"] < 5e-3 for s in shapes)


def test_cublas_is_smooth_in_the_rows(data):
    # from 384 rows on, 90% of the GEMMs run at 598-718 TFLOP/s (5th to 95th percentile; the power cap held the
    # clock near 1,485 MHz), the slowest at 369 (a 448-row gate-up projection): no steps at the multiples of 128 rows
    # or of 132 tiles
    rates = [2 * r["m"] * r["n"] * r["k"] / r["time_s"] for r in data["records"] if r["m"] >= 384]
    low, high = np.percentile(rates, [5, 95])
    assert low == pytest.approx(5.98e14, rel=0.005) and high == pytest.approx(7.18e14, rel=0.005)
    # a few rows past 512, 1,024 and 2,048 cost a median 4.2% (0-21%)
    ratios = cgs.step_ratios(data)
    assert len(ratios) == 5 * len(cgs.STEPS)
    assert np.median(ratios[:, 0]) == pytest.approx(1.042, abs=0.001)
    assert ratios[:, 0].min() >= 0.99 and ratios[:, 0].max() <= 1.22


def test_balanced_tiles_follow_the_sweep(data):
    # the physics defaults with the H200's balanced tiles: the step past a power of two a median 5.7% (3-11%), and
    # the sweep +6.8% (8.0% absolute); from 1,025 rows on +2.1% (4.2%)
    ratios = cgs.step_ratios(data)
    assert np.median(ratios[:, 1]) == pytest.approx(1.057, abs=0.001)
    assert ratios[:, 1].min() > 1.02 and ratios[:, 1].max() < 1.12
    m, e = cgs.errors(data)
    assert np.median(e) == pytest.approx(6.8, abs=0.1) and np.median(np.abs(e)) == pytest.approx(8.0, abs=0.1)
    cells = cgs.by_range(m, e)
    assert cells[(1025, 2305)][1:] == pytest.approx((2.1, 4.2), abs=0.1)


def test_whole_tiles_and_partly_empty_waves_do_not(data):
    # the same device with balanced_tiles off (what every GPU had before history item 48): the step past a power of
    # two a median 21.5%, up to 1.71x; the sweep +16.7% (17.9% absolute)
    off = whole_tiles_h200()
    model = cgs.step_ratios(data, off)[:, 1]
    assert np.median(model) == pytest.approx(1.215, abs=0.001) and max(model) == pytest.approx(1.71, abs=0.01)
    _, e = cgs.errors(data, hardware=off)
    assert np.median(e) == pytest.approx(16.7, abs=0.1) and np.median(np.abs(e)) == pytest.approx(17.9, abs=0.1)


def test_fp8_through_cublaslt_agrees():
    # the same shapes in FP8 (torch._scaled_mm, per-tensor scales, BF16 out; 720 GEMMs at the row counts that are
    # multiples of 16): a few rows past 512, 1,024 and 2,048 cost a median 9.7%, genmodel's balanced tiles 7.1%
    # (whole tiles and partly empty waves: 21.9%); the sweep +5.7% (7.3% absolute) against +16.9% (18.7%)
    fp8 = cgs.load(cgs.FP8)
    assert len(fp8["records"]) == 720 and all(r["dtype"] == "fp8" for r in fp8["records"])
    assert all(fp8["meta"][f"fp8 relative_error {s}"] < 5e-3 for s in {r["shape"] for r in fp8["records"]})
    ratios = cgs.step_ratios(fp8)
    assert np.median(ratios[:, 0]) == pytest.approx(1.097, abs=0.001)
    assert np.median(ratios[:, 1]) == pytest.approx(1.071, abs=0.001)
    off = whole_tiles_h200()
    assert np.median(cgs.step_ratios(fp8, off)[:, 1]) == pytest.approx(1.219, abs=0.001)
    _, e = cgs.errors(fp8)
    assert np.median(e) == pytest.approx(5.7, abs=0.1) and np.median(np.abs(e)) == pytest.approx(7.3, abs=0.1)
    _, e_off = cgs.errors(fp8, hardware=off)
    assert np.median(e_off) == pytest.approx(16.9, abs=0.1) and np.median(np.abs(e_off)) == pytest.approx(18.7, abs=0.1)
