"""The served-traffic model where the planner and the validation use it (docs/serving.md, docs/validation.md)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import genmodel
from genmodel.errors import ConfigurationError
from genmodel.interfaces.cli import app
from genmodel.search.planner import plan
from genmodel.validation import bands
from genmodel.validation.predict import predict_rows
from genmodel.validation.rows import NotExpressibleError, parse_row, served_load

INDEPENDENT = Path(__file__).resolve().parent.parent / "validation" / "independent.csv"

RATE, TTFT, TPOT, Q = 20.0, 0.5, 0.04, 0.9


@pytest.fixture(scope="module")
def served_plan():
    return plan("llama-3.1-8b", "h100-sxm", 1024, 256, ttft_s=TTFT, tpot_s=TPOT, request_rate=RATE, percentile=Q,
                max_devices=4)


def test_every_row_of_a_served_plan_carries_meets_slo_and_the_ranking_only_meeting_rows(served_plan):
    for table in (served_plan.ranked, served_plan.pareto, served_plan.space):
        assert "meets_slo" in table.columns
    assert len(served_plan.ranked) and all(bool(x) for x in served_plan.ranked.meets_slo)
    assert len(served_plan.space) > len(served_plan.ranked)  # some configurations miss: it is a filter
    # every configuration that meets the targets has at least the percentile of requests meeting both
    assert np.all(np.asarray(served_plan.ranked.slo_attainment) >= Q - 1e-9)
    assert np.all(np.asarray(served_plan.ranked.devices) <= 4)


def test_served_ranking_is_by_goodput_per_device(served_plan):
    g = np.asarray(served_plan.ranked.goodput_requests_per_s_per_device)
    assert np.all(np.diff(g) <= 1e-3 * g[:-1])  # non-increasing (4 significant digits decide)
    r = served_plan.ranked
    # goodput per device, by hand from the row's own goodput, output length and devices
    np.testing.assert_allclose(r.goodput_tokens_per_s_per_device, r.goodput_requests_per_s * 256 / r.devices,
                               rtol=1e-12)
    # at a rate every row sustains, the goodput is the rate times the attainment (DistServe's definition)
    np.testing.assert_allclose(r.goodput_requests_per_s, RATE * r.slo_attainment, rtol=1e-9)


def test_a_served_plan_row_is_the_serve_of_its_layout_and_replicas(served_plan):
    """The planner evaluates one replica per layout at rate / dp; serve with dp replicas must agree."""
    rows = served_plan.space[np.asarray(served_plan.space.dp) > 1]
    row = rows.row(0)
    direct = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=RATE, ttft_target_s=TTFT,
                            tpot_target_s=TPOT, percentile=Q, tp=int(row.tp), pp=int(row.pp), dp=int(row.dp))
    m = direct.metrics
    assert float(m["devices"]) == row.devices
    for key in ("ttft_p90_s", "tpot_p90_s", "goodput_requests_per_s", "max_request_rate_per_s",
                "output_tokens_per_s", "running_batch"):
        assert float(m[key]) == pytest.approx(float(getattr(row, key)), rel=1e-9), key
    assert bool(m["meets_slo"]) == bool(row.meets_slo)


def test_static_plan_rows_carry_meets_slo_pareto_included():
    result = plan("llama-3.1-8b", "h100-sxm", 1024, 256, ttft_s=0.2, tpot_s=0.02, max_devices=2)
    for table in (result.ranked, result.pareto, result.space):
        assert "meets_slo" in table.columns
    # the front is over every fitting configuration, so some of its rows may miss the targets: they say so
    ok = (result.pareto.ttft_s <= 0.2) & (result.pareto.tpot_s <= 0.02) & result.pareto.fits
    assert list(result.pareto.meets_slo) == list(ok)


@pytest.mark.parametrize("kwargs, name", [({"ttft_s": None, "tpot_s": None}, "ttft_s"),
                                          ({"rank_by": "cost"}, "rank_by"),
                                          ({"request_rate": -1.0}, "request_rate"),
                                          ({"request_rate": math.nan}, "request_rate")])
def test_served_plan_bad_input(kwargs, name):
    args = {"ttft_s": TTFT, "tpot_s": TPOT, "request_rate": RATE, **kwargs}
    with pytest.raises(ConfigurationError) as err:
        plan("llama-3.1-8b", "h100-sxm", 1024, 256, max_devices=2, **args)
    assert err.value.argument == name


@pytest.mark.parametrize("args", [["--request-rate", "5"], ["--request-rate", "5", "--ttft-ms", "500", "--rank-by",
                                                                 "cost"],
                                  ["--percentile", "90"], ["--request-rate", "nan", "--ttft-ms", "500"]])
def test_served_plan_cli_bad_input_is_one_line_exit_2(args):
    res = CliRunner().invoke(app, ["plan", "--max-devices", "2", *args])
    assert res.exit_code == 2
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_served_plan_cli_prints_the_ranking():
    res = CliRunner().invoke(app, ["plan", "--model", "llama-3.1-8b", "--max-devices", "2", "--request-rate", "10",
                                   "--ttft-ms", "500", "--tpot-ms", "40", "--percentile", "90"])
    assert res.exit_code == 0, res.output
    assert "ranked by goodput per device" in res.output and "TTFT p90" in res.output


def test_served_plan_cli_at_the_band_edge_counts_what_the_library_ranks():
    # --targets-at band under traffic: the CLI prints the library's count of configurations meeting the targets with
    # every served time at its band's upper edge, and says so; JSON carries targets_at
    args = ["plan", "--model", "llama-3.1-8b", "--max-devices", "2", "--request-rate", "10", "--ttft-ms", "500",
            "--tpot-ms", "30", "--percentile", "90", "--targets-at", "band"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lib = genmodel.plan("llama-3.1-8b", "h100-sxm", 1024, 256, 0.5, 0.03, 2, request_rate=10, percentile=0.9,
                        targets_at="band")
    point = genmodel.plan("llama-3.1-8b", "h100-sxm", 1024, 256, 0.5, 0.03, 2, request_rate=10, percentile=0.9)
    assert 0 < len(lib.ranked) < len(point.ranked)  # (2 of the 5 that meet the targets at the estimate)
    assert f"{len(lib.ranked):,} meet the targets for 0.9 of requests with every time at the upper edge of its 80% " \
           "band" in res.output
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert data["targets_at"] == "band" and len(data["configurations"]) == min(len(lib.ranked), 10)


# ---- validation rows of continuous batching -----------------------------------------------------

@pytest.mark.parametrize("text, load", [
    ("64", {"concurrency": 64}),
    ("48, identical requests", {"concurrency": 48, "synchronized": True}),
    ("max-load (all requests queued; batch sizes up to 8192)", {"request_rate": "max"}),
    ("request rate inf", {"request_rate": "max"}),
    # all sent at once to the API server, no cap: they queue, under the server's batch defaults (not the offline
    # class's)
    ("request rate inf, 5000 prompts", {"request_rate": "inf", "num_requests": 5000}),
    ("request rate inf, 1000 prompts (no max concurrency)", {"request_rate": "inf", "num_requests": 1000}),
    ("request rate 4/s (Poisson), 1200 prompts", {"request_rate": 4.0, "num_requests": 1200}),  # a run of 1200
    ("request rate 10/s, 300 prompts", {"request_rate": 10.0, "num_requests": 300}),
    ("request rate 0.5/s", {"request_rate": 0.5}),
    ("max_num_seqs 1500, 2000 prompts (offline, all queued)", {"offline": 2000, "max_seqs": 1500}),
])
def test_served_load_of_a_row(text, load):
    assert served_load(text) == load


def test_prompts_sent_at_once_to_a_server_take_the_servers_batch_defaults():
    # vLLM's batch defaults differ by entry point (engines_db/vllm.yaml, from vllm/engine/arg_utils.py): on an A100
    # 2,048 tokens a step for the API server, 8,192 for the offline LLM class; on an H100 8,192 and 16,384. A
    # benchmark's prompts at an infinite rate go to the server; an offline run of the same count through the class.
    # The same run otherwise: both N at once, the same running cap (256 and 1,024 sequences)
    for hardware, server_tokens, offline_tokens, seqs in (("a100-80gb-sxm", 2048, 8192, 256),
                                                          ("h100-sxm", 8192, 16384, 1024)):
        burst = genmodel.serve("llama-3.1-8b", hardware, 1024, 256, request_rate="inf", num_requests=200)
        offline = genmodel.serve("llama-3.1-8b", hardware, 1024, 256, offline=200)
        assert (burst.settings["max_batch_tokens"], burst.settings["max_seqs"]) == (server_tokens, seqs)
        assert (offline.settings["max_batch_tokens"], offline.settings["max_seqs"]) == (offline_tokens, seqs)
        assert (burst.settings["mode"], burst.settings["entry_point"]) == ("offline", "server")
        assert offline.settings["entry_point"] == "offline"
        assert float(burst.metrics["ttft_mean_s"]) > float(offline.metrics["ttft_mean_s"])  # smaller prompt steps
        same = genmodel.serve("llama-3.1-8b", hardware, 1024, 256, offline=200, max_batch_tokens=server_tokens)
        for key in ("ttft_mean_s", "tpot_mean_s", "run_duration_s", "output_tokens_per_s"):
            assert float(burst.metrics[key]) == pytest.approx(float(same.metrics[key]), rel=1e-12), key
    with INDEPENDENT.open(newline="") as f:
        case = parse_row(next(r for r in csv.DictReader(f) if r["batch_or_concurrency"].lower()
                              .startswith("request rate inf,")))
    assert case.served["request_rate"] == "inf" and case.served["num_requests"] == case.kwargs["batch"]


@pytest.mark.parametrize("text", ["n/a", "per-user stream", "request rate 0/s", "0", "Server (4.96 samples/s)",
                                  "0, identical requests", "48, identical"])
def test_unreadable_load_is_not_expressible(text):
    with pytest.raises(NotExpressibleError):
        served_load(text)


def _row(**over):
    row = {"id": "T-01", "source": "test", "model": "llama-3.1-8b", "dtype": "bf16/bf16/bf16", "hardware": "h100-sxm",
           "num_devices": "1", "interconnect": "n/a", "system": "vLLM; continuous", "batch_or_concurrency": "64",
           "input_len": "1024", "output_len": "256", "tp": "1", "pp": "1", "ep": "1", "metric": "ttft",
           "value": "200", "unit": "ms", "notes": "", "engine": "vllm", "batching": "continuous"}
    row.update(over)
    return row


@pytest.mark.parametrize("system, load", [
    ("vLLM; benchmark_serving.py --max-concurrency=64 --num-prompts=640; continuous",
     {"concurrency": 64, "num_requests": 640}),
    ("SGLang, InferenceX benchmark_serving.py at max concurrency 64, 640 prompts; continuous",
     {"concurrency": 64, "num_requests": 640}),
    ("vLLM; vllm bench serve --num-prompt 100; continuous", {"concurrency": 64, "num_requests": 100}),
    ("vLLM; continuous", {"concurrency": 64}),  # no prompt count stated: the steady state
    ("vLLM; 100 short prompts; continuous", {"concurrency": 64}),  # not a count of the run
    ("vLLM; --num-prompts 10; continuous", {"concurrency": 64}),  # fewer prompts than clients: not read as a run
])
def test_a_closed_loop_rows_prompt_count_is_its_run(system, load):
    assert parse_row(_row(system=system)).served == load
    # identical requests re-send in waves; their run starts with one bunch too
    same = parse_row(_row(system=system, batch_or_concurrency="64, identical requests")).served
    assert same == {**load, "synchronized": True}


def test_continuous_ttft_row_is_predicted_by_serve_with_queueing():
    case = parse_row(_row())
    assert case.served == {"concurrency": 64} and case.batching == "served" and case.key == "ttft_mean_s"
    served = predict_rows([_row()])
    static_one = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256, engine="vllm")
    # 64 clients share the server: the first token waits behind other prompts' chunks, so it is later than alone
    assert served.predicted[0] / 1e3 > float(static_one.metrics["ttft_s"])
    assert served.batching[0] == "served"


def test_a_row_stating_a_median_is_compared_with_the_median():
    assert parse_row(_row(notes="Median TTFT 840 ms | metric: Median TTFT")).key == "ttft_p50_s"
    assert parse_row(_row(metric="tpot", notes="tpot = median ITL")).key == "tpot_p50_s"
    assert parse_row(_row(metric="tpot")).key == "tpot_mean_s"


def test_one_client_is_the_static_batch_of_one():
    case = parse_row(_row(batch_or_concurrency="1"))
    assert case.served is None and case.kwargs["batch"] == 1 and case.batching == "static"


def test_energy_rows_of_continuous_runs_stay_static():
    case = parse_row(_row(metric="energy_per_output_token", unit="J/token", value="0.5"))
    assert case.served is None and case.kwargs["batch"] == 64


def test_served_rows_do_not_shape_the_bands_of_estimate():
    records = predict_rows([_row(), _row(id="T-02", batch_or_concurrency="1")])
    kept = bands.residuals(records)
    assert [r["holdout"] for r in kept] == ["T"]  # only the static row (concurrency 1)
    assert len(kept) == 1


def test_goodput_does_not_rise_toward_saturation_near_the_running_cap():
    """Near the running-sequence cap (256 here, vLLM's limit on devices below 70 GiB, stated on one H100, whose own
    is 1,024), arrivals wait for admission instead of joining the batch: the TPOT spread stops growing, so the share
    of requests meeting the targets cannot climb back up."""
    top = float(genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate="max", max_seqs=256)
                .metrics["max_request_rate_per_s"])
    rates = top * np.array([0.9, 0.93, 0.96, 0.98, 0.985, 0.99, 0.995])
    m = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=rates, ttft_target_s=0.5,
                       tpot_target_s=0.03, percentile=0.9, max_seqs=256).metrics
    good = np.asarray(m["goodput_requests_per_s"])
    assert np.all(np.diff(good) <= 0.01 * rates[1:]), good
    assert np.all(np.diff(np.asarray(m["ttft_p99_s"])) >= 0)
