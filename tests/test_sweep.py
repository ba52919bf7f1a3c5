"""Design-space sweeps (genmodel.search.sweep, docs/sweeps.md): the spec, the results against direct estimate calls,
a Dask LocalCluster against this process bit for bit, resuming after an interruption or a killed process, a worker
killed mid-sweep, and the reductions against the same reductions computed here on the full result."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import yaml

import genmodel
from genmodel.errors import GenmodelError, SpecError
from genmodel.interfaces.cli import main
from genmodel.search.sweep import plan, sweep
from genmodel.search.sweep_files import metadata, read_sweep

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

MODELS = ["llama-3.1-8b", "phi-3-mini-4k", "mixtral-8x7b"]  # dense, dense with a 4k context, MoE
HARDWARE = ["h100-sxm", "a100-80gb-sxm"]  # the A100 has no fp8
DATATYPES = [{}, {"weight": "fp8", "activation": "fp8", "kv": "fp8"}]
LAYOUTS = [(1, 1), (1, 2), (2, 1), (2, 2)]  # (tp, ep): ep 2 is refused by the dense models, and by tp 1
INPUTS, OUTPUTS, BATCHES, BANDWIDTH = [512, 4096], [128], [1, 8, 64], [1.0, 2.0]
METRICS = ["ttft_s", "tpot_s", "output_tokens_per_s_per_device", "tokens_per_s_per_user", "fits", "max_batch",
           "bound", "usd_per_million_output_tokens"]
SMALL = {"models": MODELS, "hardware": HARDWARE, "datatypes": DATATYPES,
         "layouts": {"tp": [1, 2], "ep": [1, 2]}, "input_tokens": INPUTS, "output_tokens": OUTPUTS,
         "batch": BATCHES, "bandwidth_scale": BANDWIDTH, "metrics": METRICS,
         "block_size": 50,  # blocks cut through the (model, hardware, datatypes) groups
         "reduce": {"top_k": [{"metric": "output_tokens_per_s_per_device", "k": 7},
                              {"metric": "tpot_s", "k": 5, "order": "min", "where": "valid"}],
                    "pareto": [{"x": "tokens_per_s_per_user", "y": "output_tokens_per_s_per_device"}],
                    "histogram": [{"metric": "tpot_s", "bins": 8, "range": [0.002, 0.05], "spacing": "log"}]}}
# a larger sweep whose blocks take a while each: for killing a worker or a process mid-sweep
LARGE = {"models": ["llama-3.1-8b", "llama-3.1-70b"], "hardware": ["h100-sxm", "h200-sxm"],
         "layouts": {"tp": [1, 2, 4, 8]}, "input_tokens": [256, 1024, 4096], "output_tokens": [64, 512],
         "batch": {"start": 1, "stop": 512, "num": 10, "spacing": "log"}, "flops_scale": [0.5, 1.0, 2.0],
         "bandwidth_scale": [0.5, 1.0, 2.0], "metrics": ["ttft_s", "tpot_s", "fits"], "block_size": 200,
         "reduce": {"top_k": [{"metric": "tpot_s", "k": 3, "order": "min"}]}}


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN where NaN), with the same dtype (strings: the same text)."""
    a, b = np.asarray(a), np.asarray(b)
    kinds = a.dtype.kind == b.dtype.kind == "U"
    return (kinds or a.dtype == b.dtype) and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def same_columns(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for name in a:
        assert same(a[name], b[name]), name


@pytest.fixture(scope="module")
def small():
    return sweep(SMALL)


@pytest.fixture(scope="module")
def large():
    return sweep(LARGE)


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            Client(c) as client:
        yield client


# ---- the spec ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("change", "needle"), [
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"batch": [0, 8]}, "batch: values must be in [1,"),
    ({"batch": [8, 8]}, "batch: 8 appears more than once"),
    ({"batch": [1.5]}, "batch.list.0: Input should be a valid integer"),
    ({"bandwidth_scale": {"start": 2, "stop": 1, "num": 3}}, "stop (1) must be above start (2)"),
    ({"models": ["llama-3.1-8b", "llama-3.1-8b"]}, "models: 'llama-3.1-8b' appears more than once"),
    ({"use_cases": ["chat"]}, "give use_cases or input_tokens/output_tokens, not both"),
    ({"datatypes": [{"weight": "fp9"}]}, "datatypes.0.weight: 'fp9' is not a datatype"),
    ({"layouts": {"tp": [0]}}, "layouts.grid.tp.0: Input should be greater than or equal to 1"),
    ({"reduce": {"histogram": [{"metric": "tpot_s", "range": [1, 0.5]}]}}, "the high edge (0.5) must be above"),
    ({"reduce": {"pareto": [{"x": "tpot_s", "y": "tpot_s"}]}}, "a front needs two different metrics"),
    ({"rows": False, "reduce": {}}, "needs at least one reduction"),
    ({"block_size": 0}, "block_size"),
])
def test_bad_specs_name_the_field(change, needle):
    with pytest.raises(SpecError) as err:
        plan({**SMALL, **change})
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("change", "needle"), [
    ({"models": ["llama-3.1-8b", "no-such-model"]}, "models.1: unknown model 'no-such-model'"),
    ({"hardware": ["h100-sxm", "h1000"]}, "hardware.1: unknown"),
    ({"metrics": ["tpot_s", "speed"]}, "'speed' is not a metric of estimate"),
    ({"metrics": ["tpot_s", "meets_targets"]}, "meets_targets needs use_cases"),
    ({"reduce": {"top_k": [{"metric": "tpot_s", "where": "tpot_s"}]}},
     "reduce.top_k.0.where: 'tpot_s' is not a true/false column"),
    ({"reduce": {"top_k": [{"metric": "bound"}]}}, "'bound' is not a number"),
    ({"engine": "no-engine"}, "engine.0: unknown engine"),
])
def test_unknown_names_are_refused_before_anything_runs(change, needle):
    with pytest.raises(GenmodelError, match=None) as err:
        plan({**SMALL, **change})
    assert needle in str(err.value)


def test_cli_bad_spec_and_unwritable_out_print_one_line_exit_2_and_write_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**SMALL, "batch": [0]}))
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(SMALL))
    cases = [(["sweep", str(bad), "--out", str(tmp_path / "r.parquet")], "bad.yaml: batch: values must be in"),
             (["sweep", str(tmp_path / "none.yaml")], "does not exist"),
             (["sweep", str(good), "--out", str(tmp_path / "missing" / "r.parquet")], "--out"),
             (["sweep", str(good), "--out", str(tmp_path / "r.txt")], "--out"),
             (["sweep", str(good), "--out", str(tmp_path)], "is a folder"),
             (["sweep", str(good), "--scheduler", "somewhere"], "--scheduler")]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cases.append((["sweep", str(good), "--out", str(locked / "r.csv")], "permission denied"))
    for argv, needle in cases:
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 2 and out == "", argv
        assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "locked") == ["bad.yaml", "good.yaml"]


# ---- the results -----------------------------------------------------------------------------------------------
def test_every_configuration_equals_a_direct_estimate_call(small):
    # the configurations in the documented order, built here with itertools; each evaluated on its own
    order = list(itertools.product(MODELS, HARDWARE, range(len(DATATYPES)), LAYOUTS, INPUTS, OUTPUTS, BATCHES,
                                   BANDWIDTH))
    c = small.columns
    assert small.configurations == len(order) == c["config"].size
    valid = 0
    for i, (model, hw, d, (tp, ep), inp, outp, batch, bw) in enumerate(order):
        assert (c["model"][i], c["hardware"][i], c["tp"][i], c["ep"][i], c["input_tokens"][i], c["batch"][i],
                c["bandwidth_scale"][i]) == (model, hw, tp, ep, inp, batch, bw)
        dt = DATATYPES[d]
        try:
            e = genmodel.estimate(model, hw, batch, inp, outp, weight_dtype=dt.get("weight"),
                                  activation_dtype=dt.get("activation"), kv_dtype=dt.get("kv"), tp=tp, ep=ep,
                                  bandwidth_scale=bw, check_fit=False)
        except GenmodelError:  # a layout, context or datatype the model or device cannot run
            assert not c["valid"][i] and not c["fits"][i] and np.isnan(c["tpot_s"][i]) and c["max_batch"][i] == 0
            continue
        valid += 1
        assert c["valid"][i]
        for name in ("ttft_s", "tpot_s", "output_tokens_per_s_per_device", "usd_per_million_output_tokens"):
            assert c[name][i] == pytest.approx(e.metrics[name], rel=1e-12, nan_ok=True), (i, name)
        assert (c["fits"][i], c["max_batch"][i], c["bound"][i]) == (e.fits, e.max_batch, e.bound)
    assert small.counts["valid"] == valid == int(c["valid"].sum())
    assert small.counts["fits"] == int(c["fits"].sum())
    # what was refused: ep 2 on the dense models and on tp 1, fp8 on the A100, 4096 + 128 tokens on phi-3-mini-4k
    assert 0 < valid < len(order)
    assert any("a100-80gb-sxm has no fp8" in r for r in small.refused["datatypes"])
    assert small.refused["lengths"] == ["phi-3-mini-4k: 4,224 prompt + output tokens exceed its 4,096-token context"]


def test_reductions_equal_the_same_reductions_of_the_full_result(small):
    c = small.columns
    config = c["config"]
    # top k: sort everything by (value, number) and take the first k
    for spec_, table in zip(SMALL["reduce"]["top_k"], small.top_k, strict=True):
        where = c[spec_.get("where", "fits")]
        values = c[spec_["metric"]]
        sign = -1.0 if spec_.get("order", "max") == "max" else 1.0
        mask = where & np.isfinite(values)
        ranked = config[mask][np.lexsort((config[mask], sign * values[mask]))][:spec_["k"]]
        assert same(table["config"], ranked)
        assert same(table[spec_["metric"]], values[ranked])
    # Pareto: brute force, every pair compared
    x, y = c["tokens_per_s_per_user"], c["output_tokens_per_s_per_device"]
    points = np.flatnonzero(c["fits"] & np.isfinite(x) & np.isfinite(y))
    front = []
    for i in points:
        at_least = (x[points] >= x[i]) & (y[points] >= y[i])
        better = at_least & ((x[points] > x[i]) | (y[points] > y[i]))
        equal_lower = at_least & ~better & (points < i)
        if not better.any() and not equal_lower.any():
            front.append(i)
    front = np.array(front)
    assert len(front) > 3
    assert set(small.pareto[0]["config"].tolist()) == set(config[front].tolist())
    assert np.all(np.diff(small.pareto[0]["tokens_per_s_per_user"]) <= 0)  # best x first
    # histogram: numpy on the full column, and the values outside the edges
    h = small.histograms[0]
    values = c["tpot_s"][c["fits"]]
    edges = np.geomspace(0.002, 0.05, 9)
    assert np.array_equal(h["counts"], np.histogram(values, bins=edges)[0])
    assert (h["below"], h["above"]) == ((values < 0.002).sum(), (values > 0.05).sum())
    assert h["counts"].sum() + h["below"] + h["above"] == small.counts["fits"]


def test_float32_and_reductions_only(small):
    r = sweep({**SMALL, "precision": "float32", "rows": False})
    assert r.columns is None
    assert same(r.top_k[0]["config"], small.top_k[0]["config"])  # ranks unchanged here at float32
    assert r.top_k[0]["ttft_s"].dtype == np.float32
    assert np.array_equal(r.top_k[0]["ttft_s"], small.top_k[0]["ttft_s"].astype(np.float32))


# ---- on a Dask cluster -------------------------------------------------------------------------------------------
def test_local_cluster_results_equal_in_process_bit_for_bit(small, cluster):
    distributed = sweep(SMALL, scheduler=cluster)
    same_columns(small.columns, distributed.columns)
    assert distributed.counts == small.counts
    for a, b in zip(small.top_k + small.pareto, distributed.top_k + distributed.pareto, strict=True):
        same_columns({k: a[k] for k in a.columns}, {k: b[k] for k in b.columns})
    assert np.array_equal(small.histograms[0]["counts"], distributed.histograms[0]["counts"])


def test_a_worker_killed_mid_sweep_loses_nothing(large):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            Client(c) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_a_busy_worker(progress):
            if killed:
                return
            busy = [w for w, tasks in client.processing().items() if tasks and w in pids]
            if busy:  # a worker with blocks in hand (else try again after the next block)
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])

        result = sweep(LARGE, scheduler=client, progress=kill_a_busy_worker)
        assert killed, "no worker was caught with a block in hand"
    same_columns(large.columns, result.columns)
    assert same(large.top_k[0]["config"], result.top_k[0]["config"])


# ---- files, interruptions, resuming ----------------------------------------------------------------------------
def test_parquet_and_csv_files_hold_the_rows_and_reductions(small, tmp_path):
    for suffix in (".parquet", ".csv"):
        out = tmp_path / f"r{suffix}"
        result = sweep(SMALL, out=out)
        assert result.columns is None
        assert not out.with_name(out.name + ".chunks").exists()  # removed once the files are written
        rows = read_sweep(out)
        provenance = {"schema_version", "genmodel_version", "database_hash"}
        assert set(rows) - set(small.columns) == (provenance if suffix == ".csv" else set())
        same_columns(small.columns, {k: rows[k] for k in small.columns})
        top = read_sweep(result.files["top_k"])
        assert same(top["config"][top["reduction"] == 0], small.top_k[0]["config"])
        hist = read_sweep(result.files["histogram"])
        assert hist["count"].sum() == small.counts["fits"]
    meta = metadata(tmp_path / "r.parquet")
    assert meta["sweep_key"] == small.key and meta["genmodel_version"] == genmodel.__version__


def test_an_interrupted_sweep_resumes_from_its_chunks(small, tmp_path):
    out = tmp_path / "r.parquet"
    chunks = out.with_name("r.parquet.chunks")

    def ctrl_c_after_three(progress):
        if progress.blocks_done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(SMALL, out=out, progress=ctrl_c_after_three)
    saved = sorted(chunks.iterdir())
    assert len(saved) == 3 and not out.exists()
    saved[0].unlink()  # a lost chunk is evaluated again
    (chunks / ".x.npz.123.tmp").write_bytes(b"half a chunk from a killed run")
    (chunks / f"{'0' * 16}-00000000.npz").write_bytes(b"a chunk of another spec")
    evaluated = []
    result = sweep(SMALL, out=out, progress=lambda p: evaluated.append(p.blocks_done))
    blocks = -(-small.configurations // SMALL["block_size"])
    assert result.resumed_blocks == 2 and len(result.computed_blocks) == blocks - 2 == len(evaluated)
    same_columns(small.columns, {k: v for k, v in read_sweep(out).items() if k in small.columns})
    assert same(result.top_k[0]["config"], small.top_k[0]["config"])
    assert np.array_equal(result.histograms[0]["counts"], small.histograms[0]["counts"])
    assert not chunks.exists()
    # another spec has another key: nothing of this one's chunks would be reused
    assert plan({**SMALL, "batch": [1, 8]}).key != result.key


def test_a_killed_process_resumes_from_its_chunks(large, tmp_path):
    # a process running the sweep kills itself (SIGKILL: no cleanup of any kind) once three blocks are written
    out = tmp_path / "r.parquet"
    code = ("import os, signal, sys, yaml; from genmodel.search.sweep import sweep\n"
            "def die(p):\n    if p.blocks_done == 3: os.kill(os.getpid(), signal.SIGKILL)\n"
            "sweep(yaml.safe_load(sys.argv[1]), out=sys.argv[2], progress=die)")
    done = subprocess.run([sys.executable, "-c", code, yaml.safe_dump(LARGE), str(out)], capture_output=True,
                          timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert not out.exists() and len(list(out.with_name("r.parquet.chunks").glob("*.npz"))) == 3
    result = sweep(LARGE, out=out)
    assert result.resumed_blocks == 3 and len(result.computed_blocks) == result.blocks - 3
    same_columns(large.columns, {k: v for k, v in read_sweep(out).items() if k in large.columns})


def test_use_cases_synthetic_models_and_spec_files(tmp_path, monkeypatch, toy_hw):
    (tmp_path / "toy.yaml").write_text(yaml.safe_dump(toy_hw.model_dump(mode="json")))
    spec = tmp_path / "cases.yaml"
    spec.write_text(yaml.safe_dump({"models": ["llama-3.1-8b", "synthetic:dense-1t"],
                                    "hardware": ["h100-sxm", "toy.yaml"],
                                    "use_cases": ["chat", "summarization"], "batch": [1, 64],
                                    "metrics": ["ttft_s", "tpot_s", "fits", "meets_targets"]}))
    monkeypatch.chdir(tmp_path.parent)  # the device file is found beside the spec, not in the working folder
    result = sweep(spec)
    c = result.columns
    assert set(c["hardware"]) == {"h100-sxm", "toy"} and set(c["model"]) == {"llama-3.1-8b", "synthetic:dense-1t"}
    for name in ("chat", "summarization"):
        case = genmodel.get_use_case(name)
        rows = c["use_case"] == name
        assert set(c["input_tokens"][rows]) == {round(case.input_tokens)}
        assert set(c["output_tokens"][rows]) == {round(case.output_tokens)}
        expected = (c["fits"][rows] & (c["ttft_s"][rows] <= case.ttft_target_s)
                    & (c["tpot_s"][rows] <= case.tpot_target_s))
        assert np.array_equal(c["meets_targets"][rows], expected)
    assert result.counts["meets_targets"] == int(c["meets_targets"].sum()) > 0


def test_a_layout_refused_on_one_device_runs_where_the_engine_pads_heads():
    # Llama-2-7B has 32 heads: tp 12 does not divide them, so an H100 (vLLM) refuses it, while Neuron on
    # Inferentia2 pads each NeuronCore's heads (formulas.md 5.2) and runs it, as estimate does on its own
    spec = {"models": ["llama-2-7b"], "hardware": ["h100-sxm", "inferentia2"], "layouts": {"tp": [1, 12]},
            "input_tokens": [256], "output_tokens": [64], "batch": [1], "metrics": ["tpot_s"]}
    c = sweep(spec).columns
    valid = {(h, int(t)): bool(v) for h, t, v in zip(c["hardware"], c["tp"], c["valid"], strict=True)}
    assert valid == {("h100-sxm", 1): True, ("h100-sxm", 12): False, ("inferentia2", 1): True,
                     ("inferentia2", 12): True}
    direct = genmodel.estimate("llama-2-7b", "inferentia2", batch=1, input_tokens=256, output_tokens=64, tp=12,
                               check_fit=False)
    at = [i for i, (h, t) in enumerate(zip(c["hardware"], c["tp"], strict=True)) if h == "inferentia2" and t == 12]
    assert c["tpot_s"][at[0]] == pytest.approx(direct.tpot_s, rel=1e-12)
