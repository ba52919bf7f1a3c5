"""How far repeated measurements of one configuration disagree: the part of the error no prediction can remove.

Contract
--------
``configuration_key(case, added_s)`` is a short text that two rows share exactly when genmodel receives the same
inputs for them (model and hardware entries, datatypes, layout, lengths, batch or traffic, engine profile as run,
the engine's stated share of memory, the metric and its unit, and ``added_s``, the server's time an HTTP client's
timing adds): such rows get the same prediction, whatever their source, date or engine version. ``predict_rows``
stores it in each record's ``configuration``.

``replicate_spread(records)`` looks at the scored records whose configuration was measured more than once (a
*replicate set*) and gives, per phase (``phase:prefill``, ``phase:decode``, ``phase:energy``) and over all of
them (``all``):

* ``sets``, ``rows`` and ``sources`` (hold-out groups among those rows; ``cross_source_sets``: sets with rows of
  more than one source);
* ``spread_pct``: the median over the rows of |m / g − 1| x 100, with m the row's measurement and g the geometric
  mean of its set's measurements, i.e. the median |error| of a prediction that hit the centre of every set;
* ``model_error_pct``: genmodel's median |error| on the same rows.

A spread well below the model's error says the remaining error is systematic (something genmodel does not model),
not scatter between runs. Sets whose rows differ in what the row's text says but genmodel cannot express (flags,
versions, dates) count as replicates: that is the error genmodel cannot remove without more inputs.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from typing import Any

import numpy as np

from genmodel.table import Table


def _plain(value: Any) -> Any:
    """A value as JSON can hold it: a spec by its full content, a number or text as it is, anything else by repr."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)


def configuration_key(case: Any, added_s: float = 0.0) -> str:
    """The inputs genmodel predicts a row from (``genmodel.validation.rows.Case``, and ``added_s``, the seconds added
    to the estimate: ``genmodel.validation.predict.client_latency_s``), as 16 hex digits of their hash: equal for
    rows that get the same prediction by construction."""
    inputs = {"kwargs": _plain(case.kwargs), "key": case.key, "scale": case.scale, "served": _plain(case.served),
              "memory_fraction": case.memory_fraction, "added_s": float(added_s)}
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def replicate_spread(records: Table) -> dict[str, dict[str, Any]]:
    """Per phase and over all: the replicate sets among the scored records and how far their measurements spread
    about each set's geometric mean, beside genmodel's error on the same rows (module docstring)."""
    if not all(c in records for c in ("configuration", "error_pct", "measured", "group")):
        return {}
    error = np.asarray(records["error_pct"], dtype=float)
    measured = np.asarray(records["measured"], dtype=float)
    ok = np.isfinite(error) & np.isfinite(measured) & (measured > 0)
    holdout = records["holdout"] if "holdout" in records else [None] * len(error)
    sets: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero(ok):
        sets[str(records["configuration"][i])].append(int(i))
    picked: dict[str, list[tuple[float, float, str, str]]] = defaultdict(list)  # per phase: (dev, |err|, src, set)
    for key, members in sets.items():
        if len(members) < 2:
            continue
        logs = np.log(measured[members])
        centre = np.exp(logs.mean())
        for i in members:
            row = (abs(measured[i] / centre - 1) * 100, abs(error[i]), str(holdout[i]), key)
            picked[f"phase:{records['group'][i]}"].append(row)
            picked["all"].append(row)
    return {label: _entry(rows) for label, rows in sorted(picked.items(), key=lambda kv: (kv[0] == "all", kv[0]))}


def _entry(rows: list[tuple[float, float, str, str]]) -> dict[str, Any]:
    sources_of: dict[str, set[str]] = defaultdict(set)
    for _, _, source, key in rows:
        sources_of[key].add(source)
    return {"sets": len(sources_of), "rows": len(rows), "sources": len({r[2] for r in rows}),
            "cross_source_sets": sum(len(s) > 1 for s in sources_of.values()),
            "spread_pct": float(np.median([r[0] for r in rows])),
            "model_error_pct": float(np.median([r[1] for r in rows]))}
