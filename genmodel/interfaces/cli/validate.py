"""``genmodel validate``: predict published measurements and report the errors (docs/validation.md).

Every check that can fail runs before any work: the output paths (``--csv``, ``--plot``), plotly for
``--plot``, ``--write`` only with ``--calibrate`` and only in a source checkout. A measurements file that cannot
be read as the documented table ends the command with one ``error:`` line (exit status 2); a row that cannot be
predicted is listed as not expressible, with the reason, and the other rows are still validated.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from genmodel.data.registry import independent_data, is_source_checkout, tails_data, validation_data
from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import (
    JsonOpt,
    check_output,
    distinct_outputs,
    emit_json,
    fail,
    same_path,
    write_csv,
    write_text,
)

_TITLES = {"uncalibrated": "uncalibrated (per-kind defaults)", "in_sample": "calibrated, in sample",
           "leave_one_source_out": "calibrated, leave one source out"}


def _chart_builder() -> Any:
    """``validation_figure``, or fail saying how to install plotly (the dashboard extra)."""
    try:
        from genmodel.interfaces.charts import validation_figure
    except ImportError as exc:
        fail(f"--plot needs plotly, which is not installed ({exc.name or exc}); pip install 'genmodel[dashboard]'")
    return validation_figure


@app.command()
def validate(
    data: Annotated[Path | None, typer.Option(help="Measurements CSV (default: validation/measured.csv).")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write predicted vs measured per row to this CSV.")] = None,
    plot: Annotated[Path | None, typer.Option(
        help="Write a log-log predicted-vs-measured chart (HTML with plotly.js embedded; needs plotly).")] = None,
    calibrate: Annotated[bool, typer.Option(
        help="Fit the efficiencies per hardware family and the step costs per engine; report in-sample, "
        "leave-one-source-out and default-physics errors and the coverage of the 80% bands.")] = False,
    write: Annotated[bool, typer.Option(
        help="With --calibrate: store the fits in the hardware entries and the bands in validation/ (source "
        "checkout only).")] = False,
    kernels: Annotated[bool, typer.Option(
        help="Report the kernel-level checks instead: published GEMM, MoE-layer, attention and all-reduce timings "
        "against the step's own physics (docs/formulas.md).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Predict every expressible published measurement and report the errors (docs/validation.md)."""
    if kernels:
        given = [name for name, value in (("--data", data), ("--csv", csv), ("--plot", plot),
                                          ("--calibrate", calibrate), ("--write", write)) if value]
        if given:
            fail(f"--kernels reports the shipped kernel timings and takes no {', '.join(given)}")
        _kernels(as_json)
        return
    check_output(csv, "--csv")
    check_output(plot, "--plot")
    path = data or validation_data()
    for option, out in (("--csv", csv), ("--plot", plot)):
        if out is not None and same_path(out, path):
            fail(f"{option} {out} is the measurements file; give another file name")
    distinct_outputs(csv=csv, plot=plot)
    if write and not calibrate:
        fail("--write stores the fits of --calibrate; add --calibrate")
    if write and data is not None and not same_path(data, validation_data()):
        # (the shipped fits and bands are those of the shipped measurements, with the independent rows in the bands)
        fail(f"--write stores the shipped calibration, which is fitted on {validation_data().name}; run "
             "--calibrate --write without --data (--calibrate --data FILE reports another file's fit without "
             "storing it)")
    if write and not is_source_checkout():
        fail("--write edits the hardware_db files of a source checkout, and this genmodel is an installed package; "
             "run it from a clone of the repository (pip install -e .)")
    figure = _chart_builder() if plot is not None else None

    from genmodel import validation as v

    rows = v.load_rows(path)
    extra: dict[str, Any] = {}
    if calibrate:
        from genmodel.table import Table
        from genmodel.validation import bands

        fits = v.calibrate(rows)
        defaults, held_out = v.apply(rows, {}), v.leave_one_source_out(rows)
        extra["calibration"] = {f: c.to_dict() for f, c in fits.items()}
        extra["uncalibrated"] = v.summarize(defaults)
        extra["in_sample"] = v.summarize(v.apply(rows, fits))
        extra["leave_one_source_out"] = v.summarize(held_out)
        # the bands' residuals: the held-out predictions, and for the shipped measurements also the independent
        # rows predicted with these fits (never fitted on): both out of sample (docs/validation.md, "Bands")
        pooled, pooled_defaults, tails = held_out, defaults, None
        if data is None:
            independent = v.load_rows(independent_data())
            pooled = Table.concat([held_out, v.apply(independent, fits)])
            pooled_defaults = Table.concat([defaults, v.apply(independent, {})])
            # the served runs' tail percentiles, each out of sample (its source's fit left out where it was fitted)
            tail_rows = v.load_rows(tails_data())
            tails = (v.held_out_apply(tail_rows, rows, fits), v.apply(tail_rows, {}))
        extra["band_coverage"] = bands.coverages(pooled, pooled_defaults, None if tails is None else tails[0])
        if write:
            written = v.write_calibration(fits)  # reloads the databases
            written.append(bands.write_bands(pooled, pooled_defaults, covered=extra["band_coverage"], tails=tails))
            extra["written"] = [str(p) for p in written]
    records = v.predict_rows(rows)
    summary = v.summarize(records)
    extra["replicates"] = v.replicate_spread(records)
    extra["beyond_ideal"] = v.beyond_ideal(records)
    if data is not None:  # another file's rows against the stored bands they were predicted with
        from genmodel.validation.bands import inside

        extra["inside_bands"] = inside(records)
    if "band_coverage" not in extra:
        from genmodel.validation.bands import stored_coverage

        extra["band_coverage"] = stored_coverage()
    if csv is not None:
        write_csv(records, csv)
    if figure is not None:
        write_text(plot, figure(records).to_html(include_plotlyjs=True, full_html=True), "--plot")
    if as_json:
        # the coverage of the 80% bands, counted out of sample per row and per source, belongs to the summary too
        emit_json({"rows": records.to_records(), "summary": {**summary, "band_coverage": extra["band_coverage"]},
                   **extra})
        return
    _report(path, records, summary, extra)


def _kernels(as_json: bool) -> None:
    """The kernel-level checks, with the physics defaults and with the fitted fractions."""
    from genmodel.validation.kernel_checks import kernel_summary

    result = {"defaults": kernel_summary(calibrated=False), "calibrated": kernel_summary(calibrated=True)}
    if as_json:
        emit_json({"kernels": result})
        return
    typer.echo("published kernel timings against the step's own physics (none of them fitted on):")
    typer.echo(f"    {'':36} {'rows':6} {'signed':>7} {'|error|':>7} {'within 25%':>10} {'sources':>7}")
    for label, title in (("defaults", "physics defaults"), ("calibrated", "fitted fractions of each device family")):
        typer.echo(f"  {title}:")
        for key, c in result[label].items():
            typer.echo(f"    {key:36} n={c['n']:<4} {c['median_signed_error_pct']:+6.1f}% "
                       f"{c['median_abs_error_pct']:6.1f}% {c['within_25pct']:10.0%} {c['sources']:>7}")


_SHORT = {"step_overhead_s": "a", "step_overhead_per_sequence_s": "b", "prefill_overhead_s": "c",
          "memory_scale": "bandwidth"}


def _bandwidth(step: dict) -> str:
    scale = step.get("memory_scale", 1.0)
    return f", bandwidth x{scale:.2f}" if scale != 1.0 else ""


def _fitted(step: dict) -> str:
    return "fitted: " + ", ".join(_SHORT[f] for f in step["fitted"]) if step["fitted"] else "profile"


def _summary_lines(summary: dict[str, dict]) -> None:
    # signed: predicted / measured - 1 as published; as time: the same with a rate's ratio inverted, negative where
    # the prediction is too fast (predict.summarize)
    typer.echo(f"    {'':28} {'rows':6} {'median |err|':>12} {'within 25%':>10} {'signed':>8} {'as time':>8} "
               f"{'sources':>7} {'median of source medians':>24}")
    for key, s in summary.items():
        typer.echo(f"    {key:28} n={s['n']:<4} {s['median_abs_error_pct']:11.1f}% {s['within_25pct']:10.0%} "
                   f"{s['median_signed_error_pct']:+7.1f}% {s.get('median_time_error_pct', float('nan')):+7.1f}% "
                   f"{s.get('sources', 0):>7} {s.get('median_of_source_medians_pct', float('nan')):23.1f}%")


def _replicate_lines(spread: dict[str, dict]) -> None:
    """How far repeated measurements of one configuration disagree, beside genmodel's error on the same rows."""
    if not spread:
        typer.echo("  replicates: no configuration was measured more than once")
        return
    typer.echo("  replicates (configurations measured more than once): spread = median distance of a measurement from "
               "its configuration's geometric mean")
    for label, s in spread.items():
        typer.echo(f"    {label:28} {s['sets']:>4} configurations, {s['rows']:>4} rows, {s['sources']:>3} sources: "
                   f"spread {s['spread_pct']:5.1f}%, genmodel {s['model_error_pct']:5.1f}%")


def _beyond_ideal_lines(records: Any, check: dict[str, Any]) -> None:
    """The rows whose published figure is more than the margin beyond their ideal roofline (a served time: beyond one
    request's alone)."""
    if not check.get("rows"):
        return
    typer.echo(f"  beyond the ideal roofline: {check['beyond']} of {check['rows']} rows with an ideal measure more "
               f"than {check['margin']:.0%} beyond the stated work at the device's peaks (a served time: beyond one "
               "request's alone; cached prompts, an unstated datatype or speculative decoding, or an entry's "
               "understated peak; scored as published)")
    flagged = set(check["ids"])
    for r in records.rows():
        if r.id in flagged:
            typer.echo(f"    {r.id:12} {r.metric:28} {r.hardware:16} measured {r.measured:,.4g}, ideal {r.ideal:,.4g}")


def _report(path: Path, records: Any, summary: dict[str, dict], extra: dict[str, Any]) -> None:
    """The text report: one line per predicted row, the summaries, the fits, the rows not expressible."""
    from genmodel import validation as v

    ok = v.scored(records)
    typer.echo(f"{len(records)} rows from {path}: {len(ok)} expressible, {len(records) - len(ok)} not")
    typer.echo(f"  {'id':12} {'metric':28} {'hardware':16} {'measured':>12} {'predicted':>12} {'error':>8}")
    for r in ok.rows():
        typer.echo(f"  {r.id:12} {r.metric:28} {r.hardware:16} {r.measured:>12,.4g} {r.predicted:>12,.4g} "
                   f"{r.error_pct:>+7.1f}%")
    typer.echo("  summary with the factors stored in the hardware entries (median |error|, share within 25%):")
    _summary_lines(summary)
    for label, title in _TITLES.items():
        if label in extra:
            typer.echo(f"  {title}:")
            _summary_lines(extra[label])
    for fam, c in extra.get("calibration", {}).items():
        steps = ", ".join(f"{e} {s['step_overhead_s'] * 1e3:.2g} ms + {s['step_overhead_per_sequence_s'] * 1e6:.2g} us"
                          f"/seq{_bandwidth(s)} ({_fitted(s)})" for e, s in c["engines"].items())
        typer.echo(f"    {fam:18} compute {c['compute_efficiency']:.2f}, memory {c['memory_efficiency']:.2f}, "
                   f"attention {c['attention_efficiency']:.2f} on {len(c['rows'])} rows; {steps}")
    for label, cov in extra.get("band_coverage", {}).items():
        if cov:
            typer.echo(f"  80% band coverage out of sample ({label}): {cov['row_coverage']:.0%} of {cov['rows']} "
                       f"rows, {cov['group_coverage']:.0%} averaged over {cov['groups']} sources (target 70-90%)")
            if cov.get("by_devices"):  # per phase and device-count class of the replica
                typer.echo("    by devices per replica: " + ", ".join(
                    f"{k} {c['coverage']:.0%} ({c['rows']})" for k, c in cov["by_devices"].items()))
            if cov.get("by_architecture"):  # per phase and model architecture (serve's cells are split so, item 95)
                typer.echo("    by model architecture: " + ", ".join(
                    f"{k} {c['coverage']:.0%} ({c['rows']})" for k, c in cov["by_architecture"].items()))
    if extra.get("inside_bands", {}).get("rows"):
        cov = extra["inside_bands"]
        typer.echo(f"  inside the stored 80% bands: {cov['row_coverage']:.0%} of {cov['rows']} rows, "
                   f"{cov['group_coverage']:.0%} averaged over {cov['groups']} sources (out of sample where no band "
                   "was made from these rows)")
        if cov["by_tail"]:
            typer.echo("    tail percentiles: " + ", ".join(f"{k.removeprefix('tail:')} {c['coverage']:.0%} "
                                                            f"({c['rows']})" for k, c in cov["by_tail"].items()))
    _replicate_lines(extra.get("replicates", {}))
    _beyond_ideal_lines(records, extra.get("beyond_ideal", {}))
    for p in extra.get("written", []):
        typer.echo(f"  wrote {p}")
    missing = [r for r in records.rows() if r.not_expressible]
    if missing:
        typer.echo("  not expressible (to do):")
        for r in missing:
            typer.echo(f"    {r.id:12} {r.not_expressible}")
