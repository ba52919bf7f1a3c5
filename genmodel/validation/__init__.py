"""Validation against published measurements, and per-family calibration (docs/validation.md).

Modules
-------
* ``rows``: read a measurements CSV (``load_rows``) and map one row to ``estimate`` arguments (``parse_row``);
  the vocabulary (``COLUMNS``, ``METRICS``, ``UNITS``) and ``NotExpressibleError`` for rows genmodel cannot predict.
* ``predict``: ``predict_rows`` (one record per row: predicted, measured, signed error, or the reason it is not
  expressible) and ``summarize`` (median |error| and share within 25% per phase, metric class and kind).
* ``calibration``: ``calibrate`` (per-family MAP fit of the compute and bandwidth fractions and, per engine, the
  host work per step), ``apply``, ``leave_one_source_out``, ``held_out_apply`` (rows of another file, each with a fit
  that did not see its source) and ``write_calibration``.

* ``replicates``: ``configuration_key`` (rows genmodel cannot tell apart share it) and ``replicate_spread`` (how
  far repeated measurements of one configuration disagree, beside genmodel's error on them).
* ``bands``: the 80% error bands from held-out predictions, their nested coverage, and the stored band file.

Record tables are ``genmodel.table.Table``s; nothing here needs pandas.
"""

from genmodel.validation.calibration import (
    COMPUTE_SCALES,
    FAMILIES,
    MEMORY_SCALES,
    MIN_ROWS,
    PER_SEQUENCE_GRID,
    STEP_GRID,
    Calibration,
    EngineStepFit,
    FamilyFit,
    apply,
    calibrate,
    family_of,
    held_out_apply,
    leave_one_source_out,
    write_calibration,
)
from genmodel.validation.predict import (
    IDEAL_MARGIN,
    RECORD_COLUMNS,
    beyond_ideal,
    predict_rows,
    predicted_value,
    scored,
    summarize,
)
from genmodel.validation.replicates import configuration_key, replicate_spread
from genmodel.validation.rows import (
    COLUMNS,
    MAX_BYTES,
    MAX_ROWS,
    METRIC_CLASS,
    METRICS,
    UNITS,
    Case,
    NotExpressibleError,
    engine_of,
    holdout_group,
    load_rows,
    parse_row,
    source_group,
)

__all__ = [
    "COLUMNS", "COMPUTE_SCALES", "FAMILIES", "IDEAL_MARGIN", "MAX_BYTES", "MAX_ROWS", "MEMORY_SCALES", "METRICS",
    "METRIC_CLASS",
    "MIN_ROWS", "PER_SEQUENCE_GRID", "RECORD_COLUMNS", "STEP_GRID", "UNITS", "Calibration", "Case", "EngineStepFit",
    "FamilyFit", "NotExpressibleError", "apply", "beyond_ideal", "calibrate", "configuration_key", "engine_of",
    "family_of",
    "held_out_apply", "holdout_group", "leave_one_source_out", "load_rows", "parse_row", "predict_rows",
    "predicted_value", "replicate_spread", "scored", "source_group", "summarize", "write_calibration",
]
