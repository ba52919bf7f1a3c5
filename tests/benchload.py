"""Load a script of ``benchmarks/`` or ``scripts/`` as a module, for the tests that check what it computes (the
scripts are run as files, not installed with the package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def script_module(name: str, folder: str = "benchmarks") -> ModuleType:
    """``ROOT/folder/name.py`` loaded as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
