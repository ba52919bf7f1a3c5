"""Energy of each operator, pipeline slot and request (docs/energy_tco.md section 1).

Contract
--------
Every operator's energy on one device is static power x its time plus dynamic energy, split into compute,
memory and static parts (communication is accounted per slot):

* **Coefficient model** (the hardware entry has an ``energy`` block: SCD, FPGAs): dynamic energy =
  FLOPs x J/FLOP of its datatype + bits moved per memory tier x J/bit of that tier, times (1 + cooling W per
  W) for devices that need their own cooling (cryogenic: ``cooling_w_per_w``, documented range in
  docs/energy_tco.md, overridable per call). Power may not exceed the TDP: an operator whose dynamic energy would
  need more takes longer (``min_time_s``, used by the roofline as the power bound), so energy per FLOP always
  equals the stated coefficient.
* **Envelope model** (all others): P = P_idle + (TDP - P_idle) x activity, with
  activity = min(1, busy_compute + w_mem x busy_memory), busy_x = the share of the operator's time its
  compute (memory) term needs at the achievable rate; for compute that is the FLOPs at the large-shape fraction
  (tile padding and idle waves stretch the time, not the power). ``w_mem`` = 0.66 is fitted to one published point
  (ML.ENERGY: Llama-3.1-8B decode at batch 8 on H100 averaged 486 W: (486 - 70) / (700 - 70) = 0.66 at a
  fully memory-bound step); a compute-saturated operator draws TDP (ML.ENERGY: batch 256, 691 W of 700).
  Kernel-launch overhead time draws idle power.
* Communication exposed on the critical path draws P_idle + (TDP - P_idle) x 0.3 (NCCL kernels keep part of
  the chip busy) or, with coefficients, P_idle plus link J/bit x the bits the link can carry in that time.
* Idle power: the entry's ``power.idle_w``, else ``IDLE_FRACTION[kind]`` x TDP (documented defaults).

It leaves out host CPUs, NICs, switches and fans (MLPerf-style wall power is higher than device power); the
facility overhead (PUE) is applied by ``genmodel.economics.tco``. A device with no TDP gets NaN energy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genmodel.engine.inplace import owned
from genmodel.engine.operators import OperatorTable, broadcast_shape
from genmodel.engine.roofline import Timing
from genmodel.engine.scalars import shape_of
from genmodel.specs.dtypes import DTYPES
from genmodel.specs.hardware import HardwareSpec

MEMORY_ACTIVITY_WEIGHT = 0.66
COMM_ACTIVITY = 0.3
# idle power as a share of TDP when the entry gives none: H100 SXM idles near 70 W of 700 W (nvidia-smi),
# TPUs/NPUs and FPGAs keep more of their fabric powered; CPUs idle at about a third of TDP (SPECpower)
IDLE_FRACTION = {"gpu": 0.10, "tpu": 0.15, "npu": 0.15, "fpga": 0.15, "cpu": 0.30, "soc": 0.05,
                 "wafer_scale": 0.30, "dataflow": 0.20, "lpu": 0.30, "scd": 0.50}


@dataclass(frozen=True)
class PowerModel:
    """Power figures of one device (watts) and, optionally, its energy coefficients."""

    idle_w: float
    tdp_w: float
    hw: HardwareSpec
    cooling_w_per_w: float = 0.0

    @classmethod
    def of(cls, hw: HardwareSpec, cooling_w_per_w: float | None = None) -> PowerModel | None:
        """The device's power model, or None when its entry has no TDP. ``cooling_w_per_w`` replaces the
        entry's cooling overhead (coefficient model only)."""
        if hw.power is None or not hw.power.tdp_w:
            return None
        idle = hw.power.idle_w if hw.power.idle_w is not None else IDLE_FRACTION[hw.kind] * hw.power.tdp_w
        cooling = 0.0
        if hw.energy is not None:
            cooling = hw.energy.cooling_w_per_w if cooling_w_per_w is None else float(cooling_w_per_w)
        return cls(float(idle), float(hw.power.tdp_w), hw, cooling)

    @property
    def has_coefficients(self) -> bool:
        return self.hw.energy is not None

    @property
    def dynamic_w(self) -> float:
        return self.tdp_w - self.idle_w

    def _j_per_flop(self, dtype: str | None) -> float:
        table = self.hw.energy.compute_j_per_flop
        if dtype is None:
            return 0.0
        if dtype in table:
            return table[dtype]
        # nearest wider datatype listed (a narrower format costs at most as much per operation)
        for candidate in reversed(DTYPES[: DTYPES.index(dtype)]):
            if candidate in table:
                return table[candidate]
        return max(table.values())

    def dynamic_energy(self, table: OperatorTable, placement: dict[str, list[np.ndarray]]):
        """Coefficient model: per operator instance (compute J, memory J) at the wall, cooling included."""
        e = self.hw.energy
        table.stack_columns()  # (a lean table: its columns stacked; a stacked table as it is)
        extra = table.flops.ndim - 1
        j_flop = np.array([self._j_per_flop(d) for d in table.dtypes]).reshape(-1, *([1] * extra))
        compute = table.flops * j_flop
        memory = 0.0
        for k, tier in enumerate(self.hw.memory):
            bits = 8 * (table.weight_bytes * placement["weight"][k] + table.kv_bytes * placement["kv"][k]
                        + table.act_bytes * placement["act"][k])
            memory = memory + bits * e.memory_j_per_bit[tier.name]
        scale = 1.0 + self.cooling_w_per_w
        return np.broadcast_arrays(compute * scale, memory * scale)

    def min_time_s(self, table: OperatorTable, placement: dict[str, list[np.ndarray]]):
        """Coefficient model: per operator instance, the least time its dynamic energy allows under the TDP
        (0 for the envelope model, whose power follows the time instead)."""
        if not self.has_coefficients:
            return 0.0
        compute, memory = self.dynamic_energy(table, placement)
        return (compute + memory) / self.dynamic_w

    def operator_energy(self, table: OperatorTable, timing: Timing, placement: dict[str, list[np.ndarray]]):
        """Per operator instance: (static J, compute J, memory J), arrays shaped like ``timing.time_s``."""
        t = timing.time_s
        static = self.idle_w * t
        if not self.has_coefficients:
            # activity x t = min(t, t_c + w_mem t_m): busy_x = t_x / t multiplied out
            # compute activity counts the arithmetic at the large-shape rate: rows padded to a tile and idle waves
            # stretch the compute time without drawing tensor-core power
            busy = timing.compute_s if timing.busy_compute_s is None else np.minimum(timing.busy_compute_s,
                                                                                        timing.compute_s)
            weighted = busy + MEMORY_ACTIVITY_WEIGHT * timing.memory_s
            dynamic = self.dynamic_w * np.minimum(t, weighted)
            if timing.busy_compute_s is not None and _shaped(busy, weighted.shape) and _shaped(dynamic, weighted.shape):
                # the same numbers with fewer temporaries: busy / weighted where weighted > 0 (busy / 1 elsewhere),
                # times dynamic, into busy; dynamic - compute into dynamic
                np.divide(busy, weighted, out=busy, where=weighted > 0)
                compute = np.multiply(dynamic, busy, out=busy)
                return static, compute, np.subtract(dynamic, compute, out=dynamic)
            compute = dynamic * (busy / np.where(weighted > 0, weighted, 1.0))
            return static, compute, dynamic - compute
        compute, memory = self.dynamic_energy(table, placement)  # the roofline's power bound keeps P <= TDP
        return static, *np.broadcast_arrays(compute, memory, t)[:2]

    def operator_energy_sums(self, table: OperatorTable, timing: Timing, placement: dict[str, list[np.ndarray]],
                             weights: np.ndarray, consume: bool = False):
        """(static J, compute J, memory J) of one slot: each part of ``operator_energy`` times ``weights`` (instances
        per slot), summed over the rows: the same numbers. ``consume``: the caller no longer reads ``timing``'s
        time, compute, memory and busy compute arrays, so the envelope model computes the parts over them in place,
        one part's rows at a time (where they are distinct fresh arrays of the rows' shape)."""
        if consume and not self.has_coefficients and _consumable(timing):
            return self._envelope_sums(timing, weights)
        static, compute, memory = self.operator_energy(table, timing, placement)
        return (weights * static).sum(axis=0), (weights * compute).sum(axis=0), (weights * memory).sum(axis=0)

    def _envelope_sums(self, timing: Timing, weights: np.ndarray):
        """``operator_energy_sums`` of the envelope model, over ``timing``'s arrays (``_consumable``): the same
        operations as ``operator_energy``'s, written into those arrays."""
        t = timing.time_s
        static_j = _weighted_sum(weights, self.idle_w * t)
        busy = np.minimum(timing.busy_compute_s, timing.compute_s, out=timing.busy_compute_s)
        weighted = np.multiply(MEMORY_ACTIVITY_WEIGHT, timing.memory_s, out=timing.memory_s)
        np.add(busy, weighted, out=weighted)
        dynamic = np.minimum(t, weighted, out=t)
        np.multiply(self.dynamic_w, dynamic, out=dynamic)
        positive = weighted > 0
        if positive.all():  # the same numbers as the masked division, a fraction of its time
            np.divide(busy, weighted, out=busy)
        else:
            np.divide(busy, weighted, out=busy, where=positive)
        compute = np.multiply(dynamic, busy, out=busy)
        memory = np.subtract(dynamic, compute, out=dynamic)
        return static_j, _weighted_sum(weights, compute), _weighted_sum(weights, memory)

    def comm_energy(self, seconds, link_bytes_per_s: float):
        """(static J, dynamic J) of ``seconds`` of exposed communication."""
        static = self.idle_w * seconds
        if self.hw.energy is not None and self.hw.energy.link_j_per_bit is not None:
            wall = self.hw.energy.link_j_per_bit * (1 + self.cooling_w_per_w)
            dynamic = np.minimum(wall * 8 * link_bytes_per_s * seconds, self.dynamic_w * seconds)
        else:
            dynamic = self.dynamic_w * COMM_ACTIVITY * seconds
        return static, dynamic


def _consumable(timing: Timing) -> bool:
    """Whether ``timing``'s time, compute, memory and busy compute terms are distinct fresh arrays of one shape."""
    arrays = (timing.time_s, timing.compute_s, timing.memory_s, timing.busy_compute_s)
    shape = shape_of(timing.time_s)
    return all(_shaped(a, shape) for a in arrays) and len({id(a) for a in arrays}) == len(arrays)


def _weighted_sum(weights: np.ndarray, part: np.ndarray) -> np.ndarray:
    """``(weights * part).sum(axis=0)``, the product written over ``part`` (a fresh array the caller no longer reads)
    where it has the product's shape."""
    if broadcast_shape(shape_of(weights), part.shape) != part.shape:
        return (weights * part).sum(axis=0)
    return np.multiply(weights, part, out=part).sum(axis=0)


def _shaped(a, shape: tuple[int, ...]) -> bool:
    """``a`` is a temporary safe to overwrite (``inplace.owned``) of exactly ``shape``."""
    return owned(a) and a.shape == shape
