"""Validated database entries kept between runs, so that a start validates only the files that changed.

Contract
--------
``EntryCache.load(path, cls, parse)`` returns the spec ``validate_spec(parse(path), cls, path.name)`` would, and
raises the same errors. It reads the file's text every time; when that text was validated as ``cls`` before, by the
same spec code, the entry is read back (``pickle``) instead of parsed and validated again. Validation is most of a
start's cost for the databases: building a spec class's Pydantic validator (about 60 ms for the model, device and
engine classes, most of it importing ``importlib.metadata`` for Pydantic's plugin search) and running it (about
15 ms for the built-in entries); reading an entry back takes a few microseconds and builds no validator.

* The key of an entry is a hash of its file's text, the spec class's name, and the code that validates it: the
  source of every module of ``genmodel.specs`` and of ``genmodel.errors``, the Pydantic version and the Python
  version. An edited file, an upgraded genmodel or Pydantic, or an edited spec module in a checkout misses, and its
  file is validated again; a file that does not validate is never stored, so its error is raised exactly as without
  the cache.
* The cache only saves time: a missing, unreadable or damaged cache file counts as empty (a checksum guards
  against damage), an entry that does not read back as a ``cls`` is validated again, a folder that cannot be
  written is not used. ``save`` writes atomically (the last writer wins).
* What is read back is trusted as the user's own cache (as Python trusts its ``__pycache__``): the cache folder
  (``GENMODEL_CACHE_DIR``, else platformdirs' user cache folder) must not be writable by others.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from genmodel.specs.files import ParseCache, checksum, read_text, validate_spec

Spec = TypeVar("Spec", bound=BaseModel)
_GENMODEL = Path(__file__).resolve().parent.parent  # .../genmodel


@functools.cache
def code_salt() -> bytes | None:
    """What validated entries depend on besides their text: the spec code (every module of ``genmodel.specs`` and
    ``genmodel.errors``, read as bytes), Pydantic's version and Python's; None where that code cannot be read (then
    nothing is cached)."""
    import pydantic

    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"genmodel-entry-cache 1|{pydantic.VERSION}|{sys.version}|".encode())
    try:
        for source in (*sorted((_GENMODEL / "specs").glob("*.py")), _GENMODEL / "errors.py"):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    except OSError:
        return None
    return digest.digest()


class EntryCache(ParseCache):
    """Validated entries by a hash of their text and of the code that validated them, kept in one file (see the
    module docstring); stored, saved and read back as ``ParseCache`` keeps its mappings, with pickled entries for
    marshalled mappings."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(path if code_salt() is not None else None)  # None: keep nothing between runs

    def load(self, path: Path, cls: type[Spec], parse: Callable[[str, str], dict]) -> Spec:
        """The entry in ``path`` validated as ``cls``: read back when its text was validated before, else
        ``validate_spec(parse(text, str(path)), cls, path.name)`` (and stored)."""
        text = read_text(path, "data file")
        salt = code_salt()
        if self.path is None or salt is None:
            return validate_spec(parse(text, str(path)), cls, path.name)
        key = checksum(salt + f"{cls.__module__}.{cls.__qualname__}|{path.suffix}|".encode() + text.encode())
        return self.kept(key, cls, pickle.loads, lambda: validate_spec(parse(text, str(path)), cls, path.name),
                         lambda spec: pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
