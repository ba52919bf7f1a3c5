"""The ``genmodel`` command line.

Contract
--------
Every command prints human-readable text with units (or one JSON object with ``--json``, SI units as the key names
say, with the provenance keys). Bad input (unknown names, impossible configurations, unreadable files, unwritable
output paths, NaN or out-of-range numbers, a single-value option given twice) prints one line ``error: ...`` naming
the option and what to do, writes nothing and exits with status 2; anything else escaping is a bug. The library
computes everything; the command modules (estimate, catalog, search, validate, imports, dashboard) only parse and
format.

A start pays for the command it runs, not for the others (``genmodel estimate`` takes about 0.3 s,
``benchmarks/bench_startup.py``): the command modules import heavy packages (plotly, pandas, streamlit, dask,
pyarrow) only inside the functions that use them (tests/test_startup.py checks that ``estimate`` imports none of
them); ``main`` hands Typer only the command named (``app_for``); and the command modules do not use
``from __future__ import annotations``, whose strings Typer would evaluate again on every start.
"""

from __future__ import annotations

import copy
import re
import sys
from typing import Any

import numpy as np
import typer

from genmodel.errors import GenmodelError
from genmodel.interfaces.cli import (  # noqa: F401
    catalog,
    dashboard,
    estimate,
    imports,
    requirements,
    search,
    serve,
    sweep,
    validate,
)
from genmodel.interfaces.cli.app import app

# library argument names whose command-line option is spelled differently
_OPTION_NAMES = {"rental_usd_per_device_hour": "--usd-per-device-hour", "kernel_overhead_s": "--kernel-overhead-us",
                 "step_overhead_s": "--step-overhead-ms", "ttft_s": "--ttft-ms", "tpot_s": "--tpot-ms",
                 "usable_memory_fraction": "--memory-fraction", "runtime_reserved_bytes": "--runtime-reserved",
                 "cost_mode": "--cost-mode", "sort_by": "--sort-by", "rank_by": "--rank-by", "name": "--name",
                 "output_dir": "--output-dir", "db": "--db", "ttft_target_s": "--ttft-ms", "tpot_target_s": "--tpot-ms",
                 "num_requests": "--num-prompts"}


def cli_message(exc: GenmodelError, options: frozenset[str] | None = None) -> str:
    """The error's message on one line, naming the CLI option of the library argument at fault: in place of the
    argument's name when the message starts with it, else as a prefix. ``options``: the options of the command that
    ran; an argument without one among them (a field of a data file, ``peak_flops_per_s``) is left as the message
    names it."""
    message = " ".join(str(exc).split())
    arg = getattr(exc, "argument", None)
    if arg and "." not in arg and arg not in ("model", "hardware", "platform"):
        option = _OPTION_NAMES.get(arg, "--" + arg.replace("_", "-"))
        if options is not None and option not in options:
            return message[:1000]
        if message.startswith(arg + " ") or message.startswith(arg + ":"):
            message = option + message[len(arg):]
        elif not message.startswith(option) and getattr(exc, "problems", None) is None:
            # (a data file's error, listing the problems of its fields, names the file and field: left as it is)
            message = f"{option}: {message}"
    return message[:1000]


def _command_at(argv: list[str]) -> int:
    """The index in ``argv`` of the command's name: after the global --db options (``len(argv)`` where none
    follows)."""
    i = 0
    while i < len(argv) and (argv[i] == "--db" or argv[i].startswith("--db=")):
        i += 1 if "=" in argv[i] else 2
    return i


def app_for(argv: list[str]) -> typer.Typer:
    """The app that runs ``argv``. Typer turns the signature of every registered command into options on each
    start (about 20 ms for all of them); when ``argv`` names a command (after the global --db options), a copy
    of the app holding only that command runs it alike for the cost of one. Anything else (no command, --help
    first, an unknown name) gets the whole app, with the group's own help, command list and errors."""
    i = _command_at(argv)
    if i < len(argv):
        for info in app.registered_commands:
            if (info.name or typer.main.get_command_name(info.callback.__name__)) == argv[i]:
                one = copy.copy(app)
                one.registered_commands = [info]
                return one
    return app


def command_options(command, args: list[str]) -> frozenset[str] | None:
    """Every option spelling of the command ``args`` name (with the global ``--db``), or None where ``args`` name
    none. ``command``: the Click group of the app (``typer.main.get_command``)."""
    i = _command_at(args)
    sub = getattr(command, "commands", {}).get(args[i]) if i < len(args) else None
    if sub is None:
        return None
    return frozenset({"--db", *(o for p in sub.params for o in (*getattr(p, "opts", ()),
                                                                  *getattr(p, "secondary_opts", ())))})


def repeated_option(command, args: list[str]) -> str | None:
    """What to say when ``args`` give one of the named command's single-value options more than once (Click would
    keep the last value without a word: ``compare -H h100-sxm -H mi300x`` would compare the MI300X alone), else
    None. ``command``: the Click group of the app (``typer.main.get_command``); options that take several values
    (``multiple``) and flags are not counted."""
    i = _command_at(args)
    sub = getattr(command, "commands", {}).get(args[i]) if i < len(args) else None
    if sub is None or "--help" in args:  # (help is shown whatever else is given)
        return None
    valued = {o: p for p in sub.params if getattr(p, "is_flag", True) is False and not getattr(p, "count", False)
              for o in (*p.opts, *p.secondary_opts)}
    given: dict[Any, list[str]] = {}  # per option, its uses as given
    j = i + 1
    while j < len(args) and args[j] != "--":
        token = args[j]
        spelled = token.split("=", 1)[0] if token.startswith("--") else token[:2]
        p = valued.get(spelled) if token.startswith("-") else None
        if p is not None:
            attached = token != spelled
            value = token[len(spelled) + (token.startswith("--")):] if attached else (
                args[j + 1] if j + 1 < len(args) else "")
            if not p.multiple:
                given.setdefault(p, []).append(f"{spelled} {value}")
            j += 1 if attached else 2
            continue
        j += 1
    for option, uses in given.items():
        if len(uses) > 1:
            long = max(option.opts, key=len)
            hint = (f" (one comma-separated list: {long} a,b)" if "comma-separated" in (option.help or "").lower()
                    else "")
            return f"{long} is given {len(uses)} times ({', '.join(uses)}): give it once{hint}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning genmodel errors into one 'error:' line and exit status 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    options = None
    try:
        command = typer.main.get_command(app_for(args))  # (what calling the Typer app builds, built once here)
        options = command_options(command, args)
        repeated = repeated_option(command, args)
        if repeated is not None:
            typer.echo(f"error: {repeated}", err=True)
            return 2
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # extreme what-ifs give inf, not noise
            # (returns a typer.Exit's code in this mode; the name the hints print is the console script's)
            code = command(args=args, prog_name="genmodel", standalone_mode=False)
    except GenmodelError as exc:
        typer.echo(f"error: {cli_message(exc, options)}", err=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except OSError as exc:  # a path the system refuses (a name too long, a folder it cannot list): the user's input
        name = str(exc.filename or "")
        shown = name if len(name) <= 80 else f"{name[:40]}...{name[-20:]}"
        typer.echo(f"error: {shown + ': ' if shown else ''}{exc.strerror or exc}", err=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return 130
    except Exception as exc:
        # usage errors (bad option values, missing arguments) from click, vendored or not
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message())
            return 0
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = _positional_hint(exc.format_message(), ctx) or f" (see '{ctx.command_path} --help')"
            typer.echo(f"error: {' '.join(exc.format_message().split())}{hint}", err=True)
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


def _positional_hint(message: str, ctx) -> str | None:
    """For words given where the command takes none (``genmodel estimate llama-3.1-8b h100-sxm``): the same call with
    them as the command's --model and --hardware options, in that order, where it has those options; else None."""
    found = re.search(r"unexpected extra argument(?:\(s\)|s)? \((.*)\)", message)
    names = {p.name for p in getattr(ctx.command, "params", [])}
    words = found.group(1).split() if found else []
    options = ["--model", "--hardware"] if "hardware" in names else ["--model"]
    if not words or len(words) > len(options) or "model" not in names:
        return None
    named = " ".join(f"{o} {w}" for o, w in zip(options, words, strict=False))
    return f": the model and hardware are options, e.g. '{ctx.command_path} {named}'"


def _entry() -> None:  # pragma: no cover - console script shim
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (genmodel models | head): stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except SystemExit:
        # click met the closed pipe first: it wraps stdout and exits 1; the output was not wrong, only unread
        if not type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):
            raise
        code = 0
    sys.exit(code)


__all__ = ["app", "cli_message", "main"]
