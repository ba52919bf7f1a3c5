"""Measure GEMM and attention kernels on a GPU, for comparison with genmodel's kernel times (docs/validation.md,
"Kernels measured on an H200").

Runs where PyTorch and Triton see a CUDA GPU (not in CI: genmodel needs no GPU). It does not import genmodel; the
comparison is ``benchmarks/compare_device_kernels.py``, run where genmodel is installed, on the JSON this writes.

Measured, each with ``triton.testing.do_bench`` (the median of many launches, the L2 cache flushed before each, so
weights come from HBM as in a serving step whose weights exceed the L2):

* dense GEMMs [m x k] @ [k x n] through ``torch.matmul`` (cuBLAS), BF16 in and out, for the projection shapes of
  Llama-3.1-8B and Llama-3.1-70B on one device, m = 1 ... 8,192 rows;
* the same with FP8 (e4m3) inputs and per-tensor scales through ``torch._scaled_mm``, BF16 out, m >= 16;
* causal prefill attention through PyTorch's flash-attention backend (``scaled_dot_product_attention``), 32 query
  heads of 128 over 8 KV heads (expanded to 32, as the backend reads them), one sequence of S tokens;
* a device-to-device copy (streaming bandwidth, bytes read plus written);
* the GEMM chain of one Llama-3.1-8B decode step (the four projections of each of 32 layers, distinct weights,
  back to back in one captured CUDA graph), at m = 1 ... 256 rows: what the weights' stream costs a step with no host
  in the way.

Usage: python benchmarks/device_kernels.py OUT.json
"""

from __future__ import annotations

import json
import sys
import time

import torch
from device_common import graphed, smi
from triton.testing import do_bench

MS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192]
SHAPES = {  # (k, n): inputs and outputs of a projection on one device
    "llama-3.1-8b qkv": (4096, 6144), "llama-3.1-8b o": (4096, 4096),
    "llama-3.1-8b gate_up": (4096, 28672), "llama-3.1-8b down": (14336, 4096),
    "llama-3.1-70b qkv": (8192, 10240), "llama-3.1-70b o": (8192, 8192),
    "llama-3.1-70b gate_up": (8192, 57344), "llama-3.1-70b down": (28672, 8192),
}
ATTENTION_S = [512, 1024, 2048, 4096, 8192, 16384]
CHAIN_MS = [1, 8, 32, 64, 128, 256]


def bench(fn) -> float:
    """Median seconds of ``fn`` (do_bench: warm-up, then repeated launches with the L2 flushed before each)."""
    return do_bench(fn, warmup=20, rep=80, return_mode="median") * 1e-3


def gemms(records: list) -> None:
    dev = torch.device("cuda")
    for name, (k, n) in SHAPES.items():
        w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k**0.5
        w8 = w.to(torch.float8_e4m3fn)
        one = torch.ones((), device=dev, dtype=torch.float32)
        for m in MS:
            x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
            t = bench(lambda x=x, w=w: torch.matmul(x, w.t()))
            records.append({"kind": "gemm", "shape": name, "dtype": "bf16", "m": m, "n": n, "k": k, "time_s": t})
            if m >= 16:
                x8 = x.to(torch.float8_e4m3fn)
                try:
                    t8 = bench(lambda x8=x8, w8=w8, one=one: torch._scaled_mm(
                        x8, w8.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16))
                except RuntimeError as exc:  # record, do not stop the run
                    records.append({"kind": "gemm", "shape": name, "dtype": "fp8", "m": m, "error": str(exc)[:200]})
                    continue
                records.append({"kind": "gemm", "shape": name, "dtype": "fp8", "m": m, "n": n, "k": k,
                                "time_s": t8})
        w = w8 = x = None  # (this shape's tensors go before the next one's)
        torch.cuda.empty_cache()
        print(f"gemms {name} done", flush=True)


def attention(records: list) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dev = torch.device("cuda")
    for s in ATTENTION_S:
        q, k, v = (torch.randn(1, 32, s, 128, device=dev, dtype=torch.bfloat16) for _ in range(3))
        try:
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                t = bench(lambda q=q, k=k, v=v: torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                                               is_causal=True))
        except RuntimeError as exc:
            records.append({"kind": "attention", "s": s, "error": str(exc)[:200]})
            continue
        records.append({"kind": "attention", "s": s, "heads": 32, "head_dim": 128, "causal": True, "time_s": t})
    print("attention done", flush=True)


def copy_bandwidth(records: list) -> None:
    a = torch.empty(2 * 2**30, device="cuda", dtype=torch.uint8)
    b = torch.empty_like(a)
    t = bench(lambda a=a, b=b: b.copy_(a))
    records.append({"kind": "copy", "bytes_moved": 2 * a.numel(), "time_s": t})


def decode_chain(records: list) -> None:
    """The four projections of 32 Llama-3.1-8B layers back to back, replayed from one CUDA graph."""
    dev = torch.device("cuda")
    shapes = [SHAPES[f"llama-3.1-8b {p}"] for p in ("qkv", "o", "gate_up", "down")]
    weights = [[torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k**0.5 for k, n in shapes] for _ in range(32)]
    weight_bytes = sum(w.numel() * 2 for layer in weights for w in layer)
    for m in CHAIN_MS:
        xs = {k: torch.randn(m, k, device=dev, dtype=torch.bfloat16) for k in {4096, 14336}}

        def step(xs=xs):
            for layer in weights:
                for (k, _), w in zip(shapes, layer, strict=True):
                    torch.matmul(xs[k], w.t())

        t = bench(graphed(step))  # warm-up runs (cuBLAS workspaces) before the capture
        records.append({"kind": "decode_gemm_chain", "m": m, "kernels": 128, "weight_bytes": weight_bytes,
                        "time_s": t})
    print("decode chain done", flush=True)


def main() -> None:
    out = sys.argv[1]
    start = time.time()
    props = torch.cuda.get_device_properties(0)
    meta = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": props.name,
            "multiprocessors": props.multi_processor_count, "memory_bytes": props.total_memory,
            "smi_before": smi()}
    records: list = []
    copy_bandwidth(records)
    gemms(records)
    meta["smi_after_gemms"] = smi()
    attention(records)
    decode_chain(records)
    meta["smi_after"] = smi()
    meta["seconds"] = time.time() - start
    with open(out, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
    print(json.dumps(meta), flush=True)


if __name__ == "__main__":
    main()
