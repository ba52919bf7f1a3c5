"""Served traffic (genmodel.serving): limits, queueing laws, the discrete-event oracle, speculation, bad input.

Expected numbers are derived by hand from the formulas in docs/serving.md, from the static-batch estimate (an
independent code path), or from a discrete-event simulation of the same scheduler (tests/serving_oracle.py).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest

import genmodel
from genmodel.errors import ConfigurationError, GenmodelError
from genmodel.interfaces.cli import main
from genmodel.serving import steady
from genmodel.serving.queueing import (
    LogNormal,
    QueueMixture,
    Wait,
    cdf_of_sum,
    erlang_c,
    kingman_wait,
    longest_of,
    normal_isf,
    peaked_erlang_c,
    quantile_of_sum,
    queue_mixture_cdf,
    queue_mixture_quantiles,
    with_normal,
)
from genmodel.serving.serve import serve
from genmodel.serving.speculative import acceptance_from_length, tokens_per_step
from genmodel.serving.steady import (
    Load,
    Requests,
    Scheduler,
    _life_overlap,
    admission_build_up,
    finite_run_batch,
    finite_run_quantile,
    finite_run_tpot_share,
    finite_run_wait,
    prompt_chain,
    solve,
)
from tests.properties import assert_elementwise
from tests.serving_oracle import simulate

# ---- queueing formulas against textbook values ---------------------------------------------------------------


def _refused_in_one_line(capsys, command: list[str], option: str) -> None:
    """``command`` with ``--<option> 0`` and with ``--<option> 4 --disaggregated`` exits 2 with one error line naming
    the option (an interval of whole steps, at least 1, for co-located serving only)."""
    for args in ([f"--{option}", "0"], [f"--{option}", "4", "--disaggregated"]):
        assert main([*command, *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and option in err[0]


def test_erlang_c_textbook_values():
    # M/M/1: P(wait) = rho; M/M/2 with a = 1: C = a^2/2 / (1 + a + a^2/2) x c/(c - a) = (1/2)/(5/2) x 2 = 0.4?
    # by hand: B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2; C = B / (1 - rho (1 - B)) = 0.2 / (1 - 0.5 x 0.8) = 1/3
    assert erlang_c(1, 0.5) == pytest.approx(0.5)
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_c(3, 3.5) == 1.0  # unstable: everyone waits
    # the Halfin-Whitt limit continues the exact formula smoothly past its last server
    assert erlang_c(400, 380) == pytest.approx(erlang_c(401, 380 * 401 / 400), rel=0.1)
    # M/M/3 with a = 2 by hand: B(3, 2) = (8/6) / (1 + 2 + 2 + 8/6) = 4/19; C = B / (1 - (2/3)(15/19)) = 4/9
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, rel=1e-12)
    # many servers, almost no load: waiting is (numerically) impossible, without overflow warnings; arrays mix cases
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert erlang_c(300, 1e-3) == pytest.approx(0.0, abs=1e-300)
    np.testing.assert_allclose(erlang_c([1, 2, 3], [0.5, 1.0, 2.0]), [0.5, 1 / 3, 4 / 9], rtol=1e-12)
    # a few configurations run the recursion in Python floats, many in arrays: the same numbers, bit for bit
    many = erlang_c([1, 2, 3] * 4, [0.5, 1.0, 2.0] * 4)
    np.testing.assert_allclose(many, [0.5, 1 / 3, 4 / 9] * 4, rtol=1e-12)
    assert np.array_equal(many[:3], erlang_c([1, 2, 3], [0.5, 1.0, 2.0]))
    # the arrays' recursion runs each step on the configurations with that many servers or more (sorted by servers):
    # unsorted servers up to the exact formula's last, each the Python-float recursion's value bit for bit
    rng = np.random.default_rng(3)
    servers = rng.integers(1, 401, 40).astype(float)
    offered = servers * rng.uniform(0.05, 0.99, 40)
    mixed = erlang_c(servers, offered)
    assert all(mixed[i] == erlang_c(servers[i:i + 1], offered[i:i + 1])[0] for i in range(40))


def test_kingman_is_pollaczek_khinchine_for_poisson_arrivals():
    # M/D/1 with rho = 0.5, service 1 s: W = rho / (2 (1 - rho)) = 0.5 s
    assert kingman_wait(0.5, 1.0, 1.0, 0.0) == pytest.approx(0.5)
    assert np.isinf(kingman_wait(1.0, 1.0, 1.0, 0.0))


def test_a_log_normal_plus_a_normal_keeps_the_sums_three_moments():
    # docs/serving.md section 3, "End-to-end": X log-normal (mean 3, sd 1), Y normal (sd 1.5). The sum's mean is 3, its
    # variance 1 + 2.25, its third central moment X's: (cv^3 + 3 cv) sd^3 with cv = 1/3 (a log-normal's skewness)
    fit, shift = with_normal(3.0, 1.0, 2.25)
    t, sd = float(fit.cv), float(fit.mean) * float(fit.cv)
    assert float(fit.mean) + float(shift) == pytest.approx(3.0, rel=1e-12)
    assert sd**2 == pytest.approx(3.25, rel=1e-12)
    assert (t**3 + 3 * t) * sd**3 == pytest.approx(1 / 27 + 1.0, rel=1e-12)
    # against a million draws of X + Y: the fit's p50, p90, p99 within 1% (the variance-matched log-normal the
    # end-to-end latency was until history item 67 puts the p99 26% too high)
    rng = np.random.default_rng(7)
    s2 = np.log1p(1 / 9)
    draws = rng.lognormal(np.log(3.0) - s2 / 2, np.sqrt(s2), 10**6) + rng.normal(0.0, 1.5, 10**6)
    for q in (0.5, 0.9, 0.99):
        assert float(fit.ppf(q)) + float(shift) == pytest.approx(np.quantile(draws, q), rel=0.01), q
    old = LogNormal(np.asarray(3.0), np.asarray(np.sqrt(3.25) / 3.0))
    assert float(old.ppf(0.99)) > 1.2 * np.quantile(draws, 0.99)
    # no normal part: the log-normal itself, bit for bit; no spread at all: a point mass
    fit, shift = with_normal(np.array([2.0, 2.0]), np.array([0.5, 0.0]), np.array([0.0, 0.0]))
    assert list(fit.mean) == [2.0, 2.0] and list(fit.cv) == [np.sqrt(0.5) / 2.0, 0.0] and list(shift) == [0.0, 0.0]


def test_exponential_tail_quantile_by_hand():
    w = Wait(np.asarray(0.5), np.asarray(1.0))  # E[W | W > 0] = 2 s
    # P(W > t) = 0.5 exp(-t / 2) = 0.01  ->  t = 2 ln 50
    assert float(w.quantile(0.99)) == pytest.approx(2 * np.log(50))
    assert float(w.quantile(0.4)) == 0.0
    # W + a constant: the quantile moves by the constant
    assert float(quantile_of_sum(w, LogNormal(np.asarray(3.0), np.asarray(0.0)), (0.99,))[0]) == pytest.approx(
        3 + 2 * np.log(50), rel=1e-6)


# ---- speculative decoding by hand ----------------------------------------------------------------------------


def test_speculative_tokens_per_step_by_hand():
    assert tokens_per_step(3, 0.7) == pytest.approx(1 + 0.7 + 0.49 + 0.343)
    assert tokens_per_step(3, 1.0) == 4.0
    assert tokens_per_step(3, [0.8, 0.6, 0.4]) == pytest.approx(1 + 0.8 + 0.48 + 0.192)
    assert tokens_per_step(4, accepted_share=0.5) == pytest.approx(3.0)
    assert tokens_per_step(4, mean_length=2.5) == 2.5
    a = acceptance_from_length(3, 1 + 0.7 + 0.49 + 0.343)
    assert a == pytest.approx(0.7, abs=1e-9)


def test_speculation_pays_at_small_batches_and_stops_paying_at_large_ones():
    plain = serve(concurrency=[1, 256], input_tokens=1024, output_tokens=256)
    spec = serve(concurrency=[1, 256], input_tokens=1024, output_tokens=256, spec_tokens=3, spec_acceptance=0.8)
    ratio = spec.metrics["tpot_mean_s"] / plain.metrics["tpot_mean_s"]
    assert ratio[0] < 0.7  # batch 1 is bandwidth-bound: 2.95 tokens per verify step for little extra time
    assert ratio[1] > ratio[0]  # at 256 sequences the verify step's k + 1 tokens per sequence cost compute
    assert spec.metrics["tokens_per_step"][0] == pytest.approx(1 + 0.8 + 0.64 + 0.512)


# docs/formulas.md 5.1 "Attention" (history item 73 in validation.md): a decode step's attention runs every query at
# the decode stream's fraction eta_attn x attention_scale, a verify step's S = k + 1 tokens per sequence included (one
# decode kernel packs their S x (query heads per KV head) rows); a prompt step's S query tokens per sequence take
# S / (S + S_half). Before, a verify step's attention took the prompt fraction: 2 / 514 of eta at S = 2.
def test_a_verify_steps_attention_runs_at_the_decode_fraction():
    from genmodel.engine.efficiency import Physics, compute_fractions
    from genmodel.engine.operators import DTypes, build_operators

    model, hw = genmodel.get_model("deepseek-v3"), genmodel.get_hardware("h200-sxm")
    physics = Physics.of(hw)
    dtypes = DTypes("bf16", "bf16", "bf16")
    eta_c, eta_attn = 0.7, 0.6

    def attention_fractions(phase, tokens):
        context = None if phase == "prefill" else (8192.0, 8192.0)
        table = build_operators(model, phase, 4.0, float(tokens), context, dtypes)
        rows = [i for i, kind in enumerate(table.kinds) if kind == "attention"]
        return compute_fractions(table, eta_c, eta_attn, physics)[rows], table.flops[rows]

    one, flops_one = attention_fractions("decode", 1)
    for s in (2, 4):  # the same fraction for every query; the arithmetic S times one token's (S queries, same keys)
        verify, flops = attention_fractions("decode", s)
        np.testing.assert_array_equal(verify, one)
        np.testing.assert_allclose(flops, s * flops_one, rtol=1e-12)
    assert np.all(one == eta_attn)
    prompt, _ = attention_fractions("prefill", 4)  # a 4-token prompt: eta x 4 / (4 + S_half), S_half = 512 (H200)
    np.testing.assert_allclose(prompt, eta_attn * 4 / (4 + 512), rtol=1e-12)
    # one request over 8,192 tokens of context is bandwidth-bound: one MTP token at an acceptance of 0.8 (1.8 tokens
    # per step) costs its step little (the draft layer, the second query, the LM head twice), so the TPOT falls by
    # more than a quarter (9.06 -> 5.69 ms; before, 14.3 ms: the verify step took 2.8 plain steps)
    kw = dict(input_tokens=8192, output_tokens=256, concurrency=1, tp=8, weight_dtype="fp8")
    plain = serve("deepseek-v3", "dgx-h200", **kw).metrics
    mtp = serve("deepseek-v3", "dgx-h200", **kw, spec_tokens=1, spec_acceptance=0.8).metrics
    assert float(mtp["step_s"]) < 1.25 * float(plain["step_s"])
    assert float(mtp["tpot_mean_s"]) < 0.75 * float(plain["tpot_mean_s"])


# ---- limits against the static-batch estimate ----------------------------------------------------------------


def test_low_load_tends_to_the_single_request_figures():
    single = genmodel.estimate("llama-3.1-8b", "h100-sxm", 1, 1024, 256)
    light = serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=1e-4)
    # TPOT: the same decode step of one sequence; TTFT: one 1,024-token prompt (its step runs the decode-form
    # kernels, so a few per cent apart)
    assert light.tpot_mean_s == pytest.approx(single.tpot_s, rel=0.01)
    assert light.ttft_p50_s == pytest.approx(single.ttft_s, rel=0.05)
    closed = serve("llama-3.1-8b", "h100-sxm", 1024, 256, concurrency=1)
    assert closed.e2e_mean_s == pytest.approx(single.e2e_latency_s, rel=0.05)
    assert closed.request_rate_per_s == pytest.approx(1 / closed.e2e_mean_s)


def test_percentiles_are_ordered_and_latency_grows_without_bound_at_saturation():
    top = serve(request_rate="max").max_request_rate_per_s
    loads = np.array([0.1, 0.5, 0.9, 0.99]) * top
    r = serve(request_rate=loads, input_cv=0.5, output_cv=0.3)
    m = r.metrics
    for name in ("ttft", "e2e", "tpot", "itl"):
        assert np.all(m[f"{name}_p99_s"] >= m[f"{name}_p90_s"] - 1e-12)
        assert np.all(m[f"{name}_p90_s"] >= m[f"{name}_p50_s"] - 1e-12)
    assert np.all(np.diff(m["ttft_p99_s"]) > 0)
    assert m["ttft_p99_s"][-1] > 3 * m["ttft_p99_s"][0]
    past = serve(request_rate=1.01 * top)
    assert not past.stable and np.isinf(past.metrics["ttft_p50_s"])
    assert past.to_dict()["ttft_p50_s"] is None  # JSON: unbounded is null


def test_past_saturation_the_engine_completes_its_saturated_rate(capsys):
    # the queue grows, not the throughput: a replica completes at most mu requests/s whatever arrives, so the
    # throughput is mu x 256 output tokens (and mu x 1,280 tokens in all); the offered rate is kept in the utilization
    top = serve(request_rate="max").max_request_rate_per_s
    # (far: the largest rate serve takes, a billion requests/s: docs/serving.md section 9)
    below, past, far = (serve(request_rate=rate) for rate in (0.5 * top, 6.0 * top, 1e9))
    assert below.metrics["output_tokens_per_s"] == pytest.approx(0.5 * top * 256, rel=1e-12)
    for r, offered in ((past, 6.0), (far, 1e9 / top)):
        m = r.metrics
        assert not r.stable and np.isinf(m["ttft_p50_s"])
        assert m["request_rate_per_s"] == pytest.approx(top, rel=1e-12)
        assert m["output_tokens_per_s"] == pytest.approx(top * 256, rel=1e-12)
        assert m["total_tokens_per_s"] == pytest.approx(top * 1280, rel=1e-12)
        assert m["utilization"] == pytest.approx(offered, rel=1e-12)
    # the command line prints it, a rate far past saturation as a multiple of the saturation rate
    assert main(["serve", "--request-rate", "1e9"]) == 0
    out = capsys.readouterr().out
    assert f"{top * 256:,.1f} output tok/s" in out and f"utilization {1e9 / top:,.3g}x" in out


def test_tail_latencies_do_not_fall_as_the_load_rises():
    """A step is jagged in its decode batch: Llama-3.1-8B's decode step on an H100 under vLLM lasts 13% longer at 65
    sequences than at 64 (a 72-sequence graph, a second 64-row GEMM tile). The TPOT spread reads the step's mean slope
    (docs/serving.md section 3), so the TPOT and end-to-end percentiles rise with the load; a local difference across
    such a jump made the p99s fall by 22% (TPOT) and 27% (end-to-end) as the load rose past it."""
    one = genmodel.estimate(batch=64)
    assert genmodel.estimate(batch=65).tpot_s > 1.1 * one.tpot_s  # the jump the test is about
    top = serve(request_rate="max").max_request_rate_per_s
    m = serve(request_rate=np.linspace(0.5, 0.99, 99) * top).metrics
    for name in ("tpot_p90_s", "tpot_p99_s", "e2e_p90_s", "e2e_p99_s"):
        assert np.all(np.diff(m[name]) >= -0.005 * m[name][1:]), name


def test_littles_law_running_batch_is_rate_times_time_in_service():
    r = serve(request_rate=[2.0, 6.0, 10.0])
    m = r.metrics
    in_service = m["e2e_mean_s"] - m["queue_wait_mean_s"]
    np.testing.assert_allclose(m["running_batch"], m["request_rate_per_s"] * in_service, rtol=0.1)


def test_arrays_match_single_calls():
    many = serve(request_rate=[1.0, 8.0], input_tokens=[512, 2048])
    for i, (rate, length) in enumerate(((1.0, 512), (8.0, 2048))):
        one = serve(request_rate=rate, input_tokens=length)
        assert many.metrics["ttft_p99_s"][i] == pytest.approx(one.ttft_p99_s, rel=1e-6)
        assert many.metrics["tpot_mean_s"][i] == pytest.approx(one.tpot_mean_s, rel=1e-6)


def test_prefix_hits_cut_ttft_and_dp_replicas_share_the_rate():
    cold = serve(request_rate=4.0, input_tokens=4096)
    warm = serve(request_rate=4.0, input_tokens=4096, prefix_hit=0.75)
    assert warm.ttft_p50_s < 0.5 * cold.ttft_p50_s
    one = serve(request_rate=4.0)
    two = serve(request_rate=8.0, dp=2)  # two replicas, each at 4 requests/s
    assert two.tpot_mean_s == pytest.approx(one.tpot_mean_s, rel=1e-9)
    assert two.output_tokens_per_s == pytest.approx(2 * one.output_tokens_per_s)
    assert two.output_tokens_per_s_per_device == pytest.approx(one.output_tokens_per_s_per_device)


def test_saturation_names_what_binds():
    # a 2,048-token budget with 8k prompts: the budget binds before 256 sequences or the KV cache do
    budget = serve(request_rate="max", input_tokens=8192, output_tokens=64, max_batch_tokens=2048)
    assert budget.bottleneck in ("token budget", "compute")
    seqs = serve(request_rate="max", input_tokens=128, output_tokens=128, max_seqs=8)
    assert seqs.bottleneck == "max sequences"
    assert seqs.running_batch == pytest.approx(8, rel=0.01)
    kv = serve("llama-3.1-70b", "h200-sxm", 8192, 4096, request_rate="max", weight_dtype="fp8", max_seqs=4096)
    assert kv.bottleneck in ("kv memory", "compute")
    assert kv.kv_cache_bytes == pytest.approx(kv.kv_capacity_bytes, rel=0.02)


def test_what_binds_is_compute_where_prompt_work_fills_most_of_the_saturated_time():
    # llama.cpp on a Xeon, 4 sequences at most: a prompt's steps are compute-bound, the decode steps memory-bound
    # (estimate's own phase labels); a saturated engine spends, per request, its share of a batch-4 prefill and of
    # 4-sequence decode steps, so compute binds where the prompts take more than half of that time. From estimate:
    # prompt share TTFT / (TTFT + (O - 1) TPOT) at batch 4 is 0.77 with 64 output tokens, 0.35 with 384 (named
    # 'compute' before history item 63, from one step holding every running decode and a whole prompt), 0.17 with
    # 1,024
    for output, expected in ((64, "compute"), (384, "max sequences"), (1024, "max sequences")):
        e = genmodel.estimate("llama-3.1-8b", "xeon-6980p", batch=4, input_tokens=1024, output_tokens=output,
                              engine="llamacpp")
        assert e.metrics["prefill_bound"] == "compute" and e.metrics["bound"] == "memory"
        share = e.ttft_s / (e.ttft_s + (output - 1) * e.tpot_s)
        assert (share > 0.5) == (expected == "compute") and abs(share - 0.5) > 0.15
        sat = serve("llama-3.1-8b", "xeon-6980p", 1024, output, engine="llamacpp", request_rate="max")
        assert sat.running_batch == pytest.approx(4.0) and str(sat.bottleneck) == expected


@pytest.mark.parametrize("key, value", [("concurrency", 16), ("request_rate", 20.0)])
def test_figures_do_not_hang_on_which_steps_share_a_call(key, value):
    # one configuration stacks the saturated steps into its last step call (and, at a request rate, leaves out the
    # rows it already has); an array of loads takes them in calls of their own: the same figures, bit for bit
    other = 64 if key == "concurrency" else 0.01  # (a light load: its step holds one sequence, the row is needed)
    one = serve(**{key: value}).metrics
    both = serve(**{key: [value, other]}).metrics
    assert_elementwise(one, both, 0, rtol=0.0)  # (rtol 0, atol 0: equal, NaN equal to NaN)


def test_a_closed_loop_of_exactly_the_cap_does_not_hang_on_the_last_bits_of_the_saturated_load(monkeypatch):
    # 32 clients of identical requests under a 32-sequence cap all run at once and re-send in waves. The cap they are
    # compared with is the saturated load's running count, which the bisection leaves a rounding below 32; with 41
    # halvings instead of 60 (x_max about 1e-12 lower) the waves were once dropped and the TTFT fell 1,035 -> 202 ms
    # (docs/serving.md section 5). The figures must not move by more than that rounding.
    kw = dict(tp=4, weight_dtype="fp8", max_seqs=32, concurrency=32, num_requests=640, synchronized=True)
    full = serve("qwen3-235b-a22b", "rtx-pro-6000-blackwell", 1024, 256, **kw).metrics
    real = steady.saturation
    monkeypatch.setattr(steady, "saturation", lambda r, s: real(r, s, iterations=41))
    fewer = serve("qwen3-235b-a22b", "rtx-pro-6000-blackwell", 1024, 256, **kw).metrics
    for name in ("ttft_mean_s", "ttft_p99_s", "tpot_mean_s", "request_rate_per_s", "queue_wait_mean_s"):
        np.testing.assert_allclose(fewer[name], full[name], rtol=1e-6, atol=1e-12, err_msg=name)


def test_targets_give_goodput_and_the_largest_rate_meeting_them():
    r = serve(request_rate=[1.0, 12.0], ttft_target_s=0.2, tpot_target_s=0.02, percentile=90)
    m = r.metrics
    assert m["meets_slo"][0] and not m["meets_slo"][1]
    assert m["goodput_requests_per_s"][0] == pytest.approx(1.0, rel=0.02)
    best = m["max_goodput_rate_per_s"][0]
    assert 1.0 < best < 12.0
    at = serve(request_rate=best * 0.98, ttft_target_s=0.2, tpot_target_s=0.02, percentile=90)
    assert at.meets_slo


# ---- the discrete-event oracle -------------------------------------------------------------------------------
A_S, B_S, C_S = 0.010, 1e-4, 5e-5  # synthetic step: 10 ms + 0.1 ms per decoding sequence + 50 us per prompt token


def _step(n, p):
    return A_S + B_S * np.asarray(n) + C_S * np.asarray(p)


# stated tolerances (docs/serving.md section 6): means are close; the closed-form TTFT tails are lighter than the
# simulated ones, most at p99 near saturation; the TPOT and end-to-end P99 within 4% (before history item 70, which
# gave the TPOT spread the arrivals' feedback on the steps they lengthen, up to 20% and 22% short at 0.9 of mu)
TOLERANCE = {"throughput": 0.04, "tpot_mean": 0.03, "ttft_p50": 0.25, "ttft_p90": 0.2, "ttft_p99": 0.4,
             "tpot_p99": 0.1, "itl_p99": 0.25, "e2e_p99": 0.1}


def _curved_step(n, p):
    """A step that bends in the load: 10 ms, 2 us x n^1.5 for the decoding sequences, 50 us per prompt token."""
    return A_S + 2e-6 * np.asarray(n) ** 1.5 + C_S * np.asarray(p)


@pytest.mark.parametrize("separate", [False, True])
def test_the_open_loop_load_carries_the_offered_rate(separate):
    # docs/serving.md section 2: the open loop's load x solves x = lambda t(x), t the time-average step
    # (1 - pi) step(max(n, 1), 0) + pi step(n, p_s); each term by hand from the section's definitions: D = O - 1,
    # n = x D (x D / (1 - pi) with prefill steps apart), B_p = min(C, T - n) (C with steps apart), k_p = ceil(I / B_p),
    # pi = max(1 - exp(-x k_p), x I / B_p), p_s = x I / pi. The solved x is read back from decode_batch (n). The load
    # grid's linear interpolation of lambda(x) missed this step's rate by up to 3.9% between its nodes (1.0% with
    # prefill steps apart).
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
    top = float(solve(_curved_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    rates = np.linspace(0.02, 0.97, 40) * top
    m = solve(_curved_step, req, sched, Load("rate", rates)).metrics
    D = O - 1.0
    n = m["decode_batch"]
    pi_guess = np.zeros_like(n)
    for _ in range(200):  # with steps apart n = x D / (1 - pi) and pi depends on x: a fixed point, by hand
        x = n * (1 - pi_guess) / D if separate else n / D
        budget = T if separate else np.minimum(T, T - n)
        kp = np.ceil(I / budget)
        pi = np.maximum(1 - np.exp(-x * kp), x * I / budget)
        pi_guess = pi
    t = (1 - pi) * _curved_step(np.maximum(n, 1.0), 0.0) + pi * _curved_step(0.0 if separate else n, x * I / pi)
    np.testing.assert_allclose(x / t, rates, rtol=2e-3)


@pytest.mark.parametrize("load", [0.1, 0.3, 0.5, 0.7, 0.9])
def test_closed_form_agrees_with_the_discrete_event_simulation(load):
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    rate = load * top
    m = solve(_step, req, sched, Load("rate", rate)).metrics
    sim = simulate(_step, rate, I, O, budget=T, chunk=T, max_seqs=10**9, requests=5000)
    measured = {"throughput": float(sim["throughput"]), "tpot_mean": sim["tpot"].mean(),
                "ttft_p50": np.percentile(sim["ttft"], 50), "ttft_p90": np.percentile(sim["ttft"], 90),
                "ttft_p99": np.percentile(sim["ttft"], 99), "tpot_p99": np.percentile(sim["tpot"], 99),
                "itl_p99": np.percentile(sim["itl"], 99), "e2e_p99": np.percentile(sim["e2e"], 99)}
    closed = {"throughput": m["request_rate_per_s"], "tpot_mean": m["tpot_mean_s"], "ttft_p50": m["ttft_p50_s"],
              "ttft_p90": m["ttft_p90_s"], "ttft_p99": m["ttft_p99_s"], "tpot_p99": m["tpot_p99_s"],
              "itl_p99": m["itl_p99_s"], "e2e_p99": m["e2e_p99_s"]}
    for key, tol in TOLERANCE.items():
        assert float(closed[key]) == pytest.approx(measured[key], rel=tol), key


def _on_the_engines_step(monkeypatch, model, hardware, I, O, kw, share=None, requests=3000, clients=None,
                         headroom=4.0, output_cv=0.0):
    """(serve's metrics, the discrete-event simulation's) at ``share`` of the saturation rate (Poisson arrivals) or
    with ``clients`` in a closed loop (re-sending 1 ms after their last token), the simulation run
    (tests/serving_oracle.py) on the very step function serve solves with; the running batch at most a ``headroom``-th
    of the sequences the KV cache holds (the simulation has no KV cap); ``output_cv``: outputs spread (log-normal) in
    both."""
    from genmodel.serving import serve as serve_module

    captured = {}
    real_solve = serve_module.solve

    def recording_solve(step, req, sched, *args, **kwargs):
        captured.update(step=step, sched=sched)
        return real_solve(step, req, sched, *args, **kwargs)

    monkeypatch.setattr(serve_module, "solve", recording_solve)
    if clients is None:
        mu = float(serve(model, hardware, I, O, **kw, request_rate="max").metrics["max_request_rate_per_s"])
        m = serve(model, hardware, I, O, **kw, request_rate=share * mu, output_cv=output_cv).metrics
    else:
        m = serve(model, hardware, I, O, **kw, concurrency=clients, output_cv=output_cv).metrics
    step, sched = captured["step"], captured["sched"]
    seqs = float(np.min(sched.kv_capacity_tokens)) / (I + O)
    assert float(m["running_batch"]) < seqs / headroom  # (the simulation has no KV cap: far from it here)
    memo: dict[tuple[int, int], float] = {}

    def one_step(n, p):  # (the simulation asks for one step at a time, with whole counts: each pair timed once)
        key = (int(n), int(p))
        if key not in memo:
            memo[key] = float(np.ravel(step(np.array([float(n)]), np.array([float(p)])))[0])
        return memo[key]

    budget = int(np.ravel(sched.max_batch_tokens)[0])
    closed = {} if clients is None else {"concurrency": clients, "client_delay": 0.001}
    max_seqs = float(np.ravel(sched.max_seqs)[0])
    sim = simulate(one_step, 1.0 if clients else share * mu, I, O, budget=budget,
                   chunk=int(np.ravel(sched.chunk_tokens)[0]), max_seqs=int(min(max_seqs, 10**9)),
                   requests=requests, separate=not sched.mixed, output_cv=output_cv, **closed)
    return m, sim


def test_tpot_tail_near_saturation_agrees_with_the_simulation_on_an_engine_step(monkeypatch):
    # docs/serving.md section 3: with mixed steps the prompt chunks' share of the TPOT spread is the mean step's rise
    # to the chunks' upper quantile over a request's life, where a step carries at most its budget B_p; the expected
    # figure is the discrete-event simulation's (tests/serving_oracle.py) run on the very step function serve solves
    # with (Llama-3.1-8B, one H100, vLLM, 1,852 + 19 tokens, Poisson arrivals at 95% of saturation): its TPOT p99 is
    # the step with a full budget, 234 ms. The former secant c = (t_s - t_d)/p_s times the chunks' standard deviation,
    # stretched by the steps' correlation with no budget, put it at 367 ms (docs/validation.md history item 66).
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "h100-sxm", 1852, 19, {"engine": "vllm"}, 0.95)
    assert float(m["tpot_p99_s"]) == pytest.approx(np.percentile(sim["tpot"], 99), rel=0.1)


@pytest.mark.parametrize("engine, I, O", [("vllm", 512, 128), ("sglang", 1024, 256)])
def test_tpot_tails_near_saturation_carry_the_arrivals_feedback_on_an_engine_step(monkeypatch, engine, I, O):
    # docs/serving.md section 3 (history items 70 and 71): a burst of arrivals brings prompt work into a request's
    # steps (vLLM) or prefill steps that stall them (SGLang, prefill steps apart) and decoding sequences after it, and
    # each step it lengthens lets more arrivals in, so a request's life varies far more than independent counts say.
    # Llama-3.1-8B, one H100, Poisson arrivals at 90% of saturation; the expected figures are the discrete-event
    # simulation's on the very step serve solves with (20,000 requests; the KV cache holds 701 and 351 running, the
    # runs hold 256 and 167). vLLM, 512 + 128 tokens: TPOT P90 63.7 ms, P99 72.9 ms, end-to-end P99 9.41 s; before
    # history item 70 the closed form gave 56.2, 60.7 ms and 7.80 s (12%, 17% and 17% short), with it 64.8, 76.2 ms and
    # 9.78 s. SGLang, 1,024 + 256: 57.3, 64.6 ms and 16.56 s; before history item 71 48.6, 51.1 ms and 13.09 s (15%,
    # 21% and 21% short), with it 55.7, 64.0 ms and 16.39 s.
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "h100-sxm", I, O, {"engine": engine}, 0.9,
                                  requests=20000, headroom=2.0)
    assert float(m["tpot_p90_s"]) == pytest.approx(np.percentile(sim["tpot"], 90), rel=0.08)
    assert float(m["tpot_p99_s"]) == pytest.approx(np.percentile(sim["tpot"], 99), rel=0.08)
    assert float(m["e2e_p99_s"]) == pytest.approx(np.percentile(sim["e2e"], 99), rel=0.08)


@pytest.mark.parametrize("I, O, share", [(16, 2, 0.25), (1024, 256, 0.95)])
def test_a_prompt_token_on_separate_prefill_steps_costs_the_steps_slope_on_an_engine_step(monkeypatch, I, O, share):
    # docs/serving.md section 3 (history item 91): with prefill steps apart (SGLang) a prompt token costs the prefill
    # step's slope, 2 (t_s - t_half) / p_s (t_half: the step with half its p_s prompt tokens), not (t_s - t_d) / p_s,
    # which took a decode step's time off a step that holds none: an eager prefill step's whole host time became prompt
    # work at light load (the decode steps replay graphs), and a growing decode step's time came off it near
    # saturation. Llama-3.1-8B, one H100, SGLang, Poisson arrivals; the expected figures are the discrete-event
    # simulation's on the very step serve solves with (20,000 requests, seeds 1 and 2). 16 + 2 tokens at 0.25 of
    # saturation: simulated TTFT mean 28.3 ms, P90 36.4 ms, P99 38.2 ms; before, 34.5, 51.2 and 74.5 ms (+22%, +40%,
    # +95%), now 28.0, 34.6 and 41.7 ms. 1,024 + 256 at 0.95: simulated 70.4-70.9, 109.6-111.3 and 169.9-174.2 ms;
    # before, 63.0, 79.6 and 104.2 ms (-11%, -28%, -39%), now 77.7, 122.9 and 201.0 ms (+10%, +10 to +12%, +15 to +18%)
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "h100-sxm", I, O, {"engine": "sglang"}, share,
                                  requests=20000, headroom=1.05)
    assert float(m["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.12)
    assert float(m["ttft_p90_s"]) == pytest.approx(np.percentile(sim["ttft"], 90), rel=0.15)
    assert float(m["ttft_p99_s"]) == pytest.approx(np.percentile(sim["ttft"], 99), rel=0.25)


def test_a_closed_loop_on_separate_prefill_steps_gets_its_ttft_tail_from_the_steps_slope(monkeypatch):
    # docs/serving.md section 5 (history item 91): SGLang's closed loop of 128 clients (Llama-3.1-8B, one H100,
    # 1,024 + 256 tokens, outputs spread by cv 0.4, clients re-sending 1 ms after their last token) against the
    # simulation of the very step serve solves with (20,000 requests; seeds 1-3 give the same figures to 1%): TTFT
    # mean 71.1 ms, P90 105.7 ms, P99 146.4 ms. While a prompt token cost (t_s - t_d) / p_s the closed form gave 56.2,
    # 76.3 and 100.7 ms (-21%, -28%, -31%); with the prefill step's slope 64.3, 99.7 and 152.4 ms (-10%, -6%, +4%)
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "h100-sxm", 1024, 256, {"engine": "sglang"},
                                  requests=20000, clients=128, headroom=2.0, output_cv=0.4)
    assert float(m["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.15)
    for q in (90, 99):
        assert float(m[f"ttft_p{q}_s"]) == pytest.approx(np.percentile(sim["ttft"], q), rel=0.15), q


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_the_mean_tpot_is_littles_count_over_the_rate_on_an_engine_step(monkeypatch, engine):
    # docs/serving.md section 3, "The mean TPOT over requests" (history item 72): Little's law reads the time-average
    # decoding count, lambda D TPOT, which exceeds the steps' mean n by the count's size bias kappa (beta J0 + alpha J1)
    # (genmodel.serving.cascade.size_bias). Llama-3.1-8B, one H100, 4,096 + 256 tokens, Poisson arrivals at 80% of
    # saturation, mixed steps (vLLM) and prefill steps apart (SGLang); the expected figure is the discrete-event
    # simulation's mean TPOT on the very step serve solves with (8,000 requests: 32.2 ms with either scheduler).
    # Before the bias the closed form gave 29.7 and 29.5 ms (8% short), with it 32.5 and 32.2 ms; its median, the
    # tagged request's centre, stays 29.7 and 29.5 ms.
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "h100-sxm", 4096, 256, {"engine": engine}, 0.8,
                                  requests=8000, headroom=2.0)
    assert float(m["tpot_mean_s"]) == pytest.approx(sim["tpot"].mean(), rel=0.05)
    assert float(m["tpot_p50_s"]) < float(m["tpot_mean_s"])  # (the quantiles keep the tagged request's centre)


def test_few_outputs_behind_long_prompts_wait_out_the_prompt_work_after_their_own(monkeypatch):
    # docs/serving.md section 3, "The mean TPOT over requests": with prefill steps apart (SGLang) a request's few decode
    # steps wait out the prompts that arrived during its own prefill and the prompts those let in, the prompt work's
    # covariance with the decoding count (alpha J1 of the size bias; with mixed steps its share is the echo). Llama-3.1-
    # 8B, one H100, 2,165 + 6 tokens, Poisson arrivals at 60% of saturation: the simulation on the engine's own step
    # gives a mean TPOT of 49.0 ms (6,000 requests); the closed form gave 20.5 ms before history item 72, now 44.9 ms
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "h100-sxm", 2165, 6, {"engine": "sglang"}, 0.6,
                                  requests=6000)
    assert float(m["tpot_mean_s"]) == pytest.approx(sim["tpot"].mean(), rel=0.15)


@pytest.mark.parametrize("hardware, I, O", [("xeon-6980p", 2257, 4), ("rtx-4090", 3340, 2)])
def test_long_prompts_with_few_outputs_decode_in_their_prompts_echo(monkeypatch, hardware, I, O):
    # docs/serving.md section 3: the prompts that arrive during a request's own prompt steps wait for its first decode
    # steps, so with long prompts and few outputs its decode steps carry prompt chunks far more often than the
    # stationary share says. llama.cpp (4 sequences, a 2,048-token budget), Llama-3.1-8B at half the saturation rate;
    # the expected mean TPOT is the discrete-event simulation's on the engine's own step (Xeon 6980P: 1.36 s;
    # RTX 4090, one decode step: 190 ms). Without the echo (before history item 68) the closed form gave 84 ms and
    # 44 ms; with it 1.05 s and 230 ms.
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", hardware, I, O, {"engine": "llamacpp"}, 0.5)
    assert float(m["tpot_mean_s"]) == pytest.approx(sim["tpot"].mean(), rel=0.3)


@pytest.mark.parametrize("clients", [2, 4])
def test_a_closed_loop_bound_by_its_prompt_budget_serves_its_saturation_rate(monkeypatch, clients):
    # docs/serving.md section 3: a closed loop's step lies between its decode step and the step with a full budget,
    # so its variance is at most (mean - t_d)(t_max - mean) (Bhatia-Davis). llama.cpp on a Xeon 6980P (4 sequences, a
    # 2,048-token budget), Llama-3.1-8B, 2,257 + 4 tokens: the prompts bind, and the simulation on the engine's own
    # step serves 0.169 and 0.170 requests/s with 2 and 4 clients (one prompt's 5.9 s of budget steps each). Before
    # history item 69 the unbounded step variance put the rest of the step in progress at 59 s and the closed form at
    # 0.092 and 0.050 requests/s (0.171 with 8 clients, past the cap).
    m, sim = _on_the_engines_step(monkeypatch, "llama-3.1-8b", "xeon-6980p", 2257, 4, {"engine": "llamacpp"},
                                  clients=clients, requests=400)
    assert float(m["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=0.15)
    assert float(m["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.35)


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("load, k", [(0.3, 4), (0.3, 10), (0.7, 4), (0.7, 10)])
def test_gaps_of_streamed_chunks_agree_with_the_simulation(separate, load, k):
    # a server that streams k tokens per chunk: a client's gaps span k decode steps, with the prompt chunks riding in
    # them (mixed: Poisson over k steps) or the prefill steps stalling them (separate: negative binomial). Against the
    # simulated requests' gaps summed k at a time (the last chunk of a request the rest): P50 within 35%, P90 within
    # 30%, P99 within 45% (-42% at worst, lighter as the per-token gaps' P99 is: -21% to -52% on these runs)
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), stream_interval=k)
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", load * top)).metrics
    sim = simulate(_step, load * top, I, O, budget=T, chunk=T, max_seqs=10**9, requests=3000, separate=separate)
    chunks = np.concatenate([np.add.reduceat(g, np.arange(0, len(g), k)) for g in sim["gaps"] if len(g)])
    for q, tol in ((50, 0.35), (90, 0.30), (99, 0.45)):
        assert float(m[f"itl_p{q}_s"]) == pytest.approx(np.percentile(chunks, q), rel=tol), q
    # the other figures are the engine's own, whatever the client sees
    plain = solve(_step, Requests(np.asarray(float(I)), np.asarray(float(O))), sched, Load("rate", load * top)).metrics
    for key in ("ttft_p99_s", "tpot_p99_s", "e2e_p99_s", "request_rate_per_s"):
        assert float(m[key]) == float(plain[key]), key


def test_a_gap_of_k_tokens_by_hand():
    # one client, nothing else running: no prompt rides in a decode step, so every gap is k plain decode steps,
    # 10 ms + 0.1 ms for the one sequence = 10.1 ms each (both schedulers)
    for mixed in (True, False):
        sched = Scheduler(2048, 2048, np.inf, np.asarray(1e12), 1.0, mixed=mixed)
        for k in (1, 3, 10):
            m = solve(_step, Requests(np.asarray(512.0), np.asarray(64.0), stream_interval=k), sched,
                      Load("concurrency", 1.0)).metrics
            for q in ("p50", "p99"):
                assert float(m[f"itl_{q}_s"]) == pytest.approx(k * 0.0101, rel=1e-12), (mixed, k, q)


def test_stream_interval_is_checked_and_reaches_the_command_line(capsys):
    for bad in (0, 1.5, -2, float("nan"), "ten", [2, 3]):
        with pytest.raises(GenmodelError, match="stream_interval"):
            serve(request_rate=2.0, stream_interval=bad)
    with pytest.raises(ConfigurationError, match="synchronized"):
        serve(concurrency=4, synchronized=True, stream_interval=4)
    with pytest.raises(ConfigurationError, match="speculative"):
        serve(request_rate=2.0, spec_tokens=2, spec_acceptance=0.7, stream_interval=4)
    one, ten = serve(request_rate=2.0), serve(request_rate=2.0, stream_interval=10)
    assert ten.settings["stream_interval"] == 10 and one.settings["stream_interval"] == 1
    assert float(ten.metrics["itl_p50_s"]) > 5 * float(one.metrics["itl_p50_s"])
    assert float(ten.metrics["tpot_p50_s"]) == float(one.metrics["tpot_p50_s"])
    assert main(["serve", "--request-rate", "2", "--stream-interval", "10"]) == 0
    out = capsys.readouterr().out
    assert "gap per 10-token chunk" in out and f"{float(ten.metrics['itl_p99_s']) * 1e3:,.3f} ms" in out
    _refused_in_one_line(capsys, ["serve", "--request-rate", "2"], "stream-interval")


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("load, interval", [(("concurrency", 4), 10), (("concurrency", 16), 10),
                                            (("concurrency", 4), 30), (("rate", 0.3), 30), (("rate", 0.7), 30)])
def test_an_intake_every_n_decode_steps_agrees_with_the_simulation(separate, load, interval):
    # docs/serving.md section 3: a server that takes new requests in only every N decode steps (SGLang's
    # --scheduler-recv-interval) makes an arrival during decoding wait for the next intake, at its place in the
    # cycle, then for the prompts taken in with it that arrived before it. Against the simulation of that rule (its
    # counter: +1 per decode step, +N per step with prompt tokens, an idle engine at once; 512 + 128 tokens, outputs
    # of cv 0.3): TTFT mean within 10%, P50 within 10%, P90 within 10%, P99 within 15%, throughput within 5%
    # (measured: mean -3.3% to +8.6%, P50 -5.4% to +8.8%, P90 -2.7% to +8.3%, P99 -10.9% to +4.9%, throughput -2.7%
    # to +4.6%). Before history item 91 an open loop's arrivals during the intake's prompt steps waited for nothing
    # more and, with prefill steps apart, the run of prompt steps left out the prompts arriving during it: mean -10.3%
    # with mixed steps at 0.7 of saturation, P50 +13.4% (+24.5% with the prefill step's slope alone) and P90 +13.2% on
    # separate ones. The mean TTFT goes from 42-81 ms without the intake to 93-348 ms with it
    I, O, T = 512, 128, 2048
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
    mode, value = load
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=0.3, recv_interval=interval)
    if mode == "rate":
        plain = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=0.3)
        top = float(solve(_step, plain, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
        m = solve(_step, req, sched, Load("rate", value * top)).metrics
        sim = simulate(_step, value * top, I, O, budget=T, chunk=T, max_seqs=10**9, requests=3000, separate=separate,
                       output_cv=0.3, recv_interval=interval)
    else:
        m = solve(_step, req, sched, Load("concurrency", float(value))).metrics
        sim = simulate(_step, 0.0, I, O, budget=T, chunk=T, max_seqs=10**9, requests=2000, concurrency=value,
                       separate=separate, output_cv=0.3, recv_interval=interval)
    ttft = sim["ttft"]
    assert float(m["ttft_mean_s"]) == pytest.approx(ttft.mean(), rel=0.10)
    for q, tol in ((50, 0.10), (90, 0.10), (99, 0.15)):
        assert float(m[f"ttft_p{q}_s"]) == pytest.approx(np.percentile(ttft, q), rel=tol), q
    assert float(m["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=0.05)


def test_the_intake_wait_by_hand():
    # steady._Intake (docs/serving.md section 3). Without other prompts the wait at place p is the rest of the cycle,
    # span (1 - p): uniform on [0, span], so with half the arrivals waiting its quantile 0.75 is span / 2 and its mean
    # share x span / 2. With a bunch: 0.01 s step in progress + 0.09 s of span at 20,000 prompt tokens/s is 2,000
    # tokens; a 512-token chunk leaves 1,536 of a 2,048-token budget; at 10 us per token and 8 ms per step. At p = 0
    # nobody is ahead: 90 ms to the intake + 1,536 behind it in the room x 10 us, less the 200 tokens x 10 us a Poisson
    # step holds (2 ms): 90 + 15.36 - 2 = 103.36 ms. At p = 1: 2,000 ahead, 1,536 in its step's room (15.36 ms), 464 in
    # whole steps of 8 + 20.48 ms per 2,048 tokens (6.452 ms), none behind: 0 + 21.812 - 2 = 19.812 ms
    from genmodel.serving.steady import _Intake

    alone = _Intake(np.asarray(0.5), np.asarray(0.09), np.asarray(0.01), np.asarray(0.0), np.asarray(512.0),
                    np.asarray(2048.0), np.asarray(1e-5), np.asarray(0.008))
    assert float(alone.at(0.25)) == pytest.approx(0.0675, rel=1e-12)
    q = alone.quantiles(np.array([0.25, 0.5, 0.75, 1.0]), ())
    assert q[0] == 0.0 and q[1] == 0.0
    assert float(q[2]) == pytest.approx(0.045, rel=1e-12) and float(q[3]) == pytest.approx(0.09, rel=1e-12)
    assert float(alone.mean_s) == pytest.approx(0.5 * 0.045, rel=1e-12)
    bunch = _Intake(np.asarray(1.0), np.asarray(0.09), np.asarray(0.01), np.asarray(20000.0), np.asarray(512.0),
                    np.asarray(2048.0), np.asarray(1e-5), np.asarray(0.008))
    assert float(bunch.at(0.0)) == pytest.approx(0.09 + 0.01536 - 0.002, rel=1e-12)
    assert float(bunch.at(1.0)) == pytest.approx(0.01536 + 464 * (0.008 + 0.02048) / 2048 - 0.002, rel=1e-12)
    # arrivals during the intake's prompt steps (history item 91): a share 0.25 waits uniform on [0, 0.1 s], beside
    # the half that waits W uniform on [0, 0.09 s] (alone, above) and the quarter that waits nothing. The distribution
    # at w up to 0.09 s is 0.25 + w (2.5 + 50 / 9) (0.25 + 0.25 w / 0.1 + 0.5 w / 0.09): 0.5 at 31.03 ms, 0.75 at
    # 62.07 ms, 0.9 at 80.69 ms, 0.975 at 0.09 s; past it 0.75 + 0.25 w / 0.1. The mean 0.5 x 0.045 + 0.25 x 0.05
    both = _Intake(np.asarray(0.5), np.asarray(0.09), np.asarray(0.01), np.asarray(0.0), np.asarray(512.0),
                   np.asarray(2048.0), np.asarray(1e-5), np.asarray(0.008), np.asarray(0.25), np.asarray(0.1))
    rate = 2.5 + 50 / 9
    q = both.quantiles(np.array([0.2, 0.25, 0.5, 0.75, 0.9, 0.99]), ())
    assert q[0] == 0.0 and q[1] == 0.0
    for got, level in zip(q[2:5], (0.5, 0.75, 0.9), strict=True):
        assert float(got) == pytest.approx((level - 0.25) / rate, rel=1e-9), level
    # 0.99: past W's 0.09 s the distribution is 0.75 + 0.25 w / 0.1: 0.99 at 96 ms
    assert float(q[5]) == pytest.approx(0.096, rel=1e-9)
    assert float(both.mean_s) == pytest.approx(0.5 * 0.045 + 0.25 * 0.05, rel=1e-12)
    # beside it in one call, a configuration whose run is one step (after_s 0): its prefill run's arrivals wait nothing
    # more, so its quantiles are those without them (alone's: 0 up to 0.5, then W uniform on [0, 0.09 s])
    pair = _Intake(*(np.array([v, v]) for v in (0.5, 0.09, 0.01, 0.0, 512.0, 2048.0, 1e-5, 0.008, 0.25)),
                   np.array([0.1, 0.0]))
    levels = np.array([0.4, 0.5, 0.75, 0.9, 0.99])
    q = pair.quantiles(levels, (2,))
    np.testing.assert_allclose(q[:, 0], both.quantiles(levels, ()), rtol=1e-12)
    np.testing.assert_allclose(q[:, 1], alone.quantiles(levels, ()), rtol=1e-9, atol=1e-15)


def test_an_intake_interval_leaves_what_it_does_not_touch_alone():
    # N = 1 is the server without the rule (every figure the same); one client finds the engine idle (taken in at
    # once: the TTFT as it is), as an offline run's requests do (all in from the start); the TPOT and the gaps do not
    # depend on when a prompt starts
    sched = Scheduler(2048, 2048, np.inf, np.asarray(1e12), 1.0, mixed=False)
    plain = Requests(np.asarray(512.0), np.asarray(128.0))
    once = Requests(np.asarray(512.0), np.asarray(128.0), recv_interval=1)
    ten = Requests(np.asarray(512.0), np.asarray(128.0), recv_interval=10)
    for load in (Load("concurrency", 1.0), Load("offline", 40.0), Load("concurrency", 4.0), Load("rate", 5.0)):
        a, b, c = (solve(_step, r, sched, load).metrics for r in (plain, once, ten))
        assert all(np.array_equal(a[k], b[k]) for k in a), load
        for key in ("tpot_mean_s", "tpot_p99_s", "itl_p99_s"):
            assert float(c[key]) == float(a[key]), (load, key)
        if load.value in (1.0, 40.0):  # (one client, and an offline run's requests all present at the start)
            assert float(c["ttft_p99_s"]) == float(a["ttft_p99_s"])
        else:
            assert float(c["ttft_mean_s"]) > float(a["ttft_mean_s"]) + 0.02  # at least two of 4.5 steps of 10 ms


def test_recv_interval_is_checked_and_reaches_the_command_line(capsys):
    for bad in (0, 1.5, -2, float("nan"), "ten", [2, 3]):
        with pytest.raises(GenmodelError, match="recv_interval"):
            serve(concurrency=4, recv_interval=bad)
    one, ten = serve(concurrency=4, engine="sglang"), serve(concurrency=4, engine="sglang", recv_interval=10)
    assert ten.settings["recv_interval"] == 10 and one.settings["recv_interval"] == 1
    assert float(ten.metrics["ttft_p50_s"]) > float(one.metrics["ttft_p50_s"])
    assert main(["serve", "--concurrency", "4", "--engine", "sglang", "--recv-interval", "10"]) == 0
    out = capsys.readouterr().out
    assert "taken in every 10 decode steps" in out and f"{float(ten.metrics['ttft_p50_s']) * 1e3:,.3f} ms" in out
    _refused_in_one_line(capsys, ["serve", "--concurrency", "4"], "recv-interval")


@pytest.mark.parametrize("shape", [0.5, 4.0])
def test_bursty_arrivals_spread_the_latencies_as_the_simulation_does(shape):
    """Gamma arrivals of shape 0.5 (squared coefficient of variation 2) and 4 (0.25) at half the saturation rate: the
    prompt chunks per step vary c_a^2 times as much as Poisson's (docs/serving.md section 3). With a Poisson spread
    whatever the arrivals, the TTFT p99 was 39% below the simulated one at shape 0.5 and 94% above it at shape 4. The
    count of prompt chunks over a request's life is skewed (its quantile has a Cornish-Fisher term), and the end-to-end
    latency keeps the TPOT's share of its spread normal (history item 67: the TPOT p99 was 13% short at shape 0.5);
    with the arrivals' feedback on the steps they lengthen (history item 70) the TPOT and end-to-end p99 are within 4%
    (4.0% and 6.6% short at shape 0.5 before it)."""
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), arrival_cv2=1.0 / shape)
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0)
    rate = 0.5 * float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", rate)).metrics
    sim = simulate(_step, rate, I, O, budget=T, chunk=T, max_seqs=10**9, requests=4000, arrival_shape=shape)
    assert float(m["ttft_p99_s"]) == pytest.approx(np.percentile(sim["ttft"], 99), rel=0.25)
    assert float(m["tpot_p99_s"]) == pytest.approx(np.percentile(sim["tpot"], 99), rel=0.06)
    assert float(m["e2e_p99_s"]) == pytest.approx(np.percentile(sim["e2e"], 99), rel=0.06)


def test_closed_loop_agrees_with_the_simulation():
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0)
    for clients in (1, 4, 16, 64):
        m = solve(_step, req, sched, Load("concurrency", float(clients))).metrics
        sim = simulate(_step, 1.0, I, O, budget=T, chunk=T, max_seqs=10**9, requests=3000, concurrency=clients)
        assert float(m["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=0.05)
        assert float(m["tpot_mean_s"]) == pytest.approx(sim["tpot"].mean(), rel=0.12)


def test_the_normal_upper_quantile_against_the_standard_library():
    # statistics.NormalDist is the independent reference (Wichura's AS241); normal_isf keeps an upper tail's digits
    qs = np.array([1e-15, 1e-9, 1e-4, 0.01, 0.02425, 0.03, 0.2, 0.5, 0.7, 0.97, 0.99, 1 - 1e-6])
    ref = np.array([-NormalDist().inv_cdf(q) for q in qs])
    assert np.allclose(normal_isf(qs), ref, rtol=2e-9, atol=1e-12)


def test_the_longest_of_n_log_normal_lengths_by_hand():
    # n = 1: the mean itself. n = 2, mean 1: E[max(X1, X2)] = 2 Phi(sigma / sqrt(2)) for iid log-normals (E[max] =
    # E[X1] + E[X2] - E[min], and P(X1 > X2) weighs ln X1 - ln X2 ~ N(0, 2 sigma^2)); sigma^2 = ln(1 + cv^2).
    # Larger n against a Monte Carlo mean of 4,000 draws of the maximum (its standard error below 1%)
    rng = np.random.default_rng(7)
    for cv in (0.3, 1.0, 2.0):
        sigma = np.sqrt(np.log1p(cv**2))
        assert float(longest_of(1, cv)) == pytest.approx(1.0, abs=1e-4)
        assert float(longest_of(2, cv)) == pytest.approx(2 * NormalDist().cdf(sigma / np.sqrt(2)), rel=1e-4)
        for n in (10, 300):
            draws = np.exp(rng.normal(-sigma**2 / 2, sigma, (4000, n))).max(axis=1)
            assert float(longest_of(n, cv)) == pytest.approx(draws.mean(), rel=4 * draws.std() / np.sqrt(4000))
    assert np.array_equal(longest_of(np.array([[3.0, 40.0]]), 0.0), np.ones((1, 2)))
    assert np.all(np.diff(longest_of(np.array([1.0, 2.0, 8.0, 64.0, 4096.0]), 1.0)) > 0)


def test_an_offline_run_of_spread_outputs_lasts_until_its_longest_answer():
    # the run's end by hand (docs/serving.md section 2d) on the synthetic step: 10 ms + 0.1 ms per decoding sequence,
    # so a = 10 ms is the part that runs until the longest answer ends; with two requests the decode steps take
    # a (max O_i - 1) + b sum (O_i - 1), so the run is N / lambda + a (E[max of 2] - O) with E[max of 2] / O =
    # 2 Phi(sigma / sqrt(2)). Identical outputs (cv 0) keep the closed loop's N / lambda exactly
    I, O = 512, 200
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0)
    same = solve(_step, Requests(np.asarray(float(I)), np.asarray(float(O))), sched, Load("offline", 2.0)).metrics
    assert float(same["run_duration_s"]) == pytest.approx(2.0 / float(same["request_rate_per_s"]), rel=1e-12)
    for cv in (0.5, 1.0):
        spread = solve(_step, Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=cv), sched,
                       Load("offline", 2.0)).metrics
        longest = 2 * NormalDist().cdf(np.sqrt(np.log1p(cv**2)) / np.sqrt(2)) * O
        base = 2.0 / float(same["request_rate_per_s"])  # (the closed loop's rate does not hang on the spread)
        assert float(spread["run_duration_s"]) == pytest.approx(base + A_S * (longest - O), rel=1e-3)
        assert float(spread["output_tokens_per_s"]) == pytest.approx(2.0 * O / float(spread["run_duration_s"]),
                                                                     rel=1e-12)
        # (both prompts run in the first step, so no decode step carries a prompt: every request's TPOT is the decode
        # step's, whatever its length; the spread's mean is taken over its length nodes, the same within rounding)
        assert float(spread["tpot_mean_s"]) == pytest.approx(float(same["tpot_mean_s"]), rel=1e-12)


def test_an_offline_runs_end_one_configuration_at_a_time_as_in_one_call():
    # the longest answer's expectation is integrated once per distinct running count (``longest_of``): an array of
    # runs gives each configuration the figures of its own call; more spread, or more requests, never ends sooner
    counts, inputs = np.array([1, 2, 10, 50, 2000]), np.array([128, 1024, 128, 4096, 512])
    together = serve("llama-3.1-8b", "h100-sxm", inputs, 200, offline=counts, output_cv=1.0).metrics
    for i, (n, I) in enumerate(zip(counts, inputs, strict=True)):
        alone = serve("llama-3.1-8b", "h100-sxm", int(I), 200, offline=int(n), output_cv=1.0).metrics
        for key in ("run_duration_s", "output_tokens_per_s", "running_batch", "kv_cache_bytes", "run_duration_s_high"):
            assert float(together[key][i]) == pytest.approx(float(alone[key]), rel=1e-9), (key, n)
    durations = [float(serve("llama-3.1-8b", "h100-sxm", 512, 200, offline=20, output_cv=cv).metrics["run_duration_s"])
                 for cv in (0.0, 0.3, 1.0, 2.0)]
    assert durations == sorted(durations) and durations[0] < durations[-1]
    runs = serve("llama-3.1-8b", "h100-sxm", 512, 200, offline=np.array([1, 4, 16, 64]), output_cv=1.0).metrics
    assert np.all(np.diff(runs["run_duration_s"]) > 0)


@pytest.mark.parametrize("N, I, O, cv, cap", [(10, 137, 44, 1.0, 10**9), (64, 512, 256, 0.5, 10**9),
                                              (300, 256, 128, 1.0, 64)])
def test_an_offline_run_of_spread_outputs_agrees_with_the_simulation(N, I, O, cv, cap):
    # N requests at once, outputs log-normal with this cv (the simulation draws them, rounded, at least 1): the mean
    # run length over 40 simulated runs, against the closed form's (docs/serving.md section 2d: -1.0%, +2.8% and
    # +0.8% here; the closed loop without the run's end is 60%, 42% and 29% short)
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=cv)
    sched = Scheduler(8192, 8192, cap, np.asarray(1e12), 1.0)
    m = solve(_step, req, sched, Load("offline", float(N))).metrics
    spans = [N / float(simulate(_step, 0.0, I, O, budget=8192, chunk=8192, max_seqs=cap, requests=N, concurrency=N,
                                warmup=0, output_cv=cv, seed=seed)["throughput"]) for seed in range(1, 41)]
    assert float(m["run_duration_s"]) == pytest.approx(np.mean(spans), rel=0.06)
    closed_loop = N / float(solve(_step, Requests(np.asarray(float(I)), np.asarray(float(O))), sched,
                                  Load("offline", float(N))).metrics["request_rate_per_s"])
    assert closed_loop < 0.9 * np.mean(spans)


def test_the_longest_of_n_capped_lengths_against_draws():
    # no length above cap x the mean (a benchmark's longest answer): E[min(max of n, cap)] against the mean of 4,000
    # Monte Carlo maxima, each cut at the cap; cap 1 with many lengths is the cap itself, an infinite cap the uncut
    # figure, and a cap never raises the figure
    rng = np.random.default_rng(11)
    for cv, n, cap in ((1.0, 200, 3.66), (1.0, 10, 2.0), (0.5, 1000, 3.0), (2.0, 40, 8.0)):
        sigma = np.sqrt(np.log1p(cv**2))
        draws = np.minimum(np.exp(rng.normal(-sigma**2 / 2, sigma, (4000, n))).max(axis=1), cap)
        assert float(longest_of(n, cv, cap)) == pytest.approx(draws.mean(), abs=4 * draws.std() / np.sqrt(4000) + 1e-3)
    assert float(longest_of(5000, 1.0, 1.0)) == pytest.approx(1.0, abs=1e-6)
    counts = np.array([1.0, 2.0, 50.0, 4096.0])
    assert np.array_equal(longest_of(counts, 1.0, np.inf), longest_of(counts, 1.0))
    assert np.all(longest_of(counts, 1.0, 4.0) <= longest_of(counts, 1.0) + 1e-12)


def test_a_runs_longest_answer_through_serve():
    # serve's max_output_tokens: at the mean output it leaves no tail (the run of identical outputs, exactly); above
    # it the run ends sooner than the uncut log-normal's longest answer says, the more so the lower the cap; the
    # setting is reported, and the steady state's latencies do not hang on it
    base = dict(offline=200, output_cv=1.0)
    same = serve("llama-3.1-8b", "h100-sxm", 213, 214, offline=200).metrics
    runs = [float(serve("llama-3.1-8b", "h100-sxm", 213, 214, **base, max_output_tokens=cap).metrics["run_duration_s"])
            for cap in (214, 500, 780, 2000, None)]
    assert runs[0] == pytest.approx(float(same["run_duration_s"]), rel=1e-12)
    assert runs == sorted(runs) and runs[0] < runs[1] < runs[-1]
    capped = serve("llama-3.1-8b", "h100-sxm", 213, 214, **base, max_output_tokens=780)
    assert capped.settings["max_output_tokens"] == 780
    assert serve("llama-3.1-8b", "h100-sxm", 213, 214, **base).settings["max_output_tokens"] is None
    rate = [serve("llama-3.1-8b", "h100-sxm", 213, 214, request_rate=2.0, output_cv=1.0, max_output_tokens=cap)
            .metrics for cap in (780, None)]
    assert float(rate[0]["ttft_mean_s"]) == float(rate[1]["ttft_mean_s"])


@pytest.mark.parametrize("N, I, O, cv, cap", [(200, 213, 214, 1.0, 780), (50, 512, 256, 1.0, 600)])
def test_an_offline_run_of_capped_outputs_agrees_with_the_simulation(N, I, O, cv, cap):
    # outputs log-normal with this cv, none longer than the cap (the simulation cuts its draws there, as max_tokens
    # or a dataset's longest answer does): the closed form given the simulated outputs' mean and the cap against the
    # mean run length over 40 simulated runs (-0.2% and -0.4% here; the uncapped log-normal's longest answer makes
    # the run 52% and 64% too long)
    spans, means = [], []
    for seed in range(1, 41):
        sim = simulate(_step, 0.0, I, O, budget=8192, chunk=8192, max_seqs=10**9, requests=N, concurrency=N,
                       warmup=0, output_cv=cv, seed=seed, output_cap=cap)
        spans.append(N / float(sim["throughput"]))
        means.append(float(np.mean(sim["output_tokens"])))
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0)
    mean_output = np.asarray(np.mean(means))

    def run(longest):
        req = Requests(np.asarray(float(I)), mean_output, output_cv=cv, max_output_tokens=longest)
        return float(solve(_step, req, sched, Load("offline", float(N))).metrics["run_duration_s"])

    assert run(float(cap)) == pytest.approx(np.mean(spans), rel=0.03)
    assert run(np.inf) > 1.3 * np.mean(spans)


@pytest.mark.parametrize("separate", [False, True])
def test_a_closed_loops_ttft_agrees_with_the_simulation(separate):
    # the closed loop's mean TTFT (its steady state, a tenth of the simulated run dropped as warm-up) with outputs
    # spread by cv 0.4 and clients whose next request reaches the engine 1 ms after their last token, as over an API
    # (docs/serving.md section 3): within -14% to +21% at 16-128 clients. (With clients re-sending at the very
    # instant of their last token the simulated requests catch the next step and wait 26-69% less.)
    for clients, prompt, output in ((32, 1024, 128), (128, 1024, 512), (16, 256, 256)):
        req = Requests(np.asarray(float(prompt)), np.asarray(float(output)), output_cv=0.4)
        sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
        m = solve(_step, req, sched, Load("concurrency", float(clients))).metrics
        sim = simulate(_step, 0.0, prompt, output, budget=8192, chunk=8192, max_seqs=10**9,
                       requests=max(2000, 20 * clients), concurrency=clients, separate=separate, output_cv=0.4,
                       client_delay=0.001)
        assert float(m["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.25), clients


@pytest.mark.parametrize("input_cv, output_cv", [(0.0, 0.0), (0.3, 0.5), (0.5, 1.0)])
def test_a_closed_loop_spreads_tpot_as_the_simulation_does(input_cv, output_cv):
    """In a closed loop a request is admitted only when another finishes: the running count is fixed and the prompts a
    request meets over its life come as the others finish (docs/serving.md section 3). Identical requests rotate in
    lockstep: every TPOT is the mean. With these steps (10 ms + 0.5 ms per decoding sequence + 50 us per prompt
    token) the open-loop spread put the p99 TPOT 15-34% above the simulated one at 16 and 64 clients, and the
    identical requests' end-to-end p99 29-37% above."""
    def step(n, p):
        return 0.010 + 5e-4 * np.asarray(n) + 5e-5 * np.asarray(p)

    I, O, T = 512, 256, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), input_cv=input_cv, output_cv=output_cv)
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0)
    for clients in (16, 64):
        m = solve(step, req, sched, Load("concurrency", float(clients))).metrics
        sim = simulate(step, 1.0, I, O, budget=T, chunk=T, max_seqs=10**9, requests=3000, concurrency=clients,
                       input_cv=input_cv, output_cv=output_cv)
        for q in (90, 99):
            assert float(m[f"tpot_p{q}_s"]) == pytest.approx(np.percentile(sim["tpot"], q), rel=0.05), (clients, q)
        assert float(m["e2e_p99_s"]) == pytest.approx(np.percentile(sim["e2e"], 99), rel=0.1), clients


def _roofline_step(n, p):
    # a step shaped as the engine's is: 2 ms of host work, then the longer of a weight read (8 ms, plus 50 us per
    # decoding sequence's KV) and the arithmetic of its tokens (20 us each): decode steps memory-bound, prompt steps
    # compute-bound past about 400 tokens, so the mean of the steps is not the step of the mean count
    n, p = np.asarray(n, dtype=float), np.asarray(p, dtype=float)
    return 0.002 + np.maximum(0.008 + 5e-5 * n, 2e-5 * (n + p))


def test_a_closed_loops_life_is_its_steps_of_the_time_average_step():
    # docs/serving.md section 2: with mixed prompt steps every running request is in every step, so a request's life
    # is k_p + D steps of the time-average step, whatever the step's shape. Against the simulation (outputs spread by
    # cv 0.4; clients re-sending 1 ms after their last token, as in the TTFT test above), on a step that is not linear:
    # saturated (a cap of 8, 64 clients queued), the throughput within 3% where the tagged request's own steps had
    # put it 11.9% high (2,048 + 4 tokens); below the cap (8 clients of 2,048 + 16 at 71% of saturation, 4 of 512 + 8
    # at 43%) within 5% where they gave -7.4% and +4.1% (now -3.6% and +3.8%)
    cases = [(2048, 4, 4096, "max", 8, 3), (2048, 16, 8192, 8, None, 5), (512, 8, 2048, 4, None, 5)]
    for I, O, T, clients, cap, within in cases:
        req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=0.4)
        sched = Scheduler(T, T, np.inf if cap is None else float(cap), np.asarray(1e12), 1.0)
        load = Load("max") if clients == "max" else Load("concurrency", float(clients))
        m = solve(_roofline_step, req, sched, load).metrics
        sim = simulate(_roofline_step, 1.0, I, O, budget=T, chunk=T, max_seqs=cap or 10**9, requests=4000,
                       concurrency=8 * cap if clients == "max" else clients, output_cv=0.4, client_delay=0.001)
        assert float(m["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=within / 100), (I, clients)


@pytest.mark.parametrize("I, O, cap, load, separate, output_cv", [
    (512, 64, 16, 0.6, False, 0.0), (512, 64, 16, 0.8, False, 0.0), (512, 64, 64, 0.8, False, 0.0),
    (512, 64, 64, 0.9, False, 0.0), (2048, 256, 16, 0.8, False, 0.0), (512, 64, 16, 0.8, True, 0.0),
    (512, 64, 16, 0.8, False, 1.0), (2048, 256, 16, 0.8, False, 1.0)])
def test_an_open_loop_below_its_running_cap_waits_for_admission_as_often_as_the_simulation(I, O, cap, load,
                                                                                        separate, output_cv):
    # the running count of an open loop is peaked: each arrival's prompt lengthens the steps every running request
    # decodes in, so the count varies z = kappa J0 times as much as Poisson's (2.1 for 512 + 64 tokens at 0.8 of the
    # saturation rate with a cap of 16, where the simulation's count varies 2.25 times; 1.75 with spread outputs, which
    # keep the share _life_overlap of the excess) and meets the cap that much more often (Hayward's c / z servers
    # offered a / z, docs/serving.md section 3). Against the simulation (6,000 requests, two seeds, a tenth dropped) the
    # mean TTFT -5.8% to +14.7% and its P90 -13.5% to +14.2%, where the Erlang C of a Poisson count made them up to 51%
    # and 76% short (-6% to -51% and -9% to -76%)
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=output_cv)
    sched = Scheduler(2048, 2048, float(cap), np.asarray(1e12), 1.0, mixed=not separate)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", load * top), percentiles=(0.9,)).metrics
    sims = [simulate(_step, load * top, I, O, budget=2048, chunk=2048, max_seqs=cap, requests=6000, seed=seed,
                     separate=separate, output_cv=output_cv) for seed in range(2)]
    assert float(m["ttft_mean_s"]) == pytest.approx(np.mean([s["ttft"].mean() for s in sims]), rel=0.25)
    assert float(m["ttft_p90_s"]) == pytest.approx(np.mean([np.percentile(s["ttft"], 90) for s in sims]), rel=0.25)


@pytest.mark.parametrize("I, O, cap", [(512, 64, 16), (2048, 256, 64)])
def test_a_finite_run_below_the_caps_saturation_builds_its_admission_queue(I, O, cap):
    # a run of 1,000 requests at 0.9 of the saturation rate from an idle engine: the peaked admission queue, built up
    # over the run with the reduced queue's relaxation (admission_build_up), against the simulation (four seeds,
    # nothing dropped): mean TTFT -16% and -32%, where the Erlang C of a Poisson count made it -59% and -61%
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(2048, 2048, float(cap), np.asarray(1e12), 1.0)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", 0.9 * top, requests=1000.0)).metrics
    sims = [simulate(_step, 0.9 * top, I, O, budget=2048, chunk=2048, max_seqs=cap, requests=1000, seed=seed,
                     warmup=0) for seed in range(4)]
    assert float(m["ttft_mean_s"]) == pytest.approx(np.mean([s["ttft"].mean() for s in sims]), rel=0.4)


def test_the_admission_build_up_by_hand():
    # c = 16, a = 11, z = 2: c' = 8, a' = 5.5, M = 11 / (sqrt 8 - sqrt 5.5)^2 = 11 / 0.2335 = 47.11 arrivals; a run of
    # N = 100 sees 1 - (M / N)(1 - e^(-N / M)) = 1 - 0.4711 x 0.8803 = 0.5853 of the stationary queue
    m = 11.0 / (np.sqrt(8.0) - np.sqrt(5.5)) ** 2
    assert float(admission_build_up(100.0, 16.0, 11.0, 2.0)) == pytest.approx(1 - m / 100 * (1 - np.exp(-100 / m)))
    assert float(admission_build_up(100.0, 16.0, 11.0, 2.0)) == pytest.approx(0.5853, abs=1e-4)
    # an endless run, no cap, a load at the cap: all of it
    assert float(admission_build_up(np.inf, 16.0, 11.0, 2.0)) == 1.0
    assert float(admission_build_up(100.0, np.inf, 11.0, 2.0)) == 1.0
    assert float(admission_build_up(100.0, 16.0, 16.0, 2.0)) == 1.0
    # longer runs see more of it
    runs = [float(admission_build_up(n, 16.0, 11.0, 2.0)) for n in (10.0, 100.0, 1000.0, 10000.0)]
    assert runs == sorted(runs) and runs[-1] > 0.99


def test_the_simulations_kv_cache_admission():
    # the oracle's KV cache (tests/serving_oracle.py): a cache of 16,384 tokens, 512 + 256-token requests. Reserving
    # whole sequences (TensorRT-LLM's guaranteed-no-evict) holds at most 16,384 / 768 = 21 at once, admitting on the
    # tokens held now (vLLM's) more; at 0.8 of the closed form's saturation rate the reserving engine queues its
    # arrivals several times as long, and the preempting one spends more per output token (its recomputed prompts)
    I, O, kv = 512, 256, 16384
    runs = {adm: simulate(_step, 5.26, I, O, budget=2048, chunk=2048, max_seqs=10**6, requests=3000, seed=1,
                          kv_tokens=kv, admission=adm) for adm in ("reserve", "current")}
    assert runs["reserve"]["ttft"].mean() > 2 * runs["current"]["ttft"].mean()
    assert runs["current"]["tpot"].mean() > runs["reserve"]["tpot"].mean()
    # no request is dropped or emits more than its output; a request longer than the cache is refused
    for run in runs.values():
        assert run["ttft"].size == 2700 and np.all(run["output_tokens"] == O)
        assert all(len(g) == O - 1 for g in run["gaps"])
    with pytest.raises(ValueError, match="longer than the KV cache"):
        simulate(_step, 1.0, 20000, 1000, budget=2048, chunk=2048, max_seqs=8, requests=10, kv_tokens=kv)


@pytest.mark.parametrize("load, requests", [(0.6, None), (0.8, None), (0.8, 300), (1.5, 300)])
def test_an_engine_that_reserves_whole_sequences_against_the_simulation(load, requests):
    # TensorRT-LLM's GUARANTEED_NO_EVICT (Scheduler.reserve_outputs, docs/serving.md section 1): a request is admitted
    # only with room for its prompt and its whole output, so 16,384 tokens of cache hold 16,384 / (512 + 256 + 8) = 21
    # requests of 512 + 256 tokens, not the 25 that hold a prompt and half an output on average. Against the
    # simulation's reserving KV cache (three seeds): mean TTFT -8%, -13%, -7% and +7%, throughput within 2%, where
    # the average-held cap made the TTFT 12%, 64%, 56% and 32% short and the saturated run's throughput 14% high
    I, O, kv = 512, 256, 16384
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(2048, 2048, np.inf, np.asarray(float(kv)), 16.0, reserve_outputs=True)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    # saturated, the cache holds 16,384 / 776 requests reserved, 16,384 / 646.5 held on average: a prompt step of 256
    # tokens on average and 255 decode steps of 512 + 128, (256 + 255 x 640) / 256 = 638.5, plus half a page
    held = Scheduler(2048, 2048, np.inf, np.asarray(float(kv)), 16.0)
    assert float(solve(_step, req, sched, Load("max")).metrics["running_batch"]) == pytest.approx(kv / 776)
    assert float(solve(_step, req, held, Load("max")).metrics["running_batch"]) == pytest.approx(kv / 646.5)
    m = solve(_step, req, sched, Load("rate", load * top, requests=None if requests is None else float(requests)))
    sims = [simulate(_step, load * top, I, O, budget=2048, chunk=2048, max_seqs=10**6, requests=requests or 5000,
                     seed=seed, warmup=None if requests is None else 0, kv_tokens=kv, admission="reserve")
            for seed in range(3)]
    assert float(m.metrics["ttft_mean_s"]) == pytest.approx(np.mean([s["ttft"].mean() for s in sims]), rel=0.2)
    assert float(m.metrics["request_rate_per_s"]) == pytest.approx(np.mean([float(s["throughput"]) for s in sims]),
                                                                   rel=0.03)


@pytest.mark.parametrize("load, sim_ttft_s", [(0.9, 2.48), (0.95, 6.44)])
def test_a_fractional_kv_cap_queues_up_to_the_saturation_rate(load, sim_ttft_s):
    # 1,024 + 1,024-token requests on a reserving engine with 32,768 tokens of cache: the cap is the mean count the
    # cache holds, 32,768 / (2,048 + 8) = 15.94 (half a 16-token page wasted a request), the count at which the
    # saturation rate is reached. The admission queue's mean, z P_1 t_run / (c - a) (docs/serving.md section 3),
    # divides by that c; with its whole floor, 15, the queue grew without bound at 15 / 15.94 = 0.94 of the
    # saturation rate: mean TTFT 4.6 s at 0.9 and 165 s at 0.95 where the simulation's (three seeds of 3,000 requests,
    # a tenth dropped: 1.79, 2.06, 3.60 s and 3.67, 5.98, 9.69 s) average 2.48 and 6.44 s; with c 2.42 and 6.49 s
    I, O, kv = 1024, 1024, 32768
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(2048, 2048, np.inf, np.asarray(float(kv)), 16.0, reserve_outputs=True)
    assert float(solve(_step, req, sched, Load("max")).metrics["running_batch"]) == pytest.approx(kv / 2056)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", load * top)).metrics
    sims = [simulate(_step, load * top, I, O, budget=2048, chunk=2048, max_seqs=10**6, requests=3000, seed=seed,
                     kv_tokens=kv, admission="reserve") for seed in range(3)]
    assert np.mean([s["ttft"].mean() for s in sims]) == pytest.approx(sim_ttft_s, rel=0.01)  # (the runs above)
    assert float(m["ttft_mean_s"]) == pytest.approx(sim_ttft_s, rel=0.3)


@pytest.mark.xfail(strict=True, reason="known defect: a KV-bound open loop waits longer than the closed form says")
def test_a_kv_bound_open_loop_near_saturation_reproduction():
    # the DEFECT (sixty-first session, docs/serving.md section 3): where the KV cache, not a sequence count, caps the
    # running requests, the closed form takes the cap as the tokens the requests hold on average (a prompt and half an
    # output), packed perfectly; the simulated engine that admits on the tokens held now and preempts when decodes
    # find no room (vLLM's) saturates earlier: at 0.9 of the closed form's saturation rate (512 + 256 tokens, 16,384
    # tokens of cache) its mean TTFT is 2.8 s against the closed form's 0.44 s (0.22 against 0.11 s at 0.8; with
    # outputs of cv 1, 1.17 against 0.14 s at 0.8); its TPOT 14% longer (the recomputed prompts)
    I, O, kv = 512, 256, 16384
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(2048, 2048, np.inf, np.asarray(float(kv)), 16.0)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", 0.9 * top)).metrics
    sim = simulate(_step, 0.9 * top, I, O, budget=2048, chunk=2048, max_seqs=10**6, requests=4000, seed=1,
                   kv_tokens=kv, admission="current")
    assert float(m["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.5)


def test_a_recomputing_engines_queue_grows_at_the_count_where_its_saturation_rate_is_reached():
    # history item 90 (docs/serving.md section 3): with the recompute term (``Scheduler.recompute_on_full``), the
    # open loop's rate lambda(x) rises past the saturated rate below the KV cap (only the running requests' overflow
    # is recomputed there) and falls back to it at the cap (every output recomputed); a queue keeps the engine at
    # its cap, so the rates above the saturated one are not served and the admission queue's servers are the
    # running count where lambda(x) first reaches it, 23.2 requests here against the cap's 25.3. Against the
    # simulated engine that admits on the tokens held now and recomputes what it preempts (vLLM's rule; seeds 0-2,
    # 3,000 requests each: mean TTFT 0.253, 0.277, 0.606 s at 0.9 of the closed form's saturation rate and 0.635,
    # 0.938, 1.816 s at 0.95), the closed form gives 0.356 and 0.847 s (-6%, -25% of the seeds' means); with the cap
    # as the queue's servers it gave 0.159 and 0.302 s (-58%, -73%)
    I, O, kv = 512, 256, 16384
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(2048, 2048, np.inf, np.asarray(float(kv)), 16.0, recompute_on_full=True)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    for share, tol in ((0.9, 0.15), (0.95, 0.35)):
        m = solve(_step, req, sched, Load("rate", share * top)).metrics
        sims = [simulate(_step, share * top, I, O, budget=2048, chunk=2048, max_seqs=10**6, requests=3000,
                         seed=seed, kv_tokens=kv, admission="current") for seed in range(3)]
        assert float(m["ttft_mean_s"]) == pytest.approx(np.mean([s["ttft"].mean() for s in sims]), rel=tol), share
    x_max, _ = steady.saturation(req, sched)
    grid = steady._rate_grid(_step, req, sched, x_max)
    servers = float(steady._queue_cap(_step, req, sched, grid, x_max, steady.terms(x_max, req, sched)))
    assert kv / (I + O / 2 + 8) * 0.9 < servers < kv / (I + O / 2 + 8)  # (the cap: C / (I + O / 2 + half a page))
    # past the saturated rate the loop is unstable even where lambda(x) below the cap would reach the rate
    assert not bool(solve(_step, req, sched, Load("rate", 1.02 * top)).metrics["stable"])


@pytest.mark.parametrize("I, O, kv", [(512, 256, 16384), (256, 1024, 32768)])
def test_recompute_at_a_full_kv_cache_costs_the_outputs_as_prompt_work(I, O, kv):
    # an offline run of 1,000 requests saturates a KV-bound cap; the simulated engine that admits on the tokens held
    # now, preempts the request admitted last and recomputes it (vLLM's rule) completes 6.00 and 2.44 requests/s
    # (its own figures, seeds 1-2); the closed form that packs the cap perfectly says 6.57 and 2.80 (+10%, +15%);
    # charging each request's O output tokens again as prompt work (``Scheduler.recompute_on_full``) 6.06 and 2.45
    sims = [simulate(_step, 1e6, I, O, budget=2048, chunk=2048, max_seqs=256, requests=1000, seed=seed, warmup=0,
                     kv_tokens=kv, admission="current") for seed in (1, 2)]
    measured = float(np.mean([float(s["throughput"]) for s in sims]))
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    rates = {}
    for rec in (False, True):
        sched = Scheduler(2048, 2048, 256, np.asarray(float(kv)), 16.0, recompute_on_full=rec)
        rates[rec] = float(solve(_step, req, sched, Load("offline", 1000.0)).metrics["request_rate_per_s"])
    assert rates[True] == pytest.approx(measured, rel=0.03)
    assert rates[False] > 1.08 * measured  # the defect it mends
    # below the cap nothing is preempted in the closed form: an open loop at half the saturated rate recomputes no
    # token and runs the same steps; its TTFT differs only by the admission queue, whose servers are the running count
    # at which the saturation rate is first reached (``steady._queue_cap``), fewer than the cap: at half the load a
    # wait of a fraction of a percent
    below = {rec: solve(_step, req, Scheduler(2048, 2048, 256, np.asarray(float(kv)), 16.0, recompute_on_full=rec),
                        Load("rate", 0.5 * measured)) for rec in (False, True)}
    assert float(np.max(below[True].terms.recompute)) == 0.0
    assert float(below[True].metrics["tpot_mean_s"]) == float(below[False].metrics["tpot_mean_s"])
    assert float(below[True].metrics["ttft_mean_s"]) == pytest.approx(float(below[False].metrics["ttft_mean_s"]),
                                                                     rel=0.005)


@pytest.mark.parametrize("I, O, kv, clients", [(512, 256, 16384, 24), (1024, 1024, 32768, 20)])
def test_recompute_ramps_in_below_the_kv_cap(I, O, kv, clients):
    # a closed loop between the cache's whole-request count C / T (T = I + O + 8 tokens: 21.1 and 15.9 requests) and
    # its average-holding cap C / (I + O / 2 + 8) (25.3 and 21.2): requests that grow together overflow the cache by
    # N T - C, which the simulated engine that admits on the tokens held now pays by preempting and recomputing
    # (vLLM's rule); its own throughputs, seeds 1-2, are 5.99 and 1.39 requests/s. The closed form without the
    # recompute says 6.32 and 1.50 (+5.5%, +7.8%); with R = T - C / N recomputed tokens a request (``steady.
    # _recompute_tokens``: 93 and 418 tokens here) 6.14 and 1.46 (+2.5%, +4.5%)
    sims = [simulate(_step, 1.0, I, O, budget=2048, chunk=2048, max_seqs=256, requests=2000, seed=seed,
                     concurrency=clients, kv_tokens=kv, admission="current") for seed in (1, 2)]
    measured = float(np.mean([float(s["throughput"]) for s in sims]))
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    rates = {rec: float(solve(_step, req, Scheduler(2048, 2048, 256, np.asarray(float(kv)), 16.0,
                                                    recompute_on_full=rec), Load("concurrency", float(clients)))
                        .metrics["request_rate_per_s"]) for rec in (False, True)}
    assert rates[True] == pytest.approx(measured, rel=0.05)
    assert rates[False] > 1.05 * measured  # what the ramp mends
    # R by hand at N = clients running requests, and none while whole requests fit (N <= C / T)
    sched = Scheduler(2048, 2048, 256, np.asarray(float(kv)), 16.0, recompute_on_full=True)
    whole = I + O + 8.0
    for n, expected in ((clients, whole - kv / clients), (kv / whole * 0.99, 0.0)):
        got = steady._recompute_tokens(req, sched, np.asarray(float(n)), np.asarray(kv / (I + O / 2 + 8.0)),
                                       np.asarray(float(kv)))
        assert float(got) == pytest.approx(expected, rel=1e-12, abs=1e-9)


def test_the_peaked_erlang_c_by_hand():
    # z = 1 is Erlang C itself; z = 2 on 16 servers offered 11 Erlangs is Erlang C of 8 servers offered 5.5 (whole:
    # no interpolation); 7.5 servers: half-way between 7 and 8
    assert float(peaked_erlang_c(16.0, 11.0, 1.0)) == pytest.approx(float(erlang_c(16.0, 11.0)), rel=1e-12)
    assert float(peaked_erlang_c(16.0, 11.0, 2.0)) == pytest.approx(float(erlang_c(8.0, 5.5)), rel=1e-12)
    half = (float(erlang_c(7.0, 5.0)) + float(erlang_c(8.0, 5.0))) / 2
    assert float(peaked_erlang_c(15.0, 10.0, 2.0)) == pytest.approx(half, rel=1e-12)
    # M/M/2 offered 1 Erlang by hand: P(wait) = (a^2 / 2) (c / (c - a)) / (1 + a + (a^2 / 2) c / (c - a)) = 1/3
    assert float(erlang_c(2.0, 1.0)) == pytest.approx(1 / 3)
    # a peaked load meets the cap more often; no cap, no wait
    assert float(peaked_erlang_c(16.0, 11.0, 2.0)) > float(erlang_c(16.0, 11.0))
    assert float(peaked_erlang_c(np.inf, 11.0, 2.0)) == 0.0


def test_the_life_overlap_by_hand():
    # E[min(L1, L2)] / E[L]: 1 for one length; for log-normal lives 1 - G, G = 2 Phi(sigma / sqrt 2) - 1 their Gini
    # coefficient: at cv 1, sigma^2 = ln 2, so 2 (1 - Phi(0.5887)) = 0.5561; against a Monte Carlo estimate
    assert float(_life_overlap(0.0)) == pytest.approx(1.0)
    assert float(_life_overlap(1.0)) == pytest.approx(0.5561, abs=1e-4)
    rng = np.random.default_rng(0)
    sigma = np.sqrt(np.log(2.0))
    lives = rng.lognormal(-sigma**2 / 2, sigma, (2, 400_000))
    assert float(np.minimum(lives[0], lives[1]).mean()) == pytest.approx(0.5561, abs=0.004)


def test_a_closed_loop_past_the_running_cap_agrees_with_the_simulation():
    # clients beyond what one replica runs at once queue inside the engine and are admitted at step boundaries
    # (docs/serving.md section 2). Prefill-only requests (output 1) whose prompts fill the step budget: 4 run at
    # once, the rest queue; and decoding requests under a max_seqs cap of 8. Before the queued requests were
    # admitted at step boundaries in the closed form, the first case's throughput came out 2.2x too low.
    cases = [(1024, 1, 4096, None, 16), (1024, 1, 4096, None, 64), (512, 64, 2048, 8, 32), (512, 64, 2048, 16, 64)]
    for I, O, T, cap, clients in cases:
        req = Requests(np.asarray(float(I)), np.asarray(float(O)))
        sched = Scheduler(T, T, np.inf if cap is None else float(cap), np.asarray(1e12), 1.0)
        m = solve(_step, req, sched, Load("concurrency", float(clients))).metrics
        sim = simulate(_step, 1.0, I, O, budget=T, chunk=T, max_seqs=cap or 10**9, requests=3000,
                       concurrency=clients)
        assert float(m["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=0.05)
        assert float(m["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.05)


# ---- a finite run (a benchmark's --num-prompts), docs/serving.md section 2c -------------------------------------


def test_finite_run_wait_by_hand():
    # N = 100 requests at 20/s to a replica completing 10/s with 16 running: delta = 1/10 - 1/20 = 0.05 s
    delta, fluid, crit = finite_run_wait(100.0, 10.0, 16.0, 20.0, 1.0, 0.0)
    assert float(delta) == pytest.approx(0.05)
    # one output length: cohorts of 16; m = 6 whole cohorts, rem = 4: sum of floor((i - 1) / 16) over i = 1..100
    # = 16 (0 + 1 + ... + 5) + 4 x 6 = 264, so the mean wait is 0.05 x 16 x 264 / 100 = 2.112 s
    assert float(fluid) == pytest.approx(2.112)
    # fluctuations: n = 84 can queue, (2/3) sqrt(2 x 84 / pi) / 10 = 0.48752 s
    assert float(crit) == pytest.approx(2 / 3 * np.sqrt(168 / np.pi) / 10)
    # spread outputs (cv 1): request i waits (i - 16) x 0.05: mean 0.05 x 84^2 / 200 = 1.764 s
    assert float(finite_run_wait(100.0, 10.0, 16.0, 20.0, 1.0, 0.0, 1.0)[1]) == pytest.approx(1.764)
    # the 90th request: 16 x floor(89 / 16) = 80 cohort places -> 4.0 s; spread: (90 - 16) x 0.05 = 3.7 s
    assert float(finite_run_quantile(0.05, 100.0, 16.0, 0.9)) == pytest.approx(4.0)
    assert float(finite_run_quantile(0.05, 100.0, 16.0, 0.9, 1.0)) == pytest.approx(3.7)
    # below saturation no fluid queue; a run shorter than the running cap never queues
    assert finite_run_wait(100.0, 10.0, 16.0, 5.0, 1.0, 0.0)[:2] == (0.0, 0.0)
    assert float(finite_run_wait(10.0, 10.0, 16.0, 20.0, 1.0, 0.0)[1]) == 0.0


def test_the_prompts_chain_by_hand():
    # the same run with prompts of tau = 0.07 s of prefill budget each, arriving every 1/20 s: each first token comes
    # g = 0.07 - 0.05 = 0.02 s later after its arrival than the one before (docs/serving.md section 2c)
    g = prompt_chain(0.07, 20.0, 10.0)
    assert float(g) == pytest.approx(0.02)
    # none below saturation, nor where the engine takes the prompts as fast as they come
    assert float(prompt_chain(0.07, 5.0, 10.0)) == 0.0 and float(prompt_chain(0.04, 20.0, 10.0)) == 0.0
    # cohorts: 2.112 s as above, plus g times the places within the cohorts, 6 x (0 + ... + 15) + (0 + 1 + 2 + 3)
    # = 720 + 6 = 726, over 100 requests: 0.02 x 7.26 = 0.1452 s
    assert float(finite_run_wait(100.0, 10.0, 16.0, 20.0, 1.0, 0.0, 0.0, g)[1]) == pytest.approx(2.112 + 0.1452)
    # spread outputs: max(0.05 (x - 16), 0.02 x) over x in [0, 100]; the lines cross at x = 16 x 0.05 / 0.03 = 80/3:
    # 0.01 (80/3)^2 + 0.025 (84^2 - (80/3 - 16)^2) = 7.1111 + 173.5556, over 100
    spread = 0.01 * (80 / 3) ** 2 + 0.025 * (84**2 - (80 / 3 - 16) ** 2)
    assert float(finite_run_wait(100.0, 10.0, 16.0, 20.0, 1.0, 0.0, 1.0, g)[1]) == pytest.approx(spread / 100)
    # the 90th request: 80 cohort places at 0.05 and 9 within its cohort at 0.02: 4.18 s; spread: max(3.7, 1.78)
    assert float(finite_run_quantile(0.05, 100.0, 16.0, 0.9, 0.0, g)) == pytest.approx(4.18)
    assert float(finite_run_quantile(0.05, 100.0, 16.0, 0.9, 1.0, g)) == pytest.approx(3.7)
    # a chain slower than the cohorts' departures (g = 0.08 > delta) sets every wait: request i waits (i - 1) g,
    # a mean of 0.08 x 49.5 = 3.96 s; the 90th 0.08 x 89 = 7.12 s
    assert float(finite_run_wait(100.0, 10.0, 16.0, 20.0, 1.0, 0.0, 0.0, 0.08)[1]) == pytest.approx(3.96)
    assert float(finite_run_quantile(0.05, 100.0, 16.0, 0.9, 0.0, 0.08)) == pytest.approx(7.12)


def test_a_finite_runs_share_of_the_prompts_by_hand():
    # past saturation with 16 running of 50: each request sees the prompts of the 15 others, the last 16 of those
    # admitted after them only, 15 down to 0: a share 1 - 16 / 100 = 0.84 of the steady state's; on separate steps a
    # cohort decodes together once its last prompt is in, each seeing those after it in the cohort: 0.5
    assert float(finite_run_tpot_share(50.0, 16.0, True)) == pytest.approx(0.84)
    assert float(finite_run_tpot_share(50.0, 16.0, False)) == pytest.approx(0.5)
    # spread outputs keep the steady state's (cv 1), half-way at cv 0.5; no cap binds where N <= C
    assert float(finite_run_tpot_share(50.0, 16.0, False, 1.0)) == 1.0
    assert float(finite_run_tpot_share(50.0, 16.0, False, 0.5)) == pytest.approx(0.75)
    assert float(finite_run_tpot_share(10.0, 16.0, True)) == 1.0
    assert float(finite_run_tpot_share(50.0, 0.0, True)) == 1.0


@pytest.mark.parametrize("N, I, O, cap, separate, output_cv", [
    (50, 20000, 100, 16, False, 0.0), (50, 20000, 100, 16, True, 0.0), (60, 8000, 400, 24, False, 0.0),
    (60, 8000, 400, 24, True, 0.0), (100, 4000, 1000, 40, False, 0.0), (100, 4000, 1000, 40, True, 0.0)])
def test_long_prompts_past_saturation_chain_and_their_decodes_share_them(N, I, O, cap, separate, output_cv):
    # a run of long prompts at 10/s, faster than the engine prefills them, with the running cap bound: each admitted
    # request still waits for the prompts admitted before it (the prompts' chain), and a request's decode steps carry
    # (or, on separate steps, wait for) only part of the steady state's prompts (docs/serving.md section 2c). Against
    # the simulation (six seeds, nothing dropped) within 8% on the mean TTFT, its P50 and P90, the mean TPOT and the
    # mean end-to-end latency (-2.4% to +5.2%, +0.8% to +6.1% on the TPOT), where the cohorts alone gave TTFTs 13-23%
    # short (P50s -7% to -32%) and the steady state's TPOT was +9% to +94% long (spread outputs: section 2c's table)
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=output_cv)
    sched = Scheduler(8192, 8192, float(cap), np.asarray(1e12), 1.0, mixed=not separate)
    m = solve(_step, req, sched, Load("rate", 10.0, requests=float(N)), percentiles=(0.5, 0.9)).metrics
    assert not bool(m["stable"]) and float(m["slow_wave"]) == 0.0
    sims = [simulate(_step, 10.0, I, O, budget=8192, chunk=8192, max_seqs=cap, requests=N, seed=seed, warmup=0,
                     separate=separate, output_cv=output_cv) for seed in range(6)]
    for key, of in (("ttft_mean_s", lambda s: s["ttft"].mean()), ("ttft_p50_s", lambda s: np.percentile(s["ttft"], 50)),
                    ("ttft_p90_s", lambda s: np.percentile(s["ttft"], 90)), ("tpot_mean_s", lambda s: s["tpot"].mean()),
                    ("e2e_mean_s", lambda s: s["e2e"].mean())):
        assert float(m[key]) == pytest.approx(float(np.mean([of(s) for s in sims])), rel=0.08), key


@pytest.mark.parametrize("cap, load, requests, output_cv", [(16, 1.5, 300, 0.0), (16, 3.0, 1000, 0.0),
                                                            (64, 1.5, 1000, 0.0), (64, 3.0, 1000, 0.0),
                                                            (16, 1.5, 1000, 1.0), (64, 3.0, 1000, 0.5)])
def test_a_finite_run_past_saturation_agrees_with_the_simulation(cap, load, requests, output_cv):
    # a run of N requests from an idle engine at load x its saturation rate (the steady state has no finite TTFT);
    # the simulation keeps every request (no warm-up dropped), four seeds
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=output_cv)
    sched = Scheduler(T, T, float(cap), np.asarray(1e12), 1.0)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", load * top, requests=float(requests))).metrics
    assert np.isinf(solve(_step, req, sched, Load("rate", load * top)).metrics["ttft_mean_s"])
    sims = [simulate(_step, load * top, I, O, budget=T, chunk=T, max_seqs=cap, requests=requests, seed=seed,
                     warmup=0, output_cv=output_cv) for seed in range(4)]
    mean = np.mean([s["ttft"].mean() for s in sims])
    p90 = np.mean([np.percentile(s["ttft"], 90) for s in sims])
    assert float(m["ttft_mean_s"]) == pytest.approx(mean, rel=0.15)
    assert float(m["ttft_p90_s"]) == pytest.approx(p90, rel=0.15)
    assert float(m["request_rate_per_s"]) == pytest.approx(np.mean([float(s["throughput"]) for s in sims]),
                                                           rel=0.08)
    assert not bool(m["stable"])


def _mixture_by_sampling(wait, s, edges, x, places=20000):
    """P(W + S + Q <= x) with Q linear between ``edges`` over u in [0, 1], by the midpoint rule on ``places`` values
    of u, each a plain ``cdf_of_sum`` (the queue's mixture integrated numerically, not by its closed form)."""
    u = (np.arange(places) + 0.5) / places
    q = np.interp(u, np.linspace(0.0, 1.0, len(edges)), edges)
    def wide(a):
        return np.full(places, float(a))

    return float(np.mean(cdf_of_sum(Wait(wide(wait.p_wait), wide(wait.mean_s)), LogNormal(wide(s.mean), wide(s.cv)),
                                    x - q)))


@pytest.mark.parametrize("p_wait, wait_s, mean, cv", [(0.0, 0.0, 2.0, 0.5), (0.3, 0.4, 2.0, 0.5), (1.0, 1.5, 1.0, 1.0),
                                                      (0.6, 0.2, 3.0, 0.05)])
def test_the_queue_mixture_against_its_integral_taken_numerically(p_wait, wait_s, mean, cv):
    # queueing.QueueMixture's CDF comes from the closed-form integral G(y) = E[(y - W - S)^+] differenced over each
    # cell of the queue's places; against the same mixture integrated over 20,000 places with cdf_of_sum itself (the
    # queue: nobody waits at the first 40% of places, then a linear rise to 5 s, a step to 6 s, and a flat top), and
    # its density against the CDF's central difference
    wait, s = Wait(np.asarray(p_wait), np.asarray(wait_s)), LogNormal(np.asarray(mean), np.asarray(cv))
    edges = np.concatenate([np.zeros(14), np.linspace(0.0, 5.0, 12)[1:], [5.5], np.full(7, 6.0)])
    assert edges.size == 33
    for x in (0.5, 1.8, 2.5, 4.0, 6.5, 9.0, 14.0):
        got = float(queue_mixture_cdf(wait, s, edges, x))
        assert got == pytest.approx(_mixture_by_sampling(wait, s, edges, x), abs=2e-5), x
        h = 1e-5
        slope = (float(queue_mixture_cdf(wait, s, edges, x + h))
                 - float(queue_mixture_cdf(wait, s, edges, x - h))) / (2 * h)
        _, density = QueueMixture(Wait(np.array([p_wait]), np.array([wait_s])), LogNormal(np.array([mean]),
                                  np.array([cv])), edges[:, None]).at(np.array([x]), np.array([0]))
        assert float(density[0]) == pytest.approx(slope, rel=1e-4, abs=1e-7), x
    # its quantiles are the roots of that CDF (to the numerical integral's precision), between the sum's own quantile
    # shifted by the least and by the largest wait
    qs = (0.1, 0.5, 0.9, 0.99)
    alone = quantile_of_sum(wait, s, qs)  # (the sum's own quantiles, for the bracket)
    got = queue_mixture_quantiles(wait, s, edges, qs, alone)
    for q, x, a in zip(qs, got, alone, strict=True):
        assert _mixture_by_sampling(wait, s, edges, float(x)) == pytest.approx(q, abs=1e-4)
        assert float(a) <= float(x) <= float(a) + 6.0


def test_the_queue_mixture_by_hand():
    # a point mass S = m with no wait (P0 = 0) behind a queue rising linearly from 0 to L over the places: m + L U with
    # U uniform, whose q-quantile is m + L q and whose CDF at x is (x - m) / L in between; where every place waits the
    # same d, the sum's quantile plus d. With S spread (log-normal, mean 1, cv 1) behind a ramp to 4: P(Z <= x) lies
    # between P(S <= x - 4) and P(S <= x), so the P99 lies between S's P99 and 4 + S's P99, and it is below
    # 4 x 0.99 + S's P99, which adding the two quantiles gives
    none = Wait(np.asarray(0.0), np.asarray(0.0))
    point = LogNormal(np.asarray(2.0), np.asarray(0.0))
    ramp = np.linspace(0.0, 10.0, 33)
    qs = (0.05, 0.5, 0.9, 0.99)
    got = queue_mixture_quantiles(none, point, ramp, qs, quantile_of_sum(none, point, qs))
    assert np.allclose(got, [2.0 + 10.0 * q for q in qs], rtol=1e-8)
    assert float(queue_mixture_cdf(none, point, ramp, 5.0)) == pytest.approx(0.3, abs=1e-12)
    flat = np.full(33, 0.7)
    spread = LogNormal(np.asarray(1.0), np.asarray(1.0))
    alone = quantile_of_sum(none, spread, qs)
    assert np.allclose(queue_mixture_quantiles(none, spread, flat, qs, alone), alone + 0.7, rtol=1e-12)
    mixed = queue_mixture_quantiles(none, spread, np.linspace(0.0, 4.0, 33), (0.99,), alone[-1:])
    assert float(alone[-1]) < float(mixed[0]) < 4.0 * 0.99 + float(alone[-1])


@pytest.mark.parametrize("mode, cap, load, requests", [("rate", 16, 1.5, 1000), ("rate", 64, 3.0, 1000),
                                                       ("rate", 64, 1.5, 400), ("offline", 64, None, 400),
                                                       ("offline", 16, None, 200), ("offline", 32, None, 300)])
def test_a_queued_runs_end_to_end_percentiles_against_the_simulation(mode, cap, load, requests):
    # Past saturation a finite run's request p N waits its place's share of the queue (an offline run's backlog the
    # same way), and its end-to-end latency adds its own answer's length, drawn independently (output cv 1): the
    # percentiles are the mixture's over the places. Against the simulation (twelve seeds, nothing dropped) the end-to-
    # end P90 is within 12% and the P99 within 26% (+6.6, -1.9, +11.9, -2.8, +0.4, -2.7% and +5.5, +6.9, +13.7, +25.8,
    # +7.3, +12.3%), where adding the queue's quantile to the length's (before the fifty-sixth session) gave P90s
    # +13.2, +10.9, +34.9, +14.8, +9.9, +9.8% and P99s +14.4, +19.1, +20.9, +51.4, +27.9, +35.5% (docs/serving.md
    # section 3); the TTFT percentiles, whose own spread is small beside the queue's, move by under 3 points
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=1.0)
    sched = Scheduler(T, T, float(cap), np.asarray(1e12), 1.0)
    if mode == "rate":
        top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
        m = solve(_step, req, sched, Load("rate", load * top, requests=float(requests)),
                  percentiles=(0.9, 0.99)).metrics
        sims = [simulate(_step, load * top, I, O, budget=T, chunk=T, max_seqs=cap, requests=requests, seed=seed,
                         warmup=0, output_cv=1.0) for seed in range(12)]
    else:
        m = solve(_step, req, sched, Load("offline", float(requests)), percentiles=(0.9, 0.99)).metrics
        sims = [simulate(_step, 0.0, I, O, budget=T, chunk=T, max_seqs=cap, requests=requests, seed=seed, warmup=0,
                         output_cv=1.0, concurrency=requests) for seed in range(12)]
    for q, key, tol in ((90, "e2e_p90_s", 0.12), (99, "e2e_p99_s", 0.26)):
        simulated = float(np.mean([np.percentile(s["e2e"], q) for s in sims]))
        assert float(m[key]) == pytest.approx(simulated, rel=tol), key


def test_a_queued_runs_percentiles_one_configuration_at_a_time_as_in_one_call():
    # each (quantile, configuration) pair leaves the root finding when its own bracket closes, so an array of finite
    # runs gives every configuration the percentiles of its own call
    rates = np.array([5.0, 40.0, 80.0, 160.0])
    together = serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=rates, num_requests=600, output_cv=1.0)
    for i, rate in enumerate(rates):
        alone = serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=float(rate), num_requests=600, output_cv=1.0)
        for key in ("ttft_p50_s", "ttft_p99_s", "e2e_p90_s", "e2e_p99_s"):
            assert float(together.metrics[key][i]) == pytest.approx(float(alone.metrics[key]), rel=1e-12), (key, rate)


def test_a_run_that_saturates_below_its_cap_queues_its_prompts_from_the_first():
    # The synthetic step with no running cap (and with one of 256 that a run of 300 at twice the saturation rate never
    # reaches): the prompt budget binds, so past saturation every prompt queues for it from the run's first request
    # (docs/serving.md section 2c). The mean TTFT then grows with the run, as the simulation's does (twenty seeds,
    # nothing dropped: 0.135, 0.334, 0.690 and 2.085 s for 10, 40, 100 and 300 requests); the closed form is +26% and
    # +23% at 100 and 300, where it was -71% and -49% when requests queued only beyond the saturated running count
    # (0.209, 0.203, 0.199, 1.064 s: falling with the run's length until the count was passed)
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    for cap in (np.inf, 256.0):
        sched = Scheduler(T, T, cap, np.asarray(1e12), 1.0)
        top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
        means = [float(solve(_step, req, sched, Load("rate", 2 * top, requests=float(n))).metrics["ttft_mean_s"])
                 for n in (10, 40, 100, 300)]
        assert means == sorted(means) and means[0] < means[-1]
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    for n in (100, 300):
        m = solve(_step, req, sched, Load("rate", 2 * top, requests=float(n))).metrics
        sims = [simulate(_step, 2 * top, I, O, budget=T, chunk=T, max_seqs=10**9, requests=n, seed=seed, warmup=0)
                for seed in range(20)]
        assert float(m["ttft_mean_s"]) == pytest.approx(np.mean([s["ttft"].mean() for s in sims]), rel=0.35), n


def test_a_long_run_at_saturation_is_near_the_simulation_and_a_light_one_is_the_steady_state():
    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    for cap in (16, 64):
        sched = Scheduler(T, T, float(cap), np.asarray(1e12), 1.0)
        top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
        m = solve(_step, req, sched, Load("rate", top, requests=1000.0)).metrics
        sims = [simulate(_step, top, I, O, budget=T, chunk=T, max_seqs=cap, requests=1000, seed=seed, warmup=0)
                for seed in range(4)]
        assert float(m["ttft_mean_s"]) == pytest.approx(np.mean([s["ttft"].mean() for s in sims]), rel=0.2)
        # at half the saturation rate a run of 300 waits as the steady state does: it holds a few requests at a time
        # (n), so its requests see n (1 - n / 900) of them (finite_run_batch), a fraction of a percent fewer
        light = solve(_step, req, sched, Load("rate", top / 2, requests=300.0)).metrics
        steady = solve(_step, req, sched, Load("rate", top / 2)).metrics
        for key in ("ttft_mean_s", "ttft_p50_s", "ttft_p99_s", "e2e_mean_s", "tpot_mean_s"):
            assert float(light[key]) == pytest.approx(float(steady[key]), rel=0.005), key
        # but a benchmark divides its 300 requests by the span from the first arrival to the last completion: the
        # last arrives at 300 / lambda and stays its end-to-end latency with its O - 1 decode steps at half the
        # running batch, no prompt arriving after it (section 2c): L = E2E - (O - 1) TPOT + (O - 1) t_d(n / 2)
        n = float(light["running_batch"])
        stay = float(light["e2e_mean_s"]) - (O - 1) * float(light["tpot_mean_s"]) + (O - 1) * (
            A_S + B_S * max(n / 2, 1.0))
        assert float(light["run_duration_s"]) == pytest.approx(300.0 / (top / 2) + stay, rel=1e-9)
        assert float(light["request_rate_per_s"]) == pytest.approx(300.0 / float(light["run_duration_s"]),
                                                                   rel=1e-9)


@pytest.mark.parametrize("cap, O, load, requests, output_cv, tol", [
    (64, 64, 0.5, 100, 0.0, 0.05), (64, 64, 0.9, 100, 0.0, 0.05), (64, 64, 0.9, 300, 0.0, 0.05),
    (64, 64, 1.0, 300, 0.0, 0.05), (64, 64, 0.3, 50, 1.0, 0.05), (256, 256, 0.8, 400, 0.0, 0.05),
    (256, 256, 1.2, 500, 0.0, 0.05), (256, 256, 2.0, 400, 0.0, 0.05), (256, 256, 4.0, 400, 0.0, 0.08)])
def test_a_finite_runs_throughput_is_its_requests_over_its_span(cap, O, load, requests, output_cv, tol):
    # a benchmark's throughput is its N requests over the span from the first arrival to the last completion
    # (docs/serving.md section 2c): against the simulation (eight seeds, nothing dropped; a seed's run of 50-500
    # requests alone varies by a few per cent) within +1.0% to +2.9% in these cases, +7.6% at 4x the saturation rate
    # with a cap of 256 (where the run tends to an offline one), where the offered rate (below saturation) or the
    # saturation rate (past it), the figure before the run's span was counted, is 5-25% high
    I, T = 512, 8192 if cap == 256 else 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), output_cv=output_cv)
    sched = Scheduler(T, T, float(cap), np.asarray(1e12), 1.0)
    top = float(solve(_step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    m = solve(_step, req, sched, Load("rate", load * top, requests=float(requests))).metrics
    sims = [simulate(_step, load * top, I, O, budget=T, chunk=T, max_seqs=cap, requests=requests, seed=seed,
                     warmup=0, output_cv=output_cv) for seed in range(8)]
    simulated = float(np.mean([float(s["throughput"]) for s in sims]))
    assert float(m["request_rate_per_s"]) == pytest.approx(simulated, rel=tol)
    assert min(load, 1.0) * top > 1.04 * simulated


@pytest.mark.parametrize("clients, prompt, output, requests, output_cv", [
    (32, 1024, 128, 96, 0.4), (16, 512, 256, 64, 1.0), (8, 512, 256, 40, 1.0), (64, 256, 128, 640, 1.0)])
def test_a_finite_closed_loop_run_lasts_until_its_longest_answer(clients, prompt, output, requests, output_cv):
    # a benchmark's P prompts over N clients: the last N run on as their batch empties until the longest answer ends
    # (docs/serving.md section 2d), so the run's throughput is P over the loop's P / lambda plus that end: against
    # the simulation (six seeds, clients re-sending 1 ms after their last token) within 8% (-2.8%, +4.7%, -7.3%,
    # +3.7%), where the loop's rate alone is 11-53% high
    req = Requests(np.asarray(float(prompt)), np.asarray(float(output)), output_cv=output_cv)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0)
    m = solve(_step, req, sched, Load("concurrency", float(clients), float(requests))).metrics
    sims = [simulate(_step, 0.0, prompt, output, budget=8192, chunk=8192, max_seqs=10**9, requests=requests,
                     seed=seed, concurrency=clients, warmup=0, output_cv=output_cv, client_delay=0.001)
            for seed in range(1, 7)]
    simulated = float(np.mean([float(s["throughput"]) for s in sims]))
    assert float(m["request_rate_per_s"]) == pytest.approx(simulated, rel=0.08)
    loop = float(solve(_step, req, sched, Load("concurrency", float(clients))).metrics["request_rate_per_s"])
    assert loop > 1.08 * simulated


def test_a_finite_run_never_completes_more_than_it_is_offered_nor_more_than_its_saturation_rate():
    # a run of N requests lasts at least N / min(R, mu) (its requests arrive over N / R; the engine completes at most
    # mu a second), so its rate is at most min(R, mu); more spread outputs, or a longer run, never shorten it per
    # request beyond that
    rates = np.array([0.5, 2.0, 8.0, 20.0, 80.0, 1e4])
    for cv in (0.0, 1.0):
        m = serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=rates, num_requests=300, output_cv=cv).metrics
        bound = np.minimum(rates, m["max_request_rate_per_s"])
        assert np.all(m["request_rate_per_s"] <= bound * (1 + 1e-12))
        assert np.all(m["run_duration_s"] >= 300 / bound * (1 - 1e-12))
        assert np.allclose(m["output_tokens_per_s"], m["request_rate_per_s"] * 256, rtol=1e-12)
    plain = serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=rates, num_requests=300).metrics
    spread = serve("llama-3.1-8b", "h100-sxm", 1024, 256, request_rate=rates, num_requests=300, output_cv=1.0).metrics
    assert np.all(spread["run_duration_s"] > plain["run_duration_s"] - 1e-9 * plain["run_duration_s"])


def test_finite_run_batch_by_hand():
    # N requests over T = N / lambda, each staying W, n = lambda W: the count rises for W, holds, falls for W. For
    # n = 50 of N = 100 the count-weighted mean count is 50 (1 - 50 / 300) = 41.67; for n = 200 (the run ends arriving
    # before anyone leaves) 100 (1 - 100 / 600) = 83.33; both formulas give 2 N / 3 at n = N; a long run is the
    # steady state
    assert finite_run_batch(50.0, 100.0) == pytest.approx(125.0 / 3.0)
    assert finite_run_batch(200.0, 100.0) == pytest.approx(250.0 / 3.0)
    assert finite_run_batch(100.0, 100.0) == pytest.approx(200.0 / 3.0)
    assert finite_run_batch(10.0, 1e9) == pytest.approx(10.0)
    # by numerical integration of the ramp for n = 50, N = 100 (W = 1, lambda = 50, T = 2)
    t = np.linspace(0.0, 3.0, 300001)  # (even steps: the ratio of the sums is the ratio of the integrals)
    count = 50.0 * (np.minimum(t, 2.0) - np.maximum(t - 1.0, 0.0))
    assert np.sum(count**2) / np.sum(count) == pytest.approx(125.0 / 3.0, rel=1e-4)


@pytest.mark.parametrize("load, requests", [(0.6, 50), (0.6, 100), (0.9, 50), (0.9, 100), (0.9, 200)])
def test_a_short_run_below_saturation_is_nearer_the_simulation_than_the_steady_state(load, requests):
    """A run of N requests from an idle engine below saturation never holds the steady state's running batch in
    full (docs/serving.md section 2c): with steps of 10 ms + 1 ms per decoding sequence the steady state's TPOT is
    12-145% above the simulated run's at 0.6-0.9 of the saturation rate and 50-200 requests; the run's figures
    (finite_run_batch) come within 32% (mean TPOT) and 28% (mean TTFT), closer in every case. Four seeds."""
    def step(n, p):
        return 0.010 + 1e-3 * np.asarray(n) + C_S * np.asarray(p)

    I, O, T = 512, 64, 2048
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0)
    rate = load * float(solve(step, req, sched, Load("rate", 1.0)).metrics["max_request_rate_per_s"])
    steady = solve(step, req, sched, Load("rate", rate)).metrics
    run = solve(step, req, sched, Load("rate", rate, requests=float(requests))).metrics
    sims = [simulate(step, rate, I, O, budget=T, chunk=T, max_seqs=10**9, requests=requests, seed=seed, warmup=0)
            for seed in range(4)]
    for key, sim_key, tol in (("tpot_mean_s", "tpot", 0.35), ("ttft_mean_s", "ttft", 0.30)):
        measured = np.mean([s[sim_key].mean() for s in sims])
        assert float(run[key]) == pytest.approx(measured, rel=tol), key
        assert abs(float(run[key]) / measured - 1) < abs(float(steady[key]) / measured - 1), key


def test_finite_runs_in_arrays_match_single_calls_and_the_cli_says_so(capsys):
    rates = np.array([2.0, 8.0, 40.0])
    many = serve(request_rate=rates, num_requests=500)
    assert list(np.isfinite(many.metrics["ttft_mean_s"])) == [True, True, True]
    assert not bool(many.metrics["stable"][2])
    for i, rate in enumerate(rates):
        one = serve(request_rate=float(rate), num_requests=500)
        for key in ("ttft_mean_s", "ttft_p90_s", "e2e_mean_s", "request_rate_per_s"):
            assert float(one.metrics[key]) == pytest.approx(float(many.metrics[key][i]), rel=1e-12), key
    assert main(["serve", "--request-rate", "40", "--num-prompts", "500"]) == 0
    out = capsys.readouterr().out
    assert "a run of 500 requests" in out and "the queue grows while the 500 requests arrive" in out
    for argv in (["serve", "--concurrency", "4", "--num-prompts", "2"], ["serve", "--request-rate", "max",
                                                                           "--num-prompts", "10"],
                 ["serve", "--request-rate", "3", "--num-prompts", "0"]):
        assert main(argv) == 2
        assert "--num-prompts" in capsys.readouterr().err
    with pytest.raises(ConfigurationError, match="num_requests"):
        serve(offline=10, num_requests=10)


@pytest.mark.parametrize("load", [{"offline": 2000}, {"request_rate": 40.0, "num_requests": 2000, "output_cv": 1.0}])
def test_queued_requests_count_in_the_slo_as_in_the_percentile_table(load):
    # An offline run's backlog (and a finite run's fluid queue) delays request p N by a share of the queue: the
    # percentile table includes it, so the target percentile's TTFT and the share meeting a TTFT target must too.
    # Independent check: the table of a run without targets. A target at its P50 (P90) TTFT is met by about half
    # (nine tenths) of the requests; the attainment is averaged over 32 positions in the queue, so within 1/32 plus
    # the small service spread. (The finite run's outputs are spread, so its queue grows one request at a time; with
    # equal outputs it grows in cohorts of the running batch, a staircase of 2000 / cap steps.)
    plain = serve(**load).metrics
    for q, key in ((0.5, "ttft_p50_s"), (0.9, "ttft_p90_s")):
        target = float(plain[key])
        assert target > 10 * float(plain["step_s"])  # (the queue, not the service, sets these TTFTs)
        met = serve(**load, ttft_target_s=target, tpot_target_s=1.0, percentile=q).metrics
        assert float(met[key]) == pytest.approx(target, rel=1e-12)
        assert float(met["slo_attainment"]) == pytest.approx(q, abs=0.05)
        assert bool(met["meets_slo"]) == (float(met[key]) <= target)


def _waves_against_simulation(I, O, T, clients, separate, client_delay=0.0):
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), synchronized=True)
    sched = Scheduler(T, T, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
    waves = solve(_step, req, sched, Load("concurrency", float(clients))).metrics
    spread = solve(_step, Requests(np.asarray(float(I)), np.asarray(float(O))), sched,
                   Load("concurrency", float(clients))).metrics
    sim = simulate(_step, 1.0, I, O, budget=T, chunk=T, max_seqs=10**9, requests=max(2000, 20 * clients),
                   concurrency=clients, separate=separate, client_delay=client_delay)
    return waves, spread, sim


@pytest.mark.parametrize("I, O, T, clients", [(256, 128, 2048, 48), (512, 64, 2048, 64), (3200, 800, 8192, 128),
                                              (1024, 1024, 4096, 64), (4096, 256, 2048, 8)])
def test_identical_requests_in_waves_with_prefill_steps_apart(I, O, T, clients):
    # SGLang's scheduler: a wave's prompts all run before its decodes, so the clients stay in one bunch and re-send
    # together (docs/serving.md section 2b). The simulation of that scheduler is the independent check; the closed
    # form that spreads the clients over the cycle gives TTFTs 4-35x too short here.
    waves, spread, sim = _waves_against_simulation(I, O, T, clients, separate=True)
    assert float(waves["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.07)
    assert float(waves["ttft_p90_s"]) == pytest.approx(np.percentile(sim["ttft"], 90), rel=0.05)
    assert float(waves["tpot_mean_s"]) == pytest.approx(sim["tpot"].mean(), rel=0.03)
    assert float(waves["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=0.03)
    assert float(waves["e2e_p90_s"]) == pytest.approx(np.percentile(sim["e2e"], 90), rel=0.03)
    assert float(spread["ttft_mean_s"]) < 0.3 * sim["ttft"].mean()


@pytest.mark.parametrize("I, O, T, clients", [(256, 128, 2048, 48), (512, 64, 2048, 64), (3200, 800, 8192, 32),
                                              (3200, 800, 8192, 128), (2048, 128, 2048, 8), (300, 200, 2048, 100)])
def test_identical_requests_in_waves_with_mixed_steps(I, O, T, clients):
    # prompt chunks riding in decode steps: the bunches are the prompts one step admitted; each TTFT is its bunch's
    # prefill after the step in progress when its requests arrive (stated tolerance 20%, docs/serving.md section 2b);
    # TPOT and throughput stay within 5%. The simulated clients re-send 1 ms after their last token, as a client over
    # an API does (the steps here take 10 ms and more)
    waves, _, sim = _waves_against_simulation(I, O, T, clients, separate=False, client_delay=1e-3)
    assert float(waves["ttft_mean_s"]) == pytest.approx(sim["ttft"].mean(), rel=0.2)
    assert float(waves["tpot_mean_s"]) == pytest.approx(sim["tpot"].mean(), rel=0.05)
    assert float(waves["request_rate_per_s"]) == pytest.approx(float(sim["throughput"]), rel=0.05)


def test_waves_by_hand():
    # 8 clients, 1,024-token prompts, an 8,192-token chunk, prefill steps apart, 11 output tokens: one prefill step
    # of 8,192 tokens (10 ms + 8,192 x 50 us = 419.6 ms) gives every request its first token; then 10 decode steps
    # of 10 ms + 8 x 0.1 ms = 10.8 ms. TTFT 419.6 ms, E2E 527.6 ms, TPOT (527.6 - 419.6) / 10 = 10.8 ms,
    # 8 / 0.5276 = 15.16 requests/s. With 16 clients: two such steps, TTFT 419.6 ms for half, 839.2 for the rest.
    req = Requests(np.asarray(1024.0), np.asarray(11.0), synchronized=True)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=False)
    m = solve(_step, req, sched, Load("concurrency", 8.0)).metrics
    assert float(m["ttft_mean_s"]) == pytest.approx(0.4196)
    assert float(m["e2e_mean_s"]) == pytest.approx(0.5276)
    assert float(m["tpot_mean_s"]) == pytest.approx(0.0108)
    assert float(m["request_rate_per_s"]) == pytest.approx(8 / 0.5276)
    m16 = solve(_step, req, sched, Load("concurrency", 16.0)).metrics
    assert float(m16["ttft_mean_s"]) == pytest.approx((0.4196 + 0.8392) / 2)
    assert float(m16["ttft_p50_s"]) == pytest.approx(0.4196) and float(m16["ttft_p90_s"]) == pytest.approx(0.8392)
    # one output token: nothing holds a wave together (each request re-sends as its prompt ends): the closed form
    plain = solve(_step, Requests(np.asarray(1024.0), np.asarray(1.0)), sched, Load("concurrency", 16.0)).metrics
    same = solve(_step, Requests(np.asarray(1024.0), np.asarray(1.0), synchronized=True), sched,
                 Load("concurrency", 16.0)).metrics
    assert float(same["ttft_mean_s"]) == float(plain["ttft_mean_s"])


def test_mixed_waves_by_hand():
    # 8 clients, 1,024-token prompts whole (unchunked) in steps of at most 2,048 tokens, mixed steps: with 8 decoding
    # sequences a step has room for 2,040 prompt tokens, so one prompt per step: k = 8 bunches of one request,
    # p = 1,024. A prompt step of the 7 others' decodes and one prompt: t_p = 10 + 0.7 + 51.2 = 61.9 ms; the others'
    # decode step 10.7 ms. The first bunch of a wave waits for that decode step, the other seven for the previous
    # bunch's prompt step: TTFT 72.6 ms for one request in eight, 123.8 ms for the rest, mean 117.4 ms. The cycle is
    # the loop's that re-sends on the step boundary (TTFT 61.9 ms), so the mean TPOT is that loop's less the mean
    # wait, 55.5 ms, over the 10 gaps.
    sched = Scheduler(2048, 2048, np.inf, np.asarray(1e12), 1.0, mixed=True, chunked=False)
    m = solve(_step, Requests(np.asarray(1024.0), np.asarray(11.0), synchronized=True), sched,
              Load("concurrency", 8.0)).metrics
    assert float(m["ttft_mean_s"]) == pytest.approx(0.0619 + (0.0107 + 7 * 0.0619) / 8)
    assert float(m["ttft_p50_s"]) == pytest.approx(0.1238) and float(m["ttft_p99_s"]) == pytest.approx(0.1238)
    assert float(m["queue_wait_mean_s"]) == pytest.approx((0.0107 + 7 * 0.0619) / 8)
    cycle = float(m["e2e_mean_s"])
    assert float(m["tpot_mean_s"]) == pytest.approx((cycle - 0.0619) / 10 - (0.0107 + 7 * 0.0619) / 8 / 10)
    assert float(m["request_rate_per_s"]) == pytest.approx(8 / cycle)
    # a single client (k = 1): the engine is idle when it re-sends, no wait
    one = solve(_step, Requests(np.asarray(1024.0), np.asarray(11.0), synchronized=True), sched,
                Load("concurrency", 1.0)).metrics
    assert float(one["queue_wait_mean_s"]) == 0.0


def test_a_finite_closed_loop_run_starts_with_one_bunch_by_hand():
    # 8 clients start at once on an idle engine, 1,024-token prompts, an 8,192-token chunk, prefill steps apart: the
    # first wave is one prefill step of 8,192 tokens, 10 ms + 8,192 x 50 us = 419.6 ms, which gives all 8 their first
    # token (a = 1,024 / 8,192: (N + 1) a / 2 + (1 - a) / 2 = 1 step). A run of 40 requests weighs that wave 8 / 40 in
    # the mean TTFT and end-to-end latency; the other 32 see the closed loop's steady state. TPOT, throughput and the
    # TTFT median (below the wave's upper half of the ranks, q < 1 - 0.2 / 2) stay the steady state's. The P90 and
    # P99 are the mixture's, x with 0.8 F_loop(x) + 0.2 F_wave(x) = q, all 8 wave TTFTs at 419.6 ms: the loop's
    # 87.5th percentile is below 419.6 ms, so the P90 is 419.6 ms (where F_wave jumps to 1); its 99th is above, so
    # the P99 solves 0.8 F_loop(x) + 0.2 = 0.99: the loop's 98.75th percentile
    req = Requests(np.asarray(1024.0), np.asarray(11.0))
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=False)
    steady = solve(_step, req, sched, Load("concurrency", 8.0), percentiles=(0.5, 0.875, 0.99, 0.9875)).metrics
    run = solve(_step, req, sched, Load("concurrency", 8.0, 40.0)).metrics
    excess = 8 / 40 * (0.4196 - float(steady["ttft_mean_s"]))
    assert float(run["ttft_mean_s"]) == pytest.approx(float(steady["ttft_mean_s"]) + excess)
    assert float(run["e2e_mean_s"]) == pytest.approx(float(steady["e2e_mean_s"]) + excess)
    for key in ("ttft_p50_s", "tpot_mean_s", "request_rate_per_s"):
        assert float(run[key]) == float(steady[key]), key
    assert float(steady["ttft_p87_5_s"]) < 0.4196 < float(steady["ttft_p98_75_s"]) < float(steady["ttft_p99_s"])
    assert float(run["ttft_p90_s"]) == pytest.approx(0.4196, rel=1e-9)
    assert float(run["ttft_p99_s"]) == pytest.approx(float(steady["ttft_p98_75_s"]), rel=1e-9)
    # 4 clients, 4,096-token prompts in chunks of 2,048 (a = 2): 8 prefill steps of 10 + 102.4 = 112.4 ms, request j's
    # first token after step 2j, a mean of 5 steps = 562 ms; a run of 4 requests is that wave alone
    long = Requests(np.asarray(4096.0), np.asarray(11.0))
    alone = solve(_step, long, Scheduler(2048, 2048, np.inf, np.asarray(1e12), 1.0, mixed=False),
                  Load("concurrency", 4.0, 4.0)).metrics
    assert float(alone["ttft_mean_s"]) == pytest.approx(0.562)
    # mixed steps: 2 clients, 1,000-token prompts, a 4,096-token budget, all of it the prompts' (nothing decodes yet
    # on the idle engine): one step of 2,000 tokens, 10 + 2,000 x 0.05 = 110 ms, gives both their first token
    mixed = solve(_step, Requests(np.asarray(1000.0), np.asarray(11.0)),
                  Scheduler(4096, 4096, np.inf, np.asarray(1e12), 1.0, mixed=True), Load("concurrency", 2.0, 2.0))
    assert float(mixed.metrics["ttft_mean_s"]) == pytest.approx(0.110)


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("clients, prompt, output, requests", [(32, 1024, 128, 320), (128, 1024, 512, 1280),
                                                                (32, 1024, 128, 96)])
def test_a_finite_closed_loop_run_agrees_with_the_simulation(separate, clients, prompt, output, requests):
    # the clients of a benchmark (--max-concurrency N --num-prompts P) start at once on an idle engine: over the whole
    # run (nothing dropped as warm-up, output lengths spread by cv 0.4 so that later requests spread over the cycle,
    # clients re-sending 1 ms after their last token as over an API) the mean TTFT is within 15% of the simulated
    # run's, where the steady state alone is 38-79% short
    req = Requests(np.asarray(float(prompt)), np.asarray(float(output)), output_cv=0.4)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
    steady = float(solve(_step, req, sched, Load("concurrency", float(clients))).metrics["ttft_mean_s"])
    run = float(solve(_step, req, sched, Load("concurrency", float(clients), float(requests))).metrics["ttft_mean_s"])
    sims = [simulate(_step, 0.0, prompt, output, budget=8192, chunk=8192, max_seqs=10**9, requests=requests,
                     seed=seed, concurrency=clients, separate=separate, warmup=0, output_cv=0.4, client_delay=0.001)
            for seed in (1, 2)]
    simulated = float(np.mean([np.mean(s["ttft"]) for s in sims]))
    assert run == pytest.approx(simulated, rel=0.15)
    assert steady < 0.65 * simulated


@pytest.mark.parametrize("separate", [False, True])
@pytest.mark.parametrize("clients, prompt, output, requests", [(32, 1024, 128, 320), (128, 1024, 512, 1280),
                                                                (32, 1024, 128, 96), (4, 4096, 256, 40)])
def test_a_finite_closed_loop_runs_upper_ttft_percentiles_agree_with_the_simulation(separate, clients, prompt, output,
                                                                                     requests):
    # the first wave's N TTFTs are the run's largest: a percentile inside the wave's upper half of the ranks (q >= 1 -
    # N / 2P) is the mixture's of the wave and the loop. Against the simulated runs (three seeds, numpy's percentiles
    # of every request's TTFT): P99 within 1.5% (the loop's alone: 51-97% short) and, where P = 3 N puts the P90 in
    # the wave, P90 within 1.5% (84-87% short); the others are the loop's as before
    req = Requests(np.asarray(float(prompt)), np.asarray(float(output)), output_cv=0.4)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=not separate)
    steady = solve(_step, req, sched, Load("concurrency", float(clients))).metrics
    run = solve(_step, req, sched, Load("concurrency", float(clients), float(requests))).metrics
    sims = [simulate(_step, 0.0, prompt, output, budget=8192, chunk=8192, max_seqs=10**9, requests=requests,
                     seed=seed, concurrency=clients, separate=separate, warmup=0, output_cv=0.4, client_delay=0.001)
            for seed in (1, 2, 3)]
    w = clients / requests
    for q, label in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
        simulated = float(np.mean([np.quantile(sim["ttft"], q) for sim in sims]))
        if q >= 1 - w / 2:
            assert float(run[f"ttft_{label}_s"]) == pytest.approx(simulated, rel=0.015), label
            assert float(steady[f"ttft_{label}_s"]) < 0.5 * simulated
        else:
            assert float(run[f"ttft_{label}_s"]) == float(steady[f"ttft_{label}_s"]), label


def test_a_finite_runs_share_meeting_a_ttft_target_counts_the_first_wave():
    # 4 clients of 4,096-token prompts, 40 requests: the wave's 16,384 prompt tokens take two 8,192-token steps of
    # 10 + 8,192 x 0.05 = 419.6 ms, the first two requests' first tokens after one, the other two's after both
    # (839.2 ms). A TTFT target of 450 ms: the loop's share of the requests (36 of 40) meets it as often as the loop
    # does, the wave's half; so the run's share is 0.9 x the loop's + 0.1 x 0.5 (no TPOT target), and its P99 TTFT
    # is the wave's last (839.2 ms), which misses the target the loop's P99 meets
    req = Requests(np.asarray(4096.0), np.asarray(256.0), output_cv=0.4)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=True)
    loop = solve(_step, req, sched, Load("concurrency", 4.0), ttft_target_s=0.45).metrics
    run = solve(_step, req, sched, Load("concurrency", 4.0, 40.0), ttft_target_s=0.45).metrics
    assert float(run["slo_attainment"]) == pytest.approx(0.9 * float(loop["slo_attainment"]) + 0.05, rel=1e-12)
    assert float(run["goodput_requests_per_s"]) == pytest.approx(
        float(run["request_rate_per_s"]) * float(run["slo_attainment"]), rel=1e-12)
    assert float(run["ttft_p99_s"]) == pytest.approx(0.8392, rel=1e-9)
    assert bool(loop["meets_slo"]) and not bool(run["meets_slo"])


@pytest.mark.parametrize("clients, prompt, output, requests", [(16, 1024, 128, 48), (32, 1024, 128, 320),
                                                                (8, 4096, 256, 80)])
def test_a_finite_run_of_identical_requests_on_mixed_steps_agrees_with_the_simulation(clients, prompt, output,
                                                                                     requests):
    # identical requests on a mixed scheduler: the later waves are staggered bunches (section 2b), the first one
    # bunch of all N prompts; with the first wave weighed N / P the run's mean TTFT is within 15% of the simulated
    # run's (clients re-send 1 ms after their last token, as the waves model takes them; two seeds)
    req = Requests(np.asarray(float(prompt)), np.asarray(float(output)), synchronized=True)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=True)
    run = solve(_step, req, sched, Load("concurrency", float(clients), float(requests))).metrics
    sims = [simulate(_step, 0.0, prompt, output, budget=8192, chunk=8192, max_seqs=10**9, requests=requests,
                     seed=seed, concurrency=clients, warmup=0, client_delay=0.001) for seed in (1, 2)]
    simulated = float(np.mean([np.mean(s["ttft"]) for s in sims]))
    assert float(run["ttft_mean_s"]) == pytest.approx(simulated, rel=0.15)
    # prefill steps apart: every wave is already one bunch, so the run's count changes nothing
    apart = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=False)
    waves = solve(_step, req, apart, Load("concurrency", float(clients))).metrics
    counted = solve(_step, req, apart, Load("concurrency", float(clients), float(requests))).metrics
    assert float(counted["ttft_mean_s"]) == float(waves["ttft_mean_s"])


def test_a_finite_closed_loop_run_through_serve_and_the_cli(capsys):
    kw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 1024, "output_tokens": 256}
    steady = serve(concurrency=64, **kw).metrics
    run = serve(concurrency=64, num_requests=640, **kw)
    assert run.settings["num_requests"] == 640
    assert float(run.metrics["ttft_mean_s"]) > float(steady["ttft_mean_s"])
    assert float(run.metrics["ttft_p50_s"]) == float(steady["ttft_p50_s"])
    # arrays of runs are the single runs element by element
    many = serve(concurrency=64, num_requests=np.array([64, 640]), **kw).metrics
    assert float(many["ttft_mean_s"][1]) == float(run.metrics["ttft_mean_s"])
    assert float(many["ttft_mean_s"][0]) > float(many["ttft_mean_s"][1])
    with pytest.raises(ConfigurationError, match="below the concurrency"):
        serve(concurrency=64, num_requests=10, **kw)
    assert main(["serve", "--concurrency", "64", "--num-prompts", "10"]) == 2
    capsys.readouterr()
    assert main(["serve", "--concurrency", "64", "--num-prompts", "640"]) == 0
    out = capsys.readouterr().out
    assert "a run of 640 requests whose first 64 start at once" in out and "run means" in out
    assert "so do the TTFT percentiles from p95 up" in out  # (1 - 64 / 1,280: the wave's upper half of the ranks)


def test_a_run_of_one_wave_by_hand():
    # 4 clients, 4 requests (the wave is the whole run) of 4,096 + 11 tokens on mixed steps with a budget of 8,192:
    # k = 2 prompt steps of 8,192 tokens (two prompts each, a = 1/2), requests 1-2 first tokens after step 1, 3-4
    # after step 2 (each step 10 + 8,192 x 0.05 = 419.6 ms without decodes: mean TTFT 1.5 x 419.6 = 629.4 ms). Then
    # D = 10 decode steps each. Decoding sequences per step: 0 and 2 in the prompt steps (sum 2, sum of squares 4),
    # then 4 in nine steps and 2 in the last (sum 38, squares 148): t_p = 10 + 0.1 x 4/2 + 409.6 = 419.8 ms,
    # t_d = 10 + 0.1 x 148/38 ms; mean TPOT = (2 t_p + 38 t_d) / (4 x 10) = (839.6 + 394.8) / 40 = 30.86 ms. Requests
    # 1-2 decode once beside the other prompts: TPOT (t_p + 9 t_d) / 10, requests 3-4 t_d, so the median is 30.86 ms
    # and the P99 (t_p + 9 t_d) / 10; the run ends with request 4's last token, 2 x 419.6 ms after the start and then
    # its ten decode steps beside 4, 4, ..., 4 and 2 sequences: 10 x 10 + 0.1 x 38 = 103.8 ms
    req = Requests(np.asarray(4096.0), np.asarray(11.0), synchronized=True)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=True)
    m = solve(_step, req, sched, Load("concurrency", 4.0, 4.0), percentiles=(0.5, 0.99)).metrics
    t_p, t_d = 0.4198, 0.010 + 1e-4 * 148 / 38
    assert float(m["ttft_mean_s"]) == pytest.approx(0.6294, rel=1e-9)
    assert float(m["ttft_p50_s"]) == pytest.approx(0.6294, rel=1e-9)  # (numpy's median of 419.6, 419.6, 839.2, 839.2)
    assert float(m["tpot_mean_s"]) == pytest.approx(0.03086, rel=1e-9)
    assert float(m["tpot_p50_s"]) == pytest.approx(0.03086, rel=1e-9)
    assert float(m["tpot_p99_s"]) == pytest.approx((t_p + 9 * t_d) / 10, rel=1e-9)
    assert float(m["e2e_mean_s"]) == pytest.approx(0.6294 + 0.3086, rel=1e-9)
    assert float(m["request_rate_per_s"]) == pytest.approx(4 / (0.8392 + 0.1038), rel=1e-9)
    assert float(m["output_tokens_per_s"]) == pytest.approx(11 * 4 / (0.8392 + 0.1038), rel=1e-9)
    # targets count the requests meeting both: TTFTs 419.6, 419.6, 839.2, 839.2 ms and TPOTs (t_p + 9 t_d) / 10 =
    # 51.3 ms for the first two, t_d = 10.4 ms for the last two
    for ttft_ms, tpot_ms, share in ((500, None, 0.5), (None, 30, 0.5), (500, 30, 0.0), (900, 30, 0.5), (None, 60, 1.0)):
        targets = {"ttft_target_s": None if ttft_ms is None else ttft_ms / 1e3,
                   "tpot_target_s": None if tpot_ms is None else tpot_ms / 1e3}
        hit = solve(_step, req, sched, Load("concurrency", 4.0, 4.0), **targets).metrics
        assert float(hit["slo_attainment"]) == share, (ttft_ms, tpot_ms)
        assert float(hit["goodput_requests_per_s"]) == pytest.approx(share * float(m["request_rate_per_s"]), rel=1e-12)
    # streamed in chunks of 10 tokens, a client's gap spans 10 steps, each a prompt step with the share 2 / 40 of the
    # gaps that are: Binomial(10, 0.05) prompt steps, 0 at the median (P = 0.599), 3 at the P99 (P(<= 2) = 0.9885)
    chunked = solve(_step, Requests(np.asarray(4096.0), np.asarray(11.0), synchronized=True, stream_interval=10), sched,
                    Load("concurrency", 4.0, 4.0), percentiles=(0.5, 0.99)).metrics
    assert float(chunked["itl_p50_s"]) == pytest.approx(10 * t_d, rel=1e-9)
    assert float(chunked["itl_p99_s"]) == pytest.approx(10 * t_d + 3 * (t_p - t_d), rel=1e-9)
    # the same four requests sent at once without a concurrency cap (an offline run within the running cap): the
    # same wave, the same figures
    offline = solve(_step, Requests(np.asarray(4096.0), np.asarray(11.0)), sched, Load("offline", 4.0),
                    percentiles=(0.5, 0.99)).metrics
    for key in ("ttft_mean_s", "tpot_mean_s", "e2e_mean_s", "tpot_p99_s", "request_rate_per_s"):
        assert float(offline[key]) == pytest.approx(float(m[key]), rel=1e-12), key


def _one_wave_against_the_simulation(mixed: bool, mode: str, N: int, I: int, O: int, cv: float):
    """(figures, simulated) of N requests at once to an idle engine and no more (N clients, or an offline run), on
    mixed steps or prefill steps apart: ``solve``'s figures with the P50 and P99, and ``simulated(figure)``, a figure's
    mean over the simulated runs (five seeds of identical outputs, twenty of spread ones; clients that re-send 1 ms
    after their last token, as over an API)."""
    req = Requests(np.asarray(float(I)), np.asarray(float(O)), synchronized=cv == 0 and mode == "concurrency",
                   output_cv=cv)
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=mixed)
    load = Load("concurrency", float(N), float(N)) if mode == "concurrency" else Load("offline", float(N))
    m = solve(_step, req, sched, load, percentiles=(0.5, 0.99)).metrics
    sims = [simulate(_step, 0.0, I, O, budget=8192, chunk=8192, max_seqs=10**9, requests=N, seed=seed, concurrency=N,
                     warmup=0, client_delay=0.001 if mode == "concurrency" else 0.0, output_cv=cv, separate=not mixed)
            for seed in range(1, 6 if cv == 0 else 21)]

    def simulated(figure):
        return float(np.mean([figure(s) for s in sims]))

    return m, simulated


@pytest.mark.parametrize("mode", ["concurrency", "offline"])
@pytest.mark.parametrize("N, I, O, cv", [(100, 1024, 128, 0.0), (100, 8192, 128, 0.0), (16, 4096, 256, 0.0),
                                         (64, 512, 512, 0.0), (32, 1024, 128, 0.4), (64, 512, 256, 1.0),
                                         (100, 15000, 128, 0.0), (50, 12000, 64, 0.4)])
def test_a_run_of_one_wave_agrees_with_the_simulation(mode, N, I, O, cv):
    # N requests sent at once to an idle engine on mixed steps, and no more (clients as many as requests, or an offline
    # run that the engine holds at once): one wave (docs/serving.md sections 2c and 2d), also where the token budget
    # keeps the saturated running count below N (the last two: 15,000- and 12,000-token prompts in chunks of 8,192).
    # Against the simulated runs (five seeds of identical outputs, twenty of spread ones): mean TTFT within 10% (-8% to
    # 0%), mean TPOT within 8% (0% to +6%), mean end-to-end latency within 15% (-0.7% to +13%), the throughput of
    # identical outputs within 3% (0.1% to 0.9%), TPOT P50 and P99 within 12% and the end-to-end P99 within 15%.
    # Before (the closed loop's steady state, whose steps all carry prompts): mean TPOT +8% to +91%, an offline run's
    # mean TTFT 66-95% short within the saturated running count and 10-12 times too long past it
    m, simulated = _one_wave_against_the_simulation(True, mode, N, I, O, cv)
    assert float(m["ttft_mean_s"]) == pytest.approx(simulated(lambda s: s["ttft"].mean()), rel=0.10)
    assert float(m["tpot_mean_s"]) == pytest.approx(simulated(lambda s: s["tpot"].mean()), rel=0.08)
    assert float(m["e2e_mean_s"]) == pytest.approx(simulated(lambda s: s["e2e"].mean()), rel=0.15)
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        simulated_q = simulated(lambda s, q=q: np.quantile(s["tpot"], q))
        assert float(m[f"tpot_{label}_s"]) == pytest.approx(simulated_q, rel=0.12)
    assert float(m["e2e_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["e2e"], 0.99)), rel=0.15)
    if cv == 0:
        assert float(m["request_rate_per_s"]) == pytest.approx(simulated(lambda s: float(s["throughput"])), rel=0.03)


def test_a_run_of_one_wave_through_serve_and_the_cli(capsys):
    # 16 clients sending 16 requests (one wave) and 16 requests sent at once to the server give the same figures, the
    # wave's: its TPOT below the closed loop's steady state (whose every step carries a prompt), its TTFT above; the
    # command line says the run is one wave
    kw = {"model": "llama-3.1-8b", "hardware": "h100-sxm", "input_tokens": 1024, "output_tokens": 256}
    loop = serve(concurrency=16, **kw).metrics
    wave = serve(concurrency=16, num_requests=16, **kw).metrics
    burst = serve(request_rate="inf", num_requests=16, **kw).metrics
    assert float(wave["tpot_mean_s"]) < float(loop["tpot_mean_s"])
    assert float(wave["ttft_mean_s"]) > float(loop["ttft_mean_s"])
    for key in ("ttft_mean_s", "tpot_mean_s", "e2e_mean_s", "tpot_p99_s", "output_tokens_per_s"):
        assert float(burst[key]) == pytest.approx(float(wave[key]), rel=1e-9), key
    assert main(["serve", "--concurrency", "16", "--num-prompts", "16"]) == 0
    out = capsys.readouterr().out
    assert "a run of 16 requests, all sent at once" in out and "one wave, the whole run" in out


@pytest.mark.parametrize("N, rate, I, O", [(50, 10.0, 1000, 2000), (50, 10.0, 1000, 500), (40, 4.0, 1024, 512),
                                           (100, 5.0, 512, 256), (100, 2.0, 512, 128), (300, 20.0, 512, 64),
                                           (200, 8.0, 206, 202), (50, 100.0, 1000, 2000), (50, 30.0, 1000, 500),
                                           (100, 50.0, 512, 1024), (40, 200.0, 2048, 256)])
def test_a_finite_run_at_a_rate_as_a_slow_wave_agrees_with_the_simulation(N, rate, I, O):
    # N requests at a Poisson rate on mixed steps that the engine holds together: one slow wave (docs/serving.md
    # section 2c), whose prompts come as they arrive (the first seven) or, faster than the budget takes them, queue
    # back to back (the last four, past the steady state's saturation rate). Against the simulated runs (eight seeds,
    # every request kept): mean TPOT and end-to-end latency within 5% (-3.1% to +3.7%), the throughput within 5% (-3.7%
    # to +1.4%), the mean TTFT within 30% (-24.6% to +2.6%; +15.5% and +14.2% in the first two runs before the prompts
    # that come as they arrive were given the wave's own wait, ``waves._arriving_ttft``, for the steady state's), the
    # TTFT P90 within 30% (-25.2% to +10.3%) and P99 within 45% (-19.4% to +39.0%; before, the first two runs' flat
    # TTFT percentiles were 37% and 52% short), the P99 TPOT within 15% and the P99 end-to-end latency
    # within 15% (-0.1% to +14.0%; it was within 25% before the end-to-end latencies of a wave whose prompts come as
    # they arrive were ranked falling with j, the first requests decoding beside the most prompts: the P99 had been
    # read at the last request, 22% short in the run of 50 at 10/s with 500 output tokens). Before (the steady state's
    # TPOT, every step carrying prompts, and the queue of its saturation rate): mean TPOT up to +93% below that rate
    # and +644% to +1,713% past it, the throughput -89% to +58%
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=True)
    m = solve(_step, req, sched, Load("rate", rate, requests=float(N)), percentiles=(0.5, 0.99)).metrics
    sims = [simulate(_step, rate, I, O, budget=8192, chunk=8192, max_seqs=10**9, requests=N, seed=seed, warmup=0)
            for seed in range(1, 9)]

    def simulated(figure):
        return float(np.mean([figure(s) for s in sims]))

    assert float(m["tpot_mean_s"]) == pytest.approx(simulated(lambda s: s["tpot"].mean()), rel=0.05)
    assert float(m["e2e_mean_s"]) == pytest.approx(simulated(lambda s: s["e2e"].mean()), rel=0.05)
    assert float(m["request_rate_per_s"]) == pytest.approx(simulated(lambda s: float(s["throughput"])), rel=0.05)
    assert float(m["ttft_mean_s"]) == pytest.approx(simulated(lambda s: s["ttft"].mean()), rel=0.30)
    m_tails = solve(_step, req, sched, Load("rate", rate, requests=float(N)), percentiles=(0.9, 0.99)).metrics
    assert float(m_tails["ttft_p90_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["ttft"], 0.9)), rel=0.30)
    assert float(m_tails["ttft_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["ttft"], 0.99)), rel=0.45)
    assert float(m["tpot_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["tpot"], 0.99)), rel=0.15)
    assert float(m["e2e_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["e2e"], 0.99)), rel=0.15)


@pytest.mark.parametrize("N, rate, I, O", [(50, 10.0, 1000, 2000), (50, 10.0, 1000, 500), (40, 4.0, 1024, 512),
                                           (100, 5.0, 512, 256), (100, 2.0, 512, 128), (300, 20.0, 512, 64),
                                           (200, 8.0, 206, 202), (50, 100.0, 1000, 2000), (50, 30.0, 1000, 500),
                                           (100, 50.0, 512, 1024), (40, 200.0, 2048, 256), (50, 10.0, 5000, 1000),
                                           (50, 10.0, 10000, 500)])
def test_a_finite_run_on_separate_prefill_steps_as_a_slow_wave_agrees_with_the_simulation(N, rate, I, O):
    # the same finite runs on prefill steps apart from decode steps that come first (SGLang, vLLM V0; docs/serving.md
    # section 2c, "A slow wave on separate prefill steps"): the prompts run as they arrive between decode steps (the
    # first seven) or, arriving faster than full prefill steps take them, queue and run back to back before any decode
    # (the last six). Against the simulated runs (eight seeds, every request kept): mean TTFT within 8% (-5.6% to
    # +2.2%), its P90 within 15% (-9.0% to +10.7%) and P99 within 45% (-11.3% to +44.2%: where the prompts come as
    # they arrive, the steady state's percentiles moved to the wave's mean; the two runs of 50 at 10/s with 1,000-token
    # prompts +44%, +26% while a prompt token cost (t_s - t_d) / p_s, before history item 91: the steady state's
    # log-normal TTFT has a longer tail than these runs', whose prompts wait for about two prefill steps at most, and
    # a run of 50 reports as its P99 an interpolation between its two slowest requests, about the population's P97:
    # the 400 requests of the eight runs pooled have a P99 of 0.259 s, the runs' own P99s average 0.223 s, the
    # closed form 0.321 s; the others within 12%), mean TPOT and end-to-end latency within
    # 8% (-1.2% to +6.5%), the throughput within 5% (-3.6% to +1.4%),
    # the P99 TPOT and end-to-end latency within 30% (the steady state's, scaled, in the run of 300 whose arrivals
    # last five lives: +25.6% and +27.6%; the rest within 14%). Before (the steady state's): mean TPOT +0.1% to +132%
    # below the saturation rate and a steady state with no end past it (the TPOT a million times too long, the
    # throughput 100% short)
    req = Requests(np.asarray(float(I)), np.asarray(float(O)))
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=False)
    m = solve(_step, req, sched, Load("rate", rate, requests=float(N)), percentiles=(0.5, 0.99)).metrics
    sims = [simulate(_step, rate, I, O, budget=8192, chunk=8192, max_seqs=10**9, requests=N, seed=seed, warmup=0,
                     separate=True) for seed in range(1, 9)]

    def simulated(figure):
        return float(np.mean([figure(s) for s in sims]))

    assert float(m["ttft_mean_s"]) == pytest.approx(simulated(lambda s: s["ttft"].mean()), rel=0.08)
    m_tails = solve(_step, req, sched, Load("rate", rate, requests=float(N)), percentiles=(0.9, 0.99)).metrics
    assert float(m_tails["ttft_p90_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["ttft"], 0.9)), rel=0.15)
    assert float(m_tails["ttft_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["ttft"], 0.99)), rel=0.45)
    assert float(m["tpot_mean_s"]) == pytest.approx(simulated(lambda s: s["tpot"].mean()), rel=0.08)
    assert float(m["e2e_mean_s"]) == pytest.approx(simulated(lambda s: s["e2e"].mean()), rel=0.08)
    assert float(m["request_rate_per_s"]) == pytest.approx(simulated(lambda s: float(s["throughput"])), rel=0.05)
    assert float(m["tpot_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["tpot"], 0.99)), rel=0.30)
    assert float(m["e2e_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["e2e"], 0.99)), rel=0.30)


@pytest.mark.parametrize("mixed, rate", [(True, 8.0), (True, 16.0), (True, 32.0), (False, 8.0), (False, 16.0)])
@pytest.mark.parametrize("step_s", [(0.010, 3e-4, 1e-4), (0.015, 2e-4, 5e-5), (0.010, 1e-4, 5e-5)])
def test_a_slow_waves_ttft_where_many_prompts_arrive_in_a_step(mixed, rate, step_s):
    # 200 ShareGPT-sized requests (208 + 218 tokens) at 8-32/s under a 2,048-token budget and a cap of 256: several
    # prompts arrive in each step and the count of running requests climbs through the arrivals, so the wait of an
    # arriving prompt is read at the mean count an arrival finds (``waves._arriving_ttft``; the prompt steps' n_a).
    # Against the simulation (eight seeds) on three steps (10-15 ms + 0.1-0.3 ms per sequence + 50-100 us per prompt
    # token): mean TTFT within 10% (mixed +1.2% to +8.0%, separate +0.5% to +5.9%), where the steady state's was -38%
    # to +32%. (On separate steps at 32/s the slowest step runs its prefill steps back to back in chains the wave's
    # intervals leave out: +53%, not asserted, docs/serving.md section 2c)
    a_s, b_s, c_s = step_s

    def step(n, p):
        return a_s + b_s * np.asarray(n) + c_s * np.asarray(p)

    sched = Scheduler(2048, 2048, 256, np.asarray(1e12), 1.0, mixed=mixed)
    m = solve(step, Requests(np.asarray(208.0), np.asarray(218.0)), sched, Load("rate", rate, requests=200.0)).metrics
    sims = [simulate(step, rate, 208, 218, budget=2048, chunk=2048, max_seqs=256, requests=200, seed=seed, warmup=0,
                     separate=not mixed) for seed in range(1, 9)]
    assert float(m["slow_wave"]) == 1.0
    assert float(m["ttft_mean_s"]) == pytest.approx(float(np.mean([s["ttft"].mean() for s in sims])), rel=0.10)


@pytest.mark.parametrize("mode", ["concurrency", "offline"])
@pytest.mark.parametrize("N, I, O, cv", [(100, 1024, 128, 0.0), (16, 4096, 256, 0.0), (32, 1024, 128, 0.4),
                                         (64, 512, 256, 1.0), (100, 15000, 128, 0.0), (50, 12000, 64, 0.4)])
def test_a_run_of_one_wave_on_separate_prefill_steps_agrees_with_the_simulation(mode, N, I, O, cv):
    # N requests at once on separate prefill steps, and no more: every prompt first, then every decode together
    # (``waves._separate_wave``; identical requests from N clients were already the synchronized loop's first wave).
    # Against the simulated runs: mean TTFT, TPOT and end-to-end latency within 4% (-3.6% to +2.1%), the TPOT and
    # end-to-end P99 within 16% (the widest spread outputs' end-to-end P99 -14.9%), the throughput within 12% (-11.5%
    # where outputs spread with cv 1, whose longest answers end the run). Before: an offline run's TTFT 28-95% short
    # and its TPOT 17-91% long, spread outputs' TPOT 24-62% long (the closed loop's steady state)
    m, simulated = _one_wave_against_the_simulation(False, mode, N, I, O, cv)
    for key, figure in (("ttft_mean_s", "ttft"), ("tpot_mean_s", "tpot"), ("e2e_mean_s", "e2e")):
        assert float(m[key]) == pytest.approx(simulated(lambda s, f=figure: s[f].mean()), rel=0.04), key
    assert float(m["tpot_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["tpot"], 0.99)), rel=0.16)
    assert float(m["e2e_p99_s"]) == pytest.approx(simulated(lambda s: np.quantile(s["e2e"], 0.99)), rel=0.16)
    assert float(m["request_rate_per_s"]) == pytest.approx(simulated(lambda s: float(s["throughput"])), rel=0.12)


def test_a_queued_wave_on_separate_prefill_steps_by_hand():
    # four requests of 4,096 + 11 tokens at 20/s on separate prefill steps with a budget of 8,192 tokens: full prefill
    # steps take 8,192 tokens in t_B = 0.01 + 5e-5 x 8,192 = 0.4196 s, slower than the prompts arrive (20 x 4,096 x
    # 0.4196 >= 8,192), so they queue (``waves._separate_wave``): a = 1/2, k = 2 steps, request j's first token at
    # max(ceil(j / 2) t_B, (j - 1) / 20 + t_1), t_1 = 0.01 + 5e-5 x 4,096 = 0.2148 s: 0.4196, 0.4196, 0.8392, 0.8392
    # (the arrivals' bound 0.2148, 0.2648, 0.3148, 0.3648 lies below), TTFTs those less 0, 0.05, 0.10, 0.15: mean
    # 0.5544 s. Then the four decode together, 10 steps of t_d = 0.01 + 4 x 1e-4 = 0.0104 s from W = 0.8392:
    # TPOT_j = (W - f_j + 0.104) / 10 = 0.05236, 0.05236, 0.0104, 0.0104 (mean 0.03138); end-to-end W + 0.104 less
    # the arrival: 0.9432, 0.8932, 0.8432, 0.7932 (mean 0.8682); the run lasts W + 0.104 = 0.9432 s: 4 / 0.9432
    # requests/s
    t_b, t_1, t_d = 0.01 + 5e-5 * 8192, 0.01 + 5e-5 * 4096, 0.01 + 4e-4
    firsts = [max(-(-j // 2) * t_b, (j - 1) / 20 + t_1) for j in (1, 2, 3, 4)]
    w = firsts[-1]
    assert firsts == [t_b, t_b, 2 * t_b, 2 * t_b]
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=False)
    m = solve(_step, Requests(np.asarray(4096.0), np.asarray(11.0)), sched, Load("rate", 20.0, requests=4.0),
              percentiles=(0.5,)).metrics
    ttfts = [f - (j - 1) / 20 for j, f in enumerate(firsts, 1)]
    assert float(m["ttft_mean_s"]) == pytest.approx(np.mean(ttfts), rel=1e-9)
    assert float(m["tpot_mean_s"]) == pytest.approx(np.mean([(w - f + 10 * t_d) / 10 for f in firsts]), rel=1e-9)
    assert float(m["e2e_mean_s"]) == pytest.approx(np.mean([w + 10 * t_d - (j - 1) / 20 for j in (1, 2, 3, 4)]),
                                                   rel=1e-9)
    assert float(m["request_rate_per_s"]) == pytest.approx(4 / (w + 10 * t_d), rel=1e-9)
    assert float(m["ttft_p50_s"]) == pytest.approx(np.quantile(ttfts, 0.5), rel=1e-9)
    assert float(m["tpot_p50_s"]) == pytest.approx(np.quantile([(w - f + 10 * t_d) / 10 for f in firsts], 0.5),
                                                   rel=1e-9)


@pytest.mark.parametrize("mixed", [True, False])
def test_a_slow_waves_percentiles_rise_with_the_level(mixed):
    # a queued wave's TTFTs rise from one prompt step to the next and fall within a step (the later requests arrived
    # later): its percentiles are those of the requests' values sorted (``waves._rank_quantile``), not read along j,
    # which put the P99 below the P90 (858 against 887 ms for 50 requests of 1,000 + 2,000 tokens at 100/s on
    # SGLang's profile for Llama-3.1-8B on an H100)
    req = Requests(np.asarray(1000.0), np.asarray(2000.0))
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=mixed)
    rates = np.array([2.0, 10.0, 30.0, 100.0, 400.0])
    m = solve(_step, req, sched, Load("rate", rates, requests=50.0), percentiles=(0.5, 0.9, 0.99)).metrics
    for figure in ("ttft", "tpot", "e2e"):
        assert np.all(m[f"{figure}_p50_s"] <= m[f"{figure}_p90_s"] * (1 + 1e-12)), figure
        assert np.all(m[f"{figure}_p90_s"] <= m[f"{figure}_p99_s"] * (1 + 1e-12)), figure
    # the sorted values' quantile is numpy's, on separate steps: request j's first token after s_j = min(ceil(j x
    # 1,000 / 8,192), 7) prefill steps, full ones of t_B = 0.01 + 5e-5 x 8,192 s and a last one of the 848 tokens
    # left, 0.01 + 5e-5 x 848 s (no earlier than its arrival plus its own prefill, 60 ms), less its arrival
    t_b, t_last = 0.01 + 5e-5 * 8192, 0.01 + 5e-5 * 848
    steps = [min(-(-j * 1000 // 8192), 7) for j in range(1, 51)]
    firsts = [max(6 * t_b + t_last if k == 7 else k * t_b, (j - 1) / 100 + 0.06) for j, k in enumerate(steps, 1)]
    ttfts = [f - (j - 1) / 100 for j, f in enumerate(firsts, 1)]
    one = solve(_step, req, Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=False),
                Load("rate", 100.0, requests=50.0), percentiles=(0.9, 0.99)).metrics
    assert float(one["ttft_p90_s"]) == pytest.approx(np.quantile(ttfts, 0.9), rel=1e-9)
    assert float(one["ttft_p99_s"]) == pytest.approx(np.quantile(ttfts, 0.99), rel=1e-9)


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_the_cli_names_a_slow_wave(engine, capsys):
    # 50 requests at 100/s that the engine holds at once: one slow wave, whatever the steady state's saturation rate;
    # the command line says so instead of a queue growing past saturation, and its running batch is the wave's
    # (Little's law over the run: at most the 50), not the saturated steady state's
    assert main(["serve", "--engine", engine, "--request-rate", "100", "--num-prompts", "50", "--input-tokens",
                 "1000", "--output-tokens", "2000"]) == 0
    out = capsys.readouterr().out
    assert "one slow wave: the engine holds all 50 requests at once" in out
    assert "the rate exceeds saturation" not in out
    m = serve("llama-3.1-8b", "h100-sxm", 1000, 2000, request_rate=100.0, num_requests=50, engine=engine).metrics
    assert float(m["slow_wave"]) == 1.0 and 40.0 <= float(m["running_batch"]) <= 50.0


def test_a_slow_waves_share_meeting_a_target_counts_its_ranks():
    # 50 requests at 100/s whose prompts outrun the budget queue in the wave's order, their TTFTs growing with the
    # rank from one prompt step to the next (within a step, eight prompts of which the later arrived later): a TTFT
    # target at the wave's median TTFT is met by about half of them (24 of 50: the ranks are counted as if the TTFT
    # grew throughout), and the goodput is the run's rate times that share
    req = Requests(np.asarray(1000.0), np.asarray(2000.0))
    sched = Scheduler(8192, 8192, np.inf, np.asarray(1e12), 1.0, mixed=True)
    plain = solve(_step, req, sched, Load("rate", 100.0, requests=50.0), percentiles=(0.5,)).metrics
    target = float(plain["ttft_p50_s"])
    m = solve(_step, req, sched, Load("rate", 100.0, requests=50.0), percentiles=(0.5,),
              ttft_target_s=target).metrics
    assert 0.4 <= float(m["slo_attainment"]) <= 0.6
    share = float(m["slo_attainment"])
    assert float(m["goodput_requests_per_s"]) == pytest.approx(share * float(m["request_rate_per_s"]), rel=1e-12)
    assert float(m["request_rate_per_s"]) == pytest.approx(float(plain["request_rate_per_s"]), rel=1e-12)


def test_waves_leave_a_closed_loop_past_the_running_cap_to_the_queue():
    # 32 clients under a cap of 8 running sequences: the requests queue inside the engine (section 2), which the
    # closed form already describes; the waves do not apply and the figures are the closed form's
    sched = Scheduler(2048, 2048, 8.0, np.asarray(1e12), 1.0, mixed=False)
    plain = solve(_step, Requests(np.asarray(512.0), np.asarray(64.0)), sched, Load("concurrency", 32.0)).metrics
    same = solve(_step, Requests(np.asarray(512.0), np.asarray(64.0), synchronized=True), sched,
                 Load("concurrency", 32.0)).metrics
    for key in ("ttft_mean_s", "tpot_mean_s", "request_rate_per_s", "ttft_p90_s"):
        assert float(same[key]) == float(plain[key]), key


def test_attention_data_parallel_layouts_are_served():
    # serve's batch is a placeholder (the traffic sets the sequences): one configuration with attention data
    # parallelism over 8 groups is served (it was refused: "batch 1 is smaller than the 8 groups"), with the numbers
    # of the same configuration inside an array of them
    kw = {"model": "qwen3-30b-a3b", "hardware": "dgx-h200", "ep": 8, "attention_dp": True, "input_tokens": 1024,
          "output_tokens": 128}
    one = serve(concurrency=64, **kw).metrics
    many = serve(concurrency=np.array([64, 128]), **kw).metrics
    for key in ("ttft_mean_s", "tpot_mean_s", "request_rate_per_s", "kv_capacity_bytes"):
        assert float(one[key]) == float(many[key][0]), key
    assert main(["serve", "--model", "qwen3-30b-a3b", "--hardware", "dgx-h200", "--ep", "8", "--attention-dp",
                 "--concurrency", "64"]) == 0


def test_synchronized_needs_a_closed_loop_of_identical_requests():
    with pytest.raises(ConfigurationError, match="synchronized"):
        serve(request_rate=2.0, synchronized=True)
    with pytest.raises(ConfigurationError, match="synchronized"):
        serve(concurrency=8, input_cv=0.5, synchronized=True)
    assert main(["serve", "--request-rate", "2", "--synchronized"]) == 2
    assert main(["serve", "--concurrency", "8", "--synchronized"]) == 0


# ---- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [
    {"request_rate": 0}, {"request_rate": -1.0}, {"request_rate": float("nan")}, {"request_rate": "fast"},
    {"request_rate": 1.0, "concurrency": 4}, {},
    {"request_rate": 1.0, "spec_tokens": 0, "spec_acceptance": 0.5},
    {"request_rate": 1.0, "spec_tokens": 3, "spec_acceptance": 1.5},
    {"request_rate": 1.0, "spec_tokens": 3, "spec_acceptance": [0.5, 0.4]},
    {"request_rate": 1.0, "spec_acceptance": 0.5},
    {"request_rate": 1.0, "chunk_tokens": 0}, {"request_rate": 1.0, "chunk_tokens": 16384},
    {"request_rate": 1.0, "prefix_hit": 1.0}, {"request_rate": 1.0, "prefix_hit": -0.1},
    {"request_rate": 1.0, "percentile": 0}, {"request_rate": 1.0, "burstiness": 0},
    {"request_rate": 1.0, "spec_tokens": 2, "spec_acceptance": 0.6, "draft_model": "qwen2.5-7b"},
])
def test_bad_input_is_one_clear_error(kwargs):
    with pytest.raises(GenmodelError):
        serve(**kwargs)


def test_cli_serve_json_and_errors(capsys):
    assert main(["serve", "--request-rate", "4", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    for key in ("request_rate_per_s", "concurrency", "running_batch", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s",
                "tpot_mean_s", "tpot_p99_s", "itl_p99_s", "e2e_p50_s", "e2e_p99_s", "output_tokens_per_s",
                "output_tokens_per_s_per_device", "max_request_rate_per_s", "utilization", "bottleneck",
                "kv_cache_bytes", "fits"):
        assert key in data, key
    assert data["request_rate_per_s"] == 4.0
    assert main(["serve", "--request-rate", "4", "--concurrency", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert main(["serve", "--request-rate", "max", "--spec-tokens", "2", "--spec-acceptance", "0.9,2"]) == 2
    assert main(["serve", "--concurrency", "8", "--ttft-ms", "300", "--tpot-ms", "40"]) == 0
    assert "goodput" in capsys.readouterr().out


def test_cli_serve_takes_the_engines_memory_share(capsys):
    # the KV cache gets what the engine's share of memory leaves after the weights, the runtime and the activations,
    # none of which depends on the share: from 0.25 to 0.9 of an A100's 80 GiB it grows by 0.65 x 80 GiB = 52 GiB
    import json

    base = ["serve", "--model", "qwen2.5-7b", "--hardware", "a100-80gb-sxm", "--input-tokens", "1022",
            "--output-tokens", "1001", "--offline", "1000", "--json"]
    runs = {}
    for share in ("0.25", "0.9"):
        assert main([*base, "--memory-fraction", share]) == 0
        runs[share] = json.loads(capsys.readouterr().out)
    grown = runs["0.9"]["kv_capacity_bytes"] - runs["0.25"]["kv_capacity_bytes"]
    assert grown == pytest.approx(0.65 * 80 * 2**30, rel=1e-9)
    assert runs["0.25"]["running_batch"] < runs["0.9"]["running_batch"]
    assert runs["0.25"]["tpot_mean_s"] < runs["0.9"]["tpot_mean_s"]  # fewer sequences per step
    library = serve("qwen2.5-7b", "a100-80gb-sxm", 1022, 1001, offline=1000,
                    efficiency=genmodel.Efficiency(usable_memory_fraction=0.25))
    assert runs["0.25"]["tpot_mean_s"] == pytest.approx(float(library.metrics["tpot_mean_s"]), rel=1e-12)


def test_draft_model_vocabulary_mismatch_is_refused():
    with pytest.raises(ConfigurationError, match="vocabulary"):
        serve(request_rate=1.0, spec_tokens=2, spec_acceptance=0.6, draft_model="qwen2.5-7b")


def test_a_configuration_with_no_room_for_one_request_is_one_clear_error(capsys):
    """Llama-3.1-8B in bf16 is 16.06e9 B of weights (8.03e9 parameters x 2 B), more than a TPU v5e's 16 GiB x 0.9
    usable: no request fits. With check_fit (the CLI) one configuration is a clear error (exit 2, nothing written);
    otherwise ``fits`` is False."""
    from genmodel.errors import DoesNotFitError

    kw = {"input_tokens": 512, "output_tokens": 64}
    with pytest.raises(DoesNotFitError, match="cannot serve one request of 512 \\+ 64 tokens on one tpu-v5e"):
        serve("llama-3.1-8b", "tpu-v5e", concurrency=8, check_fit=True, **kw)
    with np.errstate(all="raise"):  # without check_fit (the library's default): fits False, no stray warnings
        one = serve("llama-3.1-8b", "tpu-v5e", request_rate="max", **kw)
    assert not one.metrics["fits"] and one.metrics["max_request_rate_per_s"] == 0.0
    with np.errstate(all="raise"):  # no stray warnings either
        many = serve("llama-3.1-8b", "tpu-v5e", concurrency=np.array([8, 16]), **kw)
    assert not many.metrics["fits"].any() and np.isinf(many.metrics["ttft_mean_s"]).all()
    capsys.readouterr()
    assert main(["serve", "--model", "llama-3.1-8b", "--hardware", "tpu-v5e", "--input-tokens", "512",
                 "--output-tokens", "64", "--concurrency", "8", "--json"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "tpu-v5e" in err[0] and captured.out == ""


def test_a_poisson_quantile_of_a_rate_difference_rounded_below_zero_is_zero():
    from genmodel.serving.steady import poisson_quantile

    with np.errstate(all="raise"):
        assert poisson_quantile(np.array([-1.1e-16, 0.0]), 0.99).tolist() == [0.0, 0.0]
    # P(M <= 2) for M ~ Poisson(1) is e^-1 (1 + 1 + 1/2) = 0.9197 >= 0.9 > P(M <= 1) = 0.7358
    assert poisson_quantile(1.0, 0.9) == 2.0


# ---- prompt lengths that spread (history item 92, docs/serving.md section 3) ----------------------------------------

@pytest.mark.parametrize("model, hw, engine, I, O, tp, rates", [
    # found by a random sweep of rates (sixty-seventh session): the TTFT's percentiles fell as the load rose, the
    # mean rising. Qwen3-30B-A3B on an H200 with vLLM, 4,122 + 538 tokens: P99 0.395, 0.356 s at 0.1 and 0.4 of
    # saturation; with TensorRT-LLM on two, 1,845 + 965: 0.102 -> 0.087 s between 1.16 and 3.47 requests/s;
    # gpt-oss-120b on four H200s, 4,196 + 1,926: 0.227 -> 0.186 s between 0.78 and 2.35
    ("qwen3-30b-a3b", "h200-sxm", "vllm", 4122, 538, 1, None),
    ("qwen3-30b-a3b", "h200-sxm", "trtllm", 1845, 965, 2, [1.16, 2.3, 3.47]),
    ("gpt-oss-120b", "h200-sxm", "trtllm", 4196, 1926, 4, [0.78, 1.5, 2.35]),
])
def test_ttft_percentiles_of_spread_prompts_rise_with_the_load_on_an_moe_step(model, hw, engine, I, O, tp, rates):
    # lengths of cv 1 (prompts and outputs log-normal). The prompts' spread was one variance, (cv I c)^2, with c the
    # prompt tokens' cost from a step without them: on an MoE step at light load that cost carries the experts the
    # prompt's tokens read beside the few decodes', so it fell as the decodes came to read them; a prompt's own steps
    # timed at its length (a longer prompt takes at least as long, whatever the load) rise with the load
    kw = dict(tp=tp, engine=engine, input_cv=1.0, output_cv=1.0)
    if rates is None:
        top = float(serve(model, hw, I, O, request_rate="max", **kw).metrics["max_request_rate_per_s"])
        rates = [share * top for share in (0.02, 0.1, 0.2, 0.4, 0.6, 0.8)]
    m = serve(model, hw, I, O, request_rate=np.array(rates), **kw).metrics
    for key in ("ttft_mean_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "e2e_p99_s"):
        values = np.asarray(m[key], dtype=float)
        assert np.all(np.diff(values) >= -1e-9 * values[:-1]), (key, values)


def test_a_prompts_own_time_by_its_length_on_an_affine_step_by_hand():
    # the step t(n, p) = a + b n + c p, exactly linear in its prompt tokens: a prompt of I' tokens (chunks of at most
    # the budget B) takes k = ceil(I' / B) steps, k - 1 full of its tokens (a + b n + c B each) and the last with its
    # rest and the others' chunks o the mean prompt step holds, at most B of them (a + b n + c min(rest + o, B)); its
    # time less the mean prompt's (k_p = 1 here: a + b n + c (I + o)), by hand at the quantile edges the mixture uses
    a, b, c = 0.010, 2e-4, 3e-5
    I, O, B, cv = 3000.0, 200.0, 8192.0, 1.0
    req = steady.Requests(np.asarray(I), np.asarray(O), input_cv=cv, output_cv=0.0)
    sched = steady.Scheduler(B, B, np.inf, np.asarray(1e9), 16.0)
    view = steady.terms(np.asarray(0.5), req, sched)
    rows = steady._length_rows(req, sched, view)
    n = float(view.n)
    times = np.stack([a + b * n + c * p for p in rows["p"]])
    shifts, mean = steady._length_shifts(req, sched, view, rows, times)
    others = max(float(view.p_step) - I, 0.0)
    B = float(view.budget)  # (the step's tokens less its decodes' own: B_p = 8,192 - n)
    lengths = rows["lengths"]
    k = np.maximum(np.ceil(lengths / B), 1.0)
    step = a + b * n
    # (the last step holds at most the budget: the rest and the others' chunks, cut at B)
    last = np.minimum(lengths - (k - 1) * B + others, B)
    expected = (k - 1) * (step + c * B) + step + c * last - (step + c * (I + others))
    np.testing.assert_allclose(shifts, np.maximum.accumulate(expected), rtol=1e-9, atol=1e-12)

    def shift(x):  # the same shift at any length, for the draws below
        steps = np.maximum(np.ceil(x / B), 1.0)
        rest = np.minimum(x - (steps - 1) * B + others, B)
        return (steps - 1) * (step + c * B) + step + c * rest - (step + c * (I + others))

    # the mean shift over two million log-normal draws (seed 0): 1.78 ms; the mixture's pieces, each its edges'
    # average but the top one (its steps' mean count above its edge, exactly, and its mean rest), give 1.63 ms: the
    # pieces that hold a step boundary average across its jump (a tenth of a millisecond beside a TTFT of 0.14 s)
    sigma = np.sqrt(np.log1p(cv**2))
    draws = np.random.default_rng(0).lognormal(np.log(I) - sigma**2 / 2, sigma, 2_000_000)
    assert float(mean) == pytest.approx(shift(draws).mean(), rel=0.15)
    assert abs(float(mean) - shift(draws).mean()) < 2e-4


def test_the_spread_of_a_prompts_steps_by_hand():
    # prompt_length_spread (the fallback where a run's queue or an intake already places the requests): b(I') = J k(I')
    # + c I', k = ceil(I' / B), over log-normal I'; against two million draws (seed 0)
    rng = np.random.default_rng(0)
    I, cv, B, J, c = 6000.0, 0.8, 4096.0, 0.02, 4e-5
    sigma = np.sqrt(np.log1p(cv**2))
    draws = rng.lognormal(np.log(I) - sigma**2 / 2, sigma, 2_000_000)
    k = np.ceil(draws / B)
    b = J * k + c * draws
    kp = np.ceil(I / B)
    extra, var = steady.prompt_length_spread(np.asarray(I), np.asarray(cv), np.asarray(B), np.asarray(kp), J, c)
    # E[k] = sum over m >= 0 of P(I' > m B) (the draws' mean agrees within their standard error, 0.0006)
    e_k = sum(1.0 - NormalDist(np.log(I) - sigma**2 / 2, sigma).cdf(np.log(m * B)) if m else 1.0 for m in range(200))
    assert abs(k.mean() - e_k) < 3 * k.std() / np.sqrt(k.size)
    assert float(extra) == pytest.approx(J * (e_k - kp), rel=1e-4)  # (fluid past the 1e-9 point)
    assert float(var) == pytest.approx(b.var(), rel=0.01)
    # no spread, no term; a prompt run whole: the tokens' part alone
    none = steady.prompt_length_spread(np.asarray(I), np.asarray(0.0), np.asarray(B), np.asarray(kp), J, c)
    assert float(none[0]) == 0.0 and float(none[1]) == 0.0
    whole = steady.prompt_length_spread(np.asarray(I), np.asarray(cv), np.asarray(B), np.asarray(1.0), J, c,
                                        chunked=False)
    assert float(whole[0]) == 0.0 and float(whole[1]) == pytest.approx((c * cv * I) ** 2, rel=1e-12)


@pytest.mark.xfail(strict=True, reason="known defect: below its running cap a closed loop's budget wait is not in "
                                       "its cycle (docs/serving.md section 5)")
def test_a_closed_loops_mean_ttft_does_not_fall_at_its_running_cap_reproduction():
    # the DEFECT (sixty-seventh session, docs/serving.md section 5): Qwen3-30B-A3B on four B200s with vLLM, 7,533 +
    # 16 tokens of cv 0.5, where the prompt budget binds near the running cap (34.7 clients): the mean TTFT is 0.316,
    # 0.372 and 0.207 s at 32, 34 and 40 clients, as the open queue's budget wait below the cap gives way to the fixed
    # (N - N_cap) / rate past it; adding clients can only lengthen the wait
    clients = np.array([32, 34, 40])
    m = serve("qwen3-30b-a3b", "b200", 7533, 16, concurrency=clients, tp=4, engine="vllm", input_cv=0.5,
              output_cv=0.5).metrics
    assert np.all(np.diff(np.asarray(m["ttft_mean_s"], dtype=float)) >= 0)
