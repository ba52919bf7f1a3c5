"""The accuracy and fitted-factor tables of docs/validation.md ("Results"), from one `genmodel validate --calibrate
--json` run: prints Markdown to paste, so that the figures in the docs are the ones the command reports.

Usage: genmodel validate --calibrate --json > v.json && python scripts/validation_tables.py v.json
"""

from __future__ import annotations

import json
import sys

ROWS = [("**decode** (TPOT, per-user rate, throughput, e2e)", "phase:decode", True),
        ("**prefill** (TTFT, prefill throughput)", "phase:prefill", True),
        ("metric: TTFT", "metric:ttft", False), ("metric: TPOT / ITL", "metric:tpot", False),
        ("metric: throughput", "metric:throughput", False), ("metric: end-to-end latency", "metric:e2e_latency", False),
        ("batching: static (`estimate`)", "batching:static", True),
        ("batching: served (`serve`; never fitted)", "batching:served", True),
        ("architecture: dense models, decode", "architecture:dense decode", False),
        ("architecture: dense models, prefill", "architecture:dense prefill", False),
        ("architecture: mixture-of-experts models, decode", "architecture:moe decode", False),
        ("architecture: mixture-of-experts models, prefill", "architecture:moe prefill", False),
        ("kind: GPU", "kind:gpu", None), ("kind: NPU (Gaudi, Trainium, Inferentia)", "kind:npu", None),
        ("kind: SoC / edge (DGX Spark, Jetson, Apple)", "kind:soc", None), ("kind: TPU (v6e)", "kind:tpu", None),
        ("kind: CPU (Xeon 6980P)", "kind:cpu", None), ("kind: dataflow (SambaNova SN40L)", "kind:dataflow", None),
        ("engine: vLLM (GPU)", "engine:vllm", None), ("engine: TensorRT-LLM (C++ runtime)", "engine:trtllm", None),
        ("engine: TensorRT-LLM, PyTorch backend (1.x; served rows)", "engine:trtllm-pytorch", None),
        ("engine: llama.cpp", "engine:llamacpp", None), ("engine: LMDeploy", "engine:lmdeploy", None),
        ("engine: optimum-habana (Gaudi)", "engine:optimum-habana", None),
        ("engine: SGLang (Xeon CPU, H100)", "engine:sglang", None),
        ("engine: SGL-JAX (TPU)", "engine:sgl-jax", None), ("engine: vLLM TPU", "engine:vllm-tpu", None),
        ("engine: Neuron", "engine:neuron", None),
        ("engine: optimum-neuron (2023 generate loop)", "engine:optimum-neuron", None),
        ("engine: AutoAWQ (GEMM kernel)", "engine:autoawq", None),
        ("engine: AutoAWQ GEMV kernel", "engine:autoawq-gemv", None),
        ("engine: MLX", "engine:mlx", None), ("engine: vendor (SN40L)", "engine:vendor", None)]


def _cell(s: dict, full: bool | None) -> str:
    """'23.9% (53%; −2%) · 19.6%' (full), '23.9% (53%; −2%)' (False) or '23.9% (53%)' (None)."""
    head = f"{s['median_abs_error_pct']:.1f}% ({s['within_25pct']:.0%}"
    if full is None:
        return head + ")"
    head += f"; {s['median_signed_error_pct']:+.0f}%)".replace("-", "−")
    return head + (f" · {s['median_of_source_medians_pct']:.1f}%" if full else "")


def accuracy_table(d: dict) -> str:
    lines = ["| rows | n | sources | physics defaults (no fit) | fitted, in sample (shipped) | "
             "**fitted, leave one source out** |", "|---|---|---|---|---|---|"]
    listed = {key for _, key, _ in ROWS}
    rest = [(key.replace(":", ": ", 1), key, None) for key in d["leave_one_source_out"]
            if key.startswith("engine:") and key not in listed]  # an engine not named above still gets its row
    for label, key, full in ROWS + rest:
        if key not in d["leave_one_source_out"]:
            continue
        u, i, o = d["uncalibrated"][key], d["in_sample"][key], d["leave_one_source_out"][key]
        held = _cell(o, full)
        lines.append(f"| {label} | {o['n']} | {o['sources']} | {_cell(u, full)} | {_cell(i, full)} | "
                     f"{f'**{held}**' if full else held} |")
    return "\n".join(lines)


def _engine(name: str, e: dict) -> str:
    text = f"{name} {e['step_overhead_s'] * 1e3:g} ms"
    if e["step_overhead_per_sequence_s"]:
        text += f" + {e['step_overhead_per_sequence_s'] * 1e6:g} µs"
    if e["prefill_overhead_s"]:
        text += f", c {e['prefill_overhead_s'] * 1e3:g} ms"
    if e.get("memory_scale", 1.0) != 1.0:
        text += f", ×{e['memory_scale']:.2f}"
    return text + f" ({len(e['rows'])})"


def family_table(d: dict) -> str:
    lines = ["| family | rows | GEMM / attention | weights / KV bandwidth | engines (a + b per sequence; c per "
             "prefill; bandwidth scale) |", "|---|---|---|---|---|"]
    for family, f in d["calibration"].items():
        engines = "; ".join(_engine(n, e) for n, e in f["engines"].items() if e.get("fitted"))
        gemm = f"{f['compute_efficiency']:.2f} / {f['attention_efficiency']:.2f}"
        lines.append(f"| {family} | {len(f['rows'])} | {gemm} | {f['memory_efficiency']:.2f} / "
                     f"{f['kv_memory_efficiency']:.2f} | {engines} |")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        data = json.load(f)
    print(accuracy_table(data), "", family_table(data), "", json.dumps(data["band_coverage"]), sep="\n")
