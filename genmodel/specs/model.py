"""``ModelSpec``: a decoder-only transformer (dense or MoE; MHA/GQA/MQA/MLA; sliding windows) as data.

Contract
--------
A model entry describes the architecture only (no weights), with enough detail to count parameters,
KV-cache bytes, FLOPs and bytes moved per operator:

* ``attention``: query heads, KV heads and ``head_dim`` (MHA when KV heads = heads, MQA when 1, GQA
  otherwise), or an ``mla`` block (DeepSeek-V2/V3 multi-head latent attention). Optional sliding-window
  or chunked-local attention on the layers a repeating ``window_pattern`` marks.
* ``ffn``: width of the dense feed-forward layers and whether they are gated (3 matrices) or plain (2).
* ``moe``: routed experts, top-k, expert width, shared experts, which layers are MoE.
* embedding: vocabulary size and whether the LM head shares the embedding matrix.

Derived quantities (``total_params``, ``active_params``, ``kv_cache_bytes_per_token``) follow the
closed forms in docs/formulas.md section 1. Parameter counts include the weight matrices, norms' scales
and QKV biases; they leave out other biases (under 0.01% of any model here), multi-token-prediction heads
(DeepSeek MTP), vision towers and rotary tables (not weights).
"""

from __future__ import annotations

from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from genmodel.specs.checks import MAX_TOKENS
from genmodel.specs.dtypes import bytes_per_element
from genmodel.specs.files import validate_spec
from genmodel.specs.hf_config import hf_config_fields
from genmodel.specs.quantities import DisplayName, EntryName, FrozenSpec, Number

# sanity bounds, far above any model (a 100T-parameter model has widths near 2**17 and a few hundred layers): they
# turn a typo such as hidden_size: 1e30 into an error naming the field instead of an absurd estimate
MAX_WIDTH = 2**24
MAX_COUNT = 2**20
MAX_LAYERS = 10_000
MAX_VOCAB = 2**24


class MLASpec(FrozenSpec):
    """Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2): low-rank compressed KV cache."""

    q_lora_rank: int | None = Field(None, ge=1, le=MAX_WIDTH,
        description="Rank of the query down-projection; None = no "
                                    "query compression (DeepSeek-V2-Lite).")
    kv_lora_rank: int = Field(ge=1, le=MAX_WIDTH, description="Width of the cached KV latent (512 in DeepSeek-V3).")
    qk_nope_head_dim: int = Field(ge=1, le=MAX_WIDTH, description="Per-head query/key width without rotary embedding.")
    qk_rope_head_dim: int = Field(ge=1, le=MAX_WIDTH,
        description="Per-head rotary query/key width (one key shared by heads).")
    v_head_dim: int = Field(ge=1, le=MAX_WIDTH, description="Per-head value width.")


class AttentionSpec(FrozenSpec):
    """Self-attention of every layer, with an optional per-layer sliding-window pattern."""

    num_heads: int = Field(ge=1, le=MAX_COUNT, description="Query heads.")
    num_kv_heads: int | None = Field(None, ge=1, le=MAX_COUNT,
        description="Key/value heads (GQA groups); ignored for MLA.")
    head_dim: int | None = Field(None, ge=1, le=MAX_WIDTH,
        description="Per-head width of q, k and v; default hidden/heads.")
    qkv_bias: bool = Field(False, description="Whether the q, k and v projections have biases (Qwen2, gpt-oss).")
    mla: MLASpec | None = Field(None, description="Set for multi-head latent attention.")
    window_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS,
        description="Local attention span in tokens on windowed layers.")
    window_kind: Literal["sliding", "chunked"] = Field(
        "sliding", description="'sliding': each token sees the previous window_tokens tokens; 'chunked': tokens "
        "see only earlier tokens of their own window_tokens-sized chunk (Llama-4).")
    window_pattern: list[bool] | None = Field(
        None, description="Which layers are windowed: cycled over the layers (True = windowed); a list as long "
        "as the model is used as is. None with window_tokens set = every layer.")

    @model_validator(mode="after")
    def _check(self) -> AttentionSpec:
        if self.mla is None:
            if self.num_kv_heads is None:
                raise ValueError("num_kv_heads is required unless the attention is MLA")
            if self.num_heads % self.num_kv_heads:
                raise ValueError(f"num_heads ({self.num_heads}) must be a multiple of num_kv_heads "
                                 f"({self.num_kv_heads})")
        if self.window_pattern is not None and not self.window_pattern:
            raise ValueError("window_pattern must not be empty")
        if self.window_pattern is not None and self.window_tokens is None:
            raise ValueError("window_pattern needs window_tokens")
        return self

    @property
    def kind(self) -> Literal["mha", "gqa", "mqa", "mla"]:
        """'mla' when an MLA block is set; else by KV-head count: MHA (= heads), MQA (1) or GQA."""
        if self.mla is not None:
            return "mla"
        if self.num_kv_heads == self.num_heads:
            return "mha"
        return "mqa" if self.num_kv_heads == 1 else "gqa"


class FFNSpec(FrozenSpec):
    """Dense feed-forward block (used by every layer of a dense model and the dense layers of an MoE)."""

    intermediate_size: int = Field(ge=1, le=MAX_WIDTH, description="Hidden width of the dense FFN.")
    gated: bool = Field(True, description="True: gate, up and down matrices (SwiGLU/GeGLU); False: up and down.")
    activation: str = Field("silu", description="Activation function name (informational).")


class MoESpec(FrozenSpec):
    """Mixture-of-experts feed-forward layers."""

    num_experts: int = Field(ge=1, le=MAX_COUNT, description="Routed experts per MoE layer.")
    experts_per_token: int = Field(ge=1, le=MAX_COUNT, description="Routed experts each token activates (top-k).")
    expert_intermediate_size: int = Field(ge=1, le=MAX_WIDTH, description="Hidden width of one routed expert.")
    num_shared_experts: int = Field(0, ge=0, le=MAX_COUNT, description="Always-active shared experts per MoE layer.")
    shared_expert_intermediate_size: int | None = Field(
        None, ge=1, le=MAX_WIDTH, description="Hidden width of one shared expert; default expert_intermediate_size.")
    first_dense_layers: int = Field(0, ge=0, description="The first k layers use the dense FFN (DeepSeek).")
    layer_interval: int = Field(1, ge=1, description="Layer i (0-based) past the dense prefix is MoE when "
                                "(i + 1) % layer_interval == 0 (Llama-4 Maverick: 2).")
    dense_layer_indices: list[int] = Field(default_factory=list, description="Extra layers that stay dense.")

    @model_validator(mode="after")
    def _check(self) -> MoESpec:
        if self.experts_per_token > self.num_experts:
            raise ValueError(f"experts_per_token ({self.experts_per_token}) exceeds num_experts ({self.num_experts})")
        return self

    @property
    def shared_width(self) -> int:
        """Hidden width of one shared expert."""
        return self.shared_expert_intermediate_size or self.expert_intermediate_size


class ModelSpec(FrozenSpec):
    """A decoder-only transformer language model."""

    name: EntryName = Field(description="Database key, lower-case with dashes, e.g. 'llama-3.1-70b'.")
    display_name: DisplayName = Field(description="Human-readable name, e.g. 'Llama-3.1-70B'.")
    family: str = Field(description="Architecture family, e.g. 'llama', 'deepseek_v3', 'qwen3_moe'.")
    hidden_size: int = Field(ge=1, le=MAX_WIDTH, description="Residual stream width d_model.")
    num_layers: int = Field(ge=1, le=MAX_LAYERS, description="Decoder layers.")
    vocab_size: int = Field(ge=1, le=MAX_VOCAB, description="Tokens in the vocabulary (rows of the embedding matrix).")
    tie_word_embeddings: bool = Field(False, description="True when the LM head reuses the embedding matrix.")
    max_context_tokens: int = Field(ge=1, le=MAX_TOKENS,
        description="Longest context the model supports (config value).")
    attention: AttentionSpec = Field(description="Self-attention of every layer.")
    ffn: FFNSpec = Field(description="The dense feed-forward block (dense layers).")
    moe: MoESpec | None = Field(None, description="Mixture-of-experts layers; None for a dense model.")
    source: str = Field(min_length=1, description="config.json URL or paper the architecture comes from.")
    reported_total_params: Number | None = Field(None, gt=0, description="Vendor-stated total parameters.")
    reported_active_params: Number | None = Field(None, gt=0, description="Vendor-stated active parameters.")
    notes: str | None = Field(None, description="Conventions of the reported figures, config pitfalls.")

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        a = self.attention
        if a.window_pattern is not None and len(a.window_pattern) > self.num_layers:
            raise ValueError(f"window_pattern has {len(a.window_pattern)} entries but the model has "
                             f"{self.num_layers} layers")
        if self.moe is not None:
            bad = [i for i in self.moe.dense_layer_indices if not 0 <= i < self.num_layers]
            if bad:
                raise ValueError(f"moe.dense_layer_indices {bad} are outside 0..{self.num_layers - 1}")
            if self.moe.first_dense_layers >= self.num_layers:
                raise ValueError("moe.first_dense_layers leaves no MoE layer")
        return self

    @classmethod
    def from_hf_config(cls, config, name: str | None = None, source: str | None = None,
                       display_name: str | None = None) -> ModelSpec:
        """Read a Hugging Face ``config.json`` (a path or a dict; see ``genmodel.specs.hf_config``)."""
        data, where = hf_config_fields(config, name=name, source=source, display_name=display_name)
        return validate_spec(data, cls, where)

    # ---- per-layer structure -----------------------------------------------------------------------
    @property
    def head_dim(self) -> int:
        """Per-head width for MHA/GQA/MQA (explicit head_dim, else hidden/heads)."""
        return self.attention.head_dim or self.hidden_size // self.attention.num_heads

    @cached_property
    def layer_is_moe(self) -> np.ndarray:
        """Boolean array, one per layer: True where the FFN is a mixture of experts."""
        idx = np.arange(self.num_layers)
        if self.moe is None:
            return np.zeros(self.num_layers, dtype=bool)
        m = self.moe
        is_moe = (idx >= m.first_dense_layers) & ((idx + 1) % m.layer_interval == 0)
        is_moe[m.dense_layer_indices] = False
        return is_moe

    @cached_property
    def layer_window(self) -> np.ndarray:
        """Float array, one per layer: the attention window in tokens (inf for global layers)."""
        a = self.attention
        window = np.full(self.num_layers, np.inf)
        if a.window_tokens is None:
            return window
        pattern = a.window_pattern or [True]
        mask = np.resize(np.array(pattern, dtype=bool), self.num_layers)
        window[mask] = a.window_tokens
        return window

    @property
    def num_moe_layers(self) -> int:
        return int(self.layer_is_moe.sum())

    # ---- parameter counts (docs/formulas.md 1.1) -----------------------------------------------------
    @property
    def attention_params_per_layer(self) -> int:
        """Weights of one attention block: projections, QKV biases, MLA norms."""
        a, h = self.attention, self.hidden_size
        if a.mla is not None:
            m, n = a.mla, a.num_heads
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            q = (h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * n * qk) if m.q_lora_rank else h * n * qk
            kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
            kv_b = m.kv_lora_rank * n * (m.qk_nope_head_dim + m.v_head_dim)
            o = n * m.v_head_dim * h
            return q + kv_a + kv_b + o
        d, nq, nkv = self.head_dim, a.num_heads, a.num_kv_heads
        qkv = h * d * (nq + 2 * nkv) + (d * (nq + 2 * nkv) if a.qkv_bias else 0)
        return qkv + nq * d * h

    @property
    def ffn_matrices(self) -> int:
        """Matrices per FFN/expert: 3 when gated, 2 when plain."""
        return 3 if self.ffn.gated else 2

    @property
    def dense_ffn_params(self) -> int:
        """Weights of one dense FFN block."""
        return self.ffn_matrices * self.hidden_size * self.ffn.intermediate_size

    @property
    def expert_params(self) -> int:
        """Weights of one routed expert (0 for dense models)."""
        return 0 if self.moe is None else self.ffn_matrices * self.hidden_size * self.moe.expert_intermediate_size

    @property
    def shared_experts_params(self) -> int:
        """Weights of all shared experts of one MoE layer."""
        if self.moe is None:
            return 0
        return self.moe.num_shared_experts * self.ffn_matrices * self.hidden_size * self.moe.shared_width

    @property
    def router_params(self) -> int:
        """Weights of one MoE router (hidden x experts)."""
        return 0 if self.moe is None else self.hidden_size * self.moe.num_experts

    @property
    def embedding_params(self) -> int:
        """Input embedding matrix (vocab x hidden)."""
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        """Output head; 0 when tied to the embedding."""
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def _params(self, experts_counted: int) -> int:
        n_moe = self.num_moe_layers
        n_dense = self.num_layers - n_moe
        layer_common = self.attention_params_per_layer + 2 * self.hidden_size  # + two norm scales
        moe_layer = (self.router_params + experts_counted * self.expert_params + self.shared_experts_params)
        return (self.num_layers * layer_common + n_dense * self.dense_ffn_params + n_moe * moe_layer
                + self.embedding_params + self.lm_head_params + self.hidden_size)

    @property
    def total_params(self) -> int:
        """All weights, embeddings and LM head included (tied matrices counted once)."""
        return self._params(self.moe.num_experts if self.moe else 0)

    @property
    def active_params(self) -> int:
        """Weights used per token: all dense weights and the top-k routed experts of each MoE layer, **without
        the input embedding** (a lookup reads one row of it, it is not multiplied). This is the convention of
        OpenAI's gpt-oss figures; a tied LM head still counts once. ``active_params_with_embedding`` adds it."""
        active = self.active_params_with_embedding
        return active if self.tie_word_embeddings else active - self.embedding_params

    @property
    def active_params_with_embedding(self) -> int:
        """``active_params`` plus the input embedding table (Mistral's, DeepSeek's and Qwen's convention)."""
        return self._params(self.moe.experts_per_token if self.moe else 0)

    # ---- KV cache (docs/formulas.md 1.2) -------------------------------------------------------------
    @property
    def kv_elements_per_token_per_layer(self) -> int:
        """Cached elements per token in one layer: 2 x KV heads x head_dim, or MLA latent + rope key."""
        a = self.attention
        if a.mla is not None:
            return a.mla.kv_lora_rank + a.mla.qk_rope_head_dim
        return 2 * a.num_kv_heads * self.head_dim

    def kv_cache_bytes_per_token(self, kv_dtype: str = "bf16") -> float:
        """KV-cache bytes one token adds across all layers (no window cap) in ``kv_dtype``."""
        return self.num_layers * self.kv_elements_per_token_per_layer * bytes_per_element(kv_dtype)

    def kv_cache_bytes(self, context_tokens, kv_dtype: str = "bf16"):
        """KV-cache bytes of one sequence holding ``context_tokens`` tokens (array-friendly).

        Windowed layers keep at most ``window_tokens`` tokens; global layers keep them all.
        """
        ctx = np.asarray(context_tokens, dtype=float)
        per_layer = self.kv_elements_per_token_per_layer * bytes_per_element(kv_dtype)
        windows, counts = np.unique(self.layer_window, return_counts=True)
        total = np.zeros_like(ctx)
        for window, count in zip(windows, counts, strict=True):  # at most two distinct windows
            total = total + count * np.minimum(ctx, window)
        return total * per_layer

    def summary(self) -> dict[str, object]:
        """Key figures for tables: parameters in units, attention kind, KV bytes/token in bf16."""
        return {
            "name": self.name,
            "family": self.family,
            "attention": self.attention.kind,
            "layers": self.num_layers,
            "hidden": self.hidden_size,
            "experts": f"{self.moe.experts_per_token}/{self.moe.num_experts}" if self.moe else "-",
            "total_params": self.total_params,
            "active_params": self.active_params,
            "kv_bytes_per_token_bf16": self.kv_cache_bytes_per_token("bf16"),
            "max_context_tokens": self.max_context_tokens,
        }
