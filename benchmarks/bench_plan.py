"""Benchmark: the planner's whole search space for one model on one hardware type, up to 512 devices.

Prints how many configurations (layouts x batch sizes) were evaluated and how long it took, for a dense and
an MoE model. Usage: python benchmarks/bench_plan.py [--max-devices 512] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

from genmodel.search.planner import plan

CASES = [
    ("llama-3.1-70b", "h100-sxm", {"ttft_s": 2.0, "tpot_s": 0.05}),
    ("deepseek-v3", "h200-sxm", {"ttft_s": 5.0, "tpot_s": 0.05, "weight_dtype": "fp8", "activation_dtype": "fp8",
                                 "kv_dtype": "fp8"}),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-devices", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for model, hardware, slo in CASES:
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = plan(model, hardware, 2048, 512, max_devices=args.max_devices, **slo)
            best = min(best, time.perf_counter() - start)
        top = result.ranked.row(0) if len(result.ranked) else None
        print(f"{model} on up to {args.max_devices} x {hardware}: {len(result.space):,} configurations in "
              f"{best:.3f} s ({len(result.space) / best:,.0f}/s); {len(result.ranked):,} meet the SLO"
              + (f"; best {top.output_tokens_per_s_per_device:,.0f} output tok/s per device" if top is not None
                 else ""))


if __name__ == "__main__":
    main()
