"""Memory footprint, placement across memory tiers, largest batch and longest context that fit.

Contract (docs/formulas.md section 4)
--------
* ``weights_bytes`` = layer parameters x bytes per weight element + embedding and LM head parameters x bytes per
  element of their own datatype (quantized checkpoints keep them in bf16; ``DTypes.embedding``).
* ``kv_cache_bytes`` = batch x KV bytes of one sequence at its full context (input + output tokens);
  windowed layers hold at most their window.
* ``activation_peak_bytes`` = the largest live activation set during prefill: the widest operator's inputs
  plus outputs plus the residual stream, for min(batch x input, prefill chunk) tokens, plus the logits
  of the batch's last tokens. The capacity they must fit in is what the serving engine can fill:
  capacity x ``usable_memory_fraction`` - ``runtime_reserved_bytes`` (``genmodel.engine.realism``).
* Placement: tiers with role 'memory' are filled fastest first, weights first, then the KV cache, then
  activations (what an engine that pins weights in the fastest memory does). Data that overflows every
  tier is counted in the slowest one (and ``fits`` is False).
* ``max_batch``: the largest batch whose total fits (0 if none); ``max_context_tokens``: the longest context
  (prompt = context, worst case for activations) that fits at the given batch, capped at the model's
  ``max_context_tokens``. The first is closed-form; the second a vectorized integer bisection.
* On several devices every figure is per device, for the most loaded one (``DeviceMemory``): weights and
  KV heads divided by tp (KV heads replicated past their count, MLA's latent replicated on TP ranks),
  routed experts by ep and expert_tp, layers by pp (heaviest stage: ceil(L/pp) layers), sequences by the
  attention data-parallel groups.
* What depends on the model, datatypes and layout only (weights, KV bytes per token, activation bytes per token,
  logits) is computed once per (model object, datatypes, layout content) and kept read-only: specs are frozen
  and the cache holds the model, so its id cannot be reused; a layout of arrays is keyed by its values.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields, replace

import numpy as np

from genmodel.engine.inplace import into
from genmodel.engine.operators import (
    DTypes,
    broadcast_shape,
    broadcast_view,
    build_operators,
    chunk_bounds,
    operator_rows,
)
from genmodel.engine.parallel import SINGLE_DEVICE, Parallelism, field_values
from genmodel.engine.scalars import ndim, shape_of, where_scalar
from genmodel.specs.dtypes import bytes_per_element
from genmodel.specs.model import ModelSpec

_MODEL_LEVEL = {"embedding", "final_add_norm", "lm_head"}


def stage_fraction(model: ModelSpec, parallel: Parallelism = SINGLE_DEVICE) -> np.ndarray:
    """Share of the layers held by the heaviest pipeline stage: ceil(L / pp) / L."""
    return np.ceil(model.num_layers / np.asarray(parallel.pp, dtype=float)) / model.num_layers


def layer_weights_per_device(model: ModelSpec, parallel: Parallelism = SINGLE_DEVICE) -> np.ndarray:
    """Parameters one device holds for all L layers (before the pipeline split), under TP and EP."""
    a, H = model.attention, model.hidden_size
    tp = np.asarray(parallel.tp, dtype=float)
    if a.mla is None:
        # query heads split tp ways (padded to whole heads per rank where the engine pads); KV heads replicated when
        # tp exceeds their count
        d, nq = model.head_dim, np.asarray(parallel.heads_per_device(a.num_heads), dtype=float)
        nkv = np.asarray(parallel.kv_heads_per_device(a.num_kv_heads), dtype=float)
        attn = H * d * (nq + 2 * nkv) + nq * d * H + (d * (nq + 2 * nkv) if a.qkv_bias else 0.0)
    else:
        m, nh = a.mla, np.asarray(parallel.heads_per_device(a.num_heads), dtype=float)
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        replicated = H * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank  # KV down + its norm
        if m.q_lora_rank:
            replicated = replicated + H * m.q_lora_rank + m.q_lora_rank
            q_up = m.q_lora_rank * nh * qk
        else:
            q_up = H * nh * qk
        attn = replicated + q_up + m.kv_lora_rank * nh * (m.qk_nope_head_dim + m.v_head_dim) + nh * m.v_head_dim * H
    n_moe = model.num_moe_layers
    dense = model.dense_ffn_params / tp
    total = model.num_layers * (attn + 2 * H) + (model.num_layers - n_moe) * dense
    if model.moe is not None:
        moe = (model.router_params + model.moe.num_experts / np.asarray(parallel.ep, dtype=float)
               * model.expert_params / parallel.expert_tp + model.shared_experts_params / tp)
        total = total + n_moe * moe
    return total


def kv_bytes_per_token_per_layer(model: ModelSpec, kv_dtype: str, parallel: Parallelism = SINGLE_DEVICE):
    """KV-cache bytes per token per layer on one device (KV heads sharded by tp; MLA latent replicated)."""
    a = model.attention
    if a.mla is not None:
        elements = a.mla.kv_lora_rank + a.mla.qk_rope_head_dim
    else:
        elements = 2 * np.asarray(parallel.kv_heads_per_device(a.num_kv_heads), dtype=float) * model.head_dim
    return elements * bytes_per_element(kv_dtype)


_ACTIVATION_CACHE: dict = {}  # (id(model), dtypes, layout) -> (model, bytes): the model kept, so its id stays its own
_DEVICE_CACHE: dict = {}  # (id(model), dtypes, layout) -> (model, DeviceMemory's layout constants), likewise
_CACHE_SIZE = 256
_PLAIN = (int, float, bool, type(None))


def _layout_key(parallel: Parallelism) -> tuple:
    """The layout's content: its values when all are plain Python numbers (immutable), else each field's shape and
    bytes (arrays may be changed in place after the layout was made, so their content is the key)."""
    values = field_values(parallel)
    if all(type(v) in _PLAIN for v in values):
        return values
    return tuple((shape_of(v), np.asarray(v).tobytes()) if v is not None else None for v in values)


_CACHE_BYTES = 32 * 2**20  # arrays and array keys one cache may hold: layouts of large calls are block-sized
_held = {id(_ACTIVATION_CACHE): 0, id(_DEVICE_CACHE): 0}


def _remember(cache: dict, key: tuple, model: ModelSpec, value):
    """Store ``value``; the cache is emptied when it holds ``_CACHE_SIZE`` entries or, with this one, more than
    ``_CACHE_BYTES`` of arrays (the layouts of a large call's blocks are new each block: without the byte bound the
    cache would grow with the number of blocks)."""
    size = _nbytes(key) + _nbytes(value)
    if len(cache) >= _CACHE_SIZE or _held[id(cache)] + size > _CACHE_BYTES:
        cache.clear()
        _held[id(cache)] = 0
    cache[key] = (model, value)
    _held[id(cache)] += size
    return value


def _nbytes(obj) -> int:
    """Bytes of the arrays and byte strings in ``obj`` (nested tuples and lists; other objects count 0)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, bytes):
        return len(obj)
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(x) for x in obj)
    return 0


def activation_bytes_per_token(model: ModelSpec, dtypes: DTypes, parallel: Parallelism = SINGLE_DEVICE):
    """Largest per-token activation working set of one layer on one device (inputs + outputs + residual).

    It depends on the model, datatypes and layout only, so it is remembered per (model object, datatypes, layout):
    a one-token prefill table is built once, not on every estimate."""
    key = (id(model), dtypes, _layout_key(parallel))
    hit = _ACTIVATION_CACHE.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    value = _widest_activation(model, dtypes, parallel) + model.hidden_size * bytes_per_element(dtypes.activation)
    return _remember(_ACTIVATION_CACHE, key, model, value)


# operator-row elements (rows x layouts) of one one-token table: a flat array of layouts (a block of a large call,
# genmodel.engine.estimate) is tabled in chunks of at most about this many, not all at once
TABLE_ROW_ELEMENTS = 1 << 17


def _widest_activation(model: ModelSpec, dtypes: DTypes, parallel: Parallelism):
    """The largest activation bytes per token of a layer's operators (``activation_bytes_per_token`` without the
    residual), from a one-token prefill table; a flat array of layouts larger than one column chunk
    (``TABLE_ROW_ELEMENTS``) tabled once per distinct layout (``_distinct_layouts``) and gathered back, or in column
    chunks where every layout is distinct: the same numbers, layout by layout."""
    arrays = {f.name: v for f in fields(parallel) if (v := getattr(parallel, f.name)) is not None and ndim(v)}
    n = next(iter(arrays.values())).shape[0] if arrays else 0
    size = max(TABLE_ROW_ELEMENTS // operator_rows(model), 4)
    if n <= size or any(shape_of(v) != (n,) for v in arrays.values()):
        return _widest_layer_activation(model, dtypes, parallel)
    first, inverse = _distinct_layouts(arrays.values())
    if len(first) < n:
        part = _widest_activation(model, dtypes, replace(parallel, **{k: v[first] for k, v in arrays.items()}))
        return part if ndim(part) == 0 else part[inverse]
    bounds = chunk_bounds(n, size)
    parts = [_widest_layer_activation(model, dtypes, replace(parallel, **{k: v[a:b] for k, v in arrays.items()}))
             for a, b in bounds]
    if all(ndim(p) == 0 for p in parts) and all(p == parts[0] for p in parts):
        return parts[0]  # the same for every layout
    return np.concatenate([np.broadcast_to(p, (b - a,)) for p, (a, b) in zip(parts, bounds, strict=True)])


def _distinct_layouts(arrays) -> tuple[np.ndarray, np.ndarray]:
    """(the first column of each distinct layout, in order of their keys; for every column the position of its
    layout among those) of layout ``arrays`` of one length: columns are alike when every array holds the same bits
    there (so each is computed as any of its like columns would be)."""
    key = None
    for values in arrays:
        bits = values.view(np.int64) if values.dtype.itemsize == 8 else values.astype(np.int64)
        code = _first_and_codes(bits)[1]
        key = code if key is None else _first_and_codes(key * (int(code.max()) + 1) + code)[1]
    return _first_and_codes(key)


# distinct values up to which ``_first_and_codes`` finds them by comparisons (a pass over the array per value) rather
# than by sorting the array: layout arrays hold a few (tp of 1, 2, 4 or 8)
FEW_DISTINCT = 8


def _first_and_codes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(x, return_index=True, return_inverse=True)[1:]`` for a 1-d integer array ``x``: (the index of the
    first occurrence of each distinct value, in increasing order of the values; for every element the position of
    its value among them). Up to ``FEW_DISTINCT`` distinct values are found one at a time (the first element not equal
    to any found so far) and put in order, and each element's position is the number of distinct values above the
    smallest that it is at least: the same integers without a sort; more values, or an empty array, go through
    ``np.unique``."""
    if x.ndim != 1 or not x.size:
        return np.unique(x, return_index=True, return_inverse=True)[1:]
    firsts, unseen, i = [], np.ones(x.shape, dtype=bool), 0
    while True:
        firsts.append(i)
        np.logical_and(unseen, x != x[i], out=unseen)
        i = int(unseen.argmax())
        if not unseen[i]:  # every element's value found
            break
        if len(firsts) == FEW_DISTINCT:
            return np.unique(x, return_index=True, return_inverse=True)[1:]
    first = np.array(sorted(firsts, key=lambda j: x[j]), dtype=np.intp)
    above = np.zeros(x.shape, dtype=np.uint8)  # (counts below FEW_DISTINCT: bytes, added without a conversion)
    for value in x[first[1:]].tolist():
        np.add(above, np.greater_equal(x, value).view(np.uint8), out=above)
    return first, above.astype(np.intp)


def _widest_layer_activation(model: ModelSpec, dtypes: DTypes, parallel: Parallelism):
    table = build_operators(model, "prefill", 1, 1, None, dtypes, parallel)
    layer_rows = [i for i, name in enumerate(table.names) if name not in _MODEL_LEVEL]
    return table.act_bytes[layer_rows].max(axis=0)


def _device_constants(model: ModelSpec, dtypes: DTypes, parallel: Parallelism) -> tuple:
    """(stage fraction, weight bytes, KV bytes per token per layer, windows, layers per window, activation bytes
    per token, logits bytes per sequence, attention groups, cp) of the most loaded device, as read-only arrays."""
    tp = np.asarray(parallel.tp, dtype=float)
    pp = np.asarray(parallel.pp, dtype=float)
    wb, ab, eb = (bytes_per_element(d) for d in (dtypes.weight, dtypes.activation, dtypes.embedding))
    fraction = stage_fraction(model, parallel)
    vocab = model.vocab_size * model.hidden_size / tp
    # one stage holds the embedding and the head when pp = 1; with pp > 1 the first holds the embedding and
    # the last the head: the heaviest stage carries at most one vocabulary matrix
    both = vocab * (1 if model.tie_word_embeddings else 2)
    model_level = np.where(pp > 1, vocab, both) + model.hidden_size
    weights = fraction * layer_weights_per_device(model, parallel) * wb + model_level * eb
    kv_layer = kv_bytes_per_token_per_layer(model, dtypes.kv, parallel)
    windows, counts = np.unique(model.layer_window, return_counts=True)
    per_token = activation_bytes_per_token(model, dtypes, parallel)
    logits = model.vocab_size / tp * ab
    cp = np.asarray(parallel.cp, dtype=float)  # context-parallel ranks split KV and prompt tokens
    out = tuple(np.array(x) for x in (fraction, weights, kv_layer, windows, counts, per_token, logits,
                                      parallel.attention_groups, cp))
    for x in out:
        x.setflags(write=False)
    return out


@dataclass
class Footprint:
    """Memory use of one device (arrays over the configuration shape), in bytes."""

    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activation_peak_bytes: np.ndarray
    capacity_bytes: np.ndarray

    @property
    def total_bytes(self) -> np.ndarray:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_peak_bytes

    @property
    def fits(self) -> np.ndarray:
        return self.total_bytes <= self.capacity_bytes


class DeviceMemory:
    """Memory of the most loaded device of a replica as a function of batch and lengths (docs/formulas.md 4).

    A replica's ``batch`` sequences are spread over ``attention_groups`` groups, the most loaded holding
    ceil(batch / groups) whole sequences; each device keeps the KV cache of its group's sequences for the layers of
    its pipeline stage (the heaviest stage holds ceil(L/pp) layers; layer kinds are assumed spread evenly over
    stages).
    """

    def __init__(self, model: ModelSpec, dtypes: DTypes, parallel: Parallelism = SINGLE_DEVICE,
                 prefill_chunk_tokens: int = 8192) -> None:
        self.model, self.dtypes, self.parallel, self.chunk = model, dtypes, parallel, float(prefill_chunk_tokens)
        # what depends on the model, datatypes and layout only is computed once per (model object, datatypes,
        # layout content); specs are frozen, and the arrays kept are read-only
        key = (id(model), dtypes, _layout_key(parallel))
        hit = _DEVICE_CACHE.get(key)
        constants = hit[1] if hit is not None and hit[0] is model else _remember(
            _DEVICE_CACHE, key, model, _device_constants(model, dtypes, parallel))
        (self.fraction, self.weights, self.kv_layer, self.windows, self.counts, self.per_token, self.logits,
         self.groups, self.cp) = constants

    def kv_per_sequence(self, context):
        """KV bytes of one sequence holding ``context`` tokens, on one device: fraction x sum(c x min(ctx, w)) x
        kv_layer / cp, each operation in that order written into the temporary it updates where that already has
        the result's shape (``inplace.into``: the numbers of the plain expression)."""
        ctx = np.asarray(context, dtype=float)
        held = None
        for w, c in zip(self.windows, self.counts, strict=True):  # sum(c x min(ctx, w)), from 0
            term = into(np.multiply, np.minimum(ctx, w), c)
            held = into(np.add, term, 0) if held is None else into(np.add, held, term)
        if held is None:  # no layer holds KV
            return self.fraction * 0 * self.kv_layer / self.cp
        return into(np.divide, into(np.multiply, into(np.multiply, held, self.fraction), self.kv_layer), self.cp)

    def _total(self, seqs, input_tokens, output_tokens):
        """``Footprint.total_bytes`` for ``seqs`` sequences per device, without building the ``Footprint``: the
        operations of ``seqs * kv_per_sequence(input_tokens + output_tokens) + act`` (``footprint``) in the same
        order, each written into the temporary it updates where that already has the result's shape."""
        kv = into(np.multiply, self.kv_per_sequence(input_tokens + output_tokens), seqs)
        act = np.multiply(seqs, input_tokens)
        act = into(np.add, into(np.multiply, into(np.minimum, into(np.divide, act, self.cp), self.chunk),
                                self.per_token), seqs * self.logits)
        return into(np.add, into(np.add, kv, self.weights), act)

    def most_loaded(self, batch) -> np.ndarray:
        """Sequences on the most loaded device: its attention group's whole share, ceil(batch / groups) (``max_batch``
        counts whole sequences per group alike)."""
        return np.ceil(np.asarray(batch, dtype=float) / self.groups)

    def footprint(self, batch, input_tokens, output_tokens, capacity_bytes) -> Footprint:
        seqs = self.most_loaded(batch)
        inputs = np.asarray(input_tokens, dtype=float)
        kv = seqs * self.kv_per_sequence(inputs + np.asarray(output_tokens, dtype=float))
        act = np.minimum(seqs * inputs / self.cp, self.chunk) * self.per_token + seqs * self.logits
        shape = broadcast_shape(shape_of(kv), shape_of(act), shape_of(capacity_bytes), shape_of(self.weights))
        return Footprint(*(broadcast_view(np.asarray(x, dtype=float), shape)
                           for x in (self.weights, kv, act, capacity_bytes)))

    def max_batch(self, input_tokens, output_tokens, capacity_bytes):
        """Largest replica batch whose device footprint fits (0 if none), in whole sequences per group.

        Per device the footprint is W + b (kv_seq + logits) + p min(b S, C) for b sequences: linear in b with
        one kink at b = C / S. With b_c = floor(C / S): if b_c fits, the answer is
        max(b_c, floor((cap - W - p C) / a)) with a = kv_seq + logits, else floor((cap - W) / (a + p S)).
        """
        return self.max_batches(input_tokens, output_tokens, [capacity_bytes])[0]

    def max_batches(self, input_tokens, output_tokens, capacities: list) -> list[np.ndarray]:
        """``max_batch`` at each of ``capacities``; over arrays the terms that do not depend on the capacity are
        computed once for all (each value computed as for one capacity)."""
        if not (ndim(input_tokens) or ndim(output_tokens) or any(ndim(c) for c in capacities)
                or ndim(self.weights) or ndim(self.groups) or ndim(self.cp)):
            return [self._max_batch_one(float(input_tokens), float(output_tokens), float(c)) for c in capacities]
        S = np.asarray(input_tokens, dtype=float) / self.cp  # prompt tokens per device
        a = self.kv_per_sequence(np.asarray(input_tokens, dtype=float) + np.asarray(output_tokens, dtype=float)) \
            + self.logits
        p, C = self.per_token, self.chunk
        bc = np.floor(C / S)
        at_bc = self.weights + bc * a + p * np.minimum(bc * S, C)  # the footprint at b_c
        per_sequence = a + p * S
        out = []
        for capacity in capacities:
            cap = np.asarray(capacity, dtype=float)
            avail = cap - self.weights
            best = np.where(at_bc <= cap, np.maximum(bc, np.floor((avail - p * C) / a)), np.floor(avail / per_sequence))
            out.append((np.maximum(best, 0) * self.groups).astype(np.int64))
        return out

    def max_context(self, batch, capacity_bytes):
        """Longest context (prompt = context) fitting at ``batch``, capped at the model's maximum (0 if none).

        The footprint is increasing and piecewise linear in the context n, with kinks at the attention windows and
        where the prompt's activations reach the prefill chunk (n = C cp / sequences). It is evaluated at those
        breakpoints in one stacked call, the crossing is solved on the linear piece that holds it, and one more
        evaluation at n and n + 1 settles the integer exactly (the bisection this replaces needed ~18 calls).
        """
        limit = np.asarray(capacity_bytes, dtype=float)
        shape = broadcast_shape(shape_of(batch), limit.shape, shape_of(self.weights), shape_of(self.groups),
                                    shape_of(self.cp))
        top = float(self.model.max_context_tokens)
        if shape == ():
            return self._max_context_one(float(batch), float(limit), top)
        seqs = np.broadcast_to(self.most_loaded(batch), shape)
        kink = np.where(seqs > 0, self.chunk * self.cp / np.where(seqs > 0, seqs, 1.0), top)
        kink = np.broadcast_to(np.minimum(kink, top), shape)
        consts = sorted(min(float(w), top) for w in self.windows)
        if consts and consts[0] >= 0.0 and not np.isnan(kink).any():
            # the sorted breakpoints without a sort: 0 <= every point <= top, the windows are constants in order, and
            # the i-th smallest of {kink} and c_1 <= ... <= c_m is clip(kink, c_i, c_i+1) (c_0 = -inf, c_m+1 = inf):
            # the same values np.sort gives, selected, not computed
            bounds = [-np.inf, *consts, np.inf]
            points = np.stack([np.zeros(shape), *(np.clip(kink, lo, hi) for lo, hi in itertools.pairwise(bounds)),
                               np.full(shape, top), np.ones(shape)])
        else:
            points = [np.zeros(shape), kink, *(np.full(shape, c) for c in consts), np.full(shape, top)]
            points = np.concatenate([np.sort(np.stack(points), axis=0), np.ones((1, *shape))])
        zero = np.zeros(())

        def total(n):
            return self._total(seqs, n, zero)

        # the breakpoints xs, and a context of 1 after them: the footprint of all in one call (each value computed on
        # its own, as in separate calls)
        xs = points[:-1]
        with_one = total(points)
        fs, at_one = with_one[:-1], with_one[-1]
        below = fs <= limit  # increasing in n: True up to the crossing
        last = np.maximum(below.sum(axis=0) - 1, 0)  # the last breakpoint that fits (0 when none does)
        nxt = np.minimum(last + 1, len(xs) - 1)
        pick = np.stack([last, nxt])  # both ends of the piece in one gather per array
        x0, x1 = _take_rows(xs, pick)
        f0, f1 = _take_rows(fs, pick)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(x1 > x0, (f1 - f0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0)
            cross = np.where(slope > 0, x0 + (limit - f0) / np.where(slope > 0, slope, 1.0), x1)
        n = np.floor(np.clip(np.where(below[-1], top, cross), 0.0, top))
        # settle the integer: the largest n with total(n) <= limit (floating error moves the crossing by at most 1)
        check = total(np.stack([n - 1, n, n + 1]))
        n = np.where(check[2] <= limit, n + 1, np.where(check[1] <= limit, n, n - 1))
        n = np.where(at_one <= limit, np.clip(n, 0.0, top), 0.0)
        return n.astype(np.int64)

    def _max_batch_one(self, input_tokens: float, output_tokens: float, cap: float) -> np.ndarray:
        """``max_batch`` of one configuration in Python floats (the same operations in the same order)."""
        weights, per_token, chunk = float(self.weights), float(self.per_token), self.chunk
        S = input_tokens / float(self.cp)
        a = float(self.kv_per_sequence(input_tokens + output_tokens)) + float(self.logits)
        avail = cap - weights
        bc = _floor(chunk / S)
        if weights + bc * a + per_token * min(bc * S, chunk) <= cap:
            best = _maximum(bc, _floor((avail - per_token * chunk) / a))
        else:
            best = _floor(avail / (a + per_token * S))
        return np.array(_maximum(best, 0.0) * float(self.groups)).astype(np.int64)

    def _max_context_one(self, batch: float, limit: float, top: float) -> np.ndarray:
        """``max_context`` of one configuration in Python floats: the same operations in the same order (so the
        same numbers) without the cost of NumPy calls on single values."""
        fraction, kv_layer, cp, chunk = float(self.fraction), float(self.kv_layer), float(self.cp), self.chunk
        weights, per_token, logits = float(self.weights), float(self.per_token), float(self.logits)
        windows = [(float(w), float(c)) for w, c in zip(self.windows, self.counts, strict=True)]
        seqs = float(math.ceil(batch / float(self.groups)))  # (``most_loaded``)

        def total(n: float) -> float:  # DeviceMemory._total(seqs, n, 0)
            ctx = n + 0.0
            held = sum(c * min(ctx, w) for w, c in windows)
            kv = seqs * (fraction * held * kv_layer / cp)
            return weights + kv + (min(seqs * n / cp, chunk) * per_token + seqs * logits)

        kink = chunk * cp / seqs if seqs > 0 else top
        xs = sorted([0.0, min(kink, top), *(min(w, top) for w, _ in windows), top])
        fs = [total(x) for x in xs]
        below = [f <= limit for f in fs]
        last = max(sum(below) - 1, 0)
        nxt = min(last + 1, len(xs) - 1)
        x0, f0, x1, f1 = xs[last], fs[last], xs[nxt], fs[nxt]
        slope = (f1 - f0) / (x1 - x0) if x1 > x0 else 0.0
        cross = x0 + (limit - f0) / slope if slope > 0 else x1
        n = min(max(top if below[-1] else cross, 0.0), top)
        n = float(math.floor(n)) if n == n else n  # NaN (no capacity figure) stays NaN, then gives 0 below
        n = n + 1 if total(n + 1) <= limit else (n if total(n) <= limit else n - 1)
        n = min(max(n, 0.0), top) if total(0.0 + 1.0) <= limit else 0.0
        return np.array(n).astype(np.int64)


def _take_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``np.take_along_axis(values, rows, 0)``: per position, the element of ``values`` in the row ``rows`` names
    there (indices within the first axis). For a C-contiguous ``values`` whose positions are ``rows``' own, the same
    elements by one ``np.take`` through flat offsets (row x positions + position), several times cheaper than the
    fancy indexing of ``take_along_axis``."""
    positions = values.shape[1:]
    if not values.flags.c_contiguous or rows.shape[1:] != positions:
        return np.take_along_axis(values, rows, 0)
    size = math.prod(positions)
    offsets = rows * size
    offsets += np.arange(size).reshape(positions)
    return np.take(values.reshape(-1), offsets)


def _floor(x: float) -> float:
    """``np.floor`` of one float (infinities and NaN pass through)."""
    return float(math.floor(x)) if math.isfinite(x) else x


def _maximum(a: float, b: float) -> float:
    """``np.maximum`` of two floats: NaN if either is NaN."""
    return math.nan if a != a or b != b else (a if a >= b else b)


def place(capacities: list, amounts: list):
    """Greedy placement: fill tiers (fastest first) with each amount in turn (weights, KV, activations).

    ``capacities``: per tier, bytes (scalars or arrays); ``amounts``: per data class, bytes. Returns, per
    class, a list of per-tier fractions (arrays) summing to 1; overflow lands in the last tier. (An array of amounts
    that are all positive takes the quotients themselves: the values both selections below give there.)
    """
    free = [np.asarray(c, dtype=float) for c in capacities]
    fractions = []
    last = len(free) - 1
    for amount in amounts:
        amount = np.asarray(amount, dtype=float)
        left = amount.copy()
        parts = []
        positive = amount > 0
        every = amount.ndim > 0 and bool(positive.all())
        for t in range(len(free)):
            put = left if t == last else np.minimum(left, np.maximum(free[t], 0))
            free[t] = free[t] - put
            left = left - put
            if every:
                parts.append(put / amount)
                continue
            safe = where_scalar(positive, amount, 1.0)
            parts.append(where_scalar(positive, put / safe, 1.0 if t == 0 else 0.0))
        fractions.append(parts)
    return fractions
