"""``genmodel validate``: predict published measurements and report the errors (docs/validation.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from genmodel.data.registry import reload, validation_data
from genmodel.interfaces.cli import app
from genmodel.interfaces.cli.common import JsonOpt, emit_json


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

    path = data or validation_data()
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
            reload()
    records = v.predict_rows(frame)
    summary = v.summarize(records)
    if csv:
        records.to_csv(csv, index=False)
    if plot:
        from genmodel.interfaces.charts import validation_figure

        validation_figure(records).write_html(plot, include_plotlyjs=True)
    if as_json:
        rows = json.loads(records.to_json(orient="records"))
        emit_json({"rows": rows, "summary": summary, **extra})
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


