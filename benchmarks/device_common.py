"""What the device scripts (``device_kernels.py``, ``device_steps.py``, ``device_gemm_sweep.py``,
``device_decode_attention.py``) share. They run on the lent GPU machine with PyTorch and without genmodel; this
module does not import genmodel, and imports PyTorch only where a function needs it."""

from __future__ import annotations

import json
import subprocess
import time


def smi() -> str:
    """The GPU's name, SM and memory clocks, power draw and temperature as ``nvidia-smi`` reports them (the clock
    under a power cap is part of what a timing means), or why it could not be read."""
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu",
                               "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"nvidia-smi failed: {exc}"


def graphed(fn):
    """``fn`` captured in a CUDA graph (after two warm-up runs on a side stream); returns the graph's replay, which
    runs the same kernels without the host's launches in between."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def write_result(path: str, meta: dict, records: list, start: float, what: str = "records",
                 gpu: bool = True) -> None:
    """Add the clocks after the run (``smi``, unless ``gpu`` is false) and its seconds since ``start`` to ``meta``,
    write {"meta", "records"} to ``path`` as JSON and say so."""
    meta["smi_after"], meta["seconds"] = smi() if gpu else "", round(time.time() - start, 1)
    with open(path, "w") as f:
        json.dump({"meta": meta, "records": records}, f, indent=1)
    print(f"wrote {path}: {len(records)} {what} in {meta['seconds']} s; {meta['smi_after']}")
