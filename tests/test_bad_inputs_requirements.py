"""Bad inputs to ``genmodel.requirements`` (genmodel/search/requirements.py), ``frontier`` and ``genmodel
requirements`` (docs/requirements.md, "Inputs").

The rule (genmodel/errors.py): a bad argument raises a ``GenmodelError`` subclass (``ConfigurationError`` for a bad
value, ``InputTypeError`` for a wrong type) whose ``argument`` is the argument's name and whose one-line message
starts with it; no numpy RuntimeWarning is printed on the way. On the command line: exactly one ``error:`` line that
starts with the option's name, exit status 2, nothing on stdout and no file written.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from genmodel.errors import ConfigurationError, GenmodelError, InputTypeError
from genmodel.interfaces.cli import main
from genmodel.search.requirements import frontier, requirements
from genmodel.specs.checks import MAX_TARGET_S

BASE = {"model": "llama-3.1-8b", "input_tokens": 1024, "output_tokens": 256, "ttft_target_s": 0.5,
        "tpot_target_s": 0.05}
GRID_2D = np.array([[1, 2], [3, 4]])


def solve(**changes):
    """``requirements`` with ``changes`` to BASE, any numpy RuntimeWarning raised as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return requirements(**{**BASE, **changes})


def refused(changes: dict, argument: str, cls: type[GenmodelError]) -> str:
    """Assert the rule for ``changes``; return the message."""
    with pytest.raises(GenmodelError) as info:
        solve(**changes)
    exc, message = info.value, str(info.value)
    assert isinstance(exc, cls), f"{type(exc).__name__}: {message}"
    assert exc.argument == argument, message
    assert message.startswith(argument), message
    assert "\n" not in message.strip(), message
    return message


# ---- library: token counts are whole numbers >= 1 (defect 1) --------------------------------------------------

@pytest.mark.parametrize("name", ["input_tokens", "output_tokens"])
@pytest.mark.parametrize("value, cls", [
    ("abc", InputTypeError), ({}, InputTypeError), (1j, InputTypeError), (True, InputTypeError),
    ([1, "a"], InputTypeError), (1.5, ConfigurationError), (1024.7, ConfigurationError),
    (0, ConfigurationError), (-3, ConfigurationError), (float("nan"), ConfigurationError),
    (float("inf"), ConfigurationError), (np.array([]), ConfigurationError), (2.0**41, ConfigurationError),
], ids=["str", "dict", "complex", "bool", "mixed-list", "1.5", "1024.7", "0", "negative", "nan", "inf", "empty",
        "2**41"])
def test_token_counts_must_be_whole_numbers(name, value, cls):
    message = refused({name: value}, name, cls)
    if isinstance(value, float) and value in (1.5, 1024.7):  # refused, not rounded to 2 or 1025
        assert "whole" in message


def test_whole_token_counts_as_floats_and_arrays_still_work():
    r = solve(input_tokens=1024.0, output_tokens=np.array([128, 256]))
    assert r.settings["input_tokens"] == 1024 and list(r.settings["output_tokens"]) == [128, 256]


# ---- library: compare is one name or a list of names (defect 2) -----------------------------------------------

def test_one_string_is_one_compared_device():
    r = solve(compare="h100-sxm")
    assert list(r.compare) == ["h100-sxm"]


@pytest.mark.parametrize("value, cls", [
    (3, InputTypeError), (None, InputTypeError), (2.5, InputTypeError), ({}, InputTypeError),
    (np.array([]), InputTypeError), ([1, 2], InputTypeError), ("", ConfigurationError), (" ", ConfigurationError),
    (",", ConfigurationError), (["h100-sxm", ""], ConfigurationError), (["b200", "b200"], ConfigurationError),
    ("h1000", ConfigurationError),
], ids=["int", "None", "float", "dict", "empty-array", "numbers", "empty", "blank", "comma", "empty-item",
        "twice", "unknown"])
def test_bad_compare_is_refused(value, cls):
    refused({"compare": value}, "compare", cls)


@pytest.mark.parametrize("value", [(), []], ids=["tuple", "list"])
def test_an_empty_list_compares_nothing(value):
    assert solve(compare=value).compare == {}


# ---- library: yes/no arguments and names refuse arrays (defect 3) ------------------------------------------------

@pytest.mark.parametrize("name", ["calibrated", "attention_dp"])
@pytest.mark.parametrize("value", [np.array([]), np.array([True, False]), GRID_2D, 0, 1, "yes", None],
                         ids=["empty-array", "bool-array", "2d", "0", "1", "str", "None"])
def test_flags_are_true_or_false(name, value):
    refused({name: value}, name, InputTypeError)


@pytest.mark.parametrize("value", [np.array([]), GRID_2D, np.array(["vllm"]), 3, ["vllm"], True],
                         ids=["empty-array", "2d", "str-array", "int", "list", "bool"])
def test_engine_is_a_name(value):
    refused({"engine": value}, "engine", InputTypeError)


@pytest.mark.parametrize("value", [np.array([]), 3, ["h200-sxm"], None], ids=["empty-array", "int", "list", "None"])
def test_reference_is_a_name(value):
    refused({"reference": value}, "reference", InputTypeError)


def test_an_unknown_reference_names_the_argument_first():
    assert "h1000" in refused({"reference": "h1000"}, "reference", ConfigurationError)


# ---- library: the layout is one whole number per degree (defect 4) ---------------------------------------------

@pytest.mark.parametrize("name", ["tp", "pp", "ep", "dp", "cp"])
@pytest.mark.parametrize("value, cls", [
    (GRID_2D, ConfigurationError), ([1, 2], ConfigurationError), (np.array([]), ConfigurationError),
    (1.5, ConfigurationError), (0, ConfigurationError), (float("nan"), ConfigurationError),
    (2.0**30, ConfigurationError), ("2", InputTypeError), (None, InputTypeError), (True, InputTypeError),
], ids=["2d", "list", "empty", "1.5", "0", "nan", "huge", "str", "None", "bool"])
def test_parallel_degrees_are_single_whole_numbers(name, value, cls):
    refused({name: value}, name, cls)


# ---- library: targets and rates within a physically meaningful range (defect 5) --------------------------------

@pytest.mark.parametrize("name", ["ttft_target_s", "tpot_target_s"])
@pytest.mark.parametrize("value", [1e308, MAX_TARGET_S * 1.001, [0.5, 1e300]], ids=["1e308", "a day and more",
                                                                                     "array"])
def test_targets_are_at_most_a_day(name, value):
    message = refused({name: value}, name, ConfigurationError)
    assert "day" in message and "86,400" in message


def test_loose_targets_up_to_a_day_are_solved():
    # at a day the floors are tiny fractions of the reference (below the what-if scales the forward model takes,
    # which leaked 'flops_scale must be at least 1e-06'); looser targets never need more
    day = solve(ttft_target_s=MAX_TARGET_S, tpot_target_s=MAX_TARGET_S)
    hour = solve(ttft_target_s=3600.0, tpot_target_s=3600.0)
    for key in ("flops_per_s", "memory_bandwidth_bytes_per_s"):
        d, h = float(day.realistic[key]), float(hour.realistic[key])
        assert 0 < d <= h and np.isfinite(h), key
    assert np.isfinite(float(day.scaled["scale_factor"]))


@pytest.mark.parametrize("rate", [1e-308, 1.0 / 86_400 / 2, 2e9, 1e308], ids=["1e-308", "half a day",
                                                                              "2e9", "1e308"])
def test_request_rate_from_one_a_day_to_a_billion_a_second(rate):
    message = refused({"request_rate": rate}, "request_rate", ConfigurationError)
    assert "one request a day" in message and "a billion a second" in message


def test_a_request_a_day_is_served():
    r = solve(request_rate=1.0 / 86_400)
    assert r.settings["request_rate_per_s"] == pytest.approx(1.0 / 86_400)


@pytest.mark.parametrize("value, cls", [
    (1.0, ConfigurationError), (1e-308, ConfigurationError), (100.0, ConfigurationError), (np.array([]),
                                                                                            ConfigurationError),
    ([90, 99], ConfigurationError), ("99", InputTypeError), (True, InputTypeError),
], ids=["1-ambiguous", "tiny", "100", "empty", "list", "str", "bool"])
def test_percentile_under_a_rate(value, cls):
    refused({"request_rate": 2.0, "percentile": value}, "percentile", cls)


# ---- library: a static batch or a rate, not both (defect 7) -----------------------------------------------------

def test_batch_and_request_rate_are_not_both_taken():
    message = refused({"batch": 4, "request_rate": 2.0}, "batch", ConfigurationError)
    assert "request rate" in message
    refused({"batch": 4, "request_rate": 2.0, "use_case": "chat"}, "batch", ConfigurationError)


def test_a_batch_turns_a_rate_use_case_into_a_static_batch():
    r = requirements("llama-3.1-8b", use_case="chat", batch=4)
    assert r.settings["batch"] == 4 and r.settings["request_rate_per_s"] is None


def test_a_percentile_needs_a_rate():
    refused({"percentile": 99}, "percentile", ConfigurationError)
    refused({"percentile": 99, "batch": 4}, "percentile", ConfigurationError)


def test_samples_per_prompt_under_a_rate_is_refused_by_name():
    refused({"samples_per_prompt": 2, "request_rate": 2.0}, "samples_per_prompt", ConfigurationError)


def test_the_engine_batch_bounds_batch_times_samples():
    # batch x samples_per_prompt sequences decode together: at most 2**32, so 2**22 with 1,024 samples per prompt
    message = refused({"batch": 2**22 + 1, "samples_per_prompt": 1024}, "batch", ConfigurationError)
    assert "4,194,304" in message


@pytest.mark.parametrize("name", ["batch", "samples_per_prompt", "devices"])
@pytest.mark.parametrize("value, cls", [
    (float("nan"), ConfigurationError), (0, ConfigurationError), (1.5, ConfigurationError), ("4", InputTypeError),
    (True, InputTypeError), (np.array([]), ConfigurationError),
], ids=["nan", "0", "1.5", "str", "bool", "empty"])
def test_counts(name, value, cls):
    refused({name: value}, name, cls)


# ---- library: a device count searches the split ------------------------------------------------------------------

@pytest.mark.parametrize("given", [{"tp": 2}, {"pp": 2}, {"cp": 2}, {"attention_dp": True}],
                         ids=["tp", "pp", "cp", "attention_dp"])
def test_devices_with_a_split_is_refused(given):
    message = refused({"devices": 4, **given}, "devices", ConfigurationError)
    assert next(iter(given)) in message


def test_devices_with_replicas_searches_one_replica_and_keeps_the_replicas():
    one = solve(devices=2)
    two = solve(devices=2, dp=2)
    assert two.settings["layout"]["dp"] == 2 and two.devices == 2 * one.devices
    same = solve(**two.settings["layout"])  # the chosen split, given: the same answer
    assert float(same.scaled["scale_factor"]) == pytest.approx(float(two.scaled["scale_factor"]), rel=1e-9)


# ---- frontier ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def result():
    return requirements(**BASE)


@pytest.mark.parametrize("kwargs, argument, cls", [
    ({"x": "watts"}, "x", ConfigurationError), ({"x": ["flops"]}, "x", InputTypeError),
    ({"y": np.array([])}, "y", InputTypeError), ({"x": "flops", "y": "flops"}, "y", ConfigurationError),
    ({"points": 0}, "points", ConfigurationError), ({"points": 2.5}, "points", ConfigurationError),
    ({"points": 10**6}, "points", ConfigurationError), ({"points": "8"}, "points", InputTypeError),
], ids=["unknown-x", "list-x", "array-y", "same", "0-points", "2.5-points", "many-points", "str-points"])
def test_frontier_arguments(result, kwargs, argument, cls):
    with pytest.raises(cls) as info:
        frontier(result, **kwargs)
    assert info.value.argument == argument and str(info.value).startswith(argument)


def test_frontier_needs_a_result():
    with pytest.raises(InputTypeError) as info:
        frontier({}, "flops", "bandwidth")
    assert info.value.argument == "result"


def test_frontier_of_loose_targets_stays_within_the_what_if_scales():
    r = solve(ttft_target_s=MAX_TARGET_S, tpot_target_s=MAX_TARGET_S)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        pairs = frontier(r, "flops", "bandwidth", points=4)
    assert np.all(pairs["flops_per_s"] > 0) and np.all(np.isfinite(pairs["memory_bandwidth_bytes_per_s"]))


# ---- command line (defects 2, 6, 7) -----------------------------------------------------------------------------

CLI_BASE = ["requirements", "--input-tokens", "1024", "--output-tokens", "256"]


@pytest.mark.parametrize("args, option, needle", [
    (["--ttft-ms", "500", "--compare", ""], "--compare", "empty"),
    (["--ttft-ms", "500", "--compare", ","], "--compare", "empty"),
    (["--ttft-ms", "500", "--compare", "h100-sxm,,b200"], "--compare", "empty"),
    (["--ttft-ms", "500", "--compare", "b200,b200"], "--compare", "twice"),
    (["--ttft-ms", "1e308"], "--ttft-ms", "a day"),
    (["--ttft-ms", "86400001"], "--ttft-ms", "a day"),
    (["--ttft-ms", "500", "--tpot-ms", "1e308"], "--tpot-ms", "a day"),
    (["--ttft-ms", "nan"], "--ttft-ms", "positive"),
    (["--use-case", "chat", "--batch", "4", "--request-rate", "2"], "--batch", "request rate"),
    (["--ttft-ms", "500", "--batch", "4", "--percentile", "99"], "--percentile", "request rate"),
    (["--ttft-ms", "500", "--request-rate", "1e-308"], "--request-rate", "one request a day"),
    (["--ttft-ms", "500", "--request-rate", "1e308"], "--request-rate", "a billion a second"),
    (["--ttft-ms", "500", "--request-rate", "2", "--percentile", "1"], "--percentile", "1"),
    (["--ttft-ms", "500", "--devices", "4", "--pp", "2"], "--devices", "pp"),
    (["--ttft-ms", "500", "--pp", "0"], "--pp", "at least 1"),
    (["--ttft-ms", "500", "--reference", "h1000"], "--reference", "h1000"),
    (["--output-tokens", "1"], "error: give a target", "--ttft-ms"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_cli_bad_input_is_one_line_naming_the_option(args, option, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "frontier.csv"
    argv = [*CLI_BASE, *args, "--csv", str(csv)]
    if "--output-tokens" in args:  # (given once: a repeated option is refused before anything else)
        argv = ["requirements", "--input-tokens", "1024", *args, "--csv", str(csv)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    prefix = option if option.startswith("error:") else f"error: {option}"
    assert lines[0].startswith(prefix) and needle in lines[0], lines[0]
    assert not out.strip() and not any(tmp_path.iterdir())


def test_cli_a_batch_with_a_rate_use_case_is_a_static_batch(capsys):
    assert main(["requirements", "--use-case", "chat", "--batch", "4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["batch"] == 4 and d["request_rate_per_s"] is None
