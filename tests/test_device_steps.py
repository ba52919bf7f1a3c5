"""genmodel's engine step against whole Llama-3.1-8B steps measured on this project's H200
(validation/device_steps_h200.json and its repeat, written by benchmarks/device_steps.py; compared by
benchmarks/compare_device_steps.py; docs/validation.md, "Whole steps measured on an H200"). Nothing was fitted on
these. What is asserted is what the docs claim: the measurements' own consistency, the explanations checked by hand
(a decode attention kernel with one thread block per sequence and KV head; the smallest kernels' time), and
genmodel's error per kernel class with the physics defaults (no fit, so a refit does not move them) within the stated
ranges; the Hopper fit's only where the docs state it."""

from __future__ import annotations

import pytest
from benchload import script_module

cds = script_module("compare_device_steps")


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
            # prompts: cuBLAS's GEMMs within 8% from 1,024 tokens on (+17% at 512); attention 14-21% fast
            if not name.startswith("prefill, 512"):
                assert abs(e["gemm"]) < 8.0, name
            assert -22.0 < e["attention"] < -13.0, name
            assert abs(e["all"]) < 20.0, name
        elif name.startswith("decode, batch 1,"):
            assert abs(e["gemm"]) < 2.0, name  # the weights' stream at batch 1
        else:
            # decode, 8-256 sequences: GEMMs 18-32% slow (the sum of arithmetic and data movement, formulas.md 5.1)
            assert 17.0 < e["gemm"] < 33.0, name
            if not name.startswith("decode, batch 8,"):
                assert 0.0 < e["attention"] < 16.0, name  # the KV stream at 64% of the bandwidth: a little slow


def test_whole_steps_with_the_defaults_and_the_fit(defaults, fit):
    # where genmodel's kernels stand for the measured ones (the attention of 32+ sequences), the whole decode step
    # with the defaults is within 15% (fused and unfused small kernels differ: the other class is 55-72% fast)
    for name, e in defaults.items():
        if name.startswith("decode") and not name.startswith(("decode, batch 1,", "decode, batch 8,")):
            assert abs(e["all"]) < 15.0, name
            assert -73.0 < e["other"] < -54.0, name
    # the Hopper fit is slower than these kernels: prompts' GEMMs +1...+28% (+1.4% at 8,192 tokens, +6.2% at 2,048),
    # decode GEMMs of 8+ sequences +28...+45% (prompts +12...+38% and decode +32...+50% with the fit before history
    # item 99, whose Hopper GEMM fraction was 0.655 where llama.cpp's prompts, then priced at the tensor rate, held it
    # down; 0.728 since)
    for name, e in fit.items():
        if name.startswith("prefill"):
            assert 0.0 < e["gemm"] < 30.0, name
        elif not name.startswith("decode, batch 1,"):
            assert 25.0 < e["gemm"] < 50.0, name


@pytest.fixture(scope="module")
def mixed():
    return cds.load(cds.MIXED)


def test_mixed_steps_ran_and_repeat(mixed):
    # six continuous-batching steps (n decodes over 1,024 cached tokens and one new prompt), all finite; their logits
    # agree with the decode and prefill steps run apart to 2e-2 (BF16 GEMMs of other heights); a second run within 3%
    assert [r["kind"] for r in mixed["records"]] == ["mixed_step"] * 6
    assert all(r["output_ok"] and "error" not in r for r in mixed["records"])
    assert mixed["meta"]["mixed_check"] < 3e-2
    assert cds.repeat_spread(mixed, cds.load(cds.MIXED_REPEAT)) < 3.0
    # the classes timed apart add up to the step within 12% (+3.8...+10.9% in the two runs)
    for r in mixed["records"]:
        assert sum(r[f"{c}_s"] for c in cds.CLASSES) == pytest.approx(r["all_s"], rel=0.12), cds.label(r)


def test_mixed_steps_gemms_between_powers_of_two(mixed):
    # a prompt's tokens and the decodes' together make GEMMs of 513-2,176 rows, between powers of two: with Hopper's
    # balanced tiles (history item 48) the defaults put their GEMMs -4...+17% from the measured ones (whole 128-row
    # tiles and partly empty last waves gave +4...+51%: +51% for 1 decode + 512 prompt tokens, 513 rows)
    errors = {cds.label(r): e for r, e in cds.errors(mixed, calibrated=False)}
    assert all(-5.0 < e["gemm"] < 18.0 for e in errors.values()), errors
    assert all(abs(e["all"]) < 14.0 for e in errors.values()), errors
    one = next(r for r in mixed["records"] if r["batch"] == 1)
    # measured, 513 rows cost 7.8% more than the prompt's 512 alone (the prefill step); genmodel's defaults give the
    # same within a point (the 64-row wgmma padding, 576 / 512 on the rows, less the LM head and attention shares)
    alone = next(r for r in cds.load()["records"] if r["kind"] == "prefill_step" and r["prompt_tokens"] == 512)
    assert one["gemm_s"] / alone["gemm_s"] == pytest.approx(1.078, abs=0.005)
    ratio = cds.predicted(one, False)["gemm"] / cds.predicted(alone, False)["gemm"]
    assert ratio == pytest.approx(1.078, abs=0.01)


def test_a_mixed_step_without_a_prompt_is_the_decode_step():
    # the stepper serve composes, with no prompt riding in the step, gives estimate's decode step, class by class
    decode = next(r for r in cds.load()["records"] if r["kind"] == "decode_step" and r["batch"] == 32
                  and r["context"] == 1024)
    for calibrated in (True, False):
        a = cds.mixed_predicted(32, 1024, 0, calibrated)
        b = cds.predicted(decode, calibrated)
        for key in (*cds.CLASSES, "all"):
            assert a[key] == pytest.approx(b[key], rel=1e-9), key
