"""``Estimate``: what ``estimate()`` returns: inputs, metrics, the steps behind them, and how to read them.

Contract
--------
Metrics are NumPy arrays in SI units (0-d for a single configuration; ``result.tpot_s`` gives a float then).
``to_dict()`` is JSON-ready and carries the realism in force, the cost assumptions and the provenance
(schema version, genmodel version, database hash). ``breakdown()`` (single configuration) is a ``Table`` with one
row per operator, collective and overhead of each phase, whose ``time_s`` column sums exactly to TTFT (prefill
rows) and to the mean TPOT (decode rows): operator rows count every instance on the critical path (the
heaviest pipeline stage's layers, times the pipeline slots, times the micro-batches of two-batch overlap).
``prefill`` and ``decode`` hold the steps behind the figures (the decode step of many configurations at the mean
context only, with a leading axis of length 1); a call evaluated in blocks (genmodel.engine.estimate) keeps none
(``None``), and its per-configuration attributes come in the configuration shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from genmodel.economics.tco import CostAssumptions
from genmodel.engine.operators import DTypes
from genmodel.engine.parallel import Parallelism
from genmodel.engine.realism import Realism
from genmodel.engine.step import StepResult
from genmodel.engine.uncertainty import Band
from genmodel.errors import ConfigurationError
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.specs.platform import PlatformSpec
from genmodel.table import Table, plain


class MetricAttributes:
    """``result.name`` reads ``result.metrics[name]`` (a float for a single configuration)."""

    def __getattr__(self, name: str) -> Any:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            value = metrics[name]
            return value.item() if np.ndim(value) == 0 else value
        raise AttributeError(name)


@dataclass
class Estimate(MetricAttributes):
    """Result of ``estimate()``: arrays (0-d for a single configuration) in SI units."""

    model: ModelSpec
    hardware: HardwareSpec
    dtypes: DTypes
    realism: Realism
    inputs: dict[str, Any]
    metrics: dict[str, np.ndarray]
    prefill: StepResult | None = field(repr=False)  # None for a call evaluated in blocks
    decode: StepResult | None = field(repr=False)
    placement: dict[str, list[np.ndarray]] = field(repr=False, default_factory=dict)
    platform: PlatformSpec | None = None
    parallel: Parallelism | None = None
    costs: CostAssumptions | None = None
    prefill_slots: np.ndarray | float = 1.0  # pipeline slots in TTFT
    decode_slots: np.ndarray | float = 1.0  # pipeline slots per generated token
    prefill_step_sequences: np.ndarray | float = 1.0  # a replica's sequences in one prefill step (host work b x n)
    decode_step_sequences: np.ndarray | float = 1.0  # ... in one decode step
    bands: dict[str, Band] = field(default_factory=dict)  # the 80% band of each phase and its basis

    @property
    def efficiency(self) -> Realism:
        """The realism in force (older name)."""
        return self.realism

    @property
    def is_scalar(self) -> bool:
        return all(np.ndim(v) == 0 for v in self.metrics.values())

    def __repr__(self) -> str:
        where = self.platform.name if self.platform is not None else self.hardware.name
        if not self.is_scalar:
            n = int(np.prod(np.shape(self.metrics["tpot_s"])))
            return f"Estimate({self.model.name} on {where}: {n:,} configurations)"
        i = {k: plain(v) for k, v in self.inputs.items()}
        return (f"Estimate({self.model.name} on {where}, batch {i['batch']}, {i['input_tokens']} + "
                f"{i['output_tokens']} tokens: TTFT {self.ttft_s * 1e3:.4g} ms, TPOT {self.tpot_s * 1e3:.4g} ms, "
                f"{'fits' if self.fits else 'does not fit'})")

    def summary(self) -> str:
        """A few lines for people: the configuration, the key times, memory and where the realism comes from."""
        if not self.is_scalar:
            return repr(self)
        d = self.to_dict()
        return "\n".join([
            repr(self),
            f"  weights {d['weight_dtype']}, activations {d['activation_dtype']}, KV {d['kv_dtype']}; "
            f"{d['devices']} device(s), tp {d['tp']}, pp {d['pp']}, ep {d['ep']}, dp {d['dp']}",
            f"  end-to-end {d['e2e_latency_s']:.4g} s, {d['output_tokens_per_s']:,.1f} output tok/s; decode is "
            f"{d['bound']}-bound",
            f"  memory {d['total_memory_bytes'] / 1e9:.4g} GB of {d['memory_capacity_bytes'] / 1e9:.4g} GB usable; "
            f"largest batch {d['max_batch']:,}",
            f"  realism: {self.realism.describe()}",
        ])

    def to_dict(self) -> dict[str, Any]:
        """Inputs, metrics, realism, cost assumptions and provenance as plain Python values: JSON-ready."""
        from genmodel.data.registry import provenance

        out: dict[str, Any] = {**provenance(),
                               "model": self.model.name, "hardware": self.hardware.name,
                               "platform": self.platform.name if self.platform is not None else None,
                               "weight_dtype": self.dtypes.weight, "activation_dtype": self.dtypes.activation,
                               "kv_dtype": self.dtypes.kv, "embedding_dtype": self.dtypes.embedding}
        for key, value in {**self.inputs, **self.metrics}.items():
            arr = np.asarray(value)
            if arr.dtype.kind == "f" and np.isnan(arr).any():  # unknown (no TDP, no price): JSON null
                arr = np.where(np.isnan(arr), None, arr)
            out[key] = arr.item() if arr.ndim == 0 else arr.tolist()
        out["realism"] = self.realism.to_dict()
        out["bands"] = {phase: {"log_error_low": _finite(b.low), "log_error_high": _finite(b.high), "rows": b.n,
                                "basis": b.basis, "coverage": 0.8} for phase, b in self.bands.items()}
        out["costs"] = asdict(self.costs) if self.costs is not None else None
        return out

    def breakdown(self, phase: str | None = None) -> Table:
        """One row per operator, collective and overhead of each phase; ``time_s`` sums to TTFT (prefill) and
        to the mean TPOT (decode). Values cover every instance on the critical path; bytes are split by class
        and by memory tier (``bytes_<tier>``). Single configuration only."""
        if not self.is_scalar:
            raise ConfigurationError("breakdown() needs a single configuration; index the inputs first")
        parts = []
        for name, res, reps in (("prefill", self.prefill, self.prefill_slots),
                                ("decode", self.decode, self.decode_slots)):
            if phase in (None, name):
                parts.append(self._phase_rows(name, res, float(np.asarray(reps).reshape(-1)[0])))
        return Table.concat(parts)

    def _phase_rows(self, name: str, res: StepResult, reps: float) -> Table:
        t, r, i = res.table, res.real, res.ideal
        pick = _mean_step if name == "decode" else _single
        n = pick(np.broadcast_to(res.weights, r.time_s.shape)) * reps  # instances on the critical path
        total = float(pick(res.slot_s[None])[0]) * reps
        rows: dict[str, Any] = {
            "phase": name, "group": t.groups, "operator": t.names, "kind": t.kinds,
            "dtype": [d or "-" for d in t.dtypes], "instances": n,
            "flops": n * pick(t.flops), "weight_bytes": n * pick(t.weight_bytes), "kv_bytes": n * pick(t.kv_bytes),
            "activation_bytes": n * pick(t.act_bytes)}
        for k, tier in enumerate(self.hardware.memory):
            share = {cls: float(np.asarray(fr[k]).reshape(-1)[0]) for cls, fr in self.placement.items()}
            rows[f"bytes_{tier.name}"] = n * (pick(t.weight_bytes) * share["weight"] + pick(t.kv_bytes) * share["kv"]
                                              + pick(t.act_bytes) * share["act"])
        power = np.broadcast_to(np.asarray(r.power_s, dtype=float), r.time_s.shape)
        rows.update({"compute_s": n * pick(r.compute_s), "memory_s": n * pick(r.memory_s),
                     "power_s": n * pick(power), "overhead_s": n * pick(r.overhead_s), "time_s": n * pick(r.time_s),
                     "ideal_time_s": n * pick(i.time_s), "bound": pick(r.bound)})
        ops = Table(rows)
        extra = [{"phase": name, "group": "collectives", "operator": k, "kind": "communication",
                  "time_s": float(pick(np.asarray(v)[None])[0]) * reps,
                  "ideal_time_s": float(pick(np.asarray(res.ideal_comm[k])[None])[0]) * reps, "bound": "network"}
                 for k, v in res.comm.items() if float(np.max(v)) > 0]
        def one(x) -> float:
            return float(pick(np.broadcast_to(np.asarray(x, dtype=float), res.slot_s.shape)[None])[0])

        wait = one(res.eager_wait_s)
        step = one(res.step_overhead_s) - wait
        if step > 0:
            extra.append({"phase": name, "group": "engine", "operator": "step overhead", "kind": "overhead",
                          "time_s": step * reps, "ideal_time_s": 0.0, "bound": "overhead"})
        if wait > 0:  # the device waiting for the host to issue an eager step's kernels (EngineSpec.eager_launch_s)
            extra.append({"phase": name, "group": "engine", "operator": "eager launches", "kind": "overhead",
                          "time_s": wait * reps, "ideal_time_s": 0.0, "bound": "overhead"})
        if extra:
            blank = {c: ("-" if ops[c].dtype.kind in "OUS" else 0.0) for c in ops.columns}
            rows_ = [{**blank, **e} for e in extra]
            ops = Table.concat([ops, Table({c: [row[c] for row in rows_] for c in ops.columns})])
        table = ops
        share = table["time_s"] / total if total > 0 else np.zeros(len(table))
        return table.assign(share=share)


def _finite(value):
    """A band edge as JSON: None where infinite; a list where the edges differ per configuration (their replicas'
    device-count classes, ``genmodel.engine.uncertainty.per_configuration``)."""
    if np.ndim(value):
        return [_finite(float(v)) for v in np.asarray(value).ravel()]
    return value if np.isfinite(value) else None


def _mean_step(values: np.ndarray) -> np.ndarray:
    """Decode arrays carry a leading [mean step, final step] axis after the operator axis: the mean step."""
    return np.asarray(values)[:, 0].reshape(len(values))


def _single(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).reshape(len(values))
