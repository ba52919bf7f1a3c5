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
the mixture's of the wave and the loop. Where requests = clients the wave is the whole run: its TPOT,
end-to-end latency, inter-token gap and TTFT percentiles, its throughput and its share meeting targets are the
wave's own (on mixed steps ``_one_wave``: each request decodes beside the prompts after its own, then beside the
other decodes alone), where the loop's steady state has every step carry a prompt; ``steady.solve`` calls it so for
an offline run (N requests at once) within the running cap too. ``slow_wave(step, r, s, N, lam, t0, ttft_mean)``
is the same wave with its N prompts arriving at a rate (a finite run at a request rate that the engine holds at
once): they run as they arrive, or queue where they arrive faster than the step's budget takes them
(``steady._rate_run``). On prefill steps apart (``Scheduler.mixed`` False) a run of one wave is every prompt first
and every decode after, all together (``_separate_wave``: identical outputs or spread ones, all at once or arriving
at a rate), and a slow wave either that, where its prompts queue, or decode steps alternating with the prefill of
the prompts that arrived meanwhile (``_slow_separate``; docs/serving.md section 2c).

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
from dataclasses import dataclass

import numpy as np

from genmodel.serving.queueing import length_nodes, meets_targets, normal_cdf, normal_ppf, percentile_label

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
    # P = N: the wave is the whole run, wherever the engine holds all N at once (``wave_capacity``)
    alone = (D >= 1.0) & (N >= 1.0) & (P <= N) & within_cap(N, wave_capacity(r, s))
    if not np.any(applies | alone):
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
    wave = None
    if np.any(alone) and s.mixed:
        wave = _one_wave(step, r, N, tokens / k, k, I_new / p, per_step, ttft, percentiles, targets)
    elif np.any(alone):  # prefill steps apart: the prompts first, then the decodes together
        wave = _separate_wave(step, r, N, p, k, tokens, np.inf, percentiles, targets)
    _mix_ttft_percentiles(r, N, p, k, I_new, per_step, share, applies, m, law, percentiles, targets)
    if wave is not None:
        for key, value in wave.items():
            m[key] = np.where(alone, value, m[key])


def wave_capacity(r, s) -> np.ndarray:
    """The requests an engine holds at once in one wave: its running-sequence limit, and the requests whose whole
    prompts and outputs fit in the KV cache together (``reserved_tokens`` each; a shared prefix held once)."""
    shared = r.prefix_hit * r.input_tokens if r.shared_prefix else 0.0
    return np.minimum(s.max_seqs, np.maximum(s.kv_capacity_tokens - shared, 0.0) / reserved_tokens(r, s))


def reserved_tokens(r, s) -> np.ndarray:
    """KV tokens one request takes with its whole prompt and output: its new prompt tokens, its output, half a page
    (pages of ``Scheduler.block_tokens``) and a prefix of its own if it holds one. A wave's requests all hold that
    at its end (``wave_capacity``); TensorRT-LLM's GUARANTEED_NO_EVICT reserves it from a request's admission
    (``Scheduler.reserve_outputs``)."""
    own = 0.0 if r.shared_prefix else r.prefix_hit * r.input_tokens
    return (1.0 - r.prefix_hit) * r.input_tokens + own + r.output_tokens + s.block_tokens / 2


def _mix_ttft_percentiles(r, N, p, k, I_new, per_step, share, applies, m, law, percentiles, targets) -> None:
    """The run's upper TTFT percentiles and its share meeting the targets, the mixture's of the first wave and the
    loop (``first_wave``)."""
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


# a run of one wave with spread outputs (``_one_wave``): its requests' ranks and output lengths as this many
# equal-probability nodes each
_RANK_NODES = 64
_OUTPUT_NODES = 16


def _sorted_quantile(values: np.ndarray, q: float) -> np.ndarray:
    """numpy's q-quantile (linear between neighbours) of ``values`` sorted along the leading axis."""
    pos = (values.shape[0] - 1) * q
    lo = int(np.floor(pos))
    hi = min(lo + 1, values.shape[0] - 1)
    return values[lo] + (pos - lo) * (values[hi] - values[lo])


# nodes of the sums over a wave's steps (``_phase_sums``): a phase of at most this many steps is summed step by step,
# a longer one over this many equal blocks of steps, each at its middle
_WAVE_NODES = 256


def _nodes(first, count) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(idx, fine, x): the nodes over ``count`` consecutive whole numbers from ``first`` (steps of a wave, ranks of its
    requests) on a new leading axis of ``_WAVE_NODES``: each number where there are at most that many (``fine``),
    else the middle of each of that many equal blocks."""
    idx = np.arange(_WAVE_NODES, dtype=float).reshape((-1,) + (1,) * max(np.ndim(first), np.ndim(count)))
    fine = count <= _WAVE_NODES
    return idx, fine, np.where(fine, first + idx, first + np.floor((idx + 0.5) * count / _WAVE_NODES))


def _phase_sums(first, steps, decoders) -> tuple[np.ndarray, np.ndarray]:
    """(sum of n, sum of n^2) over the ``steps`` steps x = first .. first + steps - 1 of a wave, n = ``decoders(x)``
    the sequences decoding in step x + 1: term by term up to ``_WAVE_NODES`` steps, else over that many equal blocks
    (each block's count at its middle step times its length)."""
    idx, fine, x = _nodes(first, steps)
    weight = np.where(fine, (idx < steps).astype(float), steps / _WAVE_NODES)
    n = decoders(x)
    return (weight * n).sum(axis=0), (weight * n * n).sum(axis=0)


def _one_wave(step: StepFn, r, N, p, k, a, per_step, ttft_mean, percentiles, targets) -> dict[str, np.ndarray]:
    """The figures of a run that is one wave on a mixed scheduler (N requests at once to an idle engine, no other
    request after them; docs/serving.md section 2c): ``_wave`` with request j's TTFT the bunch's, per_step s_j."""
    delay = np.asarray(r.ttft_delay_s, dtype=float)
    figures, _ = _wave(step, r, N, k, a, p, lambda first, j: per_step * first + delay, ttft_mean, np.inf,
                       percentiles, targets)
    return figures


def _wave(step: StepFn, r, N, k, a, p, ttft_of, ttft_mean, lam, percentiles, targets):
    """(figures, (t_p, t_d, t_last, n_a)) of N requests whose prompts run a prompt steps apart, in the k steps of p
    prompt tokens that request j's first token ends at step s_j = min(ceil(j a), k), j arriving (j - 1) / ``lam`` after
    the first (``lam`` inf: all at once) with the TTFT ``ttft_of(s_j, j)``; each decodes in the D steps after its first
    token, the first min(k - s_j, D) of them carrying the later prompts. With c(x) = min(floor(x / a), N) requests
    started by step x + 1, step x + 1 has n(x) = c(x) - c(x - D) decoding sequences, and the requests' decode spans
    together hold every step n(x) times, so the mean TPOT is sum_x n(x) t(x) / (N (O - 1)). On steps affine in the
    decoding count each phase's sum is its step at the count-weighted mean count times sum n (sum n^2 / sum n): t_p, a
    step of p prompt tokens, over x < k, and t_d, a decode step, over the D steps after. Request j's TPOT is (h_j t_p +
    (D - h_j) t_d) / (O - 1), h_j = min(k - s_j, D), falling with j; its end-to-end latency its TTFT plus its D steps;
    percentiles are numpy's over the N requests (linear between ranks), over 64 rank nodes times 16 output lengths with
    spread outputs. A share sum_{x<k} n / sum n of the gaps is t_p, the rest t_d. The run ends with the last request's
    last token, its D steps at the mean count after the prompts (t_last): N over that span is the request rate. The
    share meeting targets counts the ranks whose TTFT and TPOT both meet them, as if TTFT grew and TPOT fell with j
    throughout (where prompts queue, the TTFTs of the prompts one step finishes fall a little with j, the later ones
    having arrived later). The TTFT percentiles are those of the requests' TTFTs sorted (``_rank_quantile``); the
    end-to-end latencies' are read along j in the direction they run (rising where the prompts queue, falling where they
    come as they arrive). n_a is the mean decoding count over the prompt steps (sum n / k: what an arrival finds on
    average, where t_p's count is weighted by n)."""
    _, O, D = _lengths(r)
    d_steps = np.maximum(np.ceil(D - 1e-9), 1.0)
    lam = np.asarray(lam, dtype=float)

    def started(x):
        return np.clip(np.floor(x / a + 1e-9), 0.0, N)

    def decoders(x):
        return started(x) - started(x - d_steps)

    s1p, s2p = _phase_sums(0.0, k, decoders)
    s1d, s2d = _phase_sums(k, d_steps, decoders)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_p = np.where(s1p > 0, s2p / np.where(s1p > 0, s1p, 1.0), 0.0)
        n_d = np.where(s1d > 0, s2d / np.where(s1d > 0, s1d, 1.0), 0.0)
    t_p, t_d, t_last = step(np.stack(np.broadcast_arrays(n_p, n_d, s1d / d_steps)),
                            np.stack(np.broadcast_arrays(p, 0.0 * p, 0.0 * p)))
    gaps = np.maximum(O - 1.0, 1.0)

    def first_step(j):
        return np.minimum(np.ceil(a * np.clip(j, 1.0, N) - 1e-9), k)

    def ttft(j):
        return ttft_of(first_step(j), np.clip(j, 1.0, N))

    def decode_s(j, d, d_gaps):  # (the TPOT of request j with d decode steps, the time of its decode steps)
        heavy = np.clip(k - first_step(j), 0.0, d)
        spent = heavy * t_p + (d - heavy) * t_d
        return spent / d_gaps, spent

    def ranked(value_of_j, q, against=False):
        return _ranked(value_of_j, N, q, against)

    if r.output_cv > 0:  # spread outputs: requests of every rank and output length (equal-probability nodes)
        shape = np.broadcast_shapes(*map(np.shape, (N, O, k, a, t_p)))
        lengths = length_nodes(np.broadcast_to(O, shape), r.output_cv, _OUTPUT_NODES)[None, ...]
        ranks = 1.0 + (N - 1.0) * ((np.arange(_RANK_NODES) + 0.5) / _RANK_NODES).reshape((-1, 1) + (1,) * len(shape))
        d_each = np.maximum(lengths - 1.0, 0.0) / r.tokens_per_step
        tpot_each, spent = decode_s(ranks, d_each, np.maximum(lengths - 1.0, 1.0))
        e2e_each = ttft(ranks) + spent
        tpot_each, e2e_each = (np.sort(v.reshape((-1, *v.shape[2:])), axis=0) for v in (tpot_each, e2e_each))
        tpot_mean, decode_mean = tpot_each.mean(axis=0), spent.mean(axis=(0, 1))

        def tpot_at(q):
            return _sorted_quantile(tpot_each, q)

        def e2e_at(q):
            return _sorted_quantile(e2e_each, q)
    else:
        tpot_mean = (t_p * s1p + t_d * s1d) / (np.maximum(N, 1.0) * gaps) * (D / d_steps)
        decode_mean = gaps * tpot_mean

        def tpot_at(q):
            return ranked(lambda j: decode_s(j, D, gaps)[0], q, against=True)

        def e2e_of(j):
            return ttft(j) + decode_s(j, D, gaps)[1]

        # (it grows with j where the prompts queue, their TTFTs growing, and falls with j where they come as they
        # arrive, the first requests decoding beside more of the later prompts)
        falls = e2e_of(N) < e2e_of(np.ones_like(N))

        def e2e_at(q):
            return np.where(falls, ranked(e2e_of, q, against=True), ranked(e2e_of, q))

    # (with spread outputs the span is the mean answer's, which ``steady`` extends to the longest one's; the last of N
    # Poisson arrivals comes N / lam after the run's start, as in ``steady._rate_run``)
    with np.errstate(invalid="ignore"):  # (lam inf: the last arrives with the first)
        last_arrival = np.where(np.isfinite(lam), N / lam, 0.0)
    rate = N / (last_arrival + ttft(N) + D * t_last)
    new = {"ttft_mean_s": ttft_mean, "tpot_mean_s": tpot_mean, "e2e_mean_s": ttft_mean + decode_mean,
           "request_rate_per_s": rate, "output_tokens_per_s": rate * O}
    heavy_share = s1p / np.maximum(s1p + s1d, 1e-300)
    for q in percentiles:
        label = percentile_label(q)
        new[f"ttft_{label}_s"] = _rank_quantile(ttft, N, q)
        new[f"tpot_{label}_s"] = tpot_at(q)
        new[f"e2e_{label}_s"] = e2e_at(q)
        if r.stream_interval > 1:  # a client's gap spans k steps, as many of them prompt steps as a binomial draw
            k_gap = int(r.stream_interval)
            new[f"itl_{label}_s"] = k_gap * t_d + _binomial_quantile(k_gap, heavy_share, q) * (t_p - t_d)
        else:
            new[f"itl_{label}_s"] = np.where(q > 1.0 - heavy_share, t_p, t_d)
    _targets_into(new, ttft, lambda j: decode_s(j, D, gaps)[0], tpot_at, N, rate, targets)
    return new, (t_p, t_d, t_last, s1p / np.maximum(k, 1.0))


def _targets_into(new: dict, ttft, tpot_of_j, tpot_at, N, rate, targets) -> None:
    """With targets, the share of a wave's N requests meeting both, counted by rank (TTFT_j at or below its target up
    to some j, TPOT_j at or below its target from some j on), the goodput at ``rate``, and the target percentile's
    TTFT (the sorted values', ``_rank_quantile``) and TPOT (``tpot_at``) with ``meets_slo``, into ``new``."""
    ttft_target_s, tpot_target_s, q_target = targets
    if ttft_target_s is None and tpot_target_s is None:
        return
    upto = N if ttft_target_s is None else _last_rank(lambda j: ttft(j) <= ttft_target_s, N)
    below = 0.0 if tpot_target_s is None else _last_rank(lambda j: tpot_of_j(j) > tpot_target_s, N)
    share = np.clip((upto - below) / np.maximum(N, 1.0), 0.0, 1.0)
    new["slo_attainment"] = share
    new["goodput_requests_per_s"] = rate * share
    label = percentile_label(q_target)
    ttft_q, tpot_q = _rank_quantile(ttft, N, q_target), tpot_at(q_target)
    new[f"ttft_{label}_s"], new[f"tpot_{label}_s"] = ttft_q, tpot_q
    new["meets_slo"] = meets_targets(ttft_q, tpot_q, ttft_target_s, tpot_target_s)


def _ranked(value_of_j, N, q: float, against: bool = False) -> np.ndarray:
    """numpy's q-quantile (linear between ranks) of N requests' values ``value_of_j(j)``, j = 1..N, that grow with j
    (or, ``against``, fall with it)."""
    pos = 1.0 + (N - 1.0) * q
    pos = N + 1.0 - pos if against else pos
    lo, hi = np.floor(pos + 1e-9), np.ceil(pos - 1e-9)
    v_lo = value_of_j(lo)
    return v_lo + (pos - lo) * (value_of_j(hi) - v_lo)


def _rank_quantile(value_of_j, N, q: float) -> np.ndarray:
    """numpy's q-quantile (linear between ranks) of N requests' values ``value_of_j(j)``, j = 1..N, in whatever order
    they run (a queued wave's TTFTs rise from one prompt step to the next and fall within a step, the later requests
    having arrived later): every request's value up to ``_WAVE_NODES`` requests, else those of that many evenly
    spaced ranks, sorted."""
    N = np.asarray(N, dtype=float)
    shape = np.broadcast_shapes(np.shape(N), np.shape(value_of_j(np.ones_like(N))))
    N = np.broadcast_to(N, shape)
    idx = np.arange(_WAVE_NODES, dtype=float).reshape((-1,) + (1,) * len(shape))
    fine = N <= _WAVE_NODES
    j = np.where(fine, idx + 1.0, 1.0 + idx * (N - 1.0) / (_WAVE_NODES - 1.0))
    count = np.where(fine, np.maximum(np.floor(N + 1e-9), 1.0), float(_WAVE_NODES))
    values = np.sort(np.where(idx < count, value_of_j(np.minimum(j, np.maximum(N, 1.0))), np.inf), axis=0)
    pos = (count - 1.0) * q
    lo = np.floor(pos + 1e-9)
    hi = np.minimum(lo + 1.0, count - 1.0)
    v_lo, v_hi = (np.take_along_axis(values, np.broadcast_to(x, shape).astype(int)[None], axis=0)[0]
                  for x in (lo, hi))
    return v_lo + (pos - lo) * np.where(hi > lo, v_hi - v_lo, 0.0)


def _rank_mean(value_of_j, N) -> np.ndarray:
    """The mean of ``value_of_j(j)`` over requests j = 1..N (``N`` broadcast to the figures' shape): term by term up
    to ``_WAVE_NODES`` requests, else over that many equal blocks of ranks, each at its middle rank."""
    idx, fine, j = _nodes(1.0, N)
    weight = np.where(fine, (idx < N).astype(float), 1.0)
    return (weight * value_of_j(j)).sum(axis=0) / weight.sum(axis=0)


def _binomial_quantile(k: int, p, q: float) -> np.ndarray:
    """Smallest m in 0..k with P(M <= m) >= q for M ~ Binomial(k, p) (``p`` an array)."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    term = (1.0 - p) ** k  # P(M = 0)
    cdf, m = term.copy(), np.zeros_like(p)
    for j in range(1, k + 1):
        short = cdf < q - 1e-12
        if not np.any(short):
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(p < 1.0, term * (k - j + 1) / j * p / np.maximum(1.0 - p, 1e-300), 0.0)
        cdf = np.where(p < 1.0, cdf + term, 1.0)
        m = np.where(short, j, m)
    return np.where(p >= 1.0, float(k), m)


def _last_rank(holds, N, iterations: int = 64) -> np.ndarray:
    """The largest whole j in 0..N with ``holds(j)`` true for every rank up to it (``holds`` true for the first ranks
    and false after, or true or false throughout), by bisection over the ranks: lo holds (or is 0), hi does not."""
    N = np.asarray(N, dtype=float)
    everywhere = holds(N)
    lo = np.where(holds(np.ones_like(N)), 1.0, 0.0)
    hi = N + 0.0 * lo
    for _ in range(iterations):
        if not np.any(hi - lo > 1.0):
            break
        mid = np.floor((lo + hi) / 2)
        ok = holds(mid)
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return np.where(everywhere, N, lo)


@dataclass
class SlowWave:
    """A finite run at a request rate as one slow wave (``slow_wave``): where it applies, its figures (as
    ``_one_wave``'s, with the arrivals' own wait where the prompts do not queue) and the requests still decoding
    when the last one gets its first token."""

    applies: np.ndarray
    figures: dict
    running_at_end: np.ndarray
    queued: np.ndarray  # where the prompts arrive faster than the budget takes them


def slow_wave(step: StepFn, r, s, N, lam, t0, ttft_mean, percentiles=(), targets=(None, None, 0.99),
              iterations: int = 3) -> SlowWave:
    """A finite run of N requests arriving every 1 / lam seconds on mixed steps (docs/serving.md section 2c, "A finite
    run as a slow wave"): the wave of ``_wave`` with its prompts a steps apart, a = max(1 / (lam t_h), I' / B): as they
    arrive where a step's budget B takes them (each then prefilled in the step after the one it arrives in, its TTFT
    ``_arriving_ttft``'s; ``ttft_mean``, the steady state's, only seeds the passes before the last), else as the budget
    takes them, back to back, the rest queued (request j's first token at s_j t_h after the run's start, (j - 1) / lam
    after it arrived). The k = N a steps of the prompts carry p = I' / a prompt tokens each and the D steps after them
    none. It applies where the engine holds all N at once (``wave_capacity``): then no request waits for admission,
    whatever the steady state's saturation rate. t_h, the prompt steps' time, starts from ``t0`` (the steady state's
    mean step) and is refined ``iterations`` times (a and the counts follow it). On prefill steps apart it is
    ``_slow_separate``'s."""
    I_new, _, D = _lengths(r)
    N = np.asarray(N, dtype=float)
    applies = (D >= 1.0) & (N >= 1.0) & within_cap(N, wave_capacity(r, s))
    if not np.any(applies):  # (no configuration is one wave: nothing to compute)
        return SlowWave(applies, {}, np.zeros(np.shape(applies)), np.zeros(np.shape(applies), dtype=bool))
    lam = np.asarray(lam, dtype=float)
    if not s.mixed:
        return _slow_separate(step, r, s, np.maximum(N, 1.0), lam, applies, percentiles, targets, iterations)
    delay = np.asarray(r.ttft_delay_s, dtype=float)
    budget = np.minimum(s.chunk_tokens, s.max_batch_tokens)
    t_h = np.asarray(t0, dtype=float)
    arriving, n_arrival = ttft_mean, N / 2.0  # (the TTFT of prompts that come as they arrive: the last pass's own)
    for i in range(iterations + 1):
        final = i == iterations  # (percentiles and targets of the last pass only: the figures are its own)
        arrivals = 1.0 / np.maximum(lam * t_h, 1e-300)
        a = np.maximum(arrivals, I_new / budget)
        k = np.ceil(N * a - 1e-9)
        queued = I_new / budget > arrivals
        if final:
            arriving = _arriving_ttft(step, I_new, lam, t_h, n_arrival, budget) + delay

        def ttft_of(first, j, t_h=t_h, queued=queued, arriving=arriving):
            return np.where(queued, t_h * first - (j - 1.0) / lam + delay, arriving)

        mean = np.where(queued, t_h * _mean_first_token_step(a, N) - (N - 1.0) / (2.0 * lam) + delay, arriving)
        figures, (t_h, _, _, n_arrival) = _wave(
            step, r, N, k, a, np.minimum(I_new / a, budget), ttft_of, mean, lam, percentiles if final else (),
            targets if final else (None, None, targets[2]))
    d_steps = np.maximum(np.ceil(D - 1e-9), 1.0)
    at_end = np.clip(np.floor(k / a + 1e-9), 0.0, N) - np.clip(np.floor((k - d_steps) / a + 1e-9), 0.0, N)
    return SlowWave(applies, figures, at_end, queued)


def _given_an_arrival(m, p, I_new) -> tuple[np.ndarray, np.ndarray]:
    """(h, x): the chance that a step or interval holding m Poisson arrivals on average (p = I' m prompt tokens) has
    one, h = 1 - e^-m, and the prompt tokens it then holds, p / h (one prompt's I' as m tends to 0)."""
    hit = -np.expm1(-m)
    return hit, np.where(m > 1e-12, p / np.where(hit > 0, hit, 1.0), I_new)


def _arriving_ttft(step: StepFn, I_new, lam, t_h, n, budget) -> np.ndarray:
    """The mean TTFT of a prompt that arrives while the mixed steps of a slow wave take the prompts as they come:
    steps of mean length T = t_h beside n decoding sequences hold m = lam T arrivals (Poisson), so a step has a
    prompt with chance h = 1 - e^-m, and is then t_b = t(n, I' m / h) long, else t_0 = t(n, 0). An arrival lands in a
    step with a chance in proportion to its length, waits for its rest, E[L^2] / (2 E[L]), and is prefilled in the
    next step beside the prompts that came in the step it landed in, I' (1 + lam E[L^2] / E[L]) tokens (at most the
    budget B)."""
    m = lam * t_h
    hit, batch = _given_an_arrival(m, I_new * m, I_new)
    batch = np.minimum(batch, budget)
    t_0, t_b = step(np.stack(np.broadcast_arrays(n, n)), np.stack(np.broadcast_arrays(0.0 * batch, batch)))
    mean = (1.0 - hit) * t_0 + hit * t_b
    second = (1.0 - hit) * t_0**2 + hit * t_b**2
    landed = second / np.maximum(mean, 1e-300)
    own = step(n, np.minimum(I_new * (1.0 + lam * landed), budget))
    return landed / 2.0 + own


def _prompt_alone(step: StepFn, tokens, chunk):
    """Seconds of prefill steps that carry ``tokens`` prompt tokens in chunks of at most ``chunk`` and nothing else
    (the last chunk the rest), from one ``step`` call."""
    tokens = np.asarray(tokens, dtype=float)
    chunk = np.broadcast_to(np.asarray(chunk, dtype=float), np.broadcast_shapes(np.shape(tokens), np.shape(chunk)))
    steps = np.maximum(np.ceil(tokens / chunk - 1e-9), 1.0)
    zero = 0.0 * (tokens + chunk)
    full, last = step(np.stack([zero, zero]), np.stack([chunk + zero, tokens - (steps - 1.0) * chunk + zero]))
    return (steps - 1.0) * full + last


def _slow_separate(step: StepFn, r, s, N, lam, applies, percentiles, targets, iterations: int) -> SlowWave:
    """A finite run of N requests at ``lam`` per second on prefill steps apart from decode steps that come first
    (SGLang, vLLM V0; docs/serving.md section 2c, "A slow wave on separate prefill steps"), where the engine holds
    all N at once. Prompt tokens arrive at lam I' per second; a prefill step takes at most B of them (``_bunch``).

    * Where they arrive faster than full prefill steps take them (lam I' t(0, B) >= B) the prompts queue and run back
      to back; no decode step runs until the last prompt is done (prefill first): ``_separate_wave``, request j's
      first token at max(s_j t_B, (j - 1) / lam + t_1), TTFT that less its arrival (j - 1) / lam.
    * Else the engine alternates: a decode step of the running requests, then a prefill step of the prompts that
      arrived meanwhile. An interval holds m = lam T arrivals (Poisson): T = t_d(n) + (1 - e^-m) P(I' m / (1 -
      e^-m)), P(x) the prefill steps of x tokens (at least one arrival in the interval, then the tokens of those that
      came), a fixed point in T. Each interval decodes one token of every running request, so the run is
      ``_wave``'s with that interval as its prompt-carrying step (p = I' m prompt tokens, a = 1 / m intervals apart),
      T refined ``iterations`` times from 12 fixed-point steps at n = N / 2 (the prefill there through a step affine
      between I' and B tokens, exact in the last pass). A request arrives into a decode step or a prefill step
      (shares t_d / T and h P / T, h = 1 - e^-m; t_d at the mean count an arrival finds, ``_wave``'s n_a), waits for
      its rest, then for the prefill of the prompts that came in that step, itself among them: TTFT = [t_d (t_d / 2
      + P(I' (1 + lam t_d))) + h P (P / 2 + P(I' (1 + lam P)))] / (t_d + h P).
    Each part is computed only where some configuration needs it."""
    I_new, O, D = _lengths(r)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (N, lam, I_new, O, applies, r.ttft_delay_s)))
    N, lam, I_new = (np.broadcast_to(np.asarray(x, dtype=float), shape) for x in (N, lam, I_new))
    delay = np.asarray(r.ttft_delay_s, dtype=float)
    tokens, most, k_all = _bunch(r, s, N, I_new, idle=True)
    budget = np.broadcast_to(np.minimum(most, tokens), shape)
    # the prefill steps of x prompt tokens: exact (``_prompt_alone``) for the figures, and through a step affine
    # between one prompt's tokens (B / 2 where a prompt fills the budget) and B for the iterations that find the
    # interval's length (and a decode step at half the wave, for the first estimate of T)
    low = np.where(I_new < budget, I_new, budget / 2.0)
    t_low, t_full, t_mid = step(np.stack(np.broadcast_arrays(0.0, 0.0, N / 2.0)),
                                np.stack(np.broadcast_arrays(low, budget, 0.0)))
    queued = lam * I_new * t_full >= budget
    # prompts queued back to back: the wave of ``_separate`` with its arrivals spread
    back = _separate_wave(step, r, N, budget, k_all, tokens, lam, percentiles, targets) \
        if np.any(queued & applies) else None
    d_steps = np.maximum(np.ceil(D - 1e-9), 1.0)
    if not np.any(~queued & applies):  # (every configuration queues: nothing more to compute)
        return SlowWave(applies, back, N + 0.0 * d_steps, queued)
    # prompts as they arrive: intervals of a decode step and the prefill of the arrivals meanwhile (kept where the
    # prompts do not queue)

    def prefill_of(x, exact):
        if exact:
            return _prompt_alone(step, x, budget)
        steps = np.maximum(np.ceil(x / budget - 1e-9), 1.0)
        rest = x - (steps - 1.0) * budget
        return (steps - 1.0) * t_full + t_low + (t_full - t_low) * (rest - low) / (budget - low)

    def share_of(p, exact=True):
        """(h, P): the chance an interval of p / I' arrivals on average has one, and the prefill that it then runs."""
        hit, batch = _given_an_arrival(p / I_new, p, I_new)
        return hit, prefill_of(batch, exact)

    def interval(exact_share=None):
        """The interval's step: a decode step of n and, where p > 0, the prefill share of ``share_of(p)`` (affine,
        or the exact share given, computed at the one p the wave's prompt-carrying steps have)."""
        def of(n, p):
            if exact_share is None:
                hit, prefill = share_of(p, exact=False)
                return step(n, 0.0 * p) + hit * prefill
            return step(n, 0.0 * p) + np.where(p > 0, exact_share, 0.0)
        return of

    t_h, n_arrival = t_mid, N / 2.0
    for _ in range(12):
        hit, prefill = share_of(np.minimum(lam * t_h * I_new, budget), exact=False)
        t_h = t_mid + hit * prefill
    for i in range(iterations + 1):
        final = i == iterations
        m_arr = np.minimum(lam * t_h, budget / I_new)
        a = 1.0 / np.maximum(m_arr, 1e-300)
        k = np.ceil(N * a - 1e-9)
        p = I_new * m_arr
        ttft, exact_share = 0.0 * p, None
        if final:
            hit, batch = _given_an_arrival(m_arr, p, I_new)
            # an arrival in a decode step (share t_d / T) waits for its rest and then the prefill of the prompts
            # that came in that step, itself among them; in a prefill step (share h P / T), likewise: the prefill of
            # an interval's prompts and of those two in one step call. (The decode step an arrival lands in is at the
            # arrivals' mean count, the time average over the prompts' intervals, not the count-weighted one that
            # times the decodes.)
            _, approx = share_of(p, exact=False)
            t_d = step(n_arrival, 0.0 * n_arrival)
            prefill, after_d, after_p = prefill_of(np.minimum(np.stack(np.broadcast_arrays(
                batch, I_new * (1.0 + lam * t_d), I_new * (1.0 + lam * approx))), budget), True)
            exact_share = hit * prefill
            ttft = (t_d * (t_d / 2.0 + after_d) + hit * prefill * (prefill / 2.0 + after_p)) \
                / np.maximum(t_d + hit * prefill, 1e-300) + delay
        figures, (t_h, _, _, n_arrival) = _wave(
            interval(exact_share), r, N, k, a, p, lambda first, j, ttft=ttft: ttft + 0.0 * first, ttft, lam,
            percentiles if final else (), targets if final else (None, None, targets[2]))
    if back is not None:
        figures = {key: np.where(queued, back[key], value) for key, value in figures.items() if key in back}
    at_end = np.clip(np.floor(k / a + 1e-9), 0.0, N) - np.clip(np.floor((k - d_steps) / a + 1e-9), 0.0, N)
    return SlowWave(applies, figures, np.where(queued, N, at_end), queued)


def _separate_wave(step: StepFn, r, N, p, k, tokens, lam, percentiles, targets) -> dict[str, np.ndarray]:
    """The figures of N requests whose prompts run first, in k prefill steps of p tokens (the last one the rest) with
    no decode step between them, arriving (j - 1) / ``lam`` after the first (``lam`` inf: all at once), and then
    decode together (prefill steps apart from decode steps: SGLang, vLLM V0; docs/serving.md section 2c). Request j
    gets its first token at f_j = max(s_j t_p, (j - 1) / lam + t_1), s_j = min(ceil(j a), k), a = I' / p, t_p a
    prefill step of p tokens (the last one's time where s_j = k), t_1 its prompt's prefill alone; the decodes start at
    W = f_N. With outputs spread (``_OUTPUT_NODES`` equal-probability
    lengths L, D_L = (L - 1) / E decode steps) a request of length L decodes among N min(D_i, D_L) / D_L sequences on
    average (the others leave as they end: the mean over lengths i), its D_L steps at that count; identical outputs
    decode all N together. TTFT_j = f_j - (j - 1) / lam, TPOT_jL = (W - f_j + D_L t_L) / (L - 1), E2E = W - (j - 1) /
    lam + D_L t_L; means over j = 1..N (``_rank_mean``), percentiles by rank (times the lengths' nodes, sorted, with
    spread outputs). The run ends with the mean answer: N / (W + D t(n_mean)) is the request rate. One client gap
    in D holds the rest of the prefill phase; targets count the ranks meeting both (TTFT grows with j, TPOT falls)."""
    I_new, O, D = _lengths(r)
    delay = np.asarray(r.ttft_delay_s, dtype=float)
    shape = np.broadcast_shapes(*(np.shape(x) for x in (N, p, k, tokens, lam, I_new, O, delay)))
    N, p, k, lam, I_new, O, D = (np.broadcast_to(np.asarray(x, dtype=float), shape)
                                 for x in (N, p, k, lam, I_new, O, D))
    with np.errstate(divide="ignore"):
        gap = np.where(np.isfinite(lam) & (lam > 0), 1.0 / lam, 0.0)
    a = I_new / p
    cv = r.output_cv
    nodes = _OUTPUT_NODES if cv > 0 else 1
    lengths = np.concatenate([length_nodes(O, cv, nodes), O[None]])  # the nodes, then the mean answer
    d = np.maximum(lengths - 1.0, 0.0) / r.tokens_per_step
    share = np.minimum(d[:, None], d[None, :-1]).mean(axis=1) / np.maximum(d, 1e-12)
    # one step call: a prefill step of p tokens and the last one, a prompt's own chunks (its full ones and its last),
    # then a decode step at each length's mean count and one of all N
    one_chunk = np.minimum(p, I_new)
    own_steps = np.maximum(np.ceil(I_new / one_chunk - 1e-9), 1.0)
    zero = 0.0 * p
    prefills = [p, tokens - (k - 1.0) * p + zero, one_chunk, I_new - (own_steps - 1.0) * one_chunk]
    times = step(np.concatenate([np.stack([zero] * 4), N * np.where(d > 0, share, 1.0), N[None]]),
                 np.concatenate([np.stack(prefills), np.zeros((nodes + 2, *shape))]))
    t_full, t_rest = times[0], times[1]
    one = (own_steps - 1.0) * times[2] + times[3]
    t_dec, t_all = times[4:-1], times[-1]

    def first(j):
        steps = np.minimum(np.ceil(a * j - 1e-9), k)
        done = np.where(steps >= k, (k - 1.0) * t_full + t_rest, steps * t_full)
        return np.maximum(done, (j - 1.0) * gap + one)

    def ttft(j):
        return first(j) - (j - 1.0) * gap + delay

    w = first(N)
    dec = d * t_dec
    dec_nodes, L = dec[:-1], lengths[:-1]
    gaps = np.maximum(L - 1.0, 1.0)
    mean_first = _rank_mean(first, N)
    mean_arrival = (N - 1.0) / 2.0 * gap
    ttft_mean = mean_first - mean_arrival + delay
    new = {"ttft_mean_s": ttft_mean,
           "tpot_mean_s": ((w - mean_first + dec_nodes) / gaps).mean(axis=0),
           "e2e_mean_s": w - mean_arrival + dec_nodes.mean(axis=0) + delay}
    rate = N / (w + dec[-1] + delay)
    new["request_rate_per_s"], new["output_tokens_per_s"] = rate, rate * O

    if cv > 0:  # every rank and length (equal-probability nodes), sorted
        ranks = 1.0 + (N - 1.0) * ((np.arange(_RANK_NODES) + 0.5) / _RANK_NODES).reshape((-1, 1) + (1,) * len(shape))
        tpot_each = (w - first(ranks) + dec_nodes[None]) / gaps[None]
        e2e_each = w - (ranks - 1.0) * gap + dec_nodes[None] + delay
        tpot_each, e2e_each = (np.sort(np.broadcast_to(v, (_RANK_NODES, nodes, *shape)).reshape((-1, *shape)),
                                       axis=0) for v in (tpot_each, e2e_each))

        def tpot_at(q):
            return _sorted_quantile(tpot_each, q)

        def e2e_at(q):
            return _sorted_quantile(e2e_each, q)
    else:
        def tpot_at(q):
            return _ranked(lambda j: (w - first(j) + dec_nodes[0]) / gaps[0], N, q, against=True)

        def e2e_at(q):
            return _ranked(lambda j: w - (j - 1.0) * gap + dec_nodes[0] + delay, N, q, against=True)

    k_gap = max(int(r.stream_interval), 1)
    long_share = np.minimum(k_gap / np.maximum(D, 1.0), 1.0)  # the client gaps that hold the rest of the prefill phase
    for q in percentiles:
        label = percentile_label(q)
        new[f"ttft_{label}_s"] = _rank_quantile(ttft, N, q)
        new[f"tpot_{label}_s"] = tpot_at(q)
        new[f"e2e_{label}_s"] = e2e_at(q)
        q_long = np.clip((q - (1.0 - long_share)) / long_share, 0.0, 1.0)
        rest = w - _ranked(first, N, 1.0 - q_long)
        new[f"itl_{label}_s"] = k_gap * t_all + np.where(q > 1.0 - long_share, rest, 0.0)
    # (the TPOT that meets a target is a request's of the mean length)
    _targets_into(new, ttft, lambda j: (w - first(j) + dec[-1]) / np.maximum(O - 1.0, 1.0), tpot_at, N, rate,
                  targets)
    return new


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
