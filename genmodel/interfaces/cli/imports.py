"""``genmodel import-hf``: a Hugging Face config.json becomes a model entry in the user's database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genmodel.interfaces.cli import app


@app.command("import-hf")
def import_hf(
    config: Annotated[Path, typer.Argument(help="Path to a Hugging Face config.json.")],
    name: Annotated[str | None, typer.Option(
        help="Entry name (default: the file's parent folder or stem), lower-case letters, digits, '.', '_', '-'.")]
    = None,
    source: Annotated[str | None, typer.Option(help="Source URL to record (default: the path).")] = None,
    output_dir: Annotated[Path | None, typer.Option(
        help="Folder to write NAME.yaml into (default: your model folder, see 'genmodel show' / docs/data.md).")]
    = None,
    stdout: Annotated[bool, typer.Option(help="Print the YAML instead of writing a file.")] = False,
    force: Annotated[bool, typer.Option(help="Overwrite an existing entry file.")] = False,
) -> None:
    """Convert a Hugging Face config.json into a model entry (added to the built-in models)."""
    from genmodel.data.hf_import import check_entry_name, model_spec_from_hf_config, model_spec_to_yaml
    from genmodel.data.hf_import import write_model_entry
    from genmodel.data.registry import reload, user_folder

    if name is None:
        name = (config.parent.name if config.stem == "config" and config.parent.name else config.stem).lower()
    check_entry_name(name)
    spec = model_spec_from_hf_config(config, name=name, source=source)
    if stdout:
        typer.echo(model_spec_to_yaml(spec).rstrip())
        return
    target = write_model_entry(spec, output_dir or user_folder("model"), force)
    reload()
    typer.echo(f"wrote {target} ({spec.total_params / 1e9:.2f}B parameters, {spec.attention.kind} attention)")
