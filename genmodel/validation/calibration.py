"""Calibration of the realism on measurement rows: per hardware family and per serving engine, with priors.

Contract
--------
The prediction's physics (shapes, overlap, padding) is fixed; what is fitted are a handful of physical factors:

* per hardware **family** (``FAMILIES``: e.g. every NVIDIA Hopper device): the achievable fraction of peak FLOP/s
  in large GEMMs and fused attention (one multiplier ``k_c`` on the device defaults: the kind's, or a device's
  measured GEMM fraction, ``genmodel.engine.realism.device_defaults``) and of peak bandwidth (``k_m``, for weight
  streaming and, at the kind's ratio, for KV-cache reads in decode attention). The fitted fractions are those of the
  device most of the family's rows ran on, and every member's entry gets them;
* per (family, **engine**): the engine's host work per step, ``a + b x sequences``, and per prefill step ``c``;
  and, where the engine's rows vary batch or model and another engine shares the family, the ratio of the
  engine's achieved bandwidth to the family's (``memory_scale``, in whole steps of the memory grid, prior
  sigma 0.15 in log around 1: shrunk toward the family).

The fit is a maximum a posteriori estimate: least squares on the log error of the family's expressible latency
and throughput rows (each row weighted by 1/sqrt(rows of its hold-out group in the family), so that one large
source does not carry the fit), plus Gaussian priors on the log of each factor centred on its documented default
(``PRIOR_SIGMA``): the fit shrinks toward the physics where the data say little. What suffices: ``a`` is fitted
for an engine with at least ``MIN_ROWS`` rows in the family; ``b`` only when those rows span at least two batch
sizes (a step cost and a bandwidth fraction can only be told apart by a source that varies batch or model);
otherwise the engine profile's value is kept and the record says so (``fitted``). Families with fewer than
``MIN_ROWS`` rows are not fitted; ``c`` is fitted when the engine has at least two prefill rows. The grids:
``COMPUTE_SCALES`` x ``MEMORY_SCALES`` (one vectorized estimate per row through flops_scale/bandwidth_scale, with
the step costs set to zero) and ``STEP_GRID`` x ``PER_SEQUENCE_GRID`` x ``PREFILL_GRID`` added in closed form
(TTFT = T0 + slots x (a + b n + c)).

Rows that are not fitted: served rows (``serve`` is checked out of sample), energy rows, and TTFTs timed by an HTTP
client (``measured_at`` client), which hold the request's trip through the server, chat template and tokenization.

``apply(rows, fits)`` predicts the expressible rows with those fits in force (a family without a fit gets its
kind's and engines' defaults, never the factors stored in its entries). ``leave_one_source_out(rows)`` refits
without each hold-out group (``holdout_group``: publisher-engine-harness) and predicts that group's rows.
``write_calibration(fits)`` stores the fits in the hardware entries' ``efficiency`` blocks, only in a source
checkout, and reloads the databases.
"""

from __future__ import annotations

import datetime
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genmodel.data.registry import builtin_dir, get_engine, is_source_checkout, reload
from genmodel.engine.estimate import estimate
from genmodel.engine.realism import device_defaults
from genmodel.errors import ConfigurationError, GenmodelError
from genmodel.specs.hardware import Efficiency
from genmodel.table import Table
from genmodel.validation.predict import _table, client_latency_s, predicted_value, with_memory_fraction
from genmodel.validation.rows import Case, as_rows, parse_row

# hardware families calibrated together (same architecture)
FAMILIES = {
    "nvidia-ampere": ["a100-40gb-sxm", "a100-80gb-sxm", "a100-80gb-pcie"],
    "nvidia-ada": ["l4", "l40s", "rtx-4090"],
    "nvidia-hopper": ["h100-sxm", "h100-pcie", "h200-sxm", "h800-sxm", "gh200"],
    # datacenter Blackwell (sm_100: tcgen05 tensor cores, HBM3e) and client Blackwell (sm_120: warp-level mma,
    # GDDR7) are different microarchitectures and memory systems: one's fit says nothing about the other
    "nvidia-blackwell": ["b200", "gb200-nvl72", "b300", "gb300-nvl72"],
    "nvidia-blackwell-client": ["rtx-5090", "rtx-pro-6000-blackwell"],
    "amd-cdna3": ["mi300x", "mi325x", "mi355x"],
    "intel-gaudi": ["gaudi2", "gaudi3"],
    "aws-neuron": ["trainium2", "inferentia2"],
    "google-tpu": ["tpu-v4", "tpu-v5e", "tpu-v5p", "tpu-v6e", "tpu-v7-ironwood"],
    "apple-silicon": ["apple-m2-ultra", "apple-m3-ultra", "apple-m4-max"],
    # Jetson AGX Orin (Ampere sm_87 with LPDDR5) and DGX Spark's GB10 (Blackwell sm_121 with LPDDR5X) share a
    # market, not an architecture
    "nvidia-orin": ["jetson-agx-orin-64gb"],
    "nvidia-gb10": ["dgx-spark-gb10"],
    "intel-xeon": ["xeon-6980p"],
    "sambanova": ["sambanova-sn40l"],
}
MIN_ROWS = 3
COMPUTE_SCALES = np.geomspace(0.08, 1.25, 27)  # multiplies the kind's GEMM and attention fractions
# multiplies the kind's weight-streaming fraction and, with it, the KV-read fraction (same memory system): their
# ratio is physics, not fitted; a separate factor did not improve held-out errors on the current data
MEMORY_SCALES = np.geomspace(0.3, 1.15, 19)
STEP_GRID = np.array([0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 12, 20, 35]) * 1e-3
PER_SEQUENCE_GRID = np.array([0, 1, 3, 10, 30, 100, 300]) * 1e-6
PREFILL_GRID = np.array([0, 0.5, 1, 2, 4, 8, 16]) * 1e-3
# an engine's bandwidth relative to its family's: shifts of whole MEMORY_SCALES steps (about 7.8% each)
ENGINE_MEMORY_SHIFTS = np.arange(-4, 5)
# prior widths on the log of each factor: streaming bandwidth is known to about +-10% from copy/STREAM
# microbenchmarks (87-90% of HBM peak on H100 and A100) and large-GEMM throughput to about +-15% (cuBLAS BF16 at
# 76-86% of dense peak, FP8 paths lower); host costs per step to about a factor e (a) and 4.5 (b); offsets keep zero
# allowed. Wider efficiency priors (0.3) let a family's few sources trade bandwidth against step costs and
# overheads the model has not got (held-out decode error 23.9% against 18.8% with these widths, docs/validation.md)
PRIOR_SIGMA = {"compute": 0.15, "memory": 0.1, "step": 1.0, "per_sequence": 1.5, "prefill": 1.5,
               "engine_memory": 0.15}
RESIDUAL_SIGMA = 0.25  # typical log error of one row (likelihood width): data and priors weigh in these units
STEP_OFFSET_S, PER_SEQUENCE_OFFSET_S, PREFILL_OFFSET_S = 0.05e-3, 1e-6, 0.25e-3
GROUP_DEFAULT = "the device's usual engine"


def family_of(hardware: str) -> str | None:
    """The calibration family of a device name, or None."""
    return next((f for f, members in FAMILIES.items() if hardware in members), None)


@dataclass
class EngineStepFit:
    """One engine's host work per step on one family, and whether each part was fitted or kept at its default."""

    step_overhead_s: float
    step_overhead_per_sequence_s: float
    prefill_overhead_s: float
    rows: list[str]
    fitted: list[str] = field(default_factory=list)
    memory_scale: float = 1.0


@dataclass
class FamilyFit:
    """The fitted factors of one family, its engines' step costs, the rows used and the weighted RMS log error."""

    family: str
    kind: str
    compute_efficiency: float
    memory_efficiency: float
    attention_efficiency: float
    kv_memory_efficiency: float
    engines: dict[str, EngineStepFit]
    rows: list[str]
    rms_log_error: float

    def efficiency(self, engine: str | None = None) -> Efficiency:
        """The fit as an ``Efficiency`` override for rows served by ``engine`` (its step costs when fitted)."""
        step = self.engines.get(engine) if engine else None
        scale = 1.0 if step is None else step.memory_scale
        return Efficiency(compute_efficiency=self.compute_efficiency,
                          memory_efficiency=min(self.memory_efficiency * scale, 1.0),
                          attention_efficiency=self.attention_efficiency,
                          kv_memory_efficiency=min(self.kv_memory_efficiency * scale, 1.0),
                          step_overhead_s=None if step is None else step.step_overhead_s,
                          step_overhead_per_sequence_s=None if step is None else step.step_overhead_per_sequence_s,
                          prefill_overhead_s=None if step is None else step.prefill_overhead_s,
                          source=f"calibration of {self.family}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (without the family name, the key of its record)."""
        out = asdict(self)
        del out["family"]
        return out


Calibration = FamilyFit  # the earlier name, kept for existing code


@dataclass
class _FitRow:
    """A row ready for fitting: its case, family, weight and its prediction's parts over the grid."""

    case: Case
    family: str
    parts: dict[str, Any]
    weight: float = 1.0


def _grid_predictions(case: Case) -> dict[str, Any]:
    """Components of the prediction over the (compute, memory) scale grid for one row, without step costs:
    shape (COMPUTE_SCALES, MEMORY_SCALES). bandwidth_scale multiplies the bandwidth itself, so it scales the
    weight-streaming and the KV-read time alike."""
    zero = with_memory_fraction(case, {"efficiency": Efficiency(
        step_overhead_s=0.0, step_overhead_per_sequence_s=0.0, prefill_overhead_s=0.0)})["efficiency"]
    result = estimate(**{**case.kwargs, "flops_scale": COMPUTE_SCALES[:, None],
                         "bandwidth_scale": MEMORY_SCALES[None, :], "efficiency": zero, "calibrated": False})
    m = result.metrics
    return {"ttft": m["ttft_s"], "tpot": m["tpot_s"], "fill": float(np.asarray(result.prefill_slots).flat[0]),
            "slots": float(np.asarray(result.decode_slots).flat[0]),
            "n_pre": float(np.asarray(result.prefill_step_sequences).flat[0]),
            "n_dec": float(np.asarray(result.decode_step_sequences).flat[0]),
            "served": float(np.asarray(m["output_tokens_per_s"]).flat[0] * np.asarray(m["e2e_latency_s"]).flat[0]
                            / case.kwargs["output_tokens"]),
            "devices": float(np.asarray(m["devices"]).flat[0])}


def _metric_from(parts: dict[str, Any], key: str, case: Case, a, b, c=0.0) -> np.ndarray:
    """The row's metric over the grid with step costs a + b n (+ c per prefill step; SI units); a, b, c broadcast
    after the grid axes. A client-timed TTFT or end-to-end latency holds the engine's server time once
    (``client_latency_s``), as in ``predicted_value``."""
    ttft = parts["ttft"] + parts["fill"] * (a + b * parts["n_pre"] + c)
    tpot = parts["tpot"] + parts["slots"] * (a + b * parts["n_dec"])
    I, O = case.kwargs["input_tokens"], case.kwargs["output_tokens"]
    e2e = ttft + (O - 1) * tpot
    served, client = parts["served"], client_latency_s(case)
    values = {"ttft_s": ttft + client, "tpot_s": tpot, "e2e_latency_s": e2e + client, "tokens_per_s_per_user": 1 / tpot,
              "output_tokens_per_s": served * O / e2e, "total_tokens_per_s": served * (I + O) / e2e,
              "output_tokens_per_s_per_device": served * O / e2e / parts["devices"],
              "prefill_tokens_per_s": served * I / ttft}
    return values[key]


def _fit_rows(rows: Iterable[Mapping[str, str]]) -> list[_FitRow]:
    """The rows a fit can use: expressible (the engine predicts them), latency or throughput, in a family, not a
    TTFT timed by an HTTP client (``measured_at`` client: it holds the request's trip through the server, chat
    template and tokenization, of which the model has only the engine's ``request_latency_s``; a client's TPOT and
    throughput are the engine's cadence), and not of an engine whose profile is not ``fittable``."""
    out = []
    for row in as_rows(rows):
        try:
            case = parse_row(row)
            if case.group == "energy" or case.served is not None:
                continue
            if case.metric == "ttft" and case.client_timed:
                continue  # a TTFT timed by an HTTP client: the request's trip through the server is in it
            if not get_engine(case.engine).fittable:
                continue  # an engine whose dominant cost the model lacks (its profile says so)
            family = family_of(case.kwargs["hardware"].name)
            if family is None:
                continue
            predicted_value(case, lean=True)  # the same checks as predict_rows (some apply to single configurations)
            out.append(_FitRow(case, family, _grid_predictions(case)))
        except GenmodelError:
            continue
    return out


def _log_prior(value, default: float, offset: float, sigma: float):
    return (np.log((value + offset) / (default + offset)) / sigma) ** 2


def _fit_family(family: str, items: list[_FitRow]) -> FamilyFit:
    kind = items[0].case.kwargs["hardware"].kind
    # the scales multiply each row's device defaults (the grid's estimates are uncalibrated); the fitted fractions are
    # stated for the family's most represented device (the first of those tied)
    by_name = {it.case.kwargs["hardware"].name: it.case.kwargs["hardware"] for it in items}
    most = Counter(it.case.kwargs["hardware"].name for it in items).most_common(1)[0][0]
    base = device_defaults(by_name[most])
    groups: dict[str, int] = {}
    for it in items:
        groups[it.case.holdout] = groups.get(it.case.holdout, 0) + 1
    kc, km = COMPUTE_SCALES[:, None], MEMORY_SCALES[None, :]
    prior_k = _log_prior(kc, 1.0, 0.0, PRIOR_SIGMA["compute"]) + _log_prior(km, 1.0, 0.0, PRIOR_SIGMA["memory"])
    valid = ((kc * max(base.compute_efficiency, base.attention_efficiency) <= 1.0)
             & (km * max(base.memory_efficiency, base.kv_memory_efficiency) <= 1.0))
    by_engine: dict[str, list[_FitRow]] = {}
    for it in items:
        by_engine.setdefault(it.case.engine, []).append(it)
    total = np.where(valid, prior_k, np.inf)
    choices: dict[str, tuple] = {}
    grid = total.shape
    for engine, rows in by_engine.items():
        spec = get_engine(engine)
        fit_a = len(rows) >= MIN_ROWS
        fit_b = fit_a and len({r.case.kwargs["batch"] for r in rows}) >= 2
        fit_c = fit_a and sum(r.case.group == "prefill" for r in rows) >= 2
        grids = [np.unique(np.append(g, d)) if f else np.array([d]) for g, d, f in (
            (STEP_GRID, spec.step_overhead_s, fit_a),
            (PER_SEQUENCE_GRID, spec.step_overhead_per_sequence_s, fit_b),
            (PREFILL_GRID, spec.prefill_overhead_s, fit_c))]
        a, b, c = grids[0][:, None, None], grids[1][None, :, None], grids[2][None, None, :]
        loss = np.zeros((*grid, *(len(g) for g in grids)))
        for r in rows:
            weight = 1.0 / np.sqrt(groups[r.case.holdout])
            parts = {k: (v[..., None, None, None] if isinstance(v, np.ndarray) else v) for k, v in r.parts.items()}
            predicted = _metric_from(parts, r.case.key, r.case, a, b, c) / r.case.scale
            loss += weight * (np.log(predicted / r.case.measured) / RESIDUAL_SIGMA) ** 2
        loss += (_log_prior(a, spec.step_overhead_s, STEP_OFFSET_S, PRIOR_SIGMA["step"])
                 + _log_prior(b, spec.step_overhead_per_sequence_s, PER_SEQUENCE_OFFSET_S, PRIOR_SIGMA["per_sequence"])
                 + _log_prior(c, spec.prefill_overhead_s, PREFILL_OFFSET_S, PRIOR_SIGMA["prefill"]))
        flat = loss.reshape(*grid, -1)
        best = flat.argmin(axis=-1)
        engine_loss = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
        # the engine's own bandwidth share: only where its rows vary batch or model (else it is not told apart from
        # the step cost) and another engine shares the family (else the family's fraction is the engine's)
        fit_m = (fit_b or len({r.case.kwargs["model"].name for r in rows}) >= 2) and len(by_engine) > 1 \
            and len(rows) >= MIN_ROWS
        shift = np.zeros(grid, dtype=int)
        if fit_m:
            step = np.log(MEMORY_SCALES[1] / MEMORY_SCALES[0])
            options = []
            for j in ENGINE_MEMORY_SHIFTS:  # loss at family km with the engine at km x ratio**j
                moved = np.full(grid, np.inf)
                if j >= 0:
                    moved[..., :grid[-1] - j] = engine_loss[..., j:]
                else:
                    moved[..., -j:] = engine_loss[..., :j]
                options.append(moved + (j * step / PRIOR_SIGMA["engine_memory"]) ** 2)
            options = np.stack(options)
            pick = options.argmin(axis=0)
            engine_loss = np.take_along_axis(options, pick[None], axis=0)[0]
            shift = ENGINE_MEMORY_SHIFTS[pick]
            # the step-cost choice belongs to the shifted bandwidth
            best = np.take_along_axis(
                np.stack([np.roll(best, -j, axis=-1) for j in ENGINE_MEMORY_SHIFTS]), pick[None], axis=0)[0]
        total = total + engine_loss
        choices[engine] = (best, grids, (fit_a, fit_b, fit_c), [r.case.row["id"] for r in rows], shift, fit_m)
    index = np.unravel_index(np.argmin(total), total.shape)
    engines = {}
    names = ("step_overhead_s", "step_overhead_per_sequence_s", "prefill_overhead_s")
    ratio = MEMORY_SCALES[1] / MEMORY_SCALES[0]
    for engine, (best, grids, fitted, ids, shift, fit_m) in choices.items():
        ia, ib, ic = np.unravel_index(best[index], tuple(len(g) for g in grids))
        engines[engine] = EngineStepFit(float(grids[0][ia]), float(grids[1][ib]), float(grids[2][ic]), ids,
                                        [n for n, f in zip((*names, "memory_scale"), (*fitted, fit_m), strict=True)
                                         if f],
                                        round(float(ratio ** shift[index]), 4))
    weights = sum(1.0 / np.sqrt(groups[it.case.holdout]) for it in items)
    k_c, k_m = float(COMPUTE_SCALES[index[0]]), float(MEMORY_SCALES[index[1]])
    return FamilyFit(family, kind, round(base.compute_efficiency * k_c, 4), round(base.memory_efficiency * k_m, 4),
                     round(base.attention_efficiency * k_c, 4), round(base.kv_memory_efficiency * k_m, 4), engines,
                     [it.case.row["id"] for it in items],
                     float(RESIDUAL_SIGMA * np.sqrt(max(total[index] - prior_k[index], 0.0) / weights)))


def _fit(prepared: list[_FitRow], exclude: str | None = None) -> dict[str, FamilyFit]:
    by_family: dict[str, list[_FitRow]] = {}
    for item in prepared:
        if exclude is not None and item.case.holdout == exclude:
            continue
        by_family.setdefault(item.family, []).append(item)
    return {family: _fit_family(family, items) for family, items in by_family.items() if len(items) >= MIN_ROWS}


def calibrate(rows: Iterable[Mapping[str, str]], exclude_source: str | None = None) -> dict[str, FamilyFit]:
    """MAP fit per family (and per engine within it) of the efficiency asymptotes and the step costs.

    Only latency and throughput rows are used (energy rows validate the power model instead); rows of the
    hold-out group ``exclude_source`` are left out.
    """
    return _fit(_fit_rows(rows), exclude_source)


def apply(rows: Iterable[Mapping[str, str]], calibrations: Mapping[str, FamilyFit]) -> Table:
    """Predictions of the expressible rows with the given fits in force (hardware entries overridden in memory).

    A family without a fit in ``calibrations`` gets its kind's and its engines' defaults, not the factors stored
    in its entries (those came from a fit on all rows, which would leak the held-out rows into leave-one-source-out).
    """
    records = []
    for row in as_rows(rows):
        try:
            case = parse_row(row)
            fit = calibrations.get(family_of(case.kwargs["hardware"].name))
            efficiency = None if fit is None else fit.efficiency(case.engine)
            predicted, _ = predicted_value(case, lean=True, efficiency=efficiency, calibrated=False)
        except GenmodelError:
            continue
        records.append({"id": row["id"], "metric": case.metric, "hardware": case.kwargs["hardware"].name,
                        "kind": case.kwargs["hardware"].kind, "group": case.group, "metric_class": case.metric_class,
                        "engine": case.engine, "batching": case.batching, "holdout": case.holdout,
                        "replica_devices": case.replica_devices, "architecture": case.architecture,
                        "measured": case.measured,
                        "predicted": predicted, "error_pct": (predicted / case.measured - 1) * 100})
    return _table(records)


def _by_holdout(rows: list) -> dict[str, list]:
    """The expressible rows by hold-out group (a row that does not parse is in none)."""
    by_group: dict[str, list] = {}
    for r in rows:
        try:
            by_group.setdefault(parse_row(r).holdout, []).append(r)
        except GenmodelError:
            continue
    return by_group


def leave_one_source_out(rows: Iterable[Mapping[str, str]]) -> Table:
    """For each hold-out group: calibrate without it, predict its rows. One record per predicted row."""
    rows = as_rows(rows)
    prepared = _fit_rows(rows)  # the grid predictions do not depend on the fit: made once for every group
    return Table.concat([apply(held, _fit(prepared, exclude=group))
                         for group, held in sorted(_by_holdout(rows).items())])


def held_out_apply(extra: Iterable[Mapping[str, str]], rows: Iterable[Mapping[str, str]],
                   fits: Mapping[str, FamilyFit]) -> Table:
    """Predictions of ``extra`` rows (a served run's tail percentiles: ``validation/tails.csv``) out of sample: a row
    whose hold-out group is one of ``rows``' (the fitted file) with the fit made without that group, the others
    with ``fits`` (the fit on all of ``rows``, which never saw their sources)."""
    extra, rows = as_rows(extra), as_rows(rows)
    by_group, fitted = _by_holdout(extra), set(_by_holdout(rows))
    shared = sorted(set(by_group) & fitted)
    prepared = _fit_rows(rows) if shared else []
    parts = [apply(by_group[g], _fit(prepared, exclude=g)) for g in shared]
    parts.append(apply([r for g, held in sorted(by_group.items()) if g not in fitted for r in held], fits))
    return Table.concat(parts)


def _yaml_id(row_id: str) -> str:
    """A row id as a YAML flow-sequence item: bare when plain ('TRT05-01'), else quoted."""
    return row_id if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", row_id) else json.dumps(row_id)


def _block(cal: FamilyFit, today: str) -> str:
    lines = [f"efficiency:  # calibrated by 'genmodel validate --calibrate --write' on {today}",
             f"  compute_efficiency: {cal.compute_efficiency:.4g}",
             f"  memory_efficiency: {cal.memory_efficiency:.4g}",
             f"  attention_efficiency: {cal.attention_efficiency:.4g}",
             f"  kv_memory_efficiency: {cal.kv_memory_efficiency:.4g}",
             "  calibration:", f"    family: {cal.family}", f"    date: '{today}'",
             f"    rows: [{', '.join(map(_yaml_id, cal.rows))}]"]
    fitted = {e: s for e, s in cal.engines.items() if s.fitted}
    if fitted:
        lines.append("  engines:  # host work per step fitted for these engines on this family (else the profile's)")
        for engine, s in sorted(fitted.items()):
            lines += [f"    {engine}:", f"      step_overhead_s: {s.step_overhead_s * 1e3:.4g} ms",
                      f"      step_overhead_per_sequence_s: {s.step_overhead_per_sequence_s * 1e6:.4g} us",
                      f"      prefill_overhead_s: {s.prefill_overhead_s * 1e3:.4g} ms",
                      *([f"      memory_scale: {s.memory_scale:.4g}"] if s.memory_scale != 1.0 else []),
                      f"      rows: [{', '.join(map(_yaml_id, s.rows))}]"]
    return "\n".join(lines) + "\n"


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
    blocks = {family: _block(cal, today) for family, cal in calibrations.items()}
    for family, names in FAMILIES.items():
        for name in names:
            path = Path(folder) / f"{name}.yaml"
            if not path.exists():
                continue
            text = path.read_text()
            if family not in blocks and not re.search(r"(?m)^efficiency:  # calibrated by", text):
                continue  # not fitted now, and no earlier fit to withdraw (a hand-written block stays)
            # a family fitted before but not now (too few rows left) loses its stale fit: its defaults apply
            text = re.sub(r"(?ms)^efficiency:.*?(?=^\S|\Z)", "", text).rstrip("\n") + "\n" + blocks.get(family, "")
            partial = path.with_name(path.name + ".partial")
            partial.write_text(text)
            os.replace(partial, path)  # a file is either the old or the new one, never half written
            written.append(path)
    reload()
    return written
