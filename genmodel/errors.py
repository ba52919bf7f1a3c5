"""Error types raised by genmodel for bad input.

Every error a user can cause derives from ``GenmodelError``; its message is one readable sentence (or a
few) that says what is wrong and how to fix it. The CLI prints the message and exits with status 2;
anything else escaping is a bug.
"""

from __future__ import annotations

import difflib


class GenmodelError(Exception):
    """Base class for errors caused by user input (unknown names, impossible configurations).

    ``argument`` names the library argument (or spec field) at fault when there is one; the message then
    starts with that name, so that the CLI can write its option name (``--batch``) in its place.
    """

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class UnitError(GenmodelError, ValueError):
    """A quantity string could not be parsed or has the wrong dimension."""


class UnknownNameError(GenmodelError, ValueError):
    """A model, hardware or platform name is not in the database."""


class ConfigurationError(GenmodelError, ValueError):
    """The requested configuration is impossible (negative lengths, unsupported dtype, ...)."""


class DoesNotFitError(GenmodelError, ValueError):
    """The model, KV cache and activations do not fit in the device's memory."""


class SpecError(GenmodelError, ValueError):
    """A data file or a Hugging Face config could not be turned into a valid spec."""


class InputTypeError(GenmodelError, TypeError):
    """A library argument has the wrong type (a HardwareSpec given as the model, None as a batch, ...)."""


def closest_names(name: str, candidates: list[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates closest to ``name`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in candidates}
    key = name.lower().strip()
    hits = difflib.get_close_matches(key, list(lowered), n=n, cutoff=0.4)
    # also offer candidates that contain the text, which difflib can rank low for short queries
    contains = [c for c in lowered if key and key in c and c not in hits]
    return [lowered[h] for h in (hits + contains)[:n]]


def unknown_name(kind: str, name: str, candidates: list[str], list_command: str) -> UnknownNameError:
    """Build the error for an unknown ``kind`` name, suggesting the closest known ones."""
    name = str(name)  # (a str subclass, NumPy's str_ from an array of names, shows as the plain text)
    close = closest_names(name[:200], candidates)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = name if len(name) <= 60 else name[:57] + "..."
    if not name.strip():
        return UnknownNameError(f"the {kind} name is empty; run '{list_command}' to list the names", kind)
    return UnknownNameError(f"unknown {kind} {shown!r}.{hint} Run '{list_command}' to list all.", kind)
