"""Synthetic models: a ``ModelSpec`` built from a parameter budget by a documented scaling rule.

Contract
--------
``synthetic_model(total_params, active_params=None, attention="gqa", linear_attention_share=0.0, ...)`` returns a
valid ``ModelSpec`` whose ``total_params`` (and, for an MoE, ``active_params``: without the input embedding) are
within 2% of the budget by ``ModelSpec``'s own count (under 1% unless an expert is narrower than 512), or raises
``ConfigurationError`` naming the argument. ``synthetic_from_name("synthetic:moe-10t-a200b-mla")``
reads the same arguments from a name (the grammar is ``GRAMMAR``); ``get_model`` resolves such names.

The rule (docs/synthetic_models.md gives its derivation and sources):

* shape: head width 128; width H on a grid of 1,024 (heads a multiple of the 8 KV heads); depth
  ``L = DEPTH_AT_4096 + DEPTH_PER_DOUBLING * log2(H / 4096)`` (depth linear in log width, the form of Levine et al.
  2020, constants fitted by least squares to the released dense models in ``DENSE_SHAPES``), ``L = DEPTH_AT_4096 *
  H / 4096`` below 4,096; SwiGLU FFN 3.5 x H (Llama-3); vocabulary 131,072, untied. H is the smallest width on the
  grid whose model at FFN 3.5 x H reaches the budget, or the one below it, whichever needs an FFN ratio closer to
  3.5 once the FFN width is solved to hit the budget exactly.
* MoE: the backbone (H, L) of a dense model of the active budget; 8 routed experts per token, 1 shared expert, the
  first layer dense (Kimi K2), the dense layer's FFN as wide as the experts a token uses (DeepSeek-V3); the routed
  expert count (a multiple of 8) from the sparsity with the shared expert as wide as a routed one; then the routed
  and shared expert widths solved together so that the total and active counts hit the budgets.
* attention: GQA with 8 KV heads, or MLA with DeepSeek-V3's latent (512 + 64 rope, heads of 128/64/128) and its
  query rank scaled with the width (1536 at 7168).
* ``linear_attention_share``: that share of the layers (spread evenly) windowed, the window holding as many cache
  elements as a linear-attention layer's state (heads x 128 x 128), so the long-context KV stays bounded there.

Parameter counts are affine in every FFN width, so the widths are solved exactly against ``ModelSpec``'s own count
(two evaluations per width), then rounded (``_round_width``; the miss that leaves is checked).
"""

from __future__ import annotations

import functools
import math
import re

from genmodel.errors import ConfigurationError, GenmodelError, InputTypeError
from genmodel.specs.checks import MAX_TOKENS, choice, numbers, scalar, whole
from genmodel.specs.model import ModelSpec
from genmodel.specs.quantities import entry_name

PREFIX = "synthetic:"
GRAMMAR = ("synthetic:dense-<size> or synthetic:moe-<size>-a<size>, then optionally -mla (or -gqa), "
           "-hybrid<percent> (that share of layers linear/windowed) and -w<size> (their window in tokens); "
           "sizes are numbers with an optional k, m, b or t suffix (70b, 1.5t, 200b)")

HEAD_DIM = 128
KV_HEADS = 8
WIDTH_STEP = HEAD_DIM * KV_HEADS  # widths on a grid of 1,024: the query heads are a multiple of the KV heads
FFN_RATIO = 3.5  # Llama-3 8B and 70B: 14336 / 4096 and 28672 / 8192
VOCAB = 131_072  # 2**17: between Llama-3's 128,256 and Kimi K2's 163,840
CONTEXT_TOKENS = 131_072  # Llama-3.1, Kimi K2
MIN_WIDTH = 64  # the narrowest FFN or expert the rule builds

# (name, hidden size, layers, source): the released dense models >= 7B the depth rule is fitted on
DENSE_SHAPES = (
    ("Llama-3.1-8B", 4096, 32, "huggingface.co/meta-llama/Llama-3.1-8B config.json"),
    ("Llama-2-13B", 5120, 40, "huggingface.co/meta-llama/Llama-2-13b-hf config.json"),
    ("Llama-3.1-70B", 8192, 80, "huggingface.co/meta-llama/Llama-3.1-70B config.json"),
    ("Qwen2.5-72B", 8192, 80, "huggingface.co/Qwen/Qwen2.5-72B config.json"),
    ("Chinchilla 70B", 8192, 80, "Hoffmann et al. 2022, arXiv 2203.15556, table 4"),
    ("GPT-3 175B", 12288, 96, "Brown et al. 2020, arXiv 2005.14165, table 2.1"),
    ("Mistral-Large-2 123B", 12288, 88, "huggingface.co/mistralai/Mistral-Large-Instruct-2407 config.json"),
    ("Falcon-180B", 14848, 80, "huggingface.co/tiiuae/falcon-180B config.json"),
    ("Gopher 280B", 16384, 80, "Rae et al. 2021, arXiv 2112.11446, table 1"),
    ("Llama-3.1-405B", 16384, 126, "huggingface.co/meta-llama/Llama-3.1-405B config.json"),
    ("PaLM 540B", 18432, 118, "Chowdhery et al. 2022, arXiv 2204.02311, table 1"),
    ("Nemotron-4-340B", 18432, 96, "NVIDIA 2024, arXiv 2406.11704, table 1"),
    ("MT-NLG 530B", 20480, 105, "Smith et al. 2022, arXiv 2201.11990"),
)
# least-squares line of layers on log2(H / 4096) through DENSE_SHAPES (tests/test_synthetic_models.py refits it)
DEPTH_AT_4096 = 39.57
DEPTH_PER_DOUBLING = 30.85

# MoE (DeepSeek-V3: 256 routed, top-8, 1 shared, 3 dense layers; Kimi K2: 384 routed, top-8, 1 shared, 1 dense)
TOP_K = 8
SHARED_EXPERTS = 1
FIRST_DENSE_LAYERS = 1
EXPERT_STEP = 8  # routed experts come in multiples of 8 (even expert-parallel splits)
MAX_EXPERTS = 2048  # 4x the most routed experts released (512); sparser budgets are refused

# MLA (DeepSeek-V3 / Kimi K2): latent 512, rope key 64, per-head 128 (no rope) + 64 (rope) and values 128;
# query rank 1536 at width 7168, scaled with the width
MLA_KV_RANK = 512
MLA_ROPE = 64
MLA_NOPE = 128
MLA_V = 128
MLA_Q_RANK_PER_WIDTH = 1536 / 7168

MIN_TOTAL = 1e9
MAX_TOTAL = 1e15
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([kmbt]?)")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def depth_for_width(hidden: float) -> float:
    """The rule's (fractional) layer count for a width: linear in log2(width) from 4,096 up, proportional below."""
    if hidden >= 4096:
        return DEPTH_AT_4096 + DEPTH_PER_DOUBLING * math.log2(hidden / 4096)
    return DEPTH_AT_4096 * hidden / 4096


def format_size(count: float) -> str:
    """A parameter count as the names write it: 1e12 -> '1t', 7.06e10 -> '70.6b'."""
    for suffix in ("t", "b", "m", "k"):
        if count >= _UNITS[suffix]:
            return f"{count / _UNITS[suffix]:.6g}{suffix}"
    return f"{count:.6g}"


def _parse_size(text: str) -> float | None:
    match = _SIZE.fullmatch(text)
    return float(match[1]) * _UNITS[match[2]] if match else None


# ---- building a spec ---------------------------------------------------------------------------------------
def _spec(hidden: int, layers: int, ffn: int, attention: str, moe: dict | None = None, **extra) -> ModelSpec:
    heads = hidden // HEAD_DIM
    if attention == "mla":
        q_rank = max(HEAD_DIM, round(MLA_Q_RANK_PER_WIDTH * hidden / HEAD_DIM) * HEAD_DIM)
        attn = {"num_heads": heads, "mla": {"q_lora_rank": q_rank, "kv_lora_rank": MLA_KV_RANK,
                                            "qk_nope_head_dim": MLA_NOPE, "qk_rope_head_dim": MLA_ROPE,
                                            "v_head_dim": MLA_V}}
    else:
        attn = {"num_heads": heads, "num_kv_heads": KV_HEADS, "head_dim": HEAD_DIM}
    return ModelSpec(name=extra.pop("name", "synthetic"), display_name=extra.pop("display_name", "synthetic"),
                     family="synthetic", hidden_size=hidden, num_layers=layers, vocab_size=VOCAB,
                     max_context_tokens=extra.pop("max_context_tokens", CONTEXT_TOKENS), attention=attn,
                     ffn={"intermediate_size": ffn, "gated": True, "activation": "silu"}, moe=moe,
                     source=extra.pop("source", "genmodel scaling rule"), **extra)


def _count(spec: ModelSpec, which: str) -> int:
    return spec.total_params if which == "total" else spec.active_params


def _shape_width(budget: float, which: str, attention: str) -> tuple[int, int]:
    """The two grid widths around a dense model of ``budget`` parameters at FFN 3.5 x H (``which`` count)."""
    def count(step: int) -> int:
        h = step * WIDTH_STEP
        return _count(_spec(h, _layers(h), round(FFN_RATIO * h), attention), which)

    lo, hi = 1, 1
    while count(hi) < budget:  # doubling, then bisection on the grid: the count rises with the width
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < budget else (lo, mid)
    return max(1, hi - 1) * WIDTH_STEP, hi * WIDTH_STEP


def _layers(hidden: int) -> int:
    return max(2, round(depth_for_width(hidden)))


def _round_width(width: float) -> int:
    """``width`` rounded to a multiple of a power of two between 8 and 128, at most 1/64 of it (so the rounding
    moves it by at most 0.8%, or 4 elements below a width of 512)."""
    step = min(128, max(8, 2 ** math.floor(math.log2(max(width, 1) / 64))))
    return round(width / step) * step


def _solve_linear(f, target: float, x0: int = 1024, x1: int = 2048) -> float:
    """The x where the affine function f(x) equals target (two evaluations)."""
    y0, y1 = f(x0), f(x1)
    return x0 + (target - y0) * (x1 - x0) / (y1 - y0)


def _dense(total: float, attention: str, extra: dict) -> ModelSpec:
    best = None
    for hidden in sorted(set(_shape_width(total, "total", attention))):
        layers = _layers(hidden)
        ffn = _round_width(_solve_linear(lambda f, h=hidden, n=layers: _spec(h, n, f, attention).total_params,
                                         total))
        if ffn < MIN_WIDTH:
            continue
        miss = abs(math.log(ffn / hidden / FFN_RATIO))
        if best is None or miss < best[0]:
            best = (miss, hidden, layers, ffn)
    if best is None:
        raise ConfigurationError(f"total_params {format_size(total)} is too small for the rule (the embeddings "
                                 f"alone take most of it); use at least {format_size(MIN_TOTAL)}", "total_params")
    _, hidden, layers, ffn = best
    return _spec(hidden, layers, ffn, attention, **extra)


def _moe_block(experts: int, expert_width: int, shared_width: int) -> dict:
    return {"num_experts": experts, "experts_per_token": TOP_K, "expert_intermediate_size": expert_width,
            "num_shared_experts": SHARED_EXPERTS, "shared_expert_intermediate_size": shared_width,
            "first_dense_layers": FIRST_DENSE_LAYERS}


def _moe_at(hidden: int, total: float, active: float, attention: str) -> tuple[float, int, int, int, int] | None:
    """(miss, layers, experts, routed width, shared width) for one backbone width, or None when impossible."""
    layers = _layers(hidden)
    if layers <= FIRST_DENSE_LAYERS:
        return None

    def spec(experts: int, width: float, shared: float) -> ModelSpec:
        width, shared = round(width), round(shared)
        return _spec(hidden, layers, TOP_K * width + SHARED_EXPERTS * shared, attention,
                     _moe_block(experts, width, shared))

    # the routed width that hits the active budget with the shared expert as wide, then the expert count that
    # hits the total with it, on the grid of 8 (both neighbours tried)
    width = _solve_linear(lambda w: spec(2 * TOP_K, w, w).active_params, active)
    if width < MIN_WIDTH:
        return None
    experts = _solve_linear(lambda e: spec(int(e), width, width).total_params, total, 2 * TOP_K, 4 * TOP_K)
    best = None
    for count in sorted({max(TOP_K + EXPERT_STEP, EXPERT_STEP * f(experts / EXPERT_STEP))
                         for f in (math.floor, math.ceil)}):
        # total - active depends on the routed width only (and the embedding); the shared width then hits active
        if count > MAX_EXPERTS:  # too sparse for the rule (and past what a ModelSpec holds): not built
            continue
        routed = _round_width(_solve_linear(
            lambda w, n=count: spec(n, w, width).total_params - spec(n, w, width).active_params, total - active))
        if routed < MIN_WIDTH:
            continue
        shared = _round_width(_solve_linear(lambda s, n=count, r=routed: spec(n, r, s).active_params, active))
        if shared >= MIN_WIDTH and (best is None or abs(math.log(shared / routed)) < best[0]):
            best = (abs(math.log(shared / routed)), layers, count, routed, shared)
    return best


def _moe(total: float, active: float, attention: str, extra: dict) -> ModelSpec:
    options = [(hidden, _moe_at(hidden, total, active, attention))
               for hidden in sorted(set(_shape_width(active, "active", attention)))]
    options = [(found, hidden) for hidden, found in options if found is not None]
    if not options:
        raise ConfigurationError(f"active_params {format_size(active)} is too small a share of total_params "
                                 f"{format_size(total)}: the rule would need more than {MAX_EXPERTS:,} routed "
                                 f"experts or experts narrower than {MIN_WIDTH}; raise active_params",
                                 "active_params")
    (_, layers, experts, routed, shared), hidden = min(options)
    return _spec(hidden, layers, TOP_K * routed + SHARED_EXPERTS * shared, attention,
                 _moe_block(experts, routed, shared), **extra)


def _windows(layers: int, share: float) -> list[bool]:
    """round(share x layers) windowed layers spread evenly (the last of each group)."""
    count = round(share * layers)
    return [(i + 1) * count // layers > i * count // layers for i in range(layers)]


# ---- public --------------------------------------------------------------------------------------------------
def _number(value: object, argument: str) -> float:
    return scalar(argument, numbers(argument, value))


def synthetic_model(total_params: float, active_params: float | None = None, attention: str = "gqa",
                    linear_attention_share: float = 0.0, name: str | None = None, *,
                    window_tokens: int | None = None, max_context_tokens: int = CONTEXT_TOKENS) -> ModelSpec:
    """A model of ``total_params`` parameters (an MoE with ``active_params`` used per token when given and smaller)
    built by the scaling rule of docs/synthetic_models.md; both counts land within 2% of the budget.

    ``attention``: 'gqa' (8 KV heads) or 'mla' (DeepSeek-V3's latent). ``linear_attention_share`` (0 to 1): the
    share of layers made linear-attention-like, represented as sliding-window layers whose window holds as many
    cache elements as a linear layer's state (or ``window_tokens``). ``name`` defaults to the synthetic name that
    ``get_model`` resolves to the same model.
    """
    total = _number(total_params, "total_params")
    if not MIN_TOTAL <= total <= MAX_TOTAL:
        raise ConfigurationError(f"total_params must be between {format_size(MIN_TOTAL)} and "
                                 f"{format_size(MAX_TOTAL)} parameters, got {total:.4g}", "total_params")
    active = total if active_params is None else _number(active_params, "active_params")
    if not MIN_TOTAL <= active <= total:
        raise ConfigurationError(f"active_params ({format_size(active) if active > 0 else active}) must be at "
                                 f"least {format_size(MIN_TOTAL)} and at most total_params ({format_size(total)})",
                                 "active_params")
    choice("attention", attention, ("gqa", "mla"))
    share = _number(linear_attention_share, "linear_attention_share")
    if not 0 <= share <= 1:
        raise ConfigurationError(f"linear_attention_share must be between 0 and 1, got {share}",
                                 "linear_attention_share")
    if window_tokens is not None:
        window_tokens = int(scalar("window_tokens", whole("window_tokens", window_tokens, 1, MAX_TOKENS)))
    max_context_tokens = int(scalar("max_context_tokens", whole("max_context_tokens", max_context_tokens, 1,
                                                                MAX_TOKENS)))
    if window_tokens is not None and share == 0:
        raise ConfigurationError("window_tokens sets the window of the linear-attention layers; give "
                                 "linear_attention_share too", "window_tokens")
    if name is not None and not isinstance(name, str):
        raise InputTypeError(f"name must be a string, got {type(name).__name__}", "name")
    if name is not None:  # (a database key: an empty or blank name is refused there too)
        try:
            entry_name(name)
        except ValueError as exc:
            raise ConfigurationError(f"name {exc}", "name") from None
    moe = active < total
    if moe and active > total / 2:
        raise ConfigurationError(f"active_params ({format_size(active)}) is more than half of total_params "
                                 f"({format_size(total)}): an MoE under this rule ({TOP_K} routed of at least "
                                 f"{TOP_K + EXPERT_STEP} experts and {SHARED_EXPERTS} shared) has at most half "
                                 "its parameters active; use a dense model (no active_params)", "active_params")
    label = _name(total, active if moe else None, attention, share, window_tokens)
    extra = {"name": name or label, "display_name": _display(total, active if moe else None, attention, share),
             "max_context_tokens": max_context_tokens, "reported_total_params": total,
             "reported_active_params": active,
             "source": "genmodel synthetic scaling rule (docs/synthetic_models.md)",
             "notes": f"built by genmodel.synthetic_model as {label}: a budget, not a released model"}
    spec = _moe(total, active, attention, extra) if moe else _dense(total, attention, extra)
    if share > 0:
        pattern = _windows(spec.num_layers, share)
        if any(pattern):
            window = window_tokens or math.ceil(spec.attention.num_heads * HEAD_DIM * HEAD_DIM
                                                / spec.kv_elements_per_token_per_layer)
            attn = spec.attention.model_copy(update={"window_tokens": window, "window_kind": "sliding",
                                                     "window_pattern": pattern})
            spec = ModelSpec(**{**spec.model_dump(exclude={"attention"}), "attention": attn.model_dump()})
    checks = [(total, spec.total_params, "total")] + ([(active, spec.active_params, "active")] if moe else [])
    for budget, count, what in checks:
        if abs(count / budget - 1) > 0.02:  # not expected inside the limits; a guard, never a silent miss
            raise ConfigurationError(f"the rule cannot build a model within 2% of {format_size(budget)} {what} "
                                     f"parameters (it reaches {format_size(count)})", f"{what}_params")
    return spec


def _name(total: float, active: float | None, attention: str, share: float, window: int | None) -> str:
    parts = [f"{PREFIX}{'moe' if active else 'dense'}-{format_size(total)}"]
    if active:
        parts.append(f"a{format_size(active)}")
    if attention == "mla":
        parts.append("mla")
    if share:
        parts.append(f"hybrid{share * 100:.6g}")
    if window and share:
        parts.append(f"w{window}")
    return "-".join(parts)


def _display(total: float, active: float | None, attention: str, share: float) -> str:
    size = format_size(total).upper() + (f"-A{format_size(active).upper()}" if active else "")
    hybrid = f", {share:.0%} linear" if share else ""
    return f"Synthetic {'MoE' if active else 'dense'} {size} ({attention.upper()}{hybrid})"


def is_synthetic_name(name: object) -> bool:
    """True when ``name`` is meant as a synthetic model name ('synthetic:...')."""
    return isinstance(name, str) and name.strip().lower().startswith(PREFIX)


def synthetic_from_name(name: str) -> ModelSpec:
    """The synthetic model a name such as 'synthetic:moe-10t-a200b-mla-hybrid25' stands for (see ``GRAMMAR``)."""
    return _from_name(name.strip().lower())


@functools.lru_cache(maxsize=64)
def _from_name(key: str) -> ModelSpec:
    def bad(why: str) -> ConfigurationError:
        shown = key if len(key) <= 60 else key[:57] + "..."
        return ConfigurationError(f"synthetic model name {shown!r}: {why}; the names are {GRAMMAR}", "model")

    parts = key[len(PREFIX):].split("-")
    if len(parts) < 2 or parts[0] not in ("dense", "moe"):
        raise bad("it must start with dense-<size> or moe-<size>")
    total = _parse_size(parts[1])
    if total is None:
        raise bad(f"{_short(parts[1])!r} is not a size")
    if not math.isfinite(total):
        raise bad(f"the size {_short(parts[1])!r} is too large (at most {format_size(MAX_TOTAL)} parameters)")
    args: dict = {"total_params": total}
    seen: dict[str, str] = {}
    for part in parts[2:]:
        kind, value = _option(part)
        if kind is None:
            raise bad(f"{_short(part)!r} is not an option")
        if kind in seen:
            if seen[kind] == part:
                raise bad(f"{_short(part)!r} repeats an option")
            raise bad(f"{_short(part)!r} conflicts with {_short(seen[kind])!r} (both set the "
                      f"{_OPTION_NAMES[kind]}); give one")
        if isinstance(value, float) and not math.isfinite(value):
            raise bad(f"{_short(part)!r} is too large a number for the {_OPTION_NAMES[kind]}")
        seen[kind] = part
        args[kind] = value
    if parts[0] == "moe" and "active_params" not in args:
        raise bad("an MoE name needs its active parameters, e.g. moe-1t-a32b")
    if parts[0] == "dense" and "active_params" in args:
        raise bad("a dense model has no a<size> part (every parameter is active); use moe-<size>-a<size>")
    if parts[0] == "moe" and args["active_params"] >= total:
        raise bad(f"the active parameters ({format_size(args['active_params'])}) must be fewer than the total "
                  f"({format_size(total)})")
    if "window_tokens" in args and "linear_attention_share" not in args:
        raise bad("-w<size> sets the window of the -hybrid<percent> layers; add -hybrid<percent>")
    try:
        return synthetic_model(**args, name=key)
    except GenmodelError as exc:
        raise bad(str(exc)) from None


_OPTION_NAMES = {"attention": "attention", "linear_attention_share": "linear-attention share",
                 "active_params": "active parameters", "window_tokens": "window"}


def _short(text: str) -> str:
    return text if len(text) <= 30 else text[:27] + "..."


def _option(part: str) -> tuple[str | None, object]:
    """(argument, value) of one name part; a size past float's range comes back as inf (refused by the caller)."""
    if part in ("mla", "gqa"):
        return "attention", part
    if part.startswith("hybrid"):
        match = re.fullmatch(r"\d+(?:\.\d+)?", part[6:])
        return ("linear_attention_share", float(part[6:]) / 100) if match else (None, None)
    if part.startswith(("a", "w")):
        size = _parse_size(part[1:])
        if size is None:
            return None, None
        if part[0] == "a":
            return "active_params", size
        if not math.isfinite(size):
            return "window_tokens", size
        return ("window_tokens", int(size)) if size == int(size) else (None, None)
    return None, None
