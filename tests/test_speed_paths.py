"""The fast paths of the estimate core give the figures of the plain computation (issue 14).

Caches are keyed on frozen spec objects (kept alive by the cache, so an id cannot be reused) and on the content of a
layout; block-wise evaluation, the planner's metric selection and the decode step's reuse of its context-free rows
must give the same arrays, element by element, as one whole call. Expected values are derived by hand or from the
plain path; no timing is asserted here (benchmarks/ measure speed).
"""

import numpy as np
import pytest

import genmodel
import genmodel.engine.estimate as estimate_module
from genmodel.engine.estimate import only_metrics
from genmodel.engine.memory import DeviceMemory
from genmodel.engine.operators import DTypes, build_operators
from genmodel.engine.parallel import Parallelism
from genmodel.engine.roofline import BOUNDS, Timing
from genmodel.specs.dtypes import compute_dtype
from genmodel.specs.model import ModelSpec


def _model(layers: int, kv_heads: int = 2) -> ModelSpec:
    return ModelSpec.model_validate({
        "name": f"toy-{layers}", "display_name": "Toy", "family": "llama", "hidden_size": 1024, "num_layers": layers,
        "vocab_size": 1000, "max_context_tokens": 100000,
        "attention": {"num_heads": 8, "num_kv_heads": kv_heads, "head_dim": 128},
        "ffn": {"intermediate_size": 4096}, "source": "test fixture"})


def test_a_changed_model_gets_its_own_memory_figures(toy_hw):
    # KV bytes per token: layers x KV heads x 128 x (K, V) x 2 B; weights: parameters x 2 B (bf16, one device)
    two, four = _model(2), _model(4, kv_heads=4)
    for model, per_token in ((two, 2 * 2 * 128 * 2 * 2), (four, 4 * 4 * 128 * 2 * 2), (two, 2 * 2 * 128 * 2 * 2)):
        r = genmodel.estimate(model, toy_hw, batch=3, input_tokens=100, output_tokens=28)
        assert r.kv_cache_bytes == 3 * 128 * per_token
        assert r.weights_bytes == model.total_params * 2


def test_a_layout_changed_in_place_is_not_served_from_the_cache():
    # a layout of arrays may be changed in place after it was made: the memory constants follow its content
    model, dtypes = genmodel.get_model("llama-3.1-8b"), DTypes("bf16", "bf16", "bf16")
    layout = Parallelism(tp=np.array([1, 2]))
    before = DeviceMemory(model, dtypes, layout).weights.copy()
    layout.tp[:] = [4, 8]
    after = DeviceMemory(model, dtypes, layout).weights
    assert np.array_equal(after, DeviceMemory(model, dtypes, Parallelism(tp=np.array([4, 8]))).weights)
    assert np.all(after < before)  # more ways split: fewer bytes per device
    assert np.array_equal(layout.devices, [4, 8])  # derived figures of an array layout are not remembered


def test_plain_layouts_remember_read_only_derived_figures():
    par = Parallelism(tp=2, pp=3, ep=2, attention_dp=True)
    # attention data parallelism: a stage has ep = 2 devices in ep / tp = 1 attention group; 3 stages
    assert par.devices == 6 and par.stage_size == 2 and par.attention_groups == 1 and par.expert_tp == 1
    assert par.devices is par.devices  # remembered
    with pytest.raises(ValueError):
        par.stage_size[...] = 5  # read-only: a caller cannot change what later estimates read


def test_datatype_roles_are_those_of_compute_dtype():
    d = DTypes("int4", "fp8", "bf16", "fp16")
    assert (d.gemm, d.attention, d.head) == (compute_dtype("int4", "fp8"), compute_dtype("fp8", "bf16"),
                                             compute_dtype("fp16", "fp8"))
    assert d == DTypes("int4", "fp8", "bf16", "fp16") and hash(d) == hash(DTypes("int4", "fp8", "bf16", "fp16"))


def _configurations(n: int, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"batch": rng.integers(4, 300, n), "input_tokens": rng.integers(1, 6000, n),
            "output_tokens": rng.integers(1, 2000, n), "tp": rng.choice([1, 2, 4], n),
            "comm_overlap": rng.uniform(0, 1, n), "bandwidth_scale": rng.uniform(0.5, 2, n)}


@pytest.mark.parametrize("model, hardware, extra", [
    ("deepseek-v2-lite", "dgx-h100", {"ep": 4, "attention_dp": True}),  # MoE, MLA, attention data parallel
    ("gemma-2-27b", "dgx-h100", {}),  # sliding-window layers
    ("llama-3.1-8b", "imec-scd-board", {"tp": 1}),  # a power-capped device (operators can be power-bound)
])
def test_blocks_give_the_figures_of_one_call(monkeypatch, model, hardware, extra):
    configs = {**_configurations(57), **extra}
    whole = genmodel.estimate(model, hardware, check_fit=False, weight_dtype="fp8", **configs)
    monkeypatch.setattr(estimate_module, "BLOCK_CONFIGURATIONS", 10)  # 6 blocks of 9-10 configurations
    monkeypatch.setattr(estimate_module, "REUSE_FROM", 2)  # each block re-times the final step's attention rows
    blocks = genmodel.estimate(model, hardware, check_fit=False, weight_dtype="fp8", **configs)
    assert whole.decode is not None and blocks.decode is None  # the steps of a block-wise call are not kept
    assert whole.metrics.keys() == blocks.metrics.keys()
    for key, value in whole.metrics.items():
        assert np.array_equal(value, blocks.metrics[key], equal_nan=value.dtype.kind == "f"), key
    for key, value in whole.inputs.items():
        assert np.array_equal(value, blocks.inputs[key]), key
    for a, b in ((whole.prefill_slots, blocks.prefill_slots), (whole.decode_step_sequences,
                                                               blocks.decode_step_sequences)):
        assert np.array_equal(np.broadcast_to(a, (57,)), b)


def test_blocks_keep_the_configuration_shape(monkeypatch):
    batch, prompt = np.array([1, 8, 64])[:, None], np.array([256, 4096, 30000, 60000])
    whole = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=batch, input_tokens=prompt, check_fit=False)
    monkeypatch.setattr(estimate_module, "BLOCK_CONFIGURATIONS", 5)
    blocks = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=batch, input_tokens=prompt, check_fit=False)
    for key, value in whole.metrics.items():
        assert value.shape == (3, 4) and np.array_equal(value, blocks.metrics[key]), key


def test_only_metrics_gives_the_same_arrays():
    configs = _configurations(40, seed=5)
    full = genmodel.estimate("qwen3-30b-a3b", "dgx-h100", check_fit=False, **configs)
    wanted = {"tpot_s", "ttft_s_high", "fits", "max_batch", "energy_per_output_token_j"}
    with only_metrics(wanted):
        some = genmodel.estimate("qwen3-30b-a3b", "dgx-h100", check_fit=False, **configs)
    assert set(some.metrics) == wanted
    for key in wanted:
        assert np.array_equal(some.metrics[key], full.metrics[key]), key
    with only_metrics({"tpot_final_s", "bound"}):  # the final decode step and the labels when asked for
        final = genmodel.estimate("qwen3-30b-a3b", "dgx-h100", check_fit=False, **configs)
    assert np.array_equal(final.metrics["tpot_final_s"], full.metrics["tpot_final_s"])
    assert np.array_equal(final.metrics["bound"], full.metrics["bound"])
    assert set(genmodel.estimate("qwen3-30b-a3b", "dgx-h100", batch=4).metrics) == set(full.metrics)


def test_the_final_decode_step_of_many_configurations_is_the_single_configuration_one(monkeypatch):
    # one configuration times both decode steps in one table; many re-time only the attention rows for the final
    # step: each configuration's mean and final TPOT must be the same numbers either way
    monkeypatch.setattr(estimate_module, "REUSE_FROM", 2)  # the re-timing path from two configurations on
    batch, prompt, out = np.array([1, 24, 200]), np.array([100, 7000, 31000]), np.array([2, 500, 1])
    many = genmodel.estimate("deepseek-v2-lite", "h100-sxm", batch=batch, input_tokens=prompt, output_tokens=out,
                             check_fit=False)
    for i in range(3):
        one = genmodel.estimate("deepseek-v2-lite", "h100-sxm", batch=int(batch[i]), input_tokens=int(prompt[i]),
                                output_tokens=int(out[i]), check_fit=False)
        for key in ("tpot_s", "tpot_final_s", "ideal_tpot_final_s", "decode_comm_s"):
            assert many.metrics[key][i] == one.metrics[key], key
    assert np.all(many.tpot_final_s >= many.tpot_s)  # later steps attend more keys


@pytest.mark.parametrize("model, hardware, extra", [
    ("deepseek-v3", "dgx-h200", {"ep": 8, "attention_dp": True, "weight_dtype": "fp8"}),
    ("llama-4-scout", "dgx-h100", {"tp": 4}),  # chunked attention windows
    ("llama-3.1-8b", "imec-scd-board", {"tp": 1}),
])
def test_re_timing_the_final_step_gives_every_figure_of_one_table(monkeypatch, model, hardware, extra):
    configs = {**_configurations(30, seed=9), **extra}
    one_table = genmodel.estimate(model, hardware, check_fit=False, **configs)
    monkeypatch.setattr(estimate_module, "REUSE_FROM", 2)
    reused = genmodel.estimate(model, hardware, check_fit=False, **configs)
    for key, value in one_table.metrics.items():
        assert np.array_equal(value, reused.metrics[key], equal_nan=value.dtype.kind == "f"), key


def test_only_attention_rows_depend_on_the_decode_context():
    # what the final-step reuse relies on (genmodel.engine.step.Stepper.decode_steps)
    for name in ("llama-3.1-8b", "gemma-2-27b", "deepseek-v3", "llama-4-scout"):
        model = genmodel.get_model(name)
        dtypes = DTypes("bf16", "bf16", "bf16")
        a = build_operators(model, "decode", 8, 1, (np.array([1000.0]), np.array([1000.0])), dtypes)
        b = build_operators(model, "decode", 8, 1, (np.array([50000.0]), np.array([90000.0])), dtypes)
        changed = [k for i, k in enumerate(a.kinds)
                   if any(not np.array_equal(getattr(a, f)[i], getattr(b, f)[i], equal_nan=True)
                          for f in ("flops", "weight_bytes", "kv_bytes", "act_bytes", "gemm_m", "gemm_n"))]
        assert changed and set(changed) == {"attention"}, name


def test_single_values_build_the_same_operator_table_as_arrays():
    model, dtypes = genmodel.get_model("deepseek-v3"), DTypes("fp8", "bf16", "fp8")
    par = Parallelism(tp=2, ep=8, attention_dp=True)
    one = build_operators(model, "prefill", 3, 700, None, dtypes, par)
    arr = build_operators(model, "prefill", np.array([3.0]), np.array([700.0]), None, dtypes,
                          Parallelism(tp=np.array([2]), ep=np.array([8]), attention_dp=np.array([True])))
    for f in ("flops", "weight_bytes", "kv_bytes", "act_bytes", "gemm_m", "gemm_n"):
        x, y = getattr(one, f), getattr(arr, f)
        assert np.array_equal(np.broadcast_to(x[:, None], y.shape), y, equal_nan=True), f


@pytest.mark.parametrize("power", [False, True])
def test_operator_bound_is_the_largest_term_first_on_ties(power):
    rng = np.random.default_rng(11)
    shape = (40, 300)
    terms = [rng.integers(0, 4, shape).astype(float) for _ in range(4)]  # small integers: many exact ties
    c, m, p, o = terms
    if not power:
        p = 0.0
    t = Timing(c, m, o, np.maximum(np.maximum(c, m), np.maximum(p, o)), np.ones(shape[0]), p)
    stacked = np.stack([c, m, np.broadcast_to(p if power else -np.inf, shape), o])
    assert np.array_equal(t.bound, BOUNDS[np.argmax(stacked, axis=0)])  # argmax: the first of equal maxima
