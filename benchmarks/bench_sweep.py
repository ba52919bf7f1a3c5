"""Benchmark: how many configurations per second genmodel evaluates (vectorized, one call).

Evaluates N configurations of Llama-3.1-70B (fp8 weights) on an H200: a grid over batch size, prompt
length, output length and a what-if HBM-bandwidth scale, all in one ``genmodel.estimate`` call (each
configuration gets TTFT, mean and final TPOT, end-to-end latency, throughput, memory, max batch and max
context). Also times a single-configuration estimate, the call a CLI user or a dashboard makes.

Usage: python benchmarks/bench_sweep.py [--configs 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import genmodel


def grid(n: int) -> dict[str, np.ndarray]:
    """About ``n`` configurations on a grid (batch x input x output x bandwidth scale)."""
    side = max(2, round(n ** 0.25))
    batch = np.unique(np.geomspace(1, 512, side).round()).astype(int)
    inputs = np.unique(np.geomspace(128, 32768, side).round()).astype(int)
    outputs = np.unique(np.geomspace(16, 4096, side).round()).astype(int)
    bw = np.linspace(0.5, 2.0, side)
    b, i, o, s = np.meshgrid(batch, inputs, outputs, bw, indexing="ij")
    flat = {"batch": b.ravel(), "input_tokens": i.ravel(), "output_tokens": o.ravel(), "bandwidth_scale": s.ravel()}
    return {k: np.resize(v, n) for k, v in flat.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model, hw = genmodel.get_model("llama-3.1-70b"), genmodel.get_hardware("h200-sxm")
    configs = grid(args.configs)
    genmodel.estimate(model, hw, weight_dtype="fp8", **{k: v[:10] for k, v in configs.items()})  # warm-up

    best = np.inf
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = genmodel.estimate(model, hw, weight_dtype="fp8", **configs)
        best = min(best, time.perf_counter() - start)
    n = result.metrics["tpot_s"].size
    print(f"{n:,} configurations of {model.name} on {hw.name} in {best:.3f} s "
          f"-> {n / best:,.0f} configurations/s ({best / n * 1e6:.2f} us each)")
    print(f"  fits: {int(result.metrics['fits'].sum()):,} of {n:,}; "
          f"TPOT range {result.metrics['tpot_s'].min() * 1e3:.2f}-{result.metrics['tpot_s'].max() * 1e3:.1f} ms")

    single = np.inf
    for _ in range(max(args.repeats, 20)):
        start = time.perf_counter()
        genmodel.estimate(model, hw, batch=8, input_tokens=2048, output_tokens=256, weight_dtype="fp8")
        single = min(single, time.perf_counter() - start)
    print(f"single-configuration estimate: {single * 1e3:.2f} ms (GenZ: 50-90 ms per estimate)")


if __name__ == "__main__":
    main()
