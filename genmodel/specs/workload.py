"""``Workload``: what is asked of the model (batch, lengths) and the datatypes it runs in.

Contract
--------
A workload is a static batch of ``batch`` sequences, each with ``input_tokens`` prompt tokens and
``output_tokens`` generated tokens (the first of which comes out of the prefill). Weights, activations
and the KV cache each have their own datatype, e.g. fp8 weights with bf16 activations and an fp8 KV cache.
``activation_dtype`` None means "bf16 if the device has it, else fp16, else the widest it has"; ``kv_dtype``
and ``weight_dtype`` None mean "same as the activations". ``prefill_chunk_tokens`` is the most prompt
tokens processed in one step (chunked prefill), which bounds activation memory, not time.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from genmodel.specs.checks import MAX_BATCH, MAX_TOKENS
from genmodel.specs.dtypes import normalize_dtype
from genmodel.specs.quantities import FrozenSpec

DEFAULT_PREFILL_CHUNK_TOKENS = 8192  # vLLM V1's default max_num_batched_tokens for online serving


def _count(value: object) -> object:
    """A whole number given as a NumPy integer or an integral float becomes an int; anything else is left for
    the strict int check (which refuses booleans, strings and fractions)."""
    if isinstance(value, bool):
        return value
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and value.dtype.kind in "iu":
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_count)]


class Workload(FrozenSpec):
    """One inference job: a static batch of equal-length requests and its datatypes."""

    batch: Count = Field(1, ge=1, le=MAX_BATCH, description="Sequences processed together (at most 2**32).")
    input_tokens: Count = Field(1024, ge=1, le=MAX_TOKENS, description="Prompt tokens per sequence (at most 2**40).")
    output_tokens: Count = Field(256, ge=1, le=MAX_TOKENS,
                                 description="Generated tokens per sequence (first one from prefill; at most 2**40).")
    weight_dtype: str | None = Field(None, description="Datatype the weights are stored in.")
    activation_dtype: str | None = Field(None, description="Datatype of activations and matmul inputs.")
    kv_dtype: str | None = Field(None, description="Datatype of the KV cache.")
    prefill_chunk_tokens: Count = Field(DEFAULT_PREFILL_CHUNK_TOKENS, ge=1, le=MAX_TOKENS,
                                        description="Most prompt tokens per prefill step (activation memory).")

    @field_validator("weight_dtype", "activation_dtype", "kv_dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        return None if value is None else normalize_dtype(value)
