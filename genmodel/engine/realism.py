"""The realism in force for one device and serving engine: peak fractions, overheads, usable memory, and origin.

Contract
--------
``resolve_engine(hw, engine)`` picks the serving engine profile (``engines_db/``): the one named ('vllm' on a TPU is
vLLM's TPU backend, 'vllm-tpu'), else the device entry's ``default_engine``, else the usual one for its kind and
vendor (``default_engine_name``).
``resolve_realism(hw, override, calibrated, engine)`` returns one ``Realism`` record:

* the device's achievable fractions at large shapes — ``compute_efficiency`` (large bf16 GEMMs),
  ``memory_efficiency`` (streaming reads), ``attention_efficiency`` (fused attention, long prompts) — from the
  entry's ``efficiency`` block (fitted per hardware family on published measurements) or the kind defaults
  (``KIND_DEFAULTS``, cited; a device whose vendor measured its large-GEMM throughput under load states it,
  ``Microarchitecture.max_gemm_fraction``, and ``device_defaults`` puts it in place of the kind's GEMM fraction, the
  attention fraction in proportion); shape effects on top of them are ``genmodel.engine.efficiency``'s;
* whether the engine's FP16 GEMMs run above the listed fp16 peak (``fp16_gemm_speedup``: an engine that accumulates
  in FP16 on a card that lists its FP32-accumulate rate, e.g. llama.cpp on a GeForce card: 2);
* the engine's host costs — ``step_overhead_s`` (a) + ``step_overhead_per_sequence_s`` (b) x sequences per step,
  and the gap per kernel ``kernel_overhead_s`` — from the family's fit for that engine (``efficiency.engines``) or
  the engine profile; where that fit carries a ``memory_scale`` (the engine's kernels reach a different share of
  the bandwidth than the family's average), the weight-streaming and KV-read fractions are multiplied by it;
* the memory a serving engine can fill: ``usable_memory_fraction`` x capacity - ``runtime_reserved_bytes``
  (- ``collective_reserved_bytes`` on a device whose model replica spans several devices). The fraction is the
  engine's share of device memory (vLLM's ``gpu_memory_utilization``, default 0.9); the reservation is what the
  runtime holds inside that share before weights, KV cache and activations (CUDA context about 0.5 GiB, library
  workspaces, captured CUDA graphs about 0.5-1 GiB; collective buffers about 2 GiB more with TP). Start-up logs of
  vLLM on H100 check these defaults (tests/test_memory.py).

A field set in ``override`` wins over everything; ``calibrated=False`` drops fitted values (the kind and engine
defaults apply). The record says where each factor comes from (``origin``: 'calibrated', 'entry', 'override',
'defaults', or a mix), on which rows and when a fit was made, and for which engine, so that every output can state
the assumptions behind it and comparisons can tell when two devices were estimated under different ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from genmodel.engine.memo import IdentityCache
from genmodel.errors import InputTypeError
from genmodel.specs.engine import EngineSpec
from genmodel.specs.hardware import Efficiency, HardwareSpec

GIB = 2.0**30
FACTORS = ("compute_efficiency", "memory_efficiency", "attention_efficiency", "kv_memory_efficiency",
           "kernel_overhead_s",
           "step_overhead_s", "step_overhead_per_sequence_s", "prefill_overhead_s", "usable_memory_fraction",
           "runtime_reserved_bytes", "collective_reserved_bytes")
_DEVICE = ("compute_efficiency", "memory_efficiency", "attention_efficiency", "kv_memory_efficiency",
           "usable_memory_fraction",
           "runtime_reserved_bytes", "collective_reserved_bytes")
_ENGINE = ("kernel_overhead_s", "step_overhead_s", "step_overhead_per_sequence_s", "prefill_overhead_s")


@dataclass(frozen=True)
class KindDefaults:
    """Documented defaults of one hardware kind (see ``source``)."""

    compute_efficiency: float
    memory_efficiency: float
    attention_efficiency: float
    usable_memory_fraction: float
    runtime_reserved_bytes: float
    source: str
    collective_reserved_bytes: float = 0.0
    kv_memory_efficiency: float = 0.7


_GPU_SOURCE = (
    "compute 0.80: cuBLAS/cuBLASLt BF16 GEMMs reach 76-81% of dense peak on large shapes on H100 (750-800 of 989 "
    "TFLOP/s) and 80-86% on A100 (250-270 of 312); memory 0.88: streaming kernels reach 87-90% of HBM peak "
    "(H100 copy 2.9-3.0 of 3.35 TB/s, A100 1.7-1.8 of 2.04); attention 0.72: FlashAttention-2 reaches up to 73% of "
    "A100 peak, FlashAttention-3 about 75% of H100 peak at long sequences (both papers' forward-pass figures); "
    "usable memory 0.90: vLLM's default gpu_memory_utilization; runtime 1.5 GiB: CUDA context (about 0.5 GiB), "
    "cuBLAS workspaces and captured CUDA graphs (vLLM logs 0.3-1.5 GiB for graphs), and the driver's share (CUDA "
    "reports 79.19 GiB of an H100's 80 GiB); collectives 1.75 GiB more on a device whose replica spans several: "
    "vLLM v0.19 logs 0.25 GiB of non-torch memory at TP1 and 2.07-2.21 GiB at TP2/TP4 on H100 (NCCL and custom "
    "all-reduce buffers; llm-d-planner accuracy logs, github.com/llm-d-incubation/llm-d-planner/pull/205); KV reads "
    "0.70: paged decode-attention kernels reach about 60-80% of HBM bandwidth (FlashInfer paper's decode "
    "benchmarks; vLLM PagedAttention below FlashInfer), below dense weight streaming")

KIND_DEFAULTS: dict[str, KindDefaults] = {
    "gpu": KindDefaults(0.80, 0.88, 0.72, 0.90, 1.5 * GIB, _GPU_SOURCE, collective_reserved_bytes=1.75 * GIB),
    "tpu": KindDefaults(
        0.80, 0.85, 0.60, 0.90, 0.5 * GIB,
        "XLA keeps the MXUs busy on large matmuls (70-85% utilization on large bf16 matmuls, JAX scaling book); "
        "HBM streaming about 85%; Pallas/splash attention below GPU FlashAttention; the runtime keeps program "
        "buffers (about 0.5 GiB)"),
    "npu": KindDefaults(
        0.70, 0.80, 0.55, 0.90, 1.0 * GIB,
        "Gaudi/Trainium/Inferentia/Ascend NPUs; large BF16 GEMMs measured: Gaudi 2 418.7 of 432 TFLOP/s (97%), "
        "Gaudi 3 1,243 TFLOP/s = 68% of its 1,835 whitepaper peak (its clock falls to about 1.6 GHz in BF16 "
        "matmuls; SqueezeBits figures in stas00/ml-engineering compute/accelerator/README.md), NeuronCore-v2 83% of "
        "its share of 190 TFLOP/s on one 4096x8192x8192 NKI tutorial kernel (aws-neuron-sdk NKI matmul tutorial, SDK "
        "2.20-2.23): 0.70 sits at the low end of these; HBM streaming about 80% (AWS's NKI performance guide calls "
        "60%+ of memory bandwidth good); attention 0.55 is an estimate (no vendor figure; an NKI tutorial attention "
        "kernel reaches 23-28% of peak); runtime and graph buffers about 1 GiB, collective (HCCL) buffers 0.5 GiB "
        "more on multi-device replicas",
        collective_reserved_bytes=0.5 * GIB),
    "fpga": KindDefaults(
        0.60, 0.70, 0.50, 0.90, 0.0,
        "FPGA overlays (FlightLLM, AccLLM) report 60-90% DSP utilization and 60-80% HBM bandwidth utilization; "
        "no runtime reservation on the card"),
    "cpu": KindDefaults(
        0.50, 0.75, 0.40, 0.90, 0.0,
        "AMX peak = cores x AMX clock x 1,024 BF16 FLOP per cycle (one 16x16x32 tile product per 16 cycles); no "
        "published AMX GEMM states its CPU model and clock (oneDNN issue 1992: 38.6-42.9 TFLOP/s BF16 on 188 "
        "threads, part not named), so 0.50 is an estimate; STREAM triad reaches about 70-80% of DRAM peak; the OS "
        "share is in the usable fraction"),
    "soc": KindDefaults(
        0.60, 0.80, 0.50, 0.75, 0.0,
        "Apple/Qualcomm unified-memory SoCs: llama.cpp/MLX decode reaches about 75-85% of DRAM bandwidth; the OS "
        "keeps about a quarter of unified memory (macOS wired-memory limit defaults to about 75%)"),
    "wafer_scale": KindDefaults(
        0.50, 0.80, 0.50, 0.90, 0.0,
        "Cerebras WSE: weights stationary in on-wafer SRAM; dense peak not published, 50% is an engineering "
        "estimate pending calibration"),
    "dataflow": KindDefaults(
        0.50, 0.75, 0.50, 0.90, 0.0,
        "SambaNova RDU: operator fusion into dataflow pipelines; engineering estimate pending calibration"),
    "lpu": KindDefaults(
        0.60, 0.90, 0.50, 0.90, 0.0,
        "Groq LPU: statically scheduled, deterministic execution; SRAM streaming near peak; engineering estimate"),
    "scd": KindDefaults(
        0.50, 0.80, 0.50, 0.90, 0.0,
        "Superconducting digital: projected system, no measurements exist; engineering estimate"),
}


def default_engine_name(hw: HardwareSpec) -> str:
    """The serving engine usually run on ``hw``: its entry's ``default_engine``, else by kind and vendor."""
    if hw.default_engine:
        return hw.default_engine
    vendor = hw.vendor.lower()
    if hw.kind == "gpu":
        return "vllm"
    if hw.kind == "tpu":
        return "jetstream"
    if hw.kind == "npu":
        if "habana" in vendor or "gaudi" in hw.name:
            return "optimum-habana"
        if "aws" in vendor or "amazon" in vendor:
            return "neuron"
        return "vllm" if "huawei" in vendor else "llamacpp"
    if hw.kind in ("cpu", "soc"):
        return "llamacpp"
    return "vendor"


def check_engine(engine: object) -> None:
    """Refuse an ``engine`` argument that is neither an engine name, an ``EngineSpec`` nor None (``InputTypeError``):
    the check every entry point taking ``engine`` makes before anything is evaluated."""
    if engine is not None and not isinstance(engine, (str, EngineSpec)):
        raise InputTypeError(f"engine must be an engine name (genmodel engines), an EngineSpec or None, got "
                             f"{type(engine).__name__}", "engine")


def resolve_engine(hw: HardwareSpec, engine: str | EngineSpec | None = None) -> EngineSpec:
    """The engine profile to use on ``hw`` (see the module docstring)."""
    from genmodel.data.registry import get_engine

    if engine == "vllm" and hw.kind == "tpu":
        engine = "vllm-tpu"  # vLLM's TPU backend (JAX/XLA): compiled buckets, not CUDA graphs
    return get_engine(engine if engine is not None else default_engine_name(hw))


def graphs_turned_off(spec: EngineSpec) -> bool:
    """Whether ``spec`` is a profile run with its captured graphs turned off (its ``NAME+eager`` variant): every
    step eager where the profile of that name replays graphs. A profile that never captures one (Hugging Face
    transformers' ``generate()``) describes its engine as it runs: not a variant."""
    from genmodel.data.registry import database

    if not spec.graphs_off:
        return False
    entry = database("engine").entries.get(spec.name)
    return entry is not None and not entry.graphs_off


@dataclass(frozen=True)
class Realism:
    """The realism factors in force for one device and engine, and where each comes from."""

    compute_efficiency: float
    memory_efficiency: float
    attention_efficiency: float
    kv_memory_efficiency: float
    kernel_overhead_s: float
    step_overhead_s: float
    step_overhead_per_sequence_s: float
    prefill_overhead_s: float
    usable_memory_fraction: float
    runtime_reserved_bytes: float
    collective_reserved_bytes: float
    origin: str  # 'calibrated', 'entry', 'override', 'defaults' (nothing set), or e.g. 'calibrated + override'
    basis: str  # a few words for people: "calibrated 2026-12-01 on 60 rows (nvidia-hopper)"
    source: str
    engine: str = "vllm"
    # the engine runs without the captured graphs its profile replays (the profile's '+eager' variant:
    # graphs_turned_off; not a profile that never captures one)
    eager: bool = False
    calibration_family: str | None = None
    calibration_date: str | None = None
    calibration_rows: tuple[str, ...] = ()
    field_origins: dict[str, str] = field(default_factory=dict, compare=False)
    # the engine's FP16 GEMMs run at this multiple of the device's listed fp16 peak (FP16 accumulation on a card
    # that lists its FP32-accumulate rate: EngineSpec.fp16_accumulate x Microarchitecture.fp16_accumulate_speedup)
    fp16_gemm_speedup: float = 1.0
    # a weight-only GEMM of more rows than this runs on a copy of its matrix dequantized to the activation datatype
    # (EngineSpec.dequantize_copy_above_rows; None: dequantized in the GEMM's kernel)
    dequantize_copy_above_rows: int | None = None
    # the engine's own quantized GEMM kernels of at least quantized_gemm_min_tokens tokens reach at most this FLOP/s
    # on this device, bound per compute unit (EngineSpec.quantized_gemm_macs_per_unit_clock x 2 x compute units x
    # clock; None: no such bound)
    quantized_gemm_flops_per_s: float | None = None
    quantized_gemm_min_tokens: int = 1
    # the engine's kernels stream at most this many bytes per second from memory on this device, bound per compute
    # unit (EngineSpec.stream_bytes_per_unit_clock x compute units x clock; None: no such bound)
    stream_bytes_per_s: float | None = None

    def describe(self, memory: bool = True) -> str:
        """One line for people: the factors in force and where they come from (``memory``: with the memory
        share and reservations)."""
        mem = (f"; memory {self.usable_memory_fraction:.0%} usable less {self.runtime_reserved_bytes / GIB:g} GiB "
               f"runtime (+{self.collective_reserved_bytes / GIB:g} GiB on multi-device replicas)") if memory else ""
        per_seq = (f" + {self.step_overhead_per_sequence_s * 1e6:g} us per sequence"
                   if self.step_overhead_per_sequence_s else "")
        if self.prefill_overhead_s:
            per_seq += f" (+{self.prefill_overhead_s * 1e3:g} ms per prefill)"
        notes = [f"FP16 GEMMs at {self.fp16_gemm_speedup:g}x the listed FP16 peak: FP16 accumulation"] \
            if self.fp16_gemm_speedup != 1.0 else []
        if self.dequantize_copy_above_rows is not None:
            rows = self.dequantize_copy_above_rows
            notes.append(f"weight-only GEMMs of more than {rows} row{'s' if rows != 1 else ''} on a dequantized copy")
        if self.quantized_gemm_flops_per_s is not None:
            notes.append(f"its quantized GEMMs of {self.quantized_gemm_min_tokens}+ tokens at most "
                         f"{self.quantized_gemm_flops_per_s / 1e12:.3g} TFLOP/s")
        memory_notes = (f" (its kernels stream at most {self.stream_bytes_per_s / 1e9:.3g} GB/s)"
                        if self.stream_bytes_per_s is not None else "")
        gemm_notes = f" ({'; '.join(notes)})" if notes else ""
        return (f"{self.compute_efficiency:.0%} of peak FLOP/s in large GEMMs{gemm_notes}, "
                f"{self.attention_efficiency:.0%} in attention, {self.memory_efficiency:.0%} of peak bandwidth "
                f"streaming weights{memory_notes}, "
                f"{self.kv_memory_efficiency:.0%} reading the KV cache; {self.engine_label}: "
                f"{self.step_overhead_s * 1e3:g} ms per step{per_seq}, {self.kernel_overhead_s * 1e6:g} us per "
                f"kernel{mem} ({self.basis})")

    @property
    def engine_label(self) -> str:
        """The engine's name as people choose it: 'vllm', or 'vllm+eager' without captured graphs."""
        return f"{self.engine}+eager" if self.eager else self.engine

    def key(self) -> tuple:
        """What two estimates must share to be compared under the same assumptions."""
        return (*(getattr(self, f) for f in FACTORS), self.origin, self.engine, self.eager, self.fp16_gemm_speedup)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (the ``realism`` of every JSON output)."""
        out = asdict(self)
        out["calibration_rows"] = list(self.calibration_rows)
        return out


def resolve_realism(hw: HardwareSpec, override: Efficiency | None = None, calibrated: bool = True,
                    engine: str | EngineSpec | None = None) -> Realism:
    """The realism for ``hw`` served by ``engine`` (see the module docstring); computed once per device, override
    and engine spec object and ``calibrated`` (``genmodel.engine.memo``: specs are frozen, a changed one is a new
    object) and shared (the record is frozen)."""
    spec = resolve_engine(hw, engine)
    return _REALISM.get((hw, override, spec), (bool(calibrated),),
                        lambda: _resolve_realism(hw, override, calibrated, spec))


_REALISM = IdentityCache()


def device_defaults(hw: HardwareSpec) -> KindDefaults:
    """The physics defaults of ``hw``: its kind's, with the GEMM fraction the device's vendor measured where its entry
    states one (``Microarchitecture.max_gemm_fraction``) and the attention fraction scaled with it (the same matrix
    units at the same clock under load)."""
    base = KIND_DEFAULTS[hw.kind]
    fraction = hw.microarchitecture.max_gemm_fraction if hw.microarchitecture is not None else None
    if fraction is None:
        return base
    return replace(base, compute_efficiency=fraction,
                   attention_efficiency=base.attention_efficiency * fraction / base.compute_efficiency,
                   source=f"{base.source}; this device's large GEMMs: {fraction:.3g} of its dense BF16 peak "
                   f"({hw.microarchitecture.source})")


def _resolve_realism(hw: HardwareSpec, override: Efficiency | None, calibrated: bool, spec: EngineSpec) -> Realism:
    base = device_defaults(hw)
    entry = hw.efficiency
    if not calibrated and entry.calibration is not None:
        entry = Efficiency()
    fit = entry.engines.get(spec.name) if calibrated else None
    entry_label = "calibrated" if entry.calibration is not None else "entry"
    origins: dict[str, str] = {}
    values: dict[str, float] = {}
    for name in FACTORS:
        if override is not None and getattr(override, name, None) is not None:
            values[name], origins[name] = getattr(override, name), "override"
        elif name in _ENGINE and fit is not None and hasattr(fit, name):
            values[name], origins[name] = getattr(fit, name), "calibrated"
        elif getattr(entry, name, None) is not None and not (name == "step_overhead_s" and fit is not None):
            values[name], origins[name] = getattr(entry, name), entry_label
        elif name in _ENGINE:
            values[name], origins[name] = getattr(spec, name), "defaults"
        else:
            values[name], origins[name] = getattr(base, name), "defaults"
    scale = getattr(fit, "memory_scale", 1.0) if fit is not None else 1.0
    if scale != 1.0:  # the engine's bandwidth on this family, relative to the family's fit
        for name in ("memory_efficiency", "kv_memory_efficiency"):
            if origins[name] != "override":
                values[name] = min(values[name] * scale, 1.0)
                origins[name] = "calibrated"
    kinds = list(dict.fromkeys(origins.values()))
    # the origin names what is not a kind or engine default; factors it does not set are those defaults
    origin = " + ".join(k for k in kinds if k != "defaults") or "defaults"
    cal = entry.calibration
    if kinds == ["defaults"]:
        basis = f"{hw.kind} and {spec.name} defaults, docs/formulas.md"
    elif cal is not None and "calibrated" in kinds:
        basis = f"calibrated {cal.date} on {len(cal.rows)} published rows ({cal.family}), docs/validation.md"
    else:
        basis = entry.source or "entry values"
    overridden = [n for n, o in origins.items() if o == "override"]
    if overridden:
        basis += f"; overridden: {', '.join(overridden)}"
        if override is not None and override.source:
            basis += f" ({override.source})"
    source = f"{basis}. Kind defaults: {base.source}. Engine {spec.name}: {spec.source}"
    return Realism(**values, origin=origin, basis=basis, source=source, engine=spec.name,
                   eager=graphs_turned_off(spec),
                   calibration_family=cal.family if cal and "calibrated" in kinds else None,
                   calibration_date=cal.date if cal and "calibrated" in kinds else None,
                   calibration_rows=tuple(cal.rows) if cal and "calibrated" in kinds else (),
                   field_origins=origins,
                   fp16_gemm_speedup=(hw.microarchitecture.fp16_accumulate_speedup or 1.0) if spec.fp16_accumulate
                   else 1.0, dequantize_copy_above_rows=spec.dequantize_copy_above_rows,
                   quantized_gemm_flops_per_s=quantized_gemm_flops_per_s(spec, hw),
                   quantized_gemm_min_tokens=spec.quantized_gemm_min_tokens,
                   stream_bytes_per_s=per_unit_clock(spec.stream_bytes_per_unit_clock, hw))


def quantized_gemm_flops_per_s(spec: EngineSpec, hw: HardwareSpec) -> float | None:
    """FLOP/s the engine's own quantized GEMM kernels reach at most on ``hw``, bound per compute unit:
    2 x ``EngineSpec.quantized_gemm_macs_per_unit_clock[vendor]`` x compute units x clock (docs/formulas.md section
    5.2); None where the engine states no such bound for the device's vendor or the device states no compute units
    or clock."""
    macs = per_unit_clock(spec.quantized_gemm_macs_per_unit_clock, hw)
    return None if macs is None else 2.0 * macs


def per_unit_clock(per_vendor: dict[str, float] | None, hw: HardwareSpec) -> float | None:
    """A per-compute-unit-per-clock figure of an engine's kernels (keyed by vendor) x compute units x clock on
    ``hw``: a rate per second; None where the engine states none for the device's vendor or the device states no
    compute units or clock (``Microarchitecture``)."""
    value = (per_vendor or {}).get(hw.vendor)
    arch = hw.microarchitecture
    if not value or not arch.compute_units or not arch.clock_hz:
        return None
    return float(value) * arch.compute_units * float(arch.clock_hz)
