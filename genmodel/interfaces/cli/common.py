"""Shared pieces of the ``genmodel`` commands: options, output checks, number formatting, JSON and CSV output.

Contract
--------
Commands only parse arguments, call the library and format its results. Every JSON object and every CSV file
they write carries the provenance (schema version, genmodel version, database hash). Output paths are checked
before any work (a missing folder, a folder given as the file, an unwritable place), so a bad path costs
nothing and writes nothing. ``fail`` prints one ``error:`` line and exits with status 2.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_MODEL = "llama-3.1-8b"
DEFAULT_HARDWARE = "h100-sxm"

ModelOpt = Annotated[str, typer.Option(
    "--model", "-m", help="Model name (genmodel models), a synthetic model (synthetic:dense-1t, "
    "synthetic:moe-10t-a200b; docs/synthetic_models.md) or a spec file.")]
HardwareOpt = Annotated[str, typer.Option(
    "--hardware", "-H", help="Device (genmodel hardware), platform (genmodel platforms) or a spec file.")]
InputOpt = Annotated[int, typer.Option(help="Prompt tokens per sequence.")]
OutputOpt = Annotated[int, typer.Option(help="Generated tokens per sequence.")]
WeightOpt = Annotated[str | None, typer.Option(help="Weight datatype (default: activation dtype).")]
KvOpt = Annotated[str | None, typer.Option(help="KV-cache datatype (default: activation dtype).")]
ActOpt = Annotated[str | None, typer.Option(
    help="Activation/matmul datatype (default: bf16, else fp16, else the device's widest).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (SI units).")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine", help="Serving engine profile (genmodel engines; default: the usual one for the device); NAME+eager: "
    "that engine without captured graphs (vLLM --enforce-eager, SGLang --disable-cuda-graph).")]
UncalibratedOpt = Annotated[bool, typer.Option(
    help="Ignore calibrated efficiencies; use each device kind's documented defaults (docs/formulas.md).")]
CostModeOpt = Annotated[str, typer.Option(help="TCO mode: 'owned' (capex + energy + opex) or 'rented'.")]


def fail(message: str) -> None:
    """Print one ``error:`` line and exit with status 2."""
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(2)


def check_output(path: Path | None, option: str) -> None:
    """Fail (before any work) unless ``path`` can be written as a file."""
    if path is None:
        return
    if len(path.name.encode()) > 255:  # (no file system takes a longer name; the checks below would raise)
        fail(f"{option}: the file name {path.name[:40]}... is longer than 255 bytes")
    if path.is_dir():
        fail(f"{option} {path} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        fail(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fail(f"{option} {path}: cannot write there (permission denied)")


def same_path(a: Path, b: Path) -> bool:
    """Whether two paths name one file (links and '..' resolved; a file not written yet too)."""
    try:
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))
    except (OSError, ValueError):
        return False


def distinct_outputs(**outputs: Path | None) -> None:
    """Fail when two of the output options given (``csv=...``, ``html=...``) name the same file: one would overwrite
    the other."""
    given = [(f"--{k.replace('_', '-')}", p) for k, p in outputs.items() if p is not None]
    for i, (first, a) in enumerate(given):
        for second, b in given[i + 1:]:
            if same_path(a, b):
                fail(f"{first} and {second} name the same file {a}; give two file names")


def write_text(path: Path, text: str, option: str) -> None:
    """Write ``text`` to ``path`` (checked before); an OS error becomes one ``error:`` line."""
    try:
        path.write_text(text)
    except OSError as exc:
        fail(f"{option} {path}: {exc.strerror or exc}")


def positive_option(option: str, value: float | None, maximum: float | None = None) -> None:
    """Fail unless ``value`` (when given) is a finite number > 0 (and <= ``maximum``)."""
    if value is None:
        return
    if not math.isfinite(value) or value <= 0:
        fail(f"{option} must be a positive number, got {value:g}")
    if maximum is not None and value > maximum:
        fail(f"{option} must be at most {maximum:,.10g}, got {value:,.10g}")


def target_ms_options(**targets: float | None) -> None:
    """Fail unless each latency target given in ms (``ttft_ms=...``, ``tpot_ms=...``) is positive and at most a day,
    the library's bound (``genmodel.specs.checks.MAX_TARGET_S``), said in the unit typed."""
    from genmodel.specs.checks import MAX_TARGET_S

    for name, value in targets.items():
        option = "--" + name.replace("_", "-")
        positive_option(option, value)
        if value is not None and value > MAX_TARGET_S * 1e3:
            fail(f"{option} must be at most a day ({MAX_TARGET_S * 1e3:,.0f} ms), got {value:,.10g} ms")


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as null and NumPy scalars as Python values (strict JSON)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)) and getattr(value, "size", 1) == 1:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit_json(data: dict[str, Any]) -> None:
    """Print one JSON object with the provenance keys first."""
    from genmodel.data.registry import provenance

    typer.echo(json.dumps(jsonable({**provenance(), **data}), indent=2, allow_nan=False))


def write_csv(table: Any, path: Path, option: str = "--csv") -> None:
    """Write a ``Table`` as CSV with the provenance columns appended."""
    from genmodel.data.registry import provenance

    write_text(path, table.to_csv(None, provenance()), option)


def si(value: float, unit: str, digits: int = 4) -> str:
    from genmodel.specs.units import format_quantity

    return format_quantity(value, unit, digits)


def gib(value: float) -> str:
    """Memory in binary units, as devices report it (an H100 has 80 GiB); MiB below 1 GiB."""
    if abs(value) < 2**30:
        return f"{value / 2**20:,.4g} MiB"
    return f"{value / 2**30:,.4g} GiB"


def ms(seconds: float | None) -> str:
    """A time in ms; 'n/a' for a figure that has no finite value (None in the JSON form)."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    return f"{seconds * 1e3:,.3f} ms"


def latency(seconds: float | None) -> str:
    """A latency in ms, or 'unbounded' where the JSON form has none (a queue past saturation)."""
    return "unbounded" if seconds is None else ms(seconds)


def band_range(low: float, high: float, scale: float = 1e3) -> str:
    """An 80% band as '(31.2-52.0)' in the figure's unit (milliseconds by default); '' without a band."""
    if not (known(low) and known(high)) or low in (float("inf"), float("-inf")) or high == float("inf"):
        return ""
    digits = max(0, 3 - len(f"{high * scale:.0f}"))
    return f"({low * scale:,.{digits}f}-{high * scale:,.{digits}f})"


def band_side(value: float, low: float, high: float) -> str | None:
    """'above' or 'below' where a figure's 80% band lies wholly on one side of the figure itself (the band's cell:
    held-out measurements fell on that side in more than 9 of 10 cases), else None (a band around the figure, or no
    band). Any figure: a time's band above it means the measurements ran slower; a rate's, faster."""
    if not (known(value) and known(low) and known(high)):
        return None
    if low > value:
        return "above"
    if high < value:
        return "below"
    return None


def lopsided_note(figure: str, sides: dict[str, str], rows: int) -> str | None:
    """One line on the rows (``sides``: row label -> 'above' / 'below', from ``band_side``; ``rows`` shown in all)
    whose ``figure`` band lies wholly on one side of the estimate, naming up to three of them; None when there are
    none."""
    if not sides:
        return None
    parts = []
    for side in ("above", "below"):
        names = [name for name, s in sides.items() if s == side]
        if names:
            which = ", ".join(names) if len(names) <= 3 else f"{len(names)} of the {rows} rows"
            slower = "slower" if side == "above" else "faster"
            parts.append(f"{which}: the {figure} band lies {side} the estimate (held-out measurements of that "
                         f"class ran {slower} than predicted in over 90% of cases)")
    return "; ".join(parts)


def served_band_lines(d: dict[str, Any]) -> list[str]:
    """The 80% bands of ``serve``'s p50 figures (served rows' held-out errors; ``d``: its result's ``to_dict()``), when
    the stored bands have them, those of its p99 figures (the published tail percentiles' cells) where they are
    finite, and a line for each p50 figure whose band lies wholly off it (``band_side``). Shared by the CLI's served
    output and the dashboard's Serving page."""
    def finite(value) -> bool:
        return value is not None and math.isfinite(value)

    # a figure that is unbounded (past saturation; JSON null in ``d``) has an unbounded band: the line leaves it out
    if any(finite(d.get(k)) and not finite(d.get(f"{k}_high")) for k in ("ttft_p50_s", "tpot_p50_s")):
        return ["  no band: too few held-out served rows for this kind and engine"]
    ttft = (f"TTFT {latency(d['ttft_p50_s_low'])} to {latency(d['ttft_p50_s_high'])}, "
            if finite(d.get("ttft_p50_s")) else "")
    lines = [f"  80% band of the p50 figures (held-out served rows): {ttft}"
             f"TPOT {latency(d['tpot_p50_s_low'])} to {latency(d['tpot_p50_s_high'])}"]
    if all(finite(d.get(k)) for k in ("ttft_p99_s_high", "tpot_p99_s_high")):
        lines.append(f"  80% band of the p99 figures (published tail percentiles, held out): TTFT "
                     f"{latency(d['ttft_p99_s_low'])} to {latency(d['ttft_p99_s_high'])}, TPOT "
                     f"{latency(d['tpot_p99_s_low'])} to {latency(d['tpot_p99_s_high'])}")
    for figure, key in (("TTFT", "ttft_p50_s"), ("TPOT", "tpot_p50_s")):
        side = band_side(d.get(key), d.get(f"{key}_low"), d.get(f"{key}_high"))
        if side is not None:
            slower = "slower" if side == "above" else "faster"
            lines.append(f"  the p50 {figure} band lies {side} the estimate: held-out served measurements of this "
                         f"class ran {slower} than predicted in over 90% of cases")
    return lines


def utilization_text(u) -> str:
    """The offered load's share of the saturation rate: a percentage up to 1,000%, beyond it a multiple (a rate far
    past saturation prints as, e.g., '6e+06x'); '-' where it is not finite (no saturation rate, JSON null). Shared by
    the CLI's served output and the dashboard's Serving page."""
    if u is None or not math.isfinite(u):
        return "-"
    return f"{u:.0%}" if u < 10 else f"{u:,.3g}x"


def band_basis(bands: dict[str, dict[str, Any]]) -> str:
    """Where each phase's 80% band comes from (``Estimate.to_dict()["bands"]``), one clause per phase, saying when
    the band lies wholly on one side of the estimate: its cell's held-out measurements fell on that side in more
    than 9 of 10 cases (the time-oriented log errors r = log(predicted / measured) all but 10% below 0 or above 0)."""
    parts = []
    for phase, b in bands.items():
        lean = ""
        if isinstance(b.get("log_error_low"), list):  # a band per configuration: its basis names each class's
            parts.append(f"{phase}: {b['basis']}")
            continue
        if b.get("log_error_high") is not None and b["log_error_high"] < 0:
            lean = (" (the band lies above the estimate: held-out measurements ran slower than predicted in over 90% "
                    "of cases)")
        elif b.get("log_error_low") is not None and b["log_error_low"] > 0:
            lean = (" (the band lies below the estimate: held-out measurements ran faster than predicted in over 90% "
                    "of cases)")
        parts.append(f"{phase}: {b['basis']}{lean}")
    return "; ".join(parts)


def known(value: Any) -> bool:
    """True for a number that is neither None nor NaN."""
    return value is not None and value == value


def num(value: Any, fmt: str, unit: str = "") -> str:
    """Format a number, or 'n/a' for an unknown one (None or NaN: no price, no TDP)."""
    if not known(value):
        return "n/a"
    return f"{value:{fmt}}{unit}"


def costs(mode: str, usd_per_device_hour: float | None = None, purchase_usd: float | None = None,
          electricity: float = 0.08, pue: float = 1.3, years: float = 4.0, utilization: float = 0.7) -> Any:
    """Cost assumptions from the command line (the library checks every value)."""
    from genmodel.economics.tco import CostAssumptions

    if usd_per_device_hour is not None and mode == "owned" and purchase_usd is None:
        mode = "rented"
    return CostAssumptions(mode=mode, amortization_years=years, utilization=utilization,
                           electricity_usd_per_kwh=electricity, pue=pue, purchase_usd=purchase_usd,
                           rental_usd_per_device_hour=usd_per_device_hour)


def efficiency(compute: float | None = None, memory: float | None = None, kernel_us: float | None = None,
               step_ms: float | None = None, memory_fraction: float | None = None,
               runtime_reserved: str | None = None) -> Any:
    """The realism overrides given on the command line, or None."""
    from genmodel.specs.hardware import Efficiency
    from genmodel.specs.units import parse_quantity

    given = (compute, memory, kernel_us, step_ms, memory_fraction, runtime_reserved)
    if all(v is None for v in given):
        return None
    for label, value in (("--compute-efficiency", compute), ("--memory-efficiency", memory),
                         ("--memory-fraction", memory_fraction)):
        if value is not None and not (math.isfinite(value) and 1e-3 <= value <= 1):  # (Efficiency's Fraction)
            fail(f"{label} is a fraction from 0.001 to 1, got {value:g}")
    for label, value, day in (("--kernel-overhead-us", kernel_us, 86400e6), ("--step-overhead-ms", step_ms, 86400e3)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            fail(f"{label} must be a finite number >= 0, got {value:g}")
        if value is not None and value > day:  # (the longest duration a spec holds: a day)
            fail(f"{label} must be at most {day:,.0f} (a day), got {value:g}")
    reserved = None
    if runtime_reserved is not None:
        from genmodel.errors import GenmodelError

        try:
            reserved = parse_quantity(runtime_reserved, "bytes")
        except GenmodelError:
            reserved = float("nan")
        if not (math.isfinite(reserved) and reserved >= 0):
            fail(f"--runtime-reserved must be a finite size >= 0 such as '1.5 GiB', got {runtime_reserved[:40]!r}")
    return Efficiency(compute_efficiency=compute, memory_efficiency=memory,
                      kernel_overhead_s=None if kernel_us is None else kernel_us * 1e-6,
                      step_overhead_s=None if step_ms is None else step_ms * 1e-3,
                      usable_memory_fraction=memory_fraction, runtime_reserved_bytes=reserved,
                      source="command-line override")


def layout(row: Any) -> str:
    """'tp 2, pp 1, ep 8 (attention data-parallel), dp 4' for a planner row."""
    stage = f"tp {int(row.tp)}, pp {int(row.pp)}" + (f", cp {int(row.cp)}" if int(getattr(row, "cp", 1)) > 1 else "")
    if int(row.ep) > 1:
        stage += f", ep {int(row.ep)}" + (" (attention data-parallel)" if bool(row.attention_dp) else "")
    return stage + (f", dp {int(row.dp)}" if int(row.dp) > 1 else "")
