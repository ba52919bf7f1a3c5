"""``Table``: named columns of equal length (NumPy arrays): the tabular results of genmodel, without pandas.

Contract
--------
A ``Table`` holds one 1-d NumPy array per column. Indexing by a column name (or attribute access) gives the
array; by a boolean mask, an integer array or a slice gives a new ``Table`` of those rows; by a list of names, a
``Table`` of those columns. ``sort`` is stable, puts NaN last and takes several keys; ``rows()`` yields ``Row``
objects (dicts with attribute access); ``to_records()`` gives JSON-ready dicts (NaN becomes None);
``to_csv`` writes with the csv module; ``to_pandas()`` converts when pandas is installed (it is an optional
dependency: the dashboard extra brings it).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np


class Row(dict):
    """One row of a ``Table``: a dict whose values are also attributes (``row.tpot_s``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def plain(value: Any) -> Any:
    """A NumPy scalar as a plain Python value; NaN as None (JSON null)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def json_value(value: Any) -> Any:
    """A value, array or dict of them as plain Python for JSON: arrays as lists, 0-d arrays and NumPy scalars as
    Python scalars, non-finite floats (unbounded waits, unreachable targets) as None (JSON null)."""
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        arr = np.where(np.isfinite(arr), arr, None)
    return arr.item() if arr.ndim == 0 else arr.tolist()


class Table:
    """Named columns of equal length; see the module docstring."""

    def __init__(self, columns: Mapping[str, Any] | None = None) -> None:
        arrays = {name: np.asarray(values) for name, values in (columns or {}).items()}
        lengths = {len(a.reshape(-1)) for a in arrays.values() if a.ndim}
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        length = lengths.pop() if lengths else (1 if arrays else 0)
        cols: dict[str, np.ndarray] = {}
        for name, arr in arrays.items():  # a single value is repeated down the column
            cols[name] = np.full(length, arr.item(), dtype=arr.dtype) if arr.ndim == 0 else arr.reshape(-1)
        object.__setattr__(self, "_cols", cols)
        object.__setattr__(self, "_len", length or 0)

    # ---- access --------------------------------------------------------------------------------------
    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def __len__(self) -> int:
        return self._len

    @property
    def empty(self) -> bool:
        return self._len == 0

    def __contains__(self, name: object) -> bool:
        return name in self._cols

    def __getattr__(self, name: str) -> np.ndarray:
        cols = self.__dict__.get("_cols", {})
        if name in cols:
            return cols[name]
        raise AttributeError(name)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._cols[key]
        if isinstance(key, list) and all(isinstance(k, str) for k in key):
            return Table({k: self._cols[k] for k in key})
        return Table({k: v[key] for k, v in self._cols.items()})

    def __setitem__(self, name: str, values: Any) -> None:
        arr = np.asarray(values)
        if arr.ndim == 0:
            arr = np.full(self._len, arr.item())
        if self._cols and len(arr) != self._len:
            raise ValueError(f"column {name!r} has {len(arr)} values, the table {self._len}")
        if not self._cols:
            object.__setattr__(self, "_len", len(arr))
        self._cols[name] = arr

    def assign(self, **columns: Any) -> Table:
        """A copy with ``columns`` added or replaced."""
        out = Table(self._cols)
        for name, values in columns.items():
            out[name] = values
        return out

    def head(self, n: int) -> Table:
        return self[slice(0, max(n, 0))]

    def sort(self, by: str | list[str], descending: bool | list[bool] = False) -> Table:
        """Rows ordered by the columns ``by`` (first key most significant); stable; NaN last."""
        keys = [by] if isinstance(by, str) else list(by)
        desc = [descending] * len(keys) if isinstance(descending, bool) else list(descending)
        order = np.arange(self._len)
        for key, down in reversed(list(zip(keys, desc, strict=True))):
            values = self._cols[key][order]
            if values.dtype.kind in "fiub":
                v = values.astype(float)
                nan = np.isnan(v)
                v = np.where(nan, 0.0, -v if down else v)
                idx = np.lexsort((v, nan))
            else:
                idx = np.argsort(values, kind="stable")
                if down:
                    idx = idx[::-1]
            order = order[idx]
        return self[order]

    def rows(self) -> Iterator[Row]:
        names = list(self._cols)
        for values in zip(*(self._cols[n] for n in names), strict=True):
            yield Row(zip(names, (plain(v) for v in values), strict=True))

    itertuples = rows

    def row(self, i: int) -> Row:
        return Row((k, plain(v[i])) for k, v in self._cols.items())

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per row (plain Python values, NaN as None)."""
        return [dict(r) for r in self.rows()]

    def to_csv(self, path: str | Path | None = None, extra: Mapping[str, Any] | None = None) -> str | None:
        """Write CSV to ``path`` (or return it as text); ``extra`` adds constant columns (e.g. provenance)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        extra = dict(extra or {})
        writer.writerow([*self._cols, *extra])
        for r in self.rows():
            writer.writerow([_cell(v) for v in [*r.values(), *extra.values()]])
        if path is None:
            return buffer.getvalue()
        Path(path).write_text(buffer.getvalue())
        return None

    def to_pandas(self):
        """A pandas DataFrame of this table (needs pandas: ``pip install 'genmodel[dashboard]'``)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            from genmodel.errors import ConfigurationError

            raise ConfigurationError("to_pandas() needs pandas: pip install 'genmodel[dashboard]'") from None
        return pd.DataFrame({k: v for k, v in self._cols.items()})

    @classmethod
    def concat(cls, tables: Iterable[Table]) -> Table:
        """Rows of ``tables`` one after the other (columns missing from a table are filled with NaN/'')."""
        tables = [t for t in tables if len(t)]
        if not tables:
            return cls()
        names = list(dict.fromkeys(n for t in tables for n in t.columns))
        out = {}
        for n in names:
            parts = []
            for t in tables:
                if n in t:
                    parts.append(t[n])
                else:
                    kinds = [u[n].dtype.kind for u in tables if n in u]
                    fill = "" if kinds and kinds[0] in "OUS" else np.nan
                    parts.append(np.full(len(t), fill, dtype=object if fill == "" else float))
            out[n] = np.concatenate(parts)
        return cls(out)

    def __repr__(self) -> str:
        head = ", ".join(self.columns[:6]) + (", ..." if len(self.columns) > 6 else "")
        return f"Table({self._len} rows: {head})"


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value
