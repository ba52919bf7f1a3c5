"""Shape-dependent efficiency: how close each operator gets to the device's peaks (docs/formulas.md section 5.1).

Contract
--------
``Physics.of(hw)`` gathers what a device's matrix units like: compute units (SMs/CUs), the rows one matrix
instruction works on, the output tile of a large GEMM, the keys attended at which fused prefill attention reaches
half its peak fraction, and the bytes at which a kernel reaches half its streaming bandwidth; the entry's
``microarchitecture`` block wins over the kind defaults below. ``compute_fractions(table, realism, physics,
engine, weight_only)`` returns, per operator row and configuration, the achievable fraction of the dense peak:

* GEMM (M rows, N columns): ``η_c · dtype_fraction · tile_m(M) · tile_n(N) · waves``, with
  ``tile_m = M / (ceil(M / t) · t)`` for the tile height t the kernel picks (the smallest power of two >= M between
  the matrix unit's rows r and the large-GEMM tile), ``tile_n`` likewise on N, and the wave quantization
  ``w / ceil(w)`` of w = tiles / compute units (the last wave runs partly empty); with fewer tiles than units
  the library splits the reduction (split-K) so that ``floor(units / tiles)`` units share each tile, and the used
  share is ``tiles · floor(units / tiles) / units`` (>= 1/2). Where the library balances its tiles
  (``Physics.balanced_tiles``: Hopper, whose cuBLAS and DeepGEMM kernels schedule tiles persistently, measured on an
  H200 between powers of two, docs/formulas.md 5.1), the last wave costs nothing and ``tile_m = M / (ceil(M / r)
  · r)``: the library picks among its tile heights, multiples of r, the one that pads least. It only matters where
  the GEMM is compute-bound:
  short prefills, large decode batches. Routed experts use their own M (tokens per active expert) and, as one
  grouped launch, the tiles of all the device's active experts for the waves (N = their columns together). fp8
  runs at 0.9 and fp4/int4 at 0.8 of the bf16 fraction (lower achieved fraction and clock throttling under the
  power cap on the fast paths);
  weight-only quantized GEMMs at the engine's ``weight_only_scale`` (an engine whose weight-only GEMMs are
  matrix-vector kernels on the vector units, ``weight_only_vector_ops_per_mac``, has those rows replaced by
  ``genmodel.engine.step``: vector peak / instructions per multiply-accumulate, whatever the shape).
* Fused attention: ``η_attn · engine.attention_scale · K / (K + S_half)`` in prefill, K = P + S the keys the
  queries of a pass attend (S new tokens after P cached ones; K = S for a prompt without a prefix):
  FlashAttention-class kernels amortize each query tile's prologue and epilogue over their loop through the keys;
  decode attention at ``η_attn · attention_scale`` (it is a bandwidth stream over the KV cache, timed by the memory
  term), for every query of the step (a speculative verify step's too).
* Vector-unit engines (``Physics.vector_only``: a CPU engine whose kernels do not use the matrix units, e.g.
  llama.cpp's ggml CPU backend): every GEMM and attention row runs at ``η · vector peak / row's peak`` (the fp32
  FMA peak of the vector units, whatever the datatype), with no tile quantization (vector lanes are narrow).
* Memory: every operator that moves bytes pays ``ramp_bytes / (η_m · bandwidth)`` on top of its streaming time
  (a kernel moving B bytes reaches B / (B + ramp_bytes) of the streaming rate).
* Kernel floor: ``Physics.kernel_floor_s``, the least time a kernel that does any work keeps the device busy (GPUs:
  ``KERNEL_FLOOR_GPU_S``; other kinds 0); ``genmodel.engine.roofline`` raises each row's busy time to it.

``gemm_tiles(m, n, physics)`` counts a GEMM's output tiles in that tile model (what its waves count over the compute
units).

Defaults and their sources are in ``KIND_PHYSICS`` and docs/formulas.md; every parameter has a physical meaning.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from genmodel.engine.inplace import into, owned, row_views
from genmodel.engine.memo import IdentityCache
from genmodel.engine.operators import OperatorTable, broadcast_shape
from genmodel.engine.scalars import clip
from genmodel.specs.hardware import HardwareSpec

MIB = 2.0**20
# fraction of the bf16 GEMM fraction that narrower paths reach (cuBLASLt FP8 on H100 about 1,300-1,450 of 1,979
# dense TFLOP/s, i.e. 0.66-0.73 against 0.76-0.81 for BF16; FP4 paths lower still and throttle under the power cap)
DTYPE_FRACTION = {"fp32": 1.0, "tf32": 1.0, "bf16": 1.0, "fp16": 1.0, "fp8": 0.9, "int8": 0.9, "fp6": 0.85,
                  "fp4": 0.8, "int4": 0.8}


@dataclass(frozen=True)
class Physics:
    """Shape parameters of one device's matrix units and memory (see the module docstring)."""

    compute_units: int | None
    matrix_unit_rows: int
    gemm_tile: tuple[int, int] | None
    attention_half_tokens: float
    memory_ramp_bytes: float
    compute_memory_overlap: float = 1.0
    # dense peak of the vector units (fp32 FMA) and of each matrix datatype, FLOP/s: a GEMM of a few rows runs as a
    # vector-unit GEMV when that beats padding the matrix instruction (``compute_fractions``)
    vector_flops_per_s: float = 0.0
    peak_flops_per_s: tuple[tuple[str, float], ...] = ()
    # the engine's kernels run every GEMM and attention on the vector units (a CPU engine without matrix-unit
    # kernels: ``EngineSpec.cpu_matrix_units`` false): fraction of the row's peak = vector peak / matrix peak
    vector_only: bool = False
    # the least time a kernel that does any work keeps the device busy (launch of its grid, first loads, tail),
    # whatever its bytes and FLOPs: about 4 us for a small GPU kernel (KERNEL_FLOOR_GPU_S; roofline.py)
    kernel_floor_s: float = 0.0
    # the GEMM library balances a partly filled last wave (stream-K, persistent tile schedulers) and picks among its
    # tile heights (multiples of matrix_unit_rows) the one that pads the rows least (``_m_side``, ``_waves``)
    balanced_tiles: bool = False

    @classmethod
    def of(cls, hw: HardwareSpec) -> Physics:
        """The device's physics, computed once per spec object (``genmodel.engine.memo``: specs are frozen)."""
        return _PHYSICS.get((hw,), (), lambda: cls._of(hw))

    @classmethod
    def _of(cls, hw: HardwareSpec) -> Physics:
        base = KIND_PHYSICS[hw.kind]
        own = hw.microarchitecture
        tile = tuple(own.gemm_tile) if own.gemm_tile else base.gemm_tile
        return cls(own.compute_units if own.compute_units is not None else base.compute_units,
                   own.matrix_unit_rows or base.matrix_unit_rows, tile,  # type: ignore[arg-type]
                   own.attention_half_tokens or base.attention_half_tokens,
                   own.memory_ramp_bytes if own.memory_ramp_bytes is not None else base.memory_ramp_bytes,
                   own.compute_memory_overlap if own.compute_memory_overlap is not None
                   else base.compute_memory_overlap,
                   float(hw.peak_flops_per_s.get("fp32", 0.0)), tuple(sorted(hw.peak_flops_per_s.items())),
                   kernel_floor_s=own.kernel_floor_s if own.kernel_floor_s is not None else base.kernel_floor_s,
                   balanced_tiles=own.balanced_tiles if own.balanced_tiles is not None else base.balanced_tiles)


_PHYSICS = IdentityCache()

# A GPU kernel that does any work keeps the device busy for about 4 us in a decode step (its own time, without the
# launch gap between kernels). The smallest kernels take 1.7-2.1 us (a 48 x 80 x 64 BF16 batched GEMM on B200,
# FlashInfer pull request 4370; an FP4 activation-quantize kernel, SemiAnalysis InferenceX issue 863), but the small
# kernels of a published decode step are mostly longer: twelve between an all-reduce and the first expert GEMM take
# 39.8 us with their gaps, 3.3 us each, in vLLM on H200 (vLLM issue 28084); projection GEMMs of a few rows 4.1-8.9 us
# and the expert combine 7.3 us in SGLang on B200 (InferenceX issue 863); a one-row router GEMM 4.66 us with cuBLAS on
# B200 (vLLM pull request 44217). 4 us is the typical small kernel, not the smallest; docs/formulas.md section 5.1
# and docs/validation.md history item 38 (2 us until then).
KERNEL_FLOOR_GPU_S = 4e-6

# Kind defaults. GPUs: CUDA mma tiles are 16 rows on Ampere/Ada (CDNA MFMA likewise), 128 x 128 output tiles are
# cuBLAS's common large tile; FlashAttention-2/3 reach half their peak fraction near 512-token sequences
# (FlashAttention-3 paper, figure 5: about 330-500 of ~740 TFLOP/s at 512-1k tokens on H100); an HBM kernel needs
# about 2 MiB in flight to approach its streaming rate. TPU: MXU 128 x 128, 8-row sublanes. CPU: AMX tiles of 16
# rows. Unknown kinds: no quantization.
# Overlap of arithmetic and data movement inside one kernel (last field): devices that run GEMMs as pipelined
# tiles (GPU, TPU, NPU, CPU, SoC) are taken to add the two times (overlap 0). A tiled kernel hides loads under math
# only in its steady state; its prologue, epilogue and the stages near the ridge point do not overlap, and the
# Execution-Cache-Memory model (Hager, Treibig, Wellein) describes CPU kernels whose data transfers do not overlap
# with in-core execution. Checked on published pairs (docs/formulas.md section 5.1): TensorRT-LLM's 128- and
# 2,048-token TTFTs on H100, A100 and L40S give an intercept equal to the weight-streaming time and a slope equal
# to the arithmetic time, i.e. the two add. Statically scheduled dataflow and streaming designs keep the ideal
# overlap (1).
KIND_PHYSICS: dict[str, Physics] = {
    "gpu": Physics(None, 16, (128, 128), 512.0, 2 * MIB, 0.0, kernel_floor_s=KERNEL_FLOOR_GPU_S),
    "tpu": Physics(None, 8, (128, 128), 1024.0, 2 * MIB, 0.0),
    "npu": Physics(None, 16, (128, 128), 1024.0, 2 * MIB, 0.0),
    "fpga": Physics(None, 1, None, 256.0, 0.0),
    "cpu": Physics(None, 16, (16, 64), 256.0, 0.25 * MIB, 0.0),
    "soc": Physics(None, 8, (32, 32), 256.0, 0.5 * MIB, 0.0),
    "wafer_scale": Physics(None, 1, None, 256.0, 0.0),
    "dataflow": Physics(None, 1, None, 256.0, 0.0),
    "lpu": Physics(None, 1, None, 256.0, 0.0),
    "scd": Physics(None, 1, None, 256.0, 0.0),
}


def _quantized(x: np.ndarray, step) -> np.ndarray:
    """x / (ceil(x / step) * step): the used share of whole steps."""
    return x / (np.ceil(x / step) * step)


def gemm_shape_factor(m, n, physics: Physics) -> np.ndarray:
    """Tile and wave quantization of a GEMM with m rows and n columns (1 = no loss)."""
    if physics.gemm_tile is None:
        m = np.maximum(np.asarray(m, dtype=float), 1.0)
        n = np.maximum(np.asarray(n, dtype=float), 1.0)
        rows = float(physics.matrix_unit_rows)
        return _quantized(m, rows) if rows > 1 else np.ones_like(m * n)
    return _combined(*_m_side(m, physics), *_n_side(n, physics), physics)


def gemm_tiles(m, n, physics: Physics) -> np.ndarray:
    """Output tiles of a GEMM with m rows and n columns in the tile model above (the tiles its wave quantization
    counts over the compute units); a device without a GEMM tile counts one."""
    if physics.gemm_tile is None:
        return np.ones(np.broadcast_shapes(np.shape(m), np.shape(n)))
    return _m_side(m, physics)[1] * _n_side(n, physics)[1]


def _m_side(m, physics: Physics) -> tuple[np.ndarray, np.ndarray]:
    """(used share of the row tiles, row tiles) of a GEMM of m rows, for a device with a GEMM tile."""
    m = np.maximum(np.asarray(m, dtype=float), 1.0)
    bounds = _tile_steps(float(physics.matrix_unit_rows), float(physics.gemm_tile[0])) \
        if m.size >= TILE_BOUNDS_FROM else None
    if bounds is None:
        # 2 ** ceil(log2 m) as exp2: the same powers of two (exact for every whole exponent, and inf and NaN alike)
        # at a sixth of the cost of the general power
        tile_m = clip(np.exp2(np.ceil(np.log2(m))), float(physics.matrix_unit_rows), float(physics.gemm_tile[0]))
    else:  # the same tile heights, by comparisons with the bounds at which log2 m passes each whole exponent
        tile_m = float(physics.gemm_tile[0])
        for bound, tile in reversed(bounds):
            tile_m = np.where(m <= bound, tile, tile_m)
    steps = np.ceil(m / tile_m)
    if physics.balanced_tiles:
        # the library picks, among its tile heights (multiples of the matrix instruction's rows r), one that pads the
        # rows least, so only the padding to a multiple of r is lost (cuBLAS on an H200 between powers of two:
        # docs/formulas.md 5.1); the tiles counted for split-K stay those of the large tile
        rows = float(physics.matrix_unit_rows)
        return m / (np.ceil(m / rows) * rows), steps
    return m / (steps * tile_m), steps


# values from which ``_m_side`` finds the tile heights by comparisons (``_tile_steps``): fewer take fewer instructions
# through the formula (np.where's setup costs more than the formula's four ufunc calls on a few values)
TILE_BOUNDS_FROM = 256

# floats next to a power of two over which ``_tile_steps`` checks that np.log2 passes the exponent exactly once
# (farther away, log2 m differs from the exponent k by more than 3e-13: over forty units in k's last place for
# every k below 64)
_LOG2_WINDOW = 1024


@functools.lru_cache(maxsize=64)
def _tile_steps(low: float, high: float) -> tuple[tuple[float, float], ...] | None:
    """``((bound, tile), ...)`` in increasing order such that for every m >= 1 (and inf),
    ``clip(exp2(ceil(log2 m)), low, high)`` (NumPy's array functions) is the tile of the first bound >= m, or ``high``
    above the last bound: ``ceil(log2 m) <= k`` exactly where ``m <= bound_k``, the largest float whose np.log2 is at
    most k (found, and checked to be a single crossing, on the floats next to 2**k; farther ones are far from it).
    NaN gives ``high`` where the formula gives NaN; ``m / tile`` is NaN either way. None where the tiles are not so
    given (no bound, or np.log2 crosses an exponent more than once there: then the formula itself is used)."""
    steps = []
    k = 0
    while (tile := float(clip(np.float64(2.0**k), low, high))) != high:
        if float(clip(np.float64(2.0 ** (k + 1)), low, high)) != tile:  # the last exponent of this tile
            power = 2.0**k
            above = power + np.arange(_LOG2_WINDOW) * (power * 2.0**-52)  # 2**k and the floats above it
            below = power - np.arange(1, _LOG2_WINDOW + 1) * (power * 2.0**-53)  # the floats below it
            if k and not (np.log2(below) <= k).all():
                return None
            within = np.log2(above) <= k
            crossing = int(np.argmin(within))  # the first float above 2**k whose log2 exceeds k
            if not within[:crossing].all() or within[crossing:].any():
                return None
            steps.append((float(above[crossing - 1]), tile))
        k += 1
    return tuple(steps) or None


def _n_side(n, physics: Physics) -> tuple[np.ndarray, np.ndarray]:
    """(used share of the column tiles, column tiles) of a GEMM of n columns."""
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    tile_n = physics.gemm_tile[1]
    steps = np.ceil(n / tile_n)
    return n / (steps * float(tile_n)), steps


def _combined(share_m, steps_m, share_n, steps_n, physics: Physics) -> np.ndarray:
    """Tile quantization times the wave quantization over the compute units."""
    return _waves(share_m * share_n, (steps_m, steps_n), physics)


def _waves(factor: np.ndarray, steps: tuple | np.ndarray, physics: Physics) -> np.ndarray:
    """``_combined`` from the product of the two sides' shares (``factor``) and ``steps``: the two sides' tile counts
    (``steps_m``, ``steps_n``), or their product already made (an array of ``factor``'s shape)."""
    if physics.compute_units:
        units = float(physics.compute_units)
        tiles = steps[0] * steps[1] if isinstance(steps, tuple) else steps
        # fewer tiles than units (waves = tiles / units < 1): the library splits K so that floor(units / tiles)
        # units share each tile (split-K / stream-K), the share tiles x floor(units / tiles) / units; otherwise the
        # last wave runs partly empty, waves / ceil(waves), unless the library balances it (``balanced_tiles``:
        # stream-K or persistent tile schedulers; cuBLAS on an H200, docs/formulas.md 5.1), when nothing is lost.
        # One expression gives each, without a data-dependent select (slow on mixed shapes): split / ceil(waves),
        # as ceil(waves) is 1 below one wave (tiles >= 1) and split is tiles x 1 / units = waves exactly from one
        # wave on; balanced, min(split, 1)
        balanced = physics.balanced_tiles
        if not owned(tiles) or not owned(factor) or factor.shape != tiles.shape:
            split = tiles * np.floor(units / np.minimum(tiles, units)) / units
            return factor * (np.minimum(split, 1.0) if balanced else split / np.ceil(tiles / units))
        # the same operations in place (each temporary reused)
        split = np.minimum(tiles, units)
        np.divide(units, split, out=split)
        np.floor(split, out=split)
        np.multiply(tiles, split, out=split)
        split /= units
        if balanced:
            np.minimum(split, 1.0, out=split)
        else:
            waves = np.divide(tiles, units, out=tiles)
            split /= np.ceil(waves, out=waves)
        factor *= split
    return factor


def _gemm_rows_into(out: np.ndarray, rows: np.ndarray, efficiency: np.ndarray, shape_factor: np.ndarray,
                    scale: np.ndarray | None) -> None:
    """``out[rows] = efficiency * shape_factor`` (times ``scale`` when given), ``efficiency`` and ``scale`` holding one
    entry per row of ``rows`` (``compute_fractions``' GEMM rows): over many configurations (``inplace.row_views``,
    ``shape_factor`` a row per row of ``rows`` in ``out``'s configuration shape) each row's products are written
    straight into its basic-indexed view of ``out``, the same products in the same order without the temporary and
    advanced indexing's scatter; otherwise as written (``inplace.into``: into ``shape_factor`` when it is a fresh
    array)."""
    if not row_views(out.shape) or shape_factor.shape != (len(rows), *out.shape[1:]):
        gemm = into(np.multiply, shape_factor, efficiency, first=False)
        out[rows] = gemm if scale is None else gemm * scale
        return
    for i, row in enumerate(rows.tolist()):
        target = out[row]
        np.multiply(efficiency[i], shape_factor[i], out=target)
        if scale is not None:
            np.multiply(target, scale[i] if scale.ndim else scale, out=target)


@functools.lru_cache(maxsize=256)
def _other_rows(kinds: tuple[str, ...]) -> tuple[int, ...]:
    """The rows that are neither GEMM nor attention rows (``compute_fractions`` writes those two kinds itself)."""
    return tuple(i for i, k in enumerate(kinds) if k not in ("gemm", "attention"))


def _filled(shape: tuple[int, ...], value: float, rows: tuple[int, ...]) -> np.ndarray:
    """An array of ``shape`` whose ``rows`` (along the first axis) hold ``value``: the others are left to the caller,
    who writes every one of them (``compute_fractions``: its GEMM and attention rows)."""
    out = np.empty(shape)
    for row in rows:
        out[row] = value
    return out


def _nan_to_one(x: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(x, nan=1.0)`` of a fresh array (rows picked by index), in place and only when ``x`` holds a
    value that is not finite (the usual case has none: one check instead of nan_to_num's six passes)."""
    return x if np.isfinite(x).all() else np.nan_to_num(x, copy=False, nan=1.0)


# values per row of a GEMM shape column from which ``_side_rows`` may compute a side once per distinct key: below it an
# array operation costs about the same on fewer rows, so the gathers back would only add to the work
GATHER_FROM = 64


def _gather_keys(keys: tuple | None, shape: tuple[int, ...]) -> tuple | None:
    """``keys`` for ``_side_rows`` when a row of the GEMM shape column of ``shape`` (rows first) holds at least
    ``GATHER_FROM`` values, else None (every row computed: the same numbers, element by element)."""
    if keys is None or math.prod(shape[1:]) < GATHER_FROM:
        return None
    return keys


def _side_rows(side, values, rows: np.ndarray, keys: tuple | None, physics: Physics, ops: int):
    """``side`` (``_m_side`` or ``_n_side``) of ``values(rows)`` (rows of a GEMM shape column, a fresh array; NaN
    counting as 1), computed once per distinct key when that saves work (``ops`` is about how many array operations
    the side takes per row): (share, steps, position), ``share`` and ``steps`` holding a row per distinct key and
    ``position`` (an index array) giving each of ``rows`` its row there, else a row per row of ``rows`` and None.
    ``_combined_sides`` multiplies the two sides' rows without gathering them."""
    if keys is not None:
        first: dict = {}
        position = np.array([first.setdefault(keys[r], len(first)) for r in rows], dtype=np.intp)
        if ops * (len(rows) - len(first)) > 2 * len(rows):  # fewer operations than the two gathers cost
            distinct = np.array([rows[position.tolist().index(k)] for k in range(len(first))], dtype=np.intp)
            return (*side(_nan_to_one(values(distinct)), physics), position)
    return (*side(_nan_to_one(values(rows)), physics), None)


def _combined_sides(m_side: tuple, n_side: tuple, physics: Physics) -> np.ndarray:
    """``_combined`` of two ``_side_rows`` results, each side's rows taken at its ``position`` where it has one: the
    products of the two sides' shares and of their steps row by row from the distinct rows (``_row_products``), the
    numbers of the gathered arrays' products without the gathers."""
    (share_m, steps_m, at_m), (share_n, steps_n, at_n) = m_side, n_side
    if at_m is None and at_n is None:
        return _combined(share_m, steps_m, share_n, steps_n, physics)
    rows = len(at_m) if at_m is not None else len(at_n)
    factor = _row_products(share_m, at_m, share_n, at_n, rows)
    return _waves(factor, _row_products(steps_m, at_m, steps_n, at_n, rows) if physics.compute_units else None,
                  physics)


def _row_products(a: np.ndarray, at_a: np.ndarray | None, b: np.ndarray, at_b: np.ndarray | None,
                  rows: int) -> np.ndarray:
    """``a[at_a] * b[at_b]`` (an index None: the array's rows as they are), a fresh array of ``rows`` rows, each
    row's product written into its own view."""
    out = np.empty((rows, *broadcast_shape(a.shape[1:], b.shape[1:])))
    ia = range(rows) if at_a is None else at_a.tolist()
    ib = range(rows) if at_b is None else at_b.tolist()
    for i, (j, k) in enumerate(zip(ia, ib, strict=True)):
        np.multiply(a[j], b[k], out=out[i])
    return out


@functools.lru_cache(maxsize=256)
def _row_constants(kinds: tuple[str, ...], dtypes: tuple[str | None, ...], physics: Physics):
    """What ``compute_fractions`` needs per row that depends only on the rows' kinds and datatypes and the device:
    (GEMM row indices, attention row indices, each GEMM row's datatype fraction, its vector-unit floor (vector peak
    / the row's matrix peak / datatype fraction; None where the device has no vector peak), and for a vector-only
    engine each attention row's vector peak / matrix peak, at most 1 (else None))."""
    gemm = np.array([i for i, k in enumerate(kinds) if k == "gemm"], dtype=np.intp)
    attention = np.array([i for i, k in enumerate(kinds) if k == "attention"], dtype=np.intp)
    dtype = np.array([DTYPE_FRACTION.get(dtypes[i] or "bf16", 1.0) for i in gemm])
    floor = attention_vector = None
    if physics.vector_flops_per_s and len(gemm):
        floor = _vector_ratio(physics, [dtypes[i] for i in gemm], 0.0) / dtype
    if physics.vector_only and physics.vector_flops_per_s and len(attention):
        attention_vector = np.minimum(_vector_ratio(physics, [dtypes[i] for i in attention], 1.0), 1.0)
    for a in (gemm, attention, dtype, floor, attention_vector):
        if a is not None:
            a.flags.writeable = False  # shared between calls
    return gemm, attention, dtype, floor, attention_vector


def _vector_ratio(physics: Physics, dtypes: list[str | None], missing: float) -> np.ndarray:
    """Per row: the vector units' peak over the matrix peak of the row's datatype (``missing`` where the device
    states no peak for it)."""
    peaks = dict(physics.peak_flops_per_s)
    return np.array([physics.vector_flops_per_s / peaks[d] if peaks.get(d) else missing for d in dtypes])


def compute_fractions(table: OperatorTable, compute_efficiency: float, attention_efficiency: float,
                      physics: Physics, attention_scale: float = 1.0, weight_only=False,
                      weight_only_scale: float = 1.0, consume: bool = False) -> np.ndarray:
    """Per operator row (shape (n_ops, *config)): the achievable fraction of the row's dense peak.
    ``weight_only``: per row (or for all, or per row and configuration), whether the GEMM dequantizes narrower
    weights in its kernel. ``consume``:
    the caller no longer reads the table's GEMM shapes, which are dropped (set to an empty array) once read, before
    the result is made.

    Each term is computed on the rows it applies to only (GEMM rows, attention rows); every other row gets
    ``compute_efficiency``."""
    gemm_rows, attention_rows, dtype, floor, attention_vector = _row_constants(tuple(table.kinds),
                                                                               tuple(table.dtypes), physics)
    extra = table.flops.ndim - 1
    shape = (-1, *([1] * extra))
    m_shape, n_shape = table.shape_shapes()
    out_shape = broadcast_shape(m_shape, n_shape, (len(table.kinds), *([1] * extra)))
    sides = s = None

    def m(rows):
        return table.shape_rows("m", rows)

    def n(rows):
        return table.shape_rows("n", rows)

    if len(gemm_rows):
        # NaN (no shape) counts as 1; rows built from the same M (N) share that side's tiles
        if physics.gemm_tile is None or table.gemm_m_keys is None:
            shape_factor = gemm_shape_factor(_nan_to_one(m(gemm_rows)), _nan_to_one(n(gemm_rows)), physics)
        else:
            sides = (_side_rows(_m_side, m, gemm_rows, _gather_keys(table.gemm_m_keys, m_shape), physics, 9),
                     _side_rows(_n_side, n, gemm_rows, _gather_keys(table.gemm_n_keys, n_shape), physics, 5))
    if len(attention_rows):
        s = _nan_to_one(m(attention_rows))  # prefill: the keys its queries attend, P + S (decode: 1)
    if consume:
        table.drop_shapes()
    out = _filled(out_shape, compute_efficiency, _other_rows(tuple(table.kinds)))
    if len(gemm_rows):
        if sides is not None:
            shape_factor = _combined_sides(*sides, physics)
            del sides
        if physics.vector_only and floor is not None:  # vector lanes: no matrix tiles to fill
            shape_factor = np.broadcast_to(floor.reshape(shape), shape_factor.shape)
        elif floor is not None:
            # a GEMM of a few rows (decode at small batch) runs as a GEMV on the vector units when padding the
            # matrix instruction would be slower: its fraction of the row's own peak is at least vector peak /
            # matrix peak
            shape_factor = into(np.maximum, shape_factor, floor.reshape(shape))
        only = np.asarray(weight_only, dtype=bool)
        if only.ndim == 1:
            only = only[gemm_rows].reshape(shape)
        elif only.ndim:  # per row and configuration (GEMMs that ran on a dequantized copy: genmodel.engine.step)
            only = only[gemm_rows]
        # x * 1.0 is x: multiply only where some GEMM dequantizes in its kernel
        scale = np.where(only, weight_only_scale, 1.0) if only.any() else None
        _gemm_rows_into(out, gemm_rows, compute_efficiency * dtype.reshape(shape), shape_factor, scale)
    if len(attention_rows):
        vector = None if attention_vector is None else attention_vector.reshape(shape)
        _attention_rows_into(out, attention_rows, attention_efficiency * attention_scale, s,
                             physics.attention_half_tokens, vector)
    return out


def _attention_rows_into(out: np.ndarray, rows: np.ndarray, efficiency: float, s: np.ndarray, half_tokens: float,
                         vector: np.ndarray | None) -> None:
    """``out[rows] = efficiency * np.where(s > 1, s / (s + half_tokens), 1.0)``, then ``out[rows] *= vector`` when
    given (a vector-only engine: attention on the vector units too), ``s`` holding a row per row of ``rows``
    (``compute_fractions``' attention rows). Over many configurations (``inplace.row_views``) each row is written into
    its basic-indexed view of ``out``, the selection skipped where the row's query tokens are all above 1 (the quotient
    everywhere) or none is (1.0 everywhere): the same products, without the selection, the temporaries and advanced
    indexing's scatter."""
    if not row_views(out.shape) or s.ndim != out.ndim or len(s) != len(rows):
        out[rows] = efficiency * np.where(s > 1, s / (s + half_tokens), 1.0)
        if vector is not None:
            out[rows] *= vector
        return
    for i, row in enumerate(rows.tolist()):
        tokens, target = s[i], out[row]
        above = tokens > 1
        if above.all():
            np.multiply(efficiency, tokens / (tokens + half_tokens), out=target)
        elif above.any():
            np.multiply(efficiency, np.where(above, tokens / (tokens + half_tokens), 1.0), out=target)
        else:
            np.multiply(efficiency, 1.0, out=target)
        if vector is not None:
            np.multiply(target, vector[i], out=target)
