"""Roofline timing of an ``OperatorTable`` on one device (docs/formulas.md section 5).

Contract
--------
For every operator row and configuration::

    t_compute = FLOPs / (peak[dtype] x compute_efficiency x flops_scale)
    t_memory  = sum over tiers t of bytes_t / (bandwidth_t x memory_efficiency x bandwidth_scale) + ramp
    t_power   = dynamic energy / (TDP - idle power)     (devices with per-operation energy coefficients only)
    t         = max(t_compute, t_memory, t_power) + kernels x kernel_overhead_s        (0 if the row does no work)
    step time = sum over rows of count x t

bytes_t splits each row's weight, KV and activation bytes over the memory tiers by the placement
fractions of ``genmodel.engine.memory.place``; transfers from different tiers are assumed not to overlap (a
conservative sum). ``t_power`` is the power cap: a device whose work would draw more than its TDP runs slower
(it throttles) rather than spending less energy per operation. The *ideal* roofline is the same with both
efficiencies 1 and no overhead (the power cap is physics and stays). Each row is labelled by what dominates its
time: 'compute', 'memory', 'power' or 'overhead'. Compute and memory overlap perfectly inside an operator and
not at all between operators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genmodel.engine.operators import OperatorTable

BOUNDS = np.array(["compute", "memory", "power", "overhead"])


@dataclass
class Timing:
    """Per-operator times (shape (n_ops, *config)) for one layer instance, and their step total."""

    compute_s: np.ndarray
    memory_s: np.ndarray
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
        """Index into BOUNDS of the largest term; ties go to the first (compute, memory, power, overhead)."""
        c, m, p, o = self.compute_s, self.memory_s, self.power_s, self.overhead_s
        if np.ndim(p) == 0 and p == 0:  # no power bound on this device
            return np.where((c >= m) & (c >= o), 0, np.where(m >= o, 1, 3))
        return np.where((c >= m) & (c >= p) & (c >= o), 0,
                        np.where((m >= p) & (m >= o), 1, np.where(p >= o, 2, 3)))

    def phase_bound(self) -> np.ndarray:
        """Per configuration: the label whose operators take the largest share of the step time."""
        index = self._bound_index()
        no_power = np.ndim(self.power_s) == 0 and self.power_s == 0  # then no operator is power-bound
        zero = np.zeros(self.time_s.shape[1:])
        shares = np.stack([zero if (k == 2 and no_power) else
                           np.tensordot(self.count, np.where(index == k, self.time_s, 0.0), axes=(0, 0))
                           for k in range(len(BOUNDS))])
        return BOUNDS[np.argmax(shares, axis=0)]


def time_operators(table: OperatorTable, peak_flops: list[float], inv_bandwidth: dict[str, np.ndarray], *,
                   compute_efficiency: float, memory_efficiency: float, kernel_overhead_s: float,
                   flops_scale=1.0, bandwidth_scale=1.0, power_s=0.0,
                   memory_ramp_s=0.0, kv_memory_efficiency=None,
                   busy_efficiency: float | None = None) -> tuple[Timing, Timing]:
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
    ``busy_efficiency``: the large-shape compute fraction, for ``Timing.busy_compute_s``. The ideal timing uses
    efficiencies of 1 and no kernel overhead.
    """
    extra = table.flops.ndim - 1
    peak = np.asarray(peak_flops, dtype=float).reshape(-1, *([1] * extra))
    ideal_c = table.flops / (peak * np.asarray(flops_scale))
    kv_read = table.kv_bytes * inv_bandwidth["kv"]
    ideal_m = (table.weight_bytes * inv_bandwidth["weight"] + kv_read
               + table.act_bytes * inv_bandwidth["act"]) / np.asarray(bandwidth_scale)
    ideal_c, ideal_m = np.broadcast_arrays(ideal_c, ideal_m)
    does_work = (table.flops > 0) | (table.weight_bytes + table.kv_bytes + table.act_bytes > 0)
    kernels = table.kernels.reshape(-1, *([1] * extra))
    overhead = np.broadcast_to(np.where(does_work, kernels * kernel_overhead_s, 0.0), ideal_c.shape)
    compute = ideal_c / compute_efficiency  # a number, or per row (shape-dependent fractions)
    # KV-cache reads stream through the engine's (paged) attention kernel at their own fraction of the bandwidth
    kv_m = kv_read / np.asarray(bandwidth_scale)
    kv_eff = memory_efficiency if kv_memory_efficiency is None else kv_memory_efficiency
    memory = (ideal_m - kv_m) / memory_efficiency + kv_m / kv_eff + np.where(ideal_m > 0, kernels * memory_ramp_s, 0.0)
    capped = np.ndim(power_s) > 0 or power_s != 0  # without a power model the cap term is 0: skip it
    power = np.broadcast_to(np.asarray(power_s, dtype=float), ideal_c.shape) if capped else 0.0
    busy = None if busy_efficiency is None else ideal_c / busy_efficiency
    longest = np.maximum(compute, memory)
    real = Timing(compute, memory, overhead, (np.maximum(longest, power) if capped else longest) + overhead,
                  table.count, power, busy)
    zero = np.zeros_like(ideal_c)
    ideal_longest = np.maximum(ideal_c, ideal_m)
    ideal = Timing(ideal_c, ideal_m, zero, np.maximum(ideal_longest, power) if capped else ideal_longest,
                   table.count, power)
    return real, ideal
