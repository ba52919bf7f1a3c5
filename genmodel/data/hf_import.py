"""Turn a Hugging Face ``config.json`` into a model entry file (``genmodel import-hf``).

Contract
--------
``model_spec_from_hf_config`` reads a config (path or dict) into a validated ``ModelSpec``;
``model_spec_to_yaml`` writes the entry text (defaults left out); ``write_model_entry`` writes it into a
folder (by default the user's model folder, ``genmodel.data.registry.user_folder('model')``), refusing to
overwrite an existing file unless asked and refusing names that are not plain entry names.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from genmodel.errors import SpecError
from genmodel.specs.model import ModelSpec

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def model_spec_from_hf_config(config: str | Path | dict, name: str | None = None, source: str | None = None,
                              display_name: str | None = None) -> ModelSpec:
    """A ``ModelSpec`` from a Hugging Face ``config.json`` (see ``genmodel.specs.hf_config``)."""
    return ModelSpec.from_hf_config(config, name=name, source=source, display_name=display_name)


def check_entry_name(name: str) -> str:
    """``name`` if it is a valid entry (and file) name: lower-case letters, digits, '.', '_' and '-'."""
    if not NAME_PATTERN.match(name) or name in (".", ".."):
        raise SpecError(f"name {name!r} is not a valid entry name: use lower-case letters, digits, '.', '_' and "
                        "'-' (at most 100 characters, no folders)", "name")
    return name


def model_spec_to_yaml(spec: ModelSpec) -> str:
    """YAML text of a model entry for ``spec`` (defaults left out)."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    data = {"name": spec.name, "display_name": spec.display_name, **data}
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)


def write_model_entry(spec: ModelSpec, folder: Path, force: bool = False) -> Path:
    """Write ``spec`` as ``folder/NAME.yaml``; ``SpecError`` when it exists (without ``force``) or cannot be
    written."""
    target = folder / f"{check_entry_name(spec.name)}.yaml"
    if target.exists() and not force:
        raise SpecError(f"{target} already exists; pass --force to overwrite or --name to choose another name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        target.write_text(model_spec_to_yaml(spec))
    except OSError as exc:
        raise SpecError(f"cannot write {target}: {exc.strerror or exc}", "output_dir") from None
    return target
