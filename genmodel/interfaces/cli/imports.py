"""``genmodel import-hf``: a Hugging Face config.json becomes a model entry in the user's database.

The entry name (``--name``, else derived from the path) and the target (``--output-dir``, else the user's model
folder) are checked before the config is read; a bad config, name or folder, or a name the model database
already has, prints one ``error:`` line, writes nothing and exits with status 2. ``--stdout`` prints the YAML
and writes nothing. The checks and the writing are ``genmodel.data.hf_import``'s.
"""

from pathlib import Path
from typing import Annotated

import typer

from genmodel.interfaces.cli.app import app


@app.command("import-hf")
def import_hf(
    config: Annotated[Path, typer.Argument(help="Path to a Hugging Face config.json.")],
    name: Annotated[str | None, typer.Option(
        help="Entry name (default: the file's parent folder or stem, lower-cased): lower-case letters, digits, "
        "'.', '_', '-'.")] = None,
    source: Annotated[str | None, typer.Option(help="Source URL to record (default: the path).")] = None,
    output_dir: Annotated[str | None, typer.Option(
        help="Folder to write NAME.yaml into (default: your model folder, see docs/data.md).")] = None,
    stdout: Annotated[bool, typer.Option(help="Print the YAML instead of writing a file.")] = False,
    force: Annotated[bool, typer.Option(
        help="Overwrite an existing entry file (never a built-in entry or one in another folder).")] = False,
) -> None:
    """Convert a Hugging Face config.json into a model entry (added to the built-in models)."""
    from genmodel.data import hf_import
    from genmodel.errors import ConfigurationError

    if stdout and (output_dir is not None or force):  # (--stdout writes nothing: a folder or --force has no use)
        raise ConfigurationError("--stdout prints the entry and writes nothing: drop --output-dir and --force",
                                 "stdout")
    for option, value in (("--source", source), ("--output-dir", output_dir)):
        if value is not None and not value.strip():
            raise ConfigurationError(f"{option} is empty: give a {'URL or text' if option == '--source' else 'folder'}"
                                     " (or leave the option out for its default)", option.strip("-").replace("-", "_"))
    folder = None if output_dir is None else Path(output_dir)
    name = hf_import.check_entry_name(name) if name is not None else hf_import.default_entry_name(config)
    if not stdout:
        hf_import.entry_target(name, folder, force)  # a bad folder or a taken name costs nothing
    spec = hf_import.model_spec_from_hf_config(config, name=name, source=source)
    if stdout:
        typer.echo(hf_import.model_spec_to_yaml(spec).rstrip())
        return
    target = hf_import.write_model_entry(spec, folder, force)
    typer.echo(f"wrote {target} ({spec.total_params / 1e9:.2f}B parameters, {spec.attention.kind} attention)")
