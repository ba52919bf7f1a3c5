"""A call evaluated in blocks (genmodel.engine.estimate, issue 14): each step's rows are reduced to per-configuration
sums in column chunks and let go (``Stepper.lean_rows``), and every sum is the one taken from the kept step; the
memory a blocked call takes beyond its results does not grow with its number of blocks. (That a blocked call gives
every figure of one pass, element by element, is tested in tests/test_speed_paths.py.)"""

from __future__ import annotations

import tracemalloc
from dataclasses import fields

import numpy as np
import pytest

import genmodel
from genmodel.engine import estimate as estimate_module
from genmodel.engine import memory as memory_module
from genmodel.engine.operators import DTypes, operator_rows
from genmodel.engine.parallel import Parallelism
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
    bands = estimate_module.phase_bands(block)  # the block's own (per configuration)
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
    monkeypatch.setattr(estimate_module, "KEEP_STEPS_UP_TO", 1500)
    _beyond_results("llama-3.1-70b", "h200-sxm", 3000, fixed)  # caches filled
    _beyond_results("llama-3.1-70b", "h200-sxm", 12000, fixed)  # ... and the allocator tuned (engine.allocator)
    two = _beyond_results("llama-3.1-70b", "h200-sxm", 3000, fixed)  # two blocks of 1,500
    eight = _beyond_results("llama-3.1-70b", "h200-sxm", 12000, fixed)  # eight blocks of 1,500
    # each block's temporaries go before the next block's are made: about one block's own peak, whatever the number
    # of blocks (a block kept alive while the next one runs would add its whole working set)
    assert eight < 1.15 * two
    assert two < 1.25 * one and eight < 1.25 * one


@pytest.mark.parametrize("model, hardware, fixed, overlap", CASES)
@pytest.mark.parametrize("reuse_from, final_step", [(2, True), (1024, True), (2, False)])
def test_steps_in_column_chunks_give_the_sums_of_kept_steps(monkeypatch, model, hardware, fixed, overlap, reuse_from,
                                                            final_step):
    # a lean timing runs each step's rows in column chunks (here about 90 configurations each) and the slot over the
    # whole setup; a kept timing runs each step whole (Stepper.step / decode_steps) and sums it. Every sum, slot and
    # label is the same number, element by element (the final step re-timed on its attention rows, or both decode
    # contexts in one table below REUSE_FROM, or the mean step alone)
    configs = _configurations(N, overlap=overlap)
    if model == "llama-3.1-8b":
        configs["tp"] = np.ones(N, dtype=int)
    s = _setup(monkeypatch, model, hardware, **configs, **fixed)
    monkeypatch.setattr(estimate_module, "REUSE_FROM", reuse_from)
    rows = estimate_module.operator_rows(s.model)
    monkeypatch.setattr(estimate_module, "STEP_ROW_ELEMENTS", 90 * rows)
    mem = estimate_module._memory(s)
    chunks = estimate_module._step_chunks(s, Stepper(s, mem.inv_bandwidth, mem.placement))
    assert len(chunks) >= 6 and sum(sub.shape[0] for sub, _, _ in chunks) == N
    kept = estimate_module._timing(s, mem, final_step=final_step, keep_steps=True)
    lean = estimate_module._timing(s, mem, final_step=final_step, keep_steps=False)
    assert lean.prefill is None and lean.decode is None and kept.decode is not None
    assert kept.dec.bound is not None and kept.pre.flops is not None and kept.dec.energy is not None
    for f in fields(kept.pre):
        assert _same(getattr(kept.pre, f.name), getattr(lean.pre, f.name)), f.name
        assert _same(getattr(kept.dec, f.name), getattr(lean.dec, f.name)), f.name
    assert len(kept.decode_slot_s) == (2 if final_step else 1)
    assert _same(kept.decode_slot_s, lean.decode_slot_s) and _same(kept.decode_ideal_slot_s, lean.decode_ideal_slot_s)


def test_a_block_holds_one_chunk_of_operator_rows():
    # DeepSeek-V3's steps have about 36 operator rows: one block of 32,768 configurations with every row of a step
    # alive at once takes about 3.3 KB per configuration beyond the results (six arrays of the rows' shape for the
    # operator table, as many again while the rows are timed), and so does the one-token table of a layout not seen
    # before (genmodel.engine.memory) when it is built for the whole block; in column chunks of about 2**18 row
    # elements, about 0.8-0.95 KB (the rows of one chunk, the block's own per-configuration arrays, and on a first
    # call the layout constants memory.py keeps). 1.5 KB bounds both the first call and a repeated one
    fixed = {"weight_dtype": "fp8", "ep": 8, "attention_dp": True}
    n = estimate_module.BLOCK_CONFIGURATIONS
    assert estimate_module.operator_rows(genmodel.get_model("deepseek-v3")) >= 30
    first = _beyond_results("deepseek-v3", "dgx-h200", 2 * n, fixed)  # two blocks, their layouts new
    again = _beyond_results("deepseek-v3", "dgx-h200", 2 * n, fixed)
    assert first / n < 1536 and again / n < 1536


def test_the_one_token_table_of_many_layouts_in_chunks_gives_the_whole_tables_values(monkeypatch):
    # the widest activation per token of each layout, from tables of about 50 layouts each, is the number one table
    # of all 600 gives, layout by layout
    model = genmodel.get_model("deepseek-v3")
    dtypes = DTypes("fp8", "bf16", "bf16")
    rng = np.random.default_rng(5)
    layout = Parallelism(tp=rng.choice([1, 2, 4, 8], N), ep=8, attention_dp=rng.random(N) < 0.5)
    whole = memory_module._widest_activation(model, dtypes, layout)
    monkeypatch.setattr(memory_module, "TABLE_ROW_ELEMENTS", 50 * operator_rows(model))
    parts = memory_module._widest_activation(model, dtypes, layout)
    assert whole.shape == (N,) and len(np.unique(whole)) > 1 and _same(whole, parts)


def test_distinct_layouts_and_all_distinct_ones_give_the_whole_tables_values(monkeypatch):
    # a flat array of layouts larger than one column chunk is tabled once per distinct layout (gathered back), or in
    # column chunks where every layout is distinct (random expert imbalances): either way the numbers one table of
    # all 600 gives, layout by layout
    model = genmodel.get_model("deepseek-v3")
    dtypes = DTypes("fp8", "bf16", "bf16")
    rng = np.random.default_rng(6)
    few = Parallelism(tp=rng.choice([1, 2, 4, 8], N), ep=8, attention_dp=rng.random(N) < 0.5)
    many = Parallelism(tp=rng.choice([1, 2, 4, 8], N), ep=8, attention_dp=True,
                       expert_imbalance=rng.uniform(1.0, 1.5, N))
    wholes = [memory_module._widest_activation(model, dtypes, layout) for layout in (few, many)]
    monkeypatch.setattr(memory_module, "TABLE_ROW_ELEMENTS", 50 * operator_rows(model))
    seen = []
    chunked = memory_module._widest_layer_activation
    monkeypatch.setattr(memory_module, "_widest_layer_activation",
                        lambda m, d, layout: seen.append(np.shape(layout.tp)) or chunked(m, d, layout))
    for layout, whole in zip((few, many), wholes, strict=True):
        seen.clear()
        parts = memory_module._widest_activation(model, dtypes, layout)
        assert whole.shape == (N,) and _same(whole, parts)
        if layout is few:  # one table of the distinct layouts (at most 4 x 2 of them)
            assert len(seen) == 1 and seen[0][0] <= 8
        else:  # every layout distinct: tables of about 50 layouts each
            assert len(seen) > 1 and max(shape[0] for shape in seen) <= 50


def test_distinct_layouts_group_columns_of_equal_bits():
    # columns are alike exactly when every array holds the same bits there (0.0 and -0.0 are not alike)
    rng = np.random.default_rng(8)
    tp = rng.choice([1.0, 2.0, 8.0], 500)
    adp = rng.random(500) < 0.3
    overlap = np.where(rng.random(500) < 0.5, 0.0, -0.0)
    first, inverse = memory_module._distinct_layouts([tp, adp, overlap])
    columns = [(tp[i].tobytes(), bool(adp[i]), overlap[i].tobytes()) for i in range(500)]
    assert len(first) == len(set(columns))
    assert all(columns[first[inverse[i]]] == columns[i] for i in range(500))


def test_the_layout_caches_stay_bounded_in_bytes(monkeypatch):
    # every block of a large call with its own layouts is a new key of memory.py's layout caches (the key holds the
    # layout arrays): bounded by entries only, the caches grew with the number of blocks. With a 1 MiB bound, three
    # calls of 40,000 configurations (each about 1.8 MB of keys and constants) leave each cache within the bound, and
    # the figures equal those of a call that found every entry cached
    monkeypatch.setattr(memory_module, "_CACHE_BYTES", 2**20)
    for cache in (memory_module._ACTIVATION_CACHE, memory_module._DEVICE_CACHE):
        cache.clear()
        monkeypatch.setitem(memory_module._held, id(cache), 0)
    rng = np.random.default_rng(11)
    kwargs = {"batch": rng.integers(1, 64, 40_000), "tp": rng.choice([1, 2, 4, 8], 40_000), "check_fit": False}
    first = genmodel.estimate("llama-3.1-70b", "h200-sxm", **kwargs).metrics
    for seed in (12, 13):
        other = np.random.default_rng(seed)
        genmodel.estimate("llama-3.1-70b", "h200-sxm", batch=kwargs["batch"], tp=other.choice([1, 2, 4, 8], 40_000),
                          check_fit=False)
    for cache in (memory_module._ACTIVATION_CACHE, memory_module._DEVICE_CACHE):
        held = memory_module._held[id(cache)]
        assert held <= 2**20
        assert held == sum(memory_module._nbytes(k) + memory_module._nbytes(v[1]) for k, v in cache.items())
    again = genmodel.estimate("llama-3.1-70b", "h200-sxm", **kwargs).metrics
    assert all(_same(first[k], again[k]) for k in first)


def test_a_call_of_one_block_keeps_no_rows_past_the_keep_limit():
    # past KEEP_STEPS_UP_TO configurations a call runs as blocks of lean steps even when it fits in one block: a call
    # of exactly one block of DeepSeek-V3 held about 9 KB per configuration beyond its results while it kept both
    # steps' operator rows (36 rows x 6 columns each), and stays under 1.5 KB now; a call within the limit keeps them
    n = estimate_module.BLOCK_CONFIGURATIONS
    fixed = {"weight_dtype": "fp8", "ep": 8, "attention_dp": True}
    assert _beyond_results("deepseek-v3", "dgx-h200", n, fixed) / n < 1536
    kwargs = {**_configurations(estimate_module.KEEP_STEPS_UP_TO, seed=3), **fixed, "check_fit": False}
    assert genmodel.estimate("deepseek-v3", "dgx-h200", **kwargs).decode is not None
    kwargs = {**_configurations(estimate_module.KEEP_STEPS_UP_TO + 1, seed=3), **fixed, "check_fit": False}
    assert genmodel.estimate("deepseek-v3", "dgx-h200", **kwargs).decode is None


def test_chunk_bounds_cover_the_range_in_nearly_equal_chunks():
    # the blocks of a large call and the chunks of memory's one-token tables: the fewest chunks of at most `size`,
    # consecutive, covering 0..n, their sizes differing by at most one (10 by 4: 3 chunks of 3, 3 and 4)
    import itertools

    from genmodel.engine.operators import chunk_bounds

    assert chunk_bounds(10, 4) == [(0, 3), (3, 6), (6, 10)]
    for n, size in ((1, 4), (4, 4), (5, 4), (1000, 7), (32768, 32768), (100000, 32768)):
        bounds = chunk_bounds(n, size)
        assert len(bounds) == -(-n // size) and bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        sizes = [stop - start for start, stop in bounds]
        assert max(sizes) <= size and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("final_step", [True, False])
def test_chunks_with_and_without_eager_decode_steps_give_the_sums_of_kept_steps(monkeypatch, final_step):
    # SGLang captures decode graphs up to 256 sequences: the first half of these configurations (batch 8) has no
    # eager decode step, the second half (batch 300) has one in every configuration, so some column chunks count
    # the kernels of an eager step and others do not (a 0.0 there, Stepper._eager_kernels); the joined sums, slots
    # and labels are those of the kept steps, element by element
    configs = _configurations(N)
    configs["batch"] = np.where(np.arange(N) < N // 2, 8, 300)
    configs["tp"] = np.ones(N, dtype=int)
    s = _setup(monkeypatch, "llama-3.1-8b", "h200-sxm", engine="sglang", **configs)
    monkeypatch.setattr(estimate_module, "REUSE_FROM", 2)
    monkeypatch.setattr(estimate_module, "STEP_ROW_ELEMENTS", 90 * estimate_module.operator_rows(s.model))
    mem = estimate_module._memory(s)
    kept = estimate_module._timing(s, mem, final_step=final_step, keep_steps=True)
    lean = estimate_module._timing(s, mem, final_step=final_step, keep_steps=False)
    for f in fields(kept.dec):
        assert _same(getattr(kept.dec, f.name), getattr(lean.dec, f.name)), f.name
    assert _same(kept.decode_slot_s, lean.decode_slot_s)
    slot = np.asarray(lean.decode_slot_s)[0]
    bound = np.asarray(lean.dec.bound)
    assert (bound[N // 2:] == "overhead").all() and (bound[:N // 2] != "overhead").all()
    assert slot[N // 2:].min() > 291 * 65e-6  # Llama-3.1-8B: 291 kernels at 65 us each, at least
