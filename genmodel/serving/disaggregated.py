"""Disaggregated prefill and decode pools under served traffic (docs/serving.md, section "Disaggregated pools").

Contract
--------
``serve_disaggregated(model, hardware, input_tokens, output_tokens, request_rate, ttft_target_s, tpot_target_s,
percentile, prefill={...layout}, decode={...layout}, prefill_replicas=None, decode_replicas=None, ...)`` serves a
Poisson stream of ``request_rate`` requests/s (the whole deployment) on two pools, the way vLLM's disaggregated
prefill, SGLang PD and NVIDIA Dynamo run them: a proxy sends each request to a **prefill replica**, which computes the
prompt's KV cache (a served stream whose requests leave after their prompt: ``serve`` with one output token); the
KV cache (all layers, the prompt's tokens) then moves to a **decode replica** over the scale-out network (one NIC
per device of the prefill replica; ``kv_link="scale-up"`` when both pools sit in one scale-up domain); the decode
replica admits the request with its KV already computed (``serve(prefilled=True)``: no prompt compute, each request
holding its own prompt's KV) and streams every token to the client. So

    TTFT  = prefill pool's TTFT + KV transfer + decode pool's time to its first token (admission and one step)
    TPOT  = the decode pool's TPOT          e2e = prefill pool's TTFT + transfer + the decode pool's e2e

Means add exactly. A percentile of a sum of the pools' independent times is bounded above by the sum of their
percentiles (equality when they move together); the figures reported are that bound, so ``meets_slo`` is
conservative. Without replica counts, each pool is sized for the rate: the decode pool with the TPOT target
(D = ``ceil(rate / max_goodput_rate_per_s)`` of one decode replica), then the prefill pool with what is left of the
TTFT target after the transfer and the decode pool's time to first token at the percentile. D replicas can run so
near their saturation that their admission queue leaves the prefill pool little of the target or none, so the decode
pool takes more replicas (up to 2 D) while that lowers the devices of both pools together. The result also sizes
co-located serving (replicas running both phases, with the ``prefill`` layout unless ``colocated`` names one)
for the same rate and targets, so the two can be compared on devices.
Not modelled: the proxy's own latency, layer-by-layer KV streaming that overlaps the transfer with the prefill
(the transfer here starts after it: conservative), and contention between transfers on the link beyond its
utilization (reported as ``kv_link_utilization``; the pools are unstable past 1).
"""

from __future__ import annotations

import copy
import inspect
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from genmodel.data.registry import get_model, resolve_hardware
from genmodel.engine.collectives import Network
from genmodel.engine.inputs import resolve_dtypes
from genmodel.errors import ConfigurationError, DoesNotFitError, GenmodelError, InputTypeError
from genmodel.serving.queueing import percentile_label
from genmodel.specs.checks import MAX_TOKENS, choice, flag, latency_target, scalar, whole
from genmodel.specs.checks import request_rate as request_rate_check
from genmodel.table import json_value

LAYOUT_KEYS = ("tp", "pp", "ep", "cp", "attention_dp")
MAX_REPLICAS = 1 << 20  # replicas of one pool (serve's bound on dp)
KV_LINKS = ("scale-out", "scale-up")


@dataclass
class Disaggregated:
    """Both pools, their sizes for the rate, the KV transfer and the client-side figures (SI units)."""

    model: str
    hardware: str
    settings: dict[str, Any]
    metrics: dict[str, Any]
    prefill: Any  # the prefill pool's Served (per deployment: all its replicas)
    decode: Any  # the decode pool's Served
    colocated: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        from genmodel.data.registry import provenance

        def pool(served) -> dict[str, Any]:
            d = served.to_dict()
            return {k: v for k, v in d.items() if k not in ("schema_version", "genmodel_version", "database")}

        return {**provenance(), "model": self.model, "hardware": self.hardware, **self.settings,
                **{k: json_value(v) for k, v in self.metrics.items()}, "prefill_pool": pool(self.prefill),
                "decode_pool": pool(self.decode), "colocated": self.colocated}


def _layout(name: str, layout: dict[str, Any] | None) -> dict[str, Any]:
    """A pool layout: one whole degree each (``<name>_tp`` ... in messages: the CLI's --prefill-tp ...)."""
    if layout is not None and not isinstance(layout, dict):
        raise InputTypeError(f"{name} must be a layout dict (tp, pp, ep, cp, attention_dp), got "
                             f"{type(layout).__name__}", name)
    layout = dict(layout or {})
    unknown = sorted(str(k) for k in set(layout) - set(LAYOUT_KEYS))
    if unknown:
        raise ConfigurationError(f"{name} layout names {', '.join(unknown)}; a pool layout has "
                                 f"{', '.join(LAYOUT_KEYS)}", name)
    out = {"tp": 1, "pp": 1, "ep": 1, "cp": 1, "attention_dp": False, **layout}
    for key in ("tp", "pp", "ep", "cp"):  # one layout per pool: single numbers
        out[key] = int(scalar(f"{name}_{key}", whole(f"{name}_{key}", out[key], 1, 1 << 20)))
    out["attention_dp"] = flag(f"{name}_attention_dp", out["attention_dp"])
    return out


def _replicas(name: str, value) -> int | None:
    return None if value is None else int(scalar(name, whole(name, value, 1, MAX_REPLICAS)))


# serve's arguments that serve_disaggregated sets itself, or that its own arguments stand for
_OWN = ("model", "hardware", "input_tokens", "output_tokens", "ttft_target_s", "tpot_target_s", "percentile")


# serve's arguments the pools set themselves (the load, the layout, the prefilled requests, offload)
_SET_BY_POOLS = ("request_rate", "concurrency", "offline", "tp", "pp", "ep", "dp", "cp", "attention_dp", "parallel",
                 "prefilled", "kv_offload")


def _options(options: dict[str, Any], serve) -> None:
    """Refuse the keyword arguments the pools cannot take: serve's that the pools set themselves, and names serve
    does not have (a typo would otherwise surface as serve's TypeError, a function the caller never called)."""
    for key in _SET_BY_POOLS:
        if key in options:
            raise ConfigurationError(f"{key} is not an option of disaggregated serving (pools are sized for the "
                                     "rate; give layouts as prefill={...} and decode={...})", key)
    passed = [k for k in inspect.signature(serve).parameters if k not in _OWN and k not in _SET_BY_POOLS]
    for key in options:
        if key not in passed:
            raise InputTypeError(f"{str(key)[:40]} is not an argument of serve_disaggregated (besides its own it takes "
                                 f"serve's {', '.join(passed)})", str(key)[:40])


def _pool(pool: str, call):
    """``call()`` (a serve of one pool); an error serve raises about a layout degree (``tp`` ...) is re-raised naming
    the pool's (``decode_tp`` ...: the CLI's --decode-tp), and a model that does not fit says which pool."""
    try:
        return call()
    except DoesNotFitError as exc:
        raise _renamed(exc, f"the {pool} pool: {exc}", exc.argument) from None
    except GenmodelError as exc:
        arg = exc.argument
        if arg not in LAYOUT_KEYS:
            raise
        text = str(exc)
        named = f"{pool}_{arg}"
        if text.startswith(arg + " ") or text.startswith(arg + ":"):
            text = named + text[len(arg):]
        else:
            text = f"{named}: {text}"
        raise _renamed(exc, text, named) from None


def _renamed(exc: GenmodelError, message: str, argument: str | None) -> GenmodelError:
    new = copy.copy(exc)
    new.args = (message,)
    new.argument = argument
    return new


def serve_disaggregated(model="llama-3.1-8b", hardware="h100-sxm", input_tokens=1024, output_tokens=256, *,
                        request_rate=None, ttft_target_s: float | None = None,
                        tpot_target_s: float | None = None, percentile: float = 0.99,
                        prefill: dict[str, Any] | None = None, decode: dict[str, Any] | None = None,
                        prefill_replicas: int | None = None, decode_replicas: int | None = None,
                        colocated: dict[str, Any] | None = None, kv_link: str = "scale-out",
                        **options: Any) -> Disaggregated:
    """Serve ``request_rate`` requests/s on separate prefill and decode pools (module docstring). ``prefill`` and
    ``decode`` are pool layouts (tp, pp, ep, cp, attention_dp); ``options`` go to both pools' ``serve`` calls
    (datatypes, engine, lengths' spread, efficiency ...). Bad arguments raise a ``GenmodelError`` naming them."""
    from genmodel.serving.serve import percentile_fraction, serve

    for name, value in (("request_rate", request_rate), ("ttft_target_s", ttft_target_s),
                        ("tpot_target_s", tpot_target_s)):
        if value is None:
            raise ConfigurationError(f"{name} is needed: disaggregated serving sizes its pools for a rate and "
                                     "targets", name)
    # the bounds of serve (genmodel.serving.serve, where they are justified); one rate and one target each
    rate = scalar("request_rate", request_rate_check("request_rate", request_rate))
    ttft_t, tpot_t = (scalar(n, latency_target(n, v))
                      for n, v in (("ttft_target_s", ttft_target_s), ("tpot_target_s", tpot_target_s)))
    q = percentile_fraction(percentile)
    choice("kv_link", kv_link, KV_LINKS)
    _options(options, serve)
    pre_layout, dec_layout = _layout("prefill", prefill), _layout("decode", decode)
    co_pool = "colocated" if colocated is not None and (not isinstance(colocated, dict) or colocated) else "prefill"
    co_layout = _layout("colocated", colocated) if co_pool == "colocated" else pre_layout  # (None or {}: prefill's)
    n_pre, n_dec = _replicas("prefill_replicas", prefill_replicas), _replicas("decode_replicas", decode_replicas)
    model = get_model(model)
    I = int(scalar("input_tokens", whole("input_tokens", input_tokens, 1, MAX_TOKENS)))
    O = int(scalar("output_tokens", whole("output_tokens", output_tokens, 2, MAX_TOKENS)))
    common = {"percentile": q, **options}

    # the KV cache of one prompt moves once, from the prefill replica's devices to the decode replica's
    hw, platform = resolve_hardware(hardware)
    dtypes = resolve_dtypes(hw, options.get("weight_dtype"), options.get("activation_dtype"), options.get("kv_dtype"))
    kv_bytes = float(model.kv_cache_bytes(I, dtypes.kv))
    net = Network.of(hw, platform.domain_size_with(hw) if platform else None)
    senders = pre_layout["tp"] * pre_layout["pp"] * pre_layout["cp"]
    if kv_link == "scale-up":
        link_bytes_per_s, latency_s = float(net.up(senders + 1)) * senders, net.up_latency
    else:
        link_bytes_per_s, latency_s = net.out * senders, net.out_latency
    transfer_s = kv_bytes / link_bytes_per_s + latency_s

    # decode pool: requests arrive with their KV; sized by the TPOT target
    # sizing a pool needs its replica to fit: one that does not says so (serve's guidance), not that it misses a target
    sizing = {**common, "check_fit": True}

    label = percentile_label(q)

    def decode_pool(replicas: int):
        """(the decode pool of ``replicas``, the TTFT target left to the prefill pool beside it)."""
        pool = _pool("decode", lambda: serve(model, hardware, I, O, request_rate=rate, ttft_target_s=None,
                                             tpot_target_s=tpot_t, prefilled=True, dp=replicas, **dec_layout,
                                             **common))
        return pool, ttft_t - transfer_s - float(pool.metrics[f"ttft_{label}_s"])

    sized = n_dec is None
    if sized:
        one = _pool("decode", lambda: serve(model, hardware, I, O, request_rate=rate, tpot_target_s=tpot_t,
                                            prefilled=True, **dec_layout, **sizing))
        n_dec = _needed(rate, one.metrics["max_goodput_rate_per_s"], "decode", tpot=tpot_t)
    prefill_ones: dict[float, Any] = {}  # one prefill replica sized for each TTFT budget tried

    def prefill_one(budget: float):
        if budget not in prefill_ones:
            prefill_ones[budget] = _pool("prefill", lambda: serve(model, hardware, I, 1, request_rate=rate,
                                                                  ttft_target_s=budget, **pre_layout, **sizing))
        return prefill_ones[budget]

    def prefill_count(budget: float):
        """(prefill replicas that serve the rate within ``budget`` of TTFT, devices per replica, the replicas that
        serve it at their saturation rate, the fewest any budget needs), or None where one replica cannot (no budget
        left, or too little for one prompt)."""
        if not budget > 0:
            return None
        one = prefill_one(budget)
        best = float(np.asarray(one.metrics["max_goodput_rate_per_s"], dtype=float).max())
        fewest = _replicas_for(rate, float(np.asarray(one.metrics["max_request_rate_per_s"], dtype=float).max()))
        return (_replicas_for(rate, best), float(one.metrics["devices"]), fewest) if best > 0 else None

    dec, budget_s = decode_pool(n_dec)
    if sized and n_pre is None:
        # the decode pool's time to its first token spends the TTFT target beside the prefill pool's: at the TPOT
        # target's count D the decode replicas may run so near saturation that their admission queue leaves the
        # prefill pool little of the target, or none. From D up (at most 2 D), one more decode replica is kept while
        # it lowers the devices of both pools together (the decode pool's TTFT falls as each replica's share of the
        # rate does, so the prefill pool's budget grows)
        n_dec, dec, budget_s = _decode_replicas(n_dec, (dec, budget_s), decode_pool, prefill_count)
    dec_first_q = float(dec.metrics[f"ttft_{label}_s"])
    # prefill pool: requests leave after their prompt; its TTFT target is what the transfer and decode leave
    if n_pre is None:
        if budget_s <= 0:
            raise ConfigurationError(f"the TTFT target {ttft_t * 1e3:,.4g} ms is spent before the prefill: KV transfer "
                                     f"{transfer_s * 1e3:,.4g} ms + decode pool's first step {dec_first_q * 1e3:,.4g} "
                                     "ms; raise the target or speed the link", "ttft_target_s")
        n_pre = _needed(rate, prefill_one(budget_s).metrics["max_goodput_rate_per_s"], "prefill", ttft=budget_s)
    pre = _pool("prefill", lambda: serve(model, hardware, I, 1, request_rate=rate, dp=n_pre,
                                         ttft_target_s=max(budget_s, 1e-9), **pre_layout, **common))
    link_utilization = rate / n_pre * kv_bytes / link_bytes_per_s  # per prefill replica's link
    pm, dm = pre.metrics, dec.metrics
    m: dict[str, Any] = {"request_rate_per_s": rate, "kv_transfer_s": transfer_s, "kv_bytes_per_request": kv_bytes,
                         "kv_link_utilization": link_utilization,
                         "prefill_replicas": n_pre, "decode_replicas": n_dec,
                         "prefill_devices": float(pm["devices"]), "decode_devices": float(dm["devices"])}
    m["devices"] = m["prefill_devices"] + m["decode_devices"]
    stable = bool(pm["stable"]) and bool(dm["stable"]) and link_utilization < 1.0
    for p in ("p50", "p90", "p99", label):
        key = f"ttft_{p}_s"
        if key in pm and key in dm:
            m[key] = float(pm[key]) + transfer_s + float(dm[key]) if stable else math.inf
            m[f"e2e_{p}_s"] = float(pm[key]) + transfer_s + float(dm[f"e2e_{p}_s"]) if stable and \
                f"e2e_{p}_s" in dm else m.get(f"e2e_{p}_s", math.inf)
    m["ttft_mean_s"] = float(pm["ttft_mean_s"]) + transfer_s + float(dm["ttft_mean_s"]) if stable else math.inf
    for key in ("tpot_mean_s", "tpot_p50_s", "tpot_p90_s", "tpot_p99_s", f"tpot_{label}_s", "itl_p99_s",
                "tokens_per_s_per_user"):  # (the decode pool's: each output token after the first is decoded there)
        if key in dm:
            m[key] = float(dm[key])
    # the pools complete what the slower of them completes (each its saturation rate past it) and the link carries
    completed = min(float(pm["request_rate_per_s"]), float(dm["request_rate_per_s"]),
                    rate / link_utilization if link_utilization > 1.0 else rate)
    m["output_tokens_per_s"] = completed * O
    m["output_tokens_per_s_per_device"] = completed * O / m["devices"]
    m["stable"] = stable
    m["meets_slo"] = stable and m[f"ttft_{label}_s"] <= ttft_t and m[f"tpot_{label}_s"] <= tpot_t
    m["fits"] = bool(pm["fits"]) and bool(dm["fits"])
    co = _pool(co_pool, lambda: _colocated(serve, model, hardware, I, O, rate, ttft_t, tpot_t, co_layout, common))
    settings = {"input_tokens": I, "output_tokens": O, "percentile": q, "ttft_target_s": ttft_t,
                "tpot_target_s": tpot_t, "kv_link": kv_link, "prefill_layout": pre_layout, "decode_layout": dec_layout}
    where = platform.name if platform is not None else hw.name
    return Disaggregated(model.name, where, settings, m, pre, dec, co)


class _Split(NamedTuple):
    """One decode-replica count tried by ``_decode_replicas``."""

    devices: float | None  # of both pools; None where the prefill pool cannot be sized for the budget
    replicas: int  # decode replicas
    pool: Any  # the decode pool's serve result
    budget: float  # the TTFT target left to the prefill pool
    savable: float  # devices one more decode replica could save at most: the prefill replicas above the fewest,
    # less its own


def _decode_replicas(least: int, first, decode_pool, prefill_count) -> tuple[int, Any, float]:
    """(decode replicas, their pool, the TTFT budget left to the prefill pool) for sized pools: from the TPOT target's
    count ``least`` (whose pool and budget are ``first``) up to twice it, the first count that leaves the prefill pool
    a budget it can be sized for (by bisection, where ``least`` leaves none), then one more replica at a time while the
    devices of both pools together fall and the prefill pool has replicas to save. ``decode_pool(n)``: (pool,
    budget); ``prefill_count(budget)``: (replicas, devices per replica, the fewest any budget needs) or None."""
    top = min(2 * least, MAX_REPLICAS)

    def option(n: int, known=None) -> _Split:
        pool, left = known if known is not None else decode_pool(n)
        count = prefill_count(left)
        if count is None:
            return _Split(None, n, pool, left, np.inf)
        replicas, per_replica, fewest = count
        dec_devices = float(pool.metrics["devices"])
        return _Split(dec_devices + replicas * per_replica, n, pool, left,
                      (replicas - fewest) * per_replica - dec_devices / n)

    best = option(least, first)
    if best.devices is None and top > least:
        high = option(top)
        if high.devices is not None:
            lo = least
            while high.replicas - lo > 1:
                mid = option((lo + high.replicas) // 2)
                lo, high = (lo, mid) if mid.devices is not None else (mid.replicas, high)
            best = high
    if best.devices is not None:
        while best.replicas < top and best.savable > 0:
            more = option(best.replicas + 1)
            if more.devices is None or more.devices >= best.devices:
                break
            best = more
    return best.replicas, best.pool, best.budget


def _needed(rate: float, per_replica, pool: str, ttft: float | None = None, tpot: float | None = None) -> int:
    """Replicas a pool needs for ``rate``: rate over the largest rate one replica serves within its target."""
    best = float(np.asarray(per_replica, dtype=float).max())
    if not best > 0:
        what = f"TTFT {ttft * 1e3:,.4g} ms" if ttft is not None else f"TPOT {tpot * 1e3:,.4g} ms"
        raise ConfigurationError(f"one {pool} replica cannot meet {what} at any rate with this layout; choose a "
                                 f"larger {pool} layout or relax the target", f"{pool}_layout")
    needed = _replicas_for(rate, best)
    if needed > MAX_REPLICAS:
        what = f"TTFT {ttft * 1e3:,.4g} ms" if ttft is not None else f"TPOT {tpot * 1e3:,.4g} ms"
        raise ConfigurationError(f"request_rate {rate:,.4g} requests/s needs {needed:,} {pool} replicas (one serves "
                                 f"at most {best:,.4g} requests/s within {what}), more than the {MAX_REPLICAS:,} a "
                                 f"pool may have; lower the rate or give the {pool} replicas a larger layout",
                                 "request_rate")
    return needed


def _replicas_for(rate: float, per_replica: float) -> int:
    """Replicas of ``per_replica`` requests/s each that serve ``rate`` (at least one; a rate that is a whole multiple
    up to rounding needs no extra replica)."""
    return max(math.ceil(rate / per_replica * (1 - 1e-9)), 1)


def _colocated(serve, model, hardware, I, O, rate, ttft_t, tpot_t, layout, common) -> dict[str, Any] | None:
    """Co-located serving of the same rate and targets: replicas of ``layout`` running both phases."""
    lay = layout
    one = serve(model, hardware, I, O, request_rate=rate, ttft_target_s=ttft_t, tpot_target_s=tpot_t, **lay,
                **common)
    best = float(np.asarray(one.metrics["max_goodput_rate_per_s"], dtype=float))
    if not best > 0:
        return {"layout": lay, "replicas": None, "devices": None,
                "note": "one replica cannot meet both targets at any rate"}
    replicas = _replicas_for(rate, best)
    devices = float(one.metrics["devices"]) * replicas
    return {"layout": lay, "replicas": replicas, "devices": devices,
            "output_tokens_per_s_per_device": rate * O / devices}
