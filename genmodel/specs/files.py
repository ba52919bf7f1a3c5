"""Read data files (YAML or JSON) and turn validation errors into one readable line.

Contract
--------
``load_mapping(path)`` returns the mapping one file holds, or raises ``SpecError`` naming the file and what is
wrong with it: missing or unreadable, a folder, larger than ``MAX_FILE_BYTES``, not UTF-8 text, not valid
JSON/YAML, nested deeper than Python can follow, expanding (through YAML aliases) to more than ``MAX_VALUES``
values, or holding something other than one mapping. JSON (a file ending in ``.json`` or starting with ``{``)
is parsed by the ``json`` module; YAML by PyYAML's C loader when it is built in (about 10x faster than the
pure-Python one), else the safe Python loader. ``format_validation_error`` writes a Pydantic error as
``field.path: message`` parts and never repeats the offending value (which may be huge).
"""

from __future__ import annotations

import json
import reprlib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from genmodel.errors import SpecError

MAX_FILE_BYTES = 16 * 2**20  # a spec or config.json is a few kB; 16 MiB leaves room and bounds the work
MAX_VALUES = 1_000_000  # values a parsed file may expand to (YAML aliases can multiply a small file)
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Spec = TypeVar("Spec", bound=BaseModel)

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxdict = 4
_short.maxlevel = 2


def short(value: object) -> str:
    """A repr of ``value`` cut to a few dozen characters, safe for any value (for error messages)."""
    return _short.repr(value)


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``; ``SpecError`` naming the file when it cannot be read as such."""
    path = Path(path)
    try:
        if path.is_dir():
            raise SpecError(f"{path} is a folder, not a {what}")
        if path.exists() and not path.is_file():
            raise SpecError(f"{path} is not a regular file (a device or a pipe?); give a {what}")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"{path} is {size / 2**20:.0f} MiB, too large for a {what} "
                            f"(limit {MAX_FILE_BYTES // 2**20} MiB)")
        data = path.read_bytes()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise SpecError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
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
            try:
                data = yaml.load(text, Loader=SAFE_LOADER)
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
