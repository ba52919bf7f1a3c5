"""Benchmark: how many configurations per second one vectorized ``genmodel.estimate`` call evaluates, on one core.

Each configuration has its own batch (1-512), prompt (128-32,768 tokens), output (16-4,096 tokens), tensor-parallel
degree (1, 2, 4 or 8) and HBM-bandwidth what-if scale, drawn at random (fixed seed): no broadcast product, so no
shortcut. Two cases, the issue-14 targets: Llama-3.1-70B with fp8 weights on H200 (one to eight devices) and
DeepSeek-V3 with fp8 weights on a DGX H200 (expert parallel over 8 devices with attention data parallelism, tp
1-8). Every call returns the default metrics (TTFT, mean and final TPOT, throughput, memory, largest batch and
context, energy, cost, bands). Also reports the peak memory NumPy allocates during one call, per configuration
(tracemalloc, in a separate untimed call), and the time of single estimates (Llama-3.1-8B on one H100, DeepSeek-V3
on a DGX H200 with tp 8), best and median of many calls.

"One core" is meant literally: the BLAS library NumPy uses is held to one thread (``OPENBLAS_NUM_THREADS`` and the
like default to 1 here; set them to measure otherwise), since its matrix products would otherwise spin a second
thread on a 2-core machine.

Usage: python benchmarks/bench_sweep.py [--configs 100000] [--repeats 3] [--singles 2000]
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before NumPy loads its BLAS
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

import genmodel  # noqa: E402

CASES = [
    ("llama-3.1-70b", "h200-sxm", {"weight_dtype": "fp8"}),
    ("deepseek-v3", "dgx-h200", {"weight_dtype": "fp8", "ep": 8, "attention_dp": True}),
]
SINGLES = [
    ("llama-3.1-8b", "h100-sxm", {"batch": 1, "input_tokens": 1024, "output_tokens": 256}),
    ("deepseek-v3", "dgx-h200", {"batch": 16, "input_tokens": 1024, "output_tokens": 256, "tp": 8,
                                 "weight_dtype": "fp8"}),
]


def configurations(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` configurations, each with its own batch, lengths, tensor-parallel degree and bandwidth scale."""
    rng = np.random.default_rng(seed)
    return {"batch": rng.integers(8, 513, n), "input_tokens": rng.integers(128, 32769, n),
            "output_tokens": rng.integers(16, 4097, n), "tp": rng.choice([1, 2, 4, 8], n),
            "bandwidth_scale": rng.uniform(0.5, 2.0, n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=2000, help="single estimates timed per case")
    args = parser.parse_args()

    configs = configurations(args.configs)
    for model, hw, fixed in CASES:
        kwargs = {**configs, **fixed, "check_fit": False}
        genmodel.estimate(model, hw, **{k: v[:1000] if np.ndim(v) else v for k, v in kwargs.items()})  # warm-up
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = genmodel.estimate(model, hw, **kwargs)
            best = min(best, time.perf_counter() - start)
        n = result.metrics["tpot_s"].size
        tracemalloc.start()
        genmodel.estimate(model, hw, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{n:,} configurations of {model} on {hw} in {best:.3f} s -> {n / best:,.0f} configurations/s "
              f"({best / n * 1e6:.2f} us each); peak {peak / n:,.0f} bytes per configuration "
              f"({peak / 2**20:,.0f} MiB, {len(result.metrics)} metrics)")
        print(f"  fits: {int(result.metrics['fits'].sum()):,} of {n:,}; "
              f"TPOT {result.metrics['tpot_s'].min() * 1e3:.2f}-{result.metrics['tpot_s'].max() * 1e3:.1f} ms")

    for model, hw, kwargs in SINGLES:
        for _ in range(50):
            genmodel.estimate(model, hw, **kwargs)
        times = []
        for _ in range(args.singles):
            start = time.perf_counter()
            genmodel.estimate(model, hw, **kwargs)
            times.append(time.perf_counter() - start)
        print(f"single estimate, {model} on {hw}: best {min(times) * 1e3:.3f} ms, median "
              f"{float(np.median(times)) * 1e3:.3f} ms ({args.singles:,} calls)")


if __name__ == "__main__":
    main()
