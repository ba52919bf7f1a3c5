"""The databases of models, devices and platforms: the built-in entries plus the user's own.

Contract
--------
* Built-in entries ship inside the package (``genmodel/builtin/``, mapped at build time from the repository's
  ``models_db/``, ``hardware_db/``, ``engines_db/`` and ``usecases_db/``); in a source checkout they are read from
  those folders directly.
* User entries are added to them, never replace them: from the user folder (``user_dir()``: platformdirs'
  user data folder, or ``GENMODEL_USER_DIR``) and from every folder named in ``GENMODEL_DB`` (separated like
  PATH) or given with ``use_databases`` (the CLI's ``--db``). Each such folder holds ``models/``,
  ``hardware/``, ``platforms/``, ``engines/`` and ``usecases/`` sub-folders of one-entry YAML/JSON files. A name
  defined twice is an error naming both files; a file's name must be its entry's name (``h100-sxm.yaml`` holds
  ``name: h100-sxm``).
* Every file is validated on load, or read back as validated before (below) (``SpecError`` naming the file and
  the field). Lookups are case-insensitive, accept the display name, and accept the path of a spec file (``.yaml``,
  ``.yml``, ``.json``); an unknown name raises ``UnknownNameError`` with the closest names (built only for a name
  that is really unknown; ``find_entry`` looks a name up without raising). Each database is read once per process.
* Parsed and validated files are cached between runs (``ParseCache`` and ``EntryCache``, in ``cache_dir()``:
  platformdirs' user cache folder, or ``GENMODEL_CACHE_DIR``), keyed by each file's text (and, for validated
  entries, by the spec code that validated them): every file is still read on every start, an edited file is
  parsed and validated again, and a file that does not parse or validate raises the same error as without the
  cache.
* ``fingerprint()`` is a hash of every file in force, written into JSON and CSV outputs so a result can be
  reproduced with the same data. It reads the files as bytes, by kind and entry name (a file is named after its
  entry), and loads no database: the value is the one the loaded databases would give.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel

from genmodel.data.entry_cache import EntryCache
from genmodel.engine.memo import IdentityCache
from genmodel.errors import ConfigurationError, InputTypeError, SpecError, UnknownNameError, unknown_name
from genmodel.specs.engine import EngineSpec
from genmodel.specs.files import ParseCache, exists, load_spec_file
from genmodel.specs.hardware import HardwareSpec
from genmodel.specs.model import ModelSpec
from genmodel.specs.platform import PlatformSpec
from genmodel.specs.usecase import UseCaseSpec

Kind = Literal["model", "hardware", "platform", "engine", "use_case"]
Spec = TypeVar("Spec", bound=BaseModel)
SPEC_SUFFIXES = (".yaml", ".yml", ".json")

_PACKAGE = Path(__file__).resolve().parent.parent  # .../genmodel
# kind -> (class, folder under a user or --db root, built-in folder relative to the repository / the package)
_KINDS: dict[str, tuple[type[BaseModel], str, str]] = {
    "model": (ModelSpec, "models", "models_db"),
    "hardware": (HardwareSpec, "hardware", "hardware_db"),
    "platform": (PlatformSpec, "platforms", "hardware_db/platforms"),
    "engine": (EngineSpec, "engines", "engines_db"),
    "use_case": (UseCaseSpec, "usecases", "usecases_db"),
}
_LIST_COMMAND = {"model": "genmodel models", "hardware": "genmodel hardware", "platform": "genmodel platforms",
                 "engine": "genmodel engines", "use_case": "genmodel use-cases"}
_extra_roots: list[Path] = []


def builtin_root() -> Path:
    """Where the built-in data lives: ``genmodel/builtin`` when installed, the repository root in a checkout."""
    packaged = _PACKAGE / "builtin"
    return packaged if packaged.is_dir() else _PACKAGE.parent


def is_source_checkout() -> bool:
    """True when the built-in data is the repository's own folders (an editable install or a checkout)."""
    return builtin_root() == _PACKAGE.parent


def builtin_dir(kind: Kind) -> Path:
    """Folder of the built-in entries of ``kind`` ('model', 'hardware' or 'platform')."""
    return builtin_root() / _KINDS[kind][2]


def validation_data() -> Path:
    """The shipped table of published measurements (``validation/measured.csv``)."""
    return builtin_root() / "validation" / "measured.csv"


def independent_data() -> Path:
    """The shipped rows gathered after the fit and never fitted on (``validation/independent.csv``)."""
    return builtin_root() / "validation" / "independent.csv"


def tails_data() -> Path:
    """The shipped tail percentiles (P90, P99) of published served runs whose medians or means the other two files
    hold (``validation/tails.csv``): never fitted on; the cells of serve's P90 and P99 bands."""
    return builtin_root() / "validation" / "tails.csv"


# what platformdirs' folders depend on (a change of any of them asks it again)
_PLATFORMDIRS_ENV = (("APPDATA", "LOCALAPPDATA", "USERPROFILE") if sys.platform == "win32"
                     else ("XDG_DATA_HOME", "XDG_CACHE_HOME", "HOME"))


@functools.cache
def _platform_dir(which: str, *environment: str | None) -> Path:
    import platformdirs

    return Path(getattr(platformdirs, which)("genmodel", appauthor=False))


def _configured_or_platform(variable: str, which: str) -> Path:
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    # platformdirs takes a few microseconds per call, and every database lookup asks for the user folder
    return _platform_dir(which, *map(os.environ.get, _PLATFORMDIRS_ENV))


def user_dir() -> Path:
    """The user's own database folder: ``GENMODEL_USER_DIR``, else platformdirs' user data folder."""
    return _configured_or_platform("GENMODEL_USER_DIR", "user_data_dir")


def cache_dir() -> Path:
    """Where parsed database files are cached: ``GENMODEL_CACHE_DIR``, else platformdirs' user cache folder."""
    return _configured_or_platform("GENMODEL_CACHE_DIR", "user_cache_dir")


@functools.cache
def _parse_cache(folder: str) -> ParseCache:
    return ParseCache(Path(folder) / f"parsed-py{sys.version_info[0]}{sys.version_info[1]}.marshal")


@functools.cache
def _entry_cache(folder: str) -> EntryCache:
    return EntryCache(Path(folder) / f"entries-py{sys.version_info[0]}{sys.version_info[1]}.cache")


def user_folder(kind: Kind) -> Path:
    """Folder where user entries of ``kind`` go by default (``genmodel import-hf`` writes models here)."""
    return user_dir() / _KINDS[kind][1]


def use_databases(folders: list[str | Path]) -> None:
    """Add ``folders`` (each with models/, hardware/, platforms/, engines/ or usecases/ inside) to the databases of
    this process; a folder that does not exist, or holds none of those, is a ``SpecError``."""
    for folder in folders:
        if isinstance(folder, str) and not folder.strip():
            raise SpecError("db folder is empty: name a folder (the current one is '.')", "db")
        path = Path(folder)
        try:
            folder_there = path.is_dir()
        except (OSError, ValueError) as exc:  # (a name too long, a NUL byte)
            raise SpecError(f"db folder {str(path)[:80]}: {getattr(exc, 'strerror', None) or exc}", "db") from None
        if not folder_there:
            raise SpecError(f"db folder {path} does not exist or is not a folder", "db")
        kinds = [sub for _, sub, _ in _KINDS.values()]
        if not any((path / sub).is_dir() for sub in kinds):  # (a mistyped path, or entries left at its top)
            raise SpecError(f"db folder {path} holds none of {', '.join(k + '/' for k in kinds)}: nothing to add "
                            f"(an entry goes in the folder of its kind, e.g. {path / 'models'}/NAME.yaml)", "db")
        if path not in _extra_roots:
            _extra_roots.append(path)


def _environment() -> tuple:
    """What the databases in force depend on: ``GENMODEL_DB``, ``GENMODEL_USER_DIR``, the platformdirs variables
    and the ``use_databases`` folders (read on every call: a test or a notebook may change them), or the reading
    ``pin_environment`` took when one is in force in this context."""
    pinned = _PINNED.get()
    return _read_environment() if pinned is None else pinned


def _read_environment() -> tuple:
    """``_environment`` read now (see there)."""
    return (os.environ.get("GENMODEL_DB", ""), os.environ.get("GENMODEL_USER_DIR"),
            *map(os.environ.get, _PLATFORMDIRS_ENV), tuple(_extra_roots))


_PINNED: ContextVar[tuple | None] = ContextVar("genmodel_pinned_environment", default=None)


def pin_environment() -> Token:
    """Read the environment the databases depend on once (``_environment``): until ``unpin_environment(token)``,
    every lookup in this context uses that reading, for a caller making several lookups that belong together (one
    ``estimate``'s model, device and engine), which then see one state of the environment, read once."""
    return _PINNED.set(_read_environment())


def unpin_environment(token: Token) -> None:
    """End the pinned reading ``pin_environment`` gave ``token`` for (the reading before it is in force again)."""
    _PINNED.reset(token)


def _roots() -> tuple[str, ...]:
    environment = _environment()
    configured = environment[0]
    env = [p for p in configured.split(os.pathsep) if p] if configured else []
    for folder in env:
        if not Path(folder).is_dir():
            raise SpecError(f"GENMODEL_DB names {folder}, which is not a folder")
    # every lookup asks: the strings are made once per value of the variables they come from
    return _roots_of(*environment)


@functools.lru_cache(maxsize=16)
def _roots_of(configured: str, user: str | None, *rest) -> tuple[str, ...]:
    *platform_env, extra = rest
    user_root = Path(user) if user else _platform_dir("user_data_dir", *platform_env)
    env = [p for p in configured.split(os.pathsep) if p]
    return (str(user_root), *(str(Path(p)) for p in env), *map(str, extra))


@dataclass
class Database:
    """Entries of one kind by name, and the file each came from."""

    entries: dict[str, BaseModel] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    index: dict[str, str] = field(default_factory=dict)  # lower-case name or display name -> name

    def add(self, spec: BaseModel, path: Path, kind: str, check_file_name: bool = True) -> None:
        name = spec.name
        if check_file_name and path.stem != name:
            raise SpecError(f"{path} holds the {kind} {name!r}: name the file {name}{path.suffix} "
                            "(a database file is named after its entry)")
        if name in self.entries:
            raise SpecError(f"the {kind} name {name!r} is defined twice, in {self.files[name]} and in {path}; "
                            "rename one (user entries are added to the built-in ones, they cannot replace them)")
        self.entries[name] = spec
        self.files[name] = path
        self.index.setdefault(name.lower(), name)
        display = getattr(spec, "display_name", "")
        if display:
            self.index.setdefault(display.lower(), name)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix in SPEC_SUFFIXES and p.is_file())


def _files_in_force(kind: str, roots: tuple[str, ...]) -> list[Path]:
    """The files of ``kind`` in force, in the order they are read: the built-in ones, then each root's."""
    builtin = builtin_dir(kind)  # type: ignore[arg-type]
    files = _files(builtin)
    if not files:
        raise SpecError(f"no built-in {kind} files found in {builtin}; the installation is incomplete "
                        "(reinstall genmodel)")
    for root in roots:
        folder = Path(root) / _KINDS[kind][1]
        if folder.is_dir():
            files += _files(folder)
    return files


@functools.cache
def _database(kind: str, roots: tuple[str, ...]) -> Database:
    cls = _KINDS[kind][0]
    db = Database()
    files = _files_in_force(kind, roots)
    folder = str(cache_dir())
    parsed, validated = _parse_cache(folder), _entry_cache(folder)
    try:  # in order, as load_spec_file would: the first bad file raises its own error
        for path in files:
            db.add(validated.load(path, cls, parsed.mapping), path, kind)
    finally:  # the files that parsed and validated, also when a later one failed
        parsed.save()
        validated.save()
    return db


def database(kind: Kind) -> Database:
    """The database of ``kind`` in force (built-in plus user folders)."""
    return _database(kind, _roots())


def reload() -> None:
    """Forget the databases read so far (after files were written); the next lookup reads them again."""
    _database.cache_clear()
    _fingerprint.cache_clear()
    _LOOKUPS.clear()


def all_models() -> dict[str, ModelSpec]:
    """Every model in force, by name."""
    return dict(database("model").entries)  # type: ignore[arg-type]


def all_hardware() -> dict[str, HardwareSpec]:
    """Every device in force, by name."""
    return dict(database("hardware").entries)  # type: ignore[arg-type]


def all_platforms() -> dict[str, PlatformSpec]:
    """Every multi-device platform in force, by name."""
    return dict(database("platform").entries)  # type: ignore[arg-type]


def all_engines() -> dict[str, EngineSpec]:
    """Every serving engine profile in force, by name."""
    return dict(database("engine").entries)  # type: ignore[arg-type]


EAGER_SUFFIX = "+eager"


def get_engine(name: str | EngineSpec) -> EngineSpec:
    """The serving engine profile called ``name`` (or in the spec file ``name``; an ``EngineSpec`` passes through).
    ``NAME+eager`` is the profile NAME run without captured graphs (vLLM ``--enforce-eager``, SGLang
    ``--disable-cuda-graph``): every step eager (``EngineSpec.graph_steps`` 'none'), one copy per profile object;
    a profile with no host time per eager kernel (``eager_launch_s`` 0) has no such variant."""
    if isinstance(name, str) and name.lower().endswith(EAGER_SUFFIX) and not looks_like_file(name):
        return eager_variant(_get("engine", name[:-len(EAGER_SUFFIX)], EngineSpec))
    return _get("engine", name, EngineSpec)


def eager_variant(spec: EngineSpec) -> EngineSpec:
    """``spec`` with graphs off (``graph_steps`` 'none'; the same name, so its fitted step costs and band cells
    stay the engine's, and ' (eager)' after its display name); ``spec`` itself where it is one already. A profile
    without an eager figure raises ``ConfigurationError`` naming those that have one."""
    if spec.graphs_off:
        return spec
    if not spec.eager_launch_s > 0:
        have = sorted(n for n, e in database("engine").entries.items() if e.eager_launch_s > 0)  # type: ignore
        raise ConfigurationError(f"engine '{spec.name}' has no figure for eager steps (eager_launch_s), so "
                                 f"'{spec.name}{EAGER_SUFFIX}' cannot be timed; engines with one: "
                                 f"{', '.join(n + EAGER_SUFFIX for n in have) or 'none'}", "engine")
    return _eager_copies.get((spec,), (), lambda: spec.model_copy(update={
        "graph_steps": "none", "display_name": f"{spec.display_name} (eager)"}))


_eager_copies = IdentityCache(32)


def all_use_cases() -> dict[str, UseCaseSpec]:
    """Every use case in force (``usecases_db/`` and users' ``usecases/`` folders), by name."""
    return dict(database("use_case").entries)  # type: ignore[arg-type]


def get_use_case(name: str | UseCaseSpec) -> UseCaseSpec:
    """The use case called ``name`` (or in the spec file ``name``; a ``UseCaseSpec`` passes through)."""
    return _get("use_case", name, UseCaseSpec)


def looks_like_file(name: str) -> bool:
    """True when ``name`` is meant as a spec file's path rather than a database name."""
    return name.lower().endswith(SPEC_SUFFIXES)


def find_entry(kind: Kind, name: str) -> BaseModel | None:
    """The entry of ``kind`` called ``name`` (any case, or its display name), or None: a lookup that builds no
    error (``get_model`` and the like raise ``UnknownNameError`` with suggestions instead).

    Answers are remembered per (kind, name, what the databases in force depend on: the environment variables
    ``_roots`` reads and the ``use_databases`` folders) and forgotten by ``reload()``, so a lookup gives the entry
    ``database(kind)`` holds at that moment. With ``GENMODEL_DB`` set every lookup reads the databases in force
    (``_roots`` checks those folders on every call)."""
    environment = _environment()
    remember = not environment[0]  # with GENMODEL_DB set, _roots checks its folders on every lookup
    key = (kind, name, environment)
    hit = _LOOKUPS.get(key, _MISSING) if remember else _MISSING
    if hit is not _MISSING:
        return hit  # type: ignore[return-value]
    db = database(kind)
    entry = db.index.get(name.strip().lower())
    found = None if entry is None else db.entries[entry]
    if remember:
        if len(_LOOKUPS) >= _LOOKUPS_SIZE:
            _LOOKUPS.clear()
        _LOOKUPS[key] = found
    return found


_LOOKUPS: dict[tuple, BaseModel | None] = {}  # find_entry's answers (see there); emptied by reload()
_LOOKUPS_SIZE = 1024
_MISSING = object()


def _get(kind: Kind, name: object, cls: type[Spec]) -> Spec:
    if isinstance(name, cls):
        return name
    if not isinstance(name, str):
        wanted = {"model": "a model name or ModelSpec", "hardware": "a device name or HardwareSpec",
                  "platform": "a platform name or PlatformSpec", "engine": "an engine name or EngineSpec",
                  "use_case": "a use case name or UseCaseSpec"}[kind]
        raise InputTypeError(f"{kind} must be {wanted}, got {type(name).__name__}", kind)
    if looks_like_file(name):
        path = Path(name).expanduser()
        if not exists(path):
            raise SpecError(f"{kind} file {name} does not exist", kind)
        try:
            return load_spec_file(path, cls)
        except SpecError as exc:  # the argument at fault is the one naming the file; the message names the field
            exc.argument = kind
            raise
    spec = find_entry(kind, name)
    if spec is None:
        exc = unknown_name(kind.replace("_", " "), name, list(database(kind).entries), _LIST_COMMAND[kind])
        exc.argument = kind  # the argument keeps its underscore ('use_case'), the message reads 'use case'
        raise exc
    return spec  # type: ignore[return-value]


def get_model(name: str | ModelSpec) -> ModelSpec:
    """The model called ``name`` (or in the spec file ``name``; a ``ModelSpec`` passes through). A name
    'synthetic:...' is built by the scaling rule (``genmodel.data.synthetic``, docs/synthetic_models.md)."""
    from genmodel.data.synthetic import is_synthetic_name, synthetic_from_name

    if is_synthetic_name(name):
        return synthetic_from_name(name)  # type: ignore[arg-type]
    return _get("model", name, ModelSpec)


def get_hardware(name: str | HardwareSpec) -> HardwareSpec:
    """The device called ``name`` (or in the spec file ``name``; a ``HardwareSpec`` passes through)."""
    return _get("hardware", name, HardwareSpec)


def get_platform(name: str | PlatformSpec) -> PlatformSpec:
    """The platform called ``name`` (or in the spec file ``name``; a ``PlatformSpec`` passes through)."""
    return _get("platform", name, PlatformSpec)


def platform_device(platform: PlatformSpec) -> HardwareSpec:
    """The device of ``platform`` with the platform's interconnects in place of its own."""
    try:
        hw = get_hardware(platform.device)
    except UnknownNameError as exc:
        where = entry_file("platform", platform.name) if platform.name in database("platform").entries else None
        raise SpecError(f"platform {platform.name!r}{f' ({where})' if where else ''} names the device "
                        f"{platform.device!r}, which is not in the database: {exc}", "hardware") from None
    update = {k: getattr(platform, k) for k in ("scale_up", "scale_out") if getattr(platform, k) is not None}
    if not update:
        return hw
    # one copy per (platform, device) spec object pair: specs are frozen, so a changed entry or a reloaded database
    # is a new object and misses; the same object each call lets per-device caches (genmodel.engine) hit
    return _platform_devices.get((platform, hw), (), lambda: hw.model_copy(update=update))


_platform_devices = IdentityCache(64)


def entry_file(kind: Kind, name: str) -> Path | None:
    """The file the entry ``name`` of ``kind`` was read from (None for a spec made in memory)."""
    return database(kind).files.get(name)


@functools.cache
def _fingerprint(roots: tuple[str, ...]) -> str:
    """The hash of the files in force, by kind and entry name (a file is named after its entry: its stem), read as
    bytes: no database is loaded for it (an estimate loads the models and devices it names, not the use cases)."""
    digest = hashlib.sha256()
    for kind in _KINDS:
        for path in sorted(_files_in_force(kind, roots), key=lambda p: (p.stem, str(p))):
            digest.update(f"{kind}/{path.stem}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint() -> str:
    """Short hash (16 hex digits) of every database file in force: built-in and user entries."""
    return _fingerprint(_roots())


def provenance() -> dict[str, object]:
    """What every JSON and CSV output carries to be reproducible: the output schema version, the genmodel
    version and the hash of the databases in force."""
    from genmodel.version import SCHEMA_VERSION, __version__

    return {"schema_version": SCHEMA_VERSION, "genmodel_version": __version__, "database_hash": fingerprint()}


def resolve_hardware(hardware: object) -> tuple[HardwareSpec, PlatformSpec | None]:
    """A device (name, spec or spec file) or a platform (then its device with the platform's network)."""
    if isinstance(hardware, PlatformSpec):
        return platform_device(hardware), hardware
    if isinstance(hardware, HardwareSpec):
        return hardware, None
    if not isinstance(hardware, str):
        raise InputTypeError("hardware must be a device or platform name, a HardwareSpec or a PlatformSpec, got "
                             f"{type(hardware).__name__}", "hardware")
    if looks_like_file(hardware):
        path = Path(hardware).expanduser()
        if not exists(path):
            raise SpecError(f"hardware file {hardware} does not exist", "hardware")
        from genmodel.specs.files import load_mapping, validate_spec

        data = load_mapping(path)
        if "device" in data and "peak_flops_per_s" not in data:  # a platform file
            platform = validate_spec(data, PlatformSpec, path.name)
            return platform_device(platform), platform
        return validate_spec(data, HardwareSpec, path.name), None
    device = find_entry("hardware", hardware)
    if device is not None:
        return device, None  # type: ignore[return-value]
    platform = find_entry("platform", hardware)
    if platform is not None:
        return platform_device(platform), platform  # type: ignore[arg-type]
    raise unknown_name("hardware or platform", hardware, [*database("hardware").entries,
                                                          *database("platform").entries],
                       "genmodel hardware' or 'genmodel platforms")
