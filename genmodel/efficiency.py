"""Default realism factors per hardware kind, and their resolution for one device.

Contract
--------
``resolve_efficiency(hw)`` returns a ``ResolvedEfficiency`` with four numbers: the fraction of dense peak
FLOP/s that large matrix multiplies reach, the fraction of peak memory bandwidth that streaming reads
reach, a fixed overhead per kernel launch in seconds, and the fraction of memory capacity left for
weights, KV cache and activations. A value set in the hardware entry's ``efficiency`` block wins; otherwise
the default for the device's ``kind`` below applies. Every default carries its reasoning and source in
``KIND_DEFAULTS[kind].source`` (also in docs/formulas.md); they are starting points that the validation
issue calibrates per hardware family against published measurements.

A fifth, ``step_overhead_s`` (default 0), is a fixed cost per forward step (scheduler, sampling, host-side
work of the serving framework), set by calibration (docs/validation.md). The ideal roofline (what genmodel
reports as ``ideal_*``) uses 1.0, 1.0 and no overheads instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from genmodel.hardware_spec import HardwareSpec


@dataclass(frozen=True)
class ResolvedEfficiency:
    """Realism factors in force for one device (fractions in (0, 1], overhead in seconds)."""

    compute_efficiency: float
    memory_efficiency: float
    kernel_overhead_s: float
    usable_memory_fraction: float
    source: str
    step_overhead_s: float = 0.0


_GPU_SOURCE = (
    "compute 0.70: cuBLAS/cuBLASLt BF16 and FP8 GEMMs on A100/H100 reach about 70-80% of dense peak on large "
    "shapes (NVIDIA Hopper tuning guide; JAX scaling book 'How to Scale Your Model', GPU chapter); memory 0.80: "
    "decode kernels reach about 80-90% of HBM peak (STREAM-like copy on H100 about 2.9-3.0 of 3.35 TB/s), and "
    "BLIS/inference-sim found one HBM factor of 0.82 fits measured TPOT; overhead 2 us: launch + ramp/tail per "
    "kernel under CUDA graphs; usable memory 0.90: vLLM's default gpu_memory_utilization")

KIND_DEFAULTS: dict[str, ResolvedEfficiency] = {
    "gpu": ResolvedEfficiency(0.70, 0.80, 2e-6, 0.90, _GPU_SOURCE),
    "tpu": ResolvedEfficiency(
        0.65, 0.80, 1e-6, 0.90,
        "XLA-compiled programs keep the MXUs busy on large matmuls (about 60-70% MFU reported for serving-size "
        "matmuls in the JAX scaling book); fused XLA ops have small per-op cost; HBM streaming as GPUs"),
    "npu": ResolvedEfficiency(
        0.55, 0.70, 5e-6, 0.90,
        "Gaudi/Trainium/Ascend/laptop NPUs: less mature kernels than CUDA; graph-mode dispatch cost per op of "
        "several microseconds; engineering estimate pending calibration"),
    "fpga": ResolvedEfficiency(
        0.60, 0.70, 1e-6, 0.90,
        "FPGA overlays (FlightLLM, AccLLM) report 60-90% DSP utilization and 60-80% HBM bandwidth utilization; "
        "pipelined dataflow has little per-op overhead"),
    "cpu": ResolvedEfficiency(
        0.40, 0.70, 5e-6, 0.90,
        "CPU GEMM libraries (oneDNN, llama.cpp) reach 30-60% of vector/AMX peak; STREAM triad reaches about "
        "70-80% of DRAM peak"),
    "soc": ResolvedEfficiency(
        0.50, 0.75, 5e-6, 0.75,
        "Apple/Qualcomm unified-memory SoCs: llama.cpp/MLX decode reaches about 70-80% of DRAM bandwidth; the OS "
        "keeps about a quarter of unified memory (macOS wired-memory limit defaults to about 75%)"),
    "wafer_scale": ResolvedEfficiency(
        0.50, 0.80, 1e-6, 0.90,
        "Cerebras WSE: weights stationary in on-wafer SRAM; dense peak not published, 50% is an engineering "
        "estimate pending calibration"),
    "dataflow": ResolvedEfficiency(
        0.50, 0.75, 1e-6, 0.90,
        "SambaNova RDU: operator fusion into dataflow pipelines; engineering estimate pending calibration"),
    "lpu": ResolvedEfficiency(
        0.60, 0.90, 0.0, 0.90,
        "Groq LPU: statically scheduled, deterministic execution with no kernel launches; SRAM streaming near "
        "peak; engineering estimate pending calibration"),
    "scd": ResolvedEfficiency(
        0.50, 0.80, 1e-7, 0.90,
        "Superconducting digital: projected system, no measurements exist; engineering estimate"),
}


def resolve_efficiency(hw: HardwareSpec) -> ResolvedEfficiency:
    """Return the realism factors for ``hw``: its own overrides where set, else its kind's defaults."""
    base = KIND_DEFAULTS[hw.kind]
    over = hw.efficiency

    def pick(name: str) -> float:
        value = getattr(over, name)
        return getattr(base, name) if value is None else value

    names = ("compute_efficiency", "memory_efficiency", "kernel_overhead_s", "usable_memory_fraction",
             "step_overhead_s")
    source = base.source if not any(getattr(over, n) is not None for n in names) \
        else f"entry overrides ({over.source or 'no source given'}); others: {base.source}"
    return ResolvedEfficiency(pick("compute_efficiency"), pick("memory_efficiency"), pick("kernel_overhead_s"),
                              pick("usable_memory_fraction"), source, pick("step_overhead_s"))


def describe_efficiency(eff: ResolvedEfficiency, hw: HardwareSpec) -> str:
    """One line for people: the factors in force and where they come from (CLI and dashboard)."""
    return (f"{eff.compute_efficiency:.0%} of peak FLOP/s, {eff.memory_efficiency:.0%} of peak bandwidth, "
            f"{eff.kernel_overhead_s * 1e6:g} us per kernel, {eff.step_overhead_s * 1e3:g} ms per step "
            f"({efficiency_origin(hw)})")


def efficiency_origin(hw: HardwareSpec) -> str:
    """Where ``hw``'s realism factors come from, in a few words (for the CLI and the dashboard)."""
    source = hw.efficiency.source or ""
    if source.startswith("calibrated"):
        return "calibrated, docs/validation.md"
    if source:
        return source
    return f"{hw.kind} defaults, docs/formulas.md"
