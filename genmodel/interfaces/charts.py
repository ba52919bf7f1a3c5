"""Plotly figures of estimates: roofline, latency and memory breakdowns, sweeps, sensitivity, comparisons, and
served traffic against load.

Contract
--------
Each function takes library results (``Estimate``, ``Table`` objects from ``compare``/``plan``; a pandas
DataFrame is accepted too) and returns a ``plotly.graph_objects.Figure`` with titled axes that state their units
and a legend outside the plot area (to the right, or above when the right side carries an axis). No formula is
evaluated here that the library does not already compute: curves and sensitivities call ``genmodel.estimate``
(vectorized) with the configuration and the realism factors of the estimate they start from; the serving curves
call ``genmodel.serve`` once with an array of request rates, and ``serving_effects`` calls it once per case.
``sweep``, ``sensitivity``, ``load_curves`` and ``serving_effects`` return ``Table`` objects in SI units. pandas
is not needed. The dashboard
(``genmodel/interfaces/dashboard.py``) lays these out; notebooks can call them directly.
"""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from genmodel.engine.estimate import Estimate, estimate
from genmodel.engine.parallel import MAX_DEGREE
from genmodel.engine.realism import FACTORS
from genmodel.errors import ConfigurationError, InputTypeError
from genmodel.serving.serve import serve
from genmodel.specs.checks import MAX_BATCH, MAX_TOKENS, choice, latency_target, positive, request_rate, scalar, whole
from genmodel.specs.checks import names as _names
from genmodel.specs.dtypes import normalize_dtype
from genmodel.specs.hardware import Efficiency
from genmodel.specs.units import format_quantity
from genmodel.table import Table

PHASE_COLORS = {"prefill": "#1f77b4", "decode": "#d62728"}
TIER_DASHES = ("solid", "dot", "dashdot", "longdash", "longdashdot")
ORIGIN_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")
LEGEND_RIGHT = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1.0, "yanchor": "top"}
LEGEND_ABOVE = {"orientation": "h", "x": 0.0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"}


MAX_POINTS = 1024  # points of one curve (memory and time stay bounded; a chart shows far fewer)


def _points(value: Any, name: str = "points") -> int:
    """A curve's number of points: a whole number from 1 to ``MAX_POINTS``."""
    return int(scalar(name, whole(name, value, 1, MAX_POINTS)))


def _counts(name: str, value: Any, maximum: float) -> np.ndarray:
    """Whole numbers from 1 to ``maximum`` (batches, lengths, degrees) as a flat int64 array."""
    return whole(name, value, 1, maximum).astype(np.int64).reshape(-1)


def _result(value: Any) -> Estimate:
    if not isinstance(value, Estimate):
        raise InputTypeError(f"result must be an Estimate (genmodel.estimate's result), got {type(value).__name__}",
                             "result")
    return value


def _keywords(name: str, value: Any, function: Any, set_here: tuple[str, ...]) -> dict[str, Any]:
    """``value`` checked as keyword arguments of ``function``: a mapping of its parameter names, without those
    this helper sets itself (``set_here``)."""
    if not isinstance(value, dict):
        raise InputTypeError(f"{name} must be a mapping of {function.__name__}'s keyword arguments, got "
                             f"{type(value).__name__}", name)
    known = inspect.signature(function).parameters
    for key in value:
        if not isinstance(key, str) or key not in known:
            raise ConfigurationError(f"{name}: {str(key)[:40]!r} is not an argument of {function.__name__}", name)
        if key in set_here:
            raise ConfigurationError(f"{name}: leave {key} out; this chart sets it", name)
    return value


def _style(fig: go.Figure, title: str, legend: dict | None = None, **layout: Any) -> go.Figure:
    """Common layout: white template, title top left, the legend outside the axes."""
    fig.update_layout(title={"text": title, "x": 0.0, "xanchor": "left", "y": 0.98, "yanchor": "top"},
                      template="plotly_white", legend=legend or LEGEND_RIGHT,
                      margin={"t": 110 if legend is LEGEND_ABOVE else 70}, **layout)
    return fig


def _table(frame: Any) -> Table:
    """A ``Table`` of ``frame`` (a Table already, or anything with columns such as a pandas DataFrame)."""
    if isinstance(frame, Table):
        return frame
    return Table({str(c): np.asarray(frame[c]) for c in frame.columns})


def _scalar(value: Any) -> float:
    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def _inputs(result: Estimate) -> dict[str, Any]:
    return {k: np.asarray(v).reshape(-1)[0].item() for k, v in result.inputs.items()}


def _rerun(result: Estimate, **changes: Any) -> Estimate:
    """``result``'s configuration (hardware, datatypes, parallelism, scales, realism factors, costs) estimated
    again with ``changes`` (batch, input_tokens, or any scale; arrays broadcast)."""
    i = _inputs(result)
    kw: dict[str, Any] = {k: i[k] for k in ("batch", "input_tokens", "output_tokens", "flops_scale",
                                             "bandwidth_scale", "capacity_scale", "interconnect_scale")}
    kw.update(changes)
    realism = Efficiency(**{f: getattr(result.realism, f) for f in FACTORS})  # the same factors, whatever origin
    return estimate(result.model, result.platform or result.hardware, weight_dtype=result.dtypes.weight,
                    kv_dtype=result.dtypes.kv, activation_dtype=result.dtypes.activation,
                    embedding_dtype=result.dtypes.embedding, parallel=replace(result.parallel), check_fit=False,
                    costs=result.costs, efficiency=realism, cooling_w_per_w=i.get("cooling_w_per_w"), **kw)


def roofline_data(result: Estimate) -> Table:
    """Per operator (both phases): arithmetic intensity (FLOP/B) and attained FLOP/s, with its time."""
    bd = result.breakdown()
    moved = bd["weight_bytes"] + bd["kv_bytes"] + bd["activation_bytes"]
    keep = (bd["flops"] > 0) & (moved > 0) & (bd["time_s"] > 0)
    bd, moved = bd[keep], moved[keep]
    return bd.assign(bytes_moved=moved, intensity_flop_per_byte=bd["flops"] / moved,
                     attained_flops_per_s=bd["flops"] / bd["time_s"])


def roofline_figure(result: Estimate) -> go.Figure:
    """Log-log roofline of the device for the matrix-math datatype: the compute roof, one bandwidth roof per
    memory tier (role 'memory'), the achievable roof (realism factors, fastest tier) and every operator as a
    point sized by its time."""
    hw, dtype = result.hardware, result.dtypes.gemm
    data = roofline_data(result)
    peak = hw.peak_flops_per_s[dtype] * _scalar(result.inputs["flops_scale"])
    scale_bw = _scalar(result.inputs["bandwidth_scale"])
    tiers = [(t.name, t.bandwidth_bytes_per_s * scale_bw) for t in hw.memory]
    intensity = data["intensity_flop_per_byte"]
    ridge = max(peak / bw for _, bw in tiers)
    lo = max(min(float(intensity.min()) / 3, 0.1), 1e-3) if len(data) else 0.1
    hi = max(float(intensity.max()) * 3 if len(data) else 1e4, 3 * ridge)
    x = np.geomspace(lo, hi, 200)
    fig = go.Figure()
    first_ridge = min(peak / bw for _, bw in tiers)
    fig.add_trace(go.Scatter(x=[first_ridge, hi], y=[peak, peak], mode="lines", line={"color": "black", "width": 3},
                             name=f"compute roof: {dtype} peak {format_quantity(peak, 'FLOP/s')}"))
    for k, (name, bw) in enumerate(tiers):  # each tier's bandwidth roof up to its ridge point
        slope = np.append(x[x < peak / bw], peak / bw)
        fig.add_trace(go.Scatter(x=slope, y=slope * bw, mode="lines",
                                 line={"color": "black", "dash": TIER_DASHES[k % len(TIER_DASHES)], "width": 1.5},
                                 name=f"memory roof: {name} {format_quantity(bw, 'B/s')}"))
    eff = result.realism
    fig.add_trace(go.Scatter(x=x, y=np.minimum(peak * eff.compute_efficiency, x * tiers[0][1] * eff.memory_efficiency),
                             mode="lines", line={"color": "gray", "dash": "dash"},
                             name=f"achievable roof ({eff.compute_efficiency:.0%} of peak, "
                                  f"{eff.memory_efficiency:.0%} of {tiers[0][0]})"))
    top = float(data["time_s"].max()) if len(data) else 1.0
    for phase in dict.fromkeys(data["phase"]):
        part = data[data["phase"] == phase]
        fig.add_trace(go.Scatter(
            x=part["intensity_flop_per_byte"], y=part["attained_flops_per_s"], mode="markers",
            name=f"{phase} operators",
            marker={"size": 6 + 30 * np.sqrt(part["time_s"] / top), "color": PHASE_COLORS.get(str(phase)),
                    "opacity": 0.7},
            text=[f"{r.operator} ({r.group})<br>{r.time_s * 1e3:.3f} ms, {r.bound}-bound" for r in part.rows()],
            hovertemplate="%{text}<br>%{x:.3g} FLOP/B, %{y:.3g} FLOP/s<extra></extra>"))
    fig.update_xaxes(type="log", title="arithmetic intensity (FLOP/byte)")
    fig.update_yaxes(type="log", title="attained throughput (FLOP/s)")
    where = result.platform.name if result.platform is not None else hw.name
    return _style(fig, f"Roofline: {result.model.name} on {where}")


def latency_by_kind(result: Estimate) -> Table:
    """Time (s) per phase and kind from ``breakdown()``: operators, 'communication' and 'overhead'; the rows
    of a phase sum to TTFT (prefill) and to the mean TPOT (decode)."""
    bd = result.breakdown()
    rows = {"phase": [], "kind": [], "time_s": []}
    for phase in ("prefill", "decode"):
        for kind in dict.fromkeys(bd["kind"]):
            pick = (bd["phase"] == phase) & (bd["kind"] == kind)
            if pick.any():
                rows["phase"].append(phase)
                rows["kind"].append(str(kind))
                rows["time_s"].append(float(bd["time_s"][pick].sum()))
    return Table(rows)


def latency_breakdown_figure(result: Estimate) -> go.Figure:
    """Stacked bars (ms): time by kind (operator kinds, communication, step overhead) of the prefill step and
    of one mean decode step; each bar sums to TTFT and to the mean TPOT."""
    data = latency_by_kind(result)
    totals = {"prefill": result.ttft_s, "decode": result.tpot_s}
    labels = {"prefill": f"prefill: TTFT {totals['prefill'] * 1e3:,.3g} ms",
              "decode": f"decode step: TPOT {totals['decode'] * 1e3:,.3g} ms"}
    phases = [p for p in ("prefill", "decode") if (data["phase"] == p).any()]
    fig = go.Figure()
    for kind in dict.fromkeys(data["kind"]):
        y = [float(data["time_s"][(data["phase"] == p) & (data["kind"] == kind)].sum()) * 1e3 for p in phases]
        fig.add_trace(go.Bar(name=str(kind), x=[labels[p] for p in phases], y=y,
                             hovertemplate="%{y:.4g} ms<extra>" + str(kind) + "</extra>"))
    return _style(fig, "Latency by kind (each bar sums to TTFT / mean TPOT)", barmode="stack",
                  yaxis_title="time per device (ms)", xaxis_title="phase")


def memory_figure(result: Estimate) -> go.Figure:
    """Stacked bar of weights, KV cache and activations per device (GB) against the physical capacity and the
    usable capacity (physical x usable fraction - runtime reservation)."""
    d = result.to_dict()
    fig = go.Figure()
    for key, name in (("weights_bytes", "weights"), ("kv_cache_bytes", "KV cache"),
                      ("activation_peak_bytes", "activations (peak)")):
        fig.add_trace(go.Bar(name=name, x=["memory per device"], y=[d[key] / 1e9],
                             hovertemplate="%{y:,.2f} GB<extra>" + name + "</extra>"))
    physical, usable = d["device_memory_bytes"] / 1e9, d["memory_capacity_bytes"] / 1e9
    r = result.realism
    fig.add_hline(y=physical, line_color="black", annotation_position="top left",
                  annotation_text=f"physical {physical:,.1f} GB")
    fig.add_hline(y=usable, line_dash="dash", line_color="crimson", annotation_position="bottom left",
                  annotation_text=f"usable {usable:,.1f} GB = {r.usable_memory_fraction:.0%} x physical - "
                                  f"{r.runtime_reserved_bytes / 1e9:,.2f} GB runtime")
    fig.update_yaxes(rangemode="tozero")
    return _style(fig, "Memory per device", barmode="stack", yaxis_title="memory (GB)")


def context_values(result: Estimate, points: int = 11, start: int = 128) -> np.ndarray:
    """Prompt lengths for a context sweep: ``start`` to the model's maximum context less the output tokens
    (``points``: 1 to ``MAX_POINTS``; ``start``: a whole number of tokens, at least 1)."""
    result = _result(result)
    points = _points(points)
    start = int(scalar("start", whole("start", start, 1, MAX_TOKENS)))
    cap = int(result.model.max_context_tokens) - int(_inputs(result)["output_tokens"])
    if cap < 1:
        return np.array([], dtype=int)
    return np.unique(np.geomspace(min(start, cap), cap, points).astype(int))


def sweep(result: Estimate, axis: str, values) -> Table:
    """Re-run ``result``'s configuration with ``axis`` ('batch' or 'input_tokens') set to each of ``values``.
    Prompt lengths beyond the model's maximum context (with the output tokens) are left out."""
    result = _result(result)
    choice("axis", axis, ("batch", "input_tokens"))
    values = _counts(axis, values, MAX_BATCH if axis == "batch" else MAX_TOKENS)
    if axis == "input_tokens":
        output, most = int(_inputs(result)["output_tokens"]), int(result.model.max_context_tokens)
        values = values[values + output <= most]
        if not values.size:
            raise ConfigurationError(f"input_tokens: every prompt length plus the {output:,} output tokens exceeds "
                                     f"the {most:,}-token context of {result.model.name}; give shorter ones",
                                     "input_tokens")
    m = _rerun(result, **{axis: values}).metrics
    return Table({axis: values, **{k: np.broadcast_to(m[k], values.shape) for k in (
        "ttft_s", "tpot_s", "output_tokens_per_s", "total_memory_bytes", "memory_capacity_bytes", "fits")}})


def sweep_figure(frame: Any, axis: str) -> go.Figure:
    """TPOT and TTFT (ms, left) and output throughput (tokens/s, right) against batch or context; points
    that do not fit in memory are marked with a red cross."""
    frame = _table(frame)
    label = {"batch": "batch size (sequences per replica)", "input_tokens": "prompt length (tokens)"}[axis]
    x = frame[axis]
    curves = (("TPOT (ms)", frame["tpot_s"] * 1e3, "y"), ("TTFT (ms)", frame["ttft_s"] * 1e3, "y"),
              ("output tokens/s", frame["output_tokens_per_s"], "y2"))
    fig = go.Figure()
    for name, y, axis_ref in curves:
        fig.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines+markers", yaxis=axis_ref))
    over = ~np.asarray(frame["fits"], dtype=bool)
    if over.any():
        for k, (_, y, axis_ref) in enumerate(curves):
            fig.add_trace(go.Scatter(x=x[over], y=np.asarray(y)[over], yaxis=axis_ref, mode="markers",
                                     name="does not fit in memory", legendgroup="over", showlegend=k == 0,
                                     marker={"symbol": "x", "size": 12, "color": "red"},
                                     hovertemplate="does not fit<extra></extra>"))
    return _style(fig, f"Latency and throughput against {label}", LEGEND_ABOVE,
                  xaxis={"title": label, "type": "log"}, yaxis={"title": "latency (ms)", "type": "log"},
                  yaxis2={"title": "output throughput (tokens/s)", "overlaying": "y", "side": "right",
                          "tickmode": "auto", "showgrid": False, "rangemode": "tozero"})


KNOBS = {"flops_scale": "peak FLOP/s", "bandwidth_scale": "memory bandwidth", "capacity_scale": "memory capacity",
         "interconnect_scale": "interconnect bandwidth"}


def sensitivity(result: Estimate, metric: str = "tpot_s", change: float = 0.2) -> Table:
    """Relative change of ``metric`` when each hardware knob moves by -change and +change (one at a time,
    from ``result``'s own scales), smallest span first."""
    result = _result(result)
    numeric = tuple(k for k, v in result.metrics.items() if np.asarray(v).dtype.kind == "f")
    choice("metric", metric, numeric)
    change = float(scalar("change", positive("change", change)))
    if change >= 1:
        raise ConfigurationError(f"change must be below 1 (a knob moved down by it must stay positive), got "
                                 f"{change:g}", "change")
    inputs = _inputs(result)
    base = _scalar(result.metrics[metric])
    rows = []
    for knob, label in KNOBS.items():
        factors = np.array([1 - change, 1 + change]) * inputs[knob]
        if knob == "interconnect_scale":  # a single number per call in the library
            values = np.array([_scalar(_rerun(result, **{knob: float(f)}).metrics[metric]) for f in factors])
        else:
            values = np.asarray(_rerun(result, **{knob: factors}).metrics[metric], dtype=float).reshape(-1)
        out = values / base - 1 if base else np.zeros(2)
        rows.append((label, float(out[0]), float(out[1])))
    table = Table({"knob": [r[0] for r in rows], "minus": [r[1] for r in rows], "plus": [r[2] for r in rows]})
    return table.assign(span=np.abs(table["plus"] - table["minus"])).sort("span")


def tornado_figure(frame: Any, metric_label: str, change: float = 0.2) -> go.Figure:
    """Horizontal bars: % change of the metric for each knob at -change and +change, biggest on top."""
    frame = _table(frame)
    fig = go.Figure()
    fig.add_trace(go.Bar(y=frame["knob"], x=frame["minus"] * 100, orientation="h", name=f"knob -{change:.0%}"))
    fig.add_trace(go.Bar(y=frame["knob"], x=frame["plus"] * 100, orientation="h", name=f"knob +{change:.0%}"))
    return _style(fig, f"Sensitivity of {metric_label} to hardware knobs", barmode="overlay",
                  xaxis_title=f"change of {metric_label} (%)", yaxis_title="hardware knob")


def _error_bars(part: Table, column: str) -> dict[str, Any]:
    """Plotly ``error_y`` from the 80% band columns ``<column>_low`` and ``<column>_high`` (none where not finite)."""
    y = np.asarray(part[column], dtype=float)
    up, down = np.asarray(part[f"{column}_high"], dtype=float) - y, y - np.asarray(part[f"{column}_low"], dtype=float)
    up, down = (np.where(np.isfinite(e), e, np.nan) for e in (up, down))
    return {"type": "data", "symmetric": False, "array": up, "arrayminus": down, "color": "black", "thickness": 1}


def compare_figure(table: Any, column: str, title: str, unit: str, band: bool = False) -> go.Figure:
    """Bar chart of one column of a comparison table (hardware or model on the x axis), coloured by the origin
    of the realism factors of each row; with ``band``, error bars span the 80% band (columns ``<column>_low``
    and ``<column>_high``)."""
    table = _table(table)
    label = "model" if "model" in table else "hardware"
    origins = table["realism_origin"] if "realism_origin" in table else np.full(len(table), "")
    fig = go.Figure()
    for k, origin in enumerate(dict.fromkeys(origins)):
        part = table[origins == origin]
        fig.add_trace(go.Bar(x=part[label], y=part[column], name=f"realism: {origin}" if origin else column,
                             marker={"color": ORIGIN_COLORS[k % len(ORIGIN_COLORS)]},
                             error_y=_error_bars(part, column) if band else None))
    fig.update_xaxes(categoryorder="array", categoryarray=list(table[label]))  # the table's ranking
    return _style(fig, title, LEGEND_ABOVE, xaxis_title=label, yaxis_title=unit, showlegend=True)


def pareto_figure(space: Any, ranked: Any, pareto: Any, title: str) -> go.Figure:
    """Every fitting configuration, those meeting the SLO, and the Pareto front (per device vs per user)."""
    space, ranked, pareto = _table(space), _table(ranked), _table(pareto)

    def labels(frame: Table) -> list[str]:
        return [f"tp{r.tp} pp{r.pp} ep{r.ep} cp{r.cp}{' adp' if r.attention_dp else ''} dp{r.dp} batch {r.batch}"
                for r in frame.rows()]

    fig = go.Figure()
    fits = space[np.asarray(space["fits"], dtype=bool)] if len(space) else space
    front = pareto.sort("tokens_per_s_per_user") if len(pareto) else pareto
    for frame, name, kind in ((fits, "fits", {"mode": "markers", "marker": {"color": "lightgray", "size": 5}}),
                              (ranked, "meets SLO", {"mode": "markers", "marker": {"color": "royalblue", "size": 7}}),
                              (front, "Pareto front", {"mode": "lines+markers", "line": {"color": "crimson"}})):
        if len(frame):
            fig.add_trace(go.Scatter(x=frame["tokens_per_s_per_user"], y=frame["output_tokens_per_s_per_device"],
                                     name=name, text=labels(frame), **kind))
    return _style(fig, title, xaxis_title="tokens/s per user (1 / TPOT)", yaxis_title="output tokens/s per device")


def validation_figure(records: Any, color_by: str = "kind") -> go.Figure:
    """Log-log predicted vs measured, one point per expressible row, coloured by ``color_by`` (a column of
    ``records``: 'kind', 'group' for the phase, or 'metric_class'); prefill rows are drawn as diamonds."""
    records = _table(records)
    fig = go.Figure()
    if "error_pct" in records and len(records):
        err = np.array([np.nan if v is None else v for v in records["error_pct"]], dtype=float)
        ok = records[np.isfinite(err)]
    else:
        ok = Table()
    for group in dict.fromkeys(ok[color_by] if len(ok) else []):
        part = ok[ok[color_by] == group]
        symbols = ["diamond" if g == "prefill" else "circle" for g in part["group"]]
        fig.add_trace(go.Scatter(x=part["measured"], y=part["predicted"], mode="markers", name=str(group),
                                 marker={"symbol": symbols, "size": 7, "opacity": 0.8},
                                 text=[f"{r.id} {r.metric} on {r.hardware}: {r.error_pct:+.1f}%" for r in part.rows()]))
    if len(ok):
        measured, predicted = ok["measured"].astype(float), ok["predicted"].astype(float)
        lo = float(min(measured.min(), predicted.min()))
        hi = float(max(measured.max(), predicted.max()))
        line = np.geomspace(lo, hi, 50)
        fig.add_trace(go.Scatter(x=line, y=line, mode="lines", name="exact", line={"color": "black"}))
        for factor, dash in ((1.25, "dash"), (0.75, "dash")):
            fig.add_trace(go.Scatter(x=line, y=line * factor, mode="lines", name=f"{factor - 1:+.0%}",
                                     line={"color": "gray", "dash": dash}))
    fig.update_xaxes(type="log", title="measured (row unit: ms, s, tokens/s or J/token)")
    fig.update_yaxes(type="log", title="predicted (same unit)")
    return _style(fig, "genmodel vs published measurements")


# ---- served traffic (genmodel.serve) ---------------------------------------------------------------------------
LOAD_COLUMNS = ("ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_mean_s", "tpot_p99_s", "goodput_requests_per_s",
                "max_goodput_rate_per_s", "max_request_rate_per_s", "utilization", "stable",
                "ttft_p50_s_low", "ttft_p50_s_high", "tpot_mean_s_low", "tpot_mean_s_high")
# vertical line -> (colour, dash, where its label goes)
RATE_LINES = {"saturation": ("black", "dash", "top left"), "chosen rate": ("crimson", "solid", "top left"),
              "largest rate meeting the targets": ("seagreen", "dot", "bottom left")}


def saturation_rate(serve_kw: dict[str, Any]) -> float:
    """Requests/s at which ``serve_kw``'s configuration saturates (one ``serve(..., request_rate='max')`` call)."""
    _keywords("serve_kw", serve_kw, serve, ("request_rate",))
    return _scalar(serve(**serve_kw, request_rate="max").metrics["max_request_rate_per_s"])


def load_curves(serve_kw: dict[str, Any], max_rate_per_s: float | None = None, points: int = 40,
                low: float = 0.05, high: float = 0.99) -> Table:
    """``serve_kw``'s configuration (``serve`` keyword arguments without the load) at ``points`` request rates from
    ``low`` to ``high`` times the saturation rate, in one vectorized ``serve`` call: the rate (requests/s) and the
    latency percentiles, goodput and utilization of each (SI). ``max_rate_per_s`` defaults to
    ``saturation_rate(serve_kw)``."""
    _keywords("serve_kw", serve_kw, serve, ("request_rate",))
    points = _points(points)
    low = float(scalar("low", positive("low", low, maximum=1.0)))
    high = float(scalar("high", positive("high", high, maximum=1.0)))
    if low > high:
        raise ConfigurationError(f"low ({low:g}) must be at most high ({high:g}) (shares of the saturation rate)",
                                 "low")
    if max_rate_per_s is not None:
        max_rate_per_s = float(scalar("max_rate_per_s", request_rate("max_rate_per_s", max_rate_per_s)))
    top = saturation_rate(serve_kw) if max_rate_per_s is None else max_rate_per_s
    rates = np.linspace(low, high, points) * top
    m = serve(**serve_kw, request_rate=rates).metrics
    return Table({"request_rate_per_s": rates, **{k: m[k] for k in LOAD_COLUMNS if k in m}})


def _ms(values: Any) -> np.ndarray:
    """Seconds as milliseconds, unbounded (infinite) values as gaps (NaN)."""
    v = np.asarray(values, dtype=float) * 1e3
    return np.where(np.isfinite(v), v, np.nan)


def _rate_lines(fig: go.Figure, lines: dict[str, float | None], label: bool = True, **where: Any) -> None:
    """Vertical lines (shapes named after their key) at the given request rates, labelled with the rate."""
    for name, x in lines.items():
        if x is None or not np.isfinite(x):
            continue
        color, dash, position = RATE_LINES[name]
        text = {"annotation_text": f"{name} {x:,.3g}/s", "annotation_position": position,
                "annotation_font_color": color} if label else {}
        fig.add_vline(x=float(x), name=name, line={"color": color, "dash": dash, "width": 1.5}, **text, **where)


def _target_line(fig: go.Figure, x_end: float, target_s: float | None, label: str, **where: Any) -> None:
    """A horizontal target line as a trace (exact on a log axis), from 0 to ``x_end`` requests/s."""
    if target_s is None:
        return
    fig.add_trace(go.Scatter(x=[0.0, x_end], y=[target_s * 1e3] * 2, mode="lines", name=label,
                             line={"color": "gray", "dash": "dash"}), **where)


def serving_latency_figure(curves: Any, max_rate_per_s: float, rate_per_s: float | None = None,
                           ttft_target_s: float | None = None, tpot_target_s: float | None = None,
                           percentile: float | None = None) -> go.Figure:
    """Two panels sharing the request-rate axis (requests/s): TTFT P50/P90/P99 (ms, log) above, TPOT mean and P99
    (ms, log) below, from ``load_curves``, with the 80% bands of TTFT P50 and TPOT mean shaded where ``curves`` has
    them; dashed target lines at ``percentile``, vertical lines at the saturation rate and at the chosen rate."""
    curves = _table(curves)
    x = curves["request_rate_per_s"]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("time to first token", "time per output token"))
    for key, row, color in (("ttft_p50_s", 1, "rgba(66,146,198,0.15)"), ("tpot_mean_s", 2, "rgba(165,15,21,0.12)")):
        if f"{key}_low" in curves.columns and np.isfinite(np.asarray(curves[f"{key}_high"], dtype=float)).any():
            label = f"80% band of {'TTFT P50' if row == 1 else 'TPOT mean'} (held-out served rows)"
            fig.add_trace(go.Scatter(x=x, y=_ms(curves[f"{key}_high"]), mode="lines", line={"width": 0},
                                     showlegend=False, hoverinfo="skip", name=label), row=row, col=1)
            fig.add_trace(go.Scatter(x=x, y=_ms(curves[f"{key}_low"]), mode="lines", line={"width": 0},
                                     fill="tonexty", fillcolor=color, name=label), row=row, col=1)
    for key, name, color in (("ttft_p50_s", "TTFT P50", "#9ecae1"), ("ttft_p90_s", "TTFT P90", "#4292c6"),
                             ("ttft_p99_s", "TTFT P99", "#08306b")):
        fig.add_trace(go.Scatter(x=x, y=_ms(curves[key]), name=name, mode="lines", line={"color": color}),
                      row=1, col=1)
    for key, name, color in (("tpot_mean_s", "TPOT mean", "#fc9272"), ("tpot_p99_s", "TPOT P99", "#a50f15")):
        fig.add_trace(go.Scatter(x=x, y=_ms(curves[key]), name=name, mode="lines", line={"color": color}),
                      row=2, col=1)
    at = f" at P{percentile * 100:g}" if percentile is not None else ""
    _target_line(fig, max_rate_per_s, ttft_target_s, f"TTFT target{at}", row=1, col=1)
    _target_line(fig, max_rate_per_s, tpot_target_s, f"TPOT target{at}", row=2, col=1)
    lines = {"saturation": max_rate_per_s, "chosen rate": rate_per_s}
    _rate_lines(fig, lines, row=1, col=1)
    _rate_lines(fig, lines, label=False, row=2, col=1)
    fig.update_yaxes(type="log", title="TTFT (ms)", row=1, col=1)
    fig.update_yaxes(type="log", title="TPOT (ms)", row=2, col=1)
    fig.update_xaxes(title="request rate (requests/s)", rangemode="tozero", row=2, col=1)
    return _style(fig, "Latency against load (closed-form queueing, docs/serving.md)", height=640)


def goodput_figure(curves: Any, max_rate_per_s: float, rate_per_s: float | None = None) -> go.Figure:
    """Goodput (requests/s meeting both targets) against the request rate, with the offered load for reference and
    vertical lines at the saturation rate, the chosen rate and the largest rate meeting the targets."""
    curves = _table(curves)
    x = curves["request_rate_per_s"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0.0, max_rate_per_s], y=[0.0, max_rate_per_s], mode="lines",
                             name="offered load (every request meets the targets)",
                             line={"color": "lightgray", "dash": "dash"}))
    fig.add_trace(go.Scatter(x=x, y=curves["goodput_requests_per_s"], mode="lines+markers", name="goodput",
                             line={"color": "#2ca02c"}))
    best = _scalar(curves["max_goodput_rate_per_s"]) if "max_goodput_rate_per_s" in curves and len(curves) else None
    _rate_lines(fig, {"saturation": max_rate_per_s, "chosen rate": rate_per_s,
                      "largest rate meeting the targets": best})
    fig.update_xaxes(rangemode="tozero")
    fig.update_yaxes(rangemode="tozero")
    return _style(fig, "Goodput against load (DistServe's definition)", xaxis_title="request rate (requests/s)",
                  yaxis_title="goodput (requests/s)")


EFFECT_COLUMNS = ("ttft_p99_s", "tpot_p99_s", "max_request_rate_per_s", "goodput_requests_per_s", "meets_slo")


def serving_effects(serve_kw: dict[str, Any], rate_per_s: float, spec_tokens: int = 3,
                    spec_acceptance: float = 0.7) -> Table:
    """The effect of chunk size, prefix hits and speculation at ``rate_per_s``: one ``serve`` call per case
    (baseline ``serve_kw``; chunk halved; chunk doubled, the token budget raised to hold it where needed; prefix
    hit 0.5, or 0 when the baseline has 0.5; speculation with ``spec_tokens`` and ``spec_acceptance`` (MTP heads)
    switched on, or off when the baseline has it). Columns: the case, its scheduler settings, TTFT and TPOT P99
    (s; infinite past the case's saturation), the saturation rate, goodput and ``meets_slo`` (with targets)."""
    _keywords("serve_kw", serve_kw, serve, ("request_rate",))
    rate_per_s = float(scalar("rate_per_s", request_rate("rate_per_s", rate_per_s)))
    base = serve(**serve_kw, request_rate=rate_per_s)
    chunk, budget = base.settings["chunk_tokens"], base.settings["max_batch_tokens"]
    hit = 0.0 if base.settings["prefix_hit"] == 0.5 else 0.5
    spec_off = {k: None for k in ("spec_tokens", "spec_acceptance", "spec_accepted_share", "spec_mean_length",
                                  "draft_model")}
    if base.settings["spec_tokens"] is None:
        spec = ({"spec_tokens": spec_tokens, "spec_acceptance": spec_acceptance},
                f"speculation on (k = {spec_tokens}, acceptance {spec_acceptance:g}, MTP heads)")
    else:
        spec = (spec_off, "speculation off")
    raised = f", token budget {2 * chunk:,}" if 2 * chunk > budget else ""
    cases = [("baseline", {}),
             (f"chunk {max(chunk // 2, 1):,} (half)", {"chunk_tokens": max(chunk // 2, 1)}),
             (f"chunk {2 * chunk:,} (double{raised})",
              {"chunk_tokens": 2 * chunk, "max_batch_tokens": max(budget, 2 * chunk)}),
             (f"prefix hit {hit:g}", {"prefix_hit": hit}),
             (spec[1], spec[0])]
    rows = []
    for label, change in cases:
        r = base if not change else serve(**{**serve_kw, **change}, request_rate=rate_per_s)
        rows.append({"case": label, "chunk_tokens": r.settings["chunk_tokens"],
                     "max_batch_tokens": r.settings["max_batch_tokens"], "prefix_hit": r.settings["prefix_hit"],
                     "spec_tokens": r.settings["spec_tokens"] or 0,
                     **{k: r.metrics[k].item() for k in EFFECT_COLUMNS if k in r.metrics}})
    return Table({k: [row[k] for row in rows] for k in rows[0]})


# ---- platform requirements (genmodel.search.requirements) ---------------------------------------------------------

def requirements_frontier_figure(result: Any, pairs: dict[str, np.ndarray]) -> go.Figure:
    """The FLOP/s-bandwidth pairs that just meet the targets (the interconnect at the reference), the floors of
    each, and the compared devices placed by their own peak FLOP/s and bandwidth (marked by whether they meet)."""
    from genmodel.data.registry import resolve_hardware
    from genmodel.search.requirements import KEYS, _resources

    x = np.asarray(pairs[KEYS["flops"]], dtype=float) / 1e12
    y = np.asarray(pairs[KEYS["bandwidth"]], dtype=float) / 1e9
    keep = np.isfinite(y)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x[keep], y=y[keep], mode="lines+markers", name="just meets the targets",
                             line={"color": "crimson"}))
    floor_f = float(np.asarray(result.realistic[KEYS["flops"]], dtype=float)) / 1e12
    floor_b = float(np.asarray(result.realistic[KEYS["bandwidth"]], dtype=float)) / 1e9
    fig.add_vline(x=floor_f, line={"dash": "dot", "color": "gray"}, annotation_text="FLOP/s floor")
    fig.add_hline(y=floor_b, line={"dash": "dot", "color": "gray"}, annotation_text="bandwidth floor")
    dtype = result.settings["compute_dtype"]
    for name, c in result.compare.items():
        hw, _ = resolve_hardware(name)
        have = _resources(hw, dtype)
        fig.add_trace(go.Scatter(x=[have["flops"] / 1e12], y=[have["bandwidth"] / 1e9], mode="markers+text",
                                 text=[name], textposition="top center", name=name,
                                 marker={"size": 11, "symbol": "circle" if bool(c["meets"]) else "x"}))
    return _style(fig, f"{result.model}: FLOP/s and bandwidth that meet the targets (per device)",
                  xaxis_title=f"peak FLOP/s per device ({dtype}), TFLOP/s", yaxis_title="memory bandwidth, GB/s",
                  xaxis_type="log", yaxis_type="log")


# ---- requirement trade-offs (genmodel.requirements with arrays of targets, lengths and batches) -----------------
# Each data function takes ``req_kw``: ``genmodel.requirements`` keyword arguments (model, lengths, targets, load,
# layout, datatypes, reference, ...), as the serving functions take ``serve_kw``; explicit values override a
# ``use_case`` in it, as in the library.
FLOOR_COLUMNS = ("flops_per_s", "memory_bandwidth_bytes_per_s", "memory_capacity_bytes",
                 "interconnect_bandwidth_bytes_per_s", "interconnect_latency_s")
# the resource each target sweep is drawn for: decode steps read memory, the prefill computes
TARGET_RESOURCE = {"tpot": "memory_bandwidth_bytes_per_s", "ttft": "flops_per_s"}
# SI column -> (what it is, unit shown, factor from SI)
RESOURCE_UNITS = {"flops_per_s": ("peak FLOP/s per device", "TFLOP/s", 1e-12),
                  "memory_bandwidth_bytes_per_s": ("memory bandwidth per device", "GB/s", 1e-9),
                  "memory_capacity_bytes": ("memory capacity per device", "GB", 1e-9),
                  "interconnect_bandwidth_bytes_per_s": ("interconnect bandwidth per direction", "GB/s", 1e-9),
                  "interconnect_latency_s": ("interconnect latency", "µs", 1e6)}
DEVICE_COLORS = ("#17becf", "#bcbd22", "#e377c2", "#7f7f7f", "#000000")  # apart from ORIGIN_COLORS (the batches)


def _requirement_value(req_kw: dict[str, Any], key: str) -> Any:
    """``req_kw[key]``, else its use case's field (None when neither gives it)."""
    if req_kw.get(key) is not None:
        return req_kw[key]
    if req_kw.get("use_case") is None:
        return None
    from genmodel.data.registry import get_use_case

    return getattr(get_use_case(req_kw["use_case"]), key, None)


def _requirement_keywords(req_kw: Any) -> None:
    from genmodel.search.requirements import requirements

    _keywords("req_kw", req_kw, requirements, ("compare",))


def _solve(req_kw: dict[str, Any], **changes: Any):
    from genmodel.search.requirements import requirements

    return requirements(**{**req_kw, "compare": (), **changes})


def _floor_columns(result: Any, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Every floor of ``result``, realistic and ``ideal_``, the binding resource, the scaled reference's factor and
    the times no hardware beats, broadcast to ``shape`` and flattened (one row per point)."""
    def flat(value: Any) -> np.ndarray:
        return np.broadcast_to(np.asarray(value), shape).reshape(-1)

    out = {k: flat(result.realistic[k]).astype(float) for k in FLOOR_COLUMNS}
    out.update({f"ideal_{k}": flat(result.ideal[k]).astype(float) for k in FLOOR_COLUMNS})
    out["binding"] = flat(result.binding).astype(str)
    out["scale_factor"] = flat(result.scaled["scale_factor"]).astype(float)
    out.update({f"unbeatable_{k}": flat(v).astype(float) for k, v in result.unbeatable.items()})
    return out


def requirement_vs_target(req_kw: dict[str, Any], target: str = "tpot", values: Any = None,
                          points: int = 25) -> Table:
    """The floors against a range of ``target`` ('tpot' or 'ttft') values, the other target held at ``req_kw``'s:
    ONE ``requirements`` call with an array of targets. ``values`` (s) default to 0.2 to 5 times ``req_kw``'s target
    (``points`` of them, log-spaced). Columns: ``<target>_target_s``, every floor realistic and ``ideal_`` (SI),
    ``binding``, ``scale_factor`` and the times no hardware beats; a target at or below those gives infinite floors
    (no hardware meets it on this layout)."""
    _requirement_keywords(req_kw)
    choice("target", target, tuple(TARGET_RESOURCE))
    points = _points(points)
    key = f"{target}_target_s"
    if values is None:
        chosen = _requirement_value(req_kw, key)
        if chosen is None:
            raise ConfigurationError(f"give {key} values, or a {key} to centre them on", key)
        values = float(chosen) * np.geomspace(0.2, 5.0, points)
    values = latency_target("values", values).reshape(-1)
    result = _solve(req_kw, **{key: values})
    return Table({key: values, **_floor_columns(result, values.shape)})


def capacity_vs_context(req_kw: dict[str, Any], input_tokens: Any = None, batches: Any = None,
                        points: int = 12) -> Table:
    """The memory-capacity floor per device against the prompt length for several static batches: ONE
    ``requirements`` call on the (input_tokens x batch) grid (a static batch even when ``req_kw`` has a request
    rate). ``input_tokens`` default to ``points`` log-spaced lengths from 128 to the model's maximum context less the
    output tokens; ``batches`` to 1, 8, 32, 128 and ``req_kw``'s batch. Columns: ``input_tokens``, ``batch``,
    ``memory_capacity_bytes`` (the bytes a device must report: the footprint plus the reference's runtime reserve,
    over its usable share) and ``ideal_memory_capacity_bytes`` (the footprint: weights, KV cache and activations per
    device, estimate's ``total_memory_bytes``)."""
    from genmodel.data.registry import get_model

    _requirement_keywords(req_kw)
    points = _points(points)
    if input_tokens is not None:
        input_tokens = _counts("input_tokens", input_tokens, MAX_TOKENS)
    if batches is not None:
        batches = _counts("batches", batches, MAX_BATCH)
    if input_tokens is None:
        output = round(float(_requirement_value(req_kw, "output_tokens") or 1))
        cap = int(get_model(req_kw["model"]).max_context_tokens) - output
        input_tokens = np.unique(np.geomspace(min(128, max(cap, 1)), max(cap, 1), points).astype(int))
    if batches is None:
        chosen = req_kw.get("batch")
        batches = sorted({1, 8, 32, 128} | ({int(chosen)} if chosen is not None else set()))
    lengths = np.asarray(input_tokens, dtype=int).reshape(-1)
    sizes = np.asarray(batches, dtype=int).reshape(-1)
    grid = (lengths.size, sizes.size)
    # the targets as arrays of the grid's shape: requirements broadcasts lengths and batches against arrays of
    # targets (scalar targets with array lengths are refused there); the capacity does not depend on them
    targets = {k: None if v is None else np.full(grid, float(v)) for k in ("ttft_target_s", "tpot_target_s")
               for v in [_requirement_value(req_kw, k)]}
    # a static batch: the rate and its percentile left out (requirements refuses a percentile without a rate)
    result = _solve(req_kw, input_tokens=lengths[:, None], batch=sizes[None, :], request_rate=None, percentile=None,
                    **targets)
    key = "memory_capacity_bytes"
    return Table({"input_tokens": np.repeat(lengths, sizes.size), "batch": np.tile(sizes, lengths.size),
                  key: np.broadcast_to(result.realistic[key], grid).reshape(-1).astype(float),
                  f"ideal_{key}": np.broadcast_to(result.ideal[key], grid).reshape(-1).astype(float)})


def interconnect_vs_tp(req_kw: dict[str, Any], tp_values: Any = None) -> Table:
    """The interconnect floors against the tensor-parallel degree: one ``requirements`` call per degree (the
    device count changes the collectives, so the layout is not an array there). ``tp_values`` default to 1, 2, 4, 8
    and ``req_kw``'s ``tp``, less the default degrees the model refuses (heads that do not split); explicit ones are
    all solved. Columns: ``tp``, ``devices`` and every floor of ``requirement_vs_target`` (the interconnect bandwidth
    per direction a link must carry, 0 on one device; the largest link latency allowed, infinite on one device); a
    degree whose fixed costs alone exceed a target gets infinite floors."""
    _requirement_keywords(req_kw)
    chosen = int(req_kw.get("tp") or 1)
    defaults = tp_values is None
    if not defaults:
        tp_values = _counts("tp_values", tp_values, MAX_DEGREE)
    if defaults:
        tp_values = sorted({1, 2, 4, 8, chosen})
    targets = {k: None if v is None else np.atleast_1d(float(v)) for k in ("ttft_target_s", "tpot_target_s")
               for v in [_requirement_value(req_kw, k)]}  # arrays: a target below a degree's floor gives inf
    rows = []
    for tp in np.asarray(tp_values, dtype=int).reshape(-1):
        try:
            result = _solve(req_kw, tp=int(tp), **targets)
        except ConfigurationError as exc:
            if defaults and tp != chosen and getattr(exc, "argument", None) == "tp":
                continue  # a default degree this model cannot split over
            raise
        rows.append(Table({"tp": np.array([int(tp)]), "devices": np.array([result.devices]),
                           **_floor_columns(result, (1,))}))
    return Table.concat(rows)


def device_resources(names: Any, compute_dtype: str = "bf16") -> Table:
    """What each named device (or platform) has, per device, in the units of the requirements: peak FLOP/s in
    ``compute_dtype`` (its largest peak when it lacks the datatype), fastest memory's bandwidth, the capacity it
    reports, interconnect bandwidth per direction and link latency (scale-up, else scale-out; 0 and inf without)."""
    from genmodel.data.registry import resolve_hardware
    from genmodel.search.requirements import _resources

    listed = _names("names", names)
    compute_dtype = normalize_dtype(compute_dtype, "compute_dtype")
    rows: dict[str, list] = {"hardware": [], **{k: [] for k in FLOOR_COLUMNS}}
    for name in listed:
        hw, _ = resolve_hardware(name)
        have = _resources(hw, compute_dtype)
        link = hw.scale_up or hw.scale_out
        rows["hardware"].append(str(name))
        for key, value in (("flops_per_s", have["flops"]), ("memory_bandwidth_bytes_per_s", have["bandwidth"]),
                           ("memory_capacity_bytes", have["capacity"]),
                           ("interconnect_bandwidth_bytes_per_s", have["interconnect"]),
                           ("interconnect_latency_s", float(link.latency_s) if link is not None else np.inf)):
            rows[key].append(float(value))
    return Table(rows)


def requirements_table(result: Any) -> Table:
    """One row: the floors per device (realistic, with ``_low`` / ``_high``: their 80% band;
    ``ideal_``; ``system_`` for the whole layout), the binding
    resource, the scaled reference (``scale_factor`` of every resource together, ``alone_<resource>_factor`` of each
    with the others at the reference; inf: it cannot meet the targets alone), the times no hardware beats, the
    device count and the reference (scalar targets)."""
    row: dict[str, Any] = {"model": [result.model], "reference": [result.reference], "devices": [result.devices],
                           "binding": [str(result.binding)]}
    for prefix, floors in (("", result.realistic), ("ideal_", result.ideal), ("system_", result.system)):
        row.update({f"{prefix}{k}": [_scalar(floors[k])] for k in FLOOR_COLUMNS})
    # the 80% band of the realistic floors and of the scaled reference
    row.update({f"{k}_{edge}": [_scalar(result.realistic[f"{k}_{edge}"])] for k in FLOOR_COLUMNS
                for edge in ("low", "high") if f"{k}_{edge}" in result.realistic})
    row.update({f"scale_factor_{edge}": [_scalar(result.scaled[f"scale_factor_{edge}"])] for edge in ("low", "high")
                if f"scale_factor_{edge}" in result.scaled})
    row.update({k: [_scalar(result.scaled[k])] for k in ("scale_factor", "time_factor", "capacity_factor")})
    row.update({f"alone_{r}_factor": [_scalar(v)] for r, v in result.scaled["alone"].items()})
    row.update({f"unbeatable_{k}": [_scalar(v)] for k, v in result.unbeatable.items()})
    return Table(row)


def requirements_compare(result: Any) -> Table:
    """The compared devices: available / required per resource (the device's figure over the realistic floor;
    inf where nothing is required), whether it fits and meets every target, and its own TTFT and TPOT (s)."""
    names = list(result.compare)
    columns = ("flops_ratio", "bandwidth_ratio", "capacity_ratio", "interconnect_ratio", "fits", "meets",
               "ttft_s", "tpot_s")
    return Table({"hardware": np.array(names, dtype=str),
                  **{c: np.array([np.asarray(result.compare[n][c]).item() for n in names]) for c in columns}})


def _finite(values: Any, factor: float = 1.0) -> np.ndarray:
    """SI values times ``factor``, non-finite ones as gaps (NaN)."""
    v = np.asarray(values, dtype=float) * factor
    return np.where(np.isfinite(v), v, np.nan)


def _device_lines(fig: go.Figure, devices: Any, key: str, x_range: tuple[float, float],
                  legend: tuple[str, ...] | None = None, **where: Any) -> None:
    """One horizontal dotted line per compared device at its ``key`` figure, as traces (exact on log axes); the
    legend names the device and its ``legend`` figures (default: ``key``)."""
    if devices is None:
        return
    devices = _table(devices)
    _, unit, factor = RESOURCE_UNITS[key]
    first = not where or where.get("col", 1) == 1
    for k, row in enumerate(devices.rows()):
        y = float(row[key]) * factor
        if not np.isfinite(y):
            continue
        shown = ", ".join(f"{float(row[c]) * RESOURCE_UNITS[c][2]:,.4g} {RESOURCE_UNITS[c][1]}"
                          for c in legend or (key,))
        fig.add_trace(go.Scatter(x=list(x_range), y=[y, y], mode="lines", name=f"{row['hardware']} ({shown})",
                                 legendgroup=str(row["hardware"]), showlegend=first,
                                 line={"color": DEVICE_COLORS[k % len(DEVICE_COLORS)], "dash": "dot"},
                                 hovertemplate=f"{row['hardware']}: {y:,.4g} {unit}<extra></extra>"), **where)


def requirement_vs_target_figure(frame: Any, target: str = "tpot", devices: Any = None,
                                 chosen_s: float | None = None, resource: str | None = None) -> go.Figure:
    """The realistic and ideal floor of ``resource`` (default: bandwidth against the TPOT target, FLOP/s against
    the TTFT target) per device against the target (ms), log-log, from ``requirement_vs_target``; the compared
    devices' figures (``device_resources``) as dotted horizontal lines, the chosen target as a vertical line."""
    frame = _table(frame)
    key = f"{target}_target_s"
    resource = resource or TARGET_RESOURCE[target]
    what, unit, factor = RESOURCE_UNITS[resource]
    x = np.asarray(frame[key], dtype=float) * 1e3
    fig = go.Figure()
    for prefix, name, style in (("", "needed (reference's efficiencies)", {"color": "crimson"}),
                                ("ideal_", "needed at 100% of peak, no overheads", {"color": "gray", "dash": "dash"})):
        fig.add_trace(go.Scatter(x=x, y=_finite(frame[f"{prefix}{resource}"], factor), mode="lines+markers",
                                 name=name, line=style,
                                 hovertemplate=f"%{{x:,.4g}} ms: %{{y:,.4g}} {unit}<extra></extra>"))
    lo, hi = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)
    _device_lines(fig, devices, resource, (lo, hi))
    if chosen_s is not None:
        ys = np.concatenate([_finite(frame[c], factor) for c in (resource, f"ideal_{resource}")])
        if devices is not None:
            ys = np.concatenate([ys, _finite(_table(devices)[resource], factor)])
        ys = ys[np.isfinite(ys) & (ys > 0)]
        if ys.size:
            fig.add_trace(go.Scatter(x=[chosen_s * 1e3] * 2, y=[float(ys.min()), float(ys.max())], mode="lines",
                                     name=f"chosen target {chosen_s * 1e3:,.4g} ms",
                                     line={"color": "black", "width": 1}))
    label = {"tpot": "TPOT", "ttft": "TTFT"}[target]
    other = {"tpot": "TTFT", "ttft": "TPOT"}[target]
    return _style(fig, f"{what[:1].upper()}{what[1:]} needed against the {label} target (the {other} target held)",
                  xaxis={"title": f"{label} target (ms)", "type": "log"},
                  yaxis={"title": f"{what} ({unit})", "type": "log"})


def capacity_vs_context_figure(frame: Any, devices: Any = None) -> go.Figure:
    """The memory capacity a device must report (solid) and the footprint itself (dotted, 100% usable, no reserve)
    against the prompt length, one colour per batch, from ``capacity_vs_context``; the compared devices' capacities
    as dotted horizontal lines."""
    frame = _table(frame)
    x = np.asarray(frame["input_tokens"], dtype=float)
    fig = go.Figure()
    for k, batch in enumerate(dict.fromkeys(frame["batch"].tolist())):
        part = frame[frame["batch"] == batch]
        color = ORIGIN_COLORS[k % len(ORIGIN_COLORS)]
        fig.add_trace(go.Scatter(x=part["input_tokens"], y=_finite(part["memory_capacity_bytes"], 1e-9),
                                 mode="lines+markers", name=f"batch {batch}", legendgroup=f"batch {batch}",
                                 line={"color": color}))
        fig.add_trace(go.Scatter(x=part["input_tokens"], y=_finite(part["ideal_memory_capacity_bytes"], 1e-9),
                                 mode="lines", name=f"batch {batch}, footprint alone", legendgroup=f"batch {batch}",
                                 line={"color": color, "dash": "dot"}, showlegend=k == 0))
    if len(x):
        _device_lines(fig, devices, "memory_capacity_bytes", (float(x.min()), float(x.max())))
    return _style(fig, "Memory capacity needed against context and batch (per device)",
                  xaxis={"title": "prompt length (input tokens)", "type": "log"},
                  yaxis={"title": "memory capacity per device (GB)", "type": "log"})


def interconnect_vs_tp_figure(frame: Any, devices: Any = None) -> go.Figure:
    """Two panels against the tensor-parallel degree, from ``interconnect_vs_tp``: the interconnect bandwidth per
    direction a link must carry (GB/s; 0 on one device) and the largest link latency allowed (µs, log; none on one
    device), realistic and ideal; the compared devices' links as dotted horizontal lines."""
    frame = _table(frame)
    tp = np.asarray(frame["tp"], dtype=float)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("interconnect bandwidth needed", "link latency allowed (at most)"))
    for col, key in ((1, "interconnect_bandwidth_bytes_per_s"), (2, "interconnect_latency_s")):
        _, unit, factor = RESOURCE_UNITS[key]
        for prefix, name, style in (("", "needed (reference's efficiencies)", {"color": "crimson"}),
                                    ("ideal_", "at 100% of peak, no overheads", {"color": "gray", "dash": "dash"})):
            fig.add_trace(go.Scatter(x=tp, y=_finite(frame[f"{prefix}{key}"], factor), mode="lines+markers", name=name,
                                     legendgroup=name, showlegend=col == 1, line=style,
                                     hovertemplate=f"TP %{{x}}: %{{y:,.4g}} {unit}<extra></extra>"), row=1, col=col)
        if len(tp):
            _device_lines(fig, devices, key, (float(tp.min()), float(tp.max())),
                          ("interconnect_bandwidth_bytes_per_s", "interconnect_latency_s"), row=1, col=col)
        fig.update_xaxes(title="tensor-parallel degree", type="log", tickvals=tp, ticktext=[f"{t:g}" for t in tp],
                         row=1, col=col)
    fig.update_yaxes(title="GB/s per direction", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title="µs", type="log", row=1, col=2)
    return _style(fig, "Interconnect needed against the tensor-parallel degree")
