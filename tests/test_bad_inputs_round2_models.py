"""Bad inputs, round 2: synthetic models (huge numbers, the rule's own messages), disaggregated serving (unknown
keywords, the pool option named, replica bounds, a model that does not fit) and use-case files checked on load."""

from __future__ import annotations

import pytest
import yaml

import genmodel
from genmodel.errors import ConfigurationError, DoesNotFitError, InputTypeError
from genmodel.serving.disaggregated import serve_disaggregated
from tests.refusals import cli_error as _cli_error
from tests.refusals import refused


def _refused(fn, argument, kind=ConfigurationError) -> str:
    """The message of ``tests.refusals.refused``."""
    return str(refused(fn, argument, kind))

HUGE = "9" * 400


# ---- synthetic models ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "argument"), [
    ({"total_params": 10**400}, "total_params"),
    ({"total_params": 1e12, "active_params": 10**400}, "active_params"),
    ({"total_params": 7e10, "linear_attention_share": 0.5, "window_tokens": 10**400}, "window_tokens"),
    ({"total_params": 7e10, "linear_attention_share": 0.5, "window_tokens": 2**70}, "window_tokens"),
    ({"total_params": 7e10, "max_context_tokens": 10**400}, "max_context_tokens"),
    ({"total_params": 7e10, "max_context_tokens": 2**41}, "max_context_tokens"),
    ({"total_params": 7e10, "name": "a\x00b"}, "name"),
], ids=["total-huge", "active-huge", "window-huge", "window-past-spec", "context-huge", "context-past-spec",
        "name-nul"])
def test_synthetic_huge_and_bad_values_name_the_argument(kwargs, argument):
    message = _refused(lambda: genmodel.synthetic_model(**kwargs), argument)
    assert "ModelSpec" not in message, message


def test_synthetic_wrong_types_are_input_type_errors():
    _refused(lambda: genmodel.synthetic_model(7e10, max_context_tokens="x"), "max_context_tokens", InputTypeError)
    _refused(lambda: genmodel.synthetic_model(7e10, name=5), "name", InputTypeError)


def test_too_sparse_an_moe_gets_the_rules_message_not_the_specs():
    message = _refused(lambda: genmodel.synthetic_model(1e15, 1e9), "active_params")
    assert "too small a share" in message and "routed experts" in message and "num_experts" not in message


def test_a_whole_float_window_is_a_window():
    spec = genmodel.synthetic_model(7e10, linear_attention_share=0.5, window_tokens=4096.0)
    assert spec.attention.window_tokens == 4096 and spec.name.endswith("-w4096")


@pytest.mark.parametrize(("name", "needle"), [
    (f"synthetic:dense-70b-hybrid50-w{HUGE}", "too large a number for the window"),
    (f"synthetic:moe-1t-a{HUGE}", "too large a number for the active parameters"),
    (f"synthetic:dense-{HUGE}", "is too large (at most 1000t parameters)"),
    (f"synthetic:dense-70b-hybrid{HUGE}", "too large a number for the linear-attention share"),
    ("synthetic:moe-1000t-a1b", "too small a share"),
    ("synthetic:moe-1t-a32b-gqa-mla", "'mla' conflicts with 'gqa'"),
    ("synthetic:moe-1t-a32b-mla-mla", "'mla' repeats an option"),
], ids=["window", "active", "total", "hybrid", "too-sparse", "conflict", "repeat"])
def test_synthetic_names_say_what_is_wrong(name, needle):
    with pytest.raises(ConfigurationError) as info:
        genmodel.get_model(name)
    message = str(info.value)
    assert info.value.argument == "model" and message.startswith("synthetic model name "), message
    assert needle in message and "inft" not in message and "(inf" not in message, message
    assert "num_experts" not in message


def test_a_huge_synthetic_name_is_one_error_line_on_the_cli(capsys):
    line = _cli_error(["estimate", "-m", f"synthetic:dense-70b-hybrid50-w{HUGE}", "-H", "h100-sxm"], capsys)
    assert "too large a number for the window" in line
    line = _cli_error(["estimate", "-m", "synthetic:moe-1000t-a1b", "-H", "h100-sxm"], capsys)
    assert "too small a share" in line and "num_experts" not in line


def test_a_huge_synthetic_name_in_a_sweep_spec_is_refused(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "t", "models": [f"synthetic:dense-70b-hybrid50-w{HUGE}"],
                                    "hardware": ["h100-sxm"], "batch": [1], "metrics": ["ttft_s"]}))
    line = _cli_error(["sweep", str(spec)], capsys)
    assert "s.yaml" in line and "too large a number for the window" in line


# ---- disaggregated serving ----------------------------------------------------------------------------------------

BASE = {"model": "llama-3.1-70b", "hardware": "h100-sxm", "request_rate": 5.0, "ttft_target_s": 1.0,
        "tpot_target_s": 0.05}
TP4 = {"prefill": {"tp": 4}, "decode": {"tp": 4}}


def test_an_unknown_keyword_is_refused_by_name():
    message = _refused(lambda: serve_disaggregated(**BASE, **TP4, foo=1), "foo", InputTypeError)
    assert "serve_disaggregated" in message and "unexpected keyword" not in message


def test_a_known_serve_option_still_passes():
    result = serve_disaggregated(**BASE, **TP4, input_cv=0.5, check_fit=True)
    assert result.metrics["decode_replicas"] >= 1


@pytest.mark.parametrize(("layouts", "argument"), [
    ({"prefill": {"tp": 4}, "decode": {"tp": 4, "ep": 2}}, "decode_ep"),
    ({"prefill": {"tp": 3}, "decode": {"tp": 4}}, "prefill_tp"),
    ({"prefill": {"tp": 4}, "decode": {"tp": 4}, "colocated": {"tp": 3}}, "colocated_tp"),
], ids=["decode-ep", "prefill-tp", "colocated-tp"])
def test_a_pool_layout_error_names_the_pools_degree(layouts, argument):
    _refused(lambda: serve_disaggregated(**BASE, **layouts), argument)


def test_a_rate_past_the_replica_bound_names_the_rate():
    message = _refused(lambda: serve_disaggregated(**{**BASE, "request_rate": 1e9}, **TP4), "request_rate")
    assert "decode replicas" in message and "1,048,576" in message and "dp" not in message.split()


def test_a_model_that_does_not_fit_one_replica_says_so():
    message = _refused(lambda: serve_disaggregated(**BASE), None, DoesNotFitError)
    assert "cannot serve one request" in message and "TPOT" not in message


@pytest.mark.parametrize(("extra", "start"), [
    (["--request-rate", "1e9", "--tp", "4"], "error: --request-rate 1e+09 requests/s needs"),
    (["--request-rate", "5", "--tp", "4", "--decode-ep", "2"], "error: --decode-ep 2 "),
    (["--request-rate", "5", "--tp", "4", "--prefill-tp", "3"], "error: --prefill-tp 3 "),
    (["--request-rate", "5", "--tp", "4", "--ep", "2"], "error: --ep 2 "),
    (["--request-rate", "5"], "error: the decode pool: llama-3.1-70b cannot serve one request"),
], ids=["rate", "decode-ep", "prefill-tp", "colocated-ep", "does-not-fit"])
def test_cli_disaggregated_names_the_option_given(extra, start, capsys):
    line = _cli_error(["serve", "-m", "llama-3.1-70b", "-H", "h100-sxm", "--disaggregated", "--ttft-ms", "1000",
                       "--tpot-ms", "50", *extra], capsys)
    assert line.startswith(start), line
    assert "--dp" not in line
