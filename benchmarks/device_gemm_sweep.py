"""Time BF16 GEMMs over a dense sweep of row counts on a GPU: how the time of one projection grows between powers of
two, where genmodel's tile and wave quantization put steps (docs/validation.md, "GEMMs between powers of two").

Runs where PyTorch and Triton see a CUDA GPU (not in CI). It does not import genmodel; the comparison is
``benchmarks/compare_gemm_sweep.py``. Each time is the median of ``triton.testing.do_bench`` (L2 flushed before each
launch) of ``torch.matmul`` (cuBLAS) of [m x k] @ [k x n], BF16 in and out, random data, for Llama-3.1-8B's four
projections and Llama-3.1-70B's output projection, m = 16 ... 2,304 in steps of 16 and the rows just above
512, 1,024 and 2,048 (one more row, 8 more).

With ``--fp8`` the same shapes in FP8 instead (e4m3 inputs, per-tensor scales, BF16 out, ``torch._scaled_mm``), at
the row counts that are multiples of 16.

Usage: python benchmarks/device_gemm_sweep.py OUT.json [--fp8]
"""

from __future__ import annotations

import sys
import time

import torch
from device_common import smi, write_result
from triton.testing import do_bench

SHAPES = {"llama-3.1-8b qkv": (4096, 6144), "llama-3.1-8b o": (4096, 4096), "llama-3.1-8b gate_up": (4096, 28672),
          "llama-3.1-8b down": (14336, 4096), "llama-3.1-70b o": (8192, 8192)}  # (k, n)
MS = sorted(set(range(16, 2305, 16)) | {513, 520, 1025, 1032, 2049, 2056})


def fp8_sweep(records: list, meta: dict) -> None:
    """The same shapes in FP8 (e4m3 inputs, per-tensor scales of 1, BF16 out) through ``torch._scaled_mm``
    (cuBLASLt), at the row counts that are multiples of 16 (its requirement)."""
    dev = torch.device("cuda")
    one = torch.ones((), device=dev, dtype=torch.float32)
    for name, (k, n) in SHAPES.items():
        w8 = (torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k**0.5).to(torch.float8_e4m3fn)
        x_all = torch.randn(max(MS), k, device=dev, dtype=torch.bfloat16).to(torch.float8_e4m3fn)
        ref = x_all[:64].float().double() @ w8.float().double().t()
        got = torch._scaled_mm(x_all[:64], w8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16).double()
        meta[f"fp8 relative_error {name}"] = float((got - ref).norm() / ref.norm())
        for m in (m for m in MS if m % 16 == 0):
            x = x_all[:m]
            t = do_bench(lambda x=x, w8=w8: torch._scaled_mm(x, w8.t(), scale_a=one, scale_b=one,
                                                             out_dtype=torch.bfloat16),
                         warmup=5, rep=25, return_mode="median") * 1e-3
            records.append({"shape": name, "dtype": "fp8", "m": m, "n": n, "k": k, "time_s": t})
        print(f"fp8 {name}: relative error {meta[f'fp8 relative_error {name}']:.1e}; m 512 / 528: "
              + " / ".join(f"{r['time_s'] * 1e6:.1f}" for r in records if r["shape"] == name
                           and r.get("dtype") == "fp8" and r["m"] in (512, 528)) + " us", flush=True)
        del w8, x_all


def main() -> None:
    out = next((a for a in sys.argv[1:] if not a.startswith("--")), "gemm_sweep.json")
    dev = torch.device("cuda")
    torch.manual_seed(0)
    meta = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "smi_before": smi(),
            "multiprocessors": torch.cuda.get_device_properties(dev).multi_processor_count}
    start, records = time.time(), []
    if "--fp8" in sys.argv:
        fp8_sweep(records, meta)
        write_result(out, meta, records, start, "GEMMs")
        return
    for name, (k, n) in SHAPES.items():
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k**0.5
        x_all = torch.randn(max(MS), k, device=dev, dtype=torch.bfloat16)
        ref = (x_all[:64].double() @ w.double().t())
        wt = w.t()
        got = (x_all[:64] @ wt).double()
        err = float((got - ref).norm() / ref.norm())
        for m in MS:
            x = x_all[:m]
            t = do_bench(lambda x=x, wt=wt: x @ wt, warmup=5, rep=25, return_mode="median") * 1e-3
            records.append({"shape": name, "m": m, "n": n, "k": k, "time_s": t})
        print(f"{name}: relative error {err:.1e}; m 512 / 513 / 528: "
              + " / ".join(f"{r['time_s'] * 1e6:.1f}" for r in records if r["shape"] == name and r["m"] in
                           (512, 513, 528)) + " us", flush=True)
        meta[f"relative_error {name}"] = err
        del w, wt, x_all
    write_result(out, meta, records, start, "GEMMs")


if __name__ == "__main__":
    main()
