"""genmodel what-if dashboard. Run: genmodel dashboard (or streamlit run app.py in a checkout)

Pages: Estimate, Compare, What-if, Planner, Custom hardware / model. Every number comes from the library
(genmodel.engine.estimate, genmodel.search.compare, genmodel.search.planner, genmodel.interfaces.charts); this file only lays them out.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st
import yaml
from pydantic import ValidationError

import genmodel
from genmodel.interfaces import charts
from genmodel.search.compare import compare_hardware, compare_models
from genmodel.specs.dtypes import DTYPES
from genmodel.engine.efficiency import describe_efficiency
from genmodel.errors import GenmodelError
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.search.planner import plan

PAGES = ["Estimate", "Compare", "What-if", "Planner", "Custom hardware / model"]
DTYPE_CHOICES = ["auto", *DTYPES]


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


def download(frame: pd.DataFrame, name: str, key: str) -> None:
    st.download_button(f"Download {name} (CSV)", frame.to_csv(index=False).encode(), file_name=f"{name}.csv",
                       mime="text/csv", key=key)


def fmt(value, spec: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{unit}"


def workload_inputs(key: str, with_parallel: bool = True) -> dict:
    """Model, hardware, workload, datatypes and parallelism widgets; returns estimate() keyword arguments."""
    models, hardware = model_table(), hardware_table()
    names_m, names_h = sorted(models), sorted(hardware)
    c1, c2 = st.columns(2)
    model = c1.selectbox("Model", names_m, index=names_m.index("llama-3.1-8b"), key=f"{key}-model")
    device = c2.selectbox("Hardware or platform", names_h, index=names_h.index("h100-sxm"), key=f"{key}-hw")
    c1, c2, c3 = st.columns(3)
    kw = {"model": models[model], "hardware": hardware[device],
          "batch": int(c1.number_input("Batch (sequences per replica)", 1, 1 << 16, 1, key=f"{key}-batch")),
          "input_tokens": int(c2.number_input("Input tokens", 1, 1 << 22, 1024, step=128, key=f"{key}-in")),
          "output_tokens": int(c3.number_input("Output tokens", 1, 1 << 20, 256, step=32, key=f"{key}-out"))}
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


def key_figures(result) -> None:
    d = result.to_dict()
    k = st.columns(4)
    k[0].metric("TTFT", f"{d['ttft_s'] * 1e3:,.2f} ms", help=f"ideal roofline {d['ideal_ttft_s'] * 1e3:,.2f} ms")
    k[1].metric("TPOT (mean)", f"{d['tpot_s'] * 1e3:,.3f} ms", help=f"ideal roofline {d['ideal_tpot_s'] * 1e3:,.3f} ms")
    k[2].metric("End-to-end", f"{d['e2e_latency_s']:,.3f} s")
    k[3].metric("Output throughput", f"{d['output_tokens_per_s']:,.1f} tok/s")
    m = st.columns(4)
    m[0].metric("Memory used", f"{d['total_memory_bytes'] / 1e9:,.2f} GB",
                help=f"per device, of {d['memory_capacity_bytes'] / 1e9:,.1f} GB usable")
    m[1].metric("Fits", "yes" if d["fits"] else "no")
    m[2].metric("Largest batch that fits", f"{d['max_batch']:,}")
    m[3].metric("Devices", f"{d['devices']:,}")
    e = st.columns(4)
    e[0].metric("Energy per output token", fmt(d["energy_per_output_token_j"], ",.4f", " J"))
    e[1].metric("Cost per million output tokens", fmt(d["usd_per_million_output_tokens"], ",.4f", " USD"),
                help="owned hardware, documented defaults (docs/energy_tco.md)")
    e[2].metric("Average power", fmt(d["avg_power_w"], ",.0f", " W"))
    e[3].metric("Decode bound", d["bound"])
    if not d["fits"]:
        st.warning("This configuration does not fit in memory; the figures assume it did.")


def page_estimate() -> None:
    st.header("Estimate")
    kw = workload_inputs("est")
    calibrated = st.checkbox("Use the device's calibrated efficiencies (docs/validation.md)", value=True,
                             key="est-calibrated",
                             help="Off: the per-kind default efficiencies of docs/formulas.md section 6.")
    result = run(kw, calibrated=calibrated)
    if result is None:
        return
    key_figures(result)
    st.caption(f"Realism in force: {describe_efficiency(result.efficiency, result.hardware)}.")
    st.plotly_chart(charts.roofline_figure(result), use_container_width=True)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.latency_breakdown_figure(result), use_container_width=True)
    c2.plotly_chart(charts.memory_figure(result), use_container_width=True)
    st.subheader("Per-operator breakdown")
    table = result.breakdown()
    st.dataframe(table, use_container_width=True)
    download(table, "breakdown", "dl-breakdown")


def page_compare() -> None:
    st.header("Compare")
    what = st.radio("Compare", ["hardware", "models"], horizontal=True, key="cmp-what")
    models, hardware = model_table(), hardware_table()
    c1, c2, c3 = st.columns(3)
    batch = int(c1.number_input("Batch", 1, 1 << 16, 8, key="cmp-batch"))
    inputs = int(c2.number_input("Input tokens", 1, 1 << 22, 1024, key="cmp-in"))
    outputs = int(c3.number_input("Output tokens", 1, 1 << 20, 256, key="cmp-out"))
    weight = pick(st.selectbox("Weight dtype", DTYPE_CHOICES, key="cmp-wd"))
    sort_by = st.selectbox("Sort by", ["cost", "energy", "latency"], key="cmp-sort")
    if what == "hardware":
        model = st.selectbox("Model", sorted(models), index=sorted(models).index("llama-3.1-8b"), key="cmp-model")
        chosen = st.multiselect("Hardware", sorted(hardware), default=["h100-sxm", "h200-sxm", "b200", "mi300x"],
                                key="cmp-hws")
        with st.spinner("Sizing and estimating each device..."):
            table = compare_hardware(models[model], [hardware[h] for h in chosen], batch, inputs, outputs, weight,
                                     sort_by=sort_by)
    else:
        device = st.selectbox("Hardware", sorted(hardware), index=sorted(hardware).index("h200-sxm"), key="cmp-hw")
        chosen = st.multiselect("Models", sorted(models), default=["llama-3.1-8b", "qwen3-32b", "llama-3.1-70b"],
                                key="cmp-models")
        with st.spinner("Sizing and estimating each model..."):
            table = compare_models([models[m] for m in chosen], hardware[device], batch, inputs, outputs, weight,
                                   sort_by=sort_by)
    if table.empty:
        st.info("Choose at least one entry.")
        return
    st.dataframe(table, use_container_width=True)
    download(table, "comparison", "dl-compare")
    ok = table[table.fits]
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(charts.compare_figure(ok.assign(tpot_ms=ok.tpot_s * 1e3), "tpot_ms", "TPOT", "TPOT (ms)"),
                    use_container_width=True)
    c2.plotly_chart(charts.compare_figure(ok, "energy_per_output_token_j", "Energy per output token", "J per token"),
                    use_container_width=True)
    c3.plotly_chart(charts.compare_figure(ok, "usd_per_million_output_tokens", "Cost per million output tokens",
                                          "USD per million tokens"), use_container_width=True)


def page_what_if() -> None:
    st.header("What-if")
    kw = workload_inputs("wi")
    s = st.columns(4)
    scales = {"flops_scale": s[0].slider("Peak FLOP/s x", 0.25, 4.0, 1.0, 0.05, key="wi-f"),
              "bandwidth_scale": s[1].slider("Memory bandwidth x", 0.25, 4.0, 1.0, 0.05, key="wi-b"),
              "capacity_scale": s[2].slider("Memory capacity x", 0.25, 4.0, 1.0, 0.05, key="wi-c"),
              "interconnect_scale": s[3].slider("Interconnect bandwidth x", 0.25, 4.0, 1.0, 0.05, key="wi-i")}
    base, scaled = run(kw), run(kw, **scales)
    if base is None or scaled is None:
        return
    b, d = base.to_dict(), scaled.to_dict()
    k = st.columns(4)
    for col, key, label, unit, mult in ((k[0], "ttft_s", "TTFT", "ms", 1e3), (k[1], "tpot_s", "TPOT", "ms", 1e3),
                                        (k[2], "output_tokens_per_s", "Output throughput", "tok/s", 1),
                                        (k[3], "max_batch", "Largest batch", "", 1)):
        change = (d[key] / b[key] - 1) if b[key] else 0.0
        col.metric(label, f"{d[key] * mult:,.3f} {unit}".strip(), f"{change:+.1%} vs datasheet",
                   delta_color="inverse" if key in ("ttft_s", "tpot_s") else "normal")
    axis = st.radio("Sweep", ["batch", "input_tokens"], horizontal=True, key="wi-axis")
    values = (2 ** np.arange(0, 11) if axis == "batch" else np.unique(np.geomspace(128, 131072, 11).astype(int)))
    frame = charts.sweep(scaled, axis, values)
    st.plotly_chart(charts.sweep_figure(frame, axis), use_container_width=True)
    download(frame, "sweep", "dl-sweep")
    metric = st.selectbox("Sensitivity of", ["tpot_s", "ttft_s", "e2e_latency_s"], key="wi-metric")
    sens = charts.sensitivity(scaled, metric)
    st.plotly_chart(charts.tornado_figure(sens, metric), use_container_width=True)
    download(sens, "sensitivity", "dl-sens")


def page_planner() -> None:
    st.header("Planner")
    models, hardware = model_table(), hardware_table()
    c1, c2 = st.columns(2)
    model = c1.selectbox("Model", sorted(models), index=sorted(models).index("llama-3.1-70b"), key="pl-model")
    device = c2.selectbox("Hardware or platform", sorted(hardware), index=sorted(hardware).index("dgx-h100"),
                          key="pl-hw")
    c = st.columns(5)
    inputs = int(c[0].number_input("Input tokens", 1, 1 << 22, 2048, key="pl-in"))
    outputs = int(c[1].number_input("Output tokens", 1, 1 << 20, 256, key="pl-out"))
    ttft = c[2].number_input("TTFT target (ms)", 1.0, 1e6, 2000.0, key="pl-ttft")
    tpot = c[3].number_input("TPOT target (ms)", 0.1, 1e5, 50.0, key="pl-tpot")
    budget = int(c[4].number_input("Max devices", 1, 4096, 8, key="pl-max"))
    weight = pick(st.selectbox("Weight dtype", DTYPE_CHOICES, key="pl-wd"))
    rank_by = st.selectbox("Rank by", ["throughput", "cost", "energy"], key="pl-rank")
    try:
        with st.spinner("Searching layouts and batch sizes..."):
            result = plan(models[model], hardware[device], inputs, outputs, ttft / 1e3, tpot / 1e3, budget,
                          weight_dtype=weight, rank_by=rank_by)
    except GenmodelError as exc:
        st.error(str(exc))
        return
    st.metric("Configurations meeting the targets", f"{len(result.ranked):,} of {len(result.space):,}")
    if result.ranked.empty:
        st.info("None meets the targets: relax them or allow more devices.")
    else:
        st.dataframe(result.ranked.head(50), use_container_width=True)
        download(result.ranked, "plan", "dl-plan")
    st.plotly_chart(charts.pareto_figure(result.space, result.ranked, result.pareto,
                                         f"{model} on {device}: {inputs} in / {outputs} out"),
                    use_container_width=True)


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
        except ValidationError as exc:
            for err in exc.errors():
                st.error(f"{'.'.join(str(p) for p in err['loc']) or '(entry)'}: {err['msg']}")
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
    {"Estimate": page_estimate, "Compare": page_compare, "What-if": page_what_if, "Planner": page_planner,
     "Custom hardware / model": page_custom}[page]()


if __name__ == "__main__":  # streamlit runs the script as __main__
    main()
