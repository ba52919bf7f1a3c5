"""Benchmark: library work behind one dashboard interaction (no Streamlit rendering), per page.

Usage: python benchmarks/bench_dashboard.py
"""

from __future__ import annotations

import time

import numpy as np

import genmodel
from genmodel.interfaces import charts


def best_ms(fn, repeats: int = 7) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def estimate_page():
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", check_fit=False)
    charts.roofline_figure(r), charts.latency_breakdown_figure(r), charts.memory_figure(r), r.breakdown()


def what_if_page():
    base = genmodel.estimate("llama-3.1-8b", "h100-sxm", check_fit=False)
    r = genmodel.estimate("llama-3.1-8b", "h100-sxm", check_fit=False, bandwidth_scale=1.2)
    charts.sweep_figure(charts.sweep(r, "batch", 2 ** np.arange(11)), "batch")
    charts.tornado_figure(charts.sensitivity(r), "tpot_s")
    del base


def main() -> None:
    genmodel.estimate()  # databases loaded once, as the dashboard caches them
    print(f"Estimate page: {best_ms(estimate_page):.1f} ms per interaction")
    print(f"What-if page:  {best_ms(what_if_page):.1f} ms per interaction")


if __name__ == "__main__":
    main()
