"""``genmodel validate --kernels`` and ``genmodel.validation.kernel_checks``: the four kernel-level checks in one
report (docs/validation.md, docs/formulas.md "Checked against published kernel timings"). The per-file figures are
asserted, with their reasons, in test_kernel_check.py, test_moe_layer_check.py, test_attention_kernel_check.py and
test_all_reduce_check.py; here, that the report gathers those same figures and that the command refuses what it
does not take."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from genmodel.interfaces.cli import app
from genmodel.validation.kernel_checks import KERNEL_FILES, kernel_file, kernel_summary

runner = CliRunner()


def test_every_kernel_file_ships():
    for check in KERNEL_FILES:
        assert kernel_file(check).is_file()


def test_the_summary_holds_the_figures_of_each_check():
    # (rows, median signed %, median |error| %) with the physics defaults, as the per-file tests assert them
    expected = {"GEMM launches, dense": (49, -10.1, 19.0), "GEMM launches, grouped": (34, -2.6, 14.5),
                "MoE layers, hit experts in memory": (185, 0.2, 9.1),
                "MoE layers, hit experts in cache": (19, 76.1, 76.1),
                "attention, causal prompts": (21, 1.5, 15.0), "attention, decode": (47, -36.5, 43.4),
                "attention, verify steps": (4, 45.6, 45.6),
                "all-reduces, above 1 MiB": (86, -13.4, 14.5), "all-reduces, up to 1 MiB": (100, -35.7, 37.9)}
    summary = kernel_summary()
    assert set(summary) == set(expected)
    for label, (n, signed, spread) in expected.items():
        s = summary[label]
        assert s["n"] == n
        assert s["median_signed_error_pct"] == pytest.approx(signed, abs=0.1)
        assert s["median_abs_error_pct"] == pytest.approx(spread, abs=0.1)
        # (the verify calls are one source's: FlashMLA's two-query rows, tests/test_attention_kernel_check.py)
        assert 0.0 <= s["within_25pct"] <= 1.0 and s["sources"] >= (1 if label == "attention, verify steps" else 4)


def test_validate_kernels_prints_both_sets():
    result = runner.invoke(app, ["validate", "--kernels"])
    assert result.exit_code == 0, result.output
    assert "physics defaults:" in result.output and "fitted fractions of each device family:" in result.output
    assert re.search(r"MoE layers, hit experts in memory +n=185 +\+0\.2% +9\.1% +82% +11", result.output)


def test_validate_kernels_as_json():
    result = runner.invoke(app, ["validate", "--kernels", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data["kernels"]) == {"defaults", "calibrated"}
    assert data["kernels"]["defaults"]["attention, decode"]["n"] == 47


@pytest.mark.parametrize("extra", [["--calibrate"], ["--data", "x.csv"], ["--csv", "out.csv"]])
def test_validate_kernels_refuses_other_options(extra, tmp_path):
    result = runner.invoke(app, ["validate", "--kernels", *extra])
    assert result.exit_code == 2
    assert "--kernels reports the shipped kernel timings" in result.output
    assert not (tmp_path / "out.csv").exists()
