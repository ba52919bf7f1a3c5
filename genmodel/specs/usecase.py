"""``UseCaseSpec``: what a deployment serves — prompt and answer lengths, latency targets and load — as data.

Contract
--------
A use case (chat, question answering, summarization, code completion, agentic coding, retrieval-augmented
generation, reasoning, deep research, an MLPerf scenario ...) states, with its source, everything a platform
requirement needs besides the model:

* **lengths** — the mean prompt and answer of one request in tokens (``input_tokens``, ``output_tokens``) and their
  spread as coefficients of variation (``input_cv``, ``output_cv``: standard deviation / mean; 0 = every request
  has the mean length), the same meaning as ``genmodel.serve``'s ``input_cv`` / ``output_cv``;
* **sequences per prompt** (``samples_per_prompt``): parallel sampling (n > 1) or beam search (beam width). The
  sequences share one prefill and the prompt's KV cache; each decodes its own answer of ``output_tokens``;
* **prefix caching** (``prefix_hit``): the share of each prompt already in the prefix cache (agent loops resend
  their history), as ``genmodel.serve``'s ``prefix_hit``; 0 when unknown;
* **targets** — time to first token ``ttft_target_s`` and time per output token ``tpot_target_s`` (seconds), both
  met by the fraction ``percentile`` of requests (0.99 = P99; a fraction in (0, 1), not a percentage);
* **load** (``mode``): ``batch`` — ``batch`` requests run together, a closed batch as ``genmodel estimate --batch``
  (``batch: 1`` is one request at a time); ``rate`` — requests arrive at random (Poisson) at
  ``request_rate_per_s``, served by continuous batching as ``genmodel serve --request-rate``. Exactly the field
  the mode needs is given;
* ``source`` (required): where every figure comes from; ``notes``: which figures are judgements and why.

Times accept units like the other specs (``"2 s"``, ``"200 ms"``; a bare number is seconds). Bad values (NaN,
lengths outside 1 to 2**40 tokens, targets outside (0 s, a day], a percentile outside serve's 0.01 to 0.99999, a rate
outside one a day to 1e9/s, more than 1,024 samples per prompt, a mode without its load, an empty source)
raise ``SpecError`` naming the field. Entries live in ``usecases_db/`` and in users' ``usecases/`` folders
(``genmodel use-cases`` lists them; ``genmodel.get_use_case(name)``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from genmodel.errors import ConfigurationError
from genmodel.specs.checks import MAX_BATCH, MAX_REQUEST_RATE_PER_S, MAX_TOKENS, MIN_REQUEST_RATE_PER_S, request_rate
from genmodel.specs.quantities import DisplayName, FrozenSpec, Seconds

# the ranges the library takes these figures in (checked on load, so a bad file is named, not a command's option):
# token counts as estimate's (genmodel.engine.inputs.MAX_TOKENS), batch as estimate's MAX_BATCH, samples per prompt
# as requirements'; rates and targets as genmodel.specs.checks; the percentile as serve's (percentile_fraction)
MAX_SAMPLES = 1024


def _above_zero(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be positive, got {value}")
    return value


PositiveSeconds = Annotated[Seconds, AfterValidator(_above_zero)]


def _rate(value: float) -> float:
    """A rate within the library's range (genmodel.specs.checks.request_rate); the message follows the field's name."""
    try:
        request_rate("request_rate_per_s", value)
    except ConfigurationError as exc:
        raise ValueError(str(exc).removeprefix("request_rate_per_s ")) from None
    return value


class UseCaseSpec(FrozenSpec):
    """One use case: lengths, sequences per prompt, latency targets at a percentile and load (module docstring)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$",
                      description="Database key: lower-case letters, digits, '.', '_' and '-', e.g. 'chat'.")
    display_name: DisplayName = Field(description="Human-readable name, e.g. 'Chat assistant'.")
    description: str = Field(min_length=1, description="What the use case is, in a sentence.")
    input_tokens: float = Field(ge=1, le=MAX_TOKENS, description="Mean prompt length of one request in tokens "
                                "(history, retrieved context and system prompt included); a mean may be fractional "
                                "(a command rounds it to whole tokens).")
    input_cv: float = Field(0.0, ge=0, le=10, description="Coefficient of variation of the prompt length "
                            "(standard deviation / mean); 0: every prompt has the mean length.")
    output_tokens: float = Field(ge=1, le=MAX_TOKENS, description="Mean answer length of one sequence in tokens "
                                 "(reasoning tokens included); a mean may be fractional (a command rounds it).")
    output_cv: float = Field(0.0, ge=0, le=10, description="Coefficient of variation of the answer length.")
    samples_per_prompt: int = Field(1, ge=1, le=MAX_SAMPLES, description="Sequences generated per prompt "
                                    "(parallel sampling n or beam width); they share one prefill and the prompt's KV "
                                    "cache.")
    prefix_hit: float = Field(0.0, ge=0, lt=1, description="Share of each prompt found in the prefix cache "
                              "(0: none, or unknown).")
    ttft_target_s: PositiveSeconds = Field(description="Time-to-first-token target in seconds, met at "
                                           "`percentile`.")
    tpot_target_s: PositiveSeconds = Field(description="Time-per-output-token target in seconds, met at "
                                           "`percentile`.")
    percentile: float = Field(description="Fraction of requests that must meet both targets, in (0, 1): 0.99 "
                              "for P99.")
    mode: Literal["batch", "rate"] = Field(description="'batch': `batch` requests run together; 'rate': "
                                           "Poisson arrivals at `request_rate_per_s`.")
    batch: int | None = Field(None, ge=1, le=MAX_BATCH, description="Requests run together (mode 'batch' only).")
    request_rate_per_s: Annotated[float, AfterValidator(_rate)] | None = Field(
        None, description=f"Mean arrival rate in requests per second (mode 'rate' only), from one a day "
        f"({MIN_REQUEST_RATE_PER_S:.4g}) to {MAX_REQUEST_RATE_PER_S:g}.")
    source: str = Field(min_length=1, description="Where every figure comes from.")
    notes: str | None = Field(None, description="Which figures are judgements, caveats, other published figures.")

    @field_validator("percentile")
    @classmethod
    def _fraction(cls, value: float) -> float:
        if not 0 < value < 1:
            raise ValueError(f"must be a fraction in (0, 1), 0.99 for P99; got {value}")
        from genmodel.serving.serve import MAX_PERCENTILE, MIN_PERCENTILE, percentile_fraction

        try:  # serve's rule: from 1% to 99.999%
            return percentile_fraction(value)
        except ConfigurationError:
            raise ValueError(f"must be from {MIN_PERCENTILE:g} to {MAX_PERCENTILE:g} (P1 to P99.999, the range "
                             f"genmodel serve takes), got {value!r}") from None

    @field_validator("source")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say where the figures come from (it is blank)")
        return value

    @model_validator(mode="after")
    def _load_matches_mode(self) -> UseCaseSpec:
        if self.mode == "batch":
            if self.batch is None:
                raise ValueError("mode 'batch' needs batch (the requests run together, 1 for one at a time)")
            if self.request_rate_per_s is not None:
                raise ValueError("request_rate_per_s is for mode 'rate'; remove it or set mode: rate")
        else:
            if self.request_rate_per_s is None:
                raise ValueError("mode 'rate' needs request_rate_per_s (mean Poisson arrival rate, requests/s)")
            if self.batch is not None:
                raise ValueError("batch is for mode 'batch'; remove it or set mode: batch")
        return self

    @property
    def sequences_per_batch(self) -> int | None:
        """Sequences decoding together in mode 'batch' (``batch * samples_per_prompt``); None in mode 'rate'."""
        return None if self.batch is None else self.batch * self.samples_per_prompt

    def summary(self) -> dict[str, object]:
        """The figures ``genmodel use-cases`` lists, SI units as the keys say."""
        return {"name": self.name, "display_name": self.display_name,
                "input_tokens": self.input_tokens, "input_cv": self.input_cv,
                "output_tokens": self.output_tokens, "output_cv": self.output_cv,
                "samples_per_prompt": self.samples_per_prompt, "prefix_hit": self.prefix_hit,
                "ttft_target_s": self.ttft_target_s, "tpot_target_s": self.tpot_target_s,
                "percentile": self.percentile, "mode": self.mode, "batch": self.batch,
                "request_rate_per_s": self.request_rate_per_s, "source": self.source}
