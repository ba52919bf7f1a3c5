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

from pydantic import Field, field_validator

from genmodel.dtypes import normalize_dtype
from genmodel.errors import ConfigurationError
from genmodel.quantities import FrozenSpec

DEFAULT_PREFILL_CHUNK_TOKENS = 8192  # vLLM V1's default max_num_batched_tokens for online serving


class Workload(FrozenSpec):
    """One inference job: a static batch of equal-length requests and its datatypes."""

    batch: int = Field(1, ge=1, description="Sequences processed together.")
    input_tokens: int = Field(1024, ge=1, description="Prompt tokens per sequence.")
    output_tokens: int = Field(256, ge=1, description="Generated tokens per sequence (first one from prefill).")
    weight_dtype: str | None = Field(None, description="Datatype the weights are stored in.")
    activation_dtype: str | None = Field(None, description="Datatype of activations and matmul inputs.")
    kv_dtype: str | None = Field(None, description="Datatype of the KV cache.")
    prefill_chunk_tokens: int = Field(DEFAULT_PREFILL_CHUNK_TOKENS, ge=1,
                                      description="Most prompt tokens per prefill step (activation memory).")

    @field_validator("weight_dtype", "activation_dtype", "kv_dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        return None if value is None else normalize_dtype(value)


def check_lengths(name: str, value, minimum: int = 1) -> None:
    """Raise ``ConfigurationError`` unless every element of ``value`` is an integer >= ``minimum``."""
    import numpy as np

    arr = np.asarray(value)
    if arr.size == 0:
        raise ConfigurationError(f"{name} is empty")
    if not np.issubdtype(arr.dtype, np.number):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    if np.any(arr < minimum):
        bad = arr[arr < minimum].flat[0]
        raise ConfigurationError(f"{name} must be at least {minimum}, got {bad}; pass a value >= {minimum}")
    if np.any(arr != np.floor(arr)):
        raise ConfigurationError(f"{name} must be a whole number, got {arr[arr != np.floor(arr)].flat[0]}")
