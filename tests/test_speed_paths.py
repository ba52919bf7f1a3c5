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
    monkeypatch.setattr(estimate_module, "KEEP_STEPS_UP_TO", 10)
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
    monkeypatch.setattr(estimate_module, "KEEP_STEPS_UP_TO", 5)
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


@pytest.mark.parametrize("power", [False, True])
@pytest.mark.parametrize("shape", [(13,), (13, 2), (25, 2, 3)])
def test_a_few_configurations_take_the_same_phase_bound(power, shape):
    """A timing of a few configurations (``roofline.FEW_ELEMENTS``: one estimate's steps) finds its phase bound from
    the per-row labels in one product: the same labels as the masks of many configurations, as written out (per
    label, the counts' dot product with the times of the rows whose largest term it is; the first largest)."""
    rng = np.random.default_rng(5)
    # whole multiples of 2^-20 s: every product and sum exact, so ties between labels are ties in any order of summing
    terms = [rng.integers(0, 3, shape).astype(float) * 2.0**-20 for _ in range(4)]
    c, m, p, o = terms
    if not power:
        p = 0.0
    time_s = np.maximum(np.maximum(c, m), np.maximum(p, o))
    count = rng.integers(1, 60, shape[0]).astype(float)
    t = Timing(c, m, o, time_s, count, p)
    labels = np.argmax(np.stack([c, m, np.broadcast_to(p if power else -np.inf, shape), o]), axis=0)
    shares = np.stack([np.tensordot(count, np.where(labels == k, time_s, 0.0), axes=(0, 0)) for k in range(4)])
    assert np.array_equal(t.phase_bound_index(), np.argmax(shares, axis=0))
    assert np.array_equal(t.phase_bound_index(), t._shares(t._bound_masks(), finite=True).argmax(axis=0))


# ---- caches of the second round (realism, physics, platform devices, database roots, shared GEMM shapes) ----------
def test_realism_follows_a_changed_spec_and_override(toy_hw):
    from genmodel.engine.realism import resolve_realism
    from genmodel.specs.hardware import Efficiency

    # toy_hw's entry sets compute_efficiency 0.5; a copy with 0.7 is a new (frozen) object and must not hit
    changed = toy_hw.model_copy(update={"efficiency": toy_hw.efficiency.model_copy(update={"compute_efficiency": 0.7})})
    assert resolve_realism(toy_hw).compute_efficiency == 0.5
    assert resolve_realism(changed).compute_efficiency == 0.7
    assert resolve_realism(toy_hw).compute_efficiency == 0.5
    assert resolve_realism(toy_hw, Efficiency(compute_efficiency=0.3)).compute_efficiency == 0.3
    assert resolve_realism(toy_hw, Efficiency(compute_efficiency=0.4)).compute_efficiency == 0.4
    # h100-sxm carries a calibration: uncalibrated, no factor may come from it
    h100 = genmodel.get_hardware("h100-sxm")
    assert "calibrated" in resolve_realism(h100, None, True).origin
    assert "calibrated" not in resolve_realism(h100, None, False).origin
    assert "calibrated" in resolve_realism(h100, None, True).origin
    # through estimate: TPOT of a memory-bound decode step scales with 1 / memory efficiency (toy_hw: 0.8)
    slower = toy_hw.model_copy(update={"efficiency": toy_hw.efficiency.model_copy(
        update={"memory_efficiency": 0.4, "kv_memory_efficiency": 0.4})})
    kwargs = {"model": _model(2), "batch": 1, "input_tokens": 100, "output_tokens": 2}
    fast, slow = genmodel.estimate(hardware=toy_hw, **kwargs), genmodel.estimate(hardware=slower, **kwargs)
    weights_s = fast.weights_bytes / 1e12  # one read of the weights at 1 TB/s
    assert fast.tpot_s > weights_s / 0.8 and slow.tpot_s > weights_s / 0.4 > fast.tpot_s


def test_physics_follows_a_changed_spec(toy_hw):
    from genmodel.engine.efficiency import Physics

    arch = toy_hw.microarchitecture
    other = toy_hw.model_copy(update={"microarchitecture": arch.model_copy(update={"compute_units": 100,
                                                                                    "matrix_unit_rows": 16})})
    assert (Physics.of(toy_hw).compute_units, Physics.of(toy_hw).matrix_unit_rows) == (None, 1)
    assert (Physics.of(other).compute_units, Physics.of(other).matrix_unit_rows) == (100, 16)
    assert Physics.of(toy_hw).matrix_unit_rows == 1


def test_a_platform_device_is_made_once_per_platform_and_follows_its_network():
    from genmodel.data.registry import platform_device

    platform = genmodel.get_platform("dgx-h200")
    device = platform_device(platform)
    assert device is platform_device(platform)  # the same object: per-device caches hit
    assert device.scale_up == platform.scale_up
    link = platform.scale_up.bandwidth_per_direction_bytes_per_s
    faster = platform.scale_up.model_copy(update={"bandwidth_per_direction_bytes_per_s": 2 * link})
    changed = platform.model_copy(update={"scale_up": faster})
    assert platform_device(changed).scale_up.bandwidth_per_direction_bytes_per_s == 2 * link
    assert platform_device(platform).scale_up == platform.scale_up


def test_database_roots_follow_the_environment(monkeypatch, tmp_path):
    from genmodel.data import registry

    for folder in (tmp_path / "a", tmp_path / "b"):
        monkeypatch.setenv("GENMODEL_USER_DIR", str(folder))
        assert registry._roots()[0] == str(folder)


@pytest.mark.parametrize("model, hardware", [("deepseek-v3", "h200-sxm"), ("llama-3.1-8b", "h100-sxm"),
                                             ("llama-3.1-8b", "epyc-9965"), ("mixtral-8x7b", "alveo-u280")])
def test_gemm_rows_sharing_a_shape_get_the_fractions_of_the_plain_path(model, hardware):
    from dataclasses import replace

    from genmodel.engine.efficiency import DTYPE_FRACTION, Physics, compute_fractions, gemm_shape_factor

    # rows built from one M (every dense linear layer: the step's tokens) share that side's tiles; the fractions
    # must be those of each row on its own: efficiency x datatype fraction x gemm_shape_factor (or the vector floor)
    physics = Physics.of(genmodel.get_hardware(hardware))
    batch = np.array([1.0, 3.0, 40.0, 300.0, 5000.0])
    table = build_operators(genmodel.get_model(model), "prefill", batch, np.array([7.0, 128.0, 1.0, 900.0, 3.0]),
                            None, DTypes("fp8", "bf16", "bf16"), Parallelism(tp=np.array([1, 2, 4, 8, 2])))
    assert table.gemm_m_keys is not None and len(set(table.gemm_m_keys)) < len(table.kinds)
    shared = compute_fractions(table, 0.7, 0.6, physics)
    assert np.array_equal(shared, compute_fractions(replace(table, gemm_m_keys=None, gemm_n_keys=None), 0.7, 0.6,
                                                    physics))
    peaks = dict(physics.peak_flops_per_s)
    for i, kind in enumerate(table.kinds):
        if kind != "gemm":
            continue
        dtype = DTYPE_FRACTION[table.dtypes[i]]
        factor = gemm_shape_factor(np.broadcast_to(table.gemm_m[i], (5,)), np.broadcast_to(table.gemm_n[i], (5,)),
                                   physics)
        if physics.vector_flops_per_s:
            factor = np.maximum(factor, physics.vector_flops_per_s / peaks[table.dtypes[i]] / dtype)
        assert np.allclose(shared[i], 0.7 * dtype * factor, rtol=1e-15, atol=0), table.names[i]
    assert np.all(shared[[k == "elementwise" for k in table.kinds]] == 0.7)


def test_in_place_temporaries_leave_the_inputs_alone():
    from genmodel.economics.energy import MEMORY_ACTIVITY_WEIGHT, PowerModel
    from genmodel.engine.roofline import time_operators

    rng = np.random.default_rng(2)
    table = build_operators(genmodel.get_model("llama-3.1-8b"), "decode", rng.uniform(1, 64, 20), 1,
                            (rng.uniform(10, 9000, 20), rng.uniform(10, 9000, 20)), DTypes("bf16", "bf16", "bf16"))
    before = {f: getattr(table, f).copy() for f in ("flops", "weight_bytes", "kv_bytes", "act_bytes")}
    inv = {k: np.full(20, 1 / 3.35e12) for k in ("weight", "kv", "act")}
    real, ideal = time_operators(table, [1e15 if d else np.inf for d in table.dtypes], inv, compute_efficiency=0.6,
                                 memory_efficiency=0.8, kernel_overhead_s=2e-6, bandwidth_scale=rng.uniform(0.5, 2, 20),
                                 memory_ramp_s=1e-7, busy_efficiency=0.7, overlap=0.0)
    for f, value in before.items():
        assert np.array_equal(getattr(table, f), value), f
    # real time = compute + memory + overhead (overlap 0), each term as documented in genmodel.engine.roofline
    assert np.allclose(real.time_s, real.compute_s + real.memory_s + real.overhead_s, rtol=1e-15, atol=0)
    assert np.allclose(ideal.time_s, np.maximum(ideal.compute_s, ideal.memory_s), rtol=0, atol=0)
    power = PowerModel.of(genmodel.get_hardware("h100-sxm"))
    compute_s, memory_s = real.compute_s.copy(), real.memory_s.copy()
    static, compute, memory = power.operator_energy(table, real, {})
    assert np.array_equal(real.compute_s, compute_s) and np.array_equal(real.memory_s, memory_s)
    # envelope model by hand: P = idle + (TDP - idle) x min(1, (busy_c + w busy_m) / t), split by the two shares
    busy = np.minimum(real.busy_compute_s, real.compute_s)
    weighted = busy + MEMORY_ACTIVITY_WEIGHT * real.memory_s
    dynamic = (power.tdp_w - power.idle_w) * np.minimum(real.time_s, weighted)
    assert np.allclose(static, power.idle_w * real.time_s, rtol=1e-15, atol=0)
    assert np.allclose(compute, dynamic * busy / weighted, rtol=1e-14, atol=0)
    assert np.allclose(compute + memory, dynamic, rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", ["llama-3.1-8b", "gemma-2-27b", "deepseek-v3", "llama-4-scout", "gpt-oss-20b"])
def test_the_longest_context_of_one_configuration_is_that_of_the_array_path(name):
    # a single configuration takes a Python-float path: it must give each configuration's array figure, and the
    # footprint at that context fits while one token more does not (or the model's maximum is reached)
    rng = np.random.default_rng(4)
    memory = DeviceMemory(genmodel.get_model(name), DTypes("fp8", "bf16", "fp8"), Parallelism(tp=2),
                          prefill_chunk_tokens=2048)
    batch, capacity = rng.integers(1, 2000, 60).astype(float), rng.uniform(1e9, 2e11, 60)
    many = memory.max_context(batch, capacity)
    for b, cap, n in zip(batch, capacity, many, strict=True):
        one = memory.max_context(float(b), float(cap))
        assert one.shape == () and one.dtype == np.int64 and one == n
        if 0 < n < memory.model.max_context_tokens:
            assert memory._total(b / memory.groups, float(n), 0.0) <= cap < memory._total(b / memory.groups,
                                                                                          float(n + 1), 0.0)


@pytest.mark.parametrize("name", ["llama-3.1-8b", "gemma-2-27b", "deepseek-v3"])
def test_the_largest_batch_of_one_configuration_is_that_of_the_array_path(name):
    # the Python-float path must give each configuration's array figure; at that batch the footprint fits and one
    # sequence more per group does not (checked with the footprint itself), and no capacity gives 0
    rng = np.random.default_rng(6)
    memory = DeviceMemory(genmodel.get_model(name), DTypes("fp8", "bf16", "fp8"), Parallelism(tp=2),
                          prefill_chunk_tokens=4096)
    prompt, out = rng.integers(1, 60000, 60).astype(float), rng.integers(1, 4000, 60).astype(float)
    capacity = rng.uniform(1e9, 2e11, 60)
    many = memory.max_batch(prompt, out, capacity)
    for i, o, cap, n in zip(prompt, out, capacity, many, strict=True):
        one = memory.max_batch(float(i), float(o), float(cap))
        assert one.shape == () and one.dtype == np.int64 and one == n
        if n > 0:
            assert bool(memory.footprint(n, i, o, cap).fits) and not bool(memory.footprint(n + 1, i, o, cap).fits)
    assert memory.max_batch(1000.0, 100.0, 0.0) == 0


def _write_user_model(folder, name: str, hidden_size: int = 4096):
    import yaml

    data = genmodel.get_model("llama-3.1-8b").model_dump(mode="json", exclude_none=True)
    data.update({"name": name, "display_name": name.upper(), "hidden_size": hidden_size})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data))


def test_remembered_name_lookups_follow_reload_the_environment_and_db_folders(user_dir, tmp_path, monkeypatch):
    from genmodel.data import registry
    from genmodel.errors import UnknownNameError

    monkeypatch.setattr(registry, "_extra_roots", [])
    # the answer is the entry the database in force holds, before and after a reload (a new object then)
    first = genmodel.get_hardware("h100-sxm")
    assert first is registry.database("hardware").entries["h100-sxm"]
    assert genmodel.get_hardware("H100-SXM") is first
    with pytest.raises(UnknownNameError):
        genmodel.get_model("my-llama")
    _write_user_model(user_dir / "models", "my-llama", hidden_size=2048)
    registry.reload()  # files written: the databases are read again, and a name unknown before is found
    assert genmodel.get_model("my-llama").hidden_size == 2048
    again = genmodel.get_hardware("h100-sxm")
    assert again is registry.database("hardware").entries["h100-sxm"] and again is not first
    assert registry.resolve_hardware("dgx-h200")[1] is registry.database("platform").entries["dgx-h200"]
    # another user folder (no reload): its own entries
    other = tmp_path / "other-user"
    _write_user_model(other / "models", "my-llama", hidden_size=1024)
    monkeypatch.setenv("GENMODEL_USER_DIR", str(other))
    assert genmodel.get_model("my-llama").hidden_size == 1024
    monkeypatch.setenv("GENMODEL_USER_DIR", str(tmp_path / "empty"))
    with pytest.raises(UnknownNameError):
        genmodel.get_model("my-llama")
    # a folder added with use_databases (no reload) is seen at once
    team = tmp_path / "team-db"
    _write_user_model(team / "models", "team-llama", hidden_size=512)
    with pytest.raises(UnknownNameError):
        genmodel.get_model("team-llama")
    genmodel.use_databases([team])
    assert genmodel.get_model("team-llama").hidden_size == 512
    assert genmodel.estimate("team-llama", "h100-sxm").metrics["weights_bytes"] > 0
    # GENMODEL_DB folders are checked on every lookup: a folder that does not exist is an error each time
    monkeypatch.setenv("GENMODEL_DB", str(tmp_path / "missing"))
    for _ in range(2):
        with pytest.raises(genmodel.errors.SpecError, match="GENMODEL_DB"):
            genmodel.get_model("llama-3.1-8b")


LAYOUTS = [{}, {"tp": 8}, {"tp": 4, "pp": 3, "dp": 2, "cp": 2}, {"ep": 8, "attention_dp": True, "tp": 2},
           {"tp": 8, "ep": 4}, {"ep": 4, "attention_dp": True}]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_derived_figures_of_a_plain_layout_are_those_of_the_same_layout_in_arrays(layout):
    plain = Parallelism(**layout)
    arrays = Parallelism(**{k: np.asarray(v) for k, v in {"tp": 1, **layout}.items()})
    for name in ("stage_size", "attention_groups", "expert_tp", "devices"):
        fast, slow = getattr(plain, name), getattr(arrays, name)
        assert type(fast) is type(slow) and np.shape(fast) == np.shape(slow) and fast == slow, name
    assert plain.shape == arrays.shape == ()
    # by hand: devices = dp x pp x stage, stage = ep with attention_dp else tp x cp
    tp, pp, ep, dp, cp = (layout.get(k, 1) for k in ("tp", "pp", "ep", "dp", "cp"))
    stage = ep if layout.get("attention_dp") else tp * cp
    assert plain.devices == dp * pp * stage and plain.attention_groups == stage / (tp * cp)


def test_a_remembered_layout_check_still_refuses_what_does_not_fit_each_model():
    layout = {"tp": 8}
    assert genmodel.estimate("llama-3.1-8b", "h100-sxm", **layout).metrics["devices"] == 8
    for _ in range(2):  # qwen2.5-7b has 28 heads: tp 8 is refused, every time
        with pytest.raises(genmodel.errors.ConfigurationError, match="does not divide the 28"):
            genmodel.estimate("qwen2.5-7b", "h100-sxm", **layout)
    assert genmodel.estimate("llama-3.1-8b", "h100-sxm", **layout).metrics["devices"] == 8
    with pytest.raises(genmodel.errors.ConfigurationError, match="num_devices"):
        genmodel.estimate("llama-3.1-8b", "h100-sxm", num_devices=4, **layout)


def test_remembered_datatypes_follow_the_device_spec_object():
    from genmodel.engine.inputs import resolve_dtypes

    hw = genmodel.get_hardware("h100-sxm")
    assert resolve_dtypes(hw, "fp8", None, None) == DTypes("fp8", "bf16", "bf16", "bf16")
    assert resolve_dtypes(hw, "fp8", "fp8", None) == DTypes("fp8", "fp8", "fp8", "fp8")
    # the same names on an edited device (a new object: specs are frozen) that lists no fp8 are refused
    no_fp8 = hw.model_copy(update={"peak_flops_per_s": {k: v for k, v in hw.peak_flops_per_s.items() if k != "fp8"}})
    with pytest.raises(genmodel.errors.ConfigurationError, match="no fp8 throughput"):
        resolve_dtypes(no_fp8, "fp8", "fp8", None)
    assert resolve_dtypes(hw, "fp8", "fp8", None).gemm == "fp8"


@pytest.mark.parametrize("units", [1, 7, 66, 132])
@pytest.mark.parametrize("balanced", [False, True])
def test_wave_quantization_without_a_select_is_the_two_cases_written_out(units, balanced):
    """``_combined``'s one expression equals split-K below one wave and waves / ceil(waves) from one on (no loss from
    one on where the library balances its tiles), bit for bit."""
    from genmodel.engine.efficiency import Physics, _combined

    physics = Physics(units, 16, (128, 128), 512.0, 0.0, balanced_tiles=balanced)
    rng = np.random.default_rng(units)
    steps_m = np.concatenate([np.ceil(rng.uniform(1, 900, 4000) / 16), np.arange(1.0, 301.0)]).reshape(2, -1)
    steps_n = np.concatenate([np.ceil(rng.uniform(1, 60000, 4000) / 128), np.ones(300)]).reshape(2, -1)
    share = rng.uniform(0.1, 1.0, steps_m.shape)
    tiles = steps_m * steps_n
    waves = tiles / units
    split = tiles * np.floor(units / np.minimum(tiles, units)) / units
    expected = share * 1.0 * np.where(waves < 1.0, split, 1.0 if balanced else waves / np.ceil(waves))
    got = _combined(share.copy(), steps_m.copy(), np.ones_like(share), steps_n.copy(), physics)
    assert got.dtype == expected.dtype and np.array_equal(got.view(np.int64), expected.view(np.int64))
    # one GEMM of 3 x 7 tiles, as plain numbers: a whole wave or more (waves / ceil(waves), or no loss balanced), or
    # split-K below one
    whole = 1.0 if balanced else 21 / units / np.ceil(21 / units)
    one = 0.5 * (whole if units <= 21 else 21 * np.floor(units / 21) / units)
    assert _combined(0.5, 3.0, 1.0, 7.0, physics) == one


def test_bucket_lookup_is_the_binary_search():
    """The decode-graph bucket index from the per-whole-number table equals ``np.searchsorted`` (ties, values below
    and above every bucket, fractions just above a bucket, NaN)."""
    from genmodel.engine.step import _bucket_index

    rng = np.random.default_rng(3)
    for buckets in [(1, 2, 4, 8, 16, 24, 32, 48, 64, 128, 256, 512), (1,), (0, 3, 3, 7), (512, 1, 8)]:
        ordered = np.asarray(sorted(buckets), dtype=float)
        for values in [rng.uniform(-3, 700, 5000), np.arange(-2.0, 600.0, 0.25), rng.uniform(0, 600, (2, 1, 40)),
                       np.array([-0.0, 0.5, 1.0, np.nextafter(1.0, 2.0), np.nextafter(512.0, 0.0), 512.0, 1e300]),
                       np.array([3.0, np.nan])]:
            expected = np.searchsorted(ordered, values)
            got = _bucket_index(buckets, ordered, values)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            assert np.array_equal(got, expected)


@pytest.mark.parametrize("name", ["llama-3.1-8b", "deepseek-v3", "gemma-2-27b"])
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_attention_rows_built_alone_are_those_of_the_whole_table(name, phase):
    """``build_operators(attention_only=True)`` builds only the attention rows: the same rows, in order, as selecting
    them from the whole table (GQA, MLA, sliding windows)."""
    model = genmodel.get_model(name)
    dtypes = DTypes("fp8", "bf16", "bf16")
    par = Parallelism(tp=np.array([1, 2, 4, 8]))
    batch, tokens = np.array([3.0, 8.0, 16.0, 64.0]), (700.0 if phase == "prefill" else 1.0)
    context = None if phase == "prefill" else (np.array([[100.0, 900.0, 5000.0, 40.0]]),
                                               np.array([[200.0, 901.0, 9000.0, 40.0]]))
    whole = build_operators(model, phase, batch, tokens, context, dtypes, par)
    expected = whole.select([k == "attention" for k in whole.kinds])
    alone = build_operators(model, phase, batch, tokens, context, dtypes, par, attention_only=True)
    assert alone.names == expected.names and alone.groups == expected.groups and alone.dtypes == expected.dtypes
    for f in ("count", "kernels", "flops", "weight_bytes", "kv_bytes", "act_bytes", "gemm_m", "gemm_n"):
        # the GEMM shape fields keep the axes their own rows vary along (here none of the tp axis): broadcast
        a, b = np.broadcast_arrays(getattr(alone, f), getattr(expected, f))
        assert len(getattr(alone, f)) == len(expected) and np.array_equal(a, b, equal_nan=True), f
    # the rows that may hold KV bytes: those of the whole table's, renumbered among the attention rows
    attention = [i for i, k in enumerate(whole.kinds) if k == "attention"]
    assert alone.kv_rows == tuple(j for j, i in enumerate(attention) if i in whole.kv_rows)


def test_broadcast_shape_is_numpys():
    """``broadcast_shape`` (equal shapes taken as they are) gives ``np.broadcast_shapes`` for equal, broadcasting
    and empty shapes, and refuses shapes that do not broadcast as NumPy does."""
    from genmodel.engine.operators import broadcast_shape

    for shapes in [((),), ((), ()), ((3,), (3,)), ((2, 1), (1, 4)), ((), (5,)), ((4, 1, 3), (4, 1, 3), (1, 3)),
                   ((1,), ()), ([2, 3], (2, 3))]:
        assert broadcast_shape(*shapes) == np.broadcast_shapes(*shapes)
        assert type(broadcast_shape(*shapes)) is tuple
    with pytest.raises(ValueError):
        broadcast_shape((2,), (3,))


@pytest.mark.parametrize("group", [1, 2, 6, 8, 16, 24])
def test_a_single_collective_is_the_one_of_the_array_path(group):
    """A collective of one configuration (single values; the hierarchical part skipped when its group sits in one
    domain) takes the seconds of the same configuration in an array, bit for bit, inside a domain of 8 and across
    domains; inside one domain an all-gather is the ring's (n - 1) alpha + (n - 1) / n M / beta, by hand."""
    from genmodel.engine.collectives import Network, all_gather, all_reduce, reduce_scatter

    net = Network(450e9, 2e-6, 8, 50e9, 10e-6, 0.8)
    m = 3.0 * 7168 * 2
    for collective in (all_reduce, all_gather, reduce_scatter):
        one = collective(net, m, np.asarray(float(group)))
        many = collective(net, np.array([m, 2 * m]), np.array([float(group), float(group)]))
        assert np.ndim(one) == 0 and np.asarray(one).dtype == np.float64
        assert np.asarray(one).view(np.int64) == many[:1].view(np.int64)[0]
    if group <= 8:
        n = float(group)
        expected = (n - 1) * 2e-6 + (n - 1) / n * m / (450e9 * 0.8)
        assert all_gather(net, m, np.asarray(n)) == expected


def test_a_single_configuration_returns_zero_dimensional_copies_of_its_one_element_call():
    """Every metric and input of one configuration is a 0-d array holding the number (and datatype; a label's width
    aside) that the same configuration given as one-element arrays returns."""
    kw = {"tp": 2, "weight_dtype": "fp8", "comm_overlap": 0.5}
    one = genmodel.estimate("mixtral-8x7b", "h100-sxm", batch=12, input_tokens=900, output_tokens=40, **kw)
    arrays = genmodel.estimate("mixtral-8x7b", "h100-sxm", batch=np.array([12]), input_tokens=np.array([900]),
                               output_tokens=np.array([40]), **kw)
    for figures, expected in ((one.metrics, arrays.metrics), (one.inputs, arrays.inputs)):
        assert figures.keys() == expected.keys()
        for key, value in figures.items():
            assert type(value) is np.ndarray and value.shape == (), key
            # (a label's string width is its own: 'memory' is <U6 alone, <U8 in the labels' array)
            assert value.dtype == expected[key].dtype or value.dtype.kind == expected[key].dtype.kind == "U", key
            assert np.array_equal(value, expected[key][0], equal_nan=value.dtype.kind == "f"), key
