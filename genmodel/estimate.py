"""``estimate()``: latency, throughput and memory of one model on one device or a multi-device platform.

Contract
--------
Inputs may be scalars or NumPy arrays (batch, input_tokens, output_tokens, flops_scale, bandwidth_scale,
capacity_scale, and the parallel degrees of a ``Parallelism``); they broadcast together and every output has
the broadcast shape. No Python loop runs over configurations: the per-device operators of a step are built
once as arrays and timed by ``genmodel.roofline``; collectives by ``genmodel.collectives``; the pipeline
combination follows docs/parallelism.md section 3.

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
Not modeled: scheduling/queueing, speculative decoding, CPU overhead outside kernels, thermal throttling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genmodel.collectives import Network, all_gather, all_reduce, all_to_all, point_to_point
from genmodel.database import all_hardware, all_platforms, get_hardware, get_model, get_platform
from genmodel.dtypes import DTYPES, bytes_per_element, normalize_dtype
from genmodel.efficiency import ResolvedEfficiency, resolve_efficiency
from genmodel.energy import PowerModel
from genmodel.errors import ConfigurationError, DoesNotFitError, SpecError, UnknownNameError, unknown_name
from genmodel.hardware_spec import Efficiency, HardwareSpec
from genmodel.memory import DeviceMemory, kv_bytes_per_token_per_layer, place, stage_fraction
from genmodel.model_spec import ModelSpec
from genmodel.operators import DTypes, OperatorTable, build_operators
from genmodel.parallel import Parallelism
from genmodel.platform_spec import PlatformSpec
from genmodel.roofline import Timing, time_operators
from genmodel.tco import HOURS_PER_YEAR, CostAssumptions, usd_per_device_hour
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
    """Operators and their timings for one phase (realistic and ideal), and the collectives' seconds
    for one pass of all layers (per micro-batch, before overlap)."""

    table: OperatorTable
    real: Timing
    ideal: Timing
    comm: dict[str, np.ndarray] = field(default_factory=dict)
    ideal_comm: dict[str, np.ndarray] = field(default_factory=dict)


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
    platform: PlatformSpec | None = None
    parallel: Parallelism | None = None
    costs: CostAssumptions | None = None

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
            if arr.dtype.kind == "f" and np.isnan(arr).any():  # unknown (no TDP, no price): JSON null
                arr = np.where(np.isnan(arr), None, arr)
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


def resolve_hardware(hardware: str | HardwareSpec | PlatformSpec) -> tuple[HardwareSpec, PlatformSpec | None]:
    """A device name/spec, or a platform name/spec (then its device with the platform's network)."""
    if isinstance(hardware, PlatformSpec):
        return hardware.device_spec(), hardware
    if isinstance(hardware, HardwareSpec):
        return hardware, None
    try:
        return get_hardware(hardware), None
    except UnknownNameError:
        try:
            platform = get_platform(hardware)
        except (UnknownNameError, SpecError):
            raise unknown_name("hardware or platform", hardware, [*all_hardware(), *all_platforms()],
                               "genmodel hardware' or 'genmodel platforms") from None
        return platform.device_spec(), platform


def with_efficiency(hw: HardwareSpec, override: Efficiency | None, calibrated: bool = True) -> HardwareSpec:
    """``hw`` with its realism factors replaced: without the stored block if not ``calibrated``, then with
    every field set in ``override``."""
    if calibrated and override is None:
        return hw
    base = hw.efficiency.model_dump() if calibrated else {}
    if override is not None:
        base.update({k: v for k, v in override.model_dump().items() if v is not None})
        base["source"] = override.source or "user override"
    return hw.model_copy(update={"efficiency": Efficiency(**base)})


def _communication(model: ModelSpec, net: Network, par: Parallelism, tokens, batch, ab: float, phase: str,
                   kv_layer_bytes, prompt_tokens):
    """Seconds of each collective for one pass of all layers over ``tokens`` tokens of an attention group.

    Returns {name: seconds} (arrays). Per layer: a TP all-reduce after attention and after a dense FFN; an
    MoE layer adds, with attention data parallelism, an all-to-all dispatch and combine of the routed
    tokens over the EP group (plus a TP all-reduce for shared experts), else one TP all-reduce; once per
    pass: the vocabulary-parallel embedding's all-reduce and the LM head's logits all-gather.
    """
    H, L = model.hidden_size, model.num_layers
    tp = np.asarray(par.tp, dtype=float)
    hidden = tokens * H * ab
    ar = np.where(tp > 1, all_reduce(net, hidden, tp), 0.0)
    n_moe = model.num_moe_layers
    n_dense = L - n_moe
    adp = np.asarray(par.attention_dp, dtype=bool)
    out = {"tp_all_reduce": (L + n_dense) * ar}
    if n_moe:
        k = model.moe.experts_per_token
        ep = np.asarray(par.ep, dtype=float)
        sent = tokens * k * H * ab / tp  # each TP rank of an attention group dispatches its share
        a2a = np.where(adp & (ep > 1), all_to_all(net, sent, ep), 0.0)
        shared_ar = ar if model.moe.num_shared_experts else 0.0
        out["tp_all_reduce"] = out["tp_all_reduce"] + n_moe * np.where(adp, shared_ar, ar)
        out["ep_dispatch"] = n_moe * a2a
        out["ep_combine"] = n_moe * a2a
    out["vocab_collectives"] = ar + np.where(tp > 1, all_gather(net, batch * model.vocab_size * ab, tp), 0.0)
    cp = np.asarray(par.cp, dtype=float)
    if np.any(cp > 1):
        # the cp ranks sit tp apart: a domain holds D / tp of them
        cp_net = net.scaled(domain=np.maximum(np.floor(net.domain / tp), 1))
        if phase == "prefill":  # all-gather every rank's keys and values of the prompt, per layer
            cp_comm = L * all_gather(cp_net, batch * prompt_tokens * kv_layer_bytes, cp)
        else:  # all-reduce the partial attention outputs (and softmax sums) of the local KV shards
            heads = model.attention.num_heads / tp
            width = model.attention.mla.v_head_dim if model.attention.mla else model.head_dim
            cp_comm = L * all_reduce(cp_net, batch * heads * (width + 2) * ab, cp)
        out["cp_collectives"] = np.where(cp > 1, cp_comm, 0.0)
    return out


def _pp_send(net: Network, par: Parallelism, tokens, H: int, ab: float):
    """Seconds for one stage-to-stage activation transfer, averaged over the stage boundaries."""
    pp = np.asarray(par.pp, dtype=float)
    stage = par.stage_size
    boundaries = np.maximum(pp - 1, 1)
    # boundary k sits after k x stage devices; it crosses a scale-up domain when that is a multiple of it
    crossing = np.minimum(pp - 1, np.floor((pp - 1) * stage / net.domain))
    share = crossing / boundaries
    m = tokens * H * ab
    t = share * point_to_point(net, m, True) + (1 - share) * point_to_point(net, m, False)
    return np.where(pp > 1, t, 0.0)


def estimate(model: str | ModelSpec = "llama-3.1-8b", hardware: str | HardwareSpec | PlatformSpec = "h100-sxm",
             batch=1, input_tokens=1024, output_tokens=256, weight_dtype: str | None = None,
             kv_dtype: str | None = None, activation_dtype: str | None = None, *, tp=1, pp=1, ep=1, dp=1, cp=1,
             attention_dp=False, expert_imbalance=1.0, comm_overlap=0.0, micro_batches=None,
             num_devices: int | None = None, parallel: Parallelism | None = None,
             prefill_chunk_tokens: int = DEFAULT_PREFILL_CHUNK_TOKENS, flops_scale=1.0, bandwidth_scale=1.0,
             capacity_scale=1.0, interconnect_scale=1.0, check_fit: bool = True,
             workload: Workload | None = None, costs: CostAssumptions | None = None,
             requests_per_s: float | None = None, efficiency: Efficiency | None = None,
             calibrated: bool = True) -> Estimate:
    """Estimate latency, throughput and memory of ``model`` serving static batches on ``hardware``.

    ``hardware`` is a device (one or several of it, split by tp/pp/ep/dp) or a platform (a multi-device
    system whose network it uses). ``batch`` is the number of sequences per model replica; ``dp`` replicas
    serve dp x batch sequences. Names are looked up in the built-in databases (specs pass through). Array
    inputs broadcast, the parallel degrees included. A ``Workload`` may replace batch, lengths, datatypes and
    prefill chunk; a ``Parallelism`` may replace tp ... micro_batches. With a single configuration and
    ``check_fit``, a configuration that does not fit raises ``DoesNotFitError`` saying what to change; with
    arrays, ``fits`` tells per configuration. Memory figures are per device (the most loaded one).
    ``calibrated=False`` ignores the device entry's calibrated ``efficiency`` block (per-kind defaults apply);
    fields set in ``efficiency`` override both (e.g. ``Efficiency(step_overhead_s=0)``).
    """
    if workload is not None:
        batch, input_tokens, output_tokens = workload.batch, workload.input_tokens, workload.output_tokens
        weight_dtype, kv_dtype = workload.weight_dtype, workload.kv_dtype
        activation_dtype, prefill_chunk_tokens = workload.activation_dtype, workload.prefill_chunk_tokens
    par = parallel or Parallelism(tp, pp, ep, dp, attention_dp, expert_imbalance, comm_overlap, micro_batches, cp)
    model = get_model(model)
    hw, platform = resolve_hardware(hardware)
    hw = with_efficiency(hw, efficiency, calibrated)
    for label, value in (("batch", batch), ("input_tokens", input_tokens), ("output_tokens", output_tokens)):
        check_lengths(label, value)
    for label, value in (("flops_scale", flops_scale), ("bandwidth_scale", bandwidth_scale),
                         ("capacity_scale", capacity_scale), ("interconnect_scale", interconnect_scale)):
        if np.any(np.asarray(value, dtype=float) <= 0):
            raise ConfigurationError(f"{label} must be positive, got {value}")
    if prefill_chunk_tokens < 1:
        raise ConfigurationError(f"prefill_chunk_tokens must be at least 1, got {prefill_chunk_tokens}")
    if np.ndim(interconnect_scale):
        raise ConfigurationError("interconnect_scale must be a single number (sweep it with separate calls)")
    scalar_layout = all(np.ndim(getattr(par, k)) == 0 for k in ("tp", "pp", "ep", "dp", "attention_dp"))
    if scalar_layout:
        par.validate(model, num_devices)
    dtypes = resolve_dtypes(hw, weight_dtype, activation_dtype, kv_dtype)
    eff = resolve_efficiency(hw)
    B, I, O = (np.asarray(x, dtype=float) for x in (batch, input_tokens, output_tokens))
    fs, bs, cs = (np.asarray(x, dtype=float) for x in (flops_scale, bandwidth_scale, capacity_scale))
    devices = par.devices
    pp = np.asarray(par.pp, dtype=float)
    shape = np.broadcast_shapes(B.shape, I.shape, O.shape, fs.shape, bs.shape, cs.shape, devices.shape)
    # every per-configuration array carries the full shape, so operator tables (ops first) align with the scales
    B, I, O = (np.broadcast_to(x, shape) for x in (B, I, O))
    groups = par.attention_groups
    if scalar_layout and not shape and float(B) < float(groups):
        raise ConfigurationError(f"batch {int(B)} is smaller than the {int(groups)} attention data-parallel "
                                 f"groups: give each group at least one sequence (--batch >= {int(groups)})")
    b = B / groups  # sequences per attention group

    # ---- memory (per device) -------------------------------------------------------------------
    tiers = hw.memory
    tier_caps = [t.capacity_bytes * eff.usable_memory_fraction * cs for t in tiers]
    capacity = sum(tier_caps)
    mem = DeviceMemory(model, dtypes, par, prefill_chunk_tokens)
    fp = mem.footprint(B, I, O, capacity)
    fractions = place(tier_caps, [fp.weights_bytes, fp.kv_cache_bytes, fp.activation_peak_bytes])
    inv_bw = {cls: sum(f / t.bandwidth_bytes_per_s for f, t in zip(fr, tiers, strict=True))
              for cls, fr in zip(("weight", "kv", "act"), fractions, strict=True)}
    if check_fit and not shape and not bool(fp.fits):
        raise DoesNotFitError(_does_not_fit_message(model, hw, dtypes, fp, mem, B, I, O, capacity, eff, par))

    # ---- timing --------------------------------------------------------------------------------
    multi = bool(np.any(devices > 1))
    net = Network.of(hw, platform.domain_size if platform else None) if multi else None
    if net is not None:
        net = net.scaled(float(np.asarray(interconnect_scale)))
    ab = bytes_per_element(dtypes.activation)
    overlap = np.asarray(par.comm_overlap, dtype=float)
    # micro-batches: prefill through the pipeline (default min(b, pp)); decode keeps pp of them in flight
    m_pre = np.asarray(par.micro_batches, dtype=float) if par.micro_batches is not None else np.minimum(b, pp)
    m_pre = np.clip(np.floor(m_pre), 1, np.maximum(b, 1))
    m_dec = np.maximum(np.minimum(pp, np.floor(b)), 1)
    fraction = stage_fraction(model, par)
    kv_layer = kv_bytes_per_token_per_layer(model, dtypes.kv, par)
    cp = np.asarray(par.cp, dtype=float)

    def run(phase: str, table: OperatorTable, inv: dict[str, np.ndarray], tokens, seqs) -> PhaseResult:
        peaks = [hw.peak_flops_per_s[d] if d else np.inf for d in table.dtypes]
        real, ideal = time_operators(table, peaks, inv, compute_efficiency=eff.compute_efficiency,
                                     memory_efficiency=eff.memory_efficiency,
                                     kernel_overhead_s=eff.kernel_overhead_s, flops_scale=fs, bandwidth_scale=bs)
        comm, ideal_comm = {}, {}
        if net is not None:
            extra = (phase, kv_layer, I)
            comm = _communication(model, net, par, tokens, seqs, ab, *extra)
            comm["pp_send"] = _pp_send(net, par, tokens, model.hidden_size, ab) * (pp - 1)
            perfect = net.scaled(efficiency=1.0)
            ideal_comm = _communication(model, perfect, par, tokens, seqs, ab, *extra)
            ideal_comm["pp_send"] = _pp_send(perfect, par, tokens, model.hidden_size, ab) * (pp - 1)
        return PhaseResult(table, real, ideal, comm, ideal_comm)

    def row_weights(result: PhaseResult, values: np.ndarray) -> np.ndarray:
        """Per operator row: how many instances of it one stage slot runs (layer rows scaled to the stage)."""
        is_layer = np.array([g != "model" for g in result.table.groups])
        shape = (-1, *([1] * (values.ndim - 1)))
        return result.table.count.reshape(shape) * np.where(is_layer.reshape(shape), fraction, 1.0)

    def slot_comm(result: PhaseResult, ideal: bool):
        """Collective seconds on the critical path of one slot (its layers' share, vocabulary, one send)."""
        comm = result.ideal_comm if ideal else result.comm
        layer_comm = sum((v for k, v in comm.items() if k not in ("pp_send", "vocab_collectives")), 0.0)
        send = comm.get("pp_send", 0.0) / np.maximum(pp - 1, 1)
        exposed = 1.0 if ideal else 1.0 - overlap
        return exposed * (fraction * layer_comm + comm.get("vocab_collectives", 0.0) + send)

    def stage_time(result: PhaseResult, ideal: bool):
        """Time of the heaviest pipeline stage for one micro-batch: its layers, the model-level operators
        and the exposed collectives (docs/parallelism.md section 3)."""
        timing = result.ideal if ideal else result.real
        step = 0.0 if ideal else eff.step_overhead_s
        return (row_weights(result, timing.time_s) * timing.time_s).sum(axis=0) + slot_comm(result, ideal) + step

    b_pre = b / m_pre
    prefill = run("prefill", build_operators(model, "prefill", b_pre, I, None, dtypes, par), inv_bw,
                  b_pre * I / cp, b_pre)
    contexts = _decode_contexts(I, O, shape)
    b_dec = (b / m_dec)[None, ...] if np.ndim(b / m_dec) else b / m_dec
    decode = run("decode", build_operators(model, "decode", b_dec, 1, contexts, dtypes, par),
                 {k: np.asarray(v)[None, ...] for k, v in inv_bw.items()}, b_dec, b_dec)

    fill = m_pre + pp - 1  # pipeline slots until the last micro-batch leaves the last stage
    slots = np.maximum(m_dec, pp)  # stage slots per generated token in steady state
    ttft, ideal_ttft = fill * stage_time(prefill, False), fill * stage_time(prefill, True)
    dec_real, dec_ideal = slots * stage_time(decode, False), slots * stage_time(decode, True)
    tpot, tpot_final = dec_real[0], dec_real[1]
    ideal_tpot, ideal_tpot_final = dec_ideal[0], dec_ideal[1]
    steps_after_first = O - 1
    e2e = ttft + steps_after_first * tpot
    ideal_e2e = ideal_ttft + steps_after_first * ideal_tpot
    dp_ = np.asarray(par.dp, dtype=float)
    served = dp_ * B  # sequences in flight on the whole platform

    # ---- energy and cost -------------------------------------------------------------------------
    power = PowerModel.of(hw)
    link_bw = net.up_bw * net.efficiency if net is not None else 0.0

    def slot_energy(result: PhaseResult, placement: dict[str, list[np.ndarray]]):
        """(static, compute, memory, communication) joules of one device in one slot."""
        static, compute, memory = power.operator_energy(result.table, result.real, placement)
        w = row_weights(result, result.real.time_s)
        c_static, c_dyn = power.comm_energy(slot_comm(result, False), link_bw)
        c_static = c_static + power.idle_w * eff.step_overhead_s  # host-side step work: device idles
        parts = ((w * static).sum(axis=0) + c_static, (w * compute).sum(axis=0), (w * memory).sum(axis=0), c_dyn)
        return tuple(np.broadcast_to(part, result.real.time_s.shape[1:]) for part in parts)

    slot_pre, slot_dec = stage_time(prefill, False), stage_time(decode, False)
    if power is not None:
        placement = dict(zip(("weight", "kv", "act"), fractions, strict=True))
        pre_parts = slot_energy(prefill, placement)
        dec_parts = slot_energy(decode, {k: [np.asarray(f)[None, ...] for f in v] for k, v in placement.items()})
        # a device works m slots of a pipeline pass and idles through the rest (bubbles)
        pre_parts = (pre_parts[0] * m_pre + power.idle_w * slot_pre * (fill - m_pre),
                     *(p * m_pre for p in pre_parts[1:]))
        dec_parts = (dec_parts[0] * m_dec + power.idle_w * slot_dec * (slots - m_dec),
                     *(p * m_dec for p in dec_parts[1:]))
        # whole request batch, all devices: prefill + (O - 1) mean decode steps
        parts = [devices * (a + (O - 1) * d[0]) for a, d in zip(pre_parts, dec_parts, strict=True)]
        energy_j = sum(parts)
        peak_w = devices * np.maximum(sum(pre_parts) / ttft, sum(dec_parts)[0] / tpot)
        idle_w = power.idle_w
    else:
        parts = [np.full(shape, np.nan)] * 4
        energy_j, peak_w, idle_w = np.full(shape, np.nan), np.full(shape, np.nan), np.nan
    avg_power = energy_j / e2e
    costs = costs or CostAssumptions()
    hourly = usd_per_device_hour(hw, platform, costs, avg_power / devices, idle_w)
    busy_usd_per_s = hourly["total"] / costs.utilization / 3600.0  # per device
    decode_seconds = e2e - ttft
    output_after_first = served * (O - 1)
    cost_metrics = {
        "usd_per_device_hour": hourly["total"],
        "usd_per_request": busy_usd_per_s * devices * e2e / served,
        "usd_per_million_input_tokens": busy_usd_per_s * devices * ttft / (served * I) * 1e6,
        "usd_per_million_output_tokens": np.where(
            O > 1, busy_usd_per_s * devices * decode_seconds / np.maximum(output_after_first, 1) * 1e6, np.nan),
    }
    if requests_per_s is not None:
        # replicas finish B requests per e2e; provision devices for the rate at the assumed utilization
        busy_devices = requests_per_s * e2e / B * (devices / dp_)
        paid_hours = busy_devices / costs.utilization * HOURS_PER_YEAR
        for key in ("total", "capex", "energy", "other"):
            name = "yearly_usd" if key == "total" else f"yearly_{key}_usd"
            cost_metrics[name] = paid_hours * hourly[key]
        cost_metrics["devices_for_rate"] = np.ceil(busy_devices / costs.utilization)

    def full(x):
        return np.broadcast_to(np.asarray(x), shape).copy() if shape else np.asarray(x).reshape(())

    decode_comm = sum(decode.comm.values(), np.zeros((2, *shape)))  # [mean step, final step]
    prefill_comm = sum(prefill.comm.values(), np.zeros(shape))
    metrics = {
        "ttft_s": ttft, "tpot_s": tpot, "tpot_final_s": tpot_final, "e2e_latency_s": e2e,
        "output_tokens_per_s": served * O / e2e, "total_tokens_per_s": served * (I + O) / e2e,
        "output_tokens_per_s_per_device": served * O / e2e / devices,
        "decode_tokens_per_s": served / tpot, "decode_tokens_per_s_per_device": served / tpot / devices,
        "tokens_per_s_per_user": 1.0 / tpot, "prefill_tokens_per_s": served * I / ttft,
        "ideal_ttft_s": ideal_ttft, "ideal_tpot_s": ideal_tpot, "ideal_tpot_final_s": ideal_tpot_final,
        "ideal_e2e_latency_s": ideal_e2e, "ideal_output_tokens_per_s": served * O / ideal_e2e,
        "weights_bytes": fp.weights_bytes, "kv_cache_bytes": fp.kv_cache_bytes,
        "activation_peak_bytes": fp.activation_peak_bytes, "total_memory_bytes": fp.total_bytes,
        "memory_capacity_bytes": fp.capacity_bytes, "fits": fp.fits,
        "max_batch": mem.max_batch(I, O, capacity), "max_context_tokens": mem.max_context(B, capacity),
        "bound": decode.real.phase_bound()[0], "prefill_bound": prefill.real.phase_bound(),
        "prefill_flops": prefill.table.total("flops") * m_pre,
        "decode_flops": decode.table.total("flops")[0] * m_dec,
        "devices": devices.astype(np.int64), "decode_comm_s": slots * (1 - overlap) * decode_comm[0],
        "prefill_comm_s": fill * (1 - overlap) * prefill_comm,
        "energy_per_output_token_j": energy_j / (served * O), "energy_per_request_j": energy_j / served,
        "output_tokens_per_j": served * O / energy_j, "avg_power_w": avg_power, "peak_power_w": peak_w,
        "facility_energy_per_output_token_j": energy_j * costs.pue / (served * O),
        "energy_static_j": parts[0], "energy_compute_j": parts[1], "energy_memory_j": parts[2],
        "energy_comm_j": parts[3], **cost_metrics,
    }
    metrics = {k: full(v) for k, v in metrics.items()}
    inputs = {"batch": full(B).astype(np.int64), "input_tokens": full(I).astype(np.int64),
              "output_tokens": full(O).astype(np.int64), "tp": full(par.tp).astype(np.int64),
              "pp": full(par.pp).astype(np.int64), "ep": full(par.ep).astype(np.int64),
              "dp": full(par.dp).astype(np.int64), "cp": full(par.cp).astype(np.int64),
              "attention_dp": full(par.attention_dp).astype(bool),
              "flops_scale": full(fs), "bandwidth_scale": full(bs), "capacity_scale": full(cs)}
    placement = dict(zip(("weight", "kv", "act"), fractions, strict=True))
    return Estimate(model, hw, dtypes, eff, inputs, metrics, prefill, decode, placement, platform, par, costs)


def _does_not_fit_message(model, hw, dtypes, fp, mem, B, I, O, capacity, eff, par) -> str:
    def gb(x):
        return format_quantity(float(x), "B")

    where = hw.name if par.is_single_device else f"each {hw.name} (the most loaded of {int(par.devices)} devices)"
    need = (f"{model.name} needs {gb(fp.weights_bytes)} of {dtypes.weight} weights + {gb(fp.kv_cache_bytes)} of "
            f"{dtypes.kv} KV cache (batch {int(B)} x {int(I + O)} tokens) + {gb(fp.activation_peak_bytes)} of "
            f"activations = {gb(fp.total_bytes)} per device, but {where} has {gb(capacity)} usable "
            f"({gb(hw.memory_capacity_bytes)} x {eff.usable_memory_fraction:.2f}).")
    if fp.weights_bytes > capacity:
        current = bytes_per_element(dtypes.weight)
        smaller = [d for d in ("fp8", "int4") if bytes_per_element(d) < current]
        share = float(fp.weights_bytes) / current
        options = ", ".join(f"{d}: {gb(share * bytes_per_element(d))}" for d in smaller)
        need_devices = int(np.ceil(float(fp.weights_bytes) * int(par.devices) / float(capacity)))
        fixes = ([f"a smaller --weight-dtype ({options})"] if smaller else []) + [
            "a device with more memory",
            f"more devices (at least {need_devices} for the weights alone; try 'genmodel size')"]
        return f"{need} The weights alone do not fit: use {', or '.join(fixes)}."
    best = int(mem.max_batch(I, O, capacity))
    ctx = int(mem.max_context(B, capacity))
    hint = f"The largest batch that fits at this context is {best}" if best else "Not even batch 1 fits"
    return (f"{need} {hint}; the longest context that fits at batch {int(B)} is {ctx} tokens. Lower --batch or "
            f"the token counts, or use --kv-dtype fp8.")
