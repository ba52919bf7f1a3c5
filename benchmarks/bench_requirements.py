"""Benchmark: ``requirements`` (issue targets: one solve under 20 ms; 1,000 target points in one call under 1 s).

Usage: python benchmarks/bench_requirements.py [--repeats 5]
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_serve import best_of  # the same best-of-N timer (benchmarks/ is on the path when run as a script)

from genmodel.search.requirements import requirements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    one = best_of(args.repeats, lambda: requirements("llama-3.1-70b", 1024, 256, 0.5, 0.03, batch=16, tp=8))
    print(f"one requirements solve (Llama-3.1-70B, TP8, batch 16, static): {one * 1e3:.1f} ms")
    ttft = np.geomspace(0.2, 5.0, 25)[:, None]
    tpot = np.geomspace(0.01, 0.2, 40)[None, :]
    many = best_of(args.repeats, lambda: requirements("llama-3.1-70b", 1024, 256, ttft, tpot, batch=16, tp=8))
    print(f"1,000 target points in one call: {many * 1e3:.0f} ms")
    served = best_of(max(1, args.repeats // 2), lambda: requirements("llama-3.1-8b", 1024, 256, 0.5, 0.03,
                                                                    request_rate=4.0, percentile=0.9))
    print(f"one solve under served traffic (Llama-3.1-8B at 4 requests/s, bisection): {served * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
