"""Platform requirements: what compute, memory and interconnect a use case needs (docs/requirements.md).

Contract
--------
``requirements(model, input_tokens, output_tokens, ttft_target_s, tpot_target_s, ..., reference="h200-sxm")``
inverts the forward model (``estimate`` for a static batch, ``serve`` at an arrival rate) on one layout. Every
requirement is per device and comes twice, realistic (the reference device's efficiencies, overheads and engine)
and ideal (100% of peak, no overheads):

* **floors** — each resource's minimum with the others unlimited (necessary, never sufficient): peak FLOP/s in the
  compute datatype, memory bandwidth, interconnect bandwidth (per direction) and latency, memory capacity (the bytes
  the device must report: footprint, plus the runtime's reserve and usable share when realistic). With one resource
  finite a step is ``a / s + c`` in that resource's scale ``s`` (every operator is bound by it or by a fixed
  overhead), so two forward evaluations give ``a`` and ``c`` and the floor is ``s = a / (T - c)`` in closed form.
  Where small kernels sit at their device-time floor (``genmodel.engine.efficiency``: GPUs) a kernel bound by the
  resource at the reference may fall to the floor as the resource grows, and the times are not exactly affine: the
  closed form is then refined by re-solving it through the times at the current scale (``_polish``, with secant
  steps) until the scale is a fixed point within 1e-6. ``c`` is the floor no hardware beats (kernel and step
  overheads, collective latency); a target at or below it is refused with a message naming it. At an arrival rate
  the running batch depends on the hardware, so the floors are found by vectorized bisection on ``s`` instead.
* **scaled reference** — the smallest factor ``k`` by which the reference's whole resource vector (FLOP/s,
  bandwidth, capacity, interconnect bandwidth; latencies unchanged) must be multiplied to meet every target and hold
  the footprint (``a / k + c`` again for the times), and the factor for each resource alone with the others at the
  reference (a log-grid search, refined once: these are not affine);
* **frontier** — ``frontier(result, "flops", "bandwidth")``: the pairs that just meet the targets.

``binding`` is the resource whose realistic floor asks most of the reference: the largest floor / the reference's own
figure, the capacity floor over the reference's capacity among them. ``compare`` runs each named device forward on
the same layout and gives available / required per resource and whether it meets every target and fits. Arrays of
targets and lengths broadcast (batch mode); the layout and the serving settings are single values. Bad arguments
raise a ``GenmodelError`` naming them before any evaluation (docs/requirements.md, "Inputs").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from genmodel.data.registry import get_model, resolve_hardware
from genmodel.engine.bisection import bisect
from genmodel.engine.inputs import MIN_SCALE, resolve_dtypes
from genmodel.engine.parallel import MAX_DEGREE
from genmodel.engine.realism import check_engine, resolve_realism
from genmodel.engine.uncertainty import architecture_of
from genmodel.errors import ConfigurationError, InputTypeError
from genmodel.search.planner import MAX_DEVICES
from genmodel.serving.serve import percentile_fraction
from genmodel.specs.checks import MAX_BATCH, MAX_TOKENS, choice, flag, latency_target, names, scalar, whole
from genmodel.specs.checks import request_rate as request_rate_check
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.platform import PlatformSpec
from genmodel.specs.usecase import MAX_SAMPLES
from genmodel.table import json_value

BIG = 1e6  # "unlimited": a resource scaled a million times (the largest what-if scale)
# scales x resource rows a bisection (``_bisect``) tests in one call (``genmodel.engine.bisection``): four levels of
# the bisection tree at once for one configuration's four rows (a served solve 2.1x faster than one level a call;
# a call over many configurations steps one level at a time, as before)
BISECT_POINTS = 64
RESOURCES = ("flops", "bandwidth", "interconnect")
KEYS = {"flops": "flops_per_s", "bandwidth": "memory_bandwidth_bytes_per_s",
        "interconnect": "interconnect_bandwidth_bytes_per_s", "capacity": "memory_capacity_bytes"}
SCALE_ARGS = {"flops": "flops_scale", "bandwidth": "bandwidth_scale", "interconnect": "interconnect_scale",
              "capacity": "capacity_scale"}
GRID = np.geomspace(1e-3, 1e3, 97)  # factors searched for "one resource alone"
# the physically meaningful targets and request rates (docs/requirements.md, "Inputs"): genmodel.specs.checks
# (``latency_target``, ``request_rate``), shared with serve and the planner
MAX_POINTS = 1024  # frontier points (each is a stacked row of 130 forward evaluations)


@dataclass
class Requirements:
    """What a platform must provide (SI units, per device unless under ``system``)."""

    model: str
    reference: str
    settings: dict[str, Any]
    realistic: dict[str, Any]  # the floors, per device
    ideal: dict[str, Any]
    system: dict[str, Any]
    scaled: dict[str, Any]  # the scaled reference
    binding: Any
    unbeatable: dict[str, Any]  # the times no hardware beats (realistic overheads and latencies)
    devices: int
    system_power_w: float | None
    compare: dict[str, dict[str, Any]] = field(default_factory=dict)
    forward: Any = field(default=None, repr=False)  # the evaluator, for frontiers
    reference_spec: Any = field(default=None, repr=False)  # the reference device's HardwareSpec

    def to_dict(self) -> dict[str, Any]:
        from genmodel.data.registry import provenance

        return {**provenance(), "model": self.model, **self.settings, **json_value(self.realistic),
                "system": json_value(self.system), "ideal": json_value(self.ideal),
                "reference": {"device": self.reference, **json_value(self.scaled)}, "binding": json_value(self.binding),
                "unbeatable": json_value(self.unbeatable), "devices": self.devices,
                "system_power_w": self.system_power_w, "compare": json_value(self.compare)}


class Forward:
    """The forward model at given resource scales: TTFT and TPOT (realistic or ideal) and the footprint."""

    def __init__(self, model, hardware, input_tokens, output_tokens, batch, request_rate, percentile,
                 samples: int, layout: dict[str, Any], dtypes: dict[str, Any], engine, calibrated: bool,
                 traffic: dict[str, Any] | None = None):
        self.model, self.hardware = model, hardware
        self.traffic = traffic or {}  # serve's length spreads and prefix hits (served traffic only)
        self.I, self.O, self.batch, self.rate, self.q, self.n = (input_tokens, output_tokens, batch, request_rate,
                                                                 percentile, samples)
        self.layout, self.dtypes, self.engine, self.calibrated = layout, dtypes, engine, calibrated

    def __call__(self, flops=1.0, bandwidth=1.0, interconnect=1.0, capacity=1.0, ideal=False,
                 hardware=None) -> dict[str, np.ndarray]:
        hw = self.hardware if hardware is None else hardware
        scales = {"flops_scale": flops, "bandwidth_scale": bandwidth, "interconnect_scale": interconnect,
                  "capacity_scale": capacity}
        if self.rate is None:
            return self._static(hw, scales, ideal)
        return self._served(hw, scales, ideal)

    def _static(self, hw, scales, ideal) -> dict[str, np.ndarray]:
        from genmodel.engine.estimate import estimate

        common = {"input_tokens": self.I, "output_tokens": self.O, **self.dtypes, **self.layout, **scales,
                  "check_fit": False, "engine": self.engine, "calibrated": self.calibrated}
        pre = "ideal_" if ideal else ""
        first = estimate(self.model, hw, self.batch, **common)
        m = first.metrics
        out = {"ttft": m[f"{pre}ttft_s"], "fits": m["fits"], "footprint": m["total_memory_bytes"],
               "usable": m["memory_capacity_bytes"], "weights": m["weights_bytes"], "ideal_ttft": m["ideal_ttft_s"]}
        if self.n == 1:
            out["tpot"], out["ideal_tpot"] = m[f"{pre}tpot_s"], m["ideal_tpot_s"]
            return out
        # n samples per prompt: one prefill, n x batch sequences decoding; the prompt's KV is held once
        dec = estimate(self.model, hw, self.batch * self.n, **common)
        out["tpot"], out["ideal_tpot"] = dec.metrics[f"{pre}tpot_s"], dec.metrics["ideal_tpot_s"]
        kv = dec.metrics["kv_cache_bytes"]
        shared = kv * self.I / (self.I + self.O) * (self.n - 1) / self.n
        out["footprint"] = dec.metrics["total_memory_bytes"] - shared
        out["fits"] = out["footprint"] <= dec.metrics["memory_capacity_bytes"]
        return out

    def _served(self, hw, scales, ideal) -> dict[str, np.ndarray]:
        from genmodel.serving.serve import serve
        from genmodel.specs.hardware import Efficiency

        eff = Efficiency(compute_efficiency=1.0, memory_efficiency=1.0, attention_efficiency=1.0,
                         kv_memory_efficiency=1.0, kernel_overhead_s=0.0, step_overhead_s=0.0,
                         step_overhead_per_sequence_s=0.0, prefill_overhead_s=0.0) if ideal else None
        r = serve(self.model, hw, self.I, self.O, request_rate=self.rate, percentile=self.q, **self.dtypes,
                  **self.layout, **scales, engine=self.engine, calibrated=self.calibrated, efficiency=eff,
                  **self.traffic)
        label = f"p{self.q * 100:g}".replace(".", "_")
        m = r.metrics
        ttft = m[f"ttft_{label}_s"] if f"ttft_{label}_s" in m else m["ttft_p99_s"]
        tpot = m[f"tpot_{label}_s"] if f"tpot_{label}_s" in m else m["tpot_p99_s"]
        held = m["kv_cache_bytes"] + m["weights_bytes"]  # weights and the KV of the running batch
        # the usable memory, unclamped (affine in the capacity scale), from the static model of the same layout
        from genmodel.engine.estimate import estimate

        usable = estimate(self.model, hw, 1, self.I, self.O, **self.dtypes, **self.layout, **scales,
                          check_fit=False, engine=self.engine, calibrated=self.calibrated).metrics
        return {"ttft": np.where(m["stable"], ttft, np.inf), "tpot": tpot, "fits": m["fits"], "footprint": held,
                "usable": usable["memory_capacity_bytes"], "weights": m["weights_bytes"]}


def requirements(model, input_tokens=None, output_tokens=None, ttft_target_s=None, tpot_target_s=None, *,
                 use_case=None, batch=None, request_rate=None, percentile=None, samples_per_prompt=None,
                 reference: str = "h200-sxm", compare: Sequence[str] = (), tp=1, pp=1, ep=1, dp=1, cp=1,
                 attention_dp=False, devices: int | None = None, weight_dtype=None, kv_dtype=None,
                 activation_dtype=None, engine=None, calibrated: bool = True) -> Requirements:
    """What each device (and the system) must provide for ``model`` to meet the targets (module docstring).

    A ``use_case`` (name or spec) supplies lengths, targets, percentile, samples per prompt and the serving mode;
    explicit arguments override it. Without a rate the batch (default 1) is static; with ``request_rate``
    (requests/s for the deployment) the targets hold at ``percentile`` (default 0.99) of served traffic. With
    ``devices`` the layout is searched: every split of one replica on exactly that many devices
    (``genmodel.search.planner.layouts``), keeping the one whose scaled reference factor is smallest (``dp`` such
    replicas; tp, pp, ep, cp and attention_dp are the search's, so giving them too is refused).

    Every argument is checked first (docs/requirements.md, "Inputs"): lengths and batch whole numbers >= 1 (arrays
    broadcast with the targets'); targets positive and at most a day; a request rate from one a day to a billion a
    second, and not beside a batch; a percentile only with a rate; the layout single whole numbers; flags True or
    False; ``compare`` a name or a list of names."""
    case = _use_case(use_case)

    def pick(value, key: str, default=None):
        """The explicit argument, else the use case's field, else the default."""
        if value is not None:
            return value
        got = getattr(case, key, None) if case is not None else None
        return default if got is None else got

    # a use case's lengths are means, which may be fractional (MLPerf's 294.45 tokens per sample): rounded to whole
    # tokens as a sweep over use cases rounds them; an explicit argument must be whole (below)
    I = input_tokens if input_tokens is not None else _mean_tokens(case, "input_tokens")
    O = output_tokens if output_tokens is not None else _mean_tokens(case, "output_tokens")
    T_ttft = pick(ttft_target_s, "ttft_target_s")
    T_tpot = pick(tpot_target_s, "tpot_target_s")
    for name, value in (("input_tokens", I), ("output_tokens", O)):
        if value is None:
            raise ConfigurationError(f"{name} is missing: give it, or a use case that gives it", name)
    if T_ttft is None and T_tpot is None:
        raise ConfigurationError("ttft_target_s and tpot_target_s are both missing: give a TTFT or TPOT target (or "
                                 "a use case with targets)", "ttft_target_s")
    I = whole("input_tokens", I, 1, MAX_TOKENS)  # token counts are whole: 1.5 tokens is refused, not rounded
    O = whole("output_tokens", O, 1, MAX_TOKENS)
    T_ttft = None if T_ttft is None else latency_target("ttft_target_s", T_ttft)
    T_tpot = None if T_tpot is None else latency_target("tpot_target_s", T_tpot)
    if batch is not None and request_rate is not None:
        raise ConfigurationError("batch is a static batch; under a request rate the running batch follows from the "
                                 "rate and the hardware: give a batch or a request rate, not both", "batch")
    mode_rate = request_rate if request_rate is not None else (
        getattr(case, "request_rate_per_s", None) if case is not None and batch is None else None)
    if percentile is not None and mode_rate is None:
        raise ConfigurationError("percentile applies to served traffic (a request rate); a static batch has one "
                                 "time per figure: leave it out or give a request rate", "percentile")
    n = int(scalar("samples_per_prompt", whole("samples_per_prompt", pick(samples_per_prompt, "samples_per_prompt",
                                                                           1), 1, MAX_SAMPLES)))
    q = percentile_fraction(pick(percentile, "percentile", 0.99))  # serve's rule: 0.99 or 99, from 1% to 99.999%
    if mode_rate is not None:
        mode_rate = scalar("request_rate", request_rate_check("request_rate", mode_rate))
        if n > 1:
            raise ConfigurationError("samples_per_prompt above 1 under a request rate is not modelled yet: give a "
                                     "static batch", "samples_per_prompt")
        B = None
    else:  # n samples of each prompt decode as batch x n sequences: that product is the engine's batch
        B = whole("batch", batch if batch is not None else (getattr(case, "batch", None) or 1), 1, MAX_BATCH // n)
    split = {k: int(scalar(k, whole(k, v, 1, MAX_DEGREE))) for k, v in (("tp", tp), ("pp", pp), ("ep", ep),
                                                                        ("dp", dp), ("cp", cp))}
    attention_dp, calibrated = flag("attention_dp", attention_dp), flag("calibrated", calibrated)
    if devices is not None:
        devices = int(scalar("devices", whole("devices", devices, 1, MAX_DEVICES)))
        given = [k for k in ("tp", "pp", "ep", "cp") if split[k] != 1] + (["attention_dp"] if attention_dp else [])
        if given:
            raise ConfigurationError(f"devices searches the split of one replica (tp, pp, ep, cp, attention_dp), but "
                                     f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} given: give the split "
                                     f"or the device count, not both", "devices")
    check_engine(engine)
    if not isinstance(reference, (str, HardwareSpec, PlatformSpec)):
        raise InputTypeError("reference must be a device or platform name, a HardwareSpec or a PlatformSpec, got "
                             f"{type(reference).__name__}", "reference")
    # no comparison: the default () (or an empty list, as the dashboard's device picker gives); else names, each once
    compare = () if isinstance(compare, (list, tuple)) and not compare else names("compare", compare)
    model = get_model(model)
    hw, platform = _named_hardware(reference, "reference")
    dt = resolve_dtypes(hw, weight_dtype, activation_dtype, kv_dtype)
    dtypes = {"weight_dtype": weight_dtype, "kv_dtype": kv_dtype, "activation_dtype": activation_dtype}
    layout = {**split, "attention_dp": attention_dp}
    traffic = {}
    if mode_rate is not None and case is not None:  # the use case's spreads and prefix hits, under traffic
        traffic = {k: float(getattr(case, k, 0.0) or 0.0) for k in ("input_cv", "output_cv", "prefix_hit")}
    if devices is not None:
        layout = _best_layout(model, platform or hw, I, O, B, mode_rate, q, n, dtypes, engine, calibrated,
                              {"ttft": T_ttft, "tpot": T_tpot}, devices, traffic, dp=split["dp"])
    fwd = Forward(model, platform or hw, I, O, B, mode_rate, q, n, layout, dtypes, engine, calibrated, traffic)
    ref = _resources(hw, dt.activation)
    par = _parallelism(layout)
    devices = int(np.max(par.devices))
    targets = {"ttft": T_ttft, "tpot": T_tpot}

    realism = resolve_realism(hw, None, calibrated, engine)
    # the targets at the edges of the reference's band (served: the served rows' cells, as serve's figures carry)
    edges, band_basis = _band_edges(targets, hw.kind, realism, None if mode_rate is None else q, par.replica_devices,
                                    architecture_of(model))
    if mode_rate is None:
        rows = _stacked(fwd, _ndim(targets, fwd))
        base = rows["ones"]  # every resource at the reference
        # the realistic floors and the whole-vector factor, at the targets and at the band's edges, refined together
        solved = _static_solve(fwd, rows, {"": targets, **edges}, _ndim(targets, fwd))
        (floors_real, k_time), unbeatable = solved.pop(""), {f"{k}_s": rows["limitless"][k] for k in ("ttft", "tpot")}
        floors_ideal, _ = _floors_static(rows, targets, "ideal_")
        cap_scale = _capacity_affine(rows["cap1"], rows["cap2"])
    else:
        base = fwd()
        # the targets and their band edges on an axis before the configuration's: one stacked bisection solves all
        floors_all, unbeatable = _floors(fwd, _stacked_targets([targets, edges["low"], edges["high"]],
                                                               _ndim(targets, fwd)), ideal=False, with_scaled=True)
        floors_real, *at_edges = ({r: v[i] for r, v in floors_all.items()} for i in range(3))
        solved = {edge: (floors, floors.pop("scaled")) for edge, floors in zip(("low", "high"), at_edges,
                                                                               strict=True)}
        floors_ideal, _ = _floors(fwd, targets, ideal=True)
        cap_scale = _capacity_affine(base, fwd(capacity=2.0))
        k_time, rows = floors_real.pop("scaled"), {}
    _check_beatable(targets, unbeatable)
    realistic = {KEYS[r]: floors_real[r] * ref[r] for r in RESOURCES}
    ideal = {KEYS[r]: floors_ideal[r] * ref[r] for r in RESOURCES}
    # capacity: the bytes the device must report so that its usable share holds the footprint
    realistic[KEYS["capacity"]] = cap_scale * ref["capacity"]
    ideal[KEYS["capacity"]] = np.asarray(base["footprint"], dtype=float) + 0.0
    latency_real, latency_ideal = _latency_floor(fwd, targets, hw, platform, rows)
    realistic["interconnect_latency_s"], ideal["interconnect_latency_s"] = latency_real, latency_ideal
    scaled = _scaled_reference(fwd, targets, cap_scale, k_time, devices=devices)
    scaled.update({KEYS[r]: scaled["scale_factor"] * ref[r] for r in (*RESOURCES, "capacity")})
    _banded(realistic, scaled, solved, cap_scale, ref, realism.usable_memory_fraction)  # the floors' 80% band
    if devices == 1:  # one device: no collectives, nothing to require of a link (nor of its band)
        for d in (realistic, ideal):
            zeros = np.zeros_like(np.asarray(d[KEYS["flops"]], dtype=float))
            for key in (KEYS["interconnect"], f"{KEYS['interconnect']}_low", f"{KEYS['interconnect']}_high"):
                if key in d:
                    d[key] = zeros.copy()
            d["interconnect_latency_s"] = np.full_like(zeros, np.inf)
    # what binds: the resource whose floor asks most of the reference (floor / reference's own figure)
    labels = np.array(["flops", "bandwidth", "interconnect", "capacity"])
    stack = np.stack(np.broadcast_arrays(*(np.asarray(floors_real[r], dtype=float) for r in RESOURCES),
                                         np.asarray(cap_scale, dtype=float)))
    binding = labels[np.argmax(np.where(np.isnan(stack), -np.inf, stack), axis=0)]
    system = {k: (v if k == "interconnect_latency_s" else v * devices) for k, v in realistic.items()}
    power = hw.power.tdp_w * devices if hw.power is not None else None
    settings = {"input_tokens": json_value(I.astype(np.int64)), "output_tokens": json_value(O.astype(np.int64)),
                "ttft_target_s": json_value(T_ttft), "tpot_target_s": json_value(T_tpot),
                "batch": None if B is None else json_value(np.asarray(B).astype(np.int64)),
                "request_rate_per_s": mode_rate, "percentile": q if mode_rate is not None else None,
                "samples_per_prompt": n, "use_case": getattr(case, "name", None), "compute_dtype": dt.activation,
                "layout": {k: json_value(v) for k, v in layout.items()},
                "scale_up_domain_devices": int(np.max(replace(par, pp=1, dp=1).devices)),
                "realistic_basis": f"{hw.name}'s efficiencies, overheads and engine", "band_basis": band_basis}
    result = Requirements(model.name, (platform or hw).name, settings, realistic, ideal, system, scaled, binding,
                          unbeatable, devices, power, forward=fwd, reference_spec=hw)
    result.compare = {name: _compare(fwd, name, realistic, targets) for name in compare}
    return result


def _stacked_targets(sets: list[dict], nd: int) -> dict:
    """Target sets (the same targets given in each) stacked on a new leading axis, before the ``nd`` configuration
    dimensions (every target and every set broadcast together: one bisection solves the sets side by side)."""
    present = [k for k, v in sets[0].items() if v is not None]
    values = [np.asarray(t[k], dtype=float) for k in present for t in sets]
    values = np.broadcast_arrays(*(v.reshape((1,) * (nd - v.ndim) + v.shape) for v in values))
    out = {k: None for k in sets[0]}
    for i, k in enumerate(present):
        out[k] = np.stack(values[i * len(sets):(i + 1) * len(sets)])
    return out


def _band_edges(targets, kind: str, realism, percentile: float | None, devices,
                architecture: str | None = None) -> tuple[dict[str, dict], str]:
    """The targets at the edges of the reference's 80% band (``genmodel.engine.uncertainty``): a measured time is
    ``predicted x exp(-r)`` with r in [r_lo, r_hi], so meeting T takes a predicted time of at most T exp(r_lo) at the
    pessimistic edge (``high``: more hardware) and T exp(r_hi) at the optimistic one (``low``). Returns them and the
    bands' basis; ``realism``: the reference's (``resolve_realism``), whose engine and fit choose the band cells;
    ``percentile``: served traffic's, whose figures' bands ``serve`` gives (``served_phase_bands``: the tail cells
    above the median); ``devices``: one replica's devices, whose device-count class picks the cells (as ``estimate``
    and ``serve`` pick them), and ``architecture`` the model's ('dense' or 'moe'), whose own cells come first."""
    from genmodel.engine.estimate import static_phase_bands
    from genmodel.serving.serve import served_phase_bands

    phases = (static_phase_bands(kind, realism.engine, realism, devices, architecture) if percentile is None else
              served_phase_bands(kind, realism.engine, realism, devices, percentile, architecture))
    bands = {"ttft": phases["prefill"], "tpot": phases["decode"]}
    edges = {edge: {k: None if v is None else v * np.exp(getattr(bands[k], side)) for k, v in targets.items()}
             for edge, side in (("low", "high"), ("high", "low"))}
    return edges, f"{'served rows: ' if percentile is not None else ''}TTFT: {bands['ttft'].basis}; TPOT: " \
                  f"{bands['tpot'].basis}"


def _banded(realistic, scaled, solved, cap_scale, ref, usable_fraction: float) -> None:
    """Add ``<floor>_low`` / ``<floor>_high`` (and the scaled reference's ``scale_factor_low/high``): the floors
    if the reference's real times sit at the edges of its 80% band (``_band_edges``; ``solved``: the floors and
    factors at those edges, ``_static_solve``). The capacity's band is the memory band (+-1.5 GiB of footprint over
    the usable share, ``usable_fraction`` of the device)."""
    from genmodel.engine.uncertainty import MEMORY_BAND_BYTES

    for edge in ("low", "high"):
        floors, k_time = solved[edge]
        for r in RESOURCES:
            realistic[f"{KEYS[r]}_{edge}"] = floors[r] * ref[r]
        scaled[f"scale_factor_{edge}"] = np.maximum(k_time, cap_scale)
    spread = MEMORY_BAND_BYTES / usable_fraction
    capacity = np.asarray(realistic[KEYS["capacity"]], dtype=float)
    realistic[f"{KEYS['capacity']}_low"] = np.maximum(capacity - spread, 0.0)
    realistic[f"{KEYS['capacity']}_high"] = capacity + spread


def _best_layout(model, hardware, I, O, B, rate, q, n, dtypes, engine, calibrated, targets, devices: int,
                 traffic=None, dp: int = 1) -> dict:
    """The split of one replica on exactly ``devices`` devices (checked by ``requirements``) whose scaled reference
    factor is smallest, ties to the fewest pipeline stages, with ``dp`` such replicas: every split in one stacked
    evaluation (static batch, closed form), or in one stacked bisection under an arrival rate."""
    from genmodel.search.planner import layouts

    count = devices
    if np.ndim(targets["ttft"] or 0) or np.ndim(targets["tpot"] or 0) or np.ndim(I) or np.ndim(O) or np.ndim(B):
        raise ConfigurationError("the layout search takes one configuration, not arrays of targets or lengths: give "
                                 "--tp/--pp", "devices")
    lay = layouts(model, count)
    keep = _parallelism(lay).devices == count
    if not keep.any():
        raise ConfigurationError(f"no split of {model.name} uses exactly {count} devices (tensor parallelism must "
                                 "divide the heads); give another device count or --tp/--pp", "devices")
    cand = {k: v[keep] for k, v in lay.items()}
    layout = {**cand, "dp": dp}
    fwd = Forward(model, hardware, I, O, B, rate, q, n, layout, dtypes, engine, calibrated, traffic)
    if rate is None:
        rows = _stacked(fwd, 1)
        k_time = _static_solve(fwd, rows, {"": targets}, 1, resources=False)[""][1]
        k = np.maximum(k_time, _capacity_affine(rows["cap1"], rows["cap2"]))
    else:  # served traffic: the whole vector scaled, bisected for every split at once
        floors, _ = _floors(fwd, targets, ideal=False, with_scaled=True, nd=1)
        k = np.maximum(floors["scaled"], _capacity_affine(fwd(), fwd(capacity=2.0)))
    best = int(np.lexsort((cand["pp"], np.where(np.isfinite(k), k, np.inf)))[0])
    return {key: (bool(v[best]) if key == "attention_dp" else int(v[best])) for key, v in cand.items()} | {"dp": dp}


def _named_hardware(name, argument: str):
    """``resolve_hardware``, with a lookup error naming the argument it came from (reference, compare) first."""
    from genmodel.errors import GenmodelError

    try:
        return resolve_hardware(name)
    except GenmodelError as exc:
        cls = InputTypeError if isinstance(exc, TypeError) else ConfigurationError
        raise cls(f"{argument}: {' '.join(str(exc).split())}", argument) from None


def _mean_tokens(case, key: str) -> int | None:
    """A use case's mean length in whole tokens (at least 1; the spec bounds it), or None without a use case."""
    got = getattr(case, key, None) if case is not None else None
    return None if got is None else max(1, round(got))


def _use_case(use_case):
    if use_case is None:
        return None
    try:
        from genmodel.data.registry import get_use_case  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - the use-case database ships with the package
        raise ConfigurationError("use cases are not available in this installation", "use_case") from None
    return get_use_case(use_case)


def _resources(hw, dtype: str) -> dict[str, float]:
    """The reference device's resource vector: peak FLOP/s in the compute datatype, fastest memory's bandwidth,
    capacity (bytes the device reports), interconnect bandwidth per direction (scale-up, else scale-out)."""
    link = hw.scale_up or hw.scale_out
    flops = hw.peak_flops_per_s.get(dtype) or max(hw.peak_flops_per_s.values())
    return {"flops": float(flops), "bandwidth": float(hw.fastest_memory.bandwidth_bytes_per_s or 0.0),
            "capacity": float(hw.memory_capacity_bytes),
            "interconnect": float(link.bandwidth_per_direction_bytes_per_s) if link is not None else 0.0}


def _parallelism(layout: dict[str, Any]):
    """The layout as a ``Parallelism`` (its ``devices``: all replicas' devices)."""
    from genmodel.engine.parallel import Parallelism

    return Parallelism(layout["tp"], layout["pp"], layout["ep"], layout.get("dp", 1), layout["attention_dp"],
                       cp=layout["cp"])


def _solve_affine(t1, t_inf, target):
    """s with a / s + c = target, where t(1) = a + c and t(inf) = c; inf where the target is at or below c."""
    a = np.maximum(t1 - t_inf, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(target > t_inf, a / np.maximum(target - t_inf, 1e-300), np.inf)
    return np.where(a > 0, s, np.where(target > t_inf, 0.0, np.inf))


ROWS = ("limitless", "flops", "bandwidth", "interconnect", "ones", "cap1", "cap2")


def _stacked(fwd: Forward, ndim: int) -> dict[str, dict[str, np.ndarray]]:
    """One forward evaluation of every scale vector the closed forms need, stacked on a leading axis: all
    resources unlimited; each resource alone at the reference (the others unlimited); all at the reference; and
    the capacity at 1x and 2x (the usable memory is affine in it)."""
    big = BIG
    vectors = {"limitless": (big, big, big, big), "flops": (1, big, big, big), "bandwidth": (big, 1, big, big),
               "interconnect": (big, big, 1, big), "ones": (1, 1, 1, 1), "cap1": (big, big, big, 1),
               "cap2": (big, big, big, 2)}
    cols = np.array([vectors[r] for r in ROWS], dtype=float).reshape((len(ROWS), 4) + (1,) * ndim)
    res = fwd(cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3])
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, name in enumerate(ROWS):
        out[name] = {k: np.asarray(v)[i] if np.ndim(v) > ndim else np.asarray(v) for k, v in res.items()}
    return out


def _check_beatable(targets, unbeatable) -> None:
    """One clear line when a (single) target is at or below what no hardware beats: the fixed per-step costs of
    the engine and kernels, and the collectives' link latencies, which no FLOP/s or bandwidth removes."""
    for k, label in (("ttft", "TTFT"), ("tpot", "TPOT")):
        target = targets[k]
        if target is None or np.ndim(target) or np.ndim(unbeatable[f"{k}_s"]):
            continue
        floor = float(unbeatable[f"{k}_s"])
        if not np.isfinite(floor):
            raise ConfigurationError(
                "request_rate: at this request rate a replica is unstable even with unlimited FLOP/s, bandwidth and "
                "links: the engine's per-step cost and its running-sequence cap bound the rate one replica serves; "
                "add replicas (dp) or lower the rate", "request_rate")
        if float(target) <= floor:
            raise ConfigurationError(
                f"{k}_target_s: the {label} target {float(target) * 1e3:,.4g} ms is below {floor * 1e3:,.4g} ms, the "
                f"floor no hardware can beat on this layout (kernel launches, per-step engine cost and collective "
                f"latency with unlimited FLOP/s and bandwidth): raise the target, shrink the layout or pick a leaner "
                f"engine",
                f"{k}_target_s")


def _affine_scale(at_one, unlimited, targets, prefix: str = "") -> np.ndarray:
    """The scale meeting every given target, each time being a / s + c with t(1) in ``at_one`` and c in
    ``unlimited`` (``prefix`` 'ideal_' for the pure roofline's times)."""
    need = [_solve_affine(at_one[f"{prefix}{k}"], unlimited[f"{prefix}{k}"], targets[k]) for k in ("ttft", "tpot")
            if targets[k] is not None]
    return np.maximum.reduce(np.broadcast_arrays(*need)) if len(need) > 1 else need[0]


def _floors_static(rows, targets, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Per resource, the scale it needs with the others unlimited (closed form; ``prefix`` 'ideal_' for the
    pure roofline, which is affine; the realistic floors are refined by ``_static_solve``); and the times no
    hardware beats."""
    limitless = rows["limitless"]
    unbeatable = {f"{k}_s": limitless[f"{prefix}{k}"] for k in ("ttft", "tpot")}
    out = {}
    for r in RESOURCES:
        out[r] = _affine_scale(rows[r], limitless, targets, prefix)
    return out, unbeatable


POLISH_ITERATIONS = 16


def _polish(fwd: Forward, scales: np.ndarray, eye: np.ndarray, targets, unlimited, nd: int) -> np.ndarray:
    """Refine closed-form scales where the realistic times are not exactly ``a / s + c`` (kernels at their device-time
    floor, ``genmodel.engine.efficiency``; an eager step at its host bound). ``scales``: one row per resource set
    (``eye``: which of RESOURCES take the scale; the others and the capacity unlimited); ``unlimited``: the times with
    everything unlimited (c). Each round solves the affine form through the times at the current scale, F(s) = max
    over targets of s (t(s) - c) / (T - c) (a fixed point exactly where the binding target is met; F(s) <= s exactly
    where the scale meets every target), and steps to the zero of F(s) - s through the last two rounds (secant; F(s)
    itself on the first round, or where the secant step is not finite and positive within a factor 2 of s and F(s)),
    until F(s) is within 1e-6 of s or after ``POLISH_ITERATIONS`` rounds. The rounds keep a bracket, the largest scale
    seen to miss and the smallest seen to meet; a step outside it (F(s) = 0 where every kernel sits at its floor, so
    t(s) = c) goes to its geometric middle instead, or halves (doubles) the scale while no scale is known to miss
    (meet); a row that has not converged returns the smallest scale seen to meet. A closed-form 0 (a = 0: the resource
    did not show at the reference, e.g. under an eager step's host bound) is tried at ``MIN_SCALE`` in the first round:
    it stays 0 (the resource does not matter) where that meets, else it is solved between ``MIN_SCALE`` and the
    reference. Scales that are inf (unreachable) stay, as do scales outside the what-if range the forward model takes
    (``MIN_SCALE`` to ``BIG``: below a millionth of the reference every kernel is bound by the resource, far from its
    device-time floor, so the closed form is exact there; this happens for loose targets, a day)."""
    shape = (len(eye),) + (1,) * nd
    s = np.asarray(scales, dtype=float)

    def times(at):
        return fwd(*(np.where(eye[:, i].reshape(shape), at, BIG) for i in range(len(RESOURCES))), capacity=BIG)

    miss = np.zeros_like(s)  # the largest scale seen to miss (0: none)
    meet = np.full_like(s, np.inf)  # the smallest scale seen to meet (inf: none)
    probe = s == 0.0  # a resource hidden at the reference: the first round tries it at MIN_SCALE (does it matter?)
    previous = None  # (scale, F(scale) - scale) of the round before
    unsettled = np.zeros(s.shape, dtype=bool)  # live rows not converged in the last round
    for _ in range(POLISH_ITERATIONS):
        live = np.isfinite(s) & (s >= MIN_SCALE) & (s <= BIG)
        if not (live | probe).any():
            break
        at = np.where(live, s, np.where(probe, MIN_SCALE, 1.0))
        fixed = at * _affine_scale(times(at), unlimited, targets)  # the closed form through the times at ``at``
        with np.errstate(divide="ignore", invalid="ignore"):
            met = fixed <= at
            # where MIN_SCALE misses, a probed resource matters: it is solved between there and the reference
            matters = probe & ~met
            if matters.any():
                miss, meet = np.where(matters, MIN_SCALE, miss), np.where(matters, 1.0, meet)
                s = np.where(matters, np.sqrt(MIN_SCALE), s)
            probe = np.zeros_like(probe)
            met = live & met
            meet = np.where(met, np.minimum(meet, at), meet)
            miss = np.where(live & ~met, np.maximum(miss, at), miss)
            unsettled = live & ~(np.abs(fixed / at - 1.0) <= 1e-6)
            if not (unsettled | matters).any():
                return np.where(live, fixed, s)
            gap = fixed - at
            step = fixed
            if previous is not None:
                secant = at - gap * (at - previous[0]) / (gap - previous[1])
                sane = (np.isfinite(secant) & (secant > 0) & (secant >= np.minimum(at, fixed) / 2)
                        & (secant <= np.maximum(at, fixed) * 2))
                step = np.where(sane, secant, fixed)
            inside = ~unsettled | (np.isfinite(step) & (step > miss) & (step <= meet))
            fallback = np.where(np.isfinite(meet) & (miss > 0), np.sqrt(miss * meet), np.where(met, at / 2, at * 2))
            step = np.where(inside, step, fallback)
        previous = (at, gap)
        s = np.where(live, step, s)
    # rounds exhausted: a row still moving returns the smallest scale seen to meet its targets
    return np.where(unsettled & np.isfinite(meet), meet, s)


def _floors(fwd: Forward, targets, ideal: bool, with_scaled: bool = False, nd: int | None = None):
    """Served traffic: per resource, the scale it needs with the others unlimited, by one stacked bisection (the
    three resources, and with ``with_scaled`` the whole vector scaled together, on a leading axis; ``nd``: the
    configuration dimensions after it, when layouts are arrays)."""
    nd = _ndim(targets, fwd) if nd is None else nd
    limitless = fwd(BIG, BIG, BIG, BIG, ideal=ideal)
    unbeatable = {f"{k}_s": limitless[k] for k in ("ttft", "tpot")}
    rows = len(RESOURCES) + (1 if with_scaled else 0)
    eye = np.eye(rows, len(RESOURCES), dtype=bool)
    if with_scaled:
        eye[-1, :] = True
    shape = (rows,) + (1,) * nd

    def evaluate(s):
        cols = [np.where(eye[:, i].reshape(shape), s, BIG) for i in range(len(RESOURCES))]
        cap = np.where(eye.all(axis=1).reshape(shape), s, BIG) if with_scaled else BIG
        return fwd(*cols, capacity=cap, ideal=ideal)

    need = _bisect(evaluate, targets, shape=shape)
    out = {r: need[i] for i, r in enumerate(RESOURCES)}
    if with_scaled:
        out["scaled"] = need[-1]
    return out, unbeatable


def _meets(res: dict[str, np.ndarray], targets, slack: float = 1.0) -> np.ndarray:
    ok = np.asarray(True)
    for k in ("ttft", "tpot"):
        if targets[k] is not None:
            ok = ok & (np.asarray(res[k]) <= np.asarray(targets[k]) * slack)
    return ok


def _bisect(evaluate, targets, lo=1e-4, hi=BIG, iterations: int = 34, shape=()) -> np.ndarray:
    """The smallest scale s in [lo, hi] whose evaluation meets the targets (geometric bisection, vectorized; the
    relative precision is (hi / lo) ** (2 ** -iterations), under 1e-9)."""
    lo_, hi_ = np.log(lo), np.log(hi)
    ok_hi = _meets(evaluate(np.full(shape, hi)), targets)
    shape = np.shape(ok_hi)
    _, b = bisect(lambda mid: _meets(evaluate(np.exp(mid)), targets), np.full(shape, lo_), np.full(shape, hi_),
                  iterations, up=False, max_points=BISECT_POINTS)
    return np.where(ok_hi, np.exp(b), np.inf)


def _capacity_affine(one, two) -> np.ndarray:
    """The capacity scale at which the usable memory equals the footprint (usable is affine in the scale)."""
    slope = np.asarray(two["usable"], dtype=float) - np.asarray(one["usable"], dtype=float)
    intercept = np.asarray(one["usable"], dtype=float) - slope
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(slope > 0, (np.asarray(one["footprint"], dtype=float) - intercept) / slope, np.inf)


def _latency_floor(fwd: Forward, targets, hw, platform, rows) -> tuple[np.ndarray, np.ndarray]:
    """(realistic, ideal) largest link latency meeting the targets with every bandwidth and the compute unlimited:
    the step is c + m L in the latency L, so the reference latencies and zero latencies give c and m."""
    zero = _with_latency(hw, platform, 0.0)
    t0 = fwd(BIG, BIG, BIG, BIG, hardware=zero)
    served = "limitless" not in rows
    t1 = fwd(BIG, BIG, BIG, BIG) if served else rows["limitless"]
    link = hw.scale_up or hw.scale_out
    L = float(link.latency_s) if link is not None else 0.0
    if served:  # served traffic: the ideal twin needs its own evaluations
        t0i, t1i = fwd(BIG, BIG, BIG, BIG, hardware=zero, ideal=True), fwd(BIG, BIG, BIG, BIG, ideal=True)
        pairs = {"": (t0, t1), "ideal_": ({"ttft": t0i["ttft"], "tpot": t0i["tpot"]},
                                          {"ttft": t1i["ttft"], "tpot": t1i["tpot"]})}
    else:
        pairs = {"": (t0, t1), "ideal_": ({k: t0[f"ideal_{k}"] for k in ("ttft", "tpot")},
                                          {k: t1[f"ideal_{k}"] for k in ("ttft", "tpot")})}
    result = []
    for _, (a0, a1) in pairs.items():
        allowed = []
        for k in ("ttft", "tpot"):
            if targets[k] is None:
                continue
            m = (np.asarray(a1[k]) - np.asarray(a0[k])) / max(L, 1e-300)
            with np.errstate(divide="ignore", invalid="ignore"):
                allowed.append(np.where(m > 0, (np.asarray(targets[k]) - np.asarray(a0[k]))
                                        / np.where(m > 0, m, 1.0), np.inf))
        out = np.minimum.reduce(np.broadcast_arrays(*allowed)) if len(allowed) > 1 else allowed[0]
        result.append(np.maximum(out, 0.0))
    return result[0], result[1]


def _with_latency(hw, platform, factor: float):
    """The reference with every link latency multiplied by ``factor``."""
    update = {t: getattr(hw, t).model_copy(update={"latency_s": getattr(hw, t).latency_s * factor})
              for t in ("scale_up", "scale_out") if getattr(hw, t) is not None}
    device = hw.model_copy(update=update)
    if platform is None:
        return device
    from genmodel.specs.platform import PlatformSpec  # noqa: F401  (type only)

    fields = {}
    for t in ("scale_up", "scale_out"):
        tier = getattr(platform, t, None)
        if tier is not None:
            fields[t] = tier.model_copy(update={"latency_s": tier.latency_s * factor})
    return platform.model_copy(update={**fields, "device": device} if "device" in type(platform).model_fields
                               else fields)


def _scaled_reference(fwd: Forward, targets, cap_scale, k_time, devices: int) -> dict[str, Any]:
    """The smallest k scaling every resource of the reference (``k_time``: the factor the times need, static: the
    closed form refined, ``_static_solve``; served traffic: the stacked bisection, the capacity scaled too as it
    bounds the batch), and each resource alone."""
    k = np.maximum(k_time, cap_scale)
    alone = _alone(fwd, RESOURCES if devices > 1 else RESOURCES[:2], targets)
    if devices == 1:  # one device: no link to scale
        alone["interconnect"] = np.zeros_like(np.asarray(k, dtype=float))
    return {"scale_factor": k, "time_factor": k_time, "capacity_factor": cap_scale, "alone": alone}


def _static_solve(fwd: Forward, rows, target_sets: dict[str, dict], nd: int,
                  resources: bool = True) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Static batch: for each named set of targets, each resource's floor with the others unlimited and the factor
    k on the whole vector, from the closed forms (``_affine_scale``) refined together by one ``_polish`` (a row per
    resource and one for the whole vector, per set). ``resources=False``: the factor k only (the floors are then
    empty)."""
    each = [np.eye(len(RESOURCES), dtype=bool)] if resources else []
    eye = np.vstack([*each, np.ones((1, len(RESOURCES)), dtype=bool)])  # per set: each resource alone, then all
    start, stacked = [], {"ttft": [], "tpot": []}
    for targets in target_sets.values():
        closed = [_affine_scale(rows[r], rows["limitless"], targets) for r in RESOURCES] if resources else []
        closed.append(_affine_scale(rows["ones"], rows["limitless"], targets))
        start += closed
        for k in stacked:
            stacked[k] += [targets[k]] * len(closed)
    shape = np.broadcast_shapes(*(np.shape(x) for x in start))
    scales = np.stack([np.broadcast_to(np.asarray(x, dtype=float), shape) for x in start])
    goals = {k: None if v[0] is None else np.stack([np.broadcast_to(np.asarray(t, dtype=float), shape) for t in v])
             for k, v in stacked.items()}
    polished = _polish(fwd, scales, np.vstack([eye] * len(target_sets)), goals, rows["limitless"], nd)
    n, out = len(eye), {}
    for i, name in enumerate(target_sets):
        block = polished[i * n:(i + 1) * n]
        out[name] = ({r: block[j] for j, r in enumerate(RESOURCES)} if resources else {}, block[-1])
    return out


def _alone(fwd: Forward, resources: Sequence[str], targets) -> dict[str, np.ndarray]:
    """For each resource, the smallest scale of it alone, the others at the reference: every resource's log grid in
    one call (stacked on a leading axis), then a finer grid between the last miss and the first hit (one more
    call); inf where no scale meets the targets."""
    nd = _ndim(targets, fwd)
    k = len(resources)

    def hits(grid):  # grid: (points,) or (points, k, *targets) -> meets, (points, k, *targets)
        g = grid.reshape((-1, 1) + (1,) * nd) if grid.ndim == 1 else grid
        scales = {r: np.where(np.arange(k).reshape((1, k) + (1,) * nd) == i, g, 1.0) for i, r in
                  enumerate(resources)}
        res = fwd(**scales)
        return np.broadcast_to(np.asarray(_meets(res, targets), dtype=bool), np.broadcast_shapes(
            np.shape(_meets(res, targets)), (g.shape[0], k) + (1,) * nd))

    ok = hits(GRID)
    first = np.where(ok.any(axis=0), ok.argmax(axis=0), -1)
    lo = GRID[np.maximum(first - 1, 0)]
    hi = GRID[np.maximum(first, 0)]
    steps = np.linspace(0.0, 1.0, 33).reshape((-1,) + (1,) * first.ndim)
    fine = lo[None] * (hi / lo)[None] ** steps
    okf = np.broadcast_to(hits(fine), fine.shape)
    best = np.take_along_axis(fine, okf.argmax(axis=0)[None, ...], 0)[0]
    best = np.where(okf.any(axis=0), best, hi)
    out = np.where(first > 0, best, np.where(first == 0, GRID[0], np.inf))
    return {r: out[i] for i, r in enumerate(resources)}


def _ndim(targets, fwd: Forward | None = None) -> int:
    """Dimensions of the configuration arrays: the targets', and the lengths' and batch's when given."""
    dims = [np.ndim(v) for v in targets.values() if v is not None]
    if fwd is not None:
        dims += [np.ndim(fwd.I), np.ndim(fwd.O), np.ndim(fwd.batch) if fwd.batch is not None else 0]
    return max(dims, default=0)


def _compare(fwd: Forward, name: str, realistic: dict[str, Any], targets) -> dict[str, Any]:
    """A named device on the same layout: available / required per resource, and whether it meets everything."""
    hw, platform = _named_hardware(name, "compare")
    dt = resolve_dtypes(hw, fwd.dtypes["weight_dtype"], fwd.dtypes["activation_dtype"], fwd.dtypes["kv_dtype"])
    have = _resources(hw, dt.activation)
    res = fwd(hardware=platform or hw)
    ratios = {}
    for r in (*RESOURCES, "capacity"):
        need = np.asarray(realistic[KEYS[r]], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios[f"{r}_ratio"] = np.where(need > 0, have[r] / need, np.inf)
    fits = np.asarray(res["fits"], dtype=bool)
    return {**ratios, "fits": fits, "meets": fits & _meets(res, targets), "ttft_s": res["ttft"], "tpot_s": res["tpot"]}


def frontier(result: Requirements, x: str = "flops", y: str = "bandwidth", points: int = 24) -> dict[str, np.ndarray]:
    """The (x, y) resource pairs that just meet the targets, the third resource at the reference: for ``points``
    values of x from its floor to 16 times it, the smallest y (a log-grid search refined once). SI units. The x
    values stay within the what-if scales the forward model takes (a millionth to a million times the reference)."""
    if not isinstance(result, Requirements) or result.forward is None:
        raise InputTypeError(f"result must be what requirements() returns, got {type(result).__name__}", "result")
    x, y = choice("x", x, RESOURCES), choice("y", y, RESOURCES)
    if x == y:
        raise ConfigurationError(f"y must be another resource than x ({x!r}): a frontier pairs two of "
                                 f"{', '.join(RESOURCES)}", "y")
    points = int(scalar("points", whole("points", points, 1, MAX_POINTS)))
    fwd = result.forward
    targets = {"ttft": result.settings["ttft_target_s"], "tpot": result.settings["tpot_target_s"]}
    if np.ndim(targets["ttft"] or 0) or np.ndim(targets["tpot"] or 0):
        raise ConfigurationError("a frontier is drawn for one pair of targets, not arrays of them", "frontier")
    hw = result.reference_spec if result.reference_spec is not None else resolve_hardware(result.reference)[0]
    ref = _resources(hw, result.settings["compute_dtype"])
    floor = float(np.asarray(result.realistic[KEYS[x]], dtype=float)) / ref[x]
    if not np.isfinite(floor):
        raise ConfigurationError(f"x: no {x} meets the targets even with the others unlimited (its floor is "
                                 "unbounded): there is no frontier to draw", "x")
    start = min(max(floor * 1.0001, MIN_SCALE), BIG / 16.0)
    xs = start * np.geomspace(1.0, 16.0 / 1.0001, points)[:, None]
    ys = GRID[None, :]
    res = fwd(**{x: xs, y: ys})
    ok = np.asarray(_meets(res, targets), dtype=bool).reshape(points, len(GRID))
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), -1)
    lo = GRID[np.maximum(first - 1, 0)]
    hi = GRID[np.maximum(first, 0)]
    fine = lo[:, None] * (hi / lo)[:, None] ** np.linspace(0.0, 1.0, 33)[None, :]
    okf = np.asarray(_meets(fwd(**{x: xs, y: fine}), targets), dtype=bool).reshape(points, 33)
    best = np.where(okf.any(axis=1), fine[np.arange(points), okf.argmax(axis=1)], hi)
    best = np.where(first >= 0, best, np.inf)
    return {KEYS[x]: np.ravel(xs) * ref[x], KEYS[y]: best * ref[y]}
