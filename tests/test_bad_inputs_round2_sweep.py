"""Round 2 of bad inputs: sweep specs (huge axes, histogram ranges, misnamed fields), the size bound of a sweep on
this machine, the dashboard's chart helpers, and two outputs given one path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import genmodel
from genmodel.errors import ConfigurationError, GenmodelError, InputTypeError, SpecError
from genmodel.interfaces import charts
from genmodel.search.sweep import plan, sweep

SMALL = {"models": ["llama-3.1-8b"], "hardware": ["h100-sxm"], "batch": [1, 8], "metrics": ["ttft_s", "tpot_s"]}


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    code = "import sys; from genmodel.interfaces.cli import _entry; sys.argv[0] = 'genmodel'; _entry()"
    return subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code, *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env=env)


@pytest.mark.parametrize("change, needle", [
    ({"batch": [10**400]}, "batch: values must be in [1, 4,294,967,296], got a 401-digit number"),
    ({"batch": [2**70]}, "batch: values must be in [1, 4,294,967,296], got 1.18059e+21"),
    ({"input_tokens": [2**64]}, "input_tokens: values must be in [1, 1,099,511,627,776]"),
    ({"batch": {"start": 1, "stop": 1e308, "num": 5, "spacing": "log"}},
     "batch: values must be in [1, 4,294,967,296], got 1e+77"),
    ({"output_tokens": {"start": 1, "stop": 1e300, "num": 3}}, "output_tokens: values must be in [1,"),
    ({"reduce": {"histogram": [{"metric": "tpot_s", "range": [-1e308, 1e308], "bins": 3}]}},
     "range: [-1e+308, 1e+308] is too wide for linear bins"),
    ({"reduce": {"histogram": [{"metric": "tpot_s", "range": [1.0, 1.0 + 1e-15], "bins": 1000}]}},
     "is too narrow for 1,000 bins"),
])
def test_sweep_spec_values_out_of_range_are_refused_with_the_range(change, needle):
    with pytest.raises(SpecError) as err:
        plan({**SMALL, **change})
    assert needle in str(err.value)
    assert "-9.22" not in str(err.value)  # no int64 wrap-around shown


def test_histogram_with_wide_log_range_still_works():
    result = sweep({**SMALL, "rows": False,
                    "reduce": {"histogram": [{"metric": "tpot_s", "range": [1e-300, 1e300], "spacing": "log"}]}})
    assert int(result.histograms[0]["counts"].sum()) == 2


@pytest.mark.parametrize("reduce, field", [
    ({"top_k": [{"metric": "tpot_s", "where": "nope"}]}, "reduce.top_k.0.where: 'nope' is not a true/false column"),
    ({"pareto": [{"x": "tpot_s", "y": "ttft_s", "where": "nope"}]}, "reduce.pareto.0.where: 'nope'"),
    ({"histogram": [{"metric": "nope", "range": [0, 1]}]}, "reduce.histogram.0.metric: 'nope' is not a metric"),
    ({"pareto": [{"x": "tpot_s", "y": "nope"}]}, "reduce.pareto.0.y: 'nope' is not a metric"),
])
def test_reduction_errors_name_the_field_at_fault(reduce, field):
    with pytest.raises(SpecError) as err:
        plan({**SMALL, "reduce": reduce})
    assert field in str(err.value)
    assert "metrics:" not in str(err.value)


HUGE = {"models": ["llama-3.1-8b"], "hardware": ["h100-sxm"], "metrics": ["tpot_s"],
        "batch": {"start": 1, "stop": 4096, "num": 4096},
        "input_tokens": {"start": 1, "stop": 100000, "num": 100000},
        "output_tokens": {"start": 1, "stop": 100000, "num": 100000}}


@pytest.mark.parametrize("rows", [False, True])
def test_sweep_too_large_for_this_machine_is_refused_before_it_runs(rows):
    with pytest.raises(ConfigurationError) as err:
        sweep({**HUGE, "rows": rows, "reduce": {"top_k": [{"metric": "tpot_s"}]}}, rows=rows)
    message = str(err.value)
    assert message.startswith(("scheduler:", "out:")), message
    if not rows:
        assert "40,960,000,000,000 configurations are too many for this machine" in message
        assert "years" in message


def test_cli_sweep_too_large_without_out_is_refused(tmp_path):
    import yaml

    spec = tmp_path / "big.yaml"
    spec.write_text(yaml.safe_dump(HUGE))
    done = _cli("sweep", str(spec), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --scheduler: 40,960,000,000,000 configurations are too many")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["batch-huge", "hist-range-huge", "batch-range-huge"])
def test_cli_sweep_bad_specs_give_one_error_line(tmp_path, name):
    import yaml

    specs = {"batch-huge": {**SMALL, "batch": [10**400]},
             "hist-range-huge": {**SMALL, "reduce": {"histogram": [{"metric": "tpot_s", "range": [-1e308, 1e308]}]}},
             "batch-range-huge": {**SMALL, "batch": {"start": 1, "stop": 1e308, "num": 5, "spacing": "log"}}}
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(yaml.safe_dump(specs[name], width=10_000))
    done = _cli("sweep", str(spec), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


# ---- charts -------------------------------------------------------------------------------------------------
SERVE_KW = {"model": "llama-3.1-8b", "hardware": "h100-sxm"}
REQ_KW = {"model": "llama-3.1-8b", "input_tokens": 1024, "output_tokens": 256, "ttft_target_s": 0.5,
          "tpot_target_s": 0.05}


@pytest.fixture(scope="module")
def result():
    return genmodel.estimate("llama-3.1-8b", "h100-sxm")


def _refused(call, argument, kind=GenmodelError):
    with pytest.raises(kind) as err:
        call()
    assert err.value.argument == argument, (err.value.argument, str(err.value))
    assert str(err.value).startswith(argument), str(err.value)
    return err.value


@pytest.mark.parametrize("serve_kw, kind", [(None, InputTypeError), ("x", InputTypeError), ([], InputTypeError),
                                            ({"request_rate": 5}, ConfigurationError),
                                            ({"foo": 1}, ConfigurationError)])
def test_serve_keywords_are_checked(serve_kw, kind):
    _refused(lambda: charts.load_curves(serve_kw, max_rate_per_s=5), "serve_kw", kind)
    _refused(lambda: charts.saturation_rate(serve_kw), "serve_kw", kind)


@pytest.mark.parametrize("kw, argument", [
    ({"max_rate_per_s": [5, 6]}, "max_rate_per_s"), ({"max_rate_per_s": float("nan")}, "max_rate_per_s"),
    ({"max_rate_per_s": 5, "points": -1}, "points"), ({"max_rate_per_s": 5, "points": 2.5}, "points"),
    ({"max_rate_per_s": 5, "points": 10**6}, "points"), ({"max_rate_per_s": 5, "low": 0.9, "high": 0.1}, "low"),
    ({"max_rate_per_s": 5, "high": 2.0}, "high"), ({"max_rate_per_s": 5, "low": 0}, "low"),
])
def test_load_curves_arguments_are_checked(kw, argument):
    _refused(lambda: charts.load_curves(SERVE_KW, **kw), argument, ConfigurationError)


@pytest.mark.parametrize("axis, values, argument", [
    ("batch", [np.nan], "batch"), ("batch", "abc", "batch"), ("nope", [1], "axis"), ("batch", [1.5], "batch"),
    ("batch", [0], "batch"), ("input_tokens", [10**7], "input_tokens"), ("batch", None, "batch"),
])
def test_chart_sweep_values_are_checked(result, axis, values, argument):
    _refused(lambda: charts.sweep(result, axis, values), argument)


def test_chart_sweep_still_runs(result):
    table = charts.sweep(result, "batch", [1, 2, 4])
    assert list(table["batch"]) == [1, 2, 4]
    with pytest.raises(InputTypeError):
        charts.sweep("not an estimate", "batch", [1])


@pytest.mark.parametrize("kw, argument", [({"points": -1}, "points"), ({"points": 2.5}, "points"),
                                          ({"points": 10**6}, "points"), ({"start": 0}, "start"),
                                          ({"start": -5}, "start")])
def test_context_values_arguments_are_checked(result, kw, argument):
    _refused(lambda: charts.context_values(result, **kw), argument, ConfigurationError)


@pytest.mark.parametrize("metric, change, argument", [("nope", 0.2, "metric"), ("fits", 0.2, "metric"),
                                                      ("tpot_s", 1.0, "change"), ("tpot_s", -0.1, "change"),
                                                      ("tpot_s", float("nan"), "change")])
def test_sensitivity_arguments_are_checked(result, metric, change, argument):
    _refused(lambda: charts.sensitivity(result, metric, change), argument)


@pytest.mark.parametrize("call, argument", [
    (lambda: charts.requirement_vs_target(REQ_KW, points=-3), "points"),
    (lambda: charts.requirement_vs_target(REQ_KW, values="x"), "values"),
    (lambda: charts.requirement_vs_target(REQ_KW, values=[np.inf]), "values"),
    (lambda: charts.requirement_vs_target(REQ_KW, target=["tpot"]), "target"),
    (lambda: charts.requirement_vs_target(None), "req_kw"),
    (lambda: charts.interconnect_vs_tp(REQ_KW, tp_values="x"), "tp_values"),
    (lambda: charts.interconnect_vs_tp(REQ_KW, tp_values=[1.5]), "tp_values"),
    (lambda: charts.capacity_vs_context(REQ_KW, batches=[1.5]), "batches"),
    (lambda: charts.capacity_vs_context(REQ_KW, input_tokens=[0]), "input_tokens"),
    (lambda: charts.capacity_vs_context(REQ_KW, points=0), "points"),
    (lambda: charts.device_resources(["h100-sxm"], "fp3"), "compute_dtype"),
    (lambda: charts.device_resources(None), "names"),
    (lambda: charts.serving_effects(SERVE_KW, float("nan")), "rate_per_s"),
])
def test_requirement_chart_arguments_are_checked(call, argument):
    _refused(call, argument)


# ---- two outputs, one path ----------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("plan", "--csv", "p.csv", "--html", "p.csv"),
    ("plan", "--csv", "p.csv", "--html", "./p.csv"),
    ("requirements", "--model", "llama-3.1-8b", "--tpot-ms", "50", "--html", "r.html", "--csv", "r.html"),
])
def test_one_path_for_two_outputs_is_refused(tmp_path, args):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: --csv and --html name the same file "), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_one_existing_file_under_two_names_is_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "p.csv").write_text("keep")
    done = _cli("plan", "--csv", "p.csv", "--html", "sub/../p.csv", cwd=tmp_path)
    assert done.returncode == 2 and "name the same file" in done.stderr
    assert (tmp_path / "p.csv").read_text() == "keep"
