"""Measure decode attention over a long KV cache on a GPU, split over the context as serving engines' decode kernels
do (docs/validation.md, "Whole steps measured on an H200": decode attention over long contexts).

Runs where PyTorch and Triton see a CUDA GPU (not in CI). It does not import genmodel;
``tests/test_decode_attention.py`` reads what it writes (``validation/decode_attention_h200.json``) against genmodel's
KV stream. One layer of Llama-3.1-8B's attention (32 query heads over 8 KV heads of
128, BF16): ``batch`` sequences of one new token over ``context`` cached tokens, the 4 query heads of a KV head as 4
queries. Two ways are timed, each replayed from a CUDA graph, the median of ``triton.testing.do_bench`` (L2 flushed
before each launch, so the cache comes from HBM):

* ``whole``: PyTorch's flash backend over the whole context (one thread block per sequence and KV head);
* ``split``: the context in ``splits`` chunks, each chunk's attention in one flash launch over batch x splits (the
  backend's ``_scaled_dot_product_flash_attention``, which also returns each row's log-sum-exp), then the chunks'
  outputs combined with the softmax of their log-sum-exps (FlashDecoding's scheme). The cache is stored chunk-major
  ([batch, splits, KV heads, context / splits, 128]) so that each chunk is contiguous.

Each is checked against float32 attention over the whole context. Usage: python benchmarks/device_decode_attention.py
OUT.json
"""

from __future__ import annotations

import functools
import sys
import time

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's usual name
from device_common import graphed, smi, write_result
from triton.testing import do_bench

KV_HEADS, GROUP, HEAD_DIM = 8, 4, 128
CASES = [(1, 4096), (1, 16384), (1, 65536), (1, 131072), (4, 16384), (4, 65536), (16, 16384), (16, 32768)]
TARGET_BLOCKS = 264  # two thread blocks per multiprocessor of an H100/H200 (132)


def splits_for(batch: int, context: int) -> int:
    """Chunks per sequence: enough that batch x KV heads x chunks reaches TARGET_BLOCKS, a power of two dividing
    the context."""
    s = 1
    while batch * KV_HEADS * s < TARGET_BLOCKS and context % (2 * s) == 0 and context // (2 * s) >= 256:
        s *= 2
    return s


def split_attention(q, k_chunks, v_chunks, batch: int, splits: int):
    """q [batch, KV_HEADS, GROUP, HEAD_DIM]; k_chunks, v_chunks [batch * splits, KV_HEADS, chunk, HEAD_DIM]."""
    qs = q.unsqueeze(1).expand(batch, splits, KV_HEADS, GROUP, HEAD_DIM).reshape(batch * splits, KV_HEADS, GROUP,
                                                                                HEAD_DIM)
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention(qs, k_chunks, v_chunks)[:2]
    w = torch.softmax(lse.view(batch, splits, KV_HEADS, GROUP), dim=1)
    return (w.unsqueeze(-1) * out.view(batch, splits, KV_HEADS, GROUP, HEAD_DIM).float()).sum(1).to(q.dtype)


def main() -> None:
    out_path = sys.argv[1] if len(sys.argv) > 1 else "decode_attention.json"
    dev = torch.device("cuda")
    torch.manual_seed(0)
    meta = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "smi_before": smi(),
            "multiprocessors": torch.cuda.get_device_properties(dev).multi_processor_count}
    start, records = time.time(), []
    for batch, context in CASES:
        splits = splits_for(batch, context)
        chunk = context // splits
        k = torch.randn(batch, splits, KV_HEADS, chunk, HEAD_DIM, device=dev, dtype=torch.bfloat16)
        v = torch.randn(batch, splits, KV_HEADS, chunk, HEAD_DIM, device=dev, dtype=torch.bfloat16)
        q = torch.randn(batch, KV_HEADS, GROUP, HEAD_DIM, device=dev, dtype=torch.bfloat16)
        kc, vc = k.view(batch * splits, KV_HEADS, chunk, HEAD_DIM), v.view(batch * splits, KV_HEADS, chunk, HEAD_DIM)
        # the same cache in the usual layout [batch, KV heads, context, HEAD_DIM], for the whole-context kernel
        kw = k.permute(0, 2, 1, 3, 4).reshape(batch, KV_HEADS, context, HEAD_DIM)
        vw = v.permute(0, 2, 1, 3, 4).reshape(batch, KV_HEADS, context, HEAD_DIM)
        ref = F.scaled_dot_product_attention(q.float(), kw.float(), vw.float())
        got_split = split_attention(q, kc, vc, batch, splits)
        got_whole = F.scaled_dot_product_attention(q, kw, vw)
        rec = {"batch": batch, "context": context, "splits": splits,
               "kv_bytes": 2 * batch * KV_HEADS * context * HEAD_DIM * 2,
               "split_relative_error": float((got_split.float() - ref).norm() / ref.norm()),
               "whole_relative_error": float((got_whole.float() - ref).norm() / ref.norm())}
        del ref, got_split, got_whole
        split = graphed(functools.partial(split_attention, q, kc, vc, batch, splits))
        whole = graphed(functools.partial(F.scaled_dot_product_attention, q, kw, vw))
        rec["split_s"] = do_bench(split, warmup=10, rep=50, return_mode="median") * 1e-3
        rec["whole_s"] = do_bench(whole, warmup=10, rep=50, return_mode="median") * 1e-3
        records.append(rec)
        print(f"batch {batch}, context {context:,}, splits {splits}: split {rec['split_s'] * 1e6:.1f} us "
              f"({rec['kv_bytes'] / rec['split_s'] / 1e12:.2f} TB/s, error {rec['split_relative_error']:.1e}), whole "
              f"{rec['whole_s'] * 1e6:.1f} us ({rec['kv_bytes'] / rec['whole_s'] / 1e12:.2f} TB/s)", flush=True)
        del k, v, kw, vw, kc, vc, split, whole
        torch.cuda.empty_cache()
    write_result(out_path, meta, records, start, "cases")


if __name__ == "__main__":
    main()
