"""Turn a Hugging Face ``config.json`` into a model entry file (``genmodel import-hf``).

Contract
--------
* ``model_spec_from_hf_config(config, name=None, source=None, display_name=None)`` reads a config (path or
  dict) into a validated ``ModelSpec`` (``ModelSpec.from_hf_config``; the translation, its checks and the
  name rules, ``check_entry_name`` and ``default_entry_name``, are ``genmodel.specs.hf_config``'s).
* ``model_spec_to_yaml(spec)``: the entry text (defaults left out).
* ``entry_target(name, folder=None, force=False)`` is ``folder/NAME.yaml`` after checking, before anything is
  read or written, that it may be written: ``folder`` is a writable folder or can be made as one (an
  ``--output-dir`` whose parent folder exists; the default, the user's model folder
  ``genmodel.data.registry.user_folder('model')``, with all its parents); the file does not exist unless
  ``force``; and ``name`` is not already taken in the model database in force (built-in entries, the user
  folder, ``GENMODEL_DB`` and ``--db`` folders), since user entries are added to the built-in ones and can
  never replace them. The one exception: with ``force``, the taken name's file is this very target.
* ``write_model_entry(spec, folder=None, force=False)`` writes the entry there after those checks, through a
  temporary file (no partial file is left behind), then re-reads the databases (``registry.reload``) so that
  ``get_model(name)`` finds a new user entry; if they no longer load, a new file is removed again.

Every failure is a ``SpecError`` naming the file, the field or the option (``name``, ``output_dir``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from genmodel.data import registry
from genmodel.errors import SpecError
from genmodel.specs.hf_config import check_entry_name, default_entry_name
from genmodel.specs.model import ModelSpec

__all__ = ["check_entry_name", "default_entry_name", "entry_target", "model_spec_from_hf_config",
           "model_spec_to_yaml", "write_model_entry"]


def model_spec_from_hf_config(config: str | Path | dict, name: str | None = None, source: str | None = None,
                              display_name: str | None = None) -> ModelSpec:
    """A ``ModelSpec`` from a Hugging Face ``config.json`` (see ``genmodel.specs.hf_config``)."""
    return ModelSpec.from_hf_config(config, name=name, source=source, display_name=display_name)


def model_spec_to_yaml(spec: ModelSpec) -> str:
    """YAML text of a model entry for ``spec`` (defaults left out)."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data = {"name": spec.name, "display_name": spec.display_name, **data}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)


def _same_file(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _check_folder(folder: Path, what: str, parents: bool) -> None:
    """``SpecError`` unless ``folder`` is a writable folder or can be made as one (with its missing parent
    folders only when ``parents``)."""
    argument = "output_dir" if what == "output_dir" else None
    if folder.exists() and not folder.is_dir():
        raise SpecError(f"{what} {folder} is a file, not a folder", argument)
    existing = folder
    while not existing.exists() and existing.parent != existing:  # the nearest part of the path that exists
        existing = existing.parent
    if not existing.is_dir():
        raise SpecError(f"{what} {folder} cannot be created: {existing} is a file", argument)
    if existing != folder and existing != folder.parent and not parents:
        raise SpecError(f"{what} {folder} cannot be created: its parent folder {folder.parent} does not exist "
                        "either (create it first)", argument)
    if not os.access(existing, os.W_OK | os.X_OK):
        action = "written to" if existing == folder else "created"
        raise SpecError(f"{what} {folder} cannot be {action}: permission denied on {existing}", argument)


def entry_target(name: str, folder: Path | str | None = None, force: bool = False) -> Path:
    """``folder/NAME.yaml`` once it is known that it may be written (see the module docstring)."""
    check_entry_name(name)
    if folder is None:
        folder = registry.user_folder("model")
        _check_folder(folder, "your model folder (set GENMODEL_USER_DIR to move it)", parents=True)
    else:
        folder = Path(folder)
        _check_folder(folder, "output_dir", parents=False)
    target = folder / f"{name}.yaml"
    if target.is_dir():
        raise SpecError(f"{target} is a folder; remove it or pass --name to choose another name")
    taken = registry.database("model").files.get(name)
    if taken is not None and not (force and _same_file(taken, target)):
        if _same_file(taken, target):
            raise SpecError(f"{target} already exists (the model {name!r}); pass --force to overwrite it or --name "
                            "to choose another name")
        raise SpecError(f"name {name!r} is already taken by the model in {taken}; writing {target} would define it "
                        "twice (user entries are added to the built-in models, they cannot replace them): pass "
                        "--name to choose another name", "name")
    if target.exists() and not force:
        raise SpecError(f"{target} already exists; pass --force to overwrite it or --name to choose another name")
    return target


def write_model_entry(spec: ModelSpec, folder: Path | str | None = None, force: bool = False) -> Path:
    """Write ``spec`` as ``folder/NAME.yaml`` (default: the user's model folder) and re-read the databases;
    ``SpecError`` when it may not or cannot be written (see ``entry_target``)."""
    target = entry_target(spec.name, folder, force)
    text = model_spec_to_yaml(spec)
    created = not target.exists()
    made = [p for p in (target.parent, *target.parent.parents) if not p.exists()]  # folders this call makes
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(temp, 0o666 & ~mask)  # mkstemp makes it private; an entry file is an ordinary file
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        for path in made:  # innermost first; only the folders this call made, and only while empty
            try:
                path.rmdir()
            except OSError:
                break
        where = "output_dir: " if folder is not None else ""
        raise SpecError(f"{where}cannot write {target}: {exc.strerror or exc}", "output_dir") from None
    registry.reload()
    try:
        registry.database("model")
    except SpecError as exc:
        if created:
            target.unlink(missing_ok=True)
            registry.reload()
        raise SpecError(f"{target} was {'removed again' if created else 'written'}: the model database does not "
                        f"load with it: {exc}") from None
    return target
