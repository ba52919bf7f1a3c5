"""Per-family calibration of the realism factors on measurement rows (docs/validation.md, "Calibration").

Contract
--------
``calibrate(rows)``: per hardware **family** (``FAMILIES``: e.g. every NVIDIA Hopper device), the achievable
fraction of compute, of memory bandwidth and a fixed per-step overhead are fitted by least squares on the log
error over that family's expressible latency and throughput rows (energy rows check the power model instead):
a grid over the two fractions (``COMPUTE_GRID`` x ``MEMORY_GRID``), evaluated in one vectorized estimate per row
through flops_scale/bandwidth_scale, and the overheads of ``STEP_GRID`` added in closed form. Families with
fewer than ``MIN_ROWS`` rows are not fitted (they keep the per-kind defaults). Returns one ``FamilyFit`` per
fitted family.

``apply(rows, fits)`` predicts the expressible rows with those fits in force (a family without a fit gets its
kind's defaults, never the factors stored in its entries). ``leave_one_source_out(rows)`` refits without each
source group (row-id prefix, ``source_group``) and predicts that group's rows, so that over-fitting shows.
``write_calibration(fits)`` stores the fits in the hardware entries' ``efficiency`` blocks (with a structured
``calibration`` block: family, date, rows), only in a source checkout, and reloads the databases.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genmodel.data.registry import builtin_dir, is_source_checkout, reload
from genmodel.engine.estimate import estimate
from genmodel.engine.realism import resolve_realism
from genmodel.errors import ConfigurationError, GenmodelError
from genmodel.specs.hardware import Efficiency
from genmodel.table import Table
from genmodel.validation.predict import _table, predicted_value
from genmodel.validation.rows import Case, as_rows, parse_row, source_group

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
    """The calibration family of a device name, or None."""
    return next((f for f, members in FAMILIES.items() if hardware in members), None)


@dataclass
class FamilyFit:
    """The fitted factors of one family, the ids of the rows used and the root-mean-square log error."""

    family: str
    compute_efficiency: float
    memory_efficiency: float
    step_overhead_s: float
    rows: list[str]
    rms_log_error: float

    def efficiency(self) -> Efficiency:
        """The fit as an ``Efficiency`` override (the other factors stay at the kind defaults)."""
        return Efficiency(compute_efficiency=self.compute_efficiency, memory_efficiency=self.memory_efficiency,
                          step_overhead_s=self.step_overhead_s, source=f"calibration of {self.family}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (without the family name, the key of its record)."""
        out = asdict(self)
        del out["family"]
        return out


Calibration = FamilyFit  # the earlier name, kept for existing code


@dataclass
class _FitRow:
    """A row ready for fitting: its case, family, and its prediction's parts over the efficiency grid."""

    case: Case
    family: str
    parts: dict[str, Any]


def _grid_predictions(case: Case) -> dict[str, Any]:
    """Components of the prediction over the (compute, memory) efficiency grid for one row."""
    eff = resolve_realism(case.kwargs["hardware"])
    fs = (COMPUTE_GRID / eff.compute_efficiency)[:, None]
    bs = (MEMORY_GRID / eff.memory_efficiency)[None, :]
    result = estimate(**{**case.kwargs, "flops_scale": fs, "bandwidth_scale": bs})
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


def _metric_from(parts: dict[str, Any], key: str, case: Case, step: float) -> np.ndarray:
    """The row's metric over the grid with the per-step overhead ``step`` (SI units)."""
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


def _fit_rows(rows: Iterable[Mapping[str, str]]) -> list[_FitRow]:
    """The rows a fit can use: expressible (the engine predicts them), latency or throughput, in a family."""
    out = []
    for row in as_rows(rows):
        try:
            case = parse_row(row)
            if case.group == "energy":
                continue
            family = family_of(case.kwargs["hardware"].name)
            if family is None:
                continue
            predicted_value(case)  # the same checks as predict_rows (some apply to single configurations only)
            out.append(_FitRow(case, family, _grid_predictions(case)))
        except GenmodelError:
            continue
    return out


def _fit(prepared: list[_FitRow], exclude_source: str | None = None) -> dict[str, FamilyFit]:
    by_family: dict[str, list[_FitRow]] = {}
    for item in prepared:
        if exclude_source is not None and source_group(item.case.row["id"]) == exclude_source:
            continue
        by_family.setdefault(item.family, []).append(item)
    result = {}
    for family, items in by_family.items():
        if len(items) < MIN_ROWS:
            continue
        best = None
        for step in STEP_GRID:
            loss = np.zeros((len(COMPUTE_GRID), len(MEMORY_GRID)))
            for item in items:
                case = item.case
                predicted = _metric_from(item.parts, case.key, case, step) / case.scale
                loss += np.log(predicted / case.measured) ** 2
            i, j = np.unravel_index(np.argmin(loss), loss.shape)
            if best is None or loss[i, j] < best[0]:
                best = (loss[i, j], COMPUTE_GRID[i], MEMORY_GRID[j], step)
        loss, c, m, step = best
        result[family] = FamilyFit(family, float(c), float(m), float(step), [it.case.row["id"] for it in items],
                                   float(np.sqrt(loss / len(items))))
    return result


def calibrate(rows: Iterable[Mapping[str, str]], exclude_source: str | None = None) -> dict[str, FamilyFit]:
    """Least-squares fit on log error, per family, of the two efficiencies and the per-step overhead.

    Only latency and throughput rows are used (energy rows validate the power model instead); rows of the
    source group ``exclude_source`` are left out.
    """
    return _fit(_fit_rows(rows), exclude_source)


def apply(rows: Iterable[Mapping[str, str]], calibrations: Mapping[str, FamilyFit]) -> Table:
    """Predictions of the expressible rows with the given fits in force (hardware entries overridden in memory).

    A family without a fit in ``calibrations`` gets its kind's defaults, not the factors stored in its entries
    (those came from a fit on all rows, which would leak the held-out rows into leave-one-source-out).
    """
    records = []
    for row in as_rows(rows):
        try:
            case = parse_row(row)
            fit = calibrations.get(family_of(case.kwargs["hardware"].name))
            predicted, _ = predicted_value(case, efficiency=None if fit is None else fit.efficiency(),
                                           calibrated=False)
        except GenmodelError:
            continue
        records.append({"id": row["id"], "metric": case.metric, "hardware": case.kwargs["hardware"].name,
                        "kind": case.kwargs["hardware"].kind, "group": case.group, "metric_class": case.metric_class,
                        "measured": case.measured, "predicted": predicted,
                        "error_pct": (predicted / case.measured - 1) * 100})
    return _table(records)


def leave_one_source_out(rows: Iterable[Mapping[str, str]]) -> Table:
    """For each source group: calibrate without it, predict its rows. One record per predicted row."""
    rows = as_rows(rows)
    prepared = _fit_rows(rows)  # the grid predictions do not depend on the fit: made once for every group
    out = []
    for group in sorted({source_group(r["id"]) for r in rows}):
        held = [r for r in rows if source_group(r["id"]) == group]
        out.append(apply(held, _fit(prepared, exclude_source=group)))
    return Table.concat(out)


def _yaml_id(row_id: str) -> str:
    """A row id as a YAML flow-sequence item: bare when plain ('TRT05-01'), else quoted."""
    return row_id if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", row_id) else json.dumps(row_id)


def write_calibration(calibrations: Mapping[str, FamilyFit], today: str | None = None,
                      folder: Path | None = None) -> list[Path]:
    """Store each family's fit in its hardware entries' efficiency block (text edit; comments survive).

    Without ``folder`` this edits the repository's ``hardware_db`` files, so it needs a source checkout
    (``ConfigurationError`` otherwise). The databases are reloaded afterwards.
    """
    today = today or datetime.date.today().isoformat()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", today):
        raise ConfigurationError(f"today must be a date YYYY-MM-DD, got {today!r}", "today")
    if folder is None:
        if not is_source_checkout():
            raise ConfigurationError(
                "writing calibrations edits the hardware_db files of a source checkout, and this genmodel is an "
                "installed package; run it from a clone of the repository (pip install -e .)")
        folder = builtin_dir("hardware")
    written = []
    for cal in calibrations.values():
        block = (f"efficiency:  # calibrated by 'genmodel validate --calibrate --write' on {today}\n"
                 f"  compute_efficiency: {cal.compute_efficiency:.4g}\n"
                 f"  memory_efficiency: {cal.memory_efficiency:.4g}\n"
                 f"  step_overhead_s: {cal.step_overhead_s * 1e3:.4g} ms\n"
                 f"  calibration:\n    family: {cal.family}\n    date: '{today}'\n"
                 f"    rows: [{', '.join(map(_yaml_id, cal.rows))}]\n")
        for name in FAMILIES[cal.family]:
            path = Path(folder) / f"{name}.yaml"
            if not path.exists():
                continue
            text = path.read_text()
            text = re.sub(r"(?ms)^efficiency:.*?(?=^\S|\Z)", "", text).rstrip("\n") + "\n" + block
            partial = path.with_name(path.name + ".partial")
            partial.write_text(text)
            os.replace(partial, path)  # a file is either the old or the new one, never half written
            written.append(path)
    reload()
    return written
