"""Translate a Hugging Face ``config.json`` (a path or a dict; no network) into the fields of a ``ModelSpec``.

Contract
--------
``hf_config_fields(config, name=None, source=None, display_name=None)`` returns ``(fields, where)``: the dict
that ``ModelSpec.from_hf_config`` validates and the file it came from (``"config"`` for a dict). This module
does not import ``ModelSpec``, so specs and the translation do not import each other.

``name`` must pass ``check_entry_name``: lower-case letters, digits, '.', '_' and '-', starting with a letter
or digit, at most 100 characters, not ending in ``.yaml``/``.yml``/``.json`` (lookups read such names as
paths). Without it, ``default_entry_name`` lower-cases ``config_label(config)`` (the model folder of
``.../NAME/config.json``, the repository of a Hugging Face cache snapshot, else the file's stem; ``config``
for a dict) and raises ``SpecError`` asking for ``--name`` when that is no valid name. The default
``display_name`` is the label as written (the name when one was given), the default ``source`` is ``where``.

It supports these ``model_type`` values
(the text config is used for multimodal configs that nest it under ``text_config``):

* ``llama``, ``mistral``, ``mixtral``, ``qwen2``, ``qwen3``, ``qwen2_moe``, ``qwen3_moe``, ``phi3``,
* ``deepseek_v2``, ``deepseek_v3``, ``kimi_k2`` (MLA + MoE with shared experts and dense first layers),
* ``gpt_oss`` (alternating sliding/full attention, MoE), ``gemma2``, ``gemma3`` / ``gemma3_text``,
* ``llama4`` / ``llama4_text`` (chunked local attention, interleaved MoE with a shared expert).

It reads only architecture fields; keys starting with ``_`` and the fields it does not use are ignored,
whatever they hold (a huge padding field costs only its parsing). Every field it reads is checked, and a bad
one raises ``SpecError`` naming the file and the field (``text_config.hidden_size`` for a nested one) and what
is wrong, in one line that never repeats a long value:

* sizes, counts and layer indices must be JSON integers (a float without a fraction such as ``4096.0`` is
  taken as that integer); strings, booleans, lists, objects, fractions, NaN and infinities are errors. Sizes
  and counts must be at least 1 (``num_key_value_heads: 0`` is an error, not MHA), and at most ``MAX_SIZE``
  (``MAX_LAYERS`` for ``num_hidden_layers``); ``null`` means absent;
* flags (``tie_word_embeddings``, ``attention_bias``, ``use_sliding_window``) must be JSON booleans;
  ``model_type`` and ``hidden_act`` strings; ``text_config`` and ``rope_scaling`` objects (or null);
* without ``head_dim``, ``hidden_size`` must be divisible by ``num_attention_heads``; ``num_attention_heads``
  must be a multiple of ``num_key_value_heads``; top-k must not exceed the experts; per-layer lists must have
  one entry per layer.

A config whose ``model_type`` is not listed, or which uses a feature genmodel cannot model (state-space
layers, cross-attention, encoder-decoder), raises ``SpecError`` naming the field. Windows follow the config:
``layer_types`` when present, else the family rule (Gemma-2: even layers sliding; Gemma-3:
``sliding_window_pattern``; Llama-4: chunked on the RoPE layers of ``no_rope_layers``, by default every
``no_rope_layer_interval``-th (4th) layer global). The pattern is stored as its shortest repeating unit.

A path is read with ``genmodel.specs.files`` (size cap, UTF-8, JSON by the ``json`` module, YAML alias and
nesting limits); anything but a regular file (a folder, a device, a pipe) and an empty file are errors.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from genmodel.errors import InputTypeError, SpecError
from genmodel.specs.files import parse_mapping, read_text, short

SUPPORTED_TYPES = (
    "llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "phi3", "deepseek_v2",
    "deepseek_v3", "kimi_k2", "gpt_oss", "gemma2", "gemma3", "gemma3_text", "llama4", "llama4_text",
)
_UNSUPPORTED_FEATURES = {
    "mamba_d_state": "state-space (Mamba) layers", "attn_layer_period": "hybrid attention/Mamba layers",
    "ssm_cfg": "state-space layers", "cross_attention_layers": "cross-attention layers",
    "is_encoder_decoder": "encoder-decoder architecture",
}
MAX_SIZE = 2**40  # widths, heads, vocabulary, context: far above any real model, keeps the arithmetic sane
MAX_LAYERS = 10_000  # per-layer lists are built from this count
_LAYER_KINDS = {"sliding_attention": True, "full_attention": False}
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
NAME_RULE = "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters"
_FILE_SUFFIXES = (".yaml", ".yml", ".json")  # genmodel.data.registry.SPEC_SUFFIXES: names ending so are paths

# transformers' config-class defaults for fields that real config.json files of these families omit
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma2": {"tie_word_embeddings": True},
    "gemma3_text": {"tie_word_embeddings": True, "vocab_size": 262208, "max_position_embeddings": 131072,
                    "sliding_window_pattern": 6, "hidden_activation": "gelu_pytorch_tanh"},
}


def _shortest_period(flags: list[bool]) -> list[bool]:
    """Shortest prefix p such that cycling p reproduces ``flags`` exactly (prefix function, linear time)."""
    n = len(flags)
    if n == 0:
        return flags
    border = [0] * n  # border[i]: longest proper prefix of flags[:i + 1] that is also its suffix
    k = 0
    for i in range(1, n):
        while k and flags[i] != flags[k]:
            k = border[k - 1]
        if flags[i] == flags[k]:
            k += 1
        border[i] = k
    return flags[:n - border[-1]]


def _describe(value: Any) -> str:
    """A short, JSON-flavoured description of a bad value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (int, float)):
        return short(value)
    kind = {str: "a string", list: "a list", dict: "an object"}.get(type(value), f"a {type(value).__name__}")
    return f"{short(value)} ({kind})"


def config_label(config: str | Path | dict) -> str:
    """What a config is called: the model folder of ``.../NAME/config.json`` (the repository name in a Hugging
    Face cache, ``models--ORG--NAME/snapshots/HASH/config.json``), else the file's stem; ``"config"`` for a
    dict. Symbolic links are not followed (cache snapshots link to blobs named by hash)."""
    if isinstance(config, dict):
        return "config"
    path = Path(os.path.abspath(config))
    if path.stem.lower() != "config":
        return path.stem
    folder = path.parent
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent.name.rsplit("--", 1)[-1]
    return folder.name or path.stem


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return f"use {NAME_RULE}, no folders"
    if name.endswith(_FILE_SUFFIXES):
        return f"it must not end in {', '.join(_FILE_SUFFIXES)} (lookups would read it as a file)"
    return None


def check_entry_name(name: str) -> str:
    """``name`` if it is a valid entry (and file) name; ``SpecError`` (argument ``name``) otherwise."""
    problem = _name_problem(name)
    if problem is not None:
        hint = ""
        if isinstance(name, str) and name != name.lower() and _name_problem(name.lower()) is None:
            hint = f"; did you mean {name.lower()!r}?"
        raise SpecError(f"name {short(name)} is not a valid entry name: {problem}{hint}", "name")
    return name


def default_entry_name(config: str | Path | dict) -> str:
    """The entry name for ``config`` when none is given: ``config_label`` lower-cased, if that is valid."""
    label = config_label(config)
    name = label.lower()
    if _name_problem(name) is not None:
        raise SpecError(f"cannot make an entry name from {short(label)} (the config's folder or file name): pass "
                        f"--name NAME ({NAME_RULE})", "name")
    return name


def _load(config: str | Path | dict) -> tuple[dict[str, Any], str]:
    if isinstance(config, dict):
        return config, "config"
    if not isinstance(config, (str, Path)):
        raise InputTypeError(f"config must be a path or a dict, got {type(config).__name__}", "config")
    where = str(config)
    path = Path(config)
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise SpecError(f"{where} is not a regular file (a device or a pipe?)")
        text = read_text(path, "config file")
        if not text.strip():
            raise SpecError(f"{where} is empty; expected a Hugging Face config.json (one JSON object)")
        return parse_mapping(text, where), where
    except SpecError:
        raise
    except ValueError as exc:  # a NUL in the path, an integer of more than 4300 digits
        raise SpecError(f"{short(where)} cannot be read: {str(exc)[:200]}") from None


class _Config:
    """Typed reads of the fields of one config; every error names the file and the field."""

    def __init__(self, data: dict[str, Any], where: str, nested: dict[str, Any] | None) -> None:
        self.data, self.where, self.nested = data, where, nested or {}

    def label(self, key: str) -> str:
        return f"text_config.{key}" if self.nested else key

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.where}: field {self.label(key)!r} {problem}")

    def first(self, *keys: str) -> str | None:
        """The first of ``keys`` whose value is not null (None when none is set)."""
        return next((k for k in keys if self.data.get(k) is not None), None)

    def int(self, key: str | None, default: int | None = None, minimum: int = 1, maximum: int = MAX_SIZE,
            required: bool = False) -> Any:
        value = None if key is None else self.data.get(key)
        if value is None:
            if required:
                raise SpecError(f"{self.where}: required field {self.label(str(key))!r} is missing (or null)")
            return default
        assert key is not None
        return self._int_value(key, value, minimum, maximum)

    def _int_value(self, key: str, value: Any, minimum: int, maximum: int, what: str = "") -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"{what}must be an integer, got {_describe(value)}")
        if value < minimum:
            bound = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.fail(key, f"{what}must be {bound}, got {short(value)}")
        if value > maximum:
            raise self.fail(key, f"{what}must be at most {maximum:,}, got {short(value)}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false (a JSON boolean), got {_describe(value)}")
        return value

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not 0 < len(value) <= 100:
            raise self.fail(key, f"must be a name (a string of 1 to 100 characters), got {_describe(value)}")
        return value

    def layer_list(self, key: str, layers: int) -> list | None:
        """A list with one entry per layer, or None when absent or empty."""
        value = self.data.get(key)
        if value is None or value == []:
            return None
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list with one entry per layer, got {_describe(value)}")
        if len(value) != layers:
            raise self.fail(key, f"has {len(value)} entries but num_hidden_layers is {layers}")
        return value

    def index_list(self, key: str, layers: int) -> list[int]:
        """A list of layer indices (0 .. layers - 1), empty when absent."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > layers:
            raise self.fail(key, f"must be a list of at most {layers} layer indices, got {_describe(value)}")
        return [self._int_value(key, v, 0, layers - 1, f"entry {i} ") for i, v in enumerate(value)]


def hf_config_fields(config: str | Path | dict, name: str | None = None, source: str | None = None,
                     display_name: str | None = None) -> tuple[dict[str, Any], str]:
    """The ``ModelSpec`` fields of a Hugging Face ``config.json`` (path or dict), and where it came from."""
    if name is not None:
        check_entry_name(name)
    raw, where = _load(config)
    if name is None:
        name = default_entry_name(config)
    raw = {k: v for k, v in raw.items() if not str(k).startswith("_")}
    nested = raw.get("text_config")
    if nested is not None and not isinstance(nested, dict):
        raise SpecError(f"{where}: field 'text_config' must be an object, got {_describe(nested)}")
    outer = _Config(raw, where, None)
    cfg_dict = nested if nested else raw
    inner = _Config(cfg_dict, where, nested)
    inner_type = nested.get("model_type") if nested else None
    for key, value in (("text_config.model_type", inner_type), ("model_type", raw.get("model_type"))):
        if value is not None and not isinstance(value, str):
            raise SpecError(f"{where}: field {key!r} must be a string, got {_describe(value)}")
    model_type = inner_type or raw.get("model_type")
    if model_type is None:
        raise SpecError(f"{where}: required field 'model_type' is missing; supported: {', '.join(SUPPORTED_TYPES)}")
    if model_type not in SUPPORTED_TYPES:
        raise SpecError(f"{where}: model_type {short(model_type)} is not supported; supported: "
                        f"{', '.join(SUPPORTED_TYPES)}")
    for source_cfg in (inner, outer):
        for key, feature in _UNSUPPORTED_FEATURES.items():
            if source_cfg.data.get(key):
                raise SpecError(f"{where}: field {source_cfg.label(key)!r} means {feature}, which genmodel "
                                "cannot model yet")
    family = {"llama4": "llama4_text", "gemma3": "gemma3_text", "kimi_k2": "deepseek_v3"}.get(model_type, model_type)
    defaults = dict(_FAMILY_DEFAULTS.get(family, {}))
    if nested and "tie_word_embeddings" in raw:  # a multimodal wrapper states it at the top level
        defaults["tie_word_embeddings"] = outer.flag("tie_word_embeddings", False)
    cfg = _Config({**defaults, **cfg_dict}, where, nested)
    rope_scaling = cfg.data.get("rope_scaling")
    if rope_scaling is not None and not isinstance(rope_scaling, dict):  # transformers refuses it too
        raise cfg.fail("rope_scaling", f"must be an object or null, got {_describe(rope_scaling)}")

    H = cfg.int("hidden_size", required=True)
    L = cfg.int("num_hidden_layers", required=True, maximum=MAX_LAYERS)
    n_heads = cfg.int("num_attention_heads", required=True)
    attention: dict[str, Any] = {"num_heads": n_heads}
    kv_lora_rank = cfg.int("kv_lora_rank")
    if kv_lora_rank is not None:
        attention["mla"] = {
            "q_lora_rank": cfg.int("q_lora_rank"),
            "kv_lora_rank": kv_lora_rank,
            "qk_nope_head_dim": cfg.int("qk_nope_head_dim", required=True),
            "qk_rope_head_dim": cfg.int("qk_rope_head_dim", required=True),
            "v_head_dim": cfg.int("v_head_dim", required=True),
        }
    else:
        n_kv = cfg.int("num_key_value_heads", default=n_heads)
        if n_heads % n_kv:
            raise SpecError(f"{where}: field {cfg.label('num_attention_heads')!r} ({n_heads}) must be a multiple "
                            f"of {cfg.label('num_key_value_heads')!r} ({n_kv})")
        head_dim = cfg.int("head_dim")
        if head_dim is None:
            if H % n_heads:
                raise SpecError(f"{where}: field {cfg.label('hidden_size')!r} ({H}) is not divisible by "
                                f"{cfg.label('num_attention_heads')!r} ({n_heads}) and {cfg.label('head_dim')!r} "
                                "is not given")
            head_dim = H // n_heads
        attention["num_kv_heads"] = n_kv
        attention["head_dim"] = head_dim
        attention["qkv_bias"] = cfg.flag("attention_bias", model_type in ("qwen2", "qwen2_moe"))
    attention.update(_windows(cfg, model_type, L))

    moe, ffn_width = _moe(cfg, model_type, L)
    act = cfg.text(cfg.first("hidden_act", "hidden_activation") or "hidden_act") or "silu"
    vocab = cfg.int("vocab_size", required=True)
    tie = cfg.flag("tie_word_embeddings", False)
    context = cfg.int("max_position_embeddings", required=True)
    if display_name is None:
        label = config_label(config)
        display_name = label if label.lower() == name else name
    data = {
        "name": name,
        "display_name": display_name,
        "family": family,
        "hidden_size": H,
        "num_layers": L,
        "vocab_size": vocab,
        "tie_word_embeddings": tie,
        "max_context_tokens": context,
        "attention": attention,
        "ffn": {"intermediate_size": ffn_width, "gated": True, "activation": act},
        "moe": moe,
        "source": source or where,
    }
    return data, where


def _windows(cfg: _Config, model_type: str, L: int) -> dict[str, Any]:
    """Window size, kind and pattern from the config (empty dict when every layer is global)."""
    if model_type.startswith("llama4"):
        chunk = cfg.int("attention_chunk_size")
        if chunk is None:
            return {}
        rope = cfg.layer_list("no_rope_layers", L)
        if rope is None:
            interval = cfg.int("no_rope_layer_interval", default=4)
            flags = [(i + 1) % interval != 0 for i in range(L)]
        else:
            for i, x in enumerate(rope):
                if x not in (0, 1) or isinstance(x, float):
                    raise cfg.fail("no_rope_layers", f"entry {i} must be 0 or 1, got {_describe(x)}")
            flags = [bool(x) for x in rope]
        if not any(flags):
            return {}
        return {"window_tokens": chunk, "window_kind": "chunked", "window_pattern": _shortest_period(flags)}
    if not cfg.flag("use_sliding_window", True):
        return {}
    window = cfg.int("sliding_window")
    if window is None:
        return {}
    types = cfg.layer_list("layer_types", L)
    if types is not None:
        for i, t in enumerate(types):
            if not isinstance(t, str) or t not in _LAYER_KINDS:
                raise cfg.fail("layer_types", f"entry {i} is {_describe(t)}; expected 'sliding_attention' or "
                                              "'full_attention'")
        flags = [_LAYER_KINDS[t] for t in types]
    elif model_type == "gemma2":
        flags = [i % 2 == 0 for i in range(L)]
    elif model_type.startswith("gemma3"):
        period = cfg.int("sliding_window_pattern", default=6)
        flags = [(i + 1) % period != 0 for i in range(L)]
    else:
        flags = [True]
    if not any(flags):
        return {}
    out: dict[str, Any] = {"window_tokens": window}
    pattern = _shortest_period(flags)
    if pattern != [True]:
        out["window_pattern"] = pattern
    return out


def _moe(cfg: _Config, model_type: str, L: int) -> tuple[dict | None, int]:
    """The MoE block (or None) and the dense FFN width."""
    experts_key = cfg.first("n_routed_experts", "num_local_experts", "num_experts")
    experts = cfg.int(experts_key)
    dense_width = cfg.int("intermediate_size")
    llama4_step = cfg.int("interleave_moe_layer_step", default=1) if model_type.startswith("llama4") else 1
    if llama4_step > 1:
        dense_width = cfg.int("intermediate_size_mlp") or dense_width  # the dense layers' width
    if experts is None:
        return None, cfg.int("intermediate_size", required=True)
    assert experts_key is not None
    top_key = cfg.first("num_experts_per_tok", "experts_per_token")
    if top_key is None:
        raise SpecError(f"{cfg.where}: required field {cfg.label('num_experts_per_tok')!r} is missing (the config has "
                        f"{cfg.label(experts_key)!r} = {experts} experts)")
    top_k = cfg.int(top_key)
    if top_k > experts:
        raise cfg.fail(top_key, f"({top_k}) exceeds {cfg.label(experts_key)!r} ({experts})")
    width_key = cfg.first("moe_intermediate_size", "intermediate_size")
    if width_key is None:
        raise SpecError(f"{cfg.where}: required field {cfg.label('moe_intermediate_size')!r} (or "
                        f"{cfg.label('intermediate_size')!r}) is missing")
    expert_width = cfg.int(width_key)
    moe: dict[str, Any] = {"num_experts": experts, "experts_per_token": top_k,
                           "expert_intermediate_size": expert_width}
    shared = cfg.int("n_shared_experts", default=0, minimum=0)
    shared_width = cfg.int("shared_expert_intermediate_size", default=0, minimum=0)
    if shared:
        moe["num_shared_experts"] = shared
    elif model_type.startswith("llama4"):
        moe["num_shared_experts"] = 1
    elif shared_width:
        moe["num_shared_experts"] = 1
        if shared_width != expert_width:
            moe["shared_expert_intermediate_size"] = shared_width
    first_dense = cfg.int("first_k_dense_replace", default=0, minimum=0)
    if first_dense >= L:
        raise cfg.fail("first_k_dense_replace", f"({first_dense}) leaves no MoE layer in {L} layers")
    if first_dense:
        moe["first_dense_layers"] = first_dense
    # Llama-4 and Qwen: layer i is MoE when (i + 1) % step == 0, which is our layer_interval rule
    interval = cfg.int(cfg.first("interleave_moe_layer_step", "decoder_sparse_step"), default=1)
    if interval != 1:
        moe["layer_interval"] = interval
    dense = set(cfg.index_list("mlp_only_layers", L))
    # DeepSeek/Kimi: layer i is MoE when i % moe_layer_freq == 0 (past the dense prefix): list the others
    freq = cfg.int("moe_layer_freq", default=1)
    if freq != 1:
        dense |= {i for i in range(L) if i % freq}
    if dense:
        moe["dense_layer_indices"] = sorted(dense)
    return moe, dense_width or expert_width
