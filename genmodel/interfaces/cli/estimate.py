"""``genmodel estimate``: one configuration (or a platform split) in full: latency, memory, energy and cost."""

from typing import Annotated, Any

import typer

from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import (
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    ActOpt,
    CostModeOpt,
    EngineOpt,
    HardwareOpt,
    InputOpt,
    JsonOpt,
    KvOpt,
    ModelOpt,
    OutputOpt,
    UncalibratedOpt,
    WeightOpt,
    band_basis,
    band_range,
    costs,
    efficiency,
    emit_json,
    gib,
    known,
    ms,
    num,
)

# the documented range of the cryogenic cooling overhead (docs/energy_tco.md section 1.3)
CRYO_RANGE = "Carnot limit ~70 W/W from 300 K; large helium plants 220-400; small cryocoolers >= 1,000"


@app.command()
def estimate(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    batch: Annotated[int, typer.Option(help="Sequences in the static batch of each model replica.")] = 1,
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None,
    activation_dtype: ActOpt = None,
    embedding_dtype: Annotated[str | None, typer.Option(
        help="Datatype of the embedding and LM head (default: the activation dtype for quantized weights).")]
    = None,
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree (attention heads, FFN columns).")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    ep: Annotated[int, typer.Option(help="Expert-parallel degree (MoE models).")] = 1,
    dp: Annotated[int, typer.Option(help="Data-parallel replicas.")] = 1,
    cp: Annotated[int, typer.Option(help="Context-parallel degree (splits long prompts; ring attention).")] = 1,
    attention_dp: Annotated[bool, typer.Option(
        help="Attention data-parallel over the EP group (DeepSeek/SGLang layout; a stage has ep devices).")]
    = False,
    expert_imbalance: Annotated[float, typer.Option(help="Busiest expert device's tokens / mean (>= 1).")] = 1.0,
    comm_overlap: Annotated[float, typer.Option(
        help="Two-batch overlap: share of each micro-batch's communication that can hide under the other's "
        "compute (0-1; 0 = no overlap).")] = 0.0,
    num_devices: Annotated[int | None, typer.Option(help="Check that dp x pp x tp (or ep) equals this.")] = None,
    prefill_chunk_tokens: Annotated[int, typer.Option(
        help="Most prompt tokens per prefill step: bounds the activation memory (the TTFT does not count re-reading "
        "the weights for each chunk; serve schedules chunks).")] = 8192,
    flops_scale: Annotated[float, typer.Option(help="What-if: multiply every peak FLOP/s.")] = 1.0,
    bandwidth_scale: Annotated[float, typer.Option(help="What-if: multiply every memory bandwidth.")] = 1.0,
    capacity_scale: Annotated[float, typer.Option(help="What-if: multiply every memory capacity.")] = 1.0,
    interconnect_scale: Annotated[float, typer.Option(help="What-if: multiply every link bandwidth.")] = 1.0,
    cost_mode: CostModeOpt = "owned",
    usd_per_device_hour: Annotated[float | None, typer.Option(
        help="Rental price per device-hour (implies --cost-mode rented unless given with owned).")] = None,
    purchase_usd: Annotated[float | None, typer.Option(help="Purchase price per device (owned mode).")] = None,
    electricity_usd_per_kwh: Annotated[float, typer.Option(help="Electricity price.")] = 0.08,
    pue: Annotated[float, typer.Option(help="Facility power usage effectiveness (>= 1).")] = 1.3,
    amortization_years: Annotated[float, typer.Option(help="Years over which owned hardware is paid off.")] = 4.0,
    utilization: Annotated[float, typer.Option(help="Share of paid hours spent serving (0-1].")] = 0.7,
    requests_per_s: Annotated[float | None, typer.Option(help="Request rate for the yearly cost.")] = None,
    cooling_w_per_w: Annotated[float | None, typer.Option(
        help=f"Cryogenic devices: wall watts per watt removed at 4 K (entry default; {CRYO_RANGE}).")] = None,
    compute_efficiency: Annotated[float | None, typer.Option(
        help="Override: achievable fraction of peak FLOP/s (0-1].")] = None,
    memory_efficiency: Annotated[float | None, typer.Option(
        help="Override: achievable fraction of peak memory bandwidth (0-1].")] = None,
    kernel_overhead_us: Annotated[float | None, typer.Option(help="Override: microseconds per kernel.")] = None,
    step_overhead_ms: Annotated[float | None, typer.Option(help="Override: milliseconds per forward step.")]
    = None,
    memory_fraction: Annotated[float | None, typer.Option(
        help="Override: share of device memory the serving engine uses (vLLM gpu_memory_utilization).")] = None,
    runtime_reserved: Annotated[str | None, typer.Option(
        help="Override: memory the runtime holds before weights and KV cache, e.g. '1.5 GiB'.")] = None,
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    allow_overflow: Annotated[bool, typer.Option(
        help="Report a configuration that does not fit (fits=false) instead of failing.")] = False,
    breakdown: Annotated[bool, typer.Option(help="Also print the per-operator breakdown.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Estimate TTFT, TPOT, end-to-end latency, throughput, memory, energy and cost of MODEL on HARDWARE."""
    from genmodel.engine.estimate import estimate as run_estimate

    result = run_estimate(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                          activation_dtype, embedding_dtype=embedding_dtype, tp=tp, pp=pp, ep=ep, dp=dp, cp=cp,
                          attention_dp=attention_dp, expert_imbalance=expert_imbalance, comm_overlap=comm_overlap,
                          num_devices=num_devices, prefill_chunk_tokens=prefill_chunk_tokens,
                          flops_scale=flops_scale, bandwidth_scale=bandwidth_scale, capacity_scale=capacity_scale,
                          interconnect_scale=interconnect_scale, check_fit=not allow_overflow,
                          costs=costs(cost_mode, usd_per_device_hour, purchase_usd, electricity_usd_per_kwh, pue,
                                      amortization_years, utilization),
                          requests_per_s=requests_per_s, calibrated=not uncalibrated,
                          efficiency=efficiency(compute_efficiency, memory_efficiency, kernel_overhead_us,
                                                step_overhead_ms, memory_fraction, runtime_reserved),
                          cooling_w_per_w=cooling_w_per_w, engine=engine)
    data = result.to_dict()
    if as_json:
        if breakdown:
            data["breakdown"] = result.breakdown().to_records()
        emit_json(data)
        return
    typer.echo(format_estimate(result, data))
    if breakdown:
        print_breakdown(result)


def _row(label: str, d: dict[str, Any], key: str, rate: bool = False) -> str:
    """One figure with its 80% band and its ideal-roofline twin (when it has one)."""
    value, band = d[key], band_range(d.get(f"{key}_low"), d.get(f"{key}_high"), 1.0 if rate else 1e3)
    shown = f"{value:,.1f} tok/s" if rate else ms(value)
    ideal = d.get(f"ideal_{key}")
    twin = "" if ideal is None else (f"{ideal:,.1f} tok/s" if rate else ms(ideal))
    return f"  {label:32}{(shown + ' ' + band).rstrip():>30}{twin:>18}".rstrip()


def _band_basis(d: dict[str, Any]) -> str:
    """Where the bands come from, per phase (one line)."""
    bases = band_basis(d.get("bands", {}))
    return "80% of held-out published measurements fall inside (docs/validation.md); " + bases if bases else "none"


def _missing_price(result: Any, d: dict[str, Any]) -> str:
    """A hint after the cost line when the device has no price for the chosen cost mode."""
    if known(d["usd_per_device_hour"]):
        return ""
    if result.costs.mode == "owned":
        return "; no purchase price for this device: try --cost-mode rented or --purchase-usd"
    return "; no rental price for this device: give --usd-per-device-hour"


def format_estimate(result: Any, d: dict[str, Any]) -> str:
    """The human-readable report of one configuration."""
    m, hw, r = result.model, result.hardware, result.realism
    where, idle, of = hw.display_name, 0, ""
    if result.platform is not None:
        systems = -(-d["devices"] // result.platform.num_devices)
        where = result.platform.display_name if systems == 1 else f"{systems} x {result.platform.display_name}"
        # a layout that does not fill the systems: say how much of them runs (every figure is of the devices that run)
        idle = systems * result.platform.num_devices - d["devices"]
        of = f" of {'its' if systems == 1 else 'their'} {systems * result.platform.num_devices}" if idle > 0 else ""
    split = ""
    if d["devices"] > 1 or idle > 0:
        split = (f" — {d['devices']}{of} devices: tp {d['tp']}, pp {d['pp']}, ep {d['ep']}, dp {d['dp']}"
                 + (f", cp {d['cp']}" if d["cp"] > 1 else "")
                 + (", attention data-parallel" if d["attention_dp"] else "")
                 + (f", two-batch overlap {d['comm_overlap']:.0%}" if d["comm_overlap"] > 0 else "")
                 + (f" ({idle} idle: --tp, --pp, --ep or --dp use them)" if idle > 0 else ""))
    embed = f"; embedding/LM head {d['embedding_dtype']}" if d["embedding_dtype"] != d["weight_dtype"] else ""
    lines = [
        f"{m.display_name} on {where}{split}",
        f"  workload: batch {d['batch']}, {d['input_tokens']} input + {d['output_tokens']} output tokens; "
        f"weights {d['weight_dtype']}, activations {d['activation_dtype']}, KV cache {d['kv_dtype']}{embed}",
        f"  realism: {r.describe(memory=False)}",
        "",
        f"  {'':32}{'estimate (80% band)':>30}{'ideal roofline':>18}",
        _row("TTFT (prefill, whole batch)", d, "ttft_s"),
        _row("TPOT (mean over decode steps)", d, "tpot_s"),
        _row("TPOT at final context", d, "tpot_final_s"),
        _row("end-to-end latency", d, "e2e_latency_s"),
        _row("output throughput", d, "output_tokens_per_s", rate=True),
        _row("total throughput (in + out)", d, "total_tokens_per_s", rate=True),
        _row("decode rate (batch / TPOT)", d, "decode_tokens_per_s", rate=True),
        f"  decode is {d['bound']}-bound; prefill is {d['prefill_bound']}-bound",
        f"  bands: {_band_basis(d)}",
    ]
    if d["devices"] > 1:
        lines += [
            f"  {'per device: output throughput':32}{d['output_tokens_per_s_per_device']:>12,.1f} tok/s",
            f"  {'per user: decode rate (1 / TPOT)':32}{d['tokens_per_s_per_user']:>12,.1f} tok/s",
            f"  {'communication inside TPOT':32}{ms(d['decode_comm_s']):>16}   (inside TTFT: "
            f"{ms(d['prefill_comm_s'])})",
        ]
    lines += [
        "",
        "  memory" + (" (per device, the most loaded one)" if d["devices"] > 1 else ""),
        f"    weights          {gib(d['weights_bytes']):>12}",
        f"    KV cache         {gib(d['kv_cache_bytes']):>12}   (batch x {d['input_tokens'] + d['output_tokens']}"
        " tokens)",
        f"    activations      {gib(d['activation_peak_bytes']):>12}   (peak, prefill)",
        f"    total            {gib(d['total_memory_bytes']):>12}   of {gib(d['memory_capacity_bytes'])} "
        f"usable -> {'fits' if d['fits'] else 'DOES NOT FIT'}",
        f"    usable = {gib(d['device_memory_bytes'])} on the device x {r.usable_memory_fraction:.0%} "
        f"- {gib(d['runtime_reserved_bytes'])} held by the runtime",
        f"    largest batch that fits: {d['max_batch']:,} ({d['max_batch_low']:,}-{d['max_batch_high']:,} with "
        f"1.5 GiB less or more memory); longest context at batch {d['batch']}: "
        f"{d['max_context_tokens']:,} tokens (model max {m.max_context_tokens:,})",
        "",
        "  energy (devices; facility x PUE) and cost",
        f"    energy per output token  {num(d['energy_per_output_token_j'], ',.4f', ' J'):>14}   "
        f"(facility: {num(d['facility_energy_per_output_token_j'], ',.4f', ' J')}); per request "
        f"{num(d['energy_per_request_j'], ',.1f', ' J')}",
        f"    power                    {num(d['avg_power_w'], ',.0f', ' W'):>14} average, "
        f"{num(d['peak_power_w'], ',.0f', ' W')} peak (all devices)",
    ]
    cooling = _cooling(result)
    if cooling:
        lines.append(cooling)
    lines += [
        f"    cost per device-hour     {num(d['usd_per_device_hour'], ',.3f', ' USD'):>14}   "
        f"({result.costs.mode}, {result.costs.utilization:.0%} utilization{_missing_price(result, d)})",
        f"    per million tokens       {num(d['usd_per_million_input_tokens'], ',.4f', ' USD'):>14} input, "
        f"{num(d['usd_per_million_output_tokens'], ',.4f', ' USD')} output; per request "
        f"{num(d['usd_per_request'], ',.6f', ' USD')}",
    ]
    if "yearly_usd" in d:
        lines.append(f"    yearly at the request rate: {num(d['yearly_usd'], ',.0f', ' USD')} on "
                     f"{num(d['devices_for_rate'], ',.0f')} devices (capex {num(d['yearly_capex_usd'], ',.0f')}, "
                     f"energy {num(d['yearly_energy_usd'], ',.0f')}, other {num(d['yearly_other_usd'], ',.0f')})")
    return "\n".join(lines)


def _cooling(result: Any) -> str:
    """The cryogenic cooling assumption, for devices whose energy includes their own cooling."""
    factor = float(result.inputs["cooling_w_per_w"])
    if factor == 0:
        return ""
    return (f"    cooling                  {factor:,.0f} W at the wall per W in the cold stage, included above "
            f"(--cooling-w-per-w; {CRYO_RANGE})")


def print_breakdown(result: Any) -> None:
    """Per phase: every operator, collective and overhead on the critical path; the rows sum to TTFT / TPOT."""
    table = result.breakdown()
    totals = {"prefill": ("TTFT", result.ttft_s), "decode": ("mean TPOT", result.tpot_s)}
    for phase in ("prefill", "decode"):
        part = table[table.phase == phase].sort("time_s", descending=True)
        label, total = totals[phase]
        typer.echo(f"\n  {phase}: the rows sum to the {label}, {ms(total)} (all layers on the critical path"
                   + (", mean decode step)" if phase == "decode" else ")"))
        typer.echo(f"    {'group':34} {'operator':16} {'GFLOP':>10} {'MB moved':>10} {'time':>12} {'share':>7}  bound")
        for row in part.rows():
            moved = (row.weight_bytes + row.kv_bytes + row.activation_bytes) / 1e6
            typer.echo(f"    {row.group[:34]:34} {row.operator[:16]:16} {row.flops / 1e9:>10,.1f} {moved:>10,.1f} "
                       f"{ms(row.time_s):>12} {row.share:>6.1%}  {row.bound}")
        typer.echo(f"    {'total':34} {'':16} {'':>10} {'':>10} {ms(float(part.time_s.sum())):>12}")
