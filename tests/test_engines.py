"""Serving-engine profiles (engines_db/, docs/formulas.md section 5.2): which engine a device gets, the host work
a + b x sequences (+ c per prefill step), and the shapes engines pad to."""

import numpy as np
import pytest

import genmodel
from genmodel.engine.realism import default_engine_name, resolve_engine
from genmodel.errors import UnknownNameError
from genmodel.specs.engine import EngineSpec


def _engine(**fields) -> EngineSpec:
    base = {"name": "test-engine", "display_name": "Test", "step_overhead_s": 0.0, "kernel_overhead_s": 0.0,
            "source": "test"}
    return EngineSpec.model_validate({**base, **fields})


@pytest.mark.parametrize(("device", "engine"), [
    ("h100-sxm", "vllm"), ("mi300x", "vllm"), ("gaudi2", "optimum-habana"), ("inferentia2", "neuron"),
    ("xeon-6980p", "llamacpp"), ("apple-m4-max", "llamacpp"), ("cerebras-wse-3", "vendor")])
def test_the_usual_engine_of_each_device(device, engine):
    hw = genmodel.get_hardware(device)
    assert resolve_engine(hw).name == engine
    assert genmodel.estimate("llama-3.1-8b", device, check_fit=False).realism.engine == engine


def test_tpus_default_to_jetstream_and_vllm_means_its_tpu_backend():
    tpu = genmodel.get_hardware("tpu-v6e")
    assert default_engine_name(tpu) in ("jetstream", "vllm-tpu", "sgl-jax")
    assert resolve_engine(tpu, "vllm").name == "vllm-tpu"


def test_every_profile_has_a_source_and_sane_costs():
    engines = genmodel.all_engines()
    assert {"vllm", "trtllm", "sglang", "llamacpp", "neuron", "jetstream", "lmdeploy", "vendor"} <= set(engines)
    for e in engines.values():
        assert e.source and 0 <= e.step_overhead_s < 0.05 and 0 <= e.kernel_overhead_s < 2e-5, e.name


def test_unknown_engine_is_a_clear_error():
    with pytest.raises(UnknownNameError, match="genmodel engines"):
        genmodel.estimate("llama-3.1-8b", "h100-sxm", engine="vlm")


def test_host_work_per_step_by_hand(toy_model, toy_hw):
    # batch 4, 100 in, 2 out: one prefill step and one decode step. The engine adds a + b x 4 to the decode step and
    # a + b x 4 + c to the prefill step: a = 1 ms, b = 10 us, c = 2 ms.
    none = genmodel.estimate(toy_model, toy_hw, batch=4, input_tokens=100, output_tokens=2, engine="vendor")
    host = _engine(step_overhead_s=1e-3, step_overhead_per_sequence_s=10e-6, prefill_overhead_s=2e-3)
    with_host = genmodel.estimate(toy_model, toy_hw, batch=4, input_tokens=100, output_tokens=2, engine=host)
    assert with_host.tpot_s - none.tpot_s == pytest.approx(1e-3 + 4 * 10e-6, rel=1e-9)
    assert with_host.ttft_s - none.ttft_s == pytest.approx(1e-3 + 4 * 10e-6 + 2e-3, rel=1e-9)
    assert with_host.realism.step_overhead_per_sequence_s == 10e-6


def test_an_eager_prefill_lasts_at_least_its_kernels_host_time_by_hand(toy_model, toy_hw):
    # The toy model's prefill launches 21 kernels: per layer the two add-norms, qkv_proj, rope, fused attention
    # (scores and values, one kernel), o_proj, gate_up, the activation and down (9) x 2 layers, plus the embedding,
    # the final norm and the LM head. Its device time is 158.52 us (the rows' sum, vendor runtime: no host work).
    # At 10 us of host time per kernel the host needs 210 us to issue them: the device waits 51.48 us and TTFT is
    # 210 us; at 5 us (105 us) the device is the slower one and nothing changes. Decode steps replay graphs.
    kw = dict(batch=1, input_tokens=100, output_tokens=2)
    device = genmodel.estimate(toy_model, toy_hw, engine="vendor", **kw)
    assert device.ttft_s == pytest.approx(158.522116e-6, rel=1e-9)
    eager = genmodel.estimate(toy_model, toy_hw, engine=_engine(eager_launch_s=10e-6), **kw)
    assert eager.ttft_s == pytest.approx(21 * 10e-6, rel=1e-9)
    assert eager.tpot_s == device.tpot_s
    rows = {r.operator: r.time_s for r in eager.breakdown("prefill").rows()}
    assert rows["eager launches"] == pytest.approx(21 * 10e-6 - 158.522116e-6, rel=1e-9)
    assert sum(rows.values()) == pytest.approx(eager.ttft_s, rel=1e-12)
    assert eager.metrics["prefill_bound"] == "overhead" != device.metrics["prefill_bound"]  # the host binds it
    fast = genmodel.estimate(toy_model, toy_hw, engine=_engine(eager_launch_s=5e-6), **kw)
    assert fast.ttft_s == device.ttft_s and fast.metrics["prefill_bound"] == device.metrics["prefill_bound"]


def test_a_served_step_carrying_prompts_runs_eagerly_and_a_decode_step_does_not(toy_model, toy_hw):
    # one request at a time (a closed loop of 1 client): the prompt's step is eager, the decode steps are not. A
    # served step is a decode step carrying prompt chunks (docs/serving.md): with no sequence decoding its decode
    # attention rows do no work and launch nothing, and per layer the chunk's fused attention takes their place: the
    # static prefill's 21 kernels, 21 x 10 us = 210 us, the device taking less (23 kernels before history item 61,
    # when those rows still read the riding prompt's queries)
    kw = dict(input_tokens=100, output_tokens=64, concurrency=1)
    device = genmodel.serve(toy_model, toy_hw, engine="vendor", **kw)
    eager = genmodel.serve(toy_model, toy_hw, engine=_engine(eager_launch_s=10e-6), **kw)
    assert float(eager.metrics["ttft_mean_s"]) == pytest.approx(21 * 10e-6, rel=1e-6)
    assert float(device.metrics["ttft_mean_s"]) < 200e-6  # (the device alone: 161.5 us)
    assert float(eager.metrics["tpot_mean_s"]) == pytest.approx(float(device.metrics["tpot_mean_s"]), rel=1e-9)


def test_decode_steps_run_eagerly_without_graphs_and_above_the_largest_captured_batch_by_hand(toy_model, toy_hw):
    # A decode step of the toy model launches 21 kernels, as its prefill does (the decode attention's scores and
    # values are one fused kernel). At 10 us of host time per kernel an eager decode step lasts 210 us; the device
    # alone takes about 100 us at batch 1 to 9 (the vendor runtime's TPOT: the rows' sum, no host work): the host
    # binds an eager step.
    kw = dict(input_tokens=100, output_tokens=2)
    device = {b: genmodel.estimate(toy_model, toy_hw, batch=b, engine="vendor", **kw) for b in (1, 2, 8, 9)}
    assert all(90e-6 < d.tpot_s < 110e-6 for d in device.values())
    # graphs off ('none': vLLM --enforce-eager): every step is eager, the prompt's too
    off = genmodel.estimate(toy_model, toy_hw, batch=1, engine=_engine(eager_launch_s=10e-6, graph_steps="none"), **kw)
    assert off.tpot_s == pytest.approx(21 * 10e-6, rel=1e-9) and off.ttft_s == pytest.approx(21 * 10e-6, rel=1e-9)
    assert off.metrics["bound"] == "overhead"
    rows = {r.operator: r.time_s for r in off.breakdown("decode").rows()}
    assert rows["eager launches"] == pytest.approx(21 * 10e-6 - device[1].tpot_s, rel=1e-6)
    # decode graphs captured for 1, 2, 4 and 8 sequences: batch 8 replays its graph, batch 9 has none and is eager
    graphs = {"eager_launch_s": 10e-6, "decode_batch_buckets": [1, 2, 4, 8]}
    for mode in ("decode", "all"):
        at = {b: genmodel.estimate(toy_model, toy_hw, batch=b, engine=_engine(graph_steps=mode, **graphs), **kw)
              for b in (8, 9)}
        assert at[8].tpot_s == pytest.approx(device[8].tpot_s, rel=1e-9)
        assert at[9].tpot_s == pytest.approx(21 * 10e-6, rel=1e-9)
    # 'all' (vLLM's piecewise graphs): the prompt step replays a graph too; 'decode' (SGLang): it is eager
    one = {m: genmodel.estimate(toy_model, toy_hw, batch=1, engine=_engine(graph_steps=m, **graphs), **kw)
           for m in ("decode", "all")}
    assert one["all"].ttft_s == pytest.approx(device[1].ttft_s, rel=1e-9)
    assert one["decode"].ttft_s == pytest.approx(21 * 10e-6, rel=1e-9)
    # many configurations at once: the same numbers, element by element
    many = genmodel.estimate(toy_model, toy_hw, batch=np.array([1, 8, 9, 2, 9]),
                             engine=_engine(graph_steps="decode", **graphs), **kw)
    expected = [device[1].tpot_s, device[8].tpot_s, 210e-6, device[2].tpot_s, 210e-6]
    assert np.allclose(many.tpot_s, expected, rtol=1e-9)


def test_sglang_picks_its_largest_decode_graph_by_device_memory_and_tp():
    # SGLang's server arguments (python/sglang/srt/server_args.py): cuda_graph_max_bs 24 (TP < 4) or 80 below 35 GiB,
    # 32 or 160 below 60 GiB, 256 or 512 below 160 GiB, 512 above
    from genmodel.engine.step import graph_max_seqs

    sglang = genmodel.get_engine("sglang")
    cases = {("l4", 1): 24, ("l4", 4): 80, ("a100-40gb-sxm", 2): 32, ("a100-40gb-sxm", 8): 160,
             ("h100-sxm", 1): 256, ("h100-sxm", 4): 512, ("h200-sxm", 2): 256, ("b200", 1): 512}
    for (device, tp), largest in cases.items():
        assert graph_max_seqs(sglang, genmodel.get_hardware(device), tp) == largest, (device, tp)
    by_tp = graph_max_seqs(sglang, genmodel.get_hardware("h100-sxm"), np.array([1, 2, 4, 8]))
    assert list(by_tp) == [256, 256, 512, 512]
    # vLLM captures the same sizes everywhere (up to 512)
    assert graph_max_seqs(genmodel.get_engine("vllm"), genmodel.get_hardware("l4"), 1) == 512
    # on one H100 a Llama-3.2-1B decode batch of 300 (about 4 ms of device time) has no graph: its 147 kernels
    # (16 layers x 9 + 3) at 65 us, 9.6 ms, bind it, and its linear layers run unpadded (300, not the 304 of the
    # list); Llama-3.1-70B on eight (TP 8) replays the 304-sequence graph
    kw = dict(batch=300, input_tokens=128, output_tokens=32)
    one = genmodel.estimate("llama-3.2-1b", "h100-sxm", engine="sglang", **kw)
    rows = {r.operator: r.flops for r in one.breakdown("decode").rows()}
    vendor = genmodel.estimate("llama-3.2-1b", "h100-sxm", engine="vendor", **kw)
    assert one.tpot_s == pytest.approx(147 * 65e-6 + float(one.realism.step_overhead_s)
                                       + 300 * float(one.realism.step_overhead_per_sequence_s), rel=1e-6)
    assert rows["qkv_proj"] == pytest.approx(next(r.flops for r in vendor.breakdown("decode").rows()
                                                  if r.operator == "qkv_proj"))
    assert "eager launches" in rows and one.metrics["bound"] == "overhead"
    eight = genmodel.estimate("llama-3.1-70b", "h100-sxm", tp=8, engine="sglang", **kw)
    assert "eager launches" not in {r.operator for r in eight.breakdown("decode").rows()}
    padded = {r.operator: r.flops for r in eight.breakdown("decode").rows()}["qkv_proj"]
    plain = {r.operator: r.flops for r in genmodel.estimate("llama-3.1-70b", "h100-sxm", tp=8, engine="vendor",
                                                             **kw).breakdown("decode").rows()}["qkv_proj"]
    assert padded == pytest.approx(plain * 304 / 300)


def test_an_eager_variant_of_a_profile_by_name():
    eager = genmodel.get_engine("sglang+eager")
    base = genmodel.get_engine("sglang")
    assert eager.graph_steps == "none" and base.graph_steps == "decode"
    assert eager.name == base.name and eager.eager_launch_s == base.eager_launch_s  # its fitted costs stay its own
    assert genmodel.get_engine("SGLang+eager") is eager  # one copy per profile
    # Llama-3.1-8B decode on one H100: 291 kernels x 65 us = 18.9 ms of host time, above the device's few ms
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", engine="sglang+eager")
    host = genmodel.estimate("llama-3.1-8b", "h100-sxm", engine="sglang")
    assert r.tpot_s - host.tpot_s > 10e-3
    assert r.tpot_s == pytest.approx(291 * 65e-6 + float(r.realism.step_overhead_s)
                                     + float(r.realism.step_overhead_per_sequence_s), rel=1e-6)
    with pytest.raises(genmodel.GenmodelError, match=r"no figure for eager steps.*sglang\+eager"):
        genmodel.get_engine("trtllm+eager")
    # every output names the variant, and a comparison does not take it for the profile with graphs
    assert r.realism.engine_label == "sglang+eager" and host.realism.engine_label == "sglang"
    assert r.realism.key() != host.realism.key() and "sglang+eager:" in r.realism.describe()
    served = genmodel.serve("llama-3.1-8b", "h100-sxm", engine="sglang+eager", concurrency=2)
    assert served.engine == "sglang+eager"
    # its bands: the engine's, widened 1.25x about their middle in log error (few held-out rows ran without graphs)
    lo, hi = r.metrics["tpot_s_low"], r.metrics["tpot_s_high"]
    base_lo, base_hi = host.metrics["tpot_s_low"] / host.tpot_s, host.metrics["tpot_s_high"] / host.tpot_s
    assert np.log(hi / lo) == pytest.approx(1.25 * np.log(base_hi / base_lo), rel=1e-9)
    assert "graphs off (sglang+eager): widened 1.25x" in r.to_dict()["bands"]["decode"]["basis"]


def _decode_flops(toy_model, toy_hw, batch, engine, operator="qkv_proj"):
    r = genmodel.estimate(toy_model, toy_hw, batch=batch, input_tokens=100, output_tokens=2, engine=engine)
    return next(row.flops for row in r.breakdown("decode").rows() if row.operator == operator)


def test_graph_capturing_engines_pad_the_decode_batch(toy_model, toy_hw):
    # captured graph sizes 1, 2, 4, 8: a decode step with 3 sequences runs the linear layers of the 4-sequence
    # graph; attention reads only the 3 real sequences' KV cache
    graphs = _engine(decode_batch_buckets=[1, 2, 4, 8])
    assert _decode_flops(toy_model, toy_hw, 3, graphs) == pytest.approx(_decode_flops(toy_model, toy_hw, 4, "vendor"))
    assert _decode_flops(toy_model, toy_hw, 3, graphs, "attn_scores") == pytest.approx(
        _decode_flops(toy_model, toy_hw, 3, "vendor", "attn_scores"))
    # past the largest captured size there is no graph and no padding
    assert _decode_flops(toy_model, toy_hw, 9, graphs) == pytest.approx(_decode_flops(toy_model, toy_hw, 9, "vendor"))


def test_compiled_engines_pad_batch_and_prompt_to_powers_of_two(toy_model, toy_hw):
    compiled = _engine(batch_buckets="pow2", prompt_buckets="pow2", min_prompt_bucket=128)
    # batch 5 computes as 8 (every operator, attention included)
    assert _decode_flops(toy_model, toy_hw, 5, compiled, "attn_scores") == pytest.approx(
        _decode_flops(toy_model, toy_hw, 8, "vendor", "attn_scores"))
    # a 300-token prompt is prefilled as 512; a 50-token prompt as the smallest bucket, 128

    def prefill_flops(engine, prompt):
        return genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=prompt, output_tokens=1,
                                 engine=engine).prefill_flops

    assert prefill_flops(compiled, 300) == pytest.approx(prefill_flops("vendor", 512))
    assert prefill_flops(compiled, 50) == pytest.approx(prefill_flops("vendor", 128))


def test_gaudi_stacks_bucket_batch_and_prompt_in_steps_above_a_power_of_two_ramp(toy_model, toy_hw):
    # vLLM-HPU's bucketing (the optimum-habana profile): powers of two up to the step, then multiples of it; batch
    # step 32, prompt step 128 from a 128-token minimum (HabanaAI/vllm-fork's 1.17 Gaudi documentation)
    gaudi = genmodel.get_engine("optimum-habana")
    assert (gaudi.batch_buckets, gaudi.batch_bucket_step) == ("step", 32)
    assert (gaudi.prompt_buckets, gaudi.prompt_bucket_step, gaudi.min_prompt_bucket) == ("step", 128, 128)
    stepped = _engine(batch_buckets="step", batch_bucket_step=32, prompt_buckets="step", prompt_bucket_step=128)
    # batches 5 -> 8 and 20 -> 32 (the ramp), 33 -> 64, 2,429 -> 2,432 (multiples of 32; powers of two: 4,096),
    # every operator, attention included
    for batch, padded in ((5, 8), (20, 32), (33, 64), (2429, 2432)):
        assert _decode_flops(toy_model, toy_hw, batch, stepped, "attn_scores") == pytest.approx(
            _decode_flops(toy_model, toy_hw, padded, "vendor", "attn_scores"))

    def prefill_flops(engine, prompt):
        return genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=prompt, output_tokens=1,
                                 engine=engine).prefill_flops

    # prompts 50 -> 128 (the minimum), 300 -> 384 and 2,100 -> 2,176 (multiples of 128; powers of two: 512, 4,096)
    for prompt, padded in ((50, 128), (300, 384), (2100, 2176)):
        assert prefill_flops(stepped, prompt) == pytest.approx(prefill_flops("vendor", padded))


def test_engine_choice_changes_only_what_the_engine_owns():
    # same device, same factors for the chip; vLLM and TensorRT-LLM differ in host work and their fitted bandwidth
    v = genmodel.estimate("llama-3.1-8b", "h100-sxm", engine="vllm").realism
    t = genmodel.estimate("llama-3.1-8b", "h100-sxm", engine="trtllm").realism
    assert v.compute_efficiency == t.compute_efficiency and v.engine != t.engine
    assert (v.step_overhead_s, v.step_overhead_per_sequence_s) != (t.step_overhead_s, t.step_overhead_per_sequence_s)


def test_neuron_pads_heads_per_rank():
    # Llama-2-7B (32 heads, 32 KV heads, head_dim 128, hidden 4096, 32 layers) on 12 Inferentia2 chips = 24
    # NeuronCore ranks (tp 12 x 2): each rank gets ceil(32 / 24) = 2 whole query heads and 2 KV heads, so a chip holds
    # 4 + 4 (48 heads in all, 16 of them zero padding). Decode streams those weights: QKV 4096 x 128 x (4 + 2 x 4)
    # x 2 B per layer, O 4 x 128 x 4096 x 2 B per layer.
    r = genmodel.estimate("llama-2-7b", "inferentia2", tp=12, batch=1, input_tokens=256, output_tokens=64)
    assert r.realism.engine == "neuron"
    rows = {x.operator: x for x in r.breakdown("decode").rows()}
    assert rows["qkv_proj"].weight_bytes == 4096 * 128 * (4 + 2 * 4) * 2 * 32
    assert rows["o_proj"].weight_bytes == 4 * 128 * 4096 * 2 * 32
    # engines that do not pad still refuse a tp that does not divide the heads
    with pytest.raises(genmodel.ConfigurationError, match="does not divide the 32 attention heads"):
        genmodel.estimate("llama-2-7b", "h100-sxm", tp=12)


def test_padding_replicates_kv_heads_to_every_rank():
    # Llama-3.1-70B (64 heads, 8 KV heads) on 16 Trainium2 chips at 4 logical cores each = 64 ranks: one query head
    # per rank (as 64 / 16 without padding) but one KV head per rank too, replicated: 4 per chip, not 8 / 16 -> 1.
    # KV cache per token per chip: 2 (K and V) x 4 heads x 128 x 2 B x 80 layers = 163,840 B.
    from genmodel.engine.memory import kv_bytes_per_token_per_layer
    from genmodel.engine.parallel import Parallelism

    model = genmodel.get_model("llama-3.1-70b")
    padded = Parallelism(tp=16, head_ranks=4)
    assert padded.heads_per_device(64) == 4 and padded.kv_heads_per_device(8) == 4
    assert kv_bytes_per_token_per_layer(model, "bf16", padded) * 80 == 163_840
    assert kv_bytes_per_token_per_layer(model, "bf16", Parallelism(tp=16)) * 80 == 2 * 1 * 128 * 2 * 80
    r = genmodel.estimate("llama-3.1-70b", "trainium2", tp=16, batch=1, input_tokens=1024, output_tokens=16)
    assert r.parallel.head_ranks == 4


def test_a_rows_engine_profile_from_its_column_or_its_system_text():
    from genmodel.validation.rows import engine_of

    # the 2023 optimum-neuron generate loop is its own profile, not AWS Neuron's tables nor Gaudi's optimum-habana
    assert engine_of({"engine": "optimum-neuron"}) == "optimum-neuron"
    assert engine_of({"engine": "", "system": "optimum-neuron NeuronModelForCausalLM.generate"}) == "optimum-neuron"
    assert engine_of({"engine": "", "system": "transformers-neuronx on inf2"}) == "neuron"
    assert engine_of({"engine": "", "system": "Optimum Habana run_generation.py"}) == "optimum-habana"
    assert engine_of({"engine": "cerebras"}) == "vendor"
    # AutoAWQ's runs: the GEMM kernel's profile, and the GEMV kernel's own (not fitted) profile
    assert engine_of({"engine": "other", "system": "AutoAWQ 0.1.6 fused modules (HF transformers + AWQ GEMM kernel)"}) \
        == "autoawq"
    assert engine_of({"engine": "other", "system": "AutoAWQ 0.1.6 fused modules (HF transformers + AWQ GEMV kernel)"}) \
        == "autoawq-gemv"
    assert engine_of({"engine": "", "system": "a homemade server"}) is None
    # AMD ATOM (its benchmark client names vLLM's backend; "atom" is a whole word, not part of "atomic")
    atom = "ATOM 2f713064; python -m atom.entrypoints.openai_server --max-num-batched-tokens 20000; --backend=vllm"
    assert engine_of({"engine": "other", "system": atom}) == "atom"
    assert engine_of({"engine": "", "system": "vLLM 0.9 with atomic KV updates"}) == "vllm"


def test_atom_runs_whole_prompts_in_prefill_steps_of_their_own_and_takes_vllms_flags():
    # ROCm/ATOM's scheduler to 2026-05 (atom/model_engine/scheduler.py): a step is a prefill batch of whole prompts
    # up to max_num_batched_tokens (16,384 by default, atom/config.py) or a decode batch; 16-token KV blocks
    from genmodel.validation.rows import _engine_as_run

    atom = genmodel.get_engine("atom")
    assert (atom.mixed_batches, atom.chunked_prefill, atom.max_batch_tokens, atom.max_seqs,
            atom.kv_block_tokens) == (False, False, 16384, 512, 16)
    run = _engine_as_run("atom", "python -m atom.entrypoints.openai_server --max-num-batched-tokens 20000 "
                         "--max-num-seqs 64")
    assert (run.name, run.max_batch_tokens, run.max_seqs) == ("atom", 20000, 64)


def test_sglangs_running_request_cap_is_read_from_a_validation_row():
    # SGLang's --max-running-requests N caps the running sequences as vLLM's --max-num-seqs does (server_args.py);
    # its profile's own cap is the KV pool's (None)
    from genmodel.validation.rows import _engine_as_run

    assert genmodel.get_engine("sglang").max_seqs is None
    run = _engine_as_run("sglang", "python3 -m sglang.launch_server --max-running-requests 64 "
                         "--mem-fraction-static 0.85; continuous")
    assert (run.name, run.max_seqs) == ("sglang", 64)
    assert _engine_as_run("sglang", "python3 -m sglang.launch_server --max-num-seqs 64") == "sglang"  # vLLM's flag


def test_a_validation_rows_graph_flags_pick_the_engines_graph_steps():
    # the flags of the engines' own command lines (vLLM --enforce-eager and its Python argument, SGLang's
    # --disable-cuda-graph, --cuda-graph-max-bs and --enable-piecewise-cuda-graph)
    from genmodel.validation.rows import _engine_as_run

    assert _engine_as_run("vllm", "vllm serve M --enforce-eager; continuous").graph_steps == "none"
    assert _engine_as_run("vllm", "vLLM 0.6.3 offline, enforce_eager=True; static").graph_steps == "none"
    assert _engine_as_run("vllm", "vLLM 0.6.3 offline, enforce_eager=False; static") == "vllm"
    assert _engine_as_run("sglang", "launch_server --tp 8 --disable-cuda-graph").graph_steps == "none"
    assert _engine_as_run("sglang", "launch_server --disable-cuda-graph-padding") == "sglang"  # another flag
    assert _engine_as_run("sglang", "launch_server --enable-piecewise-cuda-graph").graph_steps == "all"
    capped = _engine_as_run("sglang", "launch_server --cuda-graph-max-bs 8")
    assert capped.decode_batch_buckets == [1, 2, 4, 8] and capped.graph_steps == "decode"
    assert capped.decode_graph_limits == []  # the stated size, not the engine's own pick by device and TP
    assert _engine_as_run("sglang", "launch_server --cuda-graph-max-bs 10").decode_batch_buckets == [1, 2, 4, 8, 10]
    # above the profile's largest size (512, in steps of 16 before it) the list goes on in its last step
    wide = _engine_as_run("sglang", "launch_server --cuda-graph-max-bs 560").decode_batch_buckets
    assert wide[-4:] == [512, 528, 544, 560] and len(wide) == len(set(wide))
    # an engine with no eager figure is left as it is (nothing to time the eager steps with)
    assert _engine_as_run("trtllm", "trtllm-serve --enforce-eager") == "trtllm"


def test_a_graph_flag_named_to_say_it_was_not_given_is_not_read_as_given():
    # the twenty-sixth and twenty-seventh independent rounds' texts said "CUDA graphs at vLLM default (no
    # --enforce-eager stated)" and "ASSUMED: same command without --enable-piecewise-cuda-graph"; read as the flags,
    # 20 static vLLM rows of Llama-3.1-8B on an H100 were priced eager (0.387 s predicted against 0.236 s measured at
    # batch 1, 0.245 s as run with graphs)
    from genmodel.validation.rows import _engine_as_run

    assert _engine_as_run("vllm", "benchmark_latency.py; CUDA graphs at vLLM default (no --enforce-eager stated)") \
        == "vllm"
    assert _engine_as_run("sglang", "launch_server (ASSUMED: same command without --enable-piecewise-cuda-graph)") \
        == "sglang"
    assert _engine_as_run("sglang", "launch_server, not --disable-cuda-graph") == "sglang"
    # a negating word that is part of another flag, or in an earlier clause, does not hide the flag
    assert _engine_as_run("vllm", "vllm serve M --no-enable-prefix-caching --enforce-eager").graph_steps == "none"
    assert _engine_as_run("sglang", "no speculative decoding; --disable-cuda-graph").graph_steps == "none"
    assert _engine_as_run("sglang", "launch_server without --tp; --enable-piecewise-cuda-graph").graph_steps == "all"


def test_weight_only_gemms_run_at_the_engines_weight_only_scale():
    # Llama-2-7B with int4 weights and fp16 activations, a 2,048-token prefill on one RTX 4090 (165.2 TFLOP/s fp16
    # dense, 128 SMs), uncalibrated: qkv_proj is a 2,048 x 12,288 x 4,096 GEMM per layer, whole 128 x 128 tiles
    # (16 x 96 = 1,536 tiles = 12 full waves on 128 SMs), so its fraction is the GPU default 0.80 times AutoAWQ's
    # weight_only_scale 0.45 (the AWQ GEMM kernel at about 1 / 2.2 of FP16, vLLM pull request 2566):
    # 2 x 2,048 x 12,288 x 4,096 x 32 layers / (165.2e12 x 0.80 x 0.45) = 0.1109 s
    autoawq = genmodel.get_engine("autoawq")
    assert autoawq.weight_only_scale == 0.45 and genmodel.get_engine("vllm").weight_only_scale == 0.7
    kw = dict(batch=1, input_tokens=2048, output_tokens=2, calibrated=False)
    rows = {x.operator: x for x in genmodel.estimate("llama-2-7b", "rtx-4090", weight_dtype="int4", engine=autoawq,
                                                     **kw).breakdown("prefill").rows()}
    flops = 2 * 2048 * 12288 * 4096 * 32
    assert rows["qkv_proj"].flops == flops
    assert rows["qkv_proj"].compute_s == pytest.approx(flops / (165.2e12 * 0.80 * 0.45), rel=1e-12)
    # the same engine with weight_only_scale 1: every weight-only GEMM 1 / 0.45 faster in compute, attention as is
    plain = {x.operator: x for x in genmodel.estimate(
        "llama-2-7b", "rtx-4090", weight_dtype="int4", engine=autoawq.model_copy(update={"weight_only_scale": 1.0}),
        **kw).breakdown("prefill").rows()}
    for name in ("qkv_proj", "o_proj", "ffn_gate_up", "ffn_down"):
        assert rows[name].compute_s == pytest.approx(plain[name].compute_s / 0.45, rel=1e-12)
    assert rows["attn_scores"].compute_s == plain["attn_scores"].compute_s
    # 16-bit weights are not weight-only quantized: the scale does not apply
    bf16 = [genmodel.estimate("llama-2-7b", "rtx-4090", engine=e, **kw).ttft_s
            for e in (autoawq, autoawq.model_copy(update={"weight_only_scale": 1.0}))]
    assert bf16[0] == bf16[1]
    # the kernels were rated dequantizing to 16-bit activations: fp4 weights with fp8 activations are not scaled
    w4a8 = [genmodel.estimate("llama-2-7b", "h100-sxm", weight_dtype="fp4", activation_dtype="fp8", engine=e,
                              **kw).ttft_s for e in (autoawq, autoawq.model_copy(update={"weight_only_scale": 1.0}))]
    assert w4a8[0] == w4a8[1]


def test_a_bad_engine_file_names_the_engine_argument_and_the_field(tmp_path):
    # a field out of range in an engine file given by path: the argument at fault is 'engine' (the CLI writes
    # --engine), the message names the file and the field
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\ndisplay_name: Mine\nstep_overhead_s: 0.4 ms\nkernel_overhead_s: 1 us\n"
                    "request_latency_s: -3 ms\nsource: test\n")
    with pytest.raises(genmodel.SpecError) as info:
        genmodel.estimate(engine=str(path))
    assert info.value.argument == "engine"
    assert str(info.value).startswith("mine.yaml: request_latency_s: must not be negative")


@pytest.mark.parametrize(("device", "budget"), [("tpu-v6e", 1024), ("tpu-v5e", 512), ("tpu-v5p", 256),
                                                ("tpu-v6e-8", 1024)])
def test_vllm_on_tpu_takes_its_servers_token_budget_per_tpu_generation(device, budget):
    """vLLM's API server sets max_num_batched_tokens by TPU generation when none is given (vllm/engine/
    arg_utils.py, 2025: V6E 1024, V5E 512, V5P 256); a platform's device counts; other TPUs, and an explicit
    budget, take their own."""
    kw = {"input_tokens": 256, "output_tokens": 16, "concurrency": 2, "engine": "vllm", "weight_dtype": "int4"}
    assert genmodel.serve("llama-3.2-1b", device, **kw).settings["max_batch_tokens"] == budget
    assert genmodel.serve("llama-3.2-1b", device, max_batch_tokens=3000, **kw).settings["max_batch_tokens"] == 3000
    v4 = genmodel.get_hardware("tpu-v4")
    assert genmodel.serve("llama-3.2-1b", v4, **kw).settings["max_batch_tokens"] == \
        resolve_engine(v4, "vllm").max_batch_tokens


def test_a_per_device_budget_must_be_a_whole_number_of_tokens():
    base = resolve_engine(genmodel.get_hardware("h100-sxm"), "vllm").model_dump()
    with pytest.raises(ValueError, match="max_batch_tokens_on"):
        EngineSpec(**{**base, "max_batch_tokens_on": {"h100-sxm": 0}})
    spec = EngineSpec(**{**base, "max_batch_tokens_on": {"h100-sxm": 512}})
    h100, h200 = (genmodel.get_hardware(n).fastest_memory.capacity_bytes for n in ("h100-sxm", "h200-sxm"))
    assert spec.batch_limits_on("h100-sxm", h100)[0] == 512  # the named device's own budget
    # another device takes what the profile gives without the entry
    assert spec.batch_limits_on("h200-sxm", h200) == EngineSpec(**base).batch_limits_on("h200-sxm", h200)


def test_an_fp16_accumulating_engine_runs_geforce_gemms_at_the_fp16_accumulate_rate():
    """llama.cpp accumulates its FP16 GEMMs in FP16 (ggml-cuda: CUBLAS_COMPUTE_16F), which a GeForce RTX 4090 runs
    at 330.3 TFLOPS dense against the 165.2 listed (FP32 accumulate; Ada whitepaper): each prefill GEMM row's
    arithmetic time halves, and nothing else moves. BF16 (accumulated in FP32 by ggml-cuda too), an engine that
    accumulates in FP32 and a card without the halved rate (L40S) are unchanged."""
    kw = {"batch": 1, "input_tokens": 512, "output_tokens": 1}
    fp16 = {"weight_dtype": "fp16", "activation_dtype": "fp16", "kv_dtype": "fp16"}
    assert genmodel.get_hardware("rtx-4090").microarchitecture.fp16_accumulate_speedup == 2.0
    llamacpp = genmodel.get_engine("llamacpp")
    assert llamacpp.fp16_accumulate and not genmodel.get_engine("vllm").fp16_accumulate

    def rows(hardware, dtypes, **engine_changes):
        engine = llamacpp.model_copy(update=engine_changes)
        t = genmodel.estimate("llama-3.1-8b", hardware, engine=engine, calibrated=False, **kw, **dtypes).breakdown()
        pre = [i for i, p in enumerate(t["phase"]) if p == "prefill"]
        return [(t["kind"][i], float(t["compute_s"][i]), float(t["memory_s"][i])) for i in pre]

    on, off = rows("rtx-4090", fp16), rows("rtx-4090", fp16, fp16_accumulate=False)
    gemms = [(a[1], b[1]) for a, b in zip(on, off, strict=True) if a[0] == "gemm"]
    assert len(gemms) >= 4 and all(c_on == pytest.approx(c_off / 2, rel=1e-12) for c_on, c_off in gemms)
    assert [a[2] for a in on] == [b[2] for b in off]  # data movement unchanged
    assert [a for a in on if a[0] != "gemm"] == [b for b in off if b[0] != "gemm"]
    bf16 = {k: "bf16" for k in fp16}
    assert rows("rtx-4090", bf16) == rows("rtx-4090", bf16, fp16_accumulate=False)
    assert rows("l40s", fp16) == rows("l40s", fp16, fp16_accumulate=False)
    # the assumption is stated with the figures, and two devices estimated under different ones are told apart
    geforce, l40s = (genmodel.estimate("llama-3.1-8b", h, engine="llamacpp", **kw).realism
                     for h in ("rtx-4090", "l40s"))
    assert geforce.fp16_gemm_speedup == 2.0 and "FP16 accumulation" in geforce.describe()
    assert l40s.fp16_gemm_speedup == 1.0 and "FP16 accumulation" not in l40s.describe()


def test_a_gemv_engine_runs_weight_only_gemms_on_the_vector_units():
    """AutoAWQ's GEMV kernel (engines_db/autoawq-gemv.yaml) issues 7 vector-lane instructions per weight and token
    (unpack, shift, convert, subtract the zero, scale, convert the activation, multiply-add), so a weight-only GEMM
    computes at the FP32 vector peak / 7 whatever its number of tokens: on an RTX 4090 (82.6 TFLOP/s FP32), for
    Llama-2-7B's qkv_proj over a 2,048-token prompt, 2 x 2,048 x 12,288 x 4,096 x 32 FLOPs x 7 / 82.6e12 = 0.5591 s
    (the AWQ GEMM kernel of the autoawq profile: 0.1109 s). Its loads overlap its arithmetic (a streaming kernel): a
    row's time is the longer of the two plus its launches, where the device's tiled GEMMs add them."""
    gemv = genmodel.get_engine("autoawq-gemv")
    assert gemv.weight_only_vector_ops_per_mac == 7
    assert genmodel.get_engine("autoawq").weight_only_vector_ops_per_mac is None
    assert genmodel.get_hardware("rtx-4090").peak_flops_per_s["fp32"] == pytest.approx(82.6e12)

    def rows(tokens, engine=gemv, phase="prefill", **kw):
        r = genmodel.estimate("llama-2-7b", "rtx-4090", weight_dtype="int4", engine=engine, batch=1,
                              input_tokens=tokens, output_tokens=2, calibrated=False, **kw)
        return {x.operator: x for x in r.breakdown(phase).rows()}

    long, short = rows(2048), rows(64)
    flops = 2 * 2048 * 12288 * 4096 * 32
    assert long["qkv_proj"].flops == flops
    assert long["qkv_proj"].compute_s == pytest.approx(flops * 7 / 82.6e12, rel=1e-12)
    for name in ("qkv_proj", "o_proj", "ffn_gate_up", "ffn_down"):
        for r in (long, short):  # the same rate at 64 tokens as at 2,048: no tiles to fill
            x = r[name]
            assert x.compute_s == pytest.approx(x.flops * 7 / 82.6e12, rel=1e-12)
            assert x.time_s == pytest.approx(max(x.compute_s, x.memory_s) + x.overhead_s, rel=1e-12)
    # the engine's other rows as the autoawq profile has them (same host figures): attention, the fp16 lm_head
    awq = rows(2048, genmodel.get_engine("autoawq"))
    for name in ("attn_scores", "attn_values", "lm_head", "ffn_act"):
        assert (long[name].compute_s, long[name].time_s) == (awq[name].compute_s, awq[name].time_s)
    assert awq["qkv_proj"].time_s == pytest.approx(awq["qkv_proj"].compute_s + awq["qkv_proj"].memory_s
                                                   + awq["qkv_proj"].overhead_s, rel=1e-12)
    # five instructions per multiply-accumulate instead of seven: 5/7 of the arithmetic time (no stale cache)
    five = rows(2048, gemv.model_copy(update={"weight_only_vector_ops_per_mac": 5}))
    assert five["qkv_proj"].compute_s == pytest.approx(long["qkv_proj"].compute_s * 5 / 7, rel=1e-12)
    # a one-token decode step stays bandwidth-bound: the weight stream hides the GEMV's arithmetic
    decode = rows(2048, phase="decode")["ffn_gate_up"]
    assert decode.memory_s > decode.compute_s and decode.time_s == pytest.approx(decode.memory_s + decode.overhead_s,
                                                                                rel=1e-12)
    # 16-bit weights are not weight-only quantized: the GEMV kernel does not apply
    bf16 = [genmodel.estimate("llama-2-7b", "rtx-4090", engine=e, batch=1, input_tokens=2048, output_tokens=2,
                              calibrated=False).ttft_s for e in (gemv, gemv.model_copy(update={
                                  "weight_only_vector_ops_per_mac": None}))]
    assert bf16[0] == bf16[1]


def test_the_engine_list_says_which_weight_only_kernel_each_profile_runs(capsys):
    # AutoAWQ's GEMV profile runs its weight-only GEMMs on the vector units at 7 instructions per multiply-accumulate:
    # the list shows vec/7 there, not the GEMM kernel's 45% it does not use; the GEMM profile keeps its 45%
    from genmodel.interfaces.cli import main

    assert main(["engines"]) == 0
    lines = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert "vec/7" in lines["autoawq-gemv"] and "45%" not in lines["autoawq-gemv"]
    assert "45%" in lines["autoawq"] and "70%" in lines["vllm"]
    # the engines that dequantize into a copy say above how many rows (ExLlama v1 8+, ExLlamaV2 33+, bitsandbytes 2+)
    assert "c>7" in lines["exllama"] and "c>32" in lines["exllamav2"] and "c>1" in lines["transformers-bnb"]
    assert not any(w.startswith("c>") for w in lines["tinychat"] + lines["vllm"])


def test_multi_step_scheduling_spreads_a_decode_steps_host_work_over_its_steps():
    # vLLM V0's --num-scheduler-steps N (0.6 to 0.9): one scheduler pass serves N decode steps, so each decode step
    # carries (a + b x sequences) / N of the host work; prompt steps keep all of theirs. By hand on Hopper's fitted
    # vLLM step (the h100-sxm entry's a and b: 0.4 ms and 3 us since docs/validation.md history item 38): TPOT falls
    # by 0.9 x (a + b x batch) with N = 10; TTFT does not move.
    from genmodel.validation.rows import _engine_as_run

    vllm = genmodel.get_engine("vllm")
    assert vllm.scheduler_steps == 1
    multi = vllm.model_copy(update={"scheduler_steps": 10})
    fit = genmodel.get_hardware("h100-sxm").efficiency.engines["vllm"]
    a, b = fit.step_overhead_s, fit.step_overhead_per_sequence_s
    assert 0.1e-3 <= a <= 2e-3 and 0.0 < b <= 10e-6  # fitted, within the profile's grid
    for batch in (1, 64):
        one = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=batch, engine=vllm)
        ten = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=batch, engine=multi)
        assert (one.realism.step_overhead_s, one.realism.step_overhead_per_sequence_s) == (a, b)
        drop = float(one.metrics["tpot_s"]) - float(ten.metrics["tpot_s"])
        assert drop == pytest.approx(0.9 * (a + b * batch), rel=1e-9)
        assert float(ten.metrics["ttft_s"]) == float(one.metrics["ttft_s"])
    # a validation row's stated flag picks it (vLLM's flags only)
    run = _engine_as_run("vllm", "benchmark_throughput.py --num-scheduler-steps 10 --max-num-seqs 3000; continuous")
    assert (run.name, run.scheduler_steps, run.max_seqs) == ("vllm", 10, 3000)
    assert _engine_as_run("vllm", "vllm serve M --num-scheduler-steps 1") == "vllm"
    assert _engine_as_run("sglang", "launch_server --num-scheduler-steps 10") == "sglang"
    with pytest.raises(ValueError, match="scheduler_steps"):
        EngineSpec.model_validate({**vllm.model_dump(), "scheduler_steps": 0})


def test_transformers_generate_is_eager_at_the_host_time_measured_on_the_h200():
    # docs/formulas.md 5.2: Hugging Face transformers' generate() runs every step eagerly, so Llama-3.1-8B's decode
    # step on one H100 lasts a + b + K x h: K = 9 kernels a layer (two add-norms, the QKV, output, gate-up and down
    # projections, rotary, fused attention, activation) x 32 layers + embedding, final norm and LM head = 291, and h
    # is the profile's 78 us; the device's own step (a few ms at batch 1) is far below that
    spec = genmodel.get_engine("transformers")
    assert spec.graph_steps == "none" and spec.eager_launch_s == pytest.approx(78e-6)
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=64, output_tokens=100,
                          engine="transformers")
    assert r.tpot_s == pytest.approx(0.4e-3 + 3e-6 + (9 * 32 + 3) * 78e-6, rel=1e-9)
    assert genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=64, output_tokens=100).tpot_s < 9e-3
    # a long prompt is the device's: 4,096 tokens of Llama-3.1-8B on an H100 take longer than 291 x 78 us
    long = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, input_tokens=4096, output_tokens=2,
                             engine="transformers")
    assert long.ttft_s > 2 * (9 * 32 + 3) * 78e-6
    # the profile is transformers as it runs, not a graph-replaying profile with its graphs off: named as it is, and
    # its bands are its cells' (no widening for graphs turned off)
    assert r.realism.engine_label == "transformers" and not r.realism.eager
    assert genmodel.get_engine("transformers+eager") is spec
    assert "graphs off" not in r.to_dict()["bands"]["decode"]["basis"]


def test_transformers_host_time_per_kernel_is_the_h200_eager_steps_median():
    # the profile's h from its stated source: the eager decode steps of validation/device_steps_h200.json (a plain
    # PyTorch Llama-3.1-8B-shaped step), median step time less the profile's a, over the 291 kernels genmodel counts
    import statistics

    from benchload import script_module

    records = script_module("compare_device_steps").load()["records"]  # (its default file: that JSON)
    decode = [r["eager_s"] for r in records if r.get("kind") == "decode_step"]
    assert len(decode) == 8
    h = (statistics.median(decode) - 0.4e-3) / 291
    assert genmodel.get_engine("transformers").eager_launch_s == pytest.approx(round(h * 1e6) * 1e-6)


def test_a_transformers_row_is_read_from_its_system_text_and_transformers_neuronx_is_not():
    from genmodel.validation.rows import engine_of

    run = "Hugging Face transformers 4.46.3 generate() in PyTorch 2.5.1 eager mode, bf16 weights; static"
    assert engine_of({"engine": "other", "system": run}) == "transformers"
    neuronx = "AWS Neuron SDK 2.18.1, transformers-neuronx (tensor parallel 24 NeuronCores); static"
    assert engine_of({"engine": "", "system": neuronx}) == "neuron"
    assert engine_of({"engine": "", "system": "vLLM 0.20.1+transformers-5.8.1 AsyncLLMEngine"}) == "vllm"


def _prefill_gemm_rows(engine, batch=1, input_tokens=512, hardware="rtx-4090", model="llama-2-7b"):
    """(operator, weight bytes, compute seconds) of the prefill GEMM rows of an int4-weight estimate."""
    t = genmodel.estimate(model, hardware, batch=batch, input_tokens=input_tokens, output_tokens=2,
                          weight_dtype="int4", activation_dtype="fp16", kv_dtype="fp16", engine=engine,
                          calibrated=False).breakdown()
    return {t["operator"][i]: (float(t["weight_bytes"][i]), float(t["compute_s"][i]))
            for i, (p, k) in enumerate(zip(t["phase"], t["kind"], strict=True)) if p == "prefill" and k == "gemm"}


def test_a_dequantizing_copy_moves_the_16_bit_matrix_written_and_read_above_the_engines_row_count():
    """ExLlamaV2 reconstructs a weight-only GEMM's FP16 matrix into a scratch buffer, then runs cublasHgemm on it, for
    more than 32 rows (exllamav2_ext/cuda/q_gemm.cu, MAX_Q_GEMM_ROWS 32). Per weight element: the 0.5 packed bytes
    read, 2 bytes of FP16 written, 2 read by the GEMM = 4.5 bytes, 9x the packed bytes. Llama-2-7B's q/k/v
    projection: 4,096 x 12,288 weights = 25,165,824 packed bytes a layer, 226,492,416 with the copy (x 32 layers in
    the step's breakdown). The LM head (an FP16 matrix) is not copied; neither is any GEMM of 32 rows or fewer."""
    v2 = genmodel.get_engine("exllamav2")
    assert v2.dequantize_copy_above_rows == 32 and v2.fp16_accumulate
    assert genmodel.get_engine("exllama").dequantize_copy_above_rows == 7  # v1: matmul_recons_thd = 8 rows
    assert genmodel.get_engine("transformers-bnb").dequantize_copy_above_rows == 1  # gemv_4bit for one row only
    assert genmodel.get_engine("tinychat").dequantize_copy_above_rows is None
    none = v2.model_copy(update={"dequantize_copy_above_rows": None})
    copied, packed = _prefill_gemm_rows(v2), _prefill_gemm_rows(none)
    assert packed["qkv_proj"][0] == 32 * 4096 * 12288 * 0.5
    assert copied["qkv_proj"][0] == 32 * 4096 * 12288 * 4.5
    for name, (weights, _) in copied.items():
        expected = packed[name][0] * (1 if name == "lm_head" else 9)
        assert weights == pytest.approx(expected, rel=1e-12), name
    # 32 prompt tokens are 32 rows: no copy; 33 are one more than the kernel takes
    assert _prefill_gemm_rows(v2, input_tokens=32) == _prefill_gemm_rows(none, input_tokens=32)
    assert _prefill_gemm_rows(v2, input_tokens=33)["qkv_proj"][0] == 32 * 4096 * 12288 * 4.5
    # the assumption is stated with the figures (and an estimate with another engine differs in its realism key)
    r = genmodel.estimate("llama-2-7b", "rtx-4090", weight_dtype="int4", activation_dtype="fp16", kv_dtype="fp16",
                          engine=v2)
    assert "weight-only GEMMs of more than 32 rows on a dequantized copy" in r.realism.describe()
    assert "dequantized copy" not in genmodel.estimate("llama-2-7b", "rtx-4090", weight_dtype="int4").realism.describe()
    # a copied GEMM is a dense FP16 GEMM: the engine's weight-only rating no longer applies to it
    half = v2.model_copy(update={"weight_only_scale": 0.5})
    assert {k: v[1] for k, v in _prefill_gemm_rows(half).items()} == {k: v[1] for k, v in copied.items()}
    small = _prefill_gemm_rows(half, input_tokens=16)
    assert small["qkv_proj"][1] > _prefill_gemm_rows(v2, input_tokens=16)["qkv_proj"][1]


def test_a_dequantizing_copy_is_the_same_per_configuration_in_one_call_and_in_blocks():
    """The copy depends on each configuration's GEMM rows (here the decode batch: 1-64 sequences, and a call of more
    than 1,024 configurations, which runs lean steps in blocks): every element is the single estimate's."""
    kw = {"input_tokens": 128, "output_tokens": 16, "weight_dtype": "int4", "activation_dtype": "fp16",
          "kv_dtype": "fp16", "engine": "exllamav2", "check_fit": False}
    batches = np.array([1, 31, 32, 33, 64])
    many = genmodel.estimate("llama-2-7b", "rtx-4090", batch=batches, **kw)
    for b, tpot, ttft in zip(batches, many.tpot_s, many.ttft_s, strict=True):
        one = genmodel.estimate("llama-2-7b", "rtx-4090", batch=int(b), **kw)
        assert float(tpot) == pytest.approx(float(one.tpot_s), rel=1e-12)
        assert float(ttft) == pytest.approx(float(one.ttft_s), rel=1e-12)
    large = genmodel.estimate("llama-2-7b", "rtx-4090", batch=np.resize(batches, 1100), **kw)
    assert np.allclose(large.tpot_s[:5], many.tpot_s, rtol=1e-12, atol=0)
    # decode above 32 sequences copies (more bytes per step); at or below it does not
    per_seq = many.tpot_s
    assert per_seq[3] - per_seq[2] > 10 * (per_seq[2] - per_seq[1])


def test_tinychat_prompts_run_at_the_fp16_accumulate_rate_with_weights_dequantized_in_the_gemm():
    """TinyChat 2.0's W4A16 GEMM accumulates in FP16 (mma...f16.f16.f16.f16, half accumulator: llm-awq gemm_cuda.cu),
    so an RTX 4090 runs its prompt GEMMs at 330.3 TFLOPS dense, twice the listed 165.2; it dequantizes inside the
    GEMM (no copy) and is rated as the device's GEMMs (weight_only_scale 1, vLLM's Marlin 0.7)."""
    tiny = genmodel.get_engine("tinychat")
    assert tiny.fp16_accumulate and tiny.weight_only_scale == 1.0
    on = _prefill_gemm_rows(tiny)
    off = _prefill_gemm_rows(tiny.model_copy(update={"fp16_accumulate": False}))
    for name, (weights, compute) in on.items():
        assert weights == off[name][0]
        if name != "lm_head":
            assert compute == pytest.approx(off[name][1] / 2, rel=1e-12), name


def test_exllama_tinychat_and_bitsandbytes_rows_are_read_from_their_system_text():
    from genmodel.validation.rows import engine_of

    def of(system):
        return engine_of({"engine": "other", "system": system})

    assert of("ExLlama (v1) 4-bit GPTQ CUDA kernels (grpsz 128, act-order no), batch 1; static") == "exllama"
    assert of("Exllama V2 (llm-perf-bench docker, CLI benchmark), batch 1; static") == "exllamav2"
    assert of("exllama (llm-perf-bench docker, CLI benchmark), batch 1, 2 GPUs; static") == "exllama"
    comparison = "with a 4-bit weight-only quantized Llama3-8B, timed by MIT Han Lab for the TinyChat 2.0 comparison"
    assert of(f"ExLlama v2 {comparison}; static") == "exllamav2"
    assert of(f"MLC {comparison}; static") is None  # (no MLC profile: the device's usual engine)
    assert of("TinyChat 2.0 W4A16 (4-bit group-128 weights), tinychat/benchmark.py; static") == "tinychat"
    bnb = "Hugging Face transformers 4.46.3 generate() in PyTorch 2.5.1 eager mode, bitsandbytes NF4 4-bit weights"
    assert of(bnb) == "transformers-bnb"
    assert of("vLLM 0.6.3 with bitsandbytes 4-bit weights; continuous") == "vllm"
    gptq = "Hugging Face transformers 4.37.2 generate() in PyTorch 2.2.0 eager mode with AutoGPTQ 0.7.0"
    assert of(gptq) == "transformers"


def test_bitsandbytes_copies_add_their_dequantizing_kernel_to_an_eager_steps_host_floor():
    """transformers with bitsandbytes' 4-bit weights (transformers-bnb): at one sequence a decode step runs the GEMV
    kernel, as transformers' profile has it, a + b + 291 x h; at 8 sequences every 4-bit GEMM (QKV, output, gate-up and
    down: 4 of genmodel's counted kernels a layer, 128 over 32 layers) is preceded by its dequantize_4bit kernel, so
    the host issues 291 + 128 counted kernels: a + 8 b + 419 x 78 us = 33.1 ms, above the H100's own step. The LM
    head (BF16) is not copied."""
    kw = {"input_tokens": 64, "output_tokens": 100, "weight_dtype": "int4", "activation_dtype": "bf16",
          "kv_dtype": "bf16", "engine": "transformers-bnb"}
    one = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=1, **kw)
    assert one.tpot_s == pytest.approx(0.4e-3 + 3e-6 + 291 * 78e-6, rel=1e-9)
    eight = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=8, **kw)
    assert eight.tpot_s == pytest.approx(0.4e-3 + 8 * 3e-6 + (291 + 4 * 32) * 78e-6, rel=1e-9)
    # the same per configuration in one call
    both = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=np.array([1, 8]), **kw)
    assert both.tpot_s.tolist() == pytest.approx([one.tpot_s, eight.tpot_s], rel=1e-12)


def test_an_engines_extra_deepseek_kernels_cost_a_kernel_each():
    # EngineSpec.mla_extra_kernels: 14 more kernels on the rotary row of every layer of a model with MLA attention
    # (SGLang 0.4's native-PyTorch YaRN rotary). At batch 1 the rotary row moves a few kilobytes, far below one
    # kernel floor, so each extra kernel adds the floor and the launch gap to the decode step (docs/formulas.md 5.1:
    # t = max(t_busy, kernels x floor) + kernels x gap), once per layer: DeepSeek-V3 has 61 layers.
    from genmodel.engine.efficiency import Physics

    kw = {"tp": 8, "weight_dtype": "fp8", "input_tokens": 512, "output_tokens": 64}
    base = genmodel.get_engine("sglang")
    extra = base.model_copy(update={"mla_extra_kernels": {"rope": 14.0}})
    plain = genmodel.estimate("deepseek-v3", "dgx-h200", engine=base, **kw)
    more = genmodel.estimate("deepseek-v3", "dgx-h200", engine=extra, **kw)
    floor = Physics.of(genmodel.get_hardware("h200-sxm")).kernel_floor_s
    gap = plain.realism.kernel_overhead_s
    assert genmodel.get_model("deepseek-v3").num_layers == 61
    assert more.metrics["tpot_s"] - plain.metrics["tpot_s"] == pytest.approx(61 * 14 * (floor + gap), rel=1e-9)
    # the prompt runs eagerly (SGLang's prefill steps): where its host issues the kernels more slowly than the device
    # runs them, each extra kernel adds eager_launch_s of host time
    assert more.metrics["ttft_s"] - plain.metrics["ttft_s"] == pytest.approx(61 * 14 * base.eager_launch_s,
                                                                             rel=1e-9)
    # a model without MLA attention runs none of them
    llama = {"tp": 8, "input_tokens": 512, "output_tokens": 64}
    assert genmodel.estimate("llama-3.1-70b", "dgx-h200", engine=extra, **llama).metrics["tpot_s"] == \
        genmodel.estimate("llama-3.1-70b", "dgx-h200", engine=base, **llama).metrics["tpot_s"]


def test_extra_kernels_name_rows_of_an_mla_layer_and_are_finite():
    for bad in ({"ropes": 1.0}, {"lm_head": 1.0}, {"rope": -1.0}, {"rope": float("nan")}, {"rope": float("inf")}):
        with pytest.raises(ValueError, match="mla_extra_kernels"):
            _engine(mla_extra_kernels=bad)
    assert _engine(mla_extra_kernels={"q_absorb": 13}).mla_extra_kernels == {"q_absorb": 13.0}


def test_sglang_0_4_rows_run_deepseeks_extra_kernels():
    # SGLang 0.4.0-0.4.5's DeepSeek code launched about 86 kernels per MoE layer of a decode step against genmodel's
    # 24 (the 'sglang-v0.4' profile, read from the 0.4.3-0.4.5 releases; 0.4.5.post1 fused most away): validation
    # rows of those releases take them on the 'sglang' profile (its name and fitted costs kept); later releases, and
    # rows stating none, do not
    from genmodel.validation.rows import sglang_kernels

    v04 = genmodel.get_engine("sglang-v0.4")
    assert 24 + v04.mla_moe_decode_extra_kernels == 86
    for version, extra in (("0.4.1 (as stated in the post)", True), ("0.4.3.post2", True), ("0.4.0", True),
                           ("0.4.5", True), ("0.4.5.post1", False), ("0.3.0", False), ("0.4.6", False),
                           ("0.5.12", False), ("", False), ("main at PR #6111 (May 2025)", False)):
        got = sglang_kernels({"engine_version": version})
        assert (got == {"mla_extra_kernels": v04.mla_extra_kernels}) if extra else got is None, version
    # a row of such a release runs the 'sglang' profile (its name, and with it the family's fitted step costs and
    # band cells) with those kernels; any other setting stays the profile's
    from genmodel.validation.rows import _engine_as_run

    assert sglang_kernels({"engine_version": "0.4.1"}, genmodel.get_model("llama-3.1-8b")) is None  # (no MLA)
    assert sglang_kernels({"engine_version": "0.4.1"}, genmodel.get_model("deepseek-r1")) is not None
    run = _engine_as_run("sglang", "SGLang v0.4.1 launch_server --tp 8; continuous",
                         sglang_kernels({"engine_version": "0.4.1"}), (0, 4, 1))
    base = genmodel.get_engine("sglang")
    assert run.name == "sglang" and run.mla_extra_kernels == v04.mla_extra_kernels
    assert run.model_copy(update={"mla_extra_kernels": {}}) == base


def test_vllm_0_7_3_rows_run_deepseeks_extra_kernels():
    # vLLM 0.7.3's DeepSeek code (V0): 57-61 kernels per MoE layer of a decode step, 35 more than genmodel's 24 (the
    # 'vllm-v0' profile's, read from that release); its validation rows take them with V0's scheduler, other V0
    # releases (not read) do not
    from genmodel.validation.rows import vllm_v0_scheduler

    v0 = genmodel.get_engine("vllm-v0")
    assert 24 + v0.mla_moe_decode_extra_kernels == 59
    model, hw = genmodel.get_model("deepseek-r1"), genmodel.get_hardware("mi300x")
    row = {"engine_version": "0.7.3.dev138+g21f6ca217", "system": "vLLM; continuous"}
    assert vllm_v0_scheduler(row, model, hw)["mla_extra_kernels"] == v0.mla_extra_kernels
    assert "mla_extra_kernels" not in vllm_v0_scheduler({**row, "engine_version": "0.7.2"}, model, hw)


def test_a_pipeline_holds_at_most_the_engines_copies_of_a_prompts_passes():
    # EngineSpec.pipeline_copies (llama.cpp: GGML_SCHED_MAX_COPIES = 4): pass i enters the first stage when pass i - c
    # has left the last. 8 passes over 8 stages, c = 4: passes 0-3 start at slots 0-3, passes 4-7 at 8-11 (when 0-3
    # leave), the last leaves at 11 + 8 = 19 slots; without a limit 8 + 8 - 1 = 15. With c >= stages, or no more
    # passes than copies, every stage may hold one: m + p - 1.
    from genmodel.engine.estimate import pipeline_fill

    assert pipeline_fill(8.0, 8.0, 4) == 19.0 and pipeline_fill(8.0, 8.0) == 15.0
    assert pipeline_fill(4.0, 8.0, 4) == 11.0 and pipeline_fill(1.0, 8.0, 4) == 8.0
    assert pipeline_fill(9.0, 2.0, 4) == 10.0  # (c >= stages: 9 + 2 - 1)
    assert pipeline_fill(9.0, 8.0, 4) == 24.0  # pass 8 starts at 2 x 8, leaves at 24
    np.testing.assert_array_equal(pipeline_fill(np.array([1.0, 5.0, 8.0]), np.array([8.0, 8.0, 2.0]), 4),
                                  [8.0, 16.0, 9.0])
    assert genmodel.get_engine("llamacpp").pipeline_copies == 4
    # a 4,096-token prompt on 8 layer-split devices: 8 passes of 512, so the TTFT is 19 slots against 15
    kw = {"input_tokens": 4096, "output_tokens": 2, "pp": 8, "weight_dtype": "int4", "activation_dtype": "fp16"}
    capped = genmodel.estimate("llama-3.1-70b", "mi300x", engine="llamacpp", **kw)
    free = genmodel.estimate("llama-3.1-70b", "mi300x",
                             engine=genmodel.get_engine("llamacpp").model_copy(update={"pipeline_copies": None}), **kw)
    assert float(capped.metrics["ttft_s"]) / float(free.metrics["ttft_s"]) == pytest.approx(19 / 15, rel=1e-12)
    with pytest.raises(ValueError, match="pipeline_copies"):
        _engine(pipeline_copies=0)


def test_sglang_0_4s_deepseek_decode_against_its_own_announcement():
    # SGLang's v0.4.1.post2 release note (sgl-project/sglang pull request 2643, 2024-12-29): DeepSeek-V3 on 8 GPUs at
    # TP 8 (the team's H200 node), CUDA graphs and tuned FP8 GEMMs, batch 1, 128 input and 256 output tokens:
    # 30.29 tokens/s. The 'sglang-v0.4' profile (its kernels read from the 0.4.3-0.4.5 releases) predicts it within
    # 25% (33.4 tokens/s, +10%); the 'sglang' profile (today's kernels) gives 3.3x as many.
    kw = {"tp": 8, "weight_dtype": "fp8", "input_tokens": 128, "output_tokens": 256}
    old = genmodel.estimate("deepseek-v3", "dgx-h200", engine="sglang-v0.4", **kw)
    new = genmodel.estimate("deepseek-v3", "dgx-h200", engine="sglang", **kw)
    assert float(old.metrics["output_tokens_per_s"]) == pytest.approx(30.29, rel=0.25)
    assert float(new.metrics["output_tokens_per_s"]) > 2.5 * 30.29


def test_llamacpp_quantized_gemms_are_bound_per_sm_and_clock_on_nvidia_gpus():
    """ggml-cuda runs a quantized product of more than 8 tokens on its MMQ kernels, bound per SM and clock
    (engines_db/llamacpp.yaml: 260 multiply-accumulates per SM per clock on NVIDIA GPUs; docs/formulas.md 5.2). On an
    A100 (108 SMs at 1.41 GHz, the datasheet's boost clock) that is 2 x 260 x 108 x 1.41e9 = 79.19 TFLOP/s, against the
    FP16 tensor peak of 312 at which the rows would otherwise run: Llama-2-7B's qkv_proj over a 512-token prompt,
    2 x 512 x 4,096 x 12,288 FLOPs a layer x 32 layers, computes in 32 x 51.54e9 / 79.19e12 = 20.83 ms. Up to 8 tokens
    (matrix-vector kernels) and on devices of another vendor nothing is bound; nor on a device without a clock."""
    cpp = genmodel.get_engine("llamacpp")
    assert cpp.quantized_gemm_macs_per_unit_clock == {"NVIDIA": 260} and cpp.quantized_gemm_min_tokens == 9
    a100 = genmodel.get_hardware("a100-80gb-sxm")
    assert (a100.microarchitecture.compute_units, a100.microarchitecture.clock_hz) == (108, 1.41e9)
    free = cpp.model_copy(update={"quantized_gemm_macs_per_unit_clock": None})

    def rows(engine, tokens=512, hw="a100-80gb-sxm", phase="prefill", batch=1, weight_dtype="int4"):
        r = genmodel.estimate("llama-2-7b", hw, weight_dtype=weight_dtype, activation_dtype="fp16", kv_dtype="fp16",
                              engine=engine, batch=batch, input_tokens=tokens, output_tokens=2, calibrated=False)
        return {x.operator: x for x in r.breakdown(phase).rows()}

    bound, unbound = rows(cpp), rows(free)
    cap = 2 * 260 * 108 * 1.41e9
    flops = 2 * 512 * 4096 * 12288 * 32
    assert bound["qkv_proj"].flops == flops
    assert bound["qkv_proj"].compute_s == pytest.approx(flops / cap, rel=1e-12)
    assert unbound["qkv_proj"].compute_s < 0.5 * bound["qkv_proj"].compute_s  # the tensor path was over twice as fast
    for name in ("qkv_proj", "o_proj", "ffn_gate_up", "ffn_down"):
        assert bound[name].compute_s == pytest.approx(bound[name].flops / cap, rel=1e-12), name
        assert bound[name].memory_s == unbound[name].memory_s  # the bytes as they were
    # the FP16 LM head (not a weight-only row), attention and the elementwise rows are untouched
    for name in ("lm_head", "attn_scores", "attn_values", "ffn_act"):
        assert bound[name].compute_s == unbound[name].compute_s, name
    # 8 tokens run on matrix-vector kernels: no bound; 9 run on MMQ
    assert rows(cpp, phase="decode", batch=8)["ffn_down"].compute_s == rows(free, phase="decode", batch=8)[
        "ffn_down"].compute_s
    nine = rows(cpp, phase="decode", batch=9)["ffn_down"]
    assert nine.compute_s == pytest.approx(nine.flops / cap, rel=1e-12)
    # 16-bit weights run on cuBLAS, not MMQ
    assert rows(cpp, weight_dtype="fp16")["qkv_proj"].compute_s == rows(free, weight_dtype="fp16")[
        "qkv_proj"].compute_s
    # the bound sits in the realism the estimate states, for NVIDIA devices that give compute units and a clock only
    from genmodel.engine.realism import quantized_gemm_flops_per_s
    assert quantized_gemm_flops_per_s(cpp, a100) == pytest.approx(cap, rel=1e-12)
    assert quantized_gemm_flops_per_s(cpp, genmodel.get_hardware("rtx-4090")) == pytest.approx(
        2 * 260 * 128 * 2.52e9, rel=1e-12)
    assert quantized_gemm_flops_per_s(cpp, genmodel.get_hardware("mi300x")) is None  # ggml's HIP kernels differ
    assert quantized_gemm_flops_per_s(cpp, genmodel.get_hardware("b200")) is None  # no published clock
    assert quantized_gemm_flops_per_s(genmodel.get_engine("vllm"), a100) is None
    assert rows(cpp, hw="mi300x")["qkv_proj"].compute_s == rows(free, hw="mi300x")["qkv_proj"].compute_s
    r = genmodel.estimate("llama-2-7b", "a100-80gb-sxm", weight_dtype="int4", activation_dtype="fp16",
                          kv_dtype="fp16", engine="llamacpp")
    assert "quantized GEMMs of 9+ tokens at most 79.2 TFLOP/s" in r.realism.describe()


def test_llamacpp_streams_are_bound_per_sm_and_clock_on_nvidia_gpus():
    """llama.cpp's CUDA kernels keep too few bytes in flight to reach an HBM device's bandwidth (Little's law;
    engines_db/llamacpp.yaml: 6.5 bytes per SM per clock on NVIDIA GPUs; docs/formulas.md 5.2). On an A100 that is
    6.5 x 108 x 1.41e9 = 989.82 GB/s, below the GPU default of 0.88 x 2,039 GB/s = 1,794 GB/s: every memory stream of
    the step runs at 989.82 GB/s, so a row moving B bytes takes B x (1 / 989.82e9 - 1 / 1,794.3e9) longer than without
    the bound (its ramp, compute and overhead as they were). A what-if that doubles the bandwidth leaves the bound where
    it is (B x (1 / 989.82e9 - 1 / 3,588.6e9) longer). An RTX 4090 (6.5 x 128 x 2.52e9 = 2,097 GB/s against 1,008) is
    not bound, nor another vendor's device, a device without a clock, or another engine."""
    cpp = genmodel.get_engine("llamacpp")
    assert cpp.stream_bytes_per_unit_clock == {"NVIDIA": 6.5}
    free = cpp.model_copy(update={"stream_bytes_per_unit_clock": None})
    cap = 6.5 * 108 * 1.41e9

    def rows(engine, hw="a100-80gb-sxm", **kw):
        r = genmodel.estimate("llama-3.1-8b", hw, batch=1, input_tokens=512, output_tokens=2, engine=engine,
                              calibrated=False, **kw)
        return r, {x.operator: x for x in r.breakdown("decode").rows()}

    (r, bound), (_, unbound) = rows(cpp), rows(free)
    assert r.realism.stream_bytes_per_s == pytest.approx(cap, rel=1e-12)
    assert (r.realism.memory_efficiency, r.realism.kv_memory_efficiency) == (0.88, 0.70)  # GPU defaults, unbound
    assert "its kernels stream at most 990 GB/s" in r.realism.describe()
    streamed, kv_streamed = 0.88 * 2039e9, 0.70 * 2039e9
    # weights and activations at 989.82 GB/s for 0.88 of the bandwidth, KV bytes (the new tokens' K and V written,
    # the cache read) for 0.70 of it
    for name in ("qkv_proj", "o_proj", "ffn_gate_up", "ffn_down", "lm_head", "attn_scores", "attn_values"):
        x = bound[name]
        expected = (x.weight_bytes + x.activation_bytes) * (1 / cap - 1 / streamed) + x.kv_bytes * (
            1 / cap - 1 / kv_streamed)
        assert x.memory_s - unbound[name].memory_s == pytest.approx(expected, rel=1e-9), name
        assert x.compute_s == unbound[name].compute_s
    assert bound["attn_scores"].kv_bytes > 0
    # twice the bandwidth: the unbound stream doubles, the bound one stays
    _, bound2 = rows(cpp, bandwidth_scale=2.0)
    _, unbound2 = rows(free, bandwidth_scale=2.0)
    moved = bound["ffn_down"].weight_bytes + bound["ffn_down"].activation_bytes
    assert bound2["ffn_down"].memory_s - unbound2["ffn_down"].memory_s == pytest.approx(
        moved * (1 / cap - 1 / (2 * streamed)), rel=1e-9)
    # not bound: a device whose bandwidth is below the bound, another vendor, no clock, another engine
    from genmodel.engine.realism import per_unit_clock
    assert per_unit_clock(cpp.stream_bytes_per_unit_clock, genmodel.get_hardware("rtx-4090")) == pytest.approx(
        6.5 * 128 * 2.52e9, rel=1e-12)
    for hw in ("rtx-4090", "mi300x", "b200"):
        assert rows(cpp, hw)[1]["ffn_down"].memory_s == rows(free, hw)[1]["ffn_down"].memory_s, hw
    assert genmodel.estimate("llama-3.1-8b", "a100-80gb-sxm", engine="vllm").realism.stream_bytes_per_s is None


def test_llamacpp_stream_bound_applies_to_each_memory_tier_apart():
    """On a device of two tiers the stream bound holds per tier (docs/formulas.md 5.2): a GH200's HBM3e (4.9 TB/s) is
    bound at 6.5 x 132 x 1.98e9 = 1,698.8 GB/s, below 0.88 x 4.9 TB/s = 4,312 GB/s, but its LPDDR5X (450 GB/s, 396
    GB/s streamed) is not. Llama-3.1-70B in BF16 (141 GB of weights) spills a share of its weights, and all its KV
    cache and activations, into the LPDDR5X; only the bytes left in the HBM are slowed: a row moving B weight bytes
    with a share h of them in the HBM takes B x h x (1 / 1,698.8e9 - 1 / 4,312e9) longer than without the bound, and a
    row whose bytes all sit in the LPDDR5X takes as long as without it. Multiplying the bandwidth by 2 leaves the
    bound where it is and halves the unbound streams of both tiers."""
    cpp = genmodel.get_engine("llamacpp")
    free = cpp.model_copy(update={"stream_bytes_per_unit_clock": None})
    cap = 6.5 * 132 * 1.98e9
    hbm, lpddr = 4.9e12, 450e9  # hardware_db/gh200.yaml

    def run(engine, **kw):
        r = genmodel.estimate("llama-3.1-70b", "gh200", batch=1, input_tokens=512, output_tokens=2, engine=engine,
                              calibrated=False, **kw)
        return r, {x.operator: x for x in r.breakdown("decode").rows()}

    for scale in (1.0, 2.0):
        (r, bound), (_, unbound) = run(cpp, bandwidth_scale=scale), run(free, bandwidth_scale=scale)
        assert r.realism.stream_bytes_per_s == pytest.approx(cap, rel=1e-12)
        in_hbm = float(r.placement["weight"][0][0] if np.ndim(r.placement["weight"][0]) else r.placement["weight"][0])
        assert 0.9 < in_hbm < 1.0  # most weights in the HBM, the rest in the LPDDR5X
        assert [float(np.ravel(r.placement[c][1])[0]) for c in ("kv", "act")] == [1.0, 1.0]
        for name in ("qkv_proj", "ffn_gate_up", "ffn_down", "lm_head"):
            x = bound[name]
            expected = x.weight_bytes * in_hbm * (1 / cap - 1 / (0.88 * hbm * scale))
            assert x.memory_s - unbound[name].memory_s == pytest.approx(expected, rel=1e-9), (name, scale)
            # (one fraction for both tiers, as before, would also slow the LPDDR5X's share: more than that)
            one_fraction = (x.weight_bytes + x.activation_bytes) * (hbm * scale * 0.88 / cap - 1) * (
                in_hbm / (0.88 * hbm * scale) + (1 - in_hbm) / (0.88 * lpddr * scale))
            assert one_fraction > 1.2 * expected
        # the KV cache (attention's reads) sits in the LPDDR5X: not slowed
        assert bound["attn_scores"].kv_bytes > 0
        assert bound["attn_scores"].memory_s == pytest.approx(unbound["attn_scores"].memory_s, rel=1e-12)
    # a single estimate and a vectorized one agree on the per-tier bound
    one = genmodel.estimate("llama-3.1-70b", "gh200", batch=1, input_tokens=512, output_tokens=64, engine=cpp,
                            bandwidth_scale=1.5)
    many = genmodel.estimate("llama-3.1-70b", "gh200", batch=1, input_tokens=512, output_tokens=64, engine=cpp,
                             bandwidth_scale=np.array([1.0, 1.5]))
    assert float(np.ravel(many.tpot_s)[1]) == pytest.approx(float(one.tpot_s), rel=1e-12)


def test_a_clock_is_a_frequency_and_a_bound_a_positive_number():
    """``clock_hz`` reads a frequency ("1.41 GHz", or a number of Hz) and refuses what no clock is; an engine's
    per-compute-unit bound is a positive number per vendor."""
    from genmodel.errors import SpecError
    from genmodel.specs.engine import EngineSpec
    from genmodel.specs.hardware import Microarchitecture
    assert Microarchitecture(clock_hz="1.41 GHz").clock_hz == 1.41e9
    assert Microarchitecture(clock_hz=2.52e9).clock_hz == 2.52e9
    for bad in ("-1 GHz", "1.41 GB", float("nan"), 0, "500 THz", True):
        with pytest.raises((ValueError, SpecError)):
            Microarchitecture(clock_hz=bad)
    base = genmodel.get_engine("llamacpp").model_dump()
    for bad in ({"NVIDIA": 0}, {"NVIDIA": -5}, {"NVIDIA": float("inf")}, {"NVIDIA": "fast"}):
        with pytest.raises((ValueError, SpecError)):
            EngineSpec.model_validate({**base, "quantized_gemm_macs_per_unit_clock": bad})
        with pytest.raises((ValueError, SpecError)):
            EngineSpec.model_validate({**base, "stream_bytes_per_unit_clock": bad})
