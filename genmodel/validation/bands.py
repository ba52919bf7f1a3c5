"""Error bands from held-out predictions, and their coverage checked on rows they were not made from.

Contract
--------
``residuals(records)`` turns prediction records (from ``leave_one_source_out`` or ``apply``) into time-oriented log
errors per (kind, engine, phase, device-count class of the replica where the record has ``replica_devices``):
``log(predicted / measured)`` for times, its negative for rates; rows predicted
with the served-traffic model (``batching`` 'served') are left out: the bands are those of ``estimate``'s figures.
``make_bands(records)`` builds the stored cells (``genmodel.engine.uncertainty.build``); rows of an engine whose
profile is not ``fittable`` join their own cell only, not the parents other engines fall back to. ``coverage(records)``
checks them honestly: for each hold-out group, bands are built from the *other* groups' residuals only and the
group's rows are tested against them; it reports the share of rows covered (per phase) and the mean over groups of
each group's share (so a large source cannot carry it), and the share per device-count class. ``write_bands(calibrated,
defaults)`` stores both sets with their coverage in ``validation/error_bands.json`` (source checkout only).

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
from genmodel.validation.rows import METRICS

BANDS_FILE = "error_bands.json"


def _is_time(metric: str) -> bool:
    """Whether a row's metric is a time (seconds) rather than a rate (``..._per_s``, ``..._per_s_per_user``)."""
    key = METRICS[metric][0]
    return key.endswith("_s") and not key.endswith("_per_s")


def residuals(records: Table, served: bool = False) -> list[dict[str, Any]]:
    """One dict per scored record: kind, engine, phase, hold-out group and the time-oriented log error; the rows
    predicted with ``estimate`` (``served`` False) or those predicted with the served-traffic model (True)."""
    out = []
    for r in records.rows():
        error = r.get("error_pct")
        if error is None or not math.isfinite(error) or r.get("group") not in ("prefill", "decode"):
            continue
        if (r.get("batching") == "served") != served:
            continue  # estimate's bands and serve's bands are made apart
        sign = 1.0 if _is_time(r["metric"]) else -1.0
        devices = r.get("replica_devices")
        scale = uncertainty.scale_of(devices) if devices is not None and math.isfinite(devices) else None
        out.append({"kind": r["kind"], "engine": r.get("engine") or "", "phase": r["group"],
                    "holdout": r.get("holdout") or r["id"], "r": sign * math.log1p(error / 100.0), "scale": scale})
    return out


def _own_cell_only(rs: list[dict[str, Any]]) -> frozenset[str]:
    """The engines among the residuals whose profile is not ``fittable``: their rows say nothing about the other
    engines' errors, so they join their own band cell only."""
    return frozenset(e for e in {x["engine"] for x in rs} if e and not get_engine(e).fittable)


def _cell_records(rs: Iterable[dict[str, Any]]) -> list[tuple]:
    """``residuals`` as the records ``uncertainty.build`` takes: (kind, engine, phase, log error, hold-out group,
    device-count class or None)."""
    return [(x["kind"], x["engine"], x["phase"], x["r"], x["holdout"], x.get("scale")) for x in rs]


def make_bands(records: Table, served: bool = False) -> dict[str, dict]:
    """The band cells from held-out records (``served``: of the served-traffic rows)."""
    rs = residuals(records, served)
    return uncertainty.build(_cell_records(rs), own_cell_only=_own_cell_only(rs))


def coverage(records: Table, served: bool = False) -> dict[str, Any]:
    """Nested coverage of the 80% bands: each hold-out group against bands made without it."""
    rs = residuals(records, served)
    groups = sorted({x["holdout"] for x in rs})
    own = _own_cell_only(rs)
    hits: dict[str, list[bool]] = {}
    by_scale: dict[str, list[bool]] = {}
    per_group: list[float] = []
    for g in groups:
        cells = uncertainty.build(_cell_records(x for x in rs if x["holdout"] != g), own_cell_only=own)
        covered = []
        for x in (x for x in rs if x["holdout"] == g):
            b = uncertainty.lookup(cells, x["kind"], x["engine"], x["phase"], x.get("scale"))
            ok = b.low <= x["r"] <= b.high
            covered.append(ok)
            hits.setdefault(x["phase"], []).append(ok)
            if x.get("scale") is not None:
                by_scale.setdefault(f"{x['phase']} {x['scale']}", []).append(ok)
        per_group.append(sum(covered) / len(covered))
    rows = [h for v in hits.values() for h in v]
    return {"rows": len(rows), "row_coverage": sum(rows) / len(rows) if rows else math.nan,
            "by_phase": {p: sum(v) / len(v) for p, v in sorted(hits.items())},
            # per device-count class of the replica: rows and share covered
            "by_devices": {k: {"rows": len(v), "coverage": sum(v) / len(v)} for k, v in sorted(by_scale.items())},
            "groups": len(groups), "group_coverage": sum(per_group) / len(per_group) if per_group else math.nan,
            "target": "0.70-0.90 for 80% bands"}


def coverages(calibrated: Table, defaults: Table) -> dict[str, dict[str, Any]]:
    """The nested coverage of the bands of the calibrated and of the default predictions, and of serve's bands
    (from the calibrated predictions' served rows): what ``validate --calibrate`` reports and ``write_bands`` stores."""
    return {"calibrated": coverage(calibrated), "defaults": coverage(defaults),
            "served": coverage(calibrated, served=True)}


def write_bands(calibrated: Table, defaults: Table, today: str | None = None, folder: Path | None = None,
                covered: dict[str, Any] | None = None) -> Path:
    """Store the bands of the calibrated and of the default predictions with their coverage (``covered``: that
    coverage as the caller has computed it, ``coverages(calibrated, defaults)``, each nested pass a second of work;
    computed here when None)."""
    if folder is None:
        if not is_source_checkout():
            raise ConfigurationError("writing error bands edits validation/ of a source checkout; run it from a "
                                     "clone of the repository (pip install -e .)")
        folder = builtin_root() / "validation"
    data = {"alpha": uncertainty.ALPHA, "date": today or datetime.date.today().isoformat(),
            "method": "split-conformal quantiles of time-oriented log errors of leave-one-group-out predictions, "
                      "each weighted 1/sqrt(its source's errors in the cell), per (kind, engine, phase) with parents "
                      "(docs/validation.md)",
            "calibrated": make_bands(calibrated), "defaults": make_bands(defaults),
            # serve's figures: cells from the served-traffic rows alone (never fitted on), with their own coverage
            "served": {"calibrated": make_bands(calibrated, served=True),
                       "defaults": make_bands(defaults, served=True)},
            "coverage": covered if covered is not None else coverages(calibrated, defaults)}
    path = Path(folder) / BANDS_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(partial, path)
    uncertainty._stored.cache_clear()
    return path


def stored_coverage() -> dict[str, Any]:
    """The coverage recorded with the stored bands (empty when none are stored)."""
    return uncertainty._stored().get("coverage", {})


__all__: Iterable[str] = ["BANDS_FILE", "coverage", "coverages", "make_bands", "residuals", "stored_coverage",
                          "write_bands"]
