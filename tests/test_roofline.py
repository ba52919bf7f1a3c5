"""Latency of prefill and decode against hand-derived roofline arithmetic (docs/formulas.md)."""

import itertools

import numpy as np
import pytest

import genmodel
from genmodel.specs.hardware import Efficiency, HardwareSpec


def test_toy_decode_step_by_hand(toy_model, toy_hw):
    # batch 1, 100 prompt tokens, 2 output tokens -> one decode step attending L = 101 tokens.
    # Every operator is memory-bound at batch 1 (intensity ~1 FLOP/B << ridge 50e12/0.8e12 = 62.5 FLOP/B).
    H, F, V, nq, nkv, d, L = 1024, 4096, 1000, 8, 2, 128, 101
    layer_weights = (H * (nq + 2 * nkv) * d + nq * d * H + 3 * H * F) * 2  # bf16
    weights = 2 * layer_weights + V * H * 2 + H * 2  # 2 layers, LM head, one embedding row
    kv = 2 * (2 * L * nkv * d * 2 + 2 * nkv * d * 2)  # per layer: read K and V of L tokens, write the new one
    # activation elements per layer (read + write of each operator, docs/formulas.md 3.1)
    # add+norm 4H, qkv in/out, rope on q and k, attention reads q and writes o, o_proj in/out, add+norm 4H,
    # gate_up in/out, silu-and-mul reads 2F writes F, down in/out
    act_layer = 4 * H + (H + (nq + 2 * nkv) * d) + 2 * (nq + nkv) * d + nq * d + nq * d + (nq * d + H) \
        + 4 * H + (H + 2 * F) + 3 * F + (F + H)
    act = (2 * act_layer + H + 4 * H + (H + V)) * 2  # + embedding write, final add+norm, LM head in/out
    total_bytes = weights + kv + act
    kernels = 1 + 2 * 9 + 1 + 1  # embedding, 9 launches per layer (attention is one fused kernel), norm, head
    result = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=100, output_tokens=2)
    assert result.ideal_tpot_s == pytest.approx(total_bytes / 1e12, rel=1e-12)
    assert result.tpot_s == pytest.approx(total_bytes / (0.8 * 1e12) + kernels * 1e-6, rel=1e-12)
    assert result.tpot_final_s == pytest.approx(result.tpot_s, rel=1e-12)  # one decode step only
    assert result.bound == "memory"


def test_toy_prefill_flops_by_hand(toy_model, toy_hw):
    # 100 tokens x 2 FLOPs per weight of every layer matrix, causal attention (100*101/2 query-key pairs,
    # QK^T and PV each 2*heads*head_dim per pair), LM head on the last token only.
    H, F, V, S = 1024, 4096, 1000, 100
    linear = 2 * S * 2 * (H * 12 * 128 + 8 * 128 * H + 3 * H * F)
    attention = 2 * 2 * (2 * 8 * 128 * S * (S + 1) / 2)
    head = 2 * H * V
    result = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=S, output_tokens=1)
    assert result.prefill_flops == pytest.approx(linear + attention + head, rel=1e-12)


def neutral(name: str) -> HardwareSpec:
    """The database entry with round, stated factors and the shape physics switched off (no tile or wave
    quantization, no attention ramp, no memory ramp, no kernel floor) and no engine host work, so that hand
    derivations stay simple: 70% of peak FLOP/s (GEMMs and attention), 80% of peak bandwidth (weights and KV),
    2 us per kernel, compute and memory overlapping inside a kernel as in the plain roofline. The shape physics is
    checked on its own (tests/test_efficiency.py)."""
    hw = genmodel.get_hardware(name)
    arch = hw.microarchitecture.model_copy(update={
        "matrix_unit_rows": 1, "gemm_tile": [1, 1], "compute_units": None, "attention_half_tokens": 1e-9,
        "memory_ramp_bytes": 0, "kernel_floor_s": 0, "compute_memory_overlap": 1.0})
    eff = Efficiency(compute_efficiency=0.7, memory_efficiency=0.8, attention_efficiency=0.7,
                     kv_memory_efficiency=0.8, kernel_overhead_s=2e-6, step_overhead_s=0.0,
                     step_overhead_per_sequence_s=0.0, prefill_overhead_s=0.0)
    return hw.model_copy(update={"efficiency": eff, "microarchitecture": arch, "default_engine": "vendor"})


def test_decode_batch1_is_memory_bound_near_bytes_over_bandwidth():
    # Llama-3.1-8B bf16 on H100 SXM (3.35 TB/s datasheet, 80% achievable, no per-step overhead):
    # TPOT at the final context is (weights read + KV read) / (0.8 x 3.35 TB/s) + 291 kernel launches x 2 us;
    # activations add < 0.1%.
    model = genmodel.get_model("llama-3.1-8b")
    h100 = neutral("h100-sxm")
    I, O = 1024, 128
    weights_read = (model.total_params - model.embedding_params) * 2 + model.hidden_size * 2
    kv_read = model.kv_cache_bytes_per_token("bf16") * (I + O - 1)
    kernels = 1 + 32 * 9 + 2
    expected = (weights_read + kv_read) / (0.8 * 3.35e12) + kernels * 2e-6
    result = genmodel.estimate("llama-3.1-8b", h100, batch=1, input_tokens=I, output_tokens=O)
    assert result.bound == "memory"
    assert result.tpot_final_s == pytest.approx(expected, rel=0.002)
    assert result.ideal_tpot_final_s == pytest.approx((weights_read + kv_read) / 3.35e12, rel=0.002)
    assert result.ideal_tpot_s < result.tpot_s


def test_long_prefill_is_compute_bound():
    # Llama-3.1-8B, one 8192-token prompt on H100: FLOPs = 2 x S x (linear weights of 32 layers)
    # + causal attention 2 x 2 x heads x head_dim x S(S+1)/2 per layer + LM head for the last token.
    model = genmodel.get_model("llama-3.1-8b")
    S, H = 8192, 4096
    linear_per_layer = H * (32 + 2 * 8) * 128 + 32 * 128 * H + 3 * H * 14336
    flops = 2 * S * 32 * linear_per_layer + 32 * 4 * 32 * 128 * S * (S + 1) / 2 + 2 * H * 128256
    result = genmodel.estimate(model, neutral("h100-sxm"), batch=1, input_tokens=S, output_tokens=1)
    assert result.prefill_flops == pytest.approx(flops, rel=1e-9)
    assert result.prefill_bound == "compute"
    # every layer GEMM and the attention are compute-bound at 8192 tokens; the LM head (one token) reads its
    # 1.05 GB of weights; the element-wise kernels and the embedding gather are memory-bound:
    peak, bw = 0.7 * 989.4e12, 0.8 * 3.35e12  # the neutral factors
    compute = (flops - 2 * H * 128256) / peak
    elementwise_per_token_layer = (4 * H + 2 * (32 + 8) * 128 + 4 * H + 3 * 14336) * 2
    memory = (32 * S * elementwise_per_token_layer + 2 * S * H * 2 + 4 * H * 2 + 128256 * H * 2
              + (H + 128256) * 2) / bw
    kernels = 1 + 32 * 9 + 2
    assert result.ttft_s == pytest.approx(compute + memory + kernels * 2e-6, rel=1e-6)
    assert compute < result.ttft_s < 1.10 * compute  # the GEMM floor dominates


def test_kernel_floor_by_hand():
    # docs/formulas.md 5.1: a GPU kernel that does any work keeps the device busy for at least t_floor. Llama-3.1-8B
    # bf16, batch 1, one H100 (the neutral entry: 80% of 3.35 TB/s, compute and memory overlapping), the decode step
    # at 1,151 attended keys: the rows under 4 us are, per layer, the two fused add+RMSNorms (read x and residual,
    # write both: 4 x 4,096 x 2 bytes), rotary embedding on q and k (2 x (32 + 8) x 128 x 2 bytes), the attention
    # kernel, judged whole (its scores and values rows: the K and V of 1,151 keys x 8 KV heads x 128 x 2 bytes each,
    # the query read and the output written, 32 x 128 x 2 bytes each; its arithmetic hides under them) and
    # SiLU-and-multiply (3 x 14,336 x 2 bytes); then the embedding gather (one 4,096-wide row read, one written) and
    # the final norm. Each is raised to 4 us; nothing else moves (the smallest GEMM, the O projection's 33.5 MB, takes
    # 12.5 us).
    h100 = neutral("h100-sxm")
    floored = h100.model_copy(update={"microarchitecture": h100.microarchitecture.model_copy(
        update={"kernel_floor_s": 4e-6})})
    I, O = 1024, 128
    plain = genmodel.estimate("llama-3.1-8b", h100, batch=1, input_tokens=I, output_tokens=O).tpot_final_s
    raised = genmodel.estimate("llama-3.1-8b", floored, batch=1, input_tokens=I, output_tokens=O).tpot_final_s
    stream = 0.8 * 3.35e12
    norm, rope, act = 4 * 4096 * 2, 2 * (32 + 8) * 128 * 2, 3 * 14336 * 2
    attention = 2 * ((I + O - 1) * 8 * 128 * 2 + 32 * 128 * 2)
    per_layer = sum(4e-6 - b / stream for b in (norm, norm, rope, attention, act))
    model_rows = (4e-6 - 2 * 4096 * 2 / stream) + (4e-6 - norm / stream)
    assert raised - plain == pytest.approx(32 * per_layer + model_rows, rel=1e-6)
    # the shipped GPU kind has the floor (4 us, docs/validation.md history item 38); a kind without one (TPU) has none
    from genmodel.engine.efficiency import Physics
    assert Physics.of(genmodel.get_hardware("h100-sxm")).kernel_floor_s == 4e-6
    assert Physics.of(genmodel.get_hardware("tpu-v6e")).kernel_floor_s == 0.0


def test_calibrated_entry_uses_its_stored_factors_and_engine_step_costs():
    # the shipped h100-sxm entry carries fitted factors (docs/validation.md) and host costs per engine; its default
    # engine is vLLM. The batch-1 decode step then costs weights / (eta_m x 3.35 TB/s) + KV / (eta_kv x 3.35 TB/s)
    # + a memory ramp of 2 MiB / (eta_m x 3.35 TB/s) on each of the 291 kernels + 291 launch gaps
    # + a + b x 1 sequence (vLLM pads batch 1 to its CUDA-graph size 1, so no padding).
    # GPU kernels add their arithmetic to their data movement (overlap 0, docs/formulas.md 5.1): a one-row GEMM runs
    # as a GEMV on the vector units (66.9 TFLOP/s FP32 beats a 64-row wgmma padded 64 times: 989.4 / 64 = 15.5), so
    # each GEMM adds 2 x its weights / (eta_c x 66.9 TFLOP/s); decode attention adds its FLOPs (QK^T and PV, 2 x 32
    # heads x 128 x L each, per layer) / (eta_attn x 989.4 TFLOP/s).
    hw = genmodel.get_hardware("h100-sxm")
    eff = hw.efficiency
    assert eff.calibration is not None and "vllm" in eff.engines
    fit, profile = eff.engines["vllm"], genmodel.get_engine("vllm")
    # vLLM's fitted share of the family's bandwidth (memory_scale) multiplies both streaming fractions
    eta_m, eta_kv, bw = eff.memory_efficiency * fit.memory_scale, eff.kv_memory_efficiency * fit.memory_scale, 3.35e12
    model = genmodel.get_model("llama-3.1-8b")
    I, O = 1024, 128
    weights_read = (model.total_params - model.embedding_params) * 2 + model.hidden_size * 2
    kv_read = model.kv_cache_bytes_per_token("bf16") * (I + O - 1)
    kernels = 1 + 32 * 9 + 2
    ramp = 2 * 2**20 / (eta_m * bw)
    gemm_flops = 2 * (model.total_params - model.embedding_params)
    attention_flops = 32 * 2 * (2 * 32 * 128 * (I + O - 1))
    arithmetic = (gemm_flops / (eff.compute_efficiency * 66.9e12)
                  + attention_flops / (eff.attention_efficiency * 989.4e12))
    expected = (weights_read / (eta_m * bw) + kv_read / (eta_kv * bw) + kernels * (ramp + profile.kernel_overhead_s)
                + arithmetic + fit.step_overhead_s + fit.step_overhead_per_sequence_s)
    # and the kernels whose ramp and bytes take less than the GPU's 4 us floor are raised to it (formulas.md 5.1):
    # per layer the two add+RMSNorms, rotary, SiLU-and-multiply and the attention kernel, judged whole (one ramp; the
    # query read and the output written; the keys and the values at the KV fraction; QK^T and PV); the embedding
    # gather and the final norm
    def busy(nbytes, kv_bytes=0.0, flops=0.0):
        return (ramp + nbytes / (eta_m * bw) + kv_bytes / (eta_kv * bw)
                + flops / (eff.attention_efficiency * 989.4e12))
    per_layer = [busy(4 * 4096 * 2), busy(4 * 4096 * 2), busy(2 * 40 * 128 * 2), busy(3 * 14336 * 2),
                 busy(2 * 32 * 128 * 2, 2 * (I + O - 1) * 8 * 128 * 2, 2 * 2 * 32 * 128 * (I + O - 1))]
    expected += (32 * sum(max(4e-6 - t, 0.0) for t in per_layer)
                 + max(4e-6 - busy(2 * 4096 * 2), 0.0) + max(4e-6 - busy(4 * 4096 * 2), 0.0))
    result = genmodel.estimate("llama-3.1-8b", hw, batch=1, input_tokens=I, output_tokens=O)
    assert result.realism.engine == "vllm" and result.realism.origin.startswith("calibrated")
    assert result.tpot_final_s == pytest.approx(expected, rel=0.002)


def test_causal_masking_and_sliding_window_in_prefill():
    # Mistral-7B v0.1 has a 4096-token window on every layer: at S = 8192 each layer has
    # 4096*4097/2 + (8192-4096)*4096 query-key pairs, not S(S+1)/2 and not S^2.
    S, W = 8192, 4096
    pairs = W * (W + 1) / 2 + (S - W) * W
    result = genmodel.estimate("mistral-7b-v0.1", "h100-sxm", batch=1, input_tokens=S, output_tokens=1)
    df = result.breakdown("prefill")
    scores = df[df.operator == "attn_scores"].flops.sum()
    assert scores == pytest.approx(32 * 2 * 32 * 128 * pairs, rel=1e-12)


def test_lm_head_only_on_last_prompt_token_and_embedding_is_a_gather():
    model = genmodel.get_model("llama-3.1-8b")
    for S in (128, 4096):
        df = genmodel.estimate(model, "h100-sxm", batch=2, input_tokens=S, output_tokens=1).breakdown("prefill")
        head = df[df.operator == "lm_head"].row(0)
        assert head.flops == 2 * 2 * 4096 * 128256  # 2 sequences x one token each
        emb = df[df.operator == "embedding"].row(0)
        assert emb.flops == 0 and emb.weight_bytes == 2 * S * 4096 * 2  # reads one row per token


def test_moe_decode_reads_more_experts_as_batch_grows_and_saturates():
    # Mixtral-8x7B: 32 MoE layers, 8 experts of 3 x 4096 x 14336 weights, top-2. Expected distinct experts
    # for B tokens: 8 (1 - (6/8)^B). Expert weight bytes read per decode step (fp8) = 32 x that x expert size.
    expert = 3 * 4096 * 14336
    seen = []
    for B in (1, 2, 8, 64, 256):
        df = genmodel.estimate("mixtral-8x7b", "h200-sxm", batch=B, input_tokens=512, output_tokens=64,
                               weight_dtype="fp8").breakdown("decode")
        read = df[np.isin(df.operator, ["experts_up", "experts_down"])].weight_bytes.sum()
        assert read == pytest.approx(32 * 8 * (1 - 0.75**B) * expert, rel=1e-9)
        seen.append(read)
    assert seen[0] == pytest.approx(32 * 2 * expert)  # batch 1: only the top-2 experts
    assert all(a < b for a, b in itertools.pairwise(seen))
    assert seen[-1] == pytest.approx(32 * 8 * expert, rel=1e-12)  # all experts


def test_mla_decode_reads_only_the_latent_cache():
    # DeepSeek-V3 absorbed decode: attention reads L x (512 + 64) KV elements per layer per sequence.
    B, I, O = 4, 4000, 2  # one decode step at L = 4001
    df = genmodel.estimate("deepseek-v3", "h200-sxm", batch=B, input_tokens=I, output_tokens=O,
                           weight_dtype="fp8", kv_dtype="fp8", check_fit=False).breakdown("decode")
    read = df[df.operator == "attn_scores"].kv_bytes.sum() + df[df.operator == "attn_values"].kv_bytes.sum()
    assert read == pytest.approx(61 * B * 4001 * 576 * 1, rel=1e-12)


def test_moe_routing_and_mla_latent_norms_by_hand():
    # docs/formulas.md 3.1: an MoE layer's routing is two kernels (top-k, then the pairs grouped by expert) reading
    # the E scores and writing k ids and k weights per token, 4 bytes each; MLA's q_a_layernorm and kv_a_layernorm
    # are one kernel each, reading and writing their latents (1,536 and 512 wide in DeepSeek-V3; bf16 activations).
    # Decode, batch 4: 4 tokens; 58 MoE layers of 256 routed experts, top-8; 61 MLA layers.
    df = genmodel.estimate("deepseek-v3", "h200-sxm", batch=4, input_tokens=1000, output_tokens=2,
                           weight_dtype="fp8", check_fit=False).breakdown("decode")
    one = {name: df[df.operator == name] for name in ("moe_route", "router", "latent_norms", "rope")}
    route, norms = one["moe_route"], one["latent_norms"]
    assert route.instances.sum() == 58 and norms.instances.sum() == 61
    # totals over the layers: bytes, and launch gaps (two kernels where the router GEMM and rotary have one)
    assert route.activation_bytes.sum() == 58 * 4 * (256 + 2 * 8) * 4 and route.flops.sum() == 0
    assert route.overhead_s.sum() == pytest.approx(2 * one["router"].overhead_s.sum(), rel=1e-12)
    assert norms.activation_bytes.sum() == 61 * 2 * 4 * (1536 + 512) * 2
    assert norms.overhead_s.sum() == pytest.approx(2 * one["rope"].overhead_s.sum(), rel=1e-12)
    # DeepSeek-V2-Lite compresses only the KV latent (512 wide): one norm, one kernel
    lite = genmodel.estimate("deepseek-v2-lite", "h100-sxm", batch=1, input_tokens=100, output_tokens=2,
                             check_fit=False).breakdown("decode")
    ln, rope = lite[lite.operator == "latent_norms"], lite[lite.operator == "rope"]
    assert ln.activation_bytes.sum() == 27 * 2 * 512 * 2
    assert ln.overhead_s.sum() == pytest.approx(rope.overhead_s.sum(), rel=1e-12)


def test_bandwidth_what_if_halves_memory_time(toy_model, toy_hw):
    base = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=100, output_tokens=2)
    fast = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=100, output_tokens=2, bandwidth_scale=2.0)
    overhead = 21 * 1e-6  # 21 kernel launches (see test_toy_decode_step_by_hand)
    assert fast.tpot_s - overhead == pytest.approx((base.tpot_s - overhead) / 2, rel=1e-12)


def test_tpot_mean_is_the_average_of_single_steps(toy_model, toy_hw):
    # the mean decode step (closed form over attended keys) equals the explicit average of every step
    I, O = 50, 40
    mean = genmodel.estimate(toy_model, toy_hw, batch=3, input_tokens=I, output_tokens=O).tpot_s
    steps = [genmodel.estimate(toy_model, toy_hw, batch=3, input_tokens=I + j - 1, output_tokens=2).tpot_final_s
             for j in range(1, O)]
    assert mean == pytest.approx(np.mean(steps), rel=1e-12)


def test_two_tier_placement_splits_weights(toy_model):
    # fast tier holds 20 MB at 10 TB/s, the rest spills into a 0.1 TB/s tier: time adds per tier.
    hw = HardwareSpec.model_validate({
        "name": "two-tier", "display_name": "two tier", "vendor": "test", "kind": "dataflow",
        "peak_flops_per_s": {"bf16": "100 TFLOPS"},
        "memory_tiers": [
            {"name": "SRAM", "capacity_bytes": "20 MB", "bandwidth_bytes_per_s": "10 TB/s"},
            {"name": "DDR", "capacity_bytes": "100 GB", "bandwidth_bytes_per_s": "0.1 TB/s"}],
        "efficiency": {"usable_memory_fraction": 1.0}, "source": "test"})
    result = genmodel.estimate(toy_model, hw, batch=1, input_tokens=100, output_tokens=2)
    weights = toy_model.total_params * 2
    frac_fast = 20e6 / weights
    df = result.breakdown("decode")
    gate = df[df.operator == "ffn_gate_up"].row(0)  # weights only, no KV; activations tiny
    expected = gate.weight_bytes * (frac_fast / 10e12 + (1 - frac_fast) / 0.1e12)
    assert gate.ideal_time_s == pytest.approx(expected, rel=0.01)


def test_vectorized_matches_scalar_loop():
    batch = np.array([1, 8, 64])
    inputs = np.array([[128], [2048]])
    many = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=batch, input_tokens=inputs, output_tokens=100)
    assert many.metrics["tpot_s"].shape == (2, 3)
    for r, i in enumerate(inputs[:, 0]):
        for c, b in enumerate(batch):
            one = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=int(b), input_tokens=int(i),
                                    output_tokens=100, check_fit=False)
            for key in ("ttft_s", "tpot_s", "e2e_latency_s", "kv_cache_bytes", "max_batch", "max_context_tokens"):
                assert many.metrics[key][r, c] == pytest.approx(one.metrics[key]), key
            assert many.metrics["bound"][r, c] == one.bound


def test_throughput_definitions(toy_model, toy_hw):
    r = genmodel.estimate(toy_model, toy_hw, batch=4, input_tokens=100, output_tokens=50)
    assert r.e2e_latency_s == pytest.approx(r.ttft_s + 49 * r.tpot_s)
    assert r.output_tokens_per_s == pytest.approx(4 * 50 / r.e2e_latency_s)
    assert r.total_tokens_per_s == pytest.approx(4 * 150 / r.e2e_latency_s)


def test_breakdown_splits_bytes_by_tier_and_workload_spec_is_accepted():
    # GH200: 0.9 x 144 GiB of HBM3e less the 1.5 GiB runtime reservation; the rest of Llama-3.1-70B's 141 GB bf16
    # weights spill to LPDDR5X
    r = genmodel.estimate("llama-3.1-70b", "gh200", batch=1, input_tokens=512, output_tokens=8)
    df = r.breakdown("decode")
    tiers = [c for c in df.columns if c.startswith("bytes_")]
    assert len(tiers) == 2
    moved = df.weight_bytes + df.kv_bytes + df.activation_bytes
    assert np.allclose(sum(df[t] for t in tiers), moved)
    hbm = 0.9 * genmodel.get_hardware("gh200").memory[0].capacity_bytes - 1.5 * 2**30
    spill = r.weights_bytes - hbm
    # weights fill HBM first, so the KV cache and activations (placed after them) land in LPDDR5X too
    expected_slow = spill / r.weights_bytes * df.weight_bytes.sum() + df.kv_bytes.sum() + df.activation_bytes.sum()
    assert df[tiers[1]].sum() == pytest.approx(expected_slow, rel=1e-9)
    workload = genmodel.Workload(batch=4, input_tokens=100, output_tokens=10, weight_dtype="fp8")
    via_spec = genmodel.estimate("llama-3.1-8b", "h100-sxm", workload=workload)
    direct = genmodel.estimate("llama-3.1-8b", "h100-sxm", 4, 100, 10, "fp8")
    assert via_spec.to_dict() == direct.to_dict()


def test_scale_arrays_broadcast_against_scalar_workloads():
    # a what-if grid over compute and bandwidth scales with one scalar workload: each cell equals a scalar call
    fs, bs = np.array([[0.5], [1.0], [2.0]]), np.array([[0.8, 1.0, 1.25, 1.5]])
    grid = genmodel.estimate("llama-3.1-8b", "h100-sxm", 4, 512, 64, flops_scale=fs, bandwidth_scale=bs)
    assert grid.metrics["ttft_s"].shape == (3, 4)
    one = genmodel.estimate("llama-3.1-8b", "h100-sxm", 4, 512, 64, flops_scale=2.0, bandwidth_scale=1.25)
    assert grid.metrics["ttft_s"][2, 2] == pytest.approx(one.ttft_s)
    assert grid.metrics["tpot_s"][2, 2] == pytest.approx(one.tpot_s)
