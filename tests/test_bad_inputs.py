"""A corpus of bad inputs: each one gets a clear error, never a traceback.

The rule: bad input is checked once at the boundary (specs, workload, parallel layout, costs), so the CLI, the
library, the dashboard and validation share the checks. On the command line a bad input prints exactly ONE
line ``error: ...`` naming the option (or the file) at fault, exits with status 2 and writes nothing; in the
library it raises a ``genmodel.GenmodelError`` that is also a ``ValueError`` or ``TypeError``, with a one-line
message, naming the argument (``exc.argument`` or in the message).

Cases are tables, grouped by class of bad input; each row is one parametrized test. A CLI row is
``cli(argv, needle, files=..., env=...)``: ``{tmp}`` in argv, file names and env values stands for the test's
temporary folder (also the working folder); ``needle`` is text the error line must contain, ``a|b`` meaning
either, a tuple meaning all of them; ``files`` are created before the run (bytes or text; ``None`` makes a
folder). A library row is ``lib(id, callable, argument)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

import genmodel
from genmodel.data import registry
from genmodel.interfaces.cli import main

MAX_LINE = 500  # characters: an error line longer than this is not "one readable line"
HF_FIXTURE = Path(__file__).parent / "fixtures" / "hf_configs" / "llama-3.1-8b.json"
HF = json.loads(HF_FIXTURE.read_text())
MEASURED = (Path(__file__).parent.parent / "validation" / "measured.csv").read_text().splitlines()
HEADER = MEASURED[0]
ROW = MEASURED[1]


@pytest.fixture(scope="session")
def user_dir(tmp_path_factory) -> Path:
    """An empty user folder shared by the tests (the databases are then read once, not once per test)."""
    return tmp_path_factory.mktemp("user")


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch, user_dir):
    """No test reads or writes the real user folder, sees GENMODEL_DB or keeps another test's --db folders."""
    monkeypatch.setenv("GENMODEL_USER_DIR", str(user_dir))
    monkeypatch.delenv("GENMODEL_DB", raising=False)
    monkeypatch.setattr(registry, "_extra_roots", [])
    monkeypatch.chdir(tmp_path)
    yield
    if any(user_dir.iterdir()):  # a case wrote into the shared user folder (reported by its test): empty it
        for p in sorted(user_dir.rglob("*"), reverse=True):
            p.rmdir() if p.is_dir() else p.unlink()
        registry.reload()


# ---- helpers ---------------------------------------------------------------------------------------------------

def cli(argv, needle=None, files=None, env=None, id=None):
    """One command-line case (see the module docstring)."""
    argv = tuple(argv.split()) if isinstance(argv, str) else tuple(argv)
    label = id or " ".join(a if a else "''" for a in argv)
    label = label.replace("{tmp}", "T")[:100]
    return pytest.param(argv, needle, files or {}, env or {}, id=label)


def lib(id, fn, argument=None):
    """One library case: ``fn()`` must raise a GenmodelError naming ``argument`` (when given)."""
    return pytest.param(fn, argument, id=id)


def edit(base: dict, *changes, drop=()) -> dict:
    """A deep copy of ``base`` with ``("a.b.c", value)`` changes applied and dotted keys in ``drop`` removed."""
    out = copy.deepcopy(base)
    for key, value in changes:
        *head, last = key.split(".")
        node = out
        for k in head:
            node = node[k]
        node[last] = value
    for key in drop:
        *head, last = key.split(".")
        node = out
        for k in head:
            node = node[k]
        del node[last]
    return out


def dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with a hash of its content (folders: 'dir')."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _sub(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


def _needles_missing(line: str, needle) -> list[str]:
    if needle is None:
        return []
    wanted = (needle,) if isinstance(needle, str) else needle
    return [w for w in wanted if not any(alt in line for alt in w.split("|"))]


CLASS_NAME = re.compile(r"^error: [\w.]*(Error|Exception|Warning)\b")


def run_cli_case(argv, needle, files, env, tmp_path, capsys, monkeypatch, user_dir):
    for rel, content in files.items():
        path = tmp_path / _sub(rel, tmp_path)
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_sub(content, tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, _sub(value, tmp_path))
    before = _snapshot(tmp_path), _snapshot(user_dir)
    argv = [_sub(a, tmp_path) for a in argv]
    capsys.readouterr()
    try:
        code = main(argv)
    except BaseException as exc:  # anything escaping main is a bug
        first = (str(exc).splitlines() or [""])[0][:200]
        pytest.fail(f"raised {type(exc).__name__}: {first}")
    out, err = capsys.readouterr()
    lines = err.splitlines()
    line = lines[0] if lines else ""
    problems = []
    if code != 2:
        problems.append(f"exit {code}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines")
    if not line.startswith("error: ") or not line[7:].strip():
        problems.append("no 'error: ...' line")
    if "Traceback" in err or 'File "' in err or CLASS_NAME.match(line):
        problems.append("traceback or exception class name")
    if not line.isprintable():
        problems.append("unprintable characters")
    if len(line) > MAX_LINE:
        problems.append(f"line of {len(line)} characters")
    missing = _needles_missing(line, needle)
    if missing:
        problems.append(f"does not name {' / '.join(missing)}")
    if out.strip():
        problems.append(f"stdout {out.strip()[:80]!r}")
    after = _snapshot(tmp_path), _snapshot(user_dir)
    if after != before:
        changed = {k for a, b in zip(after, before, strict=True) for k, _ in set(a.items()) ^ set(b.items())}
        problems.append(f"wrote {', '.join(sorted(changed))[:120]}")
    assert not problems, f"{'; '.join(problems)} | stderr: {err.strip()[:300]!r}"


def run_lib_case(fn, argument):
    with pytest.raises(Exception) as info:  # the type is checked below
        fn()
    exc = info.value
    message = str(exc)
    problems = []
    if not isinstance(exc, genmodel.GenmodelError):
        problems.append(f"{type(exc).__name__} is not a GenmodelError")
    if not isinstance(exc, (ValueError, TypeError)):
        problems.append(f"{type(exc).__name__} is not a ValueError/TypeError")
    if not message.strip() or "\n" in message.strip():
        problems.append("message is not one line")
    if argument is not None:
        named = getattr(exc, "argument", None) == argument or any(a in message for a in argument.split("|"))
        if not named:
            problems.append(f"does not name {argument!r} (argument={getattr(exc, 'argument', None)!r})")
    assert not problems, f"{'; '.join(problems)} | {type(exc).__name__}: {message[:300]!r}"


# ---- spec and config material ----------------------------------------------------------------------------------

MODEL = {
    "name": "tiny", "display_name": "Tiny", "family": "llama", "hidden_size": 2048, "num_layers": 16,
    "vocab_size": 128256, "max_context_tokens": 131072,
    "attention": {"num_heads": 32, "num_kv_heads": 8, "head_dim": 64},
    "ffn": {"intermediate_size": 8192}, "source": "test",
}
HW = {
    "name": "toy", "display_name": "Toy", "vendor": "test", "kind": "gpu",
    "peak_flops_per_s": {"bf16": "100 TFLOPS"},
    "memory_tiers": [{"name": "HBM", "capacity_bytes": "100 GB", "bandwidth_bytes_per_s": "1 TB/s"}],
    "power": {"tdp_w": "500 W", "idle_w": "50 W"}, "source": "test",
}
PLATFORM = {"name": "pod", "display_name": "Pod", "device": "h100-sxm", "num_devices": 8, "source": "test"}
GOOD_MODEL_YAML = dump(MODEL)
GOOD_HF = json.dumps(HF)


def alias_bomb(field: str, prefix: str = "") -> str:
    """Six levels of ten-fold YAML aliases (a million leaves from a few hundred bytes) under ``field``."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 6)]
    return prefix + "\n".join(lines) + f"\n{field}: *a5\n"


DEEP_JSON = '{"model_type": "llama", "hidden_size": ' + "[" * 100_000 + "]" * 100_000 + "}"
BINARY = bytes(range(256)) * 8
LATIN1 = "name: café\n".encode("latin-1")


# ================================================================================================================
# CLI
# ================================================================================================================

# -- numeric options that take whole numbers: NaN, infinities, negative, zero, huge, fractional, junk, empty
INT_OPTIONS = ["--batch", "--input-tokens", "--output-tokens", "--tp", "--pp", "--ep", "--dp", "--cp",
               "--prefill-chunk-tokens", "--num-devices"]
BAD_INTS = ["nan", "inf", "-inf", "-1", "0", "1e30", "1e400", "2.5", "", "abc", "1" + "0" * 30]
INT_CASES = [cli(["estimate", f"{opt}={v}"], opt) for opt in INT_OPTIONS for v in BAD_INTS]

# -- numeric options that take real numbers: each outside its documented range
FLOAT_BAD = {
    "--flops-scale": ["nan", "inf", "-inf", "-1", "0", "1e400", "abc", ""],
    "--bandwidth-scale": ["nan", "inf", "-inf", "-1", "0", "1e400", "abc", ""],
    "--capacity-scale": ["nan", "inf", "-inf", "-1", "0", "1e400", "abc", ""],
    "--interconnect-scale": ["nan", "inf", "-inf", "-1", "0", "1e400", "abc", ""],
    "--expert-imbalance": ["nan", "inf", "-inf", "0", "0.5", "-1", "1e400", "abc"],
    "--comm-overlap": ["nan", "inf", "-inf", "-0.1", "1.5", "1e30", "abc"],
    "--pue": ["nan", "inf", "-inf", "0", "0.9", "-1", "abc"],
    "--utilization": ["nan", "inf", "0", "-0.5", "1.01", "1e30", "abc"],
    "--amortization-years": ["nan", "inf", "0", "-4", "abc"],
    "--electricity-usd-per-kwh": ["nan", "inf", "-0.01", "abc"],
    "--purchase-usd": ["nan", "inf", "-1", "abc"],
    "--usd-per-device-hour": ["nan", "inf", "-1", "abc"],
    "--requests-per-s": ["nan", "inf", "0", "-1", "abc"],
    "--cooling-w-per-w": ["nan", "inf", "-1", "abc"],
    "--compute-efficiency": ["nan", "inf", "0", "-0.5", "1.5", "1e30", "abc"],
    "--memory-efficiency": ["nan", "inf", "0", "-0.5", "1.5", "1e30", "abc"],
    "--memory-fraction": ["nan", "inf", "0", "-0.5", "1.5", "1e30", "abc"],
    "--kernel-overhead-us": ["nan", "inf", "-1", "abc"],
    "--step-overhead-ms": ["nan", "inf", "-1", "abc"],
    "--runtime-reserved": ["nan", "nan GiB", "inf GiB", "-1 GiB", "abc", "", "1.5 GHz", "1e400 B"],
    "--cost-mode": ["leased", "", "owned rented", "0"],
}
FLOAT_CASES = [cli(["estimate", f"{opt}={v}"], opt) for opt, values in FLOAT_BAD.items() for v in values]
# serve reads the engine's memory share and the runtime's reservation through the same check
FLOAT_CASES += [cli(["serve", "--request-rate=1", f"{opt}={v}"], opt)
                for opt in ("--memory-fraction", "--runtime-reserved") for v in FLOAT_BAD[opt]]

# -- datatypes: junk, empty, blank; and ones the device cannot run
BAD_DTYPES = ["fp7", "", " ", "bf16bf16", "int3", "nan", "fp8;rm"]
DTYPE_CASES = [cli(["estimate", f"{opt}={v}"], opt)
               for opt in ("--weight-dtype", "--kv-dtype", "--activation-dtype", "--embedding-dtype")
               for v in BAD_DTYPES]
DTYPE_CASES += [
    cli(["size", "--weight-dtype=fp7"], "--weight-dtype"),
    cli(["size", "--kv-dtype="], "--kv-dtype"),
    cli(["plan", "--activation-dtype=int3"], "--activation-dtype"),
    cli(["plan", "--kv-dtype=fp7"], "--kv-dtype"),
    cli(["compare", "--weight-dtype=fp7"], "--weight-dtype"),
    cli(["compare", "--activation-dtype= "], "--activation-dtype"),
    cli("estimate --hardware a100-80gb-sxm --activation-dtype fp8", "--activation-dtype"),
    cli("estimate --hardware a100-80gb-sxm --weight-dtype fp8 --activation-dtype fp8", "--activation-dtype"),
    cli("size --hardware a100-80gb-sxm --activation-dtype fp8", "--activation-dtype"),
]

# -- the same shared options on size, plan and compare (one check, every command)
SHARED_CASES = [
    cli(["size", f"{opt}={v}"], opt) for opt in ("--batch", "--input-tokens", "--output-tokens")
    for v in ("0", "-1", "nan")
] + [
    cli(["plan", f"{opt}={v}"], opt) for opt in ("--input-tokens", "--output-tokens") for v in ("0", "-1", "2.5")
] + [
    cli(["compare", f"{opt}={v}"], opt) for opt in ("--batch", "--input-tokens", "--output-tokens")
    for v in ("0", "-1", "abc")
] + [
    cli(["size", f"--max-devices={v}"], "--max-devices") for v in ("0", "-1", "70000", "2.5", "abc")
] + [
    cli(["size", "--batch=5000000000"], "--batch"),
    cli(["plan", "--input-tokens=2000000000000"], "--input-tokens"),
    cli(["compare", "--output-tokens=2000000000000"], "--output-tokens"),
]

# -- plan's own options
PLAN_CASES = [
    cli(["plan", f"{opt}={v}"], opt) for opt in ("--ttft-ms", "--tpot-ms")
    for v in ("nan", "inf", "-inf", "0", "-5", "1e400", "abc", "")
] + [
    cli(["plan", f"--max-devices={v}"], "--max-devices") for v in ("0", "-1", "70000", "2.5", "abc", "", "nan")
] + [
    cli(["plan", f"--top={v}"], "--top") for v in ("0", "-5", "2.5", "abc", "nan")
] + [
    cli(["plan", f"--rank-by={v}"], "--rank-by") for v in ("speed", "", "throughput,cost", "THROUGHPUT!")
] + [
    cli(["plan", f"--cost-mode={v}"], "--cost-mode") for v in ("leased", "")
] + [
    cli("plan --disaggregated --ttft-ms -1", "--ttft-ms"),
    cli("plan --rank-by cost --cost-mode hire", "--cost-mode"),
] + [
    cli(["plan", "--tpot-ms=30", f"--targets-at={v}"], "--targets-at") for v in ("bnd", "", "BAND", "band,estimate")
] + [
    cli("plan --tpot-ms 30 --disaggregated --targets-at band", "--targets-at"),
]

# -- compare's own options: sort key, lists of hardware with junk in them
COMPARE_CASES = [
    cli(["compare", f"--sort-by={v}"], "--sort-by") for v in ("price", "", "cost,energy", "COST?")
] + [
    cli(["compare", f"--cost-mode={v}"], "--cost-mode") for v in ("leased", "")
] + [
    cli(["compare", "--hardware=h100-sxm,nope"], "nope"),
    cli(["compare", "--hardware=nope"], "nope"),
    cli(["compare", "--hardware=h100-sxm,,h200-sxm,nope2"], "nope2"),
    cli(["compare", "--hardware=h100-sxm;h200-sxm"], "h100-sxm;h200-sxm"),
    cli(["compare", "--hardware=,"], "--hardware"),
    cli(["compare", "--hardware="], "--hardware"),
    cli(["compare", "--hardware= , "], "--hardware"),
    cli(["compare", "--model=nope"], "nope"),
    cli("compare --model llama-2-7b --input-tokens 5000", "--input-tokens"),
]

# -- dashboard: ports outside 1..65535 (checked before anything starts)
DASHBOARD_CASES = [cli(["dashboard", f"--port={v}"], "--port") for v in ("0", "-1", "70000", "abc", "nan", "")]

# -- unknown names: models, devices, platforms, one unknown among several
ENGINE_BAD = {"name": "bad-engine", "display_name": "Bad", "step_overhead_s": "-1 ms", "kernel_overhead_s": "1 us",
              "source": "test"}
UNKNOWN_CASES = [
    cli("estimate --engine vlm", ("--engine", "genmodel engines")),
    cli(["estimate", "--engine="], "--engine|engine"),
    cli("compare --engine nope", "nope"),
    cli("plan --engine nope", "nope"),
    cli("size --engine nope", "nope"),
    cli("estimate --engine {tmp}/missing.yaml", "missing.yaml"),
    cli("estimate --engine {tmp}/e/bad-engine.yaml", ("bad-engine.yaml", "step_overhead_s"),
        files={"e/bad-engine.yaml": dump(ENGINE_BAD)}, id="estimate --engine with a negative step cost"),
    cli("estimate --model nope", "nope"),
    cli("estimate --model llama-70b", "llama-70b"),
    cli(["estimate", "--model="], "--model|model"),
    cli(["estimate", "--model= "], "--model|model"),
    cli(["estimate", "--model=" + "x" * 5000], "--model|model", id="estimate --model x*5000"),
    cli(["estimate", "--model=nope\nsecond line"], "nope", id="estimate --model with a newline"),
    cli(["estimate", "--model=\x00\x1b[31m"], "--model|model", id="estimate --model control characters"),
    cli("estimate --model ../../etc/passwd", "passwd"),
    cli("estimate --model {tmp}/missing.yaml", "missing.yaml"),
    cli("estimate --model {tmp}/missing.json", "missing.json"),
    cli("estimate --hardware nope", "nope"),
    cli(["estimate", "--hardware="], "--hardware|hardware"),
    cli("estimate --hardware dgx-h999", "dgx-h999"),
    cli("estimate --hardware {tmp}/missing.yaml", "missing.yaml"),
    cli("estimate --hardware llama-3.1-8b", "llama-3.1-8b"),
    cli("estimate --model h100-sxm", "h100-sxm"),
    cli("size --model nope", "nope"),
    cli("size --hardware nope", "nope"),
    cli("plan --model nope", "nope"),
    cli("plan --hardware nope", "nope"),
    cli("show nope", "nope"),
    cli(["show", ""], None),
    cli("show {tmp}/missing.yaml", "missing.yaml"),
]

# -- impossible setups: context too long, layouts that do not divide the model, device counts that disagree
IMPOSSIBLE_CASES = [
    cli("estimate --model llama-2-7b --input-tokens 5000", "--input-tokens"),
    cli("estimate --model llama-2-7b --input-tokens 4000 --output-tokens 200", "--input-tokens|--output-tokens"),
    cli("estimate --input-tokens 131072 --output-tokens 1", "--input-tokens|--output-tokens"),
    cli("estimate --batch 5000000000", "--batch"),
    cli("estimate --input-tokens 2000000000000", "--input-tokens"),
    cli("estimate --cp 4 --input-tokens 2", "--cp"),
    cli("estimate --cp 8 --input-tokens 7 --tp 1", "--cp"),
    cli("estimate --attention-dp", "--attention-dp"),
    cli("estimate --ep 2", "--ep"),
    cli("estimate --ep 8 --attention-dp", "--ep|--attention-dp"),
    cli("estimate --tp 3", "--tp"),
    cli("estimate --tp 5", "--tp"),
    cli("estimate --tp 64", "--tp"),
    cli("estimate --hardware dgx-h100 --tp 3", "--tp"),
    cli("estimate --pp 33", "--pp"),
    cli("estimate --pp 1000", "--pp"),
    cli("estimate --num-devices 3", "--num-devices"),
    cli("estimate --tp 2 --num-devices 1", "--num-devices"),
    cli("estimate --dp 2 --num-devices 4", "--num-devices"),
    cli("estimate --model mixtral-8x7b --ep 8 --attention-dp --batch 4", "--batch"),
    cli("estimate --model mixtral-8x7b --ep 3", "--ep"),
    cli("estimate --model mixtral-8x7b --tp 2 --ep 4", "--tp|--ep"),
    cli("estimate --model mixtral-8x7b --ep 8 --attention-dp --cp 2", "--cp"),
    cli("estimate --model mixtral-8x7b --ep 4 --tp 8 --attention-dp", "--tp"),
    cli("estimate --model llama-3.1-405b", None),
    cli("estimate --model deepseek-v3 --hardware rtx-4090", None),
    cli("estimate --capacity-scale 0.01", None),
    cli("estimate --memory-fraction 0.01", None),
    cli(["estimate", "--runtime-reserved=100 GiB"], None),
    cli("size --model llama-3.1-405b --max-devices 1", "--max-devices"),
    cli("size --model llama-2-7b --input-tokens 5000", "--input-tokens"),
    cli("plan --model llama-2-7b --input-tokens 5000", "--input-tokens"),
    cli("plan --max-devices 70000", "--max-devices"),
]

# -- output paths that cannot be written: missing folder, a folder as the file, a file as the folder, /proc
AFILE = {"afile.txt": "x"}
BAD_OUTPUTS = ["{tmp}/missing/out.x", "{tmp}", "{tmp}/afile.txt/out.x", "/proc/genmodel-out.x"]
OUTPUT_CASES = [
    cli([*cmd, f"{opt}={path}"], opt, files=AFILE)
    for cmd, opt in ((["plan"], "--csv"), (["plan"], "--html"), (["compare", "--hardware=h100-sxm"], "--csv"),
                     (["validate"], "--csv"), (["validate"], "--plot"))
    for path in BAD_OUTPUTS
] + [
    cli(["plan", "--csv="], "--csv"),
    cli(["compare", "--hardware=h100-sxm", "--csv="], "--csv"),
    cli(["validate", "--plot="], "--plot"),
    cli(["import-hf", "{tmp}/cfg/config.json", "--output-dir={tmp}/afile.txt"], "--output-dir",
        files={**AFILE, "cfg/config.json": GOOD_HF}),
    cli(["import-hf", "{tmp}/cfg/config.json", "--output-dir={tmp}/afile.txt/sub"], "--output-dir",
        files={**AFILE, "cfg/config.json": GOOD_HF}),
    cli(["import-hf", "{tmp}/cfg/config.json", "--output-dir=/proc/genmodel-out"], "--output-dir",
        files={"cfg/config.json": GOOD_HF}),
    cli(["import-hf", "{tmp}/cfg/config.json", "--output-dir={tmp}/missing/deeper"], "--output-dir",
        files={"cfg/config.json": GOOD_HF}),
    cli(["import-hf", "{tmp}/cfg/config.json", "--output-dir={tmp}/out"], "already exists|--force",
        files={"cfg/config.json": GOOD_HF, "out/cfg.yaml": "name: cfg\n"}),
]

# -- validate --data: files that are not a measurements table
VALIDATE_CASES = [
    cli("validate --data {tmp}/nope.csv", "nope.csv"),
    cli("validate --data {tmp}/data.csv", "data.csv", files={"data.csv": ""}, id="validate --data empty"),
    cli("validate --data {tmp}/data.csv", "data.csv", files={"data.csv": HEADER + "\n"},
        id="validate --data header only"),
    cli("validate --data {tmp}/data.csv", "data.csv", files={"data.csv": f'{HEADER}\n{ROW[:40]},"unterminated\n'},
        id="validate --data unterminated quote"),
    cli("validate --data {tmp}/data.csv", "data.csv",
        files={"data.csv": (HEADER + "\n").encode() + b"\xe9\xff\xfe," * 17 + b"\n"}, id="validate --data latin-1"),
    cli("validate --data {tmp}/data.csv", "data.csv", files={"data.csv": BINARY}, id="validate --data binary"),
    cli("validate --data {tmp}/data.csv", ("data.csv", "metric"),
        files={"data.csv": HEADER.replace(",metric", "") + "\n"}, id="validate --data missing column"),
    cli("validate --data {tmp}/data.csv", "data.csv", files={"data.csv": HEADER.replace(",", ";") + "\n"},
        id="validate --data semicolons"),
    cli("validate --data {tmp}/data.csv", "data.csv", files={"data.csv": f"{HEADER}\n{ROW},extra,fields\n"},
        id="validate --data too many fields"),
    cli("validate --data {tmp}/data.json", "data.json", files={"data.json": '{"id": 1}'},
        id="validate --data json"),
    cli("validate --data {tmp}/datadir", "datadir", files={"datadir": None}, id="validate --data folder"),
    cli(["validate", "--data="], "--data"),
    cli("validate --calibrate --data {tmp}/data.csv", "data.csv", files={"data.csv": HEADER + "\n"},
        id="validate --calibrate --data header only"),
]

# -- spec files given as --model / --hardware / to show: malformed, wrong shape, wrong types, out of range
MODEL_FILES = {
    "not yaml": "name: [unclosed\n  - : :",
    "a list": "- name: tiny\n- hidden_size: 1\n",
    "a scalar": "just some text\n",
    "empty": "",
    "null": "null\n",
    "unknown field": dump(edit(MODEL, ("bogus", 1))),
    "missing field": dump(edit(MODEL, drop=["hidden_size"])),
    "string size": dump(edit(MODEL, ("hidden_size", "big"))),
    "numeric text size": dump(edit(MODEL, ("hidden_size", "2048"))),
    "fractional size": dump(edit(MODEL, ("hidden_size", 2048.5))),
    "boolean size": dump(edit(MODEL, ("vocab_size", True))),
    "NaN size": dump(edit(MODEL, ("hidden_size", float("nan")))),
    "inf context": dump(edit(MODEL, ("max_context_tokens", float("inf")))),
    "negative layers": dump(edit(MODEL, ("num_layers", -4))),
    "zero layers": dump(edit(MODEL, ("num_layers", 0))),
    "zero heads": dump(edit(MODEL, ("attention.num_heads", 0))),
    "negative head dim": dump(edit(MODEL, ("attention.head_dim", -64))),
    "kv heads not dividing": dump(edit(MODEL, ("attention.num_kv_heads", 3))),
    "attention a string": dump(edit(MODEL, ("attention", "gqa"))),
    "huge size": dump(edit(MODEL, ("hidden_size", 10**30))),
    "empty source": dump(edit(MODEL, ("source", ""))),
    "moe top-k above experts": dump(edit(MODEL, ("moe", {"num_experts": 4, "experts_per_token": 8,
                                                         "expert_intermediate_size": 1024}))),
    "deeply nested": "hidden_size: " + "[" * 5000 + "]" * 5000 + "\n",
    "alias bomb": alias_bomb("hidden_size", GOOD_MODEL_YAML.replace("hidden_size: 2048\n", "")),
}
MODEL_FIELD = {"unknown field": "bogus", "missing field": "hidden_size", "string size": "hidden_size",
               "numeric text size": "hidden_size", "fractional size": "hidden_size", "boolean size": "vocab_size",
               "NaN size": "hidden_size", "inf context": "max_context_tokens", "negative layers": "num_layers",
               "zero layers": "num_layers", "zero heads": "num_heads", "negative head dim": "head_dim",
               "kv heads not dividing": "num_kv_heads", "attention a string": "attention",
               "huge size": "hidden_size", "empty source": "source", "moe top-k above experts": "experts_per_token"}
HW_FILES = {
    "negative capacity": dump(edit(HW, ("memory_tiers", [{**HW["memory_tiers"][0], "capacity_bytes": "-80 GiB"}]))),
    "zero capacity": dump(edit(HW, ("memory_tiers", [{**HW["memory_tiers"][0], "capacity_bytes": 0}]))),
    "NaN capacity": dump(edit(HW, ("memory_tiers", [{**HW["memory_tiers"][0], "capacity_bytes": float("nan")}]))),
    "overflowing capacity": dump(edit(HW, ("memory_tiers", [{**HW["memory_tiers"][0], "capacity_bytes": "1e400"}]))),
    "wrong unit": dump(edit(HW, ("memory_tiers", [{**HW["memory_tiers"][0], "capacity_bytes": "80 GHz"}]))),
    "junk bandwidth": dump(edit(HW, ("memory_tiers", [{**HW["memory_tiers"][0], "bandwidth_bytes_per_s": "fast"}]))),
    "no memory tiers": dump(edit(HW, ("memory_tiers", []))),
    "no datatypes": dump(edit(HW, ("peak_flops_per_s", {}))),
    "negative flops": dump(edit(HW, ("peak_flops_per_s", {"bf16": "-1 TFLOPS"}))),
    "unknown datatype": dump(edit(HW, ("peak_flops_per_s", {"bf17": "1 TFLOPS"}))),
    "inf tdp": dump(edit(HW, ("power", {"tdp_w": float("inf")}))),
    "idle above tdp": dump(edit(HW, ("power", {"tdp_w": 100, "idle_w": 500}))),
    "unknown kind": dump(edit(HW, ("kind", "banana"))),
    "unknown field": dump(edit(HW, ("bogus", 1))),
    "efficiency above one": dump(edit(HW, ("efficiency", {"compute_efficiency": 1.5}))),
    "a list": "- toy\n",
    "binary": BINARY,
    "not utf-8": LATIN1,
}
HW_FIELD = {"negative capacity": "capacity_bytes", "zero capacity": "capacity_bytes", "NaN capacity": "capacity_bytes",
            "overflowing capacity": "capacity_bytes", "wrong unit": "capacity_bytes",
            "junk bandwidth": "bandwidth_bytes_per_s", "no memory tiers": "memory_tiers",
            "no datatypes": "peak_flops_per_s", "negative flops": "peak_flops_per_s",
            "unknown datatype": "peak_flops_per_s", "inf tdp": "tdp_w", "idle above tdp": "idle_w",
            "unknown kind": "kind", "unknown field": "bogus", "efficiency above one": "compute_efficiency"}


def _spec_needle(name: str, fields: dict, filename: str):
    return (filename, fields[name]) if name in fields else filename


SPEC_FILE_CASES = [
    cli("estimate --model {tmp}/model.yaml", _spec_needle(k, MODEL_FIELD, "model.yaml"), files={"model.yaml": v},
        id=f"estimate --model file: {k}") for k, v in MODEL_FILES.items()
] + [
    cli("show {tmp}/model.yaml", _spec_needle(k, MODEL_FIELD, "model.yaml"), files={"model.yaml": v},
        id=f"show file: {k}") for k, v in list(MODEL_FILES.items())[:8]
] + [
    cli("estimate --hardware {tmp}/hw.yaml", _spec_needle(k, HW_FIELD, "hw.yaml"), files={"hw.yaml": v},
        id=f"estimate --hardware file: {k}") for k, v in HW_FILES.items()
] + [
    cli("estimate --model {tmp}/model.json", "model.json", files={"model.json": '{"name": "tiny",'},
        id="estimate --model file: truncated json"),
    cli("estimate --model {tmp}/model.json", "model.json", files={"model.json": DEEP_JSON},
        id="estimate --model file: deeply nested json"),
    cli("estimate --model {tmp}/model.json", "model.json", files={"model.json": '{"hidden_size": NaN}'},
        id="estimate --model file: json NaN"),
    cli("estimate --model {tmp}/dir.yaml", "dir.yaml", files={"dir.yaml": None},
        id="estimate --model file: a folder"),
    cli("estimate --hardware {tmp}/hw.yaml", "hw.yaml", files={"hw.yaml": GOOD_MODEL_YAML},
        id="estimate --hardware file: a model entry"),
    cli("compare --hardware h100-sxm,{tmp}/hw.yaml", "hw.yaml", files={"hw.yaml": HW_FILES["negative capacity"]},
        id="compare --hardware list with a bad file"),
]

# -- database folders (--db, GENMODEL_DB, the user folder): misnamed files, clashes, bad entries, missing folders
DB_CASES = [
    cli("--db {tmp}/nope models", "--db"),
    cli("--db {tmp}/afile.txt models", "--db", files=AFILE),
    cli("--db {tmp}/flat models", "holds none of models/", files={"flat/my-model.yaml": GOOD_MODEL_YAML},
        id="--db folder with entries at its top, no kind folders"),
    cli("--db {tmp}/db estimate", "other-name.yaml",
        files={"db/models/other-name.yaml": GOOD_MODEL_YAML}, id="--db model file named differently"),
    cli("--db {tmp}/db hardware", "wrong.yaml",
        files={"db/hardware/wrong.yaml": dump(HW)}, id="--db hardware file named differently"),
    cli("--db {tmp}/db platforms", "other.yaml",
        files={"db/platforms/other.yaml": dump(PLATFORM)}, id="--db platform file named differently"),
    cli("--db {tmp}/db models", "llama-3.2-1b",
        files={"db/models/llama-3.2-1b.yaml": dump(edit(MODEL, ("name", "llama-3.2-1b")))},
        id="--db model clashes with a built-in"),
    cli("--db {tmp}/db hardware", "h100-sxm",
        files={"db/hardware/h100-sxm.yaml": dump(edit(HW, ("name", "h100-sxm")))},
        id="--db hardware clashes with a built-in"),
    cli("--db {tmp}/db platforms", "dgx-h100",
        files={"db/platforms/dgx-h100.yaml": dump(edit(PLATFORM, ("name", "dgx-h100")))},
        id="--db platform clashes with a built-in"),
    cli("--db {tmp}/db1 --db {tmp}/db2 models", "tiny",
        files={"db1/models/tiny.yaml": GOOD_MODEL_YAML, "db2/models/tiny.yaml": GOOD_MODEL_YAML},
        id="--db two folders define the same name"),
    cli("--db {tmp}/db estimate", "bad.yaml", files={"db/models/bad.yaml": "name: [unclosed"},
        id="--db malformed model file"),
    cli("--db {tmp}/db estimate", "bad.yaml", files={"db/models/bad.yaml": BINARY}, id="--db binary model file"),
    cli("--db {tmp}/db estimate", ("tiny.yaml", "num_layers"),
        files={"db/models/tiny.yaml": dump(edit(MODEL, ("num_layers", -1)))}, id="--db model with bad field"),
    cli("--db {tmp}/db estimate", ("toy.yaml", "capacity_bytes"),
        files={"db/hardware/toy.yaml": HW_FILES["NaN capacity"]}, id="--db hardware with NaN capacity"),
    cli("--db {tmp}/db estimate --hardware pod", ("nope", "pod"),
        files={"db/platforms/pod.yaml": dump(edit(PLATFORM, ("device", "nope")))},
        id="--db platform of an unknown device"),
    cli("--db {tmp}/db platforms", ("pod.yaml", "num_devices"),
        files={"db/platforms/pod.yaml": dump(edit(PLATFORM, ("num_devices", 0)))}, id="--db platform of 0 devices"),
    cli("models", "GENMODEL_DB", env={"GENMODEL_DB": "{tmp}/nope"}, id="GENMODEL_DB names a missing folder"),
    cli("estimate", "bad.yaml", files={"user/models/bad.yaml": "- a list\n"}, env={"GENMODEL_USER_DIR": "{tmp}/user"},
        id="user folder with a list entry"),
    cli("hardware", "toy.yaml", files={"user/hardware/toy.yaml": HW_FILES["negative capacity"]},
        env={"GENMODEL_USER_DIR": "{tmp}/user"}, id="user folder with a negative capacity"),
]

# -- import-hf: configs with impossible or mistyped values, hostile files, bad entry names
HF_BAD = {
    "zero heads": (edit(HF, ("num_attention_heads", 0)), "num_attention_heads|num_heads"),
    "negative layers": (edit(HF, ("num_hidden_layers", -1)), "num_hidden_layers|num_layers"),
    "string size": (edit(HF, ("hidden_size", "4096")), "hidden_size"),
    "fractional size": (edit(HF, ("hidden_size", 4096.5)), "hidden_size"),
    "boolean size": (edit(HF, ("intermediate_size", True)), "intermediate_size"),
    "null size": (edit(HF, ("hidden_size", None)), "hidden_size"),
    "list size": (edit(HF, ("hidden_size", [4096])), "hidden_size"),
    "NaN size": (edit(HF, ("hidden_size", float("nan"))), "hidden_size"),
    "inf vocab": (edit(HF, ("vocab_size", float("inf"))), "vocab_size"),
    "huge size": (edit(HF, ("hidden_size", 10**30)), "hidden_size"),
    "kv heads not dividing": (edit(HF, ("num_key_value_heads", 3)), "num_key_value_heads|num_kv_heads"),
    "negative head dim": (edit(HF, ("head_dim", -128)), "head_dim"),
    "zero context": (edit(HF, ("max_position_embeddings", 0)), "max_position_embeddings|max_context_tokens"),
    "unknown model type": (edit(HF, ("model_type", "gpt2")), "model_type"),
    "no model type": (edit(HF, drop=["model_type"]), "model_type"),
    "numeric model type": (edit(HF, ("model_type", 7)), "model_type"),
    "text_config a string": (edit(HF, ("text_config", "oops")), "text_config"),
    "encoder-decoder": (edit(HF, ("is_encoder_decoder", True)), "is_encoder_decoder|encoder-decoder"),
    "heads a string": (edit(HF, ("num_attention_heads", "32")), "num_attention_heads"),
}
HF_RAW = {
    "a list": ("[1, 2, 3]", None),
    "empty": ("", None),
    "truncated": (GOOD_HF[:100], None),
    "binary": (BINARY, None),
    "not utf-8": (b'{"model_type": "llama", "name": "caf\xe9"}', None),
    "deeply nested": (DEEP_JSON, None),
    "json Infinity": (GOOD_HF.replace('"vocab_size": 128256', '"vocab_size": Infinity'), "vocab_size"),
}
IMPORT_CASES = [
    cli("import-hf {tmp}/cfg/config.json", ("config.json|cfg", field), files={"cfg/config.json": json.dumps(cfg)},
        id=f"import-hf {k}") for k, (cfg, field) in HF_BAD.items() if field is not None
] + [
    cli("import-hf {tmp}/cfg/config.json", "config.json|cfg", files={"cfg/config.json": json.dumps(cfg)},
        id=f"import-hf {k}") for k, (cfg, field) in HF_BAD.items() if field is None
] + [
    cli("import-hf {tmp}/cfg/config.json", ("config.json|cfg", field) if field else "config.json|cfg",
        files={"cfg/config.json": raw}, id=f"import-hf {k}") for k, (raw, field) in HF_RAW.items()
] + [
    cli("import-hf {tmp}/cfg/config.yaml", "config.yaml|cfg",
        files={"cfg/config.yaml": alias_bomb("hidden_size", "model_type: llama\n")}, id="import-hf YAML alias bomb"),
    cli("import-hf {tmp}/nope/config.json", "config.json"),
    cli("import-hf {tmp}/cfg", "cfg", files={"cfg": None}, id="import-hf a folder"),
    cli(["import-hf", ""], "import-hf|config"),
] + [
    cli(["import-hf", "{tmp}/cfg/config.json", f"--name={n}"], "--name", files={"cfg/config.json": GOOD_HF})
    for n in ("../escape", "", "UPPER", "a/b", "/abs", ".", "..", "x" * 200, "name with space", "ñame")
]

# -- values a data file or an option may not hold: outside the physically meaningful ranges (a peak of 1e-300
# FLOP/s or a link latency of 1e308 s made every figure inf), names no command can look up, captured batch sizes
# that are not sizes; and option combinations that would silently drop an option or overwrite the shipped fits
ENGINE_OK = {"name": "my-engine", "display_name": "Mine", "step_overhead_s": "1 ms", "kernel_overhead_s": "1 us",
             "source": "test"}
RANGE_CASES = [
    cli("estimate --hardware {tmp}/hw.yaml", ("hw.yaml", "peak_flops_per_s", "between"),
        files={"hw.yaml": dump(edit(HW, ("peak_flops_per_s", {"bf16": 1e-300})))}, id="peak of 1e-300 FLOP/s"),
    cli("estimate --hardware {tmp}/hw.yaml", ("hw.yaml", "bandwidth_bytes_per_s"),
        files={"hw.yaml": dump(edit(HW, ("memory_tiers", [{"name": "HBM", "capacity_bytes": "100 GB",
                                                             "bandwidth_bytes_per_s": "1e-300 TB/s"}])))},
        id="bandwidth of 1e-300 TB/s"),
    cli("estimate --hardware {tmp}/hw.yaml --tp 2", ("hw.yaml", "latency_s"),
        files={"hw.yaml": dump(edit(HW, ("scale_up", {"name": "link", "bandwidth_per_direction_bytes_per_s":
                                                      "100 GB/s", "latency_s": 1e308, "domain_size": 8})))},
        id="link latency of 1e308 s"),
    cli("estimate --hardware {tmp}/hw.yaml", ("hw.yaml", "purchase_usd"),
        files={"hw.yaml": dump(edit(HW, ("cost", {"purchase_usd": 1e308})))}, id="price of 1e308 USD"),
    cli("estimate --engine {tmp}/e/my-engine.yaml", ("my-engine.yaml", "step_overhead_s"),
        files={"e/my-engine.yaml": dump(edit(ENGINE_OK, ("step_overhead_s", 1e300)))}, id="step cost of 1e300 s"),
    cli("--db {tmp}/db engines", ("my-engine.yaml", "decode_batch_buckets"),
        files={"db/engines/my-engine.yaml": dump(edit(ENGINE_OK, ("decode_batch_buckets", [0, -2, 4])))},
        id="captured batch sizes 0 and -2"),
    cli("--db {tmp}/db engines", ("my-engine.yaml", "decode_batch_buckets", "increasing"),
        files={"db/engines/my-engine.yaml": dump(edit(ENGINE_OK, ("decode_batch_buckets", [8, 4, 4])))},
        id="captured batch sizes not increasing"),
    cli("estimate --model {tmp}/model.yaml", ("model.yaml", "name"),
        files={"model.yaml": dump(edit(MODEL, ("name", "")))}, id="model named ''"),
    cli("estimate --model {tmp}/model.yaml", ("model.yaml", "name"),
        files={"model.yaml": dump(edit(MODEL, ("name", "ü 💥")))}, id="model named with a space and an emoji"),
    cli("estimate --model {tmp}/model.yaml", ("model.yaml", "display_name"),
        files={"model.yaml": dump(edit(MODEL, ("display_name", "  ")))}, id="blank display name"),
    # a device file given to show is read as a device: its errors are a device's, not a model's
    cli("show {tmp}/hw.yaml", ("hw.yaml", "name"), files={"hw.yaml": dump(edit(HW, ("name", "")))},
        id="show a device file with an empty name"),
    cli("estimate --step-overhead-ms 1e308", ("--step-overhead-ms", "a day")),
    cli("estimate --kernel-overhead-us 1e300", ("--kernel-overhead-us", "a day")),
    cli("estimate --purchase-usd 1e308", "--purchase-usd"),
    cli("estimate --electricity-usd-per-kwh 1e308", "--electricity-usd-per-kwh"),
    cli("estimate --amortization-years 1e-308", "--amortization-years"),
    cli("estimate --pue 1e308", "--pue"),
    cli("estimate --requests-per-s 1e308", "--requests-per-s"),
    cli("estimate --hardware imec-scd-board --cooling-w-per-w 1e308", "--cooling-w-per-w"),
    cli("estimate --model qwen3-30b-a3b --expert-imbalance 1e308", ("--expert-imbalance", "ep")),
    cli("estimate --model qwen3-30b-a3b --expert-imbalance 1.5", ("--expert-imbalance", "ep")),
    cli(["--db", "", "models"], "--db"),
    cli(["--db", " ", "models"], "--db"),
    cli(["import-hf", "{tmp}/cfg/config.json", "--output-dir", ""], "--output-dir",
        files={"cfg/config.json": GOOD_HF}),
    cli(["import-hf", "{tmp}/cfg/config.json", "--source", ""], "--source", files={"cfg/config.json": GOOD_HF}),
    cli("import-hf {tmp}/cfg/config.json --stdout --force", "--stdout", files={"cfg/config.json": GOOD_HF}),
    cli("import-hf {tmp}/cfg/config.json --stdout --output-dir {tmp}/out", "--stdout",
        files={"cfg/config.json": GOOD_HF}),
    # another file's fit would replace the shipped calibration (26 device entries and the bands): refused first
    cli("validate --data {tmp}/m.csv --calibrate --write", ("--write", "--data"),
        files={"m.csv": HEADER + "\n" + ROW + "\n"}, id="validate --calibrate --write with another file"),
    # a data file's error names the file and its field, never an option of the command that read it
    cli("--db {tmp}/db estimate --engine my-engine", ("error: my-engine.yaml", "step_overhead_s"),
        files={"db/engines/my-engine.yaml": dump(edit(ENGINE_OK, ("step_overhead_s", "-1 ms")))},
        id="a data file's error without an option prefix"),
]

# -- a second, independent round: names longer than any file system takes, integers of 400 digits, fractions and
# engine figures so small or large that every time overflows
LONG = "a" * 300
ROUND2_CASES = [
    cli(f"sweep {{tmp}}/{LONG}.yaml", "File name too long|longer than", id="sweep a 300-character name"),
    cli(f"show {{tmp}}/{LONG}.yaml", "File name too long|longer than", id="show a 300-character name"),
    cli(f"estimate --model {{tmp}}/{LONG}.yaml", "File name too long|longer than", id="--model a 300-character name"),
    cli(f"--db {{tmp}}/{LONG} models", "--db", id="--db a 300-character name"),
    cli(f"compare --csv {{tmp}}/{LONG}.csv", "--csv", id="--csv a 300-character name"),
    cli(f"validate --data {{tmp}}/{LONG}.csv", "--data", id="validate --data a 300-character name"),
    cli("estimate --hardware {tmp}/hw.yaml", ("hw.yaml", "bandwidth_bytes_per_s"),
        files={"hw.yaml": dump(edit(HW, ("memory_tiers", [{"name": "HBM", "capacity_bytes": "100 GB",
                                                             "bandwidth_bytes_per_s": 10**400}])))},
        id="a bandwidth of 400 digits"),
    cli("estimate --compute-efficiency 1e-308", "--compute-efficiency"),
    cli("estimate --memory-efficiency 1e-308", "--memory-efficiency"),
    cli("estimate --utilization 1e-308", "--utilization"),
    cli("estimate --engine {tmp}/e/my-engine.yaml", ("my-engine.yaml", "attention_scale"),
        files={"e/my-engine.yaml": dump(edit(ENGINE_OK, ("attention_scale", 1e-300)))},
        id="engine attention quality 1e-300"),
    cli("estimate --engine {tmp}/e/my-engine.yaml", ("my-engine.yaml", "max_batch_tokens"),
        files={"e/my-engine.yaml": dump(edit(ENGINE_OK, ("max_batch_tokens", 10**18)))},
        id="engine token budget 1e18"),
    cli("estimate --hardware {tmp}/p.yaml", ("p.yaml", "num_devices"),
        files={"p.yaml": dump(edit(PLATFORM, ("num_devices", 10**18)))}, id="a platform of 1e18 devices"),
    # a figure the use case gave (its whole system's request rate, for one replica here) is the use case's, not
    # the --request-rate option the user did not type
    cli("requirements -m llama-2-70b --use-case mlperf-llama2-70b-server", ("--use-case", "mlperf-llama2-70b-server"),
        id="requirements: a use case's rate one replica cannot serve"),
]

CLI_CASES = (INT_CASES + FLOAT_CASES + DTYPE_CASES + SHARED_CASES + PLAN_CASES + COMPARE_CASES + DASHBOARD_CASES
             + UNKNOWN_CASES + IMPOSSIBLE_CASES + OUTPUT_CASES + VALIDATE_CASES + SPEC_FILE_CASES + DB_CASES
             + IMPORT_CASES + RANGE_CASES + ROUND2_CASES)


@pytest.mark.parametrize(("argv", "needle", "files", "env"), CLI_CASES)
def test_cli_bad_input(argv, needle, files, env, tmp_path, capsys, monkeypatch, user_dir):
    run_cli_case(argv, needle, files, env, tmp_path, capsys, monkeypatch, user_dir)


# -- values that are legal but extreme enough to overflow: an error is fine, a traceback is not
EXTREME_CASES = [
    ["estimate", "--flops-scale=1e308"], ["estimate", "--bandwidth-scale=1e-308"],
    ["estimate", "--capacity-scale=1e308"],
    ["estimate", "--interconnect-scale=1e-308"], ["estimate", "--purchase-usd=1e308"],
    ["estimate", "--usd-per-device-hour=1e308"], ["estimate", "--electricity-usd-per-kwh=1e308"],
    ["estimate", "--requests-per-s=1e308"], ["estimate", "--pue=1e308"], ["estimate", "--amortization-years=1e-308"],
    ["estimate", "--step-overhead-ms=1e308"], ["estimate", "--kernel-overhead-us=1e308"],
    ["estimate", "--cooling-w-per-w=1e308"], ["estimate", "--dp=4294967296"], ["plan", "--ttft-ms=1e-308"],
]


@pytest.mark.parametrize("argv", EXTREME_CASES, ids=" ".join)
def test_cli_extreme_values_never_trace(argv, tmp_path, capsys):
    try:
        code = main([*argv, "--json"])
    except BaseException as exc:
        pytest.fail(f"raised {type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:200]}")
    out, err = capsys.readouterr()
    if code == 0:
        json.loads(out)  # strict JSON: NaN/inf written as null
        return
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, \
        f"exit {code}, stderr {err.strip()[:300]!r}"


# ================================================================================================================
# Library
# ================================================================================================================

def est(**kwargs):
    return genmodel.estimate(**{"model": "llama-3.1-8b", "hardware": "h100-sxm", **kwargs})


def h100():
    return genmodel.get_hardware("h100-sxm")


def llama():
    return genmodel.get_model("llama-3.1-8b")


# -- estimate: wrong types for every kind of argument
ESTIMATE_TYPE_CASES = [
    lib("model=None", lambda: est(model=None), "model"),
    lib("model=42", lambda: est(model=42), "model"),
    lib("model=HardwareSpec", lambda: est(model=h100()), "model"),
    lib("model=''", lambda: est(model=""), "model"),
    lib("model=['llama-3.1-8b']", lambda: est(model=["llama-3.1-8b"]), "model"),
    lib("model=dict", lambda: est(model=dict(MODEL)), "model"),
    lib("hardware=42", lambda: est(hardware=42), "hardware"),
    lib("hardware=None", lambda: est(hardware=None), "hardware"),
    lib("hardware=ModelSpec", lambda: est(hardware=llama()), "hardware"),
    lib("hardware=''", lambda: est(hardware=""), "hardware"),
    lib("costs='x'", lambda: est(costs="x"), "costs"),
    lib("costs={}", lambda: est(costs={}), "costs"),
    lib("efficiency=1.0", lambda: est(efficiency=1.0), "efficiency"),
    lib("efficiency={}", lambda: est(efficiency={"compute_efficiency": 0.5}), "efficiency"),
    lib("workload={}", lambda: est(workload={}), "workload"),
    lib("workload=8", lambda: est(workload=8), "workload"),
    lib("parallel=3", lambda: est(parallel=3), "parallel"),
    lib("parallel={'tp': 2}", lambda: est(parallel={"tp": 2}), "parallel"),
    lib("check_fit='yes'", lambda: est(check_fit="yes"), "check_fit"),
    lib("calibrated=None", lambda: est(calibrated=None), "calibrated"),
    lib("attention_dp='yes'", lambda: est(attention_dp="yes"), "attention_dp"),
    lib("attention_dp=2", lambda: est(attention_dp=2), "attention_dp"),
    lib("weight_dtype=8", lambda: est(weight_dtype=8), "weight_dtype"),
    lib("weight_dtype=''", lambda: est(weight_dtype=""), "weight_dtype"),
    lib("kv_dtype='fp7'", lambda: est(kv_dtype="fp7"), "kv_dtype"),
    lib("activation_dtype=['bf16']", lambda: est(activation_dtype=["bf16"]), "activation_dtype"),
    lib("embedding_dtype='nope'", lambda: est(embedding_dtype="nope"), "embedding_dtype"),
    lib("embedding_dtype=' '", lambda: est(embedding_dtype=" "), "embedding_dtype"),
]

# -- estimate: bad numbers (NaN, infinities, negative, zero, fractional, booleans, strings, empty arrays)
ESTIMATE_NUMBER_CASES = [
    lib("batch=inf", lambda: est(batch=float("inf")), "batch"),
    lib("batch=nan", lambda: est(batch=np.nan), "batch"),
    lib("batch=True", lambda: est(batch=True), "batch"),
    lib("batch='8'", lambda: est(batch="8"), "batch"),
    lib("batch=[]", lambda: est(batch=[]), "batch"),
    lib("batch=None", lambda: est(batch=None), "batch"),
    lib("batch=0", lambda: est(batch=0), "batch"),
    lib("batch=-1", lambda: est(batch=-1), "batch"),
    lib("batch=2.5", lambda: est(batch=2.5), "batch"),
    lib("batch=1+1j", lambda: est(batch=1 + 1j), "batch"),
    lib("batch=object()", lambda: est(batch=object()), "batch"),
    lib("batch={'a': 1}", lambda: est(batch={"a": 1}), "batch"),
    lib("batch=[1, None]", lambda: est(batch=[1, None]), "batch"),
    lib("batch=array([1, -1])", lambda: est(batch=np.array([1, -1])), "batch"),
    lib("batch=array(['a'])", lambda: est(batch=np.array(["a"])), "batch"),
    lib("batch=array([1, nan])", lambda: est(batch=np.array([1.0, np.nan])), "batch"),
    lib("batch=ragged", lambda: est(batch=[[1, 2], [3]]), "batch"),
    lib("batch=10**30", lambda: est(batch=10**30), "batch"),
    lib("batch=np.float64(nan)", lambda: est(batch=np.float64("nan")), "batch"),
    lib("batch=np.bool_(True)", lambda: est(batch=np.bool_(True)), "batch"),
    lib("input_tokens=array([])", lambda: est(input_tokens=np.array([])), "input_tokens"),
    lib("input_tokens=-5", lambda: est(input_tokens=-5), "input_tokens"),
    lib("input_tokens=10**30", lambda: est(input_tokens=10**30), "input_tokens"),
    lib("input_tokens=1e400", lambda: est(input_tokens=float("1e400")), "input_tokens"),
    lib("input_tokens='1024'", lambda: est(input_tokens="1024"), "input_tokens"),
    lib("output_tokens=0", lambda: est(output_tokens=0), "output_tokens"),
    lib("output_tokens=-inf", lambda: est(output_tokens=-np.inf), "output_tokens"),
    lib("output_tokens=2.5", lambda: est(output_tokens=2.5), "output_tokens"),
    lib("tp=2.5", lambda: est(tp=2.5), "tp"),
    lib("tp=array([1, 3])", lambda: est(tp=np.array([1, 3])), "tp"),
    lib("tp=0", lambda: est(tp=0), "tp"),
    lib("tp='2'", lambda: est(tp="2"), "tp"),
    lib("tp=None", lambda: est(tp=None), "tp"),
    lib("tp=nan", lambda: est(tp=np.nan), "tp"),
    lib("pp=-1", lambda: est(pp=-1), "pp"),
    lib("pp=33", lambda: est(pp=33), "pp"),
    lib("ep=2 (dense)", lambda: est(ep=2), "ep"),
    lib("dp=True", lambda: est(dp=True), "dp"),
    lib("dp=0", lambda: est(dp=0), "dp"),
    lib("cp=0", lambda: est(cp=0), "cp"),
    lib("cp=4, input_tokens=2", lambda: est(cp=4, input_tokens=2), "cp"),
    lib("attention_dp on dense", lambda: est(attention_dp=True), "attention_dp"),
    lib("expert_imbalance=0.5", lambda: est(expert_imbalance=0.5), "expert_imbalance"),
    lib("expert_imbalance=nan", lambda: est(expert_imbalance=np.nan), "expert_imbalance"),
    lib("comm_overlap=2", lambda: est(comm_overlap=2), "comm_overlap"),
    lib("comm_overlap=-inf", lambda: est(comm_overlap=-np.inf), "comm_overlap"),
    lib("micro_batches=0", lambda: est(micro_batches=0), "micro_batches"),
    lib("micro_batches=1.5", lambda: est(micro_batches=1.5), "micro_batches"),
    lib("num_devices=2.5", lambda: est(num_devices=2.5), "num_devices"),
    lib("num_devices='8'", lambda: est(num_devices="8"), "num_devices"),
    lib("num_devices=3", lambda: est(num_devices=3), "num_devices"),
    lib("num_devices=0", lambda: est(num_devices=0), "num_devices"),
    lib("prefill_chunk_tokens=0", lambda: est(prefill_chunk_tokens=0), "prefill_chunk_tokens"),
    lib("prefill_chunk_tokens=array([1, 2])", lambda: est(prefill_chunk_tokens=np.array([1, 2])),
        "prefill_chunk_tokens"),
    lib("prefill_chunk_tokens=nan", lambda: est(prefill_chunk_tokens=np.nan), "prefill_chunk_tokens"),
    lib("flops_scale=-1", lambda: est(flops_scale=-1), "flops_scale"),
    lib("flops_scale='2'", lambda: est(flops_scale="2"), "flops_scale"),
    lib("flops_scale=array([1, nan])", lambda: est(flops_scale=np.array([1.0, np.nan])), "flops_scale"),
    lib("bandwidth_scale=0", lambda: est(bandwidth_scale=0), "bandwidth_scale"),
    lib("capacity_scale=inf", lambda: est(capacity_scale=np.inf), "capacity_scale"),
    lib("interconnect_scale=array([1, -2])", lambda: est(interconnect_scale=np.array([1, -2])), "interconnect_scale"),
    lib("interconnect_scale=None", lambda: est(interconnect_scale=None), "interconnect_scale"),
    lib("requests_per_s=-1", lambda: est(requests_per_s=-1), "requests_per_s"),
    lib("requests_per_s=nan", lambda: est(requests_per_s=np.nan), "requests_per_s"),
    lib("requests_per_s='10'", lambda: est(requests_per_s="10"), "requests_per_s"),
    lib("cooling_w_per_w=-1", lambda: est(cooling_w_per_w=-1), "cooling_w_per_w"),
    lib("cooling_w_per_w=inf", lambda: est(cooling_w_per_w=np.inf), "cooling_w_per_w"),
    lib("input longer than the context", lambda: est(model="llama-2-7b", input_tokens=5000), "input_tokens"),
    lib("batch below attention groups",
        lambda: est(model="mixtral-8x7b", ep=8, attention_dp=True, batch=4), "batch"),
    lib("does not fit", lambda: est(model="llama-3.1-405b"), None),
    lib("fp8 on a100", lambda: est(hardware="a100-80gb-sxm", activation_dtype="fp8"), "activation_dtype"),
]

# -- the value types: Parallelism, CostAssumptions, Workload, Efficiency
VALUE_TYPE_CASES = [
    lib("Parallelism(tp=0)", lambda: genmodel.Parallelism(tp=0), "tp"),
    lib("Parallelism(tp=-1)", lambda: genmodel.Parallelism(tp=-1), "tp"),
    lib("Parallelism(tp=1.5)", lambda: genmodel.Parallelism(tp=1.5), "tp"),
    lib("Parallelism(tp='2')", lambda: genmodel.Parallelism(tp="2"), "tp"),
    lib("Parallelism(tp=None)", lambda: genmodel.Parallelism(tp=None), "tp"),
    lib("Parallelism(pp=nan)", lambda: genmodel.Parallelism(pp=np.nan), "pp"),
    lib("Parallelism(dp=inf)", lambda: genmodel.Parallelism(dp=np.inf), "dp"),
    lib("Parallelism(ep=True)", lambda: genmodel.Parallelism(ep=True), "ep"),
    lib("Parallelism(cp=[])", lambda: genmodel.Parallelism(cp=[]), "cp"),
    lib("Parallelism(attention_dp='yes')", lambda: genmodel.Parallelism(attention_dp="yes"), "attention_dp"),
    lib("Parallelism(attention_dp=None)", lambda: genmodel.Parallelism(attention_dp=None), "attention_dp"),
    lib("Parallelism(expert_imbalance=0.9)", lambda: genmodel.Parallelism(expert_imbalance=0.9), "expert_imbalance"),
    lib("Parallelism(comm_overlap=-0.1)", lambda: genmodel.Parallelism(comm_overlap=-0.1), "comm_overlap"),
    lib("Parallelism(comm_overlap=inf)", lambda: genmodel.Parallelism(comm_overlap=np.inf), "comm_overlap"),
    lib("Parallelism(micro_batches=0)", lambda: genmodel.Parallelism(micro_batches=0), "micro_batches"),
    lib("CostAssumptions(mode='x')", lambda: genmodel.CostAssumptions(mode="x"), "cost_mode|mode"),
    lib("CostAssumptions(mode=None)", lambda: genmodel.CostAssumptions(mode=None), "cost_mode|mode"),
    lib("CostAssumptions(utilization=0)", lambda: genmodel.CostAssumptions(utilization=0), "utilization"),
    lib("CostAssumptions(utilization=1.5)", lambda: genmodel.CostAssumptions(utilization=1.5), "utilization"),
    lib("CostAssumptions(utilization=None)", lambda: genmodel.CostAssumptions(utilization=None), "utilization"),
    lib("CostAssumptions(pue=0.9)", lambda: genmodel.CostAssumptions(pue=0.9), "pue"),
    lib("CostAssumptions(pue=nan)", lambda: genmodel.CostAssumptions(pue=np.nan), "pue"),
    lib("CostAssumptions(pue=[1.2, 1.3])", lambda: genmodel.CostAssumptions(pue=[1.2, 1.3]), "pue"),
    lib("CostAssumptions(amortization_years=0)", lambda: genmodel.CostAssumptions(amortization_years=0),
        "amortization_years"),
    lib("CostAssumptions(amortization_years='4')", lambda: genmodel.CostAssumptions(amortization_years="4"),
        "amortization_years"),
    lib("CostAssumptions(electricity=-1)", lambda: genmodel.CostAssumptions(electricity_usd_per_kwh=-1),
        "electricity_usd_per_kwh"),
    lib("CostAssumptions(purchase_usd=-1)", lambda: genmodel.CostAssumptions(purchase_usd=-1), "purchase_usd"),
    lib("CostAssumptions(rental=nan)", lambda: genmodel.CostAssumptions(rental_usd_per_device_hour=np.nan),
        "rental_usd_per_device_hour"),
    lib("CostAssumptions(system_overhead_fraction=-1)",
        lambda: genmodel.CostAssumptions(system_overhead_fraction=-1), "system_overhead_fraction"),
    lib("Workload(batch=0)", lambda: genmodel.Workload(batch=0), "batch"),
    lib("Workload(batch=2.5)", lambda: genmodel.Workload(batch=2.5), "batch"),
    lib("Workload(batch='8')", lambda: genmodel.Workload(batch="8"), "batch"),
    lib("Workload(batch=True)", lambda: genmodel.Workload(batch=True), "batch"),
    lib("Workload(input_tokens=-1)", lambda: genmodel.Workload(input_tokens=-1), "input_tokens"),
    lib("Workload(output_tokens=nan)", lambda: genmodel.Workload(output_tokens=np.nan), "output_tokens"),
    lib("Workload(weight_dtype='fp7')", lambda: genmodel.Workload(weight_dtype="fp7"), "weight_dtype"),
    lib("Workload(prefill_chunk_tokens=0)", lambda: genmodel.Workload(prefill_chunk_tokens=0),
        "prefill_chunk_tokens"),
    lib("Workload(bogus=1)", lambda: genmodel.Workload(bogus=1), "bogus"),
    lib("Efficiency(compute_efficiency=0)", lambda: genmodel.Efficiency(compute_efficiency=0), "compute_efficiency"),
    lib("Efficiency(compute_efficiency=1.5)", lambda: genmodel.Efficiency(compute_efficiency=1.5),
        "compute_efficiency"),
    lib("Efficiency(memory_efficiency=nan)", lambda: genmodel.Efficiency(memory_efficiency=np.nan),
        "memory_efficiency"),
    lib("Efficiency(kernel_overhead_s=-1)", lambda: genmodel.Efficiency(kernel_overhead_s=-1), "kernel_overhead_s"),
    lib("Efficiency(runtime_reserved_bytes='-1 GiB')",
        lambda: genmodel.Efficiency(runtime_reserved_bytes="-1 GiB"), "runtime_reserved_bytes"),
    lib("Efficiency(usable_memory_fraction='a lot')",
        lambda: genmodel.Efficiency(usable_memory_fraction="a lot"), "usable_memory_fraction"),
    lib("Efficiency(bogus=1)", lambda: genmodel.Efficiency(bogus=1), "bogus"),
]

# -- look-ups: unknown names and wrong types
LOOKUP_CASES = [
    lib("get_model(None)", lambda: genmodel.get_model(None), "model"),
    lib("get_model(42)", lambda: genmodel.get_model(42), "model"),
    lib("get_model('nope')", lambda: genmodel.get_model("nope"), "nope"),
    lib("get_model('')", lambda: genmodel.get_model(""), "model"),
    lib("get_model(HardwareSpec)", lambda: genmodel.get_model(h100()), "model"),
    lib("get_model('missing.yaml')", lambda: genmodel.get_model("missing.yaml"), "missing.yaml"),
    lib("get_hardware(None)", lambda: genmodel.get_hardware(None), "hardware"),
    lib("get_hardware('nope')", lambda: genmodel.get_hardware("nope"), "nope"),
    lib("get_hardware(ModelSpec)", lambda: genmodel.get_hardware(llama()), "hardware"),
    lib("get_platform(42)", lambda: genmodel.get_platform(42), "platform"),
    lib("get_platform('h100-sxm')", lambda: genmodel.get_platform("h100-sxm"), "h100-sxm"),
    lib("use_databases(['/nonexistent'])", lambda: genmodel.use_databases(["/nonexistent/genmodel-db"]), "db"),
]

# -- plan, size, compare: bad targets, budgets, rankings, lists
SEARCH_CASES = [
    lib("plan(ttft_s=-1)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", ttft_s=-1), "ttft_s"),
    lib("plan(targets_at='high')", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", tpot_s=0.03, targets_at="high"),
        "targets_at"),
    lib("plan(targets_at=None)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", tpot_s=0.03, targets_at=None),
        "targets_at"),
    lib("plan(targets_at=['band'])", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", tpot_s=0.03,
                                                            targets_at=["band"]), "targets_at"),
    lib("plan(tpot_s=nan)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", tpot_s=np.nan), "tpot_s"),
    lib("plan(tpot_s='5')", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", tpot_s="5"), "tpot_s"),
    lib("plan(max_devices=0)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", max_devices=0), "max_devices"),
    lib("plan(max_devices=2.5)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", max_devices=2.5), "max_devices"),
    lib("plan(max_devices=10**9)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", max_devices=10**9),
        "max_devices"),
    lib("plan(rank_by='speed')", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", rank_by="speed"), "rank_by"),
    lib("plan(rank_by=None)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", rank_by=None), "rank_by"),
    lib("plan(batches=[])", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", batches=[]), "batches"),
    lib("plan(batches=[0])", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", batches=[0]), "batches"),
    lib("plan(batches='8')", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", batches="8"), "batches"),
    lib("plan(input_tokens=0)", lambda: genmodel.plan("llama-3.1-8b", "h100-sxm", input_tokens=0), "input_tokens"),
    lib("plan(model=None)", lambda: genmodel.plan(None, "h100-sxm"), "model"),
    lib("plan(hardware=42)", lambda: genmodel.plan("llama-3.1-8b", 42), "hardware"),
    lib("size(batch=0)", lambda: genmodel.size("llama-3.1-8b", "h100-sxm", batch=0), "batch"),
    lib("size(max_devices=0)", lambda: genmodel.size("llama-3.1-8b", "h100-sxm", max_devices=0), "max_devices"),
    lib("size(max_devices='8')", lambda: genmodel.size("llama-3.1-8b", "h100-sxm", max_devices="8"), "max_devices"),
    lib("size(model='nope')", lambda: genmodel.size("nope", "h100-sxm"), "nope"),
    lib("size(405b, max_devices=1)", lambda: genmodel.size("llama-3.1-405b", "h100-sxm", max_devices=1),
        "max_devices"),
    lib("compare_hardware(hardware=[])", lambda: genmodel.compare_hardware("llama-3.1-8b", []), "hardware"),
    lib("compare_hardware(hardware='h100-sxm')", lambda: genmodel.compare_hardware("llama-3.1-8b", "h100-sxm"),
        "hardware"),
    lib("compare_hardware([h100, nope])", lambda: genmodel.compare_hardware("llama-3.1-8b", ["h100-sxm", "nope"]),
        "nope"),
    lib("compare_hardware([None])", lambda: genmodel.compare_hardware("llama-3.1-8b", [None]), "hardware"),
    lib("compare_hardware(sort_by='speed')",
        lambda: genmodel.compare_hardware("llama-3.1-8b", ["h100-sxm"], sort_by="speed"), "sort_by"),
    lib("compare_hardware(batch=0)", lambda: genmodel.compare_hardware("llama-3.1-8b", ["h100-sxm"], batch=0),
        "batch"),
    lib("compare_hardware(costs='x')", lambda: genmodel.compare_hardware("llama-3.1-8b", ["h100-sxm"], costs="x"),
        "costs"),
    lib("compare_models(models=[])", lambda: genmodel.compare_models([], "h100-sxm"), "models"),
    lib("compare_models(models='llama-3.1-8b')", lambda: genmodel.compare_models("llama-3.1-8b", "h100-sxm"),
        "models"),
    lib("compare_models(['nope'])", lambda: genmodel.compare_models(["nope"], "h100-sxm"), "nope"),
    lib("compare_models(hardware=None)", lambda: genmodel.compare_models(["llama-3.1-8b"], None), "hardware"),
]

# -- specs built in code: model_validate and from_hf_config with bad data
SPEC_CASES = [
    lib("ModelSpec.model_validate({})", lambda: genmodel.ModelSpec.model_validate({}), "name"),
    lib("ModelSpec.model_validate(None)", lambda: genmodel.ModelSpec.model_validate(None), None),
    lib("ModelSpec.model_validate([])", lambda: genmodel.ModelSpec.model_validate([]), None),
    lib("ModelSpec.model_validate(hidden_size=nan)",
        lambda: genmodel.ModelSpec.model_validate(edit(MODEL, ("hidden_size", float("nan")))), "hidden_size"),
    lib("ModelSpec.model_validate(num_layers=-1)",
        lambda: genmodel.ModelSpec.model_validate(edit(MODEL, ("num_layers", -1))), "num_layers"),
    lib("ModelSpec.model_validate(bogus)",
        lambda: genmodel.ModelSpec.model_validate(edit(MODEL, ("bogus", 1))), "bogus"),
    lib("HardwareSpec.model_validate(negative capacity)",
        lambda: genmodel.HardwareSpec.model_validate(yaml.safe_load(HW_FILES["negative capacity"])), "capacity_bytes"),
    lib("HardwareSpec.model_validate(no datatypes)",
        lambda: genmodel.HardwareSpec.model_validate(edit(HW, ("peak_flops_per_s", {}))), "peak_flops_per_s"),
    lib("HardwareSpec.model_validate('h100-sxm')", lambda: genmodel.HardwareSpec.model_validate("h100-sxm"), None),
] + [
    lib(f"ModelSpec.from_hf_config({k})", lambda cfg=cfg: genmodel.ModelSpec.from_hf_config(cfg, name="x"),
        field) for k, (cfg, field) in HF_BAD.items()
] + [
    lib("ModelSpec.from_hf_config(None)", lambda: genmodel.ModelSpec.from_hf_config(None), "config|path"),
    lib("ModelSpec.from_hf_config(42)", lambda: genmodel.ModelSpec.from_hf_config(42), "config|path"),
    lib("ModelSpec.from_hf_config('/no/such/config.json')",
        lambda: genmodel.ModelSpec.from_hf_config("/no/such/config.json"), "config.json"),
    lib("ModelSpec.from_hf_config([])", lambda: genmodel.ModelSpec.from_hf_config([]), "config|path"),
    lib("ModelSpec.from_hf_config(name='../escape')",
        lambda: genmodel.ModelSpec.from_hf_config(HF, name="../escape"), "name"),
]

# -- values outside the meaningful ranges, flags and choices of the wrong type, and arguments given twice (a
# Workload or Parallelism replaces them): each refused, naming the argument, without a NumPy warning
RANGE_LIB_CASES = [
    lib("expert_imbalance above ep", lambda: est(model="qwen3-30b-a3b", expert_imbalance=1e308), "expert_imbalance"),
    lib("expert_imbalance 3 with ep 2", lambda: est(model="qwen3-30b-a3b", tp=2, ep=2, expert_imbalance=3.0),
        "expert_imbalance"),
    lib("micro_batches=1e308", lambda: est(micro_batches=1e308), "micro_batches"),
    lib("requests_per_s=1e308", lambda: est(requests_per_s=1e308), "requests_per_s"),
    lib("cooling_w_per_w=1e308", lambda: est(hardware="imec-scd-board", cooling_w_per_w=1e308), "cooling_w_per_w"),
    lib("num_devices=1e9", lambda: est(num_devices=10**9), "num_devices"),
    lib("check_fit=empty array", lambda: est(check_fit=np.array([])), "check_fit"),
    lib("tp=[1, [2]] (ragged)", lambda: est(tp=[1, [2]]), "tp"),
    lib("input_tokens of 3 and output_tokens of 2", lambda: est(input_tokens=[1, 2, 3], output_tokens=[1, 2]),
        "output_tokens|input_tokens"),
    lib("batch of 3 and tp of 2", lambda: est(batch=[1, 2, 3], tp=[1, 2]), "tp|batch"),
    lib("tp of 2 and pp of 3", lambda: est(tp=[1, 2], pp=[1, 2, 4]), "pp|tp"),
    lib("workload and batch", lambda: est(workload=genmodel.Workload(batch=2), batch=4), "workload|batch"),
    lib("workload and weight_dtype", lambda: est(workload=genmodel.Workload(batch=2), weight_dtype="fp8"),
        "workload|weight_dtype"),
    lib("parallel and tp", lambda: est(parallel=genmodel.Parallelism(tp=2), tp=4), "parallel|tp"),
    lib("parallel and attention_dp", lambda: est(parallel=genmodel.Parallelism(), attention_dp=True),
        "parallel|attention_dp"),
    lib("CostAssumptions(mode=array)", lambda: genmodel.CostAssumptions(mode=np.array([])), "cost_mode"),
    lib("CostAssumptions(purchase_usd=[1, 2])", lambda: genmodel.CostAssumptions(purchase_usd=[1, 2]),
        "purchase_usd"),
    lib("CostAssumptions(rental=[1, 2])",
        lambda: genmodel.CostAssumptions(mode="rented", rental_usd_per_device_hour=[1, 2]),
        "rental_usd_per_device_hour"),
    lib("CostAssumptions(facility_fraction=2-D)",
        lambda: genmodel.CostAssumptions(facility_fraction=np.ones((2, 2))), "facility_fraction"),
    lib("CostAssumptions(pue=1e308)", lambda: genmodel.CostAssumptions(pue=1e308), "pue"),
    lib("CostAssumptions(amortization_years=1e-308)", lambda: genmodel.CostAssumptions(amortization_years=1e-308),
        "amortization_years"),
    lib("CostAssumptions(electricity=1e308)", lambda: genmodel.CostAssumptions(electricity_usd_per_kwh=1e308),
        "electricity_usd_per_kwh"),
    lib("synthetic_model(attention=array)", lambda: genmodel.synthetic_model(1e12, attention=np.array([])),
        "attention"),
    lib("Efficiency(step_overhead_s=10**400)", lambda: genmodel.Efficiency(step_overhead_s=10**400),
        "step_overhead_s"),
    lib("Efficiency(compute_efficiency=1e-308)", lambda: genmodel.Efficiency(compute_efficiency=1e-308),
        "compute_efficiency"),
    lib("Efficiency(kv_memory_efficiency=1e-308)", lambda: genmodel.Efficiency(kv_memory_efficiency=1e-308),
        "kv_memory_efficiency"),
    lib("CostAssumptions(utilization=1e-308)", lambda: genmodel.CostAssumptions(utilization=1e-308), "utilization"),
    lib("Parallelism(head_ranks=[1, 2])", lambda: genmodel.Parallelism(head_ranks=[1, 2]), "head_ranks"),
    lib("Workload(batch=1e308)", lambda: genmodel.Workload(batch=1e308), "batch"),
    lib("Workload(input_tokens=2**63)", lambda: genmodel.Workload(input_tokens=2**63), "input_tokens"),
    lib("get_model(a 300-character file name)", lambda: genmodel.get_model(LONG + ".yaml"), LONG[:20]),
    lib("parse_row(None)", lambda: __import__("genmodel.validation", fromlist=["parse_row"]).parse_row(None), "row"),
]

LIB_CASES = (ESTIMATE_TYPE_CASES + ESTIMATE_NUMBER_CASES + VALUE_TYPE_CASES + LOOKUP_CASES + SEARCH_CASES
             + SPEC_CASES + RANGE_LIB_CASES)


@pytest.mark.parametrize(("fn", "argument"), LIB_CASES)
def test_library_bad_input(fn, argument):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy warning on the way to the error is a defect too
        run_lib_case(fn, argument)


def test_layout_degrees_as_lists_are_arrays_of_layouts():
    # lists and tuples of degrees are arrays, as batch=[1, 2] is: one estimate per element, each that element's
    listed = est(tp=[1, 2])
    for i, tp in enumerate((1, 2)):
        assert listed.metrics["tpot_s"][i] == est(tp=tp).metrics["tpot_s"]
    assert est(tp=(1, 2)).metrics["tpot_s"].shape == (2,)


def test_arguments_equal_to_their_defaults_beside_a_workload_or_layout_are_not_a_conflict():
    # batch=1 is the default: nothing was given twice (a conflict is a value other than the default)
    given = est(workload=genmodel.Workload(batch=2), batch=1)
    assert given.metrics["tpot_s"] == est(batch=2).metrics["tpot_s"]
    assert est(parallel=genmodel.Parallelism(tp=2), tp=1).metrics["tpot_s"] == est(tp=2).metrics["tpot_s"]


# -- spec and config files read by the library (file name must appear in the message)
LIB_FILE_CASES = [
    pytest.param("model.yaml", v, genmodel.get_model, id=f"get_model(file: {k})") for k, v in MODEL_FILES.items()
] + [
    pytest.param("hw.yaml", v, genmodel.get_hardware, id=f"get_hardware(file: {k})") for k, v in HW_FILES.items()
] + [
    pytest.param("cfg/config.json", raw, genmodel.ModelSpec.from_hf_config, id=f"from_hf_config(file: {k})")
    for k, (raw, _) in HF_RAW.items()
] + [
    pytest.param("cfg/config.yaml", alias_bomb("hidden_size", "model_type: llama\n"),
                 genmodel.ModelSpec.from_hf_config, id="from_hf_config(file: YAML alias bomb)"),
]


@pytest.mark.parametrize(("name", "content", "reader"), LIB_FILE_CASES)
def test_library_bad_files(name, content, reader, tmp_path):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    needle = "config.json|config.yaml|cfg" if path.parent.name == "cfg" else path.name
    run_lib_case(lambda: reader(str(path)), needle)


# -- the checkers themselves: a command or call that succeeds must fail them (else the corpus proves nothing)
def test_cli_checker_rejects_success(tmp_path, capsys, monkeypatch, user_dir):
    with pytest.raises(AssertionError, match="exit 0"):
        run_cli_case(("models",), None, {}, {}, tmp_path, capsys, monkeypatch, user_dir)


def test_cli_checker_rejects_a_missing_option_name(tmp_path, capsys, monkeypatch, user_dir):
    with pytest.raises(AssertionError, match="does not name --tp"):
        run_cli_case(("estimate", "--batch=0"), "--tp", {}, {}, tmp_path, capsys, monkeypatch, user_dir)


def test_library_checker_rejects_success_and_foreign_errors():
    with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
        run_lib_case(lambda: est(), None)
    with pytest.raises(AssertionError, match="not a GenmodelError"):
        run_lib_case(lambda: int("x"), None)


def test_a_row_with_an_unknown_batching_is_not_expressible(tmp_path):
    # 'batching' is 'static' or 'continuous' (docs/validation.md); another word is not read as either
    from genmodel import validation

    header = HEADER.split(",")
    path = tmp_path / "m.csv"
    path.write_text(HEADER + "\n" + ROW + "\n")
    row = validation.load_rows(path)[0]
    assert row["batching"] in ("static", "continuous") and header[-1] == "batching"
    good = validation.predict_rows([row]).to_records()[0]
    bad = validation.predict_rows([{**row, "batching": "wat"}]).to_records()[0]
    assert good["not_expressible"] in ("", None) and "batching 'wat'" in bad["not_expressible"]


def test_the_shared_checks_accept_what_they_promise_and_refuse_the_rest():
    from genmodel.specs import checks

    assert checks.flag("f", np.bool_(True)) is True and checks.flag("f", False) is False
    assert checks.choice("c", "b", ("a", "b")) == "b"
    assert checks.names("n", "h100-sxm") == ("h100-sxm",) and checks.names("n", ["a", "b"]) == ("a", "b")
    assert checks.common_shape([("a", np.ones(3)), ("b", 2.0), ("c", None), ("d", np.ones((2, 1)))]) == (2, 3)
    assert checks.request_rate("r", 1 / 86_400) == 1 / 86_400 and checks.latency_target("t", 86_400.0) == 86_400.0
    for call in (lambda: checks.flag("f", 1), lambda: checks.choice("c", ["a"], ("a",)),
                 lambda: checks.names("n", 5), lambda: checks.names("n", None), lambda: checks.names("n", {})):
        with pytest.raises(genmodel.InputTypeError):
            call()
    for call in (lambda: checks.choice("c", "z", ("a",)), lambda: checks.names("n", []),
                 lambda: checks.names("n", ["a", " "]), lambda: checks.names("n", ["a", "a"]),
                 lambda: checks.common_shape([("a", np.ones(3)), ("b", np.ones(2))]),
                 lambda: checks.request_rate("r", 0.99 / 86_400), lambda: checks.request_rate("r", 1.01e9),
                 lambda: checks.latency_target("t", 86_401.0), lambda: checks.within("w", 5.0, 1.0, 4.0, "why")):
        with pytest.raises(genmodel.ConfigurationError):
            call()


def test_a_measured_value_outside_any_measurement_is_not_expressible(tmp_path):
    # a value of 1e-308 (in its unit) made the error infinite; outside 1e-9 to 1e12 the row says why it is left out
    from genmodel import validation

    path = tmp_path / "m.csv"
    path.write_text(HEADER + "\n" + ROW + "\n")
    row = validation.load_rows(path)[0]
    for value in ("1e-308", "1e300"):
        record = validation.predict_rows([{**row, "value": value}]).to_records()[0]
        assert value in record["not_expressible"] and "1e-9 to 1e12" in record["not_expressible"]


def test_show_reads_engine_and_use_case_files_and_names(capsys):
    # an engine or use-case file (or name) is shown as what it is, not read as a broken model
    root = Path(__file__).parent.parent
    for argv, name in ((["show", str(root / "engines_db" / "vllm.yaml")], "vllm"), (["show", "vllm"], "vllm"),
                       (["show", str(root / "usecases_db" / "chat.yaml")], "chat"), (["show", "chat"], "chat")):
        assert main([*argv, "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["name"] == name
