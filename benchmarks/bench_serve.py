"""Benchmark: ``serve`` against ``estimate`` (issue targets: one configuration within 5x, and 10,000 points of
rate x configuration in one call within 5x of 10,000 estimates in one call).

Usage: python benchmarks/bench_serve.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from genmodel import estimate, serve


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    one_serve = best_of(args.repeats, lambda: serve(request_rate=5.0))
    one_estimate = best_of(args.repeats, lambda: estimate())
    print(f"one configuration: serve {one_serve * 1e3:.2f} ms, estimate {one_estimate * 1e3:.2f} ms "
          f"({one_serve / one_estimate:.1f}x)")
    rates = np.linspace(0.5, 12.0, 100)[:, None]
    inputs = np.linspace(256, 4096, 100).round()[None, :]
    many_serve = best_of(args.repeats, lambda: serve(request_rate=rates, input_tokens=inputs))
    batches = np.arange(1, 101)[:, None]
    many_estimate = best_of(args.repeats, lambda: estimate(batch=batches, input_tokens=inputs, check_fit=False))
    print(f"10,000 points in one call: serve {many_serve * 1e3:.1f} ms, estimate {many_estimate * 1e3:.1f} ms "
          f"({many_serve / many_estimate:.1f}x)")


if __name__ == "__main__":
    main()
