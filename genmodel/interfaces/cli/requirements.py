"""``genmodel requirements``: what compute, memory and interconnect a use case needs (genmodel.search.requirements,
docs/requirements.md)."""

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import (
    DEFAULT_MODEL,
    ActOpt,
    EngineOpt,
    JsonOpt,
    KvOpt,
    ModelOpt,
    UncalibratedOpt,
    WeightOpt,
    check_output,
    distinct_outputs,
    emit_json,
    fail,
    gib,
    latency,
    target_ms_options,
    write_text,
)


@app.command()
def requirements(
    model: ModelOpt = DEFAULT_MODEL,
    use_case: Annotated[str | None, typer.Option(help="A use case (genmodel use-cases): lengths, targets, mode.")]
    = None,
    input_tokens: Annotated[int | None, typer.Option(help="Prompt tokens (default: the use case's).")] = None,
    output_tokens: Annotated[int | None, typer.Option(help="Output tokens (default: the use case's).")] = None,
    ttft_ms: Annotated[float | None, typer.Option(help="TTFT target in ms (default: the use case's).")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="TPOT target in ms (default: the use case's).")] = None,
    devices: Annotated[int | None, typer.Option(
        help="Devices of one replica; without --tp the split is searched (smallest scaled reference).")] = None,
    tp: Annotated[int | None, typer.Option(help="Tensor-parallel degree.")] = None,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    ep: Annotated[int, typer.Option(help="Expert-parallel degree (MoE models).")] = 1,
    cp: Annotated[int, typer.Option(help="Context-parallel degree.")] = 1,
    attention_dp: Annotated[bool, typer.Option(help="Attention data-parallel over the EP group.")] = False,
    batch: Annotated[int | None, typer.Option(help="Static batch (default: the use case's, or 1).")] = None,
    request_rate: Annotated[float | None, typer.Option(
        help="Served traffic instead: requests/s (targets at --percentile).")] = None,
    percentile: Annotated[float | None, typer.Option(help="Percentile of the targets under traffic (e.g. 99).")]
    = None,
    samples_per_prompt: Annotated[int | None, typer.Option(
        help="Sequences sampled per prompt (parallel sampling / beam width): one prefill, shared prompt KV.")] = None,
    weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None,
    activation_dtype: ActOpt = None,
    reference: Annotated[str, typer.Option(help="The device (or platform) whose resource vector is scaled.")]
    = "h200-sxm",
    compare: Annotated[str | None, typer.Option(help="Comma-separated devices placed against the requirements.")]
    = None,
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    csv: Annotated[Path | None, typer.Option(
        help="Write the FLOP/s-bandwidth frontier (pairs that just meet the targets) to this CSV file.")] = None,
    html: Annotated[Path | None, typer.Option(
        help="Write the frontier chart, with the compared devices, to this HTML file (opens offline).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What each device and the whole system must provide for MODEL to meet the targets, and what binds."""
    from genmodel.errors import GenmodelError
    from genmodel.search.requirements import requirements as solve

    # the targets are in ms here, in s in the library (whose checks would show the value in s)
    target_ms_options(ttft_ms=ttft_ms, tpot_ms=tpot_ms)
    if ttft_ms is None and tpot_ms is None and use_case is None:
        fail("give a target: --ttft-ms, --tpot-ms or both (or a --use-case, whose targets are used)")
    check_output(csv, "--csv")
    check_output(html, "--html")
    distinct_outputs(csv=csv, html=html)
    if devices is not None and devices < 1:
        fail(f"--devices must be at least 1, got {devices}")
    if devices is not None and tp is not None and devices != tp * pp * cp:
        fail(f"--devices {devices} is not --tp {tp} x --pp {pp} x --cp {cp}: give the split or the device count")
    search = devices if tp is None else None  # a device count without a split: the best split is searched
    tp_ = tp if tp is not None else 1
    # every comma-separated piece is a name: an empty one ('', ',', 'a,,b') is refused by the library, not dropped
    names = [n.strip() for n in compare.split(",")] if compare is not None else []
    given = {"input_tokens": input_tokens, "output_tokens": output_tokens, "ttft_target_s": ttft_ms,
             "tpot_target_s": tpot_ms, "batch": batch, "request_rate": request_rate, "percentile": percentile,
             "samples_per_prompt": samples_per_prompt}
    try:
        result = solve(model, input_tokens, output_tokens, None if ttft_ms is None else ttft_ms / 1e3,
                       None if tpot_ms is None else tpot_ms / 1e3, use_case=use_case, batch=batch,
                       request_rate=request_rate, percentile=percentile, samples_per_prompt=samples_per_prompt,
                       reference=reference, compare=names, tp=tp_, pp=pp, ep=ep, cp=cp, attention_dp=attention_dp,
                       devices=search,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, activation_dtype=activation_dtype,
                       engine=engine, calibrated=not uncalibrated)
    except GenmodelError as exc:
        # a figure the use case gave, not an option typed: the error names the use case and its field
        if use_case is not None and exc.argument in given and given[exc.argument] is None:
            raise type(exc)(f"use case {use_case}: {exc}", "use_case") from None
        raise
    data = result.to_dict()
    if csv is not None or html is not None:
        from genmodel.search.requirements import frontier
        from genmodel.table import Table

        pairs = frontier(result, "flops", "bandwidth")
        keep = np.isfinite(pairs["memory_bandwidth_bytes_per_s"])  # FLOP/s too close to its floor meet nothing
        pairs = {k: v[keep] for k, v in pairs.items()}
        if csv is not None:
            from genmodel.interfaces.cli.common import write_csv

            write_csv(Table(pairs), csv)
        if html is not None:
            from genmodel.interfaces.charts import requirements_frontier_figure

            figure = requirements_frontier_figure(result, pairs)
            write_text(html, figure.to_html(include_plotlyjs=True), "--html")
    if as_json:
        emit_json(data)
        return
    typer.echo(format_requirements(data))


def _flops(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v / 1e15:,.4g} PFLOP/s" if v >= 1e16 else f"{v / 1e12:,.4g} TFLOP/s"


def _bw(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v / 1e12:,.4g} TB/s" if v >= 1e13 else f"{v / 1e9:,.4g} GB/s"


def _lat(v: Any) -> str:
    return "any" if v is None else f"{v * 1e6:,.3g} us"


def _scale_band(low: Any, high: Any, factor: Any = None) -> str:
    """' (80% band LOW-HIGH)' of the scaled reference's factor; an edge at which no scale meets every target (the
    floor no hardware beats, times that edge's error, is above a target) says so, as does a band that lies wholly
    above the ``factor`` (the held-out measurements of its cells ran slower than predicted in over 9 of 10 cases)."""
    def edge(v: Any) -> str:
        return "none" if v is None else f"{v:,.3g}"

    unreachable = "; at its slow edge no scale meets every target" if high is None else ""
    above = ("; the band lies above the factor: its held-out measurements ran slower than predicted in over 90% of "
             "cases" if factor is not None and low is not None and low > factor else "")
    return f" (80% band {edge(low)}-{edge(high)}{unreachable}{above})"


def _factor(v: Any) -> str:
    return "cannot (the others bind)" if v is None else f"{v:,.3g}x"


def format_requirements(d: dict[str, Any]) -> str:
    """The human-readable report."""
    case = f" ({d['use_case']})" if d.get("use_case") else ""
    mode = (f"at {d['request_rate_per_s']:g} requests/s, targets at p{d['percentile'] * 100:g}"
            if d.get("request_rate_per_s") else f"static batch {d['batch']}")
    samples = f", {d['samples_per_prompt']} samples per prompt" if d.get("samples_per_prompt", 1) > 1 else ""
    targets = ", ".join(t for t in (
        None if d["ttft_target_s"] is None else f"TTFT <= {d['ttft_target_s'] * 1e3:g} ms",
        None if d["tpot_target_s"] is None else f"TPOT <= {d['tpot_target_s'] * 1e3:g} ms") if t)
    lay = d["layout"]
    split = f"tp {lay['tp']}, pp {lay['pp']}" + (f", ep {lay['ep']}" if lay["ep"] > 1 else "") + (
        f", cp {lay['cp']}" if lay["cp"] > 1 else "")
    ideal, system, ref = d["ideal"], d["system"], d["reference"]
    rows = [("peak FLOP/s (" + d["compute_dtype"] + ")", _flops(d["flops_per_s"]), _flops(ideal["flops_per_s"]),
             _flops(system["flops_per_s"])),
            ("memory bandwidth", _bw(d["memory_bandwidth_bytes_per_s"]), _bw(ideal["memory_bandwidth_bytes_per_s"]),
             _bw(system["memory_bandwidth_bytes_per_s"])),
            ("memory capacity", _gib(d["memory_capacity_bytes"]), _gib(ideal["memory_capacity_bytes"]),
             _gib(system["memory_capacity_bytes"])),
            ("interconnect bandwidth", _bw(d["interconnect_bandwidth_bytes_per_s"]),
             _bw(ideal["interconnect_bandwidth_bytes_per_s"]), _bw(system["interconnect_bandwidth_bytes_per_s"])),
            ("interconnect latency (at most)", _lat(d["interconnect_latency_s"]),
             _lat(ideal["interconnect_latency_s"]), "")]
    lines = [f"{d['model']}{case}: {d['input_tokens']} input + {d['output_tokens']} output tokens, {mode}{samples}; "
             f"{targets}",
             f"  layout: {split} = {d['devices']} device{'s' if d['devices'] > 1 else ''} (a scale-up domain of "
             f"{d['scale_up_domain_devices']})",
             "", "  floors per device: each resource's minimum with the others unlimited (necessary, not sufficient)",
             f"  {'':32}{'realistic':>20}{'ideal':>20}{'whole system':>20}"]
    lines += [f"  {name:32}{real:>20}{ide:>20}{sys_:>20}" for name, real, ide, sys_ in rows]
    if d.get("band_basis"):
        spans = [(label, fmt(d[f"{key}_low"]), fmt(d[f"{key}_high"])) for label, key, fmt in (
            ("FLOP/s", "flops_per_s", _flops), ("bandwidth", "memory_bandwidth_bytes_per_s", _bw),
            ("capacity", "memory_capacity_bytes", _gib), ("interconnect", "interconnect_bandwidth_bytes_per_s", _bw))
            if d["devices"] > 1 or key != "interconnect_bandwidth_bytes_per_s"]
        basis = ("the reference's held-out errors" if d.get("request_rate_per_s") is None else
                 "the reference's held-out served errors, as serve's percentiles carry them")
        lines.append(f"  80% band of the realistic floors ({basis}): "
                     + ", ".join(f"{label} {lo} to {hi}" for label, lo, hi in spans))
    unbeat = d["unbeatable"]
    lines += ["", f"  floor no hardware beats on this layout: TTFT {latency(unbeat['ttft_s'])}, TPOT "
                  f"{latency(unbeat['tpot_s'])} (engine and kernel overheads, collective latency)",
              f"  binding: {d['binding']}",
              f"  scaled reference: {ref['device']} x {ref['scale_factor']:,.3g}"
              + (_scale_band(ref['scale_factor_low'], ref['scale_factor_high'], ref['scale_factor'])
                 if "scale_factor_low" in ref else "")
              + " meets every target "
              f"(time {ref['time_factor']:,.3g}x, capacity {ref['capacity_factor']:,.3g}x); alone, with the others "
              f"at the reference: FLOP/s {_factor(ref['alone']['flops'])}, bandwidth "
              f"{_factor(ref['alone']['bandwidth'])}, interconnect "
              f"{_factor(ref['alone']['interconnect']) if d['devices'] > 1 else 'not needed (one device)'}"]
    power = d.get("system_power_w")
    if power:
        lines.append(f"  {d['devices']} x the reference draw about {power / 1e3:,.3g} kW at TDP (unscaled)")
    for name, c in (d.get("compare") or {}).items():
        ratios = ", ".join(f"{r} {_ratio(c[f'{r}_ratio'])}" for r in ("flops", "bandwidth", "capacity",
                                                                        "interconnect"))
        verdict = "meets every target" if c["meets"] else ("does not fit" if not c["fits"] else "misses a target")
        lines.append(f"  {name}: available / required: {ratios}: {verdict} (TTFT {latency(c['ttft_s'])}, TPOT "
                     f"{latency(c['tpot_s'])})")
    lines.append(f"  realistic = {d['realistic_basis']}; ideal = 100% of peak, no overheads")
    return "\n".join(lines)


def _gib(v: Any) -> str:
    return "-" if v is None else gib(v)


def _ratio(v: Any) -> str:
    return "n/a" if v is None else f"{v:,.2g}x"
