"""``genmodel models``, ``hardware``, ``platforms``, ``engines``, ``use-cases``, ``show``: what the databases hold."""

from typing import Annotated, Any

import typer

from genmodel.interfaces.cli.app import app
from genmodel.interfaces.cli.common import JsonOpt, emit_json, si


@app.command("models")
def list_models(as_json: JsonOpt = False) -> None:
    """List the models (built-in and yours) with their key figures."""
    from genmodel.data.registry import all_models

    rows = [m.summary() for m in all_models().values()]
    if as_json:
        emit_json({"models": rows})
        return
    typer.echo(f"{'name':24} {'family':13} {'attn':5} {'layers':>6} {'total':>9} {'active*':>9} {'experts':>8} "
               f"{'KV/token bf16':>14} {'max ctx':>9}")
    for r in rows:
        typer.echo(f"{r['name']:24} {r['family']:13} {r['attention']:5} {r['layers']:>6} "
                   f"{r['total_params'] / 1e9:>8.1f}B {r['active_params'] / 1e9:>8.1f}B {r['experts']:>8} "
                   f"{r['kv_bytes_per_token_bf16'] / 1e3:>11.1f} kB {r['max_context_tokens']:>9,}")
    typer.echo("* active: weights used per token, without the input embedding (a lookup), as OpenAI's gpt-oss "
               "figures; 'genmodel show NAME' also gives the count with it")


def _hardware_row(h: Any) -> dict[str, Any]:
    up = h.scale_up.bandwidth_per_direction_bytes_per_s if h.scale_up else None
    return {
        "name": h.name, "kind": h.kind, "vendor": h.vendor,
        "bf16_flops_per_s": h.peak_flops_per_s.get("bf16") or h.peak_flops_per_s.get("fp16"),
        "fp8_flops_per_s": h.peak_flops_per_s.get("fp8"), "int8_ops_per_s": h.peak_flops_per_s.get("int8"),
        "memory_capacity_bytes": h.memory_capacity_bytes,
        "fastest_memory_bandwidth_bytes_per_s": h.fastest_memory.bandwidth_bytes_per_s,
        "memory_tiers": len(h.memory), "scale_up_bytes_per_s_per_direction": up,
        "tdp_w": h.power.tdp_w if h.power else None,
    }


@app.command("hardware")
def list_hardware(as_json: JsonOpt = False) -> None:
    """List the devices (built-in and yours) with their key figures (dense peaks, memory as the device has it)."""
    from genmodel.data.registry import all_hardware

    rows = [_hardware_row(h) for h in all_hardware().values()]
    if as_json:
        emit_json({"hardware": rows})
        return

    def t(x: float | None) -> str:
        return f"{x / 1e12:,.0f}" if x else "-"

    def gib(x: float) -> str:
        return f"{x / 2**30:,.0f} GiB" if x >= 2**30 else si(x, "B", 3)

    typer.echo(f"{'name':22} {'kind':11} {'bf16/fp16':>10} {'fp8':>8} {'int8':>8} {'memory':>10} {'bandwidth':>11} "
               f"{'scale-up/dir':>12} {'TDP':>7}")
    typer.echo(f"{'':22} {'':11} {'TFLOPS':>10} {'TFLOPS':>8} {'TOPS':>8} {'(total)':>10} {'(fastest)':>11} "
               f"{'':>12} {'':>7}")
    for r in rows:
        up = si(r["scale_up_bytes_per_s_per_direction"], "B/s", 3) if r["scale_up_bytes_per_s_per_direction"] else "-"
        tdp = f"{r['tdp_w']:,.0f} W" if r["tdp_w"] else "-"
        typer.echo(f"{r['name']:22} {r['kind']:11} {t(r['bf16_flops_per_s']):>10} {t(r['fp8_flops_per_s']):>8} "
                   f"{t(r['int8_ops_per_s']):>8} {gib(r['memory_capacity_bytes']):>10} "
                   f"{si(r['fastest_memory_bandwidth_bytes_per_s'], 'B/s', 3):>11} {up:>12} {tdp:>7}"
                   + (f"  ({r['memory_tiers']} memory tiers)" if r["memory_tiers"] > 1 else ""))


@app.command("platforms")
def list_platforms(as_json: JsonOpt = False) -> None:
    """List the multi-device platforms (systems of one device type with a two-tier network)."""
    from genmodel.data.registry import all_platforms, platform_device

    rows = []
    for p in all_platforms().values():
        hw = platform_device(p)
        up, out = hw.scale_up, hw.scale_out
        rows.append({"name": p.name, "device": p.device, "num_devices": p.num_devices,
                     "scale_up_domain": p.domain_size_with(hw),
                     "scale_up_bytes_per_s_per_direction": up.bandwidth_per_direction_bytes_per_s if up else None,
                     "scale_out_bytes_per_s_per_direction": out.bandwidth_per_direction_bytes_per_s if out else None,
                     "memory_capacity_bytes": hw.memory_capacity_bytes * p.num_devices})
    if as_json:
        emit_json({"platforms": rows})
        return
    typer.echo(f"{'name':20} {'device':18} {'devices':>7} {'domain':>7} {'scale-up/dir':>13} {'scale-out/dir':>14} "
               f"{'memory':>9}")
    for r in rows:
        up = si(r["scale_up_bytes_per_s_per_direction"], "B/s", 3) if r["scale_up_bytes_per_s_per_direction"] else "-"
        out = (si(r["scale_out_bytes_per_s_per_direction"], "B/s", 3)
               if r["scale_out_bytes_per_s_per_direction"] else "-")
        typer.echo(f"{r['name']:20} {r['device']:18} {r['num_devices']:>7} {r['scale_up_domain']:>7} {up:>13} "
                   f"{out:>14} {si(r['memory_capacity_bytes'], 'B', 3):>9}")


@app.command()
def show(name: Annotated[str, typer.Argument(
        help="A model, device, platform, engine or use-case name (or a spec file).")],
         as_json: JsonOpt = False) -> None:
    """Show one model, device, platform, engine or use case in full, with derived figures and the file it comes
    from."""
    from genmodel.data.registry import database, entry_file, find_entry, get_model, looks_like_file
    from genmodel.data.synthetic import is_synthetic_name
    from genmodel.engine.realism import resolve_realism
    from genmodel.errors import unknown_name

    spec: Any = None
    if is_synthetic_name(name):  # a synthetic model, with its own errors
        spec, kind = get_model(name), "model"
    elif looks_like_file(name):  # a spec file: a device or platform file by its keys, else a model file
        spec, kind = _spec_file(name)
    else:  # a name, looked up in each database without building an error for those that lack it
        for kind in _KINDS:
            spec = find_entry(kind, name)  # type: ignore[arg-type]
            if spec is not None:
                break
    if spec is None:
        names = [n for kind in _KINDS for n in database(kind).entries]  # type: ignore[arg-type]
        raise unknown_name("model, hardware, platform, engine or use case", name, names,
                           "genmodel models', 'genmodel hardware', 'genmodel platforms', 'genmodel engines' or "
                           "'genmodel use-cases")
    derived: dict[str, Any]
    if kind == "model":
        derived = {"attention_kind": spec.attention.kind, "total_params": spec.total_params,
                   "active_params": spec.active_params,
                   "active_params_with_embedding": spec.active_params_with_embedding,
                   "kv_cache_bytes_per_token_bf16": spec.kv_cache_bytes_per_token("bf16"),
                   "moe_layers": spec.num_moe_layers}
    elif kind == "hardware":
        derived = {"memory_capacity_bytes": spec.memory_capacity_bytes,
                   "realism_in_force": resolve_realism(spec).to_dict()}
    else:
        derived = {}
    derived["file"] = name if looks_like_file(name) else str(entry_file(kind, spec.name) or name)  # type: ignore[arg-type]
    data = {**spec.model_dump(mode="json", exclude_none=True), "derived": derived}
    if as_json:
        emit_json(data)
    else:
        import yaml

        typer.echo(yaml.safe_dump(data, sort_keys=False, width=110).rstrip())


@app.command("engines")
def list_engines(as_json: JsonOpt = False) -> None:
    """List the serving-engine profiles (--engine): host work per step, gap per kernel, padding, kernel quality,
    weight-only GEMM quality, HTTP server time per request."""
    from genmodel.data.registry import all_engines

    engines = list(all_engines().values())
    if as_json:
        emit_json({"engines": [e.model_dump(mode="json", exclude_none=True) for e in engines]})
        return
    typer.echo(f"{'name':16} {'a: per step':>12} {'b: per seq':>11} {'c: prefill':>11} {'per kernel':>11} "
               f"{'eager':>7} {'graphs':>6} {'pads':32} {'attention':>9} {'w-only':>6} {'HTTP':>6}")
    for e in engines:
        pads = ", ".join(p for p, on in (("graph batch sizes", bool(e.decode_batch_buckets)),
                                         ("pow2 prompts", e.prompt_buckets == "pow2"),
                                         (f"{e.prompt_bucket_step}-step prompts", e.prompt_buckets == "step"),
                                         ("pow2 batch", e.batch_buckets == "pow2"),
                                         (f"{e.batch_bucket_step}-step batch", e.batch_buckets == "step"),
                                         (f"{e.prompt_ubatch_tokens}-token prompt passes",
                                          e.prompt_ubatch_tokens is not None)) if on) or "-"
        weight_only = (f"{e.weight_only_scale:>6.0%}" if e.weight_only_vector_ops_per_mac is None
                       else f"{'vec/' + format(e.weight_only_vector_ops_per_mac, 'g'):>6}")
        if e.dequantize_copy_above_rows is not None:
            weight_only = f"{'c>' + str(e.dequantize_copy_above_rows):>6}"
        typer.echo(f"{e.name:16} {e.step_overhead_s * 1e3:>9.3g} ms {e.step_overhead_per_sequence_s * 1e6:>8.3g} us "
                   f"{e.prefill_overhead_s * 1e3:>8.3g} ms {e.kernel_overhead_s * 1e6:>8.3g} us "
                   f"{format(e.eager_launch_s * 1e6, '.3g') + ' us' if e.eager_launch_s else '-':>7} "
                   f"{e.graph_steps if e.eager_launch_s else '-':>6} {pads:32} "
                   f"{format(e.attention_scale, '.0%') if e.flash_attention else 'unfused':>9} {weight_only} "
                   f"{e.request_latency_s * 1e3:>3.3g} ms"
                   + ("" if e.fittable else "  (not fitted)")
                   + (f"  (+{e.mla_moe_decode_extra_kernels:g} kernels per DeepSeek decode layer)"
                      if e.mla_extra_kernels else ""))
    typer.echo("profile values before fitting; a device family's fit for an engine (genmodel show DEVICE) wins; "
               "docs/formulas.md section 5.2; eager: host time per kernel of a step the engine runs without a captured "
               "graph (the step lasts at least kernels x this); graphs: the steps that replay one (decode: decode "
               "steps up to the largest captured batch; all: every step; NAME+eager runs none); "
               "prompt passes: a prompt computed in passes of that many tokens; "
               "unfused: attention scores through memory; w-only: weight-only quantized GEMMs against the device's "
               "(vec/N: a matrix-vector kernel per token on the vector units, N instructions per multiply-accumulate, "
               "section 5.1; c>N: above N rows the matrix is first dequantized into a 16-bit copy, section 5.2); "
               "HTTP: the server's time per request (in a client's TTFT and end-to-end latency); kernels per DeepSeek "
               "decode layer: those its modelling code launches beyond genmodel's rows (section 5.2)")


def _spread(mean: float, cv: float) -> str:
    """'1,155 ±96%': the mean and its coefficient of variation (nothing when every request has the mean)."""
    return f"{mean:,.0f}" + (f" ±{cv:.0%}" if cv else "")


@app.command("use-cases")
def list_use_cases(as_json: JsonOpt = False) -> None:
    """List the use cases (built-in and yours): lengths with spread, sequences per prompt, latency targets at their
    percentile, load and source."""
    from genmodel.data.registry import all_use_cases

    cases = list(all_use_cases().values())
    if as_json:
        emit_json({"use_cases": [u.model_dump(mode="json", exclude_none=True) for u in cases]})
        return
    typer.echo(f"{'name':30} {'input tokens':>13} {'cached':>6} {'output tokens':>14} {'n':>2} {'TTFT':>8} "
               f"{'TPOT':>8} {'at':>4} {'load':>14}  source")
    for u in cases:
        load = f"{u.request_rate_per_s:,.4g} req/s" if u.mode == "rate" else f"batch {u.batch}"
        source = u.source.split(". ", 1)[0]  # the first sentence: a short label in the built-in entries
        source = source if len(source) <= 44 else source[:43] + "…"
        cached = f"{u.prefix_hit:.0%}" if u.prefix_hit else "-"
        typer.echo(f"{u.name:30} {_spread(u.input_tokens, u.input_cv):>13} {cached:>6} "
                   f"{_spread(u.output_tokens, u.output_cv):>14} {u.samples_per_prompt:>2} "
                   f"{si(u.ttft_target_s, 's', 3):>8} {si(u.tpot_target_s, 's', 3):>8} "
                   f"{'P' + format(u.percentile * 100, 'g'):>4} {load:>14}  {source}")
    typer.echo("tokens: mean ±coefficient of variation; cached: share of the prompt in the prefix cache; n: "
               "sequences per prompt (parallel sampling or beams); both targets met at the percentile 'at'; sources "
               "and judgements in usecases_db/ (docs/data.md)")


_KINDS = ("model", "hardware", "platform", "engine", "use_case")  # the databases ``show`` looks names up in


def _spec_file(path: str) -> tuple[Any, str]:
    """(spec, kind) of a spec file: a device file holds ``peak_flops_per_s`` or ``memory_tiers``, a platform file a
    ``device`` (as ``resolve_hardware`` tells them apart), an engine file ``kernel_overhead_s``, a use-case file
    ``ttft_target_s`` or ``tpot_target_s``; any other file is read as a model, with its own errors."""
    from pathlib import Path

    from genmodel.data.registry import get_model, resolve_hardware
    from genmodel.specs.engine import EngineSpec
    from genmodel.specs.files import load_mapping, validate_spec
    from genmodel.specs.usecase import UseCaseSpec

    file = Path(path).expanduser()
    if file.is_file():
        data = load_mapping(file)
        if "peak_flops_per_s" in data or "memory_tiers" in data or "device" in data:
            device, platform = resolve_hardware(path)
            return (device, "hardware") if platform is None else (platform, "platform")
        if "kernel_overhead_s" in data and "hidden_size" not in data:
            return validate_spec(data, EngineSpec, file.name), "engine"
        if ("ttft_target_s" in data or "tpot_target_s" in data) and "hidden_size" not in data:
            return validate_spec(data, UseCaseSpec, file.name), "use_case"
    return get_model(path), "model"
