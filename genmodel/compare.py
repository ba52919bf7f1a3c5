"""Rank hardware for one workload by cost per token, energy per token and latency.

Contract
--------
``compare_hardware(model, hardware_names, ...)`` evaluates the workload on each device or platform, with
the fewest devices that hold it (``genmodel.planner.size``: one device when the model fits), and returns a
pandas DataFrame, one row per hardware, sorted by ``usd_per_million_output_tokens`` ('cost'),
``energy_per_output_token_j`` ('energy') or ``e2e_latency_s`` ('latency'); unknown figures (no price,
no TDP) sort last. Hardware on which the model cannot be placed appears with ``fits`` false and a reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genmodel.errors import ConfigurationError, GenmodelError
from genmodel.estimate import estimate
from genmodel.planner import size
from genmodel.tco import CostAssumptions

SORT_KEYS = {"cost": "usd_per_million_output_tokens", "energy": "energy_per_output_token_j",
             "latency": "e2e_latency_s"}
COLUMNS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s_per_device", "energy_per_output_token_j",
           "avg_power_w", "usd_per_million_input_tokens", "usd_per_million_output_tokens", "usd_per_request",
           "usd_per_device_hour", "total_memory_bytes", "memory_capacity_bytes")


def compare_models(models: list, hardware, batch: int = 8, input_tokens: int = 1024, output_tokens: int = 256,
                   weight_dtype=None, kv_dtype=None, activation_dtype=None, costs: CostAssumptions | None = None,
                   sort_by: str = "cost") -> pd.DataFrame:
    """One row per model on the same hardware (each on the fewest devices that hold it)."""
    frames = []
    for model in models:
        row = compare_hardware(model, [hardware], batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                               activation_dtype, costs, sort_by)
        frames.append(row.assign(model=getattr(model, "name", model)))
    if not frames:
        return pd.DataFrame(columns=["model", "hardware", "fits", *COLUMNS])
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(SORT_KEYS[sort_by], na_position="last").reset_index(drop=True)


def compare_hardware(model, hardware: list, batch: int = 8, input_tokens: int = 1024, output_tokens: int = 256,
                     weight_dtype=None, kv_dtype=None, activation_dtype=None, costs: CostAssumptions | None = None,
                     sort_by: str = "cost") -> pd.DataFrame:
    """One row per hardware: the smallest split that holds the workload and its latency, energy and cost."""
    if sort_by not in SORT_KEYS:
        raise ConfigurationError(f"sort by one of {', '.join(SORT_KEYS)}, not {sort_by!r}")
    if not hardware:
        raise ConfigurationError("give at least one hardware name")
    rows = []
    for name in hardware:
        row: dict[str, object] = {"hardware": getattr(name, "name", name)}
        try:
            best = size(model, name, batch, input_tokens, output_tokens, weight_dtype, kv_dtype, activation_dtype)
            layout = best.best
            split = {k: int(layout[k]) for k in ("tp", "pp", "ep", "cp")}
            result = estimate(model, name, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                              activation_dtype, attention_dp=bool(layout.attention_dp), costs=costs, **split)
        except GenmodelError as exc:
            rows.append({**row, "devices": 0, "fits": False, "reason": str(exc)})
            continue
        d = result.to_dict()
        rows.append({**row, "devices": d["devices"], "split": f"tp{split['tp']} pp{split['pp']} ep{split['ep']}",
                     "fits": True, "reason": "", **{k: d[k] for k in COLUMNS}})
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    frame[list(COLUMNS)] = frame[list(COLUMNS)].astype(float)
    return frame.sort_values(SORT_KEYS[sort_by], na_position="last").reset_index(drop=True)
