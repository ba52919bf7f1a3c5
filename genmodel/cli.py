"""The ``genmodel`` command line: estimate, models, hardware, show, import-hf.

Contract
--------
Every command prints human-readable text with units (or one JSON object with ``--json``, SI units as the
key names say). Bad input (unknown names, impossible configurations, unreadable files) prints one line
``error: ...`` to stderr and exits with status 2; the library computes everything, this module only
parses arguments and formats results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from genmodel.errors import GenmodelError

DEFAULT_MODEL = "llama-3.1-8b"
DEFAULT_HARDWARE = "h100-sxm"

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="First-principles LLM inference estimates: latency, throughput and memory on any hardware.")


# options shared by several commands
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model name (genmodel models).")]
HardwareOpt = Annotated[str, typer.Option(
    "--hardware", "-H", help="Device (genmodel hardware) or platform (genmodel platforms).")]
InputOpt = Annotated[int, typer.Option(help="Prompt tokens per sequence.")]
OutputOpt = Annotated[int, typer.Option(help="Generated tokens per sequence.")]
WeightOpt = Annotated[str | None, typer.Option(help="Weight datatype (default: activation dtype).")]
KvOpt = Annotated[str | None, typer.Option(help="KV-cache datatype (default: activation dtype).")]
ActOpt = Annotated[str | None, typer.Option(
    help="Activation/matmul datatype (default: bf16, else fp16, else the device's widest).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (SI units).")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _si(value: float, unit: str, digits: int = 4) -> str:
    from genmodel.units import format_quantity

    return format_quantity(value, unit, digits)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.3f} ms"


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
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree (attention heads, FFN columns).")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    ep: Annotated[int, typer.Option(help="Expert-parallel degree (MoE models).")] = 1,
    dp: Annotated[int, typer.Option(help="Data-parallel replicas.")] = 1,
    cp: Annotated[int, typer.Option(help="Context-parallel degree (splits long prompts; ring attention).")] = 1,
    attention_dp: Annotated[bool, typer.Option(
        help="Attention data-parallel over the EP group (DeepSeek/SGLang layout; a stage has ep devices).")]
    = False,
    expert_imbalance: Annotated[float, typer.Option(help="Busiest expert device's tokens / mean (>= 1).")] = 1.0,
    comm_overlap: Annotated[float, typer.Option(help="Fraction of communication hidden under compute.")] = 0.0,
    num_devices: Annotated[int | None, typer.Option(help="Check that dp x pp x tp (or ep) equals this.")] = None,
    prefill_chunk_tokens: Annotated[int, typer.Option(help="Most prompt tokens per prefill step.")] = 8192,
    flops_scale: Annotated[float, typer.Option(help="What-if: multiply every peak FLOP/s.")] = 1.0,
    bandwidth_scale: Annotated[float, typer.Option(help="What-if: multiply every memory bandwidth.")] = 1.0,
    capacity_scale: Annotated[float, typer.Option(help="What-if: multiply every memory capacity.")] = 1.0,
    interconnect_scale: Annotated[float, typer.Option(help="What-if: multiply every link bandwidth.")] = 1.0,
    cost_mode: Annotated[str, typer.Option(help="TCO mode: 'owned' (capex + energy + opex) or 'rented'.")]
    = "owned",
    usd_per_device_hour: Annotated[float | None, typer.Option(
        help="Rental price per device-hour (implies --cost-mode rented unless given with owned).")] = None,
    purchase_usd: Annotated[float | None, typer.Option(help="Purchase price per device (owned mode).")] = None,
    electricity_usd_per_kwh: Annotated[float, typer.Option(help="Electricity price.")] = 0.08,
    pue: Annotated[float, typer.Option(help="Facility power usage effectiveness (>= 1).")] = 1.3,
    amortization_years: Annotated[float, typer.Option(help="Years over which owned hardware is paid off.")] = 4.0,
    utilization: Annotated[float, typer.Option(help="Share of paid hours spent serving (0-1].")] = 0.7,
    requests_per_s: Annotated[float | None, typer.Option(help="Request rate for the yearly cost.")] = None,
    compute_efficiency: Annotated[float | None, typer.Option(
        help="Override: achievable fraction of peak FLOP/s (0-1].")] = None,
    memory_efficiency: Annotated[float | None, typer.Option(
        help="Override: achievable fraction of peak memory bandwidth (0-1].")] = None,
    kernel_overhead_us: Annotated[float | None, typer.Option(help="Override: microseconds per kernel.")] = None,
    step_overhead_ms: Annotated[float | None, typer.Option(help="Override: milliseconds per forward step.")]
    = None,
    uncalibrated: Annotated[bool, typer.Option(
        help="Ignore the device's calibrated efficiencies; use its kind's defaults (docs/formulas.md).")] = False,
    allow_overflow: Annotated[bool, typer.Option(
        help="Report a configuration that does not fit (fits=false) instead of failing.")] = False,
    breakdown: Annotated[bool, typer.Option(help="Also print the per-operator breakdown.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Estimate TTFT, TPOT, end-to-end latency, throughput and memory of MODEL on one HARDWARE device."""
    from genmodel.estimate import estimate as run_estimate

    result = run_estimate(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                          activation_dtype, tp=tp, pp=pp, ep=ep, dp=dp, cp=cp, attention_dp=attention_dp,
                          expert_imbalance=expert_imbalance, comm_overlap=comm_overlap, num_devices=num_devices,
                          prefill_chunk_tokens=prefill_chunk_tokens, flops_scale=flops_scale,
                          bandwidth_scale=bandwidth_scale, capacity_scale=capacity_scale,
                          interconnect_scale=interconnect_scale, check_fit=not allow_overflow,
                          costs=_costs(cost_mode, usd_per_device_hour, purchase_usd, electricity_usd_per_kwh, pue,
                                       amortization_years, utilization),
                          requests_per_s=requests_per_s, calibrated=not uncalibrated,
                          efficiency=_efficiency(compute_efficiency, memory_efficiency, kernel_overhead_us,
                                                 step_overhead_ms))
    data = result.to_dict()
    if as_json:
        if breakdown:
            data["breakdown"] = result.breakdown().to_dict(orient="records")
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(_format_estimate(result, data))
    if breakdown:
        _print_breakdown(result)


def _efficiency(compute: float | None, memory: float | None, kernel_us: float | None,
                step_ms: float | None) -> Any:
    """The realism overrides given on the command line, or None."""
    from genmodel.hardware_spec import Efficiency

    if compute is None and memory is None and kernel_us is None and step_ms is None:
        return None
    for label, value in (("--compute-efficiency", compute), ("--memory-efficiency", memory)):
        if value is not None and not 0 < value <= 1:
            _fail(f"{label} is a fraction of peak in (0, 1], got {value:g}")
    for label, value in (("--kernel-overhead-us", kernel_us), ("--step-overhead-ms", step_ms)):
        if value is not None and value < 0:
            _fail(f"{label} cannot be negative, got {value:g}")
    return Efficiency(compute_efficiency=compute, memory_efficiency=memory,
                      kernel_overhead_s=None if kernel_us is None else kernel_us * 1e-6,
                      step_overhead_s=None if step_ms is None else step_ms * 1e-3, source="command-line override")


def _costs(mode: str, usd_per_device_hour: float | None, purchase_usd: float | None, electricity: float,
           pue: float, years: float, utilization: float) -> Any:
    from genmodel.tco import CostAssumptions

    if usd_per_device_hour is not None and mode == "owned" and purchase_usd is None:
        mode = "rented"
    return CostAssumptions(mode=mode, amortization_years=years, utilization=utilization,
                           electricity_usd_per_kwh=electricity, pue=pue, purchase_usd=purchase_usd,
                           rental_usd_per_device_hour=usd_per_device_hour)


def _known(value: Any) -> bool:
    """True for a number that is neither None nor NaN."""
    return value is not None and value == value


def _num(value: Any, fmt: str, unit: str = "") -> str:
    """Format a number, or 'n/a' for an unknown one (None or NaN: no price, no TDP)."""
    if not _known(value):
        return "n/a"
    return f"{value:{fmt}}{unit}"


def _missing_price(result: Any, d: dict[str, Any]) -> str:
    """A hint after the cost line when the device has no price for the chosen cost mode."""
    if _known(d["usd_per_device_hour"]):
        return ""
    if result.costs.mode == "owned":
        return "; no purchase price for this device: try --cost-mode rented or --purchase-usd"
    return "; no rental price for this device: give --usd-per-device-hour"


def _format_estimate(result: Any, d: dict[str, Any]) -> str:
    from genmodel.efficiency import describe_efficiency

    m, hw, eff = result.model, result.hardware, result.efficiency
    where = hw.display_name
    if result.platform is not None:
        systems = -(-d["devices"] // result.platform.num_devices)
        where = result.platform.display_name if systems == 1 else f"{systems} x {result.platform.display_name}"
    split = ""
    if d["devices"] > 1:
        split = (f" — {d['devices']} devices: tp {d['tp']}, pp {d['pp']}, ep {d['ep']}, dp {d['dp']}"
                 + (f", cp {d['cp']}" if d["cp"] > 1 else "")
                 + (", attention data-parallel" if d["attention_dp"] else ""))
    lines = [
        f"{m.display_name} on {where}{split}",
        f"  workload: batch {d['batch']}, {d['input_tokens']} input + {d['output_tokens']} output tokens; "
        f"weights {d['weight_dtype']}, activations {d['activation_dtype']}, KV cache {d['kv_dtype']}",
        f"  realism: {describe_efficiency(eff, hw)}",
        "",
        f"  {'':32}{'estimate':>16}{'ideal roofline':>18}",
        f"  {'TTFT (prefill, whole batch)':32}{_ms(d['ttft_s']):>16}{_ms(d['ideal_ttft_s']):>18}",
        f"  {'TPOT (mean over decode steps)':32}{_ms(d['tpot_s']):>16}{_ms(d['ideal_tpot_s']):>18}",
        f"  {'TPOT at final context':32}{_ms(d['tpot_final_s']):>16}{_ms(d['ideal_tpot_final_s']):>18}",
        f"  {'end-to-end latency':32}{_ms(d['e2e_latency_s']):>16}{_ms(d['ideal_e2e_latency_s']):>18}",
        f"  {'output throughput':32}{d['output_tokens_per_s']:>12,.1f} tok/s"
        f"{d['ideal_output_tokens_per_s']:>14,.1f} tok/s",
        f"  {'total throughput (in + out)':32}{d['total_tokens_per_s']:>12,.1f} tok/s",
        f"  {'decode rate (batch / TPOT)':32}{d['decode_tokens_per_s']:>12,.1f} tok/s",
        f"  decode is {d['bound']}-bound; prefill is {d['prefill_bound']}-bound",
    ]
    if d["devices"] > 1:
        lines += [
            f"  {'per device: output throughput':32}{d['output_tokens_per_s_per_device']:>12,.1f} tok/s",
            f"  {'per user: decode rate (1 / TPOT)':32}{d['tokens_per_s_per_user']:>12,.1f} tok/s",
            f"  {'communication per output token':32}{_ms(d['decode_comm_s']):>16}   (in TTFT: "
            f"{_ms(d['prefill_comm_s'])})",
        ]
    lines += [
        "",
        "  memory" + (" (per device, the most loaded one)" if d["devices"] > 1 else ""),
        f"    weights          {_si(d['weights_bytes'], 'B'):>12}",
        f"    KV cache         {_si(d['kv_cache_bytes'], 'B'):>12}   (batch x {d['input_tokens'] + d['output_tokens']}"
        " tokens)",
        f"    activations      {_si(d['activation_peak_bytes'], 'B'):>12}   (peak, prefill)",
        f"    total            {_si(d['total_memory_bytes'], 'B'):>12}   of {_si(d['memory_capacity_bytes'], 'B')} "
        f"usable -> {'fits' if d['fits'] else 'DOES NOT FIT'}",
        f"    largest batch that fits: {d['max_batch']:,}; longest context at batch {d['batch']}: "
        f"{d['max_context_tokens']:,} tokens (model max {m.max_context_tokens:,})",
        "",
        "  energy (devices; facility x PUE) and cost",
        f"    energy per output token  {_num(d['energy_per_output_token_j'], ',.4f', ' J'):>14}   "
        f"(facility: {_num(d['facility_energy_per_output_token_j'], ',.4f', ' J')}); per request "
        f"{_num(d['energy_per_request_j'], ',.1f', ' J')}",
        f"    power                    {_num(d['avg_power_w'], ',.0f', ' W'):>14} average, "
        f"{_num(d['peak_power_w'], ',.0f', ' W')} peak (all devices)",
        f"    cost per device-hour     {_num(d['usd_per_device_hour'], ',.3f', ' USD'):>14}   "
        f"({result.costs.mode}, {result.costs.utilization:.0%} utilization{_missing_price(result, d)})",
        f"    per million tokens       {_num(d['usd_per_million_input_tokens'], ',.4f', ' USD'):>14} input, "
        f"{_num(d['usd_per_million_output_tokens'], ',.4f', ' USD')} output; per request "
        f"{_num(d['usd_per_request'], ',.6f', ' USD')}",
    ]
    if "yearly_usd" in d:
        lines.append(f"    yearly at the request rate: {_num(d['yearly_usd'], ',.0f', ' USD')} on "
                     f"{_num(d['devices_for_rate'], ',.0f')} devices (capex {_num(d['yearly_capex_usd'], ',.0f')}, "
                     f"energy {_num(d['yearly_energy_usd'], ',.0f')}, other {_num(d['yearly_other_usd'], ',.0f')})")
    return "\n".join(lines)


def _print_breakdown(result: Any) -> None:
    df = result.breakdown()
    for phase in ("prefill", "decode"):
        part = df[df.phase == phase].sort_values("time_s", ascending=False)
        note = ", mean over steps" if phase == "decode" else ""
        typer.echo(f"\n  {phase} operators (all layers of a group summed{note})")
        typer.echo(f"    {'group':34} {'operator':16} {'GFLOP':>10} {'MB moved':>10} {'time':>12} {'share':>7}  bound")
        for row in part.itertuples():
            moved = (row.weight_bytes + row.kv_bytes + row.activation_bytes) / 1e6
            typer.echo(f"    {row.group[:34]:34} {row.operator:16} {row.flops / 1e9:>10,.1f} {moved:>10,.1f} "
                       f"{_ms(row.time_s):>12} {row.share:>6.1%}  {row.bound}")


def _layout(row: Any) -> str:
    stage = f"tp {int(row.tp)}, pp {int(row.pp)}" + (f", cp {int(row.cp)}" if int(getattr(row, "cp", 1)) > 1 else "")
    if int(row.ep) > 1:
        stage += f", ep {int(row.ep)}" + (" (attention data-parallel)" if bool(row.attention_dp) else "")
    return stage + (f", dp {int(row.dp)}" if int(row.dp) > 1 else "")


@app.command()
def size(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    batch: Annotated[int, typer.Option(help="Sequences per replica.")] = 1,
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None,
    activation_dtype: ActOpt = None,
    max_devices: Annotated[int | None, typer.Option(help="Largest replica to consider (default 4096).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The fewest devices that hold the model, its KV cache and activations for the workload, and the split."""
    from genmodel.planner import size as run_size

    result = run_size(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                      activation_dtype, max_devices)
    best = result.best
    if as_json:
        typer.echo(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}, indent=2))
        return
    typer.echo(f"{model}: {int(best.devices)} devices ({_layout(best)}) hold batch {batch} x "
               f"{input_tokens + output_tokens} tokens")
    typer.echo(f"  per device: {_si(best.total_memory_bytes, 'B')} of {_si(best.memory_capacity_bytes, 'B')} usable; "
               f"TTFT {_ms(best.ttft_s)}, TPOT {_ms(best.tpot_s)}")
    others = result.candidates.iloc[1:6]
    if len(others):
        typer.echo(f"  other {int(best.devices)}-device splits that fit:")
        for row in others.itertuples():
            typer.echo(f"    {_layout(row):40} TPOT {_ms(row.tpot_s)}")


@app.command()
def plan(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    ttft_ms: Annotated[float | None, typer.Option(help="Time-to-first-token target in ms.")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="Time-per-output-token target in ms.")] = None,
    max_devices: Annotated[int | None, typer.Option(
        help="Device budget (default: the platform's devices, or 8 for a device).")] = None,
    weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None,
    activation_dtype: ActOpt = None,
    top: Annotated[int, typer.Option(help="Rows of the ranking to print.")] = 10,
    rank_by: Annotated[str, typer.Option(help="throughput (per device), cost ($/Mtok) or energy (J/token).")]
    = "throughput",
    cost_mode: Annotated[str, typer.Option(help="'owned' or 'rented' (for --rank-by cost).")] = "owned",
    csv: Annotated[Path | None, typer.Option(help="Write the ranked configurations to this CSV file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a plotly chart (Pareto front) to this HTML file.")]
    = None,
    disaggregated: Annotated[bool, typer.Option(
        help="Also size separate prefill and decode pools and compare with co-located serving.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Search device count, TP/PP/EP/DP and batch for configurations meeting TTFT/TPOT targets."""
    from genmodel.planner import disaggregate
    from genmodel.planner import plan as run_plan

    ttft = ttft_ms / 1e3 if ttft_ms is not None else None
    tpot = tpot_ms / 1e3 if tpot_ms is not None else None
    common = {"max_devices": max_devices, "weight_dtype": weight_dtype, "kv_dtype": kv_dtype,
              "activation_dtype": activation_dtype, "costs": _costs(cost_mode, None, None, 0.08, 1.3, 4.0, 0.7)}
    result = run_plan(model, hardware, input_tokens, output_tokens, ttft, tpot, rank_by=rank_by, **common)
    if csv:
        result.to_csv(csv)
    if html:
        result.plot_html(html, f"{model} on {hardware}: {input_tokens} in / {output_tokens} out")
    split = None
    if disaggregated:
        split = disaggregate(model, hardware, input_tokens, output_tokens, ttft, tpot, **common)
    if as_json:
        data = {"evaluated": len(result.space), "seconds": result.seconds,
                "configurations": json.loads(result.ranked.head(top).to_json(orient="records")),
                "pareto": json.loads(result.pareto.to_json(orient="records"))}
        if split is not None:
            data["disaggregated"] = {
                "prefill": json.loads(split.prefill.to_json()), "decode": json.loads(split.decode.to_json()),
                "kv_transfer_s": split.kv_transfer_s, "prefill_to_decode_devices": split.prefill_to_decode_devices,
                "output_tokens_per_s_per_device": split.output_tokens_per_s_per_device,
                "colocated_output_tokens_per_s_per_device": split.colocated_output_tokens_per_s_per_device}
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"evaluated {len(result.space):,} configurations in {result.seconds * 1e3:,.0f} ms; "
               f"{len(result.ranked):,} meet the targets")
    if result.ranked.empty:
        typer.echo("  none meets the targets: relax --ttft-ms / --tpot-ms or raise --max-devices")
    else:
        typer.echo(f"  {'split':44} {'batch':>6} {'TTFT':>12} {'TPOT':>10} {'tok/s/device':>13} {'tok/s/user':>11} "
                   f"{'USD/M out':>10} {'J/token':>8}")
        for row in result.ranked.head(top).itertuples():
            typer.echo(f"  {_layout(row):44} {int(row.batch):>6} {_ms(row.ttft_s):>12} {_ms(row.tpot_s):>10} "
                       f"{row.output_tokens_per_s_per_device:>13,.1f} {row.tokens_per_s_per_user:>11,.1f} "
                       f"{_num(row.usd_per_million_output_tokens, ',.3f'):>10} "
                       f"{_num(row.energy_per_output_token_j, '.3f'):>8}")
    typer.echo(f"  Pareto front (tokens/s per device vs per user): {len(result.pareto)} configurations"
               + (f"; chart in {html}" if html else "") + (f"; ranking in {csv}" if csv else ""))
    if split is not None:
        typer.echo("  disaggregated serving:")
        typer.echo(f"    prefill pool: {_layout(split.prefill)}, batch {int(split.prefill.batch)}, "
                   f"TTFT {_ms(split.prefill.ttft_s)} + KV transfer {_ms(split.kv_transfer_s)}")
        typer.echo(f"    decode pool:  {_layout(split.decode)}, batch {int(split.decode.batch)}, "
                   f"TPOT {_ms(split.decode.tpot_s)}")
        typer.echo(f"    prefill:decode devices = {split.prefill_to_decode_devices:.2f} : 1; "
                   f"{split.output_tokens_per_s_per_device:,.1f} output tok/s per device vs "
                   f"{split.colocated_output_tokens_per_s_per_device:,.1f} co-located")


@app.command()
def compare(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: Annotated[str, typer.Option("--hardware", "-H", help="Comma-separated devices or platforms.")]
    = "h100-sxm,h200-sxm,b200,mi300x",
    batch: Annotated[int, typer.Option(help="Sequences per replica.")] = 8,
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None,
    activation_dtype: ActOpt = None,
    cost_mode: Annotated[str, typer.Option(help="'owned' or 'rented'.")] = "owned",
    sort_by: Annotated[str, typer.Option(help="cost, energy or latency.")] = "cost",
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank hardware for one workload by cost per token, energy per token and latency.

    Each device runs the fewest devices that hold the model (genmodel size), split as size chooses.
    """
    from genmodel.compare import compare_hardware

    names = [h.strip() for h in hardware.split(",") if h.strip()]
    table = compare_hardware(model, names, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                             activation_dtype, _costs(cost_mode, None, None, 0.08, 1.3, 4.0, 0.7), sort_by)
    if csv:
        table.to_csv(csv, index=False)
    if as_json:
        typer.echo(table.to_json(orient="records", indent=2))
        return
    typer.echo(f"{model}, batch {batch}, {input_tokens} in / {output_tokens} out, {cost_mode} cost, "
               f"sorted by {sort_by} (n/a: no price or TDP in the entry)")
    typer.echo(f"  {'hardware':22} {'devices':>7} {'TTFT':>12} {'TPOT':>10} {'J/out tok':>10} {'USD/M out':>10} "
               f"{'USD/M in':>9} {'tok/s/dev':>10}")
    for r in table.itertuples():
        if not r.fits:
            typer.echo(f"  {r.hardware:22} cannot hold the workload: {r.reason}")
            continue
        typer.echo(f"  {r.hardware:22} {r.devices:>7} {_ms(r.ttft_s):>12} {_ms(r.tpot_s):>10} "
                   f"{_num(r.energy_per_output_token_j, '.4f'):>10} "
                   f"{_num(r.usd_per_million_output_tokens, '.4f'):>10} "
                   f"{_num(r.usd_per_million_input_tokens, '.4f'):>9} {r.output_tokens_per_s_per_device:>10,.1f}")
    if csv:
        typer.echo(f"  table in {csv}")


@app.command()
def validate(
    data: Annotated[Path | None, typer.Option(help="Measurements CSV (default: validation/measured.csv).")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write predicted vs measured per row to this CSV.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a log-log predicted-vs-measured chart (HTML).")] = None,
    calibrate: Annotated[bool, typer.Option(
        help="Fit efficiencies and step overhead per hardware family; report in-sample and leave-one-source-out "
        "errors.")] = False,
    write: Annotated[bool, typer.Option(help="With --calibrate: store the fits in the hardware entries.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Predict every expressible published measurement and report the errors (docs/validation.md)."""
    from genmodel import validation as v

    path = data or Path(__file__).resolve().parent.parent / "validation" / "measured.csv"
    frame = v.load_rows(path)
    extra: dict[str, Any] = {}
    if calibrate:
        fits = v.calibrate(frame)
        loso = v.leave_one_source_out(frame)
        extra["calibration"] = {f: {"compute_efficiency": c.compute_efficiency, "memory_efficiency":
                                    c.memory_efficiency, "step_overhead_s": c.step_overhead_s, "rows": c.rows,
                                    "rms_log_error": c.rms_log_error} for f, c in fits.items()}
        extra["uncalibrated"] = v.summarize(v.apply(frame, {}))
        extra["in_sample"] = v.summarize(v.apply(frame, fits))
        extra["leave_one_source_out"] = v.summarize(loso)
        if write:
            written = v.write_calibration(fits)
            extra["written"] = [str(p) for p in written]
            from genmodel.database import _hardware

            _hardware.cache_clear()
    records = v.predict_rows(frame)
    summary = v.summarize(records)
    if csv:
        records.to_csv(csv, index=False)
    if plot:
        from genmodel.charts import validation_figure

        validation_figure(records).write_html(plot, include_plotlyjs="cdn")
    if as_json:
        rows = json.loads(records.to_json(orient="records"))
        typer.echo(json.dumps({"rows": rows, "summary": summary, **extra}, indent=2))
        return
    ok = records[records.get("error_pct").notna()] if "error_pct" in records else records.iloc[0:0]
    typer.echo(f"{len(records)} rows from {path}: {len(ok)} expressible, {len(records) - len(ok)} not")
    typer.echo(f"  {'id':12} {'metric':28} {'hardware':16} {'measured':>12} {'predicted':>12} {'error':>8}")
    for r in ok.itertuples():
        typer.echo(f"  {r.id:12} {r.metric:28} {r.hardware:16} {r.measured:>12,.4g} {r.predicted:>12,.4g} "
                   f"{r.error_pct:>+7.1f}%")
    typer.echo("  summary with the factors stored in the hardware entries (median |error|, share within 25%):")
    for key, s in summary.items():
        typer.echo(f"    {key:28} n={s['n']:<4} {s['median_abs_error_pct']:6.1f}%  {s['within_25pct']:5.0%}")
    titles = {"uncalibrated": "uncalibrated (per-kind defaults)", "in_sample": "calibrated, in sample",
              "leave_one_source_out": "calibrated, leave one source out"}
    for label, title in titles.items():
        if label in extra:
            typer.echo(f"  {title}:")
            for key, s in extra[label].items():
                typer.echo(f"    {key:28} n={s['n']:<4} {s['median_abs_error_pct']:6.1f}%  {s['within_25pct']:5.0%}")
    if "calibration" in extra:
        for fam, c in extra["calibration"].items():
            typer.echo(f"    {fam:18} compute {c['compute_efficiency']:.2f}, memory {c['memory_efficiency']:.2f}, "
                       f"step {c['step_overhead_s'] * 1e3:.2f} ms on {len(c['rows'])} rows")
    missing = records[records.get("not_expressible", pd_na()).notna()] if "not_expressible" in records else None
    if missing is not None and len(missing):
        typer.echo("  not expressible (to do):")
        for r in missing.itertuples():
            typer.echo(f"    {r.id:12} {r.not_expressible}")


def pd_na():
    import pandas as pd

    return pd.Series(dtype=object)


@app.command("models")
def list_models(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the built-in models with their key figures."""
    from genmodel.database import all_models

    rows = [m.summary() for m in all_models().values()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'name':24} {'family':13} {'attn':5} {'layers':>6} {'total':>9} {'active':>9} {'experts':>8} "
               f"{'KV/token bf16':>14} {'max ctx':>9}")
    for r in rows:
        typer.echo(f"{r['name']:24} {r['family']:13} {r['attention']:5} {r['layers']:>6} "
                   f"{r['total_params'] / 1e9:>8.1f}B {r['active_params'] / 1e9:>8.1f}B {r['experts']:>8} "
                   f"{r['kv_bytes_per_token_bf16'] / 1e3:>11.1f} kB {r['max_context_tokens']:>9,}")


@app.command("hardware")
def list_hardware(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the built-in devices with their key figures (dense peaks)."""
    from genmodel.database import all_hardware

    rows = []
    for h in all_hardware().values():
        up = h.scale_up.bandwidth_per_direction_bytes_per_s if h.scale_up else None
        rows.append({
            "name": h.name, "kind": h.kind, "vendor": h.vendor,
            "bf16_flops_per_s": h.peak_flops_per_s.get("bf16") or h.peak_flops_per_s.get("fp16"),
            "fp8_flops_per_s": h.peak_flops_per_s.get("fp8"), "int8_ops_per_s": h.peak_flops_per_s.get("int8"),
            "memory_capacity_bytes": h.memory_capacity_bytes,
            "fastest_memory_bandwidth_bytes_per_s": h.fastest_memory.bandwidth_bytes_per_s,
            "memory_tiers": len(h.memory),
            "scale_up_bytes_per_s_per_direction": up, "tdp_w": h.power.tdp_w if h.power else None,
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return

    def t(x: float | None) -> str:
        return f"{x / 1e12:,.0f}" if x else "-"

    typer.echo(f"{'name':22} {'kind':11} {'bf16/fp16':>10} {'fp8':>8} {'int8':>8} {'memory':>10} {'bandwidth':>11} "
               f"{'scale-up/dir':>12} {'TDP':>7}")
    typer.echo(f"{'':22} {'':11} {'TFLOPS':>10} {'TFLOPS':>8} {'TOPS':>8} {'(total)':>10} {'(fastest)':>11} "
               f"{'':>12} {'':>7}")
    for r in rows:
        up = _si(r["scale_up_bytes_per_s_per_direction"], "B/s", 3) if r["scale_up_bytes_per_s_per_direction"] else "-"
        tdp = f"{r['tdp_w']:,.0f} W" if r["tdp_w"] else "-"
        typer.echo(f"{r['name']:22} {r['kind']:11} {t(r['bf16_flops_per_s']):>10} {t(r['fp8_flops_per_s']):>8} "
                   f"{t(r['int8_ops_per_s']):>8} {_si(r['memory_capacity_bytes'], 'B', 3):>10} "
                   f"{_si(r['fastest_memory_bandwidth_bytes_per_s'], 'B/s', 3):>11} {up:>12} {tdp:>7}"
                   + (f"  ({r['memory_tiers']} memory tiers)" if r["memory_tiers"] > 1 else ""))


@app.command("platforms")
def list_platforms(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the built-in multi-device platforms (systems of one device type with a two-tier network)."""
    from genmodel.database import all_platforms

    rows = []
    for p in all_platforms().values():
        hw = p.device_spec()
        up, out = hw.scale_up, hw.scale_out
        rows.append({"name": p.name, "device": p.device, "num_devices": p.num_devices,
                     "scale_up_domain": p.domain_size,
                     "scale_up_bytes_per_s_per_direction": up.bandwidth_per_direction_bytes_per_s if up else None,
                     "scale_out_bytes_per_s_per_direction": out.bandwidth_per_direction_bytes_per_s if out else None,
                     "memory_capacity_bytes": hw.memory_capacity_bytes * p.num_devices})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'name':20} {'device':18} {'devices':>7} {'domain':>7} {'scale-up/dir':>13} {'scale-out/dir':>14} "
               f"{'memory':>9}")
    for r in rows:
        up = _si(r["scale_up_bytes_per_s_per_direction"], "B/s", 3) if r["scale_up_bytes_per_s_per_direction"] else "-"
        out = (_si(r["scale_out_bytes_per_s_per_direction"], "B/s", 3)
               if r["scale_out_bytes_per_s_per_direction"] else "-")
        typer.echo(f"{r['name']:20} {r['device']:18} {r['num_devices']:>7} {r['scale_up_domain']:>7} {up:>13} "
                   f"{out:>14} {_si(r['memory_capacity_bytes'], 'B', 3):>9}")


@app.command()
def show(name: Annotated[str, typer.Argument(help="A model or hardware name.")],
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one model or hardware entry in full, with derived figures."""
    import yaml

    from genmodel.database import all_hardware, all_models, get_hardware, get_model
    from genmodel.errors import UnknownNameError, unknown_name

    spec: Any
    try:
        spec = get_model(name)
        derived = {"attention_kind": spec.attention.kind, "total_params": spec.total_params,
                   "active_params": spec.active_params(),
                   "active_params_without_input_embedding": spec.active_params(include_embedding=False),
                   "kv_cache_bytes_per_token_bf16": spec.kv_cache_bytes_per_token("bf16"),
                   "moe_layers": spec.num_moe_layers}
    except UnknownNameError:
        try:
            spec = get_hardware(name)
        except UnknownNameError:
            raise unknown_name("model or hardware", name, [*all_models(), *all_hardware()],
                               "genmodel models' or 'genmodel hardware") from None
        from genmodel.efficiency import resolve_efficiency

        eff = resolve_efficiency(spec)
        derived = {"memory_capacity_bytes": spec.memory_capacity_bytes,
                   "efficiency_in_force": {"compute_efficiency": eff.compute_efficiency,
                                           "memory_efficiency": eff.memory_efficiency,
                                           "kernel_overhead_s": eff.kernel_overhead_s,
                                           "usable_memory_fraction": eff.usable_memory_fraction,
                                           "source": eff.source}}
    data = {**spec.model_dump(mode="json", exclude_none=True), "derived": derived}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(yaml.safe_dump(data, sort_keys=False, width=110).rstrip())


@app.command("import-hf")
def import_hf(
    config: Annotated[Path, typer.Argument(help="Path to a Hugging Face config.json.")],
    name: Annotated[str | None, typer.Option(help="Entry name (default: the file's parent folder or stem).")] = None,
    source: Annotated[str | None, typer.Option(help="Source URL to record (default: the path).")] = None,
    output_dir: Annotated[Path | None, typer.Option(help="Folder to write NAME.yaml into (default: models_db).")]
    = None,
    stdout: Annotated[bool, typer.Option(help="Print the YAML instead of writing a file.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing entry file.")] = False,
) -> None:
    """Convert a Hugging Face config.json into a models_db entry."""
    from genmodel.database import models_dir
    from genmodel.hf_config import model_spec_from_hf_config, model_spec_to_yaml

    if name is None:
        name = (config.parent.name if config.stem == "config" and config.parent.name else config.stem).lower()
    spec = model_spec_from_hf_config(config, name=name, source=source)
    text = model_spec_to_yaml(spec)
    if stdout:
        typer.echo(text.rstrip())
        return
    folder = output_dir or models_dir()
    target = folder / f"{spec.name}.yaml"
    if target.exists() and not force:
        _fail(f"{target} already exists; pass --force to overwrite or --name to choose another name")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    typer.echo(f"wrote {target} ({spec.total_params / 1e9:.2f}B parameters, {spec.attention.kind} attention)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning genmodel errors into one 'error:' line and exit status 2."""
    try:
        code = app(args=argv, standalone_mode=False)  # returns the code of a typer.Exit in this mode
    except GenmodelError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:
        # usage errors (bad option values, missing arguments) from click, vendored or not
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message())
            return 0
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f" (see '{ctx.command_path} --help')"
            typer.echo(f"error: {exc.format_message()}{hint}", err=True)
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()



