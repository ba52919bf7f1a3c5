"""Plotly figures of estimates: roofline, latency and memory breakdowns, sweeps, sensitivity, comparisons.

Contract
--------
Each function takes library results (``Estimate``, DataFrames from ``compare``/``plan``) and returns a
``plotly.graph_objects.Figure`` with titled axes that state their units. No formula is evaluated here that
the library does not already compute: curves and sensitivities call ``genmodel.estimate`` (vectorized).
The dashboard (``app.py``) lays these out; notebooks can call them directly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from genmodel.engine.estimate import Estimate, estimate

PHASE_COLORS = {"prefill": "#1f77b4", "decode": "#d62728"}


def roofline_data(result: Estimate) -> pd.DataFrame:
    """Per operator (both phases): arithmetic intensity (FLOP/B) and attained FLOP/s, with its time."""
    df = result.breakdown()
    moved = df.weight_bytes + df.kv_bytes + df.activation_bytes
    df = df.assign(bytes_moved=moved, intensity_flop_per_byte=df.flops / moved.where(moved > 0),
                   attained_flops_per_s=df.flops / df.time_s.where(df.time_s > 0))
    return df[(df.flops > 0) & (moved > 0)]


def roofline_figure(result: Estimate) -> go.Figure:
    """Log-log roofline of the device (dtype of the matrix math) with every operator as a point sized by time."""
    hw, dtype = result.hardware, result.dtypes.gemm
    data = roofline_data(result)
    peak = hw.peak_flops_per_s[dtype] * float(np.asarray(result.inputs["flops_scale"]))
    bandwidth = hw.fastest_memory.bandwidth_bytes_per_s * float(np.asarray(result.inputs["bandwidth_scale"]))
    lo = max(min(data.intensity_flop_per_byte.min() / 3, 0.1), 1e-3) if len(data) else 0.1
    hi = max(data.intensity_flop_per_byte.max() * 3 if len(data) else 1e4, 3 * peak / bandwidth)
    x = np.geomspace(lo, hi, 200)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=np.minimum(peak, x * bandwidth), mode="lines", name=f"roof ({dtype} peak, "
                             f"{hw.fastest_memory.name})", line={"color": "black"}))
    eff = result.efficiency
    fig.add_trace(go.Scatter(x=x, y=np.minimum(peak * eff.compute_efficiency, x * bandwidth * eff.memory_efficiency),
                             mode="lines", name="achievable roof", line={"color": "gray", "dash": "dash"}))
    top = data.time_s.max() if len(data) else 1.0
    for phase, part in data.groupby("phase"):
        fig.add_trace(go.Scatter(
            x=part.intensity_flop_per_byte, y=part.attained_flops_per_s, mode="markers", name=phase,
            marker={"size": 6 + 30 * np.sqrt(part.time_s / top), "color": PHASE_COLORS.get(phase), "opacity": 0.7},
            text=[f"{o} ({g})<br>{t * 1e3:.3f} ms, {b}-bound" for o, g, t, b in
                  zip(part.operator, part.group, part.time_s, part.bound, strict=True)],
            hovertemplate="%{text}<br>%{x:.3g} FLOP/B, %{y:.3g} FLOP/s<extra></extra>"))
    fig.update_xaxes(type="log", title="arithmetic intensity (FLOP/byte)")
    fig.update_yaxes(type="log", title="attained throughput (FLOP/s)")
    fig.update_layout(title=f"Roofline: {result.model.name} on {hw.name}", template="plotly_white")
    return fig


def latency_breakdown_figure(result: Estimate) -> go.Figure:
    """Stacked bars: time by operator kind in prefill (TTFT) and in one mean decode step (TPOT), in ms."""
    df = result.breakdown()
    kinds = df.groupby(["phase", "kind"]).time_s.sum().unstack(fill_value=0.0) * 1e3
    fig = go.Figure()
    for kind in kinds.columns:
        fig.add_trace(go.Bar(name=kind, x=[f"{p} ({'whole batch' if p == 'prefill' else 'one step'})"
                                             for p in kinds.index], y=kinds[kind]))
    comm = {p: sum(np.asarray(v).reshape(-1)[0] for v in getattr(result, p).comm.values()) * 1e3
            for p in ("prefill", "decode")}
    if any(comm.values()):
        fig.add_trace(go.Bar(name="communication", x=[f"{p} ({'whole batch' if p == 'prefill' else 'one step'})"
                                                      for p in kinds.index], y=[comm[p] for p in kinds.index]))
    fig.update_layout(barmode="stack", title="Latency by operator kind (per device, all layers)",
                      yaxis_title="time (ms)", xaxis_title="phase", template="plotly_white")
    return fig


def memory_figure(result: Estimate) -> go.Figure:
    """Stacked bar of weights, KV cache and activations against the usable capacity, in GB."""
    d = result.to_dict()
    fig = go.Figure()
    for key, name in (("weights_bytes", "weights"), ("kv_cache_bytes", "KV cache"),
                      ("activation_peak_bytes", "activations (peak)")):
        fig.add_trace(go.Bar(name=name, x=["memory per device"], y=[d[key] / 1e9]))
    fig.add_hline(y=d["memory_capacity_bytes"] / 1e9, line_dash="dash", line_color="black",
                  annotation_text=f"usable capacity {d['memory_capacity_bytes'] / 1e9:,.1f} GB")
    fig.update_layout(barmode="stack", title="Memory", yaxis_title="memory (GB)", template="plotly_white")
    return fig


def sweep(result: Estimate, axis: str, values) -> pd.DataFrame:
    """Re-run ``result``'s configuration with ``axis`` ('batch' or 'input_tokens') set to each of ``values``."""
    if axis not in ("batch", "input_tokens"):
        raise ValueError("axis must be 'batch' or 'input_tokens'")
    values = np.asarray(values)
    inputs = {k: np.asarray(v).item() for k, v in result.inputs.items()}
    kw = {"batch": inputs["batch"], "input_tokens": inputs["input_tokens"], axis: values}
    swept = estimate(result.model, result.platform or result.hardware, kw["batch"], kw["input_tokens"],
                     inputs["output_tokens"], result.dtypes.weight, result.dtypes.kv, result.dtypes.activation,
                     parallel=replace(result.parallel), flops_scale=inputs["flops_scale"],
                     bandwidth_scale=inputs["bandwidth_scale"], capacity_scale=inputs["capacity_scale"],
                     check_fit=False, costs=result.costs)
    m = swept.metrics
    return pd.DataFrame({axis: values, "ttft_s": m["ttft_s"], "tpot_s": m["tpot_s"],
                         "output_tokens_per_s": m["output_tokens_per_s"], "fits": m["fits"]})


def sweep_figure(frame: pd.DataFrame, axis: str) -> go.Figure:
    """TPOT and TTFT (ms, left) and output throughput (tokens/s, right) against batch or context."""
    label = {"batch": "batch size (sequences per replica)", "input_tokens": "prompt length (tokens)"}[axis]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=frame[axis], y=frame.tpot_s * 1e3, name="TPOT (ms)", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=frame[axis], y=frame.ttft_s * 1e3, name="TTFT (ms)", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=frame[axis], y=frame.output_tokens_per_s, name="output tokens/s",
                             mode="lines+markers", yaxis="y2"))
    over = frame[~frame.fits]
    if len(over):
        fig.add_vrect(x0=over[axis].min(), x1=over[axis].max(), fillcolor="red", opacity=0.08,
                      annotation_text="does not fit", line_width=0)
    fig.update_layout(title=f"Latency and throughput against {label}", xaxis={"title": label, "type": "log"},
                      yaxis={"title": "latency (ms)", "type": "log"},
                      yaxis2={"title": "output throughput (tokens/s)", "overlaying": "y", "side": "right"},
                      template="plotly_white")
    return fig


KNOBS = {"flops_scale": "peak FLOP/s", "bandwidth_scale": "memory bandwidth", "capacity_scale": "memory capacity",
         "interconnect_scale": "interconnect bandwidth"}


def sensitivity(result: Estimate, metric: str = "tpot_s", change: float = 0.2) -> pd.DataFrame:
    """Relative change of ``metric`` when each hardware knob moves by -change and +change (one at a time)."""
    inputs = {k: np.asarray(v).item() for k, v in result.inputs.items()}
    base = float(np.asarray(result.metrics[metric]))
    rows = []
    for knob, label in KNOBS.items():
        out = []
        for factor in (1 - change, 1 + change):
            scales = {k: inputs.get(k, 1.0) for k in ("flops_scale", "bandwidth_scale", "capacity_scale")}
            scales["interconnect_scale"] = 1.0
            scales[knob] = scales[knob] * factor
            r = estimate(result.model, result.platform or result.hardware, inputs["batch"], inputs["input_tokens"],
                         inputs["output_tokens"], result.dtypes.weight, result.dtypes.kv, result.dtypes.activation,
                         parallel=replace(result.parallel), check_fit=False, costs=result.costs, **scales)
            out.append(float(np.asarray(r.metrics[metric])) / base - 1)
        rows.append({"knob": label, "minus": out[0], "plus": out[1], "span": abs(out[1] - out[0])})
    return pd.DataFrame(rows).sort_values("span")


def tornado_figure(frame: pd.DataFrame, metric_label: str, change: float = 0.2) -> go.Figure:
    """Horizontal bars: % change of the metric for each knob at -change and +change, biggest on top."""
    fig = go.Figure()
    fig.add_trace(go.Bar(y=frame.knob, x=frame.minus * 100, orientation="h", name=f"-{change:.0%}"))
    fig.add_trace(go.Bar(y=frame.knob, x=frame.plus * 100, orientation="h", name=f"+{change:.0%}"))
    fig.update_layout(barmode="overlay", title=f"Sensitivity of {metric_label} to hardware knobs",
                      xaxis_title=f"change of {metric_label} (%)", yaxis_title="hardware knob",
                      template="plotly_white")
    return fig


def compare_figure(table: pd.DataFrame, column: str, title: str, unit: str) -> go.Figure:
    """Bar chart of one column of a comparison table (hardware or model on the x axis)."""
    label = "model" if "model" in table else "hardware"
    fig = go.Figure(go.Bar(x=table[label], y=table[column]))
    fig.update_layout(title=title, xaxis_title=label, yaxis_title=unit, template="plotly_white")
    return fig


def pareto_figure(space: pd.DataFrame, ranked: pd.DataFrame, pareto: pd.DataFrame, title: str) -> go.Figure:
    """Every fitting configuration, those meeting the SLO, and the Pareto front (per device vs per user)."""
    def labels(frame: pd.DataFrame) -> list[str]:
        return [f"tp{r.tp} pp{r.pp} ep{r.ep} cp{r.cp}{' adp' if r.attention_dp else ''} dp{r.dp} batch {r.batch}"
                for r in frame.itertuples()]

    fig = go.Figure()
    fits = space[space.fits]
    fig.add_trace(go.Scatter(x=fits.tokens_per_s_per_user, y=fits.output_tokens_per_s_per_device, mode="markers",
                             name="fits", marker={"color": "lightgray", "size": 5}, text=labels(fits)))
    fig.add_trace(go.Scatter(x=ranked.tokens_per_s_per_user, y=ranked.output_tokens_per_s_per_device,
                             mode="markers", name="meets SLO", marker={"color": "royalblue", "size": 7},
                             text=labels(ranked)))
    front = pareto.sort_values("tokens_per_s_per_user")
    fig.add_trace(go.Scatter(x=front.tokens_per_s_per_user, y=front.output_tokens_per_s_per_device,
                             mode="lines+markers", name="Pareto front", line={"color": "crimson"},
                             text=labels(front)))
    fig.update_layout(title=title, xaxis_title="tokens/s per user (1 / TPOT)",
                      yaxis_title="output tokens/s per device", template="plotly_white")
    return fig


def validation_figure(records: pd.DataFrame, color_by: str = "kind") -> go.Figure:
    """Log-log predicted vs measured, one point per expressible row, coloured by ``color_by`` (a column of
    ``records``: 'kind', 'group' for the phase, or 'metric_class'); prefill rows are drawn as diamonds."""
    ok = records[records.error_pct.notna()] if "error_pct" in records else records.iloc[0:0]
    fig = go.Figure()
    for group, part in ok.groupby(color_by):
        symbols = ["diamond" if g == "prefill" else "circle" for g in part.group]
        fig.add_trace(go.Scatter(x=part.measured, y=part.predicted, mode="markers", name=group,
                                 marker={"symbol": symbols, "size": 7, "opacity": 0.8},
                                 text=[f"{i} {m} on {h}: {e:+.1f}%" for i, m, h, e in
                                       zip(part.id, part.metric, part.hardware, part.error_pct, strict=True)]))
    if len(ok):
        lo, hi = float(min(ok.measured.min(), ok.predicted.min())), float(max(ok.measured.max(), ok.predicted.max()))
        line = np.geomspace(lo, hi, 50)
        fig.add_trace(go.Scatter(x=line, y=line, mode="lines", name="exact", line={"color": "black"}))
        for factor, dash in ((1.25, "dash"), (0.75, "dash")):
            fig.add_trace(go.Scatter(x=line, y=line * factor, mode="lines", name=f"{factor - 1:+.0%}",
                                     line={"color": "gray", "dash": dash}))
    fig.update_xaxes(type="log", title="measured (row unit: ms, s, tokens/s or J/token)")
    fig.update_yaxes(type="log", title="predicted (same unit)")
    fig.update_layout(title="genmodel vs published measurements", template="plotly_white")
    return fig
