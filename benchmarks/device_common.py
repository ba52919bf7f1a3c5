"""What the device scripts (``device_kernels.py``, ``device_steps.py``, ``device_gemm_sweep.py``) share. They run on
the lent GPU machine with PyTorch and without genmodel; this module imports neither."""

from __future__ import annotations

import subprocess


def smi() -> str:
    """The GPU's name, SM and memory clocks, power draw and temperature as ``nvidia-smi`` reports them (the clock
    under a power cap is part of what a timing means), or why it could not be read."""
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"
