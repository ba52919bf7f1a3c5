"""``genmodel size``, ``plan`` and ``compare``: searches over layouts, batch sizes and hardware."""

from pathlib import Path
from typing import Annotated

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
    band_range,
    band_side,
    check_output,
    costs,
    distinct_outputs,
    emit_json,
    fail,
    gib,
    layout,
    lopsided_note,
    ms,
    num,
    positive_option,
    target_ms_options,
    write_csv,
    write_text,
)


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
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The fewest devices that hold the model, its KV cache and activations for the workload, and the split."""
    from genmodel.engine.realism import resolve_realism
    from genmodel.search.planner import size as run_size

    result = run_size(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                      activation_dtype, max_devices, calibrated=not uncalibrated, engine=engine)
    best = result.best
    from genmodel.data.registry import resolve_hardware

    realism = resolve_realism(resolve_hardware(hardware)[0], None, not uncalibrated, engine)
    if as_json:
        emit_json({**best, "realism": realism.to_dict()})
        return
    typer.echo(f"{model}: {int(best.devices)} devices ({layout(best)}) hold batch {batch} x "
               f"{input_tokens + output_tokens} tokens")
    typer.echo(f"  per device: {gib(best.total_memory_bytes)} of {gib(best.memory_capacity_bytes)} usable; "
               f"TTFT {ms(best.ttft_s)} {band_range(best.ttft_s_low, best.ttft_s_high)}, "
               f"TPOT {ms(best.tpot_s)} {band_range(best.tpot_s_low, best.tpot_s_high)} (80% bands)")
    typer.echo(f"  realism: {realism.describe()}")
    others = result.candidates[1:6]
    if len(others):
        typer.echo(f"  other {int(best.devices)}-device splits that fit:")
        for row in others.rows():
            typer.echo(f"    {layout(row):50} TPOT {ms(row.tpot_s)}")


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
    top: Annotated[int, typer.Option(help="Rows of the ranking to print (>= 1).")] = 10,
    rank_by: Annotated[str, typer.Option(help="throughput (per device), cost ($/Mtok) or energy (J/token).")]
    = "throughput",
    cost_mode: CostModeOpt = "owned",
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    csv: Annotated[Path | None, typer.Option(help="Write the ranked configurations to this CSV file.")] = None,
    html: Annotated[Path | None, typer.Option(
        help="Write a chart (Pareto front) to this HTML file; it opens offline (plotly.js embedded).")] = None,
    disaggregated: Annotated[bool, typer.Option(
        help="Also size separate prefill and decode pools and compare with co-located serving.")] = False,
    request_rate: Annotated[float | None, typer.Option(
        help="Served traffic: requests/s for the whole deployment (Poisson); ranks by goodput per device with the "
             "targets at --percentile (docs/serving.md).")] = None,
    percentile: Annotated[float | None, typer.Option(
        help="Percentile the targets hold at with --request-rate (e.g. 99 or 0.99; default 99).")] = None,
    targets_at: Annotated[str, typer.Option(
        help="What --ttft-ms/--tpot-ms are checked against: 'estimate', or 'band' (the upper edge of the figure's "
             "80% band: held-out measurements of its class stayed under it in 9 of 10 cases; with --request-rate, "
             "the served times at their bands' upper edges).")] = "estimate",
    as_json: JsonOpt = False,
) -> None:
    """Search device count, TP/PP/EP/DP and batch for configurations meeting TTFT/TPOT targets."""
    from genmodel.search.planner import disaggregate
    from genmodel.search.planner import plan as run_plan

    target_ms_options(ttft_ms=ttft_ms, tpot_ms=tpot_ms)  # (the library's bound, in the option's unit)
    if disaggregated and targets_at != "estimate":
        fail("--disaggregated sizes its pools against the estimates; it cannot be combined with --targets-at yet")
    if request_rate is not None:
        positive_option("--request-rate", request_rate)
        positive_option("--percentile", percentile)
        percentile = 99.0 if percentile is None else percentile
        if ttft_ms is None and tpot_ms is None:
            fail("--request-rate ranks by goodput, which needs a target: add --ttft-ms and/or --tpot-ms")
        if disaggregated:
            fail("--disaggregated sizes static batches; it cannot be combined with --request-rate yet")
        if rank_by != "throughput":
            fail(f"--request-rate ranks by goodput per device; --rank-by {rank_by} applies to static batches")
    elif percentile is not None:  # given without a rate, whatever its value
        fail("--percentile applies to served traffic; add --request-rate (static plans hold the targets per batch)")
    if top < 1:
        fail(f"--top must be at least 1, got {top}")
    check_output(csv, "--csv")
    check_output(html, "--html")
    distinct_outputs(csv=csv, html=html)
    if html is not None:
        _needs_plotly("--html")
    ttft = ttft_ms / 1e3 if ttft_ms is not None else None
    tpot = tpot_ms / 1e3 if tpot_ms is not None else None
    common = {"max_devices": max_devices, "weight_dtype": weight_dtype, "kv_dtype": kv_dtype,
              "activation_dtype": activation_dtype, "costs": costs(cost_mode), "calibrated": not uncalibrated,
              "engine": engine}
    if request_rate is not None:
        common.pop("costs")
        served = run_plan(model, hardware, input_tokens, output_tokens, ttft, tpot, request_rate=request_rate,
                          percentile=percentile, targets_at=targets_at, **common)
        _served_plan(served, model, hardware, input_tokens, output_tokens, request_rate, percentile, top, csv, html,
                     as_json, not uncalibrated, engine, targets_at)
        return
    result = run_plan(model, hardware, input_tokens, output_tokens, ttft, tpot, rank_by=rank_by,
                      targets_at=targets_at, **common)
    split = disaggregate(model, hardware, input_tokens, output_tokens, ttft, tpot, **common) if disaggregated \
        else None
    from genmodel.data.registry import resolve_hardware
    from genmodel.engine.realism import resolve_realism

    realism = resolve_realism(resolve_hardware(hardware)[0], None, not uncalibrated, engine)
    _plan_files(result, csv, html, f"{model} on {hardware}: {input_tokens} in / {output_tokens} out")
    if as_json:
        data = {"evaluated": len(result.space), "seconds": result.seconds, "realism": realism.to_dict(),
                "targets_at": targets_at,
                "configurations": result.ranked.head(top).to_records(), "pareto": result.pareto.to_records()}
        if split is not None:
            data["disaggregated"] = {
                "prefill": dict(split.prefill), "decode": dict(split.decode), "kv_transfer_s": split.kv_transfer_s,
                "prefill_to_decode_devices": split.prefill_to_decode_devices,
                "output_tokens_per_s_per_device": split.output_tokens_per_s_per_device,
                "colocated_output_tokens_per_s_per_device": split.colocated_output_tokens_per_s_per_device}
        emit_json(data)
        return
    at = " at the upper edge of their 80% bands" if targets_at == "band" and (ttft or tpot) else ""
    typer.echo(f"evaluated {len(result.space):,} configurations in {result.seconds * 1e3:,.0f} ms; "
               f"{len(result.ranked):,} meet the targets{at}")
    typer.echo(f"  realism: {realism.describe(memory=False)}")
    if result.ranked.empty:
        typer.echo("  none meets the targets: relax --ttft-ms / --tpot-ms or raise --max-devices")
    else:
        typer.echo(f"  {'split':50} {'batch':>6} {'TTFT':>12} {'TPOT (80% band)':>26} {'tok/s/device':>13} "
                   f"{'tok/s/user':>11} {'USD/M out':>10} {'J/token':>8}")
        sides = {}
        for row in result.ranked.head(top).rows():
            tpot = f"{ms(row.tpot_s)} {band_range(row.tpot_s_low, row.tpot_s_high)}"
            if (side := band_side(row.tpot_s, row.tpot_s_low, row.tpot_s_high)) is not None:
                sides[f"{layout(row)} batch {int(row.batch)}"] = side
            typer.echo(f"  {layout(row):50} {int(row.batch):>6} {ms(row.ttft_s):>12} {tpot:>26} "
                       f"{row.output_tokens_per_s_per_device:>13,.1f} {row.tokens_per_s_per_user:>11,.1f} "
                       f"{num(row.usd_per_million_output_tokens, ',.3f'):>10} "
                       f"{num(row.energy_per_output_token_j, '.3f'):>8}")
        if (lopsided := lopsided_note("TPOT", sides, min(top, len(result.ranked)))) is not None:
            typer.echo(f"  note: {lopsided}")
    typer.echo(f"  Pareto front (tokens/s per device vs per user): {len(result.pareto)} configurations"
               + (f"; chart in {html}" if html else "") + (f"; ranking in {csv}" if csv else ""))
    if split is not None:
        typer.echo("  disaggregated serving:")
        typer.echo(f"    prefill pool: {layout(split.prefill)}, batch {int(split.prefill.batch)}, "
                   f"TTFT {ms(split.prefill.ttft_s)} + KV transfer {ms(split.kv_transfer_s)}")
        typer.echo(f"    decode pool:  {layout(split.decode)}, batch {int(split.decode.batch)}, "
                   f"TPOT {ms(split.decode.tpot_s)}")
        typer.echo(f"    prefill:decode devices = {split.prefill_to_decode_devices:.2f} : 1; "
                   f"{split.output_tokens_per_s_per_device:,.1f} output tok/s per device vs "
                   f"{split.colocated_output_tokens_per_s_per_device:,.1f} co-located")


def _plan_files(result, csv, html, title: str) -> None:
    """The ranking as CSV and the Pareto chart as HTML (plotly.js embedded), where asked for."""
    if csv:
        write_csv(result.ranked, csv)
    if html:
        from genmodel.interfaces.charts import pareto_figure

        figure = pareto_figure(result.space, result.ranked, result.pareto, title)
        write_text(html, figure.to_html(include_plotlyjs=True), "--html")


def _served_plan(result, model: str, hardware: str, input_tokens: int, output_tokens: int, rate: float,
                 percentile: float, top: int, csv, html, as_json: bool, calibrated: bool, engine,
                 targets_at: str = "estimate") -> None:
    """Print (or write) a plan under served traffic: goodput per device against percentile targets (``targets_at``
    'band': with every served time at its band's upper edge)."""
    from genmodel.data.registry import resolve_hardware
    from genmodel.engine.realism import resolve_realism

    q = percentile / 100.0 if percentile > 1 else percentile
    tag = f"p{q * 100:g}".replace(".", "_")
    realism = resolve_realism(resolve_hardware(hardware)[0], None, calibrated, engine)
    _plan_files(result, csv, html,
                f"{model} on {hardware} at {rate:g} requests/s: {input_tokens} in / {output_tokens} out")
    if as_json:
        emit_json({"evaluated": len(result.space), "seconds": result.seconds, "request_rate_per_s": rate,
                   "percentile": q, "realism": realism.to_dict(), "targets_at": targets_at,
                   "configurations": result.ranked.head(top).to_records(), "pareto": result.pareto.to_records()})
        return
    at = " with every time at the upper edge of its 80% band" if targets_at == "band" else ""
    typer.echo(f"evaluated {len(result.space):,} configurations at {rate:g} requests/s in {result.seconds * 1e3:,.0f} "
               f"ms; {len(result.ranked):,} meet the targets for {q:.3g} of requests{at}")
    typer.echo(f"  realism: {realism.describe(memory=False)}")
    if result.ranked.empty:
        typer.echo("  none meets the targets at this rate: relax --ttft-ms / --tpot-ms, lower the rate or raise "
                   "--max-devices")
    else:
        p = "p99" if q >= 0.99 else ("p90" if q >= 0.9 else "p50")
        typer.echo(f"  ranked by goodput per device (targets at {tag}; latencies at {p}, the nearest reported "
                   "percentile at or below it" + ("; goodput and max rate at the band's edge, latencies as "
                                                  "estimated" if targets_at == "band" else "") + ")")
        typer.echo(f"  {'split':44} {'batch':>6} {'TTFT ' + p:>12} {'TPOT ' + p:>12} {'goodput req/s':>14} "
                   f"{'tok/s/device':>13} {'max rate':>9}")
        for row in result.ranked.head(top).rows():
            tpot = row.tpot_p99_s if p == "p99" else (row.tpot_p90_s if p == "p90" else row.tpot_mean_s)
            typer.echo(f"  {layout(row):44} {int(row.batch):>6} {ms(getattr(row, f'ttft_{p}_s')):>12} "
                       f"{ms(tpot):>12} {row.goodput_requests_per_s:>14,.2f} "
                       f"{row.goodput_tokens_per_s_per_device:>13,.1f} {row.max_goodput_rate_per_s:>9,.2f}")
    meets = int(sum(bool(x) for x in result.pareto.meets_slo)) if len(result.pareto) else 0
    typer.echo(f"  Pareto front (tokens/s per device vs per user): {len(result.pareto)} configurations, {meets} meet "
               "the targets" + (f"; chart in {html}" if html else "") + (f"; ranking in {csv}" if csv else ""))


def _needs_plotly(option: str) -> None:
    try:
        import plotly  # noqa: F401
    except ImportError:
        fail(f"{option} draws with plotly, which is not installed: pip install 'genmodel[dashboard]'")


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
    cost_mode: CostModeOpt = "owned",
    sort_by: Annotated[str, typer.Option(help="cost, energy or latency.")] = "cost",
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    csv: Annotated[Path | None, typer.Option(help="Write the table to this CSV file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rank hardware for one workload by cost per token, energy per token and latency.

    Each device runs the fewest devices that hold the model (genmodel size), split as size chooses. Every row
    states the realism in force; the output says when rows differ in it.
    """
    from genmodel.errors import GenmodelError
    from genmodel.search.compare import compare_hardware, realism_note
    from genmodel.specs.checks import names

    check_output(csv, "--csv")
    if not hardware.strip():
        fail("--hardware needs at least one device or platform name")
    try:  # one comma between names, each name once (the library's check, worded for the option)
        listed = list(names("--hardware", [h.strip() for h in hardware.split(",")]))
    except GenmodelError as exc:
        fail(f"{exc} (given: {hardware[:80]!r}; separate the names with single commas)")
    try:
        table = compare_hardware(model, listed, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                                 activation_dtype, costs(cost_mode), sort_by, calibrated=not uncalibrated,
                                 engine=engine)
    except GenmodelError as exc:  # the same device twice under two of its names: the library's 'hardware ...'
        if exc.argument == "hardware" and str(exc).startswith("hardware "):
            fail(f"--hardware{str(exc)[len('hardware'):]}")
        raise
    note = realism_note(table)
    if csv:
        write_csv(table, csv)
    if as_json:
        emit_json({"rows": table.to_records(), "mixed_realism": note is not None, "realism_note": note})
        return
    typer.echo(f"{model}, batch {batch}, {input_tokens} in / {output_tokens} out, {cost_mode} cost, "
               f"sorted by {sort_by} (n/a: no price or TDP in the entry)")
    typer.echo(f"  {'hardware':22} {'devices':>7} {'TTFT':>12} {'TPOT (80% band)':>24} {'J/out tok':>10} "
               f"{'USD/M out':>10} {'USD/M in':>9} {'tok/s/dev':>10}  realism")
    sides, shown = {}, 0  # the rows whose TPOT band lies off the estimate, among the rows shown with figures
    for r in table.rows():
        if not r.fits:
            typer.echo(f"  {r.hardware:22} cannot run this workload: {r.reason}")
            continue
        shown += 1
        tpot = f"{ms(r.tpot_s)} {band_range(r.tpot_s_low, r.tpot_s_high)}"
        if (side := band_side(r.tpot_s, r.tpot_s_low, r.tpot_s_high)) is not None:
            sides[r.hardware] = side
        typer.echo(f"  {r.hardware:22} {r.devices:>7.0f} {ms(r.ttft_s):>12} {tpot:>24} "
                   f"{num(r.energy_per_output_token_j, '.4f'):>10} "
                   f"{num(r.usd_per_million_output_tokens, '.4f'):>10} "
                   f"{num(r.usd_per_million_input_tokens, '.4f'):>9} {r.output_tokens_per_s_per_device:>10,.1f}  "
                   f"{r.compute_efficiency:.0%}/{r.memory_efficiency:.0%}/{r.step_overhead_s * 1e3:g} ms "
                   f"{r.engine} ({r.realism_origin})")
    typer.echo("  realism: compute/bandwidth fractions of peak, per-step host cost and serving engine, and where "
               "they come from")
    if note:
        typer.echo(f"  note: {note}")
    if (lopsided := lopsided_note("TPOT", sides, shown)) is not None:
        typer.echo(f"  note: {lopsided}")
    if csv:
        typer.echo(f"  table in {csv}")
