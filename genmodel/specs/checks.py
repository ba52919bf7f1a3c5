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
        limit = f"{int(maximum):,}" if float(maximum).is_integer() and maximum < 1e16 else f"{maximum:,g}"
        raise ConfigurationError(f"{name} must be at most {limit}, got {_first(arr, arr > maximum)}", name)
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


def flag(name: str, value: object) -> bool:
    """A yes/no argument: Python's or NumPy's bool; anything else (1, 'yes', an array) is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name} must be True or False, got {str(value)[:40]!r}", name)
    return bool(value)


def choice(name: str, value: object, options: tuple[str, ...] | list[str]) -> str:
    """One of ``options`` (strings); a non-string (a list, a dict, a number) or another string is refused."""
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be one of {', '.join(options)}, got {type(value).__name__}", name)
    if value not in options:
        raise ConfigurationError(f"{name} must be one of {', '.join(options)}, got {value[:40]!r}", name)
    return value


def names(name: str, value: object) -> tuple[str, ...]:
    """A list of names: one string is one name; a list or tuple of non-empty strings, each once; empty names and
    anything else (a number, None, a dict) are refused."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise InputTypeError(f"{name} must be a name or a list of names, got {type(value).__name__}", name)
    if not items:
        raise ConfigurationError(f"{name} is empty; give at least one name", name)
    for item in items:
        if not isinstance(item, str):
            raise InputTypeError(f"{name} must hold names (strings), got {type(item).__name__}", name)
        if not item.strip():
            raise ConfigurationError(f"{name} holds an empty name", name)
    repeated = sorted({item for item in items if items.count(item) > 1})
    if repeated:
        raise ConfigurationError(f"{name} names {repeated[0]!r} twice; give each name once", name)
    return tuple(items)


# The largest batch and token counts anything takes (estimate, serve, workloads, use cases, sweeps): they keep every
# count exact in float64 and every product finite, far above any real use
MAX_BATCH, MAX_TOKENS = 2**32, 2**40


# The physically meaningful ranges of traffic and service-level arguments, shared by serve, plan and requirements
# (docs/serving.md section 9): outside them a figure means nothing physical, and the queueing formulas and band edges
# leave float64's range (overflow to inf, NaN):
# * latency targets (TTFT, TPOT, seconds) of at most a day: a longer wait is no service-level objective;
# * request rates (the whole deployment) from one request a day (a slower stream meets an idle engine every time, so
#   its figures are those of a lone request) to a billion a second (every person on Earth sending one every 8 s:
#   beyond any deployment and far past any replica's saturation).
MAX_TARGET_S = 86_400.0
MIN_REQUEST_RATE_PER_S, MAX_REQUEST_RATE_PER_S = 1.0 / 86_400.0, 1e9
RATE_RANGE = "requests/s: from one request a day to a billion a second"  # (said in the messages)
TARGET_RANGE = "seconds: a target is at most a day"


def within(name: str, value: object, low: float, high: float, why: str) -> np.ndarray:
    """Positive numbers (``positive``) from ``low`` to ``high``; the message of one outside the range ends with
    ``why`` the range is what it is."""
    arr = positive(name, value)
    for bad, side, bound in ((arr < low, "least", low), (arr > high, "most", high)):
        if np.any(bad):
            shown = f"{int(bound):,}" if float(bound).is_integer() and bound < 1e15 else f"{bound:.4g}"
            raise ConfigurationError(f"{name} must be at {side} {shown} ({why}), got {_first(arr, bad)}", name)
    return arr


def latency_target(name: str, value: object) -> np.ndarray:
    """A TTFT or TPOT target in seconds (an array of them broadcasts): positive and at most a day."""
    return within(name, value, 0.0, MAX_TARGET_S, TARGET_RANGE)


def request_rate(name: str, value: object) -> np.ndarray:
    """Request rates of a whole deployment, requests/s: from one a day to a billion a second."""
    return within(name, value, MIN_REQUEST_RATE_PER_S, MAX_REQUEST_RATE_PER_S, RATE_RANGE)


def common_shape(named: list[tuple[str, object]], shape: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The shape ``shape`` and the values of ``named`` ((argument, value) pairs; None and strings skipped) broadcast
    to; ``ConfigurationError`` naming the first argument whose shape does not go with the others' (NumPy's rules:
    trailing axes equal, or 1)."""
    for name, value in named:
        if value is None or isinstance(value, str):
            continue
        this = np.shape(value)
        try:
            shape = np.broadcast_shapes(shape, this)
        except ValueError:
            raise ConfigurationError(f"{name} has shape {this}, which does not broadcast with the shape {shape} of the "
                                     "other arrays (the same length, or one of length 1)", name) from None
    return shape
