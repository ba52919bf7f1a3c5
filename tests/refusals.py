"""Shared checks of the bad-input test files (``test_bad_inputs_*.py``): a call refused with a clear error, and a
command's one error line.

* ``refused(fn, argument, kind)``: ``fn()`` raises ``kind`` (a ``GenmodelError``) whose ``argument`` is ``argument``
  and whose one-line message starts with it (``argument`` None: neither is asked), printing no NumPy
  RuntimeWarning on the way; returns the exception.
* ``cli_error(argv, capsys)``: ``genmodel argv`` exits with status 2, prints nothing on stdout and exactly one line
  ``error: ...`` on stderr, with no RuntimeWarning; returns that line.
"""

from __future__ import annotations

import warnings

import pytest

from genmodel.errors import ConfigurationError, GenmodelError
from genmodel.interfaces.cli import main


def refused(fn, argument: str | None, kind: type[GenmodelError] = ConfigurationError) -> GenmodelError:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(GenmodelError) as info:
            fn()
    exc = info.value
    assert isinstance(exc, kind), f"{type(exc).__name__}: {exc}"
    assert exc.argument == argument, (exc.argument, str(exc))
    message = str(exc)
    assert "\n" not in message.strip(), message
    if argument is not None:
        assert message.startswith(argument), message
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]
    return exc


def cli_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and not out.strip(), (code, out, err)
    return lines[0]
