"""Error bands from held-out predictions, and their coverage checked on rows they were not made from.

Contract
--------
``residuals(records)`` turns prediction records (from ``leave_one_source_out`` or ``apply``) into time-oriented log
errors per (kind, engine, phase, device-count class of the replica where the record has ``replica_devices``, model
architecture where it has ``architecture``; not for the tail percentiles): ``log(predicted / measured)`` for times, its
negative for rates; rows predicted with the served-traffic model (``batching`` 'served') are left out: the bands are
those of ``estimate``'s figures. ``make_bands(records)`` builds the stored cells
(``genmodel.engine.uncertainty.build``); rows of an engine whose profile is not ``fittable`` join their own cell only,
not the parents other engines fall back to. ``coverage(records)`` checks them honestly: for each hold-out group, bands
are built from the *other* groups' residuals only and the group's rows are tested against them; it reports the share of
rows covered (per phase) and the mean over groups of each group's share (so a large source cannot carry it), and the
share per device-count class and per model architecture. ``write_bands(calibrated, defaults)`` stores both sets with
their coverage in ``validation/error_bands.json`` (source checkout only). ``inside(records)`` counts the records that
lie inside the bands they were predicted with (a check on rows no band was made from, such as the served runs' tail
percentiles).

The records may pool held-out predictions of ``measured.csv`` (each group predicted by a fit without it) with the
predictions of ``independent.csv``'s rows, which no fit ever used (``genmodel validate --calibrate`` does so for
the shipped files): both are out-of-sample errors, and the coverage still tests each group against bands made
without it.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from genmodel.data.registry import builtin_root, get_engine, is_source_checkout
from genmodel.engine import uncertainty
from genmodel.errors import ConfigurationError
from genmodel.table import Table
from genmodel.validation.rows import TAIL_METRICS, metric_dimension

BANDS_FILE = "error_bands.json"
# serve's cells are kept per model architecture as well (history item 95): pooled over dense and MoE models, they
# covered dense models' served TPOTs and TTFTs 69.0% and 66.9% of the time (MoE models' 84.1% and 85.8%), where
# estimate's pooled cells cover every architecture and phase 73-84%, so theirs stay pooled
SPLIT_BY_ARCHITECTURE = True


def residuals(records: Table, served: bool = False, tails: bool = False) -> list[dict[str, Any]]:
    """One dict per scored record: kind, engine, phase, hold-out group and the time-oriented log error; the rows
    predicted with ``estimate`` (``served`` False) or those predicted with the served-traffic model (True), tail
    percentiles left out; or (``tails``) the tail percentiles of served runs alone, however predicted (one request in
    flight: the static figure), their phase the tail metric (``ttft_p99``)."""
    out = []
    for r in records.rows():
        error = r.get("error_pct")
        if error is None or not math.isfinite(error) or r.get("group") not in ("prefill", "decode"):
            continue
        tail = r["metric"] in TAIL_METRICS
        if tail != tails or (not tails and (r.get("batching") == "served") != served):
            continue  # estimate's bands, serve's bands and the tails' bands are made apart
        sign = 1.0 if metric_dimension(r["metric"]) == "time" else -1.0
        devices = r.get("replica_devices")
        scale = uncertainty.scale_of(devices) if devices is not None and math.isfinite(devices) else None
        # (the tails' cells are not kept per architecture: uncertainty.ARCHITECTURES)
        architecture = None if tails else r.get("architecture") or None
        out.append({"kind": r["kind"], "engine": r.get("engine") or "", "phase": r["metric"] if tails else r["group"],
                    "holdout": r.get("holdout") or r["id"], "r": sign * math.log1p(error / 100.0), "scale": scale,
                    "architecture": architecture})
    return out


def _own_cell_only(rs: list[dict[str, Any]]) -> frozenset[str]:
    """The engines among the residuals whose profile is not ``fittable``: their rows say nothing about the other
    engines' errors, so they join their own band cell only."""
    return frozenset(e for e in {x["engine"] for x in rs} if e and not get_engine(e).fittable)


def _cell_records(rs: Iterable[dict[str, Any]], split: bool = False) -> list[tuple]:
    """``residuals`` as the records ``uncertainty.build`` takes: (kind, engine, phase, log error, hold-out group,
    device-count class or None, architecture or None); ``split``: with the model architecture, so that the cells are
    kept per architecture as well (``serve``'s, ``SPLIT_BY_ARCHITECTURE``), else without it."""
    return [(x["kind"], x["engine"], x["phase"], x["r"], x["holdout"], x.get("scale"),
             x.get("architecture") if split else None) for x in rs]


def _split(served: bool, tails: bool) -> bool:
    """Whether these cells are kept per model architecture as well: ``serve``'s medians' and means' cells
    (``SPLIT_BY_ARCHITECTURE``), not ``estimate``'s nor the tails'."""
    return SPLIT_BY_ARCHITECTURE and served and not tails


def make_bands(records: Table, served: bool = False, tails: bool = False) -> dict[str, dict]:
    """The band cells from held-out records (``served``: of the served-traffic rows; ``tails``: of the tail
    percentiles)."""
    rs = residuals(records, served, tails)
    return uncertainty.build(_cell_records(rs, _split(served, tails)), own_cell_only=_own_cell_only(rs))


def coverage(records: Table, served: bool = False, tails: bool = False) -> dict[str, Any]:
    """Nested coverage of the 80% bands: each hold-out group against bands made without it (``tails``: the tail
    percentiles' bands, a P90 without a cell of its own tested against its metric's P99 cell, as ``band`` gives it)."""
    rs = residuals(records, served, tails)
    groups = sorted({x["holdout"] for x in rs})
    own, split = _own_cell_only(rs), _split(served, tails)
    hits: dict[str, list[bool]] = {}
    by_scale: dict[str, list[bool]] = {}
    by_architecture: dict[str, list[bool]] = {}
    per_group: list[float] = []
    for g in groups:
        cells = uncertainty.build(_cell_records((x for x in rs if x["holdout"] != g), split), own_cell_only=own)
        covered = []
        for x in (x for x in rs if x["holdout"] == g):
            b = (uncertainty.tail_lookup(cells, x["kind"], x["engine"], x["phase"], x.get("scale")) if tails else
                 uncertainty.lookup(cells, x["kind"], x["engine"], x["phase"], x.get("scale"), x.get("architecture")))
            ok = b.low <= x["r"] <= b.high
            covered.append(ok)
            hits.setdefault(x["phase"], []).append(ok)
            if x.get("scale") is not None:
                by_scale.setdefault(f"{x['phase']} {x['scale']}", []).append(ok)
            if x.get("architecture") is not None:
                by_architecture.setdefault(f"{x['phase']} {x['architecture']}", []).append(ok)
        per_group.append(sum(covered) / len(covered))
    rows = [h for v in hits.values() for h in v]
    return {"rows": len(rows), "row_coverage": sum(rows) / len(rows) if rows else math.nan,
            "by_phase": {p: sum(v) / len(v) for p, v in sorted(hits.items())},
            # per device-count class of the replica: rows and share covered
            "by_devices": {k: {"rows": len(v), "coverage": sum(v) / len(v)} for k, v in sorted(by_scale.items())},
            # per model architecture ('decode moe' ...): rows and share covered
            "by_architecture": {k: {"rows": len(v), "coverage": sum(v) / len(v)}
                                for k, v in sorted(by_architecture.items())},
            "groups": len(groups), "group_coverage": sum(per_group) / len(per_group) if per_group else math.nan,
            "target": "0.70-0.90 for 80% bands"}


def coverages(calibrated: Table, defaults: Table, tails: Table | None = None) -> dict[str, dict[str, Any]]:
    """The nested coverage of the bands of the calibrated and of the default predictions, of serve's bands (from the
    calibrated predictions' served rows) and, given ``tails`` (the calibrated predictions of the served runs' tail
    percentiles), of the tails' bands: what ``validate --calibrate`` reports and ``write_bands`` stores."""
    out = {"calibrated": coverage(calibrated), "defaults": coverage(defaults),
           "served": coverage(calibrated, served=True)}
    if tails is not None:
        out["tails"] = coverage(tails, tails=True)
    return out


def write_bands(calibrated: Table, defaults: Table, today: str | None = None, folder: Path | None = None,
                covered: dict[str, Any] | None = None, tails: tuple[Table, Table] | None = None) -> Path:
    """Store the bands of the calibrated and of the default predictions with their coverage (``covered``: that
    coverage as the caller has computed it, ``coverages(calibrated, defaults)``, each nested pass a second of work;
    computed here when None); ``tails``: the calibrated and the default predictions of the served runs' tail
    percentiles, whose cells are stored apart (``uncertainty.band(..., tails=True)``)."""
    if folder is None:
        if not is_source_checkout():
            raise ConfigurationError("writing error bands edits validation/ of a source checkout; run it from a "
                                     "clone of the repository (pip install -e .)")
        folder = builtin_root() / "validation"
    data = {"alpha": uncertainty.ALPHA, "date": today or datetime.date.today().isoformat(),
            "method": "split-conformal quantiles of time-oriented log errors of leave-one-group-out predictions, "
                      "each weighted 1/sqrt(its source's errors in the cell), per (kind, engine, phase) with parents, "
                      "per device-count class, and for serve's figures per model architecture (docs/validation.md)",
            "calibrated": make_bands(calibrated), "defaults": make_bands(defaults),
            # serve's figures: cells from the served-traffic rows alone (never fitted on), with their own coverage
            "served": {"calibrated": make_bands(calibrated, served=True),
                       "defaults": make_bands(defaults, served=True)},
            "coverage": covered if covered is not None else coverages(calibrated, defaults,
                                                                        None if tails is None else tails[0])}
    if tails is not None:  # serve's P90 and P99 figures: cells per tail metric from the published tail percentiles
        data["tails"] = {"calibrated": make_bands(tails[0], tails=True), "defaults": make_bands(tails[1], tails=True)}
    path = Path(folder) / BANDS_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(partial, path)
    uncertainty.forget_stored()
    return path


def inside(records: Table) -> dict[str, Any]:
    """How many scored records lie inside the band they were predicted with (``predicted_low`` to
    ``predicted_high``, in the row's unit): the share of rows, the mean over hold-out groups of each group's share,
    and the share per tail metric of served runs (``tail:ttft_p99``). Out of sample only for rows no band was made
    from (``independent.csv`` before a ``--calibrate --write``, or a file of tail percentiles, which no band reads)."""
    hits: dict[str, list[bool]] = {}
    per_group: dict[str, list[bool]] = {}
    for r in records.rows():
        error, low, high = r.get("error_pct"), r.get("predicted_low"), r.get("predicted_high")
        if error is None or not math.isfinite(error) or low is None or high is None:
            continue
        measured = r["measured"]
        ok = bool(min(low, high) <= measured <= max(low, high))  # (a rate's band: its edges in the row's unit)
        per_group.setdefault(r.get("holdout") or r["id"], []).append(ok)
        if r["metric"] in TAIL_METRICS:
            hits.setdefault(f"tail:{r['metric']}", []).append(ok)
    rows = [h for v in per_group.values() for h in v]
    shares = [sum(v) / len(v) for v in per_group.values()]
    return {"rows": len(rows), "row_coverage": sum(rows) / len(rows) if rows else math.nan,
            "groups": len(shares), "group_coverage": sum(shares) / len(shares) if shares else math.nan,
            "by_tail": {k: {"rows": len(v), "coverage": sum(v) / len(v)} for k, v in sorted(hits.items())}}


def stored_coverage() -> dict[str, Any]:
    """The coverage recorded with the stored bands (empty when none are stored)."""
    return uncertainty._stored().get("coverage", {})


__all__: Iterable[str] = ["BANDS_FILE", "coverage", "coverages", "inside", "make_bands", "residuals",
                          "stored_coverage", "write_bands"]
