"""``Parallelism``: how one model replica is split over devices, and which splits are valid.

Contract (docs/parallelism.md section 1)
--------
* ``tp``: tensor parallel degree of attention and dense FFN (heads and FFN columns sharded; KV heads
  replicated when tp exceeds the KV-head count; MLA's latent cache replicated on every TP rank).
* ``pp``: pipeline stages; layers split as evenly as possible (the heaviest stage has ceil(L/pp) layers).
* ``ep``: expert parallel degree: each device of a stage holds num_experts/ep routed experts.
* ``attention_dp``: the DeepSeek/SGLang large-scale layout: a stage has ``ep`` devices; attention (and the
  dense FFN, shared experts) runs data-parallel in ep/tp groups of tp devices, and tokens reach their
  experts through an all-to-all dispatch and combine. Without it a stage has ``tp`` devices, experts are
  split ep ways inside the TP group (ep divides tp) and each expert tp/ep ways.
* ``cp``: context parallel degree (ring attention) for long prompts: the cp devices of a stage share the
  same sequences; in prefill each processes 1/cp of the prompt's tokens and an all-gather brings it the
  other ranks' keys and values; in decode each keeps 1/cp of the KV cache and attends over it, the linear
  layers run on every rank, and the partial attention outputs are all-reduced. Weights are replicated over
  the cp ranks. Not combined with attention_dp.
* ``dp``: independent replicas. ``devices = dp x pp x stage size`` (stage size = tp x cp, or ep).
* ``expert_imbalance``: tokens on the busiest expert device / mean (1.0 = perfectly even).
* ``comm_overlap``: fraction of communication time hidden under compute (0 = none, conservative).
* ``micro_batches``: prefill micro-batches through the pipeline (default min(batch, pp)).

Fields may be NumPy arrays (the planner evaluates many layouts at once); ``validate`` checks one layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from genmodel.errors import ConfigurationError
from genmodel.model_spec import ModelSpec


def divisors(n: int) -> list[int]:
    """All positive divisors of n, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class Parallelism:
    """Split of one replica over devices (see module docstring); scalar or array fields."""

    tp: Any = 1
    pp: Any = 1
    ep: Any = 1
    dp: Any = 1
    attention_dp: Any = False
    expert_imbalance: Any = 1.0
    comm_overlap: Any = 0.0
    micro_batches: Any = None
    cp: Any = 1

    def _arr(self, name: str) -> np.ndarray:
        return np.asarray(getattr(self, name), dtype=float)

    @property
    def stage_size(self) -> np.ndarray:
        """Devices per pipeline stage: ep with attention data parallelism, else tp x cp."""
        return np.where(np.asarray(self.attention_dp, dtype=bool), self._arr("ep"), self._arr("tp") * self._arr("cp"))

    @property
    def attention_groups(self) -> np.ndarray:
        """Attention data-parallel groups per stage (ep / tp with attention_dp, else 1)."""
        return self.stage_size / (self._arr("tp") * self._arr("cp"))

    @property
    def expert_tp(self) -> np.ndarray:
        """Ways each routed expert is split (tp / ep, or 1 with attention_dp)."""
        return self.stage_size / self._arr("cp") / self._arr("ep")

    @property
    def devices(self) -> np.ndarray:
        """Devices used by all replicas: dp x pp x stage size."""
        return self._arr("dp") * self._arr("pp") * self.stage_size

    @property
    def is_single_device(self) -> bool:
        return bool(np.all(self.devices == 1))

    def validate(self, model: ModelSpec, num_devices: int | None = None) -> None:
        """Raise ``ConfigurationError`` naming the valid choices unless this (scalar) layout fits ``model``."""
        tp, pp, ep, dp, cp = (int(getattr(self, k)) for k in ("tp", "pp", "ep", "dp", "cp"))
        for name, value in (("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp), ("cp", cp)):
            if value < 1:
                raise ConfigurationError(f"--{name} must be at least 1, got {value}")
        heads = model.attention.num_heads
        if heads % tp:
            raise ConfigurationError(f"--tp {tp} does not divide the {heads} attention heads of {model.name}; "
                                     f"valid: {', '.join(map(str, divisors(heads)))}")
        if pp > model.num_layers:
            raise ConfigurationError(f"--pp {pp} exceeds the {model.num_layers} layers of {model.name}")
        if ep > 1:
            if model.moe is None:
                raise ConfigurationError(f"--ep {ep} needs a mixture-of-experts model; {model.name} is dense "
                                         "(use --tp or --dp)")
            experts = model.moe.num_experts
            if experts % ep:
                raise ConfigurationError(f"--ep {ep} does not divide the {experts} experts of {model.name}; "
                                         f"valid: {', '.join(map(str, divisors(experts)))}")
        if cp > 1 and bool(self.attention_dp):
            raise ConfigurationError("--cp (context parallel) cannot be combined with --attention-dp; use one")
        if bool(self.attention_dp):
            if ep % tp:
                raise ConfigurationError(f"with --attention-dp the stage has ep = {ep} devices, split into "
                                         f"attention groups of tp = {tp}: tp must divide ep "
                                         f"(valid tp: {', '.join(map(str, divisors(ep)))})")
        elif tp % ep:
            raise ConfigurationError(f"--ep {ep} must divide --tp {tp} (experts are split inside the TP group); "
                                     f"valid ep: {', '.join(map(str, divisors(tp)))}, or add --attention-dp to "
                                     "run attention data-parallel over an EP group")
        if not 0.0 <= float(self.comm_overlap) <= 1.0:
            raise ConfigurationError(f"comm_overlap must be between 0 and 1, got {self.comm_overlap}")
        if float(self.expert_imbalance) < 1.0:
            raise ConfigurationError(f"expert_imbalance is busiest / mean and must be >= 1, got "
                                     f"{self.expert_imbalance}")
        devices = int(self.devices)
        if num_devices is not None and devices != num_devices:
            stage = "ep" if bool(self.attention_dp) else "(tp x cp)"
            raise ConfigurationError(f"dp x pp x {stage} = {dp} x {pp} x {int(self.stage_size)} = {devices} "
                                     f"devices, but {num_devices} were asked for; choose a split whose product "
                                     f"is {num_devices}")


SINGLE_DEVICE = Parallelism()
