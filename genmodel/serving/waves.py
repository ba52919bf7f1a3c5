"""Clients that re-send identical requests in waves: a synchronized closed loop (docs/serving.md section 2b).

Contract
--------
``synchronize(step, r, s, clients, running_cap, m, percentiles, targets)`` overwrites, in place, the figures of
``steady.solve``'s closed loop ``m`` where N = ``clients`` send requests of identical lengths, every request
decodes at least one step (D >= 1) and N is within the running cap; elsewhere ``m`` is left as it is. Identical
requests admitted together end together, so each client re-sends at the same step as the others whose prompts
shared its step: the arrivals stay bunched, where the arrival theorem of the closed form spreads them over the cycle.
Everything is an array over the configuration shape; ``step`` is evaluated once on stacked arrays.
``first_wave(step, r, s, clients, requests, running_cap, m)`` does the same for the first wave alone of a finite run
from an idle engine, whose later waves are the closed loop's above (requests of spread lengths, spread over the cycle;
or identical ones on a mixed scheduler, staggered bunches): the run's mean TTFT and end-to-end latency weigh that
wave's bunch by clients / requests, and its upper TTFT percentiles (those inside the wave's share of the ranks) are
the mixture's of the wave and the loop.

Prefill steps apart from decode steps (``Scheduler.mixed`` False: SGLang, vLLM V0 without chunking): the whole
wave is one bunch. Its N I' prompt tokens (I' new tokens per prompt) run first, in k = ceil(N I' / p) steps of
p = min(B, N I') tokens (B the chunk; unchunked, whole prompts up to the budget), taking W_p seconds; the decodes
wait. Request j (1..N) gets its first token at step s_j = ceil(j a), a = I' / p, so

    TTFT_j = W_p s_j / k,     mean over j of s_j = (N + 1) a / 2 + (1 - min(a, 1)) / 2

(exact for a = 1 / whole or a whole number). Then all N decode D = (O - 1) / E steps together, each t_d = step(N, 0),
and end together: E2E = W_p + D t_d for every request, TPOT_j = (W_p - TTFT_j + D t_d) / (O - 1), and the
request rate is N / (W_p + D t_d + delay) (Little's law on the wave).

Prompt chunks riding in decode steps (``mixed`` True: vLLM V1, TensorRT-LLM): only the first wave is one bunch.
Afterwards each bunch is the set of prompts one step admitted: N I' tokens spread over k = ceil(N I' / B) steps of a
budget B = min(C, T - q N) (whole prompts when unchunked), p = N I' / k tokens each. Its prefill takes
max(1, ceil(I' / p)) x t_p, t_p = step(N - N / k, p). Bunch j + 1 ends one step after bunch j, in the step that
holds bunch j's new prompt, and a client's next request reaches the engine a little after its last token (the
response and the new request cross the API), so it misses the boundary of the step that follows: the first bunch of
a wave (k > 1) waits for the decode step in progress, t_d' = step(N - N / k, 0), and each later one for the previous
bunch's prompt step, t_p. TTFT is the wait plus the bunch's prefill: t_d' more for a share 1 / k of the requests, t_p
more for the rest (k = 1: the engine is idle when the wave re-arrives, no wait). The wait was one of the request's
decode gaps in a loop that re-sends on the step boundary, so the cycle, and the rate by Little's law, are the closed
form's and each TPOT loses wait / (O - 1). Checked against a discrete-event simulation of both schedulers whose
clients re-send 1 ms after their last token (tests/test_serving.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from genmodel.serving.queueing import meets_targets, normal_cdf, normal_ppf, percentile_label

StepFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _count_within(steps, a, n):
    """How many of requests 1..n have their first token by step ``steps`` (s_j = ceil(j a) <= steps)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.floor(np.floor(steps + 1e-9) / a + 1e-9), 0.0, n)


# relative slack of "N clients within the running cap N_cap": N_cap is the saturated load's running count, which a
# bisection leaves a rounding below the cap it reaches (32 clients under a cap of 32 run, whatever x_max's last bits);
# the waves' test here and a closed loop's queue test (``genmodel.serving.steady._figures``) share it (``within_cap``)
CAP_ROUNDING = 1e-9


def within_cap(clients, running_cap) -> np.ndarray:
    """Whether the clients all run at once: N <= N_cap within ``CAP_ROUNDING``."""
    return np.asarray(clients) <= np.asarray(running_cap) * (1.0 + CAP_ROUNDING)


def synchronize(step: StepFn, r, s, clients, running_cap, m: dict[str, np.ndarray], percentiles,
                ttft_target_s=None, tpot_target_s=None, q_target: float = 0.99) -> None:
    """Overwrite ``m`` (a closed loop's figures) where the clients re-send in waves (module docstring)."""
    N = np.asarray(clients, dtype=float)
    I_new, O, D = _lengths(r)
    delay = np.asarray(r.ttft_delay_s, dtype=float)
    applies = (D >= 1.0) & (N >= 1.0) & within_cap(N, running_cap)
    if not np.any(applies):
        return
    N = np.maximum(N, 1.0)
    tokens, most, k = _bunch(r, s, N, I_new)
    targets = (ttft_target_s, tpot_target_s, q_target)
    if s.mixed:
        new = _mixed(step, m, tokens / k, k, I_new, O, D, N, delay, percentiles, targets)
    else:
        new = _separate(step, np.minimum(most, tokens), k, tokens, I_new, O, D, N, delay, percentiles, targets)
    for key, value in new.items():
        m[key] = np.where(applies, value, m[key])


def _lengths(r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(I' the new prompt tokens of a request, O its output tokens, D its decode steps after the first token)."""
    I_new = (1.0 - r.prefix_hit) * np.asarray(r.input_tokens, dtype=float)
    O = np.asarray(r.output_tokens, dtype=float)
    return I_new, O, np.maximum(O - 1.0, 0.0) / r.tokens_per_step


def _prefill_phase(step: StepFn, p, k, tokens, decode_seqs=None):
    """(W_p, the time of a bunch's prefill phase: its ``tokens`` in k steps of p, the last one the rest, and with
    ``decode_seqs`` the time of one decode step of that many sequences, else None), from one ``step`` call."""
    rest = tokens - (k - 1.0) * p
    zero = 0.0 * p
    if decode_seqs is None:
        t_full, t_last = step(np.stack(np.broadcast_arrays(zero, zero)), np.stack(np.broadcast_arrays(p, rest)))
        t_d = None
    else:
        t_full, t_last, t_d = step(np.stack(np.broadcast_arrays(zero, zero, decode_seqs)),
                                   np.stack(np.broadcast_arrays(p, rest, zero)))
    return (k - 1.0) * t_full + t_last, t_d


def _bunch(r, s, N, I_new, idle: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the prompt tokens of N requests arriving together, the most a step takes of them, the k steps they take);
    ``idle``: they reach an idle engine, where no sequence is decoding (a mixed step's whole budget is theirs)."""
    tokens = N * I_new
    if s.mixed and not idle:
        room = np.maximum(s.max_batch_tokens - r.verify_tokens * N, 1.0)
        most = np.minimum(s.chunk_tokens, room) if s.chunked else np.maximum(np.floor(room / I_new), 1.0) * I_new
    else:
        most = np.asarray(s.chunk_tokens, dtype=float) if s.chunked else \
            np.maximum(np.floor(s.chunk_tokens / I_new), 1.0) * I_new
    return tokens, most, np.ceil(tokens / np.minimum(most, tokens) - 1e-9)


def _mean_first_token_step(a, N):
    """The mean over requests j = 1..N of the prefill step s_j = ceil(j a) that gives request j its first token, a
    bunch's prompt tokens running in steps of I' / a each: (N + 1) a / 2 + (1 - min(a, 1)) / 2 (module docstring)."""
    return (N + 1.0) * a / 2 + (1.0 - np.minimum(a, 1.0)) / 2


def first_wave(step: StepFn, r, s, clients, requests, running_cap, m: dict[str, np.ndarray], law: dict | None = None,
               percentiles=(), targets=(None, None, 0.99)) -> None:
    """Overwrite, in place, the mean TTFT and end-to-end latency of a closed loop's figures ``m`` for a finite run of
    ``requests`` (P) requests by N = ``clients`` clients that all send their first request at once to an idle engine
    (a benchmark's ``--max-concurrency N --num-prompts P`` at an unlimited request rate; docs/serving.md section 2c).
    The first N requests are one bunch: their N I' prompt tokens run in k steps of p tokens as the prefill steps of
    a synchronized wave (``_separate``; p the chunk, or the whole prompts a step's budget holds: nothing decodes yet),
    request j's first token at step ceil(j a), a = I' / p, a mean TTFT of W_p / k x ((N + 1) a / 2 + (1 - min(a, 1))
    / 2) (the decode tokens of the requests already started that ride in a mixed scheduler's later steps are left
    out). The other P - N requests see the closed loop's figures ``m`` (its steady state, or its later waves), so the
    run's means weigh the two by N / P; a first-wave request's end-to-end latency is longer by its TTFT's excess, its
    decode the loop's. With ``law`` (the loop's TTFT distribution, ``steady._figures``: ``cdf``, and with targets the
    shares ``p_ttft``, ``p_tpot``) the run's upper TTFT percentiles are the mixture's: for q >= 1 - w / 2, w = N / P
    (the wave's upper half of the run's ranks, where its TTFTs, above the loop's, set the quantile), the x of
    (1 - w) F_loop(x) + w F_wave(x) = q, F_wave the share of the wave's N TTFTs W_p / k x ceil(j a) at or below x
    (bisection between the two parts' own q-quantiles, which bracket it); nearer the boundary the quantile depends on
    how far the loop's tail reaches, which the closed form places too far out (docs/validation.md, history items 52
    and 56), and the loop's figure stays. With a TTFT target the share meeting it is the mixture's, (1 - w) p_ttft +
    w F_wave(T), times the loop's p_tpot, so the attainment and goodput follow, and ``meets_slo`` with the percentile
    at the target's. End-to-end percentiles, TPOT and throughput stay the loop's. Applies where 1 <= N <= P, N is
    within the running cap and a request decodes at least one step."""
    N = np.asarray(clients, dtype=float)
    P = np.asarray(requests, dtype=float)
    I_new, _, D = _lengths(r)
    applies = (D >= 1.0) & (N >= 1.0) & within_cap(N, running_cap) & (P >= N)
    if not np.any(applies):
        return
    N = np.maximum(N, 1.0)
    tokens, most, k = _bunch(r, s, N, I_new, idle=True)
    p = np.minimum(most, tokens)
    w_p, _ = _prefill_phase(step, p, k, tokens)
    per_step = w_p / k
    ttft = per_step * _mean_first_token_step(I_new / p, N) + np.asarray(r.ttft_delay_s, dtype=float)
    share = N / np.maximum(P, 1.0)
    excess = share * (ttft - m["ttft_mean_s"])
    m["ttft_mean_s"] = np.where(applies, m["ttft_mean_s"] + excess, m["ttft_mean_s"])
    m["e2e_mean_s"] = np.where(applies, m["e2e_mean_s"] + excess, m["e2e_mean_s"])
    if law is None or "cdf" not in law:
        return
    a, delay = I_new / p, np.asarray(r.ttft_delay_s, dtype=float)

    def wave_cdf(x):
        """The share of the wave's N TTFTs at or below x."""
        return _count_within(np.minimum((x - delay) / per_step, k), a, N) / N

    def wave_quantile(q):
        return _wave_ttft(per_step, a, k, N, q) + delay

    def run_cdf(x):
        return (1.0 - share) * law["cdf"](x) + share * wave_cdf(x)

    ttft_target_s, tpot_target_s, q_target = targets
    labels = {percentile_label(q): q for q in percentiles}
    if ttft_target_s is not None or tpot_target_s is not None:
        labels[percentile_label(q_target)] = q_target
    for label, q in labels.items():
        key = f"ttft_{label}_s"
        inside = applies & (q >= 1.0 - share / 2)  # (the wave's upper half of the run's ranks; module docstring)
        if key in m and np.any(inside):
            mixed = _mixture_quantile(run_cdf, q, m[key], wave_quantile(q))
            m[key] = np.where(inside, mixed, m[key])
    if "p_ttft" in law and ttft_target_s is not None:
        p_ttft = (1.0 - share) * law["p_ttft"] + share * wave_cdf(ttft_target_s)
        attainment = p_ttft * law["p_tpot"]
        m["slo_attainment"] = np.where(applies, attainment, m["slo_attainment"])
        m["goodput_requests_per_s"] = m["request_rate_per_s"] * m["slo_attainment"]
        label = percentile_label(q_target)
        meets = meets_targets(m[f"ttft_{label}_s"], m[f"tpot_{label}_s"], ttft_target_s, tpot_target_s,
                              np.shape(m["meets_slo"]))
        m["meets_slo"] = np.where(applies, meets, m["meets_slo"])


def _wave_ttft(per_step, a, k, N, q):
    """TTFT (engine side) of the request at quantile q of a bunch's order of service: request j = ceil(q N) gets its
    first token after step min(ceil(j a), k) of the bunch's k prefill steps of ``per_step`` seconds each."""
    return per_step * np.minimum(np.ceil(a * np.maximum(np.ceil(q * N - 1e-9), 1.0) - 1e-9), k)


def _mixture_quantile(cdf, q: float, one, other, iterations: int = 60) -> np.ndarray:
    """The smallest x with ``cdf(x) >= q`` (to a relative 1e-12 of the bracket) for a mixture of two distributions
    whose own q-quantiles are ``one`` and ``other``: at the larger of them both parts' CDFs reach q, below the
    smaller neither does, so the mixture's quantile lies between them (bisection, vectorized)."""
    lo, hi = np.minimum(one, other), np.maximum(one, other)
    lo = np.where(np.isfinite(lo), lo, hi)
    for _ in range(iterations):
        if not np.any(hi - lo > 1e-12 * np.abs(hi)):
            break
        mid = (lo + hi) / 2
        ok = cdf(mid) >= q
        hi, lo = np.where(ok, mid, hi), np.where(ok, lo, mid)
    return hi


def _separate(step: StepFn, p, k, tokens, I_new, O, D, N, delay, percentiles, targets) -> dict[str, np.ndarray]:
    """The figures of a wave with prefill steps apart: its prompts in k steps of p tokens (the last one the rest),
    then D decode steps of all N together (module docstring)."""
    ttft_target_s, tpot_target_s, q_target = targets
    w_p, t_d = _prefill_phase(step, p, k, tokens, N)  # the wave's prefill phase, and one decode step of all N
    a = I_new / p
    per_step = w_p / k

    def ttft_at(q):
        return _wave_ttft(per_step, a, k, N, q)

    cycle = w_p + D * t_d
    gaps = np.maximum(O - 1.0, 1.0)
    ttft_mean = per_step * _mean_first_token_step(a, N)
    new = {"ttft_mean_s": ttft_mean + delay, "tpot_mean_s": (cycle - ttft_mean) / gaps,
           "e2e_mean_s": cycle + delay, "queue_wait_mean_s": np.maximum(ttft_mean - per_step * np.ceil(a), 0.0),
           "request_rate_per_s": N / (cycle + delay), "running_batch": N, "decode_batch": N,
           "prompt_tokens_per_step": p, "step_s": cycle / (k + D)}
    long_share = 1.0 / np.maximum(D, 1.0)  # one gap in D holds the rest of the prefill phase
    for q in percentiles:
        label = percentile_label(q)
        new[f"ttft_{label}_s"] = ttft_at(q) + delay
        new[f"tpot_{label}_s"] = (cycle - ttft_at(1.0 - q)) / gaps
        new[f"e2e_{label}_s"] = cycle + delay
        q_long = np.clip((q - (1.0 - long_share)) / long_share, 0.0, 1.0)
        new[f"itl_{label}_s"] = np.where(q > 1.0 - long_share, t_d + w_p - ttft_at(1.0 - q_long), t_d)
    new["output_tokens_per_s"] = new["request_rate_per_s"] * O
    if ttft_target_s is not None or tpot_target_s is not None:
        hi_steps = np.inf if ttft_target_s is None else (ttft_target_s - delay) / per_step
        lo_steps = -np.inf if tpot_target_s is None else (cycle - tpot_target_s * gaps) / per_step
        lo_steps = np.maximum(lo_steps, 1.0)
        met = _count_within(np.minimum(hi_steps, k), a, N) - _count_within(np.ceil(lo_steps - 1e-9) - 1.0, a, N)
        share = np.clip(met / N, 0.0, 1.0)
        new["slo_attainment"] = share
        new["goodput_requests_per_s"] = new["request_rate_per_s"] * share
        ttft_q, tpot_q = ttft_at(q_target) + delay, (cycle - ttft_at(1.0 - q_target)) / gaps
        new["meets_slo"] = meets_targets(ttft_q, tpot_q, ttft_target_s, tpot_target_s)
        new[f"ttft_{percentile_label(q_target)}_s"], new[f"tpot_{percentile_label(q_target)}_s"] = ttft_q, tpot_q
    return new


def _mixed(step: StepFn, m, p, k, I_new, O, D, N, delay, percentiles, targets) -> dict[str, np.ndarray]:
    """The figures of a mixed scheduler's waves: bunches of p prompt tokens in k steps; every TTFT is the step in
    progress when its bunch arrives and then its bunch's prefill, a share of the gaps holds another bunch's; the cycle
    is the closed form's, less the wait moved from the decode gaps into the TTFT (module docstring)."""
    ttft_target_s, tpot_target_s, q_target = targets
    others = N - np.minimum(N, N / k)
    t_prompt, t_d, t_others = step(np.stack(np.broadcast_arrays(others, N, others)),
                                   np.stack(np.broadcast_arrays(p, 0.0 * p, 0.0 * p)))
    own = np.maximum(1.0, np.ceil(I_new / p - 1e-9))  # the prompt steps of a request's own bunch
    prefill = own * t_prompt
    # the step in progress when a bunch's next requests reach the engine (module docstring): the others' decode step
    # for the first bunch of a wave (none when the wave is one bunch), the previous bunch's prompt step for the rest
    first_share = 1.0 / k
    wait_first, wait_rest = np.where(k > 1.0, t_others, 0.0), t_prompt + 0.0 * k
    wait = first_share * wait_first + (1.0 - first_share) * wait_rest
    low, high = prefill + np.minimum(wait_first, wait_rest), prefill + np.maximum(wait_first, wait_rest)
    low_share = np.where(wait_first <= wait_rest, first_share, 1.0 - first_share)  # the requests at the shorter TTFT
    long_share = np.clip((k - own) / np.maximum(D, 1.0), 0.0, 1.0)  # its gaps that hold another bunch's prefill
    gaps = np.maximum(O - 1.0, 1.0)  # (the waves need D >= 1: at least one gap)
    # the wait was a gap of the request's decode span (the previous bunch's prompt step ran between two of its
    # tokens); it now precedes the first token, so the cycle is the same and every TPOT loses wait / gaps
    cycle = prefill + delay + gaps * m["tpot_mean_s"]
    shift = wait / gaps
    new = {"ttft_mean_s": prefill + wait + delay, "tpot_mean_s": m["tpot_mean_s"] - shift, "e2e_mean_s": cycle,
           "queue_wait_mean_s": wait, "request_rate_per_s": N / cycle, "running_batch": N}

    def ttft_at(q):
        return np.where(q <= low_share, low, high) + delay

    for q in percentiles:
        label = percentile_label(q)
        new[f"ttft_{label}_s"] = ttft_at(q)
        new[f"tpot_{label}_s"] = m[f"tpot_{label}_s"] - shift
        new[f"e2e_{label}_s"] = prefill + delay + gaps * m[f"tpot_{label}_s"]
    new["output_tokens_per_s"] = new["request_rate_per_s"] * O
    if ttft_target_s is not None or tpot_target_s is not None:
        label = percentile_label(q_target)
        tpot_mean, tpot_q = new["tpot_mean_s"], m[f"tpot_{label}_s"] - shift
        p_ttft = 1.0 if ttft_target_s is None else \
            low_share * (low + delay <= ttft_target_s) + (1.0 - low_share) * (high + delay <= ttft_target_s)
        if tpot_target_s is None:
            p_tpot = 1.0
        else:  # the closed form's normal TPOT spread, read back from its mean and q_target quantile
            z = normal_ppf(q_target)
            sigma = (tpot_q - tpot_mean) / z if z != 0 else 0.0 * prefill
            spread = np.where(sigma > 0, sigma, 1.0)
            p_tpot = np.where(sigma > 0, normal_cdf((tpot_target_s - tpot_mean) / spread),
                              (tpot_mean <= tpot_target_s).astype(float))
        new["slo_attainment"] = p_ttft * p_tpot + 0.0 * prefill
        new["goodput_requests_per_s"] = new["request_rate_per_s"] * new["slo_attainment"]
        new[f"ttft_{label}_s"], new[f"tpot_{label}_s"] = ttft_at(q_target), tpot_q
        new["meets_slo"] = meets_targets(ttft_at(q_target), tpot_q, ttft_target_s, tpot_target_s)
    for q in percentiles:
        new[f"itl_{percentile_label(q)}_s"] = np.where(q > 1.0 - long_share, t_prompt, t_d)
    new["prompt_tokens_per_step"] = p
    return new
