"""A call evaluated in blocks (genmodel.engine.estimate, issue 14): each step's rows are reduced to per-configuration
sums and let go (a lean step, ``Stepper.step(keep=False)``), and every sum is the one taken from the kept step; the
memory a blocked call takes beyond its results does not grow with its number of blocks. (That a blocked call gives
every figure of one pass, element by element, is tested in tests/test_speed_paths.py.)"""

from __future__ import annotations

import tracemalloc
from dataclasses import fields

import numpy as np
import pytest

import genmodel
from genmodel.engine import estimate as estimate_module
from genmodel.engine.step import Stepper

N = 600  # configurations (the decode steps below re-time the final step, whatever REUSE_FROM says)


def _configurations(n: int, seed: int = 7, overlap: bool = False) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {"batch": rng.integers(8, 300, n), "input_tokens": rng.integers(16, 9000, n),
           "output_tokens": rng.integers(1, 3000, n), "tp": rng.choice([1, 2, 4, 8], n),
           "bandwidth_scale": rng.uniform(0.5, 2.0, n)}
    if overlap:  # two-batch overlap splits some slots (instances per slot then vary per configuration)
        out["comm_overlap"] = rng.uniform(0.0, 1.0, n)
    return out


def _setup(monkeypatch, model: str, hardware: str, **kwargs):
    """The checked setup ``estimate`` evaluates for these arguments (caught on its way to ``_evaluate``)."""
    seen = {}
    evaluate = estimate_module._evaluate

    def spy(s, *args, **options):
        seen["s"] = s
        return evaluate(s, *args, **options)

    monkeypatch.setattr(estimate_module, "_evaluate", spy)
    genmodel.estimate(model, hardware, check_fit=False, **kwargs)
    monkeypatch.setattr(estimate_module, "_evaluate", evaluate)
    return seen["s"]


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


CASES = [
    ("llama-3.1-70b", "h200-sxm", {"weight_dtype": "fp8"}, False),  # dense GQA, envelope energy model
    ("deepseek-v3", "dgx-h200", {"weight_dtype": "fp8", "ep": 8, "attention_dp": True}, True),  # MoE, MLA, overlap
    ("llama-3.1-8b", "imec-scd-board", {}, False),  # energy coefficients: the byte columns stay, power-capped rows
    ("qwen3-30b-a3b", "tpu-v6e", {}, False),  # compiled engine: padded prompts and batches
]


@pytest.mark.parametrize("model, hardware, fixed, overlap", CASES)
def test_a_lean_step_gives_the_sums_of_a_kept_one(monkeypatch, model, hardware, fixed, overlap):
    configs = _configurations(N, overlap=overlap)
    if model == "llama-3.1-8b":
        configs["tp"] = np.ones(N, dtype=int)
    s = _setup(monkeypatch, model, hardware, **configs, **fixed)
    mem = estimate_module._memory(s)
    stepper = Stepper(s, mem.inv_bandwidth, mem.placement)
    b = s.batch / s.par.attention_groups
    contexts = estimate_module.decode_contexts(s.input_tokens, s.output_tokens, s.shape)
    pairs = [(stepper.step("prefill", b, s.input_tokens), stepper.step("prefill", b, s.input_tokens, keep=False))]
    kept, slot, ideal = stepper.decode_steps(b[None], 1, contexts)
    lean, lean_slot, lean_ideal = stepper.decode_steps(b[None], 1, contexts, keep=False)
    assert _same(slot, lean_slot) and _same(ideal, lean_ideal)
    pairs.append((kept, lean))
    for whole, thin in pairs:
        assert thin.ideal is None and whole.ideal is not None  # the lean step keeps no ideal rows
        a = estimate_module._step_sums(s, stepper, whole, True, True, keep=True)
        b_ = estimate_module._step_sums(s, stepper, thin, True, True, keep=False)
        for f in fields(a):
            assert _same(getattr(a, f.name), getattr(b_, f.name)), f.name


def _beyond_results(model: str, hardware: str, n: int, fixed: dict) -> int:
    """Peak bytes tracemalloc sees in one call of ``n`` configurations, less the arrays the result returns."""
    kwargs = {**_configurations(n, seed=3), **fixed, "check_fit": False}
    tracemalloc.start()
    try:
        r = genmodel.estimate(model, hardware, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    arrays = [*r.metrics.values(), *r.inputs.values(), *(a for tiers in r.placement.values() for a in tiers),
              r.prefill_slots, r.decode_slots, r.prefill_step_sequences, r.decode_step_sequences]
    return peak - sum(np.asarray(a).nbytes for a in arrays)


def _one_block_peak(s, size: int) -> int:
    """Peak bytes of evaluating the first block of ``size`` configurations of setup ``s`` as a blocked call does."""
    _, _, block = next(estimate_module._blocks(s, size))
    bands = estimate_module.phase_bands(s)
    tracemalloc.start()
    try:
        estimate_module._evaluate(block, None, bands, views=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_blocked_call_holds_one_block_at_a_time(monkeypatch):
    fixed = {"weight_dtype": "fp8"}
    s = _setup(monkeypatch, "llama-3.1-70b", "h200-sxm", **_configurations(12000, seed=3), **fixed)
    one = _one_block_peak(s, 1500)
    monkeypatch.setattr(estimate_module, "BLOCK_CONFIGURATIONS", 1500)
    _beyond_results("llama-3.1-70b", "h200-sxm", 3000, fixed)  # caches filled
    two = _beyond_results("llama-3.1-70b", "h200-sxm", 3000, fixed)  # two blocks of 1,500
    eight = _beyond_results("llama-3.1-70b", "h200-sxm", 12000, fixed)  # eight blocks of 1,500
    # each block's temporaries go before the next block's are made: about one block's own peak, whatever the number
    # of blocks (a block kept alive while the next one runs would add its whole working set)
    assert eight < 1.15 * two
    assert two < 1.25 * one and eight < 1.25 * one
