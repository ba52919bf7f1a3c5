"""Peer speed comparison: genmodel, GenZ (genz-llm), mlsysim and llm-analysis on the same workloads, one run.

Not part of the tests or of CI (.ci/run does not run it). The peers are installed only in this benchmark's own
virtual environment, never in genmodel's dependencies:

    python3 -m venv .peers-venv                      # .peers-venv/ is gitignored
    .peers-venv/bin/pip install genz-llm mlsysim llm-analysis
    .peers-venv/bin/pip install -e .                 # genmodel in the same interpreter
    .peers-venv/bin/python benchmarks/compare_peers.py [--repeats 20] [--grid-repeats 3]

A peer that is not installed is skipped with a message; with none of them the script exits with instructions.
Results and the machine they were measured on: docs/peer_speed.md.

What is measured, warm (every call is made twice before timing), on the same process and machine:

* time per estimate: TTFT and TPOT of one configuration, best of ``--repeats`` calls, for each shared workload
  a tool can express (Llama-3.1-8B on one H100 SXM, Llama-3.1-70B on four with tensor parallelism; batch 1 and
  16; 1,024 prompt and 256 output tokens; bf16). GenZ answers prefill and decode with two calls, so its
  estimate is both; mlsysim and llm-analysis answer both in one call; genmodel's one call also gives
  throughput, memory, energy and cost.
* configurations per second: a grid of Llama-3.1-70B on H100 (TP 1-8 x batch 1-256 x prompt 512-4,096 tokens).
  genmodel evaluates it in one vectorized call (and, separately, a grid of about 100,000 configurations, where
  the per-call overhead no longer dominates); the peers have no batched interface, so they loop over it.
  Configurations a tool refuses (does not fit) count as evaluated: the answer "does not fit" is an answer.
* search: the best decode throughput per device, batch / (TP x TPOT), among configurations that fit and meet
  a TPOT target, over a TP x batch grid of Llama-3.1-70B (TPOT <= 50 ms) and a batch grid of Llama-3.1-8B on one
  device (TPOT <= 20 ms). GenZ searches with its decode model only (that is all the search needs).

Each tool's TTFT and TPOT for the shared workloads are printed side by side for information: every tool has
its own definitions and defaults (GenZ and llm-analysis take the decode step at the final context; mlsysim at
the context it is given, here the prompt; genmodel's ``tpot_s`` is the mean over the decode steps and
``tpot_final_s`` the last one). They are not a claim of who is right; benchmarks/compare_genz.py and
docs/validation.md compare predictions with measurements.

What each peer cannot express, and what stands in for it:

* mlsysim 0.3's serving model (``ServingModel``) is one device, with no tensor parallelism: its rows are
  TP = 1 only (Llama-3.1-70B at bf16 does not fit one H100, which it reports as infeasible). Its default
  compute efficiency (0.5) is kept; precision "fp16" (the same two bytes as bf16).
* llm-analysis 0.2 ships no Llama-3 configuration and reaches Hugging Face for unknown names; the two models
  are given as its ``ModelConfig`` from their published shapes. Its MLP has two matrices of ``ffn_embed_dim``,
  so SwiGLU's three matrices of 14,336 (28,672) columns are given as ``ffn_embed_dim`` = 1.5 x that (the same
  weights and FLOPs); its embedding is tied (Llama-3.1's is not: 0.5 B parameters fewer for 8B). Its logger
  is set to ERROR: at its default INFO level it formats and prints a report on every call.
* GenZ is given its own model names (meta-llama/meta-llama-3.1-8b, -70b) and system (H100_GPU), bits bf16,
  and its defaults otherwise (efficiency 1).
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import logging
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import genmodel

INPUT_TOKENS, OUTPUT_TOKENS = 1024, 256
WORKLOADS = [("llama-3.1-8b", 1, 1), ("llama-3.1-8b", 1, 16), ("llama-3.1-70b", 4, 1), ("llama-3.1-70b", 4, 16)]
GRID_TP, GRID_BATCH, GRID_INPUT = (1, 2, 4, 8), tuple(2 ** k for k in range(9)), (512, 1024, 2048, 4096)
SEARCHES = [("llama-3.1-70b", (1, 2, 4, 8), tuple(2 ** k for k in range(10)), 0.050),
            ("llama-3.1-8b", (1,), tuple(2 ** k for k in range(11)), 0.020)]
LLAMA_SHAPES = {  # published shapes: layers, hidden, heads, kv heads, MLP width, vocabulary
    "llama-3.1-8b": (32, 4096, 32, 8, 14336, 128256), "llama-3.1-70b": (80, 8192, 64, 8, 28672, 128256)}


class RefusedError(Exception):
    """The tool refuses the configuration (it does not fit): an answer, counted as an evaluated configuration."""


class NotExpressibleError(Exception):
    """The tool cannot express the configuration at all (e.g. tensor parallelism in mlsysim)."""


@dataclass
class Tool:
    """One tool: ``estimate(model, tp, batch, input_tokens) -> (ttft_s, tpot_s)`` raising RefusedError or
    NotExpressibleError; ``tpot(...)`` the cheapest call that answers TPOT alone (for the search)."""

    name: str
    version: str
    estimate: Callable[[str, int, int, int], tuple[float, float]]
    tpot: Callable[[str, int, int, int], float]


def genmodel_tool() -> Tool:
    def estimate(model: str, tp: int, batch: int, input_tokens: int) -> tuple[float, float]:
        try:
            r = genmodel.estimate(model, "h100-sxm", batch=batch, input_tokens=input_tokens,
                                  output_tokens=OUTPUT_TOKENS, weight_dtype="bf16", tp=tp)
        except genmodel.DoesNotFitError as exc:
            raise RefusedError(str(exc)) from exc
        return r.ttft_s, r.tpot_s

    return Tool("genmodel", importlib.metadata.version("genmodel"), estimate, lambda *a: estimate(*a)[1])


def genz_tool() -> Tool:
    from GenZ import decode_moddeling, prefill_moddeling

    def common(model: str, tp: int, batch: int, input_tokens: int) -> dict:
        return {"model": f"meta-llama/meta-{model}", "batch_size": batch, "input_tokens": input_tokens,
                "system_name": "H100_GPU", "bits": "bf16", "tensor_parallel": tp, "pipeline_parallel": 1}

    def tpot(*args) -> float:
        try:
            return decode_moddeling(**common(*args), output_tokens=OUTPUT_TOKENS, Bb=1)["Latency"] / 1e3
        except ValueError as exc:  # "All params would not fit on chip ..."
            raise RefusedError(str(exc)) from exc

    def estimate(*args) -> tuple[float, float]:
        try:
            ttft = prefill_moddeling(**common(*args))["Latency"] / 1e3
        except ValueError as exc:
            raise RefusedError(str(exc)) from exc
        return ttft, tpot(*args)

    return Tool("GenZ", importlib.metadata.version("genz-llm"), estimate, tpot)


def mlsysim_tool() -> Tool:
    from mlsysim import Hardware, Models
    from mlsysim.solvers import ServingModel

    models = {"llama-3.1-8b": Models.Language.Llama3_8B, "llama-3.1-70b": Models.Language.Llama3_70B}
    solver, h100 = ServingModel(), Hardware.Cloud.H100

    def estimate(model: str, tp: int, batch: int, input_tokens: int) -> tuple[float, float]:
        if tp != 1:
            raise NotExpressibleError("mlsysim's ServingModel has no tensor parallelism")
        r = solver.solve(model=models[model], hardware=h100, seq_len=input_tokens, batch_size=batch,
                         precision="fp16")
        if not r.feasible:
            raise RefusedError(r.constraint_trace[0])
        return r.ttft.m_as("s"), r.itl.m_as("s")

    return Tool("mlsysim", importlib.metadata.version("mlsysim"), estimate, lambda *a: estimate(*a)[1])


def llm_analysis_tool() -> Tool:
    from llm_analysis.analysis import LLMAnalysis
    from llm_analysis.config import ModelConfig, ParallelismConfig, get_dtype_config_by_name, get_gpu_config_by_name
    from llm_analysis.logger import logger

    logger.setLevel(logging.ERROR)

    def config(name: str) -> ModelConfig:
        layers, hidden, heads, kv_heads, mlp, vocab = LLAMA_SHAPES[name]
        return ModelConfig(name=name, num_layers=layers, n_head=heads, hidden_dim=hidden, vocab_size=vocab,
                           max_seq_len=131072, num_key_value_heads=kv_heads, ffn_embed_dim=mlp * 3 // 2,
                           expansion_ratio=mlp * 1.5 / hidden, model_type="llama")

    models = {name: config(name) for name in LLAMA_SHAPES}
    gpu, dtype = get_gpu_config_by_name("h100-sxm-80gb"), get_dtype_config_by_name("w16a16e16")

    def estimate(model: str, tp: int, batch: int, input_tokens: int) -> tuple[float, float]:
        try:
            r = LLMAnalysis(models[model], gpu, dtype, ParallelismConfig(tp_size=tp)).inference(
                batch_size_per_gpu=batch, seq_len=input_tokens, num_tokens_to_generate=OUTPUT_TOKENS)
        except AssertionError as exc:  # "model is too large ...", "kv_cache ... too large to fit"
            raise RefusedError(str(exc)) from exc
        return r["prefill_latency"], r["decode_latency"]

    return Tool("llm-analysis", importlib.metadata.version("llm-analysis"), estimate, lambda *a: estimate(*a)[1])


def load_peers() -> list[Tool]:
    """The installed peers; a missing or broken one is reported and skipped."""
    tools = []
    for dist, factory in (("genz-llm", genz_tool), ("mlsysim", mlsysim_tool), ("llm-analysis", llm_analysis_tool)):
        try:
            tools.append(factory())
        except Exception as exc:  # ImportError, or a peer that fails on import
            print(f"skipped {dist}: {type(exc).__name__}: {exc}")
    if not tools:
        sys.exit("compare_peers: none of the peers (genz-llm, mlsysim, llm-analysis) is installed in this "
                 "interpreter. Create their environment first (see the module docstring):\n"
                 "  python3 -m venv .peers-venv && .peers-venv/bin/pip install genz-llm mlsysim llm-analysis "
                 "&& .peers-venv/bin/pip install -e .\n  .peers-venv/bin/python benchmarks/compare_peers.py")
    return tools


def best_time(call: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after two warm-up calls."""
    call(), call()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def answer(call: Callable[[], object]) -> object:
    """Call, returning the exception instead of raising it when the tool refuses the configuration."""
    try:
        return call()
    except (RefusedError, NotExpressibleError) as exc:
        return exc


def grid_configs(tool: Tool) -> list[tuple[str, int, int, int]]:
    configs = [("llama-3.1-70b", tp, b, i) for tp in GRID_TP for b in GRID_BATCH for i in GRID_INPUT]
    return [c for c in configs if not isinstance(answer(functools.partial(tool.estimate, *c)), NotExpressibleError)]


def peer_rate(tool: Tool, repeats: int) -> tuple[float, int]:
    """Configurations per second of a Python loop over the grid's configurations the tool can express."""
    calls = [functools.partial(tool.estimate, *c) for c in grid_configs(tool)]

    def loop() -> None:
        for call in calls:
            answer(call)

    return len(calls) / best_time(loop, repeats), len(calls)


def genmodel_rate(repeats: int, n: int | None = None) -> tuple[float, int]:
    """Configurations per second of one vectorized genmodel call: the peers' grid, or about ``n``
    configurations (TP x batch 1..n/400 x 100 prompt lengths) when ``n`` is given."""
    model, hw = genmodel.get_model("llama-3.1-70b"), genmodel.get_hardware("h100-sxm")
    if n is None:
        tp, batch, inputs = np.array(GRID_TP), np.array(GRID_BATCH), np.array(GRID_INPUT)
    else:
        tp, batch, inputs = np.array(GRID_TP), np.arange(1, n // 400 + 1), np.linspace(128, 16384, 100).astype(int)
    kwargs = {"tp": tp[:, None, None], "batch": batch[None, :, None], "input_tokens": inputs[None, None, :],
              "output_tokens": OUTPUT_TOKENS, "weight_dtype": "bf16"}
    count = tp.size * batch.size * inputs.size
    return count / best_time(functools.partial(genmodel.estimate, model, hw, **kwargs), repeats), count


def search(tool: Tool, model: str, tps: tuple[int, ...], batches: tuple[int, ...], target_s: float):
    """Best batch / (TP x TPOT) over the grid among configurations that fit and meet the TPOT target:
    (value, tp, batch) or None; a peer loops over the grid, genmodel makes one vectorized call."""
    if tool.name == "genmodel":
        tp, b = np.array(tps)[:, None], np.array(batches)[None, :]
        r = genmodel.estimate(model, "h100-sxm", batch=b, tp=tp, input_tokens=INPUT_TOKENS,
                              output_tokens=OUTPUT_TOKENS, weight_dtype="bf16")
        tpot = np.asarray(r.metrics["tpot_s"])
        rate = np.where(np.asarray(r.fits) & (tpot <= target_s), b / (tp * tpot), -np.inf)
        i, j = np.unravel_index(np.argmax(rate), rate.shape)
        return (float(rate[i, j]), tps[i], batches[j]) if np.isfinite(rate[i, j]) else None
    best = None
    for tp in tps:
        for b in batches:
            tpot = answer(lambda tp=tp, b=b: tool.tpot(model, tp, b, INPUT_TOKENS))
            if isinstance(tpot, Exception) or tpot > target_s:
                continue
            if best is None or b / (tp * tpot) > best[0]:
                best = (b / (tp * tpot), tp, b)
    return best


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, NumPy {np.__version__}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}" if seconds < 0.01 else f"{seconds * 1e3:.1f}"


def estimates(tools: list[Tool], repeats: int) -> dict[str, list[float]]:
    """Print every tool's TTFT / TPOT for the shared workloads and return its times per estimate."""
    per_estimate: dict[str, list[float]] = {t.name: [] for t in tools}
    print(f"TTFT / TPOT (ms), each tool's own definitions; below, time per estimate (best of {repeats})")
    print(f"{'workload':28}" + "".join(f"{t.name:>26}" for t in tools))
    for model, tp, batch in WORKLOADS:
        cells, times = [], []
        for t in tools:
            call = functools.partial(t.estimate, model, tp, batch, INPUT_TOKENS)
            got = answer(call)
            if isinstance(got, NotExpressibleError):
                cells.append("not expressible")
                times.append("")
                continue
            cells.append("does not fit" if isinstance(got, RefusedError) else f"{ms(got[0])} / {ms(got[1])}")
            spent = best_time(functools.partial(answer, call), repeats)
            per_estimate[t.name].append(spent)
            times.append(f"{ms(spent)} ms")
        print(f"{f'{model} TP{tp} B{batch}':28}" + "".join(f"{c:>26}" for c in cells))
        print(f"{'':28}" + "".join(f"{c:>26}" for c in times))
        final = genmodel.estimate(model, "h100-sxm", batch=batch, tp=tp, input_tokens=INPUT_TOKENS,
                                  output_tokens=OUTPUT_TOKENS, weight_dtype="bf16").tpot_final_s
        print(f"{'':28}{f'(genmodel final TPOT {ms(final)})':>26}")
    return per_estimate


def searches(tool: Tool, repeats: int) -> list:
    """For each search: None when the tool cannot express any of its TP degrees, else (best time, points, result)."""
    out = []
    for model, tps, batches, target in SEARCHES:
        expressible = tuple(tp for tp in tps if not isinstance(
            answer(functools.partial(tool.estimate, model, tp, 1, INPUT_TOKENS)), NotExpressibleError))
        if not expressible:
            out.append(None)
            continue
        run = functools.partial(search, tool, model, expressible, batches, target)
        out.append((best_time(run, repeats), len(expressible) * len(batches), run()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per single estimate (best is kept)")
    parser.add_argument("--grid-repeats", type=int, default=3, help="timed passes over the grid and the searches")
    parser.add_argument("--large-grid", type=int, default=100_000, help="genmodel's large vectorized grid size")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # llm-analysis imports transformers, which warns
    peers = load_peers()
    tools = [genmodel_tool(), *peers]
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{t.name} {t.version}" for t in tools))
    print(f"workloads: H100 SXM, bf16, {INPUT_TOKENS:,} prompt + {OUTPUT_TOKENS} output tokens\n")

    per_estimate = estimates(tools, args.repeats)
    rates = {"genmodel": genmodel_rate(args.grid_repeats)}
    large = genmodel_rate(args.grid_repeats, args.large_grid)
    rates.update({t.name: peer_rate(t, args.grid_repeats) for t in peers})
    found = {t.name: searches(t, args.grid_repeats) for t in tools}

    g_est = statistics.median(per_estimate["genmodel"])
    print(f"\n{'':34}{'time per estimate':>22}{'configurations/s':>26}" + "".join(
        f"{'search ' + m.replace('llama-3.1-', '') + f' ({len(tp) * len(b)} pts)':>28}"
        for m, tp, b, _ in SEARCHES))
    for t in tools:
        est = statistics.median(per_estimate[t.name])
        rate, n = rates[t.name]
        row = f"{t.name + ' ' + t.version:34}{ms(est) + ' ms':>22}{f'{rate:,.0f} ({n} cfg)':>26}"
        for got in found[t.name]:
            row += f"{'n/a' if got is None else ms(got[0]) + f' ms ({got[1]} pts)':>28}"
        print(row)
        if t.name != "genmodel":
            speedup = rates["genmodel"][0] / rate
            ratio = f"{'  genmodel speedup':34}{f'x{est / g_est:.2f}':>22}{f'x{speedup:,.1f}':>26}"
            for mine, theirs in zip(found["genmodel"], found[t.name], strict=True):
                fewer = "*" if theirs is not None and theirs[1] < mine[1] else ""
                ratio += f"{'n/a' if theirs is None else f'x{theirs[0] / mine[0]:,.1f}{fewer}':>28}"
            print(ratio)
    print("* over fewer points than genmodel's (only the TP degrees the tool can express)")
    print(f"genmodel at scale: {large[1]:,} configurations in one call, {large[0]:,.0f} configurations/s")
    print("\nsearch results (best batch / (TP x TPOT) per device under the TPOT target):")
    for i, (model, _, _, target) in enumerate(SEARCHES):
        cells = []
        for t in tools:
            got = found[t.name][i]
            cells.append(f"{t.name} " + ("n/a" if got is None else "none" if got[2] is None
                                         else f"{got[2][0]:,.0f} tok/s at TP{got[2][1]} B{got[2][2]}"))
        print(f"  {model} TPOT <= {target * 1e3:.0f} ms: " + "; ".join(cells))


if __name__ == "__main__":
    main()
