"""Predictions of measurement rows and their error summaries.

Contract
--------
``predict_rows(rows)`` predicts every row through ``genmodel.estimate`` (``check_fit=False``) and returns a
``Table`` with one record per row, in the order of ``RECORD_COLUMNS``: the measured and predicted values in the
row's unit, the signed error ``predicted / measured - 1`` in percent, whether the configuration fits in memory and
the key of the inputs it was predicted from (``configuration``: ``genmodel.validation.replicates``), the devices of one
model replica (``replica_devices``, which choose the row's band cells), or, for a row
that cannot be predicted, ``not_expressible`` with the reason (the parser's, or the engine's message when the
engine refuses the configuration). A static row (or one request in flight) also gets its figure at the ideal roofline
(``ideal``: the stated work at the device's peak FLOP/s and bandwidth, with no overhead and no efficiency below 1), a
served row's TTFT, TPOT or end-to-end latency (mean or percentile) that of one request alone, a floor no request under
traffic goes below (a TTFT of prompts the row says were cached has none), and ``beyond_ideal``: whether the published
figure is more than ``IDEAL_MARGIN`` beyond it (a time below (1 - margin) x ideal, a rate above ideal / (1 - margin)),
which the stated work cannot give: prompts the server had cached, a datatype or speculative decoding the row does not
state, or a device entry's understated peak; such rows are scored like the others and listed by
``beyond_ideal(records)``. No row is dropped and no unexpressible row is scored. A TTFT or end-to-end latency timed by
an HTTP client (``measured_at`` client) is predicted with the engine's ``request_latency_s`` added to the estimate
(``client_latency_s``): the server's time outside the engine steps. A row whose ``system`` text states the engine's
share of device memory is predicted with that share (``with_memory_fraction``).

``summarize(records)`` gives, for the scored records (a finite ``error_pct``), per phase (``phase:prefill``:
TTFT and prefill throughput; ``phase:decode``: the rest), per metric class (``metric:ttft``, ``metric:tpot``,
``metric:e2e_latency``, ``metric:throughput``, ``metric:energy``), per hardware kind (``kind:gpu`` ...), engine and
batching, and per model architecture and phase (``architecture:dense decode``, ``architecture:moe prefill``: the
record's ``architecture``, 'moe' for a model with mixture-of-experts layers), and per tail metric of served runs
(``tail:ttft_p99``: ``genmodel.validation.rows.TAIL_METRICS``) the count ``n``, the median absolute error
``median_abs_error_pct`` and the share within 25% ``within_25pct``, the median signed error as published
``median_signed_error_pct`` (predicted / measured - 1, of a time or of a rate as the row states it) and, where the
records name their metric, the same oriented as a time ``median_time_error_pct`` (a rate's ratio inverted: measured
rate / predicted rate - 1), negative where the prediction is too fast whatever the metric: a median of signed errors
that mixes TTFTs and prompt rates says nothing about the direction of either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

import numpy as np

from genmodel.data.registry import get_engine
from genmodel.engine.estimate import estimate, only_metrics
from genmodel.errors import GenmodelError
from genmodel.specs.hardware import Efficiency
from genmodel.table import Table
from genmodel.validation.replicates import configuration_key
from genmodel.validation.rows import TAIL_METRICS, Case, NotExpressibleError, as_rows, metric_dimension, parse_row

RECORD_COLUMNS = ["id", "source", "metric", "hardware", "model", "engine", "batching", "holdout", "measured", "kind",
                  "group",
                  "metric_class", "predicted", "predicted_low", "predicted_high", "error_pct", "fits",
                  "not_expressible", "configuration", "replica_devices", "architecture", "ideal", "beyond_ideal"]
_TEXT = {"id", "source", "metric", "hardware", "model", "kind", "group", "metric_class", "not_expressible", "engine",
         "holdout", "batching", "configuration", "architecture"}
WITHIN_PCT = 25.0
# the share by which a published figure must beat its ideal roofline to be flagged: the ideal overlaps no two kernels,
# and published steps beat it by a few percent where they overlap (TensorRT-LLM 0.9's Mixtral-8x7B TTFTs on an L40S
# and an A100, 0.5-0.8% below it), so only a figure well beyond it says the row is not the work it states
IDEAL_MARGIN = 0.10
# the ideal figure of a metric from its phase's pair of (figure, ideal figure) times: the metric's key -> (time key,
# ideal time key, whether the metric is a time; a rate scales inversely)
_IDEAL_PAIRS = {
    "ttft_s": ("ttft_s", "ideal_ttft_s", True), "prefill_tokens_per_s": ("ttft_s", "ideal_ttft_s", False),
    "tpot_s": ("tpot_s", "ideal_tpot_s", True), "tokens_per_s_per_user": ("tpot_s", "ideal_tpot_s", False),
    "e2e_latency_s": ("e2e_latency_s", "ideal_e2e_latency_s", True),
    **{key: ("e2e_latency_s", "ideal_e2e_latency_s", False) for key in (
        "output_tokens_per_s", "output_tokens_per_s_per_device", "total_tokens_per_s")},
}


def predicted_value(case: Case, *, lean: bool = False, ideal: bool = False, **options: Any) -> tuple[float, Any]:
    """The estimate of ``case`` in the row's unit, and the ``Estimate``; ``options`` go to ``estimate``. ``lean``: a
    static row's estimate computes only the row's figure, its band's edges and ``fits`` (``only_metrics``: the same
    numbers, without the figures the row does not read), and with ``ideal`` the times ``ideal_value`` reads.

    Raises the engine's ``GenmodelError`` when it refuses the configuration, and ``NotExpressibleError`` when it
    gives no finite number for the row's metric (e.g. energy on a device without power figures).
    """
    options = with_memory_fraction(case, options)
    if case.served is None:
        read = (case.key, f"{case.key}_low", f"{case.key}_high", "fits",
                *(_IDEAL_PAIRS[case.key][:2] if ideal and case.key in _IDEAL_PAIRS else ()))
        with only_metrics(read) if lean else nullcontext():
            result = estimate(**case.kwargs, **options)
        value = float(np.asarray(result.metrics[case.key], dtype=float))
    else:
        result = serve_case(case, **options)
        value = float(np.asarray(_served_metric(result.metrics, case.key), dtype=float))
    value = (value + client_latency_s(case)) / case.scale
    if not math.isfinite(value):
        raise NotExpressibleError(f"the estimate gives no finite {case.key} for this configuration")
    return value, result


def ideal_value(case: Case, result: Any) -> float:
    """The row's figure at the ideal roofline, in the row's unit (the engine's time only: a client's HTTP time is not
    added), from the estimate of a static row: the figure scaled by its phase's ideal time over its time (a time) or
    the inverse (a rate). NaN for a served row, energy, or an estimate without the ideal times."""
    pair = _IDEAL_PAIRS.get(case.key)
    if case.served is not None or pair is None or not all(k in result.metrics for k in (case.key, *pair[:2])):
        return math.nan
    time_key, ideal_key, is_time = pair
    ratio = float(np.asarray(result.metrics[ideal_key], dtype=float)) / float(
        np.asarray(result.metrics[time_key], dtype=float))
    value = float(np.asarray(result.metrics[case.key], dtype=float))
    return (value * ratio if is_time else value / ratio) / case.scale


# a served row's time metric -> the static estimate's time of one request alone (its floor)
_SERVED_FLOORS = (("ttft_", "ttft_s"), ("tpot_", "tpot_s"), ("e2e_", "e2e_latency_s"))


def served_ideal_value(case: Case) -> float:
    """The floor of a served row's TTFT, TPOT or end-to-end latency (mean or percentile) in the row's unit: the ideal
    figure of one request alone with the row's lengths, layout and engine (``ideal_value`` of that static estimate);
    NaN for a throughput, or a TTFT or end-to-end latency of prompts the row says were cached (``prefix_hit``)."""
    key = next((static for prefix, static in _SERVED_FLOORS if case.key.startswith(prefix)), None)
    if case.served is None or key is None or (key != "tpot_s" and case.served.get("prefix_hit")):
        return math.nan
    alone = replace(case, kwargs={**case.kwargs, "batch": 1}, key=key, served=None)
    try:
        with only_metrics(_IDEAL_PAIRS[key][:2]):
            result = estimate(**alone.kwargs, **with_memory_fraction(alone, {}))
    except GenmodelError:
        return math.nan
    return ideal_value(alone, result)


def is_beyond_ideal(case: Case, ideal: float) -> bool:
    """Whether the row's published figure is more than ``IDEAL_MARGIN`` beyond its ideal figure ``ideal`` (its unit)."""
    if not math.isfinite(ideal) or ideal <= 0:
        return False
    if case.served is not None or _IDEAL_PAIRS[case.key][2]:  # (a time; a served row's floor is one too)
        return case.measured < (1.0 - IDEAL_MARGIN) * ideal
    return case.measured > ideal / (1.0 - IDEAL_MARGIN)


def beyond_ideal(records: Table) -> dict[str, Any]:
    """The rows checked against their ideal (a finite ``ideal``: static rows, and served rows' times against one
    request's alone) and those more than ``IDEAL_MARGIN`` beyond it: {"rows": checked, "beyond": count, "ids": [their
    ids], "margin": IDEAL_MARGIN}."""
    if "ideal" not in records or not len(records):
        return {"rows": 0, "beyond": 0, "ids": [], "margin": IDEAL_MARGIN}
    checked = np.isfinite(np.asarray(records["ideal"], dtype=float))
    flags = np.asarray([bool(b) for b in records["beyond_ideal"]], dtype=bool) & checked
    return {"rows": int(checked.sum()), "beyond": int(flags.sum()),
            "ids": [str(i) for i, f in zip(records["id"], flags, strict=True) if f], "margin": IDEAL_MARGIN}


def with_memory_fraction(case: Case, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` for ``estimate`` or ``serve`` with the row's stated memory share (``Case.memory_fraction``) set in
    their ``efficiency`` (a given one keeps its other fields); ``options`` as they are where the row states none."""
    if case.memory_fraction is None:
        return dict(options)
    base = options.get("efficiency") or Efficiency()
    return {**options, "efficiency": base.model_copy(update={"usable_memory_fraction": case.memory_fraction})}


def client_latency_s(case: Case) -> float:
    """What an HTTP client's timing adds to the engine's: the engine's ``request_latency_s`` (its server's time
    outside the engine steps) for a TTFT or end-to-end latency timed by a client, 0 otherwise (the engine's own
    timings; a client's TPOT and throughput, which run at the engine's cadence)."""
    if not case.client_timed or case.metric_class not in ("ttft", "e2e_latency"):
        return 0.0
    return get_engine(case.engine).request_latency_s


def serve_case(case: Case, **options: Any) -> Any:
    """The served-traffic prediction (``genmodel.serve``) of a continuous-batching row: the row's model, devices,
    datatypes, layout and engine, its lengths (fixed) and its traffic (``case.served``)."""
    from genmodel.serving.serve import serve

    kw = {k: v for k, v in case.kwargs.items() if k not in ("batch", "check_fit")}
    return serve(**kw, **case.served, **with_memory_fraction(case, options))


def _served_metric(metrics: Mapping[str, Any], key: str) -> Any:
    if key not in metrics:
        raise NotExpressibleError(f"the served-traffic model gives no {key}")
    return metrics[key]


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
            predicted, result = predicted_value(case, lean=True, ideal=True)
        except GenmodelError as exc:
            record["not_expressible"] = " ".join(str(exc).split()) or type(exc).__name__
        else:
            low, high = _band_values(result, case)
            record.update(kind=case.kwargs["hardware"].kind, group=case.group, metric_class=case.metric_class,
                          engine=case.engine, batching=case.batching, holdout=case.holdout,
                          measured=case.measured, predicted=predicted,
                          predicted_low=low, predicted_high=high,
                          error_pct=(predicted / case.measured - 1) * 100, fits=bool(result.metrics["fits"]),
                          configuration=configuration_key(case, client_latency_s(case)),
                          replica_devices=case.replica_devices, architecture=case.architecture)
            ideal = ideal_value(case, result) if case.served is None else served_ideal_value(case)
            record.update(ideal=ideal, beyond_ideal=is_beyond_ideal(case, ideal))
        records.append(record)
    return _table(records)


def _band_values(result: Any, case: Case) -> tuple[float, float]:
    """The stored 80% band of the row's figure, in the row's unit (NaN when the estimate has none)."""
    low, high = (result.metrics.get(f"{case.key}_{edge}") for edge in ("low", "high"))
    if low is None or high is None:
        return math.nan, math.nan
    values = [(float(np.asarray(v, dtype=float)) + client_latency_s(case)) / case.scale for v in (low, high)]
    return tuple(v if math.isfinite(v) else math.nan for v in values)  # type: ignore[return-value]


def _table(records: list[dict[str, Any]]) -> Table:
    """Records as a ``Table``: text columns as objects (None where absent), numbers as floats."""
    columns = list(dict.fromkeys(c for r in records for c in r)) or RECORD_COLUMNS
    out = {}
    for c in columns:
        values = [r.get(c) for r in records]
        if c in _TEXT or c in ("fits", "beyond_ideal"):
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
    """Per phase, per metric class, per hardware kind, per engine and per batching, and per model architecture and
    phase (``architecture:moe prefill``): n, median |error| (%), share within 25%, median signed error (%), the number
    of sources (hold-out groups) and the median of the sources' own median |error| (so that one large source cannot
    carry the figure)."""
    ok = scored(records)
    out: dict[str, dict[str, Any]] = {}
    signed_all = np.asarray(ok["error_pct"], dtype=float) if "error_pct" in ok else np.zeros(0)
    as_time = None
    if "metric" in ok:  # the signed errors oriented as times: a rate's ratio inverted (negative: too fast)
        rate = np.asarray([metric_dimension(str(m)) == "rate" for m in ok["metric"]], dtype=bool)
        as_time = np.where(rate, 100.0 * (100.0 / (100.0 + signed_all) - 1.0), signed_all)
    holdouts = np.asarray([str(h) for h in ok["holdout"]], dtype=object) if "holdout" in ok else None

    def text(column: str) -> np.ndarray:
        return np.asarray([str(n) for n in ok[column]], dtype=object)

    breakdowns = [(label, text(column)) for label, column in (
        ("phase", "group"), ("metric", "metric_class"), ("kind", "kind"), ("engine", "engine"),
        ("batching", "batching")) if column in ok]
    if "architecture" in ok and "group" in ok:  # dense and mixture-of-experts models apart, per phase
        breakdowns.append(("architecture", text("architecture") + " " + text("group")))
    if "metric" in ok:  # a served run's tail percentiles, each metric apart (``tail:ttft_p99``; the others: none)
        metric = text("metric")
        breakdowns.append(("tail", np.where(np.isin(metric, TAIL_METRICS), metric, "")))
    for label, names in breakdowns:
        for name in sorted(set(names) - {""}):
            mask = names == name
            signed = signed_all[mask]
            err = np.abs(signed)
            entry = {"n": len(err), "median_abs_error_pct": float(np.median(err)),
                     "within_25pct": float(np.mean(err <= WITHIN_PCT)),
                     "median_signed_error_pct": float(np.median(signed))}
            if as_time is not None:
                entry["median_time_error_pct"] = float(np.median(as_time[mask]))
            if holdouts is not None:
                groups = holdouts[mask]
                medians = [float(np.median(err[groups == g])) for g in sorted(set(groups))]
                entry["sources"] = len(medians)
                entry["median_of_source_medians_pct"] = float(np.median(medians))
            out[f"{label}:{name}"] = entry
    return out
