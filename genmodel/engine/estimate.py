"""``estimate()``: latency, throughput, memory, energy and cost of one model on one device or platform.

Contract
--------
Inputs may be scalars or NumPy arrays (batch, input_tokens, output_tokens, flops_scale, bandwidth_scale,
capacity_scale, and the parallel degrees of a ``Parallelism``); they broadcast together and every output has
the broadcast shape. No Python loop runs over configurations. ``estimate`` is a sequence of named steps:

1. ``prepare`` (genmodel.engine.inputs): check every argument once and resolve names, datatypes and realism;
2. ``_memory``: per-device footprint, what fits, and where each data class sits in the memory tiers;
3. ``_timing``: one prefill step and the decode steps, each a pipeline slot timed by ``genmodel.engine.step``,
   combined over the pipeline (docs/parallelism.md section 3); each step's operator rows are reduced to the
   per-configuration sums the metrics read (``StepSums``: slot times, exposed communication, joules per slot, bound
   label, FLOPs) as soon as the step is timed, so a block (below) holds one step's rows at a time, and those in
   column chunks of at most ``STEP_ROW_ELEMENTS`` row elements (``_lean_steps``: the rows of a chunk are built,
   timed and summed, then let go; the collectives and the slot run once over the block);
4. ``_energy`` and ``_cost``: joules per request (genmodel.economics.energy), dollars (tco);
5. ``_metrics``: every figure, broadcast to the configuration shape.

A call of more than ``KEEP_STEPS_UP_TO`` configurations runs steps 2-5 block by block over the flattened
configurations (``_in_blocks``, blocks of at most ``BLOCK_CONFIGURATIONS``): every figure is the same number,
element by element, as in one pass, the temporaries stay cache-sized and memory does not grow with the call beyond
the results; such a result does not keep the steps behind it (``Estimate.prefill`` and ``decode`` are None: they
serve ``breakdown()``, which needs one configuration). Inside ``with only_metrics(names)`` only
those metrics are computed and returned (the planner's searches), again each the same array as without it.

Serving model (docs/metrics.md has the exact definitions):
  * A static batch: all ``batch`` prompts are prefilled in one step; TTFT is that step's time (it emits
    the first output token of every sequence). An engine that computes a prompt in passes of at most
    ``EngineSpec.prompt_ubatch_tokens`` tokens (llama.cpp) runs ceil(prompt / floor(U / batch)) passes of whole
    tokens of every sequence instead (``step.prompt_passes``), timed as their mean pass (prefix half the rest of the
    prompt) times their number, one pipeline slot each.
  * Then ``output_tokens - 1`` decode steps, step j attending I + j tokens. ``tpot_s`` is the mean decode
    step time over those steps, computed as the step at the mean attended-key count of each layer group
    (exact, since only attention depends on context and it does so linearly in the keys attended);
    ``tpot_final_s`` is the last step's time. With one output token there is no decode step; both are
    then the time a next step (context I + 1) would take.
  * e2e latency = TTFT + (output_tokens - 1) x tpot_s; output tokens/s = batch x output / e2e.

Every time has an ``ideal_`` twin: the pure roofline (100% of peak compute and bandwidth, no overhead, perfect
overlap), never above the estimate. Not modeled: queueing, speculative decoding, thermal throttling.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields

import numpy as np

from genmodel.economics.tco import HOURS_PER_YEAR, CostAssumptions, usd_per_device_hour
from genmodel.engine.allocator import tune_for
from genmodel.engine.inputs import Setup, prepare
from genmodel.engine.memory import DeviceMemory, Footprint, place
from genmodel.engine.operators import chunk_bounds, operator_rows
from genmodel.engine.parallel import Parallelism, layout_given
from genmodel.engine.result import Estimate
from genmodel.engine.roofline import BOUNDS
from genmodel.engine.scalars import any_true, clip, ndim, shape_of
from genmodel.engine.step import Stepper, StepResult, mean_pass, prompt_passes
from genmodel.engine.uncertainty import MEMORY_BAND_BYTES, Band, architecture_of, per_configuration
from genmodel.errors import DoesNotFitError
from genmodel.specs.dtypes import bytes_per_element
from genmodel.specs.engine import bucketed
from genmodel.specs.hardware import Efficiency, HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.specs.platform import PlatformSpec
from genmodel.specs.workload import DEFAULT_PREFILL_CHUNK_TOKENS, Workload

OVERHEAD_BOUND = int(np.flatnonzero(BOUNDS == "overhead")[0])  # the index of the 'overhead' label


def estimate(model: str | ModelSpec = "llama-3.1-8b", hardware: str | HardwareSpec | PlatformSpec = "h100-sxm",
             batch=1, input_tokens=1024, output_tokens=256, weight_dtype: str | None = None,
             kv_dtype: str | None = None, activation_dtype: str | None = None, *, embedding_dtype: str | None = None,
             tp=1, pp=1, ep=1, dp=1, cp=1, attention_dp=False, expert_imbalance=1.0, comm_overlap=0.0,
             micro_batches=None, num_devices: int | None = None, parallel: Parallelism | None = None,
             prefill_chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS, flops_scale=1.0, bandwidth_scale=1.0,
             capacity_scale=1.0, interconnect_scale=1.0, check_fit: bool = True,
             workload: Workload | None = None, costs: CostAssumptions | None = None,
             requests_per_s: float | None = None, efficiency: Efficiency | None = None,
             calibrated: bool = True, cooling_w_per_w: float | None = None, engine: str | None = None) -> Estimate:
    """Estimate latency, throughput, memory, energy and cost of ``model`` serving static batches on ``hardware``.

    ``hardware`` is a device (one or several of it, split by tp/pp/ep/dp/cp) or a platform (a multi-device
    system whose network it uses); names, spec objects and spec files (``.yaml``/``.json``) are accepted.
    ``batch`` is the number of sequences per model replica; ``dp`` replicas serve dp x batch sequences. Array
    inputs broadcast, the parallel degrees included. A ``Workload`` may replace batch, lengths, datatypes and
    prefill chunk; a ``Parallelism`` may replace tp ... micro_batches (any of those also given, with a value other
    than its default, is refused: it would be ignored). ``embedding_dtype`` is the datatype of the
    embedding and LM head (default: the activation datatype for quantized weights, else the weights'). With a
    single configuration and ``check_fit``, a configuration that does not fit raises ``DoesNotFitError`` saying
    what to change; with arrays, ``fits`` tells per configuration. Memory figures are per device (the most
    loaded one). ``calibrated=False`` drops the device entry's calibrated factors (per-kind defaults apply);
    fields set in ``efficiency`` override both (e.g. ``Efficiency(step_overhead_s=0)``). ``cooling_w_per_w``
    replaces a cryogenic device's cooling overhead. ``engine`` names the serving engine (``genmodel engines``;
    default: the device's usual one), whose per-step costs and padded shapes apply. Every argument is checked; bad
    ones raise a ``GenmodelError`` naming the argument.
    """
    if parallel is None:
        parallel = Parallelism(tp, pp, ep, dp, attention_dp, expert_imbalance, comm_overlap, micro_batches, cp)
    else:
        layout_given(tp, pp, ep, dp, cp, attention_dp, expert_imbalance, comm_overlap, micro_batches)
    s = prepare(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype, activation_dtype,
                embedding_dtype=embedding_dtype, parallel=parallel, num_devices=num_devices,
                prefill_chunk_tokens=prefill_chunk_tokens, flops_scale=flops_scale, bandwidth_scale=bandwidth_scale,
                capacity_scale=capacity_scale, interconnect_scale=interconnect_scale, check_fit=check_fit,
                workload=workload, costs=costs, requests_per_s=requests_per_s, efficiency=efficiency,
                calibrated=calibrated, cooling_w_per_w=cooling_w_per_w, engine=engine)
    configurations = math.prod(s.shape)  # (the int int(np.prod(s.shape)) gives, without NumPy)
    tune_for(configurations)  # large temporaries stay in the heap between calls
    wanted = _WANTED.get()
    bands = phase_bands(s)
    if configurations > KEEP_STEPS_UP_TO:
        return _in_blocks(s, wanted, bands)
    mem, timing, metrics = _evaluate(s, wanted, bands, keep_steps=True)
    return Estimate(s.model, s.hw, s.dtypes, s.realism, _inputs(s), metrics, timing.prefill, timing.decode,
                    mem.placement, s.platform, s.par, s.costs, timing.fill, timing.slots, s.batch / timing.pre_split,
                    s.batch / timing.m_dec, bands)


# configurations evaluated together: a larger call runs in blocks of at most this many, so its temporaries stay
# in the processor's last-level cache and its memory does not grow with the call (benchmarks/bench_sweep.py: with
# ``STEP_ROW_ELEMENTS``, about 10% faster than blocks of 16,384 in chunks of 2**17, in the same bytes per block
# configuration, as each block and chunk costs the same fixed Python and NumPy work)
BLOCK_CONFIGURATIONS = 32768
# a call of at most this many configurations keeps its steps' operator rows (``Estimate.prefill``, ``decode``); a
# larger one runs in blocks of lean steps, whose memory stays within about 1 KB per configuration beyond the results
KEEP_STEPS_UP_TO = 1024


def _evaluate(s: Setup, wanted: frozenset[str] | None, bands: dict[str, Band], views: bool = False,
              keep_steps: bool = False):
    """Steps 2-5 of ``estimate`` on one setup: (memory view, timing view, metrics); ``views``: the metrics may be
    read-only broadcast views (a block's, copied into the results at once); ``keep_steps``: the timing view keeps
    the steps behind the figures (``TimingView.prefill`` and ``decode``; else None, their rows freed once summed)."""
    mem = _memory(s)
    timing = _timing(s, mem, final_step=wanted is None or not wanted.isdisjoint(FINAL_STEP_METRICS),
                     wanted=wanted, keep_steps=keep_steps)
    energy = _energy(s, timing)
    return mem, timing, _metrics(s, mem, timing, energy, bands, wanted, views)


_SETUP_ARRAYS = ("batch", "input_tokens", "output_tokens", "flops_scale", "bandwidth_scale", "capacity_scale",
                 "interconnect_scale")


def _blocks(s: Setup, size: int) -> Iterator[tuple[int, int, Setup]]:
    """(start, stop, setup) of each block of at most ``size`` configurations of ``s`` in C order (the configuration
    arrays broadcast and flattened; blocks of nearly equal size, each of two or more configurations: NumPy sums the
    operator rows of several configurations in row order, as in one call, but those of one pairwise)."""
    n, size = int(np.prod(s.shape)), max(size, 4)
    flat = {k: np.broadcast_to(v, s.shape).ravel() for k, v in
            ((k, getattr(s, k)) for k in _SETUP_ARRAYS) if ndim(v)}
    par = {f.name: _flat_layout(v, s.shape) for f in dataclass_fields(s.par)
           if (v := getattr(s.par, f.name)) is not None and ndim(v)}
    for start, stop in chunk_bounds(n, size):
        layout = _layout_part(s.par, {k: v[start:stop] for k, v in par.items()}) if par else s.par
        yield start, stop, replace(s, **{k: v[start:stop] for k, v in flat.items()}, par=layout,
                                   shape=(stop - start,))


def _flat_layout(values, shape: tuple[int, ...]) -> np.ndarray:
    """A layout field's array broadcast to ``shape`` and flattened; whole numbers given as integers become floats
    (every use of a degree takes it as a float: the same numbers, converted once per call rather than per use)."""
    flat = np.broadcast_to(values, shape).ravel()
    return flat.astype(float) if flat.dtype.kind in "iu" else flat


def _layout_part(par: Parallelism, arrays: dict[str, np.ndarray]) -> Parallelism:
    """``replace(par, **arrays)`` without checking the layout again: ``arrays`` are parts of ``par``'s own (checked)
    arrays, so every value of the part was checked. The part remembers its derived figures (``Parallelism.kept``):
    nothing changes its arrays, which belong to the call."""
    part = par.kept()  # (a layout holding arrays has no memo of plain numbers: ``kept`` gives it an empty one)
    for name, value in arrays.items():
        object.__setattr__(part, name, value)
    return part


def _in_blocks(s: Setup, wanted: frozenset[str] | None, bands: dict[str, Band]) -> Estimate:
    """``estimate`` of a large call, block by block (``BLOCK_CONFIGURATIONS``): the same figures, element by element,
    in memory that does not grow with the call beyond the results. Per-configuration attributes come back in the
    configuration shape; the steps behind them (``prefill``, ``decode``) are not kept (``None``)."""
    n = int(np.prod(s.shape))
    metrics: dict[str, np.ndarray] = {}
    extra: dict[str, np.ndarray] = {}
    placement: dict[str, list[np.ndarray]] = {}
    kept = None if wanted is None else wanted | _band_sources(wanted)  # the blocks' figures: the bands' too
    for start, stop, block in _blocks(s, BLOCK_CONFIGURATIONS):
        mem, timing, part = _evaluate(block, kept, {}, views=True)  # (no bands: added over the whole call below)
        attrs = {"fill": timing.fill, "slots": timing.slots, "pre": block.batch / timing.pre_split,
                 "dec": block.batch / timing.m_dec}
        for target, values in ((metrics, part), (extra, attrs)):
            for key, value in values.items():
                labels = type(value) is _Labels
                if key not in target:
                    target[key] = np.empty(n, dtype=BOUNDS.dtype if labels else np.asarray(value).dtype)
                if labels:  # (indices within BOUNDS: mode "clip" takes what "raise" would, without a buffered out)
                    np.take(BOUNDS, np.broadcast_to(value.index, (stop - start,)), out=target[key][start:stop],
                            mode="clip")
                else:
                    target[key][start:stop] = value
        for cls, tiers in mem.placement.items():
            arrays = placement.setdefault(cls, [np.empty(n) for _ in tiers])
            for out, value in zip(arrays, tiers, strict=True):
                out[start:stop] = value
        del mem, timing, part, attrs  # before the next block's evaluation: one block's temporaries at a time
    metrics = _with_bands({k: v.reshape(s.shape) for k, v in metrics.items()}, bands, wanted)
    extra = {k: v.reshape(s.shape) for k, v in extra.items()}
    placement = {cls: [a.reshape(s.shape) for a in arrays] for cls, arrays in placement.items()}
    return Estimate(s.model, s.hw, s.dtypes, s.realism, _inputs(s), metrics, None, None, placement, s.platform,
                    s.par, s.costs, extra["fill"], extra["slots"], extra["pre"], extra["dec"], bands)


_WANTED: ContextVar[frozenset[str] | None] = ContextVar("genmodel_wanted_metrics", default=None)
# the only readers of the final decode step
FINAL_STEP_METRICS = frozenset({"tpot_final_s", "ideal_tpot_final_s", "tpot_final_s_low", "tpot_final_s_high"})


@contextmanager
def only_metrics(names: Collection[str]) -> Iterator[None]:
    """Inside this block ``estimate`` computes and returns only the metrics ``names`` (the inputs in full): for
    searches that read a few columns of a large space (the planner). Each metric it returns is the same array
    ``estimate`` gives without the block; the decode step at the final context is skipped unless a final-step
    metric is asked for, and per-operator bound labels, FLOP totals and the longest context unless asked for."""
    token = _WANTED.set(frozenset(names))
    try:
        yield
    finally:
        _WANTED.reset(token)


# ---- 2. memory -----------------------------------------------------------------------------------------------
@dataclass
class MemoryView:
    device: DeviceMemory
    footprint: Footprint
    capacity: np.ndarray  # bytes the engine can fill, per device
    physical: np.ndarray  # bytes of the memory tiers, per device (after capacity_scale)
    reserved: np.ndarray  # bytes the runtime holds (and collective buffers), per device
    placement: dict[str, list[np.ndarray]]
    inv_bandwidth: dict[str, np.ndarray]


def _memory(s: Setup) -> MemoryView:
    """Footprint of the most loaded device, the capacity it must fit in, and the tier placement of each class."""
    tiers = s.hw.memory
    physical = [t.capacity_bytes * s.capacity_scale for t in tiers]
    # the engine's share of every tier; the runtime's reservation (and the collective buffers of a replica that
    # spans several devices) comes out of the fastest tier, where it lives
    r = s.realism
    caps = [p * r.usable_memory_fraction for p in physical]
    reserved = r.runtime_reserved_bytes + np.where(s.par.replica_devices > 1, r.collective_reserved_bytes, 0.0)
    caps[0] = np.maximum(caps[0] - reserved, 0.0)
    capacity = sum(caps)
    device = DeviceMemory(s.model, s.dtypes, s.par, s.prefill_chunk_tokens)
    fp = device.footprint(s.batch, s.input_tokens, s.output_tokens, capacity)
    fractions = place(caps, [fp.weights_bytes, fp.kv_cache_bytes, fp.activation_peak_bytes])
    placement = dict(zip(("weight", "kv", "act"), fractions, strict=True))
    inv_bw = {cls: sum(f / t.bandwidth_bytes_per_s for f, t in zip(fr, tiers, strict=True))
              for cls, fr in placement.items()}
    if s.check_fit and s.scalar and not bool(fp.fits):
        raise DoesNotFitError(_does_not_fit_message(s, fp, device, capacity, sum(physical), reserved))
    return MemoryView(device, fp, capacity, sum(physical), reserved, placement, inv_bw)


# ---- 3. timing -----------------------------------------------------------------------------------------------
@dataclass
class StepSums:
    """What the metrics read of one step, per configuration: its operator rows summed (``_step_sums``). Arrays of
    the step's ``StepResult`` shape (decode: a leading axis, [mean step] or [mean step, final step])."""

    slot_s: np.ndarray
    ideal_slot_s: np.ndarray
    comm_s: np.ndarray  # exposed communication seconds per slot
    energy: tuple[np.ndarray, ...] | None  # (static, compute, memory, communication) J of one device per slot
    bound: np.ndarray | None = None  # index into BOUNDS of the largest share of the step time (``phase_bound_index``)
    flops: np.ndarray | None = None  # FLOPs of one device per slot


@dataclass
class TimingView:
    stepper: Stepper
    prefill: StepResult | None  # the steps behind the figures (None unless kept: ``_timing``)
    decode: StepResult | None
    pre: StepSums
    dec: StepSums
    m_pre: np.ndarray  # prefill micro-batches through the pipeline
    m_dec: np.ndarray  # decode micro-batches in flight
    fill: np.ndarray  # pipeline slots in TTFT
    slots: np.ndarray  # pipeline slots per generated token
    decode_slot_s: np.ndarray  # [mean step, final step] (the mean step only when the final one is not wanted)
    decode_ideal_slot_s: np.ndarray
    pre_split: np.ndarray | float = 1.0  # the ways a prefill slot splits the batch's sequences (m_pre, or 1 in passes)


def decode_contexts(input_tokens, output_tokens, shape: tuple[int, ...]):
    """(first, last) attended lengths, shape (2, *shape): [all decode steps, the final step only]."""
    i = np.asarray(input_tokens, dtype=float)
    final = i + np.maximum(np.asarray(output_tokens, dtype=float) - 1, 1)
    # steps attend I+1 .. I+O-1; with O = 1, the would-be step at I+1 (np.stack copies: for one configuration the
    # values need no broadcast, shape () being theirs)
    start = i + 1
    if not shape:  # two single values: the arrays np.stack makes of them
        return np.array([start, final], dtype=float), np.array([final, final], dtype=float)
    final, start = np.broadcast_to(final, shape), np.broadcast_to(start, shape)
    first = np.stack([start, final])
    last = np.stack([final, final])
    return first, last


REUSE_FROM = 1024  # configurations from which the final decode step re-times only the attention rows


def _timing(s: Setup, mem: MemoryView, final_step: bool = True, wanted: frozenset[str] | None = None,
            keep_steps: bool = True) -> TimingView:
    """Prefill and decode slots, and how many slots TTFT and each generated token take in the pipeline.
    ``final_step=False``: the decode step at the final context is left out (decode arrays keep a leading axis of
    length 1, the mean step). Each step is reduced to its ``StepSums`` (bound labels and FLOPs only when ``wanted``)
    before the next one is built; ``keep_steps=False`` drops its rows there (``prefill`` and ``decode`` are None)."""
    def want(name: str) -> bool:
        return wanted is None or name in wanted

    stepper = Stepper(s, mem.inv_bandwidth, mem.placement)
    par, pp = s.par, np.asarray(s.par.pp, dtype=float)
    b = s.batch / par.attention_groups  # sequences per attention group
    # micro-batches: prefill through the pipeline (default min(b, pp)); decode keeps pp of them in flight
    m_pre = np.asarray(par.micro_batches, dtype=float) if par.micro_batches is not None else np.minimum(b, pp)
    m_pre = clip(np.floor(m_pre), 1, np.maximum(b, 1))
    m_dec = np.maximum(np.minimum(pp, np.floor(b)), 1)
    # compiled engines prefill the prompt padded to its bucket (the prompt as it is for other engines)
    prompt = bucketed(s.input_tokens, s.engine.prompt_buckets, s.engine.prompt_bucket_step,
                      float(s.engine.min_prompt_bucket))
    pre_seqs, pre_tokens, prefix, passes, split = b / m_pre, prompt, 0.0, 1.0, m_pre
    if s.engine.prompt_ubatch_tokens is not None:
        # passes of at most U tokens one after another (llama.cpp's n_ubatch), each a pipeline slot, split as
        # llama.cpp's split_equal does: floor(U / b) whole tokens of every sequence per pass, or, with more
        # sequences than U, one token of each of ceil(b / U) groups of sequences in turn; timed as the mean pass
        m_pre, passes, groups = prompt_passes(s.engine.prompt_ubatch_tokens, b, prompt)
        pre_seqs, split = b / groups, groups
        pre_tokens, prefix = mean_pass(prompt, passes)
    b_dec = b / m_dec
    contexts = decode_contexts(s.input_tokens, s.output_tokens, s.shape)
    seqs = b_dec[None, ...] if ndim(b_dec) else b_dec
    configurations = math.prod(s.shape)
    # both steps in one table for one configuration (its rows are summed in order only so) and for a few (cheaper);
    # for many (rows summed in order as well) the final step re-times the attention rows only
    both = configurations == 1 or (final_step and configurations < REUSE_FROM)
    if not (both or final_step):
        contexts = (contexts[0][:1], contexts[1][:1])
    bounds, flops = (want("prefill_bound"), want("bound")), (want("prefill_flops"), want("decode_flops"))
    if not keep_steps:
        pre, dec, slot, ideal_slot = _lean_steps(s, stepper, (pre_seqs, pre_tokens, prefix, passes), (seqs, contexts),
                                                 final_step and not both, bounds, flops)
        prefill = decode = None
    else:
        prefill = stepper.step("prefill", pre_seqs, pre_tokens, prefix=prefix, passes=passes)
        pre = _step_sums(s, stepper, prefill, bounds[0], flops[0])
        if final_step and not both:
            decode, slot, ideal_slot = stepper.decode_steps(seqs, 1, contexts)
        else:
            decode = stepper.step("decode", seqs, 1, contexts)
            slot, ideal_slot = decode.slot_s, decode.ideal_slot_s
        dec = _step_sums(s, stepper, decode, bounds[1], flops[1])
    fill = pipeline_fill(m_pre, pp, s.engine.pipeline_copies)  # slots until the last micro-batch leaves the last stage
    slots = np.maximum(m_dec, pp)  # stage slots per generated token in steady state
    return TimingView(stepper, prefill, decode, pre, dec, m_pre, m_dec, fill, slots, slot, ideal_slot, split)


def pipeline_fill(micro_batches, stages, copies: int | None = None):
    """Pipeline slots from the first of ``micro_batches`` entering the first of ``stages`` stages until the last
    leaves the last one (docs/parallelism.md §3, formulas.md 5.2): m + p - 1 where every stage may hold a micro-batch;
    an engine that keeps
    c = ``copies`` of its graph's inputs (``EngineSpec.pipeline_copies``) starts micro-batch i only when micro-batch
    i - c has left the last stage, at floor(i / c) x max(p, c) + i mod c, so the last leaves at
    floor((m - 1) / c) x max(p, c) + (m - 1) mod c + p (m + p - 1 again where c >= p or m <= c)."""
    if copies is None:
        return micro_batches + stages - 1
    c = float(copies)
    before = micro_batches - 1
    return np.floor(before / c) * np.maximum(stages, c) + np.mod(before, c) + stages


# operator-row elements (rows x configurations) a lean step evaluates together: the steps of a block
# (``_in_blocks``) run their rows in column chunks of at most about this many (``_step_chunks``), so the rows' arrays
# of one chunk are alive at a time (they are most of a block's memory), while the collectives and everything after
# the rows' sums run once over the block; every figure is computed per configuration, so the chunks give the same
# numbers
STEP_ROW_ELEMENTS = 1 << 18


def _lean_steps(s: Setup, stepper: Stepper, prefill: tuple, decode: tuple, retime_final: bool,
                bounds: tuple[bool, bool], flops: tuple[bool, bool]):
    """(prefill ``StepSums``, decode ``StepSums``, decode slot s, decode ideal slot s) of ``_timing`` without keeping
    the steps: each step's rows in column chunks (``_step_chunks``), reduced to their sums (``Stepper.lean_rows``),
    then the slot of the whole setup from those sums (``Stepper.slot_from``). ``prefill`` = (sequences, prompt
    tokens, prefix tokens, passes), ``decode`` = (sequences, contexts); ``retime_final``: the decode step at the
    final context re-times the attention rows of the mean step (``Stepper.decode_steps``); ``bounds``, ``flops``: per
    step, whether its bound labels and FLOPs are wanted."""
    chunks = _step_chunks(s, stepper)
    out = []
    for phase, (seqs, arg, *more), bound, flop in zip(("prefill", "decode"), (prefill, decode), bounds, flops,
                                                      strict=True):
        tokens, contexts = (arg, None) if phase == "prefill" else (1, arg)
        prefix, passes = more if more else (0.0, 1.0)
        final = retime_final and phase == "decode"
        parts = []
        for sub, sub_stepper, cut in chunks:
            reduce = _row_reducer(sub, sub_stepper, bound, flop, consume=True)
            part = sub_stepper.lean_rows(phase, cut(seqs), cut(tokens), None if contexts is None else
                                         tuple(cut(c) for c in contexts), reduce, final, prefix=cut(prefix),
                                         passes=cut(passes))
            parts.append((part, int(np.prod(sub.shape))))
        sizes = [size for _, size in parts]
        ops, final_ops, (row_flops, bound_labels, energy) = (
            _joined([p[i] for p, _ in parts], sizes) for i in range(3))
        res = stepper.slot_from(phase, seqs, tokens, ops)
        out.append(_sums(s, stepper, res, (row_flops, bound_labels, energy), shape_of(ops[0])))
        if final:
            last = stepper.slot_from(phase, seqs, tokens, final_ops, comm=(res.raw_comm, res.raw_ideal_comm))
            slot = np.concatenate([res.slot_s, last.slot_s])
            ideal_slot = np.concatenate([res.ideal_slot_s, last.ideal_slot_s])
            del last
        else:
            slot, ideal_slot = res.slot_s, res.ideal_slot_s
        del res, parts, ops, final_ops  # one step's per-configuration parts at a time
    return out[0], out[1], slot, ideal_slot


def _row_reducer(s: Setup, stepper: Stepper, bound: bool, flops: bool, consume: bool):
    """``reduce(table, real, weights)``: a step's rows reduced to (FLOPs per slot or None, bound labels or None,
    (static, compute, memory) J of the operators per slot or None); ``consume``: the realistic timing's arrays may be
    overwritten (a lean timing, ``Stepper.lean_rows``)."""
    def reduce(table, real, weights):
        row_flops = (weights * table.flops).sum(axis=0) if flops else None
        labels = real.phase_bound_index() if bound else None
        energy = None
        if s.power is not None:
            energy = s.power.operator_energy_sums(table, real, stepper.placement, weights, consume=consume)
        return row_flops, labels, energy

    return reduce


def _step_chunks(s: Setup, stepper: Stepper) -> list[tuple[Setup, Stepper, object]]:
    """(setup, stepper, cut) of each column chunk of a lean step's configurations (``STEP_ROW_ELEMENTS``), ``cut``
    taking the chunk's part of a per-configuration array (the configurations on its last axis); the whole setup as
    one chunk unless it is flat (a block: ``_blocks``) and larger than one chunk."""
    n = int(np.prod(s.shape))
    size = STEP_ROW_ELEMENTS // operator_rows(s.model)
    if len(s.shape) != 1 or n <= size:
        return [(s, stepper, _whole)]
    chunks = []
    for start, stop, sub in _blocks(s, size):
        def cut(x, start=start, stop=stop):
            return x[..., start:stop] if ndim(x) and shape_of(x)[-1] == n else x

        chunks.append((sub, stepper.part(sub, cut), cut))
    return chunks


def _whole(x):
    return x


def _joined(parts: list, sizes: list[int]):
    """Per-configuration results of consecutive chunks (arrays, lists or tuples of them, or None) joined along the
    last (configuration) axis, each part first broadcast to its chunk's configurations; one part as it is."""
    first = parts[0]
    if len(parts) == 1 or first is None:
        return first
    if isinstance(first, (tuple, list)):
        return type(first)(_joined(list(x), sizes) for x in zip(*parts, strict=True))
    arrays = [np.asarray(part) for part in parts]
    # a single value (a part's 0.0: no eager decode step in it, Stepper._eager_kernels) takes the other parts' axes
    lead = next((a.shape[:-1] for a in arrays if a.ndim), ())
    for i, (part, size) in enumerate(zip(arrays, sizes, strict=True)):
        if part.shape[-1:] != (size,):
            arrays[i] = np.broadcast_to(part, (*part.shape[:-1], size) if part.ndim else (*lead, size))
    return np.concatenate(arrays, axis=-1)


def _step_sums(s: Setup, stepper: Stepper, res: StepResult, bound: bool, flops: bool) -> StepSums:
    """The per-configuration sums of one kept step (``StepSums``), its rows left as they are."""
    reduced = _row_reducer(s, stepper, bound, flops, consume=False)(res.table, res.real, res.weights)
    return _sums(s, stepper, res, reduced, res.real.time_s.shape[1:])


def _sums(s: Setup, stepper: Stepper, res: StepResult, reduced: tuple, shape: tuple[int, ...]) -> StepSums:
    """``StepSums`` of a step's slot ``res`` and its rows' reductions (``_row_reducer``); the operators' joules, when
    there are any, with the communication's and the step overhead's added (``_comm_energy``)."""
    row_flops, labels, energy = reduced
    if labels is not None and stepper.eager_launch_s:  # (an engine with no eager steps: nothing to look at)
        waits = np.asarray(res.eager_wait_s) > 0
        if any_true(waits):  # the device waits for an eager step's kernels to be issued: the host binds the step
            labels = np.where(waits, OVERHEAD_BOUND, labels)
    sums = StepSums(res.slot_s, res.ideal_slot_s, res.comm_s, None, labels, row_flops)
    if energy is not None:
        sums.energy = _comm_energy(s, stepper, res, energy, sums.comm_s, shape)
    return sums


# ---- 4. energy and cost --------------------------------------------------------------------------------------
@dataclass
class EnergyView:
    parts: list[np.ndarray]  # static, compute, memory, communication joules of the whole batch, all devices
    total_j: np.ndarray
    peak_w: np.ndarray
    idle_w: float


def _comm_energy(s: Setup, stepper: Stepper, res: StepResult, operators: tuple, comm_s: np.ndarray,
                 shape: tuple[int, ...]):
    """(static, compute, memory, communication) joules of one device in one slot, from the operators' (static,
    compute, memory) joules per slot: the communication's (``comm_s``: the step's exposed communication seconds) and
    the step overhead's joules added, each part broadcast to ``shape`` (the rows' configuration shape)."""
    power = s.power
    static, compute, memory = operators
    net = stepper.net
    c_static, c_dyn = power.comm_energy(comm_s, net.up_bw * net.efficiency if net is not None else 0.0)
    c_static = c_static + power.idle_w * res.step_overhead_s  # host-side step work: the device idles
    parts = (static + c_static, compute, memory, c_dyn)
    return tuple(part if shape_of(part) == shape else np.broadcast_to(part, shape) for part in parts)


def _energy(s: Setup, t: TimingView) -> EnergyView:
    devices = s.par.devices
    if s.power is None:
        nan = np.full(s.shape, np.nan)
        return EnergyView([nan] * 4, nan, nan, np.nan)
    idle = s.power.idle_w
    pre, dec = t.pre.energy, t.dec.energy
    # a device works m slots of a pipeline pass and idles through the rest (bubbles)
    pre = (pre[0] * t.m_pre + idle * t.pre.slot_s * (t.fill - t.m_pre), *(p * t.m_pre for p in pre[1:]))
    dec = (dec[0] * t.m_dec + idle * t.dec.slot_s * (t.slots - t.m_dec), *(p * t.m_dec for p in dec[1:]))
    # the whole request batch on all devices: prefill + (O - 1) mean decode steps
    steps = s.counts()[2] - 1  # (O - 1, once: the same number for every part)
    parts = [devices * (a + steps * d[0]) for a, d in zip(pre, dec, strict=True)]
    ttft = t.fill * t.pre.slot_s
    tpot = t.slots * t.dec.slot_s[0]
    peak = devices * np.maximum(sum(pre) / ttft, sum(dec)[0] / tpot)
    return EnergyView(parts, sum(parts), peak, idle)


def _cost(s: Setup, devices, served, ttft, e2e, avg_power) -> dict[str, np.ndarray]:
    costs, (B, I, O) = s.costs, s.counts()
    idle = s.power.idle_w if s.power is not None else np.nan
    hourly = usd_per_device_hour(s.hw, s.platform, costs, avg_power / devices, idle)
    busy_usd_per_s = hourly["total"] / costs.utilization / 3600.0  # per device
    out = {
        "usd_per_device_hour": hourly["total"],
        "usd_per_request": busy_usd_per_s * devices * e2e / served,
        "usd_per_million_input_tokens": busy_usd_per_s * devices * ttft / (served * I) * 1e6,
        "usd_per_million_output_tokens": np.where(
            O > 1, busy_usd_per_s * devices * (e2e - ttft) / np.maximum(served * (O - 1), 1) * 1e6, np.nan),
    }
    if s.requests_per_s is not None:
        # replicas finish B requests per e2e; provision devices for the rate at the assumed utilization
        dp = np.asarray(s.par.dp, dtype=float)
        busy_devices = s.requests_per_s * e2e / B * (devices / dp)
        paid_hours = busy_devices / costs.utilization * HOURS_PER_YEAR
        for key in ("total", "capex", "energy", "other"):
            out["yearly_usd" if key == "total" else f"yearly_{key}_usd"] = paid_hours * hourly[key]
        out["devices_for_rate"] = np.ceil(busy_devices / costs.utilization)
    return out


# ---- 5. metrics ----------------------------------------------------------------------------------------------
def _inputs(s: Setup) -> dict[str, np.ndarray]:
    full = _full(s.shape)
    par = s.par
    return {"batch": full(s.batch, np.int64), "input_tokens": full(s.input_tokens, np.int64),
            "output_tokens": full(s.output_tokens, np.int64),
            **{k: full(getattr(par, k), np.int64) for k in ("tp", "pp", "ep", "dp", "cp")},
            "attention_dp": full(par.attention_dp, bool), "comm_overlap": full(par.comm_overlap),
            "flops_scale": full(s.flops_scale), "bandwidth_scale": full(s.bandwidth_scale),
            "capacity_scale": full(s.capacity_scale), "interconnect_scale": full(s.interconnect_scale),
            # wall watts per watt dissipated in the cold stage (cryogenic devices; 0 otherwise)
            "cooling_w_per_w": full(s.power.cooling_w_per_w if s.power is not None else 0.0)}


def _full(shape: tuple[int, ...]):
    """``full(x, dtype=None)``: ``x`` as a fresh C-ordered array of ``shape`` (a copy of its broadcast; converted to
    ``dtype`` in the same pass when given, the values of ``.astype(dtype)`` of that copy), or for a single
    configuration (``shape`` ()) as a 0-d array (``_single``, then converted)."""
    def full(x, dtype=None):
        view = np.broadcast_to(np.asarray(x), shape)
        return view.copy() if dtype is None else np.array(view, dtype=dtype, order="C")

    def single(x, dtype=None):
        return _single(x) if dtype is None else _single(x).astype(dtype)

    return full if shape else single


def _single(x) -> np.ndarray:
    """``np.asarray(x).reshape(())``: a 0-d array as it is (a reshape would give a view of the same one value), and
    the 0-d array ``np.asarray`` makes of a NumPy scalar or Python number as it is (the same one value)."""
    if type(x) in _SCALARS:  # (np.asarray gives a 0-d array: no shape to look at)
        return np.asarray(x)
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    return x if x.shape == () else x.reshape(())


# Python and NumPy number types of single metric values (``_single``)
_SCALARS = frozenset({bool, int, float, np.bool_, np.float64, np.int64})


class _Labels:
    """Bound labels of a block as their indices into ``BOUNDS`` (``_metrics`` with ``views``): ``_in_blocks`` writes
    the labels ``BOUNDS[index]`` straight into the call's result, without an array of them per block."""

    __slots__ = ("index",)

    def __init__(self, index: np.ndarray) -> None:
        self.index = index


def _metrics(s: Setup, mem: MemoryView, t: TimingView, e: EnergyView, bands: dict[str, Band],
             wanted: frozenset[str] | None = None, views: bool = False) -> dict[str, np.ndarray]:
    """Every metric (``wanted``: only those; the costly ones are not computed unless wanted); ``views``: broadcast
    views in place of copies and the bound labels as ``_Labels`` (the caller copies them)."""
    def want(*names: str) -> bool:
        return wanted is None or not wanted.isdisjoint(names)

    B, I, O = s.counts()
    devices = s.par.devices
    pre, dec = t.pre, t.dec
    ttft, ideal_ttft = t.fill * pre.slot_s, t.fill * pre.ideal_slot_s
    tpot, ideal_tpot = t.slots * t.decode_slot_s[0], t.slots * t.decode_ideal_slot_s[0]
    final = len(t.decode_slot_s) > 1  # the final decode step was computed
    tpot_final = t.slots * t.decode_slot_s[1] if final else None
    ideal_tpot_final = t.slots * t.decode_ideal_slot_s[1] if final else None
    e2e = ttft + (O - 1) * tpot
    ideal_e2e = ideal_ttft + (O - 1) * ideal_tpot
    served = np.asarray(s.par.dp, dtype=float) * B  # sequences in flight on the whole platform
    fp = mem.footprint
    avg_power = e.total_j / e2e
    batches = _max_batches(s, mem, want("max_batch_low", "max_batch_high"))
    metrics = {
        "ttft_s": ttft, "tpot_s": tpot, "tpot_final_s": tpot_final, "e2e_latency_s": e2e,
        "output_tokens_per_s": served * O / e2e, "total_tokens_per_s": served * (I + O) / e2e,
        "output_tokens_per_s_per_device": served * O / e2e / devices,
        "decode_tokens_per_s": served / tpot, "decode_tokens_per_s_per_device": served / tpot / devices,
        "tokens_per_s_per_user": 1.0 / tpot, "prefill_tokens_per_s": served * I / ttft,
        "ideal_ttft_s": ideal_ttft, "ideal_tpot_s": ideal_tpot, "ideal_tpot_final_s": ideal_tpot_final,
        "ideal_e2e_latency_s": ideal_e2e, "ideal_output_tokens_per_s": served * O / ideal_e2e,
        "weights_bytes": fp.weights_bytes, "kv_cache_bytes": fp.kv_cache_bytes,
        "activation_peak_bytes": fp.activation_peak_bytes, "total_memory_bytes": fp.total_bytes,
        "memory_capacity_bytes": fp.capacity_bytes, "device_memory_bytes": mem.physical,
        "runtime_reserved_bytes": mem.reserved,
        # a configuration runs when its memory fits and every attention data-parallel group has a sequence
        "fits": fp.fits & (s.par.attention_groups <= B),
        "max_batch": batches[0],
        "max_context_tokens": mem.device.max_context(B, mem.capacity) if want("max_context_tokens") else None,
        "bound": ((_Labels(dec.bound[0]) if views else BOUNDS[dec.bound[0]]) if want("bound") else None),
        "prefill_bound": (_Labels(pre.bound) if views else BOUNDS[pre.bound]) if want("prefill_bound") else None,
        "prefill_flops": pre.flops * t.m_pre if want("prefill_flops") else None,
        "decode_flops": dec.flops[0] * t.m_dec if want("decode_flops") else None,
        "devices": devices.astype(np.int64),
        # communication inside TPOT (per output token) and inside TTFT: what is on the critical path
        "decode_comm_s": t.slots * dec.comm_s[0], "prefill_comm_s": t.fill * pre.comm_s,
        "energy_per_output_token_j": e.total_j / (served * O), "energy_per_request_j": e.total_j / served,
        "output_tokens_per_j": served * O / e.total_j, "avg_power_w": avg_power, "peak_power_w": e.peak_w,
        "facility_energy_per_output_token_j": e.total_j * s.costs.pue / (served * O),
        "energy_static_j": e.parts[0], "energy_compute_j": e.parts[1], "energy_memory_j": e.parts[2],
        "energy_comm_j": e.parts[3], **_cost(s, devices, served, ttft, e2e, avg_power),
    }
    metrics.update(_bands(metrics, bands, batches[1:] or None))
    if views and s.shape:  # (an array of the configuration shape, or labels, as they are: the caller only reads them)
        return {k: v if type(v) is _Labels or (type(v) is np.ndarray and v.shape == s.shape)
                else np.broadcast_to(np.asarray(v), s.shape)
                for k, v in metrics.items() if wanted is None or k in wanted}
    if not s.shape:  # one configuration: each figure a 0-d array (``_full``'s, without a call per figure)
        return {k: _single(v) for k, v in metrics.items() if wanted is None or k in wanted}
    full = _full(s.shape)
    return {k: full(v) for k, v in metrics.items() if wanted is None or k in wanted}


TIME_BANDS = {"prefill": ("ttft_s",), "decode": ("tpot_s", "tpot_final_s", "e2e_latency_s")}
RATE_BANDS = {"prefill": ("prefill_tokens_per_s",),
              "decode": ("output_tokens_per_s", "total_tokens_per_s", "output_tokens_per_s_per_device",
                         "decode_tokens_per_s", "decode_tokens_per_s_per_device", "tokens_per_s_per_user")}


def phase_bands(s: Setup) -> dict[str, Band]:
    """The 80% bands of this estimate's prefill and decode figures (genmodel.engine.uncertainty), of the device count
    of one replica of each configuration, and the model's architecture."""
    return static_phase_bands(s.hw.kind, s.engine.name, s.realism, s.par.replica_devices, architecture_of(s.model))


def static_phase_bands(kind: str, engine: str, realism, devices, architecture: str | None = None) -> dict[str, Band]:
    """The 80% bands of ``estimate``'s prefill and decode figures for this hardware kind, engine name and realism
    (its fit and whether it runs without graphs), for replicas of ``devices`` devices (a number or an array: the
    device-count class of each picks its cells) of a model of ``architecture`` ('dense' or 'moe',
    ``uncertainty.architecture_of``: its own cells first where the stored cells are kept per architecture, which
    ``estimate``'s are not, history item 95; None: the cells over both); ``serve``'s are
    ``genmodel.serving.serve.served_phase_bands``."""
    calibrated = realism.origin != "defaults"
    return {phase: per_configuration(kind, engine, phase, devices, calibrated, eager=realism.eager,
                                     architecture=architecture)
            for phase in ("prefill", "decode")}


def _band_sources(wanted: frozenset[str]) -> frozenset[str]:
    """The times and throughputs whose bands (``<figure>_low``, ``<figure>_high``) are among ``wanted``."""
    banded = {key for keys in (*TIME_BANDS.values(), *RATE_BANDS.values()) for key in keys}
    return frozenset(key for key in banded if f"{key}_low" in wanted or f"{key}_high" in wanted)


def _with_bands(metrics: dict[str, np.ndarray], bands: dict[str, Band],
                wanted: frozenset[str] | None) -> dict[str, np.ndarray]:
    """The metrics of a call evaluated in blocks without bands (``_in_blocks``), with the bands of its times and
    throughputs added over the whole call and only the ``wanted`` figures kept, in the order of one pass (``_metrics``:
    the bands before the largest batch's edges). Each band is its figure's array times one number (or, where the
    configurations' replicas differ in device-count class, one number per configuration), so every value is the one a
    block would give, and no array beyond the results and those factors is made."""
    edges = {key: metrics.pop(key) for key in ("max_batch_low", "max_batch_high") if key in metrics}
    sources = metrics if wanted is None else {k: metrics[k] for k in _band_sources(wanted) if k in metrics}
    metrics.update(_bands(sources, bands))
    metrics.update(edges)
    return metrics if wanted is None else {k: v for k, v in metrics.items() if k in wanted}


def _max_batches(s: Setup, mem: MemoryView, edges: bool) -> list[np.ndarray]:
    """[the largest batch that fits, and with ``edges`` the largest at the memory band's low and high edges]."""
    caps = [mem.capacity]
    if edges:
        caps += [np.maximum(mem.capacity - MEMORY_BAND_BYTES, 0.0), mem.capacity + MEMORY_BAND_BYTES]
    return mem.device.max_batches(s.input_tokens, s.output_tokens, caps)


def _bands(metrics: dict[str, np.ndarray], bands: dict[str, Band],
           max_batch: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """``<figure>_low`` and ``<figure>_high`` for every time and throughput in ``metrics`` (one missing or None has
    none), and ``max_batch`` = [the largest batch at the memory band's low edge, at its high edge] when given
    (``_max_batches``)."""
    out = {}
    with np.errstate(invalid="ignore"):  # Band.times and Band.rates, under one errstate
        for phase, b in bands.items():
            f = b.factors()  # (once per phase: an array band's factors are one exp per configuration each)
            for key in TIME_BANDS[phase]:
                if metrics.get(key) is not None:
                    out[f"{key}_low"], out[f"{key}_high"] = b.times_unchecked(metrics[key], f)
            for key in RATE_BANDS[phase]:
                if metrics.get(key) is not None:
                    out[f"{key}_low"], out[f"{key}_high"] = b.rates_unchecked(metrics[key], f)
    if max_batch:
        out["max_batch_low"], out["max_batch_high"] = max_batch
    return out


def _does_not_fit_message(s: Setup, fp: Footprint, mem: DeviceMemory, capacity, physical, reserved) -> str:
    model, hw, dtypes, par, r = s.model, s.hw, s.dtypes, s.par, s.realism
    B, I, O = s.batch, s.input_tokens, s.output_tokens

    def gb(x):
        return f"{float(x) / 2**30:,.3g} GiB"

    where = hw.name if par.is_single_device else f"each {hw.name} (the most loaded of {int(par.devices)} devices)"
    need = (f"{model.name} needs {gb(fp.weights_bytes)} of {dtypes.weight} weights + {gb(fp.kv_cache_bytes)} of "
            f"{dtypes.kv} KV cache (batch {int(B)} x {int(I + O)} tokens) + {gb(fp.activation_peak_bytes)} of "
            f"activations = {gb(fp.total_bytes)} per device, but {where} has {gb(capacity)} usable "
            f"({gb(physical)} x {r.usable_memory_fraction:.2f} - {gb(reserved)} held by the runtime).")
    if float(capacity) <= 0:
        return (f"{need} Nothing is left for the model: use a larger --memory-fraction, a smaller "
                "--runtime-reserved, or a larger --capacity-scale.")
    if fp.weights_bytes > capacity:
        current = bytes_per_element(dtypes.weight)
        smaller = [d for d in ("fp8", "int4") if bytes_per_element(d) < current]
        share = float(fp.weights_bytes) / current
        options = ", ".join(f"{d}: {gb(share * bytes_per_element(d))}" for d in smaller)
        need_devices = int(np.ceil(float(fp.weights_bytes) * int(par.devices) / float(capacity)))
        fixes = ([f"a smaller --weight-dtype ({options})"] if smaller else []) + [
            "a device with more memory",
            f"more devices (at least {need_devices} for the weights alone; try 'genmodel size')"]
        return f"{need} The weights alone do not fit: use {', or '.join(fixes)}."
    best = int(mem.max_batch(I, O, capacity))
    ctx = int(mem.max_context(B, capacity))
    hint = f"The largest batch that fits at this context is {best}" if best else "Not even batch 1 fits"
    return (f"{need} {hint}; the longest context that fits at batch {int(B)} is {ctx} tokens. Lower --batch or "
            f"the token counts, or use --kv-dtype fp8.")
