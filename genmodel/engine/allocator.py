"""Keeping large NumPy temporaries in the heap between vectorized evaluations (docs/sweeps.md section 7).

Contract
--------
``tune_malloc()`` raises glibc's mmap threshold to ``MMAP_THRESHOLD_BYTES`` (and its trim threshold to twice that),
once per process, on Linux with glibc; elsewhere it does nothing and returns False. glibc serves allocations above
its threshold (at most 32 MiB by default, 128 KiB in Dask workers) with fresh pages returned on free, so each large
evaluation page-faults its temporaries in again: 1.5-2.6x the time of a vectorized estimate of thousands of
configurations. Raising it keeps them; the peak memory is unchanged, but up to the threshold of freed memory may stay
with the process. ``tune_for(configurations)`` applies it to calls of at least ``LARGE_CALL`` configurations
(``estimate`` and ``serve`` call it; never for single estimates); the environment variable
``GENMODEL_NO_MALLOC_TUNING=1`` turns it off.
"""

from __future__ import annotations

import functools
import os

MMAP_THRESHOLD_BYTES = 256 * 2**20
LARGE_CALL = 4096  # configurations in one call from which estimate tunes the allocator


@functools.cache
def tune_malloc() -> bool:
    """Raise glibc's mmap and trim thresholds once (see the module docstring); True when applied."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("GENMODEL_NO_MALLOC_TUNING") == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        return bool(libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD_BYTES)
                    and libc.mallopt(m_trim_threshold, 2 * MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return False


def tune_for(configurations: int) -> None:
    """Tune the allocator once a call evaluates ``LARGE_CALL`` configurations or more (module docstring)."""
    if configurations >= LARGE_CALL:
        tune_malloc()
