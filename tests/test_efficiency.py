"""Shape-dependent efficiency (docs/formulas.md section 5.1): tile and wave quantization, split-K, datatype paths,
the attention ramp and the memory ramp, each against a hand derivation."""

import numpy as np
import pytest

import genmodel
from genmodel.engine.efficiency import DTYPE_FRACTION, KIND_PHYSICS, Physics, compute_fractions, gemm_shape_factor

H100 = Physics(compute_units=132, matrix_unit_rows=64, gemm_tile=(128, 128), attention_half_tokens=512.0,
               memory_ramp_bytes=2 * 2**20)
HOPPER = Physics(compute_units=132, matrix_unit_rows=64, gemm_tile=(128, 128), attention_half_tokens=512.0,
                 memory_ramp_bytes=2 * 2**20, balanced_tiles=True)


def test_tile_quantization_by_hand():
    # M = 100 rows: the kernel picks a 128-row tile (the power of two >= 100, between 64 and 128): 100/128 used;
    # N = 200 columns on 128-wide tiles: 2 tiles, 200/256 used. Tiles: 1 x 2 = 2 < 132 units, so split-K lets
    # floor(132 / 2) = 66 units share each tile: 2 x 66 / 132 = 1 (no wave loss).
    assert gemm_shape_factor(100, 200, H100) == pytest.approx(100 / 128 * 200 / 256)


def test_small_m_pads_to_the_matrix_unit_rows():
    # one token (batch-1 decode) on a 64-row wgmma: 1/64 of the rows do useful work; N = 4096 is whole tiles;
    # 32 tiles < 132 units: split-K over floor(132 / 32) = 4 units each: 32 x 4 / 132 used
    assert gemm_shape_factor(1, 4096, H100) == pytest.approx(1 / 64 * (32 * 4 / 132))


def test_wave_quantization_by_hand():
    # M = 8192, N = 6144: 64 x 48 = 3,072 tiles over 132 SMs = 23.27 waves, run as 24: 23.27 / 24 used
    waves = 64 * 48 / 132
    assert gemm_shape_factor(8192, 6144, H100) == pytest.approx(waves / np.ceil(waves))
    # exactly 132 tiles (M = 128 x 11, N = 128 x 12): one full wave, no loss
    assert gemm_shape_factor(128 * 11, 128 * 12, H100) == pytest.approx(1.0)
    # 133 tiles (M = 133 x 128, N = 128): two waves, the second with one tile: 133 / 264
    assert gemm_shape_factor(133 * 128, 128, H100) == pytest.approx(133 / 264)


def test_balanced_tiles_by_hand():
    # a library that balances its tiles (Hopper's persistent tile schedulers; cuBLAS on an H200 between powers of
    # two, docs/formulas.md 5.1): a partly filled last wave costs nothing, 23.27 waves and 1.008 waves alike
    assert gemm_shape_factor(8192, 6144, HOPPER) == pytest.approx(1.0)
    assert gemm_shape_factor(133 * 128, 128, HOPPER) == pytest.approx(1.0)
    # below one wave it is split-K as without: 131 tiles, floor(132 / 131) = 1 unit a tile, 131 / 132 used
    assert gemm_shape_factor(131 * 128, 128, HOPPER) == pytest.approx(131 / 132)
    # M = 513 rows: tile heights in multiples of the 64-row wgmma, so 9 x 64 = 576 rows (513 / 576 used); whole
    # 128-row tiles would take 5 x 128 = 640 rows and, N = 4096 being 32 tiles, 160 tiles in 1.21 waves run as 2
    assert gemm_shape_factor(513, 4096, HOPPER) == pytest.approx(513 / 576)
    assert gemm_shape_factor(513, 4096, H100) == pytest.approx(513 / 640 * (160 / 132) / 2)
    # the shipped Hopper entries say so; Ampere, Blackwell and CDNA entries do not (no measurement says it there)
    flags = {name: Physics.of(genmodel.get_hardware(name)).balanced_tiles
             for name in ("h100-sxm", "h100-pcie", "h200-sxm", "h800-sxm", "gh200", "a100-80gb-sxm", "b200", "mi300x")}
    assert flags == {"h100-sxm": True, "h100-pcie": True, "h200-sxm": True, "h800-sxm": True, "gh200": True,
                     "a100-80gb-sxm": False, "b200": False, "mi300x": False}


def test_split_k_uses_at_least_half_the_units():
    # with fewer tiles than units the used share tiles x floor(units / tiles) / units is >= 1/2 and <= 1
    tiles = np.arange(1, 133)
    m = np.full_like(tiles, 128)
    factor = gemm_shape_factor(m, tiles * 128, H100)
    assert np.all(factor >= 0.5) and np.all(factor <= 1.0)
    assert factor[66] == pytest.approx(67 * 1 / 132)  # 67 tiles: floor(132 / 67) = 1 unit each


def test_no_quantization_without_tiles():
    flat = Physics(None, 1, None, 1e-9, 0.0)
    assert np.allclose(gemm_shape_factor([1, 7, 1000], [3, 5, 4096], flat), 1.0)


def test_dtype_paths_reach_a_lower_fraction():
    # FP8 and FP4 GEMMs reach a lower share of their (higher) peaks than BF16 (docs/formulas.md 5.1)
    assert DTYPE_FRACTION["bf16"] == 1.0
    assert DTYPE_FRACTION["fp8"] < 1.0 and DTYPE_FRACTION["fp4"] < DTYPE_FRACTION["fp8"]


def test_every_gpu_entry_states_its_compute_units():
    for name in genmodel.all_hardware():
        hw = genmodel.get_hardware(name)
        if hw.kind == "gpu":
            assert hw.microarchitecture.compute_units and hw.microarchitecture.source, name


def test_physics_of_an_entry_overrides_the_kind():
    h100 = Physics.of(genmodel.get_hardware("h100-sxm"))
    assert (h100.compute_units, h100.matrix_unit_rows) == (132, 64)  # H100 SXM5 whitepaper: 132 SMs; wgmma m64
    assert h100.gemm_tile == KIND_PHYSICS["gpu"].gemm_tile


def _prefill_time(toy_model, hw, S):
    return genmodel.estimate(toy_model, hw, batch=1, input_tokens=S, output_tokens=1)


def test_attention_ramp_by_hand(toy_model, toy_hw):
    # prefill attention runs at eta_attn x S / (S + S_half); with S_half = S the attention rows take twice as long
    # as with no ramp. Toy: eta_attn 0.5, 100 TFLOP/s; the attention of a 4096-token prompt is compute-bound.
    S = 4096
    ramp = toy_hw.model_copy(update={"microarchitecture": toy_hw.microarchitecture.model_copy(
        update={"attention_half_tokens": float(S)})})
    flat = _prefill_time(toy_model, toy_hw, S).breakdown("prefill")
    slow = _prefill_time(toy_model, ramp, S).breakdown("prefill")
    for t, u in zip(flat.rows(), slow.rows(), strict=True):
        if t.operator == "attn_scores":
            flops = 2 * 8 * 128 * S * (S + 1) / 2 * 2  # QK^T: 2 x heads x head_dim per pair, x 2 layers
            assert t.flops == pytest.approx(flops)
            assert t.compute_s == pytest.approx(flops / (0.5 * 100e12))
            assert u.compute_s == pytest.approx(2 * t.compute_s)


def test_a_prompt_behind_cached_keys_runs_at_the_fraction_of_the_keys_it_attends():
    # docs/formulas.md 5.1 "Attention" (history item 74): f = eta_attn x K / (K + S_half), K = P + S the keys a
    # pass's queries attend (S new tokens after P cached ones). S_half = 512 (H100): 24 new tokens after 1,000 cached
    # ones run at 1,024 / 1,536 of eta_attn, where the new tokens alone would give 24 / 536; a prompt without a
    # prefix keeps S / (S + S_half); one new token after a prefix too (it was eta_attn x 1 before)
    from genmodel.engine.operators import DTypes, build_operators

    model, dtypes = genmodel.get_model("llama-3.1-8b"), DTypes("bf16", "bf16", "bf16")

    def attention_fraction(tokens, prefix):
        table = build_operators(model, "prefill", 2.0, float(tokens), None, dtypes, prefix=float(prefix))
        rows = [i for i, kind in enumerate(table.kinds) if kind == "attention"]
        return compute_fractions(table, 0.7, 0.6, H100)[rows]

    np.testing.assert_allclose(attention_fraction(24, 1000), 0.6 * 1024 / (1024 + 512), rtol=1e-12)
    np.testing.assert_allclose(attention_fraction(24, 0), 0.6 * 24 / (24 + 512), rtol=1e-12)
    np.testing.assert_allclose(attention_fraction(1, 300), 0.6 * 301 / (301 + 512), rtol=1e-12)
    np.testing.assert_allclose(attention_fraction(1, 0), 0.6, rtol=1e-12)  # one token, nothing cached: the stream


def test_memory_ramp_by_hand(toy_model, toy_hw):
    # every kernel that moves bytes pays ramp_bytes / (eta_m x bandwidth) more: 1 MB at 0.8 x 1 TB/s = 1.25 us
    ramp = toy_hw.model_copy(update={"microarchitecture": toy_hw.microarchitecture.model_copy(
        update={"memory_ramp_bytes": 1e6})})
    a = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=100, output_tokens=2)
    b = genmodel.estimate(toy_model, ramp, batch=1, input_tokens=100, output_tokens=2)
    kernels = 1 + 2 * 9 + 1 + 1  # every kernel of the toy decode step is memory-bound (tests/test_roofline.py)
    assert b.tpot_s - a.tpot_s == pytest.approx(kernels * 1e6 / (0.8 * 1e12), rel=1e-9)


def test_batch_one_decode_gemms_are_memory_bound_on_h100():
    # the split-K rule keeps small-M GEMMs on the weight-bandwidth roof: at batch 1 no GEMM is compute-bound
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=1024, output_tokens=256)
    gemms = [row for row in r.breakdown("decode").rows() if row.kind == "gemm"]
    assert gemms and all(row.bound == "memory" for row in gemms)


def _arch(hw, **update):
    return hw.model_copy(update={"microarchitecture": hw.microarchitecture.model_copy(update=update)})


def test_no_overlap_adds_the_arithmetic_to_the_data_movement(toy_model, toy_hw):
    # overlap 0 (the GPU default): each kernel takes compute + memory instead of max(compute, memory). The toy decode
    # step at batch 1 is memory-bound everywhere (tests/test_roofline.py), so the step gains exactly its arithmetic:
    # GEMMs 2 x (qkv + o + gate/up/down) weights per layer x 2 layers + LM head 2 H V at 0.5 x 100 TFLOP/s, and
    # decode attention (QK^T and PV, 2 x 8 heads x 128 x L each, L = 101 tokens) at eta_attn 0.5 x 100 TFLOP/s.
    H, F, V, nq, nkv, d, L = 1024, 4096, 1000, 8, 2, 128, 101
    gemm = 2 * 2 * (H * (nq + 2 * nkv) * d + nq * d * H + 3 * H * F) + 2 * H * V
    attention = 2 * 2 * (2 * nq * d * L)
    plain = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=100, output_tokens=2)
    added = genmodel.estimate(toy_model, _arch(toy_hw, compute_memory_overlap=0.0), batch=1, input_tokens=100,
                              output_tokens=2)
    assert added.tpot_s - plain.tpot_s == pytest.approx((gemm + attention) / (0.5 * 100e12), rel=1e-9)
    # half overlap hides half of it; the ideal roofline keeps the max either way
    half = genmodel.estimate(toy_model, _arch(toy_hw, compute_memory_overlap=0.5), batch=1, input_tokens=100,
                             output_tokens=2)
    assert half.tpot_s - plain.tpot_s == pytest.approx(0.5 * (gemm + attention) / (0.5 * 100e12), rel=1e-9)
    assert added.ideal_tpot_s == plain.ideal_tpot_s


def test_kind_defaults_of_the_overlap():
    # pipelined-tile devices add the two times; statically scheduled dataflow designs keep the roofline's max
    assert all(KIND_PHYSICS[k].compute_memory_overlap == 0.0 for k in ("gpu", "tpu", "npu", "cpu", "soc"))
    assert all(KIND_PHYSICS[k].compute_memory_overlap == 1.0 for k in ("dataflow", "wafer_scale", "lpu", "fpga"))
    with pytest.raises(ValueError):
        genmodel.get_hardware("h100-sxm").microarchitecture.model_validate({"compute_memory_overlap": 1.5})


def test_a_one_row_gemm_runs_on_the_vector_units_when_that_is_faster(toy_model, toy_hw):
    # a device with 64-row matrix instructions (100 TFLOP/s bf16) and 10 TFLOP/s of fp32 vector units: a batch-1 GEMM
    # padded to 64 rows would reach 1/64 of the matrix peak (1.56 TFLOP/s at eta 1), the GEMV 10 TFLOP/s; so each
    # decode GEMM's compute time is FLOPs / (0.5 x 10 TFLOP/s). At 64 rows (batch 64) the matrix path wins again.
    hw = _arch(toy_hw.model_copy(update={"peak_flops_per_s": {**toy_hw.peak_flops_per_s, "fp32": 10e12}}),
               matrix_unit_rows=64, gemm_tile=[64, 1])
    H, F = 1024, 4096
    one = {row.operator: row for row in genmodel.estimate(toy_model, hw, batch=1, input_tokens=100,
                                                          output_tokens=2).breakdown("decode").rows()}
    assert one["ffn_gate_up"].compute_s == pytest.approx(2 * 2 * H * 2 * F / (0.5 * 10e12), rel=1e-9)
    many = {row.operator: row for row in genmodel.estimate(toy_model, hw, batch=64, input_tokens=100,
                                                           output_tokens=2).breakdown("decode").rows()}
    assert many["ffn_gate_up"].compute_s == pytest.approx(64 * 2 * 2 * H * 2 * F / (0.5 * 100e12), rel=1e-9)


def test_a_cpu_engine_without_matrix_kernels_runs_on_the_vector_units(toy_model, toy_hw):
    # a CPU with 100 TFLOP/s of bf16 matrix tiles and 10 TFLOP/s of fp32 vector FMA; an engine whose kernels use only
    # the vector units (cpu_matrix_units false, as llama.cpp) runs every GEMM at eta_c x 10 TFLOP/s and attention at
    # eta_attn x 10 TFLOP/s (formulas.md 5.1), whatever the datatype; one with matrix kernels at eta x 100 TFLOP/s.
    # Prefill of 64 sequences x 100 tokens: gate/up is 2 x (64 x 100) x H x 2F FLOPs per layer, 2 layers.
    from genmodel.data.registry import get_engine

    cpu = toy_hw.model_copy(update={"kind": "cpu", "peak_flops_per_s": {**toy_hw.peak_flops_per_s, "fp32": 10e12}})
    vendor = get_engine("vendor")
    vector = vendor.model_copy(update={"cpu_matrix_units": False})
    H, F, T = 1024, 4096, 64 * 100

    def rows(hw, engine):
        r = genmodel.estimate(toy_model, hw, batch=64, input_tokens=100, output_tokens=2, engine=engine)
        return {row.operator: row for row in r.breakdown("prefill").rows()}

    slow, fast = rows(cpu, vector), rows(cpu, vendor)
    gate_up = 2 * 2 * T * H * 2 * F
    assert slow["ffn_gate_up"].compute_s == pytest.approx(gate_up / (0.5 * 10e12), rel=1e-9)
    assert fast["ffn_gate_up"].compute_s == pytest.approx(gate_up / (0.5 * 100e12), rel=1e-9)
    attention = [name for name, row in slow.items() if row.kind == "attention"]
    assert attention and all(slow[a].compute_s == pytest.approx(10 * fast[a].compute_s, rel=1e-9) for a in attention)
    # the flag is about CPUs only: a GPU runs the same engine on its matrix units
    gpu = toy_hw.model_copy(update={"peak_flops_per_s": {**toy_hw.peak_flops_per_s, "fp32": 10e12}})
    assert rows(gpu, vector)["ffn_gate_up"].compute_s == pytest.approx(gate_up / (0.5 * 100e12), rel=1e-9)
    assert get_engine("llamacpp").cpu_matrix_units is False


def test_a_devices_measured_gemm_fraction_is_its_physics_default():
    # AMD's max-achievable FLOPs (ROCm blog, February 2025): hipBLASLt BF16 GEMMs sustain 708 TFLOP/s on the MI300X and
    # 840.8 on the MI325X, of 1,307.4 dense BF16 TFLOP/s each (the clock falls to about 1.2-1.45 GHz under that load).
    # Those shares replace the GPU kind's 0.80 as the devices' GEMM defaults, and attention scales with them; a device
    # without the figure keeps the kind's.
    from genmodel.engine.realism import KIND_DEFAULTS, device_defaults, resolve_realism

    gpu = KIND_DEFAULTS["gpu"]
    for name, tflops in (("mi300x", 708.0), ("mi325x", 840.8)):
        hw = genmodel.get_hardware(name)
        d = device_defaults(hw)
        assert d.compute_efficiency == pytest.approx(tflops / 1307.4, abs=5e-5)
        assert d.attention_efficiency == pytest.approx(gpu.attention_efficiency * tflops / 1307.4 / 0.80, abs=1e-4)
        assert d.memory_efficiency == gpu.memory_efficiency
        # the uncalibrated estimate runs on it
        assert resolve_realism(hw, None, calibrated=False).compute_efficiency == d.compute_efficiency
    assert device_defaults(genmodel.get_hardware("mi355x")) is gpu
    assert device_defaults(genmodel.get_hardware("h100-sxm")) is gpu


def test_routed_experts_fill_the_waves_of_one_grouped_launch():
    # Mixtral-8x7B (8 experts, top 2, expert width 14,336, gated), one 2,048-token prompt at TP 2 on an A100 (108
    # SMs; whole tiles, the last wave partly empty): 4,096 token-expert pairs over the 8 experts (all hit: 8 (1 -
    # (6/8)^2048) = 8), 512 tokens each; each expert split 2 ways, so its gate-up GEMM has N = 2 x 7,168 = 14,336
    # columns. Tiles of 128 x 128: 4 x 112 = 448 per expert. As eight launches of 448 tiles on 108 SMs each would run
    # 4.15 waves in 5 (0.830 used); one grouped launch runs the 3,584 tiles of all eight in 33.19 waves of 34 (0.976
    # used). The down GEMM: N = 4,096 = 32 tiles, 128 per expert, 1,024 in the launch: 9.48 waves of 10.
    from genmodel.engine.operators import DTypes, build_operators
    from genmodel.engine.parallel import Parallelism

    table = build_operators(genmodel.get_model("mixtral-8x7b"), "prefill", 1.0, 2048.0, None,
                            DTypes("bf16", "bf16", "bf16"), Parallelism(tp=2))
    out = compute_fractions(table, 1.0, 1.0, Physics.of(genmodel.get_hardware("a100-80gb-sxm")))  # shape factors
    up, down = table.names.index("experts_up"), table.names.index("experts_down")
    assert table.gemm_m[up] == pytest.approx(512.0) and table.gemm_n[up] == pytest.approx(8 * 14336)
    assert out[up] == pytest.approx((3584 / 108) / 34)
    assert out[down] == pytest.approx((1024 / 108) / 10)
    assert (3584 / 108) / 34 > (448 / 108) / 5 + 0.1  # (the per-expert launches' share)
