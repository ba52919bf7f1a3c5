"""Benchmark: a hardware design-space sweep (genmodel.sweep) of N configurations, reductions only, in flat memory.

Llama-3.1-70B with fp8 weights and KV cache on an H200 whose peak FLOP/s, HBM bandwidth, HBM capacity and
interconnect bandwidth are each scaled over a log grid, for TP 1-8, a few batch sizes and prompt and output lengths
(each configuration its own everything: no broadcast shortcut). The sweep keeps no rows; the top 10 by output
tokens/s per device, the Pareto front of tokens/s per user against per device and a TPOT histogram are reduced where
the blocks run. Prints the time per configuration and the peak resident memory of the client (and of every worker
with --scheduler local) after the first 1%, 10% and all of the sweep: flat memory means these stay the same.

Usage: python benchmarks/bench_design_sweep.py [--configs 1000000] [--scheduler local --workers 16]
       [--block-size 16384]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time

import genmodel
from genmodel.search.sweep import Progress, sweep


def spec(configs: int, block_size: int, model: str = "llama-3.1-70b", hardware: str = "h200-sxm") -> dict:
    """At least ``configs`` configurations: 4 layouts x 4 batches x 2 x 2 lengths x a^4 hardware scales."""
    side = max(2, math.ceil((configs / 64) ** 0.25 - 1e-9))
    scale = {"start": 0.25, "stop": 4.0, "num": side, "spacing": "log"}
    return {"name": "design-space", "models": [model], "hardware": [hardware],
            "datatypes": [{"weight": "fp8", "kv": "fp8"}], "layouts": {"tp": [1, 2, 4, 8]},
            "batch": [1, 16, 64, 256], "input_tokens": [1024, 8192], "output_tokens": [256, 2048],
            "flops_scale": scale, "bandwidth_scale": scale, "capacity_scale": scale, "interconnect_scale": scale,
            "metrics": ["tpot_s", "output_tokens_per_s_per_device", "tokens_per_s_per_user", "fits"],
            "rows": False, "block_size": block_size,
            "reduce": {"top_k": [{"metric": "output_tokens_per_s_per_device", "k": 10}],
                       "pareto": [{"x": "tokens_per_s_per_user", "y": "output_tokens_per_s_per_device"}],
                       "histogram": [{"metric": "tpot_s", "bins": 60, "range": [1e-3, 10.0], "spacing": "log"}]}}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=float, default=1e6)
    parser.add_argument("--scheduler", default=None, help="None (this process) or 'local'")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--block-size", type=int, default=16_384)
    parser.add_argument("--model", default="llama-3.1-70b")
    parser.add_argument("--hardware", default="h200-sxm")
    args = parser.parse_args()

    the_spec = spec(int(args.configs), args.block_size, args.model, args.hardware)
    genmodel.estimate(args.model, args.hardware, check_fit=False)  # load the databases before timing
    client = cluster = None
    if args.scheduler == "local":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers or os.cpu_count(), threads_per_worker=1, processes=True,
                               dashboard_address=":0")
        client = Client(cluster)
        client.run(lambda: genmodel.estimate(args.model, args.hardware, check_fit=False))  # warm the workers

    marks: dict[str, tuple[float, float]] = {}

    def progress(p: Progress) -> None:
        share = p.done / p.total
        for label, at in (("1%", 0.01), ("10%", 0.1), ("100%", 1.0)):
            if share >= at and label not in marks:
                marks[label] = (p.elapsed_s, peak_mib())
                print(f"  {label:>4} of the sweep: {p.done:,} configurations in {p.elapsed_s:,.1f} s, "
                      f"client peak RSS {peak_mib():,.0f} MiB", flush=True)

    start = time.perf_counter()
    result = sweep(the_spec, scheduler=client, progress=progress)
    wall = time.perf_counter() - start
    n = result.configurations
    cores = len(client.nthreads()) if client is not None else 1
    print(f"{n:,} configurations of {the_spec['models'][0]} on scaled {the_spec['hardware'][0]} in {wall:,.1f} s "
          f"on {cores} core(s): {wall / n * 1e6:.2f} us per configuration ({n / wall:,.0f}/s; "
          f"{wall * cores / n * 1e6:.2f} core-us per configuration)")
    best = result.top_k[0]["output_tokens_per_s_per_device"]
    print(f"  fit: {result.counts['fits']:,}; Pareto front: {len(result.pareto[0])} configurations; best "
          f"{best[0] if len(best) else float('nan'):,.0f} output tok/s per device")
    if client is not None:
        workers = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(f"  worker peak RSS: {min(workers.values()):,.0f}-{max(workers.values()):,.0f} MiB "
              f"({len(workers)} workers)")
        client.close()
        cluster.close()
    print(f"  client peak RSS at the end: {peak_mib():,.0f} MiB; block size {args.block_size:,}, "
          f"{math.ceil(n / args.block_size):,} blocks")


if __name__ == "__main__":
    main()
