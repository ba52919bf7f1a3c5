"""The boundary of the engine: every argument of ``estimate`` checked once and resolved into a ``Setup``.

Contract
--------
``prepare(...)`` takes ``estimate``'s arguments and returns a ``Setup``: the model, device, platform, datatypes,
parallel layout, realism, cost assumptions and power model, with batch, lengths and what-if scales as float
arrays broadcast to one configuration shape. It raises a ``GenmodelError`` naming the argument for anything
the engine cannot run: wrong types (``InputTypeError``), NaN, infinities, negative or fractional counts, empty
datatypes, a layout that does not divide the model, a context longer than the model's maximum, context
parallelism over more ranks than prompt tokens, a batch smaller than the attention data-parallel groups.
Every entry point (library, CLI, dashboard, planner, validation) goes through it, so all share the checks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from genmodel.data.registry import get_model, pin_environment, resolve_hardware, unpin_environment
from genmodel.economics.energy import PowerModel
from genmodel.economics.tco import CostAssumptions
from genmodel.engine.memo import IdentityCache
from genmodel.engine.operators import DTypes
from genmodel.engine.parallel import MAX_DEGREE, Parallelism, field_values
from genmodel.engine.realism import Realism, check_engine, resolve_engine, resolve_realism
from genmodel.errors import ConfigurationError, InputTypeError
from genmodel.specs.checks import MAX_BATCH, MAX_TOKENS, at_least, common_shape, flag, positive, scalar, whole
from genmodel.specs.dtypes import DTYPES, bytes_per_element, normalize_dtype
from genmodel.specs.engine import EngineSpec
from genmodel.specs.hardware import Efficiency, HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.specs.platform import PlatformSpec
from genmodel.specs.workload import DEFAULT_PREFILL_CHUNK_TOKENS, Workload

# MAX_BATCH and MAX_TOKENS (genmodel.specs.checks) keep every count exact in float64 and every product finite
MAX_REQUESTS_PER_S, MAX_COOLING_W_PER_W = 1e9, 1e5
MIN_SCALE, MAX_SCALE = 1e-6, 1e6  # what-if scales: a millionth to a million times the datasheet


@dataclass
class Setup:
    """Resolved, checked inputs of one ``estimate`` call (arrays broadcast to ``shape``)."""

    model: ModelSpec
    hw: HardwareSpec
    platform: PlatformSpec | None
    dtypes: DTypes
    par: Parallelism
    realism: Realism
    engine: EngineSpec
    costs: CostAssumptions
    power: PowerModel | None
    batch: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    flops_scale: np.ndarray
    bandwidth_scale: np.ndarray
    capacity_scale: np.ndarray
    interconnect_scale: np.ndarray | float
    prefill_chunk_tokens: float
    check_fit: bool
    requests_per_s: float | None
    shape: tuple[int, ...]

    @property
    def scalar(self) -> bool:
        return self.shape == ()

    def counts(self) -> tuple:
        """(batch, input_tokens, output_tokens) for arithmetic: for one configuration the NumPy scalars their 0-d
        arrays hold (``x[()]``; an operation on them gives the same number and type as on the array, at about a
        tenth of the cost), else the arrays as they are."""
        if self.shape:
            return self.batch, self.input_tokens, self.output_tokens
        return self.batch[()], self.input_tokens[()], self.output_tokens[()]


def default_activation_dtype(hw: HardwareSpec) -> str:
    """bf16 if the device has it, else fp16, else the widest datatype it lists."""
    for candidate in ("bf16", "fp16"):
        if hw.supports(candidate):
            return candidate
    return next(d for d in DTYPES if d in hw.peak_flops_per_s)


def dtype_argument(name: str, value: object) -> str | None:
    """The canonical datatype of argument ``name`` (None stays None); errors name the argument."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be a datatype name such as 'bf16', got {type(value).__name__}", name)
    if not value.strip():
        raise ConfigurationError(f"{name} is empty; give a datatype ({', '.join(DTYPES)}) or leave it out", name)
    return normalize_dtype(value, name)


def resolve_dtypes(hw: HardwareSpec, weight_dtype: str | None, activation_dtype: str | None,
                   kv_dtype: str | None, embedding_dtype: str | None = None) -> DTypes:
    """Fill in defaults and check that the device can run the resulting matrix datatypes.

    Defaults: activations bf16 (else fp16, else the device's widest); weights and KV cache as the activations;
    embedding and LM head as the weights, except that a quantized checkpoint (weights narrower than the
    activations) keeps them in the activation datatype, as published fp8/int4 checkpoints do. Resolved once per
    device spec object and datatype names (``genmodel.engine.memo``; the record is frozen and shared).
    """
    names = (weight_dtype, activation_dtype, kv_dtype, embedding_dtype)
    if all(n is None or type(n) is str for n in names):
        return _DTYPES.get((hw,), names, lambda: _resolve_dtypes(hw, *names))
    return _resolve_dtypes(hw, *names)


_DTYPES = IdentityCache(256)


def _resolve_dtypes(hw: HardwareSpec, weight_dtype, activation_dtype, kv_dtype, embedding_dtype) -> DTypes:
    act = dtype_argument("activation_dtype", activation_dtype) or default_activation_dtype(hw)
    weight = dtype_argument("weight_dtype", weight_dtype) or act
    embed = dtype_argument("embedding_dtype", embedding_dtype)
    if embed is None:
        embed = act if bytes_per_element(weight) < bytes_per_element(act) else weight
    dtypes = DTypes(weight=weight, activation=act, kv=dtype_argument("kv_dtype", kv_dtype) or act, embedding=embed)
    for role, needed in (("matrix multiplies", dtypes.gemm), ("attention", dtypes.attention),
                         ("the LM head", dtypes.head)):
        if not hw.supports(needed):
            have = ", ".join(hw.peak_flops_per_s)
            raise ConfigurationError(
                f"{hw.name} has no {needed} throughput for {role} (it lists: {have}). Weights, activations and "
                f"KV are {dtypes.weight}/{dtypes.activation}/{dtypes.kv}; math runs at the wider of weight and "
                f"activation datatypes. Use --activation-dtype with one of: {have} (a narrower --weight-dtype "
                f"then runs as weight-only quantization), or choose hardware with {needed}.", "activation_dtype")
    return dtypes


def check_context(model: ModelSpec, input_tokens, output_tokens, cp=1.0) -> None:
    """``ConfigurationError`` unless input + output fits the model's context and cp does not exceed the prompt."""
    if np.ndim(input_tokens) == 0 and np.ndim(output_tokens) == 0 and np.ndim(cp) == 0:
        # one configuration: the same comparisons on floats (the checked path below words any error)
        i = float(input_tokens)
        if not (i + float(output_tokens) > model.max_context_tokens or float(cp) > i):
            return
    I, O = np.asarray(input_tokens, dtype=float), np.asarray(output_tokens, dtype=float)
    longest = I + O
    if np.any(longest > model.max_context_tokens):
        bad = longest[longest > model.max_context_tokens].flat[0]
        raise ConfigurationError(
            f"input_tokens + output_tokens = {int(bad):,} exceeds the {model.max_context_tokens:,}-token maximum "
            f"context of {model.name}; shorten the prompt or the output", "input_tokens")
    cp = np.asarray(cp, dtype=float)
    if np.any(cp > I):
        raise ConfigurationError(f"cp {int(np.max(cp))} exceeds the {int(np.min(I))} prompt tokens to split; "
                                 "use a smaller cp (context parallelism splits the prompt)", "cp")


def _whole(name: str, value: object, minimum: int, maximum: float) -> np.ndarray:
    """``whole(name, value, minimum, maximum)``; a plain int in range becomes the same 0-d float array directly."""
    if type(value) is int and minimum <= value <= maximum:
        return np.array(float(value))
    return whole(name, value, minimum, maximum)


def _at_least(name: str, value: object, minimum: float, maximum: float) -> np.ndarray:
    """``at_least(name, value, minimum, maximum)``; a plain number in range becomes the same 0-d float array directly
    (NaN fails the comparison and takes the checked path)."""
    if (type(value) is float or type(value) is int) and minimum <= value <= maximum:
        return np.array(float(value))
    return at_least(name, value, minimum, maximum)


def _read_only(x: np.ndarray) -> np.ndarray:
    """A read-only view of a 0-d array: what ``np.broadcast_to(x, ())`` gives, without its cost."""
    view = x.view()
    view.flags.writeable = False
    return view


def _check_layout(parallel: Parallelism, model: ModelSpec, num_devices: int | None) -> None:
    """``parallel.check(model, num_devices)``, done once per model spec object and layout of plain Python numbers
    (immutable: ``Parallelism._memo``); a layout holding arrays is checked on every call."""
    if parallel.__dict__.get("_derived") is None:
        parallel.check(model, num_devices)
        return
    values = field_values(parallel)
    _CHECKED.get((model,), (*values, num_devices), lambda: parallel.check(model, num_devices) or True)


_CHECKED = IdentityCache(256)


@functools.cache
def _default_costs() -> CostAssumptions:
    """The default assumptions, made once (the record is frozen and holds numbers only)."""
    return CostAssumptions()


def _typed(name: str, value: object, cls: type, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, cls):
        article = "an" if cls.__name__[0] in "AEIOU" else "a"
        raise InputTypeError(f"{name} must be {article} {cls.__name__}{' or None' if optional else ''}, got "
                             f"{type(value).__name__}", name)


_LAYOUT_ARRAYS = ("tp", "pp", "ep", "dp", "cp", "attention_dp", "expert_imbalance", "comm_overlap", "micro_batches")


def _default(value: object, default: object) -> bool:
    """Whether an argument holds its default (None, or the same plain number): a value given in its place."""
    if default is None:
        return value is None
    return type(value) in (int, float) and value == default


def prepare(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype, activation_dtype, *,
            embedding_dtype, parallel: Parallelism, num_devices, prefill_chunk_tokens, flops_scale,
            bandwidth_scale, capacity_scale, interconnect_scale, check_fit, workload, costs, requests_per_s,
            efficiency, calibrated, cooling_w_per_w, engine=None, check_batch: bool = True) -> Setup:
    """Check and resolve ``estimate``'s arguments (see the module docstring). The names are looked up in the
    databases of one reading of the environment (``pin_environment``). ``check_batch=False``: the batch is a
    placeholder (``serve``'s traffic sets the sequences), not checked against the attention data-parallel groups."""
    token = pin_environment()
    try:
        return _prepare(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                        activation_dtype, embedding_dtype, parallel, num_devices, prefill_chunk_tokens, flops_scale,
                        bandwidth_scale, capacity_scale, interconnect_scale, check_fit, workload, costs,
                        requests_per_s, efficiency, calibrated, cooling_w_per_w, engine, check_batch)
    finally:
        unpin_environment(token)


def _prepare(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype, activation_dtype,
             embedding_dtype, parallel: Parallelism, num_devices, prefill_chunk_tokens, flops_scale, bandwidth_scale,
             capacity_scale, interconnect_scale, check_fit, workload, costs, requests_per_s, efficiency, calibrated,
             cooling_w_per_w, engine, check_batch: bool = True) -> Setup:
    """``prepare`` (its arguments in order)."""
    _typed("workload", workload, Workload)
    _typed("costs", costs, CostAssumptions)
    _typed("efficiency", efficiency, Efficiency)
    _typed("parallel", parallel, Parallelism, optional=False)
    check_fit, calibrated = flag("check_fit", check_fit), flag("calibrated", calibrated)
    if workload is not None:
        given = [name for name, value, default in (
            ("batch", batch, 1), ("input_tokens", input_tokens, 1024), ("output_tokens", output_tokens, 256),
            ("weight_dtype", weight_dtype, None), ("kv_dtype", kv_dtype, None),
            ("activation_dtype", activation_dtype, None),
            ("prefill_chunk_tokens", prefill_chunk_tokens, DEFAULT_PREFILL_CHUNK_TOKENS))
                 if not _default(value, default)]
        if given:
            raise ConfigurationError(f"workload replaces {', '.join(given)}: give them in the Workload or without "
                                     "one, not both", "workload")
        batch, input_tokens, output_tokens = workload.batch, workload.input_tokens, workload.output_tokens
        weight_dtype, kv_dtype = workload.weight_dtype, workload.kv_dtype
        activation_dtype, prefill_chunk_tokens = workload.activation_dtype, workload.prefill_chunk_tokens
    model = get_model(model)
    hw, platform = resolve_hardware(hardware)
    check_engine(engine)
    engine_spec = resolve_engine(hw, engine)
    realism = resolve_realism(hw, efficiency, calibrated, engine_spec)
    B = _whole("batch", batch, 1, MAX_BATCH)
    I = _whole("input_tokens", input_tokens, 1, MAX_TOKENS)
    O = _whole("output_tokens", output_tokens, 1, MAX_TOKENS)
    scales = [_at_least(n, v, MIN_SCALE, MAX_SCALE) for n, v in (
        ("flops_scale", flops_scale), ("bandwidth_scale", bandwidth_scale), ("capacity_scale", capacity_scale))]
    link = _at_least("interconnect_scale", interconnect_scale, MIN_SCALE, MAX_SCALE)
    chunk = scalar("prefill_chunk_tokens", _whole("prefill_chunk_tokens", prefill_chunk_tokens, 1, MAX_TOKENS))
    # a fleet's request rate up to 1e9 per second (far above any service); a cryogenic device's cooling up to 1e5 W
    # per W dissipated (4 K cryocoolers take about 10^3-10^4)
    rate = None if requests_per_s is None else scalar("requests_per_s", positive("requests_per_s", requests_per_s,
                                                                                 MAX_REQUESTS_PER_S))
    if num_devices is not None:
        num_devices = int(scalar("num_devices", whole("num_devices", num_devices, 1, MAX_DEGREE)))
    if cooling_w_per_w is not None:
        cooling_w_per_w = scalar("cooling_w_per_w", at_least("cooling_w_per_w", cooling_w_per_w, 0.0,
                                                             MAX_COOLING_W_PER_W))
    if B.ndim or I.ndim or O.ndim or np.ndim(link) or any(x.ndim for x in scales) or \
            parallel.__dict__.get("_derived") is None:  # (arrays somewhere: do their shapes go together?)
        common_shape([("batch", B), ("input_tokens", I), ("output_tokens", O),
                      *zip(("flops_scale", "bandwidth_scale", "capacity_scale"), scales, strict=True),
                      ("interconnect_scale", link), *((f, getattr(parallel, f)) for f in _LAYOUT_ARRAYS)])
    if engine_spec.pads_heads and not parallel.head_ranks:  # heads padded per rank (Neuron: one per NeuronCore)
        parallel = replace(parallel, head_ranks=hw.microarchitecture.tensor_parallel_ranks or 1)
    _check_layout(parallel, model, num_devices)
    dtypes = resolve_dtypes(hw, weight_dtype, activation_dtype, kv_dtype, embedding_dtype)

    check_context(model, I, O, np.asarray(parallel.cp, dtype=float))
    shapes = (B.shape, I.shape, O.shape, *(s.shape for s in scales), np.shape(link), parallel.shape)
    shape = () if not any(shapes) else np.broadcast_shapes(*shapes)
    groups = parallel.attention_groups
    if check_batch and shape == () and float(B) < float(groups):
        raise ConfigurationError(f"batch {int(B)} is smaller than the {int(groups)} attention data-parallel "
                                 f"groups: give each group at least one sequence (batch >= {int(groups)})", "batch")
    B, I, O = (_read_only(x) if shape == () == x.shape else np.broadcast_to(x, shape) for x in (B, I, O))
    return Setup(model, hw, platform, dtypes, parallel, realism, engine_spec, costs or _default_costs(),
                 PowerModel.of(hw, cooling_w_per_w), B, I, O, *scales, link, chunk, check_fit, rate, shape)
