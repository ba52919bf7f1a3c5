"""``estimate()``: latency, throughput and memory of one model on one device, for one or many configurations.

Contract
--------
Inputs may be scalars or NumPy arrays (batch, input_tokens, output_tokens, flops_scale, bandwidth_scale,
capacity_scale); they broadcast together and every output has the broadcast shape. No Python loop runs
over configurations: the operators of a step are built once as arrays and timed by ``genmodel.roofline``.

Serving model (docs/metrics.md has the exact definitions):
  * A static batch: all ``batch`` prompts are prefilled in one step; TTFT is that step's time (it emits
    the first output token of every sequence).
  * Then ``output_tokens - 1`` decode steps, step j attending I + j tokens. ``tpot_s`` is the mean decode
    step time over those steps, computed as the step at the mean attended-key count of each layer group
    (exact, since only attention depends on context and it does so linearly in the keys attended);
    ``tpot_final_s`` is the last step's time. With one output token there is no decode step; both are
    then the time a next step (context I + 1) would take.
  * e2e latency = TTFT + (output_tokens - 1) x tpot_s; output tokens/s = batch x output / e2e.

Every time has an ``ideal_`` twin: the pure roofline (100% of peak compute and bandwidth, no overhead).
Not modeled here: multiple devices (next issue), scheduling/queueing, speculative decoding, CPU overhead
outside kernels, thermal throttling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genmodel.database import get_hardware, get_model
from genmodel.dtypes import DTYPES, bytes_per_element, normalize_dtype
from genmodel.efficiency import ResolvedEfficiency, resolve_efficiency
from genmodel.errors import ConfigurationError, DoesNotFitError
from genmodel.hardware_spec import HardwareSpec
from genmodel.memory import activation_bytes_per_token, footprint, max_batch, max_context, place
from genmodel.model_spec import ModelSpec
from genmodel.operators import DTypes, OperatorTable, build_operators
from genmodel.roofline import Timing, time_operators
from genmodel.units import format_quantity
from genmodel.workload import DEFAULT_PREFILL_CHUNK_TOKENS, Workload, check_lengths


def default_activation_dtype(hw: HardwareSpec) -> str:
    """bf16 if the device has it, else fp16, else the widest datatype it lists."""
    for candidate in ("bf16", "fp16"):
        if hw.supports(candidate):
            return candidate
    return next(d for d in DTYPES if d in hw.peak_flops_per_s)


def resolve_dtypes(hw: HardwareSpec, weight_dtype: str | None, activation_dtype: str | None,
                   kv_dtype: str | None) -> DTypes:
    """Fill in defaults and check that the device can run the resulting matrix datatypes."""
    act = normalize_dtype(activation_dtype) if activation_dtype else default_activation_dtype(hw)
    dtypes = DTypes(weight=normalize_dtype(weight_dtype) if weight_dtype else act, activation=act,
                    kv=normalize_dtype(kv_dtype) if kv_dtype else act)
    for role, needed in (("matrix multiplies", dtypes.gemm), ("attention", dtypes.attention)):
        if not hw.supports(needed):
            have = ", ".join(hw.peak_flops_per_s)
            raise ConfigurationError(
                f"{hw.name} has no {needed} throughput for {role} (it lists: {have}). Weights, activations and "
                f"KV are {dtypes.weight}/{dtypes.activation}/{dtypes.kv}; math runs at the wider of weight and "
                f"activation datatypes. Use --activation-dtype with one of: {have} (a narrower --weight-dtype "
                f"then runs as weight-only quantization), or choose hardware with {needed}.")
    return dtypes


def _decode_contexts(input_tokens, output_tokens, shape: tuple[int, ...]):
    """(first, last) attended lengths, shape (2, *shape): [all decode steps, the final step only]."""
    i = np.asarray(input_tokens, dtype=float)
    final = np.broadcast_to(i + np.maximum(np.asarray(output_tokens, dtype=float) - 1, 1), shape)
    # steps attend I+1 .. I+O-1; with O = 1, the would-be step at I+1
    first = np.stack([np.broadcast_to(i + 1, shape), final])
    last = np.stack([final, final])
    return first, last


@dataclass
class PhaseResult:
    """Operators and their timings for one phase (realistic and ideal)."""

    table: OperatorTable
    real: Timing
    ideal: Timing


@dataclass
class Estimate:
    """Result of ``estimate()``: arrays (0-d for a single configuration) in SI units."""

    model: ModelSpec
    hardware: HardwareSpec
    dtypes: DTypes
    efficiency: ResolvedEfficiency
    inputs: dict[str, Any]
    metrics: dict[str, np.ndarray]
    prefill: PhaseResult = field(repr=False)
    decode: PhaseResult = field(repr=False)
    placement: dict[str, list[np.ndarray]] = field(repr=False, default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            value = metrics[name]
            return value.item() if np.ndim(value) == 0 else value
        raise AttributeError(name)

    @property
    def is_scalar(self) -> bool:
        return all(np.ndim(v) == 0 for v in self.metrics.values())

    def to_dict(self) -> dict[str, Any]:
        """Inputs and metrics as plain Python values (floats, ints, bools, strings or lists): JSON-ready."""
        out: dict[str, Any] = {
            "model": self.model.name, "hardware": self.hardware.name,
            "weight_dtype": self.dtypes.weight, "activation_dtype": self.dtypes.activation,
            "kv_dtype": self.dtypes.kv,
        }
        for key, value in {**self.inputs, **self.metrics}.items():
            arr = np.asarray(value)
            out[key] = arr.item() if arr.ndim == 0 else arr.tolist()
        out["efficiency"] = {"compute_efficiency": self.efficiency.compute_efficiency,
                             "memory_efficiency": self.efficiency.memory_efficiency,
                             "kernel_overhead_s": self.efficiency.kernel_overhead_s,
                             "usable_memory_fraction": self.efficiency.usable_memory_fraction}
        return out

    def breakdown(self, phase: str | None = None):
        """pandas DataFrame, one row per operator and phase: FLOPs, bytes, times (s), bound, time share.

        Values are summed over the layers a row stands for; decode rows are the mean decode step. Bytes
        are split by class (weights, KV, activations) and by memory tier (``bytes_<tier name>``). Only for
        a single configuration.
        """
        import pandas as pd

        if not self.is_scalar:
            raise ConfigurationError("breakdown() needs a single configuration; index the inputs first")
        frames = []
        for name, result in (("prefill", self.prefill), ("decode", self.decode)):
            if phase not in (None, name):
                continue
            t, r, i = result.table, result.real, result.ideal
            # decode arrays carry a leading [mean step, final step] axis: the breakdown shows the mean step
            avg = _mean_step if name == "decode" else _single_step
            count = t.count
            step = float(np.dot(count, avg(r.time_s)))
            bound = avg(r.bound)
            tiers = {}
            for k, tier in enumerate(self.hardware.memory):
                share = {cls: float(np.asarray(fr[k])) for cls, fr in self.placement.items()}
                tiers[f"bytes_{tier.name}"] = count * (avg(t.weight_bytes) * share["weight"]
                                                       + avg(t.kv_bytes) * share["kv"]
                                                       + avg(t.act_bytes) * share["act"])
            frames.append(pd.DataFrame({
                "phase": name, "group": t.groups, "operator": t.names, "kind": t.kinds,
                "dtype": [d or "-" for d in t.dtypes], "layers": count.astype(int),
                "flops": count * avg(t.flops), "weight_bytes": count * avg(t.weight_bytes),
                "kv_bytes": count * avg(t.kv_bytes), "activation_bytes": count * avg(t.act_bytes), **tiers,
                "compute_s": count * avg(r.compute_s), "memory_s": count * avg(r.memory_s),
                "overhead_s": count * avg(r.overhead_s), "time_s": count * avg(r.time_s),
                "ideal_time_s": count * avg(i.time_s), "bound": bound,
                "share": count * avg(r.time_s) / step if step > 0 else 0.0,
            }))
        return pd.concat(frames, ignore_index=True)


def _mean_step(values: np.ndarray) -> np.ndarray:
    return values[:, 0].reshape(len(values))


def _single_step(values: np.ndarray) -> np.ndarray:
    return values.reshape(len(values))


def estimate(model: str | ModelSpec = "llama-3.1-8b", hardware: str | HardwareSpec = "h100-sxm", batch=1,
             input_tokens=1024, output_tokens=256, weight_dtype: str | None = None, kv_dtype: str | None = None,
             activation_dtype: str | None = None, *, prefill_chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS,
             flops_scale=1.0, bandwidth_scale=1.0, capacity_scale=1.0, check_fit: bool = True,
             workload: Workload | None = None) -> Estimate:
    """Estimate latency, throughput and memory of ``model`` serving a static batch on one ``hardware`` device.

    Names are looked up in the built-in databases (specs pass through). Array inputs broadcast. A
    ``Workload`` may be given instead of batch, lengths, datatypes and prefill chunk (it then wins). With a
    single configuration and ``check_fit``, a configuration that does not fit raises ``DoesNotFitError``
    saying what to change; with arrays, ``fits`` tells per configuration.
    """
    if workload is not None:
        batch, input_tokens, output_tokens = workload.batch, workload.input_tokens, workload.output_tokens
        weight_dtype, kv_dtype = workload.weight_dtype, workload.kv_dtype
        activation_dtype, prefill_chunk_tokens = workload.activation_dtype, workload.prefill_chunk_tokens
    model, hw = get_model(model), get_hardware(hardware)
    for label, value in (("batch", batch), ("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        check_lengths(label, value)
    for label, value in (("flops_scale", flops_scale), ("bandwidth_scale", bandwidth_scale),
                         ("capacity_scale", capacity_scale)):
        if np.any(np.asarray(value, dtype=float) <= 0):
            raise ConfigurationError(f"{label} must be positive, got {value}")
    if prefill_chunk_tokens < 1:
        raise ConfigurationError(f"prefill_chunk_tokens must be at least 1, got {prefill_chunk_tokens}")
    dtypes = resolve_dtypes(hw, weight_dtype, activation_dtype, kv_dtype)
    eff = resolve_efficiency(hw)
    B, I, O = (np.asarray(x, dtype=float) for x in (batch, input_tokens, output_tokens))
    fs, bs, cs = (np.asarray(x, dtype=float) for x in (flops_scale, bandwidth_scale, capacity_scale))
    shape = np.broadcast_shapes(B.shape, I.shape, O.shape, fs.shape, bs.shape, cs.shape)

    # ---- memory --------------------------------------------------------------------------------
    tiers = hw.memory
    tier_caps = [t.capacity_bytes * eff.usable_memory_fraction * cs for t in tiers]
    capacity = sum(tier_caps)
    per_token = activation_bytes_per_token(model, dtypes)
    fp = footprint(model, dtypes, B, I, O, capacity, prefill_chunk_tokens, per_token)
    fractions = place(tier_caps, [fp.weights_bytes, fp.kv_cache_bytes, fp.activation_peak_bytes])
    inv_bw = {cls: sum(f / t.bandwidth_bytes_per_s for f, t in zip(fr, tiers, strict=True))
              for cls, fr in zip(("weight", "kv", "act"), fractions, strict=True)}

    if check_fit and not shape and not bool(fp.fits):
        raise DoesNotFitError(_does_not_fit_message(model, hw, dtypes, fp, B, I, O, capacity, prefill_chunk_tokens,
                                                    per_token, eff))

    # ---- timing --------------------------------------------------------------------------------
    def run(table: OperatorTable, inv: dict[str, np.ndarray]) -> PhaseResult:
        peaks = [hw.peak_flops_per_s[d] if d else np.inf for d in table.dtypes]
        kwargs = {"flops_scale": fs, "bandwidth_scale": bs}
        real, ideal = time_operators(table, peaks, inv, compute_efficiency=eff.compute_efficiency,
                                     memory_efficiency=eff.memory_efficiency,
                                     kernel_overhead_s=eff.kernel_overhead_s, **kwargs)
        return PhaseResult(table, real, ideal)

    prefill = run(build_operators(model, "prefill", B, I, None, dtypes), inv_bw)
    contexts = _decode_contexts(I, O, shape)
    decode = run(build_operators(model, "decode", B[None, ...], 1, contexts, dtypes),
                 {k: np.asarray(v)[None, ...] for k, v in inv_bw.items()})

    def decode_times(timing: Timing):
        steps = timing.step_s
        return steps[0], steps[1]

    ttft, ideal_ttft = prefill.real.step_s, prefill.ideal.step_s
    tpot, tpot_final = decode_times(decode.real)
    ideal_tpot, ideal_tpot_final = decode_times(decode.ideal)
    steps_after_first = O - 1
    e2e = ttft + steps_after_first * tpot
    ideal_e2e = ideal_ttft + steps_after_first * ideal_tpot

    mb = max_batch(model, dtypes, I, O, capacity, prefill_chunk_tokens, per_token)
    mc = max_context(model, dtypes, B, capacity, prefill_chunk_tokens, per_token)

    def full(x):
        return np.broadcast_to(np.asarray(x), shape).copy() if shape else np.asarray(x).reshape(())

    metrics = {
        "ttft_s": ttft, "tpot_s": tpot, "tpot_final_s": tpot_final, "e2e_latency_s": e2e,
        "output_tokens_per_s": B * O / e2e, "total_tokens_per_s": B * (I + O) / e2e,
        "decode_tokens_per_s": B / tpot, "prefill_tokens_per_s": B * I / ttft,
        "ideal_ttft_s": ideal_ttft, "ideal_tpot_s": ideal_tpot, "ideal_tpot_final_s": ideal_tpot_final,
        "ideal_e2e_latency_s": ideal_e2e, "ideal_output_tokens_per_s": B * O / ideal_e2e,
        "weights_bytes": fp.weights_bytes, "kv_cache_bytes": fp.kv_cache_bytes,
        "activation_peak_bytes": fp.activation_peak_bytes, "total_memory_bytes": fp.total_bytes,
        "memory_capacity_bytes": fp.capacity_bytes, "fits": fp.fits, "max_batch": mb,
        "max_context_tokens": mc,
        "bound": decode.real.phase_bound()[0], "prefill_bound": prefill.real.phase_bound(),
        "prefill_flops": prefill.table.total("flops"), "decode_flops": decode.table.total("flops")[0],
    }
    metrics = {k: full(v) for k, v in metrics.items()}
    inputs = {"batch": full(B).astype(np.int64), "input_tokens": full(I).astype(np.int64),
              "output_tokens": full(O).astype(np.int64), "flops_scale": full(fs), "bandwidth_scale": full(bs),
              "capacity_scale": full(cs)}
    placement = dict(zip(("weight", "kv", "act"), fractions, strict=True))
    return Estimate(model, hw, dtypes, eff, inputs, metrics, prefill, decode, placement)


def _does_not_fit_message(model, hw, dtypes, fp, B, I, O, capacity, chunk, per_token, eff) -> str:
    def gb(x):
        return format_quantity(float(x), "B")

    need = (f"{model.name} needs {gb(fp.weights_bytes)} of {dtypes.weight} weights + {gb(fp.kv_cache_bytes)} of "
            f"{dtypes.kv} KV cache (batch {int(B)} x {int(I + O)} tokens) + {gb(fp.activation_peak_bytes)} of "
            f"activations = {gb(fp.total_bytes)}, but {hw.name} has {gb(capacity)} usable "
            f"({gb(hw.memory_capacity_bytes)} x {eff.usable_memory_fraction:.2f}).")
    if fp.weights_bytes > capacity:
        current = bytes_per_element(dtypes.weight)
        smaller = [d for d in ("fp8", "int4") if bytes_per_element(d) < current]
        options = ", ".join(f"{d}: {gb(model.total_params * bytes_per_element(d))}" for d in smaller)
        fixes = ([f"a smaller --weight-dtype ({options})"] if smaller else []) + [
            "a device with more memory", "several devices (multi-device platforms are planned)"]
        return f"{need} The weights alone do not fit: use {', or '.join(fixes)}."
    best = int(max_batch(model, dtypes, I, O, capacity, chunk, per_token))
    ctx = int(max_context(model, dtypes, B, capacity, chunk, per_token))
    hint = f"The largest batch that fits at this context is {best}" if best else "Not even batch 1 fits"
    return (f"{need} {hint}; the longest context that fits at batch {int(B)} is {ctx} tokens. Lower --batch or "
            f"the token counts, or use --kv-dtype fp8.")
