"""Predictions of measurement rows and their error summaries.

Contract
--------
``predict_rows(rows)`` predicts every row through ``genmodel.estimate`` (``check_fit=False``) and returns a
``Table`` with one record per row, in the order of ``RECORD_COLUMNS``: the measured and predicted values in the
row's unit, the signed error ``predicted / measured - 1`` in percent and whether the configuration fits in memory,
or, for a row that cannot be predicted, ``not_expressible`` with the reason (the parser's, or the engine's
message when the engine refuses the configuration). No row is dropped and no unexpressible row is scored.

``summarize(records)`` gives, for the scored records (a finite ``error_pct``), per phase (``phase:prefill``:
TTFT and prefill throughput; ``phase:decode``: the rest), per metric class (``metric:ttft``, ``metric:tpot``,
``metric:e2e_latency``, ``metric:throughput``, ``metric:energy``) and per hardware kind (``kind:gpu`` ...) the
count ``n``, the median absolute error ``median_abs_error_pct`` and the share within 25% ``within_25pct``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from genmodel.engine.estimate import estimate
from genmodel.errors import GenmodelError
from genmodel.table import Table
from genmodel.validation.rows import Case, NotExpressibleError, as_rows, parse_row

RECORD_COLUMNS = ["id", "source", "metric", "hardware", "model", "measured", "kind", "group", "metric_class",
                  "predicted", "error_pct", "fits", "not_expressible"]
_TEXT = {"id", "source", "metric", "hardware", "model", "kind", "group", "metric_class", "not_expressible"}
WITHIN_PCT = 25.0


def predicted_value(case: Case, **options: Any) -> tuple[float, Any]:
    """The estimate of ``case`` in the row's unit, and the ``Estimate``; ``options`` go to ``estimate``.

    Raises the engine's ``GenmodelError`` when it refuses the configuration, and ``NotExpressibleError`` when it
    gives no finite number for the row's metric (e.g. energy on a device without power figures).
    """
    result = estimate(**case.kwargs, **options)
    value = float(np.asarray(result.metrics[case.key], dtype=float)) / case.scale
    if not math.isfinite(value):
        raise NotExpressibleError(f"the estimate gives no finite {case.key} for this configuration")
    return value, result


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def predict_rows(rows: Iterable[Mapping[str, str]]) -> Table:
    """One record per row: prediction, measurement, signed error (%), or the reason it is not expressible."""
    records = []
    for row in as_rows(rows):
        record: dict[str, Any] = {c: None for c in RECORD_COLUMNS}
        record.update({k: str(row.get(k, "") or "") for k in ("id", "source", "metric", "hardware", "model")})
        record.update(measured=_number(row.get("value")), predicted=math.nan, error_pct=math.nan)
        try:
            case = parse_row(row)
            predicted, result = predicted_value(case)
        except GenmodelError as exc:
            record["not_expressible"] = " ".join(str(exc).split()) or type(exc).__name__
        else:
            record.update(kind=case.kwargs["hardware"].kind, group=case.group, metric_class=case.metric_class,
                          measured=case.measured, predicted=predicted,
                          error_pct=(predicted / case.measured - 1) * 100, fits=bool(result.metrics["fits"]))
        records.append(record)
    return _table(records)


def _table(records: list[dict[str, Any]]) -> Table:
    """Records as a ``Table``: text columns as objects (None where absent), numbers as floats."""
    columns = list(dict.fromkeys(c for r in records for c in r)) or RECORD_COLUMNS
    out = {}
    for c in columns:
        values = [r.get(c) for r in records]
        if c in _TEXT or c == "fits":
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            out[c] = arr
        else:
            out[c] = np.array([math.nan if v is None else v for v in values], dtype=float)
    return Table(out)


def scored(records: Table) -> Table:
    """The records with a finite error (the expressible, predicted rows)."""
    if "error_pct" not in records or not len(records):
        return records[np.zeros(len(records), dtype=bool)]
    return records[np.isfinite(np.asarray(records["error_pct"], dtype=float))]


def summarize(records: Table) -> dict[str, dict[str, Any]]:
    """Per phase, per metric class and per hardware kind: n, median |error| (%) and share within 25%."""
    ok = scored(records)
    out: dict[str, dict[str, Any]] = {}
    for label, column in (("phase", "group"), ("metric", "metric_class"), ("kind", "kind")):
        if column not in ok:
            continue
        names = np.asarray([str(n) for n in ok[column]], dtype=object)
        errors = np.abs(np.asarray(ok["error_pct"], dtype=float))
        for name in sorted(set(names)):
            err = errors[names == name]
            out[f"{label}:{name}"] = {"n": len(err), "median_abs_error_pct": float(np.median(err)),
                                      "within_25pct": float(np.mean(err <= WITHIN_PCT))}
    return out
