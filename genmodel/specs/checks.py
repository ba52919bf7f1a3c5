"""Checks of numeric inputs, shared by every entry point (specs, ``estimate``, CLI, dashboard, validation).

Contract
--------
Each check takes the argument's name and its value (a number or an array of numbers), returns the value as a
float NumPy array (0-d for a number) and raises ``ConfigurationError`` (or ``InputTypeError`` for a non-number)
whose message starts with the name and says what is allowed: NaN and infinities are always refused; booleans,
strings and None are not numbers.
"""

from __future__ import annotations

import numpy as np

from genmodel.errors import ConfigurationError, InputTypeError


def numbers(name: str, value: object) -> np.ndarray:
    """``value`` as a float array; refuses non-numbers, empty arrays, NaN and infinities."""
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise InputTypeError(f"{name} must be a number, got {str(value)[:40]!r}", name)
    if isinstance(value, int) and abs(value) > 2**53:  # a huge Python int: as a float (inf past 1e308)
        value = float(value) if abs(value) < 10**308 else float("inf") * (1 if value > 0 else -1)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number or an array of numbers", name) from None
    if arr.dtype.kind not in "iuf":
        raise InputTypeError(f"{name} must be a number or an array of numbers, got {type(value).__name__}", name)
    if arr.size == 0:
        raise ConfigurationError(f"{name} is empty; give at least one value", name)
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].flat[0]
        raise ConfigurationError(f"{name} must be a finite number, got {bad}", name)
    return arr


def _first(arr: np.ndarray, mask: np.ndarray) -> str:
    return f"{arr[mask].flat[0]:g}"


def whole(name: str, value: object, minimum: int = 1, maximum: float | None = None) -> np.ndarray:
    """Whole numbers >= ``minimum`` (and <= ``maximum``), as a float array."""
    arr = numbers(name, value)
    if np.any(arr < minimum):
        raise ConfigurationError(f"{name} must be at least {minimum}, got {_first(arr, arr < minimum)}", name)
    if maximum is not None and np.any(arr > maximum):
        raise ConfigurationError(f"{name} must be at most {maximum:,g}, got {_first(arr, arr > maximum)}", name)
    frac = arr != np.floor(arr)
    if np.any(frac):
        raise ConfigurationError(f"{name} must be a whole number, got {_first(arr, frac)}", name)
    return arr


def positive(name: str, value: object, maximum: float | None = None) -> np.ndarray:
    """Numbers > 0 (and <= ``maximum``)."""
    arr = numbers(name, value)
    if np.any(arr <= 0):
        raise ConfigurationError(f"{name} must be positive, got {_first(arr, arr <= 0)}", name)
    if maximum is not None and np.any(arr > maximum):
        raise ConfigurationError(f"{name} must be at most {maximum:g}, got {_first(arr, arr > maximum)}", name)
    return arr


def at_least(name: str, value: object, minimum: float, maximum: float | None = None) -> np.ndarray:
    """Numbers >= ``minimum`` (and <= ``maximum``)."""
    arr = numbers(name, value)
    if np.any(arr < minimum):
        raise ConfigurationError(f"{name} must be at least {minimum:g}, got {_first(arr, arr < minimum)}", name)
    if maximum is not None and np.any(arr > maximum):
        raise ConfigurationError(f"{name} must be at most {maximum:g}, got {_first(arr, arr > maximum)}", name)
    return arr


def scalar(name: str, arr: np.ndarray) -> float:
    """The single value of a checked array; ``ConfigurationError`` when several were given."""
    if arr.ndim:
        raise ConfigurationError(f"{name} must be a single number (sweep it with separate calls)", name)
    return float(arr)
