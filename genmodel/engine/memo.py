"""Results cached by the identity of the spec objects they are computed from.

Contract
--------
``IdentityCache.get(objects, values, make)`` returns ``make()``, computed once per combination of the *objects*
(spec records: frozen Pydantic models, dataclasses) and the hashable *values*. An entry holds its objects, so their
ids cannot be reused by other objects while it lives, and a hit checks them by identity: a new or edited spec (a
new object: specs are frozen) gives a new entry, never a stale result. The cache holds at most ``size`` entries (it
is emptied when full). The results are shared between calls: they must be immutable records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class IdentityCache:
    """``make()`` per (objects by identity, hashable values); see the module docstring."""

    def __init__(self, size: int = 128) -> None:
        self.size = size
        self.entries: dict[tuple, tuple[tuple, Any]] = {}

    def get(self, objects: tuple, values: tuple, make: Callable[[], Any]) -> Any:
        key = (*map(id, objects), *values)
        hit = self.entries.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], objects, strict=True)):
            return hit[1]
        result = make()
        if len(self.entries) >= self.size:
            self.entries.clear()
        self.entries[key] = (objects, result)
        return result

    def clear(self) -> None:
        self.entries.clear()
