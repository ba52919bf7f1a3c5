"""Bad input to served traffic (``serve``, ``serve_disaggregated``, ``genmodel serve``), in the library and on the CLI.

The rule (tests/test_bad_inputs.py): bad input gets a clear error, never a traceback. In the library a bad argument
raises a ``genmodel.GenmodelError`` (``ConfigurationError`` for a bad value, ``InputTypeError`` for a wrong type)
whose ``argument`` is the argument's name and whose one-line message starts with it; no NumPy RuntimeWarning is
printed on the way, for any input. On the command line: one line ``error: ...`` naming the option (and a value in the
unit typed), exit status 2, nothing on stdout. The ranges are docs/serving.md section 9's. Each case below was a
traceback, a RuntimeWarning, a silently accepted value or a misleading message.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import genmodel
from genmodel.errors import ConfigurationError, DoesNotFitError, InputTypeError, UnknownNameError
from genmodel.interfaces.cli import main
from genmodel.serving.disaggregated import serve_disaggregated
from genmodel.serving.steady import finite_run_batch
from tests.refusals import cli_error
from tests.refusals import refused as _refused

DAY_S = 86_400.0
RATE = {"request_rate": 1.0}
DISAGG = {"request_rate": 2.0, "ttft_target_s": 1.0, "tpot_target_s": 0.05}


def _quiet(fn):
    """``fn()``'s result, with any RuntimeWarning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return fn()


def case(id, fn, argument, kind=ConfigurationError):
    return pytest.param(fn, argument, kind, id=id)


def serve(**kw):
    return lambda: genmodel.serve(**kw)


LIBRARY_CASES = [
    # yes/no arguments: True or False only (an empty array was numpy's "truth value is ambiguous"; 'abc', NaN and a
    # dict were taken as true)
    *(case(f"{name}={label}", serve(**RATE, **{name: value}), name, InputTypeError)
      for name in ("prefilled", "check_fit")
      for label, value in (("[]", np.array([])), ("abc", "abc"), ("nan", float("nan")), ("{}", {}), ("1", 1),
                           ("[True, False]", np.array([True, False])))),
    case("synchronized=[]", serve(concurrency=4, synchronized=np.array([])), "synchronized", InputTypeError),
    case("synchronized='yes'", serve(concurrency=4, synchronized="yes"), "synchronized", InputTypeError),
    # a run's length that does not broadcast with the rates (was numpy's "operands could not be broadcast")
    case("num_requests=[1,2,3] at 2 rates", serve(request_rate=[1.0, 2.0], num_requests=[1, 2, 3]), "num_requests"),
    case("num_requests=[10,20,30] for 2 clients", serve(concurrency=[4, 8], num_requests=[10, 20, 30]),
         "num_requests"),
    case("request_rate=[1,2] for 3 lengths", serve(request_rate=[1.0, 2.0], input_tokens=[128, 256, 512]),
         "request_rate"),
    case("host_link_bytes_per_s for 2 lengths", serve(**RATE, input_tokens=[128, 256], kv_offload="host",
                                                      host_link_bytes_per_s=[1e9, 2e9, 3e9]),
         "host_link_bytes_per_s"),
    # huge and tiny values that printed overflow warnings: refused, with their range
    case("request_rate=1e308", serve(request_rate=1e308), "request_rate"),
    case("request_rate=[1, 1e308]", serve(request_rate=[1.0, 1e308]), "request_rate"),
    case("request_rate=1e-308", serve(request_rate=1e-308), "request_rate"),
    case("request_rate=1e-308 on a B200", serve(request_rate=1e-308, hardware="b200"), "request_rate"),
    case("request_rate=1e-6 (below one a day)", serve(request_rate=1e-6), "request_rate"),
    case("request_rate=1e-308 with a run", serve(request_rate=1e-308, num_requests=10), "request_rate"),
    case("request_rate='inf'", serve(request_rate="inf"), "request_rate"),
    case("request_rate=inf", serve(request_rate=float("inf")), "request_rate"),
    # an infinite rate with a prompt count is that many sent at once to the server; its count is checked as a run's
    case("request_rate='inf' with 0 prompts", serve(request_rate="inf", num_requests=0), "num_requests"),
    case("request_rate='inf' with nan prompts", serve(request_rate="inf", num_requests=float("nan")), "num_requests"),
    case("request_rate=-inf with a run", serve(request_rate=-float("inf"), num_requests=10), "request_rate"),
    case("request_rate=[inf] with a run", serve(request_rate=[float("inf")], num_requests=10), "request_rate"),
    case("burstiness=1e-308", serve(**RATE, burstiness=1e-308), "burstiness"),
    case("burstiness=1e-4", serve(**RATE, burstiness=1e-4), "burstiness"),
    case("tpot_target_s=1e308", serve(**RATE, tpot_target_s=1e308), "tpot_target_s"),
    case("ttft_target_s=1e308", serve(**RATE, ttft_target_s=1e308), "ttft_target_s"),
    case("ttft_target_s=a day and a second", serve(**RATE, ttft_target_s=DAY_S + 1), "ttft_target_s"),
    # percentiles: 1 is a fraction of 100% or 1% (StatisticsError traceback before); from 1% to 99.999%
    case("percentile=1", serve(**RATE, percentile=1), "percentile"),
    case("percentile=1e-308", serve(**RATE, percentile=1e-308), "percentile"),
    case("percentile=100", serve(**RATE, percentile=100), "percentile"),
    # speculative decoding: each argument named (all were 'spec_acceptance'; a string length was a TypeError)
    case("spec_mean_length=nan", serve(**RATE, spec_tokens=3, spec_mean_length=float("nan")), "spec_mean_length"),
    case("spec_mean_length='abc'", serve(**RATE, spec_tokens=3, spec_mean_length="abc"), "spec_mean_length",
         InputTypeError),
    # the longest answer: a positive, finite, single number of tokens, at least the mean output
    case("max_output_tokens=100 (mean 256)", serve(**RATE, output_cv=1.0, max_output_tokens=100), "max_output_tokens"),
    case("max_output_tokens=nan", serve(**RATE, max_output_tokens=float("nan")), "max_output_tokens"),
    case("max_output_tokens=-3", serve(**RATE, max_output_tokens=-3), "max_output_tokens"),
    case("max_output_tokens=[500,600]", serve(**RATE, max_output_tokens=[500, 600]), "max_output_tokens"),
    case("max_output_tokens='long'", serve(**RATE, max_output_tokens="long"), "max_output_tokens", InputTypeError),
    case("spec_mean_length=[]", serve(**RATE, spec_tokens=3, spec_mean_length=np.array([])), "spec_mean_length"),
    case("spec_mean_length=[2,3]", serve(**RATE, spec_tokens=3, spec_mean_length=[2, 3]), "spec_mean_length"),
    case("spec_mean_length=5 (k + 1 = 4)", serve(**RATE, spec_tokens=3, spec_mean_length=5), "spec_mean_length"),
    case("spec_accepted_share=1.5", serve(**RATE, spec_tokens=3, spec_accepted_share=1.5), "spec_accepted_share"),
    case("spec_accepted_share=[]", serve(**RATE, spec_tokens=3, spec_accepted_share=np.array([])),
         "spec_accepted_share"),
    case("spec_acceptance 2-D", serve(**RATE, spec_tokens=2, spec_acceptance=np.full((2, 2), 0.5)),
         "spec_acceptance"),
    case("spec_acceptance and spec_mean_length", serve(**RATE, spec_tokens=3, spec_acceptance=0.5,
                                                       spec_mean_length=2), "spec_mean_length"),
    case("spec_mean_length without spec_tokens", serve(**RATE, spec_mean_length=2), "spec_tokens"),
    # an unknown draft model is the error, not the missing acceptance; named draft_model, not model
    case("draft_model='nope'", serve(**RATE, spec_tokens=3, draft_model="nope"), "draft_model", UnknownNameError),
    case("draft_model=3", serve(**RATE, spec_tokens=3, spec_acceptance=0.7, draft_model=3), "draft_model",
         InputTypeError),
    # the host link: a stated minimum (below it the streaming times overflowed) and maximum; host memory at most 1 EB
    case("host_link_bytes_per_s=1e-291", serve(**RATE, kv_offload="host", host_link_bytes_per_s=1e-291),
         "host_link_bytes_per_s"),
    case("host_link_bytes_per_s=1e5", serve(**RATE, kv_offload="cache", prefix_hit=0.5, host_link_bytes_per_s=1e5),
         "host_link_bytes_per_s"),
    case("host_link_bytes_per_s=1e308", serve(**RATE, kv_offload="host", host_link_bytes_per_s=1e308),
         "host_link_bytes_per_s"),
    case("host_memory_bytes=1e308", serve(**RATE, kv_offload="host", host_memory_bytes=1e308), "host_memory_bytes"),
    # disaggregated pools: the same ranges; layouts and the link checked by name
    case("disaggregated request_rate=1e308", lambda: serve_disaggregated(**{**DISAGG, "request_rate": 1e308}),
         "request_rate"),
    case("disaggregated tpot_target_s=1e308", lambda: serve_disaggregated(**{**DISAGG, "tpot_target_s": 1e308}),
         "tpot_target_s"),
    case("disaggregated percentile=1", lambda: serve_disaggregated(**DISAGG, percentile=1), "percentile"),
    case("disaggregated prefill tp 0", lambda: serve_disaggregated(**DISAGG, prefill={"tp": 0}), "prefill_tp"),
    case("disaggregated decode tp [1,2]", lambda: serve_disaggregated(**DISAGG, decode={"tp": [1, 2]}), "decode_tp"),
    case("disaggregated decode attention_dp 'yes'",
         lambda: serve_disaggregated(**DISAGG, decode={"attention_dp": "yes"}), "decode_attention_dp", InputTypeError),
    case("disaggregated colocated=0", lambda: serve_disaggregated(**DISAGG, colocated=0), "colocated",
         InputTypeError),
    case("disaggregated colocated=[]", lambda: serve_disaggregated(**DISAGG, colocated=np.array([])), "colocated",
         InputTypeError),
    case("disaggregated kv_link=[]", lambda: serve_disaggregated(**DISAGG, kv_link=[]), "kv_link", InputTypeError),
    case("disaggregated input_tokens=1e300", lambda: serve_disaggregated(**DISAGG, input_tokens=1e300),
         "input_tokens"),
]


@pytest.mark.parametrize("fn, argument, kind", LIBRARY_CASES)
def test_library_bad_input(fn, argument, kind):
    _refused(fn, argument, kind)


def test_range_messages_state_the_range():
    assert "one request a day to a billion a second" in str(_refused(serve(request_rate=1e308), "request_rate"))
    assert "at most a day" in str(_refused(serve(**RATE, tpot_target_s=1e308), "tpot_target_s"))
    assert "1 MB/s" in str(_refused(serve(**RATE, kv_offload="host", host_link_bytes_per_s=1.0),
                                    "host_link_bytes_per_s"))


def test_the_ends_of_the_ranges_run_without_warnings():
    """Every bound itself is served, with no RuntimeWarning, in each kind of load."""
    loads = [{"request_rate": 1 / DAY_S}, {"request_rate": 1e9}, {"request_rate": 1e9, "num_requests": 2**40},
             {"request_rate": 1 / DAY_S, "num_requests": 2**40}, {"concurrency": 2**32}, {"offline": 2**40},
             {"request_rate": "max"}]
    extremes = [{"burstiness": 1e-3, "input_cv": 10.0, "output_cv": 10.0}, {"burstiness": 1e3},
                {"ttft_target_s": DAY_S, "tpot_target_s": DAY_S, "percentile": 99.999},
                {"ttft_target_s": 1e-300, "tpot_target_s": 1e-300, "percentile": 0.01},
                {"kv_offload": "host", "host_link_bytes_per_s": 1e6, "host_memory_bytes": 1e18},
                {"kv_offload": "cache", "prefix_hit": 0.9, "host_link_bytes_per_s": 1e15}]
    for load in loads:
        for extreme in extremes:
            m = _quiet(lambda load=load, extreme=extreme: genmodel.serve(**load, **extreme)).metrics
            assert bool(m["fits"]), (load, extreme)
            assert not np.isnan(m["ttft_p99_s"]) and not np.isnan(m["tpot_p99_s"]), (load, extreme)


def test_a_configuration_that_does_not_fit_prints_no_warning():
    """DeepSeek-V3 on one H100 holds no request: infinite latencies and no RuntimeWarning (finite runs and cache-mode
    offload divided by its zero saturation rate)."""
    for kw in ({"request_rate": 5.0, "num_requests": 2}, {"request_rate": 1e9, "num_requests": 2**40},
               {"request_rate": 1.0, "kv_offload": "cache", "prefix_hit": 0.9},
               {"offline": 1, "kv_offload": "cache", "prefix_hit": 0.9},
               {"request_rate": "max", "kv_offload": "cache", "prefix_hit": 0.9}):
        m = _quiet(lambda kw=kw: genmodel.serve("deepseek-v3", "h100-sxm", **kw)).metrics
        assert not bool(m["fits"]) and float(m["max_request_rate_per_s"]) == 0.0, kw
        if kw.get("request_rate") != "max":  # (the saturated state's latencies leave out the queue: finite)
            assert np.isinf(m["ttft_p50_s"]) and np.isinf(m["ttft_mean_s"]), kw


def test_finite_run_batch_does_not_overflow_beside_an_empty_engine():
    out = _quiet(lambda: finite_run_batch(np.array([0.0, 3.0, 1e6]), 2.0**40))
    assert out[0] == 0.0 and out[1] == pytest.approx(3.0 * (1 - 3.0 / (3 * 2.0**40)))
    assert _quiet(lambda: finite_run_batch(1e6, 10.0)) == pytest.approx(10.0 * (1 - 10.0 / 3e6))


def test_run_lengths_may_be_an_array_at_a_rate():
    """num_requests=[a, b] at a rate: each element the single run's figures (was a broadcast ValueError)."""
    many = _quiet(lambda: genmodel.serve(request_rate=[5.0, 40.0], num_requests=[100, 1000])).metrics
    for i, (rate, n) in enumerate(((5.0, 100), (40.0, 1000))):
        one = genmodel.serve(request_rate=rate, num_requests=n).metrics
        for key in ("ttft_p99_s", "ttft_mean_s", "e2e_p50_s", "tpot_p99_s", "max_request_rate_per_s"):
            assert many[key][i] == pytest.approx(float(one[key]), rel=1e-12), key
    runs = genmodel.serve(request_rate=40.0, num_requests=[10, 1000]).metrics
    assert runs["ttft_p99_s"].shape == (2,) and runs["ttft_p99_s"][1] > runs["ttft_p99_s"][0]


def test_host_link_bandwidths_may_be_an_array():
    """host_link_bytes_per_s=[a, b] with the KV spilling into host memory: each element the single link's figures
    (was a broadcast ValueError)."""
    kw = {"concurrency": 1000, "kv_offload": "host"}
    many = _quiet(lambda: genmodel.serve(**kw, host_link_bytes_per_s=[1e9, 64e9])).metrics
    for i, bw in enumerate((1e9, 64e9)):
        one = genmodel.serve(**kw, host_link_bytes_per_s=bw).metrics
        for key in ("tpot_p99_s", "ttft_p99_s", "kv_host_bytes", "host_link_utilization"):
            assert many[key][i] == pytest.approx(float(one[key]), rel=1e-12), key
    assert many["tpot_p99_s"][0] > many["tpot_p99_s"][1]


def test_a_slow_host_link_costs_only_what_crosses_it():
    """At 1 MB/s (the slowest link taken) a light load keeps its KV in device memory: nothing crosses the link and
    the latencies are those without offload; clients whose KV spills into host memory wait for it to stream, hours
    per token (b bytes x the spilled tokens / 1 MB/s)."""
    light = _quiet(lambda: genmodel.serve(**RATE, kv_offload="host", host_link_bytes_per_s=1e6)).metrics
    alone = genmodel.serve(**RATE).metrics
    assert float(light["kv_host_bytes"]) == 0.0 and float(light["host_link_utilization"]) == 0.0
    assert float(light["tpot_p50_s"]) == pytest.approx(float(alone["tpot_p50_s"]), rel=0.01)
    heavy = _quiet(lambda: genmodel.serve(concurrency=1000, kv_offload="host", host_link_bytes_per_s=1e6)).metrics
    assert float(heavy["kv_host_bytes"]) > 2**30 and float(heavy["tpot_p50_s"]) > 3600.0


def test_percentiles_as_fractions_and_percents():
    a = genmodel.serve(**RATE, percentile=0.99999, ttft_target_s=1.0)
    b = genmodel.serve(**RATE, percentile=99.999, ttft_target_s=1.0)
    assert a.settings["percentile"] == pytest.approx(b.settings["percentile"]) == pytest.approx(0.99999)
    assert genmodel.serve(**RATE, percentile=0.01, ttft_target_s=1.0).settings["percentile"] == 0.01


def test_max_is_the_saturated_rate_in_any_case():
    assert genmodel.serve(request_rate=" MAX ").settings["mode"] == "max"


def test_the_room_message_names_the_token_budget_when_activations_fill_the_memory():
    """--max-batch-tokens 1e11 said the weights 'leave 0 GiB for the KV cache'; the activations of such a step
    fill the memory, and the message says so and what to lower."""
    with pytest.raises(DoesNotFitError) as info:
        genmodel.serve(**RATE, max_batch_tokens=10**11, check_fit=True)
    message = str(info.value)
    assert "GiB of activations for a step's 100,000,000,000 prompt tokens" in message
    assert "fewer tokens per step (--max-batch-tokens" in message
    # weights that do not fit are still the reason given where they are
    with pytest.raises(DoesNotFitError) as info:
        genmodel.serve("llama-3.1-70b", "h100-sxm", **RATE, check_fit=True)
    assert "fewer tokens per step" not in str(info.value) and "131 GiB of weights" in str(info.value)


# ---- the command line -------------------------------------------------------------------------------------------


DISAGG_CLI = ["--disaggregated", "--request-rate", "2", "--ttft-ms", "1000", "--tpot-ms", "50"]
CLI_CASES = [
    (["--request-rate", "1", "--ttft-ms", "1e308"], "--ttft-ms must be at most", "a day"),
    (["--request-rate", "1", "--tpot-ms", "1e11"], "--tpot-ms must be at most", "got 1e+11"),
    # the value in the unit typed (was 'got -0.005', in seconds)
    (["--request-rate", "1", "--tpot-ms", "-5"], "--tpot-ms must be a positive number", "got -5"),
    (["--request-rate", "inf"], "--request-rate must be a finite number", "inf"),
    (["--request-rate", "1e308"], "--request-rate must be at most", "a billion a second"),
    (["--request-rate", "1e-6"], "--request-rate must be at least", "one request a day"),
    (["--request-rate", "fast"], "--request-rate must be a number of requests/s or 'max'", "fast"),
    (["--request-rate", "1", "--burstiness", "1e-308"], "--burstiness must be at least 0.001", "1e-308"),
    (["--request-rate", "1", "--percentile", "1"], "--percentile", "either"),
    (["--request-rate", "1", "--spec-tokens", "3", "--spec-mean-length", "nan"], "--spec-mean-length", "nan"),
    (["--request-rate", "1", "--spec-tokens", "3", "--draft-model", "nope"], "--draft-model", "unknown model 'nope'"),
    (["--request-rate", "1", "--spec-tokens", "3", "--spec-acceptance", "0.5,x"], "--spec-acceptance must be",
     "0.5,x"),
    (["--offline", "10", "--output-cv", "1", "--max-output-tokens", "100"], "--max-output-tokens 100 is below the mean",
     "256"),
    (["--request-rate", "1", "--max-batch-tokens", "100000000000"], "GiB of activations", "--max-batch-tokens"),
    (["--request-rate", "1", "-H", "h100-sxm", "--kv-offload", "host", "--host-link-bandwidth", "1e-300 GB/s"],
     "--host-link-bandwidth must be at least 1 MB/s", "1e-300 GB/s"),
    (["--request-rate", "1", "--kv-offload", "host", "--host-memory", "1e308"], "--host-memory must be at most 1 EB",
     "1e308"),
    ([*DISAGG_CLI[:2], "1e308", *DISAGG_CLI[3:]], "--request-rate must be at most", "1e+308"),
    ([*DISAGG_CLI[:2], "inf", *DISAGG_CLI[3:]], "--request-rate must be a finite number", "inf"),
    ([*DISAGG_CLI[:4], "1e308", *DISAGG_CLI[5:]], "--ttft-ms must be at most", "a day"),
    ([*DISAGG_CLI, "--prefill-tp", "0"], "--prefill-tp must be at least 1", "got 0"),
    ([*DISAGG_CLI, "--decode-replicas", "0"], "--decode-replicas must be at least 1", "got 0"),
    ([*DISAGG_CLI, "--tp", "0"], "--tp must be at least 1", "got 0"),
    ([*DISAGG_CLI, "--kv-link", "nope"], "--kv-link must be one of", "nope"),
]


@pytest.mark.parametrize("argv, start, needle", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_bad_input(argv, start, needle, capsys):
    line = cli_error(["serve", *argv], capsys)
    assert start in line and needle in line, line
    assert "Traceback" not in line and len(line) < 600, line


def test_cli_max_stays_the_saturated_rate(capsys):
    assert main(["serve", "--request-rate", "max"]) == 0
    assert "saturated (as many requests as the engine admits)" in capsys.readouterr().out
