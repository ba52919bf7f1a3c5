"""genmodel's engine step against whole Llama-3.1-8B steps measured on this project's H200
(validation/device_steps_h200.json and its repeat, written by benchmarks/device_steps.py; compared by
benchmarks/compare_device_steps.py; docs/validation.md, "Whole steps measured on an H200"). Nothing was fitted on
these. What is asserted is what the docs claim: the measurements' own consistency, the explanations checked by hand
(a decode attention kernel with one thread block per sequence and KV head; the smallest kernels' time), and
genmodel's error per kernel class with the physics defaults (no fit, so a refit does not move them) within the stated
ranges; the Hopper fit's only where the docs state it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("compare_device_steps", ROOT / "benchmarks" / "compare_device_steps.py")
cds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cds)


@pytest.fixture(scope="module")
def data():
    return cds.load()


@pytest.fixture(scope="module")
def defaults(data):
    return {cds.label(r): e for r, e in cds.errors(data, calibrated=False)}


@pytest.fixture(scope="module")
def fit(data):
    return {cds.label(r): e for r, e in cds.errors(data, calibrated=True)}


def test_the_files_hold_two_runs_of_every_step(data):
    repeat = cds.load(cds.REPEAT)
    for d in (data, repeat):
        assert d["meta"]["device"] == "NVIDIA H200" and d["meta"]["dims"]["layers"] == 32
        kinds = [r["kind"] for r in d["records"]]
        assert kinds.count("decode_step") == 8 and kinds.count("prefill_step") == 5
        # every step ran, gave finite logits and tokens in the vocabulary, and its grouped attention checked out
        assert all(r["output_ok"] and "error" not in r for r in d["records"])
        assert d["meta"]["grouped_decode_relative_error"] < 1e-2
    # graph-replayed times repeat within 3% between the two runs
    assert cds.repeat_spread(data, repeat) < 3.0


def test_the_kernel_classes_add_up_to_the_step(data):
    # the classes run one after another on one stream, so timed apart they sum to the whole step (-3.5...+9.3% in
    # both runs: the class-only graphs differ a little in what the L2 holds between kernels)
    for d in (data, cds.load(cds.REPEAT)):
        for r in d["records"]:
            assert sum(r[f"{c}_s"] for c in cds.CLASSES) == pytest.approx(r["all_s"], rel=0.10), cds.label(r)


def test_decode_attention_of_few_sequences_is_limited_by_its_thread_blocks(data):
    # PyTorch's flash kernel runs batch x 8 KV heads thread blocks: at 1 and 8 sequences 8 and 64 of the 132
    # multiprocessors stream the KV cache, so its 32 kernels take the stream's time over that share plus a small
    # kernel's 2 us each (within 20%), 2.5x and more the full-device stream; at 32 sequences and more it streams
    # 3.2-3.8 TB/s, 75-89% of the copy's 4.24
    for r in data["records"]:
        if not cds.is_decode(r):
            continue
        full, blocks = cds.kv_stream_s(r, 4.24e12)
        if r["batch"] <= 8:
            assert r["attention_s"] == pytest.approx(blocks + 32 * 2e-6, rel=0.20), cds.label(r)
            assert r["attention_s"] > 2.5 * full
        else:
            assert 0.74 < full / r["attention_s"] < 0.90, cds.label(r)


def test_small_kernels_take_about_two_microseconds_below_the_kernel_floor(data):
    # a batch-1 decode step's 804 kernels beside its GEMMs and attention (norms, rotary, copies, residual adds on a
    # few thousand elements) take 2.0 us each with the graph's gap: formulas.md's smallest kernels (about 2 us),
    # under genmodel's floor for the typical engine kernel (4 us) plus vLLM's gap (1.5 us)
    batch1 = next(r for r in data["records"] if cds.is_decode(r) and r["batch"] == 1 and r["context"] == 1024)
    assert 1.8e-6 < cds.small_kernel_s(batch1) < 2.2e-6
    assert cds.small_kernel_s(batch1) < 4e-6 + 1.5e-6


def test_gemms_and_attention_with_the_physics_defaults(defaults):
    for name, e in defaults.items():
        if name.startswith("prefill"):
            # prompts: cuBLAS's GEMMs within 7% from 1,024 tokens on (+22% at 512); attention 14-21% fast
            if not name.startswith("prefill, 512"):
                assert abs(e["gemm"]) < 7.0, name
            assert -22.0 < e["attention"] < -13.0, name
            assert abs(e["all"]) < 18.0, name
        elif name.startswith("decode, batch 1,"):
            assert abs(e["gemm"]) < 2.0, name  # the weights' stream at batch 1
        else:
            # decode, 8-256 sequences: GEMMs 21-37% slow (the sum of arithmetic and data movement, formulas.md 5.1)
            assert 20.0 < e["gemm"] < 38.0, name
            if not name.startswith("decode, batch 8,"):
                assert 0.0 < e["attention"] < 16.0, name  # the KV stream at 64% of the bandwidth: a little slow


def test_whole_steps_with_the_defaults_and_the_fit(defaults, fit):
    # where genmodel's kernels stand for the measured ones (the attention of 32+ sequences), the whole decode step
    # with the defaults is within 15% (fused and unfused small kernels differ: the other class is 55-72% fast)
    for name, e in defaults.items():
        if name.startswith("decode") and not name.startswith(("decode, batch 1,", "decode, batch 8,")):
            assert abs(e["all"]) < 15.0, name
            assert -73.0 < e["other"] < -54.0, name
    # the Hopper fit is slower than these kernels: prompts' GEMMs +13...+44%, decode GEMMs of 8+ sequences +35-56%
    for name, e in fit.items():
        if name.startswith("prefill") or not name.startswith("decode, batch 1,"):
            assert 10.0 < e["gemm"] < 60.0, name
