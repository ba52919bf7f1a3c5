"""Error bands: an 80% interval around every time, throughput and memory-fit figure (docs/validation.md, "Bands").

Contract
--------
The bands come from held-out measurements, not from the residuals a fit was made on. ``genmodel validate
--calibrate --write`` predicts every published row with its whole hold-out group (publisher, engine, harness) left
out of the fit, and the independent rows (never fitted on) with the fit, and stores, per cell (hardware kind,
serving engine, phase), the conformal quantiles of the log errors of those predictions, each error weighted by
1/sqrt(the cell's errors from its source) (``source_weights``; a band must cover where a new source lands)
(``validation/error_bands.json``); the rows predicted with the served-traffic model
make cells of their own, for ``serve``'s medians, means and throughputs, and the published tail percentiles of served
runs (``validation/tails.csv``, each predicted with a fit that did not see its source) make cells per tail metric
(``ttft_p99``, ``tpot_p90`` ...), for ``serve``'s P90 and P99 figures. Each error is oriented as a time:
``r = log(predicted time / measured time)`` (a rate's error is negated), so a measurement lies in
``[T exp(-r_hi), T exp(-r_lo)]`` for a predicted time T, and ``[R exp(r_lo), R exp(r_hi)]`` for a predicted rate R.

Cells are also kept per device count of one model replica (``scale_of``: one device, 2-4, 5 or more), from the same
residuals: a replica on many devices puts collectives on every layer's critical path and, in the published rows, runs
the largest models on the youngest serving stacks, so its errors are not a single device's. ``band(kind, engine, phase,
calibrated, devices=n)`` looks up the cell of that device count, then its parents of the same count (any engine; then
the phase over all kinds), then the cells over all device counts (same kind and phase, any engine; then the phase over
all kinds); ``band(kind, engine, phase, calibrated)`` starts at the cell over all device counts. The served cells
(``serve``'s medians and means) are kept per model architecture as well (``ARCHITECTURES``: dense, or with
mixture-of-experts layers; ``architecture_of``), from the same residuals: ``band(..., served=True, architecture=a)``
looks at the cells of a's rows (this kind and engine, this kind, any kind) before the same three over both
architectures, at each device-count level; ``estimate``'s cells and the tails' are not split, and a lookup with an
architecture in cells without any takes the cells over both. A cell with fewer than ``MIN_CELL`` held-out rows, or with
rows from fewer than ``MIN_SOURCES`` hold-out groups, borrows its parent's band widened by ``WIDEN`` about its centre,
and the band's ``basis`` says so; one that stands on fewer than ``THIN_SOURCES`` groups spans its own band and that of
its first standing parent of the same device-count class with more groups (the lower low edge, the higher high edge).
(Rows of one source share its harness, engine build and conventions: a cell drawn from one or two sources holds their
scatter about their own offset, not how far a new source lands, which is what a band of a held-out prediction must
cover.) An engine run without captured graphs (``band(..., eager=True)``: a profile's ``+eager`` variant) gets its
engine's band widened by ``WIDEN`` about its middle, saying so: few held-out rows ran so. Estimates made with the kind
and engine defaults (``calibrated=False``) use the bands of the uncalibrated predictions. Memory fit: the space left for
the KV cache matched vLLM's start-up figures to within ``MEMORY_BAND_BYTES`` in nine published cases
(tests/test_memory.py), so the largest batch is also given at that much less and more memory.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

ALPHA = 0.2  # 80% bands
MIN_CELL = 12  # held-out rows a cell needs for its own band
SCALES = ("1", "2-4", "5+")  # device-count classes of one model replica (``scale_of``)
# model architectures with served cells of their own (``architecture_of``): models with mixture-of-experts layers miss
# in their own way (their prompts mostly slower than predicted, docs/validation.md history item 53), so a served band
# pooled over both covered dense models' served figures 67-69% of the time and MoE models' 84-86% (item 95)
ARCHITECTURES = ("dense", "moe")
ARCHITECTURE_LABELS = {"dense": "dense", "moe": "MoE"}
MIN_SOURCES = 4  # ... and the hold-out groups (sources) they must come from
# a cell standing on fewer sources than this also spans the band of its first standing parent of the same
# device-count class with more sources (``lookup``): a 10% or 90% quantile drawn from four or five sources' offsets
# understates how far the next source lands
THIN_SOURCES = 6
SOURCE_WEIGHT_POWER = 0.5  # a residual's weight in its cell: (its source's residuals in the cell) ** -0.5
WIDEN = 1.25  # a borrowed band is widened this much about its centre
MEMORY_BAND_BYTES = 1.5 * 2**30
ANY = "*"


@dataclass(frozen=True)
class Band:
    """Log-error quantiles (time orientation) and where they come from."""

    low: float  # r_lo: the 10% quantile of log(predicted / measured time)
    high: float  # r_hi: the 90% quantile
    n: int
    basis: str

    def times(self, value, factors: tuple | None = None):
        """(low, high) of a predicted time (an unbounded time, or no band, gives nan or 0 and inf edges)."""
        with np.errstate(invalid="ignore"):
            return self.times_unchecked(value, factors)

    def rates(self, value, factors: tuple | None = None):
        """(low, high) of a predicted rate."""
        with np.errstate(invalid="ignore"):
            return self.rates_unchecked(value, factors)

    def times_unchecked(self, value, factors: tuple | None = None):
        """``times`` for a caller that has set ``np.errstate(invalid="ignore")`` itself (once for many figures);
        ``factors``: this band's ``factors()``, computed once by a caller that bands many figures."""
        value = _operand(value)
        f = self.factors() if factors is None else factors
        return value * f[0], value * f[1]

    def rates_unchecked(self, value, factors: tuple | None = None):
        """``rates`` for a caller that has set ``np.errstate(invalid="ignore")`` itself."""
        value = _operand(value)
        f = self.factors() if factors is None else factors
        return value * f[2], value * f[3]

    def factors(self) -> tuple:
        """(exp(-high), exp(-low), exp(low), exp(high)): the factors of a time's edges and of a rate's (an array band
        has one of each per configuration: computed once per call, not once per figure, and not kept)."""
        return _exp(-self.high), _exp(-self.low), _exp(self.low), _exp(self.high)


def _exp(x):
    """exp of a band edge: a Python float (one band), or an array (``per_configuration``: a band per configuration)."""
    return math.exp(x) if type(x) is float else np.exp(x)


def _operand(value):
    """``np.asarray(value)`` as a factor of a product with a Python float: a float64 NumPy scalar as it is (its product
    is the one the 0-d array gives, the same NumPy scalar), without making the 0-d array."""
    return value if type(value) is np.float64 else np.asarray(value)


NO_BAND = Band(-math.inf, math.inf, 0, "no held-out measurements: no band")


def conformal_quantiles(residuals: list[float], alpha: float = ALPHA,
                        weights: list[float] | None = None) -> tuple[float, float] | None:
    """Split-conformal (alpha/2, 1 - alpha/2) quantiles of ``residuals``, each carrying a weight (``weights``; None:
    all equal) and the test point the mean weight: the upper edge is the smallest residual at which the weight at or
    below it reaches (1 - alpha/2) x (n + 1) mean weights, the lower edge the largest at which the weight at or above
    it does. With equal weights these are the ranks floor((n + 1) alpha/2) and ceil((n + 1)(1 - alpha/2)). None when
    no residual reaches that weight (too few residuals)."""
    n = len(residuals)
    order = sorted(range(n), key=residuals.__getitem__)
    if weights is None or len(set(weights)) <= 1:
        w = [1.0] * n  # (equal weights: whole numbers, so the ranks come out exactly)
    else:
        mean = sum(weights) / n
        w = [weights[i] / mean for i in order]
    need = (n + 1) * (1 - alpha / 2)
    high = _reached(order, w, need, residuals)
    low = _reached(order[::-1], w[::-1], need, residuals)
    return None if high is None or low is None else (low, high)


def _reached(order: list[int], w: list[float], need: float, residuals: list[float]) -> float | None:
    """The first residual, in ``order``, at which the running sum of the weights ``w`` reaches ``need``."""
    total = 0.0
    for i, weight in zip(order, w, strict=True):
        total += weight
        if total >= need:
            return residuals[i]
    return None


def source_weights(sources: list[str]) -> list[float]:
    """Each residual's weight in its cell's quantiles: 1 / sqrt(the cell's residuals from its source), so that a
    source of many rows counts for more than one of few, but not in proportion (the calibration's weighting of rows,
    ``genmodel.validation.calibration``): a band must cover where a new source lands, and rows of one source share
    its harness and offset."""
    counts = Counter(sources)
    return [counts[s] ** -SOURCE_WEIGHT_POWER for s in sources]


def weighted_median(residuals: list[float], weights: list[float]) -> float:
    """The residual at which the running weight, in sorted order, first reaches half the total."""
    order = sorted(range(len(residuals)), key=residuals.__getitem__)
    found = _reached(order, [weights[i] for i in order], sum(weights) / 2, residuals)
    return residuals[order[-1]] if found is None else found


def _class_index(devices):
    """The index into ``SCALES`` of a replica on ``devices`` devices (a number, or an array of them): 0 for one
    device, 1 for 2-4 (part of a node), 2 for 5 or more (a whole node or several)."""
    return (devices > 1) * 1 + (devices > 4)


def scale_of(devices: float) -> str:
    """The device-count class (``SCALES``) of a model replica on ``devices`` devices."""
    return SCALES[_class_index(devices)]


def architecture_of(model) -> str:
    """'moe' for a model with mixture-of-experts layers, else 'dense': the model architecture whose own band cells a
    figure of it looks up first where the cells are kept per architecture (``serve``'s; ``ARCHITECTURES``)."""
    return "moe" if model.moe is not None else "dense"


def cell_key(kind: str, engine: str, phase: str, scale: str | None = None, architecture: str | None = None) -> str:
    """'kind|engine|phase' over all device counts, 'kind|engine|phase|scale' for one device-count class; with an
    architecture, the phase part names it ('prefill:moe'): the cell of that architecture's rows alone."""
    part = phase if architecture is None else f"{phase}:{architecture}"
    return f"{kind}|{engine}|{part}" if scale is None else f"{kind}|{engine}|{part}|{scale}"


def parents(kind: str, engine: str, phase: str, scale: str | None = None,
            architecture: str | None = None) -> list[str]:
    """The cell and its parents, most specific first: with a device-count class, its cells of that class before
    those over all device counts; within each, with an architecture, the cells of that architecture's rows (this
    kind and engine, this kind, any kind) before the cells of every architecture's."""
    scales = ([scale] if scale is not None else []) + [None]
    archs = ([architecture] if architecture is not None else []) + [None]
    return [cell_key(k, e, phase, sc, a) for sc in scales for a in archs
            for k, e in ((kind, engine), (kind, ANY), (ANY, ANY))]


def _scale_label(scale: str) -> str:
    return "1 device" if scale == SCALES[0] else f"{scale} devices"


def _label(key: str) -> str:
    """A cell key as text: 'gpu / any / decode / 5+ devices', 'gpu / vllm / prefill, MoE models / 1 device'."""
    parts = key.replace(ANY, "any").split("|")
    phase, _, architecture = parts[2].partition(":")
    if architecture:
        phase = f"{phase}, {ARCHITECTURE_LABELS.get(architecture, architecture)} models"
    return " / ".join(parts[:2] + [phase] + [_scale_label(s) for s in parts[3:]])


def build(records: list[tuple], alpha: float = ALPHA,
          own_cell_only: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Cells from held-out records (kind, engine, phase, time-oriented log error, hold-out group[, device-count
    class[, architecture]]): every cell and parent with enough rows for conformal ranks, its quantiles and centre
    weighted by source (``source_weights``), with its row count ``n`` and its number of ``sources``; a record with a
    class joins the cells of its class and those over all classes, and one with an architecture the cells of its
    architecture and those over all architectures. Records of an engine in ``own_cell_only`` (a profile that
    knowingly lacks its engine's dominant cost) join their own engine's cells only, not the parents other engines
    fall back to."""
    groups: dict[str, list[float]] = {}
    sources: dict[str, list[str]] = {}
    for kind, engine, phase, r, source, *rest in records:
        keys = parents(kind, engine, phase, rest[0] if rest else None, rest[1] if len(rest) > 1 else None)
        for key in (keys if engine not in own_cell_only else [k for k in keys if k.split("|")[1] == engine]):
            groups.setdefault(key, []).append(r)
            sources.setdefault(key, []).append(source)
    cells = {}
    for key, rs in groups.items():
        weights = source_weights(sources[key])
        q = conformal_quantiles(rs, alpha, weights)
        if q is not None:
            cells[key] = {"low": q[0], "high": q[1], "n": len(rs), "sources": len(set(sources[key])),
                          "median": weighted_median(rs, weights)}
    return cells


def _kept_per_architecture(cells: dict[str, dict]) -> bool:
    """Whether ``cells`` are kept per model architecture as well (their keys name one: 'gpu|vllm|prefill:moe')."""
    return any(":" in key for key in cells)


def _stands(cell: dict | None) -> bool:
    """Whether a cell has enough held-out rows, from enough sources, for a band of its own."""
    return cell is not None and cell["n"] >= MIN_CELL and cell.get("sources", 0) >= MIN_SOURCES


def lookup(cells: dict[str, dict], kind: str, engine: str, phase: str, scale: str | None = None,
           architecture: str | None = None) -> Band:
    """The band of (kind, engine, phase[, device-count class][, architecture]): its own when it has MIN_CELL rows
    from MIN_SOURCES sources (and from fewer than THIN_SOURCES sources, its own joined with the band of its first
    standing parent of the same device-count class that has more sources: the lower of the two low edges, the higher
    of the two high edges), else the first parent's that has, widened."""
    if architecture is not None and not _kept_per_architecture(cells):
        architecture = None  # (cells kept over both architectures only: ``estimate``'s and the tails')
    keys = parents(kind, engine, phase, scale, architecture)
    for depth, key in enumerate(keys):
        cell = cells.get(key)
        if not _stands(cell):
            continue
        label = _label(key)
        rows = f"{cell['n']} held-out rows from {cell['sources']} sources"
        if depth == 0:
            if cell["sources"] < THIN_SOURCES:
                # (a device-count class's cell looks among its own class's parents only: keys with as many parts)
                same_class = [k for k in keys[1:] if k.count("|") == key.count("|")]
                parent = next((k for k in same_class
                               if _stands(cells.get(k)) and cells[k]["sources"] > cell["sources"]), None)
                if parent is not None:
                    p = cells[parent]
                    return Band(min(cell["low"], p["low"]), max(cell["high"], p["high"]), cell["n"],
                                f"{label}: {rows}, fewer than {THIN_SOURCES}: joined with the band of "
                                f"{_label(parent)} ({p['n']} held-out rows from {p['sources']} sources)")
            return Band(cell["low"], cell["high"], cell["n"], f"{label}: {rows}")
        own = _label(cell_key(kind, engine, phase, scale, architecture))
        return Band(*_widened(cell["low"], cell["high"], cell["median"]), cell["n"],
                    f"too few held-out rows or sources for {own}: the band of {label} ({rows}) widened {WIDEN}x")
    return NO_BAND


def tail_lookup(cells: dict[str, dict], kind: str, engine: str, phase: str, scale: str | None = None) -> Band:
    """``lookup`` of a tail percentile's cells (``phase``: 'ttft_p99' ...); a P90 none of whose cells stands takes its
    metric's P99 band, wider, and says so."""
    found = lookup(cells, kind, engine, phase, scale)
    if found is NO_BAND and phase.endswith("_p90"):
        wider = lookup(cells, kind, engine, phase.removesuffix("_p90") + "_p99", scale)
        if wider is not NO_BAND:
            return Band(wider.low, wider.high, wider.n, f"no P90 cell with enough held-out rows and sources: the P99 "
                                                        f"cell's band, wider ({wider.basis})")
    return found


def _widened(low: float, high: float, centre: float) -> tuple[float, float]:
    """The band edges ``low``, ``high`` moved ``WIDEN`` times as far from ``centre``."""
    return centre - WIDEN * (centre - low), centre + WIDEN * (high - centre)


def forget_stored() -> None:
    """Read the stored bands again at the next lookup (after ``genmodel.validation.bands`` rewrote them)."""
    _stored.cache_clear()
    _band_of_class.cache_clear()


@functools.cache
def _stored() -> dict:
    from genmodel.data.registry import builtin_root

    path = builtin_root() / "validation" / "error_bands.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def band(kind: str, engine: str, phase: str, calibrated: bool = True, served: bool = False,
         eager: bool = False, devices: float | None = None, tails: bool = False,
         architecture: str | None = None) -> Band:
    """The stored 80% band for an estimate of this kind, engine and phase (see the module docstring); ``served``:
    the band of the served-traffic model's figures (cells from the served rows alone); ``eager``: the engine runs
    without captured graphs (its ``+eager`` variant), for which the engine's cell, measured mostly with graphs, is
    widened ``WIDEN`` about its middle and says so; ``devices``: the devices of one model replica (None: the cells
    over all device counts). ``tails``: the band of a served run's tail percentile, ``phase`` naming it as a
    measurement row does (``ttft_p99``, ``tpot_p90``, ``itl_p99``, ``e2e_latency_p99``): the cells of the published
    P90 and P99 figures (``validation/tails.csv``), a P90 without a cell of its own taking its metric's P99 cell
    (wider, and said so). ``architecture``: the model's (``architecture_of``), whose own cells come first where the
    cells are kept per architecture (the served cells); ``estimate``'s and the tails' are not (None: the cells over
    both)."""
    return _band_of_class(kind, engine, phase, calibrated, served, eager,
                          None if devices is None else scale_of(devices), tails, architecture)


@functools.lru_cache(maxsize=4096)
def _band_of_class(kind: str, engine: str, phase: str, calibrated: bool, served: bool, eager: bool,
                   scale: str | None, tails: bool = False, architecture: str | None = None) -> Band:
    """``band`` for a device-count class (None: the cells over all classes); kept per process, as the stored cells
    are (``forget_stored``)."""
    data = _stored()
    if tails:
        data = data.get("tails", {})
    elif served:
        data = data.get("served", {})
    cells = data.get("calibrated" if calibrated else "defaults", {})
    found = (tail_lookup(cells, kind, engine, phase, scale) if tails else
             lookup(cells, kind, engine, phase, scale, architecture))
    if not eager or found is NO_BAND:
        return found
    return Band(*_widened(found.low, found.high, (found.low + found.high) / 2), found.n,
                f"{found.basis}; graphs off ({engine}+eager): widened {WIDEN}x, as the band's rows ran mostly with "
                "graphs and the host time per eager kernel varies about 2x across versions and hosts (formulas.md 5.2)")


def per_configuration(kind: str, engine: str, phase: str, devices, calibrated: bool = True, served: bool = False,
                      eager: bool = False, tails: bool = False, architecture: str | None = None) -> Band:
    """``band`` for replicas of ``devices`` devices (a number, or an array over configurations): one band where every
    configuration has the same device-count class, else a band whose edges are arrays (each configuration's class's
    edges) and whose basis names each class's."""
    if type(devices) in (float, int, np.float64):
        return band(kind, engine, phase, calibrated, served, eager, float(devices), tails, architecture)
    index = _class_index(np.asarray(devices, dtype=float))
    present = [c for c, count in zip(SCALES, np.bincount(index.ravel(), minlength=len(SCALES)), strict=True) if count]
    if len(present) == 1:
        return _band_of_class(kind, engine, phase, calibrated, served, eager, present[0], tails, architecture)
    found = {c: _band_of_class(kind, engine, phase, calibrated, served, eager, c, tails, architecture)
             for c in present}
    low, high = (np.array([getattr(found.get(c, NO_BAND), edge) for c in SCALES])[index] for edge in ("low", "high"))
    return Band(low, high, min(b.n for b in found.values()),
                "by devices per replica: " + "; ".join(f"{_scale_label(c)}: {b.basis}" for c, b in found.items()))
