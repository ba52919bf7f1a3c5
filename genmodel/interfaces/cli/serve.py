"""``genmodel serve``: a model under served traffic — latency percentiles at a request rate or a concurrency,
saturation, goodput (genmodel.serving, docs/serving.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import (
    DEFAULT_HARDWARE,
    DEFAULT_MODEL,
    ActOpt,
    EngineOpt,
    HardwareOpt,
    InputOpt,
    JsonOpt,
    KvOpt,
    ModelOpt,
    OutputOpt,
    UncalibratedOpt,
    WeightOpt,
    emit_json,
    gib,
    ms,
)


def _latency(value: Any) -> str:
    return "unbounded" if value is None else ms(value)


@app.command()
def serve(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    request_rate: Annotated[str | None, typer.Option(
        help="Poisson arrivals, requests/s for the whole deployment, or 'max' for the saturated steady state.")]
    = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Closed loop: requests kept in flight (a benchmark client's max concurrency).")] = None,
    offline: Annotated[int | None, typer.Option(help="Offline run: this many requests submitted at once.")] = None,
    input_cv: Annotated[float, typer.Option(help="Spread of prompt lengths: coefficient of variation (0: fixed).")]
    = 0.0,
    output_cv: Annotated[float, typer.Option(help="Spread of output lengths: coefficient of variation.")] = 0.0,
    burstiness: Annotated[float, typer.Option(
        help="Gamma shape of inter-arrival times (1: Poisson; below 1: burstier).")] = 1.0,
    max_batch_tokens: Annotated[int | None, typer.Option(
        help="Tokens one engine step may carry (default: the engine's).")] = None,
    chunk_tokens: Annotated[int | None, typer.Option(
        help="Most prompt tokens per step (chunked prefill; default: the token budget).")] = None,
    max_seqs: Annotated[int | None, typer.Option(help="Most running sequences (default: the engine's).")] = None,
    prefix_hit: Annotated[float, typer.Option(help="Share of each prompt found in the prefix cache [0, 1).")] = 0.0,
    spec_tokens: Annotated[int | None, typer.Option(help="Speculative decoding: draft tokens per step (k).")]
    = None,
    spec_acceptance: Annotated[str | None, typer.Option(
        help="Per-token acceptance (0-1), or a comma-separated list, one per draft position.")] = None,
    spec_mean_length: Annotated[float | None, typer.Option(
        help="Instead: mean acceptance length (tokens per verify step, 1 to k + 1).")] = None,
    draft_model: Annotated[str | None, typer.Option(help="Draft model (default: MTP heads).")] = None,
    ttft_ms: Annotated[float | None, typer.Option(help="TTFT target in ms at --percentile.")] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="TPOT target in ms at --percentile.")] = None,
    percentile: Annotated[float, typer.Option(help="Percentile the targets apply to (e.g. 90, 99).")] = 99.0,
    weight_dtype: WeightOpt = None,
    kv_dtype: KvOpt = None,
    activation_dtype: ActOpt = None,
    tp: Annotated[int, typer.Option(help="Tensor-parallel degree.")] = 1,
    pp: Annotated[int, typer.Option(help="Pipeline-parallel stages.")] = 1,
    ep: Annotated[int, typer.Option(help="Expert-parallel degree (MoE models).")] = 1,
    dp: Annotated[int, typer.Option(help="Data-parallel replicas (share the request rate).")] = 1,
    cp: Annotated[int, typer.Option(help="Context-parallel degree.")] = 1,
    attention_dp: Annotated[bool, typer.Option(help="Attention data-parallel over the EP group.")] = False,
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Latency percentiles, throughput and goodput of MODEL on HARDWARE under traffic (continuous batching)."""
    from genmodel.serving.serve import serve as run_serve

    rate: Any = request_rate
    if request_rate is not None and request_rate.strip().lower() not in ("max", "inf"):
        try:
            rate = float(request_rate)
        except ValueError:
            rate = request_rate  # the library names the problem
    acceptance: Any = None
    if spec_acceptance is not None:
        try:
            parts = [float(p) for p in spec_acceptance.split(",")]
        except ValueError:
            from genmodel.errors import ConfigurationError

            raise ConfigurationError(f"acceptance must be a number or a comma-separated list of numbers, got "
                                     f"{spec_acceptance[:40]!r}", "spec_acceptance") from None
        acceptance = parts[0] if len(parts) == 1 else parts
    result = run_serve(model, hardware, input_tokens, output_tokens, request_rate=rate, concurrency=concurrency,
                       offline=offline, input_cv=input_cv, output_cv=output_cv, burstiness=burstiness,
                       max_batch_tokens=max_batch_tokens, chunk_tokens=chunk_tokens, max_seqs=max_seqs,
                       prefix_hit=prefix_hit, spec_tokens=spec_tokens, spec_acceptance=acceptance,
                       spec_mean_length=spec_mean_length, draft_model=draft_model,
                       ttft_target_s=None if ttft_ms is None else ttft_ms / 1e3,
                       tpot_target_s=None if tpot_ms is None else tpot_ms / 1e3, percentile=percentile,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, activation_dtype=activation_dtype, tp=tp,
                       pp=pp, ep=ep, dp=dp, cp=cp, attention_dp=attention_dp, engine=engine,
                       calibrated=not uncalibrated)
    data = result.to_dict()
    if as_json:
        emit_json(data)
        return
    typer.echo(format_served(result, data))


def format_served(result: Any, d: dict[str, Any]) -> str:
    """The human-readable report of one served configuration."""
    mode = d["mode"]
    if mode == "rate":
        load = f"{d['request_rate_per_s']:,.3g} requests/s (Poisson" + (
            f", gamma shape {d['burstiness']:g}" if d["burstiness"] != 1 else "") + ")"
    elif mode == "max":
        load = "saturated (as many requests as the engine admits)"
    else:
        load = f"{d['load_value']:,.0f} " + ("clients in flight (closed loop)" if mode == "concurrency"
                                              else "requests submitted at once")
    spread = "" if not (d["input_cv"] or d["output_cv"]) else f" (cv {d['input_cv']:g} / {d['output_cv']:g})"
    sched = (f"budget {d['max_batch_tokens']:,} tokens/step, chunks of {d['chunk_tokens']:,}, "
             f"max {d['max_seqs'] if d['max_seqs'] is not None else 'unlimited (KV)'} sequences, "
             f"{'mixed' if d['mixed_batches'] else 'separate'} prefill"
             + ("" if d["chunked_prefill"] else ", whole prompts"))
    extras = []
    if d["prefix_hit"]:
        extras.append(f"prefix cache hit {d['prefix_hit']:.0%}")
    if d["spec_tokens"]:
        extras.append(f"speculative k = {d['spec_tokens']} ({d['draft_model']}): {d['spec_tokens_per_step']:.2f} "
                      "tokens per verify step")
    lines = [
        f"{d['model']} on {d['hardware']} served by {d['engine']}: {d['input_tokens']} input + "
        f"{d['output_tokens']} output tokens{spread}",
        f"  load: {load}",
        f"  scheduler: {sched}" + ("; " + "; ".join(extras) if extras else ""),
        "",
        f"  {'':26}{'p50':>14}{'p90':>14}{'p99':>14}",
        f"  {'TTFT':26}" + "".join(f"{_latency(d[f'ttft_p{q}_s']):>14}" for q in (50, 90, 99)),
        f"  {'TPOT (per request)':26}" + "".join(f"{_latency(d[f'tpot_p{q}_s']):>14}" for q in (50, 90, 99)),
        f"  {'inter-token gap':26}" + "".join(f"{_latency(d[f'itl_p{q}_s']):>14}" for q in (50, 90, 99)),
        f"  {'end-to-end':26}" + "".join(f"{_latency(d[f'e2e_p{q}_s']):>14}" for q in (50, 90, 99)),
        "",
        f"  throughput {d['output_tokens_per_s']:,.1f} output tok/s ({d['output_tokens_per_s_per_device']:,.1f} per "
        f"device), {d['request_rate_per_s']:,.3g} requests/s; running batch {d['running_batch']:,.1f}",
        f"  saturation: {d['max_request_rate_per_s']:,.3g} requests/s (utilization {d['utilization']:.0%}); "
        f"what binds: {d['bottleneck']}",
        f"  KV cache {gib(d['kv_cache_bytes'])} in use of {gib(d['kv_capacity_bytes'])} per device; "
        f"weights {gib(d['weights_bytes'])}",
    ]
    if mode == "rate" and not d["stable"]:
        lines.append("  the rate exceeds saturation: queues grow without bound (latencies unbounded)")
    if mode == "max":
        lines.append("  latencies exclude the wait of requests queued beyond the running batch")
    if "goodput_requests_per_s" in d:
        target = ", ".join(t for t in (
            None if d["ttft_target_s"] is None else f"TTFT <= {d['ttft_target_s'] * 1e3:g} ms",
            None if d["tpot_target_s"] is None else f"TPOT <= {d['tpot_target_s'] * 1e3:g} ms") if t)
        lines.append(f"  targets ({target} at p{d['percentile'] * 100:g}): "
                     f"{'met' if d['meets_slo'] else 'NOT met'}; goodput {d['goodput_requests_per_s']:,.3g} "
                     f"requests/s ({d['slo_attainment']:.1%} of requests meet both); the largest rate meeting "
                     f"them: {d['max_goodput_rate_per_s']:,.3g} requests/s")
    lines.append(f"  realism: {result.realism.describe(memory=False)}")
    lines.append("  closed-form queueing model (docs/serving.md); client-side HTTP and tokenization not included")
    return "\n".join(lines)
