"""Bad input to the searches (size, plan, compare, sweep), in the library and on the command line.

The rule (tests/test_bad_inputs.py): bad input gets a clear error, never a traceback. In the library a bad argument
raises a ``genmodel.GenmodelError`` (``ConfigurationError`` for a bad value, ``InputTypeError`` for a wrong type)
whose ``argument`` is the argument's name and whose one-line message starts with it; no NumPy RuntimeWarning is
printed on the way. On the command line: one line ``error: ...`` naming the option, exit status 2, nothing on
stdout and nothing written. Each case below was a traceback, a silently accepted value or a misleading message.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import typer
import yaml

import genmodel
from genmodel.errors import ConfigurationError, InputTypeError, SpecError
from genmodel.interfaces.cli import app, main
from genmodel.search.compare import compare_hardware, compare_models, realism_note
from genmodel.search.planner import disaggregate
from tests.refusals import refused as _refused

M, H = "llama-3.1-8b", "h100-sxm"
DAY_S = 86_400.0  # the longest latency target a search takes
TARGETS = {"ttft_s": 0.5, "tpot_s": 0.05, "max_devices": 8}
SERVED = {"ttft_s": 0.5, "tpot_s": 0.05, "max_devices": 2, "request_rate": 2.0}
SPEC = {"models": [M], "hardware": [H]}
TWO_D = np.array([[1, 2], [3, 4]])


def case(id, fn, argument, kind=ConfigurationError):
    return pytest.param(fn, argument, kind, id=id)


LIBRARY_CASES = [
    # plan's batch sizes: one number, one list; huge values refused before the cast to int (no warning)
    case("plan(batches=1e308)", lambda: genmodel.plan(M, H, batches=1e308, **TARGETS), "batches"),
    case("plan(batches=(1e308,))", lambda: genmodel.plan(M, H, batches=(1e308,), **TARGETS), "batches"),
    case("plan(batches=2**40)", lambda: genmodel.plan(M, H, batches=[1, 2**40], **TARGETS), "batches"),
    case("plan(batches=2-D)", lambda: genmodel.plan(M, H, batches=TWO_D, **TARGETS), "batches"),
    # the ranking keys: a list, a dict, an array are not names
    case("plan(rank_by=[1])", lambda: genmodel.plan(M, H, rank_by=[1], **TARGETS), "rank_by", InputTypeError),
    case("plan(rank_by={})", lambda: genmodel.plan(M, H, rank_by={}, **TARGETS), "rank_by", InputTypeError),
    case("plan(rank_by=array)", lambda: genmodel.plan(M, H, rank_by=np.array(["cost"]), **TARGETS), "rank_by",
         InputTypeError),
    case("plan(request_rate, rank_by=array)",
         lambda: genmodel.plan(M, H, rank_by=np.array([]), **SERVED), "rank_by", InputTypeError),
    case("compare(sort_by={})", lambda: compare_hardware(M, [H], sort_by={}), "sort_by", InputTypeError),
    case("compare(sort_by=[])", lambda: compare_hardware(M, [H], sort_by=[]), "sort_by", InputTypeError),
    # compare's flags and engine
    case("compare(calibrated=array)", lambda: compare_hardware(M, [H], calibrated=np.array([])), "calibrated",
         InputTypeError),
    case("compare(calibrated=1)", lambda: compare_hardware(M, [H], calibrated=1), "calibrated", InputTypeError),
    case("compare(engine=array)", lambda: compare_hardware(M, [H], engine=np.array([])), "engine", InputTypeError),
    case("compare(engine=2-D)", lambda: compare_hardware(M, [H], engine=TWO_D), "engine", InputTypeError),
    case("compare_models(calibrated=array)", lambda: compare_models([M], H, calibrated=np.array([True, False])),
         "calibrated", InputTypeError),
    # arrays where the searches take one number (they evaluate their own axes)
    *[case(f"size({name}=2-D)", lambda name=name: genmodel.size(M, H, **{name: TWO_D}), name)
      for name in ("batch", "input_tokens", "output_tokens")],
    *[case(f"size({name}=[1, 2])", lambda name=name: genmodel.size(M, H, **{name: [1, 2]}), name)
      for name in ("batch", "input_tokens", "output_tokens")],
    *[case(f"plan({name}=2-D)", lambda name=name: genmodel.plan(M, H, **{name: TWO_D}, **TARGETS), name)
      for name in ("input_tokens", "output_tokens")],
    case("plan(request_rate, input_tokens=[1, 2])",
         lambda: genmodel.plan(M, H, input_tokens=[1, 2], **SERVED), "input_tokens"),
    case("size(flops_scale=[1, 2])", lambda: genmodel.size(M, H, flops_scale=[1.0, 2.0]), "flops_scale"),
    case("plan(bandwidth_scale=2-D)", lambda: genmodel.plan(M, H, bandwidth_scale=TWO_D * 1.0, **TARGETS),
         "bandwidth_scale"),
    case("disaggregate(batches=2-D)", lambda: disaggregate(M, H, batches=TWO_D, **TARGETS), "batches"),
    # arguments a search sets itself, or does not take, are refused instead of ignored (or a raw TypeError)
    case("size(tp=2)", lambda: genmodel.size(M, H, tp=2), "tp"),
    case("plan(expert_imbalance=2)", lambda: genmodel.plan(M, H, expert_imbalance=2.0, **TARGETS),
         "expert_imbalance"),
    case("plan(check_fit=True)", lambda: genmodel.plan(M, H, check_fit=True, **TARGETS), "check_fit"),
    case("plan(frobnicate=1)", lambda: genmodel.plan(M, H, frobnicate=1, **TARGETS), "frobnicate", InputTypeError),
    case("plan(request_rate, embedding_dtype)",
         lambda: genmodel.plan(M, H, embedding_dtype="bf16", **SERVED), "embedding_dtype"),
    case("plan(request_rate, batches=[1, 2])", lambda: genmodel.plan(M, H, batches=[1, 2], **SERVED), "batches"),
    # request rates outside one a day .. a billion a second: refused at plan's boundary, no overflow warning
    case("plan(request_rate=1e308)", lambda: genmodel.plan(M, H, **{**SERVED, "request_rate": 1e308}),
         "request_rate"),
    case("plan(request_rate=1e-308)", lambda: genmodel.plan(M, H, **{**SERVED, "request_rate": 1e-308}),
         "request_rate"),
    case("plan(request_rate=1e-6)", lambda: genmodel.plan(M, H, **{**SERVED, "request_rate": 1e-6}),
         "request_rate"),
    # the percentile is one number before the band targets use it
    *[case(f"plan(targets_at='band', percentile={v!r})",
           lambda v=v: genmodel.plan(M, H, percentile=v, targets_at="band", **SERVED), "percentile", kind)
      for v, kind in (([0.5, 0.9], ConfigurationError), ("99", InputTypeError), (None, InputTypeError))],
    # latency targets at most a day
    case("plan(ttft_s=1e308)", lambda: genmodel.plan(M, H, **{**TARGETS, "ttft_s": 1e308}), "ttft_s"),
    case("plan(tpot_s=a day and a bit)", lambda: genmodel.plan(M, H, **{**TARGETS, "tpot_s": DAY_S + 1}),
         "tpot_s"),
    case("plan(request_rate, ttft_s=1e308)", lambda: genmodel.plan(M, H, **{**SERVED, "ttft_s": 1e308}), "ttft_s"),
    case("disaggregate(ttft_s=1e308)", lambda: disaggregate(M, H, **{**TARGETS, "ttft_s": 1e308}), "ttft_s"),
    # hardware and model lists: no empty names, each once (also under another alias or as a spec object)
    case("compare([h100, ''])", lambda: compare_hardware(M, [H, ""]), "hardware"),
    case("compare([h100, ' '])", lambda: compare_hardware(M, [H, " "]), "hardware"),
    case("compare([h100, h100])", lambda: compare_hardware(M, [H, H]), "hardware"),
    case("compare([h100, H100-SXM])", lambda: compare_hardware(M, [H, H.upper()]), "hardware"),
    case("compare([spec, name])", lambda: compare_hardware(M, [genmodel.get_hardware(H), H]), "hardware"),
    case("compare('h100-sxm')", lambda: compare_hardware(M, H), "hardware", InputTypeError),
    case("compare_models([m, m])", lambda: compare_models([M, M], H), "models"),
    case("compare_models([spec, name])", lambda: compare_models([genmodel.get_model(M), M], H), "models"),
    case("compare_models(['', m])", lambda: compare_models(["", M], H), "models"),
    # sweep: out, workers, progress
    case("sweep(out=5)", lambda: genmodel.sweep(SPEC, out=5), "out", InputTypeError),
    case("sweep(out=['r.csv'])", lambda: genmodel.sweep(SPEC, out=["r.csv"]), "out", InputTypeError),
    case("sweep(workers=0)", lambda: genmodel.sweep(SPEC, workers=0), "workers"),
    case("sweep(workers=-1)", lambda: genmodel.sweep(SPEC, workers=-1), "workers"),
    case("sweep(workers=2.5, 'local')", lambda: genmodel.sweep(SPEC, scheduler="local", workers=2.5), "workers"),
    case("sweep(workers=True, 'local')", lambda: genmodel.sweep(SPEC, scheduler="local", workers=True), "workers",
         InputTypeError),
    case("sweep(workers=2) without scheduler 'local'", lambda: genmodel.sweep(SPEC, workers=2), "workers"),
    case("sweep(workers=10**5, 'local')", lambda: genmodel.sweep(SPEC, scheduler="local", workers=10**5),
         "workers"),
    case("sweep(progress=5)", lambda: genmodel.sweep(SPEC, progress=5), "progress", InputTypeError),
]


@pytest.mark.parametrize(("fn", "argument", "kind"), LIBRARY_CASES)
def test_library_refuses_bad_search_arguments(fn, argument, kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(fn, argument, kind)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_one_batch_size_is_one_batch():
    result = genmodel.plan(M, H, batches=16, **TARGETS)
    assert len(result.space) and set(result.space.batch) == {16}
    listed = genmodel.plan(M, H, batches=[16], **TARGETS)
    assert list(result.space.devices) == list(listed.space.devices)
    assert np.array_equal(result.space.tpot_s, listed.space.tpot_s)


def test_the_limits_themselves_are_accepted_without_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        genmodel.plan(M, H, ttft_s=DAY_S, tpot_s=DAY_S, max_devices=2)
        genmodel.plan(M, H, **{**SERVED, "request_rate": 1 / 86_400})
        genmodel.plan(M, H, **{**SERVED, "request_rate": 1e9})
        genmodel.plan(M, H, batches=[1, 2**32], max_devices=1)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]


def test_request_rate_and_targets_state_their_range():
    message = str(_refused(lambda: genmodel.plan(M, H, **{**SERVED, "request_rate": 1e308}), "request_rate",
                           ConfigurationError))
    assert "a day" in message and "billion" in message
    assert "a day" in str(_refused(lambda: genmodel.plan(M, H, **{**TARGETS, "ttft_s": 1e308}), "ttft_s",
                                   ConfigurationError))


def test_workers_bound_names_the_cores():
    cores = os.cpu_count() or 1
    message = str(_refused(lambda: genmodel.sweep(SPEC, scheduler="local", workers=10**5), "workers",
                           ConfigurationError))
    assert f"{cores}" in message and "core" in message


@pytest.mark.parametrize(("path", "what"), [(".", "is a folder"), ("/dev/null", "not a regular file")])
def test_a_sweep_spec_that_is_no_file_says_what_it_is(path, what, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if not Path(path).exists():
        pytest.skip(f"{path} is not here")
    exc = _refused(lambda: genmodel.sweep(path), "spec", SpecError)
    assert what in str(exc) and "does not exist" not in str(exc)


def test_the_compare_note_recommends_only_what_compare_offers():
    table = compare_hardware(M, ["h100-sxm", "mi250x-gcd"], 8, 1024, 256)  # calibrated and kind defaults
    note = realism_note(table)
    assert note is not None
    options = set(re.findall(r"--[a-z][a-z-]*", note))
    assert options, note
    command = typer.main.get_command(app).commands["compare"]
    offered = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    assert options <= offered, options - offered


# ---- the command line ---------------------------------------------------------------------------------------------
def _cli(argv: list[str], capsys, folder: Path) -> str:
    """Run ``argv``; it must print one ``error:`` line, exit 2, print nothing on stdout and write nothing in
    ``folder``. Returns the line."""
    before = sorted(p.name for p in folder.rglob("*"))
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), (code, out, err)
    assert "Traceback" not in err
    assert sorted(p.name for p in folder.rglob("*")) == before
    return lines[0]


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


@pytest.mark.parametrize(("argv", "option"), [
    (["plan", "--ttft-ms", "1e308"], "--ttft-ms"),
    (["plan", "--tpot-ms", "86400001"], "--tpot-ms"),
    (["plan", "--request-rate", "1e308", "--ttft-ms", "500"], "--request-rate"),
    (["plan", "--request-rate", "1e-308", "--ttft-ms", "500"], "--request-rate"),
    (["compare", "-H", "h100-sxm,"], "--hardware"),
    (["compare", "-H", "h100-sxm,,b200"], "--hardware"),
    (["compare", "-H", "h100-sxm,h100-sxm"], "--hardware"),
    (["compare", "-H", "h100-sxm,H100-SXM"], "--hardware"),
])
def test_cli_search_options(argv, option, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _cli(argv, capsys, tmp_path).startswith(f"error: {option}")


@pytest.mark.parametrize("value", ["99", "0", "100", "nan", "0.5"])
def test_cli_percentile_without_a_rate_is_refused_whatever_its_value(value, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = _cli(["plan", "--percentile", value], capsys, tmp_path)
    assert "--percentile" in line and "--request-rate" in line


@pytest.mark.parametrize(("args", "needle"), [
    (["--workers", "0"], "--workers"),
    (["--workers", "-1"], "--workers"),
    (["--workers", "2"], "--workers"),  # without --scheduler local it would be ignored
    (["--scheduler", "local", "--workers", "0"], "--workers"),
    (["--scheduler", "local", "--workers", "100000"], "--workers"),
])
def test_cli_sweep_workers(args, needle, spec_file, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _cli(["sweep", str(spec_file), *args], capsys, tmp_path).startswith(f"error: {needle}")


def test_cli_sweep_out_errors_name_the_option(spec_file, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv.chunks").write_text("a file where the chunk folder goes")
    line = _cli(["sweep", str(spec_file), "--out", str(tmp_path / "r.csv")], capsys, tmp_path)
    assert line.startswith("error: --out ") and "chunk folder" in line


@pytest.mark.parametrize(("path", "what"), [("{tmp}", "is a folder"), ("/dev/null", "not a regular file")])
def test_cli_sweep_spec_that_is_no_file(path, what, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = path.replace("{tmp}", str(tmp_path))
    if not Path(path).exists():
        pytest.skip(f"{path} is not here")
    line = _cli(["sweep", path], capsys, tmp_path)
    assert what in line and "does not exist" not in line
