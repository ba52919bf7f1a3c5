"""Disaggregated prefill/decode pools under served traffic (genmodel.serving.disaggregated, docs/serving.md)."""

from __future__ import annotations

import math

import pytest
from typer.testing import CliRunner

import genmodel
from genmodel.data.registry import get_hardware
from genmodel.engine.collectives import DEFAULT_LINK_EFFICIENCY
from genmodel.errors import ConfigurationError
from genmodel.interfaces.cli import app
from genmodel.serving.disaggregated import serve_disaggregated

MODEL, HW, I, O = "llama-3.1-70b", "dgx-h100", 2048, 256
RATE, TTFT, TPOT, Q = 5.0, 1.0, 0.05, 0.9
COMMON = {"weight_dtype": "fp8"}


@pytest.fixture(scope="module")
def split():
    return serve_disaggregated(MODEL, HW, I, O, request_rate=RATE, ttft_target_s=TTFT, tpot_target_s=TPOT,
                               percentile=Q, prefill={"tp": 4}, decode={"tp": 4}, **COMMON)


def test_kv_transfer_by_hand(split):
    # Llama-3.1-70B: 80 layers x 8 KV heads x 128 dims x (K and V) x 2 bytes (bf16 KV) per token
    kv_bytes = 80 * 8 * 128 * 2 * 2 * I
    assert split.metrics["kv_bytes_per_request"] == kv_bytes
    nic = get_hardware("h100-sxm").scale_out  # one NIC per device; the 4 devices of the prefill replica send
    expected = kv_bytes / (nic.bandwidth_per_direction_bytes_per_s * DEFAULT_LINK_EFFICIENCY * 4) + nic.latency_s
    assert split.metrics["kv_transfer_s"] == pytest.approx(expected, rel=1e-12)
    per_replica = RATE / split.metrics["prefill_replicas"]
    assert split.metrics["kv_link_utilization"] == pytest.approx(
        per_replica * kv_bytes / (nic.bandwidth_per_direction_bytes_per_s * DEFAULT_LINK_EFFICIENCY * 4), rel=1e-12)


def test_client_figures_compose_the_pools(split):
    m, pm, dm = split.metrics, split.prefill.metrics, split.decode.metrics
    # means add exactly: prefill pool's TTFT, the transfer, the decode pool's time to its first token
    assert m["ttft_mean_s"] == pytest.approx(float(pm["ttft_mean_s"]) + m["kv_transfer_s"]
                                             + float(dm["ttft_mean_s"]), rel=1e-12)
    assert m["ttft_p90_s"] == pytest.approx(float(pm["ttft_p90_s"]) + m["kv_transfer_s"] + float(dm["ttft_p90_s"]))
    assert m["tpot_mean_s"] == float(dm["tpot_mean_s"])
    assert m["devices"] == m["prefill_replicas"] * 4 + m["decode_replicas"] * 4
    assert m["output_tokens_per_s_per_device"] == pytest.approx(RATE * O / m["devices"])
    assert m["meets_slo"] == (m["ttft_p90_s"] <= TTFT and m["tpot_p90_s"] <= TPOT)


def test_pools_are_the_smallest_that_meet_their_targets(split):
    """Each pool's replicas serve the rate within the pool's target; one replica fewer would not."""
    m = split.metrics
    dec_one = genmodel.serve(MODEL, HW, I, O, request_rate=RATE, tpot_target_s=TPOT, percentile=Q, tp=4,
                             prefilled=True, **COMMON)
    per = float(dec_one.metrics["max_goodput_rate_per_s"])
    assert m["decode_replicas"] * per >= RATE > (m["decode_replicas"] - 1) * per
    budget = TTFT - m["kv_transfer_s"] - float(split.decode.metrics["ttft_p90_s"])
    pre_one = genmodel.serve(MODEL, HW, I, 1, request_rate=RATE, ttft_target_s=budget, percentile=Q, tp=4, **COMMON)
    per = float(pre_one.metrics["max_goodput_rate_per_s"])
    assert m["prefill_replicas"] * per >= RATE > (m["prefill_replicas"] - 1) * per


def test_a_decode_pool_whose_queue_spends_the_ttft_target_gets_another_replica():
    """Llama-3.1-8B on H100s, 4,095 + 511 tokens at 30.25 requests/s, TTFT 2 s and TPOT 60 ms at P90: the TPOT target
    alone asks for 6 decode replicas (5.31 requests/s each), which run at 0.95 of their saturation rate, where the
    admission queue's P90 wait spends the TTFT target before any prefill; 7 leave the prefill pool most of it
    (history item 90: before it, 6 decode replicas left the prefill pool 0.17 s, and it took 14 replicas). The rate is
    0.95 x 6 x one replica's saturated rate under the stored fit (29.83 requests/s, 0.945 x 6 x 5.26, before history
    item 99 refitted the Hopper family)."""
    rate, X, Y = 0.95 * 6 * 5.306192976173418, 2.0, 0.06
    d = serve_disaggregated("llama-3.1-8b", "h100-sxm", 4095, 511, request_rate=rate, ttft_target_s=X,
                            tpot_target_s=Y, percentile=0.9)
    one = genmodel.serve("llama-3.1-8b", "h100-sxm", 4095, 511, request_rate=rate, tpot_target_s=Y, percentile=0.9,
                         prefilled=True)
    least = math.ceil(rate / float(one.metrics["max_goodput_rate_per_s"]))
    assert least == 6 and d.metrics["decode_replicas"] == least + 1
    six = genmodel.serve("llama-3.1-8b", "h100-sxm", 4095, 511, request_rate=rate, tpot_target_s=Y, percentile=0.9,
                         prefilled=True, dp=6)
    assert float(six.metrics["ttft_p90_s"]) > X - d.metrics["kv_transfer_s"]
    assert float(d.decode.metrics["ttft_p90_s"]) < X - d.metrics["kv_transfer_s"]
    assert d.metrics["meets_slo"]


def test_colocated_comparison(split):
    co = split.colocated
    one = genmodel.serve(MODEL, HW, I, O, request_rate=RATE, ttft_target_s=TTFT, tpot_target_s=TPOT, percentile=Q,
                         tp=4, **COMMON)
    replicas = math.ceil(RATE / float(one.metrics["max_goodput_rate_per_s"]))
    assert co["replicas"] == replicas and co["devices"] == 4 * replicas


def test_prefilled_requests_compute_no_prompt_and_hold_their_own_kv():
    """A decode pool's request arrives with its prompt's KV: alone, its first token takes one decode step (no prompt
    compute), and each running request holds its whole prompt plus half its output in KV pages."""
    alone = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=1e-4, prefilled=True)
    static = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    # the static estimate's TTFT computes 1,024 prompt tokens; the prefilled one does not: it is a decode step
    assert float(alone.metrics["ttft_p50_s"]) < 0.5 * float(static.metrics["ttft_s"])
    assert float(alone.metrics["ttft_p50_s"]) == pytest.approx(float(static.metrics["tpot_s"]), rel=0.15)
    busy = genmodel.serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=5.0, prefilled=True)
    per_token = 32 * 8 * 128 * 2 * 2  # Llama-3.1-8B bf16 KV bytes per token
    D = 255.0  # decode steps per request; the first step computes its one new token
    held = 1023 + (0.5 + D * (1 + 128)) / (1 + D) + 16 / 2  # own prompt + new tokens + half a 16-token page
    # (each part of a request's life weighed by its time, docs/serving.md section 2: its first step, which computes
    # one token, lasts about a decode step, so weighing it as one step leaves a few parts per million)
    assert float(busy.metrics["kv_cache_bytes"]) == pytest.approx(
        float(busy.metrics["running_batch"]) * held * per_token, rel=2e-5)


@pytest.mark.parametrize("kwargs, name", [
    ({"request_rate": None}, "request_rate"), ({"ttft_target_s": None}, "ttft_target_s"),
    ({"tpot_target_s": -1.0}, "tpot_target_s"), ({"prefill": {"tq": 2}}, "prefill"),
    ({"kv_link": "pigeon"}, "kv_link"), ({"decode_replicas": 0}, "decode_replicas"),
    ({"concurrency": 4}, "concurrency"), ({"ttft_target_s": 0.001}, "ttft_target_s"),
])
def test_bad_input(kwargs, name):
    args = {"request_rate": RATE, "ttft_target_s": TTFT, "tpot_target_s": TPOT, "prefill": {"tp": 4},
            "decode": {"tp": 4}, **COMMON, **kwargs}
    with pytest.raises(ConfigurationError) as err:
        serve_disaggregated(MODEL, HW, I, O, **args)
    assert err.value.argument == name


def test_prefilled_with_a_prefix_cache_is_refused():
    with pytest.raises(ConfigurationError) as err:
        genmodel.serve("llama-3.1-8b", "h100-sxm", request_rate=1.0, prefilled=True, prefix_hit=0.5)
    assert err.value.argument == "prefilled"


def test_cli_disaggregated():
    runner = CliRunner()
    res = runner.invoke(app, ["serve", "--model", MODEL, "--hardware", HW, "--input-tokens", str(I),
                              "--request-rate", "5", "--ttft-ms", "1000", "--tpot-ms", "50", "--percentile", "90",
                              "--tp", "4", "--weight-dtype", "fp8", "--disaggregated"])
    assert res.exit_code == 0, res.output
    assert "prefill pool" in res.output and "co-located" in res.output
    for args in (["--prefill-tp", "2"], ["--disaggregated", "--request-rate", "4", "--ttft-ms", "300"],
                 ["--disaggregated", "--request-rate", "max", "--ttft-ms", "300", "--tpot-ms", "20"]):
        res = runner.invoke(app, ["serve", *args])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output


def test_fixed_pools_past_their_saturation_complete_what_the_slower_pool_does():
    # one prefill and one decode replica of Llama-3.1-8B on H100s at 200 requests/s, past both pools' saturation:
    # the pipeline completes what its slower pool completes (each pool its own saturation rate), not 200 x 256 tok/s
    r = serve_disaggregated("llama-3.1-8b", "dgx-h100", 1024, 256, request_rate=200.0, ttft_target_s=1.0,
                            tpot_target_s=0.05, prefill_replicas=1, decode_replicas=1)
    slower = min(float(r.prefill.metrics["max_request_rate_per_s"]), float(r.decode.metrics["max_request_rate_per_s"]))
    assert slower < 200.0 and not r.metrics["stable"]
    assert r.metrics["output_tokens_per_s"] == pytest.approx(slower * 256, rel=1e-12)
    assert r.metrics["output_tokens_per_s_per_device"] == pytest.approx(slower * 256 / r.metrics["devices"], rel=1e-12)
    # below saturation every request completes: 5 requests/s x 256 tokens
    ok = serve_disaggregated("llama-3.1-8b", "dgx-h100", 1024, 256, request_rate=5.0, ttft_target_s=1.0,
                             tpot_target_s=0.05)
    assert ok.metrics["stable"] and ok.metrics["output_tokens_per_s"] == pytest.approx(5.0 * 256, rel=1e-12)


def test_the_per_user_rate_is_the_decode_pools():
    # every output token after the first is decoded in the decode pool: one user's rate is 1 / its mean TPOT
    d = genmodel.serve_disaggregated("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=5, ttft_target_s=0.5,
                                     tpot_target_s=0.03)
    assert d.metrics["tokens_per_s_per_user"] * d.metrics["tpot_mean_s"] == pytest.approx(1.0)
