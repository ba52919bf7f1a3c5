"""genmodel's engine step against whole Llama-3.1-8B steps measured on a GPU by ``benchmarks/device_steps.py``.

Reads the measurement file (default: ``validation/device_steps_h200.json``, one run on an H200; a second run of the
same script, ``device_steps_h200_run2.json``, gives the run-to-run spread) and compares each measured step, replayed
from one CUDA graph, with genmodel's step for the same shape: ``genmodel.estimate`` of Llama-3.1-8B in BF16 on one
H200 SXM with the graph-replaying engine profile (vLLM's: 1.5 us between kernels) and no host work
(``Efficiency(step_overhead_s=0, step_overhead_per_sequence_s=0, prefill_overhead_s=0)``), read from ``breakdown()``
by kernel class: GEMM rows, attention rows, every other operator row. A decode record of ``context`` cached tokens is
the decode step of ``input_tokens=context, output_tokens=2`` (it attends context + 1 tokens, as the measured step
does); a prefill record is the prefill step (TTFT) of ``input_tokens=prompt_tokens``. Both with the device family's
fit and with the physics defaults (``calibrated=False``).

The classes are not equally comparable: the GEMMs are the same 129 kernels in both; the attention is one kernel per
layer in both, but PyTorch's flash backend splits a decode step's work only over sequences and KV heads (8 thread
blocks at batch 1), where serving engines split the context too (genmodel assumes they do); the other kernels are
PyTorch's unfused ones (about 25 a layer) against genmodel's engine-fused five. docs/validation.md ("Whole steps
measured on an H200") reports the figures; tests/test_device_steps.py asserts what it claims.

Usage: python benchmarks/compare_device_steps.py [FILE.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import genmodel
from genmodel.engine.estimate import _memory
from genmodel.engine.inputs import prepare
from genmodel.engine.parallel import Parallelism
from genmodel.engine.step import Chunk, Stepper
from genmodel.specs.hardware import Efficiency

HERE = Path(__file__).resolve().parent.parent / "validation"
DEFAULT, REPEAT = HERE / "device_steps_h200.json", HERE / "device_steps_h200_run2.json"
MIXED, MIXED_REPEAT = HERE / "device_mixed_steps_h200.json", HERE / "device_mixed_steps_h200_run2.json"
HARDWARE, MODEL, ENGINE = "h200-sxm", "llama-3.1-8b", "vllm"
NO_HOST = Efficiency(step_overhead_s=0, step_overhead_per_sequence_s=0, prefill_overhead_s=0)
CLASSES = ("gemm", "attention", "other")
GEMM_KERNELS, ATTENTION_KERNELS = 32 * 4 + 1, 32  # per step of the measured model: 4 projections a layer + LM head


def load(path: str | Path = DEFAULT) -> dict:
    return json.loads(Path(path).read_text())


def is_decode(record: dict) -> bool:
    return record["kind"] == "decode_step"


def label(record: dict) -> str:
    if record["kind"] == "mixed_step":
        return f"mixed, {record['batch']} decodes + {record['prompt_tokens']:,}-token prompt"
    if is_decode(record):
        return f"decode, batch {record['batch']}, context {record['context']:,}"
    return f"prefill, {record['prompt_tokens']:,} tokens"


def by_class(kinds, seconds) -> dict[str, float]:
    """Operator rows' seconds summed per kernel class: GEMM rows, attention rows, every other operator row."""
    out = dict.fromkeys(CLASSES, 0.0)
    for kind, t in zip(kinds, seconds, strict=True):
        out[kind if kind in ("gemm", "attention") else "other"] += float(t)
    return out


def stepper(calibrated: bool, context: int) -> Stepper:
    """The engine step ``serve`` composes (``genmodel.engine.step.Stepper``) for Llama-3.1-8B on one H200 with the
    graph-replaying profile and no host work; ``context``: the decodes' cached tokens."""
    s = prepare(MODEL, HARDWARE, 1, context, 2, None, None, None, embedding_dtype=None,
                parallel=Parallelism(1, 1, 1, 1, False, 1.0, 0.0, None, 1), num_devices=None,
                prefill_chunk_tokens=8192, flops_scale=1.0, bandwidth_scale=1.0, capacity_scale=1.0,
                interconnect_scale=1.0, check_fit=False, workload=None, costs=None, requests_per_s=None,
                efficiency=NO_HOST, calibrated=calibrated, cooling_w_per_w=None, engine=ENGINE, check_batch=False)
    mem = _memory(s)
    return Stepper(s, mem.inv_bandwidth, mem.placement)


def mixed_predicted(batch: int, context: int, prompt_tokens: int, calibrated: bool) -> dict[str, float]:
    """genmodel's seconds per kernel class and for the whole step of ``batch`` decodes over ``context`` cached
    tokens with one new prompt of ``prompt_tokens`` riding in the step (a ``Chunk``, as ``serve`` times its steps;
    no prompt: the decode step alone)."""
    chunk = Chunk(1.0, float(prompt_tokens), 0.0) if prompt_tokens else None
    res = stepper(calibrated, context).step("decode", float(batch), 1, (context + 1.0, context + 1.0), chunk=chunk)
    seconds = np.broadcast_to(res.weights, res.real.time_s.shape) * res.real.time_s  # one value per row
    out = by_class(res.table.kinds, seconds.reshape(len(res.table.kinds), -1)[:, 0])
    out["all"] = float(np.asarray(res.slot_s).reshape(-1)[0])
    return out


def predicted(record: dict, calibrated: bool) -> dict[str, float]:
    """genmodel's seconds per kernel class ("gemm", "attention", "other") and for the whole step ("all")."""
    if record["kind"] == "mixed_step":
        return mixed_predicted(record["batch"], record["context"], record["prompt_tokens"], calibrated)
    decode = is_decode(record)
    tokens = record["context"] if decode else record["prompt_tokens"]
    est = genmodel.estimate(MODEL, HARDWARE, batch=record["batch"], input_tokens=tokens, output_tokens=2,
                            engine=ENGINE, calibrated=calibrated, efficiency=NO_HOST)
    rows = est.breakdown("decode" if decode else "prefill")
    ops = rows["kind"] != "overhead"  # not the step overhead and eager launches: zero here, no host work
    out = by_class(rows["kind"][ops], rows["time_s"][ops])
    out["all"] = sum(out[c] for c in CLASSES)
    return out


def errors(data: dict, calibrated: bool) -> list[tuple[dict, dict[str, float]]]:
    """(record, signed error % per class and for "all") of every measured step."""
    out = []
    for r in data["records"]:
        p = predicted(r, calibrated)
        out.append((r, {c: (p[c] / r[f"{c}_s"] - 1.0) * 100.0 for c in (*CLASSES, "all")}))
    return out


def repeat_spread(a: dict, b: dict) -> float:
    """Largest relative difference (%) between two runs' graph-replayed times, over steps and classes."""
    worst = 0.0
    for ra, rb in zip(a["records"], b["records"], strict=True):
        for c in ("all", *CLASSES):
            worst = max(worst, abs(rb[f"{c}_s"] / ra[f"{c}_s"] - 1.0) * 100.0)
    return worst


def small_kernel_s(record: dict) -> float:
    """Mean device time (gap included) of a decode step's other kernels: norms, rotary, cache writes, activation,
    residual adds, embedding, argmax, on tensors of a few thousand to a few hundred thousand elements."""
    return record["other_s"] / (record["kernels"] - GEMM_KERNELS - ATTENTION_KERNELS)


def kv_stream_s(record: dict, bandwidth_bytes_per_s: float, sms: int = 132) -> tuple[float, float]:
    """(seconds to read a decode step's KV cache at ``bandwidth_bytes_per_s``, the same with only batch x KV heads
    of the device's ``sms`` multiprocessors streaming): a kernel with one thread block per (sequence, KV head)."""
    kv_bytes = 32 * 2 * record["batch"] * 8 * (record["context"] + 1) * 128 * 2  # layers, K and V, bf16
    blocks = record["batch"] * 8
    return kv_bytes / bandwidth_bytes_per_s, kv_bytes / (bandwidth_bytes_per_s * min(blocks, sms) / sms)


def main() -> None:
    data = load(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
    meta = data["meta"]
    print(f"{meta['device']}, torch {meta['torch']}; {meta['gqa']}; nvidia-smi after: {meta['smi_after']}")
    if len(sys.argv) == 1 and REPEAT.exists():
        print(f"second run: graph-replayed times within {repeat_spread(data, load(REPEAT)):.1f}% of the first")
    mixed = load(MIXED) if len(sys.argv) == 1 else {"records": []}
    if mixed["records"]:
        print(f"mixed steps: {mixed['meta']['mixed_check']:.1e} relative error of their logits against the decode and "
              f"prefill steps apart; second run within {repeat_spread(mixed, load(MIXED_REPEAT)):.1f}% of the first")
    for name, calibrated in (("fit", True), ("defaults", False)):
        print(f"\ngenmodel ({name}, graph-replaying engine, no host work) against the measured step, signed error:")
        print(f"  {'step':40s} {'measured':>10s} {'all':>7s} {'GEMMs':>7s} {'attention':>9s} {'other':>7s}")
        for r, e in errors(data, calibrated) + errors(mixed, calibrated):
            print(f"  {label(r):40s} {r['all_s'] * 1e3:7.2f} ms {e['all']:+6.0f}% {e['gemm']:+6.0f}% "
                  f"{e['attention']:+8.0f}% {e['other']:+6.0f}%")
    decode = [r for r in data["records"] if is_decode(r)]
    small = np.array([small_kernel_s(r) for r in decode])
    print(f"\ndecode steps' other kernels: {small.min() * 1e6:.1f}-{small.max() * 1e6:.1f} us each with the gap "
          f"({decode[0]['kernels']} kernels a step at batch 1)")
    copy = 4.24e12  # device-to-device copy measured on the same kind of device (validation/device_kernels_h200.json)
    for r in decode:
        full, blocks = kv_stream_s(r, copy)
        rate = full * copy / r["attention_s"] / 1e12
        print(f"  {label(r)}: attention {r['attention_s'] * 1e3:.2f} ms ({rate:.2f} TB/s of KV); at the copy's "
              f"bandwidth {full * 1e3:.2f} ms, with batch x 8 thread blocks streaming {blocks * 1e3:.2f} ms "
              f"(+ 2 us a kernel: {(blocks + 32 * 2e-6) * 1e3:.2f} ms)")
    print("eager steps (PyTorch issuing every kernel from Python) against the graph:")
    for r in data["records"]:
        print(f"  {label(r)}: eager {r['eager_s'] * 1e3:.1f} ms, graph {r['all_s'] * 1e3:.1f} ms; eager / kernels "
              f"{r['eager_s'] / r['kernels'] * 1e6:.1f} us")


if __name__ == "__main__":
    main()
