"""genmodel what-if dashboard (first page: a single estimate). Run: streamlit run app.py

It only calls the library (genmodel.estimate); no formula lives here.
"""

from __future__ import annotations

import streamlit as st

import genmodel
from genmodel.dtypes import DTYPES
from genmodel.errors import GenmodelError


@st.cache_resource
def databases():
    return genmodel.all_models(), genmodel.all_hardware()


def main() -> None:
    st.set_page_config(page_title="genmodel", layout="wide")
    st.title("genmodel: LLM inference estimate")
    models, hardware = databases()
    left, right = st.columns(2)
    model = left.selectbox("Model", sorted(models), index=sorted(models).index("llama-3.1-8b"))
    device = right.selectbox("Hardware", sorted(hardware), index=sorted(hardware).index("h100-sxm"))
    c1, c2, c3 = st.columns(3)
    batch = c1.number_input("Batch", min_value=1, value=1, step=1)
    input_tokens = c2.number_input("Input tokens", min_value=1, value=1024, step=128)
    output_tokens = c3.number_input("Output tokens", min_value=1, value=256, step=32)
    d1, d2, d3 = st.columns(3)
    choices = ["auto", *DTYPES]
    weight = d1.selectbox("Weight dtype", choices)
    activation = d2.selectbox("Activation dtype", choices)
    kv = d3.selectbox("KV dtype", choices)
    s1, s2, s3 = st.columns(3)
    flops_scale = s1.slider("Peak FLOP/s x", 0.25, 4.0, 1.0, 0.05)
    bandwidth_scale = s2.slider("Memory bandwidth x", 0.25, 4.0, 1.0, 0.05)
    capacity_scale = s3.slider("Memory capacity x", 0.25, 4.0, 1.0, 0.05)

    def pick(value: str) -> str | None:
        return None if value == "auto" else value

    try:
        result = genmodel.estimate(model, device, int(batch), int(input_tokens), int(output_tokens), pick(weight),
                                   pick(kv), pick(activation), flops_scale=flops_scale,
                                   bandwidth_scale=bandwidth_scale, capacity_scale=capacity_scale, check_fit=False)
    except GenmodelError as exc:
        st.error(str(exc))
        return
    d = result.to_dict()
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("TTFT", f"{d['ttft_s'] * 1e3:,.2f} ms", help=f"ideal roofline {d['ideal_ttft_s'] * 1e3:,.2f} ms")
    k2.metric("TPOT (mean)", f"{d['tpot_s'] * 1e3:,.3f} ms", help=f"ideal roofline {d['ideal_tpot_s'] * 1e3:,.3f} ms")
    k3.metric("End-to-end", f"{d['e2e_latency_s']:,.3f} s")
    k4.metric("Output throughput", f"{d['output_tokens_per_s']:,.1f} tok/s")
    m1, m2, m3 = st.columns(3)
    m1.metric("Memory used", f"{d['total_memory_bytes'] / 1e9:,.2f} GB",
              help=f"of {d['memory_capacity_bytes'] / 1e9:,.1f} GB usable")
    m2.metric("Fits", "yes" if d["fits"] else "no")
    m3.metric("Largest batch that fits", f"{d['max_batch']:,}")
    e1, e2, e3 = st.columns(3)
    energy, cost, power = d["energy_per_output_token_j"], d["usd_per_million_output_tokens"], d["avg_power_w"]
    e1.metric("Energy per output token", "n/a" if energy is None else f"{energy:,.4f} J")
    e2.metric("Cost per million output tokens", "n/a" if cost is None else f"{cost:,.4f} USD",
              help="owned hardware, documented defaults (docs/energy_tco.md)")
    e3.metric("Average power", "n/a" if power is None else f"{power:,.0f} W")
    if not d["fits"]:
        st.warning("This configuration does not fit in the device's memory; figures assume it did.")
    st.subheader("Per-operator breakdown")
    st.dataframe(result.breakdown(), use_container_width=True)


main()
