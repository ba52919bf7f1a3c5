"""Kernel-level times: one GEMM launch, one MoE layer, one attention call, by the engine step's own physics.

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

``moe_layer_time_s(hardware, experts, intermediate, hidden, top_k, tokens, dtype="bf16", weight_dtype=None,
engine=None, calibrated=True)`` returns the seconds one MoE layer's routed experts take on one device for ``tokens``
tokens, as a fused-MoE kernel benchmark times the call (vLLM's ``benchmark_moe.py``, SGLang's tuning script): the
sum of the engine step's own rows for that layer (``genmodel.engine.operators``: ``MOE_LAYER_ROWS``, the routing's
top-k and grouping, the two grouped GEMMs with the activation between them, the weighted combine), each at its time
in the step: its kernel time and the engine's gap per kernel (the benchmarks time calls replayed from a CUDA graph,
gaps included), for a layer of ``experts`` experts of ``intermediate`` columns each (per device: a TP
shard's width, an EP shard's experts), ``hidden`` wide, each token routed to ``top_k`` of them; no router GEMM and no
shared expert (the benchmarks hand the call its router scores). It is the step's prefill of one sequence of
``tokens`` tokens on ``engine`` (default: the device's), so an engine that pads prompts to compiled lengths pays for
the padded tokens. ``tokens`` may be an array; a single value gives a float.

``attention_time_s(hardware, phase, batch, tokens, heads, kv_heads=None, head_dim=128, mla=False, dtype="bf16",
kv_dtype=None, engine=None, calibrated=True, queries=1)`` returns the seconds of one layer's attention call: the step's
own attention rows of a one-layer model, without the gap between kernels (a kernel benchmark's per-call time), for
``batch`` decode sequences each attending ``tokens`` cached keys with ``queries`` new queries (more than one: a
speculative verify step), or ``batch`` causal prompts of ``tokens`` tokens (``phase``); ``mla`` takes DeepSeek-V3's
latent attention.

``all_reduce_time_s(hardware, devices, message_bytes)`` returns the seconds of one all-reduce as a step charges a
tensor-parallel one (``genmodel.engine.collectives.all_reduce`` on the device's network).

These are the checks of the GEMM, MoE, attention and all-reduce physics against published kernel timings
(docs/formulas.md, "Checked against published kernel timings"; ``validation/kernels.csv``,
``validation/moe_layers.csv``, ``validation/attention_kernels.csv``, ``validation/all_reduce.csv``).
"""

from __future__ import annotations

import functools

import numpy as np

from genmodel.data.registry import get_hardware
from genmodel.engine.efficiency import Physics, compute_fractions
from genmodel.engine.operators import OperatorTable
from genmodel.engine.realism import resolve_realism
from genmodel.engine.roofline import time_operators
from genmodel.errors import ConfigurationError
from genmodel.specs.checks import at_least, positive, whole
from genmodel.specs.dtypes import bytes_per_element, normalize_dtype
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec

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


def _counts(**values) -> None:
    """Refuse any of the named shape arguments that is not a whole number (a Python or NumPy integer) >= 1."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigurationError(f"{name} must be a whole number >= 1, got {value!r}", argument=name)


MOE_LAYER_ROWS = ("moe_route", "experts_up", "experts_act", "experts_down", "moe_combine")


@functools.lru_cache(maxsize=64)
def moe_layer_model(experts: int, intermediate: int, hidden: int, top_k: int) -> ModelSpec:
    """A one-layer model whose MoE layer has these shapes (gated SwiGLU experts, no shared expert); its attention
    (8 heads of 128) does not enter ``moe_layer_time_s``."""
    return ModelSpec(name=f"moe-layer-e{experts}-n{intermediate}-k{hidden}-top{top_k}", display_name="one MoE layer",
                     family="moe-layer", hidden_size=hidden, num_layers=1, vocab_size=32_000,
                     max_context_tokens=1 << 20,
                     attention={"num_heads": 8, "num_kv_heads": 8, "head_dim": 128},
                     ffn={"intermediate_size": intermediate, "gated": True},
                     moe={"num_experts": experts, "experts_per_token": top_k,
                          "expert_intermediate_size": intermediate},
                     source="the shapes of a published fused-MoE kernel benchmark")


def moe_layer_time_s(hardware: str | HardwareSpec, experts: int, intermediate: int, hidden: int, top_k: int, tokens,
                     dtype: str = "bf16", weight_dtype: str | None = None, engine: str | None = None,
                     calibrated: bool = True):
    """Seconds of one MoE layer's routed experts on one device for ``tokens`` tokens (module docstring)."""
    from genmodel.engine.estimate import estimate  # (the estimate imports the engine this module is part of)

    _counts(experts=experts, intermediate=intermediate, hidden=hidden, top_k=top_k)
    if top_k > experts:
        raise ConfigurationError(f"top_k ({top_k}) cannot exceed experts ({experts})", argument="top_k")
    t = at_least("tokens", tokens, 1.0)
    model = moe_layer_model(int(experts), int(intermediate), int(hidden), int(top_k))
    r = estimate(model, hardware, batch=1, input_tokens=t, output_tokens=2, weight_dtype=weight_dtype or dtype,
                 activation_dtype=dtype, kv_dtype="bf16", engine=engine, calibrated=calibrated, check_fit=False)
    table, real = r.prefill.table, r.prefill.real
    rows = [i for i, name in enumerate(table.names) if name in MOE_LAYER_ROWS]
    time = real.time_s[rows].sum(axis=0)
    return float(time) if time.shape == () else time.reshape(t.shape)


ATTENTION_ROWS = ("attn_scores", "attn_values", "attn_softmax")
MLA_LATENT = {"kv_lora_rank": 512, "qk_rope_head_dim": 64, "qk_nope_head_dim": 128, "v_head_dim": 128,
              "q_lora_rank": 1536}  # DeepSeek-V2/V3's latent attention (their config.json)


@functools.lru_cache(maxsize=64)
def attention_layer_model(heads: int, kv_heads: int, head_dim: int, mla: bool = False) -> ModelSpec:
    """A one-layer dense model with this attention (GQA: ``heads`` query heads over ``kv_heads`` of ``head_dim``;
    ``mla``: DeepSeek-V3's latent attention with ``heads`` query heads, ``kv_heads`` and ``head_dim`` unused); its
    FFN does not enter ``attention_time_s``."""
    hidden = 7168 if mla else heads * head_dim
    attention = ({"num_heads": heads, "mla": MLA_LATENT} if mla else
                 {"num_heads": heads, "num_kv_heads": kv_heads, "head_dim": head_dim})
    return ModelSpec(name=f"attention-h{heads}-kv{kv_heads}-d{head_dim}{'-mla' if mla else ''}",
                     display_name="one attention layer", family="attention-layer", hidden_size=hidden, num_layers=1,
                     vocab_size=32_000, max_context_tokens=1 << 22, attention=attention,
                     ffn={"intermediate_size": 4 * hidden, "gated": True},
                     source="the shapes of a published attention kernel benchmark")


def attention_time_s(hardware: str | HardwareSpec, phase: str, batch, tokens, heads: int, kv_heads: int | None = None,
                     head_dim: int = 128, mla: bool = False, dtype: str = "bf16", kv_dtype: str | None = None,
                     engine: str | None = None, calibrated: bool = True, queries: int = 1):
    """Seconds of one layer's attention kernel on one device, as a kernel benchmark times one call (no gap between
    kernels): the engine step's own attention rows (``ATTENTION_ROWS``) of a one-layer model. ``phase="decode"``:
    ``batch`` sequences each attending ``tokens`` cached keys with ``queries`` new queries (the decode step at that
    context; more than one: a speculative verify step's, ``genmodel.engine.step.Stepper.step`` with that many new
    tokens); ``phase="prefill"``: ``batch`` causal prompts of ``tokens`` tokens each. ``kv_heads`` defaults to
    ``heads`` (MHA); ``mla`` takes DeepSeek-V3's latent attention with ``heads`` query heads. Arrays of ``batch`` and
    ``tokens`` broadcast; a single configuration gives a float."""
    from genmodel.engine.estimate import estimate  # (the estimate imports the engine this module is part of)

    if phase not in ("decode", "prefill"):
        raise ConfigurationError(f"phase must be 'decode' or 'prefill', got {phase!r}", argument="phase")
    kv_heads = heads if kv_heads is None else kv_heads
    _counts(heads=heads, kv_heads=kv_heads, head_dim=head_dim)
    if not mla and heads % kv_heads:
        raise ConfigurationError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})", argument="kv_heads")
    b, t = whole("batch", batch), whole("tokens", tokens)
    q = int(whole("queries", queries))
    if q > 1 and phase != "decode":
        raise ConfigurationError("queries > 1 describes a decode (verify) step", argument="queries")
    if phase == "decode" and np.any(t < q + 1):
        raise ConfigurationError("a decode step attends at least its new tokens and one cached key",
                                 argument="tokens")
    shape = np.broadcast_shapes(b.shape, t.shape)
    b, t = np.broadcast_to(b, shape).ravel(), np.broadcast_to(t, shape).ravel()
    model = attention_layer_model(int(heads), int(kv_heads), int(head_dim), bool(mla))
    if q > 1:  # a verify step of q new tokens per sequence, each query attending about tokens keys
        step = _verify_step(model, hardware, b, t, q, dtype, kv_dtype or dtype, engine, calibrated)
    else:
        # decode: the prompt holds tokens - 1 keys, and the one decode step of a 2-token output attends tokens keys
        r = estimate(model, hardware, batch=b, input_tokens=t - 1 if phase == "decode" else t, output_tokens=2,
                     weight_dtype=dtype, activation_dtype=dtype, kv_dtype=kv_dtype or dtype, engine=engine,
                     calibrated=calibrated, check_fit=False)
        step = r.decode if phase == "decode" else r.prefill
    table, real = step.table, step.real
    rows = [i for i, name in enumerate(table.names) if name in ATTENTION_ROWS]
    times = real.time_s[rows] - real.overhead_s[rows]
    if phase == "decode":
        times = times[:, 0]  # the mean step (the final one is the same step here)
    time = np.broadcast_to(times.sum(axis=0), b.shape).reshape(shape)
    return float(time) if time.shape == () else time


def _verify_step(model: ModelSpec, hardware, b: np.ndarray, t: np.ndarray, q: int, dtype: str, kv_dtype: str,
                 engine: str | None, calibrated: bool):
    """The decode step (``Stepper.step``) of ``b`` sequences with ``q`` new tokens each over ``t`` keys, on one device:
    what ``attention_time_s`` reads for a verify step (``estimate`` decodes one token per step)."""
    from genmodel.engine.estimate import _memory
    from genmodel.engine.inputs import prepare
    from genmodel.engine.parallel import SINGLE_DEVICE
    from genmodel.engine.step import Stepper
    from genmodel.specs.workload import DEFAULT_PREFILL_CHUNK_TOKENS

    s = prepare(model, hardware, b, t - q, 2, dtype, kv_dtype, dtype, embedding_dtype=None,
                parallel=SINGLE_DEVICE, num_devices=None, prefill_chunk_tokens=DEFAULT_PREFILL_CHUNK_TOKENS,
                flops_scale=1.0, bandwidth_scale=1.0, capacity_scale=1.0, interconnect_scale=1.0, check_fit=False,
                workload=None, costs=None, requests_per_s=None, efficiency=None, calibrated=calibrated,
                cooling_w_per_w=None, engine=engine)
    mem = _memory(s)
    keys = t[None, :].astype(float)
    return Stepper(s, mem.inv_bandwidth, mem.placement).step("decode", b.astype(float), float(q), (keys, keys))


def all_reduce_time_s(hardware: str | HardwareSpec, devices, message_bytes):
    """Seconds of one all-reduce of ``message_bytes`` (each device's buffer) over ``devices`` devices, as an engine
    step charges a tensor-parallel all-reduce: ``genmodel.engine.collectives.all_reduce`` on the device's network (its
    scale-up tier within a domain, hierarchical across domains), at the default link efficiency. Arrays broadcast; a
    single configuration gives a float."""
    from genmodel.engine.collectives import Network, all_reduce

    hw = get_hardware(hardware) if isinstance(hardware, str) else hardware
    n, m = whole("devices", devices, 2), positive("message_bytes", message_bytes)
    time = np.asarray(all_reduce(Network.of(hw), m, n), dtype=float)
    return float(time) if time.shape == () else time
