"""Benchmark: library work behind one dashboard interaction (no Streamlit rendering), per page.

Each function does what the page does on a rerun: the estimates, the ``Table`` objects it shows (converted for
display as the dashboard does, with pandas) and the plotly figures.

Usage: python benchmarks/bench_dashboard.py
"""

from __future__ import annotations

import time

import numpy as np

import genmodel
from genmodel.interfaces import charts
from genmodel.search.compare import realism_note

COMPARED = ["h100-sxm", "h200-sxm", "b200", "mi300x"]


def best_ms(fn, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def estimate_page():
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", check_fit=False)
    charts.roofline_figure(r), charts.latency_breakdown_figure(r), charts.memory_figure(r)
    r.breakdown().to_pandas()


def compare_page():
    table = genmodel.compare_hardware("llama-3.1-8b", COMPARED, 8, 1024, 256)
    realism_note(table)
    ok = table[table["fits"]]
    for column in ("tpot_s", "energy_per_output_token_j", "usd_per_million_output_tokens"):
        charts.compare_figure(ok, column, column, column)
    table.to_pandas()


def what_if_page():
    base = genmodel.estimate("llama-3.1-8b", "h100-sxm", check_fit=False)
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", check_fit=False, bandwidth_scale=1.2)
    charts.sweep_figure(charts.sweep(r, "batch", 2 ** np.arange(11)), "batch")
    charts.sweep_figure(charts.sweep(r, "input_tokens", charts.context_values(r)), "input_tokens")
    charts.tornado_figure(charts.sensitivity(r), "TPOT")
    del base


def planner_page():
    result = genmodel.plan("llama-3.1-70b", "dgx-h100", 2048, 256, 2.0, 0.05, 8)
    result.ranked.head(50).to_pandas()
    charts.pareto_figure(result.space, result.ranked, result.pareto, "plan")


def main() -> None:
    genmodel.estimate()  # databases loaded once, as the dashboard caches them
    print(f"Estimate page: {best_ms(estimate_page):.1f} ms per interaction")
    print(f"Compare page:  {best_ms(compare_page):.1f} ms per interaction")
    print(f"What-if page:  {best_ms(what_if_page):.1f} ms per interaction (batch and context sweeps)")
    print(f"Planner page:  {best_ms(planner_page):.1f} ms per interaction")


if __name__ == "__main__":
    main()
