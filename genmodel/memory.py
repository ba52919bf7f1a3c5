"""Memory footprint, placement across memory tiers, largest batch and longest context that fit.

Contract (docs/formulas.md section 4)
--------
* ``weights_bytes`` = total parameters x bytes per weight element (one datatype for all weights).
* ``kv_cache_bytes`` = batch x KV bytes of one sequence at its full context (input + output tokens);
  windowed layers hold at most their window.
* ``activation_peak_bytes`` = the largest live activation set during prefill: the widest operator's inputs
  plus outputs plus the residual stream, for min(batch x input, prefill chunk) tokens, plus the logits
  of the batch's last tokens. Framework workspace and allocator fragmentation are covered by the device's
  ``usable_memory_fraction`` instead.
* Placement: tiers with role 'memory' are filled fastest first, weights first, then the KV cache, then
  activations (what an engine that pins weights in the fastest memory does). Data that overflows every
  tier is counted in the slowest one (and ``fits`` is False).
* ``max_batch``: the largest batch whose total fits (0 if none); ``max_context_tokens``: the longest context
  (prompt = context, worst case for activations) that fits at the given batch, capped at the model's
  ``max_context_tokens``. The first is closed-form; the second a vectorized integer bisection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genmodel.dtypes import bytes_per_element
from genmodel.model_spec import ModelSpec
from genmodel.operators import DTypes, build_operators

_MODEL_LEVEL = {"embedding", "final_add_norm", "lm_head"}


def activation_bytes_per_token(model: ModelSpec, dtypes: DTypes) -> float:
    """Largest per-token activation working set of one layer (inputs + outputs + residual), in bytes."""
    table = build_operators(model, "prefill", 1, 1, None, dtypes)
    layer_rows = [i for i, name in enumerate(table.names) if name not in _MODEL_LEVEL]
    widest = float(table.act_bytes[layer_rows].max())
    return widest + model.hidden_size * bytes_per_element(dtypes.activation)


def activation_peak_bytes(model: ModelSpec, dtypes: DTypes, batch, input_tokens, prefill_chunk_tokens: int,
                          per_token: float | None = None):
    """Peak activation bytes while prefilling ``batch`` prompts of ``input_tokens`` tokens."""
    per_token = activation_bytes_per_token(model, dtypes) if per_token is None else per_token
    tokens = np.minimum(np.asarray(batch, float) * np.asarray(input_tokens, float), prefill_chunk_tokens)
    logits = np.asarray(batch, float) * model.vocab_size * bytes_per_element(dtypes.activation)
    return tokens * per_token + logits


@dataclass
class Footprint:
    """Memory use of one configuration (arrays over the configuration shape), in bytes."""

    weights_bytes: np.ndarray
    kv_cache_bytes: np.ndarray
    activation_peak_bytes: np.ndarray
    capacity_bytes: np.ndarray

    @property
    def total_bytes(self) -> np.ndarray:
        return self.weights_bytes + self.kv_cache_bytes + self.activation_peak_bytes

    @property
    def fits(self) -> np.ndarray:
        return self.total_bytes <= self.capacity_bytes


def footprint(model: ModelSpec, dtypes: DTypes, batch, input_tokens, output_tokens, capacity_bytes,
              prefill_chunk_tokens: int, per_token: float | None = None) -> Footprint:
    """Weights, KV cache at full context, activation peak and usable capacity for each configuration."""
    weights = np.asarray(model.total_params * bytes_per_element(dtypes.weight), dtype=float)
    context = np.asarray(input_tokens, float) + np.asarray(output_tokens, float)
    kv = np.asarray(batch, float) * model.kv_cache_bytes(context, dtypes.kv)
    act = activation_peak_bytes(model, dtypes, batch, input_tokens, prefill_chunk_tokens, per_token)
    shape = np.broadcast_shapes(np.shape(kv), np.shape(act), np.shape(capacity_bytes))
    return Footprint(np.broadcast_to(weights, shape), np.broadcast_to(kv, shape), np.broadcast_to(act, shape),
                     np.broadcast_to(np.asarray(capacity_bytes, float), shape))


def max_batch(model: ModelSpec, dtypes: DTypes, input_tokens, output_tokens, capacity_bytes,
              prefill_chunk_tokens: int, per_token: float | None = None):
    """Largest batch whose weights + KV cache + activations fit in ``capacity_bytes`` (0 if none).

    The footprint is W + B x (kv_seq + logits_seq) + p x min(B x S, C): linear in B with one kink at
    B = C / S, so the answer is closed-form. Let Bc = floor(C / S). If batch Bc fits, every larger batch
    pays the constant p x C, and the answer is max(Bc, floor((cap - W - p C) / a)) with
    a = kv_seq + logits_seq; otherwise it is floor((cap - W) / (a + p S)).
    """
    per_token = activation_bytes_per_token(model, dtypes) if per_token is None else per_token
    S = np.asarray(input_tokens, dtype=float)
    cap = np.asarray(capacity_bytes, dtype=float)
    C = float(prefill_chunk_tokens)
    weights = model.total_params * bytes_per_element(dtypes.weight)
    a = model.kv_cache_bytes(S + np.asarray(output_tokens, dtype=float), dtypes.kv) \
        + model.vocab_size * bytes_per_element(dtypes.activation)
    avail = cap - weights
    bc = np.floor(C / S)
    total_at_bc = weights + bc * a + per_token * np.minimum(bc * S, C)
    beyond = np.floor((avail - per_token * C) / a)
    within = np.floor(avail / (a + per_token * S))
    best = np.where(total_at_bc <= cap, np.maximum(bc, beyond), within)
    return np.maximum(best, 0).astype(np.int64)


def max_context(model: ModelSpec, dtypes: DTypes, batch, capacity_bytes, prefill_chunk_tokens: int,
                per_token: float | None = None):
    """Longest context (prompt = context) fitting at ``batch``, capped at the model's maximum (0 if none).

    Integer bisection on the (increasing, piecewise-linear) footprint, vectorized over configurations.
    """
    per_token = activation_bytes_per_token(model, dtypes) if per_token is None else per_token
    B = np.asarray(batch, dtype=float)
    limit = np.asarray(capacity_bytes, dtype=float)
    shape = np.broadcast_shapes(B.shape, limit.shape)
    fixed = model.total_params * bytes_per_element(dtypes.weight) \
        + B * model.vocab_size * bytes_per_element(dtypes.activation)
    per_layer = model.kv_elements_per_token_per_layer * bytes_per_element(dtypes.kv)
    windows, counts = np.unique(model.layer_window, return_counts=True)

    def total(n):
        kv = sum(c * np.minimum(n, w) for w, c in zip(windows, counts, strict=True)) * per_layer
        return fixed + B * kv + per_token * np.minimum(B * n, prefill_chunk_tokens)

    lo = np.zeros(shape)  # invariant: lo == 0 or total(lo) <= limit
    hi = np.full(shape, float(model.max_context_tokens) + 1)  # invariant: hi == max + 1 or total(hi) > limit
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        ok = total(mid) <= limit
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return lo.astype(np.int64)


def place(capacities: list, amounts: list):
    """Greedy placement: fill tiers (fastest first) with each amount in turn (weights, KV, activations).

    ``capacities``: per tier, bytes (scalars or arrays); ``amounts``: per data class, bytes. Returns, per
    class, a list of per-tier fractions (arrays) summing to 1; overflow lands in the last tier.
    """
    free = [np.asarray(c, dtype=float) for c in capacities]
    fractions = []
    last = len(free) - 1
    for amount in amounts:
        amount = np.asarray(amount, dtype=float)
        left = amount.copy()
        parts = []
        for t in range(len(free)):
            put = left if t == last else np.minimum(left, np.maximum(free[t], 0))
            free[t] = free[t] - put
            left = left - put
            safe = np.where(amount > 0, amount, 1.0)
            parts.append(np.where(amount > 0, put / safe, 1.0 if t == 0 else 0.0))
        fractions.append(parts)
    return fractions
