"""Bad input gets one clear error; the CLI exits non-zero with one readable line."""

import json

import pytest

import genmodel
from genmodel.errors import ConfigurationError, UnknownNameError
from genmodel.interfaces.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_unknown_names_suggest_closest():
    with pytest.raises(UnknownNameError, match=r"llama-3\.1-70b"):
        genmodel.get_model("llama3.1-70b")
    with pytest.raises(UnknownNameError, match="h100-sxm"):
        genmodel.get_hardware("h100 sxm")


def test_an_unknown_name_taken_from_a_numpy_array_reads_as_its_text():
    # a name picked out of an array of names is NumPy's str_ (a str subclass), whose repr is "np.str_('...')": the
    # message shows the text a user typed, as for a plain string
    import numpy as np

    name = np.array(["gemma-2-9b", "llama-3.1-8b"])[0]
    with pytest.raises(UnknownNameError) as caught:
        genmodel.get_model(name)
    assert "unknown model 'gemma-2-9b'" in str(caught.value) and "np.str_" not in str(caught.value)
    assert genmodel.get_model(np.array(["llama-3.1-8b"])[0]).name == "llama-3.1-8b"  # (a known one resolves)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch": 0}, "batch must be at least 1"),
    ({"input_tokens": -5}, "input_tokens must be at least 1"),
    ({"output_tokens": 2.5}, "whole number"),
    ({"weight_dtype": "fp7"}, "weight_dtype 'fp7' is not a datatype genmodel knows"),
    ({"bandwidth_scale": -1.0}, "bandwidth_scale must be at least 1e-06"),
])
def test_bad_inputs(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        genmodel.estimate("llama-3.1-8b", "h100-sxm", **kwargs)


def test_unsupported_dtype_names_the_choices():
    # A100 has no fp8 tensor cores: fp8 activations cannot run; fp8 weights with bf16 activations can.
    with pytest.raises(ConfigurationError, match=r"a100-80gb-sxm has no fp8 throughput.*--activation-dtype"):
        genmodel.estimate("llama-3.1-8b", "a100-80gb-sxm", weight_dtype="fp8", activation_dtype="fp8")
    ok = genmodel.estimate("llama-3.1-8b", "a100-80gb-sxm", weight_dtype="fp8")
    assert ok.dtypes.activation == "bf16"


def test_cli_default_estimate_runs(capsys):
    code, out, err = run(capsys, "estimate")
    assert code == 0 and err == ""
    assert "Llama-3.1-8B" in out and "TTFT" in out and "ms" in out and "fits" in out


def test_cli_json_has_the_promised_keys(capsys):
    code, out, _ = run(capsys, "estimate", "--model", "llama-3.1-70b", "--hardware", "h200-sxm", "--batch", "8",
                       "--input-tokens", "2048", "--output-tokens", "256", "--weight-dtype", "fp8",
                       "--kv-dtype", "fp8", "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "weights_bytes", "kv_cache_bytes",
                "total_memory_bytes", "memory_capacity_bytes", "fits", "max_batch", "bound"):
        assert key in data
    assert data["kv_cache_bytes"] == 8 * 2304 * 80 * 2 * 8 * 128 * 1  # fp8 KV: 1 byte per element
    direct = genmodel.estimate("llama-3.1-70b", "h200-sxm", 8, 2048, 256, "fp8", "fp8")
    assert data["tpot_s"] == pytest.approx(direct.tpot_s)


@pytest.mark.parametrize(("argv", "needle"), [
    (["estimate", "--model", "llama-70b"], "Did you mean"),
    (["estimate", "--hardware", "h1OO"], "unknown hardware"),
    (["estimate", "--batch", "-1"], "batch must be at least 1"),
    (["estimate", "--batch", "many"], "Invalid value for '--batch'"),
    (["estimate", "--model", "llama-3.1-405b"], "do not fit"),
    (["estimate", "--model", "llama-3.1-70b", "--tp", "3"], "valid: 1, 2, 4, 8"),
    (["estimate", "--model", "mixtral-8x7b", "--tp", "2", "--ep", "4"], "--ep 4 must divide tp 2"),
    (["estimate", "--model", "mixtral-8x7b", "--ep", "3", "--attention-dp"], "valid: 1, 2, 4, 8"),
    (["estimate", "--tp", "4", "--pp", "2", "--num-devices", "16"], "choose a split whose product is 16"),
    (["estimate", "--hardware", "a100-80gb-sxm", "--activation-dtype", "fp8"], "no fp8 throughput"),
    (["show", "nonexistent-thing"], "unknown model, hardware, platform, engine or use case"),
    (["import-hf", "/no/such/config.json"], "cannot read"),
    # names given as words, where the commands take options: the same call with the options spelled out
    (["estimate", "llama-3.1-70b", "h200-sxm"], "'genmodel estimate --model llama-3.1-70b --hardware h200-sxm'"),
    (["size", "mixtral-8x7b"], "'genmodel size --model mixtral-8x7b'"),
    (["serve", "a", "b", "c"], "(see 'genmodel serve --help')"),
    (["models", "foo"], "(see 'genmodel models --help')"),
])
def test_cli_errors_are_one_line_and_nonzero(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code != 0
    assert needle in err
    assert err.startswith("error: ") and err.count("\n") == 1  # one line, no traceback
    assert "Traceback" not in err + out


def test_cli_tables_and_show(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "deepseek-v3" in out and "mla" in out
    code, out, _ = run(capsys, "hardware")
    assert code == 0 and "h100-sxm" in out and "989" in out  # dense BF16 TFLOPS
    code, out, _ = run(capsys, "show", "deepseek-v3")
    assert code == 0 and "kv_lora_rank: 512" in out and "total_params" in out
    code, out, _ = run(capsys, "show", "h100-sxm", "--json")
    assert code == 0 and json.loads(out)["derived"]["memory_capacity_bytes"] == 80 * 2**30


def test_cli_breakdown(capsys):
    code, out, _ = run(capsys, "estimate", "--breakdown")
    assert code == 0 and "decode: the rows sum to the mean TPOT" in out and "ffn_gate_up" in out
    assert "step overhead" in out


def test_cli_multi_device_commands(capsys, tmp_path):
    code, out, _ = run(capsys, "platforms")
    assert code == 0 and "gb200-nvl72" in out and "cloudmatrix384" in out
    code, out, _ = run(capsys, "estimate", "--model", "llama-3.1-70b", "--hardware", "dgx-h100", "--tp", "8",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["devices"] == 8 and data["tp"] == 8 and data["decode_comm_s"] > 0
    code, out, _ = run(capsys, "size", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--json")
    # 141 GB of bf16 weights > 80 GiB x 0.9 - 1.5 GiB = 75.7 GB usable per GPU
    assert code == 0 and json.loads(out)["devices"] == 2
    csv, html = tmp_path / "p.csv", tmp_path / "p.html"
    code, out, _ = run(capsys, "plan", "--model", "llama-3.1-8b", "--hardware", "dgx-h100", "--ttft-ms", "500",
                       "--tpot-ms", "20", "--csv", str(csv), "--html", str(html), "--json")
    data = json.loads(out)
    assert code == 0 and data["configurations"] and csv.exists() and html.exists()
    assert all(c["ttft_s"] <= 0.5 and c["tpot_s"] <= 0.02 for c in data["configurations"])
    code, out, err = run(capsys, "plan", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--tpot-ms", "-1")
    assert code == 2 and "--tpot-ms must be a positive number" in err


def test_cli_estimate_says_how_much_of_a_platform_runs(capsys):
    # a DGX H100 holds 8 devices; a layout of fewer runs on part of it, and the header says so (every figure is of
    # the devices that run); a layout over two systems counts their 16
    twelve = ("--model", "llama-3.1-70b", "--tp", "4", "--dp", "3")
    cases = [(("--model", "llama-3.1-8b"), "1 of its 8 devices: tp 1, pp 1, ep 1, dp 1 (7 idle"),
             (twelve, "2 x NVIDIA DGX H100"), (twelve, "12 of their 16 devices: tp 4, pp 1, ep 1, dp 3 (4 idle"),
             (("--model", "llama-3.1-70b", "--tp", "8"), "— 8 devices: tp 8, pp 1, ep 1, dp 1\n")]
    for args, needle in cases:
        code, out, _ = run(capsys, "estimate", "--hardware", "dgx-h100", *args)
        assert code == 0 and needle in out, (args, out.splitlines()[0])
    code, out, _ = run(capsys, "estimate", "--model", "llama-3.1-8b", "--hardware", "h100-sxm")
    assert code == 0 and out.splitlines()[0] == "Llama-3.1-8B on NVIDIA H100 SXM5 80GB"


def test_cli_efficiency_overrides_and_uncalibrated(capsys):
    # --uncalibrated drops the entry's calibrated block: the GPU kind defaults apply (docs/formulas.md)
    plain = genmodel.get_hardware("h100-sxm").model_copy(update={"efficiency": genmodel.Efficiency()})
    assert genmodel.estimate(hardware="h100-sxm", calibrated=False).realism.origin == "defaults"
    code, out, _ = run(capsys, "estimate", "--uncalibrated", "--json")
    assert code == 0
    assert json.loads(out)["tpot_s"] == pytest.approx(genmodel.estimate(hardware=plain).tpot_s)
    # a step overhead given in ms replaces the engine's fixed cost per step (a; vLLM's profile: 0.4 ms), so the
    # decode step costs exactly 2.5 ms more than with a = 0
    code, out, _ = run(capsys, "estimate", "--uncalibrated", "--step-overhead-ms", "2.5", "--json")
    no_step = genmodel.estimate(hardware=plain, efficiency=genmodel.Efficiency(step_overhead_s=0.0))
    assert json.loads(out)["tpot_s"] == pytest.approx(no_step.tpot_s + 2.5e-3)
    assert no_step.tpot_s == pytest.approx(genmodel.estimate(hardware=plain).tpot_s - 0.4e-3)
    code, out, _ = run(capsys, "estimate", "--memory-efficiency", "0.5")
    assert code == 0 and "50% of peak bandwidth" in out and "overridden: memory_efficiency" in out
    code, out, err = run(capsys, "estimate", "--compute-efficiency", "1.5")
    assert code == 2 and "--compute-efficiency is a fraction from 0.001 to 1" in err and "Traceback" not in err


def test_utilization_text_is_a_percentage_then_a_multiple_past_ten_times_saturation():
    # shared by `genmodel serve` and the dashboard's Serving page (genmodel.interfaces.cli.common)
    from genmodel.interfaces.cli.common import utilization_text

    assert utilization_text(0.823) == "82%" and utilization_text(9.99) == "999%"
    assert utilization_text(12.0) == "12x" and utilization_text(6.4e6) == "6.4e+06x"
    assert utilization_text(float("nan")) == "-" and utilization_text(None) == "-"
    assert utilization_text(float("inf")) == "-"


@pytest.mark.parametrize(("argv", "needle"), [
    # Click would keep the last value: this compare would rank the MI300X alone
    (["compare", "-H", "h100-sxm", "-H", "mi300x"],
     "--hardware is given 2 times (-H h100-sxm, -H mi300x): give it once (one comma-separated list: --hardware a,b)"),
    (["estimate", "-m", "llama-3.1-8b", "--model=llama-3.1-70b", "--json"],
     "--model is given 2 times (-m llama-3.1-8b, --model llama-3.1-70b): give it once"),
    (["--db", "extra", "serve", "--input-tokens", "512", "--request-rate", "2", "--request-rate=3"],
     "--request-rate is given 2 times (--request-rate 2, --request-rate 3): give it once"),
])
def test_cli_refuses_a_single_value_option_given_twice(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err == f"error: {needle}\n"  # one line, nothing run (the --db folder is not even looked at)


def test_cli_values_that_look_like_options_are_not_counted(capsys):
    """A value after its option is skipped (here a negative number, refused by the option's own check, not as a
    repeat), and a comma-separated list in one option is one use."""
    code, _, err = run(capsys, "estimate", "--batch", "-1")
    assert code == 2 and "given" not in err
    code, out, _ = run(capsys, "compare", "-H", "h100-sxm,mi300x", "--json")
    assert code == 0 and {row["hardware"] for row in json.loads(out)["rows"]} == {"h100-sxm", "mi300x"}
