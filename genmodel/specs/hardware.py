"""``HardwareSpec``: one accelerator (or one socket / wafer / board) as a frozen Pydantic model.

Contract
--------
A hardware entry says what one device can do, in SI units:

* ``peak_flops_per_s``: **dense** peak throughput per datatype (FLOP/s, or OP/s for integers). Only the
  datatypes the device really accelerates are listed; 2:4-sparse figures are never stored.
* ``memory_tiers``: ordered fastest first. A tier with ``role: memory`` can hold weights, KV cache and
  activations; ``role: cache`` (a GPU L2, say) is hardware-managed and is not used for capacity.
* ``scale_up`` / ``scale_out``: interconnects, bandwidth **per direction per device**.
* ``host_link``: optional; the link to the memory KV-cache offload uses (host DRAM over PCIe, or a slower tier of
  the device such as GH200's LPDDR5X over NVLink-C2C), with its bandwidth per direction and the memory per device
  behind it (``genmodel.serving.serve``'s ``kv_offload``; docs/serving.md section 4b).
* ``power``, ``cost``: TDP and idle power; purchase price and hourly rental where public.
* ``efficiency``: optional overrides of the realism factors (``genmodel.engine.realism``).
* ``source``: the datasheet or paper the numbers come from (required).

It does not model caches, clocks under thermal limits, or sparsity.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from genmodel.specs.dtypes import DTYPES, normalize_dtype
from genmodel.specs.quantities import (
    USD,
    Bytes,
    BytesOrZero,
    BytesPerSecond,
    DisplayName,
    EntryName,
    FlopsPerSecond,
    FrozenSpec,
    Hertz,
    Joules,
    Seconds,
    USDPerHour,
    Watts,
)

HardwareKind = Literal["gpu", "tpu", "npu", "fpga", "cpu", "soc", "wafer_scale", "dataflow", "lpu", "scd"]
# a share of a peak or of the memory: from 0.1% (below it no device runs a kernel, and the figures divided by it leave
# float64's range) to 100%
MIN_FRACTION = 1e-3
Fraction = Annotated[float, Field(ge=MIN_FRACTION, le=1.0)]


class MemoryTier(FrozenSpec):
    """One level of the memory hierarchy of a device."""

    name: str = Field(description="Tier name, e.g. 'HBM3', 'SRAM', 'LPDDR5X'.")
    role: Literal["memory", "cache"] = Field(
        "memory", description="'memory' holds data placed by genmodel; 'cache' is hardware-managed (not used).")
    capacity_bytes: Bytes = Field(description="Capacity in bytes usable by software (decimal SI).")
    bandwidth_bytes_per_s: BytesPerSecond | None = Field(
        None, description="Peak read bandwidth of the tier in bytes/s (required for role 'memory').")
    note: str | None = Field(None, description="Anything a user should know about this tier.")

    @model_validator(mode="after")
    def _memory_needs_bandwidth(self) -> MemoryTier:
        if self.role == "memory" and self.bandwidth_bytes_per_s is None:
            raise ValueError(f"memory tier {self.name!r} needs bandwidth_bytes_per_s")
        return self


class Interconnect(FrozenSpec):
    """A device-to-device network as seen from one device."""

    name: str = Field(description="Link or network name, e.g. 'NVLink 4 via NVSwitch'.")
    bandwidth_per_direction_bytes_per_s: BytesPerSecond = Field(
        description="Bandwidth one device can send (and, at the same time, receive) in bytes/s.")
    latency_s: Seconds = Field(description="One-way latency of a small message in seconds.")
    domain_size: int = Field(1, ge=1, le=2**20,
                             description="Devices reachable at this bandwidth (scale-up domain; at most 2**20).")
    topology: Literal["switch", "full_mesh", "torus_2d", "torus_3d", "ring", "point_to_point", "fabric"] = Field(
        "switch", description="How the domain is wired; decides collective algorithms (multi-device model).")
    note: str | None = Field(None, description="Caveats, e.g. whether the latency is a typical or datasheet value.")


class HostLink(FrozenSpec):
    """The path from one device to the memory KV-cache offload uses (docs/serving.md section 4b): host DRAM
    behind a PCIe link, or a slower memory tier of the device itself (``memory_tier``)."""

    name: str = Field(description="Link name, e.g. 'PCIe 5.0 x16 to the host CPU' or 'NVLink-C2C'.")
    bandwidth_per_direction_bytes_per_s: BytesPerSecond = Field(
        description="Bytes/s the device can read from that memory (and, at the same time, write to it) over the "
        "link: nominal, per direction, per device.")
    memory_tier: str | None = Field(
        None, description="Name of one of this device's memory tiers (not the fastest) that is the offload memory "
        "(GH200's LPDDR5X): it then holds no KV cache in serve() unless offload is asked for. Give this or "
        "memory_bytes.")
    memory_bytes: Bytes | None = Field(
        None, description="Host memory per device in bytes behind the link, where it is not one of the device's "
        "tiers (a DGX H100's 2 TiB of DDR5 shared by 8 GPUs: 256 GiB each).")
    note: str | None = Field(None, description="Caveats: shared links, achieved against nominal bandwidth.")
    source: str = Field(min_length=1, description="Where the link and memory figures come from.")

    @model_validator(mode="after")
    def _one_memory(self) -> HostLink:
        if (self.memory_tier is None) == (self.memory_bytes is None):
            raise ValueError("host_link needs exactly one of memory_tier (a tier of this device) and memory_bytes "
                             "(host memory per device)")
        return self


class Power(FrozenSpec):
    """Power envelope of one device."""

    tdp_w: Watts = Field(description="Thermal design / board power in watts.")
    idle_w: Watts | None = Field(None, description="Power when idle in watts; None = unknown.")
    note: str | None = Field(None, description="Where the power figures come from.")

    @model_validator(mode="after")
    def _idle_below_tdp(self) -> Power:
        if self.idle_w is not None and self.idle_w > self.tdp_w:
            raise ValueError(f"idle_w ({self.idle_w} W) exceeds tdp_w ({self.tdp_w} W)")
        return self


class Cost(FrozenSpec):
    """Purchase price and rental price of one device (both optional, both approximate)."""

    purchase_usd: USD | None = Field(None, description="Approximate purchase price of one device in USD.")
    rental_usd_per_hour: USDPerHour | None = Field(None, description="Approximate cloud price per device-hour.")
    source: str | None = Field(None, description="Where the prices come from, and when.")


class EnergyCoefficients(FrozenSpec):
    """Dynamic energy per operation (docs/energy_tco.md section 1); used instead of the power envelope."""

    compute_j_per_flop: dict[str, Joules] = Field(
        description="Energy per FLOP (or OP) per datatype, e.g. {'bf16': '0.5 pJ'}; missing datatypes use the "
        "nearest wider one listed.")
    memory_j_per_bit: dict[str, Joules] = Field(
        description="Energy per bit moved, per memory tier name (as in memory_tiers).")
    link_j_per_bit: Joules | None = Field(None, description="Energy per bit sent over the device's links.")
    cooling_w_per_w: float = Field(
        0.0, ge=0.0, description="Wall power needed to remove 1 W dissipated in the device (cryogenic cooling of "
        "superconducting systems: hundreds of W per W at 4 K); 0 for room-temperature devices, whose cooling "
        "is part of the facility PUE.")
    source: str = Field(min_length=1, description="Where the coefficients come from (paper, derivation).")


class Microarchitecture(FrozenSpec):
    """What shapes a device's matrix units like (genmodel.engine.efficiency); unset fields take kind defaults."""

    compute_units: int | None = Field(
        None, ge=1, le=1_000_000, description="Streaming multiprocessors / compute units / cores that each run GEMM "
        "tiles (wave quantization); None: not modelled.")
    matrix_unit_rows: int | None = Field(
        None, ge=1, le=4096, description="Rows (tokens) one matrix instruction works on: a GEMM with fewer rows "
        "wastes the rest (Hopper wgmma 64, Ampere/Ada mma 16, CDNA MFMA 16).")
    gemm_tile: list[int] | None = Field(
        None, min_length=2, max_length=2, description="[rows, columns] of the output tile a large GEMM kernel "
        "computes per compute unit (tile and wave quantization).")
    attention_half_tokens: float | None = Field(
        None, gt=0, description="Keys a prompt's queries attend (its length, without a cached prefix) at which fused "
        "prefill attention reaches half of its peak fraction.")
    memory_ramp_bytes: BytesOrZero | None = Field(
        None, description="Bytes a kernel moves at which it reaches half of its streaming bandwidth.")
    kernel_floor_s: Seconds | None = Field(
        None, description="Least device time of a kernel that does any work, whatever its bytes and FLOPs (launching "
        "its grid, the first loads, the tail), in seconds; 0: none.")
    tensor_parallel_ranks: int | None = Field(
        None, ge=1, le=64, description="Tensor-parallel ranks one device runs, where the runtime treats its cores "
        "as separate ranks (Inferentia2: 2 NeuronCores; Trainium2: 4 logical cores at LNC=2); heads are padded per "
        "rank by engines that pad them. None: 1.")
    compute_memory_overlap: float | None = Field(
        None, ge=0.0, le=1.0, description="Share of the shorter of a kernel's arithmetic and data-movement times "
        "hidden under the longer (1: the ideal roofline max; 0: they add, as in the ECM model).")
    fp16_accumulate_speedup: float | None = Field(
        None, ge=1.0, le=4.0, description="FP16 matrix throughput with FP16 accumulation over the listed fp16 peak "
        "(which is the FP32-accumulate rate): 2 on GeForce cards, which run FP32 accumulation at half rate. Reached "
        "by engines whose FP16 GEMMs accumulate in FP16 (EngineSpec.fp16_accumulate). None: 1.")
    max_gemm_fraction: float | None = Field(
        None, gt=0.0, le=1.0, description="Share of the dense BF16 matrix peak the vendor's tuned library sustains on "
        "a large GEMM (its clock under that load x the kernel's software efficiency; AMD's 'max-achievable FLOPs'): "
        "this device's default GEMM fraction in place of its kind's, and its attention fraction in proportion. "
        "None: the kind's.")
    balanced_tiles: bool | None = Field(
        None, description="The GEMM library balances a partly filled last wave of tiles (stream-K, persistent tile "
        "schedulers) and picks among its tile heights (multiples of matrix_unit_rows) the one that pads the rows "
        "least: a GEMM loses only the padding to a multiple of matrix_unit_rows (measured for cuBLAS on an H200, "
        "docs/formulas.md 5.1). None: false (whole tiles, the last wave partly empty).")
    clock_hz: Hertz | None = Field(
        None, description="Clock of the compute units at which the datasheet's peaks are quoted (the "
        "boost clock), in Hz: what a kernel bound per compute unit and clock reaches "
        "(EngineSpec.quantized_gemm_macs_per_unit_clock, stream_bytes_per_unit_clock). None: not modelled.")
    source: str | None = Field(None, description="Where the figures come from (datasheet, architecture whitepaper).")


class EngineFit(FrozenSpec):
    """Per-step host costs of one serving engine fitted on this device family's measurements."""

    step_overhead_s: Seconds = Field(description="Fitted host work per step at batch 1 (a).")
    step_overhead_per_sequence_s: Seconds = Field(0.0, description="Fitted host work per sequence (b).")
    prefill_overhead_s: Seconds = Field(0.0, description="Fitted host work added to each prefill step (c).")
    memory_scale: float = Field(
        1.0, ge=0.5, le=2.0,
        description="Fitted ratio of this engine's achieved bandwidth (weights and KV) to the family's (1: the "
                    "family's; fitted only where the engine's rows vary batch or model).")
    rows: list[str] = Field(min_length=1, description="Ids of the validation rows the fit used.")


class Calibration(FrozenSpec):
    """Where fitted realism factors come from: the family fit, its date and the measurement rows used."""

    family: str = Field(description="Hardware family fitted together (genmodel.validation.FAMILIES).")
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Day of the fit, YYYY-MM-DD.")
    rows: list[str] = Field(min_length=1, description="Ids of the validation rows the fit used.")
    method: str = Field("least squares on log error (docs/validation.md)", description="How the fit was made.")


class Efficiency(FrozenSpec):
    """Realism factors; unset fields take the default for the hardware kind (``genmodel.engine.realism``)."""

    compute_efficiency: Fraction | None = Field(
        None, description="Achievable fraction of dense peak FLOP/s in large matrix multiplies.")
    memory_efficiency: Fraction | None = Field(
        None, description="Achievable fraction of peak memory bandwidth in streaming reads.")
    kernel_overhead_s: Seconds | None = Field(
        None, description="Fixed cost per kernel launch (launch, ramp-up and tail) in seconds.")
    step_overhead_s: Seconds | None = Field(
        None, description="Fixed cost per forward step (scheduler, sampling, host work) in seconds.")
    attention_efficiency: Fraction | None = Field(
        None, description="Achievable fraction of peak FLOP/s in fused attention at long prompts.")
    kv_memory_efficiency: Fraction | None = Field(
        None, description="Achievable fraction of peak bandwidth when decode attention reads the (paged) KV cache.")
    step_overhead_per_sequence_s: Seconds | None = Field(
        None, description="Host work per sequence in a step (sampling, detokenization) in seconds.")
    prefill_overhead_s: Seconds | None = Field(
        None, description="Host work added to each prefill step (request admission, context setup) in seconds.")
    usable_memory_fraction: Fraction | None = Field(
        None, description="Share of the device memory the serving engine may use (vLLM's gpu_memory_utilization, "
        "SGLang's mem_fraction_static).")
    runtime_reserved_bytes: BytesOrZero | None = Field(
        None, description="Bytes the runtime takes out of that share before weights and KV cache (CUDA context, "
        "library workspaces, captured graphs).")
    collective_reserved_bytes: BytesOrZero | None = Field(
        None, description="Further bytes held on a device whose model replica spans several devices (NCCL/RCCL/"
        "HCCL and custom all-reduce buffers).")
    engine: str | None = Field(None, description="Serving engine the factors describe (None: not specific).")
    calibration: Calibration | None = Field(None, description="Set when the factors were fitted on measurements.")
    engines: dict[str, EngineFit] = Field(
        default_factory=dict, description="Per-step host costs fitted for serving engines on this family.")
    source: str | None = Field(None, description="Where the overrides come from (measurement, paper).")


class HardwareSpec(FrozenSpec):
    """One device: compute peaks, memory tiers, interconnects, power, cost and provenance."""

    name: EntryName = Field(description="Database key, lower-case with dashes, e.g. 'h100-sxm'.")
    display_name: DisplayName = Field(description="Human-readable name, e.g. 'NVIDIA H100 SXM5 80GB'.")
    vendor: str = Field(description="Manufacturer, e.g. 'NVIDIA'.")
    kind: HardwareKind = Field(description="Device class; selects the default realism factors.")
    year: int | None = Field(None, description="Year of launch or announcement.")
    peak_flops_per_s: dict[str, FlopsPerSecond] = Field(
        description="Dense peak throughput per datatype in FLOP/s (or OP/s for int8/int4).")
    memory_tiers: list[MemoryTier] = Field(min_length=1, description="Memory hierarchy, fastest first.")
    scale_up: Interconnect | None = Field(None, description="Scale-up fabric (NVLink, ICI, Infinity Fabric, UB).")
    scale_out: Interconnect | None = Field(None, description="Scale-out network (NIC per device).")
    host_link: HostLink | None = Field(
        None, description="Link to the host memory (or slower tier) KV-cache offload uses; None: not described.")
    power: Power | None = Field(None, description="TDP and idle power in watts.")
    cost: Cost | None = Field(None, description="Purchase price (USD) and rental price (USD per hour).")
    energy: EnergyCoefficients | None = Field(
        None, description="Per-operation energy coefficients; without them power follows the TDP envelope.")
    efficiency: Efficiency = Field(default_factory=Efficiency,
                                   description="Overrides of the per-kind realism factors (genmodel.engine.realism).")
    microarchitecture: Microarchitecture = Field(
        default_factory=Microarchitecture, description="Shapes the matrix units like (shape-dependent efficiency).")
    default_engine: str | None = Field(
        None, description="The serving engine usually run on this device (engines_db/); None: the kind's usual one.")
    source: str = Field(min_length=1, description="Datasheet(s), paper or other source of the figures.")
    confidence: Literal["high", "medium", "low"] = Field("high", description="Confidence in the figures.")
    notes: str | None = Field(None, description="Caveats: derived figures, variants, disputed numbers.")

    @field_validator("peak_flops_per_s", mode="before")
    @classmethod
    def _known_dtypes(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, flops in value.items():
            try:
                out[normalize_dtype(key)] = flops
            except Exception as exc:  # re-raised as a validation error
                raise ValueError(f"unknown datatype {key!r} in peak_flops_per_s; known: {', '.join(DTYPES)}") from exc
        if not out:
            raise ValueError("peak_flops_per_s needs at least one datatype")
        return out

    @model_validator(mode="after")
    def _has_main_memory(self) -> HardwareSpec:
        if not any(t.role == "memory" for t in self.memory_tiers):
            raise ValueError("at least one memory tier must have role 'memory'")
        if self.energy is not None:
            names = {t.name for t in self.memory}
            missing = names - set(self.energy.memory_j_per_bit)
            if missing:
                raise ValueError(f"energy.memory_j_per_bit needs every memory tier; missing {sorted(missing)}")
            if self.power is None:
                raise ValueError("energy coefficients need a power block (idle_w and tdp_w)")
        tier = self.host_link.memory_tier if self.host_link is not None else None
        if tier is not None and tier not in [t.name for t in self.memory[1:]]:
            raise ValueError(f"host_link.memory_tier {tier!r} must name a memory tier other than the fastest; "
                             f"tiers: {[t.name for t in self.memory]}")
        return self

    # ---- derived views ---------------------------------------------------------------------------
    @property
    def memory(self) -> list[MemoryTier]:
        """The tiers that hold data (role 'memory'), fastest first."""
        return [t for t in self.memory_tiers if t.role == "memory"]

    @property
    def memory_capacity_bytes(self) -> float:
        """Total capacity of the 'memory' tiers in bytes (before the usable fraction)."""
        return sum(t.capacity_bytes for t in self.memory)

    @property
    def fastest_memory(self) -> MemoryTier:
        """The first (fastest) 'memory' tier: HBM on a GPU, SRAM on Groq or SambaNova."""
        return self.memory[0]

    @property
    def offload_tier(self) -> int | None:
        """Index in ``memory`` of the tier the host link names (KV-cache offload memory), or None."""
        tier = self.host_link.memory_tier if self.host_link is not None else None
        return None if tier is None else [t.name for t in self.memory].index(tier)

    def supports(self, dtype: str) -> bool:
        """True when the device has a listed dense peak for ``dtype``."""
        return normalize_dtype(dtype) in self.peak_flops_per_s

    def scaled(self, *, flops_scale: float = 1.0, bandwidth_scale: float = 1.0,
               capacity_scale: float = 1.0) -> HardwareSpec:
        """A copy with every peak, every memory bandwidth and/or every capacity multiplied (what-if)."""
        tiers = [t.model_copy(update={
            "capacity_bytes": t.capacity_bytes * capacity_scale,
            "bandwidth_bytes_per_s": None if t.bandwidth_bytes_per_s is None
            else t.bandwidth_bytes_per_s * bandwidth_scale}) for t in self.memory_tiers]
        return self.model_copy(update={
            "peak_flops_per_s": {k: v * flops_scale for k, v in self.peak_flops_per_s.items()},
            "memory_tiers": tiers})
