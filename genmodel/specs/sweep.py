"""``SweepSpec``: a design-space sweep as data — the axes of a cartesian product, the metrics to keep and the
reductions to run on the workers (genmodel.search.sweep, docs/sweeps.md).

Contract
--------
A sweep is every combination of its axes, in this order (the last varies fastest; a configuration's number is its
position in that order):

``models`` x ``hardware`` x ``datatypes`` x ``layouts`` x (``use_cases`` | ``input_tokens`` x ``output_tokens``) x
``batch`` x ``flops_scale`` x ``bandwidth_scale`` x ``capacity_scale`` x ``interconnect_scale``

* ``models``: names (``genmodel models``), synthetic names (``synthetic:moe-10t-a200b``) or spec files;
  ``hardware``: devices, platforms or spec files. Relative file paths are read from the spec file's folder.
* ``datatypes``: a list of ``{weight, activation, kv, embedding}`` entries (each optional, ``estimate``'s defaults
  otherwise).
* ``layouts``: a list of ``{tp, pp, ep, dp, cp, attention_dp}`` entries, or one mapping of lists whose product is
  taken (``{tp: [1, 2, 4, 8], pp: [1, 2]}``).
* numeric axes (``batch``, the lengths, the four what-if scales of the device's datasheet figures): a list of
  values, or a range ``{start, stop, num, spacing: linear | log}`` (counts are rounded to whole numbers and
  repeated values dropped, so ``{start: 1, stop: 1024, num: 11, spacing: log}`` is the powers of two).
* ``use_cases`` (``genmodel use-cases``) replace the two length axes: each brings its mean prompt and answer
  lengths (rounded) and its TTFT/TPOT targets, checked by the ``meets_targets`` column.
* ``metrics``: the ``estimate`` metrics kept per configuration (docs/metrics.md), plus ``meets_targets`` with use
  cases; ``precision: float32`` stores the real-valued ones in single precision.
* ``rows``: keep every configuration's row (``false``: only the reductions, for sweeps too large to read).
* ``reduce``: ``top_k`` (the k best configurations by a metric), ``pareto`` (the front of two metrics) and
  ``histogram`` (counts in fixed bins); each over the configurations where a true/false column (``where``:
  ``fits`` by default, or ``valid``, ``meets_targets``) holds and the metric is finite.
* ``engine``, ``calibrated``: as ``estimate``'s; ``block_size``: configurations per task (memory per worker).

Every field is checked on load; bad values raise ``SpecError`` naming the field. Names are resolved when the sweep
is planned (genmodel.search.sweep), before anything runs or is written.
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationInfo, field_validator, model_validator

from genmodel.specs.checks import MAX_BATCH, MAX_TOKENS
from genmodel.specs.dtypes import normalize_dtype
from genmodel.specs.quantities import FrozenSpec

AXIS_MAX_VALUES = 1_000_000  # values one axis may hold
MAX_CONFIGURATIONS = 10**15  # configurations one sweep may have (their numbers stay exact in int64)
MIN_SCALE, MAX_SCALE = 1e-6, 1e6  # as estimate's what-if scales
DEFAULT_BLOCK_SIZE = 16_384  # configurations per task: ~130 MB of working memory for a 70B model, near peak speed
DEFAULT_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s", "output_tokens_per_s_per_device",
                   "tokens_per_s_per_user", "total_memory_bytes", "fits", "energy_per_output_token_j",
                   "usd_per_million_output_tokens")
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Range(FrozenSpec):
    """``num`` values from ``start`` to ``stop`` (both included), evenly spaced or evenly spaced in log."""

    start: float = Field(gt=0, description="First value.")
    stop: float = Field(gt=0, description="Last value.")
    num: int = Field(ge=1, le=AXIS_MAX_VALUES, description="How many values.")
    spacing: Literal["linear", "log"] = Field("linear", description="'linear' or 'log' (geometric).")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.num > 1 and not self.stop > self.start:
            raise ValueError(f"stop ({self.stop:g}) must be above start ({self.start:g})")
        if self.num == 1 and self.stop != self.start:
            raise ValueError("num 1 needs stop equal to start (or give a list of one value)")
        return self

    def values(self) -> np.ndarray:
        space = np.geomspace if self.spacing == "log" else np.linspace
        return space(self.start, self.stop, self.num)


def _listed(value: object) -> object:
    """A single value stands for a list of one (``batch: 8``, ``models: llama-3.1-8b``)."""
    return [value] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else value


def _axis_kind(value: object) -> str:
    return "range" if isinstance(value, (dict, Range)) else "list"


def _numeric_axis(item: type) -> object:
    """A list of numbers (or one number), or a ``Range`` mapping; errors name 'list' or 'range'."""
    values = Annotated[list[item], Field(min_length=1, max_length=AXIS_MAX_VALUES)]  # type: ignore[valid-type]
    return Annotated[Annotated[values, Tag("list")] | Annotated[Range, Tag("range")], Discriminator(_axis_kind),
                     BeforeValidator(_listed)]


FloatAxis = _numeric_axis(float)
IntAxis = _numeric_axis(int)
Names = Annotated[list[str], Field(min_length=1, max_length=AXIS_MAX_VALUES), BeforeValidator(_listed)]


def axis_values(axis: list | Range, integer: bool) -> np.ndarray:
    """The values of a numeric axis: float64, or int64 (a range rounded, repeated values dropped, order kept)."""
    if isinstance(axis, Range):
        values = axis.values()
        if integer:
            rounded = np.round(values).astype(np.int64)
            _, first = np.unique(rounded, return_index=True)
            return rounded[np.sort(first)]
        return values.astype(np.float64)
    return np.asarray(axis, dtype=np.int64 if integer else np.float64)


def _shown(value: float) -> str:
    """A value for a message: a Python int past float64's range (``10**400``) by its digit count."""
    if isinstance(value, int) and abs(value) >= 10**308:
        return f"a {len(str(abs(value)))}-digit number"
    if float(value).is_integer() and 1 <= abs(value) < 1e16:
        return f"{int(value):,}"
    return f"{value:g}"


def _check_axis(axis: list | Range | None, low: float, high: float, integer: bool) -> None:
    if axis is None:
        return
    # the range is checked on the values as given (a range's before rounding), before any conversion to int64:
    # a value past int64 (a 400-digit batch, a range up to 1e308) would wrap around there
    if isinstance(axis, Range):
        given: list = axis.values().tolist()
    else:
        given = list(axis)
    bad = [v for v in given if not low <= v <= high]
    if bad:
        raise ValueError(f"values must be in [{_shown(low)}, {_shown(high)}], got {_shown(bad[0])}")
    values = axis_values(axis, integer)
    if not isinstance(axis, Range):
        seen, dup = np.unique(values, return_counts=True)
        if (dup > 1).any():
            raise ValueError(f"{seen[dup > 1][0]:g} appears more than once")


class Datatypes(FrozenSpec):
    """One datatype combination (``estimate``'s defaults for the fields left out)."""

    weight: str | None = Field(None, description="Weight datatype (default: the activation datatype).")
    activation: str | None = Field(None, description="Activation / matrix-math datatype (default: bf16).")
    kv: str | None = Field(None, description="KV-cache datatype (default: the activation datatype).")
    embedding: str | None = Field(None, description="Embedding and LM-head datatype.")

    @field_validator("weight", "activation", "kv", "embedding")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else normalize_dtype(value)

    def arguments(self) -> dict[str, str | None]:
        """``estimate``'s keyword arguments."""
        return {"weight_dtype": self.weight, "activation_dtype": self.activation, "kv_dtype": self.kv,
                "embedding_dtype": self.embedding}


Degree = Annotated[int, Field(ge=1, le=2**20)]


class Layout(FrozenSpec):
    """One parallel layout of a replica, and the data-parallel replicas (docs/parallelism.md)."""

    tp: Degree = 1
    pp: Degree = 1
    ep: Degree = 1
    dp: Degree = 1
    cp: Degree = 1
    attention_dp: bool = False


class LayoutGrid(FrozenSpec):
    """Every combination of the listed degrees (each list defaults to the single value 1 / false)."""

    tp: Annotated[list[Degree], Field(min_length=1)] = Field(default_factory=lambda: [1])
    pp: Annotated[list[Degree], Field(min_length=1)] = Field(default_factory=lambda: [1])
    ep: Annotated[list[Degree], Field(min_length=1)] = Field(default_factory=lambda: [1])
    dp: Annotated[list[Degree], Field(min_length=1)] = Field(default_factory=lambda: [1])
    cp: Annotated[list[Degree], Field(min_length=1)] = Field(default_factory=lambda: [1])
    attention_dp: Annotated[list[bool], Field(min_length=1)] = Field(default_factory=lambda: [False])

    def expand(self) -> list[Layout]:
        fields = ("tp", "pp", "ep", "dp", "cp", "attention_dp")
        return [Layout(**dict(zip(fields, combo, strict=True)))
                for combo in itertools.product(*(getattr(self, f) for f in fields))]


Where = Annotated[str, Field(pattern=NAME, description="A true/false column: fits, valid or meets_targets.")]
Order = Literal["max", "min"]


class TopK(FrozenSpec):
    """The ``k`` best configurations by ``metric`` (ties: the lower configuration number first)."""

    metric: str = Field(pattern=NAME)
    k: int = Field(10, ge=1, le=100_000)
    order: Order = "max"
    where: Where = "fits"


class Pareto(FrozenSpec):
    """The configurations no other beats in both ``x`` and ``y`` (of equal pairs, the lowest number)."""

    x: str = Field(pattern=NAME)
    y: str = Field(pattern=NAME)
    x_order: Order = "max"
    y_order: Order = "max"
    where: Where = "fits"

    @model_validator(mode="after")
    def _two(self) -> Pareto:
        if self.x == self.y:
            raise ValueError(f"x and y are both {self.x}; a front needs two different metrics")
        return self


class Histogram(FrozenSpec):
    """Counts of ``metric`` in ``bins`` fixed bins over ``range`` (linear or log), with those below and above."""

    metric: str = Field(pattern=NAME)
    bins: int = Field(50, ge=1, le=1_000_000)
    range: Annotated[list[float], Field(min_length=2, max_length=2)] = Field(
        description="[low, high] edges of the first and last bin, in the metric's SI unit.")
    spacing: Literal["linear", "log"] = "linear"
    where: Where = "fits"

    @model_validator(mode="after")
    def _edges(self) -> Histogram:
        low, high = self.range
        if not high > low:
            raise ValueError(f"range: the high edge ({high:g}) must be above the low edge ({low:g})")
        if self.spacing == "log" and not low > 0:
            raise ValueError(f"range: log bins need a positive low edge, got {low:g}")
        if self.spacing == "linear" and not math.isfinite(high - low):  # (Python floats: inf, no warning)
            raise ValueError(f"range: [{low:g}, {high:g}] is too wide for linear bins (its width {high:g} - {low:g} "
                             "is past float64's largest number); narrow it or use spacing: log with a positive low "
                             "edge")
        with np.errstate(all="ignore"):
            edges = self.edges()
        if not (np.all(np.isfinite(edges)) and np.all(edges[1:] > edges[:-1])):
            raise ValueError(f"range: [{low:g}, {high:g}] is too narrow for {self.bins:,} bins (neighbouring edges "
                             "are equal in float64); widen it or use fewer bins")
        return self

    def edges(self) -> np.ndarray:
        space = np.geomspace if self.spacing == "log" else np.linspace
        return space(self.range[0], self.range[1], self.bins + 1)


class Reductions(FrozenSpec):
    """The reductions run on the workers (each a list: several of a kind are allowed)."""

    top_k: list[TopK] = Field(default_factory=list)
    pareto: list[Pareto] = Field(default_factory=list)
    histogram: list[Histogram] = Field(default_factory=list)

    def metric_names(self) -> list[str]:
        names = [r.metric for r in self.top_k] + [n for p in self.pareto for n in (p.x, p.y)]
        names += [h.metric for h in self.histogram]
        return names + [r.where for r in (*self.top_k, *self.pareto, *self.histogram)]

    @property
    def empty(self) -> bool:
        return not (self.top_k or self.pareto or self.histogram)


class SweepSpec(FrozenSpec):
    """A design-space sweep (module docstring)."""

    name: str | None = Field(None, description="A name for the sweep (not part of its key).")
    description: str | None = Field(None, description="What the sweep explores (not part of its key).")
    models: Names
    hardware: Names
    datatypes: Annotated[list[Datatypes], Field(min_length=1)] = Field(default_factory=lambda: [Datatypes()])
    layouts: Annotated[Annotated[Annotated[list[Layout], Field(min_length=1)], Tag("list")]
                       | Annotated[LayoutGrid, Tag("grid")],
                       Discriminator(lambda v: "grid" if isinstance(v, (dict, LayoutGrid)) else "list")] = Field(
        default_factory=lambda: [Layout()])
    use_cases: Names | None = None
    input_tokens: IntAxis | None = None
    output_tokens: IntAxis | None = None
    batch: IntAxis = Field(default_factory=lambda: [1])
    flops_scale: FloatAxis = Field(default_factory=lambda: [1.0])
    bandwidth_scale: FloatAxis = Field(default_factory=lambda: [1.0])
    capacity_scale: FloatAxis = Field(default_factory=lambda: [1.0])
    interconnect_scale: FloatAxis = Field(default_factory=lambda: [1.0])
    metrics: Annotated[list[Annotated[str, Field(pattern=NAME)]], Field(min_length=1),
                       BeforeValidator(_listed)] = Field(default_factory=lambda: list(DEFAULT_METRICS))
    precision: Literal["float64", "float32"] = "float64"
    rows: bool = True
    reduce: Reductions = Reductions()
    engine: str | None = None
    calibrated: bool = True
    block_size: int = Field(DEFAULT_BLOCK_SIZE, ge=1, le=2**22)

    @field_validator("batch", "input_tokens", "output_tokens")
    @classmethod
    def _counts(cls, axis: list | Range | None, info: ValidationInfo) -> list | Range | None:
        _check_axis(axis, 1, MAX_BATCH if info.field_name == "batch" else MAX_TOKENS, True)
        return axis

    @field_validator("flops_scale", "bandwidth_scale", "capacity_scale", "interconnect_scale")
    @classmethod
    def _scales(cls, axis: list | Range) -> list | Range:
        _check_axis(axis, MIN_SCALE, MAX_SCALE, False)
        return axis

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        for name in ("models", "hardware", "use_cases", "metrics"):
            values = getattr(self, name) or []
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{name}: {repeated[0]!r} appears more than once")
        if self.use_cases is not None and (self.input_tokens is not None or self.output_tokens is not None):
            raise ValueError("use_cases bring their own lengths: give use_cases or input_tokens/output_tokens, "
                             "not both")
        if not self.rows and self.reduce.empty:
            raise ValueError("rows: false keeps no row, so the sweep needs at least one reduction under reduce")
        if self.configurations > MAX_CONFIGURATIONS:
            raise ValueError(f"the sweep has {self.configurations:.3g} configurations, more than the "
                             f"{MAX_CONFIGURATIONS:.0e} one sweep may have; split it")
        return self

    def layout_list(self) -> list[Layout]:
        return self.layouts.expand() if isinstance(self.layouts, LayoutGrid) else list(self.layouts)

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """The length axes (input, output) when no use case is given; estimate's defaults 1,024 and 256."""
        inputs = axis_values(self.input_tokens, True) if self.input_tokens is not None else np.array([1024])
        outputs = axis_values(self.output_tokens, True) if self.output_tokens is not None else np.array([256])
        return inputs, outputs

    def axis_sizes(self) -> dict[str, int]:
        """Each axis and its number of values, in the sweep's order."""
        sizes = {"models": len(self.models), "hardware": len(self.hardware), "datatypes": len(self.datatypes),
                 "layouts": len(self.layout_list())}
        if self.use_cases is not None:
            sizes["use_cases"] = len(self.use_cases)
        else:
            inputs, outputs = self.lengths()
            sizes["input_tokens"], sizes["output_tokens"] = len(inputs), len(outputs)
        sizes["batch"] = len(axis_values(self.batch, True))
        for name in ("flops_scale", "bandwidth_scale", "capacity_scale", "interconnect_scale"):
            sizes[name] = len(axis_values(getattr(self, name), False))
        return sizes

    @property
    def configurations(self) -> int:
        return math.prod(self.axis_sizes().values())
