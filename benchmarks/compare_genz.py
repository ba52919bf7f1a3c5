"""Peer comparison: GenZ (genz-llm) and genmodel on the same validation rows, same machine.

Not part of the tests: GenZ is installed only in this benchmark's environment:

    python3 -m venv /tmp/genzenv && /tmp/genzenv/bin/pip install genz-llm && /tmp/genzenv/bin/pip install -e .
    /tmp/genzenv/bin/python benchmarks/compare_genz.py [--data validation/measured.csv]

For every expressible row of the validation set whose model and hardware GenZ also knows (a mapping below), it
runs GenZ's prefill model (TTFT, prefill throughput), its decode model (TPOT, per-user rate) or both (end-to-end
rows, composed as genmodel defines them) with GenZ's own defaults (efficiency 1, one datatype for everything),
and genmodel's estimate with the shipped factors and with the per-kind defaults, and prints each one's error
against the measurement and its time per estimate. Results: docs/validation.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from genmodel import validation as v
from genmodel.engine.estimate import estimate
from genmodel.errors import GenmodelError

GENZ_SYSTEMS = {"a100-40gb-sxm": "A100_40GB_GPU", "a100-80gb-sxm": "A100_80GB_GPU", "h100-sxm": "H100_GPU",
                "h800-sxm": "H100_GPU", "gh200": "GH200_GPU", "tpu-v5e": "TPUv5e", "tpu-v5p": "TPUv5p",
                "tpu-v6e": "TPUv6", "mi300x": "MI300X", "mi325x": "MI325X", "gaudi3": "Gaudi3"}
GENZ_MODELS = {"llama-2-7b": "meta-llama/llama-2-7b", "llama-2-13b": "meta-llama/llama-2-13b",
               "llama-2-70b": "meta-llama/llama-2-70b", "llama-3.1-8b": "meta-llama/meta-llama-3.1-8b",
               "llama-3.1-70b": "meta-llama/meta-llama-3.1-70b", "llama-3.1-405b": "meta-llama/meta-llama-3.1-405b",
               "mistral-7b-v0.1": "mistralai/mistral-7b", "mixtral-8x7b": "mistralai/mixtral-8x7b"}
GENZ_BITS = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "int8": "int8", "int4": "int4", "fp4": "int4"}


def genz_predict(case: v.Case) -> float:
    """GenZ's prediction for the row, in SI units (seconds or tokens/s).

    GenZ's prefill model gives TTFT and its decode model the time of one decode step (its "Throughput" is
    batch / step time, decode only). Rows measured end to end (throughput over a whole static batch, end-to-end
    latency) are composed from both with the same definition genmodel uses, so neither tool is compared on a
    different quantity: e2e = TTFT + (O - 1) x TPOT, output throughput = replicas x batch x O / e2e.
    """
    from GenZ import decode_moddeling, prefill_moddeling

    k = case.kwargs
    B, I, O = k["batch"], k["input_tokens"], k["output_tokens"]
    common = {"model": GENZ_MODELS[k["model"].name], "batch_size": B, "input_tokens": I,
              "system_name": GENZ_SYSTEMS[k["hardware"].name], "bits": GENZ_BITS[k["weight_dtype"]],
              "tensor_parallel": k["tp"], "pipeline_parallel": k["pp"]}

    def ttft() -> float:
        return prefill_moddeling(**common)["Latency"] / 1e3

    def tpot() -> float:
        return decode_moddeling(**common, output_tokens=O, Bb=1)["Latency"] / 1e3

    if case.key == "ttft_s":
        return ttft()
    if case.key == "prefill_tokens_per_s":
        return B * I / ttft()
    if case.key == "tpot_s":
        return tpot()
    if case.key == "tokens_per_s_per_user":
        return 1 / tpot()
    e2e = ttft() + (O - 1) * tpot()
    replicas = k["dp"]
    if case.key == "e2e_latency_s":
        return e2e
    if case.key == "total_tokens_per_s":
        return replicas * B * (I + O) / e2e
    if case.key == "output_tokens_per_s":
        return replicas * B * O / e2e
    if case.key == "output_tokens_per_s_per_device":
        return B * O / e2e / (k["tp"] * k["pp"])
    raise ValueError(f"no GenZ mapping for {case.key}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parent.parent / "validation" / "measured.csv"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for row in v.load_rows(args.data):
        try:
            case = v.parse_row(row)
            v.predicted_value(case)  # rows the engine refuses (context too long ...) are not expressible either
        except GenmodelError:
            continue
        k = case.kwargs
        if (k["model"].name not in GENZ_MODELS or k["hardware"].name not in GENZ_SYSTEMS
                or case.key == "energy_per_output_token_j" or k["ep"] > 1):
            continue
        measured = case.measured * case.scale
        start = time.perf_counter()
        ours = float(np.asarray(estimate(**k).metrics[case.key]))
        ours_s = time.perf_counter() - start
        # the same estimate with the per-kind default efficiencies (no calibration on these rows)
        ours_default = float(np.asarray(estimate(**k, calibrated=False).metrics[case.key]))
        try:
            start = time.perf_counter()
            theirs = genz_predict(case)
            theirs_s = time.perf_counter() - start
        except Exception as exc:  # GenZ fails on some inputs; report it rather than stop
            print(f"{row['id']:12} GenZ failed: {type(exc).__name__}: {str(exc)[:80]}")
            continue
        rows.append((row["id"], case.key, ours / measured - 1, theirs / measured - 1, ours_s, theirs_s,
                     ours_default / measured - 1))
        print(f"{row['id']:12} {case.key:30} genmodel {ours / measured - 1:+7.1%} (defaults "
              f"{ours_default / measured - 1:+7.1%})  GenZ {theirs / measured - 1:+9.1%}"
              f"   {ours_s * 1e3:6.1f} ms vs {theirs_s * 1e3:7.1f} ms")
    if not rows:
        print("no row both tools can express")
        return
    med = statistics.median
    within = lambda i: sum(abs(r[i]) <= 0.25 for r in rows) / len(rows)  # noqa: E731
    print(f"\n{len(rows)} rows, median |error| (share within 25%): genmodel calibrated "
          f"{med(abs(r[2]) for r in rows):.1%} ({within(2):.0%}), genmodel per-kind defaults "
          f"{med(abs(r[6]) for r in rows):.1%} ({within(6):.0%}), GenZ {med(abs(r[3]) for r in rows):.1%} "
          f"({within(3):.0%})")
    print(f"median time per estimate: genmodel {med(r[4] for r in rows) * 1e3:.1f} ms, GenZ "
          f"{med(r[5] for r in rows) * 1e3:.1f} ms (GenZ runs its prefill and decode models for end-to-end rows)")


if __name__ == "__main__":
    main()
