"""Roofline timing of an ``OperatorTable`` on one device (docs/formulas.md section 5).

Contract
--------
For every operator row and configuration::

    t_compute = FLOPs / (peak[dtype] x compute_efficiency x flops_scale)
    t_memory  = sum over tiers t of bytes_t / (bandwidth_t x memory_efficiency x bandwidth_scale) + ramp
    t_power   = dynamic energy / (TDP - idle power)     (devices with per-operation energy coefficients only)
    t_busy    = max(t_compute, t_memory) + (1 - overlap) x min(t_compute, t_memory)
    t         = max(t_busy, t_power, kernels x kernel_floor_s) + kernels x kernel_overhead_s (0 if no work)
    step time = sum over rows of count x t

bytes_t splits each row's weight, KV and activation bytes over the memory tiers by the placement
fractions of ``genmodel.engine.memory.place``; transfers from different tiers are assumed not to overlap (a
conservative sum). KV bytes read at their own efficiency; a caller whose efficiency differs per tier (an engine's
stream bound, ``genmodel.engine.step``) hands the realistic seconds per byte of each class in place of the two
efficiencies (``real_inv_bandwidth``). ``t_power`` is the power cap: a device whose work would draw more than its
TDP runs slower (it throttles) rather than spending less energy per operation. The *ideal* roofline is the same with
both efficiencies 1 and no overhead (the power cap is physics and stays). Each row is labelled by what dominates its
time: 'compute', 'memory', 'power' or 'overhead'. Inside an operator the shorter of compute and memory is hidden
under the longer by the device's ``overlap`` share (``genmodel.engine.efficiency``: 0 for pipelined GEMM tiles,
i.e. they add); between operators nothing overlaps.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from genmodel.engine.inplace import fits, into, row_views
from genmodel.engine.operators import OperatorTable, broadcast_shape, broadcast_view
from genmodel.engine.scalars import broadcast_pair, ndim, shape_of

BOUNDS = np.array(["compute", "memory", "power", "overhead"])
_LABELS = np.arange(len(BOUNDS), dtype=np.int8)
# a timing of at most this many row elements (one estimate's steps) finds its bound labels in a few whole-array calls
FEW_ELEMENTS = 256


@dataclass
class Timing:
    """Per-operator times (shape (n_ops, *config)) for one layer instance, and their step total. The ideal timing of
    a lean call (``time_operators(lean=True)``) holds its times only: ``compute_s`` and ``memory_s`` are None."""

    compute_s: np.ndarray | None
    memory_s: np.ndarray | None
    overhead_s: np.ndarray
    time_s: np.ndarray  # per instance
    count: np.ndarray
    power_s: np.ndarray | float = 0.0
    # the time the arithmetic itself keeps the matrix units busy (FLOPs at the large-shape fraction, without tile
    # padding or idle waves): what the power envelope counts as compute activity (genmodel.economics.energy)
    busy_compute_s: np.ndarray | None = None

    @property
    def step_s(self) -> np.ndarray:
        """Time of the whole step: sum over operators of count x time."""
        return np.tensordot(self.count, self.time_s, axes=(0, 0))

    @property
    def bound(self) -> np.ndarray:
        """Per operator: 'compute', 'memory', 'power' or 'overhead', whichever term is largest."""
        return BOUNDS[self._bound_index()]

    def _bound_index(self) -> np.ndarray:
        """Index into BOUNDS of the largest term; ties go to the first (compute, memory, power, overhead).

        Written as products of the comparisons (int8), the same indices as nested ``np.where`` at a fraction of
        the cost on large arrays (a data-dependent ``np.where`` branches per element)."""
        c, m, p, o = self.compute_s, self.memory_s, self.power_s, self.overhead_s
        if ndim(p) == 0 and p == 0:  # no power bound on this device: 0 (compute), else 1 (memory) or 3
            compute = (c >= m) & (c >= o)
            return ~compute * (np.int8(3) - np.int8(2) * (m >= o).astype(np.int8))
        compute = (c >= m) & (c >= p) & (c >= o)
        memory = (m >= p) & (m >= o)
        # 0 if compute, else 1 if memory, else 2 if power (p >= o), else 3
        return ~compute * (np.int8(1) + ~memory * (np.int8(1) + (~(p >= o)).astype(np.int8)))

    def phase_bound(self) -> np.ndarray:
        """Per configuration: the label whose operators take the largest share of the step time."""
        return BOUNDS[self.phase_bound_index()]

    def phase_bound_index(self) -> np.ndarray:
        """``phase_bound`` as indices into BOUNDS (8 bytes per configuration in place of a label's 32): per label,
        the dot product of the counts with the rows' times where the row has that label (0 elsewhere), then the
        first largest of the four shares (``np.argmax`` over them). A timing of a few configurations with finite
        times takes the shares from the per-row labels in one product (``_few_shares``)."""
        t = self.time_s
        if t.size <= FEW_ELEMENTS and np.isfinite(t).all():
            return np.argmax(self._few_shares(), axis=0)
        masks = self._bound_masks()
        with np.errstate(invalid="ignore"):  # inf x 0 (a time that is not finite): recomputed below, as before
            shares = self._shares(masks, finite=True)
        if not np.isfinite(shares).all():
            # a time that is not finite makes its configuration's shares NaN or infinite in t x mask (inf x 0 is NaN):
            # then (or on an overflow) the shares as np.where(mask, t, 0) gives them, as for t with such a value
            shares = self._shares(masks, finite=bool(np.isfinite(self.time_s).all()))
        return first_argmax(shares)

    def _few_shares(self) -> np.ndarray:
        """``_shares`` of finite times, shape (4, *config): per label, the counts' dot product with the times of the
        rows that have it (``_bound_index``; 0 elsewhere), all four labels in one product."""
        t = self.time_s
        labels = self._bound_index()
        only = (labels == _LABELS.reshape(-1, *([1] * labels.ndim))) * t  # (4, rows, *config)
        return np.dot(self.count, only.reshape(len(_LABELS), len(t), -1)).reshape(len(_LABELS), *t.shape[1:])

    def _shares(self, masks: list[np.ndarray | None], finite: bool) -> np.ndarray:
        """Per label, the dot product of the counts with the times where ``masks`` has the label (0 elsewhere; None:
        no row has it): as t x mask if ``finite`` (then the same as np.where(mask, t, 0)), else as that where. The
        mask of long rows (``inplace.row_views``) enters the product as its int8 view (the same 0 and 1, so the same
        products; NumPy converts int8 to float64 in a cheaper loop than bool)."""
        t = self.time_s
        shares = np.empty((len(BOUNDS), *t.shape[1:]))
        kept = np.empty(t.shape) if finite else None  # one buffer for the masked products
        as_int8 = row_views(t.shape)
        for k, mask in enumerate(masks):
            if mask is None:
                shares[k] = 0.0
            else:
                factor = mask.view(np.int8) if as_int8 else mask
                only = np.multiply(t, factor, out=kept) if finite else np.where(mask, t, 0.0)
                _row_dot(self.count, only, out=shares[k, ...])  # (a view also for one configuration)
        return shares

    def _bound_masks(self) -> list[np.ndarray | None]:
        """Per label (compute, memory, power, overhead): where ``_bound_index`` is that label's index, i.e.
        ``index == k``, built from the same comparisons (None for power on a device without a power model)."""
        c, m, p, o = self.compute_s, self.memory_s, self.power_s, self.overhead_s
        if ndim(p) == 0 and p == 0:
            compute = (c >= m) & (c >= o)
            memory = m >= o
            rest = np.logical_or(compute, memory)  # overhead: neither
            return [compute, np.greater(memory, compute), None, np.logical_not(rest, out=rest)]
        compute = (c >= m) & (c >= p) & (c >= o)
        memory = (m >= p) & (m >= o)
        power = p >= o
        either = compute | memory
        return [compute, np.greater(memory, compute), np.greater(power, either),
                np.logical_not(either | power)]


def first_argmax(values: np.ndarray) -> np.ndarray:
    """``np.argmax(values, axis=0)`` for a float array with a short first axis: the index of the first largest, by
    one strictly-greater comparison per row against the running maximum (a contiguous pass per row in place of
    argmax's strided one); argmax itself for one configuration (a 1-d ``values``: its scalar result) and where a NaN
    is present (argmax counts a NaN as the largest)."""
    if values.ndim == 1:
        return np.argmax(values, axis=0)
    best = values[0].copy()
    index = np.zeros(values.shape[1:], dtype=np.intp)
    for k in range(1, len(values)):
        np.copyto(index, k, where=values[k] > best)
        np.maximum(best, values[k], out=best)
    if np.isnan(best).any():  # maximum carries a NaN through
        return np.argmax(values, axis=0)
    return index


def _row_dot(count: np.ndarray, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.tensordot(count, values, axes=(0, 0))`` for a 1-d ``count`` and a C-contiguous ``values``: the same
    matrix product (so the same rounding) without tensordot's general axis handling; written into ``out`` (a
    C-contiguous float64 array of the result's shape) when given."""
    flat = values.reshape(len(values), -1)
    if out is None:
        return np.dot(count.reshape(1, -1), flat).reshape(values.shape[1:])
    np.dot(count.reshape(1, -1), flat, out=out.reshape(1, -1))
    return out


def time_operators(table: OperatorTable, peak_flops: list[float], inv_bandwidth: dict[str, np.ndarray], *,
                   compute_efficiency: float, memory_efficiency: float, kernel_overhead_s: float,
                   flops_scale=1.0, bandwidth_scale=1.0, power_s=0.0,
                   memory_ramp_s=0.0, kv_memory_efficiency=None,
                   busy_efficiency: float | None = None, overlap: float | np.ndarray = 1.0, lean: bool = False,
                   drop_bytes: bool = False, kernel_floor_s: float = 0.0,
                   real_inv_bandwidth: dict[str, np.ndarray] | None = None) -> tuple[Timing, Timing]:
    """Time each operator of ``table``: returns (realistic, ideal) timings.

    ``peak_flops``: per operator, the device's dense peak for its datatype (inf for memory-only rows).
    ``inv_bandwidth``: for 'weight', 'kv' and 'act', the placement-weighted sum over tiers of
    fraction_t / bandwidth_t in s/B (arrays over the configuration shape). ``compute_efficiency`` may be an array
    per row (shape-dependent fractions); ``memory_ramp_s`` is added to the memory time of every kernel that
    moves bytes (a kernel needs bytes in flight to reach its streaming rate; fused rows such as the second half of
    attention share their kernel's ramp); KV-cache bytes are read at their own
    fraction ``kv_memory_efficiency`` (paged attention kernels; default: ``memory_efficiency``). ``power_s``: per
    operator, the
    least time its dynamic energy allows under the power cap (0 where there is no coefficient model).
    ``busy_efficiency``: the large-shape compute fraction, for ``Timing.busy_compute_s``. ``overlap``: the share of
    the shorter of compute and memory hidden under the longer inside a kernel (1: the roofline's max; 0: they add),
    one number or one per row (shape (n_ops, 1, ...)). ``kernel_floor_s``: the least time each kernel of a row
    that does work keeps the device busy (its compute and memory time, combined, is at least kernels x floor).
    The ideal timing uses efficiencies of 1, perfect overlap and no kernel overhead. ``real_inv_bandwidth``: for
    'weight', 'kv' and 'act', the realistic seconds per byte (the placement-weighted sum over tiers, each tier's
    efficiency and ``bandwidth_scale`` already in it): the realistic memory time reads these in place of
    ``inv_bandwidth / bandwidth_scale`` over the two efficiencies (a bound that differs per tier, ``genmodel.engine.
    step``'s stream bound on a device of several tiers); the ideal time still reads ``inv_bandwidth``.

    ``lean``: the caller hands over its ``compute_efficiency`` array and reads of the ideal timing only its times,
    so the compute times may be written into that array and the ideal times and the busy compute time over the
    ideal terms, whose fields are then None (the same numbers in fewer arrays). ``drop_bytes``: the table's byte
    columns are dropped (set to an empty array) once read, for a caller that no longer needs them.
    """
    extra = table.flops.ndim - 1
    peak = np.asarray(peak_flops, dtype=float).reshape(-1, *([1] * extra))
    ideal_c = table.flops / (peak * np.asarray(flops_scale))
    scale = np.asarray(bandwidth_scale)
    unscaled = scale.ndim == 0 and float(scale) == 1.0  # x / 1 is x: skip the division
    kv_rows = _kv_rows(table) if real_inv_bandwidth is None else None
    if kv_rows is not None:  # KV terms on the rows that hold KV bytes only (elsewhere they add 0: the same numbers)
        return _time_operators(table, ideal_c, kv_rows, inv_bandwidth, scale, unscaled, compute_efficiency,
                               memory_efficiency, kernel_overhead_s, power_s, memory_ramp_s, kv_memory_efficiency,
                               busy_efficiency, overlap, lean, drop_bytes, kernel_floor_s)
    table.stack_columns()  # (a lean table read whole: its columns stacked; a stacked table as it is)
    kv_read = table.kv_bytes * inv_bandwidth["kv"]
    # the same sums as written out, accumulated in place in fresh temporaries (``inplace.into``)
    ideal_m = into(np.add, into(np.add, table.weight_bytes * inv_bandwidth["weight"], kv_read),
                    table.act_bytes * inv_bandwidth["act"])
    if not unscaled:
        ideal_m = into(np.divide, ideal_m, scale)
    ideal_c, ideal_m = broadcast_pair(ideal_c, ideal_m)
    does_work = _does_work(table)
    # (the byte columns, read again for the realistic time below where each tier has its own bound)
    byte_columns = None if real_inv_bandwidth is None else (table.weight_bytes, table.kv_bytes, table.act_bytes)
    if drop_bytes:
        _drop_bytes(table)
    kernels = table.kernels.reshape(-1, *([1] * extra))
    overhead = _overhead(does_work, kernels * kernel_overhead_s, ideal_c.shape)
    compute = _compute_s(ideal_c, compute_efficiency, lean)  # a number, or per row (shape-dependent fractions)
    # KV-cache reads stream through the engine's (paged) attention kernel at their own fraction of the bandwidth
    if byte_columns is None:
        kv_m = kv_read if unscaled else kv_read / scale
        kv_eff = memory_efficiency if kv_memory_efficiency is None else kv_memory_efficiency
        memory = into(np.add, into(np.divide, ideal_m - kv_m, memory_efficiency), kv_m / kv_eff)
    else:
        memory = _tier_memory_s(byte_columns, real_inv_bandwidth, ideal_m.shape)
    ramp = kernels * memory_ramp_s
    if fits(memory, shape_of(ramp)):  # + ramp where bytes move; elsewhere + 0, which leaves every value as it is
        _add_where(memory, ramp, ideal_m > 0)
    else:
        memory = memory + np.where(ideal_m > 0, ramp, 0.0)
    floor = _overhead(does_work, kernels * kernel_floor_s, ideal_c.shape) if kernel_floor_s else None
    return _timings(table, ideal_c, ideal_m, compute, memory, overhead, power_s, busy_efficiency, overlap, lean,
                    floor)


def _tier_memory_s(byte_columns: tuple[np.ndarray, np.ndarray, np.ndarray], real_inv_bandwidth: dict[str, np.ndarray],
                   shape: tuple[int, ...]) -> np.ndarray:
    """Realistic memory seconds of every row, a fresh array of ``shape``: weight, KV and activation bytes
    (``byte_columns``) each times its class's realistic seconds per byte (``time_operators``'s
    ``real_inv_bandwidth``)."""
    weight, kv, act = byte_columns
    memory = np.empty(shape)
    np.multiply(weight, real_inv_bandwidth["weight"], out=memory)
    memory += kv * real_inv_bandwidth["kv"]
    memory += act * real_inv_bandwidth["act"]
    return memory


def _timings(table: OperatorTable, ideal_c, ideal_m, compute, memory, overhead, power_s, busy_efficiency,
             overlap, lean: bool = False, floor=None) -> tuple[Timing, Timing]:
    """The realistic and ideal ``Timing`` from the compute, memory and overhead terms (``time_operators``);
    ``lean``: see ``time_operators``; ``floor``: per row, the least busy time of its kernels (None: none)."""
    capped = ndim(power_s) > 0 or power_s != 0  # without a power model the cap term is 0: skip it
    power = np.broadcast_to(np.asarray(power_s, dtype=float), ideal_c.shape) if capped else 0.0
    if lean and fits(ideal_c, ()) and fits(ideal_m, ideal_c.shape):
        return _lean_timings(table, ideal_c, ideal_m, compute, memory, overhead, power, capped, busy_efficiency,
                             overlap, floor)
    busy = None if busy_efficiency is None else ideal_c / busy_efficiency
    longest = _longest(compute, memory, overlap)
    if floor is not None:
        longest = _floored(longest, floor, table.kernels)
    real = Timing(compute, memory, overhead, into(np.add, np.maximum(longest, power) if capped else longest, overhead),
                  table.count, power, busy)
    zero = _zeros(ideal_c.shape)  # the ideal has no overhead (a read-only view, no memory)
    ideal_longest = np.maximum(ideal_c, ideal_m)
    ideal = Timing(ideal_c, ideal_m, zero, np.maximum(ideal_longest, power) if capped else ideal_longest,
                   table.count, power)
    return real, ideal


def _lean_timings(table: OperatorTable, ideal_c, ideal_m, compute, memory, overhead, power, capped: bool,
                  busy_efficiency, overlap, floor=None) -> tuple[Timing, Timing]:
    """``_timings`` with the ideal times written over ``ideal_m`` and the busy compute time over ``ideal_c`` (both
    fresh arrays of the rows' shape): the same numbers; the ideal ``Timing`` has no compute and memory terms."""
    real_longest = _longest(compute, memory, overlap)
    if floor is not None:
        real_longest = _floored(real_longest, floor, table.kernels)
    real_time = into(np.add, np.maximum(real_longest, power) if capped else real_longest, overhead)
    ideal_time = np.maximum(ideal_c, ideal_m, out=ideal_m)
    if capped:
        np.maximum(ideal_time, power, out=ideal_time)
    busy = None if busy_efficiency is None else np.divide(ideal_c, busy_efficiency, out=ideal_c)
    real = Timing(compute, memory, overhead, real_time, table.count, power, busy)
    ideal = Timing(None, None, _zeros(ideal_time.shape), ideal_time, table.count, power)
    return real, ideal


def _floored(longest: np.ndarray, floor: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """``max(longest, floor)`` per row (into ``longest`` where it is a temporary), where a kernel spans several rows (a
    row of no kernels continues the one before it: the values half of fused attention) judged on the kernel's whole
    busy time: its first row is raised only by what the kernel as a whole lacks, ``max(longest_i, floor_i -
    longest_{i+1})``."""
    heads = _kernel_heads(np.ascontiguousarray(kernels, dtype=float).tobytes())
    before = [np.array(longest[h]) for h in heads]  # (copies: the head rows before the whole-table maximum)
    out = into(np.maximum, longest, floor)
    for h, row in zip(heads, before, strict=True):
        out[h] = np.maximum(row, floor[h] - out[h + 1])
    return out


@functools.lru_cache(maxsize=256)
def _kernel_heads(kernels: bytes) -> tuple[int, ...]:
    """Rows that start a kernel continued by the next row (which has no kernel of its own), for a table's kernel
    column given as its float64 bytes."""
    k = np.frombuffer(kernels, dtype=float)
    return tuple(np.flatnonzero((k[:-1] > 0) & (k[1:] == 0)).tolist())


def _longest(compute, memory, overlap):
    """Per row, the compute and memory terms combined with the device's ``overlap`` (``time_operators``): a number,
    or an array per row (shape (n_ops, 1, ...): some rows are streaming kernels where the device's GEMMs are not)."""
    if np.ndim(overlap):
        return np.maximum(compute, memory) + (1.0 - overlap) * np.minimum(compute, memory)
    if overlap == 0.0:  # max + 1 x min is the sum of the two, exactly
        return compute + memory
    longest = np.maximum(compute, memory)
    if overlap != 1.0:  # the part of the shorter term not hidden under the longer one
        longest = longest + (1.0 - overlap) * np.minimum(compute, memory)
    return longest


def _drop_bytes(table: OperatorTable) -> None:
    """Drop the byte columns of a table whose caller no longer reads them (``time_operators``)."""
    table.weight_bytes = table.kv_bytes = table.act_bytes = _EMPTY
    table.byte_rows = None


_EMPTY = np.zeros(0)
_EMPTY.flags.writeable = False


@functools.lru_cache(maxsize=64)
def _zeros(shape: tuple[int, ...]) -> np.ndarray:
    """``np.broadcast_to(0.0, shape)``: a read-only view of one zero, made once per shape."""
    return np.broadcast_to(0.0, shape)


def _kv_rows(table: OperatorTable) -> np.ndarray | None:
    """Indices of the rows whose KV bytes are not known to be 0 (``OperatorTable.kv_rows``), or None to treat every
    row alike (the table does not say, a single configuration, or no row is known to be free of KV bytes)."""
    rows = table.kv_rows
    if rows is None or table.flops.ndim < 2 or len(rows) == len(table.kinds):
        return None
    return np.asarray(rows, dtype=np.intp)


def _time_operators(table: OperatorTable, ideal_c, kv_rows: np.ndarray, inv_bandwidth, scale, unscaled: bool,
                    compute_efficiency, memory_efficiency, kernel_overhead_s, power_s, memory_ramp_s,
                    kv_memory_efficiency, busy_efficiency, overlap, lean=False,
                    drop_bytes=False, kernel_floor_s=0.0) -> tuple[Timing, Timing]:
    """``time_operators`` with the KV-cache terms computed on ``kv_rows`` only: on a row without KV bytes the read
    time is 0, and x + 0, x - 0 and 0 / e leave every value as it is, so each number is the one written out there."""
    extra = table.flops.ndim - 1
    by_row = table.byte_rows is not None  # (a lean table's weight and activation bytes: row values)
    shape = broadcast_shape(table.byte_rows[2] if by_row else table.weight_bytes.shape,
                            shape_of(inv_bandwidth["weight"]), shape_of(inv_bandwidth["act"]),
                            shape_of(inv_bandwidth["kv"]), shape_of(scale))
    kv_read = (table.kv_bytes if table.kv_compact else table.kv_bytes[kv_rows]) * inv_bandwidth["kv"]
    if by_row and ndim(kv_read) == len(shape) and shape_of(kv_read)[0] == len(kv_rows):
        ideal_m = _ideal_memory_by_row(table, kv_rows, kv_read, inv_bandwidth, shape)
    else:
        if by_row:
            table.stack_bytes()
        ideal_m = np.empty(shape)
        np.multiply(table.weight_bytes, inv_bandwidth["weight"], out=ideal_m)
        _add_rows(ideal_m, kv_rows, kv_read)
        ideal_m += table.act_bytes * inv_bandwidth["act"]
    if not unscaled:
        ideal_m /= scale
    ideal_c, ideal_m = broadcast_pair(ideal_c, ideal_m)
    does_work = _does_work(table, kv_rows)
    if drop_bytes:
        _drop_bytes(table)
    kernels = table.kernels.reshape(-1, *([1] * extra))
    overhead = _overhead(does_work, kernels * kernel_overhead_s, ideal_c.shape)
    compute = _compute_s(ideal_c, compute_efficiency, lean)
    kv_m = kv_read if unscaled else kv_read / scale
    kv_eff = memory_efficiency if kv_memory_efficiency is None else kv_memory_efficiency
    memory = ideal_m / memory_efficiency
    _set_kv_rows(memory, kv_rows, ideal_m, kv_m, memory_efficiency, kv_eff)
    _add_where(memory, kernels * memory_ramp_s, ideal_m > 0)
    floor = _overhead(does_work, kernels * kernel_floor_s, ideal_c.shape) if kernel_floor_s else None
    return _timings(table, ideal_c, ideal_m, compute, memory, overhead, power_s, busy_efficiency, overlap, lean,
                    floor)


def _ideal_memory_by_row(table: OperatorTable, kv_rows: np.ndarray, kv_read: np.ndarray, inv_bandwidth,
                         shape: tuple[int, ...]) -> np.ndarray:
    """``weight_bytes x inv_bandwidth["weight"]``, plus ``kv_read`` (one entry per row of ``kv_rows``) on those rows,
    plus ``act_bytes x inv_bandwidth["act"]``, as an array of ``shape`` (``_time_operators``), for a table holding
    its weight and activation bytes as row values (``OperatorTable.byte_rows``): row by row, the same operations on
    every element in the same order, without stacking the two columns."""
    weights, acts, _ = table.byte_rows
    inv_weight, inv_act = inv_bandwidth["weight"], inv_bandwidth["act"]
    kv_of = dict(zip(kv_rows.tolist(), kv_read, strict=True))
    out = np.empty(shape)
    term = np.empty(shape[1:])  # one row's activation term at a time
    for row, (weight, act) in enumerate(zip(weights, acts, strict=True)):
        target = out[row]
        np.multiply(weight, inv_weight, out=target)
        if row in kv_of:
            np.add(target, kv_of[row], out=target)
        np.add(target, np.multiply(act, inv_act, out=term), out=target)
    return out


def _set_kv_rows(memory: np.ndarray, rows: np.ndarray, ideal_m: np.ndarray, kv_m, memory_efficiency,
                 kv_eff) -> None:
    """``memory[rows] = (ideal_m[rows] - kv_m) / memory_efficiency + kv_m / kv_eff`` (``_time_operators``: the KV
    read at its own efficiency), one row at a time into basic-indexed views of ``memory`` where its rows are long
    (``inplace.row_views``) and ``kv_m`` has one entry per row in ``memory``'s configuration shape (else as written):
    the same operations on every element in the same order, without advanced indexing's gather of ``ideal_m``, its
    temporaries and the scatter."""
    if not row_views(memory.shape) or ndim(kv_m) != memory.ndim or shape_of(kv_m)[0] != len(rows) \
            or memory.shape[1:] != shape_of(kv_m)[1:]:
        memory[rows] = (ideal_m[rows] - kv_m) / memory_efficiency + kv_m / kv_eff
        return
    kv_term = kv_m / kv_eff
    for i, row in enumerate(rows.tolist()):
        target = memory[row]
        np.subtract(ideal_m[row], kv_m[i], out=target)
        np.divide(target, memory_efficiency, out=target)
        np.add(target, kv_term[i], out=target)


def _add_rows(out: np.ndarray, rows: np.ndarray, values: np.ndarray) -> None:
    """``out[rows] += values`` for distinct ``rows`` along the first axis, one row at a time where ``values`` has one
    entry per row and as many axes as ``out`` (else as written; it broadcasts ``values`` otherwise): the same sums,
    each row updated as a basic-indexed view, without advanced indexing's gather and scatter (about twice as fast
    on a few rows of large arrays)."""
    if ndim(values) != out.ndim or shape_of(values)[0] != len(rows):
        out[rows] += values
        return
    for i, row in enumerate(rows.tolist()):
        target = out[row]
        np.add(target, values[i], out=target)


def _does_work(table: OperatorTable, kv_rows: np.ndarray | None = None) -> np.ndarray:
    """Per row and configuration: whether the row does any work, FLOPs or bytes (byte counts are >= 0, so "their sum
    > 0" is "one of them > 0"; KV bytes are 0 outside ``kv_rows`` when given). The activation bytes, > 0 on every row
    of a usual step, are looked at first: where they all are, so is the result, and the other columns are not."""
    if table.byte_rows is None:
        work = table.act_bytes > 0
    else:  # (row by row, the columns unstacked: ``OperatorTable.byte_rows``)
        work = np.empty(table.byte_shape(), dtype=bool)
        for row, act in enumerate(table.byte_rows[1]):
            np.greater(act, 0, out=work[row])
    if work.all():
        return work
    table.stack_bytes()
    work = work | (table.flops > 0)
    work |= table.weight_bytes > 0
    if kv_rows is None:
        work |= table.kv_column() > 0
    else:
        work[kv_rows] |= table.kv_of_rows(kv_rows) > 0
    return work


def _overhead(does_work: np.ndarray, per_row, shape: tuple[int, ...]) -> np.ndarray:
    """``np.broadcast_to(np.where(does_work, per_row, 0.0), shape)`` (read-only): where every row does work, a view of
    ``per_row`` itself (the same numbers, no array of the rows' shape)."""
    if does_work.all():
        return broadcast_view(np.asarray(per_row, dtype=float), shape)
    return broadcast_view(np.where(does_work, per_row, 0.0), shape)


def _add_where(out: np.ndarray, values, where: np.ndarray) -> None:
    """``np.add(out, values, out=out, where=where)``; unmasked where ``where`` is all true (the same numbers, a
    fraction of the time of a masked ufunc)."""
    if where.all():
        np.add(out, values, out=out)
    else:
        np.add(out, values, out=out, where=where)


def _compute_s(ideal_c: np.ndarray, compute_efficiency, reuse: bool):
    """``ideal_c / compute_efficiency``, written into ``compute_efficiency`` when ``reuse`` and it is a fresh array of
    the result's shape (``inplace.fits``)."""
    if reuse and fits(compute_efficiency, shape_of(ideal_c)):
        return np.divide(ideal_c, compute_efficiency, out=compute_efficiency)
    return ideal_c / compute_efficiency
