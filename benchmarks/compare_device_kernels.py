"""genmodel's kernel times against the kernels measured on a GPU by ``benchmarks/device_kernels.py``.

Reads the measurement file (default: ``validation/device_kernels_h200.json``, one run on an H200) and prints, for
the dense GEMMs by row count, the median signed and absolute error of ``genmodel.engine.kernels.gemm_time_s``:
with the device family's fit and with the physics defaults, each with the GPU kind's overlap of arithmetic and data
movement (0: the two times add), with the roofline's max (overlap 1) and with two overlaps that follow the launch's
tiles, tried in the thirty-second session and not adopted (``tile_overlap``). Then the GEMM chain of a Llama-3.1-8B
decode step (128 GEMMs replayed from one CUDA graph) against the sum of genmodel's kernel times plus the launch gap
between kernels of a graph-replaying engine (1.5 us, engines_db/vllm.yaml). docs/validation.md ("Kernels measured
on an H200") reports the figures; tests/test_device_kernels.py asserts them.

Usage: python benchmarks/compare_device_kernels.py [FILE.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from genmodel.data.registry import get_hardware
from genmodel.engine.efficiency import Physics, gemm_tiles
from genmodel.engine.kernels import gemm_time_s

DEFAULT = Path(__file__).resolve().parent.parent / "validation" / "device_kernels_h200.json"
HARDWARE = "h200-sxm"
RANGES = ((1, 16), (16, 128), (128, 1024), (1024, 8192))  # rows m, the upper bound inclusive for the last
GRAPH_GAP_S = 1.5e-6  # launch gap between kernels replayed from a CUDA graph (vLLM's profile)
# (k, n) of one Llama-3.1-8B layer's projections, as benchmarks/device_kernels.py chains them (that script imports
# PyTorch, so its SHAPES are not imported here)
CHAIN_SHAPES = ((4096, 6144), (4096, 4096), (4096, 28672), (14336, 4096))
VARIANTS = {"fit, overlap 0": (True, None), "fit, overlap 1": (True, 1.0),
            "fit, overlap tiles / SMs": (True, "share"), "fit, overlap 1 from a full wave": (True, "wave"),
            "defaults, overlap 0": (False, None), "defaults, overlap 1": (False, 1.0)}


def tile_overlap(m: int, n: int, rule: str) -> float:
    """An overlap that follows the launch's output tiles (genmodel's tile model, ``efficiency.gemm_tiles``) against
    the device's compute units: ``share``, min(1, tiles / units) (a launch of a full wave hides its loads, a smaller
    one a share); ``wave``, 1 from a full wave, else 0. Tried against these kernels and on whole steps
    (docs/validation.md, "Kernels measured on an H200"); the shipped model keeps the kind's 0."""
    physics = Physics.of(get_hardware(HARDWARE))
    share = min(float(gemm_tiles(m, n, physics)) / physics.compute_units, 1.0)
    return share if rule == "share" else float(share >= 1.0)


def load(path: str | Path = DEFAULT) -> dict:
    return json.loads(Path(path).read_text())


def gemm_errors(data: dict, calibrated: bool, overlap: float | str | None) -> list[tuple[int, str, float]]:
    """(m, dtype, signed error %) of every measured GEMM (``overlap`` 'share' or 'wave': ``tile_overlap``)."""
    out = []
    for r in data["records"]:
        if r["kind"] == "gemm" and "time_s" in r:
            phi = tile_overlap(r["m"], r["n"], overlap) if isinstance(overlap, str) else overlap
            t = gemm_time_s(HARDWARE, r["m"], r["n"], r["k"], dtype=r["dtype"], calibrated=calibrated,
                            overlap=phi)
            out.append((r["m"], r["dtype"], (t / r["time_s"] - 1.0) * 100.0))
    return out


def by_range(errors: list[tuple[int, str, float]]) -> dict[tuple[int, int], tuple]:
    """Per row range (lo <= m < hi; the last range includes its upper bound): (kernels, median signed error %,
    median absolute error %)."""
    out = {}
    for lo, hi in RANGES:
        top = hi + 1 if hi == RANGES[-1][1] else hi
        e = np.array([x for m, _, x in errors if lo <= m < top])
        out[(lo, hi)] = (len(e), float(np.median(e)), float(np.median(np.abs(e))))
    return out


def chain_errors(data: dict, calibrated: bool, overlap: float | None) -> dict[int, float]:
    """Per row count m: signed error % of the decode step's GEMM chain (its kernels' times plus the graph's gaps)."""
    out = {}
    for r in data["records"]:
        if r["kind"] == "decode_gemm_chain":
            m, layers = r["m"], r["kernels"] / len(CHAIN_SHAPES)
            kernels = layers * sum(gemm_time_s(HARDWARE, m, n, k, calibrated=calibrated, overlap=overlap)
                                   for k, n in CHAIN_SHAPES)
            out[m] = ((kernels + r["kernels"] * GRAPH_GAP_S) / r["time_s"] - 1.0) * 100.0
    return out


def main() -> None:
    data = load(sys.argv[1] if len(sys.argv) > 1 else DEFAULT)
    print(f"{data['meta']['device']}, torch {data['meta']['torch']}; {data['meta'].get('note', '')}")
    copy = next(r for r in data["records"] if r["kind"] == "copy")
    print(f"device-to-device copy: {copy['bytes_moved'] / copy['time_s'] / 1e12:.2f} TB/s (bytes read + written)")
    for name, (calibrated, overlap) in VARIANTS.items():
        errors = gemm_errors(data, calibrated, overlap)
        cells = [f"m {lo}-{hi}: {s:+.1f}% / {a:.1f}% ({n})" for (lo, hi), (n, s, a) in by_range(errors).items()]
        within = np.mean([abs(e) <= 25.0 for _, _, e in errors]) * 100.0
        print(f"GEMMs, {name}: " + "; ".join(cells) + f"; {within:.0f}% within 25%")
        if isinstance(overlap, str):
            continue
        chain = chain_errors(data, calibrated, overlap)
        print(f"  decode GEMM chain, {name}: " + ", ".join(f"m {m}: {e:+.1f}%" for m, e in chain.items()))


if __name__ == "__main__":
    main()
