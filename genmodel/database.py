"""Load and look up the built-in model and hardware databases (``models_db/``, ``hardware_db/``).

Contract
--------
Each YAML file in a database folder holds one entry, validated by ``ModelSpec`` / ``HardwareSpec`` on
load; a file that fails validation raises ``SpecError`` naming the file and the field. Lookups are
case-insensitive and also accept the entry's display name; unknown names raise ``UnknownNameError``
suggesting the closest entries. Databases are read once per process and cached.

The folders default to the ones next to the ``genmodel`` package (editable install, as the README
says); ``GENMODEL_MODELS_DB`` / ``GENMODEL_HARDWARE_DB`` point elsewhere.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from genmodel.errors import SpecError, unknown_name
from genmodel.hardware_spec import HardwareSpec
from genmodel.model_spec import ModelSpec
from genmodel.platform_spec import PlatformSpec

_ROOT = Path(__file__).resolve().parent.parent
Spec = TypeVar("Spec", bound=BaseModel)


def models_dir() -> Path:
    """Folder holding the model YAML files."""
    return Path(os.environ.get("GENMODEL_MODELS_DB", _ROOT / "models_db"))


def hardware_dir() -> Path:
    """Folder holding the hardware YAML files."""
    return Path(os.environ.get("GENMODEL_HARDWARE_DB", _ROOT / "hardware_db"))


def platforms_dir() -> Path:
    """Folder holding the platform (multi-device system) YAML files."""
    return Path(os.environ.get("GENMODEL_PLATFORMS_DB", hardware_dir() / "platforms"))


def format_validation_error(err: ValidationError) -> str:
    """One line per problem: 'field.path: message'."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(entry)"
        lines.append(f"{loc}: {e['msg']}")
    return "; ".join(lines)


def load_mapping(path: str | Path) -> dict:
    """Read one YAML or JSON file (JSON is valid YAML) holding a mapping; ``SpecError`` if it cannot."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{path} is not valid YAML/JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"{path} must hold one mapping (an entry), not {type(data).__name__}")
    return data


def load_spec_file(path: str | Path, cls: type[Spec]) -> Spec:
    """Read one YAML/JSON file and validate it as ``cls``; errors name the file and the field."""
    path = Path(path)
    data = load_mapping(path)
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        raise SpecError(f"{path.name}: {format_validation_error(exc)}") from exc


def _load_dir(folder: Path, cls: type[Spec]) -> dict[str, Spec]:
    entries: dict[str, Spec] = {}
    files = sorted(p for p in folder.glob("*") if p.suffix in (".yaml", ".yml", ".json"))
    if not files:
        raise SpecError(f"no database files found in {folder}")
    for path in files:
        spec = load_spec_file(path, cls)
        if spec.name in entries:
            raise SpecError(f"duplicate entry name {spec.name!r} in {path}")
        entries[spec.name] = spec
    return entries


@functools.cache
def _models(folder: str) -> dict[str, ModelSpec]:
    return _load_dir(Path(folder), ModelSpec)


@functools.cache
def _hardware(folder: str) -> dict[str, HardwareSpec]:
    return _load_dir(Path(folder), HardwareSpec)


@functools.cache
def _platforms(folder: str) -> dict[str, PlatformSpec]:
    return _load_dir(Path(folder), PlatformSpec)


def all_platforms() -> dict[str, PlatformSpec]:
    """Every multi-device platform in the database, by name."""
    return _platforms(str(platforms_dir()))


def get_platform(name: str | PlatformSpec) -> PlatformSpec:
    """The platform called ``name`` (a ``PlatformSpec`` passes through)."""
    if isinstance(name, PlatformSpec):
        return name
    return _lookup(name, all_platforms(), "platform", "genmodel platforms")


def all_models() -> dict[str, ModelSpec]:
    """Every model in the database, by name."""
    return _models(str(models_dir()))


def all_hardware() -> dict[str, HardwareSpec]:
    """Every device in the database, by name."""
    return _hardware(str(hardware_dir()))


def _lookup(name: str, table: dict[str, Spec], kind: str, command: str) -> Spec:
    key = name.strip().lower()
    for spec in table.values():
        if key in (spec.name.lower(), getattr(spec, "display_name", "").lower()):
            return spec
    raise unknown_name(kind, name, list(table), command)


def get_model(name: str | ModelSpec) -> ModelSpec:
    """The model called ``name`` (a ``ModelSpec`` passes through)."""
    if isinstance(name, ModelSpec):
        return name
    return _lookup(name, all_models(), "model", "genmodel models")


def get_hardware(name: str | HardwareSpec) -> HardwareSpec:
    """The device called ``name`` (a ``HardwareSpec`` passes through)."""
    if isinstance(name, HardwareSpec):
        return name
    return _lookup(name, all_hardware(), "hardware", "genmodel hardware")
