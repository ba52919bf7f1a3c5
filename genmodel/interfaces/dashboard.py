"""genmodel what-if dashboard. Run: genmodel dashboard (or streamlit run app.py in a checkout)

Pages: Estimate, Compare, What-if, Planner, Serving, Requirements, Custom hardware / model. Every number comes
from the library (genmodel.engine.estimate, genmodel.search.compare, genmodel.search.planner, genmodel.serve,
genmodel.requirements, genmodel.interfaces.charts); this file only lays them out. Tables are shown with readable
headers and units (ms, GB, ...); the CSV downloads keep the library's SI columns and carry the provenance. Errors
caused by input
(``GenmodelError``) are shown as one message, never as a traceback. Needs the dashboard extra (streamlit, plotly,
pandas).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import yaml

import genmodel
from genmodel.data.registry import provenance, resolve_hardware
from genmodel.engine.realism import FACTORS, Realism, resolve_realism
from genmodel.errors import GenmodelError
from genmodel.interfaces import charts
from genmodel.interfaces.cli.common import (
    band_basis,
    band_side,
    lopsided_note,
    served_band_lines,
    utilization_text,
)
from genmodel.search.compare import COLUMNS as COMPARE_COLUMNS
from genmodel.search.compare import compare_hardware, compare_models, realism_note
from genmodel.search.planner import plan
from genmodel.search.requirements import frontier
from genmodel.specs.dtypes import DTYPES
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.table import Table

PAGES = ["Estimate", "Compare", "What-if", "Planner", "Serving", "Requirements", "Custom hardware / model"]
DTYPE_CHOICES = ["auto", *DTYPES]
CALIBRATED_LABEL = "Calibrated efficiencies (docs/validation.md)"
CALIBRATED_HELP = "Off: every device uses its kind's documented default efficiencies (docs/formulas.md section 6)."

# SI column of a library table -> (header shown, factor from SI, printf format); others follow `column_format`
COLUMN_FORMATS: dict[str, tuple[str, float | None, str | None]] = {
    "hardware": ("Hardware", None, None), "model": ("Model", None, None), "engine": ("Engine", None, None),
    "realism_origin": ("Realism origin", None, None), "realism": ("Realism basis", None, None),
    "compute_efficiency": ("Compute efficiency (% of peak)", 100, "%.0f"),
    "memory_efficiency": ("Bandwidth efficiency (% of peak)", 100, "%.0f"),
    "kernel_overhead_s": ("Kernel overhead (µs)", 1e6, "%.1f"),
    "step_overhead_s": ("Step overhead (ms)", 1e3, "%.2f"),
    "usable_memory_fraction": ("Usable share of memory (%)", 100, "%.0f"),
    "runtime_reserved_bytes": ("Runtime reserve (GB)", 1e-9, "%.2f"),
    "devices": ("Devices", 1, "%d"), "split": ("Split", None, None), "fits": ("Fits", None, None),
    "reason": ("Why it cannot run", None, None),
    "ttft_s": ("TTFT (ms)", 1e3, "%.2f"), "tpot_s": ("TPOT (ms)", 1e3, "%.3f"),
    "e2e_latency_s": ("End-to-end (s)", 1, "%.3f"),
    "output_tokens_per_s": ("Output tok/s", 1, "%.1f"),
    "output_tokens_per_s_per_device": ("Output tok/s per device", 1, "%.1f"),
    "tokens_per_s_per_user": ("Tok/s per user", 1, "%.1f"),
    "energy_per_output_token_j": ("Energy per output token (J)", 1, "%.4f"),
    "avg_power_w": ("Average power (W)", 1, "%.0f"),
    "usd_per_million_input_tokens": ("USD per M input tokens", 1, "%.4f"),
    "usd_per_million_output_tokens": ("USD per M output tokens", 1, "%.4f"),
    "usd_per_request": ("USD per request", 1, "%.6f"),
    "usd_per_device_hour": ("USD per device-hour", 1, "%.3f"),
    "total_memory_bytes": ("Memory used (GB)", 1e-9, "%.2f"),
    "memory_capacity_bytes": ("Usable memory (GB)", 1e-9, "%.1f"),
    "tp": ("TP", 1, "%d"), "pp": ("PP", 1, "%d"), "ep": ("EP", 1, "%d"), "dp": ("DP", 1, "%d"),
    "cp": ("CP", 1, "%d"), "attention_dp": ("Attention DP", None, None),
    "batch": ("Batch", 1, "%d"), "input_tokens": ("Input tokens", 1, "%d"), "max_batch": ("Largest batch", 1, "%d"),
    "decode_comm_s": ("Decode communication (ms)", 1e3, "%.3f"), "meets_targets": ("Meets targets", None, None),
    "phase": ("Phase", None, None), "group": ("Group", None, None), "operator": ("Operator", None, None),
    "kind": ("Kind", None, None), "dtype": ("Datatype", None, None), "instances": ("Instances", 1, "%d"),
    "flops": ("GFLOP", 1e-9, "%.3f"), "weight_bytes": ("Weight traffic (MB)", 1e-6, "%.2f"),
    "kv_bytes": ("KV traffic (MB)", 1e-6, "%.2f"), "activation_bytes": ("Activation traffic (MB)", 1e-6, "%.2f"),
    "compute_s": ("Compute time (µs)", 1e6, "%.2f"), "memory_s": ("Memory time (µs)", 1e6, "%.2f"),
    "power_s": ("Power-limited time (µs)", 1e6, "%.2f"), "overhead_s": ("Overhead (µs)", 1e6, "%.2f"),
    "time_s": ("Time (µs)", 1e6, "%.2f"), "ideal_time_s": ("Ideal time (µs)", 1e6, "%.2f"),
    "bound": ("Bound", None, None), "share": ("Share of phase (%)", 100, "%.1f"),
    "knob": ("Hardware knob", None, None), "minus": ("Change at knob -20% (%)", 100, "%+.1f"),
    "plus": ("Change at knob +20% (%)", 100, "%+.1f"), "span": ("Span (percentage points)", 100, "%.1f"),
    "case": ("Case", None, None), "chunk_tokens": ("Chunk (tokens)", 1, "%d"),
    "max_batch_tokens": ("Token budget per step", 1, "%d"), "prefix_hit": ("Prefix hit (%)", 100, "%.0f"),
    "spec_tokens": ("Speculative tokens k", 1, "%d"),
    "ttft_p99_s": ("TTFT P99 (ms)", 1e3, "%.1f"), "tpot_p99_s": ("TPOT P99 (ms)", 1e3, "%.2f"),
    "max_request_rate_per_s": ("Saturation (requests/s)", 1, "%.2f"),
    "goodput_requests_per_s": ("Goodput (requests/s)", 1, "%.2f"), "meets_slo": ("Meets targets", None, None),
    "flops_ratio": ("FLOP/s available / required", 1, "%.2f"),
    "bandwidth_ratio": ("Bandwidth available / required", 1, "%.2f"),
    "capacity_ratio": ("Capacity available / required", 1, "%.2f"),
    "interconnect_ratio": ("Interconnect available / required", 1, "%.2f"),
    "meets": ("Meets every target", None, None),
}
# suffix of an SI column -> (unit shown, factor), for columns not in COLUMN_FORMATS
SUFFIX_UNITS = {"_s": ("ms", 1e3), "_bytes": ("GB", 1e-9), "_j": ("J", 1.0), "_w": ("W", 1.0)}
# suffix of a band column (the 80% band of the column it extends) -> word in its header
BAND_SUFFIXES = {"_low": "low", "_high": "high"}
ENGINE_DEFAULT = "device default"


def column_format(name: str) -> tuple[str, float | None, str | None]:
    """Header, factor from SI and printf format of a library column (known, a tier column, or by suffix)."""
    if name in COLUMN_FORMATS:
        return COLUMN_FORMATS[name]
    for suffix, word in BAND_SUFFIXES.items():  # 'tpot_s_low' -> 'TPOT, 80% band low (ms)'
        if name.endswith(suffix):
            label, factor, fmt = column_format(name[: -len(suffix)])
            head, paren, unit = label.partition(" (")
            return f"{head}, 80% band {word}{paren}{unit}", factor, fmt
    if name.startswith("bytes_"):  # breakdown traffic per memory tier
        return f"{name[len('bytes_'):]} traffic (MB)", 1e-6, "%.2f"
    for suffix, (unit, factor) in SUFFIX_UNITS.items():
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ').capitalize()} ({unit})", factor, "%.4g"
    return name.replace("_", " ").capitalize(), 1.0, None


def display_frame(table: Table, columns: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``table`` for people: readable headers, values in the units of the headers, whole numbers as integers,
    yes/no for booleans; with the st.dataframe column configuration (formats; the CSV name as help)."""
    data: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for name in columns or table.columns:
        label, factor, fmt = column_format(name)
        values = np.asarray(table[name])
        if values.dtype.kind == "b":
            data[label] = np.where(values, "yes", "no")
        elif values.dtype.kind in "iuf" and factor is not None:
            shown = values.astype(float) * factor
            if name.endswith(tuple(BAND_SUFFIXES)):  # +-inf: no band, shown empty
                shown = np.where(np.isfinite(shown), shown, np.nan)
            finite = shown[np.isfinite(shown)]
            whole = bool(np.all(finite == np.round(finite)))
            if fmt in ("%d", None) and whole:  # counts: 328, not 328.000
                data[label] = pd.array([round(v) if np.isfinite(v) else None for v in shown], dtype="Int64")
                fmt = "%d"
            else:
                data[label] = shown
                fmt = "%.2f" if fmt == "%d" else fmt
            config[label] = st.column_config.NumberColumn(label, format=fmt, help=f"CSV column: {name} (SI)")
        else:
            data[label] = [str(v) for v in values]
    return pd.DataFrame(data), config


def with_bands(columns: list[str], table: Table) -> list[str]:
    """``columns`` with the band columns of ``table`` (``<column>_low``, ``<column>_high``) right after their figure,
    the rest of ``table``'s columns at the end."""
    bands = {f"{c}{suffix}" for c in table.columns for suffix in BAND_SUFFIXES}
    order = [b for c in columns if c in table and c not in bands for b in (c, f"{c}_low", f"{c}_high") if b in table]
    return order + [c for c in table.columns if c not in order]


def show_table(table: Table, columns: list[str] | None = None) -> None:
    frame, config = display_frame(table, columns)
    st.dataframe(frame, width="stretch", hide_index=True, column_config=config)


@st.cache_resource
def databases():
    """Built-in models, devices and platforms, loaded once per server."""
    return genmodel.all_models(), genmodel.all_hardware(), genmodel.all_platforms()


def custom() -> dict[str, dict]:
    """Specs the user added this session: {'models': {name: spec}, 'hardware': {name: spec}}."""
    return st.session_state.setdefault("custom", {"models": {}, "hardware": {}})


def model_table() -> dict:
    models, _, _ = databases()
    return {**models, **custom()["models"]}


def hardware_table() -> dict:
    _, hardware, platforms = databases()
    return {**hardware, **platforms, **custom()["hardware"]}


def pick(value: str) -> str | None:
    return None if value == "auto" else value


def index_of(names: list[str], preferred: str) -> int:
    return names.index(preferred) if preferred in names else 0


def download(table: Table, name: str, key: str) -> None:
    """CSV of the library table: SI columns, provenance appended (as the CLI writes it)."""
    st.download_button(f"Download {name} (CSV, SI units)", table.to_csv(None, provenance()).encode(),
                       file_name=f"{name}.csv", mime="text/csv", key=key)


def fmt(value, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def realism_caption(realism: Realism) -> None:
    st.caption(f"Realism in force ({realism.origin}): {realism.describe()}.")


def calibrated_box(key: str) -> bool:
    return st.checkbox(CALIBRATED_LABEL, value=True, key=key, help=CALIBRATED_HELP)


def engine_box(key: str, where=st) -> str | None:
    """Serving-engine profile: None (the device's usual engine) or an engine name."""
    engines = genmodel.all_engines()
    # each profile with an eager figure also without captured graphs (NAME+eager, genmodel.get_engine)
    names = sorted([*engines, *(f"{n}+eager" for n, e in engines.items() if e.eager_launch_s > 0)])
    name = where.selectbox("Serving engine", [ENGINE_DEFAULT, *names], key=key,
                           format_func=lambda n: n if n == ENGINE_DEFAULT
                           else f"{n}: {genmodel.get_engine(n).display_name}",
                           help="Per-step overheads, bucketing and kernel scales of a serving engine "
                                "(genmodel engines; NAME+eager: without captured graphs); the realism line below "
                                "names the engine in force.")
    return None if name == ENGINE_DEFAULT else name


def workload_inputs(key: str, with_parallel: bool = True, with_batch: bool = True) -> dict:
    """Model, hardware, workload (batch unless ``with_batch`` is False, as for served traffic), datatypes and
    parallelism widgets; returns estimate() keyword arguments (serve() ones without the batch)."""
    models, hardware = model_table(), hardware_table()
    names_m, names_h = sorted(models), sorted(hardware)
    c1, c2 = st.columns(2)
    model = c1.selectbox("Model", names_m, index=index_of(names_m, "llama-3.1-8b"), key=f"{key}-model")
    device = c2.selectbox("Hardware or platform", names_h, index=index_of(names_h, "h100-sxm"), key=f"{key}-hw")
    kw = {"model": models[model], "hardware": hardware[device]}
    cols = st.columns(3 if with_batch else 2)
    if with_batch:
        kw["batch"] = int(cols[0].number_input("Batch (sequences per replica)", 1, 1 << 16, 1, key=f"{key}-batch"))
    kw["input_tokens"] = int(cols[-2].number_input("Input tokens", 1, 1 << 22, 1024, step=128, key=f"{key}-in",
                                                   help=f"{model}: at most {models[model].max_context_tokens:,} "
                                                        "tokens of input + output"))
    kw["output_tokens"] = int(cols[-1].number_input("Output tokens", 1, 1 << 20, 256, step=32, key=f"{key}-out"))
    d1, d2, d3 = st.columns(3)
    kw["weight_dtype"] = pick(d1.selectbox("Weight dtype", DTYPE_CHOICES, key=f"{key}-wd"))
    kw["activation_dtype"] = pick(d2.selectbox("Activation dtype", DTYPE_CHOICES, key=f"{key}-ad"))
    kw["kv_dtype"] = pick(d3.selectbox("KV dtype", DTYPE_CHOICES, key=f"{key}-kd"))
    if with_parallel:
        with st.expander("Parallelism (several devices)"):
            p = st.columns(6)
            for i, name in enumerate(("tp", "pp", "ep", "dp", "cp")):
                kw[name] = int(p[i].number_input(name.upper(), 1, 4096, 1, key=f"{key}-{name}"))
            kw["attention_dp"] = p[5].checkbox("Attention DP", key=f"{key}-adp")
    return kw


def run(kw: dict, **extra):
    """estimate() or a readable error on the page (None)."""
    try:
        return genmodel.estimate(**kw, check_fit=False, **extra)
    except GenmodelError as exc:
        st.error(str(exc))
        return None


def memory_text(d: dict) -> str:
    return (f"it needs {d['total_memory_bytes'] / 1e9:,.2f} GB per device, {d['memory_capacity_bytes'] / 1e9:,.2f} GB "
            f"usable of {d['device_memory_bytes'] / 1e9:,.2f} GB physical")


def banded_metric(col, label: str, d: dict, key: str, spec: str, unit: str = "", scale: float = 1, **kw) -> None:
    """Metric ``key`` of ``d`` (times ``scale``) with its 80% band in a caption beneath, where the band is finite."""
    col.metric(label, f"{d[key] * scale:{spec}}{unit}", **kw)
    low, high = d[f"{key}_low"] * scale, d[f"{key}_high"] * scale
    if np.isfinite(low) and np.isfinite(high):
        col.caption(f"80% band: {low:{spec}} to {high:{spec}}{unit}")


def key_figures(result) -> None:
    d = result.to_dict()
    k = st.columns(4)
    banded_metric(k[0], "TTFT", d, "ttft_s", ",.2f", " ms", 1e3,
                  help=f"ideal roofline {d['ideal_ttft_s'] * 1e3:,.2f} ms")
    banded_metric(k[1], "TPOT (mean)", d, "tpot_s", ",.3f", " ms", 1e3,
                  help=f"ideal roofline {d['ideal_tpot_s'] * 1e3:,.3f} ms")
    banded_metric(k[2], "End-to-end", d, "e2e_latency_s", ",.3f", " s")
    banded_metric(k[3], "Output throughput", d, "output_tokens_per_s", ",.1f", " tok/s")
    m = st.columns(4)
    m[0].metric("Memory used", f"{d['total_memory_bytes'] / 1e9:,.2f} GB",
                help=f"per device, of {d['memory_capacity_bytes'] / 1e9:,.1f} GB usable "
                     f"({d['device_memory_bytes'] / 1e9:,.1f} GB physical)")
    m[1].metric("Fits", "yes" if d["fits"] else "no")
    banded_metric(m[2], "Largest batch that fits", d, "max_batch", ",.0f")
    m[3].metric("Devices", f"{d['devices']:,}")
    e = st.columns(4)
    e[0].metric("Energy per output token", fmt(d["energy_per_output_token_j"], ",.4f", " J"))
    e[1].metric("Cost per million output tokens", fmt(d["usd_per_million_output_tokens"], ",.4f", " USD"),
                help="owned hardware, documented defaults (docs/energy_tco.md)")
    e[2].metric("Average power", fmt(d["avg_power_w"], ",.0f", " W"))
    e[3].metric("Decode bound", d["bound"])
    bases = band_basis(d["bands"])
    st.caption(f"Basis of the 80% bands (4 in 5 held-out published measurements fall inside): {bases}.")
    if not d["fits"]:
        st.warning(f"This configuration does not fit in memory ({memory_text(d)}); the figures assume it did.")


def page_estimate() -> None:
    st.header("Estimate")
    kw = workload_inputs("est")
    c1, c2 = st.columns(2)
    engine = engine_box("est-engine", c1)
    calibrated = c2.checkbox("Use the device's calibrated efficiencies (docs/validation.md)", value=True,
                             key="est-calibrated", help=CALIBRATED_HELP)
    result = run(kw, calibrated=calibrated, engine=engine)
    if result is None:
        return
    key_figures(result)
    realism_caption(result.realism)
    st.plotly_chart(charts.roofline_figure(result), width="stretch")
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.latency_breakdown_figure(result), width="stretch")
    c2.plotly_chart(charts.memory_figure(result), width="stretch")
    st.subheader("Per-operator breakdown")
    st.caption("Every operator, collective and the per-step overhead of each phase, all instances on the critical "
               "path: the times of the prefill rows sum to TTFT, those of the decode rows to the mean TPOT.")
    table = result.breakdown()
    show_table(table)
    download(table, "breakdown", "dl-breakdown")


def page_compare() -> None:
    st.header("Compare")
    what = st.radio("Compare", ["hardware", "models"], horizontal=True, key="cmp-what")
    models, hardware = model_table(), hardware_table()
    c1, c2, c3 = st.columns(3)
    batch = int(c1.number_input("Batch", 1, 1 << 16, 8, key="cmp-batch"))
    inputs = int(c2.number_input("Input tokens", 1, 1 << 22, 1024, key="cmp-in"))
    outputs = int(c3.number_input("Output tokens", 1, 1 << 20, 256, key="cmp-out"))
    c1, c2, c3, c4 = st.columns(4)
    weight = pick(c1.selectbox("Weight dtype", DTYPE_CHOICES, key="cmp-wd"))
    sort_by = c2.selectbox("Sort by", ["cost", "energy", "latency"], key="cmp-sort")
    engine = engine_box("cmp-engine", c3)
    calibrated = c4.checkbox(CALIBRATED_LABEL, value=True, key="cmp-calibrated", help=CALIBRATED_HELP)
    names_m, names_h = sorted(models), sorted(hardware)
    if what == "hardware":
        model = st.selectbox("Model", names_m, index=index_of(names_m, "llama-3.1-8b"), key="cmp-model")
        chosen = st.multiselect("Hardware", names_h, key="cmp-hws",
                                default=[h for h in ("h100-sxm", "h200-sxm", "b200", "mi300x") if h in hardware])
        if not chosen:
            st.info("Choose at least one device or platform to compare.")
            return
        with st.spinner("Sizing and estimating each device..."):
            table = compare_hardware(models[model], [hardware[h] for h in chosen], batch, inputs, outputs, weight,
                                     sort_by=sort_by, calibrated=calibrated, engine=engine)
        label = "hardware"
    else:
        device = st.selectbox("Hardware", names_h, index=index_of(names_h, "h200-sxm"), key="cmp-hw")
        chosen = st.multiselect("Models", names_m, key="cmp-models",
                                default=[m for m in ("llama-3.1-8b", "qwen3-32b", "llama-3.1-70b") if m in models])
        if not chosen:
            st.info("Choose at least one model to compare.")
            return
        with st.spinner("Sizing and estimating each model..."):
            table = compare_models([models[m] for m in chosen], hardware[device], batch, inputs, outputs, weight,
                                   sort_by=sort_by, calibrated=calibrated, engine=engine)
        label = "model"
    note = realism_note(table)
    if note:
        text = note.split(" Use --")[0]  # the library's advice names CLI options; this page has a checkbox
        st.warning(f"{text[:1].upper()}{text[1:]} Untick '{CALIBRATED_LABEL}' to put every device on its kind's "
                   "default efficiencies.")
    order = [label, "engine", "realism_origin", "fits", "devices", "split", *COMPARE_COLUMNS, "realism", *FACTORS,
             "reason"]
    if label == "model":
        order.insert(1, "hardware")
    show_table(table, with_bands(order, table))
    st.caption("Each row shows the serving engine and the realism in force: its origin (calibrated on published "
               "measurements, the kind's documented defaults, or a mix), its basis and its factors. The 80% band "
               "columns are empty where no band exists.")
    download(table, "comparison", "dl-compare")
    ok = table[np.asarray(table["fits"], dtype=bool)]
    if ok.empty:
        st.info("No entry can run this workload (it does not fit on any split, or the input is refused): "
                "the column 'Why it cannot run' says why.")
        return
    sides = {str(r[label]): side for r in ok.rows()
             if (side := band_side(r.tpot_s, r.tpot_s_low, r.tpot_s_high)) is not None}
    if (lopsided := lopsided_note("TPOT", sides, len(ok))) is not None:
        st.caption(f"Note: {lopsided}.")
    c1, c2, c3 = st.columns(3)
    tpot = ok.assign(tpot_ms=ok["tpot_s"] * 1e3, tpot_ms_low=ok["tpot_s_low"] * 1e3,
                     tpot_ms_high=ok["tpot_s_high"] * 1e3)
    c1.plotly_chart(charts.compare_figure(tpot, "tpot_ms", "TPOT (80% band)", "TPOT (ms)", band=True), width="stretch")
    c2.plotly_chart(charts.compare_figure(ok, "energy_per_output_token_j", "Energy per output token",
                                          "J per token"), width="stretch")
    c3.plotly_chart(charts.compare_figure(ok, "usd_per_million_output_tokens", "Cost per million output tokens",
                                          "USD per million tokens"), width="stretch")


WHAT_IF_FIGURES = (("ttft_s", "TTFT", lambda v: f"{v * 1e3:,.2f} ms", True),
                   ("tpot_s", "TPOT", lambda v: f"{v * 1e3:,.3f} ms", True),
                   ("output_tokens_per_s", "Output throughput", lambda v: f"{v:,.1f} tok/s", False),
                   ("max_batch", "Largest batch", lambda v: f"{int(v):,}", False))


def page_what_if() -> None:
    st.header("What-if")
    kw = workload_inputs("wi")
    s = st.columns(4)
    scales = {"flops_scale": s[0].slider("Peak FLOP/s x", 0.25, 4.0, 1.0, 0.05, key="wi-f"),
              "bandwidth_scale": s[1].slider("Memory bandwidth x", 0.25, 4.0, 1.0, 0.05, key="wi-b"),
              "capacity_scale": s[2].slider("Memory capacity x", 0.25, 4.0, 1.0, 0.05, key="wi-c"),
              "interconnect_scale": s[3].slider("Interconnect bandwidth x", 0.25, 4.0, 1.0, 0.05, key="wi-i")}
    base = run(kw)
    scaled = run(kw, **scales) if base is not None else None
    if base is None or scaled is None:
        return
    b, d = base.to_dict(), scaled.to_dict()
    if not b["fits"]:
        st.warning(f"The base configuration does not fit in memory on the datasheet hardware ({memory_text(b)}); "
                   "its figures assume it did.")
    if not d["fits"]:
        st.warning(f"The scaled configuration does not fit in memory (capacity x{scales['capacity_scale']:g}: "
                   f"{memory_text(d)}); its figures assume it did.")
    k = st.columns(4)
    for col, (key, label, show, lower_is_better) in zip(k, WHAT_IF_FIGURES, strict=True):
        change = (d[key] / b[key] - 1) if b[key] else (0.0 if not d[key] else float("inf"))
        if abs(change) < 5e-4:  # shows as 0.0%: neither good nor bad
            col.metric(label, show(d[key]), "0.0% vs datasheet", delta_color="off", delta_arrow="off")
        else:
            col.metric(label, show(d[key]), f"{change:+.1%} vs datasheet",
                       delta_color="inverse" if lower_is_better else "normal")
    realism_caption(scaled.realism)
    axis = st.radio("Sweep", ["batch", "input_tokens"], horizontal=True, key="wi-axis",
                    format_func=lambda a: {"batch": "batch", "input_tokens": "context (input tokens)"}[a])
    if axis == "batch":
        values = 2 ** np.arange(0, 11)
    else:
        values = charts.context_values(scaled)
        st.caption(f"Prompt lengths up to {int(values.max()):,} tokens: the model's maximum context "
                   f"({scaled.model.max_context_tokens:,} tokens) less the {kw['output_tokens']:,} output tokens.")
    frame = charts.sweep(scaled, axis, values)
    st.plotly_chart(charts.sweep_figure(frame, axis), width="stretch")
    over = int((~np.asarray(frame["fits"], dtype=bool)).sum())
    if over:
        st.caption(f"{over} of {len(frame)} points do not fit in memory (red crosses; 'Fits' no in the table).")
    with st.expander("Sweep values"):
        show_table(frame)
    download(frame, "sweep", "dl-sweep")
    metrics = {"tpot_s": "TPOT", "ttft_s": "TTFT", "e2e_latency_s": "end-to-end latency"}
    metric = st.selectbox("Sensitivity of", list(metrics), format_func=metrics.get, key="wi-metric")
    sens = charts.sensitivity(scaled, metric)
    st.plotly_chart(charts.tornado_figure(sens, metrics[metric]), width="stretch")
    download(sens, "sensitivity", "dl-sens")


def page_planner() -> None:
    st.header("Planner")
    models, hardware = model_table(), hardware_table()
    names_m, names_h = sorted(models), sorted(hardware)
    c1, c2 = st.columns(2)
    model = c1.selectbox("Model", names_m, index=index_of(names_m, "llama-3.1-70b"), key="pl-model")
    device = c2.selectbox("Hardware or platform", names_h, index=index_of(names_h, "dgx-h100"), key="pl-hw")
    c = st.columns(5)
    inputs = int(c[0].number_input("Input tokens", 1, 1 << 22, 2048, key="pl-in"))
    outputs = int(c[1].number_input("Output tokens", 1, 1 << 20, 256, key="pl-out"))
    ttft = c[2].number_input("TTFT target (ms)", 1.0, 1e6, 2000.0, key="pl-ttft")
    tpot = c[3].number_input("TPOT target (ms)", 0.1, 1e5, 50.0, key="pl-tpot")
    budget = int(c[4].number_input("Max devices", 1, 4096, 8, key="pl-max"))
    c1, c2, c3, c4 = st.columns(4)
    weight = pick(c1.selectbox("Weight dtype", DTYPE_CHOICES, key="pl-wd"))
    rank_by = c2.selectbox("Rank by", ["throughput", "cost", "energy"], key="pl-rank")
    engine = engine_box("pl-engine", c3)
    calibrated = c4.checkbox(CALIBRATED_LABEL, value=True, key="pl-calibrated", help=CALIBRATED_HELP)
    at_edge = st.checkbox("Targets at the upper edge of the 80% bands", value=False, key="pl-band",
                          help="A configuration meets a target only if the upper edge of its figure's 80% band does "
                               "(held-out measurements of its class stayed under it in 9 of 10 cases), not only "
                               "the estimate.")
    with st.spinner("Searching layouts and batch sizes..."):
        result = plan(models[model], hardware[device], inputs, outputs, ttft / 1e3, tpot / 1e3, budget,
                      weight_dtype=weight, rank_by=rank_by, calibrated=calibrated, engine=engine,
                      targets_at="band" if at_edge else "estimate")
    realism_caption(resolve_realism(resolve_hardware(hardware[device])[0], None, calibrated, engine))
    st.metric("Configurations meeting the targets", f"{len(result.ranked):,} of {len(result.space):,}")
    if result.ranked.empty:
        st.info("None meets the targets: relax them or allow more devices.")
    else:
        show_table(result.ranked.head(50), with_bands(result.ranked.columns, result.ranked))
        download(result.ranked, "plan", "dl-plan")
    st.plotly_chart(charts.pareto_figure(result.space, result.ranked, result.pareto,
                                         f"{model} on {device}: {inputs} in / {outputs} out"), width="stretch")


SCHEDULER_DEFAULT = "engine default"
TOKEN_CHOICES = [SCHEDULER_DEFAULT, *(2**k for k in range(8, 16))]  # 256 ... 32,768 tokens
# the engine's share of device memory (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static)
MEMORY_SHARE_CHOICES = [SCHEDULER_DEFAULT, 0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98]


def latency_text(seconds: float, spec: str = ",.1f") -> str:
    """Seconds as ms, 'unbounded' past saturation (infinite waits)."""
    return f"{seconds * 1e3:{spec}} ms" if np.isfinite(seconds) else "unbounded"


def serving_inputs() -> tuple[dict, dict]:
    """Widgets of the Serving page: (serve() keyword arguments without the load, the speculation settings the
    comparison table switches on: spec_tokens and spec_acceptance)."""
    kw = workload_inputs("sv", with_batch=False)
    c1, c2 = st.columns(2)
    kw["engine"] = engine_box("sv-engine", c1)
    kw["calibrated"] = c2.checkbox(CALIBRATED_LABEL, value=True, key="sv-calibrated", help=CALIBRATED_HELP)
    t = st.columns(3)
    kw["ttft_target_s"] = t[0].number_input("TTFT target (ms)", 0.1, 1e7, 500.0, key="sv-ttft") / 1e3
    kw["tpot_target_s"] = t[1].number_input("TPOT target (ms)", 0.01, 1e6, 30.0, key="sv-tpot") / 1e3
    kw["percentile"] = t[2].number_input("Percentile the targets apply to", 10.0, 99.9, 90.0, key="sv-pct")
    c = st.columns(3)
    for col, name, label, help_ in (
            (c[0], "max_batch_tokens", "Token budget per step",
             "Tokens one engine step may carry (vLLM max_num_batched_tokens)"),
            (c[1], "chunk_tokens", "Chunk size (prompt tokens per step)",
             "Chunked prefill: most prompt tokens of one request per step (default: the token budget)")):
        choice = col.selectbox(label, TOKEN_CHOICES, key=f"sv-{name}", help=help_,
                               format_func=lambda v: v if v == SCHEDULER_DEFAULT else f"{v:,}")
        kw[name] = None if choice == SCHEDULER_DEFAULT else int(choice)
    kw["prefix_hit"] = c[2].slider("Prefix-cache hit (share of each prompt)", 0.0, 0.95, 0.0, 0.05, key="sv-hit")
    share = st.selectbox("Engine's share of device memory", MEMORY_SHARE_CHOICES, key="sv-memory",
                         help="What the engine was started with (vLLM --gpu-memory-utilization, SGLang "
                              "--mem-fraction-static): it sets how many sequences the KV cache holds "
                              "(docs/serving.md section 1)",
                         format_func=lambda v: v if v == SCHEDULER_DEFAULT else f"{v:.0%}")
    if share != SCHEDULER_DEFAULT:
        kw["efficiency"] = genmodel.Efficiency(usable_memory_fraction=float(share))
    c = st.columns(3)
    speculate = c[0].checkbox("Speculative decoding (MTP heads)", key="sv-spec",
                              help="Draft tokens from one extra decoder layer per token (docs/serving.md section 4)")
    spec = {"spec_tokens": int(c[1].number_input("Draft tokens per step k", 1, 16, 3, key="sv-k")),
            "spec_acceptance": c[2].slider("Acceptance per draft token", 0.0, 1.0, 0.7, 0.05, key="sv-acc")}
    if speculate:
        kw.update(spec)
    return kw, spec


def rate_slider(top: float) -> float:
    """Request rate (requests/s) from 1% of the saturation rate ``top`` up to it; starts at half of it, and again
    whenever a new configuration puts the last choice outside the range."""
    low = top / 100
    chosen = st.session_state.get("sv-rate")  # the slider's own state (a new range makes it a new widget)
    if chosen is None or not low <= chosen <= top:
        chosen = top / 2
    return st.slider("Request rate λ (requests/s, Poisson arrivals)", low, top, chosen, step=low, format="%.3g",
                     key="sv-rate", help=f"Up to the saturation rate of this configuration, {top:,.3g} requests/s")


def serving_figures(served, pct: str) -> None:
    """The chosen rate's figures as metrics with units."""
    m = {k: v.item() for k, v in served.metrics.items()}
    k = st.columns(4)
    for col, key, label in zip(k, ("ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "e2e_p99_s"),
                               ("TTFT P50", "TTFT P90", "TTFT P99", "End-to-end P99"), strict=True):
        col.metric(label, latency_text(m[key]))
    k = st.columns(4)
    k[0].metric("TPOT mean", latency_text(m["tpot_mean_s"], ",.2f"))
    k[1].metric("TPOT P99", latency_text(m["tpot_p99_s"], ",.2f"))
    k[2].metric("Inter-token gap P99", latency_text(m["itl_p99_s"], ",.2f"))
    k[3].metric("Output throughput", f"{m['output_tokens_per_s']:,.1f} tok/s",
                help=f"{m['output_tokens_per_s_per_device']:,.1f} tok/s per device; "
                     f"{m['tokens_per_s_per_user']:,.1f} tok/s per user (1 / mean TPOT)")
    k = st.columns(4)
    k[0].metric("Saturation rate", f"{m['max_request_rate_per_s']:,.3g} req/s",
                help=f"utilization at the chosen rate {utilization_text(m['utilization'])}")
    k[1].metric("Bottleneck", m["bottleneck"], help="what binds the saturation rate")
    k[2].metric("Running batch", f"{m['running_batch']:,.1f}", help="sequences in flight (mean)")
    k[3].metric("Fits", "yes" if m["fits"] else "no",
                help=f"KV cache {m['kv_cache_bytes'] / 1e9:,.2f} GB in use of {m['kv_capacity_bytes'] / 1e9:,.2f} "
                     f"GB per device; weights {m['weights_bytes'] / 1e9:,.2f} GB")
    k = st.columns(4)
    k[0].metric(f"Meets targets at {pct}", "yes" if m["meets_slo"] else "no")
    k[1].metric("Goodput", f"{m['goodput_requests_per_s']:,.3g} req/s",
                help=f"{m['slo_attainment']:.1%} of requests meet both targets")
    k[2].metric("Largest rate meeting the targets", f"{m['max_goodput_rate_per_s']:,.3g} req/s")
    k[3].metric("Tokens per decode step", f"{m['tokens_per_step']:,.2f}", help="above 1 with speculative decoding")


def page_serving() -> None:
    st.header("Serving")
    st.caption("Continuous batching with chunked prefill under Poisson arrivals, in closed form (genmodel serve, "
               "docs/serving.md). Near saturation the P99 tails are lighter than a discrete-event simulation's.")
    kw, spec = serving_inputs()
    top = charts.saturation_rate(kw)
    if not top > 0:
        st.warning("This configuration cannot serve a request: the weights leave no room for one request's KV "
                   "cache. Use more devices (Parallelism), a smaller datatype or a shorter context.")
        return
    rate = rate_slider(top)
    served = genmodel.serve(**kw, request_rate=rate)
    pct = f"P{served.settings['percentile'] * 100:g}"
    if not served.metrics["stable"]:
        st.warning(f"{rate:,.3g} requests/s is at or beyond saturation: queues grow without bound.")
    serving_figures(served, pct)
    lines = [line.strip() for line in served_band_lines(served.to_dict())]  # the CLI's lines, as sentences
    st.caption(" ".join(f"{line[:1].upper()}{line[1:]}." for line in lines))
    realism_caption(served.realism)
    curves = charts.load_curves(kw, top)
    st.plotly_chart(charts.serving_latency_figure(curves, top, rate, kw["ttft_target_s"], kw["tpot_target_s"],
                                                  served.settings["percentile"]), width="stretch")
    st.plotly_chart(charts.goodput_figure(curves, top, rate), width="stretch")
    download(curves, "serving-load", "dl-serving")
    st.subheader(f"Effect of chunk size, prefix hits and speculation at {rate:,.3g} requests/s")
    effects = charts.serving_effects(kw, rate, **spec)
    shown = effects.assign(**{c: np.where(np.isfinite(effects[c]), effects[c], np.nan)
                              for c in ("ttft_p99_s", "tpot_p99_s")})
    show_table(shown)
    st.caption(f"Each row is one serve call at the chosen rate; 'Meets targets' at {pct}. An empty latency is "
               "unbounded: the rate exceeds that case's saturation.")


NO_USE_CASE = "none"
STATIC_LOAD, RATE_LOAD = "static batch", "request rate"
TTFT_RANGE_MS, TPOT_RANGE_MS = (1.0, 10_000.0), (0.5, 250.0)
COMPARE_DEFAULT = ("h100-sxm", "b200", "mi300x")
# the page's starting inputs, kept in the session state (a use case overwrites them; widgets take no default)
REQUIREMENT_DEFAULTS = {"rq-in": 1024, "rq-out": 256, "rq-ttft": 500.0, "rq-tpot": 30.0, "rq-load": STATIC_LOAD,
                        "rq-batch": 16, "rq-n": 1, "rq-rate": 5.0, "rq-pct": 99.0}


def apply_use_case() -> None:
    """On choosing a use case: its lengths, targets, load, percentile and samples per prompt become the inputs."""
    state = st.session_state
    name = state.get("rq-case")
    if name in (None, NO_USE_CASE):
        return
    case = genmodel.get_use_case(name)
    state["rq-in"], state["rq-out"] = round(case.input_tokens), round(case.output_tokens)
    state["rq-ttft"] = round(float(np.clip(case.ttft_target_s * 1e3, *TTFT_RANGE_MS)), 6)  # 175 ms, not 175.0...03
    state["rq-tpot"] = round(float(np.clip(case.tpot_target_s * 1e3, *TPOT_RANGE_MS)), 6)
    state["rq-pct"], state["rq-n"] = float(case.percentile * 100), int(case.samples_per_prompt)
    if case.mode == "rate":
        state["rq-load"], state["rq-rate"] = RATE_LOAD, float(case.request_rate_per_s)
    else:
        state["rq-load"], state["rq-batch"] = STATIC_LOAD, int(case.batch or 1)


def requirements_inputs() -> tuple[dict, list[str]]:
    """Widgets of the Requirements page: (genmodel.requirements keyword arguments without ``compare``, the
    compared devices)."""
    for key, start in REQUIREMENT_DEFAULTS.items():
        st.session_state.setdefault(key, start)
    models = model_table()
    _, devices, platforms = databases()
    names_m, names_r, cases = sorted(models), sorted({**devices, **platforms}), genmodel.all_use_cases()
    c = st.columns(3)
    model = c[0].selectbox("Model", names_m, index=index_of(names_m, "llama-3.1-70b"), key="rq-model")
    case = c[1].selectbox("Use case", [NO_USE_CASE, *sorted(cases)], key="rq-case", on_change=apply_use_case,
                          format_func=lambda n: "none: the inputs below" if n == NO_USE_CASE
                          else f"{n}: {cases[n].display_name}",
                          help="Sets the lengths, targets, load and percentile below from the use case "
                               "(genmodel use-cases); change any of them afterwards.")
    reference = c[2].selectbox("Reference device", names_r, index=index_of(names_r, "h200-sxm"), key="rq-ref",
                               help="Its efficiencies, overheads and engine make the realistic floors; the scaled "
                                    "reference multiplies its resources")
    c = st.columns(4)
    kw: dict[str, Any] = {"model": models[model], "use_case": None if case == NO_USE_CASE else case,
                          "reference": reference}
    kw["input_tokens"] = int(c[0].number_input("Input tokens", 1, 1 << 22, step=128, key="rq-in"))
    kw["output_tokens"] = int(c[1].number_input("Output tokens", 1, 1 << 20, step=32, key="rq-out"))
    kw["ttft_target_s"] = c[2].slider("TTFT target (ms)", *TTFT_RANGE_MS, step=5.0, key="rq-ttft") / 1e3
    kw["tpot_target_s"] = c[3].slider("TPOT target (ms)", *TPOT_RANGE_MS, step=0.5, key="rq-tpot") / 1e3
    c = st.columns(4)
    load = c[0].radio("Load", [STATIC_LOAD, RATE_LOAD], horizontal=True, key="rq-load")
    if load == STATIC_LOAD:
        kw["batch"] = int(c[1].number_input("Batch (sequences per replica)", 1, 1 << 16, key="rq-batch"))
        kw["samples_per_prompt"] = int(c[2].number_input("Samples per prompt", 1, 1024, key="rq-n",
                                                         help="Parallel sampling or beam width: one prefill, "
                                                              "the prompt's KV cache held once"))
    else:
        kw["request_rate"] = c[1].number_input("Request rate (requests/s)", 0.001, 1e6, key="rq-rate")
        kw["percentile"] = c[2].number_input("Percentile the targets apply to", 10.0, 99.9, key="rq-pct")
    kw["engine"] = engine_box("rq-engine", c[3])
    c = st.columns(5)
    kw["tp"] = int(c[0].number_input("TP", 1, 4096, 8, key="rq-tp", help="Tensor-parallel degree"))
    kw["pp"] = int(c[1].number_input("PP", 1, 4096, 1, key="rq-pp", help="Pipeline-parallel stages"))
    kw["weight_dtype"] = pick(c[2].selectbox("Weight dtype", DTYPE_CHOICES, key="rq-wd"))
    kw["activation_dtype"] = pick(c[3].selectbox("Activation dtype", DTYPE_CHOICES, key="rq-ad"))
    kw["kv_dtype"] = pick(c[4].selectbox("KV dtype", DTYPE_CHOICES, key="rq-kd"))
    kw["calibrated"] = st.checkbox(CALIBRATED_LABEL, value=True, key="rq-calibrated", help=CALIBRATED_HELP)
    names_d = sorted(devices)
    compare = st.multiselect("Devices to place against the requirements", names_d, key="rq-compare",
                             default=[d for d in COMPARE_DEFAULT if d in devices])
    return kw, compare


def tflops(v: float) -> str:
    return f"{v / 1e12:,.4g} TFLOP/s" if np.isfinite(v) else "unbounded"


def gb_per_s(v: float) -> str:
    return f"{v / 1e9:,.4g} GB/s" if np.isfinite(v) else "unbounded"


def gigabytes(v: float) -> str:
    return f"{v / 1e9:,.4g} GB" if np.isfinite(v) else "unbounded"


def microseconds(v: float) -> str:
    return f"{v * 1e6:,.3g} µs" if np.isfinite(v) else "any"


# binding resource -> (library key, label, format); the latency ceiling is never the binding resource
REQUIREMENT_METRICS = (("flops", "flops_per_s", "Peak FLOP/s", tflops),
                       ("bandwidth", "memory_bandwidth_bytes_per_s", "Memory bandwidth", gb_per_s),
                       ("capacity", "memory_capacity_bytes", "Memory capacity", gigabytes),
                       ("interconnect", "interconnect_bandwidth_bytes_per_s", "Interconnect bandwidth", gb_per_s),
                       (None, "interconnect_latency_s", "Interconnect latency (at most)", microseconds))
BINDING_WORDS = {"flops": "peak FLOP/s", "bandwidth": "memory bandwidth", "capacity": "memory capacity",
                 "interconnect": "interconnect bandwidth"}


def requirement_figures(result) -> None:
    """The realistic floors per device as metrics (the binding one bordered and marked 'binding'), the ideal and
    whole-system figures beneath, then the scaled reference and the floor no hardware beats."""
    binding = str(result.binding)
    one = result.devices == 1
    cols = st.columns(len(REQUIREMENT_METRICS))
    for col, (resource, key, label, show) in zip(cols, REQUIREMENT_METRICS, strict=True):
        value, ideal, system = (float(d[key]) for d in (result.realistic, result.ideal, result.system))
        if resource == "flops":
            label = f"{label} ({result.settings['compute_dtype']})"
        if one and resource in (None, "interconnect"):
            col.metric(label, "not needed", help="one device: no collectives")
            continue
        marked = resource == binding
        col.metric(label, show(value), "binding" if marked else None, delta_color="inverse", delta_arrow="off",
                   border=marked, help="per device, the reference's efficiencies, the others unlimited")
        col.caption(f"ideal {show(ideal)}" + ("" if resource is None else f"; whole system {show(system)}"))
    scaled, unbeat = result.scaled, result.unbeatable
    alone = ", ".join(f"{BINDING_WORDS[r]} {float(v):,.3g}x" if np.isfinite(float(v)) else
                      f"{BINDING_WORDS[r]} cannot (the others bind)"
                      for r, v in scaled["alone"].items() if not (one and r == "interconnect"))
    k = st.columns(4)
    k[0].metric("Binding", BINDING_WORDS[binding], help="the resource whose floor asks most of the reference")
    k[1].metric("Scaled reference", f"{result.reference} x {float(scaled['scale_factor']):,.3g}",
                help="every resource of the reference multiplied by this meets every target and holds the footprint")
    k[2].metric("Floor no hardware beats", f"TTFT {float(unbeat['ttft_s']) * 1e3:,.3g} ms",
                f"TPOT {float(unbeat['tpot_s']) * 1e3:,.3g} ms", delta_color="off", delta_arrow="off",
                help="kernel launches, per-step engine cost and collective latency on this layout")
    k[3].metric("Devices", f"{result.devices:,}", help=f"scale-up domain of "
                f"{result.settings['scale_up_domain_devices']:,} devices")
    spans = [f"{label.lower()} {show(float(result.realistic[f'{key}_low']))} to "
             f"{show(float(result.realistic[f'{key}_high']))}" for resource, key, label, show in REQUIREMENT_METRICS
             if f"{key}_low" in result.realistic and not (one and resource == "interconnect")]
    if spans:
        served = result.settings.get("request_rate_per_s") is not None
        st.caption(f"80% band of the realistic floors (the reference's held-out {'served ' if served else ''}errors; "
                   f"{result.settings['band_basis']}): " + "; ".join(spans) + ". Scaled reference "
                   f"{float(scaled['scale_factor_low']):,.3g}-{float(scaled['scale_factor_high']):,.3g}x.")
    st.caption(f"Scaled reference: time {float(scaled['time_factor']):,.3g}x, capacity "
               f"{float(scaled['capacity_factor']):,.3g}x. Each resource alone, the others at the reference: "
               f"{alone}. Floors: each resource's minimum with the others unlimited (necessary, not sufficient); "
               f"realistic = {result.settings['realistic_basis']}; ideal = 100% of peak, no overheads "
               "(docs/requirements.md).")


def page_requirements() -> None:
    st.header("Requirements")
    st.caption("What each device must provide for the model to meet the targets on this layout, and which resource "
               "binds (genmodel requirements, docs/requirements.md): the forward model inverted.")
    kw, compare = requirements_inputs()
    with st.spinner("Inverting the forward model..."):
        result = genmodel.requirements(**kw, compare=compare)
    requirement_figures(result)
    summary = charts.requirements_table(result)
    download(summary, "requirements", "dl-requirements")
    devices = charts.device_resources(compare, result.settings["compute_dtype"]) if compare else None
    if compare:
        st.subheader("Real devices against the requirements")
        table = charts.requirements_compare(result)
        ratios = [c for c in table.columns if c.endswith("_ratio")]
        show_table(table.assign(**{c: np.where(np.isfinite(table[c]), table[c], np.nan) for c in ratios}))
        st.caption("Available / required: each device's own figure over the realistic floor (above 1: enough, "
                   "empty: nothing required). 'Meets every target' runs each device forward with its own "
                   "efficiencies on the same layout.")
        download(table, "requirements-devices", "dl-requirements-devices")
    st.subheader("FLOP/s and bandwidth that just meet the targets")
    pairs = frontier(result, "flops", "bandwidth")
    keep = np.isfinite(pairs["memory_bandwidth_bytes_per_s"])  # FLOP/s too close to its floor meet nothing
    pairs = {k: v[keep] for k, v in pairs.items()}
    st.plotly_chart(charts.requirements_frontier_figure(result, pairs), width="stretch")
    download(Table(pairs), "requirements-frontier", "dl-requirements-frontier")
    st.subheader("Requirements against the targets, context, batch and tensor parallelism")
    with st.spinner("Solving over the targets, the context and batch grid and the TP degrees..."):
        sweeps = {target: charts.requirement_vs_target(kw, target) for target in ("tpot", "ttft")}
        capacity = charts.capacity_vs_context(kw)
        links = charts.interconnect_vs_tp(kw)
    c1, c2 = st.columns(2)
    for col, target in ((c1, "tpot"), (c2, "ttft")):
        sweep = sweeps[target]
        col.plotly_chart(charts.requirement_vs_target_figure(sweep, target, devices, kw[f"{target}_target_s"]),
                         width="stretch")
        with col:
            download(sweep, f"requirements-vs-{target}", f"dl-requirements-{target}")
    st.caption("Each curve is one requirements call over an array of targets, the other target held at its value: "
               "where a curve flattens the other target binds that resource; a gap is a target no hardware meets "
               "on this layout.")
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.capacity_vs_context_figure(capacity, devices), width="stretch")
    with c1:
        download(capacity, "requirements-capacity", "dl-requirements-capacity")
    c2.plotly_chart(charts.interconnect_vs_tp_figure(links, devices), width="stretch")
    with c2:
        download(links, "requirements-interconnect", "dl-requirements-interconnect")
    st.caption("Capacity: static batches of the chosen lengths, whatever the load; the dotted curves are the "
               "footprint itself (all of a device usable, no runtime reserve). Interconnect: one requirements call "
               "per tensor-parallel degree; on one device no link is needed.")


def page_custom() -> None:
    st.header("Custom hardware / model")
    kind = st.radio("Kind", ["hardware", "model"], horizontal=True, key="cu-kind")
    table = hardware_table() if kind == "hardware" else model_table()
    base = st.selectbox("Start from", sorted(table), key="cu-base")
    template = yaml.safe_dump(table[base].model_dump(mode="json", exclude_none=True), sort_keys=False)
    text = st.text_area("Spec (YAML or JSON)", template, height=420, key=f"cu-text-{kind}-{base}")
    if st.button("Validate and use", key="cu-go"):
        cls = HardwareSpec if kind == "hardware" else ModelSpec
        try:
            data = yaml.safe_load(text)
            spec = cls.model_validate(data)
        except yaml.YAMLError as exc:
            st.error(f"not valid YAML/JSON: {exc}")
            return
        except GenmodelError as exc:  # a spec that fails validation: one message per field
            for loc, message in getattr(exc, "problems", [("(entry)", str(exc))]):
                st.error(f"{loc}: {message}")
            return
        custom()["hardware" if kind == "hardware" else "models"][spec.name] = spec
        st.success(f"{spec.name} is now available on every page for this session.")
        st.download_button("Download as a data file", yaml.safe_dump(json.loads(spec.model_dump_json(
            exclude_none=True)), sort_keys=False), file_name=f"{spec.name}.yaml", key="cu-dl")


def main() -> None:
    st.set_page_config(page_title="genmodel", layout="wide")
    st.title("genmodel: LLM inference what-if")
    page = st.sidebar.radio("Page", PAGES, key="page")
    st.sidebar.caption("Latency, memory, energy and cost from first principles. Docs: docs/formulas.md")
    try:
        {"Estimate": page_estimate, "Compare": page_compare, "What-if": page_what_if, "Planner": page_planner,
         "Serving": page_serving, "Requirements": page_requirements, "Custom hardware / model": page_custom}[page]()
    except GenmodelError as exc:  # input the library refuses: one readable message, never a traceback
        st.error(str(exc))


if __name__ == "__main__":  # streamlit runs the script as __main__
    main()
