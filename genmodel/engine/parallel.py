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

Fields may be NumPy arrays (the planner evaluates many layouts at once). Construction checks every value (whole
numbers >= 1, fractions in range, no NaN); ``check(model)`` checks every layout against the model, element-wise.
A layout of plain Python numbers (immutable) remembers its derived figures (``stage_size``, ``attention_groups``,
``expert_tp``, ``devices``) as read-only values; a layout holding arrays computes them on every use.
"""

from __future__ import annotations

import copy
import functools
import operator
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

import numpy as np

from genmodel.errors import ConfigurationError, InputTypeError
from genmodel.specs.checks import MAX_BATCH, at_least, scalar, whole
from genmodel.specs.model import ModelSpec

MAX_DEGREE = 2**20  # far above any system; keeps device counts exact integers


MAX_IMBALANCE = 1e300  # the fast path's bound (finite); larger values take the full check
# the fields that may hold arrays (one value per layout)
_ARRAY_FIELDS = ("tp", "pp", "ep", "dp", "attention_dp", "expert_imbalance", "comm_overlap", "micro_batches", "cp")


@functools.lru_cache(maxsize=16)
def _fields_getter(cls: type) -> operator.attrgetter:
    """A getter of the fields of the dataclass ``cls`` (two or more), giving their values as a tuple in field order."""
    names = tuple(f.name for f in dataclass_fields(cls))
    if len(names) < 2:  # (attrgetter of one name gives the value itself, not a tuple)
        raise TypeError(f"{cls.__name__} has fewer than two fields")
    return operator.attrgetter(*names)


def field_values(obj) -> tuple:
    """``tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))`` of a dataclass with two or more fields (a
    ``Parallelism``, a ``Network``), by a getter made once per class in place of a ``fields`` call and a generator
    per call."""
    return _fields_getter(type(obj))(obj)


def _number(value: object) -> bool:
    """A plain Python int or float (not bool, not an array)."""
    return type(value) is float or type(value) is int


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
    # TP ranks per device whose attention heads the serving engine pads to whole heads per rank (Neuron runs one
    # rank per NeuronCore); 0: the engine does not pad, so tp must divide the heads
    head_ranks: int = 0

    def _arr(self, name: str) -> np.ndarray:
        return np.asarray(getattr(self, name), dtype=float)

    def _memo(self, name: str, compute):
        """``compute()``, remembered on a layout of plain Python numbers (immutable, so it cannot go stale; the value
        is made read-only) or on a ``kept`` layout; other layouts holding arrays, which may be changed in place,
        compute it on every call."""
        memo = self.__dict__.get("_derived")
        if memo is None:
            memo = self.__dict__.get("_kept")
            if memo is None:
                return compute()
        if name not in memo:
            value = compute()
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            memo[name] = value
        return memo[name]

    def kept(self) -> Parallelism:
        """A copy of this layout that remembers its derived figures (read-only) although it holds arrays: for a
        caller that owns the arrays and changes none of them while the copy is in use (the blocks of
        ``genmodel.engine.estimate``); the same values as computed on every use."""
        part = copy.copy(self)
        if part.__dict__.get("_derived") is None:
            object.__setattr__(part, "_kept", {})
        return part

    def heads_per_device(self, heads: int):
        """Query heads one device holds: heads / tp, or with an engine that pads heads, ceil(heads / (tp x r)) whole
        heads on each of the device's r ranks (zero heads fill the rest)."""
        tp = self.tp if type(self.tp) is int else self._arr("tp")
        if not self.head_ranks:
            return heads / tp
        ranks = tp * self.head_ranks
        return (-(-heads // ranks) if type(ranks) is int else np.ceil(heads / ranks)) * self.head_ranks

    def kv_heads_per_device(self, kv_heads: int):
        """KV heads one device holds: kv_heads / tp, at least one (replicated when tp exceeds them); with an engine
        that pads heads, at least one whole KV head on each of the device's ranks."""
        tp = self.tp if type(self.tp) is int else self._arr("tp")
        if not self.head_ranks:
            return max(kv_heads / tp, 1.0) if type(tp) is int else np.maximum(kv_heads / tp, 1.0)
        ranks = tp * self.head_ranks
        per_rank = max(-(-kv_heads // ranks), 1) if type(ranks) is int else np.maximum(np.ceil(kv_heads / ranks), 1.0)
        return per_rank * self.head_ranks

    # Each derived figure of a plain layout (``_memo``) is computed on Python floats, whose +, -, *, / round as
    # NumPy's do: the same value, and the same type, as the array expression of a layout holding arrays (a 0-d
    # array for ``stage_size``, a NumPy float for the figures derived from it).
    @property
    def stage_size(self) -> np.ndarray:
        """Devices per pipeline stage: ep with attention data parallelism, else tp x cp."""
        if self.__dict__.get("_derived") is not None:
            return self._memo("stage_size", lambda: np.array(
                float(self.ep) if self.attention_dp else float(self.tp) * float(self.cp)))
        return self._memo("stage_size", lambda: np.where(np.asarray(self.attention_dp, dtype=bool), self._arr("ep"),
                                                         self._arr("tp") * self._arr("cp")))

    @property
    def attention_groups(self) -> np.ndarray:
        """Attention data-parallel groups per stage (ep / tp with attention_dp, else 1)."""
        if self.__dict__.get("_derived") is not None:
            return self._memo("attention_groups", lambda: np.float64(
                float(self.stage_size) / (float(self.tp) * float(self.cp))))
        return self._memo("attention_groups", lambda: self.stage_size / (self._arr("tp") * self._arr("cp")))

    @property
    def expert_tp(self) -> np.ndarray:
        """Ways each routed expert is split (tp / ep, or 1 with attention_dp)."""
        if self.__dict__.get("_derived") is not None:
            return self._memo("expert_tp", lambda: np.float64(float(self.stage_size) / float(self.cp)
                                                              / float(self.ep)))
        return self._memo("expert_tp", lambda: self.stage_size / self._arr("cp") / self._arr("ep"))

    @property
    def devices(self) -> np.ndarray:
        """Devices used by all replicas: dp x pp x stage size."""
        if self.__dict__.get("_derived") is not None:
            return self._memo("devices", lambda: np.float64(float(self.dp) * float(self.pp)
                                                            * float(self.stage_size)))
        return self._memo("devices", lambda: self._arr("dp") * self._arr("pp") * self.stage_size)

    @property
    def replica_devices(self) -> np.ndarray:
        """Devices of one model replica: devices / dp (pp x stage size)."""
        if self.__dict__.get("_derived") is not None:
            return self._memo("replica_devices", lambda: np.float64(float(self.devices) / float(self.dp)))
        return self._memo("replica_devices", lambda: self.devices / self._arr("dp"))

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of all fields (layouts evaluated at once)."""
        if self.__dict__.get("_derived") is not None:
            return ()  # plain Python numbers
        fields = ("tp", "pp", "ep", "dp", "cp", "attention_dp", "expert_imbalance", "comm_overlap", "micro_batches")
        return np.broadcast_shapes(*(np.shape(getattr(self, f)) for f in fields if getattr(self, f) is not None))

    @property
    def is_single_device(self) -> bool:
        return bool(np.all(self.devices == 1))

    def __post_init__(self) -> None:
        # lists and tuples of values are arrays of them (as for batch and lengths)
        for name in _ARRAY_FIELDS:
            value = getattr(self, name)
            if type(value) in (list, tuple):
                try:
                    object.__setattr__(self, name, np.asarray(value))
                except (TypeError, ValueError):  # ragged or unconvertible: refused by the checks below
                    raise InputTypeError(f"{name} must be a number or an array of numbers", name) from None
        # plain Python numbers in range (the usual single layout) pass without building arrays
        for name in ("tp", "pp", "ep", "dp", "cp"):
            value = getattr(self, name)
            if not (type(value) is int and 1 <= value <= MAX_DEGREE):
                whole(name, value, 1, MAX_DEGREE)
        if type(self.attention_dp) is not bool:
            adp = np.asarray(self.attention_dp)
            if adp.dtype != bool and not (adp.dtype.kind in "iu" and np.isin(adp, (0, 1)).all()):
                raise InputTypeError(f"attention_dp must be True or False, got {self.attention_dp!r}", "attention_dp")
        if not (_number(self.expert_imbalance) and 1.0 <= self.expert_imbalance <= MAX_IMBALANCE):
            at_least("expert_imbalance", self.expert_imbalance, 1.0)
        if not (_number(self.comm_overlap) and 0.0 <= self.comm_overlap <= 1.0):
            at_least("comm_overlap", self.comm_overlap, 0.0, 1.0)
        if self.micro_batches is not None:
            whole("micro_batches", self.micro_batches, 1, MAX_BATCH)  # (at most the largest batch)
        if not (type(self.head_ranks) is int and 0 <= self.head_ranks <= 64):  # (one number: the engine's ranks)
            object.__setattr__(self, "head_ranks", int(scalar("head_ranks", whole("head_ranks", self.head_ranks, 0,
                                                                                   64))))
        if all(type(v) in (int, float, bool, type(None)) for v in field_values(self)):
            object.__setattr__(self, "_derived", {})  # derived figures are remembered (see _memo)

    def check(self, model: ModelSpec, num_devices: int | None = None) -> None:
        """Raise ``ConfigurationError`` naming the valid choices unless every layout (arrays: every element)
        fits ``model`` (and, when given, uses ``num_devices`` devices)."""
        tp, pp, ep, dp, cp = (np.asarray(getattr(self, k), dtype=float) for k in ("tp", "pp", "ep", "dp", "cp"))
        adp = np.asarray(self.attention_dp, dtype=bool)
        tp, pp, ep, dp, cp, adp = np.broadcast_arrays(tp, pp, ep, dp, cp, adp)

        def first(mask) -> dict[str, int]:
            k = np.flatnonzero(mask)[0]
            return {n: int(a.flat[k]) for n, a in (("tp", tp), ("pp", pp), ("ep", ep), ("dp", dp), ("cp", cp))}

        heads = model.attention.num_heads
        bad = _not_dividing(heads, tp) & (self.head_ranks == 0)
        if bad.any():
            raise ConfigurationError(f"tp {first(bad)['tp']} does not divide the {heads} attention heads of "
                                     f"{model.name}; valid: {', '.join(map(str, divisors(heads)))}", "tp")
        bad = pp > model.num_layers
        if bad.any():
            raise ConfigurationError(f"pp {first(bad)['pp']} exceeds the {model.num_layers} layers of {model.name}",
                                     "pp")
        if model.moe is None:
            if (ep > 1).any():
                raise ConfigurationError(f"ep {first(ep > 1)['ep']} needs a mixture-of-experts model; {model.name} "
                                         "is dense (use tp or dp)", "ep")
            if adp.any():
                raise ConfigurationError(f"attention_dp needs a mixture-of-experts model (it runs attention "
                                         f"data-parallel over the expert-parallel group); {model.name} is dense: "
                                         "use dp for data parallelism", "attention_dp")
        else:
            experts = model.moe.num_experts
            bad = _not_dividing(experts, ep)
            if bad.any():
                raise ConfigurationError(f"ep {first(bad)['ep']} does not divide the {experts} experts of "
                                         f"{model.name}; valid: {', '.join(map(str, divisors(experts)))}", "ep")
        # the busiest expert device receives at most every token-expert pair of its stage: ep x its even share
        imbalance = np.asarray(self.expert_imbalance, dtype=float)
        bad = imbalance > np.maximum(np.broadcast_to(ep, np.broadcast_shapes(ep.shape, imbalance.shape)), 1.0)
        if bad.any():
            k = np.flatnonzero(bad)[0]
            raise ConfigurationError(
                f"expert_imbalance {np.broadcast_to(imbalance, bad.shape).flat[k]:g} exceeds ep "
                f"{int(np.broadcast_to(ep, bad.shape).flat[k])}: the busiest of ep expert devices holds at most every "
                "routed token, ep times the mean (1.0 where the experts are on one device)", "expert_imbalance")
        bad = (cp > 1) & adp
        if bad.any():
            raise ConfigurationError("cp (context parallel) cannot be combined with attention_dp; use one", "cp")
        bad = adp & _not_dividing(ep, tp)
        if bad.any():
            f = first(bad)
            raise ConfigurationError(f"with attention_dp the stage has ep = {f['ep']} devices, split into attention "
                                     f"groups of tp = {f['tp']}: tp must divide ep (valid tp: "
                                     f"{', '.join(map(str, divisors(f['ep'])))})", "tp")
        bad = ~adp & _not_dividing(tp, ep)
        if bad.any():
            f = first(bad)
            raise ConfigurationError(f"ep {f['ep']} must divide tp {f['tp']} (experts are split inside the TP "
                                     f"group); valid ep: {', '.join(map(str, divisors(f['tp'])))}, or add "
                                     "attention_dp to run attention data-parallel over an EP group", "ep")
        if num_devices is not None:
            devices = np.broadcast_to(self.devices, tp.shape)
            bad = devices != num_devices
            if bad.any():
                f = first(bad)
                k = np.flatnonzero(bad)[0]
                stage = "ep" if bool(adp.flat[k]) else "(tp x cp)"
                raise ConfigurationError(
                    f"num_devices {num_devices} does not match the split: dp x pp x {stage} = {f['dp']} x {f['pp']}"
                    f" x {int(np.broadcast_to(self.stage_size, tp.shape).flat[k])} = {int(devices.flat[k])} "
                    f"devices; choose a split whose product is {num_devices}", "num_devices")


def layout_given(tp=1, pp=1, ep=1, dp=1, cp=1, attention_dp=False, expert_imbalance=1.0, comm_overlap=0.0,
                 micro_batches=None) -> None:
    """Refuse layout arguments given beside a ``Parallelism`` (``parallel=``), which replaces them: any that is not
    its default (the same plain value) raises ``ConfigurationError`` naming them."""
    values = {"tp": tp, "pp": pp, "ep": ep, "dp": dp, "cp": cp, "attention_dp": attention_dp,
              "expert_imbalance": expert_imbalance, "comm_overlap": comm_overlap, "micro_batches": micro_batches}
    defaults = Parallelism()
    given = [k for k, v in values.items()
             if not (v is None if getattr(defaults, k) is None else type(v) in (int, float, bool) and v == getattr(
                 defaults, k) and (type(v) is bool) == (type(getattr(defaults, k)) is bool))]
    if given:
        raise ConfigurationError(f"parallel replaces {', '.join(given)}: give them in the Parallelism or without one, "
                                 "not both", "parallel")


def _not_dividing(a, b) -> np.ndarray:
    """``np.mod(a, b) != 0`` for whole numbers from 1 to ``MAX_DEGREE`` (the degrees a layout admits, and a model's
    head and expert counts): b divides a exactly when the rounded quotient a / b is whole, as a quotient that is not
    lies at least 1 / b from every whole number, far beyond its rounding error; a division and a floor (vectorized)
    in place of the remainder's slower loop."""
    quotient = np.divide(a, b)
    return quotient != np.floor(quotient)


SINGLE_DEVICE = Parallelism()

