"""The time genmodel gives one GEMM kernel launch: the engine step's own efficiency and roofline code on one row.

Contract
--------
``gemm_time_s(hardware, m, n, k, groups=1, dtype="bf16", weight_dtype=None, calibrated=True, overlap=None)`` returns
the seconds one launch of ``groups`` GEMMs of [m x k] @ [k x n] takes on the device (a grouped launch: routed
experts, ``groups`` of them with m rows each), as the engine step times a GEMM row: the shape-dependent fraction of
the datatype's dense peak (``genmodel.engine.efficiency.compute_fractions``: tiles of m rows, the waves of all the
launch's tiles), the bytes it moves at the device's streaming fraction plus the memory ramp, the compute and memory
terms combined with the device's overlap (``Physics.compute_memory_overlap``, 0 on GPUs: they add; ``overlap``
overrides it) and the kernel floor (``genmodel.engine.roofline.time_operators``). The bytes: every weight once
(``weight_dtype``, default ``dtype``), the inputs and outputs once in ``dtype`` (an fp8 or fp4 GEMM writes bf16:
2 bytes an output). No launch gap or host time is included: a kernel's own time, as a profiler or a kernel
benchmark measures it. ``calibrated`` uses the device family's fitted fractions (False: the kind's defaults).
Arrays broadcast; a single configuration gives a float.

It is the check of the GEMM physics against published kernel timings (docs/formulas.md, "Checked against
published kernel timings"; ``validation/kernels.csv``).
"""

from __future__ import annotations

import numpy as np

from genmodel.data.registry import get_hardware
from genmodel.engine.efficiency import Physics, compute_fractions
from genmodel.engine.operators import OperatorTable
from genmodel.engine.realism import resolve_realism
from genmodel.engine.roofline import time_operators
from genmodel.errors import ConfigurationError
from genmodel.specs.dtypes import bytes_per_element, normalize_dtype
from genmodel.specs.hardware import HardwareSpec

OUTPUT_BYTES = {"fp8": 2.0, "fp6": 2.0, "fp4": 2.0, "int8": 2.0, "int4": 2.0}  # narrow GEMMs write bf16


def gemm_time_s(hardware: str | HardwareSpec, m, n, k, groups=1, dtype: str = "bf16", weight_dtype: str | None = None,
                calibrated: bool = True, overlap: float | None = None):
    """Seconds of one (grouped) GEMM launch on ``hardware`` (module docstring)."""
    hw = get_hardware(hardware) if isinstance(hardware, str) else hardware
    dt = normalize_dtype(dtype)
    wdt = normalize_dtype(weight_dtype or dtype)
    peak = hw.peak_flops_per_s.get(dt)
    if not peak:
        raise ConfigurationError(f"{hw.name} lists no {dt} peak (it lists: {', '.join(hw.peak_flops_per_s)})",
                                 argument="dtype")
    m, n, k, g = (np.asarray(x, dtype=float) for x in (m, n, k, groups))
    if np.any(~np.isfinite(m * n * k * g)) or np.any(m < 1) or np.any(n < 1) or np.any(k < 1) or np.any(g < 1):
        raise ConfigurationError("m, n, k and groups must be finite numbers >= 1", argument="m")
    shape = np.broadcast_shapes(m.shape, n.shape, k.shape, g.shape)
    a_bytes, o_bytes = bytes_per_element(dt), OUTPUT_BYTES.get(dt, bytes_per_element(dt))

    def column(x):
        return np.broadcast_to(x, shape).reshape(1, *shape).astype(float)

    table = OperatorTable(names=["gemm"], groups=["kernel"], kinds=["gemm"], dtypes=[dt],
                          count=np.ones(1), kernels=np.ones(1),
                          flops=column(2.0 * g * m * n * k), weight_bytes=column(g * n * k * bytes_per_element(wdt)),
                          kv_bytes=column(0.0), act_bytes=column(g * m * (k * a_bytes + n * o_bytes)),
                          gemm_m=column(m), gemm_n=column(n * g))
    realism = resolve_realism(hw, calibrated=calibrated)
    physics = Physics.of(hw)
    bw = hw.fastest_memory.bandwidth_bytes_per_s
    fractions = compute_fractions(table, realism.compute_efficiency, realism.attention_efficiency, physics)
    inv = {key: np.full(shape, 1.0 / bw) for key in ("weight", "kv", "act")}
    real, _ = time_operators(table, [peak], inv, compute_efficiency=fractions,
                             memory_efficiency=realism.memory_efficiency, kernel_overhead_s=0.0,
                             memory_ramp_s=physics.memory_ramp_bytes / (realism.memory_efficiency * bw),
                             overlap=physics.compute_memory_overlap if overlap is None else overlap,
                             kernel_floor_s=physics.kernel_floor_s)
    time = real.time_s[0]
    return float(time) if time.shape == () else time
