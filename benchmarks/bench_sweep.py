"""Benchmark: how many configurations per second one vectorized ``genmodel.estimate`` call evaluates, on one core.

Each configuration has its own batch (1-512), prompt (128-32,768 tokens), output (16-4,096 tokens), tensor-parallel
degree (1, 2, 4 or 8) and HBM-bandwidth what-if scale, drawn at random (fixed seed): no broadcast product, so no
shortcut. Two cases, the issue-14 targets: Llama-3.1-70B with fp8 weights on H200 (one to eight devices) and
DeepSeek-V3 with fp8 weights on a DGX H200 (expert parallel over 8 devices with attention data parallelism, tp
1-8). Every call returns the default metrics (TTFT, mean and final TPOT, throughput, memory, largest batch and
context, energy, cost, bands). Also reports the peak memory NumPy allocates during one call, per configuration
(tracemalloc, in a separate untimed call; and how much of it is beyond the arrays the result returns), the peak of
one block (below; ``--no-block`` skips it), and the time of single estimates (Llama-3.1-8B on one H100,
DeepSeek-V3 on a DGX H200 with tp 8), best and median of many calls.

The peak of one block is measured twice, each in an untimed call under tracemalloc:

* a call of exactly ``BLOCK_CONFIGURATIONS`` configurations (one pass; its result keeps both steps behind the
  figures, ``Estimate.prefill`` and ``decode``): the peak per configuration, and the peak less the bytes of the
  returned metric arrays, per configuration;
* a call of twice that, which runs two blocks of exactly ``BLOCK_CONFIGURATIONS`` each (whose steps are not kept):
  the peak less the bytes of every array the result returns (metrics, inputs, placement, slots), per configuration
  of one block: the memory one block's evaluation takes beyond the results, the figure issue 14 bounds.

"One core" is meant literally: the BLAS library NumPy uses is held to one thread (``OPENBLAS_NUM_THREADS`` and the
like default to 1 here; set them to measure otherwise), since its matrix products would otherwise spin a second
thread on a 2-core machine.

Usage: python benchmarks/bench_sweep.py [--configs 100000] [--repeats 3] [--singles 2000] [--no-block]
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
from genmodel.engine.estimate import BLOCK_CONFIGURATIONS  # noqa: E402

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


def traced_peak(model: str, hw: str, kwargs: dict) -> tuple[int, genmodel.Estimate]:
    """(peak bytes tracemalloc saw during one ``estimate`` call, its result); the result stays alive."""
    tracemalloc.start()
    try:
        result = genmodel.estimate(model, hw, **kwargs)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def returned_bytes(result: genmodel.Estimate) -> int:
    """Bytes of every array a blocked call returns: metrics, inputs, tier placement and per-configuration slots."""
    arrays = [*result.metrics.values(), *result.inputs.values(),
              *(a for tiers in result.placement.values() for a in tiers),
              result.prefill_slots, result.decode_slots, result.prefill_step_sequences, result.decode_step_sequences]
    return sum(np.asarray(a).nbytes for a in arrays)


def block_peaks(model: str, hw: str, fixed: dict) -> str:
    """The peak of one block (module docstring), as a line of text."""
    n = BLOCK_CONFIGURATIONS
    kwargs = {**configurations(n, seed=1), **fixed, "check_fit": False}
    peak, result = traced_peak(model, hw, kwargs)
    metric_bytes = sum(np.asarray(v).nbytes for v in result.metrics.values())
    del result
    kwargs = {**configurations(2 * n, seed=1), **fixed, "check_fit": False}
    peak2, result = traced_peak(model, hw, kwargs)
    beyond = (peak2 - returned_bytes(result)) / n
    return (f"  one block of {n:,}: a call of {n:,} peaks at {peak / n:,.0f} bytes per configuration, "
            f"{(peak - metric_bytes) / n:,.0f} beyond its metric arrays; a call of {2 * n:,} (two blocks) at "
            f"{beyond:,.0f} per block configuration beyond every returned array")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--singles", type=int, default=2000, help="single estimates timed per case")
    parser.add_argument("--no-block", dest="block", action="store_false", help="skip the peak of one block")
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
        del result
        peak, result = traced_peak(model, hw, kwargs)
        print(f"{n:,} configurations of {model} on {hw} in {best:.3f} s -> {n / best:,.0f} configurations/s "
              f"({best / n * 1e6:.2f} us each); peak {peak / n:,.0f} bytes per configuration "
              f"({peak / 2**20:,.0f} MiB, {len(result.metrics)} metrics; "
              f"{(peak - returned_bytes(result)) / 2**20:,.0f} MiB beyond the returned arrays)")
        print(f"  fits: {int(result.metrics['fits'].sum()):,} of {n:,}; "
              f"TPOT {result.metrics['tpot_s'].min() * 1e3:.2f}-{result.metrics['tpot_s'].max() * 1e3:.1f} ms")
        del result
        if args.block:
            print(block_peaks(model, hw, fixed))

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
