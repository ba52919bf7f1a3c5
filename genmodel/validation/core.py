"""Validation against published measurements, and per-family calibration (docs/validation.md).

Contract
--------
``load_rows(path)`` reads a CSV with the columns of ``validation/measured.csv``; ``predict_rows(frame)``
maps each row to an ``estimate`` call (the vocabulary is strict and documented: genmodel model and hardware
names, ``weights/activations/kv`` datatypes, integer batch and lengths, one of ``METRICS``) and returns one
record per row: predicted and measured values in the row's unit and the signed error
(predicted / measured - 1, in %), or ``not_expressible`` with the reason. ``summarize`` gives, per metric group
and per hardware kind, the count, the median absolute percentage error and the share within 25%.

Calibration (``calibrate``): per hardware **family** (``FAMILIES``: e.g. every NVIDIA Hopper device), the achievable
fraction of compute, of memory bandwidth and a fixed per-step overhead are fitted by least squares on the log
error over that family's expressible rows (a grid over the two fractions, evaluated in one vectorized estimate
per row through flops_scale/bandwidth_scale, and the overhead added in closed form). Families with fewer than
``MIN_ROWS`` rows keep the defaults. ``leave_one_source_out`` refits without each source group and predicts its
rows, so that over-fitting shows. ``write_calibration`` stores the result in the hardware entries' efficiency
blocks with the date and the rows used.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genmodel.data.registry import builtin_dir, get_hardware, get_model
from genmodel.engine.realism import resolve_realism
from genmodel.errors import GenmodelError
from genmodel.engine.estimate import estimate
from genmodel.specs.hardware import Efficiency

COLUMNS = ["id", "source", "model", "dtype", "hardware", "num_devices", "interconnect", "system",
           "batch_or_concurrency", "input_len", "output_len", "tp", "pp", "ep", "metric", "value", "unit", "notes"]
# metric -> (estimate key, group)
METRICS = {
    "ttft": ("ttft_s", "prefill"), "prefill_throughput": ("prefill_tokens_per_s", "prefill"),
    "tpot": ("tpot_s", "decode"), "decode_rate_per_user": ("tokens_per_s_per_user", "decode"),
    "output_throughput": ("output_tokens_per_s", "decode"),
    "output_throughput_per_device": ("output_tokens_per_s_per_device", "decode"),
    "total_throughput": ("total_tokens_per_s", "decode"), "e2e_latency": ("e2e_latency_s", "decode"),
    "energy_per_output_token": ("energy_per_output_token_j", "energy"),
}
# the metric classes of the report: TTFT, TPOT/ITL (per-user decode rate is 1 / TPOT), end-to-end latency,
# throughput (output, total or prefill tokens per second) and energy
METRIC_CLASS = {"ttft": "ttft", "tpot": "tpot", "decode_rate_per_user": "tpot", "e2e_latency": "e2e_latency",
                "output_throughput": "throughput", "output_throughput_per_device": "throughput",
                "total_throughput": "throughput", "prefill_throughput": "throughput",
                "energy_per_output_token": "energy"}
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "tokens/s": 1.0, "J/token": 1.0}
# hardware families calibrated together (same architecture and software stack)
FAMILIES = {
    "nvidia-ampere": ["a100-40gb-sxm", "a100-80gb-sxm"],
    "nvidia-ada": ["l4", "l40s", "rtx-4090"],
    "nvidia-hopper": ["h100-sxm", "h100-pcie", "h200-sxm", "h800-sxm", "gh200"],
    "nvidia-blackwell": ["b200", "gb200-nvl72", "b300", "gb300-nvl72", "rtx-5090", "rtx-pro-6000-blackwell"],
    "amd-cdna3": ["mi300x", "mi325x"],
    "intel-gaudi": ["gaudi2", "gaudi3"],
    "google-tpu": ["tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu-v7-ironwood"],
    "apple-silicon": ["apple-m2-ultra", "apple-m3-ultra", "apple-m4-max"],
    "nvidia-edge": ["jetson-agx-orin-64gb", "dgx-spark-gb10"],
    "intel-xeon": ["xeon-6980p"],
    "sambanova": ["sambanova-sn40l"],
}
MIN_ROWS = 3
# fine steps of 0.05 where most fits land, coarser below (CPU software stacks reach a few percent of AMX peak)
COMPUTE_GRID = np.concatenate([[0.02, 0.05, 0.1, 0.15, 0.2, 0.25], np.linspace(0.3, 1.0, 15)])
MEMORY_GRID = np.concatenate([[0.2, 0.25, 0.3, 0.35], np.linspace(0.4, 1.0, 13)])
STEP_GRID = np.array([0.0, 0.25e-3, 0.5e-3, 1e-3, 1.5e-3, 2e-3, 3e-3, 5e-3, 8e-3, 12e-3, 20e-3, 35e-3, 50e-3])


def family_of(hardware: str) -> str | None:
    return next((f for f, members in FAMILIES.items() if hardware in members), None)


def load_rows(path: str | Path) -> pd.DataFrame:
    """Read a measurements CSV; ``GenmodelError`` naming missing columns."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except OSError as exc:
        raise GenmodelError(f"cannot read {path}: {exc.strerror}") from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise GenmodelError(f"{path} lacks the columns {', '.join(missing)} (see docs/validation.md)")
    return frame


def _int(text: str, name: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", str(text)):
        raise ValueError(f"{name} {text!r} is not a whole number")
    return int(text)


@dataclass
class Case:
    """One row mapped to estimate() arguments."""

    row: dict
    kwargs: dict
    key: str
    scale: float  # multiply the row's value by this to get SI units


def parse_row(row: dict) -> Case:
    """Map a row to estimate() arguments; ValueError with the reason when it is not expressible."""
    metric = row["metric"].strip()
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one genmodel predicts")
    unit = row["unit"].strip()
    if unit not in UNITS:
        raise ValueError(f"unit {unit!r} is not one of {', '.join(UNITS)}")
    try:
        model = get_model(row["model"].strip())
        hw = get_hardware(row["hardware"].strip())
    except GenmodelError as exc:
        raise ValueError(str(exc)) from None
    parts = row["dtype"].strip().lower().split("/")
    if len(parts) != 3:
        raise ValueError(f"dtype {row['dtype']!r} is not weights/activations/kv")
    batch = _int(row["batch_or_concurrency"], "batch")
    inputs, outputs = _int(row["input_len"], "input_len"), _int(row["output_len"], "output_len")
    tp, pp, ep, devices = (_int(row[k] or "1", k) for k in ("tp", "pp", "ep", "num_devices"))
    attention_dp = ep > 1 and tp < ep
    stage = ep if attention_dp else tp
    if devices % (stage * pp):
        raise ValueError(f"{devices} devices are not a multiple of the {stage * pp}-device replica")
    kwargs = {"model": model, "hardware": hw, "batch": batch, "input_tokens": inputs, "output_tokens": outputs,
              "weight_dtype": parts[0], "activation_dtype": parts[1], "kv_dtype": parts[2], "tp": tp, "pp": pp,
              "ep": ep, "dp": devices // (stage * pp), "attention_dp": attention_dp, "check_fit": False}
    return Case(row, kwargs, METRICS[metric][0], UNITS[unit])


def _value(result, key: str) -> np.ndarray:
    return np.asarray(result.metrics[key], dtype=float)


def predict_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """One record per row: prediction, measurement, signed error (%), or the reason it is not expressible."""
    records = []
    for row in frame.to_dict("records"):
        record = {"id": row["id"], "source": row["source"], "metric": row["metric"], "hardware": row["hardware"],
                  "model": row["model"], "measured": float(row["value"]) if _is_number(row["value"]) else np.nan}
        try:
            case = parse_row(row)
            result = estimate(**case.kwargs)
            predicted = float(_value(result, case.key)) / case.scale
        except (ValueError, GenmodelError) as exc:
            records.append({**record, "not_expressible": str(exc)})
            continue
        kind = case.kwargs["hardware"].kind
        error = (predicted / record["measured"] - 1) * 100
        records.append({**record, "kind": kind, **_labels(row), "predicted": predicted,
                        "error_pct": error, "fits": bool(result.metrics["fits"])})
    return pd.DataFrame(records)


def _labels(row: dict) -> dict[str, str]:
    """The report labels of a row's metric: its phase ('group') and its metric class."""
    metric = row["metric"].strip()
    return {"group": METRICS[metric][1], "metric_class": METRIC_CLASS[metric]}


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def summarize(records: pd.DataFrame) -> dict[str, dict]:
    """Per phase (prefill: TTFT and prefill throughput; decode: the rest), per metric class (ttft, tpot,
    e2e_latency, throughput, energy) and per hardware kind: n, median |error| (%) and share within 25%."""
    ok = records[records.get("error_pct", pd.Series(dtype=float)).notna()] if "error_pct" in records else records
    out: dict[str, dict] = {}
    for label, column in (("phase", "group"), ("metric", "metric_class"), ("kind", "kind")):
        if column not in ok:
            continue
        for name, part in ok.groupby(column):
            err = part.error_pct.abs()
            out[f"{label}:{name}"] = {"n": len(part), "median_abs_error_pct": float(err.median()),
                                      "within_25pct": float((err <= 25).mean())}
    return out


# ---- calibration ---------------------------------------------------------------------------------

def _grid_predictions(case: Case, base) -> dict[str, np.ndarray]:
    """Components of the prediction over the (compute, memory) efficiency grid for one row."""
    eff = resolve_realism(case.kwargs["hardware"])
    fs = (COMPUTE_GRID / eff.compute_efficiency)[:, None]
    bs = (MEMORY_GRID / eff.memory_efficiency)[None, :]
    kwargs = {**case.kwargs, "flops_scale": fs, "bandwidth_scale": bs}
    result = estimate(**kwargs)
    m = result.metrics
    par = result.parallel
    pp = float(np.asarray(par.pp))
    groups = float(np.asarray(par.attention_groups))
    b = case.kwargs["batch"] / groups
    m_pre = min(b, pp) if par.micro_batches is None else par.micro_batches
    fill = max(np.floor(m_pre), 1) + pp - 1
    slots = max(max(min(pp, np.floor(b)), 1), pp)
    # remove the entry's own step overhead so that the grid adds the candidate one
    step = eff.step_overhead_s
    return {"ttft": m["ttft_s"] - fill * step, "tpot": m["tpot_s"] - slots * step, "fill": fill, "slots": slots,
            "served": float(np.asarray(m["output_tokens_per_s"]).flat[0] * np.asarray(m["e2e_latency_s"]).flat[0]
                            / case.kwargs["output_tokens"]),
            "devices": float(np.asarray(m["devices"]).flat[0])}


def _metric_from(parts: dict, key: str, case: Case, step: float) -> np.ndarray:
    ttft = parts["ttft"] + parts["fill"] * step
    tpot = parts["tpot"] + parts["slots"] * step
    I, O = case.kwargs["input_tokens"], case.kwargs["output_tokens"]
    e2e = ttft + (O - 1) * tpot
    served = parts["served"]
    values = {"ttft_s": ttft, "tpot_s": tpot, "e2e_latency_s": e2e, "tokens_per_s_per_user": 1 / tpot,
              "output_tokens_per_s": served * O / e2e, "total_tokens_per_s": served * (I + O) / e2e,
              "output_tokens_per_s_per_device": served * O / e2e / parts["devices"],
              "prefill_tokens_per_s": served * I / ttft}
    return values[key]


@dataclass
class Calibration:
    family: str
    compute_efficiency: float
    memory_efficiency: float
    step_overhead_s: float
    rows: list[str]
    rms_log_error: float


def calibrate(frame: pd.DataFrame, exclude_source: str | None = None) -> dict[str, Calibration]:
    """Least-squares fit on log error, per family, of the two efficiencies and the per-step overhead.

    Only latency and throughput rows are used (energy rows validate the power model instead).
    """
    by_family: dict[str, list[tuple[Case, dict]]] = {}
    for row in frame.to_dict("records"):
        if exclude_source is not None and source_group(row["id"]) == exclude_source:
            continue
        try:
            case = parse_row(row)
        except (ValueError, GenmodelError):
            continue
        if METRICS[row["metric"].strip()][1] == "energy":
            continue
        family = family_of(case.kwargs["hardware"].name)
        if family is None:
            continue
        by_family.setdefault(family, []).append((case, _grid_predictions(case, None)))
    result = {}
    for family, cases in by_family.items():
        if len(cases) < MIN_ROWS:
            continue
        best = None
        for step in STEP_GRID:
            loss = np.zeros((len(COMPUTE_GRID), len(MEMORY_GRID)))
            for case, parts in cases:
                predicted = _metric_from(parts, case.key, case, step) / case.scale
                loss += np.log(predicted / float(case.row["value"])) ** 2
            i, j = np.unravel_index(np.argmin(loss), loss.shape)
            if best is None or loss[i, j] < best[0]:
                best = (loss[i, j], COMPUTE_GRID[i], MEMORY_GRID[j], step)
        loss, c, m, step = best
        result[family] = Calibration(family, float(c), float(m), float(step), [k.row["id"] for k, _ in cases],
                                     float(np.sqrt(loss / len(cases))))
    return result


def source_group(row_id: str) -> str:
    """The source group of a row id: its prefix before the last dash ('TRT05-03' -> 'TRT05')."""
    return row_id.rsplit("-", 1)[0]


def apply(frame: pd.DataFrame, calibrations: dict[str, Calibration]) -> pd.DataFrame:
    """Predictions with the given calibrations in force (hardware entries overridden in memory).

    A family without a fit in ``calibrations`` gets its kind's defaults, not the factors stored in its entries
    (those came from a fit on all rows, which would leak the held-out rows into leave-one-source-out).
    """
    rows = []
    for row in frame.to_dict("records"):
        try:
            case = parse_row(row)
        except (ValueError, GenmodelError):
            continue
        cal = calibrations.get(family_of(case.kwargs["hardware"].name))
        fitted = None if cal is None else Efficiency(
            compute_efficiency=cal.compute_efficiency, memory_efficiency=cal.memory_efficiency,
            step_overhead_s=cal.step_overhead_s, source=f"calibration of {cal.family}")
        result = estimate(**case.kwargs, efficiency=fitted, calibrated=False)
        predicted = float(_value(result, case.key)) / case.scale
        rows.append({"id": row["id"], **_labels(row), "kind": case.kwargs["hardware"].kind,
                     "error_pct": (predicted / float(row["value"]) - 1) * 100})
    return pd.DataFrame(rows)


def leave_one_source_out(frame: pd.DataFrame) -> pd.DataFrame:
    """For each source group: calibrate without it, predict its rows. One record per predicted row."""
    out = []
    for group in sorted({source_group(i) for i in frame.id}):
        held = frame[frame.id.map(source_group) == group]
        cal = calibrate(frame, exclude_source=group)
        out.append(apply(held, cal))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def write_calibration(calibrations: dict[str, Calibration], today: str | None = None,
                      folder: Path | None = None) -> list[Path]:
    """Store each family's fit in its hardware entries' efficiency block (text edit; comments survive)."""
    today = today or datetime.date.today().isoformat()
    folder = folder or builtin_dir("hardware")
    written = []
    for cal in calibrations.values():
        block = (f"efficiency:  # calibrated by 'genmodel validate --calibrate --write' on {today}\n"
                 f"  compute_efficiency: {cal.compute_efficiency:.4g}\n"
                 f"  memory_efficiency: {cal.memory_efficiency:.4g}\n"
                 f"  step_overhead_s: {cal.step_overhead_s * 1e3:.4g} ms\n"
                 f"  calibration:\n    family: {cal.family}\n    date: '{today}'\n"
                 f"    rows: [{', '.join(cal.rows)}]\n")
        for name in FAMILIES[cal.family]:
            path = folder / f"{name}.yaml"
            if not path.exists():
                continue
            text = path.read_text()
            text = re.sub(r"(?ms)^efficiency:.*?(?=^\S|\Z)", "", text).rstrip("\n") + "\n" + block
            path.write_text(text)
            written.append(path)
    return written
