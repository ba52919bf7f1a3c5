"""Where a sweep's results live: chunks written atomically as blocks finish, and the Parquet or CSV files assembled
from them (genmodel.search.sweep, docs/sweeps.md section 5).

Contract
--------
* ``ChunkStore(out, key)``: the folder ``<out>.chunks/`` holds one ``<key>-<block>.npz`` file per finished block
  (NumPy's uncompressed archive: exact, no pickling). A chunk is written to a temporary name, flushed to disk and
  renamed, so a chunk file is either complete or absent, whatever interrupts the process. ``prepare()`` removes
  temporary files left by a killed run and chunks of other keys (another spec, genmodel version or database), and
  returns the blocks already done; a chunk that cannot be read back, or whose recorded key or block differ, counts
  as not done.
* ``write_rows(path, ...)`` streams the chunks, in block order, into one Parquet file (one row group per block;
  strings dictionary-encoded; the provenance, the sweep's key and its spec in the file's metadata) or one CSV file
  (the provenance columns appended, as every genmodel CSV), through a temporary file renamed at the end: memory
  holds one block at a time. ``write_table`` writes a small table the same way. pyarrow is needed for files
  (the ``sweep`` extra); it is imported only here, when a file is written or read.
* ``read_sweep(path)`` reads a written file back as NumPy arrays (strings as ``str`` arrays).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genmodel.errors import ConfigurationError

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_CHUNK = re.compile(r"^(?P<key>[0-9a-f]{16})-(?P<block>\d{8,})\.npz$")


def output_format(path: Path) -> str:
    """'parquet' or 'csv' from the file's suffix; ``ConfigurationError`` naming ``out`` otherwise."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigurationError(f"out {path}: name a .parquet or .csv file (the format follows the suffix)", "out")
    return fmt


def check_writable(path: Path) -> None:
    """``ConfigurationError`` naming ``out`` unless ``path`` (and the chunk folder beside it) can be written."""
    if path.is_dir():
        raise ConfigurationError(f"out {path} is a folder; give a file name", "out")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigurationError(f"out {path}: the folder {parent} does not exist", "out")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigurationError(f"out {path}: cannot write there (permission denied)", "out")


def derived_path(out: Path, what: str) -> Path:
    """The file of one kind of reduction beside ``out``: results.parquet -> results.top_k.parquet."""
    return out.with_name(f"{out.stem}.{what}{out.suffix}")


def need_pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise ConfigurationError("out: writing and reading sweep files needs pyarrow: pip install "
                                 "'genmodel[sweep]'", "out") from None
    return pyarrow


class ChunkStore:
    """One sweep's finished blocks on disk (module docstring)."""

    def __init__(self, out: Path, key: str) -> None:
        self.out = out
        self.folder = out.with_name(out.name + ".chunks")
        self.key = key

    def path(self, block: int) -> Path:
        return self.folder / f"{self.key}-{block:08d}.npz"

    def prepare(self) -> set[int]:
        """Create the folder, clear what a killed run or another sweep left, and return the blocks done."""
        try:
            self.folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"out {self.out}: cannot create the chunk folder {self.folder} beside it: "
                                     f"{exc.strerror or exc}", "out") from None
        done = set()
        for entry in self.folder.iterdir():
            match = _CHUNK.match(entry.name)
            if entry.name.endswith(".tmp") or (match and match["key"] != self.key):
                entry.unlink(missing_ok=True)
            elif match:
                done.add(int(match["block"]))
        return done

    def write(self, block: int, arrays: Mapping[str, np.ndarray]) -> None:
        """Write one block atomically (a temporary file, flushed, then renamed)."""
        final = self.path(block)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                np.savez(handle, **{"meta.key": np.array(self.key), "meta.block": np.array(block)}, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError as exc:  # the disk filled up, the folder went away: the chunks written so far are kept
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise ConfigurationError(f"out {self.out}: cannot write the chunk {final}: {exc.strerror or exc}",
                                     "out") from None

    def load(self, block: int, rows: bool = True) -> dict[str, np.ndarray] | None:
        """The arrays of one block (without the ``rows.*`` ones unless ``rows``); None when unreadable."""
        try:
            with np.load(self.path(block), allow_pickle=False) as archive:
                if str(archive["meta.key"]) != self.key or int(archive["meta.block"]) != block:
                    return None
                return {name: archive[name] for name in archive.files
                        if not name.startswith("meta.") and (rows or not name.startswith("rows."))}
        except (OSError, ValueError, KeyError, EOFError):
            return None

    def discard(self, block: int) -> None:
        self.path(block).unlink(missing_ok=True)

    def remove(self) -> None:
        """Delete this sweep's chunks (after its files are written) and the folder when nothing else is in it."""
        for entry in self.folder.glob(f"{self.key}-*.npz"):
            entry.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # something else is in it
            self.folder.rmdir()


def _arrow_column(pa: Any, values: np.ndarray | tuple[np.ndarray, list[str]], fmt: str) -> Any:
    """A column: numbers as they are; (codes, labels) as a dictionary (Parquet) or plain strings (CSV)."""
    if isinstance(values, tuple):
        codes, labels = values
        dictionary = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels, pa.string()))
        return dictionary if fmt == "parquet" else dictionary.dictionary_decode()
    if values.dtype.kind == "U":
        return pa.array(values.tolist(), pa.string())
    return pa.array(values)


def _table(pa: Any, columns: Mapping[str, Any], fmt: str, provenance: Mapping[str, Any]) -> Any:
    arrays = {name: _arrow_column(pa, values, fmt) for name, values in columns.items()}
    if fmt == "csv":  # every genmodel CSV carries its provenance in columns
        n = len(next(iter(arrays.values()))) if arrays else 0
        arrays.update({k: pa.array([v] * n) for k, v in provenance.items()})
    return pa.table(arrays)


def _metadata(provenance: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[bytes, bytes]:
    return {b"genmodel": json.dumps({**provenance, **extra}, sort_keys=True).encode()}


def write_rows(path: Path, blocks: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
               extra: Mapping[str, Any]) -> int:
    """Stream ``blocks`` (one mapping of columns each) into ``path``; returns the rows written."""
    need_pyarrow()
    import pyarrow as pa

    fmt = output_format(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    writer, rows = None, 0
    try:
        for columns in blocks:
            table = _table(pa, columns, fmt, provenance)
            if writer is None:
                writer = _writer(tmp, table.schema.with_metadata(_metadata(provenance, extra)), fmt)
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata) if fmt == "parquet" else table)
            rows += table.num_rows
        if writer is not None:
            writer.close()
            writer = None
            os.replace(tmp, path)
    except OSError as exc:  # (pyarrow's I/O errors are OSErrors too)
        raise ConfigurationError(f"out {path}: cannot write it: {getattr(exc, 'strerror', None) or exc}",
                                 "out") from None
    finally:
        if writer is not None:
            writer.close()
        Path(tmp).unlink(missing_ok=True)
    return rows


def _writer(path: Path, schema: Any, fmt: str) -> Any:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema)
    import pyarrow.csv as pcsv

    return pcsv.CSVWriter(path, schema)


def write_table(path: Path, columns: Mapping[str, Any], provenance: Mapping[str, Any],
                extra: Mapping[str, Any]) -> None:
    write_rows(path, [columns], provenance, extra)


def read_sweep(path: str | Path) -> dict[str, np.ndarray]:
    """A sweep file written by ``genmodel sweep`` as NumPy arrays, one per column."""
    need_pyarrow()
    path = Path(path)
    if output_format(path) == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.csv as pcsv

        # CSV text has no types ("1" for 1.0): the columns a sweep writes get theirs back
        types = {name: _ARROW_TYPES[np.dtype(dtype).kind] for name, dtype in column_dtypes().items()}
        table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types=types))
    out = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if hasattr(column, "dictionary_decode"):
            column = column.dictionary_decode()
        if column.type == "string":  # an empty text cell reads back as null
            column = column.fill_null("")
        values = column.to_numpy(zero_copy_only=False)
        out[name] = values.astype(str) if values.dtype == object else values
    return out


_ARROW_TYPES = {"f": "float64", "i": "int64", "b": "bool", "U": "string"}


def column_dtypes() -> dict[str, str]:
    """The NumPy dtype of every column a sweep may write (float metrics as float64)."""
    from genmodel.search.sweep import estimate_metrics

    columns = {"config": "int64", "rank": "int64", "reduction": "int64", "bin_low": "float64",
               "bin_high": "float64", "count": "int64", "valid": "bool", "meets_targets": "bool",
               "attention_dp": "bool", "batch": "int64", "input_tokens": "int64", "output_tokens": "int64"}
    columns.update({name: "<U16" for name in ("model", "hardware", "use_case", "metric", "weight_dtype",
                                               "activation_dtype", "kv_dtype", "embedding_dtype")})
    columns.update({name: "int64" for name in ("tp", "pp", "ep", "dp", "cp")})
    columns.update({name: "float64" for name in ("flops_scale", "bandwidth_scale", "capacity_scale",
                                                 "interconnect_scale")})
    return {**estimate_metrics(), **columns}


def metadata(path: str | Path) -> dict[str, Any]:
    """The provenance, key and spec recorded in a Parquet file written by a sweep."""
    need_pyarrow()
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta.get(b"genmodel", b"{}"))
