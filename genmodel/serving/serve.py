"""``serve()``: a model served under traffic — continuous batching with chunked prefill, queueing, percentiles,
goodput, prefix caching and speculative decoding (docs/serving.md).

Contract
--------
``serve(model, hardware, input_tokens, output_tokens, request_rate=... | concurrency=... | offline=..., ...)``
checks its arguments once (``genmodel.engine.inputs.prepare`` plus the traffic checks here), builds the engine step
of a replica from the same operator tables and roofline as ``estimate`` (``Stepper.step`` with prompt chunks riding
in decode steps), and solves the steady state with ``genmodel.serving.steady``. ``request_rate`` is requests/s for
the whole deployment (dp replicas share it evenly) or ``"max"`` for the saturated steady state; ``concurrency`` is
the clients a benchmark keeps in flight (closed loop); ``offline`` submits that many requests at once;
``num_requests`` with a rate makes the run that long (finite past saturation: docs/serving.md section 2c). Lengths,
the parallel degrees, the load (rates, clients, requests, run lengths) and the host-link overrides may be arrays; they
broadcast and nothing loops over configurations in Python. Every other argument is one value; each is checked once,
here, against the ranges of docs/serving.md section 9 (``genmodel.specs.checks``, and ``MIN_BURSTINESS`` ... below,
with their reasons).
The result's ``metrics`` are SI arrays: ``ttft_p50_s`` ... ``e2e_p99_s``, ``tpot_mean_s``, ``tpot_p99_s``,
``itl_p99_s``, ``output_tokens_per_s`` (and per device), ``tokens_per_s_per_user`` (1 / ``tpot_mean_s``),
``max_request_rate_per_s``, ``goodput_requests_per_s``
(with targets), ``running_batch``, ``utilization``, ``bottleneck``, ``kv_cache_bytes``, ``fits``; every time and
throughput has ``_low`` / ``_high``: the 80% band of the served rows' held-out errors, and each P90 and P99 figure
that of the published tail percentiles of its metric (docs/validation.md, "Tail percentiles").
``kv_offload`` (docs/serving.md section 4b) puts KV in host memory, or in the device's slower tier named by
its spec's ``host_link``: ``"host"`` (alias ``"throughput"``, FlexGen-style) adds the host pool to the running
requests' KV capacity and streams the share beyond device memory over the link every step (overlapped with the
step: the step takes the longer of the two); ``"cache"`` (LMCache / SGLang HiCache-style) keeps the running
requests in device memory and serves ``prefix_hit`` from a host prefix cache, each request reloading its prefix
over the link before its prefill (added to TTFT). Without it, a tier the host link names holds no KV.
``prefilled=True`` serves the decode pool of disaggregated serving (genmodel.serving.disaggregated composes both pools).
A configuration with no room for one request's KV cache beside its weights has ``fits`` False, zero rates and
infinite latencies; with ``check_fit=True`` (the CLI's choice) one such configuration raises ``DoesNotFitError``
saying why instead.
Not modelled: client-side overheads (HTTP, tokenization), preemption costs (nor the reloads after preemption in
cache mode), queueing on the host link, achieved-below-nominal link bandwidth. ``synchronized=True`` with
``concurrency`` models benchmark clients of identical requests, which re-send in waves (genmodel.serving.waves).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from genmodel.data.registry import get_model
from genmodel.engine.allocator import tune_for
from genmodel.engine.estimate import MemoryView, _memory
from genmodel.engine.inputs import Setup, prepare
from genmodel.engine.parallel import Parallelism
from genmodel.engine.result import MetricAttributes
from genmodel.engine.step import Chunk, Stepper, mean_pass, step_passes
from genmodel.engine.uncertainty import architecture_of
from genmodel.errors import ConfigurationError, DoesNotFitError, GenmodelError, InputTypeError
from genmodel.serving.speculative import tokens_per_step
from genmodel.serving.steady import BINDING, Load, Requests, Scheduler, solve, terms
from genmodel.specs.checks import (
    MAX_BATCH,
    MAX_TOKENS,
    at_least,
    common_shape,
    flag,
    latency_target,
    positive,
    scalar,
    whole,
    within,
)
from genmodel.specs.checks import request_rate as request_rate_check
from genmodel.specs.hardware import Efficiency
from genmodel.specs.model import ModelSpec
from genmodel.table import json_value

PERCENTILES = (0.5, 0.9, 0.99)
OFFLOAD_MODES = {"host": "throughput", "throughput": "throughput", "cache": "cache"}
# host memory left to the OS and the processes when the default pool is used (SGLang's host KV pool keeps 10 GiB
# free: python/sglang/srt/mem_cache/memory_pool_host.py)
HOST_RESERVE_BYTES = 10 * 2**30
# Ranges of the traffic arguments (docs/serving.md section 9); outside them a figure means nothing physical, and the
# queueing formulas would leave float64's range (overflow to inf, NaN):
# * request rates (requests/s for the whole deployment) and latency targets: genmodel.specs.checks (``request_rate``,
#   ``latency_target``: from one request a day to a billion a second; a target of at most a day), shared with the
#   planner and requirements;
# * burstiness, the gamma shape k of the inter-arrival times, from 0.001 to 1,000: their coefficient of variation
#   1 / sqrt(k) from 32 (bursts of about a thousand requests at once) to 0.03 (nearly evenly spaced); benchmarks use
#   0.1 to 10 (vLLM's --burstiness);
MIN_BURSTINESS, MAX_BURSTINESS = 1e-3, 1e3
# * a host link of at least 1 MB/s per device: slower than any host link (PCIe, CXL, NVLink-C2C, a network: 100 MB/s
#   and up); one request's KV cache (tens of MB to GBs) would take minutes to hours to cross it;
MIN_HOST_LINK_BYTES_PER_S = 1e6
# * and at most 1 PB/s and 1 EB of host memory per device: a hundred times the fastest device memory (HBM3e, 8 TB/s)
#   and ten thousand times the largest host memory of a machine (tens of TB), beyond anything a link or a pool holds;
MAX_HOST_LINK_BYTES_PER_S, MAX_HOST_MEMORY_BYTES = 1e15, 1e18
# * percentiles from 1% to 99.999% (a fraction up to 0.99999, or a percent above 1)
MIN_PERCENTILE, MAX_PERCENTILE = 0.01, 0.99999


@dataclass
class Served(MetricAttributes):
    """What ``serve()`` returns: the settings in force and the metrics (SI arrays, 0-d for one configuration)."""

    model: str
    hardware: str
    engine: str
    settings: dict[str, Any]
    metrics: dict[str, np.ndarray]
    realism: Any = field(repr=False, default=None)

    def to_dict(self) -> dict[str, Any]:
        from genmodel.data.registry import provenance

        out: dict[str, Any] = {**provenance(), "model": self.model, "hardware": self.hardware, "engine": self.engine,
                               **self.settings}
        out.update(json_value(dict(self.metrics)))  # unbounded waits (past saturation): JSON null
        if self.realism is not None:
            out["realism"] = self.realism.to_dict()
        return out


SERVED_RATES = ("output_tokens_per_s", "output_tokens_per_s_per_device", "total_tokens_per_s")


# serve's tail figures -> the tail metric whose cells band them (a measurement row's name, genmodel.validation.rows)
TAIL_FIGURES = {f"{short}_p{q}_s": f"{name}_p{q}" for short, name in (("ttft", "ttft"), ("tpot", "tpot"),
                                                                       ("itl", "itl"), ("e2e", "e2e_latency"))
                for q in (90, 99)}


def tail_label(percentile: float) -> str | None:
    """The tail whose bands stand for a figure at ``percentile`` (a fraction): 'p99' above 0.9, 'p90' above 0.5
    (the nearest reported percentile at or above it: its band is the wider), None at or below the median."""
    return "p99" if percentile > 0.9 else ("p90" if percentile > 0.5 else None)


def served_phase_bands(kind: str, engine: str, realism, devices, percentile: float | None = None,
                       architecture: str | None = None) -> dict[str, Any]:
    """The 80% bands of ``serve``'s TTFT ('prefill') and TPOT ('decode') figures: the served rows' cells
    (``genmodel.engine.uncertainty``) of this hardware kind, engine name and realism (its fit and whether it runs
    without graphs), for replicas of ``devices`` devices (a number or an array: the device-count class of each picks
    its cells) of a model of ``architecture`` ('dense' or 'moe': its own cells first; None: the cells over both);
    with ``percentile`` above the median, the cells of the published tail percentiles of the TTFT and TPOT at that
    tail (``tail_label``; not kept per architecture), as ``serve`` bands its P90 and P99 figures."""
    tail = None if percentile is None else tail_label(percentile)
    if tail is not None:
        return {p: _band(kind, engine, realism, devices, f"{name}_{tail}", tails=True)
                for p, name in (("prefill", "ttft"), ("decode", "tpot"))}
    return {p: _band(kind, engine, realism, devices, p, architecture=architecture) for p in ("prefill", "decode")}


def _band(kind: str, engine: str, realism, devices, phase: str, tails: bool = False,
          architecture: str | None = None):
    """One band of ``serve``'s figures: the served rows' cell of ``phase`` ('prefill', 'decode') and ``architecture``,
    or with ``tails`` the cell of a tail metric ('ttft_p99' ...), of the realism's fit and graphs, per device-count
    class of ``devices``."""
    from genmodel.engine.uncertainty import per_configuration

    return per_configuration(kind, engine, phase, devices, realism.origin != "defaults", served=not tails,
                             eager=realism.eager, tails=tails, architecture=architecture)


def _served_bands(m: dict[str, Any], s: Setup, engine: str) -> dict[str, np.ndarray]:
    """``<figure>_low`` / ``<figure>_high``: the 80% band of the served rows' held-out errors (TTFT medians and means
    with the prefill cell; TPOT, ITL and end-to-end medians and means and the throughputs with the decode cell); the
    P90 and P99 figures with the cells of their own tail metric (``TAIL_FIGURES``; genmodel.engine.uncertainty)."""
    # one replica's devices: their device-count class picks the cells
    bands = served_phase_bands(s.hw.kind, engine, s.realism, s.par.replica_devices,
                               architecture=architecture_of(s.model))
    for key, tail in TAIL_FIGURES.items():
        if key in m:
            bands[key] = _band(s.hw.kind, engine, s.realism, s.par.replica_devices, tail, tails=True)
    factors = {p: b.factors() for p, b in bands.items()}  # (once per band, not per figure)
    out = {}
    for key, value in m.items():
        if key.endswith("_s") and key.startswith(("ttft_", "tpot_", "itl_", "e2e_")):
            phase = key if key in bands else ("prefill" if key.startswith("ttft_") else "decode")
            out[f"{key}_low"], out[f"{key}_high"] = bands[phase].times(np.asarray(value, dtype=float), factors[phase])
    for key in SERVED_RATES:
        out[f"{key}_low"], out[f"{key}_high"] = bands["decode"].rates(np.asarray(m[key], dtype=float),
                                                                      factors["decode"])
    if "run_duration_s" in m:  # (a finite run: N / its throughput, so its band is the throughput's, inverted)
        out["run_duration_s_low"], out["run_duration_s_high"] = bands["decode"].times(
            np.asarray(m["run_duration_s"], dtype=float), factors["decode"])
    return out


def per_user_rate(m: dict[str, Any]) -> dict[str, np.ndarray]:
    """``tokens_per_s_per_user``: the decode rate one user sees, 1 / the mean TPOT (what serving benchmarks call
    interactivity), with its 80% band, the mean TPOT's inverted (the low edge is 1 / the TPOT's high edge). A
    configuration whose TPOT is unbounded (past saturation) has 0; one where nothing fits, NaN, as its TPOT."""
    with np.errstate(divide="ignore"):
        return {f"tokens_per_s_per_user{edge}": 1.0 / np.asarray(m[f"tpot_mean_s{inverse}"], dtype=float)
                for edge, inverse in (("", ""), ("_low", "_high"), ("_high", "_low"))}


def serve(model: str | ModelSpec = "llama-3.1-8b", hardware="h100-sxm", input_tokens=1024, output_tokens=256, *,
          request_rate=None, concurrency=None, offline=None, num_requests=None, synchronized: bool = False,
          stream_interval: int = 1, recv_interval: int = 1, input_cv: float = 0.0,
          output_cv: float = 0.0, max_output_tokens: float | None = None, burstiness: float = 1.0,
          max_batch_tokens: int | None = None,
          chunk_tokens: int | None = None, max_seqs: int | None = None, prefix_hit: float = 0.0,
          spec_tokens: int | None = None,
          spec_acceptance: float | Sequence[float] | None = None, spec_accepted_share: float | None = None,
          spec_mean_length: float | None = None, draft_model: str | ModelSpec | None = None,
          ttft_target_s: float | None = None, tpot_target_s: float | None = None, percentile: float = 0.99,
          weight_dtype: str | None = None, kv_dtype: str | None = None, activation_dtype: str | None = None,
          tp=1, pp=1, ep=1, dp=1, cp=1, attention_dp=False, parallel: Parallelism | None = None,
          engine: str | None = None, calibrated: bool = True, efficiency: Efficiency | None = None,
          flops_scale=1.0, bandwidth_scale=1.0, capacity_scale=1.0, interconnect_scale=1.0,
          kv_offload: str | None = None,
          host_memory_bytes=None, host_link_bytes_per_s=None, prefilled: bool = False,
          check_fit: bool = False) -> Served:
    """Serve ``model`` on ``hardware`` under traffic (see the module docstring). Exactly one of ``request_rate``
    (requests/s, or ``"max"``), ``concurrency`` and ``offline`` is given. ``burstiness`` is the gamma shape of the
    inter-arrival times (1: Poisson; smaller: burstier, like vLLM's benchmark option). ``prefix_hit`` is the share
    of each prompt found in the prefix cache (one shared prefix). Speculative decoding: ``spec_tokens`` k with one of
    ``spec_acceptance`` (per token, or a per-position list), ``spec_accepted_share`` or ``spec_mean_length``, and a
    ``draft_model`` (default: MTP heads, one extra layer of the model per drafted token). Targets (seconds) at
    ``percentile`` add ``goodput_requests_per_s``, ``slo_attainment``, ``meets_slo`` and
    ``max_goodput_rate_per_s``. ``kv_offload``: None, ``"host"`` / ``"throughput"`` or ``"cache"`` (module
    docstring); ``host_memory_bytes`` (host memory per device for the KV pool; default: the spec's host memory or
    offload tier less 10 GiB) and ``host_link_bytes_per_s`` (default: the spec's ``host_link``) override the spec.
    ``prefilled``: the requests arrive with their prompt's KV cache computed elsewhere (the decode pool of
    disaggregated serving, genmodel.serving.disaggregated): each holds its own prompt's KV and its first step
    computes one token over it; TTFT is then the time from arrival to that first token. ``synchronized`` (with
    ``concurrency``): the clients send requests of identical lengths (a benchmark's fixed lengths, e.g. ``vllm bench
    serve --random-range-ratio 1`` with outputs that ignore EOS), so they re-send in waves (genmodel.serving.waves).
    ``num_requests`` (with a ``request_rate`` in requests/s): the run is that many requests, as a benchmark's
    prompt count, started on an idle engine: past saturation the queue grows while they arrive and the latencies are
    the run's (genmodel.serving.steady.finite_run_wait; the steady state has none), and near it the queue's
    fluctuations are those of a run that long; (with ``concurrency`` N) the run's N clients send their first
    requests at once to an idle engine, one bunch whose TTFTs weigh N / ``num_requests`` in the mean TTFT and
    end-to-end latency (genmodel.serving.waves.first_wave); with ``num_requests`` = N on mixed steps the bunch is the
    whole run, and its TPOTs, end-to-end latencies and throughput are its own (each request decodes beside the prompts
    after its own, then beside the other decodes alone), as are an offline run's within the running cap.
    ``stream_interval`` k: the server streams the tokens after
    the first in chunks of k (TensorRT-LLM's ``stream_interval``), so a client's inter-token gaps (``itl_*``) span k
    decode steps; every other figure is the engine's own. ``recv_interval`` N: while it decodes, the server takes in new
    requests only every N decode steps (SGLang's ``--scheduler-recv-interval``; after a prompt step and while idle at
    once), so a request that arrives during decoding waits up to N - 1 more decode steps for the intake, then for the
    prompts taken in with it that came before it (docs/serving.md section 3). ``request_rate`` infinite
    (``float('inf')`` or ``'inf'``) with ``num_requests`` N: a benchmark's N prompts sent at once to the API server
    (``vllm bench serve --request-rate inf --num-prompts N``), an offline run under the server's batch defaults rather
    than the offline class's (``settings['entry_point']``). ``max_output_tokens``: the longest answer any request gives
    (a benchmark's max_tokens, or its dataset's longest answer; at least ``output_tokens``): a finite run of spread
    outputs ends with its longest answer, which the log-normal spread would otherwise draw without a bound
    (docs/serving.md section 2d). Bad arguments raise a ``GenmodelError`` naming the argument."""
    synchronized, prefilled = flag("synchronized", synchronized), flag("prefilled", prefilled)
    check_fit = flag("check_fit", check_fit)
    load = _load(request_rate, concurrency, offline, num_requests)
    percentile = percentile_fraction(percentile)
    input_cv = scalar("input_cv", at_least("input_cv", input_cv, 0.0, 10.0))
    output_cv = scalar("output_cv", at_least("output_cv", output_cv, 0.0, 10.0))
    longest = np.inf if max_output_tokens is None else scalar("max_output_tokens",
                                                              positive("max_output_tokens", max_output_tokens))
    shape_k = scalar("burstiness", within("burstiness", burstiness, MIN_BURSTINESS, MAX_BURSTINESS,
                                          "the gamma shape of the inter-arrival times, from bursts of about a "
                                          "thousand requests to nearly even spacing"))
    if synchronized and (load.mode != "concurrency" or input_cv > 0 or output_cv > 0 or prefilled):
        raise ConfigurationError("synchronized describes clients in a closed loop (concurrency) sending requests of "
                                 "identical lengths (input_cv and output_cv 0)", "synchronized")
    chunked = int(scalar("stream_interval", whole("stream_interval", stream_interval, 1, 1024)))
    if chunked > 1 and synchronized:
        raise ConfigurationError("stream_interval with synchronized clients is not modelled: their waves' gaps are "
                                 "one token each", "stream_interval")
    recv = int(scalar("recv_interval", whole("recv_interval", recv_interval, 1, 1024)))
    hit = scalar("prefix_hit", at_least("prefix_hit", prefix_hit, 0.0, 1.0))
    if hit >= 1.0:
        raise ConfigurationError("prefix_hit must be below 1: at least one prompt token is computed", "prefix_hit")
    targets = [None if v is None else scalar(n, latency_target(n, v))
               for n, v in (("ttft_target_s", ttft_target_s), ("tpot_target_s", tpot_target_s))]
    if parallel is None:
        parallel = Parallelism(tp, pp, ep, dp, attention_dp, 1.0, 0.0, None, cp)
    s = prepare(model, hardware, 1, input_tokens, output_tokens, weight_dtype, kv_dtype, activation_dtype,
                embedding_dtype=None, parallel=parallel, num_devices=None, prefill_chunk_tokens=8192,
                flops_scale=flops_scale, bandwidth_scale=bandwidth_scale, capacity_scale=capacity_scale,
                interconnect_scale=interconnect_scale, check_fit=False, workload=None, costs=None,
                requests_per_s=None,
                efficiency=efficiency, calibrated=calibrated, cooling_w_per_w=None, engine=engine, check_batch=False)
    common_shape([("request_rate", request_rate), ("concurrency", concurrency), ("offline", offline),
                  ("num_requests", num_requests), ("host_memory_bytes", host_memory_bytes),
                  ("host_link_bytes_per_s", host_link_bytes_per_s)], s.shape)
    tune_for(int(np.prod(s.shape)) * max(int(np.size(load.value)), 1))  # large temporaries stay in the heap
    e = s.engine
    groups = float(np.max(s.par.attention_groups))
    # the engine's own defaults on this device for this kind of run (an offline run: vLLM's LLM class; the N
    # prompts a benchmark sends at an infinite rate: the API server's)
    offline_class = load.mode == "offline" and not load.server
    default_budget, default_seqs = e.batch_limits_on(s.hw.name, s.hw.fastest_memory.capacity_bytes,
                                                     offline=offline_class)
    budget = _count("max_batch_tokens", max_batch_tokens, default_budget)
    chunk = _count("chunk_tokens", chunk_tokens, budget)
    if chunk > budget:
        raise ConfigurationError(f"chunk_tokens {int(chunk)} exceeds max_batch_tokens {int(budget)}: a chunk rides "
                                 "in one step's budget", "chunk_tokens")
    seqs = _count("max_seqs", max_seqs, default_seqs if default_seqs is not None else np.inf)
    k = None if spec_tokens is None else int(scalar("spec_tokens", whole("spec_tokens", spec_tokens, 1, 64)))
    spec = [n for n, v in (("spec_acceptance", spec_acceptance), ("spec_accepted_share", spec_accepted_share),
                           ("spec_mean_length", spec_mean_length), ("draft_model", draft_model)) if v is not None]
    if k is None and spec:
        raise ConfigurationError("spec_tokens (k, the draft tokens per step) is needed for speculative decoding, "
                                 "which an acceptance or a draft model asks for", "spec_tokens")
    # the draft first: an unknown draft model is the error to report, whatever else is missing
    draft = _draft(s, draft_model) if k is not None and draft_model is not None else None
    E = 1.0 if k is None else tokens_per_step(k, spec_acceptance, accepted_share=spec_accepted_share,
                                              mean_length=spec_mean_length)
    if chunked > 1 and k is not None:
        raise ConfigurationError("stream_interval with speculative decoding is not modelled: a step emits a varying "
                                 "number of tokens", "stream_interval")

    offload = _offload(s, kv_offload, host_memory_bytes, host_link_bytes_per_s)
    mode = offload.mode if offload is not None else None
    mem = _memory(s)
    I, O = s.input_tokens, s.output_tokens
    if np.any(longest < np.asarray(O, dtype=float)):
        raise ConfigurationError(f"max_output_tokens {longest:,g} is below the mean output of {float(np.max(O)):,g} "
                                 "tokens: the longest answer is at least the mean one", "max_output_tokens")
    if prefilled:
        if hit > 0 or mode == "cache":
            raise ConfigurationError("prefilled requests bring their whole prompt's KV: prefix_hit and a prefix cache "
                                     "belong to the pool that computes the prompts", "prefilled")
        hit = 1.0 - 1.0 / np.asarray(I, dtype=float)  # all but one token arrive computed
    kv_device, kv_host, bytes_per_token, draft_bytes = _kv_capacity(s, mem, chunk, draft, offload)
    if offload is not None:  # link bandwidths may be an array of their own: one configuration per bandwidth
        spread = np.zeros(np.broadcast_shapes(np.shape(kv_device), np.shape(offload.link_bytes_per_s)))
        kv_device, kv_host = kv_device + spread, kv_host + spread
    kv_tokens = kv_device + kv_host if mode == "throughput" else kv_device
    # cache mode: each request's prefix comes from the host cache, reloaded over the link before its prefill
    reload_s = hit * I * bytes_per_token / offload.link_bytes_per_s if mode == "cache" else 0.0
    req = Requests(I, O, input_cv, output_cv, max_output_tokens=longest, prefix_hit=hit, arrival_cv2=1.0 / shape_k,
                   tokens_per_step=E, verify_tokens=1.0 if k is None else k + 1.0,
                   shared_prefix=mode != "cache" and not prefilled, ttft_delay_s=reload_s,
                   synchronized=bool(synchronized), stream_interval=chunked, recv_interval=recv)
    sched = Scheduler(budget * groups, chunk * groups, seqs * groups, kv_tokens, float(e.kv_block_tokens),
                      e.mixed_batches, e.chunked_prefill or chunk_tokens is not None, e.kv_reserve_outputs,
                      e.kv_recompute_on_full)
    stepper = Stepper(s, mem.inv_bandwidth, mem.placement)
    device_step = _step_function(stepper, req, k, draft)
    stream = _stream_function(req, kv_device, bytes_per_token, groups, offload) if mode == "throughput" else None
    step = device_step if stream is None else _streamed(device_step, stream)
    dp_ = np.asarray(s.par.dp, dtype=float)
    per_replica = replace(load, value=None if load.value is None else np.asarray(load.value, dtype=float) / dp_,
                          requests=None if load.requests is None else np.asarray(load.requests, dtype=float) / dp_)
    state = solve(step, req, sched, per_replica, PERCENTILES, targets[0], targets[1], percentile,
                  peak=mode == "throughput")
    m = dict(state.metrics)
    extra: dict[str, Any] = {}
    if offload is not None:
        link_bound = _offload_figures(m, state, req, sched, offload, stream, device_step, reload_s, groups,
                                      kv_device, bytes_per_token, load.mode)
        extra = {"kv_offload": mode, "host_link_bytes_per_s": _setting(offload.link_bytes_per_s),
                 "host_memory_bytes": _setting(offload.pool_bytes)}
    if load.mode == "rate" and load.requests is None:
        # past saturation the replica completes its saturated rate, not the offered one (which ``utilization`` above
        # 1 keeps); the queue, not the throughput, grows (docs/serving.md section 3)
        over = ~(m["request_rate_per_s"] < m["max_request_rate_per_s"])
        m["request_rate_per_s"] = np.where(over, m["max_request_rate_per_s"], m["request_rate_per_s"])
        m["output_tokens_per_s"] = np.where(over, m["max_request_rate_per_s"] * O, m["output_tokens_per_s"])
    devices = np.asarray(s.par.devices, dtype=float)
    for key in ("request_rate_per_s", "output_tokens_per_s", "max_request_rate_per_s", "goodput_requests_per_s",
                "max_goodput_rate_per_s"):
        if key in m:
            m[key] = m[key] * dp_
    m["output_tokens_per_s_per_device"] = m["output_tokens_per_s"] / devices
    m["total_tokens_per_s"] = m["request_rate_per_s"] * (I + O)
    with np.errstate(invalid="ignore"):  # 0 requests/s x infinite latency where nothing fits: NaN, said by 'fits'
        m["concurrency"] = m["request_rate_per_s"] * m["e2e_mean_s"]
    m["running_batch"] = m["running_batch"] * dp_
    if "running_batch_at_max_rate" in m:
        m["running_batch_at_max_rate"] = m["running_batch_at_max_rate"] * dp_
    held = m.pop("kv_tokens")
    if mode == "throughput":  # device memory first, the rest in the host pool
        m["kv_host_bytes"] = np.maximum(held - kv_device, 0.0) / groups * bytes_per_token
        held = np.minimum(held, kv_device)
    m["kv_cache_bytes"] = held / groups * bytes_per_token
    m["kv_capacity_bytes"] = kv_device / groups * bytes_per_token
    if offload is not None:
        m["kv_host_capacity_bytes"] = kv_host / groups * bytes_per_token
    m["weights_bytes"] = mem.footprint.weights_bytes + draft_bytes
    m["tokens_per_step"] = np.asarray(E)
    m["fits"] = state.terms.cap >= 1.0
    if check_fit and np.ndim(m["fits"]) == 0 and not bool(m["fits"]):  # one configuration: say why
        raise DoesNotFitError(_no_room_message(s, mem, draft_bytes, chunk, m["kv_capacity_bytes"],
                                               (I + O) * bytes_per_token / groups))
    # what limits the saturated rate: 'compute' where the saturated step is compute-bound, else the limit that caps
    # the running batch ('max sequences', 'kv memory') or the prompt work per step ('token budget')
    m["bottleneck"] = np.where(state.compute_share > 0.5, "compute", BINDING[state.binding])
    if offload is not None:
        m["bottleneck"] = np.where(link_bound, "host link", m["bottleneck"])
    m["devices"] = devices
    m.update(_served_bands(m, s, e.name))
    m.update(per_user_rate(m))
    shape = np.broadcast_shapes(*(np.shape(v) for v in m.values()))
    m = {key: np.broadcast_to(np.asarray(v), shape).copy() if shape else np.asarray(v) for key, v in m.items()}
    settings = {"mode": load.mode, "entry_point": "offline" if offline_class else "server",
                "synchronized": bool(synchronized), "stream_interval": chunked, "recv_interval": recv,
                "input_tokens": _setting(I),
                "output_tokens": _setting(O), "input_cv": input_cv,
                "output_cv": output_cv, "max_output_tokens": None if np.isinf(longest) else longest,
                "burstiness": shape_k, "max_batch_tokens": int(budget),
                "chunk_tokens": int(chunk), "max_seqs": None if np.isinf(seqs) else int(seqs),
                "kv_block_tokens": e.kv_block_tokens, "mixed_batches": e.mixed_batches,
                "chunked_prefill": bool(sched.chunked),
                "prefix_hit": float(hit) if np.ndim(hit) == 0 else np.asarray(hit).tolist(), "spec_tokens": k,
                "spec_tokens_per_step": E, "draft_model": draft.model.name if draft is not None else
                ("mtp" if k is not None else None), "percentile": percentile,
                "ttft_target_s": targets[0], "tpot_target_s": targets[1],
                "weight_dtype": s.dtypes.weight, "activation_dtype": s.dtypes.activation, "kv_dtype": s.dtypes.kv,
                **{d: _setting(getattr(s.par, d)) for d in ("tp", "pp", "ep", "dp", "cp")}, **extra}
    if load.value is not None:
        settings["load_value"] = _setting(load.value)
    if load.requests is not None:
        settings["num_requests"] = _setting(load.requests)
    where = s.platform.name if s.platform is not None else s.hw.name
    return Served(s.model.name, where, s.realism.engine_label, settings, m, s.realism)


def _setting(value):
    """A setting as plain Python: whole floats as ints (those below 2^53, which int64 and float64 both hold exactly;
    larger ones, e.g. a request rate of 1e300, stay floats)."""
    arr = np.asarray(value)
    if arr.dtype.kind == "f" and np.all(arr == np.floor(arr)) and np.all(np.abs(arr) < 2.0**53):
        arr = arr.astype(np.int64)
    return arr.item() if arr.ndim == 0 else arr.tolist()


def _infinite(request_rate) -> bool:
    """Whether ``request_rate`` is one infinite rate: the float inf or the text 'inf' / 'infinity' (any case)."""
    if isinstance(request_rate, str):
        return request_rate.strip().lower() in ("inf", "infinity")
    return isinstance(request_rate, (float, int, np.floating)) and math.isinf(request_rate) and request_rate > 0


def _load(request_rate, concurrency, offline, num_requests=None) -> Load:
    given = [name for name, v in (("request_rate", request_rate), ("concurrency", concurrency),
                                  ("offline", offline)) if v is not None]
    if len(given) != 1:
        what = " and ".join(given) if given else "none"
        raise ConfigurationError(f"give exactly one of request_rate (requests/s or 'max'), concurrency and offline; "
                                 f"got {what}", given[-1] if given else "request_rate")
    if num_requests is not None and _infinite(request_rate):
        # a benchmark at an infinite request rate (vllm bench serve --request-rate inf --num-prompts N): every request
        # sent at once to the API server, an offline run under the server's own batch defaults (section 2d)
        return Load("offline", whole("num_requests", num_requests, 1, MAX_TOKENS), server=True)
    if num_requests is not None and concurrency is None and (request_rate is None or isinstance(request_rate, str)):
        raise ConfigurationError("num_requests is the length of a run at a request rate or of clients' closed loop: "
                                 "give a request rate in requests/s or a concurrency (an offline run submits all of "
                                 "its requests at once)", "num_requests")
    if isinstance(request_rate, str):
        if request_rate.strip().lower() != "max":
            raise ConfigurationError(f"request_rate must be a number of requests/s or 'max' ('inf' with num_requests: "
                                     f"that many sent at once), got {request_rate[:40]!r}", "request_rate")
        return Load("max")
    if request_rate is not None:
        rate = request_rate_check("request_rate", request_rate)
        if num_requests is None:
            return Load("rate", rate)
        requests = whole("num_requests", num_requests, 1, MAX_TOKENS)
        common_shape([("num_requests", requests)], np.shape(rate))
        return Load("rate", rate, requests)
    if concurrency is not None:
        clients = whole("concurrency", concurrency, 1, MAX_BATCH)
        if num_requests is None:
            return Load("concurrency", clients)
        requests = whole("num_requests", num_requests, 1, MAX_TOKENS)
        common_shape([("num_requests", requests)], np.shape(clients))
        if np.any(np.asarray(requests) < np.asarray(clients)):
            raise ConfigurationError("num_requests is below the concurrency: a run of fewer requests than clients "
                                     "sends them all at once (an offline run of that many requests)", "num_requests")
        return Load("concurrency", clients, requests)
    return Load("offline", whole("offline", offline, 1, MAX_TOKENS))


def percentile_fraction(value, name: str = "percentile") -> float:
    """The percentile a target applies to, as a fraction: ``value`` is one (0.99) or a percent above 1 (99); from 1%
    to 99.999% (``MIN_PERCENTILE``, ``MAX_PERCENTILE``)."""
    q = scalar(name, positive(name, value, 100.0 * MAX_PERCENTILE))
    if q == 1.0:
        raise ConfigurationError(f"{name} must be a fraction below 1 (0.99) or a percent above 1 (99); 1 could be "
                                 "either", name)
    if q > 1.0:
        return q / 100.0
    return scalar(name, at_least(name, q, MIN_PERCENTILE, MAX_PERCENTILE))


def _count(name: str, value, default) -> float:
    if value is None:
        return float(default)
    return scalar(name, whole(name, value, 1, MAX_TOKENS))


@dataclass
class _Draft:
    model: ModelSpec
    stepper: Stepper
    setup: Setup
    memory: MemoryView


def _draft(s: Setup, draft_model) -> _Draft:
    """The draft model on the same devices and layout as the target."""
    if not isinstance(draft_model, str | ModelSpec):
        raise InputTypeError(f"draft_model must be a model name or ModelSpec, got {type(draft_model).__name__}",
                             "draft_model")
    try:
        d = get_model(draft_model)
    except GenmodelError as exc:
        raise type(exc)(f"draft_model: {exc}", "draft_model") from None
    if d.vocab_size != s.model.vocab_size:
        raise ConfigurationError(f"draft model {d.name} has a {d.vocab_size:,}-token vocabulary but {s.model.name} "
                                 f"has {s.model.vocab_size:,}: a draft must share the target's tokenizer",
                                 "draft_model")
    try:
        par = Parallelism(s.par.tp, 1, 1, 1, False, 1.0, 0.0, None, 1)
        ds = prepare(d, s.platform or s.hw, 1, s.input_tokens, s.output_tokens, s.dtypes.weight, s.dtypes.kv,
                     s.dtypes.activation, embedding_dtype=None, parallel=par, num_devices=None,
                     prefill_chunk_tokens=8192, flops_scale=s.flops_scale, bandwidth_scale=s.bandwidth_scale,
                     capacity_scale=s.capacity_scale, interconnect_scale=1.0, check_fit=False, workload=None,
                     costs=None, requests_per_s=None, efficiency=None, calibrated=True, cooling_w_per_w=None,
                     engine=s.engine)
    except ConfigurationError as exc:
        raise ConfigurationError(f"draft model {d.name} cannot run with tp {int(np.max(s.par.tp))}: {exc}",
                                 "draft_model") from None
    mem = _memory(ds)
    return _Draft(d, Stepper(ds, mem.inv_bandwidth, mem.placement), ds, mem)


def _kv_capacity(s: Setup, mem: MemoryView, chunk: float, draft: _Draft | None, offload: _Offload | None):
    """(KV tokens a replica can hold in device memory, in the host pool (0 without offload), KV bytes per token on
    the most loaded device, draft weight bytes). A tier the spec's host link names (the offload tier) holds no KV
    in device memory; weights that overflow the faster tiers spill into it and take that much of its pool."""
    dev = mem.device
    I, O = s.input_tokens, s.output_tokens
    mean_ctx = I + O / 2.0
    per_token = dev.kv_per_sequence(mean_ctx) / mean_ctx  # bytes per held token (windows averaged)
    act = _step_activation_bytes(mem, chunk)
    draft_bytes = 0.0
    if draft is not None:
        dm = draft.memory
        draft_bytes = dm.footprint.weights_bytes
        per_token = per_token + dm.device.kv_per_sequence(mean_ctx) / mean_ctx
    free = mem.capacity - mem.footprint.weights_bytes - act - draft_bytes
    spill = 0.0
    tier_bytes = _offload_tier_bytes(s)
    if tier_bytes is not None:
        free = free - tier_bytes
        spill = np.maximum(-free, 0.0)
    groups = np.asarray(s.par.attention_groups, dtype=float)
    tokens = np.maximum(free, 0.0) / per_token * groups
    host = 0.0 if offload is None else np.maximum(offload.pool_bytes - spill, 0.0) / per_token * groups
    return tokens, host, per_token, draft_bytes


def _step_activation_bytes(mem: MemoryView, chunk: float):
    """Activation bytes per device of a step carrying ``chunk`` prompt tokens (at most MAX_TOKENS)."""
    return np.minimum(chunk, MAX_TOKENS) * mem.device.per_token


def _offload_tier_bytes(s: Setup) -> float | None:
    """The engine's share of the offload tier (the tier the spec's host link names), which holds no KV cache in
    device memory; None without one."""
    tier = s.hw.offload_tier
    if tier is None:
        return None
    return s.hw.memory[tier].capacity_bytes * s.capacity_scale * s.realism.usable_memory_fraction


@dataclass
class _Offload:
    """KV-cache offload in force: 'throughput' or 'cache', the link's bytes/s and the host pool per device."""

    mode: str
    link_bytes_per_s: np.ndarray
    pool_bytes: np.ndarray


def _offload(s: Setup, kv_offload, host_memory_bytes, host_link_bytes_per_s) -> _Offload | None:
    """The offload asked for, with the link and pool from the spec's ``host_link`` or the overrides."""
    if kv_offload is None or (isinstance(kv_offload, str) and kv_offload.strip().lower() in ("none", "off")):
        for name, value in (("host_memory_bytes", host_memory_bytes), ("host_link_bytes_per_s",
                                                                       host_link_bytes_per_s)):
            if value is not None:
                raise ConfigurationError(f"{name} sizes KV-cache offload: give kv_offload ('host' or 'cache') too",
                                         name)
        return None
    mode = OFFLOAD_MODES.get(kv_offload.strip().lower()) if isinstance(kv_offload, str) else None
    if mode is None:
        raise ConfigurationError(f"kv_offload must be 'host' (alias 'throughput') or 'cache' (None: no offload), "
                                 f"got {str(kv_offload)[:40]!r}", "kv_offload")
    hw, link = s.hw, s.hw.host_link
    if link is None and (host_memory_bytes is None or host_link_bytes_per_s is None):
        missing = " and ".join(n for n, v in (("host_link_bytes_per_s (--host-link-bandwidth)", host_link_bytes_per_s),
                                              ("host_memory_bytes (--host-memory)", host_memory_bytes)) if v is None)
        raise ConfigurationError(f"kv_offload needs a host link, and the spec of {hw.name} has none (no host_link "
                                 f"block with the link bandwidth and host memory): add one to its YAML or give "
                                 f"{missing}", "kv_offload")
    if host_link_bytes_per_s is not None:
        bw = within("host_link_bytes_per_s", host_link_bytes_per_s, MIN_HOST_LINK_BYTES_PER_S,
                    MAX_HOST_LINK_BYTES_PER_S, "bytes/s: from 1 MB/s to 1 PB/s")
    else:
        bw = np.asarray(link.bandwidth_per_direction_bytes_per_s, dtype=float)
        if hw.offload_tier is not None:  # the tier itself may be slower than the link
            bw = np.minimum(bw, hw.memory[hw.offload_tier].bandwidth_bytes_per_s * s.bandwidth_scale)
    if host_memory_bytes is not None:
        pool = within("host_memory_bytes", host_memory_bytes, 0.0, MAX_HOST_MEMORY_BYTES, "bytes: at most 1 EB")
    else:
        size = hw.memory[hw.offload_tier].capacity_bytes if hw.offload_tier is not None else link.memory_bytes
        pool = np.maximum(size * s.capacity_scale - HOST_RESERVE_BYTES, 0.0)
        if not np.any(pool > 0):
            raise ConfigurationError(f"the host memory of {hw.name} ({size / 2**30:,.4g} GiB per device) leaves "
                                     f"nothing for the KV cache after the 10 GiB reserve: give host_memory_bytes",
                                     "host_memory_bytes")
    return _Offload(mode, bw, pool)


def _stream_function(req: Requests, kv_device, per_token, groups: float, offload: _Offload):
    """stream(n): seconds one replica step spends reading, over the host link, the KV of n decoding sequences that
    does not fit in device memory (device memory first; the shared prefix stays there)."""
    shared = req.prefix_hit * req.input_tokens
    own = (1.0 - req.prefix_hit) * req.input_tokens + req.output_tokens / 2.0  # tokens a decoding sequence holds

    def stream(n):
        held = np.round(np.asarray(n, dtype=float)) * own
        return np.maximum(held - np.maximum(kv_device - shared, 0.0), 0.0) / groups * per_token \
            / offload.link_bytes_per_s

    return stream


def _offload_figures(m: dict, state, req: Requests, sched: Scheduler, offload: _Offload, stream, device_step,
                     reload_s, groups: float, kv_device, per_token, mode: str) -> np.ndarray:
    """Adds the host link's figures to the per-replica metrics ``m`` (in place) and returns where the link binds
    the saturated rate: the stream outlasting the device step (throughput mode), or the reloads filling the link
    (cache mode: at most groups / reload_s requests/s per replica)."""
    if offload.mode == "throughput":
        n = 1.0 + m["decode_batch"]
        link_s = stream(n)
        m["host_link_utilization"] = np.minimum(link_s / np.maximum(m["step_s"], 1e-300), 1.0)
        t = terms(state.x_max, req, sched)
        n_max = 1.0 + t.n
        zeros = np.zeros_like(n_max)
        return stream(n_max) > device_step(n_max, zeros)
    rate = m["request_rate_per_s"]
    m["prefix_reload_s"] = reload_s + 0.0 * rate
    m["host_link_utilization"] = rate * reload_s / groups
    with np.errstate(divide="ignore"):
        link_max = np.where(reload_s > 0, groups / np.where(reload_s > 0, reload_s, 1.0), np.inf)
    bound = link_max < m["max_request_rate_per_s"]
    m["max_request_rate_per_s"] = np.minimum(m["max_request_rate_per_s"], link_max)
    if mode == "rate":
        m["stable"] = m["stable"] & (rate < link_max)
        for key in [k for k in m if k.startswith(("ttft_", "e2e_", "queue_"))]:
            m[key] = np.where(m["stable"], m[key], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):  # a replica that cannot hold one request: rate 0 (as solve)
        m["utilization"] = rate / m["max_request_rate_per_s"]
    return bound


def _step_function(stepper: Stepper, req: Requests, k: int | None, draft: _Draft | None):
    """step(n, p): seconds of one replica step with n decoding sequences and p prompt tokens (pp slots); an engine
    that computes a step in passes of at most ``prompt_ubatch_tokens`` tokens (llama.cpp) pays for each pass."""
    par = stepper.s.par
    pp = np.asarray(par.pp, dtype=float)
    share = pp * np.asarray(par.attention_groups, dtype=float)  # micro-batches x attention groups
    I, O = req.input_tokens, req.output_tokens
    I_new = (1.0 - req.prefix_hit) * I
    prefix = req.prefix_hit * I
    contexts = (I + 1.0, I + np.maximum(O - 1.0, 1.0))
    q = req.verify_tokens
    ubatch = stepper.s.engine.prompt_ubatch_tokens

    def step(n, p, compute: bool = False):
        # a typical step carries whole sequences and tokens: the mean counts are rounded (a fractional GEMM height
        # would pay for a whole extra tile)
        n = np.round(np.asarray(n, dtype=float)) / share
        prompts = np.round(np.asarray(p, dtype=float)) / I_new / share
        passes = 1.0
        if ubatch is None:
            res = stepper.step("decode", n, q, contexts, chunk=Chunk(prompts, I_new, prefix))
            t = res.slot_s
        else:  # the step's tokens in passes of at most U, timed as the mean pass (formulas.md 5.2): a 1 / passes
            # share of the decoding sequences and every prompt's next I_new / passes tokens; the prompts emit their
            # first tokens in the last pass; with no sequence decoding, the LM head runs (reads its weights) then only
            passes = step_passes(ubatch, n * q + prompts * I_new)
            tokens, pass_prefix = mean_pass(I_new, passes, prefix)
            idle = n <= 0
            res = stepper.step("decode", n / passes, q, contexts,
                               chunk=Chunk(prompts, tokens, pass_prefix, np.where(idle, 1.0, 1.0 / passes)),
                               passes=np.where(idle, passes, 1.0))
            t = passes * res.slot_s - (passes - 1.0) * res.step_overhead_s  # host work once per step, not per pass
        if k is not None:
            t = t + np.minimum(n * share, 1.0) * _draft_s(stepper, draft, n, contexts, k, prompts, I_new)
        if not compute:
            return pp * t
        # (with compute: also the seconds of its compute-bound operators and of all its operators, the draft's and
        # the host's time left out: what names a step compute-bound, ``SteadyState.compute_share``)
        real = res.real
        w = np.broadcast_to(res.weights, real.time_s.shape)
        bound = (w * np.where(real.compute_s >= real.memory_s, real.time_s, 0.0)).sum(axis=0)
        return pp * t, pp * passes * bound, pp * passes * (w * real.time_s).sum(axis=0)

    step.splits_compute = True  # (genmodel.serving.steady._evaluate)
    return step


def _streamed(device_step, stream):
    """The step where the KV of some decoding sequences streams over the host link while the device computes: the
    longer of the two (``_step_function``'s ``compute`` figures are the device's)."""
    def step(n, p, compute: bool = False):
        if not compute:
            return np.maximum(device_step(n, p), stream(n))
        t, bound, ops = device_step(n, p, compute=True)
        return np.maximum(t, stream(n)), bound, ops

    step.splits_compute = True
    return step


def _draft_s(stepper: Stepper, draft: _Draft | None, n, contexts, k: int, prompts, I_new):
    """Seconds the draft adds to a verify step: k draft steps (the first also prefills the new prompt tokens)."""
    if draft is None:  # MTP heads: one decoder layer plus the LM head per drafted token
        res = stepper.step("decode", n, 1, contexts)
        table = res.table
        layer = np.array([g != "model" for g in table.groups])
        rows = res.weights * res.real.time_s
        per_layer = rows[layer].sum(axis=0) / (stepper.fraction * stepper.s.model.num_layers)
        return k * (per_layer + rows[~layer].sum(axis=0))
    first = draft.stepper.step("decode", n, 1, contexts, chunk=Chunk(prompts, I_new, 0.0))
    rest = draft.stepper.step("decode", n, 1, contexts)
    return (first.slot_s - first.step_overhead_s) + (k - 1) * (rest.slot_s - rest.step_overhead_s)


def _no_room_message(s: Setup, mem: MemoryView, draft_bytes, chunk: float, kv_capacity_bytes,
                     request_kv_bytes) -> str:
    """Why one configuration cannot serve a single request: what the engine can fill per device, what the weights
    and the activations of a step's prompt chunk take of it (``_kv_capacity``), and the KV cache left, against one
    request's."""
    gib = 2.0**30
    where = f"{s.par.devices:g} {s.hw.name}" if float(s.par.devices) > 1 else f"one {s.hw.name}"
    usable = float(mem.capacity) - (_offload_tier_bytes(s) or 0.0)  # (the offload tier holds no KV cache)
    weights = float(mem.footprint.weights_bytes) + float(draft_bytes)
    act = float(_step_activation_bytes(mem, chunk))
    what = (f"{weights / gib:.3g} GiB of weights" + (" (the draft model's with them)" if draft_bytes else "")
            + f" and {act / gib:.3g} GiB of activations for a step's {int(chunk):,} prompt tokens")
    fixes = "a smaller --weight-dtype, more devices (--tp), a device with more memory"
    if act > weights:  # the step's token budget, not the weights, fills the memory
        fixes = "fewer tokens per step (--max-batch-tokens, --chunk-tokens), " + fixes
    if usable < 0.5 * float(mem.physical):  # the engine was given little of the memory
        fixes = "a larger --memory-fraction or a smaller --runtime-reserved, " + fixes
    return (f"{s.model.name} cannot serve one request of {int(s.input_tokens):,} + {int(s.output_tokens):,} tokens "
            f"on {where}: of the {usable / gib:.3g} GiB per device the engine can fill "
            f"({100 * s.realism.usable_memory_fraction:.3g}% of its memory less "
            f"{float(np.max(mem.reserved)) / gib:.3g} GiB held by the runtime), {what} leave "
            f"{float(kv_capacity_bytes) / gib:.3g} GiB for the KV cache, and one request needs "
            f"{float(request_kv_bytes) / gib:.3g} GiB; use {fixes}")
