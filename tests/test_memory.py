"""Memory footprint, fit, largest batch and longest context (docs/formulas.md section 4)."""

import numpy as np
import pytest

import genmodel
from genmodel.errors import DoesNotFitError


def test_footprint_parts_by_hand():
    # Llama-3.1-70B: fp8 weights = total params x 1 B; bf16 KV = batch x (I + O) x 327,680 B
    r = genmodel.estimate("llama-3.1-70b", "h200-sxm", batch=4, input_tokens=2000, output_tokens=48,
                          weight_dtype="fp8")
    model = genmodel.get_model("llama-3.1-70b")
    assert r.weights_bytes == model.total_params
    assert r.kv_cache_bytes == 4 * 2048 * 327_680
    assert r.total_memory_bytes == pytest.approx(r.weights_bytes + r.kv_cache_bytes + r.activation_peak_bytes)
    assert r.memory_capacity_bytes == pytest.approx(141e9 * 0.9)  # H200 141 GB x vLLM's 0.9 default
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
    assert big.memory_capacity_bytes == pytest.approx(2 * small.memory_capacity_bytes)
    assert big.max_batch > 2 * small.max_batch  # the weights are paid once
