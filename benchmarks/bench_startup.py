"""Benchmark: ``genmodel estimate`` as a whole process (issue target: at most 0.3 s), and where its start goes.

Runs the command line in a fresh Python process N times, as the ``genmodel`` console script does, and prints the
best and median wall time: with the parse cache warm (the usual case), with it cold (the first run after a
database file changed), and, for scale, a bare interpreter and ``import genmodel`` alone. Then the ten largest
imports of one start (``python -X importtime``, cumulative and self time) and the heavy optional packages the
command imported (none expected: plotly, pandas, streamlit, dask, pyarrow are imported only by the commands and
pages that draw or write with them).

Usage: python benchmarks/bench_startup.py [--runs 20] [-- estimate -m llama-3.1-70b -H dgx-h100 --tp 8]

Measured on the 2-core CI machine while other jobs shared it (Python 3.11, best of 25-40 runs, the previous code
run alternately with this one in the same loop): ``genmodel estimate`` 0.30-0.35 s, before 0.33-0.41 s (30-60 ms
saved: about 20 ms of YAML object construction replaced by the parse cache, about 20 ms of Typer turning every
command's signature into options, 4 ms of annotation strings); a cold parse cache costs about 30 ms more once. Of
what is left, a bare interpreter is 18 ms and ``import genmodel`` 230-310 ms (NumPy about 30 ms, Pydantic and the
spec classes about 60 ms, the rest of the library); the command itself runs in about 15 ms. Later, with the spec
validators built on first use and the validated entries kept between runs (docs/peer_speed.md, seventy-fourth and
seventy-fifth sessions), a warm start builds no spec validator: 0.34-0.35 s against 0.43-0.46 s for dd7c4f1 on a busier
machine; "cold parse cache" then means both caches empty. The runs start from compiled bytecode, as an installed
genmodel does (``PYTHONDONTWRITEBYTECODE`` is unset for them): on a quiet machine of 2026-12-08, best 275-282 ms,
median 303-312 ms (with it set, every start recompiled 33 modules: 350 ms best).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HEAVY = ("plotly", "pandas", "streamlit", "dask", "pyarrow", "scipy", "matplotlib")
# what the console script runs (genmodel = "genmodel.interfaces.cli:_entry"), with argv[0] as it would be
ENTRY = "import sys; sys.argv[0] = 'genmodel'; from genmodel.interfaces.cli import _entry; _entry()"


def run_times(argv: list[str], runs: int, env: dict[str, str], fresh_cache: bool = False) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per run of ``argv`` (output discarded); with ``fresh_cache`` each run starts with an empty
    parse cache. CPU time (user + system) is what the process itself spent, the steadier figure on a busy machine."""
    times = []
    for _ in range(runs):
        run_env = dict(env)
        with tempfile.TemporaryDirectory() as cold:
            if fresh_cache:
                run_env["GENMODEL_CACHE_DIR"] = cold
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(argv, env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        times.append((wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime))
    return times


def report(label: str, times: list[tuple[float, float]]) -> None:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    print(f"  {label:44} wall best {min(wall) * 1e3:4.0f} ms, median {statistics.median(wall) * 1e3:4.0f} ms;"
          f"  CPU best {min(cpu) * 1e3:4.0f} ms, median {statistics.median(cpu) * 1e3:4.0f} ms")


def import_breakdown(argv: list[str], env: dict[str, str], top: int = 10) -> None:
    """The ``top`` packages and modules of one start by their own import time."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv[1:]], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match[1]), int(match[2]), (len(match[3]) - 1) // 2, match[4]))
    total = sum(c for _, c, depth, _ in rows if depth == 0)
    groups: dict[str, int] = {}
    for own, _, _, name in rows:  # self time by package (genmodel by subpackage)
        parts = name.split(".")
        group = ".".join(parts[:2]) if parts[0] == "genmodel" else parts[0]
        groups[group] = groups.get(group, 0) + own
    print(f"\nimports of one start: {total / 1e3:.0f} ms under -X importtime (which inflates it); "
          f"top {top} packages by self time:")
    for group, own in sorted(groups.items(), key=lambda g: -g[1])[:top]:
        print(f"  {own / 1e3:7.1f} ms  {group}")
    print(f"top {top} modules by self time:")
    for own, _, _, name in sorted(rows, key=lambda r: -r[0])[:top]:
        print(f"  {own / 1e3:7.1f} ms  {name}")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("command", nargs="*", default=["estimate"], help="the genmodel arguments (after --)")
    args = parser.parse_args()
    env = dict(os.environ)
    # an installed genmodel runs from compiled bytecode (pip compiles the modules at install time): let the checkout's
    # modules be compiled on the warm-up runs, as they would be, rather than recompiled on every start
    bytecode = env.pop("PYTHONDONTWRITEBYTECODE", None) is None
    cli = [sys.executable, "-c", ENTRY, *args.command]
    print(f"genmodel {' '.join(args.command)}: {args.runs} runs each, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs" + ("" if bytecode else " (PYTHONDONTWRITEBYTECODE was set: unset for the runs, "
                                           "as an installed genmodel runs from compiled bytecode)"))
    run_times(cli, 2, env)  # warm the parse cache and the file system cache
    report("python -c pass", run_times([sys.executable, "-c", "pass"], args.runs, env))
    report("python -c 'import genmodel'", run_times([sys.executable, "-c", "import genmodel"], args.runs, env))
    report(f"genmodel {' '.join(args.command)} (cold parse cache)",
           run_times(cli, max(3, args.runs // 4), env, fresh_cache=True))
    report(f"genmodel {' '.join(args.command)}", run_times(cli, args.runs, env))
    import_breakdown(cli, env)
    probe = ("import sys; from genmodel.interfaces.cli import main; main(sys.argv[1:]); "
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, *args.command], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    print(f"\nheavy optional packages imported: {done.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
