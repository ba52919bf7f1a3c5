"""genmodel's GEMM times against the dense sweep of row counts measured by ``benchmarks/device_gemm_sweep.py``.

Reads ``validation/gemm_sweep_h200.json`` (cuBLAS BF16 GEMMs of Llama-3.1-8B's four projections and Llama-3.1-70B's
output projection on an H200, m = 16 ... 2,304 rows in steps of 16 and a few rows just above 512, 1,024 and 2,048)
and prints, with the physics defaults (no fit), the median signed and absolute error of
``genmodel.engine.kernels.gemm_time_s`` by row range, with the GPU's overlap of arithmetic and data movement (0: the
two times add) and with the roofline's max (1); and how much a GEMM slows from a power of two to a few rows more,
measured and as genmodel gives it. docs/formulas.md 5.1 ("Between powers of two") and docs/validation.md report the
figures; tests/test_gemm_sweep.py asserts them.

Also ``validation/gemm_sweep_fp8_h200.json``: the same shapes in FP8 through cuBLASLt (``torch._scaled_mm``), at
the row counts that are multiples of 16.

Usage: python benchmarks/compare_gemm_sweep.py [FILE.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from genmodel.engine.kernels import gemm_time_s

DEFAULT = Path(__file__).resolve().parent.parent / "validation" / "gemm_sweep_h200.json"
FP8 = DEFAULT.with_name("gemm_sweep_fp8_h200.json")  # the same shapes in FP8 (``device_gemm_sweep.py --fp8``)
HARDWARE = "h200-sxm"
RANGES = ((16, 128), (128, 513), (513, 1025), (1025, 2305))  # rows m, lo <= m < hi
STEPS = ((512, 513), (512, 520), (1024, 1025), (1024, 1032), (2048, 2049), (2048, 2056), (512, 576), (1024, 1152))
STEPS_FP8 = ((512, 528), (512, 576), (1024, 1040), (1024, 1152), (2048, 2064))  # FP8 rows are multiples of 16


def load(path: str | Path = DEFAULT) -> dict:
    return json.loads(Path(path).read_text())


def errors(data: dict, overlap: float | None = None, calibrated: bool = False,
           hardware=HARDWARE) -> tuple[np.ndarray, np.ndarray]:
    """(rows m, signed error %) of every GEMM of the sweep, genmodel's times on ``hardware``."""
    m = np.array([r["m"] for r in data["records"]], dtype=float)
    predicted = np.array([gemm_time_s(hardware, r["m"], r["n"], r["k"], dtype=r.get("dtype", "bf16"),
                                      calibrated=calibrated, overlap=overlap) for r in data["records"]])
    measured = np.array([r["time_s"] for r in data["records"]])
    return m, (predicted / measured - 1.0) * 100.0


def by_range(m: np.ndarray, e: np.ndarray) -> dict[tuple[int, int], tuple[int, float, float]]:
    """Per row range: (GEMMs, median signed error %, median absolute error %)."""
    out = {}
    for lo, hi in RANGES:
        sel = e[(m >= lo) & (m < hi)]
        out[(lo, hi)] = (len(sel), float(np.median(sel)), float(np.median(np.abs(sel))))
    return out


def step_ratios(data: dict, hardware=HARDWARE) -> np.ndarray:
    """Per shape and (power of two, more rows) pair of ``STEPS`` (``STEPS_FP8`` for an FP8 sweep): (measured time
    ratio, genmodel's ratio on ``hardware``, physics defaults)."""
    at = {(r["shape"], r["m"]): r for r in data["records"]}
    dtype = data["records"][0].get("dtype", "bf16")
    out = []
    for shape in dict.fromkeys(r["shape"] for r in data["records"]):
        for base, more in STEPS_FP8 if dtype == "fp8" else STEPS:
            a, b = at[(shape, base)], at[(shape, more)]
            model = (gemm_time_s(hardware, more, a["n"], a["k"], dtype=dtype, calibrated=False)
                     / gemm_time_s(hardware, base, a["n"], a["k"], dtype=dtype, calibrated=False))
            out.append((b["time_s"] / a["time_s"], model))
    return np.array(out)


def main() -> None:
    for path in sys.argv[1:] or [DEFAULT, FP8]:
        report(load(path))


def report(data: dict) -> None:
    meta = data["meta"]
    print(f"{data['records'][0].get('dtype', 'bf16')}:", end=" ")
    print(f"{meta['device']}, torch {meta['torch']}; {len(data['records'])} GEMMs; nvidia-smi after: "
          f"{meta['smi_after']}")
    for name, overlap in (("overlap 0 (shipped)", None), ("overlap 1", 1.0)):
        cells = [f"m {lo}-{hi - 1}: {s:+.1f}% / {a:.1f}% ({n})" for (lo, hi), (n, s, a) in
                 by_range(*errors(data, overlap)).items()]
        print(f"defaults, {name}: " + "; ".join(cells))
    r = step_ratios(data)
    print(f"a power of two to a few rows more: measured x{np.median(r[:, 0]):.3f} (median; "
          f"{r[:, 0].min():.2f}-{r[:, 0].max():.2f}), genmodel x{np.median(r[:, 1]):.3f} "
          f"({r[:, 1].min():.2f}-{r[:, 1].max():.2f})")


if __name__ == "__main__":
    main()
