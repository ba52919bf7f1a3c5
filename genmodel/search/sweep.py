"""Design-space sweeps: every combination of a ``SweepSpec``'s axes, evaluated in blocks in this process, on the
cores of this machine or on a Dask cluster, with reductions where the blocks run (docs/sweeps.md).

Contract
--------
``sweep(spec_or_path, out=None, scheduler=None, ...)`` plans the sweep (every name resolved, every layout checked
against every model with every device's engine (one that pads heads runs a tp that does not divide them), every
datatype combination against every device, metric names checked: bad input raises a ``GenmodelError`` naming
the field before anything runs or is written), then evaluates it:

* **blocks**: configuration ``i`` is the ``i``-th of the cartesian product (genmodel.specs.sweep). Block ``k`` holds
  configurations ``[k S, (k + 1) S)`` (``S`` = ``block_size``); a block is split where (model, hardware, datatypes)
  changes and each piece is evaluated by vectorized ``estimate`` calls of at most ``CALL_SIZE`` configurations (each
  its own layout, lengths, batch and scales; no loop over configurations), so memory is bounded by one call and one
  block's kept columns. A configuration the model cannot run (a layout that does not divide it, a context past its
  maximum, cp above the prompt, datatypes the device lacks) is not evaluated: its ``valid`` is false, its real
  metrics NaN, counts 0 and flags false. What a block computes depends on ``k`` alone,
  so the results are the same, bit for bit, whichever process or machine evaluates it and in whatever order
  (on one machine; across machines with different SIMD paths, to rounding).
* **schedulers**: ``None`` evaluates the blocks one after another in this process; ``"local"`` starts a Dask
  ``LocalCluster`` with one single-threaded worker process per core (``workers`` to choose, at most
  ``WORKERS_PER_CORE`` per core; only with 'local'); ``"tcp://HOST:8786"``
  uses a running Dask cluster; a ``distributed.Client`` is used as it is. Blocks are submitted a few per worker
  at a time (memory stays flat on the client), the plan is a task of its own (a lost worker's copy is rebuilt),
  and a worker that dies has its blocks rerun elsewhere by the scheduler. Workers check that they run the same
  genmodel version with the same databases (the hash) as the client, or refuse.
* **reductions** (``reduce``: top k, Pareto fronts, histograms; genmodel.search.reductions) run on each block
  where it is evaluated and their partial results merge exactly on the client.
* **files**: with ``out`` (a .parquet or .csv path) every finished block is written at once as a chunk keyed by a
  hash of the spec, the genmodel and NumPy versions and the database hash (genmodel.search.sweep_files). Run again
  with the same spec and ``out``, a sweep that was interrupted (Ctrl-C, a killed process) evaluates only the blocks
  missing. When all are done the rows (``rows: true``) and the reductions (``<out>.top_k``, ``.pareto``,
  ``.histogram``) are written, and the chunks removed. Without ``out`` the rows stay in memory (at most
  ``MAX_IN_MEMORY`` configurations) and nothing is written.
* **size**: on this machine (scheduler None or 'local') a sweep has at most ``MAX_ON_THIS_MACHINE`` configurations
  (about 8 core-hours), rows kept or not; larger ones are refused before anything runs and need a cluster.

The processes that evaluate blocks raise glibc's mmap threshold once (``tune_malloc``: 2.6x faster, same peak
memory; docs/sweeps.md section 7). ``progress`` is called with a ``Progress`` after each block; an exception it
raises (KeyboardInterrupt) stops the sweep with the chunks written so far kept.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import pickle
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genmodel.data.registry import get_engine, get_model, get_use_case, looks_like_file, provenance, resolve_hardware
from genmodel.engine.estimate import estimate
from genmodel.engine.inputs import resolve_dtypes
from genmodel.engine.parallel import Parallelism
from genmodel.engine.realism import resolve_engine
from genmodel.errors import ConfigurationError, GenmodelError, InputTypeError, SpecError
from genmodel.search import reductions as red
from genmodel.search.sweep_files import (
    ChunkStore,
    check_writable,
    derived_path,
    need_pyarrow,
    output_format,
    write_rows,
    write_table,
)
from genmodel.specs.checks import scalar, whole
from genmodel.specs.files import load_spec_file, validate_spec
from genmodel.specs.sweep import SweepSpec, axis_values
from genmodel.table import Table

CHUNK_FORMAT = 1  # raise when what a chunk holds changes
MAX_IN_MEMORY = 10_000_000  # configurations whose rows a sweep without ``out`` may keep in memory
# configurations a sweep may have on this machine (scheduler None or 'local'), rows kept or not: at about 3 µs each
# per core (docs/sweeps.md section 7) 10^10 are ~8 core-hours, a night on one core; larger sweeps need a cluster
MAX_ON_THIS_MACHINE = 10**10
SECONDS_PER_CONFIGURATION = 3e-6  # one core, a 70B dense model (docs/sweeps.md section 7)
# worker processes of scheduler 'local' per core of this machine: each worker is one single-threaded process of about
# 160 MiB evaluating blocks, so more than one per core only shares the cores (and memory) and starts more slowly;
# a few per core is room enough for oversubscribing on purpose, far more starts for minutes with nothing to show
WORKERS_PER_CORE = 4
DERIVED = ("valid", "meets_targets")  # columns the sweep adds to estimate's metrics
SCALES = ("flops_scale", "bandwidth_scale", "capacity_scale", "interconnect_scale")
LAYOUT = ("tp", "pp", "ep", "dp", "cp", "attention_dp")


# ---- the plan: everything a block needs, resolved once --------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A resolved sweep: picklable, sent once to every worker."""

    key: str
    genmodel_version: str
    database_hash: str
    database_roots: tuple[str, ...]
    spec: SweepSpec
    axes: dict[str, int]  # axis -> number of values, in the sweep's order
    models: tuple[Any, ...]
    hardware: tuple[Any, ...]  # HardwareSpec or PlatformSpec, as estimate takes them
    model_names: tuple[str, ...]
    hardware_names: tuple[str, ...]
    datatypes: tuple[dict[str, str | None], ...]  # estimate's keyword arguments
    dtype_labels: dict[str, tuple[str, ...]]  # weight/activation/kv/embedding per (hardware, datatypes) group
    dtype_errors: tuple[str | None, ...]  # per (hardware, datatypes): why the device cannot run them, or None
    layouts: dict[str, np.ndarray]
    layout_ok: np.ndarray  # (models, hardware, layouts): the engine on a device may pad heads (Neuron)
    layout_errors: tuple[str, ...]  # one message per (model, layout) pair refused, for the summary
    max_context: np.ndarray  # per model
    use_cases: tuple[str, ...] | None
    inputs: np.ndarray  # per length entry (use case or input axis value)
    outputs: np.ndarray
    targets: tuple[np.ndarray, np.ndarray] | None  # (TTFT, TPOT) per use case
    batch: np.ndarray
    scales: dict[str, np.ndarray]
    metrics: tuple[str, ...]  # estimate metrics kept, then the derived ones
    dtypes: dict[str, str]  # numpy dtype of each kept column
    rows: bool
    context_errors: tuple[str, ...] = ()  # models some lengths of the sweep are too long for, for the summary

    @property
    def size(self) -> int:
        return math.prod(self.axes.values())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.axes.values())

    @property
    def block_size(self) -> int:
        return self.spec.block_size

    @property
    def blocks(self) -> int:
        return -(-self.size // self.block_size)

    def block_range(self, block: int) -> np.ndarray:
        start = block * self.block_size
        return np.arange(start, min(start + self.block_size, self.size), dtype=np.int64)

    def codes(self, config: np.ndarray) -> dict[str, np.ndarray]:
        """Each configuration's position on every axis."""
        return dict(zip(self.axes, np.unravel_index(config, self.shape), strict=True))

    def columns(self, config: np.ndarray, strings: bool = True) -> dict[str, Any]:
        """The configuration columns of ``config``: names as strings (or (codes, labels) pairs), numbers."""
        c = self.codes(config)
        n_dt = self.axes["datatypes"]
        group = c["hardware"] * n_dt + c["datatypes"]

        def labelled(codes: np.ndarray, labels: tuple[str, ...] | list[str]) -> Any:
            unique, inverse = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
            codes = inverse.reshape(-1)[codes]
            return unique[codes] if strings else (codes, unique.tolist())

        out: dict[str, Any] = {"config": config, "model": labelled(c["models"], self.model_names),
                               "hardware": labelled(c["hardware"], self.hardware_names)}
        for role, labels in self.dtype_labels.items():
            out[f"{role}_dtype"] = labelled(group, labels)
        if self.use_cases is not None:
            out["use_case"] = labelled(c["use_cases"], self.use_cases)
        for name in LAYOUT:
            out[name] = self.layouts[name][c["layouts"]]
        inputs, outputs = self._lengths(c)
        out.update(batch=self.batch[c["batch"]], input_tokens=inputs, output_tokens=outputs)
        for name in SCALES:
            out[name] = self.scales[name][c[name]]
        return out

    def _lengths(self, c: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self.use_cases is not None:
            return self.inputs[c["use_cases"]], self.outputs[c["use_cases"]]
        return self.inputs[c["input_tokens"]], self.outputs[c["output_tokens"]]


@functools.cache
def estimate_metrics() -> dict[str, str]:
    """The metrics ``estimate`` returns per configuration and their NumPy dtypes."""
    probe = estimate("llama-3.1-8b", "h100-sxm", batch=np.array([1]), check_fit=False)
    return {name: str(values.dtype) for name, values in probe.metrics.items()}


def load_spec(spec: SweepSpec | dict | str | Path) -> tuple[SweepSpec, Path | None, str]:
    """The spec, the folder its relative file names are read from, and what to call it in errors."""
    if isinstance(spec, SweepSpec):
        return spec, None, "sweep spec"
    if isinstance(spec, dict):
        return validate_spec(spec, SweepSpec, "sweep spec"), None, "sweep spec"
    if isinstance(spec, (str, Path)):
        path = Path(spec).expanduser()
        if not path.is_file():
            what = ("is a folder" if path.is_dir() else "is not a regular file (a device, a pipe or a socket)"
                    if path.exists() else "does not exist")
            raise SpecError(f"spec {str(spec)!r} {what}; give a sweep spec file (YAML or JSON)", "spec")
        return load_spec_file(path, SweepSpec), path.parent, path.name
    raise InputTypeError(f"spec must be a SweepSpec, a mapping or a file path, got {type(spec).__name__}", "spec")


def _local_file(name: str, folder: Path | None) -> str:
    """A relative spec-file name is read from the sweep spec's folder when it is there."""
    if folder is not None and looks_like_file(name) and not Path(name).is_absolute() and (folder / name).exists():
        return str(folder / name)
    return name


def _resolve(where: str, field_name: str, names: list[str], resolve: Callable[[str], Any]) -> list[Any]:
    out = []
    for i, name in enumerate(names):
        try:
            out.append(resolve(name))
        except GenmodelError as exc:
            raise SpecError(f"{where}: {field_name}.{i}: {' '.join(str(exc).split())}", field_name) from None
    return out


def plan(spec: SweepSpec | dict | str | Path, rows: bool | None = None) -> Plan:
    """Resolve and check a sweep (module docstring); ``rows`` overrides the spec's ``rows``."""
    spec, folder, where = load_spec(spec)
    models = _resolve(where, "models", spec.models, lambda n: get_model(_local_file(n, folder)))
    resolved = _resolve(where, "hardware", spec.hardware, lambda n: resolve_hardware(_local_file(n, folder)))
    hardware = [platform if platform is not None else hw for hw, platform in resolved]
    if spec.engine is not None:
        _resolve(where, "engine", [spec.engine], get_engine)
    use_cases = (_resolve(where, "use_cases", spec.use_cases, get_use_case) if spec.use_cases is not None
                 else None)

    entries = [d.arguments() for d in spec.datatypes]
    labels: dict[str, list[str]] = {"weight": [], "activation": [], "kv": [], "embedding": []}
    dtype_errors: list[str | None] = []
    for (hw, _), args in itertools.product(resolved, entries):
        try:
            d = resolve_dtypes(hw, args["weight_dtype"], args["activation_dtype"], args["kv_dtype"],
                               args["embedding_dtype"])
            resolved_labels, error = (d.weight, d.activation, d.kv, d.embedding), None
        except GenmodelError as exc:
            resolved_labels = tuple(args[f"{r}_dtype"] or "default" for r in labels)
            error = f"{hw.name}: {' '.join(str(exc).split())}"
        for role, label in zip(labels, resolved_labels, strict=True):
            labels[role].append(label)
        dtype_errors.append(error)

    layout_list = spec.layout_list()
    layouts = {name: np.array([getattr(lay, name) for lay in layout_list],
                              dtype=bool if name == "attention_dp" else np.int64) for name in LAYOUT}
    # whether a layout runs depends on the device too where its engine pads heads per tensor-parallel rank
    # (estimate's rule, genmodel.engine.inputs): a tp that does not divide the heads runs there, padded
    head_ranks = [(hw.microarchitecture.tensor_parallel_ranks or 1) if resolve_engine(hw, spec.engine).pads_heads
                  else 0 for hw, _ in resolved]
    layout_ok = np.ones((len(models), len(resolved), len(layout_list)), dtype=bool)
    layout_errors = []
    for (m, model), (j, lay), ranks in itertools.product(enumerate(models), enumerate(layout_list),
                                                         sorted(set(head_ranks))):
        try:
            Parallelism(lay.tp, lay.pp, lay.ep, lay.dp, lay.attention_dp, cp=lay.cp, head_ranks=ranks).check(model)
        except GenmodelError as exc:
            layout_ok[m, [h for h, r in enumerate(head_ranks) if r == ranks], j] = False
            layout_errors.append(f"{model.name}: {' '.join(str(exc).split())}")

    if use_cases is not None:
        inputs = np.array([max(1, round(u.input_tokens)) for u in use_cases], dtype=np.int64)
        outputs = np.array([max(1, round(u.output_tokens)) for u in use_cases], dtype=np.int64)
        targets = (np.array([u.ttft_target_s for u in use_cases]), np.array([u.tpot_target_s for u in use_cases]))
    else:
        inputs, outputs = spec.lengths()
        targets = None

    try:
        kept = _kept_metrics(spec, use_cases is not None)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}", exc.argument) from None
    known = estimate_metrics()
    float_dtype = spec.precision
    dtypes = {}
    for name in kept:
        kind = "bool" if name in DERIVED else known[name]
        dtypes[name] = float_dtype if kind.startswith("float") else ("<U16" if kind.startswith("<U") else kind)

    prov = provenance()
    keep_rows = spec.rows if rows is None else rows
    key = sweep_key(spec, models, hardware, prov, keep_rows)
    longest = int(inputs.max() + outputs.max())
    too_long = tuple(f"{m.name}: {longest:,} prompt + output tokens exceed its {m.max_context_tokens:,}-token context"
                     for m in models if longest > m.max_context_tokens)
    return Plan(
        key=key, genmodel_version=str(prov["genmodel_version"]), database_hash=str(prov["database_hash"]),
        database_roots=_database_roots(), spec=spec, axes=spec.axis_sizes(), models=tuple(models),
        hardware=tuple(hardware), model_names=tuple(m.name for m in models),
        hardware_names=tuple(h.name for h in hardware), datatypes=tuple(entries),
        dtype_labels={k: tuple(v) for k, v in labels.items()}, dtype_errors=tuple(dtype_errors), layouts=layouts,
        layout_ok=layout_ok, layout_errors=tuple(layout_errors),
        max_context=np.array([m.max_context_tokens for m in models], dtype=np.int64),
        use_cases=tuple(u.name for u in use_cases) if use_cases is not None else None,
        inputs=inputs, outputs=outputs, targets=targets, batch=axis_values(spec.batch, True),
        scales={name: axis_values(getattr(spec, name), False) for name in SCALES}, metrics=tuple(kept),
        dtypes=dtypes, rows=keep_rows, context_errors=too_long)


def _kept_metrics(spec: SweepSpec, with_targets: bool) -> list[str]:
    """The spec's metrics, then those its reductions name, then ``valid``: each checked against estimate's, an
    error naming the field at fault (``metrics``, ``reduce.top_k.0.where``, ...)."""
    known = estimate_metrics()
    fields = [("metrics", name) for name in spec.metrics]
    for kind in ("top_k", "pareto", "histogram"):
        for i, r in enumerate(getattr(spec.reduce, kind)):
            fields += [(f"reduce.{kind}.{i}.{a}", getattr(r, a)) for a in ("metric", "x", "y", "where")
                       if hasattr(r, a)]
    for where, name in fields:
        argument = "metrics" if where == "metrics" else "reduce"
        if name == "meets_targets" and not with_targets:
            raise SpecError(f"{where}: meets_targets needs use_cases (their TTFT and TPOT targets)", argument)
        if where.endswith(".where"):
            if name not in DERIVED and known.get(name) != "bool":
                raise SpecError(f"{where}: {name!r} is not a true/false column; use fits, valid or meets_targets",
                                argument)
        elif name not in known and name not in DERIVED:
            raise SpecError(f"{where}: {name!r} is not a metric of estimate (docs/metrics.md lists them; e.g. "
                            f"{', '.join(list(known)[:6])}, ...)", argument)
        elif where != "metrics" and (name in DERIVED or not known[name].startswith(("float", "int"))):
            raise SpecError(f"{where}: {name!r} is not a number; reduce a numeric metric", argument)
    names = list(dict.fromkeys([*spec.metrics, *spec.reduce.metric_names()]))
    return [n for n in names if n != "valid"] + ["valid"]


def _database_roots() -> tuple[str, ...]:
    from genmodel.data.registry import _roots

    return _roots()


def sweep_key(spec: SweepSpec, models: list, hardware: list, prov: dict[str, object], rows: bool) -> str:
    """16 hex digits of a hash of what the results depend on: the spec (its name and description aside), whether
    rows are kept, the resolved models and devices (spec files included), the genmodel and NumPy versions and the
    databases."""
    payload = {"format": CHUNK_FORMAT, "numpy": np.__version__, "genmodel": prov["genmodel_version"], "rows": rows,
               "database_hash": prov["database_hash"],
               "spec": spec.model_dump(mode="json", exclude={"name", "description"}),
               "models": [m.model_dump(mode="json") for m in models],
               "hardware": [h.model_dump(mode="json") for h in hardware]}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# ---- one block ----------------------------------------------------------------------------------------------
# configurations per estimate call: its temporaries (a 70B model: ~8 kB per configuration) then stay below the
# 64 MiB heaps glibc gives threads other than the main one (Dask runs tasks in such threads), so they are reused
# instead of mapped and unmapped for every call (docs/sweeps.md section 7)
CALL_SIZE = 8192


from genmodel.engine.allocator import tune_malloc  # noqa: E402  (kept here: the sweep's processes call it)


def _fill(dtype: str, n: int) -> np.ndarray:
    """A column of ``n`` 'not evaluated' values: NaN, 0, false or ''."""
    kind = np.dtype(dtype).kind
    return np.full(n, np.nan if kind == "f" else ("" if kind == "U" else 0), dtype=dtype)


def evaluate_block(plan: Plan, block: int) -> dict[str, np.ndarray]:
    """Every kept column of one block, its counts and its reductions' partial results, as flat named arrays:
    ``rows.<column>``, ``count.<name>``, ``top_k.<i>.<column>``, ``pareto.<i>.<column>``, ``histogram.<i>.<part>``."""
    config = plan.block_range(block)
    n = config.size
    table = {name: _fill(plan.dtypes[name], n) for name in plan.metrics}
    c = plan.codes(config)
    n_hw, n_dt = plan.axes["hardware"], plan.axes["datatypes"]
    group = (c["models"] * n_hw + c["hardware"]) * n_dt + c["datatypes"]
    cuts = np.flatnonzero(np.diff(group)) + 1
    fits = np.zeros(n, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start, stop in zip([0, *cuts], [*cuts, n], strict=True):
            _evaluate_group(plan, c, start, stop, table, fits)
    out = {f"rows.{name}": values for name, values in table.items()} if plan.rows else {}
    out["count.valid"] = np.array(np.count_nonzero(table["valid"]))
    out["count.fits"] = np.array(np.count_nonzero(fits))
    if "meets_targets" in table:
        out["count.meets_targets"] = np.array(np.count_nonzero(table["meets_targets"]))
    out.update(_partials(plan, config, table))
    return out


def _evaluate_group(plan: Plan, c: dict[str, np.ndarray], start: int, stop: int, table: dict[str, np.ndarray],
                    fits: np.ndarray) -> None:
    """The configurations [start, stop) of a block, which share their model, hardware and datatypes: vectorized
    estimate calls of at most ``CALL_SIZE`` of them each; the ones the model cannot run are left out."""
    part = {name: codes[start:stop] for name, codes in c.items()}
    m, h, d = int(part["models"][0]), int(part["hardware"][0]), int(part["datatypes"][0])
    if plan.dtype_errors[h * plan.axes["datatypes"] + d] is not None:
        return
    lay = {name: plan.layouts[name][part["layouts"]] for name in LAYOUT}
    inputs, outputs = plan._lengths(part)
    ok = plan.layout_ok[m, h, part["layouts"]] & (inputs + outputs <= plan.max_context[m]) & (lay["cp"] <= inputs)
    valid = np.flatnonzero(ok)
    for first in range(0, valid.size, CALL_SIZE):
        sel = valid[first:first + CALL_SIZE]
        parallel = Parallelism(*(lay[k][sel] for k in ("tp", "pp", "ep", "dp", "attention_dp")), cp=lay["cp"][sel])
        metrics = estimate(plan.models[m], plan.hardware[h], plan.batch[part["batch"][sel]], inputs[sel],
                           outputs[sel], **plan.datatypes[d], parallel=parallel, check_fit=False,
                           engine=plan.spec.engine, calibrated=plan.spec.calibrated,
                           **{name: plan.scales[name][part[name][sel]] for name in SCALES}).metrics
        at = start + sel
        for name in plan.metrics:
            if name not in DERIVED:
                table[name][at] = metrics[name]
        table["valid"][at] = True
        fits[at] = metrics["fits"]
        if "meets_targets" in table:
            u = part["use_cases"][sel]
            ttft, tpot = plan.targets  # type: ignore[misc]
            table["meets_targets"][at] = (metrics["fits"] & (metrics["ttft_s"] <= ttft[u])
                                          & (metrics["tpot_s"] <= tpot[u]))


def _partials(plan: Plan, config: np.ndarray, table: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each reduction over one block (genmodel.search.reductions), with the kept columns of the rows it keeps."""
    out: dict[str, np.ndarray] = {}
    rows = {"config": config, **table}
    reduce = plan.spec.reduce
    for i, r in enumerate(reduce.top_k):
        pos = np.flatnonzero(table[r.where] & np.isfinite(table[r.metric]))
        chosen = pos[red.top_k(table[r.metric][pos], config[pos], r.k, r.order)]
        out.update({f"top_k.{i}.{k}": v for k, v in red.take(rows, chosen).items()})
    for i, p in enumerate(reduce.pareto):
        pos = np.flatnonzero(table[p.where] & np.isfinite(table[p.x]) & np.isfinite(table[p.y]))
        chosen = pos[red.pareto(table[p.x][pos], table[p.y][pos], config[pos], p.x_order, p.y_order)]
        out.update({f"pareto.{i}.{k}": v for k, v in red.take(rows, chosen).items()})
    for i, hist in enumerate(reduce.histogram):
        values = table[hist.metric][table[hist.where] & np.isfinite(table[hist.metric])]
        counts, below, above = red.histogram(values, hist.edges())
        out.update({f"histogram.{i}.counts": counts, f"histogram.{i}.below": np.array(below),
                    f"histogram.{i}.above": np.array(above)})
    return out


# ---- merging blocks on the client ---------------------------------------------------------------------------
class Accumulator:
    """Counts and reductions merged block by block (exact in any order), and the rows when kept in memory."""

    def __init__(self, plan: Plan, keep_rows: bool) -> None:
        self.plan = plan
        self.counts: dict[str, int] = {}
        self.top: list[red.Rows | None] = [None] * len(plan.spec.reduce.top_k)
        self.front: list[red.Rows | None] = [None] * len(plan.spec.reduce.pareto)
        self.hist = [{"counts": np.zeros(h.bins, dtype=np.int64), "below": 0, "above": 0}
                     for h in plan.spec.reduce.histogram]
        self.rows = {name: _fill(plan.dtypes[name], plan.size) for name in plan.metrics} if keep_rows else None

    def add(self, block: int, arrays: dict[str, np.ndarray]) -> None:
        for name, value in arrays.items():
            if name.startswith("count."):
                self.counts[name[6:]] = self.counts.get(name[6:], 0) + int(value)
        reduce = self.plan.spec.reduce
        for i, r in enumerate(reduce.top_k):
            rows = self._merged(self.top[i], arrays, f"top_k.{i}.")
            self.top[i] = red.take(rows, red.top_k(rows[r.metric], rows["config"], r.k, r.order))
        for i, p in enumerate(reduce.pareto):
            rows = self._merged(self.front[i], arrays, f"pareto.{i}.")
            self.front[i] = red.take(rows, red.pareto(rows[p.x], rows[p.y], rows["config"], p.x_order, p.y_order))
        for i, h in enumerate(self.hist):
            h["counts"] += arrays[f"histogram.{i}.counts"]
            h["below"] += int(arrays[f"histogram.{i}.below"])
            h["above"] += int(arrays[f"histogram.{i}.above"])
        if self.rows is not None:
            at = self.plan.block_range(block)
            for name, values in self.rows.items():
                values[at] = arrays[f"rows.{name}"]

    @staticmethod
    def _merged(current: red.Rows | None, arrays: dict[str, np.ndarray], prefix: str) -> red.Rows:
        new = {name[len(prefix):]: v for name, v in arrays.items() if name.startswith(prefix)}
        return new if current is None else red.concat([current, new])


# ---- schedulers ---------------------------------------------------------------------------------------------
@functools.cache
def _worker_ready(key: str, version: str, database_hash: str, roots: tuple[str, ...]) -> None:
    """On a worker: refuse unless it runs the client's genmodel version with the same databases (adding the
    client's database folders that exist here, as ``--db`` does)."""
    from genmodel.data import registry

    prov = provenance()
    if prov["database_hash"] != database_hash:
        here = set(registry._roots())
        extra = [r for r in roots if r not in here and Path(r).is_dir()]
        if extra:
            registry.use_databases(extra)
            prov = provenance()
    if (prov["genmodel_version"], prov["database_hash"]) != (version, database_hash):
        raise ConfigurationError(
            f"a worker runs genmodel {prov['genmodel_version']} with databases {prov['database_hash']}, the client "
            f"{version} with {database_hash}: install the same genmodel and database folders on every worker",
            "scheduler")


def _block_task(plan: Plan, block: int) -> dict[str, np.ndarray]:
    """What a Dask worker runs for one block."""
    _worker_ready(plan.key, plan.genmodel_version, plan.database_hash, plan.database_roots)
    tune_malloc()
    return evaluate_block(plan, block)


def _unpickle(blob: bytes) -> Plan:
    return pickle.loads(blob)


def _in_process(plan: Plan, blocks: list[int]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    tune_malloc()
    for block in blocks:
        yield block, evaluate_block(plan, block)


def _on_dask(client: Any, plan: Plan, blocks: list[int]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """Blocks evaluated on a Dask cluster, yielded as they finish; a few in flight per worker thread."""
    from distributed import as_completed

    # the plan is a task of its own: workers fetch it once, and a lost copy is rebuilt from the task
    plan_future = client.submit(_unpickle, pickle.dumps(plan, protocol=5), key=f"genmodel-sweep-plan-{plan.key}",
                                pure=False)
    window = max(4, 2 * sum(client.nthreads().values()))
    todo = iter(blocks)
    pending: dict[str, tuple[Any, int]] = {}
    queue = as_completed()

    def submit(block: int) -> None:
        future = client.submit(_block_task, plan_future, block, key=f"genmodel-sweep-{plan.key}-{block:08d}",
                               pure=False)
        pending[future.key] = (future, block)
        queue.add(future)

    try:
        for block in itertools.islice(todo, window):
            submit(block)
        for future in queue:
            arrays = future.result()
            _, block = pending.pop(future.key)
            future.release()
            nxt = next(todo, None)
            if nxt is not None:
                submit(nxt)
            yield block, arrays
    finally:
        queue.clear()
        client.cancel([plan_future, *(f for f, _ in pending.values())])


class _Scheduler:
    """The executor for ``scheduler``: this process, a LocalCluster of this machine, or a Dask cluster."""

    def __init__(self, scheduler: Any, workers: int | None) -> None:
        self.client = self.cluster = None
        self.owned = False
        if scheduler is None:
            return
        if not isinstance(scheduler, str):
            if type(scheduler).__name__ == "Client" and hasattr(scheduler, "submit"):
                self.client = scheduler
                return
            raise InputTypeError(f"scheduler must be None, 'local', a 'tcp://HOST:PORT' address or a "
                                 f"distributed.Client, got {type(scheduler).__name__}", "scheduler")
        if scheduler != "local" and "://" not in scheduler:
            raise ConfigurationError(f"scheduler {scheduler!r}: use 'local' (this machine's cores) or the address "
                                     "of a Dask scheduler such as tcp://HOST:8786", "scheduler")
        try:
            import logging

            from distributed import Client, LocalCluster
        except ImportError:
            raise ConfigurationError(f"scheduler {scheduler}: Dask is not installed; pip install "
                                     "'genmodel[sweep]'", "scheduler") from None
        if scheduler == "local":
            self.cluster = LocalCluster(n_workers=workers or _cores(), threads_per_worker=1,
                                        processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigurationError(f"scheduler {scheduler}: cannot reach a Dask scheduler there ({exc}); "
                                         "start one with 'dask scheduler' and 'dask worker'", "scheduler") from None
        self.owned = True

    def run(self, plan: Plan, blocks: list[int]) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        if self.client is None:
            return _in_process(plan, blocks)
        return _on_dask(self.client, plan, blocks)

    def close(self) -> None:
        if self.owned:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _cores() -> int:
    return os.cpu_count() or 1


def _workers(workers: Any, scheduler: Any) -> int | None:
    """``workers`` checked: None, or a whole number of worker processes for scheduler 'local', from 1 to
    ``WORKERS_PER_CORE`` per core of this machine."""
    if workers is None:
        return None
    n = int(scalar("workers", whole("workers", workers, 1)))
    if not (isinstance(scheduler, str) and scheduler == "local"):
        raise ConfigurationError("workers sets the worker processes of the scheduler 'local' (this machine's "
                                 "cores); choose that scheduler or leave workers out (a cluster has its own workers)",
                                 "workers")
    most = WORKERS_PER_CORE * _cores()
    if n > most:
        raise ConfigurationError(f"workers must be at most {most} ({WORKERS_PER_CORE} per core of this machine's "
                                 f"{_cores()}), got {n}", "workers")
    return n


# ---- the sweep ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """Where a running sweep stands (given to ``progress`` after each block)."""

    done: int  # configurations done (resumed ones included)
    total: int
    resumed: int  # configurations found done in chunks at the start
    blocks_done: int
    blocks: int
    elapsed_s: float

    @property
    def eta_s(self) -> float:
        """Seconds left at the rate of this run's blocks so far (NaN before the first)."""
        new = self.done - self.resumed
        return self.elapsed_s / new * (self.total - self.done) if new > 0 else float("nan")


@dataclass
class SweepResult:
    """What a sweep found: counts, the reductions, the rows (in memory or in files) and how it ran."""

    spec: SweepSpec
    key: str
    axes: dict[str, int]
    configurations: int
    counts: dict[str, int]  # valid, fits, meets_targets (with use cases)
    top_k: list[Table]
    pareto: list[Table]
    histograms: list[dict[str, Any]]
    columns: dict[str, np.ndarray] | None  # every row, when kept in memory
    files: dict[str, Path]
    blocks: int
    computed_blocks: list[int]
    resumed_blocks: int
    elapsed_s: float
    computed_configurations: int = 0
    refused: dict[str, list[str]] = field(default_factory=dict)  # why configurations are not valid (examples)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the rows, JSON-ready (SI units), with the provenance."""
        return {**provenance(), "sweep_key": self.key, "name": self.spec.name, "axes": self.axes,
                "configurations": self.configurations, **self.counts,
                "blocks": self.blocks, "computed_blocks": len(self.computed_blocks),
                "resumed_blocks": self.resumed_blocks, "computed_configurations": self.computed_configurations,
                "elapsed_s": self.elapsed_s,
                "files": {k: str(v) for k, v in self.files.items()},
                "top_k": [t.to_records() for t in self.top_k], "pareto": [t.to_records() for t in self.pareto],
                "histograms": [{**h, "edges": h["edges"].tolist(), "counts": h["counts"].tolist()}
                               for h in self.histograms],
                "refused": self.refused}


def sweep(spec: SweepSpec | dict | str | Path, out: str | Path | None = None, scheduler: Any = None, *,
          workers: int | None = None, rows: bool | None = None,
          progress: Callable[[Progress], None] | None = None) -> SweepResult:
    """Evaluate every configuration of ``spec`` (a ``SweepSpec``, a mapping or a YAML/JSON file); see the module
    docstring. ``out``: a .parquet or .csv file for the rows (and the reductions beside it), written in resumable
    chunks; ``scheduler``: None (this process), 'local', 'tcp://HOST:PORT' or a ``distributed.Client``;
    ``workers``: worker processes for 'local' (default: the cores; at most ``WORKERS_PER_CORE`` per core); ``rows``:
    override the spec's ``rows``; ``progress``: a callable or None."""
    if rows is not None and not isinstance(rows, bool):
        raise InputTypeError(f"rows must be True, False or None, got {rows!r}", "rows")
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise InputTypeError(f"out must be a file path (a str or a Path) or None, got {type(out).__name__}", "out")
    if progress is not None and not callable(progress):
        raise InputTypeError(f"progress must be a callable taking a Progress, or None, got {type(progress).__name__}",
                             "progress")
    workers = _workers(workers, scheduler)
    the_plan = plan(spec, rows)
    out_path = None if out is None else Path(out).expanduser()
    if out_path is not None:
        check_writable(out_path)
        output_format(out_path)
        need_pyarrow()
    elif the_plan.rows and the_plan.size > MAX_IN_MEMORY:
        raise ConfigurationError(f"out: {the_plan.size:,} rows are too many to keep in memory (at most "
                                 f"{MAX_IN_MEMORY:,}); give out= to stream them to a file, or set rows: false and "
                                 "keep reductions only", "out")
    on_this_machine = scheduler is None or (isinstance(scheduler, str) and scheduler == "local")
    if the_plan.size > MAX_ON_THIS_MACHINE and on_this_machine:
        raise ConfigurationError(
            f"scheduler: {the_plan.size:,} configurations are too many for this machine (at most "
            f"{MAX_ON_THIS_MACHINE:,}, about {_duration(MAX_ON_THIS_MACHINE)} of work on one core at ~3 µs each; "
            f"this sweep is about {_duration(the_plan.size)}); run it on a Dask cluster (a tcp://HOST:8786 "
            "scheduler) or shrink its axes", "scheduler")
    executor = _Scheduler(scheduler, workers)
    try:
        return _run(the_plan, out_path, executor, progress)
    finally:
        executor.close()


def _duration(configurations: int) -> str:
    """The single-core time of ``configurations`` at ``SECONDS_PER_CONFIGURATION``, for messages."""
    hours = configurations * SECONDS_PER_CONFIGURATION / 3600
    return f"{hours:,.0f} hours" if hours < 24 * 365 else f"{hours / (24 * 365):,.3g} years"


def _run(plan: Plan, out: Path | None, executor: _Scheduler,
         progress: Callable[[Progress], None] | None) -> SweepResult:
    started = time.perf_counter()
    store = ChunkStore(out, plan.key) if out is not None else None
    acc = Accumulator(plan, keep_rows=plan.rows and store is None)
    resumed = 0
    done_blocks: set[int] = set()
    if store is not None:
        for block in sorted(store.prepare()):
            arrays = store.load(block, rows=False)
            if arrays is None:  # unreadable: evaluate it again
                store.discard(block)
                continue
            acc.add(block, arrays)
            done_blocks.add(block)
            resumed += plan.block_range(block).size
    todo = [b for b in range(plan.blocks) if b not in done_blocks]
    done, computed = resumed, []
    finished = executor.run(plan, todo)
    try:
        for block, arrays in finished:
            if store is not None:
                store.write(block, arrays)
            acc.add(block, arrays)
            computed.append(block)
            done += plan.block_range(block).size
            if progress is not None:
                progress(Progress(done, plan.size, resumed, len(done_blocks) + len(computed), plan.blocks,
                                  time.perf_counter() - started))
    finally:
        finished.close()
    result = _result(plan, acc, sorted(computed), len(done_blocks), started)
    result.computed_configurations = done - resumed
    if store is not None:
        result.files = _write_files(plan, store, out, result)  # type: ignore[arg-type]
        store.remove()
    result.elapsed_s = time.perf_counter() - started
    return result


def _result(plan: Plan, acc: Accumulator, computed: list[int], resumed: int, started: float) -> SweepResult:
    reduce = plan.spec.reduce
    tables = []
    for parts in (acc.top, acc.front):
        tables.append([_reduction_table(plan, part) for part in parts])
    histograms = [{"metric": h.metric, "where": h.where, "spacing": h.spacing, "edges": h.edges(), **acc.hist[i]}
                  for i, h in enumerate(reduce.histogram)]
    columns = None
    if acc.rows is not None:
        columns = {**plan.columns(np.arange(plan.size, dtype=np.int64)), **acc.rows}
    refused = {"datatypes": sorted({e for e in plan.dtype_errors if e}),
               "layouts": sorted(set(plan.layout_errors)), "lengths": list(plan.context_errors)}
    counts = {k: acc.counts.get(k, 0) for k in ("valid", "fits", "meets_targets") if k in acc.counts}
    return SweepResult(plan.spec, plan.key, dict(plan.axes), plan.size, counts, tables[0], tables[1], histograms,
                       columns, {}, plan.blocks, computed, resumed, time.perf_counter() - started,
                       refused={k: v for k, v in refused.items() if v})


def _reduction_table(plan: Plan, rows: red.Rows | None) -> Table:
    """A reduction's rows with their configuration columns, in the reduction's order."""
    if rows is None or rows["config"].size == 0:
        empty = {**plan.columns(np.zeros(0, dtype=np.int64)), **{n: _fill(plan.dtypes[n], 0) for n in plan.metrics}}
        return Table({"rank": np.zeros(0, dtype=np.int64), **empty})
    config = rows["config"]
    return Table({"rank": np.arange(1, config.size + 1), **plan.columns(config),
                  **{name: values for name, values in rows.items() if name != "config"}})


def _write_files(plan: Plan, store: ChunkStore, out: Path, result: SweepResult) -> dict[str, Path]:
    """The rows (from the chunks, block by block) and the reduction tables, each written atomically."""
    prov = provenance()
    extra = {"sweep_key": plan.key, "spec": plan.spec.model_dump(mode="json")}
    files = {}
    if plan.rows:
        def blocks() -> Iterable[dict[str, Any]]:
            for block in range(plan.blocks):
                arrays = store.load(block, rows=True)
                if arrays is None:
                    raise ConfigurationError(f"out: the chunk {store.path(block)} disappeared or was damaged while "
                                             "the sweep ran; run it again to recompute it", "out")
                yield {**plan.columns(plan.block_range(block), strings=False),
                       **{name: arrays[f"rows.{name}"] for name in plan.metrics}}

        write_rows(out, blocks(), prov, extra)
        files["rows"] = out
    for kind, tables in (("top_k", result.top_k), ("pareto", result.pareto)):
        if tables:
            path = derived_path(out, kind)
            labelled = [t.assign(reduction=np.full(len(t), i)) for i, t in enumerate(tables)]
            joined = Table.concat(labelled)
            write_table(path, {name: joined[name] for name in ["reduction", *tables[0].columns]}, prov, extra)
            files[kind] = path
    if result.histograms:
        path = derived_path(out, "histogram")
        parts = {"reduction": [], "metric": [], "bin_low": [], "bin_high": [], "count": []}
        for i, h in enumerate(result.histograms):
            edges = h["edges"]
            lows = np.concatenate(([-np.inf], edges[:-1], [edges[-1]]))
            highs = np.concatenate(([edges[0]], edges[1:], [np.inf]))
            counts = np.concatenate(([h["below"]], h["counts"], [h["above"]]))
            parts["reduction"].append(np.full(counts.size, i))
            parts["metric"].append(np.full(counts.size, h["metric"]))
            parts["bin_low"].append(lows)
            parts["bin_high"].append(highs)
            parts["count"].append(counts)
        write_table(path, {k: np.concatenate(v) for k, v in parts.items()}, prov, extra)
        files["histogram"] = path
    return files
