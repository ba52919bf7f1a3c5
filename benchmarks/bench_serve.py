"""Benchmark: ``serve`` against ``estimate`` (issue targets: one configuration within 5x, and 10,000 points of
rate x configuration in one call within 5x of 10,000 estimates in one call).

Also times one configuration as a closed loop of 16 clients and saturated, as finite runs that are waves (a slow wave
at a request rate and an offline burst, on vLLM's and SGLang's profiles), the planner under served traffic
(``plan(..., request_rate=...)``: every layout x replica count in one serve call) and disaggregated serving (both
pools sized for a rate).

Usage: python benchmarks/bench_serve.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from genmodel import estimate, plan, serve, serve_disaggregated


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
    closed = best_of(args.repeats, lambda: serve(concurrency=16))
    saturated = best_of(args.repeats, lambda: serve(request_rate="max"))
    print(f"one configuration, 16 clients: serve {closed * 1e3:.2f} ms ({closed / one_estimate:.1f}x); saturated: "
          f"{saturated * 1e3:.2f} ms ({saturated / one_estimate:.1f}x)")
    # finite runs the engine holds at once (docs/serving.md section 2c): a slow wave on mixed steps (vLLM) and on
    # prefill steps apart (SGLang), and an offline burst
    for engine in ("vllm", "sglang"):
        wave = best_of(args.repeats, lambda e=engine: serve(request_rate=10.0, num_requests=50, engine=e))
        burst = best_of(args.repeats, lambda e=engine: serve(offline=50, engine=e))
        print(f"one configuration, 50 requests at 10/s on {engine}'s profile (a slow wave): {wave * 1e3:.2f} ms "
              f"({wave / one_estimate:.1f}x); 50 at once: {burst * 1e3:.2f} ms ({burst / one_estimate:.1f}x)")
    rates = np.linspace(0.5, 12.0, 100)[:, None]
    inputs = np.linspace(256, 4096, 100).round()[None, :]
    many_serve = best_of(args.repeats, lambda: serve(request_rate=rates, input_tokens=inputs))
    batches = np.arange(1, 101)[:, None]
    many_estimate = best_of(args.repeats, lambda: estimate(batch=batches, input_tokens=inputs, check_fit=False))
    print(f"10,000 points in one call: serve {many_serve * 1e3:.1f} ms, estimate {many_estimate * 1e3:.1f} ms "
          f"({many_serve / many_estimate:.1f}x)")
    for model, hardware, devices, dtype in (("llama-3.1-8b", "h100-sxm", 8, None),
                                            ("deepseek-v3", "dgx-h200", 64, "fp8")):
        result = plan(model, hardware, 2048, 256, ttft_s=1.0, tpot_s=0.05, request_rate=10.0, percentile=0.9,
                      max_devices=devices, weight_dtype=dtype)
        took = best_of(max(1, args.repeats // 2), lambda m=model, h=hardware, d=devices, w=dtype: plan(
            m, h, 2048, 256, ttft_s=1.0, tpot_s=0.05, request_rate=10.0, percentile=0.9, max_devices=d,
            weight_dtype=w))
        print(f"plan at 10 requests/s, {model} on up to {devices} x {hardware}: {len(result.space):,} configurations "
              f"in {took * 1e3:.0f} ms")
    took = best_of(args.repeats, lambda: serve_disaggregated(
        "llama-3.1-70b", "dgx-h100", 2048, 256, request_rate=5.0, ttft_target_s=1.0, tpot_target_s=0.05,
        percentile=0.9, prefill={"tp": 4}, decode={"tp": 4}, weight_dtype="fp8"))
    print(f"disaggregated pools sized for 5 requests/s (Llama-3.1-70B, TP4 pools): {took * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
