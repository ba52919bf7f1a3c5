"""Platform sizing and SLO planning over parallel layouts and batch sizes (docs/parallelism.md section 4).

Contract
--------
* ``layouts(model, max_devices)``: every valid (tp, pp, ep, cp, attention_dp) split of one replica with at
  most ``max_devices`` devices: tp over the divisors of the head count, ep over the divisors of the expert
  count, pp over 1..min(layers, max_devices) (any integer; uneven stages allowed), context parallel cp in
  1, 2, 4, 8 (without attention data parallelism), attention data parallelism on or off for MoE models.
  Returned as arrays.
* ``size(...)``: the fewest devices whose memory holds the weights and the KV cache of the workload, and
  the split doing it (ties broken by the lowest TPOT).
* ``plan(...)``: evaluates every layout x batch size in **one** vectorized ``estimate`` call, keeps the
  configurations that fit and meet the TTFT and TPOT targets (``targets_at='band'``: at the upper edge of each
  figure's 80% band instead of the estimate, docs/parallelism.md section 4), fills the device budget with data-parallel
  replicas (dp = floor(max_devices / replica devices)), and ranks them by output tokens/s per device (or by
  $ per million output tokens, or J per output token). It
  also returns the Pareto front of output tokens/s per device against tokens/s per user (1 / TPOT) over
  all configurations that fit, whatever the SLO.
* Arguments (checked before anything is evaluated; a bad one raises a ``GenmodelError`` naming it): batch,
  input_tokens and output_tokens are single whole numbers (the searches' own axes are the layouts and, for
  ``plan``, ``batches``: one batch size or a one-dimensional list of them); TTFT and TPOT targets are positive
  and at most a day; a request rate is one request a day to a billion a second. The other keyword arguments are
  ``estimate``'s that do not set the layout (``flops_scale`` ... ``interconnect_scale`` single numbers), with a
  request rate only those ``serve`` takes too (``SERVED_OPTIONS``).
* ``disaggregate(...)``: Splitwise/DistServe-style serving: the best prefill layout (TTFT, KV transfer
  included, within target) and the best decode layout (TPOT within target), the prefill:decode device
  ratio that balances their request rates, and the resulting output tokens/s per device compared with the
  best co-located configuration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from genmodel.data.registry import get_model, resolve_hardware
from genmodel.engine.collectives import Network
from genmodel.engine.estimate import estimate, only_metrics
from genmodel.engine.inputs import resolve_dtypes
from genmodel.engine.parallel import Parallelism, divisors
from genmodel.errors import ConfigurationError, InputTypeError
from genmodel.specs.checks import (
    MAX_BATCH,
    MAX_TARGET_S,
    MAX_TOKENS,
    MIN_REQUEST_RATE_PER_S,
    choice,
    latency_target,
    numbers,
    positive,
    scalar,
    whole,
)
from genmodel.specs.checks import request_rate as request_rate_check
from genmodel.specs.model import ModelSpec
from genmodel.table import Row, Table

DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


CP_DEGREES = (1, 2, 4, 8)


def layouts(model: ModelSpec, max_devices: int) -> dict[str, np.ndarray]:
    """Valid single-replica splits with at most ``max_devices`` devices: arrays tp, pp, ep, cp, attention_dp."""
    tps = [t for t in divisors(model.attention.num_heads) if t <= max_devices]
    eps = [e for e in divisors(model.moe.num_experts) if e <= max_devices] if model.moe else [1]
    rows = []
    for adp in ((False, True) if model.moe else (False,)):
        for tp in tps:
            for ep in eps:
                valid = ep % tp == 0 if adp else tp % ep == 0
                if not valid or (adp and ep == 1):
                    continue
                for cp in (1,) if adp else CP_DEGREES:
                    stage = ep if adp else tp * cp
                    rows += [(tp, pp, ep, cp, adp) for pp in range(1, min(model.num_layers, max_devices // stage) + 1)]
    arr = np.array(rows, dtype=object)
    return {"tp": arr[:, 0].astype(int), "pp": arr[:, 1].astype(int), "ep": arr[:, 2].astype(int),
            "cp": arr[:, 3].astype(int), "attention_dp": arr[:, 4].astype(bool)}


def _parallelism(lay: dict[str, np.ndarray]) -> Parallelism:
    return Parallelism(lay["tp"], lay["pp"], lay["ep"], 1, lay["attention_dp"], cp=lay["cp"])


MAX_DEVICES = 1 << 16


def _max_devices(hardware, max_devices: int | None) -> int:
    _, platform = resolve_hardware(hardware)
    if max_devices is None:
        return platform.num_devices if platform else 8
    return int(scalar("max_devices", whole("max_devices", max_devices, 1, MAX_DEVICES)))


COLUMNS = ("devices", "tp", "pp", "ep", "dp", "cp", "attention_dp", "batch", "ttft_s", "tpot_s", "e2e_latency_s",
           "output_tokens_per_s", "output_tokens_per_s_per_device", "tokens_per_s_per_user", "total_memory_bytes",
           "memory_capacity_bytes", "fits", "max_batch", "decode_comm_s", "energy_per_output_token_j",
           "usd_per_million_output_tokens",
           # the 80% bands (genmodel.engine.uncertainty) of the figures a plan is ranked and filtered by
           "ttft_s_low", "ttft_s_high", "tpot_s_low", "tpot_s_high", "output_tokens_per_s_per_device_low",
           "output_tokens_per_s_per_device_high")


def _frame(result) -> Table:
    data = {**result.inputs, **result.metrics}
    return Table({k: np.ravel(data[k]) for k in COLUMNS})


# the TTFT and TPOT targets (at most a day) and request rates (one a day to a billion a second) a search takes:
# genmodel.specs.checks (``latency_target``, ``request_rate``), shared with serve and requirements

def _targets(ttft_s, tpot_s) -> tuple[float | None, float | None]:
    ttft, tpot = (None if v is None else scalar(n, latency_target(n, v))
                  for n, v in (("ttft_s", ttft_s), ("tpot_s", tpot_s)))
    return ttft, tpot


def _workload(**values) -> None:
    """The single whole numbers of a search's workload (batch, input_tokens, output_tokens); an array is refused:
    the searches evaluate their own axes (layouts, batch sizes), against which it would not broadcast."""
    for name, value in values.items():
        scalar(name, whole(name, value, 1, MAX_BATCH if name == "batch" else MAX_TOKENS))


# estimate's arguments that a search sets itself, and why
_SET_BY_SEARCH = {
    **dict.fromkeys(("tp", "pp", "ep", "dp", "cp", "attention_dp", "expert_imbalance", "comm_overlap",
                     "micro_batches", "num_devices", "parallel"), "the search tries every layout itself"),
    "check_fit": "the search keeps every configuration, with the fits column saying which fit",
    "workload": "give the batch, lengths and datatypes as the search's own arguments"}
# the other estimate arguments a search passes on (one value each), and those that serve takes too (with a request
# rate the layouts are checked by estimate, then served; costs is dropped there: served plans report no cost)
STATIC_OPTIONS = ("embedding_dtype", "prefill_chunk_tokens", "flops_scale", "bandwidth_scale", "capacity_scale",
                  "interconnect_scale", "costs", "requests_per_s", "efficiency", "calibrated", "cooling_w_per_w",
                  "engine")
SERVED_OPTIONS = ("flops_scale", "bandwidth_scale", "capacity_scale", "interconnect_scale", "costs", "efficiency",
                  "calibrated", "engine")
_SCALES = ("flops_scale", "bandwidth_scale", "capacity_scale", "interconnect_scale")


def _options(kwargs: dict[str, Any], served: bool = False) -> None:
    """Refuse the keyword arguments a search cannot pass on (module docstring); estimate checks their values."""
    for name, value in kwargs.items():
        if name in _SET_BY_SEARCH:
            raise ConfigurationError(f"{name} is not an option of a search: {_SET_BY_SEARCH[name]}", name)
        if name not in STATIC_OPTIONS:
            raise InputTypeError(f"{name} is not an argument of size or plan (besides their own they take "
                                 f"{', '.join(STATIC_OPTIONS)})", name)
        if served and name not in SERVED_OPTIONS:
            raise ConfigurationError(f"{name} does not apply with a request rate (a served plan takes "
                                     f"{', '.join(SERVED_OPTIONS)} besides its own arguments)", name)
        if name in _SCALES:  # one what-if for the whole search
            scalar(name, numbers(name, value))


@dataclass
class SizeResult:
    """The smallest split that holds the workload, and every split of that size that does."""

    best: Row
    candidates: Table


def size(model, hardware, batch: int = 1, input_tokens: int = 1024, output_tokens: int = 256,
         weight_dtype=None, kv_dtype=None, activation_dtype=None, max_devices: int | None = None,
         **kwargs) -> SizeResult:
    """Fewest devices (one replica) that hold the weights, KV cache and activations of the workload (one: ``batch``,
    ``input_tokens`` and ``output_tokens`` are single numbers)."""
    _workload(batch=batch, input_tokens=input_tokens, output_tokens=output_tokens)
    _options(kwargs)
    model = get_model(model)
    limit = _max_devices(hardware, max_devices if max_devices is not None else 4096)
    lay = layouts(model, limit)
    with only_metrics(COLUMNS):
        result = estimate(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                          activation_dtype, parallel=_parallelism(lay), check_fit=False, **kwargs)
    frame = _frame(result)
    fitting = frame[frame.fits]
    if fitting.empty:
        raise ConfigurationError(f"max_devices {limit} is too few: {model.name} does not fit on {limit} or fewer "
                                 "devices of this kind with this workload; allow more devices, shrink the batch or "
                                 "context, or use narrower datatypes", "max_devices")
    fewest = fitting[fitting.devices == fitting.devices.min()].sort(["tpot_s", "pp", "cp"])
    return SizeResult(fewest.row(0), fewest)


@dataclass
class PlanResult:
    """Configurations meeting the SLO (ranked), the Pareto front, and the whole evaluated space."""

    ranked: Table
    pareto: Table
    space: Table
    seconds: float

    def to_csv(self, path, extra: dict | None = None) -> None:
        """The ranked configurations as CSV (``extra``: constant columns such as the provenance)."""
        self.ranked.to_csv(path, extra)

    def plot_html(self, path, title: str) -> None:
        """Write a plotly HTML scatter (plotly.js embedded: opens offline): every fitting configuration, the
        SLO-meeting ones and the front."""
        from genmodel.interfaces.charts import pareto_figure

        pareto_figure(self.space, self.ranked, self.pareto, title).write_html(path, include_plotlyjs=True)


def pareto_front(frame: Table, x: str, y: str) -> Table:
    """Rows not dominated in (x, y), both to maximize (best x first)."""
    ordered = frame.sort([x, y], descending=[True, True])
    running = np.maximum.accumulate(np.concatenate([[-np.inf], ordered[y]]))
    return ordered[ordered[y] > running[:-1]]


RANKINGS = {"throughput": ("output_tokens_per_s_per_device", False), "cost": ("usd_per_million_output_tokens", True),
            "energy": ("energy_per_output_token_j", True)}
# what a TTFT or TPOT target is checked against: the estimate, or the upper edge of its 80% band (the time that
# held-out measurements of the figure's class stayed under in 9 of 10 cases; genmodel.engine.uncertainty)
TARGETS_AT = {"estimate": "", "band": "_high"}


def plan(model, hardware, input_tokens: int = 1024, output_tokens: int = 256, ttft_s: float | None = None,
         tpot_s: float | None = None, max_devices: int | None = None, weight_dtype=None, kv_dtype=None,
         activation_dtype=None, batches=DEFAULT_BATCHES, rank_by: str = "throughput", request_rate=None,
         percentile: float = 0.99, targets_at: str = "estimate", **kwargs) -> PlanResult:
    """Search layouts x batch sizes for the configurations meeting the TTFT/TPOT targets (seconds).

    ``targets_at``: 'estimate' (a configuration meets a target when its estimate does) or 'band' (when the upper
    edge of the figure's 80% band does: held-out measurements of its class stayed at or under that edge in 9 of 10
    cases; a configuration without a band for the figure does not meet it). Under a request rate, 'band' holds the
    targets at the percentile with every served time at its band's upper edge: the targets moved by the r_lo of the
    bands ``serve`` gives its figures at that percentile, T e^(r_lo) (``_plan_served``).

    ``rank_by``: 'throughput' (output tokens/s per device, highest first), 'cost' ($ per million output
    tokens, lowest first; needs a price) or 'energy' (J per output token, lowest first). With ``request_rate``
    (requests/s for the whole deployment, one a day to a billion a second) the search is over served traffic instead
    (``_plan_served``): the targets hold at ``percentile`` and the ranking is by goodput per device.

    ``input_tokens`` and ``output_tokens`` are single numbers; ``batches`` is one batch size per replica or a
    one-dimensional list of them (static plans only: under a request rate the running batch follows from the
    traffic); the targets (seconds) are at most a day.
    """
    targets_at = choice("targets_at", targets_at, tuple(TARGETS_AT))
    rank_by = choice("rank_by", rank_by, tuple(RANKINGS))
    _workload(input_tokens=input_tokens, output_tokens=output_tokens)
    _options(kwargs, served=request_rate is not None)
    if request_rate is not None:
        if batches is not DEFAULT_BATCHES:
            raise ConfigurationError("batches applies to static batches; with a request rate the running batch "
                                     "follows from the traffic (leave batches out)", "batches")
        return _plan_served(model, hardware, input_tokens, output_tokens, ttft_s, tpot_s, max_devices, weight_dtype,
                            kv_dtype, activation_dtype, rank_by, request_rate, percentile, targets_at, **kwargs)
    import time

    start = time.perf_counter()
    model = get_model(model)
    limit = _max_devices(hardware, max_devices)
    ttft_s, tpot_s = _targets(ttft_s, tpot_s)
    batches = whole("batches", batches, 1, MAX_BATCH)
    if batches.ndim > 1:
        raise ConfigurationError(f"batches must be one batch size or a list of them, got an array of shape "
                                 f"{batches.shape}", "batches")
    lay = layouts(model, limit)
    batch = np.atleast_1d(batches).astype(int)[:, None]
    par = _parallelism(lay)
    groups = par.attention_groups
    with only_metrics(COLUMNS):  # the columns of the frame only
        result = estimate(model, hardware, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                          activation_dtype, parallel=par, check_fit=False, **kwargs)
    frame = _frame(result)
    # each attention group needs a whole sequence; fill the budget with replicas
    frame = frame[np.ravel(np.broadcast_to(batch >= groups, result.metrics["fits"].shape))]
    dp = limit // frame.devices
    space = frame.assign(dp=dp, devices=frame.devices * dp, output_tokens_per_s=frame.output_tokens_per_s * dp)
    ok = space.fits.copy()
    edge = TARGETS_AT[targets_at]
    if ttft_s is not None:
        ok &= space[f"ttft_s{edge}"] <= ttft_s  # (a NaN edge, no band, compares False)
    if tpot_s is not None:
        ok &= space[f"tpot_s{edge}"] <= tpot_s
    space = space.assign(meets_slo=ok)
    key, ascending = RANKINGS[rank_by]
    ranked = space[ok].sort([key, "tokens_per_s_per_user"], descending=[not ascending, True])
    pareto = pareto_front(space[space.fits], "output_tokens_per_s_per_device", "tokens_per_s_per_user")
    return PlanResult(ranked, pareto, space, time.perf_counter() - start)


SERVED_COLUMNS = ("devices", "tp", "pp", "ep", "dp", "cp", "attention_dp", "batch", "request_rate_per_s",
                  "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_mean_s", "tpot_p90_s", "tpot_p99_s", "e2e_p99_s",
                  "slo_attainment", "goodput_requests_per_s", "goodput_requests_per_s_per_device",
                  "goodput_tokens_per_s_per_device", "max_goodput_rate_per_s", "max_request_rate_per_s",
                  "output_tokens_per_s", "output_tokens_per_s_per_device", "tokens_per_s_per_user",
                  "running_batch", "utilization", "bottleneck", "kv_cache_bytes", "fits", "meets_slo")


def _plan_served(model, hardware, input_tokens, output_tokens, ttft_s, tpot_s, max_devices, weight_dtype, kv_dtype,
                 activation_dtype, rank_by, request_rate, percentile, targets_at="estimate", **kwargs) -> PlanResult:
    """Layouts x replica counts under served traffic at ``request_rate`` (requests/s for the deployment).

    Every valid replica layout is paired with every replica count dp that fits the device budget and gives each
    replica at least one request a day (dp replicas share the rate evenly), and the pairs are evaluated in **one**
    vectorized ``serve`` call with the targets at ``percentile`` (a target moved past a day, ``targets_at='band'``,
    is held at a day). ``meets_slo``: the configuration fits, is stable at the rate, and the share of requests meeting
    both targets is at least ``percentile``. Ranked by goodput (requests/s meeting both targets, DistServe's
    definition) per device, then by the headroom ``max_goodput_rate_per_s``; ``batch`` is the mean running batch
    of one replica. The Pareto front (output tokens/s per device vs tokens/s per user, 1 / mean TPOT) is over the
    stable configurations that fit, each row with its ``meets_slo``.

    ``targets_at='band'``: every served time at the upper edge of its 80% band (``serve``'s bands at the percentile,
    for the replica's device count: ``served_phase_bands``, the tail cells above the median) is T e^(-r_lo), so a
    target T holds there where the estimate meets T e^(r_lo): each device-count class of layouts is served once with
    its targets moved so, and
    ``meets_slo``, the goodput and its headroom are those at the band's edge (the other figures, the estimates, are
    the same as at the targets).
    """
    import time

    from genmodel.serving.serve import serve

    if rank_by != "throughput":
        raise ConfigurationError(f"with a request rate the plan ranks by goodput per device; rank_by {rank_by!r} "
                                 "applies to static batches (leave out the request rate)", "rank_by")
    start = time.perf_counter()
    model = get_model(model)
    limit = _max_devices(hardware, max_devices)
    ttft_s, tpot_s = _targets(ttft_s, tpot_s)
    if ttft_s is None and tpot_s is None:
        raise ConfigurationError("ranking by goodput needs a TTFT or TPOT target (ttft_s, tpot_s) with the request "
                                 "rate", "ttft_s")
    rate = scalar("request_rate", request_rate_check("request_rate", request_rate))
    # one positive number before the band targets use it; its range (1% to 99.999%) is serve's
    scalar("percentile", positive("percentile", percentile))
    kwargs.pop("costs", None)  # served plans report no cost or energy
    lay = layouts(model, limit)
    # layouts whose weights do not fit even at batch 1 cannot serve: dropped before the traffic model
    with only_metrics(("fits",)):
        fits_one_result = estimate(model, hardware, 1, input_tokens, output_tokens, weight_dtype, kv_dtype,
                                   activation_dtype, parallel=_parallelism(lay), check_fit=False, **kwargs)
    fits_one = fits_one_result.metrics["fits"]
    lay = {k: v[np.ravel(fits_one)] for k, v in lay.items()}
    if not len(lay["tp"]):
        raise ConfigurationError(f"{model.name} does not fit on {limit} or fewer devices of this kind; allow more "
                                 "devices or use narrower datatypes", "max_devices")
    par = _parallelism(lay)  # one replica of each layout (L of them)
    counts = (limit // par.devices).astype(int)  # replicas that fit the budget
    dp = np.arange(1, max(int(counts.max()), 1) + 1)
    # each replica gets at least one request a day (the slowest stream a plan or serve takes): more would idle
    dp = dp[rate / dp >= MIN_REQUEST_RATE_PER_S][:, None]  # (D, 1): replica counts, paired below
    shape = (len(dp), len(counts))
    # the targets each layout is served at: as given, or (band) moved by its class's r_lo (one group per class)
    groups = [(np.arange(len(counts)), ttft_s, tpot_s, True)]
    if targets_at == "band":
        groups = _band_targets(fits_one_result, par.replica_devices, ttft_s, tpot_s, percentile)
    m = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for idx, ttft_at, tpot_at, banded in groups:
            # the replica's physics is evaluated once per layout; only its share of the rate varies with dp
            result = serve(model, hardware, input_tokens, output_tokens, request_rate=rate / dp,
                           ttft_target_s=ttft_at, tpot_target_s=tpot_at, percentile=percentile,
                           weight_dtype=weight_dtype, kv_dtype=kv_dtype, activation_dtype=activation_dtype,
                           parallel=par if len(groups) == 1 else _parallelism({k: v[idx] for k, v in lay.items()}),
                           **kwargs)
            for k, v in result.metrics.items():
                v = np.asarray(v)
                if len(groups) == 1:
                    m[k] = np.broadcast_to(v, shape)
                    continue
                m.setdefault(k, np.empty(shape, dtype=v.dtype))[:, idx] = np.broadcast_to(v, (len(dp), len(idx)))
            if not banded:  # no band for a target's phase: nothing is known to meet it
                for k in ("meets_slo", "goodput_requests_per_s", "max_goodput_rate_per_s"):
                    m[k][:, idx] = 0
        keep = np.ravel(np.broadcast_to(dp <= counts, shape))
        dps = np.broadcast_to(dp, shape)
        devices = m["devices"] * dps  # all replicas
        data = {"tp": par.tp, "pp": par.pp, "ep": par.ep, "dp": dps, "cp": par.cp, "attention_dp": par.attention_dp,
                **{k: m[k] for k in SERVED_COLUMNS if k in m}}
        for key in ("request_rate_per_s", "goodput_requests_per_s", "max_goodput_rate_per_s",
                    "max_request_rate_per_s", "output_tokens_per_s", "kv_cache_bytes"):
            data[key] = m[key] * dps  # one replica's figure x replicas
        data["devices"] = devices
        data["output_tokens_per_s_per_device"] = m["output_tokens_per_s_per_device"]
        data["batch"] = np.round(np.asarray(m["running_batch"], dtype=float))
        data["running_batch"] = m["running_batch"] * dps
        data["goodput_requests_per_s_per_device"] = data["goodput_requests_per_s"] / devices
        data["goodput_tokens_per_s_per_device"] = data["goodput_requests_per_s"] * output_tokens / devices
        data = {k: np.ravel(np.broadcast_to(np.asarray(v), shape))[keep] for k, v in data.items()}
    space = Table({k: data[k] for k in SERVED_COLUMNS})
    usable = space.fits & np.isfinite(space.tokens_per_s_per_user) & np.isfinite(space.ttft_p50_s)
    ranked = space[space.meets_slo]
    # goodput per device to 4 significant digits (attainments of 0.9999999 and 1 are a tie), then headroom
    order = np.lexsort((-ranked.max_goodput_rate_per_s, -_significant(ranked.goodput_requests_per_s_per_device)))
    ranked = ranked[order]
    pareto = pareto_front(space[usable], "output_tokens_per_s_per_device", "tokens_per_s_per_user")
    return PlanResult(ranked, pareto, space, time.perf_counter() - start)


def _band_targets(result, devices: np.ndarray, ttft_s, tpot_s,
                  percentile: float) -> list[tuple[np.ndarray, Any, Any, bool]]:
    """(layout indices, TTFT target, TPOT target, banded) per group of layouts with the same served bands (their
    replicas' device-count class): each target T moved to T e^(r_lo) of its band (``served_phase_bands`` at
    ``percentile``: the bands ``serve`` gives its TTFT and TPOT at that tail; ``result``: an estimate of the layouts,
    whose hardware and realism are serve's). A group without a band for a target keeps the targets and is not
    ``banded``: it meets none."""
    from genmodel.engine.uncertainty import architecture_of
    from genmodel.serving.serve import served_phase_bands

    devices = np.asarray(devices, dtype=float)
    q = percentile / 100.0 if percentile > 1 else percentile
    bands = served_phase_bands(result.hardware.kind, result.realism.engine, result.realism, devices, q,
                               architecture_of(result.model))
    lows = {p: np.broadcast_to(np.asarray(b.low, dtype=float), devices.shape) for p, b in bands.items()}
    pairs = np.stack([lows["prefill"], lows["decode"]], axis=1)
    groups = []
    for pre, dec in np.unique(pairs, axis=0):
        idx = np.flatnonzero((pairs[:, 0] == pre) & (pairs[:, 1] == dec))
        banded = (ttft_s is None or math.isfinite(pre)) and (tpot_s is None or math.isfinite(dec))
        # (a target moved past a day constrains nothing either: it is held at a day, the longest serve takes)
        groups.append((idx, None if ttft_s is None else min(ttft_s * (math.exp(pre) if banded else 1.0), MAX_TARGET_S),
                       None if tpot_s is None else min(tpot_s * (math.exp(dec) if banded else 1.0), MAX_TARGET_S),
                       banded))
    return groups


def _significant(x: np.ndarray, digits: int = 4) -> np.ndarray:
    """``x`` rounded to ``digits`` significant digits (positive values; zero stays zero)."""
    x = np.asarray(x, dtype=float)
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.where(x > 0, x, 1.0))))
    return np.round(x * scale) / scale


@dataclass
class Disaggregation:
    """Best prefill and decode pools and how they compare with co-located serving."""

    prefill: Row
    decode: Row
    kv_transfer_s: float
    prefill_to_decode_devices: float
    output_tokens_per_s_per_device: float
    colocated_output_tokens_per_s_per_device: float


def disaggregate(model, hardware, input_tokens: int = 1024, output_tokens: int = 256, ttft_s: float | None = None,
                 tpot_s: float | None = None, max_devices: int | None = None, weight_dtype=None, kv_dtype=None,
                 activation_dtype=None, batches=DEFAULT_BATCHES, **kwargs) -> Disaggregation:
    """Separate prefill and decode pools (Splitwise/DistServe), sized so their request rates balance.

    Per device, a prefill pool serves r_p = prefill tokens/s per device / I requests per second, a decode
    pool r_d = decode tokens/s per device / O. Serving a rate lambda takes lambda/r_p + lambda/r_d devices, so
    the prefill:decode device ratio is r_d : r_p and the goodput is O / (1/r_p + 1/r_d) output tokens/s per
    device. The KV cache of a request (full model, all layers) moves from the prefill pool to the decode pool
    over the scale-out network (one NIC per device of the prefill replica) and counts against the TTFT target;
    the batch's caches leave together after its prefill (no layer-by-layer overlap: conservative).
    """
    model = get_model(model)
    hw, platform = resolve_hardware(hardware)
    ttft_s, tpot_s = _targets(ttft_s, tpot_s)
    common = {"max_devices": max_devices, "weight_dtype": weight_dtype, "kv_dtype": kv_dtype,
              "activation_dtype": activation_dtype, "batches": batches, **kwargs}
    pre = plan(model, hardware, input_tokens, 1, None, None, **common).space
    dec = plan(model, hardware, input_tokens, output_tokens, None, tpot_s, **common).ranked
    colocated = plan(model, hardware, input_tokens, output_tokens, ttft_s, tpot_s, **common).ranked
    dtypes = resolve_dtypes(hw, weight_dtype, activation_dtype, kv_dtype)
    net = Network.of(hw, platform.domain_size_with(hw) if platform else None)
    kv_bytes = model.kv_cache_bytes(input_tokens, dtypes.kv)  # one request, all layers
    replica_devices = pre.devices / pre.dp
    # the whole prefill batch finishes together, then its KV caches leave over the replica's NICs
    transfer = pre.batch * kv_bytes / (net.out * replica_devices) + net.out_latency
    pre = pre.assign(kv_transfer_s=transfer, ttft_with_transfer_s=pre.ttft_s + transfer)
    keep = pre.fits & ((pre.ttft_with_transfer_s <= ttft_s) if ttft_s is not None else True)
    pre = pre[keep]
    if pre.empty or dec.empty:
        which = "prefill" if pre.empty else "decode"
        raise ConfigurationError(f"no {which} configuration meets the targets on at most "
                                 f"{_max_devices(hardware, max_devices)} devices; relax the SLO or allow more")
    prefill_rate = (pre.batch * input_tokens / pre.ttft_s) / (pre.devices / pre.dp) / input_tokens  # req/s/device
    best_pre = pre.row(int(np.argmax(prefill_rate)))
    r_p = float(prefill_rate.max())
    decode_rate = dec.tokens_per_s_per_user * dec.batch / (dec.devices / dec.dp) / output_tokens
    best_dec = dec.row(int(np.argmax(decode_rate)))
    r_d = float(decode_rate.max())
    goodput = output_tokens / (1 / r_p + 1 / r_d)
    coloc = float(colocated.output_tokens_per_s_per_device.max()) if not colocated.empty else 0.0
    return Disaggregation(best_pre, best_dec, float(best_pre.kv_transfer_s), r_d / r_p, goodput, coloc)
