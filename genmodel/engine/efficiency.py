"""Shape-dependent efficiency: how close each operator gets to the device's peaks (docs/formulas.md section 5.1).

Contract
--------
``Physics.of(hw)`` gathers what a device's matrix units like: compute units (SMs/CUs), the rows one matrix
instruction works on, the output tile of a large GEMM, the prompt length at which fused attention reaches half its
peak fraction, and the bytes at which a kernel reaches half its streaming bandwidth; the entry's
``microarchitecture`` block wins over the kind defaults below. ``compute_fractions(table, realism, physics,
engine, weight_only)`` returns, per operator row and configuration, the achievable fraction of the dense peak:

* GEMM (M rows, N columns): ``η_c · dtype_fraction · tile_m(M) · tile_n(N) · waves``, with
  ``tile_m = M / (ceil(M / t) · t)`` for the tile height t the kernel picks (the smallest power of two >= M between
  the matrix unit's rows and the large-GEMM tile), ``tile_n`` likewise on N, and the wave quantization
  ``w / ceil(w)`` of w = tiles / compute units (the last wave runs partly empty); with fewer tiles than units
  the library splits the reduction (split-K) so that ``floor(units / tiles)`` units share each tile, and the used
  share is ``tiles · floor(units / tiles) / units`` (>= 1/2). It only matters where the GEMM is compute-bound:
  short prefills, large decode batches. Routed experts use their own M (tokens per active expert). fp8 runs at 0.9
  and fp4/int4
  at 0.8 of the bf16 fraction (lower achieved fraction and clock throttling under the power cap on the fast paths);
  weight-only quantized GEMMs at the engine's ``weight_only_scale``.
* Fused attention: ``η_attn · engine.attention_scale · S / (S + S_half)`` for a prompt of S tokens in prefill
  (FlashAttention-class kernels reach their peak fraction only on long sequences); decode attention at
  ``η_attn · attention_scale`` (it is a bandwidth stream over the KV cache, timed by the memory term).
* Memory: every operator that moves bytes pays ``ramp_bytes / (η_m · bandwidth)`` on top of its streaming time
  (a kernel moving B bytes reaches B / (B + ramp_bytes) of the streaming rate).

Defaults and their sources are in ``KIND_PHYSICS`` and docs/formulas.md; every parameter has a physical meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genmodel.engine.operators import OperatorTable
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

    @classmethod
    def of(cls, hw: HardwareSpec) -> Physics:
        base = KIND_PHYSICS[hw.kind]
        own = hw.microarchitecture
        tile = tuple(own.gemm_tile) if own.gemm_tile else base.gemm_tile
        return cls(own.compute_units if own.compute_units is not None else base.compute_units,
                   own.matrix_unit_rows or base.matrix_unit_rows, tile,  # type: ignore[arg-type]
                   own.attention_half_tokens or base.attention_half_tokens,
                   own.memory_ramp_bytes if own.memory_ramp_bytes is not None else base.memory_ramp_bytes,
                   own.compute_memory_overlap if own.compute_memory_overlap is not None
                   else base.compute_memory_overlap,
                   float(hw.peak_flops_per_s.get("fp32", 0.0)), tuple(sorted(hw.peak_flops_per_s.items())))


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
    "gpu": Physics(None, 16, (128, 128), 512.0, 2 * MIB, 0.0),
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
    m = np.maximum(np.asarray(m, dtype=float), 1.0)
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    rows = float(physics.matrix_unit_rows)
    if physics.gemm_tile is None:
        return _quantized(m, rows) if rows > 1 else np.ones_like(m * n)
    tile_m_max, tile_n = physics.gemm_tile
    tile_m = np.clip(2.0 ** np.ceil(np.log2(m)), rows, float(tile_m_max))
    factor = _quantized(m, tile_m) * _quantized(n, float(tile_n))
    if physics.compute_units:
        units = float(physics.compute_units)
        tiles = np.ceil(m / tile_m) * np.ceil(n / tile_n)
        waves = tiles / units
        # fewer tiles than units: the library splits K so that floor(units / tiles) units share each tile
        # (split-K / stream-K); otherwise the last wave runs partly empty
        split = tiles * np.floor(units / np.minimum(tiles, units)) / units
        factor = factor * np.where(waves < 1.0, split, waves / np.ceil(waves))
    return factor


def compute_fractions(table: OperatorTable, compute_efficiency: float, attention_efficiency: float,
                      physics: Physics, attention_scale: float = 1.0, weight_only=False,
                      weight_only_scale: float = 1.0) -> np.ndarray:
    """Per operator row (shape (n_ops, *config)): the achievable fraction of the row's dense peak.
    ``weight_only``: per row (or for all), whether the GEMM dequantizes narrower weights in its kernel."""
    kinds = np.array(table.kinds)
    extra = table.flops.ndim - 1
    shape = (-1, *([1] * extra))
    dtype = np.array([DTYPE_FRACTION.get(d or "bf16", 1.0) for d in table.dtypes]).reshape(shape)
    m = np.nan_to_num(table.gemm_m, nan=1.0)
    n = np.nan_to_num(table.gemm_n, nan=1.0)
    rows = np.flatnonzero(kinds == "gemm")  # the shape factor only where it applies (about half the rows)
    shape_factor = np.ones(np.broadcast_shapes(m.shape, n.shape))
    if len(rows):
        shape_factor[rows] = gemm_shape_factor(np.broadcast_to(m, shape_factor.shape)[rows],
                                               np.broadcast_to(n, shape_factor.shape)[rows], physics)
    if physics.vector_flops_per_s and len(rows):
        # a GEMM of a few rows (decode at small batch) runs as a GEMV on the vector units when padding the matrix
        # instruction would be slower: its fraction of the row's own peak is at least vector peak / matrix peak
        peaks = dict(physics.peak_flops_per_s)
        ratio = np.array([physics.vector_flops_per_s / peaks[d] if peaks.get(d) else 0.0
                          for d in table.dtypes]).reshape(shape)
        shape_factor = np.maximum(shape_factor, np.where(kinds.reshape(shape) == "gemm", ratio / dtype, 0.0))
    gemm = compute_efficiency * dtype * shape_factor
    gemm = gemm * np.where(np.asarray(weight_only, dtype=bool).reshape(shape if np.ndim(weight_only) else ()),
                           weight_only_scale, 1.0)
    long = m > 1  # prefill: S query tokens per sequence
    attention = attention_efficiency * attention_scale * np.where(
        long, m / (m + physics.attention_half_tokens), 1.0)
    is_gemm = (kinds == "gemm").reshape(shape)
    is_attention = (kinds == "attention").reshape(shape)
    return np.where(is_gemm, gemm, np.where(is_attention, attention, compute_efficiency))
