"""The kernel-level checks: published kernel timings against the step's own physics (docs/formulas.md, "Checked
against published kernel timings").

Contract
--------
``KERNEL_FILES`` names the four shipped files (``validation/``): single GEMM launches (``kernels.csv``), whole MoE
layers (``moe_layers.csv``), attention calls (``attention_kernels.csv``) and all-reduces (``all_reduce.csv``). None of
their rows is a validation row of ``measured.csv`` and none is fitted on. ``kernel_errors(check, calibrated=False)``
returns ``(row, signed error %)`` per row of one file, the prediction that of ``genmodel.engine.kernels`` for the
row's shapes (``calibrated``: the device family's fitted fractions, else the kind's defaults); ``kernel_summary(
calibrated=False)`` the median signed and absolute errors, the share within ±25% and the sources of each class:

* GEMM launches: dense, grouped;
* MoE layers: the calls whose hit experts' weights exceed the device's caches, and those that fit in them (the
  benchmarks replay one routing, so those weights come from the cache: ``cache_resident``);
* attention: causal prompts, decode calls, speculative verify calls (``queries`` new tokens per sequence);
* all-reduces: up to 1 MiB, above 1 MiB.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

from genmodel.data.registry import builtin_root, get_hardware
from genmodel.engine.experts import expected_active_experts
from genmodel.engine.kernels import all_reduce_time_s, attention_time_s, gemm_time_s, moe_layer_time_s
from genmodel.specs.dtypes import bytes_per_element

KERNEL_FILES = {"gemm": "kernels.csv", "moe_layer": "moe_layers.csv", "attention": "attention_kernels.csv",
                "all_reduce": "all_reduce.csv"}
LARGE_MESSAGE_BYTES = 2**20  # all-reduces above this are bandwidth-bound on every device in the file


def kernel_file(check: str) -> Path:
    """The shipped file of one check (``KERNEL_FILES``)."""
    return builtin_root() / "validation" / KERNEL_FILES[check]


@functools.lru_cache(maxsize=8)
def _rows(check: str) -> tuple[dict[str, str], ...]:
    with kernel_file(check).open(newline="") as f:
        return tuple(csv.DictReader(f))


def cache_resident(row: dict[str, str]) -> bool:
    """Whether the weights of the experts an MoE-layer row's tokens hit fit in the device's caches."""
    hw = get_hardware(row["hardware"])
    cache = sum(tier.capacity_bytes for tier in hw.memory_tiers if tier.role == "cache")
    e, n, k, top, m = (int(row[c]) for c in ("experts", "intermediate", "hidden", "top_k", "tokens"))
    hit = float(expected_active_experts(np.array(float(m)), e, top))
    return cache > 0 and hit * 3 * n * k * bytes_per_element(row["weight_dtype"]) <= cache


def _predicted_s(check: str, r: dict[str, str], calibrated: bool) -> float:
    if check == "gemm":
        return gemm_time_s(r["hardware"], float(r["m"]), float(r["n"]), float(r["k"]), groups=float(r["groups"]),
                           dtype=r["dtype"], weight_dtype=r["weight_dtype"], calibrated=calibrated)
    if check == "moe_layer":
        return moe_layer_time_s(r["hardware"], int(r["experts"]), int(r["intermediate"]), int(r["hidden"]),
                                int(r["top_k"]), float(r["tokens"]), dtype=r["dtype"], weight_dtype=r["weight_dtype"],
                                calibrated=calibrated)
    if check == "attention":  # (a verify call: a decode call of ``queries`` new tokens per sequence)
        verify = r["phase"] == "verify"
        return attention_time_s(r["hardware"], "decode" if verify else r["phase"], int(r["batch"]), int(r["tokens"]),
                                int(r["heads"]), int(r["kv_heads"]), int(r["head_dim"]), mla=r["attention"] == "mla",
                                dtype=r["dtype"], kv_dtype=r["kv_dtype"], calibrated=calibrated,
                                queries=int(r["queries"]) if verify else 1)
    return all_reduce_time_s(r["hardware"], int(r["devices"]), float(r["message_bytes"]))


@functools.lru_cache(maxsize=16)
def kernel_errors(check: str, calibrated: bool = False) -> tuple[tuple[dict[str, str], float], ...]:
    """(row, signed error % of the predicted time against the measured one) per row of ``check``'s file."""
    return tuple((r, (_predicted_s(check, r, calibrated) / (float(r["time_us"]) * 1e-6) - 1.0) * 100.0)
                 for r in _rows(check))


def _class(check: str, r: dict[str, str]) -> str:
    if check == "gemm":
        return f"GEMM launches, {r['layout']}"
    if check == "moe_layer":
        return "MoE layers, " + ("hit experts in cache" if cache_resident(r) else "hit experts in memory")
    if check == "attention":
        return "attention, " + {"prefill": "causal prompts", "decode": "decode", "verify": "verify steps"}[r["phase"]]
    return "all-reduces, " + ("above 1 MiB" if int(r["message_bytes"]) > LARGE_MESSAGE_BYTES else "up to 1 MiB")


def kernel_summary(calibrated: bool = False) -> dict[str, dict]:
    """{class: {n, median_signed_error_pct, median_abs_error_pct, within_25pct, sources}} over the four files."""
    groups: dict[str, list[tuple[dict[str, str], float]]] = {}
    for check in KERNEL_FILES:
        for r, e in kernel_errors(check, calibrated):
            groups.setdefault(_class(check, r), []).append((r, e))
    out = {}
    for label, items in groups.items():
        errors = np.array([e for _, e in items])
        out[label] = {"n": len(items), "median_signed_error_pct": float(np.median(errors)),
                      "median_abs_error_pct": float(np.median(np.abs(errors))),
                      "within_25pct": float(np.mean(np.abs(errors) <= 25.0)),
                      "sources": len({r["source"] for r, _ in items})}
    return out
