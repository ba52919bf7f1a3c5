"""The allocator tuning for large vectorized calls (genmodel.engine.allocator)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import genmodel


def _run(code: str, env_off: bool) -> str:
    env = {"PATH": "/usr/bin:/bin", "GENMODEL_NO_MALLOC_TUNING": "1" if env_off else "0"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent)).stdout.strip()


def test_large_calls_tune_the_allocator_small_ones_do_not_and_it_can_be_turned_off():
    code = ("import numpy as np, genmodel; from genmodel.engine.allocator import tune_malloc; "
            "genmodel.estimate(); print(tune_malloc.cache_info().currsize); "
            "genmodel.estimate(batch=np.arange(1, 5001), check_fit=False); print(tune_malloc())")
    small, large = _run(code, env_off=False).splitlines()
    assert small == "0"  # a single estimate leaves the process's allocator alone
    assert large in ("True", "False")  # True on Linux with glibc
    assert _run(code, env_off=True).splitlines()[1] == "False"


def test_results_do_not_depend_on_the_tuning():
    batches = np.arange(1, 5001)
    tuned = genmodel.estimate("llama-3.1-8b", "h100-sxm", batches, check_fit=False).metrics["tpot_s"]
    code = ("import numpy as np, genmodel; r = genmodel.estimate('llama-3.1-8b', 'h100-sxm', np.arange(1, 5001), "
            "check_fit=False); print(repr(r.metrics['tpot_s'].tobytes().hex()))")
    plain = bytes.fromhex(eval(_run(code, env_off=True)))
    assert tuned.tobytes() == plain
