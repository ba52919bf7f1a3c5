"""The realism in force for one device: achievable fractions of peak, overheads, usable memory, and origin.

Contract
--------
``resolve_realism(hw)`` returns one ``Realism`` record. Each factor comes from the hardware entry's
``efficiency`` block when set there (fitted on published measurements, or a user override), else from the
default of the device's ``kind`` in ``KIND_DEFAULTS`` (each with its reasoning and sources; docs/formulas.md
section 6). The record says where its factors come from (``origin``: 'calibrated', 'defaults', 'override', or a
mix), on which rows and when a fit was made, and for which serving engine, so that every output can state the
assumptions behind it and comparisons can tell when two devices were estimated under different ones.

Factors:
* ``compute_efficiency``, ``memory_efficiency``: achievable fractions of dense peak FLOP/s and of peak memory
  bandwidth; ``kernel_overhead_s`` per kernel launch; ``step_overhead_s`` per engine step (scheduler, sampling,
  host work).
* Memory a serving engine can fill: ``usable_memory_fraction`` x capacity - ``runtime_reserved_bytes``
  (- ``collective_reserved_bytes`` on a device whose model replica spans several devices). The
  fraction is the engine's share of device memory (vLLM's ``gpu_memory_utilization``, default 0.9; SGLang's
  ``mem_fraction_static``, 0.8-0.9 by GPU size); the reservation is what the runtime holds inside that share
  before weights, KV cache and activations (CUDA context about 0.5 GiB, library workspaces, captured CUDA graphs
  about 0.5-1 GiB; collective buffers about 2 GiB more with TP). TensorRT-LLM instead gives the KV cache a
  fraction (0.9) of what is free after weights and runtime buffers; SGLang a static fraction for weights and KV.
  Start-up logs of vLLM on H100 check these defaults (tests/test_memory.py).
The ideal roofline uses 100% of peak, no overheads and the same memory.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from genmodel.specs.hardware import Efficiency, HardwareSpec

GIB = 2.0**30
FACTORS = ("compute_efficiency", "memory_efficiency", "kernel_overhead_s", "step_overhead_s",
           "usable_memory_fraction", "runtime_reserved_bytes", "collective_reserved_bytes")


@dataclass(frozen=True)
class KindDefaults:
    """Documented defaults of one hardware kind (see ``source``)."""

    compute_efficiency: float
    memory_efficiency: float
    kernel_overhead_s: float
    usable_memory_fraction: float
    runtime_reserved_bytes: float
    source: str
    step_overhead_s: float = 0.0
    collective_reserved_bytes: float = 0.0


_GPU_SOURCE = (
    "compute 0.70: cuBLAS/cuBLASLt BF16 and FP8 GEMMs on A100/H100 reach about 70-80% of dense peak on large "
    "shapes (NVIDIA Hopper tuning guide; JAX scaling book 'How to Scale Your Model', GPU chapter); memory 0.80: "
    "decode kernels reach about 80-90% of HBM peak (STREAM-like copy on H100 about 2.9-3.0 of 3.35 TB/s), and "
    "BLIS/inference-sim found one HBM factor of 0.82 fits measured TPOT; overhead 2 us: launch + ramp/tail per "
    "kernel under CUDA graphs; usable memory 0.90: vLLM's default gpu_memory_utilization; runtime 1.5 GiB: CUDA "
    "context (about 0.5 GiB), cuBLAS workspaces and captured CUDA graphs (vLLM logs 0.3-1.5 GiB for graphs), and "
    "the driver's share (CUDA reports 79.19 GiB of an H100's 80 GiB); collectives 1.75 GiB more on a device whose "
    "replica spans several: vLLM v0.19 logs 0.25 GiB of non-torch memory at TP1 and 2.07-2.21 GiB at TP2/TP4 on "
    "H100 (NCCL and custom all-reduce buffers; llm-d-planner accuracy logs, github.com/llm-d-incubation/"
    "llm-d-planner/pull/205)")

KIND_DEFAULTS: dict[str, KindDefaults] = {
    "gpu": KindDefaults(0.70, 0.80, 2e-6, 0.90, 1.5 * GIB, _GPU_SOURCE, collective_reserved_bytes=1.75 * GIB),
    "tpu": KindDefaults(
        0.65, 0.80, 1e-6, 0.90, 0.5 * GIB,
        "XLA-compiled programs keep the MXUs busy on large matmuls (about 60-70% MFU reported for serving-size "
        "matmuls in the JAX scaling book); fused XLA ops have small per-op cost; HBM streaming as GPUs; the runtime "
        "keeps program buffers (about 0.5 GiB)"),
    "npu": KindDefaults(
        0.55, 0.70, 5e-6, 0.90, 1.0 * GIB,
        "Gaudi/Trainium/Ascend/laptop NPUs: less mature kernels than CUDA; graph-mode dispatch cost per op of "
        "several microseconds; runtime and graph buffers about 1 GiB, collective (HCCL) buffers 0.5 GiB more on "
        "multi-device replicas; engineering estimate pending calibration", collective_reserved_bytes=0.5 * GIB),
    "fpga": KindDefaults(
        0.60, 0.70, 1e-6, 0.90, 0.0,
        "FPGA overlays (FlightLLM, AccLLM) report 60-90% DSP utilization and 60-80% HBM bandwidth utilization; "
        "pipelined dataflow has little per-op overhead; no runtime reservation on the card"),
    "cpu": KindDefaults(
        0.40, 0.70, 5e-6, 0.90, 0.0,
        "CPU GEMM libraries (oneDNN, llama.cpp) reach 30-60% of vector/AMX peak; STREAM triad reaches about "
        "70-80% of DRAM peak; the OS share is in the usable fraction"),
    "soc": KindDefaults(
        0.50, 0.75, 5e-6, 0.75, 0.0,
        "Apple/Qualcomm unified-memory SoCs: llama.cpp/MLX decode reaches about 70-80% of DRAM bandwidth; the OS "
        "keeps about a quarter of unified memory (macOS wired-memory limit defaults to about 75%)"),
    "wafer_scale": KindDefaults(
        0.50, 0.80, 1e-6, 0.90, 0.0,
        "Cerebras WSE: weights stationary in on-wafer SRAM; dense peak not published, 50% is an engineering "
        "estimate pending calibration"),
    "dataflow": KindDefaults(
        0.50, 0.75, 1e-6, 0.90, 0.0,
        "SambaNova RDU: operator fusion into dataflow pipelines; engineering estimate pending calibration"),
    "lpu": KindDefaults(
        0.60, 0.90, 0.0, 0.90, 0.0,
        "Groq LPU: statically scheduled, deterministic execution with no kernel launches; SRAM streaming near "
        "peak; engineering estimate pending calibration"),
    "scd": KindDefaults(
        0.50, 0.80, 1e-7, 0.90, 0.0,
        "Superconducting digital: projected system, no measurements exist; engineering estimate"),
}


@dataclass(frozen=True)
class Realism:
    """The realism factors in force for one device and where each comes from."""

    compute_efficiency: float
    memory_efficiency: float
    kernel_overhead_s: float
    step_overhead_s: float
    usable_memory_fraction: float
    runtime_reserved_bytes: float
    collective_reserved_bytes: float
    origin: str  # 'calibrated', 'entry', 'override', 'defaults' (nothing set), or e.g. 'calibrated + override'
    basis: str  # a few words for people: "calibrated 2026-11-23 on 60 rows (nvidia-hopper)"
    source: str
    engine: str | None = None
    calibration_family: str | None = None
    calibration_date: str | None = None
    calibration_rows: tuple[str, ...] = ()
    field_origins: dict[str, str] = field(default_factory=dict, compare=False)

    def describe(self, memory: bool = True) -> str:
        """One line for people: the factors in force and where they come from (``memory``: with the memory
        share and reservations)."""
        mem = (f"; memory {self.usable_memory_fraction:.0%} usable less {self.runtime_reserved_bytes / GIB:g} GiB "
               f"runtime (+{self.collective_reserved_bytes / GIB:g} GiB on multi-device replicas)") if memory else ""
        return (f"{self.compute_efficiency:.0%} of peak FLOP/s, {self.memory_efficiency:.0%} of peak bandwidth, "
                f"{self.kernel_overhead_s * 1e6:g} us per kernel, {self.step_overhead_s * 1e3:g} ms per step{mem} "
                f"({self.basis})")

    def key(self) -> tuple:
        """What two estimates must share to be compared under the same assumptions."""
        return (*(getattr(self, f) for f in FACTORS), self.origin, self.engine)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (the ``realism`` of every JSON output)."""
        out = asdict(self)
        out["calibration_rows"] = list(self.calibration_rows)
        return out


def _pick(over: Efficiency, base: KindDefaults, name: str) -> tuple[float, bool]:
    value = getattr(over, name, None)
    return (getattr(base, name), False) if value is None else (value, True)


def resolve_realism(hw: HardwareSpec, override: Efficiency | None = None, calibrated: bool = True) -> Realism:
    """The realism for ``hw``: per factor the user's ``override``, else the entry's block (unless
    ``calibrated`` is False, which drops a calibrated block), else the kind default."""
    base = KIND_DEFAULTS[hw.kind]
    entry = hw.efficiency
    if not calibrated and entry.calibration is not None:
        entry = Efficiency()
    origins: dict[str, str] = {}
    values: dict[str, float] = {}
    entry_label = "calibrated" if entry.calibration is not None else "entry"
    for name in FACTORS:
        if override is not None and getattr(override, name) is not None:
            values[name], origins[name] = getattr(override, name), "override"
            continue
        values[name], from_entry = _pick(entry, base, name)
        origins[name] = entry_label if from_entry else "defaults"
    kinds = list(dict.fromkeys(origins.values()))
    # the origin names what is not a kind default; factors it does not set are the kind's defaults
    origin = " + ".join(k for k in kinds if k != "defaults") or "defaults"
    cal = entry.calibration
    if kinds == ["defaults"]:
        basis = f"{hw.kind} defaults, docs/formulas.md"
    elif cal is not None and "calibrated" in kinds:
        basis = f"calibrated {cal.date} on {len(cal.rows)} published rows ({cal.family}), docs/validation.md"
    else:
        basis = entry.source or "entry values"
    overridden = [n for n, o in origins.items() if o == "override"]
    if overridden:
        basis += f"; overridden: {', '.join(overridden)}"
        if override is not None and override.source:
            basis += f" ({override.source})"
    source = base.source if kinds == ["defaults"] else f"{basis}. Kind defaults: {base.source}"
    return Realism(**values, origin=origin, basis=basis, source=source,
                   engine=(override.engine if override is not None and override.engine else entry.engine),
                   calibration_family=cal.family if cal and "calibrated" in kinds else None,
                   calibration_date=cal.date if cal and "calibrated" in kinds else None,
                   calibration_rows=tuple(cal.rows) if cal and "calibrated" in kinds else (),
                   field_origins=origins)
