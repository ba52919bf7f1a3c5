"""The Typer application of the ``genmodel`` command line and its global options (the commands register on it)."""

from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="First-principles LLM inference estimates: latency, throughput, memory, energy and cost.")


@app.callback()
def _options(db: Annotated[list[str] | None, typer.Option(
        "--db", help="Extra database folder (with models/, hardware/, platforms/, engines/, usecases/ inside); "
        "repeatable. Also GENMODEL_DB. Entries are added to the built-in ones.")] = None) -> None:
    """genmodel: LLM inference estimates from first principles."""
    if db:
        from genmodel.data.registry import use_databases

        use_databases(db)
