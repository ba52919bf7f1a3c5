"""One engine step on one layout: the primitive every result is built from (docs/formulas.md, parallelism.md 3).

Contract
--------
``Stepper(setup, placement)`` holds what is fixed across the steps of one estimate (per-class inverse
bandwidths, network, power model). ``Stepper.step(phase, seqs, new_tokens, contexts)`` returns a ``StepResult``
for one **pipeline slot** of a step: the heaviest stage's share of the layers, the model-level operators, the
collectives on the critical path, and the per-step overhead, for ``seqs`` sequences of one attention group
(arrays over the configuration shape; decode arrays may carry a leading [mean step, final step] axis); a prefill
step may be the mean pass of a prompt computed in ``passes`` passes (``prefix`` tokens cached before it, a 1 /
passes share of the LM head: ``EngineSpec.prompt_ubatch_tokens``).
``Stepper.decode_steps(seqs, new_tokens, (first, last))`` gives the same slot times of the mean and final decode
steps of many configurations, re-timing only the attention rows (the only ones that depend on the context) for
the final step. A caller that sums the rows in column chunks (``genmodel.engine.estimate`` in blocks) uses
``Stepper.part(setup, cut)`` (the stepper of a chunk), ``lean_rows`` (a chunk's rows built, timed lean — without
ideal rows, each table column dropped once used, except the byte columns on a device with energy coefficients — and
reduced to per-configuration sums) and ``slot_from`` (the slot of all configurations from those sums: collectives,
overlap, step overhead), the same numbers as ``step``.

Timing of a slot::

    ops      = sum over operator rows of (instances per slot) x t_row        (genmodel.engine.roofline, with the
               shape-dependent fractions of genmodel.engine.efficiency)
    comm     = stage share x layer collectives + vocabulary collectives + one stage-to-stage send
    slot     = ops + exposed comm + a + b x sequences                           (the engine's host work per step)
               + max(0, kernels x h - (ops + exposed comm))   (a step the engine runs eagerly, without a captured
                                                                  graph: ``EngineSpec.eager_launch_s`` = h; which
                                                                  steps: ``EngineSpec.graph_steps``, and decode
                                                                  batches above the largest captured one)

Shapes follow the engine (``genmodel.specs.engine``): a compiled engine computes the batch padded to a power of
two; a graph-capturing engine runs the linear layers of a decode step at the next captured batch size.

Communication overlap (``Parallelism.comm_overlap`` = f > 0) follows two-batch overlap (DeepSeek's and
SGLang's serving): the slot's sequences run as two micro-batches of half the size, and one micro-batch's
collectives run under the other's compute. A TP all-reduce depends on the GEMM just before it, so it can hide
only under the *other* micro-batch's work: per micro-batch at most min(f x M', C') is hidden, with C' and M' its
compute and communication time. Each micro-batch re-reads the weights, so small batches lose more to the split
than they hide. A slot with fewer than two sequences cannot be split and hides nothing. With C', M' per
micro-batch: slot = 2 C' + 2 M' - 2 min(f M', C') + step overhead; the ideal uses f = 1, so
ideal = 2 max(C'_ideal, M'_ideal) <= slot. Without overlap: slot = C + M + step overhead, ideal = C_ideal + M_ideal.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, replace

import numpy as np

from genmodel.engine.collectives import Network
from genmodel.engine.communication import layer_collectives, pp_send
from genmodel.engine.efficiency import Physics, compute_fractions
from genmodel.engine.inputs import Setup
from genmodel.engine.memory import kv_bytes_per_token_per_layer, stage_fraction
from genmodel.engine.operators import OperatorTable, broadcast_shape, build_operators
from genmodel.engine.parallel import field_values
from genmodel.engine.roofline import Timing, time_operators
from genmodel.engine.scalars import any_true, ndim, shape_of, where_scalar, zeros_like
from genmodel.specs.dtypes import bytes_per_element
from genmodel.specs.engine import bucketed

LAYER_FREE = ("vocab_collectives", "pp_send")  # collectives that are not per layer


def step_passes(ubatch_tokens: int | None, tokens):
    """The passes an engine computes a step of ``tokens`` tokens in: ceil(tokens / U), at least one, for an engine
    that runs at most U = ``EngineSpec.prompt_ubatch_tokens`` tokens at a time (llama.cpp's n_ubatch); 1.0 when it
    has no such limit (docs/formulas.md 5.2)."""
    if ubatch_tokens is None:
        return 1.0
    return np.maximum(np.ceil(np.asarray(tokens, dtype=float) / ubatch_tokens), 1.0)


def prompt_passes(ubatch_tokens: int, sequences, tokens):
    """(passes, passes per sequence group, groups) of a static batch of ``sequences`` prompts of ``tokens`` tokens
    on an engine that runs at most U = ``ubatch_tokens`` tokens at a time, split as llama.cpp's ``split_equal``
    does (a KV cache of one stream per sequence): every pass carries t = floor(U / sequences) whole tokens of each
    sequence, so ceil(tokens / t) passes; with more sequences than U, one token of each of ceil(sequences / U)
    groups of sequences in turn (docs/formulas.md 5.2). A pass never carries a fraction of a token."""
    b = np.asarray(sequences, dtype=float)
    groups = np.maximum(np.ceil(b / ubatch_tokens), 1.0)
    per_sequence = np.maximum(np.floor(ubatch_tokens / np.maximum(b, 1.0)), 1.0)
    passes = np.maximum(np.ceil(np.asarray(tokens, dtype=float) / per_sequence), 1.0)
    return passes * groups, passes, groups


def mean_pass(tokens, passes, prefix=0.0):
    """(new tokens, cached tokens before them) of the mean pass of ``tokens`` prompt tokens computed in ``passes``
    passes after ``prefix`` cached ones: each pass carries tokens / passes, pass j after prefix + j tokens / passes,
    so the mean pass's prefix is prefix + (tokens - tokens / passes) / 2; attention's pairs and keys read are affine
    in the prefix, so ``passes`` times the mean pass has exactly the whole prompt's (formulas.md 5.2)."""
    per_pass = tokens / passes
    return per_pass, prefix + (tokens - per_pass) / 2


@dataclass(frozen=True)
class Chunk:
    """Prompt work riding in a decode step: ``prompts`` prompts (per attention group, may be fractional: a mean
    over steps) of ``tokens`` new tokens each after ``prefix`` cached tokens; each chunk stands for a prompt finishing
    in the step (a mean over steps), which emits its first token through the LM head; ``head_share`` of them do so
    in this step (1 / passes in the mean pass of a step computed in passes: only the last pass emits)."""

    prompts: object
    tokens: object
    prefix: object = 0.0
    head_share: object = 1.0


@dataclass
class StepResult:
    """One pipeline slot of one step (realistic and ideal), per device."""

    table: OperatorTable  # the operators of one micro-batch
    real: Timing
    ideal: Timing | None  # None in a result without rows (``Stepper.slot_from``)
    weights: np.ndarray  # per row: instances per slot (stage share x micro-batches), broadcastable to times
    comm: dict[str, np.ndarray]  # exposed seconds per slot, per collective
    ideal_comm: dict[str, np.ndarray]
    ops_s: np.ndarray
    ideal_ops_s: np.ndarray
    slot_s: np.ndarray  # ops + exposed comm + step overhead
    ideal_slot_s: np.ndarray
    step_overhead_s: np.ndarray  # the engine's host work in this step (a + b x sequences, + eager_wait_s)
    micro_batches: np.ndarray  # 2 where two-batch overlap splits the slot, else 1
    # of step_overhead_s: the time the device waits for the host to issue an eager step's kernels
    eager_wait_s: np.ndarray | float = 0.0
    raw_comm: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # seconds before overlap hides any
    raw_ideal_comm: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def comm_s(self) -> np.ndarray:
        return sum(self.comm.values(), zeros_like(self.slot_s))


class Stepper:
    """Times engine steps of one estimate's setup (see the module docstring)."""

    def __init__(self, setup: Setup, inv_bandwidth: dict[str, np.ndarray],
                 placement: dict[str, list[np.ndarray]]) -> None:
        self.s = setup
        self.inv_bw = inv_bandwidth
        self.placement = placement
        par, hw = setup.par, setup.hw
        self.fraction = stage_fraction(setup.model, par)
        self.kv_layer = kv_bytes_per_token_per_layer(setup.model, setup.dtypes.kv, par)
        self.ab = bytes_per_element(setup.dtypes.activation)
        self.overlap = np.asarray(par.comm_overlap, dtype=float)
        self.pp = np.asarray(par.pp, dtype=float)
        self.groups = np.asarray(par.attention_groups, dtype=float)
        self.physics = Physics.of(hw)
        if hw.kind == "cpu" and not setup.engine.cpu_matrix_units:
            self.physics = replace(self.physics, vector_only=True)
        dt = setup.dtypes
        self.weight_only = bytes_per_element(dt.weight) < bytes_per_element(dt.activation)
        # the engine's weight-only kernels are rated where they were measured, dequantizing to 16-bit activations;
        # narrower activations (fp4 weights with fp8 activations) run at the GEMM's own rate
        self.weight_only_scale = setup.engine.weight_only_scale if self.ab == 2 else 1.0
        # an engine that dequantizes a weight-only GEMM's whole matrix into a copy in the activation datatype above
        # this many rows (EngineSpec.dequantize_copy_above_rows) moves 2 x activation bytes per weight element more
        # (the copy written, then read by the dense GEMM): per byte of packed weights, this many bytes more
        self.copy_above_rows = setup.engine.dequantize_copy_above_rows if self.weight_only else None
        self.copy_bytes_per_weight_byte = (2.0 * self.ab / bytes_per_element(dt.weight)
                                           if self.copy_above_rows is not None else 0.0)
        # the engine's own quantized GEMM kernels are bound per compute unit above a few tokens (llama.cpp's MMQ on
        # CUDA: Realism.quantized_gemm_flops_per_s; None: no such bound)
        self.quantized_cap = setup.realism.quantized_gemm_flops_per_s if self.weight_only else None
        self.quantized_min_tokens = setup.realism.quantized_gemm_min_tokens
        # an engine accumulating its FP16 GEMMs in FP16 reaches the device's FP16-accumulate rate on its GEMM rows
        self.fp16_gemm_speedup = setup.realism.fp16_gemm_speedup
        # an attention that is not fused moves its score matrix through memory (EngineSpec.flash_attention)
        self.score_bytes = 0.0 if setup.engine.flash_attention else setup.engine.unfused_score_bytes
        # host time per kernel of a step the engine runs eagerly (EngineSpec.graph_steps, eager_launch_s): steps
        # carrying prompt tokens unless every step replays a graph, every decode step where none does, and decode
        # steps whose batch is above the largest captured one
        e = setup.engine
        self.eager_launch_s = float(e.eager_launch_s)
        self.scheduler_steps = e.scheduler_steps
        self.eager_prompts = self.eager_launch_s > 0 and e.graph_steps != "all"
        # kernels the engine's DeepSeek modelling code launches beyond the rows' own (EngineSpec.mla_extra_kernels)
        self.extra_kernels = (tuple(sorted(e.mla_extra_kernels.items()))
                              if e.mla_extra_kernels and setup.model.attention.mla is not None else None)
        self.eager_decode = e.graphs_off
        # the decode graphs: their batch sizes (none where graphs are off) and the largest captured one here
        buckets = e.decode_batch_buckets if e.decode_batch_buckets and e.graph_steps != "none" else None
        self.decode_buckets = tuple(buckets) if buckets else None
        self.graph_max_seqs = graph_max_seqs(e, hw, par.tp) if buckets else float("inf")
        self.graph_cut = bool(buckets) and any_true(np.asarray(self.graph_max_seqs) < max(buckets))
        self.net: Network | None = None
        if any_true(par.devices > 1):
            domain = setup.platform.domain_size_with(hw) if setup.platform else None
            self.net = Network.of(hw, domain).scaled(setup.interconnect_scale)

    def part(self, setup: Setup, cut) -> Stepper:
        """The stepper of a column chunk of this one's configurations: ``setup`` is the chunk's, ``cut`` takes the
        chunk's part of a per-configuration array (or returns a value that does not vary as it is); every derived
        array is the part of this stepper's (the same numbers as computed for the chunk, without computing them)."""
        part = object.__new__(Stepper)
        part.__dict__.update({k: v if k in _WHOLE else cut(v) for k, v in self.__dict__.items()})
        part.s = setup
        part.inv_bw = {k: cut(v) for k, v in self.inv_bw.items()}
        part.placement = {cls: [cut(a) for a in tiers] for cls, tiers in self.placement.items()}
        if self.net is not None:
            part.net = Network(*(cut(getattr(self.net, f.name)) for f in fields(Network)))
        return part

    def _collectives(self, net: Network, phase: str, tokens, seqs) -> dict[str, np.ndarray]:
        """Seconds per slot of each collective for one micro-batch (the stage's share of the layers)."""
        s = self.s
        parts = layer_collectives(s.model, net, s.par, tokens, seqs, self.ab, phase, self.kv_layer, s.input_tokens)
        out = {k: (v if k in LAYER_FREE else self.fraction * v) for k, v in parts.items()}
        out["pp_send"] = pp_send(net, s.par, tokens, s.model.hidden_size, self.ab)
        return out

    def _collective_pair(self, phase: str, tokens, seqs) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """(``_collectives`` on the network, on its ideal: link efficiency 1). One pass on a network whose efficiency
        has a leading [real, ideal] axis, for one configuration too (half the NumPy calls of two passes on single
        values): every value is computed element by element as in two passes (the terms without the efficiency
        once, for both); a value without that axis serves both (two passes only where the efficiency is an array)."""
        s, net = self.s, self.net
        operands = (tokens, seqs, s.input_tokens, self.kv_layer, self.fraction, *field_values(s.par),
                    *field_values(net))
        k = max(map(ndim, operands))
        if ndim(net.efficiency):
            return (self._collectives(net, phase, tokens, seqs),
                    self._collectives(net.scaled(efficiency=1.0), phase, tokens, seqs))
        efficiency = np.array([net.efficiency, 1.0]).reshape(2, *([1] * k))
        both = self._collectives(net.scaled(efficiency=efficiency), phase, tokens, seqs)
        real = {name: v[0] if ndim(v) == k + 1 else v for name, v in both.items()}
        ideal = {name: v[1] if ndim(v) == k + 1 else v for name, v in both.items()}
        return real, ideal

    def _padded(self, phase: str, m_seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sequences the compiled or captured step computes for all rows, and for the linear layers): compiled
        engines pad the batch to its bucket (``EngineSpec.batch_buckets``); graph-capturing engines run decode at the
        next captured size."""
        e, groups = self.s.engine, self.groups
        replica = m_seqs * groups
        replica = bucketed(replica, e.batch_buckets, e.batch_bucket_step)
        linear = replica
        if phase == "decode" and self.decode_buckets:
            linear = _captured(self.decode_buckets, replica)
            if self.graph_cut:  # above the largest graph captured here the step runs unpadded
                linear = np.where(replica > self.graph_max_seqs, replica, linear)
        return replica / groups, linear / groups

    def step(self, phase: str, seqs, new_tokens, contexts=None, chunk: Chunk | None = None,
             prefix=0.0, passes=1.0) -> StepResult:
        """One slot of a ``phase`` step for ``seqs`` sequences per attention group (see module docstring). A prefill
        of a prompt computed in ``passes`` passes (``EngineSpec.prompt_ubatch_tokens``) is timed as its mean pass:
        ``new_tokens`` per sequence after ``prefix`` cached ones, and a 1 / ``passes`` share of the LM head (only the
        last pass has a token to emit).

        A decode step may carry prompt ``chunk``s (continuous batching, genmodel.serving): their tokens run through
        the linear layers with the decode tokens (one weight read), their attention is the prefill attention of
        ``chunk.prompts`` prompts of ``chunk.tokens`` new tokens each after ``chunk.prefix`` cached ones, and the
        prompts that finish in the step pass through the LM head.
        """
        g = self._shape(phase, seqs, chunk)
        table = self._operators(phase, g, new_tokens, contexts, chunk, prefix=prefix, passes=passes)
        real, ideal = self._roofline(table)
        weights = self._weights(table, real, g)
        return self._slot(phase, g, new_tokens, table, real, ideal, weights)

    def decode_steps(self, seqs, new_tokens, contexts) -> tuple[StepResult, np.ndarray, np.ndarray]:
        """The decode steps at the mean and at the final context of ``contexts`` = (first, last), each of shape
        (2, *config): the ``StepResult`` of the mean step (arrays with a leading axis of length 1), and the slot and
        ideal slot times of [mean step, final step], equal to those of ``step("decode", seqs, new_tokens,
        contexts)``. Only attention rows depend on the context (genmodel.engine.operators), so the final step
        re-times those rows alone and sums every row's time in the same order as ``step`` does."""
        first, last = (np.asarray(c) for c in contexts)
        g = self._shape("decode", seqs, None)
        table = self._operators("decode", g, new_tokens, (first[:1], last[:1]), None)
        real, ideal = self._roofline(table)
        weights = self._weights(table, real, g)
        ops, times = self._mean_and_final_ops(g, new_tokens, first, last, table, real, ideal, weights)
        mean = self._slot("decode", g, new_tokens, table, real, ideal, weights, ops=ops)
        final = self._slot("decode", g, new_tokens, None, None, None, None, ops=times, comm=(mean.raw_comm,
                                                                                                mean.raw_ideal_comm))
        return (mean, np.concatenate([mean.slot_s, final.slot_s]),
                np.concatenate([mean.ideal_slot_s, final.ideal_slot_s]))

    def _mean_and_final_ops(self, g: _Shape, new_tokens, first, last, table: OperatorTable, real: Timing,
                            ideal: Timing, weights: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """([real, ideal] operator seconds of the mean decode step, [real, ideal] of the step at the final context)
        (``decode_steps``): the mean step's rows (``table``, timed ``real`` and ``ideal``) weighted and summed, then
        the same with the attention rows re-timed at (first[1:], last[1:]) written over theirs (each sum the one
        ``_slot`` takes)."""
        rows = [i for i, kind in enumerate(table.kinds) if kind == "attention"]
        s = self.s
        final_real, final_ideal = self._roofline(self._with_extra_kernels(build_operators(
            s.model, "decode", g.m_seqs, new_tokens, (first[1:], last[1:]), s.dtypes, s.par,
            linear_batch=g.linear_seqs, extra_tokens=g.riding, attention_only=True, stack_shapes=False,
            score_bytes=self.score_bytes)),
            lean=True)  # (times only read)
        mean, times = [], []
        for timing, final in ((real, final_real), (ideal, final_ideal)):
            weighted = weights * timing.time_s
            mean.append(weighted.sum(axis=0))
            # weights x (the mean step's times with the attention rows re-timed), written over the product
            _multiply_rows(weighted, rows, weights, final.time_s)
            times.append(weighted.sum(axis=0))
            del weighted
        kernels = self._eager_kernels("decode", table, g)
        if kernels is not None:  # (the same rows do work at both contexts: one count for both steps)
            count = _kernels_per_slot(weights, real, kernels)
            mean.append(count)
            times.append(count)
        return mean, times

    def lean_rows(self, phase: str, seqs, new_tokens, contexts, reduce, retime_final: bool = False, prefix=0.0,
                  passes=1.0):
        """The rows of one slot of a ``phase`` step (no prompt chunks), reduced, for a caller that times the slot
        itself (``slot_from``): (ops, final ops, ``reduce(table, real, weights)``). ``ops`` = [real, ideal]: the
        rows' weighted times summed, as ``step`` sums them. ``retime_final`` (decode; ``contexts`` = (first, last) of
        shape (2, *config)): the rows are the mean step's, and final ops are those of the step at the final context,
        as ``decode_steps`` computes them (else None). ``reduce`` is called last and may consume the realistic
        timing's arrays (a lean timing: ``_roofline``); the rows are let go on return."""
        g = self._shape(phase, seqs, None)
        if retime_final:
            first, last = (np.asarray(c) for c in contexts)
            contexts = (first[:1], last[:1])
        table = self._operators(phase, g, new_tokens, contexts, None, lean=True, prefix=prefix, passes=passes)
        real, ideal = self._roofline(table, lean=True)
        weights = self._weights(table, real, g)
        if retime_final:
            ops, final = self._mean_and_final_ops(g, new_tokens, first, last, table, real, ideal, weights)
        else:
            ops, final = _summed(weights, real, ideal, self._eager_kernels(phase, table, g)), None
        del ideal
        return ops, final, reduce(table, real, weights)

    def slot_from(self, phase: str, seqs, new_tokens, ops, comm=None) -> StepResult:
        """The slot of a ``phase`` step (no prompt chunks) whose operator seconds ``ops`` = [real, ideal] are given
        (``lean_rows``): its collectives (or ``comm`` = their raw [real, ideal] seconds given), two-batch overlap and
        step overhead, as ``step`` computes them; a result without rows (``table``, timings and weights None)."""
        g = self._shape(phase, seqs, None)
        return self._slot(phase, g, new_tokens, None, None, None, None, ops=ops, comm=comm)

    def _shape(self, phase: str, seqs, chunk: Chunk | None) -> _Shape:
        """Sequences, prompts, micro-batches and padded batch sizes of one step."""
        seqs = np.asarray(seqs, dtype=float)
        prompts = np.zeros(()) if chunk is None else np.asarray(chunk.prompts, dtype=float)
        shape = broadcast_shape(seqs.shape, prompts.shape)
        if shape and self.overlap.ndim == 0 and not self.overlap > 0:
            # no overlap: no slot is split (the falses and ones the expressions below give; seqs / 1 is seqs)
            split, micro = np.zeros(shape, dtype=bool), np.ones(shape)
            m_seqs, linear_seqs = self._padded(phase, seqs if seqs.shape == shape else seqs / micro)
        else:
            split = (self.overlap > 0) & (seqs + prompts >= 2)
            micro = where_scalar(split, 2.0, 1.0)
            m_seqs, linear_seqs = self._padded(phase, seqs / micro)
        if chunk is not None:  # a step carrying prompt chunks runs its linear layers unpadded (no decode graph)
            linear_seqs = np.where(prompts > 0, m_seqs, linear_seqs)
        riding = 0.0 if chunk is None else prompts * chunk.tokens / micro
        return _Shape(seqs, prompts, split, micro, m_seqs, linear_seqs, riding)

    def _operators(self, phase: str, g: _Shape, new_tokens, contexts, chunk: Chunk | None,
                   lean: bool = False, prefix=0.0, passes=1.0) -> OperatorTable:
        """The step's operator table; ``lean``: a table to be timed lean and summed (``lean_rows``), whose GEMM
        shape columns stay unstacked (``build_operators(stack_shapes=False)``)."""
        s = self.s
        table = build_operators(s.model, phase, g.m_seqs, new_tokens, contexts, s.dtypes, s.par,
                                linear_batch=g.linear_seqs, extra_tokens=g.riding,
                                extra_head_tokens=0.0 if chunk is None else g.prompts / g.micro * chunk.head_share,
                                stack_shapes=not lean, prefix=prefix, score_bytes=self.score_bytes,
                                head_share=1.0 / passes)
        if chunk is not None:
            prefill = build_operators(s.model, "prefill", g.prompts / g.micro, chunk.tokens, None, s.dtypes, s.par,
                                      prefix=chunk.prefix, score_bytes=self.score_bytes, attention_only=True)
            table = table.concat(prefill.select([k == "attention" for k in prefill.kinds], "chunk_"))
        return self._with_extra_kernels(table)

    def _with_extra_kernels(self, table: OperatorTable) -> OperatorTable:
        """``table`` (a table of this step's own) with the engine's extra kernels added to its rows' counts
        (``EngineSpec.mla_extra_kernels``; a riding prompt's ``chunk_`` rows take none)."""
        if self.extra_kernels is not None:
            table.kernels = table.kernels + _extra_kernels(tuple(table.names), self.extra_kernels)
        return table

    def _roofline(self, table: OperatorTable, lean: bool = False) -> tuple[Timing, Timing]:
        """Realistic and ideal times of every row (each row on its own: a subset of rows times the same).
        ``lean``: the table is the caller's own, to be summed only: its GEMM shapes go once the compute fractions
        are known and its byte columns once the rows are timed (unless the energy model reads them), the fractions'
        array is reused for the compute times and the ideal timing keeps its times only (``time_operators``)."""
        s, r, e = self.s, self.s.realism, self.s.engine
        # per-configuration arrays align on the trailing axes, so decode's leading [mean, final] axis broadcasts
        peaks = [s.hw.peak_flops_per_s[d] if d else np.inf for d in table.dtypes]
        if self.fp16_gemm_speedup != 1.0:
            peaks = [p * self.fp16_gemm_speedup if d == "fp16" and k == "gemm" else p
                     for p, d, k in zip(peaks, table.dtypes, table.kinds, strict=True)]
        weight_only = _dequantizing_rows(tuple(table.kinds), tuple(table.names)) & self.weight_only
        if self.copy_above_rows is not None and weight_only.any():
            weight_only = _dequantize_copies(table, weight_only, self.copy_above_rows,
                                             self.copy_bytes_per_weight_byte)
        power_s = s.power.min_time_s(table, self.placement) if s.power is not None else 0.0
        if ndim(power_s) and not np.any(power_s):
            power_s = 0.0
        bounded = _quantized_rows(table, weight_only) if self.quantized_cap is not None else None
        fractions = compute_fractions(table, r.compute_efficiency, r.attention_efficiency, self.physics,
                                      e.attention_scale, weight_only, self.weight_only_scale, consume=lean)
        if bounded:
            _bound_quantized(fractions, bounded, peaks, self.quantized_cap, self.quantized_min_tokens)
        overlap = self.physics.compute_memory_overlap
        if e.weight_only_vector_ops_per_mac and self.physics.vector_flops_per_s and np.any(weight_only):
            per_row = _any_per_row(weight_only)
            overlap = _vector_gemv(fractions, per_row, peaks, self.physics.vector_flops_per_s,
                                   e.weight_only_vector_ops_per_mac, overlap)
        bandwidth = s.hw.fastest_memory.bandwidth_bytes_per_s
        ramp = self.physics.memory_ramp_bytes / (r.memory_efficiency * bandwidth * s.bandwidth_scale)
        memory_efficiency = r.memory_efficiency
        kv_efficiency = min(r.kv_memory_efficiency * e.kv_read_scale, 1.0)
        per_tier = None
        if r.stream_bytes_per_s is not None:  # the engine's kernels stream at most this per second (Little's law)
            if len(s.hw.memory) > 1:  # each tier bound apart: a slower tier's bytes keep its own stream
                per_tier = self._stream_bound_per_tier(memory_efficiency, kv_efficiency, r.stream_bytes_per_s)
            else:
                memory_efficiency, kv_efficiency = _stream_bound(memory_efficiency, kv_efficiency,
                                                                 r.stream_bytes_per_s, bandwidth * s.bandwidth_scale)
        coefficients = s.power is not None and s.power.has_coefficients  # its energy reads the byte columns
        return time_operators(table, peaks, self.inv_bw, compute_efficiency=fractions, lean=lean,
                              drop_bytes=lean and not coefficients,
                              memory_efficiency=memory_efficiency, kernel_overhead_s=r.kernel_overhead_s,
                              flops_scale=s.flops_scale, bandwidth_scale=s.bandwidth_scale, power_s=power_s,
                              memory_ramp_s=ramp,
                              kv_memory_efficiency=kv_efficiency,
                              busy_efficiency=r.compute_efficiency, overlap=overlap,
                              kernel_floor_s=self.physics.kernel_floor_s, real_inv_bandwidth=per_tier)

    def _stream_bound_per_tier(self, memory_efficiency: float, kv_efficiency: float,
                               stream_bytes_per_s: float) -> dict[str, np.ndarray]:
        """Realistic seconds per byte of each class ('weight', 'kv', 'act': ``time_operators``'s
        ``real_inv_bandwidth``) for an engine whose kernels stream at most ``stream_bytes_per_s`` from any one tier
        (docs/formulas.md section 5.2): the placement-weighted sum over the tiers of max(1 / (fraction x bandwidth x
        bandwidth_scale), 1 / stream_bytes_per_s), with the KV class at its own fraction. On one tier this is the
        single-tier bound (``_stream_bound``) written per byte."""
        s = self.s
        floor = 1.0 / stream_bytes_per_s
        out = {}
        for cls, fractions in self.placement.items():
            efficiency = kv_efficiency if cls == "kv" else memory_efficiency
            out[cls] = sum(f * np.maximum(1.0 / (efficiency * t.bandwidth_bytes_per_s * s.bandwidth_scale), floor)
                           for f, t in zip(fractions, s.hw.memory, strict=True))
        return out

    def _weights(self, table: OperatorTable, real: Timing, g: _Shape) -> np.ndarray:
        """Instances of each row per slot: layer count x the stage's share of the layers x micro-batches (x 1 left
        out where no slot is split: the same numbers in an array that does not grow with the configurations)."""
        extra = real.time_s.ndim - 1
        is_layer = _layer_rows(tuple(table.groups)).reshape(-1, *([1] * extra))
        count = table.count.reshape(-1, *([1] * extra))
        weights = count * np.where(is_layer, self.fraction, 1.0)
        return weights if not any_true(g.split) else weights * g.micro

    def _slot(self, phase: str, g: _Shape, new_tokens, table, real, ideal, weights, ops=None,
              comm=None) -> StepResult:
        """The slot: operator times summed over rows (or ``ops`` = [real, ideal] given), the collectives (or ``comm``
        = their raw [real, ideal] seconds given), two-batch overlap and the engine's step overhead."""
        s, r = self.s, self.s.realism
        if ops is None:
            ops = _summed(weights, real, ideal, self._eager_kernels(phase, table, g))
        ops, ideal_ops, *eager = ops  # (eager: the kernels per slot of an eager step, where given)
        if comm is None:
            tokens = g.m_seqs * np.asarray(new_tokens, dtype=float) / (np.asarray(s.par.cp, dtype=float)
                                                                       if phase == "prefill" else 1.0) + g.riding
            comm = ({}, {})
            if self.net is not None:
                comm = tuple(_times(g, parts) for parts in self._collective_pair(phase, tokens, g.m_seqs))
        raw, ideal_raw = comm
        split, micro = g.split, g.micro
        total = sum(raw.values(), zeros_like(ops))
        ideal_total = sum(ideal_raw.values(), zeros_like(ops))
        # two-batch overlap: per micro-batch, min(f M', C') hidden under the other micro-batch's work
        if type(split) in (bool, np.bool_):  # one configuration: np.where's value (x 1 or x 2, or 0), without it
            hidden = micro * np.minimum(self.overlap * total / micro, ops / micro) if split else 0.0
            ideal_hidden = micro * np.minimum(ideal_total / micro, ideal_ops / micro) if split else 0.0
        elif g.general:
            hidden = np.where(split, micro * np.minimum(self.overlap * total / micro, ops / micro), 0.0)
            ideal_hidden = np.where(split, micro * np.minimum(ideal_total / micro, ideal_ops / micro), 0.0)
        else:  # no slot is split: the zeros np.where gives, in its shape
            hidden = np.zeros(broadcast_shape(*map(np.shape, (split, micro, self.overlap, total, ops))))
            ideal_hidden = np.zeros(broadcast_shape(*map(np.shape, (split, micro, ideal_total, ideal_ops))))
        exposed = _scaled(raw, total, total - hidden)
        ideal_exposed = _scaled(ideal_raw, ideal_total, ideal_total - ideal_hidden)
        # host work of the engine for this step: a + b x the replica's sequences in it (a decode step's spread over
        # the steps of one scheduler pass, EngineSpec.scheduler_steps)
        step = r.step_overhead_s + r.step_overhead_per_sequence_s * (g.seqs + g.prompts) * self.groups
        if phase != "prefill" and self.scheduler_steps > 1:
            step = step / self.scheduler_steps
        step = step + (r.prefill_overhead_s if phase == "prefill"
                       else r.prefill_overhead_s * np.minimum(g.prompts, 1.0))
        busy = ops + (total - hidden)
        wait = 0.0
        if eager and not (type(eager[0]) is float and eager[0] == 0.0):
            # the device waits where the host issues the step's kernels more slowly than it runs them
            wait = np.maximum(eager[0] * self.eager_launch_s - busy, 0.0)
            if phase != "prefill" and not self.eager_decode:  # a decode step is eager where it has no graph
                wait = wait * self._eager_decode_steps(g)
            step = step + wait
        return StepResult(table, real, ideal, weights, exposed, ideal_exposed, ops, ideal_ops,
                          busy + step, ideal_ops + (ideal_total - ideal_hidden), step, micro, wait, raw, ideal_raw)

    def _eager_decode_steps(self, g: _Shape):
        """Where a decode step (graphs on) runs eagerly: its batch (per micro-batch, the replica's sequences, as the
        graph is chosen: ``_padded``) above the largest captured one, or (an engine running prompts eagerly) it
        carries prompt chunks."""
        over = g.m_seqs * self.groups > self.graph_max_seqs
        return over | (np.asarray(g.prompts) > 0) if self.eager_prompts else over

    def _eager_kernels(self, phase: str, table: OperatorTable, g: _Shape) -> np.ndarray | float | None:
        """Per row, the kernels of an eager step (``table.kernels``) where a step of this call may run eagerly
        (``_slot`` keeps the decode steps that do); None where the engine runs no step of this phase eagerly; 0.0
        where it could run a decode step eagerly but none of this call's does (a part of the configurations: the
        sums of every part then have the same terms, ``genmodel.engine.estimate``)."""
        if not self.eager_launch_s:
            return None
        if phase == "prefill" and not self.eager_prompts:
            return None
        if phase != "prefill" and not self.eager_decode:
            if self.decode_buckets is None and not self.eager_prompts:  # (no largest graph: every batch has one)
                return None
            if not any_true(self._eager_decode_steps(g)):
                return 0.0
        kernels = np.asarray(table.kernels, dtype=float)
        if table.copy_kernels is None:
            return kernels
        # (per row and configuration: the kernel dequantizing a weight-only GEMM's matrix into a copy comes first)
        return kernels.reshape(-1, *([1] * (table.copy_kernels.ndim - 1))) + table.copy_kernels


# attributes ``Stepper.part`` does not cut as such
_WHOLE = frozenset({"s", "inv_bw", "placement", "net", "physics", "decode_buckets", "extra_kernels"})


@dataclass
class _Shape:
    """Sequences and micro-batching of one step (``Stepper._shape``)."""

    seqs: np.ndarray
    prompts: np.ndarray
    split: np.ndarray  # two-batch overlap splits the slot
    micro: np.ndarray  # 2 where split, else 1
    m_seqs: np.ndarray  # sequences per micro-batch (padded as the engine computes them)
    linear_seqs: np.ndarray  # ... as the linear layers run them (a captured decode graph's size)
    riding: np.ndarray | float  # prompt tokens riding in a decode step, per micro-batch

    @property
    def general(self) -> bool:
        """Whether the slot's micro-batch terms take their general form: some slot is split, or there is one
        configuration (for which the general form is the cheaper); else no slot is split and micro is 1 everywhere."""
        return ndim(self.split) == 0 or any_true(self.split)


@functools.lru_cache(maxsize=256)
def _extra_kernels(names: tuple[str, ...], extra: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Per row of a table with these ``names``: the extra kernels ``extra`` ((row name, kernels) pairs) gives it;
    read-only."""
    per_name = dict(extra)
    counts = np.array([per_name.get(name, 0.0) for name in names])
    counts.flags.writeable = False
    return counts


@functools.lru_cache(maxsize=256)
def _dequantizing_rows(kinds: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    """Per row: a GEMM other than the LM head (those dequantize narrower weights in their kernel); read-only."""
    rows = np.array([k == "gemm" and n != "lm_head" for k, n in zip(kinds, names, strict=True)])
    rows.flags.writeable = False
    return rows


def _dequantize_copies(table: OperatorTable, weight_only: np.ndarray, above_rows: int,
                       extra: float) -> np.ndarray:
    """An engine that dequantizes a weight-only GEMM's matrix into a scratch copy before a dense GEMM where the GEMM has
    more than ``above_rows`` rows (``EngineSpec.dequantize_copy_above_rows``; docs/formulas.md section 5.2): on the
    ``weight_only`` rows whose M (``gemm_m``, per configuration) is above it, the weight bytes become the packed bytes
    x (1 + ``extra``): the copy is written and read in the activation datatype. Returns the rows' weight-only mask
    per configuration (shape (rows, *M's shape)): false where the GEMM ran on the copy (a dense GEMM, not rated as
    weight-only). Changes ``table``'s weight bytes in place (a table of this step's own) and sets its
    ``copy_kernels``: one more kernel per instance of a row that copies (an eager step's host issues it too)."""
    rows = np.flatnonzero(weight_only)
    copied = table.shape_rows("m", rows) > above_rows  # (NaN, no shape, is not above)
    if not copied.any():
        return weight_only
    if table.byte_rows is None:
        bytes_ = table.weight_bytes[rows]
        table.weight_bytes[rows] = np.where(copied, bytes_ * (1.0 + extra), bytes_)
    else:  # (a lean table's weight bytes as row values: ``OperatorTable.byte_rows``)
        weights, acts, shape = table.byte_rows
        weights = list(weights)
        for i, row in enumerate(rows.tolist()):
            weights[row] = np.where(copied[i], weights[row] * (1.0 + extra), weights[row])
        table.byte_rows = (weights, acts, shape)
    mask = np.broadcast_to(weight_only.reshape(-1, *([1] * (copied.ndim - 1))),
                           (len(weight_only), *copied.shape[1:])).copy()
    mask[rows] = ~copied
    table.copy_kernels = np.zeros(mask.shape)  # the dequantizing kernel before each GEMM on a copy
    table.copy_kernels[rows] = copied
    return mask


def graph_max_seqs(engine, hw, tp):
    """The largest decode batch ``engine`` captures a graph for on ``hw`` at tensor parallelism ``tp`` (a number, or
    an array over configurations): the first of its ``decode_graph_limits`` that applies to the device's memory and
    ``tp`` (at most its largest bucket), else its largest bucket."""
    largest = float(max(engine.decode_batch_buckets))
    if not engine.decode_graph_limits:
        return largest
    memory = hw.memory_capacity_bytes
    tp = np.asarray(tp, dtype=float)
    out = np.full(tp.shape, largest)
    for rule in reversed(engine.decode_graph_limits):  # the first rule that applies is written last
        if rule.memory_below_bytes is None or memory < rule.memory_below_bytes:
            out = np.where(tp >= rule.tp_at_least, min(float(rule.max_seqs), largest), out)
    return out if out.ndim else float(out)


@functools.lru_cache(maxsize=64)
def _buckets_below(buckets: tuple[int, ...]) -> np.ndarray | None:
    """Per whole number j from 0 to the largest bucket + 1: how many buckets are below j (read-only); None unless
    every bucket is a whole number from 0 to 2**20."""
    if not all(type(b) is int and 0 <= b <= 2**20 for b in buckets):
        return None
    below = np.searchsorted(np.asarray(sorted(buckets), dtype=float), np.arange(max(buckets) + 2, dtype=float))
    below.flags.writeable = False
    return below


def _captured(buckets: tuple[int, ...], replica):
    """The batch a decode graph captured at ``buckets`` runs ``replica`` sequences at: the smallest bucket at least
    ``replica`` (past the largest, or for no sequences: ``replica`` itself). For a single NumPy value, the same
    number by the sorted array's own search and an index (a NumPy scalar, in place of np.where's 0-d array); for
    arrays whose every value has a bucket, the buckets gathered (the array np.where's selection gives)."""
    ordered = np.asarray(sorted(buckets), dtype=float)
    if type(replica) is np.float64:
        index = int(ordered.searchsorted(replica))  # (np.searchsorted on one value, without the dispatch)
        return ordered[min(index, len(ordered) - 1)] if index < len(ordered) and replica > 0 else replica
    index = _bucket_index(buckets, ordered, replica)
    inside = index < len(ordered)
    if ndim(index) and inside.all() and (replica > 0).all():  # every value has a bucket: np.where takes the bucket
        return np.take(ordered, index)
    return np.where(inside & (replica > 0), np.take(ordered, np.minimum(index, len(ordered) - 1)), replica)


def _bucket_index(buckets: tuple[int, ...], ordered: np.ndarray, values) -> np.ndarray:
    """``np.searchsorted(ordered, values)`` (``ordered``: the sorted ``buckets`` as floats), from a table per whole
    number for whole-number buckets: a bucket b is below a value v exactly when it is below ceil(v), so the count is
    the table's at ceil(v), clipped to the table (0 below it, every bucket above it); one gather in place of a
    binary search with a branch per step. Other cases go to ``np.searchsorted``."""
    below = _buckets_below(buckets) if ndim(values) else None
    if below is None or not np.isfinite(values).all():
        return np.searchsorted(ordered, values)
    whole = np.ceil(values)
    np.clip(whole, 0.0, float(len(below) - 1), out=whole)
    return np.take(below, whole.astype(np.intp))  # (take: the gather of ``below[...]``, about twice as fast)


@functools.lru_cache(maxsize=256)
def _layer_rows(groups: tuple[str, ...]) -> np.ndarray:
    """Per row: whether it belongs to a layer group (not to the model-level rows); read-only."""
    rows = np.array([grp != "model" for grp in groups])
    rows.flags.writeable = False
    return rows


def _times(g: _Shape, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each collective's seconds per slot for all of its micro-batches: ``g.micro`` x seconds (a value already of the
    product's shape as it is where no slot is split: micro is 1 there, and x 1 leaves every value as it is)."""
    if g.general:
        return {k: g.micro * v for k, v in parts.items()}
    shape = shape_of(g.micro)
    return {k: v if isinstance(v, np.ndarray) and v.ndim and v.shape == broadcast_shape(v.shape, shape)
            else g.micro * v for k, v in parts.items()}


def _multiply_rows(out: np.ndarray, rows: list[int], weights: np.ndarray, values: np.ndarray) -> None:
    """``out[rows] = weights[rows] * values`` for distinct ``rows`` along the first axis, each row's product written
    into its basic-indexed view of ``out`` where ``weights`` has a row per row of ``out`` and ``values`` one entry per
    row (else as written): the same products, without advanced indexing's gather, temporary and scatter."""
    if ndim(weights) == 0 or len(weights) != len(out) or ndim(values) == 0 or len(values) != len(rows):
        out[rows] = weights[rows] * values
        return
    for i, row in enumerate(rows):
        np.multiply(weights[row], values[i], out=out[row])


def _summed(weights: np.ndarray, real: Timing, ideal: Timing, kernels=None) -> list[np.ndarray]:
    """[real, ideal] operator seconds of a slot: each row's time x its instances per slot, summed over the rows;
    with ``kernels`` (``Stepper._eager_kernels``), also the kernels per slot of the rows that take any time."""
    out = [(weights * real.time_s).sum(axis=0), (weights * ideal.time_s).sum(axis=0)]
    if kernels is not None:
        out.append(_kernels_per_slot(weights, real, kernels))
    return out


def _kernels_per_slot(weights: np.ndarray, real: Timing, kernels):
    """The kernels per slot of an eager step: per row (``kernels``) x its instances, over the rows that do work in
    the step (the others launch nothing); ``kernels`` 0.0 (no eager step in the call) as it is."""
    if type(kernels) is float:
        return kernels
    if kernels.ndim == 1:
        kernels = kernels.reshape(-1, *([1] * (real.time_s.ndim - 1)))
    return (weights * kernels * (real.time_s > 0)).sum(axis=0)


def _scaled(parts: dict[str, np.ndarray], total, exposed) -> dict[str, np.ndarray]:
    """Each collective's share of the exposed time (proportional to its own time); no collective: no factor."""
    if not parts:
        return {}
    factor = _exposed_factor(total, exposed)
    return {k: v * factor for k, v in parts.items()}


def _exposed_factor(total, exposed):
    """``np.where(total > 0, exposed / np.where(total > 0, total, 1.0), 0.0)``: for arrays, the quotient where
    ``total`` > 0 and 0 elsewhere, by a masked division into zeros (no selects; the same numbers)."""
    if ndim(total) == 0 and ndim(exposed) == 0:  # one configuration: the quotient or 0.0, as a 0-d array
        return np.array(exposed / total if total > 0 else 0.0, dtype=float)
    if ndim(total) == 0 or ndim(exposed) == 0:
        return np.where(total > 0, exposed / np.where(total > 0, total, 1.0), 0.0)
    positive = total > 0
    same_shape = shape_of(exposed) == shape_of(total)
    if positive.all():
        return exposed / total if same_shape else np.where(positive, exposed / total, 0.0)
    if same_shape:
        # the quotient everywhere, then +0.0 where total is not positive: the numbers of the masked division below in
        # about half its time where the signs are mixed (a masked ufunc runs its loop once per run of trues)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = exposed / total
        np.putmask(factor, ~positive, 0.0)  # (the assignment factor[~positive] = 0.0, in about half its time)
        return factor
    factor = np.zeros(broadcast_shape(shape_of(total), shape_of(exposed)))
    return np.divide(exposed, total, out=factor, where=positive)


def _any_per_row(mask: np.ndarray) -> np.ndarray:
    """Per row of a mask given per row or per row and configuration: whether any configuration has it."""
    return mask if mask.ndim == 1 else mask.reshape(len(mask), -1).any(axis=1)


def _quantized_rows(table: OperatorTable, weight_only: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(row, its tokens M, where it dequantizes in its kernel) of each weight-only GEMM row of ``table``, read before
    ``compute_fractions`` may drop the shapes (``_bound_quantized``); ``weight_only`` per row, or per row and
    configuration."""
    rows = np.flatnonzero(_any_per_row(weight_only))
    if not len(rows):
        return []
    m = table.shape_rows("m", rows)
    return [(int(i), m[k], weight_only[i]) for k, i in enumerate(rows.tolist())]


def _bound_quantized(fractions: np.ndarray, rows: list, peaks: list[float], cap_flops_per_s: float,
                     min_tokens: int) -> None:
    """An engine whose own quantized GEMM kernels are bound per compute unit (``EngineSpec.
    quantized_gemm_macs_per_unit_clock``; docs/formulas.md section 5.2): on each of ``rows`` (``_quantized_rows``)
    where the GEMM has at least ``min_tokens`` tokens and dequantizes in its kernel, the row's fraction of its peak
    is at most ``cap_flops_per_s`` / that peak (written into ``fractions``; NaN tokens, a row without a shape, count
    as fewer)."""
    for i, m, only in rows:
        with np.errstate(invalid="ignore"):
            applies = np.greater_equal(m, min_tokens) & only
        if np.any(applies):
            fractions[i] = np.where(applies, np.minimum(fractions[i], cap_flops_per_s / peaks[i]), fractions[i])


def _stream_bound(memory_efficiency: float, kv_efficiency: float, stream_bytes_per_s: float, bandwidth):
    """(memory, KV) fractions of the fastest memory's ``bandwidth`` (bytes/s, per configuration where a what-if
    scales it) for an engine whose kernels stream at most ``stream_bytes_per_s`` (``EngineSpec.
    stream_bytes_per_unit_clock``; docs/formulas.md section 5.2): each at most that rate over the bandwidth, a bound
    that does not grow with the bandwidth (the bytes in flight per compute unit and the latency set it)."""
    share = stream_bytes_per_s / bandwidth
    if ndim(share):
        return np.minimum(memory_efficiency, share), np.minimum(kv_efficiency, share)
    return min(memory_efficiency, float(share)), min(kv_efficiency, float(share))


def _vector_gemv(fractions: np.ndarray, rows, peaks: list[float], vector_flops_per_s: float, ops_per_mac: float,
                 overlap: float) -> np.ndarray:
    """An engine whose weight-only GEMMs are matrix-vector kernels on the vector units (AutoAWQ's GEMV; docs/formulas.md
    section 5.2): each such row (``rows``, a mask over the table's rows) computes at ``vector_flops_per_s /
    ops_per_mac`` whatever its number of tokens (every token re-reads and re-dequantizes the weights), written into
    ``fractions`` as that rate over the row's peak; returns the per-row overlap, 1 on those rows (a streaming kernel:
    its instructions issue while its loads are in flight) and the device's ``overlap`` elsewhere."""
    per_row = np.full((len(peaks), *([1] * (fractions.ndim - 1))), float(overlap))
    for i in np.flatnonzero(rows).tolist():
        fractions[i] = vector_flops_per_s / ops_per_mac / peaks[i]
        per_row[i] = 1.0
    return per_row
