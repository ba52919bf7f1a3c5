"""The operators of one forward step, as arrays of FLOPs and bytes (docs/formulas.md sections 2-3).

Contract
--------
``build_operators(model, phase, batch, new_tokens, context, dtypes)`` returns an ``OperatorTable``: one row
per distinct operator of one layer group (layers with the same attention window and FFN kind are one
group), plus the embedding, final norm and LM head. Each row has its FLOPs, weight bytes, KV-cache bytes
and activation bytes **per layer instance** as NumPy arrays broadcast over the configuration shape, a
``count`` (layers it stands for), a kernel-launch count and the datatype its math runs at.

Phases
  * ``prefill``: ``new_tokens`` = S prompt tokens per sequence, nothing cached before. Attention is causal:
    query i sees min(i, W) keys (sliding window W) or the keys of its own chunk (chunked attention).
    The LM head runs on the last token of each sequence only.
  * ``decode``: one new token per sequence. ``context`` is a pair (first, last) of attended lengths L
    (the new token included): the row values are the mean over the decode steps L = first..last. Only
    attention rows depend on L, linearly in the keys attended, so the mean step is the step at the mean
    attended-key count, (pairs(last) - pairs(first - 1)) / (last - first + 1) per layer group (exact for
    sliding and chunked windows too). ``context = (L, L)`` gives the single step at L.

What moves through memory (assumptions)
  * Every GEMM reads its whole weight matrix once per step and reads its input / writes its output
    activations once (no fusion across operators, except the attention kernel below).
  * Attention is one fused kernel (FlashAttention-style): the score matrix never leaves the chip; Q, K, V are
    read once and O written once. In decode it reads the cached K and V of the tokens it attends to. An engine
    whose attention is not fused (``score_bytes`` > 0: llama.cpp without flash attention) adds an ``attn_softmax``
    row: every score of the queries x keys-read rectangle, per head, through memory.
  * The new tokens' K and V (or MLA latent) are written to the cache in the KV datatype by the projection.
  * Norms, rotary embedding, activation functions and residual adds are memory-only (their FLOPs run on
    vector units and are not counted against the matrix peak). Each residual add is fused into the RMSNorm
    that follows it (one kernel reads x and the residual, writes both), as vLLM and TensorRT-LLM do.
  * MoE: a router GEMM, the routing (two kernels: top-k, then the token-expert pairs grouped by expert), then the
    routed experts; only the expected number of *distinct* experts hit by the
    step's tokens (``genmodel.engine.experts``) have their weights read; every token does top-k experts' FLOPs.
    Shared experts run on every token. Load imbalance is not modeled here (perfectly even experts).
  * MLA (DeepSeek-V2/V3): prefill uses the explicit form (the latent is up-projected to per-head K and V,
    attention with head width qk_nope + qk_rope); decode uses the absorbed form (W_UK folded into the query,
    W_UV applied after attention), so attention reads only the 576-element latent per token, shared by all
    heads. This is the split DeepSeek's and FlashMLA's kernels use. The query and KV latents each have an RMSNorm
    (one kernel each).
  * The input embedding is a gather: it reads one row per token, not the whole matrix.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from genmodel.engine.experts import expected_active_experts
from genmodel.engine.memo import IdentityCache
from genmodel.engine.parallel import SINGLE_DEVICE, Parallelism
from genmodel.specs.dtypes import bytes_per_element, compute_dtype
from genmodel.specs.model import ModelSpec

Phase = Literal["prefill", "decode"]


@dataclass(frozen=True)
class DTypes:
    """Resolved datatypes of one run: weights, activations, KV cache, and the embedding and LM head matrices
    (quantized checkpoints usually keep those two in the activation datatype)."""

    weight: str
    activation: str
    kv: str
    embedding: str = ""

    def __post_init__(self) -> None:
        if not self.embedding:
            object.__setattr__(self, "embedding", self.weight)

    def _compute(self, a: str, b: str) -> str:
        """``compute_dtype(a, b)``, remembered on this (frozen) record."""
        memo = self.__dict__.setdefault("_compute_dtypes", {})
        if (a, b) not in memo:
            memo[a, b] = compute_dtype(a, b)
        return memo[a, b]

    @property
    def head(self) -> str:
        """Datatype the LM head's matrix multiply runs at."""
        return self._compute(self.embedding, self.activation)

    @property
    def gemm(self) -> str:
        """Datatype weight x activation products run at."""
        return self._compute(self.weight, self.activation)

    @property
    def attention(self) -> str:
        """Datatype attention (activation x cached KV) runs at."""
        return self._compute(self.activation, self.kv)


@dataclass
class OperatorTable:
    """Operators of one step; array fields have shape (n_ops, *config_shape), per layer instance (``gemm_m`` and
    ``gemm_n``: the same number of axes, of length 1 where they do not vary; they broadcast to that shape)."""

    names: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    dtypes: list[str | None] = field(default_factory=list)
    count: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kernels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    flops: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weight_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kv_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    act_bytes: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # shape of the work, for shape-dependent efficiency (genmodel.engine.efficiency); NaN where it does not apply:
    # GEMMs: M = rows (tokens; per expert for routed experts), N = output columns (per head; for routed experts the
    # columns of all the device's active experts, which one grouped launch runs);
    # attention: M = the keys the step's queries attend in prefill (its new tokens and the cached ones before them), 1
    # in decode (the decode stream's fraction for every query)
    gemm_m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gemm_n: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # per row, a key equal for rows whose ``gemm_m`` (``gemm_n``) were built from the same value, so they hold the
    # same numbers (None: unknown); genmodel.engine.efficiency computes a shared shape once
    gemm_m_keys: tuple | None = None
    gemm_n_keys: tuple | None = None
    # indices of the rows whose KV bytes may be non-zero (the others were built with none; None: unknown);
    # genmodel.engine.roofline computes the KV-cache terms on these rows only
    kv_rows: tuple[int, ...] | None = None
    # a table built with ``build_operators(stack_shapes=False)``: (``gemm_m``'s row values, ``gemm_n``'s, their
    # stacked shapes), the two columns left unstacked (empty) until a reader asks for rows of them (``shape_rows``)
    shape_values: tuple | None = None
    # ``kv_bytes`` holds the rows of ``kv_rows`` only, in that order (a table over configurations built with
    # ``stack_shapes=False``: the other rows' KV bytes are 0); ``kv_column()`` gives the column of every row
    kv_compact: bool = False
    # a table over configurations built with ``stack_shapes=False``: (``weight_bytes``' row values, ``act_bytes``',
    # the two columns' stacked shape), the columns left unstacked (empty) until a reader stacks them
    # (``stack_bytes``); genmodel.engine.roofline reads the rows as they are
    byte_rows: tuple | None = None
    # kernels per row instance beyond ``kernels`` where they vary by configuration (the kernel that dequantizes a
    # weight-only GEMM's matrix into a copy, genmodel.engine.step; shape (n_ops, ...) broadcasting to the table's);
    # None: none
    copy_kernels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.names)

    def shape_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The shapes of the ``gemm_m`` and ``gemm_n`` columns (stacked or not)."""
        if self.shape_values is not None:
            return self.shape_values[2], self.shape_values[3]
        return self.gemm_m.shape, self.gemm_n.shape

    def shape_rows(self, side: str, rows: np.ndarray) -> np.ndarray:
        """``gemm_m[rows]`` (``side`` "m") or ``gemm_n[rows]`` ("n"), a fresh array: for a table whose shape columns
        are not stacked, only those rows are (the same numbers)."""
        if self.shape_values is None:
            return (self.gemm_m if side == "m" else self.gemm_n)[rows]
        values, shape = (self.shape_values[0], self.shape_values[2]) if side == "m" else (self.shape_values[1],
                                                                                         self.shape_values[3])
        out = np.empty((len(rows), *shape[1:]))
        for i, row in enumerate(rows):
            out[i] = values[row]
        return out

    def byte_shape(self) -> tuple[int, ...]:
        """The shape of the ``weight_bytes`` and ``act_bytes`` columns (stacked or not)."""
        return self.byte_rows[2] if self.byte_rows is not None else self.weight_bytes.shape

    def stack_bytes(self) -> None:
        """Stack the ``weight_bytes`` and ``act_bytes`` columns of a table that holds them as row values (else
        nothing): the values stacking them at build time gives."""
        if self.byte_rows is None:
            return
        weights, acts, shape = self.byte_rows
        self.weight_bytes, self.act_bytes = _stacked_rows(weights, shape), _stacked_rows(acts, shape)
        self.byte_rows = None

    def stack_columns(self) -> None:
        """Stack the byte columns a table holds as row values (``stack_bytes``) and give its KV column every row
        (``kv_column``), for a reader of whole columns (else nothing)."""
        self.stack_bytes()
        if self.kv_compact:
            self.kv_bytes, self.kv_compact = self.kv_column(), False

    def kv_column(self) -> np.ndarray:
        """The KV bytes of every row: ``kv_bytes``, or for a ``kv_compact`` table its rows placed among zeros."""
        if not self.kv_compact or len(self.kv_rows) == len(self.names):
            return self.kv_bytes
        out = np.zeros((len(self.names), *self.kv_bytes.shape[1:]))
        out[list(self.kv_rows)] = self.kv_bytes
        return out

    def kv_of_rows(self, rows: np.ndarray) -> np.ndarray:
        """``kv_column()[rows]`` for ``rows`` = ``kv_rows`` as an index array (a ``kv_compact`` table's own column)."""
        return self.kv_bytes if self.kv_compact else self.kv_bytes[rows]

    def drop_shapes(self) -> None:
        """Let go of the GEMM shape columns (a caller that no longer reads them)."""
        self.gemm_m = self.gemm_n = _NO_ROWS
        self.shape_values = None

    def _stacked(self) -> OperatorTable:
        """This table with its shape and byte columns stacked and its KV column of every row (itself when they
        are)."""
        self.stack_columns()
        if self.shape_values is None:
            return self
        rows = np.arange(len(self.names))
        self.gemm_m, self.gemm_n = self.shape_rows("m", rows), self.shape_rows("n", rows)
        self.shape_values = None
        return self

    def select(self, keep: list[bool], prefix: str = "") -> OperatorTable:
        """The rows where ``keep`` is true, their names prefixed with ``prefix``."""
        self._stacked()
        idx = [i for i, k in enumerate(keep) if k]
        arrays = (getattr(self, f)[idx] for f in _ARRAY_FIELDS)
        return OperatorTable([prefix + self.names[i] for i in idx], [self.groups[i] for i in idx],
                             [self.kinds[i] for i in idx], [self.dtypes[i] for i in idx], *arrays)

    def concat(self, other: OperatorTable) -> OperatorTable:
        """This table's rows followed by ``other``'s (configuration shapes broadcast together)."""
        self._stacked(), other._stacked()
        shape = np.broadcast_shapes(self.flops.shape[1:], other.flops.shape[1:])

        def join(a: np.ndarray, b: np.ndarray, own: bool) -> np.ndarray:
            if a.ndim == 1:
                return np.concatenate([a, b])
            # the GEMM shape keeps its own (smaller) broadcast shape, padded to the table's number of axes
            to = _padded(broadcast_shape(a.shape[1:], b.shape[1:]), len(shape)) if own else shape
            return np.concatenate([a if a.shape[1:] == to else np.broadcast_to(a, (len(a), *to)),
                                   b if b.shape[1:] == to else np.broadcast_to(b, (len(b), *to))])

        return OperatorTable(self.names + other.names, self.groups + other.groups, self.kinds + other.kinds,
                             self.dtypes + other.dtypes,
                             *(join(getattr(self, f), getattr(other, f), f in _SHAPE_FIELDS) for f in _ARRAY_FIELDS))

    def total(self, attr: str) -> np.ndarray:
        """Sum over operators (times their layer counts) of ``attr`` ('flops', 'weight_bytes', ...)."""
        values = getattr(self._stacked(), attr)
        return np.tensordot(self.count, values, axes=(0, 0))


# a table of at most this many configurations (one estimate's decode step: [mean, final]) records no row keys: its
# readers take their whole-table paths, the same numbers in fewer NumPy calls on so few columns
FEW_COLUMNS = 2
_NO_ROWS = np.zeros(0)  # a column left unstacked or dropped
_NO_ROWS.flags.writeable = False
_ARRAY_FIELDS = ("count", "kernels", "flops", "weight_bytes", "kv_bytes", "act_bytes", "gemm_m", "gemm_n")
_SHAPE_FIELDS = ("gemm_m", "gemm_n")  # broadcast over the axes they vary along only (padded to the table's rank)


def _stacked_rows(values, shape: tuple[int, ...]) -> np.ndarray:
    """Row values (Python numbers, NumPy scalars or arrays) stacked into a float array of ``shape``."""
    out = np.empty(shape)
    for row, value in enumerate(values):
        out[row] = value
    return out


class _Rows:
    """Collects rows, then stacks them into an ``OperatorTable``."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []

    def add(self, name, group, kind, dtype, count, *, flops=0.0, weights=0.0, kv=0.0, act=0.0, kernels=1.0,
            m=np.nan, n=np.nan):
        self.rows.append((name, group, kind, dtype, count, kernels, flops, weights, kv, act, m, n))

    def table(self, stack_shapes: bool = True) -> OperatorTable:
        """The rows stacked into a table; the collector lets go of them, and each column's values go as soon as the
        column is stacked (so the rows' own arrays and the table's are alive together one column at a time).
        ``stack_shapes=False``: a table over configurations keeps the GEMM shape columns as row values
        (``OperatorTable.shape_values``), for a reader of a few of their rows, and the weight and activation bytes
        likewise (``OperatorTable.byte_rows``), and stacks the KV bytes of ``kv_rows`` only (``kv_compact``)."""
        cols = list(zip(*self.rows, strict=True))
        n = len(self.rows)
        self.rows = []
        # np.shape of each row value (a Python number, a NumPy array or scalar) without converting it
        shape = broadcast_shape(*{getattr(c, "shape", ()) for col in cols[6:10] for c in col})

        def stack(k: int, to: tuple[int, ...]) -> np.ndarray:
            if not to:  # a single configuration: one value per row
                return np.array(cols[k], dtype=float)
            out = np.empty((n, *to))
            for row, value in enumerate(cols[k]):
                out[row] = value
            return out

        def own(k: int) -> tuple[int, ...]:
            """The GEMM shape's own broadcast shape (it often varies along fewer axes than the table)."""
            return _padded(broadcast_shape(*{getattr(c, "shape", ()) for c in cols[k]}), len(shape)) if shape else ()

        def take(k: int, to: tuple[int, ...]) -> np.ndarray:
            """Column ``k`` stacked to ``to``; its row values are let go."""
            out = stack(k, to)
            cols[k] = ()
            return out

        # the objects are alive in cols, so their ids are distinct (keys for a configuration-shaped table only)
        keys = (tuple(map(id, cols[10])), tuple(map(id, cols[11])),
                tuple(i for i, v in enumerate(cols[8]) if not (type(v) in (int, float) and v == 0))) \
            if math.prod(shape) > FEW_COLUMNS else (None, None, None)
        gemm_shapes = own(10), own(11)
        if not stack_shapes and keys[2] is not None:
            unstacked = (cols[10], cols[11], (n, *gemm_shapes[0]), (n, *gemm_shapes[1]))
            kv = _stacked_rows([cols[8][row] for row in keys[2]], (len(keys[2]), *shape))  # (``kv_compact``)
            cols[8] = ()
            return OperatorTable(list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]),
                                 np.array(cols[4], dtype=float), np.array(cols[5], dtype=float),
                                 take(6, shape), _NO_ROWS, kv, _NO_ROWS, _NO_ROWS, _NO_ROWS,
                                 *keys, unstacked, kv_compact=True, byte_rows=(cols[7], cols[9], (n, *shape)))
        return OperatorTable(list(cols[0]), list(cols[1]), list(cols[2]), list(cols[3]),
                             np.array(cols[4], dtype=float), np.array(cols[5], dtype=float),
                             take(6, shape), take(7, shape), take(8, shape), take(9, shape), take(10, gemm_shapes[0]),
                             take(11, gemm_shapes[1]), *keys)


def chunk_bounds(n: int, size: int) -> list[tuple[int, int]]:
    """(start, stop) of the fewest chunks of at most ``size`` covering ``range(n)``, of nearly equal sizes."""
    count = -(-n // size)
    return [(n * i // count, n * (i + 1) // count) for i in range(count)]


def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """``np.broadcast_shapes(*shapes)`` (at least one shape), without its cost where every shape is the same one
    (then the broadcast shape is that shape) and remembered for shapes that differ (``_broadcast_shapes``)."""
    first = shapes[0]
    for other in shapes:
        if other != first:
            return _broadcast_shapes(tuple(map(tuple, shapes)))
    return tuple(first)


def broadcast_view(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``np.broadcast_to(x, shape)`` of an array ``x``: a read-only view of it. Where ``x`` already has ``shape``, the
    view is made directly (no broadcast is needed; the same values, strides and read-only flag, without the cost of
    ``broadcast_to``'s iterator, a few microseconds per call on a small array)."""
    if x.shape != shape:
        return np.broadcast_to(x, shape)
    view = x.view()
    view.flags.writeable = False
    return view


@functools.lru_cache(maxsize=1024)
def _broadcast_shapes(shapes: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """``np.broadcast_shapes(*shapes)``, remembered: an estimate meets a few distinct combinations of shapes many times
    (each NumPy call builds arrays to find it; shapes that do not broadcast raise its error, which is not kept)."""
    return np.broadcast_shapes(*shapes)


def _padded(shape: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    return (1,) * (ndim - len(shape)) + tuple(shape)


def attended_keys(query_position, window: float, kind: str):
    """Keys a query at 1-based position ``query_position`` attends to (causal, with window)."""
    p = np.asarray(query_position, dtype=float)
    if np.isinf(window):
        return p
    if kind == "chunked":
        return p - window * np.floor((p - 1) / window)
    return np.minimum(p, window)


def causal_pairs(tokens, window: float, kind: str):
    """Query-key pairs in causal attention over ``tokens`` tokens: sum over i=1..S of attended_keys(i)."""
    s = np.asarray(tokens, dtype=float)
    full = s * (s + 1) / 2
    if np.isinf(window):
        return full
    w = window
    if kind == "chunked":
        chunks = np.floor(s / w)
        rest = s - chunks * w
        return chunks * w * (w + 1) / 2 + rest * (rest + 1) / 2
    return np.where(s <= w, full, w * (w + 1) / 2 + (s - w) * w)


def _layer_groups(model: ModelSpec) -> tuple[tuple[str, int, float, bool], ...]:
    """(label, layer count, window, is_moe) for each distinct (window, FFN kind) among the layers; computed once per
    model spec object (``genmodel.engine.memo``: specs are frozen) and shared (a tuple of tuples)."""
    return _LAYER_GROUPS.get((model,), (), lambda: tuple(_find_layer_groups(model)))


_LAYER_GROUPS = IdentityCache(256)


def _find_layer_groups(model: ModelSpec) -> list[tuple[str, int, float, bool]]:
    keys = list(zip(model.layer_window.tolist(), model.layer_is_moe.tolist(), strict=True))
    groups = []
    for key in dict.fromkeys(keys):
        count = keys.count(key)
        window, is_moe = key
        attn = "global" if np.isinf(window) else f"{model.attention.window_kind} {int(window)}"
        ffn = "MoE" if is_moe else "dense"
        groups.append((f"{ffn} FFN, {attn} attn x{count}", count, window, is_moe))
    return groups


def mean_attended_keys(first, last, window: float, kind: str):
    """Mean over decode steps L = first..last (inclusive) of the keys a query at position L attends to."""
    first = np.asarray(first, dtype=float)
    last = np.asarray(last, dtype=float)
    total = causal_pairs(last, window, kind) - causal_pairs(first - 1, window, kind)
    return total / (last - first + 1)


@dataclass
class _Ctx:
    """Per-device quantities shared by the row builders of one step (Python floats for a single value)."""

    model: ModelSpec
    phase: str
    B: np.ndarray  # sequences on this device's attention group
    T: np.ndarray  # tokens this device's linear layers process in the step
    S: np.ndarray  # query tokens per sequence in the step on this device (prompt / cp in prefill, 1 in decode)
    cp: np.ndarray  # context-parallel ranks sharing these sequences (attention work split cp ways)
    tp: np.ndarray  # attention / dense tensor-parallel degree
    moe_tokens: np.ndarray  # tokens routed by the whole stage (all attention groups)
    ep: np.ndarray
    etp: np.ndarray
    imbalance: np.ndarray
    wb: float
    ab: float
    kb: float
    eb: float  # bytes per element of the embedding and LM head matrices
    gemm: str
    attn: str
    nq: Any = None  # query heads on this device (tp-split, padded to whole heads per rank where the engine pads)
    nkv: Any = None  # KV heads on this device (at least one; replicated when tp exceeds them)
    twice_t: Any = None  # 2 x T, for the GEMMs' FLOPs (``_gemm``)
    query_tokens: Any = None  # T less the riding prompt tokens: the queries this table's attention rows read and
    # write (a riding prompt's queries are its own chunk rows', ``genmodel.engine.step``)
    score_bytes: float = 0.0  # memory traffic per attention score where the attention is not fused (0: fused)
    # the attention rows' shape M for their compute fraction (genmodel.engine.efficiency): in prefill the keys the
    # pass's queries attend, P + S (a prompt without a cached prefix: S; the kernel amortizes each query tile over its
    # loop through the keys); 1 in decode, whose kernels (FlashInfer's and TensorRT-LLM's decode kernels, FlashMLA)
    # stream the KV cache once for every query of the step, packing the S x (query heads per KV head) query rows of a
    # verify step into one tile: the decode stream's fraction, not a short prompt's
    attn_m: Any = None


def build_operators(model: ModelSpec, phase: Phase, batch, new_tokens, context, dtypes: DTypes,
                    parallel: Parallelism = SINGLE_DEVICE, linear_batch=None, prefix=0.0,
                    extra_tokens=0.0, extra_head_tokens=0.0, attention_only: bool = False,
                    stack_shapes: bool = True, score_bytes: float = 0.0, head_share: float = 1.0) -> OperatorTable:
    """Operators of one ``phase`` step on one device (see module docstring for the meaning).

    ``batch`` is the number of sequences of the device's attention group (its share of the replica's
    batch under attention data parallelism). Under tensor parallelism heads, FFN columns and the vocabulary
    are split ``tp`` ways (KV heads replicated when tp exceeds their count; MLA's down-projections and latent
    cache replicated); under expert parallelism each device holds num_experts/ep experts, each split
    expert_tp ways, and processes expert_imbalance x its even share of the stage's routed tokens.
    ``linear_batch`` (default ``batch``) is the batch the linear layers run at (a padded decode graph).
    Prefill with ``prefix`` P: each sequence already holds P cached tokens (a prefix-cache hit); its S new tokens
    attend to P + their causal predecessors (pairs(P + S) - pairs(P)) and read P + S keys. Decode with S new tokens
    per sequence (a speculative verify step): each of the S queries attends to about the mean context, the keys are
    read once, and the LM head runs on all S. ``extra_tokens`` (prompt chunks riding in a mixed step) pass through
    the linear layers and ``extra_head_tokens`` (prompts that finish in the step) through the LM head; the attention
    rows read and write the queries of the step's own tokens only (a riding prompt's queries are its chunk's rows:
    a step with no decoding sequence has attention rows that do no work, and cost nothing).
    ``attention_only``: only the attention rows are built (the same rows, in the same order). ``stack_shapes=False``:
    the GEMM shape columns are left unstacked (``OperatorTable.shape_rows`` gives rows of them). ``score_bytes`` > 0:
    the attention is not fused, and each score (query x key read x head, the whole rectangle) moves that many bytes
    through memory (an ``attn_softmax`` row: written by the QK^T product, read and written by the softmax, read by
    the product with V). ``head_share``: the share of such steps that run the final norm and LM head (1 / passes for
    one pass of a prompt computed in several: only the last one has a token to emit).
    """
    q = _value(new_tokens)
    B = _value(batch)
    wb, ab, kb, eb = (bytes_per_element(d) for d in (dtypes.weight, dtypes.activation, dtypes.kv, dtypes.embedding))
    tp = _value(parallel.tp)
    cp = _value(parallel.cp)
    # context parallel: prefill splits the prompt's tokens over the cp ranks; decode runs the linear layers
    # on every rank
    BL = B if linear_batch is None else _value(linear_batch)
    own = BL * q / cp if phase == "prefill" else BL * q  # the step's own tokens (without riding prompt chunks)
    T = own + extra_tokens
    c = _Ctx(model, phase, B, T, q / cp if phase == "prefill" else q, cp, tp, T * _value(parallel.attention_groups),
             _value(parallel.ep), _value(parallel.expert_tp), _value(parallel.expert_imbalance), wb, ab, kb, eb,
             dtypes.gemm, dtypes.attention, _value(parallel.heads_per_device(model.attention.num_heads)),
             None if model.attention.num_kv_heads is None
             else _value(parallel.kv_heads_per_device(model.attention.num_kv_heads)))
    H, V = model.hidden_size, model.vocab_size
    att = model.attention
    rows = _Rows()
    everything = not attention_only
    c.twice_t = 2 * T if everything else None  # (the attention rows have no GEMM)
    c.query_tokens = own
    c.score_bytes = float(score_bytes)
    c.attn_m = c.S + prefix if phase == "prefill" else 1.0

    # vocabulary-parallel embedding: each rank holds V/tp rows and gathers the tokens that fall in its shard
    if everything:
        rows.add("embedding", "model", "gather", None, 1, weights=T * H * eb / tp, act=T * H * ab)
    for label, n, window, is_moe in _layer_groups(model):
        # per sequence and device: query-key pairs (a cp-th of them, load-balanced) and keys read (prefill: all
        # of the prompt's keys, gathered from the cp ranks; decode: the local cp-th of the cache)
        if phase == "prefill":
            pairs = (causal_pairs(prefix + q, window, att.window_kind) - causal_pairs(prefix, window,
                                                                                      att.window_kind)) / cp
            keys_read = prefix + q
        else:
            first, last = context
            keys_read = mean_attended_keys(first, last, window, att.window_kind) / cp
            pairs = q * keys_read
        if not everything:
            (_gqa_attention if att.mla is None else _mla_attention)(rows, c, label, n, pairs, keys_read)
            continue
        # residual add fused into the following RMSNorm (vLLM's fused_add_rms_norm): read x and the
        # residual, write the new residual and the normalized x
        rows.add("attn_add_norm", label, "elementwise", None, n, act=4 * T * H * ab)
        if att.mla is None:
            _gqa(rows, c, label, n, pairs, keys_read)
        else:
            _mla(rows, c, label, n, pairs, keys_read)
        rows.add("ffn_add_norm", label, "elementwise", None, n, act=4 * T * H * ab)
        if is_moe:
            _moe(rows, c, label, n)
        else:
            _ffn(rows, c, "ffn", label, n, model.ffn.intermediate_size / tp)

    if everything:
        # prefill: last token of each sequence only; decode: every new token (one, or a verify step's S)
        head_tokens = (B if phase == "prefill" else B * q) + extra_head_tokens
        head_wb = eb
        if not (type(head_share) is float and head_share == 1.0):  # a share of the head's tokens and weight reads
            head_tokens, head_wb = head_tokens * head_share, eb * head_share
        rows.add("final_add_norm", "model", "elementwise", None, 1, act=4 * head_tokens * H * ab)
        _gemm(rows, c, "lm_head", "model", 1, head_tokens, H, V / tp, wb=head_wb, dtype=dtypes.head)
    return rows.table(stack_shapes)


def operator_rows(model: ModelSpec) -> int:
    """The number of rows of ``model``'s decode step on one device (``build_operators``), computed once per model
    spec object: the rows a step's arrays hold (within one or two of any other step's)."""
    return _ROW_COUNTS.get((model,), (), lambda: len(build_operators(model, "decode", 1.0, 1.0, (2.0, 2.0),
                                                                     DTypes("bf16", "bf16", "bf16"))))


_ROW_COUNTS = IdentityCache(256)


def _value(x):
    """``x`` as float64: a Python float for a single value (its +, -, *, / round exactly as NumPy's do, at a
    fraction of the cost of 0-d array arithmetic), else a float array."""
    if type(x) in _EXACT_FLOATS or (type(x) is int and -_EXACT_INT <= x <= _EXACT_INT):
        return float(x)  # (the value float64 conversion gives: the same float, or an int float64 holds exactly)
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else a


_EXACT_FLOATS = (float, np.float64)  # types whose float() is the value itself
_EXACT_INT = 2**53  # every int of at most this magnitude is a float64 exactly


def _gemm(rows, c: _Ctx, name, label, n, tokens, k_in, n_out, *, heads=1.0, kv=0.0, wb=None, dtype=None):
    """``heads`` GEMMs [tokens x k_in] @ [k_in x n_out], one weight matrix per head."""
    if type(heads) is float and heads == 1.0:  # x 1.0 leaves every value as it is: the same numbers, fewer passes
        twice = c.twice_t if tokens is c.T else 2 * tokens  # 2 T, computed once per table
        flops, act = twice * k_in * n_out, tokens * (k_in + n_out) * c.ab
    else:
        flops, act = 2 * tokens * heads * k_in * n_out, tokens * heads * (k_in + n_out) * c.ab
    rows.add(name, label, "gemm", dtype or c.gemm, n, flops=flops,
             weights=heads * k_in * n_out * (c.wb if wb is None else wb), act=act, kv=kv, m=tokens, n=n_out)


def _gqa(rows, c: _Ctx, label, n, pairs, keys_read):
    H, d = c.model.hidden_size, c.model.head_dim
    nq, nkv = c.nq, c.nkv  # KV heads replicated when tp exceeds them (Parallelism.kv_heads_per_device)
    T, ab, kb = c.T, c.ab, c.kb
    _gemm(rows, c, "qkv_proj", label, n, T, H, (nq + 2 * nkv) * d, kv=T * 2 * nkv * d * kb)
    rows.add("rope", label, "elementwise", None, n, act=2 * T * (nq + nkv) * d * ab)
    _gqa_attention(rows, c, label, n, pairs, keys_read)
    _gemm(rows, c, "o_proj", label, n, T, nq * d, H)


def _gqa_attention(rows, c: _Ctx, label, n, pairs, keys_read):
    """The fused attention rows of a GQA layer: scores read Q and the keys, values read the values and write O."""
    d, nq, nkv = c.model.head_dim, c.nq, c.nkv
    T, B, ab, kb = c.query_tokens, c.B, c.ab, c.kb
    rows.add("attn_scores", label, "attention", c.attn, n, m=c.attn_m, flops=2 * B * nq * d * pairs,
             kv=B * keys_read * nkv * d * kb, act=T * nq * d * ab)
    rows.add("attn_values", label, "attention", c.attn, n, m=c.attn_m, kernels=0.0, flops=2 * B * nq * d * pairs,
             kv=B * keys_read * nkv * d * kb, act=T * nq * d * ab)
    _unfused_scores(rows, c, label, n, keys_read, nq)


def _unfused_scores(rows, c: _Ctx, label, n, keys_read, heads):
    """The score matrix of an attention that is not fused (``build_operators(score_bytes=...)``): every query of
    the step against every key read, per head, through memory; nothing where the attention is fused."""
    if c.score_bytes > 0:
        scores = c.B * c.S * keys_read * heads
        rows.add("attn_softmax", label, "attention", c.attn, n, m=c.attn_m, act=scores * c.score_bytes)


def _mla(rows, c: _Ctx, label, n, pairs, keys_read):
    m, H = c.model.attention.mla, c.model.hidden_size
    nh = c.nq  # heads split; down-projections and latent cache replicated
    dn, dr, dv, r = m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim, m.kv_lora_rank
    T, ab, kb = c.T, c.ab, c.kb
    if m.q_lora_rank:
        _gemm(rows, c, "q_down", label, n, T, H, m.q_lora_rank)
        _gemm(rows, c, "q_up", label, n, T, m.q_lora_rank, nh * (dn + dr))
    else:
        _gemm(rows, c, "q_proj", label, n, T, H, nh * (dn + dr))
    _gemm(rows, c, "kv_down", label, n, T, H, r + dr, kv=T * (r + dr) * kb)
    # the RMSNorms of the query latent (q_a_layernorm, where queries are compressed) and of the KV latent
    # (kv_a_layernorm): each reads and writes its latent, one kernel each
    latents = (m.q_lora_rank or 0) + r
    rows.add("latent_norms", label, "elementwise", None, n, kernels=2.0 if m.q_lora_rank else 1.0,
             act=2 * T * latents * ab)
    rows.add("rope", label, "elementwise", None, n, act=2 * T * (nh + 1) * dr * ab)
    if c.phase == "prefill":
        # explicit form: up-project the latent of every new token to per-head K (nope part) and V
        _gemm(rows, c, "kv_up", label, n, T, r, nh * (dn + dv))
        _mla_attention(rows, c, label, n, pairs, keys_read)
    else:
        # absorbed form: q_nope @ W_UK -> latent-space query; attend over the cached latent; W_UV after
        _gemm(rows, c, "q_absorb", label, n, T, dn, r, heads=nh)
        _mla_attention(rows, c, label, n, pairs, keys_read)
        _gemm(rows, c, "v_absorb", label, n, T, r, dv, heads=nh)
    _gemm(rows, c, "o_proj", label, n, T, nh * dv, H)


def _mla_attention(rows, c: _Ctx, label, n, pairs, keys_read):
    """The attention rows of an MLA layer: the explicit form in prefill, the absorbed form over the latent cache in
    decode (``_mla``)."""
    m, nh = c.model.attention.mla, c.nq
    dn, dr, dv, r = m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim, m.kv_lora_rank
    T, B, ab, kb = c.query_tokens, c.B, c.ab, c.kb
    if c.phase == "prefill":
        rows.add("attn_scores", label, "attention", c.attn, n, m=c.attn_m, flops=2 * B * nh * (dn + dr) * pairs,
                 act=T * nh * (dn + dr) * ab + B * keys_read * nh * (dn + dr) * ab)
        rows.add("attn_values", label, "attention", c.attn, n, m=c.attn_m, kernels=0.0, flops=2 * B * nh * dv * pairs,
                 act=B * keys_read * nh * dv * ab + T * nh * dv * ab)
    else:
        rows.add("attn_scores", label, "attention", c.attn, n, m=c.attn_m, flops=2 * B * nh * (r + dr) * pairs,
                 kv=B * keys_read * (r + dr) * kb, act=T * nh * (r + dr) * ab)
        rows.add("attn_values", label, "attention", c.attn, n, m=c.attn_m, kernels=0.0, flops=2 * B * nh * r * pairs,
                 act=T * nh * r * ab)
    _unfused_scores(rows, c, label, n, keys_read, nh)


def _ffn(rows, c: _Ctx, prefix, label, n, width):
    """A dense (or shared-expert) FFN of ``width`` columns on this device, for all of its tokens."""
    H, T = c.model.hidden_size, c.T
    if c.model.ffn.gated:
        _gemm(rows, c, f"{prefix}_gate_up", label, n, T, H, 2 * width)
        rows.add(f"{prefix}_act", label, "elementwise", None, n, act=3 * T * width * c.ab)
    else:
        _gemm(rows, c, f"{prefix}_up", label, n, T, H, width)
        rows.add(f"{prefix}_act", label, "elementwise", None, n, act=2 * T * width * c.ab)
    _gemm(rows, c, f"{prefix}_down", label, n, T, width, H)


def _moe(rows, c: _Ctx, label, n):
    moe, H = c.model.moe, c.model.hidden_size
    E, k = moe.num_experts, moe.experts_per_token
    F = moe.expert_intermediate_size / c.etp  # each expert split expert_tp ways
    _gemm(rows, c, "router", label, n, c.T, H, E)
    # routing: the top-k of each token's E scores, then the token-expert pairs grouped by expert for the grouped
    # GEMMs (vLLM/SGLang: topk + moe_align_block_size; TensorRT-LLM: routing + permute): two kernels that read the
    # scores and write the pairs (4-byte scores, ids and weights)
    rows.add("moe_route", label, "elementwise", None, n, kernels=2.0, act=c.T * (E + 2 * k) * 4.0)
    # this device's experts hit by the stage's tokens, and its (imbalanced) share of token-expert pairs
    active = expected_active_experts(c.moe_tokens, E, k) / c.ep
    routed = c.moe_tokens * k / c.ep * c.imbalance
    up_cols = (2 if c.model.ffn.gated else 1) * F
    ab, wb = c.ab, c.wb
    per_expert = routed / np.maximum(active, 1e-12)  # tokens each active expert multiplies (its GEMM's M)
    # one grouped-GEMM launch runs every active expert's tiles together (vLLM's and SGLang's fused MoE, DeepGEMM,
    # CUTLASS grouped GEMMs): its N is the columns of all of them side by side, so the waves count their tiles
    launch = np.maximum(active, 1.0)
    rows.add("experts_up", label, "gemm", c.gemm, n, flops=2 * routed * H * up_cols,
             weights=active * H * up_cols * wb, act=routed * (H + up_cols) * ab, m=per_expert, n=up_cols * launch)
    rows.add("experts_act", label, "elementwise", None, n, act=routed * (up_cols + F) * ab)
    rows.add("experts_down", label, "gemm", c.gemm, n, flops=2 * routed * F * H, weights=active * F * H * wb,
             act=routed * (F + H) * ab, m=per_expert, n=H * launch)
    rows.add("moe_combine", label, "elementwise", None, n, act=(routed + c.T) * H * ab)
    if moe.num_shared_experts:
        _ffn(rows, c, "shared_expert", label, n, moe.num_shared_experts * moe.shared_width / c.tp)
