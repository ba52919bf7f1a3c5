"""The requirements of 1T-100T-parameter synthetic models for chat and reasoning (docs/requirements.md, "Future
models"): prints the table the docs show; tests/test_requirements.py checks the docs against it.

Usage: python scripts/future_requirements.py
"""

from __future__ import annotations

from genmodel.search.requirements import requirements

FP8 = {"weight_dtype": "fp8", "kv_dtype": "fp8", "activation_dtype": "fp8"}
FP4 = {"weight_dtype": "fp4", "kv_dtype": "fp8", "activation_dtype": "fp8"}
# (model, datatypes, layout of one replica); reasoning runs 8 replicas: at 4.96 requests/s of 3,886 output tokens
# about 1,500 requests are in flight at an 80 ms TPOT, far past one engine's 256-sequence cap
ROWS = [("synthetic:dense-1t", FP8, {"tp": 8, "pp": 2}),
        ("synthetic:dense-10t", FP8, {"tp": 32, "pp": 4}),
        ("synthetic:dense-100t", FP4, {"tp": 40, "pp": 16}),
        ("synthetic:moe-10t-a200b", FP8, {"tp": 8, "ep": 8, "pp": 8}),
        ("synthetic:moe-100t-a2t", FP8, {"tp": 16, "ep": 16, "pp": 16})]
USE_CASES = {"chat": {"dp": 1}, "reasoning": {"dp": 8}}
REFERENCE = "gb300-nvl72"


def table() -> list[dict]:
    out = []
    for model, dtypes, layout in ROWS:
        for case, extra in USE_CASES.items():
            r = requirements(model, use_case=case, reference=REFERENCE, **dtypes, **layout, **extra)
            d = r.to_dict()
            out.append({"model": model.removeprefix("synthetic:"), "use_case": case,
                        "layout": " ".join(f"{k}{v}" for k, v in {**layout, **extra}.items() if v != 1),
                        "devices": r.devices, "weights": dtypes["weight_dtype"],
                        "flops_pf": d["flops_per_s"] / 1e15, "bandwidth_tb": d["memory_bandwidth_bytes_per_s"] / 1e12,
                        "capacity_gib": d["memory_capacity_bytes"] / 2**30,
                        "link_gb": d["interconnect_bandwidth_bytes_per_s"] / 1e9, "binding": d["binding"],
                        "scale": d["reference"]["scale_factor"]})
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| model | use case | layout | devices | weights | FLOP/s per device | bandwidth per device | capacity "
             "per device | link per device | binds | GB300 x |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['use_case']} | {r['layout']} | {r['devices']:,} | {r['weights']} | "
                     f"{r['flops_pf']:,.3g} PFLOP/s | {r['bandwidth_tb']:,.3g} TB/s | {r['capacity_gib']:,.0f} GiB | "
                     f"{_link(r['link_gb'])} | {r['binding']} | {r['scale']:,.3g} |")
    return "\n".join(lines)


def _link(gb_per_s: float) -> str:
    """A link bandwidth with three significant digits, in TB/s from 1,000 GB/s on (not '1.49e+03 GB/s')."""
    return f"{gb_per_s / 1e3:.3g} TB/s" if gb_per_s >= 999.5 else f"{gb_per_s:.3g} GB/s"


if __name__ == "__main__":
    print(markdown(table()))
