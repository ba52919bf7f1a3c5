"""Read data files (YAML or JSON) and turn validation errors into one readable line.

Contract
--------
``load_mapping(path)`` returns the mapping one file holds, or raises ``SpecError`` naming the file and what is
wrong with it: missing or unreadable, a folder, larger than ``MAX_FILE_BYTES``, not UTF-8 text, not valid
JSON/YAML, nested deeper than Python can follow, expanding (through YAML aliases) to more than ``MAX_VALUES``
values, or holding something other than one mapping. JSON (a file ending in ``.json`` or starting with ``{``)
is parsed by the ``json`` module; YAML by PyYAML's C loader when it is built in (about 10x faster than the
pure-Python one), else the safe Python loader. ``ParseCache.load_mapping`` returns the same mapping and raises
the same errors, but keeps the mappings of files that parsed cleanly (keyed by their text) in a file between
runs, so an unchanged file is not parsed again. ``format_validation_error`` writes a Pydantic error as
``field.path: message`` parts and never repeats the offending value (which may be huge).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import marshal
import os
import reprlib
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from genmodel.errors import SpecError

MAX_FILE_BYTES = 16 * 2**20  # a spec or config.json is a few kB; 16 MiB leaves room and bounds the work
MAX_VALUES = 1_000_000  # values a parsed file may expand to (YAML aliases can multiply a small file)
Spec = TypeVar("Spec", bound=BaseModel)
T = TypeVar("T")


@functools.cache
def _yaml() -> tuple[Any, Any]:
    """(PyYAML, its safe loader: the C one where built in), imported on first use: a start whose data files are all
    in the caches (``ParseCache``, ``genmodel.data.entry_cache``) parses no YAML and never imports it."""
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxdict = 4
_short.maxlevel = 2


def short(value: object) -> str:
    """A repr of ``value`` cut to a few dozen characters, safe for any value (for error messages)."""
    return _short.repr(value)


def exists(path: Path) -> bool:
    """``path.exists()``, or True where the system cannot say (a name too long, a NUL byte): the reader that follows
    (``read_text``) then says why the file cannot be read, in one ``SpecError``."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return True


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; ``SpecError`` naming the file when it cannot be read as such."""
    path = Path(path)
    try:
        info = path.stat()  # one system call for the three checks below
        if stat.S_ISDIR(info.st_mode):
            raise SpecError(f"{path} is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"{path} is not a regular file (a device or a pipe?); give a {what}")
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"{path} is {size / 2**20:.0f} MiB, too large for a {what} "
                            f"(limit {MAX_FILE_BYTES // 2**20} MiB)")
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        shown = str(path) if len(str(path)) <= 120 else f"{str(path)[:60]}...{str(path)[-40:]}"
        raise SpecError(f"cannot read {shown}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text (a binary file?)") from None


def _count_values(data: Any, limit: int) -> int:
    """Values in ``data`` counted through shared references, stopping past ``limit`` (no recursion)."""
    seen, stack = 0, [data]
    while stack:
        item = stack.pop()
        seen += 1
        if seen > limit:
            return seen
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def parse_mapping(text: str, where: str) -> dict:
    """The mapping ``text`` holds (JSON or YAML); ``SpecError`` naming ``where`` otherwise."""
    stripped = text.lstrip()
    try:
        if where.endswith(".json") or stripped.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SpecError(f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") \
                    from None
        else:
            yaml, loader = _yaml()
            try:
                data = yaml.load(text, Loader=loader)
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
                problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
                if "exceeded max" in problem:  # libyaml's depth limit
                    raise SpecError(f"{where} is nested too deeply to read") from None
                raise SpecError(f"{where} is not valid YAML/JSON: {problem}{at}") from None
    except RecursionError:
        raise SpecError(f"{where} is nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer literal of more than 4,300 digits
        raise SpecError(f"{where} cannot be read: {str(exc)[:120]}") from None
    if _count_values(data, MAX_VALUES) > MAX_VALUES:
        raise SpecError(f"{where} expands to more than {MAX_VALUES:,} values (YAML aliases?); refusing to read it")
    if not isinstance(data, dict):
        raise SpecError(f"{where} must hold one mapping (key: value pairs), not {type(data).__name__}")
    return data


def load_mapping(path: str | Path) -> dict:
    """Read one YAML or JSON file holding a mapping; ``SpecError`` if it cannot (see the module docstring)."""
    return parse_mapping(read_text(path, "data file"), str(path))


def checksum(data: bytes) -> bytes:
    """A 16-byte hash of ``data`` (the caches' keys and their files' guard against damage)."""
    return hashlib.blake2b(data, digest_size=16).digest()


class ParseCache:
    """The mappings of data files that parsed cleanly, by a hash of their text, kept in one file between runs.

    Building Python objects from YAML is most of the cost of reading the databases, even with the C parser
    (about 20 ms for the built-in ones); a cached mapping is read back with ``marshal`` in microseconds.
    ``load_mapping`` reads the file every time (with ``read_text``'s checks) and parses it only when its text is
    not in the cache, so an edited file is parsed again; a file that does not parse is never stored, so its
    error is raised exactly as without a cache. The cache only saves time: a missing, unreadable or damaged
    cache file counts as empty, a folder that cannot be written is not used, and a mapping ``marshal`` cannot
    hold (a YAML timestamp) is parsed every time. ``save`` writes the file atomically (concurrent processes
    never see half a file; the last writer wins).
    """

    MAX_ENTRIES = 4096  # past this many stored files, a save keeps only those this process used

    @staticmethod
    @functools.cache
    def _salt() -> bytes:
        """What the cache's contents depend on besides the text: its layout and the parser that made them."""
        yaml, loader = _yaml()
        return f"genmodel-parse-cache 1|{yaml.__version__}|{loader.__name__}|".encode()

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: keep nothing between runs
        self._stored: dict[bytes, bytes] | None = None  # read from the file on first use
        self._used: dict[bytes, bytes] = {}
        self._changed = False

    def _entries(self) -> dict[bytes, bytes]:
        if self._stored is None:
            self._stored = {}
            if self.path is not None:
                try:  # the file is a checksum of its contents, then the contents (marshal is not for damaged data)
                    raw = self.path.read_bytes()
                    stored = marshal.loads(raw[16:]) if raw[:16] == checksum(raw[16:]) else None
                except Exception:  # missing, unreadable, or from another Python: start afresh
                    stored = None
                if isinstance(stored, dict):
                    self._stored = stored
        return self._stored

    def load_mapping(self, path: str | Path) -> dict:
        """``load_mapping(path)``: the same mapping and the same errors, without parsing a text seen before."""
        return self.mapping(read_text(path, "data file"), str(path))

    def mapping(self, text: str, where: str) -> dict:
        """``parse_mapping(text, where)``, without parsing a text seen before."""
        key = checksum(self._salt() + (b"json|" if where.endswith(".json") else b"yaml|") + text.encode())
        return self.kept(key, dict, marshal.loads, lambda: parse_mapping(text, where), marshal.dumps)

    def kept(self, key: bytes, kind: type[T], decode: Callable[[bytes], Any], make: Callable[[], T],
             encode: Callable[[T], bytes]) -> T:
        """The value stored under ``key`` when it decodes to exactly a ``kind``, else ``make()``, stored encoded for
        the next run; a value ``encode`` cannot hold is made every time. Shared by the parsed mappings here
        (``marshal`` gives plain dicts) and the validated entries (``genmodel.data.entry_cache``)."""
        blob = self._used.get(key) or self._entries().get(key)
        if isinstance(blob, bytes):
            try:
                value = decode(blob)
            except Exception:  # damaged, or from code that no longer reads it: make it again
                value = None
            if type(value) is kind:
                self._used[key] = blob
                return value
        value = make()
        try:
            blob = encode(value)
        except Exception:  # a value the encoding cannot hold (a YAML timestamp for marshal)
            return value
        self._used[key] = blob
        self._changed = True
        return value

    def save(self) -> None:
        """Write the mappings parsed since the last save to the cache file (nothing when none were)."""
        if not self._changed or self.path is None:
            return
        entries = {**self._entries(), **self._used}
        if len(entries) > self.MAX_ENTRIES:
            entries = dict(self._used)
        self._stored, self._changed = entries, False
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp", dir=self.path.parent)
            payload = marshal.dumps(entries)
            with os.fdopen(fd, "wb") as out:
                out.write(checksum(payload) + payload)
            os.replace(tmp, self.path)
        except OSError:  # a read-only or full disk: run without a cache
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def format_validation_error(err: ValidationError) -> str:
    """One part per problem, 'field.path: message', joined by '; ' (input values are never repeated)."""
    return str(spec_error("", err)).removeprefix(": ")


def spec_error(where: str, err: ValidationError) -> SpecError:
    """A one-line ``SpecError`` for a Pydantic error: ``where: field: message; ...``. ``argument`` names the first
    field at fault and ``problems`` keeps every (field path, message) pair, for forms that show them one by one."""
    problems = [(".".join(str(p) for p in e["loc"]) or "(entry)", e["msg"].removeprefix("Value error, "))
                for e in err.errors(include_input=False, include_url=False)]
    exc = SpecError(f"{where}: {'; '.join(f'{loc}: {msg}' for loc, msg in problems)}",
                    problems[0][0] if problems else None)
    exc.problems = problems
    return exc


def validate_spec(data: Any, cls: type[Spec], where: str) -> Spec:
    """``cls.model_validate(data)`` with a ``SpecError`` naming ``where`` and the fields on failure."""
    try:
        return cls.model_validate(data)
    except SpecError as exc:
        problems = getattr(exc, "problems", None)
        if problems is None:
            raise
        new = SpecError(f"{where}: {'; '.join(f'{loc}: {msg}' for loc, msg in problems)}", exc.argument)
        new.problems = problems
        raise new from None
    except RecursionError:
        raise SpecError(f"{where} is nested too deeply to read") from None


def load_spec_file(path: str | Path, cls: type[Spec]) -> Spec:
    """Read one YAML/JSON file and validate it as ``cls``; errors name the file and the field."""
    return validate_spec(load_mapping(path), cls, Path(path).name)
