"""Translate a Hugging Face ``config.json`` (a path or a dict; no network) into the fields of a ``ModelSpec``.

Contract
--------
``hf_config_fields(path_or_dict, name=None, source=None)`` returns the dict that ``ModelSpec.from_hf_config``
validates (this module does not import ``ModelSpec``, so specs and the translation do not import each other).
It supports these ``model_type`` values
(the text config is used for multimodal configs that nest it under ``text_config``):

* ``llama``, ``mistral``, ``mixtral``, ``qwen2``, ``qwen3``, ``qwen2_moe``, ``qwen3_moe``, ``phi3``,
* ``deepseek_v2``, ``deepseek_v3``, ``kimi_k2`` (MLA + MoE with shared experts and dense first layers),
* ``gpt_oss`` (alternating sliding/full attention, MoE), ``gemma2``, ``gemma3`` / ``gemma3_text``,
* ``llama4`` / ``llama4_text`` (chunked local attention, interleaved MoE with a shared expert).

It reads only architecture fields; keys starting with ``_`` are ignored. A config whose ``model_type`` is
not listed, or which uses a feature genmodel cannot model (state-space layers, cross-attention, encoder-
decoder), raises ``SpecError`` naming the field. Windows follow the config: ``layer_types`` when present,
else the family rule (Gemma-2: even layers sliding; Gemma-3: ``sliding_window_pattern``; Llama-4: chunked on
RoPE layers, every 4th layer global). The pattern is stored as its shortest repeating unit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genmodel.errors import SpecError
from genmodel.specs.files import load_mapping

SUPPORTED_TYPES = (
    "llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "phi3", "deepseek_v2",
    "deepseek_v3", "kimi_k2", "gpt_oss", "gemma2", "gemma3", "gemma3_text", "llama4", "llama4_text",
)
_UNSUPPORTED_FEATURES = {
    "mamba_d_state": "state-space (Mamba) layers", "attn_layer_period": "hybrid attention/Mamba layers",
    "ssm_cfg": "state-space layers", "cross_attention_layers": "cross-attention layers",
    "is_encoder_decoder": "encoder-decoder architecture",
}


# transformers' config-class defaults for fields that real config.json files of these families omit
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma2": {"tie_word_embeddings": True},
    "gemma3_text": {"tie_word_embeddings": True, "vocab_size": 262208, "max_position_embeddings": 131072,
                    "sliding_window_pattern": 6, "hidden_activation": "gelu_pytorch_tanh"},
}


def _shortest_period(flags: list[bool]) -> list[bool]:
    """Shortest prefix p such that cycling p reproduces ``flags`` exactly."""
    n = len(flags)
    for p in range(1, n + 1):
        if all(flags[i] == flags[i % p] for i in range(n)):
            return flags[:p]
    return flags


def _load(config: str | Path | dict) -> tuple[dict[str, Any], str]:
    if isinstance(config, dict):
        return config, "config"
    return load_mapping(config), str(config)


def _require(cfg: dict, key: str, where: str) -> Any:
    if cfg.get(key) is None:
        raise SpecError(f"{where}: required field {key!r} is missing")
    return cfg[key]


def hf_config_fields(config: str | Path | dict, name: str | None = None, source: str | None = None,
                     display_name: str | None = None) -> tuple[dict[str, Any], str]:
    """The ``ModelSpec`` fields of a Hugging Face ``config.json`` (path or dict), and where it came from."""
    raw, where = _load(config)
    raw = {k: v for k, v in raw.items() if not str(k).startswith("_")}
    outer_type = raw.get("model_type")
    cfg = raw.get("text_config") if isinstance(raw.get("text_config"), dict) else raw
    model_type = cfg.get("model_type") or outer_type
    if model_type not in SUPPORTED_TYPES:
        raise SpecError(f"{where}: model_type {model_type!r} is not supported; supported: "
                        f"{', '.join(SUPPORTED_TYPES)}")
    for key, feature in _UNSUPPORTED_FEATURES.items():
        if cfg.get(key):
            raise SpecError(f"{where}: field {key!r} means {feature}, which genmodel cannot model yet")
    family = {"llama4": "llama4_text", "gemma3": "gemma3_text", "kimi_k2": "deepseek_v3"}.get(model_type, model_type)
    defaults = dict(_FAMILY_DEFAULTS.get(family, {}))
    if "tie_word_embeddings" in raw:  # a multimodal wrapper states it at the top level
        defaults["tie_word_embeddings"] = raw["tie_word_embeddings"]
    cfg = {**defaults, **cfg}

    H = _require(cfg, "hidden_size", where)
    L = _require(cfg, "num_hidden_layers", where)
    n_heads = _require(cfg, "num_attention_heads", where)
    attention: dict[str, Any] = {"num_heads": n_heads}
    is_mla = cfg.get("kv_lora_rank") is not None
    if is_mla:
        attention["mla"] = {
            "q_lora_rank": cfg.get("q_lora_rank"),
            "kv_lora_rank": cfg["kv_lora_rank"],
            "qk_nope_head_dim": _require(cfg, "qk_nope_head_dim", where),
            "qk_rope_head_dim": _require(cfg, "qk_rope_head_dim", where),
            "v_head_dim": _require(cfg, "v_head_dim", where),
        }
    else:
        attention["num_kv_heads"] = cfg.get("num_key_value_heads") or n_heads
        attention["head_dim"] = cfg.get("head_dim") or H // n_heads
        attention["qkv_bias"] = bool(cfg.get("attention_bias", model_type in ("qwen2", "qwen2_moe")))
    attention.update(_windows(cfg, model_type, L))

    moe, ffn_width = _moe(cfg, model_type, L, where)
    act = cfg.get("hidden_act") or cfg.get("hidden_activation") or "silu"
    data = {
        "name": name or Path(where).stem.lower(),
        "display_name": display_name or name or Path(where).stem,
        "family": family,
        "hidden_size": H,
        "num_layers": L,
        "vocab_size": _require(cfg, "vocab_size", where),
        "tie_word_embeddings": bool(cfg.get("tie_word_embeddings", False)),
        "max_context_tokens": _require(cfg, "max_position_embeddings", where),
        "attention": attention,
        "ffn": {"intermediate_size": ffn_width, "gated": True, "activation": act},
        "moe": moe,
        "source": source or where,
    }
    return data, where


def _windows(cfg: dict, model_type: str, L: int) -> dict[str, Any]:
    """Window size, kind and pattern from the config (empty dict when every layer is global)."""
    if model_type.startswith("llama4"):
        chunk = cfg.get("attention_chunk_size")
        if not chunk:
            return {}
        rope = cfg.get("no_rope_layers") or [int((i + 1) % 4 != 0) for i in range(L)]
        return {"window_tokens": chunk, "window_kind": "chunked",
                "window_pattern": _shortest_period([bool(x) for x in rope])}
    window = cfg.get("sliding_window")
    if cfg.get("use_sliding_window") is False or not window:
        return {}
    types = cfg.get("layer_types")
    if types:
        flags = [t == "sliding_attention" for t in types]
    elif model_type == "gemma2":
        flags = [i % 2 == 0 for i in range(L)]
    elif model_type.startswith("gemma3"):
        period = cfg.get("sliding_window_pattern", 6)
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


def _moe(cfg: dict, model_type: str, L: int, where: str) -> tuple[dict | None, int]:
    """The MoE block (or None) and the dense FFN width."""
    experts = (cfg.get("n_routed_experts") or cfg.get("num_local_experts") or cfg.get("num_experts"))
    dense_width = cfg.get("intermediate_size")
    if model_type.startswith("llama4") and (cfg.get("interleave_moe_layer_step") or 1) > 1:
        dense_width = cfg.get("intermediate_size_mlp") or dense_width  # the dense layers' width
    if not experts:
        return None, _require(cfg, "intermediate_size", where)
    top_k = cfg.get("num_experts_per_tok") or cfg.get("experts_per_token")
    if not top_k:
        raise SpecError(f"{where}: MoE config without num_experts_per_tok")
    expert_width = cfg.get("moe_intermediate_size") or cfg.get("intermediate_size")
    moe: dict[str, Any] = {"num_experts": experts, "experts_per_token": top_k,
                           "expert_intermediate_size": expert_width}
    if cfg.get("n_shared_experts"):
        moe["num_shared_experts"] = cfg["n_shared_experts"]
    elif model_type.startswith("llama4"):
        moe["num_shared_experts"] = 1
    elif cfg.get("shared_expert_intermediate_size"):
        moe["num_shared_experts"] = 1
        if cfg["shared_expert_intermediate_size"] != expert_width:
            moe["shared_expert_intermediate_size"] = cfg["shared_expert_intermediate_size"]
    if cfg.get("first_k_dense_replace"):
        moe["first_dense_layers"] = cfg["first_k_dense_replace"]
    # Llama-4 and Qwen: layer i is MoE when (i + 1) % step == 0, which is our layer_interval rule
    interval = cfg.get("interleave_moe_layer_step") or cfg.get("decoder_sparse_step") or 1
    if interval != 1:
        moe["layer_interval"] = interval
    dense = set(cfg.get("mlp_only_layers") or [])
    # DeepSeek/Kimi: layer i is MoE when i % moe_layer_freq == 0 (past the dense prefix): list the others
    freq = cfg.get("moe_layer_freq") or 1
    if freq != 1:
        dense |= {i for i in range(L) if i % freq}
    if dense:
        moe["dense_layer_indices"] = sorted(dense)
    return moe, dense_width or expert_width
