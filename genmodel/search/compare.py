"""Rank hardware (or models) for one workload by cost per token, energy per token and latency.

Contract
--------
``compare_hardware(model, hardware, ...)`` evaluates the workload on each device or platform with the fewest
devices that hold it (``genmodel.search.planner.size``: one device when the model fits) and returns a ``Table``,
one row per hardware, sorted by ``usd_per_million_output_tokens`` ('cost'), ``energy_per_output_token_j``
('energy') or ``e2e_latency_s`` ('latency'); unknown figures (no price, no TDP) sort last. Usage errors (an
unknown name, a bad number, a datatype genmodel does not know) raise before anything is evaluated; hardware
that cannot run the workload (it does not fit on any split, it lacks the datatype) gets a row with ``fits``
False and the reason. ``hardware`` is a list of names or specs, each device or platform once (an empty name or
one given twice, under any alias, is refused; ``compare_models``' models alike); batch and lengths are single whole
numbers. Every row carries the realism in force (``realism_origin``, ``realism``, the factors) and
``realism_note(table)`` says when the rows were estimated under different assumptions, which every output that
shows a comparison must print (and what the user can do about it: ``--uncalibrated``, ``calibrated=False`` or one
``efficiency`` for all).
"""

from __future__ import annotations

import numpy as np

from genmodel.data.registry import get_model, resolve_hardware
from genmodel.economics.tco import CostAssumptions
from genmodel.engine.estimate import estimate
from genmodel.engine.inputs import check_context, dtype_argument
from genmodel.engine.realism import FACTORS, check_engine, resolve_realism
from genmodel.errors import ConfigurationError, DoesNotFitError, GenmodelError, InputTypeError, UnknownNameError
from genmodel.search.planner import size
from genmodel.specs.checks import MAX_BATCH, MAX_TOKENS, choice, flag, names, scalar, whole
from genmodel.specs.hardware import Efficiency
from genmodel.table import Table

SORT_KEYS = {"cost": "usd_per_million_output_tokens", "energy": "energy_per_output_token_j",
             "latency": "e2e_latency_s"}
COLUMNS = ("ttft_s", "tpot_s", "e2e_latency_s", "output_tokens_per_s_per_device", "energy_per_output_token_j",
           "avg_power_w", "usd_per_million_input_tokens", "usd_per_million_output_tokens", "usd_per_request",
           "usd_per_device_hour", "total_memory_bytes", "memory_capacity_bytes",
           "ttft_s_low", "ttft_s_high", "tpot_s_low", "tpot_s_high", "output_tokens_per_s_per_device_low",
           "output_tokens_per_s_per_device_high")


def _check(batch, input_tokens, output_tokens, dtypes, sort_by, calibrated, engine) -> None:
    """Usage errors, raised before any hardware is evaluated (hardware limits become rows instead)."""
    choice("sort_by", sort_by, tuple(SORT_KEYS))
    for name, value, most in (("batch", batch, MAX_BATCH), ("input_tokens", input_tokens, MAX_TOKENS),
                              ("output_tokens", output_tokens, MAX_TOKENS)):
        scalar(name, whole(name, value, 1, most))
    for name, value in dtypes.items():
        dtype_argument(name, value)
    flag("calibrated", calibrated)
    check_engine(engine)


def _listed(name: str, items: object, what: str) -> list:
    """``items`` as a list of names or specs: a list or tuple, its names non-empty and each given once."""
    if not isinstance(items, (list, tuple)):
        raise InputTypeError(f"{name} must be a list of {what} (names or specs), got {type(items).__name__}", name)
    given = [item for item in items if isinstance(item, str)]
    if given or not items:  # (specs are checked when resolved)
        names(name, given or items)
    return list(items)


def compare_hardware(model, hardware: list, batch: int = 8, input_tokens: int = 1024, output_tokens: int = 256,
                     weight_dtype=None, kv_dtype=None, activation_dtype=None, costs: CostAssumptions | None = None,
                     sort_by: str = "cost", calibrated: bool = True,
                     efficiency: Efficiency | None = None, engine: str | None = None) -> Table:
    """One row per hardware: the smallest split that holds the workload and its latency, energy and cost, with
    80% bands (``*_low``/``*_high``). ``engine``: one serving engine for every device (default: each device's
    usual one; the ``engine`` column says which)."""
    dtypes = {"weight_dtype": weight_dtype, "kv_dtype": kv_dtype, "activation_dtype": activation_dtype}
    _check(batch, input_tokens, output_tokens, dtypes, sort_by, calibrated, engine)
    hardware = _listed("hardware", hardware, "devices or platforms")
    model = get_model(model)
    check_context(model, input_tokens, output_tokens)
    resolved = [resolve_hardware(h) for h in hardware]  # unknown names fail here, before any work
    # each device or platform once, however it was named (an alias, a spec object): one row each
    names("hardware", [platform.name if platform else hw.name for hw, platform in resolved])
    rows = []
    for name, (hw, platform) in zip(hardware, resolved, strict=True):
        realism = resolve_realism(hw, efficiency, calibrated, engine)
        row: dict[str, object] = {"hardware": platform.name if platform else hw.name, "engine": realism.engine_label,
                                  "realism_origin": realism.origin, "realism": realism.basis,
                                  **{f: getattr(realism, f) for f in FACTORS}}
        try:
            best = size(model, name, batch, input_tokens, output_tokens, weight_dtype, kv_dtype, activation_dtype,
                        calibrated=calibrated, efficiency=efficiency, engine=engine).best
            split = {k: int(best[k]) for k in ("tp", "pp", "ep", "cp")}
            result = estimate(model, name, batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                              activation_dtype, attention_dp=bool(best.attention_dp), costs=costs,
                              calibrated=calibrated, efficiency=efficiency, engine=engine, **split)
        except UnknownNameError:
            raise
        except (DoesNotFitError, ConfigurationError) as exc:
            rows.append({**row, "devices": 0, "split": "", "fits": False, "reason": str(exc)})
            continue
        d = result.to_dict()
        rows.append({**row, "devices": d["devices"], "split": f"tp{split['tp']} pp{split['pp']} ep{split['ep']}",
                     "fits": True, "reason": "", **{k: d[k] for k in COLUMNS}})
    return _table(rows, sort_by)


def _table(rows: list[dict], sort_by: str) -> Table:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    for c in COLUMNS:
        if c not in columns:
            columns.append(c)
    numeric = set(COLUMNS) | set(FACTORS)
    data = {c: np.array([np.nan if r.get(c) is None else r[c] for r in rows], dtype=float) if c in numeric
            else [r.get(c, "") for r in rows] for c in columns}
    return Table(data).sort(SORT_KEYS[sort_by])


def compare_models(models: list, hardware, batch: int = 8, input_tokens: int = 1024, output_tokens: int = 256,
                   weight_dtype=None, kv_dtype=None, activation_dtype=None, costs: CostAssumptions | None = None,
                   sort_by: str = "cost", calibrated: bool = True, efficiency: Efficiency | None = None,
                   engine: str | None = None) -> Table:
    """One row per model on the same hardware (each on the fewest devices that hold it)."""
    _check(batch, input_tokens, output_tokens,
           {"weight_dtype": weight_dtype, "kv_dtype": kv_dtype, "activation_dtype": activation_dtype}, sort_by,
           calibrated, engine)
    specs = [get_model(m) for m in _listed("models", models, "models")]
    names("models", [spec.name for spec in specs])  # each model once, however it was named
    for spec in specs:
        check_context(spec, input_tokens, output_tokens)
    parts = []
    for spec in specs:
        part = compare_hardware(spec, [hardware], batch, input_tokens, output_tokens, weight_dtype, kv_dtype,
                                activation_dtype, costs, sort_by, calibrated, efficiency, engine)
        parts.append(part.assign(model=spec.name))
    return Table.concat(parts).sort(SORT_KEYS[sort_by])


def realism_note(table: Table) -> str | None:
    """A sentence when the rows were estimated under different realism assumptions, else None."""
    if len(table) < 2 or "realism" not in table:
        return None
    fields = (*FACTORS, "realism_origin", *(("engine",) if "engine" in table else ()))
    keys = {tuple(np.asarray(table[f])[i] for f in fields) for i in range(len(table))}
    if len(keys) == 1:
        return None
    origins = sorted(set(table["realism_origin"]))
    engines = sorted(set(table["engine"])) if "engine" in table else []
    served = (f"; the devices are served by different engines ({', '.join(engines)}), whose host costs differ: "
              "--engine puts every device on one" if len(engines) > 1 else "")
    return ("the rows use different realism assumptions (" + ", ".join(origins) + "; see the realism column"
            + served + "): calibrated factors describe measured software stacks, kind defaults are documented "
            "guesses, so part of any gap is the assumption, not the hardware. Use --uncalibrated to put every "
            "device on its kind's defaults (from Python: calibrated=False, or one efficiency=Efficiency(...) for "
            "all)")


__all__ = ["COLUMNS", "SORT_KEYS", "GenmodelError", "compare_hardware", "compare_models", "realism_note"]
