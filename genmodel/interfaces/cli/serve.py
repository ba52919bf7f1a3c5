"""``genmodel serve``: a model under served traffic — latency percentiles at a request rate or a concurrency,
saturation, goodput (genmodel.serving, docs/serving.md)."""

import math
from typing import Annotated, Any

import typer

from genmodel.data.registry import get_engine
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
    efficiency,
    emit_json,
    fail,
    gib,
    latency,
    ms,
    served_band_lines,
    target_ms_options,
    utilization_text,
)


@app.command()
def serve(
    model: ModelOpt = DEFAULT_MODEL,
    hardware: HardwareOpt = DEFAULT_HARDWARE,
    input_tokens: InputOpt = 1024,
    output_tokens: OutputOpt = 256,
    request_rate: Annotated[str | None, typer.Option(
        help="Poisson arrivals, requests/s for the whole deployment, or 'max' for the saturated steady state; "
             "'inf' with --num-prompts N sends the N at once to the API server (vllm bench serve --request-rate "
             "inf), an offline run under the server's batch defaults.")]
    = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Closed loop: requests kept in flight (a benchmark client's max concurrency).")] = None,
    offline: Annotated[int | None, typer.Option(help="Offline run: this many requests submitted at once.")] = None,
    num_prompts: Annotated[int | None, typer.Option(
        help="With --request-rate: a run of this many requests from an idle engine (a benchmark's --num-prompts); "
             "past saturation its latencies are the run's, as the queue grows. With --concurrency: the clients "
             "start at once, and that first wave weighs in the mean TTFT (docs/serving.md section 2c).")]
    = None,
    synchronized: Annotated[bool, typer.Option(
        help="With --concurrency: the clients send requests of identical lengths (a benchmark's fixed lengths), "
             "so they re-send in waves (docs/serving.md section 2b).")] = False,
    stream_interval: Annotated[int, typer.Option(
        help="Tokens per streamed chunk after the first (TensorRT-LLM's stream_interval): the inter-token gaps a "
             "client sees span that many decode steps (docs/serving.md section 3).")] = 1,
    recv_interval: Annotated[int, typer.Option(
        help="Decode steps between the server's intakes of new requests while it decodes (SGLang's "
             "--scheduler-recv-interval): a request arriving during decoding waits for the next one "
             "(docs/serving.md section 3).")] = 1,
    input_cv: Annotated[float, typer.Option(help="Spread of prompt lengths: coefficient of variation (0: fixed).")]
    = 0.0,
    output_cv: Annotated[float, typer.Option(help="Spread of output lengths: coefficient of variation.")] = 0.0,
    max_output_tokens: Annotated[float | None, typer.Option(
        help="The longest answer any request gives (a benchmark's max_tokens, or its dataset's longest answer): a "
             "finite run with spread outputs ends with it at the latest (docs/serving.md section 2d).")] = None,
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
    kv_offload: Annotated[str | None, typer.Option(
        help="KV-cache offload: 'host' (alias 'throughput': KV beyond device memory lives in host memory and streams "
             "over the host link every step) or 'cache' (prefix hits come from a host prefix cache, reloaded "
             "over the link before the prefill).")] = None,
    host_memory: Annotated[str | None, typer.Option(
        help="With --kv-offload: host memory per device for the KV pool, e.g. '500 GiB' (default: the hardware "
             "spec's host memory or offload tier, less 10 GiB).")] = None,
    host_link_bandwidth: Annotated[str | None, typer.Option(
        help="With --kv-offload: host-link bandwidth per direction per device, e.g. '64 GB/s' (default: the "
             "hardware spec's host_link).")] = None,
    disaggregated: Annotated[bool, typer.Option(
        help="Separate prefill and decode pools (needs --request-rate, --ttft-ms, --tpot-ms); sizes both for the "
             "rate and compares with co-located replicas of --tp/--pp/--ep.")] = False,
    prefill_tp: Annotated[int | None, typer.Option(help="Disaggregated: prefill replica TP (default --tp).")] = None,
    prefill_pp: Annotated[int | None, typer.Option(help="Disaggregated: prefill replica PP (default --pp).")] = None,
    decode_tp: Annotated[int | None, typer.Option(help="Disaggregated: decode replica TP (default --tp).")] = None,
    decode_pp: Annotated[int | None, typer.Option(help="Disaggregated: decode replica PP (default --pp).")] = None,
    decode_ep: Annotated[int | None, typer.Option(help="Disaggregated: decode replica EP (default --ep).")] = None,
    prefill_replicas: Annotated[int | None, typer.Option(
        help="Disaggregated: prefill replicas (default: sized for the rate and targets).")] = None,
    decode_replicas: Annotated[int | None, typer.Option(
        help="Disaggregated: decode replicas (default: sized for the rate and targets).")] = None,
    kv_link: Annotated[str, typer.Option(
        help="Disaggregated: the link the KV cache crosses, 'scale-out' (NICs) or 'scale-up' (one domain).")]
    = "scale-out",
    memory_fraction: Annotated[float | None, typer.Option(
        help="Share of device memory the serving engine uses, which sets how many sequences the KV cache holds "
             "(vLLM --gpu-memory-utilization, SGLang --mem-fraction-static; default: the engine's, 0.9).")] = None,
    runtime_reserved: Annotated[str | None, typer.Option(
        help="Memory the runtime holds before weights and KV cache, e.g. '1.5 GiB'.")] = None,
    uncalibrated: UncalibratedOpt = False,
    engine: EngineOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Latency percentiles, throughput and goodput of MODEL on HARDWARE under traffic (continuous batching)."""
    from genmodel.serving.serve import serve as run_serve

    overrides = efficiency(memory_fraction=memory_fraction, runtime_reserved=runtime_reserved)
    target_ms_options(ttft_ms=ttft_ms, tpot_ms=tpot_ms)  # (in the unit typed, within the library's bound)
    pools = {"prefill_tp": prefill_tp, "prefill_pp": prefill_pp, "decode_tp": decode_tp, "decode_pp": decode_pp,
             "decode_ep": decode_ep, "prefill_replicas": prefill_replicas, "decode_replicas": decode_replicas}
    if not disaggregated:
        named = [f"--{k.replace('_', '-')}" for k, v in pools.items() if v is not None]
        if named or kv_link != "scale-out":
            fail(f"{', '.join(named) or '--kv-link'} sizes disaggregated pools: add --disaggregated")
    else:
        for name, value in (("--stream-interval", stream_interval), ("--recv-interval", recv_interval)):
            if value != 1:
                fail(f"{name} applies to co-located serving; it cannot be combined with --disaggregated yet")
        _disaggregated(model, hardware, input_tokens, output_tokens, request_rate, ttft_ms, tpot_ms, percentile,
                       pools, kv_link, {"tp": tp, "pp": pp, "ep": ep, "cp": cp, "attention_dp": attention_dp},
                       {"concurrency": concurrency, "offline": offline, "num_prompts": num_prompts,
                        "synchronized": synchronized or None,
                        "dp": dp if dp != 1 else None,
                        "kv_offload": kv_offload, "spec_tokens": spec_tokens},
                       {"input_cv": input_cv, "output_cv": output_cv, "max_output_tokens": max_output_tokens,
                        "burstiness": burstiness,
                        "max_batch_tokens": max_batch_tokens, "chunk_tokens": chunk_tokens, "max_seqs": max_seqs,
                        "prefix_hit": prefix_hit, "weight_dtype": weight_dtype, "kv_dtype": kv_dtype,
                        "activation_dtype": activation_dtype, "engine": engine, "calibrated": not uncalibrated,
                        "efficiency": overrides},
                       as_json)
        return

    from genmodel.serving.serve import MAX_HOST_LINK_BYTES_PER_S, MAX_HOST_MEMORY_BYTES, MIN_HOST_LINK_BYTES_PER_S

    # (the library's bounds, said in the units typed)
    host_bytes = _quantity("--host-memory", host_memory, "bytes", "'500 GiB'", kv_offload,
                           maximum=(MAX_HOST_MEMORY_BYTES, "1 EB"))
    link_bytes_per_s = _quantity("--host-link-bandwidth", host_link_bandwidth, "bytes_per_s", "'64 GB/s'",
                                 kv_offload, minimum=(MIN_HOST_LINK_BYTES_PER_S, "1 MB/s"),
                                 maximum=(MAX_HOST_LINK_BYTES_PER_S, "1 PB/s"))

    rate = _rate(request_rate)
    acceptance: Any = None
    if spec_acceptance is not None:
        try:
            parts = [float(p) for p in spec_acceptance.split(",")]
        except ValueError:
            from genmodel.errors import ConfigurationError

            raise ConfigurationError(f"spec_acceptance must be a number or a comma-separated list of numbers, got "
                                     f"{spec_acceptance[:40]!r}", "spec_acceptance") from None
        acceptance = parts[0] if len(parts) == 1 else parts
    result = run_serve(model, hardware, input_tokens, output_tokens, request_rate=rate, concurrency=concurrency,
                       offline=offline, num_requests=num_prompts, synchronized=synchronized,
                       stream_interval=stream_interval, recv_interval=recv_interval, input_cv=input_cv,
                       output_cv=output_cv,
                       max_output_tokens=max_output_tokens, burstiness=burstiness,
                       max_batch_tokens=max_batch_tokens, chunk_tokens=chunk_tokens, max_seqs=max_seqs,
                       prefix_hit=prefix_hit, spec_tokens=spec_tokens, spec_acceptance=acceptance,
                       spec_mean_length=spec_mean_length, draft_model=draft_model,
                       ttft_target_s=None if ttft_ms is None else ttft_ms / 1e3,
                       tpot_target_s=None if tpot_ms is None else tpot_ms / 1e3, percentile=percentile,
                       weight_dtype=weight_dtype, kv_dtype=kv_dtype, activation_dtype=activation_dtype, tp=tp,
                       pp=pp, ep=ep, dp=dp, cp=cp, attention_dp=attention_dp, engine=engine,
                       calibrated=not uncalibrated, efficiency=overrides, kv_offload=kv_offload,
                       host_memory_bytes=host_bytes,
                       host_link_bytes_per_s=link_bytes_per_s, check_fit=True)
    data = result.to_dict()
    if as_json:
        emit_json(data)
        return
    typer.echo(format_served(result, data))


def _rate(text: str | None) -> Any:
    """--request-rate as the library takes it: 'max' (any case), a number of requests/s, or the text itself where
    it is neither (the library names the problem; 'nan' is a number it refuses, and 'inf' one it takes only with
    --num-prompts, as that many requests sent at once)."""
    if text is None or text.strip().lower() == "max":
        return None if text is None else "max"
    try:
        return float(text)
    except ValueError:
        return text


def _disaggregated(model: str, hardware: str, input_tokens: int, output_tokens: int, request_rate: str | None,
                   ttft_ms: float | None, tpot_ms: float | None, percentile: float, pools: dict[str, Any],
                   kv_link: str, colocated: dict[str, Any], refused: dict[str, Any], options: dict[str, Any],
                   as_json: bool) -> None:
    """``genmodel serve --disaggregated``: both pools sized for the rate, against co-located serving."""
    from genmodel.serving.disaggregated import serve_disaggregated

    for name, value in refused.items():
        if value is not None:
            fail(f"--{name.replace('_', '-')} does not apply to --disaggregated (pools are sized for a request rate)")
    from genmodel.specs.checks import whole

    rate = _rate(request_rate)
    if rate is None or isinstance(rate, str):
        fail("--disaggregated needs --request-rate as a number of requests/s (the pools are sized for it)")
    if ttft_ms is None or tpot_ms is None:
        fail("--disaggregated sizes its pools for targets: give --ttft-ms and --tpot-ms")
    # the layouts' degrees, by the options that set them (a pool's degree defaults to the co-located one)
    for name, value in (*((k, colocated[k]) for k in ("tp", "pp", "ep", "cp")), *pools.items()):
        if value is not None:
            whole(name, value, 1)

    def pick(pool: str, key: str) -> int:
        given = pools[f"{pool}_{key}"]
        return colocated[key] if given is None else given

    prefill = {**colocated, "tp": pick("prefill", "tp"), "pp": pick("prefill", "pp")}
    decode = {**colocated, "tp": pick("decode", "tp"), "pp": pick("decode", "pp"), "ep": pick("decode", "ep")}
    if prefill["ep"] > 1 and prefill["tp"] % prefill["ep"] and not prefill["attention_dp"]:
        prefill["ep"] = 1  # a prefill layout that cannot hold the co-located ep runs without it
    from genmodel.errors import GenmodelError

    try:
        result = serve_disaggregated(model, hardware, input_tokens, output_tokens, request_rate=rate,
                                     ttft_target_s=ttft_ms / 1e3, tpot_target_s=tpot_ms / 1e3,
                                     percentile=percentile, prefill=prefill, decode=decode,
                                     prefill_replicas=pools["prefill_replicas"],
                                     decode_replicas=pools["decode_replicas"], colocated=colocated, kv_link=kv_link,
                                     **options)
    except GenmodelError as exc:
        raise _as_given(exc, pools) from None
    data = result.to_dict()
    if as_json:
        emit_json(data)
        return
    typer.echo(format_disaggregated(data))


def _as_given(exc: Exception, pools: dict[str, Any]) -> Exception:
    """An error about a pool's degree (``decode_ep`` ...) names the option that set it: --decode-ep when given, else
    the co-located --ep it defaulted to (and ``colocated_tp`` ... is --tp)."""
    arg = getattr(exc, "argument", None) or ""
    pool, _, key = arg.partition("_")
    if pool not in ("prefill", "decode", "colocated") or key not in ("tp", "pp", "ep", "cp", "attention_dp"):
        return exc
    if pools.get(arg) is not None:
        return exc
    import copy

    text = str(exc)
    new = copy.copy(exc)
    new.args = (key + text[len(arg):] if text.startswith(arg) else text,)
    new.argument = key
    return new


def _split(layout: dict[str, Any]) -> str:
    text = f"tp {layout['tp']}, pp {layout['pp']}"
    return text + (f", ep {layout['ep']}" if layout["ep"] > 1 else "") + (f", cp {layout['cp']}" if layout["cp"] > 1
                                                                            else "")


def format_disaggregated(d: dict[str, Any]) -> str:
    """The human-readable report of disaggregated serving."""
    q = f"p{d['percentile'] * 100:g}".replace(".", "_")
    co = d["colocated"]
    lines = [
        f"{d['model']} on {d['hardware']}, disaggregated: {d['input_tokens']} input + {d['output_tokens']} output "
        f"tokens at {d['request_rate_per_s']:,.3g} requests/s",
        f"  prefill pool: {d['prefill_replicas']} x ({_split(d['prefill_layout'])}) = {d['prefill_devices']:,.0f} "
        "devices",
        f"  decode pool:  {d['decode_replicas']} x ({_split(d['decode_layout'])}) = {d['decode_devices']:,.0f} "
        "devices",
        f"  KV transfer per request: {d['kv_bytes_per_request'] / 1e6:,.1f} MB, {ms(d['kv_transfer_s'])} over the "
        f"{d['kv_link']} link (busy {d['kv_link_utilization']:.1%})",
        f"  TTFT {q} {latency(d.get(f'ttft_{q}_s'))}, TPOT {q} {latency(d.get(f'tpot_{q}_s'))}, end-to-end "
        f"{q} {latency(d.get(f'e2e_{q}_s'))} (percentiles of the pools added: an upper bound)",
        f"  targets (TTFT <= {d['ttft_target_s'] * 1e3:g} ms, TPOT <= {d['tpot_target_s'] * 1e3:g} ms at {q}): "
        f"{'met' if d['meets_slo'] else 'NOT met'}; {d['output_tokens_per_s_per_device']:,.1f} output tok/s per "
        f"device on {d['devices']:,.0f} devices",
    ]
    if co and co.get("devices"):
        lines.append(f"  co-located ({_split(co['layout'])}): {co['replicas']} replicas = {co['devices']:,.0f} "
                     f"devices, {co['output_tokens_per_s_per_device']:,.1f} output tok/s per device")
    elif co:
        lines.append(f"  co-located ({_split(co['layout'])}): {co['note']}")
    lines.append("  closed-form queueing model per pool (docs/serving.md); engine-side latencies (an HTTP client adds "
                 f"the server's time, about {_request_ms(d['prefill_pool']['engine'])} per request)")
    return "\n".join(lines)


def _request_ms(engine: str) -> str:
    """The engine's server time per request (``EngineSpec.request_latency_s``), as 'N ms'."""
    return f"{get_engine(engine).request_latency_s * 1e3:g} ms"


def _quantity(option: str, text: str | None, dimension: str, example: str, kv_offload: str | None,
              minimum: tuple[float, str] = (0.0, "0"), maximum: tuple[float, str] = (math.inf, "")) -> float | None:
    """A size or rate given on the command line, checked here so the message names the option and keeps the unit
    typed; ``minimum`` and ``maximum``: the library's bounds (SI) and how they are spelled."""
    if text is None:
        return None
    if kv_offload is None:
        fail(f"{option} sizes KV-cache offload: give --kv-offload host or --kv-offload cache too")
    from genmodel.errors import GenmodelError
    from genmodel.specs.units import parse_quantity

    try:
        value = parse_quantity(text, dimension)
    except GenmodelError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        fail(f"{option} must be a finite quantity > 0 such as {example}, got {text[:40]!r}")
    if value < minimum[0]:
        fail(f"{option} must be at least {minimum[1]}, got {text[:40]!r}")
    if value > maximum[0]:
        fail(f"{option} must be at most {maximum[1]}, got {text[:40]!r}")
    return value


def _offload_lines(d: dict[str, Any]) -> list[str]:
    """The KV-offload lines of the report (none without offload)."""
    mode = d.get("kv_offload")
    if mode is None:
        return []
    link = f"{d['host_link_bytes_per_s'] / 1e9:,.4g} GB/s host link"
    if mode == "cache":
        return [f"  KV offload (cache mode): host prefix cache {gib(d['kv_host_capacity_bytes'])} per device; each "
                f"request reloads its prefix hit in {ms(d['prefix_reload_s'])} over the {link} (in TTFT); link "
                f"busy {d['host_link_utilization']:.1%}"]
    lines = [f"  KV offload (throughput mode): {gib(d['kv_host_bytes'])} in host memory of "
             f"{gib(d['kv_host_capacity_bytes'])} per device, streamed every step over the {link} "
             f"(busy {d['host_link_utilization']:.0%} of the step)"]
    if d["bottleneck"] == "host link":
        lines.append(f"  the host link binds: the peak rate {d['max_request_rate_per_s']:,.3g} requests/s is "
                     f"reached with {d['running_batch_at_max_rate']:,.1f} running (cap it there with --max-seqs)")
    return lines


def _gap_label(d: dict[str, Any]) -> str:
    """The gap row's label: between tokens, or between streamed chunks of ``stream_interval`` tokens."""
    k = d.get("stream_interval", 1)
    return "inter-token gap" if k == 1 else f"gap per {k}-token chunk"


def _first_wave(d: dict[str, Any]) -> bool:
    """Whether the figures are a finite closed-loop run's whose first wave weighs in its means (docs/serving.md
    section 2c): a concurrency with a prompt count, unless identical requests on separate prefill steps (every wave
    one bunch already)."""
    return d["mode"] == "concurrency" and d.get("num_requests") is not None and (
        d["mixed_batches"] or not d.get("synchronized"))


def _first_wave_lines(d: dict[str, Any]) -> list[str]:
    """A finite closed-loop run's means, which hold its first wave, and from which percentile up its TTFT percentiles
    do (q >= 1 - N / 2P: docs/serving.md section 2c)."""
    if not _first_wave(d):
        return []
    if d["num_requests"] <= d["load_value"]:
        return ["  one wave, the whole run: every figure above is the wave's where the engine holds all its requests "
                f"at once (docs/serving.md section 2c); means: TTFT {latency(d['ttft_mean_s'])}, end-to-end "
                f"{latency(d['e2e_mean_s'])}"]
    level = 100.0 * (1.0 - d["load_value"] / (2.0 * d["num_requests"]))
    return [f"  run means (with its first wave where the running cap holds it; so do the TTFT percentiles from "
            f"p{level:.3g} up): TTFT {latency(d['ttft_mean_s'])}, end-to-end {latency(d['e2e_mean_s'])}"]


def format_served(result: Any, d: dict[str, Any]) -> str:
    """The human-readable report of one served configuration."""
    mode = d["mode"]
    if mode == "rate":
        load = f"{d['load_value']:,.3g} requests/s (Poisson" + (
            f", gamma shape {d['burstiness']:g}" if d["burstiness"] != 1 else "") + ")" + (
            f", a run of {d['num_requests']:,.0f} requests" if d.get("num_requests") is not None else "")
    elif mode == "max":
        load = "saturated (as many requests as the engine admits)"
    else:
        one = d["load_value"] == 1
        load = f"{d['load_value']:,.0f} " + (("client" if one else "clients") + " in flight (closed loop)"
                                              if mode == "concurrency" else
                                              ("request" if one else "requests") + " submitted at once" + (
                                                  " to the API server" if d.get("entry_point") == "server" else ""))
        if d.get("synchronized"):
            load = load[:-1] + ", identical requests re-sent in waves)"
        if _first_wave(d) and d["num_requests"] <= d["load_value"]:
            load += f", a run of {d['num_requests']:,.0f} requests, all sent at once"
        elif _first_wave(d):
            load += f", a run of {d['num_requests']:,.0f} requests whose first {d['load_value']:,.0f} start at once"
    if "run_duration_s" in d and math.isfinite(d["run_duration_s"]):  # a finite run (docs/serving.md 2c, 2d)
        load += f"; the run lasts {latency(d['run_duration_s'])}" + (
            (" (its longest answer ends it)" if d.get("max_output_tokens") is None else
             f" (its longest answer, at most {d['max_output_tokens']:,.0f} tokens, ends it)") if d["output_cv"] else "")

    spread = "" if not (d["input_cv"] or d["output_cv"]) else f" (cv {d['input_cv']:g} / {d['output_cv']:g})"
    sched = (f"budget {d['max_batch_tokens']:,} tokens/step, chunks of {d['chunk_tokens']:,}, "
             f"max {'unlimited (KV)' if d['max_seqs'] is None else format(d['max_seqs'], ',')} sequences, "
             f"{'mixed' if d['mixed_batches'] else 'separate'} prefill"
             + ("" if d["chunked_prefill"] else ", whole prompts"))
    extras = []
    if d["prefix_hit"]:
        extras.append(f"prefix cache hit {d['prefix_hit']:.0%}")
    if d.get("recv_interval", 1) > 1:
        extras.append(f"new requests taken in every {d['recv_interval']} decode steps")
    if d["spec_tokens"]:
        extras.append(f"speculative k = {d['spec_tokens']} ({d['draft_model']}): {d['spec_tokens_per_step']:.2f} "
                      "tokens per verify step")
    run = mode == "rate" and d.get("num_requests") is not None  # a finite run: its own ramp (serving.md 2c)
    lines = [
        f"{d['model']} on {d['hardware']} served by {d['engine']}: {d['input_tokens']} input + "
        f"{d['output_tokens']} output tokens{spread}",
        f"  load: {load}",
        f"  scheduler: {sched}" + ("; " + "; ".join(extras) if extras else ""),
        "",
        f"  {'':26}{'p50':>14}{'p90':>14}{'p99':>14}",
        f"  {'TTFT':26}" + "".join(f" {latency(d[f'ttft_p{q}_s']):>13}" for q in (50, 90, 99)),
        f"  {'TPOT (per request)':26}" + "".join(f" {latency(d[f'tpot_p{q}_s']):>13}" for q in (50, 90, 99)),
        f"  {_gap_label(d):26}" + "".join(f" {latency(d[f'itl_p{q}_s']):>13}" for q in (50, 90, 99)),
        f"  {'end-to-end':26}" + "".join(f" {latency(d[f'e2e_p{q}_s']):>13}" for q in (50, 90, 99)),
        *served_band_lines(d),
        *_first_wave_lines(d),
        "",
        f"  throughput {d['output_tokens_per_s']:,.1f} output tok/s ({d['output_tokens_per_s_per_device']:,.1f} per "
        f"device), {d['request_rate_per_s']:,.3g} requests/s; running batch {d['running_batch']:,.1f}"
        + (" (the run's, as its requests see it)" if run else ""),
        f"  per user {d['tokens_per_s_per_user']:,.1f} output tok/s (1 / mean TPOT"
        + ("" if d.get("tokens_per_s_per_user_high") is None else
           f"; 80% band {d['tokens_per_s_per_user_low']:,.1f} to {d['tokens_per_s_per_user_high']:,.1f}") + ")",
        f"  saturation{' of the run' if run else ''}: {d['max_request_rate_per_s']:,.3g} requests/s "
        f"(utilization {utilization_text(d['utilization'])}); what binds: {d['bottleneck']}",
        f"  KV cache {gib(d['kv_cache_bytes'])} in use of {gib(d['kv_capacity_bytes'])} per device; "
        f"weights {gib(d['weights_bytes'])}",
        *_offload_lines(d),
    ]
    if mode == "rate" and d.get("slow_wave"):
        lines.append(f"  one slow wave: the engine holds all {d['num_requests']:,.0f} requests at once, so none waits "
                     "for admission whatever the saturation above (the steady state's); the means and the run's "
                     "span are the wave's (docs/serving.md section 2c)")
    elif mode == "rate" and not d["stable"] and d.get("num_requests") is not None:
        lines.append(f"  the rate exceeds saturation: the queue grows while the {d['num_requests']:,.0f} requests "
                     "arrive; latencies are the run's (fluid queue, docs/serving.md section 2c)")
    elif mode == "rate" and not d["stable"]:
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
    lines.append("  closed-form queueing model (docs/serving.md); engine-side latencies: an HTTP client's TTFT and "
                 f"end-to-end latency also hold the server's time, about {_request_ms(d['engine'])} per request")
    return "\n".join(lines)
