"""Parameter counts and KV-cache sizes against vendor-stated figures and hand arithmetic."""

import pytest
from pydantic import ValidationError

from genmodel.data.registry import all_models, get_model
from genmodel.errors import SpecError
from genmodel.specs.model import ModelSpec

# Vendor-stated parameter counts (total, active), each with its source.
VENDOR = {
    # Meta, Llama 3.1 model card (github.com/meta-llama/llama-models, models/llama3_1/MODEL_CARD.md): 8B, 70B, 405B
    "llama-3.1-8b": (8e9, 8e9),
    "llama-3.1-70b": (70e9, 70e9),
    "llama-3.1-405b": (405e9, 405e9),
    # Mistral AI, "Mixtral of experts" (2023-12-11): 46.7B total, 12.9B used per token
    "mixtral-8x7b": (46.7e9, 12.9e9),
    # DeepSeek-V3 Technical Report (arXiv 2412.19437), abstract: 671B total, 37B activated per token
    "deepseek-v3": (671e9, 37e9),
    # Qwen3 blog / model card (Qwen/Qwen3-235B-A22B): 235B total, 22B activated
    "qwen3-235b-a22b": (235e9, 22e9),
    # OpenAI gpt-oss model card (2025-08-05), table 1: 116.8B total, 5.1B active (active excludes the input
    # embedding, see the next test)
    "gpt-oss-120b": (116.8e9, 5.1e9),
}


@pytest.mark.parametrize("name", sorted(VENDOR))
def test_parameter_counts_within_2_percent_of_vendor(name):
    model = get_model(name)
    total, active = VENDOR[name]
    assert model.total_params == pytest.approx(total, rel=0.02)
    # OpenAI's counts exclude the embedding lookup table (genmodel's active_params convention); the others
    # include it
    count = model.active_params if name == "gpt-oss-120b" else model.active_params_with_embedding
    assert count == pytest.approx(active, rel=0.02)


def test_llama_8b_total_by_hand():
    # 32 layers x [q,k,v,o: 4096*(32+8+8)*128 + 32*128*4096; SwiGLU 3*4096*14336; 2 norms 2*4096]
    # + embedding and untied head 2*128256*4096 + final norm 4096
    per_layer = 4096 * (32 + 2 * 8) * 128 + 32 * 128 * 4096 + 3 * 4096 * 14336 + 2 * 4096
    expected = 32 * per_layer + 2 * 128256 * 4096 + 4096
    assert get_model("llama-3.1-8b").total_params == expected  # 8,030,261,248 (HF shows 8.03B)


def test_deepseek_v3_active_by_hand():
    # MLA per layer: q_a 7168*1536 + norm 1536 + q_b 1536*128*192 + kv_a 7168*576 + norm 512
    #                + kv_b 512*128*(128+128) + o 128*128*7168; plus 2 norms of 7168
    attn = 7168 * 1536 + 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 + 512 * 128 * 256 + 128 * 128 * 7168
    expert = 3 * 7168 * 2048
    dense_ffn = 3 * 7168 * 18432
    moe_active = 7168 * 256 + (8 + 1) * expert  # router + 8 routed + 1 shared
    expected = 61 * (attn + 2 * 7168) + 3 * dense_ffn + 58 * moe_active + 2 * 129280 * 7168 + 7168
    assert get_model("deepseek-v3").active_params_with_embedding == expected
    assert get_model("deepseek-v3").active_params == expected - 129280 * 7168


def test_kv_bytes_per_token_llama_70b():
    # issue: 80 layers x 2 (K and V) x 8 KV heads x 128 x 2 B = 327,680 B
    assert get_model("llama-3.1-70b").kv_cache_bytes_per_token("bf16") == 80 * 2 * 8 * 128 * 2 == 327_680


def test_kv_bytes_per_token_deepseek_v3_mla():
    # MLA caches the 512-wide latent and the 64-wide shared rope key: 61 x (512 + 64) x 2 B = 70,272 B
    model = get_model("deepseek-v3")
    assert model.attention.kind == "mla"
    assert model.kv_cache_bytes_per_token("bf16") == 61 * (512 + 64) * 2 == 70_272
    assert model.kv_cache_bytes_per_token("fp8") == 61 * 576


def test_attention_kinds_by_kv_heads():
    assert get_model("llama-3.1-70b").attention.kind == "gqa"
    assert get_model("phi-3-mini-4k").attention.kind == "mha"
    assert get_model("kimi-k2").attention.kind == "mla"


def test_sliding_window_caps_kv_cache():
    # Gemma-3-27B: 62 layers, pattern 5 local (1024) : 1 global -> 52 local + 10 global layers.
    gemma = get_model("gemma-3-27b")
    per_layer = 2 * 16 * 128 * 2  # K and V, 16 KV heads, head_dim 128, bf16
    ctx = 32768
    assert int((gemma.layer_window < 1e9).sum()) == 52
    assert gemma.kv_cache_bytes(ctx, "bf16") == pytest.approx((52 * 1024 + 10 * ctx) * per_layer)
    # below the window every layer holds every token
    assert gemma.kv_cache_bytes(500, "bf16") == pytest.approx(62 * 500 * per_layer)


def test_moe_layer_placement():
    # Maverick alternates dense and MoE layers (interleave step 2): 24 MoE of 48; DeepSeek-V3: first 3 dense
    assert get_model("llama-4-maverick").num_moe_layers == 24
    assert not get_model("llama-4-maverick").layer_is_moe[0] and get_model("llama-4-maverick").layer_is_moe[1]
    assert get_model("deepseek-v3").num_moe_layers == 58
    assert get_model("llama-4-scout").num_moe_layers == 48


def test_tied_embeddings_counted_once():
    gemma = get_model("gemma-2-27b")
    assert gemma.tie_word_embeddings and gemma.lm_head_params == 0


# Known convention gaps, each with the reason (checked by hand, not tuned):
EXEMPT_ACTIVE = {
    # DeepSeek states 2.4B activated; the config gives 2.45B without the input embedding (2.1% over). The 2.4
    # looks truncated, as their V3 figure (36.6 -> "37B" rounds up instead); no field choice reproduces it.
    "deepseek-v2-lite",
}


def test_every_database_model_matches_its_reported_total():
    # vendors round (e.g. "17B"): allow the larger of 2% and the half-unit of the figure's last digit
    for model in all_models().values():
        for reported, counts in ((model.reported_total_params, [model.total_params]),
                                 (model.reported_active_params,
                                  [model.active_params_with_embedding, model.active_params])):
            if reported is None or (model.name in EXEMPT_ACTIVE and reported == model.reported_active_params):
                continue
            digits = f"{reported / 1e9:g}"
            decimals = len(digits.split(".")[1]) if "." in digits else 0
            tolerance = max(0.02, 0.5 * 10 ** -decimals * 1e9 / reported)
            best = min(abs(c / reported - 1) for c in counts)
            assert best <= tolerance + 1e-9, f"{model.name}: {counts} vs reported {reported}"


def test_spec_rejects_unknown_fields_and_bad_heads(toy_model):
    data = toy_model.model_dump()
    with pytest.raises(SpecError, match=r"ModelSpec: hidden_sise: Extra inputs are not permitted") as err:
        ModelSpec.model_validate({**data, "hidden_sise": 5})
    assert err.value.argument == "hidden_sise" and isinstance(err.value, ValueError)
    with pytest.raises(SpecError, match="multiple of num_kv_heads"):
        ModelSpec.model_validate({**data, "attention": {"num_heads": 8, "num_kv_heads": 3, "head_dim": 128}})
    with pytest.raises(SpecError, match=r"hidden_size: Input should be less than or equal to 16777216"):
        ModelSpec.model_validate({**data, "hidden_size": 10**30})  # a typo, not a model
    with pytest.raises(ValidationError):
        toy_model.hidden_size = 5  # frozen
