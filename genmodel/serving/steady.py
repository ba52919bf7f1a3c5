"""Steady state of continuous batching, in closed form over an abstract step time (docs/serving.md sections 1-4).

Contract
--------
``solve(step, requests, scheduler, load, percentiles)`` returns a ``SteadyState``: running batch, TTFT / TPOT /
ITL / end-to-end percentiles, throughput, saturation rate and what binds, for one replica of an engine whose step
time is ``step(n, p)`` seconds with ``n`` decoding sequences and ``p`` prompt tokens in the step (any vectorized
callable: genmodel.serving.serve passes the roofline engine step; the tests pass an affine one and a discrete-event
simulation of the same scheduler). Everything is an array over the configuration shape; the step is evaluated on a
few stacked arrays per call, never in a Python loop over configurations. A step function that also splits its
operator time (``step.splits_compute``: ``step(n, p, compute=True)`` gives the seconds, those of compute-bound
operators and those of all operators) lets ``SteadyState.compute_share`` say whether compute binds the saturation
rate (NaN otherwise).

The unknown is x, the requests admitted per engine step. Given x everything but the step time is arithmetic:

    D      = (O - 1) / E                     decode steps per request (E tokens per step with speculation)
    n      = x D  (mixed)  or  x D / (1 - pi)  (separate prefill steps)     decoding sequences per step
    B_p    = min(C, T - q n)                 prompt tokens one step can carry (budget T, chunk C, q = tokens
                                             per decoding sequence: 1, or k + 1 when verifying a draft)
    k_p    = ceil(I' / B_p)                  steps a prompt of I' = (1 - h) I new tokens takes
    pi     = max(1 - (1 - x k_p / N_cap)^N_cap, x I' / B_p)   share of steps carrying prompt tokens
    p_s    = x I' / pi                       prompt tokens in such a step
    N_run  = x (k_p + D_wall)                running sequences (Little's law in steps)

and the step time a tagged request sees (1 - pi) t_d + pi t_s, with t_d = step(1 + n, 0) and t_s = step(1 + n, p_s)
(itself and the stationary others, at most N_cap - 1 of them: its latencies; in an open loop with mixed steps its
decode steps also carry the echo of its own prompt steps, the prompts that arrived meanwhile, ``_joint_quantile``);
the time-average step t = (1 - pi)
step(max(n, 1), 0) + pi step(n, p_s) (an engine with work steps with at least one sequence) gives the throughput
x / t. Open loop: x solves x = lambda t(x) (bracketed on a load grid, then solved between the two nodes); the running
batch is the time average lambda (a request's prompt steps + its decode steps), Little's law, and so is the mean
TPOT over requests: the tagged request's raised by the decoding count's size bias (``_count_bias``; the TPOT's
quantiles keep the tagged request's). Closed loop with N clients: N_run(x) = N, throughput N / E2E (Little); with
mixed prompt steps a request's life in E2E is k_p + D steps of the loop's own time-average step (every running
request is in every step; ``_closed_rows``), or of t(x_max) once N reaches the cap, and the tagged request's steps,
scaled to it, split it into TTFT and TPOT. Saturation: the largest
x with N_run <= N_cap = min(max sequences, KV capacity / tokens held per request) and x I' <= B_p; an engine that
preempts and recomputes at a full KV cache (``Scheduler.recompute_on_full``) carries R = clip(T - C / N_run, 0, O)
more prompt tokens per request in pi and p_s, O where the KV cache binds the load (``_recompute_tokens``). An open
loop's admission queue has the running cap for its servers, or where lambda(x) passes the saturated rate below x_max
(that term, a step that jumps, KV offload's peak) the running count at which it first reaches it (``_queue_cap``).
A cached prefix is held once (``Requests.shared_prefix``) or by each request; ``Requests.ttft_delay_s``, a fixed wait
before a request's prefill (a prefix reloaded from host memory), adds to its TTFT and end-to-end time. A finite run at a
rate (``Load.requests`` = N) is solved on the steps its requests see: n and N_run scaled to
``finite_run_batch(N_run, N)`` (the run's ramp-up and drain), on the load grid too, so its load, latencies and
saturation rate are the run's.
A finite run (an offline run, a rate run of N requests, a closed loop's P prompts) also has ``run_duration_s``, the
span from its first arrival to its last completion, over which its rates are counted as a benchmark counts them:
the last request's stay in an emptying engine, and with spread outputs the longest answer (docs/serving.md 2c, 2d).
A server that takes new requests in only every N decode steps (``Requests.recv_interval``, SGLang's
--scheduler-recv-interval) makes an arrival during decoding wait for the next intake, at its place in the cycle, and
for the prompts taken in with it that came before it (``_Intake``: in the TTFT, the queue wait and, in a closed loop,
the throughput; docs/serving.md section 3).
Prompt lengths that spread (``Requests.input_cv``, log-normal): a prompt of I' tokens takes k = ceil(I' / B_p) steps,
k - 1 full of its own tokens and the last with its rest beside the others' chunks; its own time at each of the
lengths' quantile edges, from the step timed at a few prompt-token counts (``_length_rows``, ``_length_shifts``),
less the mean prompt's is a shift the TTFT and end-to-end percentiles are mixed over (where a finite or offline run's
queue or an intake's cycle already places the requests, the spread's moments join the service's instead:
``prompt_length_spread``; docs/serving.md section 3).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from genmodel.engine.bisection import bisect
from genmodel.serving.cascade import GAIN_CAP, life_spread, size_bias
from genmodel.serving.queueing import (
    LogNormal,
    Wait,
    cdf_of_sum,
    kingman_wait,
    longest_of,
    meets_targets,
    normal_cdf,
    normal_ppf,
    peaked_erlang_c,
    percentile_label,
    quantile_of_sum,
    queue_mixture_cdf,
    queue_mixture_quantiles,
    with_normal,
)
from genmodel.serving.waves import first_wave, reserved_tokens, slow_wave, synchronize, within_cap

StepFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
# shares of the saturated load x_max the open loop is solved on (``_open_loop_x``): these nodes, each interval split
# in GRID_SPLIT, so that the mean step is nearly linear between neighbours; the goodput search tests the coarse ones
GRID_SPLIT = 4
# the least half-width, as a share of the load, of the secant a size bias takes its slopes from (``_count_bias``): a
# step jagged in its batch (captured graphs, compiled buckets) makes a narrower one jump between neighbouring loads
SECANT_MIN = 0.5
_COARSE = np.array([0.0, 1e-3, 3e-3, 0.01, 0.03, 0.07, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.82, 0.88, 0.93,
                    0.96, 0.98, 0.99, 0.995, 1.0])
GRID = np.append(np.linspace(_COARSE[:-1], _COARSE[1:], GRID_SPLIT, endpoint=False, axis=1).ravel(), 1.0)
# points an SLO bisection (``_max_rate_meeting``) tests in one call: each is a stacked step evaluation, so about 15
# for one configuration (four levels of the bisection tree at once, ``genmodel.engine.bisection``)
SLO_POINTS = 16
# cells of a queue's places (QUEUE_NODES + 1 edges) over which an offline or finite run's percentiles and SLO
# attainment are mixed (``queueing.QueueMixture``)
QUEUE_NODES = 32
# the quantile of the running count whose step sets the count's share of the TPOT spread (``_count_width``): the p99
# of the default percentiles, which it then gives exactly where the count is the only spread
COUNT_QUANTILE = 0.99
Z_COUNT = float(normal_ppf(COUNT_QUANTILE))


@dataclass(frozen=True)
class Scheduler:
    """What the engine's scheduler allows per replica (see the module docstring)."""

    max_batch_tokens: float  # T: tokens one step may carry (decode tokens + prompt tokens)
    chunk_tokens: float  # C: prompt tokens one step may carry (<= T)
    max_seqs: float  # running sequences (inf: no limit but memory)
    kv_capacity_tokens: np.ndarray  # KV-cache tokens the replica can hold
    block_tokens: float = 16.0  # KV page size: a request holds whole pages (half a page wasted on average)
    mixed: bool = True  # prompt chunks ride in decode steps (vLLM, TensorRT-LLM); False: separate steps (SGLang)
    chunked: bool = True  # prompts are split into chunks; False: a prompt runs whole in one step
    reserve_outputs: bool = False  # a request is admitted only with KV room for its whole prompt and output
    # (TensorRT-LLM's GUARANTEED_NO_EVICT); False: on the tokens it holds (vLLM, SGLang: ``_held_tokens``)
    recompute_on_full: bool = False  # a full KV cache preempts the request admitted last, recomputed on readmission
    # (vLLM): the running requests' overflow of the cache comes back as prompt work (``_recompute_tokens``)


@dataclass(frozen=True)
class Requests:
    """The request stream: mean lengths, their spread, prefix hits, burstiness and speculation."""

    input_tokens: np.ndarray
    output_tokens: np.ndarray
    input_cv: float = 0.0
    output_cv: float = 0.0
    max_output_tokens: float = float("inf")  # the longest answer any request gives (a benchmark's max_tokens or its
    # dataset's longest answer): the end of a finite run with spread outputs (``longest_drain``)
    prefix_hit: float = 0.0  # share of each prompt found in the prefix cache
    arrival_cv2: float = 1.0  # squared coefficient of variation of inter-arrival times (Poisson 1; gamma 1/shape)
    tokens_per_step: float = 1.0  # E: tokens a decode step emits per sequence (speculation)
    verify_tokens: float = 1.0  # q: tokens per decoding sequence in a step (k + 1 with speculation)
    shared_prefix: bool = True  # True: one prefix shared by all requests, held once; False: each request's own
    # (a host-memory prefix cache reloads it per request and the request holds its copy while it runs)
    ttft_delay_s: np.ndarray | float = 0.0  # fixed wait before a request's prefill (the prefix reload over the link)
    synchronized: bool = False  # closed loop of identical requests: clients re-send in waves (genmodel.serving.waves)
    stream_interval: int = 1  # tokens per streamed chunk after the first: a client's gap between tokens spans that many
    recv_interval: int = 1  # decode steps between the server's intakes of new requests while it decodes (SGLang's
    # --scheduler-recv-interval): an arrival during decoding waits for the next intake


@dataclass(frozen=True)
class Load:
    """``mode``: 'rate' (requests/s per replica, Poisson or bursty), 'concurrency' (clients kept in flight),
    'max' (saturated steady state) or 'offline' (``value`` requests submitted at once). ``requests`` (rate mode): a
    finite run of that many requests per replica, a benchmark's prompt count (``finite_run_wait``); (concurrency
    mode) a run of that many whose clients all start at once (``genmodel.serving.waves.first_wave``)."""

    mode: str
    value: np.ndarray | float | None = None
    requests: np.ndarray | float | None = None
    server: bool = False  # (offline mode) sent to the API server at an infinite rate, not through the offline class


@dataclass
class Terms:
    """The arithmetic of one load x (arrays)."""

    x: np.ndarray
    n: np.ndarray  # decoding sequences per step
    budget: np.ndarray  # B_p
    steps_prefill: np.ndarray  # k_p
    pi: np.ndarray
    p_step: np.ndarray  # p_s
    decode_steps: np.ndarray  # D_wall
    running: np.ndarray  # N_run
    cap: np.ndarray  # N_cap
    kv_seqs: np.ndarray  # running requests the KV cache can hold
    kv_tokens: np.ndarray  # tokens held by the running requests, the shared prefix included
    recompute: np.ndarray | float = 0.0  # R, prompt tokens recomputed per request (``_recompute_tokens``)


def terms(x, r: Requests, s: Scheduler) -> Terms:
    """Everything that follows from the admitted requests per step x (module docstring)."""
    x = np.asarray(x, dtype=float)
    I_new = (1.0 - r.prefix_hit) * r.input_tokens
    D = np.maximum(r.output_tokens - 1.0, 0.0) / r.tokens_per_step
    if s.mixed:
        n = x * D
        room = s.max_batch_tokens - r.verify_tokens * n
        budget = np.minimum(s.chunk_tokens, room) if s.chunked else np.maximum(room, I_new)
    else:
        budget = np.broadcast_to(np.asarray(s.chunk_tokens if s.chunked else np.maximum(s.chunk_tokens, I_new),
                                            dtype=float), np.shape(I_new)) + 0.0 * x
    safe = np.maximum(budget, 1e-9)
    kp = np.ceil(I_new / safe) if s.chunked else np.ones_like(safe)
    work = x * I_new / safe  # the prompt budget's share the admitted prompts fill
    xk = x * kp
    if s.mixed:
        d_wall = D + 0.0 * x
    else:  # prompt steps apart stall the decodes: D / (1 - pi) wall steps, here with Poisson arrivals' pi (for the cap)
        d_wall = D / np.maximum(1.0 - np.clip(np.maximum(-np.expm1(-xk), work), 0.0, 1.0), 1e-12)
    # the running cap, from the tokens a request holds over its life (or reserves, ``Scheduler.reserve_outputs``)
    held, shared = _held_tokens(r, s, kp, d_wall)
    cache = np.maximum(s.kv_capacity_tokens - shared, 0.0)  # C, the tokens the requests' own KV can take
    kv_seqs = cache / (reserved_tokens(r, s) if s.reserve_outputs else held)
    cap = np.minimum(s.max_seqs, kv_seqs)
    # share of steps carrying prompt tokens: each of at most N_cap running requests is in its prompt steps with
    # probability x k_p / N_cap, so 1 - (1 - x k_p / N_cap)^N_cap (Poisson's 1 - exp(-x k_p) for a cap far above the
    # load; x k_p for a cap of one: a request's prompt step, then its decode steps, then the next's)
    pi = _prompt_share(xk, cap, work)
    if not s.mixed:
        stall = np.maximum(1.0 - pi, 1e-12)
        n, d_wall = x * D / stall, D / stall
    with np.errstate(divide="ignore", invalid="ignore"):
        p_step = np.where(pi > 0, x * I_new / np.where(pi > 0, pi, 1.0), I_new / kp)
    running = x * (kp + d_wall)
    extra = _recompute_tokens(r, s, running, kv_seqs, cache) if s.recompute_on_full else 0.0
    if np.any(extra):
        pi, p_step = _recompute_steps(x, I_new, kp, safe, cap, pi, p_step, extra)
    return Terms(x, n, budget, kp, pi, p_step, d_wall, running, cap, kv_seqs, running * held + shared, extra)


def _recompute_tokens(r: Requests, s: Scheduler, running, kv_seqs, cache) -> np.ndarray:
    """R, the prompt tokens an engine that preempts and recomputes (``Scheduler.recompute_on_full``) prefills again
    per request: R = clip(T - C / P, 0, O), T the tokens a request holds at its end (``reserved_tokens``), C =
    ``cache`` the KV tokens less a shared prefix (``terms``), P the requests the cache takes in: the running ones,
    or without bound where the KV cache binds the load (N_run at the KV cap, below max_seqs), as a saturated queue
    offers prompts without end.

    Why: admission on the tokens held now admits a prompt whenever it fits, so the running requests' later growth is
    paid by preempting the request admitted last, which gives back what it holds and prefills it again on
    readmission. Running requests that grow together to T each overflow the cache by P T - C, recomputed; per
    request T - C / P: none while P whole requests fit (P <= C / T), O once the cache is packed with prompts
    (P >= C / I), and O at a saturated cap. The simulation (vLLM's rule, tests/serving_oracle.py) recomputes
    0.7-1.0 O a request at a saturated KV cap, over prompts of 206-2,048 and outputs of 128-1,024 tokens, and loses
    throughput in a closed loop from about C / T clients on (docs/serving.md section 1)."""
    full = (running >= kv_seqs * (1.0 - 1e-9)) & (kv_seqs <= s.max_seqs)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(full, 0.0, cache / np.maximum(running, 1e-300))
        return np.clip(reserved_tokens(r, s) - per, 0.0, r.output_tokens)


def _recompute_steps(x, I_new, kp, budget, cap, pi, p_step, extra):
    """(pi, p_s) with R = ``extra`` (``_recompute_tokens``) more prompt tokens a request, in R / I' more passes of
    about k_p steps each, added to the prompt steps' share pi and their tokens p_s (within one step's budget); pi
    and p_s as they are where R is 0."""
    more = extra > 0
    xk = x * kp * (1.0 + extra / np.maximum(I_new, 1e-12))
    work = np.minimum(x * (I_new + extra) / budget, 1.0)
    pi_full = np.minimum(_prompt_share(xk, cap, work), 1.0 - 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        p_full = np.minimum(x * (I_new + extra) / np.where(pi_full > 0, pi_full, 1.0), budget)
    return np.where(more, pi_full, pi), np.where(more, p_full, p_step)


def _prompt_share(xk, population, work) -> np.ndarray:
    """pi, the share of steps carrying prompt tokens: those in which at least one of N = max(``population``, 1)
    requests, each in its prompt steps with probability x k_p / N (``xk`` = x k_p), is in them, 1 - (1 - x k_p / N)^N
    (Poisson's 1 - exp(-x k_p) for N infinite); at least ``work``, the share of the prompt budget the prompts fill
    (x I' / B_p); at most 1 (``terms``, ``_closed_rows``, ``_chunk_quantile``)."""
    population = np.maximum(population, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        binomial = -np.expm1(population * np.log1p(-np.minimum(xk / population, 1.0)))
    return np.clip(np.maximum(np.where(population < np.inf, binomial, -np.expm1(-xk)), work), 0.0, 1.0)


def _held_tokens(r: Requests, s: Scheduler, prompt_part, decode_part) -> tuple[np.ndarray, float]:
    """(KV tokens a running request holds on average over its life, the shared prefix held once): half its new
    prompt tokens in its prompt part, its prompt and half its output in its decode part, the parts weighed by
    ``prompt_part`` and ``decode_part`` (steps, or seconds), plus half a page and a prefix of its own if it holds
    one (``Requests.shared_prefix``)."""
    I_new = (1.0 - r.prefix_hit) * r.input_tokens
    own = 0.0 if r.shared_prefix else r.prefix_hit * r.input_tokens
    life = prompt_part * I_new / 2 + decode_part * (I_new + r.output_tokens / 2)
    held = life / np.maximum(prompt_part + decode_part, 1e-12) + s.block_tokens / 2 + own
    return held, (r.prefix_hit * r.input_tokens if r.shared_prefix else 0.0)


def feasible(t: Terms, r: Requests) -> np.ndarray:
    """True where the load x is sustainable: running within the cap, prompt work within the budget."""
    I_new = (1.0 - r.prefix_hit) * r.input_tokens
    return (t.running <= t.cap) & (t.x * I_new <= t.budget) & (t.budget > 0) & (t.pi < 1.0)


def saturation(r: Requests, s: Scheduler, iterations: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(x_max, binding) — the largest sustainable x (bisection on arithmetic only) and which limit binds at it:
    0 max sequences, 1 KV memory, 2 token budget."""
    I_new = (1.0 - r.prefix_hit) * r.input_tokens
    shape = np.broadcast_shapes(np.shape(I_new), np.shape(r.output_tokens), np.shape(s.kv_capacity_tokens))
    hi = np.broadcast_to(np.maximum(s.max_batch_tokens, s.chunk_tokens) / I_new + 1.0, shape)
    # (every figure terms() reads, so that the test's answers have the bracket's shape: ``bracket_shape``)
    shape = np.broadcast_shapes(shape, *map(np.shape, (r.tokens_per_step, r.verify_tokens, s.max_seqs,
                                                       s.block_tokens)))
    hi = np.broadcast_to(hi, shape)
    lo, hi = bisect(lambda mid: feasible(terms(mid, r, s), r), np.zeros(shape), hi, iterations, bracket_shape=True)
    t = terms(hi, r, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.stack(np.broadcast_arrays(t.running / s.max_seqs, t.running / np.maximum(t.kv_seqs, 1e-12),
                                              np.where(t.budget > 0, hi * I_new / t.budget, np.inf)))
    return lo, np.argmax(ratios, axis=0)


BINDING = np.array(["max sequences", "kv memory", "token budget"])


@dataclass
class SteadyState:
    """Per replica: the solved load and every figure of the served traffic (seconds, requests/s, tokens/s)."""

    metrics: dict[str, np.ndarray]
    terms: Terms
    x_max: np.ndarray
    binding: np.ndarray
    # of the saturated state's time-average step (x_max's t_d and t_s), the share of its operator time in
    # compute-bound operators (``_compute_share``; NaN from a step function without the split): above half, compute
    # binds the saturation rate
    compute_share: np.ndarray


def _evaluate(step: StepFn, t: Terms, mixed: bool, tagged: bool = True, width=None, extra: tuple = (),
              compute: bool = False, joint=None, lengths=None) -> dict[str, np.ndarray]:
    """Stacked step evaluations. ``tagged``: the steps a tagged decoding request sees, t_d and t_s (itself and the n
    stationary others), and the tagged prompt's own step t_own (the n others), with prefill steps apart (``mixed``
    false) also the prefill step of half the prompt tokens, ``res["t_half"]`` (``_prompt_work``); with ``width``
    (tagged), also the decode step at 1 + n + width sequences, the running count's upper quantile (``_count_width``),
    and the rise of the mean step the request sees, ``res["rise"]``: t_d's (at least 0; 0 where the width is), or
    with mixed steps (1 - pi) t_d's + pi t_s's (the step with the prompt chunks at the quantile's count, one more
    row). With
    ``joint`` (tagged, without ``width``: (n_hi, pi_hi, p_hi, pi_e, p_e, rise) of ``_joint_quantile``), the decode
    step at n_hi sequences and the step with p_hi prompt tokens there, and the step with p_e prompt tokens at 1 + n:
    the mean step the request sees with its prompt's echo, ``res["echo_step"]`` ((1 - pi_e) t_d + pi_e t(p_e), at
    least (1 - pi) t_d + pi t_s), and the mean step's rise from it to their joint quantile, ``res["joint_rise"]``
    ((1 - pi_hi) t_d(n_hi) + pi_hi t(n_hi, p_hi) less the echo's step, at least 0); with prefill steps apart
    (``mixed`` false) the decode step at n_hi alone, and ``res["joint_rise"]`` its rise from t_d plus the stalls'
    rise (at least 0; no echo).
    Else only the time-average steps, t_d and t_s at the load's n decoding sequences (a throughput is x / their
    mean; ``_untagged_rows``).

    ``lengths`` (tagged; ``_length_rows``): the prompt tokens of the tagged prompt's own (last) step for prompts at
    the lengths' quantile edges, then the mean prompt's and a full budget's, each with the step's n decoding others
    (none with prefill steps apart): their times ``res["t_len"]`` (``_length_shifts``).

    ``extra``: further (n, p) pairs, of the same shape, stacked into the same call (``res["extra"]``, in order), so
    that a step needed beside them costs no call of its own. Each row's value is the step's at its own (n, p)
    whatever else is stacked with it.

    ``compute``: also each row's seconds of compute-bound operators and of all operators (``res["compute"]``, two
    arrays over the stacked rows; ``_compute_share``), from a step function that offers them (``step.splits_compute``
    true: ``step(n, p, compute=True)`` returns (seconds, compute-bound seconds, operator seconds)); NaN from one that
    does not."""
    zeros = np.zeros_like(t.p_step)
    n_seen = (1.0 if tagged else 0.0) + t.n
    if tagged:
        ns, ps = [n_seen, n_seen if mixed else zeros, t.n if mixed else zeros], [zeros, t.p_step, t.p_step]
        if not mixed:  # (a prefill step of half the tokens: the prompt tokens' cost c, ``_prompt_work``)
            ns.append(zeros)
            ps.append(t.p_step / 2)
        if lengths is not None:
            ns.extend([t.n if mixed else zeros] * len(lengths["p"]))
            ps.extend(lengths["p"])
    else:
        ns, ps = map(list, zip(*_untagged_rows(t, mixed), strict=True))
    if width is not None:  # (mixed: the steps with prompt chunks rise with the count too)
        ns.extend([n_seen + width] * (1 + (tagged and mixed)))
        ps.extend([zeros, t.p_step][:1 + (tagged and mixed)])
    if joint is not None:  # (prefill steps apart: the decode step at n_hi alone)
        ns.extend([joint[0], joint[0], n_seen] if mixed else [joint[0]])
        ps.extend([zeros, joint[2], joint[4]] if mixed else [zeros])
    first = len(ns)
    for n_extra, p_extra in extra:
        ns.append(n_extra)
        ps.append(p_extra)
    shape = np.broadcast_shapes(*(np.shape(a) for a in ns + ps))
    stacked = (np.stack([np.broadcast_to(a, shape) for a in ns]), np.stack([np.broadcast_to(a, shape) for a in ps]))
    res = {}
    if compute and getattr(step, "splits_compute", False):
        out, *res["compute"] = step(*stacked, compute=True)
    else:  # (a step function that does not split its time: no share, NaN)
        out = step(*stacked)
        if compute:
            res["compute"] = [np.full(np.shape(out), np.nan)] * 2
    res.update(t_d=out[0], t_s=out[1])
    if tagged:
        res["t_own"] = out[2]
        if not mixed:
            res["t_half"] = out[3]
        if lengths is not None:
            at = 3 if mixed else 4
            res["t_len"], res["len_rows"] = out[at:at + len(lengths["p"])], lengths
    if width is not None:  # (its rows are the last before ``extra``: a call has a width or a joint quantile)
        if tagged and mixed:
            grown = (1.0 - t.pi) * (out[first - 2] - out[0]) + t.pi * (out[first - 1] - out[1])
        else:
            grown = out[first - 1] - out[0]
        res["rise"] = np.where(width > 0, np.maximum(grown, 0.0), 0.0)
    if joint is not None and not mixed:
        # a decode step and the prefill steps that stall it, t_d + pi / (1 - pi) t_p: the decode step's rise to n_hi
        # plus the stall's to the chunks' quantile (joint[5], linear in the chunks; no echo: the mean TPOT stays the
        # tagged request's)
        res["joint_rise"] = np.maximum(out[first - 1] - out[0] + joint[5], 0.0)
    elif joint is not None:
        pi_hi, pi_e = joint[1], joint[3]
        stationary = (1.0 - t.pi) * out[0] + t.pi * out[1]
        res["echo_step"] = np.maximum((1.0 - pi_e) * out[0] + pi_e * out[first - 1], stationary)
        raised = (1.0 - pi_hi) * out[first - 3] + pi_hi * out[first - 2]
        res["joint_rise"] = np.maximum(raised - res["echo_step"], 0.0)
    if extra:
        res["extra"] = list(out[first:])
    return res


def _untagged_rows(t: Terms, mixed: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (n, p) of the time-average steps at a load, t_d and t_s (``_evaluate`` untagged). Where requests decode,
    the time-average decode step holds at least one sequence: an engine with nothing to decode does not step, it
    waits for the next request and then steps with it, so its idle time is counted in steps of one sequence (steps
    of none, an empty engine's, are shorter than any its requests see: an MoE's reads no expert, and Little's law
    would then fail at low load); a pool that only prefills (no decoding) keeps them."""
    zeros = np.zeros_like(t.p_step)
    busy = np.where(t.n > 0, np.maximum(t.n, 1.0), t.n)
    return [(busy, zeros), (t.n if mixed else zeros, t.p_step)]


def _closed_rows(r: Requests, t: Terms, view: Terms) -> tuple[list[tuple[np.ndarray, np.ndarray]], Terms]:
    """A closed loop's time-average steps (mixed prompt steps): their (n, p) rows, and ``t`` with the loop's requests
    completed per step x, share pi of steps carrying prompt work and prompt tokens p_s in such a step (its rate is
    x / ``_mean_step``). Its running count is fixed, N = N_run: a prompt takes the k_p steps it takes beside the
    others' decodes (``view``'s: the loop's own count per step would also charge the prompt's budget with its own
    decode), so x = N / (k_p + D); each of the N is in its prompt steps with probability x k_p / N, so
    pi = 1 - (1 - x k_p / N)^N (at least the budget's share x I' / B_p); a step without prompt work has all N decoding,
    and the steps with prompt work hold the rest of the mean count, n_s = (n - (1 - pi) N) / pi, and the load's
    prompt tokens x I' / pi. One client: one prompt step of its own prompt, nothing decoding, then its decode steps."""
    I_new = (1.0 - r.prefix_hit) * r.input_tokens
    zeros = np.zeros_like(view.p_step)
    N, kp, D = t.running + zeros, view.steps_prefill, t.decode_steps
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(kp + D > 0, N / (kp + D), 0.0)
        pi = _prompt_share(x * kp, N, x * I_new / np.maximum(view.budget, 1e-9))
        p_s = np.where(pi > 0, x * I_new / np.where(pi > 0, pi, 1.0), I_new / kp)
    if np.any(t.recompute):
        pi, p_s = _recompute_steps(x, I_new, kp, np.maximum(view.budget, 1e-9), N, pi, p_s, t.recompute + zeros)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_s = np.where(pi > 0, np.maximum(x * D - (1.0 - pi) * N, 0.0) / np.where(pi > 0, pi, 1.0), 0.0)
    closed = replace(t, x=x, n=x * D, budget=view.budget, steps_prefill=kp, pi=pi, p_step=p_s)
    return [(N, zeros), (n_s, p_s)], closed


def _rides_free(rows: list[tuple[np.ndarray, np.ndarray]], view: Terms) -> bool:
    """Whether the (n, p) ``rows`` stack into the evaluation of ``view``'s steps without adding columns to it or
    being repeated along its axes: the three shapes (the rows', the view's and both broadcast) hold as many values."""
    own = np.broadcast_shapes(*(np.shape(a) for pair in rows for a in pair))
    seen = np.broadcast_shapes(np.shape(view.n), np.shape(view.p_step))
    return math.prod(own) == math.prod(seen) == math.prod(np.broadcast_shapes(own, seen))


def _mean_step(t: Terms, e: dict[str, np.ndarray]) -> np.ndarray:
    return (1.0 - t.pi) * e["t_d"] + t.pi * e["t_s"]


def _compute_share(pi, bound: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """The share of the time-average step's operator time (t_d's and t_s's rows, weighed 1 - pi and pi) spent in
    compute-bound operators: the saturated step is compute-bound where it passes half (``SteadyState``)."""
    mean_ops = (1.0 - pi) * ops[0] + pi * ops[1]
    return ((1.0 - pi) * bound[0] + pi * bound[1]) / np.maximum(mean_ops, 1e-300)


def solve(step: StepFn, r: Requests, s: Scheduler, load: Load, percentiles=(0.5, 0.9, 0.99),
          ttft_target_s=None, tpot_target_s=None, target_percentile: float = 0.99, peak: bool = False) -> SteadyState:
    """The steady state of one replica under ``load`` (module docstring). ``peak``: the step may grow faster than
    the batch past some load (KV streamed over a host link), so the largest sustainable rate is the peak of
    lambda(x) = x / t(x) below the cap (``peak_rate``), reached at ``running_batch_at_max_rate``."""
    x_max, binding = saturation(r, s)
    run = load.requests if load.mode == "rate" else None
    if run is not None:  # runs of several lengths: the load grid is solved per configuration and length
        shape = np.broadcast_shapes(np.shape(x_max), np.shape(run))
        x_max, binding = np.broadcast_to(x_max, shape), np.broadcast_to(binding, shape)
    t_max = terms(x_max, r, s)
    # an open loop, or a search for the rate meeting targets, reads lambda(x) on the load grid, whose last node is
    # x_max itself: the saturated rate is that node's (one step evaluation fewer); else it is evaluated alone
    # a finite run at a request rate (a benchmark's prompt count) never holds the steady state's running batch in
    # full: its requests see the run's ramp-up and drain (``finite_run_batch``)
    grid = _rate_grid(step, r, s, x_max, run) if load.mode == "rate" or ttft_target_s is not None or \
        tpot_target_s is not None else None
    if load.mode == "rate":
        lam = np.asarray(load.value, dtype=float)
        x, stable = _open_loop_x(step, r, s, grid, x_max, lam, run)
        phi = 1.0
    else:
        n_cap = t_max.running
        clients = n_cap if load.mode == "max" else np.asarray(load.value, dtype=float)
        inside = np.minimum(clients, n_cap)
        x = _x_for_running(r, s, inside, x_max)
        stable = np.ones(np.shape(x), dtype=bool)
        # (a running cap of one sequence can come out a rounding below 1: no negative share of the others)
        phi = np.where(inside > 0, np.maximum(inside - 1.0, 0.0) / np.maximum(inside, 1.0), 0.0)
        lam = None
    t = terms(x, r, s)
    view = terms(phi * x, r, s) if load.mode != "rate" else _tagged_view(t, r, s, t_max, run)
    # a closed loop of mixed steps takes its service time from the time-average step (``_figures``): below saturation
    # its own (``_closed_rows``), saturated x_max's
    closed = load.mode != "rate" and s.mixed
    below = closed and load.mode != "max" and bool(np.any(clients < n_cap))
    average, t_avg = _closed_rows(r, t, view) if below else ([], None)
    # the running count's upper quantile, where a TPOT spread is asked for (``_count_width``)
    spread = bool(percentiles) or tpot_target_s is not None
    if grid is not None:
        max_rate = grid[1][-1]
        e = _on_grid(step, r, s, t, view, load, grid, x, lam, stable, spread, tuple(average))
        e_avg = dict(zip(("t_d", "t_s"), e.pop("extra"), strict=True)) if average else None
        share = grid[3]
    else:  # the saturated state's time-average steps, in the same call where that adds no rows (one configuration)
        saturated = _untagged_rows(t_max, s.mixed)
        width = _count_width(r, t, view, load) if spread else None
        if _rides_free(saturated + average, view):
            e = _evaluate(step, view, s.mixed, width=width, extra=tuple(saturated + average), compute=True,
                          lengths=_length_rows(r, s, view))
            rows = e.pop("extra")
            e_max = dict(zip(("t_d", "t_s"), rows[:2], strict=True))
            e_avg = dict(zip(("t_d", "t_s"), rows[2:], strict=True)) if average else None
            share = _compute_share(t_max.pi, *(a[-len(rows):][:2] for a in e.pop("compute")))
        else:
            e = _evaluate(step, view, s.mixed, width=width, extra=tuple(average), lengths=_length_rows(r, s, view))
            e_avg = dict(zip(("t_d", "t_s"), e.pop("extra"), strict=True)) if average else None
            e_max = _evaluate(step, t_max, s.mixed, tagged=False, compute=True)
            share = _compute_share(t_max.pi, *e_max["compute"])
        max_rate = x_max / _mean_step(t_max, e_max)
    if spread and "joint_rise" not in e:  # (a closed loop: the prompt chunks' quantile after its step call)
        _add_chunk_rise(step, r, s, t, view, load, e)
    # a closed loop's requests per second at its service time alone: x / t-bar (``_figures``); as many clients as the
    # cap or more keep the engine saturated: the saturation rate
    served_rate = None
    if closed:
        served_rate = max_rate if e_avg is None else np.where(
            clients >= n_cap, max_rate, t_avg.x / np.maximum(_mean_step(t_avg, e_avg), 1e-300))
    at_max = t_max.running
    if peak:
        best_rate, best_x = peak_rate(step, r, s, x_max)
        better = best_rate > max_rate
        max_rate = np.where(better, best_rate, max_rate)
        at_max = np.where(better, terms(best_x, r, s).running, t_max.running)
    # (mu and the running batch it is reached at: the peak's where the peak sets the saturation rate). Where the engine
    # saturates below its running cap (the prompt budget or the steps bind, not the cap) no request of a run past
    # saturation waits for admission: every prompt queues for the budget, from the run's first request (section 2c)
    queue_cap = _queue_cap(step, r, s, grid, x_max, t_max, run) if grid is not None else t_max.cap
    if peak:  # (the peak is the saturated rate there: its running count is where lambda(x) first reaches it)
        queue_cap = np.where(better, np.minimum(t_max.cap, at_max), queue_cap)
    finite = None
    if run is not None:
        finite = (run, max_rate, at_max, np.where(at_max >= t_max.cap * (1.0 - 1e-9), at_max, 0.0))
    wave_run = load.mode == "concurrency" and load.requests is not None and (s.mixed or not r.synchronized)
    law: dict | None = {} if wave_run else None
    m = _figures(r, s, t, view, e, lam, load, clients if load.mode != "rate" else None, percentiles,
                 ttft_target_s, tpot_target_s, target_percentile, finite, law, served_rate, queue_cap)
    if load.mode == "concurrency" and r.synchronized:
        synchronize(step, r, s, clients, n_cap, m, percentiles, ttft_target_s, tpot_target_s, target_percentile)
    if wave_run:
        # a finite run: its first wave is one bunch (a synchronized loop's later waves are too where prefill steps run
        # apart, so there it changes nothing); its TTFTs join the loop's in the run's means and TTFT percentiles
        first_wave(step, r, s, clients, load.requests, n_cap, m, law, percentiles,
                   (ttft_target_s, tpot_target_s, target_percentile))
    elif load.mode == "offline":
        # N requests at once that the engine holds together are one wave, the whole run (section 2d;
        # ``waves.wave_capacity``)
        first_wave(step, r, s, clients, clients, n_cap, m, None, percentiles,
                   (ttft_target_s, tpot_target_s, target_percentile))
    if load.mode == "offline" or (load.mode == "concurrency" and load.requests is not None):
        _closed_run(step, r, np.asarray(load.value if load.mode == "offline" else load.requests, dtype=float), m)
    elif finite is not None:
        _rate_run(step, r, lam, finite, m, s, percentiles, (ttft_target_s, tpot_target_s, target_percentile))
    m["max_request_rate_per_s"] = max_rate
    if peak:
        m["running_batch_at_max_rate"] = at_max
    if load.mode == "rate":
        m["stable"] = stable & (lam < m["max_request_rate_per_s"])
        with np.errstate(divide="ignore", invalid="ignore"):  # a replica that cannot hold one request: rate 0
            m["utilization"] = lam / m["max_request_rate_per_s"]
        if finite is None:  # beyond saturation a steady state has no finite latency (a finite run has: above)
            for key in [k for k in m if k.startswith(("ttft_", "e2e_", "queue_"))]:
                m[key] = np.where(m["stable"], m[key], np.inf)
    else:
        m["stable"] = np.ones(np.shape(m["request_rate_per_s"]), dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            m["utilization"] = m["request_rate_per_s"] / m["max_request_rate_per_s"]
    if ttft_target_s is not None or tpot_target_s is not None:
        m["max_goodput_rate_per_s"] = _max_rate_meeting(step, r, s, grid, ttft_target_s, tpot_target_s,
                                                        target_percentile, run, queue_cap)
    return SteadyState(m, t, x_max, binding, share)


def _queue_cap(step: StepFn, r: Requests, s: Scheduler, grid, x_max, t_max: Terms, run=None) -> np.ndarray:
    """The running count at which an open loop's rate first reaches the saturation rate, the admission queue's
    servers (``_figures``): the running cap N_cap, but where lambda(x) overshoots the saturated rate below x_max
    (an engine that recomputes preempted requests, ``Scheduler.recompute_on_full``: below the cap only the running
    requests' overflow comes back as prompt work, at the cap their whole outputs; a step that jumps at a captured
    graph's size) the count N_run(x_s) at the first load x_s whose rate is the saturated one (``_open_loop_x``; where
    ``solve``'s peak sets the saturated rate, its running count instead). A queue keeps that engine at its cap, so
    it cannot serve the rates above the saturated one that the loads between x_s and x_max would give without a
    queue; its queue grows without bound as the offered count nears N_run(x_s), not N_cap (docs/serving.md 3)."""
    rates = grid[1]
    over = np.max(rates[:-1], axis=0) > rates[-1]
    if not np.any(over):
        return t_max.cap
    x_s, _ = _open_loop_x(step, r, s, grid, x_max, rates[-1], run)
    return np.where(over, np.minimum(t_max.cap, terms(x_s, r, s).running), t_max.cap)


def peak_rate(step: StepFn, r: Requests, s: Scheduler, x_max, nodes: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """(the largest lambda(x) = x / t(x) for 0 < x <= x_max, the x reaching it): ``nodes`` loads evenly spread up
    to x_max, then as many between the neighbours of the best one (two stacked step evaluations)."""
    lead = (-1,) + (1,) * np.ndim(x_max)
    grid = np.linspace(0.0, 1.0, nodes + 1)[1:].reshape(lead)

    def rates(xs):
        t = terms(xs, r, s)
        return xs / np.maximum(_mean_step(t, _evaluate(step, t, s.mixed, tagged=False)), 1e-300)

    xs = grid * x_max
    best = np.argmax(rates(xs), axis=0)[None, ...]
    lo = np.where(best > 0, np.take_along_axis(xs, np.maximum(best - 1, 0), 0), 0.0)[0]
    hi = np.take_along_axis(xs, np.minimum(best + 1, nodes - 1), 0)[0]
    fine = lo + np.linspace(0.0, 1.0, nodes).reshape(lead) * (hi - lo)
    lam = rates(fine)
    pick = np.argmax(lam, axis=0)[None, ...]
    return np.take_along_axis(lam, pick, 0)[0], np.take_along_axis(fine, pick, 0)[0]


def _open_loop_x(step: StepFn, r: Requests, s: Scheduler, grid: tuple[np.ndarray, np.ndarray], x_max, lam,
                 run=None) -> tuple[np.ndarray, np.ndarray]:
    """x solving x = lambda t(x) (docs/serving.md section 2). The load grid (``_rate_grid``: evaluated once per
    configuration, x_max's shape, whatever the number of rates asked for) gives the two nodes whose rates bracket
    lambda; between them the mean step t(x) = x / lambda(x) is taken linear in x (the step grows by a time per
    decoding sequence and per prompt token), where x = lambda t(x) is one linear equation. One round of regula falsi
    then evaluates the exact rate at that root (one stacked step evaluation, ``_rate_at``), keeps the side of the
    bracket it falls on, and solves again. The answer does not hang on where the
    grid's nodes fall (a grid scaled by a larger running cap gives the same loads below the old one), and Little's
    law holds between nodes. A rate past the grid's last node (x_max) is unstable and keeps x_max."""
    shape = np.broadcast_shapes(np.shape(x_max), np.shape(lam))
    lam = np.broadcast_to(lam, shape)
    nodes, lam_nodes = _grid_on(grid, shape)
    # first grid node whose rate reaches lambda: the root lies between it and the one before
    reach = lam_nodes >= lam[None, ...]
    stable = reach.any(axis=0)
    idx = np.maximum(np.where(stable, reach.argmax(axis=0), len(GRID) - 1), 1)
    a, b = _pick(nodes, idx - 1), _pick(nodes, idx)
    la, lb = _pick(lam_nodes, idx - 1), _pick(lam_nodes, idx)
    live = stable & (la < lam) & (lam < lb)  # a strict bracket (else x is a node, or past x_max)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the mean step at each end (at x = 0, where the rate is 0, the other end's: no step is seen there)
        ta = np.where(la > 0, a / np.where(la > 0, la, 1.0), np.nan)
        tb = np.where(lb > 0, b / np.where(lb > 0, lb, 1.0), np.nan)
    ta = np.where(np.isnan(ta), tb, ta)
    tb = np.where(np.isnan(tb), ta, tb)
    fa, fb = a - lam * ta, b - lam * tb  # the residual x - lambda t(x): negative at a, positive at b
    # (lambda at or below a's rate is a's: 0, or a node's own rate; at or past b's, b: a node, or x_max if unstable)
    x = np.where(stable & (lam <= la), a, b)
    if live.any():  # the root of the residual's chord, then one round of regula falsi from it
        x = np.where(live, _chord_root(a, b, fa, fb), x)
        f = np.where(live, x - lam * x / np.maximum(_rate_at(step, r, s, x, run), 1e-300), 0.0)
        low, high = live & (f < 0), live & (f > 0)
        a, fa = np.where(low, x, a), np.where(low, f, fa)
        b, fb = np.where(high, x, b), np.where(high, f, fb)
        x = np.where(live, _chord_root(a, b, fa, fb), x)
    return x, stable


def _chord_root(a, b, fa, fb) -> np.ndarray:
    """Where the chord from (a, fa) to (b, fb), fa <= 0 <= fb, crosses zero, kept inside [a, b]."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip((a * fb - b * fa) / np.where(fb > fa, fb - fa, 1.0), a, b)


def _tagged_view(t: Terms, r: Requests, s: Scheduler, t_max: Terms, run=None, x_cap=None) -> Terms:
    """The others a tagged request of an open loop shares its steps with: the stationary ones (``t``, or a finite
    run's, ``_finite_run_terms``), of whom at most N_cap - 1 run beside it (N_cap the saturated state's cap,
    ``t_max``), the rest waiting to be admitted: past the load at which N_run = N_cap - 1 (``x_cap``:
    ``_load_beside``, computed here if not given) it sees that load's (a cap of one sequence: a request runs alone,
    its steps carry no other's prompt)."""
    over = t.running > _beside(t_max)
    if over.any():  # (that load, per configuration, only where some load passes it: the same answer)
        x_cap = _load_beside(r, s, t_max) if x_cap is None else x_cap
        t = terms(np.where(over, np.minimum(t.x, x_cap), t.x), r, s)
    return _finite_run_terms(t, run)


def _beside(t_max: Terms) -> np.ndarray:
    """N_cap - 1: the most others that run beside a request (none below a cap of one)."""
    return np.maximum(t_max.cap - 1.0, 0.0)


def _load_beside(r: Requests, s: Scheduler, t_max: Terms) -> np.ndarray:
    """The load x at which N_run = N_cap - 1, per configuration (``_tagged_view``)."""
    return _x_for_running(r, s, _beside(t_max), t_max.x)


def _pick(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """a[idx[...], ...]: one entry along the leading axis per configuration."""
    return np.take_along_axis(a, idx[None, ...], 0)[0]


def _rate_at(step: StepFn, r: Requests, s: Scheduler, x, run=None) -> np.ndarray:
    """The open-loop rate lambda(x) = x / t(x) at loads x (the time-average step; ``run``: a finite run's view,
    ``_finite_run_terms``), one stacked step evaluation; 0 at x = 0."""
    t = _finite_run_terms(terms(x, r, s), run)
    return t.x / np.maximum(_mean_step(t, _evaluate(step, t, s.mixed, tagged=False)), 1e-300)


def _grid_on(grid: tuple[np.ndarray, ...], shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The load grid and its rates (``_rate_grid``: GRID on a leading axis, then the configurations' axes) broadcast
    to (len(GRID), *shape), for arrays of ``shape``: the configurations' axes trailing, leading axes of their own."""
    base = grid[0].shape[1:]
    lead = (len(GRID),) + (1,) * (len(shape) - len(base)) + base
    return tuple(np.broadcast_to(a.reshape(lead), (len(GRID), *shape)) for a in grid[:2])


def _rate_grid(step: StepFn, r: Requests, s: Scheduler, x_max, run=None) -> tuple[np.ndarray, ...]:
    """The load grid (GRID x x_max on a leading axis), its open-loop rates lambda(x) = x / t(x), the step of one
    request alone, t_0, and the saturated step's compute-bound share (``_compute_share`` at the last node, x_max),
    both of x_max's shape, a prompt token's seconds in a step at each node, (t_s - t_d) / p_s (for the steps'
    correlation, ``_grid_prompts``), each node's time-average step with prompt tokens, t_s (for the prompt steps'
    echo, ``_grid_prompts``), and each node's share of steps with prompt tokens pi, decode step t_d and decoding
    sequences n (the first node's one) (for prefill steps apart, ``_grid_stalls``); ``run``: the requests of a finite
    run, whose steps hold the run's running batch
    (``_finite_run_terms``). The first node, x = 0, has rate 0 whatever its step, so its decode step is taken with
    one sequence: that is t_0, which every later evaluation of the same configurations then reuses."""
    nodes = GRID.reshape((-1,) + (1,) * np.ndim(x_max)) * x_max
    t = _finite_run_terms(terms(nodes, r, s), run)
    n = np.array(t.n, dtype=float)  # (a copy: the first node's decoding sequences set to one)
    n[0] = 1.0
    e = _evaluate(step, replace(t, n=n), s.mixed, tagged=False, compute=True)
    rates = t.x / np.maximum(_mean_step(t, e), 1e-300)
    share = _compute_share(t.pi[-1], *(a[:, -1] for a in e["compute"]))
    cost = np.maximum(e["t_s"] - e["t_d"], 0.0) / np.maximum(t.p_step, 1e-12)  # a prompt token's seconds in a step
    return (nodes, rates, e["t_d"][0], share, cost, e["t_s"], np.broadcast_to(t.pi, np.shape(e["t_s"])), e["t_d"],
            np.broadcast_to(n, np.shape(e["t_d"])))


def finite_run_batch(running, requests):
    """The running batch the requests of a finite run see on average: N = ``requests`` arriving evenly over T = N /
    lambda to an engine where each stays W, the steady state holding n = ``running`` = lambda W of them
    (docs/serving.md section 2c). The count in the system rises for W, holds n until the arrivals stop and falls
    for W (or, when T < W, rises to N and holds it); a request sees its life's mean, so the mean over the requests
    is the count-weighted mean of the count, integral n(t)^2 dt / integral n(t) dt:
    n (1 - n / (3 N)) where n <= N, N (1 - N / (3 n)) where n > N; both 2 N / 3 at n = N, n as N grows."""
    n = np.asarray(running, dtype=float)
    big = np.asarray(requests, dtype=float)
    # (each branch computed with its own side's values, so that the other's cannot overflow: n = 0 beside N = 2^40)
    below, above = np.minimum(n, big), np.maximum(n, big)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n <= big, below * (1.0 - below / (3.0 * big)), big * (1.0 - big / (3.0 * above)))


def _finite_run_terms(t: Terms, run) -> Terms:
    """``t`` as the requests of a finite run of ``run`` requests see it: its decoding sequences and running count
    scaled by finite_run_batch(running, run) / running (``t`` itself where there is no finite run)."""
    if run is None:
        return t
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(t.running > 0, finite_run_batch(t.running, run) / np.where(t.running > 0, t.running, 1.0),
                         1.0)
    return replace(t, n=t.n * share, running=t.running * share)


def _x_for_running(r: Requests, s: Scheduler, running, x_max, iterations: int = 60) -> np.ndarray:
    """x at which N_run(x) equals ``running`` (running is increasing in x)."""
    shape = np.broadcast_shapes(np.shape(running), np.shape(x_max))
    lo, hi = bisect(lambda mid: terms(mid, r, s).running < running, np.zeros(shape), np.broadcast_to(x_max, shape),
                    iterations, bracket_shape=True)
    return (lo + hi) / 2


def finite_run_wait(requests, max_rate, cap, lam, arrival_cv2, service_cv2, output_cv: float = 0.0, chain=0.0):
    """The wait for admission in a finite run of N = ``requests`` arrivals at ``lam`` requests/s to a replica that
    completes at most ``max_rate`` (mu) requests/s and runs at most ``cap`` (C) at once, started empty (docs/serving.md
    section 2c). Returns (delta, the fluid wait's mean, the fluctuations' mean), in seconds:

    * beyond saturation (lam >= mu) the queue grows while the requests arrive, by delta = 1/mu - 1/lam seconds per
      request (0 below saturation). The first C are admitted as they come; each later one takes the place of one
      that leaves. With outputs of one length the requests leave in cohorts of C (each S = C / mu after it was
      admitted), so request i waits floor((i - 1) / C) C delta: over the run (m = floor(N / C) whole cohorts,
      rem = N - m C) a mean of delta C (C m (m - 1) / 2 + rem m) / N. With spread outputs the departures spread
      too and request i waits max(i - C, 0) delta: a mean of delta max(N - C, 0)^2 / (2 N). The two are weighted
      by the outputs' coefficient of variation w = min(cv, 1); the q-quantile is request q N's
      (``finite_run_quantile``);
    * the prompts' chain, ``chain`` = g (``prompt_chain``): an admitted request still waits for the prompts admitted
      before it, which the engine prefills first come, first served; where they come faster than it takes them, each
      one's first token comes g later after its arrival than the one before: the j-th of a cohort (j = 0 ... C - 1)
      waits j g more, a mean of g (m C (C - 1) / 2 + rem (rem - 1) / 2) / N; and no request waits less than the
      chain from the run's start, (i - 1) g (a cohort's wait uses max(delta, g)). With spread outputs request i
      waits max((i - C) delta, (i - 1) g), whose mean over the run is taken as the integral of the larger line over
      [0, N];
    * the queue's fluctuations near saturation: a driftless reflected Brownian motion started empty, with the
      arrivals' and completions' variance (ca^2 + cs^2) per request, holds sqrt(2 (ca^2 + cs^2) n / pi) requests on
      average after n arrivals; over the n = max(N - C, 0) arrivals that can queue, two thirds of that, as a wait
      of (2/3) sqrt(2 (ca^2 + cs^2) n / pi) / mu. Below saturation a run waits no more than this (nor than the steady
      state); at and above it, the larger of this and the fluid wait."""
    lam = np.asarray(lam, dtype=float)
    w = min(float(output_cv), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        over = ~(lam < max_rate)
        fits = max_rate > 0
        delta = np.where(over, np.where(fits, 1.0 / np.where(fits, max_rate, 1.0) - 1.0 / lam, np.inf), 0.0)
        c = np.maximum(cap, 1e-12)
        m = np.floor(requests / c)
        rem = requests - m * c
        queued = np.maximum(requests - cap, 0.0)
        cohorts = np.maximum(delta, chain) * c * (c * m * (m - 1.0) / 2.0 + rem * m) / requests
        cohorts = cohorts + chain * (m * c * np.maximum(c - 1.0, 0.0) + rem * np.maximum(rem - 1.0, 0.0)) / 2.0 \
            / requests
        spread = _larger_line_mean(delta, chain, cap, requests)
        # (nothing fits, delta infinite: every request waits for ever, the first ones too)
        fluid = np.where(delta > 0, np.where(np.isinf(delta), np.inf, (1.0 - w) * cohorts + w * spread), 0.0)
        crit = np.where(fits, 2.0 / 3.0 * np.sqrt(2.0 * (arrival_cv2 + service_cv2) * queued / np.pi)
                        / np.where(fits, max_rate, 1.0), np.inf)
    return delta, fluid, crit


def admission_build_up(requests, cap, load, dispersion) -> np.ndarray:
    """The share of the stationary admission queue a finite run of N = ``requests`` from an idle engine sees on
    average (docs/serving.md section 3): the queue of Hayward's reduced system (c / z servers offered a / z Erlangs,
    ``peaked_erlang_c``) relaxes toward its stationary state with the time constant of a birth-death queue,
    t_run / (sqrt(c') - sqrt(a'))^2 (P. M. Morse, "Stochastic properties of waiting lines", Operations Research 3(3),
    1955, for one server; with c servers the same gap between the service and arrival rates' square roots), about
    M = a / (sqrt(c') - sqrt(a'))^2 arrivals; approached exponentially from an empty queue, its mean over N arrivals
    is the stationary one times 1 - (M / N)(1 - e^(-N / M)). 1 where the run is endless, where no cap binds and where
    the load reaches the cap (no stationary state to approach)."""
    c, a, z, n = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (cap, load, dispersion, requests)))
    z = np.maximum(z, 1e-3)
    below = np.isfinite(c) & (a < c) & np.isfinite(n) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gap = (np.sqrt(np.where(below, c, 1.0) / z) - np.sqrt(np.where(below, np.maximum(a, 0.0), 0.0) / z)) ** 2
        ratio = np.where(below, a / gap / np.where(below, n, 1.0), 0.0)
        share = 1.0 - ratio * -np.expm1(-1.0 / np.maximum(ratio, 1e-300))
    return np.where(below, np.clip(share, 0.0, 1.0), 1.0)


def prompt_chain(prompt_s, lam, max_rate):
    """g of a finite run's prompts' chain (``finite_run_wait``): past saturation (lam >= mu), where the prompts come
    faster than the engine prefills them, ``prompt_s`` (tau) seconds of prefill budget each, one's first token comes
    g = tau - 1/lam later after its arrival than the one before it; 0 otherwise."""
    lam = np.asarray(lam, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(~(lam < max_rate) & (max_rate > 0), np.maximum(prompt_s - 1.0 / lam, 0.0), 0.0)


def finite_run_tpot_share(requests, cap, mixed: bool, output_cv: float = 0.0):
    """The share of the steady state's prompt work per decode step that a request of a finite run of N =
    ``requests`` past saturation sees, with at most C = ``cap`` running (docs/serving.md section 2c): in the steady
    state's rotation each request's decode steps carry the prompts of the C - 1 others; the run's last C requests see
    only the prompts admitted after them, C - 1 down to 0, so over the run a share 1 - C / (2 N). On separate
    prefill steps requests of one output length stay in cohorts (a cohort decodes only once its last prompt is in,
    and its requests end together): each sees the prompts after it in its cohort, a share 1/2. With spread outputs
    (weight w = min(cv, 1)) the steady state's share, 1: the run's last requests are mostly its longest answers,
    whose decode steps carried the run's prompts as the steady state's do (against the simulation, docs/serving.md
    section 2c: the drain's share there makes the TPOT 17-20% short at cv 1, the steady state's 2-8%). 1 where
    N <= C (no cap binds: ``genmodel.serving.waves``)."""
    w = min(float(output_cv), 1.0)
    c = np.maximum(cap, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rotation = np.where((c >= 1.0) & (requests > c), 1.0 - c / (2.0 * np.maximum(requests, 1e-300)), 1.0)
    cohort = rotation if mixed else np.where((c >= 1.0) & (requests > c), 0.5, 1.0)
    return (1.0 - w) * cohort + w


def _larger_line_mean(delta, chain, cap, requests):
    """The mean over x in [0, N] of max(delta (x - C)+, g x): the spread outputs' fluid wait with the prompts' chain
    (``finite_run_wait``). The chain line g x is the larger up to x* = C delta / (delta - g) (for ever where
    g >= delta), the admission line beyond."""
    n = np.maximum(requests, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(delta > chain, cap * delta / np.where(delta > chain, delta - chain, 1.0), np.inf)
        x = np.minimum(cross, requests)
        tail = np.maximum(requests - cap, 0.0) ** 2 - np.maximum(x - cap, 0.0) ** 2
        return (chain * x**2 / 2.0 + np.where(cross < requests, delta * tail / 2.0, 0.0)) / n


def finite_run_quantile(delta, requests, cap, q: float, output_cv: float = 0.0, chain=0.0):
    """The fluid wait of request q N of a finite run past saturation (``finite_run_wait``; ``chain``: the prompts'
    chain g, ``prompt_chain``): its q-quantile."""
    w = min(float(output_cv), 1.0)
    c = np.maximum(cap, 1e-12)
    i = q * requests
    before = np.maximum(i - 1.0, 0.0)
    with np.errstate(invalid="ignore"):  # (delta inf where nothing fits: inf)
        cohort = c * np.floor(before / c)
        lined = np.maximum(delta * np.maximum(i - cap, 0.0), chain * before)
        stepped = np.maximum(delta, chain) * cohort + chain * (before - cohort)
        queued = np.where(np.isinf(delta), np.inf, (1.0 - w) * stepped + w * lined)
        return np.where(delta > 0, queued, 0.0)


def _figures(r: Requests, s: Scheduler, t: Terms, view: Terms, e: dict[str, np.ndarray], lam, load: Load, clients,
             percentiles, ttft_target_s, tpot_target_s, q_target, finite=None,
             law: dict | None = None, served_rate=None, queue_cap=None) -> dict[str, np.ndarray]:
    """Every figure at the solved load (docs/serving.md section 3); ``finite``: (requests, max rate, running count
    at saturation, the requests ahead of which none queues) of a finite run at a request rate (``finite_run_wait``).
    ``law``: a dict that receives a closed loop's TTFT distribution, ``cdf(x)`` (P(TTFT <= x)), and with targets the
    shares ``p_ttft`` and ``p_tpot`` meeting each (a finite run's first wave joins it:
    ``genmodel.serving.waves.first_wave``)."""
    I, O = r.input_tokens, r.output_tokens
    I_new = (1.0 - r.prefix_hit) * I
    D = np.maximum(O - 1.0, 0.0) / r.tokens_per_step
    delay = np.asarray(r.ttft_delay_s, dtype=float)  # each request's fixed wait before its prefill
    pi, kp, budget = view.pi, view.steps_prefill, view.budget
    # step-time spread: prompt chunks per step come as a count of mean x k_p (u tokens each) whose variance is
    # step_cv2 times the mean: 1 for Poisson arrivals and for a closed loop (clients, a saturated engine, an offline
    # batch), the arrivals' squared coefficient of variation for bursty ones (a renewal count); a long step lets more
    # prompts arrive for the next one, which amplifies the variance by 1 / (1 - rho_c^2). Over a request's life (its
    # TPOT) the count's variance is life_cv2 times Poisson's: the bursty arrivals' c_a^2 again, and in a closed loop,
    # where a request is admitted only when another finishes, that of the completions, cs2 (a request's time in
    # service in steps: its output's spread; identical requests rotate in lockstep). Step by step a closed loop keeps
    # Poisson's spread: clients of like requests bunch into waves (section 2b), which rotation would not describe.
    cs2 = _completions_cv2(r, t)
    step_cv2 = r.arrival_cv2 if load.mode == "rate" else 1.0
    life_cv2 = _life_cv2(r, t, load, cs2)
    n_in = None if clients is None else np.minimum(clients, t.running)  # a closed loop's running requests
    closed = load.mode != "rate"
    g = _tagged_steps(r, s, view, e["t_d"], e["t_s"], e["t_own"], step_cv2, closed, e.get("t_half"))
    if served_rate is not None:
        # a closed loop: every running request is in every step, so a request's life is (k_p + D_wall) steps of the
        # time-average step t-bar, exact whatever the step's shape (docs/serving.md section 2); the tagged request's
        # own steps, all scaled by one factor (every figure below is proportional to them), set how that life splits
        # into its prompt steps and its decode steps
        with np.errstate(divide="ignore", invalid="ignore"):
            life = n_in / served_rate
            tagged = g.b_mean + np.maximum(O - 1.0, 0.0) * g.tpot_mean
            scale = np.where((tagged > 0) & np.isfinite(life) & np.isfinite(tagged), life / tagged, 1.0)
        half = e.get("t_half")
        g = _tagged_steps(r, s, view, scale * e["t_d"], scale * e["t_s"], scale * e["t_own"], step_cv2, closed,
                          None if half is None else scale * half)
    else:
        scale = 1.0
    t_d, t_s, t_own, mean_step, u, c_tok = g.t_d, g.t_s, g.t_own, g.mean_step, g.u, g.c_tok
    x_seen, rho_c, poisson_c, c_star, var_star = g.x_seen, g.rho_c, g.poisson_c, g.c_star, g.var_star
    lam_seen, b_mean, tpot_mean = g.lam_seen, g.b_mean, g.tpot_mean
    rate = (lam + 0.0 * mean_step) if load.mode == "rate" else None
    gaps = np.maximum(O - 1.0, 1.0)
    # the decode steps a request sees carry the echo of its own prompt steps: the prompts that arrived meanwhile
    # (an open loop with mixed steps, ``_joint_quantile``'s ``arrived``; section 3)
    decode_step = mean_step
    if "echo_step" in e:  # (at least the stationary mean step, ``_evaluate``)
        decode_step = scale * e["echo_step"]
        tpot_mean = np.where(O > 1, D * decode_step / gaps, tpot_mean)
    # the mean over requests: Little's law's time-average count, which exceeds the steps' n by the count's size bias
    # (an open loop, ``_count_bias``; its echo is a part of it). The quantiles stay about the tagged request's steps
    # (its place in them, Poisson's share): the bias is the mean of a count skewed to the right, whose upper tail
    # ``sigma`` carries
    tpot_avg = tpot_mean
    if "count_bias" in e:
        with np.errstate(divide="ignore", invalid="ignore"):
            life_scale = np.where(view.n > 0, 1.0 + e["count_bias"] / np.where(view.n > 0, view.n, 1.0), 1.0)
        tpot_avg = np.maximum(g.tpot_mean * life_scale, tpot_mean)
    # an open loop with mixed steps: the mean step's rise to the joint quantile of its count and prompt chunks over
    # that quantile's z (``_joint_quantile``, the arrivals' feedback on the steps they lengthen). Else the prompt
    # chunks' share: with mixed steps (a closed loop) the mean step's rise to the chunks' upper quantile over that
    # quantile's z (``_chunk_quantile``, the steps' correlation in the quantile); with prefill steps apart the secant
    # c: consecutive steps are correlated (a long step lets more prompts in for the next), an AR(1) with coefficient
    # rho_c, whose mean over D steps has (1 + rho_c) / (1 - rho_c) times the variance of independent steps. The
    # running count's share is the mean step's rise to the count's upper quantile over that quantile's z
    # (``_count_width``, ``_evaluate``; 0 where no spread was asked for)
    if "joint_rise" in e:  # (an open loop with mixed steps: the two together, at their joint quantile)
        sigma = scale * e["joint_rise"] / Z_COUNT * D / gaps
    else:
        rise = scale * e.get("rise", 0.0)
        if "chunk_rise" in e:
            chunks = (scale * e["chunk_rise"] / Z_COUNT * D) ** 2
        else:
            chunks = D * life_cv2 * poisson_c * (1 + rho_c) / (1 - rho_c)
        sigma = np.sqrt(chunks + (rise / Z_COUNT * D) ** 2) / gaps
    sigma = np.where(O > 1, sigma, 0.0)
    # TTFT = residual of the step in progress + the prompt's own steps (+ queue waits)
    busy = -np.expm1(-view.running)
    r_mean = busy * c_star / 2
    r_var = busy * (var_star + c_star**2) / 3 - r_mean**2
    b_var = kp * (c_tok * u) ** 2 * (step_cv2 * lam_seen * c_star + lam_seen**2 * var_star)
    # the prompts' own lengths (log-normal, input_cv): a prompt of I' tokens takes k(I') = ceil(I' / B_p) steps. Where
    # nothing else places the requests (a finite run's or an offline run's queue, an intake's cycle), the TTFT is a
    # mixture over the lengths, each prompt's own steps timed at its length (``_length_shifts``: its time less the
    # mean prompt's, a shift at each of the lengths' quantile edges). Else the spread's moments join the service's:
    # each of the k steps with the step's own part J (its decodes and the other prompts' chunks) and c I' for the
    # prompt's tokens, the mean prompt's k_p steps in b_mean already, so the spread adds J (E[k] - k_p) to the mean
    # and Var[J k + c I'] (``prompt_length_spread``)
    # requests queued behind the running ones for a time set by their place in the run (an offline run's backlog, a
    # finite run's fluid queue), and a server that takes requests in only every N decode steps (``_Intake``, below)
    positional = load.mode == "offline" or finite is not None
    intake_cycle = r.recv_interval > 1 and load.mode in ("rate", "concurrency")  # (an offline run's are all in at once)
    by_length = "t_len" in e and not positional and not intake_cycle
    if by_length:
        length_places, length_mean = _length_shifts(r, s, view, e["len_rows"], scale * e["t_len"])
    else:
        steps_mean, spread_var = prompt_length_spread(I_new, r.input_cv, budget, kp, g.own_base + c_tok * g.others,
                                                      c_tok, s.chunked)
        b_mean = b_mean + steps_mean
        b_var = b_var + spread_var
        length_mean = 0.0
    cov = busy * c_tok * u * lam_seen * var_star / 2
    s_mean = r_mean + b_mean
    s_var = np.maximum(r_var + b_var + 2 * cov, 0.0)
    # a server that takes new requests in only every N decode steps (section 3): an arrival during decoding waits
    # for the next intake, at its place in the cycle, then for the prompts taken in with it that arrived before it
    intake = None
    if intake_cycle:
        # the share of arrivals that land while the engine decodes. The prompts come in bunches, one intake's worth
        # of prompt steps (k_b, at least one where the cycle took a prompt in) after every N decode steps, so a share
        # k_b / (N + k_b) of the steps carry prompts, k_b t_p / (N t_d + k_b t_p) of the time. A closed loop's
        # request is sent when another ends, at the end of a step with decodes: with prefill steps apart every one
        # (where some other decodes), with mixed steps those after a step without prompt chunks (after one with them
        # the inbox is read at once); an open loop's arrivals land in time: the decode steps' share of a busy engine
        base = g.own_base
        span = (r.recv_interval - 1.0) * t_d
        cycle = r.recv_interval * t_d
        bunch = lam_seen * u * (c_star + span)
        filled = -np.expm1(-lam_seen * cycle / np.maximum(view.steps_prefill, 1.0))  # a prompt came in the cycle
        k_b = filled * np.maximum((bunch + u) / np.maximum(budget, 1e-300), 1.0)
        t_p = base + c_tok * np.minimum(bunch + u, budget)  # one of its prompt steps
        if closed:  # (the others of a closed loop run for certain, each decoding but in its prompt steps)
            others = np.maximum(view.running, 0.0)
            decoding = np.clip(view.n / np.maximum(others, 1e-12), 0.0, 1.0)
            some = -np.expm1(others * np.log1p(-np.minimum(decoding, 1.0 - 1e-16)))
            share = some * r.recv_interval / (r.recv_interval + k_b) if s.mixed else some
        else:
            # with prefill steps apart the run of prompt steps is a busy period: the prompts that arrive during it
            # join it (a load rho_run of full prompt steps), so it lasts k_b t_p / (1 - rho_run). (With mixed steps the
            # run of k_b steps alone: against the simulation, with the busy period, 0.7 of saturation's median TTFT
            # came out 23% short, without it 7% long; docs/serving.md section 3)
            rho_run = 0.0
            if not s.mixed:
                rho_run = np.minimum(lam_seen * u * (base + c_tok * budget) / np.maximum(budget, 1e-300), 0.9)
            share = busy * cycle / np.maximum(cycle + k_b * t_p / (1.0 - rho_run), 1e-300)
        # an open loop's arrivals during the intake's prefill run (the rest of the busy engine's time) are taken in at
        # once and queue behind what is left of the run's k_b steps, beyond the step in progress (in the TTFT already)
        later = 0.0 if closed else np.maximum(busy - share, 0.0)
        after = np.maximum(k_b - 1.0, 0.0) * t_p
        intake = _Intake(share, span, c_star, lam_seen * u, u, budget, c_tok, base, later, after)
    out: dict[str, np.ndarray] = {}
    prompt_s = I_new * t_own / np.maximum(budget, 1e-9)  # prefill-budget seconds one prompt needs
    if load.mode == "rate":
        a, c = t.running, t.cap if queue_cap is None else queue_cap
        t_run = a / np.maximum(rate, 1e-300)
        # the running count is peaked: an arrival lengthens the steps every running request decodes in, so the count
        # varies z = kappa (1 + (J0 - 1) o) times as much as Poisson's (``_count_bias``; 2.1 where the simulation
        # measures 2.25, docs/serving.md section 3) and meets the cap that much more often: Hayward's c / z servers
        # offered a / z, whose queue is z times the reduced system's; the arrivals' spread is in z, so the
        # Allen-Cunneen factor keeps the completions' alone, (1 + c_s^2) / 2. A finite run builds it up (below)
        # The cap c is the mean count the KV cache holds (a fraction where it binds), the count at which the
        # saturation rate is reached; the queue's mean divides by the same c - a (docs/serving.md section 3), as
        # P_1 interpolates between the whole server counts around c / z. (Its whole floor left a queue that grew
        # without bound at floor(c) / c of the saturation rate: 0.94 of it where c = 15.9.)
        z = e.get("count_dispersion", 1.0)
        p_adm = peaked_erlang_c(c, a, z)
        with np.errstate(divide="ignore", invalid="ignore"):
            w_adm = np.where(a < c, p_adm / np.maximum(c - a, 1e-12) * t_run * z * (1.0 + cs2) / 2, np.inf)
        admission = Wait(np.where(np.isfinite(w_adm), p_adm, 1.0), w_adm)
        rho_rate, ca2, fixed_wait, backlog = rate, r.arrival_cv2, 0.0, 0.0
    else:
        # clients beyond the running cap queue inside the engine (at max load by definition): a slot frees at the
        # end of a step and the scheduler admits the next queued request into the next step, so an admitted
        # request waits for no step in progress (no residual R); below the cap the arrival theorem's R stays
        queued = ~within_cap(clients, n_in) | (load.mode == "max")
        s_mean = np.where(queued, b_mean, s_mean)
        s_var = np.where(queued, np.maximum(b_var, 0.0), s_var)  # (rounding can leave b_var just below 0)
        if intake is not None:  # (a queued client was taken in long before its turn)
            intake = replace(intake, share=np.where(queued, 0.0, intake.share))
        e2e_service = s_mean + delay + np.maximum(O - 1.0, 0.0) * tpot_mean
        if intake is not None:
            e2e_service = e2e_service + intake.mean_s
        rate = n_in / e2e_service
        rho_rate = rate * np.where(n_in > 0, (n_in - 1) / np.maximum(n_in, 1), 0.0)
        ca2 = 1.0
        with np.errstate(divide="ignore"):  # no request fits (rate 0): the clients beyond it wait for ever
            fixed_wait = np.maximum(clients - n_in, 0.0) / rate if load.mode == "concurrency" else 0.0
            backlog = np.maximum(np.asarray(load.value, dtype=float) - n_in, 0.0) / rate if load.mode == "offline" \
                else 0.0
        admission = Wait(np.zeros_like(rate), np.zeros_like(rate))
    # prompts beyond one step's budget wait for later steps: a G/G/1 queue on the prompt budget
    rho_p = rho_rate * prompt_s
    overflow = Wait(np.minimum(rho_p, 1.0) * np.minimum(rho_p, 1.0),
                    kingman_wait(rho_p, prompt_s, ca2, r.input_cv**2) * np.minimum(rho_p, 1.0))
    wait = Wait.combine(admission, overflow)
    if load.mode in ("max", "concurrency"):
        # past the running cap (at max load by definition) a closed loop admits a queued request when a running one
        # leaves: admissions follow departures, not a stream the prompt budget queues (the budget bounds the
        # saturated load instead), so no budget wait: the clients' wait is (N - N_cap) / throughput alone, and
        # rate x E2E = N (Little's law)
        none = np.zeros_like(rate)
        wait = Wait(np.where(queued, none, wait.p_wait), np.where(queued, none, wait.mean_s))
    # requests queued behind the running ones, as a deterministic shift: its q-quantile and mean (an offline run's
    # backlog drains evenly; a finite run's fluid queue, below)
    def queued_q(q):  # (the first place waits nothing, even behind an endless backlog)
        return np.zeros_like(backlog) if q == 0 else q * backlog

    queued_mean = backlog / 2
    if finite is not None:
        n_req, mu, _, cap = finite  # (cap: the requests ahead of which none queues)
        # (the chain's prompts run in full prefill steps: a budget of prompt tokens beside the step's other work)
        full_s = I_new * (g.own_base + c_tok * budget) / np.maximum(budget, 1e-9)
        chain = prompt_chain(full_s, lam, mu)
        run_step, fluid, crit = finite_run_wait(n_req, mu, cap, lam, r.arrival_cv2, cs2, r.output_cv, chain)
        over = ~(lam < mu)
        # the steady state's wait, but no more than a near-critical run of N builds; past saturation the fluid
        # queue, and the fluctuations where they are the larger
        # Below it the queue builds up from the idle engine: toward the steady state's with the relaxation of its
        # admission queue (``admission_build_up``, the share f) where that steady wait W is small beside what the
        # queue's diffusion builds over the run (crit), and toward crit as W nears it: the share f + (1 - f) min(1,
        # W / crit), continuous into crit at saturation
        built = admission_build_up(n_req, t.cap, t.running, z)  # (z, the running count's peakedness: above)
        with np.errstate(invalid="ignore", divide="ignore"):  # (nothing fits, mu = 0: both waits infinite)
            beyond = np.where(mu > 0, np.maximum(crit - fluid, 0.0), np.inf)
            near = np.where(np.isfinite(wait.mean_s) & (crit > 0), np.minimum(wait.mean_s / crit, 1.0), 1.0)
            grown = built + (1.0 - built) * near  # (1 where the wait is endless)
        wait = Wait(np.where(over, 1.0, wait.p_wait * grown),
                    np.where(over, beyond, np.minimum(wait.mean_s * grown, crit)))
        rate = np.where(over, mu, rate)

        def queued_q(q):  # request q N of the run
            return finite_run_quantile(run_step, n_req, cap, q, r.output_cv, chain)

        queued_mean = fluid
        # the prompts a request's decode steps carry (or, on separate steps, wait for): past saturation with the
        # running cap C bound, the steady state's rotation has each see the prompts of the C - 1 others, but the
        # run's last C see only those admitted after them (a mean share 1 - C / (2 N) over the run); on separate
        # steps a cohort of like requests stays in step (none decodes before the cohort's last prompt is in), so
        # each sees only those after it in its cohort, half (``finite_run_tpot_share``)
        share = finite_run_tpot_share(n_req, cap, s.mixed, r.output_cv)
        decode_only = np.where(O > 1, D * t_d / gaps, tpot_mean)
        cut = np.where(over, (1.0 - share) * np.maximum(tpot_mean - decode_only, 0.0), 0.0)
        tpot_mean, tpot_avg = tpot_mean - cut, tpot_avg - cut
        drain_cut = cut  # (``_rate_run``'s run end reads the steady state's TPOT: the cut is its own drain)
    ttft_nodes = LogNormal(s_mean, np.sqrt(s_var) / np.maximum(s_mean, 1e-300))
    e2e_mean = s_mean + np.maximum(O - 1.0, 0.0) * tpot_mean
    # the end-to-end latency: the TTFT's and the output lengths' skewed parts, log-normal, plus the TPOT's normal part
    # over the request's gaps, as one shifted log-normal with the sum's first three moments
    e2e_nodes, e2e_shift = with_normal(e2e_mean, s_var + (tpot_mean * O * r.output_cv) ** 2,
                                       (np.maximum(O - 1.0, 0.0) * sigma) ** 2)
    # a positional run's queued request p N waits queued_q(p), whatever its own service and output (section 3)
    # and a wait for the server's next intake (recv_interval, ``_Intake``), set by the arrival's place in the intake
    # cycle, its quantiles in increasing order. A queued request was taken in during its queue's wait: beside a queue
    # it waits the longer of the two, taken at the same share of places
    # or a prompt's own time set by its length (``_length_shifts``: the mixture over lengths)
    placed = positional or intake is not None or by_length
    if placed:  # the waits at the edges of QUEUE_NODES equal shares of the places
        edges = np.linspace(0.0, 1.0, QUEUE_NODES + 1)
        if positional:
            places = np.stack([np.broadcast_to(queued_q(p), np.shape(wait.mean_s)) for p in edges])
        if intake is not None:
            waits = intake.quantiles(edges, np.shape(wait.mean_s))
            places = np.maximum(places, waits) if positional else waits
            queued_mean = intake.mean_s if not positional else (places[1:] + places[:-1]).mean(axis=0) / 2
        if by_length:
            places = np.broadcast_to(length_places, (QUEUE_NODES + 1, *np.shape(wait.mean_s)))
    if percentiles:  # TTFT and end-to-end share the wait: both sums solved in one stacked call
        means = np.broadcast_arrays(ttft_nodes.mean, e2e_nodes.mean, ttft_nodes.cv, e2e_nodes.cv)
        both = LogNormal(np.stack(means[:2]), np.stack(means[2:]))
        stacked_wait = Wait(np.asarray(wait.p_wait)[None, ...], np.asarray(wait.mean_s)[None, ...])
        qs_both = quantile_of_sum(stacked_wait, both, percentiles)
        if placed:  # the quantiles of the mixture over the places, from the sums' own
            qs_both = queue_mixture_quantiles(stacked_wait, both, places[:, None, ...], percentiles, qs_both)
        ttft_qs, e2e_qs = qs_both[:, 0], qs_both[:, 1]
    for i, q in enumerate(percentiles):
        label = percentile_label(q)
        shift = fixed_wait + delay + (0.0 if placed else queued_q(q))
        out[f"ttft_{label}_s"] = ttft_qs[i] + shift
        out[f"e2e_{label}_s"] = e2e_qs[i] + e2e_shift + shift
        out[f"tpot_{label}_s"] = tpot_mean + normal_ppf(q) * sigma if q != 0.5 else tpot_mean + 0.0 * sigma
        out[f"itl_{label}_s"] = _itl(s.mixed, pi, t_d, t_s, c_tok, u, x_seen, budget, q, r.stream_interval)
    if law is not None and load.mode == "concurrency":  # (a closed loop's TTFT: the sum, shifted; no backlog)
        law["cdf"] = functools.partial(_shifted_cdf, wait, ttft_nodes, fixed_wait + delay,
                                       places if intake is not None or by_length else None)
    mean_shift = fixed_wait + queued_mean
    out["ttft_mean_s"] = wait.mean_s + s_mean + mean_shift + length_mean + delay
    if finite is not None:
        out["tpot_cut_s"] = drain_cut + np.zeros(np.shape(out["ttft_mean_s"]))  # (popped by ``_rate_run``)
    out["e2e_mean_s"] = out["ttft_mean_s"] + np.maximum(O - 1.0, 0.0) * tpot_avg
    out["tpot_mean_s"] = tpot_avg
    out["queue_wait_mean_s"] = wait.mean_s + mean_shift
    out["request_rate_per_s"] = rate
    # the running batch and the KV tokens held are time averages (what an engine's gauges sample): a request runs from
    # its admission into a step (after the rest of the step in progress, R) through its prompt steps as it sees them
    # (b_mean: its k_p steps with the prompt chunks of the others) and its D_wall decode steps, each of the tagged
    # request's mean length, so lambda (b_mean + D_wall mean_step) run on average (Little's law), each holding the
    # tokens of that part of its life (``terms``). The steps' count x (k_p + D_wall) would weigh a long prompt step as
    # a short decode step, and a step with the request in it as one without (a step with one more sequence is
    # longer: the count a request sees is size-biased). A closed loop holds its clients, up to the running cap.
    if load.mode == "rate":
        with np.errstate(divide="ignore", invalid="ignore"):  # (the decode life of the mean TPOT: Little's count)
            longer = np.where(tpot_mean > 0, tpot_avg / np.where(tpot_mean > 0, tpot_mean, 1.0), 1.0)
        life_p, life_d = b_mean + length_mean, view.decode_steps * decode_step * longer
        held, shared = _held_tokens(r, s, life_p, life_d)
        # (a time average of a count the running cap bounds: at most the cap, where the tagged request's life, seen
        # with at most N_cap - 1 others, and the saturated rate, of the time-average step, part near it)
        out["running_batch"] = np.minimum(rate * (life_p + life_d), t.cap)
        out["kv_tokens"] = out["running_batch"] * held + shared
    else:
        out["running_batch"] = n_in
        out["kv_tokens"] = t.kv_tokens
    out["decode_batch"] = t.n
    out["prompt_tokens_per_step"] = t.x * I_new
    out["step_s"] = mean_step
    out["output_tokens_per_s"] = rate * O
    if ttft_target_s is not None or tpot_target_s is not None:
        if ttft_target_s is None:
            p_ttft = 1.0
        elif placed:
            # the requests queued behind the running ones (an offline run's backlog, a finite run's fluid queue) shift
            # request p N's TTFT by queued_q(p), an intake's wait by its place in the cycle: the share meeting the
            # target is the mixture's over p (the target percentile's TTFT below is that mixture's quantile, as in
            # the table)
            p_ttft = queue_mixture_cdf(wait, ttft_nodes, places, ttft_target_s - fixed_wait - delay)
        else:
            p_ttft = cdf_of_sum(wait, ttft_nodes, ttft_target_s - fixed_wait - delay)
        if tpot_target_s is not None:
            z = (tpot_target_s - tpot_mean) / np.where(sigma > 0, sigma, 1.0)
            p_tpot = np.where(sigma > 0, normal_cdf(z), (tpot_mean <= tpot_target_s).astype(float))
        else:
            p_tpot = 1.0
        if law is not None:
            law["p_ttft"], law["p_tpot"] = p_ttft, p_tpot
        out["slo_attainment"] = p_ttft * p_tpot + 0.0 * rate
        out["goodput_requests_per_s"] = rate * out["slo_attainment"]
        label = percentile_label(q_target)
        ttft_q = quantile_of_sum(wait, ttft_nodes, (q_target,))
        if placed:
            ttft_q = queue_mixture_quantiles(wait, ttft_nodes, places, (q_target,), ttft_q)
        ttft_q = ttft_q[0] + fixed_wait + delay + (0.0 if placed else queued_q(q_target))
        tpot_q = tpot_mean + normal_ppf(q_target) * sigma
        out["meets_slo"] = meets_targets(ttft_q, tpot_q, ttft_target_s, tpot_target_s, np.shape(rate))
        out[f"ttft_{label}_s"] = ttft_q
        out[f"tpot_{label}_s"] = tpot_q
    return out


def longest_drain(step: StepFn, r: Requests, n) -> np.ndarray:
    """Seconds a run's last n requests add beyond n requests of the mean output length when their outputs are spread
    (``r.output_cv``; docs/serving.md section 2d): a (E[max of n] - O) / E, a the part of the decode step that does
    not grow with the batch (the step affine between t_d(1) and t_d(n), two step evaluations), E[max of n] the
    expected longest of n log-normal outputs (``longest_of``), none longer than ``r.max_output_tokens`` (and not below
    their mean: a log-normal cut at a cap near its mean loses mean), E tokens per decode step. 0 where cv is 0."""
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    if r.output_cv <= 0:
        return np.zeros(np.shape(n))
    O = np.asarray(r.output_tokens, dtype=float)
    shape = np.broadcast_shapes(np.shape(n), np.shape(O))
    n = np.broadcast_to(n, shape)
    ends = step(np.stack([np.ones(shape), n]), np.zeros((2, *shape)))
    fixed = np.maximum(ends[0] - np.where(n > 1, (ends[1] - ends[0]) / np.maximum(n - 1.0, 1e-12), 0.0), 0.0)
    longest = longest_of(n, r.output_cv, r.max_output_tokens / O)
    return fixed * (np.maximum(longest, 1.0) - 1.0) * O / r.tokens_per_step


# the figures a run's length scales (docs/serving.md section 2d): rates by N / run; a closed run's time averages
_RUN_RATES = ("request_rate_per_s", "output_tokens_per_s", "goodput_requests_per_s")
_RUN_AVERAGES = ("running_batch", "kv_tokens")


def _scale_to_run(m: dict[str, np.ndarray], run, requests, keys: tuple[str, ...]) -> None:
    """``run_duration_s`` = ``run``, and the ``keys`` of ``m`` scaled so that the request rate is N / run."""
    rate = np.asarray(m["request_rate_per_s"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # (inf / inf where nothing fits: the rates stay 0)
        scale = np.where(np.isfinite(run) & (rate > 0), requests / run / np.where(rate > 0, rate, 1.0), 1.0)
    for key in keys:
        if key in m:
            m[key] = m[key] * scale
    m["run_duration_s"] = run + 0.0 * rate


def _closed_run(step: StepFn, r: Requests, requests, m: dict[str, np.ndarray]) -> None:
    """A run of N = ``requests`` (per replica) through a closed loop: an offline run (N sent at once, n = min(N,
    N_cap) running) or a benchmark's N prompts over its clients (n = min(clients, N_cap)). The loop hands each
    finished request's place to the next, so N / lambda covers N requests of the mean length; with spread outputs
    the last n run on as their batch empties until the longest ends, ``longest_drain`` (docs/serving.md section 2d;
    the last n taken as a fresh cohort). The rates and the time averages (running batch, KV held) scale by
    N / lambda over the run; latencies stay the loop's (their percentiles already spread the outputs)."""
    rate = np.asarray(m["request_rate_per_s"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):  # (nothing fits, rate 0: a run that never ends)
        run = np.where(rate > 0, requests / np.where(rate > 0, rate, 1.0), np.inf)
    run = run + longest_drain(step, r, m["running_batch"])
    _scale_to_run(m, run, requests, _RUN_RATES + _RUN_AVERAGES)


def _rate_run(step: StepFn, r: Requests, lam, finite: tuple, m: dict[str, np.ndarray], s: Scheduler, percentiles,
              targets: tuple) -> None:
    """A finite run of N requests at ``lam`` requests/s (``finite`` = (N, mu, C, _), per replica) in ``m``: it lasts
    from its first arrival to its last completion (docs/serving.md section 2c), the span a benchmark divides its
    completed requests by. Below saturation the last request arrives at N / lam (Poisson gaps of mean 1 / lam) and
    then runs while the engine empties: no prompt arrives after it and the others leave one by one, so its
    D = (O - 1) / E decode steps are those of a batch falling from n to none, t_d(n / 2) on average (one step
    evaluation), not the steady state's TPOT: it stays L = W - (O - 1) TPOT + D t_d(n / 2), W its mean end-to-end
    latency, n the running batch. Past saturation the engine serves the N at mu: N / mu, plus the last request's
    L at the cap (W = C / mu, n = C) scaled by mu / lam, which joins the first form at lam = mu and tends to an
    offline run's N / mu as lam grows (everything sent at once): an interpolation between those two ends (against
    the simulation, section 2c: within 3% in eight cases, 7.6% at 4 mu). With spread outputs the longest of the n
    still running then ends the run (``longest_drain``). ``run_duration_s`` is that span; the request rate, output
    throughput and goodput are N over it (``utilization`` keeps the offered rate). Where the engine holds all N at
    once, the run is one slow wave instead (``waves.slow_wave``, docs/serving.md section 2c; on mixed steps or on
    prefill steps apart): its means, its span, its running batch (Little's law: the wave's rate times its mean
    end-to-end latency) and (where the arrivals end within a request's life, or the prompts queue, or on prefill
    steps apart past the steady state's saturation) its percentiles are the wave's; elsewhere the steady state's
    percentiles stay, TPOT's scaled to the wave's mean, end-to-end's moved. ``slow_wave`` in ``m`` is 1 where it
    applies."""
    n_req, mu, cap, _ = finite
    lam = np.asarray(lam, dtype=float)
    below = lam < mu
    O = np.asarray(r.output_tokens, dtype=float)
    n_end = np.where(below, m["running_batch"], cap)
    shape = np.broadcast_shapes(np.shape(n_end), np.shape(O), np.shape(lam))
    half = step(np.broadcast_to(np.maximum(n_end / 2.0, 1.0), shape), np.zeros(shape))
    decode = np.maximum(O - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # (nothing fits, mu = 0: a run that never ends)
        stay = np.where(below, m["e2e_mean_s"], cap / np.where(mu > 0, mu, 1.0))
        # (the steady state's TPOT: the finite run's own, less the prompts its last requests miss, is this drain's)
        steady_tpot = m["tpot_mean_s"] + m.pop("tpot_cut_s")
        last = np.maximum(stay - decode * steady_tpot + decode / r.tokens_per_step * half, 0.0)
        served = np.where(below, n_req / lam, np.where(mu > 0, n_req / np.where(mu > 0, mu, 1.0), np.inf))
        last = np.where(below, last, last * mu / lam)
    run = served + last
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # (kept only where the wave applies)
        wave = slow_wave(step, r, s, n_req, lam, m["step_s"], m["ttft_mean_s"], percentiles, targets)
    m["slow_wave"] = np.where(wave.applies, 1.0, 0.0)  # (1 where the run is one slow wave: the CLI says so)
    if np.any(wave.applies):  # the run is one slow wave: its means and its span are the wave's
        f = wave.figures
        # its percentiles too where the arrivals end within a request's life or the prompts queue (or, on separate
        # prefill steps, past the steady state's saturation, whose figures then have no steady state); in a longer
        # run the arrivals' randomness spreads the latencies, as the steady state's percentiles have it (those
        # of TPOT scaled to the wave's mean, of end-to-end latency moved with it)
        ranks = wave.applies & (wave.queued | (n_req / lam < f["e2e_mean_s"]) | (not s.mixed and ~below))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(m["tpot_mean_s"] > 0, f["tpot_mean_s"] / m["tpot_mean_s"], 1.0)
        shift = f["e2e_mean_s"] - m["e2e_mean_s"]
        # (prompts that come as they arrive wait as the steady state's do, for the step in progress and then their
        # own: their TTFT percentiles are the steady state's, moved to the wave's mean, whatever the run's length)
        ttft_shift = f["ttft_mean_s"] - m["ttft_mean_s"]
        for key, value in f.items():
            if key in _RUN_RATES or key not in m:
                continue
            if key.startswith("ttft_p"):
                m[key] = np.where(wave.applies & wave.queued, value,
                                  np.where(wave.applies, m[key] + ttft_shift, m[key]))
            elif key.startswith(("tpot_p", "e2e_p", "itl_p")):
                steady_value = m[key] * scale if key.startswith("tpot_p") else \
                    m[key] + shift if key.startswith("e2e_p") else m[key]
                m[key] = np.where(ranks, value, np.where(wave.applies, steady_value, m[key]))
            else:
                m[key] = np.where(wave.applies, value, m[key])
        if "goodput_requests_per_s" in m:  # (the wave's share meeting the targets, at the rate scaled below)
            m["goodput_requests_per_s"] = m["request_rate_per_s"] * m["slo_attainment"]
        with np.errstate(divide="ignore", invalid="ignore"):
            run = np.where(wave.applies, n_req / f["request_rate_per_s"], run)
            # the requests in the engine over the run (Little's law: its rate times their mean time in it), and
            # the KV cache they hold in proportion
            held = np.minimum(f["request_rate_per_s"] * f["e2e_mean_s"], n_req)
            fraction = np.where(m["running_batch"] > 0, held / m["running_batch"], 1.0)
        m["kv_tokens"] = np.where(wave.applies, m["kv_tokens"] * fraction, m["kv_tokens"])
        m["running_batch"] = np.where(wave.applies, held, m["running_batch"])
        n_end = np.where(wave.applies, wave.running_at_end, n_end)
    _scale_to_run(m, run + longest_drain(step, r, n_end), n_req, _RUN_RATES)


def _completions_cv2(r: Requests, t: Terms) -> np.ndarray:
    """Squared coefficient of variation of a closed loop's admissions (``_figures``): a request's time in service in
    steps, its output's spread (identical requests rotate in lockstep)."""
    return (t.decode_steps * r.output_cv / np.maximum(t.steps_prefill + t.decode_steps, 1e-12)) ** 2


def _life_cv2(r: Requests, t: Terms, load: Load, cs2=None) -> np.ndarray:
    """How much more the prompt chunks and the running count vary over a request's life than Poisson's: the
    arrivals' squared coefficient of variation in an open loop, in a closed loop that of the completions
    (``_completions_cv2``, ``cs2`` where already computed)."""
    if load.mode == "rate":
        return r.arrival_cv2
    return _completions_cv2(r, t) if cs2 is None else cs2


def _open_loop_step(x, lam, stable, grid) -> np.ndarray:
    """The time-average step of an open loop at load x and rate lam (``_open_loop_x``): x / lam where the rate is
    reached (x = lam t), the load grid's last node's step x_max / lambda(x_max) past it, one request's t_0 (the
    grid's, ``_rate_grid``) with no load."""
    lam = np.asarray(lam, dtype=float)
    rate = np.where(stable, lam, grid[1][-1])
    return np.where(rate > 0, x / np.maximum(rate, 1e-300), grid[2])


def _count_width(r: Requests, t: Terms, view: Terms, load: Load) -> np.ndarray:
    """Z_COUNT standard deviations of a closed loop's decoding count over a request's life, in sequences: how far above
    the n decoding sequences a tagged request sees (1 + ``view.n``) its life's mean count reaches at the
    COUNT_QUANTILE (docs/serving.md section 3). The TPOT's spread takes the decode step's rise over that width
    (``_evaluate``'s ``rise``): a request's TPOT is about the step at its life's mean count, so a step that only grows
    with n maps the count's quantile onto the TPOT's. A closed loop's running count is fixed; only the share of it in
    prefill, x k_p on average, moves, with the completions' spread. (An open loop takes its count with its prompt
    work, ``_joint_quantile``.)"""
    var_n = _life_cv2(r, t, load) * view.x * view.steps_prefill
    return Z_COUNT * np.sqrt(np.maximum(var_n, 0.0))


def _count_room(view: Terms) -> np.ndarray:
    """How far above its mean the decoding count of an open loop can go: near the running cap arrivals wait for
    admission instead of joining the batch, so the cap's headroom in running sequences times the decoding share of
    them, n / N_run (a quantile n + width = min(n + z sd, n N_cap / N_run) settles at the cap's decoding count)."""
    headroom = np.maximum(np.where(np.isfinite(view.cap), view.cap, np.inf) - view.running, 0.0)
    with np.errstate(invalid="ignore"):  # (no cap and nothing running: inf x 0, no room needed)
        return np.where(view.n > 0, headroom * view.n / np.maximum(view.running, 1e-300), 0.0)


def _gain(t_0, mean_step) -> np.ndarray:
    """The open loop's feedback through the step time, g = 1 - t_0 / t (one request's step over the time-average
    one: the share of the step its load adds), at most the cascade's GAIN_CAP (0.95)."""
    return np.clip(1.0 - t_0 / np.maximum(mean_step, 1e-300), 0.0, GAIN_CAP)


def _on_grid(step: StepFn, r: Requests, s: Scheduler, t: Terms, view: Terms, load: Load, grid, x, lam, stable,
             spread: bool, extra: tuple = ()) -> dict[str, np.ndarray]:
    """The tagged request's steps at a load solved on the load grid (``_evaluate``; ``solve`` and the goodput search
    ``_max_rate_meeting``), with ``spread`` the rows of the TPOT's spread in the same call: an open loop's request's
    life at the joint upper quantile of its decoding count and prompt chunks (``_joint_quantile``, from the prompt work
    the load grid gives, ``_grid_prompts``, and the loop's time-average step ``_open_loop_step``); a closed loop's
    running count's upper quantile (``_count_width``). An open loop's result also holds ``count_bias``, the decoding
    count's size bias for its mean TPOT (``_count_bias``; no step row)."""
    width = joint = bias = None
    if load.mode == "rate":
        at = _grid_at(grid, view.x)
        prompts = _grid_prompts(r, s, view, grid, at)
        bias = _count_bias(r, t, view, load, grid, at, prompts, not s.mixed)
        if spread:
            joint = _joint_quantile(r, t, view, load, grid[2], _open_loop_step(x, lam, stable, grid), *prompts,
                                    mixed=s.mixed)
    elif spread:
        width = _count_width(r, t, view, load)
    e = _evaluate(step, view, s.mixed, width=width, extra=extra, joint=joint, lengths=_length_rows(r, s, view))
    if bias is not None:
        e["count_bias"], e["count_dispersion"] = bias
    return e


def _feedback(t_0, loop_step, rho, beta_local=None) -> tuple[np.ndarray, np.ndarray]:
    """(alpha, beta) of an open loop's self-exciting count (``genmodel.serving.cascade``): alpha = rho, the prompt
    work's share of the time, and beta = g - rho, the decoding count's share of the step's rise with the load (g =
    ``_gain``), at most ``beta_local`` where given (prefill steps apart: ``_count_share``)."""
    beta = np.maximum(_gain(t_0, loop_step) - rho, 0.0)
    return rho, beta if beta_local is None else np.minimum(beta, beta_local)


def _count_bias(r: Requests, t: Terms, view: Terms, load: Load, grid, at, prompts,
                separate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(bias, dispersion). The bias: how many decoding sequences more than the steps' mean n a request of an open loop
    finds on average, beyond its own place in its steps (docs/serving.md section 3): the time average of the count,
    which Little's law reads as lambda D TPOT, exceeds n by kappa (beta J0 + alpha J1)
    (``genmodel.serving.cascade.size_bias``, kappa the arrivals' squared coefficient of variation over a life,
    ``_life_cv2``), of which beta is the tagged request's own place (the "1 +" of its steps, Poisson's share); J0
    and J1 for lives of the request's D_wall steps. Cov(N, t) / Var(N) is the step's slope over the count's own
    spread, so alpha and beta (``_feedback``, from the gain g of an idle engine's step) are scaled down together to
    the elasticity g' = x dt / (t dx) of the mean step's secant over the load x(1 -+ s), s = sqrt(kappa J0 / n) the
    count's relative standard deviation, at least SECANT_MIN, its upper end at most the saturated load: an MoE's
    step, steep where its first sequences and prompts wake its experts and flat past them, has a far smaller slope
    there than from an idle engine. At most beta times the count's room to the running cap (``_count_room``;
    ``separate``, prefill steps apart: the room itself), and a finite run's for the share of it its fluctuations
    have built up in. All at the tagged request's load (``view``: constant where it sees the cap; ``at``:
    ``_grid_at`` there). The dispersion: the decoding count's Var / mean, kappa (1 + (J0 - 1) o), o the share of the
    feedback's excess that lives of spread lengths keep (``_life_overlap``), a finite run's built up as the bias's
    is: the running count's peakedness, which sets how often it meets the running cap (the admission's wait,
    ``peaked_erlang_c`` in ``_figures``; docs/serving.md section 3)."""
    x = view.x
    nodes, steps, _, _, loop_step = at
    alpha, beta = _feedback(grid[2], loop_step, prompts[0], *prompts[3:])
    kappa = _life_cv2(r, t, load)
    life = view.decode_steps  # (in steps of the loop: with prefill steps apart, D / (1 - pi))
    j0 = size_bias(alpha, beta, life)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(view.n > 0, np.sqrt(np.maximum(kappa * j0, 0.0) / np.where(view.n > 0, view.n, 1.0)), 1.0)
    spread = np.maximum(spread, SECANT_MIN)
    lo, hi = np.maximum(x * (1.0 - spread), 0.0), np.minimum(x * (1.0 + spread), nodes[-1])
    (t_lo,), (t_hi,) = _at_load(nodes, (steps,), lo), _at_load(nodes, (steps,), hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(hi > lo, x * (t_hi - t_lo) / np.where(hi > lo, hi - lo, 1.0), 0.0) / np.maximum(loop_step,
                                                                                                    1e-300)
    total = alpha + beta
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, np.clip(gain / np.where(total > 0, total, 1.0), 0.0, 1.0), 0.0)
    alpha, beta = alpha * ratio, beta * ratio
    j0, j1 = size_bias(alpha, beta, life)
    # the time-average count cannot pass the running cap: at most its room. With mixed steps at most beta times it,
    # the mean TPOT then at most the step's at the cap's count, t-bar + b_n room (Little's form, n t-bar / beta per
    # sequence): there the echo of the request's own prompt steps (``_figures``) is the share of alpha J1 a few decode
    # steps see; prefill steps apart have no echo, and alpha J1 carries it
    room = _count_room(view) if separate else beta * _count_room(view)
    bias = np.clip(kappa * (beta * j0 + alpha * j1) - beta, 0.0, room)
    # the running count's dispersion, Var / mean, for the admission's queue (``peaked_erlang_c``): kappa J0, of whose
    # excess over Poisson's lives of spread lengths keep the share ``_life_overlap``
    excess = (j0 - 1.0) * _life_overlap(_completions_cv2(r, t))
    if load.requests is not None:
        # a finite run of N requests from an idle engine holds the stationary count only once its fluctuations have
        # built up: the cluster one arrival sets off lasts about a life over 1 - g (the spectrum's low-frequency peak,
        # of width (1 - g) / beta per life), N_run / (1 - g) arrivals, so for the share 1 - N_run / ((1 - g) N) of the
        # run at most (its ramp is ``finite_run_batch``'s)
        relax = t.running / np.maximum(1.0 - np.minimum(alpha + beta, GAIN_CAP), 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            built = np.clip(1.0 - relax / np.asarray(load.requests, dtype=float), 0.0, 1.0)
        bias, excess = bias * built, excess * built
    return bias, kappa * (1.0 + excess)


def _life_overlap(life_cv2) -> np.ndarray:
    """E[min(L1, L2)] / E[L] for two independent log-normal lives of squared coefficient of variation ``life_cv2``: 1 -
    G, G = 2 Phi(sigma / sqrt 2) - 1 the log-normal's Gini coefficient (sigma^2 = ln(1 + cv^2)); 1 for lives of one
    length, 0.556 at cv 1 (exponential lives, of cv 1 too, would give 1/2). The share of the decoding count's
    feedback variance that lives of spread lengths keep (``_count_bias``): the count sums each arrival over its own
    life, so the variance the arrivals' feedback adds, the product of two requests' presence, runs over the shorter
    of their lives."""
    sigma = np.sqrt(np.log1p(np.maximum(np.asarray(life_cv2, dtype=float), 0.0)))
    return 2.0 * (1.0 - normal_cdf(sigma / np.sqrt(2.0)))


def _chunk_quantile(r: Requests, t: Terms, view: Terms, load: Load, rho) -> tuple[np.ndarray, ...]:
    """Where a request's prompt chunks per step reach their upper quantile over its life, with mixed steps in a closed
    loop (docs/serving.md section 3; an open loop takes them with its count, ``_joint_quantile``): (w, pi', p'). The
    mean chunks per step over its D decode steps vary by life_cv2 x_seen / D (Poisson's count of x_seen = x k_p chunks
    a step, times the life's spread ``_life_cv2``), stretched by the steps' correlation rho (an AR(1)'s mean: (1 +
    rho) / ((1 - rho)(1 - rho^2))), plus the count's Cornish-Fisher skew term; at x_seen + w chunks a step, w = Z_COUNT
    standard deviations, the share of steps carrying prompt tokens is pi' and each carries p' tokens (as ``terms``
    counts them; p' at most the step's budget, beyond which chunks wait for later steps)."""
    D = np.maximum(r.output_tokens - 1.0, 0.0) / r.tokens_per_step
    u, x_seen = _chunks_seen(r, view)
    stretch = (1.0 + rho) / ((1.0 - rho) * (1.0 - rho**2))
    dispersion = _life_cv2(r, t, load) * stretch  # the life's count's variance over its mean
    var = dispersion * x_seen / np.maximum(D, 1e-12)
    skew = (Z_COUNT**2 - 1.0) / 3.0 * dispersion / np.maximum(D, 1e-12)
    w = np.where(D > 0, Z_COUNT * np.sqrt(np.maximum(var, 0.0)) + np.maximum(skew, 0.0), 0.0)
    hi = x_seen + w
    return (w, *_carried(hi, hi * u / np.maximum(view.budget, 1e-9), u, view))


def _carried(chunks, work, u, view: Terms) -> tuple[np.ndarray, np.ndarray]:
    """(pi, p): at ``chunks`` chunks of u tokens a step, the share of steps carrying prompt tokens (``_prompt_share``
    among the running cap, at least ``work``) and the tokens each carries, at most the step's budget."""
    pi = _prompt_share(chunks, view.cap, work)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pi, np.where(pi > 0, np.minimum(chunks * u / np.where(pi > 0, pi, 1.0), view.budget), 0.0)


def _rise_to(chunks: tuple[np.ndarray, ...], t_d, t_s, t_hi, pi) -> np.ndarray:
    """The mean step's rise to the chunks' quantile (``_chunk_quantile``'s (w, pi', p'); t_hi the step with p' prompt
    tokens): (1 - pi') t_d + pi' t_hi less the mean step the request sees, (1 - pi) t_d + pi t_s; at least 0; 0 where
    w is."""
    w, pi_hi = chunks[:2]
    raised = (1.0 - pi_hi) * t_d + pi_hi * t_hi
    return np.where(w > 0, np.maximum(raised - ((1.0 - pi) * t_d + pi * t_s), 0.0), 0.0)


def _grid_at(grid, x) -> tuple[np.ndarray, ...]:
    """(nodes, steps, idx, frac, t-bar): the load grid and each node's time-average step (``_open_loop_step``, t_0 at
    the first) on the configurations of the loads ``x``, the two nodes around each load (``_bracket``) and the
    time-average step there, linear between them: what an open loop's prompt work (``_grid_prompts``) and size bias
    (``_count_bias``) read at the tagged request's load."""
    nodes, rates = _grid_on(grid, np.shape(x))
    steps = _open_loop_step(nodes, rates, True, grid)
    idx, frac = _bracket(nodes, x)
    return nodes, steps, idx, frac, _lerp(steps, idx, frac)


def _grid_prompts(r: Requests, s: Scheduler, view: Terms, grid, at):
    """The prompt work of an open loop with mixed steps at the tagged request's load (``view.x``; ``at``: ``_grid_at``
    there), before its step call (so that the rows of its spread ride in it, ``_joint_quantile``): (rho, c u,
    arrived) with the steps' correlation rho = x_seen u c / t-bar, the prompt work's share of the time, a prompt
    token's cost c and the time-average step t-bar = x / lambda(x) taken linear between the load grid's two nodes
    around it (``_rate_grid``; t_0 at the first node), and the prompts that arrive during the tagged request's own
    prompt steps, lambda B with B = k_p t_s (t_s, the time-average step with prompt tokens, linear between the same
    nodes) and lambda = x / t-bar. With prefill steps apart, ``_grid_stalls``'s."""
    x = view.x
    _, _, idx, frac, mean_step = at

    def between(values, of=None):
        """``values`` (a grid array, or several: then ``of`` combines them node by node) linear between the nodes."""
        if of is None:
            return _lerp(values, idx, frac)
        lo, hi = of(*(_pick(v, idx - 1) for v in values)), of(*(_pick(v, idx) for v in values))
        return lo + (hi - lo) * frac

    u, x_seen = _chunks_seen(r, view)
    if not s.mixed:
        return _grid_stalls(grid, np.shape(x), between, view, x_seen, mean_step)
    c_tok = between(_grid_on((grid[0], grid[4]), np.shape(x))[1])
    rho = np.minimum(x_seen * u * c_tok / np.maximum(mean_step, 1e-300), 0.99)
    prompt_s = view.steps_prefill * between(_grid_on((grid[0], grid[5]), np.shape(x))[1])
    return rho, c_tok * u, x / np.maximum(mean_step, 1e-300) * prompt_s


def _bracket(nodes: np.ndarray, x) -> tuple[np.ndarray, np.ndarray]:
    """(idx, frac): the load grid's node at or above the load ``x`` (at least the second) and where ``x`` lies between
    it and the one before, 0 to 1 (clipped: constant past the last node)."""
    idx = np.clip((nodes < x[None, ...]).sum(axis=0), 1, len(nodes) - 1)
    a, b = _pick(nodes, idx - 1), _pick(nodes, idx)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip(np.where(b > a, (x - a) / np.where(b > a, b - a, 1.0), 0.0), 0.0, 1.0)
    return idx, frac


def _at_load(nodes: np.ndarray, values: tuple[np.ndarray, ...], x) -> list[np.ndarray]:
    """Each of ``values`` (on the load grid's ``nodes``, a leading axis) taken linear between the two nodes around the
    load ``x`` (``_bracket``)."""
    idx, frac = _bracket(nodes, x)
    return [_lerp(v, idx, frac) for v in values]


def _lerp(values: np.ndarray, idx, frac) -> np.ndarray:
    """``values`` (a leading axis of grid nodes) linear between nodes idx - 1 and idx at ``frac`` (``_bracket``)."""
    lo = _pick(values, idx - 1)
    return lo + (_pick(values, idx) - lo) * frac


def _grid_stalls(grid, shape: tuple[int, ...], between, view: Terms, x_seen, mean_step):
    """``_grid_prompts`` for prefill steps apart: (alpha, c, 0.0, beta'). A prompt stalls the decoding requests for the
    prefill step it joins: with a share pi of the steps prefill steps of t_p seconds (the load grid's time-average
    prefill step), the prefill seconds per step are P = pi t_p and a decoding request's stall per decode step S = P /
    (1 - pi), both taken linear between the grid's two nodes around the load. The prompt work's share of the time is
    alpha = P / t-bar, and a chunk's seconds in a decode step's time c = S / x_seen (as with mixed steps, the mean cost
    of a chunk, not its margin: S grows as 1 / (1 - pi)). No echo (0.0): the mean TPOT stays the tagged request's.
    beta': the decoding count's share of the step's rise (``_count_share``, decode steps 1 - pi of the steps)."""
    steps = (_grid_on((grid[0], grid[6]), shape)[1], _grid_on((grid[0], grid[5]), shape)[1])  # (pi, t_p)
    prefill = between(steps, np.multiply)
    stall = between(steps, lambda pi, t_p: pi * t_p / np.maximum(1.0 - pi, 1e-12))
    alpha = np.minimum(prefill / np.maximum(mean_step, 1e-300), 0.99)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_u = np.where(x_seen > 0, stall / np.where(x_seen > 0, x_seen, 1.0), 0.0)
    return alpha, c_u, 0.0, _count_share(grid, shape, view, mean_step)


def _count_share(grid, shape: tuple[int, ...], view: Terms, mean_step):
    """The decoding count's share of the time-average step's rise at the tagged request's load with prefill steps
    apart, (1 - pi) n b / t-bar (1 - pi: the share of steps that decode), with b the load grid's decode step's secant
    from half the load to saturation (t_d at its n decoding sequences): the cap
    ``_joint_quantile`` puts on beta = g - alpha with prefill steps apart, g's slope being the mean one from a single
    request. Where the step is concave in its count (an MoE's, steep while its experts are first read and flat once
    most are) that slope is several times the step's own at the load; the secant is that wide because a step is
    jagged in its batch (captured-graph sizes: a secant between two grid nodes inside one size is flat). (Not taken
    with mixed steps: there it made the TPOT P99 fall with the load by up to 11%, docs/serving.md section 3.)"""
    nodes, t_d = _grid_on((grid[0], grid[7]), shape)
    n = _grid_on((grid[0], grid[8]), shape)[1]
    half = _at_load(nodes, (n, t_d), np.broadcast_to(view.x / 2, shape))
    with np.errstate(divide="ignore", invalid="ignore"):
        dn = n[-1] - half[0]
        slope = np.where(dn > 0, (t_d[-1] - half[1]) / np.where(dn > 0, dn, 1.0), 0.0)
    return np.maximum(slope, 0.0) * (1.0 - view.pi) * view.n / np.maximum(mean_step, 1e-300)


def _joint_quantile(r: Requests, t: Terms, view: Terms, load: Load, t_0, loop_step, rho, c_u, arrived,
                    beta_local=None, mixed: bool = True):
    """Where a request's life reaches its TPOT's upper quantile in an open loop (docs/serving.md section 3): (n_hi,
    pi_hi, p_hi, pi_e, p_e, rise), its steps then holding n_hi decoding sequences, a share pi_hi of them carrying p_hi
    prompt tokens each, at the mean its steps with the echo of its own prompt steps (pi_e, p_e), and the chunks' rise
    c_u dx in seconds (what prefill steps apart, ``mixed`` false, add to a decode step's time, linear in the chunks;
    their chunks per step are averaged over the request's wall steps, D / (1 - pi), and a decode step's slope per
    sequence is b_n / (1 - pi); ``beta_local``: a cap on beta, ``_count_share``'s).

    Over its D decode steps the mean decoding count and the mean prompt chunks per step come from the same arrivals,
    which lengthen the steps that follow them (a burst brings prompt work into the request's steps and decoding
    sequences after it; ``genmodel.serving.cascade``, alpha = rho, beta = g - rho with g = 1 - t_0 / t-bar, t-bar
    ``loop_step``): with the arrivals' squared coefficient of variation k (``_life_cv2``) the count varies by k n
    j_nn, the chunks per step by k j_pp (x_seen + e) / D (e the echo, ``arrived`` min(k_p, D) / D), and together by
    k j_np x_seen. A step linear in them, b_n per sequence (b_n = beta t-bar / n, n the loop's) and c u per chunk,
    gives the TPOT a standard deviation sigma, and its upper quantile lies at Z_COUNT sigma along the gradient: the
    count dn = Z (b_n V_n + c u C) / sigma above n, the chunks dx = Z (c u V_x + b_n C) / sigma above their mean, plus
    the chunk count's Cornish-Fisher skew term (Z^2 - 1) / 3 k j_pp / D (over-dispersed counts lean right). Near the
    running cap the count cannot go past its room (``_count_room``): its deviation is scaled to reach at most the room
    at Z standard deviations (V_n by f^2, C by f), so dn is at most the room and the quantile turns to the chunks as
    the room closes. The step itself is then taken there (``_evaluate``'s ``joint``), so the quantile's padded
    shapes, budget and concavity are the step's own, and the quantile moves up as the load does."""
    D = np.maximum(r.output_tokens - 1.0, 0.0) / r.tokens_per_step
    live = D > 0
    d_safe = np.where(live, D, 1.0)
    u, x_seen = _chunks_seen(r, view)
    kp = view.steps_prefill
    echo = np.where(live, arrived * np.minimum(kp, np.maximum(D, 1.0)) / d_safe, 0.0)
    mean = x_seen + echo
    rho, beta = _feedback(t_0, loop_step, rho, beta_local)
    j_pp, j_nn, j_np = life_spread(rho, beta)
    k = _life_cv2(r, t, load)
    # (prefill steps apart: the chunks per step averaged over the request's wall steps, decode and prefill)
    window = d_safe if mixed else np.where(live, np.maximum(view.decode_steps, 1e-12), 1.0)
    v_n, v_x, cov = k * j_nn * view.n, k * j_pp * mean / window, k * j_np * x_seen
    # the count cannot go past the running cap's room: its deviation scaled down to reach at most that at Z_COUNT
    # standard deviations (its variance by f^2, its covariance by f), so that dn below is at most the room
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(v_n > 0, np.minimum(1.0, _count_room(view) / (Z_COUNT * np.sqrt(np.where(v_n > 0, v_n, 1.0)))),
                     1.0)
    v_n, cov = f * f * v_n, f * cov
    b_n = beta * loop_step / np.maximum(t.n, 1e-300)  # (the loop's own count: beta is its share)
    if not mixed:  # (a decode step's rise per sequence: decode steps are 1 - pi of the loop's steps)
        b_n = b_n / np.maximum(1.0 - t.pi, 1e-12)
    sd = np.sqrt(np.maximum(b_n**2 * v_n + c_u**2 * v_x + 2.0 * b_n * c_u * cov, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        dn = np.where(sd > 0, Z_COUNT * (b_n * v_n + c_u * cov) / np.where(sd > 0, sd, 1.0), 0.0)
        dx = np.where(sd > 0, Z_COUNT * (c_u * v_x + b_n * cov) / np.where(sd > 0, sd, 1.0), Z_COUNT * np.sqrt(v_x))
    skew = (Z_COUNT**2 - 1.0) / 3.0 * k * j_pp / window
    dn = np.where(live, np.maximum(dn, 0.0), 0.0)
    dx = np.where(live, np.maximum(dx, 0.0) + np.maximum(skew, 0.0), 0.0)
    hi = mean + dx
    safe = np.maximum(view.budget, 1e-9)
    return (1.0 + view.n + dn, *_carried(hi, hi * u / safe, u, view), *_carried(mean, x_seen * u / safe, u, view),
            c_u * dx)


def _add_chunk_rise(step: StepFn, r: Requests, s: Scheduler, t: Terms, view: Terms, load: Load,
                    e: dict[str, np.ndarray]) -> None:
    """``e["chunk_rise"]`` (``_evaluate``'s, as ``_rise_to`` gives it) of a closed loop with mixed steps, after its
    step call: the steps' correlation rho_c from the tagged steps (``_prompt_work``), the quantile's step in a call of
    its own, made only where a request's life has a spread of chunks (a closed loop of identical requests has none).
    Nothing for separate prefill steps (their stalls keep the secant c, ``_figures``)."""
    if not s.mixed:
        return
    t_d, t_s = e["t_d"], e["t_s"]
    rho = _prompt_work(r, view, t_d, t_s, e["t_own"])[4]
    chunks = _chunk_quantile(r, t, view, load, rho)
    if not np.any(chunks[0] > 0):
        e["chunk_rise"] = np.zeros(np.shape(t_d))
        return
    n_hi, p_hi = np.broadcast_arrays(1.0 + view.n, chunks[2])
    e["chunk_rise"] = _rise_to(chunks, t_d, t_s, step(n_hi, p_hi), view.pi)


def _shifted_cdf(wait: Wait, s: LogNormal, shift, places, x) -> np.ndarray:
    """P(W + S + shift <= x), the distribution's parameters broadcast to x's configuration shape (a call whose
    configurations share one distribution, asked at several points); ``places``: the waits at the edges of the
    places (an intake's, ``_figures``) whose mixture is added, or None."""
    x = np.asarray(x, dtype=float)
    if places is not None:
        return queue_mixture_cdf(wait, s, places, x - shift)
    shape = np.broadcast_shapes(x.shape, np.shape(s.mean), np.shape(s.cv), np.shape(wait.p_wait),
                                np.shape(wait.mean_s))
    if np.shape(s.mean) != shape or np.shape(s.cv) != shape:
        s = LogNormal(np.broadcast_to(s.mean, shape), np.broadcast_to(s.cv, shape))
    if np.shape(wait.p_wait) != shape or np.shape(wait.mean_s) != shape:
        wait = Wait(np.broadcast_to(wait.p_wait, shape), np.broadcast_to(wait.mean_s, shape))
    return cdf_of_sum(wait, s, x - shift)


@dataclass(frozen=True)
class _Intake:
    """The wait of a request for a server that takes new requests in only every N decode steps (SGLang's
    --scheduler-recv-interval; docs/serving.md section 3), beyond the rest of the step in progress and the prompt
    chunks of the others that share its step at Poisson arrivals (both in its TTFT already). A share ``share`` of the
    arrivals lands while the engine decodes; the others wait nothing more. One that lands at place p in [0, 1] of the
    cycle waits ``span`` (1 - p) for the intake (``span`` = (N - 1) decode steps), and the prompts taken in with it,
    ``tokens_per_s`` (c* + span) of prompt tokens (those that arrived over the cycle, c* the step an arrival lands in),
    share its prefill: those that came before it (a share p) go first. Within its own step's room (``budget`` less its
    ``chunk``) a prompt token ahead or behind it costs ``c_tok``; beyond the room the ones ahead fill whole steps of
    ``base`` + ``c_tok`` x ``budget`` each. Less the others a Poisson step already holds, that is its wait W(p); the
    wait's distribution is that of W at a uniform place, given by the sorted values at the quantile levels. A share
    ``later`` lands while the intake's prompts are being prefilled: taken in at once, it queues behind what is left of
    them, uniform on [0, ``after_s``] beyond the step in progress (the work left falls evenly through the run)."""

    share: np.ndarray
    span: np.ndarray
    c_star: np.ndarray
    tokens_per_s: np.ndarray
    chunk: np.ndarray
    budget: np.ndarray
    c_tok: np.ndarray
    base: np.ndarray
    later: np.ndarray | float = 0.0
    after_s: np.ndarray | float = 0.0

    def at(self, p) -> np.ndarray:
        """W(p): the wait of an arrival during decoding at place p of the cycle (p an array of places on a leading
        axis, or a number)."""
        room = np.maximum(self.budget - self.chunk, 0.0)
        bunch = self.tokens_per_s * (self.c_star + self.span)
        ahead, behind = bunch * p, bunch * (1.0 - p)
        full = (self.base + self.c_tok * self.budget) / np.maximum(self.budget, 1e-300)  # per token, whole steps
        prefill = (self.c_tok * np.minimum(ahead, room) + full * np.maximum(ahead - room, 0.0)
                   + self.c_tok * np.minimum(behind, np.maximum(room - ahead, 0.0)))
        held = self.c_tok * np.minimum(self.tokens_per_s * self.c_star, room)  # (a Poisson step's others: counted)
        return self.span * (1.0 - p) + np.maximum(prefill - held, 0.0)

    def quantiles(self, levels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """The wait at quantile ``levels`` (leading axis), of ``shape``: 0 below 1 - share, above it W's values at
        129 places sorted (W's distribution at a uniform place), read at the level's share of them; with arrivals
        during the prefill run (``later`` > 0 and ``after_s`` > 0), the quantiles of the three-part mixture."""
        lead = (-1, *([1] * len(shape)))  # (a leading axis over the configurations' shape)
        values = np.sort(np.broadcast_to(self.at(np.linspace(0.0, 1.0, 129).reshape(lead)), (129, *shape)), axis=0)
        levels = np.asarray(levels, dtype=float).reshape(lead)
        if np.any((np.asarray(self.later) > 0) & (np.asarray(self.after_s) > 0)):
            return self._mixture_quantiles(values, levels, shape)
        share = np.broadcast_to(self.share, shape)
        inner = np.clip((levels - (1.0 - share)) / np.maximum(share, 1e-300), 0.0, 1.0) * 128.0
        lo = np.minimum(np.floor(inner).astype(int), 127)
        a, b = np.take_along_axis(values, lo, 0), np.take_along_axis(values, lo + 1, 0)
        return np.where(levels <= 1.0 - share, 0.0, a + (inner - lo) * (b - a))

    def _mixture_quantiles(self, values: np.ndarray, levels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """``quantiles`` of the mixture: 0 (a share 1 - share - later), uniform on [0, after_s] (later) and W at a
        uniform place (share, its 129 sorted ``values``), from the mixture's distribution function, piecewise linear
        between the two parts' nodes, inverted at each level."""
        lead = (-1, *([1] * len(shape)))
        share, later, after = (np.broadcast_to(np.asarray(v, dtype=float), shape)
                               for v in (self.share, self.later, self.after_s))
        nodes = np.sort(np.concatenate([values, np.linspace(0.0, 1.0, 129).reshape(lead) * after]), axis=0)
        # W's distribution at each node: linear between its sorted values (a share i / 128 at the i-th)
        below = (values[None, ...] <= nodes[:, None, ...]).sum(axis=1)  # values at or below each node
        lo = np.clip(below - 1, 0, 127)
        a, b = np.take_along_axis(values, lo, 0), np.take_along_axis(values, lo + 1, 0)
        inner = np.where(b > a, (nodes - a) / np.where(b > a, b - a, 1.0), 1.0)
        f_w = np.where(below == 0, 0.0, np.where(below >= 129, 1.0, (lo + np.clip(inner, 0.0, 1.0)) / 128.0))
        # (a uniform on [0, 0] is all at 0: a configuration whose run is one step waits nothing more there)
        f_u = np.where(after > 0, np.clip(nodes / np.where(after > 0, after, 1.0), 0.0, 1.0), 1.0)
        cdf = (1.0 - share - later) + later * f_u + share * f_w  # non-decreasing in the nodes
        # the node where the distribution first reaches each level, and the straight line from the one before
        k = np.clip((cdf[None, ...] < levels[:, None, ...]).sum(axis=1), 1, nodes.shape[0] - 1)
        x0, x1 = np.take_along_axis(nodes, k - 1, 0), np.take_along_axis(nodes, k, 0)
        c0, c1 = np.take_along_axis(cdf, k - 1, 0), np.take_along_axis(cdf, k, 0)
        step = np.where(c1 > c0, (levels - c0) / np.where(c1 > c0, c1 - c0, 1.0), 1.0)
        return np.where(levels <= cdf[:1], 0.0, x0 + np.clip(step, 0.0, 1.0) * (x1 - x0))

    @functools.cached_property
    def mean_s(self) -> np.ndarray:
        """The mean wait over arrivals: share x W's mean over places (the midpoints of 128 equal cells), and the
        prefill run's arrivals' later x after_s / 2."""
        places = ((np.arange(128) + 0.5) / 128.0).reshape(-1, *([1] * np.ndim(self.span + self.share)))
        return self.share * self.at(places).mean(axis=0) + np.asarray(self.later) * np.asarray(self.after_s) / 2


@dataclass
class _Tagged:
    """What the tagged request's step times give (``_tagged_steps``); every entry in seconds is proportional to them."""

    t_d: np.ndarray
    t_s: np.ndarray
    t_own: np.ndarray
    mean_step: np.ndarray  # the step it sees, (1 - pi) t_d + pi t_s
    u: np.ndarray  # prompt tokens per chunk
    c_tok: np.ndarray  # seconds per prompt token in a step
    x_seen: np.ndarray  # prompt chunks per step
    rho_c: np.ndarray  # correlation of consecutive steps
    poisson_c: np.ndarray  # the prompt work's variance per step with Poisson arrivals
    c_star: np.ndarray  # the length-biased step an arrival lands in: mean and variance
    var_star: np.ndarray
    lam_seen: np.ndarray  # prompt chunks per second
    b_mean: np.ndarray  # the prompt's own steps, with the chunks of the others that share them
    tpot_mean: np.ndarray
    own_base: np.ndarray  # the tagged prompt's step less its prompt tokens' c_tok each
    others: np.ndarray  # the other prompts' tokens that share the tagged prompt's steps


def _chunks_seen(r: Requests, view: Terms) -> tuple[np.ndarray, np.ndarray]:
    """(u, x_seen): the new prompt tokens of one chunk, I' / k_p, and the chunks a step carries, x k_p, at ``view``."""
    kp = view.steps_prefill
    return (1.0 - r.prefix_hit) * r.input_tokens / kp, view.x * kp


def _prompt_work(r: Requests, view: Terms, t_d, t_s, t_own, t_half=None):
    """(u, x_seen, mean step, c, rho_c): the tokens of a prompt chunk, the chunks a step carries, the step a tagged
    request sees, (1 - pi) t_d + pi t_s, a prompt token's seconds in a step, c, and the correlation of consecutive
    steps, rho_c = x_seen u c / mean step (docs/serving.md section 3); ``t_half``: with prefill steps apart, the
    prefill step of half the prompt tokens (``_evaluate``)."""
    u, x_seen = _chunks_seen(r, view)
    mean_step = (1.0 - view.pi) * t_d + view.pi * t_s
    # seconds per prompt token in a step: the prompt tokens' share of a step, at most the prompt's own step per token
    # (a step computed in passes, llama.cpp's, can need one more pass for one more decoding token than its own). A
    # mixed step's is what its p_s prompt tokens add to the decode step, t_s - t_d; a prefill step apart (``t_half``,
    # its time with p_s / 2 prompt tokens) carries no decodes, so its tokens' cost is the step's slope, 2 (t_s -
    # t_half) / p_s: t_s - t_d took a decode step's time off a step that has none, so c fell as the decode batch grew
    # and was an eager step's whole host time where the decode steps replay graphs (history item 91)
    if t_half is None:
        c_tok = np.minimum(np.maximum(t_s - t_d, 0.0), t_own) / np.maximum(view.p_step, 1e-12)
    else:
        c_tok = np.minimum(np.maximum(t_s - t_half, 0.0) * 2.0, t_own) / np.maximum(view.p_step, 1e-12)
    rho_c = np.minimum(x_seen * u * c_tok / np.maximum(mean_step, 1e-300), 0.99)
    return u, x_seen, mean_step, c_tok, rho_c


# prompt-token counts ``_length_rows`` times the prompt's own step at
LENGTH_GRID = 8
# the lengths' quantile edges ``_length_rows`` times a prompt at: QUEUE_NODES equal shares, the lowest drawn in to
# LENGTH_EDGE_LEVEL (the log-normal's lower end is 0) and the highest set so that the top piece puts the lengths'
# TOP_LEVEL quantile (the TTFT's P99) where it is (its upper end is unbounded)
LENGTH_EDGE_LEVEL = 0.001
TOP_LEVEL = 0.99


@functools.cache
def _length_edges_z() -> np.ndarray:
    levels = np.clip(np.linspace(0.0, 1.0, QUEUE_NODES + 1), LENGTH_EDGE_LEVEL, 1.0 - LENGTH_EDGE_LEVEL)
    return np.array([normal_ppf(float(q)) for q in levels])


def _length_rows(r: Requests, s: Scheduler, view: Terms):
    """The steps that time a prompt by its length (``_length_shifts``), or None where no length spreads.

    A prompt of I' tokens at each of the lengths' QUEUE_NODES + 1 quantile edges (``lengths``) takes k(I') =
    ceil(I' / B_p) steps (``k``; 1 where prompts run whole), k - 1 of them full of its tokens and the last with the
    rest beside the other prompts' chunks that the mean prompt step holds (p_s less the mean prompt's chunk): that
    last step's prompt tokens at each edge (``last``) and the mean prompt's (``mean_last``). The step is timed at
    LENGTH_GRID prompt-token counts spread evenly in log between the fewest of those and the most (a full budget where
    prompts are chunked), and read between them linearly (``p``, the rows to time)."""
    cv = np.asarray(r.input_cv, dtype=float)
    if not np.any(cv > 0):
        return None
    I_new = (1.0 - r.prefix_hit) * r.input_tokens
    B, kp = view.budget, view.steps_prefill
    others = np.maximum(view.p_step - I_new / np.maximum(kp, 1.0), 0.0)
    shape = np.broadcast_shapes(np.shape(cv), np.shape(I_new), np.shape(B), np.shape(kp), np.shape(others))
    mu, sigma = (np.broadcast_to(a, shape) for a in LogNormal(I_new, cv)._params())
    z = _length_edges_z().reshape((-1,) + (1,) * len(shape))
    lengths = np.exp(mu + sigma * z)
    # the top piece's edge: the mixture takes each piece's places as spread evenly between its edges, so the last
    # edge is the length at which that spread puts the lengths' TOP_LEVEL quantile where it is (the log-normal's
    # top edge is unbounded): I(q_n-1) + (I(q) - I(q_n-1)) / share of the piece below q
    top = np.exp(mu + sigma * normal_ppf(TOP_LEVEL))
    lengths[-1] = lengths[-2] + (top - lengths[-2]) / ((TOP_LEVEL - (QUEUE_NODES - 1) / QUEUE_NODES) * QUEUE_NODES)
    if s.chunked:
        k = np.maximum(np.ceil(lengths / np.maximum(B, 1e-9)), 1.0)
        last = np.minimum(lengths - (k - 1.0) * B + others, B)
        mean_last = np.minimum(I_new - (kp - 1.0) * B + others, B)
        high = np.broadcast_to(B, shape)
    else:
        k = np.ones_like(lengths)
        last, mean_last = lengths + others, I_new + others
        high = np.broadcast_to(np.maximum(last.max(axis=0), mean_last), shape)
    mean_last = np.broadcast_to(np.minimum(mean_last, high), shape)
    low = np.minimum(last.min(axis=0), mean_last)
    # evenly in log from the fewest to the mean prompt's and from there to the most: the mean prompt's own step is a
    # row itself, so that the shifts are the grid's reading less its own row's, alike wherever the grid falls
    below, above = LENGTH_GRID // 2, LENGTH_GRID - LENGTH_GRID // 2
    up = np.arange(below).reshape((-1,) + (1,) * len(shape)) / below
    on = np.arange(1, above + 1).reshape((-1,) + (1,) * len(shape)) / above
    grid = np.concatenate([low * (mean_last / np.maximum(low, 1e-300)) ** up,
                           mean_last * (high / np.maximum(mean_last, 1e-300)) ** on])  # (last: the full budget)
    return {"p": list(grid), "k": k, "lengths": lengths, "last": last, "mean_last": mean_last, "others": others}


def _read_steps(grid: np.ndarray, times: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The step's time at prompt tokens ``p`` (leading axis of any length), read linearly between the neighbouring
    ``grid`` counts (non-decreasing along the leading axis) and their ``times``; clamped at the grid's ends."""
    count = len(grid)
    p = np.clip(p, grid[0], grid[-1])
    below = (grid[None, ...] <= p[:, None, ...]).sum(axis=1) - 1
    idx = np.clip(below, 0, count - 2)
    lo, hi = _gather(times, idx), _gather(times, idx + 1)
    lo_p, hi_p = _gather(grid, idx), _gather(grid, idx + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(hi_p > lo_p, (np.clip(p, lo_p, hi_p) - lo_p) / np.where(hi_p > lo_p, hi_p - lo_p, 1.0), 0.0)
    return lo + w * (hi - lo)


def _gather(rows: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``rows[idx[i, ...], ...]`` along the leading axis, for an index array with its own leading axis."""
    full = np.broadcast_to(rows, (rows.shape[0], *idx.shape[1:]))
    return np.take_along_axis(full, idx, axis=0)


def _length_shifts(r: Requests, s: Scheduler, view: Terms, rows: dict, times: np.ndarray) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """(shifts, their mean): a prompt's own prefill time at each of the lengths' quantile edges less the mean
    prompt's, from the steps ``_length_rows`` (``rows``) stacked (``times``, at its grid of prompt tokens): (k - 1)
    full steps and its last one, increasing along the edges (a longer prompt takes at least as long); and their mean
    over the lengths: each piece's between its edges, but the top piece's (its lengths unbounded) from its prompts'
    mean count of steps, exactly (``_steps_above``), and the step that holds their mean rest."""
    k = rows["k"]
    grid = np.stack(rows["p"])
    full = times[-1]  # (a full budget's step where prompts are chunked)
    last = _read_steps(grid, times, rows["last"])
    mean_last = _read_steps(grid, times, rows["mean_last"][None, ...])[0]
    if s.chunked:
        own = (k - 1.0) * full + last
        mean_own = (view.steps_prefill - 1.0) * full + mean_last
    else:
        own, mean_own = last, mean_last
    shifts = np.maximum.accumulate(own - mean_own, axis=0)
    cv = np.asarray(r.input_cv, dtype=float)
    share = 1.0 / QUEUE_NODES
    # the top piece (unbounded lengths): its steps' mean count above its lower edge, exactly, and its last step
    # between its edges' last steps
    if s.chunked:
        I_new = (1.0 - r.prefix_hit) * r.input_tokens
        edge = rows["lengths"][-2]
        steps_above = _steps_above(I_new, cv, view.budget, edge, share)
        mu, sigma = LogNormal(I_new, cv)._params()
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(edge) - mu) / np.where(sigma > 0, sigma, 1.0)
        mean_above = I_new * (1.0 - normal_cdf(z - sigma)) / share  # E[I' | I' above the edge]
        # its last step: the rest of the mean long prompt, I' - (k - 1) B, beside the others' chunks (the budget)
        rest = np.clip(mean_above - (steps_above - 1.0) * view.budget + rows["others"], grid[0], grid[-1])
        top = (steps_above - 1.0) * full + _read_steps(grid, times, rest[None, ...])[0] - mean_own
    else:
        top = (shifts[-2] + shifts[-1]) / 2
    mean = ((shifts[1:-1] + shifts[:-2]).sum(axis=0) / 2 + np.maximum(top, shifts[-2])) * share
    return shifts, np.where(cv > 0, mean, 0.0)


def _steps_above(I, cv, budget, edge, above: float) -> np.ndarray:
    """E[k(I') | I' > ``edge``] for log-normal prompt lengths of mean ``I`` and coefficient of variation ``cv``,
    k = ceil(I' / B), ``above`` = P(I' > edge): the sum over m >= 1 of P(I' > max(edge, (m - 1) B)) / ``above``
    (over the first SPREAD_STEPS step counts past the edge, then fluid, k = I' / B + 1/2)."""
    B = np.maximum(np.asarray(budget, dtype=float), 1e-9)
    mu, sigma = LogNormal(I, cv)._params()
    safe = np.where(sigma > 0, sigma, 1.0)
    first = np.floor(edge / B)  # boundaries (m - 1) B at or below the edge count P(I' > edge) each
    total = (first + 1.0) * above
    m = np.arange(1, SPREAD_STEPS + 1).reshape((-1,) + (1,) * np.ndim(first))
    bound = (first + m) * B  # the boundaries above the edge
    tail = 1.0 - normal_cdf((np.log(bound) - mu) / safe)
    total = total + tail.sum(axis=0)
    last = bound[-1]  # the boundaries past the last one, fluid: their sum of P(I' > j B) is E[(I' - last)+] / B
    beyond = 1.0 - normal_cdf((np.log(last) - mu) / safe)
    over = I * (1.0 - normal_cdf((np.log(last) - mu) / safe - sigma)) - last * beyond
    total = total + over / B
    return total / above


# the most step boundaries ``prompt_length_spread`` sums over exactly; beyond them the steps are taken fluid
SPREAD_STEPS = 64


def prompt_length_spread(I, cv, budget, kp, jump, c, chunked: bool = True):
    """(E[b(I')] - b(I), Var[b(I')]) of a prompt's own prefill time b(I') = J k(I') + c I' over log-normal prompt
    lengths I' of mean ``I`` and coefficient of variation ``cv``: k(I') = ceil(I' / B) steps of budget B (1 for an
    engine that prefills a prompt whole, ``chunked`` false), each with the step's own part J (``jump``: its decodes
    and the other prompts' chunks) beside c (``c``) seconds per prompt token; b(I) = J k_p + c I is the mean prompt's
    (``kp`` = ceil(I / B)). The moments are exact over the first ``SPREAD_STEPS`` step counts (the log-normal's mass
    and partial means between the step boundaries m B) and fluid past them (k = I' / B + 1/2). Lengths that do not
    spread (cv 0) give (0, 0). docs/serving.md section 3."""
    I, cv = np.asarray(I, dtype=float), np.asarray(cv, dtype=float)
    B = np.maximum(np.asarray(budget, dtype=float), 1e-9)
    mu, sigma = LogNormal(I, cv)._params()
    var_len = (cv * I) ** 2
    if not chunked or not np.any(sigma > 0):
        return 0.0 * (I + B + jump), (np.asarray(c, dtype=float) ** 2) * var_len + 0.0 * jump
    safe = np.where(sigma > 0, sigma, 1.0)
    # the step boundaries m B below the log-normal's 1 - 1e-9 point (at most SPREAD_STEPS of them)
    top = np.exp(mu + 6.0 * sigma) / B
    count = int(np.clip(np.ceil(np.max(np.where(np.isfinite(top), top, 1.0))), 1, SPREAD_STEPS))
    m = np.arange(1, count + 1, dtype=float).reshape((count,) + (1,) * np.ndim(B))
    z = (np.log(m * B) - mu) / safe
    F, G = normal_cdf(z), I * normal_cdf(z - sigma)  # P(I' <= m B), E[I' 1{I' <= m B}]
    zero = np.zeros((1, *F.shape[1:]))
    p_m = np.diff(np.concatenate([zero, F]), axis=0)  # P(k = m)
    g_m = np.diff(np.concatenate([zero, G]), axis=0)  # E[I' 1{k = m}]
    p_tail, g_tail = 1.0 - F[-1], I - G[-1]  # past the last boundary, k = I' / B + 1/2
    h_tail = I**2 * (1.0 + cv**2) * (1.0 - normal_cdf(z[-1] - 2.0 * sigma))  # E[I'^2 1{tail}]
    k1 = (m * p_m).sum(axis=0) + g_tail / B + p_tail / 2
    k2 = (m**2 * p_m).sum(axis=0) + h_tail / B**2 + g_tail / B + p_tail / 4
    kI = (m * g_m).sum(axis=0) + h_tail / B + g_tail / 2
    var_k = np.maximum(k2 - k1**2, 0.0)
    cov = kI - k1 * I
    spread = sigma > 0
    var = np.where(spread, jump**2 * var_k + 2.0 * jump * c * cov, 0.0) + c**2 * var_len
    return np.where(spread, jump * (k1 - kp), 0.0), np.maximum(var, 0.0)


def _tagged_steps(r: Requests, s: Scheduler, view: Terms, t_d, t_s, t_own, step_cv2, closed: bool = False,
                  t_half=None) -> _Tagged:
    """The mean step, the prompt work's spread and the tagged request's prompt steps and TPOT from its step times t_d,
    t_s and t_own at ``view`` (``_figures``); ``closed``: a closed loop's (its step variance bounded)."""
    O = r.output_tokens
    D = np.maximum(O - 1.0, 0.0) / r.tokens_per_step
    pi, kp, budget = view.pi, view.steps_prefill, view.budget
    u, x_seen, mean_step, c_tok, rho_c = _prompt_work(r, view, t_d, t_s, t_own, t_half)
    poisson_c = (c_tok * u) ** 2 * x_seen / (1.0 - rho_c**2)  # (the variance Poisson arrivals give)
    var_c = step_cv2 * poisson_c
    if closed:
        # a closed loop's step lies between the decode step t_d and the step with a full budget, at most t_d + c B_p
        # (the prompt tokens' cost taken linear from t_d: at least the step's own on a step concave in its tokens), so
        # its variance is at most (mean - t_d)(t_max - mean), the Bhatia-Davis bound: its clients are all the prompts
        # there are, and the correlation's stretch 1 / (1 - rho_c^2), unbounded, would have a long step let in prompts
        # that do not exist (an open loop keeps it: there it stands in for the backlog's queue near saturation)
        t_max = t_d + c_tok * budget
        var_c = np.minimum(var_c, np.maximum(mean_step - t_d, 0.0) * np.maximum(t_max - mean_step, 0.0))
    theta = var_c / np.maximum(mean_step, 1e-300)  # gamma step times; the step an arrival lands in is length-biased
    c_star = mean_step + theta
    # TPOT of a request: the mean of its D decode steps (separate prefill steps stall it on top)
    gaps = np.maximum(O - 1.0, 1.0)
    if s.mixed:
        tpot_mean = np.where(O > 1, D * mean_step / gaps, t_d / r.tokens_per_step)
    else:
        tpot_mean = np.where(O > 1, D * (t_d + pi / np.maximum(1 - pi, 1e-12) * t_s) / gaps, t_d / r.tokens_per_step)
    lam_seen = x_seen / np.maximum(mean_step, 1e-300)  # prompt chunks per second, as the tagged prompt sees them
    others = np.minimum(lam_seen * c_star * u, np.maximum(budget - u, 0.0))
    own_base = np.maximum(t_own - c_tok * view.p_step, 0.0)
    b_mean = kp * (own_base + c_tok * (u + others))
    return _Tagged(t_d, t_s, t_own, mean_step, u, c_tok, x_seen, rho_c, poisson_c, c_star, var_c + theta**2,
                   lam_seen, b_mean, tpot_mean, own_base, others)


def _itl(mixed: bool, pi, t_d, t_s, c_tok, u, chunks_mean, budget, q: float, k: int = 1) -> np.ndarray:
    """q-quantile of the gap between two decode steps of one request: a plain decode step, or one carrying m prompt
    chunks, m Poisson with the mean a step sees (mixed); separate prefill steps stall the decode by whole steps. An
    engine that streams k tokens per chunk (``Requests.stream_interval``) shows its client gaps of k decode steps:
    k t_d plus the prompt chunks riding in them (mixed: Poisson with k times the mean, at most k budgets) or the
    prefill steps stalling them (separate: negative binomial, the sum of k geometric stalls)."""
    if k > 1:
        if mixed:
            m = poisson_quantile(k * chunks_mean, q)
            return k * t_d + c_tok * np.minimum(m * u, k * budget)
        return k * t_d + negative_binomial_quantile(k, pi, q) * t_s
    if not mixed:
        with np.errstate(divide="ignore", invalid="ignore"):
            stalls = np.where(pi > 0, np.ceil(np.log(1.0 - q) / np.log(np.where(pi > 0, pi, 0.5))) - 1.0, 0.0)
        return t_d + np.maximum(stalls, 0.0) * t_s
    m = poisson_quantile(chunks_mean, q)
    return t_d + c_tok * np.minimum(m * u, budget)


def negative_binomial_quantile(k: int, p, q: float, most: int = 4096) -> np.ndarray:
    """Smallest s with P(S <= s) >= q for S the number of failures before the k-th success, each trial failing with
    probability ``p`` (the prefill steps stalling k decode steps: k geometric stalls); past ``most`` terms the normal
    approximation (mean k p / (1 - p), variance k p / (1 - p)^2)."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0 - 1e-12)
    term = (1.0 - p) ** k  # P(S = 0)
    cdf, s = term.copy(), np.zeros_like(p)
    for j in range(1, most):
        short = cdf < q
        if not np.any(short):
            break
        term = term * p * (j + k - 1) / j
        cdf = cdf + term
        s = np.where(short, j, s)
    mean, var = k * p / (1.0 - p), k * p / (1.0 - p) ** 2
    return np.where(cdf >= q, s, np.ceil(mean + normal_ppf(q) * np.sqrt(var)))


def poisson_quantile(mean, q: float, most: int = 256) -> np.ndarray:
    """Smallest m with P(M <= m) >= q for M Poisson(mean) (normal approximation past ``most``). A mean that
    rounding left a hair below zero (a difference of equal rates) is 0."""
    mean = np.maximum(np.asarray(mean, dtype=float), 0.0)
    term = np.exp(-mean)
    cdf, m = term.copy(), np.zeros_like(mean)
    for k in range(1, most):
        short = cdf < q
        if not np.any(short):
            break
        term = term * mean / k
        cdf = cdf + term
        m = np.where(short, k, m)
    big = np.ceil(mean + normal_ppf(q) * np.sqrt(mean))
    return np.where(cdf >= q, m, big)


def _max_rate_meeting(step: StepFn, r: Requests, s: Scheduler, grid, ttft_target_s, tpot_target_s, q, run=None,
                      queue_cap=None, iterations: int = 8) -> np.ndarray:
    """Largest arrival rate whose q-percentile TTFT and TPOT meet the targets (0 if none): the last coarse grid node's
    rate that meets them, refined by bisection on the rate towards the next node's; ``grid``: the load grid and its
    rates (``_rate_grid``). Each rate is judged at the load the open loop solves for it (``_open_loop_x``), as
    ``serve`` does, so that serving at the returned rate meets the targets."""
    nodes, rates = grid[0][::GRID_SPLIT], grid[1][::GRID_SPLIT]
    x_max = grid[0][-1]
    t_max = terms(x_max, r, s)
    x_cap = _load_beside(r, s, t_max)  # (the saturated load itself passes it: every search needs it)

    def check(lam):
        x, stable = _open_loop_x(step, r, s, grid, x_max, lam, run)
        t = terms(x, r, s)
        view = _tagged_view(t, r, s, t_max, run, x_cap)
        e = _on_grid(step, r, s, t, view, Load("rate"), grid, x, lam, stable, tpot_target_s is not None)
        m = _figures(r, s, t, view, e, lam, Load("rate"), None, (), ttft_target_s, tpot_target_s, q,
                     queue_cap=queue_cap)
        return m["meets_slo"] & feasible(t, r)

    ok = check(rates) & (nodes > 0)
    last = np.where(ok.any(axis=0), len(nodes) - 1 - np.argmax(ok[::-1], axis=0), 0)
    lo = _pick(rates, last)
    hi = _pick(rates, np.minimum(last + 1, len(nodes) - 1))
    lo, _ = bisect(check, lo, hi, iterations, max_points=SLO_POINTS)
    return np.where(ok.any(axis=0), lo, 0.0)
