"""``genmodel sweep``: a design-space sweep from a spec file, in this process, on this machine's cores or on a Dask
cluster, with its rows and reductions written to Parquet or CSV (genmodel.search.sweep, docs/sweeps.md)."""

import math
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import JsonOpt, emit_json, fail

_OPTIONS = {"out": "--out", "scheduler": "--scheduler", "workers": "--workers"}


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="The sweep spec (YAML or JSON; docs/sweeps.md, examples/sweep.yaml).")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write every row to this .parquet or .csv file (the reductions beside it), in chunks: "
        "an interrupted sweep resumes when run again. Without it, only the summary and reductions are printed.")]
    = None,
    scheduler: Annotated[str | None, typer.Option(
        help="'local' (a Dask cluster on this machine's cores) or a Dask scheduler's address (tcp://HOST:8786). "
        "Default: this process.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes for --scheduler local (default: the cores).")]
    = None,
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress", help="Progress bar and ETA on stderr (default: when stderr is a terminal).")]
    = None,
    top: Annotated[int, typer.Option(help="Rows of each top k and Pareto front to print.")] = 5,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate every combination of the spec's axes (models, hardware and what-if scales, datatypes, layouts,
    batch, lengths or use cases); keep the chosen metrics and run top-k, Pareto and histogram reductions."""
    from genmodel.errors import GenmodelError
    from genmodel.search.sweep import sweep as run

    if top < 0:
        fail(f"--top must be 0 or more, got {top}")
    show = progress if progress is not None else sys.stderr.isatty()
    bar = _Bar() if show else None
    try:
        result = run(spec, out=out, scheduler=scheduler, workers=workers, rows=None if out is not None else False,
                     progress=bar)
    except GenmodelError as exc:
        if bar is not None:
            bar.close()
        option = _OPTIONS.get(exc.argument or "")
        message = " ".join(str(exc).split())
        if option and message.startswith((f"{exc.argument} ", f"{exc.argument}:")):
            message = option + message[len(exc.argument):]
        fail(message)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        where = (f"the finished blocks are saved in {out.name}.chunks; run the same command again to resume"
                 if out is not None else "nothing was saved (give --out to make a sweep resumable)")
        typer.echo(f"interrupted: {where}", err=True)
        raise typer.Exit(130) from None
    if bar is not None:
        bar.close()
    if as_json:
        emit_json(result.to_dict())
        return
    typer.echo(format_sweep(result, top))


class _Bar:
    """A one-line progress bar with the ETA, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.drawn = False

    def __call__(self, p: Any) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and p.done < p.total:
            return
        self.last = now
        share = p.done / p.total if p.total else 1.0
        filled = int(share * 30)
        eta = "" if math.isnan(p.eta_s) or p.done == p.total else f", ETA {_duration(p.eta_s)}"
        sys.stderr.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}  {p.done:,} / {p.total:,} "
                         f"configurations, {_duration(p.elapsed_s)}{eta}   ")
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _value(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return "-" if v != v else (f"{v:,.0f}" if 1e3 <= abs(v) < 1e15 else f"{v:.4g}")
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return str(v)


_AXIS_LABELS = {"models": "models", "hardware": "hardware", "datatypes": "datatypes", "layouts": "layouts",
                "use_cases": "use cases", "input_tokens": "prompt lengths", "output_tokens": "output lengths",
                "batch": "batch sizes", "flops_scale": "FLOP/s scales", "bandwidth_scale": "bandwidth scales",
                "capacity_scale": "capacity scales", "interconnect_scale": "interconnect scales"}


def _configuration_columns(result: Any) -> list[str]:
    """The columns that tell the rows of a reduction apart: the axes with more than one value (of datatypes and
    layouts, the fields that differ between the entries)."""
    axes, spec = result.axes, result.spec
    columns = [c for c, a in (("model", "models"), ("hardware", "hardware")) if axes[a] > 1]
    entries = [d.arguments() for d in spec.datatypes]
    columns += [role for role in ("weight_dtype", "activation_dtype", "kv_dtype", "embedding_dtype")
                if len({e[role] for e in entries}) > 1]
    layouts = spec.layout_list()
    columns += [f for f in ("tp", "pp", "ep", "dp", "cp", "attention_dp") if len({getattr(x, f) for x in layouts}) > 1]
    columns += [c for c in ("use_cases", "input_tokens", "output_tokens", "batch", "flops_scale", "bandwidth_scale",
                            "capacity_scale", "interconnect_scale") if axes.get(c, 1) > 1]
    return [c.replace("use_cases", "use_case") for c in columns] or ["config"]


def _rows(table: Any, columns: list[str], top: int) -> list[str]:
    if len(table) == 0:
        return ["    (none)"]
    if top == 0:
        return []
    cells = [[_value(table[c][i]) for c in columns] for i in range(min(top, len(table)))]
    widths = [max(len(c), *(len(row[j]) for row in cells)) for j, c in enumerate(columns)]
    lines = ["    " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["    " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    if len(table) > top:
        lines.append(f"    ... {len(table) - top:,} more")
    return lines


def format_sweep(result: Any, top: int = 5) -> str:
    """The summary of a sweep and its reductions, for people."""
    spec, axes = result.spec, result.axes
    product = " x ".join(f"{n:,} {_AXIS_LABELS[a]}" for a, n in axes.items() if n > 1) or "1"
    name = f" {spec.name}" if spec.name else ""
    counts = result.counts
    lines = [f"sweep{name}: {result.configurations:,} configurations = {product}",
             f"  valid {counts['valid']:,}; fit in memory {counts['fits']:,}"
             + (f"; meet their use case's targets {counts['meets_targets']:,}" if "meets_targets" in counts else "")]
    for kind, reasons in result.refused.items():
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        lines.append(f"  not valid ({kind}): {reasons[0]}{more}")
    resumed = f", {result.resumed_blocks:,} resumed from chunks" if result.resumed_blocks else ""
    lines.append(f"  evaluated {result.computed_configurations:,} configurations in {result.elapsed_s * 1e3:,.0f} ms "
                 f"({len(result.computed_blocks):,} of {result.blocks:,} block{'s' if result.blocks > 1 else ''}"
                 f"{resumed})")
    if result.files:
        lines.append("  wrote " + ", ".join(f"{path} ({kind})" for kind, path in result.files.items()))
    config = _configuration_columns(result)
    for r, table in zip(spec.reduce.top_k, result.top_k, strict=True):
        lines += ["", f"top {r.k} by {r.metric} ({r.order}), where {r.where}:"]
        lines += _rows(table, ["rank", *config, r.metric], top)
    for p, table in zip(spec.reduce.pareto, result.pareto, strict=True):
        lines += ["", f"Pareto front of {p.x} ({p.x_order}) and {p.y} ({p.y_order}), where {p.where}: "
                      f"{len(table):,} configurations"]
        lines += _rows(table, ["rank", *config, p.x, p.y], top)
    for h in result.histograms:
        edges, counts_ = h["edges"], h["counts"]
        total = int(counts_.sum()) + h["below"] + h["above"]
        lines += ["", f"histogram of {h['metric']} ({h['spacing']} bins), where {h['where']}: {total:,} values"]
        peak = max(1, int(counts_.max()) if counts_.size else 1)
        bins = [("below", f"< {edges[0]:.3g}", h["below"])] if h["below"] else []
        bins += [("bin", f"{edges[i]:.3g} - {edges[i + 1]:.3g}", int(c)) for i, c in enumerate(counts_)]
        bins += [("above", f"> {edges[-1]:.3g}", h["above"])] if h["above"] else []
        width = max(len(label) for _, label, _ in bins)
        for kind, label, count in bins:
            bar = "#" * round(40 * count / peak) if kind == "bin" else ""
            lines.append(f"    {label.rjust(width)}  {count:>10,}  {bar}".rstrip())
    return "\n".join(lines)
