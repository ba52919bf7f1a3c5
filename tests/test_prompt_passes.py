"""A prompt computed in physical batches (llama.cpp's n_ubatch) and attention that is not fused (flash attention off):
EngineSpec.prompt_ubatch_tokens, EngineSpec.flash_attention (docs/formulas.md section 5.2)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import genmodel
from genmodel.data.registry import get_engine, get_hardware, get_model
from genmodel.engine.operators import DTypes, build_operators
from genmodel.engine.step import mean_pass, step_passes
from genmodel.validation.rows import _engine_as_run

FP16 = {"weight_dtype": "fp16", "activation_dtype": "fp16", "kv_dtype": "fp16"}


def _llamacpp(**update):
    return get_engine("llamacpp").model_copy(update=update)


def test_a_prompt_in_passes_does_the_same_arithmetic_and_reads_the_weights_once_per_pass():
    # 4,096 prompt tokens in passes of 512: 8 passes. Their FLOPs add up to one pass over the whole prompt (the
    # linear layers see the same tokens; the attention pairs of pass j, 512 queries after 512 j cached tokens, sum to
    # the causal pairs of 4,096: 4096 x 4097 / 2). Each extra pass reads the layers' FP16 weights again: 16.06 GB
    # less the embedding table and the LM head (128,256 x 4,096 x 2 bytes = 1.05 GB each, read once) = 13.96 GB; at
    # most the RTX 4090's 1,008 GB/s, so 7 extra passes take at least 7 x 13.96 / 1008 s = 0.097 s more.
    whole = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=4096, output_tokens=2,
                              engine=_llamacpp(prompt_ubatch_tokens=None), **FP16)
    passes = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=4096, output_tokens=2,
                               engine=_llamacpp(prompt_ubatch_tokens=512), **FP16)
    assert float(passes.metrics["prefill_flops"]) == pytest.approx(float(whole.metrics["prefill_flops"]), rel=1e-12)
    weights = float(whole.metrics["weights_bytes"])
    assert weights == pytest.approx(16.06e9, rel=0.01)
    layers = weights - 2 * 128256 * 4096 * 2
    assert float(passes.metrics["ttft_s"]) - float(whole.metrics["ttft_s"]) >= 7 * layers / 1008e9
    assert passes.prefill_slots == 8  # one pipeline slot per pass


def test_one_pass_when_the_prompt_fits_it():
    # a prompt no longer than the physical batch runs in one pass: the same figures as without passes
    whole = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=512, output_tokens=8,
                              engine=_llamacpp(prompt_ubatch_tokens=None), **FP16)
    one = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=512, output_tokens=8,
                            engine=_llamacpp(prompt_ubatch_tokens=512), **FP16)
    for key in ("ttft_s", "tpot_s", "prefill_flops", "energy_per_output_token_j"):
        assert float(one.metrics[key]) == float(whole.metrics[key]), key


def test_pass_prefix_attention_pairs_sum_to_the_whole_prompt():
    # the mean pass (512 tokens after the mean prefix of (4096 - 512) / 2 = 1792) times 8 has the pairs of the
    # 8 real passes: 8 x (512 x 1792 + 512 x 513 / 2) = 4096 x 4097 / 2 = 8,390,656 per head and sequence
    model, dt = get_model("llama-3.1-8b"), DTypes("fp16", "fp16", "fp16")
    mean = build_operators(model, "prefill", 1.0, 512.0, None, dt, prefix=1792.0)
    whole = build_operators(model, "prefill", 1.0, 4096.0, None, dt)
    row = mean.names.index("attn_scores")
    assert 8 * float(mean.flops[row]) == pytest.approx(float(whole.flops[row]), rel=1e-12)
    assert float(whole.flops[row]) == pytest.approx(2 * 32 * 128 * 4096 * 4097 / 2, rel=1e-12)


def test_unfused_attention_moves_its_scores_through_memory():
    # flash attention off: every query against every key read, per head, 16 bytes per score (FP32 written by QK^T,
    # read and written by the softmax, read by the product with V). Llama-3.1-8B, 32 query heads: a 512-token
    # prompt has 512 x 512 x 32 x 16 = 134,217,728 bytes per layer; a decode step of 4 sequences at 1,000 keys
    # 4 x 1000 x 32 x 16 = 2,048,000. Fused attention has no such row.
    model, dt = get_model("llama-3.1-8b"), DTypes("fp16", "fp16", "fp16")
    prefill = build_operators(model, "prefill", 1.0, 512.0, None, dt, score_bytes=16.0)
    row = prefill.names.index("attn_softmax")
    assert float(prefill.act_bytes[row]) == pytest.approx(134_217_728.0)
    assert float(prefill.count[row]) == 32
    decode = build_operators(model, "decode", 4.0, 1.0, (1000.0, 1000.0), dt, score_bytes=16.0)
    assert float(decode.act_bytes[decode.names.index("attn_softmax")]) == pytest.approx(2_048_000.0, rel=1e-3)
    assert "attn_softmax" not in build_operators(model, "prefill", 1.0, 512.0, None, dt).names
    fused = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=512, output_tokens=2, engine="llamacpp",
                              **FP16)
    unfused = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=512, output_tokens=2,
                                engine=_llamacpp(flash_attention=False), **FP16)
    # 32 layers x 134 MB = 4.29 GB more through memory: at least 4.29e9 / 1008e9 s = 4.3 ms more TTFT
    assert float(unfused.metrics["ttft_s"]) - float(fused.metrics["ttft_s"]) >= 32 * 134_217_728 / 1008e9


def test_validation_rows_state_the_settings_they_ran():
    # llama-bench's -ub and flash attention, read from the row's system text; the copy keeps the profile's name
    spec = _engine_as_run("llamacpp", "llama.cpp CUDA, flash-attn on, ngl 99, ubatch 2048 (llama-bench); static")
    assert spec.name == "llamacpp" and spec.prompt_ubatch_tokens == 2048 and spec.flash_attention
    off = _engine_as_run("llamacpp", "llama.cpp CUDA, ngl 99, flash-attn off (llama-bench's default); static")
    assert off.flash_attention is False and off.prompt_ubatch_tokens == 512
    assert _engine_as_run("llamacpp", "llama.cpp CUDA, ngl 99, ubatch 512; static") == "llamacpp"
    assert _engine_as_run("vllm", "vLLM 0.6, TP 8; static") == "vllm"
    # llama-server's slots: 4 by default since llama.cpp PR #16736 (October 2025); a row's -np / --parallel wins
    assert get_engine("llamacpp").max_seqs == 4
    slots = _engine_as_run("llamacpp", "llama-server -fa 1 -np 32 -c 700000, Q4_K_M GGUF; continuous")
    assert slots.name == "llamacpp" and slots.max_seqs == 32 and slots.prompt_ubatch_tokens == 512
    assert _engine_as_run("llamacpp", "llama-server --parallel 1; continuous").max_seqs == 1
    assert _engine_as_run("llamacpp", "llama-server -np 4; continuous") == "llamacpp"
    assert _engine_as_run("vllm", "vllm serve --parallel 8; continuous") == "vllm"  # llama-server's flag only
    # vLLM's stated budget (on every device: the TPU profile's per-device table gives way) and sequence limit
    tpu = _engine_as_run("vllm-tpu", "vllm serve --max-num-batched-tokens 512 --max-num-seqs 256 --tp 8; continuous")
    v6e = get_hardware("tpu-v6e").fastest_memory.capacity_bytes
    assert tpu.max_batch_tokens == 512 and tpu.batch_limits_on("tpu-v6e", v6e)[0] == 512 and tpu.max_seqs == 256
    assert get_engine("vllm-tpu").batch_limits_on("tpu-v6e", v6e)[0] == 1024
    assert _engine_as_run("vllm", "vllm serve --max-num-seqs=12; continuous").max_seqs == 12
    assert _engine_as_run("sglang", "--max-num-seqs 12; continuous") == "sglang"


def test_many_configurations_in_passes_equal_the_single_estimates():
    # the vectorized paths (a few configurations; thousands, whose steps are summed lean in column chunks) give the
    # single estimate's numbers, configuration by configuration
    import numpy as np

    n = 3000
    rng = np.random.default_rng(3)
    inputs, batch = rng.integers(1, 9000, n), rng.integers(1, 9, n)
    engine = get_engine("llamacpp").model_copy(update={"flash_attention": False})
    for size in (3, n):
        many = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=inputs[:size], output_tokens=16,
                                 batch=batch[:size], engine=engine, check_fit=False, **FP16)
        for i in (0, 1, size - 1):
            one = genmodel.estimate("llama-3.1-8b", "rtx-4090", input_tokens=int(inputs[i]), output_tokens=16,
                                    batch=int(batch[i]), engine=engine, check_fit=False, **FP16)
            for key in ("ttft_s", "tpot_s", "prefill_flops"):
                assert float(many.metrics[key][i]) == pytest.approx(float(one.metrics[key]), rel=1e-12), (size, i)


def test_served_steps_run_in_passes_too():
    # serve's steps carry up to the engine's 2,048-token budget; llama.cpp computes them in passes of 512, so one
    # client's 2,048-token prompt takes 4 passes, 3 more reads of the 13.96 GB of layer weights (at most 1,008 GB/s:
    # at least 41.5 ms more TTFT); with passes at least as large as the step, nothing changes
    whole = genmodel.serve("llama-3.1-8b", "rtx-4090", 2048, 64, concurrency=1,
                           engine=_llamacpp(prompt_ubatch_tokens=None), **FP16)
    passes = genmodel.serve("llama-3.1-8b", "rtx-4090", 2048, 64, concurrency=1, engine=_llamacpp(), **FP16)
    large = genmodel.serve("llama-3.1-8b", "rtx-4090", 2048, 64, concurrency=1,
                           engine=_llamacpp(prompt_ubatch_tokens=4096), **FP16)
    gap = float(passes.metrics["ttft_mean_s"]) - float(whole.metrics["ttft_mean_s"])
    assert gap >= 3 * (16.06e9 - 2 * 128256 * 4096 * 2) / 1008e9
    for key in ("ttft_mean_s", "tpot_mean_s", "request_rate_per_s"):
        assert float(large.metrics[key]) == float(whole.metrics[key]), key


def test_passes_and_the_mean_pass_by_hand():
    # ceil(tokens / 512), at least one: 2,048 tokens in 4 passes, 2,049 in 5, a 10-token step in 1; no limit: 1
    assert step_passes(512, 2048.0) == 4.0 and step_passes(512, 2049.0) == 5.0 and step_passes(512, 10.0) == 1.0
    assert step_passes(None, 1e6) == 1.0
    assert list(step_passes(512, np.array([0.0, 512.0, 513.0]))) == [1.0, 1.0, 2.0]
    # 2,048 tokens in 4 passes: 512 each, after 0, 512, 1,024 and 1,536 cached ones: mean prefix 768 (+ a prefix
    # of 100 cached before the prompt: 868)
    assert mean_pass(2048.0, 4.0) == (512.0, 768.0)
    assert mean_pass(2048.0, 4.0, 100.0) == (512.0, 868.0)


def test_serve_and_estimate_time_one_prompt_in_the_same_passes():
    # one client's 2,048-token prompt on an RTX 4090: 4 passes of 512 in both (or one pass without the limit).
    # serve prices the prompt inside a mixed step (the decode step's rows and the prompt's attention, host work
    # once per step where estimate counts it in each pass: 3 x 0.35 ms), estimate as a prefill step: the two agree
    # within 1% (0.9% without passes, 0.4% with). (serve's closed loop used to price the prompt's tokens in a step
    # that also carried the client's own decode token, 2,049 tokens in 5 passes: 15% above.)
    for ubatch in (None, 512):
        engine = _llamacpp(prompt_ubatch_tokens=ubatch)
        one = genmodel.estimate("llama-3.1-8b", "rtx-4090", batch=1, input_tokens=2048, output_tokens=64,
                                engine=engine, **FP16)
        served = genmodel.serve("llama-3.1-8b", "rtx-4090", 2048, 64, concurrency=1, engine=engine, **FP16)
        assert float(served.metrics["ttft_mean_s"]) == pytest.approx(one.ttft_s, rel=0.01), ubatch
        assert float(served.metrics["tpot_mean_s"]) == pytest.approx(one.tpot_s, rel=1e-9), ubatch


def test_a_one_sequence_engine_at_its_maximum_load_gives_finite_figures_without_warnings():
    # llama-server with one slot (-np 1, its default before October 2025) runs one sequence at a time; the running
    # cap can come out a rounding below 1, and the share of the others a request sees, (N - 1) / N, must then be 0,
    # not -1e-15 (a negative load)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        served = genmodel.serve("llama-3.1-8b", "h100-sxm", 128, 128, engine=_llamacpp(max_seqs=1),
                                request_rate="max")
    for key in ("ttft_p50_s", "ttft_p99_s", "tpot_p99_s", "e2e_p99_s"):
        assert np.isfinite(float(served.metrics[key])), key
