"""Memory footprint, fit, largest batch and longest context (docs/formulas.md section 4)."""

import numpy as np
import pytest

import genmodel
from genmodel.errors import DoesNotFitError


def test_footprint_parts_by_hand():
    # Llama-3.1-70B fp8: the layers' weights at 1 B, the embedding, the untied LM head (128,256 x 8,192 each) and
    # the final norm kept in bf16 as in published fp8 checkpoints; bf16 KV = batch x (I + O) x 327,680 B
    r = genmodel.estimate("llama-3.1-70b", "h200-sxm", batch=4, input_tokens=2000, output_tokens=48,
                          weight_dtype="fp8")
    model = genmodel.get_model("llama-3.1-70b")
    vocab = 2 * 128_256 * 8_192 + 8_192
    assert r.weights_bytes == (model.total_params - vocab) * 1 + vocab * 2
    # vLLM logs "Model loading took 67.7 GiB" for an fp8 Llama-3.3-70B (same shapes; aihpi/litellm-k8s docs)
    assert r.weights_bytes / 2**30 == pytest.approx(67.7, abs=0.05)
    assert r.kv_cache_bytes == 4 * 2048 * 327_680
    assert r.total_memory_bytes == pytest.approx(r.weights_bytes + r.kv_cache_bytes + r.activation_peak_bytes)
    # H200: 141 GiB x vLLM's default gpu_memory_utilization 0.9 - 1.5 GiB held by the CUDA runtime (kind default)
    assert r.memory_capacity_bytes == pytest.approx(141 * 2**30 * 0.9 - 1.5 * 2**30)
    assert r.fits


def test_max_batch_is_the_boundary():
    kwargs = {"input_tokens": 1024, "output_tokens": 512, "weight_dtype": "fp8", "kv_dtype": "fp8",
              "check_fit": False}
    r = genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=1, **kwargs)
    best = r.max_batch
    assert best >= 1
    assert genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=best, **kwargs).fits
    assert not genmodel.estimate("llama-3.1-70b", "h100-sxm", batch=best + 1, **kwargs).fits


def test_max_batch_by_hand_in_both_prefill_regimes(toy_model, toy_hw):
    # toy: bf16 weights; per sequence: KV (2 layers x 2 KV heads x 128 x K,V x 2 B = 2048 B/token) + logits
    # (1000 x 2 B); activations p bytes per prompt token, for at most 8192 prompt tokens (one prefill chunk).
    from genmodel.engine.memory import activation_bytes_per_token
    from genmodel.engine.operators import DTypes

    p = activation_bytes_per_token(toy_model, DTypes("bf16", "bf16", "bf16"))
    weights = toy_model.total_params * 2
    # (a) short prompts, many sequences: the chunk is full, activations cost p x 8192 once
    kv_seq = 300 * 2048
    expected = int((10e9 - weights - p * 8192) // (kv_seq + 2000))
    assert expected * 10 > 8192
    r = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=10, output_tokens=290)
    assert r.max_batch == expected
    # (b) long prompts, 100 MB of memory: few sequences, every prompt token's activations are live
    kv_seq = 1300 * 2048
    expected = int((100e6 - weights) // (kv_seq + 2000 + p * 1000))
    assert expected >= 1 and expected * 1000 <= 8192
    r = genmodel.estimate(toy_model, toy_hw, batch=1, input_tokens=1000, output_tokens=300, capacity_scale=0.01)
    assert r.max_batch == expected


def test_max_context_is_the_boundary():
    r = genmodel.estimate("llama-3.1-8b", "l40s", batch=8, input_tokens=512, output_tokens=16)
    n = r.max_context_tokens
    assert 0 < n < genmodel.get_model("llama-3.1-8b").max_context_tokens
    assert genmodel.estimate("llama-3.1-8b", "l40s", batch=8, input_tokens=n, output_tokens=0 + 1,
                             check_fit=False).total_memory_bytes <= r.memory_capacity_bytes + 8 * 131072
    assert not genmodel.estimate("llama-3.1-8b", "l40s", batch=8, input_tokens=n + 2, output_tokens=1,
                                 check_fit=False).fits


def test_does_not_fit_says_what_to_change():
    with pytest.raises(DoesNotFitError, match=r"weights alone do not fit.*--weight-dtype"):
        genmodel.estimate("llama-3.1-405b", "h100-sxm")
    with pytest.raises(DoesNotFitError, match=r"largest batch that fits"):
        genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=4096, input_tokens=8192, output_tokens=8192)


def test_arrays_report_fit_instead_of_raising():
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", batch=np.array([1, 100000]), input_tokens=8192)
    assert r.metrics["fits"].tolist() == [True, False]


def test_capacity_what_if():
    small = genmodel.estimate("llama-3.1-8b", "rtx-4090", batch=1, input_tokens=1024, output_tokens=1024)
    big = genmodel.estimate("llama-3.1-8b", "rtx-4090", batch=1, input_tokens=1024, output_tokens=1024,
                            capacity_scale=2.0)
    # usable = physical x 0.9 - 1.5 GiB: doubling the 24 GiB adds 24 GiB x 0.9, the reservation is paid once
    assert big.device_memory_bytes == 2 * small.device_memory_bytes == 48 * 2**30
    assert big.memory_capacity_bytes == pytest.approx(small.memory_capacity_bytes + 24 * 2**30 * 0.9)
    assert big.max_batch > 2 * small.max_batch  # the weights are paid once


# Start-up logs of vLLM v0.19.0 on H100 80GB at gpu_memory_utilization 0.95 (llm-d-planner accuracy sweep,
# github.com/llm-d-incubation/llm-d-planner/pull/205, logs under accuracy/results/v0.19.0/logs), and an fp8
# Llama-3.3-70B on one H100 (github.com/aihpi/litellm-k8s docs/adding-models.md): model, tp, weight/KV dtypes,
# "Model loading took W GiB", "Available KV cache memory: K GiB". Llama-3.3-70B has Llama-3.1-70B's shapes.
VLLM_H100 = [
    ("llama-3.1-8b", 1, "bf16", "bf16", 14.99, 58.11),
    ("llama-3.1-8b", 1, "fp8", "bf16", 8.49, 64.61),
    ("llama-3.1-8b", 2, "bf16", "bf16", 7.51, 63.76),
    ("llama-3.1-8b", 4, "bf16", "bf16", 3.77, 67.44),
    ("llama-3.1-70b", 1, "fp8", "fp8", 67.7, 5.11),
    ("llama-3.1-70b", 2, "fp8", "bf16", 33.88, 37.28),
    ("llama-3.1-70b", 4, "fp8", "bf16", 16.96, 54.09),
    ("mixtral-8x7b", 2, "bf16", "bf16", 43.51, 28.44),
    ("qwen2.5-72b", 2, "bf16", "bf16", 67.80, 3.04),
]


@pytest.mark.parametrize(("name", "tp", "weights", "kv", "loaded_gib", "kv_gib"), VLLM_H100)
def test_memory_left_for_the_kv_cache_matches_vllm_start_up(name, tp, weights, kv, loaded_gib, kv_gib):
    # same share of memory as those runs (0.95); the runtime reservation and collective buffers stay at the GPU
    # defaults. What is left after weights and activations is the KV-cache space vLLM reports; both sides are
    # differences of large numbers, so the check is absolute: within 1.5 GiB (vLLM's own profiled activations
    # are 1.2-2.3 GiB where ours are the workload's, 0.6-1.4 GiB)
    r = genmodel.estimate(name, "h100-sxm", batch=1, input_tokens=8191, output_tokens=1, weight_dtype=weights,
                          kv_dtype=kv, tp=tp, efficiency=genmodel.Efficiency(usable_memory_fraction=0.95),
                          check_fit=False)
    gib = 2**30
    # vLLM's figure also holds buffers such as the rotary cos/sin cache (131,072 x 128 fp32 = 64 MiB): 1.5%
    assert r.weights_bytes / gib == pytest.approx(loaded_gib, rel=0.015)
    left = (r.memory_capacity_bytes - r.weights_bytes - r.activation_peak_bytes) / gib
    assert left == pytest.approx(kv_gib, abs=1.5)


def test_fp8_70b_on_one_h100_holds_a_few_sequences_at_vllm_defaults():
    # 80 GiB x 0.9 - 1.5 GiB = 70.5 GiB usable; 67.7 GiB of weights (bf16 embedding and LM head). Each sequence of
    # 2,048 + 512 tokens needs 2,560 x 160 KiB of fp8 KV plus its prompt's activations (below one 8,192-token
    # prefill chunk for up to 4 sequences): b = floor((usable - weights) / (KV + activations of one sequence)) = 3.
    # vLLM at its default 0.9 keeps 71.27 - 67.7 - 1.96 - 0.14 = 1.47 GiB for KV (llm-d-benchmark,
    # config_explorer/empirical-vllm-memory-results.md): 3 such sequences; at 0.95 it reports 33,504 tokens
    # (github.com/aihpi/litellm-k8s docs/adding-models.md): 13 sequences
    kwargs = {"batch": 1, "input_tokens": 2048, "output_tokens": 512, "weight_dtype": "fp8", "kv_dtype": "fp8"}
    default = genmodel.estimate("llama-3.1-70b", "h100-sxm", **kwargs)
    roomier = genmodel.estimate("llama-3.1-70b", "h100-sxm", **kwargs,
                                efficiency=genmodel.Efficiency(usable_memory_fraction=0.95))
    per_sequence = 2560 * 80 * 2 * 8 * 128 + default.activation_peak_bytes
    space = 80 * 2**30 * 0.9 - 1.5 * 2**30 - default.weights_bytes
    assert default.max_batch == int(space // per_sequence) == 3
    assert roomier.max_batch in (12, 13, 14)


def test_collective_buffers_only_on_multi_device_replicas():
    gib = 2**30
    one = genmodel.estimate("llama-3.1-8b", "dgx-h100", dp=8)  # eight independent replicas
    two = genmodel.estimate("llama-3.1-8b", "dgx-h100", tp=2)
    assert one.runtime_reserved_bytes == 1.5 * gib
    assert two.runtime_reserved_bytes == (1.5 + 1.75) * gib
    assert two.memory_capacity_bytes == pytest.approx(80 * gib * 0.9 - 3.25 * gib)


def test_max_context_is_the_largest_context_that_fits_exactly():
    """The closed form of the longest context: at it the footprint fits, one token more it does not (or it is the
    model's maximum), across windowed models, chunk sizes and batches."""
    import genmodel
    from genmodel.engine.estimate import _memory
    from genmodel.engine.inputs import prepare

    batches = np.array([1, 3, 7, 64, 1024])
    for model, hw, chunk in (("llama-3.1-8b", "l4", 8192), ("mistral-7b-v0.1", "rtx-4090", 512),
                             ("gpt-oss-120b", "h100-sxm", 8192), ("llama-3.1-70b", "b200", 2048)):
        s = prepare(model, hw, batches, 1024, 256, None, None, None, embedding_dtype=None,
                    parallel=genmodel.Parallelism(1, 1, 1, 1, False), num_devices=None, prefill_chunk_tokens=chunk,
                    flops_scale=1.0, bandwidth_scale=1.0, capacity_scale=1.0, interconnect_scale=1.0,
                    check_fit=False, workload=None, costs=None, requests_per_s=None, efficiency=None,
                    calibrated=True, cooling_w_per_w=None, engine=None)
        mem = _memory(s)
        n = mem.device.max_context(batches, mem.capacity)
        top = genmodel.get_model(model).max_context_tokens
        fits = mem.device.footprint(batches, n, 0, 0.0).total_bytes <= mem.capacity
        more = mem.device.footprint(batches, n + 1, 0, 0.0).total_bytes <= mem.capacity
        assert np.all(fits | (n == 0)) and np.all(~more | (n == top)), (model, n)
